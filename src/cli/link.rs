//! `pseudolink link`: pseudonymised extracts in, persons out.

use std::path::PathBuf;

use crate::error::{Error, Result, group_digits};
use crate::io::outputs::{self, Input};
use crate::link::model::Model;
use crate::link::{link, output};

/// Arguments of `link`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Links pseudonymised extracts (from `pseudolink tokenise`, all under one project key): records
sharing a valid NHS-number token are linked; other candidate pairs, found by blocking rules on
tokens, are scored by a Fellegi-Sunter model trained on the data (u from random pairs, m from
NHS-number labels and EM) and linked at or above --threshold; links are clustered into persons,
never joining two different valid NHS numbers.

Writes to DIR: clusters.parquet (every record with its person id), pairs.parquet (scored
candidate pairs with a match probability of at least 0.001 — all with --all-pairs — with each
comparison's level and weight), model.json and summary.json (written
last: a folder without it is not a finished linkage). Outputs are private (0600) unless
--group-readable is given.

Person ids are keyed by a linkage key that never leaves the TRE: DIR/linkage.key (0600), made by
the first run into DIR and reused by later runs into it, or the file given by --linkage-key (made
there if missing). Keep it to keep person ids stable; without it nobody can tell which record a
person id stands for.

EXAMPLE:
  pseudolink link acute.parquet ae.parquet gp.parquet --out linked/
  pseudolink link *.parquet --out linked2/ --model linked/model.json
  pseudolink link *.parquet --out linked3/ --config link.toml     (see docs/linkage.md)
  pseudolink link *.parquet --out linked-2026-12/ --previous linked-2026-11/   (monthly refresh)")]
