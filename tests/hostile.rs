//! Hostile and broken inputs: one case file each in `tests/hostile/`, with the exact message and
//! exit status it must produce, run through the real binary.
//!
//! A case is a TOML file:
//!
//! ```toml
//! # what the case is about
//! args = ["tokenise", "--config", "c.toml", "--key-file", "k.key", "--input", "in.csv", "--output", "out.parquet"]
//! status = 1
//! expected = "pseudolink: error: …\n"      # the whole of stderr
//! outputs = []                              # files the run may leave (default: none)
//! quality_contains = ["given_name given given_name 0.00% 0.00% 100.00%"]   # report lines
//! [files]                                   # text inputs
//! "in.csv" = "…"
//! [hex_files]                               # byte inputs (invalid UTF-8, NUL …)
//! "bad.csv" = "6964…"
//! [modes]                                   # file modes (default 0600 for *.key)
//! "open.key" = 0o644
//! unchanged = ["k.key"]                     # files that must keep their bytes
//! ```
//!
//! Every case runs in a fresh folder that already holds `k.key` (a fixed test key), `good.csv`
//! and `good.toml` (a three-row acute extract and its config), `good.parquet` (that extract
//! tokenised) and files derived from it: `truncated.parquet` (cut in half), `not_extract.parquet`
//! (a Parquet file without a manifest), `forged_key.parquet` (manifest claiming another key id),
//! `forged_purpose.parquet` (the NHS-number token column declared as keyed for dates of birth),
//! `swapped_types.parquet` (the given- and family-name fields' types swapped in the manifest),
//! `missing_column.parquet` (a column the manifest declares removed from the file),
//! `forged_bloom.parquet` (manifest claiming another Bloom width), `text_tokens.parquet` (token
//! columns stored as text under the real manifest), `empty.parquet` (a manifest and no rows),
//! and `gp.parquet` (the extract again as source `gp`). After the run, the folder must hold
//! nothing new but the listed `outputs`: no partial file, no temp file.
//!
//! Also present: `open.key` (the test key, readable by others) and an empty folder `keys`. A
//! `[generated]` table makes large inputs at run time:
//! `"in.csv" = { prefix = "…", unit = "A", times = 16777216, suffix = "…" }`.
//!
//! `PSEUDOLINK_HOSTILE_PRINT=1 cargo test hostile` prints each case's actual stderr.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, FixedSizeBinaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::KeyValue;
use serde::Deserialize;

use crate::util::{Dir, text};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    args: Vec<String>,
    status: i32,
    expected: String,
    #[serde(default)]
    outputs: Vec<String>,
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    hex_files: BTreeMap<String, String>,
    #[serde(default)]
    modes: BTreeMap<String, u32>,
    #[serde(default)]
    generated: BTreeMap<String, Generated>,
    /// Lines the quality report `out.quality.txt` must hold (runs of spaces compared as one):
    /// the record-level status a case that succeeds must report.
    #[serde(default)]
    quality_contains: Vec<String>,
    /// Files that must hold the same bytes after the run (inputs an output must not replace).
    #[serde(default)]
    unchanged: Vec<String>,
}

/// A large input made at run time: `prefix`, then `unit` repeated `times`, then `suffix`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Generated {
    prefix: String,
    unit: String,
    times: usize,
    suffix: String,
}

const GOOD_CSV: &str = "id,nhs,given,family,dob,postcode,sex,cost\n\
R1,9434765919,Ann,Smith,1970-01-31,LS1 4AP,F,12.50\n\
R2,9434765870,Bob,Jones,1980-05-02,LS2 9JT,M,30\n\
R3,,Cat,Brown,1990-12-12,BD7 1DP,F,\n";

const GOOD_TOML: &str = r#"source = "acute"

[record_id]
column = "id"

[[field]]
column = "nhs"
type = "nhs_number"

[[field]]
column = "given"
type = "given_name"

[[field]]
column = "family"
type = "family_name"

