//! The linkage as named stages, so that each can run where it fits: [`crate::link::link_records`]
//! runs them all on one machine; a Spark job (the Python package's `pseudolink.spark`) runs
//! blocking, comparison and scoring of candidate pairs on its executors with the same kernels
//! ([`crate::link::pairs`]) and the record-level stages here on its driver.
//!
//! 1. [`prepare`]: placeholders set aside, identities, comparisons, usable blocking rules.
//! 2. [`Prepared::candidates`]: blocking (pairs of identity positions).
//! 3. comparison: [`crate::link::predict::patterns`], counted by pattern.
//! 4. [`Prepared::train`] from the pattern counts (u and the prior from the records), and
//!    [`Prepared::term_frequencies`].
//! 5. [`Prepared::score`]: a match weight per pair; [`PairStats`] of all of them.
//! 6. [`Prepared::finish`]: NHS-number links, clustering of the pairs at or above the threshold,
//!    persons per record and the summary.

use std::time::Instant;

use rayon::prelude::*;

use crate::error::Result;
use crate::link::blocking::{RuleReport, candidate_pairs};
use crate::link::cluster::{Clusters, Offered, offer, offer_order};
use crate::link::compare::{Comparisons, Pattern, View, default_comparisons};
use crate::link::data::Records;
use crate::link::model::Model;
use crate::link::term_frequency::TermFrequencies;
use crate::link::train::em::EmReport;
use crate::link::{
    DEFAULT_MAX_PAIRS_BASE, DEFAULT_MAX_PAIRS_PER_IDENTITY, LinkOptions, Linkage, Stage, Summary, deterministic,
    identity, placeholders, train, usable_rules,
};

/// A linkage after its record-level preparation: what every later stage reads.
#[derive(Debug)]
pub struct Prepared {
    /// The records (placeholder NHS numbers removed).
    pub records: Records,
    /// Identity per record.
    pub identity: Vec<u32>,
    /// Representative record per identity.
    pub reps: Vec<u32>,
    /// The comparisons.
    pub comparisons: Comparisons,
    /// The blocking rules used.
    pub rules: Vec<Vec<crate::link::blocking::Key>>,
    /// The most candidate pairs allowed.
    pub max_pairs: u64,
    placeholders: placeholders::Placeholders,
    timings: Vec<(String, f64)>,
}

/// A trained (or given) model and how it came about.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model, with its run's link type, blocking rules and key id.
    pub model: Model,
    /// Whether it was trained in this run.
    pub trained: bool,
    /// The last EM session's report.
    pub em: EmReport,
    /// Pairs labelled by NHS numbers for m.
    pub labelled: u64,
}

/// The identities after the NHS-number links (stage 6a).
#[derive(Debug)]
pub struct NhsLinked {
    /// The identities as sets, each set's NHS-number tokens tracked for the conflict rule.
    pub clusters: Clusters,
    /// Each identity's valid NHS-number token (a dictionary code), if any.
    pub tokens: Vec<Option<u32>>,
    /// Identities linked by their NHS number.
    pub linked: Vec<bool>,
    /// Links made.
    pub links: u64,
    /// Identities sharing a number with others but contradicting all of them (left unlinked).
    pub contradicted: u64,
}

/// The persons as sets of identities, before numbering (stage 6's clustering).
#[derive(Debug, Clone)]
pub struct Clustering {
    /// A label per identity: identities of one label are one person (labels in any numbering).
    pub labels: Vec<u32>,
    /// Identities linked by their NHS number.
    pub nhs_linked: Vec<bool>,
    /// Identities merged by a probabilistic link.
    pub prob_linked: Vec<bool>,
    /// NHS-number links made.
    pub links_nhs: u64,
    /// NHS-number links refused as contradicted.
    pub contradicted: u64,
    /// What became of the probabilistic links.
    pub offered: Offered,
}

pub use crate::link::pair_stats::PairStats;
use crate::link::pair_stats::Renumber;

