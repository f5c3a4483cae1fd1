//! Who sent an UPDATE: the TSIG check (RFC 8945 §5.2) in front of the
//! updater. Until the TSIG module is merged every message counts as
//! unsigned, so only `allow_update_from` addresses can update.

use crate::config::Config;
use crate::update::UpdateError;
use crate::wire::name::Name;

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
    Signed(Name),
    /// The reason, for the log; answered NOTAUTH (RFC 8945 §5.2).
    Failed(String),
    /// An HTTP (dyndns2) update whose user maps to the key of this name;
    /// the HTTP endpoint checked the password.
    Http(Name),
}

impl Auth {
    /// The key whose policy applies.
    pub(crate) fn key_name(&self) -> Option<&Name> {
        match self {
            Auth::Signed(k) | Auth::Http(k) => Some(k),
            _ => None,
        }
    }

    /// The rcode of a failed check.
    pub(crate) fn failure(&self) -> Option<(UpdateError, String)> {
        match self {
            Auth::Failed(reason) => Some((UpdateError::NotAuth, reason.clone())),
            _ => None,
        }
    }

    /// Signs `response` or adds the TSIG error record it needs.
    pub(crate) fn finish(&self, _response: &mut Vec<u8>, _now: u64) {}
}
