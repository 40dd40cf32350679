//! `template.yaml` against the code: the routes, tables, table variables and
//! permissions that `sam deploy` creates must be the ones the code and the
//! local stack use. Any drift fails here.

use std::collections::BTreeMap;

use local_stack::engine::repo_root;
use local_stack::template::{Route, Template};
use serde_yaml_ng::Value;
use shared::schema::{
    API_KEYS_SPEC, API_KEYS_TABLE_ENV, LOCKS_SPEC, LOCKS_TABLE_ENV, TTL_ATTRIBUTE,
};

fn template_text() -> String {
    std::fs::read_to_string(repo_root().join("template.yaml")).unwrap()
}

fn template() -> Template {
    Template::parse(&template_text()).unwrap()
}

#[test]
fn the_routes_are_the_contracts_and_each_has_its_function() {
    let mut routes = template().routes;
    routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    let route = |method: &str, path: &str, function: &str, authorized: bool| Route {
        method: method.into(),
        path: path.into(),
        function: function.into(),
        authorized,
    };
    assert_eq!(
        routes,
        [
            route("GET", "/v0/lock", "get-lock", true),
            route("POST", "/v0/lock", "acquire", true),
            route("POST", "/v0/lock/renew", "renew", true),
            route("GET", "/v0/locks", "list-locks", true),
            route("POST", "/v0/unlock", "unlock", true),
            route("POST", "/v0/users/anonymous", "create-user", false),
        ]
    );
}

#[test]
fn every_function_is_a_workspace_binary_and_the_authorizer_is_the_default() {
    let template = template();
    assert_eq!(template.authorizer, "authorizer");
    assert_eq!(template.auth_cache_seconds, 300);
    let manifest = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    for function in &template.functions {
        assert!(
            manifest.contains(&format!("\"functions/{function}\"")),
            "{function} is not a workspace member"
        );
        let package =
            std::fs::read_to_string(repo_root().join(format!("functions/{function}/Cargo.toml")))
                .unwrap();
        assert!(
            package.contains(&format!("name = \"{function}\"")),
            "{function}'s package has another name"
        );
    }
    assert_eq!(template.functions.len(), 7);
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

/// Each function may do only what its code does, on the one table it uses.
#[test]
fn every_function_has_least_privilege() {
    let doc: Value = serde_yaml_ng::from_str(&template_text()).unwrap();
    let expected: BTreeMap<&str, (Vec<&str>, &str)> = BTreeMap::from([
        (
            "AuthorizerFunction",
            (vec!["dynamodb:GetItem"], "ApiKeysTable"),
        ),
        (
            "CreateUserFunction",
            (vec!["dynamodb:PutItem"], "ApiKeysTable"),
        ),
        (
            "AcquireFunction",
            (
                vec!["dynamodb:UpdateItem", "dynamodb:GetItem"],
                "LocksTable",
            ),
        ),
        ("GetLockFunction", (vec!["dynamodb:GetItem"], "LocksTable")),
        (
            "RenewFunction",
            (
                vec!["dynamodb:UpdateItem", "dynamodb:GetItem"],
                "LocksTable",
            ),
        ),
        (
            "UnlockFunction",
            (
                vec!["dynamodb:UpdateItem", "dynamodb:GetItem"],
                "LocksTable",
            ),
        ),
        ("ListLocksFunction", (vec!["dynamodb:Query"], "LocksTable")),
    ]);
    let resources = doc["Resources"].as_mapping().unwrap();
    let functions: Vec<_> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .collect();
    assert_eq!(functions.len(), expected.len());
    for (id, resource) in functions {
        let id = id.as_str().unwrap();
        let (actions, table) = &expected[id];
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
