//! The `taylordash` command line: parse, dispatch to the library, map errors
//! to the exit codes. Kept thin: every command is a few lines over the
//! library (docs/architecture.md: the CLI may use every module; none uses it).

mod audit;
mod bus;
mod contracts;
mod invoke;
mod mcp;
mod new;
mod plugins;
mod policy;
mod review;
mod run;
mod serve;
mod stats;
mod time;
mod validate;

use taylordash_protocol::ExitCode;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::sandbox::{Sandbox, SandboxError, SandboxOptions};

#[derive(Parser)]
#[command(name = "taylordash", version, about = "Run sandboxed agent tools and pipelines")]
pub struct Cli {
    /// Directory holding the plugins (`<tool>.wasm`).
    #[arg(long, global = true, env = "TAYLORDASH_PLUGINS_DIR", default_value = "target/plugins")]
    plugins_dir: PathBuf,
    /// Where compiled plugins are cached (default: $XDG_CACHE_HOME/taylordash/components).
    #[arg(long, global = true, env = "TAYLORDASH_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile every plugin afresh; neither read nor write the cache.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Memory the compiler may use for one plugin; past it the plugin is refused.
    #[arg(long, global = true, env = "TAYLORDASH_COMPILE_MEMORY", default_value = "2GiB",
          value_parser = crate::units::parse_bytes)]
    compile_memory: u64,
    /// Wall-clock time compiling one plugin may take; past it the plugin is refused.
    #[arg(long, global = true, env = "TAYLORDASH_COMPILE_TIMEOUT", default_value = "60s",
          value_parser = crate::units::parse_duration)]
    compile_timeout: std::time::Duration,
    /// The policy file (roles, principals, plugin grants and quotas).
    #[arg(long, global = true, env = "TAYLORDASH_POLICY")]
    policy: Option<PathBuf>,
    /// Act as this principal (default: the OS user). Under a policy with
    /// `identity: os`, only an admin's OS account may.
    #[arg(long = "as", global = true, env = "TAYLORDASH_AS")]
    as_name: Option<String>,
    /// Where runs are kept (default: $XDG_STATE_HOME/taylordash/runs).
    #[arg(long, global = true, env = "TAYLORDASH_RUNS_DIR")]
    runs_dir: Option<PathBuf>,
    /// Where runs are journaled: `sqlite` (a file per run in the runs
    /// directory, the default) or a PostgreSQL URL that several
    /// orchestrators share, e.g. postgres://taylordash@db/taylordash.
    #[arg(long, global = true, env = "TAYLORDASH_JOURNAL", value_name = "URL", default_value = "sqlite")]
    journal: crate::store::JournalUrl,
    /// How long a run's lease lasts without a heartbeat: another
    /// orchestrator standing by takes a run over this long after its owner
    /// died on another host (at once when the owner was on this host).
    #[arg(long, global = true, env = "TAYLORDASH_LEASE_TTL", default_value = "15s", value_parser = crate::units::parse_duration)]
    lease_ttl: std::time::Duration,
    /// The append-only audit log (default: $XDG_STATE_HOME/taylordash/audit.jsonl).
    #[arg(long, global = true, env = "TAYLORDASH_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Log filter, e.g. `info`, `debug`, `taylordash=trace` (default: warnings
    /// and errors only; `-v` for info, `-vv` for debug).
    #[arg(long, global = true, env = "TAYLORDASH_LOG")]
    log: Option<String>,
    /// More log lines on stderr: `-v` info, `-vv` debug, `-vvv` trace.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Export traces over OTLP/HTTP (protobuf) to this collector, e.g.
    /// http://127.0.0.1:4318 (default: $OTEL_EXPORTER_OTLP_ENDPOINT; none: no traces).
    #[arg(long, global = true, value_name = "URL")]
    otlp: Option<String>,
    #[command(subcommand)]
    command: Command,
    /// The caller, once decided (and its decision audited once).
    #[arg(skip)]
    caller: std::sync::OnceLock<crate::policy::Caller>,
    /// The trace exporter, once started (flushed before the process exits).
    #[arg(skip)]
    otlp_exporter: std::sync::OnceLock<Option<std::sync::Arc<crate::observe::trace::Otlp>>>,
    /// The audit log, opened once (a shared trail is one connection).
    #[arg(skip)]
    audit: std::sync::OnceLock<crate::audit::AuditLog>,
}

