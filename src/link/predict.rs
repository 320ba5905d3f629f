//! Prediction: agreement patterns for candidate pairs, and their counts for training.

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::link::compare::{Comparisons, Pattern};
use crate::link::data::Records;

/// Patterns of candidate pairs (positions in `reps`), in pair order.
pub fn patterns(r: &Records, c: &Comparisons, reps: &[u32], pairs: &[(u32, u32)]) -> Vec<Pattern> {
    pairs.par_iter().map(|&(a, b)| c.pattern(r, reps[a as usize] as usize, reps[b as usize] as usize)).collect()
}

/// Distinct patterns and how many pairs have each, sorted.
pub fn pattern_counts(patterns: &[Pattern]) -> Vec<(Pattern, u64)> {
    let mut m: BTreeMap<Pattern, u64> = BTreeMap::new();
    for p in patterns {
        *m.entry(*p).or_default() += 1;
    }
    m.into_iter().collect()
}
