//! Public name-frequency lists: what an attacker outside the NHS can know.
//!
//! Built in: the surnames and given names common in England and Wales, commonest first, with the
//! Zipf-like frequencies `1 / rank^0.85` that reproduce published surname statistics (the
//! commonest surname held by about 1 in 80 people, the top 20 by about 1 in 10). A list of one's
//! own can be given as CSV with `name,count` rows (a header row is allowed); only the counts'
//! shape matters to the estimate, so names need not match any spelling convention.

use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::synth::names::{FEMALE, MALE, SURNAMES};

/// Frequencies, commonest first, for family and given names.
#[derive(Debug, Clone)]
pub struct PublicNames {
    /// Family-name frequencies.
    pub family: Vec<f64>,
    /// Given-name frequencies (both sexes together).
    pub given: Vec<f64>,
}

fn zipf(n: usize) -> Vec<f64> {
    (1..=n).map(|r| 1.0 / (r as f64).powf(0.85)).collect()
}

impl PublicNames {
    /// The built-in lists for England and Wales.
    pub fn built_in() -> PublicNames {
        let mut given: Vec<f64> = zipf(FEMALE.len()).into_iter().chain(zipf(MALE.len())).collect();
        given.sort_by(|a, b| b.total_cmp(a));
        PublicNames { family: zipf(SURNAMES.len()), given }
    }

    /// Reads a `name,count` CSV as the frequency list for both family and given names'
    /// columns named by `which` (`family` or `given`); the other keeps the built-in list.
    pub fn with_file(mut self, path: &Path, which: &str) -> Result<PublicNames> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let mut counts = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let count = line.rsplit(',').next().unwrap_or("").trim();
            match count.parse::<f64>() {
                Ok(c) if c >= 0.0 && c.is_finite() => counts.push(c),
                _ if i == 0 => {} // a header
                _ => {
                    return Err(Error::input(
                        Location::file(path).at_row(i as u64 + 1),
                        "expected `name,count` with a non-negative count",
                    ));
                }
            }
        }
        if counts.is_empty() {
            return Err(Error::input(Location::file(path), "holds no `name,count` rows"));
        }
        counts.sort_by(|a, b| b.total_cmp(a));
        match which {
            "given" => self.given = counts,
            _ => self.family = counts,
        }
        Ok(self)
    }
}
