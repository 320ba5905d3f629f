//! The Fellegi–Sunter model: comparisons with ordered levels, each with m and u probabilities.
//!
//! For a candidate pair, each comparison falls into one level. `m` is the probability of that
//! level among true matches, `u` among non-matches; the level's *match weight* is
//! `log2(m / u)`. A pair's weight is the prior's log-odds, `log2(λ / (1 − λ))`, plus the weights
//! of its levels, and its match probability is `2^w / (1 + 2^w)`. Level 0 of every comparison is
//! the null level (a value missing on either side): it has no m or u and contributes nothing,
//! because absence is not evidence. This is Splink's model (`splink/internals/comparison.py`),
//! and a trained model is saved as one JSON in the same shape: per comparison its ordered levels
//! (null first) with label, m and u.

use serde::{Deserialize, Serialize};

/// The model JSON's format version.
pub const MODEL_FORMAT_VERSION: u32 = 2;

/// Smallest probability a trained m or u may take: keeps weights finite when a level was never
/// observed among matches or non-matches.
pub const MIN_PROBABILITY: f64 = 1e-6;

/// One level of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    /// What the level means ("exact", "phonetic", "Dice ≥ 0.8", "else" …).
    pub label: String,
    /// P(level | match). Unused for the null level.
    pub m: f64,
    /// P(level | non-match). Unused for the null level.
    pub u: f64,
    /// Whether this level's u is replaced, pair by pair, by how common the agreeing value is
    /// (term-frequency adjustment, see [`crate::link::term_frequency`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub term_frequency: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Level {
    /// A level with starting values of m and u.
    pub fn new(label: &str, m: f64, u: f64) -> Level {
        Level { label: label.to_string(), m, u, term_frequency: false }
    }

    /// The same level with term-frequency adjustment.
    pub fn with_term_frequency(mut self) -> Level {
        self.term_frequency = true;
        self
    }

    /// `log2(m / u)`.
    pub fn weight(&self) -> f64 {
        (self.m.max(MIN_PROBABILITY) / self.u.max(MIN_PROBABILITY)).log2()
    }
}

/// One comparison: a field and its levels, null level first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Comparison {
    /// The comparison's name ("nhs_number", "family_name" …).
    pub name: String,
    /// The field it compares, when not its name (an identifier compared twice, say).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
    /// Levels; `levels[0]` is the null level, the last the else level.
    pub levels: Vec<Level>,
}

impl Comparison {
    /// A comparison with a null level followed by `levels`.
    pub fn new(name: &str, levels: Vec<Level>) -> Comparison {
        // The null level never contributes; m = u = 1 keeps its weight at 0 and the JSON plain.
        let mut all = vec![Level::new("null", 1.0, 1.0)];
        all.extend(levels);
        Comparison { name: name.to_string(), field: String::new(), levels: all }
    }

    /// Non-null levels.
    pub fn non_null(&self) -> usize {
        self.levels.len() - 1
    }
}

/// A model's level weights as a table ([`Model::level_weights`]).
#[derive(Debug, Clone)]
pub struct LevelWeights {
    prior: f64,
    table: Vec<[f64; crate::link::compare::MAX_LEVELS + 1]>,
}

impl LevelWeights {
    /// The weight of a packed pattern: [`Model::weight_of`], summed in the same order.
    #[inline]
    pub fn of(&self, p: crate::link::compare::Pattern) -> f64 {
        let mut w = self.prior;
        for (k, t) in self.table.iter().enumerate() {
            let l = p.get(k) as usize;
            if l != 0 {
                w += t[l];
            }
        }
        w
    }
}

/// A Fellegi–Sunter model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// [`MODEL_FORMAT_VERSION`].
    pub format_version: u32,
    /// λ: the prior probability that a candidate pair is a match.
    pub prior: f64,
    /// Comparisons, in pattern order.
    pub comparisons: Vec<Comparison>,
    /// How the model was trained to link: `link_and_dedupe`, `link_only` or `dedupe_only`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link_type: String,
    /// The blocking rules of the run that trained it, each as its keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<Vec<String>>,
    /// The key id (and TRE key id, after `rekey`) of the extracts it was trained on.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
}

/// One comparison's contribution to a pair's weight, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// Comparison name.
    pub comparison: String,
    /// Level label.
    pub level: String,
    /// Its match weight (0 for the null level), term-frequency adjustment included.
    pub weight: f64,
    /// The part of `weight` that is the term-frequency adjustment (0 where none applies).
    pub term_frequency: f64,
}

impl Model {
    /// A model with the given prior and comparisons.
    pub fn new(prior: f64, comparisons: Vec<Comparison>) -> Model {
        Model {
            format_version: MODEL_FORMAT_VERSION,
            prior,
            comparisons,
            link_type: String::new(),
            blocking: Vec::new(),
            key_id: String::new(),
        }
    }

