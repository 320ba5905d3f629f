//! Population views: one row per person, and the segmentation table of age group × complexity.
//!
//! **Age** is taken at the start of the latest financial year in the data, from the year of
//! birth the providers released (the most common value among the person's records). Age groups:
//! 0–17, 18–74, 75+ (and `unknown` where no record released a year of birth).
//!
//! **Complexity**, by the number of long-term conditions flagged on any of the person's records
//! (the rule many integrated care systems start from): `low` none, `middle` one or two, `high`
//! three or more.
//!
//! **Spend and activity per person per year** are the person's costs and events with usable
//! dates over the financial years the data covers, divided by the number of those years.

use crate::timeline::events::SETTING_GROUPS;

/// Age groups of the segmentation.
pub const AGE_GROUPS: [&str; 4] = ["0-17", "18-74", "75+", "unknown"];
/// Complexity segments.
pub const COMPLEXITY: [&str; 3] = ["low", "middle", "high"];

/// The age group of an age.
pub fn age_group(age: Option<i32>) -> usize {
    match age {
        None => 3,
        Some(a) if a < 18 => 0,
        Some(a) if a < 75 => 1,
        Some(_) => 2,
    }
}

/// The complexity segment of a count of long-term conditions.
pub fn complexity(conditions: u32) -> usize {
    match conditions {
        0 => 0,
        1 | 2 => 1,
        _ => 2,
    }
}

/// One person, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonRow {
    /// Age at the start of the latest financial year.
    pub age: Option<i32>,
    /// Long-term conditions flagged, by condition index.
    pub conditions: Vec<bool>,
    /// Spend per year by setting group.
    pub spend: [f64; SETTING_GROUPS.len()],
    /// Events per year by setting group.
    pub activity: [f64; SETTING_GROUPS.len()],
}

impl PersonRow {
    /// Conditions flagged.
    pub fn condition_count(&self) -> u32 {
        self.conditions.iter().filter(|&&c| c).count() as u32
    }
}

/// Sums over the persons of one segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cell {
    /// Persons.
    pub population: u64,
    /// Sum of known ages, and how many were known.
    pub age_sum: f64,
    /// Persons with a known age.
    pub aged: u64,
    /// Sum of condition counts.
    pub conditions: u64,
    /// Sum of spend per year, by setting group.
    pub spend: Vec<f64>,
    /// Sum of events per year, by setting group.
    pub activity: Vec<f64>,
    /// Persons with each condition.
    pub with_condition: Vec<u64>,
    /// Persons with any spend, by setting group: the contributors to each spend figure.
    pub spenders: Vec<u64>,
    /// Persons with any spend at all.
    pub spenders_any: u64,
    /// The largest one person's spend, by setting group (for the dominance rule).
    pub spend_max: Vec<f64>,
    /// The largest one person's spend in all.
    pub spend_total_max: f64,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.population += o.population;
        self.age_sum += o.age_sum;
        self.aged += o.aged;
        self.conditions += o.conditions;
        add_into(&mut self.spend, &o.spend);
        add_into(&mut self.activity, &o.activity);
        for (a, b) in resize(&mut self.with_condition, o.with_condition.len()).iter_mut().zip(&o.with_condition) {
            *a += b;
        }
        for (a, b) in resize(&mut self.spenders, o.spenders.len()).iter_mut().zip(&o.spenders) {
            *a += b;
        }
        self.spenders_any += o.spenders_any;
        if self.spend_max.len() < o.spend_max.len() {
            self.spend_max.resize(o.spend_max.len(), 0.0);
        }
        for (a, b) in self.spend_max.iter_mut().zip(&o.spend_max) {
            *a = a.max(*b);
        }
        self.spend_total_max = self.spend_total_max.max(o.spend_total_max);
    }
}

