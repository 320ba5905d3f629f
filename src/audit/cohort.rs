//! The frequency attack on salted name tokens, cohort by cohort.
//!
//! Name tokens salted with the date of birth (the `resistant` profile) agree only within the
//! persons born on one day, so an insider who groups tokens by the date-of-birth token ranks
//! names within each such cohort and gives the token at rank *i* the public list's *i*-th name.
//!
//! A cohort is small (a few persons per day in a population of 100,000; about 2,000 in one of
//! 60 million), and the whole-column estimate ([`super::frequency::attack`]) does not carry
//! over: it redraws the observed counts around themselves, which in a cohort of one person
//! "names" that person's token with certainty, whereas an attacker naming a lone token `SMITH`
//! is right only as often as persons are called Smith. What the attack needs is the population's
//! name distribution, which salting hides; the audit estimates it from what salting leaves: how
//! often two persons of one cohort share a token, which (names being independent of birthdays)
//! is the population's Σp² — the chance that two persons share a name. A Zipf law over
//! [`NAMES_PER_LISTED`] names per listed name is fitted to that, cohorts of each observed size
//! are drawn from it, and the attacker's success at each rank of each size is counted, ties
//! taken against the attacker as in the whole-column estimate.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rustc_hash::FxHashMap as HashMap;

use super::frequency::{Attack, Tally, sorted_counts};

/// Simulated cohorts per cohort size.
const SIMULATIONS: usize = 64;

/// The population's distinct names, per name of the attacker's list: surnames and given names
/// have long tails far past any published list.
pub const NAMES_PER_LISTED: usize = 30;

/// Σp² assumed when no cohort holds two persons (nothing to estimate it from): a population
/// more concentrated than any national surname distribution, so that the estimate errs towards
/// the attacker.
const FALLBACK_COLLISION: f64 = 0.01;

/// The attack on each cohort apart (`cohorts[u]`: unit `u`'s cohort; units without one form a
/// cohort of their own, as their tokens share the "unknown date" salt), and within a cohort on
/// each frequency band apart when the name's bands are released (`bands[u]`, 1–3, see
/// `encode::band`): the attacker then guesses the band's own names in order. Returns the outcome
/// and each unit's estimated chance of being named.
pub fn attack(
    column: &str,
    tokens: &[Option<u128>],
    cohorts: &[Option<u128>],
    bands: Option<&[Option<u128>]>,
    other: Option<&[Option<u128>]>,
    list: usize,
    seed: u64,
) -> (Attack, Vec<f64>) {
    let band_of = |u: usize| bands.and_then(|b| b[u]).map_or(0u8, |b| b.min(3) as u8);
    let mut groups: HashMap<(Option<u128>, u8), Vec<usize>> = HashMap::default();
    for (u, c) in cohorts.iter().enumerate() {
        if tokens[u].is_some() {
            groups.entry((*c, band_of(u))).or_default().push(u);
        }
    }
    let mut keys: Vec<(Option<u128>, u8)> = groups.keys().copied().collect();
    keys.sort_unstable();
    let counts: Vec<Vec<(u128, u64)>> =
        keys.iter().map(|k| sorted_counts(&groups[k].iter().map(|&u| tokens[u]).collect::<Vec<_>>())).collect();

    // Σp² from pairs within cohorts; when the other name's tokens are known, only pairs that
    // differ there (two records of one person share both names, and would pass for a common
    // name).
    let (mut same, mut pairs) = (0.0f64, 0.0f64);
    for key in &keys {
        let members = &groups[key];
        let n = members.len() as f64;
        let all = n * (n - 1.0);
        let sharing_token = ordered_pairs(members, |u| tokens[u]);
        match other {
            None => {
                pairs += all;
                same += sharing_token;
            }
            Some(o) => {
                // Ordered pairs differing on the other name: all minus those sharing it; of those,
                // the ones sharing this token: sharing it, minus sharing both.
                pairs += all - ordered_pairs(members, |u| o[u]);
                same += sharing_token - ordered_pairs(members, |u| (tokens[u], o[u]));
            }
        }
    }
    let collision = if pairs > 0.0 { same / pairs } else { FALLBACK_COLLISION };
    let population = Zipf::fitted(list.max(1) * NAMES_PER_LISTED, collision);

    let mut success: HashMap<(u64, u8), Vec<f64>> = HashMap::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut per_unit = vec![0.0; tokens.len()];
    let mut tally = Tally::default();
    for (key, c) in keys.iter().zip(&counts) {
        let n: u64 = c.iter().map(|x| x.1).sum();
        let p_rank =
            success.entry((n, key.1)).or_insert_with(|| population.rank_success(n as usize, list, key.1, &mut rng));
        // A tied token is taken as misnamed, as in the simulation.
        let p_token = tally.add(c, |rank, untied| if untied { p_rank.get(rank).copied().unwrap_or(0.0) } else { 0.0 });
        for &u in &groups[key] {
            per_unit[u] = tokens[u].map_or(0.0, |t| p_token[&t]);
        }
    }
    (tally.finish(column), per_unit)
}

