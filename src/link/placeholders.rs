//! Placeholder NHS numbers: one valid number given to many different people.
//!
//! Systems give unknown patients a dummy but valid NHS number (an A&E department's "unknown
//! patient" number, a test number left in live data). Linked deterministically, such a number
//! makes one "person" of hundreds of strangers. A genuine number's records mostly agree on the
//! person's names and date of birth (typos, nicknames and name changes are the minority), so a
//! number whose records mostly disagree is treated as a placeholder: its token is dropped before
//! linkage (the records are linked on their other fields like records without a number), counted
//! in the summary and warned about.
//!
//! The rule works on a number's distinct *profiles* (given name, family name, date of birth,
//! postcode and sex), not its records, so that one frequent attender's hundred identical records cannot
//! outvote the strangers sharing the number. A number with at least [`MIN_PROFILES`] profiles is a
//! placeholder when, among the profiles whose source records the field:
//! - fewer than [`MIN_AGREEMENT`] share the commonest family name or the commonest date of birth
//!   (a value missing where its source records it counts as disagreeing: dummy numbers often
//!   come with blank or default details), or
//! - with at least [`MIN_PROFILES_GIVEN`] profiles, fewer than [`MIN_AGREEMENT`] share the commonest
//!   given name (default details such as "Unknown" and 1900-01-01 agree; the given names of
//!   strangers do not; a real person's nicknames rarely make that many profiles).
//!
//! What it cannot see: strangers whose records carry no details but the number (every field blank
//! or set to the same defaults, such as "Unknown", 1900-01-01, no postcode) make one profile, which
//! is what one person's identical records make too. Such numbers are best listed where they are
//! known: known dummy numbers can be listed at the provider (the tokenise config's `placeholders`
//! on the NHS-number field), where they get the `placeholder` status and no token at all.

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use crate::link::data::Records;

/// Fewest distinct profiles sharing a number for the rule to judge it (two are judged by the
/// pairwise contradiction check in the deterministic stage instead).
pub const MIN_PROFILES: usize = 3;
/// Fewest profiles for disagreeing given names alone to make a placeholder.
pub const MIN_PROFILES_GIVEN: usize = 5;
/// Least share of profiles that must agree on a field's commonest value.
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
    let sources = r.sources.len().max(1);
    // Which sources record each field at all (an extract without a date of birth is not missing
    // one on every record).
    let mut records_field = vec![[false; 3]; sources];
    for (i, &s) in r.source.iter().enumerate() {
        let s = s as usize;
        for (k, col) in [&r.given.0, &r.family.0, &r.dob[0]].into_iter().enumerate() {
            records_field[s][k] |= col.has(i);
        }
    }
    // Records holding a number, in runs by number (and by record within a run, so that "first"
    // is well defined); most numbers are held by one or two records and are passed over at once.
    let mut order: Vec<(u32, u32)> =
        r.nhs.codes.iter().enumerate().filter(|(_, c)| **c != 0).map(|(i, &c)| (c, i as u32)).collect();
    order.par_sort_unstable();
    // Each number's records judged on their own, in parallel (a number's records are spread over
    // the extracts, so reading their tokens is a cache miss each).
    let judged: Vec<(u32, u64)> = order
        .par_chunk_by(|a, b| a.0 == b.0)
        .map_init(Vec::new, |profiles: &mut Vec<([u32; 5], u32, u16)>, run| {
            if run.len() < MIN_PROFILES {
                return None;
            }
            profiles.clear();
            for &(_, m) in run {
                let i = m as usize;
                let sex = u32::from(r.sex[i]);
                let key = [r.given.0.codes[i], r.family.0.codes[i], r.dob[0].codes[i], r.postcode[0].codes[i], sex];
                profiles.push((key, m, r.source[i]));
            }
            profiles.sort_unstable();
            profiles.dedup_by_key(|p| p.0);
            if profiles.len() < MIN_PROFILES {
                return None;
            }
            let agrees = |k: usize| {
                let expected: Vec<u32> =
                    profiles.iter().filter(|(_, _, s)| records_field[*s as usize][k]).map(|(p, _, _)| p[k]).collect();
                agreement(&expected)
            };
            let given_counts = profiles.len() >= MIN_PROFILES_GIVEN;
            if !agrees(1) || !agrees(2) || (given_counts && !agrees(0)) {
                Some((run[0].0, run.iter().map(|&(_, m)| r.records_of(m as usize)).sum::<u64>()))
            } else {
                None
            }
        })
        .flatten()
        .collect();
    let found = Placeholders { tokens: judged.len() as u64, records: judged.iter().map(|j| j.1).sum() };
    let mut drop: Vec<u32> = judged.into_iter().map(|j| j.0).collect();
    if !drop.is_empty() {
        drop.sort_unstable();
        r.nhs.codes.par_iter_mut().for_each(|c| {
            if *c != 0 && drop.binary_search(c).is_ok() {
                *c = 0;
            }
        });
    }
    found
}

