//! The worker: takes tasks from the shared subscription
//! `$share/workers/<prefix>orchestrator/tasks/assign`, runs each through an
//! inner [`Dispatch`] (normally [`InProcess`](crate::dispatch::InProcess)),
//! publishes the result to the task's v5 response topic with its correlation
//! data, and only then acks the task.
//!
//! - A `msg_id` executes once per worker: the worker remembers what it ran
//!   (bounded by count and bytes) and answers a duplicate with the cached
//!   result, or — while the first copy still runs — acks it and sends the
//!   result to its response topic too when the first copy's is done (an
//!   orchestrator that took over a run sends its unfinished attempts again).
//! - A worker claims each task it starts (a QoS 0 `claimed` message to the
//!   response topic) and, whenever its connection comes back, claims its
//!   running tasks again and re-publishes its results of the last 30 s: a
//!   broker that restarted may have lost them. It also answers
//!   `tasks/query` for a task it holds (a claim, or the result), so an
//!   orchestrator rechecking after a reconnect, a will or a deadline never
//!   sends a held task to another worker.
//! - A task past its deadline is skipped (the orchestrator has already
//!   published it again for someone else).
//! - A task naming a tool by path, or relative / `..` / (with
//!   `allowed_roots`) out-of-bounds workspace or staging paths, is refused
//!   (exit 3).
//! - A malformed, oversized or incomplete message is rejected with a logged
//!   reason and acked; when it names a response topic, the sender gets a
//!   non-retryable error back at once. A panic in the inner dispatch becomes
//!   an error result. Nothing a message contains stops the worker.
//! - With a key ([`ClientOptions::auth`]), a task must carry a valid tag
//!   ([`super::auth`]): an unsigned, forged, expired or replayed one is
//!   refused, acked, never answered (its sender is unknown) and recorded as
//!   an audit event. The broker redelivering a task this worker is still
//!   running is not a replay.
//! - Every audit event a worker writes (refused messages here, the calls of
//!   its inner dispatch there: [`InProcess::with_worker`](crate::dispatch::InProcess::with_worker))
//!   names the worker by [`WorkerOptions::identity`].
//! - With [`WorkerOptions::files`] (`--cache-dir`), the worker does not need
//!   the orchestrator's filesystem: it builds each task's `/workspace` from
//!   the manifest the task carries, with blobs from its cache or fetched over
//!   the bus ([`super::blob_exchange`]), and sends `/out` back as blobs named
//!   in the result. A blob that does not match its digest fails the task
//!   (retryably) and is audited. Such a worker refuses a task without a
//!   manifest: it never reads paths a message names.
//! - Workers keep no session after a disconnect (expiry 0): a broker must
//!   not route shared-subscription tasks to a dead worker's session, where
//!   nobody would claim them. What a dead worker had claimed is re-sent when
//!   its MQTT will arrives; the deadline republish covers the rest.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::{Component, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;

use super::auth::{AuthError, Record, refusal_event};
use super::blob_exchange::{BlobExchange, ExchangeOptions, RemoteFiles};
use super::client::{BrokerAddr, BusClient, ClientOptions, Recv};
use super::delivery::Delivery;
use super::envelope::{self, Envelope, EnvelopeError, ResultEnvelope, ResultPayload, ResultWire, TaskEnvelope, TaskWire, Wire, MAX_MESSAGE};
use taylordash_protocol::ExitCode;
use super::topics::Topics;
use super::{BusError, hex_id, now_ms};
use crate::dispatch::{Dispatch, Task, TaskError, TaskResult};
use crate::audit::AuditLog;
use crate::blobs::{self, Manifest, Scanner};

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub client: ClientOptions,
    pub topics: Topics,
    /// The shared-subscription group (`workers`; see [`Topics::worker_group`]).
    pub group: String,
    /// Tasks this worker runs at once.
    pub concurrency: usize,
    /// The largest task message accepted, and result published.
    pub max_message: usize,
    /// Executed `msg_id`s remembered for duplicates, by count and result bytes.
    pub remember: usize,
    pub remember_bytes: usize,
    /// How long [`run_worker`] waits to be connected and subscribed.
    pub ready_timeout: Duration,
    /// When set, a task's workspace and staging paths must lie under one of
    /// these directories. Anyone who can publish on the task topic chooses
    /// those paths: restrict them (and the broker's ACL) on shared machines.
    pub allowed_roots: Option<Vec<PathBuf>>,
    /// Where refused (unauthenticated) tasks are recorded.
    pub audit: Option<AuditLog>,
    /// How audit events name this worker (default: the bus username, else
    /// the client id); see [`WorkerOptions::identity`].
    pub identity: Option<String>,
    /// Set: build each task's workspace from its manifest (blobs cached
    /// here, fetched over the bus) instead of reading the orchestrator's paths.
    pub files: Option<RemoteFiles>,
}

