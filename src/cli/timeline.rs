//! `pseudolink timeline`: linked activity as one cross-sector event table, with population views.

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::error::{Error, Result, group_digits};
use crate::timeline::mapping::TimelineConfig;
use crate::timeline::{TimelineOptions, timeline};

/// Arguments of `timeline`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Joins every extract's pass-through activity columns to the persons found by `pseudolink link`,
on one event schema (person, source, setting, event date, activity type, cost, long-term
condition flags), sorted by person and date. Every record becomes one event; events with a
missing or impossible date are kept, flagged and counted.

Writes to TDIR: timeline.parquet, persons.parquet/.csv (one row per person: age group, sex,
sources, conditions, complexity, spend and activity per year by setting), person_years.parquet,
segments.parquet/.csv (age group × complexity, exact: for use inside the TRE), and
segments_published.parquet/.csv (the same with small counts suppressed and the rest rounded: the
version that may leave the TRE), then timeline_summary.json.

EXAMPLE:
  pseudolink timeline --links linked/ acute.parquet ae.parquet gp.parquet --out timeline/
  pseudolink timeline --links linked/ *.parquet --out timeline/ --config timeline.toml")]
pub(crate) struct Args {
    /// The linkage folder from `pseudolink link`.
    #[arg(long, value_name = "DIR")]
    pub(crate) links: PathBuf,
    /// The pseudonymised extracts that were linked.
    #[arg(required = true)]
    pub(crate) extracts: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, value_name = "TDIR")]
    pub(crate) out: PathBuf,
    /// A timeline config (TOML): column mapping per source and the disclosure rule.
    #[arg(long, value_name = "TIMELINE.toml")]
    pub(crate) config: Option<PathBuf>,
    /// Dates after this day are impossible: the day the extracts were taken. Default: the data's
    /// own latest activity date (no date is too late), never today's date, so the same inputs
    /// give the same outputs on any day.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub(crate) as_of: Option<String>,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let config = match &args.config {
        Some(p) => TimelineConfig::read(p)?,
        None => TimelineConfig::default(),
    };
    let as_of = match &args.as_of {
        None => None,
        Some(s) => Some(
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| Error::usage("--as-of must be a date written YYYY-MM-DD"))?,
        ),
    };
    let log = |s: &str| {
        if !quiet {
            eprintln!("pseudolink: {s}");
        }
    };
    let s = timeline(&args.links, &args.extracts, &args.out, &TimelineOptions { config, as_of }, &log)?;
    if !quiet {
        eprintln!(
            "pseudolink: {} events of {} persons ({} without a date, {} with an impossible date) → {}",
            group_digits(s.events),
            group_digits(s.persons),
            group_digits(s.date_missing),
            group_digits(s.date_impossible),
            args.out.display()
        );
    }
    v.result("timeline", serde_json::json!({ "out": args.out.display().to_string(), "summary": s }))
}
