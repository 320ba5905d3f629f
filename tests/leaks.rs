//! Leak tests: a person's identifiers, planted as canaries in every provider's extract, must not
//! appear in any output, report, log line or error message of any command — on success, on
//! failure, and when a panic strikes while the canary is being read.

use std::path::Path;

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::{Dir, PROVIDERS, assert_no_canary, text};

const GIVEN: &str = "Zyxwquint";
const FAMILY: &str = "Qorvexhalm";

/// Everything a file could show: for Parquet, every value as text and the footer's metadata
/// (the bytes themselves are compressed, so a byte search alone would miss a leak).
fn visible(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    if path.extension().is_none_or(|e| e != "parquet") {
        return bytes;
    }
    let mut out = bytes;
    // A damaged file (the truncated input of a forced failure) is searched as bytes only.
    let Ok(b) = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()) else { return out };
    for kv in b.metadata().file_metadata().key_value_metadata().into_iter().flatten() {
        out.extend(kv.key.as_bytes());
        out.extend(kv.value.as_deref().unwrap_or_default().as_bytes());
    }
    let batches: Vec<RecordBatch> = b.build().unwrap().map(|x| x.unwrap()).collect();
    for batch in batches {
        for c in batch.columns() {
            let f = arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()).unwrap();
            for i in 0..c.len() {
                out.extend(f.value(i).to_string().as_bytes());
                out.push(b'\n');
            }
        }
    }
    out
}

/// A synthetic population with one person's names replaced by canaries in every extract;
/// returns every canary form of that person's identifiers, and one of their record ids.
fn planted(d: &Dir) -> (Vec<String>, String) {
    d.ok(&["synth", "--persons", "400", "--seed", "41", "--out", "s", "-q"]);
    let acute = std::fs::read_to_string(d.path("s/acute.csv")).unwrap();
    let row: Vec<&str> = acute
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[2].len() == 10 && r[5] < "2000" && r[3].len() > 3 && r[4].len() > 3)
        .expect("an adult acute patient with an NHS number");
    let (nhs, given, family, dob, postcode) = (row[2], row[3], row[4], row[5], row[6]);
    for p in PROVIDERS {
        let path = d.path(&format!("s/{p}.csv"));
        let body = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let body = body
            .replace(&format!(",{given},"), &format!(",{GIVEN},"))
            .replace(&format!("|{given}|"), &format!("|{GIVEN}|"));
        let body = body
            .replace(&format!(",{family},"), &format!(",{FAMILY},"))
            .replace(&format!("|{family}|"), &format!("|{FAMILY}|"));
        // Windows-1252 extracts hold £ signs: write back in the same encoding.
        let bytes: Vec<u8> = if p == "social_care" {
            body.chars().map(|c| if c == '£' { 0xA3 } else { c as u8 }).collect()
        } else {
            body.into_bytes()
        };
        std::fs::write(&path, bytes).unwrap();
    }
    let (y, m, day) = (&dob[..4], &dob[5..7], &dob[8..10]);
    let canaries = vec![
        GIVEN.to_string(),
        FAMILY.to_string(),
        nhs.to_string(),
        format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..]),
        postcode.to_string(),
        postcode.replace(' ', ""),
        dob.to_string(),
        format!("{day}/{m}/{y}"),
        format!("{day}-{m}-{y}"),
        format!("{y}{m}{day}"),
    ];
    (canaries, format!("acute:{}", row[0]))
}

