//! `init` on an export as a hospital system writes it: Windows-1252, CRLF, "NHS No", "Forename",
//! "DOB" as 03/04/1961, amounts in pounds, blank and invalid NHS numbers, a trailing blank row.

use crate::util::{Dir, assert_no_canary, text};

/// Twenty rows, with canary names that must never be echoed.
fn export() -> (Vec<u8>, Vec<&'static str>) {
    let canaries = vec!["Zqxmargaret", "Zqxholhurst", "9434765919"];
    let mut rows = vec![
        "Episode Ref,NHS No,Forename,Surname,DOB,Post Code,Gender,Admission Date,Spell Cost,Free Text".to_string(),
    ];
    // Valid, spaced, blank, a bad check digit, and two Excel made: scientific notation, and a
    // number whose leading zero was lost (0401023214, valid, exported as 401023214).
    let nhs = ["9434765919", "943 476 5870", "", "1234567890", "9434765919", "9.43477E+09", "401023214"];
    // Amounts in both decimal conventions and an accounting negative.
    let money = |i: usize| match i % 5 {
        3 => "\"(\u{a3}20.00)\"".to_string(),
        4 => format!("\"\u{a3}1.{:03},50\"", i * 7),
        _ => format!("\"\u{a3}1,{:03}.50\"", i * 7),
    };
    for i in 0..20 {
        let given = if i == 0 { "Zqxmargaret".to_string() } else { format!("Ann{}", ["a", "b", "c", "d"][i % 4]) };
        let family = if i == 1 { "Zqxholhurst".to_string() } else { format!("Sm\u{e9}th{}", i % 3) };
        rows.push(format!(
            "EP{:04},{},{given},{family},{:02}/04/1961,LS{} 4AP,{},{:02}/03/2024,{},note {i}",
            i,
            nhs[i % nhs.len()],
            1 + i % 28,
            1 + i % 9,
            ["M", "F"][i % 2],
            1 + i % 28,
            money(i)
        ));
    }
    rows.push(",,,,,,,,,".into());
    let text = rows.join("\r\n") + "\r\n";
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    (bytes.into_owned(), canaries)
}

