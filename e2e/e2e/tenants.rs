//! Tenant isolation: another tenant's identifiers forged into every route.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use testkit::api::{lease_of, Api};

/// Every route, with another tenant's identifiers forged into the request
/// (her `userId` in the body, the query and headers; her lock names, lease
/// ids and idempotency key): each request stays in the caller's own
/// namespace or is refused, no answer carries anything of hers, and her
/// locks are exactly as they were after every request.
pub async fn tenant_isolation(api: Api) {
    let tenants = Tenants::set_up(api).await;
    let alice_before = tenants.alice_state().await;
    for cases in [
        tenants.her_locks_and_leases(),
        tenants.her_semaphores(),
        tenants.her_names_in_his_namespace(),
        tenants.her_identity_and_his_keys(),
    ] {
        tenants.check(cases, &alice_before).await;
    }
    // Her own retry with her key still finds her lease.
    let request = tenants.alice_payroll_acquire();
    assert_eq!(
        lease_of(&tenants.api.send(request).await),
        tenants.shared_lease
    );
}

/// Alice, her locks (one held with her idempotency key, one held, one
/// freed) and a semaphore, and Bob, who forges her identifiers into his
/// requests.
struct Tenants {
    api: Api,
    alice_id: String,
    alice: String,
    bob_id: String,
    bob: String,
    shared_lease: String,
    private_lease: String,
    freed_lease: String,
    pool_lease: String,
}

