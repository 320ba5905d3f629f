//! Clustering linked records into persons: union-find with a conflict rule.
//!
//! Deterministic links (shared valid NHS-number token) are applied first and always. Then
//! probabilistic links are applied in descending match weight (ties by record ids, so the
//! result never depends on input order or thread count). A probabilistic link is **refused** if
//! it would put two different valid NHS-number tokens into one person: two valid, different NHS
//! numbers are strong evidence of two people, and a chain of fuzzy links must not override it.
//! The one exception is a link whose own evidence is overwhelming (the caller's override
//! threshold; by default a match probability of 0.999999), as when a person was registered twice
//! and given a temporary number: then the person holds both numbers. Refused and overridden links
//! are counted and reported.

/// Union-find over record indices, tracking each set's NHS-number tokens for the conflict rule.
#[derive(Debug, Clone)]
pub struct Clusters {
    parent: Vec<u32>,
    size: Vec<u32>,
    /// Each root's tokens, sorted (usually none or one).
    tokens: Vec<Vec<u32>>,
}

/// The result of offering one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Union {
    /// The sets were merged.
    Merged,
    /// The records were already in one set.
    Already,
    /// Refused: the sets hold different NHS-number tokens.
    Conflict,
    /// Merged although the sets hold different NHS-number tokens, as the caller allowed.
    Overridden,
}

impl Clusters {
    /// `n` singleton records; `token[i]` identifies record i's valid NHS-number token, if any
    /// (any integer id per distinct token).
    pub fn new(token: Vec<Option<u32>>) -> Clusters {
        let n = token.len();
        Clusters {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
            tokens: token.into_iter().map(|t| t.into_iter().collect()).collect(),
        }
    }

    /// Records.
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The representative of record `i`'s set (path halving).
    pub fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let p = self.parent[i as usize];
            self.parent[i as usize] = self.parent[p as usize];
            i = self.parent[i as usize];
        }
        i
    }

    /// Offers a link between records `a` and `b`, refusing it on conflicting tokens.
    pub fn union(&mut self, a: u32, b: u32) -> Union {
        self.union_allowing_conflict(a, b, false)
    }

    /// Offers a link; a conflict is merged anyway when `allow_conflict` is set.
    pub fn union_allowing_conflict(&mut self, a: u32, b: u32, allow_conflict: bool) -> Union {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Union::Already;
        }
        let (ta, tb) = (&self.tokens[ra as usize], &self.tokens[rb as usize]);
        let conflict = !ta.is_empty() && !tb.is_empty() && ta != tb;
        if conflict && !allow_conflict {
            return Union::Conflict;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] { (ra, rb) } else { (rb, ra) };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        let moved = std::mem::take(&mut self.tokens[small as usize]);
        let merged = &mut self.tokens[big as usize];
        merged.extend(moved);
        merged.sort_unstable();
        merged.dedup();
        if conflict { Union::Overridden } else { Union::Merged }
    }

    /// A cluster number per record: clusters numbered 0, 1, … in order of their first record.
    pub fn labels(&mut self) -> Vec<u32> {
        let n = self.len();
        let mut label = vec![u32::MAX; n];
        let mut out = vec![0u32; n];
        let mut next = 0u32;
        for i in 0..n as u32 {
            let r = self.find(i) as usize;
            if label[r] == u32::MAX {
                label[r] = next;
                next += 1;
            }
            out[i as usize] = label[r];
        }
        out
    }
}

/// What became of the probabilistic links offered to [`offer`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offered {
    /// Links that merged two sets (overrides included).
    pub accepted: u64,
    /// Links refused by the conflict rule.
    pub refused: u64,
    /// Links merged although the sets held different NHS-number tokens.
    pub overridden: u64,
    /// Links refused because one side was already linked (one-to-one linkage).
    pub refused_one_to_one: u64,
    /// Merges without a conflict per pair of sources (smaller source index first).
    pub by_source_pair: std::collections::BTreeMap<(u32, u32), u64>,
}

impl Offered {
    /// Adds another part's counts (a distributed run offers each connected component apart).
    pub fn add(&mut self, other: &Offered) {
        self.accepted += other.accepted;
        self.refused += other.refused;
        self.overridden += other.overridden;
        self.refused_one_to_one += other.refused_one_to_one;
        for (k, v) in &other.by_source_pair {
            *self.by_source_pair.entry(*k).or_default() += v;
        }
    }
}