impl WorkerOptions {
    pub fn new(brokers: Vec<BrokerAddr>, topics: Topics) -> Self {
        let mut client = ClientOptions::new(brokers, format!("td-worker-{}", hex_id(12)));
        // None: a broker may route shared-subscription tasks to a dead
        // worker's session while it lasts, unclaimed and unseen. What the
        // worker took is claimed, and re-sent when its will arrives.
        client.session_expiry = Duration::ZERO;
        client.receive_maximum = 8;
        WorkerOptions {
            client,
            group: topics.worker_group(),
            topics,
            concurrency: 1,
            max_message: MAX_MESSAGE,
            remember: 4096,
            remember_bytes: 64 << 20,
            ready_timeout: Duration::from_secs(10),
            allowed_roots: None,
            audit: None,
            identity: None,
            files: None,
        }
    }

    /// The worker's identity in audit events: `identity` when set, else the
    /// username it logs in to the broker with (which the broker checked and
    /// its ACL knows), else its client id.
    pub fn identity(&self) -> String {
        self.identity
            .clone()
            .or_else(|| self.client.credentials.as_ref().map(|c| c.username.clone()))
            .unwrap_or_else(|| self.client.client_id.clone())
    }
}

/// What a worker did, for monitoring and tests.
#[derive(Debug, Default)]
pub struct WorkerStats {
    /// Tasks run through the inner dispatch.
    pub executed: AtomicU64,
    /// Copies of a `msg_id` already run (or running) here.
    pub duplicates: AtomicU64,
    /// Malformed, oversized or incomplete messages.
    pub rejected: AtomicU64,
    /// Tasks that arrived past their deadline.
    pub expired: AtomicU64,
    /// Tasks refused as unsigned, forged, expired or replayed.
    pub refused: AtomicU64,
}

/// Where a result goes besides the reply of the copy that runs: the
/// response topics (and correlation data) of copies that arrived meanwhile
/// from another orchestrator (one that took over the run).
type Waiters = Vec<(String, Bytes)>;

/// A message this worker sent once and sends again when its connection
/// comes back (the broker may have lost it): a task's claim while it runs,
/// its result for [`RESEND_RESULTS_WITHIN`] after it is done.
#[derive(Clone)]
struct Resend {
    topic: String,
    bytes: Arc<Vec<u8>>,
    properties: PublishProperties,
}

/// How recent a result must be to be published again after a reconnect:
/// one the broker acknowledged may still have died with it, undelivered.
const RESEND_RESULTS_WITHIN: Duration = Duration::from_secs(30);

enum Seen {
    Running { waiters: Waiters, claim: Option<Resend> },
    /// `sent.bytes` is the result.
    Done { sent: Resend, at: Instant },
}

/// Executed `msg_id`s and their results, oldest evicted first.
struct Memory {
    map: HashMap<String, Seen>,
    order: VecDeque<String>,
    bytes: usize,
    cap: usize,
    cap_bytes: usize,
}

/// A task taken in and claimed, waiting for an executor.
struct Job {
    d: Delivery,
    env: TaskEnvelope,
    reply: String,
    correlation: Bytes,
}

enum Begin {
    New,
    Running,
    Done(Arc<Vec<u8>>),
}

impl Memory {
    fn is_running(&self, msg_id: &str) -> bool {
        matches!(self.map.get(msg_id), Some(Seen::Running { .. }))
    }

    /// What to publish again after a reconnect: every running task's claim,
    /// and the results finished within [`RESEND_RESULTS_WITHIN`].
    fn to_resend(&self) -> (Vec<Resend>, Vec<Resend>) {
        let (mut claims, mut results) = (Vec::new(), Vec::new());
        for seen in self.map.values() {
            match seen {
                Seen::Running { claim: Some(c), .. } => claims.push(c.clone()),
                Seen::Done { sent, at } if at.elapsed() < RESEND_RESULTS_WITHIN => results.push(sent.clone()),
                _ => {}
            }
        }
        (claims, results)
    }

    /// The claim `msg_id` was announced with.
    fn claimed(&mut self, msg_id: &str, resend: Resend) {
        if let Some(Seen::Running { claim, .. }) = self.map.get_mut(msg_id) {
            *claim = Some(resend);
        }
    }

    /// A copy of `msg_id` answered at `reply`: new, running (then `reply`
    /// waits for the result too, unless it is where the result goes), or done.
    fn begin(&mut self, msg_id: &str, reply: &str, correlation: &Bytes) -> Begin {
        let begin = self.ask(msg_id, reply, correlation);
        if let Begin::New = begin {
            self.map.insert(msg_id.to_string(), Seen::Running { waiters: Vec::new(), claim: None });
            self.order.push_back(msg_id.to_string());
            self.evict();
        }
        begin
    }

