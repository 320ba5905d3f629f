//! Training a linkage model: u from random pairs, m from NHS-number labels, then EM over
//! agreement-pattern counts with u fixed, and the prior.

pub mod em;
pub mod labels;
pub mod u;

use rustc_hash::FxHashMap as HashMap;

use crate::link::compare::{Comparisons, Pattern, Rule, Subject};
use crate::link::data::Records;
use crate::link::model::Model;
use crate::link::{LinkOptions, MIN_NHS_PAIRS_FOR_PRIOR};
use em::{EmOptions, EmReport};

/// Trains the model: u from random pairs; m from NHS-number labels where there are any; then EM
/// in sessions chosen from the comparisons present, each on the candidate pairs one strong rule
/// selects and each fixing the comparisons its pairs were selected on (Splink's way of keeping
/// blocking from masquerading as evidence), averaging the m each session trained; and the prior
/// — the probability that two random records match — from the NHS-number links or a
/// deterministic rule ([`random_match_probability`]).
///
/// Sessions: (1) date of birth exact and both names phonetic or better, training everything
/// else; (2) the NHS number exact, else the first identifier two or more sources hold, exact,
/// else the full postcode,
/// training everything else, names and date of birth included.
pub fn train_model(
    r: &Records,
    c: &Comparisons,
    reps: &[u32],
    counts: &[(Pattern, u64)],
    options: &LinkOptions,
    log: &dyn Fn(&str),
) -> (Model, EmReport, u64) {
    let mut model = c.start_model(0.01);
    let sampled = u::estimate_u(&mut model, c, r, reps, options.u_sample, options.seed);
    log(&format!("u estimated from {sampled} random pairs"));
    let labelled = labels::m_from_nhs_labels(&mut model, c, counts);
    if labelled > 0 {
        log(&format!("m estimated from {labelled} pairs sharing an NHS number"));
    }

    let k = model.comparisons.len();
    // Each session: its name, and per comparison it selects on, the levels selected.
    type Session = (String, Vec<(usize, Vec<u8>)>);
    let mut sessions: Vec<Session> = Vec::new();
    let (dob, given, family) =
        (c.find(&Subject::DateOfBirth), c.find(&Subject::GivenName), c.find(&Subject::FamilyName));
    if let (Some(d), Some(g), Some(f)) = (dob, given, family) {
        let up_to_phonetic = |k: usize| -> Vec<u8> {
            let last = c.defs[k].level_of(Rule::Phonetic).or(c.defs[k].level_of(Rule::Exact)).unwrap_or(1);
            (1..=last).collect()
        };
        let exact = c.defs[d].level_of(Rule::Exact).unwrap_or(1);
        sessions.push((
            "date of birth + names".into(),
            vec![(d, vec![exact]), (g, up_to_phonetic(g)), (f, up_to_phonetic(f))],
        ));
    }
    // The second session: on the first of these whose exact agreement selects enough pairs —
    // the NHS number; an identifier two or more sources hold (a national id; a provider's own
    // patient reference only pairs records within its source, a few pairs that say nothing of
    // how matches across sources agree); the full postcode.
    let mut strong_candidates: Vec<usize> = c.find(&Subject::NhsNumber).into_iter().collect();
    strong_candidates.extend(c.defs.iter().enumerate().filter_map(|(k, d)| {
        matches!(&d.subject, Subject::Field(name)
        if r.extra(name).is_some_and(|e| {
            r.extras[e].kind == Some(crate::config::FieldType::Identifier) && r.sources_holding(e) >= 2
        }))
        .then_some(k)
    }));
    strong_candidates.extend(c.find(&Subject::Postcode));
    let agreeing = |s: usize| -> u64 {
        let exact = c.defs[s].level_of(Rule::Exact).unwrap_or(1);
        counts.iter().filter(|(p, _)| p.get(s) == exact).map(|(_, n)| n).sum()
    };
    let strong = strong_candidates.iter().copied().find(|&s| agreeing(s) >= MIN_SESSION_PAIRS);
    if let Some(s) = strong {
        let exact = c.defs[s].level_of(Rule::Exact).unwrap_or(1);
        sessions.push((c.defs[s].name.replace('_', " "), vec![(s, vec![exact])]));
    }
    let mut sums = vec![vec![0.0f64; crate::link::compare::MAX_LEVELS]; k];
    let mut trained = vec![0u32; k];
    let mut last = EmReport { iterations: 0, converged: true, changes: vec![] };
    for (name, select) in &sessions {
        let selected: Vec<(Vec<u8>, u64)> = counts
            .iter()
            .filter(|(p, _)| select.iter().all(|(k, levels)| levels.contains(&p.get(*k))))
            .map(|(p, n)| (p.levels(k), *n))
            .collect();
        let n: u64 = selected.iter().map(|(_, c)| c).sum();
        if n < MIN_SESSION_PAIRS {
            log(&format!("EM session `{name}`: only {n} pairs; skipped"));
            continue;
        }
        let mut session = model.clone();
        session.prior = 0.5;
        let mut fixed = vec![false; k];
        for (i, _) in select {
            fixed[*i] = true;
        }
        let report =
            em::train(&mut session, &selected, &EmOptions { fix_u: true, fixed: fixed.clone(), ..Default::default() });
        log(&format!(
            "EM session `{name}` on {n} pairs: {} iterations, converged {}, final largest change {:.2e}",
            report.iterations,
            report.converged,
            report.changes.last().copied().unwrap_or(0.0)
        ));
        for (ci, comp) in session.comparisons.iter().enumerate() {
            if !fixed[ci] {
                trained[ci] += 1;
                for (l, level) in comp.levels.iter().enumerate() {
                    sums[ci][l] += level.m;
                }
            }
        }
        last = report;
    }
    for (ci, comp) in model.comparisons.iter_mut().enumerate() {
        if trained[ci] > 0 {
            for (l, level) in comp.levels.iter_mut().enumerate().skip(1) {
                level.m = sums[ci][l] / f64::from(trained[ci]);
            }
        }
    }
    if let Some(d) = dob.filter(|&d| trained[d] > 0) {
        let exact = c.defs[d].level_of(Rule::Exact).unwrap_or(1) as usize;
        let mut m: Vec<f64> = model.comparisons[d].levels.iter().map(|l| l.m).collect();
        if let Some((was, held)) = bound_wholly_different(&mut m, exact) {
            log(&format!(
                "{}: m of a wholly different date trained at {was:.3}, above its partial levels' {held:.3} together; \
                 held at that",
                c.defs[d].name
            ));
            for (level, m) in model.comparisons[d].levels.iter_mut().zip(m) {
                level.m = m;
            }
        }
    }
    // Agreeing on an identifier (the NHS number, a national id, a provider's own reference) is
    // never evidence against a match. EM can say otherwise where matches among the candidate pairs
    // almost never share one (two registrations of one person get two references): m then falls
    // below u, and the agreement would cost bits. Its weight is held at zero or above.
    for (ci, comp) in model.comparisons.iter_mut().enumerate() {
        let identifier = match &c.defs[ci].subject {
            Subject::NhsNumber => true,
            Subject::Field(name) => {
                r.extra(name).is_some_and(|e| r.extras[e].kind == Some(crate::config::FieldType::Identifier))
            }
            _ => false,
        };
        if let (true, Some(l)) = (identifier, c.defs[ci].level_of(Rule::Exact)) {
            let level = &mut comp.levels[l as usize];
            if level.m < level.u {
                log(&format!(
                    "{}: m of exact agreement trained below u ({:.2e} < {:.2e}); held at u, so agreement is no \
                     evidence against a match",
                    c.defs[ci].name, level.m, level.u
                ));
                level.m = level.u;
            }
        }
    }
    model.prior = random_match_probability(r, c, reps, &model, counts, log);
    log(&format!("probability that two random records match: {:.3e}", model.prior));
    (model, last, labelled)
}

