//! Quasi-identifier uniqueness: persons singled out by their name tokens with a plain year of
//! birth and sex, and the estimated share both named and singled out.

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::audit::Units;
use crate::config::FieldType;

/// What the combination singles out.
#[derive(Debug, Clone, Serialize)]
pub struct Uniqueness {
    /// The columns combined.
    pub combination: Vec<String>,
    /// Share of units unique on the combination (among units holding every part).
    pub unique: f64,
    /// Estimated share of all units both named (given and family, by the attack) and unique.
    pub named_and_unique: f64,
}

/// Given-name token, family-name token, year of birth, sex.
type Combination = (Option<u128>, Option<u128>, Option<i32>, Option<u8>);

/// Measures uniqueness on (given exact, family exact, year of birth, sex) with the attack's
/// per-unit chances of naming the given and family names.
pub(crate) fn measure(units: &Units, given: Option<&Vec<f64>>, family: Option<&Vec<f64>>) -> Uniqueness {
    let col =
        |kind: FieldType| units.kinds.iter().zip(&units.names).position(|(k, n)| *k == kind && n.ends_with("_exact"));
    let (g, f) = (col(FieldType::GivenName), col(FieldType::FamilyName));
    let mut combination: Vec<String> = [g, f].iter().flatten().map(|&k| units.names[k].clone()).collect();
    let has_year = units.year.iter().any(Option::is_some);
    let has_sex = units.sex.iter().any(Option::is_some);
    if has_year {
        combination.push("year of birth (plain)".into());
    }
    if has_sex {
        combination.push("sex (plain)".into());
    }
    let n = units.year.len();
    let key = |u: usize| -> Option<Combination> {
        let gt = g.map(|k| units.tokens[k][u]);
        let ft = f.map(|k| units.tokens[k][u]);
        if gt.is_some_and(|t| t.is_none()) || ft.is_some_and(|t| t.is_none()) {
            return None;
        }
        Some((gt.flatten(), ft.flatten(), units.year[u], units.sex[u]))
    };
    let mut counts: HashMap<Combination, u32> = HashMap::default();
    for u in 0..n {
        if let Some(k) = key(u) {
            *counts.entry(k).or_default() += 1;
        }
    }
    let (mut held, mut unique, mut named_unique) = (0u64, 0u64, 0.0);
    for u in 0..n {
        let Some(k) = key(u) else { continue };
        held += 1;
        if counts[&k] == 1 {
            unique += 1;
            let pg = given.map_or(0.0, |v| v[u]);
            let pf = family.map_or(0.0, |v| v[u]);
            named_unique += pg * pf;
        }
    }
    Uniqueness {
        combination,
        unique: if held == 0 { 0.0 } else { unique as f64 / held as f64 },
        named_and_unique: if n == 0 { 0.0 } else { named_unique / n as f64 },
    }
}
