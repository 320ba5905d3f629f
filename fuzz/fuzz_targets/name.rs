#![no_main]
//! Fuzz target `name`: see `pseudolink::fuzzing::name` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::name(data));
