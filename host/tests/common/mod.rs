//! Shared by the host's integration tests: the real plugins, built once per
//! test binary from `plugins/` and `tests/plugins/` (as wasmtime's
//! test-programs are), and a sandbox with a private component cache.

#![allow(dead_code)]

pub mod mcp_venv;

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

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A Mosquitto we started (loopback, anonymous); killed when dropped.
pub struct OwnMosquitto {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl OwnMosquitto {
    /// `mosquitto` on `port` without persistence, waited for until it accepts connections.
    pub fn start(port: u16) -> Self {
        Self::start_with(port, "persistence false\n")
    }

    /// `mosquitto` on `port` keeping sessions and queued messages in
    /// `data` across restarts (saved when it is stopped with SIGTERM), as a
    /// production broker does.
    pub fn persistent(port: u16, data: &std::path::Path) -> Self {
        std::fs::create_dir_all(data).unwrap();
        Self::start_with(port, &format!("persistence true\npersistence_location {}/\n", data.display()))
    }

    fn start_with(port: u16, extra: &str) -> Self {
        use std::net::{SocketAddr, TcpStream};
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\nmax_packet_size 16777216\n{extra}")).unwrap();
        let child = std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cannot start mosquitto (install the `mosquitto` package)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(Instant::now() < until, "mosquitto did not start on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        OwnMosquitto { child, port, _dir: dir }
    }

    /// A Mosquitto started elsewhere (its own configuration), killed when dropped.
    pub fn adopt(child: std::process::Child, port: u16) -> Self {
        OwnMosquitto { child, port, _dir: tempfile::tempdir().unwrap() }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Stop it the way a service manager does (SIGTERM: it saves its
    /// persistence and closes every connection), and wait until it has.
    pub fn terminate(mut self) {
        let _ = std::process::Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for OwnMosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process whose stdout and stderr lines are collected; killed when dropped.
pub struct Proc {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proc {
    pub fn spawn(mut cmd: std::process::Command) -> Proc {
        use std::io::BufRead as _;
        let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let outs: [Box<dyn std::io::Read + Send>; 2] = [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
        for out in outs {
            let l = lines.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    l.lock().unwrap().push(line);
                }
            });
        }
        Proc { child, lines }
    }

    /// Wait (up to 30 s) for a line containing `what`; panics with what the process printed.
    pub fn wait_for(&self, what: &str) {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(what)) {
            assert!(std::time::Instant::now() < until, "waited for `{what}`; the process printed:\n{}", self.output());
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Everything printed so far, one line each.
    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three stages in a row, one `probe` agent each (`one`, `two`, `three`),
/// add-only; the last one also admits viewers. What the probe does per
/// agent comes from the workspace's `probe.json`.
pub const THREE_STAGES: &str = r#"orchestration_flow:
  policies: { add_only: true }
  stages:
    - stage: "first"
      agent: "one"
      tools: ["probe"]
      rbac: ["admin"]
    - stage: "second"
      agent: "two"
      tools: ["probe"]
      rbac: ["admin"]
    - stage: "third"
      agent: "three"
      tools: ["probe"]
      rbac: ["admin", "viewer"]
"#;

/// The `taylordash` binary run from the repository root, with everything it
/// keeps (home, caches, runs, audit log) under `root`.
pub fn taylordash_in(root: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_taylordash"));
    cmd.current_dir(plugins_built())
        .env("HOME", root.join("home"))
        .env("XDG_CACHE_HOME", root.join("home/cache"))
        .env("XDG_STATE_HOME", root.join("home/state"))
        .env("TAYLORDASH_RUNS_DIR", root.join("runs"))
        .env("TAYLORDASH_AUDIT_LOG", root.join("audit.jsonl"));
    cmd
}