/// Whether the values (0: missing) mostly share their commonest present value; true when fewer
/// than [`MIN_PROFILES`] are expected (too little to judge).
fn agreement(values: &[u32]) -> bool {
    if values.len() < MIN_PROFILES {
        return true;
    }
    let mut counts: HashMap<u32, u32> = HashMap::default();
    for &v in values.iter().filter(|&&v| v != 0) {
        *counts.entry(v).or_default() += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    top as f64 >= MIN_AGREEMENT * values.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::data::TokCol;

    fn col(codes: &[u32]) -> TokCol {
        TokCol { codes: codes.to_vec() }
    }

    fn records(nhs: &[u32], given: &[u32], family: &[u32], dob: &[u32]) -> Records {
        let n = nhs.len();
        let mut r = Records {
            sources: vec!["ae".into()],
            source: vec![0; n],
            nhs: col(nhs),
            sex: vec![0; n],
            ..Default::default()
        };
        r.postcode[0] = col(&vec![0; n]);
        r.given.0 = col(given);
        r.family.0 = col(family);
        r.dob[0] = col(dob);
        r
    }

    #[test]
    fn a_number_shared_by_strangers_is_removed_and_a_persons_number_is_kept() {
        // Token 1: five strangers. Token 2: one person, one typo in the family name.
        let mut r = records(
            &[1, 1, 1, 1, 1, 2, 2, 2, 2],
            &[5, 6, 7, 8, 9, 3, 3, 3, 3],
            &[10, 11, 12, 13, 14, 20, 20, 21, 20],
            &[30, 31, 32, 33, 34, 40, 40, 40, 41],
        );
        assert_eq!(remove(&mut r), Placeholders { tokens: 1, records: 5 });
        assert_eq!(r.nhs.codes, [0, 0, 0, 0, 0, 2, 2, 2, 2]);
    }

    #[test]
    fn blank_details_default_details_and_a_frequent_attender_do_not_hide_a_placeholder() {
        // Token 1: strangers with blank family name and date of birth (given names differ).
        // Token 2: strangers recorded as "Unknown", born 1900-01-01 (only given names differ).
        // Token 3: one frequent attender's ten identical records and four strangers.
        let mut nhs = vec![1; 4];
        let mut given = vec![5, 6, 7, 8];
        let mut family = vec![0, 0, 0, 0];
        let mut dob = vec![0, 0, 0, 0];
        for g in 0..6 {
            nhs.push(2);
            given.push(50 + g);
            family.push(99);
            dob.push(98);
        }
        for k in 0..14 {
            nhs.push(3);
            let stranger = k >= 10;
            given.push(if stranger { 60 + k } else { 7 });
            family.push(if stranger { 70 + k } else { 17 });
            dob.push(if stranger { 80 + k } else { 27 });
        }
        // A source that records family names and dates of birth elsewhere.
        nhs.push(9);
        given.push(1);
        family.push(1);
        dob.push(1);
        let mut r = records(&nhs, &given, &family, &dob);
        let found = remove(&mut r);
        assert_eq!(found, Placeholders { tokens: 3, records: 24 });
        assert_eq!(r.nhs.codes.iter().filter(|&&c| c != 0).count(), 1);
    }

    #[test]
    fn a_persons_nicknames_and_a_source_without_the_field_are_not_disagreement() {
        // Four profiles of one person: nicknames, one date-of-birth typo, same family name.
        let mut r = records(&[1, 1, 1, 1], &[5, 6, 7, 5], &[10, 10, 10, 10], &[30, 30, 31, 30]);
        assert_eq!(remove(&mut r), Placeholders::default());
        // A source that records no date of birth at all.
        let mut r = records(&[1, 1, 1, 1], &[5, 5, 6, 7], &[10, 10, 11, 10], &[0, 0, 0, 0]);
        assert_eq!(remove(&mut r), Placeholders::default());
    }
}
