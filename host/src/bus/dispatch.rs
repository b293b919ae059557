//! [`MqttDispatch`]: the orchestrator's [`Dispatch`] over the bus.
//!
//! `run` publishes the task's envelope to `orchestrator/tasks/assign` with a
//! v5 response topic (this dispatcher's `agents/status/complete/<id>`) and
//! the `msg_id` as correlation data, then blocks until the matching result
//! arrives. The returned [`TaskResult`]'s `ack` acknowledges the result
//! message, which the orchestrator calls after journaling it.
//!
//! - A task not answered by its deadline (its timeout plus `grace`) is
//!   asked for first (`tasks/query`: a worker that holds it answers, or
//!   claims it again and keeps it); if none does within `resend_after`, it is
//!   published again with the next `seq` (same `msg_id`, same task), so
//!   another worker takes it. After `max_deliveries` it goes to the DLQ: a message on
//!   `orchestrator/dlq` and a row in the DLQ store, and `run` returns a
//!   non-retryable error. A task the orchestrator gives up on (its retry
//!   budget spent, or a final failure) goes there too ([`Dispatch::gave_up`]).
//! - When this dispatcher's connection comes back (a broker restart, a
//!   network blip), whatever was in flight on the old one may be gone.
//!   After `resend_after` (time for the workers to reconnect), every
//!   unanswered task is rechecked: the workers are asked who holds it
//!   (`tasks/query`: its holder claims it again or sends its result again),
//!   and only a task no worker holds is published again, with the next
//!   `seq` and a fresh deadline. A worker's will (its connection died)
//!   rechecks the tasks it claimed the same way. So a restart costs
//!   seconds, not a deadline, and a held task is never sent to a second
//!   worker.
//! - Assignments go at QoS 2: a copy of one PUBLISH (re-sent after a
//!   reconnect, doubled on the way) reaches one worker. A task nothing was
//!   heard of for `ask_when_quiet` is asked for, not re-published: a claim
//!   or result lost on its way here comes again from its holder.
//! - A task's `msg_id` is derived from its run, task and attempt
//!   ([`attempt_msg_id`]): an orchestrator resuming a run whose previous
//!   orchestrator died sends an unfinished attempt again under the same key,
//!   and the worker that ran (or is running) it answers from its memory.
//! - The first result for a `msg_id` wins; later or unknown ones (a slow
//!   worker's, a duplicate's, a previous dispatcher's) are dropped and acked.
//!   A result claiming a `seq` that was never published is dropped.
//! - A failed task's result is acked when it arrives: the `Dispatch` trait
//!   gives errors no ack hook, and losing that result only means the
//!   orchestrator's retry runs again.
//! - With a key ([`ClientOptions::auth`]), tasks are signed to expire at
//!   their deadline, and a result without a valid tag (unsigned, forged,
//!   expired, replayed) is refused, acked and recorded as an audit event.
//! - With [`DispatchOptions::ship_files`], every task carries its
//!   workspace's manifest and this dispatcher's blob node, which serves the
//!   workspace files it listed; a result naming `/out` blobs has them
//!   fetched into the task's staging directory, each verified, before `run`
//!   returns. A blob that does not match its digest fails the attempt
//!   (retryably) and is audited.
//! - A gate's result is also published on `validation/gates/status`, and
//!   `docs/update/trigger` / `validation/gates/status` events a tool emitted
//!   on their topics, all in the run's trace.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use super::auth::{AuthError, Record};
use super::blob_exchange::{BlobExchange, ExchangeOptions};
use super::client::{BrokerAddr, BusClient, ClientOptions, FastPath, Recv};
use super::delivery::Delivery;
use super::dlq::{DeadLetter, DlqStore};
use super::envelope::{DlqPayload, Envelope, GateStatus, ResultEnvelope, ResultPayload, ResultWire, TaskEnvelope, TaskWire, Wire, MAX_MESSAGE};
use taylordash_protocol::{ExitCode, GateVerdict};
use super::topics::Topics;
use super::{BusError, hex_id, now_ms};
use crate::dispatch::{Dispatch, Task, TaskError, TaskResult};
use crate::audit::AuditLog;
use crate::blobs::{self, ArtifactStore, BlobError, Manifest, Scanner};
use taylordash_protocol::bus::Usage;

