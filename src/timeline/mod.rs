//! `timeline`: every extract's activity joined to the persons `link` found, as one cross-sector
//! event table sorted by person and date, with the population views built from it.
//!
//! Two passes with bounded memory:
//!
//! 1. Each extract is streamed batch by batch. Every record is found in the linkage by source and
//!    row number (checking its record id), mapped onto the event schema ([`events`], mapping in
//!    [`mapping`]), and appended to one of a few spill files by its person's rank, so that each
//!    spill file holds a contiguous range of persons. Spill files live in a hidden folder inside
//!    the output folder and are removed at the end, also on failure.
//! 2. Each spill file in turn is sorted by person and date and appended to `timeline.parquet`;
//!    persons are summarised as their events go past ([`population`]).
//!
//! Every input record becomes exactly one event. Events with a missing or impossible date are
//! kept, flagged in `date_status`, counted in the summary, and left out of per-year figures.
//! Nothing is presented as complete until every output is written: each file is written under a
//! temporary name and renamed, and `timeline_summary.json` comes last.

pub mod disclosure;
pub mod events;
pub mod mapping;
pub mod output;
pub mod persons;
pub mod population;

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{Date32Builder, Float64Builder, StringBuilder, UInt32Builder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    UInt32Array, UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::config::FieldType;
use crate::error::{Error, Result};
use crate::io::manifest::Manifest;
use crate::io::schema::{Encoding, RECORD_ID};
use events::{DateStatus, date_of};
use mapping::{Resolved, SettingFrom, TimelineConfig};
use persons::{Persons, id_hash};

/// Events per spill file: bounds the memory of the sort in the second pass.
pub const SPILL_EVENTS: u64 = 4_000_000;

/// Options of a timeline run.
#[derive(Debug, Clone)]
pub struct TimelineOptions {
    /// Mapping and disclosure settings.
    pub config: TimelineConfig,
    /// Dates after this are impossible (the day the extracts were taken). `None`: no date is
    /// too late, so that the same inputs give the same outputs whatever day they are run.
    pub as_of: Option<NaiveDate>,
}

/// What a timeline run did, written as `timeline_summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineSummary {
    /// Linkage folder.
    pub links: String,
    /// Events per source.
    pub events_in: std::collections::BTreeMap<String, u64>,
    /// Events out (equal to the records in).
    pub events: u64,
    /// Persons in the linkage.
    pub persons: u64,
    /// Events without a date.
    pub date_missing: u64,
    /// Events with an impossible date.
    pub date_impossible: u64,
    /// Financial years the data covers.
    pub financial_years: Vec<String>,
    /// Long-term conditions flagged by any extract.
    pub conditions: Vec<String>,
    /// The as-of date (`YYYY-MM-DD`): `--as-of`, else the data's latest activity date (null when
    /// no event has a usable date).
    pub as_of: Option<String>,
    /// Where `as_of` came from: `--as-of` or `the latest activity date`.
    pub as_of_from: String,
    /// The disclosure rule applied to published tables.
    pub disclosure: disclosure::DisclosureRule,
    /// Seconds per stage.
    pub timings: Vec<(String, f64)>,
}

/// One extract, checked and resolved.
struct Extract {
    path: PathBuf,
    source: String,
    map: Resolved,
    year_of_birth: Option<String>,
    sex: Option<String>,
    rows: u64,
}

