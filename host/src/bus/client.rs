//! The MQTT v5 client: rumqttc options, the event loop, and the ways the
//! rest of the bus talks to it.
//!
//! - Each connection's event loop is polled continuously in exactly one
//!   place: a thread this client owns (`drive`). It reconnects with
//!   exponential backoff and jitter, moves to the next broker of the list
//!   after `failover_after` failed attempts, and (re)subscribes after every
//!   CONNACK.
//! - A client holds two connections: one subscribes, receives and acks; the
//!   other only publishes (see [`BusClient`] for why).
//! - Sessions are persistent: clean start off and a session expiry.
//! - Acks are manual ([`BusClient::ack`]). rumqttd disconnects a client that
//!   acks out of order, so acks leave in the order the messages arrived:
//!   a finished message waits for those before it (`ConnState::acks`). Every
//!   delivery must therefore be acked eventually (the worker and dispatcher
//!   ack rejected and duplicate messages too).
//! - Backpressure is explicit and bounded: incoming messages go through a
//!   bounded channel (sized above the receive maximum, so a compliant broker
//!   never fills it); publishes and acks go through rumqttc's bounded request
//!   channel, and a caller blocks when it is full.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::{Filter, LastWill, Packet, Publish, PublishProperties, SubAck, Subscribe, SubscribeReasonCode};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Connection, Event, MqttOptions, Request};
use rumqttc::{NetworkOptions, Outgoing, Transport};

use super::auth::BusAuth;
use super::delivery::Delivery;
use super::envelope::MAX_PACKET;
use super::{BusError, now_ms};

/// A broker's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl BrokerAddr {
    pub fn tcp(host: &str, port: u16) -> Self {
        BrokerAddr { host: host.to_string(), port, tls: false }
    }

    /// `mqtt://host[:port]` (1883), `mqtts://host[:port]` (8883), `tcp://`, or `host:port`.
    pub fn parse(url: &str) -> Result<Self, BusError> {
        let bad = |reason: &str| BusError::BadUrl { url: url.to_string(), reason: reason.to_string() };
        let (tls, rest) = match url.split_once("://") {
            Some(("mqtt" | "tcp", r)) => (false, r),
            Some(("mqtts" | "ssl" | "tls", r)) => (true, r),
            Some((scheme, _)) => return Err(bad(&format!("unknown scheme `{scheme}` (use mqtt:// or mqtts://)"))),
            None => (false, url),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains(['/', '@', '?']) {
            return Err(bad("expected host[:port] after the scheme (credentials go in --username/--password)"));
        }
        let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
            // [v6]:port
            let (h, p) = stripped.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            (h.to_string(), p.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("the port must be 1-65535"))?,
            None if tls => 8883,
            None => 1883,
        };
        Ok(BrokerAddr { host, port, tls })
    }
}

impl std::fmt::Display for BrokerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"…").finish()
    }
}

