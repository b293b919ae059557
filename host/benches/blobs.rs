//! Workers without a shared filesystem, measured in one run:
//! - bytes/s materialising a workspace (default 2,000 files, 200 MB;
//!   `TAYLORDASH_BENCH_BLOB_MB` to change the size) over the bus (embedded
//!   broker, signed chunks), cold (empty cache) and warm (every blob cached);
//! - the same through an S3-compatible store (moto's server from
//!   `tests/toolset/moto_venv.sh`; skipped, saying so, when it is missing):
//!   upload, cold and warm;
//! - the task round trip of an `echo` task over the bus with a 50-file
//!   manifest and a warm worker cache, against today's round trip (paths on
//!   a shared filesystem) on the same broker: the ratio of medians (target ≤ 1.2).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use taylordash::blobs::{self, ArtifactStore, BlobCache, Scanner, StoreOptions};
use taylordash::bus::{
    BlobExchange, BrokerAddr, BusAuth, BusKey, ClientOptions, DispatchOptions, EmbeddedBroker, ExchangeOptions, MqttDispatch,
    RemoteFiles, Topics, WorkerOptions, run_worker,
};
use taylordash::dispatch::{Dispatch, InProcess, Task};
use taylordash::sandbox::{Sandbox, SandboxOptions};

fn id(p: &str) -> String {
    format!("{p}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn key() -> Arc<BusAuth> {
    Arc::new(BusAuth::new(BusKey::from_bytes(vec![0x42; 32]).unwrap()))
}

fn client(addr: &BrokerAddr, name: &str) -> ClientOptions {
    let mut c = ClientOptions::new(vec![addr.clone()], id(name));
    c.auth = Some(key());
    c
}

/// `files` files of `size` bytes each, with distinct contents.
fn workspace(dir: &Path, files: usize, size: usize) {
    for i in 0..files {
        let path = dir.join(format!("d{}/f{i}.bin", i % 40));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut bytes = vec![0u8; size];
        let seed = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for (j, b) in bytes.iter_mut().enumerate() {
            *b = (seed >> (j % 56)) as u8 ^ j as u8;
        }
        std::fs::write(path, bytes).unwrap();
    }
}

fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / (1 << 20) as f64 / took.as_secs_f64()
}

fn plugins_dir() -> PathBuf {
    let root = xtask::workspace_root();
    let dir = root.join("target/test-plugins");
    if !dir.join("echo.wasm").is_file() {
        xtask::build_plugins(&root).expect("building the plugins");
    }
    dir
}

fn moto() -> Option<PathBuf> {
    let venv = std::env::var_os("TD_VENV").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/td-venv"));
    Some(venv.join("bin/moto_server")).filter(|p| p.is_file())
}

