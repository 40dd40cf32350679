//! The DynamoDB client every function builds once at init, and the root CAs
//! its TLS connections trust, and the interceptor that counts throttles.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::Builder;

use crate::config::ConfigError;
use crate::metrics::{self, Metric};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Amazon Trust Services' roots (Amazon Root CA 1–4 and the Starfield
/// Services G2 root that cross-signs them), which certify DynamoDB's
/// endpoints; AWS asks its SDKs' users to trust these five.
pub const AMAZON_ROOTS_PEM: &str = include_str!("../certs/amazon-roots.pem");

/// `system` makes the client trust the platform's root CAs instead of
/// [`AMAZON_ROOTS_PEM`] (a TLS-inspecting proxy, or an HTTPS endpoint that
/// is not Amazon's).
pub const CA_ROOTS_ENV: &str = "DYNAMODB_CA_ROOTS";

/// Which root CAs the DynamoDB client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaRoots {
    /// [`AMAZON_ROOTS_PEM`] only: nothing read from disk at init (the
    /// platform's store is ~140 certificates, 1–4 ms of every cold start;
    /// PERFORMANCE.md), and no other CA can vouch for a DynamoDB endpoint.
    Amazon,
    /// The platform's store (`SSL_CERT_FILE`, `SSL_CERT_DIR`, or the OS's).
    System,
}

impl CaRoots {
    /// [`CaRoots::System`] when `ca_roots` (the [`CA_ROOTS_ENV`] value) is
    /// `system` or, unset, when the region is in China (`cn-*`, a partition
    /// of its own whose endpoints may be certified by other CAs); otherwise
    /// [`CaRoots::Amazon`]. Any other value is refused.
    pub fn choose(ca_roots: Option<&str>, region: Option<&str>) -> Result<Self, ConfigError> {
        match ca_roots {
            Some("amazon") => Ok(CaRoots::Amazon),
            Some("system") => Ok(CaRoots::System),
            None if region.is_some_and(|region| region.starts_with("cn-")) => Ok(CaRoots::System),
            None => Ok(CaRoots::Amazon),
            Some(other) => Err(ConfigError::InvalidSetting {
                var: CA_ROOTS_ENV,
                problem: format!("must be `amazon` or `system`, not {other:?}"),
            }),
        }
    }

    fn trust_store(self) -> TrustStore {
        match self {
            CaRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_ROOTS_PEM),
            CaRoots::System => TrustStore::default(),
        }
    }
}

/// A DynamoDB client from the standard AWS configuration chain (region,
/// credentials, and `AWS_ENDPOINT_URL_DYNAMODB` for a local engine), on the
/// SDK's own rustls + aws-lc client, trusting the roots [`CaRoots::choose`]
/// picks from the environment. Plain `http://` endpoints work as before.
pub async fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, ConfigError> {
    let roots = CaRoots::choose(
        std::env::var(CA_ROOTS_ENV).ok().as_deref(),
        std::env::var("AWS_REGION").ok().as_deref(),
    )?;
    let tls = TlsContext::builder()
        .with_trust_store(roots.trust_store())
        .build()
        .expect("a TLS context from a trust store is always valid");
    let http_client = Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .load()
        .await;
    let config = aws_sdk_dynamodb::config::Builder::from(&config)
        .interceptor(ThrottleCounter)
        .build();
    Ok(aws_sdk_dynamodb::Client::from_conf(config))
}

/// Counts every DynamoDB answer that throttled an attempt
/// ([`Metric::DynamoDbThrottled`]) or refused a write for another Region's
/// ([`Metric::DynamoDbWriteConflict`]), retried by the SDK or not.
#[derive(Debug)]
pub struct ThrottleCounter;

