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
use serde::{Deserialize, Serialize};
use std::hash::Hasher;

use crate::link::compare::{Col, Columns, View};
use crate::link::data::{Records, TokCol};

/// A column a blocking rule may use (named in configs as below, in snake case, or by an
/// identifier or string field's own name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(from = "String", into = "String")]
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
    /// An identifier or string field's exact token, by the field's name.
    Field(String),
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        match s.as_str() {
            "nhs_number" => Key::NhsNumber,
            "given_exact" => Key::GivenExact,
            "given_phonetic" => Key::GivenPhonetic,
            "family_exact" => Key::FamilyExact,
            "family_phonetic" => Key::FamilyPhonetic,
            "dob" => Key::Dob,
            "dob_year" => Key::DobYear,
            "postcode" => Key::Postcode,
            "postcode_district" => Key::PostcodeDistrict,
            _ => Key::Field(s),
        }
    }
}

impl From<Key> for String {
    fn from(k: Key) -> String {
        k.name().to_string()
    }
}

impl Key {
    /// The key's name in configs and reports.
    pub fn name(&self) -> &str {
        match self {
            Key::NhsNumber => "nhs_number",
            Key::GivenExact => "given_exact",
            Key::GivenPhonetic => "given_phonetic",
            Key::FamilyExact => "family_exact",
            Key::FamilyPhonetic => "family_phonetic",
            Key::Dob => "dob",
            Key::DobYear => "dob_year",
            Key::Postcode => "postcode",
            Key::PostcodeDistrict => "postcode_district",
            Key::Field(f) => f,
        }
    }

    /// Whether any record has this column.
    pub fn present(&self, r: &Records) -> bool {
        self.column(r).is_some_and(|c| c.codes.iter().any(|&c| c != 0))
    }

    /// The column this key reads, by name; `None` for a field no extract holds.
    pub fn col(&self, r: &Records) -> Option<Col> {
        Some(match self {
            Key::NhsNumber => Col::NHS,
            Key::GivenExact => Col::GIVEN,
            Key::GivenPhonetic => Col::GIVEN_PHONETIC,
            Key::FamilyExact => Col::FAMILY,
            Key::FamilyPhonetic => Col::FAMILY_PHONETIC,
            Key::Dob => Col::DOB[0],
            Key::DobYear => Col::DOB[3],
            Key::Postcode => Col::POSTCODE[0],
            Key::PostcodeDistrict => Col::POSTCODE[2],
            Key::Field(f) => Col::extra(r.extra(f)?),
        })
    }

    /// The token column; `None` for a field no extract declares.
    pub fn column<'a>(&self, r: &'a Records) -> Option<&'a TokCol> {
        Some(match self {
            Key::NhsNumber => &r.nhs,
            Key::GivenExact => &r.given.0,
            Key::GivenPhonetic => &r.given.1,
            Key::FamilyExact => &r.family.0,
            Key::FamilyPhonetic => &r.family.1,
            Key::Dob => &r.dob[0],
            Key::DobYear => &r.dob[3],
            Key::Postcode => &r.postcode[0],
            Key::PostcodeDistrict => &r.postcode[2],
            Key::Field(f) => &r.extras[r.extra(f)?].token,
        })
    }
}

/// The default rules for `r`: an exact rule on each identifier field the extracts hold, then
/// the standard ones, then each string field (an address line, a town) with either name's
/// phonetic code — when its values are varied enough to block on: at least
/// [`MIN_STRING_DISTINCT`] distinct values per record holding one, so that a field of a few
/// categories never makes blocks of thousands (rules on absent fields are left out when the
/// run starts).
pub fn default_rules_for(r: &Records) -> Vec<Vec<Key>> {
    use crate::config::FieldType;
    let mut rules: Vec<Vec<Key>> = r
        .extras
        .iter()
        .filter(|e| e.kind == Some(FieldType::Identifier))
        .map(|e| vec![Key::Field(e.name.clone())])
        .collect();
    rules.extend(default_rules());
    for e in r.extras.iter().filter(|e| e.kind == Some(FieldType::String)) {
        // Records, not rows: a row grouped elsewhere stands for its records.
        let present: u64 = (0..r.len()).filter(|&i| e.token.codes[i] != 0).map(|i| r.records_of(i)).sum();
        let distinct = e.token.codes.iter().copied().max().unwrap_or(0) as usize;
        if present > 0 && distinct as f64 >= MIN_STRING_DISTINCT * present as f64 {
            rules.push(vec![Key::Field(e.name.clone()), Key::GivenPhonetic]);
            rules.push(vec![Key::Field(e.name.clone()), Key::FamilyPhonetic]);
        }
    }
    rules
}

