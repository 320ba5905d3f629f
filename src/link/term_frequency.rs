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
//! Any comparison's exact level can be adjusted (names by default; identifiers and strings too,
//! where a shared value such as a care home's address line is weak evidence).
//!
//! Frequencies are counted over the distinct identities being linked (not over records, where a
//! GP extract's many encounters of one patient would inflate that patient's name), from the
//! tokens alone: a name's token says how common the name is in these extracts, never what the
//! name is. They are computed from the data of each run, so a model loaded with `--model`
//! adjusts to the population it is applied to.

use rayon::prelude::*;

use crate::link::compare::{Col, Columns, Comparisons, MAX_COMPARISONS, Pattern, Subject};
use crate::link::data::{Records, TokCol};
use crate::link::model::{MIN_PROBABILITY, Model};

/// Same-day pairs sampled to estimate each band's frequency (salted names).
const BAND_SAMPLE: usize = crate::link::train::u::SAME_DAY_SAMPLE;
/// Seed of that sample, so that linkage is repeatable.
const BAND_SAMPLE_SEED: u64 = 0x6261_6e64;
/// Fewest sampled pairs a band's estimate rests on.
const MIN_BAND_PAIRS: u64 = 200;

/// How one comparison's agreeing value is looked up.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Table {
    /// Frequency by token code (index = code).
    Tokens(Vec<f64>),
    /// Frequency by the name's band (index = band, 1–3; 0 where not estimated), for salted names
    /// (`which`: 0 given, 1 family).
    Bands { which: usize, by_band: Vec<f64> },
}

/// Frequencies of each token value, per adjustable comparison.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TermFrequencies {
    /// Per comparison in pattern order, if adjustable.
    tables: Vec<Option<Table>>,
}

