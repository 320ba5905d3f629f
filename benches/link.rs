//! Linkage kernels: agreement patterns, EM over pattern counts, and clustering.
//!
//! The pattern kernel runs on a tokenised synthetic population (20,000 persons) made in setup;
//! EM and union-find run on generated inputs of several sizes.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use pseudolink::ProjectKey;
use pseudolink::config::TokeniseConfig;
use pseudolink::link::cluster::Clusters;
use pseudolink::link::compare::{Comparisons, Thresholds, builtin, default_comparisons};
use pseudolink::link::data::Records;
use pseudolink::link::model::Model;
use pseudolink::link::train::em::{EmOptions, train};
use pseudolink::synth::config::SynthConfig;
use pseudolink::synth::{SynthFormat, generate};
use pseudolink::tokenise::{TokeniseOptions, tokenise};

fn patterns(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let pop = generate(&SynthConfig { persons: 20_000, ..SynthConfig::default() }, dir.path(), SynthFormat::Csv, None)
        .unwrap();
    // Fixed test bytes: a benchmark key.
    let key = ProjectKey::from_bytes([3; 32]);
    let files: Vec<_> = pop
        .providers
        .iter()
        .map(|p| {
            let out = dir.path().join(format!("{}.parquet", p.source));
            let cfg = TokeniseConfig::read(&p.config).unwrap();
            tokenise(&cfg, &key, &p.extract, &out, &TokeniseOptions::default()).unwrap();
            out
        })
        .collect();
    let r = Records::load(&files).unwrap();
    let comparisons = Comparisons::resolve(default_comparisons(&r, Thresholds::default()), &r).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let pairs: Vec<(usize, usize)> =
        (0..100_000).map(|_| (rng.random_range(0..r.len()), rng.random_range(0..r.len()))).collect();
    let mut g = c.benchmark_group("compare");
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("pattern_random_pairs", |b| {
        b.iter(|| pairs.iter().map(|&(x, y)| comparisons.pattern(&r, x, y).get(1) as u64).sum::<u64>())
    });
    g.finish();
}

fn em(c: &mut Criterion) {
    let mut g = c.benchmark_group("em");
    for distinct in [100usize, 1_000, 5_000] {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let t = Thresholds::default();
        let defs = [
            builtin::nhs_number(),
            builtin::name(pseudolink::link::compare::Subject::GivenName, t),
            builtin::name(pseudolink::link::compare::Subject::FamilyName, t),
            builtin::date_of_birth(),
            builtin::postcode(),
            builtin::sex(),
        ];
        let model = Model::new(0.01, defs.iter().map(|d| d.start()).collect());
        let counts: Vec<(Vec<u8>, u64)> = (0..distinct)
            .map(|_| {
                let p = model.comparisons.iter().map(|c| rng.random_range(0..c.levels.len()) as u8).collect();
                (p, rng.random_range(1..10_000u64))
            })
            .collect();
        g.throughput(Throughput::Elements(distinct as u64));
        g.bench_with_input(BenchmarkId::new("train_patterns", distinct), &counts, |b, counts| {
            b.iter(|| {
                let mut m = model.clone();
                train(
                    &mut m,
                    black_box(counts),
                    &EmOptions { max_iterations: 25, tolerance: 0.0, ..Default::default() },
                )
            })
        });
    }
    g.finish();
}

fn cluster(c: &mut Criterion) {
    let mut g = c.benchmark_group("cluster");
    for n in [100_000u32, 1_000_000] {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let edges: Vec<(u32, u32)> = (0..n).map(|_| (rng.random_range(0..n), rng.random_range(0..n))).collect();
        let tokens: Vec<Option<u32>> = (0..n).map(|i| (i % 3 != 0).then_some(i / 4)).collect();
        g.throughput(Throughput::Elements(edges.len() as u64));
        g.bench_with_input(BenchmarkId::new("union_find_labels", n), &edges, |b, edges| {
            b.iter(|| {
                let mut cl = Clusters::new(tokens.clone());
                for &(x, y) in edges {
                    cl.union(x, y);
                }
                cl.labels()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, patterns, em, cluster);
criterion_main!(benches);
