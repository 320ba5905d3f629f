#![no_main]
//! Fuzz target `manifest_json`: see `pseudolink::fuzzing::manifest_json` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::manifest_json(data));
