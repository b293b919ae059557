//! Who wrote a bus message, and that it is fresh: every message carries an
//! HMAC-SHA256 tag under a key the orchestrator and its workers share, an
//! expiry and a nonce. The broker's ACL (`deploy/mosquitto/`) limits who may
//! publish *where*; this lets a worker refuse a task nobody with the key
//! wrote, and the orchestrator refuse such a result — whatever the broker let
//! through.
//!
//! The tag travels as the v5 user property `td-auth`:
//!
//! ```text
//! v1;key=<8 hex>;exp=<unix ms>;nonce=<32 hex>;mac=<64 hex>
//! ```
//!
//! The MAC covers, each length-prefixed: the topic, the response topic, the
//! correlation data, `exp`, the nonce and the payload bytes. So a message
//! cannot be altered, moved to another topic or redirected to another reply
//! topic; past `exp` (plus the allowed clock skew) it is refused; and a nonce
//! accepted once is refused again as a replay until it expires. `key` names
//! the key (the first bytes of its SHA-256), so a message signed with another
//! key says so instead of just "forged".

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use sha2::{Digest, Sha256};

use super::delivery::Delivery;
use super::envelope::Envelope;
use super::now_ms;
use crate::audit::AuditEvent;

/// The user property that carries the tag.
pub const AUTH_PROPERTY: &str = "td-auth";
const VERSION: &str = "v1";
const MIN_KEY: usize = 32;

type Nonce = [u8; 16];

/// Why a message was refused, or a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("unsigned: no `{AUTH_PROPERTY}` property")]
    Unsigned,
    #[error("malformed `{AUTH_PROPERTY}` property: {0}")]
    Malformed(String),
    #[error("signed with another key (key {got}; this side holds key {want})")]
    OtherKey { got: String, want: String },
    #[error("forged: the signature does not match the message")]
    Forged,
    #[error("expired {ago_ms} ms ago (clock skew allowed: {skew_ms} ms)")]
    Expired { ago_ms: u64, skew_ms: u64 },
    #[error("expiry {ahead_ms} ms ahead is beyond the {max_ms} ms limit")]
    TooFarAhead { ahead_ms: u64, max_ms: u64 },
    #[error("replayed: nonce {0} was accepted before")]
    Replayed(String),
    #[error("{0} unexpired nonces remembered: refusing new messages until some expire")]
    Saturated(usize),
    #[error("bus key {path}: {reason}")]
    KeyFile { path: String, reason: String },
}

impl AuthError {
    /// A short word for audit events and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthError::Unsigned => "unsigned",
            AuthError::Malformed(_) => "malformed",
            AuthError::OtherKey { .. } | AuthError::Forged => "forged",
            AuthError::Expired { .. } | AuthError::TooFarAhead { .. } => "expired",
            AuthError::Replayed(_) => "replayed",
            AuthError::Saturated(_) => "saturated",
            AuthError::KeyFile { .. } => "key",
        }
    }
}

/// The shared secret: at least 32 bytes.
#[derive(Clone)]
pub struct BusKey {
    bytes: Vec<u8>,
    id: String,
}

impl std::fmt::Debug for BusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl BusKey {
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, AuthError> {
        if bytes.len() < MIN_KEY {
            return Err(AuthError::KeyFile { path: "<bytes>".into(), reason: format!("{} bytes; at least {MIN_KEY} needed", bytes.len()) });
        }
        let id = hex::encode(&Sha256::digest(&bytes)[..4]);
        Ok(BusKey { bytes, id })
    }

    /// A fresh random key (for a bus whose every party is in this process).
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = vec![0u8; MIN_KEY];
        getrandom::fill(&mut bytes).map_err(|e| AuthError::KeyFile { path: "<random>".into(), reason: e.to_string() })?;
        Self::from_bytes(bytes)
    }

    /// A key file: at least 64 hex digits (e.g. `openssl rand -hex 32`),
    /// readable by its owner only.
    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let err = |reason: String| AuthError::KeyFile { path: path.display().to_string(), reason };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!("mode {mode:03o} lets others read the key; `chmod 600` it")));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let text = text.trim();
        let bytes = hex::decode(text).map_err(|_| err("must hold hex digits only (create one with `openssl rand -hex 32`)".into()))?;
        if bytes.len() < MIN_KEY {
            return Err(err(format!("{} bytes of key; at least {MIN_KEY} needed (`openssl rand -hex 32`)", bytes.len())));
        }
        Self::from_bytes(bytes).map_err(|e| err(e.to_string()))
    }

    /// The key's public name: the first 4 bytes of its SHA-256, in hex.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Signs what this side publishes and checks what it receives, remembering