#[derive(Debug, Clone)]
pub struct DispatchOptions {
    pub client: ClientOptions,
    pub topics: Topics,
    /// Added to a task's timeout to make its deadline.
    pub grace: Duration,
    /// Deliveries of one attempt before it goes to the DLQ.
    pub max_deliveries: u32,
    pub max_message: usize,
    /// The DLQ store (SQLite); `None` keeps only the DLQ topic.
    pub dlq: Option<PathBuf>,
    pub ready_timeout: Duration,
    /// After a reconnect, how long to wait for workers' claims before
    /// re-sending the unclaimed tasks (above the workers' reconnect backoff).
    pub resend_after: Duration,
    /// A task nothing was heard of for this long (no claim, no result) is
    /// asked for again (`tasks/query`), so a claim or result lost on the
    /// way here is sent again by its holder; nothing is re-published.
    pub ask_when_quiet: Duration,
    /// Where refused (unauthenticated) results are recorded.
    pub audit: Option<AuditLog>,
    /// Send each task's workspace manifest and serve its blobs, for workers
    /// that do not share this machine's filesystem (a second connection).
    pub ship_files: bool,
    /// With `ship_files`: put blobs in this store instead of serving them
    /// over the bus (`--artifacts s3://…`).
    pub artifacts: Option<ArtifactStore>,
    /// The most `/out` bytes one result may name (a worker enforces the
    /// tool's own `out_bytes` quota; this bounds what a misbehaving one can
    /// make this machine fetch and write).
    pub max_out_bytes: u64,
}

impl DispatchOptions {
    pub fn new(brokers: Vec<BrokerAddr>, topics: Topics) -> Self {
        let client = ClientOptions::new(brokers, format!("td-orch-{}", hex_id(12)));
        DispatchOptions {
            client,
            topics,
            grace: Duration::from_secs(2),
            max_deliveries: 3,
            max_message: MAX_MESSAGE,
            dlq: None,
            ready_timeout: Duration::from_secs(10),
            resend_after: Duration::from_secs(3),
            ask_when_quiet: Duration::from_secs(5),
            audit: None,
            ship_files: false,
            artifacts: None,
            max_out_bytes: 1 << 30,
        }
    }
}

/// What wakes a `run` waiting for its task.
#[allow(clippy::large_enum_variant)] // the delivery itself, moved once per result; no allocation
enum Wake {
    /// Its result.
    Answer(Delivery, ResultEnvelope),
    /// The connection came back, or the task's worker is gone: ask the
    /// workers for it (its holder answers again; its claim or result may
    /// have died with the broker) and publish it again if none holds it.
    Recheck,
}

/// Wake a waiting `run` to recheck its task; at most one wake waits, so an
/// answer always finds room.
fn recheck(p: &Pending) {
    if p.tx.is_empty() {
        let _ = p.tx.try_send(Wake::Recheck);
    }
}

/// Where a task envelope is published.
#[derive(Clone, Copy)]
enum SendTo {
    /// `tasks/assign`: for one worker to run.
    Assign,
    /// `tasks/query`: asked of every worker; the holder answers.
    Query,
}

/// What asking the workers for an attempt found.
#[allow(clippy::large_enum_variant)] // returned once per ask, moved straight on
enum Asked {
    Answer(Delivery, ResultEnvelope),
    /// A worker claims it (again): it runs there.
    Held,
    Nobody,
}

struct Pending {
    tx: flume::Sender<Wake>,
    /// Deliveries published so far.
    seq: u64,
    /// The worker that said it runs the task, and when it last said so.
    claimed_by: Option<String>,
    claimed_at: Option<Instant>,
}

struct Inner {
    bus: Arc<BusClient>,
    topics: Topics,
    reply_topic: String,
    pending: Mutex<HashMap<String, Pending>>,
    max_message: usize,
    audit: Option<AuditLog>,
    resend_after: Duration,
    /// Workers whose will arrived, and when: their claimed tasks are re-sent
    /// `resend_after` later unless they claim them again meanwhile.
    gone: Mutex<HashMap<String, Instant>>,
}

pub struct MqttDispatch {
    inner: Arc<Inner>,
    grace: Duration,
    ask_when_quiet: Duration,
    max_deliveries: u32,
    dlq: Option<DlqStore>,
    /// (run, task, attempt) already dead-lettered.
    dead: Mutex<HashSet<(String, String, u32)>>,
    router: Option<JoinHandle<()>>,
    /// With `ship_files`: what hashed the workspaces (and serves them), and
    /// this dispatcher's blob node.
    files: Option<(Arc<Scanner>, BlobExchange)>,
    artifacts: Option<ArtifactStore>,
    max_out_bytes: u64,
}

/// Acks a result once: when the orchestrator calls the hook, or when the
/// result is dropped without it (so later acks are not held back).
struct AckOnce {
    bus: Arc<BusClient>,
    delivery: Option<Delivery>,
}

