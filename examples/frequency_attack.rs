//! A frequency attack on pseudonymised names, measured: what an analyst inside the TRE can learn
//! about family names from how often each token (or Bloom filter) occurs, and what the Bloom
//! hardening options change.
//!
//! The attacker is given the strongest plausible knowledge: the exact frequency ranking of the
//! population's family names (in practice, public name statistics come close for common names).
//! They rank the tokens of a pseudonymised extract by frequency and guess that the k-th most common
//! token is the k-th most common name. We report the share of records whose family name that
//! guess gets right, over all records and among the records carrying the ten most common tokens.
//! The same attack is run on whole Bloom filters, under each hardening mode.
//!
//! ```sh
//! cargo run --release --example frequency_attack -- [PERSONS]    # default 50,000
//! ```

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Array, FixedSizeBinaryArray, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pseudolink::config::TokeniseConfig;
use pseudolink::synth::config::SynthConfig;
use pseudolink::synth::{SynthFormat, generate};
use pseudolink::tokenise::{TokeniseOptions, tokenise};

/// (record id, value) of two columns of a Parquet file, values as bytes.
fn column(path: &Path, name: &str) -> HashMap<String, Vec<u8>> {
    let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = HashMap::new();
    for batch in b.build().unwrap() {
        let batch = batch.unwrap();
        let ids = batch.column_by_name("record_id").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        let col = batch.column_by_name(name).unwrap();
        let v = col.as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap();
        for i in 0..batch.num_rows() {
            if v.is_valid(i) {
                out.insert(ids.value(i).to_string(), v.value(i).to_vec());
            }
        }
    }
    out
}

/// Values ranked by frequency (ties broken by value, so the ranking is deterministic).
fn ranking<T: Clone + Ord + std::hash::Hash>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut counts: HashMap<T, u64> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut r: Vec<(u64, T)> = counts.into_iter().map(|(v, n)| (n, v)).collect();
    r.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    r.into_iter().map(|(_, v)| v).collect()
}

/// The attack on `values` (record → token or filter) against `truth` (record → name).
fn attack(values: &HashMap<String, Vec<u8>>, truth: &HashMap<String, String>, names: &[String]) -> (f64, f64, usize) {
    let tokens = ranking(values.values().cloned());
    let guess: HashMap<&Vec<u8>, &String> = tokens.iter().zip(names).collect();
    let top10: Vec<&Vec<u8>> = tokens.iter().take(10).collect();
    let (mut right, mut all, mut right10, mut all10) = (0u64, 0u64, 0u64, 0u64);
    for (id, v) in values {
        let Some(name) = truth.get(id) else { continue };
        let ok = guess.get(v).is_some_and(|g| *g == name);
        all += 1;
        right += ok as u64;
        if top10.contains(&v) {
            all10 += 1;
            right10 += ok as u64;
        }
    }
    (right as f64 / all.max(1) as f64, right10 as f64 / all10.max(1) as f64, tokens.len())
}

fn main() {
    let persons: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let dir = std::env::temp_dir().join(format!("pseudolink-frequency-attack-{}", std::process::id()));
    let synth = dir.join("synth");
    let cfg = SynthConfig { persons: persons as u64, seed: 3, ..SynthConfig::default() };
    generate(&cfg, &synth, SynthFormat::Csv, None).unwrap();
    // The attacker's knowledge: family names of the GP extract's records, normalised.
    let csv = std::fs::read(synth.join("gp.csv")).unwrap();
    let mut rdr = csv::ReaderBuilder::new().delimiter(b'|').from_reader(&csv[3..]); // skip the BOM
    let header = rdr.headers().unwrap().clone();
    let id_col = header.iter().position(|h| h == "Encounter ID").unwrap();
    let fam_col = header.iter().position(|h| h == "Family Name").unwrap();
    let mut truth: HashMap<String, String> = HashMap::new();
    let (mut out, mut parts) = (String::new(), Vec::new());
    for r in rdr.records() {
        let r = r.unwrap();
        if pseudolink::encode::name::normalise_name(&r[fam_col], &mut out, &mut parts)
            == pseudolink::encode::Outcome::Value
        {
            truth.insert(r[id_col].to_string(), out.clone());
        }
    }
    let names = ranking(truth.values().cloned());
    println!("{persons} persons, {} GP records with a family name, {} distinct names", truth.len(), names.len());
    println!("{:<34} {:>10} {:>16} {:>18}", "what the TRE sees", "distinct", "records right", "top-10 tokens right");
    let key = pseudolink::ProjectKey::from_bytes([9; 32]);
    let base = std::fs::read_to_string(synth.join("gp.toml")).unwrap();
    for (label, hardening) in
        [("none", ""), ("xor-fold", "hardening = \"xor-fold\"\n"), ("blip", "hardening = \"blip\"\n")]
    {
        let text = if base.contains("[bloom]") {
            base.replace("[bloom]\n", &format!("[bloom]\n{hardening}"))
        } else {
            format!("{base}\n[bloom]\n{hardening}")
        };
        let cfg = TokeniseConfig::from_toml_str(&text, Path::new("gp.toml")).unwrap();
        let output = dir.join(format!("gp-{label}.parquet"));
        tokenise(&cfg, &key, &synth.join("gp.csv"), &output, &TokeniseOptions::default()).unwrap();
        if label == "none" {
            let (all, top, distinct) = attack(&column(&output, "family_name_exact"), &truth, &names);
            println!("{:<34} {:>10} {:>15.1}% {:>17.1}%", "exact-name tokens", distinct, 100.0 * all, 100.0 * top);
        }
        let (all, top, distinct) = attack(&column(&output, "family_name_bloom"), &truth, &names);
        println!(
            "{:<34} {:>10} {:>15.1}% {:>17.1}%",
            format!("Bloom filters, hardening {label}"),
            distinct,
            100.0 * all,
            100.0 * top
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
