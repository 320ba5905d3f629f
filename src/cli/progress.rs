//! Progress on stderr: counts and rates, never values; hidden when stderr is not a terminal or
//! with `--quiet`.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar for long work.
pub(crate) fn bar(quiet: bool, unit_bytes: bool) -> ProgressBar {
    let hidden = quiet || !std::io::stderr().is_terminal();
    let pb = ProgressBar::with_draw_target(
        None,
        if hidden { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() },
    );
    let template = if unit_bytes {
        "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows {msg}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        pb.set_style(style);
    }
    pb
}
