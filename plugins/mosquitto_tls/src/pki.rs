//! `mosquitto_tls`'s certificates: a CA and the broker's server certificate,
//! made inside the component.
//!
//! `rcgen` builds and DER-encodes the X.509 certificates; it is used without
//! a crypto backend (its `ring`/`aws-lc-rs` backends need a C toolchain for
//! `wasm32-wasip2`), so signing is this module's [`Key`]: ECDSA P-256 with
//! SHA-256 from RustCrypto's pure-Rust `p256`. Private keys are 32 bytes from
//! `getrandom`, which in the component is the host's `wasi:random` (a
//! CSPRNG), drawn again on every run; they are written as PKCS#8 PEM. What
//! rcgen derives with a backend is set here: serial numbers (127 random
//! bits) and key identifiers (RFC 7093 method 1: the leftmost 160 bits of the
//! SHA-256 of the public key).
//!
//! The CA: `CA:TRUE, pathlen:0` (critical), keyCertSign + cRLSign, 5 years.
//! The server: `CA:FALSE`, digitalSignature, serverAuth, the SANs given,
//! authority and subject key identifiers, 397 days (the longest validity
//! browsers accept). Both are backdated 5 minutes against clock skew.

use std::time::{SystemTime, UNIX_EPOCH};

use p256::ecdsa::{DerSignature, SigningKey as EcdsaKey, signature::SignatureEncoding, signature::Signer};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm, SigningKey,
};
use sha2::{Digest, Sha256};
use taylordash_sdk::ToolError;
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.crt";
pub const SERVER_CERT: &str = "server.crt";
pub const SERVER_KEY: &str = "server.key";
pub const CA_DAYS: i64 = 1826;
pub const SERVER_DAYS: i64 = 397;
pub const BACKDATE_MINUTES: i64 = 5;
/// Common names stay within X.520's 64 characters.
const MAX_CN: usize = 64;

/// An ECDSA P-256 key pair: rcgen's signer.
pub struct Key {
    secret: EcdsaKey,
    /// The SEC1 uncompressed point: the certificate's subjectPublicKey.
    public: Vec<u8>,
}

impl Key {
    /// A fresh key from the host's randomness. A 32-byte draw is a valid
    /// scalar unless it is zero or not below the group order (probability
    /// about 2^-32); such a draw is thrown away and another taken.
    pub fn generate() -> Result<Key, ToolError> {
        let mut bytes = [0u8; 32];
        for _ in 0..8 {
            random(&mut bytes)?;
            let drawn = EcdsaKey::from_slice(&bytes);
            bytes.fill(0);
            if let Ok(secret) = drawn {
                let public = secret.verifying_key().to_sec1_point(false).as_bytes().to_vec();
                return Ok(Key { secret, public });
            }
        }
        Err(ToolError::Failed("could not draw a valid P-256 private key in 8 tries".into()))
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn pkcs8_pem(&self) -> Result<String, ToolError> {
        self.secret
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.as_str().to_string())
            .map_err(|e| ToolError::Failed(format!("cannot encode a private key as PKCS#8: {e}")))
    }

    /// RFC 7093 method 1: the leftmost 160 bits of SHA-256(subjectPublicKey).
    pub fn key_id(&self) -> Vec<u8> {
        Sha256::digest(&self.public)[..20].to_vec()
    }
}

impl PublicKeyData for Key {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for Key {
    /// ECDSA over SHA-256 of `msg` (RFC 6979 nonces), DER-encoded as X.509 wants.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let sig: DerSignature = self.secret.try_sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?;
        Ok(sig.to_vec())
    }
}

/// `dest` filled from the host's CSPRNG (`wasi:random/random` in the component).
pub fn random(dest: &mut [u8]) -> Result<(), ToolError> {
    getrandom::fill(dest).map_err(|e| ToolError::Failed(format!("no random bytes from the host (wasi:random): {e}")))
}

