//! `pseudolink tokenise`: a provider's extract in, a pseudonymised extract and a quality report out.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::config::{InputFormat, TokeniseConfig};
use crate::error::{Error, Result, group_digits};
use crate::io::DEFAULT_BATCH_ROWS;
use crate::io::atomic::AtomicFile;
use crate::io::outputs::{self, Input};
use crate::token::ProjectKey;
use crate::token::key::KEY_FILE_ENV;
use crate::tokenise::{TokeniseOptions, tokenise};

/// Arguments of `tokenise`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
The key is read from the file named by --key-file or, failing that, by the PSEUDOLINK_KEY_FILE
environment variable; never from a command-line value. The key file must be private (mode 0600).

Writes OUT.parquet, and beside it OUT.issues.csv (each row with an unusable value: row, column
and reason, never the value), OUT.quality.json and OUT.quality.txt (the data-quality report
for the IG team). Outputs appear only when complete. Records with an unusable value (an NHS
number failing its check digit, an unreadable date) are kept and counted in the report; a
structural problem (a missing column, a ragged row, undecodable text) stops the run with a
message naming the file, row and column.

EXAMPLE:
  pseudolink tokenise --config acute.toml --key-file project.key \\
      --input acute_extract.csv --output acute.parquet")]
pub(crate) struct Args {
    /// The tokenise config (TOML) mapping the extract's columns to fields.
    #[arg(long, value_name = "CONFIG")]
    pub(crate) config: PathBuf,
    /// The project key file (or set PSEUDOLINK_KEY_FILE to its path).
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// The provider's extract (CSV or Parquet).
    #[arg(long, value_name = "EXTRACT")]
    pub(crate) input: PathBuf,
    /// The pseudonymised extract to write (Parquet).
    #[arg(long, value_name = "OUT.parquet", required_unless_present = "check")]
    pub(crate) output: Option<PathBuf>,
    /// Check the config against the input and read its rows as tokenise would, writing nothing:
    /// every problem a run would meet, and the quality report's counts, on stdout. The key file
    /// is optional (without one a throwaway key is used; counts do not depend on the key).
    #[arg(long)]
    pub(crate) check: bool,
    /// With --check, read at most this many rows (default: all).
    #[arg(long, value_name = "N", requires = "check")]
    pub(crate) check_rows: Option<u64>,
    /// Where to write the quality report's JSON; the text goes beside it as .txt.
    #[arg(long, value_name = "REPORT.json")]
    pub(crate) report: Option<PathBuf>,
    /// Input rows per batch (memory use grows with it).
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS, value_name = "N")]
    pub(crate) batch_rows: usize,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let config = TokeniseConfig::read(&args.config)?;
    if args.check {
        return check(&args, &config, v);
    }
    // Infallible: clap requires --output unless --check.
    let output = args.output.clone().unwrap_or_default();
    let key_path = match &args.key_file {
        Some(p) => p.clone(),
        None => match std::env::var_os(KEY_FILE_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => {
                return Err(Error::usage(format!(
                    "no key file: give --key-file KEYFILE, or set {KEY_FILE_ENV} to the key file's path"
                )));
            }
        },
    };
    let key = ProjectKey::read_file(&key_path)?;
    if args.batch_rows == 0 {
        return Err(Error::usage("--batch-rows must be at least 1"));
    }
    let (json_path, text_path) = report_paths(&output, args.report.as_deref());
    let issues_path = issues_path(&json_path);
    outputs::check(
        &[&output, &json_path, &text_path, &issues_path],
        &[
            Input { path: &args.input, what: "the input extract" },
            Input { path: &args.config, what: "the config" },
            Input { path: &key_path, what: "the key file" },
        ],
    )?;
    // The reports' files are opened before the run, so a bad report path fails before anything
    // is written, and the extract is removed again if a report cannot be completed.
    let mut json_out = AtomicFile::create(&json_path)?;
    let mut text_out = AtomicFile::create(&text_path)?;
    let mut issues_out = AtomicFile::create(&issues_path)?;
    let by_bytes = config.input_format(&args.input)? == InputFormat::Csv;
    let pb = super::progress::bar(quiet, by_bytes);
    let progress = |rows: u64, done: u64, total: Option<u64>| {
        if let Some(t) = total {
            pb.set_length(t);
        }
        pb.set_position(done);
        pb.set_message(format!("{} rows", group_digits(rows)));
    };
    let options = TokeniseOptions { batch_rows: args.batch_rows, progress: Some(&progress) };
    let done = tokenise(&config, &key, &args.input, &output, &options);
    pb.finish_and_clear();
    let done = done?;

    let reports = (|| {
        let (j, t) = (done.report.to_json(), done.report.to_text());
        json_out.file().write_all(j.as_bytes()).map_err(|e| Error::io("writing", &json_path, e))?;
        text_out.file().write_all(t.as_bytes()).map_err(|e| Error::io("writing", &text_path, e))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |_| Error::output(&issues_path, "could not be written".to_string());
        w.write_record(["row", "column", "reason", "related_row"]).map_err(csv_err)?;
        for i in &done.issues {
            let related = i.related_row.map(|r| r.to_string()).unwrap_or_default();
            w.write_record([i.row.to_string().as_str(), i.column.as_str(), i.reason, related.as_str()])
                .map_err(csv_err)?;
        }
        let bytes = w.into_inner().map_err(|_| Error::output(&issues_path, "could not be written".to_string()))?;
        issues_out.file().write_all(&bytes).map_err(|e| Error::io("writing", &issues_path, e))?;
        json_out.commit()?;
        text_out.commit()?;
        issues_out.commit()
    })();
    if let Err(e) = reports {
        let _ = std::fs::remove_file(&output);
        let _ = std::fs::remove_file(&json_path);
        let _ = std::fs::remove_file(&text_path);
        return Err(e);
    }
    if v.json {
        let report: serde_json::Value = serde_json::from_str(&done.report.to_json()).unwrap_or_default();
        v.report("tokenise", &report)?;
    }
    if !quiet {
        let r = &done.report;
        let secs = done.elapsed.as_secs_f64().max(1e-9);
        let nhs = r
            .nhs_number
            .as_ref()
            .map(|n| {
                let parts: Vec<String> = n
                    .statuses
                    .iter()
                    .filter(|(_, c)| **c > 0)
                    .map(|(s, c)| format!("{} {s}", group_digits(*c)))
                    .collect();
                if parts.is_empty() { String::new() } else { format!("; NHS numbers: {}", parts.join(", ")) }
            })
            .unwrap_or_default();
        eprintln!(
            "pseudolink: tokenised {} rows of {} into {} in {:.1} s ({} rows/s){nhs}; quality report: {}",
            group_digits(r.rows_written),
            args.input.display(),
            output.display(),
            secs,
            group_digits((r.rows_written as f64 / secs) as u64),
            text_path.display()
        );
        if !done.issues.is_empty() {
            eprintln!(
                "pseudolink: {} issues (rows with an unusable value, pairs of likely duplicate registrations) are \
                 listed by row, column and reason (never the value) in {}{}",
                group_digits(done.issues.len() as u64 + done.issues_not_listed),
                issues_path.display(),
                if done.issues_not_listed > 0 {
                    format!(
                        " (the first {}; the quality report counts them all)",
                        group_digits(done.issues.len() as u64)
                    )
                } else {
                    String::new()
                }
            );
        }
        let (bytes, sha256) = crate::inspect::digest(&output)?;
        for line in crate::inspect::what_leaves(&output.display().to_string(), &done.manifest, bytes, &sha256).lines() {
            eprintln!("pseudolink: {line}");
        }
    }
    Ok(())
}

