//! One run: its clients under its fault, then the checks of what they saw.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e::history::{is_linearizable, overlapping_holds, token_regressions, Outcome};
use local_stack::Stack;
use testkit::proxy::Faults;

use super::client::{Record, Resource, Run};
use super::faults::{inflict, injected_report, Backend, Fault};

/// One run of `clients` clients doing `cycles` grants each under `fault`;
/// its summary, or the violations found.
pub async fn run(
    stack: &Stack,
    backend: &Backend,
    fault: Fault,
    clients: usize,
    cycles: usize,
) -> Result<String, Vec<String>> {
    let run = prepare(stack, fault, clients).await?;
    let injected_before = backend.proxy.injected();
    backend.proxy.set(fault.proxy_faults());
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let clients_done = async {
        let tasks: Vec<_> = (0..clients)
            .map(|id| tokio::spawn(run.clone().client(id, clients, cycles)))
            .collect();
        let (mut panics, mut grants_told) = (Vec::new(), Vec::new());
        for task in tasks {
            match task.await {
                Ok(grants) => grants_told.push(grants),
                Err(e) => panics.push(format!("client panicked: {e}")),
            }
        }
        done.store(true, Ordering::SeqCst);
        (panics, grants_told)
    };
    let inflicting = inflict(fault, stack, backend, &done, &run.fault_struck);
    let ((panics, grants_told), inflicted) = tokio::join!(clients_done, inflicting);
    let elapsed = started.elapsed();
    backend.proxy.set(Faults::default());
    let injected = backend.proxy.injected().since(injected_before);

    let record = std::mem::take(&mut *run.record.lock().unwrap());
    let mut violations = panics;
    violations.extend(violations_in(&run, &record, &grants_told, cycles));
    let check_started = Instant::now();
    if !is_linearizable(&record.ops) {
        violations.push("the history is not linearizable against a mutex".into());
    }
    let check_time = check_started.elapsed();
    let last_token = record.holds.iter().map(|h| h.token).max().unwrap_or(0);
    violations.extend(run.check_final_state(last_token).await);

    let injected = injected_report(fault, injected, inflicted);
    if injected.is_none() {
        violations.push(format!("the {} fault was never injected", fault.name()));
    }
    let summary = summary(
        clients,
        &record,
        elapsed,
        &injected.unwrap_or_default(),
        check_time,
    );
    if violations.is_empty() {
        Ok(summary)
    } else {
        violations.insert(0, summary);
        Err(violations)
    }
}

/// A new user's run on its own lock, its key's authorizer decision cached
/// by one request first (rather than 128 first requests each starting an
/// authorizer instance).
async fn prepare(stack: &Stack, fault: Fault, clients: usize) -> Result<Arc<Run>, Vec<String>> {
    let base = &stack.base_url;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let key = stack.new_api_key().await.map_err(|e| vec![e])?;
    http.get(format!("{base}/v0/locks"))
        .bearer_auth(&key)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| vec![e.to_string()])?;
    Ok(Arc::new(Run {
        base: base.clone(),
        http,
        key,
        lock: format!("stress-{}-{clients}", fault.name()),
        fault,
        epoch: Instant::now(),
        resource: Resource::default(),
        record: Mutex::new(Record::default()),
        fault_struck: AtomicBool::new(!fault.is_timed()),
    }))
}

/// What the record and the guarded resource show that a lock must never
/// allow: errors, overlapping holds, fencing tokens out of order, lost or
/// stale updates, and grants that no client was told of (or told of and
/// not recorded), or a client short of its `cycles` without an error.
fn violations_in(run: &Run, record: &Record, grants_told: &[usize], cycles: usize) -> Vec<String> {
    let mut violations = record.errors.clone();
    violations.extend(record.reservations_too_long.iter().cloned());
    for (a, b) in overlapping_holds(&record.holds) {
        violations.push(format!("double grant: {a:?} overlaps {b:?}"));
    }
    for (a, b) in token_regressions(&record.holds) {
        violations.push(format!("fencing token did not increase: {a:?} then {b:?}"));
    }
    let grants = record.holds.len() as u64;
    let counter = run.resource.counter.load(Ordering::SeqCst);
    if counter != grants {
        violations.push(format!(
            "guarded counter is {counter} after {grants} grants: updates were lost"
        ));
    }
    let stale = run.resource.stale_writes.load(Ordering::SeqCst);
    if stale > 0 {
        violations.push(format!(
            "{stale} writes reached the resource with a stale fencing token"
        ));
    }
    let told: usize = grants_told.iter().sum();
    let short = grants_told.iter().any(|&grants| grants < cycles);
    if (grants != told as u64 || short) && record.errors.is_empty() {
        violations.push(format!(
            "{grants} grants, clients counted {grants_told:?} (at least {cycles} each)"
        ));
    }
    violations
}

/// The one line a run prints.
fn summary(
    clients: usize,
    record: &Record,
    elapsed: Duration,
    faults: &str,
    check_time: Duration,
) -> String {
    let refusals = record
        .ops
        .iter()
        .filter(|op| op.outcome == Outcome::Refused)
        .count();
    format!(
        "{clients} clients: {} grants, {refusals} refusals ({} of them while reserved), \
         {} operations in {:.1} s{faults}; \
         {} unclear answers retried ({} of them 504), {} unlocks answered false, \
         slowest clear answer {:.1} s; linearizability checked in {:.2} s",
        record.holds.len(),
        record.reserved_refusals,
        record.ops.len(),
        elapsed.as_secs_f64(),
        record.unclear,
        record.timeouts,
        record.unlocks_answered_false,
        record.slowest.as_secs_f64(),
        check_time.as_secs_f64()
    )
}
