//! The `taylordash` command line: parse, dispatch to the library, map errors
//! to the exit codes of DESIGN.md. Kept thin: every command is a few lines
//! over [`crate::sandbox`] (and later the pipeline and bus modules).

mod invoke;
mod plugins;
mod validate;

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
    /// Log filter, e.g. `info`, `debug`, `taylordash=trace`.
    #[arg(long, global = true, env = "TAYLORDASH_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
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
    }
}

/// The exit code an error means: typed errors know theirs, anything else is 1.
fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<SandboxError>() {
            return e.exit_code();
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
    }
    1
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
    fn sandbox(&self) -> Result<Sandbox, SandboxError> {
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(crate::sandbox::ComponentCache::default_dir)
        };
        Sandbox::new(SandboxOptions { cache_dir })
    }
}
