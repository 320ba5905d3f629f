//! `link`: pseudonymised extracts in, persons out — Splink's model on tokens.
//!
//! 1. **Checks** ([`data`]): one key id and format version across extracts.
//! 2. **Identities**: records whose identifying tokens are all equal (a GP's many encounters of
//!    one registration) are compared once, as one identity, when they hold an NHS number or both a
//!    family name and a date of birth; their records belong together.
//! 3. **Blocking** ([`blocking`]) proposes candidate pairs; **comparisons** ([`compare`]) grade
//!    each field's agreement into levels.
//! 4. **Training** ([`train`]): u from random pairs, m from the pairs NHS numbers link, then EM
//!    over pattern counts with u fixed; the prior from EM.
//! 5. **Prediction** ([`predict`]): a match weight and probability per candidate pair, with each
//!    comparison's contribution.
//! 6. **Clustering** ([`cluster`]): NHS-number links, then accepted probabilistic links by
//!    descending weight, refusing any that would join two different valid NHS numbers.
//! 7. **Outputs** ([`output`]): clusters, scored pairs, model and summary, each written
//!    atomically.

pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod components;
pub mod config;
pub mod data;
pub mod deterministic;
pub mod evaluate;
pub mod explain;
pub mod identity;
pub mod model;
pub mod output;
pub mod pair_stats;
pub mod pairs;
pub mod pipeline;
pub mod placeholders;
pub mod predict;
pub mod refresh;
pub mod summary;
pub mod term_frequency;
pub mod train;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::Result;
use blocking::{DEFAULT_MAX_BLOCK, default_rules};
use compare::{ComparisonDef, Comparisons, Pattern, Thresholds};
use data::Records;
use model::Model;
use term_frequency::TermFrequencies;

pub use summary::Summary;

/// Default match probability at and above which a pair is linked.
pub const DEFAULT_THRESHOLD: f64 = 0.9;
/// Default seed for random-pair sampling.
pub const DEFAULT_SEED: u64 = 42;

/// Options for a linkage run.
#[derive(Debug, Clone)]
pub struct LinkOptions {
    /// Link pairs at or above this match probability.
    pub threshold: f64,
    /// Seed of the u sample.
    pub seed: u64,
    /// Largest block compared.
    pub max_block: usize,
    /// Random pairs for u.
    pub u_sample: usize,
    /// A trained model to use instead of training.
    pub model: Option<Model>,
    /// Name-similarity thresholds.
    pub thresholds: Thresholds,
    /// A probabilistic link that would join different valid NHS numbers is refused unless its
    /// match probability is at least this (see [`cluster`]).
    pub conflict_override: f64,
    /// Blocking rules.
    pub rules: Vec<Vec<blocking::Key>>,
    /// Adjust exact name agreement by how common the name is ([`term_frequency`]).
    pub term_frequency: bool,
    /// Most candidate pairs a run may compare; `None`: [`DEFAULT_MAX_PAIRS_BASE`] plus
    /// [`DEFAULT_MAX_PAIRS_PER_IDENTITY`] per identity.
    pub max_pairs: Option<u64>,
    /// The comparisons; `None`: one built-in comparison for every field the extracts hold
    /// ([`compare::builtin`]).
    pub comparisons: Option<Vec<ComparisonDef>>,
    /// Which pairs may link: across sources, within them, or both.
    pub link_type: LinkType,
    /// Candidate pairs below this match probability are scored and counted but not written to
    /// `pairs.parquet` (0: write every pair).
    pub pairs_floor: f64,
    /// Link each record to at most one record of the other source (two sources, `link_only`):
    /// for two files each free of duplicates, as the FEBRL-style benchmarks assume. Links are
    /// taken by descending weight; a record already linked refuses the rest.
    pub one_to_one: bool,
}

/// Default floor of `pairs.parquet`: pairs less likely than this to match are not written (as
/// Splink's `predict(threshold_match_probability=…)`). At national scale most candidate pairs
/// are strangers sharing a common name and year of birth, and writing them took more time than
/// linking; `summary.json` still counts them, their expected matches and their weights.
pub const DEFAULT_PAIRS_FLOOR: f64 = 0.001;

/// Which record pairs a linkage may link, as Splink's `link_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    /// Records of different sources and of the same source (duplicates within a provider).
    #[default]
    LinkAndDedupe,
    /// Only records of different sources; each source is taken as free of duplicates.
    LinkOnly,
    /// Only records of the same source: each extract deduplicated on its own.
    DedupeOnly,
}

