//! Likely duplicate registrations within one extract, found at the provider while the plaintext
//! is still there — the one place it legitimately is.
//!
//! A duplicate registration is one person registered twice by one provider: a temporary number
//! given when the patient was not traced, an unmerged record, a second record made with the
//! names the wrong way round. They are a leading data-quality problem of GP and hospital systems,
//! and fixing them at source helps every linkage downstream. The TRE's linker finds many of them
//! too, but only the provider can fix them.
//!
//! The check works on *profiles* — the distinct combinations of NHS number, given and family
//! name, date of birth and sex — so that one patient's hundred identical encounters are one
//! profile. Two profiles are a likely duplicate registration when
//! - their dates of birth agree exactly,
//! - they do not hold the same valid NHS number (two numbers, or one or both without one: a
//!   profile sharing a valid number with another is one registration spelt two ways),
//! - their sexes do not disagree (when both are recorded), and
//! - their names are close: given and family name each at least [`CLOSE`] by Jaro–Winkler
//!   similarity (the `strsim` crate), or the two names swapped with that closeness.
//!
//! Profiles are compared only within blocks of one date of birth and one initial (of either
//! name, so swapped names meet), which keeps the work near-linear; a block of more than
//! [`MAX_BLOCK`] profiles (a default date such as 1900-01-01) is passed over and counted, and
//! names longer than [`MAX_NAME_BYTES`] are not compared: both bound the work whatever the input.
//!
//! Only row numbers leave: the quality report counts the pairs, and the issues file lists each
//! pair by the first rows of its two profiles. Names are held in memory, interned, and zeroised
//! when the check ends; NHS numbers only as a keyed 64-bit hash under a key made for the run.

use std::collections::HashMap;
use std::hash::BuildHasher;

use arrow_array::Array;
use zeroize::Zeroize;

use crate::config::FieldType;
use crate::encode::Outcome;
use crate::encode::date::parse_date;
use crate::encode::name::normalise_name;
use crate::io::InputBatch;
use crate::tokenise::plan::{Encoder, Plan};

/// Least Jaro–Winkler similarity of two names for them to count as close.
pub const CLOSE: f64 = 0.9;
/// Most profiles in a block compared pairwise; larger blocks are passed over and counted.
pub const MAX_BLOCK: usize = 200;
/// Longest normalised name compared, in bytes: Jaro–Winkler costs the product of two names'
/// lengths, and no real name is longer.
pub const MAX_NAME_BYTES: usize = 64;

/// The reason code of a likely duplicate registration in the issues file.
pub const REASON: &str = "likely_duplicate_registration";

/// The fields the check reads, as indices into the plan's fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    given: usize,
    family: usize,
    dob: usize,
    nhs: Option<usize>,
    sex: Option<usize>,
}

impl Fields {
    /// The fields of `plan`, when it has a given name, a family name and a date of birth.
    pub(crate) fn of(plan: &Plan) -> Option<Fields> {
        let find = |kind: FieldType| plan.fields.iter().position(|f| f.kind == kind);
        Some(Fields {
            given: find(FieldType::GivenName)?,
            family: find(FieldType::FamilyName)?,
            dob: find(FieldType::DateOfBirth)?,
            nhs: find(FieldType::NhsNumber),
            sex: find(FieldType::Sex),
        })
    }
}

/// One row as the check sees it. Names are codes into the chunk's (then the run's) name table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    dob: i32,
    given: u32,
    family: u32,
    /// Keyed hash of a valid NHS number; 0 when there is none.
    nhs: u64,
    /// 0 when not recorded.
    sex: u8,
    row: u64,
}

/// One chunk's rows with a usable date of birth and both names, and the names they use.
#[derive(Debug, Default)]
pub(crate) struct ChunkRows {
    rows: Vec<Row>,
    names: Vec<String>,
}

impl Drop for ChunkRows {
    fn drop(&mut self) {
        self.names.iter_mut().for_each(Zeroize::zeroize);
    }
}

/// The run's key for NHS-number hashes: made once per process, never stored.
fn nhs_hasher() -> &'static std::hash::RandomState {
    static KEY: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    KEY.get_or_init(std::hash::RandomState::new)
}

