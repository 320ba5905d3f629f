//! Statistical disclosure control for aggregates that leave the TRE.
//!
//! The rule follows the convention NHS England applies to its published statistics (Hospital
//! Episode Statistics and others): a count from 1 to 7 is suppressed (shown as `*`), every other
//! count is rounded to the nearest 5, and zero is shown as 0. Anything derived from a suppressed
//! count (an average, a rate, a prevalence) is suppressed with it. Both numbers are settings:
//!
//! ```toml
//! [disclosure]
//! suppress_below = 8   # counts 1 … suppress_below − 1 are suppressed
//! round_to = 5         # other counts are rounded to the nearest multiple
//! ```
//!
//! Suppressing a cell is not enough when its row or column total is published: total minus the
//! other cells gives it back. So suppression is applied to a whole table of cells with its
//! margins, and repeated until no additive group (the cells of a row with their row total, the
//! cells of a column with their column total) has exactly one suppressed member: where it has,
//! the smallest other non-zero member is suppressed too (secondary suppression).
//!
//! Rates and averages can undo all of this if they are computed on exact counts: an average of
//! whole numbers over an exact population pins the population, and a prevalence of 90% over ten
//! persons names the one without. So the published table derives every rate and average from its
//! published counts (see `timeline::output::segment_rows`), and a rate whose complement is small
//! is suppressed like a small count. A test reconstructs the feasible range of every cell from the
//! published table alone and fails if any count comes out pinned.

use serde::{Deserialize, Serialize};

/// The suppression and rounding rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRule {
    /// Counts from 1 to `suppress_below - 1` are suppressed.
    #[serde(default = "default_suppress_below")]
    pub suppress_below: u64,
    /// Published counts are rounded to a multiple of this (1: no rounding).
    #[serde(default = "default_round_to")]
    pub round_to: u64,
    /// A total (spend) is suppressed when one contributor holds more than this share of it: the
    /// dominance rule, since spend per person × population would otherwise give that person's
    /// spend back nearly whole.
    #[serde(default = "default_dominance")]
    pub dominance: f64,
}

fn default_dominance() -> f64 {
    0.5
}

fn default_suppress_below() -> u64 {
    8
}

fn default_round_to() -> u64 {
    5
}

impl Default for DisclosureRule {
    fn default() -> Self {
        DisclosureRule {
            suppress_below: default_suppress_below(),
            round_to: default_round_to(),
            dominance: default_dominance(),
        }
    }
}