impl LinkType {
    /// The name configs and models use.
    pub fn name(self) -> &'static str {
        match self {
            LinkType::LinkAndDedupe => "link_and_dedupe",
            LinkType::LinkOnly => "link_only",
            LinkType::DedupeOnly => "dedupe_only",
        }
    }

    /// The link type a config or model names.
    pub fn parse(s: &str) -> Option<LinkType> {
        match s {
            "link_and_dedupe" => Some(LinkType::LinkAndDedupe),
            "link_only" => Some(LinkType::LinkOnly),
            "dedupe_only" => Some(LinkType::DedupeOnly),
            _ => None,
        }
    }

    /// Whether records of sources `a` and `b` may be linked.
    #[inline]
    pub fn allows(self, a: u16, b: u16) -> bool {
        match self {
            LinkType::LinkAndDedupe => true,
            LinkType::LinkOnly => a != b,
            LinkType::DedupeOnly => a == b,
        }
    }
}

/// Fewest identity pairs sharing an NHS number for the prior to be estimated from them; below
/// it, from a deterministic rule on names and date of birth.
pub const MIN_NHS_PAIRS_FOR_PRIOR: u64 = 50;

/// Candidate pairs always allowed.
pub const DEFAULT_MAX_PAIRS_BASE: u64 = 10_000_000;
/// Candidate pairs allowed per identity beyond the base. Real linkages make a few per identity
/// (3.7 at national scale with the default rules); far more means blocks of unrelated records,
/// whether from a rule too loose for the data or from a file crafted to exhaust the machine.
pub const DEFAULT_MAX_PAIRS_PER_IDENTITY: u64 = 50;

impl LinkOptions {
    /// The match weight of [`LinkOptions::threshold`].
    pub fn threshold_weight(&self) -> f64 {
        (self.threshold / (1.0 - self.threshold)).log2()
    }

    /// The match weight of [`LinkOptions::conflict_override`].
    pub fn override_weight(&self) -> f64 {
        (self.conflict_override / (1.0 - self.conflict_override)).log2()
    }
}

impl Default for LinkOptions {
    fn default() -> Self {
        LinkOptions {
            threshold: DEFAULT_THRESHOLD,
            seed: DEFAULT_SEED,
            max_block: DEFAULT_MAX_BLOCK,
            u_sample: train::u::DEFAULT_U_SAMPLE,
            model: None,
            thresholds: Thresholds::default(),
            conflict_override: DEFAULT_CONFLICT_OVERRIDE,
            rules: default_rules(),
            term_frequency: true,
            max_pairs: None,
            comparisons: None,
            link_type: LinkType::default(),
            pairs_floor: DEFAULT_PAIRS_FLOOR,
            one_to_one: false,
        }
    }
}

/// Default match probability above which a link may join different valid NHS numbers: about
/// 20 bits of evidence, which takes exact agreement on names, date of birth and postcode — a
/// duplicate registration given a temporary number — and is out of reach of twins.
pub const DEFAULT_CONFLICT_OVERRIDE: f64 = 0.999_999;

/// How a record was linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Shares a valid NHS-number token with another record of its person.
    NhsNumber,
    /// Joined by an accepted probabilistic link.
    Probabilistic,
    /// Only by identical identifying tokens with other records.
    Identical,
    /// A person of one record.
    Unlinked,
}

impl Stage {
    /// As written in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::NhsNumber => "nhs_number",
            Stage::Probabilistic => "probabilistic",
            Stage::Identical => "identical",
            Stage::Unlinked => "unlinked",
        }
    }
}

/// Everything a linkage run produced, in memory.
#[derive(Debug)]
pub struct Linkage {
    /// The records.
    pub records: Records,
    /// Identity per record.
    pub identity: Vec<u32>,
    /// Representative record per identity.
    pub reps: Vec<u32>,
    /// The comparisons patterns are made of.
    pub comparisons: Comparisons,
    /// Candidate pairs (identity positions) with their patterns and weights.
    pub pairs: Vec<(u32, u32, Pattern, f64)>,
    /// The model used.
    pub model: Model,
    /// Name frequencies for the model's term-frequency adjusted levels.
    pub term_frequencies: TermFrequencies,
    /// Person number per record (0-based, in order of first record).
    pub person: Vec<u32>,
    /// Link stage per record.
    pub stage: Vec<Stage>,
    /// Best match probability per record (over its identity's candidate pairs; 1 for identical).
    pub best: Vec<f64>,
    /// The summary.
    pub summary: Summary,
}

