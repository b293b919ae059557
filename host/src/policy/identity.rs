//! Who the caller is, under a policy's `identity:`.
//!
//! - `claimed` (the default, and all there was before): the caller is
//!   `--as NAME`, else `$USER`. Nothing checks the claim, so any local user
//!   who can run `taylordash` with the policy may act as any principal,
//!   admin included: the policy then separates honest callers, it does not
//!   stop a dishonest one.
//! - `os`: the caller is the OS account of the process's effective uid, as
//!   the kernel and the password database (`getpwuid_r`) say; environment
//!   variables do not enter into it. `--as` is refused (exit 3, an audit
//!   event naming the account and the principal it claimed) unless the
//!   account's role is the policy's most powerful one (`admin` with the
//!   default roles); an admin's `--as` is allowed and audited with both
//!   names, and every event of the calls that follow carries the account as
//!   `actor`.

use crate::audit::{AuditEvent, Subject};
use super::{Caller, Policy};

/// How a policy knows who is calling.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Identity {
    /// `--as NAME` (or `$USER`), unchecked.
    #[default]
    Claimed,
    /// The OS account of the effective uid.
    Os,
}

impl Identity {
    /// The values `identity:` accepts, as written in a policy.
    pub const NAMES: [&'static str; 2] = ["claimed", "os"];

    pub fn parse(text: &str) -> Option<Identity> {
        match text {
            "claimed" => Some(Identity::Claimed),
            "os" => Some(Identity::Os),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Identity::Claimed => "claimed",
            Identity::Os => "os",
        }
    }
}

/// A caller the policy's identity rule does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `--as` from an OS account that may not act for others.
    #[error(
        "--as {claimed} refused: the policy's identity is `os`, so the caller is OS account `{account}`, which has {}; \
         only role `{admin}` may act as another principal",
        role_phrase(.role)
    )]
    Impersonation { account: String, claimed: String, role: String, admin: String },
}

fn role_phrase(role: &str) -> String {
    if role.is_empty() { "no role".to_string() } else { format!("role `{role}`") }
}

impl IdentityError {
    /// Refused, as a capability is (docs/architecture.md, "Exit codes").
    pub fn exit_code(&self) -> i32 {
        taylordash_protocol::ExitCode::Denied.code()
    }

    /// The audit event of the refusal: the real account is the principal,
    /// the claimed one is named in the detail.
    pub fn event(&self) -> AuditEvent {
        match self {
            IdentityError::Impersonation { account, .. } => {
                Subject { principal: account.clone(), ..Subject::default() }.event("identity", "deny", self.to_string())
            }
        }
    }
}

/// A caller, and the audit event deciding it took (if any).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub caller: Caller,
    pub event: Option<AuditEvent>,
}

/// The caller under `policy`'s identity rule ([`super::caller`] for
/// `claimed` or no policy).
pub fn authenticate(policy: Option<&Policy>, as_name: Option<&str>) -> Result<Authenticated, IdentityError> {
    let Some(p) = policy.filter(|p| p.identity == Identity::Os) else {
        return Ok(Authenticated { caller: super::caller(policy, as_name), event: None });
    };
    authenticate_os(p, &os_account(), as_name)
}

/// [`authenticate`] for `identity: os`, with the account given (for tests).
pub fn authenticate_os(policy: &Policy, account: &str, as_name: Option<&str>) -> Result<Authenticated, IdentityError> {
    let role_of = |name: &str| policy.principals.get(name).cloned().unwrap_or_default();
    let own = role_of(account);
    let claimed = match as_name {
        Some(c) if c != account => c,
        // Acting as oneself is no claim at all.
        _ => return Ok(Authenticated { caller: Caller { principal: account.to_string(), role: own, actor: None }, event: None }),
    };
    let admin = policy.roles().first().map(|r| r.to_string()).unwrap_or_default();
    if own != admin {
        return Err(IdentityError::Impersonation {
            account: account.to_string(),
            claimed: claimed.to_string(),
            role: own,
            admin,
        });
    }
    let caller = Caller { principal: claimed.to_string(), role: role_of(claimed), actor: Some(account.to_string()) };
    let detail = format!(
        "OS account `{account}` (role `{own}`) acts as `{claimed}` ({})",
        role_phrase(&caller.role)
    );
    let event = caller.subject("").event("identity", "allow", detail);
    Ok(Authenticated { caller, event: Some(event) })
}

