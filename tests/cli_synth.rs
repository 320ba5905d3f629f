//! `pseudolink synth`: determinism, truth, NHS-number ranges, error rates, and that its extracts
//! tokenise with the configs it writes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::util::{Dir, PROVIDERS, text, tokenised_population};

fn read_csv(path: &std::path::Path, delimiter: u8, latin1: bool) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let mut r = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(&bytes[..]);
    let dec = |b: &[u8]| {
        if latin1 { encoding_rs::WINDOWS_1252.decode(b).0.into_owned() } else { String::from_utf8(b.to_vec()).unwrap() }
    };
    let header = r.byte_headers().unwrap().iter().map(|h| dec(h).trim_start_matches('\u{feff}').to_string()).collect();
    let rows = r.byte_records().map(|rec| rec.unwrap().iter().map(dec).collect()).collect();
    (header, rows)
}

fn all_files(d: &Dir, dir: &str) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(d.path(dir))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_whatever_the_threads_and_different_seeds_differ() {
    let d = Dir::new();
    let run = |out: &str, seed: &str, threads: &str| {
        let o = d
            .cmd(&["synth", "--persons", "3000", "--seed", seed, "--out", out, "-q"])
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    run("a", "5", "1");
    run("b", "5", "2");
    run("c", "6", "2");
    let (a, b, c) = (all_files(&d, "a"), all_files(&d, "b"), all_files(&d, "c"));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        [
            "acute.csv",
            "acute.toml",
            "ae.csv",
            "ae.toml",
            "community_mh.csv",
            "community_mh.toml",
            "gp.csv",
            "gp.toml",
            "social_care.csv",
            "social_care.toml",
            "synth.json",
            "truth.csv"
        ]
    );
    for (name, bytes) in &a {
        if name == "synth.json" {
            continue; // names its own folder
        }
        assert_eq!(bytes, &b[name], "{name} differs between 1 and 2 threads");
        if name.ends_with(".csv") {
            assert_ne!(bytes, &c[name], "{name} is the same for different seeds");
        }
    }
}

/// Loads a synthetic population: per provider the rows with their truth.
struct Population {
    /// (source, record id) → (person id, registration id, errors)
    truth: HashMap<(String, String), (String, String, String)>,
    /// source → (header, rows)
    extracts: BTreeMap<String, (Vec<String>, Vec<Vec<String>>)>,
}

fn load(d: &Dir, dir: &str) -> Population {
    let (_, truth_rows) = read_csv(&d.path(&format!("{dir}/truth.csv")), b',', false);
    let truth = truth_rows
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), (r[2].clone(), r[3].clone(), r[4].clone())))
        .collect();
    let mut extracts = BTreeMap::new();
    for (name, delim, latin1) in [
        ("acute", b',', false),
        ("ae", b',', false),
        ("gp", b'|', false),
        ("community_mh", b',', false),
        ("social_care", b',', true),
    ] {
        extracts.insert(name.to_string(), read_csv(&d.path(&format!("{dir}/{name}.csv")), delim, latin1));
    }
    Population { truth, extracts }
}

#[test]
fn truth_covers_every_record_and_nhs_numbers_are_valid_unique_test_numbers() {
    let d = Dir::new();
    d.ok(&["synth", "--persons", "5000", "--seed", "11", "--out", "s", "-q"]);
    let pop = load(&d, "s");
    let mut records = 0;
    // person → the set of valid numbers recorded on registrations without errors touching the number.
    let mut true_numbers: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (source, (header, rows)) in &pop.extracts {
        let nhs_col = header.iter().position(|h| h.to_lowercase().replace(' ', "_").starts_with("nhs")).unwrap();
        for row in rows {
            records += 1;
            let (person, _, errors) = pop
                .truth
                .get(&(source.clone(), row[0].clone()))
                .unwrap_or_else(|| panic!("{source} {} has no truth", row[0]));
            let nhs: String = row[nhs_col].chars().filter(|c| !c.is_whitespace()).collect();
            if nhs.is_empty() {
                continue;
            }
            if pseudolink::token::NhsNumber::parse(&nhs).is_ok() {
                assert!(nhs.starts_with("999"), "{source}: a valid NHS number outside the test range");
            } else {
                assert!(errors.contains("nhs_typo"), "{source} {}: an invalid number without a typo error", row[0]);
            }
            if errors.is_empty() {
                true_numbers.entry(person.clone()).or_default().insert(nhs);
            }
        }
    }
    assert_eq!(records, pop.truth.len(), "truth has one row per record");
    // Each person's error-free registrations carry one number, and no two persons share it.
    let mut owner: HashMap<String, String> = HashMap::new();
    for (person, numbers) in &true_numbers {
        assert_eq!(numbers.len(), 1, "{person} has several error-free numbers");
        let n = numbers.iter().next().unwrap();
        assert!(owner.insert(n.clone(), person.clone()).is_none(), "two persons share a number");
    }
    assert!(true_numbers.len() > 4_500, "most persons appear somewhere");
}

