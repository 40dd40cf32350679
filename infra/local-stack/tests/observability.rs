//! The dashboard and alarms of `template.yaml` against the code, offline:
//! the dashboard body is JSON once CloudFormation has substituted it, every
//! variable it substitutes exists, every metric of the functions' namespace
//! it or an alarm names is one the code emits (`Metric::ALL`), under a
//! function that exists, every metric the code emits is on the dashboard,
//! and every alarm is "M out of N" with its missing data decided.

use std::collections::BTreeSet;

use local_stack::engine::repo_root;
use lock_service::lock_wire::{Route, AUTHORIZER_FUNCTION};
use lock_service::metrics::Metric;
use serde_json::Value as Json;
use serde_yaml_ng::Value;

/// What the test substitutes for the functions' namespace.
const NAMESPACE: &str = "TestNamespace";

fn template() -> Value {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    let resources = template["Resources"].as_mapping().unwrap();
    resources
        .iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .map(|(id, resource)| (id.as_str().unwrap(), resource))
        .collect()
}

/// The `Function` dimension's values: the registry's functions.
fn functions() -> BTreeSet<&'static str> {
    let mut names: BTreeSet<_> = Route::ALL.iter().map(|route| route.function()).collect();
    names.insert(AUTHORIZER_FUNCTION);
    names
}

fn emitted() -> BTreeSet<&'static str> {
    Metric::ALL.iter().map(|metric| metric.name()).collect()
}

/// The dashboard body as CloudFormation makes it: `!Sub [text, variables]`
/// with every `${X}` replaced, after checking that X is a variable of the
/// `!Sub`, a pseudo parameter, a parameter or a resource.
fn dashboard_body(template: &Value) -> String {
    let dashboards = resources_of_type(template, "AWS::CloudWatch::Dashboard");
    let [(_, dashboard)] = dashboards.as_slice() else {
        panic!("one dashboard, not {}", dashboards.len());
    };
    let Value::Tagged(sub) = &dashboard["Properties"]["DashboardBody"] else {
        panic!("DashboardBody is a !Sub");
    };
    assert_eq!(sub.tag, "Sub");
    let [text, variables] = sub.value.as_sequence().unwrap().as_slice() else {
        panic!("!Sub [text, variables]");
    };
    let mut known: BTreeSet<String> = ["AWS::Region", "AWS::StackName", "AWS::AccountId"]
        .map(String::from)
        .into();
    for section in ["Parameters", "Resources"] {
        let names = template[section].as_mapping().unwrap().keys();
        known.extend(names.map(|name| name.as_str().unwrap().to_owned()));
    }
    let variables = variables.as_mapping().unwrap();
    known.extend(
        variables
            .keys()
            .map(|name| name.as_str().unwrap().to_owned()),
    );
    let text = text.as_str().unwrap();
    let placeholder = regex_lite::Regex::new(r"\$\{([^}]*)\}").unwrap();
    for found in placeholder.captures_iter(text) {
        let name = &found[1];
        assert!(
            known.contains(name),
            "the dashboard substitutes unknown ${{{name}}}"
        );
    }
    placeholder
        .replace_all(text, |found: &regex_lite::Captures| match &found[1] {
            "Namespace" => NAMESPACE.to_owned(),
            "AWS::Region" => "eu-west-1".to_owned(),
            other => format!("{}-value", other.replace("::", "-")),
        })
        .into_owned()
}

/// One `metrics` entry of a widget with CloudWatch's shorthand expanded:
/// `"."` repeats the previous entry's element at that place, `"..."` all of
/// its elements but as many as follow. Options (the trailing object) and
/// expressions are left out; an expression entry gives `None`.
fn expand(entry: &[Json], previous: &[String]) -> Option<Vec<String>> {
    let elements: Vec<&str> = entry.iter().filter_map(Json::as_str).collect();
    if elements.is_empty() {
        return None;
    }
    if elements[0] == "..." {
        let rest = &elements[1..];
        let kept = previous
            .len()
            .checked_sub(rest.len())
            .expect("`...` after too short a metric");
        let mut expanded = previous[..kept].to_vec();
        expanded.extend(rest.iter().map(|e| (*e).to_owned()));
        return Some(expanded);
    }
    let expanded = elements
        .iter()
        .enumerate()
        .map(|(at, element)| match *element {
            "." => previous
                .get(at)
                .cloned()
                .expect("`.` with nothing above it"),
            other => other.to_owned(),
        })
        .collect();
    Some(expanded)
}

