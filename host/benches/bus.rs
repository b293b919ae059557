//! The cost of a task over the bus, against a bare MQTT request/response on
//! the same broker, in the same run:
//! - `bare request/response`: raw rumqttc v5 (sync client), QoS 1: publish a
//!   request with a response topic and correlation data; a responder
//!   publishes the reply; the requester receives it;
//! - `task round trip`: `MqttDispatch::run` of an `echo` task → a worker →
//!   sandbox invoke → result → the orchestrator's ack;
//! - `sandbox only`: the same task through `InProcess` (no bus), for scale;
//! - tasks/s with 2 workers (each one executor), many tasks in flight.
//!
//! On the embedded broker (rumqttd) and on Mosquitto (127.0.0.1:1883, or
//! `TAYLORDASH_BENCH_MOSQUITTO=mqtt://host:port`; skipped when unreachable).
//! Criterion reports its statistics; the summary at the end prints
//! p50/p95/p99 of each, the ratio of the round trip to the bare hop, and the
//! throughput.

use std::hint::black_box;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{Packet, PublishProperties};
use rumqttc::v5::{Client, Event, MqttOptions};
use taylordash::bus::{BrokerAddr, BusAuth, BusKey, DispatchOptions, EmbeddedBroker, MqttDispatch, Topics, WorkerOptions, run_worker};
use taylordash::dispatch::{Dispatch, InProcess, Task};
use taylordash::sandbox::{Sandbox, SandboxOptions};

const INPUT: &str = r#"{"task":"bench"}"#;

/// `target/test-plugins`, building the plugins when `echo` is not there yet.
fn plugins_dir() -> std::path::PathBuf {
    let root = xtask::workspace_root();
    let dir = root.join("target/test-plugins");
    if !dir.join("echo.wasm").is_file() {
        xtask::build_plugins(&root).expect("building the plugins");
    }
    dir
}

fn id(p: &str) -> String {
    format!("{p}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Raw rumqttc: a requester and a responder, auto acks, QoS 1. `split`:
/// each side publishes on a second connection, as `BusClient` does (with one
/// connection, a broker without TCP_NODELAY holds every reply behind its
/// PUBACK of the request until the requester's delayed ACK, ~40 ms).
struct Bare {
    client: Client,
    replies: std::sync::mpsc::Receiver<Bytes>,
    req_topic: String,
    reply_topic: String,
}

fn options(addr: &BrokerAddr, client_id: &str) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, addr.host.clone(), addr.port);
    o.set_keep_alive(Duration::from_secs(10));
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    o.set_network_options(net);
    o
}

/// A connection whose events are only drained (a publisher).
fn publisher(addr: &BrokerAddr, name: &str) -> Client {
    let (client, mut conn) = Client::new(options(addr, &id(name)), 64);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = ready_tx.send(());
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).expect("publisher connected");
    client
}

impl Bare {
    fn start(addr: &BrokerAddr, split: bool) -> Bare {
        let prefix = id("bench-bare");
        let req_topic = format!("{prefix}/req");
        let reply_topic = format!("{prefix}/reply");
        // Responder.
        let (responder, mut rconn) = Client::new(options(addr, &id("bare-resp")), 64);
        responder.subscribe(&req_topic, QoS::AtLeastOnce).unwrap();
        let reply_with = if split { publisher(addr, "bare-resp-pub") } else { responder.clone() };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for ev in rconn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let props = p.properties.clone().unwrap_or_default();
                        let Some(topic) = props.response_topic.clone() else { continue };
                        let reply = PublishProperties { correlation_data: props.correlation_data, ..Default::default() };
                        let _ = reply_with.try_publish_with_properties(topic, QoS::AtLeastOnce, false, p.payload, reply);
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("responder subscribed");
        // Requester.
        let (sub, mut conn) = Client::new(options(addr, &id("bare-req")), 64);
        sub.subscribe(&reply_topic, QoS::AtLeastOnce).unwrap();
        let client = if split { publisher(addr, "bare-req-pub") } else { sub.clone() };
        let (tx, replies) = std::sync::mpsc::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _keep = sub;
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p.payload).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("requester subscribed");
        Bare { client, replies, req_topic, reply_topic }
    }

    fn request(&self) {
        let props = PublishProperties {
            response_topic: Some(self.reply_topic.clone()),
            correlation_data: Some(Bytes::from_static(b"c")),
            ..Default::default()
        };
        self.client.publish_with_properties(self.req_topic.as_str(), QoS::AtLeastOnce, false, INPUT, props).unwrap();
        black_box(self.replies.recv_timeout(Duration::from_secs(10)).expect("a reply"));
    }
}