/// Puts links (a, b, match weight) in the order they are offered: descending weight, ties by
/// positions, so that the persons never depend on input order or thread count.
pub fn offer_order(links: &mut [(u32, u32, f64)]) {
    links.sort_unstable_by(|x, y| y.2.total_cmp(&x.2).then((x.0, x.1).cmp(&(y.0, y.1))));
}

/// Offers `links` (in [`offer_order`], all at or above the threshold) to `clusters` under the
/// conflict rule, overriding it at `override_weight` or above. With `matched` (one-to-one
/// linkage: the identities already linked), a link touching a matched identity is refused and a
/// link offered marks both. `linked` marks both identities of every merge; `source` gives an
/// identity's source index.
///
/// Links in different connected components never affect each other's outcome, so offering each
/// component's links apart, in the same order, gives the same persons and, summed, the same
/// counts ([`crate::link::components`]).
pub fn offer(
    clusters: &mut Clusters,
    links: &[(u32, u32, f64)],
    override_weight: f64,
    mut matched: Option<&mut [bool]>,
    linked: &mut [bool],
    source: impl Fn(u32) -> u32,
) -> Offered {
    let mut o = Offered::default();
    for &(a, b, w) in links {
        if let Some(m) = matched.as_deref_mut() {
            if m[a as usize] || m[b as usize] {
                o.refused_one_to_one += 1;
                continue;
            }
            m[a as usize] = true;
            m[b as usize] = true;
        }
        match clusters.union_allowing_conflict(a, b, w >= override_weight) {
            Union::Merged => {
                o.accepted += 1;
                linked[a as usize] = true;
                linked[b as usize] = true;
                let (sa, sb) = (source(a), source(b));
                *o.by_source_pair.entry((sa.min(sb), sa.max(sb))).or_default() += 1;
            }
            Union::Conflict => o.refused += 1,
            Union::Overridden => {
                o.overridden += 1;
                o.accepted += 1;
                linked[a as usize] = true;
                linked[b as usize] = true;
            }
            Union::Already => {}
        }
    }
    o
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Naive connected components by repeated relabelling: each vertex labelled by the least
    /// vertex of its component.
    pub(crate) fn least_in_component(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
        let mut label: Vec<u32> = (0..n as u32).collect();
        loop {
            let mut changed = false;
            for &(a, b) in edges {
                let m = label[a as usize].min(label[b as usize]);
                for x in [a, b] {
                    if label[x as usize] != m {
                        label[x as usize] = m;
                        changed = true;
                    }
                }
            }
            if !changed {
                return label;
            }
        }
    }

    /// The components numbered in order of first appearance, as `labels` numbers them.
    fn naive(n: usize, edges: &[(u32, u32)]) -> Vec<u32> {
        let mut map = std::collections::HashMap::new();
        least_in_component(n, edges)
            .iter()
            .map(|l| {
                let k = map.len() as u32;
                *map.entry(*l).or_insert(k)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn union_find_equals_naive_components(n in 1usize..60, raw in proptest::collection::vec((0u32..60, 0u32..60), 0..120)) {
            let edges: Vec<(u32, u32)> = raw.into_iter().map(|(a, b)| (a % n as u32, b % n as u32)).collect();
            let mut c = Clusters::new(vec![None; n]);
            for &(a, b) in &edges {
                c.union(a, b);
            }
            prop_assert_eq!(c.labels(), naive(n, &edges));
        }
    }

    #[test]
    fn different_nhs_tokens_are_never_merged() {
        // 0 and 1 hold token 7; 2 holds token 9; 3 has none.
        let mut c = Clusters::new(vec![Some(7), Some(7), Some(9), None]);
        assert_eq!(c.union(0, 1), Union::Merged);
        assert_eq!(c.union(1, 3), Union::Merged);
        assert_eq!(c.union(3, 2), Union::Conflict, "a chain through a token-less record is refused too");
        assert_eq!(c.union(0, 3), Union::Already);
        assert_eq!(c.labels(), vec![0, 0, 1, 0]);
        assert_eq!(c.union_allowing_conflict(3, 2, true), Union::Overridden);
        assert_eq!(c.labels(), vec![0, 0, 0, 0]);
    }
}
