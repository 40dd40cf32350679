//! Metrics in CloudWatch's Embedded Metric Format (EMF): what one
//! invocation did is gathered while it runs ([`count`], [`value`],
//! [`property`]) and written as **one** JSON line on stdout when it ends
//! ([`Invocation::scope`]); CloudWatch Logs turns the line into metrics. No
//! `PutMetricData`, no network call, no background flush.
//!
//! Dimensions are the function and nothing else: never the user or the
//! lock (each distinct value would be a billed metric). The user id and the
//! name go in the record as plain properties, searchable in Logs Insights.
//! [`Metric`] is the one table of names and units.

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;

use serde_json::{json, Map, Value};

/// The unit of a metric, as EMF names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Occurrences.
    Count,
    /// Milliseconds.
    Milliseconds,
}

impl Unit {
    /// Its EMF name.
    pub const fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

macro_rules! metrics {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $unit:ident;)*) => {
        /// Every metric a function emits: its name in CloudWatch and its unit.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric {
            $($(#[$doc])* $variant,)*
        }

        impl Metric {
            /// All of them, in declaration order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// Its name in CloudWatch.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Metric::$variant => $name,)*
                }
            }

            /// Its unit.
            pub const fn unit(self) -> Unit {
                match self {
                    $(Metric::$variant => Unit::$unit,)*
                }
            }
        }
    };
}

metrics! {
    /// A lock acquire granted.
    AcquireGranted = "AcquireGranted", Count;
    /// A lock acquire refused: held, or reserved for a longer waiter.
    AcquireRefused = "AcquireRefused", Count;
    /// A new lock name refused at the user's quota.
    AcquireQuotaRefused = "AcquireQuotaRefused", Count;
    /// A waiting acquire refused because every waiting place was taken (429).
    AcquireThrottled = "AcquireThrottled", Count;
    /// How long a waiting acquire (lock or permit) waited, granted or not.
    WaitTime = "WaitTime", Milliseconds;
    /// A waiting acquire whose wait ended without a grant.
    WaitTimedOut = "WaitTimedOut", Count;
    /// A renew of a lease that was no longer live.
    RenewLost = "RenewLost", Count;
    /// An unlock or release of a lease that was no longer live.
    StaleRelease = "StaleRelease", Count;
    /// A force release (of a lock, or of a semaphore's permits).
    ForceRelease = "ForceRelease", Count;
    /// A grant (of a lock or a permit) that took over a lease which had
    /// expired without a release.
    Takeover = "Takeover", Count;
    /// How long that lease had been expired when it was taken over.
    TakeoverExpiredFor = "TakeoverExpiredFor", Milliseconds;
    /// A lock or semaphore deleted.
    Delete = "Delete", Count;
    /// A key the authorizer allowed.
    AuthAllowed = "AuthAllowed", Count;
    /// A key the authorizer denied (the reason is a property).
    AuthDenied = "AuthDenied", Count;
    /// A DynamoDB call throttled (the SDK retried it or gave up).
    DynamoDbThrottled = "DynamoDbThrottled", Count;
    /// A DynamoDB write refused because a request in another Region wrote
    /// the same item at the same time (multi-Region tables; the SDK
    /// retried it or gave up, answering `503 WRITE_CONFLICT`).
    DynamoDbWriteConflict = "DynamoDbWriteConflict", Count;
    /// A conditional write whose condition failed, followed by another try
    /// (a lost race, a taken waiting place or permit slot, a new name).
    ConditionRetry = "ConditionRetry", Count;
    /// An acquire answered from its `Idempotency-Key`'s earlier grant.
    IdempotentReplay = "IdempotentReplay", Count;
    /// A permit acquire granted.
    PermitGranted = "PermitGranted", Count;
    /// A permit acquire refused: every permit held or reserved.
    PermitRefused = "PermitRefused", Count;
}

/// EMF's limits on one record (the specification's, checked by the tests).
pub const MAX_METRICS_PER_RECORD: usize = 100;
/// At most this many dimensions in one dimension set.
pub const MAX_DIMENSIONS: usize = 30;

/// What one invocation did: metric values, and properties that are not
/// dimensions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    values: Vec<(Metric, f64)>,
    properties: Map<String, Value>,
}

