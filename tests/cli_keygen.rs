//! `pseudolink keygen`.

use crate::util::{Dir, text};

#[test]
fn keygen_writes_a_private_key_and_prints_its_id() {
    let d = Dir::new();
    let out = d.ok(&["keygen", "--out", "p.key"]);
    let id = text(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 32);
    let key = pseudolink::ProjectKey::read_file(&d.path("p.key")).unwrap();
    assert_eq!(key.id().to_string(), id);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(d.path("p.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // The secret never reaches stdout or stderr.
    let file = std::fs::read_to_string(d.path("p.key")).unwrap();
    let secret = file.lines().find_map(|l| l.strip_prefix("secret: ")).unwrap();
    assert!(!text(&out.stdout).contains(secret) && !text(&out.stderr).contains(secret));
}

#[test]
fn keygen_refuses_to_overwrite() {
    let d = Dir::new();
    d.write("p.key", "precious");
    let err = d.fails(&["keygen", "--out", "p.key"], 2);
    assert!(err.contains("p.key: already exists; pseudolink never overwrites a key file"), "{err}");
    assert_eq!(std::fs::read_to_string(d.path("p.key")).unwrap(), "precious");
}

#[test]
fn two_keys_differ() {
    let d = Dir::new();
    let a = text(&d.ok(&["keygen", "--out", "a.key"]).stdout);
    let b = text(&d.ok(&["keygen", "--out", "b.key"]).stdout);
    assert_ne!(a, b);
}
