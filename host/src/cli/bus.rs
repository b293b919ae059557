//! `taylordash worker` and `taylordash broker`, and the bus flags `run`
//! uses: thin glue over [`crate::bus`].

use taylordash_protocol::ExitCode;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::{Cli, UsageError};
use crate::bus::{self, BrokerChoice, BusAuth, BusKey, Credentials, LocalBus, LocalBusOptions, Topics, WorkerOptions};
use crate::dispatch::{Dispatch, InProcess};

/// How to reach the broker(s); shared by `worker` and `run`.
#[derive(Args, Debug, Clone)]
pub struct BrokerFlags {
    /// Username for the broker.
    #[arg(long = "mqtt-username", env = "TAYLORDASH_MQTT_USERNAME")]
    pub username: Option<String>,
    /// Password for the broker.
    #[arg(long = "mqtt-password", env = "TAYLORDASH_MQTT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// PEM CA bundle for `mqtts://` brokers (default: the system bundle).
    #[arg(long = "mqtt-ca-file", env = "TAYLORDASH_MQTT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Topic prefix, so several deployments can share one broker.
    #[arg(long, env = "TAYLORDASH_BUS_PREFIX", default_value = "")]
    pub prefix: String,
    /// The key every message is signed and checked with (HMAC-SHA256): a
    /// file of at least 64 hex digits, mode 600, the same for the
    /// orchestrator and all its workers (`openssl rand -hex 32 > bus.key`).
    #[arg(long = "bus-key", env = "TAYLORDASH_BUS_KEY_FILE")]
    pub bus_key: Option<PathBuf>,
    /// Send and accept unsigned messages on a shared broker: anyone who can
    /// publish there can then run tasks on the workers.
    #[arg(long = "insecure-unsigned-bus")]
    pub insecure_unsigned: bool,
}

impl BrokerFlags {
    fn credentials(&self) -> Result<Option<Credentials>, UsageError> {
        match (&self.username, &self.password) {
            (None, None) => Ok(None),
            (Some(u), p) => Ok(Some(Credentials { username: u.clone(), password: p.clone().unwrap_or_default() })),
            (None, Some(_)) => Err(UsageError("--mqtt-password needs --mqtt-username".into())),
        }
    }

    /// The bus key. On a shared (external) broker one is required unless
    /// unsigned messages were asked for; the embedded broker of `run` makes
    /// its own when none is given.
    fn key(&self, shared_broker: bool) -> Result<Option<BusKey>, UsageError> {
        if let Some(path) = &self.bus_key {
            if self.insecure_unsigned {
                return Err(UsageError("--bus-key and --insecure-unsigned-bus contradict each other".into()));
            }
            return BusKey::load(path).map(Some).map_err(|e| UsageError(e.to_string()));
        }
        if shared_broker && !self.insecure_unsigned {
            return Err(UsageError(
                "messages on a shared broker must be signed: pass --bus-key FILE, the same file for the orchestrator \
                 and every worker (create it with `openssl rand -hex 32 > bus.key && chmod 600 bus.key`), or \
                 --insecure-unsigned-bus to let anyone who can publish on the broker run tasks"
                    .into(),
            ));
        }
        if shared_broker {
            tracing::warn!("bus messages are unsigned (--insecure-unsigned-bus): anyone who can publish on the broker can run tasks");
        }
        Ok(None)
    }