/// How to connect. [`ClientOptions::new`] gives the defaults.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Tried in order; the next one after `failover_after` failed attempts.
    pub brokers: Vec<BrokerAddr>,
    pub client_id: String,
    /// How long the broker keeps the session (subscriptions, unacked
    /// messages) after a disconnect.
    pub session_expiry: Duration,
    pub keep_alive: Duration,
    /// The v5 maximum packet size, both directions.
    pub max_packet_size: u32,
    /// The v5 receive maximum: unacked QoS 1 messages the broker may send us.
    pub receive_maximum: u16,
    /// Capacity of the incoming channel (kept above `receive_maximum`).
    pub incoming_capacity: usize,
    /// Capacity of rumqttc's request channel (publishes, acks).
    pub request_capacity: usize,
    pub credentials: Option<Credentials>,
    /// PEM CA bundle for `mqtts://` (default: the system bundle).
    pub ca_file: Option<PathBuf>,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub failover_after: u32,
    pub connect_timeout: Duration,
    /// A PUBLISH the broker has not acknowledged (PUBACK, PUBREC) for this
    /// long, with no acknowledgement of any other since, was lost on the way
    /// (a broker that does not answer, a middlebox); so was one whose later
    /// PUBLISH was acknowledged first (brokers acknowledge in the order they
    /// received). Either way the connection is dropped and made again, and
    /// the session's unacknowledged messages go out again. Checked as events
    /// arrive (at least every keep-alive).
    pub ack_timeout: Duration,
    /// Filters subscribed at QoS 1 after every connect.
    pub subscriptions: Vec<String>,
    /// Publish on a second connection (`<client_id>-pub`), so a reply never
    /// waits behind the broker's PUBACK of the request (see [`BusClient`]).
    pub split_publish: bool,
    /// Sign every published message (see [`super::auth`]).
    pub auth: Option<Arc<BusAuth>>,
    /// The receiving connection's MQTT will (topic, payload): what the
    /// broker publishes when that connection dies without a DISCONNECT.
    pub last_will: Option<(String, Vec<u8>)>,
}

impl ClientOptions {
    pub fn new(brokers: Vec<BrokerAddr>, client_id: impl Into<String>) -> Self {
        ClientOptions {
            brokers,
            client_id: client_id.into(),
            session_expiry: Duration::from_secs(300),
            keep_alive: Duration::from_secs(10),
            max_packet_size: MAX_PACKET,
            receive_maximum: 64,
            incoming_capacity: 256,
            request_capacity: 1024,
            credentials: None,
            ca_file: None,
            backoff_initial: Duration::from_millis(50),
            // A broker that restarts is back within seconds: try often enough
            // that its clients are too (a local reconnect attempt is cheap).
            backoff_max: Duration::from_secs(2),
            failover_after: 2,
            connect_timeout: Duration::from_secs(3),
            ack_timeout: Duration::from_secs(10),
            subscriptions: Vec::new(),
            split_publish: true,
            auth: None,
            last_will: None,
        }
    }

    fn mqtt_options(&self, broker: &BrokerAddr) -> Result<MqttOptions, BusError> {
        let mut o = MqttOptions::new(self.client_id.clone(), broker.host.clone(), broker.port);
        o.set_clean_start(false)
            .set_session_expiry_interval(Some(self.session_expiry.as_secs().min(u32::MAX as u64) as u32))
            .set_keep_alive(self.keep_alive.max(Duration::from_secs(1)))
            .set_max_packet_size(Some(self.max_packet_size))
            .set_receive_maximum(Some(self.receive_maximum.max(1)))
            .set_manual_acks(true)
            .set_request_channel_capacity(self.request_capacity.max(1))
            .set_connection_timeout(self.connect_timeout.as_secs().max(1))
            .set_pending_throttle(Duration::ZERO);
        let mut net = NetworkOptions::new();
        net.set_tcp_nodelay(true);
        net.set_connection_timeout(self.connect_timeout.as_secs().max(1));
        o.set_network_options(net);
        if let Some(c) = &self.credentials {
            o.set_credentials(c.username.clone(), c.password.clone());
        }
        if broker.tls {
            // rumqttc builds its rustls config from the process-wide provider:
            // make it ring (the only one we link) unless one is installed already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let path = self.ca_file.clone().unwrap_or_else(|| PathBuf::from("/etc/ssl/certs/ca-certificates.crt"));
            let ca = std::fs::read(&path).map_err(|e| BusError::Tls {
                broker: broker.to_string(),
                reason: format!("CA bundle {}: {e} (pass --ca-file)", path.display()),
            })?;
            o.set_transport(Transport::tls(ca, None, None));
        }
        Ok(o)
    }
}

/// Runs on the event loop thread for each delivery, before the incoming
/// channel: returns `None` when it took the delivery (it must not block),
/// or gives it back to go through the channel as usual.
pub type FastPath = Arc<dyn Fn(Delivery) -> Option<Delivery> + Send + Sync>;

