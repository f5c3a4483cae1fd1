//! TSIG (RFC 8945): checking signed requests and signing their responses.
//!
//! Pure functions over message bytes, no I/O; `now` is always passed in
//! (seconds since the epoch), so that callers and tests control the clock.
//! Checklist items 66–69 (authoritative-checklist.md §11).

mod key;
mod mac;
mod record;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

pub use key::{Algorithm, Key, KeyRing, TsigConfigError, decode_secret};

use mac::MacState;
use record::{ARCOUNT_AT, TsigRecord, Variables};

use crate::wire::name::Name;

/// RCODE NOTAUTH (RFC 8945 §5.2: every TSIG error is answered with it).
pub const RCODE_NOTAUTH: u8 = 9;
/// RCODE FORMERR.
pub const RCODE_FORMERR: u8 = 1;

/// TSIG error codes carried in the TSIG RR (RFC 8945 §3).
pub mod error {
    pub const BADSIG: u16 = 16;
    pub const BADKEY: u16 = 17;
    pub const BADTIME: u16 = 18;
    pub const BADTRUNC: u16 = 22;
}

/// A request whose TSIG verified: what signing its response needs.
#[derive(Clone, Debug)]
pub struct Verified {
    pub key_name: Name,
    key: Arc<Key>,
    /// The MAC as received (truncated if it was), which the response
    /// MAC covers (RFC 8945 §5.2.2.1 rule 4, §5.3).
    request_mac: Vec<u8>,
    time_signed: u64,
    fudge: u16,
    /// Length of the request without its TSIG RR.
    unsigned_len: usize,
}

impl Verified {
    pub fn algorithm(&self) -> Algorithm {
        self.key.algorithm
    }

    /// The request's Time Signed (Unix seconds).
    pub fn time_signed(&self) -> u64 {
        self.time_signed
    }

    /// Length of the request without its TSIG RR: `msg[..len]`, with
    /// ARCOUNT one less, is the message the MAC covered.
    pub fn unsigned_len(&self) -> usize {
        self.unsigned_len
    }

    /// Bytes [`sign_response`] appends, so that a UDP answer can leave room
    /// for its TSIG: the signature must survive truncation (RFC 8945 §5.3).
    pub fn response_tsig_len(&self) -> usize {
        // Owner, type, class, TTL, RDLENGTH; algorithm, time 6, fudge 2,
        // MAC size 2, MAC, original ID 2, error 2, other len 2.
        let alg = self.key.algorithm;
        self.key.name.wire_len() + 10 + alg.wire_name().len() + 16 + alg.output_len()
    }
}

/// What went wrong, and so how the request is answered (RFC 8945 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// TSIG misplaced, duplicated, malformed, or a MAC size the RFC
    /// forbids (§5.2, §5.2.2.1 rules 1 and 3): FORMERR, no TSIG.
    FormErr,
    /// Unknown key or algorithm (§5.2.1): NOTAUTH, unsigned BADKEY.
    BadKey,
    /// MAC mismatch (§5.2.2): NOTAUTH, unsigned BADSIG.
    BadSig,
    /// Valid MAC, time outside the fudge (§5.2.3): NOTAUTH, signed BADTIME.
    BadTime,
}

/// A request whose TSIG did not verify.
#[derive(Clone, Debug)]
pub struct TsigFailure {
    kind: FailureKind,
    /// The request's TSIG RR, echoed in BADKEY/BADSIG answers.
    record: Option<TsigRecord>,
    /// For BADTIME: the key that did verify the MAC signs the answer.
    signer: Option<Verified>,
}

impl TsigFailure {
    fn formerr() -> TsigFailure {
        TsigFailure {
            kind: FailureKind::FormErr,
            record: None,
            signer: None,
        }
    }

    fn unsigned(kind: FailureKind, record: TsigRecord) -> TsigFailure {
        TsigFailure {
            kind,
            record: Some(record),
            signer: None,
        }
    }

    /// BADTIME for a request that verified but is older than one the
    /// server already accepted under its key: a replay (RFC 8945 §5.2.3).
    /// Signed with the key, as every BADTIME answer.
    pub fn replayed(verified: Verified) -> TsigFailure {
        TsigFailure {
            kind: FailureKind::BadTime,
            record: None,
            signer: Some(verified),
        }
    }

    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The RCODE the response carries.
    pub fn rcode(&self) -> u8 {
        match self.kind {
            FailureKind::FormErr => RCODE_FORMERR,
            _ => RCODE_NOTAUTH,
        }
    }

