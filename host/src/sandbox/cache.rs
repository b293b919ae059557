//! The compiled-component cache: a second start deserializes instead of
//! compiling.
//!
//! An artifact is keyed by the sha256 of the plugin file and by the engine's
//! compatibility hash, so a rebuilt plugin or a changed engine configuration
//! never loads a stale artifact. Artifacts are written to a temporary file and
//! renamed into place, so a crash never leaves half an artifact behind.
//! A loaded artifact is mapped from its file (`deserialize_file`), and a
//! plugin compiled just now is loaded back from the file it was stored in:
//! its code is then file pages every process shares, not private memory.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled artifacts live, or nowhere.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: u64,
}

impl ComponentCache {
    /// A cache in `dir` (created 0700 if missing). `None` compiles every time.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        // `DefaultHasher::new()` has fixed keys, so the value is stable across
        // processes of the same build; the artifact header also carries
        // wasmtime's own version check.
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let dir = dir.and_then(|d| match prepare_dir(&d) {
            Ok(()) => Some(d),
            Err(e) => {
                tracing::warn!(dir = %d.display(), error = %e, "component cache disabled");
                None
            }
        });
        ComponentCache { dir, engine_key: hasher.finish() }
    }

    /// The default location: `$TAYLORDASH_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/taylordash/components`, else `~/.cache/taylordash/components`.
    pub fn default_dir() -> Option<PathBuf> {
        crate::paths::env_path("TAYLORDASH_CACHE_DIR").or_else(|| Some(crate::paths::cache_dir()?.join("components")))
    }

    fn artifact_path(&self, sha256: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{sha256}-{:016x}.cwasm", self.engine_key)))
    }

    /// The cached component for the plugin whose digest is `sha256`, if an
    /// artifact exists and loads.
    pub fn lookup(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.artifact_path(sha256)?;
        if !path.is_file() {
            return None;
        }
        // SAFETY: `deserialize_file` trusts the file to be a
        // `Component::serialize` output of a compatible engine. The only
        // writer of this directory is `store` below, which writes that
        // output (from this process or from the budgeted compiler child,
        // see compile.rs) whole (temp file + rename) under a name carrying
        // the engine's compatibility hash; wasmtime re-checks its version
        // and configuration header before use. `prepare_dir` refuses a
        // directory that others can write, so only the user running the
        // host (who could replace the host binary itself) can alter it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cached artifact unusable; recompiling");
                None
            }
        }
    }

    /// Cache `component` (whose serialized form is `artifact`, when the
    /// compiler already produced it) for the plugin whose digest is `sha256`.
    /// A failure only costs a recompilation next time, so it is logged.
    pub fn store(&self, sha256: &str, component: &Component, artifact: Option<&[u8]>) {
        let Some(path) = self.artifact_path(sha256) else { return };
        let written = match artifact {
            Some(bytes) => write_atomically(bytes, &path),
            None => component.serialize().map_err(anyhow::Error::from).and_then(|b| write_atomically(&b, &path)),
        };
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "could not cache compiled component");
        }
    }
}

fn write_atomically(bytes: &[u8], path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().ok_or_else(|| anyhow::anyhow!("artifact path has no parent"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_data()?;
    tmp.persist(path)?;
    Ok(())
}

#[cfg(unix)]
fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let meta = std::fs::metadata(dir)?;
    // SAFETY: `geteuid` has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if meta.uid() != uid || meta.permissions().mode() & 0o022 != 0 {
        return Err(std::io::Error::other(format!(
            "{} must be owned by uid {uid} and not writable by group or others",
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
