//! `synth`: a synthetic multi-provider population with known truth.
//!
//! Nobody may test linkage on real patients' identifiers, so every accuracy and speed claim
//! pseudolink makes rests on this generator. It writes one plaintext extract per provider (CSV,
//! or Parquet), a ready tokenise config beside each, `truth.csv` (every record's true person and
//! the errors its registration carries) and `synth.json` (the settings and counts).
//!
//! The population is generated in blocks of [`BLOCK_PERSONS`] persons, each from its own random
//! stream seeded by the population seed and the block number, processed in parallel and written
//! in block order as it goes: memory stays bounded, and the bytes never depend on the thread
//! count. Households (people sharing a surname and a postcode) and neighbourhoods (households
//! sharing postcode sectors) live within a block. Error knobs are in [`config`]; what each means
//! is in `docs/synthetic-data.md`.

pub mod config;
pub mod errors;
pub mod names;
pub mod nhs;
pub mod person;
pub mod provider;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use encoding_rs::WINDOWS_1252;
use parquet::arrow::ArrowWriter;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result, group_digits};
use crate::io::atomic::AtomicFile;
use crate::io::parquet::writer_properties;
use config::SynthConfig;
use nhs::{NhsNumbers, TEST_RANGE_CAPACITY};
use person::{CONDITIONS, Person, Sex, Tables, conditions, unit_in};
use provider::{Role, Spec, TextKind, events, extra_spec, format_cost, register, specs};

/// Persons per generation block.
pub const BLOCK_PERSONS: u64 = 1_000;
/// Blocks generated in parallel before being written.
const BLOCKS_PER_ROUND: u64 = 16;

/// Output file format of the plaintext extracts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SynthFormat {
    /// Delimited text in each provider's own export style.
    Csv,
    /// Parquet, every column text.
    Parquet,
}

/// What `synth` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SynthSummary {
    /// Persons generated.
    pub persons: u64,
    /// Seed used.
    pub seed: u64,
    /// Error-rate multiplier used.
    pub error_scale: f64,
    /// Output format.
    pub format: SynthFormat,
    /// Per provider: its extract, its config, and its record and registration counts.
    pub providers: Vec<ProviderSummary>,
    /// The truth file.
    pub truth: PathBuf,
    /// Wall time (not written to `synth.json`, which must be reproducible).
    #[serde(skip)]
    pub elapsed: Duration,
}

/// One provider's output.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderSummary {
    /// Source code.
    pub source: String,
    /// The extract.
    pub extract: PathBuf,
    /// Its tokenise config.
    pub config: PathBuf,
    /// Records (events).
    pub records: u64,
    /// Registrations (distinct provider patient records).
    pub registrations: u64,
    /// Persons seen.
    pub persons: u64,
    /// Error rates in force.
    pub rates: config::ErrorRates,
}

