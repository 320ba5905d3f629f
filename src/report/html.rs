//! The linkage and population report: one self-contained HTML file.
//!
//! Everything is inline — styles and SVG charts — and the page carries a Content Security Policy
//! that forbids every fetch (`default-src 'none'`), so it opens on an offline TRE desktop, can be
//! attached to an e-mail, and cannot leak anything by loading a resource. It holds no record-level
//! data: counts, model parameters and distributions, the published (disclosure-controlled)
//! segmentation table, and — only when asked (`--theographs`) — example theographs, which are
//! record-level, so the report then says it must stay inside the TRE.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use arrow_array::{Array, Float64Array, StringArray, UInt32Array};

use crate::error::{Error, Result};
use crate::link::model::Model;
use crate::theograph::escape;

/// What goes into the report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Example theographs to include (0: none).
    pub theographs: usize,
}

/// Reads a few columns of a Parquet file, calling `f` with each batch.
fn scan(path: &Path, cols: &[&str], mut f: impl FnMut(&arrow_array::RecordBatch) -> Result<()>) -> Result<()> {
    let missing = format!("lacks one of the columns {}", cols.join(", "));
    for batch in crate::io::parquet::read_columns(path, cols, &missing)? {
        f(&batch.map_err(|_| Error::manifest(path, "could not be decoded"))?)?;
    }
    Ok(())
}

/// A column of `b` by name, as `T`.
fn col<T: Clone + 'static>(b: &arrow_array::RecordBatch, name: &str) -> Option<T> {
    b.column_by_name(name).and_then(|c| c.as_any().downcast_ref::<T>().cloned())
}