    /// Like [`begin`](Self::begin), but an unknown `msg_id` is only said to
    /// be new, not taken on (a query, not a task).
    fn ask(&mut self, msg_id: &str, reply: &str, correlation: &Bytes) -> Begin {
        match self.map.get_mut(msg_id) {
            Some(Seen::Running { waiters, .. }) => {
                if !waiters.iter().any(|(r, _)| r == reply) {
                    waiters.push((reply.to_string(), correlation.clone()));
                }
                Begin::Running
            }
            Some(Seen::Done { sent, .. }) => Begin::Done(sent.bytes.clone()),
            None => Begin::New,
        }
    }

    /// Remember `msg_id`'s result as it was `sent`; the copies that waited for it.
    fn finish(&mut self, msg_id: &str, sent: Resend) -> Waiters {
        self.bytes += sent.bytes.len();
        let done = Seen::Done { sent, at: Instant::now() };
        let waiters = match self.map.get_mut(msg_id) {
            Some(slot) => match std::mem::replace(slot, done) {
                Seen::Running { waiters, .. } => waiters,
                Seen::Done { .. } => Vec::new(),
            },
            None => Vec::new(),
        };
        self.evict();
        waiters
    }

    /// Forget a task claimed but never run (so a later copy runs).
    fn forget(&mut self, msg_id: &str) {
        if matches!(self.map.get(msg_id), Some(Seen::Running { .. })) {
            self.map.remove(msg_id);
            self.order.retain(|k| k != msg_id);
        }
    }

    fn evict(&mut self) {
        while self.order.len() > self.cap || self.bytes > self.cap_bytes {
            let Some(old) = self.order.pop_front() else { break };
            match self.map.get(&old) {
                // Never forget a task that is still running.
                Some(Seen::Running { .. }) => {
                    self.order.push_back(old);
                    if self.order.iter().all(|k| matches!(self.map.get(k), Some(Seen::Running { .. }))) {
                        break;
                    }
                }
                Some(Seen::Done { sent, .. }) => {
                    self.bytes = self.bytes.saturating_sub(sent.bytes.len());
                    self.map.remove(&old);
                }
                None => {}
            }
        }
    }
}

/// A worker's side of content-addressed files: where blobs are kept, and
/// its node of the exchange.
struct Remote {
    files: RemoteFiles,
    exchange: BlobExchange,
    /// Workspaces kept between tasks, by manifest (`<scratch>/workspaces`).
    workspaces: blobs::Workspaces,
}

/// Materialised workspaces a worker keeps (each as large as its manifest's files).
const KEPT_WORKSPACES: usize = 8;

struct Inner {
    remote: Option<Remote>,
    allowed_roots: Option<Vec<PathBuf>>,
    audit: Option<AuditLog>,
    identity: String,
    bus: Arc<BusClient>,
    dispatch: Arc<dyn Dispatch>,
    assign: String,
    query: String,
    /// Where this worker says it stopped with tasks claimed: its will's
    /// topic under its publishing connection's id (`<id>-pub`, which a
    /// broker ACL's `%c` pattern lets it write).
    stopped: String,
    max_message: usize,
    memory: Mutex<Memory>,
    stats: Arc<WorkerStats>,
    stop: Arc<AtomicBool>,
}

