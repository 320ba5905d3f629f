//! `pseudolink tokenise` and `inspect` end to end: outputs, reports, failures, leaks, determinism.

use std::path::Path;

use crate::util::{Dir, assert_no_canary, column_values, text};

const CONFIG: &str = r#"
source = "acute"
[record_id]
column = "episode_id"
mode = "keep"
[[field]]
column = "nhs_no"
type = "nhs_number"
[[field]]
column = "forename"
type = "given_name"
[[field]]
column = "surname"
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
column = "admit_date"
as = "activity_date"
type = "date"
[[passthrough]]
column = "cost"
type = "float"
"#;

/// Distinctive identifiers that must never appear in any output, log or error.
const CANARIES: &[&str] =
    &["Zebediah", "Quillfeather", "9990000050", "999 000 0050", "LS99 9ZZ", "LS999ZZ", "1931-07-13"];

fn extract(rows: usize) -> String {
    let mut s = String::from("episode_id,nhs_no,forename,surname,dob,postcode,sex,admit_date,cost\n");
    s.push_str("E1,999 000 0050,Zebediah,Quillfeather,1931-07-13,LS99 9ZZ,M,2024-01-02,\"£1,234.50\"\n");
    for i in 0..rows {
        s.push_str(&format!("R{i},,Ann,Smith,1980-01-{:02},M1 1AE,F,2024-02-03,{i}\n", 1 + i % 28));
    }
    s
}

fn setup(d: &Dir, rows: usize) -> String {
    d.write("cfg.toml", CONFIG);
    d.write("in.csv", extract(rows));
    d.test_key("k.key").to_str().unwrap().to_string()
}

fn tokenise(d: &Dir, key: &str, extra: &[&str]) -> std::process::Output {
    let output = extra.iter().position(|a| *a == "--output").map_or("out.parquet", |i| extra[i + 1]);
    let extra: Vec<&str> = match extra.iter().position(|a| *a == "--output") {
        Some(i) => extra[..i].iter().chain(&extra[i + 2..]).copied().collect(),
        None => extra.to_vec(),
    };
    let mut args = vec!["tokenise", "--config", "cfg.toml", "--key-file", key, "--input", "in.csv", "--output", output];
    args.extend_from_slice(&extra);
    d.ok(&args)
}

#[test]
fn tokenise_writes_extract_manifest_and_quality_report() {
    let d = Dir::new();
    let key = setup(&d, 9);
    let out = tokenise(&d, &key, &[]);
    let err = text(&out.stderr);
    assert!(err.contains("pseudolink: tokenised 10 rows of in.csv into out.parquet"), "{err}");

    let (m, _) = pseudolink::io::manifest::Manifest::read(&d.path("out.parquet")).unwrap();
    assert_eq!((m.source.as_str(), m.rows.read, m.rows.written, m.format_version), ("acute", 10, 10, 2));
    assert_eq!(m.fields.len(), 6);
    // Rows are in a keyed order, not the input's, and carry no input row number.
    let ids = column_values(&d.path("out.parquet"), "record_id");
    let input_order: Vec<Option<String>> =
        std::iter::once("E1".to_string()).chain((0..9).map(|i| format!("R{i}"))).map(Some).collect();
    assert_ne!(ids, input_order, "rows must not keep the input's order");
    let mut sorted = ids.clone();
    sorted.sort();
    let mut want = input_order.clone();
    want.sort();
    assert_eq!(sorted, want, "every row once");
    let schema_names: Vec<String> = crate::util::read_parquet(&d.path("out.parquet"))[0]
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert!(!schema_names.contains(&"row_number".to_string()), "{schema_names:?}");
    let e1 = ids.iter().position(|x| x.as_deref() == Some("E1")).unwrap();
    let statuses = column_values(&d.path("out.parquet"), "nhs_number_status");
    assert_eq!(statuses[e1].as_deref(), Some("valid"));
    assert_eq!(statuses.iter().filter(|s| s.as_deref() == Some("missing")).count(), 9);
    assert_eq!(column_values(&d.path("out.parquet"), "cost")[e1].as_deref(), Some("1234.5"));
    assert_eq!(column_values(&d.path("out.parquet"), "activity_date")[e1].as_deref(), Some("2024-01-02"));

    let q: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path("out.quality.json")).unwrap()).unwrap();
    assert_eq!(q["rows_read"], 10);
    assert_eq!(q["nhs_number"]["statuses"]["valid"], 1);
    assert_eq!(q["nhs_number"]["statuses"]["missing"], 9);
    let txt = std::fs::read_to_string(d.path("out.quality.txt")).unwrap();
    assert!(txt.contains("rows written:  10"), "{txt}");

    let shown = text(&d.ok(&["inspect", "out.parquet"]).stdout);
    assert!(
        shown.contains("source:                acute")
            && shown.contains("nhs_number_token         FixedSizeBinary(16)"),
        "{shown}"
    );
    let json: serde_json::Value = serde_json::from_slice(&d.ok(&["inspect", "--json", "out.parquet"]).stdout).unwrap();
    assert_eq!(json["rows"], 10);
}

