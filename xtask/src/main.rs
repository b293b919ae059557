//! `cargo xtask <command>`: build-plugins, test, demo, bench, fuzz, chaos.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use xtask::{build_guests, build_plugins, cargo_in, workspace_root};

mod chaos;
mod fuzz;
mod peers;

const USAGE: &str = "usage: cargo xtask <build-plugins | test | demo | bench | fuzz | chaos>

  build-plugins  build every plugin to target/plugins/<tool>.wasm (and tests/plugins to target/test-plugins)
  test           build the plugins and the Python/JS SDKs' guests, then run the whole test suite
  demo [--all]   build everything and run the seed flow (pipelines/orchestration_flow.yaml) on target/demo;
                 --all: then the seed's four combinations (pipelines/combination_*.yaml)
  bench [--peers]
                 build the plugins, then run the criterion benchmarks; --peers: the echo tool against
                 Extism and subprocesses, throughput, RSS, the full call against its floor (bench/peers)
  fuzz [--time N] [--target NAME] [--release]
                 each fuzz target (fuzz/) for N seconds (60); crashing inputs in target/fuzz-crashes/
  chaos [--runs N] [--seed S] [--kinds K,…]
                 the seed flow over Mosquitto with 3 workers, a fault injected in each run, checked (target/chaos/report.md)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build-plugins") => build().map(|_| ()),
        Some("test") => test(&args[1..]),
        Some("demo") => demo(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("fuzz") => fuzz::fuzz(&args[1..]),
        Some("chaos") => chaos::chaos(&args[1..]),
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
    let status = cargo_in(&workspace_root())
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

/// Build the workspace's binaries as `cargo xtask test` builds them: only
/// the same command unifies the same features, so a step after the tests
/// (chaos, fuzz) rebuilds nothing (`-p taylordash` alone rebuilt some 150
/// crates in CI).
fn build_as_tests() -> anyhow::Result<()> {
    cargo(&["test", "--workspace", "--no-run"])
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

/// The pipelines `demo --all` runs after the seed flow: the seed's four
/// Specialist Agent Combinations, verbatim, each on a workspace of its own.
/// In this order they build one service in one workspace: the contracts and
/// the security configuration, then the app and its suite against those
/// contracts (the trinity's `shared_context`), then its deployment, then
/// the research-driven rebuild.
const COMBINATIONS: [&str; 4] = [
    "combination_architecture_contracts_security_rbac_scribe_docs",
    "combination_backend_dev_observability_qa_tests",
    "combination_infra_compose_observability",
    "combination_context7_mcp_backend_dev",
];

/// The seed flow (`pipelines/orchestration_flow.yaml`) on a fresh copy of the
/// example inputs in `target/demo/workspace`, with bash_runner granted the
/// demo virtualenv's interpreter; with `--all`, then the four combinations
/// one after another in `target/demo/combinations`, the context7 one against
/// the local Context7 stand-in (`tests/mcp/context7_server.py`).
fn demo(args: &[String]) -> anyhow::Result<()> {
    let all = match args {
        [] => false,
        [a] if a == "--all" => true,
        _ => bail!("usage: cargo xtask demo [--all]"),
    };
    build()?;
    cargo(&["build", "--release", "-p", "taylordash"])?;
    let root = workspace_root();
    let demo = root.join("target/demo");
    std::fs::create_dir_all(&demo)?;
    let python = demo_venv(&demo.join("venv"))?;
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let runner = format!(
        "{{\"commands\": [{{\"program\": {}, \"args\": [\"-B\", \"-m\", \"pytest\", \"-q\", \
         \"-p\", \"no:cacheprovider\", \"-o\", \"asyncio_default_fixture_loop_scope=function\"]}}]}}\n",
        quote(&python)
    );
    std::fs::write(demo.join("bash_runner.json"), &runner)?;

    // The Context7 stand-in the research combination talks to.
    let context7 = if all { Some(Context7::start(&root)?) } else { None };
    let http_grant = context7.as_ref().map_or(String::new(), |c| {
        format!(
            "\x20 context7_resolve_library: {{ grants: {{ http: [\"127.0.0.1:{0}\"] }} }}\n\
             \x20 context7_get_docs: {{ grants: {{ http: [\"127.0.0.1:{0}\"] }} }}\n",
            c.port
        )
    });
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
             \x20   max_role_to_grant: maintainer\n{http_grant}",
            quote(&python)
        ),
    )?;

    let runs = demo.join("runs");
    if runs.exists() {
        std::fs::remove_dir_all(&runs)?;
    }
    let workspace = demo.join("workspace");
    fresh_workspace(&root, &workspace, &runner, &[])?;
    let mut runs_done = vec![demo_run(&root, "orchestration_flow", &workspace, &policy, &runs)?];
    if let Some(c) = &context7 {
        let workspace = demo.join("combinations");
        let context7_json =
            format!("{{\"endpoint\": \"http://127.0.0.1:{}/mcp\", \"libraries\": [\"fastapi\", \"paho-mqtt\"]}}\n", c.port);
        fresh_workspace(&root, &workspace, &runner, &[("context7.json", context7_json)])?;
        for name in COMBINATIONS {
            runs_done.push(demo_run(&root, name, &workspace, &policy, &runs)?);
        }
    }
    println!("demo: the run records are in {}", runs.display());
    for (name, workspace, files) in runs_done {
        println!("  {name:<62} {files:>4} files in {}", workspace.display());
    }
    Ok(())
}

