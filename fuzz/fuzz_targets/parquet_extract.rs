#![no_main]
//! Fuzz target `parquet_extract`: see `pseudolink::fuzzing::parquet_extract` for the properties
//! checked. A panic inside the `parquet` crate that pseudolink catches and reports as an error
//! (`pseudolink::io::parquet::Guarded`) is not a finding, so the abort-on-panic hook is told to
//! let those through.
libfuzzer_sys::fuzz_target!(
    init: {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !pseudolink::io::parquet::decoding_untrusted() {
                abort(info)
            }
        }));
    },
    |data: &[u8]| pseudolink::fuzzing::parquet_extract(data)
);