/// The metric an answer of `status` with error type `error_type` (the
/// `x-amzn-ErrorType` header, `Namespace#Code` or `Code`) counts in: a
/// throttle, a replicated write conflict, or neither.
pub fn contention_metric(status: u16, error_type: Option<&str>) -> Option<Metric> {
    const THROTTLES: [&str; 4] = [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "LimitExceededException",
    ];
    let code = error_type
        .map(|t| t.rsplit('#').next().unwrap_or(t))
        .map(|t| t.split(':').next().unwrap_or(t))?;
    match code {
        _ if status != 400 => None,
        "ReplicatedWriteConflictException" => Some(Metric::DynamoDbWriteConflict),
        code if THROTTLES.contains(&code) => Some(Metric::DynamoDbThrottled),
        _ => None,
    }
}

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let error_type = response.headers().get("x-amzn-errortype");
        if let Some(metric) = contention_metric(response.status().as_u16(), error_type) {
            metrics::count(metric);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    use sha2::{Digest, Sha256};

    use super::*;

    #[test]
    fn the_amazon_roots_are_the_five_of_amazon_trust_services() {
        let fingerprints: Vec<String> = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .map(|der| {
                let digest = Sha256::digest(der.expect("a PEM certificate").as_ref());
                digest.iter().map(|byte| format!("{byte:02X}")).collect()
            })
            .collect();
        // The SHA-256 fingerprints Amazon Trust Services publishes (and
        // Debian's ca-certificates 20230311, where the file was taken from).
        assert_eq!(
            fingerprints,
            [
                "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E",
                "1BA5B2AA8C65401A82960118F80BEC4F62304D83CEC4713A19C39C011EA46DB4",
                "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4",
                "E35D28419ED02025CFA69038CD623962458DA5C695FBDEA3C22B0BFB25897092",
                "568D6905A2C88708A4B3025190EDCFEDB1974A606A13C6E5290FCB2AE63EDAB5",
            ]
        );
    }

    #[test]
    fn each_amazon_root_is_a_trust_anchor_rustls_accepts() {
        let ders = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("PEM certificates");
        let mut roots = rustls::RootCertStore::empty();
        assert_eq!(roots.add_parsable_certificates(ders), (5, 0));
    }

    #[test]
    fn amazon_roots_unless_system_is_asked_for_or_the_region_is_in_china() {
        let choose = |ca_roots, region| CaRoots::choose(ca_roots, region).ok();
        assert_eq!(choose(None, Some("eu-west-1")), Some(CaRoots::Amazon));
        assert_eq!(choose(None, None), Some(CaRoots::Amazon));
        assert_eq!(
            choose(Some("system"), Some("us-east-1")),
            Some(CaRoots::System)
        );
        assert_eq!(choose(None, Some("cn-north-1")), Some(CaRoots::System));
        assert_eq!(
            choose(Some("amazon"), Some("cn-north-1")),
            Some(CaRoots::Amazon)
        );
        let refused = CaRoots::choose(Some("sytem"), None).expect_err("a typo");
        assert!(
            refused.to_string().contains("DYNAMODB_CA_ROOTS"),
            "{refused}"
        );
    }

    #[test]
    fn throttles_and_write_conflicts_are_told_from_other_errors_by_their_code() {
        let ns = "com.amazonaws.dynamodb.v20120810#";
        let metric = |status, code: &str| contention_metric(status, Some(code));
        let throttled = Some(Metric::DynamoDbThrottled);
        assert_eq!(metric(400, &format!("{ns}ThrottlingException")), throttled);
        assert_eq!(
            metric(400, "ProvisionedThroughputExceededException"),
            throttled
        );
        assert_eq!(metric(400, &format!("{ns}RequestLimitExceeded")), throttled);
        assert_eq!(
            metric(400, &format!("{ns}ReplicatedWriteConflictException")),
            Some(Metric::DynamoDbWriteConflict)
        );
        assert_eq!(
            metric(400, &format!("{ns}ConditionalCheckFailedException")),
            None
        );
        assert_eq!(contention_metric(400, None), None);
        assert_eq!(metric(500, "ThrottlingException"), None);
    }
}