impl AckOnce {
    fn ack(mut self) {
        if let Some(d) = self.delivery.take() {
            self.bus.ack(&d);
        }
    }
}

impl Drop for AckOnce {
    fn drop(&mut self) {
        if let Some(d) = self.delivery.take() {
            tracing::debug!("a result was dropped without its ack hook; acking it");
            self.bus.ack(&d);
        }
    }
}

fn bus_error(message: String) -> TaskError {
    TaskError { message, exit_code: ExitCode::Failed.code(), retryable: true, timed_out: false }
}

impl MqttDispatch {
    /// Connect, subscribe to this dispatcher's response topic, start routing results.
    pub fn connect(mut opts: DispatchOptions) -> Result<Self, BusError> {
        let id = opts.client.client_id.clone();
        let reply_topic = opts.topics.results_for(&id)?;
        opts.client.subscriptions = vec![reply_topic.clone(), opts.topics.gone_all()];
        let dlq = opts.dlq.as_deref().map(DlqStore::open).transpose()?;
        // Results reach their waiting `run` straight from the event loop;
        // what cannot be routed there (to drop and ack) goes to the router thread.
        let slot: Arc<OnceLock<Weak<Inner>>> = Arc::new(OnceLock::new());
        let fast: FastPath = {
            let slot = slot.clone();
            Arc::new(move |d: Delivery| match slot.get().and_then(Weak::upgrade) {
                Some(inner) => inner.deliver(d).err(),
                None => Some(d),
            })
        };
        let blob_client = ClientOptions { client_id: format!("{id}-blobs"), ..opts.client.clone() };
        let bus = Arc::new(BusClient::connect_with(opts.client, Some(fast))?);
        bus.wait_ready(opts.ready_timeout)?;
        tracing::info!(dispatcher = %id, broker = %bus.broker(), reply_topic = %reply_topic, "MQTT dispatch ready");
        let inner = Arc::new(Inner {
            bus,
            topics: opts.topics,
            reply_topic,
            pending: Mutex::new(HashMap::new()),
            max_message: opts.max_message,
            audit: opts.audit,
            resend_after: opts.resend_after,
            gone: Mutex::new(HashMap::new()),
        });
        let files = if opts.ship_files {
            let scanner = Arc::new(Scanner::default());
            let mut xopts = ExchangeOptions::new(blob_client, inner.topics.clone());
            xopts.audit = inner.audit.clone();
            xopts.ready_timeout = opts.ready_timeout;
            Some((scanner.clone(), BlobExchange::start(xopts, scanner)?))
        } else {
            None
        };
        let _ = slot.set(Arc::downgrade(&inner));
        let router = {
            let inner = inner.clone();
            std::thread::Builder::new().name("mqtt-results".into()).spawn(move || inner.route())?
        };
        Ok(MqttDispatch {
            inner,
            grace: opts.grace,
            ask_when_quiet: opts.ask_when_quiet.max(Duration::from_millis(100)),
            max_deliveries: opts.max_deliveries.max(1),
            dlq,
            dead: Mutex::new(HashSet::new()),
            router: Some(router),
            files,
            artifacts: opts.artifacts,
            max_out_bytes: opts.max_out_bytes,
        })
    }

    pub fn bus(&self) -> &Arc<BusClient> {
        &self.inner.bus
    }

    pub fn topics(&self) -> &Topics {
        &self.inner.topics
    }

