//! `evaluate`: linkage accuracy against a ground truth.
//!
//! Pairwise measures count pairs of records: a predicted pair is two records given one person
//! id, a true pair two records of one true person. Precision = true predicted pairs / predicted
//! pairs; recall = true predicted pairs / true pairs; F1 their harmonic mean. Pairs are counted
//! from cluster sizes (`n·(n−1)/2` per cluster, and per cell of the predicted × true
//! cross-tabulation), so the cost is linear in records. Cluster measures count persons exactly
//! reconstructed: a predicted cluster holding exactly the records of one true person.

pub mod clerical;

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

/// A 64-bit hash of text, for grouping. Fixed keys: the same everywhere. Two different values
/// collide with probability about 2^-64 per pair — for ten million persons, about one chance in
/// three hundred thousand of one merged pair of clusters.
fn hash(parts: &[&str]) -> u64 {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// Sizes of the runs of equal values in a sorted slice.
fn runs<T: PartialEq>(sorted: &[T]) -> impl Iterator<Item = (&T, u64)> {
    let mut i = 0;
    std::iter::from_fn(move || {
        let start = i;
        let first = sorted.get(start)?;
        while i < sorted.len() && sorted[i] == *first {
            i += 1;
        }
        Some((first, (i - start) as u64))
    })
}

/// Evaluates `(predicted person, true person)` labels, one per record.
pub fn evaluate_labels<'a>(rows: impl Iterator<Item = (&'a str, &'a str)>) -> Evaluation {
    evaluate_hashed(rows.map(|(p, t)| (hash(&[p]), hash(&[t]))).collect())
}

/// Evaluates `(predicted person, true person)` label hashes, one per record, by sorting: memory
/// is 16 bytes a record, whatever the number of persons.
fn evaluate_hashed(mut cells: Vec<(u64, u64)>) -> Evaluation {
    let records = cells.len() as u64;
    cells.sort_unstable();
    let mut truth: Vec<u64> = cells.iter().map(|c| c.1).collect();
    truth.sort_unstable();
    let truth_sizes: Vec<(u64, u64)> = runs(&truth).map(|(&t, n)| (t, n)).collect();
    drop(truth);
    let true_pairs: u64 = truth_sizes.iter().map(|&(_, n)| pairs(n)).sum();
    let (mut predicted_pairs, mut tp, mut exact, mut predicted_persons) = (0u64, 0u64, 0u64, 0u64);
    let mut i = 0;
    while i < cells.len() {
        let p = cells[i].0;
        let mut j = i;
        while j < cells.len() && cells[j].0 == p {
            j += 1;
        }
        let size = (j - i) as u64;
        predicted_persons += 1;
        predicted_pairs += pairs(size);
        for (&(_, t), n) in runs(&cells[i..j]) {
            tp += pairs(n);
            let true_size = truth_sizes.binary_search_by_key(&t, |&(x, _)| x).map(|k| truth_sizes[k].1).unwrap_or(0);
            if n == size && n == true_size {
                exact += 1;
            }
        }
        i = j;
    }
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(tp, predicted_pairs), ratio(tp, true_pairs));
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    let true_persons = truth_sizes.len() as u64;
    Evaluation {
        records,
        true_pairs,
        predicted_pairs,
        true_positive_pairs: tp,
        precision,
        recall,
        f1,
        true_persons,
        predicted_persons,
        exact_persons: exact,
        cluster_precision: ratio(exact, predicted_persons),
        cluster_recall: ratio(exact, true_persons),
    }
}

/// Reads a ground truth (`source, record_id, person_id` columns, any others ignored), calling `f`
/// with each row's three values. Errors name the file and row, never a value.
pub(crate) fn read_truth(truth: &Path, mut f: impl FnMut(&str, &str, &str)) -> Result<()> {
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
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        line += 1;
        match rdr.read_record(&mut rec) {
            Ok(true) => f(&rec[cs], &rec[cr], &rec[cp]),
            Ok(false) => return Ok(()),
            Err(_) => return Err(Error::input(Location::file(truth).at_row(line), "could not be parsed")),
        }
    }
}

/// Evaluates a linkage folder's `clusters.parquet` against a truth CSV with columns `source`,
/// `record_id` and `person_id` (as `pseudolink synth` writes). Every clustered record must be in
/// the truth.
pub fn evaluate(truth: &Path, clusters_dir: &Path) -> Result<Evaluation> {
    // (record key, true person), sorted by key.
    let mut truth_of: Vec<(u64, u64)> = Vec::new();
    read_truth(truth, |s, r, p| truth_of.push((hash(&[s, r]), hash(&[p]))))?;
    truth_of.sort_unstable();
    let path = if clusters_dir.is_dir() { clusters_dir.join("clusters.parquet") } else { clusters_dir.to_path_buf() };
    let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .and_then(|b| b.build())
        .map_err(|_| Error::manifest(&path, "is not a readable clusters file from `pseudolink link`"))?;
    let mut cells: Vec<(u64, u64)> = Vec::with_capacity(truth_of.len());
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
            let key = hash(&[s.value(i), r.value(i)]);
            let k = truth_of.binary_search_by_key(&key, |&(x, _)| x).map_err(|_| {
                Error::input(
                    Location::file(truth),
                    format!(
                        "has no row for record `{}` of source `{}`; is it the truth of these extracts?",
                        r.value(i),
                        s.value(i)
                    ),
                )
            })?;
            cells.push((hash(&[p.value(i)]), truth_of[k].1));
        }
    }
    drop(truth_of);
    Ok(evaluate_hashed(cells))
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
