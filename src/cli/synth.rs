//! `pseudolink synth`: a synthetic multi-provider population with known truth.

use std::path::PathBuf;

use crate::error::{Error, Result, group_digits};
use crate::synth::config::{ErrorRates, PROVIDERS, SynthConfig};
use crate::synth::{SynthFormat, generate};

/// Arguments of `synth`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Writes, for one synthetic population: one plaintext extract per provider (acute, ae, gp,
community_mh, social_care) in each provider's own export style, a tokenise config beside each,
truth.csv (every record's true person id and the errors its registration carries) and
synth.json (settings and counts). NHS numbers come only from the range reserved for testing
(999 000 0000 to 999 999 9999), which caps a population at 909,090 persons.

Error rates default per provider (see docs/synthetic-data.md); change them with --error-scale,
--rate or a --config file.

EXAMPLES:
  pseudolink synth --persons 20000 --seed 1 --out synth/
  pseudolink synth --persons 100000 --seed 7 --error-scale 2 --format parquet --out synth2x/
  pseudolink synth --rate social_care.nhs_missing=0.5 --rate ae.duplicate=0.05 --out synth/
  pseudolink synth --rate all.nhs_missing=1 --out synth-no-nhs/      # no NHS numbers anywhere
  pseudolink synth --with housing --out synth-housing/                # and a source with none at all")]
pub(crate) struct Args {
    /// Persons in the population.
    #[arg(long, value_name = "N")]
    pub(crate) persons: Option<u64>,
    /// Seed of every random choice: the same seed gives the same bytes.
    #[arg(long, value_name = "S")]
    pub(crate) seed: Option<u64>,
    /// Output folder (created if needed).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Extract file format.
    #[arg(long, value_enum, default_value_t = SynthFormat::Csv)]
    pub(crate) format: SynthFormat,
    /// Multiply every error rate (2 doubles them).
    #[arg(long, value_name = "X")]
    pub(crate) error_scale: Option<f64>,
    /// Share of multi-person households holding twins.
    #[arg(long, value_name = "P")]
    pub(crate) twin_rate: Option<f64>,
    /// Set one rate: PROVIDER.KNOB=VALUE (repeatable), e.g. gp.nhs_missing=0.01; PROVIDER `all` sets it
    /// for every provider (all.nhs_missing=1: no NHS numbers anywhere).
    #[arg(long, value_name = "PROVIDER.KNOB=VALUE")]
    pub(crate) rate: Vec<String>,
    /// Add a source beyond the five (repeatable): `housing`, a council housing register with no
    /// NHS numbers, an address line and a tenant reference.
    #[arg(long = "with", value_name = "SOURCE")]
    pub(crate) with: Vec<String>,
    /// A TOML file of these settings (command-line values win).
    #[arg(long, value_name = "SYNTH.toml")]
    pub(crate) config: Option<PathBuf>,
}

impl Args {
    /// The population settings these arguments describe.
    pub(crate) fn synth_config(&self) -> Result<SynthConfig> {
        let mut cfg = match &self.config {
            Some(p) => SynthConfig::read(p)?,
            None => SynthConfig::default(),
        };
        if let Some(n) = self.persons {
            cfg.persons = n;
        }
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        if let Some(x) = self.error_scale {
            cfg.error_scale = x;
        }
        if let Some(t) = self.twin_rate {
            cfg.twin_rate = t;
        }
        for w in &self.with {
            if !cfg.with.contains(w) {
                cfg.with.push(w.clone());
            }
        }
        for r in &self.rate {
            set_rate(&mut cfg, r)?;
        }
        Ok(cfg)
    }
}

/// Applies `PROVIDER.KNOB=VALUE`.
fn set_rate(cfg: &mut SynthConfig, spec: &str) -> Result<()> {
    let bad = || {
        Error::usage(format!(
            "--rate {spec}: expected PROVIDER.KNOB=VALUE with PROVIDER one of {} (or `all`) and VALUE between 0 \
             and 1, e.g. gp.nhs_missing=0.01",
            PROVIDERS.join(", ")
        ))
    };
    let (name, value) = spec.split_once('=').ok_or_else(bad)?;
    let (provider, knob) = name.split_once('.').ok_or_else(bad)?;
    let value: f64 = value.trim().parse().map_err(|_| bad())?;
    let known = PROVIDERS.contains(&provider) || crate::synth::config::EXTRA_SOURCES.contains(&provider);
    if !(known || provider == "all") || !(0.0..=1.0).contains(&value) {
        return Err(bad());
    }
    if !ErrorRates::KNOBS.contains(&knob) {
        return Err(Error::usage(format!(
            "--rate {spec}: unknown knob `{knob}`; the knobs are {}",
            ErrorRates::KNOBS.join(", ")
        )));
    }
    let all: Vec<&str> = PROVIDERS.iter().chain(&crate::synth::config::EXTRA_SOURCES).copied().collect();
    let providers: &[&str] = if provider == "all" { &all } else { std::slice::from_ref(&provider) };
    for p in providers {
        cfg.rates.entry(p.to_string()).or_default().insert(knob.to_string(), value);
    }
    Ok(())
}

pub(crate) fn run(args: Args, v: super::Voice) -> Result<()> {
    let quiet = v.quiet;
    let cfg = args.synth_config()?;
    let pb = super::progress::bar(quiet, false);
    pb.set_length(cfg.persons);
    let progress = |done: u64| pb.set_position(done);
    let summary = generate(&cfg, &args.out, args.format, Some(&progress));
    pb.finish_and_clear();
    let summary = summary?;
    if !quiet {
        let records: u64 = summary.providers.iter().map(|p| p.records).sum();
        eprintln!(
            "pseudolink: {} persons, {} records across {} providers in {:.1} s, written to {}",
            group_digits(summary.persons),
            group_digits(records),
            summary.providers.len(),
            summary.elapsed.as_secs_f64(),
            args.out.display()
        );
        for p in &summary.providers {
            eprintln!(
                "  {:<13} {:>10} records  {:>9} persons  {}",
                p.source,
                group_digits(p.records),
                group_digits(p.persons),
                p.extract.display()
            );
        }
    }
    v.result("synth", serde_json::json!({ "out": args.out.display().to_string(), "summary": summary }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_set_by_name_and_bad_ones_refused() {
        let mut cfg = SynthConfig::default();
        set_rate(&mut cfg, "gp.nhs_missing=0.3").unwrap();
        assert_eq!(cfg.rates_for("gp").nhs_missing, 0.3);
        for bad in ["gp.nhs_missing", "xx.nhs_missing=0.1", "gp.nhs_missing=2", "gp=0.1"] {
            assert!(set_rate(&mut cfg, bad).is_err(), "{bad}");
        }
        let e = set_rate(&mut cfg, "gp.colour=0.1").unwrap_err().to_string();
        assert!(e.contains("unknown knob") && e.contains("nhs_typo"), "{e}");
    }
}
