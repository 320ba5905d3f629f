//! `pseudolink explain`: why two records were, or were not, linked.

use std::path::PathBuf;

use crate::error::Result;

/// Arguments of `explain`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Prints the waterfall of evidence for one pair of records: the prior, each comparison's level and
match weight, and the total with its probability. Records are named SOURCE:RECORD_ID. The
extracts are read from the paths recorded in the linkage's summary.json unless given.

EXAMPLE:
  pseudolink explain --links linked/ acute:E0000000001 gp:G0000000042")]
pub(crate) struct Args {
    /// The linkage folder (with model.json and summary.json).
    #[arg(long, value_name = "DIR")]
    pub(crate) links: PathBuf,
    /// One record, as SOURCE:RECORD_ID.
    pub(crate) left: String,
    /// The other record, as SOURCE:RECORD_ID.
    pub(crate) right: String,
    /// The extracts, when they have moved since linking.
    #[arg(long, value_name = "EXTRACT")]
    pub(crate) extracts: Vec<PathBuf>,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let extracts = (!args.extracts.is_empty()).then_some(args.extracts);
    let text = crate::link::explain::explain(&args.links, &args.left, &args.right, extracts)?;
    if v.json {
        return v.result("explain", serde_json::json!({ "left": args.left, "right": args.right, "text": text }));
    }
    super::print_stdout(&text)
}