impl Record {
    /// Adds `amount` to `metric` (a count sums; a time keeps each value).
    fn add(&mut self, metric: Metric, amount: f64) {
        let same = self.values.iter_mut().find(|(m, _)| *m == metric);
        match (metric.unit(), same) {
            (Unit::Count, Some((_, total))) => *total += amount,
            _ => self.values.push((metric, amount)),
        }
    }

    /// The sum of `metric`'s values (0 if none was recorded).
    pub fn total(&self, metric: Metric) -> f64 {
        let values = self.values.iter().filter(|(m, _)| *m == metric);
        values.map(|(_, v)| v).sum()
    }

    /// Property `key`, if set.
    pub fn property(&self, key: &str) -> Option<&Value> {
        self.properties.get(key)
    }

    /// Whether anything was recorded.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The EMF document of this record for `function` in `namespace` at
    /// `timestamp_ms` (milliseconds since the epoch).
    pub fn to_emf(&self, namespace: &str, function: &str, timestamp_ms: u64) -> Value {
        let mut metrics: Vec<Metric> = self.values.iter().map(|(m, _)| *m).collect();
        metrics.sort();
        metrics.dedup();
        let definitions: Vec<Value> = metrics
            .iter()
            .take(MAX_METRICS_PER_RECORD)
            .map(|m| json!({ "Name": m.name(), "Unit": m.unit().name() }))
            .collect();
        let mut document = self.properties.clone();
        for metric in metrics {
            let values: Vec<f64> = self
                .values
                .iter()
                .filter(|(m, _)| *m == metric)
                .map(|(_, v)| *v)
                .collect();
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            document.insert(metric.name().to_owned(), value);
        }
        document.insert("Function".to_owned(), json!(function));
        document.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": namespace,
                    "Dimensions": [["Function"]],
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(document)
    }
}

tokio::task_local! {
    static RECORD: RefCell<Record>;
}

/// Adds one to `metric` in the current invocation's record (nothing outside
/// an [`Invocation::scope`]).
pub fn count(metric: Metric) {
    value(metric, 1.0);
}

/// Adds `amount` (a count) or one value (a time) to `metric`.
pub fn value(metric: Metric, amount: f64) {
    let _ = RECORD.try_with(|record| record.borrow_mut().add(metric, amount));
}

/// Sets property `key` of the current invocation's record (not a
/// dimension: the user id, a lock name, a reason).
pub fn property(key: &str, value: impl Into<Value>) {
    let value = value.into();
    let _ = RECORD.try_with(|record| {
        record.borrow_mut().properties.insert(key.to_owned(), value);
    });
}

/// Where and whether a function writes its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    /// The CloudWatch namespace (`METRICS_NAMESPACE`).
    pub namespace: String,
    /// The function, the one dimension.
    pub function: String,
    /// Off: nothing is gathered or written (`METRICS=off`).
    pub enabled: bool,
}

/// The namespace's setting, and its default.
pub const NAMESPACE_ENV: &str = "METRICS_NAMESPACE";
/// The on/off setting (`on` unless it says `off`).
pub const ENABLED_ENV: &str = "METRICS";
/// The namespace without a setting.
pub const DEFAULT_NAMESPACE: &str = "LockService";