/// Distinct values per record holding one, below which a string field is not blocked on.
pub const MIN_STRING_DISTINCT: f64 = 0.1;

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
#[derive(Debug, Clone, Serialize, Deserialize)]
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

fn key_of<C: Columns + ?Sized>(r: &C, cols: &[Col], i: usize) -> Option<u64> {
    let mut h = FxHasher::default();
    for &c in cols {
        match r.code(c, i) {
            0 => return None,
            x => h.write_u32(x),
        }
    }
    Some(h.finish())
}

/// Whether entries `a` and `b` agree on every column of a rule (all present on both).
#[inline]
fn same<C: Columns + ?Sized>(r: &C, cols: &[Col], a: usize, b: usize) -> bool {
    cols.iter().all(|&c| {
        let x = r.code(c, a);
        x != 0 && x == r.code(c, b)
    })
}

/// Candidate pairs (identity positions, smaller first, sorted) and a report per rule.
pub type Candidates = (Vec<(u32, u32)>, Vec<RuleReport>);

/// Candidate pairs among `items` (record indices, one per identity; pairs are returned as
/// positions in `items`, smaller first, sorted) that `link_type` allows.
pub fn candidate_pairs(
    r: &Records,
    items: &[u32],
    rules: &[Vec<Key>],
    max_block: usize,
    max_pairs: u64,
    link_type: crate::link::LinkType,
) -> crate::error::Result<Candidates> {
    let mut all: Vec<(u32, u32)> = Vec::new();
    let mut reports = Vec::new();
    // A rule naming a column no extract holds finds no pairs (`usable_rules` refuses it first).
    let columns: Vec<Option<Vec<Col>>> =
        rules.iter().map(|rule| rule.iter().map(|k| k.col(r)).collect::<Option<Vec<Col>>>()).collect();
    // The identities' rows of every column the rules read, and their extracts: keys stream
    // through it, and each block's members are gathered from it once for all their pairs.
    let mut wanted = vec![Col::SOURCE];
    for c in columns.iter().flatten().flatten() {
        if !wanted.contains(c) {
            wanted.push(*c);
        }
    }
    let view = View::with_columns(r, &wanted, items);
    for (ri, rule) in rules.iter().enumerate() {
        let Some(cols) = &columns[ri] else {
            reports.push(RuleReport {
                rule: rule.clone(),
                pairs: 0,
                blocks_skipped: 0,
                pairs_skipped: 0,
                largest_block: 0,
            });
            continue;
        };
        let mut keyed: Vec<(u64, u32)> = (0..items.len())
            .into_par_iter()
            .filter_map(|pos| key_of(&view, cols, pos).map(|k| (k, pos as u32)))
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
                "blocking rule [{}] would add up to {} candidate pairs to the {} before it, more than the limit of {} \
                 (its largest block holds {} identities): the rules are too loose for these extracts, or blocks hold \
                 many unrelated records. Tighten the blocking rules, lower --max-block, or raise --max-pairs if this is \
                 expected",
                rule.iter().map(Key::name).collect::<Vec<_>>().join(", "),
                crate::error::group_digits(bound),
                crate::error::group_digits(all.len() as u64),
                crate::error::group_digits(max_pairs),
                report.largest_block
            )));
        }
        let earlier: Vec<&[Col]> = columns[..ri].iter().flatten().map(Vec::as_slice).collect();
        let pairs: Vec<(u32, u32)> = kept
            .par_iter()
            .flat_map_iter(|&(s, e)| {
                let block = &keyed[s..e];
                let rows = view.gather(block.iter().map(|&(_, pos)| pos as usize));
                let mut out = Vec::new();
                for x in 0..block.len() {
                    for y in x + 1..block.len() {
                        // A hash collision is not a match on the rule.
                        if !link_type.allows(rows.code(Col::SOURCE, x) as u16, rows.code(Col::SOURCE, y) as u16)
                            || !same(&rows, cols, x, y)
                            || earlier.iter().any(|e| same(&rows, e, x, y))
                        {
                            continue;
                        }
                        let (p, q) = (block[x].1, block[y].1);
                        out.push((p.min(q), p.max(q)));
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
