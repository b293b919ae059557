//! The MQTT bus against real brokers — the embedded rumqttd and Mosquitto
//! (the machine's on 127.0.0.1:1883, else one started on a free port) — and
//! real components (`echo`, `probe`) in the sandbox:
//! - a task round trip through a worker;
//! - two workers share the tasks;
//! - a duplicate task message executes once;
//! - a worker killed with SIGKILL mid-task (a child process): the task is
//!   redelivered after its deadline and completes once;
//! - a whole pipeline over the bus: every message of the run shares its
//!   trace_id (envelope and `traceparent`), results nest under their task;
//! - malformed and oversized messages are logged and skipped;
//! - with a bus key, replayed, forged, unsigned, other-key and expired tasks
//!   are refused by the worker and such results by the orchestrator, each
//!   an audit event.
//!
//! Every test uses its own topic prefix, so they run in parallel on one broker.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use taylordash::bus::envelope::{self, ResultEnvelope, ResultWire, TaskEnvelope, TaskWire, Wire, MAX_MESSAGE};
use taylordash::bus::{
    BrokerAddr, BusAuth, BusClient, BusKey, ClientOptions, DispatchOptions, EmbeddedBroker, MqttDispatch, Topics, WorkerOptions,
    run_worker,
};
use taylordash::bus::auth::AUTH_PROPERTY;
use taylordash_protocol::bus::ResultPayload;
use taylordash::audit::AuditLog;
use taylordash::bus::client::Recv;
use taylordash::dispatch::{Dispatch, InProcess, Task, TaskError, TaskResult};
use taylordash::orchestrator::{Orchestrator, RunOptions, RunStatus};
use taylordash::pipeline::{self, Context};
use taylordash::store::Journal;

// ---------------------------------------------------------------- brokers