    /// This model with its comparisons in the order of `defs` (a run's comparisons), after
    /// checking that it has exactly those comparisons, by name, each with the same levels (labels
    /// carry the thresholds). The error says which comparison or level differs: a model written
    /// by hand with a level removed or two comparisons swapped is refused, never misapplied.
    pub fn aligned_to(&self, defs: &[crate::link::compare::ComparisonDef]) -> Result<Model, crate::error::Invalid> {
        let mut out = self.clone();
        out.comparisons.clear();
        for d in defs {
            let Some(c) = self.comparisons.iter().find(|c| c.name == d.name) else {
                return Err(format!(
                    "the model has no comparison `{}`, which these extracts call for (the model has {}); train a model on extracts with the same fields, or give a link config whose comparisons match it",
                    d.name,
                    names(&self.comparisons)
                ).into());
            };
            let want = d.labels();
            let have: Vec<&str> = c.levels.iter().map(|l| l.label.as_str()).collect();
            if have != want.iter().map(String::as_str).collect::<Vec<_>>() {
                return Err(format!(
                    "comparison `{}`: the model's levels are [{}], but this run's are [{}]",
                    d.name,
                    have.join(", "),
                    want.join(", ")
                )
                .into());
            }
            out.comparisons.push(c.clone());
        }
        if let Some(extra) = self.comparisons.iter().find(|c| !defs.iter().any(|d| d.name == c.name)) {
            return Err(format!(
                "the model's comparison `{}` is not one of this run's ({}): no extract holds its field, or the link config leaves it out",
                extra.name,
                defs.iter().map(|d| format!("`{}`", d.name)).collect::<Vec<_>>().join(", ")
            ).into());
        }
        Ok(out)
    }

    /// The weight of a packed pattern.
    pub fn weight_of(&self, p: crate::link::compare::Pattern) -> f64 {
        let mut w = self.prior_weight();
        for (k, c) in self.comparisons.iter().enumerate() {
            let l = p.get(k) as usize;
            if l != 0 {
                w += c.levels[l].weight();
            }
        }
        w
    }

    /// Each level's weight, computed once: [`Model::weight_of`] for hundreds of millions of pairs.
    pub fn level_weights(&self) -> LevelWeights {
        let table = self
            .comparisons
            .iter()
            .map(|c| {
                let mut w = [0.0; crate::link::compare::MAX_LEVELS + 1];
                for (l, level) in c.levels.iter().enumerate().skip(1).take(crate::link::compare::MAX_LEVELS) {
                    w[l] = level.weight();
                }
                w
            })
            .collect();
        LevelWeights { prior: self.prior_weight(), table }
    }

    /// The prior's log-odds in bits.
    pub fn prior_weight(&self) -> f64 {
        let p = self.prior.clamp(MIN_PROBABILITY, 1.0 - MIN_PROBABILITY);
        (p / (1.0 - p)).log2()
    }

    /// Match weight of an agreement pattern (one level index per comparison).
    pub fn weight(&self, pattern: &[u8]) -> f64 {
        let mut w = self.prior_weight();
        for (c, &l) in self.comparisons.iter().zip(pattern) {
            if l != 0 {
                w += c.levels[l as usize].weight();
            }
        }
        w
    }

    /// Whether any level is term-frequency adjusted.
    pub fn uses_term_frequencies(&self) -> bool {
        self.comparisons.iter().any(|c| c.levels.iter().any(|l| l.term_frequency))
    }

    /// Turns term-frequency adjustment off on every level.
    pub fn without_term_frequencies(mut self) -> Model {
        for l in self.comparisons.iter_mut().flat_map(|c| c.levels.iter_mut()) {
            l.term_frequency = false;
        }
        self
    }

    /// Match probability of a weight.
    pub fn probability(weight: f64) -> f64 {
        let x = weight.exp2();
        if x.is_infinite() { 1.0 } else { x / (1.0 + x) }
    }

    /// Each comparison's contribution to a pattern's weight; `adjust[k]` is comparison k's
    /// term-frequency adjustment in bits (empty for none).
    pub fn explain(&self, pattern: &[u8], adjust: &[f64]) -> Vec<Contribution> {
        self.comparisons
            .iter()
            .zip(pattern)
            .enumerate()
            .map(|(k, (c, &l))| {
                let tf = adjust.get(k).copied().unwrap_or(0.0);
                Contribution {
                    comparison: c.name.clone(),
                    level: c.levels[l as usize].label.clone(),
                    weight: if l == 0 { 0.0 } else { c.levels[l as usize].weight() + tf },
                    term_frequency: tf,
                }
            })
            .collect()
    }

