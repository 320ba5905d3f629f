//! Blocking: which pairs are compared at all.
//!
//! Each rule is a list of token columns; two records are a candidate pair under a rule when all
//! the rule's columns are present on both and equal. The rules are combined as a union without
//! duplicates: a pair found by rule k is kept only if no earlier rule also finds it (Splink's
//! approach), so the pairs per rule add up to the total. Blocks larger than `max_block` records
//! are skipped and reported: a very common surname with a common year of birth must not explode
//! the pair count silently.
//!
//! Default rules, chosen so that every single-field error in the synthetic population leaves at
//! least one rule intact: NHS number; date of birth + family name phonetic; date of birth +
//! given name phonetic; postcode + given name phonetic; given and family names + year of birth;
//! date of birth + postcode district.

use rayon::prelude::*;
use rustc_hash::FxHasher;
use serde::Serialize;
use std::hash::Hasher;

use crate::link::data::{Records, TokCol};

/// A column a blocking rule may use (named in configs as below, in snake case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// NHS-number token.
    NhsNumber,
    /// Given name, exact.
    GivenExact,
    /// Given name, phonetic.
    GivenPhonetic,
    /// Family name, exact.
    FamilyExact,
    /// Family name, phonetic.
    FamilyPhonetic,
    /// Full date of birth.
    Dob,
    /// Year of birth.
    DobYear,
    /// Full postcode.
    Postcode,
    /// Postcode district.
    PostcodeDistrict,
}

impl Key {
    /// Whether any record has this column.
    pub fn present(self, r: &Records) -> bool {
        self.column(r).codes.iter().any(|&c| c != 0)
    }

    fn column(self, r: &Records) -> &TokCol {
        match self {
            Key::NhsNumber => &r.nhs,
            Key::GivenExact => &r.given.0,
            Key::GivenPhonetic => &r.given.1,
            Key::FamilyExact => &r.family.0,
            Key::FamilyPhonetic => &r.family.1,
            Key::Dob => &r.dob[0],
            Key::DobYear => &r.dob[3],
            Key::Postcode => &r.postcode[0],
            Key::PostcodeDistrict => &r.postcode[2],
        }
    }
}

/// The default rules.
pub fn default_rules() -> Vec<Vec<Key>> {
    use Key::*;
    vec![
        vec![NhsNumber],
        vec![Dob, FamilyPhonetic],
        vec![Dob, GivenPhonetic],
        vec![Postcode, GivenPhonetic],
        vec![GivenExact, FamilyExact, DobYear],
        vec![Dob, PostcodeDistrict],
    ]
}

/// Default largest block compared.
pub const DEFAULT_MAX_BLOCK: usize = 1_000;

/// What one rule produced.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    /// The rule's columns.
    pub rule: Vec<Key>,
    /// New pairs (not found by an earlier rule).
    pub pairs: u64,
    /// Blocks skipped as too large.
    pub blocks_skipped: u64,
    /// Pairs those blocks would have held.
    pub pairs_skipped: u64,
    /// Largest block compared.
    pub largest_block: u64,
}

fn key_of(r: &Records, rule: &[Key], i: usize) -> Option<u64> {
    let mut h = FxHasher::default();
    for k in rule {
        h.write_u32(k.column(r).get(i)?);
    }
    Some(h.finish())
}

fn same(r: &Records, rule: &[Key], a: usize, b: usize) -> bool {
    rule.iter().all(|k| {
        let c = k.column(r);
        matches!((c.get(a), c.get(b)), (Some(x), Some(y)) if x == y)
    })
}

/// Candidate pairs (identity positions, smaller first, sorted) and a report per rule.
pub type Candidates = (Vec<(u32, u32)>, Vec<RuleReport>);

/// Candidate pairs among `items` (record indices, one per identity; pairs are returned as
/// positions in `items`, smaller first, sorted).
pub fn candidate_pairs(
    r: &Records,
    items: &[u32],
    rules: &[Vec<Key>],
    max_block: usize,
    max_pairs: u64,
) -> crate::error::Result<Candidates> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    let mut reports = Vec::new();
    for (ri, rule) in rules.iter().enumerate() {
        let mut keyed: Vec<(u64, u32)> = items
            .par_iter()
            .enumerate()
            .filter_map(|(pos, &rec)| key_of(r, rule, rec as usize).map(|k| (k, pos as u32)))
            .collect();
        keyed.par_sort_unstable();
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        let mut s = 0;
        while s < keyed.len() {
            let mut e = s + 1;
            while e < keyed.len() && keyed[e].0 == keyed[s].0 {
                e += 1;
            }
            if e - s > 1 {
                blocks.push((s, e));
            }
            s = e;
        }
        let mut report =
            RuleReport { rule: rule.clone(), pairs: 0, blocks_skipped: 0, pairs_skipped: 0, largest_block: 0 };
        let (kept, skipped): (Vec<_>, Vec<_>) = blocks.into_iter().partition(|(s, e)| e - s <= max_block);
        for (s, e) in &skipped {
            let n = (e - s) as u64;
            report.blocks_skipped += 1;
            report.pairs_skipped += n * (n - 1) / 2;
        }
        report.largest_block = kept.iter().map(|(s, e)| (e - s) as u64).max().unwrap_or(0);
        // Counted before a pair is made, so a crafted file of a few huge blocks is refused
        // before it can exhaust memory or time.
        let bound: u64 = kept.iter().map(|(s, e)| ((e - s) * (e - s - 1) / 2) as u64).sum();
        if all.len() as u64 + bound > max_pairs {
            return Err(crate::error::Error::check(format!(
                "blocking rule {rule:?} would add up to {} candidate pairs to the {} before it, more than the limit of {} \
                 (its largest block holds {} identities): the rules are too loose for these extracts, or blocks hold \
                 many unrelated records. Tighten the blocking rules, lower --max-block, or raise --max-pairs if this is \
                 expected",
                crate::error::group_digits(bound),
                crate::error::group_digits(all.len() as u64),
                crate::error::group_digits(max_pairs),
                report.largest_block
            )));
        }
        let earlier = &rules[..ri];
        let pairs: Vec<(u32, u32)> = kept
            .par_iter()
            .flat_map_iter(|&(s, e)| {
                let block = &keyed[s..e];
                let mut out = Vec::new();
                for x in 0..block.len() {
                    for y in x + 1..block.len() {
                        let (p, q) = (block[x].1.min(block[y].1), block[x].1.max(block[y].1));
                        let (a, b) = (items[p as usize] as usize, items[q as usize] as usize);
                        // A hash collision is not a match on the rule.
                        if !same(r, rule, a, b) || earlier.iter().any(|e| same(r, e, a, b)) {
                            continue;
                        }
                        out.push((p, q));
                    }
                }
                out
            })
            .collect();
        report.pairs = pairs.len() as u64;
        all.extend(pairs);
        reports.push(report);
    }
    all.par_sort_unstable();
    all.dedup();
    Ok((all, reports))
}
