//! `pseudolink keygen`: a new project key.

use std::path::PathBuf;

use crate::error::Result;
use crate::token::ProjectKey;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The key is 256 bits from the operating system's random number generator, written with mode 0600
to a new file (an existing file is never overwritten). The key id printed on stdout is public:
it is recorded in every extract so that the TRE can check all providers used the same key.

Give the key file to each provider by a secure route agreed with your IG leads; never send it to
the TRE. See docs/key-file.md.

EXAMPLE:
  pseudolink keygen --out project.key")]
pub struct Args {
    /// Where to write the new key file.
    #[arg(long, value_name = "KEYFILE")]
    pub out: PathBuf,
}

pub(crate) fn run(args: Args, quiet: bool) -> Result<()> {
    let key = ProjectKey::generate()?;
    key.write_new_file(&args.out)?;
    if !quiet {
        eprintln!("pseudolink: wrote a new key to {} (mode 0600); its public key id is:", args.out.display());
    }
    super::print_stdout(&format!("{}\n", key.id()))
}