/// The virtualenv bash_runner runs the generated tests with; its python.
fn demo_venv(venv: &Path) -> anyhow::Result<String> {
    let python = venv.join("bin/python3");
    if !python.exists() {
        println!("demo: creating the virtualenv {}", venv.display());
        run_status(Command::new("python3").arg("-m").arg("venv").arg(venv), "python3 -m venv")?;
    }
    println!("demo: pip install {} (from PyPI)", DEMO_PIP.join(" "));
    run_status(
        Command::new(&python)
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"])
            .args(DEMO_PIP),
        "pip install",
    )?;
    Ok(python.to_str().context("the virtualenv path is not UTF-8")?.to_string())
}

/// A fresh `workspace` holding the example inputs, bash_runner's commands
/// and `extra` files.
fn fresh_workspace(root: &Path, workspace: &Path, runner: &str, extra: &[(&str, String)]) -> anyhow::Result<()> {
    if workspace.exists() {
        std::fs::remove_dir_all(workspace).with_context(|| format!("removing {}", workspace.display()))?;
    }
    std::fs::create_dir_all(workspace)?;
    for file in ["backlog.yaml", "failures.json", "snapshot.json"] {
        std::fs::copy(root.join("pipelines/examples").join(file), workspace.join(file))
            .with_context(|| format!("copying pipelines/examples/{file}"))?;
    }
    std::fs::write(workspace.join("bash_runner.json"), runner)?;
    for (file, text) in extra {
        std::fs::write(workspace.join(file), text)?;
    }
    Ok(())
}

/// Run `pipelines/<name>.yaml` on `workspace` on the embedded broker; the
/// name, the workspace and how many files it holds at the end.
fn demo_run(
    root: &Path,
    name: &str,
    workspace: &Path,
    policy: &Path,
    runs: &Path,
) -> anyhow::Result<(String, std::path::PathBuf, usize)> {
    let pipeline = format!("pipelines/{name}.yaml");
    println!("demo: taylordash run {pipeline} --workspace {}", workspace.strip_prefix(root).unwrap_or(workspace).display());
    let status = Command::new(root.join("target/release/taylordash"))
        .current_dir(root)
        .arg("--plugins-dir")
        .arg(root.join("target/plugins"))
        .arg("--policy")
        .arg(policy)
        .args(["--as", "demo", "--runs-dir"])
        .arg(runs)
        .args(["run", &pipeline, "--broker", "embedded", "--workspace"])
        .arg(workspace)
        .status()
        .context("running taylordash")?;
    if !status.success() {
        bail!("{pipeline} did not complete ({status}); the runs are in {}", runs.display());
    }
    let files = walkdir_count(workspace);
    Ok((name.to_string(), workspace.to_path_buf(), files))
}

fn walkdir_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walkdir_count(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The local Context7 stand-in (`tests/mcp/context7_server.py`, in the venv
/// `tests/mcp/setup.sh` makes), killed on drop.
struct Context7 {
    child: std::process::Child,
    port: u16,
}

impl Context7 {
    fn start(root: &Path) -> anyhow::Result<Context7> {
        run_status(Command::new("bash").arg(root.join("tests/mcp/setup.sh")), "tests/mcp/setup.sh")?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut child = Command::new(root.join("target/mcp-venv/bin/python"))
            .arg(root.join("tests/mcp/context7_server.py"))
            .arg(port.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("starting tests/mcp/context7_server.py")?;
        let stdout = child.stdout.take().context("the stand-in's stdout")?;
        let mut server = Context7 { child, port };
        let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok);
        let ready = lines.any(|l| l.trim() == "READY");
        // Keep reading, or a chatty server would block on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        if !ready {
            let _ = server.child.kill();
            bail!("the Context7 stand-in exited before it was ready");
        }
        println!("demo: the Context7 stand-in listens on 127.0.0.1:{port}");
        Ok(server)
    }
}

impl Drop for Context7 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bench(extra: &[String]) -> anyhow::Result<()> {
    if extra.iter().any(|a| a == "--peers") {
        return peers::run(extra);
    }
    build()?;
    for skipped in build_guests(&workspace_root())? {
        eprintln!("xtask: SKIP building the {skipped}; the languages benchmark will say SKIP");
    }
    let mut args = vec!["bench", "-p", "taylordash"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}