/// Where a connection is, shared by the event loop and its users.
struct ConnState {
    connected: bool,
    subscribed: bool,
    refused: Option<String>,
    closed: bool,
    generation: u64,
    broker: usize,
    /// Unacked QoS>0 deliveries of this connection, in arrival order:
    /// (packet id, qos, done).
    acks: VecDeque<(u16, QoS, bool)>,
}

struct Shared {
    state: Mutex<ConnState>,
    changed: Condvar,
    /// Held while acks are handed to rumqttc, so they leave in order.
    ack_send: Mutex<()>,
    stopping: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ConnState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One MQTT connection: its rumqttc handle, state, and event-loop thread.
struct Link {
    client: Client,
    shared: Arc<Shared>,
    client_id: String,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Link {
    fn start(
        opts: &ClientOptions,
        all: &[MqttOptions],
        client_id: &str,
        subscriptions: Vec<String>,
        tx: Option<flume::Sender<Delivery>>,
        fast: Option<FastPath>,
    ) -> Result<Link, BusError> {
        let all: Vec<MqttOptions> = all
            .iter()
            .map(|o| {
                let mut o = o.clone();
                o.set_client_id(client_id.to_string());
                o
            })
            .collect();
        let (client, connection) = Client::new(all[0].clone(), opts.request_capacity.max(1));
        let shared = Arc::new(Shared {
            state: Mutex::new(ConnState {
                connected: false,
                subscribed: subscriptions.is_empty(),
                refused: None,
                closed: false,
                generation: 0,
                broker: 0,
                acks: VecDeque::new(),
            }),
            changed: Condvar::new(),
            ack_send: Mutex::new(()),
            stopping: AtomicBool::new(false),
        });
        let driver = Driver {
            connection,
            all,
            brokers: opts.brokers.clone(),
            shared: shared.clone(),
            tx,
            fast,
            subscriptions,
            backoff_initial: opts.backoff_initial,
            backoff_max: opts.backoff_max,
            failover_after: opts.failover_after.max(1),
            ack_timeout: opts.ack_timeout,
            unacked: Unacked::default(),
        };
        let thread = std::thread::Builder::new().name(format!("mqtt-{client_id}")).spawn(move || drive(driver))?;
        Ok(Link { client, shared, client_id: client_id.to_string(), thread: Mutex::new(Some(thread)) })
    }

    fn shutdown(&self) {
        if self.shared.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.client.try_disconnect().is_err() {
            tracing::debug!("request channel full at shutdown; closing without DISCONNECT");
        }
        // Wait (boundedly) for the event loop to finish; it never blocks on us.
        let until = Instant::now() + Duration::from_secs(3);
        let mut st = self.shared.lock();
        while !st.closed {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::warn!(client = %self.client_id, "the MQTT event loop did not stop in time; leaving it");
                return;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left.min(Duration::from_millis(50)))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        drop(st);
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
    }
}

/// A connected (or connecting) client. Cheap to share behind an `Arc`.
///
/// It holds two connections to the broker: one that subscribes, receives
/// and acks, and one that only publishes. Brokers that do not set
/// TCP_NODELAY (rumqttd; Mosquitto unless `set_tcp_nodelay true`) otherwise
/// hold a reply behind their own PUBACK of the request until the client's
/// delayed ACK (40 ms on Linux) — on every request/response.
pub struct BusClient {
    sub: Link,
    /// `None`: publishes go through `sub` (`split_publish` off).
    publ: Option<Link>,
    incoming: flume::Receiver<Delivery>,
    brokers: Vec<BrokerAddr>,
    client_id: String,
    auth: Option<Arc<BusAuth>>,
}

/// What [`BusClient::recv_timeout`] got.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // moved once per message; boxing would allocate instead
pub enum Recv {
    Message(Delivery),
    Timeout,
    Closed,
}

impl BusClient {
    /// Start the event loop(s) (they connect in the background; see [`wait_ready`](Self::wait_ready)).
    pub fn connect(opts: ClientOptions) -> Result<Self, BusError> {
        Self::connect_with(opts, None)
    }

