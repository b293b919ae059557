//! Staging directories and the merge that publishes them.
//!
//! A call writes only into its own fresh `/out`; the host merges it into the
//! destination after the call succeeds, and a failed call's staging dir is
//! simply dropped — that is the rollback. The merge takes regular files and
//! directories only (a symlink a guest planted is refused, never followed),
//! checks every conflict before it writes anything, and writes each file to a
//! temporary name inside its destination directory before renaming it into
//! place, so a crash leaves either the old file or the new one.

use std::io;
use std::path::{Path, PathBuf};

/// Why a merge was refused or failed. Nothing was written when refused.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("/out/{0} is a symlink or special file; only regular files and directories are merged")]
    NotRegular(String),
    #[error("add_only: /out/{0} would overwrite an existing file")]
    WouldOverwrite(String),
    #[error("cannot merge /out/{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// The files a merge published, relative to the destination, sorted.
pub type Merged = Vec<String>;

/// Merge `staging` into `dest`. With `add_only`, an existing file is never
/// replaced: the whole merge is refused before anything is written.
pub fn merge(staging: &Path, dest: &Path, add_only: bool) -> Result<Merged, MergeError> {
    let mut files = Vec::new();
    collect(staging, Path::new(""), &mut files)?;
    files.sort();
    for rel in &files {
        let target = dest.join(rel);
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if meta.is_dir() || !meta.file_type().is_file() => {
                return Err(MergeError::Io {
                    path: display(rel),
                    source: io::Error::other("the destination exists and is not a regular file"),
                });
            }
            Ok(_) if add_only => return Err(MergeError::WouldOverwrite(display(rel))),
            _ => {}
        }
    }
    for rel in &files {
        publish(&staging.join(rel), &dest.join(rel))
            .map_err(|source| MergeError::Io { path: display(rel), source })?;
    }
    Ok(files.iter().map(|p| display(p)).collect())
}

fn display(rel: &Path) -> String {
    rel.to_string_lossy().into_owned()
}

/// Every regular file under `root/rel`, refusing anything else.
pub fn collect(root: &Path, rel: &Path, files: &mut Vec<PathBuf>) -> Result<(), MergeError> {
    let dir = root.join(rel);
    let entries =
        std::fs::read_dir(&dir).map_err(|source| MergeError::Io { path: display(rel), source })?;
    for entry in entries {
        let entry = entry.map_err(|source| MergeError::Io { path: display(rel), source })?;
        let rel = rel.join(entry.file_name());
        let kind = entry.file_type().map_err(|source| MergeError::Io { path: display(&rel), source })?;
        if kind.is_dir() {
            collect(root, &rel, files)?;
        } else if kind.is_file() {
            files.push(rel);
        } else {
            return Err(MergeError::NotRegular(display(&rel)));
        }
    }
    Ok(())
}

/// Copy `src` to `dst` through a temporary file in `dst`'s directory.
pub fn publish(src: &Path, dst: &Path) -> io::Result<()> {
    let dir = dst.parent().ok_or_else(|| io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".taylordash-merge-").tempfile_in(dir)?;
    let mut from = std::fs::File::open(src)?;
    io::copy(&mut from, tmp.as_file_mut())?;
    tmp.as_file().sync_data()?;
    tmp.persist(dst).map_err(|e| e.error)?;
    Ok(())
}

/// Copy the regular files and directories of `src` into `dst` (symlinks skipped).
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree(&entry.path(), &to)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

/// Copy into `out` every file of `scratch` that is new or differs from the
/// same path in `original`.
pub fn copy_changed(scratch: &Path, original: Option<&Path>, out: &Path) -> io::Result<()> {
    let mut files = Vec::new();
    collect(scratch, Path::new(""), &mut files).map_err(|e| io::Error::other(e.to_string()))?;
    for rel in files {
        let new = std::fs::read(scratch.join(&rel))?;
        let unchanged = original.is_some_and(|o| std::fs::read(o.join(&rel)).is_ok_and(|old| old == new));
        if !unchanged {
            let to = out.join(&rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(to, new)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_only_refuses_before_writing_anything() {
        let staging = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(staging.path().join("a.txt"), "new a").unwrap();
        std::fs::write(staging.path().join("b.txt"), "new b").unwrap();
        std::fs::write(dest.path().join("b.txt"), "old b").unwrap();
        let err = merge(staging.path(), dest.path(), true).unwrap_err();
        assert_eq!(err.to_string(), "add_only: /out/b.txt would overwrite an existing file");
        assert!(!dest.path().join("a.txt").exists());
        assert_eq!(std::fs::read_to_string(dest.path().join("b.txt")).unwrap(), "old b");
        let merged = merge(staging.path(), dest.path(), false).unwrap();
        assert_eq!(merged, vec!["a.txt", "b.txt"]);
        assert_eq!(std::fs::read_to_string(dest.path().join("b.txt")).unwrap(), "new b");
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_refused() {
        let staging = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::create_dir(staging.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", staging.path().join("sub/evil")).unwrap();
        let err = merge(staging.path(), dest.path(), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/out/sub/evil is a symlink or special file; only regular files and directories are merged"
        );
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }
}
