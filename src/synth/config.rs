//! Knobs of the synthetic population: every error rate per provider, with documented defaults.
//!
//! Rates are probabilities per provider *registration* (a provider's demographic record of a
//! person, copied onto each of that person's events there), because that is how errors arise
//! in real systems: a receptionist mistypes a date of birth once and every later event carries
//! it. `docs/synthetic-data.md` explains each error and its default.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Error rates at one provider. All are probabilities in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorRates {
    /// NHS number left blank.
    pub nhs_missing: f64,
    /// NHS number mistyped: one digit changed, or two adjacent digits transposed.
    pub nhs_typo: f64,
    /// Another person's NHS number recorded (a relative's, usually a household member's).
    pub nhs_shared: f64,
    /// One-character typing error (substitution, insertion, deletion) in a name.
    pub name_typo: f64,
    /// Given name recorded as a nickname (William → Bill), when the name has one.
    pub nickname: f64,
    /// Given and family names swapped.
    pub name_swap: f64,
    /// A previous or later family name (marriage, divorce), for adults.
    pub surname_change: f64,
    /// Date of birth with day and month exchanged (when the day is 12 or less).
    pub dob_swap: f64,
    /// One digit of the date of birth wrong.
    pub dob_digit: f64,
    /// Postcode out of date: the person has moved.
    pub postcode_moved: f64,
    /// Postcode left blank.
    pub postcode_missing: f64,
    /// A second registration of the same person at this provider (its own errors, often no NHS number).
    pub duplicate: f64,
    /// Sex left blank or recorded as unknown.
    pub sex_missing: f64,
}

impl Default for ErrorRates {
    fn default() -> Self {
        ErrorRates {
            nhs_missing: 0.02,
            nhs_typo: 0.004,
            nhs_shared: 0.001,
            name_typo: 0.02,
            nickname: 0.03,
            name_swap: 0.005,
            surname_change: 0.01,
            dob_swap: 0.005,
            dob_digit: 0.005,
            postcode_moved: 0.05,
            postcode_missing: 0.02,
            duplicate: 0.01,
            sex_missing: 0.005,
        }
    }
}

impl ErrorRates {
    /// These rates multiplied by `factor` (capped at 1).
    pub fn scaled(&self, factor: f64) -> ErrorRates {
        let s = |x: f64| (x * factor).clamp(0.0, 1.0);
        ErrorRates {
            nhs_missing: s(self.nhs_missing),
            nhs_typo: s(self.nhs_typo),
            nhs_shared: s(self.nhs_shared),
            name_typo: s(self.name_typo),
            nickname: s(self.nickname),
            name_swap: s(self.name_swap),
            surname_change: s(self.surname_change),
            dob_swap: s(self.dob_swap),
            dob_digit: s(self.dob_digit),
            postcode_moved: s(self.postcode_moved),
            postcode_missing: s(self.postcode_missing),
            duplicate: s(self.duplicate),
            sex_missing: s(self.sex_missing),
        }
    }

    /// The knob names.
    pub const KNOBS: [&'static str; 13] = [
        "nhs_missing",
        "nhs_typo",
        "nhs_shared",
        "name_typo",
        "nickname",
        "name_swap",
        "surname_change",
        "dob_swap",
        "dob_digit",
        "postcode_moved",
        "postcode_missing",
        "duplicate",
        "sex_missing",
    ];

    /// The rate named `knob`, for setting.
    pub fn knob_mut(&mut self, knob: &str) -> Option<&mut f64> {
        Some(match knob {
            "nhs_missing" => &mut self.nhs_missing,
            "nhs_typo" => &mut self.nhs_typo,
            "nhs_shared" => &mut self.nhs_shared,
            "name_typo" => &mut self.name_typo,
            "nickname" => &mut self.nickname,
            "name_swap" => &mut self.name_swap,
            "surname_change" => &mut self.surname_change,
            "dob_swap" => &mut self.dob_swap,
            "dob_digit" => &mut self.dob_digit,
            "postcode_moved" => &mut self.postcode_moved,
            "postcode_missing" => &mut self.postcode_missing,
            "duplicate" => &mut self.duplicate,
            "sex_missing" => &mut self.sex_missing,
            _ => return None,
        })
    }