#[test]
fn init_proposes_a_config_that_tokenises_the_export_as_it_stands() {
    let d = Dir::new();
    let (bytes, canaries) = export();
    d.write("export.csv", &bytes);
    d.test_key("k.key");
    let out = d.ok(&["init", "export.csv", "--out", "acute.toml", "--source", "acute"]);
    let err = text(&out.stderr);
    for c in &canaries {
        assert_no_canary("init's messages", &out.stderr, &[c]);
        assert_no_canary("init's stdout", &out.stdout, &[c]);
    }
    let config = std::fs::read_to_string(d.path("acute.toml")).unwrap();
    assert_no_canary("the proposed config", config.as_bytes(), &canaries);
    assert!(err.contains("Windows-1252, a header row; record id `Episode Ref`"), "{err}");
    for expected in [
        "encoding = \"windows-1252\"",
        "column = \"NHS No\"\ntype = \"nhs_number\"",
        "column = \"Forename\"\ntype = \"given_name\"",
        "column = \"Surname\"\ntype = \"family_name\"",
        "column = \"DOB\"\ntype = \"date_of_birth\"\nformats = [\"%d/%m/%Y\"]",
        "column = \"Post Code\"\ntype = \"postcode\"",
        "column = \"Gender\"\ntype = \"sex\"",
        "column = \"Admission Date\"\ntype = \"date\"",
        "column = \"Spell Cost\"\ntype = \"float\"\ndecimal = \"auto\"",
        "#   \"Free Text\"",
    ] {
        assert!(config.contains(expected), "{expected}\n{config}");
    }
    // It tokenises the file as it stands, every status counted.
    d.ok(&[
        "tokenise",
        "--config",
        "acute.toml",
        "--key-file",
        "k.key",
        "--input",
        "export.csv",
        "--output",
        "a.parquet",
        "-q",
    ]);
    let report = std::fs::read_to_string(d.path("a.quality.txt")).unwrap();
    assert!(report.contains("rows read:     20"), "{report}");
    assert!(report.contains("blank rows:    1 at the end"), "{report}");
    assert!(report.contains("bad_check_digit"), "{report}");
    // Every status counted: rows i % 7 == 5 (5, 12, 19) in scientific notation, i % 7 == 6 (6, 13)
    // without their leading zero, i % 7 == 3 (3, 10, 17) failing the check digit.
    let q: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path("a.quality.json")).unwrap()).unwrap();
    let status = |s: &str| q["nhs_number"]["statuses"][s].as_u64().unwrap_or(0);
    assert_eq!(
        [status("scientific_notation"), status("leading_zero_lost"), status("bad_check_digit"), status("missing")],
        [3, 2, 3, 3],
        "{q}"
    );
    assert!(report.contains("hint: scientific_notation") && report.contains("hint: leading_zero_lost"), "{report}");
    // Amounts in either convention and accounting negatives read, none misread or lost.
    let cost = crate::util::column_values(&d.path("a.parquet"), "cost");
    // Rows leave in keyed order under keyed record ids: compare the amounts as a multiset.
    let mut got: Vec<f64> = cost.iter().map(|c| c.as_deref().expect("every amount read").parse().unwrap()).collect();
    got.sort_by(f64::total_cmp);
    let mut want: Vec<f64> = (0..20).map(|i| if i % 5 == 3 { -20.0 } else { 1000.0 + 7.0 * i as f64 + 0.5 }).collect();
    want.sort_by(f64::total_cmp);
    assert_eq!(got, want);
    assert!(cost.iter().all(Option::is_some), "{cost:?}");
    // The proposal passes --check; the same config with a date format that reads no date of
    // birth does not (a config that does not fit the file, not a data-quality finding).
    d.ok(&["tokenise", "--check", "--config", "acute.toml", "--input", "export.csv", "-q"]);
    let wrong = config.replacen("formats = [\"%d/%m/%Y\"]", "formats = [\"%Y-%m-%d\"]", 1);
    assert_ne!(wrong, config);
    d.write("wrong.toml", wrong);
    let err = d.fails(&["tokenise", "--check", "--config", "wrong.toml", "--input", "export.csv", "-q"], 2);
    assert!(err.contains("no value of `DOB` (date_of_birth: all 20 values unusable) could be read"), "{err}");
    for c in &canaries {
        assert_no_canary("--check's refusal", err.as_bytes(), &[c]);
    }
    // Never over an existing file.
    let err = d.fails(&["init", "export.csv", "--out", "acute.toml"], 2);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn init_on_the_synthetic_providers_matches_their_configs() {
    let d = Dir::new();
    d.ok(&["synth", "--persons", "500", "--seed", "2", "--out", "s", "-q"]);
    for p in crate::util::PROVIDERS {
        d.ok(&["init", &format!("s/{p}.csv"), "--out", &format!("{p}.toml"), "-q"]);
        let lines = |f: &str| {
            let mut v: Vec<String> = std::fs::read_to_string(d.path(f))
                .unwrap()
                .lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim_end())
                .filter(|l| {
                    ["column =", "type =", "formats =", "delimiter =", "encoding ="].iter().any(|k| l.starts_with(k))
                        || ["as = \"activity_date\"", "as = \"cost\""].contains(l)
                })
                .filter(|l| *l != "type = \"string\"")
                .map(str::to_string)
                .collect();
            v.sort();
            v
        };
        assert_eq!(lines(&format!("{p}.toml")), lines(&format!("s/{p}.toml")), "{p}");
    }
}

/// Rows of a small acute export under `header`, one per person, `extra` appended to each row.
fn rows(header: &str, n: usize, extra: impl Fn(usize) -> String) -> String {
    let mut out = vec![header.to_string()];
    for i in 0..n {
        out.push(format!(
            "EP{i:04},9434765919,Zqxann{},Smith{},{:02}/04/19{:02},LS{} 4AP,{},{:02}/03/2024{}",
            i % 7,
            i % 5,
            1 + i % 28,
            30 + i % 60,
            1 + i % 9,
            ["M", "F"][i % 2],
            1 + i % 28,
            extra(i)
        ));
    }
    out.join("\n") + "\n"
}

