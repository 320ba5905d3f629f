//! Integration tests: one binary (see Cargo.toml `[[test]]`), one module per area.

// Helpers are `pub` for use across test modules; the binary has no public API to protect.
#![allow(unreachable_pub)]

mod util;

mod cli_audit;
mod cli_common;
mod cli_init;
mod cli_keygen;
mod cli_link;
mod cli_rekey;
mod cli_synth;
mod cli_timeline;
mod cli_tokenise;
mod faults;
mod fuzz_corpus;
mod grouped_records;
mod hostile;
mod leaks;
mod pair_kernel;
mod properties;
mod vectors;
