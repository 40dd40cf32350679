//! What some counts need set up first, written straight to the lock table
//! (these calls go through the counting proxy, but outside any count).

use local_stack::dynamodb::local_config;
use local_stack::template::Template;
use lock_service::config::{DEFAULT_MAX_LOCKS, DEFAULT_MAX_WAITING, LOCKS_TABLE_ENV};
use lock_service::lock_wire::MAX_PAGE_LIMIT;
use lock_service::schema::{LOCKS_PARTITION_KEY, LOCKS_SORT_KEY};
use lock_service::store::quota::NAMES_KEY;
use lock_service::store::{Acquired, Grant, LockStore, Place};
use lock_service::types::{LeaseId, LockName, Requester, Timestamp, UserId};

/// The lock table of the functions under count.
pub struct Store {
    locks: LockStore,
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl Store {
    pub fn new(endpoint: &str, template: &Template) -> Self {
        let client = aws_sdk_dynamodb::Client::from_conf(local_config(endpoint).build());
        let table = template.table_env[LOCKS_TABLE_ENV].clone();
        let locks = LockStore::new(client.clone(), &table).with_quota(Some(DEFAULT_MAX_LOCKS));
        Self {
            locks,
            client,
            table,
        }
    }

    /// Takes every waiting place of `user` for a minute.
    pub async fn fill_waiting_places(&self, user: &UserId) {
        let now = Timestamp::now();
        for n in 0..DEFAULT_MAX_WAITING {
            let owner = format!("bench-{n}");
            let until = now.plus_millis(60_000);
            let place =
                self.locks
                    .take_waiting_place(user, DEFAULT_MAX_WAITING, &owner, until, now);
            assert!(matches!(place.await, Ok(Place::Taken(_))), "place {n}");
        }
    }

    /// Acquires new names for `user` up to the default quota.
    pub async fn fill_names(&self, user: &UserId) {
        let requester = Requester::parse("bench").expect("a requester");
        let listed = self
            .locks
            .list_page(user, None, Some(MAX_PAGE_LIMIT as usize))
            .await;
        let existing = listed.expect("a list").locks.len();
        for n in existing..DEFAULT_MAX_LOCKS as usize {
            let grant = Grant {
                requester: &requester,
                lease: &LeaseId::generate(),
                ttl: None,
                idempotency_key: None,
            };
            let name = LockName::parse(&format!("fill-{n:04}")).expect("a name");
            let outcome = self
                .locks
                .acquire(user, &name, &grant, Timestamp::now())
                .await;
            assert!(
                matches!(outcome, Ok(Acquired::Granted(_))),
                "{name}: {outcome:?}"
            );
        }
    }

    /// Dates `user`'s last heal back, as if it were five minutes ago.
    pub async fn make_heal_due(&self, user: &UserId) {
        use aws_sdk_dynamodb::types::AttributeValue::{N, S};
        self.client
            .update_item()
            .table_name(&self.table)
            .key(LOCKS_PARTITION_KEY, S(user.to_string()))
            .key(LOCKS_SORT_KEY, S(NAMES_KEY.into()))
            .update_expression("SET healedAt = :long_ago")
            .expression_attribute_values(":long_ago", N("0".into()))
            .send()
            .await
            .expect("healedAt set");
    }
}