    /// Like [`connect`](Self::connect), with a [`FastPath`] that sees each
    /// delivery on the event loop thread first (saving a thread hop).
    pub fn connect_with(opts: ClientOptions, fast: Option<FastPath>) -> Result<Self, BusError> {
        if opts.brokers.is_empty() {
            return Err(BusError::BadUrl { url: String::new(), reason: "no broker given".into() });
        }
        if opts.client_id.is_empty() {
            return Err(BusError::BadUrl { url: String::new(), reason: "empty client id".into() });
        }
        let all: Vec<MqttOptions> = opts.brokers.iter().map(|b| opts.mqtt_options(b)).collect::<Result<_, _>>()?;
        let with_will: Vec<MqttOptions> = match &opts.last_will {
            Some((topic, payload)) => all
                .iter()
                .map(|o| {
                    let mut o = o.clone();
                    o.set_last_will(LastWill::new(topic.clone(), payload.clone(), QoS::AtLeastOnce, false, None));
                    o
                })
                .collect(),
            None => all.clone(),
        };
        let (tx, rx) = flume::bounded(opts.incoming_capacity.max(opts.receive_maximum as usize + 1));
        let sub = Link::start(&opts, &with_will, &opts.client_id, opts.subscriptions.clone(), Some(tx), fast)?;
        let publ = if opts.split_publish {
            Some(Link::start(&opts, &all, &format!("{}-pub", opts.client_id), Vec::new(), None, None)?)
        } else {
            None
        };
        Ok(BusClient { sub, publ, incoming: rx, brokers: opts.brokers, client_id: opts.client_id, auth: opts.auth })
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    fn links(&self) -> impl Iterator<Item = &Link> {
        std::iter::once(&self.sub).chain(self.publ.as_ref())
    }

    /// The broker currently in use (or being tried).
    pub fn broker(&self) -> &BrokerAddr {
        let i = self.sub.shared.lock().broker;
        &self.brokers[i.min(self.brokers.len() - 1)]
    }

    pub fn is_connected(&self) -> bool {
        self.links().all(|l| l.shared.lock().connected)
    }

    /// Block until connected and subscribed, or `timeout`.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), BusError> {
        let until = Instant::now() + timeout;
        for link in self.links() {
            let mut st = link.shared.lock();
            loop {
                if let Some(filter) = st.refused.take() {
                    return Err(BusError::SubscriptionRefused(filter));
                }
                if st.closed {
                    return Err(BusError::Closed);
                }
                if st.connected && st.subscribed {
                    break;
                }
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let brokers = self.brokers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                    return Err(BusError::Unreachable { brokers, waited: timeout });
                }
                st = link.shared.changed.wait_timeout(st, left).map(|(g, _)| g).unwrap_or_else(|p| p.into_inner().0);
            }
        }
        Ok(())
    }

    /// What signs this client's messages, and checks those it receives.
    pub fn auth(&self) -> Option<&Arc<BusAuth>> {
        self.auth.as_ref()
    }

    /// Publish at QoS 1, signed (when this client signs) to expire after
    /// the signer's `ttl`. Blocks while the request channel is full.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, properties: PublishProperties) -> Result<(), BusError> {
        let exp = self.auth.as_ref().map(|a| now_ms() + a.ttl.as_millis() as u64).unwrap_or(0);
        self.publish_until(topic, payload, properties, exp)
    }

    /// Publish at QoS 1, signed (when this client signs) to expire at `exp` (Unix ms).
    pub fn publish_until(&self, topic: &str, payload: Vec<u8>, properties: PublishProperties, exp: u64) -> Result<(), BusError> {
        self.publish_qos(topic, QoS::AtLeastOnce, payload, properties, exp)
    }

