//! The project key: 256 secret bits from the OS, a versioned key file, and the public key id.
//!
//! Key file format (version 1), a small text file written with mode 0600:
//!
//! ```text
//! # pseudolink project key. SECRET: do not email, commit or copy it to the TRE.
//! format: pseudolink-key
//! version: 1
//! key-id: 3f1c…(32 hex digits)
//! secret: 9a0b…(64 hex digits)
//! ```
//!
//! Lines starting with `#` are comments. The `key-id` line lets a reader check the secret was
//! not corrupted in transit: it must equal the id derived from the secret. The parser is
//! hand-written so that no error message can ever quote a line of the file.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::token::subkey::{Purpose, Subkey};

/// Secret key length in bytes (256 bits).
pub const KEY_BYTES: usize = 32;
/// Public key id length in bytes (128 bits).
pub const KEY_ID_BYTES: usize = 16;
/// The key-file format version this build writes and reads.
pub const KEY_FILE_VERSION: u32 = 1;
/// The environment variable that may name the key file instead of `--key-file`.
pub const KEY_FILE_ENV: &str = "PSEUDOLINK_KEY_FILE";

/// What a key file's secret is for. Each has its own `format` line, so one kind of key can never
/// be used where another is expected (a linkage key handed to a provider as a project key, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRole {
    /// The project key: providers tokenise under it (`format: pseudolink-key`).
    Project,
    /// The TRE's second key, applied by `rekey` where extracts enter the TRE; providers never
    /// hold it (`format: pseudolink-tre-key`).
    Tre,
    /// The linkage key: keys person ids; it never leaves the TRE (`format: pseudolink-linkage-key`).
    Linkage,
}

impl KeyRole {
    /// The `format` line's value.
    pub fn format_name(self) -> &'static str {
        match self {
            KeyRole::Project => "pseudolink-key",
            KeyRole::Tre => "pseudolink-tre-key",
            KeyRole::Linkage => "pseudolink-linkage-key",
        }
    }

    fn warning(self) -> &'static str {
        match self {
            KeyRole::Project => "# pseudolink project key. SECRET: do not email, commit or copy it to the TRE.\n",
            KeyRole::Tre => "# pseudolink TRE key (second key, for rekey). SECRET: never give it to a provider.\n",
            KeyRole::Linkage => {
                "# pseudolink linkage key (keys person ids). SECRET: it never leaves the TRE; keep it to keep ids stable.\n"
            }
        }
    }

    fn what(self) -> &'static str {
        match self {
            KeyRole::Project => "project key file",
            KeyRole::Tre => "TRE key file",
            KeyRole::Linkage => "linkage key file",
        }
    }
}

/// A project's secret key. Zeroised on drop, never printed, never cloned.
pub struct ProjectKey {
    bytes: Box<[u8; KEY_BYTES]>,
}

/// A key's public identifier: HKDF-derived from the key, safe to publish and to embed in every
/// extract, useless for recovering the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_BYTES]);

impl ProjectKey {
    /// Builds a key from fixed bytes, for tests and examples.
    ///
    /// ```
    /// use pseudolink::ProjectKey;
    /// // Fixed test bytes: never use a key like this for real data.
    /// let key = ProjectKey::from_bytes([7u8; 32]);
    /// assert_eq!(format!("{key:?}"), "ProjectKey([redacted])");
    /// ```
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> ProjectKey {
        let mut key = ProjectKey { bytes: Box::new([0u8; KEY_BYTES]) };
        let mut bytes = bytes;
        key.bytes.copy_from_slice(&bytes);
        bytes.zeroize();
        key
    }

    /// Draws a fresh key from the operating system's random number generator.
    pub fn generate() -> Result<ProjectKey> {
        let mut key = ProjectKey { bytes: Box::new([0u8; KEY_BYTES]) };
        getrandom::fill(&mut key.bytes[..])
            .map_err(|e| Error::usage(format!("the operating system's random number generator failed: {e}")))?;
        Ok(key)
    }

    /// The key's public id.
    pub fn id(&self) -> KeyId {
        let mut id = [0u8; KEY_ID_BYTES];
        Subkey::derive(self, &Purpose::KeyId).expose_prefix(&mut id);
        KeyId(id)
    }

    /// The secret bytes, for key derivation inside this module tree only.
    pub(crate) fn secret(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }

    /// Reads a project key file, refusing one that other users can read.
    pub fn read_file(path: &Path) -> Result<ProjectKey> {
        ProjectKey::read_file_as(path, KeyRole::Project)
    }

