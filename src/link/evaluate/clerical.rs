//! Evaluation against clerical labels: record pairs a reviewer marked as the same person or
//! not, where no full ground truth exists (the usual case with real data).
//!
//! Each labelled pair gets the linkage's match probability: the scored pair's from
//! `pairs.parquet` when it is there; otherwise 1 when the linkage put both records in one person
//! (linked by NHS number, as identical records, or through others) and 0 when not (never a
//! candidate, or below the floor of `pairs.parquet`). Precision, recall and F1 among the labelled
//! pairs follow at every threshold, with the best; and at the linkage's own decision (one person
//! or not). Labels are a CSV with a header naming `left_source`, `left_record_id`,
//! `right_source`, `right_record_id` and `match` (`1`/`0`, `true`/`false`, `match`/`non-match`,
//! `yes`/`no`).

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Array, Float64Array, StringArray};
use serde::Serialize;

use crate::error::{Error, Location, Result};

/// Precision, recall and F1 among the labelled pairs at one threshold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AtThreshold {
    /// Pairs at or above this match probability count as linked.
    pub threshold: f64,
    /// Labelled matches linked.
    pub true_positives: u64,
    /// Labelled non-matches linked.
    pub false_positives: u64,
    /// Labelled matches not linked.
    pub false_negatives: u64,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

/// The evaluation against clerical labels.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClericalEvaluation {
    /// Labelled pairs.
    pub labelled_pairs: u64,
    /// Of which marked as matches.
    pub labelled_matches: u64,
    /// Labelled pairs found scored in `pairs.parquet`.
    pub scored: u64,
    /// The linkage's own decision: the two records in one person.
    pub linkage: AtThreshold,
    /// Every threshold from 0.01 to 0.99 in steps of 0.01.
    pub thresholds: Vec<AtThreshold>,
    /// The threshold with the highest F1 (the highest such threshold on ties).
    pub best: AtThreshold,
}

fn at(threshold: f64, scored: &[(f64, bool)]) -> AtThreshold {
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for &(p, m) in scored {
        match (p >= threshold, m) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    AtThreshold { threshold, true_positives: tp, false_positives: fp, false_negatives: fn_, precision, recall, f1 }
}

/// Precision, recall and F1 of `(match probability, labelled match)` pairs at every threshold.
pub fn sweep(scored: &[(f64, bool)]) -> (Vec<AtThreshold>, AtThreshold) {
    let thresholds: Vec<AtThreshold> = (1..100).map(|t| at(f64::from(t) / 100.0, scored)).collect();
    let best = thresholds
        .iter()
        .fold(None::<&AtThreshold>, |b, t| match b {
            Some(b) if b.f1 > t.f1 => Some(b),
            _ => Some(t),
        })
        .cloned()
        .unwrap_or_else(|| at(0.5, scored));
    (thresholds, best)
}

fn parse_match(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "match" | "yes" | "y" => Some(true),
        "0" | "false" | "non-match" | "nonmatch" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Reads `labels` and evaluates the linkage folder `dir` against them.
pub fn evaluate_clerical(labels: &Path, dir: &Path) -> Result<ClericalEvaluation> {
    let mut rdr = csv::Reader::from_path(labels)
        .map_err(|_| Error::input(Location::file(labels), "could not be opened as CSV"))?;
    let header = rdr.headers().map_err(|_| Error::input(Location::file(labels), "has no readable header"))?.clone();
    let col = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            Error::input(
                Location::file(labels),
                format!(
                    "has no `{name}` column; it needs left_source, left_record_id, right_source, right_record_id and match"
                ),
            )
        })
    };
    let cols =
        [col("left_source")?, col("left_record_id")?, col("right_source")?, col("right_record_id")?, col("match")?];
    let mut rows: Vec<([String; 4], bool)> = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    loop {
        line += 1;
        match rdr.read_record(&mut rec) {
            Ok(true) => {
                let get = |k: usize| rec.get(cols[k]).unwrap_or("").trim().to_string();
                let m = parse_match(&get(4)).ok_or_else(|| {
                    Error::input(
                        Location::file(labels).at_row(line).in_column("match"),
                        "is not 1/0, true/false, match/non-match or yes/no",
                    )
                })?;
                rows.push(([get(0), get(1), get(2), get(3)], m));
            }
            Ok(false) => break,
            Err(_) => return Err(Error::input(Location::file(labels).at_row(line), "could not be parsed")),
        }
    }
    if rows.is_empty() {
        return Err(Error::input(Location::file(labels), "holds no labelled pairs"));
    }

    // Persons of the labelled records, and the scored labelled pairs.
    let wanted: std::collections::HashSet<(String, String)> =
        rows.iter().flat_map(|(r, _)| [(r[0].clone(), r[1].clone()), (r[2].clone(), r[3].clone())]).collect();
    let mut person: HashMap<(String, String), String> = HashMap::new();
    scan(&dir.join("clusters.parquet"), &["source", "record_id", "person_id"], |b| {
        let (s, r, p) = (text(b, "source")?, text(b, "record_id")?, text(b, "person_id")?);
        for i in 0..b.num_rows() {
            let key = (s.value(i).to_string(), r.value(i).to_string());
            if wanted.contains(&key) {
                person.insert(key, p.value(i).to_string());
            }
        }
        Ok(())
    })?;
    let mut probability: HashMap<[String; 4], f64> = HashMap::new();
    scan_scored_pairs(dir, |v, p| {
        if wanted.contains(&(v[0].to_string(), v[1].to_string()))
            && wanted.contains(&(v[2].to_string(), v[3].to_string()))
        {
            let v: [String; 4] = v.map(str::to_string);
            probability.insert([v[2].clone(), v[3].clone(), v[0].clone(), v[1].clone()], p);
            probability.insert(v, p);
        }
    })?;

    let mut scored = Vec::with_capacity(rows.len());
    let mut decided = Vec::with_capacity(rows.len());
    let mut found = 0u64;
    for (i, (r, m)) in rows.iter().enumerate() {
        let (a, b) = ((r[0].clone(), r[1].clone()), (r[2].clone(), r[3].clone()));
        let missing = |k: &(String, String)| {
            Error::input(
                Location::file(labels).at_row(i as u64 + 2),
                format!("names record `{}` of source `{}`, which the linkage does not hold", k.1, k.0),
            )
        };
        let same = person.get(&a).ok_or_else(|| missing(&a))? == person.get(&b).ok_or_else(|| missing(&b))?;
        let p = match probability.get(r) {
            Some(&p) => {
                found += 1;
                p
            }
            None => f64::from(u8::from(same)),
        };
        scored.push((p, *m));
        decided.push((f64::from(u8::from(same)), *m));
    }
    let (thresholds, best) = sweep(&scored);
    Ok(ClericalEvaluation {
        labelled_pairs: rows.len() as u64,
        labelled_matches: rows.iter().filter(|r| r.1).count() as u64,
        scored: found,
        linkage: at(0.5, &decided),
        thresholds,
        best,
    })
}

