//! Charts for the report: each drawn once as inline SVG (no script, so the report's strict
//! Content Security Policy holds) and described once as a Vega-Lite specification over the same
//! data, written beside the report so notebooks can restyle it (`alt.Chart.from_dict`).
//!
//! A chart is its data: rows of named values. The SVG and the Vega-Lite forms are two renderings
//! of those rows, so they cannot disagree.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::error::group_digits;

/// The Vega-Lite schema the specifications follow.
pub const VEGA_LITE_SCHEMA: &str = "https://vega.github.io/schema/vega-lite/v5.json";

/// Colours safe for colour-blind readers (Okabe–Ito).
const BLUE: &str = "#0072B2";
const ORANGE: &str = "#E69F00";
const GREEN: &str = "#009E73";
const RED: &str = "#D55E00";

/// One chart: an id (the key in the Vega-Lite file and the SVG's `id`), its title, its SVG and
/// its Vega-Lite specification.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Stable identifier, e.g. `match_weights`.
    pub id: &'static str,
    /// Inline SVG.
    pub svg: String,
    /// Vega-Lite specification with the data inline.
    pub vega_lite: Value,
}

fn spec(title: &str, values: Vec<Value>, rest: Value) -> Value {
    let mut s = json!({ "$schema": VEGA_LITE_SCHEMA, "title": title, "data": { "values": values } });
    if let (Value::Object(o), Value::Object(r)) = (&mut s, rest) {
        o.extend(r);
    }
    s
}

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A number as people read it: thousands separated, at most three decimals.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        let s = group_digits(v.abs() as u64);
        if v < 0.0 { format!("-{s}") } else { s }
    } else if v.abs() >= 1000.0 {
        let s = group_digits(v.abs().round() as u64);
        if v < 0.0 { format!("-{s}") } else { s }
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

fn open_svg(id: &str, title: &str, w: f64, h: f64) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="chart-{id}" class="chart" role="img" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-size="12" font-family="sans-serif"><title>{}</title>"#,
        escape(title)
    )
}

/// Horizontal bars, one per label.
pub fn bars(id: &'static str, title: &str, rows: &[(String, f64)], unit: &str) -> Chart {
    bars_marked(id, title, rows, unit, None)
}

/// Horizontal bars with a marked line before row `mark.0` (a threshold), labelled `mark.1`;
/// bars from the mark on are drawn in a second colour.
pub fn bars_marked(
    id: &'static str,
    title: &str,
    rows: &[(String, f64)],
    unit: &str,
    mark: Option<(usize, String)>,
) -> Chart {
    let max = rows.iter().map(|r| r.1).fold(0.0f64, f64::max).max(1e-12);
    let (w, left, row) = (760.0, 230.0, 20.0);
    let gap = if mark.is_some() { 20.0 } else { 0.0 };
    let h = row * rows.len().max(1) as f64 + 10.0 + gap;
    let mut s = open_svg(id, title, w, h);
    let mut shift = 0.0;
    for (i, (l, v)) in rows.iter().enumerate() {
        let above = mark.as_ref().is_some_and(|m| i >= m.0);
        if let Some((_, label)) = mark.as_ref().filter(|m| m.0 == i) {
            let y = i as f64 * row + 4.0 + 8.0;
            let _ = write!(
                s,
                r##"<line x1="10" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#444" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"##,
                w - 10.0,
                left,
                y - 2.0,
                escape(label)
            );
            shift = gap;
        }
        let y = i as f64 * row + 4.0 + shift;
        let bw = (w - left - 110.0) * v.max(0.0) / max;
        let fill = if above { GREEN } else { BLUE };
        // Money reads £1,234; other units follow the number.
        let (pre, post) = if unit == "£" { ("£", "") } else { ("", unit) };
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{bw:.1}" height="{:.0}" fill="{fill}"/><text x="{:.1}" y="{:.1}">{pre}{}{}</text>"#,
            left - 6.0,
            y + 12.0,
            escape(l),
            row - 6.0,
            left + bw + 4.0,
            y + 12.0,
            fmt_num(*v),
            escape(post)
        );
    }
    s.push_str("</svg>");
    let values = rows
        .iter()
        .enumerate()
        .map(|(i, (l, v))| {
            let mut o = json!({ "label": l, "value": v });
            if let Some(m) = &mark {
                o["above_mark"] = json!(i >= m.0);
            }
            o
        })
        .collect();
    let vega_lite = spec(
        title,
        values,
        json!({
            "mark": "bar",
            "encoding": {
                "y": { "field": "label", "type": "nominal", "sort": null, "title": null },
                "x": { "field": "value", "type": "quantitative", "title": unit.trim() },
            }
        }),
    );
    Chart { id, svg: s, vega_lite }
}