    #[cfg(test)]
    fn all(&self) -> [(&'static str, f64); 13] {
        [
            ("nhs_missing", self.nhs_missing),
            ("nhs_typo", self.nhs_typo),
            ("nhs_shared", self.nhs_shared),
            ("name_typo", self.name_typo),
            ("nickname", self.nickname),
            ("name_swap", self.name_swap),
            ("surname_change", self.surname_change),
            ("dob_swap", self.dob_swap),
            ("dob_digit", self.dob_digit),
            ("postcode_moved", self.postcode_moved),
            ("postcode_missing", self.postcode_missing),
            ("duplicate", self.duplicate),
            ("sex_missing", self.sex_missing),
        ]
    }
}

/// The providers of the synthetic care system.
pub const PROVIDERS: [&str; 5] = ["acute", "ae", "gp", "community_mh", "social_care"];

/// Sources added on request (`synth --with housing`): cross-sector sources with no NHS numbers,
/// linked on names, date of birth, an address line and a local id.
pub const EXTRA_SOURCES: [&str; 1] = ["housing"];

/// Default rates per provider: GP and hospital records are the cleanest; social care and
/// community services most often lack an NHS number.
pub fn default_rates(provider: &str) -> ErrorRates {
    let base = ErrorRates::default();
    match provider {
        "acute" => ErrorRates { nhs_missing: 0.01, ..base },
        "ae" => ErrorRates {
            nhs_missing: 0.05,
            nhs_typo: 0.006,
            nhs_shared: 0.002,
            name_typo: 0.03,
            nickname: 0.05,
            name_swap: 0.01,
            dob_swap: 0.01,
            dob_digit: 0.01,
            postcode_missing: 0.04,
            duplicate: 0.02,
            ..base
        },
        "gp" => ErrorRates {
            nhs_missing: 0.002,
            nhs_typo: 0.001,
            name_typo: 0.01,
            nickname: 0.02,
            name_swap: 0.002,
            surname_change: 0.005,
            dob_swap: 0.002,
            dob_digit: 0.002,
            postcode_moved: 0.02,
            postcode_missing: 0.005,
            duplicate: 0.005,
            sex_missing: 0.001,
            ..base
        },
        "community_mh" => ErrorRates {
            nhs_missing: 0.08,
            name_typo: 0.03,
            nickname: 0.04,
            dob_swap: 0.01,
            dob_digit: 0.008,
            postcode_missing: 0.03,
            duplicate: 0.02,
            ..base
        },
        // A council's housing register: no NHS numbers; names as the tenant gave them, moves.
        "housing" => ErrorRates {
            nhs_missing: 1.0,
            name_typo: 0.04,
            nickname: 0.08,
            name_swap: 0.01,
            surname_change: 0.03,
            dob_swap: 0.015,
            dob_digit: 0.015,
            postcode_moved: 0.06,
            postcode_missing: 0.02,
            duplicate: 0.03,
            sex_missing: 0.03,
            ..base
        },
        _ => ErrorRates {
            nhs_missing: 0.25,
            nhs_typo: 0.01,
            name_typo: 0.04,
            nickname: 0.05,
            name_swap: 0.01,
            surname_change: 0.02,
            dob_swap: 0.015,
            dob_digit: 0.015,
            postcode_missing: 0.05,
            duplicate: 0.03,
            sex_missing: 0.01,
            ..base
        },
    }
}

/// The whole synthetic-population config: as a TOML file for `synth --config`, every field
/// optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthConfig {
    /// Persons in the population.
    pub persons: u64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Multiplies every error rate (2.0 doubles them).
    pub error_scale: f64,
    /// Share of households (of two or more) holding a pair of twins.
    pub twin_rate: f64,
    /// Per-provider overrides: provider → knob → rate. Knobs not named keep the provider's
    /// default.
    pub rates: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
    /// Sources beyond the five, from [`EXTRA_SOURCES`] (`with = ["housing"]`).
    pub with: Vec<String>,
}

