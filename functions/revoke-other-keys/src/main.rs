//! Lambda for `POST /v0/keys/revoke-others`, served by [`shared::handlers::revoke_other_keys`].

use lambda_http::{run_concurrent, service_fn, Error, Request};
use shared::config::{table_from_env, API_KEYS_TABLE_ENV};
use shared::store::KeyStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::init_tracing();
    let table = table_from_env(API_KEYS_TABLE_ENV)?;
    let keys = KeyStore::new(shared::dynamodb_client().await?, table);
    run_concurrent(service_fn(move |request: Request| {
        let keys = keys.clone();
        async move { Ok::<_, Error>(shared::handlers::revoke_other_keys(&keys, request).await) }
    }))
    .await
}
