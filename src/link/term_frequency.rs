//! Term-frequency adjustment: agreeing on a rare name is stronger evidence than agreeing on a
//! common one.
//!
//! The model's u for "given names agree exactly" is an average over all names. Two records that
//! share the given name OLIVER are more likely to be one person than two that share MOHAMMED in a
//! population where MOHAMMED is ten times as common. As in Splink, the u of a term-frequency
//! adjusted level is replaced, pair by pair, by the frequency of the agreeing value, so the
//! level's weight becomes `log2(m / tf)` instead of `log2(m / u)`; the adjustment
//! `log2(u / tf)` is reported separately so that every decision stays explainable.
//!
//! Frequencies are counted over the distinct identities being linked (not over records, where a
//! GP extract's many encounters of one patient would inflate that patient's name), from the
//! tokens alone: a name's token says how common the name is in these extracts, never what the
//! name is. They are computed from the data of each run, so a model loaded with `--model`
//! adjusts to the population it is applied to.

use crate::link::compare::{COMPARISONS, Pattern};
use crate::link::data::{Records, TokCol};
use crate::link::model::{MIN_PROBABILITY, Model};

/// Frequencies of each token value, per adjustable comparison.
#[derive(Debug, Clone, Default)]
pub struct TermFrequencies {
    /// Per comparison in pattern order: frequency by token code (index = code), if adjustable.
    tables: Vec<Option<Vec<f64>>>,
}

/// The token column whose values comparison `k` adjusts by, if any: the exact name tokens.
fn column(r: &Records, k: usize) -> Option<&TokCol> {
    match k {
        1 => Some(&r.given.0),
        2 => Some(&r.family.0),
        _ => None,
    }
}

impl TermFrequencies {
    /// Counts value frequencies among the identities `reps` for every comparison of `model`
    /// that has a term-frequency adjusted level.
    pub fn count(r: &Records, reps: &[u32], model: &Model) -> TermFrequencies {
        let tables = (0..COMPARISONS)
            .map(|k| {
                let adjusted = model.comparisons.get(k).is_some_and(|c| c.levels.iter().any(|l| l.term_frequency));
                let col = column(r, k).filter(|_| adjusted)?;
                let mut counts: Vec<u32> = Vec::new();
                let mut present = 0u64;
                for &i in reps {
                    if let Some(c) = col.get(i as usize) {
                        let c = c as usize;
                        if counts.len() <= c {
                            counts.resize(c + 1, 0);
                        }
                        counts[c] += 1;
                        present += 1;
                    }
                }
                let total = present.max(1) as f64;
                Some(counts.into_iter().map(|n| n as f64 / total).collect())
            })
            .collect();
        TermFrequencies { tables }
    }

    /// No adjustment at all.
    pub fn none() -> TermFrequencies {
        TermFrequencies::default()
    }

    /// The adjustment in bits, per comparison, for records `a` and `b` with pattern `p`:
    /// `log2(u / tf)` on a term-frequency adjusted level, 0 elsewhere.
    pub fn adjustments(&self, model: &Model, r: &Records, a: usize, b: usize, p: &Pattern) -> [f64; COMPARISONS] {
        let mut out = [0.0; COMPARISONS];
        for (k, table) in self.tables.iter().enumerate() {
            let (Some(table), Some(col)) = (table, column(r, k)) else { continue };
            let level = &model.comparisons[k].levels[p[k] as usize];
            if p[k] == 0 || !level.term_frequency {
                continue;
            }
            // The larger of the two sides' frequencies, as Splink does: conservative when the
            // level is not an exact agreement.
            let tf = |i: usize| col.get(i).and_then(|c| table.get(c as usize)).copied().unwrap_or(0.0);
            let f = tf(a).max(tf(b)).max(MIN_PROBABILITY);
            out[k] = (level.u.max(MIN_PROBABILITY) / f).log2();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::compare::default_comparisons;

    fn records(given: &[u32]) -> Records {
        let mut r = Records::default();
        r.given.0.codes = given.to_vec();
        r.family.0.codes = vec![0; given.len()];
        r
    }

    #[test]
    fn rare_names_weigh_more_than_common_ones_and_only_on_adjusted_levels() {
        // Name 1 held by three identities of four, name 2 by one.
        let r = records(&[1, 1, 1, 2, 2]);
        let model = Model::new(0.01, default_comparisons());
        let u = model.comparisons[1].levels[1].u;
        let tf = TermFrequencies::count(&r, &[0, 1, 2, 3], &model);
        let exact: Pattern = [0, 1, 0, 0, 0, 0];
        let common = tf.adjustments(&model, &r, 0, 1, &exact)[1];
        let rare = tf.adjustments(&model, &r, 3, 4, &exact)[1];
        assert!((common - (u / 0.75).log2()).abs() < 1e-12, "{common}");
        assert!((rare - (u / 0.25).log2()).abs() < 1e-12, "{rare}");
        assert!(rare - common > 1.5, "a name three times rarer is log2(3) bits stronger");
        // Phonetic agreement (level 3) is not adjusted; nor is anything without the flag.
        assert_eq!(tf.adjustments(&model, &r, 0, 1, &[0, 3, 0, 0, 0, 0])[1], 0.0);
        let plain = model.clone().without_term_frequencies();
        assert!(!plain.uses_term_frequencies());
        let none = TermFrequencies::count(&r, &[0, 1, 2, 3], &plain);
        assert_eq!(none.adjustments(&plain, &r, 0, 1, &exact), [0.0; COMPARISONS]);
    }
}
