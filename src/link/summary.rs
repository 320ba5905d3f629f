//! The run's summary (`summary.json`), one section per stage of the linkage, in the order they
//! run: what went in, the identities, the NHS-number links, blocking, training, prediction and
//! clustering, then the time each stage took.
//!
//! Readers of `summary.json` (the report, `explain`, a monthly refresh) also read the flat
//! layout earlier releases wrote, through [`field`], so a linkage folder from before the
//! sections still serves as `--previous`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::link::blocking::RuleReport;
use crate::link::refresh::RefreshSummary;

/// The run's summary, written as `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The extracts linked, as given.
    pub extracts: Vec<String>,
    /// Records in.
    pub records: RecordCounts,
    /// Identities (records with identical identifying tokens, compared once).
    pub identities: Identities,
    /// The deterministic stage: identities sharing a valid NHS number.
    pub deterministic: Deterministic,
    /// Candidate pairs, per blocking rule.
    pub blocking: Blocking,
    /// How the model came about.
    pub training: Training,
    /// The scoring of every candidate pair, and what `pairs.parquet` kept of them.
    pub prediction: Prediction,
    /// The probabilistic links and the persons they made.
    pub clustering: Clustering,
    /// Seconds per stage.
    pub timings: Vec<(String, f64)>,
    /// A monthly refresh's carried-over ids and changes (`link --previous`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh: Option<RefreshSummary>,
}

/// Records in.
#[derive(Debug, Clone, Serialize)]
pub struct RecordCounts {
    /// Every extract's records.
    pub total: u64,
    /// Records per source.
    pub by_source: BTreeMap<String, u64>,
}

/// The identities stage.
#[derive(Debug, Clone, Serialize)]
pub struct Identities {
    /// Distinct identities compared.
    pub distinct: u64,
    /// NHS-number tokens treated as placeholders (see [`crate::link::placeholders`]).
    pub nhs_placeholder_numbers: u64,
    /// Records whose NHS-number token was a placeholder.
    pub nhs_placeholder_records: u64,
}

/// The deterministic stage.
#[derive(Debug, Clone, Serialize)]
pub struct Deterministic {
    /// Links made by a shared NHS number.
    pub links: u64,
    /// NHS-number links not made because given name and date of birth both disagreed.
    pub contradicted: u64,
}

/// The blocking stage.
#[derive(Debug, Clone, Serialize)]
pub struct Blocking {
    /// Candidate pairs compared.
    pub candidate_pairs: u64,
    /// Pairs per rule, in the order the rules ran.
    pub rules: Vec<RuleReport>,
}

/// The training stage.
#[derive(Debug, Clone, Serialize)]
pub struct Training {
    /// Whether the model was trained in this run (not given with `--model`).
    pub trained: bool,
    /// Iterations of the last EM session.
    pub em_iterations: usize,
    /// Whether it converged.
    pub em_converged: bool,
    /// Pairs labelled by NHS numbers for m.
    pub nhs_labelled_pairs: u64,
    /// Whether exact agreement was weighed by value frequency.
    pub term_frequency: bool,
}

/// The prediction stage.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// Match threshold (probability).
    pub threshold: f64,
    /// The comparisons' upper Dice threshold.
    pub dice_high: f64,
    /// The comparisons' lower Dice threshold.
    pub dice_low: f64,
    /// The floor of `pairs.parquet` (match probability).
    pub pairs_floor: f64,
    /// Candidate pairs written to `pairs.parquet` (at or above the floor).
    pub pairs_written: u64,
    /// Candidate pairs below the floor: what an estimate of recall from `pairs.parquet` must add
    /// back, with the matches expected among them.
    pub pairs_below_floor: u64,
    /// Expected matches among the pairs below the floor (the sum of their match probabilities).
    pub expected_matches_below_floor: f64,
    /// Every candidate pair's match weight, in bins of two bits: (bin start, pairs).
    pub match_weight_histogram: Vec<(i64, u64)>,
}

/// The clustering stage.
#[derive(Debug, Clone, Serialize)]
pub struct Clustering {
    /// Persons out.
    pub persons: u64,
    /// Probabilistic links accepted.
    pub links_accepted: u64,
    /// Probabilistic links refused because they joined different NHS numbers.
    pub links_refused_conflict: u64,
    /// Links refused because an identity was already linked (`one_to_one`).
    pub links_refused_one_to_one: u64,
    /// Links accepted despite joining different NHS numbers (above the override probability).
    pub links_conflict_overridden: u64,
    /// Accepted links by source pair ("acute-gp").
    pub links_by_source_pair: BTreeMap<String, u64>,
}

/// The value at `path` in a `summary.json`, or at `flat` where an earlier release wrote it
/// unnested; `Null` when neither holds one.
pub fn field<'a>(summary: &'a serde_json::Value, path: &[&str], flat: &str) -> &'a serde_json::Value {
    match path.iter().try_fold(summary, |v, k| v.get(k)) {
        Some(v) if !v.is_null() => v,
        // A section of the new layout is never taken for a flat value.
        _ => summary.get(flat).filter(|v| !v.is_object()).unwrap_or(&serde_json::Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_are_read_from_sections_and_from_the_flat_layout() {
        let nested = json!({"records": {"total": 7}, "prediction": {"threshold": 0.95}, "blocking": {"rules": [1]}});
        let flat = json!({"records": 7, "threshold": 0.95, "blocking": [1]});
        for s in [&nested, &flat] {
            assert_eq!(field(s, &["records", "total"], "records"), &json!(7));
            assert_eq!(field(s, &["prediction", "threshold"], "threshold"), &json!(0.95));
            assert_eq!(field(s, &["blocking", "rules"], "blocking"), &json!([1]));
        }
        assert!(field(&nested, &["clustering", "persons"], "persons").is_null());
        // A section is never mistaken for a flat value.
        assert!(field(&json!({"records": {"by_source": {}}}), &["records", "total"], "records").is_null());
    }
}
