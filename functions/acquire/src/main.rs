//! Lambda for `POST /v0/lock`, served by [`shared::handlers::acquire`].

use lambda_http::{run_concurrent, service_fn, Error, Request};
use shared::config::{table_from_env, AcquireSettings, LOCKS_TABLE_ENV};
use shared::store::LockStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::init_tracing();
    let table = table_from_env(LOCKS_TABLE_ENV)?;
    let settings = AcquireSettings::from_env()?;
    let locks =
        LockStore::new(shared::dynamodb_client().await?, table).with_quota(settings.max_locks);
    run_concurrent(service_fn(move |request: Request| {
        let locks = locks.clone();
        async move { Ok::<_, Error>(shared::handlers::acquire(&locks, &settings, request).await) }
    }))
    .await
}
