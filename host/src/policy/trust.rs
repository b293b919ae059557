//! Trust in plugin files: pinned digests and Ed25519 signatures.
//!
//! A signature covers the plugin's name and its sha256 (`taylordash-plugin-v1
//! \n<name>\n<sha256 hex>`), so a signed plugin can be neither modified nor
//! renamed into another tool's place. It lives beside the plugin as
//! `<tool>.wasm.sig` (JSON: name, sha256, key, signature). With `trusted_keys`
//! set in the policy, a plugin without a valid signature by one of them is
//! refused before it is compiled.

use std::path::{Path, PathBuf};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("plugin `{plugin}` is not signed ({sig} is missing) and the policy requires signatures by a trusted key")]
    Unsigned { plugin: String, sig: PathBuf },
    #[error("plugin `{plugin}`: bad signature file {sig}: {message}")]
    BadSignatureFile { plugin: String, sig: PathBuf, message: String },
    #[error("plugin `{plugin}`: the signature does not match its name and sha256 {sha256} (tampered or renamed)")]
    Mismatch { plugin: String, sha256: String },
    #[error("plugin `{plugin}` is signed by {key}, which is not among the policy's trusted_keys")]
    Untrusted { plugin: String, key: String },
    #[error("key {0}: {1}")]
    Key(String, String),
}

/// The `.sig` file beside a plugin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureFile {
    pub name: String,
    pub sha256: String,
    /// `ed25519:<hex public key>`.
    pub key: String,
    /// Hex of the 64-byte signature.
    pub signature: String,
}

fn message(name: &str, sha256: &str) -> Vec<u8> {
    format!("taylordash-plugin-v1\n{name}\n{sha256}").into_bytes()
}

pub fn sig_path(plugin: &Path) -> PathBuf {
    let mut s = plugin.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

pub fn parse_public_key(text: &str) -> Result<VerifyingKey, TrustError> {
    let bad = |m: &str| TrustError::Key(text.to_string(), m.to_string());
    let hex_part = text.strip_prefix("ed25519:").ok_or_else(|| bad("expected `ed25519:<64 hex digits>`"))?;
    let bytes: [u8; 32] = hex::decode(hex_part)
        .map_err(|e| bad(&e.to_string()))?
        .try_into()
        .map_err(|_| bad("a public key is 32 bytes"))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| bad(&e.to_string()))
}

pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("ed25519:{}", hex::encode(key.as_bytes()))
}

/// A new signing key from the OS's randomness.
pub fn generate() -> Result<SigningKey, TrustError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| TrustError::Key("new key".into(), e.to_string()))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn read_signing_key(path: &Path) -> Result<SigningKey, TrustError> {
    let bad = |m: String| TrustError::Key(path.display().to_string(), m);
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .map_err(|e| bad(e.to_string()))?
        .try_into()
        .map_err(|_| bad("a secret key is 32 bytes of hex".into()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Sign plugin `name` with digest `sha256`.
pub fn sign(key: &SigningKey, name: &str, sha256: &str) -> SignatureFile {
    let sig = key.sign(&message(name, sha256));
    SignatureFile {
        name: name.to_string(),
        sha256: sha256.to_string(),
        key: public_key_text(&key.verifying_key()),
        signature: hex::encode(sig.to_bytes()),
    }
}

/// Check the signature beside `plugin` (named `name`, digest `sha256`)
/// against `trusted` keys. Returns the signing key on success.
pub fn verify(plugin: &Path, name: &str, sha256: &str, trusted: &[String]) -> Result<String, TrustError> {
    let sig = sig_path(plugin);
    let bad = |message: String| TrustError::BadSignatureFile { plugin: name.to_string(), sig: sig.clone(), message };
    let text = match std::fs::read_to_string(&sig) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TrustError::Unsigned { plugin: name.to_string(), sig });
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    let file: SignatureFile = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    if !trusted.iter().any(|k| k == &file.key) {
        return Err(TrustError::Untrusted { plugin: name.to_string(), key: file.key });
    }
    let key = parse_public_key(&file.key)?;
    let bytes: [u8; 64] = hex::decode(&file.signature)
        .map_err(|e| bad(e.to_string()))?
        .try_into()
        .map_err(|_| bad("a signature is 64 bytes".into()))?;
    key.verify(&message(name, sha256), &Signature::from_bytes(&bytes))
        .map_err(|_| TrustError::Mismatch { plugin: name.to_string(), sha256: sha256.to_string() })?;
    Ok(file.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_binds_name_and_digest() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("planner.wasm");
        std::fs::write(&plugin, b"x").unwrap();
        let key = generate().unwrap();
        let trusted = vec![public_key_text(&key.verifying_key())];
        assert!(matches!(verify(&plugin, "planner", "aa", &trusted), Err(TrustError::Unsigned { .. })));
        std::fs::write(sig_path(&plugin), serde_json::to_string(&sign(&key, "planner", "aa")).unwrap()).unwrap();
        assert_eq!(verify(&plugin, "planner", "aa", &trusted), Ok(trusted[0].clone()));
        assert!(matches!(verify(&plugin, "planner", "bb", &trusted), Err(TrustError::Mismatch { .. })));
        assert!(matches!(verify(&plugin, "bash_runner", "aa", &trusted), Err(TrustError::Mismatch { .. })));
        let other = vec![public_key_text(&generate().unwrap().verifying_key())];
        assert!(matches!(verify(&plugin, "planner", "aa", &other), Err(TrustError::Untrusted { .. })));
    }
}