    /// The TSIG error code the response's TSIG RR carries, if it has one.
    pub fn tsig_error(&self) -> Option<u16> {
        match self.kind {
            FailureKind::FormErr => None,
            FailureKind::BadKey => Some(error::BADKEY),
            FailureKind::BadSig => Some(error::BADSIG),
            FailureKind::BadTime => Some(error::BADTIME),
        }
    }

    /// The key name the request claimed, for the log.
    pub fn key_name(&self) -> Option<&Name> {
        self.record
            .as_ref()
            .map(|r| &r.key_name)
            .or(self.signer.as_ref().map(|v| &v.key_name))
    }
}

impl fmt::Display for TsigFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            FailureKind::FormErr => "malformed or misplaced TSIG",
            FailureKind::BadKey => "BADKEY",
            FailureKind::BadSig => "BADSIG",
            FailureKind::BadTime => "BADTIME",
        };
        match self.key_name() {
            Some(k) => write!(f, "{what} (key {k})"),
            None => f.write_str(what),
        }
    }
}

/// The outcome of checking a request's TSIG (RFC 8945 §5.2).
#[derive(Clone, Debug)]
pub enum Checked {
    Unsigned,
    Signed(Verified),
    Failed(TsigFailure),
}

/// Checks the TSIG RR if the message's last additional record is one.
/// `now` = seconds since epoch. Order as RFC 8945 §5.2: placement, key,
/// MAC size, MAC, then time. Never panics, whatever the bytes.
pub fn check_request(msg: &[u8], keys: &KeyRing, now: u64) -> Checked {
    let rec = match record::find(msg) {
        Ok(Some(rec)) => rec,
        Ok(None) => return Checked::Unsigned,
        Err(record::Misplaced) => return Checked::Failed(TsigFailure::formerr()),
    };
    // §5.2.1: key name and algorithm must both match a configured key.
    let key = match (
        keys.get(&rec.key_name),
        Algorithm::from_wire_name(&rec.algorithm),
    ) {
        (Some(key), Some(alg)) if key.algorithm == alg => key.clone(),
        _ => return Checked::Failed(TsigFailure::unsigned(FailureKind::BadKey, rec)),
    };
    // §5.2.2.1 rules 1 and 3: longer than the hash or shorter than
    // max(10, half the hash) is FORMERR. Every length the RFC allows is
    // accepted, so BADTRUNC (§5.2.4, a stricter local policy) never arises.
    let alg = key.algorithm;
    if rec.mac.len() > alg.output_len() || rec.mac.len() < alg.min_mac_len() {
        return Checked::Failed(TsigFailure::formerr());
    }
    let Some(mut state) = MacState::new(&key) else {
        return Checked::Failed(TsigFailure::unsigned(FailureKind::BadKey, rec));
    };
    // §4.3.3: the request with the original ID, ARCOUNT less the TSIG,
    // then the TSIG variables.
    let Some(body) = msg.get(..rec.start).filter(|b| b.len() >= 12) else {
        return Checked::Failed(TsigFailure::formerr());
    };
    let mut header = [0u8; 12];
    header.copy_from_slice(&body[..12]);
    header[..2].copy_from_slice(&rec.original_id.to_be_bytes());
    let arcount = u16::from_be_bytes([header[ARCOUNT_AT], header[ARCOUNT_AT + 1]]);
    header[ARCOUNT_AT..ARCOUNT_AT + 2].copy_from_slice(&arcount.saturating_sub(1).to_be_bytes());
    state.update(&header);
    state.update(&body[12..]);
    state.update(
        &Variables {
            key_name: &rec.key_name,
            algorithm: alg.wire_name(),
            time_signed: rec.time_signed,
            fudge: rec.fudge,
            error: rec.error,
            other: &rec.other,
        }
        .digest_form(),
    );
    if !state.verify(&rec.mac) {
        return Checked::Failed(TsigFailure::unsigned(FailureKind::BadSig, rec));
    }
    let verified = Verified {
        key_name: key.name.clone(),
        key,
        request_mac: rec.mac.clone(),
        time_signed: rec.time_signed,
        fudge: rec.fudge,
        unsigned_len: rec.start,
    };
    // §5.2.3: the time is checked only once the MAC is known good.
    if now.abs_diff(rec.time_signed) > u64::from(rec.fudge) {
        return Checked::Failed(TsigFailure {
            kind: FailureKind::BadTime,
            record: Some(rec),
            signer: Some(verified),
        });
    }
    Checked::Signed(verified)
}

