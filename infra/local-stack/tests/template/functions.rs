//! The template's functions and tables: every binary deployed, the tables'
//! keys, and each function's least privilege.

use super::*;

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