/// Reads rows `start..end` of `batch` for the check.
pub(crate) fn chunk_rows(plan: &Plan, fields: Fields, batch: &InputBatch, start: usize, end: usize) -> ChunkRows {
    let mut out = ChunkRows::default();
    let mut index: HashMap<String, u32> = HashMap::new();
    let (mut text, mut parts) = (String::new(), Vec::new());
    let value = |field: usize, r: usize| {
        let c = &batch.columns[plan.fields[field].input];
        if c.is_null(r) { "" } else { c.value(r) }
    };
    let Encoder::Date { formats, min_year, max_year, .. } = &plan.fields[fields.dob].encoder else {
        return out;
    };
    let mut name = |field: usize, r: usize, out: &mut ChunkRows| -> Option<u32> {
        let raw = value(field, r);
        if raw.len() > 4 * MAX_NAME_BYTES
            || normalise_name(raw, &mut text, &mut parts) != Outcome::Value
            || text.len() > MAX_NAME_BYTES
        {
            return None;
        }
        if let Some(&code) = index.get(text.as_str()) {
            return Some(code);
        }
        let code = out.names.len() as u32;
        out.names.push(text.clone());
        index.insert(text.clone(), code);
        Some(code)
    };
    for r in start..end {
        let Some(dob) = parse_date(value(fields.dob, r), formats, *min_year, *max_year).1 else { continue };
        let (Some(given), Some(family)) = (name(fields.given, r, &mut out), name(fields.family, r, &mut out)) else {
            continue;
        };
        let nhs = fields
            .nhs
            .and_then(|f| crate::token::nhs_number::NhsNumber::parse(value(f, r)).ok())
            .map_or(0, |n| nhs_hasher().hash_one(n.digits()) | 1);
        let sex = fields.sex.map_or(0, |f| match crate::encode::category::normalise_sex(value(f, r)).1 {
            Some(code) => code.bytes().next().unwrap_or(0),
            None => 0,
        });
        out.rows.push(Row {
            dob: chrono::Datelike::num_days_from_ce(&dob),
            given,
            family,
            nhs,
            sex,
            row: batch.first_row + r as u64,
        });
    }
    text.zeroize();
    for (mut k, _) in index.drain() {
        k.zeroize();
    }
    out
}

/// The check's state over a run: every chunk's rows, names interned across chunks.
#[derive(Debug, Default)]
pub(crate) struct Registrations {
    rows: Vec<Row>,
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl Drop for Registrations {
    fn drop(&mut self) {
        self.names.iter_mut().for_each(Zeroize::zeroize);
        for (mut k, _) in self.index.drain() {
            k.zeroize();
        }
    }
}

/// What the check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Pairs of profiles, each by its first row (earlier row first), in row order.
    pub pairs: Vec<(u64, u64)>,
    /// Of the pairs: both with a valid NHS number (two different numbers).
    pub different_numbers: u64,
    /// Of the pairs: one with a valid NHS number, one without.
    pub one_without_number: u64,
    /// Of the pairs: neither with a valid NHS number.
    pub neither_with_number: u64,
    /// Profiles compared (distinct NHS number, names, date of birth and sex).
    pub profiles: u64,
    /// Blocks passed over for holding more than [`MAX_BLOCK`] profiles.
    pub blocks_too_large: u64,
}

impl Registrations {
    /// Adds a chunk's rows (chunks in any order).
    pub(crate) fn extend(&mut self, mut chunk: ChunkRows) {
        let mut map = Vec::with_capacity(chunk.names.len());
        for name in &chunk.names {
            let next = self.names.len() as u32;
            let code = match self.index.get(name.as_str()) {
                Some(&c) => c,
                None => {
                    self.names.push(name.clone());
                    self.index.insert(name.clone(), next);
                    next
                }
            };
            map.push(code);
        }
        self.rows.extend(chunk.rows.drain(..).map(|r| Row {
            given: map[r.given as usize],
            family: map[r.family as usize],
            ..r
        }));
    }