/// Generates the population described by `cfg` into `out_dir` (created if needed).
/// `progress` is called with the persons done so far.
pub fn generate(
    cfg: &SynthConfig,
    out_dir: &Path,
    format: SynthFormat,
    progress: Option<&(dyn Fn(u64) + Sync)>,
) -> Result<SynthSummary> {
    let started = Instant::now();
    let problems = cfg.problems();
    if !problems.is_empty() {
        return Err(Error::usage(format!("synthetic population settings: {}", problems.join("; "))));
    }
    if cfg.persons > TEST_RANGE_CAPACITY as u64 {
        return Err(Error::usage(format!(
            "--persons {} is more than the {} valid NHS numbers in the range reserved for testing \
             (999 000 0000 to 999 999 9999); no other range is documented as never issued to patients, \
             so pseudolink will not generate more persons than that",
            group_digits(cfg.persons),
            group_digits(TEST_RANGE_CAPACITY as u64)
        )));
    }
    crate::io::atomic::create_output_dir(out_dir)?;
    let mut specs = specs();
    specs.extend(cfg.with.iter().filter_map(|w| extra_spec(w)));
    let rates: Vec<config::ErrorRates> = specs.iter().map(|s| cfg.rates_for(s.name)).collect();
    let tables = Tables::default();
    let numbers = NhsNumbers::shuffled(cfg.seed);

    let mut writers: Vec<ExtractWriter> = specs
        .iter()
        .map(|s| {
            let ext = match format {
                SynthFormat::Csv => "csv",
                SynthFormat::Parquet => "parquet",
            };
            let names: Vec<&str> = s.columns.iter().map(|(n, _)| *n).collect();
            ExtractWriter::create(&out_dir.join(format!("{}.{ext}", s.name)), &names, s.delimiter, s.text, format)
        })
        .collect::<Result<_>>()?;
    let truth_path = out_dir.join("truth.csv");
    let mut truth = ExtractWriter::create(&truth_path, &TRUTH_COLUMNS, b',', TextKind::Utf8, SynthFormat::Csv)?;
    let mut counts = vec![(0u64, 0u64, 0u64); specs.len()];

    let blocks = cfg.persons.div_ceil(BLOCK_PERSONS);
    let mut done = 0u64;
    let mut round = 0u64;
    while round * BLOCKS_PER_ROUND < blocks {
        let range = round * BLOCKS_PER_ROUND..((round + 1) * BLOCKS_PER_ROUND).min(blocks);
        let outs: Vec<BlockOut> =
            range.into_par_iter().map(|b| make_block(cfg, &tables, &numbers, &specs, &rates, b)).collect();
        for out in outs {
            for (i, p) in out.providers.into_iter().enumerate() {
                counts[i].0 += p.records;
                counts[i].1 += p.registrations;
                counts[i].2 += p.persons;
                writers[i].write(&p.batch)?;
                truth.write(&p.truth)?;
            }
            done += out.persons;
        }
        if let Some(f) = progress {
            f(done);
        }
        round += 1;
    }

    let mut providers = Vec::new();
    for ((w, spec), (rates, c)) in writers.into_iter().zip(&specs).zip(rates.iter().zip(&counts)) {
        let extract = w.finish()?;
        let config = out_dir.join(format!("{}.toml", spec.name));
        crate::io::atomic::write_atomic(&config, tokenise_config(spec, format).as_bytes())?;
        providers.push(ProviderSummary {
            source: spec.name.into(),
            extract,
            config,
            records: c.0,
            registrations: c.1,
            persons: c.2,
            rates: *rates,
        });
    }
    truth.finish()?;
    let summary = SynthSummary {
        persons: cfg.persons,
        seed: cfg.seed,
        error_scale: cfg.error_scale,
        format,
        providers,
        truth: truth_path,
        elapsed: started.elapsed(),
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    crate::io::atomic::write_atomic(&out_dir.join("synth.json"), json.as_bytes())?;
    Ok(summary)
}

/// One block's output.
struct BlockOut {
    persons: u64,
    providers: Vec<ProviderOut>,
}

struct ProviderOut {
    batch: RecordBatch,
    truth: RecordBatch,
    records: u64,
    registrations: u64,
    persons: u64,
}

/// Mixes the population seed with a block number (SplitMix64 finaliser).
fn block_seed(seed: u64, block: u64) -> u64 {
    let mut z = seed ^ block.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Household sizes 1–5 (England: about 30% of households are one person).
const HOUSEHOLD: [f64; 5] = [0.30, 0.35, 0.15, 0.13, 0.07];

fn make_block(
    cfg: &SynthConfig,
    tables: &Tables,
    numbers: &NhsNumbers,
    specs: &[Spec],
    rates: &[config::ErrorRates],
    block: u64,
) -> BlockOut {
    let mut rng = ChaCha8Rng::seed_from_u64(block_seed(cfg.seed, block));
    let first = block * BLOCK_PERSONS;
    let last = (first + BLOCK_PERSONS).min(cfg.persons);
    let sectors: Vec<String> = (0..10).map(|_| tables.sector(&mut rng)).collect();
    let spare = |i: u64| {
        let j = numbers.len() as u64 - 1 - i;
        (j >= cfg.persons).then(|| numbers.get(j as usize))
    };

    // Addresses come from a stream of their own, so adding them changed no other value of a
    // population made before they existed.
    let mut addr_rng = ChaCha8Rng::seed_from_u64(block_seed(cfg.seed ^ 0x00AD_D8E5_5000_0000, block));
    let street = |rng: &mut ChaCha8Rng| {
        let name = names::STREET_NAMES[rng.random_range(0..names::STREET_NAMES.len())];
        let kind = names::STREET_TYPES[rng.random_range(0..names::STREET_TYPES.len())].0;
        format!("{} {name} {kind}", rng.random_range(1..=180u32))
    };
    // Persons, household by household.
    let mut persons: Vec<Person> = Vec::with_capacity((last - first) as usize);
    let mut households: Vec<(usize, usize)> = Vec::new();
    let mut i = first;
    while i < last {
        let mut size = 1;
        let mut x = rng.random::<f64>();
        for (k, w) in HOUSEHOLD.iter().enumerate() {
            if x < *w {
                size = k + 1;
                break;
            }
            x -= w;
        }
        let size = (size as u64).min(last - i) as usize;
        let sector = &sectors[rng.random_range(0..sectors.len())];
        let postcode = unit_in(&mut rng, sector);
        let surname = tables.surname(&mut rng);
        let address = street(&mut addr_rng);
        let start = persons.len();
        for k in 0..size {
            let sex = if rng.random_bool(0.51) { Sex::Female } else { Sex::Male };
            let family = if k == 0 || rng.random_bool(0.8) { surname.clone() } else { tables.surname(&mut rng) };
            let moved_far = rng.random_bool(0.4);
            let old_sector = if moved_far {
                tables.sector(&mut rng)
            } else {
                let district = sector.rsplit_once(' ').map_or(sector.as_str(), |(d, _)| d);
                format!("{district} {}", rng.random_range(0..10u32))
            };
            let mut old_postcode = unit_in(&mut rng, &old_sector);
            while old_postcode == postcode {
                old_postcode = unit_in(&mut rng, &old_sector);
            }
            let dob = tables.dob(&mut rng);
            let mut p = Person {
                index: i,
                nhs: numbers.get(i as usize),
                alt_nhs: spare(i),
                other_nhs: [b'0'; 10],
                given: tables.given(&mut rng, sex),
                family,
                other_family: tables.surname(&mut rng),
                sex,
                dob,
                postcode: postcode.clone(),
                old_postcode,
                address: address.clone(),
                old_address: street(&mut addr_rng),
                conditions: 0,
            };
            p.conditions = conditions(&mut rng, p.age());
            persons.push(p);
            i += 1;
        }
        // Twins: same date of birth, surname and address; a different given name and number.
        if size >= 2 && rng.random_bool(cfg.twin_rate) {
            let (a, b) = (start, start + 1);
            let (dob, family, first_given) = (persons[a].dob, persons[a].family.clone(), persons[a].given);
            let twin = &mut persons[b];
            twin.dob = dob;
            twin.family = family;
            while twin.given == first_given {
                twin.given = tables.given(&mut rng, twin.sex);
            }
            let age = persons[b].age();
            persons[b].conditions = conditions(&mut rng, age);
        }
        households.push((start, persons.len()));
    }
    // Numbers shared in error: a household member's, else a neighbour's in the block.
    for &(s, e) in &households {
        for k in s..e {
            let other = if e - s > 1 {
                s + (k - s + 1) % (e - s)
            } else {
                let mut j = rng.random_range(0..persons.len());
                if j == k {
                    j = (j + 1) % persons.len();
                }
                j
            };
            persons[k].other_nhs = persons[other].nhs;
        }
    }

    // Each provider's records.
    let providers = specs
        .iter()
        .zip(rates)
        .enumerate()
        .map(|(pi, (spec, rates))| {
            let mut rng = ChaCha8Rng::seed_from_u64(block_seed(cfg.seed ^ (pi as u64 + 1) << 56, block));
            provider_block(&mut rng, spec, rates, &persons, block)
        })
        .collect();
    BlockOut { persons: last - first, providers }
}

fn provider_block(
    rng: &mut ChaCha8Rng,
    spec: &Spec,
    rates: &config::ErrorRates,
    persons: &[Person],
    block: u64,
) -> ProviderOut {
    let mut cols: Vec<StringBuilder> = spec.columns.iter().map(|_| StringBuilder::new()).collect();
    let mut truth: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let (mut records, mut registrations, mut seen) = (0u64, 0u64, 0u64);
    let mut buf = String::new();
    let salt = u32::from(spec.prefix.as_bytes()[0]).wrapping_mul(0x0101_0101);
    for p in persons {
        let evs = events(rng, spec, p, false);
        if evs.is_empty() {
            continue;
        }
        seen += 1;
        let dup = rates.duplicate > 0.0 && rng.random_bool(rates.duplicate);
        let mut regs = vec![(register(rng, spec, p, rates, false), evs)];
        if dup {
            let extra = events(rng, spec, p, true);
            regs.push((register(rng, spec, p, rates, true), extra));
        }
        for (r, (reg, evs)) in regs.iter().enumerate() {
            registrations += 1;
            // A provider-local patient number that says nothing about the person across providers.
            // XOR with a per-provider constant then multiplication by an odd number: a bijection on
            // u32, so numbers are unique within a provider and differ between providers.
            let local = ((p.index * 2 + r as u64) as u32 ^ salt).wrapping_mul(0x9E37_79B1);
            let local = format!("{}{local:010}", spec.prefix);
            let errors = reg.errors.join(";");
            for ev in evs {
                // A block of 1,000 persons holds a few tens of thousands of records at most, so
                // ids of different blocks never meet.
                debug_assert!(records < 1_000_000);
                let id = format!("{}{:010}", spec.prefix, block * 1_000_000 + records + 1);
                records += 1;
                for (c, (_, role)) in cols.iter_mut().zip(&spec.columns) {
                    match role {
                        Role::RecordId => c.append_value(&id),
                        Role::LocalId => c.append_value(&local),
                        Role::Nhs => c.append_value(&reg.nhs),
                        Role::Given => c.append_value(&reg.given),
                        Role::Family => c.append_value(&reg.family),
                        Role::Dob => c.append_value(&reg.dob),
                        Role::Postcode => c.append_value(&reg.postcode),
                        Role::Address => c.append_value(&reg.address),
                        Role::Sex => c.append_value(&reg.sex),
                        Role::EventDate => {
                            buf.clear();
                            use std::fmt::Write as _;
                            let _ = write!(buf, "{}", ev.date.format(spec.event_format));
                            c.append_value(&buf);
                        }
                        Role::Setting => c.append_value(ev.setting),
                        Role::Activity => c.append_value(ev.activity),
                        Role::Cost => {
                            format_cost(spec, ev.cost, &mut buf);
                            c.append_value(&buf);
                        }
                        Role::Condition(k) => c.append_value(if p.conditions & (1 << k) != 0 { "Y" } else { "N" }),
                    }
                }
                truth[0].append_value(spec.name);
                truth[1].append_value(&id);
                truth[2].append_value(p.id());
                truth[3].append_value(&local);
                truth[4].append_value(&errors);
            }
        }
    }
    let names: Vec<&str> = spec.columns.iter().map(|(n, _)| *n).collect();
    let schema = text_schema(&names);
    let arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    // Infallible: one Utf8 array per schema column, all of the same length.
    let batch = RecordBatch::try_new(schema, arrays).expect("columns match the provider's schema");
    let truth_arrays: Vec<ArrayRef> = truth.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    let truth =
        RecordBatch::try_new(text_schema(&TRUTH_COLUMNS), truth_arrays).expect("columns match the truth schema");
    ProviderOut { batch, truth, records, registrations, persons: seen }
}

/// Columns of `truth.csv`.
const TRUTH_COLUMNS: [&str; 5] = ["source", "record_id", "person_id", "registration_id", "errors"];

/// An all-text schema with these column names.
fn text_schema(names: &[&str]) -> SchemaRef {
    Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect::<Vec<_>>()))
}

