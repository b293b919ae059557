//! Content-addressed files, for workers that do not share the
//! orchestrator's filesystem: a directory's [`Manifest`] (path → sha256,
//! size, mode) made by a [`Scanner`] that rehashes only what changed, a
//! local [`BlobCache`] bounded by size (least recently used goes first) that
//! verifies every blob's digest when it is stored and again when it is read,
//! and [`materialise`], which builds a read-only workspace from a manifest
//! with blobs from the cache or a fetcher, kept between tasks by
//! [`Workspaces`]. Transports (the bus, S3) move the
//! bytes: the bus (`bus::blob_exchange`) or an S3-compatible store
//! ([`store`]).
//!
//! A workspace's manifest holds what a tool may read: regular files only — a
//! symlink or a special file is left out, as the sandbox never follows one —
//! under relative paths without `..`. An `/out` manifest refuses them
//! instead, as the orchestrator's merge does.

use std::collections::HashMap;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

pub mod store;
pub mod workspaces;

pub use store::{ArtifactStore, StoreOptions};
pub use workspaces::Workspaces;
pub use taylordash_protocol::bus::{Manifest, ManifestEntry as Entry};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {expected}: its content hashes to {actual}; refused")]
    DigestMismatch { expected: String, actual: String },
    #[error("manifest path `{0}` is not a plain relative path")]
    BadPath(String),
    #[error("{0} is not a regular file (symlinks and special files are refused in /out)")]
    NotRegular(String),
    #[error("blob {sha256} could not be fetched: {reason}")]
    Unavailable { sha256: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("artifact store `{url}`: {reason}")]
    BadStore { url: String, reason: String },
}

impl BlobError {
    /// A blob that could not be had, and why.
    pub fn unavailable(sha256: &str, reason: impl Into<String>) -> BlobError {
        BlobError::Unavailable { sha256: sha256.to_string(), reason: reason.into() }
    }

    /// Whether the same fetch may succeed later (a peer that did not answer,
    /// a blob damaged in transit), as opposed to a manifest that is wrong.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BlobError::DigestMismatch { .. } | BlobError::Unavailable { .. } | BlobError::Io { .. })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io { path: path.to_path_buf(), source }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `bytes` when they hash to `sha256`, else the mismatch.
pub fn verified(sha256: &str, bytes: Vec<u8>) -> Result<Vec<u8>, BlobError> {
    let actual = sha256_hex(&bytes);
    if actual == sha256 { Ok(bytes) } else { Err(BlobError::DigestMismatch { expected: sha256.to_string(), actual }) }
}

/// Whether `s` looks like a digest (64 lowercase hex digits): blob names
/// come from the network and become file names.
pub fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A relative path of plain components, or an error naming it.
fn plain(rel: &str) -> Result<PathBuf, BlobError> {
    let path = Path::new(rel);
    let ok = !rel.is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)));
    if ok { Ok(path.to_path_buf()) } else { Err(BlobError::BadPath(rel.to_string())) }
}

/// Up to `len` bytes of the file at `path` from `offset`.
pub fn read_range(path: &Path, offset: u64, len: usize) -> Result<Vec<u8>, BlobError> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    file.seek(std::io::SeekFrom::Start(offset)).map_err(io(path))?;
    let mut out = Vec::with_capacity(len.min(1 << 20));
    file.take(len as u64).read_to_end(&mut out).map_err(io(path))?;
    Ok(out)
}

/// What a file looked like when it was hashed: unchanged size, mtime and
/// inode mean an unchanged digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
    ino: u64,
}

/// Makes manifests and remembers every digest it computed, so a second scan
/// of an unchanged workspace reads no file, and a blob can be served by
/// digest from where it was seen ([`Scanner::locate`]).
#[derive(Debug, Default)]
pub struct Scanner {
    seen: Mutex<HashMap<PathBuf, (Stamp, String)>>,
    by_digest: Mutex<HashMap<String, PathBuf>>,
}

