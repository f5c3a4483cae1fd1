//! Who sent an UPDATE: the TSIG check (RFC 8945 §5.2) in front of the
//! updater, and the matching signature or error record on the response
//! (§5.3, §5.2.x).

use crate::config::Config;
use crate::dynamic::config::KeyConfig;
use crate::tsig::{self, Checked, FailureKind, Key, KeyRing, TsigFailure, Verified};
use crate::update::UpdateError;
use crate::wire::name::Name;

/// The configured keys, ready for checking requests.
pub(crate) struct Keys(KeyRing);

impl Keys {
    /// The `[[key]]` entries; [`Config`] validation has already checked
    /// that each one converts, so one that does not is only logged.
    pub(crate) fn from_config(config: &Config) -> Keys {
        let keys = config
            .keys
            .iter()
            .filter_map(|k| match tsig_key(k, &config.base_dir) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::error!(key = %k.name, "TSIG key unusable: {e}");
                    None
                }
            })
            .collect();
        Keys(KeyRing::new(keys))
    }

    /// The outcome of checking `msg`'s TSIG, at `now` (Unix seconds).
    pub(crate) fn check(&self, msg: &[u8], now: u64) -> Auth {
        match tsig::check_request(msg, &self.0, now) {
            Checked::Unsigned => Auth::Unsigned,
            Checked::Signed(v) => Auth::Signed(Box::new(v)),
            Checked::Failed(f) => Auth::Failed(Box::new(f)),
        }
    }
}

/// The TSIG key of a `[[key]]` entry.
pub(crate) fn tsig_key(k: &KeyConfig, base_dir: &std::path::Path) -> Result<Key, String> {
    let name = Name::parse_text(&k.name).map_err(|e| format!("bad key name: {e}"))?;
    let algorithm = k.algorithm.parse().map_err(|e| format!("{e}"))?;
    let secret = tsig::decode_secret(&k.secret_text(base_dir)?).map_err(|e| format!("{e}"))?;
    Ok(Key::new(name, algorithm, secret))
}

/// The outcome of the TSIG check.
pub(crate) enum Auth {
    Unsigned,
    Signed(Box<Verified>),
    /// Answered NOTAUTH (FORMERR for a malformed TSIG) with the TSIG error
    /// RFC 8945 §5.2 asks for.
    Failed(Box<TsigFailure>),
    /// An HTTP (dyndns2) update whose user maps to the key of this name;
    /// the HTTP endpoint checked the password.
    Http(Name),
}

impl Auth {
    /// The key whose policy applies.
    pub(crate) fn key_name(&self) -> Option<&Name> {
        match self {
            Auth::Signed(v) => Some(&v.key_name),
            Auth::Http(k) => Some(k),
            _ => None,
        }
    }

    /// The rcode and the reason of a failed check.
    pub(crate) fn failure(&self) -> Option<(UpdateError, String)> {
        match self {
            Auth::Failed(f) if f.kind() == FailureKind::FormErr => {
                Some((UpdateError::FormErr, f.to_string()))
            }
            Auth::Failed(f) => Some((UpdateError::NotAuth, f.to_string())),
            _ => None,
        }
    }

    /// Signs `response` (RFC 8945 §5.3) or adds the TSIG error record a
    /// failed check needs (§5.2).
    pub(crate) fn finish(&self, response: &mut Vec<u8>, now: u64) {
        match self {
            Auth::Signed(v) => tsig::sign_response(v, response, now),
            Auth::Failed(f) => tsig::finish_error_response(f, response, now),
            Auth::Unsigned | Auth::Http(_) => {}
        }
    }
}
