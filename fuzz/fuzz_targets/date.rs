#![no_main]
//! Fuzz target `date`: see `pseudolink::fuzzing::date` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::date(data));
