#![no_main]
//! Fuzz target `nhs_number`: see `pseudolink::fuzzing::nhs_number` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::nhs_number(data));
