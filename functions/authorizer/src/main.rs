//! The REST API's TOKEN authorizer, served by [`shared::authorizer::authorize`].

use lambda_runtime::{run_concurrent, service_fn, Error, LambdaEvent};
use shared::authorizer::{authorize, LOG_DIRECTIVES};
use shared::config::{table_from_env, API_KEYS_TABLE_ENV};
use shared::store::KeyStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::init_tracing_with(LOG_DIRECTIVES);
    let table = table_from_env(API_KEYS_TABLE_ENV)?;
    let keys = KeyStore::new(shared::dynamodb_client().await?, table);
    run_concurrent(service_fn(move |event: LambdaEvent<_>| {
        let keys = keys.clone();
        async move { authorize(&keys, event.payload).await }
    }))
    .await
}