/// accepted nonces until they expire.
#[derive(Debug)]
pub struct BusAuth {
    key: BusKey,
    /// Expiry of messages signed without an explicit one (results, status).
    pub ttl: Duration,
    /// Clock difference tolerated between machines.
    pub skew: Duration,
    /// The furthest ahead an expiry may lie (bounds how long a nonce is kept).
    pub max_ahead: Duration,
    /// Unexpired nonces remembered at most; past it new messages are refused
    /// (forgetting one early would let its message be replayed).
    pub max_nonces: usize,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    nonces: HashSet<Nonce>,
    /// (forget after, nonce), oldest first.
    by_expiry: BTreeSet<(u64, Nonce)>,
}

/// What a verified message proved: its nonce, to [`BusAuth::claim`] later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    nonce: Nonce,
    exp: u64,
}

/// Whether [`BusAuth::verify`] records the nonce as used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Yes,
    No,
}

struct Tag<'a> {
    key: &'a str,
    exp: u64,
    nonce: Nonce,
    mac: [u8; 32],
}

fn parse_tag(value: &str) -> Result<Tag<'_>, AuthError> {
    let bad = |m: &str| AuthError::Malformed(m.to_string());
    let mut parts = value.split(';');
    if parts.next() != Some(VERSION) {
        return Err(bad("unknown version (expected v1)"));
    }
    let (mut key, mut exp, mut nonce, mut mac) = (None, None, None, None);
    for part in parts {
        let (k, v) = part.split_once('=').ok_or_else(|| bad("a field without `=`"))?;
        match k {
            "key" => key = Some(v),
            "exp" => exp = Some(v.parse::<u64>().map_err(|_| bad("exp is not a number"))?),
            "nonce" => nonce = Some(hex_array::<16>(v).ok_or_else(|| bad("nonce is not 32 hex digits"))?),
            "mac" => mac = Some(hex_array::<32>(v).ok_or_else(|| bad("mac is not 64 hex digits"))?),
            _ => return Err(bad("unknown field")),
        }
    }
    match (key, exp, nonce, mac) {
        (Some(key), Some(exp), Some(nonce), Some(mac)) => Ok(Tag { key, exp, nonce, mac }),
        _ => Err(bad("key, exp, nonce and mac are all required")),
    }
}

fn hex_array<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

impl BusAuth {
    pub fn new(key: BusKey) -> Self {
        BusAuth {
            key,
            ttl: Duration::from_secs(60),
            skew: Duration::from_secs(30),
            max_ahead: Duration::from_secs(24 * 3600),
            max_nonces: 1 << 20,
            seen: Mutex::new(Seen::default()),
        }
    }

    pub fn key_id(&self) -> &str {
        self.key.id()
    }

    fn mac(&self, topic: &str, props: &PublishProperties, exp: u64, nonce: &Nonce, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key.bytes).expect("HMAC takes keys of any length");
        let response = props.response_topic.as_deref().unwrap_or("").as_bytes();
        let correlation = props.correlation_data.as_deref().unwrap_or(&[]);
        for field in [VERSION.as_bytes(), topic.as_bytes(), response, correlation, &exp.to_be_bytes(), nonce, payload] {
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        mac
    }