    fn auth(&self, shared_broker: bool) -> Result<Option<Arc<BusAuth>>, UsageError> {
        Ok(self.key(shared_broker)?.map(|k| Arc::new(BusAuth::new(k))))
    }
}

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// The broker(s): `mqtt://host:port` or `mqtts://host:port`, repeated or
    /// comma-separated; tried in order when one fails.
    #[arg(long = "broker", env = "TAYLORDASH_BROKER", value_delimiter = ',', default_value = "mqtt://127.0.0.1:1883")]
    pub brokers: Vec<String>,
    #[command(flatten)]
    pub flags: BrokerFlags,
    /// Tasks this worker runs at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seconds the broker keeps this worker's session after it disconnects.
    /// 0 (the default): none — a broker (Mosquitto) routes shared-subscription
    /// tasks to a dead worker's session until it expires, where no claim, will
    /// or reconnect re-sends them; what the worker held is claimed and re-sent.
    #[arg(long, default_value_t = 0)]
    pub session_expiry: u64,
    /// The MQTT client id (default: `td-worker-<random>`).
    #[arg(long)]
    pub client_id: Option<String>,
    /// How this worker is named in the audit events it writes (default:
    /// its --mqtt-username, else its client id).
    #[arg(long, env = "TAYLORDASH_WORKER_IDENTITY")]
    pub identity: Option<String>,
    /// Only run tasks whose workspace and staging paths lie under this
    /// directory (repeatable). Whoever can publish tasks chooses those paths.
    #[arg(long = "allow-root")]
    pub allow_roots: Vec<PathBuf>,
    /// Serve this worker's Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Allow --metrics on an address that is not loopback.
    #[arg(long)]
    pub public: bool,
    /// Keep blobs here and build each task's workspace from the manifest it
    /// carries, fetching what is missing over the bus: the worker then needs
    /// no access to the orchestrator's filesystem.
    #[arg(long, value_name = "DIR", env = "TAYLORDASH_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The most the blob cache keeps (least recently used blobs go first),
    /// e.g. `512MiB`, `4GiB`.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = crate::units::parse_bytes)]
    pub cache_size: u64,
    #[command(flatten)]
    pub artifacts: ArtifactFlags,
}

/// Where blobs go for workers without the orchestrator's filesystem, when
/// not over the bus; shared by `worker` and `run`.
#[derive(Args, Debug, Clone, Default)]
pub struct ArtifactFlags {
    /// An S3-compatible store for workspace and `/out` blobs
    /// (`s3://bucket/prefix`); credentials from AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY. Without it, blobs travel over the bus.
    #[arg(long, value_name = "URL", env = "TAYLORDASH_ARTIFACTS")]
    pub artifacts: Option<String>,
    /// The store's endpoint (default: AWS_ENDPOINT_URL, else AWS's own).
    #[arg(long, value_name = "URL", requires = "artifacts")]
    pub s3_endpoint: Option<String>,
    /// The store's region (default: AWS_REGION).
    #[arg(long, value_name = "REGION", requires = "artifacts")]
    pub s3_region: Option<String>,
}

impl ArtifactFlags {
    fn open(&self) -> Result<Option<crate::blobs::ArtifactStore>, UsageError> {
        let Some(url) = &self.artifacts else { return Ok(None) };
        let opts = crate::blobs::StoreOptions {
            url: url.clone(),
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            credentials: None,
        };
        crate::blobs::ArtifactStore::open(&opts).map(Some).map_err(|e| UsageError(format!("--artifacts: {e}")))
    }
}

#[derive(Args, Debug, Clone)]
pub struct BrokerArgs {
    /// The port to listen on.
    #[arg(long, default_value_t = 1883)]
    pub port: u16,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

/// The bus flags of `taylordash run`: flatten into its args.
#[derive(Args, Debug, Clone)]
pub struct RunBusArgs {
    /// `embedded` (the default: rumqttd inside this process), `mqtt://host:port`
    /// / `mqtts://host:port` (repeated or comma-separated: tried in order), or
    /// `in-process` (no bus: tasks are called directly, as in tests).
    #[arg(long = "broker", env = "TAYLORDASH_BROKER", value_delimiter = ',')]
    pub brokers: Vec<String>,
    /// Local workers to start (0 = only external `taylordash worker`s). Default 2 with `--broker`.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Let the local worker pool grow to this many while tasks queue up
    /// (the seed's scale_out_agent_pool); it shrinks back when idle.
    #[arg(long, value_name = "N")]
    pub max_workers: Option<usize>,
    /// How long local workers stand idle before the pool shrinks by one.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::units::parse_duration)]
    pub pool_idle: Duration,
    #[command(flatten)]
    pub flags: BrokerFlags,
    #[command(flatten)]
    pub artifacts: ArtifactFlags,
}

impl RunBusArgs {
    /// What a run journals about its bus (no password: only where to find
    /// the key, never the key), for `resume` to default to.
    pub fn note(&self) -> serde_json::Value {
        let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        serde_json::json!({
            "brokers": self.brokers,
            "workers": self.workers,
            "max_workers": self.max_workers,
            "prefix": self.flags.prefix,
            "bus_key": self.flags.bus_key.as_ref().map(absolute),
            "mqtt_username": self.flags.username,
            "mqtt_ca_file": self.flags.ca_file.as_ref().map(absolute),
            "insecure_unsigned_bus": self.flags.insecure_unsigned,
            "artifacts": self.artifacts.artifacts,
            "s3_endpoint": self.artifacts.s3_endpoint,
            "s3_region": self.artifacts.s3_region,
        })
    }

