//! The shipped Mosquitto deployment (`deploy/mosquitto/`) does what its
//! README says. Each test starts its own Mosquitto from the shipped
//! `mosquitto.conf` (only the port, file paths and logging substituted) with
//! the shipped `acl` file itself and a password file made by the shipped
//! `make-passwords.sh`, then checks with the crate's own bus client:
//! - anonymous clients and wrong passwords are refused;
//! - the real worker and dispatcher complete a task with the `worker` and
//!   `orchestrator` users (and a `monitor` sees the traffic);
//! - the orchestrator's task reaches a worker, the worker's result reaches the
//!   orchestrator, and a message of the bus's largest size passes;
//! - a worker cannot publish tasks, DLQ entries, gate or docs status;
//! - a worker cannot read results (one dispatcher's, all of them), nor `#`
//!   beyond the tasks, nor `$SYS`;
//! - the blob exchange works between the two users, and a blob node reads
//!   only the blob traffic addressed to its own client id.
//!
//! A denial is never shown by silence alone: each "nothing arrived" is
//! checked against a reader that may read the same topic and did receive, or
//! against a later allowed message on the same connection.
//!
//! Mosquitto 2.0's `acl_file` does not check subscriptions (its source:
//! "FIXME - implement ACL subscription strings"): a subscription to a topic the
//! user may not read is granted with SUBACK 0 and then delivers nothing. The
//! tests assert exactly that. A denied QoS 1 publish is answered with PUBACK
//! 0x87 (not authorized) and dropped; `BusClient::publish` only queues, so it
//! returns `Ok` either way.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{ConnectReturnCode, Packet, PubAckReason, PublishProperties};
use rumqttc::v5::{ConnectionError, Event, MqttOptions};
use taylordash::bus::client::Recv;
use taylordash::bus::envelope::MAX_MESSAGE;
use taylordash::bus::{
    BrokerAddr, BusClient, BusError, ClientOptions, Credentials, DispatchOptions, MqttDispatch, Topics, WorkerOptions,
    run_worker,
};
use taylordash::dispatch::{Dispatch, Task, TaskError, TaskResult};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/mosquitto");

/// The prefix the shipped ACL grants.
const PREFIX: &str = "td";

const USERS: [(&str, &str); 3] =
    [("orchestrator", "orchestrator-test-pw"), ("worker", "worker-test-pw"), ("monitor", "monitor-test-pw")];

/// How long a reader is given to receive what it must not.
const QUIET: Duration = Duration::from_secs(1);
/// How long a reader is given to receive what it must.
const PATIENCE: Duration = Duration::from_secs(10);

fn topics() -> Topics {
    Topics::new(PREFIX).expect("prefix")
}

