//! Faults: a run killed mid-write, and a full disk (simulated by a file-size limit). Neither may
//! leave a file at the output path, and a re-run afterwards gives exactly what a clean run gives.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{Dir, text};

/// A folder with a synthetic GP extract (about 30,000 rows) and the test key.
fn setup() -> Dir {
    let d = Dir::new();
    d.ok(&["synth", "--persons", "6000", "--seed", "61", "--out", "s", "-q"]);
    d.test_key("k.key");
    d
}

const TOKENISE: [&str; 9] =
    ["tokenise", "--config", "s/gp.toml", "--key-file", "k.key", "--input", "s/gp.csv", "--output", "out.parquet"];

fn temp_files(d: &Dir) -> Vec<String> {
    d.files().into_iter().map(|(p, _)| p.display().to_string()).filter(|p| p.contains(".tmp")).collect()
}

#[test]
fn a_killed_run_leaves_nothing_at_the_output_path_and_a_rerun_matches_a_clean_run() {
    let clean = setup();
    clean.ok(&TOKENISE);
    let want = std::fs::read(clean.path("out.parquet")).unwrap();

    let d = setup();
    let mut child = d.cmd(&TOKENISE).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // Kill it once it has started writing (its temporary output exists), or after 20 s.
    let start = Instant::now();
    while temp_files(&d).is_empty() && start.elapsed() < Duration::from_secs(20) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let finished_already = child.try_wait().unwrap().is_some();
    child.kill().ok();
    child.wait().unwrap();
    assert!(!finished_already, "the run finished before it could be killed: make the extract larger");
    assert!(!d.path("out.parquet").exists(), "a killed run left a file at the output path");
    // SIGKILL gives no chance to clean up: the temporary file may remain beside the output, under
    // a name no reader mistakes for an extract. A re-run gives the clean run's bytes.
    d.ok(&TOKENISE);
    assert_eq!(std::fs::read(d.path("out.parquet")).unwrap(), want);
}

#[test]
fn a_full_disk_is_a_clear_error_with_nothing_left_and_a_rerun_matches_a_clean_run() {
    let d = setup();
    // A file-size limit of 256 KiB (in 512-byte blocks), with SIGXFSZ ignored so that writes
    // fail with "File too large", as they would on a full disk.
    let bin = env!("CARGO_BIN_EXE_pseudolink");
    let out = std::process::Command::new("sh")
        .current_dir(d.path(""))
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 512; exec \"$0\" \"$@\"")
        .arg(bin)
        .args(TOKENISE)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("pseudolink: error: ") && err.contains("out.parquet"), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert!(!d.path("out.parquet").exists());
    assert!(temp_files(&d).is_empty(), "left behind {:?}", temp_files(&d));
    d.ok(&TOKENISE);
    let clean = setup();
    clean.ok(&TOKENISE);
    assert_eq!(std::fs::read(d.path("out.parquet")).unwrap(), std::fs::read(clean.path("out.parquet")).unwrap());

    // The same for a linkage's outputs: no summary.json, so no folder presented as complete.
    d.ok(&[
        "tokenise",
        "--config",
        "s/acute.toml",
        "--key-file",
        "k.key",
        "--input",
        "s/acute.csv",
        "--output",
        "a.parquet",
        "-q",
    ]);
    let out = std::process::Command::new("sh")
        .current_dir(d.path(""))
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" \"$@\"")
        .arg(bin)
        .args(["link", "out.parquet", "a.parquet", "--out", "l", "-q"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
    assert!(!d.path("l/summary.json").exists());
    assert!(temp_files(&d).is_empty(), "left behind {:?}", temp_files(&d));
}
