//! No command writes over one of its inputs, the key, or another output of the same run.
//!
//! Every command lists the files it will write and the files it reads (with what each is) before
//! it writes anything, and [`check`] refuses the run if two of them are the same file: the same
//! path after resolving `..` and symlinks in its folder, or the same file reached by another name
//! (a hard link). An output that would replace the key file, a config or an extract is the kind of
//! slip that loses data nobody can recreate, so it is refused rather than warned about.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file a run reads, and what it is ("the key file", "the config", "an input extract").
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Its path as given.
    pub path: &'a Path,
    /// What it is, for the message.
    pub what: &'a str,
}

/// Refuses the run if an output is one of the inputs or two outputs are the same file.
pub fn check(outputs: &[&Path], inputs: &[Input<'_>]) -> Result<()> {
    let ins: Vec<(Identity, &Input<'_>)> = inputs.iter().map(|i| (Identity::of(i.path), i)).collect();
    let mut seen: Vec<(Identity, &Path)> = Vec::with_capacity(outputs.len());
    for &out in outputs {
        let id = Identity::of(out);
        if let Some((_, input)) = ins.iter().find(|(i, _)| i.same(&id)) {
            return Err(Error::usage(format!(
                "{}: this output would replace {} ({}); pseudolink never writes over its inputs. \
                 Choose another output path",
                out.display(),
                input.what,
                input.path.display()
            )));
        }
        crate::io::atomic::refuse_key(out)?;
        if let Some((_, other)) = seen.iter().find(|(i, _)| i.same(&id)) {
            return Err(Error::usage(format!(
                "{}: two outputs of this run would be the same file ({}); choose distinct output paths",
                out.display(),
                other.display()
            )));
        }
        seen.push((id, out));
    }
    Ok(())
}

/// The files in `dir` (not its subfolders), for commands that read a whole folder: each is an
/// input that no output may replace. A missing folder has none.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect()
}

/// What makes two paths the same file: the resolved path, and the file's device and inode when
/// it exists.
#[derive(Debug)]
struct Identity {
    path: PathBuf,
    inode: Option<(u64, u64)>,
}

impl Identity {
    fn of(p: &Path) -> Identity {
        let path = std::fs::canonicalize(p).unwrap_or_else(|_| {
            // Not there yet: resolve its folder, keep its name.
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            match p.file_name() {
                Some(name) => dir.join(name),
                None => dir,
            }
        });
        Identity { path, inode: inode(p) }
    }

    fn same(&self, other: &Identity) -> bool {
        self.path == other.path || (self.inode.is_some() && self.inode == other.inode)
    }
}

#[cfg(unix)]
fn inode(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn inode(_p: &Path) -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_onto_an_input_by_any_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("project.key");
        std::fs::write(&key, b"k").unwrap();
        std::fs::hard_link(&key, dir.path().join("alias")).unwrap();
        std::os::unix::fs::symlink(&key, dir.path().join("link")).unwrap();
        let inputs = [Input { path: &key, what: "the key file" }];
        for out in
            [key.clone(), dir.path().join("alias"), dir.path().join("link"), dir.path().join(".").join("project.key")]
        {
            let e = check(&[&out], &inputs).unwrap_err().to_string();
            assert!(e.contains("would replace the key file"), "{e}");
        }
        assert!(check(&[&dir.path().join("out.parquet")], &inputs).is_ok());
    }

    #[test]
    fn two_outputs_onto_one_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let e = check(&[&a, &a], &[]).unwrap_err().to_string();
        assert!(e.contains("two outputs of this run would be the same file"), "{e}");
    }
}