    /// The model as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads a model JSON, checking its shape; the error is a sentence for the user.
    pub fn from_json(json: &str) -> Result<Model, crate::error::Invalid> {
        let m: Model = serde_json::from_str(json).map_err(|e| format!("not a pseudolink model ({e})"))?;
        if m.format_version != MODEL_FORMAT_VERSION {
            return Err(format!("model format version {} is not {MODEL_FORMAT_VERSION}", m.format_version).into());
        }
        if !(m.prior > 0.0 && m.prior < 1.0) {
            return Err("the prior must be between 0 and 1".into());
        }
        if m.comparisons.is_empty() || m.comparisons.len() > crate::link::compare::MAX_COMPARISONS {
            return Err(format!("a model needs 1 to {} comparisons", crate::link::compare::MAX_COMPARISONS).into());
        }
        if let Some(t) =
            (!m.link_type.is_empty()).then_some(&m.link_type).filter(|t| crate::link::LinkType::parse(t).is_none())
        {
            return Err(format!("link type `{t}` is not one of link_and_dedupe, link_only, dedupe_only").into());
        }
        for (i, c) in m.comparisons.iter().enumerate() {
            if m.comparisons[..i].iter().any(|d| d.name == c.name) {
                return Err(format!("two comparisons are called `{}`", c.name).into());
            }
            if let Some(l) = c.levels.iter().find(|l| l.term_frequency && l.label != "exact") {
                return Err(format!(
                    "comparison `{}`, level `{}`: only an `exact` level can be term-frequency adjusted",
                    c.name, l.label
                )
                .into());
            }
        }
        for c in &m.comparisons {
            let most = crate::link::compare::MAX_LEVELS;
            if c.levels.len() < 3 || c.levels.len() > most {
                return Err(format!(
                    "comparison `{}` needs a null level, an else level and 1 to {} others",
                    c.name,
                    most - 2
                )
                .into());
            }
            for l in &c.levels[1..] {
                if !(l.m > 0.0 && l.m <= 1.0 && l.u > 0.0 && l.u <= 1.0) {
                    return Err(
                        format!("comparison `{}`, level `{}`: m and u must be in (0, 1]", c.name, l.label).into()
                    );
                }
            }
        }
        Ok(m)
    }
}

fn names(c: &[Comparison]) -> String {
    c.iter().map(|c| format!("`{}`", c.name)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::new(
            0.01,
            vec![
                Comparison::new("nhs", vec![Level::new("exact", 0.95, 0.0001), Level::new("else", 0.05, 0.9999)]),
                Comparison::new("dob", vec![Level::new("exact", 0.9, 0.01), Level::new("else", 0.1, 0.99)]),
            ],
        )
    }

    #[test]
    fn weights_add_and_null_levels_contribute_nothing() {
        let m = model();
        let prior = (0.01f64 / 0.99).log2();
        assert!((m.weight(&[0, 0]) - prior).abs() < 1e-12);
        let w = m.weight(&[1, 1]);
        assert!((w - (prior + (0.95f64 / 0.0001).log2() + (0.9f64 / 0.01).log2())).abs() < 1e-9);
        assert!(Model::probability(w) > 0.999);
        assert!(Model::probability(m.weight(&[2, 2])) < 1e-3);
        assert_eq!(m.explain(&[0, 1], &[])[0].weight, 0.0);
        assert_eq!(m.explain(&[1, 1], &[0.5, 0.0])[0].term_frequency, 0.5);
    }

    #[test]
    fn json_round_trips_and_bad_models_are_refused() {
        let m = model();
        let back = Model::from_json(&m.to_json()).unwrap();
        assert_eq!(back.comparisons[0].levels[1], m.comparisons[0].levels[1]);
        assert_eq!(back.prior, m.prior);
        let mut bad = m.clone();
        bad.comparisons[1].levels[1].m = 0.0;
        assert!(Model::from_json(&bad.to_json()).unwrap_err().contains("level `exact`"));
        assert!(Model::from_json("{}").is_err());
        // Found by a hostile review: a comparison given twice, an unknown link type, a
        // term-frequency flag on a level that is not exact.
        let mut twice = m.clone();
        twice.comparisons.push(twice.comparisons[0].clone());
        assert!(Model::from_json(&twice.to_json()).unwrap_err().contains("two comparisons are called `nhs`"));
        let mut bogus = m.clone();
        bogus.link_type = "bogus".into();
        assert!(Model::from_json(&bogus.to_json()).unwrap_err().contains("link type `bogus`"));
        let mut tf = m.clone();
        tf.comparisons[1].levels[2].term_frequency = true;
        assert!(Model::from_json(&tf.to_json()).unwrap_err().contains("only an `exact` level"));
    }
}
