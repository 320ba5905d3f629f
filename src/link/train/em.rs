//! Expectation–maximisation over agreement-pattern counts.
//!
//! Candidate pairs are summarised as counts of distinct agreement patterns (one level per
//! comparison) — thousands of patterns, not millions of pairs — so each EM iteration costs
//! microseconds. The estimator assumes comparisons are independent given match status (the
//! Fellegi–Sunter assumption); real fields are correlated (postcode and surname in a household),
//! which EM absorbs partly into λ. As in Splink's default, `u` can be held fixed at the values
//! estimated from random pairs (`fix_u`), which makes EM far better behaved: only m and λ move.
//!
//! E-step: for pattern γ, `P(match | γ) = λ·Πm / (λ·Πm + (1 − λ)·Πu)`, null levels skipped.
//! M-step: `m_k[l]` = expected matches with level l on comparison k / expected matches with a
//! non-null level on k; likewise u with non-matches; `λ` = expected matches / pairs.
//! Iterations are deterministic: patterns are processed in sorted order.

use crate::link::model::{MIN_PROBABILITY, Model};

/// Default largest number of iterations.
pub const DEFAULT_MAX_ITERATIONS: usize = 100;
/// Default convergence threshold on the largest change of any parameter.
pub const DEFAULT_TOLERANCE: f64 = 1e-5;

/// EM settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EmOptions {
    /// Stop after this many iterations.
    pub max_iterations: usize,
    /// Stop when no parameter moves by more than this.
    pub tolerance: f64,
    /// Keep u fixed (estimated elsewhere, from random pairs).
    pub fix_u: bool,
    /// Keep λ fixed.
    pub fix_prior: bool,
    /// Comparisons whose m and u stay fixed (`fixed[k]`): those a training session's pairs were
    /// blocked on, whose agreement is forced by the blocking rather than evidence of a match.
    pub fixed: Vec<bool>,
}

impl Default for EmOptions {
    fn default() -> Self {
        EmOptions {
            max_iterations: DEFAULT_MAX_ITERATIONS,
            tolerance: DEFAULT_TOLERANCE,
            fix_u: false,
            fix_prior: false,
            fixed: Vec::new(),
        }
    }
}

/// What EM did.
#[derive(Debug, Clone, PartialEq)]
pub struct EmReport {
    /// Iterations run.
    pub iterations: usize,
    /// Whether the tolerance was reached.
    pub converged: bool,
    /// Largest parameter change in each iteration, as Splink logs it.
    pub changes: Vec<f64>,
}