/// A horizontal bar chart as inline SVG.
fn bars(labels: &[String], values: &[f64], unit: &str) -> String {
    let max = values.iter().copied().fold(0.0f64, f64::max).max(1e-12);
    let (w, left, row) = (720.0, 220.0, 20.0);
    let h = row * labels.len() as f64 + 10.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" font-size="12" font-family="sans-serif">"#
    );
    for (i, (l, v)) in labels.iter().zip(values).enumerate() {
        let y = i as f64 * row + 4.0;
        let bw = (w - left - 90.0) * v / max;
        let _ = write!(
            s,
            r##"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{bw:.1}" height="{:.0}" fill="#0072B2"/><text x="{:.1}" y="{:.1}">{}{unit}</text>"##,
            left - 6.0,
            y + 12.0,
            escape(l),
            row - 6.0,
            left + bw + 4.0,
            y + 12.0,
            fmt_num(*v)
        );
    }
    s.push_str("</svg>");
    s
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        crate::error::group_digits(v as u64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            let _ = write!(s, "<td>{}</td>", escape(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

/// Builds the report from a linkage folder and, optionally, a timeline folder.
pub fn build(links: &Path, timeline: Option<&Path>, options: &ReportOptions) -> Result<String> {
    let read = |name: &str| {
        let p = links.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::io("reading", &p, e))
    };
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")?)
        .map_err(|_| Error::manifest(&links.join("summary.json"), "is not a linkage summary"))?;
    let model = Model::from_json(&read("model.json")?).map_err(|m| Error::manifest(&links.join("model.json"), m))?;
    let threshold = summary["threshold"].as_f64().unwrap_or(crate::link::DEFAULT_THRESHOLD);
    let num = |k: &str| summary[k].as_u64().unwrap_or(0);

    // Match weights and estimated error, from the scored pairs.
    let mut weights: BTreeMap<i64, u64> = BTreeMap::new();
    let (mut fp, mut accepted, mut fn_, mut tp) = (0.0, 0u64, 0.0, 0.0);
    scan(&links.join("pairs.parquet"), &["match_weight", "match_probability"], |b| {
        let w = col::<Float64Array>(b, "match_weight");
        let p = col::<Float64Array>(b, "match_probability");
        let (Some(w), Some(p)) = (w, p) else { return Ok(()) };
        for i in 0..b.num_rows() {
            *weights.entry(crate::link::weight_bin(w.value(i))).or_default() += 1;
            let pr = p.value(i);
            if pr >= threshold {
                accepted += 1;
                fp += 1.0 - pr;
                tp += pr;
            } else {
                fn_ += pr;
            }
        }
        Ok(())
    })?;
    // Pairs below the floor of pairs.parquet: the summary holds every pair's weight and the
    // matches expected among those not written.
    if let Some(h) = summary["match_weight_histogram"].as_array() {
        weights = h.iter().filter_map(|b| Some((b.get(0)?.as_i64()?, b.get(1)?.as_u64()?))).collect();
    }
    fn_ += summary["expected_matches_below_floor"].as_f64().unwrap_or(0.0);
    // Cluster sizes and cross-source linkage, from the clusters.
    let mut person_sources: BTreeMap<String, (u32, Vec<String>)> = BTreeMap::new();
    let mut per_source: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    scan(&links.join("clusters.parquet"), &["source", "person_id", "person_records"], |b| {
        let s = col::<StringArray>(b, "source");
        let p = col::<StringArray>(b, "person_id");
        let n = col::<UInt32Array>(b, "person_records");
        let (Some(s), Some(p), Some(n)) = (s, p, n) else { return Ok(()) };
        for i in 0..b.num_rows() {
            // A person's records come together in few places: allocate the key only once.
            if !person_sources.contains_key(p.value(i)) {
                person_sources.insert(p.value(i).to_string(), (n.value(i), Vec::new()));
            }
            let e = person_sources.get_mut(p.value(i)).expect("inserted above");
            if !e.1.iter().any(|x| x == s.value(i)) {
                e.1.push(s.value(i).to_string());
            }
        }
        Ok(())
    })?;
    let mut sizes: BTreeMap<u32, u64> = BTreeMap::new();
    let mut pairs_of_sources: BTreeMap<String, u64> = BTreeMap::new();
    for (n, srcs) in person_sources.values() {
        *sizes.entry((*n).min(20)).or_default() += 1;
        for s in srcs {
            let e = per_source.entry(s.clone()).or_default();
            e.0 += 1;
            if srcs.len() > 1 {
                e.1 += 1;
            }
        }
        let mut sorted = srcs.clone();
        sorted.sort();
        for (i, a) in sorted.iter().enumerate() {
            for b in &sorted[i + 1..] {
                *pairs_of_sources.entry(format!("{a} & {b}")).or_default() += 1;
            }
        }
    }

    let mut h = String::new();
    h.push_str(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><meta name="viewport" content="width=device-width, initial-scale=1"><title>pseudolink report</title><style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9rem}
.kpi{display:inline-block;margin:0 1.5rem .5rem 0}.kpi b{display:block;font-size:1.4rem}.chart{display:block;margin:.5rem 0}
.scroll{overflow-x:auto}</style></head><body>"#,
    );
    h.push_str("<h1>pseudolink: linkage and population report</h1>");
    let holds = if options.theographs > 0 && timeline.is_some() {
        "Aggregate counts and model parameters, and record-level theographs of named person ids (their events, \
         dates and costs): keep this report inside the TRE"
    } else {
        "Aggregates only: no identifier, token, person id or record-level event is in this report. The \
         population tables are as published (small counts suppressed); the linkage diagnostics are exact counts \
         for use inside the TRE and are not disclosure-controlled: check them before this report leaves"
    };
    let _ = write!(
        h,
        r#"<p class="note">Linkage folder <code>{}</code>. {holds}.</p>"#,
        escape(&links.display().to_string())
    );
    h.push_str(r#"<h2 id="summary">Linkage summary</h2><div>"#);
    for (label, v) in [
        ("records in", num("records")),
        ("persons out", num("persons")),
        ("candidate pairs", num("candidate_pairs")),
        ("NHS-number links", num("links_nhs_number")),
        ("probabilistic links", num("links_probabilistic")),
        ("links refused (different NHS numbers)", num("links_refused_conflict")),
    ] {
        let _ = write!(h, r#"<span class="kpi"><b>{}</b>{label}</span>"#, crate::error::group_digits(v));
    }
    h.push_str("</div>");
    let est_precision = if accepted > 0 { 1.0 - fp / accepted as f64 } else { 1.0 };
    let est_recall = if tp + fn_ > 0.0 { tp / (tp + fn_) } else { 1.0 };
    let _ = write!(
        h,
        r#"<h2 id="error">Estimated error (no ground truth needed)</h2><p>From the model's own match probabilities over the {} scored candidate pairs at threshold {threshold}: expected false links among the {} accepted pairs {:.1} (estimated pairwise precision {:.4}); expected missed links among rejected candidate pairs {:.1} (estimated recall among candidates {:.4}). These count pairs of identities (distinct sets of identifying tokens: a patient's many identical encounters are one identity), not pairs of records as <code>pseudolink evaluate</code> does, so the two differ where identities hold several records. They are as good as the model's calibration; pairs never proposed by blocking are not counted.</p>"#,
        crate::error::group_digits(num("candidate_pairs")),
        crate::error::group_digits(accepted),
        fp,
        est_precision,
        fn_,
        est_recall
    );
    h.push_str(r#"<h2 id="weights">Match-weight distribution of candidate pairs</h2>"#);
    let (wl, wv): (Vec<String>, Vec<f64>) =
        weights.iter().map(|(k, v)| (format!("{k} to {} bits", k + 2), *v as f64)).unzip();
    h.push_str(&bars(&wl, &wv, ""));
    let _ = write!(
        h,
        r#"<p class="note">The threshold of {threshold} is a match weight of {:.1} bits.</p>"#,
        (threshold / (1.0 - threshold)).log2()
    );
    h.push_str(r#"<h2 id="model">Trained model: m and u per comparison level</h2>"#);
    let _ = write!(h, "<p>Prior λ = {:.3e} ({:.1} bits).</p>", model.prior, model.prior_weight());
    let mut rows = Vec::new();
    for c in &model.comparisons {
        for l in &c.levels[1..] {
            rows.push(vec![
                c.name.clone(),
                format!("{}{}", l.label, if l.term_frequency { " (term-frequency adjusted)" } else { "" }),
                format!("{:.4}", l.m),
                format!("{:.3e}", l.u),
                format!("{:+.2}", l.weight()),
            ]);
        }
    }
    h.push_str(&table(&["comparison", "level", "m", "u", "weight (bits)"], &rows));
    h.push_str(r#"<h2 id="blocking">Blocking rules</h2>"#);
    let mut rows = Vec::new();
    for b in summary["blocking"].as_array().into_iter().flatten() {
        let rule: Vec<String> =
            b["rule"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(str::to_string)).collect();
        rows.push(vec![
            rule.join(" + "),
            crate::error::group_digits(b["pairs"].as_u64().unwrap_or(0)),
            crate::error::group_digits(b["blocks_skipped"].as_u64().unwrap_or(0)),
            crate::error::group_digits(b["largest_block"].as_u64().unwrap_or(0)),
        ]);
    }
    h.push_str(&table(&["rule", "new pairs", "blocks skipped (too large)", "largest block"], &rows));
    h.push_str(r#"<h2 id="clusters">Cluster sizes (records per person)</h2>"#);
    let (cl, cv): (Vec<String>, Vec<f64>) =
        sizes.iter().map(|(k, v)| (if *k == 20 { "20 or more".to_string() } else { k.to_string() }, *v as f64)).unzip();
    h.push_str(&bars(&cl, &cv, " persons"));
    h.push_str(r#"<h2 id="rates">Link rates</h2><p>Share of each source's persons also found in another source:</p>"#);
    let (sl, sv): (Vec<String>, Vec<f64>) =
        per_source.iter().map(|(k, (n, linked))| (k.clone(), 100.0 * *linked as f64 / (*n).max(1) as f64)).unzip();
    h.push_str(&bars(&sl, &sv, "%"));
    h.push_str("<p>Persons found in both sources of each pair:</p>");
    let (pl, pv): (Vec<String>, Vec<f64>) = pairs_of_sources.iter().map(|(k, v)| (k.clone(), *v as f64)).unzip();
    h.push_str(&bars(&pl, &pv, ""));

    if let Some(t) = timeline {
        h.push_str(&population_section(t, options)?);
    }
    h.push_str("</body></html>\n");
    Ok(h)
}

fn population_section(t: &Path, options: &ReportOptions) -> Result<String> {
    let mut h = String::new();
    let path = t.join("segments_published.csv");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
    h.push_str(
        r#"<h2 id="segments">Population segmentation (published: small counts suppressed, the rest rounded)</h2>"#,
    );
    h.push_str(r#"<p class="note">Spend and activity are per person per year; <code>*</code> marks a suppressed value (counts 1 to 7, and whatever would let one be worked out from a total).</p><div class="scroll">"#);
    h.push_str(&table(&head, &rows));
    h.push_str("</div>");
    if options.theographs > 0 {
        let persons = crate::theograph::top_spenders(t, options.theographs)?;
        let events = crate::theograph::load(t, &persons)?;
        h.push_str(r#"<h2 id="theographs">Example theographs: the highest-spending persons</h2><p class="note">Record-level pictures: keep this report inside the TRE, or make it with <code>--no-theographs</code>.</p>"#);
        h.push_str(&crate::theograph::render(&events));
    }
    Ok(h)
}
