//! The command line: a thin layer over the library. One file per subcommand.

mod audit;
mod demo;
mod evaluate;
mod explain;
mod init;
mod inspect;
mod keygen;
mod link;
mod progress;
mod rekey;
mod report;
mod synth;
mod theograph;
mod timeline;
mod tokenise;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;

const EXIT_STATUS: &str = "\
EXIT STATUS:
  0  done
  1  the run failed (bad input, I/O error, a check that did not pass)
  2  usage or configuration error";

/// Pseudonymised record linkage of NHS health and care data.
#[derive(Debug, Parser)]
#[command(name = "pseudolink", version, about, after_long_help = EXIT_STATUS, propagate_version = true)]
pub(crate) struct Cli {
    /// Print only errors: no progress bar and no summary line.
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,

    /// Print the command's result as one JSON object on stdout (what it wrote, its counts).
    ///
    /// Progress and the human summary still go to stderr (unless --quiet), so stdout holds only
    /// the JSON. Reports with a JSON form of their own (tokenise, inspect, evaluate, audit)
    /// print that form.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Make outputs readable by the owner's group (files 0640, new folders 0750).
    ///
    /// By default every output is private to its owner (files 0600, folders 0700): pseudonymised
    /// data is still personal data. Use this where a TRE project's analysts share a Unix group.
    /// Outputs are never made readable by other users.
    #[arg(long, global = true)]
    pub(crate) group_readable: bool,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Make a new secret project key (run once, by the project's key custodian).
    Keygen(keygen::Args),
    /// Propose a tokenise config from an extract itself (a provider's first step)
    Init(init::Args),
    /// Turn a provider's extract into a pseudonymised Parquet extract.
    Tokenise(tokenise::Args),
    /// Show a pseudonymised extract's manifest, schema and row counts.
    Inspect(inspect::Args),
    /// Apply the TRE's second key to extracts as they enter the TRE.
    Rekey(rekey::Args),
    /// Link pseudonymised extracts into persons.
    Link(link::Args),
    /// Show the evidence for one pair of records.
    Explain(explain::Args),
    /// Measure a linkage's accuracy against a ground truth.
    Evaluate(evaluate::Args),
    /// Join linked activity into cross-sector timelines and population views.
    Timeline(timeline::Args),
    /// Draw persons' events on a time axis, one lane per setting (SVG).
    Theograph(theograph::Args),
    /// Measure what an insider can learn from extracts without any key (a release gate).
    Audit(audit::Args),
    /// Write the linkage and population report (self-contained HTML).
    Report(report::Args),
    /// Generate a synthetic multi-provider population with known truth.
    Synth(synth::Args),
    /// Run the pipeline on a synthetic population and narrate each stage.
    Demo(demo::Args),
}

/// Runs the command line and returns the exit status.
pub fn main() -> ExitCode {
    hide_panic_payloads();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(2),
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report_error(&e),
    }
}

/// Replaces the default panic message, which prints the panic's payload: a panic inside a
/// dependency (a CSV or Parquet reader, say) may carry the value it choked on, and that value may
/// be an identifier. Only the location is shown. Outputs being written are left under temporary
/// names (removed as the panic unwinds), never at their final paths.
fn hide_panic_payloads() {
    std::panic::set_hook(Box::new(|info| {
        // A damaged Parquet page: caught and reported as an ordinary error.
        if crate::io::parquet::decoding_untrusted() {
            return;
        }
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!(
            "pseudolink: internal error{at}. This is a bug in pseudolink: please report it with the command you \
             ran (the message it carried is not shown, as it may hold input values). No output of this run is complete."
        );
    }));
}

/// Runs a parsed command line.
pub(crate) fn run(cli: Cli) -> Result<(), Error> {
    let v = Voice { quiet: cli.quiet, json: cli.json };
    crate::io::atomic::set_group_readable(cli.group_readable);
    match cli.command {
        Command::Keygen(a) => keygen::run(a, v),
        Command::Init(a) => init::run(a, v),
        Command::Tokenise(a) => tokenise::run(a, v),
        Command::Inspect(a) => inspect::run(a, v),
        Command::Rekey(a) => rekey::run(a, v),
        Command::Link(a) => link::run(a, v),
        Command::Evaluate(a) => evaluate::run(a, v),
        Command::Explain(a) => explain::run(a, v),
        Command::Timeline(a) => timeline::run(a, v),
        Command::Theograph(a) => theograph::run(a, v),
        Command::Report(a) => report::run(a, v),
        Command::Audit(a) => audit::run(a, v),
        Command::Synth(a) => synth::run(a, v),
        Command::Demo(a) => demo::run(a, v),
    }
}

/// How a command reports its outcome: the global `--quiet` and `--json`.
///
/// Every command ends with one human line on stderr saying what it did and where (unless
/// `--quiet`) and, with `--json`, one JSON object on stdout. Both name paths and counts only,
/// never a value read from an input.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Voice {
    /// `--quiet`: errors only.
    pub(crate) quiet: bool,
    /// `--json`: the result as JSON on stdout.
    pub(crate) json: bool,
}

impl Voice {
    /// A human line on stderr, unless `--quiet`.
    pub(crate) fn say(&self, line: &str) {
        if !self.quiet {
            eprintln!("pseudolink: {line}");
        }
    }

    /// With `--json`, a command's report (a serialisable object) as its result, `"command"`
    /// first: the same fields as the report file, so scripts read every command alike.
    pub(crate) fn report(&self, command: &str, report: &impl serde::Serialize) -> Result<(), Error> {
        self.result(command, serde_json::to_value(report).unwrap_or_default())
    }

    /// With `--json`, the command's result on stdout: `{"command": NAME, ...fields}`.
    pub(crate) fn result(&self, command: &str, fields: serde_json::Value) -> Result<(), Error> {
        if !self.json {
            return Ok(());
        }
        let mut object = serde_json::Map::new();
        object.insert("command".into(), command.into());
        if let serde_json::Value::Object(f) = fields {
            object.extend(f);
        }
        print_stdout(&(serde_json::to_string_pretty(&serde_json::Value::Object(object)).unwrap_or_default() + "\n"))
    }
}

fn report_error(e: &Error) -> ExitCode {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "pseudolink: error: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let _ = writeln!(err, "  caused by: {s}");
        source = s.source();
    }
    ExitCode::from(if e.is_usage() { 2 } else { 1 })
}

/// Writes to stdout, treating a closed pipe as success (`pseudolink inspect x | head`).
pub(crate) fn print_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("writing", std::path::Path::new("<stdout>"), e)),
    }
}
