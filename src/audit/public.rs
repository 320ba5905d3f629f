//! Public name-frequency lists: what an attacker outside the NHS can know.
//!
//! A rank-alignment attacker needs only the *order* of the commonest names, which national
//! statistics publish; the audit assumes that order is the population's own and asks how far down
//! it the data's token counts are stable enough to line up. So a list matters to the estimate by
//! how many names it ranks. Built in: the 331 surnames and the given names common in England and
//! Wales, commonest first. A list of one's own can be given as CSV with `name,count` rows (a
//! header row is allowed).

use std::path::Path;

use crate::error::{Error, Location, Result};
use crate::synth::names::{FEMALE, MALE, SURNAMES};

/// How many family and given names the attacker's lists rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicNames {
    /// Family names ranked.
    pub family: usize,
    /// Given names ranked (both sexes together).
    pub given: usize,
}

impl PublicNames {
    /// The built-in lists for England and Wales.
    pub fn built_in() -> PublicNames {
        PublicNames { family: SURNAMES.len(), given: FEMALE.len() + MALE.len() }
    }

    /// Reads a `name,count` CSV as the list of `which` (`family` or `given`); the other keeps the
    /// built-in list.
    pub fn with_file(mut self, path: &Path, which: &str) -> Result<PublicNames> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
        let mut names = 0;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let count = line.rsplit(',').next().unwrap_or("").trim();
            match count.parse::<f64>() {
                Ok(c) if c >= 0.0 && c.is_finite() => names += 1,
                _ if i == 0 => {} // a header
                _ => {
                    return Err(Error::input(
                        Location::file(path).at_row(i as u64 + 1),
                        "expected `name,count` with a non-negative count",
                    ));
                }
            }
        }
        if names == 0 {
            return Err(Error::input(Location::file(path), "holds no `name,count` rows"));
        }
        match which {
            "given" => self.given = names,
            _ => self.family = names,
        }
        Ok(self)
    }
}
