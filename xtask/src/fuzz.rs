//! `cargo xtask fuzz [--time N] [--target NAME] [--release]`: the fuzz
//! targets of `fuzz/` (crate `taylordash-fuzz`), each for N seconds
//! (default 60), through cargo — the dev profile unless `--release`.
//! Crashing inputs land in `target/fuzz-crashes/<target>/`; the command
//! fails if any target crashed.

use std::process::Command;

use anyhow::{Context, bail};

use xtask::{cargo_in, workspace_root};

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
        let mut cmd = cargo_in(&root);
        cmd.args(["run", "--quiet", "--release", "-p", "taylordash-fuzz", "--"]);
        cmd
    } else {
        // The fuzz crate has integration tests, so the test build makes its binary.
        super::build_as_tests()?;
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
