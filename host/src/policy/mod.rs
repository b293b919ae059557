//! `policy.yaml`: who may do what. Roles (ordered by power), principals
//! mapped to roles, and per plugin its pinned digest, quotas and grants.
//!
//! Without a policy file safe defaults apply — no env, no network, no exec,
//! conservative quotas — and the local user is the admin of their own
//! machine. With one, a caller is `--as NAME` (or the OS user), and a name
//! the policy does not map has no role at all; with `identity: os` the
//! caller is the OS account, and only an admin may use `--as` ([`identity`]).

pub mod access;
pub mod identity;
pub mod read;
pub mod trust;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::pipeline::Diagnostics;
use crate::units::{parse_bytes, parse_duration};
use crate::audit::Subject;
use crate::sandbox::{ExecGrant, Grants, HttpGrant, Quotas, SandboxError};

pub const ROLES: [&str; 3] = ["admin", "maintainer", "viewer"];

/// The policy as read from `policy.yaml` ([`read`] says how). Fields are
/// what the file says; an absent `roles` means [`ROLES`].
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub roles: Vec<String>,
    pub principals: BTreeMap<String, String>,
    pub plugins: BTreeMap<String, PluginPolicy>,
    pub trusted_keys: Vec<String>,
    /// How the caller is known: `--as` taken at its word, or the OS account.
    pub identity: identity::Identity,
    /// MCP bearer tokens: lower-case hex sha256 of the token → principal.
    pub mcp_tokens: BTreeMap<String, String>,
    /// What one MCP principal may ask of the gateway.
    pub mcp: McpLimits,
}

/// Per-principal limits of the MCP gateway (`mcp:` in policy.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct McpLimits {
    /// Tool calls of one principal running at once; more wait their turn.
    pub concurrency: usize,
    /// Tool calls one principal may start in a minute; more are refused.
    pub calls_per_minute: u32,
    /// The largest request body, in bytes (HTTP).
    pub max_request: u64,
    /// The longest a pipeline tool may run; a plugin call is bounded by its quotas.
    pub call_timeout: Duration,
}

impl Default for McpLimits {
    fn default() -> Self {
        McpLimits { concurrency: 4, calls_per_minute: 600, max_request: 4 << 20, call_timeout: Duration::from_secs(30 * 60) }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PluginPolicy {
    /// `sha256:<hex>`: the loaded file must match.
    pub digest: Option<String>,
    pub quotas: QuotaSpec,
    pub grants: GrantSpec,
    /// The least powerful role that may use this plugin's powerful grants.
    pub max_role_to_grant: Option<String>,
    /// The roles that may call the plugin at all (`None`: every role).
    pub roles: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct QuotaSpec {
    pub memory: Option<Size>,
    pub fuel: Option<u64>,
    pub timeout: Option<String>,
    pub output: Option<Size>,
    pub log: Option<Size>,
    pub host_calls: Option<u64>,
    /// The largest HTTP request or response body (default 16 MiB).
    pub http_body: Option<Size>,
    /// Bytes a call may write to `/out` (default 256 MiB).
    pub out_bytes: Option<Size>,
    /// Files and directories a call may create in `/out` (default 10,000).
    pub out_files: Option<u64>,
}

/// A size as `64MiB` or a plain number of bytes.
#[derive(Debug, Clone)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Clone, Default)]
pub struct GrantSpec {
    pub fs: Option<BTreeMap<String, String>>,
    pub env: Vec<String>,
    pub exec: Option<ExecSpec>,
    pub http: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    pub programs: Vec<String>,
    pub timeout: Option<String>,
    pub output: Option<Size>,
    pub processes: Option<u64>,
    pub memory: Option<Size>,
    pub cpu: Option<String>,
    pub require_isolation: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Every problem of the file, one `file:line:col: message` per line.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
}

/// Who is calling, and with which role (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: String,
    pub role: String,
    /// Who really acts, when not `principal`: the OS account of an admin
    /// using `--as` under `identity: os`.
    pub actor: Option<String>,
}

impl Caller {
    /// Who and where for the audit events of this caller's calls of `plugin`.
    pub fn subject(&self, plugin: impl Into<String>) -> Subject {
        Subject {
            principal: self.principal.clone(),
            plugin: plugin.into(),
            actor: self.actor.clone().unwrap_or_default(),
            ..Subject::default()
        }
    }
}

/// Why the policy refuses to let a plugin file be loaded ([`admit`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    #[error("plugin `{plugin}` refused before compilation: its sha256 is {actual}, the policy pins {expected}")]
    DigestMismatch { plugin: String, expected: String, actual: String },
    /// No trusted key signed the file; the message says why.
    #[error("{0}")]
    Untrusted(String),
}

/// The sandbox reports a refused load as its own error (same message, exit
/// code 3), so the policy's answer crosses into a load at this one place.
impl From<AdmissionError> for SandboxError {
    fn from(e: AdmissionError) -> Self {
        match e {
            AdmissionError::DigestMismatch { plugin, expected, actual } => {
                SandboxError::DigestMismatch { plugin, expected, actual }
            }
            AdmissionError::Untrusted(message) => SandboxError::Untrusted(message),
        }
    }
}

/// The caller's name as claimed by the environment: `$USER`, else
/// `$LOGNAME`, else — CI jobs, services and containers often set neither —
/// the password database's name for the real uid; `local` only when even
/// that has no entry.
pub fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            identity::account_name(uid)
        })
        .unwrap_or_else(|| "local".to_string())
}

