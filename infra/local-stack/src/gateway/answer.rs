//! The gateway's HTTP answers: a function's proxy response mapped back, or
//! an answer of its own, JSON like the template's Gateway Responses.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// A finished answer.
pub type Answer = Response<Full<Bytes>>;

/// An answer the gateway makes itself: `{"message", "code"}` with `status`.
pub fn gateway_error(status: StatusCode, message: &str, code: &str) -> Answer {
    let body = json!({ "message": message, "code": code }).to_string();
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

/// `401 Unauthorized`, as API Gateway answers a missing or refused key.
pub fn unauthorized() -> Answer {
    gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized", "UNAUTHORIZED")
}

/// `502 Bad Gateway`, for a function that failed or answered garbage.
pub fn bad_gateway() -> Answer {
    gateway_error(StatusCode::BAD_GATEWAY, "Bad Gateway", "BAD_GATEWAY")
}

/// The HTTP answer for a function's proxy response; `None` if malformed.
pub fn proxy_answer(payload: Value) -> Option<Answer> {
    let response: ApiGatewayProxyResponse = serde_json::from_value(payload).ok()?;
    let status = StatusCode::from_u16(u16::try_from(response.status_code).ok()?).ok()?;
    let body = match response.body {
        None | Some(Body::Empty) => Bytes::new(),
        Some(Body::Text(text)) if response.is_base64_encoded => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?,
        ),
        Some(Body::Text(text)) => Bytes::from(text),
        Some(Body::Binary(bytes)) => Bytes::from(bytes),
        Some(_) => return None,
    };
    let mut answer = Response::new(Full::new(body));
    *answer.status_mut() = status;
    // As on API Gateway, the multi-value headers win over the single ones.
    let mut headers = response.headers;
    for name in response.multi_value_headers.keys() {
        headers.remove(name);
    }
    for (name, value) in &response.multi_value_headers {
        headers.append(name, value.clone());
    }
    *answer.headers_mut() = headers;
    Some(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_responses_map_back_to_http() {
        let answer = proxy_answer(json!({
            "statusCode": 201,
            "headers": { "content-type": "application/json" },
            "multiValueHeaders": { "x-many": ["a", "b"] },
            "body": "{}",
            "isBase64Encoded": false
        }))
        .unwrap();
        assert_eq!(answer.status(), 201);
        assert_eq!(answer.headers()["content-type"], "application/json");
        assert_eq!(answer.headers().get_all("x-many").iter().count(), 2);
        assert!(proxy_answer(json!({ "body": "no status" })).is_none());
        assert!(proxy_answer(json!({ "statusCode": 200, "body": 5 })).is_none());
    }
}
