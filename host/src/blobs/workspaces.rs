//! Materialised workspaces kept between tasks: a worker builds the
//! read-only `/workspace` of a manifest once, under a directory named by the
//! manifest's digest, and every later task with the same manifest mounts
//! that directory again — no files written, no inodes created and deleted
//! per task (most of a warm task's cost before).
//!
//! A workspace is built in a temporary directory and renamed into place, so
//! a directory named by a digest is always complete; its blobs were
//! verified as it was built, and the directory is the worker's own, like its
//! blob cache. The `keep` most recently used are kept; one in use by a task
//! is never removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use super::{BlobError, Manifest, Moved};

#[derive(Debug, Default)]
struct Slot {
    in_use: usize,
    last_used: u64,
}

#[derive(Debug)]
pub struct Workspaces {
    root: PathBuf,
    keep: usize,
    slots: Mutex<(u64, HashMap<String, Slot>)>,
}

/// A workspace checked out for one task; checked back in when dropped.
#[derive(Debug)]
pub struct CheckedOut<'a> {
    owner: &'a Workspaces,
    digest: String,
    path: PathBuf,
}

impl CheckedOut<'_> {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CheckedOut<'_> {
    fn drop(&mut self) {
        let mut slots = self.owner.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.1.get_mut(&self.digest) {
            slot.in_use = slot.in_use.saturating_sub(1);
        }
    }
}

impl Workspaces {
    /// Workspaces under `root` (created); those a previous run of the worker
    /// left there are reused, and evicted first.
    pub fn new(root: &Path, keep: usize) -> Result<Workspaces, BlobError> {
        std::fs::create_dir_all(root).map_err(super::io(root))?;
        let mut slots = HashMap::new();
        for entry in std::fs::read_dir(root).map_err(super::io(root))?.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if super::is_digest(&name) {
                slots.insert(name, Slot::default());
            } else {
                // A build a crash interrupted.
                let _ = remove_tree(&entry.path());
            }
        }
        Ok(Workspaces { root: root.to_path_buf(), keep: keep.max(1), slots: Mutex::new((0, slots)) })
    }

    /// The workspace of `manifest`: the one kept from an earlier task
    /// (every file counted as from the cache), or one `build` fills now.
    pub fn checkout(&self, manifest: &Manifest, build: impl FnOnce(&Path) -> Result<Moved, BlobError>) -> Result<(CheckedOut<'_>, Moved), BlobError> {
        let digest = manifest_digest(manifest);
        let path = self.root.join(&digest);
        let moved = if path.is_dir() {
            Moved { from_cache: manifest.files.len() as u64, ..Moved::default() }
        } else {
            let tmp = tempfile::Builder::new().prefix(".build-").tempdir_in(&self.root).map_err(super::io(&self.root))?;
            let moved = build(tmp.path())?;
            let built = tmp.keep();
            // Another task may have built the same workspace meanwhile: keep one.
            if std::fs::rename(&built, &path).is_err() {
                let _ = remove_tree(&built);
                if !path.is_dir() {
                    return Err(BlobError::Io { path, source: std::io::Error::other("the built workspace could not be put in place") });
                }
            }
            moved
        };
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.0 += 1;
        let now = slots.0;
        let slot = slots.1.entry(digest.clone()).or_default();
        slot.in_use += 1;
        slot.last_used = now;
        self.evict(&mut slots.1);
        Ok((CheckedOut { owner: self, digest, path }, moved))
    }

    fn evict(&self, slots: &mut HashMap<String, Slot>) {
        while slots.len() > self.keep {
            let Some(oldest) = slots.iter().filter(|(_, s)| s.in_use == 0).min_by_key(|(_, s)| s.last_used).map(|(d, _)| d.clone()) else {
                return;
            };
            slots.remove(&oldest);
            if let Err(e) = remove_tree(&self.root.join(&oldest)) {
                tracing::warn!(workspace = %oldest, error = %e, "could not remove a kept workspace");
            }
        }
    }
}

/// The digest naming a manifest's workspace (paths, digests and modes).
fn manifest_digest(manifest: &Manifest) -> String {
    let mut h = Sha256::new();
    for (rel, entry) in &manifest.files {
        h.update((rel.len() as u64).to_be_bytes());
        h.update(rel.as_bytes());
        h.update(entry.sha256.as_bytes());
        h.update(u32::from(entry.mode & 0o111 != 0).to_be_bytes());
    }
    hex::encode(h.finalize())
}

/// Remove a workspace tree whose files are read-only.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blobs::{BlobCache, Scanner, materialise};

    #[test]
    fn a_manifest_is_built_once_and_evicted_only_when_unused() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.txt"), "a").unwrap();
        let first = Scanner::default().scan(src.path(), false).unwrap();
        std::fs::write(src.path().join("b.txt"), "b").unwrap();
        let second = Scanner::default().scan(src.path(), false).unwrap();
        let root = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(root.path().join("cache"), 1 << 20).unwrap();
        let spaces = Workspaces::new(&root.path().join("ws"), 1).unwrap();
        let fetch = |r: &str, _: &crate::blobs::Entry| std::fs::read(src.path().join(r)).map_err(crate::blobs::io(src.path()));
        let (one, moved) = spaces.checkout(&first, |dest| materialise(&first, dest, &cache, fetch)).unwrap();
        assert_eq!((moved.fetched, moved.from_cache), (1, 0));
        assert_eq!(std::fs::read_to_string(one.path().join("a.txt")).unwrap(), "a");
        let (again, moved) = spaces.checkout(&first, |_| panic!("not built twice")).unwrap();
        assert_eq!((moved.fetched, moved.from_cache), (0, 1));
        assert_eq!(again.path(), one.path());
        // Over the bound while `first`'s is in use: both stay.
        let (two, _) = spaces.checkout(&second, |dest| materialise(&second, dest, &cache, fetch)).unwrap();
        assert!(one.path().is_dir() && two.path().is_dir());
        let kept = one.path().to_path_buf();
        drop((one, again, two));
        let (_three, _) = spaces.checkout(&second, |_| panic!("kept")).unwrap();
        assert!(!kept.is_dir(), "the unused, least recently used workspace went");
    }
}
