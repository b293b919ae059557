//! The MCP gateway's overhead, in the same run as its floor:
//! - `taylordash mcp`: `tools/call` of the `echo` test plugin (a fresh
//!   sandboxed instance per call, policy, audit, `/out` merge);
//! - `bare rmcp`: a server on the same SDK whose tool returns its input,
//!   without a sandbox (this bench binary, re-executed as one).
//!
//! Both run as child processes and are driven by the same minimal JSON-RPC
//! client: over stdio (newline-delimited JSON) and over streamable HTTP
//! (one keep-alive connection per client, revision 2025-11-25 with its
//! session). Printed: p50/p95/p99 of each and the ratios, then calls/s with
//! 8 concurrent HTTP clients. `TD_BENCH_MCP_CALLS` sets the calls per
//! measurement (default 2,000).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BARE_ENV: &str = "TD_BENCH_BARE_MCP";
const TOKEN: &str = "td_bench_token";
const ARGS: &str = r#"{"query":"bench","n":1}"#;

fn main() {
    // Criterion-style flags from `cargo bench` are ignored; `--list` lists nothing.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Ok(mode) = std::env::var(BARE_ENV) {
        bare::serve(&mode);
        return;
    }
    let calls: usize = std::env::var("TD_BENCH_MCP_CALLS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let rig = Rig::new();
    let mut rows = Vec::new();
    for (name, mut child) in [("bare rmcp, stdio", rig.bare(None)), ("taylordash mcp, stdio", rig.gateway(None))] {
        let p = stdio_latencies(&mut child, calls);
        let _ = child.kill();
        rows.push((name, p));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let mut throughput = Vec::new();
    for (name, token, spawn) in [
        ("bare rmcp, HTTP", None, Box::new(|a| rig.bare(Some(a))) as Box<dyn Fn(SocketAddr) -> Child>),
        ("taylordash mcp, HTTP", Some(TOKEN), Box::new(|a| rig.gateway(Some(a)))),
    ] {
        let addr = free_addr();
        let mut child = spawn(addr);
        let p = runtime.block_on(async {
            wait_listening(addr).await;
            let mut client = http::Client::connect(addr, token).await;
            for i in 0..calls.min(200) {
                client.call(i).await; // warm-up
            }
            let mut samples = Vec::with_capacity(calls);
            for i in 0..calls {
                let t = Instant::now();
                client.call(i).await;
                samples.push(t.elapsed());
            }
            ranks(samples)
        });
        let rate = runtime.block_on(http::throughput(addr, token, 8, Duration::from_secs(3)));
        let _ = child.kill();
        rows.push((name, p));
        throughput.push((name, rate));
    }
    println!("\nMCP tools/call of `echo`, {calls} calls each");
    println!("{:<28} {:>10} {:>10} {:>10}", "", "p50", "p95", "p99");
    for (name, p) in &rows {
        println!("{name:<28} {:>10.1?} {:>10.1?} {:>10.1?}", p[0], p[1], p[2]);
    }
    for (transport, bare, gw) in [("stdio", &rows[0].1, &rows[1].1), ("HTTP", &rows[2].1, &rows[3].1)] {
        let r = |i: usize| gw[i].as_secs_f64() / bare[i].as_secs_f64();
        println!("gateway / bare over {transport}: p50 {:.2}x  p95 {:.2}x  p99 {:.2}x", r(0), r(1), r(2));
    }
    for (name, rate) in &throughput {
        println!("{name}, 8 concurrent clients: {rate:.0} calls/s");
    }
}

fn percentiles(calls: usize, mut call: impl FnMut(usize)) -> [Duration; 3] {
    for i in 0..calls.min(200) {
        call(i); // warm-up: caches, connections, the allocator
    }
    let samples: Vec<Duration> = (0..calls)
        .map(|i| {
            let t = Instant::now();
            call(i);
            t.elapsed()
        })
        .collect();
    ranks(samples)
}

/// p50, p95, p99.
fn ranks(mut samples: Vec<Duration>) -> [Duration; 3] {
    samples.sort();
    let n = samples.len();
    [samples[n / 2], samples[n * 95 / 100], samples[(n * 99 / 100).min(n - 1)]]
}

/// The gateway's world: the echo plugin, a workspace, a policy with a token.
struct Rig {
    dir: tempfile::TempDir,
}

impl Rig {
    fn new() -> Self {
        let root = xtask::workspace_root();
        let echo = root.join("target/test-plugins/echo.wasm");
        if !echo.is_file() {
            xtask::build_plugins(&root).expect("building the plugins");
        }
        let dir = tempfile::tempdir().expect("a temp dir");
        for sub in ["plugins", "ws"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("a dir");
        }
        std::fs::copy(&echo, dir.path().join("plugins/echo.wasm")).expect("copying echo");
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(TOKEN.as_bytes()));
        let policy = format!("principals: {{ bench: admin }}\nmcp_tokens: {{ \"sha256:{digest}\": bench }}\nmcp: {{ calls_per_minute: 100000000, concurrency: 8 }}\n");
        std::fs::write(dir.path().join("policy.yaml"), policy).expect("the policy");
        Rig { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn gateway(&self, http: Option<SocketAddr>) -> Child {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
        cmd.args(["--plugins-dir", &self.path("plugins").display().to_string()])
            .args(["--policy", &self.path("policy.yaml").display().to_string(), "--as", "bench", "mcp"])
            .args(["--workspace", &self.path("ws").display().to_string(), "--pipelines", &self.path("ws").display().to_string()])
            .env("TAYLORDASH_CACHE_DIR", self.path("cache"))
            .env("TAYLORDASH_AUDIT_LOG", self.path("audit.jsonl"))
            .env("TAYLORDASH_RUNS_DIR", self.path("runs"));
        if let Some(addr) = http {
            cmd.args(["--http", &addr.to_string()]);
        }
        spawn(cmd, http.is_none())
    }

    fn bare(&self, http: Option<SocketAddr>) -> Child {
        let mut cmd = Command::new(std::env::current_exe().expect("this bench"));
        cmd.env(BARE_ENV, http.map(|a| a.to_string()).unwrap_or_else(|| "stdio".into()));
        spawn(cmd, http.is_none())
    }
}

fn spawn(mut cmd: Command, stdio: bool) -> Child {
    if stdio {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
    } else {
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
    }
    cmd.stderr(Stdio::null()).spawn().expect("starting an MCP server")
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("its address")
}

async fn wait_listening(addr: SocketAddr) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no MCP server on {addr} after 30 s");
}

fn initialize(id: u64) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "bench", "version": "0" } } })
}

