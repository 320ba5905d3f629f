//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the fuzz targets'
//! properties (`pseudolink::fuzzing`), so every `cargo test` exercises every target. Any input
//! libFuzzer finds that breaks a property is added to the corpus once fixed.

use std::path::Path;

#[test]
fn every_fuzz_target_holds_on_its_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, check) in pseudolink::fuzzing::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|_| panic!("fuzz target `{name}` has no corpus at {}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "fuzz target `{name}` has an empty corpus");
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(outcome.is_ok(), "fuzz target `{name}` fails on {}", f.display());
        }
    }
    // Every target has its libFuzzer entry point.
    for (name, _) in pseudolink::fuzzing::TARGETS {
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{name}.rs")).exists(), "{name}");
    }
}
