//! `init` on an export as a hospital system writes it: Windows-1252, CRLF, "NHS No", "Forename",
//! "DOB" as 03/04/1961, amounts in pounds, blank and invalid NHS numbers, a trailing blank row.

use crate::util::{Dir, assert_no_canary, text};

/// Twenty rows, with canary names that must never be echoed.
fn export() -> (Vec<u8>, Vec<&'static str>) {
    let canaries = vec!["Zqxmargaret", "Zqxholhurst", "9434765919"];
    let mut rows = vec![
        "Episode Ref,NHS No,Forename,Surname,DOB,Post Code,Gender,Admission Date,Spell Cost,Free Text".to_string(),
    ];
    let nhs = ["9434765919", "943 476 5870", "", "1234567890", "9434765919"];
    for i in 0..20 {
        let given = if i == 0 { "Zqxmargaret".to_string() } else { format!("Ann{}", ["a", "b", "c", "d"][i % 4]) };
        let family = if i == 1 { "Zqxholhurst".to_string() } else { format!("Sm\u{e9}th{}", i % 3) };
        rows.push(format!(
            "EP{:04},{},{given},{family},{:02}/04/1961,LS{} 4AP,{},{:02}/03/2024,\"\u{a3}1,{:03}.50\",note {i}",
            i,
            nhs[i % nhs.len()],
            1 + i % 28,
            1 + i % 9,
            ["M", "F"][i % 2],
            1 + i % 28,
            i * 7
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
        "column = \"Spell Cost\"\ntype = \"float\"",
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
                .filter(|l| {
                    ["column =", "type =", "formats =", "delimiter =", "encoding ="].iter().any(|k| l.starts_with(k))
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