/// `tokenise --check`: the config against the input, rows read as a run would, nothing written.
fn check(args: &Args, config: &TokeniseConfig, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let key_path =
        args.key_file.clone().or_else(|| std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()).map(PathBuf::from));
    let key = key_path.as_deref().map(ProjectKey::read_file).transpose()?;
    let report = crate::tokenise::check(config, key.as_ref(), &args.input, args.check_rows)?;
    if v.json {
        let report: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap_or_default();
        v.report("tokenise", &report)?;
    } else {
        super::print_stdout(&report.to_text())?;
    }
    // A column none of whose values could be read is a config that does not fit the file (a date
    // format or a type that is wrong), not a data-quality finding.
    let unread: Vec<String> = report
        .fields
        .iter()
        .chain(&report.passthrough)
        .filter(|f| f.present == 0 && f.unusable > 0)
        .map(|f| format!("`{}` ({}: all {} values unusable)", f.column, f.kind, group_digits(f.unusable)))
        .collect();
    if !unread.is_empty() {
        return Err(Error::usage(format!(
            "check failed: in {}, no value of {} could be read. Check the `type` and `formats` of each in {} \
             (docs/config.md lists the date formats); nothing was written",
            args.input.display(),
            unread.join(", "),
            args.config.display()
        )));
    }
    if !quiet {
        eprintln!(
            "pseudolink: check passed: the config matches {} and its {} rows read tokenise without error{}; nothing was \
             written",
            args.input.display(),
            group_digits(report.rows_read),
            if args.check_rows.is_some_and(|n| n <= report.rows_read) {
                " (the first rows only: --check-rows)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The issues file beside the report: `X.quality.json` → `X.issues.csv`.
fn issues_path(json: &Path) -> PathBuf {
    let name = json.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.strip_suffix(".quality.json").or_else(|| name.strip_suffix(".json")).unwrap_or(&name);
    json.with_file_name(format!("{stem}.issues.csv"))
}

/// The report's JSON and text paths: `--report` or `OUT.quality.json`, and `.txt` beside it.
fn report_paths(output: &Path, report: Option<&Path>) -> (PathBuf, PathBuf) {
    let json = match report {
        Some(p) => p.to_path_buf(),
        None => {
            let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
            output.with_file_name(format!("{stem}.quality.json"))
        }
    };
    let text = json.with_extension("txt");
    (json, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_paths_sit_beside_the_output() {
        let (j, t) = report_paths(Path::new("out/acute.parquet"), None);
        assert_eq!(j, Path::new("out/acute.quality.json"));
        assert_eq!(t, Path::new("out/acute.quality.txt"));
        let (j, t) = report_paths(Path::new("a.parquet"), Some(Path::new("r/q.json")));
        assert_eq!((j.as_path(), t.as_path()), (Path::new("r/q.json"), Path::new("r/q.txt")));
    }
}
