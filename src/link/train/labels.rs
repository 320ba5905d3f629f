//! m probabilities from pairs the NHS numbers already link.
//!
//! Candidate pairs sharing a valid NHS-number token are, with rare exceptions (a number shared
//! in error), the same person: labels that cost nothing. The frequency of each level of every
//! *other* comparison among them estimates its m, and is EM's starting point. The assumption:
//! records with NHS numbers err in their other fields as records without do. Where the NHS
//! number is missing more often in messier sources (social care), this understates the error
//! rate a little; EM corrects it.

use crate::link::compare::{COMPARISONS, Pattern};
use crate::link::model::{MIN_PROBABILITY, Model};

/// Sets m of every comparison but the NHS number's from NHS-agreeing pairs; returns how many.
pub fn m_from_nhs_labels(model: &mut Model, patterns: &[(Pattern, u64)]) -> u64 {
    let mut counts = [[0u64; 8]; COMPARISONS];
    let mut labelled = 0u64;
    for (p, n) in patterns {
        if p[0] == 1 {
            labelled += n;
            for k in 1..COMPARISONS {
                counts[k][p[k] as usize] += n;
            }
        }
    }
    if labelled < 100 {
        return labelled;
    }
    for (k, comp) in model.comparisons.iter_mut().enumerate().skip(1) {
        let observed: u64 = counts[k][1..comp.levels.len()].iter().sum();
        if observed == 0 {
            continue;
        }
        for (l, level) in comp.levels.iter_mut().enumerate().skip(1) {
            level.m = (counts[k][l] as f64 / observed as f64).max(MIN_PROBABILITY);
        }
    }
    labelled
}