/// Links `files`; `log` receives progress lines.
pub fn link(files: &[PathBuf], options: &LinkOptions, log: &dyn Fn(&str)) -> Result<Linkage> {
    let t = Instant::now();
    let records = Records::load(files)?;
    link_records(records, t.elapsed().as_secs_f64(), options, log)
}

/// Links extracts already loaded ([`Records::load`] from files, [`Records::from_arrow`] from
/// Arrow batches in memory); `load_seconds` is reported as the load stage's time. The stages are
/// those of [`pipeline`], run here on one machine.
pub fn link_records(records: Records, load_seconds: f64, options: &LinkOptions, log: &dyn Fn(&str)) -> Result<Linkage> {
    let mut run = pipeline::prepare(records, load_seconds, options, log)?;
    let t = Instant::now();
    let (cands, blocking) = run.candidates(options)?;
    run.time("blocking", t);
    log(&format!("{} candidate pairs", crate::error::group_digits(cands.len() as u64)));
    let t = Instant::now();
    // One row per identity of the columns the comparisons read: the pairs' comparison and
    // scoring read it instead of the records' columns (see `compare::View`).
    let view = run.view();
    let patterns = predict::patterns(&view, &run.comparisons, &cands);
    let compare_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let trained = run.train(&predict::pattern_counts(&patterns), options, log)?;
    let tf = run.term_frequencies(&trained.model);
    let training_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let scored = run.score(&view, &cands, &patterns, &trained.model, &tf);
    drop(view);
    run.record("compare", compare_seconds);
    run.record("training", training_seconds);
    drop(cands);
    drop(patterns);
    let stats = pipeline::PairStats::of(&scored, run.reps.len(), options.pairs_floor);
    Ok(run.finish(scored, stats, blocking, trained, tf, options, t))
}

/// The blocking rules a run can use. Default rules whose fields no extract holds are left out (an
/// extract set without NHS numbers simply has no NHS-number rule) and said so; a rule the user
/// configured that cannot be used is an error, as is having no usable rule at all.
fn usable_rules(
    records: &Records,
    rules: &[Vec<blocking::Key>],
    log: &dyn Fn(&str),
) -> Result<Vec<Vec<blocking::Key>>> {
    let defaults = rules == default_rules().as_slice();
    let all = if defaults { blocking::default_rules_for(records) } else { rules.to_vec() };
    let show = |rule: &[blocking::Key]| format!("[{}]", rule.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "));
    let mut usable = Vec::new();
    for rule in &all {
        match rule.iter().find(|k| !k.present(records)) {
            None => usable.push(rule.clone()),
            Some(k) if defaults => {
                log(&format!("default blocking rule {} left out: no extract holds {}", show(rule), k.name()))
            }
            Some(blocking::Key::Field(f)) if records.extra(f).is_none() => {
                return Err(crate::error::Error::usage(format!(
                    "blocking rule {} uses `{f}`, which is not a blocking key nor an identifier or string field of these \
                     extracts; the keys are nhs_number, given_exact, given_phonetic, family_exact, family_phonetic, dob, \
                     dob_year, postcode, postcode_district, or an identifier or string field's name",
                    show(rule)
                )));
            }
            Some(k) => {
                return Err(crate::error::Error::usage(format!(
                    "blocking rule {} uses `{}`, which no extract holds; remove the rule or tokenise that field",
                    show(rule),
                    k.name()
                )));
            }
        }
    }
    if usable.is_empty() {
        return Err(crate::error::Error::usage(
            "no blocking rule can be used: the extracts hold none of the fields the default rules block on (NHS \
             number, date of birth with a name, postcode with a name, names with year of birth); give rules on the \
             fields they hold in a link config",
        ));
    }
    Ok(usable)
}

/// The match weight below which a pair is not written to `pairs.parquet` (none for a floor of 0).
pub fn floor_weight(floor: f64) -> f64 {
    if floor > 0.0 { (floor / (1.0 - floor)).log2() } else { f64::NEG_INFINITY }
}

/// The two-bit histogram bin of a match weight (weights clamped to ±40 bits).
pub fn weight_bin(w: f64) -> i64 {
    (w.clamp(-40.0, 40.0) / 2.0).floor() as i64 * 2
}

/// Output file names in a linkage folder.
pub fn output_paths(dir: &Path) -> [PathBuf; 4] {
    ["clusters.parquet", "pairs.parquet", "model.json", "summary.json"].map(|f| dir.join(f))
}
