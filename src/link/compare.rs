//! Comparisons: a candidate pair's agreement pattern, one level per field, from tokens alone.
//!
//! The default comparisons and their levels (level 0, "null", when either side is missing):
//!
//! | comparison | levels, best first |
//! |---|---|
//! | `nhs_number` | exact · else (two different valid numbers: strong evidence against) |
//! | `given_name` | exact · exact with the other's family name (swapped) · phonetic · Dice ≥ 0.8 · Dice ≥ 0.6 · else |
//! | `family_name` | as `given_name` |
//! | `date_of_birth` | exact · day and month swapped · year and month · year · else |
//! | `postcode` | full · sector · district · else |
//! | `sex` | exact · else |
//!
//! Dice thresholds act on the Bloom-filter encodings (see `encode::bloom`); 0.8 and 0.6 on
//! bigram filters correspond roughly to Splink's Jaro-Winkler 0.92 and 0.88 levels for names.

use crate::encode::bloom::dice;
use crate::link::data::{BloomCol, Records, TokCol};
use crate::link::model::{Comparison, Level};

/// Number of comparisons in a pattern.
pub const COMPARISONS: usize = 6;

/// An agreement pattern: a level per comparison.
pub type Pattern = [u8; COMPARISONS];

/// Dice thresholds for the name levels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Upper Dice level.
    pub high: f64,
    /// Lower Dice level.
    pub low: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { high: 0.8, low: 0.6 }
    }
}

/// The default comparisons, with starting m and u values for training.
pub fn default_comparisons() -> Vec<Comparison> {
    let name = |n: &str| {
        Comparison::new(
            n,
            vec![
                Level::new("exact", 0.85, 0.002).with_term_frequency(),
                Level::new("swapped with family/given", 0.01, 0.0005),
                Level::new("phonetic", 0.05, 0.005),
                Level::new("Dice >= 0.8", 0.04, 0.005),
                Level::new("Dice >= 0.6", 0.03, 0.02),
                Level::new("else", 0.02, 0.967),
            ],
        )
    };
    vec![
        Comparison::new("nhs_number", vec![Level::new("exact", 0.98, 0.0001), Level::new("else", 0.02, 0.9999)]),
        name("given_name"),
        name("family_name"),
        Comparison::new(
            "date_of_birth",
            vec![
                Level::new("exact", 0.95, 0.0005),
                Level::new("day/month swapped", 0.01, 0.0001),
                Level::new("year and month", 0.02, 0.005),
                Level::new("year", 0.01, 0.05),
                Level::new("else", 0.01, 0.9444),
            ],
        ),
        Comparison::new(
            "postcode",
            vec![
                Level::new("full", 0.85, 0.001),
                Level::new("sector", 0.05, 0.01),
                Level::new("district", 0.05, 0.05),
                Level::new("else", 0.05, 0.939),
            ],
        ),
        Comparison::new("sex", vec![Level::new("exact", 0.98, 0.5), Level::new("else", 0.02, 0.5)]),
    ]
}

#[inline]
fn eq(c: &TokCol, a: usize, b: usize) -> Option<bool> {
    match (c.get(a), c.get(b)) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    }
}

#[inline]
fn cross(x: &TokCol, a: usize, y: &TokCol, b: usize) -> bool {
    matches!((x.get(a), y.get(b)), (Some(p), Some(q)) if p == q)
}

#[inline]
fn name_level(
    own: &(TokCol, TokCol, BloomCol),
    other: &(TokCol, TokCol, BloomCol),
    a: usize,
    b: usize,
    t: Thresholds,
) -> u8 {
    let Some(exact) = eq(&own.0, a, b) else { return 0 };
    if exact {
        return 1;
    }
    if cross(&own.0, a, &other.0, b) && cross(&other.0, a, &own.0, b) {
        return 2;
    }
    if eq(&own.1, a, b) == Some(true) {
        return 3;
    }
    if let (Some(x), Some(y)) = (own.2.get(a), own.2.get(b)) {
        let d = dice(x, y);
        if d >= t.high {
            return 4;
        }
        if d >= t.low {
            return 5;
        }
    }
    6
}

/// The agreement pattern of records `a` and `b`.
pub fn pattern(r: &Records, a: usize, b: usize, t: Thresholds) -> Pattern {
    let nhs = match eq(&r.nhs, a, b) {
        None => 0,
        Some(true) => 1,
        Some(false) => 2,
    };
    let given = name_level(&r.given, &r.family, a, b, t);
    let family = name_level(&r.family, &r.given, a, b, t);
    let dob = match eq(&r.dob[0], a, b) {
        None => 0,
        Some(true) => 1,
        Some(false) => {
            if cross(&r.dob[1], a, &r.dob[0], b) || cross(&r.dob[0], a, &r.dob[1], b) {
                2
            } else if eq(&r.dob[2], a, b) == Some(true) {
                3
            } else if eq(&r.dob[3], a, b) == Some(true) {
                4
            } else {
                5
            }
        }
    };
    let postcode = match eq(&r.postcode[0], a, b) {
        Some(true) => 1,
        _ if eq(&r.postcode[2], a, b).is_none() => 0,
        _ if eq(&r.postcode[1], a, b) == Some(true) => 2,
        _ if eq(&r.postcode[2], a, b) == Some(true) => 3,
        _ => 4,
    };
    let sex = match (r.sex[a], r.sex[b]) {
        (0, _) | (_, 0) => 0,
        (x, y) if x == y => 1,
        _ => 2,
    };
    [nhs, given, family, dob, postcode, sex]
}
