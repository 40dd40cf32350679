//! One run's figures: a markdown table on stdout and the same as JSON.

use std::fmt::Write;

use serde::Serialize;

use crate::cycles::Cycles;
use crate::latency::{Latency, FLOOR};
use crate::load::Load;
use crate::operations::Counted;
use crate::stats::Spread;

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
}

fn ms(spread: &Spread) -> String {
    format!("{:.2} / {:.2}", spread.p50_ms, spread.p99_ms)
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
        out
    }

    fn calls_table(&self, w: &mut String) {
        if self.calls.is_empty() {
            return;
        }
        let _ = writeln!(
            w,
            "\n### DynamoDB calls per operation, counted at the wire\n"
        );
        let _ = writeln!(
            w,
            "| Operation | Function | Calls | Total |\n|---|---|---|---|"
        );
        for c in &self.calls {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                c.operation,
                c.function,
                c.describe(),
                c.total()
            );
        }
    }

    fn binaries_table(&self, w: &mut String) {
        if self.binaries.is_empty() {
            return;
        }
        let _ = writeln!(
            w,
            "\n### Function binaries under a Lambda Runtime API emulator\n"
        );
        let _ = writeln!(w, "| Function | `bootstrap` size | Cold init p50 / p99 (ms) | Runs | Peak RSS | CPU per warm invocation |\n|---|---|---|---|---|---|");
        for b in &self.binaries {
            let cpu = b
                .cpu_ms_per_invocation
                .map_or("–".into(), |ms| format!("{ms:.2} ms"));
            let _ = writeln!(
                w,
                "| {} | {:.2} MB | {} | {} | {:.1} MB | {cpu} |",
                b.function,
                b.bytes as f64 / 1e6,
                ms(&b.cold_init),
                b.cold_init.n,
                b.peak_rss_kib as f64 / 1024.0,
            );
        }
    }

    fn latency_table(&self, w: &mut String) {
        if self.latency.is_empty() {
            return;
        }
        let _ = writeln!(
            w,
            "\n### Warm latency: through the function vs the raw engine round trip\n"
        );
        let _ = writeln!(w, "| Operation | Function | Through the function p50 / p99 (ms) | Raw engine p50 / p99 (ms) | Added by the function, p50 (ms) | Of which beyond the floor (ms) | n |\n|---|---|---|---|---|---|---|");
        let floor = self
            .latency
            .iter()
            .find(|l| l.function == FLOOR.1)
            .map(|l| l.through_function.p50_ms);
        for l in &self.latency {
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
            let _ = writeln!(
                w,
                "| {} | {} | {} | {raw} | {added:.2} | {beyond} | {} |",
                l.operation,
                l.function,
                ms(&l.through_function),
                l.through_function.n
            );
        }
    }

    fn cycles_table(&self, w: &mut String) {
        if self.cycles.is_empty() {
            return;
        }
        let _ = writeln!(
            w,
            "\n### Sequential acquire + release cycles on one lock, same engine\n"
        );
        let _ = writeln!(
            w,
            "| Who | Cycles/s | DynamoDB calls per cycle |\n|---|---|---|"
        );
        for c in &self.cycles {
            let calls = c
                .calls_per_cycle
                .map_or("see above".into(), |n| format!("{n:.1}"));
            let _ = writeln!(w, "| {} | {:.0} | {} |", c.who, c.cycles_per_second, calls);
        }
    }

    fn load_table(&self, w: &mut String) {
        if self.load.is_empty() {
            return;
        }
        let raw_acquire = self
            .latency
            .iter()
            .find(|l| l.operation.starts_with("acquire (granted"))
            .map_or(f64::NAN, |l| l.raw_engine.p50_ms);
        let _ = writeln!(w, "\n### The local stack (`make dev`: debug builds under `cargo lambda watch`, the local gateway)\n");
        let _ = writeln!(w, "| Clients | Operations/s | acquire p50 / p99 (ms) | get p50 / p99 | unlock p50 / p99 | acquire p50 ÷ raw engine p50 | Errors |\n|---|---|---|---|---|---|---|");
        for l in &self.load {
            let _ = writeln!(
                w,
                "| {} | {:.0} | {} | {} | {} | {:.1}× | {} |",
                l.clients,
                l.operations_per_second,
                ms(&l.acquire),
                ms(&l.get),
                ms(&l.unlock),
                l.acquire.p50_ms / raw_acquire,
                l.errors
            );
        }
    }
}