#[derive(Subcommand)]
enum Command {
    /// Start a plugin project of your own (Rust, Python or JavaScript), outside this repository.
    #[command(after_help = "Examples:\n  taylordash new word_count\n  taylordash new word_count --lang python --dir ~/tools/word_count\n  taylordash new word_count --lang js --sdk ~/taylordash/sdk/js")]
    New(new::NewArgs),
    /// List, inspect plugins.
    #[command(subcommand, after_help = "Examples:\n  taylordash plugins list\n  taylordash plugins inspect planner --json\n  taylordash plugins sign target/plugins/planner.wasm --key key.hex")]
    Plugins(plugins::PluginsCommand),
    /// Call one tool with a JSON input and print its JSON output.
    #[command(after_help = "Examples:\n  taylordash invoke planner --input @pipelines/examples/planner-input.json --workspace ws\n  echo '{}' | taylordash invoke mkdocs_writer --input @- --out site")]
    Invoke(invoke::InvokeArgs),
    /// Serve the plugins and pipelines to AI agents over MCP (stdio, or streamable HTTP).
    #[command(after_help = "Examples:\n  taylordash mcp --workspace ws\n  taylordash --policy policy.yaml mcp --http 127.0.0.1:8765 --workspace ws --out ws/out\n  taylordash policy token alice   # a bearer token for --http")]
    Mcp(mcp::McpArgs),
    /// Write each agent's contract (contracts/<agent>.yaml) from a pipeline and its tools.
    #[command(after_help = "Examples:\n  taylordash contracts pipelines/orchestration_flow.yaml --workspace ws\n\nA run holds each agent to its contract: a task slower than sla.response_time is an sla_breach event.")]
    Contracts(contracts::ContractsArgs),
    /// Check pipeline files; report every problem as file:line:col.
    #[command(after_help = "Examples:\n  taylordash validate pipelines/*.yaml\n  taylordash validate pipelines/orchestration_flow.yaml --json")]
    Validate(validate::ValidateArgs),
    /// Run a pipeline; prints the run id, then progress.
    #[command(after_help = "Examples:\n  taylordash --policy policy.yaml run pipelines/orchestration_flow.yaml --workspace ws\n  taylordash run p.yaml --input backlog=backlog.yaml --broker in-process\n  taylordash run p.yaml --broker mqtt://host:1883 --workers 0 --bus-key bus.key")]
    Run(run::RunArgs),
    /// Review a git change with the seed's context7_code_review pipeline; prints the review comments.
    #[command(after_help = "Examples:\n  taylordash --policy policy.yaml review --repo . --base main --workspace /tmp/review\n  taylordash review --base HEAD~3 --workspace /tmp/r --context7 http://127.0.0.1:8931/mcp --check")]
    Review(review::ReviewArgs),
    /// Continue a run that crashed or halted.
    #[command(after_help = "Examples:\n  taylordash resume run-0123456789ab\n  taylordash resume run-0123456789ab --broker in-process")]
    Resume(run::ResumeArgs),
    /// Take tasks from a shared broker and run them (many machines, one broker).
    #[command(after_help = "Examples:\n  taylordash worker --broker mqtt://host:1883 --bus-key bus.key --concurrency 4")]
    Worker(bus::WorkerArgs),
    /// Run the embedded MQTT broker alone.
    #[command(after_help = "Examples:\n  taylordash broker --port 1883")]
    Broker(bus::BrokerArgs),
    /// The dead-letter queue: list, replay.
    #[command(subcommand, after_help = "Examples:\n  taylordash dlq list\n  taylordash dlq replay 3 --broker mqtt://host:1883 --bus-key bus.key")]
    Dlq(bus::DlqCommand),
    /// The audit trail: grants, denials, quota breaches, signatures, role decisions.
    #[command(after_help = "Examples:\n  taylordash audit --denied\n  taylordash audit --run run-0123456789ab --json")]
    Audit(audit::AuditArgs),
    /// Check a policy file (and pipelines against it).
    #[command(subcommand, after_help = "Examples:\n  taylordash policy check policy.yaml pipelines/orchestration_flow.yaml")]
    Policy(policy::PolicyCommand),
    /// The seed's agent metrics from the journals, each against its target.
    #[command(after_help = "Examples:\n  taylordash stats\n  taylordash stats --since 1h --json\n  taylordash stats --run run-0123456789ab\n  taylordash stats --check   # exit 1 when a stage is > 50% slower than its baseline")]
    Stats(stats::StatsArgs),
    /// Serve the KPI page, its JSON API and Prometheus /metrics over the runs directory.
    #[command(after_help = "Examples:\n  taylordash serve\n  taylordash serve --listen 127.0.0.1:8080\n  curl -s 127.0.0.1:8080/metrics")]
    Serve(serve::ServeArgs),
    /// List runs, show one.
    #[command(subcommand, after_help = "Examples:\n  taylordash runs list\n  taylordash runs show run-0123456789ab\n  taylordash runs verify run-0123456789ab")]
    Runs(run::RunsCommand),
    /// Print a shell completion script.
    #[command(after_help = "Examples:\n  taylordash completions bash > ~/.local/share/bash-completion/completions/taylordash\n  taylordash completions zsh > ~/.zfunc/_taylordash\n  taylordash completions fish > ~/.config/fish/completions/taylordash.fish")]
    Completions {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
}

/// A mistake in how the command was called or configured (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_tracing(&log_filter(cli.log.as_deref(), cli.verbose));
    let code = match run(&cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit_code(&err)
        }
    };
    // Spans still queued go out before the process ends.
    if let Some(Some(otlp)) = cli.otlp_exporter.get() {
        otlp.shutdown();
    }
    code
}

