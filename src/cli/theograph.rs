//! `pseudolink theograph`: one person's (or a small cohort's) events as an SVG.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::io::outputs::{self, Input};

/// Arguments of `theograph`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Draws each person's events from a timeline on one time axis, one lane per setting (acute
elective, acute non-elective, A&E, mental health and community, social care, general practice),
each event a circle sized by its cost; hover for date, activity and cost. Several --person, or
--top N (the N persons with the highest spend per year), draw a cohort on a shared axis.

EXAMPLE:
  pseudolink theograph --timeline timeline/ --person P0123456789abcdef0123 --out person.svg
  pseudolink theograph --timeline timeline/ --top 5 --out cohort.svg")]
pub(crate) struct Args {
    /// The timeline folder from `pseudolink timeline`.
    #[arg(long, value_name = "TDIR")]
    pub(crate) timeline: PathBuf,
    /// A person id (repeat for a cohort).
    #[arg(long, value_name = "ID")]
    pub(crate) person: Vec<String>,
    /// Draw the N persons with the highest spend per year.
    #[arg(long, value_name = "N")]
    pub(crate) top: Option<usize>,
    /// The SVG file to write.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) out: PathBuf,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let mut persons = args.person.clone();
    if let Some(n) = args.top {
        persons.extend(crate::report::theograph::top_spenders(&args.timeline, n)?);
    }
    if persons.is_empty() {
        return Err(Error::usage("name a person with --person ID, or a cohort with --top N"));
    }
    if persons.len() > 50 {
        return Err(Error::usage("a theograph draws at most 50 persons; name fewer"));
    }
    let read = outputs::files_in(&args.timeline);
    let inputs: Vec<Input<'_>> = read.iter().map(|p| Input { path: p, what: "a file of the timeline" }).collect();
    outputs::check(&[&args.out], &inputs)?;
    let events = crate::report::theograph::load(&args.timeline, &persons)?;
    crate::io::atomic::write_atomic(&args.out, crate::report::theograph::render(&events).as_bytes())?;
    if !quiet {
        eprintln!("pseudolink: drew {} person(s) → {}", persons.len(), args.out.display());
    }
    v.result("theograph", serde_json::json!({ "out": args.out.display().to_string(), "persons": persons.len() }))
}
