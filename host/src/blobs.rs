//! Content-addressed files, for workers that do not share the orchestrator's
//! filesystem (issue "Outgrow one machine", groundwork): a workspace's
//! [`Manifest`] (path → sha256, size, mode), a local [`BlobCache`] bounded by
//! size (least recently used goes first) that verifies every blob's digest
//! when it is stored and again when it is read, and [`materialise`], which
//! builds a read-only workspace from a manifest with blobs from the cache or
//! a fetcher. Transports (the bus, S3) hand bytes in and out; nothing here
//! knows them.
//!
//! The manifest holds what a tool may read: regular files only — a symlink
//! or a special file in the workspace is left out, as the sandbox never
//! follows one — under relative paths without `..`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Hex sha256 of the content.
    pub sha256: String,
    pub size: u64,
    /// Unix permission bits (only `0o755` or `0o644` are kept: executable or not).
    pub mode: u32,
}

/// A workspace's view: relative path (with `/`) → entry, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub files: BTreeMap<String, Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {expected}: its content hashes to {actual}; refused")]
    DigestMismatch { expected: String, actual: String },
    #[error("manifest path `{0}` is not a plain relative path")]
    BadPath(String),
    #[error("blob {0} is neither cached nor fetchable")]
    Missing(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_path_buf(), source }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A relative path of plain components, or an error naming it.
fn plain(rel: &str) -> Result<PathBuf, BlobError> {
    let path = Path::new(rel);
    let ok = !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok { Ok(path.to_path_buf()) } else { Err(BlobError::BadPath(rel.to_string())) }
}

impl Manifest {
    /// The regular files under `root` (symlinks and special files left out).
    pub fn of_dir(root: &Path) -> Result<Manifest, BlobError> {
        use std::os::unix::fs::PermissionsExt as _;
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let entry = entry.map_err(io(&dir))?;
                let path = entry.path();
                let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
                if meta.is_dir() {
                    stack.push(path);
                } else if meta.is_file() {
                    let bytes = std::fs::read(&path).map_err(io(&path))?;
                    let rel = path.strip_prefix(root).unwrap_or(&path);
                    let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                    let mode = if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
                    files.insert(rel.join("/"), Entry { sha256: sha256_hex(&bytes), size: bytes.len() as u64, mode });
                }
            }
        }
        Ok(Manifest { files })
    }

    pub fn total_bytes(&self) -> u64 {
        self.files.values().map(|e| e.size).sum()
    }
}

/// Blobs on local disk under their digest, at most `limit` bytes in all.
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
    limit: u64,
}

impl BlobCache {
    pub fn new(dir: PathBuf, limit: u64) -> Result<BlobCache, BlobError> {
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(BlobCache { dir, limit })
    }

    fn path_of(&self, sha256: &str) -> PathBuf {
        self.dir.join(sha256)
    }

    /// The blob's bytes when cached and still intact (a damaged blob is
    /// removed and reported as a mismatch); marks it recently used.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let path = self.path_of(sha256);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BlobError::Io { path, source: e }),
        };
        let actual = sha256_hex(&bytes);
        if actual != sha256 {
            let _ = std::fs::remove_file(&path);
            return Err(BlobError::DigestMismatch { expected: sha256.to_string(), actual });
        }
        // Recency is the file's mtime: touched on every use.
        let _ = std::fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(std::time::SystemTime::now()));
        Ok(Some(bytes))
    }

    /// Store `bytes` as `sha256` after checking the digest; written to a
    /// temporary file and renamed, so a crash never leaves half a blob.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let actual = sha256_hex(bytes);
        if actual != sha256 {
            return Err(BlobError::DigestMismatch { expected: sha256.to_string(), actual });
        }
        let path = self.path_of(sha256);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(io(&self.dir))?;
        tmp.write_all(bytes).map_err(io(&path))?;
        tmp.persist(&path).map_err(|e| BlobError::Io { path: path.clone(), source: e.error })?;
        self.evict()
    }

    /// Remove the least recently used blobs until the cache fits its limit.
    fn evict(&self) -> Result<(), BlobError> {
        let mut blobs = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(io(&self.dir))?.flatten() {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                blobs.push((meta.modified().unwrap_or(std::time::UNIX_EPOCH), meta.len(), entry.path()));
            }
        }
        let mut total: u64 = blobs.iter().map(|b| b.1).sum();
        blobs.sort();
        for (_, size, path) in blobs {
            if total <= self.limit {
                break;
            }
            std::fs::remove_file(&path).map_err(io(&path))?;
            total -= size;
        }
        Ok(())
    }
}

/// What [`materialise`] did: blobs found in the cache, fetched, bytes fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub from_cache: u64,
    pub fetched: u64,
    pub bytes_fetched: u64,
}

