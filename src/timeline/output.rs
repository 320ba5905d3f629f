//! The timeline folder: the second pass (sort each spill file, write events, summarise persons)
//! and the population tables.
//!
//! - `timeline.parquet`: every event, sorted by person, date (missing dates last), source and
//!   input row.
//! - `persons.parquet` and `persons.csv`: one row per person (see [`population`]).
//! - `person_years.parquet`: activity and spend per person, financial year and setting group.
//! - `segments.parquet` and `segments.csv`: the segmentation table, exact — for use inside the
//!   TRE only.
//! - `segments_published.parquet` and `segments_published.csv`: the same table with disclosure
//!   control applied ([`disclosure`]) — the version that may leave the TRE.
//! - `segments_by_year.*` and `segments_by_year_published.*`: the same table for each financial
//!   year (spend and activity in that year; persons segmented as in the overall table), exact and
//!   published. A yearly figure is published only where the overall figure and every other year's
//!   are too, so no suppressed figure comes back as the overall mean minus the other years.
//! - `timeline_summary.json`, last.

/// Every file a timeline run writes into its folder (besides `timeline_summary.json`, written
/// last), so a run can check before it starts that none of them is one of its inputs.
pub(crate) const FILES: [&str; 13] = [
    "timeline.parquet",
    "persons.parquet",
    "persons.csv",
    "person_years.parquet",
    "segments.parquet",
    "segments.csv",
    "segments_published.parquet",
    "segments_published.csv",
    "segments_by_year.parquet",
    "segments_by_year.csv",
    "segments_by_year_published.parquet",
    "segments_by_year_published.csv",
    "timeline_summary.json",
];

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int32Builder, StringBuilder, UInt64Builder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int32Array, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::io::atomic::AtomicFile;
use crate::io::parquet::ParquetOut;
use crate::timeline::disclosure::DisclosureRule;
use crate::timeline::events::{self, SETTING_GROUPS, date_of, financial_year, setting_group};
use crate::timeline::population::{AGE_GROUPS, COMPLEXITY, PersonRow, Segmentation, age_group, complexity};

fn persons_schema(conditions: &[String]) -> SchemaRef {
    let mut f = vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("year_of_birth", DataType::Int32, true),
        Field::new("age", DataType::Int32, true),
        Field::new("age_group", DataType::Utf8, false),
        Field::new("sex", DataType::Utf8, true),
        Field::new("sources", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
        Field::new("events", DataType::UInt64, false),
        Field::new("conditions", DataType::UInt64, false),
        Field::new("complexity", DataType::Utf8, false),
    ];
    f.extend(conditions.iter().map(|c| Field::new(format!("ltc_{c}"), DataType::Boolean, false)));
    f.push(Field::new("spend_per_year", DataType::Float64, false));
    f.extend(
        SETTING_GROUPS.iter().map(|(g, _, _)| Field::new(format!("spend_per_year_{g}"), DataType::Float64, false)),
    );
    f.push(Field::new("activity_per_year", DataType::Float64, false));
    f.extend(
        SETTING_GROUPS.iter().map(|(g, _, _)| Field::new(format!("activity_per_year_{g}"), DataType::Float64, false)),
    );
    Arc::new(Schema::new(f))
}

fn person_years_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("person_id", DataType::Utf8, false),
        Field::new("financial_year", DataType::Utf8, false),
        Field::new("setting_group", DataType::Utf8, false),
        Field::new("activities", DataType::UInt64, false),
        Field::new("spend", DataType::Float64, false),
    ]))
}

/// Writes every output but the summary.
pub(crate) fn write(
    ids: &[String],
    spills: &[PathBuf],
    conditions: &[String],
    years: &[i32],
    rule: DisclosureRule,
    out: &Path,
    log: &dyn Fn(&str),
) -> Result<()> {
    let ev_schema = events::schema(conditions);
    let mut timeline = ParquetOut::create(&out.join("timeline.parquet"), ev_schema.clone())?;
    let p_schema = persons_schema(conditions);
    let mut persons = ParquetOut::create(&out.join("persons.parquet"), p_schema.clone())?;
    let mut persons_csv = AtomicFile::create(&out.join("persons.csv"))?;
    write_csv_header(&mut persons_csv, &p_schema)?;
    let mut person_years = ParquetOut::create(&out.join("person_years.parquet"), person_years_schema())?;
    let mut seg = Segmentation::new(conditions.to_vec());
    let n_years = years.len().max(1) as f64;
    let latest = years.last().copied();
    let mut seg_years: Vec<Segmentation> = years.iter().map(|_| Segmentation::new(conditions.to_vec())).collect();
    for (k, path) in spills.iter().enumerate() {
        if !path.exists() {
            continue;
        }
        log(&format!("sorting events, part {} of {}", k + 1, spills.len()));
        let batch = read_sorted(path)?;
        let ev = events_batch(&batch, ids, &ev_schema).map_err(|e| Error::output(path, e))?;
        for start in (0..ev.num_rows()).step_by(1 << 20) {
            timeline.write(&ev.slice(start, (1 << 20).min(ev.num_rows() - start)))?;
        }
        let (pb, yb) = summarise(&batch, ids, conditions, years, n_years, latest, &p_schema, &mut seg, &mut seg_years)
            .map_err(|e| Error::output(path, e))?;
        persons.write(&pb)?;
        write_csv_rows(&mut persons_csv, &pb)?;
        person_years.write(&yb)?;
    }
    timeline.commit()?;
    persons.commit()?;
    persons_csv.commit()?;
    person_years.commit()?;
    seg.finish();
    seg_years.iter_mut().for_each(Segmentation::finish);
    write_segments(&seg, None, out, "segments")?;
    write_segments(&seg, Some(rule), out, "segments_published")?;
    let labels: Vec<String> = years.iter().map(|&y| events::financial_year_label(y)).collect();
    write_segments_by_year(&seg, &seg_years, &labels, None, out, "segments_by_year")?;
    write_segments_by_year(&seg, &seg_years, &labels, Some(rule), out, "segments_by_year_published")
}