/// Logs of every test in this binary, so tests can see what was logged.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(std::env::var("TD_TEST_LOG").unwrap_or_else(|_| "warn,taylordash=info".into())))
            .with_ansi(false)
            .with_writer(move || LogSink(sink.clone()))
            .try_init();
        buf
    })
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        if std::env::var_os("TD_TEST_LOG").is_some() {
            let _ = std::io::stderr().write_all(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Embedded,
    Mosquitto,
}

/// The embedded broker, one per test binary (rumqttd cannot be stopped).
/// Tests share it, each under its own prefix (and so its own worker group).
fn embedded() -> BrokerAddr {
    static B: OnceLock<EmbeddedBroker> = OnceLock::new();
    B.get_or_init(|| EmbeddedBroker::start(&Default::default()).expect("embedded broker")).addr()
}

use common::{OwnMosquitto, Proc, free_port};

/// The machine's Mosquitto on 1883 when it answers, else one started here
/// on a free port (kept for the whole test binary).
fn mosquitto() -> BrokerAddr {
    static M: OnceLock<(BrokerAddr, Mutex<Option<OwnMosquitto>>)> = OnceLock::new();
    M.get_or_init(|| {
        let local: SocketAddr = "127.0.0.1:1883".parse().unwrap();
        if TcpStream::connect_timeout(&local, Duration::from_millis(300)).is_ok() {
            return (BrokerAddr::tcp("127.0.0.1", 1883), Mutex::new(None));
        }
        let port = free_port();
        (BrokerAddr::tcp("127.0.0.1", port), Mutex::new(Some(OwnMosquitto::start(port))))
    })
    .0
    .clone()
}

fn broker(kind: Kind) -> BrokerAddr {
    logs();
    match kind {
        Kind::Embedded => embedded(),
        Kind::Mosquitto => mosquitto(),
    }
}

fn prefix(test: &str) -> Topics {
    Topics::new(&format!("td-test/{test}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])).unwrap()
}

// ---------------------------------------------------------------- rig

fn plugins_dir() -> PathBuf {
    common::test_plugin("echo").parent().unwrap().to_path_buf()
}

/// A sandbox-backed dispatcher over the test plugins (echo, probe).
fn in_process() -> (Arc<InProcess>, tempfile::TempDir) {
    let (sandbox, cache) = common::sandbox();
    (Arc::new(InProcess::new(Arc::new(sandbox), plugins_dir())), cache)
}

fn worker_options(addr: &BrokerAddr, topics: &Topics) -> WorkerOptions {
    let mut w = WorkerOptions::new(vec![addr.clone()], topics.clone());
    w.client.session_expiry = Duration::from_secs(2);
    w
}

fn dispatcher(addr: &BrokerAddr, topics: &Topics, grace: Duration) -> MqttDispatch {
    let mut d = DispatchOptions::new(vec![addr.clone()], topics.clone());
    d.client.session_expiry = Duration::from_secs(10);
    d.grace = grace;
    MqttDispatch::connect(d).expect("dispatcher connects")
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn task(id: &str, tool: &str, input: Value, workspace: &Path, timeout: Duration) -> Task {
    let staging = workspace.join(".staging").join(id.replace(['/', '#'], "_"));
    std::fs::create_dir_all(&staging).unwrap();
    Task {
        run_id: "run-bus-test".into(),
        task_id: id.into(),
        stage: "s".into(),
        agent: input["task"]["agent"].as_str().unwrap_or("a").to_string(),
        tool: tool.into(),
        attempt: 1,
        input: input.to_string(),
        trace_id: TRACE.into(),
        span_id: envelope::new_span_id(),
        timeout,
        workspace: workspace.to_path_buf(),
        staging,
    }
}

/// A raw client for poking at the bus, subscribed to `filters`.
fn raw_client(addr: &BrokerAddr, filters: Vec<String>) -> BusClient {
    let mut o = ClientOptions::new(vec![addr.clone()], format!("td-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
    o.session_expiry = Duration::from_secs(5);
    o.subscriptions = filters;
    let c = BusClient::connect(o).unwrap();
    c.wait_ready(Duration::from_secs(10)).unwrap();
    c
}

/// (topic, payload, traceparent) of each message seen.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>, Option<String>)>>>;

/// Collect every message on `filter` until dropped.
struct Monitor {
    seen: Seen,
    _thread: std::thread::JoinHandle<()>,
    client: Arc<BusClient>,
}

impl Monitor {
    fn start(addr: &BrokerAddr, filter: String) -> Self {
        let client = Arc::new(raw_client(addr, vec![filter]));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (client.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while let Some(d) = c.recv() {
                s.lock().unwrap().push((d.topic().into_owned(), d.payload().to_vec(), d.user_property("traceparent").map(str::to_string)));
                c.ack(&d);
            }
        });
        Monitor { seen, _thread: thread, client }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.client.shutdown();
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------- tests

fn round_trip(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("round-trip");
    let (inner, _cache) = in_process();
    let worker = run_worker(worker_options(&addr, &topics), inner).unwrap();
    let dispatch = dispatcher(&addr, &topics, Duration::from_secs(2));
    let ws = tempfile::tempdir().unwrap();
    let input = json!({ "hello": "bus", "n": [1, 2, 3] });
    let started = Instant::now();
    let mut res = dispatch.run(&task("s/a/echo#1", "echo", input.clone(), ws.path(), Duration::from_secs(10))).expect("echo over the bus");
    let output: Value = serde_json::from_str(&res.output).unwrap();
    assert_eq!(output, input, "echo returns its input");
    let ack = res.ack.take().expect("a bus result carries its ack");
    ack();
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < Duration::from_secs(10));

    // A failing task comes back as the same TaskError (probe fails on request).
    std::fs::write(ws.path().join("probe.json"), json!({ "agents": { "bad": { "fail": "retryable" } } }).to_string()).unwrap();
    let err = dispatch
        .run(&task("s/bad/probe#1", "probe", json!({ "task": { "agent": "bad" } }), ws.path(), Duration::from_secs(10)))
        .err()
        .expect("probe asked to fail");
    assert!(err.retryable, "{err:?}");
    assert!(err.message.contains("asked to fail"), "{}", err.message);
    // And the same plugin missing on the worker is the sandbox's error, exit 2.
    let err = dispatch.run(&task("s/a/nope#1", "nope", json!({}), ws.path(), Duration::from_secs(5))).err().unwrap();
    assert_eq!(err.exit_code, 2, "{err:?}");
    // A message may not name a plugin by path, nor use relative paths.
    let by_path = common::test_plugin("echo").display().to_string();
    let err = dispatch.run(&task("s/a/x#1", &by_path, json!({}), ws.path(), Duration::from_secs(5))).err().unwrap();
    assert_eq!(err.exit_code, 3, "{err:?}");
    assert!(err.message.contains("is not a plugin name"), "{}", err.message);
    let mut rel = task("s/a/echo#2", "echo", json!({}), ws.path(), Duration::from_secs(5));
    rel.workspace = "../elsewhere".into();
    let err = dispatch.run(&rel).err().unwrap();
    assert!(err.message.contains("must be absolute"), "{}", err.message);
    worker.stop();
}

fn two_workers_share(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("share");
    let (inner, _cache) = in_process();
    let w1 = run_worker(worker_options(&addr, &topics), inner.clone()).unwrap();
    let w2 = run_worker(worker_options(&addr, &topics), inner).unwrap();
    let dispatch = Arc::new(dispatcher(&addr, &topics, Duration::from_secs(2)));
    let ws = tempfile::tempdir().unwrap();
    let n = 40;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (d, ws) = (dispatch.clone(), ws.path().to_path_buf());
            std::thread::spawn(move || {
                for i in 0..n / 4 {
                    let id = format!("s/a/echo#{t}-{i}");
                    let mut r = d.run(&task(&id, "echo", json!({ "i": i, "t": t }), &ws, Duration::from_secs(10))).expect("task");
                    assert_eq!(serde_json::from_str::<Value>(&r.output).unwrap(), json!({ "i": i, "t": t }));
                    (r.ack.take().unwrap())();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // A worker counts a task after acking it, just after the result left.
    let executed = || (w1.stats().executed.load(Ordering::SeqCst), w2.stats().executed.load(Ordering::SeqCst));
    wait_until("the workers to count their tasks", Duration::from_secs(5), || executed().0 + executed().1 >= n as u64);
    std::thread::sleep(Duration::from_millis(200));
    let (a, b) = executed();
    assert_eq!(a + b, n as u64, "every task ran exactly once: {a} + {b}");
    assert!(a > 0 && b > 0, "both workers took tasks: {a} and {b}");
}

/// The next result on `me`'s subscription, and how many claims came first.
fn next_result(me: &BusClient, timeout: Duration) -> (taylordash::bus::Delivery, usize) {
    let mut claims = 0;
    loop {
        match me.recv_timeout(timeout) {
            Recv::Message(d) => match ResultEnvelope::decode(d.payload(), MAX_MESSAGE).map(|r| r.payload) {
                Ok(ResultPayload::Claimed { .. }) => claims += 1,
                _ => return (d, claims),
            },
            other => panic!("no result: {other:?}"),
        }
    }
}

fn duplicate_executes_once(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("dup");
    let (inner, _cache) = in_process();
    // Two executors, so the second copy arrives while the first runs.
    let mut wo = worker_options(&addr, &topics);
    wo.concurrency = 2;
    let worker = run_worker(wo, inner).unwrap();
    let reply = topics.results_for("tester").unwrap();
    let me = raw_client(&addr, vec![reply.clone()]);
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("probe.json"), json!({ "agents": { "slow": { "sleep_ms": 300 } } }).to_string()).unwrap();
    let t = task("s/slow/probe#1", "probe", json!({ "task": { "agent": "slow" } }), ws.path(), Duration::from_secs(10));
    let env = TaskEnvelope::for_task(&t, "dup-msg-1", 1, taylordash::bus::now_ms() + 20_000);
    let send = || {
        let props = env.properties(Some(reply.clone()), Some(Bytes::from_static(b"dup-msg-1")), Some(Duration::from_secs(20)));
        me.publish(&topics.assign(), env.encode(MAX_MESSAGE).unwrap(), props).unwrap();
    };
    // Two copies at once (the second finds the first running), then one after it finished.
    send();
    send();
    let (first, claims) = next_result(&me, Duration::from_secs(10));
    assert_eq!(claims, 1, "the worker claimed the task once, as it took it");
    me.ack(&first);
    send();
    let (second, _) = next_result(&me, Duration::from_secs(10));
    me.ack(&second);
    let (r1, r2) = (
        ResultEnvelope::decode(first.payload(), MAX_MESSAGE).unwrap(),
        ResultEnvelope::decode(second.payload(), MAX_MESSAGE).unwrap(),
    );
    assert_eq!(r1.payload, r2.payload, "the duplicate is answered with the same result");
    assert_eq!(first.correlation().map(|b| b.as_ref()), Some(&b"dup-msg-1"[..]));
    assert!(matches!(me.recv_timeout(Duration::from_millis(500)), Recv::Timeout), "no third result (nor claim)");
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1, "executed once");
    assert_eq!(worker.stats().duplicates.load(Ordering::SeqCst), 2);
}

fn malformed_is_logged_and_skipped(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("malformed");
    let (inner, _cache) = in_process();
    let mut wo = worker_options(&addr, &topics);
    wo.max_message = 64 << 10;
    let worker = run_worker(wo, inner).unwrap();
    let dispatch = dispatcher(&addr, &topics, Duration::from_secs(2));
    let reply = topics.results_for("tester").unwrap();
    let me = raw_client(&addr, vec![reply.clone()]);
    let with_reply = |corr: &'static [u8]| taylordash::bus::envelope::Envelope {
        msg_id: "x".to_string(),
        run_id: String::new(),
        task_id: String::new(),
        agent_id: String::new(),
        tool: String::new(),
        attempt: 0,
        seq: 1,
        trace_id: String::new(),
        span_id: String::new(),
        parent_span_id: None,
        deadline: 0,
        payload: (),
    }
    .properties(Some(reply.clone()), Some(Bytes::from_static(corr)), None);
    // Garbage with no response topic; garbage that names one; a valid-JSON
    // envelope missing fields; an oversized one; garbage to the dispatcher.
    me.publish(&topics.assign(), b"\xff\xfe not json".to_vec(), Default::default()).unwrap();
    me.publish(&topics.assign(), b"{\"msg_id\":".to_vec(), with_reply(b"bad-1")).unwrap();
    me.publish(&topics.assign(), br#"{"msg_id":"m","seq":1}"#.to_vec(), with_reply(b"bad-2")).unwrap();
    me.publish(&topics.assign(), vec![b' '; 100 << 10], with_reply(b"bad-3")).unwrap();
    me.publish(&topics.results_for(dispatch.bus().client_id()).unwrap(), b"garbage result".to_vec(), Default::default()).unwrap();
    // The rejections that could be answered are, with a non-retryable error.
    let mut answered = Vec::new();
    for _ in 0..3 {
        match me.recv_timeout(Duration::from_secs(10)) {
            Recv::Message(d) => {
                let r = ResultEnvelope::decode(d.payload(), MAX_MESSAGE).unwrap();
                let err = r.payload.into_outcome().err().expect("a rejection is an error");
                assert!(!err.retryable);
                answered.push((String::from_utf8_lossy(d.correlation().unwrap()).into_owned(), err.message));
                me.ack(&d);
            }
            other => panic!("rejection not answered: {other:?}"),
        }
    }
    answered.sort();
    assert!(answered[0].1.contains("malformed envelope"), "{answered:?}");
    assert!(answered[1].1.contains("malformed envelope"), "{answered:?}");
    assert!(answered[2].1.contains("exceeds the limit"), "{answered:?}");
    // Still working, both sides.
    let ws = tempfile::tempdir().unwrap();
    let mut r = dispatch.run(&task("s/a/echo#1", "echo", json!({ "still": "alive" }), ws.path(), Duration::from_secs(10))).unwrap();
    (r.ack.take().unwrap())();
    assert_eq!(worker.stats().rejected.load(Ordering::SeqCst), 4);
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1);
    let logs = logged();
    let prefix = topics.assign();
    let rejected: Vec<&str> = logs.lines().filter(|l| l.contains("task message rejected") && l.contains(&prefix)).collect();
    assert_eq!(rejected.len(), 4, "each rejection logged with its reason:\n{logs}");
    assert!(rejected.iter().any(|l| l.contains("exceeds the limit of 65536 bytes")), "{rejected:?}");
    assert!(
        logs.lines().any(|l| l.contains("result message rejected") && l.contains(dispatch.bus().client_id())),
        "the dispatcher logs the bad result:\n{logs}"
    );
}

/// The next message on `topic` that `tap` sees (acked).
fn next_on(tap: &BusClient, topic: &str) -> taylordash::bus::Delivery {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tap.recv_timeout(left) {
            Recv::Message(d) => {
                tap.ack(&d);
                if d.topic() == topic {
                    return d;
                }
            }
            other => panic!("nothing on {topic}: {other:?}"),
        }
    }
}

/// Signed buses: a task or result is accepted once, from a holder of the
/// key, before it expires; every other copy is refused and audited.
fn forged_and_replayed_are_refused(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("auth");
    let key = BusKey::from_bytes(vec![42; 32]).unwrap();
    let signer = || Some(Arc::new(BusAuth::new(key.clone())));
    let audit_dir = tempfile::tempdir().unwrap();
    let audit = AuditLog::new(audit_dir.path().join("audit.jsonl"));
    let tap = raw_client(&addr, vec![topics.all()]);
    let (inner, _cache) = in_process();
    let mut wo = worker_options(&addr, &topics);
    wo.client.auth = signer();
    wo.audit = Some(audit.clone());
    let worker = run_worker(wo, inner).unwrap();
    let mut d = DispatchOptions::new(vec![addr.clone()], topics.clone());
    d.client.session_expiry = Duration::from_secs(10);
    d.client.auth = signer();
    d.audit = Some(audit.clone());
    d.grace = Duration::from_millis(500);
    d.max_deliveries = 1;
    let dispatch = MqttDispatch::connect(d).unwrap();
    let results = topics.results_for(dispatch.bus().client_id()).unwrap();
    let ws = tempfile::tempdir().unwrap();

    // A signed task runs; the tap keeps it and its result as they travelled.
    let mut r = dispatch.run(&task("s/a/echo#1", "echo", json!({ "n": 1 }), ws.path(), Duration::from_secs(10))).expect("signed round trip");
    (r.ack.take().unwrap())();
    let task_msg = next_on(&tap, &topics.assign());
    let result_msg = next_on(&tap, &results);
    assert!(task_msg.user_property(AUTH_PROPERTY).is_some_and(|t| t.starts_with("v1;key=")), "tasks carry a tag");
    assert!(result_msg.user_property(AUTH_PROPERTY).is_some(), "results carry a tag");

    let me = raw_client(&addr, Vec::new()); // publishes exactly what it is given
    let props = task_msg.properties().unwrap().clone();
    // 1. The same task again, byte for byte.
    me.publish(&topics.assign(), task_msg.payload().to_vec(), props.clone()).unwrap();
    // 2. Its input changed under the same tag.
    let mut altered: Value = serde_json::from_slice(task_msg.payload()).unwrap();
    altered["payload"]["input"] = json!(r#"{"n":666}"#.to_string());
    me.publish(&topics.assign(), serde_json::to_vec(&altered).unwrap(), props.clone()).unwrap();
    // 3. No tag at all; 4. another key's; 5. the right key, expired a minute ago.
    let mut unsigned = props.clone();
    unsigned.user_properties.retain(|(k, _)| k != AUTH_PROPERTY);
    me.publish(&topics.assign(), task_msg.payload().to_vec(), unsigned.clone()).unwrap();
    let mut other = unsigned.clone();
    BusAuth::new(BusKey::from_bytes(vec![7; 32]).unwrap()).sign(&topics.assign(), &mut other, task_msg.payload(), taylordash::bus::now_ms() + 60_000);
    me.publish(&topics.assign(), task_msg.payload().to_vec(), other).unwrap();
    let mut stale = unsigned.clone();
    BusAuth::new(key.clone()).sign(&topics.assign(), &mut stale, task_msg.payload(), taylordash::bus::now_ms() - 60_000);
    me.publish(&topics.assign(), task_msg.payload().to_vec(), stale).unwrap();
    wait_until("the worker to refuse five tasks", Duration::from_secs(10), || worker.stats().refused.load(Ordering::SeqCst) == 5);
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1, "nothing refused ran");

    // The result again, and a forged one, to the dispatcher.
    let rprops = result_msg.properties().unwrap().clone();
    me.publish(&results, result_msg.payload().to_vec(), rprops.clone()).unwrap();
    me.publish(&results, result_msg.payload().to_vec().into_iter().rev().collect(), rprops).unwrap();

    // A forged result cannot complete a waiting task: with the worker gone,
    // an answer without the key is refused and the task dead-letters.
    worker.stop();
    let waiting = {
        let t = task("s/a/echo#2", "echo", json!({ "n": 2 }), ws.path(), Duration::from_millis(1500));
        let dispatch = Arc::new(dispatch);
        let d = dispatch.clone();
        (std::thread::spawn(move || d.run(&t)), dispatch)
    };
    let pending = next_on(&tap, &topics.assign());
    let forged = ResultEnvelope::decode(result_msg.payload(), MAX_MESSAGE).unwrap();
    let asked = TaskEnvelope::decode(pending.payload(), MAX_MESSAGE).unwrap();
    let mut forged = forged;
    (forged.msg_id, forged.task_id, forged.seq) = (asked.msg_id.clone(), asked.task_id.clone(), asked.seq);
    let reply = taylordash::bus::envelope::Envelope::properties(&forged, None, pending.correlation().cloned(), None);
    me.publish(pending.response_topic().unwrap(), forged.encode(MAX_MESSAGE).unwrap(), reply).unwrap();
    let err = waiting.0.join().unwrap().err().expect("a forged result does not complete the task");
    assert!(err.message.contains("no worker finished"), "{}", err.message);

    let events = audit.read().unwrap();
    let kinds = |c: &str| events.iter().filter(|e| e.capability == c && e.decision == "deny").count();
    assert_eq!(
        (kinds("bus:replayed"), kinds("bus:forged"), kinds("bus:unsigned"), kinds("bus:expired")),
        (2, 3, 2, 1),
        "replayed: task + result; forged: altered task, other key, reversed result; unsigned: task + the forged answer:\n{events:#?}"
    );
    let replay = events.iter().find(|e| e.capability == "bus:replayed").unwrap();
    assert_eq!((replay.run_id.as_str(), replay.trace_id.as_str(), replay.plugin.as_str()), ("run-bus-test", TRACE, "echo"));
    assert!(replay.detail.starts_with(&format!("task on {} refused: replayed: nonce ", topics.assign())), "{}", replay.detail);
}

/// A pipeline over the bus (one worker, zero in-process execution): every
/// message of the run carries the run's trace id, in the envelope and in
/// `traceparent`, and each result's span nests under its task's.
fn one_trace_per_run(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("trace");
    let monitor = Monitor::start(&addr, topics.all());
    let (inner, _cache) = in_process();
    let _worker = run_worker(worker_options(&addr, &topics), inner).unwrap();
    let dispatch = dispatcher(&addr, &topics, Duration::from_secs(2));
    let ws = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("seed.json"), "{}").unwrap();
    std::fs::write(
        ws.path().join("probe.json"),
        json!({ "agents": { "writer": { "files": { "out.md": "# hi" } }, "second": {} },
                "gates": { "check": { "require": "out.md" } } })
        .to_string(),
    )
    .unwrap();
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"write\"\n      agent: \"writer\"\n      tools: [\"probe\", \"echo\"]\n      rbac: [\"admin\"]\n      gates: [{ gate: \"check\", plugin: \"probe\" }]\n    - stage: \"next\"\n      agent: \"second\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n";
    let p = pipeline::parse("bus.yaml", yaml, &Context::with_plugins_dir(plugins_dir())).unwrap_or_else(|d| panic!("{d}"));
    let opts = RunOptions {
        workspace: ws.path().to_path_buf(),
        principal: "tester".into(),
        role: "admin".into(),
        inputs: Vec::new(),
        runs_dir: runs.path().to_path_buf(),
        quiet: true,
    };
    let outcome = Orchestrator::new(&dispatch).start(&p, yaml, &opts).expect("run starts");
    assert_eq!(outcome.status, RunStatus::Completed);
    assert_eq!(std::fs::read_to_string(ws.path().join("out.md")).unwrap(), "# hi", "merged from the worker's /out");
    let trace = Journal::open(&outcome.run_dir.join("journal.sqlite")).unwrap().run().unwrap().trace_id;
    // 4 tasks (probe, echo, gate, probe) → 4 assigns, 4 claims, 4 results, 1 gate status.
    wait_until("the monitor to see every message", Duration::from_secs(5), || monitor.seen.lock().unwrap().len() >= 13);
    std::thread::sleep(Duration::from_millis(200));
    let seen = monitor.seen.lock().unwrap().clone();
    let count = |t: &str| seen.iter().filter(|(topic, _, _)| topic.starts_with(t)).count();
    let is_claim = |payload: &[u8]| serde_json::from_slice::<Value>(payload).is_ok_and(|v| v["payload"]["status"] == "claimed");
    assert_eq!(count(&topics.assign()), 4, "{seen:?}");
    assert_eq!(count(&topics.complete()), 8);
    assert_eq!(seen.iter().filter(|(_, p, _)| is_claim(p)).count(), 4, "one claim per task");
    assert_eq!(count(&topics.gates_status()), 1);
    assert_eq!(seen.len(), 13, "nothing else on the bus");
    let mut task_spans = std::collections::HashMap::new();
    for (topic, payload, traceparent) in &seen {
        let env: taylordash::bus::Envelope<Value> = serde_json::from_slice(payload).unwrap();
        assert_eq!(env.trace_id, trace, "{topic}: envelope trace_id");
        let (tp_trace, tp_span) = envelope::parse_traceparent(traceparent.as_deref().unwrap_or("")).unwrap_or_else(|| panic!("{topic}: traceparent {traceparent:?}"));
        assert_eq!((tp_trace.as_str(), tp_span.as_str()), (trace.as_str(), env.span_id.as_str()), "{topic}");
        assert_eq!(env.run_id, outcome.run_id);
        if topic == &topics.assign() {
            task_spans.insert(env.msg_id.clone(), env.span_id.clone());
        }
    }
    for (topic, payload, _) in seen.iter().filter(|(t, p, _)| t.starts_with(&topics.complete()) && !is_claim(p)) {
        let env: taylordash::bus::Envelope<Value> = serde_json::from_slice(payload).unwrap();
        assert_eq!(env.parent_span_id.as_ref(), task_spans.get(&env.msg_id), "{topic}: the worker's span nests under its task's");
        assert_ne!(Some(&env.span_id), task_spans.get(&env.msg_id));
    }
}

// ---------------------------------------------------------------- kill -9

/// A worker in a child process: this test binary again, running
/// `child_worker` with its configuration in the environment.
struct ChildWorker {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl ChildWorker {
    fn spawn(addr: &BrokerAddr, topics: &Topics, cache: &Path) -> Self {
        let cfg = json!({ "broker": addr.to_string(), "prefix": topics.prefix(), "plugins": plugins_dir(), "cache": cache });
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_worker", "--ignored", "--nocapture", "--test-threads=1"])
            .env("TD_BUS_CHILD_WORKER", cfg.to_string())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("TD_TEST_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (out, l) = (child.stdout.take().unwrap(), lines.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        let w = ChildWorker { child, lines };
        wait_until("the child worker to be ready", Duration::from_secs(20), || w.saw("READY"));
        w
    }

    fn saw(&self, prefix: &str) -> bool {
        self.count(prefix) > 0
    }

    fn count(&self, prefix: &str) -> usize {
        self.lines.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).count()
    }

    fn kill9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for ChildWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Prints START/DONE around the real dispatch, for the parent to follow.
struct Announce(InProcess);

impl Dispatch for Announce {
    fn run(&self, task: &Task) -> Result<TaskResult, TaskError> {
        println!("START {} {}", task.task_id, task.attempt);
        let _ = std::io::stdout().flush();
        let r = self.0.run(task);
        println!("DONE {} {}", task.task_id, r.is_ok());
        let _ = std::io::stdout().flush();
        r
    }
}

#[test]
#[ignore = "run by the kill -9 tests as a child process"]
fn child_worker() {
    let Ok(cfg) = std::env::var("TD_BUS_CHILD_WORKER") else {
        eprintln!(
            "SKIP: child_worker is the worker process the kill -9 tests start (they set TD_BUS_CHILD_WORKER); \
             run by hand with `--ignored` it has no broker to serve"
        );
        return;
    };
    let cfg: Value = serde_json::from_str(&cfg).unwrap();
    logs();
    let sandbox = taylordash::sandbox::Sandbox::new(taylordash::sandbox::SandboxOptions {
        cache_dir: Some(PathBuf::from(cfg["cache"].as_str().unwrap())),
        ..Default::default()
    })
    .unwrap();
    let inner = InProcess::new(Arc::new(sandbox), PathBuf::from(cfg["plugins"].as_str().unwrap()));
    let addr = BrokerAddr::parse(cfg["broker"].as_str().unwrap()).unwrap();
    let mut opts = WorkerOptions::new(vec![addr], Topics::new(cfg["prefix"].as_str().unwrap()).unwrap());
    opts.client.session_expiry = Duration::from_secs(1);
    let _worker = run_worker(opts, Arc::new(Announce(inner))).unwrap();
    println!("\nREADY");
    let _ = std::io::stdout().flush();
    // Until the parent kills us (and never longer than a minute).
    std::thread::sleep(Duration::from_secs(60));
}

fn killed_worker_task_is_redelivered(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("kill9");
    // Compile the plugin once for both children.
    let cache = tempfile::tempdir().unwrap();
    {
        let sandbox = taylordash::sandbox::Sandbox::new(taylordash::sandbox::SandboxOptions { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
        sandbox.load(&common::test_plugin("probe")).unwrap();
    }
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("probe.json"), json!({ "agents": { "slow": { "sleep_ms": 1500 } } }).to_string()).unwrap();
    // Two workers; whichever takes the task is killed with SIGKILL mid-task.
    let mut workers = [ChildWorker::spawn(&addr, &topics, cache.path()), ChildWorker::spawn(&addr, &topics, cache.path())];
    let dispatch = Arc::new(dispatcher(&addr, &topics, Duration::from_millis(1500)));
    // A 30 s timeout: waiting for the deadline republish would take 31.5 s.
    let t = task("s/slow/probe#1", "probe", json!({ "task": { "agent": "slow" } }), ws.path(), Duration::from_secs(30));
    let started = Instant::now();
    let runner = {
        let d = dispatch.clone();
        std::thread::spawn(move || {
            let mut r = d.run(&t)?;
            (r.ack.take().unwrap())();
            Ok::<_, TaskError>(r.output)
        })
    };
    wait_until("a worker to start the task", Duration::from_secs(10), || workers.iter().any(|w| w.saw("START s/slow/probe#1")));
    let victim = if workers[0].saw("START") { 0 } else { 1 };
    workers[victim].kill9();
    let (dead, alive) = (&workers[victim], &workers[1 - victim]);
    let output = runner.join().unwrap().expect("the task completes on the other worker");
    let v: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(v["agent"], "slow", "{v}");
    assert_eq!(dead.count("DONE"), 0, "the killed worker died mid-task");
    assert_eq!(alive.count("START s/slow/probe#1"), 1, "redelivered to the other worker once");
    assert_eq!(alive.count("DONE s/slow/probe#1 true"), 1, "and completed once");
    // rumqttd hands a dead persistent session's unacked message to the rest
    // of the group at once; Mosquitto keeps it in the dead session, but
    // fires the worker's will, and the dispatcher re-sends what it had
    // claimed `resend_after` (3 s) later — not at the deadline.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(12), "{took:?}");
    // Nothing else arrives later.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(alive.count("START"), 1);
}

/// Past its deliveries a task nobody answers goes to the DLQ: topic and store.
fn unanswered_task_goes_to_the_dlq(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("dlq");
    let monitor = Monitor::start(&addr, topics.dlq());
    let dir = tempfile::tempdir().unwrap();
    let mut d = DispatchOptions::new(vec![addr.clone()], topics.clone());
    d.client.session_expiry = Duration::from_secs(10);
    d.grace = Duration::from_millis(100);
    d.max_deliveries = 2;
    d.dlq = Some(dir.path().join("dlq.sqlite"));
    let dispatch = MqttDispatch::connect(d).unwrap();
    let ws = tempfile::tempdir().unwrap();
    // No worker at all.
    let err = dispatch.run(&task("s/a/echo#1", "echo", json!({}), ws.path(), Duration::from_millis(300))).err().unwrap();
    assert!(err.message.contains("sent to the DLQ (entry 1)"), "{}", err.message);
    assert!(!err.retryable);
    let rows = dispatch.dlq().unwrap().list().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].task_id.as_str(), rows[0].deliveries), ("s/a/echo#1", 2));
    wait_until("the DLQ message", Duration::from_secs(5), || monitor.seen.lock().unwrap().len() == 1);
    // Replayed once a worker is there, it completes.
    let (inner, _cache) = in_process();
    let _w = run_worker(worker_options(&addr, &topics), inner).unwrap();
    let env: TaskEnvelope = serde_json::from_str(&rows[0].envelope).unwrap();
    let mut t = env.to_task();
    t.timeout = Duration::from_secs(10);
    let replay = serde_json::to_string(&TaskEnvelope::for_task(&t, &env.msg_id, 1, 0)).unwrap();
    let mut r = dispatch.replay(&replay).expect("replayed");
    (r.ack.take().unwrap())();
    assert_eq!(r.output, "{}");
}

/// A dead broker first in the list: both sides move on to the next one.
fn falls_over_to_the_next_broker(kind: Kind) {
    let live = broker(kind);
    let dead = BrokerAddr::tcp("127.0.0.1", free_port());
    let topics = prefix("failover");
    let (inner, _cache) = in_process();
    let mut wo = worker_options(&live, &topics);
    wo.client.brokers = vec![dead.clone(), live.clone()];
    let worker = run_worker(wo, inner).unwrap();
    let mut d = DispatchOptions::new(vec![dead, live.clone()], topics.clone());
    d.client.session_expiry = Duration::from_secs(10);
    let dispatch = MqttDispatch::connect(d).unwrap();
    assert_eq!(dispatch.bus().broker(), &live);
    let ws = tempfile::tempdir().unwrap();
    let mut r = dispatch.run(&task("s/a/echo#1", "echo", json!({ "via": "backup" }), ws.path(), Duration::from_secs(10))).unwrap();
    (r.ack.take().unwrap())();
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1);
}

/// A `probe` task of agent `slow` (1 s of work, a 2 s timeout) run through
/// `dispatch` on its own thread, its result acked; the thread gives its output.
fn slow_task_in_background(dispatch: &Arc<MqttDispatch>) -> (tempfile::TempDir, std::thread::JoinHandle<Result<String, TaskError>>) {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("probe.json"), json!({ "agents": { "slow": { "sleep_ms": 1000 } } }).to_string()).unwrap();
    let t = task("s/slow/probe#1", "probe", json!({ "task": { "agent": "slow" } }), ws.path(), Duration::from_secs(2));
    let d = dispatch.clone();
    let runner = std::thread::spawn(move || {
        let mut r = d.run(&t)?;
        (r.ack.take().unwrap())();
        Ok::<_, TaskError>(r.output)
    });
    (ws, runner)
}

/// Mosquitto (our own, on a free port) restarted while a task runs: both
/// sides reconnect and resubscribe; the result lost with the broker is
/// recovered by the deadline republish, answered from the worker's cache:
/// the task completes and runs once.
fn broker_restart_mid_task_loses_nothing(kind: Kind) {
    assert_eq!(kind, Kind::Mosquitto, "rumqttd cannot be restarted in-process");
    logs();
    let port = free_port();
    let addr = BrokerAddr::tcp("127.0.0.1", port);
    let mut mosq = Some(OwnMosquitto::start(port));
    let topics = prefix("restart");
    let (inner, _cache) = in_process();
    let mut wo = worker_options(&addr, &topics);
    wo.client.backoff_max = Duration::from_millis(200);
    let worker = run_worker(wo, inner).unwrap();
    let mut d = DispatchOptions::new(vec![addr.clone()], topics.clone());
    d.client.backoff_max = Duration::from_millis(200);
    d.grace = Duration::from_secs(1);
    let dispatch = Arc::new(MqttDispatch::connect(d).unwrap());
    let (_ws, runner) = slow_task_in_background(&dispatch);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    drop(mosq.take()); // SIGKILL: sessions and in-flight messages are gone
    // Down until after the worker has finished: its result has nowhere to go.
    std::thread::sleep(Duration::from_millis(1200));
    let _mosq = OwnMosquitto::start(port);
    let output = runner.join().unwrap().expect("the task completes after the restart");
    assert_eq!(serde_json::from_str::<Value>(&output).unwrap()["agent"], "slow");
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1, "run once");
    let took = started.elapsed();
    eprintln!("restart: completed in {took:?}; duplicates answered from the cache: {}", worker.stats().duplicates.load(Ordering::SeqCst));
    assert!(took < Duration::from_secs(15));
}

/// The seed's `communication_failure: switch_to_backup_transport`: the
/// primary Mosquitto dies for good while a task runs; worker and dispatcher
/// move to the backup in their failover list, the deadline republish
/// reaches the worker there, and the task completes, executed once.
fn switches_to_the_backup_broker_mid_task(kind: Kind) {
    assert_eq!(kind, Kind::Mosquitto, "rumqttd cannot be stopped in-process");
    logs();
    let (primary_port, backup_port) = (free_port(), free_port());
    let primary_addr = BrokerAddr::tcp("127.0.0.1", primary_port);
    let backup_addr = BrokerAddr::tcp("127.0.0.1", backup_port);
    let mut primary = Some(OwnMosquitto::start(primary_port));
    let _backup = OwnMosquitto::start(backup_port);
    let topics = prefix("backup");
    let (inner, _cache) = in_process();
    let both = vec![primary_addr.clone(), backup_addr.clone()];
    let mut wo = worker_options(&primary_addr, &topics);
    wo.client.brokers = both.clone();
    wo.client.backoff_max = Duration::from_millis(200);
    let worker = run_worker(wo, inner).unwrap();
    let mut d = DispatchOptions::new(both, topics.clone());
    d.client.backoff_max = Duration::from_millis(200);
    d.grace = Duration::from_secs(1);
    let dispatch = Arc::new(MqttDispatch::connect(d).unwrap());
    assert_eq!(dispatch.bus().broker(), &primary_addr);
    let (_ws, runner) = slow_task_in_background(&dispatch);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    drop(primary.take()); // SIGKILL, and it never comes back
    let output = runner.join().unwrap().expect("the task completes on the backup broker");
    assert_eq!(serde_json::from_str::<Value>(&output).unwrap()["agent"], "slow");
    assert_eq!(dispatch.bus().broker(), &backup_addr, "the dispatcher moved to the backup");
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1, "run once");
    let took = started.elapsed();
    eprintln!("backup broker: completed in {took:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

/// `mqtts://` against a Mosquitto TLS listener with a test CA: worker and
/// dispatcher verify the broker's certificate and do a round trip.
fn mqtts_round_trip(kind: Kind) {
    assert_eq!(kind, Kind::Mosquitto, "the embedded broker listens on plain TCP");
    logs();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(d).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
              "-subj", "/CN=td-test-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
    std::fs::write(d.join("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
              "-days", "1", "-extfile", "ext.cnf"]);
    let port = free_port();
    std::fs::write(
        d.join("mosquitto.conf"),
        format!("user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\ncafile {0}/ca.pem\ncertfile {0}/server.pem\nkeyfile {0}/server.key\n", d.display()),
    )
    .unwrap();
    let child = Command::new("mosquitto").arg("-c").arg(d.join("mosquitto.conf")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let _mosq = OwnMosquitto::adopt(child, port);
    let sock: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_until("the TLS listener", Duration::from_secs(5), || TcpStream::connect_timeout(&sock, Duration::from_millis(100)).is_ok());
    let addr = BrokerAddr::parse(&format!("mqtts://localhost:{port}")).unwrap();
    let topics = prefix("tls");
    let (inner, _cache) = in_process();
    let mut wo = worker_options(&addr, &topics);
    wo.client.ca_file = Some(d.join("ca.pem"));
    let _worker = run_worker(wo, inner).expect("worker over TLS");
    let mut opts = DispatchOptions::new(vec![addr.clone()], topics.clone());
    opts.client.ca_file = Some(d.join("ca.pem"));
    let dispatch = MqttDispatch::connect(opts).expect("dispatcher over TLS");
    let ws = tempfile::tempdir().unwrap();
    let mut r = dispatch.run(&task("s/a/echo#1", "echo", json!({ "over": "tls" }), ws.path(), Duration::from_secs(10))).unwrap();
    (r.ack.take().unwrap())();
    assert_eq!(serde_json::from_str::<Value>(&r.output).unwrap(), json!({ "over": "tls" }));
    // Without the CA the broker's certificate is refused: the client never becomes ready.
    let mut untrusting = ClientOptions::new(vec![addr], "td-test-untrusting");
    untrusting.ca_file = Some(d.join("server.pem"));
    let c = BusClient::connect(untrusting).unwrap();
    assert!(c.wait_ready(Duration::from_secs(2)).is_err(), "a certificate from an unknown CA must be refused");
}

/// A poison task (it fails every attempt) in a pipeline over the bus: past
/// the stage's retry budget it goes to the DLQ (topic and store); once the
/// cause is fixed, replaying it from the DLQ succeeds.
fn poison_task_goes_to_the_dlq_then_replays(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("poison");
    let monitor = Monitor::start(&addr, topics.dlq());
    let (inner, _cache) = in_process();
    let _worker = run_worker(worker_options(&addr, &topics), inner).unwrap();
    let runs = tempfile::tempdir().unwrap();
    let mut d = DispatchOptions::new(vec![addr.clone()], topics.clone());
    d.client.session_expiry = Duration::from_secs(10);
    d.dlq = Some(runs.path().join("dlq.sqlite"));
    let dispatch = MqttDispatch::connect(d).unwrap();
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(ws.path().join("seed.json"), "{}").unwrap();
    std::fs::write(ws.path().join("probe.json"), json!({ "agents": { "poison": { "fail": "retryable" } } }).to_string()).unwrap();
    let yaml = "orchestration_flow:\n  stages:\n    - stage: \"s\"\n      agent: \"poison\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      retries: 1\n      backoff: { initial: 10ms, max: 20ms }\n";
    let p = pipeline::parse("poison.yaml", yaml, &Context::with_plugins_dir(plugins_dir())).unwrap_or_else(|d| panic!("{d}"));
    let opts = RunOptions {
        workspace: ws.path().to_path_buf(),
        principal: "tester".into(),
        role: "admin".into(),
        inputs: Vec::new(),
        runs_dir: runs.path().to_path_buf(),
        quiet: true,
    };
    let outcome = Orchestrator::new(&dispatch).start(&p, yaml, &opts).expect("run starts");
    assert!(matches!(outcome.status, RunStatus::Failed(_)), "{:?}", outcome.status);
    let rows = dispatch.dlq().unwrap().list().unwrap();
    assert_eq!(rows.len(), 1, "one dead letter: {rows:?}");
    assert_eq!((rows[0].task_id.as_str(), rows[0].attempt), ("s/poison/probe#1", 2), "after attempt 2 (retries: 1)");
    assert!(rows[0].reason.contains("gave up") && rows[0].reason.contains("asked to fail"), "{}", rows[0].reason);
    wait_until("the DLQ message", Duration::from_secs(5), || monitor.seen.lock().unwrap().len() == 1);
    // Fix the cause, replay.
    std::fs::write(ws.path().join("probe.json"), json!({ "agents": { "poison": {} } }).to_string()).unwrap();
    let mut r = dispatch.replay(&rows[0].envelope).expect("replayed after the fix");
    (r.ack.take().unwrap())();
    assert_eq!(serde_json::from_str::<Value>(&r.output).unwrap()["agent"], "poison");
}

// ---------------------------------------------------------------- processes


fn taylordash(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taylordash"));
    cmd.args(args)
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("TAYLORDASH_RUNS_DIR", home.join("runs"))
        .env("TAYLORDASH_AUDIT_LOG", home.join("audit.jsonl"))
        .env("TAYLORDASH_PLUGINS_DIR", plugins_dir())
        .env_remove("TAYLORDASH_BROKER")
        .env_remove("TAYLORDASH_CRASH_AT");
    cmd
}

/// `taylordash run --workers 0` against a broker (`taylordash broker` for the
/// embedded kind), with two `taylordash worker` processes doing the work.
fn pipeline_with_two_worker_processes(kind: Kind) {
    plugins_dir();
    let home = tempfile::tempdir().unwrap();
    let _broker;
    let url = match kind {
        Kind::Embedded => {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let b = Proc::spawn(taylordash(home.path(), &["broker", "--port", &port.to_string()]));
            let url = format!("mqtt://127.0.0.1:{port}");
            b.wait_for(&url);
            _broker = Some(b);
            url
        }
        Kind::Mosquitto => {
            _broker = None;
            mosquitto().to_string()
        }
    };
    let topics = prefix("cli");
    let key = home.path().join("bus.key");
    std::fs::write(&key, "3f".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let key = key.to_str().unwrap();
    // Unsigned on a shared broker only when asked for.
    let out = taylordash(home.path(), &["worker", "--broker", &url, "--prefix", topics.prefix()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("messages on a shared broker must be signed: pass --bus-key FILE"));
    let workers: Vec<Proc> = (0..2)
        .map(|_| {
            let w = Proc::spawn(taylordash(home.path(), &["worker", "--broker", &url, "--prefix", topics.prefix(), "--session-expiry", "2", "--bus-key", key]));
            w.wait_for("ready");
            w
        })
        .collect();
    let ws = home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("seed.json"), "{}").unwrap();
    let agents = ["a", "b", "c", "d"];
    let probe: serde_json::Map<String, Value> =
        agents.iter().map(|a| (a.to_string(), json!({ "sleep_ms": 200, "files": { format!("{a}.txt"): a } }))).collect();
    std::fs::write(ws.join("probe.json"), json!({ "agents": probe }).to_string()).unwrap();
    let yaml = format!(
        "orchestration_flow:\n  stages:\n    - stage: \"fan\"\n      parallel: true\n      agents:\n{}",
        agents.iter().map(|a| format!("        - {{ name: \"{a}\", tools: [\"probe\"], rbac: [\"admin\"] }}\n")).collect::<String>()
    );
    std::fs::write(home.path().join("fan.yaml"), yaml).unwrap();
    let started = Instant::now();
    let out = taylordash(home.path(), &["run", "fan.yaml", "--workspace", "ws", "--broker", &url, "--workers", "0", "--prefix", topics.prefix(), "--bus-key", key, "-q"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    for a in agents {
        assert_eq!(std::fs::read_to_string(ws.join(format!("{a}.txt"))).unwrap(), a, "agent {a}'s file merged");
    }
    // Four 200 ms tasks on two single-task workers: at least two rounds, not four.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    drop(workers);
}

/// The seed's failure `communication_failure` as an operator meets it: a
/// real Mosquitto (persistence on) restarted — SIGTERM, then started again —
/// in the middle of a parallel stage run by three `taylordash worker`
/// processes. Tasks have a 60 s timeout and the stage a 5 s stall window, so
/// neither the deadline republish nor patience can save the run: the
/// workers' claims and the orchestrator's re-send after its reconnect must.
/// The run ends 0 within seconds of the restart, every task executed once.
fn broker_restart_mid_stage_costs_seconds(kind: Kind) {
    broker_restart_mid_stage(kind, Stop::Term);
}

/// The same with SIGKILL: the broker saves nothing (its sessions, queued
/// tasks and undelivered results are gone), so the orchestrator re-sends
/// what no worker claims and asks the workers for the rest.
fn broker_killed_mid_stage_costs_seconds(kind: Kind) {
    broker_restart_mid_stage(kind, Stop::Kill);
}

enum Stop {
    Term,
    Kill,
}

fn broker_restart_mid_stage(kind: Kind, stop: Stop) {
    assert_eq!(kind, Kind::Mosquitto, "rumqttd cannot be restarted in-process");
    plugins_dir();
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let data = home.path().join("mosquitto-data");
    let mosq = OwnMosquitto::persistent(port, &data);
    let url = mosq.url();
    let topics = prefix("restart-stage");
    let key = home.path().join("bus.key");
    std::fs::write(&key, "5a".repeat(32)).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let key = key.to_str().unwrap();
    let workers: Vec<Proc> = (0..3)
        .map(|_| {
            let mut cmd = taylordash(home.path(), &["worker", "--broker", &url, "--prefix", topics.prefix(), "--bus-key", key]);
            cmd.env("TAYLORDASH_LOG", "warn,taylordash::bus::worker=debug");
            let w = Proc::spawn(cmd);
            w.wait_for("ready");
            w
        })
        .collect();
    let ws = home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let agents: Vec<String> = (0..9).map(|i| format!("agent{i}")).collect();
    let mut probe: serde_json::Map<String, Value> =
        agents.iter().map(|a| (a.clone(), json!({ "sleep_ms": 1500, "files": { format!("{a}.txt"): a } }))).collect();
    probe.insert("scribe".into(), json!({ "files": { "docs/index.md": "# done" } }));
    std::fs::write(ws.join("probe.json"), json!({ "agents": probe }).to_string()).unwrap();
    let yaml = format!(
        "orchestration_flow:\n  policies: {{ stall_timeout: 5s }}\n  stages:\n    - stage: \"execution\"\n      parallel: true\n      timeout: 60s\n      agents:\n{}    - stage: \"documentation\"\n      agent: \"scribe\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n      final: true\n",
        agents.iter().map(|a| format!("        - {{ name: \"{a}\", tools: [\"probe\"], rbac: [\"admin\"] }}\n")).collect::<String>()
    );
    std::fs::write(home.path().join("flow.yaml"), yaml).unwrap();
    let mut run = taylordash(home.path(), &["run", "flow.yaml", "--workspace", "ws", "--broker", &url, "--workers", "0", "--prefix", topics.prefix(), "--bus-key", key, "-q"])
        .current_dir(home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The first three tasks run, six wait in the broker.
    std::thread::sleep(Duration::from_millis(2000));
    match stop {
        Stop::Term => mosq.terminate(),
        Stop::Kill => drop(mosq),
    }
    let _mosq = OwnMosquitto::persistent(port, &data);
    let restarted = Instant::now();
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(restarted.elapsed() < Duration::from_secs(40), "the run still runs 40 s after the restart");
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = restarted.elapsed();
    let out = run.wait_with_output().unwrap();
    let said = format!("{}\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr),
        workers.iter().map(Proc::output).collect::<Vec<_>>().join("\n---\n"));
    assert!(status.success(), "the run failed after the broker restart:\n{said}");
    for a in &agents {
        assert_eq!(std::fs::read_to_string(ws.join(format!("{a}.txt"))).unwrap(), *a, "{a}'s file merged");
    }
    assert_eq!(std::fs::read_to_string(ws.join("docs/index.md")).unwrap(), "# done", "the documentation stage ran");
    for a in agents.iter().chain(std::iter::once(&"scribe".to_string())) {
        let runs = workers.iter().flat_map(|w| w.lines()).filter(|l| l.contains("task done") && l.contains(&format!("/{a}/probe#1"))).count();
        assert_eq!(runs, 1, "{a}'s task executed {runs} times:\n{said}");
    }
    eprintln!("broker restart mid-stage: the run ended {took:?} after the broker was back; the orchestrator said:\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(took < Duration::from_secs(15), "{took:?} after the restart:\n{said}");
}

/// A worker without the shared filesystem (`--cache-dir`) never reads paths
/// a message names: a task without a manifest is refused, non-retryably.
#[test]
fn a_cache_dir_worker_refuses_a_task_without_a_manifest() {
    let addr = broker(Kind::Embedded);
    let topics = prefix("nomanifest");
    let (inner, _cache) = in_process();
    let mut wo = worker_options(&addr, &topics);
    let dir = tempfile::tempdir().unwrap();
    wo.files = Some(taylordash::bus::RemoteFiles {
        cache: taylordash::blobs::BlobCache::new(dir.path().join("blobs"), 1 << 20).unwrap(),
        scratch: dir.path().join("tasks"),
        store: None,
    });
    let worker = run_worker(wo, inner).unwrap();
    let mut d = DispatchOptions::new(vec![addr.clone()], topics.clone());
    d.ship_files = false;
    let dispatch = MqttDispatch::connect(d).unwrap();
    let ws = tempfile::tempdir().unwrap();
    let err = dispatch.run(&task("s/a/echo#1", "echo", json!({}), ws.path(), Duration::from_secs(10))).err().expect("refused");
    assert_eq!(err.message, "refused by the worker: it has no shared filesystem (--cache-dir) and the task carries no manifest of its workspace");
    assert!(!err.retryable);
    assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1, "answered once");
}

/// The seed's `resource_exhaustion: scale_out_agent_pool`: one local worker
/// and six parallel tasks, the pool grows to its maximum of three; idle
/// during the next one-task stage, it shrinks back to one. Each change is a
/// journal event.
#[test]
fn the_local_worker_pool_grows_with_the_queue_and_shrinks_when_idle() {
    plugins_dir();
    let home = tempfile::tempdir().unwrap();
    let ws = home.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let agents = ["a", "b", "c", "d", "e", "f"];
    let mut probe: serde_json::Map<String, Value> = agents.iter().map(|a| (a.to_string(), json!({ "sleep_ms": 700 }))).collect();
    probe.insert("tail".into(), json!({ "sleep_ms": 2500 }));
    std::fs::write(ws.join("probe.json"), json!({ "agents": probe }).to_string()).unwrap();
    let yaml = format!(
        "orchestration_flow:\n  stages:\n    - stage: \"fan\"\n      parallel: true\n      agents:\n{}    - stage: \"tail\"\n      agent: \"tail\"\n      tools: [\"probe\"]\n      rbac: [\"admin\"]\n",
        agents.iter().map(|a| format!("        - {{ name: \"{a}\", tools: [\"probe\"], rbac: [\"admin\"] }}\n")).collect::<String>()
    );
    std::fs::write(home.path().join("pool.yaml"), yaml).unwrap();
    let out = taylordash(home.path(), &["run", "pool.yaml", "--workspace", "ws", "--workers", "1", "--max-workers", "3", "--pool-idle", "300ms", "-q"])
        .current_dir(home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "run failed: {}", String::from_utf8_lossy(&out.stderr));
    let run = String::from_utf8_lossy(&out.stdout).lines().next().unwrap().trim().to_string();
    let journal = Journal::open(&home.path().join("runs").join(&run).join("journal.sqlite")).unwrap();
    let sizes = |kind: &str| -> Vec<u64> {
        journal.events().unwrap().iter().filter(|e| e.kind == kind).map(|e| serde_json::from_str::<Value>(&e.data).unwrap()["workers"].as_u64().unwrap()).collect()
    };
    assert_eq!(sizes("scale_out_agent_pool"), [2, 3], "grew one worker at a time to the maximum");
    assert_eq!(sizes("scale_in_agent_pool"), [2, 1], "shrank back to the minimum while idle");
}

/// A TCP proxy in front of `broker` that drops, once, the first PUBLISH
/// whose topic contains `lose` and that is its direction's `nth` such one
/// (1-based), client to broker when `upstream`, else broker to client.
/// Returns its port and how many it dropped (0 or 1).
fn lossy_proxy(broker: &BrokerAddr, lose: &'static str, nth: usize, upstream: bool) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dropped = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (host, bport, d) = (broker.host.clone(), broker.port, dropped.clone());
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect((host.as_str(), bport)) else { continue };
            for (from, to, up) in [(client.try_clone().unwrap(), server.try_clone().unwrap(), true), (server, client, false)] {
                let d = d.clone();
                std::thread::spawn(move || {
                    let (mut from, mut to) = (from, to);
                    let mut seen = 0;
                    loop {
                        // One packet: the fixed header, its remaining length, the rest.
                        let mut head = vec![0u8; 1];
                        if from.read_exact(&mut head).is_err() {
                            break;
                        }
                        let (mut len, mut shift) = (0usize, 0);
                        loop {
                            let mut b = [0u8; 1];
                            if from.read_exact(&mut b).is_err() {
                                return;
                            }
                            head.push(b[0]);
                            len |= ((b[0] & 0x7f) as usize) << shift;
                            shift += 7;
                            if b[0] & 0x80 == 0 {
                                break;
                            }
                        }
                        let mut body = vec![0u8; len];
                        if from.read_exact(&mut body).is_err() {
                            break;
                        }
                        let is_publish = head[0] >> 4 == 3 && body.len() >= 2;
                        let topic_len = if is_publish { u16::from_be_bytes([body[0], body[1]]) as usize } else { 0 };
                        let topic = body.get(2..2 + topic_len).map(String::from_utf8_lossy).unwrap_or_default();
                        if is_publish && up == upstream && topic.contains(lose) {
                            seen += 1;
                            if seen == nth && d.compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                                continue;
                            }
                        }
                        if to.write_all(&head).and_then(|()| to.write_all(&body)).is_err() {
                            break;
                        }
                    }
                    let _ = from.shutdown(std::net::Shutdown::Both);
                    let _ = to.shutdown(std::net::Shutdown::Both);
                });
            }
        }
    });
    (port, dropped)
}

/// A task PUBLISH, or its result, lost between the orchestrator and the
/// broker (a middlebox; TCP itself does not lose it) costs seconds, not the
/// task's deadline, and the task runs once: an unacknowledged PUBLISH makes
/// the client reconnect and send it again; a task nothing was heard of is
/// asked for, and its worker sends the result again.
fn a_lost_publish_costs_seconds_not_a_deadline(kind: Kind) {
    let addr = broker(kind);
    for (what, lose, nth, upstream) in [("the task", "tasks/assign", 1, true), ("its result", "status/complete", 2, false)] {
        let topics = prefix("lost");
        let (inner, _cache) = in_process();
        let worker = run_worker(worker_options(&addr, &topics), inner).unwrap();
        let (port, dropped) = lossy_proxy(&addr, lose, nth, upstream);
        let mut d = DispatchOptions::new(vec![BrokerAddr::tcp("127.0.0.1", port)], topics.clone());
        d.client.session_expiry = Duration::from_secs(10);
        d.client.ack_timeout = Duration::from_secs(1);
        d.ask_when_quiet = Duration::from_secs(1);
        let dispatch = MqttDispatch::connect(d).expect("dispatcher connects");
        let ws = tempfile::tempdir().unwrap();
        let started = Instant::now();
        // The deadline is 60 s away: only recovering from the loss answers in time.
        let mut res = dispatch.run(&task("s/a/echo#1", "echo", json!({ "lost": what }), ws.path(), Duration::from_secs(58))).expect("echo");
        let took = started.elapsed();
        (res.ack.take().expect("an ack"))();
        eprintln!("{kind:?}: {what} lost: answered after {took:?}");
        assert_eq!(dropped.load(Ordering::SeqCst), 1, "the proxy lost {what}");
        assert!(took < Duration::from_secs(15), "{what} lost cost {took:?}");
        assert_eq!(worker.stats().executed.load(Ordering::SeqCst), 1, "{what} lost: executed once");
        worker.stop();
    }
}

macro_rules! against {
    ($kind:ident, $($name:ident),* $(,)?) => {
        $( #[test] fn $name() { super::$name(super::Kind::$kind) } )*
    };
}

mod embedded {
    against!(Embedded, round_trip, two_workers_share, duplicate_executes_once, malformed_is_logged_and_skipped,
             one_trace_per_run, killed_worker_task_is_redelivered, unanswered_task_goes_to_the_dlq,
             pipeline_with_two_worker_processes, falls_over_to_the_next_broker,
             poison_task_goes_to_the_dlq_then_replays, forged_and_replayed_are_refused,
             a_lost_publish_costs_seconds_not_a_deadline);
}

mod mosquitto {
    against!(Mosquitto, round_trip, two_workers_share, duplicate_executes_once, malformed_is_logged_and_skipped,
             one_trace_per_run, killed_worker_task_is_redelivered, unanswered_task_goes_to_the_dlq,
             pipeline_with_two_worker_processes, falls_over_to_the_next_broker, broker_restart_mid_task_loses_nothing,
             switches_to_the_backup_broker_mid_task, poison_task_goes_to_the_dlq_then_replays, forged_and_replayed_are_refused,
             mqtts_round_trip, broker_restart_mid_stage_costs_seconds, broker_killed_mid_stage_costs_seconds,
             a_lost_publish_costs_seconds_not_a_deadline);
}

fn many_in_flight(kind: Kind) {
    let addr = broker(kind);
    let topics = prefix("load");
    let (inner, _cache) = in_process();
    let _w1 = run_worker(worker_options(&addr, &topics), inner.clone()).unwrap();
    let _w2 = run_worker(worker_options(&addr, &topics), inner).unwrap();
    let dispatch = Arc::new(dispatcher(&addr, &topics, Duration::from_secs(2)));
    let ws = tempfile::tempdir().unwrap();
    const IN_FLIGHT: u64 = 32;
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(2);
    let threads: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let (d, ws, sent, done) = (dispatch.clone(), ws.path().to_path_buf(), sent.clone(), done.clone());
            std::thread::spawn(move || {
                let t = task(&format!("s/a/echo#{i}"), "echo", json!({ "i": i }), &ws, Duration::from_secs(3));
                // At least one task per thread, however slow the start: a
                // figure of zero must fail, not pass.
                loop {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let mut r = d.run(&t).expect("task under load");
                    assert_eq!(serde_json::from_str::<Value>(&r.output).unwrap()["i"], json!(i), "echo answered another task");
                    (r.ack.take().expect("a bus result carries an ack"))();
                    done.fetch_add(1, Ordering::Relaxed);
                    if Instant::now() >= until {
                        break;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a load thread failed");
    }
    let (sent, done) = (sent.load(Ordering::Relaxed), done.load(Ordering::Relaxed));
    eprintln!("{kind:?}: {done} tasks in ~2 s with {IN_FLIGHT} in flight");
    assert_eq!(done, sent, "every task sent must complete");
    assert!(done >= IN_FLIGHT, "each of the {IN_FLIGHT} threads completes at least one task; {done} completed");
}

mod load {
    against!(Embedded, many_in_flight);
}
