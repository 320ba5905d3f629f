//! `pseudolink timeline`, `theograph` and `report` end to end on a linked synthetic population.

use std::collections::{HashMap, HashSet};

use crate::util::{Dir, column_values, text, tokenised_population};

fn floats(path: &std::path::Path, name: &str) -> Vec<Option<f64>> {
    column_values(path, name).into_iter().map(|v| v.map(|s| s.parse().unwrap())).collect()
}

/// A linked population of 1,500 persons: (dir, extracts).
fn linked() -> (Dir, Vec<String>) {
    let d = Dir::new();
    let extracts = tokenised_population(&d, "1500", "31");
    let mut args = vec!["link"];
    args.extend(extracts.iter().map(String::as_str));
    args.extend(["--out", "l", "-q"]);
    d.ok(&args);
    (d, extracts)
}

fn timeline_args<'a>(extracts: &'a [String], out: &'a str) -> Vec<&'a str> {
    let mut args = vec!["timeline", "--links", "l", "--out", out, "--as-of", "2025-03-31", "-q"];
    args.extend(extracts.iter().map(String::as_str));
    args
}

#[test]
fn every_event_once_sorted_with_spend_preserved_and_a_report_that_renders() {
    let (d, extracts) = linked();
    d.ok(&timeline_args(&extracts, "t"));
    let tl = d.path("t/timeline.parquet");
    // Every input record is one event.
    let truth = std::fs::read_to_string(d.path("s/truth.csv")).unwrap();
    let records: HashSet<(String, String)> =
        truth.lines().skip(1).map(|l| l.split(',').collect::<Vec<_>>()).map(|r| (r[0].into(), r[1].into())).collect();
    let sources = column_values(&tl, "source");
    let ids = column_values(&tl, "record_id");
    assert_eq!(ids.len(), records.len());
    let events: HashSet<(String, String)> =
        sources.into_iter().zip(ids).map(|(s, r)| (s.unwrap(), r.unwrap())).collect();
    assert_eq!(events, records);
    // Sorted by person, then date.
    let persons = column_values(&tl, "person_id");
    let dates = column_values(&tl, "event_date");
    for i in 1..persons.len() {
        assert!(persons[i - 1] <= persons[i], "not sorted by person at {i}");
        if persons[i - 1] == persons[i] {
            if let (Some(a), Some(b)) = (&dates[i - 1], &dates[i]) {
                assert!(a <= b, "not sorted by date at {i}");
            }
        }
    }
    // Costs: the timeline holds exactly the extracts' costs.
    let input_cost: f64 = extracts.iter().map(|e| floats(&d.path(e), "cost").into_iter().flatten().sum::<f64>()).sum();
    let costs = floats(&tl, "cost");
    let timeline_cost: f64 = costs.iter().flatten().sum();
    assert!((input_cost - timeline_cost).abs() < 1e-6 * input_cost, "{input_cost} vs {timeline_cost}");
    // Per person: spend per year × years equals the person's dated events' costs.
    let status = column_values(&tl, "date_status");
    let mut by_person: HashMap<String, f64> = HashMap::new();
    for i in 0..persons.len() {
        if status[i].as_deref() == Some("ok") {
            *by_person.entry(persons[i].clone().unwrap()).or_default() += costs[i].unwrap_or(0.0);
        }
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path("t/timeline_summary.json")).unwrap()).unwrap();
    let years = summary["financial_years"].as_array().unwrap().len() as f64;
    assert_eq!(years, 3.0, "the synthetic activity spans three financial years");
    let pp = d.path("t/persons.parquet");
    let ids = column_values(&pp, "person_id");
    let spend = floats(&pp, "spend_per_year");
    assert_eq!(ids.len(), summary["persons"].as_u64().unwrap() as usize);
    // The synthetic configs release the year of birth, so nearly everyone has an age group.
    let aged = column_values(&pp, "year_of_birth").iter().filter(|v| v.is_some()).count();
    assert!(aged * 100 > ids.len() * 98, "{aged} of {} persons have a year of birth", ids.len());
    for (id, s) in ids.iter().zip(&spend) {
        let want = by_person.get(id.as_ref().unwrap()).copied().unwrap_or(0.0);
        assert!((s.unwrap() * years - want).abs() < 0.2, "{id:?}: {s:?} × {years} vs {want}");
    }
    // Published segmentation: no small count survives.
    let published = std::fs::read_to_string(d.path("t/segments_published.csv")).unwrap();
    for row in published.lines().skip(1) {
        let pop = row.split(',').nth(2).unwrap();
        if pop != "*" {
            let n: f64 = pop.parse().unwrap();
            assert!(n == 0.0 || (n >= 8.0 && n % 5.0 == 0.0), "{row}");
        }
    }

    // A theograph of the top spender; an unknown person is refused with nothing written.
    d.ok(&["theograph", "--timeline", "t", "--top", "2", "--out", "top.svg"]);
    let svg = std::fs::read_to_string(d.path("top.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<circle").count() > 2);
    let err = d.fails(&["theograph", "--timeline", "t", "--person", "P-nobody", "--out", "x.svg"], 2);
    assert!(err.contains("no person `P-nobody`"), "{err}");
    assert!(!d.path("x.svg").exists());

    // The report: self-contained, and renders in a real browser without console errors.
    // By default the report holds aggregates only (issue 10, finding 3); theographs when asked.
    d.ok(&["report", "--links", "l", "--timeline", "t", "--out", "aggregate.html"]);
    let plain = std::fs::read_to_string(d.path("aggregate.html")).unwrap();
    assert!(!plain.contains("Example theographs"), "record-level content by default");
    let person_ids = crate::util::column_values(&d.path("l/clusters.parquet"), "person_id");
    assert!(person_ids.iter().flatten().all(|p| !plain.contains(p.as_str())), "a person id in the default report");
    assert!(plain.contains("no identifier, token, person id or record-level event is in this report"));
    d.ok(&["report", "--links", "l", "--timeline", "t", "--theographs", "--out", "report.html"]);
    let html = std::fs::read_to_string(d.path("report.html")).unwrap();
    assert!(html.contains("keep this report inside the TRE"));
    for section in ["Linkage summary", "Estimated error", "Match-weight", "m and u", "Blocking", "Cluster sizes"] {
        assert!(html.contains(section), "{section}");
    }
    assert!(html.contains("segmentation") && html.contains("<circle"));
    let without_namespaces = html.replace("http://www.w3.org/2000/svg", "");
    for fetch in ["http://", "https://", "src=", "url(", "<script", "<link"] {
        assert!(!without_namespaces.contains(fetch), "the report must fetch nothing: {fetch}");
    }
    browser_renders(&d.path("report.html"));
}

