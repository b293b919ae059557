//! AWS Signature Version 4 (header-based), as S3 and S3-compatible servers
//! (MinIO, moto) check it.
//!
//! The caller builds the request (method, already-encoded path, query, the
//! headers to sign including `host`, the payload's SHA-256) and gets back the
//! `Authorization` header value plus the intermediate canonical request and
//! string to sign, for tests and diagnostics. Only the derived signing key
//! ever sees the secret; nothing here logs.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The algorithm name in the string to sign and the `Authorization` header.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// An access key pair. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// What to sign.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path exactly as sent, already URI-encoded (see [`encode_path`]).
    pub canonical_uri: &'a str,
    /// Query parameters, unencoded; sorted and encoded here.
    pub query: &'a [(String, String)],
    /// The headers to sign, `host` included; names in any case.
    pub headers: &'a [(String, String)],
    /// Lowercase hex SHA-256 of the payload (or `UNSIGNED-PAYLOAD`).
    pub payload_sha256: &'a str,
}

/// The result of signing, with the intermediate strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signed_headers: String,
    pub credential_scope: String,
    /// Lowercase hex.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length: `new_from_slice` cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// SigV4's URI encoding: every byte except the unreserved `A-Z a-z 0-9 - _ . ~`
/// as `%XX` (uppercase hex); `/` kept when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// An S3 object path (`/bucket/key`) as sent and signed: each segment encoded
/// once (S3 does not double-encode), slashes kept.
pub fn encode_path(path: &str) -> String {
    uri_encode(path, true)
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Canonical headers (`name:value\n`, names lowercased and sorted, values
/// trimmed with inner whitespace runs collapsed, repeated names joined by `,`)
/// and the signed-headers list.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut map: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for (name, value) in headers {
        let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
        map.entry(name.trim().to_ascii_lowercase())
            .or_default()
            .push(value);
    }
    let canonical = map
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.join(",")))
        .collect::<String>();
    let signed = map.keys().cloned().collect::<Vec<_>>().join(";");
    (canonical, signed)
}

/// The signing key for a day, region and service.
pub fn signing_key(secret_key: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret_key}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

/// Sign `req` at `amz_date` (`YYYYMMDDTHHMMSSZ`, the request's `x-amz-date`).
pub fn sign(
    creds: &Credentials,
    region: &str,
    service: &str,
    amz_date: &str,
    req: &Request<'_>,
) -> Signature {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let (headers, signed_headers) = canonical_headers(req.headers);
    let canonical_request = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        req.canonical_uri,
        canonical_query(req.query),
        headers,
        signed_headers,
        req.payload_sha256
    );
    let credential_scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let key = signing_key(&creds.secret_key, date, region, service);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        creds.access_key
    );
    Signature {
        canonical_request,
        string_to_sign,
        signed_headers,
        credential_scope,
        signature,
        authorization,
    }
}

/// `x-amz-date` (`YYYYMMDDTHHMMSSZ`, UTC) for seconds since the Unix epoch.
pub fn amz_date(unix_secs: u64) -> String {
    let days = (unix_secs / 86_400) as i64;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_creds() -> Credentials {
        Credentials {
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    fn h(name: &str, value: &str) -> (String, String) {
        (name.to_string(), value.to_string())
    }

    /// The AWS SigV4 test suite's `get-vanilla`; the signature also computed
    /// independently with botocore's `SigV4Auth` (vectors/botocore_vectors.py).
    #[test]
    fn get_vanilla() {
        let headers = [
            h("Host", "example.amazonaws.com"),
            h("X-Amz-Date", "20150830T123600Z"),
        ];
        let empty = sha256_hex(b"");
        let sig = sign(
            &example_creds(),
            "us-east-1",
            "service",
            "20150830T123600Z",
            &Request {
                method: "GET",
                canonical_uri: "/",
                query: &[],
                headers: &headers,
                payload_sha256: &empty,
            },
        );
        assert_eq!(
            sig.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sig.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\
             bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            sig.signature,
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(
            sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    /// An S3 PutObject as this tool sends it, signed by botocore's
    /// `S3SigV4Auth` (vectors/botocore_vectors.py prints these values).
    #[test]
    fn s3_put_object_matches_botocore() {
        let body = b"openapi: 3.1.0\ninfo:\n  title: TaylorDash\n";
        let payload = sha256_hex(body);
        assert_eq!(
            payload,
            "f710c5e67a2dda4232eaf91f46c566f7361782965d84cc5c46ca1eeb4f880b74"
        );
        let path = encode_path("/taylordash-artifacts/run-42/docs/my spec+v1.yaml");
        assert_eq!(
            path,
            "/taylordash-artifacts/run-42/docs/my%20spec%2Bv1.yaml"
        );
        let headers = [
            h("Content-Type", "application/yaml"),
            h("Host", "127.0.0.1:9000"),
            h("x-amz-content-sha256", &payload),
            h("x-amz-date", "20240229T235959Z"),
        ];
        let sig = sign(
            &example_creds(),
            "us-east-1",
            "s3",
            "20240229T235959Z",
            &Request {
                method: "PUT",
                canonical_uri: &path,
                query: &[],
                headers: &headers,
                payload_sha256: &payload,
            },
        );
        assert_eq!(
            sig.signed_headers,
            "content-type;host;x-amz-content-sha256;x-amz-date"
        );
        assert_eq!(
            sig.string_to_sign,
            "AWS4-HMAC-SHA256\n20240229T235959Z\n20240229/us-east-1/s3/aws4_request\n\
             e1a4cad869d7bafbbdaed98012c3e864fe94c3fba516987938724da22d9a2c89"
        );
        assert_eq!(
            sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240229/us-east-1/s3/aws4_request, \
             SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, \
             Signature=320ab52380bc7abe7aed4c01bae06a3fa05976c7740b3349940ba8061a6fe893"
        );
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed_names_sorted() {
        let headers = [h("X-B", "  a   b  "), h("x-a", "1"), h("X-A", "2")];
        let (canonical, signed) = canonical_headers(&headers);
        assert_eq!(canonical, "x-a:1,2\nx-b:a b\n");
        assert_eq!(signed, "x-a;x-b");
    }

    #[test]
    fn uri_encoding() {
        assert_eq!(uri_encode("a b/c~d_e-f.g", true), "a%20b/c~d_e-f.g");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(uri_encode("é*=", false), "%C3%A9%2A%3D");
        assert_eq!(
            canonical_query(&[h("b", "2"), h("a", "x y")]),
            "a=x%20y&b=2"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(amz_date(1_709_251_199), "20240229T235959Z");
        assert_eq!(amz_date(1_709_251_200), "20240301T000000Z");
        assert_eq!(amz_date(4_102_444_800), "21000101T000000Z");
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", example_creds());
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE"));
    }
}