/// A bar per (group, label) on a scale centred on zero: match weights, positive to the right
/// in blue, negative to the left in orange, grouped under their group's heading.
pub fn diverging(id: &'static str, title: &str, rows: &[(String, String, f64)], unit: &str) -> Chart {
    let max = rows.iter().map(|r| r.2.abs()).fold(0.0f64, f64::max).max(1e-12);
    let (w, left, row) = (760.0, 300.0, 18.0);
    let mid = left + (w - left - 20.0) / 2.0;
    let half = (w - left - 80.0) / 2.0;
    let mut lines = 0usize;
    let mut last: Option<&str> = None;
    for r in rows {
        if last != Some(r.0.as_str()) {
            lines += 1;
            last = Some(&r.0);
        }
        lines += 1;
    }
    let h = row * lines as f64 + 28.0;
    let mut s = open_svg(id, title, w, h);
    let _ = write!(s, r##"<line x1="{mid:.1}" y1="0" x2="{mid:.1}" y2="{:.1}" stroke="#888"/>"##, h - 20.0);
    let mut y = 4.0;
    let mut last: Option<&str> = None;
    for (g, l, v) in rows {
        if last != Some(g.as_str()) {
            let _ = write!(s, r#"<text x="4" y="{:.1}" font-weight="bold">{}</text>"#, y + 12.0, escape(g));
            y += row;
            last = Some(g);
        }
        let bw = half * v.abs() / max;
        let x = if *v >= 0.0 { mid } else { mid - bw };
        // A negative value's number goes right of the axis, clear of the level's label.
        let (fill, tx, anchor) = if *v >= 0.0 { (BLUE, mid + bw + 4.0, "start") } else { (ORANGE, mid + 4.0, "start") };
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{:.0}" fill="{fill}"/><text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}">{:+.2}</text>"#,
            left - 6.0,
            y + 12.0,
            escape(l),
            row - 4.0,
            y + 12.0,
            v
        );
        y += row;
    }
    let _ = write!(s, r#"<text x="{mid:.1}" y="{:.1}" text-anchor="middle">{}</text></svg>"#, h - 6.0, escape(unit));
    let values = rows.iter().map(|(g, l, v)| json!({ "comparison": g, "level": l, "value": v })).collect();
    let vega_lite = spec(
        title,
        values,
        json!({
            "mark": "bar",
            "encoding": {
                "row": { "field": "comparison", "type": "nominal", "sort": null, "title": null },
                "y": { "field": "level", "type": "nominal", "sort": null, "title": null },
                "x": { "field": "value", "type": "quantitative", "title": unit },
                "color": { "condition": { "test": "datum.value < 0", "value": ORANGE }, "value": BLUE },
            },
            "resolve": { "scale": { "y": "independent" } }
        }),
    );
    Chart { id, svg: s, vega_lite }
}

/// Two bars per label (one per series), on a shared 0–1 scale: m and u probabilities.
pub fn paired(id: &'static str, title: &str, rows: &[(String, f64, f64)], series: [&str; 2]) -> Chart {
    let (w, left, row) = (760.0, 300.0, 24.0);
    let h = row * rows.len().max(1) as f64 + 30.0;
    let span = w - left - 90.0;
    let mut s = open_svg(id, title, w, h);
    for (i, (l, a, b)) in rows.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{:.1}" height="9" fill="{GREEN}"/><text x="{:.1}" y="{:.1}" font-size="10">{a:.4}</text><rect x="{left}" y="{:.1}" width="{:.1}" height="9" fill="{RED}"/><text x="{:.1}" y="{:.1}" font-size="10">{b:.2e}</text>"#,
            left - 6.0,
            y + 14.0,
            escape(l),
            span * a.clamp(0.0, 1.0),
            left + span * a.clamp(0.0, 1.0) + 4.0,
            y + 8.0,
            y + 10.0,
            span * b.clamp(0.0, 1.0),
            left + span * b.clamp(0.0, 1.0) + 4.0,
            y + 18.0,
        );
    }
    let ly = h - 10.0;
    let _ = write!(
        s,
        r#"<rect x="{left}" y="{:.1}" width="10" height="10" fill="{GREEN}"/><text x="{:.1}" y="{ly:.1}">{}</text><rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{RED}"/><text x="{:.1}" y="{ly:.1}">{}</text></svg>"#,
        ly - 9.0,
        left + 14.0,
        escape(series[0]),
        left + 140.0,
        ly - 9.0,
        left + 154.0,
        escape(series[1])
    );
    let values = rows
        .iter()
        .flat_map(|(l, a, b)| {
            [
                json!({ "label": l, "series": series[0], "value": a }),
                json!({ "label": l, "series": series[1], "value": b }),
            ]
        })
        .collect();
    let vega_lite = spec(
        title,
        values,
        json!({
            "mark": "bar",
            "encoding": {
                "y": { "field": "label", "type": "nominal", "sort": null, "title": null },
                "yOffset": { "field": "series" },
                "x": { "field": "value", "type": "quantitative", "scale": { "domain": [0, 1] } },
                "color": { "field": "series", "type": "nominal" },
            }
        }),
    );
    Chart { id, svg: s, vega_lite }
}