/// Renders `page` in headless Chromium: the DOM must hold the charts, and the console must show
/// no error (a fetch the page's Content Security Policy blocks is one). Chromium is installed by
/// `.ci/run`; elsewhere the check is skipped with a note unless PSEUDOLINK_REQUIRE_BROWSER is set.
fn browser_renders(page: &std::path::Path) {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()));
    let Some(chromium) = chromium else {
        assert!(std::env::var_os("PSEUDOLINK_REQUIRE_BROWSER").is_none(), "no chromium, but a browser is required");
        eprintln!("note: chromium not found; the report was not rendered in a browser");
        return;
    };
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = text(&out.stdout);
    let log = text(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(dom.contains("Trained model") && dom.matches("<svg").count() >= 4, "the charts are not in the DOM");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Refused to")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
}

#[test]
fn links_from_other_extracts_and_missing_mapped_columns_are_refused() {
    let (d, extracts) = linked();
    // Linked without social care, then a timeline asked of all five extracts.
    let mut args = vec!["link"];
    args.extend(extracts[..4].iter().map(String::as_str));
    args.extend(["--out", "l4", "-q"]);
    d.ok(&args);
    let mut args = timeline_args(&extracts, "t4");
    args[2] = "l4";
    let err = d.fails(&args, 1);
    assert!(err.contains("social_care.parquet") && err.contains("different set of extracts"), "{err}");
    // One extract left out: the linkage holds records no extract gives.
    let err = d.fails(&timeline_args(&extracts[..4], "t5"), 2);
    assert!(err.contains("records of source `social_care` that no extract given holds"), "{err}");
    // A mapping naming a column the extract lacks.
    d.write("tl.toml", "[sources.acute]\ncost = \"spell_cost\"\n");
    let mut args = timeline_args(&extracts, "t6");
    args.extend(["--config", "tl.toml"]);
    let err = d.fails(&args, 1);
    assert!(err.contains("acute.parquet") && err.contains("no column `spell_cost`"), "{err}");
    for t in ["t4", "t5", "t6"] {
        assert!(!d.path(&format!("{t}/timeline_summary.json")).exists());
        assert!(!d.path(&format!("{t}/timeline.parquet")).exists());
    }
}
