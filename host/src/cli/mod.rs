//! The `taylordash` command line: parse, dispatch to the library, map errors
//! to the exit codes of DESIGN.md. Kept thin: every command is a few lines
//! over [`crate::sandbox`] (and later the pipeline and bus modules).

mod audit;
mod bus;
mod invoke;
mod plugins;
mod policy;
mod run;
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
          value_parser = crate::sandbox::quotas::parse_bytes)]
    compile_memory: u64,
    /// Wall-clock time compiling one plugin may take; past it the plugin is refused.
    #[arg(long, global = true, env = "TAYLORDASH_COMPILE_TIMEOUT", default_value = "60s",
          value_parser = crate::sandbox::quotas::parse_duration)]
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
    /// The append-only audit log (default: $XDG_STATE_HOME/taylordash/audit.jsonl).
    #[arg(long, global = true, env = "TAYLORDASH_AUDIT_LOG")]
    audit_log: Option<PathBuf>,
    /// Log filter, e.g. `info`, `debug`, `taylordash=trace`.
    #[arg(long, global = true, env = "TAYLORDASH_LOG", default_value = "info,rumqttd=off,rumqttc=warn")]
    log: String,
    #[command(subcommand)]
    command: Command,
    /// The caller, once decided (and its decision audited once).
    #[arg(skip)]
    caller: std::sync::OnceLock<crate::policy::Caller>,
}

#[derive(Subcommand)]
enum Command {
    /// List, inspect plugins.
    #[command(subcommand)]
    Plugins(plugins::PluginsCommand),
    /// Call one tool with a JSON input and print its JSON output.
    Invoke(invoke::InvokeArgs),
    /// Check pipeline files; report every problem as file:line:col.
    Validate(validate::ValidateArgs),
    /// Run a pipeline; prints the run id, then progress.
    Run(run::RunArgs),
    /// Continue a run that crashed or halted.
    Resume(run::ResumeArgs),
    /// Take tasks from a shared broker and run them (many machines, one broker).
    Worker(bus::WorkerArgs),
    /// Run the embedded MQTT broker alone.
    Broker(bus::BrokerArgs),
    /// The dead-letter queue: list, replay.
    #[command(subcommand)]
    Dlq(bus::DlqCommand),
    /// The audit trail: grants, denials, quota breaches, signatures, role decisions.
    Audit(audit::AuditArgs),
    /// Check a policy file (and pipelines against it).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// List runs, show one.
    #[command(subcommand)]
    Runs(run::RunsCommand),
}

/// A mistake in how the command was called or configured (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Run the CLI; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_tracing(&cli.log);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit_code(&err)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match &cli.command {
        Command::Plugins(cmd) => plugins::run(&cli, cmd),
        Command::Invoke(args) => invoke::run(&cli, args),
        Command::Validate(args) => validate::run(&cli, args),
        Command::Run(args) => run::run(&cli, args),
        Command::Resume(args) => run::resume(&cli, args),
        Command::Runs(cmd) => run::runs(&cli, cmd),
        Command::Audit(args) => audit::run(&cli, args),
        Command::Policy(cmd) => policy::run(&cli, cmd),
        Command::Worker(args) => bus::worker(&cli, args),
        Command::Broker(args) => bus::broker(&cli, args),
        Command::Dlq(cmd) => bus::dlq(&cli, cmd),
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

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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

    fn audit_log(&self) -> crate::policy::audit::AuditLog {
        crate::policy::audit::AuditLog::new(
            self.audit_log.clone().unwrap_or_else(crate::policy::audit::AuditLog::default_path),
        )
    }

    fn runs_dir(&self) -> PathBuf {
        self.runs_dir.clone().unwrap_or_else(crate::orchestrator::default_runs_dir)
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
