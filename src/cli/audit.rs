//! `pseudolink audit`: what a TRE insider can learn from extracts without any key; a release gate.

use std::path::PathBuf;

use crate::audit::{
    AuditOptions, DEFAULT_MAX_FAMILY_NAMED_PERCENT, DEFAULT_MAX_NAMED_UNIQUE_PERCENT, DEFAULT_MAX_ROW_ORDER_RATIO,
    audit, public::PublicNames,
};
use crate::error::{Error, Result};

/// Arguments of `audit`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Measures, without any key, what someone holding these pseudonymised extracts (and, with
--linkage, their linkage) can learn: per deterministic token column its distinct values and the
share of the commonest; an estimate of how many persons a frequency attack names, lining the
name tokens up against a public name-frequency list (built in for England and Wales, or
--public-names); how many persons are unique on their name tokens with a plain year of birth and
sex, and how many are both named and unique; and whether row order follows the values.

Exits 1 when a figure is above its limit, so a provider or a TRE can gate a release on it.
Nothing identifying is printed: only counts and shares.

EXAMPLE:
  pseudolink audit acute.parquet gp.parquet
  pseudolink audit *.parquet --linkage linked/ --json > audit.json")]
pub(crate) struct Args {
    /// Pseudonymised extracts.
    #[arg(required = true)]
    pub(crate) extracts: Vec<PathBuf>,
    /// A linkage of these extracts: count persons rather than records.
    #[arg(long, value_name = "DIR")]
    pub(crate) linkage: Option<PathBuf>,
    /// A public family-name frequency list (CSV `name,count`) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub(crate) public_names: Option<PathBuf>,
    /// A public given-name frequency list (CSV `name,count`) instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub(crate) public_given_names: Option<PathBuf>,
    /// Limit on the estimated percentage of persons named and unique.
    #[arg(long, default_value_t = DEFAULT_MAX_NAMED_UNIQUE_PERCENT, value_name = "PCT")]
    pub(crate) max_named_unique: f64,
    /// Limit on the estimated percentage of persons whose family name is named.
    #[arg(long, default_value_t = DEFAULT_MAX_FAMILY_NAMED_PERCENT, value_name = "PCT")]
    pub(crate) max_family_named: f64,
    /// Limit on how much more often adjacent rows share a token than random order makes them.
    #[arg(long, default_value_t = DEFAULT_MAX_ROW_ORDER_RATIO, value_name = "RATIO")]
    pub(crate) max_row_order: f64,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let mut public = PublicNames::built_in();
    if let Some(p) = &args.public_names {
        public = public.with_file(p, "family")?;
    }
    if let Some(p) = &args.public_given_names {
        public = public.with_file(p, "given")?;
    }
    for (name, v) in [("--max-named-unique", args.max_named_unique), ("--max-family-named", args.max_family_named)] {
        if !(0.0..=100.0).contains(&v) {
            return Err(Error::usage(format!("{name} is a percentage, from 0 to 100")));
        }
    }
    let options = AuditOptions {
        linkage: args.linkage.clone(),
        public,
        max_named_unique_percent: args.max_named_unique,
        max_family_named_percent: args.max_family_named,
        max_row_order_ratio: args.max_row_order,
        ..AuditOptions::default()
    };
    let report = audit(&args.extracts, &options)?;
    if v.json {
        v.report("audit", &report)?;
    } else {
        super::print_stdout(&report.to_text())?;
    }
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Error::check(format!(
            "the audit found {} figure(s) above their limits: {}",
            report.failed.len(),
            report.failed.join("; ")
        )))
    }
}