/// Appends a TSIG RR signing `response` (RFC 8945 §5.3) and fixes ARCOUNT.
/// `response` is the complete answer to the verified request, same ID.
pub fn sign_response(v: &Verified, response: &mut Vec<u8>, now: u64) {
    sign(v, response, now, 0, &[]);
}

/// Turns `response` (already rendered with rcode NOTAUTH, or FORMERR) into
/// the RFC 8945 §5.2 error answer: TSIG RR with error BADKEY/BADSIG
/// (unsigned, MAC empty, §5.3.2) or BADTIME (signed, other data = server
/// time, §5.2.3). A FORMERR gets no TSIG RR. The RCODE is set to
/// [`TsigFailure::rcode`].
pub fn finish_error_response(f: &TsigFailure, response: &mut Vec<u8>, now: u64) {
    let Some(flags) = response.get_mut(3) else {
        return;
    };
    *flags = (*flags & 0xF0) | f.rcode();
    let Some(tsig_error) = f.tsig_error() else {
        return;
    };
    if let Some(signer) = &f.signer {
        // The request's Time Signed is echoed and the server's own time
        // goes into Other Data, so the client can see the skew (BIND and
        // Knot do the same).
        let t = signer.time_signed;
        sign(signer, response, t, tsig_error, &record::time48(now));
    } else if let Some(rec) = &f.record {
        let id = message_id(response);
        Variables {
            key_name: &rec.key_name,
            algorithm: rec.algorithm.as_wire(),
            time_signed: rec.time_signed,
            fudge: rec.fudge,
            error: tsig_error,
            other: &[],
        }
        .append_to(response, &[], id);
    }
}

/// Signs a request as a client does (RFC 8945 §5.1): appends the TSIG RR
/// (time `now`, the given fudge, Original ID = the message ID) and fixes
/// ARCOUNT. Returns the MAC, which the response's MAC covers; `None` (and
/// `msg` unchanged) if `msg` is shorter than a header or ARCOUNT is full.
/// For test clients and tools; the server only verifies and answers.
pub fn sign_request(key: &Key, msg: &mut Vec<u8>, now: u64, fudge: u16) -> Option<Vec<u8>> {
    let mut state = MacState::new(key)?;
    let vars = Variables {
        key_name: &key.name,
        algorithm: key.algorithm.wire_name(),
        time_signed: now,
        fudge,
        error: 0,
        other: &[],
    };
    state.update(msg.get(..12)?);
    state.update(&msg[12..]);
    state.update(&vars.digest_form());
    let mac = state.finalize();
    let id = message_id(msg);
    vars.append_to(msg, &mac, id).then_some(mac)
}

/// Signs `response` for the request `v` verified: the MAC covers the
/// request MAC (length-prefixed), the response, and the TSIG variables
/// (RFC 8945 §4.3.1, §4.3.3).
fn sign(v: &Verified, response: &mut Vec<u8>, time_signed: u64, tsig_error: u16, other: &[u8]) {
    if response.len() < 12 {
        return;
    }
    let Some(mut state) = MacState::new(&v.key) else {
        return;
    };
    let vars = Variables {
        key_name: &v.key.name,
        algorithm: v.key.algorithm.wire_name(),
        time_signed,
        fudge: v.fudge,
        error: tsig_error,
        other,
    };
    state.update(&(v.request_mac.len() as u16).to_be_bytes());
    state.update(&v.request_mac);
    state.update(response);
    state.update(&vars.digest_form());
    let mac = state.finalize();
    let id = message_id(response);
    vars.append_to(response, &mac, id);
}

fn message_id(msg: &[u8]) -> u16 {
    match msg {
        [a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}
