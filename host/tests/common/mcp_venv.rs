//! The Python side of the MCP tests: the venv `tests/mcp/setup.sh` makes in
//! `target/mcp-venv` (the official `mcp` SDK, pytest and pytest-cov), and the
//! stand-in MCP servers of `tests/mcp/` started from it on a free port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

fn repo() -> &'static PathBuf {
    super::plugins_built()
}

/// The venv's python with `mcp` importable, made by `tests/mcp/setup.sh`
/// when missing; `None` (after a loud `SKIP:`) when that is impossible.
pub fn python() -> Option<PathBuf> {
    static PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let python = repo().join("target/mcp-venv/bin/python");
            let ready = |p: &Path| {
                Command::new(p).args(["-c", "import mcp, pytest_cov"]).output().is_ok_and(|o| o.status.success())
            };
            if ready(&python) {
                return Some(python);
            }
            let setup = repo().join("tests/mcp/setup.sh");
            match Command::new("bash").arg(&setup).output() {
                Ok(out) if out.status.success() && ready(&python) => Some(python),
                Ok(out) => {
                    eprintln!(
                        "SKIP: the MCP test venv could not be made ({} exited {:?}): {}",
                        setup.display(),
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                    None
                }
                Err(e) => {
                    eprintln!("SKIP: the MCP test venv could not be made: running {}: {e}", setup.display());
                    None
                }
            }
        })
        .clone()
}

/// A stand-in MCP server (`tests/mcp/<script> PORT`), killed on drop.
pub struct McpServer {
    child: Child,
    pub port: u16,
}

impl McpServer {
    pub fn start(python: &Path, script: &str) -> McpServer {
        let port = super::free_port();
        let mut child = Command::new(python)
            .arg(repo().join("tests/mcp").join(script))
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting tests/mcp/{script}: {e}"));
        let stdout = child.stdout.take().expect("the server's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "READY" {
                    let _ = tx.send(());
                }
            }
        });
        let mut server = McpServer { child, port };
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let status = server.child.try_wait();
            panic!("tests/mcp/{script} did not print READY within 60 s (exit: {status:?})");
        }
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
