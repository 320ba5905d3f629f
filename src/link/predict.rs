//! Prediction: agreement patterns for candidate pairs, and their counts for training.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::link::compare::{Comparisons, Pattern, View};

/// Patterns of candidate pairs (identity positions, entries of `view`), in pair order.
pub fn patterns(view: &View, c: &Comparisons, pairs: &[(u32, u32)]) -> Vec<Pattern> {
    let mut out = vec![Pattern(0); pairs.len()];
    out.par_chunks_mut(1 << 14).zip(pairs.par_chunks(1 << 14)).for_each(|(out, pairs)| {
        view.for_each_pair(pairs, |j, rows| out[j] = c.pattern(rows, 0, 1));
    });
    out
}

/// Distinct patterns and how many pairs have each, sorted.
pub fn pattern_counts(patterns: &[Pattern]) -> Vec<(Pattern, u64)> {
    let mut m: BTreeMap<Pattern, u64> = BTreeMap::new();
    for p in patterns {
        *m.entry(*p).or_default() += 1;
    }
    m.into_iter().collect()
}