impl Scanner {
    /// The regular files under `root`. `strict` (an `/out`): a symlink or
    /// special file is an error; otherwise (a workspace) it is left out.
    pub fn scan(&self, root: &Path, strict: bool) -> Result<Manifest, BlobError> {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let mut manifest = Manifest::default();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
                let path = entry.map_err(io(&dir))?.path();
                let meta = std::fs::symlink_metadata(&path).map_err(io(&path))?;
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let rel: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                let rel = rel.join("/");
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !meta.is_file() {
                    if strict {
                        return Err(BlobError::NotRegular(rel));
                    }
                    continue;
                }
                let stamp = Stamp { len: meta.len(), modified: meta.modified().map_err(io(&path))?, ino: meta.ino() };
                let sha256 = self.digest(&path, stamp)?;
                let mode = if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
                manifest.files.insert(rel, Entry { sha256, size: stamp.len, mode });
            }
        }
        Ok(manifest)
    }

    fn digest(&self, path: &Path, stamp: Stamp) -> Result<String, BlobError> {
        let known = self.seen.lock().unwrap_or_else(|p| p.into_inner()).get(path).filter(|(s, _)| *s == stamp).map(|(_, d)| d.clone());
        let sha256 = match known {
            Some(d) => d,
            None => {
                let mut hasher = Sha256::new();
                let mut file = std::fs::File::open(path).map_err(io(path))?;
                std::io::copy(&mut file, &mut hasher).map_err(io(path))?;
                let d = hex::encode(hasher.finalize());
                self.seen.lock().unwrap_or_else(|p| p.into_inner()).insert(path.to_path_buf(), (stamp, d.clone()));
                d
            }
        };
        self.by_digest.lock().unwrap_or_else(|p| p.into_inner()).insert(sha256.clone(), path.to_path_buf());
        Ok(sha256)
    }

    /// Where a blob of this digest was seen, if that file is still the one
    /// that was hashed: a regular file (not a symlink swapped in since) with
    /// the same size, mtime and inode. Whoever reads it verifies anyway.
    pub fn locate(&self, sha256: &str) -> Option<PathBuf> {
        use std::os::unix::fs::MetadataExt as _;
        let path = self.by_digest.lock().unwrap_or_else(|p| p.into_inner()).get(sha256).cloned()?;
        let meta = std::fs::symlink_metadata(&path).ok()?;
        let now = Stamp { len: meta.len(), modified: meta.modified().ok()?, ino: meta.ino() };
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (stamp, digest) = seen.get(&path)?;
        (meta.is_file() && *stamp == now && digest == sha256).then_some(path)
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

    /// Where a blob is kept (whether or not it is there).
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        is_digest(sha256).then(|| self.dir.join(sha256))
    }

    /// The blob's bytes when cached and still intact (a damaged blob is
    /// removed and reported as a mismatch); marks it recently used.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let Some(path) = self.path_of(sha256) else { return Ok(None) };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BlobError::Io { path, source: e }),
        };
        let bytes = verified(sha256, bytes).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })?;
        // Recency is the file's mtime: touched on every use.
        let _ = std::fs::File::options().append(true).open(&path).and_then(|f| f.set_modified(SystemTime::now()));
        Ok(Some(bytes))
    }

    /// Store `bytes` as `sha256` after checking the digest; written to a
    /// temporary file and renamed, so a crash never leaves half a blob.
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let actual = sha256_hex(bytes);
        let path = match self.path_of(sha256) {
            Some(p) if actual == sha256 => p,
            _ => return Err(BlobError::DigestMismatch { expected: sha256.to_string(), actual }),
        };
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
                && is_digest(&entry.file_name().to_string_lossy())
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

/// What moving blobs did: blobs found in the cache, fetched, bytes fetched.
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
    mut fetch: impl FnMut(&str, &Entry) -> Result<Vec<u8>, BlobError>,
) -> Result<Moved, BlobError> {
    let mut moved = Moved::default();
    for (rel, entry) in &manifest.files {
        let path = dest.join(plain(rel)?);
        let bytes = match cache.get(&entry.sha256) {
            Ok(Some(bytes)) => {
                moved.from_cache += 1;
                bytes
            }
            Ok(None) | Err(BlobError::DigestMismatch { .. }) => {
                let bytes = verified(&entry.sha256, fetch(rel, entry)?)?;
                cache.put(&entry.sha256, &bytes)?;
                moved.fetched += 1;
                moved.bytes_fetched += bytes.len() as u64;
                bytes
            }
            Err(e) => return Err(e),
        };
        write_file(&path, &bytes, entry.mode, true)?;
    }
    Ok(moved)
}

