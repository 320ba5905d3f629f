#![no_main]
//! Fuzz target `model_json`: see `pseudolink::fuzzing::model_json` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::model_json(data));
