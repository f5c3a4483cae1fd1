//! TSIG keys and algorithms (RFC 8945 §6): what the configuration holds.
//!
//! A key's secret never leaves this module except into the HMAC, is not
//! printed by `Debug`, and is wiped from memory when the key is dropped.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use base64::Engine as _;
use zeroize::Zeroizing;

use crate::wire::name::Name;

/// Why key material from the configuration is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TsigConfigError {
    #[error("unknown TSIG algorithm {0:?} (expected hmac-sha256, hmac-sha512 or hmac-sha1)")]
    UnknownAlgorithm(String),
    #[error("TSIG secret is not valid base64")]
    BadBase64,
    #[error("TSIG secret is empty")]
    EmptySecret,
    #[error("TSIG key {0} is defined twice")]
    DuplicateKey(Name),
}

/// The HMAC algorithms dnsd implements (RFC 8945 §6, IANA "TSIG Algorithm
/// Names"). hmac-sha1 is accepted for old clients only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
    HmacSha512,
}

impl Algorithm {
    /// The algorithm name in presentation form, as in key files.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "hmac-sha1.",
            Algorithm::HmacSha256 => "hmac-sha256.",
            Algorithm::HmacSha512 => "hmac-sha512.",
        }
    }

    /// The algorithm name in canonical (lower-case, uncompressed) wire form,
    /// as the MAC covers it (RFC 8945 §4.3.3).
    pub fn wire_name(self) -> &'static [u8] {
        match self {
            Algorithm::HmacSha1 => b"\x09hmac-sha1\x00",
            Algorithm::HmacSha256 => b"\x0bhmac-sha256\x00",
            Algorithm::HmacSha512 => b"\x0bhmac-sha512\x00",
        }
    }

    /// The algorithm a received name denotes, ignoring case; `None` for
    /// names dnsd does not implement (hmac-md5.sig-alg.reg.int. among them),
    /// which the caller answers with BADKEY (RFC 8945 §5.2.1).
    pub fn from_wire_name(name: &Name) -> Option<Algorithm> {
        [
            Algorithm::HmacSha1,
            Algorithm::HmacSha256,
            Algorithm::HmacSha512,
        ]
        .into_iter()
        .find(|a| name.lowercase_eq(a.wire_name()))
    }

    /// Length of the full MAC in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::HmacSha1 => 20,
            Algorithm::HmacSha256 => 32,
            Algorithm::HmacSha512 => 64,
        }
    }

    /// Shortest MAC accepted: the larger of 10 bytes and half the hash
    /// (RFC 8945 §5.2.2.1, rule 3).
    pub fn min_mac_len(self) -> usize {
        (self.output_len() / 2).max(10)
    }
}

impl FromStr for Algorithm {
    type Err = TsigConfigError;

    /// Accepts `hmac-sha256`, `HMAC-SHA256.` and the like.
    fn from_str(s: &str) -> Result<Algorithm, TsigConfigError> {
        let unknown = || TsigConfigError::UnknownAlgorithm(s.to_owned());
        let name = Name::parse_text(s).map_err(|_| unknown())?;
        Algorithm::from_wire_name(&name).ok_or_else(unknown)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().trim_end_matches('.'))
    }
}

/// A shared secret and the name and algorithm it is used under.
#[derive(Clone)]
pub struct Key {
    pub name: Name,
    pub algorithm: Algorithm,
    secret: Zeroizing<Vec<u8>>,
}

impl Key {
    pub fn new(name: Name, algorithm: Algorithm, secret: Vec<u8>) -> Key {
        Key {
            name,
            algorithm,
            secret: Zeroizing::new(secret),
        }
    }

    pub(super) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<hidden>")
            .finish()
    }
}

/// Decodes a secret written in base64, as BIND's `secret "…";` and Knot's
/// `secret:` hold it. Whitespace inside is ignored (BIND allows it).
pub fn decode_secret(base64: &str) -> Result<Vec<u8>, TsigConfigError> {
    let compact: Zeroizing<String> =
        Zeroizing::new(base64.chars().filter(|c| !c.is_whitespace()).collect());
    let secret = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| TsigConfigError::BadBase64)?;
    if secret.is_empty() {
        return Err(TsigConfigError::EmptySecret);
    }
    Ok(secret)
}

