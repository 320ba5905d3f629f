//! `tokenise`: a provider's plaintext extract in, a pseudonymised Parquet extract out.
//!
//! The pipeline streams: a reader thread parses the input into batches, the calling thread
//! tokenises each batch in fixed-size chunks across all cores, and a writer thread encodes
//! Parquet. Bounded channels between them keep at most a few batches in memory whatever the
//! input's size. Rows are written in a keyed pseudo-random order ([`shuffle`]), never the
//! input's. The output is written under a temporary name and renamed when complete; on any
//! error nothing is left at the output path.

mod duplicates;
mod in_memory;
mod kernel;
mod plan;
pub mod quality;
pub mod registrations;
mod shuffle;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use rayon::prelude::*;
use zeroize::Zeroize;

pub use in_memory::{Tokenised, tokenise_arrow};
pub use kernel::{Counts, FieldCounts};

use crate::config::{FieldType, InputFormat, TokeniseConfig};
use crate::encode::NORMALISATION_VERSION;
use crate::error::{Error, Location, Result};
use crate::io::atomic::AtomicFile;
use crate::io::csv::CsvSource;
use crate::io::manifest::{FORMAT_NAME, FORMAT_VERSION, MANIFEST_KEY, Manifest, RowCounts};
use crate::io::parquet::{ParquetSource, writer_properties};
use crate::io::{BatchSource, DEFAULT_BATCH_ROWS};
use crate::token::ProjectKey;
use crate::tokenise::quality::{FieldQuality, NhsQuality, QualityReport, REPORT_NAME, nhs_statuses};
use plan::Plan;

/// Rows per parallel work unit. Fixed, so output bytes do not depend on the thread count.
pub const CHUNK_ROWS: usize = 4_096;

/// A progress callback: rows done, and the source's own progress (done, total).
pub type ProgressFn<'a> = &'a (dyn Fn(u64, u64, Option<u64>) + Sync);

/// Options for a tokenise run.
#[derive(Clone, Copy)]
pub struct TokeniseOptions<'a> {
    /// Rows per input batch.
    pub batch_rows: usize,
    /// Called after each batch.
    pub progress: Option<ProgressFn<'a>>,
}

impl Default for TokeniseOptions<'_> {
    fn default() -> Self {
        TokeniseOptions { batch_rows: DEFAULT_BATCH_ROWS, progress: None }
    }
}

impl std::fmt::Debug for TokeniseOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokeniseOptions").field("batch_rows", &self.batch_rows).finish()
    }
}

/// Most rows listed in a run's issues (the rest are counted in the quality report only).
pub const MAX_ISSUES_LISTED: usize = 1_000_000;

/// A row with an unusable value, for the provider to fix at source: where and why, never the
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRow {
    /// 1-based data row of the input.
    pub row: u64,
    /// The input column.
    pub column: String,
    /// Why: an NHS-number status (`bad_check_digit`, `scientific_notation` …) or `unusable_<type>`
    /// (`unusable_date`, `unusable_amount` …), `too_long`, or
    /// `likely_duplicate_registration`.
    pub reason: &'static str,
    /// The other row of a likely duplicate registration (the first row of the other profile).
    pub related_row: Option<u64>,
}

/// What a tokenise run did.
#[derive(Debug, Clone)]
pub struct TokeniseSummary {
    /// The data-quality report.
    pub report: QualityReport,
    /// Rows with unusable values, in row order (at most [`MAX_ISSUES_LISTED`]).
    pub issues: Vec<IssueRow>,
    /// Rows with unusable values beyond those listed.
    pub issues_not_listed: u64,
    /// The manifest embedded in the output.
    pub manifest: Manifest,
    /// Wall time.
    pub elapsed: Duration,
}

