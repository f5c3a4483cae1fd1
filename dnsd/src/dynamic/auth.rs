//! Who sent an UPDATE: the TSIG check (RFC 8945 §5.2) in front of the
//! updater. Until the TSIG module is merged every message counts as
//! unsigned, so only `allow_update_from` addresses can update.

use crate::config::Config;

/// The configured keys, ready for checking requests.
pub(crate) struct Keys;

impl Keys {
    pub(crate) fn from_config(_config: &Config) -> Keys {
        Keys
    }

    /// The outcome of checking `msg`'s TSIG, at `now` (Unix seconds).
    pub(crate) fn check(&self, _msg: &[u8], _now: u64) -> Auth {
        Auth::Unsigned
    }
}

/// The outcome of the TSIG check.
#[allow(dead_code)] // Signed and Failed come with the TSIG module.
pub(crate) enum Auth {
    Unsigned,
    /// Verified with the key of this name.
    Signed(String),
    /// The reason, for the log; answered NOTAUTH (RFC 8945 §5.2).
    Failed(String),
}

impl Auth {
    pub(crate) fn key_name(&self) -> Option<&str> {
        match self {
            Auth::Signed(k) => Some(k),
            _ => None,
        }
    }

    /// Signs `response` or adds the TSIG error record it needs.
    pub(crate) fn finish(&self, _response: &mut Vec<u8>, _now: u64) {}
}
