//! One run's figures: a markdown table on stdout and the same as JSON.

use std::fmt::Write;

use serde::Serialize;

use crate::cycles::Cycles;
use crate::latency::{Latency, FLOOR};
use crate::load::Load;
use crate::operations::Counted;
use crate::stats::Spread;
use crate::waiting::{Waiting, TODAY_COST};

/// One function binary: size, cold init, peak RSS.
#[derive(Clone, Debug, Serialize)]
pub struct Binary {
    pub function: String,
    pub bytes: u64,
    pub cold_init: Spread,
    pub peak_rss_kib: u64,
    /// CPU per warm invocation (user + system), in ms, over the latency
    /// run; `None` for functions that run does not time.
    pub cpu_ms_per_invocation: Option<f64>,
}

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub date: String,
    pub profile: String,
    pub machine: String,
    pub calls: Vec<Counted>,
    pub binaries: Vec<Binary>,
    pub latency: Vec<Latency>,
    pub cycles: Vec<Cycles>,
    pub load: Vec<Load>,
    pub waiting: Option<Waiting>,
}

fn ms(spread: &Spread) -> String {
    format!("{:.2} / {:.2}", spread.p50_ms, spread.p99_ms)
}

/// Writes a markdown table under heading `title` (`header`: the column
/// names between ` | `), unless it has no rows.
fn table(w: &mut String, title: &str, header: &str, rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(w, "\n### {title}\n");
    let columns = header.split(" | ").count();
    let _ = writeln!(w, "| {header} |\n|{}", "---|".repeat(columns));
    for row in rows {
        let _ = writeln!(w, "| {} |", row.join(" | "));
    }
}

impl Report {
    /// The run as markdown: one table per part that ran.
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "Run of {} ({} binaries) on {}.\n",
            self.date, self.profile, self.machine
        );
        self.calls_table(&mut out);
        self.binaries_table(&mut out);
        self.latency_table(&mut out);
        self.cycles_table(&mut out);
        self.load_table(&mut out);
        if let Some(waiting) = &self.waiting {
            waiting_tables(&mut out, waiting);
        }
        out
    }

    fn calls_table(&self, w: &mut String) {
        let rows = self.calls.iter().map(|c| {
            let total = c.total().to_string();
            vec![c.operation.clone(), c.function.clone(), c.describe(), total]
        });
        let header = "Operation | Function | Calls | Total";
        let title = "DynamoDB calls per operation, counted at the wire";
        table(w, title, header, rows.collect());
    }

    fn binaries_table(&self, w: &mut String) {
        let rows = self.binaries.iter().map(|b| {
            let cpu = b
                .cpu_ms_per_invocation
                .map_or("–".into(), |ms| format!("{ms:.2} ms"));
            vec![
                b.function.clone(),
                format!("{:.2} MB", b.bytes as f64 / 1e6),
                ms(&b.cold_init),
                b.cold_init.n.to_string(),
                format!("{:.1} MB", b.peak_rss_kib as f64 / 1024.0),
                cpu,
            ]
        });
        let header = "Function | `bootstrap` size | Cold init p50 / p99 (ms) | Runs | Peak RSS | CPU per warm invocation";
        let title = "Function binaries under a Lambda Runtime API emulator";
        table(w, title, header, rows.collect());
    }

    fn latency_table(&self, w: &mut String) {
        let floor = self
            .latency
            .iter()
            .find(|l| l.function == FLOOR.1)
            .map(|l| l.through_function.p50_ms);
        let rows = self.latency.iter().map(|l| {
            let added = l.through_function.p50_ms - l.raw_engine.p50_ms;
            let beyond = match floor {
                Some(floor) if l.function != FLOOR.1 => format!("{:.2}", added - floor),
                _ => "–".into(),
            };
            let raw = if l.raw_engine.n == 0 {
                "–".into()
            } else {
                ms(&l.raw_engine)
            };
            let through = ms(&l.through_function);
            let n = l.through_function.n.to_string();
            let (operation, function) = (l.operation.to_owned(), l.function.to_owned());
            vec![
                operation,
                function,
                through,
                raw,
                format!("{added:.2}"),
                beyond,
                n,
            ]
        });
        let header = "Operation | Function | Through the function p50 / p99 (ms) | Raw engine p50 / p99 (ms) | Added by the function, p50 (ms) | Of which beyond the floor (ms) | n";
        let title = "Warm latency: through the function vs the raw engine round trip";
        table(w, title, header, rows.collect());
    }

    fn cycles_table(&self, w: &mut String) {
        let rows = self.cycles.iter().map(|c| {
            let calls = c
                .calls_per_cycle
                .map_or("see above".into(), |n| format!("{n:.1}"));
            vec![c.who.clone(), format!("{:.0}", c.cycles_per_second), calls]
        });
        let header = "Who | Cycles/s | DynamoDB calls per cycle";
        let title = "Sequential acquire + release cycles on one lock, same engine";
        table(w, title, header, rows.collect());
    }

    fn load_table(&self, w: &mut String) {
        let raw_acquire = self
            .latency
            .iter()
            .find(|l| l.operation.starts_with("acquire (granted"))
            .map_or(f64::NAN, |l| l.raw_engine.p50_ms);
        let rows = self.load.iter().map(|l| {
            vec![
                l.clients.to_string(),
                format!("{:.0}", l.operations_per_second),
                ms(&l.acquire),
                ms(&l.get),
                ms(&l.unlock),
                format!("{:.1}×", l.acquire.p50_ms / raw_acquire),
                l.errors.to_string(),
            ]
        });
        let header = "Clients | Operations/s | acquire p50 / p99 (ms) | get p50 / p99 | unlock p50 / p99 | acquire p50 ÷ raw engine p50 | Errors";
        let title = "The local stack (`make dev`: debug builds under `cargo lambda watch`, the local gateway)";
        table(w, title, header, rows.collect());
    }
}

