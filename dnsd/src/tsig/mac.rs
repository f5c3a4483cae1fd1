//! HMAC over the pieces RFC 8945 §4.3 names, for each algorithm.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

use super::key::{Algorithm, Key};

/// A running HMAC with the algorithm of its key.
pub enum MacState {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl MacState {
    /// `None` only if the HMAC refused the key, which HMAC never does
    /// (RFC 2104 §2 takes keys of any length).
    pub fn new(key: &Key) -> Option<MacState> {
        let secret = key.secret();
        Some(match key.algorithm {
            Algorithm::HmacSha1 => MacState::Sha1(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha256 => MacState::Sha256(Hmac::new_from_slice(secret).ok()?),
            Algorithm::HmacSha512 => MacState::Sha512(Hmac::new_from_slice(secret).ok()?),
        })
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            MacState::Sha1(m) => m.update(data),
            MacState::Sha256(m) => m.update(data),
            MacState::Sha512(m) => m.update(data),
        }
    }

    /// The full MAC.
    pub fn finalize(self) -> Vec<u8> {
        match self {
            MacState::Sha1(m) => m.finalize().into_bytes().to_vec(),
            MacState::Sha256(m) => m.finalize().into_bytes().to_vec(),
            MacState::Sha512(m) => m.finalize().into_bytes().to_vec(),
        }
    }

    /// Compares in constant time against `mac`, which may be truncated to
    /// its leading bytes (RFC 8945 §5.2.2.1 rule 4); the caller has
    /// checked its length is allowed.
    pub fn verify(self, mac: &[u8]) -> bool {
        match self {
            MacState::Sha1(m) => m.verify_truncated_left(mac).is_ok(),
            MacState::Sha256(m) => m.verify_truncated_left(mac).is_ok(),
            MacState::Sha512(m) => m.verify_truncated_left(mac).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::name::Name;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn mac(alg: Algorithm, secret: &[u8], data: &[u8]) -> Vec<u8> {
        let key = Key::new(Name::root(), alg, secret.to_vec());
        let mut m = MacState::new(&key).unwrap();
        m.update(data);
        m.finalize()
    }

    /// RFC 4231 test case 2 (key "Jefe"), and RFC 2202 test case 2 for SHA-1.
    #[test]
    fn published_hmac_vectors() {
        let data = b"what do ya want for nothing?";
        assert_eq!(
            mac(Algorithm::HmacSha256, b"Jefe", data),
            hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
        assert_eq!(
            mac(Algorithm::HmacSha512, b"Jefe", data),
            hex(concat!(
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554",
                "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
            ))
        );
        assert_eq!(
            mac(Algorithm::HmacSha1, b"Jefe", data),
            hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        );
    }

    #[test]
    fn verify_accepts_prefixes_only() {
        let key = Key::new(Name::root(), Algorithm::HmacSha256, b"Jefe".to_vec());
        let full = mac(Algorithm::HmacSha256, b"Jefe", b"x");
        let check = |m: &[u8]| {
            let mut s = MacState::new(&key).unwrap();
            s.update(b"x");
            s.verify(m)
        };
        assert!(check(&full));
        assert!(check(&full[..16]));
        assert!(!check(&full[16..]));
        let mut flipped = full.clone();
        flipped[31] ^= 1;
        assert!(!check(&flipped));
        assert!(!check(&[]));
    }
}
