//! The realm's public key: a PEM `PUBLIC KEY` block (an X.509
//! SubjectPublicKeyInfo, what `openssl rsa -pubout` writes) read without a
//! crate — base64 and just enough DER to find the RSA modulus — and written
//! back as Keycloak's realm `publicKey` (the base64 DER, no PEM armour).

/// `rsaEncryption`, 1.2.840.113549.1.1.1.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// The smallest modulus accepted (NIST SP 800-131A).
pub const MIN_BITS: usize = 2048;

/// An RSA public key, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// The SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// The modulus size.
    pub bits: usize,
}

impl RsaPublicKey {
    /// Keycloak's `publicKey`: the DER in standard base64 on one line.
    pub fn base64(&self) -> String {
        base64_encode(&self.spki_der)
    }
}

/// Parse a PEM public key; the error says what is wrong (the caller
/// prefixes where the key came from).
pub fn parse_public_key_pem(text: &str) -> Result<RsaPublicKey, String> {
    let text = text.trim();
    if text.contains("PRIVATE KEY-----") {
        return Err("this is a private key: pass only the public key (`openssl rsa -pubout`); \
                    Keycloak reads the private key from the environment when it imports the realm"
            .into());
    }
    let not_pem = || "not a PEM public key (expected `-----BEGIN PUBLIC KEY-----` … `-----END PUBLIC KEY-----`, e.g. from `openssl rsa -pubout`)".to_string();
    let body = text
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or_else(not_pem)?;
    if body.contains("-----") {
        return Err(not_pem());
    }
    let der = base64_decode(body).ok_or_else(|| "the PEM body is not base64".to_string())?;
    let bits = rsa_modulus_bits(&der)?;
    if bits < MIN_BITS {
        return Err(format!("a {bits}-bit RSA key: at least {MIN_BITS} bits are required"));
    }
    Ok(RsaPublicKey { spki_der: der, bits })
}

/// `SEQUENCE { SEQUENCE { OID rsaEncryption, NULL }, BIT STRING { SEQUENCE { INTEGER n, INTEGER e } } }`
/// → the size of `n` in bits.
fn rsa_modulus_bits(der: &[u8]) -> Result<usize, String> {
    let bad = || "not a DER SubjectPublicKeyInfo".to_string();
    let (spki, rest) = tlv(der, 0x30).ok_or_else(bad)?;
    if !rest.is_empty() {
        return Err(bad());
    }
    let (alg, after_alg) = tlv(spki, 0x30).ok_or_else(bad)?;
    let (oid, _) = tlv(alg, 0x06).ok_or_else(bad)?;
    if oid != RSA_ENCRYPTION {
        return Err("not an RSA key (Keycloak's `rsa` key provider signs RS256 with RSA keys)".into());
    }
    let (bitstring, _) = tlv(after_alg, 0x03).ok_or_else(bad)?;
    let key = match bitstring.split_first() {
        Some((&0, key)) => key,
        _ => return Err(bad()),
    };
    let (rsa, _) = tlv(key, 0x30).ok_or_else(bad)?;
    let (n, after_n) = tlv(rsa, 0x02).ok_or_else(bad)?;
    let (e, _) = tlv(after_n, 0x02).ok_or_else(bad)?;
    if e.iter().all(|b| *b == 0) {
        return Err(bad());
    }
    let n: &[u8] = {
        let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
        &n[first..]
    };
    match n.first() {
        Some(top) => Ok((n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)),
        None => Err(bad()),
    }
}

/// One DER element of `tag` at the start of `input`: (contents, what follows).
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count].iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[count..])
    };
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding; whitespace (PEM line breaks) is skipped.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let symbols: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if symbols.is_empty() || !symbols.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3);
    let chunks = symbols.len() / 4;
    for (i, chunk) in symbols.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|b| **b == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut acc: u32 = 0;
        for &b in &chunk[..4 - pad] {
            let v = ALPHABET.iter().position(|a| *a == b)?;
            acc = (acc << 6) | v as u32;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

/// Standard base64 with padding, one line.
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let acc = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((acc >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for s in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let enc = base64_encode(s.as_bytes());
            if !s.is_empty() {
                assert_eq!(base64_decode(&enc).as_deref(), Some(s.as_bytes()), "{s}");
            }
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fo"), "Zm8=");
        assert_eq!(base64_decode("Zm9v\nYmE=").as_deref(), Some(&b"fooba"[..]));
        assert_eq!(base64_decode("Zm=v"), None);
        assert_eq!(base64_decode("Zm9"), None);
        assert_eq!(base64_decode("Zm9*"), None);
    }
}
