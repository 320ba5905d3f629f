//! The `pseudolink` command: parse arguments, run, map the outcome to an exit status.

use std::process::ExitCode;

fn main() -> ExitCode {
    pseudolink::cli::main()
}