/// Write `manifest`'s files under `dest` (read-only), each blob from the
/// cache or else from `fetch`, verified before use.
pub fn materialise(
    manifest: &Manifest,
    dest: &Path,
    cache: &BlobCache,
    mut fetch: impl FnMut(&str) -> Option<Vec<u8>>,
) -> Result<Moved, BlobError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut moved = Moved::default();
    for (rel, entry) in &manifest.files {
        let path = dest.join(plain(rel)?);
        let bytes = match cache.get(&entry.sha256) {
            Ok(Some(bytes)) => {
                moved.from_cache += 1;
                bytes
            }
            Ok(None) | Err(BlobError::DigestMismatch { .. }) => {
                let bytes = fetch(&entry.sha256).ok_or_else(|| BlobError::Missing(entry.sha256.clone()))?;
                cache.put(&entry.sha256, &bytes)?;
                moved.fetched += 1;
                moved.bytes_fetched += bytes.len() as u64;
                bytes
            }
            Err(e) => return Err(e),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, &bytes).map_err(io(&path))?;
        let mode = if entry.mode & 0o111 != 0 { 0o555 } else { 0o444 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(io(&path))?;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> tempfile::TempDir {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join("docs/adr")).unwrap();
        std::fs::write(ws.path().join("backlog.yaml"), "items: []\n").unwrap();
        std::fs::write(ws.path().join("docs/adr/0001-a.md"), "# A\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ws.path().join("evil")).unwrap();
        ws
    }

    #[test]
    fn a_manifest_lists_regular_files_only_with_their_digests() {
        let ws = workspace();
        let m = Manifest::of_dir(ws.path()).unwrap();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["backlog.yaml", "docs/adr/0001-a.md"]);
        assert_eq!(m.files["docs/adr/0001-a.md"].sha256, sha256_hex(b"# A\n"));
        assert_eq!(m.total_bytes(), 14);
    }

    #[test]
    fn a_second_materialise_fetches_nothing_and_a_tampered_blob_is_refused() {
        let ws = workspace();
        let m = Manifest::of_dir(ws.path()).unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(cache_dir.path().to_path_buf(), 1 << 20).unwrap();
        let source = |sha: &str| {
            m.files.iter().find(|(_, e)| e.sha256 == sha).map(|(rel, _)| std::fs::read(ws.path().join(rel)).unwrap())
        };
        let first = tempfile::tempdir().unwrap();
        assert_eq!(materialise(&m, first.path(), &cache, source).unwrap(), Moved { from_cache: 0, fetched: 2, bytes_fetched: 14 });
        assert_eq!(std::fs::read_to_string(first.path().join("docs/adr/0001-a.md")).unwrap(), "# A\n");
        let second = tempfile::tempdir().unwrap();
        assert_eq!(materialise(&m, second.path(), &cache, |_| None).unwrap(), Moved { from_cache: 2, fetched: 0, bytes_fetched: 0 });

        let lie = |_: &str| Some(b"tampered".to_vec());
        std::fs::write(cache_dir.path().join(sha256_hex(b"# A\n")), "changed in the store").unwrap();
        let third = tempfile::tempdir().unwrap();
        let err = materialise(&m, third.path(), &cache, lie).unwrap_err();
        assert_eq!(err.to_string(), format!("blob {}: its content hashes to {}; refused", sha256_hex(b"# A\n"), sha256_hex(b"tampered")));
    }

    #[test]
    fn paths_that_leave_the_workspace_are_refused() {
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(cache_dir.path().to_path_buf(), 1 << 20).unwrap();
        for bad in ["../x", "/etc/passwd", "a/../../b", ""] {
            let m = Manifest { files: [(bad.to_string(), Entry { sha256: sha256_hex(b""), size: 0, mode: 0o644 })].into() };
            let dest = tempfile::tempdir().unwrap();
            let err = materialise(&m, dest.path(), &cache, |_| Some(Vec::new())).unwrap_err();
            assert_eq!(err.to_string(), format!("manifest path `{bad}` is not a plain relative path"));
        }
    }

    #[test]
    fn the_cache_keeps_to_its_limit_dropping_the_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path().to_path_buf(), 20).unwrap();
        let old = b"0123456789".to_vec();
        cache.put(&sha256_hex(&old), &old).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let new = b"abcdefghij".to_vec();
        cache.put(&sha256_hex(&new), &new).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(cache.get(&sha256_hex(&old)).unwrap().is_some(), "touch the old one: now the newest");
        let third = b"klmnopqrst".to_vec();
        cache.put(&sha256_hex(&third), &third).unwrap();
        assert!(cache.get(&sha256_hex(&new)).unwrap().is_none(), "the least recently used went");
        assert!(cache.get(&sha256_hex(&old)).unwrap().is_some());
        assert!(cache.put(&sha256_hex(b"x"), b"y").is_err(), "a blob that does not match its digest is never stored");
    }
}
