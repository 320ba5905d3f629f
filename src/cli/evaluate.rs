//! `pseudolink evaluate`: accuracy against a ground truth.

use std::path::PathBuf;

use crate::error::Result;

/// Arguments of `evaluate`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Compares a linkage's persons with the truth: pairwise precision, recall and F1 (pairs of
records given one person id against pairs of one true person) and cluster precision and recall
(persons reconstructed exactly). The truth is a CSV with columns source, record_id and person_id,
as `pseudolink synth` writes in truth.csv.

With --labels instead: clerical labels, a CSV of record pairs a reviewer marked (columns
left_source, left_record_id, right_source, right_record_id, match): precision, recall and F1
among them at the linkage's own decision and at every threshold from 0.01 to 0.99, with the best.

EXAMPLES:
  pseudolink evaluate --truth synth/truth.csv --clusters linked/
  pseudolink evaluate --labels reviewed.csv --clusters linked/")]
pub(crate) struct Args {
    /// Ground truth CSV (source, record_id, person_id).
    #[arg(long, value_name = "TRUTH.csv", required_unless_present = "labels", conflicts_with = "labels")]
    pub(crate) truth: Option<PathBuf>,
    /// Clerical labels CSV (left_source, left_record_id, right_source, right_record_id, match).
    #[arg(long, value_name = "LABELS.csv")]
    pub(crate) labels: Option<PathBuf>,
    /// A linkage folder (or its clusters.parquet).
    #[arg(long, value_name = "DIR")]
    pub(crate) clusters: PathBuf,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let Some(truth) = &args.truth else {
        let dir = if args.clusters.is_dir() {
            args.clusters.clone()
        } else {
            args.clusters.parent().map(PathBuf::from).unwrap_or_default()
        };
        let e = crate::link::evaluate::clerical::evaluate_clerical(args.labels.as_deref().unwrap_or(&dir), &dir)?;
        if v.json {
            return v.report("evaluate", &e);
        }
        let text = {
            let row = |name: &str, t: &crate::link::evaluate::clerical::AtThreshold| {
                format!(
                    "{name:<22} precision {:.4}  recall {:.4}  F1 {:.4}  (linked matches {}, linked non-matches {}, missed {})\n",
                    t.precision, t.recall, t.f1, t.true_positives, t.false_positives, t.false_negatives
                )
            };
            let mut s = format!(
                "labelled pairs {} ({} matches; {} scored in pairs.parquet)\n",
                e.labelled_pairs, e.labelled_matches, e.scored
            );
            s.push_str(&row("the linkage's persons", &e.linkage));
            s.push_str(&row(&format!("best threshold {:.2}", e.best.threshold), &e.best));
            for t in e.thresholds.iter().filter(|t| (t.threshold * 100.0).round() as u32 % 10 == 0) {
                s.push_str(&row(&format!("threshold {:.2}", t.threshold), t));
            }
            s
        };
        return super::print_stdout(&text);
    };
    let e = crate::link::evaluate::evaluate(truth, &args.clusters)?;
    if v.json {
        return v.report("evaluate", &e);
    }
    let text = {
        format!(
            "records {}\npairwise  precision {:.4}  recall {:.4}  F1 {:.4}  (true pairs {}, predicted {}, correct {})\n\
             persons   true {}  predicted {}  exact {}  cluster precision {:.4}  cluster recall {:.4}\n",
            e.records,
            e.precision,
            e.recall,
            e.f1,
            e.true_pairs,
            e.predicted_pairs,
            e.true_positive_pairs,
            e.true_persons,
            e.predicted_persons,
            e.exact_persons,
            e.cluster_precision,
            e.cluster_recall
        )
    };
    super::print_stdout(&text)
}
