//! `template.yaml` against the code: the routes, tables, table variables and
//! permissions that `sam deploy` creates must be the ones the code and the
//! local stack use. Any drift fails here.
//!
//! - `routes`: the route registry, the open routes, `SignupMode`;
//! - `functions`: the binaries, the tables, each function's least privilege;
//! - `settings`: the operator's limits, throttles, access logs and WAF.

mod functions;
mod routes;
mod settings;

use std::collections::{BTreeMap, BTreeSet};

use local_stack::engine::repo_root;
use local_stack::template::Template;
use lock_service::config::{API_KEYS_TABLE_ENV, LOCKS_TABLE_ENV};
use lock_service::schema::{API_KEYS_SPEC, LOCKS_SPEC, TTL_ATTRIBUTE};
use serde_yaml_ng::Value;

fn template_text() -> String {
    std::fs::read_to_string(repo_root().join("template.yaml")).unwrap()
}

fn template() -> Template {
    Template::parse(&template_text()).unwrap()
}

/// The function binaries: one file each in `functions/src/bin/`.
fn function_binaries() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("functions/src/bin"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|file| file.strip_suffix(".rs").map(str::to_owned))
        .collect();
    names.sort();
    names
}
