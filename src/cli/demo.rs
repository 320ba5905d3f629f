//! `pseudolink demo`: the pipeline end to end on a synthetic population, narrated.

use std::path::PathBuf;
use std::time::Instant;

use crate::config::TokeniseConfig;
use crate::error::{Error, Result, group_digits};
use crate::synth::config::SynthConfig;
use crate::synth::{SynthFormat, generate};
use crate::token::ProjectKey;
use crate::token::key::KeyRole;
use crate::tokenise::{TokeniseOptions, tokenise};

/// The demo's default population: large enough to show the speed (about 1.5 million records),
/// small enough to finish in well under a minute on two cores.
pub(crate) const DEMO_PERSONS: u64 = 200_000;

/// The file that marks a folder as the demo's own, so a later demo may write over it.
const DEMO_MARKER: &str = ".pseudolink-demo";

/// The tag of a key the demo made: a keyed hash, so only the key's holder can produce it.
fn demo_tag(key: &ProjectKey) -> String {
    let mac = crate::token::TokenMac::new(&crate::token::Subkey::derive(key, &crate::token::Purpose::DemoMarker));
    hex::encode(mac.token(b"pseudolink demo").0)
}

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Runs the pipeline on a synthetic population: generates it, makes a project key, tokenises
every provider's extract as that provider's IG team would, applies the TRE's second key as the
extracts enter the TRE (rekey), links them into persons, measures the accuracy against the known
truth, audits what an insider could learn from the extracts without a key, builds timelines and
the population tables, and writes the report, printing each stage with its time and where the
outputs are.

EXAMPLE:
  pseudolink demo
  pseudolink demo --persons 100000 --out demo-out")]
