//! What every command shares: `--json` and a one-line success message on each, and `--help`
//! text held in golden files (a changed flag or wording shows up in review as a diff).

use crate::util::{Dir, text};

/// Every subcommand, in the order `pseudolink --help` lists them.
const COMMANDS: [&str; 14] = [
    "keygen",
    "init",
    "tokenise",
    "inspect",
    "rekey",
    "link",
    "explain",
    "evaluate",
    "timeline",
    "theograph",
    "audit",
    "report",
    "synth",
    "demo",
];

/// Runs with `--json`: stdout is one JSON object, stderr ends with the command's summary line.
fn json(d: &Dir, args: &[&str]) -> (serde_json::Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let o = d.ok(&all);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}):\n{}", text(&o.stdout)));
    assert!(v.is_object(), "{args:?}: {v}");
    assert_eq!(v["command"], args[0], "every command's JSON names it first: {v}");
    (v, text(&o.stderr))
}

#[test]
fn every_command_answers_json_and_says_what_it_did() {
    let d = Dir::new();
    let (v, say) = json(&d, &["keygen", "--out", "k.key"]);
    assert_eq!(v["command"], "keygen");
    assert_eq!(v["key_id"].as_str().unwrap().len(), 32, "{v}");
    assert!(say.contains("wrote a new key"), "{say}");
    let (v, say) = json(&d, &["keygen", "--tre", "--out", "t.key"]);
    assert_eq!(v["role"], "tre");
    assert!(say.contains("TRE key"), "{say}");

    let (v, say) = json(&d, &["synth", "--persons", "300", "--seed", "5", "--out", "s"]);
    assert_eq!(v["command"], "synth");
    assert_eq!(v["summary"]["persons"], 300);
    assert!(say.contains("300 persons"), "{say}");

    d.write(
        "export.csv",
        "Episode ID,Forename,Surname,DOB\nE001,Ann,Smith,03/04/1961\nE002,Bob,Jones,12/12/1970\nE003,Cy,Patel,01/02/1983\n",
    );
    let (v, say) = json(&d, &["init", "export.csv", "--out", "export.toml", "--source", "clinic"]);
    assert_eq!((v["command"].as_str(), v["rows_checked"].as_u64()), (Some("init"), Some(3)), "{v}");
    assert!(v["columns"].as_array().unwrap().iter().any(|c| c["proposal"] == "given_name"), "{v}");
    assert!(say.contains("proposed export.toml"), "{say}");

    let mut extracts = Vec::new();
    for p in ["acute", "gp", "social_care"] {
        let out = format!("{p}.parquet");
        let (v, say) = json(
            &d,
            &[
                "tokenise",
                "--config",
                &format!("s/{p}.toml"),
                "--key-file",
                "k.key",
                "--input",
                &format!("s/{p}.csv"),
                "--output",
                &out,
            ],
        );
        assert!(v["rows_written"].as_u64().unwrap() > 0, "{v}");
        assert!(say.contains("tokenised"), "{say}");
        extracts.push(out);
    }
    let (v, _) = json(&d, &["inspect", "gp.parquet"]);
    assert_eq!(v["manifest"]["source"], "gp", "{v}");

    let (v, say) = json(
        &d,
        &[
            "rekey",
            "--key-file",
            "t.key",
            "--out-dir",
            "tre",
            "--input",
            "acute.parquet",
            "gp.parquet",
            "social_care.parquet",
        ],
    );
    assert_eq!(v["extracts"].as_array().unwrap().len(), 3, "{v}");
    assert!(say.contains("re-keyed"), "{say}");

    let mut args = vec!["link", "--out", "l"];
    let tre: Vec<String> = extracts.iter().map(|e| format!("tre/{e}")).collect();
    args.extend(tre.iter().map(String::as_str));
    let (v, say) = json(&d, &args);
    assert_eq!(v["command"], "link");
    let persons = v["summary"]["clustering"]["persons"].as_u64().unwrap();
    assert!((250..=330).contains(&persons), "{v}");
    assert!(say.contains("linked") && say.contains("persons"), "{say}");

    let (v, _) = json(&d, &["evaluate", "--truth", "s/truth.csv", "--clusters", "l"]);
    assert!(v["f1"].as_f64().unwrap() > 0.9, "{v}");
    let truth = std::fs::read_to_string(d.path("s/truth.csv")).unwrap();
    let rows: Vec<Vec<&str>> = truth.lines().skip(1).take(2).map(|l| l.split(',').collect()).collect();
    let (a, b) = (format!("{}:{}", rows[0][0], rows[0][1]), format!("{}:{}", rows[1][0], rows[1][1]));
    let (v, _) = json(&d, &["explain", "--links", "l", &a, &b]);
    assert!(v["text"].as_str().unwrap().contains("prior"), "{v}");

    let mut args = vec!["timeline", "--links", "l", "--out", "t", "--as-of", "2025-03-31"];
    args.extend(tre.iter().map(String::as_str));
    let (v, say) = json(&d, &args);
    assert!(v["summary"]["events"].as_u64().unwrap() > 0, "{v}");
    assert!(say.contains("events of"), "{say}");
    let (v, say) = json(&d, &["theograph", "--timeline", "t", "--top", "2", "--out", "top.svg"]);
    assert_eq!(v["persons"], 2);
    assert!(say.contains("drew 2 person(s)"), "{say}");
    let (v, say) = json(&d, &["report", "--links", "l", "--timeline", "t", "--out", "r.html"]);
    assert!(v["bytes"].as_u64().unwrap() > 1000, "{v}");
    assert!(say.contains("wrote the report"), "{say}");

    // The summary files keep their shape: keys and value types against golden files.
    for (file, golden) in [
        ("l/summary.json", "link_summary"),
        ("l/model.json", "model"),
        ("t/timeline_summary.json", "timeline_summary"),
        ("gp.quality.json", "quality_report"),
    ] {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path(file)).unwrap()).unwrap();
        golden_shape(golden, &shape(&v));
    }

    let mut args = vec!["audit", "--linkage", "l"];
    args.extend(tre.iter().map(String::as_str));
    let out = d.run(&[&["--json"], &args[..]].concat());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("audit --json");
    assert!(v.get("attacks").is_some(), "{v}");
    assert_eq!(v["command"], "audit");
}

