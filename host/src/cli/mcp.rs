//! `taylordash mcp`: serve the plugins and pipelines to AI agents over the
//! Model Context Protocol — stdio by default, streamable HTTP with `--http`.
//! On stdio, stdout carries the protocol alone; everything else goes to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{Cli, UsageError};
use crate::mcp::{Gateway, GatewayError, GatewayOptions, http::HttpOptions};

#[derive(Args)]
pub struct McpArgs {
    /// Serve streamable HTTP at http://ADDR/mcp instead of stdio (e.g.
    /// 127.0.0.1:8765); every request needs a bearer token from the policy's
    /// `mcp_tokens`.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Listen on an address that is not loopback (the default refuses: a
    /// local tool server reachable from the network is rarely meant).
    #[arg(long)]
    public: bool,
    /// A browser origin allowed to call over HTTP besides the server's own
    /// (e.g. https://inspector.example:443); repeatable.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Mounted read-only at /workspace for every call.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
    /// Where each call's /out is merged, and where pipelines run (default: the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Refuse to overwrite existing files when merging /out.
    #[arg(long)]
    add_only: bool,
    /// Pipelines served as tools `pipeline_<name>` (default: ./pipelines when it exists).
    #[arg(long, value_name = "DIR")]
    pipelines: Option<PathBuf>,
}

pub fn run(cli: &Cli, args: &McpArgs) -> anyhow::Result<i32> {
    let workspace = super::invoke::existing_dir(&args.workspace, "--workspace")?;
    let out = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| UsageError(format!("--out {}: {e}", dir.display())))?;
            super::invoke::existing_dir(dir, "--out")?
        }
        None => workspace.clone(),
    };
    let pipelines_dir = match &args.pipelines {
        Some(dir) => Some(dir.clone()),
        None => Some(PathBuf::from("pipelines")).filter(|d| d.is_dir()),
    };
    if let Some(addr) = args.http
        && !addr.ip().is_loopback()
        && !args.public
    {
        return Err(UsageError(format!("--http {addr} is not a loopback address; add --public to listen there")).into());
    }
    let caller = cli.caller()?;
    let options = GatewayOptions {
        plugins_dir: cli.plugins_dir.clone(),
        workspace,
        out,
        add_only: args.add_only,
        pipelines_dir,
        runs_dir: cli.runs_dir(),
        journal: cli.journal.clone(),
    };
    let gateway = Gateway::start(options, cli.sandbox()?, cli.policy()?, cli.audit_log()).map_err(usage)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let served = match args.http {
        None => runtime.block_on(crate::mcp::serve_stdio(gateway, caller)),
        Some(addr) => {
            let options = HttpOptions { allowed_origins: args.allow_origins.clone(), ..HttpOptions::new(addr) };
            runtime.block_on(crate::mcp::http::serve(gateway, options, |bound| {
                eprintln!("mcp: serving streamable HTTP at http://{bound}/mcp");
            }))
        }
    };
    served.map_err(usage)?;
    Ok(0)
}

fn usage(e: GatewayError) -> anyhow::Error {
    match e {
        GatewayError::Usage(m) => UsageError(m).into(),
        GatewayError::Io(m) => anyhow::anyhow!(m),
    }
}