/// The configured keys, looked up by name in any letter case.
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    keys: HashMap<Name, Arc<Key>>,
}

impl KeyRing {
    /// A ring of `keys`; of two keys with one name the later one wins
    /// (use [`KeyRing::from_keys`] to refuse that instead).
    pub fn new(keys: Vec<Key>) -> KeyRing {
        KeyRing {
            keys: keys
                .into_iter()
                .map(|k| (k.name.clone(), Arc::new(k)))
                .collect(),
        }
    }

    /// A ring of `keys`, refusing two keys with the same name (names
    /// compare case-insensitively, RFC 4343).
    pub fn from_keys(keys: impl IntoIterator<Item = Key>) -> Result<KeyRing, TsigConfigError> {
        let mut ring = KeyRing::default();
        for key in keys {
            if ring.keys.contains_key(&key.name) {
                return Err(TsigConfigError::DuplicateKey(key.name));
            }
            ring.keys.insert(key.name.clone(), Arc::new(key));
        }
        Ok(ring)
    }

    pub fn get(&self, name: &Name) -> Option<&Arc<Key>> {
        self.keys.get(name)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    #[test]
    fn algorithm_names_parse_in_any_case() {
        assert_eq!("hmac-sha256".parse(), Ok(Algorithm::HmacSha256));
        assert_eq!("HMAC-SHA512.".parse(), Ok(Algorithm::HmacSha512));
        assert_eq!("hmac-sha1".parse(), Ok(Algorithm::HmacSha1));
        assert!(matches!(
            "hmac-md5.sig-alg.reg.int".parse::<Algorithm>(),
            Err(TsigConfigError::UnknownAlgorithm(_))
        ));
        assert!("hmac-sha384".parse::<Algorithm>().is_err());
        assert!("".parse::<Algorithm>().is_err());
        assert_eq!(Algorithm::HmacSha256.to_string(), "hmac-sha256");
        // The wire names are the presentation names, encoded.
        for a in [
            Algorithm::HmacSha1,
            Algorithm::HmacSha256,
            Algorithm::HmacSha512,
        ] {
            assert_eq!(n(a.name()).as_wire(), a.wire_name());
        }
    }

    #[test]
    fn truncation_floor_is_rfc_8945_rule_3() {
        // max(10, 20/2) = 10; max(10, 32/2) = 16; max(10, 64/2) = 32.
        assert_eq!(Algorithm::HmacSha1.min_mac_len(), 10);
        assert_eq!(Algorithm::HmacSha256.min_mac_len(), 16);
        assert_eq!(Algorithm::HmacSha512.min_mac_len(), 32);
    }

    #[test]
    fn secrets_decode_like_key_files() {
        assert_eq!(decode_secret("c2VjcmV0").unwrap(), b"secret");
        assert_eq!(decode_secret(" c2Vj\n cmV0 ").unwrap(), b"secret");
        assert_eq!(decode_secret("c2VjcmV0!"), Err(TsigConfigError::BadBase64));
        assert_eq!(decode_secret(""), Err(TsigConfigError::EmptySecret));
    }

    #[test]
    fn debug_hides_the_secret() {
        let k = Key::new(n("k"), Algorithm::HmacSha256, b"hunter2-secret".to_vec());
        let shown = format!("{k:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("104"), "{shown}"); // no byte list either
        assert!(shown.contains("k."), "{shown}");
    }

    #[test]
    fn ring_lookup_ignores_case_and_refuses_duplicates() {
        let a = Key::new(n("Dyn.Example"), Algorithm::HmacSha256, vec![1]);
        let b = Key::new(n("dyn.example"), Algorithm::HmacSha1, vec![2]);
        let ring = KeyRing::new(vec![a.clone(), b.clone()]);
        assert_eq!(ring.len(), 1);
        assert_eq!(
            ring.get(&n("DYN.example")).map(|k| k.algorithm),
            Some(Algorithm::HmacSha1)
        );
        assert!(ring.get(&n("other")).is_none());
        assert_eq!(
            KeyRing::from_keys([a, b]).map(|r| r.len()),
            Err(TsigConfigError::DuplicateKey(n("dyn.example")))
        );
    }
}
