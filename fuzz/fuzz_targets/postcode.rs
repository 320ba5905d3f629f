#![no_main]
//! Fuzz target `postcode`: see `pseudolink::fuzzing::postcode` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::postcode(data));
