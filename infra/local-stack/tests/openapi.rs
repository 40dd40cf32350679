//! `openapi.yaml` against the implementation: the same routes and methods as
//! `template.yaml`, the same routes behind the authorizer, the limits the
//! parsers enforce, and every error code the functions and the gateway
//! answer with. (The answers themselves are checked against the description
//! by the schemathesis run, `infra/local-stack/tests/schemathesis.rs`.)

use std::collections::BTreeSet;

use local_stack::engine::repo_root;
use local_stack::template::Template;
use lock_service::error::ApiError;
use lock_service::http::MAX_BODY_BYTES;
use lock_service::lock_wire::MAX_PAGE_LIMIT;
use lock_service::types::{KeyGrace, LeaseTtl, WaitTime, MAX_LABEL_BYTES};
use serde_yaml_ng::Value;

fn openapi() -> Value {
    let text = std::fs::read_to_string(repo_root().join("openapi.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn template() -> Template {
    Template::load(&repo_root().join("template.yaml")).unwrap()
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Every operation in the description: (method, path, the operation).
fn each_operation(spec: &Value) -> Vec<(&'static str, &str, &Value)> {
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for method in METHODS {
            if !item[method].is_null() {
                operations.push((method, path.as_str().unwrap(), &item[method]));
            }
        }
    }
    operations
}

/// Whether `operation` needs an API key: its own `security`, or else the document's.
fn secured(spec: &Value, operation: &Value) -> bool {
    let requirements = operation["security"]
        .as_sequence()
        .or(spec["security"].as_sequence());
    requirements.is_some_and(|r| !r.is_empty())
}

/// (METHOD, path, needs an API key) for every operation in the description.
fn operations(spec: &Value) -> BTreeSet<(String, String, bool)> {
    each_operation(spec)
        .into_iter()
        .map(|(method, path, operation)| {
            (
                method.to_uppercase(),
                path.to_owned(),
                secured(spec, operation),
            )
        })
        .collect()
}

#[test]
fn routes_and_their_authorization_match_the_template_and_the_registry() {
    use lock_service::lock_wire::{every_route, Access};
    let described = operations(&openapi());
    let deployed: BTreeSet<_> = template()
        .routes
        .into_iter()
        .map(|r| (r.method, r.path, r.authorized))
        .collect();
    for spec in every_route() {
        let entry = (
            spec.method.to_owned(),
            spec.path.to_owned(),
            spec.access == Access::ApiKey,
        );
        assert!(
            described.contains(&entry),
            "openapi.yaml does not describe {spec:?} as {entry:?}"
        );
    }
    assert_eq!(
        described.len(),
        every_route().count(),
        "openapi.yaml describes a route the registry lacks"
    );
    assert_eq!(described, deployed, "openapi.yaml vs template.yaml");
}

#[test]
fn limits_match_the_parsers() {
    let spec = openapi();
    let schemas = &spec["components"]["schemas"];
    for label in ["LockName", "Requester"] {
        assert_eq!(
            schemas[label]["maxLength"].as_u64(),
            Some(MAX_LABEL_BYTES as u64),
            "{label}"
        );
        assert_eq!(schemas[label]["minLength"].as_u64(), Some(1), "{label}");
    }
    assert_eq!(
        schemas["TtlSeconds"]["maximum"].as_u64(),
        Some(LeaseTtl::MAX_SECONDS)
    );
    let grace = &schemas["RotateRequest"]["properties"]["oldKeyValidForSeconds"];
    assert_eq!(grace["maximum"].as_u64(), Some(KeyGrace::MAX_SECONDS));
    let list = &spec["paths"]["/v0/locks"]["get"]["parameters"];
    assert_eq!(list[0]["name"], "limit");
    assert_eq!(
        list[0]["schema"]["maximum"].as_u64(),
        Some(u64::from(MAX_PAGE_LIMIT))
    );
    let wait = &schemas["AcquireRequest"]["properties"]["waitSeconds"];
    assert_eq!(wait["maximum"].as_u64(), Some(WaitTime::MAX_SECONDS));
    let idempotency_key = spec["paths"]["/v0/lock"]["post"]["parameters"][0]["schema"]["pattern"]
        .as_str()
        .unwrap();
    assert!(idempotency_key.ends_with(&format!("{{1,{MAX_LABEL_BYTES}}}$")));
    let too_large = spec["components"]["responses"]["PayloadTooLarge"]["description"]
        .as_str()
        .unwrap();
    assert!(too_large.contains(&format!("{} KiB", MAX_BODY_BYTES / 1024)));
}

#[test]
fn every_error_code_is_described() {
    let spec = openapi();
    let described: BTreeSet<&str> = spec["components"]["schemas"]["Error"]["properties"]["code"]
        ["enum"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|code| code.as_str().unwrap())
        .collect();
    let store_failure = lock_service::error::StoreError::MalformedItem("lockName");
    let from_functions = [
        ApiError::malformed(""),
        ApiError::PayloadTooLarge { limit: 1 },
        ApiError::LockNotFound,
        ApiError::LockQuotaExceeded,
        ApiError::LockHeld,
        ApiError::Unauthorized,
        ApiError::Store(store_failure),
    ]
    .map(|err| err.code());
    // The Gateway Responses of the template: `"code":"..."` in each template.
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let from_gateway: Vec<&str> = template
        .split(r#""code":""#)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(from_gateway.len() >= 5, "{from_gateway:?}");
    for code in from_functions.iter().chain(&from_gateway) {
        assert!(described.contains(code), "{code} is not in openapi.yaml");
    }
}

/// Every answer is JSON but the console's page and assets (whose errors
/// are JSON too); an input that can be refused has its 400, but the
/// console's asset name, where an unknown one is a 404.
#[test]
fn every_answer_is_json_and_every_operation_has_its_errors() {
    use lock_service::lock_wire::Page;
    let spec = openapi();
    let pages: BTreeSet<&str> = Page::ALL.iter().map(|page| page.spec().path).collect();
    for (method, path, operation) in each_operation(&spec) {
        let page = pages.contains(path);
        let responses = operation["responses"].as_mapping().unwrap();
        let statuses: BTreeSet<&str> = responses.keys().map(|k| k.as_str().unwrap()).collect();
        let secured = secured(&spec, operation);
        let has_body = !operation["requestBody"].is_null();
        let has_input = has_body || !operation["parameters"].is_null();
        assert!(
            statuses.contains("200") && statuses.contains("500"),
            "{method} {path}"
        );
        assert_eq!(statuses.contains("401"), secured, "{method} {path}");
        assert_eq!(
            statuses.contains("400"),
            has_input && !page,
            "{method} {path}"
        );
        for (status, response) in responses {
            let content = if response["$ref"].is_null() {
                response["content"].clone()
            } else {
                let name = response["$ref"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap();
                spec["components"]["responses"][name]["content"].clone()
            };
            let types: Vec<_> = content
                .as_mapping()
                .unwrap()
                .keys()
                .map(|t| t.as_str().unwrap())
                .collect();
            let expected: &[&str] = match (path, status.as_str().unwrap()) {
                ("/console", "200") => &["text/html"],
                ("/console/{asset}", "200") => &["text/css", "text/javascript"],
                _ => &["application/json"],
            };
            assert_eq!(types, expected, "{method} {path} {status:?}");
        }
    }
}