struct Rig {
    name: &'static str,
    bare: Bare,
    naive: Bare,
    dispatch: Arc<MqttDispatch>,
    _workers: Vec<taylordash::bus::Worker>,
    workspace: tempfile::TempDir,
}

fn task(ws: &std::path::Path) -> Task {
    Task {
        run_id: "run-bench".into(),
        task_id: "bench/a/echo#1".into(),
        stage: "bench".into(),
        agent: "a".into(),
        tool: "echo".into(),
        attempt: 1,
        input: INPUT.into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: "00f067aa0ba902b7".into(),
        timeout: Duration::from_secs(10),
        workspace: ws.to_path_buf(),
        staging: ws.join("out"),
    }
}

impl Rig {
    /// With `key`, every message is signed and checked (as `taylordash run` does).
    fn start(name: &'static str, addr: BrokerAddr, inner: Arc<dyn Dispatch>, workers: usize, key: Option<&BusKey>) -> Rig {
        let topics = Topics::new(&id("bench")).unwrap();
        let signer = || key.map(|k| Arc::new(BusAuth::new(k.clone())));
        let workers = (0..workers)
            .map(|_| {
                let mut w = WorkerOptions::new(vec![addr.clone()], topics.clone());
                w.client.auth = signer();
                run_worker(w, inner.clone()).expect("worker")
            })
            .collect();
        let mut d = DispatchOptions::new(vec![addr.clone()], topics);
        d.client.auth = signer();
        d.client.session_expiry = Duration::from_secs(30);
        let dispatch = Arc::new(MqttDispatch::connect(d).expect("dispatcher"));
        let workspace = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(workspace.path().join("out")).unwrap();
        Rig { name, bare: Bare::start(&addr, true), naive: Bare::start(&addr, false), dispatch, _workers: workers, workspace }
    }

    fn round_trip(&self) {
        let mut r = self.dispatch.run(&task(self.workspace.path())).expect("echo over the bus");
        if let Some(ack) = r.ack.take() {
            ack();
        }
        black_box(r.output);
    }
}

struct Percentiles {
    p50: Duration,
    p95: Duration,
    p99: Duration,
}

fn percentiles(mut run: impl FnMut(), iters: usize) -> Percentiles {
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
    Percentiles { p50: samples[iters / 2], p95: samples[iters * 95 / 100], p99: samples[iters * 99 / 100] }
}