impl Policy {
    /// Read and check `path`; refused with every problem it has.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::Unreadable { file: file.clone(), message: e.to_string() })?;
        Policy::parse(&file, &text)
    }

    /// Read and check policy text; `file` names it in diagnostics.
    pub fn parse(file: &str, text: &str) -> Result<Policy, PolicyError> {
        let read = read::read(file, text);
        if !read.diagnostics.is_empty() {
            tracing::debug!(file, problems = read.diagnostics.len(), "policy refused");
            return Err(PolicyError::Invalid(read.diagnostics));
        }
        tracing::debug!(
            file,
            principals = read.policy.principals.len(),
            plugins = read.policy.plugins.len(),
            "policy loaded"
        );
        Ok(read.policy)
    }

    pub fn roles(&self) -> Vec<&str> {
        if self.roles.is_empty() { ROLES.to_vec() } else { self.roles.iter().map(String::as_str).collect() }
    }

    /// Whether a caller of `role` may call `tool` at all: the plugin's
    /// `roles` list it, or it has no such list.
    pub fn may_call(&self, tool: &str, role: &str) -> bool {
        match self.plugins.get(tool).and_then(|p| p.roles.as_ref()) {
            Some(roles) => roles.iter().any(|r| r == role),
            None => true,
        }
    }

    /// The principal an MCP bearer token stands for, if the policy maps it.
    /// Compared as digests, so the policy never holds a usable token.
    pub fn token_principal(&self, token: &str) -> Option<&str> {
        use sha2::Digest;
        let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        self.mcp_tokens.get(&digest).map(String::as_str)
    }

    /// The rank of a role: 0 is the most powerful.
    pub fn rank(&self, role: &str) -> Option<usize> {
        self.roles().iter().position(|r| *r == role)
    }
}

/// Whether a plugin file may be loaded: its pinned digest, and a signature by
/// a trusted key when the policy lists any. Checked before compilation.
pub fn admit(policy: Option<&Policy>, path: &Path, name: &str, sha256: &str) -> Result<(), AdmissionError> {
    let Some(policy) = policy else { return Ok(()) };
    if let Some(expected) = policy.plugins.get(name).and_then(|p| p.digest.as_deref()) {
        let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
        if !sha256.eq_ignore_ascii_case(expected) {
            return Err(AdmissionError::DigestMismatch {
                plugin: name.to_string(),
                expected: format!("sha256:{expected}"),
                actual: format!("sha256:{sha256}"),
            });
        }
    }
    if !policy.trusted_keys.is_empty() {
        trust::verify(path, name, sha256, &policy.trusted_keys).map_err(|e| AdmissionError::Untrusted(e.to_string()))?;
    }
    Ok(())
}

/// The quotas and grants of one call of `tool` by a caller of `role`: the
/// policy's for the plugin over `base`, or `base` and no grants.
pub fn call_limits(policy: Option<&Policy>, tool: &str, role: &str, base: Quotas) -> Result<(Quotas, Grants), String> {
    match (policy, policy.and_then(|p| p.plugins.get(tool))) {
        (Some(policy), Some(pp)) => Ok((pp.quotas(&base)?, pp.grants(policy, role))),
        _ => Ok((base, Grants::default())),
    }
}