impl Invocation {
    /// For `function` (the route registry's name, `acquire`, not the
    /// deployed one, so the dashboard names it without the stack's
    /// suffixes), with the namespace and the switch from the environment.
    pub fn from_env(function: &str) -> Self {
        let function = function.to_owned();
        let namespace = std::env::var(NAMESPACE_ENV)
            .ok()
            .filter(|ns| !ns.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        let enabled = std::env::var(ENABLED_ENV).map_or(true, |v| v != "off");
        Self {
            namespace,
            function,
            enabled,
        }
    }

    /// Runs `invocation`, gathering its record, and writes the record as one
    /// line on stdout if it holds any metric.
    pub async fn scope<T>(&self, invocation: impl Future<Output = T>) -> T {
        if !self.enabled {
            return invocation.await;
        }
        let (output, record) = gather(invocation).await;
        if !record.is_empty() {
            let line = record.to_emf(&self.namespace, &self.function, now_ms());
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
        }
        output
    }
}

/// Runs `invocation` with a record of its own: its output, and what it
/// recorded.
pub async fn gather<T>(invocation: impl Future<Output = T>) -> (T, Record) {
    RECORD
        .scope(RefCell::new(Record::default()), async {
            let output = invocation.await;
            (output, RECORD.with(RefCell::take))
        })
        .await
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `document` against the EMF specification's rules for one
    /// record (awslabs/aws-embedded-metrics specification).
    fn check_emf(document: &Value) {
        let aws = &document["_aws"];
        let timestamp = aws["Timestamp"]
            .as_u64()
            .expect("_aws.Timestamp, an integer");
        assert!(
            timestamp > 1_600_000_000_000,
            "Timestamp in ms: {timestamp}"
        );
        let directives = aws["CloudWatchMetrics"]
            .as_array()
            .expect("CloudWatchMetrics");
        assert_eq!(directives.len(), 1);
        for directive in directives {
            let namespace = directive["Namespace"].as_str().expect("Namespace");
            assert!(!namespace.is_empty() && namespace.len() <= 255);
            for set in directive["Dimensions"].as_array().expect("Dimensions") {
                let set = set.as_array().expect("a dimension set");
                assert!(!set.is_empty() && set.len() <= MAX_DIMENSIONS);
                for dimension in set {
                    let name = dimension.as_str().expect("a dimension name");
                    assert!(
                        document[name].is_string(),
                        "dimension {name} is a string member"
                    );
                }
            }
            let metrics = directive["Metrics"].as_array().expect("Metrics");
            assert!(metrics.len() <= MAX_METRICS_PER_RECORD);
            for metric in metrics {
                let name = metric["Name"].as_str().expect("Name");
                assert!(!name.is_empty() && name.len() <= 1024);
                let unit = metric["Unit"].as_str().expect("Unit");
                assert!(["Count", "Milliseconds"].contains(&unit));
                let value = &document[name];
                let numbers = match value {
                    Value::Array(values) => values.clone(),
                    one => vec![one.clone()],
                };
                assert!(
                    !numbers.is_empty() && numbers.len() <= 100,
                    "{name}: {value}"
                );
                assert!(numbers.iter().all(Value::is_number), "{name}: {value}");
            }
        }
    }

    #[test]
    fn every_metric_has_a_unique_name_and_a_unit() {
        let mut names: Vec<_> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
        assert!(Metric::ALL.len() <= MAX_METRICS_PER_RECORD);
    }

    #[test]
    fn a_record_of_every_metric_is_valid_emf() {
        let mut record = Record::default();
        for metric in Metric::ALL {
            record.add(*metric, 1.0);
            record.add(*metric, 2.0);
        }
        record.properties.insert("userId".into(), json!("u"));
        let document = record.to_emf("LockService", "acquire", 1_764_000_000_000);
        check_emf(&document);
        assert_eq!(document["AcquireGranted"], json!(3.0), "counts sum");
        assert_eq!(
            document["WaitTime"],
            json!([1.0, 2.0]),
            "times keep each value"
        );
        assert_eq!(document["Function"], "acquire");
        assert_eq!(document["userId"], "u", "a property, not a dimension");
        let dimensions = &document["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert_eq!(dimensions, &json!([["Function"]]));
    }

    #[tokio::test]
    async fn a_scope_gathers_what_its_invocation_counts_and_nothing_leaks_out() {
        count(Metric::AcquireGranted); // outside a scope: nothing, no panic
        let invocation = Invocation {
            namespace: "Test".into(),
            function: "acquire".into(),
            enabled: true,
        };
        let ((), record) = gather(async {
            count(Metric::AcquireRefused);
            value(Metric::WaitTime, 40.0);
            property("lockName", "l");
        })
        .await;
        assert_eq!(
            record.values,
            vec![(Metric::AcquireRefused, 1.0), (Metric::WaitTime, 40.0)]
        );
        assert_eq!(record.properties["lockName"], "l");
        assert_eq!(invocation.scope(async { 7 }).await, 7);
    }
}
