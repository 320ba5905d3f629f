//! The pair kernel (`link::pairs`) away from the records gives exactly the single-machine
//! linker's patterns and weights, from the driver's rep table joined on both sides of each pair.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{Field, Schema};
use pseudolink::link::data::Records;
use pseudolink::link::pairs::{Output, PairContext, compare_batch, rep_table};
use pseudolink::link::{LinkOptions, pipeline, predict};

use crate::util::{Dir, tokenised_population};

/// Rows `rows` of `table`, columns prefixed.
fn side(table: &RecordBatch, rows: &[u32], prefix: &str) -> (Vec<Field>, Vec<ArrayRef>) {
    let take = UInt32Array::from(rows.to_vec());
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    for (f, c) in table.schema().fields().iter().zip(table.columns()) {
        fields.push(Field::new(format!("{prefix}{}", f.name()), f.data_type().clone(), true));
        cols.push(arrow_select::take::take(c.as_ref(), &take, None).unwrap());
    }
    (fields, cols)
}

#[test]
fn pair_batches_score_as_the_linker_does() {
    let d = Dir::new();
    let files: Vec<_> = tokenised_population(&d, "2000", "4").iter().map(|f| d.path(f)).collect();
    let options = LinkOptions::default();
    let run = pipeline::prepare(Records::load(&files).unwrap(), 0.0, &options, &|_| {}).unwrap();
    let (cands, _) = run.candidates(&options).unwrap();
    assert!(cands.len() > 100, "{}", cands.len());
    let view = run.view();
    let patterns = predict::patterns(&view, &run.comparisons, &cands);
    let trained = run.train(&predict::pattern_counts(&patterns), &options, &|_| {}).unwrap();
    let tf = run.term_frequencies(&trained.model);
    let scored = run.score(&view, &cands, &patterns, &trained.model, &tf);

    let reps = rep_table(&run.records, &run.reps);
    let (a, b): (Vec<u32>, Vec<u32>) = cands.iter().copied().unzip();
    let (mut fields, mut cols) = (
        vec![
            Field::new("a", arrow_schema::DataType::Int64, false),
            Field::new("b", arrow_schema::DataType::Int64, false),
        ],
        vec![
            Arc::new(Int64Array::from_iter_values(a.iter().map(|&x| x as i64))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(b.iter().map(|&x| x as i64))),
        ],
    );
    for (rows, prefix) in [(&a, "l_"), (&b, "r_")] {
        let (f, c) = side(&reps, rows, prefix);
        fields.extend(f);
        cols.extend(c);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    // Through JSON, as an executor receives it.
    let ctx = PairContext::from_json(&PairContext::new(&run.records, &trained.model, &tf).to_json()).unwrap();
    let out = compare_batch(&ctx, &batch, Output::Weights).unwrap();
    let p = out.column_by_name("pattern").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let w = out.column_by_name("match_weight").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    for (i, &(_, _, pattern, weight)) in scored.iter().enumerate() {
        assert_eq!(p.value(i) as u64, pattern.0, "pair {i}");
        assert_eq!(w.value(i).to_bits(), weight.to_bits(), "pair {i}");
    }
    let pairs = compare_batch(&ctx, &batch, Output::Pairs).unwrap();
    assert_eq!(pairs.num_rows(), scored.len());
    assert!(pairs.column_by_name("left_record_id").is_some());
}