pub(crate) struct Args {
    /// Pseudonymised extracts.
    #[arg(required = true)]
    pub(crate) extracts: Vec<PathBuf>,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Link pairs at or above this match probability (default 0.9).
    #[arg(long)]
    pub(crate) threshold: Option<f64>,
    /// Use this trained model (model.json of an earlier run) instead of training.
    #[arg(long, value_name = "MODEL.json")]
    pub(crate) model: Option<PathBuf>,
    /// Seed of random-pair sampling for u (default 42).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Largest block compared; larger blocks are skipped and reported.
    #[arg(long)]
    pub(crate) max_block: Option<usize>,
    /// Most candidate pairs compared; a run that would make more is refused before making them
    /// (default: 10,000,000 plus 50 per distinct identity). Each rule is checked on its pairs before
    /// those earlier rules found are taken out, so the check errs towards refusing; exit status 1.
    #[arg(long, value_name = "N")]
    pub(crate) max_pairs: Option<u64>,
    /// A link config (TOML): thresholds, blocking rules and training settings.
    #[arg(long, value_name = "LINK.toml")]
    pub(crate) config: Option<PathBuf>,
    /// The linkage key that person ids are keyed by (made there if missing; by default
    /// DIR/linkage.key).
    #[arg(long, value_name = "KEYFILE")]
    pub(crate) linkage_key: Option<PathBuf>,
    /// Which pairs may link: link_and_dedupe (default), link_only (only across sources) or
    /// dedupe_only (only within each source).
    #[arg(long, value_name = "TYPE")]
    pub(crate) link_type: Option<String>,
    /// Write every candidate pair to pairs.parquet, not only those with a match probability of
    /// at least 0.001 (summary.json counts the others either way).
    #[arg(long)]
    pub(crate) all_pairs: bool,
    /// Link each record to at most one record of the other source: two extracts, each free of
    /// duplicates, with --link-type link_only. Links are taken by descending match weight.
    #[arg(long)]
    pub(crate) one_to_one: bool,
    /// A monthly refresh: the folder of the earlier linkage. Persons keep its person ids (the
    /// id held by most of their earlier records); merges, splits and retired ids are listed in
    /// DIR/person_changes.parquet and counted in summary.json. Its linkage key is used unless
    /// --linkage-key is given.
    #[arg(long, value_name = "EARLIER_DIR")]
    pub(crate) previous: Option<PathBuf>,
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let file = args.config.as_deref().map(crate::link::config::LinkConfig::read).transpose()?;
    // Flags are settings too: checked by the config's own rules.
    let flags = crate::link::config::LinkConfig {
        threshold: args.threshold,
        seed: args.seed,
        max_block: args.max_block,
        max_pairs: args.max_pairs,
        link_type: args.link_type.clone(),
        pairs_floor: args.all_pairs.then_some(0.0),
        one_to_one: args.one_to_one.then_some(true),
        ..Default::default()
    };
    let mut options = crate::link::config::LinkConfig::options(file.as_ref(), &flags).map_err(|problems| {
        let flag = |p: &String| {
            p.replace("`threshold`", "--threshold")
                .replace("`max_block`", "--max-block")
                .replace("link_type `", "--link-type `")
                .replace("`one_to_one`", "--one-to-one")
        };
        Error::usage(problems.iter().map(flag).collect::<Vec<_>>().join("; "))
    })?;
    let outs = crate::link::output_paths(&args.out);
    let key_out = args.out.join(output::LINKAGE_KEY_FILE);
    let mut out_refs: Vec<&std::path::Path> = outs.iter().map(PathBuf::as_path).collect();
    // Written by a refresh, and removed by every run as a stale output: an output either way.
    let changes_out = args.out.join(crate::link::refresh::CHANGES_FILE);
    out_refs.push(&changes_out);
    out_refs.push(&key_out);
    let mut inputs: Vec<Input<'_>> =
        args.extracts.iter().map(|p| Input { path: p, what: "an input extract" }).collect();
    inputs.extend(args.config.as_deref().map(|p| Input { path: p, what: "the link config" }));
    inputs.extend(args.model.as_deref().map(|p| Input { path: p, what: "the model" }));
    let previous_clusters = args.previous.as_ref().map(|d| d.join("clusters.parquet"));
    inputs.extend(previous_clusters.as_deref().map(|p| Input { path: p, what: "the earlier linkage's clusters" }));
    if args.linkage_key.as_deref().is_some_and(|k| k != key_out.as_path()) {
        out_refs.pop();
        inputs.extend(args.linkage_key.as_deref().map(|p| Input { path: p, what: "the linkage key" }));
    } else if key_out.exists() {
        // A linkage key already in the folder is read and reused, never written: not an output.
        out_refs.pop();
    }
    outputs::check(&out_refs, &inputs)?;
    let model = match &args.model {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io("reading model", p, e))?;
            Some(Model::from_json(&text).map_err(|m| Error::usage(format!("{}: {m}", p.display())))?)
        }
    };
    options.model = model;
    let log = |s: &str| {
        if !quiet {
            eprintln!("pseudolink: {s}");
        }
    };
    // The earlier linkage and the linkage key first: a wrong file is refused before the linkage
    // runs. A refresh keys new persons' ids with the earlier linkage's key, and keeps it.
    let t = std::time::Instant::now();
    let previous = args.previous.as_deref().map(crate::link::refresh::Previous::read).transpose()?;
    if let (Some(p), Some(dir)) = (&previous, &args.previous) {
        log(&format!(
            "earlier linkage {}: {} records of {} persons, read in {:.1} s",
            dir.display(),
            group_digits(p.records()),
            group_digits(p.persons()),
            t.elapsed().as_secs_f64()
        ));
    }
    let earlier_key = args.previous.as_ref().map(|d| d.join(output::LINKAGE_KEY_FILE)).filter(|k| k.exists());
    let (key, save_key) = match (&earlier_key, &args.linkage_key) {
        (Some(k), None) if !key_out.exists() => {
            (crate::token::ProjectKey::read_file_as(k, crate::token::key::KeyRole::Linkage)?, true)
        }
        _ => output::linkage_key(&args.out, args.linkage_key.as_deref())?,
    };
    let l = link(&args.extracts, &options, &log)?;
    if let Some(p) = &previous {
        p.check_fits(&l).map_err(|m| {
            Error::usage(format!(
                "--previous {}: {m}",
                args.previous.as_deref().unwrap_or_else(|| std::path::Path::new("")).display()
            ))
        })?;
    }
    let t = std::time::Instant::now();
    let refresh = output::write(&l, &args.out, &key, save_key, previous.as_ref())?;
    log(&format!("outputs written in {:.1} s", t.elapsed().as_secs_f64()));
    if !quiet {
        let s = &l.summary;
        eprintln!(
            "pseudolink: linked {} records into {} persons ({} NHS-number links, {} probabilistic, {} refused for conflicting NHS numbers) → {}",
            group_digits(s.records.total),
            group_digits(s.clustering.persons),
            group_digits(s.deterministic.links),
            group_digits(s.clustering.links_accepted),
            group_digits(s.clustering.links_refused_conflict),
            args.out.display()
        );
        if let Some(r) = refresh.as_ref().filter(|r| r.records_previous == 0) {
            eprintln!(
                "pseudolink: warning: none of these {} records was in the earlier linkage: all {} persons have new ids. \
                 Check that --previous names the linkage of earlier deliveries of these sources",
                group_digits(r.records_new),
                group_digits(r.persons_new)
            );
        }
        if let Some(r) = &refresh {
            eprintln!(
                "pseudolink: refresh: {} persons kept their earlier id, {} are new; {} merged, {} split, {} retired (listed in {})",
                group_digits(r.persons_kept),
                group_digits(r.persons_new),
                group_digits(r.merged),
                group_digits(r.split),
                group_digits(r.retired),
                args.out.join(crate::link::refresh::CHANGES_FILE).display()
            );
        }
    }
    v.result("link", serde_json::json!({ "out": args.out.display().to_string(), "summary": l.summary }))
}
