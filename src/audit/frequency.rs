//! Frequencies of deterministic tokens, and the frequency-alignment attack on name tokens.

use rand::SeedableRng;
use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

/// Simulated populations per estimate: enough for the per-rank success rates to settle to a few
/// percent, cheap at any population size (each is one normal draw per ranked token).
const SIMULATIONS: usize = 24;

/// A guess right at least this often counts as named confidently.
pub const CONFIDENT: f64 = 0.5;

/// Counts of one deterministic column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnStats {
    /// The column.
    pub column: String,
    /// Units holding a value.
    pub present: u64,
    /// Distinct values.
    pub distinct: u64,
    /// Share of present units holding the commonest value.
    pub top1: f64,
    /// Share holding one of the ten commonest.
    pub top10: f64,
    /// Share holding a value no other unit holds.
    pub unique_share: f64,
}

impl ColumnStats {
    /// The counts of `tokens` (one per unit).
    pub fn of(column: &str, tokens: &[Option<u128>]) -> ColumnStats {
        let counts = sorted_counts(tokens);
        let present: u64 = counts.iter().map(|c| c.1).sum();
        let share = |n: u64| if present == 0 { 0.0 } else { n as f64 / present as f64 };
        ColumnStats {
            column: column.to_string(),
            present,
            distinct: counts.len() as u64,
            top1: share(counts.first().map_or(0, |c| c.1)),
            top10: share(counts.iter().take(10).map(|c| c.1).sum()),
            unique_share: share(counts.iter().filter(|c| c.1 == 1).count() as u64),
        }
    }
}

/// The attack's estimated outcome on one column.
#[derive(Debug, Clone, Serialize)]
pub struct Attack {
    /// The column.
    pub column: String,
    /// Estimated share of present units whose value the attack names correctly, with the public
    /// list.
    pub named: f64,
    /// The same among units holding one of the ten commonest tokens.
    pub named_top10: f64,
    /// The share of present units named by a guess that is right more often than not: what an
    /// attacker can name *and trust*. A blind guess (everyone is the commonest name) is right for
    /// as many as hold that name, but the attacker cannot tell which; this counts only the
    /// guesses the data makes likely.
    pub named_confidently: f64,
    /// The share named by an attacker who knows the population's exact ranking: units whose
    /// token's count is not tied with another's.
    pub named_exact_ranking: f64,
}

/// The attack on each cohort apart (`cohorts[u]`: unit `u`'s cohort value; units without one form
/// their own cohort), combined; or on the whole column when `cohorts` is `None`.
pub fn attack_by_cohort(
    column: &str,
    tokens: &[Option<u128>],
    cohorts: Cohorts<'_>,
    list: usize,
    seed: u64,
) -> (Attack, Vec<f64>) {
    match cohorts.by {
        Some(c) => super::cohort::attack(column, tokens, c, cohorts.bands, cohorts.other, list, seed),
        None => attack(column, tokens, list, seed),
    }
}

/// How a salted column's units are grouped for the attack: by cohort (`by`), by the name's
/// frequency band within it, and the other name's tokens (for the collision estimate).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cohorts<'a> {
    /// Each unit's cohort; `None`: attack the whole column.
    pub by: Option<&'a [Option<u128>]>,
    /// Each unit's band of this name.
    pub bands: Option<&'a [Option<u128>]>,
    /// Each unit's token of the other name.
    pub other: Option<&'a [Option<u128>]>,
}

/// Running totals of an attack estimate over groups of ranked tokens (a whole column, or its
/// cohorts one by one).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    named: f64,
    named10: f64,
    n10: u64,
    confident: u64,
    exact: u64,
    present: u64,
}

impl Tally {
    /// Adds one group's tokens with their counts, commonest first, where `p(rank, untied)` is the
    /// chance that the token at `rank` is named; returns each token's chance.
    pub(crate) fn add(&mut self, counts: &[(u128, u64)], p: impl Fn(usize, bool) -> f64) -> HashMap<u128, f64> {
        let mut per_count: HashMap<u64, u64> = HashMap::default();
        for c in counts {
            *per_count.entry(c.1).or_default() += 1;
        }
        let mut p_token = HashMap::default();
        for (rank, &(token, k)) in counts.iter().enumerate() {
            // Exact ranking: a token is named unless another has the same count.
            let untied = per_count[&k] == 1;
            let q = p(rank, untied);
            p_token.insert(token, q);
            self.named += q * k as f64;
            if q >= CONFIDENT {
                self.confident += k;
            }
            if rank < 10 {
                self.named10 += q * k as f64;
                self.n10 += k;
            }
            if untied {
                self.exact += k;
            }
            self.present += k;
        }
        p_token
    }

