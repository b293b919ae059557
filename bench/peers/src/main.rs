//! `cargo xtask bench --peers` (issue #18 part 3): the same trivial JSON echo
//! tool, with the same ~100-byte input, measured in one run as
//!
//! - TaylorDash's full call (store + instantiate + `invoke`, `/workspace` and
//!   `/out` preopened: what every task pays), its warm-call floor, and the
//!   full call without preopens (where the gap to the floor goes);
//! - Extism, one plugin reused and a new plugin per call;
//! - a native subprocess (`echo-native`) and a Python one (`python3 -c`);
//! - the Python and JavaScript components, when `target/{py,js}-plugins/echo.wasm`
//!   exist (SKIP otherwise);
//!
//! then in-process throughput (one `Sandbox`, so one engine, shared by 1 and
//! 2 threads), RSS of an idle `taylordash worker` and `taylordash mcp`, RSS of
//! 1,000 live echo instances in one process, and the full call against the
//! floor. Each target prints PASS or MISS; nothing here fails the build.
//!
//! Usage: `taylordash-peers --root <workspace root>` (xtask builds what it
//! needs first); `taylordash-peers --live-instances N --echo <wasm> --cache <dir>`
//! is the child process that holds the instances.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use taylordash::sandbox::{Call, Plugin, Sandbox, SandboxOptions};

/// The tool's input: ~100 bytes of JSON with the usual shapes in it (no `task`,
/// `previous`, `feedback` or `shared_context`: the SDK takes those out as the envelope).
const INPUT: &str =
    r#"{"job":"bench","id":42,"tags":["peer","echo","json"],"payload":{"text":"the same trivial tool","n":3.5}}"#;
const EXTISM_VERSION: &str = "1.30.0";
const PYTHON_ECHO: &str = "import sys,json; sys.stdout.write(json.dumps(json.loads(sys.stdin.read())))";

const TARGET_THROUGHPUT: f64 = 100_000.0;
const TARGET_RSS_1000: u64 = 1 << 30;
const TARGET_FLOOR_RATIO: f64 = 1.2;
const LIVE_INSTANCES: usize = 1000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    if let Some(n) = flag("--live-instances") {
        let n: usize = n.parse().expect("--live-instances N");
        live_instances(n, Path::new(&flag("--echo").expect("--echo")), Path::new(&flag("--cache").expect("--cache")));
        return;
    }
    let root = PathBuf::from(flag("--root").expect("usage: taylordash-peers --root <workspace root>"));
    let report = run(&root);
    println!("{report}");
    let path = root.join("target/bench-peers/report.md");
    if std::fs::write(&path, &report).is_ok() {
        eprintln!("peers: the table is also in {}", path.display());
    }
}

/// p50, p99 and calls/s of one row.
#[derive(Clone, Copy)]
struct Stats {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

/// `iters` timed runs of `f` after `iters / 10` untimed ones.
fn measure(iters: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..(iters / 10).max(1) {
        f();
    }
    let mut samples: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    let total: Duration = samples.iter().sum();
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats { p50: at(0.5), p99: at(0.99), per_sec: iters as f64 / total.as_secs_f64() }
}

fn us(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 100.0 { format!("{us:.2}") } else { format!("{us:.0}") }
}

fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn verdict(pass: bool) -> &'static str {
    if pass { "**PASS**" } else { "**MISS**" }
}

fn same_json(out: &str) -> bool {
    let a: Value = serde_json::from_str(INPUT).unwrap();
    serde_json::from_str::<Value>(out).is_ok_and(|b| a == b)
}

/// One row of the latency table.
enum Row {
    Measured { name: String, stats: Stats },
    Skipped { name: String, why: String },
}

/// TaylorDash's sandbox with the echo plugin loaded and the call's directories.
struct Td {
    sandbox: Sandbox,
    plugin: Plugin,
    workspace: tempfile::TempDir,
    out: tempfile::TempDir,
}

impl Td {
    fn new(echo: &Path, cache: &Path) -> Td {
        let sandbox = Sandbox::new(SandboxOptions { cache_dir: Some(cache.to_path_buf()), ..SandboxOptions::default() })
            .expect("a sandbox");
        let plugin = sandbox.load(echo).unwrap_or_else(|e| panic!("loading {}: {e}", echo.display()));
        Td { sandbox, plugin, workspace: tempfile::tempdir().unwrap(), out: tempfile::tempdir().unwrap() }
    }

