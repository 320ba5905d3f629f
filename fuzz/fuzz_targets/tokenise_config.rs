#![no_main]
//! Fuzz target `tokenise_config`: see `pseudolink::fuzzing::tokenise_config` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::tokenise_config(data));