    /// Counts the tasks published and not yet answered (the queue a worker
    /// pool is sized by); usable from another thread.
    pub fn queue_depth(&self) -> impl Fn() -> usize + Send + Sync + 'static {
        let inner = self.inner.clone();
        move || inner.lock_pending().len()
    }

    pub fn dlq(&self) -> Option<&DlqStore> {
        self.dlq.as_ref()
    }

    /// Publish a task envelope again (`taylordash dlq replay`): a fresh
    /// `msg_id` and deadline, the same task. Waits for its result like `run`.
    pub fn replay(&self, envelope_json: &str) -> Result<TaskResult, TaskError> {
        let env = TaskEnvelope::decode(envelope_json.as_bytes(), self.inner.max_message)?;
        // A new delivery, not a copy of the dead one: workers remember that
        // one's (failed) result under its key.
        self.send(&env.to_task(), uuid::Uuid::new_v4().simple().to_string(), false)
    }

    /// Publish a task envelope, answered on this dispatcher's topic. An
    /// assignment goes at QoS 2: a copy of its PUBLISH (re-sent after a
    /// reconnect, doubled on the way) must not reach a second worker. A
    /// query may come twice; it runs nothing.
    fn publish_to(&self, to: SendTo, env: &TaskEnvelope) -> Result<(), TaskError> {
        let bytes = env.encode(self.inner.max_message).map_err(|e| TaskError {
            message: format!("task {}: {e}", env.task_id),
            exit_code: ExitCode::Usage.code(),
            retryable: false,
            timed_out: false,
        })?;
        // No message expiry: rumqttd's shared-subscription cursor stalls on an
        // expired message. Workers skip tasks past their `deadline` instead.
        let props = env.properties(Some(self.inner.reply_topic.clone()), Some(Bytes::from(env.msg_id.clone().into_bytes())), None);
        let sent = match to {
            SendTo::Assign => self.inner.bus.publish_once_until(&self.inner.topics.assign(), bytes, props, env.deadline),
            SendTo::Query => self.inner.bus.publish_until(&self.inner.topics.query(), bytes, props, env.deadline),
        };
        sent.map_err(|e| bus_error(format!("task {}: {e}", env.task_id)))
    }

    fn dead_letter(&self, env: &TaskEnvelope, deliveries: u64) -> TaskError {
        let reason = format!(
            "no worker finished task {} within its deadline ({} deliveries of {} ms + {} ms grace)",
            env.task_id,
            deliveries,
            env.payload.timeout_ms,
            self.grace.as_millis()
        );
        self.mark_dead(env);
        let message = match self.record_dead_letter(env, deliveries, &reason) {
            Some(i) => format!("{reason}; sent to the DLQ (entry {i})"),
            None => format!("{reason}; sent to the DLQ"),
        };
        TaskError { message, exit_code: ExitCode::Failed.code(), retryable: false, timed_out: false }
    }

    /// Whether this attempt was dead-lettered already (and mark it so).
    fn mark_dead(&self, env: &TaskEnvelope) -> bool {
        let mut dead = self.dead.lock().unwrap_or_else(|p| p.into_inner());
        if dead.len() > 10_000 {
            dead.clear();
        }
        !dead.insert((env.run_id.clone(), env.task_id.clone(), env.attempt))
    }

    /// Publish to `orchestrator/dlq` and record in the store; the entry id.
    fn record_dead_letter(&self, env: &TaskEnvelope, deliveries: u64, reason: &str) -> Option<i64> {
        tracing::error!(task = %env.task_id, msg_id = %env.msg_id, deliveries, "task sent to the DLQ: {reason}");
        let letter: Envelope<DlqPayload> =
            env.with_payload(DlqPayload { reason: reason.to_string(), deliveries, task: env.payload.clone() });
        match letter.encode(self.inner.max_message) {
            Ok(bytes) => {
                let props = letter.properties(None, None, None);
                if let Err(e) = self.inner.bus.publish(&self.inner.topics.dlq(), bytes, props) {
                    tracing::warn!(error = %e, "could not publish to the DLQ topic");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not encode the DLQ message"),
        }
        let store = self.dlq.as_ref()?;
        let json = serde_json::to_string(env).unwrap_or_default();
        let dead = DeadLetter {
            run_id: &env.run_id,
            task_id: &env.task_id,
            msg_id: &env.msg_id,
            tool: &env.tool,
            attempt: env.attempt,
            deliveries,
            reason,
            envelope: &json,
        };
        match store.record(&dead) {
            Ok(i) => Some(i),
            Err(e) => {
                tracing::error!(error = %e, "could not record the dead letter");
                None
            }
        }
    }

    /// Republish gate outcomes and the seed's status events a tool emitted.
    fn publish_status(&self, env: &TaskEnvelope, result: &TaskResult) {
        let mut out: Vec<(String, Value)> = Vec::new();
        if env.agent_id == "gate" {
            let status = GateStatus {
                stage: env.payload.stage.clone(),
                gate: env.tool.clone(),
                task_id: env.task_id.clone(),
                passed: GateVerdict::parse(&result.output).is_ok_and(|v| v.passed),
                report: serde_json::from_str(&result.output).unwrap_or(Value::Null),
            };
            out.push((self.inner.topics.gates_status(), serde_json::to_value(status).unwrap_or(Value::Null)));
        }
        for e in &result.events {
            if let Some(topic) = self.inner.topics.for_event(&e.topic) {
                let payload = serde_json::from_str(&e.payload).unwrap_or_else(|_| Value::String(e.payload.clone()));
                out.push((topic, payload));
            }
        }
        for (topic, payload) in out {
            let status = env.with_payload(payload);
            match status.encode(self.inner.max_message) {
                Ok(bytes) => {
                    if let Err(e) = self.inner.bus.publish(&topic, bytes, status.properties(None, None, None)) {
                        tracing::warn!(%topic, error = %e, "could not publish a status message");
                    }
                }
                Err(e) => tracing::warn!(%topic, error = %e, "status message not published"),
            }
        }
    }
}

impl MqttDispatch {
    /// Put the workspace blobs the store lacks; the bytes uploaded.
    fn upload(&self, task: &Task, manifest: &Manifest, store: &ArtifactStore) -> Result<u64, TaskError> {
        let mut bytes = 0;
        for (rel, entry) in &manifest.files {
            let read = || {
                let path = blobs::under(&task.workspace, rel)?;
                std::fs::read(&path).map_err(|source| BlobError::Io { path, source })
            };
            let sent = store.ensure(&entry.sha256, read).map_err(|e| TaskError {
                message: format!("task {}: {rel} could not be put in the artifact store: {e}", task.task_id),
                exit_code: ExitCode::Failed.code(),
                retryable: e.is_retryable(),
                timed_out: false,
            })?;
            if sent {
                bytes += entry.size;
            }
        }
        Ok(bytes)
    }

    /// Fetch the `/out` blobs a worker named into the task's staging
    /// directory, each verified against its digest; counted in `usage`.
    fn receive_out(&self, task: &Task, out: &Manifest, from: Option<&str>, usage: &mut Usage) -> Result<(), TaskError> {
        let failed = |message: String, retryable: bool| TaskError { message, exit_code: ExitCode::Failed.code(), retryable, timed_out: false };
        let (Some((_, exchange)), Some(from)) = (&self.files, from) else {
            return Err(failed(format!("task {}: the worker sent /out as blobs this dispatcher cannot fetch", task.task_id), true));
        };
        if out.total_bytes() > self.max_out_bytes {
            return Err(failed(
                format!("task {}: worker node {from} names {} bytes of /out, more than the {} this orchestrator accepts", task.task_id, out.total_bytes(), self.max_out_bytes),
                false,
            ));
        }
        let store = self.artifacts.as_ref().filter(|s| s.url() == from);
        if store.is_none() && from.starts_with("s3://") {
            return Err(failed(format!("task {}: the worker put /out in {from}, not in this orchestrator's artifact store", task.task_id), false));
        }
        std::fs::create_dir_all(&task.staging).map_err(|e| failed(format!("staging directory {}: {e}", task.staging.display()), true))?;
        for (rel, entry) in &out.files {
            let fetched = blobs::under(&task.staging, rel)
                .and_then(|path| {
                    let bytes = match store {
                        Some(store) => store.get(&entry.sha256)?,
                        None => exchange.fetch(from, &entry.sha256, entry.size)?,
                    };
                    Ok((path, bytes))
                })
                .and_then(|(path, bytes)| blobs::write_file(&path, &bytes, entry.mode, false));
            if let Err(e) = fetched {
                super::blob_exchange::audit_refused_blob(self.inner.audit.as_ref(), task, from, &e);
                return Err(failed(format!("/out/{rel} of task {} from worker node {from}: {e}", task.task_id), e.is_retryable()));
            }
            usage.blobs_out += 1;
            usage.bytes_moved += entry.size;
        }
        Ok(())
    }
}

impl Dispatch for MqttDispatch {
    /// Past the orchestrator's retry budget (or a final failure): to the DLQ,
    /// unless this attempt went there already for want of a worker.
    fn gave_up(&self, task: &Task, error: &TaskError) {
        let env = TaskEnvelope::for_task(task, &uuid::Uuid::new_v4().simple().to_string(), 1, 0);
        if self.mark_dead(&env) {
            return;
        }
        let reason = format!("the orchestrator gave up on task {} after attempt {}: {}", task.task_id, task.attempt, error.message);
        self.record_dead_letter(&env, 0, &reason);
    }

    fn resends_attempts(&self) -> bool {
        true
    }

    fn run(&self, task: &Task) -> Result<TaskResult, TaskError> {
        self.send(task, attempt_msg_id(task), false)
    }

    fn run_resent(&self, task: &Task) -> Result<TaskResult, TaskError> {
        self.send(task, attempt_msg_id(task), true)
    }
}

impl MqttDispatch {
    /// Send `task` under `msg_id` and wait for its result (see [`Dispatch::run`]).
    /// With `ask_first` (an attempt a previous orchestrator sent), the
    /// workers are asked who holds it before it is published for anyone to
    /// take: the one running it (or done with it) answers, and it runs once.
    fn send(&self, task: &Task, msg_id: String, ask_first: bool) -> Result<TaskResult, TaskError> {
        let span = tracing::info_span!("dispatch", run_id = %task.run_id, task_id = %task.task_id,
            trace_id = %task.trace_id, span_id = %task.span_id, msg_id = %msg_id);
        let _entered = span.enter();
        let (tx, rx) = flume::bounded::<Wake>(2);
        self.inner.lock_pending().insert(msg_id.clone(), Pending { tx, seq: 1, claimed_by: None, claimed_at: None });
        let _cleanup = Cleanup { inner: &self.inner, msg_id: &msg_id };
        let window = task.timeout + self.grace;
        let mut env = TaskEnvelope::for_task(task, &msg_id, 1, 0);
        let mut uploaded = 0;
        if let Some((scanner, exchange)) = &self.files {
            let manifest = scanner.scan(&task.workspace, false).map_err(|e| TaskError {
                message: format!("the workspace of task {} could not be listed: {e}", task.task_id),
                exit_code: ExitCode::Failed.code(),
                retryable: false,
                timed_out: false,
            })?;
            let from = match &self.artifacts {
                Some(store) => {
                    uploaded = self.upload(task, &manifest, store)?;
                    store.url().to_string()
                }
                None => exchange.node().to_string(),
            };
            env.payload.files = Some(manifest);
            env.payload.blobs_from = Some(from);
        }
        // Deliveries that reached their deadline unanswered; a re-send after
        // a reconnect is not one.
        let mut expired = 0u64;
        let mut why = "";
        let mut seq = 0;
        // Before publishing for anyone to take, ask whether a worker holds
        // the attempt: a resumed one, and one past its deadline (its result
        // may be what was lost, or its worker slow, not dead).
        let mut ask = ask_first;
        loop {
            let held = ask && {
                env.seq = seq.max(1);
                env.deadline = now_ms() + window.as_millis() as u64;
                match self.ask(&env, &rx, &msg_id)? {
                    Asked::Answer(delivery, result) => return self.answered(task, &env, delivery, result, uploaded),
                    Asked::Held => true,
                    Asked::Nobody => false,
                }
            };
            if held {
                tracing::info!("a worker holds this attempt: waiting for its result, not sending it to another");
            } else {
                seq += 1;
                env.seq = seq;
                env.deadline = now_ms() + window.as_millis() as u64;
                if let Some(p) = self.inner.lock_pending().get_mut(&msg_id) {
                    p.seq = seq;
                }
                if seq > 1 {
                    tracing::warn!(seq, "{why}");
                }
                self.publish_to(SendTo::Assign, &env)?;
            }
            match self.wait(&rx, &env, &msg_id, Instant::now() + window) {
                Ok(Wake::Recheck) => why = "no worker holds the task after a reconnect (or its worker is gone): publishing it again",
                Ok(Wake::Answer(delivery, result)) => return self.answered(task, &env, delivery, result, uploaded),
                Err(flume::RecvTimeoutError::Timeout) => {
                    expired += 1;
                    if expired >= self.max_deliveries as u64 {
                        return Err(self.dead_letter(&env, expired));
                    }
                    why = "task past its deadline and no worker holds it: publishing it again for another worker";
                }
                Err(flume::RecvTimeoutError::Disconnected) => {
                    return Err(bus_error(format!("task {}: the bus stopped", task.task_id)));
                }
            }
            // Woken or past the deadline: ask before publishing again.
            ask = true;
        }
    }

    /// Wait for the attempt's result (or a recheck) until `deadline`. When
    /// nothing was heard of it for `ask_when_quiet` (no claim since it was
    /// sent or last asked for), ask its holder again without waiting: a
    /// result or claim lost on its way here (the broker sends it again only
    /// when we reconnect) comes again. Nothing is published again here.
    fn wait(&self, rx: &flume::Receiver<Wake>, env: &TaskEnvelope, msg_id: &str, deadline: Instant) -> Result<Wake, flume::RecvTimeoutError> {
        let quiet = self.ask_when_quiet;
        let mut heard = Instant::now();
        loop {
            match rx.recv_deadline(deadline.min(heard + quiet)) {
                Err(flume::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                other => return other,
            }
            let claimed = self.inner.lock_pending().get(msg_id).and_then(|p| p.claimed_at);
            if let Some(at) = claimed.filter(|at| at.elapsed() < quiet) {
                heard = at;
                continue;
            }
            tracing::debug!(quiet = ?quiet, "nothing heard of the task: asking who holds it");
            if let Err(e) = self.publish_to(SendTo::Query, env) {
                tracing::debug!(error = %e.message, "could not ask; the deadline still holds");
            }
            heard = Instant::now();
        }
    }

    /// Ask every worker (`tasks/query`) who holds `env`'s attempt, and wait
    /// up to `resend_after` for its result or a fresh claim.
    fn ask(&self, env: &TaskEnvelope, rx: &flume::Receiver<Wake>, msg_id: &str) -> Result<Asked, TaskError> {
        let asked = Instant::now();
        self.publish_to(SendTo::Query, env)?;
        let until = asked + self.inner.resend_after;
        while Instant::now() < until {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(Wake::Answer(delivery, result)) => return Ok(Asked::Answer(delivery, result)),
                Ok(Wake::Recheck) | Err(flume::RecvTimeoutError::Timeout) => {}
                Err(flume::RecvTimeoutError::Disconnected) => return Err(bus_error(format!("task {}: the bus stopped", env.task_id))),
            }
            if self.inner.lock_pending().get(msg_id).and_then(|p| p.claimed_at).is_some_and(|at| at >= asked) {
                return Ok(Asked::Held);
            }
        }
        Ok(Asked::Nobody)
    }

    /// The result a worker sent: fetch its `/out` blobs (when shipped),
    /// publish its status events, and hand it back with its ack.
    fn answered(&self, task: &Task, env: &TaskEnvelope, delivery: Delivery, mut result: ResultEnvelope, uploaded: u64) -> Result<TaskResult, TaskError> {
        tracing::debug!(answered_seq = result.seq, "result received");
        let sent_out = match &mut result.payload {
            ResultPayload::Ok { out, blobs_from, .. } => out.take().map(|m| (m, blobs_from.take())),
            ResultPayload::Failed { .. } | ResultPayload::Claimed { .. } => None,
        };
        match result.payload.into_outcome() {
            Ok(mut r) => {
                if let Some((out, from)) = sent_out
                    && let Err(e) = self.receive_out(task, &out, from.as_deref(), &mut r.usage)
                {
                    self.inner.bus.ack(&delivery);
                    return Err(e);
                }
                r.usage.bytes_moved += uploaded;
                self.publish_status(env, &r);
                let guard = AckOnce { bus: self.inner.bus.clone(), delivery: Some(delivery) };
                r.ack = Some(Box::new(move || guard.ack()));
                Ok(r)
            }
            Err(e) => {
                self.inner.bus.ack(&delivery);
                Err(e)
            }
        }
    }
}

struct Cleanup<'a> {
    inner: &'a Inner,
    msg_id: &'a str,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.inner.lock_pending().remove(self.msg_id);
    }
}