#[test]
fn error_rates_match_the_configured_rates() {
    let d = Dir::new();
    d.ok(&[
        "synth",
        "--persons",
        "20000",
        "--seed",
        "3",
        "--out",
        "s",
        "-q",
        "--rate",
        "ae.name_typo=0.2",
        "--rate",
        "gp.dob_digit=0.1",
    ]);
    let pop = load(&d, "s");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path("s/synth.json")).unwrap()).unwrap();
    // Distinct registrations per provider, with their error lists.
    let mut regs: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut nhs_blank: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    for ((source, _), (_, reg, errors)) in &pop.truth {
        regs.entry(source.clone()).or_default().insert(reg.clone(), errors.clone());
    }
    for (source, (header, rows)) in &pop.extracts {
        let nhs_col = header.iter().position(|h| h.to_lowercase().replace(' ', "_").starts_with("nhs")).unwrap();
        let local_col = 1;
        for row in rows {
            nhs_blank.entry(source.clone()).or_default().insert(row[local_col].clone(), row[nhs_col].trim().is_empty());
        }
    }
    for p in summary["providers"].as_array().unwrap() {
        let source = p["source"].as_str().unwrap();
        let regs = &regs[source];
        let n = regs.len() as f64;
        assert_eq!(n as u64, p["registrations"].as_u64().unwrap());
        for knob in ["nhs_missing", "name_typo", "name_swap", "dob_digit", "postcode_missing", "sex_missing"] {
            let want = p["rates"][knob].as_f64().unwrap();
            let got = regs.values().filter(|e| e.split(';').any(|x| x == knob)).count() as f64 / n;
            let tolerance = 4.0 * (want * (1.0 - want) / n).sqrt() + 1e-9;
            assert!(
                (got - want).abs() <= tolerance,
                "{source}.{knob}: measured {got:.4}, configured {want:.4} (±{tolerance:.4}, n = {n})"
            );
        }
        // The data agrees with the annotations: a blank NHS number exactly where one is recorded
        // as missing, or on a duplicate registration without a spare number.
        for (reg, errors) in regs {
            let blank = nhs_blank[source][reg];
            if errors.split(';').any(|x| x == "nhs_missing") {
                assert!(blank, "{source} {reg}");
            } else if !errors.contains("duplicate") {
                assert!(!blank, "{source} {reg}");
            }
        }
    }
}

#[test]
fn synthetic_extracts_tokenise_with_their_own_configs() {
    let d = Dir::new();
    tokenised_population(&d, "500", "1");
    for p in PROVIDERS {
        let q: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path(&format!("{p}.quality.json"))).unwrap()).unwrap();
        assert_eq!(q["rows_read"], q["rows_written"]);
        for f in q["passthrough"].as_array().unwrap() {
            assert_eq!(f["unusable"], 0, "{p}: pass-through {} has unreadable values", f["name"]);
        }
    }
}

#[test]
fn parquet_format_and_capacity_limit() {
    let d = Dir::new();
    d.ok(&["synth", "--persons", "300", "--format", "parquet", "--out", "p", "-q"]);
    assert!(d.path("p/gp.parquet").exists() && d.path("p/gp.toml").exists());
    let err = d.fails(&["synth", "--persons", "909091", "--out", "x"], 2);
    assert!(err.contains("more than the 909,090 valid NHS numbers in the range reserved for testing"), "{err}");
}

