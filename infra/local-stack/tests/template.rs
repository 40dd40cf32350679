//! `template.yaml` against the code: the routes, tables, table variables and
//! permissions that `sam deploy` creates must be the ones the code and the
//! local stack use. Any drift fails here.

use std::collections::{BTreeMap, BTreeSet};

use local_stack::engine::repo_root;
use local_stack::template::Template;
use lock_service::config::{API_KEYS_TABLE_ENV, LOCKS_TABLE_ENV};
use lock_service::schema::{API_KEYS_SPEC, LOCKS_SPEC, TTL_ATTRIBUTE};
use serde_yaml_ng::Value;

fn template_text() -> String {
    std::fs::read_to_string(repo_root().join("template.yaml")).unwrap()
}

fn template() -> Template {
    Template::parse(&template_text()).unwrap()
}

/// The function binaries: one file each in `functions/src/bin/`.
fn function_binaries() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("functions/src/bin"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|file| file.strip_suffix(".rs").map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The template serves exactly the route registry: each route's method,
/// path, function and access, and no other route; a route missing from
/// either side is named.
#[test]
fn the_template_serves_exactly_the_route_registry() {
    use lock_service::lock_wire::{every_route, Access};
    let template = template();
    let served: BTreeSet<(String, String, String, bool)> = template
        .routes
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.path.clone(),
                r.function.clone(),
                r.authorized,
            )
        })
        .collect();
    let registry: BTreeSet<(String, String, String, bool)> = every_route()
        .map(|spec| {
            let authorized = spec.access == Access::ApiKey;
            (
                spec.method.into(),
                spec.path.into(),
                spec.function.into(),
                authorized,
            )
        })
        .collect();
    if let Some(missing) = registry.difference(&served).next() {
        panic!("the registry's route {missing:?} is not in template.yaml (as written there)");
    }
    if let Some(extra) = served.difference(&registry).next() {
        panic!("template.yaml serves {extra:?}, which the registry (wire/src/routes.rs) lacks");
    }
    assert_eq!(
        template.authorizer,
        lock_service::lock_wire::AUTHORIZER_FUNCTION
    );
}

#[test]
fn the_reference_routes_are_served_and_every_route_once() {
    let routes = template().routes;
    let served = |method: &str, path: &str| {
        routes
            .iter()
            .any(|route| route.method == method && route.path == path)
    };
    // The reference contract's routes (../shared/seed/lock-api.md); ours add to them.
    for (method, path) in [
        ("POST", "/v0/users/anonymous"),
        ("POST", "/v0/lock"),
        ("GET", "/v0/lock"),
        ("POST", "/v0/unlock"),
        ("GET", "/v0/locks"),
    ] {
        assert!(served(method, path), "{method} {path} is not served");
    }
    let unique: std::collections::BTreeSet<_> =
        routes.iter().map(|r| (&r.method, &r.path)).collect();
    assert_eq!(unique.len(), routes.len(), "a route is declared twice");
    let open: BTreeSet<_> = routes
        .iter()
        .filter(|r| !r.authorized)
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    assert_eq!(
        open,
        BTreeSet::from([
            ("POST", "/v0/users/anonymous"),
            ("GET", "/console"),
            ("GET", "/console/{asset}"),
        ]),
        "only sign-up and the console are open"
    );
}

/// The template with `SignupMode` defaulting to `mode`.
fn template_with_signup_mode(mode: &str) -> Result<Template, String> {
    let text = template_text();
    let declared = "  SignupMode:\n    Type: String\n    Default: open\n";
    assert!(
        text.contains(declared),
        "SignupMode is not declared as expected"
    );
    let text = text.replace(
        declared,
        &format!("  SignupMode:\n    Type: String\n    Default: \"{mode}\"\n"),
    );
    Template::parse(&text).map_err(|e| e.to_string())
}

#[test]
fn signup_mode_open_is_public_off_removes_the_route_and_its_function() {
    let sign_up = |t: &Template| {
        t.routes
            .iter()
            .find(|r| r.method == "POST" && r.path == "/v0/users/anonymous")
            .cloned()
    };
    let open = template_with_signup_mode("open").unwrap();
    let route = sign_up(&open).expect("open: no sign-up route");
    assert_eq!(route.function, "create-user");
    assert!(!route.authorized, "open: sign-up must not need an API key");

    let off = template_with_signup_mode("off").unwrap();
    assert_eq!(sign_up(&off), None, "off: the sign-up route is still there");
    // The console is told the mode (locally as deployed), to offer sign-up or not.
    assert_eq!(
        (open.signup_mode.as_str(), off.signup_mode.as_str()),
        ("open", "off")
    );
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    let told = &doc["Resources"]["ConsoleFunction"]["Properties"]["Environment"]["Variables"]
        [lock_service::console::SIGNUP_MODE_ENV];
    let Value::Tagged(told) = told else {
        panic!("the console's SIGNUP_MODE is !Ref SignupMode, not {told:?}")
    };
    assert_eq!(
        (told.tag.to_string(), told.value.as_str()),
        ("!Ref".to_owned(), Some("SignupMode"))
    );
    assert!(!off.functions.contains(&"create-user".to_owned()));
    assert_eq!(
        off.routes.len(),
        open.routes.len() - 1,
        "off removes only sign-up"
    );

    // SigV4 needs real AWS credentials: the local stack says so rather than
    // serving the route open. What `sam deploy` makes of iam is checked on
    // the SAM transform's output (infra/check_sam_transform.py).
    let iam = template_with_signup_mode("iam").unwrap_err();
    assert!(iam.contains("AWS_IAM"), "{iam}");
}

