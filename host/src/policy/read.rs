//! Reading `policy.yaml` from the positioned YAML tree the pipelines use, so
//! that every problem is reported at once, each at the `file:line:col` of the
//! value at fault (a principal's unknown role: at the principal's name).
//!
//! Reading never stops at the first problem: an entry at fault is recorded
//! and left out, and reading goes on. The result is the policy as far as it
//! could be read plus every problem; [`super::Policy::load`] refuses a policy
//! with any problem, `taylordash policy check` prints them all.

use std::collections::BTreeMap;

use super::{ExecSpec, GrantSpec, McpLimits, Policy, PluginPolicy, QuotaSpec, ROLES, Size, trust};
use crate::units::{parse_bytes, parse_duration};
use crate::yaml::diagnostic::{Diagnostics, did_you_mean};
use crate::yaml::reader::{Reader as YamlReader, Wording, at_path as at};
use crate::yaml::{self, Named, Node, Pos, Value};

const TOP_KEYS: [&str; 7] = ["roles", "principals", "plugins", "trusted_keys", "identity", "mcp_tokens", "mcp"];
const PLUGIN_KEYS: [&str; 5] = ["digest", "quotas", "grants", "max_role_to_grant", "roles"];
const MCP_KEYS: [&str; 4] = ["concurrency", "calls_per_minute", "max_request", "call_timeout"];
const QUOTA_KEYS: [&str; 9] = ["memory", "fuel", "timeout", "output", "log", "host_calls", "http_body", "out_bytes", "out_files"];
const GRANT_KEYS: [&str; 4] = ["fs", "env", "exec", "http"];
const EXEC_KEYS: [&str; 7] = ["programs", "timeout", "output", "processes", "memory", "cpu", "require_isolation"];
const FS_KEYS: [&str; 2] = ["workspace", "out"];

/// A policy as far as it could be read, and every problem found.
#[derive(Debug, Clone, Default)]
pub struct ReadPolicy {
    pub policy: Policy,
    pub diagnostics: Diagnostics,
    /// The plugin entries' names with where they were written (for checks
    /// against a plugins directory, which loading does not do).
    pub plugin_names: Vec<Named>,
}

/// Read policy text; `file` names it in diagnostics, which come sorted by position.
pub fn read(file: &str, text: &str) -> ReadPolicy {
    let mut diagnostics = Diagnostics::default();
    let mut r = Reader { yaml: YamlReader::new(file, &mut diagnostics, Wording::Path), policy: Policy::default(), plugin_names: Vec::new() };
    match yaml::parse(text, yaml::Limits::default()) {
        // The tree's messages are written for pipelines; the limits and the
        // refusal of anchors (YAML bombs) hold for policy files just the same.
        Err(e) => r.error(e.pos, e.message.replace("pipelines", "policy files")),
        Ok(None) => r.error(Pos { line: 1, col: 1 }, "the policy is empty (a policy without principals gives nobody a role)"),
        Ok(Some(root)) => r.root(&root),
    }
    let Reader { policy, plugin_names, .. } = r;
    diagnostics.0.sort();
    ReadPolicy { policy, diagnostics, plugin_names }
}

/// The policy reader: the shared positioned-YAML reader (in the policy's
/// wording) and what has been read so far.
struct Reader<'a> {
    yaml: YamlReader<'a>,
    policy: Policy,
    plugin_names: Vec<Named>,
}

impl<'a> std::ops::Deref for Reader<'a> {
    type Target = YamlReader<'a>;
    fn deref(&self) -> &Self::Target {
        &self.yaml
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.yaml
    }
}

