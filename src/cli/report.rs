//! `pseudolink report`: the linkage (and population) report as one self-contained HTML file.

use std::path::PathBuf;

use crate::error::Result;
use crate::io::outputs::{self, Input};
use crate::report::html::{ReportOptions, build, charts_path};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Writes one HTML file with everything inline (no scripts, no network; the page forbids every
fetch), its charts drawn as SVG: linkage summary; estimated precision and recall against the
threshold (measured too with --labels or --truth); the match-weight distribution with the threshold marked;
match weights, m and u per comparison level and the term-frequency effect; blocking rules with
cumulative pairs; cluster sizes, unlinked records by source and link rates; and with --timeline
the published segmentation as an age-group x complexity grid, spend per person per year by
setting and by financial year. Beside it, FILE.charts.json holds every chart as a Vega-Lite
specification with its data, for notebooks (Altair: alt.Chart.from_dict(specs['m_u'])).

By default the report holds aggregates only. --theographs adds a cohort view of the
highest-spending persons: record-level pictures under person ids, so such a report stays inside
the TRE (it says so on its first line).

EXAMPLE:
  pseudolink report --links linked/ --timeline timeline/ --out report.html
  pseudolink report --links linked/ --labels reviewed.csv --out report.html")]
pub(crate) struct Args {
    /// The linkage folder from `pseudolink link`.
    #[arg(long, value_name = "DIR")]
    pub(crate) links: PathBuf,
    /// The timeline folder from `pseudolink timeline`.
    #[arg(long, value_name = "TDIR")]
    pub(crate) timeline: Option<PathBuf>,
    /// Add example theographs of the N highest-spending persons (record-level; needs --timeline).
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "3")]
    pub(crate) theographs: Option<usize>,
    /// Clerical labels (a CSV of record pairs marked match or non-match, as `evaluate --labels`
    /// reads): measured precision and recall join the threshold chart.
    #[arg(long, value_name = "LABELS.csv")]
    pub(crate) labels: Option<PathBuf>,
    /// A ground truth (source, record_id, person_id; a synthetic population's truth.csv): the
    /// measured precision and recall of the scored pairs join the threshold chart.
    #[arg(long, value_name = "TRUTH.csv")]
    pub(crate) truth: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub(crate) out: PathBuf,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    if args.theographs.is_some_and(|n| n > 0) && args.timeline.is_none() {
        return Err(crate::error::Error::usage("--theographs draws from a timeline: give --timeline TDIR too"));
    }
    let options = ReportOptions {
        theographs: args.theographs.unwrap_or(0),
        labels: args.labels.clone(),
        truth: args.truth.clone(),
    };
    let mut read = outputs::files_in(&args.links);
    if let Some(t) = &args.timeline {
        read.extend(outputs::files_in(t));
    }
    read.extend(args.labels.clone());
    read.extend(args.truth.clone());
    let inputs: Vec<Input<'_>> = read.iter().map(|p| Input { path: p, what: "a file the report reads" }).collect();
    let charts_out = charts_path(&args.out);
    outputs::check(&[&args.out, &charts_out], &inputs)?;
    let report = build(&args.links, args.timeline.as_deref(), &options)?;
    let specs = serde_json::to_string_pretty(&report.vega_lite()).unwrap_or_default() + "\n";
    crate::io::atomic::write_atomic(&charts_out, specs.as_bytes())?;
    crate::io::atomic::write_atomic(&args.out, report.html.as_bytes())?;
    let html = report.html;
    if !quiet {
        eprintln!(
            "pseudolink: wrote the report ({} bytes, {} charts) → {}; the charts as Vega-Lite → {}",
            crate::error::group_digits(html.len() as u64),
            report.charts.len(),
            args.out.display(),
            charts_out.display()
        );
    }
    v.result(
        "report",
        serde_json::json!({
            "out": args.out.display().to_string(),
            "bytes": html.len(),
            "charts": report.charts.iter().map(|c| c.id).collect::<Vec<_>>(),
            "charts_file": charts_out.display().to_string(),
        }),
    )
}
