//! Theographs: a person's events on one time axis, one lane per setting, each event a circle
//! whose area grows with its cost — the picture a clinician or commissioner reads at a glance
//! ("three emergency admissions after the social care package stopped"). Several persons are
//! drawn one under another on a shared axis (a cohort view). Each person's heading gives their
//! age band, sex and long-term conditions from the timeline's persons table; a diamond marks the
//! first event flagging each condition (its onset as far as the data shows); only the lanes a
//! person has events in are drawn; a legend gives the lane colours and the cost scale. The output
//! is a self-contained SVG.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use arrow_array::{Array, Date32Array, Float64Array, StringArray};
use chrono::{Datelike, NaiveDate};

use crate::error::{Error, Result};
use crate::timeline::events::{SETTING_GROUPS, date_of, days_of, setting_group};

/// Lane colours, one per setting group (colour-blind-safe Okabe–Ito palette).
const COLOURS: [&str; 7] = ["#0072B2", "#D55E00", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#999999"];

/// One event to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event date.
    pub date: NaiveDate,
    /// Setting group index.
    pub group: usize,
    /// Cost, if recorded.
    pub cost: Option<f64>,
    /// Activity type, if recorded.
    pub activity: Option<String>,
}

/// One person's events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PersonEvents {
    /// Person id.
    pub person_id: String,
    /// Events with usable dates.
    pub events: Vec<Event>,
    /// Events left out (missing or impossible dates).
    pub undated: u64,
    /// Age band (`0-17`, `18-74`, `75+`, `unknown`), when the persons table gives it.
    pub age_group: Option<String>,
    /// Sex, when known.
    pub sex: Option<String>,
    /// Long-term conditions flagged on any of the person's records.
    pub conditions: Vec<String>,
    /// Each condition's first dated event flagging it: (condition, date).
    pub onsets: Vec<(String, NaiveDate)>,
}

/// Reads the events of `persons` from `TDIR/timeline.parquet`, in the order asked.
pub fn load(tdir: &Path, persons: &[String]) -> Result<Vec<PersonEvents>> {
    let path = tdir.join("timeline.parquet");
    let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .and_then(|b| b.build())
        .map_err(|_| Error::manifest(&path, "is not a readable Parquet file"))?;
    let mut found: BTreeMap<&str, PersonEvents> =
        persons.iter().map(|p| (p.as_str(), PersonEvents { person_id: p.clone(), ..Default::default() })).collect();
    let mut seen = vec![false; persons.len()];
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(&path, "could not be decoded"))?;
        let text = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let (Some(pid), Some(setting), Some(status), Some(activity)) =
            (text("person_id"), text("setting"), text("date_status"), text("activity_type"))
        else {
            return Err(Error::manifest(&path, "has event columns of the wrong type"));
        };
        let date = batch.column_by_name("event_date").and_then(|c| c.as_any().downcast_ref::<Date32Array>().cloned());
        let cost = batch.column_by_name("cost").and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned());
        let (Some(date), Some(cost)) = (date, cost) else {
            return Err(Error::manifest(&path, "has event columns of the wrong type"));
        };
        // Condition flags on events, where the extracts flag any (`ltc_<name>` columns).
        let flags: Vec<(String, arrow_array::BooleanArray)> = batch
            .schema()
            .fields()
            .iter()
            .filter_map(|f| {
                let name = f.name().strip_prefix("ltc_")?;
                let c = batch.column_by_name(f.name())?.as_any().downcast_ref::<arrow_array::BooleanArray>()?.clone();
                Some((name.to_string(), c))
            })
            .collect();
        for i in 0..batch.num_rows() {
            let Some(p) = found.get_mut(pid.value(i)) else { continue };
            if let Some(k) = persons.iter().position(|x| x == pid.value(i)) {
                seen[k] = true;
            }
            let d = (status.value(i) == "ok" && date.is_valid(i)).then(|| date_of(date.value(i))).flatten();
            if let Some(d) = d {
                for (name, f) in &flags {
                    if f.is_valid(i) && f.value(i) {
                        match p.onsets.iter_mut().find(|(n, _)| n == name) {
                            Some(o) => o.1 = o.1.min(d),
                            None => p.onsets.push((name.clone(), d)),
                        }
                    }
                }
            }
            match d {
                None => p.undated += 1,
                Some(d) => p.events.push(Event {
                    date: d,
                    group: if setting.is_valid(i) { setting_group(setting.value(i)) } else { SETTING_GROUPS.len() - 1 },
                    cost: cost.is_valid(i).then(|| cost.value(i)),
                    activity: activity.is_valid(i).then(|| activity.value(i).to_string()),
                }),
            }
        }
    }
    if let Some(k) = seen.iter().position(|s| !s) {
        return Err(Error::usage(format!(
            "no person `{}` in {}; person ids are in the timeline's persons.csv",
            persons[k],
            path.display()
        )));
    }
    let mut out: Vec<PersonEvents> = persons.iter().map(|p| found.remove(p.as_str()).unwrap_or_default()).collect();
    for p in &mut out {
        p.onsets.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    }
    add_profiles(tdir, &mut out)?;
    Ok(out)
}