/// Holds m of a date comparison's last level (`else`: the dates wholly differ) at most the sum
/// of its partial levels' (between `exact` and the last: day and month swapped, year and month,
/// year), scaling the other levels to keep the sum at one; returns the m it had and the bound
/// when it binds.
///
/// Why: two records of one person whose dates of birth wholly differ come from a wrong person's
/// date or a default date, which is rarer than the partial errors of keying a date (a digit of
/// the day or month, the year, day and month transposed), each of which leaves part of it
/// equal. Labelled pairs bear this out (with NHS numbers, m of `else` trains below the partial
/// levels' sum). Without labels, EM can learn the opposite from sessions where many pairs are of
/// one household (one family name and address, different dates of birth): it then prices a
/// different date of birth at two bits where the truth is six or more, and links a parent and a
/// child of the same name (docs/benchmarks.md, "No NHS numbers anywhere").
fn bound_wholly_different(m: &mut [f64], exact: usize) -> Option<(f64, f64)> {
    let last = m.len().checked_sub(1)?;
    if exact + 1 >= last {
        return None;
    }
    let near: f64 = m[exact + 1..last].iter().sum();
    let rest: f64 = m[1..last].iter().sum();
    let was = m[last];
    if near <= 0.0 || was <= near || rest <= 0.0 {
        return None;
    }
    let scale = (1.0 - near) / rest;
    for x in &mut m[1..last] {
        *x *= scale;
    }
    m[last] = near;
    Some((was, near))
}

