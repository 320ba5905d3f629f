//! Candidate pairs compared and scored away from the records: the kernel a Spark executor runs.
//!
//! The driver, which holds the loaded [`Records`], writes one row per identity — its
//! representative's dictionary codes, Bloom filters, bands and sex — as an Arrow table
//! ([`rep_table`]). A job joins candidate pairs to it on both sides (columns prefixed `l_` and
//! `r_`) and hands each batch to [`compare_batch`] with a [`PairContext`] (the records' shape,
//! the comparisons, and once trained the model and term frequencies), which rebuilds a small
//! [`Records`] of the batch's two sides and runs exactly the comparison and scoring code of
//! the single-machine linker. Codes are the driver's, so equality of codes is equality of
//! tokens and the term-frequency tables (indexed by code) apply unchanged.

use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{Array, ArrayRef, BinaryArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde::{Deserialize, Serialize};

use crate::config::FieldType;
use crate::link::blocking::Key;
use crate::link::compare::{ComparisonDef, Comparisons, Pattern};
use crate::link::data::{BloomCol, ExtraField, Records, TokCol};
use crate::link::model::Model;
use crate::link::term_frequency::TermFrequencies;

/// Names of the thirteen token-code columns, in `Records::token_columns` order.
const TOKEN_COLUMNS: [&str; 13] = [
    "nhs",
    "given_exact",
    "given_phonetic",
    "family_exact",
    "family_phonetic",
    "dob_full",
    "dob_swapped",
    "dob_year_month",
    "dob_year",
    "postcode_full",
    "postcode_sector",
    "postcode_district",
    "postcode_area",
];

/// What an executor needs to compare and score pairs: the records' shape, the model (before
/// training, the starting model, which carries the comparisons) and the term frequencies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairContext {
    /// Source names, by source code.
    pub sources: Vec<String>,
    /// Bytes per Bloom filter.
    pub bloom_width: usize,
    /// Whether names are salted (the `resistant` profile).
    pub salted_names: bool,
    /// Extra fields: name, kind, whether some extract has a Bloom filter of it.
    pub extras: Vec<(String, Option<FieldType>, bool)>,
    /// The model (its comparisons define the patterns).
    pub model: Model,
    /// Term frequencies of the model's adjusted levels.
    pub term_frequencies: TermFrequencies,
}

impl PairContext {
    /// The context of `r` compared under `model` with `tf`.
    pub fn new(r: &Records, model: &Model, tf: &TermFrequencies) -> PairContext {
        PairContext {
            sources: r.sources.clone(),
            bloom_width: r.given.2.width,
            salted_names: r.salted_names,
            extras: r.extras.iter().map(|e| (e.name.clone(), e.kind, e.bloom.is_some())).collect(),
            model: model.clone(),
            term_frequencies: tf.clone(),
        }
    }

    /// As JSON, to ship to executors.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From [`PairContext::to_json`]'s text.
    pub fn from_json(text: &str) -> std::result::Result<PairContext, crate::error::Invalid> {
        serde_json::from_str(text).map_err(|_| "not a pair context written by this version".into())
    }
}

/// The rep-table column of blocking key `k` (`None` for a field no extract holds).
pub fn key_column(k: &Key, r: &Records) -> Option<String> {
    Some(match k {
        Key::NhsNumber => "nhs".into(),
        Key::GivenExact => "given_exact".into(),
        Key::GivenPhonetic => "given_phonetic".into(),
        Key::FamilyExact => "family_exact".into(),
        Key::FamilyPhonetic => "family_phonetic".into(),
        Key::Dob => "dob_full".into(),
        Key::DobYear => "dob_year".into(),
        Key::Postcode => "postcode_full".into(),
        Key::PostcodeDistrict => "postcode_district".into(),
        Key::Field(f) => format!("extra_{}", r.extra(f)?),
    })
}

fn code_array(c: &TokCol, rows: &[u32]) -> ArrayRef {
    Arc::new(Int64Array::from_iter(rows.iter().map(|&i| c.get(i as usize).map(i64::from))))
}

