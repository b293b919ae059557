//! Building the workspace's WebAssembly components, shared by `cargo xtask`
//! and the host's tests (which build the plugins they run, as wasmtime's
//! test-programs do, so `cargo test` works on a fresh clone).
//!
//! Every crate under `plugins/` becomes `target/plugins/<tool>.wasm`; every
//! crate under `tests/plugins/` becomes `target/test-plugins/<name>.wasm`.
//! They are built with the `plugin` profile (opt-level s, LTO, stripped) in
//! their own target directory, so a build started from inside `cargo test`
//! never waits on the outer cargo's lock.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

pub const WASM_TARGET: &str = "wasm32-wasip2";
pub const PROFILE: &str = "plugin";

/// The workspace root (where the top Cargo.toml lives).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// A component built from a crate.
#[derive(Debug, Clone)]
pub struct Built {
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
}

/// Add the wasm target when the toolchain lacks it (RUSTUP_AUTO_INSTALL=0
/// machines never add it on their own).
pub fn ensure_wasm_target() -> anyhow::Result<()> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(WASM_TARGET).exists() {
        return Ok(());
    }
    eprintln!("xtask: adding the {WASM_TARGET} target");
    let status = Command::new("rustup").args(["target", "add", WASM_TARGET]).status().context("running rustup")?;
    if !status.success() {
        bail!("`rustup target add {WASM_TARGET}` failed");
    }
    Ok(())
}

/// The crate names under `dir` (each subdirectory with a Cargo.toml).
fn crates_in(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    if !dir.exists() {
        return Ok(names);
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.join("Cargo.toml").is_file() {
            if let Some(name) = path.file_name() {
                names.push(name.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Build every plugin and test plugin; returns what was built.
pub fn build_plugins(root: &Path) -> anyhow::Result<Vec<Built>> {
    build_only(root, None)
}

/// Build the plugins and test plugins named in `only` (all when `None`).
pub fn build_only(root: &Path, only: Option<&[&str]>) -> anyhow::Result<Vec<Built>> {
    ensure_wasm_target()?;
    let groups = [("plugins", "plugins"), ("tests/plugins", "test-plugins")];
    let mut crates = Vec::new();
    for (src, dest) in groups {
        for name in crates_in(&root.join(src))? {
            if only.is_none_or(|names| names.contains(&name.as_str())) {
                crates.push((name, dest));
            }
        }
    }
    let build_dir = root.join("target").join("wasm-build");
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .args(["build", "--target", WASM_TARGET, "--profile", PROFILE, "--target-dir"])
        .arg(&build_dir);
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    // Flags for the host build (e.g. from `cargo test`) must not leak into the guest build.
    cmd.env_remove("RUSTFLAGS").env_remove("CARGO_ENCODED_RUSTFLAGS");
    let status = cmd.status().context("running cargo build for the plugins")?;
    if !status.success() {
        bail!("building the plugins failed");
    }
    let mut built = Vec::new();
    for (name, dest) in crates {
        let artifact = build_dir.join(WASM_TARGET).join(PROFILE).join(format!("{}.wasm", name.replace('-', "_")));
        let out_dir = root.join("target").join(dest);
        std::fs::create_dir_all(&out_dir)?;
        let path = out_dir.join(format!("{name}.wasm"));
        std::fs::copy(&artifact, &path)
            .with_context(|| format!("copying {} to {}", artifact.display(), path.display()))?;
        let size = std::fs::metadata(&path)?.len();
        built.push(Built { name, path, size });
    }
    Ok(built)
}

/// The Python and JavaScript SDKs' build scripts: their own tests, their
/// examples (`target/py-plugins`, `target/js-plugins`) and the test guests
/// written in those languages (`target/test-plugins/<name>_py.wasm`,
/// `<name>_js.wasm`). Each script skips what is already up to date. A
/// language whose toolchain (python3, npm) is missing is skipped and named
/// in the result, so the caller can say so loudly.
pub fn build_guests(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut skipped = Vec::new();
    for (lang, needs, script) in [("python", "python3", "sdk/python/build.sh"), ("js", "npm", "sdk/js/build.sh")] {
        let found = Command::new("sh").args(["-c", &format!("command -v {needs}")]).output().is_ok_and(|o| o.status.success());
        if !found {
            skipped.push(format!("{lang}: `{needs}` not found"));
            continue;
        }
        let status = Command::new("bash").arg(root.join(script)).current_dir(root).status()
            .with_context(|| format!("running {script}"))?;
        if !status.success() {
            bail!("{script} failed");
        }
    }
    Ok(skipped)
}
