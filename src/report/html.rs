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
use std::path::{Path, PathBuf};

use arrow_array::{Array, Float64Array, StringArray, UInt32Array};

use crate::error::{Error, Result, group_digits};
use crate::link::model::Model;
use crate::report::charts::{self, Chart, escape, fmt_num};

/// What goes into the report.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Example theographs to include (0: none): the highest-spending persons on one axis.
    pub theographs: usize,
    /// Clerical labels (record pairs marked match or non-match, as `evaluate --labels` reads
    /// them): the threshold chart then shows measured precision and recall beside the estimates.
    pub labels: Option<PathBuf>,
    /// A ground truth (`source, record_id, person_id`, as `evaluate --truth` reads): the same,
    /// measured over every scored pair.
    pub truth: Option<PathBuf>,
}

/// The report: its HTML and the charts it draws, for the Vega-Lite file beside it.
#[derive(Debug, Clone)]
pub struct Report {
    /// The self-contained HTML page.
    pub html: String,
    /// The charts, in page order.
    pub charts: Vec<Chart>,
}

impl Report {
    /// Every chart's Vega-Lite specification keyed by its id: the file written beside the
    /// report, for notebooks (`alt.Chart.from_dict(specs["match_weights"])`).
    pub fn vega_lite(&self) -> serde_json::Value {
        serde_json::Value::Object(self.charts.iter().map(|c| (c.id.to_string(), c.vega_lite.clone())).collect())
    }
}

