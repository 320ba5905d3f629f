//! `pseudolink keygen`: a new project key.

use std::path::PathBuf;

use crate::error::Result;
use crate::token::ProjectKey;
use crate::token::key::KeyRole;

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The key is 256 bits from the operating system's random number generator, written with mode 0600
to a new file (an existing file is never overwritten). The key id printed on stdout is public:
it is recorded in every extract so that the TRE can check all providers used the same key.

Give the key file to each provider by a secure route agreed with your IG leads; never send it to
the TRE. See docs/key-file.md.

With --tre, the key is the TRE's second key for `pseudolink rekey`: it stays with the TRE (or a
trusted third party) and is never given to a provider.

EXAMPLE:
  pseudolink keygen --out project.key
  pseudolink keygen --tre --out tre.key")]
pub(crate) struct Args {
    /// Where to write the new key file.
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) out: PathBuf,
    /// Make the TRE's second key (for `rekey`) instead of a project key.
    #[arg(long)]
    pub(crate) tre: bool,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let key = ProjectKey::generate()?;
    let role = if args.tre { KeyRole::Tre } else { KeyRole::Project };
    key.write_new_file_as(&args.out, role)?;
    let what = if args.tre { "TRE key" } else { "key" };
    if v.json {
        v.say(&format!("wrote a new {what} to {} (mode 0600); its public key id is {}", args.out.display(), key.id()));
        return v.result(
            "keygen",
            serde_json::json!({
                "key_file": args.out.display().to_string(),
                "role": if args.tre { "tre" } else { "project" },
                "key_id": key.id().to_string(),
            }),
        );
    }
    v.say(&format!("wrote a new {what} to {} (mode 0600); its public key id is:", args.out.display()));
    super::print_stdout(&format!("{}\n", key.id()))
}
