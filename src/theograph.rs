//! Theographs: a person's events on one time axis, one lane per setting, each event a circle
//! whose area grows with its cost — the picture a clinician or commissioner reads at a glance
//! ("three emergency admissions after the social care package stopped"). Several persons are
//! drawn one under another on a shared axis. The output is a self-contained SVG.

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
}

/// Reads the events of `persons` from `TDIR/timeline.parquet`, in the order asked.
pub fn load(tdir: &Path, persons: &[String]) -> Result<Vec<PersonEvents>> {
    let path = tdir.join("timeline.parquet");
    let wanted = ["person_id", "setting", "event_date", "date_status", "activity_type", "cost"];
    let reader =
        crate::io::parquet::read_columns(&path, &wanted, "is not a pseudolink timeline (it lacks the event columns)")?;
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
        for i in 0..batch.num_rows() {
            let Some(p) = found.get_mut(pid.value(i)) else { continue };
            if let Some(k) = persons.iter().position(|x| x == pid.value(i)) {
                seen[k] = true;
            }
            let d = (status.value(i) == "ok" && date.is_valid(i)).then(|| date_of(date.value(i))).flatten();
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
    Ok(persons.iter().map(|p| found.remove(p.as_str()).unwrap_or_default()).collect())
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

/// Escapes text for SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Draws `persons` as one SVG document.
pub fn render(persons: &[PersonEvents]) -> String {
    let (width, left, right) = (960.0, 190.0, 20.0);
    let lane = 22.0;
    let header = 34.0;
    let block = header + lane * SETTING_GROUPS.len() as f64 + 12.0;
    let axis = 30.0;
    let height = block * persons.len().max(1) as f64 + axis;
    let dates = persons.iter().flat_map(|p| p.events.iter().map(|e| e.date));
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
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img"><title>Theograph</title><rect width="100%" height="100%" fill="white"/>"#
    );
    for (k, p) in persons.iter().enumerate() {
        let top = k as f64 * block;
        let spend: f64 = p.events.iter().filter_map(|e| e.cost).sum();
        let _ = write!(
            s,
            r#"<text x="8" y="{:.1}" font-weight="bold">{} — {} events, £{:.0}{}</text>"#,
            top + 20.0,
            escape(&p.person_id),
            p.events.len(),
            spend,
            if p.undated > 0 { format!(" ({} undated, not shown)", p.undated) } else { String::new() }
        );
        for (g, (_, label, _)) in SETTING_GROUPS.iter().enumerate() {
            let y = top + header + lane * g as f64 + lane / 2.0;
            let _ = write!(
                s,
                r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="{}">{}</text>"##,
                width - right,
                left - 8.0,
                y + 4.0,
                COLOURS[g],
                escape(label)
            );
        }
        for e in &p.events {
            let y = top + header + lane * e.group as f64 + lane / 2.0;
            let r = 2.5 + e.cost.map_or(0.0, |c| (1.0 + c.max(0.0)).log10() * 1.6).min(8.0);
            let tip = format!(
                "{} {}{}",
                e.date,
                e.activity.as_deref().unwrap_or(SETTING_GROUPS[e.group].1),
                e.cost.map(|c| format!(", £{c:.2}")).unwrap_or_default()
            );
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{y:.1}" r="{r:.1}" fill="{}" fill-opacity="0.6" stroke="{}"><title>{}</title></circle>"#,
                x(e.date),
                COLOURS[e.group],
                COLOURS[e.group],
                escape(&tip)
            );
        }
    }
    let base = height - axis;
    let _ = write!(s, r##"<line x1="{left}" x2="{:.1}" y1="{base:.1}" y2="{base:.1}" stroke="#333"/>"##, width - right);
    let mut year = lo.year();
    while let Some(d) = NaiveDate::from_ymd_opt(year, 1, 1).filter(|d| *d <= hi) {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="0" y2="{base:.1}" stroke="#eee"/><text x="{0:.1}" y="{1:.1}" text-anchor="middle">{year}</text>"##,
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
        };
        let svg = render(&[p]);
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("P1&lt;&amp;&gt;") && svg.contains("1 undated"));
        assert!(svg.contains(">2023<") && svg.contains(">2024<"));
        // The costly admission is drawn larger than the consultation.
        let radii: Vec<f64> =
            svg.split(" r=\"").skip(1).map(|s| s.split('"').next().unwrap().parse().unwrap()).collect();
        assert!(radii[0] > radii[1], "{radii:?}");
    }
}