#[test]
fn no_canary_in_any_output_log_or_error_of_any_command() {
    let d = Dir::new();
    let (canaries, canary_record) = planted(&d);
    let c: Vec<&str> = canaries.iter().map(String::as_str).collect();
    let key = d.test_key("k.key");
    let key = key.to_str().unwrap();
    let mut logs: Vec<(String, Vec<u8>)> = Vec::new();
    let mut run = |args: &[&str], code: i32, env: Option<(&str, &str)>| {
        let mut cmd = d.cmd(args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", text(&out.stderr));
        logs.push((format!("{args:?} stdout"), out.stdout));
        logs.push((format!("{args:?} stderr"), out.stderr));
    };
    // Success, through every command.
    for p in PROVIDERS {
        let (cfg, input, output) = (format!("s/{p}.toml"), format!("s/{p}.csv"), format!("{p}.parquet"));
        run(
            &["tokenise", "--config", &cfg, "--key-file", key, "--input", &input, "--output", &output, "--json"],
            0,
            None,
        );
        run(&["inspect", &output], 0, None);
        run(&["inspect", "--json", &output], 0, None);
    }
    let extracts: Vec<String> = PROVIDERS.iter().map(|p| format!("{p}.parquet")).collect();
    let mut link = vec!["link", "--out", "l"];
    link.extend(extracts.iter().map(String::as_str));
    run(&link, 0, None);
    let truth = std::fs::read_to_string(d.path("s/truth.csv")).unwrap();
    let rows: Vec<Vec<&str>> = truth.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let (_, id) = canary_record.split_once(':').unwrap();
    let person = rows.iter().find(|r| r[0] == "acute" && r[1] == id).unwrap()[2];
    let other = rows.iter().find(|r| r[2] == person && r[1] != id).map(|r| format!("{}:{}", r[0], r[1])).unwrap();
    run(&["explain", "--links", "l", &canary_record, &other], 0, None);
    run(&["evaluate", "--truth", "s/truth.csv", "--clusters", "l"], 0, None);
    let mut timeline = vec!["timeline", "--links", "l", "--out", "t", "--as-of", "2025-03-31"];
    timeline.extend(extracts.iter().map(String::as_str));
    run(&timeline, 0, None);
    run(&["theograph", "--timeline", "t", "--top", "3", "--out", "top.svg"], 0, None);
    run(&["report", "--links", "l", "--timeline", "t", "--out", "report.html"], 0, None);
    run(&["report", "--links", "l", "--timeline", "t", "--theographs", "--out", "report_tre.html"], 0, None);
    let mut audit = vec!["audit", "--linkage", "l", "--max-named-unique", "100", "--max-family-named", "100"];
    audit.extend(extracts.iter().map(String::as_str));
    run(&audit, 0, None);
    audit.push("--json");
    run(&audit, 0, None);
    run(&["keygen", "--tre", "--out", "tre.key"], 0, None);
    let mut rekey = vec!["rekey", "--key-file", "tre.key", "--out-dir", "tre", "--input"];
    rekey.extend(extracts.iter().map(String::as_str));
    run(&rekey, 0, None);

    // Issue 10, findings 1 and 2: a file without its header row (the canary's row first), and a
    // record id column holding NHS numbers kept in clear.
    let acute = std::fs::read_to_string(d.path("s/acute.csv")).unwrap();
    let mut lines: Vec<&str> = acute.lines().skip(1).collect();
    let canary_at = lines.iter().position(|l| l.contains(&canaries[1])).unwrap();
    lines.swap(0, canary_at);
    d.write("headerless.csv", lines.join("\n") + "\n");
    let config = std::fs::read_to_string(d.path("s/acute.toml")).unwrap();
    let nhs_as_id = config
        .replace("column = \"episode_id\"", "column = \"nhs_number\"")
        .replace("[[field]]\ncolumn = \"nhs_number\"\ntype = \"nhs_number\"\n", "");
    d.write("nhs_id.toml", nhs_as_id);
    for (config, input, output, code) in
        [("s/acute.toml", "headerless.csv", "h.parquet", 2), ("nhs_id.toml", "s/acute.csv", "n.parquet", 1)]
    {
        run(&["tokenise", "--config", config, "--key-file", key, "--input", input, "--output", output], code, None);
    }

    // Failures while the canary is being read: a ragged row, and a panic.
    let mut acute = std::fs::read_to_string(d.path("s/acute.csv")).unwrap();
    acute.push_str(&format!(
        "E9999999999,X1,{},{GIVEN},{FAMILY},{},{},F,2024-01-01,ae,x,1,extra\n",
        canaries[2], canaries[6], canaries[4]
    ));
    d.write("ragged.csv", acute);
    run(
        &["tokenise", "--config", "s/acute.toml", "--key-file", key, "--input", "ragged.csv", "--output", "f1.parquet"],
        1,
        None,
    );
    for value in [GIVEN, canaries[4].as_str()] {
        let args = [
            "tokenise",
            "--config",
            "s/acute.toml",
            "--key-file",
            key,
            "--input",
            "s/acute.csv",
            "--output",
            "f2.parquet",
        ];
        run(&args, 101, Some(("PSEUDOLINK_TEST_PANIC_ON_VALUE", value)));
    }
    let mut bad_link = vec!["link", "--out", "l2", "truncated.parquet"];
    let bytes = std::fs::read(d.path("acute.parquet")).unwrap();
    d.write("truncated.parquet", &bytes[..bytes.len() / 3]);
    bad_link.extend(extracts.iter().map(String::as_str));
    run(&bad_link, 1, None);

    // The canaries were planted (in more than one extract), and Parquet values are searched as
    // text (a pass-through value is found in the decoded timeline).
    let planted_in = PROVIDERS
        .iter()
        .filter(|p| String::from_utf8_lossy(&std::fs::read(d.path(&format!("s/{p}.csv"))).unwrap()).contains(GIVEN));
    assert!(planted_in.count() >= 2, "the canary person should be in several extracts");
    assert!(String::from_utf8_lossy(&visible(&d.path("t/timeline.parquet"))).contains("general_practice"));
    for (what, bytes) in &logs {
        assert_no_canary(what, bytes, &c);
    }
    let mut checked = 0;
    for (path, _) in d.files() {
        let s = path.to_string_lossy();
        // The plaintext inputs are where the canaries were planted.
        if s.starts_with("s/") || s == "ragged.csv" || s == "headerless.csv" || s == "k.key" {
            continue;
        }
        assert_no_canary(&s, &visible(&d.path(&s)), &c);
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} output files were searched");
    for f in ["f1.parquet", "f2.parquet", "l2/summary.json"] {
        assert!(!d.path(f).exists(), "{f} left behind by a failed run");
    }
    let leftovers: Vec<_> = d.files().into_iter().filter(|(p, _)| p.to_string_lossy().contains(".tmp")).collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {:?}",
        leftovers.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
}