/// Default population size: the demo's, a minute's work end to end.
pub const DEFAULT_PERSONS: u64 = 20_000;
/// Default seed.
pub const DEFAULT_SEED: u64 = 1;
/// Default twin rate per multi-person household.
pub const DEFAULT_TWIN_RATE: f64 = 0.02;

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            persons: DEFAULT_PERSONS,
            seed: DEFAULT_SEED,
            error_scale: 1.0,
            twin_rate: DEFAULT_TWIN_RATE,
            rates: Default::default(),
            with: Vec::new(),
        }
    }
}

impl SynthConfig {
    /// The effective rates at `provider`: its defaults, overridden knob by knob, then scaled.
    pub fn rates_for(&self, provider: &str) -> ErrorRates {
        let mut rates = default_rates(provider);
        if let Some(overrides) = self.rates.get(provider) {
            for (knob, value) in overrides {
                if let Some(slot) = rates.knob_mut(knob) {
                    *slot = *value;
                }
            }
        }
        rates.scaled(self.error_scale)
    }

    /// Reads a TOML config.
    pub fn read(path: &std::path::Path) -> Result<SynthConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading config", path, e))?;
        let cfg: SynthConfig = toml::from_str(&text).map_err(|e| Error::config(path, vec![e.message().to_string()]))?;
        let problems = cfg.problems();
        if problems.is_empty() { Ok(cfg) } else { Err(Error::config(path, problems)) }
    }

    /// Every problem with this config.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.persons == 0 {
            p.push("`persons` must be at least 1".into());
        }
        if !(self.error_scale >= 0.0 && self.error_scale <= 20.0) {
            p.push("`error_scale` must be between 0 and 20".into());
        }
        if !(0.0..=1.0).contains(&self.twin_rate) {
            p.push("`twin_rate` must be between 0 and 1".into());
        }
        for w in &self.with {
            if !EXTRA_SOURCES.contains(&w.as_str()) {
                p.push(format!(
                    "`with`: unknown source `{w}`; the sources that can be added are {}",
                    EXTRA_SOURCES.join(", ")
                ));
            }
        }
        for (prov, r) in &self.rates {
            if !PROVIDERS.contains(&prov.as_str()) && !EXTRA_SOURCES.contains(&prov.as_str()) {
                p.push(format!(
                    "`rates.{prov}`: unknown provider; the providers are {}, {}",
                    PROVIDERS.join(", "),
                    EXTRA_SOURCES.join(", ")
                ));
            }
            for (name, v) in r {
                if !ErrorRates::KNOBS.contains(&name.as_str()) {
                    p.push(format!(
                        "`rates.{prov}.{name}`: unknown knob; the knobs are {}",
                        ErrorRates::KNOBS.join(", ")
                    ));
                } else if !(0.0..=1.0).contains(v) {
                    p.push(format!("`rates.{prov}.{name}` must be between 0 and 1"));
                }
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_one_knob_and_keep_the_provider_defaults() {
        let mut cfg = SynthConfig::default();
        cfg.rates.entry("social_care".into()).or_default().insert("name_typo".into(), 0.5);
        let r = cfg.rates_for("social_care");
        assert_eq!(r.name_typo, 0.5);
        assert_eq!(r.nhs_missing, default_rates("social_care").nhs_missing);
        for (knob, _) in ErrorRates::default().all() {
            assert!(ErrorRates::default().knob_mut(knob).is_some(), "{knob}");
        }
        cfg.rates.entry("gp".into()).or_default().insert("colour".into(), 0.5);
        cfg.rates.entry("xx".into()).or_default().insert("name_typo".into(), 2.0);
        assert_eq!(cfg.problems().len(), 3, "{:?}", cfg.problems());
        let with = SynthConfig { with: vec!["housing".into(), "school".into()], ..SynthConfig::default() };
        assert_eq!(with.problems().len(), 1, "{:?}", with.problems());
        assert!(with.problems()[0].contains("unknown source `school`"));
        let doubled = SynthConfig { error_scale: 2.0, ..SynthConfig::default() }.rates_for("ae");
        assert_eq!(doubled.nhs_missing, 2.0 * default_rates("ae").nhs_missing);
    }
}