/// Write one file of a manifest (creating its parents); `read_only` drops
/// the write bits.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32, read_only: bool) -> Result<(), BlobError> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, bytes).map_err(io(path))?;
    let exec = mode & 0o111 != 0;
    let mode = match (exec, read_only) {
        (true, true) => 0o555,
        (false, true) => 0o444,
        (true, false) => 0o755,
        (false, false) => 0o644,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io(path))
}

/// The path under `root` a manifest entry names, refused when it is not a
/// plain relative path.
pub fn under(root: &Path, rel: &str) -> Result<PathBuf, BlobError> {
    Ok(root.join(plain(rel)?))
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
        let m = Scanner::default().scan(ws.path(), false).unwrap();
        assert_eq!(m.files.keys().collect::<Vec<_>>(), ["backlog.yaml", "docs/adr/0001-a.md"]);
        assert_eq!(m.files["docs/adr/0001-a.md"].sha256, sha256_hex(b"# A\n"));
        assert_eq!(m.total_bytes(), 14);
        let err = Scanner::default().scan(ws.path(), true).unwrap_err();
        assert_eq!(err.to_string(), "evil is not a regular file (symlinks and special files are refused in /out)");
    }

    #[test]
    fn a_rescan_trusts_unchanged_files_and_rehashes_changed_ones() {
        let ws = workspace();
        let scanner = Scanner::default();
        let first = scanner.scan(ws.path(), false).unwrap();
        assert_eq!(scanner.locate(&sha256_hex(b"# A\n")), Some(ws.path().join("docs/adr/0001-a.md")));
        std::fs::write(ws.path().join("backlog.yaml"), "items: [1]\n").unwrap();
        let second = scanner.scan(ws.path(), false).unwrap();
        assert_eq!(second.files["docs/adr/0001-a.md"], first.files["docs/adr/0001-a.md"]);
        assert_eq!(second.files["backlog.yaml"].sha256, sha256_hex(b"items: [1]\n"));
        assert_eq!(scanner.locate(&sha256_hex(b"items: []\n")), None, "a changed file no longer serves its old digest");
        std::fs::remove_file(ws.path().join("docs/adr/0001-a.md")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ws.path().join("docs/adr/0001-a.md")).unwrap();
        assert_eq!(scanner.locate(&sha256_hex(b"# A\n")), None, "nor does a symlink swapped in");
    }

    #[test]
    fn a_second_materialise_fetches_nothing_and_a_tampered_blob_is_refused() {
        let ws = workspace();
        let m = Scanner::default().scan(ws.path(), false).unwrap();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(cache_dir.path().to_path_buf(), 1 << 20).unwrap();
        let source = |rel: &str, _: &Entry| Ok(std::fs::read(ws.path().join(rel)).unwrap());
        let first = tempfile::tempdir().unwrap();
        assert_eq!(materialise(&m, first.path(), &cache, source).unwrap(), Moved { from_cache: 0, fetched: 2, bytes_fetched: 14 });
        assert_eq!(std::fs::read_to_string(first.path().join("docs/adr/0001-a.md")).unwrap(), "# A\n");
        let second = tempfile::tempdir().unwrap();
        assert_eq!(materialise(&m, second.path(), &cache, |rel, _| Err(BlobError::NotRegular(rel.into()))).unwrap(), Moved { from_cache: 2, fetched: 0, bytes_fetched: 0 });

        let lie = |_: &str, _: &Entry| Ok(b"tampered".to_vec());
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
            let err = materialise(&m, dest.path(), &cache, |_, _| Ok(Vec::new())).unwrap_err();
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
