//! The embedded broker: rumqttd inside this process, MQTT v5 only, on a
//! loopback port (a free one unless asked otherwise). One machine needs no
//! server; `taylordash broker` runs it alone for other processes.
//!
//! rumqttd keeps messages in memory only and cannot be stopped once started
//! (its threads live as long as the process); its shared subscriptions
//! deliver round-robin. What the rest of the bus does about its quirks
//! (rumqttd 0.20):
//! - it disconnects a client that acks out of order: the client sends acks
//!   in arrival order ([`client`](super::client));
//! - it does not set TCP_NODELAY: the client publishes on a second
//!   connection, so no reply waits ~40 ms behind a PUBACK;
//! - it keys shared-subscription groups by name alone, across topics: each
//!   prefix gets its own group name ([`Topics::worker_group`](super::Topics::worker_group));
//! - an expired message at a shared group's cursor stalls the group: tasks
//!   carry no message expiry (workers skip tasks past their `deadline`);
//! - when a persistent session disconnects with unacked messages it rewinds
//!   the group's cursor, so a dead worker's task goes to the rest of the
//!   group at once (Mosquitto keeps it in the dead session until the session
//!   expires; the orchestrator's deadline republish covers that case).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::client::BrokerAddr;
use super::envelope::MAX_PACKET;
use super::BusError;

#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// `None`: a free port.
    pub port: Option<u16>,
    /// The address to listen on (loopback by default).
    pub bind: std::net::IpAddr,
    pub max_packet_size: usize,
    pub max_connections: usize,
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            port: None,
            bind: Ipv4Addr::LOCALHOST.into(),
            max_packet_size: MAX_PACKET as usize,
            max_connections: 10_000,
        }
    }
}

/// A running embedded broker.
pub struct EmbeddedBroker {
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

fn config(listen: SocketAddr, opts: &BrokerOptions) -> Config {
    let server = ServerSettings {
        name: "taylordash-v5".into(),
        listen,
        tls: None,
        next_connection_delay_ms: 0,
        connections: ConnectionSettings {
            connection_timeout_ms: 10_000,
            max_payload_size: opts.max_packet_size,
            max_inflight_count: 100,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: opts.max_connections,
            max_outgoing_packet_count: 200,
            // A segment must hold the largest message; rumqttd keeps up to
            // `count` segments per topic in memory.
            max_segment_size: (opts.max_packet_size * 2).max(1 << 20),
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v5: Some(HashMap::from([("v5".to_string(), server)])),
        ..Config::default()
    }
}

fn free_port(bind: std::net::IpAddr) -> Result<u16, BusError> {
    let l = TcpListener::bind((bind, 0))?;
    Ok(l.local_addr()?.port())
}

impl EmbeddedBroker {
    /// Start rumqttd and wait until it accepts connections.
    pub fn start(opts: &BrokerOptions) -> Result<Self, BusError> {
        // A free port can be taken between our probe and rumqttd's bind: try a few.
        let tries = if opts.port.is_some() { 1 } else { 5 };
        let mut last = String::new();
        for _ in 0..tries {
            let port = match opts.port {
                Some(p) => p,
                None => free_port(opts.bind)?,
            };
            let addr = SocketAddr::new(opts.bind, port);
            if opts.port.is_some() && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Err(BusError::Broker(format!("{addr} is already in use")));
            }
            let mut broker = Broker::new(config(addr, opts));
            let thread = std::thread::Builder::new().name("rumqttd".into()).spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded broker stopped");
                }
            })?;
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    tracing::info!(%addr, "embedded MQTT broker (rumqttd, v5) listening");
                    return Ok(EmbeddedBroker { addr, thread: Some(thread) });
                }
                if thread.is_finished() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            last = format!("rumqttd did not start listening on {addr}");
        }
        Err(BusError::Broker(last))
    }

    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn addr(&self) -> BrokerAddr {
        BrokerAddr::tcp(&self.addr.ip().to_string(), self.addr.port())
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.addr().to_string()
    }

    /// Block for as long as the broker runs (`taylordash broker`).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