fn call(id: usize) -> Value {
    let arguments: Value = serde_json::from_str(ARGS).unwrap_or(Value::Null);
    json!({ "jsonrpc": "2.0", "id": id + 10, "method": "tools/call", "params": { "name": "echo", "arguments": arguments } })
}

fn stdio_latencies(child: &mut Child, calls: usize) -> [Duration; 3] {
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let send = |stdin: &mut ChildStdin, v: &Value| {
        writeln!(stdin, "{v}").expect("writing to the server");
        stdin.flush().expect("flushing");
    };
    let recv = |stdout: &mut BufReader<ChildStdout>| -> Value {
        loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).expect("reading") > 0, "the server closed stdout");
            let v: Value = serde_json::from_str(&line).expect("a JSON line");
            if v.get("id").is_some() {
                return v;
            }
        }
    };
    send(&mut stdin, &initialize(1));
    recv(&mut stdout);
    send(&mut stdin, &json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }));
    percentiles(calls, |i| {
        send(&mut stdin, &call(i));
        let answer = recv(&mut stdout);
        assert!(answer["result"]["isError"] != true && answer.get("error").is_none(), "{answer}");
    })
}

/// A minimal streamable-HTTP client: one connection, one session.
mod http {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper::client::conn::http1::SendRequest;
    use hyper_util::rt::TokioIo;

    pub struct Client {
        sender: SendRequest<Full<Bytes>>,
        token: Option<&'static str>,
        session: Option<String>,
    }

    impl Client {
        pub async fn connect(addr: SocketAddr, token: Option<&'static str>) -> Self {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connecting");
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
            tokio::spawn(conn);
            let mut client = Client { sender, token, session: None };
            client.post(&initialize(1)).await;
            client.post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).await;
            client
        }