/// Where the Vega-Lite file of a report goes: `report.html` → `report.charts.json`.
pub fn charts_path(html: &Path) -> PathBuf {
    let stem = html.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    html.with_file_name(format!("{stem}.charts.json"))
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

/// A table; every table sits in a box that scrolls sideways on a narrow screen, so none runs off
/// the page.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from(r#"<div class="scroll"><table><thead><tr>"#);
    for h in head {
        let _ = write!(s, "<th>{}</th>", escape(h));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            // Numbers (counts, money, rates, suppressed `*`) right-aligned; words left.
            let numeric = c == "*" || c.trim_start_matches(['+', '-', '£']).replace(',', "").parse::<f64>().is_ok();
            let _ = write!(s, "<td{}>{}</td>", if numeric { r#" class="n""# } else { "" }, escape(c));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Adds a chart to the page and to the report's list.
fn draw(h: &mut String, charts: &mut Vec<Chart>, c: Chart) {
    let _ = write!(h, r#"<figure class="chart-box">{}</figure>"#, c.svg);
    charts.push(c);
}

/// Match weight (bits) of a probability.
fn bits(p: f64) -> f64 {
    (p / (1.0 - p)).log2()
}

/// Points (threshold in bits, value) of one line.
type Curve = Vec<(f64, f64)>;

/// Scored pairs in half-bit bins of match weight: (pairs, sum of match probabilities).
#[derive(Default)]
struct Sweep {
    bins: BTreeMap<i64, (u64, f64)>,
}

impl Sweep {
    fn add(&mut self, weight: f64, p: f64) {
        let e = self.bins.entry((weight.clamp(-60.0, 60.0) * 2.0).floor() as i64).or_default();
        e.0 += 1;
        e.1 += p;
    }

    /// Estimated precision and recall for thresholds from `lo` to `hi` bits, in half bits;
    /// `missed` is the matches expected among pairs not in the bins (below the pairs floor).
    fn estimates(&self, lo: f64, hi: f64, missed: f64) -> (Curve, Curve) {
        let expected: f64 = self.bins.values().map(|b| b.1).sum::<f64>() + missed;
        let (mut precision, mut recall) = (Vec::new(), Vec::new());
        let mut w = lo;
        while w <= hi + 1e-9 {
            let from = (w * 2.0).floor() as i64;
            let (n, sp) = self.bins.range(from..).fold((0u64, 0.0), |a, (_, b)| (a.0 + b.0, a.1 + b.1));
            if n > 0 {
                precision.push((w, sp / n as f64));
            }
            if expected > 0.0 {
                recall.push((w, sp / expected));
            }
            w += 0.5;
        }
        (precision, recall)
    }
}

/// Builds the report from a linkage folder and, optionally, a timeline folder.
pub fn build(links: &Path, timeline: Option<&Path>, options: &ReportOptions) -> Result<Report> {
    let read = |name: &str| {
        let p = links.join(name);
        std::fs::read_to_string(&p).map_err(|e| Error::io("reading", &p, e))
    };
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")?)
        .map_err(|_| Error::manifest(&links.join("summary.json"), "is not a linkage summary"))?;
    let model = Model::from_json(&read("model.json")?).map_err(|m| Error::manifest(&links.join("model.json"), m))?;
    let at = |path: &[&str], flat: &str| crate::link::summary::field(&summary, path, flat);
    let threshold = at(&["prediction", "threshold"], "threshold").as_f64().unwrap_or(crate::link::DEFAULT_THRESHOLD);
    let num = |path: &[&str], flat: &str| at(path, flat).as_u64().unwrap_or(0);
    let labelled =
        options.labels.as_deref().map(|l| crate::link::evaluate::clerical::evaluate_clerical(l, links)).transpose()?;
    let truthful =
        options.truth.as_deref().map(|t| crate::link::evaluate::clerical::sweep_against_truth(t, links)).transpose()?;

    // Match weights, estimated error and the term-frequency effect, from the scored pairs.
    let mut weights: BTreeMap<i64, u64> = BTreeMap::new();
    let mut sweep = Sweep::default();
    let tf_levels: Vec<(String, String, f64)> = model
        .comparisons
        .iter()
        .flat_map(|c| {
            c.levels.iter().filter(|l| l.term_frequency).map(|l| (c.name.clone(), l.label.clone(), l.weight()))
        })
        .collect();
    let mut tf_weights: Vec<Vec<f64>> = vec![Vec::new(); tf_levels.len()];
    let mut cols = vec!["match_weight".to_string(), "match_probability".to_string()];
    for (c, _, _) in &tf_levels {
        cols.push(format!("{c}_level"));
        cols.push(format!("{c}_weight"));
    }
    cols.dedup();
    let col_refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    scan(&links.join("pairs.parquet"), &col_refs, |b| {
        let w = col::<Float64Array>(b, "match_weight");
        let p = col::<Float64Array>(b, "match_probability");
        let (Some(w), Some(p)) = (w, p) else { return Ok(()) };
        for i in 0..b.num_rows() {
            *weights.entry(crate::link::weight_bin(w.value(i))).or_default() += 1;
            sweep.add(w.value(i), p.value(i));
        }
        for (k, (c, label, _)) in tf_levels.iter().enumerate() {
            let lv = col::<StringArray>(b, &format!("{c}_level"));
            let wt = col::<Float64Array>(b, &format!("{c}_weight"));
            let (Some(lv), Some(wt)) = (lv, wt) else { continue };
            tf_weights[k].extend((0..b.num_rows()).filter(|&i| lv.value(i) == label).map(|i| wt.value(i)));
        }
        Ok(())
    })?;
    // Pairs below the floor of pairs.parquet: the summary holds every pair's weight and the
    // matches expected among those not written.
    if let Some(h) = at(&["prediction", "match_weight_histogram"], "match_weight_histogram").as_array() {
        weights = h.iter().filter_map(|b| Some((b.get(0)?.as_i64()?, b.get(1)?.as_u64()?))).collect();
    }
    let missed_below_floor =
        at(&["prediction", "expected_matches_below_floor"], "expected_matches_below_floor").as_f64().unwrap_or(0.0);
    // Cluster sizes, unlinked records and cross-source linkage, from the clusters.
    let mut person_sources: BTreeMap<String, (u32, Vec<String>)> = BTreeMap::new();
    let mut per_source: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut alone: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    scan(&links.join("clusters.parquet"), &["source", "person_id", "person_records"], |b| {
        let s = col::<StringArray>(b, "source");
        let p = col::<StringArray>(b, "person_id");
        let n = col::<UInt32Array>(b, "person_records");
        let (Some(s), Some(p), Some(n)) = (s, p, n) else { return Ok(()) };
        for i in 0..b.num_rows() {
            if !alone.contains_key(s.value(i)) {
                alone.insert(s.value(i).to_string(), (0, 0));
            }
            let a = alone.get_mut(s.value(i)).expect("inserted above");
            a.0 += 1;
            a.1 += u64::from(n.value(i) == 1);
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

    let mut charts = Vec::new();
    let mut h = String::new();
    h.push_str(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><meta name="viewport" content="width=device-width, initial-scale=1"><title>pseudolink report</title><style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
td{white-space:nowrap}td.n{text-align:right}th{background:#f3f3f3;vertical-align:bottom;font-weight:600}.note{color:#555;font-size:.9rem}
.kpi{display:inline-block;margin:0 1.5rem .5rem 0}.kpi b{display:block;font-size:1.4rem}
figure{margin:.5rem 0}.chart-box,.scroll{max-width:100%;overflow-x:auto}svg{max-width:100%;height:auto}
nav a{margin-right:.8rem}</style></head><body>"#,
    );
    h.push_str("<h1>pseudolink: linkage and population report</h1>");
    h.push_str(r##"<nav><a href="#summary">summary</a><a href="#error">error and threshold</a><a href="#weights">match weights</a><a href="#model">model</a><a href="#blocking">blocking</a><a href="#clusters">clusters</a><a href="#rates">link rates</a>"##);
    if timeline.is_some() {
        h.push_str(r##"<a href="#segments">population</a>"##);
    }
    h.push_str("</nav>");
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
        r#"<p class="note">Linkage folder <code>{}</code>. {holds}. Each chart's data is also in the Vega-Lite file written beside this report.</p>"#,
        escape(&links.display().to_string())
    );
    h.push_str(r#"<h2 id="summary">Linkage summary</h2><div>"#);
    for (label, v) in [
        ("records in", num(&["records", "total"], "records")),
        ("persons out", num(&["clustering", "persons"], "persons")),
        ("candidate pairs", num(&["blocking", "candidate_pairs"], "candidate_pairs")),
        ("NHS-number links", num(&["deterministic", "links"], "links_nhs_number")),
        ("probabilistic links", num(&["clustering", "links_accepted"], "links_probabilistic")),
        (
            "links refused (different NHS numbers)",
            num(&["clustering", "links_refused_conflict"], "links_refused_conflict"),
        ),
    ] {
        let _ = write!(h, r#"<span class="kpi"><b>{}</b>{label}</span>"#, group_digits(v));
    }
    h.push_str("</div>");

    // Estimated error and the threshold sweep.
    let t_bits = bits(threshold);
    let (est_p, est_r) = sweep.estimates(t_bits, t_bits, missed_below_floor);
    let (est_precision, est_recall) = (est_p.first().map_or(1.0, |p| p.1), est_r.first().map_or(1.0, |r| r.1));
    let _ = write!(
        h,
        r#"<h2 id="error">Estimated error and the threshold</h2><p>From the model's own match probabilities over the {} scored candidate pairs at threshold {threshold} ({t_bits:.1} bits): estimated pairwise precision {est_precision:.4}, estimated recall among candidates {est_recall:.4}. These count <b>pairs of identities</b> (distinct sets of identifying tokens: a patient's many identical encounters are one identity), not pairs of records as <code>pseudolink evaluate</code> does, so the two differ where identities hold several records. They are as good as the model's calibration; pairs never proposed by blocking are not counted.</p>"#,
        group_digits(num(&["blocking", "candidate_pairs"], "candidate_pairs")),
    );
    let (lo, hi) = ((-10.0f64).min(t_bits - 5.0), 25.0f64.max(t_bits + 5.0));
    let (p_curve, r_curve) = sweep.estimates(lo, hi, missed_below_floor);
    let mut series = vec![("estimated precision".to_string(), p_curve), ("estimated recall".to_string(), r_curve)];
    if let Some(e) = &labelled {
        let pts = |f: fn(&crate::link::evaluate::clerical::AtThreshold) -> f64| -> Vec<(f64, f64)> {
            e.thresholds.iter().map(|t| (bits(t.threshold), f(t))).filter(|(x, _)| *x >= lo && *x <= hi).collect()
        };
        series.push(("measured precision (labels)".to_string(), pts(|t| t.precision)));
        series.push(("measured recall (labels)".to_string(), pts(|t| t.recall)));
    }
    if let Some(ts) = &truthful {
        let pts = |f: fn(&crate::link::evaluate::clerical::AtThreshold) -> f64| -> Vec<(f64, f64)> {
            ts.iter().map(|t| (bits(t.threshold), f(t))).filter(|(x, _)| *x >= lo && *x <= hi).collect()
        };
        series.push(("measured precision (truth)".to_string(), pts(|t| t.precision)));
        series.push(("measured recall (truth)".to_string(), pts(|t| t.recall)));
    }
    draw(
        &mut h,
        &mut charts,
        charts::lines(
            "threshold_sweep",
            "Precision and recall against the match-weight threshold",
            "threshold (match weight, bits)",
            &series,
            Some(t_bits),
        ),
    );
    if labelled.is_none() && truthful.is_none() {
        h.push_str(r#"<p class="note">Measured precision and recall join the estimates when the report is given clerical labels (<code>--labels</code>) or a ground truth (<code>--truth</code>).</p>"#);
    }

    h.push_str(r#"<h2 id="weights">Match-weight distribution of candidate pairs</h2>"#);
    let first_linked = weights.keys().position(|k| (*k as f64) + 2.0 > t_bits);
    let rows: Vec<(String, f64)> = weights.iter().map(|(k, v)| (format!("{k} to {} bits", k + 2), *v as f64)).collect();
    draw(
        &mut h,
        &mut charts,
        charts::bars_marked(
            "match_weight_histogram",
            "Candidate pairs by match weight",
            &rows,
            " pairs",
            first_linked.map(|i| {
                (i, format!("threshold {threshold} = {t_bits:.1} bits, inside the first green bin: links are the pairs at or above it"))
            }),
        ),
    );

    h.push_str(r#"<h2 id="model">Trained model</h2>"#);
    let _ = write!(h, "<p>Prior λ = {:.3e} ({:+.2} bits).</p>", model.prior, model.prior_weight());
    let mut wrows = vec![("prior".to_string(), "prior (before any comparison)".to_string(), model.prior_weight())];
    let mut murows = Vec::new();
    let mut rows = Vec::new();
    for c in &model.comparisons {
        for l in &c.levels[1..] {
            let label = format!("{}{}", l.label, if l.term_frequency { " (tf)" } else { "" });
            wrows.push((c.name.clone(), label.clone(), l.weight()));
            murows.push((format!("{}: {label}", c.name), l.m, l.u));
            rows.push(vec![
                c.name.clone(),
                format!("{}{}", l.label, if l.term_frequency { " (term-frequency adjusted)" } else { "" }),
                format!("{:.4}", l.m),
                format!("{:.3e}", l.u),
                format!("{:+.2}", l.weight()),
            ]);
        }
    }
    h.push_str("<h3>Match weight of each comparison level</h3>");
    draw(
        &mut h,
        &mut charts,
        charts::diverging("match_weights", "Match weight per comparison level", &wrows, "match weight (bits)"),
    );
    h.push_str("<h3>m and u probabilities</h3>");
    draw(
        &mut h,
        &mut charts,
        charts::paired(
            "m_u",
            "m and u probability per comparison level",
            &murows,
            ["m (among matches)", "u (among non-matches)"],
        ),
    );
    h.push_str(&table(&["comparison", "level", "m", "u", "weight (bits)"], &rows));
    if !tf_levels.is_empty() {
        h.push_str(r#"<h3 id="term-frequency">Term-frequency effect</h3><p class="note">Exact agreement on a rare value is stronger evidence than on a common one: the weights candidate pairs got at each term-frequency-adjusted level, against the level's average weight.</p>"#);
        let mut trows = Vec::new();
        for ((c, label, base), ws) in tf_levels.iter().zip(&mut tf_weights) {
            let group = format!("{c}: {label}");
            trows.push((group.clone(), "model level (an average value)".to_string(), *base));
            if ws.is_empty() {
                continue;
            }
            ws.sort_by(f64::total_cmp);
            let q = |f: f64| ws[((ws.len() - 1) as f64 * f).round() as usize];
            for (name, f) in [("commonest 5% of pairs", 0.05), ("median pair", 0.5), ("rarest 5% of pairs", 0.95)] {
                trows.push((group.clone(), name.to_string(), q(f)));
            }
        }
        draw(
            &mut h,
            &mut charts,
            charts::diverging("term_frequency", "Term-frequency adjusted weights", &trows, "match weight (bits)"),
        );
    }

    h.push_str(r#"<h2 id="blocking">Blocking rules</h2>"#);
    let mut rows = Vec::new();
    let mut cumulative = Vec::new();
    let mut total = 0u64;
    for b in at(&["blocking", "rules"], "blocking").as_array().into_iter().flatten() {
        let rule: Vec<String> =
            b["rule"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(str::to_string)).collect();
        let pairs = b["pairs"].as_u64().unwrap_or(0);
        total += pairs;
        cumulative.push((rule.join(" + "), total as f64));
        rows.push(vec![
            rule.join(" + "),
            group_digits(pairs),
            group_digits(total),
            group_digits(b["blocks_skipped"].as_u64().unwrap_or(0)),
            group_digits(b["largest_block"].as_u64().unwrap_or(0)),
        ]);
    }
    draw(
        &mut h,
        &mut charts,
        charts::bars("blocking", "Cumulative candidate pairs by blocking rule", &cumulative, " pairs"),
    );
    h.push_str(&table(
        &["rule", "new pairs", "cumulative pairs", "blocks skipped (too large)", "largest block"],
        &rows,
    ));

    h.push_str(r#"<h2 id="clusters">Cluster sizes (records per person)</h2>"#);
    let cl: Vec<(String, f64)> = sizes
        .iter()
        .map(|(k, v)| (if *k == 20 { "20 or more".to_string() } else { k.to_string() }, *v as f64))
        .collect();
    draw(&mut h, &mut charts, charts::bars("cluster_sizes", "Persons by number of records", &cl, " persons"));
    h.push_str(r#"<h3 id="unlinked">Unlinked records by source</h3><p class="note">Records whose person has no other record: in a source that should overlap the others, a high share points at missing or damaged identifiers.</p>"#);
    let ul: Vec<(String, f64)> = alone
        .iter()
        .map(|(k, (n, a))| {
            (format!("{k} ({} of {})", group_digits(*a), group_digits(*n)), 100.0 * *a as f64 / (*n).max(1) as f64)
        })
        .collect();
    draw(
        &mut h,
        &mut charts,
        charts::bars("unlinked_records", "Records linked to no other record, by source", &ul, "%"),
    );
    h.push_str(r#"<h2 id="rates">Link rates</h2><p>Share of each source's persons also found in another source:</p>"#);
    let sv: Vec<(String, f64)> =
        per_source.iter().map(|(k, (n, linked))| (k.clone(), 100.0 * *linked as f64 / (*n).max(1) as f64)).collect();
    draw(&mut h, &mut charts, charts::bars("link_rates", "Persons of each source found in another source", &sv, "%"));
    h.push_str("<p>Persons found in both sources of each pair:</p>");
    let pv: Vec<(String, f64)> = pairs_of_sources.iter().map(|(k, v)| (k.clone(), *v as f64)).collect();
    draw(&mut h, &mut charts, charts::bars("source_pairs", "Persons in both sources", &pv, " persons"));

    if let Some(t) = timeline {
        population_section(&mut h, &mut charts, t, options)?;
    }
    h.push_str("</body></html>\n");
    Ok(Report { html: h, charts })
}

/// A published segmentation CSV: header and rows of cells (`*` where suppressed).
fn read_table(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    let mut lines = text.lines();
    let head = lines.next().unwrap_or_default().split(',').map(str::to_string).collect();
    Ok((head, lines.map(|l| l.split(',').map(str::to_string).collect()).collect()))
}

/// A table cell as people read it: pounds for spend, separators for counts, `*` kept.
fn cell_text(column: &str, v: &str) -> String {
    if v.is_empty() {
        return "–".into();
    }
    match v.parse::<f64>() {
        Err(_) => v.to_string(),
        Ok(x) if column.starts_with("spend") => format!("£{}", fmt_num(x.round())),
        Ok(x) if column == "population" => fmt_num(x),
        Ok(x) if x.fract() == 0.0 => fmt_num(x),
        Ok(x) => format!("{x:.1}"),
    }
}

fn population_section(h: &mut String, charts: &mut Vec<Chart>, t: &Path, options: &ReportOptions) -> Result<()> {
    use crate::timeline::population::{AGE_GROUPS, COMPLEXITY};
    let (head, rows) = read_table(&t.join("segments_published.csv"))?;
    let at = |name: &str| head.iter().position(|c| c == name);
    h.push_str(
        r#"<h2 id="segments">Population segmentation (published: small counts suppressed, the rest rounded)</h2>"#,
    );
    h.push_str(r#"<p class="note">Age group down, complexity (long-term conditions: low none, middle one or two, high three or more) across. Spend and activity are per person per year; <code>*</code> marks a suppressed value (counts 1 to 7, and whatever would let one be worked out from a total); – a segment with no one in it.</p>"#);
    // The grid: population and spend per person per year in each cell, margins as "all".
    let ages: Vec<&str> = AGE_GROUPS.iter().copied().chain(["all"]).collect();
    let cxs: Vec<&str> = COMPLEXITY.iter().copied().chain(["all"]).collect();
    let (pop, spend) = (at("population"), at("spend_per_person_per_year"));
    let mut cells = Vec::new();
    for r in &rows {
        let (Some(i), Some(j)) = (ages.iter().position(|a| *a == r[0]), cxs.iter().position(|c| *c == r[1])) else {
            continue;
        };
        let get = |k: Option<usize>| k.and_then(|k| r.get(k)).map(String::as_str).unwrap_or("*");
        let value = get(spend).parse::<f64>().ok();
        let text = format!(
            "{} persons\n{} per person per year",
            cell_text("population", get(pop)),
            cell_text("spend", get(spend))
        );
        cells.push((i, j, value, text));
    }
    draw(
        h,
        charts,
        charts::grid(
            "segments",
            "Population and spend per person per year by age group and complexity",
            &ages,
            &cxs,
            &cells,
        ),
    );
    // Spend by setting, and the rest, as tables that fit the page.
    // Short headings, so the tables fit the page: the table's title says "per person per year".
    let labels: Vec<String> = head
        .iter()
        .map(|c| {
            let c = c.replace("spend_per_person_per_year_", "").replace("spend_per_person_per_year", "all settings");
            let c = c.replace("activity_per_person_per_year", "events");
            let c = c.strip_prefix("prevalence_").map_or(c.clone(), |p| p.replace("_percent", " %"));
            c.replace("average_", "mean ").replace('_', " ")
        })
        .collect();
    let settings: Vec<usize> = (0..head.len()).filter(|&k| head[k].starts_with("spend_per_person_per_year")).collect();
    let pick = |cols: &[usize]| -> (Vec<&str>, Vec<Vec<String>>) {
        let mut hd = vec!["age group", "complexity"];
        hd.extend(cols.iter().map(|&k| labels[k].as_str()));
        let body = rows
            .iter()
            .map(|r| {
                let mut v = vec![r[0].clone(), r[1].clone()];
                v.extend(cols.iter().map(|&k| cell_text(&head[k], r.get(k).map_or("", String::as_str))));
                v
            })
            .collect();
        (hd, body)
    };
    h.push_str("<h3>Spend per person per year by setting</h3>");
    let (hd, body) = pick(&settings);
    h.push_str(&table(&hd, &body));
    let prevalence: Vec<usize> = (0..head.len()).filter(|&k| head[k].starts_with("prevalence_")).collect();
    let rest: Vec<usize> = (2..head.len()).filter(|k| !settings.contains(k) && !prevalence.contains(k)).collect();
    h.push_str("<h3>Population, mean age and conditions, and events per person per year</h3>");
    let (hd, body) = pick(&rest);
    h.push_str(&table(&hd, &body));
    if !prevalence.is_empty() {
        h.push_str("<h3>Prevalence of each long-term condition (% of the segment)</h3>");
        let (hd, body) = pick(&prevalence);
        h.push_str(&table(&hd, &body));
    }
    // Per financial year.
    let by_year = t.join("segments_by_year_published.csv");
    if by_year.exists() {
        let (yhead, yrows) = read_table(&by_year)?;
        let yat = |name: &str| yhead.iter().position(|c| c == name);
        let years: Vec<String> = {
            let mut y: Vec<String> = yrows.iter().map(|r| r[0].clone()).collect();
            y.dedup();
            y
        };
        h.push_str(r#"<h3 id="years">Spend per person by financial year</h3><p class="note">Persons segmented as above; spend in each year over everyone in the segment. A yearly figure is published only where the overall figure and every other year's are.</p>"#);
        if let Some(k) = yat("spend_per_person") {
            let mut hd = vec!["age group", "complexity"];
            hd.extend(years.iter().map(String::as_str));
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    let mut v = vec![r[0].clone(), r[1].clone()];
                    v.extend(years.iter().map(|y| {
                        yrows
                            .iter()
                            .find(|x| &x[0] == y && x[1] == r[0] && x[2] == r[1])
                            .map_or(String::new(), |x| cell_text("spend", &x[k]))
                    }));
                    v
                })
                .collect();
            h.push_str(&table(&hd, &body));
        }
        // The whole population's spend per person in each year by setting.
        let mut rows_y = Vec::new();
        for r in yrows.iter().filter(|r| r[1] == "all" && r[2] == "all") {
            for (k, c) in yhead.iter().enumerate() {
                if let Some(setting) = c.strip_prefix("spend_per_person_") {
                    if let Some(v) = r[k].parse::<f64>().ok().filter(|v| *v > 0.0) {
                        rows_y.push((format!("{} {}", r[0], setting.replace('_', " ")), v));
                    }
                }
            }
        }
        draw(
            h,
            charts,
            charts::bars(
                "spend_by_year",
                "Spend per person by financial year and setting (whole population)",
                &rows_y,
                "£",
            ),
        );
    }
    if options.theographs > 0 {
        let persons = crate::report::theograph::top_spenders(t, options.theographs)?;
        let events = crate::report::theograph::load(t, &persons)?;
        h.push_str(r#"<h2 id="theographs">Cohort view: the highest-spending persons on one time axis</h2><p class="note">Record-level pictures: keep this report inside the TRE, or make it without <code>--theographs</code>.</p>"#);
        h.push_str(&crate::report::theograph::render(&events));
    }
    Ok(())
}
