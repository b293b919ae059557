//! The MCP gateway (`taylordash mcp`): every plugin a caller may use, and
//! every pipeline, served as a tool of a Model Context Protocol server on
//! the official Rust SDK (rmcp), over stdio or streamable HTTP.
//!
//! Each call goes through the same doors as `taylordash invoke`: the
//! policy's digest pins and signatures when a plugin is loaded
//! ([`registry`]), the caller's role for which tools exist at all and which
//! grants apply, the plugin's quotas, `/workspace` read-only and a fresh
//! `/out` merged into the output directory after success ([`call`]). A
//! failure of any kind is a tool result with `isError` and the CLI's
//! one-line message; the server carries on. Who calls is the OS user (or
//! `--as`) on stdio, and the principal of a bearer token on HTTP ([`http`]).
//! Every call is audited.

mod call;
mod handler;
pub mod http;
mod limits;
mod pipelines;
mod registry;
pub mod schema;

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::AuditLog;
use crate::policy::{Caller, Policy};
use crate::sandbox::Sandbox;

pub use handler::Handler;

/// How the gateway serves.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub plugins_dir: PathBuf,
    /// Mounted read-only at `/workspace` for every call.
    pub workspace: PathBuf,
    /// Where each call's `/out` is merged (and where pipelines run).
    pub out: PathBuf,
    /// Refuse to overwrite existing files when merging `/out`.
    pub add_only: bool,
    /// Pipelines served as tools (`None`: none).
    pub pipelines_dir: Option<PathBuf>,
    pub runs_dir: PathBuf,
    /// Where the pipelines' runs are journaled.
    pub journal: crate::orchestrator::JournalUrl,
}

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
}

/// What every session of the server shares.
pub struct Gateway {
    pub options: GatewayOptions,
    pub sandbox: Arc<Sandbox>,
    pub policy: Option<Arc<Policy>>,
    pub audit: AuditLog,
    registry: Arc<registry::Registry>,
    pipelines: pipelines::Pipelines,
    limits: limits::Limits,
}

impl Gateway {
    /// Load every plugin of the directory (compiling through the cache) and
    /// read the pipelines, then start watching the plugins directory.
    pub fn start(options: GatewayOptions, sandbox: Sandbox, policy: Option<Policy>, audit: AuditLog) -> Result<Arc<Self>, GatewayError> {
        let sandbox = Arc::new(sandbox);
        let policy = policy.map(Arc::new);
        let registry = Arc::new(registry::Registry::new(options.plugins_dir.clone()));
        registry.refresh(&sandbox, policy.as_deref(), &audit, None);
        registry.watch(Arc::clone(&sandbox), policy.clone(), audit.clone());
        let pipelines = match &options.pipelines_dir {
            Some(dir) => pipelines::Pipelines::read(dir, &options.plugins_dir, policy.as_deref())?,
            None => pipelines::Pipelines::default(),
        };
        let limits = limits::Limits::new(policy.as_ref().map(|p| p.mcp).unwrap_or_default());
        Ok(Arc::new(Gateway { options, sandbox, policy, audit, registry, pipelines, limits }))
    }
}

/// Serve one session on stdin/stdout for `caller` until the client leaves.
pub async fn serve_stdio(gateway: Arc<Gateway>, caller: Caller) -> Result<(), GatewayError> {
    use rmcp::ServiceExt;
    let service = Handler::new(gateway, Some(caller))
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| GatewayError::Io(format!("mcp over stdio: {e}")))?;
    service.waiting().await.map_err(|e| GatewayError::Io(format!("mcp over stdio: {e}")))?;
    Ok(())
}
