//! Records grouped where they live (a Spark job folds identical records into one row with a
//! count, `link::data::Grouped`) link exactly as the records themselves: the same persons and
//! person ids for every record, the same model and the same summary.

use std::collections::HashMap;
use std::fs::File;

use arrow_array::{Array, RecordBatch, StringArray, UInt32Array, UInt64Array};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use pseudolink::ProjectKey;
use pseudolink::config::FieldType;
use pseudolink::io::manifest::Manifest;
use pseudolink::link::data::{ArrowExtract, Grouped, Records, content_hash};
use pseudolink::link::{LinkOptions, link_records, output};

use crate::util::{Dir, tokenise_with_key, tokenised_population};

/// An extract file as one Arrow batch with its schema (and manifest).
fn read(path: &std::path::Path) -> (arrow_schema::SchemaRef, RecordBatch) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let reader = builder.build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    (schema.clone(), arrow_select::concat::concat_batches(&schema, &batches).unwrap())
}

/// The batch's rows grouped by their linkage columns, as the Spark job groups them:
/// records lacking a family name or date of birth stay rows of their own. Returns the first
/// record of each group (in row order) and the grouping, with each record's group.
fn grouped(batch: &RecordBatch, m: &Manifest) -> (RecordBatch, Grouped, Vec<usize>) {
    let schema = batch.schema();
    let ids = batch.column_by_name("record_id").unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
    let holds = |kind: FieldType, part: &str| {
        let f = m.fields.iter().find(|f| f.kind == kind).unwrap();
        let c = f.columns.iter().find(|c| c.part == part).unwrap();
        batch.column_by_name(&c.name).unwrap().clone()
    };
    let (family, dob) = (holds(FieldType::FamilyName, "exact"), holds(FieldType::DateOfBirth, "full"));
    // The linkage columns (pass-through activity columns differ between a patient's encounters).
    let linkage: std::collections::HashSet<&String> =
        m.fields.iter().flat_map(|f| &f.columns).map(|c| &c.name).collect();
    let mut first_of: HashMap<String, usize> = HashMap::new();
    let (mut firsts, mut group_of) = (Vec::new(), Vec::new());
    for i in 0..batch.num_rows() {
        let key = if family.is_valid(i) && dob.is_valid(i) {
            schema
                .fields()
                .iter()
                .zip(batch.columns())
                .filter(|(f, _)| linkage.contains(f.name()))
                .map(|(_, c)| arrow_cast::display::array_value_to_string(c, i).unwrap())
                .collect::<Vec<_>>()
                .join("\u{1f}")
        } else {
            format!("alone {i}")
        };
        let next = firsts.len();
        let g = *first_of.entry(key).or_insert(next);
        if g == next {
            firsts.push(i as u32);
        }
        group_of.push(g);
    }
    let mut g = Grouped {
        records: vec![0; firsts.len()],
        first_row: firsts.iter().map(|&i| u64::from(i) + 1).collect(),
        least_hash: vec![u64::MAX; firsts.len()],
    };
    for (i, &k) in group_of.iter().enumerate() {
        g.records[k] += 1;
        g.least_hash[k] = g.least_hash[k].min(content_hash(&m.source, ids.value(i)));
    }
    let take = UInt32Array::from(firsts);
    let cols = batch.columns().iter().map(|c| arrow_select::take::take(c.as_ref(), &take, None).unwrap()).collect();
    (RecordBatch::try_new(schema, cols).unwrap(), g, group_of)
}

/// `clusters.parquet`'s rows as (source, record id, row, person id, person records, stage, best).
type Row = (String, String, u64, String, u32, String, String);

fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let text = |n: &str| b.column_by_name(n).unwrap().as_any().downcast_ref::<StringArray>().unwrap().clone();
        let (source, rid, pid, stage) = (text("source"), text("record_id"), text("person_id"), text("link_stage"));
        let row = b.column_by_name("row_number").unwrap().as_any().downcast_ref::<UInt64Array>().unwrap().clone();
        let size = b.column_by_name("person_records").unwrap().as_any().downcast_ref::<UInt32Array>().unwrap().clone();
        let best = b.column_by_name("best_match_probability").unwrap();
        for i in 0..b.num_rows() {
            out.push((
                source.value(i).to_string(),
                rid.value(i).to_string(),
                row.value(i),
                pid.value(i).to_string(),
                size.value(i),
                stage.value(i).to_string(),
                arrow_cast::display::array_value_to_string(best, i).unwrap(),
            ));
        }
    }
    out
}