/// Writes one extract as it goes, atomically.
enum ExtractWriter {
    Csv { file: AtomicFile, csv: Box<csv::Writer<BufWriter<File>>>, text: TextKind },
    Parquet { file: AtomicFile, writer: Box<ArrowWriter<File>> },
}

impl ExtractWriter {
    fn create(
        path: &Path,
        names: &[&str],
        delimiter: u8,
        text: TextKind,
        format: SynthFormat,
    ) -> Result<ExtractWriter> {
        let file = AtomicFile::create(path)?;
        let handle = file.try_clone_file()?;
        match format {
            SynthFormat::Csv => {
                let mut w = BufWriter::with_capacity(1 << 20, handle);
                if text == TextKind::Utf8Bom {
                    w.write_all("\u{feff}".as_bytes()).map_err(|e| Error::io("writing", path, e))?;
                }
                let mut csv = csv::WriterBuilder::new().delimiter(delimiter).from_writer(w);
                csv.write_record(names).map_err(|e| csv_error(path, e))?;
                Ok(ExtractWriter::Csv { file, csv: Box::new(csv), text })
            }
            SynthFormat::Parquet => {
                let writer = ArrowWriter::try_new(handle, text_schema(names), Some(writer_properties()))
                    .map_err(|e| Error::output(path, e.to_string()))?;
                Ok(ExtractWriter::Parquet { file, writer: Box::new(writer) })
            }
        }
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            ExtractWriter::Csv { file, csv, text } => {
                let cols: Vec<&StringArray> =
                    batch.columns().iter().filter_map(|c| c.as_any().downcast_ref::<StringArray>()).collect();
                for r in 0..batch.num_rows() {
                    for c in &cols {
                        let v = c.value(r);
                        let res = if *text == TextKind::Windows1252 {
                            csv.write_field(WINDOWS_1252.encode(v).0.as_ref())
                        } else {
                            csv.write_field(v)
                        };
                        res.map_err(|e| csv_error(file.dest(), e))?;
                    }
                    csv.write_record(None::<&[u8]>).map_err(|e| csv_error(file.dest(), e))?;
                }
                Ok(())
            }
            ExtractWriter::Parquet { file, writer } => {
                writer.write(batch).map_err(|e| Error::output(file.dest(), e.to_string()))
            }
        }
    }

    fn finish(self) -> Result<PathBuf> {
        match self {
            ExtractWriter::Csv { file, csv, .. } => {
                let dest = file.dest().to_path_buf();
                let mut w = csv.into_inner().map_err(|e| Error::io("writing", &dest, e.into_error()))?;
                w.flush().map_err(|e| Error::io("writing", &dest, e))?;
                drop(w);
                file.commit()?;
                Ok(dest)
            }
            ExtractWriter::Parquet { file, writer } => {
                let dest = file.dest().to_path_buf();
                writer.close().map_err(|e| Error::output(&dest, e.to_string()))?;
                file.commit()?;
                Ok(dest)
            }
        }
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io("writing", path, io),
        _ => Error::output(path, "the CSV writer failed".to_string()),
    }
}

