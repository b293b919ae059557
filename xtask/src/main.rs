//! `cargo xtask <command>`: build-plugins, test, demo, bench.

use std::process::Command;

use anyhow::{Context, bail};
use xtask::{build_guests, build_plugins, workspace_root};

const USAGE: &str = "usage: cargo xtask <build-plugins | test | demo | bench>

  build-plugins  build every plugin to target/plugins/<tool>.wasm (and tests/plugins to target/test-plugins)
  test           build the plugins and the Python/JS SDKs' guests, then run the whole test suite
  demo           build everything and run the seed flow (pipelines/orchestration_flow.yaml) on target/demo
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
        let warn = if b.size > 1 << 20 {
            "  (over 1 MB!)"
        } else {
            ""
        };
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
    // Tools and test guests in Python and JavaScript (the same sandbox checks run on them).
    for skipped in build_guests(&workspace_root())? {
        eprintln!("xtask: SKIP building the {skipped}; their tests will say SKIP");
    }
    let mut args = vec!["test", "--workspace"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}

/// Python packages the generated service's tests need.
const DEMO_PIP: &[&str] = &["fastapi", "httpx", "pytest", "pytest-asyncio", "pyyaml"];

fn run_status(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The seed flow (`pipelines/orchestration_flow.yaml`) on a fresh copy of the
/// example inputs in `target/demo/workspace`, with bash_runner granted the
/// demo virtualenv's interpreter.
fn demo() -> anyhow::Result<()> {
    build()?;
    cargo(&["build", "--release", "-p", "taylordash"])?;
    let root = workspace_root();
    let demo = root.join("target/demo");
    let workspace = demo.join("workspace");
    let runs = demo.join("runs");
    let venv = demo.join("venv");
    std::fs::create_dir_all(&demo)?;

    // A fresh workspace with the example inputs.
    if workspace.exists() {
        std::fs::remove_dir_all(&workspace)
            .with_context(|| format!("removing {}", workspace.display()))?;
    }
    std::fs::create_dir_all(&workspace)?;
    for name in ["backlog.yaml", "failures.json", "snapshot.json"] {
        std::fs::copy(
            root.join("pipelines/examples").join(name),
            workspace.join(name),
        )
        .with_context(|| format!("copying pipelines/examples/{name}"))?;
    }

    // The virtualenv bash_runner runs the generated tests with.
    let python = venv.join("bin/python3");
    if !python.exists() {
        println!("demo: creating the virtualenv {}", venv.display());
        run_status(
            Command::new("python3").arg("-m").arg("venv").arg(&venv),
            "python3 -m venv",
        )?;
    }
    println!("demo: pip install {} (from PyPI)", DEMO_PIP.join(" "));
    run_status(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--progress-bar",
                "off",
            ])
            .args(DEMO_PIP),
        "pip install",
    )?;
    let python = python
        .to_str()
        .context("the virtualenv path is not UTF-8")?
        .to_string();

    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let runner = format!(
        "{{\"commands\": [{{\"program\": {}, \"args\": [\"-B\", \"-m\", \"pytest\", \"-q\", \
         \"-p\", \"no:cacheprovider\", \"-o\", \"asyncio_default_fixture_loop_scope=function\"]}}]}}\n",
        quote(&python)
    );
    std::fs::write(demo.join("bash_runner.json"), &runner)?;
    std::fs::write(workspace.join("bash_runner.json"), &runner)?;
    let policy = demo.join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "# Written by `cargo xtask demo`.\n\
             principals: {{ demo: admin }}\n\
             plugins:\n\
             \x20 bash_runner:\n\
             \x20   quotas: {{ timeout: 300s }}\n\
             \x20   grants:\n\
             \x20     exec: {{ programs: [{}], timeout: 280s }}\n\
             \x20   max_role_to_grant: maintainer\n",
            quote(&python)
        ),
    )?;

    if runs.exists() {
        std::fs::remove_dir_all(&runs)?;
    }
    println!(
        "demo: taylordash run pipelines/orchestration_flow.yaml --workspace target/demo/workspace"
    );
    let status = Command::new(root.join("target/release/taylordash"))
        .current_dir(&root)
        .arg("--plugins-dir")
        .arg(root.join("target/plugins"))
        .arg("--policy")
        .arg(&policy)
        .args(["--as", "demo", "--runs-dir"])
        .arg(&runs)
        .args(["run", "pipelines/orchestration_flow.yaml", "--broker", "embedded", "--workspace"])
        .arg(&workspace)
        .status()
        .context("running taylordash")?;
    if !status.success() {
        bail!(
            "the seed flow did not complete ({status}); the runs are in {}",
            runs.display()
        );
    }
    println!(
        "demo: the seed flow completed; the workspace is {} and the run records are in {}",
        workspace.display(),
        runs.display()
    );
    Ok(())
}

fn bench(extra: &[String]) -> anyhow::Result<()> {
    build()?;
    for skipped in build_guests(&workspace_root())? {
        eprintln!("xtask: SKIP building the {skipped}; the languages benchmark will say SKIP");
    }
    let mut args = vec!["bench", "-p", "taylordash"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}
