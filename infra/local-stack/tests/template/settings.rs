//! The template's settings: the authorizer's token pattern, the operator's
//! limits and throttles, the stage's access log and the optional WAF.

use super::*;

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