/// The token column an exact level of `subject` compares.
fn column<'a>(r: &'a Records, subject: &Subject) -> Option<&'a TokCol> {
    Some(match subject {
        Subject::NhsNumber => &r.nhs,
        Subject::GivenName => &r.given.0,
        Subject::FamilyName => &r.family.0,
        Subject::DateOfBirth => &r.dob[0],
        Subject::Postcode => &r.postcode[0],
        Subject::Sex => return None,
        Subject::Field(f) => &r.extras[r.extra(f)?].token,
    })
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
    pub fn count(r: &Records, c: &Comparisons, reps: &[u32], model: &Model) -> TermFrequencies {
        let mut same_day: Option<Vec<(u32, u32)>> = None;
        let tables = c
            .defs
            .iter()
            .enumerate()
            .map(|(k, d)| {
                let adjusted = model.comparisons.get(k).is_some_and(|c| c.levels.iter().any(|l| l.term_frequency));
                if !adjusted {
                    return None;
                }
                let which = match d.subject {
                    Subject::GivenName => Some(0),
                    Subject::FamilyName => Some(1),
                    _ => None,
                };
                if let (true, Some(which)) = (r.salted_names, which) {
                    let pairs = same_day.get_or_insert_with(|| {
                        use rand::SeedableRng;
                        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(BAND_SAMPLE_SEED);
                        crate::link::train::u::same_day_pairs(r, reps, BAND_SAMPLE, &mut rng)
                    });
                    return by_band(r, c, reps, k, which, pairs);
                }
                let col = column(r, &d.subject)?;
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
                Some(Table::Tokens(counts.into_iter().map(|n| n as f64 / total).collect()))
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
    pub fn adjustments<C: Columns + ?Sized>(
        &self,
        model: &Model,
        c: &Comparisons,
        r: &C,
        a: usize,
        b: usize,
        p: Pattern,
    ) -> [f64; MAX_COMPARISONS] {
        let mut out = [0.0; MAX_COMPARISONS];
        for (k, table) in self.tables.iter().enumerate() {
            let Some(table) = table else { continue };
            let l = p.get(k) as usize;
            let level = &model.comparisons[k].levels[l];
            if l == 0 || !level.term_frequency {
                continue;
            }
            let f = match table {
                Table::Tokens(freq) => {
                    let Some(col) = tf_col(c, k) else { continue };
                    let tf = |i: usize| match r.code(col, i) {
                        0 => 0.0,
                        code => freq.get(code as usize).copied().unwrap_or(0.0),
                    };
                    tf(a).max(tf(b))
                }
                Table::Bands { which, by_band } => {
                    let tf = |i: usize| by_band.get(r.code(Col::BAND[*which], i) as usize).copied().unwrap_or(0.0);
                    if tf(a) == 0.0 || tf(b) == 0.0 {
                        continue;
                    }
                    tf(a).max(tf(b))
                }
            };
            out[k] = (level.u.max(MIN_PROBABILITY) / f.max(MIN_PROBABILITY)).log2();
        }
        out
    }
}

/// A model's term-frequency adjustments computed once per token, not once per pair:
/// `log2(u / f)` for each token's frequency `f` on each adjusted level. A pair's adjustment is
/// the smaller of its two tokens' (the more common token's), exactly as
/// [`TermFrequencies::adjustments`] computes it.
#[derive(Debug, Clone, Default)]
pub struct TfWeights {
    /// Per comparison: the column read and, per level, the adjustment by code (tokens) or by
    /// band (`None` for a band without a frequency: no adjustment).
    tables: Vec<Option<(Col, TfTable)>>,
}

#[derive(Debug, Clone)]
enum TfTable {
    Tokens(Vec<Option<Vec<f64>>>),
    Bands(Vec<Option<[Option<f64>; 4]>>),
}

impl TermFrequencies {
    /// The adjustments of `model`'s levels, per token ([`TfWeights`]).
    pub fn weights(&self, model: &Model, c: &Comparisons) -> TfWeights {
        let tables = self
            .tables
            .iter()
            .enumerate()
            .map(|(k, table)| {
                let table = table.as_ref()?;
                let levels = &model.comparisons.get(k)?.levels;
                let bits = |u: f64, f: f64| (u.max(MIN_PROBABILITY) / f.max(MIN_PROBABILITY)).log2();
                Some(match table {
                    Table::Tokens(freq) => {
                        let col = tf_col(c, k)?;
                        let by_level = levels
                            .iter()
                            .enumerate()
                            .map(|(l, level)| {
                                (l != 0 && level.term_frequency).then(|| {
                                    // Code 0 (missing) has frequency 0, as a code beyond the table.
                                    let mut g: Vec<f64> = freq.iter().map(|&f| bits(level.u, f)).collect();
                                    if g.is_empty() {
                                        g.push(bits(level.u, 0.0));
                                    }
                                    g
                                })
                            })
                            .collect();
                        (col, TfTable::Tokens(by_level))
                    }
                    Table::Bands { which, by_band } => {
                        let by_level = levels
                            .iter()
                            .enumerate()
                            .map(|(l, level)| {
                                (l != 0 && level.term_frequency).then(|| {
                                    std::array::from_fn(|b| {
                                        let f = by_band.get(b).copied().unwrap_or(0.0);
                                        (f != 0.0).then(|| bits(level.u, f))
                                    })
                                })
                            })
                            .collect();
                        (Col::BAND[*which], TfTable::Bands(by_level))
                    }
                })
            })
            .collect();
        TfWeights { tables }
    }
}

impl TfWeights {
    /// Per comparison (of `n`), whether any of its levels is adjusted.
    pub fn adjusted(&self, n: usize) -> Vec<bool> {
        (0..n).map(|k| matches!(self.tables.get(k), Some(Some(_)))).collect()
    }

    /// Each comparison's adjustment in bits for entries `a` and `b` with pattern `p`.
    #[inline]
    pub fn adjustments<C: Columns + ?Sized>(&self, r: &C, a: usize, b: usize, p: Pattern) -> [f64; MAX_COMPARISONS] {
        let mut out = [0.0; MAX_COMPARISONS];
        for (k, table) in self.tables.iter().enumerate() {
            let Some((col, table)) = table else { continue };
            let l = p.get(k) as usize;
            out[k] = match table {
                TfTable::Tokens(by_level) => {
                    let Some(Some(g)) = by_level.get(l) else { continue };
                    let at = |i: usize| g.get(r.code(*col, i) as usize).copied().unwrap_or(g[0]);
                    at(a).min(at(b))
                }
                TfTable::Bands(by_level) => {
                    let Some(Some(g)) = by_level.get(l) else { continue };
                    let at = |i: usize| g.get(r.code(*col, i) as usize).copied().flatten();
                    match (at(a), at(b)) {
                        (Some(x), Some(y)) => x.min(y),
                        _ => continue,
                    }
                }
            };
        }
        out
    }
}

/// The column whose token frequencies adjust comparison `k`'s exact level (as [`column`]).
fn tf_col(c: &Comparisons, k: usize) -> Option<Col> {
    Some(match c.defs[k].subject {
        Subject::NhsNumber => Col::NHS,
        Subject::GivenName => Col::GIVEN,
        Subject::FamilyName => Col::FAMILY,
        Subject::DateOfBirth => Col::DOB[0],
        Subject::Postcode => Col::POSTCODE[0],
        Subject::Sex => return None,
        Subject::Field(_) => Col::extra(c.extra_of(k)),
    })
}

fn by_band(
    r: &Records,
    c: &Comparisons,
    reps: &[u32],
    k: usize,
    which: usize,
    same_day: &[(u32, u32)],
) -> Option<Table> {
    let bands = &r.name_bands[which];
    let exact = column(r, &c.defs[k].subject)?;
    if bands.iter().all(|&b| b == 0) {
        return None;
    }
    let other = c.find(if which == 0 { &Subject::FamilyName } else { &Subject::GivenName })?;
    let unalike = crate::link::train::u::unalike_elsewhere(c);
    // Only the levels the filter reads: the other name's and the postcode's, not a whole pattern.
    let postcode = c.find(&Subject::Postcode);
    let elsewhere = |a: usize, b: usize| {
        let p = Pattern(0).with(other, c.level(other, r, a, b));
        postcode.map_or(p, |k| p.with(k, c.level(k, r, a, b)))
    };
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
                // Pairs alike elsewhere may be one person: keep those unalike on the other name
                // and the postcode, as the u estimate does.
                if !unalike(&elsewhere(a, b), other) {
                    continue;
                }
                pairs[band as usize] += 1;
                shared[band as usize] += u64::from(x == y);
            }
            (pairs, shared)
        })
        .reduce(
            || ([0u64; 4], [0u64; 4]),
            |(p1, s1), (p2, s2)| (std::array::from_fn(|i| p1[i] + p2[i]), std::array::from_fn(|i| s1[i] + s2[i])),
        );
    // Index = band; a band too thin to estimate keeps the level's average u.
    let mut by_band = vec![0.0; 4];
    for b in 1..4 {
        if pairs[b] >= MIN_BAND_PAIRS && present > 0 {
            let share = held[b] as f64 / present as f64;
            by_band[b] = (shared[b] as f64 / pairs[b] as f64) * share;
        }
    }
    Some(Table::Bands { which, by_band })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::compare::{Thresholds, default_comparisons};

    fn records(given: &[u32]) -> Records {
        let mut r = Records::default();
        r.given.0.codes = given.to_vec();
        r.given.1.codes = given.to_vec();
        r.family.0.codes = vec![0; given.len()];
        r.sex = vec![0; given.len()];
        r
    }

    #[test]
    fn per_token_weights_adjust_as_the_frequencies_do() {
        let r = records(&[1, 1, 1, 2, 2, 0, 3]);
        let c = Comparisons::resolve(default_comparisons(&r, Thresholds::default()), &r).unwrap();
        let model = c.start_model(0.01);
        let tf = TermFrequencies::count(&r, &c, &[0, 1, 2, 3, 4, 5, 6], &model);
        let w = tf.weights(&model, &c);
        for a in 0..7 {
            for b in 0..7 {
                for l in 0..model.comparisons[0].levels.len() as u8 {
                    let p = Pattern::from_levels(&[l]);
                    assert_eq!(w.adjustments(&r, a, b, p), tf.adjustments(&model, &c, &r, a, b, p), "{a} {b} {l}");
                }
            }
        }
        assert_ne!(w.adjustments(&r, 0, 1, Pattern::from_levels(&[1]))[0], 0.0);
    }

    #[test]
    fn rare_names_weigh_more_than_common_ones_and_only_on_adjusted_levels() {
        // Name 1 held by three identities of four, name 2 by one.
        let r = records(&[1, 1, 1, 2, 2]);
        let c = Comparisons::resolve(default_comparisons(&r, Thresholds::default()), &r).unwrap();
        assert_eq!(c.defs[0].subject, Subject::GivenName);
        let model = c.start_model(0.01);
        let u = model.comparisons[0].levels[1].u;
        let tf = TermFrequencies::count(&r, &c, &[0, 1, 2, 3], &model);
        let exact = Pattern::from_levels(&[1]);
        let common = tf.adjustments(&model, &c, &r, 0, 1, exact)[0];
        let rare = tf.adjustments(&model, &c, &r, 3, 4, exact)[0];
        assert!((common - (u / 0.75).log2()).abs() < 1e-12, "{common}");
        assert!((rare - (u / 0.25).log2()).abs() < 1e-12, "{rare}");
        assert!(rare - common > 1.5, "a name three times rarer is log2(3) bits stronger");
        // Phonetic agreement (level 3) is not adjusted; nor is anything without the flag.
        assert_eq!(tf.adjustments(&model, &c, &r, 0, 1, Pattern::from_levels(&[3]))[0], 0.0);
        let plain = model.clone().without_term_frequencies();
        assert!(!plain.uses_term_frequencies());
        let none = TermFrequencies::count(&r, &c, &[0, 1, 2, 3], &plain);
        assert_eq!(none.adjustments(&plain, &c, &r, 0, 1, exact), [0.0; MAX_COMPARISONS]);
    }
}