    fn call(&self) -> Call<'_> {
        Call { input: INPUT, workspace: Some(self.workspace.path()), ..Call::default() }
    }

    /// What `host/benches/sandbox.rs` calls the full call: a fresh store,
    /// instantiate, `invoke`, `/workspace` and `/out` preopened.
    fn full_call(&self, plugin: &Plugin, out: &Path) -> String {
        self.sandbox.call(plugin, &self.call(), Some(out)).expect("a full call").output
    }
}

fn run(root: &Path) -> String {
    let target = root.join("target");
    let work = target.join("bench-peers");
    std::fs::create_dir_all(&work).expect("target/bench-peers");
    let cache = work.join("cache");
    let echo = target.join("test-plugins/echo.wasm");
    let taylordash = target.join("release/taylordash");
    let here = std::env::current_exe().expect("this binary");
    let native = here.with_file_name("echo-native");
    let extism_wasm = target.join("wasm32-unknown-unknown/release/extism_echo.wasm");

    // Other builds share these cores: say how busy the machine was.
    let load = std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "?".into(), |l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    let td = Td::new(&echo, &cache);
    let mut rows = Vec::new();

    // TaylorDash: the full call, the floor, and the full call without preopens.
    assert!(same_json(&td.full_call(&td.plugin, td.out.path())), "echo answered something else");
    let full = measure(20_000, || {
        std::hint::black_box(td.full_call(&td.plugin, td.out.path()));
    });
    rows.push(Row::Measured { name: "TaylorDash full call (store + instantiate + invoke; /workspace, /out preopened)".into(), stats: full });
    let mut warm = td.sandbox.warm_instance(&td.plugin, &td.call(), Some(td.out.path())).expect("a warm instance");
    let floor = measure(20_000, || assert!(warm.invoke(INPUT).is_some()));
    rows.push(Row::Measured { name: "TaylorDash warm call (floor: invoke on a live instance)".into(), stats: floor });
    drop(warm);
    let bare = Call { input: INPUT, ..Call::default() };
    let no_mounts = measure(20_000, || {
        std::hint::black_box(td.sandbox.call(&td.plugin, &bare, None).expect("a call"));
    });
    rows.push(Row::Measured { name: "TaylorDash full call, no preopens".into(), stats: no_mounts });

    // Extism: the same tool as an Extism plugin (wasm32-unknown-unknown, no WASI).
    rows.extend(extism_rows(&extism_wasm));

    // Subprocesses: what most tools are today.
    let stats = measure(1_000, || assert!(same_json(&subprocess(&mut Command::new(&native)))));
    rows.push(Row::Measured { name: "native subprocess (`echo-native`: spawn, stdin → stdout, wait)".into(), stats });
    match python() {
        Some((exe, version)) => {
            let stats = measure(100, || assert!(same_json(&subprocess(Command::new(&exe).args(["-c", PYTHON_ECHO])))));
            rows.push(Row::Measured { name: format!("Python subprocess (`python3 -c 'import sys,json; …'`, {version})"), stats });
        }
        None => rows.push(Row::Skipped { name: "Python subprocess".into(), why: "python3 not found".into() }),
    }

    // The same tool as a Python or JavaScript component, when one is built.
    for (lang, dir, sdk) in [("Python", "py-plugins", "sdk/python/examples"), ("JavaScript", "js-plugins", "sdk/js/examples")] {
        let name = format!("{lang} component (full call)");
        let path = target.join(dir).join("echo.wasm");
        if !path.is_file() {
            let why = format!("target/{dir}/echo.wasm not built ({sdk}/echo; its SDK's build.sh builds it)");
            eprintln!("peers: SKIP {name}: {why}");
            rows.push(Row::Skipped { name, why });
            continue;
        }
        let plugin = td.sandbox.load(&path).unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
        assert!(same_json(&td.full_call(&plugin, td.out.path())), "{lang} echo answered something else");
        let stats = measure(300, || {
            std::hint::black_box(td.full_call(&plugin, td.out.path()));
        });
        rows.push(Row::Measured { name, stats });
    }

    let throughput = [1, 2].map(|threads| (threads, throughput(&td, threads, Duration::from_secs(2))));
    let rss = rss_rows(root, &taylordash, &echo, &work, &here, &cache);

    // The report.
    let mut r = String::new();
    let w = &mut r;
    let line = |w: &mut String, s: String| {
        w.push_str(&s);
        w.push('\n');
    };
    line(w, format!("## TaylorDash against its peers: the same JSON echo tool, one run ({} bytes of input)\n", INPUT.len()));
    line(w, format!("{}; load average {} at the start; release build; Extism {EXTISM_VERSION}; kernel {}\n", machine(), load, kernel()));
    line(w, "| row | p50 µs | p99 µs | calls/s (1 thread) | p50 vs TaylorDash full call |".into());
    line(w, "|---|---:|---:|---:|---:|".into());
    for row in &rows {
        match row {
            Row::Measured { name, stats } => line(
                w,
                format!(
                    "| {name} | {} | {} | {} | {:.2}× |",
                    us(stats.p50),
                    us(stats.p99),
                    thousands(stats.per_sec),
                    stats.p50.as_secs_f64() / full.p50.as_secs_f64()
                ),
            ),
            Row::Skipped { name, why } => line(w, format!("| {name} | **SKIP** | | | {why} |")),
        }
    }
    line(w, "\n### In-process throughput: full calls, one `Sandbox` (one engine, one loaded plugin) shared by N threads\n".into());
    line(w, "| threads | calls/s | per thread | target ≥ 100k/s |".into());
    line(w, "|---:|---:|---:|---|".into());
    for (threads, per_sec) in throughput {
        let target = if threads == 2 { verdict(per_sec >= TARGET_THROUGHPUT) } else { "" };
        line(w, format!("| {threads} | {} | {} | {target} |", thousands(per_sec), thousands(per_sec / threads as f64)));
    }
    line(w, "\n### Memory (VmRSS)\n".into());
    line(w, "| what | RSS | target |".into());
    line(w, "|---|---:|---|".into());
    for (name, kib, target) in &rss {
        line(w, format!("| {name} | {} | {target} |", kib.map_or("**SKIP**".into(), mib)));
    }
    let ratio = full.p50.as_secs_f64() / floor.p50.as_secs_f64();
    line(w, "\n### Full call against the floor (pooling, `linear_memory_keep_resident` + `pagemap_scan`)\n".into());
    line(w, "| full call p50 | floor p50 | ratio | target ≤ 1.2× |".into());
    line(w, "|---:|---:|---:|---|".into());
    line(w, format!("| {} µs | {} µs | {ratio:.2}× | {} |", us(full.p50), us(floor.p50), verdict(ratio <= TARGET_FLOOR_RATIO)));
    let preopens = no_mounts.p50.as_secs_f64() / floor.p50.as_secs_f64();
    line(w, format!("\nwithout preopens the full call is {preopens:.2}× the floor ({} µs)", us(no_mounts.p50)));
    r
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or_else(|_| "?".into(), |s| s.trim().to_string())
}