impl Inner {
    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hand a result to the `run` waiting for it; gives the delivery back
    /// (with why) when none is.
    #[allow(clippy::result_large_err)] // the delivery itself, handed back; no allocation
    ///
    /// An authenticated result's nonce is used up only when it is taken, so
    /// the router, checking again what comes back, records it then, and
    /// judges a refusal the same way.
    fn deliver(&self, d: Delivery) -> Result<(), Delivery> {
        let verified = match self.bus.auth() {
            Some(auth) => match auth.verify(&d, Record::No) {
                Ok(v) => Some(v),
                Err(_) => return Err(d),
            },
            None => None,
        };
        let Ok(result) = ResultEnvelope::decode(d.payload(), self.max_message) else { return Err(d) };
        let key = d.correlation().map(|c| String::from_utf8_lossy(c).into_owned()).unwrap_or_else(|| result.msg_id.clone());
        let mut pending = self.lock_pending();
        let Some(p) = pending.get_mut(&key).filter(|p| result.seq <= p.seq) else { return Err(d) };
        if let (Some(auth), Some(v)) = (self.bus.auth(), &verified)
            && auth.claim(v).is_err()
        {
            return Err(d);
        }
        if let ResultPayload::Claimed { worker } = result.payload {
            tracing::debug!(msg_id = %key, %worker, "task claimed");
            p.claimed_by = Some(worker);
            p.claimed_at = Some(Instant::now());
            drop(pending);
            self.bus.ack(&d); // a claim comes at QoS 0; nothing to ack unless a worker sent it at 1
            return Ok(());
        }
        let taken = p.tx.try_send(Wake::Answer(d.clone(), result)).is_ok();
        if taken {
            pending.remove(&key);
            Ok(())
        } else {
            Err(d)
        }
    }

