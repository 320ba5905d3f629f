//! `evaluate`: linkage accuracy against a ground truth.
//!
//! Pairwise measures count pairs of records: a predicted pair is two records given one person
//! id, a true pair two records of one true person. Precision = true predicted pairs / predicted
//! pairs; recall = true predicted pairs / true pairs; F1 their harmonic mean. Pairs are counted
//! from cluster sizes (`n·(n−1)/2` per cluster, and per cell of the predicted × true
//! cross-tabulation), so the cost is linear in records. Cluster measures count persons exactly
//! reconstructed: a predicted cluster holding exactly the records of one true person.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Array, StringArray};
use serde::Serialize;

use crate::error::{Error, Location, Result};

/// Accuracy of a linkage against truth.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Evaluation {
    /// Records evaluated.
    pub records: u64,
    /// Record pairs of one true person.
    pub true_pairs: u64,
    /// Record pairs given one person id.
    pub predicted_pairs: u64,
    /// Predicted pairs that are true.
    pub true_positive_pairs: u64,
    /// Pairwise precision.
    pub precision: f64,
    /// Pairwise recall.
    pub recall: f64,
    /// Pairwise F1.
    pub f1: f64,
    /// True persons.
    pub true_persons: u64,
    /// Predicted persons.
    pub predicted_persons: u64,
    /// Predicted persons that exactly match a true person.
    pub exact_persons: u64,
    /// exact / predicted.
    pub cluster_precision: f64,
    /// exact / true.
    pub cluster_recall: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Evaluates `(record key, predicted person, true person)` rows.
pub fn evaluate_labels<'a>(rows: impl Iterator<Item = (&'a str, &'a str)>) -> Evaluation {
    let mut pred: HashMap<&str, u64> = HashMap::new();
    let mut truth: HashMap<&str, u64> = HashMap::new();
    let mut cell: HashMap<(&str, &str), u64> = HashMap::new();
    let mut records = 0u64;
    for (p, t) in rows {
        records += 1;
        *pred.entry(p).or_default() += 1;
        *truth.entry(t).or_default() += 1;
        *cell.entry((p, t)).or_default() += 1;
    }
    let true_pairs: u64 = truth.values().map(|&n| pairs(n)).sum();
    let predicted_pairs: u64 = pred.values().map(|&n| pairs(n)).sum();
    let tp: u64 = cell.values().map(|&n| pairs(n)).sum();
    let exact = cell.iter().filter(|((p, t), n)| pred[p] == **n && truth[t] == **n).count() as u64;
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(tp, predicted_pairs), ratio(tp, true_pairs));
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    Evaluation {
        records,
        true_pairs,
        predicted_pairs,
        true_positive_pairs: tp,
        precision,
        recall,
        f1,
        true_persons: truth.len() as u64,
        predicted_persons: pred.len() as u64,
        exact_persons: exact,
        cluster_precision: ratio(exact, pred.len() as u64),
        cluster_recall: ratio(exact, truth.len() as u64),
    }
}

/// Evaluates a linkage folder's `clusters.parquet` against a truth CSV with columns `source`,
/// `record_id` and `person_id` (as `pseudolink synth` writes). Every clustered record must be in
/// the truth.
pub fn evaluate(truth: &Path, clusters_dir: &Path) -> Result<Evaluation> {
    let mut rdr =
        csv::Reader::from_path(truth).map_err(|_| Error::input(Location::file(truth), "could not be opened as CSV"))?;
    let header = rdr.headers().map_err(|_| Error::input(Location::file(truth), "has no readable header"))?.clone();
    let col = |name: &str| {
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::input(
                Location::file(truth),
                format!("has no `{name}` column; it needs source, record_id and person_id"),
            )
        })
    };
    let (cs, cr, cp) = (col("source")?, col("record_id")?, col("person_id")?);
    let mut truth_of: HashMap<(String, String), String> = HashMap::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|_| Error::input(Location::file(truth).at_row(i as u64 + 1), "could not be parsed"))?;
        truth_of.insert((rec[cs].to_string(), rec[cr].to_string()), rec[cp].to_string());
    }
    let path = if clusters_dir.is_dir() { clusters_dir.join("clusters.parquet") } else { clusters_dir.to_path_buf() };
    let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|_| Error::manifest(&path, "is not a readable clusters file from `pseudolink link`"))?;
    let mut rows: Vec<(String, String)> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(&path, "could not be decoded"))?;
        // Any text or integer column will do (other tools write large strings or numbers).
        let get = |n: &str| {
            batch
                .column_by_name(n)
                .and_then(|c| arrow_cast::cast(c, &arrow_schema::DataType::Utf8).ok())
                .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
                .ok_or_else(|| Error::manifest(&path, format!("has no `{n}` column")))
        };
        let (s, r, p) = (get("source")?, get("record_id")?, get("person_id")?);
        for i in 0..batch.num_rows() {
            let key = (s.value(i).to_string(), r.value(i).to_string());
            let t = truth_of.get(&key).ok_or_else(|| {
                Error::input(
                    Location::file(truth),
                    format!(
                        "has no row for record `{}` of source `{}`; is it the truth of these extracts?",
                        key.1, key.0
                    ),
                )
            })?;
            rows.push((p.value(i).to_string(), t.clone()));
        }
    }
    Ok(evaluate_labels(rows.iter().map(|(p, t)| (p.as_str(), t.as_str()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_example() {
        // Truth: {a,b,c} {d,e}. Predicted: {a,b} {c,d,e}.
        let rows = [("1", "X"), ("1", "X"), ("2", "X"), ("2", "Y"), ("2", "Y")];
        let e = evaluate_labels(rows.iter().copied());
        assert_eq!((e.true_pairs, e.predicted_pairs, e.true_positive_pairs), (4, 4, 2));
        assert_eq!((e.precision, e.recall, e.f1), (0.5, 0.5, 0.5));
        assert_eq!((e.exact_persons, e.true_persons, e.predicted_persons), (0, 2, 2));
        let perfect = evaluate_labels([("1", "X"), ("1", "X"), ("2", "Y")].iter().copied());
        assert_eq!((perfect.f1, perfect.cluster_recall), (1.0, 1.0));
    }
}
