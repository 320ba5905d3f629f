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

EXAMPLE:
  pseudolink evaluate --truth synth/truth.csv --clusters linked/")]
pub struct Args {
    /// Ground truth CSV (source, record_id, person_id).
    #[arg(long, value_name = "TRUTH.csv")]
    pub truth: PathBuf,
    /// A linkage folder (or its clusters.parquet).
    #[arg(long, value_name = "DIR")]
    pub clusters: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let e = crate::evaluate::evaluate(&args.truth, &args.clusters)?;
    let text = if args.json {
        serde_json::to_string_pretty(&e).unwrap_or_default() + "\n"
    } else {
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
