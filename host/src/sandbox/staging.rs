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
    #[error("the merge of /out took longer than its budget of {0:?}; nothing was published")]
    OverBudget(std::time::Duration),
}

/// The files a merge published, relative to the destination, sorted.
pub type Merged = Vec<String>;

/// Merge `staging` into `dest` within `budget`. With `add_only`, an existing
/// file is never replaced: the whole merge is refused before anything is
/// written. Every file is first copied to a temporary name beside its
/// destination; the copies are made durable with one `syncfs` (not one
/// fsync per file) and only then renamed into place, so a merge that runs
/// out of budget publishes nothing.
pub fn merge(staging: &Path, dest: &Path, add_only: bool, budget: std::time::Duration) -> Result<Merged, MergeError> {
    let deadline = std::time::Instant::now() + budget;
    let mut files = Vec::new();
    collect(staging, Path::new(""), &mut files)?;
    files.sort();
    for rel in &files {
        check_parents(dest, rel)?;
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
    let mut copies = Vec::with_capacity(files.len());
    for rel in &files {
        if std::time::Instant::now() >= deadline {
            return Err(MergeError::OverBudget(budget));
        }
        let copy = copy_beside(&staging.join(rel), &dest.join(rel)).map_err(|source| MergeError::Io { path: display(rel), source })?;
        copies.push((rel, copy));
    }
    if let Some((rel, first)) = copies.first() {
        sync_filesystem(first.as_file()).map_err(|source| MergeError::Io { path: display(rel), source })?;
    }
    for (rel, copy) in copies {
        copy.persist(dest.join(rel)).map_err(|e| MergeError::Io { path: display(rel), source: e.error })?;
    }
    Ok(files.iter().map(|p| display(p)).collect())
}

/// Refuse to merge `rel` when a directory on its way inside `dest` is a
/// symlink (or not a directory): the destination may hold symlinks a guest
/// never planted — a reviewed repository's, a user's — and writing through
/// one would put a guest-named file outside `dest`. Checked before anything
/// is written; parents that do not exist yet are made as real directories.
pub fn check_parents(dest: &Path, rel: &Path) -> Result<(), MergeError> {
    let mut at = dest.to_path_buf();
    let mut on_the_way = PathBuf::new();
    let parents: Vec<_> = rel.components().collect();
    for c in &parents[..parents.len().saturating_sub(1)] {
        at.push(c);
        on_the_way.push(c);
        let refused = |why: &str| MergeError::Io { path: display(rel), source: io::Error::other(format!("`{}` in the destination {why}", display(&on_the_way))) };
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(meta) if meta.file_type().is_symlink() => return Err(refused("is a symlink; nothing is merged through one")),
            Ok(_) => return Err(refused("is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(MergeError::Io { path: display(rel), source }),
        }
    }
    Ok(())
}

/// `src` copied to a temporary file in `dst`'s directory (not yet durable).
fn copy_beside(src: &Path, dst: &Path) -> io::Result<tempfile::NamedTempFile> {
    let dir = dst.parent().ok_or_else(|| io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".taylordash-merge-").tempfile_in(dir)?;
    let mut from = std::fs::File::open(src)?;
    io::copy(&mut from, tmp.as_file_mut())?;
    Ok(tmp)
}

/// Flush every dirty page of the filesystem holding `file`, once.
fn sync_filesystem(file: &std::fs::File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `syncfs` takes a file descriptor and touches no memory of
    // ours; `file` is open for the whole call.
    if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Bytes an unprivileged writer may still write on the filesystem holding
/// `path` (`None` when it cannot be asked).
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path alive for the call; `statvfs`
    // writes only into `st`, a zeroed `statvfs` of the right size, which is
    // read only when the call succeeded (a plain-data struct: any bytes are
    // a valid value).
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: initialised (zeroed, then filled by the successful call).
    let st = unsafe { st.assume_init() };
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// A staged path as it may be printed: guest-chosen names are escaped.
fn display(rel: &Path) -> String {
    super::escape::for_terminal(&rel.to_string_lossy())
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

/// What [`copy_tree`] copied: each file's path and the sha256 of the bytes
/// copied. The original may change while the program runs (the orchestrator
/// rewrites `agents.json` as stages end), so what the program changed is told
/// against this, not against the original.
pub type Copied = std::collections::BTreeMap<PathBuf, [u8; 32]>;

/// Copy the regular files and directories of `src` into `dst` (symlinks
/// skipped); what was copied.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<Copied> {
    let mut copied = Copied::new();
    copy_tree_into(src, dst, Path::new(""), &mut copied)?;
    Ok(copied)
}

fn copy_tree_into(src: &Path, dst: &Path, rel: &Path, copied: &mut Copied) -> io::Result<()> {
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let to = dst.join(entry.file_name());
        let rel = rel.join(entry.file_name());
        if kind.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree_into(&entry.path(), &to, &rel, copied)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &to)?;
            copied.insert(rel, sha256_of(&to)?);
        }
    }
    Ok(())
}

fn sha256_of(path: &Path) -> io::Result<[u8; 32]> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    Ok(hasher.finalize().into())
}

