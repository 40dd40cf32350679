//! Two indexes over time intervals that make the checks linear-logarithmic
//! instead of quadratic in a history of a million operations.

/// Intervals sorted by their start, with the running maximum of their ends.
pub(super) struct Reach {
    starts: Vec<u64>,
    max_end: Vec<u64>,
}

impl Reach {
    pub(super) fn new(mut intervals: Vec<(u64, u64)>) -> Self {
        intervals.sort_unstable();
        let starts = intervals.iter().map(|i| i.0).collect();
        let max_end = intervals
            .iter()
            .scan(0, |max, i| {
                *max = (*max).max(i.1);
                Some(*max)
            })
            .collect();
        Self { starts, max_end }
    }

    /// Whether some interval starts at or before `at` and ends at or after `until`.
    pub(super) fn any(&self, at: u64, until: u64) -> bool {
        let n = self.starts.partition_point(|&s| s <= at);
        n > 0 && self.max_end[n - 1] >= until
    }
}

/// Keys sorted, with the minimum of the values from each key on.
pub(super) struct LeastAfter {
    keys: Vec<u64>,
    least: Vec<u64>,
}

impl LeastAfter {
    pub(super) fn new(mut pairs: Vec<(u64, u64)>) -> Self {
        pairs.sort_unstable();
        let mut least: Vec<u64> = pairs.iter().map(|p| p.1).collect();
        for i in (0..least.len().saturating_sub(1)).rev() {
            least[i] = least[i].min(least[i + 1]);
        }
        Self {
            keys: pairs.iter().map(|p| p.0).collect(),
            least,
        }
    }

    /// The least value of a key above `key`.
    pub(super) fn after(&self, key: u64) -> u64 {
        let i = self.keys.partition_point(|&k| k <= key);
        self.least.get(i).copied().unwrap_or(u64::MAX)
    }
}