/// Tasks per second through `dispatch` with `in_flight` callers, for `secs`.
fn throughput(dispatch: &Arc<MqttDispatch>, ws: &std::path::Path, in_flight: usize, secs: f64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let threads: Vec<_> = (0..in_flight)
        .map(|_| {
            let (d, done, t) = (dispatch.clone(), done.clone(), task(ws));
            std::thread::spawn(move || {
                while Instant::now() < until {
                    let mut r = d.run(&t).expect("task");
                    if let Some(ack) = r.ack.take() {
                        ack();
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn mosquitto() -> Option<BrokerAddr> {
    let url = std::env::var("TAYLORDASH_BENCH_MOSQUITTO").unwrap_or_else(|_| "mqtt://127.0.0.1:1883".into());
    let addr = BrokerAddr::parse(&url).ok()?;
    let sock: SocketAddr = format!("{}:{}", addr.host, addr.port).parse().ok()?;
    TcpStream::connect_timeout(&sock, Duration::from_millis(300)).ok().map(|_| addr)
}

fn main() {
    let dir = plugins_dir();
    let cache = tempfile::tempdir().unwrap();
    let sandbox = Arc::new(Sandbox::new(SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..SandboxOptions::default() }).unwrap());
    let inner: Arc<dyn Dispatch> = Arc::new(InProcess::new(sandbox, dir));
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ws.path().join("out")).unwrap();
    inner.run(&task(ws.path())).expect("echo in-process");

    let embedded = EmbeddedBroker::start(&Default::default()).expect("embedded broker");
    // `TAYLORDASH_BENCH_THROUGHPUT_ONLY=<secs>`: only the tasks/s figure (for profiling).
    if let Some(secs) = std::env::var("TAYLORDASH_BENCH_THROUGHPUT_ONLY").ok().and_then(|s| s.parse::<f64>().ok()) {
        for (name, addr) in std::iter::once(("embedded (rumqttd)", embedded.addr())).chain(mosquitto().map(|a| ("mosquitto", a))) {
            let rig = Rig::start(name, addr, inner.clone(), 2, None);
            let in_flight = std::env::var("TAYLORDASH_BENCH_IN_FLIGHT").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
            println!("{name}: {:.0} tasks/s with 2 workers ({in_flight} tasks in flight)", throughput(&rig.dispatch, rig.workspace.path(), in_flight, secs));
        }
        return;
    }
    let key = BusKey::generate().expect("a bus key");
    let mut rigs = vec![
        Rig::start("embedded (rumqttd)", embedded.addr(), inner.clone(), 1, None),
        Rig::start("embedded (rumqttd), signed", embedded.addr(), inner.clone(), 1, Some(&key)),
    ];
    match mosquitto() {
        Some(addr) => rigs.push(Rig::start("mosquitto", addr, inner.clone(), 1, None)),
        None => eprintln!("mosquitto not reachable: measuring the embedded broker only"),
    }

    let mut c = Criterion::default().configure_from_args().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    c.bench_function("sandbox only (InProcess echo)", |b| {
        b.iter(|| black_box(inner.run(&task(ws.path())).expect("echo").output))
    });
    for rig in &rigs {
        c.bench_function(&format!("{}: bare MQTT v5 QoS1 request/response", rig.name), |b| b.iter(|| rig.bare.request()));
        c.bench_function(&format!("{}: task round trip (dispatch → worker → echo → result → ack)", rig.name), |b| {
            b.iter(|| rig.round_trip())
        });
    }

    let sandbox_only = percentiles(
        || {
            black_box(inner.run(&task(ws.path())).expect("echo").output);
        },
        5_000,
    );
    let mut rows = vec![("sandbox only (InProcess echo, no bus)".to_string(), sandbox_only)];
    let mut ratios = Vec::new();
    for rig in &rigs {
        let naive = percentiles(|| rig.naive.request(), 40);
        let bare = percentiles(|| rig.bare.request(), 3_000);
        let trip = percentiles(|| rig.round_trip(), 3_000);
        ratios.push((rig.name, trip.p50.as_secs_f64() / bare.p50.as_secs_f64(), trip.p95.as_secs_f64() / bare.p95.as_secs_f64(), trip.p99.as_secs_f64() / bare.p99.as_secs_f64()));
        rows.push((format!("{}: bare req/resp, one connection each", rig.name), naive));
        rows.push((format!("{}: bare req/resp, publishing connection apart", rig.name), bare));
        rows.push((format!("{}: task round trip", rig.name), trip));
    }
    // Throughput: a fresh pair of workers per broker.
    let mut tput = Vec::new();
    for (name, addr) in std::iter::once(("embedded (rumqttd)", embedded.addr())).chain(mosquitto().map(|a| ("mosquitto", a))) {
        let rig = Rig::start(name, addr, inner.clone(), 2, None);
        let _ = throughput(&rig.dispatch, rig.workspace.path(), 32, 0.5);
        let per_sec = throughput(&rig.dispatch, rig.workspace.path(), 32, 3.0);
        tput.push((name, per_sec));
    }

    println!("\nsummary (echo plugin, {} byte input; loopback; {} cores)", INPUT.len(), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0));
    println!("{:<64} {:>11} {:>11} {:>11}", "", "p50", "p95", "p99");
    for (name, p) in &rows {
        println!("{name:<64} {:>11.1?} {:>11.1?} {:>11.1?}", p.p50, p.p95, p.p99);
    }
    if let [(_, plain), (_, signed)] = &rows[..].iter().filter(|(n, _)| n.starts_with("embedded") && n.ends_with("task round trip")).collect::<Vec<_>>()[..] {
        println!("signing (HMAC-SHA256 both ways): signed / unsigned task round trip p50 {:.2}x", signed.p50.as_secs_f64() / plain.p50.as_secs_f64());
    }
    for (name, r50, r95, r99) in &ratios {
        println!("{name}: task round trip / bare req/resp (publishing connection apart): p50 {r50:.2}x  p95 {r95:.2}x  p99 {r99:.2}x");
    }
    for (name, per_sec) in &tput {
        println!("{name}: {per_sec:.0} tasks/s with 2 workers (32 tasks in flight)");
    }
    println!("targets: task round trip p95 <= 2 ms and <= 2x the bare request/response; >= 10,000 tasks/s");
    c.final_summary();
}
