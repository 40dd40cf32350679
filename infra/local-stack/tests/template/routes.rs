//! The template's routes: exactly the registry's, only sign-up and the
//! console open, and what `SignupMode` does to sign-up.

use super::*;

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