fn extism_rows(wasm: &Path) -> Vec<Row> {
    use extism::{CompiledPlugin, Manifest, Plugin as XPlugin, PluginBuilder, Wasm};
    let reused = format!("Extism {EXTISM_VERSION}, one plugin reused");
    let per_call = format!("Extism {EXTISM_VERSION}, new plugin per call (from a `CompiledPlugin`)");
    if !wasm.is_file() {
        let why = format!("{} not built", wasm.display());
        return vec![Row::Skipped { name: reused, why: why.clone() }, Row::Skipped { name: per_call, why }];
    }
    // From bytes: `Wasm::file` needs Extism's `register-filesystem` feature.
    let manifest = Manifest::new([Wasm::data(std::fs::read(wasm).expect("reading the Extism plugin"))]);
    let compiled = CompiledPlugin::new(PluginBuilder::new(manifest).with_wasi(false)).expect("compiling the Extism plugin");
    let mut plugin = XPlugin::new_from_compiled(&compiled).expect("an Extism plugin");
    let out: String = plugin.call::<&str, String>("echo", INPUT).expect("an Extism call");
    assert!(same_json(&out), "the Extism echo answered {out}");
    let reuse = measure(20_000, || {
        std::hint::black_box(plugin.call::<&str, &str>("echo", INPUT).expect("an Extism call"));
    });
    let fresh = measure(2_000, || {
        let mut p = XPlugin::new_from_compiled(&compiled).expect("an Extism plugin");
        std::hint::black_box(p.call::<&str, &str>("echo", INPUT).expect("an Extism call"));
    });
    vec![Row::Measured { name: reused, stats: reuse }, Row::Measured { name: per_call, stats: fresh }]
}