/// A running worker. Dropping it (or [`stop`](Worker::stop)) lets running
/// tasks finish, then disconnects.
pub struct Worker {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

/// Connect, subscribe to the shared task topic, and start `concurrency`
/// executors over `dispatch`. Returns once subscribed.
pub fn run_worker(mut opts: WorkerOptions, dispatch: Arc<dyn Dispatch>) -> Result<Worker, BusError> {
    let shared = opts.topics.assign_shared(&opts.group)?;
    opts.client.subscriptions = vec![shared.clone(), opts.topics.query()];
    opts.client.last_will = Some((opts.topics.gone(&opts.client.client_id)?, b"gone".to_vec()));
    let stopped = opts.topics.gone(&format!("{}-pub", opts.client.client_id))?;
    let concurrency = opts.concurrency.max(1);
    opts.client.receive_maximum = opts.client.receive_maximum.max(concurrency.min(u16::MAX as usize) as u16);
    let bus = Arc::new(BusClient::connect(opts.client.clone())?);
    bus.wait_ready(opts.ready_timeout)?;
    let identity = opts.identity();
    let remote = match opts.files.clone() {
        Some(files) => {
            std::fs::create_dir_all(&files.scratch)?;
            let mut client = opts.client.clone();
            client.client_id = format!("{}-blobs", opts.client.client_id);
            client.receive_maximum = 64;
            let mut xopts = ExchangeOptions::new(client, opts.topics.clone());
            xopts.audit = opts.audit.clone();
            xopts.identity = identity.clone();
            let exchange = BlobExchange::start(xopts, Arc::new(files.cache.clone()))?;
            let workspaces = blobs::Workspaces::new(&files.scratch.join("workspaces"), KEPT_WORKSPACES)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            Some(Remote { files, exchange, workspaces })
        }
        None => None,
    };
    tracing::info!(worker = %bus.client_id(), %identity, broker = %bus.broker(), subscription = %shared, concurrency,
        blobs = remote.as_ref().map(|r| r.exchange.node()).unwrap_or("-"), "worker ready");
    let inner = Arc::new(Inner {
        remote,
        allowed_roots: opts.allowed_roots.clone(),
        audit: opts.audit.clone(),
        identity,
        bus,
        dispatch,
        assign: opts.topics.assign(),
        query: opts.topics.query(),
        stopped,
        max_message: opts.max_message,
        memory: Mutex::new(Memory {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            cap: opts.remember.max(1),
            cap_bytes: opts.remember_bytes,
        }),
        stats: Arc::new(WorkerStats::default()),
        stop: Arc::new(AtomicBool::new(false)),
    });
    let mut threads = Vec::with_capacity(concurrency + 2);
    let (jobs, queued) = flume::unbounded::<Job>();
    for i in 0..concurrency {
        let (inner, queued) = (inner.clone(), queued.clone());
        threads.push(std::thread::Builder::new().name(format!("worker-{i}")).spawn(move || inner.execute_jobs(queued))?);
    }
    let intake = inner.clone();
    threads.push(std::thread::Builder::new().name("worker-intake".into()).spawn(move || intake.serve(jobs))?);
    let watcher = inner.clone();
    threads.push(std::thread::Builder::new().name("worker-reconnects".into()).spawn(move || watcher.watch_reconnects())?);
    Ok(Worker { inner, threads })
}

impl Worker {
    pub fn id(&self) -> &str {
        self.inner.bus.client_id()
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.inner.stats
    }

