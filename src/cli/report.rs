//! `pseudolink report`: the linkage (and population) report as one self-contained HTML file.

use std::path::PathBuf;

use crate::error::Result;
use crate::io::outputs::{self, Input};
use crate::report::html::{ReportOptions, build};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Writes one HTML file with everything inline (no scripts, no network; the page forbids every
fetch): linkage summary, estimated error from the model's probabilities, match-weight
distribution, trained m and u per comparison level, blocking-rule pair counts, cluster sizes, link
rates per source and source pair, and with --timeline the published segmentation table. By
default it holds aggregates only. --theographs adds example theographs of the highest-spending
persons: record-level pictures under person ids, so such a report stays inside the TRE (it says so
on its first line).

EXAMPLE:
  pseudolink report --links linked/ --timeline timeline/ --out report.html")]
pub struct Args {
    /// The linkage folder from `pseudolink link`.
    #[arg(long, value_name = "DIR")]
    pub links: PathBuf,
    /// The timeline folder from `pseudolink timeline`.
    #[arg(long, value_name = "TDIR")]
    pub timeline: Option<PathBuf>,
    /// Add example theographs of the N highest-spending persons (record-level; needs --timeline).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "3")]
    pub theographs: Option<usize>,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    if args.theographs.is_some_and(|n| n > 0) && args.timeline.is_none() {
        return Err(crate::error::Error::usage("--theographs draws from a timeline: give --timeline TDIR too"));
    }
    let options = ReportOptions { theographs: args.theographs.unwrap_or(0) };
    let mut read = outputs::files_in(&args.links);
    if let Some(t) = &args.timeline {
        read.extend(outputs::files_in(t));
    }
    let inputs: Vec<Input<'_>> = read.iter().map(|p| Input { path: p, what: "a file the report reads" }).collect();
    outputs::check(&[&args.out], &inputs)?;
    let html = build(&args.links, args.timeline.as_deref(), &options)?;
    crate::io::atomic::write_atomic(&args.out, html.as_bytes())?;
    if !quiet {
        eprintln!(
            "pseudolink: wrote the report ({} bytes) → {}",
            crate::error::group_digits(html.len() as u64),
            args.out.display()
        );
    }
    v.result("report", serde_json::json!({ "out": args.out.display().to_string(), "bytes": html.len() }))
}
