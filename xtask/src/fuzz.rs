//! `cargo xtask fuzz [--time N] [--target NAME] [--release]`: the fuzz
//! targets of `fuzz/` (crate `taylordash-fuzz`), each for N seconds
//! (default 60), through cargo — the dev profile unless `--release`.
//! Crashing inputs land in `target/fuzz-crashes/<target>/`; the command
//! fails if any target crashed.

use std::process::Command;

use anyhow::{Context, bail};

use xtask::workspace_root;

const USAGE: &str = "usage: cargo xtask fuzz [--time SECS] [--target NAME] [--release]";

pub fn fuzz(args: &[String]) -> anyhow::Result<()> {
    let mut time = "60".to_string();
    let mut target: Option<String> = None;
    let mut release = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                time = it.next().context(USAGE)?.clone();
                time.parse::<u64>().with_context(|| format!("--time takes whole seconds, not `{time}`"))?;
            }
            "--target" => target = Some(it.next().context(USAGE)?.clone()),
            "--release" => release = true,
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let root = workspace_root();
    let mut cmd = if release {
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["run", "--quiet", "--release", "-p", "taylordash-fuzz", "--"]);
        cmd
    } else {
        // The binary as `cargo xtask test` builds it (the fuzz crate has
        // integration tests, so the workspace build makes it): only the same
        // command unifies the same features, so nothing is built twice.
        super::cargo(&["test", "--workspace", "--no-run"])?;
        Command::new(root.join("target/debug/taylordash-fuzz"))
    };
    cmd.current_dir(&root).args(["--time", &time]);
    if let Some(t) = &target {
        cmd.args(["--target", t]);
    }
    let status = cmd.status().context("running taylordash-fuzz")?;
    if !status.success() {
        bail!("fuzzing failed ({status}): crashing inputs are under target/fuzz-crashes/");
    }
    Ok(())
}