/// Spawn `cmd`, write the input to its stdin, read its stdout, wait.
fn subprocess(cmd: &mut Command) -> String {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("spawning");
    child.stdin.take().expect("stdin").write_all(INPUT.as_bytes()).expect("writing stdin");
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("reading stdout");
    assert!(child.wait().expect("waiting").success());
    out
}

/// The real interpreter behind `python3` (not a pyenv or asdf shim script) and its version.
fn python() -> Option<(PathBuf, String)> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable); print(sys.version.split()[0])"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut lines = text.lines();
    Some((PathBuf::from(lines.next()?), format!("Python {}", lines.next()?)))
}

/// Full calls per second with `threads` threads sharing one sandbox and one
/// loaded plugin, each with its own `/out`.
fn throughput(td: &Td, threads: usize, time: Duration) -> f64 {
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let counting = AtomicBool::new(false);
    let elapsed = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let out = tempfile::tempdir().unwrap();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(td.full_call(&td.plugin, out.path()));
                    if counting.load(Ordering::Relaxed) {
                        n += 1;
                    }
                }
                done.fetch_add(n, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        counting.store(true, Ordering::Relaxed);
        let started = Instant::now();
        std::thread::sleep(time);
        stop.store(true, Ordering::Relaxed);
        started.elapsed()
    });
    done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64()
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Kills and reaps the child when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type RssRow = (String, Option<u64>, String);