fn run(cli: &Cli) -> anyhow::Result<i32> {
    match &cli.command {
        Command::New(args) => new::run(args),
        Command::Plugins(cmd) => plugins::run(cli, cmd),
        Command::Invoke(args) => invoke::run(cli, args),
        Command::Mcp(args) => mcp::run(cli, args),
        Command::Validate(args) => validate::run(cli, args),
        Command::Contracts(args) => contracts::run(cli, args),
        Command::Run(args) => run::run(cli, args),
        Command::Review(args) => review::run(cli, args),
        Command::Resume(args) => run::resume(cli, args),
        Command::Runs(cmd) => run::runs(cli, cmd),
        Command::Audit(args) => audit::run(cli, args),
        Command::Stats(args) => stats::run(cli, args),
        Command::Serve(args) => serve::run(cli, args),
        Command::Policy(cmd) => policy::run(cli, cmd),
        Command::Worker(args) => bus::worker(cli, args),
        Command::Broker(args) => bus::broker(cli, args),
        Command::Dlq(cmd) => bus::dlq(cli, cmd),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut <Cli as clap::CommandFactory>::command(), "taylordash", &mut std::io::stdout());
            Ok(0)
        }
    }
}

/// The exit code an error means: typed errors know theirs, anything else is 1.
fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<SandboxError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::policy::identity::IdentityError>() {
            return e.exit_code();
        }
        if cause.downcast_ref::<crate::policy::PolicyError>().is_some() {
            return ExitCode::Usage.code();
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return ExitCode::Usage.code();
        }
    }
    ExitCode::Failed.code()
}