    /// Block until the worker stops (its connection closes for good).
    pub fn join(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Finish running tasks, then disconnect.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Tasks claimed but never run are left: say so, as the will would.
        let _ = self.inner.bus.publish(&self.inner.stopped, b"gone".to_vec(), Default::default());
        self.inner.bus.shutdown();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

fn rejection(reason: &str) -> TaskError {
    TaskError { message: format!("the worker rejected the task message: {reason}"), exit_code: ExitCode::Usage.code(), retryable: false, timed_out: false }
}

impl Inner {
    /// The intake: every delivery is checked, and a task this worker will
    /// run is claimed at once — not when an executor gets to it — then
    /// queued for the executors.
    fn serve(&self, jobs: flume::Sender<Job>) {
        while !self.stop.load(Ordering::SeqCst) {
            match self.bus.recv_timeout(Duration::from_millis(100)) {
                Recv::Message(d) => {
                    if let Some(job) = self.intake(d)
                        && jobs.send(job).is_err()
                    {
                        break;
                    }
                }
                Recv::Timeout => {}
                Recv::Closed => break,
            }
        }
    }

    /// An executor: runs queued tasks until the worker stops.
    fn execute_jobs(&self, jobs: flume::Receiver<Job>) {
        while !self.stop.load(Ordering::SeqCst) {
            match jobs.recv_timeout(Duration::from_millis(100)) {
                Ok(job) => self.run_job(job),
                Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => break,
            }
        }
    }

    /// A delivery, checked: refused, rejected, skipped, answered as a
    /// duplicate — or claimed and returned to be run.
    fn intake(&self, d: Delivery) -> Option<Job> {
        let topic = d.topic();
        if topic == self.query {
            self.answer_query(&d);
            return None;
        }
        if topic != self.assign {
            tracing::warn!(%topic, "message on an unexpected topic skipped");
            self.bus.ack(&d);
            return None;
        }
        if let Some(auth) = self.bus.auth()
            && let Err(e) = auth.verify(&d, Record::Yes)
        {
            self.refuse_unauthenticated(&d, e);
            return None;
        }
        let env = match TaskEnvelope::decode(d.payload(), self.max_message) {
            Ok(env) => env,
            Err(e) => {
                self.reject(&d, &e.to_string());
                return None;
            }
        };
        let Some(reply) = d.response_topic().map(str::to_string) else {
            self.reject(&d, "no response topic");
            return None;
        };
        let correlation = d.correlation().cloned().unwrap_or_else(|| Bytes::from(env.msg_id.clone().into_bytes()));
        if self.expired(&d, &env) {
            return None;
        }
        let begin = self.memory.lock().unwrap_or_else(|p| p.into_inner()).begin(&env.msg_id, &reply, &correlation);
        match begin {
            Begin::Done(result) => {
                tracing::info!(task = %env.task_id, msg_id = %env.msg_id, seq = env.seq, "duplicate task: answering with the result it already has");
                self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                let props = env.properties(None, Some(correlation), None);
                if self.bus.publish(&reply, result.to_vec(), props).is_ok() {
                    self.bus.ack(&d);
                }
                return None;
            }
            Begin::Running => {
                tracing::info!(task = %env.task_id, msg_id = %env.msg_id, seq = env.seq, "duplicate of a running task: its result will answer both");
                self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                self.bus.ack(&d);
                return None;
            }
            Begin::New => {}
        }
        self.claim(&env, &reply, &correlation);
        Some(Job { d, env, reply, correlation })
    }

    /// A resumed orchestrator asks who holds an attempt: answer with its
    /// claim (and its result when done) or its result; say nothing — and run
    /// nothing — when it is not ours.
    fn answer_query(&self, d: &Delivery) {
        let verified = self.bus.auth().is_none_or(|auth| match auth.verify(d, Record::Yes) {
            Ok(_) => true,
            Err(e) => {
                self.refuse_unauthenticated(d, e);
                false
            }
        });
        if !verified {
            return;
        }
        let (Ok(env), Some(reply)) = (TaskEnvelope::decode(d.payload(), self.max_message), d.response_topic()) else {
            return self.bus.ack(d);
        };
        let correlation = d.correlation().cloned().unwrap_or_else(|| Bytes::from(env.msg_id.clone().into_bytes()));
        let answer = self.memory.lock().unwrap_or_else(|p| p.into_inner()).ask(&env.msg_id, reply, &correlation);
        match answer {
            Begin::Running => {
                // Routine: the orchestrator asks for a task it has not heard
                // of for a while (`ask_when_quiet`), so a long one often.
                tracing::debug!(task = %env.task_id, msg_id = %env.msg_id, "asked for a task running here: claimed it again");
                let claim: ResultEnvelope = env.with_payload(ResultPayload::Claimed { worker: self.bus.client_id().to_string() });
                if let Ok(bytes) = claim.encode(self.max_message) {
                    let _ = self.bus.publish_hint(reply, bytes, claim.properties(None, Some(correlation), None));
                }
            }
            Begin::Done(result) => {
                tracing::info!(task = %env.task_id, msg_id = %env.msg_id, "asked for a task done here: sent its result again");
                let _ = self.bus.publish(reply, result.to_vec(), env.properties(None, Some(correlation), None));
            }
            Begin::New => {}
        }
        self.bus.ack(d);
    }

    /// A task past its deadline is skipped (and acked): its sender has
    /// published it again for another worker.
    fn expired(&self, d: &Delivery, env: &TaskEnvelope) -> bool {
        if env.deadline >= now_ms() {
            return false;
        }
        tracing::info!(task = %env.task_id, msg_id = %env.msg_id, seq = env.seq, "task past its deadline skipped");
        self.stats.expired.fetch_add(1, Ordering::Relaxed);
        self.bus.ack(d);
        true
    }

    fn run_job(&self, Job { d, env, reply, correlation }: Job) {
        // Queued here past its deadline: another worker may have it by now.
        if self.expired(&d, &env) {
            self.memory.lock().unwrap_or_else(|p| p.into_inner()).forget(&env.msg_id);
            return;
        }
        let span_id = envelope::new_span_id();
        let span = tracing::info_span!("task", run_id = %env.run_id, task_id = %env.task_id, trace_id = %env.trace_id,
            span_id = %span_id, parent_span_id = %env.span_id, msg_id = %env.msg_id, seq = env.seq);
        let _entered = span.enter();
        let started = Instant::now();
        let (outcome, sent_out) = self.execute(&env);
        self.stats.executed.fetch_add(1, Ordering::Relaxed);
        let mut inner_ack = None;
        let payload = match outcome {
            Ok(mut r) => {
                inner_ack = r.ack.take();
                let mut payload = ResultPayload::from_outcome(&Ok(r));
                if let (ResultPayload::Ok { out, blobs_from, .. }, Some((manifest, from))) = (&mut payload, sent_out) {
                    *out = Some(manifest);
                    *blobs_from = Some(from);
                }
                payload
            }
            Err(e) => ResultPayload::failed(&e),
        };
        let mut result: ResultEnvelope = env.with_payload(payload);
        result.span_id = span_id;
        result.parent_span_id = Some(env.span_id.clone());
        let bytes = match result.encode(self.max_message) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "result too large; answering with an error instead");
                result.payload = ResultPayload::failed(&TaskError {
                    message: format!("the task's result could not be sent: {e}"),
                    exit_code: ExitCode::Failed.code(),
                    retryable: false,
                    timed_out: false,
                });
                match result.encode(self.max_message) {
                    Ok(b) => b,
                    Err(e) => return self.reject(&d, &format!("cannot encode even an error result: {e}")),
                }
            }
        };
        let bytes = Arc::new(bytes);
        let props = result.properties(None, Some(correlation), None);
        // Remembered before it is published: a copy that arrives once the
        // result is out must find it done, not running (a copy at the same
        // response topic waits for no second answer).
        let sent = Resend { topic: reply.clone(), bytes: bytes.clone(), properties: props.clone() };
        let waiters = self.memory.lock().unwrap_or_else(|p| p.into_inner()).finish(&env.msg_id, sent);
        if let Err(e) = self.bus.publish(&reply, bytes.to_vec(), props) {
            // Not acked: the broker redelivers it (or the orchestrator
            // republishes), and the copy is answered from memory.
            tracing::warn!(error = %e, "could not publish the result");
            return;
        }
        for (topic, correlation) in waiters.into_iter().filter(|(topic, _)| *topic != reply) {
            let props = result.properties(None, Some(correlation), None);
            if let Err(e) = self.bus.publish(&topic, bytes.to_vec(), props) {
                // That sender republishes at its deadline and is answered from memory.
                tracing::warn!(error = %e, topic, "could not answer a copy that waited for this result");
            }
        }
        if let Some(ack) = inner_ack {
            ack();
        }
        self.bus.ack(&d);
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "task done");
    }

    /// Tell the task's sender this worker has it (a hint, at QoS 0): after
    /// a reconnect the sender re-sends only tasks no worker claimed.
    fn claim(&self, env: &TaskEnvelope, reply: &str, correlation: &Bytes) {
        let claim: ResultEnvelope = env.with_payload(ResultPayload::Claimed { worker: self.bus.client_id().to_string() });
        let Ok(bytes) = claim.encode(self.max_message) else { return };
        let resend = Resend { topic: reply.to_string(), bytes: Arc::new(bytes), properties: claim.properties(None, Some(correlation.clone()), None) };
        if let Err(e) = self.bus.publish_hint(&resend.topic, resend.bytes.to_vec(), resend.properties.clone()) {
            tracing::debug!(error = %e, "could not send the claim");
        }
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).claimed(&env.msg_id, resend);
    }

    /// Each time the connection comes back, publish again what the broker
    /// may have lost with the old one: the claims of running tasks and the
    /// recent results (their senders drop what they already have).
    fn watch_reconnects(&self) {
        let mut seen = self.bus.connections();
        while !self.stop.load(Ordering::SeqCst) && !self.bus.is_closed() {
            let now = self.bus.wait_reconnect(seen, Duration::from_millis(200));
            if now == seen {
                continue;
            }
            seen = now;
            let (claims, results) = self.memory.lock().unwrap_or_else(|p| p.into_inner()).to_resend();
            tracing::info!(claims = claims.len(), results = results.len(), "reconnected: announcing running tasks and recent results again");
            for c in claims {
                let _ = self.bus.publish_hint(&c.topic, c.bytes.to_vec(), c.properties);
            }
            for r in results {
                if let Err(e) = self.bus.publish(&r.topic, r.bytes.to_vec(), r.properties) {
                    tracing::warn!(error = %e, "could not publish a result again");
                }
            }
        }
    }

    /// What a message may not ask of this worker: a tool by path (only
    /// plugin names from the plugins directory), relative or `..` paths, or
    /// paths outside the allowed roots (when the worker will use the paths,
    /// not a manifest).
    fn refuse(&self, env: &TaskEnvelope, uses_paths: bool) -> Option<String> {
        let tool = &env.tool;
        if tool.is_empty() || !tool.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Some(format!("tool `{tool}` is not a plugin name"));
        }
        if !uses_paths {
            return None;
        }
        for (what, path) in [("workspace", &env.payload.workspace), ("staging", &env.payload.staging)] {
            if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir)) {
                return Some(format!("{what} path {} must be absolute, without `..`", path.display()));
            }
            if let Some(roots) = &self.allowed_roots
                && !roots.iter().any(|r| path.starts_with(r))
            {
                return Some(format!("{what} path {} is outside the worker's allowed roots", path.display()));
            }
        }
        None
    }

    /// Run the task; with remote files, also the `/out` manifest and where
    /// the orchestrator fetches its blobs (this worker's node, or the store).
    fn execute(&self, env: &TaskEnvelope) -> (Result<TaskResult, TaskError>, Option<(Manifest, String)>) {
        let uses_paths = self.remote.is_none() || env.payload.files.is_none();
        if let Some(why) = self.refuse(env, uses_paths) {
            tracing::warn!(reason = %why, "task refused");
            return (Err(TaskError { message: format!("refused by the worker: {why}"), exit_code: ExitCode::Denied.code(), retryable: false, timed_out: false }), None);
        }
        match (&self.remote, &env.payload.files) {
            (Some(remote), Some(files)) => match self.execute_remote(env, remote, files) {
                Ok((r, out)) => (Ok(r), Some(out)),
                Err(e) => (Err(e), None),
            },
            // A worker without the shared filesystem never reads paths a message names.
            (Some(_), None) => {
                tracing::warn!(task = %env.task_id, "task without a manifest refused: this worker has no shared filesystem");
                let message = "refused by the worker: it has no shared filesystem (--cache-dir) and the task carries no manifest of its workspace";
                (Err(TaskError { message: message.into(), exit_code: ExitCode::Usage.code(), retryable: false, timed_out: false }), None)
            }
            (None, _) => (self.execute_local(env.to_task()), None),
        }
    }

    /// The task on its manifest's workspace (kept from an earlier task, or
    /// materialised now) and a scratch `/out`, scanned into blobs
    /// afterwards; the scratch directory goes.
    fn execute_remote(&self, env: &TaskEnvelope, remote: &Remote, files: &Manifest) -> Result<(TaskResult, (Manifest, String)), TaskError> {
        let failed = |message: String, retryable: bool| TaskError { message, exit_code: ExitCode::Failed.code(), retryable, timed_out: false };
        let Some(from) = env.payload.blobs_from.as_deref() else {
            return Err(failed("the task carries a manifest but names no node to fetch its blobs from".into(), false));
        };
        let dir = tempfile::Builder::new()
            .prefix("task-")
            .tempdir_in(&remote.files.scratch)
            .map_err(|e| failed(format!("scratch directory {}: {e}", remote.files.scratch.display()), true))?;
        let mut task: Task = env.to_task();
        task.staging = dir.path().join("out");
        let store = remote.files.store.as_ref().filter(|s| s.url() == from);
        if store.is_none() && from.starts_with("s3://") {
            let mine = remote.files.store.as_ref().map(|s| s.url().to_string()).unwrap_or_else(|| "none".into());
            return Err(failed(format!("the task's blobs are in {from}, and this worker's artifact store is {mine}: start it with --artifacts {from}"), true));
        }
        let built = remote.workspaces.checkout(files, |dest| {
            blobs::materialise(files, dest, &remote.files.cache, |_, e| match store {
                Some(store) => store.get(&e.sha256),
                None => remote.exchange.fetch(from, &e.sha256, e.size),
            })
        });
        let (workspace, moved) = built
            .map_err(|e| {
                super::blob_exchange::audit_refused_blob(self.audit.as_ref(), &task, &self.identity, &e);
                failed(format!("the workspace of task {} could not be built on worker {}: {e}", env.task_id, self.identity), e.is_retryable())
            })?;
        task.workspace = workspace.path().to_path_buf();
        let mut result = self.execute_local(task.clone())?;
        let out = Scanner::default().scan(&task.staging, true).map_err(|e| failed(format!("/out of task {}: {e}", env.task_id), false))?;
        for (rel, entry) in &out.files {
            let path = blobs::under(&task.staging, rel).map_err(|e| failed(e.to_string(), false))?;
            let bytes = std::fs::read(&path).map_err(|e| failed(format!("/out/{rel}: {e}"), true))?;
            remote.files.cache.put(&entry.sha256, &bytes).map_err(|e| failed(format!("/out/{rel}: {e}"), true))?;
            if let Some(store) = store {
                store.ensure(&entry.sha256, || Ok(bytes)).map_err(|e| failed(format!("/out/{rel}: {e}"), true))?;
            }
        }
        result.usage.blobs_cached += moved.from_cache;
        result.usage.blobs_fetched += moved.fetched;
        result.usage.bytes_moved += moved.bytes_fetched;
        tracing::debug!(task = %env.task_id, cached = moved.from_cache, fetched = moved.fetched, bytes = moved.bytes_fetched, out = out.files.len(), "task ran on remote files");
        let back = match store {
            Some(store) => store.url().to_string(),
            None => remote.exchange.node().to_string(),
        };
        Ok((result, (out, back)))
    }

    fn execute_local(&self, task: Task) -> Result<TaskResult, TaskError> {
        if !task.workspace.is_dir() {
            return Err(TaskError {
                message: format!(
                    "workspace {} does not exist on worker {}: start the worker with --cache-dir to fetch workspaces over the bus, \
                     or give it the orchestrator's filesystem",
                    task.workspace.display(),
                    self.bus.client_id()
                ),
                exit_code: ExitCode::Usage.code(),
                retryable: false,
                timed_out: false,
            });
        }
        if let Err(e) = std::fs::create_dir_all(&task.staging) {
            return Err(TaskError {
                message: format!("staging directory {}: {e}", task.staging.display()),
                exit_code: ExitCode::Failed.code(),
                retryable: false,
                timed_out: false,
            });
        }
        match std::panic::catch_unwind(AssertUnwindSafe(|| self.dispatch.run(&task))) {
            Ok(r) => r,
            Err(p) => {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!(panic = %what, "the task's dispatch panicked");
                Err(TaskError { message: format!("the worker's dispatch panicked: {what}"), exit_code: ExitCode::Failed.code(), retryable: false, timed_out: false })
            }
        }
    }

    /// A task without a valid tag: log, count, audit and ack, unanswered.
    fn refuse_unauthenticated(&self, d: &Delivery, e: AuthError) {
        // What the message claims to be; unverified, for the record only.
        let claimed = TaskEnvelope::decode(d.payload(), self.max_message).ok();
        if let (AuthError::Replayed(_), Some(env)) = (&e, &claimed)
            && self.memory.lock().unwrap_or_else(|p| p.into_inner()).is_running(&env.msg_id)
        {
            // The broker redelivering a task still running here (after a
            // reconnect): its result will answer it.
            self.stats.duplicates.fetch_add(1, Ordering::Relaxed);
            self.bus.ack(d);
            return;
        }
        tracing::warn!(topic = %d.topic(), reason = %e, "task refused: not authenticated");
        self.stats.refused.fetch_add(1, Ordering::Relaxed);
        if let Some(audit) = &self.audit {
            let mut event = refusal_event("task", d, &e, claimed.as_ref());
            event.worker = self.identity.clone();
            audit.append(&[event]);
        }
        self.bus.ack(d);
    }

    /// Log, count, answer when the sender can be answered, and ack.
    fn reject(&self, d: &Delivery, reason: &str) {
        tracing::warn!(topic = %d.topic(), bytes = d.payload().len(), reason, "task message rejected");
        self.stats.rejected.fetch_add(1, Ordering::Relaxed);
        if let (Some(reply), Some(corr)) = (d.response_topic(), d.correlation()) {
            let msg_id = String::from_utf8_lossy(corr).chars().take(128).collect::<String>();
            let env = Envelope {
                msg_id: if msg_id.is_empty() { "unknown".into() } else { msg_id },
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
                payload: ResultPayload::failed(&rejection(reason)),
            };
            if let Ok(bytes) = env.encode(self.max_message) {
                let _ = self.bus.publish(reply, bytes, env.properties(None, Some(corr.clone()), None));
            }
        }
        self.bus.ack(d);
    }
}

