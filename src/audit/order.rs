//! Row order: whether adjacent rows share tokens more often than random order would make them.
//!
//! An extract written in the input's order keeps whatever order the export had: sorted by
//! surname, adjacent rows share the surname token far more often than chance (`Σ p²` for token
//! shares `p`). The ratio of the observed rate to that expectation is about 1 for a shuffled
//! extract and large for a sorted one.

use serde::Serialize;

/// Fewest equal adjacent pairs for a high ratio to count: below it, a small extract's ratio is
/// noise (three pairs where one and a half were expected).
pub const MIN_EQUAL_PAIRS: u64 = 20;

/// Adjacent-pair counts of one column, gathered row by row.
#[derive(Debug, Default)]
pub(crate) struct Adjacency {
    last: Option<u128>,
    pairs: u64,
    equal: u64,
    counts: rustc_hash::FxHashMap<u128, u64>,
}

impl Adjacency {
    /// The next row's token.
    pub(crate) fn push(&mut self, t: Option<u128>) {
        if let (Some(a), Some(b)) = (self.last, t) {
            self.pairs += 1;
            self.equal += u64::from(a == b);
        }
        if let Some(t) = t {
            *self.counts.entry(t).or_default() += 1;
        }
        self.last = t;
    }
}

/// One extract's column.
#[derive(Debug, Clone, Serialize)]
pub struct RowOrder {
    /// The extract.
    pub extract: String,
    /// The column.
    pub column: String,
    /// Adjacent pairs of rows both holding a value.
    pub pairs: u64,
    /// Of those, pairs holding the same value.
    pub equal: u64,
    /// The observed rate of equal adjacent values over the rate random order gives.
    pub ratio: f64,
}

impl RowOrder {
    pub(crate) fn of(extract: &str, column: &str, a: &Adjacency) -> RowOrder {
        let n: u64 = a.counts.values().sum();
        let expected: f64 = if n < 2 {
            0.0
        } else {
            a.counts.values().map(|&c| (c as f64 / n as f64) * ((c as f64 - 1.0) / (n as f64 - 1.0))).sum()
        };
        let observed = if a.pairs == 0 { 0.0 } else { a.equal as f64 / a.pairs as f64 };
        let ratio = if expected > 0.0 {
            observed / expected
        } else if observed > 0.0 {
            f64::INFINITY
        } else {
            1.0
        };
        RowOrder { extract: extract.to_string(), column: column.to_string(), pairs: a.pairs, equal: a.equal, ratio }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_rows_score_high_and_interleaved_rows_low() {
        let mut sorted = Adjacency::default();
        for t in 0..20u128 {
            for _ in 0..50 {
                sorted.push(Some(t));
            }
        }
        assert!(RowOrder::of("x", "c", &sorted).ratio > 10.0);
        let mut mixed = Adjacency::default();
        for i in 0..1_000u128 {
            mixed.push(Some((i * 7) % 20));
        }
        assert!(RowOrder::of("x", "c", &mixed).ratio < 1.0);
    }
}