/// The spill schema: the event schema's content with the person's rank and the person-level
/// columns the second pass needs.
fn spill_schema(conditions: &[String]) -> SchemaRef {
    let mut f = vec![
        Field::new("rank", DataType::UInt32, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("record_id", DataType::Utf8, false),
        Field::new("row_number", DataType::UInt64, false),
        Field::new("setting", DataType::Utf8, true),
        Field::new("event_date", DataType::Date32, true),
        Field::new("date_status", DataType::Utf8, false),
        Field::new("activity_type", DataType::Utf8, true),
        Field::new("cost", DataType::Float64, true),
        Field::new("year_of_birth", DataType::Int32, true),
        Field::new("sex", DataType::Utf8, true),
    ];
    f.extend(conditions.iter().map(|c| Field::new(format!("ltc_{c}"), DataType::Boolean, true)));
    Arc::new(Schema::new(f))
}

/// Spill files, removed when dropped.
struct Spill {
    dir: PathBuf,
    writers: Vec<Option<ArrowWriter<File>>>,
    paths: Vec<PathBuf>,
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Builds the timeline of `extracts` linked in `links` into `out`.
pub fn timeline(
    links: &Path,
    extracts: &[PathBuf],
    out: &Path,
    options: &TimelineOptions,
    log: &dyn Fn(&str),
) -> Result<TimelineSummary> {
    let start = std::time::Instant::now();
    let mut timings = Vec::new();
    if extracts.is_empty() {
        return Err(Error::usage("give the pseudonymised extracts that were linked"));
    }
    let persons = Persons::read(links)?;
    let extracts = resolve_extracts(links, extracts, &persons, &options.config)?;
    let conditions: Vec<String> = extracts
        .iter()
        .flat_map(|e| e.map.conditions.iter().map(|(c, _)| c.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let total: u64 = extracts.iter().map(|e| e.rows).sum();
    let buckets = total.div_ceil(SPILL_EVENTS).max(1) as usize;
    let mut read: Vec<PathBuf> = crate::io::outputs::files_in(links);
    read.extend(extracts.iter().map(|e| e.path.clone()));
    let inputs: Vec<crate::io::outputs::Input<'_>> =
        read.iter().map(|p| crate::io::outputs::Input { path: p, what: "an input of this run" }).collect();
    let written: Vec<PathBuf> = output::FILES.iter().map(|f| out.join(f)).collect();
    crate::io::outputs::check(&written.iter().map(PathBuf::as_path).collect::<Vec<_>>(), &inputs)?;
    crate::io::atomic::create_output_dir(out)?;
    let summary_path = out.join("timeline_summary.json");
    crate::io::atomic::remove_stale(&summary_path)?;
    // Spill files: a private folder under an unpredictable name, created exclusively.
    let dir = crate::io::atomic::temp_name(out, "spill");
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&dir).map_err(|e| Error::io("creating folder", &dir, e))?;
    let mut spill = Spill {
        writers: (0..buckets).map(|_| None).collect(),
        paths: (0..buckets).map(|b| dir.join(format!("{b}.parquet"))).collect(),
        dir,
    };
    let schema = spill_schema(&conditions);
    let mut persons = persons;
    let n_persons = persons.ids.len().max(1) as u64;
    let mut stats = PassOne::default();
    for e in &extracts {
        log(&format!("reading {} ({} records)", e.path.display(), e.rows));
        pass_one(e, &mut persons, &conditions, &schema, options.as_of, buckets, n_persons, &mut spill, &mut stats)?;
    }
    for (source, rows) in &persons.sources {
        let seen = rows.seen.iter().filter(|&&s| s).count() as u64;
        if seen != rows.records {
            return Err(Error::usage(format!(
                "the linkage in {} holds {} records of source `{source}` that no extract given holds; give every \
                 extract that was linked",
                links.display(),
                rows.records - seen
            )));
        }
    }
    for w in spill.writers.iter_mut().flatten() {
        w.flush().map_err(|e| Error::output(&spill.dir, e.to_string()))?;
    }
    let writers: Vec<Option<ArrowWriter<File>>> = spill.writers.drain(..).collect();
    for w in writers.into_iter().flatten() {
        w.close().map_err(|e| Error::output(&spill.dir, e.to_string()))?;
    }
    timings.push(("join_and_spill".to_string(), start.elapsed().as_secs_f64()));
    let years: Vec<i32> = match (stats.min_fy, stats.max_fy) {
        (Some(a), Some(b)) => (a..=b).collect(),
        _ => Vec::new(),
    };
    let rule = options.config.disclosure.unwrap_or_default();
    let t = std::time::Instant::now();
    output::write(&persons.ids, &spill.paths, &conditions, &years, rule, out, log)?;
    timings.push(("sort_and_summarise".to_string(), t.elapsed().as_secs_f64()));
    let summary = TimelineSummary {
        links: links.display().to_string(),
        events_in: extracts.iter().map(|e| (e.source.clone(), e.rows)).collect(),
        events: stats.events,
        persons: persons.ids.len() as u64,
        date_missing: stats.missing,
        date_impossible: stats.impossible,
        financial_years: years.iter().map(|&y| events::financial_year_label(y)).collect(),
        conditions,
        // Without --as-of, the data's own latest activity date: the outputs depend on the inputs
        // only, never on the day the command ran.
        as_of: options.as_of.or_else(|| stats.latest.and_then(date_of)).map(|d| d.to_string()),
        as_of_from: if options.as_of.is_some() { "--as-of" } else { "the latest activity date" }.to_string(),
        disclosure: rule,
        timings,
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    crate::io::atomic::write_atomic(&summary_path, json.as_bytes())?;
    Ok(summary)
}

fn resolve_extracts(links: &Path, files: &[PathBuf], persons: &Persons, cfg: &TimelineConfig) -> Result<Vec<Extract>> {
    let mut out: Vec<Extract> = Vec::new();
    for f in files {
        let (m, _) = Manifest::read(f)?;
        if out.iter().any(|e| e.source == m.source) {
            return Err(Error::usage(format!(
                "two extracts have source `{}`; give each linked extract once",
                m.source
            )));
        }
        let Some(rows) = persons.sources.get(&m.source) else {
            return Err(Error::manifest(
                f,
                format!(
                    "has source `{}`, which the linkage in {} does not hold: these links come from a different set of \
                     extracts. Link this extract with the others first",
                    m.source,
                    links.display()
                ),
            ));
        };
        if rows.records != m.rows.written {
            return Err(Error::manifest(
                f,
                format!(
                    "holds {} records but the linkage in {} holds {} of source `{}`: these links come from a different \
                     version of the extract. Link again",
                    m.rows.written,
                    links.display(),
                    rows.records,
                    m.source
                ),
            ));
        }
        let file = File::open(f).map_err(|e| Error::io("opening", f, e))?;
        let builder = crate::io::parquet::reader_builder(file)
            .map_err(|_| Error::manifest(f, "is not a readable Parquet file (it may be truncated or damaged)"))?;
        let map = mapping::resolve(f, &m.source, cfg.sources.get(&m.source), builder.schema())?;
        let column = |kind: FieldType, enc: Encoding| {
            m.fields
                .iter()
                .filter(|x| x.kind == kind)
                .flat_map(|x| x.columns.iter())
                .find(|c| c.encoding == enc)
                .map(|c| c.name.clone())
                .filter(|c| builder.schema().column_with_name(c).is_some())
        };
        out.push(Extract {
            path: f.clone(),
            source: m.source.clone(),
            map,
            year_of_birth: column(FieldType::DateOfBirth, Encoding::Year),
            sex: column(FieldType::Sex, Encoding::Plain),
            rows: m.rows.written,
        });
    }
    Ok(out)
}

#[derive(Default)]
struct PassOne {
    events: u64,
    missing: u64,
    impossible: u64,
    min_fy: Option<i32>,
    max_fy: Option<i32>,
    /// The latest usable event date (days since the epoch).
    latest: Option<i32>,
}

fn text_col<'a>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::manifest(path, format!("column `{name}` is missing or not text")))
}

#[allow(clippy::too_many_arguments)]
fn pass_one(
    e: &Extract,
    persons: &mut Persons,
    conditions: &[String],
    schema: &SchemaRef,
    as_of: Option<NaiveDate>,
    buckets: usize,
    n_persons: u64,
    spill: &mut Spill,
    stats: &mut PassOne,
) -> Result<()> {
    let path = &e.path;
    let file = File::open(path).map_err(|err| Error::io("opening", path, err))?;
    let reader = crate::io::parquet::reader_builder(file)
        .map_err(|_| Error::manifest(path, "is not a readable Parquet file"))?
        .with_batch_size(65_536)
        .build()
        .map_err(|_| Error::manifest(path, "could not be read"))?;
    let rows_of = persons.sources.get_mut(&e.source).expect("checked when resolving");
    let as_of_days = as_of.map_or(i32::MAX, events::days_of);
    let min_days = events::days_of(NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date"));
    let mut next_row = 1u64;
    for batch in crate::io::parquet::Guarded(reader) {
        let batch =
            batch.map_err(|_| Error::manifest(path, "could not be decoded (it may be truncated or damaged)"))?;
        let n = batch.num_rows();
        let ids = text_col(&batch, RECORD_ID, path)?;
        // Records are joined to the linkage by their 1-based row in this extract.
        let first_row = next_row;
        next_row += n as u64;
        let dates = batch
            .column_by_name(&e.map.date)
            .and_then(|c| c.as_any().downcast_ref::<Date32Array>())
            .ok_or_else(|| Error::manifest(path, format!("column `{}` is not a date column", e.map.date)))?;
        let yob = e
            .year_of_birth
            .as_ref()
            .and_then(|c| batch.column_by_name(c))
            .and_then(|c| c.as_any().downcast_ref::<Int32Array>().cloned());
        let mut rank = UInt32Builder::with_capacity(n);
        let mut status = StringBuilder::new();
        let mut date_out = Date32Builder::with_capacity(n);
        for i in 0..n {
            let row = (first_row + i as u64) as usize;
            let p = rows_of.person.get(row).copied().unwrap_or(u32::MAX);
            if p == u32::MAX || rows_of.id_hash[row] != id_hash(ids.value(i)) || rows_of.seen[row] {
                return Err(Error::manifest(
                    path,
                    format!(
                        "row {row}'s record is not in the linkage (or not as linked): these links come from a different \
                         set of extracts. Link again with this extract"
                    ),
                ));
            }
            rows_of.seen[row] = true;
            rank.append_value(p);
            let st = if dates.is_null(i) {
                stats.missing += 1;
                DateStatus::Missing
            } else {
                let d = dates.value(i);
                let born = yob.as_ref().filter(|y| y.is_valid(i)).map(|y| y.value(i));
                let before_birth = born.is_some_and(|b| date_of(d).is_some_and(|d| chrono::Datelike::year(&d) < b));
                if d < min_days || d > as_of_days || before_birth {
                    stats.impossible += 1;
                    DateStatus::Impossible
                } else {
                    if let Some(fy) = date_of(d).map(events::financial_year) {
                        stats.min_fy = Some(stats.min_fy.map_or(fy, |m| m.min(fy)));
                        stats.max_fy = Some(stats.max_fy.map_or(fy, |m| m.max(fy)));
                        stats.latest = Some(stats.latest.map_or(d, |m| m.max(d)));
                    }
                    DateStatus::Ok
                }
            };
            if dates.is_null(i) {
                date_out.append_null();
            } else {
                date_out.append_value(dates.value(i));
            }
            status.append_value(st.as_str());
        }
        stats.events += n as u64;
        let rank = rank.finish();
        let setting: ArrayRef = match &e.map.setting {
            SettingFrom::Value(v) => Arc::new(StringArray::from(vec![v.as_str(); n])),
            SettingFrom::Column(c) => Arc::new(text_col(&batch, c, path)?.clone()),
        };
        let opt_text = |c: &Option<String>| -> Result<ArrayRef> {
            Ok(match c {
                Some(c) => Arc::new(text_col(&batch, c, path)?.clone()),
                None => Arc::new(StringArray::new_null(n)),
            })
        };
        let cost: ArrayRef = match e.map.cost.as_ref().and_then(|c| batch.column_by_name(c)) {
            None => Arc::new(Float64Array::new_null(n)),
            Some(c) => match c.as_any().downcast_ref::<Float64Array>() {
                Some(f) => Arc::new(f.clone()),
                None => {
                    let ints = c.as_any().downcast_ref::<Int64Array>().expect("resolved as float or integer");
                    let mut b = Float64Builder::with_capacity(n);
                    for i in 0..n {
                        if ints.is_valid(i) { b.append_value(ints.value(i) as f64) } else { b.append_null() }
                    }
                    Arc::new(b.finish())
                }
            },
        };
        let yob_col: ArrayRef = match yob {
            Some(y) => Arc::new(y),
            None => Arc::new(Int32Array::new_null(n)),
        };
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(rank.clone()),
            Arc::new(StringArray::from(vec![e.source.as_str(); n])),
            Arc::new(ids.clone()),
            Arc::new(UInt64Array::from_iter_values(first_row..first_row + n as u64)),
            setting,
            Arc::new(date_out.finish()),
            Arc::new(status.finish()),
            opt_text(&e.map.activity_type)?,
            cost,
            yob_col,
            opt_text(&e.sex)?,
        ];
        for c in conditions {
            let col =
                e.map.conditions.iter().find(|(name, _)| name == c).and_then(|(_, col)| batch.column_by_name(col));
            cols.push(match col.and_then(|a| a.as_any().downcast_ref::<BooleanArray>()) {
                Some(b) => Arc::new(b.clone()),
                None => Arc::new(BooleanArray::new_null(n)),
            });
        }
        let spilled =
            RecordBatch::try_new(schema.clone(), cols).map_err(|err| Error::output(&spill.dir, err.to_string()))?;
        write_buckets(spill, spilled, &rank, buckets, n_persons, schema)?;
    }
    Ok(())
}

fn write_buckets(
    spill: &mut Spill,
    batch: RecordBatch,
    rank: &UInt32Array,
    buckets: usize,
    n_persons: u64,
    schema: &SchemaRef,
) -> Result<()> {
    let bucket_of = |r: u32| ((r as u64 * buckets as u64) / n_persons) as usize;
    let mut idx: Vec<Vec<u32>> = vec![Vec::new(); buckets];
    for i in 0..rank.len() {
        idx[bucket_of(rank.value(i)).min(buckets - 1)].push(i as u32);
    }
    for (b, rows) in idx.into_iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let part = if buckets == 1 {
            batch.clone()
        } else {
            arrow_select::take::take_record_batch(&batch, &UInt32Array::from(rows))
                .map_err(|e| Error::output(&spill.dir, e.to_string()))?
        };
        if spill.writers[b].is_none() {
            let f = crate::io::atomic::create_private(&spill.paths[b])
                .map_err(|e| Error::io("creating", &spill.paths[b], e))?;
            let props = WriterProperties::builder().set_max_row_group_row_count(Some(65_536)).build();
            let w = ArrowWriter::try_new(f, schema.clone(), Some(props))
                .map_err(|e| Error::output(&spill.paths[b], e.to_string()))?;
            spill.writers[b] = Some(w);
        }
        let w = spill.writers[b].as_mut().expect("just created");
        w.write(&part).map_err(|e| Error::output(&spill.paths[b], e.to_string()))?;
    }
    Ok(())
}