[[field]]
column = "dob"
type = "date_of_birth"

[[field]]
column = "postcode"
type = "postcode"

[[field]]
column = "sex"
type = "sex"
plain = true

[[passthrough]]
column = "cost"
type = "float"
"#;

/// Rewrites `good.parquet` into `to`, changing its batch and manifest.
fn rewrite(d: &Dir, to: &str, batch: impl Fn(RecordBatch) -> RecordBatch, manifest: impl Fn(String) -> String) {
    let f = std::fs::File::open(d.path("good.parquet")).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let m = b.metadata().file_metadata().key_value_metadata().unwrap();
    let json = m.iter().find(|e| e.key == "pseudolink.manifest").unwrap().value.clone().unwrap();
    let batches: Vec<RecordBatch> = b.build().unwrap().map(|x| batch(x.unwrap())).collect();
    let schema = batches[0].schema();
    let mut w = ArrowWriter::try_new(std::fs::File::create(d.path(to)).unwrap(), schema, None).unwrap();
    w.append_key_value_metadata(KeyValue::new("pseudolink.manifest".into(), manifest(json)));
    for x in &batches {
        w.write(x).unwrap();
    }
    w.close().unwrap();
}

/// The shared inputs every case may use.
fn fixtures(d: &Dir) {
    d.test_key("k.key");
    d.test_key("open.key");
    std::fs::set_permissions(d.path("open.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::create_dir(d.path("keys")).unwrap();
    d.write("good.csv", GOOD_CSV);
    d.write("good.toml", GOOD_TOML);
    d.ok(&[
        "tokenise",
        "--config",
        "good.toml",
        "--key-file",
        "k.key",
        "--input",
        "good.csv",
        "--output",
        "good.parquet",
        "-q",
    ]);
    d.write("gp.toml", GOOD_TOML.replace("\"acute\"", "\"gp\""));
    d.ok(&[
        "tokenise",
        "--config",
        "gp.toml",
        "--key-file",
        "k.key",
        "--input",
        "good.csv",
        "--output",
        "gp.parquet",
        "-q",
    ]);
    let bytes = std::fs::read(d.path("good.parquet")).unwrap();
    d.write("truncated.parquet", &bytes[..bytes.len() / 2]);
    // A Parquet file without a manifest.
    let f = std::fs::File::open(d.path("good.parquet")).unwrap();
    let batches: Vec<RecordBatch> =
        ParquetRecordBatchReaderBuilder::try_new(f).unwrap().build().unwrap().map(|b| b.unwrap()).collect();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(d.path("not_extract.parquet")).unwrap(), batches[0].schema(), None)
            .unwrap();
    w.write(&batches[0]).unwrap();
    w.close().unwrap();
    rewrite(
        d,
        "forged_key.parquet",
        |b| b,
        |m| {
            let v: serde_json::Value = serde_json::from_str(&m).unwrap();
            m.replace(v["key_id"].as_str().unwrap(), "00000000000000000000000000000000")
        },
    );
    rewrite(
        d,
        "forged_bloom.parquet",
        |b| b,
        |m| m.replace("\"bytes\": 128", "\"bytes\": 64").replace("\"bytes\":128", "\"bytes\":64"),
    );
    rewrite(
        d,
        "swapped_types.parquet",
        |b| b,
        |m| {
            m.replace("\"type\": \"given_name\"", "\"type\": \"@\"")
                .replace("\"type\": \"family_name\"", "\"type\": \"given_name\"")
                .replace("\"type\": \"@\"", "\"type\": \"family_name\"")
        },
    );
    rewrite(d, "forged_purpose.parquet", |b| b, |m| m.replace("pseudolink/v1/nhs-number", "pseudolink/v1/dob/full"));
    rewrite(
        d,
        "missing_column.parquet",
        |b| {
            let keep: Vec<usize> =
                (0..b.num_columns()).filter(|&i| b.schema().field(i).name() != "nhs_number_token").collect();
            b.project(&keep).unwrap()
        },
        |m| m,
    );
    rewrite(
        d,
        "empty.parquet",
        |b| b.slice(0, 0),
        |m| m.replace("\"written\": 3", "\"written\": 0").replace("\"written\":3", "\"written\":0"),
    );
    rewrite(
        d,
        "text_tokens.parquet",
        |b| {
            let fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::FixedSizeBinary(16) => Field::new(f.name(), DataType::Utf8, true),
                    _ => f.as_ref().clone(),
                })
                .collect();
            let cols: Vec<ArrayRef> = b
                .columns()
                .iter()
                .map(|c| match c.as_any().downcast_ref::<FixedSizeBinaryArray>().filter(|a| a.value_length() == 16) {
                    Some(a) => Arc::new(
                        (0..a.len()).map(|i| a.is_valid(i).then(|| hex::encode(a.value(i)))).collect::<StringArray>(),
                    ) as ArrayRef,
                    None => c.clone(),
                })
                .collect();
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
        },
        |m| m,
    );
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        walk(dir).into_iter().map(|p| p.strip_prefix(dir).unwrap().display().to_string()).collect();
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.push(p.clone());
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_hostile_case_gives_its_exact_message_and_leaves_nothing_behind() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut names: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 20, "the hostile-input suite has {} cases", names.len());
    let print = std::env::var_os("PSEUDOLINK_HOSTILE_PRINT").is_some();
    let mut failures = Vec::new();
    for path in &names {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let case: Case = toml::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: not a case file: {e}"));
        let d = Dir::new();
        fixtures(&d);
        for (f, body) in &case.files {
            d.write(f, body);
        }
        for (f, hex) in &case.hex_files {
            d.write(f, hex::decode(hex.split_whitespace().collect::<String>()).unwrap());
        }
        for (f, g) in &case.generated {
            let mut body = g.prefix.clone().into_bytes();
            body.extend(g.unit.as_bytes().repeat(g.times));
            body.extend(g.suffix.as_bytes());
            d.write(f, body);
        }
        for (f, mode) in &case.modes {
            std::fs::set_permissions(d.path(f), std::fs::Permissions::from_mode(*mode)).unwrap();
        }
        let before = listing(&d.path(""));
        let kept: Vec<Vec<u8>> = case.unchanged.iter().map(|f| std::fs::read(d.path(f)).unwrap()).collect();
        let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
        let out = d.run(&args);
        let stderr = text(&out.stderr);
        if print {
            eprintln!("== {name} (exit {:?})\n{stderr}", out.status.code());
        }
        if out.status.code() != Some(case.status) {
            failures.push(format!("{name}: exit {:?}, expected {}\n{stderr}", out.status.code(), case.status));
            continue;
        }
        if stderr != case.expected {
            failures.push(format!("{name}: stderr differs\n--- got\n{stderr}--- expected\n{}", case.expected));
            continue;
        }
        if !case.quality_contains.is_empty() {
            let report = std::fs::read_to_string(d.path("out.quality.txt")).unwrap_or_default();
            let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
            let lines: Vec<String> = report.lines().map(squash).collect();
            if let Some(missing) = case.quality_contains.iter().find(|w| !lines.contains(&squash(w))) {
                failures.push(format!("{name}: the quality report lacks `{missing}`:\n{report}"));
                continue;
            }
        }
        if let Some(f) =
            case.unchanged.iter().zip(&kept).find(|(f, b)| std::fs::read(d.path(f)).ok().as_ref() != Some(b))
        {
            failures.push(format!("{name}: {} was changed", f.0));
            continue;
        }
        let mut after = listing(&d.path(""));
        after.retain(|f| !before.contains(f) && !case.outputs.contains(f));
        if !after.is_empty() {
            failures.push(format!("{name}: left behind {after:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), names.len(), failures.join("\n\n"));
}