fn bloom_array(c: Option<&BloomCol>, rows: &[u32]) -> ArrayRef {
    let mut b = BinaryBuilder::new();
    for &i in rows {
        match c.and_then(|c| c.get(i as usize)) {
            Some(f) => b.append_value(f),
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// One row per identity (position `pos` in `reps`): its representative's source, record id,
/// token codes (null where missing), Bloom filters, name bands and sex.
pub fn rep_table(r: &Records, reps: &[u32]) -> RecordBatch {
    let mut fields = vec![
        Field::new("pos", DataType::Int64, false),
        Field::new("source", DataType::Int32, false),
        Field::new("record_id", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(0..reps.len() as i64)),
        Arc::new(Int32Array::from_iter_values(reps.iter().map(|&i| i32::from(r.source[i as usize])))),
        Arc::new(StringArray::from_iter_values(reps.iter().map(|&i| r.record_id.get(i as usize)))),
    ];
    let tokens = r.token_columns();
    for (name, c) in TOKEN_COLUMNS.iter().zip(tokens) {
        fields.push(Field::new(*name, DataType::Int64, true));
        cols.push(code_array(c, reps));
    }
    for (name, c) in [("given_bloom", &r.given.2), ("family_bloom", &r.family.2)] {
        fields.push(Field::new(name, DataType::Binary, true));
        cols.push(bloom_array(Some(c), reps));
    }
    for (name, c) in [("given_band", &r.name_bands[0]), ("family_band", &r.name_bands[1])] {
        fields.push(Field::new(name, DataType::Int32, false));
        cols.push(Arc::new(Int32Array::from_iter_values(
            reps.iter().map(|&i| i32::from(c.get(i as usize).copied().unwrap_or(0))),
        )));
    }
    fields.push(Field::new("sex", DataType::Int32, false));
    cols.push(Arc::new(Int32Array::from_iter_values(reps.iter().map(|&i| i32::from(r.sex[i as usize])))));
    for (k, e) in r.extras.iter().enumerate() {
        fields.push(Field::new(format!("extra_{k}"), DataType::Int64, true));
        cols.push(code_array(&e.token, reps));
        fields.push(Field::new(format!("extra_{k}_bloom"), DataType::Binary, true));
        cols.push(bloom_array(e.bloom.as_ref(), reps));
    }
    // Infallible: columns built to the schema, all of one length.
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).expect("rep table matches its schema")
}

/// A column of `batch` by name, cast to `dt` where it arrives as another type (a job's engine
/// may hand large or view strings and binaries).
fn typed(batch: &RecordBatch, name: &str, dt: DataType) -> std::result::Result<ArrayRef, crate::error::Invalid> {
    let c = batch.column_by_name(name).ok_or_else(|| format!("the pair batch has no column `{name}`"))?;
    if *c.data_type() == dt {
        return Ok(c.clone());
    }
    arrow_cast::cast(c, &dt).map_err(|_| format!("the pair batch's column `{name}` is not of type {dt}").into())
}

fn downcast<T: 'static>(a: &ArrayRef) -> &T {
    // Infallible: `typed` cast the array to the type `T` stands for.
    a.as_any().downcast_ref::<T>().expect("array of the type it was cast to")
}

/// Appends one side (`prefix`: `l_` or `r_`) of a pair batch to `r`.
fn push_side(
    r: &mut Records,
    ctx: &PairContext,
    batch: &RecordBatch,
    prefix: &str,
) -> std::result::Result<(), crate::error::Invalid> {
    let n = batch.num_rows();
    let name = |c: &str| format!("{prefix}{c}");
    let source = typed(batch, &name("source"), DataType::Int32)?;
    let source = downcast::<Int32Array>(&source);
    r.source.extend((0..n).map(|i| source.value(i).clamp(0, u16::MAX as i32) as u16));
    let codes = |c: &Int64Array, out: &mut TokCol| {
        out.codes.extend((0..n).map(|i| if c.is_valid(i) { c.value(i).clamp(0, u32::MAX as i64) as u32 } else { 0 }))
    };
    let columns = r.token_columns_mut();
    for (c, out) in TOKEN_COLUMNS.iter().zip(columns) {
        codes(downcast(&typed(batch, &name(c), DataType::Int64)?), out);
    }
    let blooms = |c: &BinaryArray, out: &mut BloomCol| -> std::result::Result<(), crate::error::Invalid> {
        for i in 0..n {
            if c.is_valid(i) && c.value(i).len() == ctx.bloom_width && ctx.bloom_width > 0 {
                out.data.extend_from_slice(c.value(i));
                out.codes.push((out.data.len() / ctx.bloom_width) as u32);
            } else if c.is_valid(i) {
                return Err("a Bloom filter in the pair batch is not of the context's width".into());
            } else {
                out.codes.push(0);
            }
        }
        Ok(())
    };
    blooms(downcast(&typed(batch, &name("given_bloom"), DataType::Binary)?), &mut r.given.2)?;
    blooms(downcast(&typed(batch, &name("family_bloom"), DataType::Binary)?), &mut r.family.2)?;
    for (k, c) in ["given_band", "family_band"].iter().enumerate() {
        let a = typed(batch, &name(c), DataType::Int32)?;
        let a = downcast::<Int32Array>(&a);
        r.name_bands[k].extend((0..n).map(|i| a.value(i).clamp(0, 3) as u8));
    }
    let sex = typed(batch, &name("sex"), DataType::Int32)?;
    let sex = downcast::<Int32Array>(&sex);
    r.sex.extend((0..n).map(|i| sex.value(i).clamp(0, 255) as u8));
    for k in 0..ctx.extras.len() {
        let e = &mut r.extras[k];
        codes(downcast(&typed(batch, &name(&format!("extra_{k}")), DataType::Int64)?), &mut e.token);
        if let Some(b) = e.bloom.as_mut() {
            blooms(downcast(&typed(batch, &name(&format!("extra_{k}_bloom")), DataType::Binary)?), b)?;
        }
    }
    let ids = typed(batch, &name("record_id"), DataType::Utf8)?;
    let ids = downcast::<StringArray>(&ids);
    for i in 0..n {
        r.record_id.push(ids.value(i));
    }
    Ok(())
}

/// What [`compare_batch`] returns per pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `a`, `b`, `pattern` (the pattern's bits as int64).
    Patterns,
    /// `a`, `b`, `pattern`, `match_weight`, `match_probability` and `weight_bin` (the summary's
    /// histogram bin).
    Weights,
    /// `a`, `b` and `pairs.parquet`'s columns.
    Pairs,
}