/// The fewest selected pairs an EM session trains on.
const MIN_SESSION_PAIRS: u64 = 50;

/// λ, the probability that two random identities match: identity pairs sharing an NHS number,
/// divided by the share of true matches whose NHS numbers would show it (both present, and
/// agreeing with probability m), over all identity pairs.
///
/// Where NHS numbers are absent or few (under [`MIN_NHS_PAIRS_FOR_PRIOR`] pairs share one:
/// social care, housing and education data often have none), λ comes instead from a deterministic
/// rule, as Splink's `estimate_probability_two_random_records_match` does: the candidate pairs
/// agreeing exactly on given name, family name and date of birth (those of the three the
/// extracts hold; an identifier's exact agreement when none is), divided by the rule's recall —
/// the share of true matches that agree on all of them, the product of the trained m of those
/// exact levels — over all identity pairs. Without either, λ would fall to its floor and no pair
/// would ever be linked.
fn random_match_probability(
    r: &Records,
    c: &Comparisons,
    reps: &[u32],
    model: &Model,
    counts: &[(Pattern, u64)],
    log: &dyn Fn(&str),
) -> f64 {
    let mut groups: HashMap<u32, u64> = HashMap::default();
    let mut with = 0u64;
    for &i in reps {
        if let Some(t) = r.nhs.get(i as usize) {
            *groups.entry(t).or_default() += 1;
            with += 1;
        }
    }
    let nhs_pairs: u64 = groups.values().map(|&g| g * (g - 1) / 2).sum();
    let n = reps.len() as f64;
    let total = (n * (n - 1.0) / 2.0).max(1.0);
    let exact = |k: usize| c.defs[k].level_of(Rule::Exact).unwrap_or(1);
    if let (true, Some(k)) = (nhs_pairs >= MIN_NHS_PAIRS_FOR_PRIOR, c.find(&Subject::NhsNumber)) {
        let share = with as f64 / n.max(1.0);
        let recall = (share * share * model.comparisons[k].levels[exact(k) as usize].m).max(1e-3);
        return ((nhs_pairs as f64 / recall) / total).clamp(1e-12, 0.5);
    }
    let mut rule: Vec<usize> =
        [Subject::GivenName, Subject::FamilyName, Subject::DateOfBirth].iter().filter_map(|s| c.find(s)).collect();
    if rule.is_empty() {
        rule.extend(c.defs.iter().position(|d| matches!(d.subject, Subject::Field(_))));
    }
    if rule.is_empty() {
        log("no NHS numbers, names, date of birth or identifier to estimate the prior from: it stays at 1e-4");
        return 1e-4;
    }
    let agreeing: u64 = counts.iter().filter(|(p, _)| rule.iter().all(|&k| p.get(k) == exact(k))).map(|(_, n)| n).sum();
    let recall = rule.iter().map(|&k| model.comparisons[k].levels[exact(k) as usize].m).product::<f64>().max(1e-3);
    log(&format!(
        "only {nhs_pairs} pairs share an NHS number: the prior comes from the {agreeing} pairs agreeing exactly on {}, \
         with that rule's recall {recall:.3} from the trained model",
        rule.iter().map(|&k| c.defs[k].name.as_str()).collect::<Vec<_>>().join(", ")
    ));
    ((agreeing as f64 / recall) / total).clamp(1e-12, 0.5)
}

#[cfg(test)]
mod tests {
    use super::bound_wholly_different;

    #[test]
    fn a_wholly_different_date_is_held_at_the_partial_levels_sum() {
        // null, exact, swapped, year and month, year, else: EM's values without NHS numbers.
        let mut m = [1.0, 0.6546, 0.0238, 0.0101, 0.0085, 0.303];
        let (was, held) = bound_wholly_different(&mut m, 1).unwrap();
        assert_eq!(was, 0.303);
        assert!((held - 0.0424).abs() < 1e-12);
        assert_eq!(m[5], held);
        assert!((m[1..].iter().sum::<f64>() - 1.0).abs() < 1e-12, "{m:?}");
        assert!(m[1] > 0.6546 && m[2..5].iter().sum::<f64>() >= m[5], "{m:?}");
        assert_eq!(m[0], 1.0, "the null level is not a share of the others");
        // Labelled values (with NHS numbers) are left alone, as is a comparison without partial levels.
        let mut labelled = [1.0, 0.9398, 0.0198, 0.0074, 0.0048, 0.0283];
        assert_eq!(bound_wholly_different(&mut labelled, 1), None);
        assert_eq!(labelled[5], 0.0283);
        assert_eq!(bound_wholly_different(&mut [1.0, 0.9, 0.1], 1), None);
    }
}
