//! Where the host keeps its own files, following the XDG base directories:
//! state (runs, the audit log) and cache (compiled components). Each can be
//! overridden by its own environment variable or CLI flag.

use std::path::PathBuf;

/// `$name` as a path, unless unset or empty.
pub fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `$XDG_STATE_HOME/taylordash`, else `~/.local/state/taylordash`, else `.taylordash`.
pub fn state_dir() -> PathBuf {
    env_path("XDG_STATE_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".local/state")))
        .map(|d| d.join("taylordash"))
        .unwrap_or_else(|| PathBuf::from(".taylordash"))
}

/// `$XDG_CACHE_HOME/taylordash`, else `~/.cache/taylordash`; none without a home.
pub fn cache_dir() -> Option<PathBuf> {
    env_path("XDG_CACHE_HOME").or_else(|| env_path("HOME").map(|h| h.join(".cache"))).map(|d| d.join("taylordash"))
}
