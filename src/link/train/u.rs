//! u probabilities from random pairs.
//!
//! Among random pairs of records almost none are matches (at most one in the number of
//! persons), so the frequency of each level among them estimates u directly — Splink's
//! `estimate_u_using_random_sampling`. The estimator assumes the sample is large enough to see
//! rare levels (an exact NHS-number agreement between random records may never occur): levels
//! unseen get a floor of one half of an observation, so their weights stay finite and large.
//! Default sample: 1,000,000 pairs, seeded, so training is repeatable.
//!
//! Names salted with the date of birth (the `resistant` profile) can agree exactly only between
//! records born on the same day, so among random pairs their exact and phonetic levels are as rare
//! as a name *and* a birthday shared: priced at that, agreement would count the date of birth a
//! second time. Their u is therefore estimated among random pairs born on the same day — the
//! chance that names agree given that the dates do, which is what the score needs beside the
//! date of birth's own weight.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::link::compare::{Comparisons, MAX_COMPARISONS, MAX_LEVELS, Pattern, Subject};
use crate::link::data::Records;
use crate::link::model::Model;

/// Most pairs born on the same day sampled for salted names' u (their levels are common among
/// such pairs, so fewer pairs than the random sample give as close an estimate).
pub const SAME_DAY_SAMPLE: usize = 300_000;

/// Default number of random pairs sampled.
pub const DEFAULT_U_SAMPLE: usize = 1_000_000;

/// Sets every comparison's u in `model` from `sample` random pairs of `items`.
/// Returns the number of pairs used.
pub fn estimate_u(model: &mut Model, c: &Comparisons, r: &Records, items: &[u32], sample: usize, seed: u64) -> usize {
    if items.len() < 2 {
        return 0;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let pairs: Vec<(u32, u32)> = (0..sample)
        .map(|_| {
            let a = rng.random_range(0..items.len());
            let mut b = rng.random_range(0..items.len() - 1);
            if b >= a {
                b += 1;
            }
            (items[a], items[b])
        })
        .collect();
    let mut total = level_counts(r, c, &pairs, |_| true);
    let (given, family) = (c.find(&Subject::GivenName), c.find(&Subject::FamilyName));
    if let (true, Some(g), Some(f)) = (r.salted_names, given, family) {
        // Records born on the same day are far likelier than random ones to be one person, so
        // the sample keeps only pairs whose other name and postcode disagree outright: among
        // non-matches that says nothing of this name (the fields are independent), and few
        // matches disagree on both.
        let same_day = same_day_pairs(r, items, sample.min(SAME_DAY_SAMPLE), &mut rng);
        let unalike = unalike_elsewhere(c);
        let given_u = level_counts(r, c, &same_day, |p| unalike(p, f));
        let family_u = level_counts(r, c, &same_day, |p| unalike(p, g));
        total[g] = given_u[g];
        total[f] = family_u[f];
    }
    for (k, comp) in model.comparisons.iter_mut().enumerate() {
        let observed: u64 = total[k][1..comp.levels.len()].iter().sum();
        if observed == 0 {
            continue;
        }
        for (l, level) in comp.levels.iter_mut().enumerate().skip(1) {
            level.u = (total[k][l] as f64).max(0.5) / observed as f64;
        }
    }
    pairs.len()
}

/// Whether a same-day pair disagrees outright on the name compared by `other` and on the
/// postcode (missing counts as disagreeing): such pairs are almost never one person.
pub(crate) fn unalike_elsewhere(c: &Comparisons) -> impl Fn(&Pattern, usize) -> bool + Sync + '_ {
    let postcode = c.find(&Subject::Postcode);
    move |p: &Pattern, other: usize| {
        p.get(other) == c.defs[other].else_level()
            && postcode.is_none_or(|k| p.get(k) == 0 || p.get(k) == c.defs[k].else_level())
    }
}

/// Level counts per comparison over the `pairs` whose pattern passes `keep`.
fn level_counts(
    r: &Records,
    c: &Comparisons,
    pairs: &[(u32, u32)],
    keep: impl Fn(&Pattern) -> bool + Sync,
) -> [[u64; MAX_LEVELS]; MAX_COMPARISONS] {
    // Count levels in fixed chunks, summed in chunk order: the result is independent of threads.
    let n = c.len();
    let counts: Vec<[[u64; MAX_LEVELS]; MAX_COMPARISONS]> = pairs
        .par_chunks(65_536)
        .map(|chunk| {
            let mut out = [[0u64; MAX_LEVELS]; MAX_COMPARISONS];
            for &(a, b) in chunk {
                let p = c.pattern(r, a as usize, b as usize);
                if !keep(&p) {
                    continue;
                }
                for (k, o) in out.iter_mut().enumerate().take(n) {
                    o[p.get(k) as usize] += 1;
                }
            }
            out
        })
        .collect();
    let mut total = [[0u64; MAX_LEVELS]; MAX_COMPARISONS];
    for c in counts {
        for k in 0..n {
            for l in 0..MAX_LEVELS {
                total[k][l] += c[k][l];
            }
        }
    }
    total
}

/// Up to `sample` random pairs of `items` born on the same day (same date-of-birth token).
pub(crate) fn same_day_pairs(r: &Records, items: &[u32], sample: usize, rng: &mut ChaCha8Rng) -> Vec<(u32, u32)> {
    // Positions in `items`, so that days are ordered as `items` is (an order of the records'
    // content), not by record index (the order the extracts were given in).
    let mut by_day: rustc_hash::FxHashMap<u32, Vec<u32>> = rustc_hash::FxHashMap::default();
    for (k, &i) in items.iter().enumerate() {
        if let Some(d) = r.dob[0].get(i as usize) {
            by_day.entry(d).or_default().push(k as u32);
        }
    }
    let mut days: Vec<Vec<u32>> = by_day.into_values().filter(|v| v.len() >= 2).collect();
    days.sort_unstable_by_key(|v| v[0]);
    for day in &mut days {
        for k in day.iter_mut() {
            *k = items[*k as usize];
        }
    }
    // Records in days with company, drawn uniformly; the partner uniformly from the same day.
    let pool: Vec<(u32, u32)> =
        days.iter().enumerate().flat_map(|(d, v)| (0..v.len() as u32).map(move |k| (d as u32, k))).collect();
    if pool.is_empty() {
        return Vec::new();
    }
    (0..sample)
        .map(|_| {
            let (d, k) = pool[rng.random_range(0..pool.len())];
            let day = &days[d as usize];
            let mut j = rng.random_range(0..day.len() - 1) as u32;
            if j >= k {
                j += 1;
            }
            (day[k as usize], day[j as usize])
        })
        .collect()
}
