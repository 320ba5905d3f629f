#![no_main]
//! Fuzz target `link_config`: see `pseudolink::fuzzing::link_config` for the properties checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| pseudolink::fuzzing::link_config(data));