#[test]
fn canaries_never_leave_the_input_on_success() {
    let d = Dir::new();
    let key = setup(&d, 20);
    let out = tokenise(&d, &key, &["--json"]);
    assert_no_canary("stdout", &out.stdout, CANARIES);
    assert_no_canary("stderr", &out.stderr, CANARIES);
    let inspect = d.ok(&["inspect", "out.parquet"]);
    assert_no_canary("inspect", &inspect.stdout, CANARIES);
    for (path, bytes) in d.files() {
        if path == Path::new("in.csv") {
            continue;
        }
        assert_no_canary(&path.display().to_string(), &bytes, CANARIES);
    }
}

#[test]
fn canaries_never_appear_in_failures_and_nothing_partial_is_left() {
    // Each case breaks the run after the canary row has been read.
    let d = Dir::new();
    let key = setup(&d, 3);
    let good = extract(3);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "ragged row",
            format!("{good}E9,9990000050,Zebediah\n").into_bytes(),
            "in.csv: row 5: has 3 fields but the header has 9 (line 6)",
        ),
        (
            "invalid UTF-8",
            {
                let mut b = good.clone().into_bytes();
                b.extend_from_slice(b"E9,9990000050,Zeb\xffediah,Quillfeather,1931-07-13,LS99 9ZZ,M,2024-01-02,1\n");
                b
            },
            "in.csv: row 5, column `forename`: is not valid UTF-8",
        ),
        (
            "empty record id",
            format!("{good},9990000050,Zebediah,Quillfeather,1931-07-13,LS99 9ZZ,M,2024-01-02,1\n").into_bytes(),
            "in.csv: row 5, column `episode_id`: the record id is empty",
        ),
    ];
    for (what, input, want) in cases {
        d.write("in.csv", input);
        let out = d.run(&[
            "tokenise",
            "--config",
            "cfg.toml",
            "--key-file",
            &key,
            "--input",
            "in.csv",
            "--output",
            "out.parquet",
        ]);
        assert_eq!(out.status.code(), Some(1), "{what}");
        let err = text(&out.stderr);
        assert!(err.contains(want), "{what}: {err}");
        assert_no_canary(what, &out.stderr, CANARIES);
        assert_no_canary(what, &out.stdout, CANARIES);
        let left: Vec<_> =
            d.files().into_iter().map(|(p, _)| p).filter(|p| p.to_string_lossy().contains("out")).collect();
        assert!(left.is_empty(), "{what}: left behind {left:?}");
    }
}