/// The tracing filter: `--log` as given, else a level from `-v` (warnings
/// by default: a run that goes well prints its progress lines and nothing
/// else). The embedded broker (rumqttd) logs the clients it drops at
/// shutdown as errors; it stays silent unless the filter names it.
pub fn log_filter(log: Option<&str>, verbose: u8) -> String {
    let filter = match (log, verbose) {
        (Some(log), _) => log.to_string(),
        (None, 0) => "warn".to_string(),
        (None, 1) => "info".to_string(),
        (None, 2) => "debug".to_string(),
        (None, _) => "trace".to_string(),
    };
    let mut quieted = vec![filter.clone()];
    if !filter.contains("rumqttd") {
        quieted.push("rumqttd=off".into());
    }
    if !filter.contains("rumqttc") {
        quieted.push("rumqttc=error".into());
    }
    quieted.join(",")
}

/// Colour only for a terminal, and never when `NO_COLOR` is set (no-color.org).
fn use_colour(stream_is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    stream_is_terminal && no_color.is_none_or(|v| v.is_empty())
}

fn init_tracing(filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off,rumqttc=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(use_colour(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR")))
        .with_target(false)
        .try_init();
}

impl Cli {
    fn policy(&self) -> Result<Option<crate::policy::Policy>, crate::policy::PolicyError> {
        self.policy.as_deref().map(crate::policy::Policy::load).transpose()
    }

    /// The caller under the policy's identity rule; a refused `--as` and
    /// an admin's allowed one are audited here, once per process.
    fn caller(&self) -> anyhow::Result<crate::policy::Caller> {
        if let Some(caller) = self.caller.get() {
            return Ok(caller.clone());
        }
        match crate::policy::identity::authenticate(self.policy()?.as_ref(), self.as_name.as_deref()) {
            Ok(auth) => {
                self.audit_log().append(auth.event.as_slice());
                Ok(self.caller.get_or_init(|| auth.caller).clone())
            }
            Err(e) => {
                self.audit_log().append(&[e.event()]);
                Err(e.into())
            }
        }
    }

    /// The audit log; with a PostgreSQL journal, also the fleet's shared trail.
    fn audit_log(&self) -> crate::audit::AuditLog {
        self.audit
            .get_or_init(|| {
                let log = crate::audit::AuditLog::new(self.audit_log.clone().unwrap_or_else(crate::audit::AuditLog::default_path));
                match &self.journal {
                    crate::store::JournalUrl::Postgres(url) => log.with_shared_trail(url),
                    crate::store::JournalUrl::Files => log,
                }
            })
            .clone()
    }

    /// The trace exporter `--otlp` or the OTel variables ask for, started once.
    fn otlp(&self) -> anyhow::Result<Option<std::sync::Arc<crate::observe::trace::Otlp>>> {
        use crate::observe::trace::{Otlp, OtlpSettings};
        if let Some(otlp) = self.otlp_exporter.get() {
            return Ok(otlp.clone());
        }
        let started = match OtlpSettings::resolve(self.otlp.as_deref(), |k| std::env::var(k).ok()) {
            Some(settings) => Some(std::sync::Arc::new(Otlp::start(&settings).map_err(|e| UsageError(e.to_string()))?)),
            None => None,
        };
        Ok(self.otlp_exporter.get_or_init(|| started).clone())
    }

    fn runs_dir(&self) -> PathBuf {
        self.runs_dir.clone().unwrap_or_else(crate::orchestrator::default_runs_dir)
    }

    /// The runs' journals `--journal` names, with the runs directory.
    pub(crate) fn journals(&self) -> crate::store::Journals {
        crate::store::Journals::new(self.runs_dir(), self.journal.clone())
    }

    fn sandbox(&self) -> Result<Sandbox, SandboxError> {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(crate::sandbox::ComponentCache::default_dir)
        };
        // Compile in a child of this very binary, under the compile budget.
        let compiler = std::env::current_exe()
            .map_err(|e| SandboxError::Host(format!("cannot find the taylordash binary to compile plugins in: {e}")))?;
        let compile_budget = crate::sandbox::CompileBudget {
            memory: self.compile_memory,
            timeout: self.compile_timeout,
            ..Default::default()
        };
        Sandbox::new(SandboxOptions { cache_dir, compile_budget, compiler: Some(compiler) })
    }
}