/// Every metric of the functions' namespace the widgets name: (metric,
/// function) for each explicit one, (metric, "") for a `SEARCH`.
fn dashboard_metrics(body: &Json) -> Vec<(String, String)> {
    let search =
        regex_lite::Regex::new(r#"SEARCH\('\{([^,]+),Function\} MetricName="(\w+)""#).unwrap();
    let mut found = Vec::new();
    for widget in body["widgets"].as_array().unwrap() {
        if widget["type"] != "metric" {
            continue;
        }
        let mut previous: Vec<String> = Vec::new();
        for entry in widget["properties"]["metrics"].as_array().unwrap() {
            let entry = entry.as_array().unwrap();
            let Some(metric) = expand(entry, &previous) else {
                let expression = entry[0]["expression"].as_str().expect("an expression");
                for hit in search.captures_iter(expression) {
                    assert_eq!(&hit[1], NAMESPACE, "{expression}");
                    found.push((hit[2].to_owned(), String::new()));
                }
                continue;
            };
            assert!(metric.len() >= 2 && metric.len() % 2 == 0, "{metric:?}");
            if metric[0] == NAMESPACE {
                assert_eq!(metric.len(), 4, "the one dimension, Function: {metric:?}");
                assert_eq!(metric[2], "Function", "{metric:?}");
                found.push((metric[1].clone(), metric[3].clone()));
            } else {
                assert!(
                    metric[0].starts_with("AWS/"),
                    "an unknown namespace: {metric:?}"
                );
            }
            previous = metric;
        }
    }
    found
}

#[test]
fn the_dashboard_is_json_and_names_only_and_all_the_metrics_the_code_emits() {
    let template = template();
    let body: Json = serde_json::from_str(&dashboard_body(&template))
        .unwrap_or_else(|e| panic!("the dashboard body is not JSON after substitution: {e}"));
    let widgets = body["widgets"].as_array().unwrap();
    assert!(widgets.len() >= 10, "{} widgets", widgets.len());
    let (emitted, functions) = (emitted(), functions());
    let named = dashboard_metrics(&body);
    for (metric, function) in &named {
        assert!(
            emitted.contains(metric.as_str()),
            "the code emits no {metric}"
        );
        assert!(
            function.is_empty() || functions.contains(function.as_str()),
            "{metric} under an unknown function {function}"
        );
    }
    let shown: BTreeSet<&str> = named.iter().map(|(metric, _)| metric.as_str()).collect();
    let missing: Vec<_> = emitted.difference(&shown).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
    let audit = widgets
        .iter()
        .find(|w| w["type"] == "log")
        .expect("an audit trail widget");
    let query = audit["properties"]["query"].as_str().unwrap();
    assert!(query.contains("filter ispresent(audit)"), "{query}");
}

/// Every function of the template is on each per-function Lambda widget
/// (errors, throttles, duration): a new function left off fails here.
#[test]
fn the_lambda_widgets_show_every_function() {
    let template = template();
    let body: Json = serde_json::from_str(&dashboard_body(&template)).unwrap();
    // Each function as the substituted body names it: `${Id}` becomes
    // `Id-value`; sign-up's, which may not exist, is the `!Sub` variable
    // `CreateUser`.
    let expected: BTreeSet<String> = resources_of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, _)| match id {
            "CreateUserFunction" => "CreateUser-value".to_owned(),
            id => format!("{id}-value"),
        })
        .collect();
    let titles = [
        "Lambda errors",
        "Lambda throttles",
        "Lambda duration p99 (ms)",
    ];
    for title in titles {
        let widget = body["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["properties"]["title"] == title)
            .unwrap_or_else(|| panic!("no widget {title:?}"));
        let mut previous: Vec<String> = Vec::new();
        let mut shown = BTreeSet::new();
        for entry in widget["properties"]["metrics"].as_array().unwrap() {
            let metric = expand(entry.as_array().unwrap(), &previous).expect("a metric");
            assert_eq!(metric[2], "FunctionName", "{title}: {metric:?}");
            shown.insert(metric[3].clone());
            previous = metric;
        }
        let missing: Vec<_> = expected.difference(&shown).collect();
        assert!(missing.is_empty(), "{title} lacks {missing:?}");
    }
}

