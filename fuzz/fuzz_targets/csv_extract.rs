#![no_main]
//! Fuzz target `csv_extract`: see `pseudolink::fuzzing::csv_extract` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::csv_extract(data));
