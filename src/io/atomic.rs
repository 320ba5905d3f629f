//! Atomic, private output files: written under an unpredictable temporary name beside the
//! destination, created exclusively with mode 0600, and renamed into place when complete, so a
//! reader, a crash or a full disk never leaves a partial file at the destination, and nobody can
//! plant a file or a symlink at the temporary name beforehand. An uncommitted file is removed when
//! dropped (including during a panic unwind).
//!
//! Pseudonymised data is still personal data, so every output is private to its owner (0600, and
//! folders pseudolink creates 0700) unless the run asks for group-readable outputs
//! ([`set_group_readable`], the CLI's `--group-readable`): then 0640 and 0750. Outputs are never
//! readable by other users.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static GROUP_READABLE: AtomicBool = AtomicBool::new(false);

/// Makes the outputs of this process group-readable (files 0640, folders 0750) instead of
/// private (0600 and 0700). For TREs whose analysts share a project group.
pub fn set_group_readable(on: bool) {
    GROUP_READABLE.store(on, Ordering::Relaxed);
}

/// The mode a finished output file gets.
pub fn file_mode() -> u32 {
    if GROUP_READABLE.load(Ordering::Relaxed) { 0o640 } else { 0o600 }
}

/// The mode of a folder pseudolink creates for outputs.
pub fn folder_mode() -> u32 {
    if GROUP_READABLE.load(Ordering::Relaxed) { 0o750 } else { 0o700 }
}

/// Creates `dir` (and missing parents) for outputs; a folder this creates gets [`folder_mode`].
/// An existing folder is used as it is.
pub fn create_output_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(folder_mode());
    }
    builder.create(dir).map_err(|e| Error::io("creating folder", dir, e))
}

/// Opens a new file exclusively (never following a symlink, never reusing an existing file) with
/// mode 0600. Used for temporary and spill files.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut o = fs::OpenOptions::new();
    o.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Largest key file: a key file is a few hundred bytes; the key parser refuses larger ones, so
/// that everything it accepts is recognised here.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// Whether `path` is an existing pseudolink key file (of any kind), read as the key parser reads
/// one (comments and blank lines skipped, `name: value` with any spacing): whatever command is
/// writing or removing, and whether or not the key is one of its inputs, a key is never replaced.
pub fn is_key_file(path: &Path) -> bool {
    use std::io::Read;
    // Only regular files: opening a FIFO or a terminal to read would block.
    if !fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let Ok(f) = File::open(path) else { return false };
    let mut bytes = Vec::new();
    if f.take(MAX_KEY_FILE_BYTES).read_to_end(&mut bytes).is_err() {
        return false;
    }
    let text = String::from_utf8_lossy(&bytes);
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).any(|l| {
        l.split_once(':').is_some_and(|(name, value)| {
            let value = value.trim();
            name.trim() == "format" && value.starts_with("pseudolink-") && value.ends_with("key")
        })
    })
}

/// Refuses an output path that holds a key file.
pub fn refuse_key(path: &Path) -> Result<()> {
    if is_key_file(path) {
        return Err(Error::usage(format!(
            "{}: is a pseudolink key file; pseudolink never writes over a key. Choose another output path",
            path.display()
        )));
    }
    Ok(())
}

/// Removes an earlier run's output (a summary written last, which marks a finished folder) before
/// a new run writes it again; refuses if the file is a key.
pub fn remove_stale(path: &Path) -> Result<()> {
    refuse_key(path)?;
    let _ = fs::remove_file(path);
    Ok(())
}

/// A temporary name in `dir` for `name`: hidden, and with 64 random bits so it cannot be
/// predicted (and pre-created) by another user.
pub fn temp_name(dir: &Path, name: &str) -> PathBuf {
    let mut r = [0u8; 8];
    // The OS random source failing is not something to carry on through silently, but a
    // predictable name is still safe: the file is created exclusively.
    let _ = getrandom::fill(&mut r);
    dir.join(format!(".{name}.pseudolink-{}-{}.tmp", std::process::id(), hex::encode(r)))
}