    /// Publish at QoS 2, like [`publish_until`](Self::publish_until): the
    /// broker takes a copy of the same PUBLISH (this session re-sending it
    /// after a reconnect, a middlebox sending it twice) as the one message,
    /// so subscribers get it once. For work that must not run twice.
    pub fn publish_once_until(&self, topic: &str, payload: Vec<u8>, properties: PublishProperties, exp: u64) -> Result<(), BusError> {
        self.publish_qos(topic, QoS::ExactlyOnce, payload, properties, exp)
    }

    /// Publish at QoS 0 (a hint whose loss costs only a retry), signed like
    /// [`publish`](Self::publish). Nothing is stored or acked for it.
    pub fn publish_hint(&self, topic: &str, payload: Vec<u8>, properties: PublishProperties) -> Result<(), BusError> {
        let exp = self.auth.as_ref().map(|a| now_ms() + a.ttl.as_millis() as u64).unwrap_or(0);
        self.publish_qos(topic, QoS::AtMostOnce, payload, properties, exp)
    }

    fn publish_qos(&self, topic: &str, qos: QoS, payload: Vec<u8>, mut properties: PublishProperties, exp: u64) -> Result<(), BusError> {
        if let Some(auth) = &self.auth {
            auth.sign(topic, &mut properties, &payload, exp);
        }
        let link = self.publ.as_ref().unwrap_or(&self.sub);
        link.client.publish_with_properties(topic, qos, false, payload, properties).map_err(|_| BusError::Closed)
    }

    /// Connections this client has made so far, both sides (receiving and
    /// publishing) counted: a larger number than before means one of them
    /// reconnected, and whatever was in flight on the old connection may be
    /// gone (a publish re-sent only when the broker kept the session).
    pub fn connections(&self) -> u64 {
        self.links().map(|l| l.shared.lock().generation).sum()
    }

    /// Whether the receiving side has stopped for good.
    pub fn is_closed(&self) -> bool {
        self.sub.shared.lock().closed
    }

    /// Block until [`connections`](Self::connections) exceeds `seen`, the
    /// client stops, or `timeout` passes; returns the count then.
    pub fn wait_reconnect(&self, seen: u64, timeout: Duration) -> u64 {
        let until = Instant::now() + timeout;
        loop {
            let now = self.connections();
            let left = until.saturating_duration_since(Instant::now());
            if now > seen || left.is_zero() || self.is_closed() {
                return now;
            }
            // Woken by the receiving side; the publishing side is looked at
            // again at least every 50 ms.
            let st = self.sub.shared.lock();
            let _ = self.sub.shared.changed.wait_timeout(st, left.min(Duration::from_millis(50)));
        }
    }

    /// The next delivery, or `None` once the client has stopped.
    pub fn recv(&self) -> Option<Delivery> {
        self.incoming.recv().ok()
    }

    pub fn recv_timeout(&self, timeout: Duration) -> Recv {
        match self.incoming.recv_timeout(timeout) {
            Ok(d) => Recv::Message(d),
            Err(flume::RecvTimeoutError::Timeout) => Recv::Timeout,
            Err(flume::RecvTimeoutError::Disconnected) => Recv::Closed,
        }
    }

