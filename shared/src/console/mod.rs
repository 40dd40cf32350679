//! The browser console: `GET /console` (the page) and `GET /console/{asset}`
//! (its style sheet and script), embedded in the binary. The page calls the
//! API of its own stage with the key its user types, which stays in the
//! browser's `sessionStorage`; this function holds nothing secret and calls
//! no AWS API. Every answer carries a strict `Content-Security-Policy`, so
//! the page runs only its own script (no inline script, nothing from another
//! origin) and cannot be framed.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};

use crate::config::ConfigError;

/// The environment variable that tells the console the template's `SignupMode`.
pub const SIGNUP_MODE_ENV: &str = "SIGNUP_MODE";

/// The answers' `Content-Security-Policy`: this origin's script, style and
/// API only; no plugin, no `<base>`, no form posting, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("index.html");
/// The page's placeholder for the sign-up mode.
const SIGNUP_PLACEHOLDER: &str = "{{SIGNUP_MODE}}";

/// The assets under `/console/{asset}`: name, content type, text.
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("console.js"),
    ),
];

/// The console function's state: the page, told the sign-up mode.
#[derive(Clone, Debug)]
pub struct Console {
    page: String,
}

impl Console {
    /// The console for a stack whose `SignupMode` is `mode` (`open`, `iam`
    /// or `off`); the page offers sign-up only when it is `open`.
    pub fn new(mode: &str) -> Result<Self, ConfigError> {
        if !matches!(mode, "open" | "iam" | "off") {
            return Err(ConfigError::InvalidSetting {
                var: SIGNUP_MODE_ENV,
                problem: "must be open, iam or off".into(),
            });
        }
        Ok(Self {
            page: PAGE.replace(SIGNUP_PLACEHOLDER, mode),
        })
    }

    /// The console told the mode by [`SIGNUP_MODE_ENV`]; fails when unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mode = std::env::var(SIGNUP_MODE_ENV).unwrap_or_default();
        Self::new(&mode)
    }

    /// The answer to `GET /console` or `GET /console/{asset}`.
    pub fn respond(&self, request: &Request) -> Response<Body> {
        let asset = request.path_parameters_ref().and_then(|p| p.first("asset"));
        match asset {
            None => answer(StatusCode::OK, "text/html; charset=utf-8", &self.page),
            Some(name) => match ASSETS.iter().find(|(known, _, _)| *known == name) {
                Some((_, content_type, text)) => answer(StatusCode::OK, content_type, text),
                None => answer(
                    StatusCode::NOT_FOUND,
                    "application/json",
                    r#"{"message":"Not Found","code":"NOT_FOUND"}"#,
                ),
            },
        }
    }
}

/// `text` as `content_type`, with the console's security headers.
fn answer(status: StatusCode, content_type: &'static str, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::Text(text.to_owned()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::query_map::QueryMap;
    use std::collections::HashMap;

    fn get(asset: Option<&str>) -> Response<Body> {
        let mut request = Request::default();
        if let Some(asset) = asset {
            let parameters = HashMap::from([("asset".to_owned(), asset.to_owned())]);
            request = request.with_path_parameters(QueryMap::from(parameters));
        }
        Console::new("open").unwrap().respond(&request)
    }

    fn text(response: &Response<Body>) -> &str {
        match response.body() {
            Body::Text(text) => text,
            other => panic!("a text body, not {other:?}"),
        }
    }

    #[test]
    fn the_page_and_its_assets_carry_the_security_headers() {
        for asset in [None, Some("console.css"), Some("console.js"), Some("nope")] {
            let response = get(asset);
            let headers = response.headers();
            assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
            assert_eq!(headers["x-content-type-options"], "nosniff");
            assert_eq!(headers["referrer-policy"], "no-referrer");
            assert_eq!(headers["cache-control"], "no-store");
        }
        assert_eq!(get(Some("nope")).status(), StatusCode::NOT_FOUND);
        assert_eq!(get(Some("../index.html")).status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get(Some("console.js")).headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_and_is_told_the_mode() {
        let page = get(None);
        let html = text(&page);
        assert!(!html.contains(SIGNUP_PLACEHOLDER));
        assert!(html.contains(r#"<meta name="signup-mode" content="open">"#));
        for inline in ["<script>", "style=", "onclick", "onload", "javascript:"] {
            assert!(!html.contains(inline), "inline {inline}");
        }
        assert!(html.contains(r#"<script src="console/console.js" defer></script>"#));
        let off = Console::new("off").unwrap().respond(&Request::default());
        assert!(text(&off).contains(r#"content="off""#));
        assert!(Console::new("").is_err());
    }

    #[test]
    fn the_script_never_writes_markup() {
        let script = ASSETS[1].2;
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "localStorage",
        ] {
            assert!(!script.contains(sink), "console.js uses {sink}");
        }
    }
}