#[test]
fn quiet_json_prints_only_json() {
    let d = Dir::new();
    let o = d.ok(&["keygen", "--out", "k.key", "--json", "--quiet"]);
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["command"], "keygen");
}

/// Help text, one golden file per command in tests/golden/help. After a deliberate change,
/// regenerate them with `UPDATE_GOLDEN=1 cargo test help_text`.
#[test]
fn help_text_matches_its_golden_file() {
    let d = Dir::new();
    let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/help");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for cmd in std::iter::once("pseudolink").chain(COMMANDS) {
        let args: Vec<&str> = if cmd == "pseudolink" { vec!["--help"] } else { vec![cmd, "--help"] };
        let shown = text(&d.cmd(&args).env("COLUMNS", "100").output().unwrap().stdout);
        let file = golden.join(format!("{cmd}.txt"));
        if update {
            std::fs::create_dir_all(&golden).unwrap();
            std::fs::write(&file, &shown).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(shown.as_str()) {
            stale.push(cmd);
        }
    }
    assert!(stale.is_empty(), "--help differs from tests/golden/help for {stale:?} (UPDATE_GOLDEN=1 to accept)");
    // Every subcommand is in the list above.
    let top = text(&d.ok(&["--help"]).stdout);
    for cmd in COMMANDS {
        assert!(top.contains(&format!("  {cmd} ")), "{cmd} not in --help");
    }
}

/// The shape of a JSON value: objects by key, arrays by their first element, scalars by type.
fn shape(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.first().map(shape).into_iter().collect()),
        Value::String(_) => "string".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "boolean".into(),
        Value::Null => "null".into(),
    }
}

/// Compares a shape with `tests/golden/schema/NAME.json` (UPDATE_GOLDEN=1 rewrites it).
fn golden_shape(name: &str, got: &serde_json::Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/schema/{name}.json"));
    let text = serde_json::to_string_pretty(got).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(want == text, "{name}: the JSON's shape changed (UPDATE_GOLDEN=1 to accept):\n{text}");
}
