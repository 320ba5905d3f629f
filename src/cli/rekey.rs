//! `pseudolink rekey`: apply the TRE's second key to extracts as they enter the TRE.

use std::path::PathBuf;

use crate::error::{Error, Result, group_digits};
use crate::io::outputs::{self, Input};
use crate::token::ProjectKey;
use crate::token::key::KeyRole;
use crate::token::rekey::rekey_file;

/// Arguments of `rekey`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Run where extracts enter the TRE (by the TRE's data team or a trusted third party), with a TRE
key that providers never hold (make it once with `pseudolink keygen --tre --out tre.key`). Every
token becomes a keyed function of the provider's token under the TRE key, and every Bloom
filter's bits are permuted by a permutation drawn from it: holding the project key alone (as
every provider does) no longer reverses an NHS-number token, and holding the TRE key alone never
did. Linkage is unchanged: equal tokens stay equal and every Dice coefficient is the same.

Re-key every extract of a linkage with the same TRE key: `link` refuses a mix of re-keyed and raw
extracts. Outputs are private (0600); an input is never overwritten.

EXAMPLE:
  pseudolink rekey --key-file tre.key --input acute.parquet --output tre/acute.parquet
  pseudolink rekey --key-file tre.key --input a.parquet b.parquet --out-dir tre/")]
pub(crate) struct Args {
    /// The TRE key file (from `pseudolink keygen --tre`).
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key_file: PathBuf,
    /// Pseudonymised extracts from the providers.
    #[arg(long, required = true, num_args = 1.., value_name = "EXTRACT")]
    pub(crate) input: Vec<PathBuf>,
    /// The re-keyed extract to write (one input).
    #[arg(long, value_name = "OUT.parquet", conflicts_with = "out_dir")]
    pub(crate) output: Option<PathBuf>,
    /// A folder for the re-keyed extracts, under their input file names (any number of inputs).
    #[arg(long, value_name = "DIR")]
    pub(crate) out_dir: Option<PathBuf>,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let mut written = Vec::new();
    let outputs: Vec<PathBuf> = match (&args.output, &args.out_dir) {
        (Some(o), None) if args.input.len() == 1 => vec![o.clone()],
        (Some(_), None) => return Err(Error::usage("--output takes one input; give several with --out-dir DIR")),
        (None, Some(d)) => {
            let mut v = Vec::new();
            for i in &args.input {
                let name = i.file_name().ok_or_else(|| Error::usage(format!("{}: not a file", i.display())))?;
                v.push(d.join(name));
            }
            v
        }
        _ => return Err(Error::usage("give --output OUT.parquet or --out-dir DIR")),
    };
    let mut inputs: Vec<Input<'_>> = args.input.iter().map(|p| Input { path: p, what: "an input extract" }).collect();
    inputs.push(Input { path: &args.key_file, what: "the TRE key file" });
    outputs::check(&outputs.iter().map(PathBuf::as_path).collect::<Vec<_>>(), &inputs)?;
    let key = ProjectKey::read_file_as(&args.key_file, KeyRole::Tre)?;
    if let Some(d) = &args.out_dir {
        crate::io::atomic::create_output_dir(d)?;
    }
    for (i, o) in args.input.iter().zip(&outputs) {
        let t = std::time::Instant::now();
        let m = rekey_file(&key, i, o)?;
        written.push(serde_json::json!({
            "input": i.display().to_string(),
            "output": o.display().to_string(),
            "source": m.source,
            "rows": m.rows.written,
        }));
        if !quiet {
            let secs = t.elapsed().as_secs_f64().max(1e-9);
            eprintln!(
                "pseudolink: re-keyed {} rows of {} ({}) under TRE key id {} into {} in {secs:.1} s ({} rows/s)",
                group_digits(m.rows.written),
                i.display(),
                m.source,
                key.id(),
                o.display(),
                group_digits((m.rows.written as f64 / secs) as u64)
            );
        }
    }
    v.result("rekey", serde_json::json!({ "tre_key_id": key.id().to_string(), "extracts": written }))
}
