//! Identities: records with identical identifying tokens (a patient's many identical GP
//! encounters), compared once.

use rustc_hash::FxHashMap as HashMap;

use crate::link::LinkType;
use crate::link::data::{Records, TokCol};

/// Groups records with identical identifying tokens. A record joins a group only when it holds an
/// NHS number, or both a family name and a date of birth: sparser records stay on their own.
/// Identities never join records `link_type` keeps apart: under `dedupe_only` they stay within a
/// source; under `link_only` each record is its own identity (two identical records of one
/// source are two persons to that source).
pub fn identities(r: &Records, link_type: LinkType) -> (Vec<u32>, Vec<u32>) {
    if link_type == LinkType::LinkOnly {
        return ((0..r.len() as u32).collect(), (0..r.len() as u32).collect());
    }
    // The key inline for up to two identifier or string fields (no allocation per record); on a
    // heap vector beyond.
    if r.extras.len() <= 2 {
        group_by(r, |i| {
            let mut k = [0u32; 9];
            k[..6].copy_from_slice(&standard_key(r, i));
            for (slot, e) in k[6..8].iter_mut().zip(&r.extras) {
                *slot = e.token.codes[i];
            }
            k[8] = if link_type == LinkType::DedupeOnly { u32::from(r.source[i]) } else { 0 };
            k
        })
    } else {
        group_by(r, |i| {
            let mut k = standard_key(r, i).to_vec();
            k.extend(r.extras.iter().map(|e| e.token.codes[i]));
            k.push(if link_type == LinkType::DedupeOnly { u32::from(r.source[i]) } else { 0 });
            k
        })
    }
}

/// A record's standard identifying tokens (codes) and sex.
fn standard_key(r: &Records, i: usize) -> [u32; 6] {
    let c = |col: &TokCol| col.codes[i];
    [c(&r.nhs), c(&r.given.0), c(&r.family.0), c(&r.dob[0]), c(&r.postcode[0]), r.sex[i] as u32]
}

/// Identities by `key`; records holding neither an NHS number nor both a family name and a date
/// of birth stay on their own. Identity `k` is the `k`-th distinct key in record order, its
/// representative the first record holding it.
///
/// Records are dealt by a hash of their key into [`SHARDS`] shards grouped in parallel, each
/// with a hash map a sixteenth the size of one over all records (it stays in cache); shards'
/// groups are then numbered by their first records, so the result does not depend on threads.
fn group_by<K: std::hash::Hash + Eq + Send>(r: &Records, key: impl Fn(usize) -> K + Sync) -> (Vec<u32>, Vec<u32>) {
    use rayon::prelude::*;
    use std::hash::BuildHasher;
    const LONE: u8 = u8::MAX;
    let n = r.len();
    let hasher = rustc_hash::FxBuildHasher;
    let shard_of: Vec<u8> = (0..n)
        .into_par_iter()
        .map(|i| {
            if r.nhs.has(i) || (r.family.0.has(i) && r.dob[0].has(i)) {
                // The hash's top bits: a shard's map still spreads keys by the low ones.
                (hasher.hash_one(key(i)) >> (64 - SHARDS.trailing_zeros())) as u8
            } else {
                LONE
            }
        })
        .collect();
    // Per shard, each member's local group, in record order.
    let shards: Vec<Vec<u32>> = (0..SHARDS as u8)
        .into_par_iter()
        .map(|s| {
            let mut map: HashMap<K, u32> = HashMap::default();
            let mut local = Vec::new();
            for i in (0..n).filter(|&i| shard_of[i] == s) {
                let next = map.len() as u32;
                local.push(*map.entry(key(i)).or_insert(next));
            }
            local
        })
        .collect();
    // One pass in record order: a group's first member (a record on its own always) is its
    // representative and takes the next identity number; its later members take the same.
    const UNSEEN: u32 = u32::MAX;
    let mut global: Vec<Vec<u32>> =
        shards.iter().map(|local| vec![UNSEEN; local.iter().max().map_or(0, |&m| m as usize + 1)]).collect();
    let mut cursor = [0usize; SHARDS];
    let mut identity = Vec::with_capacity(n);
    let mut reps = Vec::new();
    for (i, &s) in shard_of.iter().enumerate() {
        let slot = if s == LONE {
            None
        } else {
            let s = s as usize;
            let group = shards[s][cursor[s]] as usize;
            cursor[s] += 1;
            Some(&mut global[s][group])
        };
        match slot {
            Some(id) if *id != UNSEEN => identity.push(*id),
            slot => {
                let id = reps.len() as u32;
                reps.push(i as u32);
                identity.push(id);
                if let Some(slot) = slot {
                    *slot = id;
                }
            }
        }
    }
    (identity, reps)
}

