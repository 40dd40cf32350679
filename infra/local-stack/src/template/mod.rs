//! What the local stack reads from `template.yaml`, so its routes, tables and
//! function settings cannot drift from what `sam deploy` creates.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::{Mapping, Value};

use conditions::Conditions;

mod conditions;
mod definition;

/// Why the template could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The template's path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// Something the local stack needs is missing or has another shape.
    #[error("template: {0}")]
    Shape(String),
}

/// One API route: `method path` → the function binary that serves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Upper-case HTTP method.
    pub method: String,
    /// Resource path, e.g. `/v0/lock` or `/console/{asset}` (a `{name}`
    /// segment matches any one segment of a request's path).
    pub path: String,
    /// Binary (and Cargo package) name of the function.
    pub function: String,
    /// Whether the API's default authorizer guards the route.
    pub authorized: bool,
}

impl Route {
    /// Whether this route serves `method path`, and with which path
    /// parameters (`{name}` → the segment it matched).
    pub fn matches(&self, method: &str, path: &str) -> Option<Vec<(String, String)>> {
        if self.method != method {
            return None;
        }
        let (mut template, mut actual) = (self.path.split('/'), path.split('/'));
        let mut parameters = Vec::new();
        loop {
            match (template.next(), actual.next()) {
                (None, None) => return Some(parameters),
                (Some(want), Some(got)) => {
                    match want.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                        Some(name) if !got.is_empty() => {
                            parameters.push((name.to_owned(), got.to_owned()))
                        }
                        Some(_) => return None,
                        None if want == got => {}
                        None => return None,
                    }
                }
                _ => return None,
            }
        }
    }
}

/// One DynamoDB table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Logical id in the template; the local stack also uses it as the table name.
    pub logical_id: String,
    /// Partition key attribute.
    pub partition: String,
    /// Sort key attribute, if any.
    pub sort: Option<String>,
    /// TTL attribute, if TTL is enabled.
    pub ttl_attribute: Option<String>,
}

/// The parts of the SAM template the local stack runs.
#[derive(Clone, Debug)]
pub struct Template {
    /// Every API route, in template order.
    pub routes: Vec<Route>,
    /// Binary of the API's default (TOKEN) authorizer.
    pub authorizer: String,
    /// Every table.
    pub tables: Vec<Table>,
    /// Environment variable → logical id of the table it names (`!Ref`).
    pub table_env: BTreeMap<String, String>,
    /// Binary of every function.
    pub functions: Vec<String>,
    /// Seconds API Gateway caches an authorizer decision (a parameter's default).
    pub auth_cache_seconds: u64,
    /// The authorizer's `ValidationExpression`: a header that does not match
    /// is refused without invoking it.
    pub token_pattern: Option<String>,
    /// The `SignupMode` parameter's default, which the console function is
    /// told (as `SIGNUP_MODE`, by `!Ref SignupMode`).
    pub signup_mode: String,
}