/// Ordered pairs of `members` with equal `key`.
fn ordered_pairs<K: std::hash::Hash + Eq>(members: &[usize], key: impl Fn(usize) -> K) -> f64 {
    let mut m: HashMap<K, u64> = HashMap::default();
    for &u in members {
        *m.entry(key(u)).or_default() += 1;
    }
    m.values().map(|&c| (c * c.saturating_sub(1)) as f64).sum()
}

/// A Zipf law over `names` names: `p_k ∝ 1 / k^s`.
struct Zipf {
    cumulative: Vec<f64>,
}

/// The first name of each band in a law whose names are commonest first (band 0: all names).
fn band_range(z: &Zipf, band: u8) -> (usize, usize) {
    let total = *z.cumulative.last().unwrap_or(&1.0);
    let share = |k: usize| (z.cumulative[k] - if k == 0 { 0.0 } else { z.cumulative[k - 1] }) / total;
    let n = z.cumulative.len();
    let common = (0..n).take_while(|&k| share(k) >= crate::encode::band::COMMON_SHARE).count();
    let middle = (0..n).take_while(|&k| share(k) >= crate::encode::band::MIDDLE_SHARE).count();
    match band {
        1 => (0, common),
        2 => (common, middle),
        3 => (middle, n),
        _ => (0, n),
    }
}

