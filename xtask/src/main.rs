//! `cargo xtask <command>`: build-plugins, test, demo, bench.

use std::process::Command;

use anyhow::{Context, bail};
use xtask::{build_plugins, workspace_root};

const USAGE: &str = "usage: cargo xtask <build-plugins | test | demo | bench>

  build-plugins  build every plugin to target/plugins/<tool>.wasm (and tests/plugins to target/test-plugins)
  test           build the plugins, then run the whole test suite
  demo           build everything and run the main job (the planner on pipelines/examples)
  bench          build the plugins, then run the criterion benchmarks";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build().map(|_| ()),
        Some("test") => test(&args[1..]),
        Some("demo") => demo(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

fn build() -> anyhow::Result<()> {
    for b in build_plugins(&workspace_root())? {
        let warn = if b.size > 1 << 20 { "  (over 1 MB!)" } else { "" };
        println!("{:>10} bytes  {}{warn}", b.size, b.path.display());
    }
    Ok(())
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    build()?;
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}

fn demo() -> anyhow::Result<()> {
    build()?;
    cargo(&["build", "--release", "-p", "taylordash"])?;
    let root = workspace_root();
    let out = root.join("target/demo");
    std::fs::create_dir_all(&out)?;
    let status = Command::new(root.join("target/release/taylordash"))
        .current_dir(&root)
        .args(["invoke", "planner", "--input", "@pipelines/examples/planner-input.json"])
        .args(["--workspace", "pipelines/examples", "--out"])
        .arg(&out)
        .status()
        .context("running taylordash")?;
    if !status.success() {
        bail!("the demo run failed ({status})");
    }
    println!("demo: the plan is in {}", out.display());
    Ok(())
}

fn bench(extra: &[String]) -> anyhow::Result<()> {
    build()?;
    let mut args = vec!["bench", "-p", "taylordash"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}