pub(crate) struct Args {
    /// Persons in the synthetic population.
    #[arg(long, default_value_t = DEMO_PERSONS, value_name = "N")]
    pub(crate) persons: u64,
    /// Seed of the population.
    #[arg(long, default_value_t = crate::synth::config::DEFAULT_SEED, value_name = "S")]
    pub(crate) seed: u64,
    /// Output folder: new, empty, or an earlier demo's (whose files are replaced).
    #[arg(long, default_value = "demo-out", value_name = "DIR")]
    pub(crate) out: PathBuf,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let say = |s: String| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let plain = args.out.join("plaintext");
    let tokens = args.out.join("pseudonymised");
    let key_path = args.out.join("project.key");
    let marker = args.out.join(DEMO_MARKER);
    if args.out.exists() {
        let empty =
            std::fs::read_dir(&args.out).map_err(|e| Error::io("reading folder", &args.out, e))?.next().is_none();
        if !empty && !marker.is_file() {
            return Err(Error::usage(format!(
                "{}: the folder exists, is not empty and was not made by `pseudolink demo` (it has no {DEMO_MARKER} \
                 file); the demo writes only into a new or empty folder or an earlier demo's. Choose another --out",
                args.out.display()
            )));
        }
    }
    // The marker holds a tag of each key the demo made, computable only with that key's secret (a
    // key id would not do: it is public). A later demo deletes a key only if its tag is there, so
    // a real key placed in the folder, even beside a planted marker, is never lost.
    let made_here = std::fs::read_to_string(&marker).unwrap_or_default();
    let tre_key_path = args.out.join("tre.key");
    for (path, role) in [(&key_path, KeyRole::Project), (&tre_key_path, KeyRole::Tre)] {
        if std::fs::symlink_metadata(path).is_err() {
            continue;
        }
        let vouched = ProjectKey::read_file_as(path, role)
            .is_ok_and(|k| made_here.lines().any(|l| l.trim() == format!("key-tag: {}", demo_tag(&k))));
        if !vouched {
            return Err(Error::usage(format!(
                "{}: a key the demo did not make; the demo never deletes it. Move it away, or choose another --out",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| Error::io("removing the earlier demo key", path, e))?;
        say(format!(
            "pseudolink demo: replacing the key an earlier demo made at {} (only a demo's own keys are ever replaced)",
            path.display()
        ));
    }
    crate::io::atomic::create_output_dir(&args.out)?;
    crate::io::atomic::write_atomic(
        &marker,
        b"made by pseudolink demo: a later demo may replace this folder's files\n",
    )?;
    crate::io::atomic::create_output_dir(&tokens)?;

    say(format!("pseudolink demo: {} synthetic persons, seed {}", group_digits(args.persons), args.seed));
    let t = Instant::now();
    let cfg = SynthConfig { persons: args.persons, seed: args.seed, ..SynthConfig::default() };
    let pop = generate(&cfg, &plain, SynthFormat::Csv, None)?;
    let records: u64 = pop.providers.iter().map(|p| p.records).sum();
    say(format!(
        "1. synth      {} records across {} providers, with known truth     {:>6.1} s  → {}",
        group_digits(records),
        pop.providers.len(),
        t.elapsed().as_secs_f64(),
        plain.display()
    ));

    let t = Instant::now();
    let key = ProjectKey::generate()?;
    key.write_new_file(&key_path)?;
    let stamp = |tags: &[String]| {
        let mut text = String::from("made by pseudolink demo: a later demo may replace this folder's files\n");
        for t in tags {
            text.push_str(&format!("key-tag: {t}\n"));
        }
        crate::io::atomic::write_atomic(&marker, text.as_bytes())
    };
    stamp(&[demo_tag(&key)])?;
    say(format!(
        "2. keygen     project key id {}                      {:>6.1} s  → {}",
        key.id(),
        t.elapsed().as_secs_f64(),
        key_path.display()
    ));

    let t = Instant::now();
    let mut lines = Vec::new();
    for p in &pop.providers {
        let config = TokeniseConfig::read(&p.config)?;
        let out = tokens.join(format!("{}.parquet", p.source));
        let done = tokenise(&config, &key, &p.extract, &out, &TokeniseOptions::default())?;
        let r = &done.report;
        let valid = r.nhs_number.as_ref().and_then(|n| n.statuses.get("valid").copied()).unwrap_or(0);
        crate::io::atomic::write_atomic(&tokens.join(format!("{}.quality.txt", p.source)), r.to_text().as_bytes())?;
        lines.push(format!(
            "     {:<13} {:>10} rows  {:>5.1}% valid NHS numbers  {:>5.2} s",
            p.source,
            group_digits(r.rows_written),
            100.0 * valid as f64 / r.rows_written.max(1) as f64,
            done.elapsed.as_secs_f64()
        ));
    }
    say(format!(
        "3. tokenise   every provider's extract, keyed, no identifiers out     {:>6.1} s  → {}",
        t.elapsed().as_secs_f64(),
        tokens.display()
    ));
    for l in lines {
        say(l);
    }
    say(format!("   inspect an extract with: pseudolink inspect {}", tokens.join("gp.parquet").display()));

    // Where the extracts enter the TRE: the second key, which no provider holds.
    let t = Instant::now();
    let tre_dir = args.out.join("tre");
    let tre_key = ProjectKey::generate()?;
    tre_key.write_new_file_as(&tre_key_path, KeyRole::Tre)?;
    stamp(&[demo_tag(&key), demo_tag(&tre_key)])?;
    crate::io::atomic::create_output_dir(&tre_dir)?;
    let mut extracts = Vec::new();
    for p in &pop.providers {
        let name = format!("{}.parquet", p.source);
        crate::token::rekey::rekey_file(&tre_key, &tokens.join(&name), &tre_dir.join(&name))?;
        extracts.push(tre_dir.join(&name));
    }
    say(format!(
        "4. rekey      TRE key {} applied as extracts enter the TRE    {:>6.1} s  → {}",
        tre_key.id(),
        t.elapsed().as_secs_f64(),
        tre_dir.display()
    ));
    say("     every token now depends on both keys: neither the providers nor the TRE can reverse one alone".into());

    // Last month: every source but the last had delivered. This month the last one joins, and
    // the linkage is refreshed: persons keep last month's ids.
    let t = Instant::now();
    let earlier = args.out.join("linked-last-month");
    let options = crate::link::LinkOptions::default();
    let month1 = crate::link::link(&extracts[..extracts.len() - 1], &options, &|_| {})?;
    let (lkey, save) = crate::link::output::linkage_key(&earlier, None)?;
    crate::link::output::write(&month1, &earlier, &lkey, save, None)?;
    let persons_before = month1.summary.clustering.persons;
    drop(month1);
    let linked = args.out.join("linked");
    let l = crate::link::link(&extracts, &options, &|_| {})?;
    let previous = crate::link::refresh::Previous::read(&earlier)?;
    let (lkey, save) = crate::link::output::linkage_key(&linked, None)?;
    let refresh = crate::link::output::write(&l, &linked, &lkey, save, Some(&previous))?.unwrap_or_default();
    let s = &l.summary;
    say(format!(
        "5. link       last month without {}: {} persons; this month with it, refreshed   {:>6.1} s  → {}",
        pop.providers.last().map_or("", |p| p.source.as_str()),
        group_digits(persons_before),
        t.elapsed().as_secs_f64(),
        linked.display()
    ));
    say(format!(
        "     {} persons kept last month's id, {} are new; {} merged, {} split (listed in {})",
        group_digits(refresh.persons_kept),
        group_digits(refresh.persons_new),
        group_digits(refresh.merged),
        group_digits(refresh.split),
        linked.join(crate::link::refresh::CHANGES_FILE).display()
    ));
    say(format!(
        "     {} records → {} persons; {} candidate pairs",
        group_digits(s.records.total),
        group_digits(s.clustering.persons),
        group_digits(s.blocking.candidate_pairs)
    ));
    say(format!(
        "     {} NHS-number links, {} probabilistic links, {} refused (they would join different NHS numbers)",
        group_digits(s.deterministic.links),
        group_digits(s.clustering.links_accepted),
        group_digits(s.clustering.links_refused_conflict)
    ));

    let t = Instant::now();
    let e = crate::link::evaluate::evaluate(&pop.truth, &linked)?;
    say(format!(
        "6. evaluate   against the synthetic truth                             {:>6.1} s",
        t.elapsed().as_secs_f64()
    ));
    say(format!(
        "     pairwise precision {:.4}, recall {:.4}, F1 {:.4}; persons exactly right: {:.1}% of {}",
        e.precision,
        e.recall,
        e.f1,
        100.0 * e.cluster_recall,
        group_digits(e.true_persons)
    ));
    say(format!(
        "   persons: {}   model: {}",
        linked.join("clusters.parquet").display(),
        linked.join("model.json").display()
    ));

    let t = Instant::now();
    let options = crate::audit::AuditOptions { linkage: Some(linked.clone()), ..Default::default() };
    let audit = crate::audit::audit(&extracts, &options)?;
    let audit_path = args.out.join("audit.txt");
    crate::io::atomic::write_atomic(&audit_path, audit.to_text().as_bytes())?;
    let family = audit.attacks.iter().find(|a| a.column.starts_with("family")).map_or(0.0, |a| a.named);
    say(format!(
        "7. audit      what a TRE insider could learn without a key              {:>6.1} s  → {}",
        t.elapsed().as_secs_f64(),
        audit_path.display()
    ));
    say(format!(
        "     family names named by a frequency attack: {:.1}% (estimated); named and unique: {:.2}%; {}",
        100.0 * family,
        100.0 * audit.uniqueness.named_and_unique,
        if audit.failed.is_empty() {
            "within every limit".to_string()
        } else {
            format!("{} limit(s) exceeded", audit.failed.len())
        }
    ));

    let t = Instant::now();
    let tdir = args.out.join("timeline");
    // The synthetic activity runs to the end of the financial year 2024-25.
    let as_of = chrono::NaiveDate::from_ymd_opt(2025, 3, 31).expect("a valid date");
    let options = crate::timeline::TimelineOptions { config: Default::default(), as_of: Some(as_of) };
    let ts = crate::timeline::timeline(&linked, &extracts, &tdir, &options, &|_| {})?;
    say(format!(
        "8. timeline   {} events of {} persons across {} financial years     {:>6.1} s  → {}",
        group_digits(ts.events),
        group_digits(ts.persons),
        ts.financial_years.len(),
        t.elapsed().as_secs_f64(),
        tdir.display()
    ));
    say(format!(
        "     {} events without a usable date kept and flagged; segmentation table: {}",
        group_digits(ts.date_missing + ts.date_impossible),
        tdir.join("segments_published.csv").display()
    ));

    let t = Instant::now();
    let report = args.out.join("report.html");
    let built = crate::report::html::build(&linked, Some(&tdir), &Default::default())?;
    let specs = serde_json::to_string_pretty(&built.vega_lite()).unwrap_or_default() + "\n";
    crate::io::atomic::write_atomic(&crate::report::html::charts_path(&report), specs.as_bytes())?;
    crate::io::atomic::write_atomic(&report, built.html.as_bytes())?;
    let top = crate::report::theograph::top_spenders(&tdir, 1)?;
    let svg = args.out.join("theograph.svg");
    crate::io::atomic::write_atomic(
        &svg,
        crate::report::theograph::render(&crate::report::theograph::load(&tdir, &top)?).as_bytes(),
    )?;
    say(format!(
        "9. report     linkage and population report, self-contained HTML   {:>6.1} s  → {}",
        t.elapsed().as_secs_f64(),
        report.display()
    ));
    say(format!("   theograph of the highest-spending person: {}", svg.display()));
    v.result(
        "demo",
        serde_json::json!({
            "out": args.out.display().to_string(),
            "persons": args.persons,
            "records": records,
            "linked": linked.display().to_string(),
            "persons_linked": s.clustering.persons,
            "precision": e.precision,
            "recall": e.recall,
            "f1": e.f1,
            "timeline": tdir.display().to_string(),
            "report": report.display().to_string(),
            "theograph": svg.display().to_string(),
        }),
    )
}
