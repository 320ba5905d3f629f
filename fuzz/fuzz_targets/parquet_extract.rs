#![no_main]
//! Fuzz target `parquet_extract`: see `pseudolink::fuzzing::parquet_extract` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::parquet_extract(data));