    /// Acknowledge a delivery. The PUBACK leaves once every earlier
    /// delivery of the same connection is acked too. Acking twice, or a
    /// delivery of an earlier connection, does nothing.
    pub fn ack(&self, d: &Delivery) {
        if d.publish.qos == QoS::AtMostOnce {
            return;
        }
        let shared = &self.sub.shared;
        let _order = shared.ack_send.lock().unwrap_or_else(|p| p.into_inner());
        let ready: Vec<(u16, QoS)> = {
            let mut st = shared.lock();
            if st.generation != d.generation {
                tracing::debug!(pkid = d.publish.pkid, "ack of a delivery from an earlier connection: the broker redelivers it");
                return;
            }
            match st.acks.iter_mut().find(|(pkid, _, done)| *pkid == d.publish.pkid && !*done) {
                Some(entry) => entry.2 = true,
                None => return,
            }
            let mut ready = Vec::new();
            while let Some(&(pkid, qos, true)) = st.acks.front() {
                st.acks.pop_front();
                ready.push((pkid, qos));
            }
            ready
        };
        for (pkid, qos) in ready {
            let mut p = Publish::new("", qos, Bytes::new(), None);
            p.pkid = pkid;
            if self.sub.client.ack(&p).is_err() {
                tracing::debug!(pkid, "ack after the client stopped");
            }
        }
    }

    /// Disconnect and stop the event loop(s).
    pub fn shutdown(&self) {
        for link in self.links() {
            link.shutdown();
        }
    }
}

impl Drop for BusClient {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Driver {
    connection: Connection,
    all: Vec<MqttOptions>,
    brokers: Vec<BrokerAddr>,
    shared: Arc<Shared>,
    /// Where deliveries go (`None` on the publishing link: it subscribes to nothing).
    tx: Option<flume::Sender<Delivery>>,
    fast: Option<FastPath>,
    subscriptions: Vec<String>,
    backoff_initial: Duration,
    backoff_max: Duration,
    failover_after: u32,
    ack_timeout: Duration,
    unacked: Unacked,
}

/// This connection's PUBLISHes the broker has not acknowledged, in the
/// order sent. A broker acknowledges in the order it received (MQTT 5,
/// 4.6), so an acknowledgement that passes an older PUBLISH says that one
/// was lost on the way.
#[derive(Default)]
struct Unacked {
    /// Send order → (packet id, when sent).
    sent: BTreeMap<u64, (u16, Instant)>,
    order: HashMap<u16, u64>,
    next: u64,
    last_ack: Option<Instant>,
    /// A packet id an acknowledgement passed.
    passed: Option<u16>,
}

impl Unacked {
    fn sent(&mut self, pkid: u16) {
        self.next += 1;
        if let Some(old) = self.order.insert(pkid, self.next) {
            self.sent.remove(&old);
        }
        self.sent.insert(self.next, (pkid, Instant::now()));
    }

    fn acked(&mut self, pkid: u16) {
        self.last_ack = Some(Instant::now());
        let Some(seq) = self.order.remove(&pkid) else { return };
        self.sent.remove(&seq);
        if let Some((_, &(lost, _))) = self.sent.range(..seq).next() {
            self.passed.get_or_insert(lost);
        }
    }

    /// A new connection: what it sends is counted afresh.
    fn clear(&mut self) {
        self.sent.clear();
        self.order.clear();
        self.last_ack = None;
        self.passed = None;
    }

    /// Why a PUBLISH counts as lost, if one does.
    fn lost(&self, timeout: Duration) -> Option<String> {
        if let Some(pkid) = self.passed {
            return Some(format!("message {pkid} was passed by a later one's acknowledgement"));
        }
        let (_, &(pkid, at)) = self.sent.iter().next()?;
        let quiet_since = self.last_ack.map_or(at, |ack| ack.max(at));
        (quiet_since.elapsed() >= timeout).then(|| format!("message {pkid} unacknowledged for {:?}, and nothing acknowledged since", at.elapsed()))
    }
}

/// Exponential backoff with jitter: a random wait in [d/2, d].
fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let exp = initial.as_secs_f64() * 2f64.powi(failures.saturating_sub(1).min(30) as i32);
    let capped = exp.min(max.as_secs_f64());
    let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 1000.0;
    Duration::from_secs_f64(capped * (0.5 + 0.5 * jitter))
}

/// Which broker the event loop is on, and how its connection attempts went.
#[derive(Default)]
struct Reconnect {
    broker: usize,
    failures: u32,
    last_error: String,
}