/// Reads one spill file and sorts it by person, date (missing last), source and row.
fn read_sorted(path: &Path) -> Result<RecordBatch> {
    let file = File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .and_then(|b| b.with_batch_size(65_536).build())
        .map_err(|e| Error::output(path, e.to_string()))?;
    let schema = arrow_array::RecordBatchReader::schema(&reader);
    let batches: Vec<RecordBatch> =
        reader.collect::<std::result::Result<_, _>>().map_err(|e| Error::output(path, e.to_string()))?;
    let all =
        arrow_select::concat::concat_batches(&schema, &batches).map_err(|e| Error::output(path, e.to_string()))?;
    drop(batches);
    let col = |i: usize| all.column(i).clone();
    let rank = col(0);
    let rank = rank.as_any().downcast_ref::<UInt32Array>().expect("spill schema");
    let source = col(1);
    let source = source.as_any().downcast_ref::<StringArray>().expect("spill schema");
    let row = col(3);
    let row = row.as_any().downcast_ref::<UInt64Array>().expect("spill schema");
    let date = col(5);
    let date = date.as_any().downcast_ref::<Date32Array>().expect("spill schema");
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    let date_key = |i: usize| if date.is_valid(i) { date.value(i) } else { i32::MAX };
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        (rank.value(a), date_key(a), source.value(a), row.value(a)).cmp(&(
            rank.value(b),
            date_key(b),
            source.value(b),
            row.value(b),
        ))
    });
    arrow_select::take::take_record_batch(&all, &UInt32Array::from(order))
        .map_err(|e| Error::output(path, e.to_string()))
}

/// The event columns of a sorted spill batch.
fn events_batch(
    b: &RecordBatch,
    ids: &[String],
    schema: &SchemaRef,
) -> std::result::Result<RecordBatch, crate::error::Invalid> {
    let rank = b.column(0).as_any().downcast_ref::<UInt32Array>().ok_or("spill schema")?;
    let person: StringArray = rank.iter().map(|r| r.map(|r| ids[r as usize].as_str())).collect();
    let mut cols: Vec<ArrayRef> = vec![Arc::new(person)];
    // source, record_id, setting, event_date, date_status, activity_type, cost, conditions…
    for name in schema.fields().iter().skip(1).map(|f| f.name()) {
        cols.push(b.column_by_name(name).ok_or("spill schema")?.clone());
    }
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string().into())
}

fn most_common<T: Ord + Copy>(values: &mut [T]) -> Option<T> {
    values.sort_unstable();
    let mut best: Option<(usize, T)> = None;
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j < values.len() && values[j] == values[i] {
            j += 1;
        }
        if best.is_none_or(|(n, _)| j - i > n) {
            best = Some((j - i, values[i]));
        }
        i = j;
    }
    best.map(|(_, v)| v)
}

