//! `audit`: what an insider learns without a key (issue 10, findings 6 and 7), as a release gate.

use arrow_array::{Array, FixedSizeBinaryArray, RecordBatch, UInt32Array};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::util::{Dir, text, tokenised_population};

/// Writes `from`'s rows sorted by `column` to `to`, keeping its manifest: an extract in the order
/// of a surname-sorted export, as tokenise wrote rows before they were shuffled.
fn sorted_copy(d: &Dir, from: &str, to: &str, column: &str) {
    let f = std::fs::File::open(d.path(from)).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let kv = b.metadata().file_metadata().key_value_metadata().unwrap().clone();
    let batches: Vec<RecordBatch> = b.build().unwrap().map(|x| x.unwrap()).collect();
    let all = arrow_select::concat::concat_batches(&batches[0].schema(), &batches).unwrap();
    let key = all.column_by_name(column).unwrap().as_any().downcast_ref::<FixedSizeBinaryArray>().unwrap().clone();
    let mut idx: Vec<u32> = (0..all.num_rows() as u32).collect();
    idx.sort_by_key(|&i| if key.is_valid(i as usize) { key.value(i as usize).to_vec() } else { vec![] });
    let idx = UInt32Array::from(idx);
    let cols = all.columns().iter().map(|c| arrow_select::take::take(c.as_ref(), &idx, None).unwrap()).collect();
    let sorted = RecordBatch::try_new(all.schema(), cols).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(d.path(to)).unwrap(), sorted.schema(), None).unwrap();
    for e in kv {
        w.append_key_value_metadata(e);
    }
    w.write(&sorted).unwrap();
    w.close().unwrap();
}

#[test]
fn audit_measures_frequency_uniqueness_and_row_order_and_gates_on_them() {
    let d = Dir::new();
    let extracts = tokenised_population(&d, "3000", "12");
    let mut link = vec!["link", "--out", "l", "-q"];
    link.extend(extracts.iter().map(String::as_str));
    d.ok(&link);

    // Today's per-field name tokens: the gate fails on frequency (exit 1), naming the figure.
    let mut args = vec!["audit", "--linkage", "l", "--json"];
    args.extend(extracts.iter().map(String::as_str));
    let out = d.run(&args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["units"], "persons");
    let family = report["attacks"].as_array().unwrap().iter().find(|a| a["column"] == "family_name_exact").unwrap();
    let named = family["named"].as_f64().unwrap();
    assert!(named > 0.05 && named < 0.6, "{family}");
    assert!(family["named_exact_ranking"].as_f64().unwrap() >= named * 0.5, "{family}");
    assert!(report["uniqueness"]["unique"].as_f64().unwrap() > 0.5, "{}", report["uniqueness"]);
    assert!(text(&out.stderr).contains("have their family name named by a frequency attack"));

    // Shuffled rows pass the row-order check; a surname-sorted extract fails it.
    for r in report["row_order"].as_array().unwrap() {
        assert!(r["ratio"].as_f64().unwrap() < 3.0, "{r}");
    }
    sorted_copy(&d, "gp.parquet", "gp_sorted.parquet", "family_name_exact");
    let relaxed = ["--max-named-unique", "100", "--max-family-named", "100"];
    let mut args = vec!["audit", "gp_sorted.parquet"];
    args.extend(relaxed);
    let err = d.fails(&args, 1);
    assert!(err.contains("gp_sorted.parquet: adjacent rows share"), "{err}");
    let mut args = vec!["audit", "gp.parquet"];
    args.extend(relaxed);
    let shown = text(&d.ok(&args).stdout);
    assert!(shown.contains("every figure is within its limit"), "{shown}");

    // A config mistake that passes names through in clear is caught by the gate.
    let config = std::fs::read_to_string(d.path("s/acute.toml")).unwrap();
    let leaky = config.replace(
        "[[field]]\ncolumn = \"surname\"\ntype = \"family_name\"",
        "[[passthrough]]\ncolumn = \"surname\"\ntype = \"string\"",
    );
    assert_ne!(leaky, config);
    d.write("leaky.toml", leaky);
    crate::util::tokenise_with_key(&d, &d.path("k.key"), "leaky.toml", "s/acute.csv", "leaky.parquet");
    let mut args = vec!["audit", "leaky.parquet"];
    args.extend(relaxed);
    let err = d.fails(&args, 1);
    assert!(err.contains("pass-through column `surname` holds values shaped like names, in clear"), "{err}");

    // Limits are percentages.
    let err = d.fails(&["audit", "gp_sorted.parquet", "--max-family-named", "101"], 2);
    assert!(err.contains("is a percentage"), "{err}");
}