/// Age band, sex and conditions of each person, from `TDIR/persons.parquet`.
fn add_profiles(tdir: &Path, persons: &mut [PersonEvents]) -> Result<()> {
    let path = tdir.join("persons.parquet");
    let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .and_then(|b| b.build())
        .map_err(|_| Error::manifest(&path, "is not a readable Parquet file"))?;
    let index: BTreeMap<String, usize> = persons.iter().enumerate().map(|(k, p)| (p.person_id.clone(), k)).collect();
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(&path, "could not be decoded"))?;
        let text = |n: &str| batch.column_by_name(n).and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let (Some(pid), Some(age), Some(sex)) = (text("person_id"), text("age_group"), text("sex")) else {
            return Err(Error::manifest(&path, "is not a pseudolink persons table"));
        };
        let flags: Vec<(&str, arrow_array::BooleanArray)> = batch
            .schema_ref()
            .fields()
            .iter()
            .filter_map(|f| {
                let c = batch.column_by_name(f.name())?.as_any().downcast_ref::<arrow_array::BooleanArray>()?.clone();
                Some((f.name().strip_prefix("ltc_")?, c))
            })
            .collect();
        for i in 0..batch.num_rows() {
            let Some(&k) = index.get(pid.value(i)) else { continue };
            let p = &mut persons[k];
            p.age_group = age.is_valid(i).then(|| age.value(i).to_string());
            p.sex = sex.is_valid(i).then(|| sex.value(i).to_string());
            p.conditions =
                flags.iter().filter(|(_, f)| f.is_valid(i) && f.value(i)).map(|(n, _)| n.to_string()).collect();
        }
    }
    Ok(())
}

/// The `n` persons with the highest spend per year in `TDIR/persons.parquet`.
pub fn top_spenders(tdir: &std::path::Path, n: usize) -> Result<Vec<String>> {
    let path = tdir.join("persons.parquet");
    let file = std::fs::File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let reader = crate::io::parquet::reader_builder(file)
        .and_then(|b| b.build())
        .map_err(|_| Error::manifest(&path, "is not a readable Parquet file"))?;
    let mut all: Vec<(f64, String)> = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|_| Error::manifest(&path, "could not be decoded"))?;
        let id = batch.column_by_name("person_id").and_then(|c| c.as_any().downcast_ref::<StringArray>().cloned());
        let sp =
            batch.column_by_name("spend_per_year").and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned());
        let (Some(id), Some(sp)) = (id, sp) else {
            return Err(Error::manifest(&path, "is not a pseudolink persons table"));
        };
        all.extend((0..batch.num_rows()).map(|i| (sp.value(i), id.value(i).to_string())));
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(all.into_iter().take(n).map(|(_, id)| id).collect())
}

pub use crate::report::charts::escape;

/// The radius of an event's circle: its area grows with the logarithm of its cost, so a £40
/// consultation and a £40,000 admission are both visible.
fn radius(cost: Option<f64>) -> f64 {
    2.5 + cost.map_or(0.0, |c| (1.0 + c.max(0.0)).log10() * 1.6).min(8.0)
}

/// An amount in pounds and pence with thousands separated: £10,590.22.
fn money(c: f64) -> String {
    let pence = (c.abs() * 100.0).round() as u64;
    let sign = if c < 0.0 { "-" } else { "" };
    format!("{sign}£{}.{:02}", crate::error::group_digits(pence / 100), pence % 100)
}