/// The host's wall clock (`wasi:clocks/wall-clock` in the component), to the second.
pub fn now() -> Result<OffsetDateTime, ToolError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| ToolError::Failed("the host's clock is before 1970".into()))?
        .as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| ToolError::Failed(format!("the host's clock ({secs} s since 1970) is out of range")))
}

/// `2026-08-07T10:45:32Z`.
pub fn rfc3339(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute(), t.second())
}

/// Who the certificates name.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub organization: String,
    pub ca_common_name: String,
    pub server_common_name: String,
}

impl Subject {
    pub fn for_service(title: &str, host: &str) -> Subject {
        let org: String = title.chars().take(MAX_CN).collect();
        let ca: String = format!("{title} MQTT CA").chars().take(MAX_CN).collect();
        Subject { organization: org, ca_common_name: ca, server_common_name: host.chars().take(MAX_CN).collect() }
    }
}

/// The certificates and keys, PEM-encoded.
pub struct Pki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    /// SHA-256 of the CA certificate's DER, `AB:CD:…`.
    pub ca_fingerprint: String,
    pub server_not_after: String,
    pub sans: Vec<SanType>,
}

impl Pki {
    /// A CA and a server certificate for `sans` (DNS names or IP addresses), valid from `now`.
    pub fn generate(subject: &Subject, sans: &[String], now: OffsetDateTime) -> Result<Pki, ToolError> {
        let not_before = add(now, Duration::minutes(-BACKDATE_MINUTES))?;

        let ca_key = Key::generate()?;
        let mut ca = CertificateParams::default();
        ca.distinguished_name = name(&subject.ca_common_name, &subject.organization);
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        ca.not_before = not_before;
        ca.not_after = add(now, Duration::days(CA_DAYS))?;
        ca.serial_number = Some(serial()?);
        ca.key_identifier_method = KeyIdMethod::PreSpecified(ca_key.key_id());
        let ca_cert = ca.self_signed(&ca_key).map_err(cert_error)?;

        let server_key = Key::generate()?;
        let mut server = CertificateParams::new(sans.to_vec()).map_err(cert_error)?;
        server.distinguished_name = name(&subject.server_common_name, &subject.organization);
        server.is_ca = IsCa::ExplicitNoCa;
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.use_authority_key_identifier_extension = true;
        server.key_identifier_method = KeyIdMethod::PreSpecified(server_key.key_id());
        server.not_before = not_before;
        let server_not_after = add(now, Duration::days(SERVER_DAYS))?;
        server.not_after = server_not_after;
        server.serial_number = Some(serial()?);
        let issuer = Issuer::from_params(&ca, &ca_key);
        let server_cert = server.signed_by(&server_key, &issuer).map_err(cert_error)?;

        Ok(Pki {
            ca_cert_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.pkcs8_pem()?,
            ca_fingerprint: fingerprint(ca_cert.der()),
            server_not_after: rfc3339(server_not_after),
            sans: server.subject_alt_names.clone(),
        })
    }

    /// `DNS:localhost, IP:127.0.0.1, DNS:mosquitto`.
    pub fn san_text(&self) -> String {
        self.sans
            .iter()
            .map(|s| match s {
                SanType::DnsName(n) => format!("DNS:{}", n.as_str()),
                SanType::IpAddress(ip) => format!("IP:{ip}"),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn name(common_name: &str, organization: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, organization);
    dn
}

/// 16 random bytes, positive and non-zero (RFC 5280 4.1.2.2: at most 20 octets).
fn serial() -> Result<SerialNumber, ToolError> {
    let mut bytes = [0u8; 16];
    random(&mut bytes)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn add(t: OffsetDateTime, d: Duration) -> Result<OffsetDateTime, ToolError> {
    t.checked_add(d).ok_or_else(|| ToolError::Failed(format!("{} {d} is out of range", rfc3339(t))))
}

fn cert_error(e: rcgen::Error) -> ToolError {
    ToolError::Failed(format!("cannot build the certificate: {e}"))
}

/// `AB:CD:…` over SHA-256.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}
