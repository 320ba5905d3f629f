//! `explain`: the evidence behind one pair's match weight, as a waterfall.
//!
//! Starts from the prior (the log-odds that two random records match), adds each comparison's
//! weight for the pair's level, and ends at the total and its probability: the same arithmetic as
//! prediction, written out so that an analyst can see why two records were or were not linked.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::link::compare::{ComparisonDef, Comparisons};
use crate::link::data::Records;
use crate::link::model::Model;
use crate::link::term_frequency::TermFrequencies;

/// Explains the pair `left` and `right` (each `SOURCE:RECORD_ID`) of a linkage folder. The
/// extracts are those recorded in its `summary.json` unless `extracts` is given.
pub fn explain(links: &Path, left: &str, right: &str, extracts: Option<Vec<PathBuf>>) -> Result<String> {
    let read = |name: &str| {
        let p = links.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::io("reading", &p, e))
    };
    let model = Model::from_json(&read("model.json")?).map_err(|m| Error::manifest(&links.join("model.json"), m))?;
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")?)
        .map_err(|_| Error::manifest(&links.join("summary.json"), "is not a linkage summary"))?;
    let files = match extracts {
        Some(f) => f,
        None => summary["extracts"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(PathBuf::from)).collect())
            .unwrap_or_default(),
    };
    let records = Records::load(&files)?;
    let find = |spec: &str| -> Result<usize> {
        let (source, id) = spec.split_once(':').ok_or_else(|| {
            Error::usage(format!("`{spec}`: give a record as SOURCE:RECORD_ID, for example gp:G0000000001"))
        })?;
        let s = records.sources.iter().position(|x| x == source).ok_or_else(|| {
            Error::usage(format!("no extract has source `{source}`; the sources are {}", records.sources.join(", ")))
        })?;
        (0..records.len())
            .find(|&i| records.source[i] as usize == s && records.record_id.get(i) == id)
            .ok_or_else(|| Error::usage(format!("source `{source}` has no record `{id}`")))
    };
    let (a, b) = (find(left)?, find(right)?);
    // The model describes its comparisons: the pair is compared exactly as in the run.
    let defs = model
        .comparisons
        .iter()
        .map(ComparisonDef::from_model)
        .collect::<std::result::Result<Vec<_>, crate::error::Invalid>>()
        .map_err(|m| Error::manifest(&links.join("model.json"), m))?;
    let comparisons = Comparisons::resolve(defs, &records).map_err(Error::usage)?;
    let p = comparisons.pattern(&records, a, b);
    let tf = if model.uses_term_frequencies() {
        let link_type = crate::link::LinkType::parse(&model.link_type).unwrap_or_default();
        let (_, reps) = crate::link::identity::identities(&records, link_type);
        TermFrequencies::count(&records, &comparisons, &reps, &model)
    } else {
        TermFrequencies::none()
    };
    let adjust = tf.adjustments(&model, &comparisons, &records, a, b, p);
    let p = p.levels(comparisons.len());
    let threshold = crate::link::summary::field(&summary, &["prediction", "threshold"], "threshold")
        .as_f64()
        .unwrap_or(crate::link::DEFAULT_THRESHOLD);
    let mut t = String::new();
    let _ = writeln!(t, "pair: {left}  ↔  {right}");
    let _ = writeln!(t, "{:<16} {:<28} {:>10}", "comparison", "level", "weight");
    let prior = model.prior_weight();
    let _ = writeln!(t, "{:<16} {:<28} {:>+10.2}   (λ = {:.3e})", "prior", "", prior, model.prior);
    let mut total = prior;
    for c in model.explain(&p, &adjust) {
        total += c.weight;
        let _ = write!(t, "{:<16} {:<28} {:>+10.2}   running total {:>+8.2}", c.comparison, c.level, c.weight, total);
        if c.term_frequency != 0.0 {
            let how = if c.term_frequency > 0.0 { "rarer" } else { "more common" };
            let what = if c.comparison.contains("name") { "name" } else { "value" };
            let _ = write!(t, "   (of which {:+.2}: the {what} is {how} than average)", c.term_frequency);
        }
        let _ = writeln!(t);
    }
    let prob = Model::probability(total);
    let _ = writeln!(t, "{:<16} {:<28} {:>+10.2} bits", "match weight", "", total);
    let _ = writeln!(
        t,
        "match probability {prob:.6}: {} at threshold {threshold}",
        if prob >= threshold { "a link" } else { "not a link" }
    );
    let persons = person_of(&links.join("clusters.parquet"), [left, right])?;
    let same = persons[0].is_some() && persons[0] == persons[1];
    let verdict = if same {
        "the same person"
    } else if prob >= threshold {
        "different persons (the link was refused: it would join different NHS numbers)"
    } else {
        "different persons"
    };
    let _ = writeln!(t, "in clusters.parquet: {verdict}");
    Ok(t)
}

/// The person ids of two records in a clusters file.
fn person_of(path: &Path, specs: [&str; 2]) -> Result<[Option<String>; 2]> {
    use arrow_array::{Array, StringArray};
    let file = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .and_then(|b| b.build())
        .map_err(|_| Error::manifest(path, "is not a readable clusters file"))?;
    let mut out = [None, None];
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(path, "could not be decoded"))?;
        let col = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let (Some(s), Some(r), Some(p)) = (col("source"), col("record_id"), col("person_id")) else {
            return Err(Error::manifest(path, "lacks source, record_id or person_id"));
        };
        for i in 0..batch.num_rows() {
            for (k, spec) in specs.iter().enumerate() {
                if let Some((src, id)) = spec.split_once(':') {
                    if s.value(i) == src && r.value(i) == id {
                        out[k] = Some(p.value(i).to_string());
                    }
                }
            }
        }
    }
    Ok(out)
}
