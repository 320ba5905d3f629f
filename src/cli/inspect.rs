//! `pseudolink inspect`: an extract's manifest, schema and row counts.

use std::path::PathBuf;

use crate::error::Result;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Shows what a pseudonymised extract is: format and tool versions, source, key id, fields and
their encodings, pass-through columns, schema and row counts. It never prints a token value.

EXAMPLE:
  pseudolink inspect acute.parquet
  pseudolink inspect --json acute.parquet")]
pub(crate) struct Args {
    /// The pseudonymised extract.
    pub(crate) file: PathBuf,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let i = crate::inspect::inspect(&args.file)?;
    if v.json {
        return v.report("inspect", &i);
    }
    super::print_stdout(&i.to_text())
}