/// A file being written; it reaches its destination only on [`AtomicFile::commit`].
#[derive(Debug)]
pub struct AtomicFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Starts writing `dest`. Fails if `dest` is a directory or its folder does not exist.
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        if dest.is_dir() {
            return Err(Error::usage(format!("{}: is a directory; give a file name for the output", dest.display())));
        }
        refuse_key(dest)?;
        let name = dest.file_name().ok_or_else(|| Error::usage(format!("{}: not a file name", dest.display())))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "{}: the folder {} does not exist; create it first",
                dest.display(),
                dir.display()
            )));
        }
        let tmp = temp_name(&dir, &name.to_string_lossy());
        let file = create_private(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
        Ok(AtomicFile { tmp, dest: dest.to_path_buf(), file: Some(file) })
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The open temporary file.
    pub fn file(&mut self) -> &mut File {
        // Present until commit consumes self.
        self.file.as_mut().expect("file present until commit")
    }

    /// A second handle to the temporary file, for writers that take ownership.
    pub fn try_clone_file(&self) -> Result<File> {
        self.file
            .as_ref()
            .expect("file present until commit")
            .try_clone()
            .map_err(|e| Error::io("writing", &self.tmp, e))
    }

    /// Flushes to disk, sets the output mode and renames into place. On failure the temporary
    /// file is removed.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("file present until commit");
        let result = finish(file, &self.tmp, &self.dest);
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }
}

fn finish(file: File, tmp: &Path, dest: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(fs::Permissions::from_mode(file_mode()))
            .map_err(|e| Error::io("setting permissions on", tmp, e))?;
    }
    file.sync_all().map_err(|e| Error::io("writing", dest, e))?;
    drop(file);
    fs::rename(tmp, dest).map_err(|e| Error::io("renaming into place", dest, e))
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(dest)?;
    f.file().write_all(bytes).map_err(|e| Error::io("writing", dest, e))?;
    f.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_at_destination_until_commit_and_no_temp_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.txt");
        {
            let mut f = AtomicFile::create(&dest).unwrap();
            f.file().write_all(b"partial").unwrap();
            assert!(!dest.exists());
        }
        assert!(!dest.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&dest, b"done").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"done");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_and_final_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.parquet");
        let mut f = AtomicFile::create(&dest).unwrap();
        let tmp = fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
        assert_eq!(fs::metadata(&tmp).unwrap().permissions().mode() & 0o777, 0o600);
        f.file().write_all(b"x").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn temporary_names_are_unpredictable() {
        let a = temp_name(Path::new("."), "out.parquet");
        let b = temp_name(Path::new("."), "out.parquet");
        assert_ne!(a, b);
    }

    #[test]
    fn a_planted_symlink_or_file_is_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        fs::write(&target, b"precious").unwrap();
        let link = dir.path().join("planted");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(create_private(&link).is_err());
        assert!(create_private(&target).is_err());
        assert_eq!(fs::read(&target).unwrap(), b"precious");
    }

    #[test]
    fn key_files_are_recognised_however_they_are_spaced_or_commented() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key) in [
            ("format: pseudolink-key\n", true),
            ("format:pseudolink-key\n", true),
            ("  format  :   pseudolink-linkage-key  \n", true),
            (&format!("{}\nformat: pseudolink-tre-key\n", "# comment\n".repeat(200)), true),
            ("# format: pseudolink-key\n", false),
            ("PAR1", false),
        ] {
            let p = dir.path().join("f");
            fs::write(&p, text).unwrap();
            assert_eq!(is_key_file(&p), key, "{text:?}");
            if key {
                assert!(AtomicFile::create(&p).is_err());
            }
        }
    }

    #[test]
    fn missing_folder_is_a_clear_error() {
        let e = AtomicFile::create(Path::new("/nonexistent-folder-xyz/out.parquet")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