/// Lines of (x, y) points, y on 0–1, with a vertical marker at `mark_x` (the threshold).
pub fn lines(
    id: &'static str,
    title: &str,
    x_title: &str,
    series: &[(String, Vec<(f64, f64)>)],
    mark_x: Option<f64>,
) -> Chart {
    let (w, h, left, bottom, top, right) = (760.0, 300.0, 50.0, 40.0, 10.0, 150.0);
    let xs = series.iter().flat_map(|s| s.1.iter().map(|p| p.0));
    let (x0, x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (x0, x1) = if x0.is_finite() && x1 > x0 { (x0, x1) } else { (0.0, 1.0) };
    let ys = series.iter().flat_map(|s| s.1.iter().map(|p| p.1));
    let y0 = ys.fold(1.0f64, f64::min).clamp(0.0, 1.0);
    let y0 = (y0 * 10.0).floor() / 10.0;
    let y0 = if y0 >= 1.0 { 0.9 } else { y0 };
    let px = |x: f64| left + (w - left - right) * (x - x0) / (x1 - x0);
    let py = |y: f64| top + (h - top - bottom) * (1.0 - (y - y0) / (1.0 - y0));
    let mut s = open_svg(id, title, w, h);
    // Axes and ticks.
    let _ = write!(
        s,
        r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888"/><line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="#888"/>"##,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for k in 0..=4 {
        let y = y0 + (1.0 - y0) * k as f64 / 4.0;
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end">{y:.3}</text><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#eee"/>"##,
            left - 4.0,
            py(y) + 4.0,
            py(y),
            w - right,
            py(y)
        );
    }
    for k in 0..=5 {
        let x = x0 + (x1 - x0) * k as f64 / 5.0;
        let _ = write!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{x:.1}</text>"#, px(x), h - bottom + 16.0);
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        left + (w - left - right) / 2.0,
        h - 6.0,
        escape(x_title)
    );
    if let Some(m) = mark_x.filter(|m| *m >= x0 && *m <= x1) {
        let _ = write!(
            s,
            r##"<line x1="{:.1}" y1="{top}" x2="{:.1}" y2="{:.1}" stroke="#444" stroke-dasharray="4 3"/><text x="{:.1}" y="{:.1}">threshold</text>"##,
            px(m),
            px(m),
            h - bottom,
            px(m) + 3.0,
            top + 12.0
        );
    }
    let colours = [BLUE, ORANGE, GREEN, RED];
    for (k, (name, pts)) in series.iter().enumerate() {
        let c = colours[k % colours.len()];
        let dash = if k >= 2 { r#" stroke-dasharray="6 3""# } else { "" };
        let path: Vec<String> = pts.iter().map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(y.max(y0)))).collect();
        let _ = write!(s, r#"<polyline fill="none" stroke="{c}" stroke-width="2"{dash} points="{}"/>"#, path.join(" "));
        let ly = top + 16.0 * k as f64 + 10.0;
        let _ = write!(
            s,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{c}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{}</text>"#,
            w - right + 8.0,
            w - right + 28.0,
            w - right + 32.0,
            ly + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>");
    let values = series
        .iter()
        .flat_map(|(name, pts)| pts.iter().map(move |(x, y)| json!({ "series": name, "x": x, "y": y })))
        .collect();
    let vega_lite = spec(
        title,
        values,
        json!({
            "mark": "line",
            "encoding": {
                "x": { "field": "x", "type": "quantitative", "title": x_title },
                "y": { "field": "y", "type": "quantitative", "scale": { "zero": false } },
                "color": { "field": "series", "type": "nominal" },
            }
        }),
    );
    Chart { id, svg: s, vega_lite }
}

/// A grid of cells (row label × column label), shaded by value, each printed: the segmentation
/// as population-health packs lay it out (age groups down, complexity across).
pub fn grid(
    id: &'static str,
    title: &str,
    rows: &[&str],
    cols: &[&str],
    cells: &[(usize, usize, Option<f64>, String)],
) -> Chart {
    let (left, top, cw, ch) = (90.0, 24.0, 170.0, 44.0);
    let w = left + cw * cols.len() as f64 + 10.0;
    let h = top + ch * rows.len() as f64 + 6.0;
    let max = cells.iter().filter_map(|c| c.2).fold(0.0f64, f64::max).max(1e-12);
    let mut s = open_svg(id, title, w, h);
    for (j, c) in cols.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="16" text-anchor="middle" font-weight="bold">{}</text>"#,
            left + cw * (j as f64 + 0.5),
            escape(c)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end" font-weight="bold">{}</text>"#,
            left - 8.0,
            top + ch * (i as f64 + 0.5) + 4.0,
            escape(r)
        );
    }
    for (i, j, v, text) in cells {
        let (x, y) = (left + cw * *j as f64, top + ch * *i as f64);
        let fill = match v {
            Some(v) => format!("rgba(0,114,178,{:.2})", 0.08 + 0.6 * v / max),
            None => "#f3f3f3".into(),
        };
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}" stroke="#fff"/>"##,
            cw - 2.0,
            ch - 2.0
        );
        for (k, line) in text.split('\n').enumerate() {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + cw / 2.0,
                y + 17.0 + 15.0 * k as f64,
                escape(line)
            );
        }
    }
    s.push_str("</svg>");
    let values = cells
        .iter()
        .map(|(i, j, v, text)| json!({ "row": rows[*i], "column": cols[*j], "value": v, "text": text }))
        .collect();
    let vega_lite = spec(
        title,
        values,
        json!({
            "encoding": {
                "y": { "field": "row", "type": "ordinal", "sort": rows, "title": null },
                "x": { "field": "column", "type": "ordinal", "sort": cols, "title": null },
            },
            "layer": [
                { "mark": "rect", "encoding": { "color": { "field": "value", "type": "quantitative" } } },
                { "mark": "text", "encoding": { "text": { "field": "text" } } }
            ]
        }),
    );
    Chart { id, svg: s, vega_lite }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_and_vega_lite_hold_the_same_rows() {
        let c = bars("sizes", "Cluster sizes", &[("1".into(), 1200.0), ("2 <b>".into(), 35.0)], " persons");
        assert!(c.svg.starts_with("<svg") && c.svg.ends_with("</svg>"));
        assert!(c.svg.contains("1,200 persons") && c.svg.contains("2 &lt;b&gt;"), "{}", c.svg);
        assert_eq!(c.vega_lite["data"]["values"].as_array().unwrap().len(), 2);
        assert_eq!(c.vega_lite["data"]["values"][1]["label"], "2 <b>");
        assert_eq!(c.vega_lite["$schema"], VEGA_LITE_SCHEMA);
    }

    #[test]
    fn diverging_bars_go_left_for_negative_weights() {
        let c = diverging(
            "w",
            "weights",
            &[("dob".into(), "exact".into(), 8.0), ("dob".into(), "else".into(), -6.0)],
            "bits",
        );
        assert!(c.svg.contains("+8.00") && c.svg.contains("-6.00"));
        assert!(c.svg.contains(ORANGE) && c.svg.contains(BLUE));
        assert_eq!(c.svg.matches("font-weight=\"bold\">dob<").count(), 1, "one heading per comparison");
    }

    #[test]
    fn numbers_read_with_separators() {
        assert_eq!(fmt_num(36375.0), "36,375");
        assert_eq!(fmt_num(-1234.6), "-1,235");
        assert_eq!(fmt_num(0.5), "0.500");
        assert_eq!(fmt_num(f64::NAN), "–");
    }

    #[test]
    fn lines_and_grids_draw_every_series_and_cell() {
        let l = lines(
            "sweep",
            "t",
            "threshold",
            &[("precision".into(), vec![(0.0, 0.9), (1.0, 1.0)]), ("recall".into(), vec![(0.0, 1.0), (1.0, 0.8)])],
            Some(0.5),
        );
        assert_eq!(l.svg.matches("<polyline").count(), 2);
        assert!(l.svg.contains(">threshold<"));
        let g = grid(
            "g",
            "t",
            &["0-17", "75+"],
            &["low", "high"],
            &[(0, 0, Some(1.0), "a\nb".into()), (1, 1, None, "*".into())],
        );
        assert_eq!(g.svg.matches("<rect").count(), 2);
        assert_eq!(g.vega_lite["data"]["values"][1]["value"], Value::Null);
    }
}
