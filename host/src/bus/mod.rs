//! The bus: how tasks, results and status travel between the orchestrator
//! and workers over MQTT v5 (docs/architecture.md, "The bus contract").
//!
//! This module owns the transport and nothing above it: the topic names
//! ([`topics`]), the envelope every message carries ([`envelope`]), the one
//! MQTT client with its continuously polled event loop, reconnects, broker
//! failover and ordered manual acks ([`client`]), the embedded rumqttd broker
//! ([`broker`]), the worker loop that runs tasks through an inner
//! [`Dispatch`] ([`worker`]), the orchestrator
//! side, [`MqttDispatch`], which implements the same trait over the bus
//! ([`dispatch`]), and the dead-letter queue's record ([`dlq`]).
//!
//! Guarantees, and where they come from:
//! - QoS 1 (task assignments at QoS 2, so a copy of one PUBLISH reaches
//!   one worker), persistent sessions (clean start off, a session
//!   expiry), a connection made again when a PUBLISH was lost on the way
//!   (its acknowledgement passed, or missing past `ack_timeout`), manual acks: a worker acks a task only after it has published
//!   the task's result; the orchestrator acks a result only after it has
//!   journaled it (the [`TaskResult::ack`](crate::dispatch::TaskResult)
//!   hook). Acks leave each connection in the order the messages arrived
//!   (rumqttd refuses out-of-order acks), whatever order the work finished in.
//! - Idempotency: a message's `msg_id` is the key. A worker executes a
//!   `msg_id` once and answers duplicates from its cache; the orchestrator
//!   takes the first result of a `msg_id` and drops the rest.
//! - Dead workers: a task past its deadline (its timeout plus a grace) is
//!   published again with the next `seq`, so a live worker takes it; workers
//!   use a short session expiry so a dead worker's session (which Mosquitto
//!   keeps routing shared-subscription messages to) goes away quickly. After
//!   `max_deliveries` the task goes to the DLQ (topic and SQLite record).
//! - Malformed or oversized messages are rejected with a logged reason and
//!   acked, never crashing a worker or the orchestrator.
//!
//! **Files.** On one machine a task travels with the *paths* of its run's
//! workspace and staging directory: a worker reads the workspace and writes
//! the tool's `/out` there, and the orchestrator merges from the staging
//! directory after the result arrives. When the orchestrator ships files
//! ([`DispatchOptions::ship_files`], on with an external broker), a task
//! also carries its workspace's manifest and the name of the orchestrator's
//! blob node; a worker started with a cache directory
//! ([`WorkerOptions::files`]) then needs no shared filesystem: it fetches
//! what its cache lacks over the bus ([`blob_exchange`]), and the
//! orchestrator fetches `/out` back the same way and verifies every digest
//! before its usual merge. A worker without either answers a task whose
//! workspace it cannot see with a non-retryable error saying so.

pub mod auth;
pub mod blob_exchange;
pub mod broker;
pub mod client;
pub mod delivery;
pub mod dispatch;
pub mod dlq;
pub mod envelope;
pub mod pool;
pub mod topics;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;

pub use auth::{AuthError, BusAuth, BusKey};
pub use blob_exchange::{BlobExchange, BlobSource, ExchangeOptions, RemoteFiles};
pub use broker::EmbeddedBroker;
pub use client::{BrokerAddr, BusClient, ClientOptions, Credentials};
pub use delivery::Delivery;
pub use dispatch::{DispatchOptions, MqttDispatch};
pub use dlq::{DlqEntry, DlqStore};
pub use envelope::{Envelope, EnvelopeError, ResultPayload, ResultWire, TaskPayload, TaskWire, Wire};
pub use pool::{Pool, PoolOptions};
pub use topics::Topics;
pub use worker::{Worker, WorkerOptions, WorkerStats, run_worker};

use crate::dispatch::{Dispatch, Task, TaskError, TaskResult};
use crate::audit::AuditLog;

/// Why the bus could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bad broker address `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("bad topic {what} `{value}`: {reason}")]
    BadTopic { what: &'static str, value: String, reason: String },
    #[error("no broker answered ({brokers}) within {waited:?}")]
    Unreachable { brokers: String, waited: std::time::Duration },
    #[error("the broker refused the subscription to `{0}`")]
    SubscriptionRefused(String),
    #[error("the bus client has stopped")]
    Closed,
    #[error("embedded broker: {0}")]
    Broker(String),
    #[error("TLS for {broker}: {reason}")]
    Tls { broker: String, reason: String },
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("DLQ store {path}: {source}")]
    Dlq { path: PathBuf, source: rusqlite::Error },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Where the broker is: one started in this process, or external ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerChoice {
    /// Start rumqttd inside this process on a free loopback port.
    Embedded,
    /// External brokers, tried in order when one fails.
    External(Vec<BrokerAddr>),
}

impl BrokerChoice {
    /// `embedded`, or a comma-separated list of `mqtt://host:port` /
    /// `mqtts://host:port` URLs.
    pub fn parse(specs: &[String]) -> Result<Self, BusError> {
        let parts: Vec<&str> =
            specs.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|s| !s.is_empty()).collect();
        match parts.as_slice() {
            [] | ["embedded"] => Ok(BrokerChoice::Embedded),
            many if many.contains(&"embedded") => Err(BusError::BadUrl {
                url: specs.join(","),
                reason: "`embedded` cannot be combined with other brokers".into(),
            }),
            many => Ok(BrokerChoice::External(many.iter().map(|s| BrokerAddr::parse(s)).collect::<Result<_, _>>()?)),
        }
    }
}