fn add_into(a: &mut Vec<f64>, b: &[f64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0.0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

fn resize(v: &mut Vec<u64>, n: usize) -> &mut Vec<u64> {
    if v.len() < n {
        v.resize(n, 0);
    }
    v
}

/// The segmentation: cells by age group × complexity, with margins.
#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// `cells[a][c]` for age group `a` and complexity `c`; index `AGE_GROUPS.len()` and
    /// `COMPLEXITY.len()` hold the margins ("all").
    pub cells: Vec<Vec<Cell>>,
    /// Condition names, in `with_condition` order.
    pub conditions: Vec<String>,
}

impl Segmentation {
    /// An empty segmentation.
    pub fn new(conditions: Vec<String>) -> Segmentation {
        let empty = Cell {
            spend: vec![0.0; SETTING_GROUPS.len()],
            activity: vec![0.0; SETTING_GROUPS.len()],
            with_condition: vec![0; conditions.len()],
            spenders: vec![0; SETTING_GROUPS.len()],
            ..Default::default()
        };
        Segmentation { cells: vec![vec![empty; COMPLEXITY.len() + 1]; AGE_GROUPS.len() + 1], conditions }
    }

    /// Adds one person.
    pub fn add(&mut self, p: &PersonRow) {
        let (a, c) = (age_group(p.age), complexity(p.condition_count()));
        let cell = &mut self.cells[a][c];
        cell.population += 1;
        if let Some(age) = p.age {
            cell.age_sum += age as f64;
            cell.aged += 1;
        }
        cell.conditions += p.condition_count() as u64;
        add_into(&mut cell.spend, &p.spend);
        add_into(&mut cell.activity, &p.activity);
        for (k, &x) in p.spend.iter().enumerate() {
            if x > 0.0 {
                resize(&mut cell.spenders, k + 1)[k] += 1;
            }
        }
        cell.spenders_any += u64::from(p.spend.iter().any(|&x| x > 0.0));
        if cell.spend_max.len() < p.spend.len() {
            cell.spend_max.resize(p.spend.len(), 0.0);
        }
        for (m, &x) in cell.spend_max.iter_mut().zip(&p.spend) {
            *m = m.max(x);
        }
        cell.spend_total_max = cell.spend_total_max.max(p.spend.iter().sum());
        for (k, &has) in p.conditions.iter().enumerate() {
            if has {
                resize(&mut cell.with_condition, k + 1)[k] += 1;
            }
        }
    }

    /// Fills the margins from the cells.
    pub fn finish(&mut self) {
        let (na, nc) = (AGE_GROUPS.len(), COMPLEXITY.len());
        for a in 0..na {
            let mut total = zeroed(&self.cells[0][0]);
            for c in 0..nc {
                total.add(&self.cells[a][c].clone());
            }
            self.cells[a][nc] = total;
        }
        for c in 0..=nc {
            let mut total = zeroed(&self.cells[0][0]);
            for a in 0..na {
                total.add(&self.cells[a][c].clone());
            }
            self.cells[na][c] = total;
        }
    }

    /// Row labels (age group, complexity) with `all` for margins.
    pub fn label(a: usize, c: usize) -> (&'static str, &'static str) {
        (AGE_GROUPS.get(a).copied().unwrap_or("all"), COMPLEXITY.get(c).copied().unwrap_or("all"))
    }
}

fn zeroed(like: &Cell) -> Cell {
    Cell {
        spend: vec![0.0; like.spend.len()],
        activity: vec![0.0; like.activity.len()],
        with_condition: vec![0; like.with_condition.len()],
        spenders: vec![0; like.spenders.len()],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(age: Option<i32>, conditions: &[bool], spend_gp: f64, gp_events: f64) -> PersonRow {
        let mut spend = [0.0; SETTING_GROUPS.len()];
        let mut activity = [0.0; SETTING_GROUPS.len()];
        spend[5] = spend_gp;
        activity[5] = gp_events;
        PersonRow { age, conditions: conditions.to_vec(), spend, activity }
    }

    /// A hand-built population of five against a table worked out by hand.
    #[test]
    fn segmentation_of_a_small_population_matches_the_hand_computed_table() {
        let mut s = Segmentation::new(vec!["diabetes".into(), "copd".into(), "asthma".into()]);
        s.add(&person(Some(10), &[false, false, false], 20.0, 1.0)); // 0-17 low
        s.add(&person(Some(40), &[true, false, false], 100.0, 4.0)); // 18-74 middle
        s.add(&person(Some(60), &[true, true, false], 300.0, 6.0)); // 18-74 middle
        s.add(&person(Some(80), &[true, true, true], 900.0, 12.0)); // 75+ high
        s.add(&person(None, &[false, false, false], 0.0, 0.0)); // unknown low
        s.finish();
        let mid = &s.cells[1][1];
        assert_eq!(mid.population, 2);
        assert_eq!(mid.age_sum / mid.aged as f64, 50.0);
        assert_eq!(mid.conditions, 3);
        assert_eq!(mid.spend[5], 400.0);
        assert_eq!(mid.with_condition, vec![2, 1, 0]);
        // Margins: the 18-74 row, the high column, the grand total.
        assert_eq!(s.cells[1][3].population, 2);
        assert_eq!(s.cells[4][2].population, 1);
        let all = &s.cells[4][3];
        assert_eq!(all.population, 5);
        assert_eq!(all.aged, 4);
        assert_eq!(all.age_sum, 190.0);
        assert_eq!(all.conditions, 6);
        assert_eq!(all.spend[5], 1320.0);
        assert_eq!(all.activity[5], 23.0);
        assert_eq!(all.with_condition, vec![3, 2, 1]);
        assert_eq!(s.cells[0][0].population, 1);
        assert_eq!(s.cells[3][0].population, 1);
        assert_eq!(Segmentation::label(4, 3), ("all", "all"));
    }
}
