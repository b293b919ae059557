//! Outgoing HTTP and SSRF, through the `taylordash` binary and the
//! adversary plugin's `http_get` attack, against HTTP servers on loopback
//! that the test owns:
//! - a grant naming `localhost:PORT` (a name that resolves to loopback) is
//!   refused, with a denial naming the host, the port and the address it
//!   resolved to, and the server never sees a connection;
//! - a grant naming `127.0.0.1:PORT` reaches the server;
//! - an `https` request runs its TLS handshake on the connection to the
//!   checked address (a server that is not TLS fails it, once).
//!
//! That the connection goes to the address that was checked, and never to
//! a second answer of the resolver, is unit-tested in `sandbox/http.rs`
//! with a resolver that changes its answer.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

struct Env {
    root: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        common::plugins_built();
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Env { root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn policy(&self, grants: &[String]) -> String {
        let list: Vec<String> = grants.iter().map(|g| format!("\"{g}\"")).collect();
        let text = format!("principals: {{ tester: admin }}\nplugins:\n  adversary:\n    grants:\n      http: [{}]\n", list.join(", "));
        let path = self.path("policy.yaml");
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }

    /// The adversary's `http_get` of `url` under `policy`, as `tester`.
    fn get(&self, policy: &str, url: &str) -> Output {
        let input = serde_json::json!({ "attack": "http_get", "url": url }).to_string();
        let adversary = common::test_plugin("adversary").display().to_string();
        Command::new(env!("CARGO_BIN_EXE_taylordash"))
            .args(["--policy", policy, "--as", "tester", "invoke", &adversary, "--input", &input])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CACHE_HOME", self.path("home/cache"))
            .env("XDG_STATE_HOME", self.path("home/state"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .output()
            .expect("running taylordash")
    }

    fn http_denials(&self) -> Vec<String> {
        let text = std::fs::read_to_string(self.path("audit.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["capability"] == "http" && e["decision"] == "deny")
            .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A loopback server answering every request with `hello` (or, when
/// `http` is false, closing every connection at once); counts connections.
fn server(http: bool) -> (u16, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            if !http {
                continue;
            }
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
        }
    });
    (port, hits)
}

#[test]
fn a_granted_name_resolving_to_loopback_is_refused_naming_the_address() {
    let env = Env::new();
    let (port, hits) = server(true);
    let policy = env.policy(&[format!("localhost:{port}")]);
    let out = env.get(&policy, &format!("http://localhost:{port}/secret"));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(hits.load(Ordering::SeqCst), 0, "no connection to an internal address of a name");
    let denials = env.http_denials();
    assert!(!denials.is_empty());
    let prefix = format!("GET http://localhost:{port}/secret: host `localhost` port {port} resolves to internal address ");
    for d in &denials {
        let ip = d.strip_prefix(&prefix).and_then(|rest| rest.split(';').next()).unwrap_or_else(|| panic!("{d}"));
        let ip: std::net::IpAddr = ip.parse().unwrap_or_else(|_| panic!("{d}"));
        assert!(ip.is_loopback(), "{d}");
        assert_eq!(
            d,
            &format!("{prefix}{ip}; plugin `adversary` may reach it only by a request and grant naming the address (`{}`)", std::net::SocketAddr::new(ip, port))
        );
    }
    if let Some(v4) = denials.iter().find(|d| d.contains("address 127.0.0.1;")) {
        assert!(stderr(&out).contains(&format!("denied http: {v4}")), "{}", stderr(&out));
    }
}

#[test]
fn a_grant_naming_the_loopback_address_reaches_the_server() {
    let env = Env::new();
    let (port, hits) = server(true);
    let policy = env.policy(&[format!("127.0.0.1:{port}")]);
    let out = env.get(&policy, &format!("http://127.0.0.1:{port}/page"));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((doc["status"].as_u64(), doc["body"].as_str()), (Some(200), Some("hello")));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(env.http_denials().is_empty());

    // The address's grant does not cover a name that resolves to it.
    let out = env.get(&policy, &format!("http://localhost:{port}/page"));
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        env.http_denials(),
        [format!("GET http://localhost:{port}/page: `localhost:{port}` is not granted to plugin `adversary` (granted: 127.0.0.1:{port})")]
    );
}

#[test]
fn https_runs_its_handshake_on_the_checked_connection() {
    let env = Env::new();
    let (port, hits) = server(false);
    let policy = env.policy(&[format!("127.0.0.1:{port}")]);
    let out = env.get(&policy, &format!("https://127.0.0.1:{port}/"));
    // The server hangs up instead of answering the ClientHello: the tool
    // fails (exit 1), it is not a denial, and nothing panicked.
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("error: plugin `adversary` failed: https://127.0.0.1:{port}/: ErrorCode::TlsProtocolError")),
        "{}",
        stderr(&out)
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(env.http_denials().is_empty());
}