#[test]
fn init_never_proposes_identifiers_in_clear() {
    let d = Dir::new();
    // Every line ending in a delimiter (an empty last header name), a DOB headed D.O.B, and
    // columns whose names say they may hold identifiers.
    let header = "Episode ID,NHS No,Forename,Surname,D.O.B,Postcode,Sex,Admission Date,Maiden name,Email,Amount,";
    let csv = rows(header, 60, |i| format!(",Zqxmaid{},x{}@example.org,9434765919.00,", i % 3, i % 4));
    d.write("a.csv", &csv);
    let out = d.ok(&["init", "a.csv", "--out", "a.toml"]);
    let config = std::fs::read_to_string(d.path("a.toml")).unwrap();
    assert!(config.contains("column = \"D.O.B\"\ntype = \"date_of_birth\""), "{config}");
    for clear in ["Maiden name", "Email", "Amount"] {
        assert!(config.contains(&format!("#   \"{clear}\"")), "{clear} must be left out:\n{config}");
    }
    assert!(config.contains("has_header = true"), "{config}");
    assert_no_canary("init", &out.stderr, &["Zqx"]);

    // No header: the first row is a patient's. Nothing passes through, nothing of it is shown.
    let body: String = csv.lines().skip(1).map(|l| format!("{l}\n")).collect();
    d.write("b.csv", &body);
    let out = d.ok(&["init", "b.csv", "--out", "b.toml"]);
    let config = std::fs::read_to_string(d.path("b.toml")).unwrap();
    assert!(config.contains("has_header = false"), "{config}");
    assert!(!config.contains("\n[[passthrough]]"), "{config}");
    assert_no_canary("init", &out.stderr, &["Zqx", "EP0000"]);
    assert_no_canary("the config", config.as_bytes(), &["Zqx", "EP0000"]);

    // UTF-16 is refused, by init and by tokenise.
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(csv.encode_utf16().flat_map(u16::to_le_bytes));
    d.write("c.csv", &utf16);
    let err = d.fails(&["init", "c.csv", "--out", "c.toml"], 1);
    assert!(err.contains("is UTF-16 text"), "{err}");
    d.test_key("k.key");
    let err = d.fails(
        &["tokenise", "--config", "a.toml", "--key-file", "k.key", "--input", "c.csv", "--output", "c.parquet"],
        1,
    );
    assert!(err.contains("is UTF-16 text"), "{err}");
}

#[test]
fn a_pass_through_named_like_a_token_column_is_refused() {
    let d = Dir::new();
    d.write("a.csv", rows("Episode ID,NHS No,Forename,Surname,DOB,Postcode,Sex,Admission Date", 5, |_| String::new()));
    d.write(
        "a.toml",
        "source = \"a\"\n[record_id]\ncolumn = \"Episode ID\"\n[[field]]\ncolumn = \"NHS No\"\ntype = \"nhs_number\"\n\
         [[passthrough]]\ncolumn = \"Forename\"\nas = \"nhs_number_token\"\n",
    );
    let err = d.fails(&["tokenise", "--check", "--config", "a.toml", "--input", "a.csv"], 2);
    assert!(err.contains("the output column `nhs_number_token` would be written twice"), "{err}");
}