    /// Reads a key file of the given role, refusing one that other users can read or own.
    pub fn read_file_as(path: &Path, role: KeyRole) -> Result<ProjectKey> {
        let meta = fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::key(
                path,
                "not found; give the path of the key file your project's key custodian sent \
                 (made by `pseudolink keygen`)",
            ),
            _ => Error::io("reading key file", path, e),
        })?;
        if !meta.is_file() {
            return Err(Error::key(path, "is not a regular file; give the path of the key file itself"));
        }
        check_private(path, &meta)?;
        if meta.len() > crate::io::atomic::MAX_KEY_FILE_BYTES {
            return Err(Error::key(
                path,
                "is far larger than a key file (a few hundred bytes); give the key file itself",
            ));
        }
        let text = Zeroizing::new(fs::read(path).map_err(|e| Error::io("reading key file", path, e))?);
        parse_key_file(path, &text, role)
    }

    /// Writes this key to a new file with mode 0600, refusing to replace an existing file.
    /// The file appears complete or not at all.
    pub fn write_new_file(&self, path: &Path) -> Result<()> {
        self.write_new_file_as(path, KeyRole::Project)
    }

    /// Writes this key as a key file of `role` (see [`ProjectKey::write_new_file`]).
    pub fn write_new_file_as(&self, path: &Path, role: KeyRole) -> Result<()> {
        if fs::symlink_metadata(path).is_ok() {
            return Err(Error::usage(format!(
                "{}: already exists; pseudolink never overwrites a key file. Choose another path, \
                 or move the old key away first if you really mean to replace it",
                path.display()
            )));
        }
        let mut text = Zeroizing::new(String::new());
        text.push_str(role.warning());
        text.push_str(&format!("format: {}\n", role.format_name()));
        text.push_str(&format!("version: {KEY_FILE_VERSION}\n"));
        text.push_str(&format!("key-id: {}\n", self.id()));
        text.push_str("secret: ");
        let mut hex = Zeroizing::new([0u8; KEY_BYTES * 2]);
        // Infallible: the output buffer is exactly twice the input length.
        hex::encode_to_slice(&self.bytes[..], &mut hex[..]).expect("hex buffer sized for the key");
        for &b in hex.iter() {
            text.push(b as char);
        }
        text.push('\n');

        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let tmp = crate::io::atomic::temp_name(dir, "pseudolink-key");
        let result = (|| {
            let mut file =
                crate::io::atomic::create_private(&tmp).map_err(|e| Error::io("creating key file", &tmp, e))?;
            file.write_all(text.as_bytes()).map_err(|e| Error::io("writing key file", &tmp, e))?;
            file.sync_all().map_err(|e| Error::io("writing key file", &tmp, e))?;
            // A hard link fails if the target exists, so a concurrent keygen cannot be clobbered.
            fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    Error::usage(format!("{}: already exists; pseudolink never overwrites a key file", path.display()))
                }
                _ => Error::io("creating key file", path, e),
            })
        })();
        let _ = fs::remove_file(&tmp);
        result
    }
}

impl Drop for ProjectKey {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProjectKey([redacted])")
    }
}