impl DisclosureRule {
    /// Problems with the settings.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.round_to == 0 {
            p.push("[disclosure] `round_to` must be at least 1".to_string());
        }
        if !(self.dominance > 0.0 && self.dominance <= 1.0) {
            p.push(
                "[disclosure] `dominance` must be a share above 0 and at most 1 (0.5: no one person over half)"
                    .to_string(),
            );
        }
        if self.suppress_below > 1_000 {
            p.push("[disclosure] `suppress_below` above 1000 would hide almost everything".to_string());
        }
        p
    }

    /// Whether a count is primary-suppressed.
    pub fn is_small(&self, n: u64) -> bool {
        n > 0 && n < self.suppress_below
    }

    /// A published (unsuppressed) count, rounded half up.
    pub fn round(&self, n: u64) -> u64 {
        let r = self.round_to.max(1);
        (n + r / 2) / r * r
    }

    /// Suppression over a grid of `rows × cols` counts whose last row and last column are the
    /// margins (column totals and row totals, the corner the grand total). Returns which cells
    /// are suppressed.
    pub fn suppress_grid(&self, grid: &[Vec<u64>]) -> Vec<Vec<bool>> {
        let primary = grid.iter().map(|r| r.iter().map(|&n| self.is_small(n)).collect()).collect();
        self.suppress_with(grid, primary)
    }

    /// Secondary suppression over `grid` (as [`DisclosureRule::suppress_grid`]) starting from the
    /// given primary suppressions (small counts, dominated totals …).
    pub fn suppress_with(&self, grid: &[Vec<u64>], primary: Vec<Vec<bool>>) -> Vec<Vec<bool>> {
        let rows = grid.len();
        let cols = grid.first().map_or(0, Vec::len);
        let mut s = primary;
        // Additive groups: each row (cells and its total), each column (cells and its total).
        let mut groups: Vec<Vec<(usize, usize)>> = Vec::new();
        for r in 0..rows {
            groups.push((0..cols).map(|c| (r, c)).collect());
        }
        for c in 0..cols {
            groups.push((0..rows).map(|r| (r, c)).collect());
        }
        loop {
            let mut changed = false;
            for g in &groups {
                let suppressed = g.iter().filter(|&&(r, c)| s[r][c]).count();
                if suppressed != 1 {
                    continue;
                }
                // The smallest non-zero, unsuppressed member; zero cells reveal nothing, and a
                // group whose other members are all zero is safe (the total equals the cell,
                // and the cell is suppressed in the total's own groups).
                let pick =
                    g.iter().filter(|&&(r, c)| !s[r][c] && grid[r][c] > 0).min_by_key(|&&(r, c)| (grid[r][c], r, c));
                if let Some(&(r, c)) = pick {
                    s[r][c] = true;
                    changed = true;
                }
            }
            if !changed {
                return s;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A grid of cells with row totals, column totals and the grand total filled in.
    fn with_margins(cells: &[Vec<u64>]) -> Vec<Vec<u64>> {
        let cols = cells[0].len();
        let mut g: Vec<Vec<u64>> = cells
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.push(r.iter().sum());
                r
            })
            .collect();
        let totals: Vec<u64> = (0..=cols).map(|c| g.iter().map(|r| r[c]).sum()).collect();
        g.push(totals);
        g
    }

    #[test]
    fn nhs_convention_suppresses_one_to_seven_and_rounds_to_five() {
        let rule = DisclosureRule::default();
        assert!(!rule.is_small(0));
        assert!(rule.is_small(1) && rule.is_small(7));
        assert!(!rule.is_small(8));
        assert_eq!([8, 12, 13, 1_002].map(|n| rule.round(n)), [10, 10, 15, 1_000]);
    }

    #[test]
    fn a_lone_small_cell_gets_a_partner() {
        let g = with_margins(&[vec![3, 40, 50], vec![20, 30, 60]]);
        let s = DisclosureRule::default().suppress_grid(&g);
        assert!(s[0][0], "the small cell");
        assert!(s[1][0], "its column partner, or its column total gives it away");
        assert!(s[0][1], "its row partner");
    }

    proptest! {
        /// No additive group ever has exactly one suppressed member: a suppressed count can never
        /// be recovered as a total minus the published cells.
        #[test]
        fn no_group_has_a_single_suppressed_cell(cells in prop::collection::vec(prop::collection::vec(0u64..40, 3), 1..5)) {
            let g = with_margins(&cells);
            let s = DisclosureRule::default().suppress_grid(&g);
            let rows = g.len();
            let cols = g[0].len();
            for r in 0..rows {
                for c in 0..cols {
                    if DisclosureRule::default().is_small(g[r][c]) {
                        prop_assert!(s[r][c]);
                    }
                }
                let n = (0..cols).filter(|&c| s[r][c]).count();
                let nonzero_others = (0..cols).filter(|&c| !s[r][c] && g[r][c] > 0).count();
                prop_assert!(n != 1 || nonzero_others == 0, "row {} of {:?}: {:?}", r, g, s);
            }
            for c in 0..cols {
                let n = (0..rows).filter(|&r| s[r][c]).count();
                let nonzero_others = (0..rows).filter(|&r| !s[r][c] && g[r][c] > 0).count();
                prop_assert!(n != 1 || nonzero_others == 0, "column {} of {:?}: {:?}", c, g, s);
            }
        }
    }
}