    /// These options, each one not given taken from `note` (what the run
    /// journaled when it started).
    pub fn or_noted(&self, note: &serde_json::Value) -> RunBusArgs {
        let text = |key: &str| note.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let mut out = self.clone();
        if out.brokers.is_empty() {
            out.brokers = note
                .get("brokers")
                .and_then(|v| v.as_array())
                .map(|list| list.iter().filter_map(|b| b.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
        }
        if out.workers.is_none() {
            out.workers = note.get("workers").and_then(|v| v.as_u64()).and_then(|n| usize::try_from(n).ok());
        }
        if out.max_workers.is_none() {
            out.max_workers = note.get("max_workers").and_then(|v| v.as_u64()).and_then(|n| usize::try_from(n).ok());
        }
        if out.flags.prefix.is_empty() {
            out.flags.prefix = text("prefix").unwrap_or_default();
        }
        if out.flags.bus_key.is_none() && !out.flags.insecure_unsigned {
            out.flags.bus_key = text("bus_key").map(PathBuf::from);
            out.flags.insecure_unsigned = note.get("insecure_unsigned_bus").and_then(|v| v.as_bool()).unwrap_or(false);
        }
        if out.flags.username.is_none() {
            out.flags.username = text("mqtt_username");
        }
        if out.flags.ca_file.is_none() {
            out.flags.ca_file = text("mqtt_ca_file").map(PathBuf::from);
        }
        if out.artifacts.artifacts.is_none() {
            out.artifacts.artifacts = text("artifacts");
            out.artifacts.s3_endpoint = out.artifacts.s3_endpoint.take().or_else(|| text("s3_endpoint"));
            out.artifacts.s3_region = out.artifacts.s3_region.take().or_else(|| text("s3_region"));
        }
        out
    }
}

/// The dispatch a worker runs tasks with; `identity` names the worker in
/// every audit event of those calls.
fn inner_dispatch(cli: &Cli, identity: &str) -> anyhow::Result<InProcess> {
    let policy = cli.policy()?.map(Arc::new);
    let caller = cli.caller()?;
    Ok(InProcess::new(Arc::new(cli.sandbox()?), cli.plugins_dir.clone())
        .with_policy(policy, caller)
        .with_audit(cli.audit_log())
        .with_worker(identity)
        .with_tracing(cli.otlp()?))
}

/// `taylordash worker`: take tasks from the broker until killed.
pub fn worker(cli: &Cli, args: &WorkerArgs) -> anyhow::Result<i32> {
    let brokers = match BrokerChoice::parse(&args.brokers).map_err(|e| UsageError(e.to_string()))? {
        BrokerChoice::External(list) => list,
        BrokerChoice::Embedded => {
            return Err(UsageError(
                "a worker needs a shared broker: start one with `taylordash broker` and pass --broker mqtt://host:port".into(),
            )
            .into());
        }
    };
    let topics = Topics::new(&args.flags.prefix).map_err(|e| UsageError(e.to_string()))?;
    let mut opts = WorkerOptions::new(brokers, topics);
    opts.concurrency = args.concurrency.max(1);
    opts.client.session_expiry = Duration::from_secs(args.session_expiry);
    opts.client.credentials = args.flags.credentials()?;
    opts.client.ca_file = args.flags.ca_file.clone();
    opts.client.auth = args.flags.auth(true)?;
    opts.audit = Some(cli.audit_log());
    if let Some(id) = &args.client_id {
        opts.client.client_id = id.clone();
    }
    opts.identity = args.identity.clone();
    if !args.allow_roots.is_empty() {
        let roots = args
            .allow_roots
            .iter()
            .map(|r| r.canonicalize().map_err(|e| UsageError(format!("--allow-root {}: {e}", r.display()))))
            .collect::<Result<Vec<_>, _>>()?;
        opts.allowed_roots = Some(roots);
    }
    if let Some(dir) = &args.cache_dir {
        let cache = crate::blobs::BlobCache::new(dir.join("blobs"), args.cache_size)
            .map_err(|e| UsageError(format!("--cache-dir {}: {e}", dir.display())))?;
        opts.files = Some(bus::RemoteFiles { cache, scratch: dir.join("tasks"), store: args.artifacts.open()? });
    } else if args.artifacts.artifacts.is_some() {
        return Err(UsageError("--artifacts needs --cache-dir: the worker builds workspaces from blobs only with a cache".into()).into());
    }
    let mut inner = inner_dispatch(cli, &opts.identity())?;
    if let Some(addr) = args.metrics {
        let live = Arc::new(crate::observe::metrics::Live::default());
        super::serve::spawn_metrics(addr, args.public, live.clone())?;
        inner = inner.with_metrics(live);
    }
    let inner: Arc<dyn Dispatch> = Arc::new(inner);
    let worker = bus::run_worker(opts, inner)?;
    eprintln!("worker {} ready", worker.id());
    worker.join();
    Ok(ExitCode::Ok.code())
}

/// `taylordash broker`: the embedded broker alone, until killed. Prints its URL.
pub fn broker(_cli: &Cli, args: &BrokerArgs) -> anyhow::Result<i32> {
    let opts = bus::broker::BrokerOptions { port: Some(args.port), bind: args.bind, ..Default::default() };
    let b = bus::EmbeddedBroker::start(&opts)?;
    println!("{}", b.url());
    b.wait();
    Ok(ExitCode::Ok.code())
}

/// For `taylordash run`: the local bus (embedded broker or external ones,
/// local workers over the in-process dispatcher) whose `dispatch` the
/// orchestrator uses; `None` for `--broker in-process`.
pub fn local_bus(cli: &Cli, args: &RunBusArgs) -> anyhow::Result<Option<LocalBus>> {
    if args.brokers.iter().any(|b| b == "in-process") {
        if args.brokers.len() > 1 || args.workers.is_some() {
            return Err(UsageError("--broker in-process takes no other broker and no --workers".into()).into());
        }
        return Ok(None);
    }
    let broker = BrokerChoice::parse(&args.brokers).map_err(|e| UsageError(e.to_string()))?;
    let workers = args.workers.unwrap_or(2);
    if workers == 0 && broker == BrokerChoice::Embedded {
        return Err(UsageError("--workers 0 needs an external --broker that `taylordash worker`s can reach".into()).into());
    }
    let shared = matches!(broker, BrokerChoice::External(_));
    if shared && workers > 0 && args.flags.username.is_some() {
        // deploy/mosquitto's ACL lets the orchestrator's user publish tasks but not take them:
        // local workers logged in as that user would swallow their share of tasks unread.
        tracing::warn!(workers, "local workers log in with the orchestrator's broker credentials; \
            if that user may not read tasks (as in deploy/mosquitto), use --workers 0 and `taylordash worker`s");
    }
    // Local workers share the orchestrator's login, if any.
    let worker_identity = args.flags.username.clone().unwrap_or_else(|| "local".to_string());
    let opts = LocalBusOptions {
        key: args.flags.key(shared)?,
        audit: Some(cli.audit_log()),
        broker,
        prefix: args.flags.prefix.clone(),
        workers,
        credentials: args.flags.credentials()?,
        ca_file: args.flags.ca_file.clone(),
        dlq: Some(cli.runs_dir().join("dlq.sqlite")),
        worker_identity,
        // Workers elsewhere can only reach an external broker.
        ship_files: shared,
        artifacts: args.artifacts.open()?,
        max_workers: args.max_workers.unwrap_or(workers),
        idle_after: args.pool_idle,
    };
    if args.max_workers.is_some_and(|m| m < workers) {
        return Err(UsageError(format!("--max-workers {} is fewer than --workers {workers}", args.max_workers.unwrap_or(0))).into());
    }
    if opts.artifacts.is_some() && !shared {
        return Err(UsageError("--artifacts is for workers on other machines: it needs an external --broker".into()).into());
    }
    let inner: Arc<dyn Dispatch> = Arc::new(inner_dispatch(cli, &opts.worker_identity)?);
    Ok(Some(LocalBus::start(&opts, inner)?))
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum DlqCommand {
    /// Tasks that exhausted their deliveries.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Publish a dead-lettered task again and wait for its result.
    Replay {
        id: i64,
        /// The broker(s) the workers listen on.
        #[arg(long = "broker", env = "TAYLORDASH_BROKER", value_delimiter = ',', default_value = "mqtt://127.0.0.1:1883")]
        brokers: Vec<String>,
        #[command(flatten)]
        flags: BrokerFlags,
    },
}

/// `taylordash dlq list|replay`.
pub fn dlq(cli: &Cli, cmd: &DlqCommand) -> anyhow::Result<i32> {
    let path = cli.runs_dir().join("dlq.sqlite");
    let store = bus::DlqStore::open(&path)?;
    match cmd {
        DlqCommand::List { json } => {
            let entries = store.list()?;
            if *json {
                let rows: Vec<_> = entries
                    .iter()
                    .map(|e| serde_json::json!({ "id": e.id, "at": e.at, "run_id": e.run_id, "task_id": e.task_id,
                        "tool": e.tool, "attempt": e.attempt, "deliveries": e.deliveries, "reason": e.reason,
                        "replayed_at": e.replayed_at }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{:<5} {:<18} {:<40} {:<10} REASON", "ID", "RUN", "TASK", "REPLAYED");
                for e in entries {
                    let replayed = if e.replayed_at.is_some() { "yes" } else { "no" };
                    println!("{:<5} {:<18} {:<40} {:<10} {}", e.id, e.run_id, e.task_id, replayed,
                        crate::sandbox::escape::for_terminal(&e.reason));
                }
            }
            Ok(ExitCode::Ok.code())
        }
        DlqCommand::Replay { id, brokers, flags } => {
            let entry = store.get(*id)?.ok_or_else(|| UsageError(format!("no DLQ entry {id} in {}", path.display())))?;
            let brokers = match BrokerChoice::parse(brokers).map_err(|e| UsageError(e.to_string()))? {
                BrokerChoice::External(list) => list,
                BrokerChoice::Embedded => return Err(UsageError("replay needs the workers' broker: --broker mqtt://host:port".into()).into()),
            };
            let topics = Topics::new(&flags.prefix).map_err(|e| UsageError(e.to_string()))?;
            let mut opts = bus::DispatchOptions::new(brokers, topics);
            opts.client.credentials = flags.credentials()?;
            opts.client.ca_file = flags.ca_file.clone();
            opts.client.auth = flags.auth(true)?;
            opts.audit = Some(cli.audit_log());
            opts.ship_files = true;
            let dispatch = bus::MqttDispatch::connect(opts)?;
            match dispatch.replay(&entry.envelope) {
                Ok(mut res) => {
                    store.mark_replayed(*id)?;
                    if let Some(ack) = res.ack.take() {
                        ack();
                    }
                    println!("{}", res.output);
                    Ok(ExitCode::Ok.code())
                }
                Err(e) => {
                    eprintln!("error: replay of {} failed: {e}", entry.task_id);
                    Ok(e.exit_code)
                }
            }
        }
    }
}
