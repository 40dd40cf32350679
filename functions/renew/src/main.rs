//! Lambda for the lock service endpoint served by [`shared::handlers::renew`].

use lambda_http::{run, service_fn, Error, Request};
use shared::schema::LOCKS_TABLE_ENV;
use shared::store::LockStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::init_tracing();
    let table = shared::table_from_env(LOCKS_TABLE_ENV)?;
    let locks = LockStore::new(shared::dynamodb_client().await, table);
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(shared::handlers::renew(&locks, request).await)
    }))
    .await
}
