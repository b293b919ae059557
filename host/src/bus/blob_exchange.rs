//! Blobs over the bus: how a worker without the orchestrator's filesystem
//! gets the workspace's files, and how the orchestrator gets a tool's `/out`
//! back. Each party runs one [`BlobExchange`] — its own MQTT connection,
//! named `<node>` — that serves the blobs it holds (a [`BlobSource`]) and
//! fetches blobs from other nodes.
//!
//! - **Request/response by digest, in chunks.** A request on
//!   `blobs/get/<holder>` asks for `len ≤ 1 MiB` bytes of one blob from an
//!   offset (JSON `{"sha256", "offset", "len"}`), with the requester's
//!   `blobs/data/<node>` as its v5 response topic and `<fetch>:<offset>` as
//!   correlation data. The answer's payload is one byte, `0` then the bytes,
//!   or `1` then a UTF-8 reason.
//! - **Bounded in flight.** A fetch keeps at most [`ExchangeOptions::window`]
//!   chunk requests outstanding, so at most that many MiB of one blob are on
//!   the wire; a chunk not answered in time is asked for again, a few times.
//! - **Verified.** The requester hashes the whole blob and refuses it when
//!   the digest differs ([`BlobError::DigestMismatch`]); a holder only serves
//!   what it has under that digest, and a blob name is 64 hex digits or
//!   nothing is read.
//! - **Signed** like every bus message when the client has a key: an
//!   unsigned, forged, expired or replayed request or chunk is dropped,
//!   acked and recorded as an audit event.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use serde::{Deserialize, Serialize};

use super::auth::{AuthError, Record, refusal_event};
use super::client::{BusClient, ClientOptions, Recv};
use super::delivery::Delivery;
use super::envelope::Envelope;
use super::topics::Topics;
use super::{BusError, hex_id};
use crate::audit::AuditLog;
use crate::blobs::{self, ArtifactStore, BlobCache, BlobError, Scanner};

/// The most bytes one chunk message carries.
pub const CHUNK: usize = 1 << 20;
/// The largest blob a fetch accepts (its size comes from a manifest another
/// party wrote).
pub const MAX_BLOB: u64 = 4 << 30;
const DATA: u8 = 0;
const REFUSED: u8 = 1;

/// What a node serves: a byte range of a blob it holds, by digest.
pub trait BlobSource: Send + Sync {
    /// Up to `len` bytes of blob `sha256` from `offset`; `None` when this
    /// node does not hold it.
    fn read_at(&self, sha256: &str, offset: u64, len: usize) -> Option<Vec<u8>>;
}

/// The orchestrator's side: the workspace files its [`Scanner`] has seen.
impl BlobSource for Scanner {
    fn read_at(&self, sha256: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        blobs::read_range(&self.locate(sha256)?, offset, len).ok()
    }
}

/// A worker's side: its blob cache (the `/out` files of its tasks are put there).
impl BlobSource for BlobCache {
    fn read_at(&self, sha256: &str, offset: u64, len: usize) -> Option<Vec<u8>> {
        blobs::read_range(&self.path_of(sha256)?, offset, len).ok()
    }
}

#[derive(Debug, Clone)]
pub struct ExchangeOptions {
    /// Its own connection; `client_id` is the node name others fetch from.
    pub client: ClientOptions,
    pub topics: Topics,
    /// Chunk requests one fetch keeps outstanding.
    pub window: usize,
    /// How long a chunk may take before it is asked for again.
    pub chunk_timeout: Duration,
    /// Times one chunk is asked for before the fetch fails.
    pub attempts: u32,
    pub ready_timeout: Duration,
    /// Where refused (unauthenticated) messages are recorded.
    pub audit: Option<AuditLog>,
    /// The name audit events give this party (a worker's identity).
    pub identity: String,
}

