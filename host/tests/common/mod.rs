//! Shared by the host's integration tests: the real plugins, built once per
//! test binary from `plugins/` and `tests/plugins/` (as wasmtime's
//! test-programs are), and a sandbox with a private component cache.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use taylordash::sandbox::{Plugin, Sandbox, SandboxOptions};

/// Build every plugin once; panics with cargo's message if that fails.
pub fn plugins_built() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = xtask::workspace_root();
        xtask::build_plugins(&root).expect("building the plugins (cargo xtask build-plugins)");
        root
    })
}

/// `target/plugins/<name>.wasm`.
pub fn tool(name: &str) -> PathBuf {
    plugins_built().join("target/plugins").join(format!("{name}.wasm"))
}

/// `target/test-plugins/<name>.wasm`.
pub fn test_plugin(name: &str) -> PathBuf {
    plugins_built().join("target/test-plugins").join(format!("{name}.wasm"))
}

/// A sandbox whose cache lives in a temp dir kept alive as long as the sandbox.
pub fn sandbox() -> (Sandbox, tempfile::TempDir) {
    let cache = tempfile::tempdir().expect("cache dir");
    let sandbox = Sandbox::new(SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..SandboxOptions::default() })
        .expect("sandbox");
    (sandbox, cache)
}

pub fn load(sandbox: &Sandbox, path: &std::path::Path) -> Plugin {
    sandbox.load(path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

/// `target/test-plugins/<name>.wasm` built by the Python or JS SDK's build
/// script (`cargo xtask test` runs them). `None`, with a loud SKIP on stderr,
/// when it is missing — unless `TAYLORDASH_REQUIRE_GUESTS=1` (CI), where a
/// missing guest fails the test.
pub fn guest(name: &str) -> Option<PathBuf> {
    let path = xtask::workspace_root().join("target/test-plugins").join(format!("{name}.wasm"));
    if path.is_file() {
        return Some(path);
    }
    let why = format!("{} is not built (sdk/python/build.sh guests, sdk/js/build.sh guests)", path.display());
    if std::env::var("TAYLORDASH_REQUIRE_GUESTS").is_ok_and(|v| v == "1") {
        panic!("{why}; TAYLORDASH_REQUIRE_GUESTS=1");
    }
    eprintln!("SKIP: {why}");
    None
}

/// A sandbox with the component cache shared by every test run on this
/// checkout (`target/test-cache`): a Python or JS component (a runtime of
/// 10–20 MB) compiles once, not once per test.
pub fn shared_cache_sandbox() -> Sandbox {
    let dir = xtask::workspace_root().join("target/test-cache/components");
    Sandbox::new(SandboxOptions { cache_dir: Some(dir), ..SandboxOptions::default() }).expect("sandbox")
}