impl Zipf {
    /// The Zipf law over `names` names whose Σp² is `collision` (as near as the family allows:
    /// uniform at the least, exponent 4 at the most).
    fn fitted(names: usize, collision: f64) -> Zipf {
        let sum_sq = |s: f64| {
            let w: Vec<f64> = (1..=names).map(|k| (k as f64).powf(-s)).collect();
            let t: f64 = w.iter().sum();
            w.iter().map(|x| (x / t) * (x / t)).sum::<f64>()
        };
        let (mut lo, mut hi) = (0.0f64, 4.0f64);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if sum_sq(mid) < collision {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let s = 0.5 * (lo + hi);
        let mut cumulative = Vec::with_capacity(names);
        let mut acc = 0.0;
        for k in 1..=names {
            acc += (k as f64).powf(-s);
            cumulative.push(acc);
        }
        Zipf { cumulative }
    }

    /// A name among `lo..hi`, drawn by the law.
    fn draw(&self, lo: usize, hi: usize, rng: &mut ChaCha8Rng) -> usize {
        let below = if lo == 0 { 0.0 } else { self.cumulative[lo - 1] };
        let x = rng.random_range(below..self.cumulative[hi - 1]);
        self.cumulative.partition_point(|&c| c <= x).clamp(lo, hi - 1)
    }

    /// For each rank, the chance that the token at that rank of a cohort of `n` persons of
    /// `band` (0: any) is the population's name of that rank within the band, given that its
    /// count is not tied; ranks past the attacker's `list` are never named.
    fn rank_success(&self, n: usize, list: usize, band: u8, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let (lo, hi) = band_range(self, band);
        if lo >= hi || lo >= list {
            return Vec::new();
        }
        let ranks = (list - lo).min(n);
        let (mut hits, mut untied) = (vec![0u32; ranks], vec![0u32; ranks]);
        let mut counts: HashMap<usize, u64> = HashMap::default();
        for _ in 0..SIMULATIONS {
            counts.clear();
            for _ in 0..n {
                *counts.entry(self.draw(lo, hi, rng)).or_default() += 1;
            }
            let mut sorted: Vec<(usize, u64)> = counts.iter().map(|(&k, &c)| (k, c)).collect();
            sorted.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            for rank in 0..ranks.min(sorted.len()) {
                let c = sorted[rank].1;
                let tied = (rank > 0 && sorted[rank - 1].1 == c) || sorted.get(rank + 1).is_some_and(|x| x.1 == c);
                if !tied {
                    untied[rank] += 1;
                    if sorted[rank].0 == lo + rank {
                        hits[rank] += 1;
                    }
                }
            }
        }
        hits.iter().zip(&untied).map(|(&h, &u)| if u == 0 { 0.0 } else { f64::from(h) / f64::from(u) }).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Units drawn from a Zipf law over `names` names with exponent `s`, in cohorts of `size`;
    /// a token is its name and cohort together, as a salted token is.
    fn population(
        units: usize,
        size: usize,
        names: usize,
        s: f64,
        seed: u64,
    ) -> (Vec<Option<u128>>, Vec<Option<u128>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut cumulative = Vec::with_capacity(names);
        let mut acc = 0.0;
        for k in 1..=names {
            acc += (k as f64).powf(-s);
            cumulative.push(acc);
        }
        let tokens = (0..units)
            .map(|u| {
                let x = rng.random_range(0.0..acc);
                let name = cumulative.partition_point(|&c| c <= x) as u128;
                Some((name << 64) | (u / size) as u128)
            })
            .collect();
        let cohorts = (0..units).map(|u| Some((u / size) as u128)).collect();
        (tokens, cohorts)
    }

    /// The attack carried out with the names known: per cohort, tokens ranked by count, a
    /// token named when untied and holding the name of its rank.
    fn true_success(tokens: &[Option<u128>], cohorts: &[Option<u128>]) -> f64 {
        let mut groups: HashMap<Option<u128>, Vec<Option<u128>>> = HashMap::default();
        for (t, c) in tokens.iter().zip(cohorts) {
            groups.entry(*c).or_default().push(*t);
        }
        let mut named = 0;
        for g in groups.values() {
            let c = sorted_counts(g);
            for (rank, &(token, k)) in c.iter().enumerate() {
                let tied = c.iter().filter(|x| x.1 == k).count() > 1;
                if !tied && (token >> 64) as usize == rank {
                    named += k;
                }
            }
        }
        named as f64 / tokens.len() as f64
    }

    #[test]
    fn the_estimate_tracks_the_attack_carried_out_with_the_names_known() {
        for (size, s) in [(1, 1.0), (3, 1.0), (30, 1.0), (1_000, 1.0), (30, 0.7), (5_000, 1.2)] {
            let (tokens, cohorts) = population(60_000, size, 300 * NAMES_PER_LISTED, s, size as u64);
            let (a, _) = attack("c", &tokens, &cohorts, None, None, 300, 7);
            let truth = true_success(&tokens, &cohorts);
            assert!(
                (a.named - truth).abs() <= 0.3 * truth + 0.01,
                "cohorts of {size}, exponent {s}: estimated {:.4}, carried out {truth:.4}",
                a.named
            );
        }
    }

    #[test]
    fn small_cohorts_hide_what_large_ones_give_away() {
        let (large_t, large_c) = population(50_000, 5_000, 300 * NAMES_PER_LISTED, 1.1, 2);
        let (a, _) = attack("c", &large_t, &large_c, None, None, 300, 7);
        let (small_t, small_c) = population(50_000, 5, 300 * NAMES_PER_LISTED, 1.1, 2);
        let (b, _) = attack("c", &small_t, &small_c, None, None, 300, 7);
        assert!(a.named > 0.05 && b.named < a.named / 2.0, "cohorts of 5,000: {}; of 5: {}", a.named, b.named);
    }

    #[test]
    fn the_fitted_law_has_the_collision_rate_asked_for() {
        let z = Zipf::fitted(3_000, 0.004);
        let t = *z.cumulative.last().unwrap();
        let mut prev = 0.0;
        let sum_sq: f64 = z
            .cumulative
            .iter()
            .map(|&c| {
                let p = (c - prev) / t;
                prev = c;
                p * p
            })
            .sum();
        assert!((sum_sq - 0.004).abs() < 1e-4, "{sum_sq}");
    }
}
