//! Test harness: a temporary working folder and the `pseudolink` binary run inside it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow_array::{Array, FixedSizeBinaryArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// A temporary folder for one test.
pub struct Dir {
    pub tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { tmp: tempfile::tempdir().expect("temp dir") }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// A command running the binary in this folder, with no key variable inherited.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pseudolink"));
        c.current_dir(self.tmp.path()).args(args).env_remove("PSEUDOLINK_KEY_FILE");
        c
    }

    /// Runs and returns the output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run pseudolink")
    }

    /// Runs, expecting success; panics with stdout and stderr otherwise.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pseudolink {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    /// Runs, expecting exit status `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "pseudolink {args:?}: expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stderr)
    }

    /// Every file below the folder, as (relative path, bytes).
    pub fn files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.tmp.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(self.tmp.path()).unwrap().to_path_buf();
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    /// Makes a key file with fixed test bytes 00..1f, mode 0600.
    pub fn test_key(&self, name: &str) -> PathBuf {
        let p = self.path(name);
        let key = pseudolink::ProjectKey::from_bytes(std::array::from_fn(|i| i as u8));
        key.write_new_file(&p).unwrap();
        p
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Reads a whole Parquet file.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap().map(|b| b.unwrap()).collect()
}

/// One column of a Parquet file as hex strings (None for nulls) or text.
pub fn column_values(path: &Path, name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for b in read_parquet(path) {
        let c = b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}"));
        if let Some(a) = c.as_any().downcast_ref::<FixedSizeBinaryArray>() {
            out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| hex::encode(a.value(i)))));
        } else if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
            out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_string())));
        } else {
            let s = arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()).unwrap();
            out.extend((0..c.len()).map(|i| c.is_valid(i).then(|| s.value(i).to_string())));
        }
    }
    out
}

/// Asserts `haystack` holds none of `needles` (case-insensitively for text).
pub fn assert_no_canary(what: &str, haystack: &[u8], needles: &[&str]) {
    let lower = String::from_utf8_lossy(haystack).to_lowercase();
    for n in needles {
        assert!(!lower.contains(&n.to_lowercase()), "canary {n:?} found in {what}");
        assert!(!haystack.windows(n.len()).any(|w| w == n.as_bytes()), "canary {n:?} found (bytes) in {what}");
    }
}

/// The synthetic providers, in `synth`'s order.
pub const PROVIDERS: [&str; 5] = ["acute", "ae", "gp", "community_mh", "social_care"];

/// Synthesises `persons` into `s/` and tokenises every provider's extract under the fixed test
/// key into `<provider>.parquet`; returns those file names.
pub fn tokenised_population(d: &Dir, persons: &str, seed: &str) -> Vec<String> {
    d.ok(&["synth", "--persons", persons, "--seed", seed, "--out", "s", "-q"]);
    let key = d.test_key("k.key");
    PROVIDERS
        .iter()
        .map(|p| {
            let out = format!("{p}.parquet");
            tokenise_with_key(d, &key, &format!("s/{p}.toml"), &format!("s/{p}.csv"), &out);
            out
        })
        .collect()
}

/// Runs `tokenise` quietly with `key`, expecting success.
pub fn tokenise_with_key(d: &Dir, key: &Path, config: &str, input: &str, output: &str) {
    let key = key.to_str().unwrap();
    d.ok(&["tokenise", "--config", config, "--key-file", key, "--input", input, "--output", output, "-q"]);
}