impl From<EnvelopeError> for TaskError {
    fn from(e: EnvelopeError) -> Self {
        TaskError { message: e.to_string(), exit_code: ExitCode::Usage.code(), retryable: false, timed_out: false }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Memory {
        Memory { map: HashMap::new(), order: VecDeque::new(), bytes: 0, cap: 8, cap_bytes: 1 << 20 }
    }

    fn resend(topic: &str, bytes: &[u8]) -> Resend {
        Resend { topic: topic.into(), bytes: Arc::new(bytes.to_vec()), properties: PublishProperties::default() }
    }

    #[test]
    fn a_query_never_takes_a_task_on_and_a_claimed_task_is_announced_until_done() {
        let mut m = memory();
        let corr = Bytes::from_static(b"c");
        assert!(matches!(m.ask("t1", "r", &corr), Begin::New));
        assert!(m.map.is_empty(), "asking is not taking");
        assert!(matches!(m.begin("t1", "r", &corr), Begin::New));
        m.claimed("t1", resend("r", b"claim"));
        let (claims, results) = m.to_resend();
        assert_eq!((claims.len(), results.len()), (1, 0));
        assert!(matches!(m.ask("t1", "other", &corr), Begin::Running));
        let waiters = m.finish("t1", resend("r", b"result"));
        assert_eq!(waiters, vec![("other".to_string(), corr.clone())], "the asker waits for the result");
        let (claims, results) = m.to_resend();
        assert_eq!((claims.len(), results.len()), (0, 1));
        assert!(matches!(m.ask("t1", "r", &corr), Begin::Done(b) if b.as_slice() == b"result"));
    }

    #[test]
    fn a_claimed_task_never_run_is_forgotten_so_a_later_copy_runs() {
        let mut m = memory();
        let corr = Bytes::from_static(b"c");
        assert!(matches!(m.begin("t1", "r", &corr), Begin::New));
        m.forget("t1");
        assert!(matches!(m.begin("t1", "r", &corr), Begin::New));
    }
}