impl Reader<'_> {
    /// Whether a count is more than 0; 0 is reported.
    fn nonzero(&mut self, n: u64, node: &Node, path: &str) -> bool {
        if n == 0 {
            self.error(node.pos, at(path, "must be at least 1"));
        }
        n > 0
    }

    /// A size: a number of bytes or text such as `64MiB`.
    fn size(&mut self, node: &Node, path: &str) -> Option<Size> {
        match &node.value {
            Value::Scalar { .. } if node.kind() == "a number" => self.whole(node, path).map(Size::Bytes),
            Value::Scalar { text, .. } if node.kind() == "a string" => match parse_bytes(text) {
                Ok(_) => Some(Size::Text(text.clone())),
                Err(e) => {
                    self.error(node.pos, at(path, e));
                    None
                }
            },
            _ => {
                self.wrong_type(node, path, "a size such as 64MiB");
                None
            }
        }
    }

    /// A duration as text (`10s`, `250ms`, or plain seconds), checked.
    fn duration(&mut self, node: &Node, path: &str) -> Option<String> {
        let text = node.as_str().filter(|_| matches!(node.kind(), "a string" | "a number"));
        match text.map(|t| (t, parse_duration(t))) {
            Some((t, Ok(d))) if !d.is_zero() => Some(t.to_string()),
            Some((t, Ok(_))) => {
                self.error(node.pos, at(path, format!("`{t}` is zero; every call would time out at once")));
                None
            }
            Some((_, Err(e))) => {
                self.error(node.pos, at(path, e));
                None
            }
            None => {
                self.wrong_type(node, path, "a duration such as 10s");
                None
            }
        }
    }

    fn root(&mut self, root: &Node) {
        if !matches!(root.value, Value::Map(_)) {
            self.wrong_type(root, "the policy", "a mapping");
            return;
        }
        let entries = self.fields(root, "", &TOP_KEYS);
        // Roles first: principals and max_role_to_grant are checked against
        // them, wherever `roles` sits in the file.
        if let Some((_, node)) = entries.iter().find(|(k, _)| *k == "roles") {
            self.roles(node);
        }
        for (key, node) in entries {
            match key {
                "principals" => self.principals(node),
                "plugins" => self.plugins(node),
                "trusted_keys" => self.trusted_keys(node),
                "identity" => self.identity(node),
                "mcp_tokens" => self.mcp_tokens(node),
                "mcp" => self.mcp(node),
                _ => {}
            }
        }
    }

    /// `mcp_tokens: { "sha256:<hex>": principal }`: bearer tokens of the MCP
    /// gateway, stored as digests (`taylordash policy token NAME` makes one).
    fn mcp_tokens(&mut self, node: &Node) {
        for (key, digest, value) in self.mapping(node, "mcp_tokens") {
            let here = format!("mcp_tokens.{digest}");
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.error(key.pos, format!("mcp_tokens: `{digest}` is not `sha256:<64 hex digits>` of a token (`taylordash policy token NAME` prints one); never write the token itself here"));
                continue;
            }
            let Some(principal) = self.string(value, &here) else { continue };
            self.policy.mcp_tokens.insert(hex.to_ascii_lowercase(), principal);
        }
    }

    /// `mcp: { concurrency, calls_per_minute, max_request, call_timeout }`.
    fn mcp(&mut self, node: &Node) {
        let mut limits = McpLimits::default();
        for (key, v) in self.fields(node, "mcp", &MCP_KEYS) {
            let here = format!("mcp.{key}");
            match key {
                "concurrency" => {
                    if let Some(n) = self.whole(v, &here).filter(|n| self.nonzero(*n, v, &here)) {
                        limits.concurrency = usize::try_from(n).unwrap_or(usize::MAX);
                    }
                }
                "calls_per_minute" => {
                    if let Some(n) = self.whole(v, &here).filter(|n| self.nonzero(*n, v, &here)) {
                        limits.calls_per_minute = u32::try_from(n).unwrap_or(u32::MAX);
                    }
                }
                "max_request" => {
                    if let Some(size) = self.nonzero_size(v, &here) {
                        limits.max_request = super::size(&size).unwrap_or(limits.max_request);
                    }
                }
                "call_timeout" => {
                    if let Some(t) = self.duration(v, &here) {
                        limits.call_timeout = parse_duration(&t).unwrap_or(limits.call_timeout);
                    }
                }
                _ => {}
            }
        }
        self.policy.mcp = limits;
    }

    fn roles(&mut self, node: &Node) {
        let mut roles: Vec<String> = Vec::new();
        for (i, Named { name: role, pos }) in self.names(node, "roles").into_iter().enumerate() {
            if role.trim().is_empty() {
                self.error(pos, format!("roles[{i}]: a role needs a name"));
            } else if roles.contains(&role) {
                self.error(pos, format!("roles[{i}]: `{role}` is listed twice"));
            } else {
                roles.push(role);
            }
        }
        self.policy.roles = roles;
    }

    fn known_roles(&self) -> Vec<String> {
        if self.policy.roles.is_empty() {
            ROLES.iter().map(|r| r.to_string()).collect()
        } else {
            self.policy.roles.clone()
        }
    }

    /// `None` when `role` is one of the policy's roles, else why not.
    fn unknown_role(&self, role: &str) -> Option<String> {
        let roles = self.known_roles();
        if roles.iter().any(|r| r == role) {
            return None;
        }
        let hint = did_you_mean(role, roles.iter().map(String::as_str));
        Some(format!("unknown role `{role}`{hint}; roles are {}", roles.join(", ")))
    }

    fn principals(&mut self, node: &Node) {
        for (key, name, value) in self.mapping(node, "principals") {
            let Some(role) = self.string(value, &format!("principals.{name}")) else { continue };
            if let Some(why) = self.unknown_role(&role) {
                // At the principal's name: the entry is about who, and the
                // position has been part of the message since the first
                // release (scripts match on it).
                self.error(key.pos, format!("principal `{name}` has {why}"));
            }
            self.policy.principals.insert(name.to_string(), role);
        }
    }

    fn plugins(&mut self, node: &Node) {
        for (key, name, body) in self.mapping(node, "plugins") {
            self.plugin_names.push(Named { name: name.to_string(), pos: key.pos });
            let plugin = self.plugin(name, body);
            self.policy.plugins.insert(name.to_string(), plugin);
        }
    }

    fn plugin(&mut self, name: &str, body: &Node) -> PluginPolicy {
        let path = format!("plugins.{name}");
        let mut p = PluginPolicy::default();
        for (key, v) in self.fields(body, &path, &PLUGIN_KEYS) {
            let here = format!("{path}.{key}");
            match key {
                "digest" => p.digest = self.digest(v, &here),
                "quotas" => p.quotas = self.quotas(v, &here),
                "grants" => p.grants = self.grants(v, &here),
                "roles" => {
                    let mut roles = Vec::new();
                    for (i, Named { name: role, pos }) in self.names(v, &here).into_iter().enumerate() {
                        match self.unknown_role(&role) {
                            Some(why) => self.error(pos, format!("{here}[{i}]: {why}")),
                            None => roles.push(role),
                        }
                    }
                    p.roles = Some(roles);
                }
                "max_role_to_grant" => {
                    if let Some(role) = self.string(v, &here) {
                        match self.unknown_role(&role) {
                            Some(why) => self.error(v.pos, at(&here, why)),
                            None => p.max_role_to_grant = Some(role),
                        }
                    }
                }
                _ => {}
            }
        }
        p
    }

    fn digest(&mut self, node: &Node, path: &str) -> Option<String> {
        let d = self.string(node, path)?;
        let hex = d.strip_prefix("sha256:").unwrap_or_default();
        if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(d)
        } else {
            self.error(node.pos, at(path, format!("`{d}` is not `sha256:<64 hex digits>` (`taylordash plugins list` prints them)")));
            None
        }
    }

    fn quotas(&mut self, node: &Node, path: &str) -> QuotaSpec {
        let mut q = QuotaSpec::default();
        for (key, v) in self.fields(node, path, &QUOTA_KEYS) {
            let here = format!("{path}.{key}");
            match key {
                "memory" => q.memory = self.nonzero_size(v, &here),
                "output" => q.output = self.nonzero_size(v, &here),
                "log" => q.log = self.size(v, &here),
                "http_body" => q.http_body = self.nonzero_size(v, &here),
                "timeout" => q.timeout = self.duration(v, &here),
                "host_calls" => q.host_calls = self.whole(v, &here),
                "out_bytes" => q.out_bytes = self.size(v, &here),
                "out_files" => q.out_files = self.whole(v, &here),
                "fuel" => {
                    q.fuel = self.whole(v, &here).filter(|n| {
                        let ok = *n > 0;
                        if !ok {
                            self.error(v.pos, at(&here, "0 fuel would stop every call before its first instruction"));
                        }
                        ok
                    })
                }
                _ => {}
            }
        }
        q
    }

    /// Memory and output of 0 would make every call fail; that is never meant.
    fn nonzero_size(&mut self, node: &Node, path: &str) -> Option<Size> {
        let size = self.size(node, path)?;
        if super::size(&size) == Ok(0) {
            self.error(node.pos, at(path, "must be more than 0 bytes; every call would fail"));
            return None;
        }
        Some(size)
    }

    fn grants(&mut self, node: &Node, path: &str) -> GrantSpec {
        let mut g = GrantSpec::default();
        for (key, v) in self.fields(node, path, &GRANT_KEYS) {
            let here = format!("{path}.{key}");
            match key {
                "fs" => g.fs = Some(self.fs(v, &here)),
                "env" => g.env = self.env(v, &here),
                "exec" => g.exec = self.exec(v, &here),
                "http" => g.http = Some(self.http(v, &here)),
                _ => {}
            }
        }
        g
    }

    /// The mounts are fixed (`/workspace` read-only, `/out` read-write), so
    /// `fs` may only restate them: anything else would be a grant the
    /// sandbox silently does not give, and the operator should know.
    fn fs(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut fs = BTreeMap::new();
        for (key, v) in self.fields(node, path, &FS_KEYS) {
            let here = format!("{path}.{key}");
            let Some(mode) = self.string(v, &here) else { continue };
            let (fixed, why) = match key {
                "workspace" => ("read", "/workspace is always mounted read-only; a tool's writes go to /out and are merged after the call"),
                _ => ("write", "/out is always a fresh read-write directory"),
            };
            if mode == fixed {
                fs.insert(key.to_string(), mode);
            } else {
                self.error(v.pos, at(&here, format!("`{mode}` cannot be granted: {why}")));
            }
        }
        fs
    }

    fn env(&mut self, node: &Node, path: &str) -> Vec<String> {
        let mut names = Vec::new();
        for (i, Named { name, pos }) in self.names(node, path).into_iter().enumerate() {
            if name.is_empty() || name.contains(['=', '\0']) || name.chars().any(char::is_whitespace) {
                self.error(pos, format!("{path}[{i}]: `{name}` is not an environment variable name"));
            } else {
                names.push(name);
            }
        }
        names
    }

    fn exec(&mut self, node: &Node, path: &str) -> Option<ExecSpec> {
        let mut spec = ExecSpec::default();
        let mut programs = None;
        for (key, v) in self.fields(node, path, &EXEC_KEYS) {
            let here = format!("{path}.{key}");
            match key {
                "programs" => programs = Some(self.programs(v, &here)),
                "timeout" => spec.timeout = self.duration(v, &here),
                "output" => spec.output = self.nonzero_size(v, &here),
                "processes" => spec.processes = self.whole(v, &here).filter(|n| self.nonzero(*n, v, &here)),
                "memory" => spec.memory = self.nonzero_size(v, &here),
                "cpu" => spec.cpu = self.duration(v, &here),
                "require_isolation" => spec.require_isolation = self.boolean(v, &here).unwrap_or(false),
                _ => {}
            }
        }
        if !matches!(node.value, Value::Map(_)) {
            return None;
        }
        match programs {
            Some(p) => spec.programs = p,
            None => {
                self.error(node.pos, at(path, "missing field `programs`: an exec grant names the programs it allows"));
                return None;
            }
        }
        Some(spec)
    }

    fn programs(&mut self, node: &Node, path: &str) -> Vec<String> {
        let mut programs = Vec::new();
        for (i, Named { name: program, pos }) in self.names(node, path).into_iter().enumerate() {
            // A grant is matched against the program a call names, exactly;
            // a command line (`python3 -m pytest`) would match nothing.
            // Paths may contain spaces, bare names may not.
            let looks_like_command = !program.contains('/') && program.chars().any(char::is_whitespace);
            if program.trim().is_empty() || program.contains('\0') {
                self.error(pos, format!("{path}[{i}]: a program needs a name or a path"));
            } else if looks_like_command {
                self.error(pos, format!("{path}[{i}]: `{program}` is not a program: name the program alone; its arguments come from the call"));
            } else {
                programs.push(program);
            }
        }
        programs
    }

    fn http(&mut self, node: &Node, path: &str) -> Vec<String> {
        let mut allowed = Vec::new();
        for (i, Named { name: entry, pos }) in self.names(node, path).into_iter().enumerate() {
            match host_port(&entry) {
                Ok(()) => allowed.push(entry),
                Err(why) => self.error(pos, format!("{path}[{i}]: `{entry}` {why}")),
            }
        }
        allowed
    }

    /// `identity: claimed | os` ([`super::identity`]).
    fn identity(&mut self, node: &Node) {
        let Some(text) = self.string(node, "identity") else { return };
        match super::identity::Identity::parse(&text) {
            Some(identity) => self.policy.identity = identity,
            None => {
                let names = super::identity::Identity::NAMES;
                let hint = did_you_mean(&text, names.iter().copied());
                self.error(node.pos, format!("identity: unknown value `{text}`{hint}; values are {}", names.join(", ")));
            }
        }
    }

    fn trusted_keys(&mut self, node: &Node) {
        for (i, Named { name: key, pos }) in self.names(node, "trusted_keys").into_iter().enumerate() {
            match trust::parse_public_key(&key) {
                Ok(_) => self.policy.trusted_keys.push(key),
                Err(trust::TrustError::Key(_, why)) => {
                    self.error(pos, format!("trusted_keys[{i}]: `{key}` is not an Ed25519 public key: {why}"))
                }
                Err(other) => self.error(pos, format!("trusted_keys[{i}]: {other}")),
            }
        }
    }
}