impl ExchangeOptions {
    pub fn new(client: ClientOptions, topics: Topics) -> Self {
        ExchangeOptions {
            client,
            topics,
            window: 8,
            chunk_timeout: Duration::from_secs(10),
            attempts: 3,
            ready_timeout: Duration::from_secs(10),
            audit: None,
            identity: String::new(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    sha256: String,
    offset: u64,
    len: u64,
}

/// A chunk (or a refusal) on its way to the fetch that asked for it.
type Reply = (u64, Result<Vec<u8>, String>);

struct Inner {
    bus: BusClient,
    node: String,
    topics: Topics,
    source: Arc<dyn BlobSource>,
    waiting: Mutex<HashMap<String, flume::Sender<Reply>>>,
    window: usize,
    chunk_timeout: Duration,
    attempts: u32,
    audit: Option<AuditLog>,
    identity: String,
    stop: AtomicBool,
}

/// One node of the blob exchange. Dropping it disconnects.
pub struct BlobExchange {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
}

impl BlobExchange {
    /// Connect as `opts.client.client_id`, subscribe to this node's request
    /// and reply topics, and serve `source`.
    pub fn start(mut opts: ExchangeOptions, source: Arc<dyn BlobSource>) -> Result<Self, BusError> {
        let node = opts.client.client_id.clone();
        let requests = opts.topics.blob_requests(&node)?;
        let replies = opts.topics.blob_replies(&node)?;
        opts.client.subscriptions = vec![requests, replies];
        let bus = BusClient::connect(opts.client)?;
        bus.wait_ready(opts.ready_timeout)?;
        let inner = Arc::new(Inner {
            bus,
            node,
            topics: opts.topics,
            source,
            waiting: Mutex::new(HashMap::new()),
            window: opts.window.max(1),
            chunk_timeout: opts.chunk_timeout,
            attempts: opts.attempts.max(1),
            audit: opts.audit,
            identity: opts.identity,
            stop: AtomicBool::new(false),
        });
        // Requests are served on their own thread: publishing may wait for
        // the connection, and replies to this node's fetches must keep flowing.
        let (serve_tx, serve_rx) = flume::bounded::<Delivery>(1024);
        let receiver = {
            let inner = inner.clone();
            std::thread::Builder::new().name("blobs-recv".into()).spawn(move || inner.receive(serve_tx))?
        };
        let server = {
            let inner = inner.clone();
            std::thread::Builder::new().name("blobs-serve".into()).spawn(move || {
                while let Ok(d) = serve_rx.recv() {
                    inner.serve(&d);
                }
            })?
        };
        tracing::debug!(node = %inner.node, "blob exchange ready");
        Ok(BlobExchange { inner, threads: vec![receiver, server] })
    }

    /// The name other parties fetch this node's blobs by.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Blob `sha256` of `size` bytes from node `from`, verified.
    pub fn fetch(&self, from: &str, sha256: &str, size: u64) -> Result<Vec<u8>, BlobError> {
        self.inner.fetch(from, sha256, size)
    }
}

impl Drop for BlobExchange {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        self.inner.bus.shutdown();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}


impl Inner {
    fn receive(&self, serve: flume::Sender<Delivery>) {
        let requests = self.topics.blob_requests(&self.node).unwrap_or_default();
        while !self.stop.load(Ordering::SeqCst) {
            let d = match self.bus.recv_timeout(Duration::from_millis(200)) {
                Recv::Message(d) => d,
                Recv::Timeout => continue,
                Recv::Closed => break,
            };
            if let Some(auth) = self.bus.auth()
                && let Err(e) = auth.verify(&d, Record::Yes)
            {
                self.refuse(&d, e);
                continue;
            }
            if d.topic() == requests.as_str() {
                if let Err(flume::TrySendError::Full(d) | flume::TrySendError::Disconnected(d)) = serve.try_send(d) {
                    // The requester asks again after its chunk timeout.
                    tracing::warn!("blob requests queue full; a request dropped");
                    self.bus.ack(&d);
                }
                continue;
            }
            self.route(&d);
            self.bus.ack(&d);
        }
    }

    /// A chunk to the fetch waiting for it; anything else is dropped.
    fn route(&self, d: &Delivery) {
        let Some((fetch, offset)) = d
            .correlation()
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.split_once(':'))
            .and_then(|(f, o)| Some((f.to_string(), o.parse::<u64>().ok()?)))
        else {
            tracing::debug!("blob chunk without a usable correlation dropped");
            return;
        };
        let payload = d.payload();
        let reply = match payload.split_first() {
            Some((&DATA, bytes)) => Ok(bytes.to_vec()),
            Some((&REFUSED, why)) => Err(String::from_utf8_lossy(why).into_owned()),
            _ => Err("malformed chunk".to_string()),
        };
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = waiting.get(&fetch) {
            // Bounded by the window (plus re-asked chunks); a full channel means
            // a duplicate answer nobody needs.
            let _ = tx.try_send((offset, reply));
        }
    }

    fn serve(&self, d: &Delivery) {
        let answer = |payload: Vec<u8>| {
            if let (Some(reply), Some(corr)) = (d.response_topic(), d.correlation()) {
                let props = PublishProperties { correlation_data: Some(corr.clone()), ..PublishProperties::default() };
                if let Err(e) = self.bus.publish(reply, payload, props) {
                    tracing::warn!(error = %e, "could not answer a blob request");
                }
            }
        };
        let request: Request = match serde_json::from_slice(d.payload()) {
            Ok(r) => r,
            Err(e) => {
                answer([&[REFUSED][..], format!("malformed request: {e}").as_bytes()].concat());
                return self.bus.ack(d);
            }
        };
        let valid_reply = d.response_topic().is_some_and(|t| t.starts_with(&format!("{}blobs/data/", self.topics.prefix())));
        if !valid_reply {
            tracing::warn!(topic = ?d.response_topic(), "blob request with a response topic outside blobs/data refused");
            return self.bus.ack(d);
        }
        let payload = if !blobs::is_digest(&request.sha256) {
            [&[REFUSED][..], b"not a sha256 digest"].concat()
        } else if request.len > CHUNK as u64 {
            [&[REFUSED][..], format!("chunks are at most {CHUNK} bytes").as_bytes()].concat()
        } else {
            match self.source.read_at(&request.sha256, request.offset, request.len as usize) {
                Some(bytes) => [&[DATA][..], &bytes].concat(),
                None => [&[REFUSED][..], format!("node {} does not hold this blob", self.node).as_bytes()].concat(),
            }
        };
        answer(payload);
        self.bus.ack(d);
    }

    fn ask(&self, to: &str, fetch: &str, sha256: &str, offset: u64, len: u64) -> Result<(), BlobError> {
        let topic = self.topics.blob_requests(to).map_err(|e| BlobError::unavailable(sha256, e.to_string()))?;
        let reply = self.topics.blob_replies(&self.node).map_err(|e| BlobError::unavailable(sha256, e.to_string()))?;
        let body = serde_json::to_vec(&Request { sha256: sha256.to_string(), offset, len }).unwrap_or_default();
        let props = PublishProperties {
            response_topic: Some(reply),
            correlation_data: Some(Bytes::from(format!("{fetch}:{offset}"))),
            ..PublishProperties::default()
        };
        self.bus.publish(&topic, body, props).map_err(|e| BlobError::unavailable(sha256, e.to_string()))
    }

    fn fetch(&self, from: &str, sha256: &str, size: u64) -> Result<Vec<u8>, BlobError> {
        if size > MAX_BLOB {
            return Err(BlobError::unavailable(sha256, format!("{size} bytes is more than the {MAX_BLOB} a blob may have")));
        }
        if size == 0 {
            return blobs::verified(sha256, Vec::new());
        }
        let fetch = hex_id(12);
        let (tx, rx) = flume::bounded::<Reply>(self.window * 2 + 2);
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(fetch.clone(), tx);
        let result = self.collect(from, &fetch, sha256, size, &rx);
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&fetch);
        blobs::verified(sha256, result?)
    }

    /// Ask for every chunk (at most `window` outstanding) and assemble them.
    fn collect(&self, from: &str, fetch: &str, sha256: &str, size: u64, rx: &flume::Receiver<Reply>) -> Result<Vec<u8>, BlobError> {
        let chunk = CHUNK as u64;
        let mut buf = vec![0u8; 0];
        buf.try_reserve(size.min(64 << 20) as usize).map_err(|e| BlobError::unavailable(sha256, e.to_string()))?;
        let mut next = 0u64;
        // offset → (asked at, times asked)
        let mut outstanding: HashMap<u64, (Instant, u32)> = HashMap::new();
        loop {
            while outstanding.len() < self.window && next < size {
                self.ask(from, fetch, sha256, next, chunk.min(size - next))?;
                outstanding.insert(next, (Instant::now(), 1));
                next += chunk;
            }
            if outstanding.is_empty() {
                return Ok(buf);
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((offset, reply)) => {
                    if outstanding.remove(&offset).is_none() {
                        continue; // an answer to a chunk asked twice
                    }
                    let bytes = reply.map_err(|why| BlobError::unavailable(sha256, format!("node {from}: {why}")))?;
                    let want = chunk.min(size - offset) as usize;
                    if bytes.len() != want {
                        return Err(BlobError::unavailable(sha256, format!("node {from} sent {} bytes at offset {offset}, not {want}", bytes.len())));
                    }
                    let end = offset as usize + want;
                    if buf.len() < end {
                        buf.resize(end, 0);
                    }
                    buf[offset as usize..end].copy_from_slice(&bytes);
                }
                Err(flume::RecvTimeoutError::Timeout) => {
                    let late: Vec<u64> = outstanding.iter().filter(|(_, (at, _))| at.elapsed() > self.chunk_timeout).map(|(o, _)| *o).collect();
                    for offset in late {
                        let (_, times) = outstanding[&offset];
                        if times >= self.attempts {
                            return Err(BlobError::unavailable(sha256, format!("node {from} did not answer ({times} requests of {:?})", self.chunk_timeout)));
                        }
                        self.ask(from, fetch, sha256, offset, chunk.min(size - offset))?;
                        outstanding.insert(offset, (Instant::now(), times + 1));
                    }
                }
                Err(flume::RecvTimeoutError::Disconnected) => return Err(BlobError::unavailable(sha256, "the exchange stopped")),
            }
        }
    }

    fn refuse(&self, d: &Delivery, e: AuthError) {
        tracing::warn!(topic = %d.topic(), reason = %e, "blob message refused: not authenticated");
        if let Some(audit) = &self.audit {
            let mut event = refusal_event("blob message", d, &e, None::<&Envelope<()>>);
            event.worker = self.identity.clone();
            audit.append(&[event]);
        }
        self.bus.ack(d);
    }
}

/// Where a worker keeps blobs and builds its tasks' directories.
#[derive(Debug, Clone)]
pub struct RemoteFiles {
    pub cache: BlobCache,
    /// Scratch space for each task's `/workspace` and `/out` (removed after).
    pub scratch: PathBuf,
    /// The artifact store tasks may name instead of a bus node (`--artifacts`).
    pub store: Option<ArtifactStore>,
}

/// Record a blob refused because its content did not match its digest
/// (changed in the store or on the way); other failures are not denials.
pub(crate) fn audit_refused_blob(audit: Option<&AuditLog>, task: &crate::dispatch::Task, worker: &str, e: &BlobError) {
    if let (Some(audit), BlobError::DigestMismatch { .. }) = (audit, e) {
        let subject = crate::audit::Subject {
            plugin: task.tool.clone(),
            trace_id: task.trace_id.clone(),
            run_id: task.run_id.clone(),
            worker: worker.to_string(),
            ..Default::default()
        };
        audit.append(&[subject.event("blob:digest", "deny", e.to_string())]);
    }
}
