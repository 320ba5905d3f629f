//! `rekey`: the TRE's second key (issue 10, finding 8: every provider holds the project key, so
//! anyone at a provider who obtains TRE extracts could reverse every NHS-number token).

use crate::util::{Dir, column_values, text, tokenised_population};

#[test]
fn rekeyed_extracts_link_exactly_as_raw_ones_and_no_token_survives() {
    let d = Dir::new();
    let extracts = tokenised_population(&d, "1500", "8");
    let id = text(&d.ok(&["keygen", "--tre", "--out", "tre.key"]).stdout);
    let mut args = vec!["rekey", "--key-file", "tre.key", "--out-dir", "tre", "--input"];
    args.extend(extracts.iter().map(String::as_str));
    d.ok(&args);

    // No token of the provider's extract appears in the re-keyed one; Bloom filters differ.
    for col in ["nhs_number_token", "family_name_exact", "dob_full", "given_name_bloom"] {
        let raw = column_values(&d.path("gp.parquet"), col);
        let re = column_values(&d.path("tre/gp.parquet"), col);
        assert_eq!(raw.len(), re.len());
        let raw_set: std::collections::HashSet<_> = raw.iter().flatten().collect();
        assert!(re.iter().flatten().all(|t| !raw_set.contains(t)), "{col}: a provider token survived");
        assert_eq!(raw.iter().filter(|t| t.is_none()).count(), re.iter().filter(|t| t.is_none()).count());
    }
    let (m, _) = pseudolink::io::manifest::Manifest::read(&d.path("tre/gp.parquet")).unwrap();
    assert_eq!(m.tre_key_id.as_deref(), Some(id.trim()));

    // The same persons, pairs and model: equal tokens stay equal and Dice is unchanged.
    let link = |dir: &str, files: Vec<String>| {
        let mut a = vec!["link".to_string()];
        a.extend(files);
        a.extend(["--out", dir, "--linkage-key", "linkage.key", "-q"].map(String::from));
        d.ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    };
    link("raw", extracts.clone());
    link("rekeyed", extracts.iter().map(|e| format!("tre/{e}")).collect());
    // The model says which keys it was trained under; all else is equal.
    let model = |dir: &str| {
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path(&format!("{dir}/model.json"))).unwrap()).unwrap();
        let key = m["key_id"].take();
        (m, key.as_str().unwrap().to_string())
    };
    let ((raw_model, raw_key), (re_model, re_key)) = (model("raw"), model("rekeyed"));
    assert_eq!(raw_model, re_model, "model.json differs after rekeying");
    assert!(!raw_key.contains("re-keyed") && re_key.contains(&format!("re-keyed under {}", id.trim())), "{re_key}");
    for f in ["clusters.parquet", "pairs.parquet"] {
        assert!(
            std::fs::read(d.path(&format!("raw/{f}"))).unwrap()
                == std::fs::read(d.path(&format!("rekeyed/{f}"))).unwrap(),
            "{f} differs after rekeying"
        );
    }

    // A mix of re-keyed and raw extracts is refused, as is re-keying twice or with a project key.
    let err = d.fails(&["link", "tre/gp.parquet", "acute.parquet", "--out", "mix"], 1);
    assert!(err.contains("is not re-keyed, but tre/gp.parquet is re-keyed under TRE key id"), "{err}");
    let err = d.fails(&["rekey", "--key-file", "tre.key", "--input", "tre/gp.parquet", "--output", "twice.parquet"], 1);
    assert!(err.contains("was already re-keyed"), "{err}");
    let err = d.fails(&["rekey", "--key-file", "k.key", "--input", "gp.parquet", "--output", "x.parquet"], 1);
    assert!(err.contains("is a project key file, not a TRE key file"), "{err}");
    let err = d.fails(&["rekey", "--key-file", "tre.key", "--input", "gp.parquet", "--output", "gp.parquet"], 2);
    assert!(err.contains("would replace an input extract"), "{err}");
    assert!(!d.path("twice.parquet").exists() && !d.path("x.parquet").exists());
}
