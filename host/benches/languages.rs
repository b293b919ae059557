//! The same trivial tool (`hello`: `{"name"}` in, `{"greeting"}` out) in
//! Rust, Python and JavaScript, measured in one run: component size, first
//! compile, cached load, a full call (fresh store + instantiate + `invoke`,
//! p50/p99), linear memory per instance, and each ratio to the Rust tool.
//!
//! The components: `target/test-plugins/hello.wasm` (Rust, `tests/plugins/hello`),
//! `target/py-plugins/hello.wasm` (`sdk/python/build.sh hello`) and
//! `target/js-plugins/hello.wasm` (`sdk/js/build.sh hello`); a language whose
//! component is missing is reported as SKIP.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use taylordash::sandbox::{Call, Sandbox, SandboxOptions};

const INPUT: &str = r#"{"name":"Ada"}"#;
const CALLS: usize = 200;

struct Measured {
    lang: &'static str,
    size: u64,
    compile: Duration,
    cached_load: Duration,
    p50: Duration,
    p99: Duration,
    memory: u64,
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn median(mut d: Vec<Duration>) -> Duration {
    d.sort();
    quantile(&d, 0.5)
}

fn measure(lang: &'static str, path: &Path) -> Measured {
    let size = std::fs::metadata(path).unwrap().len();
    // First compile: a sandbox with no cache, so every load compiles.
    let cold = Sandbox::new(SandboxOptions { cache_dir: None, ..SandboxOptions::default() }).unwrap();
    let compile = median((0..3).map(|_| {
        let started = Instant::now();
        cold.load(path).unwrap();
        started.elapsed()
    }).collect());
    // Cached load: compiled once into a fresh cache, then deserialized.
    let cache = tempfile::tempdir().unwrap();
    let warm = Sandbox::new(SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..SandboxOptions::default() }).unwrap();
    warm.load(path).unwrap();
    let cached_load = median((0..10).map(|_| {
        let started = Instant::now();
        let p = warm.load(path).unwrap();
        assert!(p.from_cache);
        started.elapsed()
    }).collect());
    // Full calls on one loaded plugin.
    let plugin = warm.load(path).unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let call = Call { input: INPUT, workspace: Some(workspace.path()), ..Call::default() };
    let first = warm.call(&plugin, &call, Some(out.path())).unwrap();
    assert_eq!(first.output, r#"{"greeting":"Hello, Ada!"}"#, "{lang}");
    let mut times: Vec<Duration> = (0..CALLS)
        .map(|_| {
            let started = Instant::now();
            warm.call(&plugin, &call, Some(out.path())).unwrap();
            started.elapsed()
        })
        .collect();
    times.sort();
    Measured { lang, size, compile, cached_load, p50: quantile(&times, 0.5), p99: quantile(&times, 0.99), memory: first.memory_peak }
}

fn component(dir: &str) -> PathBuf {
    xtask::workspace_root().join("target").join(dir).join("hello.wasm")
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that does not name us skips the whole file.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if args.iter().any(|f| !"languages".contains(f.as_str())) {
        return;
    }
    let root = xtask::workspace_root();
    xtask::build_only(&root, Some(&["hello"])).expect("building the hello test plugin");
    let mut rows = Vec::new();
    for (lang, dir) in [("rust", "test-plugins"), ("python", "py-plugins"), ("javascript", "js-plugins")] {
        let path = component(dir);
        if !path.is_file() {
            println!("SKIP {lang}: {} is not built (sdk/python/build.sh hello, sdk/js/build.sh hello)", path.display());
            continue;
        }
        rows.push(measure(lang, &path));
    }
    let Some(base) = rows.first().filter(|r| r.lang == "rust").map(|r| (r.size, r.compile, r.cached_load, r.p50, r.p99, r.memory)) else {
        return;
    };
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1e3);
    let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.1}×", a / b) } else { "-".into() };
    println!("\nlanguages: the same hello tool, {CALLS} full calls each (fresh store + instantiate + invoke)");
    println!("{:<11} {:>10} {:>12} {:>12} {:>10} {:>10} {:>10}", "language", "size", "compile", "cached load", "call p50", "call p99", "memory");
    for r in &rows {
        println!("{:<11} {:>9.2}M {:>12} {:>12} {:>10} {:>10} {:>9.1}M", r.lang, r.size as f64 / 1048576.0, ms(r.compile),
            ms(r.cached_load), ms(r.p50), ms(r.p99), r.memory as f64 / 1048576.0);
    }
    println!("ratios to rust:");
    for r in rows.iter().skip(1) {
        println!(
            "{:<11} size {}  compile {}  cached load {}  call p50 {}  call p99 {}  memory {}",
            r.lang,
            ratio(r.size as f64, base.0 as f64),
            ratio(r.compile.as_secs_f64(), base.1.as_secs_f64()),
            ratio(r.cached_load.as_secs_f64(), base.2.as_secs_f64()),
            ratio(r.p50.as_secs_f64(), base.3.as_secs_f64()),
            ratio(r.p99.as_secs_f64(), base.4.as_secs_f64()),
            ratio(r.memory as f64, base.5 as f64),
        );
    }
}
