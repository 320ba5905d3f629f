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

use rayon::prelude::*;

use crate::link::compare::{COMPARISONS, Pattern};
use crate::link::data::{Records, TokCol};
use crate::link::model::{MIN_PROBABILITY, Model};

/// Same-day pairs sampled to estimate each band's frequency (salted names).
const BAND_SAMPLE: usize = crate::link::train::u::SAME_DAY_SAMPLE;
/// Seed of that sample, so that linkage is repeatable.
const BAND_SAMPLE_SEED: u64 = 0x6261_6e64;
/// Fewest sampled pairs a band's estimate rests on.
const MIN_BAND_PAIRS: u64 = 200;

/// Frequencies of each token value, per adjustable comparison.
#[derive(Debug, Clone, Default)]
pub struct TermFrequencies {
    /// Per comparison in pattern order: frequency by token code (index = code), if adjustable.
    tables: Vec<Option<Vec<f64>>>,
}

/// The token column whose values comparison `k` adjusts by, if any: the exact name tokens.
/// Names salted with the date of birth are adjusted by their frequency band instead (see
/// [`TermFrequencies::count`]).
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
    ///
    /// Salted names (the `resistant` profile) are adjusted by their frequency band: for a pair
    /// agreeing on a name of band *b* the frequency to use is the average name frequency among
    /// such agreements, Σp²/Σp over the band's names. Σp of a band is the share of identities in
    /// it; Σp²/(Σp)² is the chance that two identities of the band, born on the same day and
    /// otherwise unalike, share the salted token — both counted without ever seeing a name.
    pub fn count(r: &Records, reps: &[u32], model: &Model) -> TermFrequencies {
        if r.salted_names {
            return TermFrequencies::by_band(r, reps, model);
        }
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

    fn by_band(r: &Records, reps: &[u32], model: &Model) -> TermFrequencies {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(BAND_SAMPLE_SEED);
        let same_day = crate::link::train::u::same_day_pairs(r, reps, BAND_SAMPLE, &mut rng);
        let tables = (0..COMPARISONS)
            .map(|k| {
                let adjusted = model.comparisons.get(k).is_some_and(|c| c.levels.iter().any(|l| l.term_frequency));
                let (bands, exact, other) = match k {
                    1 => (&r.name_bands[0], &r.given.0, 2),
                    2 => (&r.name_bands[1], &r.family.0, 1),
                    _ => return None,
                };
                if !adjusted || bands.iter().all(|&b| b == 0) {
                    return None;
                }
                let mut held = [0u64; 4];
                for &i in reps {
                    if exact.get(i as usize).is_some() {
                        held[bands[i as usize] as usize] += 1;
                    }
                }
                let present: u64 = held[1..].iter().sum();
                // Per band: sampled pairs, and those sharing the token.
                let (pairs, shared) = same_day
                    .par_chunks(65_536)
                    .map(|chunk| {
                        let (mut pairs, mut shared) = ([0u64; 4], [0u64; 4]);
                        for &(a, b) in chunk {
                            let (a, b) = (a as usize, b as usize);
                            let band = bands[a];
                            if band == 0 || band != bands[b] {
                                continue;
                            }
                            let (Some(x), Some(y)) = (exact.get(a), exact.get(b)) else { continue };
                            // Pairs alike elsewhere may be one person: keep those unalike on the
                            // other name and the postcode, as the u estimate does.
                            let p = crate::link::compare::pattern(r, a, b, crate::link::compare::Thresholds::default());
                            if p[other] != 6 || !(p[4] == 0 || p[4] == 4) {
                                continue;
                            }
                            pairs[band as usize] += 1;
                            shared[band as usize] += u64::from(x == y);
                        }
                        (pairs, shared)
                    })
                    .reduce(
                        || ([0u64; 4], [0u64; 4]),
                        |(p1, s1), (p2, s2)| {
                            (std::array::from_fn(|i| p1[i] + p2[i]), std::array::from_fn(|i| s1[i] + s2[i]))
                        },
                    );
                // Table index = band; a band too thin to estimate keeps the level's average u.
                let mut table = vec![0.0; 4];
                for b in 1..4 {
                    if pairs[b] >= MIN_BAND_PAIRS && present > 0 {
                        let share = held[b] as f64 / present as f64;
                        table[b] = (shared[b] as f64 / pairs[b] as f64) * share;
                    }
                }
                Some(table)
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
            // level is not an exact agreement. Salted names look their band up; a band without
            // an estimate (0) leaves the level's average u.
            let tf = |i: usize| {
                let key = if r.salted_names { Some(u32::from(r.name_bands[k - 1][i])) } else { col.get(i) };
                key.and_then(|c| table.get(c as usize)).copied().unwrap_or(0.0)
            };
            if r.salted_names && (tf(a) == 0.0 || tf(b) == 0.0) {
                continue;
            }
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
