//! The link config (`--config LINK.toml`): every setting optional, defaulted from the documented
//! constants, unknown settings refused, every problem reported at once.
//!
//! ```toml
//! threshold = 0.9              # link pairs at or above this match probability
//! seed = 42                    # seed of the random-pair sample for u
//! u_sample = 1000000           # random pairs for u
//! max_block = 1000             # larger blocks are skipped and reported
//! max_pairs = 50000000         # more candidate pairs than this: refused before they are made
//! conflict_override = 0.999999 # probability at which a link may join different NHS numbers
//! dice_high = 0.8              # name Bloom Dice levels
//! dice_low = 0.6
//! term_frequency = true        # weigh exact name agreement by how common the name is
//!
//! link_type = "link_and_dedupe" # or "link_only", "dedupe_only"
//! pairs_floor = 0.001          # pairs below this probability are not written (0: all)
//!
//! [[blocking]]                 # replaces the default rules when present
//! rule = ["nhs_number"]
//! [[blocking]]
//! rule = ["dob", "family_phonetic"]
//!
//! [[comparison]]               # replaces the default comparisons when present
//! name = "family_name"
//! field = "family_name"
//! levels = ["exact", "phonetic", "dice >= 0.8"]
//! term_frequency = true
//! ```
//!
//! Blocking keys: `nhs_number`, `given_exact`, `given_phonetic`, `family_exact`,
//! `family_phonetic`, `dob`, `dob_year`, `postcode`, `postcode_district`, or the name of an
//! identifier or string field (its exact token). Comparison fields: `nhs_number`, `given_name`,
//! `family_name`, `date_of_birth`, `postcode`, `sex`, or an identifier or string field's name;
//! levels as `link::compare::Rule::parse` reads them.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::link::LinkOptions;
use crate::link::blocking::Key;

/// A link config as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// Match threshold.
    pub threshold: Option<f64>,
    /// Seed for u sampling.
    pub seed: Option<u64>,
    /// Random pairs for u.
    pub u_sample: Option<usize>,
    /// Largest block.
    pub max_block: Option<usize>,
    /// Most candidate pairs compared (default: 10,000,000 plus 50 per identity).
    pub max_pairs: Option<u64>,
    /// Conflict override probability.
    pub conflict_override: Option<f64>,
    /// Upper name Dice level.
    pub dice_high: Option<f64>,
    /// Lower name Dice level.
    pub dice_low: Option<f64>,
    /// Term-frequency adjustment of exact name agreement.
    pub term_frequency: Option<bool>,
    /// Which pairs may link.
    pub link_type: Option<String>,
    /// Pairs below this match probability are not written to `pairs.parquet` (0: all).
    pub pairs_floor: Option<f64>,
    /// Link each record to at most one of the other source (`link_only`, two sources).
    pub one_to_one: Option<bool>,
    /// Blocking rules, replacing the defaults.
    #[serde(default)]
    pub blocking: Vec<BlockingRule>,
    /// Comparisons, replacing the defaults.
    #[serde(default, rename = "comparison")]
    pub comparisons: Vec<crate::link::compare::ComparisonSpec>,
}

/// One blocking rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockingRule {
    /// The keys that must all agree.
    pub rule: Vec<Key>,
}