/// What a local bus needs: the broker, the topic prefix, how many workers
/// this process starts, and the client options both sides share.
#[derive(Debug, Clone)]
pub struct LocalBusOptions {
    pub broker: BrokerChoice,
    pub prefix: String,
    /// Workers started in this process (0 = only external `taylordash worker`s).
    pub workers: usize,
    pub credentials: Option<Credentials>,
    pub ca_file: Option<PathBuf>,
    /// Where the DLQ record lives (a SQLite file), if anywhere.
    pub dlq: Option<PathBuf>,
    /// The key that signs and checks every message. `None` with the embedded
    /// broker: a fresh key only this process knows. `None` with external
    /// brokers: messages travel unsigned (the CLI refuses that unless asked).
    pub key: Option<BusKey>,
    /// Where refused messages are recorded.
    pub audit: Option<AuditLog>,
    /// How the local workers are named in audit events ([`WorkerOptions::identity`]).
    pub worker_identity: String,
    /// Ship workspace manifests and serve blobs, for workers on other
    /// machines ([`DispatchOptions::ship_files`]).
    pub ship_files: bool,
    /// Blobs in this store instead of over the bus ([`DispatchOptions::artifacts`]).
    pub artifacts: Option<crate::blobs::ArtifactStore>,
    /// The most local workers the pool grows to while tasks queue up
    /// (`workers` when it must not grow).
    pub max_workers: usize,
    /// How long local workers stand idle before the pool shrinks by one.
    pub idle_after: std::time::Duration,
}

/// A bus for one `taylordash run`: the embedded broker (if chosen), `workers`
/// local workers over `inner`, and the [`MqttDispatch`] the orchestrator uses.
/// Dropping it stops the workers and disconnects.
pub struct LocalBus {
    pub dispatch: MqttDispatch,
    pub pool: Pool,
    pub broker: Option<EmbeddedBroker>,
}

impl LocalBus {
    pub fn start(opts: &LocalBusOptions, inner: Arc<dyn Dispatch>) -> Result<Self, BusError> {
        let topics = Topics::new(&opts.prefix)?;
        let (broker, brokers) = match &opts.broker {
            BrokerChoice::Embedded => {
                let b = EmbeddedBroker::start(&broker::BrokerOptions::default())?;
                let addr = b.addr();
                (Some(b), vec![addr])
            }
            BrokerChoice::External(list) => (None, list.clone()),
        };
        let key = match (&opts.key, &broker) {
            (Some(k), _) => Some(k.clone()),
            (None, Some(_)) => Some(BusKey::generate()?),
            (None, None) => None,
        };
        // Each party its own signer, as if in its own process.
        let with_auth = |mut c: ClientOptions| {
            c.credentials = opts.credentials.clone();
            c.ca_file = opts.ca_file.clone();
            c.auth = key.clone().map(|k| Arc::new(BusAuth::new(k)));
            c
        };
        let worker_options = {
            let mut w = WorkerOptions::new(brokers.clone(), topics.clone());
            w.client = with_auth(w.client);
            w.audit = opts.audit.clone();
            w.identity = Some(opts.worker_identity.clone());
            w
        };
        let spawn = Box::new(move || {
            let mut w = worker_options.clone();
            // Each worker its own client id.
            w.client.client_id = format!("td-worker-{}", hex_id(12));
            run_worker(w, inner.clone())
        });
        let mut d = DispatchOptions::new(brokers, topics);
        d.client = with_auth(d.client);
        d.dlq = opts.dlq.clone();
        d.audit = opts.audit.clone();
        d.ship_files = opts.ship_files;
        d.artifacts = opts.artifacts.clone();
        let dispatch = MqttDispatch::connect(d)?;
        let pool_options = PoolOptions { max: opts.max_workers.max(opts.workers), idle_after: opts.idle_after, ..PoolOptions::fixed(opts.workers) };
        let pool = Pool::start(pool_options, spawn, Box::new(dispatch.queue_depth()))?;
        Ok(LocalBus { dispatch, pool, broker })
    }
}

impl Dispatch for LocalBus {
    fn run(&self, task: &Task) -> Result<TaskResult, TaskError> {
        self.dispatch.run(task)
    }

    fn gave_up(&self, task: &Task, error: &TaskError) {
        self.dispatch.gave_up(task, error)
    }

    fn take_events(&self) -> Vec<(String, serde_json::Value)> {
        self.pool.take_events()
    }

    fn resends_attempts(&self) -> bool {
        self.dispatch.resends_attempts()
    }

    fn run_resent(&self, task: &Task) -> Result<TaskResult, TaskError> {
        self.dispatch.run_resent(task)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A random lowercase hex id of `len` characters (at most 32).
pub(crate) fn hex_id(len: usize) -> String {
    let s = uuid::Uuid::new_v4().simple().to_string();
    s[..len.min(s.len())].to_string()
}