/// Runs EM on `model` in place over `(pattern, count)` pairs.
pub fn train(model: &mut Model, patterns: &[(Vec<u8>, u64)], options: &EmOptions) -> EmReport {
    let mut sorted: Vec<&(Vec<u8>, u64)> = patterns.iter().filter(|(_, c)| *c > 0).collect();
    sorted.sort();
    let ncomp = model.comparisons.len();
    let mut changes = Vec::new();
    for _ in 0..options.max_iterations {
        // Expected counts per level among matches and non-matches.
        let mut em: Vec<Vec<f64>> = model.comparisons.iter().map(|c| vec![0.0; c.levels.len()]).collect();
        let mut eu = em.clone();
        let (mut matches, mut total) = (0.0f64, 0.0f64);
        let lambda = model.prior;
        for (pattern, count) in &sorted {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for (k, &l) in pattern.iter().enumerate().take(ncomp) {
                if l != 0 {
                    let lv = &model.comparisons[k].levels[l as usize];
                    pm *= lv.m.max(MIN_PROBABILITY);
                    pu *= lv.u.max(MIN_PROBABILITY);
                }
            }
            let w = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 };
            let c = *count as f64;
            matches += w * c;
            total += c;
            for (k, &l) in pattern.iter().enumerate().take(ncomp) {
                if l != 0 {
                    em[k][l as usize] += w * c;
                    eu[k][l as usize] += (1.0 - w) * c;
                }
            }
        }
        let mut change = 0.0f64;
        for (k, comp) in model.comparisons.iter_mut().enumerate() {
            if options.fixed.get(k).copied().unwrap_or(false) {
                continue;
            }
            let sm: f64 = em[k][1..].iter().sum();
            let su: f64 = eu[k][1..].iter().sum();
            for (l, level) in comp.levels.iter_mut().enumerate().skip(1) {
                if sm > 0.0 {
                    let m = (em[k][l] / sm).max(MIN_PROBABILITY);
                    change = change.max((m - level.m).abs());
                    level.m = m;
                }
                if !options.fix_u && su > 0.0 {
                    let u = (eu[k][l] / su).max(MIN_PROBABILITY);
                    change = change.max((u - level.u).abs());
                    level.u = u;
                }
            }
        }
        if !options.fix_prior && total > 0.0 {
            let p = (matches / total).clamp(MIN_PROBABILITY, 1.0 - MIN_PROBABILITY);
            change = change.max((p - model.prior).abs());
            model.prior = p;
        }
        changes.push(change);
        if change < options.tolerance {
            return EmReport { iterations: changes.len(), converged: true, changes };
        }
    }
    EmReport { iterations: changes.len(), converged: false, changes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::model::{Comparison, Level};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

    /// Draws a level from probabilities (index 1-based: level 0 is null).
    fn draw(rng: &mut ChaCha8Rng, probs: &[f64]) -> u8 {
        let mut x = rng.random::<f64>();
        for (i, p) in probs.iter().enumerate() {
            if x < *p {
                return (i + 1) as u8;
            }
            x -= p;
        }
        probs.len() as u8
    }

    /// Simulate pairs from known m, u and λ; EM from a poor start recovers them
    /// (after Splink's `tests/test_correctness_of_convergence.py`).
    #[test]
    fn em_recovers_known_m_u_and_prior() {
        let truth_m = [vec![0.9, 0.07, 0.03], vec![0.8, 0.15, 0.05], vec![0.85, 0.15], vec![0.7, 0.2, 0.1]];
        let truth_u = [vec![0.001, 0.02, 0.979], vec![0.01, 0.09, 0.90], vec![0.05, 0.95], vec![0.02, 0.18, 0.8]];
        let lambda = 0.05;
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut counts: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
        for _ in 0..400_000 {
            let is_match = rng.random_bool(lambda);
            let pattern: Vec<u8> = (0..truth_m.len())
                .map(|k| {
                    if rng.random_bool(0.05) {
                        0 // missing on one side
                    } else {
                        draw(&mut rng, if is_match { &truth_m[k] } else { &truth_u[k] })
                    }
                })
                .collect();
            *counts.entry(pattern).or_default() += 1;
        }
        let patterns: Vec<(Vec<u8>, u64)> = counts.into_iter().collect();
        let start = |n: usize| -> Vec<Level> {
            (0..n)
                .map(|i| Level::new(&format!("l{i}"), if i == 0 { 0.6 } else { 0.4 / (n - 1) as f64 }, 1.0 / n as f64))
                .collect()
        };
        let mut model = Model::new(
            0.3,
            truth_m.iter().enumerate().map(|(k, m)| Comparison::new(&format!("c{k}"), start(m.len()))).collect(),
        );
        let report =
            train(&mut model, &patterns, &EmOptions { max_iterations: 500, tolerance: 1e-7, ..Default::default() });
        assert!(report.converged, "{report:?}");
        assert!((model.prior - lambda).abs() < 0.005, "prior {}", model.prior);
        for (k, c) in model.comparisons.iter().enumerate() {
            for l in 1..c.levels.len() {
                let (m, u) = (c.levels[l].m, c.levels[l].u);
                assert!((m - truth_m[k][l - 1]).abs() < 0.02, "m[{k}][{l}] = {m}, truth {}", truth_m[k][l - 1]);
                assert!((u - truth_u[k][l - 1]).abs() < 0.01, "u[{k}][{l}] = {u}, truth {}", truth_u[k][l - 1]);
            }
        }
        // Deterministic: the same input gives the same model.
        let mut again = Model::new(
            0.3,
            truth_m.iter().enumerate().map(|(k, m)| Comparison::new(&format!("c{k}"), start(m.len()))).collect(),
        );
        let mut shuffled = patterns.clone();
        shuffled.reverse();
        train(&mut again, &shuffled, &EmOptions { max_iterations: 500, tolerance: 1e-7, ..Default::default() });
        assert_eq!(again, model);
    }

    #[test]
    fn fixed_comparisons_stay_fixed() {
        let mut model = Model::new(
            0.1,
            vec![
                Comparison::new("a", vec![Level::new("eq", 0.5, 0.01), Level::new("ne", 0.5, 0.99)]),
                Comparison::new("b", vec![Level::new("eq", 0.5, 0.01), Level::new("ne", 0.5, 0.99)]),
            ],
        );
        let patterns = vec![(vec![1u8, 1], 100u64), (vec![1, 2], 900u64), (vec![2, 2], 50u64)];
        train(&mut model, &patterns, &EmOptions { fixed: vec![true, false], ..Default::default() });
        assert_eq!(model.comparisons[0].levels[1].m, 0.5);
        assert_ne!(model.comparisons[1].levels[1].m, 0.5);
    }

    #[test]
    fn fixed_u_stays_fixed() {
        let mut model =
            Model::new(0.1, vec![Comparison::new("a", vec![Level::new("eq", 0.5, 0.01), Level::new("ne", 0.5, 0.99)])]);
        let patterns = vec![(vec![1u8], 100u64), (vec![2u8], 900u64), (vec![0u8], 50u64)];
        train(&mut model, &patterns, &EmOptions { fix_u: true, ..Default::default() });
        assert_eq!(model.comparisons[0].levels[1].u, 0.01);
        assert!(model.comparisons[0].levels[1].m > 0.5);
    }
}