impl Template {
    /// What the template puts in the functions' environment, as the local
    /// stack and the bench pass it: the table variables, and the console's
    /// `SIGNUP_MODE`.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<_> = self
            .table_env
            .iter()
            .map(|(name, table)| (name.clone(), table.clone()))
            .collect();
        let mode = lock_service::console::SIGNUP_MODE_ENV;
        env.push((mode.to_owned(), self.signup_mode.clone()));
        env
    }

    /// Reads and interprets the template at `path`.
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Interprets template text.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let doc: Value = serde_yaml_ng::from_str(text)?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| shape("no Resources"))?;
        let conditions = Conditions::of(&doc);
        let functions = existing(resources, "AWS::Serverless::Function", conditions)?;
        let mut binaries = BTreeMap::new();
        for (id, _) in &functions {
            binaries.insert(id.to_owned(), binary(id, &resources[*id])?);
        }
        let tables = of_type(resources, "AWS::DynamoDB::Table")
            .map(|(id, props)| table(id, props))
            .collect::<Result<Vec<_>, _>>()?;
        let mut routes = Vec::new();
        let mut table_env = BTreeMap::new();
        for (id, props) in &functions {
            table_env.extend(table_variables(props, &tables));
            routes.extend(api_routes(id, props, &binaries[id])?);
        }
        let (_, api) = of_type(resources, "AWS::Serverless::Api")
            .next()
            .ok_or_else(|| shape("no AWS::Serverless::Api"))?;
        routes.extend(definition::definition_routes(api, conditions, &binaries)?);
        let (authorizer_id, identity) = default_authorizer(api)?;
        let auth_cache_seconds = identity
            .and_then(|i| i.get("ReauthorizeEvery"))
            .and_then(|value| conditions.resolve(value))
            .and_then(Value::as_u64)
            .unwrap_or(300);
        let token_pattern = identity
            .and_then(|i| i.get("ValidationExpression"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let authorizer = binaries.get(authorizer_id).cloned().ok_or_else(|| {
            shape(&format!(
                "authorizer function {authorizer_id} is not a function"
            ))
        })?;
        let signup_mode = doc
            .get("Parameters")
            .and_then(|p| p.get("SignupMode"))
            .and_then(|p| p.get("Default"))
            .and_then(Value::as_str)
            .ok_or_else(|| shape("no SignupMode parameter with a default"))?
            .to_owned();
        Ok(Self {
            signup_mode,
            routes,
            authorizer,
            tables,
            table_env,
            functions: binaries.into_values().collect(),
            auth_cache_seconds,
            token_pattern,
        })
    }
}

/// The resources of type `kind`: (logical id, properties).
fn of_type<'a>(
    resources: &'a Mapping,
    kind: &'static str,
) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    resources.iter().filter_map(move |(id, resource)| {
        (resource.get("Type").and_then(Value::as_str) == Some(kind))
            .then(|| Some((id.as_str()?, resource.get("Properties")?)))
            .flatten()
    })
}

/// The resources of type `kind` whose condition holds (or that have none).
fn existing<'a>(
    resources: &'a Mapping,
    kind: &'static str,
    conditions: Conditions<'a>,
) -> Result<Vec<(&'a str, &'a Value)>, TemplateError> {
    let mut found = Vec::new();
    for (id, props) in of_type(resources, kind) {
        if conditions.exists(&resources[id])? {
            found.push((id, props));
        }
    }
    Ok(found)
}

/// The binary a function is built from: its `Metadata.BuildProperties.Binary`
/// (one package, `functions/`, holds every function's binary).
fn binary(id: &str, resource: &Value) -> Result<String, TemplateError> {
    resource
        .get("Metadata")
        .and_then(|metadata| metadata.get("BuildProperties"))
        .and_then(|build| build.get("Binary"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| shape(&format!("{id} has no Metadata.BuildProperties.Binary")))
}

/// A function's environment variables that name one of `tables` (`!Ref`).
fn table_variables(props: &Value, tables: &[Table]) -> Vec<(String, String)> {
    let variables = props
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping);
    variables
        .into_iter()
        .flat_map(Mapping::iter)
        .filter_map(|(name, value)| Some((name.as_str()?, reference(value, "Ref")?)))
        .filter(|(_, target)| tables.iter().any(|t| t.logical_id == *target))
        .map(|(name, target)| (name.to_owned(), target.to_owned()))
        .collect()
}

