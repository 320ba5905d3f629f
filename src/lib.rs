//! # pseudolink
//!
//! Pseudonymised record linkage of NHS health and care data.
//!
//! ```text
//!  provider A ─┐                                  trusted research environment (TRE)
//!  provider B ─┼─ tokenise (keyed, local) ──► pseudonymised Parquet extracts ──► link ──► timeline
//!  provider C ─┘        secret key stays here        (no identifiers)
//! ```
//!
//! 1. A key custodian makes one [`ProjectKey`] per linkage project ([`token::key`]) and gives it
//!    to each provider; its public [`KeyId`] goes in every extract.
//! 2. Each provider runs [`tokenise::tokenise`] on its own extract: NHS numbers are checked
//!    ([`token::nhs_number`]) and, with names, dates of birth and postcodes, normalised
//!    ([`encode`]) and replaced by keyed HMAC-SHA256 tokens and Bloom-filter encodings under
//!    per-purpose subkeys ([`token::subkey`]). Only allow-listed activity columns pass through.
//!    A manifest ([`io::manifest`]) and a data-quality report ([`tokenise::quality`]) go with it.
//! 3. In the trusted research environment, [`link::link`] links the extracts into persons from
//!    tokens alone — NHS-number links, then a Fellegi–Sunter model trained on the data, then
//!    clustering that never joins two different valid NHS numbers on weak evidence — and
//!    [`link::evaluate`] measures the result against a truth where one exists.
//! 4. [`synth`] makes a synthetic multi-provider population with known truth, for tests,
//!    demos and benchmarks.
//!
//! The whole provider side on a small synthetic extract:
//!
//! ```
//! use pseudolink::{ProjectKey, config::TokeniseConfig, io::manifest::Manifest};
//! use pseudolink::tokenise::{tokenise, TokeniseOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let input = dir.path().join("gp.csv");
//! std::fs::write(&input, "id,nhs,surname,dob\n1,943 476 5919,Smith,03/11/1956\n2,,Jones,\n").unwrap();
//! let config = TokeniseConfig::from_toml_str(r#"
//!     source = "gp"
//!     [record_id]
//!     column = "id"
//!     [[field]]
//!     column = "nhs"
//!     type = "nhs_number"
//!     [[field]]
//!     column = "surname"
//!     type = "family_name"
//!     [[field]]
//!     column = "dob"
//!     type = "date_of_birth"
//! "#, "gp.toml".as_ref())?;
//! // Fixed test bytes: a real key comes from `pseudolink keygen`.
//! let key = ProjectKey::from_bytes([42; 32]);
//! let output = dir.path().join("gp.parquet");
//! let done = tokenise(&config, &key, &input, &output, &TokeniseOptions::default())?;
//! assert_eq!(done.report.rows_written, 2);
//! let (manifest, _) = Manifest::read(&output)?;
//! assert_eq!(manifest.key_id, key.id().to_string());
//! # Ok::<(), pseudolink::Error>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod audit;
/// The command line's entry point (the `pseudolink` binary calls it); the rest of the command
/// line is private to this crate.
#[doc(hidden)]
pub mod cli;
pub mod config;
pub mod encode;
pub mod error;
pub mod fuzzing;
pub mod init;
pub mod inspect;
pub mod io;
pub mod link;
pub mod report;
pub mod synth;
pub mod timeline;
pub mod token;
pub mod tokenise;

pub use error::{Error, ErrorKind, Location, Result};
pub use token::{KeyId, ProjectKey};
