//! What can go wrong when loading or calling a plugin, each case tied to the
//! CLI exit code it means (docs/architecture.md, "Exit codes": 1 tool failed, 2 usage/config,
//! 3 denied, 4 quota exceeded, 5 plugin trapped).

use taylordash_protocol::ExitCode;
use std::path::PathBuf;

use super::capabilities::Denial;
use super::quotas::QuotaBreach;
use super::staging::MergeError;

/// How a tool reported its own failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolFailure {
    InvalidInput(String),
    Failed(String),
    Retryable(String),
}

impl std::fmt::Display for ToolFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToolFailure::InvalidInput(m) => write!(f, "invalid input: {m}"),
            ToolFailure::Failed(m) => write!(f, "failed: {m}"),
            ToolFailure::Retryable(m) => write!(f, "failed (retryable): {m}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("no plugin `{name}` in {dir} (build plugins with `cargo xtask build-plugins`, or name a .wasm file)")]
    NotFound { name: String, dir: PathBuf },
    #[error("cannot read plugin {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("plugin {path} is not a valid component: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("plugin `{plugin}` imports {import}, which the sandbox does not provide")]
    UnsupportedImport { plugin: String, import: String },
    #[error("plugin `{plugin}`: denied {denial}{}", tool_suffix(.tool))]
    Denied { plugin: String, denial: Denial, tool: Option<String> },
    #[error("plugin `{plugin}` refused: {breach}")]
    CompileBudget { plugin: String, breach: super::compile::BudgetBreach },
    #[error("plugin `{plugin}` refused: {message}")]
    CompilerCrashed { plugin: String, message: String },
    #[error("plugin `{plugin}` refused before compilation: its sha256 is {actual}, the policy pins {expected}")]
    DigestMismatch { plugin: String, expected: String, actual: String },
    #[error("{0}")]
    Untrusted(String),
    #[error("plugin `{plugin}`: {merge}")]
    Merge { plugin: String, merge: MergeError },
    #[error("plugin `{plugin}`: {breach}")]
    Quota { plugin: String, breach: QuotaBreach },
    #[error("plugin `{plugin}` trapped: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin `{plugin}` {failure}")]
    Tool { plugin: String, failure: ToolFailure },
    /// The call failed while the disk holding its `/out` was full: the
    /// host's fault, not the tool's, whatever the tool said.
    #[error("plugin `{plugin}` failed while the filesystem holding its /out ({}) had {free} bytes free; retryable once space is freed (the tool said: {said})", .out.display())]
    OutDiskFull { plugin: String, out: PathBuf, free: u64, said: String },
    #[error("plugin `{plugin}` returned output that is not JSON: {message}")]
    BadOutput { plugin: String, message: String },
    #[error("sandbox: {0}")]
    Host(String),
}

fn tool_suffix(tool: &Option<String>) -> String {
    tool.as_ref().map(|t| format!(" (the tool then reported: {t})")).unwrap_or_default()
}

impl SandboxError {
    /// The CLI exit code this error means.
    pub fn exit_code(&self) -> i32 {
        let code = match self {
            SandboxError::Tool { .. } | SandboxError::BadOutput { .. } | SandboxError::Host(_) | SandboxError::OutDiskFull { .. } => {
                ExitCode::Failed
            }
            SandboxError::NotFound { .. } | SandboxError::Read { .. } | SandboxError::Invalid { .. } => ExitCode::Usage,
            SandboxError::UnsupportedImport { .. } | SandboxError::Denied { .. } | SandboxError::DigestMismatch { .. }
            | SandboxError::Untrusted(_) => ExitCode::Denied,
            SandboxError::CompileBudget { .. } | SandboxError::CompilerCrashed { .. } => ExitCode::Denied,
            SandboxError::Merge { merge, .. } => match merge {
                MergeError::Io { .. } => ExitCode::Failed,
                MergeError::NotRegular(_) | MergeError::WouldOverwrite(_) => ExitCode::Denied,
                MergeError::OverBudget(_) => ExitCode::Quota,
            },
            SandboxError::Quota { .. } => ExitCode::Quota,
            SandboxError::Trap { .. } => ExitCode::Trap,
        };
        code.code()
    }

    /// Whether the orchestrator may retry the same call.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SandboxError::Tool { failure: ToolFailure::Retryable(_), .. }
                | SandboxError::OutDiskFull { .. }
                | SandboxError::Quota { breach: QuotaBreach { kind: super::QuotaKind::Timeout, .. }, .. }
        )
    }
}