/// The routes of a function's `Api` events.
fn api_routes(id: &str, props: &Value, function: &str) -> Result<Vec<Route>, TemplateError> {
    let events = props.get("Events").and_then(Value::as_mapping);
    let mut routes = Vec::new();
    for event in events.into_iter().flat_map(Mapping::values) {
        if event.get("Type").and_then(Value::as_str) != Some("Api") {
            continue;
        }
        let p = event
            .get("Properties")
            .ok_or_else(|| shape(&format!("{id}: Api event without Properties")))?;
        let field = |name: &str| {
            p.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| shape(&format!("{id}: Api event without {name}")))
        };
        let authorizer = p
            .get("Auth")
            .and_then(|a| a.get("Authorizer"))
            .and_then(Value::as_str);
        routes.push(Route {
            method: field("Method")?.to_ascii_uppercase(),
            path: field("Path")?.to_owned(),
            function: function.to_owned(),
            authorized: authorizer != Some("NONE"),
        });
    }
    Ok(routes)
}

/// The API's default authorizer: its function's logical id and `Identity`.
fn default_authorizer(api: &Value) -> Result<(&str, Option<&Value>), TemplateError> {
    let auth = api
        .get("Auth")
        .ok_or_else(|| shape("the API has no Auth"))?;
    let default = auth
        .get("DefaultAuthorizer")
        .and_then(Value::as_str)
        .ok_or_else(|| shape("the API has no DefaultAuthorizer"))?;
    let authorizer = auth
        .get("Authorizers")
        .and_then(|a| a.get(default))
        .ok_or_else(|| shape(&format!("authorizer {default} is not declared")))?;
    let function = authorizer
        .get("FunctionArn")
        .and_then(|arn| reference(arn, "GetAtt"))
        .and_then(|target| target.strip_suffix(".Arn"))
        .ok_or_else(|| shape("the authorizer's FunctionArn is not !GetAtt <Function>.Arn"))?;
    Ok((function, authorizer.get("Identity")))
}

fn shape(problem: &str) -> TemplateError {
    TemplateError::Shape(problem.to_owned())
}

/// The target of `!Ref X` / `{Ref: X}` or `!GetAtt X.Y` / `{Fn::GetAtt: [X, Y]}`.
fn reference<'a>(value: &'a Value, function: &str) -> Option<&'a str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == function => tagged.value.as_str(),
        Value::Mapping(map) if map.len() == 1 => {
            let long = if function == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{function}")
            };
            map.get(long.as_str()).and_then(Value::as_str)
        }
        _ => None,
    }
}

fn table(id: &str, props: &Value) -> Result<Table, TemplateError> {
    let keys = props
        .get("KeySchema")
        .and_then(Value::as_sequence)
        .ok_or_else(|| shape(&format!("{id} has no KeySchema")))?;
    let key = |kind: &str| {
        keys.iter()
            .find(|k| k.get("KeyType").and_then(Value::as_str) == Some(kind))
            .and_then(|k| k.get("AttributeName"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let ttl = props.get("TimeToLiveSpecification");
    let ttl_enabled = ttl.and_then(|t| t.get("Enabled")).and_then(Value::as_bool) == Some(true);
    Ok(Table {
        logical_id: id.to_owned(),
        partition: key("HASH").ok_or_else(|| shape(&format!("{id} has no HASH key")))?,
        sort: key("RANGE"),
        ttl_attribute: ttl_enabled
            .then(|| {
                ttl.and_then(|t| t.get("AttributeName"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str) -> Route {
        Route {
            method: "GET".into(),
            path: path.into(),
            function: "f".into(),
            authorized: false,
        }
    }

    #[test]
    fn a_brace_segment_matches_one_non_empty_segment() {
        let asset = route("/console/{asset}");
        let matched = |method: &str, path: &str| asset.matches(method, path);
        assert_eq!(
            matched("GET", "/console/console.js"),
            Some(vec![("asset".into(), "console.js".into())])
        );
        for path in ["/console", "/console/", "/console/a/b", "/consoles/a"] {
            assert_eq!(matched("GET", path), None, "{path}");
        }
        assert_eq!(matched("POST", "/console/console.js"), None);
        assert_eq!(route("/v0/lock").matches("GET", "/v0/lock"), Some(vec![]));
        assert_eq!(route("/v0/lock").matches("GET", "/v0/lock/renew"), None);
    }
}
