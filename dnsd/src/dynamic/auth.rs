//! Who sent an UPDATE: the TSIG check (RFC 8945 §5.2) in front of the
//! updater, and the matching signature or error record on the response
//! (§5.3, §5.2.x).

use std::collections::HashMap;

use crate::config::Config;
use crate::dynamic::config::KeyConfig;
use crate::tsig::{self, Checked, FailureKind, Key, KeyRing, TsigFailure, Verified};
use crate::update::UpdateError;
use crate::wire::name::Name;

/// How much older than the newest accepted request under the same key a
/// request may be signed: clients sharing a key, or retries crossing a
/// second, need not be in strict order.
const REPLAY_SLACK: u64 = 1;

/// The configured keys, ready for checking requests, and the newest Time
/// Signed accepted under each (RFC 8945 §5.2.3: a request signed earlier
/// than that is a replay, answered BADTIME). Within the fudge a captured
/// request could otherwise be sent again, e.g. to undo a later change.
pub(crate) struct Keys {
    ring: KeyRing,
    /// Lower-cased wire key name → newest Time Signed accepted.
    newest: HashMap<Box<[u8]>, u64>,
}

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
        Keys::new(KeyRing::new(keys))
    }

    fn new(ring: KeyRing) -> Keys {
        Keys {
            ring,
            newest: HashMap::new(),
        }
    }

    /// The keys of `config`, keeping what was accepted under the keys it
    /// still has, so that a reload does not reopen replays.
    pub(crate) fn reconfigure(&mut self, config: &Config) {
        let next = Keys::from_config(config);
        self.newest
            .retain(|key, _| Name::from_wire(key).is_ok_and(|name| next.ring.get(&name).is_some()));
        self.ring = next.ring;
    }

    /// The outcome of checking `msg`'s TSIG, at `now` (Unix seconds).
    pub(crate) fn check(&mut self, msg: &[u8], now: u64) -> Auth {
        match tsig::check_request(msg, &self.ring, now) {
            Checked::Unsigned => Auth::Unsigned,
            Checked::Signed(v) => {
                let key: Box<[u8]> = v.key_name.to_lowercase().as_wire().into();
                let time = v.time_signed();
                let newest = self.newest.entry(key).or_insert(time);
                if time.saturating_add(REPLAY_SLACK) < *newest {
                    return Auth::Failed(Box::new(TsigFailure::replayed(v)));
                }
                *newest = (*newest).max(time);
                Auth::Signed(Box::new(v))
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsig::{Algorithm, FailureKind, sign_request};

    const FUDGE: u16 = 300;
    const NOW: u64 = 1_800_000_000;

    fn key(name: &str) -> Key {
        let name = Name::parse_text(name).unwrap();
        Key::new(name, Algorithm::HmacSha256, b"0123456789abcdef".to_vec())
    }

    fn keys() -> Keys {
        Keys::new(KeyRing::new(vec![key("home"), key("other")]))
    }

    /// An empty UPDATE for example.info (RFC 2136 §2).
    fn unsigned() -> Vec<u8> {
        let mut msg = vec![0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x07example\x04info\x00\x00\x06\x00\x01");
        msg
    }

    /// [`unsigned`] signed by `key` at `time`.
    fn update(key: &str, time: u64) -> Vec<u8> {
        let mut msg = unsigned();
        sign_request(&self::key(key), &mut msg, time, FUDGE).unwrap();
        msg
    }

    fn kind(auth: &Auth) -> Option<FailureKind> {
        match auth {
            Auth::Signed(_) => None,
            Auth::Failed(f) => Some(f.kind()),
            Auth::Unsigned | Auth::Http(_) => panic!("not a TSIG outcome"),
        }
    }

    #[test]
    fn a_request_signed_before_an_accepted_one_is_a_replay() {
        let mut keys = keys();
        let first = update("home", NOW - 100);
        assert_eq!(kind(&keys.check(&first, NOW)), None);
        assert_eq!(kind(&keys.check(&update("home", NOW - 10), NOW)), None);
        // Within the fudge, but signed before the newest accepted one
        // (RFC 8945 §5.2.3): BADTIME, answered with a signed error.
        let replay = keys.check(&first, NOW);
        assert_eq!(kind(&replay), Some(FailureKind::BadTime));
        let mut response = unsigned();
        response[2] |= 0x80;
        replay.finish(&mut response, NOW);
        assert_eq!(response[3] & 0x0F, 9, "NOTAUTH");
        assert_eq!(response[10..12], [0, 1], "the TSIG RR with BADTIME");
        // The same second again, and one second back (the slack), pass.
        assert_eq!(kind(&keys.check(&update("home", NOW - 10), NOW)), None);
        assert_eq!(kind(&keys.check(&update("home", NOW - 11), NOW)), None);
        assert_eq!(
            kind(&keys.check(&update("home", NOW - 12), NOW)),
            Some(FailureKind::BadTime)
        );
        // Each key keeps its own time.
        assert_eq!(kind(&keys.check(&update("other", NOW - 50), NOW)), None);
    }

    #[test]
    fn a_failed_request_does_not_move_the_newest_time() {
        let mut keys = keys();
        assert_eq!(kind(&keys.check(&update("home", NOW - 100), NOW)), None);
        // Outside the fudge: BADTIME, and not remembered.
        let future = update("home", NOW + 1000);
        assert_eq!(kind(&keys.check(&future, NOW)), Some(FailureKind::BadTime));
        assert_eq!(kind(&keys.check(&update("home", NOW - 90), NOW)), None);
    }
}
