//! What the summary says of all scored pairs ([`PairStats`]), and persons numbered by first
//! sight ([`Renumber`]): the bookkeeping around the stages in [`crate::link::pipeline`].

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use rustc_hash::FxHashMap as HashMap;

use crate::link::compare::Pattern;
use crate::link::model::Model;
use crate::link::{floor_weight, weight_bin};

/// What the summary says of all scored pairs, gathered wherever they were scored.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PairStats {
    /// Candidate pairs scored.
    pub candidates: u64,
    /// Best match probability per identity over its pairs.
    pub best: Vec<f64>,
    /// Pairs per two-bit match-weight bin ([`weight_bin`]).
    pub histogram: std::collections::BTreeMap<i64, u64>,
    /// Pairs below the pairs floor.
    pub below_floor: u64,
    /// Sum of their match probabilities.
    pub expected_below_floor: f64,
}

impl PairStats {
    /// The statistics of `scored` (pairs of positions among `identities` identities).
    pub fn of(scored: &[(u32, u32, Pattern, f64)], identities: usize, pairs_floor: f64) -> PairStats {
        let floor = floor_weight(pairs_floor);
        // In parallel over slices of the pairs, each with its own bins; the best probabilities
        // after (a maximum, so in any order).
        const BINS: usize = 41;
        let bin = |w: f64| ((weight_bin(w) + 40) / 2) as usize;
        let (bins, below, expected) = scored
            .par_chunks(1 << 16)
            .map(|chunk| {
                let (mut bins, mut below, mut expected) = ([0u64; BINS], 0u64, 0.0);
                for &(_, _, _, w) in chunk {
                    bins[bin(w)] += 1;
                    if w < floor {
                        below += 1;
                        expected += Model::probability(w);
                    }
                }
                (bins, below, expected)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .fold(([0u64; BINS], 0u64, 0.0), |(mut bins, below, expected), (b, k, e)| {
                for (x, y) in bins.iter_mut().zip(b) {
                    *x += y;
                }
                (bins, below + k, expected + e)
            });
        // The best probability per identity as an atomic maximum of its bits: probabilities are
        // never negative, so their bits order as they do. (Not the probability of the best
        // weight: near 53 bits `probability` is not monotone in its last bit.)
        let best: Vec<AtomicU64> = (0..identities).map(|_| AtomicU64::new(0)).collect();
        scored.par_iter().for_each(|&(a, b, _, w)| {
            let p = Model::probability(w);
            if p > 0.0 {
                best[a as usize].fetch_max(p.to_bits(), Ordering::Relaxed);
                best[b as usize].fetch_max(p.to_bits(), Ordering::Relaxed);
            }
        });
        let best = best.into_iter().map(|k| f64::from_bits(k.into_inner())).collect();
        let histogram =
            bins.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, &n)| (i as i64 * 2 - 40, n)).collect();
        PairStats {
            candidates: scored.len() as u64,
            best,
            histogram,
            below_floor: below,
            expected_below_floor: expected,
        }
    }
}

/// Labels numbered 0, 1, … in the order they are first seen: by a table where labels are
/// identity positions (as this machine's clustering gives), by a hash map where they may be
/// anything (a Spark job's component labels).
pub(crate) enum Renumber {
    Table { number: Vec<u32>, next: u32 },
    Map(HashMap<u32, u32>),
}

impl Renumber {
    pub(crate) fn for_labels(labels: &[u32]) -> Renumber {
        let max = labels.iter().copied().max().map_or(0, |m| m as usize);
        if max <= 2 * labels.len() + 1024 {
            Renumber::Table { number: vec![u32::MAX; max + 1], next: 0 }
        } else {
            Renumber::Map(HashMap::default())
        }
    }

    #[inline]
    pub(crate) fn number(&mut self, label: u32) -> u32 {
        match self {
            Renumber::Table { number, next } => {
                let slot = &mut number[label as usize];
                if *slot == u32::MAX {
                    *slot = *next;
                    *next += 1;
                }
                *slot
            }
            Renumber::Map(m) => {
                let next = m.len() as u32;
                *m.entry(label).or_insert(next)
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Renumber::Table { next, .. } => *next as usize,
            Renumber::Map(m) => m.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_stats_are_those_of_a_plain_pass() {
        let scored: Vec<(u32, u32, Pattern, f64)> =
            (0..200_000u32).map(|i| (i % 7, 7 + i % 11, Pattern(0), (i % 97) as f64 - 40.0 + 0.25)).collect();
        let s = PairStats::of(&scored, 20, 0.01);
        let floor = floor_weight(0.01);
        assert_eq!(s.candidates, 200_000);
        assert_eq!(s.below_floor, scored.iter().filter(|p| p.3 < floor).count() as u64);
        assert_eq!(s.histogram.values().sum::<u64>(), 200_000);
        assert_eq!(s.histogram.keys().next(), Some(&-40));
        for id in 0..20u32 {
            let want =
                scored.iter().filter(|p| p.0 == id || p.1 == id).map(|p| Model::probability(p.3)).fold(0.0, f64::max);
            assert_eq!(s.best[id as usize], want, "identity {id}");
        }
        assert_eq!(s.best[18], 0.0);
    }

    #[test]
    fn labels_are_numbered_by_first_sight_however_large() {
        for labels in [vec![5u32, 2, 5, 0, 2], vec![4_000_000_000, 7, 4_000_000_000, 9, 7]] {
            let mut r = Renumber::for_labels(&labels);
            let got: Vec<u32> = labels.iter().map(|&l| r.number(l)).collect();
            assert_eq!(got, vec![0, 1, 0, 2, 1]);
            assert_eq!(r.len(), 3);
        }
    }
}
