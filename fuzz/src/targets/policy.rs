//! `policy`: reading `policy.yaml` (`taylordash::policy::read::read`, and
//! `Policy::parse`, which refuses a policy with any problem) and the
//! decisions made from an accepted policy, on text mutated from the tests'
//! policy files.
//!
//! Properties (a panic is a crash):
//! - reading never panics, and every diagnostic names the file given and a
//!   1-based position;
//! - `Policy::parse` accepts exactly when `read` found no problem;
//! - what an accepted policy promises holds when it is used: every
//!   principal's role, every plugin's `roles` and `max_role_to_grant` are
//!   roles of the policy; a pinned digest is `sha256:<64 hex>`; the quotas
//!   it sets apply over the defaults (`PluginPolicy::quotas` does not fail —
//!   a size or duration the reader accepted must not be refused at call
//!   time); `call_limits` for every role does not fail;
//! - powerful grants go by rank: a role that gets them implies every more
//!   powerful role does, and a role the policy does not know never does;
//! - `policy_access` (what `taylordash policy check` prints) never panics.

use taylordash::policy::{self, Policy, access, read};
use taylordash::sandbox::Quotas;

use crate::engine::{Feedback, Target};

const FILE: &str = "policy.yaml";

const DICTIONARY: &[&str] = &[
    "roles: [admin, maintainer, viewer]", "principals:", "plugins:", "trusted_keys:", "identity: os",
    "identity: claimed", "mcp_tokens:", "mcp:", "digest: ", "quotas:", "grants:", "max_role_to_grant: ",
    "roles: [", "memory: ", "fuel: ", "timeout: ", "output: ", "log: ", "host_calls: ", "http_body: ",
    "out_bytes: ", "out_files: ", "fs:", "env: [", "exec:", "http: [", "programs: [", "processes: ",
    "cpu: ", "require_isolation: true", "workspace: read", "out: write", "concurrency: ", "calls_per_minute: ",
    "max_request: ", "call_timeout: ", "64MiB", "1GiB", "0", "10s", "250ms", "1h", "-1", "18446744073709551616",
    "1e3", "0x10", "sha256:", "0000000000000000000000000000000000000000000000000000000000000000", "alice: admin",
    "bob: viewer", "\"api.example.com:443\"", "\"[::1]:8080\"", "ed25519:", "&a ", "*a", "? ", "[", "]", "{",
    "}", ": ", ", ", "\"", "'", "#", "~", "null", "true", "python3", "LANG",
];

pub fn target() -> Target {
    Target { name: "policy", run, generate: None, seeds: Vec::new, dictionary: DICTIONARY, max_len: 32 << 10 }
}

pub fn run(input: &[u8], fb: &mut Feedback) {
    let text = String::from_utf8_lossy(input);
    let read = read::read(FILE, &text);
    for d in &read.diagnostics.0 {
        assert_eq!(d.file, FILE);
        assert!(d.pos.line >= 1 && d.pos.col >= 1, "a diagnostic at {:?}: {}", d.pos, d.message);
        fb.note_message(&d.message);
    }
    let parsed = Policy::parse(FILE, &text);
    assert_eq!(parsed.is_ok(), read.diagnostics.is_empty(), "parse and read disagree");
    let Ok(p) = parsed else { return };
    fb.note(("accepted", p.principals.len().min(4), p.plugins.len().min(4)));

    let roles: Vec<String> = p.roles().iter().map(|r| r.to_string()).collect();
    assert!(!roles.is_empty(), "an accepted policy without roles");
    for (principal, role) in &p.principals {
        assert!(roles.contains(role), "principal `{principal}` has role `{role}`, not one of {roles:?}");
    }
    let base = Quotas::default();
    for (name, pp) in &p.plugins {
        if let Some(r) = &pp.max_role_to_grant {
            assert!(roles.contains(r), "plugins.{name}.max_role_to_grant `{r}` is not a role");
        }
        for r in pp.roles.iter().flatten() {
            assert!(roles.contains(r), "plugins.{name}.roles lists `{r}`, not a role");
        }
        if let Some(d) = &pp.digest {
            let hex = d.strip_prefix("sha256:").unwrap_or_else(|| panic!("digest `{d}` without sha256:"));
            assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "digest `{d}`");
        }
        if let Err(e) = pp.quotas(&base) {
            panic!("plugins.{name}: accepted quotas fail at call time: {e}");
        }
        // Rank order of powerful grants: allowed for a role ⇒ allowed for every more powerful one.
        let allowed: Vec<bool> = roles.iter().map(|r| pp.powerful_allowed(&p, r)).collect();
        for w in allowed.windows(2) {
            assert!(w[0] || !w[1], "plugins.{name}: powerful grants for a weaker role but not a stronger one: {roles:?} {allowed:?}");
        }
        assert!(!pp.powerful_allowed(&p, "\u{0}no such role"), "an unknown role got powerful grants");
        for r in &roles {
            if let Err(e) = policy::call_limits(Some(&p), name, r, base) {
                panic!("call_limits({name}, {r}) fails on an accepted policy: {e}");
            }
            let _ = p.may_call(name, r);
        }
    }
    let _ = access::policy_access(&p);
    let _ = p.token_principal("token");
    let _ = policy::caller(Some(&p), Some("alice"));
}