    /// Finds the likely duplicate registrations.
    pub(crate) fn find(mut self) -> Found {
        use rayon::prelude::*;
        // Profiles: distinct (date of birth, names, number, sex), each by its first row.
        self.rows.par_sort_unstable();
        let mut profiles: Vec<Row> = Vec::new();
        for r in &self.rows {
            match profiles.last() {
                Some(p) if (p.dob, p.given, p.family, p.nhs, p.sex) == (r.dob, r.given, r.family, r.nhs, r.sex) => {}
                _ => profiles.push(*r),
            }
        }
        self.rows = Vec::new();
        let initial = |code: u32| self.names[code as usize].bytes().next().unwrap_or(0);
        // Blocks: one date of birth and one initial of either name.
        let mut keys: Vec<(i32, u8, u32)> = Vec::with_capacity(2 * profiles.len());
        for (k, p) in profiles.iter().enumerate() {
            let (g, f) = (initial(p.given), initial(p.family));
            keys.push((p.dob, g, k as u32));
            if f != g {
                keys.push((p.dob, f, k as u32));
            }
        }
        keys.par_sort_unstable();
        let blocks: Vec<&[(i32, u8, u32)]> = keys.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)).collect();
        let too_large = blocks.iter().filter(|b| b.len() > MAX_BLOCK).count() as u64;
        let names = &self.names;
        let close = |a: u32, b: u32| a == b || strsim::jaro_winkler(&names[a as usize], &names[b as usize]) >= CLOSE;
        let mut pairs: Vec<(u32, u32)> = blocks
            .par_iter()
            .filter(|b| b.len() <= MAX_BLOCK)
            .flat_map_iter(|block| {
                let mut found = Vec::new();
                for (i, x) in block.iter().enumerate() {
                    for y in &block[i + 1..] {
                        let (a, b) = (&profiles[x.2 as usize], &profiles[y.2 as usize]);
                        let same_number = a.nhs != 0 && a.nhs == b.nhs;
                        let sexes_differ = a.sex != 0 && b.sex != 0 && a.sex != b.sex;
                        if same_number || sexes_differ {
                            continue;
                        }
                        let names_close = (close(a.given, b.given) && close(a.family, b.family))
                            || (close(a.given, b.family) && close(a.family, b.given));
                        if names_close {
                            found.push((x.2.min(y.2), x.2.max(y.2)));
                        }
                    }
                }
                found
            })
            .collect();
        pairs.par_sort_unstable();
        pairs.dedup();
        let mut found = Found { profiles: profiles.len() as u64, blocks_too_large: too_large, ..Found::default() };
        for &(x, y) in &pairs {
            let (a, b) = (&profiles[x as usize], &profiles[y as usize]);
            match (a.nhs != 0, b.nhs != 0) {
                (true, true) => found.different_numbers += 1,
                (false, false) => found.neither_with_number += 1,
                _ => found.one_without_number += 1,
            }
            found.pairs.push((a.row.min(b.row), a.row.max(b.row)));
        }
        found.pairs.sort_unstable();
        found
    }
}

/// The quality report's section: none when the extract lacks a name or the date of birth.
pub(crate) fn summary(plan: &Plan, found: &Found) -> Option<crate::tokenise::quality::DuplicateRegistrations> {
    Fields::of(plan)?;
    Some(crate::tokenise::quality::DuplicateRegistrations {
        pairs: found.pairs.len() as u64,
        pairs_listed: found.pairs.len() as u64,
        different_numbers: found.different_numbers,
        one_without_number: found.one_without_number,
        neither_with_number: found.neither_with_number,
        profiles: found.profiles,
        blocks_too_large: found.blocks_too_large,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registrations(rows: &[(&str, &str, i32, u64, u8)]) -> Registrations {
        let mut r = Registrations::default();
        let mut chunk = ChunkRows::default();
        for (k, &(given, family, dob, nhs, sex)) in rows.iter().enumerate() {
            let mut code = |n: &str| match chunk.names.iter().position(|x| x == n) {
                Some(p) => p as u32,
                None => {
                    chunk.names.push(n.to_string());
                    chunk.names.len() as u32 - 1
                }
            };
            let (given, family) = (code(given), code(family));
            chunk.rows.push(Row { dob, given, family, nhs, sex, row: k as u64 + 1 });
        }
        r.extend(chunk);
        r
    }

    #[test]
    fn close_or_swapped_names_on_one_birthday_without_a_shared_number_are_found() {
        let found = registrations(&[
            ("JOHN", "SMITH", 100, 11, b'M'),  // 1
            ("JOHN", "SMITH", 100, 11, b'M'),  // 2: the same registration again
            ("JON", "SMITH", 100, 0, b'M'),    // 3: a second registration, no number
            ("SMITH", "JOHN", 100, 23, 0),     // 4: names swapped, another number
            ("JOHN", "SMITH", 101, 0, b'M'),   // 5: another birthday
            ("JOHN", "SMITHE", 100, 11, b'M'), // 6: same number as 1: one registration spelt two ways
            ("JOAN", "SMITH", 100, 0, b'F'),   // 7: a twin sister
            ("MARY", "JONES", 100, 0, b'F'),   // 8: a stranger
        ])
        .find();
        // 1–3, 1–4, 3–4, 4–6 and 3–6: close names on one birthday without a shared number.
        assert_eq!(found.pairs, vec![(1, 3), (1, 4), (3, 4), (3, 6), (4, 6)]);
        assert_eq!((found.different_numbers, found.one_without_number, found.neither_with_number), (2, 3, 0));
        assert_eq!(found.profiles, 7);
    }

    #[test]
    fn a_default_birthday_shared_by_many_is_passed_over_and_counted() {
        let rows: Vec<(String, i32)> = (0..MAX_BLOCK + 1).map(|k| (format!("A{k}"), 5)).collect();
        let rows: Vec<(&str, &str, i32, u64, u8)> = rows.iter().map(|(n, d)| (n.as_str(), "ADAMS", *d, 0, 0)).collect();
        let found = registrations(&rows).find();
        assert_eq!(found.blocks_too_large, 1);
        assert!(found.pairs.is_empty());
    }
}