/// The event loop: the only place the connection is polled.
fn drive(mut d: Driver) {
    let mut link = Reconnect::default();
    // `recv` fails once every client handle is gone.
    while let Ok(event) = d.connection.recv() {
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                link.failures = 0;
                d.connected(link.broker, ack.session_present);
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => d.subscribed(&ack),
            Ok(Event::Incoming(Packet::Publish(p))) => d.deliver(p),
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => d.unacked.sent(pkid),
            Ok(Event::Incoming(Packet::PubAck(ack))) => d.unacked.acked(ack.pkid),
            Ok(Event::Incoming(Packet::PubRec(rec))) => d.unacked.acked(rec.pkid),
            Ok(Event::Incoming(Packet::Disconnect(disc))) => {
                tracing::warn!(broker = %d.brokers[link.broker], reason = ?disc.reason_code, "the broker disconnected us");
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) if d.stopping() => break,
            Ok(_) => {}
            Err(e) => {
                if d.stopping() {
                    break;
                }
                d.connection_failed(&mut link, e.to_string());
            }
        }
        if d.stopping() && !d.shared.lock().connected {
            break;
        }
        d.drop_if_unacked(&link);
    }
    {
        let mut st = d.shared.lock();
        st.connected = false;
        st.closed = true;
    }
    d.shared.changed.notify_all();
}

impl Driver {
    fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    /// A new connection: a new generation of acks, and the subscriptions again.
    fn connected(&mut self, broker: usize, session_present: bool) {
        {
            let mut st = self.shared.lock();
            st.connected = true;
            st.generation += 1;
            self.unacked.clear();
            st.broker = broker;
            st.acks.clear();
            st.subscribed = self.subscriptions.is_empty();
        }
        self.shared.changed.notify_all();
        tracing::info!(broker = %self.brokers[broker], session_present, "MQTT connected");
        if !self.subscriptions.is_empty() {
            // Subscribing again is harmless when the session kept the
            // subscriptions, and needed when it did not.
            let filters = self.subscriptions.iter().map(|f| Filter::new(f.clone(), QoS::AtLeastOnce));
            self.connection.eventloop.pending.push_front(Request::Subscribe(Subscribe::new_many(filters, None)));
        }
    }

    /// A PUBLISH lost on the way (see [`ClientOptions::ack_timeout`]) on a
    /// live connection: drop the connection so the next poll makes a new
    /// one, on which the session's unacknowledged messages go out again
    /// (rumqttc re-sends them; a QoS 2 one is still delivered once).
    fn drop_if_unacked(&mut self, link: &Reconnect) {
        let Some(why) = self.unacked.lost(self.ack_timeout) else { return };
        if !self.shared.lock().connected || self.stopping() {
            return;
        }
        tracing::warn!(broker = %self.brokers[link.broker], "a message was lost on the way ({why}): reconnecting to send it again");
        self.unacked.clear();
        self.shared.lock().connected = false;
        self.shared.changed.notify_all();
        self.connection.eventloop.clean();
    }

    /// The broker's answer to our subscriptions: all granted, or which not.
    fn subscribed(&self, ack: &SubAck) {
        let refused: Vec<String> = ack
            .return_codes
            .iter()
            .zip(&self.subscriptions)
            .filter(|(code, _)| !matches!(code, SubscribeReasonCode::Success(_)))
            .map(|(code, f)| format!("{f} ({code:?})"))
            .collect();
        {
            let mut st = self.shared.lock();
            if refused.is_empty() {
                st.subscribed = true;
            } else {
                tracing::error!(filters = ?refused, "the broker refused a subscription");
                st.refused = Some(refused.join(", "));
            }
        }
        self.shared.changed.notify_all();
    }

