//! u probabilities from random pairs.
//!
//! Among random pairs of records almost none are matches (at most one in the number of
//! persons), so the frequency of each level among them estimates u directly — Splink's
//! `estimate_u_using_random_sampling`. The estimator assumes the sample is large enough to see
//! rare levels (an exact NHS-number agreement between random records may never occur): levels
//! unseen get a floor of one half of an observation, so their weights stay finite and large.
//! Default sample: 1,000,000 pairs, seeded, so training is repeatable.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::link::compare::{COMPARISONS, Thresholds, pattern};
use crate::link::data::Records;
use crate::link::model::Model;

/// Default number of random pairs sampled.
pub const DEFAULT_U_SAMPLE: usize = 1_000_000;

/// Sets every comparison's u in `model` from `sample` random pairs of `items`.
/// Returns the number of pairs used.
pub fn estimate_u(model: &mut Model, r: &Records, items: &[u32], sample: usize, seed: u64, t: Thresholds) -> usize {
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
    // Count levels in fixed chunks, summed in chunk order: the result is independent of threads.
    let counts: Vec<[[u64; 8]; COMPARISONS]> = pairs
        .par_chunks(65_536)
        .map(|chunk| {
            let mut c = [[0u64; 8]; COMPARISONS];
            for &(a, b) in chunk {
                let p = pattern(r, a as usize, b as usize, t);
                for (k, &l) in p.iter().enumerate() {
                    c[k][l as usize] += 1;
                }
            }
            c
        })
        .collect();
    let mut total = [[0u64; 8]; COMPARISONS];
    for c in counts {
        for k in 0..COMPARISONS {
            for l in 0..8 {
                total[k][l] += c[k][l];
            }
        }
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
