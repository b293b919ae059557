//! The cost of a sandboxed call, against the way tools run without a sandbox.
//!
//! Measured in the same run, on the same machine:
//! - `full call`: new store + instantiate + `invoke` of the trivial `echo`
//!   plugin, with `/workspace` and `/out` preopened — what every task pays;
//! - `warm call`: `invoke` on an already-instantiated plugin (the floor);
//! - `spawn`: spawning and waiting for a trivial native process (`/bin/true`);
//! - `load cached` vs `load compile`: a plugin from the on-disk cache vs compiling it.
//!
//! Criterion reports its statistics; the summary at the end prints p50/p99 of
//! each and the ratios against the baselines. `PROFILE_FULL_CALL=<secs>` runs
//! only the full call, in a loop, for a profiler (`perf record`).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::Criterion;
use taylordash::sandbox::{Call, Sandbox, SandboxOptions};

fn echo_path() -> PathBuf {
    let root = xtask::workspace_root();
    xtask::build_only(&root, Some(&["echo"])).expect("building the echo test plugin");
    root.join("target/test-plugins/echo.wasm")
}

struct Fixture {
    sandbox: Sandbox,
    plugin: taylordash::sandbox::Plugin,
    bytes: Vec<u8>,
    path: PathBuf,
    workspace: tempfile::TempDir,
    out: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let path = echo_path();
    let cache = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::new(SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..SandboxOptions::default() }).unwrap();
    let plugin = sandbox.load(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    Fixture {
        sandbox,
        plugin,
        bytes,
        path,
        workspace: tempfile::tempdir().unwrap(),
        out: tempfile::tempdir().unwrap(),
        _cache: cache,
    }
}

// Not `task`: that key is the orchestrator's envelope (the SDK parses it as TaskInfo).
const INPUT: &str = r#"{"job":"bench"}"#;

fn full_call(f: &Fixture) {
    let call = Call { input: INPUT, workspace: Some(f.workspace.path()), ..Call::default() };
    let out = f.sandbox.call(&f.plugin, &call, Some(f.out.path())).unwrap();
    black_box(out);
}

fn spawn_true() {
    let status = std::process::Command::new("/bin/true").status().unwrap();
    assert!(status.success());
}

fn load_cached(f: &Fixture) {
    let p = f.sandbox.load_bytes(&f.path, &f.bytes).unwrap();
    assert!(p.from_cache);
    black_box(p);
}

fn load_compile(f: &Fixture, uncached: &Sandbox) {
    black_box(uncached.load_bytes(&f.path, &f.bytes).unwrap());
}

fn percentiles(mut run: impl FnMut(), iters: usize) -> (Duration, Duration) {
    for _ in 0..iters / 10 {
        run();
    }
    let mut samples: Vec<Duration> = (0..iters)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed()
        })
        .collect();
    samples.sort();
    (samples[iters / 2], samples[iters * 99 / 100])
}

fn main() {
    let f = fixture();
    let uncached = Sandbox::new(SandboxOptions { cache_dir: None, ..SandboxOptions::default() }).unwrap();
    let call = Call { input: INPUT, workspace: Some(f.workspace.path()), ..Call::default() };
    let mut warm = f.sandbox.warm_instance(&f.plugin, &call, Some(f.out.path())).unwrap();
    if let Ok(secs) = std::env::var("PROFILE_FULL_CALL") {
        let until = Instant::now() + Duration::from_secs(secs.parse().unwrap_or(10));
        while Instant::now() < until {
            full_call(&f);
        }
        return;
    }

    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    c.bench_function("full call (store + instantiate + invoke)", |b| b.iter(|| full_call(&f)));
    c.bench_function("warm call (invoke on a live instance)", |b| b.iter(|| black_box(warm.invoke(INPUT))));
    c.bench_function("spawn /bin/true", |b| b.iter(spawn_true));
    c.bench_function("load from cache", |b| b.iter(|| load_cached(&f)));
    c.bench_function("load by compiling", |b| b.iter(|| load_compile(&f, &uncached)));

    let full = percentiles(|| full_call(&f), 20_000);
    let floor = percentiles(|| assert!(warm.invoke(INPUT).is_some()), 20_000);
    let spawn = percentiles(spawn_true, 2_000);
    let cached = percentiles(|| load_cached(&f), 2_000);
    let compile = percentiles(|| load_compile(&f, &uncached), 20);
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!("\nsummary (echo plugin, {} bytes)", f.bytes.len());
    println!("{:<44} {:>12} {:>12}", "", "p50", "p99");
    for (name, (p50, p99)) in [
        ("full call (store + instantiate + invoke)", full),
        ("warm call (floor)", floor),
        ("spawn /bin/true (no sandbox)", spawn),
        ("load from cache", cached),
        ("load by compiling", compile),
    ] {
        println!("{name:<44} {:>12?} {:>12?}", p50, p99);
    }
    println!("full call / spawn:      p50 {:.3}x  p99 {:.3}x", ratio(full.0, spawn.0), ratio(full.1, spawn.1));
    println!("full call / warm floor: p50 {:.2}x", ratio(full.0, floor.0));
    println!("cached load / compile:  p50 {:.4}x", ratio(cached.0, compile.0));
    println!("targets: full call p50 <= 10us, cached load <= 0.5ms");
    c.final_summary();
}