    /// Results the fast path did not route: route them if they can be now,
    /// else log why, drop and ack them. Also watches the connection: once it
    /// has come back and `resend_after` has passed, wakes every unclaimed
    /// task to be published again.
    fn route(&self) {
        let mut seen = self.bus.connections();
        let mut resend_at: Option<Instant> = None;
        loop {
            match self.bus.recv_timeout(Duration::from_millis(100)) {
                Recv::Message(d) => self.route_one(d),
                Recv::Timeout => {}
                Recv::Closed => break,
            }
            let connections = self.bus.connections();
            if connections != seen {
                seen = connections;
                resend_at = Some(Instant::now() + self.resend_after);
            }
            if resend_at.is_some_and(|at| Instant::now() >= at) {
                resend_at = None;
                self.resend_unclaimed();
            }
            self.resend_for_the_gone();
        }
    }

    /// A worker's will: remember when it went (see [`Inner::gone`]).
    fn worker_gone(&self, worker: &str, d: &Delivery) {
        // The will comes from the worker's receiving connection (`<id>`), the
        // notice of a clean stop from its publishing one (`<id>-pub`).
        let worker = worker.strip_suffix("-pub").unwrap_or(worker);
        let held = self.lock_pending().values().filter(|p| p.claimed_by.as_deref() == Some(worker)).count();
        if held > 0 {
            tracing::warn!(%worker, tasks = held, "a worker is gone (its connection died, or it stopped): its tasks go to others unless it claims them again");
            self.gone.lock().unwrap_or_else(|p| p.into_inner()).insert(worker.to_string(), Instant::now());
        }
        self.bus.ack(d);
    }

