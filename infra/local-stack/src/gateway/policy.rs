//! The policy a TOKEN authorizer returns, and IAM-style matching of method
//! ARNs against it, as API Gateway applies it to every request.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerResponse;
use aws_lambda_events::iam::IamPolicyEffect;
use serde_json::{Map, Value};

/// The policy an authorizer returned for one `Authorization` value.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// Resource patterns of `Allow` statements.
    allowed: Vec<String>,
    /// Resource patterns of `Deny` statements (they win).
    denied: Vec<String>,
    /// `principalId` and the `context` entries, handed to the function.
    pub context: Map<String, Value>,
}

impl Policy {
    /// Reads an authorizer's answer; `None` if it is not a policy with a principal.
    pub fn from_response(response: Value) -> Option<Self> {
        let response: ApiGatewayCustomAuthorizerResponse = serde_json::from_value(response).ok()?;
        let mut context = match response.context {
            Value::Object(context) => context,
            _ => Map::new(),
        };
        context.insert("principalId".into(), Value::String(response.principal_id?));
        let mut policy = Self {
            allowed: Vec::new(),
            denied: Vec::new(),
            context,
        };
        for statement in response.policy_document.statement {
            let invokes = statement
                .action
                .iter()
                .any(|action| wildcard_match(action, "execute-api:Invoke"));
            if !invokes {
                continue;
            }
            match statement.effect {
                IamPolicyEffect::Allow => policy.allowed.extend(statement.resource),
                IamPolicyEffect::Deny => policy.denied.extend(statement.resource),
                _ => continue,
            }
        }
        Some(policy)
    }

    /// Whether the policy lets `method_arn` through.
    pub fn permits(&self, method_arn: &str) -> bool {
        !self.denied.iter().any(|p| wildcard_match(p, method_arn))
            && self.allowed.iter().any(|p| wildcard_match(p, method_arn))
    }
}

/// IAM-style match: `*` is any run of characters, `?` any one character.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    // The last `*` seen, and the text position it currently stands for.
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            backtrack = Some((p, t));
            p += 1;
        } else if let Some((star, matched)) = backtrack {
            // Let the `*` take one more character and try again.
            backtrack = Some((star, matched + 1));
            p = star + 1;
            t = matched + 1;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_match_like_iam() {
        let arn = "arn:aws:execute-api:us-east-1:123456789012:local/local/POST/v0/lock";
        assert!(wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:local/local/*/*",
            arn
        ));
        assert!(wildcard_match("*", arn));
        assert!(wildcard_match(arn, arn));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:local/other/*/*",
            arn
        ));
        assert!(!wildcard_match(
            "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/*",
            arn
        ));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn a_policy_allows_only_what_it_names_and_deny_wins() {
        let response = json!({
            "principalId": "u1",
            "context": { "userId": "u1" },
            "policyDocument": { "Version": "2012-10-17", "Statement": [
                { "Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:x/local/*/*"] },
                { "Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "arn:x/local/POST/v0/unlock" }
            ]}
        });
        let policy = Policy::from_response(response).unwrap();
        assert_eq!(
            Value::Object(policy.context.clone()),
            json!({ "userId": "u1", "principalId": "u1" })
        );
        assert!(policy.permits("arn:x/local/POST/v0/lock"));
        assert!(!policy.permits("arn:x/local/POST/v0/unlock"));
        assert!(!policy.permits("arn:x/prod/POST/v0/lock"));
        assert_eq!(Policy::from_response(json!({ "principalId": "u1" })), None);
    }
}