impl KeyId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_ID_BYTES] {
        &self.0
    }

    /// Parses the 32-hex-digit form printed by `keygen` and stored in manifests.
    pub fn parse(text: &str) -> Option<KeyId> {
        let mut id = [0u8; KEY_ID_BYTES];
        hex::decode_to_slice(text.trim(), &mut id).ok()?;
        Some(KeyId(id))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if let Some(me) = current_uid() {
        if meta.uid() != me {
            return Err(Error::key(
                path,
                format!(
                    "belongs to another user (uid {}); a key file must be owned by the account that uses it, \
                     since its owner can read or replace it. Ask the key custodian for your own copy, kept \
                     with `chmod 600`",
                    meta.uid()
                ),
            ));
        }
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::key(
            path,
            format!(
                "other users can access it (mode {mode:04o}); make it private with `chmod 600 {}` \
                 and ask whether anyone else may have copied it",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// The effective user id of this process: on Linux the owner of `/proc/self`. Elsewhere the
/// ownership check is skipped (the mode check still applies).
#[cfg(unix)]
fn current_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Without Unix permissions pseudolink cannot tell who may read the key file: it says so on every
/// read rather than passing silently.
#[cfg(not(unix))]
fn check_private(path: &Path, _meta: &fs::Metadata) -> Result<()> {
    eprintln!(
        "pseudolink: warning: {}: this system has no Unix file modes, so pseudolink cannot check that only you can \
         read the key file; keep it in a folder only you can open",
        path.display()
    );
    Ok(())
}

/// Parses a key file's bytes. Errors name the line number and never its contents.
fn parse_key_file(path: &Path, text: &[u8], role: KeyRole) -> Result<ProjectKey> {
    const FIX: &str = "the file may be damaged; ask the key custodian for a fresh copy";
    if text.is_empty() {
        return Err(Error::key(path, format!("is empty; {FIX}")));
    }
    let text = std::str::from_utf8(text)
        .map_err(|_| Error::key(path, format!("is not a pseudolink key file (not text); {FIX}")))?;
    let (mut format, mut version, mut key_id, mut secret) = (false, None, None, None);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Error::key(path, format!("line {}: expected `name: value`; {FIX}", i + 1)));
        };
        let value = value.trim();
        match name.trim() {
            "format" => {
                format = value == role.format_name();
                if !format {
                    if let Some(other) = [KeyRole::Project, KeyRole::Tre, KeyRole::Linkage]
                        .into_iter()
                        .find(|r| r.format_name() == value)
                    {
                        return Err(Error::key(
                            path,
                            format!("is a {}, not a {}; give the right key file", other.what(), role.what()),
                        ));
                    }
                }
            }
            "version" => version = Some(value.parse::<u32>().ok()),
            "key-id" => key_id = Some(KeyId::parse(value)),
            "secret" => secret = Some(value),
            _ => {
                return Err(Error::key(path, format!("line {}: unknown setting; {FIX}", i + 1)));
            }
        }
    }
    if !format {
        return Err(Error::key(
            path,
            format!("is not a pseudolink key file (no `format: {}` line); {FIX}", role.format_name()),
        ));
    }
    match version {
        Some(Some(KEY_FILE_VERSION)) => {}
        Some(Some(v)) => {
            return Err(Error::key(
                path,
                format!(
                    "has key-file version {v}, but this pseudolink reads version {KEY_FILE_VERSION}; use the pseudolink release the project agreed on"
                ),
            ));
        }
        _ => return Err(Error::key(path, format!("has no valid `version` line; {FIX}"))),
    }
    let Some(secret) = secret else {
        return Err(Error::key(path, format!("has no `secret` line; {FIX}")));
    };
    let mut bytes = Box::new([0u8; KEY_BYTES]);
    if secret.len() != KEY_BYTES * 2 || hex::decode_to_slice(secret, &mut bytes[..]).is_err() {
        bytes.zeroize();
        return Err(Error::key(path, format!("the secret is not {} hex digits; {FIX}", KEY_BYTES * 2)));
    }
    let key = ProjectKey { bytes };
    match key_id {
        Some(Some(id)) if id == key.id() => Ok(key),
        Some(Some(_)) => Err(Error::key(path, format!("the secret does not match the file's key id; {FIX}"))),
        _ => Err(Error::key(path, format!("has no valid `key-id` line; {FIX}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = ProjectKey::from_bytes([0xAB; KEY_BYTES]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "ProjectKey([redacted])");
        assert!(!shown.to_lowercase().contains("ab"));
    }

    #[test]
    fn key_id_depends_on_key_and_round_trips() {
        let a = ProjectKey::from_bytes([1; KEY_BYTES]).id();
        let b = ProjectKey::from_bytes([2; KEY_BYTES]).id();
        assert_ne!(a, b);
        assert_eq!(KeyId::parse(&a.to_string()), Some(a));
        assert_eq!(a.to_string().len(), 32);
    }

    /// Issue 10, finding 12: a private key file owned by another user was accepted. Needs root
    /// to give a file away; skipped (and says so) otherwise.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_key_file_owned_by_another_user_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("project.key");
        ProjectKey::generate().unwrap().write_new_file(&path).unwrap();
        if std::os::unix::fs::chown(&path, Some(65_534), Some(65_534)).is_err() {
            eprintln!("skipped: giving a file to another user needs root");
            return;
        }
        let e = ProjectKey::read_file(&path).expect_err("refused").to_string();
        assert!(e.contains("belongs to another user (uid 65534)"), "{e}");
    }

    #[test]
    fn key_file_round_trips_with_mode_0600_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("project.key");
        let key = ProjectKey::generate().unwrap();
        key.write_new_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let back = ProjectKey::read_file(&path).unwrap();
        assert_eq!(back.secret(), key.secret());
        let again = key.write_new_file(&path).unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temp file left behind");
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        ProjectKey::from_bytes([3; KEY_BYTES]).write_new_file(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = ProjectKey::read_file(&path).unwrap_err().to_string();
        assert!(e.contains("mode 0644") && e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn damaged_key_files_are_refused_without_quoting_them() {
        let good = "format: pseudolink-key\nversion: 1\n";
        let id = ProjectKey::from_bytes([5; KEY_BYTES]).id();
        let secret = hex::encode([5u8; KEY_BYTES]);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "is empty"),
            ("hello".into(), "expected `name: value`"),
            (format!("{good}key-id: {id}\n"), "no `secret` line"),
            (format!("{good}key-id: {id}\nsecret: abcd\n"), "not 64 hex digits"),
            (format!("{good}secret: {secret}\n"), "no valid `key-id`"),
            (format!("{good}key-id: {}\nsecret: {secret}\n", "0".repeat(32)), "does not match"),
            (format!("format: pseudolink-key\nversion: 9\nsecret: {secret}\n"), "version 9"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let e = parse_key_file(Path::new("k"), text.as_bytes(), KeyRole::Project).unwrap_err().to_string();
            assert!(e.contains(want), "case {i}: {e}");
            assert!(!e.contains(&secret), "case {i} leaked the secret");
        }
        let ok = format!("{good}key-id: {id}\nsecret: {secret}\n");
        assert!(parse_key_file(Path::new("k"), ok.as_bytes(), KeyRole::Project).is_ok());
    }
}
