//! `taylordash serve [--listen 127.0.0.1:8080]`: the KPI page, its JSON API
//! and Prometheus `/metrics` over the runs directory and the audit log.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use taylordash_protocol::ExitCode;

use super::{Cli, UsageError};
use crate::serve::{ServeOptions, serve};

#[derive(Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Listen on an address that is not loopback (the page shows runs and
    /// audit details to whoever reaches it; the default refuses).
    #[arg(long)]
    public: bool,
    /// The KPI window: runs updated within this long.
    #[arg(long, default_value = "24h", value_parser = crate::units::parse_duration)]
    window: Duration,
}

pub fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<i32> {
    if !args.listen.ip().is_loopback() && !args.public {
        return Err(UsageError(format!("--listen {} is not a loopback address; add --public to listen there", args.listen)).into());
    }
    let options = ServeOptions { journals: cli.journals(), audit: cli.audit_log(), window: args.window, poll: Duration::from_millis(500) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| UsageError(format!("--listen {}: {e}", args.listen)))?;
        let addr = listener.local_addr()?;
        eprintln!("serving http://{addr}/ (metrics at /metrics; runs in {})", options.journals.describe());
        serve(listener, options).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::Ok.code())
}

/// A worker's `--metrics ADDR`: serve its live counters on a thread of their own.
pub fn spawn_metrics(addr: SocketAddr, public: bool, live: std::sync::Arc<crate::observe::metrics::Live>) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() && !public {
        return Err(UsageError(format!("--metrics {addr} is not a loopback address; add --public to listen there")).into());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(|e| UsageError(format!("--metrics {addr}: {e}")))?;
    eprintln!("metrics at http://{}/metrics", listener.local_addr()?);
    std::thread::Builder::new().name("metrics".into()).spawn(move || {
        if let Err(e) = runtime.block_on(crate::serve::serve_metrics(listener, live)) {
            tracing::error!("the metrics server stopped: {e}");
        }
    })?;
    Ok(())
}