/// The tokenise config for a provider's extract.
pub fn tokenise_config(spec: &Spec, format: SynthFormat) -> String {
    use std::fmt::Write as _;
    let col = |role: Role| spec.columns.iter().find(|(_, r)| *r == role).map_or("", |(n, _)| *n);
    let mut t = String::new();
    let _ = writeln!(t, "# Tokenise config for the synthetic `{}` extract (made by `pseudolink synth`).", spec.name);
    let _ = writeln!(t, "source = \"{}\"\n", spec.name);
    if format == SynthFormat::Csv {
        let _ = writeln!(t, "[input]");
        let delim = if spec.delimiter == b'\t' { "\\t".to_string() } else { (spec.delimiter as char).to_string() };
        let _ = writeln!(t, "delimiter = \"{delim}\"");
        let enc = if spec.text == TextKind::Windows1252 { "windows-1252" } else { "utf-8" };
        let _ = writeln!(t, "encoding = \"{enc}\"\n");
    }
    let _ = writeln!(t, "[record_id]\ncolumn = \"{}\"\nmode = \"keep\"\n", col(Role::RecordId));
    let has = |role: Role| spec.columns.iter().any(|(_, r)| *r == role);
    // A source without NHS numbers links on what it has: its own patient reference (an
    // identifier, for records of one person within it) and its address line (a string field,
    // compared by Bloom-filter Dice).
    let extra_fields: Vec<(Role, &str, String)> = if has(Role::Nhs) {
        Vec::new()
    } else {
        vec![(Role::LocalId, "identifier", String::new()), (Role::Address, "string", String::new())]
    };
    for (role, kind, extra) in [
        (Role::Nhs, "nhs_number", String::new()),
        (Role::Given, "given_name", String::new()),
        (Role::Family, "family_name", String::new()),
        (Role::Dob, "date_of_birth", format!("formats = [\"{}\"]\nrelease_year = true\n", spec.dob_format)),
        (Role::Postcode, "postcode", String::new()),
        (Role::Sex, "sex", "plain = true\n".to_string()),
    ]
    .into_iter()
    .chain(extra_fields)
    {
        if has(role) {
            let _ = writeln!(t, "[[field]]\ncolumn = \"{}\"\ntype = \"{kind}\"\n{extra}", col(role));
        }
    }
    let _ = writeln!(
        t,
        "[[passthrough]]\ncolumn = \"{}\"\nas = \"activity_date\"\ntype = \"date\"\nformats = [\"{}\"]\n",
        col(Role::EventDate),
        spec.event_format
    );
    let _ = writeln!(t, "[[passthrough]]\ncolumn = \"{}\"\nas = \"setting\"\n", col(Role::Setting));
    let _ = writeln!(t, "[[passthrough]]\ncolumn = \"{}\"\nas = \"activity_type\"\n", col(Role::Activity));
    let _ = writeln!(t, "[[passthrough]]\ncolumn = \"{}\"\nas = \"cost\"\ntype = \"float\"\n", col(Role::Cost));
    for (name, role) in &spec.columns {
        if let Role::Condition(k) = role {
            let _ = writeln!(
                t,
                "[[passthrough]]\ncolumn = \"{name}\"\nas = \"ltc_{}\"\ntype = \"boolean\"\n",
                CONDITIONS[*k].0
            );
        }
    }
    t
}