/// `--with housing`: a source with no NHS-number column, an address line and a local reference,
/// whose tokenise config uses them, and which links to the person's other records on names,
/// date of birth, address and postcode alone.
#[test]
fn a_housing_register_without_nhs_numbers_links_on_what_it_has() {
    let d = Dir::new();
    d.ok(&["synth", "--persons", "2500", "--seed", "11", "--with", "housing", "--out", "s", "-q"]);
    let (head, rows) = read_csv(&d.path("s/housing.csv"), b',', false);
    assert!(!head.iter().any(|h| h.contains("nhs")), "{head:?}");
    assert!(head.contains(&"address_line_1".to_string()) && head.contains(&"tenant_ref".to_string()));
    assert!(rows.len() > 100, "{} housing records", rows.len());
    let config = std::fs::read_to_string(d.path("s/housing.toml")).unwrap();
    assert!(config.contains("column = \"tenant_ref\"\ntype = \"identifier\""), "{config}");
    assert!(config.contains("column = \"address_line_1\"\ntype = \"string\""), "{config}");
    assert!(!config.contains("nhs_number"), "{config}");
    let key = d.test_key("k.key");
    let mut extracts = Vec::new();
    for p in ["acute", "ae", "gp", "community_mh", "social_care", "housing"] {
        let out = format!("{p}.parquet");
        crate::util::tokenise_with_key(&d, &key, &format!("s/{p}.toml"), &format!("s/{p}.csv"), &out);
        extracts.push(out);
    }
    let mut args = vec!["link", "--out", "l", "-q"];
    args.extend(extracts.iter().map(String::as_str));
    d.ok(&args);
    // Housing records joined to their person's records elsewhere, and never to someone else's.
    let truth = std::fs::read_to_string(d.path("s/truth.csv")).unwrap();
    let person_of: std::collections::HashMap<(String, String), String> = truth
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .map(|r| ((r[0].to_string(), r[1].to_string()), r[2].to_string()))
        .collect();
    let c = d.path("l/clusters.parquet");
    let (src, rid, pid) = (
        crate::util::column_values(&c, "source"),
        crate::util::column_values(&c, "record_id"),
        crate::util::column_values(&c, "person_id"),
    );
    let mut cluster_people: std::collections::HashMap<String, std::collections::HashSet<String>> = Default::default();
    let mut true_clusters: std::collections::HashMap<String, std::collections::HashSet<String>> = Default::default();
    let mut housing = Vec::new();
    for i in 0..src.len() {
        let key = (src[i].clone().unwrap(), rid[i].clone().unwrap());
        let truth_id = person_of[&key].clone();
        let cluster = pid[i].clone().unwrap();
        cluster_people.entry(cluster.clone()).or_default().insert(truth_id.clone());
        if key.0 != "housing" {
            true_clusters.entry(truth_id.clone()).or_default().insert(cluster.clone());
        } else {
            housing.push((truth_id, cluster));
        }
    }
    let elsewhere: Vec<&(String, String)> = housing.iter().filter(|(t, _)| true_clusters.contains_key(t)).collect();
    let joined = elsewhere.iter().filter(|(t, c)| true_clusters[t].contains(c)).count();
    let recall = joined as f64 / elsewhere.len() as f64;
    let wrong = housing.iter().filter(|(_, c)| cluster_people[c].len() > 1).count();
    assert!(recall >= 0.95, "housing records joined to their person: {recall:.4}");
    // Agreeing on the council's own reference is never evidence against a match, nor priced by
    // how often the reference recurs on one person's records.
    let model: serde_json::Value = serde_json::from_slice(&std::fs::read(d.path("l/model.json")).unwrap()).unwrap();
    let tenant = model["comparisons"].as_array().unwrap().iter().find(|c| c["name"] == "tenant_ref").expect("compared");
    let exact = tenant["levels"].as_array().unwrap().iter().find(|l| l["label"] == "exact").unwrap();
    assert!(exact["m"].as_f64().unwrap() >= exact["u"].as_f64().unwrap(), "{tenant}");
    assert_ne!(exact["term_frequency"], true, "{tenant}");
    assert!(
        wrong * 100 <= housing.len(),
        "{wrong} of {} housing records share a person with someone else",
        housing.len()
    );
}
