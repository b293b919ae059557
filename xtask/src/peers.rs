//! `cargo xtask bench --peers` (issue #18 part 3): TaylorDash's sandboxed call
//! against Extism, a native and a Python subprocess, with the same echo tool,
//! in one run; then throughput, RSS, and the full call against its floor.
//!
//! The measuring crate is `bench/peers`, outside the default workspace (Extism
//! brings a second wasmtime that neither CI nor `cargo xtask test` should
//! compile), with its own Cargo.lock; it is built here in release into this
//! workspace's `target/`, so builds are cached across runs. The table goes to
//! stdout and to `target/bench-peers/report.md`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use super::run_status as status;
use xtask::{cargo_in, workspace_root};

/// The Extism echo plugin's target (no WASI: the plugin needs none).
const EXTISM_TARGET: &str = "wasm32-unknown-unknown";
const MANIFEST: &str = "bench/peers/Cargo.toml";

pub fn run(args: &[String]) -> anyhow::Result<()> {
    if let Some(other) = args.iter().find(|a| *a != "--peers") {
        bail!("usage: cargo xtask bench --peers (unexpected `{other}`)");
    }
    let root = workspace_root();
    // The echo test plugin, and the plugins the idle `taylordash mcp` and worker serve.
    super::build()?;
    add_target(EXTISM_TARGET)?;
    let target_dir = root.join("target");
    let mut wasm = cargo_in(&root);
    wasm.args(["build", "--release", "--locked", "--manifest-path", MANIFEST, "-p", "extism-echo", "--target", EXTISM_TARGET])
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags for the host build must not leak into the guest build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    status(&mut wasm, "building bench/peers/extism-echo")?;
    // The CLI whose idle RSS is measured: the release binary, as `demo` builds it.
    super::cargo(&["build", "--release", "-p", "taylordash", "--bin", "taylordash"])?;
    let mut peers = cargo_in(&root);
    peers.args(["build", "--release", "--locked", "--manifest-path", MANIFEST]).arg("--target-dir").arg(&target_dir);
    status(&mut peers, "building bench/peers")?;
    // The same echo tool as a Python and a JavaScript component, where their
    // toolchains are (the table says SKIP, and why, where one is not).
    for (script, needs) in [("sdk/python/build.sh", "python3"), ("sdk/js/build.sh", "npm")] {
        if xtask::has_command(needs) {
            status(Command::new("bash").arg(root.join(script)).arg("echo").current_dir(&root), &format!("{script} echo"))?;
        }
    }
    let exe: PathBuf = target_dir.join("release/taylordash-peers");
    status(Command::new(&exe).arg("--root").arg(&root), "target/release/taylordash-peers")
}

/// `rustup target add` when the toolchain lacks `target` (RUSTUP_AUTO_INSTALL=0
/// machines never add it on their own).
fn add_target(target: &str) -> anyhow::Result<()> {
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output().context("running rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(target).exists() {
        return Ok(());
    }
    eprintln!("xtask: adding the {target} target");
    status(Command::new("rustup").args(["target", "add", target]), &format!("rustup target add {target}"))
}
