//! Tokenise throughput against its bound: the bare HMAC-SHA256 cost of the same number of
//! HMAC evaluations, measured in the same run on the same cores.
//!
//! The extract is the synthetic GP extract cut to a record id, an NHS number, given and family
//! names, a date of birth, a postcode and sex. Set `PSEUDOLINK_BENCH_ROWS` (default 100,000)
//! for the 1,000,000-row figure in `docs/benchmarks.md`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rayon::prelude::*;

use pseudolink::ProjectKey;
use pseudolink::config::TokeniseConfig;
use pseudolink::encode::bloom::{BloomParams, encode};
use pseudolink::synth::config::SynthConfig;
use pseudolink::synth::{SynthFormat, generate};
use pseudolink::token::{NhsNumber, Purpose, Subkey, TokenMac};
use pseudolink::tokenise::{TokeniseOptions, tokenise};

fn whole_file(c: &mut Criterion) {
    let rows: u64 = std::env::var("PSEUDOLINK_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    // About five GP records per person.
    let cfg = SynthConfig { persons: (rows / 5).max(100), seed: 1, ..SynthConfig::default() };
    let pop = generate(&cfg, dir.path(), SynthFormat::Csv, None).unwrap();
    let gp = pop.providers.iter().find(|p| p.source == "gp").unwrap();
    let extract = dir.path().join("six_fields.csv");
    cut_to_identifiers(&gp.extract, &extract, rows as usize);
    let config = TokeniseConfig::from_toml_str(SIX_FIELDS, "six_fields.toml".as_ref()).unwrap();
    // Fixed test bytes: a benchmark key.
    let key = ProjectKey::from_bytes([1; 32]);
    let out = dir.path().join("out.parquet");
    let first = tokenise(&config, &key, &extract, &out, &TokeniseOptions::default()).unwrap();
    let (n, macs) = (first.report.rows_written, first.report.hmac_evaluations);
    eprintln!("bench extract: {n} rows, {macs} HMAC evaluations ({:.1} per row)", macs as f64 / n as f64);

    let mut g = c.benchmark_group("tokenise");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_with_input(BenchmarkId::new("whole_file", n), &n, |b, _| {
        b.iter(|| tokenise(&config, &key, &extract, &out, &TokeniseOptions::default()).unwrap())
    });
    let mac = TokenMac::new(&Subkey::derive(&key, &Purpose::NameBloom));
    g.bench_with_input(BenchmarkId::new("bare_hmac_same_count", n), &macs, |b, &macs| {
        b.iter(|| {
            (0..macs as usize).into_par_iter().with_min_len(4_096).for_each(|i| {
                black_box(mac.full(&i.to_le_bytes()));
            })
        })
    });
    g.finish();
}

const SIX_FIELDS: &str = r#"
source = "gp"
[input]
delimiter = "|"
[record_id]
column = "Encounter ID"
[[field]]
column = "NHS Number"
type = "nhs_number"
[[field]]
column = "Given Name"
type = "given_name"
[[field]]
column = "Family Name"
type = "family_name"
[[field]]
column = "Date of Birth"
type = "date_of_birth"
formats = ["%Y%m%d"]
[[field]]
column = "Postcode"
type = "postcode"
[[field]]
column = "Sex"
type = "sex"
"#;

/// Copies the id and six identifying columns of the synthetic GP extract, at most `rows` rows.
fn cut_to_identifiers(from: &std::path::Path, to: &std::path::Path, rows: usize) {
    let mut r = csv::ReaderBuilder::new().delimiter(b'|').from_path(from).unwrap();
    let mut w = csv::WriterBuilder::new().delimiter(b'|').from_path(to).unwrap();
    let keep = [0usize, 2, 3, 4, 5, 6, 7];
    let h = r.byte_headers().unwrap().clone();
    w.write_record(keep.iter().map(|&i| &h[i])).unwrap();
    for rec in r.byte_records().take(rows) {
        let rec = rec.unwrap();
        w.write_record(keep.iter().map(|&i| &rec[i])).unwrap();
    }
    w.flush().unwrap();
}

fn kernels(c: &mut Criterion) {
    let key = ProjectKey::from_bytes([2; 32]);
    let mac = TokenMac::new(&Subkey::derive(&key, &Purpose::NameBloom));
    let params = BloomParams::default();
    let mut g = c.benchmark_group("kernels");
    g.throughput(Throughput::Elements(1));
    g.bench_function("hmac_sha256_16_bytes", |b| b.iter(|| mac.full(black_box(b"0123456789abcdef"))));
    g.bench_function("bloom_encode_surname", |b| {
        let (mut scratch, mut out) = (Vec::new(), vec![0u8; params.output_bytes()]);
        b.iter(|| encode(&params, &mac, black_box("WILLIAMSON"), &mut scratch, None, b"", &mut out))
    });
    g.bench_function("nhs_number_parse", |b| b.iter(|| NhsNumber::parse(black_box("943 476 5919"))));
    g.finish();
}

criterion_group!(benches, whole_file, kernels);
criterion_main!(benches);