/// Tokenises `input` into `output` under `config` and `key`.
///
/// ```no_run
/// use pseudolink::{ProjectKey, config::TokeniseConfig, tokenise::{tokenise, TokeniseOptions}};
/// let config = TokeniseConfig::read("acute.toml".as_ref())?;
/// let key = ProjectKey::read_file("project.key".as_ref())?;
/// let done = tokenise(&config, &key, "acute.csv".as_ref(), "acute.parquet".as_ref(), &TokeniseOptions::default())?;
/// println!("{} rows", done.report.rows_written);
/// # Ok::<(), pseudolink::Error>(())
/// ```
pub fn tokenise(
    config: &TokeniseConfig,
    key: &ProjectKey,
    input: &Path,
    output: &Path,
    options: &TokeniseOptions<'_>,
) -> Result<TokeniseSummary> {
    let started = Instant::now();
    crate::io::outputs::check(&[output], &[crate::io::outputs::Input { path: input, what: "the input extract" }])?;
    let format = config.input_format(input)?;
    let mut source: Box<dyn BatchSource> = match format {
        InputFormat::Csv => Box::new(CsvSource::open(input, &config.input, options.batch_rows)?),
        InputFormat::Parquet => Box::new(ParquetSource::open(input, options.batch_rows)?),
    };
    // Rows expected, for sizing the keyed shuffle: a CSV row is rarely under 64 bytes.
    let size = source.progress().1.unwrap_or(0);
    let expected_rows = if format == InputFormat::Csv { size / 64 } else { size };
    let mut plan = Plan::new(config, source.header(), key, input)?;
    source.select(&plan.selected);
    // The `resistant` profile reads the input twice: names are counted before any is tokenised.
    // A pipe cannot be read twice, and a file that changes between the readings would be
    // tokenised against counts of other rows: both are refused.
    let counted_rows = if plan.name_bands.iter().any(Option::is_some) {
        if !std::fs::metadata(input).is_ok_and(|m| m.is_file()) {
            return Err(Error::usage(format!(
                "{}: `profile = \"resistant\"` reads the input twice (name frequencies are counted first); give a \
                 regular file, not a pipe or a device",
                input.display()
            )));
        }
        let mut counting: Box<dyn BatchSource> = match format {
            InputFormat::Csv => Box::new(CsvSource::open(input, &config.input, options.batch_rows)?),
            InputFormat::Parquet => Box::new(ParquetSource::open(input, options.batch_rows)?),
        };
        counting.select(&plan.selected);
        Some(count_name_bands(&mut plan, counting.as_mut())?)
    } else {
        None
    };

    let out = AtomicFile::create(output)?;
    let mut shuffle = shuffle::Shuffle::new(plan.schema.clone(), output, expected_rows);
    let file = out.try_clone_file()?;
    let writer = ArrowWriter::try_new(file, plan.schema.clone(), Some(writer_properties()))
        .map_err(|e| Error::output(output, e.to_string()))?;

    let mut totals = Counts::for_plan(&plan);
    let source_done = AtomicU64::new(0);
    let source_total = AtomicU64::new(u64::MAX);

    let mut blank_rows = 0u64;
    let mut record_ids = duplicates::DuplicateIds::default();
    let mut registrations = registrations::Registrations::default();
    let mut issues: Vec<kernel::Issue> = Vec::new();
    let mut issues_not_listed = 0u64;
    let result: Result<()> = std::thread::scope(|scope| {
        let (in_tx, in_rx) = sync_channel(2);
        let (source_done, source_total) = (&source_done, &source_total);
        let reader = scope.spawn(move || {
            loop {
                let next = source.next_batch();
                let (done, total) = source.progress();
                source_done.store(done, Ordering::Relaxed);
                source_total.store(total.unwrap_or(u64::MAX), Ordering::Relaxed);
                let stop = !matches!(next, Ok(Some(_)));
                if in_tx.send(next).is_err() || stop {
                    break;
                }
            }
            source.blank_rows_skipped()
        });
        let (out_tx, out_rx) = sync_channel::<Vec<kernel::Chunk>>(2);
        let shuffle = &mut shuffle;
        let writer_thread = scope.spawn(move || -> Result<()> {
            for chunks in out_rx {
                for c in chunks {
                    shuffle.push(&c.batch, c.order)?;
                }
            }
            Ok(())
        });
        let mut failure = None;
        for next in in_rx {
            let batch = match next {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            let chunks = tokenise_batch(&plan, &batch, batch.num_rows(), input);
            let mut batches = Vec::with_capacity(chunks.len());
            for c in chunks {
                match c {
                    Ok(ChunkOut { chunk: mut c, ids, people }) => {
                        totals.add(&c.counts);
                        record_ids.extend(ids);
                        registrations.extend(people);
                        let room = MAX_ISSUES_LISTED.saturating_sub(issues.len());
                        issues_not_listed += c.issues.len().saturating_sub(room) as u64;
                        issues.extend(c.issues.drain(..).take(room));
                        batches.push(c);
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if failure.is_some() || out_tx.send(batches).is_err() {
                break;
            }
            if let Some(progress) = options.progress {
                let total = source_total.load(Ordering::Relaxed);
                progress(totals.rows, source_done.load(Ordering::Relaxed), (total != u64::MAX).then_some(total));
            }
        }
        drop(out_tx);
        blank_rows = reader.join().unwrap_or(0);
        let written =
            writer_thread.join().map_err(|_| Error::output(output, "the writer thread failed".to_string()))?;
        match failure {
            Some(e) => Err(e),
            None => written,
        }
    });
    result?;
    if counted_rows.is_some_and(|n| n != totals.rows) {
        return Err(Error::input(
            Location::file(input),
            "changed while it was read (its rows were counted for name frequencies, then read again); tokenise a \
             copy that nothing else writes to",
        ));
    }
    record_ids.check(input, &config.record_id.column)?;
    let found = registrations.find();
    let mut writer = writer;
    shuffle.finish(&mut writer, output)?;

    let manifest = manifest(config, key, &plan, totals.rows);
    writer.append_key_value_metadata(KeyValue::new(MANIFEST_KEY.to_string(), manifest.to_json()));
    writer.close().map_err(|e| Error::output(output, e.to_string()))?;
    out.commit()?;

    let mut report = quality_report(config, key, input, output, &plan, &totals);
    report.blank_rows_skipped = blank_rows;
    report.duplicate_registrations = registrations::summary(&plan, &found);
    issues.sort_unstable();
    let names: Vec<&str> = plan
        .fields
        .iter()
        .map(|f| f.column.as_str())
        .chain(plan.passthrough.iter().map(|p| p.column.as_str()))
        .collect();
    let issues = issues
        .into_iter()
        .map(|i| IssueRow {
            row: i.row,
            column: names[i.column as usize].to_string(),
            reason: i.reason,
            related_row: None,
        })
        .collect::<Vec<_>>();
    // Likely duplicate registrations, each by its later row with the earlier as related.
    let room = MAX_ISSUES_LISTED.saturating_sub(issues.len());
    issues_not_listed += found.pairs.len().saturating_sub(room) as u64;
    if let Some(d) = report.duplicate_registrations.as_mut() {
        d.pairs_listed = d.pairs.min(room as u64);
    }
    let mut issues = issues;
    issues.extend(found.pairs.iter().take(room).map(|&(earlier, later)| IssueRow {
        row: later,
        column: config.record_id.column.clone(),
        reason: registrations::REASON,
        related_row: Some(earlier),
    }));
    issues.sort_by_key(|i| (i.row, i.related_row.is_some()));
    Ok(TokeniseSummary { report, issues, issues_not_listed, manifest, elapsed: started.elapsed() })
}

/// Checks `input` against `config` without writing anything: the config is matched against the
/// file's columns, and the first `max_rows` rows (all when `None`) are read and tokenised in
/// memory exactly as [`tokenise`] would, so that every row-level error (an empty or duplicate
/// record id, an undecodable row) shows up now, and the quality report's counts are those of
/// the rows read. With no key (`key` `None`) a throwaway key is used: statuses and counts do not
/// depend on the key.
pub fn check(
    config: &TokeniseConfig,
    key: Option<&ProjectKey>,
    input: &Path,
    max_rows: Option<u64>,
) -> Result<QualityReport> {
    let throwaway;
    let given = key.is_some();
    let key = match key {
        Some(k) => k,
        None => {
            throwaway = ProjectKey::generate()?;
            &throwaway
        }
    };
    let format = config.input_format(input)?;
    let open = || -> Result<Box<dyn BatchSource>> {
        Ok(match format {
            InputFormat::Csv => Box::new(CsvSource::open(input, &config.input, DEFAULT_BATCH_ROWS)?),
            InputFormat::Parquet => Box::new(ParquetSource::open(input, DEFAULT_BATCH_ROWS)?),
        })
    };
    let mut source = open()?;
    let mut plan = Plan::new(config, source.header(), key, input)?;
    source.select(&plan.selected);
    if plan.name_bands.iter().any(Option::is_some) {
        let mut counting = open()?;
        counting.select(&plan.selected);
        count_name_bands(&mut plan, counting.as_mut())?;
    }
    let mut totals = Counts::for_plan(&plan);
    let mut record_ids = duplicates::DuplicateIds::default();
    let mut registrations = registrations::Registrations::default();
    let limit = max_rows.unwrap_or(u64::MAX);
    while totals.rows < limit {
        let Some(batch) = source.next_batch()? else { break };
        let n = batch.num_rows().min((limit - totals.rows) as usize);
        for c in tokenise_batch(&plan, &batch, n, input) {
            let c = c?;
            record_ids.extend(c.ids);
            registrations.extend(c.people);
            totals.add(&c.chunk.counts);
        }
    }
    record_ids.check(input, &config.record_id.column)?;
    let found = registrations.find();
    let mut report = quality_report(config, key, input, Path::new("(none: a check writes nothing)"), &plan, &totals);
    report.blank_rows_skipped = source.blank_rows_skipped();
    report.duplicate_registrations = registrations::summary(&plan, &found);
    // A check writes no issues file: the pairs are counted, none listed.
    if let Some(d) = report.duplicate_registrations.as_mut() {
        d.pairs_listed = 0;
    }
    report.rows_written = 0;
    if !given {
        report.key_id = "(none given: a throwaway key; counts do not depend on the key)".into();
    }
    Ok(report)
}

/// A tokenised chunk with what the run-wide checks need of it.
pub(crate) struct ChunkOut {
    pub chunk: kernel::Chunk,
    /// Its record-id digests (duplicate record ids).
    pub ids: duplicates::Digests,
    /// Its rows as the duplicate-registration check reads them.
    pub people: registrations::ChunkRows,
}

/// Tokenises the first `rows` rows of `batch` in fixed-size chunks across all cores (fixed, so
/// output bytes do not depend on the thread count); each chunk with its record-id digests and
/// the rows the duplicate-registration check reads.
pub(crate) fn tokenise_batch(
    plan: &Plan,
    batch: &crate::io::InputBatch,
    rows: usize,
    input: &Path,
) -> Vec<Result<ChunkOut>> {
    let fields = registrations::Fields::of(plan);
    (0..rows.div_ceil(CHUNK_ROWS))
        .into_par_iter()
        .map(|c| {
            let (start, end) = (c * CHUNK_ROWS, ((c + 1) * CHUNK_ROWS).min(rows));
            let chunk = kernel::tokenise_chunk(plan, batch, start, end, input)?;
            let ids = duplicates::digests(&chunk.batch, batch.first_row + start as u64);
            let people = fields.map(|f| registrations::chunk_rows(plan, f, batch, start, end)).unwrap_or_default();
            Ok(ChunkOut { chunk, ids, people })
        })
        .collect()
}

/// The manifest of an extract of `rows` rows tokenised under `plan`.
fn manifest(config: &TokeniseConfig, key: &ProjectKey, plan: &Plan, rows: u64) -> Manifest {
    Manifest {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        normalisation_version: NORMALISATION_VERSION,
        key_id: key.id().to_string(),
        source: config.source.clone(),
        config_sha256: config.digest.clone(),
        record_id_mode: config.record_id.mode,
        fields: plan.manifest_fields.clone(),
        passthrough: plan.manifest_passthrough.clone(),
        bloom: config.bloom.clone(),
        rows: RowCounts { read: rows, written: rows },
        tre_key_id: None,
    }
}

/// The `resistant` profile's first pass: counts each banded name field's normalised names over
/// the whole input, then fixes their frequency bands (`encode::band`); returns the rows read.
fn count_name_bands(plan: &mut Plan, source: &mut dyn BatchSource) -> Result<u64> {
    let mut rows = 0u64;
    let (mut text, mut parts) = (String::new(), Vec::new());
    let inputs: Vec<(usize, usize)> = plan
        .name_bands
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_some())
        .map(|(i, _)| (i, plan.fields[i].input))
        .collect();
    while let Some(batch) = source.next_batch()? {
        rows += batch.num_rows() as u64;
        for &(field, input) in &inputs {
            let column = &batch.columns[input];
            let Some(counts) = plan.name_bands[field].as_mut() else { continue };
            for r in 0..batch.num_rows() {
                let raw = if arrow_array::Array::is_null(column, r) { "" } else { column.value(r) };
                if crate::encode::name::normalise_name(raw, &mut text, &mut parts) == crate::encode::Outcome::Value {
                    counts.add(&text);
                }
            }
        }
    }
    text.zeroize();
    for counts in plan.name_bands.iter_mut().flatten() {
        counts.finish();
    }
    Ok(rows)
}

fn quality_report(
    config: &TokeniseConfig,
    key: &ProjectKey,
    input: &Path,
    output: &Path,
    plan: &Plan,
    totals: &Counts,
) -> QualityReport {
    let mut nhs_number = None;
    let mut fields = Vec::new();
    for (f, c) in plan.fields.iter().zip(&totals.fields) {
        if f.kind == FieldType::NhsNumber {
            nhs_number = Some(NhsQuality { column: f.column.clone(), statuses: nhs_statuses(&c.nhs) });
        }
        fields.push(FieldQuality::new(&f.name, &f.column, f.kind.as_str(), c.present, c.missing, c.invalid));
    }
    let passthrough = plan
        .passthrough
        .iter()
        .zip(&totals.passthrough)
        .map(|(p, c)| FieldQuality::new(&p.name, &p.column, p.kind.as_str(), c.present, c.missing, c.invalid))
        .collect();
    QualityReport {
        report: REPORT_NAME.into(),
        version: 1,
        source: config.source.clone(),
        key_id: key.id().to_string(),
        config_sha256: config.digest.clone(),
        input: input.display().to_string(),
        output: output.display().to_string(),
        rows_read: totals.rows,
        rows_written: totals.rows,
        blank_rows_skipped: 0,
        nhs_number,
        fields,
        passthrough,
        hmac_evaluations: totals.macs(),
        duplicate_registrations: None,
    }
}