    /// Recheck the tasks of workers gone `resend_after` ago (time for a
    /// worker that only lost its connection — a broker restart fires every
    /// will — to come back and answer).
    fn resend_for_the_gone(&self) {
        let due: Vec<String> = {
            let mut gone = self.gone.lock().unwrap_or_else(|p| p.into_inner());
            let due: Vec<String> = gone.iter().filter(|(_, at)| at.elapsed() >= self.resend_after).map(|(w, _)| w.clone()).collect();
            for w in &due {
                gone.remove(w);
            }
            due
        };
        for worker in due {
            let pending = self.lock_pending();
            for p in pending.values().filter(|p| p.claimed_by.as_deref() == Some(&worker)) {
                recheck(p);
            }
        }
    }

    fn route_one(&self, d: Delivery) {
        if let Some(worker) = self.topics.gone_worker(&d.topic()) {
            return self.worker_gone(worker, &d);
        }
        if let Some(auth) = self.bus.auth()
            && let Err(e) = auth.verify(&d, Record::Yes)
        {
            return self.refuse_unauthenticated(&d, e);
        }
        let result = match ResultEnvelope::decode(d.payload(), self.max_message) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(topic = %d.topic(), bytes = d.payload().len(), reason = %e, "result message rejected");
                return self.bus.ack(&d);
            }
        };
        let d = match self.deliver(d) {
            Ok(()) => return,
            Err(d) => d,
        };
        let key = d.correlation().map(|c| String::from_utf8_lossy(c).into_owned()).unwrap_or_else(|| result.msg_id.clone());
        let why = match self.lock_pending().get(&key) {
            None => "late or duplicate result dropped",
            Some(p) if result.seq > p.seq => "result for a delivery never published dropped",
            Some(_) => "duplicate result dropped",
        };
        tracing::debug!(msg_id = %key, seq = result.seq, task = %result.task_id, "{why}");
        self.bus.ack(&d);
    }

    /// After a reconnect: recheck every unanswered task (ask who holds
    /// it, publish it again if nobody does).
    fn resend_unclaimed(&self) {
        let pending = self.lock_pending();
        if pending.is_empty() {
            return;
        }
        tracing::warn!(tasks = pending.len(), "the broker connection came back: asking who holds each unanswered task, re-sending the rest");
        for p in pending.values() {
            recheck(p);
        }
    }

    fn refuse_unauthenticated(&self, d: &Delivery, e: AuthError) {
        tracing::warn!(topic = %d.topic(), reason = %e, "result refused: not authenticated");
        if let Some(audit) = &self.audit {
            let claimed = ResultEnvelope::decode(d.payload(), self.max_message).ok();
            audit.append(&[super::auth::refusal_event("result", d, &e, claimed.as_ref())]);
        }
        self.bus.ack(d);
    }
}

impl Drop for MqttDispatch {
    fn drop(&mut self) {
        self.inner.bus.shutdown();
        if let Some(r) = self.router.take() {
            let _ = r.join();
        }
    }
}

/// The idempotency key of one attempt of one task of one run: the same for
/// every orchestrator that sends it, unique across runs (a run id is).
pub fn attempt_msg_id(task: &Task) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [task.run_id.as_bytes(), task.task_id.as_bytes(), &task.attempt.to_be_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    hex::encode(&h.finalize()[..16])
}