/// The OS account of the effective uid; `uid:<n>` when the password
/// database has no entry for it (a name no policy maps by accident).
pub fn os_account() -> String {
    // SAFETY: geteuid has no preconditions, touches no memory of ours and
    // cannot fail (POSIX).
    let uid = unsafe { libc::geteuid() };
    account_name(uid).unwrap_or_else(|| format!("uid:{uid}"))
}

/// The login name of `uid` from the password database, if it has one.
pub fn account_name(uid: libc::uid_t) -> Option<String> {
    let mut buf: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: `passwd` is plain data (integers and raw pointers), for
        // which all-zero bytes are a valid value; getpwuid_r overwrites it.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local valid for writes, and
        // `buf.len()` is the true length of `buf`; the reentrant
        // getpwuid_r writes only into `pwd`, `buf` and `found`.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success `pw_name` points at a NUL-terminated string
        // inside `buf`, which lives (unmoved) until this function returns.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        Policy::parse("p.yaml", text).unwrap()
    }

    #[test]
    fn only_an_admin_account_may_act_as_another() {
        let p = policy("identity: os\nprincipals: { ops: admin, dash: viewer, alice: maintainer }\n");
        assert_eq!(p.identity, Identity::Os);
        let me = authenticate_os(&p, "dash", None).unwrap();
        assert_eq!(me.caller, Caller { principal: "dash".into(), role: "viewer".into(), actor: None });
        assert!(me.event.is_none());
        assert!(authenticate_os(&p, "dash", Some("dash")).unwrap().event.is_none());
        let err = authenticate_os(&p, "dash", Some("alice")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--as alice refused: the policy's identity is `os`, so the caller is OS account `dash`, which has role `viewer`; only role `admin` may act as another principal"
        );
        let ev = err.event();
        assert_eq!((ev.principal.as_str(), ev.capability.as_str(), ev.decision.as_str()), ("dash", "identity", "deny"));
        let err = authenticate_os(&p, "nobody", Some("ops")).unwrap_err();
        assert!(err.to_string().contains("OS account `nobody`, which has no role;"), "{err}");

        let ok = authenticate_os(&p, "ops", Some("alice")).unwrap();
        assert_eq!(ok.caller, Caller { principal: "alice".into(), role: "maintainer".into(), actor: Some("ops".into()) });
        let ev = ok.event.unwrap();
        assert_eq!((ev.principal.as_str(), ev.actor.as_str(), ev.decision.as_str()), ("alice", "ops", "allow"));
        assert_eq!(ev.detail, "OS account `ops` (role `admin`) acts as `alice` (role `maintainer`)");
    }

    #[test]
    fn claimed_is_the_default_and_takes_the_claim() {
        let p = policy("principals: { alice: admin }\n");
        assert_eq!(p.identity, Identity::Claimed);
        let a = authenticate(Some(&p), Some("alice")).unwrap();
        assert_eq!((a.caller.principal.as_str(), a.caller.role.as_str()), ("alice", "admin"));
        assert!(a.event.is_none());
    }

    #[test]
    fn the_effective_uid_has_a_name() {
        // SAFETY: see os_account.
        let uid = unsafe { libc::geteuid() };
        let name = os_account();
        assert!(!name.is_empty());
        assert_eq!(account_name(uid).unwrap_or_else(|| format!("uid:{uid}")), name);
    }
}