#[test]
fn every_function_binary_is_deployed_and_serves_a_route_or_authorizes() {
    let template = template();
    assert_eq!(template.authorizer, "authorizer");
    // The AuthorizerCacheSeconds parameter's default, resolved.
    assert_eq!(template.auth_cache_seconds, 60);
    let mut deployed = template.functions.clone();
    deployed.sort();
    assert_eq!(
        deployed,
        function_binaries(),
        "template vs functions/src/bin/"
    );
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("\"functions\""),
        "the functions package is a workspace member"
    );
    for function in &template.functions {
        let serves = template.routes.iter().any(|r| &r.function == function);
        assert!(
            serves || *function == template.authorizer,
            "{function} serves no route"
        );
    }
}

#[test]
fn the_tables_have_the_keys_and_ttl_attribute_the_code_uses() {
    let template = template();
    let table = |id: &str| {
        template
            .tables
            .iter()
            .find(|t| t.logical_id == id)
            .unwrap()
            .clone()
    };
    for (id, spec) in [("LocksTable", LOCKS_SPEC), ("ApiKeysTable", API_KEYS_SPEC)] {
        let table = table(id);
        assert_eq!(table.partition, spec.partition, "{id}");
        assert_eq!(table.sort.as_deref(), spec.sort, "{id}");
        assert_eq!(table.ttl_attribute.as_deref(), Some(TTL_ATTRIBUTE), "{id}");
    }
    assert_eq!(template.tables.len(), 2);
    assert_eq!(
        template.table_env,
        BTreeMap::from([
            (API_KEYS_TABLE_ENV.to_owned(), "ApiKeysTable".to_owned()),
            (LOCKS_TABLE_ENV.to_owned(), "LocksTable".to_owned()),
        ])
    );
}

/// Each function is granted exactly the DynamoDB actions its endpoint
/// declares (`Endpoint::PERMISSIONS`, kept beside the store calls it makes:
/// `UpdateItem` and the `GetItem` after a failed condition, ...), on its one
/// table: a permission added to or dropped from the template fails here,
/// and so does a function that serves no route of the registry.
#[test]
fn every_function_has_least_privilege() {
    use lock_service::endpoints::{endpoint_of, Table, AUTHORIZER_PERMISSIONS};
    use lock_service::lock_wire::{Route, AUTHORIZER_FUNCTION, CONSOLE_FUNCTION};
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    let permissions_of = |binary: &str| {
        if binary == AUTHORIZER_FUNCTION {
            return Some(AUTHORIZER_PERMISSIONS);
        }
        if binary == CONSOLE_FUNCTION {
            return None;
        }
        let route = Route::ALL
            .into_iter()
            .find(|route| route.function() == binary)
            .unwrap_or_else(|| panic!("function {binary} serves no route of the registry"));
        Some(endpoint_of(route).permissions)
    };
    let resources = doc["Resources"].as_mapping().unwrap();
    let functions: Vec<_> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), function_binaries().len());
    for (id, resource) in functions {
        let id = id.as_str().unwrap();
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap();
        let Some(permissions) = permissions_of(binary) else {
            // The console calls no AWS API: no policy beyond SAM's logging.
            let props = &resource["Properties"];
            assert!(props["Policies"].is_null(), "{id}: no policy");
            assert!(props["Environment"]["Variables"]
                .as_mapping()
                .unwrap()
                .values()
                .all(|value| !matches!(value, Value::Tagged(t) if t.value.as_str().is_some_and(|v| v.ends_with("Table")))),
                "{id}: names no table");
            continue;
        };
        let actions = &permissions.actions.to_vec();
        let table = match permissions.table {
            Table::Locks => "LocksTable",
            Table::ApiKeys => "ApiKeysTable",
        };
        let policies = resource["Properties"]["Policies"].as_sequence().unwrap();
        assert_eq!(policies.len(), 1, "{id}: one inline policy");
        let statements = policies[0]["Statement"].as_sequence().unwrap();
        assert_eq!(statements.len(), 1, "{id}: one statement");
        let statement = &statements[0];
        assert_eq!(statement["Effect"], "Allow");
        let granted: Vec<&str> = match &statement["Action"] {
            Value::String(one) => vec![one.as_str()],
            many => many
                .as_sequence()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect(),
        };
        assert_eq!(&granted, actions, "{id}");
        let Value::Tagged(resource) = &statement["Resource"] else {
            panic!("{id}: Resource must be !GetAtt <Table>.Arn")
        };
        assert_eq!(resource.tag, "GetAtt");
        assert_eq!(
            resource.value.as_str(),
            Some(format!("{table}.Arn").as_str()),
            "{id}"
        );
    }
}

