//! Atomic output files: written under a temporary name beside the destination and renamed into
//! place when complete, so a reader, a crash or a full disk never leaves a partial file at the
//! destination. An uncommitted file is removed when dropped (including during a panic unwind).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

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
        let tmp = dir.join(format!(".{}.pseudolink-{}.tmp", name.to_string_lossy(), std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io("creating", &tmp, e))?;
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

    /// Flushes to disk and renames into place.
    pub fn commit(mut self) -> Result<()> {
        let file = self.file.take().expect("file present until commit");
        file.sync_all().map_err(|e| Error::io("writing", &self.dest, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.dest).map_err(|e| Error::io("renaming into place", &self.dest, e))?;
        Ok(())
    }
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
    fn missing_folder_is_a_clear_error() {
        let e = AtomicFile::create(Path::new("/nonexistent-folder-xyz/out.parquet")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
    }
}