/// Every dataset template in examples/configs parses and tokenises an extract with its columns
/// (three rows of plausible values), and passes through what the TRE's timeline needs.
#[test]
fn dataset_templates_tokenise_an_extract_with_their_columns() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/configs");
    let mut templates: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    templates.sort();
    assert_eq!(templates.len(), 6, "{templates:?}");
    for t in templates {
        let text = std::fs::read_to_string(&t).unwrap();
        let cfg: toml::Value = toml::from_str(&text).unwrap();
        let mut header = vec![cfg["record_id"]["column"].as_str().unwrap().to_string()];
        let mut rows: Vec<Vec<String>> = (0..3).map(|k| vec![format!("R{k}")]).collect();
        let value = |kind: &str, fmt: Option<&str>, k: usize| -> String {
            let date = |y: i32, m: u32, d: u32| {
                chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap().format(fmt.unwrap_or("%Y-%m-%d")).to_string()
            };
            match kind {
                "nhs_number" => ["9434765919", "", "9434765870"][k].into(),
                "given_name" => ["Ann", "Bob", "Cy"][k].into(),
                "family_name" => ["Smith", "Jones", "Khan"][k].into(),
                "date_of_birth" => date(1950 + k as i32, 3, 4 + k as u32),
                "postcode" => ["LS1 4AP", "M1 1AE", ""][k].into(),
                "sex" => ["1", "2", "9"][k].into(),
                "date" => date(2024, 1 + k as u32, 10),
                "float" => ["1234.50", "0", "20"][k].into(),
                "boolean" => ["Y", "N", "Y"][k].into(),
                _ => ["a", "b", "c"][k].into(),
            }
        };
        let mut passed = Vec::new();
        for (table, kind_key) in [("field", "type"), ("passthrough", "type")] {
            for f in cfg[table].as_array().unwrap() {
                header.push(f["column"].as_str().unwrap().to_string());
                let kind = f.get(kind_key).and_then(|v| v.as_str()).unwrap_or("string");
                let fmt = f.get("formats").and_then(|v| v.as_array()).and_then(|a| a[0].as_str());
                for (k, row) in rows.iter_mut().enumerate() {
                    row.push(value(kind, fmt, k));
                }
                if table == "passthrough" {
                    passed.push(f["as"].as_str().unwrap().to_string());
                }
            }
        }
        assert!(passed.contains(&"activity_date".to_string()), "{t:?} passes no activity date");
        let d = Dir::new();
        let mut csv = header.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(",") + "\n";
        for r in &rows {
            csv.push_str(&(r.join(",") + "\n"));
        }
        d.write("in.csv", csv);
        d.write("cfg.toml", &text);
        let key = d.test_key("k.key");
        let out = d.ok(&[
            "tokenise",
            "--config",
            "cfg.toml",
            "--key-file",
            key.to_str().unwrap(),
            "--input",
            "in.csv",
            "--output",
            "out.parquet",
            "--json",
        ]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["rows_written"], 3, "{t:?}");
        for f in report["fields"].as_array().unwrap().iter().chain(report["passthrough"].as_array().unwrap()) {
            assert_eq!(f["unusable"], 0, "{t:?}: {f}");
        }
    }
}

/// `init --dataset` starts from a template: its columns matched to the export's header however
/// spelt, a column the export lacks commented out and named, the file's delimiter and date format.
#[test]
fn init_from_a_dataset_template_matches_columns_and_comments_out_the_missing() {
    let d = Dir::new();
    let mut csv = String::from(
        "Hospital Provider Spell Number;NHS Number;Person Given Name;Person Family Name;Person Birth Date;\
         Postcode of Usual Address;Person Stated Gender Code;Start Date Hospital Provider Spell;\
         Admission Method Hospital Provider Spell\n",
    );
    for k in 0..30 {
        csv.push_str(&format!(
            "S{k};9434765919;Ann;Smith;{:02}.03.1961;LS1 4AP;2;{:02}.01.2024;21\n",
            1 + k % 28,
            1 + k % 28
        ));
    }
    d.write("apc.csv", csv);
    let out = d.ok(&["init", "apc.csv", "--dataset", "acute_apc", "--out", "acute.toml"]);
    let err = text(&out.stderr);
    assert!(
        err.contains("1 template column(s) not in the export were commented out (`TARIFF_TOTAL_PAYMENT`)"),
        "{err}"
    );
    let cfg = std::fs::read_to_string(d.path("acute.toml")).unwrap();
    assert!(cfg.contains("column = \"Person Birth Date\""), "{cfg}");
    assert!(cfg.contains("delimiter = \";\""), "{cfg}");
    assert!(cfg.contains("formats = [\"%d.%m.%Y\"]"), "{cfg}");
    assert!(cfg.contains("# column = \"TARIFF_TOTAL_PAYMENT\""), "{cfg}");
    assert!(!err.contains("Ann") && !err.contains("9434765919"), "{err}");
    let key = d.test_key("k.key");
    d.ok(&[
        "tokenise",
        "--config",
        "acute.toml",
        "--key-file",
        key.to_str().unwrap(),
        "--input",
        "apc.csv",
        "--output",
        "a.parquet",
        "-q",
    ]);
    // A template whose record id column the export lacks writes nothing.
    d.write("other.csv", "a,b\n1,2\n");
    let e = d.fails(&["init", "other.csv", "--dataset", "gp", "--out", "gp.toml"], 2);
    assert!(e.contains("no record id column like `Consultation ID`"), "{e}");
    assert!(!d.path("gp.toml").exists());
}