    /// Hand a message to the fast path, else to the incoming channel.
    fn deliver(&self, p: Publish) {
        let Some(tx) = &self.tx else {
            tracing::warn!(topic = %String::from_utf8_lossy(&p.topic), "a message on a link that subscribes to nothing; dropped");
            return;
        };
        let generation = {
            let mut st = self.shared.lock();
            if p.qos != QoS::AtMostOnce {
                st.acks.push_back((p.pkid, p.qos, false));
            }
            st.generation
        };
        let mut delivery = Delivery { publish: p, generation };
        if let Some(fast) = &self.fast {
            match fast(delivery) {
                None => return,
                Some(back) => delivery = back,
            }
        }
        // Blocks when the consumers fall behind: backpressure up to the broker.
        loop {
            match tx.send_timeout(delivery, Duration::from_millis(100)) {
                Ok(()) => break,
                Err(flume::SendTimeoutError::Timeout(back)) if !self.stopping() => {
                    tracing::trace!("incoming channel full: waiting for the consumers");
                    delivery = back;
                }
                Err(_) => break,
            }
        }
    }

    /// A failed connection: say so (once per distinct error), move to the
    /// next broker after `failover_after` failures, and back off.
    fn connection_failed(&mut self, link: &mut Reconnect, msg: String) {
        self.unacked.clear();
        self.shared.lock().connected = false;
        self.shared.changed.notify_all();
        link.failures += 1;
        if msg != link.last_error || link.failures == 1 {
            tracing::warn!(broker = %self.brokers[link.broker], error = %msg, failures = link.failures, "MQTT connection failed; reconnecting");
            link.last_error = msg;
        }
        if self.all.len() > 1 && link.failures >= self.failover_after {
            link.broker = (link.broker + 1) % self.all.len();
            link.failures = 0;
            tracing::warn!(broker = %self.brokers[link.broker], "switching to the next broker");
            self.connection.eventloop.options = self.all[link.broker].clone();
            self.shared.lock().broker = link.broker;
        }
        let wait = backoff(self.backoff_initial, self.backoff_max, link.failures.max(1));
        let until = Instant::now() + wait;
        while Instant::now() < until && !self.stopping() {
            std::thread::sleep(Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(BrokerAddr::parse("mqtt://127.0.0.1:1883").unwrap(), BrokerAddr::tcp("127.0.0.1", 1883));
        assert_eq!(BrokerAddr::parse("localhost").unwrap(), BrokerAddr::tcp("localhost", 1883));
        let tls = BrokerAddr::parse("mqtts://b.example").unwrap();
        assert_eq!((tls.port, tls.tls), (8883, true));
        assert_eq!(BrokerAddr::parse("mqtt://[::1]:1884").unwrap().to_string(), "mqtt://[::1]:1884");
        assert!(BrokerAddr::parse("http://x").is_err());
        assert!(BrokerAddr::parse("mqtt://u:p@x:1").is_err());
        assert!(BrokerAddr::parse("mqtt://x:0").is_err());
        assert!(BrokerAddr::parse("mqtt://:1883").is_err());
    }

    #[test]
    fn a_publish_is_lost_when_passed_or_left_unacknowledged() {
        let t = Duration::from_millis(50);
        let mut u = Unacked::default();
        u.sent(1);
        u.sent(2);
        u.acked(1);
        assert_eq!(u.lost(t), None, "acknowledged in order");
        u.sent(3);
        u.acked(3);
        assert_eq!(u.lost(t).as_deref(), Some("message 2 was passed by a later one's acknowledgement"));
        u.clear();
        assert_eq!(u.lost(t), None, "a new connection counts afresh");
        u.sent(4);
        std::thread::sleep(Duration::from_millis(60));
        assert!(u.lost(t).is_some_and(|w| w.starts_with("message 4 unacknowledged for")), "{:?}", u.lost(t));
        u.acked(4);
        assert_eq!(u.lost(t), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(1));
        assert!(backoff(i, m, 1) <= i);
        assert!(backoff(i, m, 3) >= Duration::from_millis(200));
        assert!(backoff(i, m, 30) <= m);
    }
}
