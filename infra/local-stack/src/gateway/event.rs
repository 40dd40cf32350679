//! The REST API proxy event (payload 1.0) API Gateway sends a function, built
//! as `aws_lambda_events` types so that it has exactly their shape.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyRequestContext};
use aws_lambda_events::http::{HeaderMap, HeaderValue};
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use hyper::body::Bytes;
use hyper::http::request::Parts;
use serde_json::{Map, Value};

use super::{ACCOUNT_ID, API_ID};
use crate::template::Route;

/// What API Gateway knows of one request when it calls the function.
pub struct Incoming<'a> {
    /// The matched route.
    pub route: &'a Route,
    /// What its `{name}` segments matched.
    pub path_parameters: Vec<(String, String)>,
    /// Method, URI and headers as received.
    pub parts: &'a Parts,
    /// The body as received.
    pub body: &'a Bytes,
    /// The client's address.
    pub peer: SocketAddr,
    /// The authorizer's context (`principalId` and its entries); empty on open routes.
    pub authorizer: Map<String, Value>,
    /// The stage name.
    pub stage: &'a str,
}

/// The proxy event for `incoming`, as JSON.
pub fn proxy_event(incoming: Incoming<'_>) -> Value {
    let Incoming {
        route,
        path_parameters,
        parts,
        body,
        peer,
        authorizer,
        stage,
    } = incoming;
    let (headers, multi_value_headers) = headers(&parts.headers);
    let (query, multi_value_query) = query(parts.uri.query().unwrap_or_default());
    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(route.path.clone());
    event.path = Some(parts.uri.path().to_owned());
    event.path_parameters = path_parameters.into_iter().collect();
    event.http_method = parts.method.clone();
    event.headers = headers;
    event.multi_value_headers = multi_value_headers;
    event.query_string_parameters = query;
    event.multi_value_query_string_parameters = multi_value_query;
    event.request_context = context(route, parts, peer, authorizer, stage);
    match std::str::from_utf8(body) {
        _ if body.is_empty() => {}
        Ok(text) => event.body = Some(text.to_owned()),
        Err(_) => {
            event.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
            event.is_base64_encoded = true;
        }
    }
    serde_json::to_value(event).unwrap_or(Value::Null)
}

fn context(
    route: &Route,
    parts: &Parts,
    peer: SocketAddr,
    authorizer: Map<String, Value>,
    stage: &str,
) -> ApiGatewayProxyRequestContext {
    let header = |name: &str| parts.headers.get(name).and_then(|h| h.to_str().ok());
    let now = SystemTime::now();
    let mut context = ApiGatewayProxyRequestContext::default();
    context.account_id = Some(ACCOUNT_ID.into());
    context.apiid = Some(API_ID.into());
    context.domain_name = Some(header("host").unwrap_or("localhost").into());
    context.http_method = parts.method.clone();
    context.identity.source_ip = Some(peer.ip().to_string());
    context.identity.user_agent = header("user-agent").map(str::to_owned);
    context.path = Some(format!("/{stage}{}", parts.uri.path()));
    context.protocol = Some("HTTP/1.1".into());
    context.request_id = Some(uuid::Uuid::new_v4().to_string());
    context.request_time = Some(humantime::format_rfc3339_millis(now).to_string());
    context.request_time_epoch = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    context.resource_id = Some("local".into());
    context.resource_path = Some(route.path.clone());
    context.stage = Some(stage.into());
    context.authorizer.fields = authorizer.into_iter().collect();
    context
}

/// Headers as API Gateway shows them: the last value of each name, and every
/// value of each name. Values that are not UTF-8 are read lossily.
fn headers(received: &HeaderMap) -> (HeaderMap, HeaderMap) {
    let (mut single, mut multi) = (HeaderMap::new(), HeaderMap::new());
    for (name, value) in received {
        let text = String::from_utf8_lossy(value.as_bytes());
        let Ok(value) = HeaderValue::from_str(&text) else {
            continue;
        };
        single.insert(name.clone(), value.clone());
        multi.append(name.clone(), value);
    }
    (single, multi)
}

/// The query string as API Gateway shows it: the last value of each name,
/// and every value of each name.
fn query(text: &str) -> (QueryMap, QueryMap) {
    let mut single = HashMap::new();
    let mut multi: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in form_urlencoded::parse(text.as_bytes()) {
        single.insert(name.to_string(), value.to_string());
        multi
            .entry(name.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    (QueryMap::from(single), QueryMap::from(multi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_show_their_last_value_and_all_values() {
        let (single, multi) = query("a=1&b=2&a=3");
        assert_eq!(single.first("a"), Some("3"));
        assert_eq!(multi.all("a"), Some(vec!["1", "3"]));
        let mut received = HeaderMap::new();
        received.append("x-many", HeaderValue::from_static("1"));
        received.append("x-many", HeaderValue::from_static("2"));
        let (single, multi) = headers(&received);
        assert_eq!(single["x-many"], "2");
        assert_eq!(multi.get_all("x-many").iter().count(), 2);
    }
}