/// Shards of [`group_by`] (a power of two).
const SHARDS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The grouping as first written: one hash map over all records, in record order.
    fn naive(r: &Records, link_type: LinkType) -> (Vec<u32>, Vec<u32>) {
        let mut map: std::collections::HashMap<Vec<u32>, u32> = Default::default();
        let (mut identity, mut reps) = (Vec::new(), Vec::new());
        for i in 0..r.len() {
            let solid = r.nhs.has(i) || (r.family.0.has(i) && r.dob[0].has(i));
            let mut key = standard_key(r, i).to_vec();
            key.extend(r.extras.iter().map(|e| e.token.codes[i]));
            key.push(if link_type == LinkType::DedupeOnly { u32::from(r.source[i]) } else { 0 });
            let next = reps.len() as u32;
            let id = if solid { *map.entry(key).or_insert(next) } else { next };
            if id == next {
                reps.push(i as u32);
            }
            identity.push(id);
        }
        (identity, reps)
    }

    fn records(rows: &[(u32, u32, u32, u32, u8, u32, u16)], extras: usize) -> Records {
        let mut r = Records { sources: vec!["a".into(), "b".into()], ..Default::default() };
        for &(nhs, given, family, dob, sex, _, source) in rows {
            r.record_id.push("x");
            r.nhs.codes.push(nhs);
            r.given.0.codes.push(given);
            r.family.0.codes.push(family);
            r.dob[0].codes.push(dob);
            r.postcode[0].codes.push(0);
            r.sex.push(sex);
            r.source.push(source);
        }
        for k in 0..extras {
            let codes = rows.iter().map(|row| row.5.wrapping_add(k as u32) % 3).collect();
            r.extras.push(crate::link::data::ExtraField { token: TokCol { codes }, ..Default::default() });
        }
        r
    }

    proptest! {
        /// Sharded, parallel grouping gives exactly the identities, numbering and
        /// representatives of one map over all records in order, for every link type and for
        /// keys held inline or on the heap.
        #[test]
        fn sharded_grouping_equals_one_map_in_record_order(
            rows in proptest::collection::vec((0u32..4, 0u32..3, 0u32..3, 0u32..3, 0u8..2, 0u32..3, 0u16..2), 0..300),
            extras in 0usize..4,
        ) {
            let r = records(&rows, extras);
            for link_type in [LinkType::LinkAndDedupe, LinkType::DedupeOnly, LinkType::LinkOnly] {
                let got = identities(&r, link_type);
                if link_type == LinkType::LinkOnly {
                    let all: Vec<u32> = (0..r.len() as u32).collect();
                    prop_assert_eq!(&got, &(all.clone(), all));
                } else {
                    prop_assert_eq!(&got, &naive(&r, link_type));
                }
            }
        }
    }

    #[test]
    fn sparse_records_stay_apart_and_identical_solid_ones_share_an_identity() {
        // Rows 0 and 2 identical with an NHS number; rows 1 and 3 identical with a given name only.
        let r =
            records(&[(7, 1, 0, 0, 1, 0, 0), (0, 2, 0, 0, 1, 0, 0), (7, 1, 0, 0, 1, 0, 1), (0, 2, 0, 0, 1, 0, 1)], 0);
        assert_eq!(identities(&r, LinkType::LinkAndDedupe), (vec![0, 1, 0, 2], vec![0, 1, 3]));
        assert_eq!(identities(&r, LinkType::DedupeOnly), (vec![0, 1, 2, 3], vec![0, 1, 2, 3]));
    }
}