/// Compares (and, given a trained context, scores) a batch of candidate pairs: columns `a` and
/// `b` (identity positions) and each rep-table column twice, prefixed `l_` and `r_`.
pub fn compare_batch(
    ctx: &PairContext,
    batch: &RecordBatch,
    output: Output,
) -> std::result::Result<RecordBatch, crate::error::Invalid> {
    let n = batch.num_rows();
    let mut r = Records {
        sources: ctx.sources.clone(),
        salted_names: ctx.salted_names,
        extras: ctx
            .extras
            .iter()
            .map(|(name, kind, bloom)| ExtraField {
                name: name.clone(),
                kind: *kind,
                bloom: bloom.then(|| BloomCol { width: ctx.bloom_width, ..Default::default() }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    r.given.2.width = ctx.bloom_width;
    r.family.2.width = ctx.bloom_width;
    push_side(&mut r, ctx, batch, "l_")?;
    push_side(&mut r, ctx, batch, "r_")?;
    let defs = ctx
        .model
        .comparisons
        .iter()
        .map(ComparisonDef::from_model)
        .collect::<std::result::Result<Vec<_>, crate::error::Invalid>>()?;
    let comparisons = Comparisons::resolve(defs, &r)?;
    let a = typed(batch, "a", DataType::Int64)?;
    let b = typed(batch, "b", DataType::Int64)?;
    let patterns: Vec<Pattern> = (0..n).map(|i| comparisons.pattern(&r, i, n + i)).collect();
    let mut fields = vec![Field::new("a", DataType::Int64, false), Field::new("b", DataType::Int64, false)];
    let mut cols: Vec<ArrayRef> = vec![a, b];
    if output != Output::Pairs {
        fields.push(Field::new("pattern", DataType::Int64, false));
        cols.push(Arc::new(Int64Array::from_iter_values(patterns.iter().map(|p| p.0 as i64))));
    }
    let (m, tf) = (&ctx.model, &ctx.term_frequencies);
    let adjust = |i: usize| tf.adjustments(m, &comparisons, &r, i, n + i, patterns[i]);
    match output {
        Output::Patterns => {}
        Output::Weights => {
            let w: Vec<f64> = (0..n).map(|i| m.weight_of(patterns[i]) + adjust(i).iter().sum::<f64>()).collect();
            fields.push(Field::new("match_weight", DataType::Float64, false));
            fields.push(Field::new("match_probability", DataType::Float64, false));
            fields.push(Field::new("weight_bin", DataType::Int64, false));
            cols.push(Arc::new(Float64Array::from_iter_values(w.iter().copied())));
            cols.push(Arc::new(Float64Array::from_iter_values(w.iter().map(|&w| Model::probability(w)))));
            cols.push(Arc::new(Int64Array::from_iter_values(w.iter().map(|&w| crate::link::weight_bin(w)))));
        }
        Output::Pairs => {
            let weight = |i: usize| m.weight_of(patterns[i]) + adjust(i).iter().sum::<f64>();
            let records: Vec<(usize, usize)> = (0..n).map(|i| (i, n + i)).collect();
            let scored: Vec<_> = (0..n).map(|i| (patterns[i], weight(i))).collect();
            let mut adjusts = crate::link::output::Adjustments::new(vec![true; m.comparisons.len()], n);
            (0..n).for_each(|i| adjusts.push(&adjust(i)));
            let (f, c) = crate::link::output::pairs_columns(&r, &records, m, &scored, &adjusts);
            fields.extend(f);
            cols.extend(c);
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(|e| e.to_string().into())
}