    /// Add the tag to `props` for a message on `topic`, valid until `exp`
    /// (Unix ms). Any earlier tag is replaced.
    pub fn sign(&self, topic: &str, props: &mut PublishProperties, payload: &[u8], exp: u64) {
        let mut nonce = [0u8; 16];
        if getrandom::fill(&mut nonce).is_err() {
            // Without the OS's randomness a nonce is still unique enough
            // from a v4 UUID's generator; never sign with a fixed one.
            nonce = *uuid::Uuid::new_v4().as_bytes();
        }
        let mac = self.mac(topic, props, exp, &nonce, payload).finalize().into_bytes();
        let tag = format!("{VERSION};key={};exp={exp};nonce={};mac={}", self.key.id, hex::encode(nonce), hex::encode(mac));
        props.user_properties.retain(|(k, _)| k != AUTH_PROPERTY);
        props.user_properties.push((AUTH_PROPERTY.to_string(), tag));
    }

    /// Check a delivery's tag: present, well-formed, this key, matching,
    /// unexpired, and (with [`Record::Yes`], which then remembers it) a
    /// nonce not accepted before.
    pub fn verify(&self, d: &Delivery, record: Record) -> Result<Verified, AuthError> {
        let empty = PublishProperties::default();
        let props = d.properties().unwrap_or(&empty);
        self.verify_parts(&d.topic(), props, d.payload(), record)
    }

    /// [`verify`](Self::verify) on the parts of a message.
    pub fn verify_parts(&self, topic: &str, props: &PublishProperties, payload: &[u8], record: Record) -> Result<Verified, AuthError> {
        let value = props
            .user_properties
            .iter()
            .find(|(k, _)| k == AUTH_PROPERTY)
            .map(|(_, v)| v.as_str())
            .ok_or(AuthError::Unsigned)?;
        let tag = parse_tag(value)?;
        if tag.key != self.key.id {
            return Err(AuthError::OtherKey { got: tag.key.chars().take(16).collect(), want: self.key.id.clone() });
        }
        self.mac(topic, props, tag.exp, &tag.nonce, payload).verify_slice(&tag.mac).map_err(|_| AuthError::Forged)?;
        let now = now_ms();
        let skew = self.skew.as_millis() as u64;
        if now > tag.exp.saturating_add(skew) {
            return Err(AuthError::Expired { ago_ms: now - tag.exp, skew_ms: skew });
        }
        let max_ahead = self.max_ahead.as_millis() as u64;
        if tag.exp > now.saturating_add(max_ahead) {
            return Err(AuthError::TooFarAhead { ahead_ms: tag.exp - now, max_ms: max_ahead });
        }
        let verified = Verified { nonce: tag.nonce, exp: tag.exp };
        match record {
            Record::Yes => self.claim(&verified).map(|()| verified),
            Record::No if self.lock().nonces.contains(&tag.nonce) => Err(AuthError::Replayed(hex::encode(tag.nonce))),
            Record::No => Ok(verified),
        }
    }