/// The person's heading: id, age band, sex, events, spend and conditions.
fn heading(p: &PersonEvents) -> String {
    let spend: f64 = p.events.iter().filter_map(|e| e.cost).sum();
    let mut parts = vec![p.person_id.clone()];
    if let Some(a) = &p.age_group {
        parts.push(format!("age {a}"));
    }
    if let Some(x) = &p.sex {
        parts.push(x.clone());
    }
    parts.push(format!("{} events", crate::error::group_digits(p.events.len() as u64)));
    parts.push(format!("£{}", crate::error::group_digits(spend.max(0.0).round() as u64)));
    if !p.conditions.is_empty() {
        parts.push(format!("conditions: {}", p.conditions.join(", ")));
    }
    let mut h = parts.join(" · ");
    if p.undated > 0 {
        h.push_str(&format!(" ({} undated, not shown)", p.undated));
    }
    h
}

/// Draws `persons` as one SVG document.
pub fn render(persons: &[PersonEvents]) -> String {
    let (width, left, right) = (960.0, 190.0, 20.0);
    let lane = 22.0;
    let header = 34.0;
    let legend = 46.0;
    let axis = 30.0;
    // Only the lanes a person has events in, and a row for condition onsets where there are any.
    let lanes: Vec<Vec<usize>> = persons
        .iter()
        .map(|p| (0..SETTING_GROUPS.len()).filter(|g| p.events.iter().any(|e| e.group == *g)).collect())
        .collect();
    let blocks: Vec<f64> = persons
        .iter()
        .zip(&lanes)
        .map(|(p, l)| header + lane * (l.len() + usize::from(!p.onsets.is_empty())) as f64 + 12.0)
        .collect();
    let height = legend + blocks.iter().sum::<f64>().max(header) + axis;
    let dates = persons.iter().flat_map(|p| p.events.iter().map(|e| e.date).chain(p.onsets.iter().map(|o| o.1)));
    let (lo, hi) = dates.fold((None::<NaiveDate>, None::<NaiveDate>), |(a, b), d| {
        (Some(a.map_or(d, |a| a.min(d))), Some(b.map_or(d, |b| b.max(d))))
    });
    let lo = lo.map(|d| NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)).unwrap_or(NaiveDate::MIN);
    let hi = hi.map(|d| NaiveDate::from_ymd_opt(d.year() + 1, 1, 1).unwrap_or(d)).unwrap_or(lo);
    let span = (days_of(hi) - days_of(lo)).max(1) as f64;
    let x = |d: NaiveDate| left + (days_of(d) - days_of(lo)) as f64 / span * (width - left - right);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="theograph" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img"><title>Theograph</title><rect width="100%" height="100%" fill="white"/>"#
    );
    // Legend: the settings drawn, and the cost scale.
    let used: Vec<usize> = (0..SETTING_GROUPS.len()).filter(|g| lanes.iter().any(|l| l.contains(g))).collect();
    let mut lx = 8.0;
    for g in &used {
        let label = SETTING_GROUPS[*g].1;
        let _ = write!(
            s,
            r#"<circle cx="{:.1}" cy="14" r="5" fill="{c}" fill-opacity="0.6" stroke="{c}"/><text x="{:.1}" y="18">{}</text>"#,
            lx + 5.0,
            lx + 14.0,
            escape(label),
            c = COLOURS[*g]
        );
        lx += 24.0 + 6.5 * label.chars().count() as f64;
    }
    let _ = write!(s, r#"<text x="8" y="40">circle size: cost (log scale)</text>"#);
    let mut cx = 190.0;
    for (cost, label) in
        [(None, "no cost"), (Some(100.0), "£100"), (Some(1_000.0), "£1,000"), (Some(10_000.0), "£10,000")]
    {
        let r = radius(cost);
        let _ = write!(
            s,
            r##"<circle cx="{cx:.1}" cy="36" r="{r:.1}" fill="#999" fill-opacity="0.5" stroke="#666"/><text x="{:.1}" y="40">{label}</text>"##,
            cx + r + 4.0
        );
        cx += 80.0;
    }
    let _ = write!(
        s,
        r##"<path d="M{0:.1} 30 l5 6 l-5 6 l-5 -6 z" fill="#333"/><text x="{1:.1}" y="40">first event flagging a condition</text>"##,
        cx + 10.0,
        cx + 20.0
    );
    let mut top = legend;
    for ((p, l), block) in persons.iter().zip(&lanes).zip(&blocks) {
        let _ = write!(s, r#"<text x="8" y="{:.1}" font-weight="bold">{}</text>"#, top + 20.0, escape(&heading(p)));
        for (row, g) in l.iter().enumerate() {
            let y = top + header + lane * row as f64 + lane / 2.0;
            let _ = write!(
                s,
                r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{}">{}</text>"##,
                width - right,
                left - 8.0,
                y + 4.0,
                COLOURS[*g],
                escape(SETTING_GROUPS[*g].1)
            );
        }
        for e in &p.events {
            let row = l.iter().position(|g| *g == e.group).unwrap_or(0);
            let y = top + header + lane * row as f64 + lane / 2.0;
            let tip = format!(
                "{} {}{}",
                e.date,
                e.activity.as_deref().unwrap_or(SETTING_GROUPS[e.group].1),
                e.cost.map(|c| format!(", {}", money(c))).unwrap_or_default()
            );
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="{:.1}" fill="{}" fill-opacity="0.6" stroke="{}"><title>{}</title></circle>"#,
                x(e.date),
                radius(e.cost),
                COLOURS[e.group],
                COLOURS[e.group],
                escape(&tip)
            );
        }
        if !p.onsets.is_empty() {
            let y = top + header + lane * l.len() as f64 + lane / 2.0;
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">conditions</text>"##,
                left - 8.0,
                y + 4.0
            );
            for (name, d) in &p.onsets {
                let _ = write!(
                    s,
                    r##"<path class="onset" d="M{:.1} {:.1} l5 6 l-5 6 l-5 -6 z" fill="#333"><title>{} first flagged {d}</title></path>"##,
                    x(*d),
                    y - 6.0,
                    escape(name)
                );
            }
            // The names beside each date's diamond (onsets are sorted by date).
            let mut k = 0;
            while k < p.onsets.len() {
                let d = p.onsets[k].1;
                let names: Vec<&str> = p.onsets[k..].iter().take_while(|o| o.1 == d).map(|o| o.0.as_str()).collect();
                k += names.len();
                let _ = write!(
                    s,
                    r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#333">{}</text>"##,
                    x(d) + 8.0,
                    y + 4.0,
                    escape(&names.join(", "))
                );
            }
        }
        top += block;
    }
    let base = height - axis;
    let _ = write!(s, r##"<line x1="{left}" x2="{:.1}" y1="{base:.1}" y2="{base:.1}" stroke="#333"/>"##, width - right);
    let mut year = lo.year();
    while let Some(d) = NaiveDate::from_ymd_opt(year, 1, 1).filter(|d| *d <= hi) {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{legend}" y2="{base:.1}" stroke="#eee"/><text x="{0:.1}" y="{1:.1}" text-anchor="middle">{year}</text>"##,
            x(d),
            base + 18.0
        );
        year += 1;
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_circle_per_dated_event_in_its_lane() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let p = PersonEvents {
            person_id: "P1<&>".into(),
            events: vec![
                Event { date: d(2023, 5, 1), group: 1, cost: Some(4000.0), activity: Some("emergency".into()) },
                Event { date: d(2024, 2, 1), group: 5, cost: Some(40.0), activity: None },
            ],
            undated: 1,
            age_group: Some("75+".into()),
            sex: Some("F".into()),
            conditions: vec!["diabetes".into()],
            onsets: vec![("diabetes".into(), d(2023, 5, 1))],
        };
        let svg = render(&[p]);
        // Two events, and the legend's lane and cost circles.
        let legend_circles = 2 + 4;
        assert_eq!(svg.matches("<circle").count(), 2 + legend_circles);
        assert!(svg.contains("age 75+ · F") && svg.contains("conditions: diabetes"), "{svg}");
        assert_eq!(svg.matches("class=\"onset\"").count(), 1);
        assert!(svg.contains("circle size: cost"));
        // Only the two lanes with events are drawn.
        assert_eq!(svg.matches("stroke=\"#ddd\"").count(), 2);
        assert!(svg.contains("P1&lt;&amp;&gt;") && svg.contains("1 undated"));
        assert!(svg.contains(">2023<") && svg.contains(">2024<"));
        // The costly admission is drawn larger than the consultation.
        assert!(radius(Some(4000.0)) > radius(Some(40.0)));
        assert!(svg.contains("emergency, £4,000.00"), "{svg}");
        assert_eq!(money(-1234.5), "-£1,234.50");
        assert!(svg.contains(&format!("r=\"{:.1}\"", radius(Some(4000.0)))));
    }
}
