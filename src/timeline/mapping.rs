//! How each provider's pass-through columns map onto the event schema.
//!
//! By default an extract is read by the conventional names that `pseudolink synth` and the
//! example configs give pass-through columns: `activity_date`, `setting`, `activity_type`,
//! `cost`, and every boolean column named `ltc_*` as a long-term condition flag. A timeline
//! config overrides this per source:
//!
//! ```toml
//! [sources.acute]
//! date = "admission_date"        # the event date column (a Parquet date)
//! setting = "setting"            # a column holding the setting …
//! activity_type = "admission_method"
//! cost = "spell_cost"
//!
//! [sources.gp]
//! setting_value = "general_practice"   # … or one setting for every event of the source
//! conditions = ["ltc_diabetes", "ltc_copd"]
//! ```
//!
//! A column the config names must exist; of the defaults, only the date and the setting are
//! required.

use std::collections::BTreeMap;
use std::path::Path;

use arrow_schema::{DataType, Schema};
use serde::Deserialize;

use crate::error::{Error, Result};

/// A timeline config as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineConfig {
    /// Mapping per source code.
    #[serde(default)]
    pub sources: BTreeMap<String, SourceMapping>,
    /// Statistical disclosure control of published aggregates.
    #[serde(default)]
    pub disclosure: Option<crate::timeline::disclosure::DisclosureRule>,
}

/// One source's mapping; every entry optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceMapping {
    /// Event date column.
    pub date: Option<String>,
    /// Setting column.
    pub setting: Option<String>,
    /// One setting for every event.
    pub setting_value: Option<String>,
    /// Activity type column.
    pub activity_type: Option<String>,
    /// Cost column.
    pub cost: Option<String>,
    /// Long-term condition flag columns (booleans).
    pub conditions: Option<Vec<String>>,
}

impl TimelineConfig {
    /// Reads a timeline config.
    pub fn read(path: &Path) -> Result<TimelineConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading config", path, e))?;
        let cfg: TimelineConfig =
            toml::from_str(&text).map_err(|e| Error::config(path, vec![e.message().to_string()]))?;
        let mut problems = Vec::new();
        for (s, m) in &cfg.sources {
            if m.setting.is_some() && m.setting_value.is_some() {
                problems.push(format!("[sources.{s}]: give `setting` or `setting_value`, not both"));
            }
        }
        if let Some(d) = &cfg.disclosure {
            problems.extend(d.problems());
        }
        if problems.is_empty() { Ok(cfg) } else { Err(Error::config(path, problems)) }
    }
}

/// Where an event's setting comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingFrom {
    /// A text column.
    Column(String),
    /// A fixed value.
    Value(String),
}

/// A mapping resolved against one extract's schema.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Date column (Date32).
    pub date: String,
    /// Setting.
    pub setting: SettingFrom,
    /// Activity type column (text), if any.
    pub activity_type: Option<String>,
    /// Cost column (Float64 or Int64), if any.
    pub cost: Option<String>,
    /// Condition columns (Boolean), with the condition name (column without `ltc_`).
    pub conditions: Vec<(String, String)>,
}

/// Resolves `m` (or the defaults) against `schema`, naming `path` in any error.
pub fn resolve(path: &Path, source: &str, m: Option<&SourceMapping>, schema: &Schema) -> Result<Resolved> {
    let d = SourceMapping::default();
    let m = m.unwrap_or(&d);
    let mut problems = Vec::new();
    let mut need = |explicit: &Option<String>, default: &str, types: &[DataType], required: bool| -> Option<String> {
        let name = explicit.clone().unwrap_or_else(|| default.to_string());
        match schema.field_with_name(&name) {
            Ok(f) if types.contains(f.data_type()) => Some(name),
            Ok(f) => {
                problems.push(format!(
                    "column `{name}` is {:?}, not {}; pass it through with the right `type` in the tokenise config",
                    f.data_type(),
                    types.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(" or ")
                ));
                None
            }
            Err(_) if explicit.is_some() || required => {
                problems.push(format!(
                    "has no column `{name}` (the {default} of source `{source}`'s events); pass it through in the \
                     tokenise config or map another column in the timeline config's [sources.{source}]"
                ));
                None
            }
            Err(_) => None,
        }
    };
    let date = need(&m.date, "activity_date", &[DataType::Date32], true);
    let setting = match &m.setting_value {
        Some(v) => Some(SettingFrom::Value(v.clone())),
        None => need(&m.setting, "setting", &[DataType::Utf8], true).map(SettingFrom::Column),
    };
    let activity_type = need(&m.activity_type, "activity_type", &[DataType::Utf8], false);
    let cost = need(&m.cost, "cost", &[DataType::Float64, DataType::Int64], false);
    let conditions: Vec<(String, String)> = match &m.conditions {
        Some(list) => list
            .iter()
            .filter_map(|c| need(&Some(c.clone()), "condition flag", &[DataType::Boolean], true))
            .map(|c| (c.trim_start_matches("ltc_").to_string(), c))
            .collect(),
        None => schema
            .fields()
            .iter()
            .filter(|f| f.name().starts_with("ltc_") && *f.data_type() == DataType::Boolean)
            .map(|f| (f.name().trim_start_matches("ltc_").to_string(), f.name().clone()))
            .collect(),
    };
    if !problems.is_empty() {
        return Err(Error::manifest(path, problems.join("; ")));
    }
    // Infallible: both are required, and a missing one was a problem above.
    Ok(Resolved { date: date.expect("checked"), setting: setting.expect("checked"), activity_type, cost, conditions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Field;

    #[test]
    fn defaults_resolve_and_missing_columns_are_named() {
        let schema = Schema::new(vec![
            Field::new("activity_date", DataType::Date32, true),
            Field::new("setting", DataType::Utf8, true),
            Field::new("cost", DataType::Float64, true),
            Field::new("ltc_copd", DataType::Boolean, true),
        ]);
        let r = resolve(Path::new("x.parquet"), "gp", None, &schema).unwrap();
        assert_eq!(r.conditions, vec![("copd".to_string(), "ltc_copd".to_string())]);
        assert_eq!(r.activity_type, None);
        let m = SourceMapping { cost: Some("spell_cost".into()), ..Default::default() };
        let e = resolve(Path::new("x.parquet"), "acute", Some(&m), &schema).unwrap_err().to_string();
        assert!(e.contains("x.parquet") && e.contains("no column `spell_cost`"), "{e}");
        let bare = Schema::new(vec![Field::new("setting", DataType::Utf8, true)]);
        let e = resolve(Path::new("y.parquet"), "ae", None, &bare).unwrap_err().to_string();
        assert!(e.contains("no column `activity_date`"), "{e}");
    }
}
