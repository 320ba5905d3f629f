//! `pseudolink report`: the linkage (and population) report as one self-contained HTML file.

use std::path::PathBuf;

use crate::error::Result;
use crate::report::html::{ReportOptions, build};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Writes one HTML file with everything inline (no scripts, no network; the page forbids every
fetch): linkage summary, estimated error from the model's probabilities, match-weight
distribution, trained m and u per comparison level, blocking-rule pair counts, cluster sizes, link
rates per source and source pair, and with --timeline the published segmentation table and
example theographs of the highest-spending persons (record-level: leave them out with
--no-theographs when the report is to leave the TRE).

EXAMPLE:
  pseudolink report --links linked/ --timeline timeline/ --out report.html")]
pub struct Args {
    /// The linkage folder from `pseudolink link`.
    #[arg(long, value_name = "DIR")]
    pub links: PathBuf,
    /// The timeline folder from `pseudolink timeline`.
    #[arg(long, value_name = "TDIR")]
    pub timeline: Option<PathBuf>,
    /// Leave out the example theographs.
    #[arg(long)]
    pub no_theographs: bool,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let options = ReportOptions { theographs: if args.no_theographs { 0 } else { 3 } };
    let html = build(&args.links, args.timeline.as_deref(), &options)?;
    crate::io::atomic::write_atomic(&args.out, html.as_bytes())
}