/// The authorizer's `ValidationExpression` lets through exactly the headers
/// the authorizer's own parser reads a key from, so no valid key is refused
/// before it is checked and no malformed header costs an invocation.
#[test]
fn the_token_pattern_matches_what_the_authorizer_accepts() {
    let pattern = template().token_pattern.expect("a ValidationExpression");
    let pattern = regex_lite::Regex::new(&pattern).unwrap();
    let id = "550e8400-e29b-41d4-a716-446655440000";
    let (carrying, malformed) = testkit::authorization_headers(id);
    let headers = carrying.into_iter().chain(malformed).chain([
        format!(" Bearer {id}"),
        format!("Bearer {}", id.to_uppercase()),
        format!("Bearer {}", "a".repeat(600)),
    ]);
    for header in headers {
        assert_eq!(
            pattern.is_match(&header),
            lock_service::keys::ApiKey::from_authorization(&header).is_some(),
            "{header:?}"
        );
    }
}

/// The operator's limits are parameters whose defaults are the code's own,
/// and the acquire function's timeout leaves room for the longest wait.
#[test]
fn limits_are_parameters_with_the_codes_defaults() {
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    let parameter = |name: &str| &doc["Parameters"][name];
    assert_eq!(parameter("AuthorizerCacheSeconds")["Default"], 60);
    use lock_service::config::{
        DEFAULT_MAX_LOCKS, DEFAULT_MAX_WAITING, DEFAULT_MAX_WAIT_SECONDS, MAX_LOCKS_ENV,
        MAX_WAITING_ENV, MAX_WAIT_ENV,
    };
    let acquire = &doc["Resources"]["AcquireFunction"]["Properties"];
    // Each acquire setting is a parameter whose default is the code's own.
    for (name, default, var) in [
        (
            "MaxLocksPerUser",
            u64::from(DEFAULT_MAX_LOCKS),
            MAX_LOCKS_ENV,
        ),
        (
            "MaxWaitingPerUser",
            u64::from(DEFAULT_MAX_WAITING),
            MAX_WAITING_ENV,
        ),
        ("MaxWaitSeconds", DEFAULT_MAX_WAIT_SECONDS, MAX_WAIT_ENV),
    ] {
        assert_eq!(parameter(name)["Default"].as_u64(), Some(default), "{name}");
        let Value::Tagged(reference) = &acquire["Environment"]["Variables"][var] else {
            panic!("acquire's {var} must be !Ref {name}")
        };
        assert_eq!(reference.value, name, "{var}");
    }
    assert_eq!(
        u64::from(lock_service::lock_wire::MAX_PAGE_LIMIT),
        u64::from(DEFAULT_MAX_LOCKS),
        "the default page holds the default quota"
    );
    // The acquire function's timeout leaves room for the longest wait.
    let Value::Tagged(timeout) = &acquire["Timeout"] else {
        panic!("acquire's Timeout must be !FindInMap on MaxWaitSeconds")
    };
    assert!(format!("{:?}", timeout.value).contains("MaxWaitSeconds"));
    let waits = parameter("MaxWaitSeconds")["AllowedValues"]
        .as_sequence()
        .unwrap();
    for wait in waits {
        let wait = wait.as_u64().unwrap();
        let timeout = doc["Mappings"]["WaitTimeouts"][wait.to_string().as_str()]["Timeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("no timeout for MaxWaitSeconds {wait}"));
        assert!(
            timeout >= wait + 5 && timeout < 29,
            "{wait} s wait, {timeout} s timeout"
        );
    }
    assert!(waits
        .iter()
        .all(|w| w.as_u64() <= Some(lock_service::types::WaitTime::MAX_SECONDS)));
}

/// The authorizer cache is bounded, reserved concurrency is optional per
/// function (none by default), and the throttle applies to each method.
#[test]
fn concurrency_and_throttles_are_parameters() {
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    let parameter = |name: &str| &doc["Parameters"][name];
    assert_eq!(parameter("AuthorizerCacheSeconds")["MaxValue"], 3600);
    for reserved in [
        "AcquireReservedConcurrency",
        "AuthorizerReservedConcurrency",
    ] {
        assert_eq!(
            parameter(reserved)["Default"],
            0,
            "{reserved}: none by default"
        );
    }
    let description = parameter("ThrottleRateLimit")["Description"]
        .as_str()
        .unwrap();
    assert!(description.contains("each method"), "{description}");
    let resources = &doc["Resources"];
    for (function, reserved) in [
        ("AcquireFunction", "AcquireReservedConcurrency"),
        ("AcquirePermitFunction", "AcquireReservedConcurrency"),
        ("AuthorizerFunction", "AuthorizerReservedConcurrency"),
    ] {
        let setting = &resources[function]["Properties"]["ReservedConcurrentExecutions"];
        let Value::Tagged(choice) = setting else {
            panic!("{function}: ReservedConcurrentExecutions must be !If")
        };
        assert!(
            format!("{:?}", choice.value).contains(reserved),
            "{function}"
        );
    }
}

/// The stage writes one JSON access-log line per request that says who (the
/// user id, never the key) did what, to a log group with retention.
#[test]
fn the_stage_logs_access_in_json() {
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    let resources = &doc["Resources"];
    let access = &resources["LockApi"]["Properties"]["AccessLogSetting"];
    let format: serde_json::Value =
        serde_json::from_str(access["Format"].as_str().unwrap()).expect("a JSON format");
    for field in [
        "requestId",
        "sourceIp",
        "userId",
        "route",
        "status",
        "latencyMs",
        "authorizerError",
    ] {
        assert!(format.get(field).is_some(), "access log lacks {field}");
    }
    assert_eq!(format["userId"], "$context.authorizer.userId");
    let text = access["Format"].as_str().unwrap();
    assert!(
        !text.to_lowercase().contains("authorization"),
        "the key is never logged"
    );
    let Value::Tagged(destination) = &access["DestinationArn"] else {
        panic!("DestinationArn must be !GetAtt <LogGroup>.Arn")
    };
    let group = destination.value.as_str().unwrap().trim_end_matches(".Arn");
    assert_eq!(resources[group]["Type"], "AWS::Logs::LogGroup");
    assert_eq!(
        resources[group]["Properties"]["RetentionInDays"],
        resources["AcquireLogs"]["Properties"]["RetentionInDays"]
    );
}

/// The optional AWS WAF web ACL: off by default; when on, a rate rule per
/// API key (the `Authorization` header, lower-cased and its spaces
/// compressed, so every spelling of one key is one bucket), one per IP on
/// sign-up and one per IP on every route, each answering a JSON 429, on the
/// API's stage.
#[test]
fn optional_waf_rate_limits_each_key_and_sign_ups_per_ip() {
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    assert_eq!(doc["Parameters"]["WafRateLimits"]["Default"], "false");
    let resources = &doc["Resources"];
    let acl = &resources["RateLimitAcl"];
    assert_eq!(acl["Condition"], "UseWaf");
    let body = acl["Properties"]["CustomResponseBodies"]["TooManyRequests"]["Content"]
        .as_str()
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["code"], "THROTTLED");
    let rules = acl["Properties"]["Rules"].as_sequence().unwrap();
    let rule = |name: &str| {
        rules
            .iter()
            .find(|rule| rule["Name"] == name)
            .unwrap_or_else(|| panic!("no rule {name}"))
    };
    for name in ["per-api-key", "sign-up-per-ip", "per-ip"] {
        let block = &rule(name)["Action"]["Block"]["CustomResponse"];
        assert_eq!(block["ResponseCode"], 429, "{name}");
    }
    let per_key = &rule("per-api-key")["Statement"]["RateBasedStatement"];
    assert_eq!(per_key["CustomKeys"][0]["Header"]["Name"], "authorization");
    let transformations: Vec<&str> = per_key["CustomKeys"][0]["Header"]["TextTransformations"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|t| t["Type"].as_str().unwrap())
        .collect();
    assert_eq!(transformations, ["LOWERCASE", "COMPRESS_WHITE_SPACE"]);
    let every_route = &rule("per-ip")["Statement"]["RateBasedStatement"];
    assert_eq!(every_route["AggregateKeyType"], "IP");
    assert!(
        every_route.get("ScopeDownStatement").is_none(),
        "every route"
    );
    let per_ip = &rule("sign-up-per-ip")["Statement"]["RateBasedStatement"];
    assert_eq!(per_ip["AggregateKeyType"], "IP");
    let scope = &per_ip["ScopeDownStatement"]["ByteMatchStatement"];
    assert_eq!(scope["SearchString"], "/v0/users/anonymous");
    let association = &resources["RateLimitAclAssociation"];
    assert_eq!(association["Condition"], "UseWaf");
    assert_eq!(association["DependsOn"], "LockApiStage");
}