/// The namespace an alarm's metric is in: a string for AWS's own, the
/// template's choice of the functions' namespace (an `!If`) otherwise.
fn is_own_namespace(namespace: &Value) -> bool {
    match namespace {
        Value::String(text) => {
            assert!(text.starts_with("AWS/"), "an alarm on namespace {text}");
            false
        }
        Value::Tagged(choice) => {
            assert_eq!(
                choice.tag, "If",
                "the functions' namespace, as the functions get it"
            );
            let args = choice.value.as_sequence().unwrap();
            assert_eq!(args[0].as_str(), Some("StackNamespace"));
            true
        }
        other => panic!("an alarm's namespace is {other:?}"),
    }
}

fn dimension_function(dimensions: &Value) -> Option<String> {
    let dimensions = dimensions.as_sequence()?;
    let [dimension] = dimensions.as_slice() else {
        panic!("the functions' metrics have one dimension: {dimensions:?}");
    };
    assert_eq!(dimension["Name"].as_str(), Some("Function"));
    dimension["Value"].as_str().map(str::to_owned)
}

#[test]
fn every_alarm_watches_metrics_that_exist_m_out_of_n_and_notifies_the_topic() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 7, "{} alarms", alarms.len());
    let (emitted, functions) = (emitted(), functions());
    let mut watched = BTreeSet::new();
    for (id, alarm) in &alarms {
        let props = &alarm["Properties"];
        let mut metrics = Vec::new();
        if !props["MetricName"].is_null() {
            metrics.push((
                &props["Namespace"],
                &props["MetricName"],
                &props["Dimensions"],
            ));
        }
        for query in props["Metrics"].as_sequence().into_iter().flatten() {
            let query = match query {
                // `!If [condition, query, !Ref AWS::NoValue]`.
                Value::Tagged(choice) => &choice.value.as_sequence().unwrap()[1],
                query => query,
            };
            let metric = &query["MetricStat"]["Metric"];
            if !metric.is_null() {
                metrics.push((
                    &metric["Namespace"],
                    &metric["MetricName"],
                    &metric["Dimensions"],
                ));
            }
        }
        assert!(!metrics.is_empty(), "{id} watches no metric");
        assert!(
            metrics.len() <= 10,
            "{id}: an alarm reads at most 10 metrics"
        );
        for (namespace, name, dimensions) in metrics {
            let name = name.as_str().unwrap();
            if is_own_namespace(namespace) {
                assert!(emitted.contains(name), "{id}: the code emits no {name}");
                let function = dimension_function(dimensions).expect("a Function");
                assert!(functions.contains(function.as_str()), "{id}: {function}");
                watched.insert(name.to_owned());
            }
        }
        let evaluated = props["EvaluationPeriods"].as_u64();
        let to_alarm = props["DatapointsToAlarm"].as_u64();
        if let (Some(n), Some(m)) = (evaluated, to_alarm) {
            assert!(m < n, "{id}: {m} out of {n}");
        }
        let missing = props["TreatMissingData"].as_str();
        let expected = if *id == "ApiSilentAlarm" {
            "breaching"
        } else {
            "notBreaching"
        };
        assert_eq!(missing, Some(expected), "{id}");
        for actions in ["AlarmActions", "OKActions"] {
            let Value::Tagged(choice) = &props[actions] else {
                panic!("{id}: {actions} follow AlarmTopicArn");
            };
            assert_eq!(choice.value[0].as_str(), Some("NotifyTopic"), "{id}");
        }
    }
    assert!(
        watched.contains(Metric::RenewLost.name()),
        "the lost-renewal alarm"
    );
    let silent = alarms
        .iter()
        .find(|(id, _)| *id == "ApiSilentAlarm")
        .expect("a dead-API alarm");
    assert_eq!(silent.1["Properties"]["MetricName"].as_str(), Some("Count"));
}

#[test]
fn the_functions_get_the_metrics_switch_and_namespace() {
    let template = template();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let switch = &variables[lock_service::metrics::ENABLED_ENV];
    let Value::Tagged(switch) = switch else {
        panic!("METRICS is !Ref Metrics: {switch:?}");
    };
    assert_eq!(switch.value.as_str(), Some("Metrics"));
    let allowed = template["Parameters"]["Metrics"]["AllowedValues"]
        .as_sequence()
        .unwrap();
    let allowed: Vec<_> = allowed.iter().filter_map(Value::as_str).collect();
    assert_eq!(allowed, ["on", "off"], "what Invocation::from_env reads");
    let Value::Tagged(namespace) = &variables[lock_service::metrics::NAMESPACE_ENV] else {
        panic!("METRICS_NAMESPACE is chosen by StackNamespace");
    };
    assert_eq!(namespace.value[0].as_str(), Some("StackNamespace"));
}
