//! `pseudolink link`: pseudonymised extracts in, persons out.

use std::path::PathBuf;

use crate::error::{Error, Result, group_digits};
use crate::link::model::Model;
use crate::link::{LinkOptions, link, output};

/// Arguments of `link`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Links pseudonymised extracts (from `pseudolink tokenise`, all under one project key): records
sharing a valid NHS-number token are linked; other candidate pairs, found by blocking rules on
tokens, are scored by a Fellegi-Sunter model trained on the data (u from random pairs, m from
NHS-number labels and EM) and linked at or above --threshold; links are clustered into persons,
never joining two different valid NHS numbers.

Writes to DIR: clusters.parquet (every record with its person id), pairs.parquet (scored
candidate pairs with each comparison's level and weight), model.json and summary.json (written
last: a folder without it is not a finished linkage).

EXAMPLE:
  pseudolink link acute.parquet ae.parquet gp.parquet --out linked/
  pseudolink link *.parquet --out linked2/ --model linked/model.json")]
pub struct Args {
    /// Pseudonymised extracts.
    #[arg(required = true)]
    pub extracts: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Link pairs at or above this match probability.
    #[arg(long, default_value_t = crate::link::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// Use this trained model (model.json of an earlier run) instead of training.
    #[arg(long, value_name = "MODEL.json")]
    pub model: Option<PathBuf>,
    /// Seed of random-pair sampling for u.
    #[arg(long, default_value_t = crate::link::DEFAULT_SEED)]
    pub seed: u64,
    /// Largest block compared; larger blocks are skipped and reported.
    #[arg(long, default_value_t = crate::link::blocking::DEFAULT_MAX_BLOCK)]
    pub max_block: usize,
}

pub(crate) fn run(args: Args, quiet: bool) -> Result<()> {
    if !(args.threshold > 0.0 && args.threshold < 1.0) {
        return Err(Error::usage("--threshold must be between 0 and 1"));
    }
    let model = match &args.model {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io("reading model", p, e))?;
            Some(Model::from_json(&text).map_err(|m| Error::usage(format!("{}: {m}", p.display())))?)
        }
    };
    let options = LinkOptions {
        threshold: args.threshold,
        seed: args.seed,
        max_block: args.max_block,
        model,
        ..Default::default()
    };
    let log = |s: &str| {
        if !quiet {
            eprintln!("pseudolink: {s}");
        }
    };
    let l = link(&args.extracts, &options, &log)?;
    output::write(&l, &args.out)?;
    if !quiet {
        let s = &l.summary;
        eprintln!(
            "pseudolink: linked {} records into {} persons ({} NHS-number links, {} probabilistic, {} refused for conflicting NHS numbers) → {}",
            group_digits(s.records),
            group_digits(s.persons),
            group_digits(s.links_nhs_number),
            group_digits(s.links_probabilistic),
            group_digits(s.links_refused_conflict),
            args.out.display()
        );
    }
    Ok(())
}