/// Resolve the caller as claimed (`identity: claimed`, or no policy):
/// without a policy the local user is admin. [`identity::authenticate`]
/// applies the policy's identity rule.
pub fn caller(policy: Option<&Policy>, as_name: Option<&str>) -> Caller {
    let principal = as_name.map(str::to_string).unwrap_or_else(os_user);
    let role = match policy {
        None => "admin".to_string(),
        Some(p) => p.principals.get(&principal).cloned().unwrap_or_default(),
    };
    Caller { principal, role, actor: None }
}

fn size(s: &Size) -> Result<u64, String> {
    match s {
        Size::Bytes(n) => Ok(*n),
        Size::Text(t) => parse_bytes(t),
    }
}

impl PluginPolicy {
    /// Outgoing HTTP is not a "powerful" grant: it reaches only the host:port
    /// pairs named, and internal addresses only by IP literal.
    fn http_grant(&self) -> Option<HttpGrant> {
        let max_body = self.quotas.http_body.as_ref().and_then(|s| size(s).ok()).unwrap_or(crate::sandbox::capabilities::MAX_BODY);
        self.grants.http.as_ref().map(|allowed| HttpGrant {
            allowed: allowed.clone(),
            timeout: Duration::from_secs(10),
            max_body,
        })
    }

    /// Quotas: the defaults, raised (or lowered) where the policy says.
    pub fn quotas(&self, base: &Quotas) -> Result<Quotas, String> {
        let q = &self.quotas;
        Ok(Quotas {
            memory: q.memory.as_ref().map(size).transpose()?.unwrap_or(base.memory),
            fuel: q.fuel.unwrap_or(base.fuel),
            timeout: q.timeout.as_deref().map(parse_duration).transpose()?.unwrap_or(base.timeout),
            output: q.output.as_ref().map(size).transpose()?.unwrap_or(base.output),
            log: q.log.as_ref().map(size).transpose()?.unwrap_or(base.log),
            host_calls: q.host_calls.unwrap_or(base.host_calls),
            out_bytes: q.out_bytes.as_ref().map(size).transpose()?.unwrap_or(base.out_bytes),
            out_files: q.out_files.unwrap_or(base.out_files),
            ..*base
        })
    }

    /// The least powerful role that gets the powerful grants (default: admin).
    pub fn needed_role(&self) -> &str {
        self.max_role_to_grant.as_deref().unwrap_or("admin")
    }

    /// Whether there is anything powerful (exec, env) to grant at all.
    pub fn has_powerful_grants(&self) -> bool {
        self.grants.exec.is_some() || !self.grants.env.is_empty()
    }

    /// Whether a caller of `role` gets the powerful grants: the role is at
    /// least `max_role_to_grant`. An unknown role (or none) never does.
    pub fn powerful_allowed(&self, policy: &Policy, role: &str) -> bool {
        matches!((policy.rank(role), policy.rank(self.needed_role())), (Some(have), Some(need)) if have <= need)
    }

    /// Grants for a caller of `role`: powerful grants (exec, env) only when
    /// the role is at least `max_role_to_grant` (default: admin).
    pub fn grants(&self, policy: &Policy, role: &str) -> Grants {
        if !self.powerful_allowed(policy, role) {
            return Grants { http: self.http_grant(), ..Grants::default() };
        }
        let env = self
            .grants
            .env
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect();
        let exec = self.grants.exec.as_ref().map(|e| {
            let d = ExecGrant::new(e.programs.clone());
            let duration = |t: &Option<String>, or| t.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(or);
            ExecGrant {
                timeout: duration(&e.timeout, d.timeout),
                output: e.output.as_ref().and_then(|s| size(s).ok()).unwrap_or(d.output),
                processes: e.processes.unwrap_or(d.processes),
                memory: e.memory.as_ref().and_then(|s| size(s).ok()).unwrap_or(d.memory),
                cpu: duration(&e.cpu, d.cpu),
                require_isolation: e.require_isolation,
                ..d
            }
        });
        Grants { env, exec, http: self.http_grant() }
    }
}
