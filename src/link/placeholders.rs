//! Placeholder NHS numbers: one valid number given to many different people.
//!
//! Systems give unknown patients a dummy but valid NHS number (an A&E department's "unknown
//! patient" number, a test number left in live data). Linked deterministically, such a number
//! makes one "person" of hundreds of strangers. A genuine number's records mostly agree on the
//! person's family name and date of birth (typos and name changes are the minority), so a number
//! whose records mostly disagree on either is treated as a placeholder: its token is dropped
//! before linkage (the records are linked on their other fields like records without a number),
//! counted in the summary and warned about.
//!
//! The rule: at least [`MIN_RECORDS`] records share the token, and among those holding the field,
//! the commonest family name or the commonest date of birth is held by fewer than
//! [`MIN_AGREEMENT`] of them. Known dummy numbers can also be listed at the provider (the tokenise
//! config's `placeholders` on the NHS-number field), where they get the `placeholder` status and
//! no token at all.

use rustc_hash::FxHashMap as HashMap;

use crate::link::data::{Records, TokCol};

/// Fewest records sharing a number for the rule to judge it (two records are judged by the
/// pairwise contradiction check in the deterministic stage instead).
pub const MIN_RECORDS: usize = 3;
/// Least share of the records holding a field that must agree on its commonest value.
pub const MIN_AGREEMENT: f64 = 0.5;

/// What the check found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Placeholders {
    /// NHS-number tokens treated as placeholders.
    pub tokens: u64,
    /// Records that held them.
    pub records: u64,
}

/// Finds placeholder NHS-number tokens and removes them from `r` (their records become records
/// without an NHS number).
pub fn remove(r: &mut Records) -> Placeholders {
    let mut groups: HashMap<u32, Vec<u32>> = HashMap::default();
    for (i, &c) in r.nhs.codes.iter().enumerate() {
        if c != 0 {
            groups.entry(c).or_default().push(i as u32);
        }
    }
    let mut found = Placeholders::default();
    let mut drop: Vec<u32> = Vec::new();
    for (code, members) in groups {
        if members.len() < MIN_RECORDS {
            continue;
        }
        if !agrees(&r.family.0, &members) || !agrees(&r.dob[0], &members) {
            found.tokens += 1;
            found.records += members.len() as u64;
            drop.push(code);
        }
    }
    if !drop.is_empty() {
        drop.sort_unstable();
        for c in r.nhs.codes.iter_mut() {
            if *c != 0 && drop.binary_search(c).is_ok() {
                *c = 0;
            }
        }
    }
    found
}

/// Whether the members holding `col` mostly share its commonest value (true when fewer than
/// [`MIN_RECORDS`] hold it: too little to judge).
fn agrees(col: &TokCol, members: &[u32]) -> bool {
    let mut counts: HashMap<u32, u32> = HashMap::default();
    let mut held = 0u32;
    for &m in members {
        if let Some(v) = col.get(m as usize) {
            *counts.entry(v).or_default() += 1;
            held += 1;
        }
    }
    if (held as usize) < MIN_RECORDS {
        return true;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    top as f64 >= MIN_AGREEMENT * held as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(nhs: &[u32], family: &[u32], dob: &[u32]) -> Records {
        let mut r = Records::default();
        r.nhs.codes = nhs.to_vec();
        r.family.0.codes = family.to_vec();
        r.dob[0].codes = dob.to_vec();
        r
    }

    #[test]
    fn a_number_shared_by_strangers_is_removed_and_a_persons_number_is_kept() {
        // Token 1: five strangers. Token 2: one person, one typo in the family name.
        let mut r = records(
            &[1, 1, 1, 1, 1, 2, 2, 2, 2],
            &[10, 11, 12, 13, 14, 20, 20, 21, 20],
            &[30, 31, 32, 33, 34, 40, 40, 40, 40],
        );
        let found = remove(&mut r);
        assert_eq!(found, Placeholders { tokens: 1, records: 5 });
        assert_eq!(r.nhs.codes, [0, 0, 0, 0, 0, 2, 2, 2, 2]);
    }

    #[test]
    fn same_name_different_dates_of_birth_is_a_placeholder_and_small_groups_are_left_alone() {
        let mut r = records(&[1, 1, 1, 1, 5, 5], &[10, 10, 10, 10, 50, 51], &[30, 31, 32, 33, 60, 61]);
        assert_eq!(remove(&mut r), Placeholders { tokens: 1, records: 4 });
        assert_eq!(r.nhs.codes, [0, 0, 0, 0, 5, 5]);
    }

    #[test]
    fn missing_fields_are_not_disagreement() {
        let mut r = records(&[1, 1, 1, 1], &[10, 0, 0, 10], &[0, 0, 0, 0]);
        assert_eq!(remove(&mut r), Placeholders::default());
    }
}