    /// Record a verified message's nonce as used: refused if it was already.
    pub fn claim(&self, v: &Verified) -> Result<(), AuthError> {
        let now = now_ms();
        let mut seen = self.lock();
        while let Some(&(forget_at, nonce)) = seen.by_expiry.first() {
            if forget_at >= now {
                break;
            }
            seen.by_expiry.pop_first();
            seen.nonces.remove(&nonce);
        }
        if seen.nonces.contains(&v.nonce) {
            return Err(AuthError::Replayed(hex::encode(v.nonce)));
        }
        if seen.nonces.len() >= self.max_nonces {
            return Err(AuthError::Saturated(seen.nonces.len()));
        }
        seen.nonces.insert(v.nonce);
        seen.by_expiry.insert((v.exp.saturating_add(self.skew.as_millis() as u64), v.nonce));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The audit record of a bus message refused for its tag. Run, trace and
/// tool are what the message claims (unverified); the principal is unknown.
pub(crate) fn refusal_event<P>(what: &str, d: &Delivery, e: &AuthError, claimed: Option<&Envelope<P>>) -> AuditEvent {
    let (run_id, task_id, tool, trace_id) = claimed
        .map(|c| (c.run_id.clone(), c.task_id.clone(), c.tool.clone(), c.trace_id.clone()))
        .unwrap_or_default();
    AuditEvent {
        at: now_ms() as i64,
        principal: "unauthenticated".into(),
        plugin: tool,
        capability: format!("bus:{}", e.kind()),
        decision: "deny".into(),
        detail: format!("{what} on {} refused: {e} (claims task `{task_id}`)", d.topic()),
        trace_id,
        run_id,
        actor: String::new(),
        worker: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> BusAuth {
        BusAuth::new(BusKey::from_bytes(vec![7; 32]).unwrap())
    }

    fn signed(a: &BusAuth, exp: u64) -> PublishProperties {
        let mut p = PublishProperties { response_topic: Some("r/1".into()), ..Default::default() };
        a.sign("t", &mut p, b"payload", exp);
        p
    }

    #[test]
    fn accepts_once_then_refuses_the_replay() {
        let a = auth();
        let p = signed(&a, now_ms() + 10_000);
        assert!(a.verify_parts("t", &p, b"payload", Record::No).is_ok(), "checking does not use the nonce");
        assert!(a.verify_parts("t", &p, b"payload", Record::Yes).is_ok());
        let again = a.verify_parts("t", &p, b"payload", Record::Yes).unwrap_err();
        assert!(matches!(again, AuthError::Replayed(_)), "{again}");
        assert!(matches!(a.verify_parts("t", &p, b"payload", Record::No), Err(AuthError::Replayed(_))));
    }

    #[test]
    fn every_covered_part_matters() {
        let a = auth();
        let p = signed(&a, now_ms() + 10_000);
        assert_eq!(a.verify_parts("t", &p, b"payload!", Record::No), Err(AuthError::Forged));
        assert_eq!(a.verify_parts("other", &p, b"payload", Record::No), Err(AuthError::Forged));
        let mut redirected = p.clone();
        redirected.response_topic = Some("r/2".into());
        assert_eq!(a.verify_parts("t", &redirected, b"payload", Record::No), Err(AuthError::Forged));
        let mut correlated = p.clone();
        correlated.correlation_data = Some(bytes::Bytes::from_static(b"x"));
        assert_eq!(a.verify_parts("t", &correlated, b"payload", Record::No), Err(AuthError::Forged));
        assert_eq!(a.verify_parts("t", &PublishProperties::default(), b"payload", Record::No), Err(AuthError::Unsigned));
        let other = BusAuth::new(BusKey::from_bytes(vec![8; 32]).unwrap());
        let err = other.verify_parts("t", &p, b"payload", Record::No).unwrap_err();
        assert!(matches!(err, AuthError::OtherKey { .. }), "{err}");
    }

    #[test]
    fn expiry_is_enforced_with_skew() {
        let mut a = auth();
        a.skew = Duration::from_millis(100);
        let stale = signed(&a, now_ms() - 5_000);
        let err = a.verify_parts("t", &stale, b"payload", Record::Yes).unwrap_err();
        assert!(matches!(err, AuthError::Expired { .. }), "{err}");
        let within_skew = signed(&a, now_ms() - 10);
        assert!(a.verify_parts("t", &within_skew, b"payload", Record::Yes).is_ok());
        let far = signed(&a, now_ms() + 48 * 3600 * 1000);
        assert!(matches!(a.verify_parts("t", &far, b"payload", Record::Yes), Err(AuthError::TooFarAhead { .. })));
    }

    #[test]
    fn a_full_nonce_memory_refuses_rather_than_forgets() {
        let mut a = auth();
        a.max_nonces = 2;
        for _ in 0..2 {
            assert!(a.verify_parts("t", &signed(&a, now_ms() + 10_000), b"payload", Record::Yes).is_ok());
        }
        let err = a.verify_parts("t", &signed(&a, now_ms() + 10_000), b"payload", Record::Yes).unwrap_err();
        assert_eq!(err, AuthError::Saturated(2));
    }

    #[test]
    fn key_files_must_be_private_and_long_enough() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bus.key");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = BusKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("mode 644 lets others read the key"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(BusKey::load(&path).unwrap().id().len(), 8);
        std::fs::write(&path, "abcd").unwrap();
        let err = BusKey::load(&path).unwrap_err().to_string();
        assert!(err.contains("2 bytes of key; at least 32 needed"), "{err}");
    }
}
