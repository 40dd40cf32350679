//! The client library calls every route of the registry: a route added to
//! `lock_wire::Route` without a case here does not compile, and the error
//! names it.

use lock_client::lock_wire::Route;
use lock_client::{AcquireOptions, Client};

use crate::Ctx;

/// Each route through its client method, against the stack: each answers
/// what the contract says. The key routes each run as a user of their own.
pub async fn the_client_calls_every_route(ctx: Ctx) {
    let client = ctx.client();
    let options = AcquireOptions::default();
    let held = client.acquire("held", &options).await.unwrap();
    let renewed = client.acquire("renewed", &options).await.unwrap();
    let freed = client.acquire("freed", &options).await.unwrap();
    assert!(freed.release().await.unwrap());
    for route in Route::ALL {
        match route {
            Route::SignUp => {
                let created = Client::anonymous(&ctx.url).unwrap().sign_up().await;
                assert!(!created.unwrap().api_key.is_empty());
            }
            Route::RotateKey => {
                let other = ctx.other_user().await;
                let rotated = other.rotate_key(None).await.unwrap();
                assert_ne!(Some(rotated.api_key.as_str()), other.api_key());
            }
            Route::RevokeKey => ctx.other_user().await.revoke_key().await.unwrap(),
            Route::RevokeOtherKeys => {
                let revoked = ctx.other_user().await.revoke_other_keys().await;
                assert_eq!(revoked.unwrap(), 0);
            }
            Route::Acquire => {
                let lease = client.acquire("new", &options).await.unwrap();
                assert!(lease.fencing_token() > 0);
            }
            Route::GetLock => assert!(client.get("held").await.unwrap().locked),
            Route::Unlock => {
                let answer = client.unlock("held", held.lease_id(), None).await;
                assert!(answer.unwrap().unlocked);
            }
            Route::Renew => {
                let answer = client
                    .renew("renewed", renewed.lease_id(), None, None)
                    .await;
                assert!(answer.unwrap().renewed);
            }
            Route::DeleteLock => client.delete("freed").await.unwrap(),
            Route::ListLocks => {
                let page = client.list_page(10, None).await.unwrap();
                assert!(page
                    .locks
                    .iter()
                    .any(|lock| lock.lock_name.as_str() == "held"));
            }
        }
    }
}
