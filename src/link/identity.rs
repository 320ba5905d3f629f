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
/// of birth stay on their own.
fn group_by<K: std::hash::Hash + Eq>(r: &Records, key: impl Fn(usize) -> K) -> (Vec<u32>, Vec<u32>) {
    let mut map: HashMap<K, u32> = HashMap::default();
    let mut identity = Vec::with_capacity(r.len());
    let mut reps = Vec::new();
    for i in 0..r.len() {
        let solid = r.nhs.has(i) || (r.family.0.has(i) && r.dob[0].has(i));
        if !solid {
            identity.push(reps.len() as u32);
            reps.push(i as u32);
            continue;
        }
        let next = reps.len() as u32;
        let id = *map.entry(key(i)).or_insert(next);
        if id == next {
            reps.push(i as u32);
        }
        identity.push(id);
    }
    (identity, reps)
}