    /// The attack's outcome on `column`.
    pub(crate) fn finish(&self, column: &str) -> Attack {
        let div = |x: f64, n: u64| if n == 0 { 0.0 } else { x / n as f64 };
        Attack {
            column: column.to_string(),
            named: div(self.named, self.present),
            named_top10: div(self.named10, self.n10),
            named_confidently: div(self.confident as f64, self.present),
            named_exact_ranking: div(self.exact as f64, self.present),
        }
    }
}

/// Runs the attack estimate on `tokens` by an attacker whose public list ranks `list` names.
/// Returns the outcome and, per unit, the estimated chance its token is named (0 where absent).
pub fn attack(column: &str, tokens: &[Option<u128>], list: usize, seed: u64) -> (Attack, Vec<f64>) {
    let counts = sorted_counts(tokens);
    let observed: Vec<u64> = counts.iter().take(list).map(|c| c.1).collect();
    let p_rank = rank_success(&observed, seed);
    let mut tally = Tally::default();
    // The simulation takes ties into account: a rank's chance stands whether or not it is tied.
    let p_token = tally.add(&counts, |rank, _| p_rank.get(rank).copied().unwrap_or(0.0));
    let per_unit = tokens.iter().map(|t| t.map_or(0.0, |t| p_token.get(&t).copied().unwrap_or(0.0))).collect();
    (tally.finish(column), per_unit)
}

/// For each rank, the chance that it holds the same token in a fresh population of the same size,
/// untied: the chance that the data's order at that rank is the population's (the order the public
/// list gives), and so that the attacker names it correctly. Each simulation redraws every count
/// around its observed value (`c ± √c`, the sampling noise of a count); the order of counts far
/// apart survives, that of close or small counts does not.
fn rank_success(observed: &[u64], seed: u64) -> Vec<f64> {
    if observed.is_empty() {
        return Vec::new();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut hits = vec![0u32; observed.len()];
    let mut sample: Vec<(f64, usize)> = Vec::with_capacity(observed.len());
    for _ in 0..SIMULATIONS {
        sample.clear();
        for (i, &c) in observed.iter().enumerate() {
            let c = c as f64;
            sample.push(((c + c.sqrt() * normal(&mut rng)).round().max(0.0), i));
        }
        // Ties are broken against the attacker: a tied token is taken as misnamed.
        sample.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
        for (rank, &(count, token)) in sample.iter().enumerate() {
            let tied = (rank > 0 && sample[rank - 1].0 == count) || sample.get(rank + 1).is_some_and(|x| x.0 == count);
            if token == rank && count > 0.0 && !tied {
                hits[rank] += 1;
            }
        }
    }
    hits.iter().map(|&h| h as f64 / SIMULATIONS as f64).collect()
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut rand_chacha::ChaCha8Rng) -> f64 {
    use rand::RngExt;
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Distinct tokens with their unit counts, commonest first (ties by token, for determinism).
pub(crate) fn sorted_counts(tokens: &[Option<u128>]) -> Vec<(u128, u64)> {
    let mut m: HashMap<u128, u64> = HashMap::default();
    for t in tokens.iter().flatten() {
        *m.entry(*t).or_default() += 1;
    }
    let mut v: Vec<(u128, u64)> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_stats_count_shares() {
        let t = [Some(1), Some(1), Some(1), Some(2), Some(3), None];
        let s = ColumnStats::of("c", &t);
        assert_eq!((s.present, s.distinct), (5, 3));
        assert!((s.top1 - 0.6).abs() < 1e-12 && (s.top10 - 1.0).abs() < 1e-12 && (s.unique_share - 0.4).abs() < 1e-12);
    }

    #[test]
    fn a_steep_list_in_a_large_population_is_named_and_a_flat_one_is_not() {
        // A steep distribution in a large population: the top ranks are stable.
        let steep: Vec<f64> = (1..=50).map(|r| 1.0 / (r as f64).powi(2)).collect();
        let mut tokens = Vec::new();
        for (i, w) in steep.iter().enumerate() {
            for _ in 0..(w * 10_000.0) as usize {
                tokens.push(Some(i as u128));
            }
        }
        let (a, per_unit) = attack("family", &tokens, 50, 1);
        assert!(a.named > 0.8, "{a:?}");
        assert_eq!(per_unit.len(), tokens.len());
        // The attacker's list ranks only the commonest: nothing below it is named.
        let (short, _) = attack("family", &tokens, 1, 1);
        assert!(short.named < 0.7 && short.named > 0.5, "{short:?}");
        // A flat distribution: every rank is a coin toss among equals.
        let tokens: Vec<Option<u128>> = (0..2_000).map(|i| Some(i % 200)).collect();
        let (a, _) = attack("family", &tokens, 200, 1);
        assert!(a.named < 0.05, "{a:?}");
        assert_eq!(a.named_exact_ranking, 0.0, "all tied");
    }
}