fn main() {
    let broker = EmbeddedBroker::start(&Default::default()).expect("embedded broker");
    let addr = broker.addr();
    let topics = Topics::new(&id("bench-blobs")).unwrap();
    let total_mb: usize = std::env::var("TAYLORDASH_BENCH_BLOB_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let files = 2000;
    let size = total_mb * (1 << 20) / files;
    let src = tempfile::tempdir().unwrap();
    workspace(src.path(), files, size);
    let scanner = Arc::new(Scanner::default());
    let started = Instant::now();
    let manifest = scanner.scan(src.path(), false).unwrap();
    let scan = started.elapsed();
    let bytes = manifest.total_bytes();
    let rescan = {
        let t = Instant::now();
        scanner.scan(src.path(), false).unwrap();
        t.elapsed()
    };
    println!("workspace: {files} files, {:.1} MiB; first scan {scan:.2?} ({:.0} MiB/s), rescan {rescan:.2?}", bytes as f64 / (1 << 20) as f64, mb_per_s(bytes, scan));

    // Over the bus.
    let holder = BlobExchange::start(ExchangeOptions::new(client(&addr, "orch-blobs"), topics.clone()), scanner.clone()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(cache_dir.path().to_path_buf(), 1 << 40).unwrap();
    let asker = BlobExchange::start(ExchangeOptions::new(client(&addr, "worker-blobs"), topics.clone()), Arc::new(cache.clone())).unwrap();
    let measure = |label: &str, fetch: &dyn Fn(&blobs::Entry) -> Result<Vec<u8>, blobs::BlobError>, cache: &BlobCache| {
        let dest = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let moved = blobs::materialise(&manifest, dest.path(), cache, |_, e| fetch(e)).unwrap();
        let took = t.elapsed();
        println!(
            "{label:<28} {took:>10.2?}  {:>8.1} MiB/s  (fetched {}, from cache {})",
            mb_per_s(bytes, took),
            moved.fetched,
            moved.from_cache
        );
        took
    };
    let bus_fetch = |e: &blobs::Entry| asker.fetch(holder.node(), &e.sha256, e.size);
    let bus_cold = measure("bus, cold cache", &bus_fetch, &cache);
    let bus_warm = measure("bus, warm cache", &bus_fetch, &cache);

    // Through S3 (moto).
    let mut s3_line = String::from("S3: SKIP (no moto_server; bash tests/toolset/moto_venv.sh)");
    if let Some(moto) = moto() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = Command::new(&moto).args(["-H", "127.0.0.1", "-p", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
        let python = moto.with_file_name("python");
        let made = Command::new(python)
            .arg("-c")
            .arg(format!("import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:{port}', aws_access_key_id='k', aws_secret_access_key='s', region_name='us-east-1').create_bucket(Bucket='bench')"))
            .status()
            .unwrap();
        assert!(made.success(), "bucket");
        let store = ArtifactStore::open(&StoreOptions {
            url: "s3://bench/blobs".into(),
            endpoint: Some(format!("http://127.0.0.1:{port}")),
            region: Some("us-east-1".into()),
            credentials: Some(("k".into(), "s".into())),
        });
        match store {
            Ok(store) => {
                let t = Instant::now();
                for (rel, e) in &manifest.files {
                    store.ensure(&e.sha256, || std::fs::read(src.path().join(rel)).map_err(|source| blobs::BlobError::Io { path: rel.into(), source })).unwrap();
                }
                let up = t.elapsed();
                println!("{:<28} {up:>10.2?}  {:>8.1} MiB/s", "S3 upload", mb_per_s(bytes, up));
                let s3_cache_dir = tempfile::tempdir().unwrap();
                let s3_cache = BlobCache::new(s3_cache_dir.path().to_path_buf(), 1 << 40).unwrap();
                let s3_fetch = |e: &blobs::Entry| store.get(&e.sha256);
                let cold = measure("S3, cold cache", &s3_fetch, &s3_cache);
                let warm = measure("S3, warm cache", &s3_fetch, &s3_cache);
                s3_line = format!("S3: cold {:.1} MiB/s, warm {:.1} MiB/s", mb_per_s(bytes, cold), mb_per_s(bytes, warm));
            }
            Err(e) => s3_line = format!("S3: SKIP ({e})"),
        }
        let _ = server.kill();
        let _ = server.wait();
    }

    // The round trip with a 50-file manifest and a warm cache, against paths.
    let ws = tempfile::tempdir().unwrap();
    workspace(ws.path(), 50, 4096);
    let sandbox = Arc::new(Sandbox::new(SandboxOptions::default()).unwrap());
    let inner: Arc<dyn Dispatch> = Arc::new(InProcess::new(sandbox, plugins_dir()));
    let round_trip = |ship: bool| -> Vec<Duration> {
        let topics = Topics::new(&id("bench-rt")).unwrap();
        let mut w = WorkerOptions::new(vec![addr.clone()], topics.clone());
        w.client.auth = Some(key());
        let worker_cache = tempfile::tempdir().unwrap();
        if ship {
            w.files = Some(RemoteFiles {
                cache: BlobCache::new(worker_cache.path().join("blobs"), 1 << 30).unwrap(),
                scratch: worker_cache.path().join("tasks"),
                store: None,
            });
        }
        let _worker = run_worker(w, inner.clone()).unwrap();
        let mut d = DispatchOptions::new(vec![addr.clone()], topics);
        d.client.auth = Some(key());
        d.ship_files = ship;
        let dispatch = MqttDispatch::connect(d).unwrap();
        let staging = tempfile::tempdir().unwrap();
        let mut times = Vec::new();
        for i in 0..220 {
            let task = Task {
                run_id: "bench".into(),
                task_id: format!("s/a/echo#{i}"),
                stage: "s".into(),
                agent: "a".into(),
                tool: "echo".into(),
                attempt: 1,
                input: "{}".into(),
                trace_id: "0af7651916cd43dd8448eb211c80319c".into(),
                span_id: "b7ad6b7169203331".into(),
                timeout: Duration::from_secs(10),
                workspace: ws.path().to_path_buf(),
                staging: staging.path().join(i.to_string()),
            };
            let t = Instant::now();
            let mut r = dispatch.run(&task).expect("round trip");
            if let Some(ack) = r.ack.take() {
                ack();
            }
            if i >= 20 {
                times.push(t.elapsed()); // the first 20 warm the cache and the component
            }
        }
        times.sort();
        times
    };
    let paths = round_trip(false);
    let manifest50 = round_trip(true);
    let p = |v: &[Duration], q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    println!("\n== summary (this machine, one run)");
    println!("bus: cold {:.1} MiB/s, warm {:.1} MiB/s ({:.0}× faster warm)", mb_per_s(bytes, bus_cold), mb_per_s(bytes, bus_warm), bus_cold.as_secs_f64() / bus_warm.as_secs_f64());
    println!("{s3_line}");
    println!(
        "round trip, paths (shared filesystem): p50 {:.2?} p95 {:.2?}\nround trip, 50-file manifest, warm cache: p50 {:.2?} p95 {:.2?}\nratio of p50: {:.2} (target ≤ 1.20)",
        p(&paths, 0.5),
        p(&paths, 0.95),
        p(&manifest50, 0.5),
        p(&manifest50, 0.95),
        p(&manifest50, 0.5).as_secs_f64() / p(&paths, 0.5).as_secs_f64()
    );
}