#[test]
fn grouped_records_link_as_the_records_themselves() {
    let d = Dir::new();
    let files: Vec<_> = tokenised_population(&d, "1500", "8").iter().map(|f| d.path(f)).collect();
    same_linkage(&files);
}

/// With string fields: the housing register's address line, and on the GP extract an area code
/// per patient (300 values over some 10,000 encounters: too few to block on among the records,
/// though enough among the grouped rows). Whether a string field is varied enough to block on
/// counts records, not rows.
#[test]
fn grouped_records_with_string_fields_link_as_the_records_themselves() {
    let d = Dir::new();
    d.ok(&["synth", "--persons", "1500", "--seed", "9", "--with", "housing", "--out", "s", "-q"]);
    let gp = std::fs::read_to_string(d.path("s/gp.csv")).unwrap();
    let mut with_area = String::new();
    for (i, line) in gp.lines().enumerate() {
        let area = if i == 0 {
            "Area".to_string()
        } else {
            let patient: u64 = line.split('|').nth(1).unwrap().trim_start_matches('G').parse().unwrap();
            format!("A{}", patient % 300)
        };
        with_area.push_str(&format!("{line}|{area}\n"));
    }
    d.write("s/gp_area.csv", &with_area);
    let config = std::fs::read_to_string(d.path("s/gp.toml")).unwrap();
    d.write("s/gp_area.toml", format!("{config}\n[[field]]\ncolumn = \"Area\"\nname = \"area\"\ntype = \"string\"\n"));
    let key = d.test_key("k.key");
    let files: Vec<_> = ["acute", "ae", "gp_area", "community_mh", "social_care", "housing"]
        .iter()
        .map(|p| {
            tokenise_with_key(&d, &key, &format!("s/{p}.toml"), &format!("s/{p}.csv"), &format!("{p}.parquet"));
            d.path(&format!("{p}.parquet"))
        })
        .collect();
    same_linkage(&files);
}

/// Links `files` as records and as grouped rows, and compares everything.
fn same_linkage(files: &[std::path::PathBuf]) {
    let key = ProjectKey::generate().unwrap();
    let options = LinkOptions::default();
    let (mut plain, mut folded, mut members) = (Vec::new(), Vec::new(), Vec::new());
    let (mut records, mut rows_kept) = (0, 0);
    for f in files {
        let (schema, batch) = read(f);
        let m = Manifest::from_schema(f, &schema, batch.num_rows() as u64).unwrap();
        let (firsts, g, group_of) = grouped(&batch, &m);
        records += batch.num_rows();
        rows_kept += firsts.num_rows();
        plain.push(ArrowExtract { label: f.clone(), schema: schema.clone(), batches: vec![batch], grouped: None });
        folded.push(ArrowExtract { label: f.clone(), schema, batches: vec![firsts], grouped: Some(g) });
        members.push(group_of);
    }
    assert!(
        rows_kept * 10 < records * 8,
        "the population should hold identical records: {rows_kept} rows of {records}"
    );
    let link = |x: &[ArrowExtract]| link_records(Records::from_arrow(x).unwrap(), 0.0, &options, &|_| {}).unwrap();
    let (a, b) = (link(&plain), link(&folded));
    // Every record gets its group's answer, with its own record id and row.
    let want = rows(&output::clusters_batches(&a, &key));
    let per_row = rows(&output::clusters_batches(&b, &key));
    let mut got = Vec::new();
    let mut at = 0;
    for (e, group_of) in plain.iter().zip(&members) {
        let ids = e.batches[0].column_by_name("record_id").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        for (i, &g) in group_of.iter().enumerate() {
            let mut r = per_row[at + g].clone();
            (r.1, r.2) = (ids.value(i).to_string(), i as u64 + 1);
            got.push(r);
        }
        at += group_of.iter().max().map_or(0, |&m| m + 1);
    }
    assert_eq!(got.len(), want.len());
    assert!(got == want, "{} records differ", got.iter().zip(&want).filter(|(x, y)| x != y).count());
    assert_eq!(a.model.to_json(), b.model.to_json());
    let section = |l: &pseudolink::link::Linkage| {
        let mut v = serde_json::to_value(&l.summary).unwrap();
        v.as_object_mut().unwrap().remove("timings");
        v
    };
    assert_eq!(section(&a), section(&b));
    assert_eq!(b.summary.records.total, records as u64);
}