/// Precision and recall at every threshold of the scored pairs in `dir/pairs.parquet`, each
/// labelled by a ground truth (`source, record_id, person_id`, as `evaluate --truth` reads):
/// measured figures to set beside the model's estimates. Recall counts the true matches among
/// the scored pairs (at or above the pairs floor), as the estimate does.
pub fn sweep_against_truth(truth: &Path, dir: &Path) -> Result<Vec<AtThreshold>> {
    let key = |s: &str, r: &str| crate::io::digest128(&[s, r]);
    let mut person: HashMap<u128, u128> = HashMap::new();
    super::read_truth(truth, |s, r, p| {
        person.insert(key(s, r), crate::io::digest128(&[p]));
    })?;
    let mut scored = Vec::new();
    scan_scored_pairs(dir, |v, p| {
        if let (Some(x), Some(y)) = (person.get(&key(v[0], v[1])), person.get(&key(v[2], v[3]))) {
            scored.push((p, x == y));
        }
    })?;
    if scored.is_empty() {
        return Err(Error::input(
            Location::file(truth),
            "names none of the records of the linkage's scored pairs; is it the truth of these extracts?",
        ));
    }
    Ok(sweep(&scored).0)
}

/// Calls `f` with each scored pair of `dir/pairs.parquet`: its `[left source, left record id,
/// right source, right record id]` and its match probability.
fn scan_scored_pairs(dir: &Path, mut f: impl FnMut([&str; 4], f64)) -> Result<()> {
    let pair_cols = ["left_source", "left_record_id", "right_source", "right_record_id"];
    scan(&dir.join("pairs.parquet"), &[&pair_cols[..], &["match_probability"]].concat(), |b| {
        let c: Vec<StringArray> = pair_cols.iter().map(|n| text(b, n)).collect::<Result<_>>()?;
        let p = b
            .column_by_name("match_probability")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned())
            .ok_or_else(|| Error::manifest(&dir.join("pairs.parquet"), "has no match_probability column"))?;
        for i in 0..b.num_rows() {
            f(std::array::from_fn(|k| c[k].value(i)), p.value(i));
        }
        Ok(())
    })
}

fn text(b: &arrow_array::RecordBatch, name: &str) -> Result<StringArray> {
    b.column_by_name(name)
        .and_then(|c| arrow_cast::cast(c, &arrow_schema::DataType::Utf8).ok())
        .and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned())
        .ok_or_else(|| Error::usage(format!("the linkage output has no `{name}` column")))
}

fn scan(path: &Path, columns: &[&str], mut f: impl FnMut(&arrow_array::RecordBatch) -> Result<()>) -> Result<()> {
    let reader = crate::io::parquet::read_columns(path, columns, "is not an output of `pseudolink link`")?;
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(path, "could not be decoded"))?;
        f(&batch)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_finds_the_threshold_that_separates_the_labels() {
        // Matches at 0.95, 0.8 and 0.3; non-matches at 0.6 and 0.1.
        let scored = [(0.95, true), (0.8, true), (0.3, true), (0.6, false), (0.1, false)];
        let (all, best) = sweep(&scored);
        assert_eq!(all.len(), 99);
        let half = &all[49];
        assert_eq!((half.true_positives, half.false_positives, half.false_negatives), (2, 1, 1));
        // Best: 0.11–0.30 links all three matches and one non-match (F1 6/7); the highest such.
        assert!((best.f1 - 6.0 / 7.0).abs() < 1e-12 && (best.threshold - 0.30).abs() < 1e-12, "{best:?}");
        assert_eq!(parse_match("Non-Match"), Some(false));
        assert_eq!(parse_match("maybe"), None);
    }
}