/// A request Bob sends, the status it must get, and fields its answer must
/// have (`null`: no fields checked).
type Case = (&'static str, RequestBuilder, StatusCode, Value);

/// Alice's idempotency key for her `payroll` acquire.
const ALICE_RETRY: &str = "alice-retry-1";

impl Tenants {
    async fn set_up(api: Api) -> Self {
        let (alice_id, alice) = api.new_user().await;
        let (bob_id, bob) = api.new_user().await;
        let mut tenants = Tenants {
            api,
            alice_id,
            alice,
            bob_id,
            bob,
            shared_lease: String::new(),
            private_lease: String::new(),
            freed_lease: String::new(),
            pool_lease: String::new(),
        };
        let api = &tenants.api;
        tenants.shared_lease = lease_of(&api.send(tenants.alice_payroll_acquire()).await);
        let alice = &tenants.alice;
        tenants.private_lease = lease_of(&api.acquire(alice, "alice-only", "alice").await);
        tenants.freed_lease = lease_of(&api.acquire(alice, "alice-freed", "alice").await);
        let freed = api.unlock(alice, "alice-freed", &tenants.freed_lease).await;
        assert_eq!(freed.body["unlocked"], true);
        let pool = json!({ "semaphoreName": "alice-pool", "requester": "alice", "permits": 1, "ttlSeconds": 3600 });
        let pool = api.post_json("/v0/semaphore", alice, pool).await;
        assert_eq!(
            (pool.body["acquired"].clone(), pool.body["permit"].clone()),
            (json!(true), json!(0))
        );
        tenants.pool_lease = pool.body["leaseId"].as_str().unwrap().to_owned();
        tenants
    }

    /// Her locks and semaphores as she sees them.
    async fn alice_state(&self) -> Value {
        let semaphores = self
            .api
            .send(self.api.get("/v0/semaphores", Some(&self.alice)));
        json!({
            "locks": self.api.locks(&self.alice).await.body,
            "semaphores": semaphores.await.body,
        })
    }

    /// Every semaphore route naming her semaphore and lease: unknown to
    /// him; the same name in his namespace is his own semaphore.
    fn her_semaphores(&self) -> Vec<Case> {
        let (ok, not_found) = (StatusCode::OK, StatusCode::NOT_FOUND);
        let lease =
            json!({ "semaphoreName": "alice-pool", "leaseId": self.pool_lease, "permit": 0 });
        let named = json!({ "semaphoreName": "alice-pool" });
        let force = json!({ "semaphoreName": "alice-pool", "force": true });
        let get = self.api.get("/v0/semaphore", Some(&self.bob));
        let get = get.query(&[("semaphoreName", "alice-pool")]);
        let list = self.api.get("/v0/semaphores", Some(&self.bob));
        let hidden = |what, request| (what, request, not_found, json!(null));
        let take = json!({ "semaphoreName": "alice-pool", "requester": "bob", "permits": 5 });
        vec![
            hidden("get her semaphore", get),
            ("list semaphores", list, ok, json!({ "semaphores": [] })),
            hidden(
                "release her permit",
                self.post("/v0/semaphore/release", lease.clone()),
            ),
            hidden("renew her permit", self.post("/v0/semaphore/renew", lease)),
            hidden(
                "force her permits",
                self.post("/v0/semaphore/release", force),
            ),
            hidden(
                "delete her semaphore",
                self.post("/v0/semaphore/delete", named),
            ),
            (
                "acquire her semaphore's name",
                self.post("/v0/semaphore", take),
                ok,
                json!({ "acquired": true, "permits": 5 }),
            ),
        ]
    }

    fn alice_payroll_acquire(&self) -> RequestBuilder {
        let body = json!({ "lockName": "payroll", "requester": "alice", "ttlSeconds": 3600 });
        self.api
            .post("/v0/lock", Some(&self.alice))
            .header("Idempotency-Key", ALICE_RETRY)
            .json(&body)
    }

    /// Her userId everywhere a confused service might look for one.
    fn forge(&self, request: RequestBuilder) -> RequestBuilder {
        let alice_id = self.alice_id.as_str();
        request
            .query(&[("userId", alice_id), ("user_id", alice_id)])
            .header("X-User-Id", alice_id)
            .header("X-Amz-User-Id", alice_id)
            .header("userId", alice_id)
    }

    /// `body` with her userId, also as an authorizer context.
    fn forged(&self, mut body: Value) -> Value {
        body["userId"] = json!(self.alice_id);
        body["requestContext"] = json!({ "authorizer": { "userId": self.alice_id } });
        body
    }

    /// Bob's `POST path` of `body` with her userId in it.
    fn post(&self, path: &str, body: Value) -> RequestBuilder {
        let body = self.forged(body);
        self.api.post(path, Some(&self.bob)).json(&body)
    }

    fn lease_body(name: &str, lease: &str) -> Value {
        json!({ "lockName": name, "leaseId": lease, "ttlSeconds": 60 })
    }

    fn get(&self, name: &str) -> RequestBuilder {
        let request = self.api.get("/v0/lock", Some(&self.bob));
        request.query(&[("lockName", name)])
    }

    fn list(&self) -> RequestBuilder {
        self.api.get("/v0/locks", Some(&self.bob))
    }

    /// Reads and writes naming her locks and leases: her lock names are
    /// unknown to him, her list is not his.
    fn her_locks_and_leases(&self) -> Vec<Case> {
        let (ok, not_found) = (StatusCode::OK, StatusCode::NOT_FOUND);
        let private = Self::lease_body("alice-only", &self.private_lease);
        let freed = Self::lease_body("alice-freed", &self.freed_lease);
        let force = json!({ "lockName": "alice-only", "force": true });
        let delete = json!({ "lockName": "alice-freed" });
        let hidden = |what, request| (what, request, not_found, json!(null));
        vec![
            hidden("get her lock", self.get("alice-only")),
            hidden("get her freed lock", self.get("alice-freed")),
            ("list", self.list(), ok, json!({ "locks": [] })),
            hidden("unlock her lease", self.post("/v0/unlock", private.clone())),
            hidden("force her lock", self.post("/v0/unlock", force)),
            hidden("renew her lease", self.post("/v0/lock/renew", private)),
            hidden(
                "delete her freed lock",
                self.post("/v0/lock/delete", delete),
            ),
            hidden("renew her freed lease", self.post("/v0/lock/renew", freed)),
        ]
    }

    /// The same name in his namespace is his own lock, even with her
    /// idempotency key.
    fn her_names_in_his_namespace(&self) -> Vec<Case> {
        let ok = StatusCode::OK;
        let shared = Self::lease_body("payroll", &self.shared_lease);
        let acquire = self
            .post(
                "/v0/lock",
                json!({ "lockName": "payroll", "requester": "bob" }),
            )
            .header("Idempotency-Key", ALICE_RETRY);
        let force = json!({ "lockName": "payroll", "force": true });
        vec![
            (
                "acquire her lock name",
                acquire,
                ok,
                json!({ "locked": true }),
            ),
            (
                "unlock his lock with her lease",
                self.post("/v0/unlock", shared.clone()),
                ok,
                json!({ "unlocked": false }),
            ),
            (
                "renew his lock with her lease",
                self.post("/v0/lock/renew", shared),
                ok,
                json!({ "renewed": false }),
            ),
            (
                "force his lock",
                self.post("/v0/unlock", force),
                ok,
                json!({ "unlocked": true }),
            ),
            (
                "get his lock",
                self.get("payroll"),
                ok,
                json!({ "locked": false }),
            ),
            ("list", self.list(), ok, json!(null)),
        ]
    }

    /// Signing up "as her" makes a new user; her ids are no keys; a page
    /// that starts before her lock names lists only his; rotating and
    /// revoking touch only the calling key, his, and revoking the others
    /// only his user's other keys (he has none).
    fn her_identity_and_his_keys(&self) -> Vec<Case> {
        let (ok, unauthorized) = (StatusCode::OK, StatusCode::UNAUTHORIZED);
        let sign_up = self.api.post("/v0/users/anonymous", None);
        let her_id_as_key = self.api.get("/v0/locks", Some(&self.alice_id));
        let her_lease_as_key = self.api.get("/v0/locks", Some(&self.private_lease));
        let page = self.list().query(&[("limit", "10"), ("cursor", "c161")]);
        let grace = json!({ "oldKeyValidForSeconds": 3600 });
        vec![
            (
                "sign up as her",
                sign_up.json(&self.forged(json!({}))),
                ok,
                json!(null),
            ),
            (
                "her userId as a key",
                her_id_as_key,
                unauthorized,
                json!(null),
            ),
            (
                "her lease id as a key",
                her_lease_as_key,
                unauthorized,
                json!(null),
            ),
            ("list", page, ok, json!(null)),
            (
                "revoke the others as her",
                self.post("/v0/keys/revoke-others", json!({})),
                ok,
                json!({ "revokedKeys": 0 }),
            ),
            (
                "rotate as her",
                self.post("/v0/keys/rotate", grace),
                ok,
                json!({ "userId": self.bob_id }),
            ),
            (
                "revoke as her",
                self.post("/v0/keys/revoke", json!({})),
                ok,
                json!({ "revoked": true }),
            ),
        ]
    }

    /// Sends each case with her userId forged into its query and headers:
    /// the status and fields it must have, none of her identifiers in the
    /// answer, her locks as `alice_before` after it.
    async fn check(&self, cases: Vec<Case>, alice_before: &Value) {
        let secrets = [
            &self.alice_id,
            &self.shared_lease,
            &self.private_lease,
            &self.freed_lease,
            &self.pool_lease,
        ];
        for (case, request, status, expected) in cases {
            let answer = self.api.send(self.forge(request)).await;
            assert_eq!(answer.status, status, "{case}: {answer:?}");
            if let Some(fields) = expected.as_object() {
                for (field, value) in fields {
                    assert_eq!(&answer.body[field], value, "{case}: {answer:?}");
                }
            }
            let text = answer.body.to_string();
            for secret in secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{case} leaked {secret}: {text}"
                );
            }
            if case == "sign up as her" {
                assert_ne!(answer.body["userId"], json!(self.alice_id));
                assert_ne!(answer.body["userId"], json!(self.bob_id));
            }
            if case == "list" {
                let locks = answer.body["locks"].as_array().unwrap();
                let names: Vec<_> = locks.iter().map(|l| l["lockName"].clone()).collect();
                assert!(names.iter().all(|n| n == "payroll"), "{case}: {names:?}");
            }
            let after = self.alice_state().await;
            assert_eq!(
                &after, alice_before,
                "{case} changed her locks or semaphores"
            );
        }
    }
}