/// An http grant is compared with a request's `host:port` as text
/// (`[v6]:port` for IPv6), so anything else could never match.
fn host_port(entry: &str) -> Result<(), String> {
    const SHAPE: &str = "is not `host:port` (e.g. api.example.com:443, [::1]:8080)";
    if entry.contains("://") || entry.contains('/') {
        return Err(format!("{SHAPE}: no scheme or path, the grant is for a host and port"));
    }
    let (host, port) = entry.rsplit_once(':').ok_or_else(|| format!("{SHAPE}: the port is missing"))?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("{SHAPE}: `{port}` is not a port (1-65535)")),
    }
    let bare_v6 = host.contains(':') && !(host.starts_with('[') && host.ends_with(']'));
    if host.is_empty() || bare_v6 || host.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(format!("{SHAPE}: `{host}` is not a host name or address"));
    }
    if host.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("{SHAPE}: write the host in lower case (`{}`), as requests name it", entry.to_ascii_lowercase()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        read("p.yaml", text).diagnostics.0.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn a_good_policy_has_no_problems() {
        let text = "roles: [admin, maintainer, viewer]\nprincipals: { alice: admin, dash: viewer }\nplugins:\n  bash_runner:\n    digest: \"sha256:".to_string()
            + &"ab".repeat(32)
            + "\"\n    quotas: { memory: 64MiB, fuel: 2_000_000_000, timeout: 10s, output: 1048576 }\n    grants: { fs: { workspace: read, out: write }, env: [LANG], exec: { programs: [python3], timeout: 60s }, http: [\"api.example.com:443\", \"[::1]:8080\"] }\n    max_role_to_grant: maintainer\n";
        assert_eq!(problems(&text), Vec::<String>::new());
        let r = read("p.yaml", &text);
        assert_eq!(r.policy.plugins["bash_runner"].quotas.fuel, Some(2_000_000_000));
        assert_eq!(r.plugin_names[0].pos, Pos { line: 4, col: 3 });
    }

    #[test]
    fn exec_limits_and_isolation_are_read_and_checked() {
        let text = "plugins:\n  x:\n    grants:\n      exec: { programs: [python3], processes: 16, memory: 256MiB, cpu: 5s, require_isolation: true }\n";
        assert_eq!(problems(text), Vec::<String>::new());
        let spec = read("p.yaml", text).policy.plugins["x"].grants.exec.clone().expect("an exec grant");
        assert_eq!((spec.processes, spec.cpu.as_deref(), spec.require_isolation), (Some(16), Some("5s"), true));
        assert!(matches!(spec.memory, Some(Size::Text(ref t)) if t == "256MiB"));
        let bad = "plugins:\n  x:\n    grants:\n      exec: { programs: [sh], processes: 0, memory: 0, cpu: 0s, require_isolation: yes }\n";
        assert_eq!(
            problems(bad),
            [
                "p.yaml:4:42: plugins.x.grants.exec.processes: must be at least 1",
                "p.yaml:4:53: plugins.x.grants.exec.memory: must be more than 0 bytes; every call would fail",
                "p.yaml:4:61: plugins.x.grants.exec.cpu: `0s` is zero; every call would time out at once",
                "p.yaml:4:84: plugins.x.grants.exec.require_isolation: must be true or false, found a string",
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_its_value() {
        let text = "\
roles: [admin, maintainer, viewer]
principals: { alice: admin, bob: maintaner }
plugins:
  x:
    digest: sha256:abc
    quotas: { memory: 64XB, fuel: lots, timeout: 0s }
    grants:
      exec: { programs: [\"python3 -m pytest\"] }
      http: [example.com, \"http://a.b:80\"]
      fs: { workspace: write }
    max_role_to_grant: root
    grnts: {}
trusted_keys: [\"ed25519:zz\"]
";
        assert_eq!(
            problems(text),
            [
                "p.yaml:2:29: principal `bob` has unknown role `maintaner` (did you mean \"maintainer\"?); roles are admin, maintainer, viewer",
                "p.yaml:5:13: plugins.x.digest: `sha256:abc` is not `sha256:<64 hex digits>` (`taylordash plugins list` prints them)",
                "p.yaml:6:23: plugins.x.quotas.memory: `64XB`: unknown size unit `xb` (use B, KiB, MiB, GiB)",
                "p.yaml:6:35: plugins.x.quotas.fuel: must be a whole number, found a string",
                "p.yaml:6:50: plugins.x.quotas.timeout: `0s` is zero; every call would time out at once",
                "p.yaml:8:26: plugins.x.grants.exec.programs[0]: `python3 -m pytest` is not a program: name the program alone; its arguments come from the call",
                "p.yaml:9:14: plugins.x.grants.http[0]: `example.com` is not `host:port` (e.g. api.example.com:443, [::1]:8080): the port is missing",
                "p.yaml:9:27: plugins.x.grants.http[1]: `http://a.b:80` is not `host:port` (e.g. api.example.com:443, [::1]:8080): no scheme or path, the grant is for a host and port",
                "p.yaml:10:24: plugins.x.grants.fs.workspace: `write` cannot be granted: /workspace is always mounted read-only; a tool's writes go to /out and are merged after the call",
                "p.yaml:11:24: plugins.x.max_role_to_grant: unknown role `root`; roles are admin, maintainer, viewer",
                "p.yaml:12:5: plugins.x: unknown field `grnts` (did you mean \"grants\"?); fields are digest, quotas, grants, max_role_to_grant, roles",
                "p.yaml:13:16: trusted_keys[0]: `ed25519:zz` is not an Ed25519 public key: Invalid character 'z' at position 0",
            ]
        );
    }

    #[test]
    fn custom_roles_and_structure() {
        assert_eq!(
            problems("roles: [owner, owner]\nprincipals: { a: admin }\nplugins: [x]\nrols: []\n"),
            [
                "p.yaml:1:16: roles[1]: `owner` is listed twice",
                "p.yaml:2:15: principal `a` has unknown role `admin`; roles are owner",
                "p.yaml:3:10: plugins: must be a mapping, found a list",
                "p.yaml:4:1: unknown field `rols` (did you mean \"roles\"?); fields are roles, principals, plugins, trusted_keys, identity, mcp_tokens, mcp",
            ]
        );
        assert_eq!(
            problems("identity: oss\nprincipals: { a: admin }\n"),
            ["p.yaml:1:11: identity: unknown value `oss` (did you mean \"os\"?); values are claimed, os"]
        );
        assert_eq!(problems("identity: [os]\n"), ["p.yaml:1:11: identity: must be a string, found a list"]);
        assert_eq!(read("p.yaml", "identity: os\n").policy.identity, super::super::identity::Identity::Os);
        assert_eq!(problems(""), ["p.yaml:1:1: the policy is empty (a policy without principals gives nobody a role)"]);
        assert_eq!(problems("a: &x 1\n"), ["p.yaml:1:4: anchors (`&name`) are not supported in policy files"]);
    }

    #[test]
    fn mcp_tokens_roles_and_limits_are_read_and_checked() {
        let digest = "a".repeat(64);
        let text = format!(
            "principals: {{ alice: admin }}\nmcp_tokens:\n  \"sha256:{digest}\": alice\n  \"td_plain_token\": alice\nmcp: {{ concurrency: 0, calls_per_minute: 30, call_timeout: 5m }}\nplugins:\n  x:\n    roles: [admin, viewr]\n"
        );
        assert_eq!(
            problems(&text),
            [
                "p.yaml:4:3: mcp_tokens: `td_plain_token` is not `sha256:<64 hex digits>` of a token (`taylordash policy token NAME` prints one); never write the token itself here",
                "p.yaml:5:21: mcp.concurrency: must be at least 1",
                "p.yaml:8:20: plugins.x.roles[1]: unknown role `viewr` (did you mean \"viewer\"?); roles are admin, maintainer, viewer",
            ]
        );
        let read = read("p.yaml", &text);
        assert_eq!(read.policy.mcp_tokens.get(&digest).map(String::as_str), Some("alice"));
        assert_eq!(read.policy.mcp.calls_per_minute, 30);
        assert_eq!(read.policy.mcp.call_timeout, std::time::Duration::from_secs(300));
        assert_eq!(read.policy.plugins["x"].roles, Some(vec!["admin".to_string()]));
    }
}