fn rss_rows(root: &Path, taylordash: &Path, echo: &Path, work: &Path, here: &Path, cache: &Path) -> Vec<RssRow> {
    let mut rows = Vec::new();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let echo_dir = tmp.path().join("plugins");
    std::fs::create_dir_all(&echo_dir).unwrap();
    std::fs::copy(echo, echo_dir.join("echo.wasm")).unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let plugins = root.join("target/plugins");
    let n_plugins = std::fs::read_dir(&plugins)
        .map(|d| d.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "wasm")).count())
        .unwrap_or(0);
    let base = |plugins_dir: &Path| {
        let mut cmd = Command::new(taylordash);
        cmd.arg("--plugins-dir")
            .arg(plugins_dir)
            .arg("--cache-dir")
            .arg(work.join("cli-cache"))
            .arg("--audit-log")
            .arg(tmp.path().join("audit.jsonl"))
            .arg("--runs-dir")
            .arg(tmp.path().join("runs"))
            .current_dir(tmp.path());
        cmd
    };

    // An idle worker on Mosquitto at 127.0.0.1:1883, or on `taylordash broker` when none listens there.
    let mosquitto = std::net::TcpStream::connect_timeout(&"127.0.0.1:1883".parse().unwrap(), Duration::from_secs(1)).is_ok();
    let mut broker_child = None;
    let broker = if mosquitto {
        Some(("mqtt://127.0.0.1:1883".to_string(), "Mosquitto at 127.0.0.1:1883"))
    } else {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = base(&echo_dir)
            .args(["broker", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("taylordash broker");
        let mut url = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).ok();
        broker_child = Some(Reaped(child));
        (!url.trim().is_empty()).then(|| (url.trim().to_string(), "the embedded broker (`taylordash broker`)"))
    };
    match broker {
        Some((url, which)) => {
            let child = base(&plugins)
                .args(["worker", "--broker", &url, "--insecure-unsigned-bus", "--prefix"])
                .arg(format!("peers{}", std::process::id()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("taylordash worker");
            let mut child = Reaped(child);
            let stderr = BufReader::new(child.0.stderr.take().unwrap());
            let ready = stderr.lines().map_while(Result::ok).any(|l| l.contains("ready"));
            std::thread::sleep(Duration::from_secs(1));
            let kib = if ready { vm_rss_kib(child.0.id()) } else { None };
            if !ready {
                eprintln!("peers: SKIP idle worker: it exited before it was ready");
            }
            rows.push((format!("idle `taylordash worker` ({which}, {n_plugins} plugins in target/plugins)"), kib, String::new()));
        }
        None => rows.push(("idle `taylordash worker`".into(), None, "no broker".into())),
    }
    drop(broker_child);

    // An idle MCP gateway on stdio, after initialize and tools/list.
    for (dir, what) in [(&echo_dir, "the echo plugin".to_string()), (&plugins, format!("{n_plugins} plugins in target/plugins"))] {
        let child = base(dir)
            .args(["mcp", "--workspace"])
            .arg(&ws)
            .arg("--pipelines")
            .arg(&ws)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("taylordash mcp");
        let mut child = Reaped(child);
        let mut stdin = child.0.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
        let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": { "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": { "name": "peers", "version": "0" } } });
        let kib = mcp_request(&mut stdin, &mut stdout, &init)
            .and_then(|_| {
                writeln!(stdin, "{}", json!({ "jsonrpc": "2.0", "method": "notifications/initialized" })).ok()?;
                mcp_request(&mut stdin, &mut stdout, &json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }))
            })
            .and_then(|_| {
                std::thread::sleep(Duration::from_secs(1));
                vm_rss_kib(child.0.id())
            });
        rows.push((format!("idle `taylordash mcp` on stdio ({what}; after initialize + tools/list)"), kib, String::new()));
    }

    // 1,000 live instances, held in a child process of their own.
    let out = Command::new(here)
        .args(["--live-instances", &LIVE_INSTANCES.to_string(), "--echo"])
        .arg(echo)
        .arg("--cache")
        .arg(cache)
        .stderr(Stdio::inherit())
        .output()
        .expect("the live-instances child");
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text.split_whitespace().filter_map(|n| n.parse().ok()).collect();
    match nums[..] {
        [before, after, sandboxes] => {
            let per = (after.saturating_sub(before)) as f64 / LIVE_INSTANCES as f64;
            rows.push((
                format!("process baseline: 1 `Sandbox`, echo loaded, no instance"),
                Some(before),
                String::new(),
            ));
            rows.push((
                format!(
                    "{LIVE_INSTANCES} live echo instances in one process ({sandboxes} `Sandbox`es: {} pool slots each; {per:.0} KiB per instance over the baseline)",
                    taylordash::sandbox::engine::POOL_SLOTS
                ),
                Some(after),
                format!("≤ 1 GiB {}", verdict(after * 1024 <= TARGET_RSS_1000)),
            ));
        }
        _ => rows.push((format!("{LIVE_INSTANCES} live echo instances"), None, format!("the child failed: {text}"))),
    }
    rows
}

fn mcp_request(stdin: &mut ChildStdin, stdout: &mut BufReader<ChildStdout>, req: &Value) -> Option<Value> {
    writeln!(stdin, "{req}").ok()?;
    stdin.flush().ok()?;
    loop {
        let mut line = String::new();
        if stdout.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let v: Value = serde_json::from_str(&line).ok()?;
        if v.get("id") == req.get("id") {
            return Some(v);
        }
    }
}

/// The child: `n` instances of the echo plugin alive at once, each having
/// run one call. A `Sandbox`'s engine has `POOL_SLOTS` instance slots and no
/// option to raise them, so a new `Sandbox` is opened whenever one is full.
/// Prints the RSS before (one sandbox, the plugin loaded) and after, in KiB,
/// and how many sandboxes it took.
fn live_instances(n: usize, echo: &Path, cache: &Path) {
    let first = Td::new(echo, cache);
    let before = vm_rss_kib(std::process::id()).unwrap();
    let mut sandboxes = vec![first];
    let mut live = Vec::with_capacity(n);
    let mut in_current = 0;
    while live.len() < n {
        let td = sandboxes.last().unwrap();
        match td.sandbox.warm_instance(&td.plugin, &td.call(), Some(td.out.path())) {
            Ok(mut instance) => {
                assert!(instance.invoke(INPUT).is_some(), "a live instance's call failed");
                live.push(instance);
                in_current += 1;
            }
            Err(e) => {
                assert!(in_current > 0, "a fresh sandbox refused its first instance: {e}");
                sandboxes.push(Td::new(echo, cache));
                in_current = 0;
            }
        }
    }
    let after = vm_rss_kib(std::process::id()).unwrap();
    println!("{before} {after} {}", sandboxes.len());
}