/// Copy into `out` every file of `scratch` that is new or differs from what
/// was `copied` there, at most `limit` bytes in all (the call's `out_bytes`
/// left): the files are measured before any is read, and nothing is read
/// whole into memory. Returns the bytes copied.
pub fn copy_changed(scratch: &Path, copied: &Copied, out: &Path, limit: u64) -> io::Result<u64> {
    let mut files = Vec::new();
    collect(scratch, Path::new(""), &mut files).map_err(|e| io::Error::other(e.to_string()))?;
    let mut changed = Vec::new();
    let mut total = 0u64;
    for rel in files {
        let new = scratch.join(&rel);
        if copied.get(&rel).is_some_and(|digest| sha256_of(&new).is_ok_and(|now| now == *digest)) {
            continue;
        }
        total = total.saturating_add(std::fs::metadata(&new)?.len());
        if total > limit {
            return Err(io::Error::other(format!("its files exceed the out_bytes quota ({limit} bytes left)")));
        }
        changed.push(rel);
    }
    for rel in changed {
        let to = out.join(&rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(scratch.join(&rel), to)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    /// Found by `cargo xtask chaos`: the orchestrator rewrote the
    /// workspace's `agents.json` while bash_runner ran in its copy, and the
    /// copy's older `agents.json` was staged as the program's change (an
    /// add-only run then refused the whole task).
    #[test]
    fn a_file_the_original_changed_meanwhile_is_not_the_programs_change() {
        let root = tempfile::tempdir().unwrap();
        let (ws, scratch, out) = (root.path().join("ws"), root.path().join("scratch"), root.path().join("out"));
        for d in [&ws, &scratch, &out] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::write(ws.join("agents.json"), "{\"stage\": 1}").unwrap();
        std::fs::write(ws.join("app.py"), "print()").unwrap();
        let copied = super::copy_tree(&ws, &scratch).unwrap();
        std::fs::write(ws.join("agents.json"), "{\"stage\": 2}").unwrap();
        std::fs::write(scratch.join("app.py"), "print('changed')").unwrap();
        std::fs::write(scratch.join("report.txt"), "new").unwrap();
        let staged = super::copy_changed(&scratch, &copied, &out, 1 << 20).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["app.py", "report.txt"]);
        assert_eq!(staged, ("print('changed')".len() + "new".len()) as u64);
    }
    use super::*;

    const BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

    #[test]
    fn guest_file_names_are_escaped_in_merge_errors() {
        let staging = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(staging.path().join("a\x1b]0;pwned\x07\nINFO forged"), "x").unwrap();
        std::fs::write(dest.path().join("a\x1b]0;pwned\x07\nINFO forged"), "old").unwrap();
        let err = merge(staging.path(), dest.path(), true, BUDGET).unwrap_err();
        assert_eq!(err.to_string(), "add_only: /out/a\\u{1b}]0;pwned\\u{7}\\u{a}INFO forged would overwrite an existing file");
    }

    #[test]
    fn a_merge_over_its_budget_publishes_nothing() {
        let staging = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(staging.path().join("a.txt"), "a").unwrap();
        let err = merge(staging.path(), dest.path(), false, std::time::Duration::ZERO).unwrap_err();
        assert_eq!(err.to_string(), "the merge of /out took longer than its budget of 0ns; nothing was published");
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }

    #[test]
    fn add_only_refuses_before_writing_anything() {
        let staging = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(staging.path().join("a.txt"), "new a").unwrap();
        std::fs::write(staging.path().join("b.txt"), "new b").unwrap();
        std::fs::write(dest.path().join("b.txt"), "old b").unwrap();
        let err = merge(staging.path(), dest.path(), true, BUDGET).unwrap_err();
        assert_eq!(err.to_string(), "add_only: /out/b.txt would overwrite an existing file");
        assert!(!dest.path().join("a.txt").exists());
        assert_eq!(std::fs::read_to_string(dest.path().join("b.txt")).unwrap(), "old b");
        let merged = merge(staging.path(), dest.path(), false, BUDGET).unwrap();
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
        let err = merge(staging.path(), dest.path(), false, BUDGET).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/out/sub/evil is a symlink or special file; only regular files and directories are merged"
        );
        assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
    }

    /// Found by `taylordash-fuzz` (target `merge`): a symlinked directory in
    /// the destination (a reviewed repository may commit one) carried a
    /// staged file outside it.
    #[cfg(unix)]
    #[test]
    fn a_symlinked_directory_in_the_destination_is_not_merged_through() {
        let root = tempfile::tempdir().unwrap();
        let (staging, dest, outside) = (root.path().join("staging"), root.path().join("dest"), root.path().join("outside"));
        for d in [&staging, &dest, &outside] {
            std::fs::create_dir(d).unwrap();
        }
        std::fs::create_dir_all(staging.join("docs/sub")).unwrap();
        std::fs::write(staging.join("docs/sub/x.md"), "pwned").unwrap();
        std::fs::write(staging.join("ok.md"), "fine").unwrap();
        std::fs::create_dir(dest.join("docs")).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("docs/sub")).unwrap();
        let err = merge(&staging, &dest, false, BUDGET).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot merge /out/docs/sub/x.md: `docs/sub` in the destination is a symlink; nothing is merged through one"
        );
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        assert!(!dest.join("ok.md").exists(), "refused before anything was written");
    }
}