/// Summarises the persons of one sorted spill batch.
#[allow(clippy::too_many_arguments)]
fn summarise(
    b: &RecordBatch,
    ids: &[String],
    conditions: &[String],
    years: &[i32],
    n_years: f64,
    latest: Option<i32>,
    schema: &SchemaRef,
    seg: &mut Segmentation,
    seg_years: &mut [Segmentation],
) -> std::result::Result<(RecordBatch, RecordBatch), crate::error::Invalid> {
    let get = |name: &str| b.column_by_name(name).ok_or_else(|| format!("spill lacks {name}"));
    let rank = get("rank")?;
    let rank = rank.as_any().downcast_ref::<UInt32Array>().ok_or("rank")?;
    let source = get("source")?;
    let source = source.as_any().downcast_ref::<StringArray>().ok_or("source")?;
    let setting = get("setting")?;
    let setting = setting.as_any().downcast_ref::<StringArray>().ok_or("setting")?;
    let date = get("event_date")?;
    let date = date.as_any().downcast_ref::<Date32Array>().ok_or("date")?;
    let status = get("date_status")?;
    let status = status.as_any().downcast_ref::<StringArray>().ok_or("status")?;
    let cost = get("cost")?;
    let cost = cost.as_any().downcast_ref::<Float64Array>().ok_or("cost")?;
    let yob = get("year_of_birth")?;
    let yob = yob.as_any().downcast_ref::<Int32Array>().ok_or("yob")?;
    let sex = get("sex")?;
    let sex = sex.as_any().downcast_ref::<StringArray>().ok_or("sex")?;
    let flags: Vec<BooleanArray> = conditions
        .iter()
        .map(|c| {
            get(&format!("ltc_{c}"))
                .and_then(|a| a.as_any().downcast_ref::<BooleanArray>().cloned().ok_or_else(|| c.clone()))
        })
        .collect::<std::result::Result<_, _>>()?;
    let g = SETTING_GROUPS.len();
    let mut pid = StringBuilder::new();
    let (mut year_b, mut age_b) = (Int32Builder::new(), Int32Builder::new());
    let (mut ageg, mut sex_b, mut cx) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    // The sources a person appears in, as a list (queries test membership, not `LIKE '%gp%'`).
    let mut src_b = arrow_array::builder::ListBuilder::new(StringBuilder::new());
    let (mut events_b, mut cond_b) = (UInt64Builder::new(), UInt64Builder::new());
    let mut ltc_b: Vec<BooleanBuilder> = conditions.iter().map(|_| BooleanBuilder::new()).collect();
    let mut spend_b: Vec<Float64Builder> = (0..=g).map(|_| Float64Builder::new()).collect();
    let mut act_b: Vec<Float64Builder> = (0..=g).map(|_| Float64Builder::new()).collect();
    let (mut y_pid, mut y_fy, mut y_sg, mut y_n, mut y_sp) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), UInt64Builder::new(), Float64Builder::new());
    let n = b.num_rows();
    // Per-person scratch, reused from person to person.
    let (mut years_of_birth, mut sexes, mut sources): (Vec<i32>, Vec<&str>, Vec<&str>) = Default::default();
    let mut has: Vec<bool> = Vec::with_capacity(flags.len());
    let mut by_year = vec![[(0u64, 0.0f64); SETTING_GROUPS.len()]; years.len()];
    let mut year_row = PersonRow {
        age: None,
        conditions: Vec::new(),
        spend: [0.0; SETTING_GROUPS.len()],
        activity: [0.0; SETTING_GROUPS.len()],
    };
    let mut s = 0;
    while s < n {
        let r = rank.value(s);
        let mut e = s;
        while e < n && rank.value(e) == r {
            e += 1;
        }
        years_of_birth.clear();
        years_of_birth.extend((s..e).filter(|&i| yob.is_valid(i)).map(|i| yob.value(i)));
        let year_of_birth = most_common(&mut years_of_birth);
        sexes.clear();
        sexes.extend((s..e).filter(|&i| sex.is_valid(i)).map(|i| sex.value(i)));
        let sex_mode = most_common(&mut sexes);
        sources.clear();
        sources.extend((s..e).map(|i| source.value(i)));
        sources.sort_unstable();
        sources.dedup();
        has.clear();
        has.extend(flags.iter().map(|f| (s..e).any(|i| f.is_valid(i) && f.value(i))));
        by_year.iter_mut().for_each(|y| *y = [(0, 0.0); SETTING_GROUPS.len()]);
        for i in s..e {
            if status.value(i) != "ok" {
                continue;
            }
            let Some(d) = date_of(date.value(i)) else { continue };
            let Some(y) = years.iter().position(|&y| y == financial_year(d)) else { continue };
            let grp = if setting.is_valid(i) { setting_group(setting.value(i)) } else { g - 1 };
            let c = if cost.is_valid(i) { cost.value(i) } else { 0.0 };
            by_year[y][grp].0 += 1;
            by_year[y][grp].1 += c;
        }
        let mut row = PersonRow {
            age: year_of_birth.zip(latest).map(|(b, l)| l - b),
            conditions: has.clone(),
            spend: [0.0; SETTING_GROUPS.len()],
            activity: [0.0; SETTING_GROUPS.len()],
        };
        let id = ids[r as usize].as_str();
        for (y, groups) in by_year.iter().enumerate() {
            for (k, &(count, spend)) in groups.iter().enumerate() {
                row.activity[k] += count as f64 / n_years;
                row.spend[k] += spend / n_years;
                if count > 0 {
                    y_pid.append_value(id);
                    y_fy.append_value(events::financial_year_label(years[y]));
                    y_sg.append_value(SETTING_GROUPS[k].0);
                    y_n.append_value(count);
                    y_sp.append_value((spend * 100.0).round() / 100.0);
                }
            }
        }
        seg.add(&row);
        // The same person in each year's table: that year's spend and activity.
        year_row.age = row.age;
        year_row.conditions.clone_from(&row.conditions);
        for (y, groups) in by_year.iter().enumerate() {
            for (k, &(count, spend)) in groups.iter().enumerate() {
                year_row.activity[k] = count as f64;
                year_row.spend[k] = spend;
            }
            seg_years[y].add(&year_row);
        }
        pid.append_value(id);
        year_b.append_option(year_of_birth);
        age_b.append_option(row.age);
        ageg.append_value(AGE_GROUPS[age_group(row.age)]);
        sex_b.append_option(sex_mode);
        for s in &sources {
            src_b.values().append_value(s);
        }
        src_b.append(true);
        events_b.append_value((e - s) as u64);
        cond_b.append_value(row.condition_count() as u64);
        cx.append_value(COMPLEXITY[complexity(row.condition_count())]);
        for (k, h) in has.iter().enumerate() {
            ltc_b[k].append_value(*h);
        }
        spend_b[0].append_value(round2(row.spend.iter().sum()));
        act_b[0].append_value(round2(row.activity.iter().sum()));
        for k in 0..g {
            spend_b[k + 1].append_value(round2(row.spend[k]));
            act_b[k + 1].append_value(round2(row.activity[k]));
        }
        s = e;
    }
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(pid.finish()),
        Arc::new(year_b.finish()),
        Arc::new(age_b.finish()),
        Arc::new(ageg.finish()),
        Arc::new(sex_b.finish()),
        Arc::new(src_b.finish()),
        Arc::new(events_b.finish()),
        Arc::new(cond_b.finish()),
        Arc::new(cx.finish()),
    ];
    cols.extend(ltc_b.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend(spend_b.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    cols.extend(act_b.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    let persons = RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())?;
    let years_batch = RecordBatch::try_new(
        person_years_schema(),
        vec![
            Arc::new(y_pid.finish()),
            Arc::new(y_fy.finish()),
            Arc::new(y_sg.finish()),
            Arc::new(y_n.finish()),
            Arc::new(y_sp.finish()),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok((persons, years_batch))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn write_csv_header(f: &mut AtomicFile, schema: &Schema) -> Result<()> {
    let line = schema.fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(",") + "\n";
    let dest = f.dest().to_path_buf();
    f.file().write_all(line.as_bytes()).map_err(|e| Error::io("writing", &dest, e))
}

fn write_csv_rows(f: &mut AtomicFile, b: &RecordBatch) -> Result<()> {
    let dest = f.dest().to_path_buf();
    let formatters: Vec<_> = b
        .columns()
        .iter()
        .map(|c| arrow_cast::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::output(&dest, e.to_string()))?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut rec: Vec<String> = Vec::with_capacity(b.num_columns());
    for i in 0..b.num_rows() {
        rec.clear();
        // Nulls as empty fields.
        rec.extend(
            b.columns().iter().zip(&formatters).map(
                |(c, f)| {
                    if c.is_null(i) { String::new() } else { f.value(i).to_string() }
                },
            ),
        );
        w.write_record(&rec).map_err(|e| Error::output(&dest, e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| Error::output(&dest, e.to_string()))?;
    f.file().write_all(&bytes).map_err(|e| Error::io("writing", &dest, e))
}

/// One row of a segmentation table: age group, complexity, and the values (None: suppressed).
pub type SegmentRow = (String, String, Vec<Option<f64>>);

/// Column names of the segmentation table.
fn segment_fields(conditions: &[String]) -> Vec<Field> {
    let mut f = vec![
        Field::new("age_group", DataType::Utf8, false),
        Field::new("complexity", DataType::Utf8, false),
        Field::new("population", DataType::Int64, true),
        Field::new("average_age", DataType::Float64, true),
        Field::new("average_conditions", DataType::Float64, true),
        Field::new("spend_per_person_per_year", DataType::Float64, true),
    ];
    f.extend(
        SETTING_GROUPS
            .iter()
            .map(|(g, _, _)| Field::new(format!("spend_per_person_per_year_{g}"), DataType::Float64, true)),
    );
    f.push(Field::new("activity_per_person_per_year", DataType::Float64, true));
    f.extend(conditions.iter().map(|c| Field::new(format!("prevalence_{c}_percent"), DataType::Float64, true)));
    f
}

/// The segmentation table as rows of optional numbers (None: suppressed), exact when `rule` is
/// None.
///
/// With a rule (the published table), no rate is computed from an exact count: a rate of whole
/// numbers over an exact population (a prevalence, conditions per person) would undo the rounding
/// and narrow suppressed cells. So count-based rates divide rounded counts by the *published*
/// population; a prevalence whose complement is small (90% of 10: the one person without) is
/// suppressed like a small count, with secondary suppression over its own grid; averages of
/// measurements (age, spend, activity) are the exact means, coarsened (age to whole years, money to
/// whole pounds), since they pin no count; and a spend figure with fewer contributors than the
/// suppression threshold (one person's social care, say) is suppressed, as it would otherwise give
/// that person's spend back.
pub fn segment_rows(seg: &Segmentation, rule: Option<DisclosureRule>) -> Vec<SegmentRow> {
    let na = AGE_GROUPS.len() + 1;
    let nc = COMPLEXITY.len() + 1;
    let grid = |f: &dyn Fn(&crate::timeline::population::Cell) -> u64| -> Vec<Vec<u64>> {
        (0..na).map(|a| (0..nc).map(|c| f(&seg.cells[a][c])).collect()).collect()
    };
    let pop = grid(&|c| c.population);
    let pop_s = rule.map(|r| r.suppress_grid(&pop));
    // A condition's cell is hidden when its count or its complement (persons without) is small.
    let cond_s: Vec<Option<Vec<Vec<bool>>>> = (0..seg.conditions.len())
        .map(|k| {
            rule.map(|r| {
                let with = grid(&|c| c.with_condition.get(k).copied().unwrap_or(0));
                let without = grid(&|c| c.population - c.with_condition.get(k).copied().unwrap_or(0));
                let (a, b) = (r.suppress_grid(&with), r.suppress_grid(&without));
                a.iter().zip(&b).map(|(x, y)| x.iter().zip(y).map(|(p, q)| *p || *q).collect()).collect()
            })
        })
        .collect();
    // A spend figure is hidden when its contributors are few, with secondary suppression over the
    // setting's grid of contributors so that no hidden figure comes back from a margin.
    // Primary: few contributors, or one contributor holding more than the dominance share.
    let spend_s: Vec<Option<Vec<Vec<bool>>>> = match rule {
        None => vec![None; SETTING_GROUPS.len() + 1],
        Some(r) => spend_suppression(seg, r).into_iter().map(Some).collect(),
    };
    let mut rows = Vec::new();
    for a in 0..na {
        for c in 0..nc {
            let cell = &seg.cells[a][c];
            let (ag, cx) = Segmentation::label(a, c);
            let hidden = pop_s.as_ref().is_some_and(|s| s[a][c]);
            // The denominator: the published population, or the exact one inside the TRE.
            let count = |n: u64| rule.map_or(n, |r| r.round(n)) as f64;
            // Count-based rates over the published population; means of measurements exact.
            let denominator = count(cell.population);
            let per = |x: f64| if denominator == 0.0 { None } else { Some(x / denominator) };
            let mean = |x: f64| if cell.population == 0 { None } else { Some(x / cell.population as f64) };
            let few = |k: usize| spend_s[k].as_ref().is_some_and(|s| s[a][c]);
            let mut v: Vec<Option<f64>> = Vec::new();
            v.push(Some(count(cell.population)));
            v.push(match rule {
                _ if cell.aged == 0 => None,
                Some(r) if r.is_small(cell.aged) => None,
                Some(_) => Some((cell.age_sum / cell.aged as f64).round()),
                None => Some(round1(cell.age_sum / cell.aged as f64)),
            });
            v.push(match rule {
                // A small total of conditions is as disclosive as a small count.
                Some(r) if r.is_small(cell.conditions) => None,
                Some(_) => per(count(cell.conditions)).map(round1),
                None => per(count(cell.conditions)).map(|x| (x * 100.0).round() / 100.0),
            });
            v.push(if few(SETTING_GROUPS.len()) { None } else { mean(cell.spend.iter().sum()).map(|x| x.round()) });
            v.extend(
                cell.spend.iter().enumerate().map(|(k, &s)| if few(k) { None } else { mean(s).map(|x| x.round()) }),
            );
            v.push(mean(cell.activity.iter().sum()).map(round1));
            for (k, s) in cond_s.iter().enumerate() {
                let n = cell.with_condition.get(k).copied().unwrap_or(0);
                let small = s.as_ref().is_some_and(|s| s[a][c]);
                v.push(if small { None } else { per(count(n) * 100.0).map(round1) });
            }
            if hidden {
                v.iter_mut().for_each(|x| *x = None);
            }
            rows.push((ag.to_string(), cx.to_string(), v));
        }
    }
    rows
}

/// Which spend figures to hide: `[setting][age][complexity]`, the last setting being the total
/// over settings.
///
/// Primary: few contributors, or one contributor holding more than the dominance share. The
/// figures are additive three ways — along ages (the `all` age row is their total), along
/// complexity, and along settings (a cell's total spend is the sum of its settings' spend, every
/// figure a mean over the same persons) — so secondary suppression runs over all three until no
/// line of any of them holds exactly one hidden figure: otherwise the line's total less the
/// others would give it back.
fn spend_suppression(seg: &Segmentation, r: DisclosureRule) -> Vec<Vec<Vec<bool>>> {
    let na = AGE_GROUPS.len() + 1;
    let nc = COMPLEXITY.len() + 1;
    let ns = SETTING_GROUPS.len() + 1;
    // One value per setting (the last: the total over settings), age group and complexity.
    fn cube<T>(
        seg: &Segmentation,
        ns: usize,
        f: impl Fn(usize, &crate::timeline::population::Cell) -> T,
    ) -> Vec<Vec<Vec<T>>> {
        (0..ns).map(|k| seg.cells.iter().map(|row| row.iter().map(|cell| f(k, cell)).collect()).collect()).collect()
    }
    let total = ns - 1;
    let contributors =
        cube(
            seg,
            ns,
            |k, cell| {
                if k == total { cell.spenders_any } else { cell.spenders.get(k).copied().unwrap_or(0) }
            },
        );
    // Primary: few contributors, or one holding more than the dominance share.
    let mut hidden = cube(seg, ns, |k, cell| {
        let (sum, max, n) = if k == total {
            (cell.spend.iter().sum::<f64>(), cell.spend_total_max, cell.spenders_any)
        } else {
            (
                cell.spend.get(k).copied().unwrap_or(0.0),
                cell.spend_max.get(k).copied().unwrap_or(0.0),
                cell.spenders.get(k).copied().unwrap_or(0),
            )
        };
        r.is_small(n) || (sum > 0.0 && max > r.dominance * sum)
    });
    loop {
        // Ages and complexity: each setting's grid, closed by the grid rule.
        for k in 0..ns {
            hidden[k] = r.suppress_with(&contributors[k], std::mem::take(&mut hidden[k]));
        }
        // Settings: in each cell, the settings and their total.
        let mut changed = false;
        for a in 0..na {
            for c in 0..nc {
                if (0..ns).filter(|&k| hidden[k][a][c]).count() != 1 {
                    continue;
                }
                // The smallest non-zero, unhidden figure joins it (a zero reveals nothing).
                let pick = (0..ns)
                    .filter(|&k| !hidden[k][a][c] && contributors[k][a][c] > 0)
                    .min_by_key(|&k| (contributors[k][a][c], k));
                if let Some(k) = pick {
                    hidden[k][a][c] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            return hidden;
        }
    }
}

/// The yearly tables' rows: each year's [`segment_rows`], then, when published, every figure
/// that differs by year (spend, activity) hidden in all years wherever the overall table or any
/// year hides it. Hidden sets closed under secondary suppression stay closed under union, so no
/// margin gives a hidden figure back either.
pub fn segment_rows_by_year(
    overall: &Segmentation,
    years: &[Segmentation],
    rule: Option<DisclosureRule>,
) -> Vec<Vec<SegmentRow>> {
    let mut by_year: Vec<_> = years.iter().map(|s| segment_rows(s, rule)).collect();
    if rule.is_some() {
        let all = segment_rows(overall, rule);
        // Spend (overall and per setting) and activity: the columns after population, age and
        // conditions, before the prevalences.
        let varying = 3..4 + SETTING_GROUPS.len() + 1;
        for (r, (_, _, v)) in all.iter().enumerate() {
            for k in varying.clone() {
                if v[k].is_none() || by_year.iter().any(|y| y[r].2[k].is_none()) {
                    by_year.iter_mut().for_each(|y| y[r].2[k] = None);
                }
            }
        }
    }
    by_year
}

fn write_segments_by_year(
    overall: &Segmentation,
    years: &[Segmentation],
    labels: &[String],
    rule: Option<DisclosureRule>,
    out: &Path,
    name: &str,
) -> Result<()> {
    let rows: Vec<(String, String, String, Vec<Option<f64>>)> = segment_rows_by_year(overall, years, rule)
        .into_iter()
        .zip(labels)
        .flat_map(|(rows, fy)| rows.into_iter().map(move |(a, c, v)| (fy.clone(), a, c, v)))
        .collect();
    let mut fields = vec![Field::new("financial_year", DataType::Utf8, false)];
    fields.extend(segment_fields(&overall.conditions).into_iter().map(|f| {
        // In a yearly table spend and activity are per person in that year.
        let n = f.name().replace("_per_person_per_year", "_per_person");
        f.with_name(n)
    }));
    write_segment_table(fields, &rows, rule.is_some(), out, name)
}

fn write_segments(seg: &Segmentation, rule: Option<DisclosureRule>, out: &Path, name: &str) -> Result<()> {
    let rows: Vec<(String, String, String, Vec<Option<f64>>)> =
        segment_rows(seg, rule).into_iter().map(|(a, c, v)| (String::new(), a, c, v)).collect();
    write_segment_table(segment_fields(&seg.conditions), &rows, rule.is_some(), out, name)
}

/// Writes a segmentation table as Parquet and CSV; a first `financial_year` field, when the
/// fields start with one, takes each row's year.
fn write_segment_table(
    fields: Vec<Field>,
    rows: &[(String, String, String, Vec<Option<f64>>)],
    published: bool,
    out: &Path,
    name: &str,
) -> Result<()> {
    let yearly = fields[0].name() == "financial_year";
    let mut fy = StringBuilder::new();
    let mut ag = StringBuilder::new();
    let mut cx = StringBuilder::new();
    // The population is a count (an integer); the other columns are rates and means.
    let mut population = arrow_array::builder::Int64Builder::new();
    let first_num = 3 + usize::from(yearly);
    let mut nums: Vec<Float64Builder> = (first_num..fields.len()).map(|_| Float64Builder::new()).collect();
    let mut csv_text = fields.iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(",") + "\n";
    for (y, a, c, v) in rows {
        if yearly {
            fy.append_value(y);
            csv_text.push_str(&format!("{y},"));
        }
        ag.append_value(a);
        cx.append_value(c);
        csv_text.push_str(&format!("{a},{c}"));
        for (k, x) in v.iter().enumerate() {
            match k {
                0 => population.append_option(x.map(|x| x as i64)),
                _ => nums[k - 1].append_option(*x),
            }
            csv_text.push(',');
            match x {
                Some(x) => csv_text.push_str(&format!("{x}")),
                // Suppressed, except in an empty segment, where there is nothing to average.
                None if published && v[0] != Some(0.0) => csv_text.push('*'),
                None => {}
            }
        }
        csv_text.push('\n');
    }
    let mut cols: Vec<ArrayRef> = Vec::new();
    if yearly {
        cols.push(Arc::new(fy.finish()));
    }
    cols.extend([Arc::new(ag.finish()) as ArrayRef, Arc::new(cx.finish()), Arc::new(population.finish())]);
    cols.extend(nums.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    let schema = Arc::new(Schema::new(fields));
    let path = out.join(format!("{name}.parquet"));
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::output(&path, e.to_string()))?;
    let mut o = ParquetOut::create(&path, schema)?;
    o.write(&batch)?;
    o.commit()?;
    crate::io::atomic::write_atomic(&out.join(format!("{name}.csv")), csv_text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::population::PersonRow;
    use rand::{RngExt, SeedableRng};

    /// A random population of `n` persons with three conditions.
    fn population(n: usize, seed: u64) -> Segmentation {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut seg = Segmentation::new(vec!["a".into(), "b".into(), "c".into()]);
        for _ in 0..n {
            let age = if rng.random_bool(0.05) { None } else { Some(rng.random_range(0..100)) };
            let conditions = vec![rng.random_bool(0.3), rng.random_bool(0.1), rng.random_bool(0.9)];
            let mut spend = [0.0; SETTING_GROUPS.len()];
            spend[0] = rng.random_range(0.0..5_000.0);
            let mut activity = [0.0; SETTING_GROUPS.len()];
            activity[0] = rng.random_range(0..20) as f64;
            seg.add(&PersonRow { age, conditions, spend, activity });
        }
        seg.finish();
        seg
    }

    /// Issue 10, finding 9: published rates and averages were computed on exact counts, so the
    /// rounded counts came back exactly. Every published count-based rate must now be a function
    /// of published (rounded) counts only: some multiple of the rounding base over the published
    /// population.
    #[test]
    fn published_rates_are_functions_of_published_counts() {
        let rule = DisclosureRule::default();
        let base = rule.round_to as f64;
        for seed in 0..40 {
            let seg = population(60 + 17 * seed as usize, seed);
            for (ag, cx, v) in segment_rows(&seg, Some(rule)) {
                let Some(p) = v[0] else { continue };
                if p == 0.0 {
                    continue;
                }
                let from_rounded = |q: f64, scale: f64, digits: f64| {
                    (0..=(p as u64 * 10)).any(|m| ((m as f64 * base * scale / p) * digits).round() / digits == q)
                };
                if let Some(q) = v[2] {
                    assert!(from_rounded(q, 1.0, 10.0), "{ag}/{cx}: average_conditions {q} over {p}");
                }
                let first_prevalence = v.len() - 3;
                for &q in v[first_prevalence..].iter().flatten() {
                    assert!(from_rounded(q, 100.0, 10.0), "{ag}/{cx}: prevalence {q} over {p}");
                }
            }
        }
    }

    /// A prevalence whose complement is small (90% of 10) is suppressed: it names the one person
    /// without the condition.
    #[test]
    fn a_prevalence_with_a_small_complement_is_suppressed() {
        let mut seg = Segmentation::new(vec!["a".into()]);
        for i in 0..400 {
            let age = Some(if i < 20 { 80 } else { 40 });
            // Among the twenty 75+ persons, only one lacks the condition.
            let has = if i < 20 { i != 0 } else { i % 2 == 0 };
            seg.add(&PersonRow {
                age,
                conditions: vec![has],
                spend: [0.0; SETTING_GROUPS.len()],
                activity: [0.0; SETTING_GROUPS.len()],
            });
        }
        seg.finish();
        let rows = segment_rows(&seg, Some(DisclosureRule::default()));
        let (_, _, v) = rows.iter().find(|(a, c, _)| a == "75+" && c == "all").unwrap();
        assert_eq!(v[0], Some(20.0));
        assert_eq!(*v.last().unwrap(), None, "the prevalence names the one without");
    }

    /// The review read one person's social-care spend back from the published table (spend per
    /// person × population). A spend figure with fewer contributors than the threshold is hidden,
    /// and averages of measurements are the exact means.
    #[test]
    fn one_persons_spend_is_never_published_and_averages_are_exact_means() {
        let mut seg = Segmentation::new(vec![]);
        for i in 0..400 {
            let mut spend = [0.0; SETTING_GROUPS.len()];
            spend[5] = 100.0;
            if i == 0 {
                spend[4] = 1_499.5;
            }
            seg.add(&PersonRow {
                age: Some(40 + (i % 3)),
                conditions: vec![],
                spend,
                activity: [0.0; SETTING_GROUPS.len()],
            });
        }
        seg.finish();
        let rows = segment_rows(&seg, Some(DisclosureRule::default()));
        for (ag, cx, v) in &rows {
            if v[0].is_some_and(|p| p > 0.0) {
                assert_eq!(v[4 + 4], None, "{ag}/{cx}: one person's spend in setting 4");
                // Total less setting 5 would give setting 4 back: one of them is hidden too.
                assert!(v[3].is_none() || v[4 + 5].is_none(), "{ag}/{cx}: {v:?}");
                assert!(v[4 + 5].is_none_or(|x| x == 100.0), "{ag}/{cx}: an exact mean");
            }
        }
        let (_, _, all) = rows.iter().find(|(a, c, _)| a == "18-74" && c == "low").unwrap();
        assert_eq!(all[1], Some(41.0), "the exact mean age, in whole years");

        // Ten contributors, one of them holding nearly all the spend: the dominance rule.
        let mut seg = Segmentation::new(vec![]);
        for i in 0..400 {
            let mut spend = [0.0; SETTING_GROUPS.len()];
            spend[5] = 100.0;
            if i < 10 {
                spend[4] = if i == 0 { 1_500_000.0 } else { 100.0 };
            }
            seg.add(&PersonRow { age: Some(40), conditions: vec![], spend, activity: [0.0; SETTING_GROUPS.len()] });
        }
        seg.finish();
        for (ag, cx, v) in segment_rows(&seg, Some(DisclosureRule::default())) {
            assert_eq!(v[4 + 4], None, "{ag}/{cx}: one person's spend dominates");
            assert_eq!(v[3], None, "{ag}/{cx}: and the total spend too");
        }
    }

    /// The review read hidden spend back as a cell's total less its other settings. Spend is
    /// additive along ages, complexity and settings: no line of any of the three may hold exactly
    /// one hidden figure, on random populations with sparse settings.
    #[test]
    fn no_line_of_spend_figures_holds_a_single_hidden_one() {
        let rule = DisclosureRule::default();
        let g = SETTING_GROUPS.len();
        let shares = [0.5, 0.05, 0.02, 0.3, 0.01, 0.9, 0.005];
        for seed in 0..60u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut seg = Segmentation::new(vec![]);
            for _ in 0..(50 + 23 * seed as usize) {
                let age = if rng.random_bool(0.03) { None } else { Some(rng.random_range(0..100)) };
                let mut spend = [0.0; SETTING_GROUPS.len()];
                for (k, s) in spend.iter_mut().enumerate() {
                    if rng.random_bool(shares[k % shares.len()]) {
                        *s = rng.random_range(10.0..3_000.0);
                    }
                }
                let conditions = vec![];
                seg.add(&PersonRow { age, conditions, spend, activity: [0.0; SETTING_GROUPS.len()] });
            }
            seg.finish();
            let rows = segment_rows(&seg, Some(rule));
            let (na, nc) = (AGE_GROUPS.len() + 1, COMPLEXITY.len() + 1);
            let at = |a: usize, c: usize, k: usize| rows[a * nc + c].2[3 + k].is_none();
            for a in 0..na {
                for c in 0..nc {
                    let n = (0..=g).filter(|&k| at(a, c, k)).count();
                    assert_ne!(n, 1, "seed {seed}: settings of {:?}", &rows[a * nc + c]);
                }
            }
            for k in 0..=g {
                for a in 0..na {
                    assert_ne!((0..nc).filter(|&c| at(a, c, k)).count(), 1, "seed {seed}: age row {a}, column {k}");
                }
                for c in 0..nc {
                    assert_ne!((0..na).filter(|&a| at(a, c, k)).count(), 1, "seed {seed}: complexity {c}, column {k}");
                }
            }
        }
    }

    /// The feasible range of every population cell, from the published table alone: each
    /// published count `R` lies in `[R - 2, R + 2]` (and is at least the suppression threshold),
    /// zero is exact, a suppressed count is at least 1; row and column totals must add up.
    /// Interval propagation to a fixed point bounds what any attacker can deduce from the table's
    /// additive structure; no hidden or rounded count may come out pinned to one value.
    #[test]
    fn no_published_or_hidden_population_count_is_pinned() {
        let rule = DisclosureRule::default();
        let (na, nc) = (AGE_GROUPS.len() + 1, COMPLEXITY.len() + 1);
        for seed in 0..60 {
            let seg = population(20 + 23 * seed as usize, 1_000 + seed);
            let rows = segment_rows(&seg, Some(rule));
            let half = (rule.round_to / 2) as i64;
            let mut lo = vec![vec![0i64; nc]; na];
            let mut hi = vec![vec![0i64; nc]; na];
            let mut hidden = vec![vec![false; nc]; na];
            for (i, (_, _, v)) in rows.iter().enumerate() {
                let (a, c) = (i / nc, i % nc);
                match v[0] {
                    None => {
                        hidden[a][c] = true;
                        lo[a][c] = 1;
                        hi[a][c] = 1_000_000;
                    }
                    Some(0.0) => {}
                    Some(r) => {
                        lo[a][c] = (r as i64 - half).max(rule.suppress_below as i64);
                        hi[a][c] = r as i64 + half;
                    }
                }
            }
            let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
            for a in 0..na {
                groups.push((0..nc).map(|c| (a, c)).collect());
            }
            for c in 0..nc {
                groups.push((0..na).map(|a| (a, c)).collect());
            }
            loop {
                let mut changed = false;
                for g in &groups {
                    let (cells, total) = g.split_at(g.len() - 1);
                    let (t, tc) = (total[0].0, total[0].1);
                    let sum_lo: i64 = cells.iter().map(|&(a, c)| lo[a][c]).sum();
                    let sum_hi: i64 = cells.iter().map(|&(a, c)| hi[a][c]).sum();
                    if sum_lo > lo[t][tc] {
                        lo[t][tc] = sum_lo;
                        changed = true;
                    }
                    if sum_hi < hi[t][tc] {
                        hi[t][tc] = sum_hi;
                        changed = true;
                    }
                    for &(a, c) in cells {
                        let new_lo = lo[t][tc] - (sum_hi - hi[a][c]);
                        let new_hi = hi[t][tc] - (sum_lo - lo[a][c]);
                        if new_lo > lo[a][c] {
                            lo[a][c] = new_lo;
                            changed = true;
                        }
                        if new_hi < hi[a][c] {
                            hi[a][c] = new_hi;
                            changed = true;
                        }
                    }
                }
                if !changed {
                    break;
                }
            }
            for a in 0..na {
                for c in 0..nc {
                    let exact = seg.cells[a][c].population as i64;
                    assert!(lo[a][c] <= exact && exact <= hi[a][c], "seed {seed} ({a},{c}): the audit is wrong");
                    if exact > 0 {
                        assert!(
                            hi[a][c] > lo[a][c],
                            "seed {seed}: cell ({a},{c}) {} pinned to {exact}",
                            if hidden[a][c] { "hidden" } else { "published" }
                        );
                    }
                }
            }
        }
    }
}