        pub async fn call(&mut self, i: usize) {
            let answer = self.post(&call(i)).await;
            assert!(answer.get("error").is_none() && answer["result"]["isError"] != true, "{answer}");
        }

        /// POST one message; the JSON-RPC answer (from JSON or SSE), or null for a notification.
        async fn post(&mut self, message: &Value) -> Value {
            let mut req = hyper::Request::post("/mcp")
                .header("host", "127.0.0.1")
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25");
            if let Some(t) = self.token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            if let Some(s) = &self.session {
                req = req.header("mcp-session-id", s.as_str());
            }
            let req = req.body(Full::new(Bytes::from(message.to_string()))).expect("a request");
            self.sender.ready().await.expect("connection ready");
            let response = self.sender.send_request(req).await.expect("a response");
            if let Some(s) = response.headers().get("mcp-session-id").and_then(|v| v.to_str().ok()) {
                self.session = Some(s.to_string());
            }
            let status = response.status();
            let body = response.into_body().collect().await.expect("the body").to_bytes();
            assert!(status.is_success(), "HTTP {status}: {}", String::from_utf8_lossy(&body));
            let text = String::from_utf8_lossy(&body);
            let json_lines = text.lines().filter_map(|l| l.strip_prefix("data:")).map(str::trim);
            json_lines
                .chain(std::iter::once(text.trim()))
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|v| v.get("id").is_some())
                .unwrap_or(Value::Null)
        }
    }

    /// Calls/s of `clients` concurrent clients for `period`.
    pub async fn throughput(addr: SocketAddr, token: Option<&'static str>, clients: usize, period: Duration) -> f64 {
        let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let until = Instant::now() + period;
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let done = Arc::clone(&done);
            tasks.push(tokio::spawn(async move {
                let mut client = Client::connect(addr, token).await;
                let mut i = 0;
                while Instant::now() < until {
                    client.call(i).await;
                    i += 1;
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }));
        }
        let started = Instant::now();
        for t in tasks {
            t.await.expect("a client task");
        }
        done.load(std::sync::atomic::Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
    }
}

/// The floor: an rmcp server whose one tool returns its input.
mod bare {
    use std::sync::Arc;

    use rmcp::ErrorData;
    use rmcp::ServiceExt;
    use rmcp::handler::server::ServerHandler;
    use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool};
    use rmcp::service::{RequestContext, RoleServer};
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
    use serde_json::Value;

    #[derive(Clone)]
    struct Echo;

    impl ServerHandler for Echo {
        fn get_info(&self) -> ServerConfig {
            ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
        }

        async fn list_tools(&self, _: Option<PaginatedRequestParams>, _: RequestContext<RoleServer>) -> Result<ListToolsResult, ErrorData> {
            let schema = serde_json::json!({ "type": "object" }).as_object().cloned().unwrap_or_default();
            Ok(ListToolsResult::with_all_items(vec![Tool::new("echo", "Returns its input.", Arc::new(schema))]))
        }

        async fn call_tool(&self, request: CallToolRequestParams, _: RequestContext<RoleServer>) -> Result<CallToolResponse, ErrorData> {
            let input = Value::Object(request.arguments.unwrap_or_default());
            let mut result = CallToolResult::success(vec![ContentBlock::text(input.to_string())]);
            result.structured_content = Some(input);
            Ok(CallToolResponse::Complete(result))
        }
    }

    pub fn serve(mode: &str) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
        runtime.block_on(async {
            if mode == "stdio" {
                let service = Echo.serve(rmcp::transport::stdio()).await.expect("serving stdio");
                let _ = service.waiting().await;
                return;
            }
            let addr: std::net::SocketAddr = mode.parse().expect("an address");
            let service = StreamableHttpService::new(|| Ok(Echo), Arc::new(LocalSessionManager::default()), StreamableHttpServerConfig::default());
            let listener = tokio::net::TcpListener::bind(addr).await.expect("binding");
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                let service = service.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let mut service = service.clone();
                        async move { tower_service::Service::call(&mut service, req).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await;
                });
            }
        });
    }
}
