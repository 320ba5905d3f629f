//! m probabilities from pairs the NHS numbers already link.
//!
//! Candidate pairs sharing a valid NHS-number token are, with rare exceptions (a number shared
//! in error), the same person: labels that cost nothing. The frequency of each level of every
//! *other* comparison among them estimates its m, and is EM's starting point. The assumption:
//! records with NHS numbers err in their other fields as records without do. Where the NHS
//! number is missing more often in messier sources (social care), this understates the error
//! rate a little; EM corrects it.

use crate::link::compare::{Comparisons, MAX_COMPARISONS, MAX_LEVELS, Pattern, Rule, Subject};
use crate::link::model::{MIN_PROBABILITY, Model};

/// Sets m of every comparison but the NHS number's from NHS-agreeing pairs; returns how many
/// (none without an NHS-number comparison).
pub fn m_from_nhs_labels(model: &mut Model, comparisons: &Comparisons, patterns: &[(Pattern, u64)]) -> u64 {
    let Some(nhs) = comparisons.find(&Subject::NhsNumber) else { return 0 };
    let exact = comparisons.defs[nhs].level_of(Rule::Exact).unwrap_or(1);
    let mut counts = [[0u64; MAX_LEVELS]; MAX_COMPARISONS];
    let mut labelled = 0u64;
    for (p, n) in patterns {
        if p.get(nhs) == exact {
            labelled += n;
            for (k, c) in counts.iter_mut().enumerate().take(comparisons.len()) {
                c[p.get(k) as usize] += n;
            }
        }
    }
    if labelled < 100 {
        return labelled;
    }
    for (k, comp) in model.comparisons.iter_mut().enumerate().filter(|(k, _)| *k != nhs) {
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
