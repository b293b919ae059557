//! `policy.yaml`: who may do what. Roles (ordered by power), principals
//! mapped to roles, and per plugin its pinned digest, quotas and grants.
//!
//! Without a policy file safe defaults apply — no env, no network, no exec,
//! conservative quotas — and the local user is the admin of their own
//! machine. With one, a caller is `--as NAME` (or the OS user), and a name
//! the policy does not map has no role at all.

pub mod audit;
pub mod trust;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::sandbox::quotas::{parse_bytes, parse_duration};
use crate::sandbox::{ExecGrant, Grants, Quotas, SandboxError};

pub const ROLES: [&str; 3] = ["admin", "maintainer", "viewer"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub principals: BTreeMap<String, String>,
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginPolicy>,
    #[serde(default)]
    pub trusted_keys: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginPolicy {
    /// `sha256:<hex>`: the loaded file must match.
    pub digest: Option<String>,
    #[serde(default)]
    pub quotas: QuotaSpec,
    #[serde(default)]
    pub grants: GrantSpec,
    /// The least powerful role that may use this plugin's powerful grants.
    pub max_role_to_grant: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSpec {
    pub memory: Option<Size>,
    pub fuel: Option<u64>,
    pub timeout: Option<String>,
    pub output: Option<Size>,
    pub log: Option<Size>,
    pub host_calls: Option<u64>,
}

/// A size as `64MiB` or a plain number of bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Size {
    Bytes(u64),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSpec {
    pub fs: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub env: Vec<String>,
    pub exec: Option<ExecSpec>,
    pub http: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    pub programs: Vec<String>,
    pub timeout: Option<String>,
    pub output: Option<Size>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{file}:{line}:{col}: {message}")]
    Invalid { file: String, line: usize, col: usize, message: String },
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
}

impl PolicyError {
    fn at(file: &str, line: usize, col: usize, message: String) -> Self {
        PolicyError::Invalid { file: file.to_string(), line, col, message }
    }
}

/// Who is calling, and with which role (empty: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: String,
    pub role: String,
}

pub fn os_user() -> String {
    std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "local".to_string())
}

impl Policy {
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| PolicyError::Unreadable { file: file.clone(), message: e.to_string() })?;
        let policy: Policy = serde_yaml_ng::from_str(&text).map_err(|e| {
            let (line, col) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
            PolicyError::at(&file, line, col, e.to_string())
        })?;
        policy.check(&file, &text)?;
        Ok(policy)
    }

    /// Names that must exist: roles of principals and of `max_role_to_grant`.
    fn check(&self, file: &str, text: &str) -> Result<(), PolicyError> {
        let roles = self.roles();
        let locate = |needle: &str| {
            text.lines()
                .enumerate()
                .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
                .unwrap_or((1, 1))
        };
        for (who, role) in &self.principals {
            if !roles.contains(&role.as_str()) {
                let (l, c) = locate(who);
                return Err(PolicyError::at(file, l, c, format!("principal `{who}` has unknown role `{role}`; roles are {}", roles.join(", "))));
            }
        }
        for (name, p) in &self.plugins {
            if let Some(role) = &p.max_role_to_grant {
                if !roles.contains(&role.as_str()) {
                    let (l, c) = locate(name);
                    return Err(PolicyError::at(file, l, c, format!("plugin `{name}`: unknown role `{role}` in max_role_to_grant")));
                }
            }
            if let Some(d) = &p.digest {
                if !d.starts_with("sha256:") || d.len() != 7 + 64 {
                    let (l, c) = locate(name);
                    return Err(PolicyError::at(file, l, c, format!("plugin `{name}`: digest must be `sha256:<64 hex digits>`")));
                }
            }
            p.quotas(&Quotas::default()).map_err(|m| {
                let (l, c) = locate(name);
                PolicyError::at(file, l, c, format!("plugin `{name}`: {m}"))
            })?;
        }
        Ok(())
    }

    pub fn roles(&self) -> Vec<&str> {
        if self.roles.is_empty() { ROLES.to_vec() } else { self.roles.iter().map(String::as_str).collect() }
    }

    /// The rank of a role: 0 is the most powerful.
    pub fn rank(&self, role: &str) -> Option<usize> {
        self.roles().iter().position(|r| *r == role)
    }
}

/// Whether a plugin file may be loaded: its pinned digest, and a signature by
/// a trusted key when the policy lists any. Checked before compilation.
pub fn admit(policy: Option<&Policy>, path: &Path, name: &str, sha256: &str) -> Result<(), SandboxError> {
    let Some(policy) = policy else { return Ok(()) };
    if let Some(expected) = policy.plugins.get(name).and_then(|p| p.digest.as_deref()) {
        let expected = expected.strip_prefix("sha256:").unwrap_or(expected);
        if !sha256.eq_ignore_ascii_case(expected) {
            return Err(SandboxError::DigestMismatch {
                plugin: name.to_string(),
                expected: format!("sha256:{expected}"),
                actual: format!("sha256:{sha256}"),
            });
        }
    }
    if !policy.trusted_keys.is_empty() {
        trust::verify(path, name, sha256, &policy.trusted_keys).map_err(|e| SandboxError::Untrusted(e.to_string()))?;
    }
    Ok(())
}

/// Resolve the caller: without a policy the local user is admin.
pub fn caller(policy: Option<&Policy>, as_name: Option<&str>) -> Caller {
    let principal = as_name.map(str::to_string).unwrap_or_else(os_user);
    let role = match policy {
        None => "admin".to_string(),
        Some(p) => p.principals.get(&principal).cloned().unwrap_or_default(),
    };
    Caller { principal, role }
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
    fn http_grant(&self) -> Option<crate::sandbox::http::HttpGrant> {
        self.grants.http.as_ref().map(|allowed| crate::sandbox::http::HttpGrant {
            allowed: allowed.clone(),
            timeout: Duration::from_secs(10),
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
            ..*base
        })
    }

    /// Grants for a caller of `role`: powerful grants (exec, env) only when
    /// the role is at least `max_role_to_grant` (default: admin).
    pub fn grants(&self, policy: &Policy, role: &str) -> Grants {
        let needed = self.max_role_to_grant.as_deref().unwrap_or("admin");
        let allowed = matches!((policy.rank(role), policy.rank(needed)), (Some(have), Some(need)) if have <= need);
        if !allowed {
            return Grants { http: self.http_grant(), ..Grants::default() };
        }
        let env = self
            .grants
            .env
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.clone(), v)))
            .collect();
        let exec = self.grants.exec.as_ref().map(|e| ExecGrant {
            programs: e.programs.clone(),
            timeout: e.timeout.as_deref().and_then(|t| parse_duration(t).ok()).unwrap_or(Duration::from_secs(60)),
            output: e.output.as_ref().and_then(|s| size(s).ok()).unwrap_or(1 << 20),
        });
        Grants { env, exec, http: self.http_grant() }
    }
}
