//! What observability costs, measured against no observability in the same
//! run: the full sandbox call (`InProcess` running the `echo` plugin) and the
//! task round trip over the embedded broker (dispatch → worker → call →
//! result → ack), each
//! - bare: no metrics, no exporter (what every run without flags pays);
//! - metrics: the worker's live Prometheus counters (`--metrics`);
//! - metrics + OTLP: also a call span per task, exported over OTLP/HTTP to a
//!   receiver on loopback (an axum route answering 200).
//!
//! Targets (issue "Observability"): ≤ 5% with metrics, ≤ 15% with OTLP. The
//! configurations are measured in interleaved rounds (so drift hits all
//! alike); the summary prints each p50/p95 and its ratio to bare.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use taylordash::bus::{DispatchOptions, EmbeddedBroker, MqttDispatch, Topics, WorkerOptions, run_worker};
use taylordash::dispatch::{Dispatch, InProcess, Task};
use taylordash::observe::metrics::Live;
use taylordash::observe::trace::{Otlp, OtlpSettings};
use taylordash::sandbox::{Sandbox, SandboxOptions};

const ROUNDS: usize = 5;
const CALLS: usize = 400;

fn task(ws: &std::path::Path) -> Task {
    Task {
        run_id: "run-bench".into(),
        task_id: "bench/a/echo#1".into(),
        stage: "bench".into(),
        agent: "a".into(),
        tool: "echo".into(),
        attempt: 1,
        input: r#"{"message":"bench"}"#.into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        timeout: Duration::from_secs(10),
        workspace: ws.to_path_buf(),
        staging: ws.join("out"),
    }
}

/// A loopback OTLP receiver that accepts every export.
fn receiver() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum::Router::new().route("/v1/traces", axum::routing::post(|| async { axum::http::StatusCode::OK }));
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{addr}")
}

fn p50_p95(mut run: impl FnMut(), calls: usize) -> (Duration, Duration) {
    let mut samples: Vec<Duration> = (0..calls)
        .map(|_| {
            let t = Instant::now();
            run();
            t.elapsed()
        })
        .collect();
    samples.sort();
    (samples[calls / 2], samples[calls * 95 / 100])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let root = xtask::workspace_root();
    let dir = root.join("target/test-plugins");
    if !dir.join("echo.wasm").is_file() {
        xtask::build_plugins(&root).expect("building the plugins");
    }
    let cache = tempfile::tempdir().unwrap();
    let sandbox = Arc::new(Sandbox::new(SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..SandboxOptions::default() }).unwrap());
    let otlp = Arc::new(Otlp::start(&OtlpSettings { traces_url: format!("{}/v1/traces", receiver()), service: "bench".into() }).unwrap());
    let configs: Vec<(&str, Arc<dyn Dispatch>)> = vec![
        ("bare", Arc::new(InProcess::new(sandbox.clone(), dir.clone()))),
        ("metrics", Arc::new(InProcess::new(sandbox.clone(), dir.clone()).with_metrics(Arc::new(Live::default())))),
        (
            "metrics + OTLP",
            Arc::new(InProcess::new(sandbox.clone(), dir.clone()).with_metrics(Arc::new(Live::default())).with_tracing(Some(otlp.clone()))),
        ),
    ];
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ws.path().join("out")).unwrap();
    for (_, d) in &configs {
        d.run(&task(ws.path())).expect("echo");
    }

    // The round trip: one worker per configuration on one embedded broker.
    let broker = EmbeddedBroker::start(&Default::default()).expect("embedded broker");
    let mut trips = Vec::new();
    for (n, (_, inner)) in configs.iter().enumerate() {
        let topics = Topics::new(&format!("bench-observe-{n}-{}", std::process::id())).unwrap();
        let worker = run_worker(WorkerOptions::new(vec![broker.addr()], topics.clone()), inner.clone()).expect("worker");
        let dispatch = MqttDispatch::connect(DispatchOptions::new(vec![broker.addr()], topics)).expect("dispatcher");
        trips.push((worker, dispatch));
    }
    let trip = |dispatch: &MqttDispatch| {
        let mut r = dispatch.run(&task(ws.path())).expect("echo over the bus");
        if let Some(ack) = r.ack.take() {
            ack();
        }
        black_box(r.output);
    };
    for (_, d) in &trips {
        for _ in 0..50 {
            trip(d);
        }
    }

    let mut call: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); configs.len()];
    let mut round: Vec<Vec<(Duration, Duration)>> = vec![Vec::new(); configs.len()];
    for _ in 0..ROUNDS {
        for (i, (_, d)) in configs.iter().enumerate() {
            call[i].push(p50_p95(
                || {
                    black_box(d.run(&task(ws.path())).expect("echo").output);
                },
                CALLS,
            ));
        }
        for (i, (_, d)) in trips.iter().enumerate() {
            round[i].push(p50_p95(|| trip(d), CALLS));
        }
    }
    otlp.shutdown();

    println!("\nsummary: observability overhead (echo plugin; {ROUNDS} interleaved rounds of {CALLS}; median of the rounds' percentiles)");
    println!("{:<44} {:>10} {:>10} {:>9} {:>9}", "", "p50", "p95", "p50/bare", "p95/bare");
    for (what, table) in [("sandbox call", &call), ("task round trip (embedded broker)", &round)] {
        let p50s: Vec<Duration> = table.iter().map(|r| median(r.iter().map(|x| x.0).collect())).collect();
        let p95s: Vec<Duration> = table.iter().map(|r| median(r.iter().map(|x| x.1).collect())).collect();
        for (i, (name, _)) in configs.iter().enumerate() {
            println!(
                "{:<44} {:>8.0}µs {:>8.0}µs {:>9.3} {:>9.3}",
                format!("{what}: {name}"),
                p50s[i].as_secs_f64() * 1e6,
                p95s[i].as_secs_f64() * 1e6,
                p50s[i].as_secs_f64() / p50s[0].as_secs_f64(),
                p95s[i].as_secs_f64() / p95s[0].as_secs_f64()
            );
        }
    }
    println!("targets: metrics ≤ 1.05× bare, metrics + OTLP ≤ 1.15× bare");
    drop(trips);
}
