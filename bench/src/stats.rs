//! Percentiles of latency samples, in milliseconds.

use std::time::Duration;

use serde::Serialize;

/// p50 and p99 of some samples.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Spread {
    pub n: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Spread {
    /// Of `samples` (nearest-rank percentiles).
    pub fn of(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            if ms.is_empty() {
                return 0.0;
            }
            let index = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
            ms[index]
        };
        Self {
            n: ms.len(),
            p50_ms: rank(0.50),
            p99_ms: rank(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let spread = Spread::of(&samples);
        assert_eq!((spread.n, spread.p50_ms, spread.p99_ms), (100, 50.0, 99.0));
        assert_eq!(Spread::of(&[]).n, 0);
    }
}