fn unique(role: &str) -> String {
    format!("acl-{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

fn password(user: &str) -> &'static str {
    USERS.iter().find(|(u, _)| *u == user).map(|(_, p)| *p).expect("a shipped user")
}

// ---------------------------------------------------------------- broker

/// Mosquitto started from the shipped configuration; killed when dropped.
struct Broker {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mosquitto_bin() -> PathBuf {
    let sbin = Path::new("/usr/sbin/mosquitto");
    if sbin.exists() { sbin.to_path_buf() } else { PathBuf::from("mosquitto") }
}

/// The shipped mosquitto.conf with the listener on `port` and its files in
/// `dir` — except the ACL, which is the shipped file itself. Every directive
/// replaced must be there, so a renamed one fails here instead of the test
/// silently running on Mosquitto's defaults.
fn derived_conf(shipped: &str, port: u16, dir: &Path, acl: &Path) -> String {
    let path = |p: &Path| {
        let s = p.display().to_string();
        assert!(!s.contains(char::is_whitespace), "mosquitto.conf cannot name a path with spaces: {s}");
        s
    };
    let mut replaced = BTreeSet::new();
    let mut out = String::new();
    for line in shipped.lines() {
        let directive = line.split_whitespace().next().unwrap_or("");
        let new = match directive {
            "listener" => format!("listener {port} 127.0.0.1"),
            "password_file" => format!("password_file {}", path(&dir.join("passwd"))),
            "acl_file" => format!("acl_file {}", path(acl)),
            "persistence_location" => format!("persistence_location {}/", path(&dir.join("data"))),
            "log_dest" => format!("log_dest file {}", path(&dir.join("mosquitto.log"))),
            _ => {
                out.push_str(line);
                out.push('\n');
                continue;
            }
        };
        assert!(replaced.insert(directive), "mosquitto.conf has `{directive}` twice; the test expects one");
        out.push_str(&new);
        out.push('\n');
    }
    for needed in ["listener", "password_file", "acl_file", "persistence_location", "log_dest"] {
        assert!(replaced.contains(needed), "the shipped mosquitto.conf has no `{needed}` line");
    }
    for line in ["allow_anonymous false", "persistence true"] {
        assert!(shipped.lines().any(|l| l.trim() == line), "the shipped mosquitto.conf lacks `{line}`");
    }
    // Denied publishes and every packet, for the failure messages below.
    out.push_str("log_type debug\n");
    // Started as root, Mosquitto drops to the `mosquitto` user, which cannot
    // enter this root-owned temporary directory; a deployment installs the
    // files where that user can read them (README.md).
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        out.push_str("user root\n");
    }
    out
}

impl Broker {
    fn start() -> Broker {
        let conf_text = std::fs::read_to_string(format!("{DEPLOY}/mosquitto.conf")).expect("deploy/mosquitto/mosquitto.conf");
        let acl = std::fs::canonicalize(format!("{DEPLOY}/acl")).expect("deploy/mosquitto/acl");
        // The port was free a moment ago; another process may take it first.
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("data")).unwrap();
            make_passwords(&dir.path().join("passwd"));
            let port = free_port();
            let conf = dir.path().join("mosquitto.conf");
            std::fs::write(&conf, derived_conf(&conf_text, port, dir.path(), &acl)).unwrap();
            let child = Command::new(mosquitto_bin())
                .arg("-c")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot start mosquitto (.ci/run installs the `mosquitto` package)");
            let mut broker = Broker { child, port, dir };
            if broker.wait_listening() {
                return broker;
            }
            eprintln!("mosquitto did not start on port {port}; trying another. Its log:\n{}", broker.log());
        }
        panic!("mosquitto did not start from the shipped configuration (see the logs above)");
    }

    /// True once the port accepts connections; false if Mosquitto exited.
    fn wait_listening(&mut self) -> bool {
        let addr: SocketAddr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn addr(&self) -> BrokerAddr {
        BrokerAddr::tcp("127.0.0.1", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// The last lines of the broker's log, for a failure message.
    fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn options(&self, id: &str, user: Option<&str>, password: &str, filters: &[String]) -> ClientOptions {
        let mut o = ClientOptions::new(vec![self.addr()], id);
        o.session_expiry = Duration::from_secs(5);
        o.credentials = user.map(|u| Credentials { username: u.into(), password: password.into() });
        o.subscriptions = filters.to_vec();
        o
    }

    /// A client of `user` (None: anonymous) with `password`, subscribed to
    /// `filters`; not yet waited for.
    fn client_as(&self, user: Option<&str>, password: &str, filters: &[String]) -> BusClient {
        let id = unique(user.unwrap_or("anonymous"));
        BusClient::connect(self.options(&id, user, password, filters)).expect("client starts")
    }

    /// A ready client of a shipped user.
    fn client(&self, user: &str, filters: &[String]) -> BusClient {
        self.client_named(user, &unique(user), filters)
    }

    /// A ready client of a shipped user, with this client id.
    fn client_named(&self, user: &str, id: &str, filters: &[String]) -> BusClient {
        let c = BusClient::connect(self.options(id, Some(user), password(user), filters)).expect("client starts");
        if let Err(e) = c.wait_ready(PATIENCE) {
            panic!("{user} could not connect and subscribe to {filters:?}: {e}\nbroker log:\n{}", self.log_tail());
        }
        c
    }

    /// A raw rumqttc connection, for what BusClient does not show: the
    /// reason codes of CONNACK and PUBACK.
    fn raw(&self, user: Option<&str>, password: &str) -> (rumqttc::v5::Client, rumqttc::v5::Connection) {
        let mut o = MqttOptions::new(unique("raw"), "127.0.0.1", self.port);
        if let Some(u) = user {
            o.set_credentials(u, password);
        }
        rumqttc::v5::Client::new(o, 10)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The password file, made by the shipped script with the test's passwords.
fn make_passwords(path: &Path) {
    let mut cmd = Command::new("bash");
    cmd.arg(format!("{DEPLOY}/make-passwords.sh")).arg(path);
    for (user, pw) in USERS {
        cmd.env(format!("TD_MQTT_{}_PASSWORD", user.to_uppercase()), pw);
    }
    // mosquitto_passwd lives in /usr/bin on Debian, /usr/sbin elsewhere.
    let path_var = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("{path_var}:/usr/bin:/usr/sbin"));
    let out = cmd.output().expect("bash runs deploy/mosquitto/make-passwords.sh");
    assert!(
        out.status.success(),
        "make-passwords.sh failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "every password was given, so none may be printed: {}", String::from_utf8_lossy(&out.stdout));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).expect("the password file exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the password file's mode");
}

// ---------------------------------------------------------------- receiving

/// Topic and payload of one message.
type Msg = (String, String);

fn next(c: &BusClient, timeout: Duration) -> Option<Msg> {
    match c.recv_timeout(timeout) {
        Recv::Message(d) => {
            c.ack(&d);
            Some((d.topic().into_owned(), String::from_utf8_lossy(d.payload()).into_owned()))
        }
        Recv::Timeout => None,
        Recv::Closed => panic!("client {} stopped", c.client_id()),
    }
}

/// Everything `c` receives until `payload` arrives (included); panics if it
/// does not within PATIENCE.
fn until(c: &BusClient, payload: &str, broker: &Broker) -> Vec<Msg> {
    let end = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while let Some(m) = next(c, end.saturating_duration_since(Instant::now())) {
        let done = m.1 == payload;
        seen.push(m);
        if done {
            return seen;
        }
    }
    panic!("{} never received `{payload}` (got {seen:?})\nbroker log:\n{}", c.client_id(), broker.log_tail());
}

/// Everything `c` receives within QUIET.
fn drain(c: &BusClient) -> Vec<Msg> {
    let end = Instant::now() + QUIET;
    let mut seen = Vec::new();
    while let Some(m) = next(c, end.saturating_duration_since(Instant::now())) {
        seen.push(m);
    }
    seen
}

fn payloads(msgs: &[Msg]) -> Vec<&str> {
    msgs.iter().map(|(_, p)| p.as_str()).collect()
}

fn publish(c: &BusClient, topic: &str, payload: &str) {
    c.publish(topic, payload.as_bytes().to_vec(), PublishProperties::default()).expect("publish queued");
}

/// A subscription the ACL does not let `user` read: Mosquitto 2.0 grants it
/// (SUBACK 0, see the module doc) and delivers nothing.
fn granted_but_unreadable(broker: &Broker, user: &str, filter: &str) -> BusClient {
    let c = broker.client_as(Some(user), password(user), &[filter.to_string()]);
    match c.wait_ready(PATIENCE) {
        Ok(()) => c,
        Err(BusError::SubscriptionRefused(f)) => panic!(
            "Mosquitto now refuses `{f}` with a failing SUBACK (it granted it up to 2.0.x): update this test and deploy/mosquitto/README.md"
        ),
        Err(e) => panic!("{user} subscribing to {filter}: {e}\nbroker log:\n{}", broker.log_tail()),
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn anonymous_and_wrong_passwords_are_refused() {
    let broker = Broker::start();
    let refused: [(Option<&str>, &str); 4] = [
        (None, ""),
        (Some("worker"), "not-the-password"),
        (Some("orchestrator"), password("worker")),
        (Some("nobody"), password("worker")),
    ];
    // CONNACK says why: 0x87 "not authorized", for all of them alike.
    for (user, pw) in refused {
        let (_client, mut conn) = broker.raw(user, pw);
        match conn.recv_timeout(PATIENCE) {
            Ok(Err(ConnectionError::ConnectionRefused(code))) => {
                assert_eq!(code, ConnectReturnCode::NotAuthorized, "CONNACK for {user:?}")
            }
            other => panic!("{user:?} with a wrong password: expected a refused CONNACK, got {other:?}"),
        }
    }
    // The bus client keeps retrying and never becomes ready, while one with
    // the right password, started at the same time, does.
    let bad: Vec<BusClient> = refused.iter().map(|(u, pw)| broker.client_as(*u, pw, &[])).collect();
    let good = broker.client_as(Some("worker"), password("worker"), &[]);
    good.wait_ready(PATIENCE).expect("the worker with its password connects");
    std::thread::sleep(QUIET);
    for (c, (user, _)) in bad.iter().zip(refused) {
        assert!(
            matches!(c.wait_ready(Duration::from_millis(100)), Err(BusError::Unreachable { .. })),
            "{user:?} with a wrong password became ready"
        );
        assert!(!c.is_connected());
    }
}

/// The tool the worker runs: answers at once, and emits a docs trigger the
/// dispatcher republishes (so the orchestrator user's write there is used).
struct Answer;

impl Dispatch for Answer {
    fn run(&self, task: &Task) -> Result<TaskResult, TaskError> {
        Ok(TaskResult {
            output: format!("{{\"answered\":\"{}\"}}", task.task_id),
            logs: Vec::new(),
            events: vec![taylordash::sandbox::Event { topic: "docs/update/trigger".into(), payload: "{\"why\":\"acl test\"}".into() }],
            usage: Default::default(),
            ack: None,
        })
    }
}

#[test]
fn the_real_worker_and_dispatcher_work_with_the_shipped_users() {
    let broker = Broker::start();
    let t = topics();
    let monitor = broker.client("monitor", &[t.all()]);

    let mut w = WorkerOptions::new(vec![broker.addr()], t.clone());
    w.client.client_id = unique("worker");
    w.client.session_expiry = Duration::from_secs(2);
    w.client.credentials = Some(Credentials { username: "worker".into(), password: password("worker").into() });
    let _worker = run_worker(w, Arc::new(Answer)).expect("the worker connects and subscribes");

    let mut d = DispatchOptions::new(vec![broker.addr()], t.clone());
    d.client.client_id = unique("orch");
    d.client.session_expiry = Duration::from_secs(5);
    d.client.credentials = Some(Credentials { username: "orchestrator".into(), password: password("orchestrator").into() });
    let dispatcher_id = d.client.client_id.clone();
    let dispatch = MqttDispatch::connect(d).expect("the dispatcher connects and subscribes");

    let workspace = tempfile::tempdir().unwrap();
    let task = Task {
        run_id: "run-acl".into(),
        task_id: "acl-task-1".into(),
        stage: "s".into(),
        agent: "a".into(),
        tool: "answer".into(),
        attempt: 1,
        input: "{}".into(),
        trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        span_id: taylordash::bus::envelope::new_span_id(),
        timeout: Duration::from_secs(5),
        workspace: workspace.path().to_path_buf(),
        staging: workspace.path().join("staging"),
    };
    let mut result = match dispatch.run(&task) {
        Ok(r) => r,
        Err(e) => panic!("the task did not complete over the shipped ACL: {e}\nbroker log:\n{}", broker.log_tail()),
    };
    assert_eq!(result.output, "{\"answered\":\"acl-task-1\"}");
    if let Some(ack) = result.ack.take() {
        ack();
    }

    // The monitor saw the task, the result and the docs trigger.
    let end = Instant::now() + PATIENCE;
    let want: BTreeSet<String> =
        [t.assign(), t.results_for(&dispatcher_id).unwrap(), t.docs_trigger()].into_iter().collect();
    let mut seen = BTreeSet::new();
    while !want.is_subset(&seen) {
        match next(&monitor, end.saturating_duration_since(Instant::now())) {
            Some((topic, _)) => {
                seen.insert(topic);
            }
            None => panic!("the monitor saw only {seen:?}, not all of {want:?}\nbroker log:\n{}", broker.log_tail()),
        }
    }
}

#[test]
fn orchestrator_tasks_reach_workers_and_worker_results_reach_the_orchestrator() {
    let broker = Broker::start();
    let t = topics();
    let orch_id = unique("orch");
    let reply = t.results_for(&orch_id).unwrap();
    let orch = broker.client_named("orchestrator", &orch_id, std::slice::from_ref(&reply));
    let shared = t.assign_shared(&t.worker_group()).unwrap();
    let worker = broker.client("worker", &[shared]);

    // A task with its response topic, as MqttDispatch sends it.
    let props = PublishProperties { response_topic: Some(reply.clone()), ..Default::default() };
    orch.publish(&t.assign(), b"task-1".to_vec(), props).unwrap();
    let d = match worker.recv_timeout(PATIENCE) {
        Recv::Message(d) => d,
        other => panic!("the worker got no task: {other:?}\nbroker log:\n{}", broker.log_tail()),
    };
    worker.ack(&d);
    assert_eq!((d.topic().as_ref(), d.payload()), (t.assign().as_str(), b"task-1".as_slice()));
    let response = d.response_topic().expect("the task's response topic").to_string();

    // The result, on the response topic the task named.
    publish(&worker, &response, "result-1");
    assert_eq!(until(&orch, "result-1", &broker), vec![(reply.clone(), "result-1".to_string())]);

    // The bus's largest message passes max_packet_size both ways.
    let big = vec![b'x'; MAX_MESSAGE];
    orch.publish(&t.assign(), big.clone(), PublishProperties::default()).unwrap();
    match worker.recv_timeout(PATIENCE) {
        Recv::Message(d) => {
            worker.ack(&d);
            assert_eq!(d.payload().len(), MAX_MESSAGE);
        }
        other => panic!("a {MAX_MESSAGE}-byte task did not pass: {other:?}\nbroker log:\n{}", broker.log_tail()),
    }
    worker.publish(&response, big, PublishProperties::default()).unwrap();
    match orch.recv_timeout(PATIENCE) {
        Recv::Message(d) => {
            orch.ack(&d);
            assert_eq!(d.payload().len(), MAX_MESSAGE);
        }
        other => panic!("a {MAX_MESSAGE}-byte result did not pass: {other:?}\nbroker log:\n{}", broker.log_tail()),
    }
}

#[test]
fn workers_cannot_publish_tasks_dlq_entries_or_status() {
    let broker = Broker::start();
    let t = topics();
    let monitor = broker.client("monitor", &[t.all()]);
    let taker = broker.client("worker", &[t.assign_shared(&t.worker_group()).unwrap()]);
    let forger = broker.client("worker", &[]);
    let orch_id = unique("orch");
    let results = t.results_for(&orch_id).unwrap();

    // Forgeries first, then an allowed message on the same connection: the
    // broker handles them in order, so by the time the allowed one arrives
    // the forgeries were either delivered already or dropped.
    let forged = [
        (t.assign(), "forged-task"),
        (t.dlq(), "forged-dlq"),
        (t.gates_status(), "forged-gate"),
        (t.docs_trigger(), "forged-docs"),
    ];
    for (topic, payload) in &forged {
        publish(&forger, topic, payload);
    }
    publish(&forger, &results, "allowed-result");
    let mut seen = until(&monitor, "allowed-result", &broker);
    seen.extend(drain(&monitor));
    assert_eq!(payloads(&seen), ["allowed-result"], "the monitor (who reads all of {PREFIX}/#) saw a forgery");
    assert!(drain(&taker).is_empty(), "a worker received a task another worker forged");

    // Control: the monitor does read those very topics when the orchestrator writes them.
    let orch = broker.client("orchestrator", &[]);
    for (topic, payload) in &forged {
        publish(&orch, topic, &payload.replace("forged", "real"));
    }
    let mut seen = until(&monitor, "real-docs", &broker);
    seen.extend(drain(&monitor));
    let mut got = payloads(&seen);
    got.sort_unstable();
    assert_eq!(got, ["real-dlq", "real-docs", "real-gate", "real-task"]);
    assert_eq!(payloads(&until(&taker, "real-task", &broker)), ["real-task"]);

    // What the forger was told: PUBACK 0x87 for each denied publish.
    let (client, mut conn) = broker.raw(Some("worker"), password("worker"));
    for (topic, payload) in &forged {
        client.publish(topic.as_str(), QoS::AtLeastOnce, false, payload.as_bytes().to_vec()).unwrap();
    }
    let mut reasons = Vec::new();
    let end = Instant::now() + PATIENCE;
    while reasons.len() < forged.len() && Instant::now() < end {
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(ack)))) => reasons.push(ack.reason),
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(e)) => panic!("raw worker connection: {e}"),
        }
    }
    assert_eq!(reasons, vec![PubAckReason::NotAuthorized; forged.len()], "PUBACKs of denied publishes");
}

#[test]
fn workers_cannot_read_results_or_anything_but_tasks() {
    let broker = Broker::start();
    let t = topics();
    let orch_id = unique("orch");
    let results = t.results_for(&orch_id).unwrap();
    let monitor = broker.client("monitor", &[t.all(), "$SYS/#".to_string()]);
    let orch = broker.client_named("orchestrator", &orch_id, std::slice::from_ref(&results));
    // Granted, and deaf (module doc).
    let one_result = granted_but_unreadable(&broker, "worker", &results);
    let all_results = granted_but_unreadable(&broker, "worker", &format!("{}/#", t.complete()));
    let everything = granted_but_unreadable(&broker, "worker", "#");
    let sys = granted_but_unreadable(&broker, "worker", "$SYS/#");

    // One of each message of the bus; the task last (the `#` subscriber may read it).
    let worker = broker.client("worker", &[]);
    publish(&worker, &results, "result-1");
    publish(&orch, &t.gates_status(), "gate-1");
    publish(&orch, &t.docs_trigger(), "docs-1");
    publish(&orch, &t.dlq(), "dlq-1");
    publish(&orch, &t.assign(), "task-1");

    // Controls: the orchestrator gets its result, the monitor gets everything
    // (and the broker's version, retained under $SYS), and the worker's `#`
    // subscription is live: it gets the task.
    assert_eq!(payloads(&until(&orch, "result-1", &broker)), ["result-1"]);
    let mut want: BTreeSet<&str> = ["result-1", "gate-1", "docs-1", "dlq-1", "task-1", "$SYS/broker/version"].into();
    let end = Instant::now() + PATIENCE;
    while !want.is_empty() {
        match next(&monitor, end.saturating_duration_since(Instant::now())) {
            Some((topic, payload)) => {
                want.remove(payload.as_str());
                want.remove(topic.as_str());
            }
            None => panic!("the monitor never saw {want:?}\nbroker log:\n{}", broker.log_tail()),
        }
    }
    let mut from_everything = until(&everything, "task-1", &broker);
    from_everything.extend(drain(&everything));
    // Every leak at once, rather than only the first.
    let mut leaks = Vec::new();
    if payloads(&from_everything) != ["task-1"] {
        leaks.push(format!("subscribed to `#`, a worker read {from_everything:?} (only the task is allowed)"));
    }
    for (c, what) in [(&one_result, "one dispatcher's results"), (&all_results, "all results"), (&sys, "$SYS/#")] {
        let got = drain(c);
        if !got.is_empty() {
            leaks.push(format!("subscribed to {what}, a worker read {got:?}"));
        }
    }
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
}

/// Blobs (workers without the orchestrator's filesystem): the real blob
/// exchange works between the `orchestrator` and `worker` users, and a
/// third party with the `worker` login, subscribed to every blob topic,
/// reads only what is addressed to its own client id.
#[test]
fn blob_nodes_read_only_what_is_addressed_to_them() {
    use taylordash::blobs::{BlobCache, sha256_hex};
    use taylordash::bus::{BlobExchange, ExchangeOptions};
    let broker = Broker::start();
    let t = topics();
    let dir = tempfile::tempdir().unwrap();
    let cache = BlobCache::new(dir.path().join("orch"), 1 << 20).unwrap();
    let blob = b"workspace file".to_vec();
    cache.put(&sha256_hex(&blob), &blob).unwrap();
    let exchange = |user: &str, cache: BlobCache| {
        let opts = ExchangeOptions::new(broker.options(&format!("{}-blobs", unique(user)), Some(user), password(user), &[]), t.clone());
        BlobExchange::start(opts, Arc::new(cache)).unwrap_or_else(|e| panic!("{user}'s blob node: {e}\nbroker log:\n{}", broker.log_tail()))
    };
    let orch = exchange("orchestrator", cache);
    let worker = exchange("worker", BlobCache::new(dir.path().join("worker"), 1 << 20).unwrap());
    let snoop_id = format!("{}-blobs", unique("worker"));
    let snoop = broker.client_named("worker", &snoop_id, &[format!("{PREFIX}/blobs/#")]);

    let got = worker.fetch(orch.node(), &sha256_hex(&blob), blob.len() as u64).expect("the worker fetches the orchestrator's blob");
    assert_eq!(got, blob);
    // Control: the snooper's subscription is live for its own node.
    let own = t.blob_requests(&snoop_id).unwrap();
    publish(&orch_client(&broker), &own, "for-the-snooper");
    let seen = until(&snoop, "for-the-snooper", &broker);
    let leaked: Vec<_> = seen.iter().chain(drain(&snoop).iter()).filter(|(_, p)| p != "for-the-snooper").cloned().collect();
    assert!(leaked.is_empty(), "a worker read blob traffic addressed to others: {leaked:?}");
}

/// A plain orchestrator-user client.
fn orch_client(broker: &Broker) -> BusClient {
    broker.client("orchestrator", &[])
}