/// Stage 1: placeholders, identities, comparisons and usable rules.
pub fn prepare(mut records: Records, load_seconds: f64, options: &LinkOptions, log: &dyn Fn(&str)) -> Result<Prepared> {
    let mut timings = vec![("load".to_string(), load_seconds)];
    for (f, k) in records.without_identifiers() {
        log(&format!(
            "warning: {}: none of its {k} records holds an identifying token (every field is missing); they cannot \
             link and stay persons of one record. Check the provider's export and config",
            f.display()
        ));
    }
    if options.one_to_one && records.sources.len() != 2 {
        return Err(crate::error::Error::usage(format!(
            "one-to-one linkage links two sources; {} were given",
            records.sources.len()
        )));
    }
    // Timed with the identities: both group records by their tokens.
    let t = Instant::now();
    let placeholders = placeholders::remove(&mut records);
    if placeholders.tokens > 0 {
        log(&format!(
            "warning: {} NHS numbers shared by {} records whose family names or dates of birth mostly disagree were \
             treated as placeholders (dummy numbers given to unknown patients) and not used to link",
            placeholders.tokens, placeholders.records
        ));
    }
    let (identity, reps) = identity::identities(&records, options.link_type);
    let defs = match &options.comparisons {
        Some(d) => d.clone(),
        None => default_comparisons(&records, options.thresholds),
    };
    let comparisons = Comparisons::resolve(defs, &records).map_err(crate::error::Error::usage)?;
    log(&format!("comparisons: {}", comparisons.defs.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ")));
    timings.push(("identities".to_string(), t.elapsed().as_secs_f64()));
    log(&format!(
        "{} records, {} distinct identities",
        crate::error::group_digits(records.counts.iter().sum()),
        crate::error::group_digits(reps.len() as u64)
    ));
    let rules = usable_rules(&records, &options.rules, log)?;
    let max_pairs =
        options.max_pairs.unwrap_or(DEFAULT_MAX_PAIRS_BASE + DEFAULT_MAX_PAIRS_PER_IDENTITY * reps.len() as u64);
    Ok(Prepared { records, identity, reps, comparisons, rules, max_pairs, placeholders, timings })
}

impl Prepared {
    /// The identities' rows of the columns the comparisons read (entry `i` is identity `i`):
    /// what comparison and scoring read ([`View`]).
    pub fn view(&self) -> View<'_> {
        View::of(&self.records, &self.comparisons, &self.reps)
    }

    /// Records a stage's time since `t`.
    pub fn time(&mut self, stage: &str, t: Instant) {
        self.record(stage, t.elapsed().as_secs_f64());
    }

    /// Records a stage's time.
    pub fn record(&mut self, stage: &str, seconds: f64) {
        self.timings.push((stage.to_string(), seconds));
    }

    /// Stage 2: candidate pairs (identity positions, smaller first, sorted) and a report per rule.
    pub fn candidates(&self, options: &LinkOptions) -> Result<crate::link::blocking::Candidates> {
        candidate_pairs(&self.records, &self.reps, &self.rules, options.max_block, self.max_pairs, options.link_type)
    }

    /// The identities' representatives in an order their records define — by the least FxHash of
    /// (source, record id) among each identity's records — not the order the extracts were given
    /// in. Training samples random pairs from this list, so the same extracts in any order give
    /// the same u, the same model and the same persons.
    fn reps_by_content(&self) -> Vec<u32> {
        use rayon::prelude::*;
        let r = &self.records;
        let hashes: Vec<u64> = (0..r.len()).into_par_iter().map(|i| r.least_hash_of(i)).collect();
        let mut least = vec![u64::MAX; self.reps.len()];
        for (i, h) in hashes.into_iter().enumerate() {
            let id = self.identity[i] as usize;
            least[id] = least[id].min(h);
        }
        let mut order: Vec<u32> = (0..self.reps.len() as u32).collect();
        order.par_sort_unstable_by_key(|&k| (least[k as usize], k));
        order.into_iter().map(|k| self.reps[k as usize]).collect()
    }

    /// Stage 4: the model — `options.model` aligned to these comparisons, or trained from
    /// `counts` (distinct patterns of the candidate pairs and their numbers, sorted).
    pub fn train(&self, counts: &[(Pattern, u64)], options: &LinkOptions, log: &dyn Fn(&str)) -> Result<Trained> {
        let (mut model, trained, em, labelled) = match &options.model {
            Some(m) => {
                let m = m.aligned_to(&self.comparisons.defs).map_err(|e| {
                    crate::error::Error::usage(format!("the model given with --model does not fit these extracts: {e}"))
                })?;
                (m, false, EmReport { iterations: 0, converged: true, changes: vec![] }, 0)
            }
            None => {
                let reps = self.reps_by_content();
                let (model, em, labelled) =
                    train::train_model(&self.records, &self.comparisons, &reps, counts, options, log);
                (model, true, em, labelled)
            }
        };
        model.link_type = options.link_type.name().to_string();
        model.blocking = self.rules.iter().map(|r| r.iter().map(|k| k.name().to_string()).collect()).collect();
        model.key_id = match &self.records.tre_key_id {
            Some(t) => format!("{} (re-keyed under {t})", self.records.key_id),
            None => self.records.key_id.clone(),
        };
        let model = if options.term_frequency { model } else { model.without_term_frequencies() };
        Ok(Trained { model, trained, em, labelled })
    }

    /// The term frequencies `model`'s adjusted levels need.
    pub fn term_frequencies(&self, model: &Model) -> TermFrequencies {
        if model.uses_term_frequencies() {
            TermFrequencies::count(&self.records, &self.comparisons, &self.reps, model)
        } else {
            TermFrequencies::none()
        }
    }

    /// Stage 5: each candidate pair (identity positions, entries of `view`) with its pattern and
    /// match weight.
    pub fn score(
        &self,
        view: &View,
        cands: &[(u32, u32)],
        patterns: &[Pattern],
        model: &Model,
        tf: &TermFrequencies,
    ) -> Vec<(u32, u32, Pattern, f64)> {
        let c = &self.comparisons;
        let weights = model.level_weights();
        let tf = tf.weights(model, c);
        let mut out = vec![(0, 0, Pattern(0), 0.0); cands.len()];
        out.par_chunks_mut(1 << 14).zip(cands.par_chunks(1 << 14).zip(patterns.par_chunks(1 << 14))).for_each(
            |(out, (cands, patterns))| {
                view.for_each_pair(cands, |j, rows| {
                    let ((a, b), p) = (cands[j], patterns[j]);
                    let adjust = tf.adjustments(rows, 0, 1, p);
                    out[j] = (a, b, p, weights.of(p) + adjust.iter().sum::<f64>());
                });
            },
        );
        out
    }

    /// Stage 6a: identities sharing a valid NHS-number token linked (the deterministic stage),
    /// before any probabilistic link.
    pub fn nhs_links(&self, options: &LinkOptions) -> NhsLinked {
        let (records, reps) = (&self.records, &self.reps);
        let tokens: Vec<Option<u32>> = reps.iter().map(|&r| records.nhs.get(r as usize)).collect();
        let mut clusters = Clusters::new(tokens.clone());
        let mut linked = vec![false; reps.len()];
        let (links, contradicted) = deterministic::nhs_links(
            records,
            &self.comparisons,
            reps,
            &tokens,
            options.link_type,
            options.one_to_one,
            &mut clusters,
            &mut linked,
        );
        NhsLinked { clusters, tokens, linked, links, contradicted }
    }

    /// An identity's source index.
    pub fn source_of(&self, identity: u32) -> u32 {
        self.records.source[self.reps[identity as usize] as usize] as u32
    }

    /// Stage 6: NHS-number links, then the pairs of `scored` at or above the threshold by
    /// descending weight (ties by positions), never joining two different valid NHS numbers on
    /// weaker evidence than the override; persons and stages per record; the summary. `scored`
    /// need hold only the pairs at or above the threshold (all of them where the pairs are kept
    /// in memory, as on one machine); `stats` describes all pairs. `t` started the stage.
    #[allow(clippy::too_many_arguments)]
    pub fn finish(
        self,
        scored: Vec<(u32, u32, Pattern, f64)>,
        stats: PairStats,
        blocking: Vec<RuleReport>,
        trained: Trained,
        tf: TermFrequencies,
        options: &LinkOptions,
        t: Instant,
    ) -> Linkage {
        let mut nhs = self.nhs_links(options);
        let threshold_weight = options.threshold_weight();
        let mut links: Vec<(u32, u32, f64)> =
            scored.par_iter().filter(|p| p.3 >= threshold_weight).map(|&(a, b, _, w)| (a, b, w)).collect();
        offer_order(&mut links);
        let mut prob_linked = vec![false; self.reps.len()];
        // One-to-one: an identity linked (by its NHS number or an earlier, stronger pair) takes
        // no other link.
        let mut matched = options.one_to_one.then(|| nhs.linked.clone());
        let offered = offer(
            &mut nhs.clusters,
            &links,
            options.override_weight(),
            matched.as_deref_mut(),
            &mut prob_linked,
            |i| self.source_of(i),
        );
        let clustering = Clustering {
            labels: nhs.clusters.labels(),
            nhs_linked: nhs.linked,
            prob_linked,
            links_nhs: nhs.links,
            contradicted: nhs.contradicted,
            offered,
        };
        self.conclude(scored, clustering, stats, blocking, trained, tf, options, t)
    }

    /// Stage 6, last part: persons numbered by first record, a link stage and best match
    /// probability per record, and the summary, from the persons as sets of identities (found
    /// on this machine by [`Prepared::finish`], or component by component elsewhere).
    #[allow(clippy::too_many_arguments)]
    pub fn conclude(
        self,
        scored: Vec<(u32, u32, Pattern, f64)>,
        clustering: Clustering,
        stats: PairStats,
        blocking: Vec<RuleReport>,
        trained: Trained,
        tf: TermFrequencies,
        options: &LinkOptions,
        t: Instant,
    ) -> Linkage {
        let Prepared { records, identity, reps, comparisons, placeholders, mut timings, .. } = self;
        let n = records.len();
        let Clustering { labels: id_labels, nhs_linked: det_linked, prob_linked, links_nhs, contradicted, offered } =
            clustering;
        // Summed, not collected: two source pairs may name alike ("a-b" + "c", "a" + "b-c").
        let mut by_pair: std::collections::BTreeMap<String, u64> = Default::default();
        for (&(x, y), &k) in &offered.by_source_pair {
            *by_pair.entry(format!("{}-{}", records.sources[x as usize], records.sources[y as usize])).or_default() +=
                k;
        }
        let mut members = vec![0u64; reps.len()];
        for (i, &id) in identity.iter().enumerate() {
            members[id as usize] += records.records_of(i);
        }
        let mut person = vec![0u32; n];
        let mut stage = vec![Stage::Unlinked; n];
        let mut best = vec![0.0f64; n];
        // Persons numbered by first record, so numbering is by input order.
        let mut renumber = Renumber::for_labels(&id_labels);
        for i in 0..n {
            let id = identity[i] as usize;
            person[i] = renumber.number(id_labels[id]);
            stage[i] = if det_linked[id] {
                Stage::NhsNumber
            } else if prob_linked[id] {
                Stage::Probabilistic
            } else if members[id] > 1 {
                Stage::Identical
            } else {
                // Every merge flags both of its identities, so an unflagged identity of one record
                // is a person of one record.
                Stage::Unlinked
            };
            // Records of one identity share every identifying token: certainty.
            best[i] = if members[id] > 1 { 1.0 } else { stats.best[id] };
        }
        timings.push(("predict_and_cluster".to_string(), t.elapsed().as_secs_f64()));
        let model = trained.model;
        use crate::link::summary as sm;
        let summary = Summary {
            extracts: records.files.iter().map(|f| f.display().to_string()).collect(),
            records: sm::RecordCounts {
                total: records.counts.iter().sum(),
                by_source: records.sources.iter().cloned().zip(records.counts.iter().copied()).collect(),
            },
            identities: sm::Identities {
                distinct: reps.len() as u64,
                nhs_placeholder_numbers: placeholders.tokens,
                nhs_placeholder_records: placeholders.records,
            },
            deterministic: sm::Deterministic { links: links_nhs, contradicted },
            blocking: sm::Blocking { candidate_pairs: stats.candidates, rules: blocking },
            training: sm::Training {
                trained: trained.trained,
                em_iterations: trained.em.iterations,
                em_converged: trained.em.converged,
                nhs_labelled_pairs: trained.labelled,
                term_frequency: model.uses_term_frequencies(),
            },
            prediction: sm::Prediction {
                threshold: options.threshold,
                dice_high: options.thresholds.high,
                dice_low: options.thresholds.low,
                pairs_floor: options.pairs_floor,
                pairs_written: stats.candidates - stats.below_floor,
                pairs_below_floor: stats.below_floor,
                expected_matches_below_floor: stats.expected_below_floor,
                match_weight_histogram: stats.histogram.into_iter().collect(),
            },
            clustering: sm::Clustering {
                persons: renumber.len() as u64,
                links_accepted: offered.accepted,
                links_refused_conflict: offered.refused,
                links_refused_one_to_one: offered.refused_one_to_one,
                links_conflict_overridden: offered.overridden,
                links_by_source_pair: by_pair,
            },
            timings,
            refresh: None,
        };
        Linkage {
            records,
            identity,
            reps,
            comparisons,
            pairs: scored,
            model,
            term_frequencies: tf,
            person,
            stage,
            best,
            summary,
        }
    }
}
