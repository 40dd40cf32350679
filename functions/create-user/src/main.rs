//! Lambda for `POST /v0/users/anonymous`, served by [`shared::handlers::create_user`].

use lambda_http::{run, service_fn, Error, Request};
use shared::schema::API_KEYS_TABLE_ENV;
use shared::store::KeyStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::init_tracing();
    let table = shared::table_from_env(API_KEYS_TABLE_ENV)?;
    let keys = KeyStore::new(shared::dynamodb_client().await, table);
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(shared::handlers::create_user(&keys, request).await)
    }))
    .await
}
