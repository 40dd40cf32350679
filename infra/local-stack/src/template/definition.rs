//! Routes written in the API's `DefinitionBody` (OpenAPI 2.0) rather than as
//! a function's `Api` event: today sign-up, whose authorization depends on
//! the `SignupMode` parameter.

use std::collections::BTreeMap;

use serde_yaml_ng::{Mapping, Value};

use super::conditions::Conditions;
use super::{shape, Route, TemplateError};

/// The routes of `api`'s `DefinitionBody`, under the parameters' defaults.
/// `binaries` maps a function's logical id to its binary.
pub(super) fn definition_routes(
    api: &Value,
    conditions: Conditions<'_>,
    binaries: &BTreeMap<&str, String>,
) -> Result<Vec<Route>, TemplateError> {
    let paths = api
        .get("DefinitionBody")
        .and_then(|body| body.get("paths"))
        .and_then(Value::as_mapping);
    let mut routes = Vec::new();
    for (path, item) in paths.into_iter().flat_map(Mapping::iter) {
        let path = path
            .as_str()
            .ok_or_else(|| shape("a path is not a string"))?;
        let Some(item) = conditions.choose(item)? else {
            continue;
        };
        for (method, operation) in item.as_mapping().into_iter().flat_map(Mapping::iter) {
            let Some(operation) = conditions.choose(operation)? else {
                continue;
            };
            let method = method
                .as_str()
                .ok_or_else(|| shape("a method is not a string"))?;
            let route = format!("{} {path}", method.to_ascii_uppercase());
            routes.push(Route {
                function: integrated_function(operation, binaries).ok_or_else(|| {
                    shape(&format!("{route}: no aws_proxy integration of a function"))
                })?,
                authorized: authorized(operation, &route)?,
                method: method.to_ascii_uppercase(),
                path: path.to_owned(),
            });
        }
    }
    Ok(routes)
}

/// The binary behind `x-amazon-apigateway-integration`'s
/// `!Sub "...${Function.Arn}/invocations"`.
fn integrated_function(operation: &Value, binaries: &BTreeMap<&str, String>) -> Option<String> {
    let uri = operation
        .get("x-amazon-apigateway-integration")?
        .get("uri")?;
    let text = match uri {
        Value::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str()?,
        other => other.get("Fn::Sub")?.as_str()?,
    };
    text.split("${")
        .filter_map(|part| part.split_once(".Arn}"))
        .find_map(|(id, _)| binaries.get(id).cloned())
}

/// Whether the default authorizer guards the operation: not with
/// `security: [{NONE: []}]`; refused for AWS_IAM, which needs SigV4 and
/// real AWS credentials that the local stack does not emulate.
fn authorized(operation: &Value, route: &str) -> Result<bool, TemplateError> {
    let schemes: Vec<&str> = operation
        .get("security")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_mapping)
        .flat_map(Mapping::keys)
        .filter_map(Value::as_str)
        .collect();
    if schemes.contains(&"AWS_IAM") {
        return Err(shape(&format!(
            "{route} requires AWS_IAM (SigV4), which the local stack does not emulate"
        )));
    }
    Ok(!schemes.contains(&"NONE"))
}
