//! The REST API's TOKEN authorizer, served by [`shared::authorizer::authorize`].

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::authorizer::authorize;
use shared::schema::API_KEYS_TABLE_ENV;
use shared::store::KeyStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::init_tracing();
    let table = shared::table_from_env(API_KEYS_TABLE_ENV)?;
    let keys = KeyStore::new(shared::dynamodb_client().await, table);
    run(service_fn(|event: LambdaEvent<_>| {
        authorize(&keys, event.payload)
    }))
    .await
}