/// Handoffs, the starved waiter and the cost of waiting, each beside its target.
fn waiting_tables(w: &mut String, waiting: &Waiting) {
    let rows = waiting.handoffs.iter().map(|h| {
        vec![
            h.waiters.to_string(),
            h.handoff.n.to_string(),
            ms(&h.handoff),
            format!("{:.1}", h.max_ms),
            h.regrabbed.to_string(),
        ]
    });
    let header = "Waiters | Handoffs | Release answered → next grant answered, p50 / p99 (ms) | Max (ms) | Grants back to the releaser";
    let title = "Handoff to a waiter (target: p50 ≤ 50 ms, p99 ≤ 150 ms)";
    table(w, title, header, rows.collect());
    let s = &waiting.starvation;
    let times: Vec<String> = s
        .grants_s
        .iter()
        .map(|t| t.map_or("none in 20 s".into(), |t| format!("{t:.2}")))
        .collect();
    let row = vec![
        s.loopers.to_string(),
        s.grants_s.len().to_string(),
        s.within(1.0).to_string(),
        s.within(3.0).to_string(),
        times.join(", "),
    ];
    let header = "Looping clients | Tries | Granted within 1 s | Within 3 s | Each try's grant (s)";
    let title = "One waiter against clients looping acquire/release (target: within 1 s in 19 of 20, within 3 s in all)";
    table(w, title, header, vec![row]);
    let rows = waiting.costs.iter().map(|c| {
        let today = TODAY_COST
            .iter()
            .find(|(wait, _)| *wait == c.wait_seconds)
            .map(|(_, dollars)| *dollars);
        let ratio = today.map_or("–".into(), |t| format!("{:.2}×", c.dollars / t));
        let today = today.map_or("–".into(), |t| format!("${:.2} µ", t * 1e6));
        vec![
            format!("{} s", c.wait_seconds),
            format!("{:.2}", c.elapsed_s),
            c.reads.to_string(),
            c.writes.to_string(),
            format!("${:.2} µ", c.dollars * 1e6),
            format!("${:.2} µ", c.dollars * 1e6 / c.wait_seconds as f64),
            today,
            ratio,
        ]
    });
    let header = "Wait | Took (s) | Reads | Writes | Cost (Lambda + DynamoDB) | Per waiting second | Polling by writes (160cc53) | Ratio";
    let title = "One waiting acquire never granted: its DynamoDB calls and cost on AWS (target: ≤ 1.5× polling by writes)";
    table(w, title, header, rows.collect());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_has_its_heading_header_separator_and_rows_or_nothing() {
        let mut out = String::new();
        table(&mut out, "T", "A | B", vec![vec!["1".into(), "2".into()]]);
        assert_eq!(out, "\n### T\n\n| A | B |\n|---|---|\n| 1 | 2 |\n");
        let mut empty = String::new();
        table(&mut empty, "T", "A | B", Vec::new());
        assert_eq!(empty, "");
    }
}