#[test]
fn structural_problems_fail_clearly() {
    let d = Dir::new();
    let key = setup(&d, 2);
    // A config naming a column the extract lacks: every missing column at once, and the real ones.
    d.write("bad.toml", CONFIG.replace("\"forename\"", "\"first\"").replace("\"surname\"", "\"last\""));
    let err = d.fails(
        &["tokenise", "--config", "bad.toml", "--key-file", &key, "--input", "in.csv", "--output", "o.parquet"],
        2,
    );
    assert!(err.contains("field 2 (given_name): the input has no column `first`"), "{err}");
    assert!(err.contains("field 3 (family_name): the input has no column `last`"), "{err}");
    assert!(err.contains("the input has 9 columns; their names are not shown"), "{err}");
    // An unknown config setting is a usage error.
    d.write("unk.toml", format!("{CONFIG}\ncolour = \"red\"\n"));
    let err = d.fails(
        &["tokenise", "--config", "unk.toml", "--key-file", &key, "--input", "in.csv", "--output", "o.parquet"],
        2,
    );
    assert!(err.contains("unk.toml: 1 problem in the config") && err.contains("colour"), "{err}");
    // No key at all.
    let err = d.fails(&["tokenise", "--config", "cfg.toml", "--input", "in.csv", "--output", "o.parquet"], 2);
    assert!(err.contains("no key file: give --key-file KEYFILE, or set PSEUDOLINK_KEY_FILE"), "{err}");
    // A key file others can read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = d.fails(
            &["tokenise", "--config", "cfg.toml", "--key-file", &key, "--input", "in.csv", "--output", "o.parquet"],
            1,
        );
        assert!(err.contains("key file: other users can access it (mode 0644)"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // A missing input.
    let err = d.fails(
        &["tokenise", "--config", "cfg.toml", "--key-file", &key, "--input", "nope.csv", "--output", "o.parquet"],
        1,
    );
    assert!(err.contains("nope.csv: opening input failed"), "{err}");
    assert!(!d.path("o.parquet").exists());
}

#[test]
fn key_file_may_be_named_by_environment_variable() {
    let d = Dir::new();
    let key = setup(&d, 2);
    let out = d
        .cmd(&["tokenise", "--config", "cfg.toml", "--input", "in.csv", "--output", "out.parquet", "-q"])
        .env("PSEUDOLINK_KEY_FILE", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "--quiet prints nothing on success");
}

fn hash(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn outputs_are_byte_identical_across_runs_and_thread_counts() {
    let d = Dir::new();
    let key = setup(&d, 10_000);
    let run = |threads: &str, out: &str| {
        let o = d
            .cmd(&["tokenise", "--config", "cfg.toml", "--key-file", &key, "--input", "in.csv", "--output", out, "-q"])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    run("1", "a.parquet");
    run("2", "b.parquet");
    run("2", "c.parquet");
    assert_eq!(hash(&d.path("a.parquet")), hash(&d.path("b.parquet")));
    assert_eq!(hash(&d.path("b.parquet")), hash(&d.path("c.parquet")));
    let report = |p: &str| {
        let mut v: serde_json::Value = serde_json::from_slice(&hash(&d.path(p))).unwrap();
        v.as_object_mut().unwrap().remove("output");
        v
    };
    assert_eq!(report("a.quality.json"), report("b.quality.json"));
}

#[test]
fn tokens_do_not_depend_on_batch_size_or_row_order_but_do_on_the_key() {
    let d = Dir::new();
    let key = setup(&d, 300);
    tokenise(&d, &key, &["--batch-rows", "7", "-q", "--output", "small.parquet"]);
    tokenise(&d, &key, &["-q"]);
    let cols =
        ["record_id", "nhs_number_token", "given_name_bloom", "family_name_exact", "dob_full", "postcode_sector"];
    for c in cols {
        assert_eq!(column_values(&d.path("small.parquet"), c), column_values(&d.path("out.parquet"), c), "{c}");
    }
    // Reverse the data rows: each record keeps its tokens.
    let text_in = extract(300);
    let mut lines: Vec<&str> = text_in.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    d.write("in.csv", format!("{header}\n{}\n", lines.join("\n")));
    tokenise(&d, &key, &["-q", "--output", "rev.parquet"]);
    let by_id = |p: &str| {
        let ids = column_values(&d.path(p), "record_id");
        let toks = column_values(&d.path(p), "family_name_bloom");
        let mut v: Vec<_> = ids.into_iter().zip(toks).collect();
        v.sort();
        v
    };
    assert_eq!(by_id("rev.parquet"), by_id("out.parquet"));
    // Another key: every token differs.
    d.ok(&["keygen", "--out", "other.key"]);
    tokenise(&d, d.path("other.key").to_str().unwrap(), &["-q", "--output", "other.parquet"]);
    let a = column_values(&d.path("out.parquet"), "postcode_full");
    let b = column_values(&d.path("other.parquet"), "postcode_full");
    assert!(a.iter().zip(&b).all(|(x, y)| x != y));
}

#[test]
fn parquet_input_gives_the_same_tokens_as_csv() {
    let d = Dir::new();
    let key = setup(&d, 50);
    tokenise(&d, &key, &["-q"]);
    // Write the same extract as Parquet (all text columns) with the library's CSV reader.
    let batches = {
        use pseudolink::io::BatchSource;
        let mut src = pseudolink::io::csv::CsvSource::open(&d.path("in.csv"), &Default::default(), 1_000).unwrap();
        let header = src.header().to_vec();
        src.select(&(0..header.len()).collect::<Vec<_>>());
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(
            header.iter().map(|h| arrow_schema::Field::new(h, arrow_schema::DataType::Utf8, true)).collect::<Vec<_>>(),
        ));
        let b = src.next_batch().unwrap().unwrap();
        let cols = b.columns.into_iter().map(|c| std::sync::Arc::new(c) as arrow_array::ArrayRef).collect();
        arrow_array::RecordBatch::try_new(schema, cols).unwrap()
    };
    let f = std::fs::File::create(d.path("in.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batches.schema(), None).unwrap();
    w.write(&batches).unwrap();
    w.close().unwrap();
    d.ok(&[
        "tokenise",
        "--config",
        "cfg.toml",
        "--key-file",
        &key,
        "--input",
        "in.parquet",
        "--output",
        "pq.parquet",
        "-q",
    ]);
    for c in ["nhs_number_token", "given_name_exact", "dob_swapped", "postcode_area", "cost"] {
        assert_eq!(column_values(&d.path("pq.parquet"), c), column_values(&d.path("out.parquet"), c), "{c}");
    }
}

#[test]
fn pseudonymised_record_ids_are_keyed_tokens_per_source() {
    let d = Dir::new();
    let key = setup(&d, 3);
    let pseudonymised = CONFIG.replace("mode = \"keep\"", "mode = \"pseudonymise\"");
    d.write("p.toml", &pseudonymised);
    d.ok(&["tokenise", "--config", "p.toml", "--key-file", &key, "--input", "in.csv", "--output", "p.parquet", "-q"]);
    let ids = column_values(&d.path("p.parquet"), "record_id");
    assert_eq!(ids.len(), 4);
    for id in &ids {
        let id = id.as_deref().unwrap();
        assert_eq!(id.len(), 32, "hex of a 128-bit token");
        assert!(!id.starts_with('E') && !id.starts_with('R'));
    }
    // The same row ids in another source get other tokens.
    d.write("q.toml", pseudonymised.replace("source = \"acute\"", "source = \"ae\""));
    d.ok(&["tokenise", "--config", "q.toml", "--key-file", &key, "--input", "in.csv", "--output", "q.parquet", "-q"]);
    let other = column_values(&d.path("q.parquet"), "record_id");
    assert!(ids.iter().zip(&other).all(|(a, b)| a != b));
    let (m, _) = pseudolink::io::manifest::Manifest::read(&d.path("p.parquet")).unwrap();
    assert_eq!(m.record_id_mode, pseudolink::config::RecordIdMode::Pseudonymise);
}

/// The `resistant` profile (issue 10, finding 7): name tokens salted with the date of birth, so a
/// token's frequency is a name's among the few persons born that day; each name's frequency band
/// beside it; Bloom filters hardened per record; linking it with a standard extract is refused.
#[test]
fn resistant_profile_salts_name_tokens_with_the_date_of_birth() {
    let d = Dir::new();
    let key = setup(&d, 0);
    let mut csv = String::from("episode_id,nhs_no,forename,surname,dob,postcode,sex,admit_date,cost\n");
    csv.push_str(
        "A,,Ann,Smith,1980-01-02,M1 1AE,F,2024-02-03,1\n\
         B,,Ann,Smith,1980-01-02,M1 1AE,F,2024-02-03,1\n\
         C,,Ann,Smith,1980-01-03,M1 1AE,F,2024-02-03,1\n\
         D,,Ann,Smith,,M1 1AE,F,2024-02-03,1\n\
         E,,Ann,Smith,1990-01-02,M1 1AE,F,2024-02-03,1\n",
    );
    // Smith is common in this extract (band 1); the 300 others' names are seen once (band 3).
    for i in 0..300u16 {
        let name: String = [b'A' + (i / 26 % 26) as u8, b'A' + (i % 26) as u8].iter().map(|&b| b as char).collect();
        csv.push_str(&format!("R{i},,Bea,Name{name},1970-03-04,M1 1AE,F,2024-02-03,1\n"));
    }
    d.write("in.csv", csv);
    d.write("r.toml", format!("profile = \"resistant\"\n{CONFIG}"));
    d.ok(&["tokenise", "--config", "r.toml", "--key-file", &key, "--input", "in.csv", "--output", "r.parquet", "-q"]);
    d.ok(&["tokenise", "--config", "cfg.toml", "--key-file", &key, "--input", "in.csv", "--output", "s.parquet", "-q"]);
    let by_id = |file: &str, col: &str| {
        let ids = column_values(&d.path(file), "record_id");
        let vals = column_values(&d.path(file), col);
        let mut m = std::collections::BTreeMap::new();
        for (i, v) in ids.into_iter().zip(vals) {
            m.insert(i.unwrap(), v);
        }
        m
    };
    for col in ["family_name_exact", "given_name_phonetic"] {
        let r = by_id("r.parquet", col);
        let s = by_id("s.parquet", col);
        assert_eq!(r["A"], r["B"], "{col}: same name, same date of birth");
        assert_ne!(r["A"], r["C"], "{col}: same name, another day");
        assert!(r["D"].is_none(), "{col}: no date of birth to salt with, no token");
        assert!(["A", "B", "C", "D"].iter().all(|k| s[*k] == s["A"]), "{col}: the standard profile ignores the date");
        assert!(r.values().all(|v| !s.values().any(|x| x == v)), "{col}: no token shared across profiles");
    }
    let band = by_id("r.parquet", "family_name_band");
    assert_eq!((band["A"].as_deref(), band["R7"].as_deref()), (Some("1"), Some("3")), "Smith common, Name7 rare");
    let standard = crate::util::read_parquet(&d.path("s.parquet"));
    assert!(standard[0].schema().column_with_name("family_name_band").is_none(), "no band without the profile");
    // Bloom filters hardened per record: equal names, unequal filters.
    let bloom = by_id("r.parquet", "family_name_bloom");
    assert_ne!(bloom["A"], bloom["B"]);
    assert_eq!(by_id("s.parquet", "family_name_bloom")["A"], by_id("s.parquet", "family_name_bloom")["B"]);
    d.write("plain.toml", format!("profile = \"resistant\"\n{CONFIG}\n[bloom]\nhardening = \"none\"\n"));
    let err = d.fails(
        &["tokenise", "--config", "plain.toml", "--key-file", &key, "--input", "in.csv", "--output", "x.parquet"],
        2,
    );
    assert!(err.contains("needs hardened Bloom filters"), "{err}");
    // Nor a hardening equal names survive: xor-fold, or blip with too few flipped bits.
    for (name, bloom) in [("fold.toml", "hardening = \"xor-fold\""), ("weak.toml", "blip_f = 0.001")] {
        d.write(name, format!("profile = \"resistant\"\n{CONFIG}\n[bloom]\n{bloom}\n"));
        let err = d.fails(
            &["tokenise", "--config", name, "--key-file", &key, "--input", "in.csv", "--output", "x.parquet"],
            2,
        );
        assert!(err.contains("per record") || err.contains("blip_f` of at least"), "{name}: {err}");
    }
    // The profile reads its input twice: a pipe is refused, not tokenised against empty counts.
    let fifo = d.path("pipe.csv");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let csv = std::fs::read(d.path("in.csv")).unwrap();
    let writer = std::thread::spawn({
        let fifo = fifo.clone();
        move || {
            use std::io::Write;
            // The reader may stop early; a broken pipe is expected.
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo).and_then(|mut f| f.write_all(&csv));
        }
    });
    let err = d.fails(
        &["tokenise", "--config", "r.toml", "--key-file", &key, "--input", "pipe.csv", "--output", "p.parquet"],
        2,
    );
    assert!(err.contains("reads the input twice") && !d.path("p.parquet").exists(), "{err}");
    writer.join().unwrap();
    let (m, _) = pseudolink::io::manifest::Manifest::read(&d.path("r.parquet")).unwrap();
    assert!(m.salted_names());
    let err = d.fails(&["link", "r.parquet", "s.parquet", "--out", "l"], 1);
    assert!(
        err.contains("was tokenised with the `standard` profile, but r.parquet with the `resistant` profile"),
        "{err}"
    );
    // The profile needs a date of birth to salt with.
    d.write(
        "nodob.toml",
        format!("profile = \"resistant\"\n{}", CONFIG.replace("type = \"date_of_birth\"", "type = \"date\"")),
    );
    let err = d.fails(
        &["tokenise", "--config", "nodob.toml", "--key-file", &key, "--input", "in.csv", "--output", "x.parquet"],
        2,
    );
    assert!(err.contains("map a date_of_birth field"), "{err}");
}

#[test]
fn likely_duplicate_registrations_are_listed_by_rows_and_counted_never_by_value() {
    let d = Dir::new();
    d.write("cfg.toml", CONFIG);
    let rows = [
        "E1,999 000 0050,Zebediah,Quillfeather,1931-07-13,LS99 9ZZ,M,2024-01-02,1", // row 1
        "E2,999 000 0050,Zebediah,Quillfeather,1931-07-13,LS99 9ZZ,M,2024-03-02,1", // row 2: the same registration
        "E3,,Zebedia,Quillfeather,1931-07-13,LS99 9ZZ,M,2024-04-02,1", // row 3: registered again, no number
        "E4,999 000 0069,Quillfeather,Zebediah,1931-07-13,LS1 1AA,,2024-05-02,1", // row 4: names swapped, another number
        "E5,,Zelda,Quillfeather,1931-07-13,LS99 9ZZ,F,2024-06-02,1",              // row 5: a twin sister
        "E6,,Zebediah,Quillfeather,1931-07-14,LS99 9ZZ,M,2024-06-02,1",           // row 6: another birthday
    ];
    d.write(
        "in.csv",
        format!("episode_id,nhs_no,forename,surname,dob,postcode,sex,admit_date,cost\n{}\n", rows.join("\n")),
    );
    let key = d.test_key("k.key").to_str().unwrap().to_string();
    let out = tokenise(&d, &key, &[]);
    assert_no_canary("stderr", &out.stderr, CANARIES);
    let issues = std::fs::read_to_string(d.path("out.issues.csv")).unwrap();
    let listed: Vec<&str> = issues.lines().filter(|l| l.contains("likely_duplicate_registration")).collect();
    assert_eq!(
        listed,
        [
            "3,episode_id,likely_duplicate_registration,1",
            "4,episode_id,likely_duplicate_registration,1",
            "4,episode_id,likely_duplicate_registration,3"
        ],
        "{issues}"
    );
    assert!(issues.starts_with("row,column,reason,related_row\n"), "{issues}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.path("out.quality.json")).unwrap()).unwrap();
    let dup = &report["duplicate_registrations"];
    assert_eq!(dup["pairs"], 3);
    assert_eq!(dup["different_numbers"], 1);
    assert_eq!(dup["one_without_number"], 2);
    assert_eq!(dup["profiles"], 5);
    assert!(
        std::fs::read_to_string(d.path("out.quality.txt"))
            .unwrap()
            .contains("likely duplicate registrations: 3 pairs among 5 profiles")
    );
    let text = std::fs::read_to_string(d.path("out.quality.txt")).unwrap();
    assert!(text.contains("The issues file lists each pair by its rows"), "{text}");
    // A check counts the pairs and writes no issues file, and says so.
    let check = d.ok(&["tokenise", "--check", "--config", "cfg.toml", "--input", "in.csv", "-q"]);
    let shown = crate::util::text(&check.stdout);
    assert!(shown.contains("3 pairs among 5 profiles"), "{shown}");
    assert!(shown.contains("A tokenise run (not --check) lists each pair in the issues file"), "{shown}");
    assert_no_canary("--check's report", &check.stdout, CANARIES);
    for (path, bytes) in d.files() {
        if path != Path::new("in.csv") {
            assert_no_canary(&path.display().to_string(), &bytes, CANARIES);
        }
    }
}