impl LinkConfig {
    /// Reads and checks a link config.
    pub fn read(path: &Path) -> Result<LinkConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading config", path, e))?;
        LinkConfig::from_toml_str(&text, path)
    }

    /// Parses and checks a link config's text; `path` names it in messages.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<LinkConfig> {
        let (cfg, syntax) = crate::config::parse_collecting::<LinkConfig>(text);
        let cfg = match cfg {
            Some(c) if syntax.is_empty() => c,
            Some(c) => return Err(Error::config(path, syntax.into_iter().chain(c.problems()).collect())),
            None => return Err(Error::config(path, syntax)),
        };
        let p = cfg.problems();
        if p.is_empty() { Ok(cfg) } else { Err(Error::config(path, p)) }
    }

    /// Every problem with the settings.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let prob = |name: &str, v: Option<f64>, p: &mut Vec<String>| {
            if let Some(x) = v {
                if !(x > 0.0 && x < 1.0) {
                    p.push(format!("`{name}` must be between 0 and 1"));
                }
            }
        };
        prob("threshold", self.threshold, &mut p);
        prob("conflict_override", self.conflict_override, &mut p);
        prob("dice_high", self.dice_high, &mut p);
        prob("dice_low", self.dice_low, &mut p);
        if let (Some(h), Some(l)) = (self.dice_high, self.dice_low) {
            if l > h {
                p.push("`dice_low` must not exceed `dice_high`".into());
            }
        }
        if self.max_block == Some(0) || self.max_block.is_some_and(|m| m > 100_000) {
            p.push("`max_block` must be between 1 and 100000".into());
        }
        if self.u_sample.is_some_and(|u| u == 0 || u > 100_000_000) {
            p.push("`u_sample` must be between 1 and 100,000,000 (random pairs held in memory)".into());
        }
        for (i, b) in self.blocking.iter().enumerate() {
            if b.rule.is_empty() {
                p.push(format!("blocking rule {} is empty", i + 1));
            }
        }
        if self.pairs_floor.is_some_and(|f| !(0.0..1.0).contains(&f)) {
            p.push("`pairs_floor` must be at least 0 and below 1".into());
        }
        if let Some(t) = &self.link_type {
            if crate::link::LinkType::parse(t).is_none() {
                p.push(format!("link_type `{t}` is not one of link_and_dedupe, link_only, dedupe_only"));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for c in &self.comparisons {
            if let Err(e) = crate::link::compare::ComparisonDef::from_spec(c) {
                p.push(e.into());
            }
            if !names.insert(c.name.as_str()) {
                p.push(format!("two comparisons are called `{}`", c.name));
            }
        }
        if self.comparisons.len() > crate::link::compare::MAX_COMPARISONS {
            p.push(format!("at most {} comparisons", crate::link::compare::MAX_COMPARISONS));
        }
        p
    }

    /// A run's options: the defaults, then `file`'s settings (a link config, already checked),
    /// then `overrides` (the command line's flags, or a Python call's arguments) — each checked
    /// by the same rules as a config, so a value a config refuses is refused however it is given.
    /// Problems are returned as sentences naming the setting.
    pub fn options(file: Option<&LinkConfig>, overrides: &LinkConfig) -> std::result::Result<LinkOptions, Vec<String>> {
        let mut options = LinkOptions::default();
        if let Some(f) = file {
            f.apply(&mut options);
        }
        let problems = overrides.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        overrides.apply(&mut options);
        if options.one_to_one && options.link_type != crate::link::LinkType::LinkOnly {
            return Err(vec![
                "`one_to_one` links two sources each free of duplicates: it needs link_type = \"link_only\"".into(),
            ]);
        }
        Ok(options)
    }

    /// Applies these settings over `options`.
    pub fn apply(&self, options: &mut LinkOptions) {
        if let Some(x) = self.threshold {
            options.threshold = x;
        }
        if let Some(x) = self.seed {
            options.seed = x;
        }
        if let Some(x) = self.u_sample {
            options.u_sample = x;
        }
        if let Some(x) = self.max_block {
            options.max_block = x;
        }
        if let Some(x) = self.max_pairs {
            options.max_pairs = Some(x);
        }
        if let Some(x) = self.conflict_override {
            options.conflict_override = x;
        }
        if let Some(x) = self.dice_high {
            options.thresholds.high = x;
        }
        if let Some(x) = self.dice_low {
            options.thresholds.low = x;
        }
        if let Some(x) = self.term_frequency {
            options.term_frequency = x;
        }
        if !self.blocking.is_empty() {
            options.rules = self.blocking.iter().map(|b| b.rule.clone()).collect();
        }
        if let Some(f) = self.pairs_floor {
            options.pairs_floor = f;
        }
        if let Some(x) = self.one_to_one {
            options.one_to_one = x;
        }
        if let Some(t) = self.link_type.as_deref().and_then(crate::link::LinkType::parse) {
            options.link_type = t;
        }
        if !self.comparisons.is_empty() {
            options.comparisons = Some(
                self.comparisons
                    .iter()
                    .filter_map(|c| crate::link::compare::ComparisonDef::from_spec(c).ok())
                    .collect(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_applies_and_reports_every_problem() {
        let cfg: LinkConfig =
            toml::from_str("threshold = 0.95\n[[blocking]]\nrule = [\"dob\", \"family_phonetic\"]\n").unwrap();
        let mut o = LinkOptions::default();
        cfg.apply(&mut o);
        assert_eq!(o.threshold, 0.95);
        assert_eq!(o.rules, vec![vec![Key::Dob, Key::FamilyPhonetic]]);
        let bad: LinkConfig =
            toml::from_str("threshold = 2.0\ndice_high = 0.5\ndice_low = 0.7\nmax_block = 0\n").unwrap();
        assert_eq!(bad.problems().len(), 3);
        // A key that is not a standard one names an identifier or string field, checked against
        // the extracts when the run starts.
        let field: LinkConfig = toml::from_str("[[blocking]]\nrule = [\"local_id\"]\n").unwrap();
        assert_eq!(field.blocking[0].rule, vec![Key::Field("local_id".into())]);
        let bad: LinkConfig = toml::from_str(
            "link_type = \"link_most\"\n[[comparison]]\nname = \"a\"\nfield = \"given_name\"\nlevels = [\"exact\", \"sector\"]\n",
        )
        .unwrap();
        let p = bad.problems();
        assert!(
            p.iter().any(|m| m.contains("link_most")) && p.iter().any(|m| m.contains("`sector` does not apply")),
            "{p:?}"
        );
    }
}
