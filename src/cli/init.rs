//! `pseudolink init`: a commented tokenise config proposed from the extract itself.

use std::path::PathBuf;

use crate::config::TokeniseConfig;
use crate::error::{Error, Result, group_digits};
use crate::init::{Proposal, propose, render, sniff};

/// Arguments of `init`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Reads the start of EXTRACT (a CSV as exported) and writes CONFIG: the delimiter, text encoding
and header found, the record id column, each identifying field (NHS number, names, date of
birth with its format, postcode, sex) found by column name and value shape, and the columns
that could pass through (dates, amounts, yes/no flags, short codes), each marked for review.
Free text is left out and listed. Values are tested, never printed or written.

Before writing, the proposed config is checked against the whole file as `tokenise --check`
would check it; a config that would fail is not written. Review it, then run
`pseudolink tokenise --check --config CONFIG --input EXTRACT`.

EXAMPLES:
  pseudolink init acute_extract.csv --out acute.toml --source acute
  pseudolink init apc_extract.csv --dataset acute_apc --out acute.toml")]
pub(crate) struct Args {
    /// The provider's extract (CSV).
    pub(crate) extract: PathBuf,
    /// The config to write (never over an existing file).
    #[arg(long, value_name = "CONFIG")]
    pub(crate) out: PathBuf,
    /// The source code recorded in the extract (default: from the file name, or the template's
    /// with --dataset).
    #[arg(long, value_name = "NAME")]
    pub(crate) source: Option<String>,
    /// Start from a dataset template instead of proposing from scratch: acute_apc,
    /// emergency_ecds, gp, community_csds, mental_health_mhsds or adult_social_care_cld
    /// (examples/configs/). Its columns are matched to the export's header; those missing are
    /// commented out and listed.
    #[arg(long, value_name = "KIND")]
    pub(crate) dataset: Option<String>,
}

/// A source code from a file name: lower case, letters, digits, `-` and `_`, at most 32.
fn source_from(path: &std::path::Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_default();
    let s: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(32)
        .collect();
    // A file named after a patient (9434765919.csv) must not name the source in every manifest.
    if s.is_empty() || s.bytes().any(|b| b.is_ascii_digit()) && crate::token::nhs_number::looks_like_nhs_number(&s) {
        "extract".into()
    } else {
        s
    }
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    if args.out.exists() {
        return Err(Error::usage(format!(
            "{}: already exists; init never writes over a file. Choose another --out",
            args.out.display()
        )));
    }
    crate::io::outputs::check(&[&args.out], &[crate::io::outputs::Input { path: &args.extract, what: "the extract" }])?;
    let sniffed = sniff(&args.extract)?;
    if let Some(kind) = &args.dataset {
        return from_dataset(&args, &sniffed, kind, v);
    }
    let proposals = propose(&sniffed);
    if !proposals.contains(&Proposal::RecordId) {
        return Err(Error::usage(format!(
            "{}: no column named as a record id (an id, ref, episode, encounter or attendance number …) holds a value \
             on every row, all different; nothing was written. Add one to the export, or write the config by hand \
             from docs/config.md",
            args.extract.display()
        )));
    }
    let source = args.source.clone().unwrap_or_else(|| source_from(&args.extract));
    let text = render(&sniffed, &proposals, &source, &args.extract);
    let config = TokeniseConfig::from_toml_str(&text, &args.out)?;
    let report = crate::tokenise::check(&config, None, &args.extract, None).map_err(|e| match e.kind() {
        // A problem in the data (a blank or duplicate row …) is the data's: said as tokenise says it.
        crate::ErrorKind::Input { .. } => e,
        _ => Error::usage(format!(
            "the config proposed for {} does not tokenise the whole file ({e}); nothing was written. Write the config \
             by hand from docs/config.md",
            args.extract.display()
        )),
    })?;
    crate::io::atomic::write_atomic(&args.out, text.as_bytes())?;
    v.result(
        "init",
        serde_json::json!({
            "config": args.out.display().to_string(),
            "extract": args.extract.display().to_string(),
            "source": source,
            "rows_checked": report.rows_read,
            "columns": proposals.iter().enumerate().map(|(c, p)| serde_json::json!({
                "column": sniffed.columns[c],
                "proposal": match p {
                    Proposal::RecordId => "record_id".to_string(),
                    Proposal::Field(kind, _) => kind.to_string(),
                    Proposal::Passthrough(..) => "pass_through".to_string(),
                    Proposal::LeftOut(_) => "left_out".to_string(),
                },
            })).collect::<Vec<_>>(),
        }),
    )?;
    if !quiet {
        // Header text, printed with control characters escaped (never a terminal escape).
        let name = |c: usize| format!("`{}`", sniffed.columns[c].escape_debug());
        let mut fields = Vec::new();
        let mut pass = Vec::new();
        let mut left = 0;
        let mut id = String::from("none");
        for (c, p) in proposals.iter().enumerate() {
            match p {
                Proposal::RecordId => id = name(c),
                Proposal::Field(kind, _) => fields.push(format!("{kind} {}", name(c))),
                Proposal::Passthrough(kind, _, _) => pass.push(format!("{} ({kind})", name(c))),
                Proposal::LeftOut(_) => left += 1,
            }
        }
        eprintln!(
            "pseudolink: proposed {} for {}: delimiter {:?}, {}, {}; record id {id}; fields: {}; pass-through (review \
             each): {}; {left} column(s) left out. Checked on all {} rows: it tokenises the file as it stands",
            args.out.display(),
            args.extract.display(),
            sniffed.delimiter,
            match sniffed.encoding {
                crate::config::TextEncoding::Utf8 => "UTF-8",
                crate::config::TextEncoding::Windows1252 => "Windows-1252",
            },
            if sniffed.has_header { "a header row" } else { "no header row" },
            if fields.is_empty() { "none".into() } else { fields.join(", ") },
            if pass.is_empty() { "none".into() } else { pass.join(", ") },
            group_digits(report.rows_read)
        );
    }
    Ok(())
}

/// `init --dataset`: the template with the export's columns, checked as a proposal is.
fn from_dataset(args: &Args, sniffed: &crate::init::Sniffed, kind: &str, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let (text, missing) = crate::init::from_template(sniffed, kind, args.source.as_deref())?;
    let config = TokeniseConfig::from_toml_str(&text, &args.out)?;
    let report = crate::tokenise::check(&config, None, &args.extract, None).map_err(|e| match e.kind() {
        crate::ErrorKind::Input { .. } => e,
        _ => Error::usage(format!(
            "the {kind} template with the columns of {} does not tokenise the whole file ({e}); nothing was written. \
             Start from examples/configs/{kind}.toml by hand, or run init without --dataset",
            args.extract.display()
        )),
    })?;
    crate::io::atomic::write_atomic(&args.out, text.as_bytes())?;
    v.result(
        "init",
        serde_json::json!({
            "config": args.out.display().to_string(),
            "extract": args.extract.display().to_string(),
            "dataset": kind,
            "rows_checked": report.rows_read,
            "template_columns_missing": missing,
        }),
    )?;
    if !quiet {
        eprintln!(
            "pseudolink: wrote {} from the {kind} template: {} template column(s) not in the export were commented \
             out{}. Checked on all {} rows: it tokenises the file as it stands",
            args.out.display(),
            missing.len(),
            if missing.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    missing.iter().map(|m| format!("`{}`", m.escape_debug())).collect::<Vec<_>>().join(", ")
                )
            },
            group_digits(report.rows_read)
        );
    }
    Ok(())
}
