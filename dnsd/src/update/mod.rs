//! RFC 2136 dynamic UPDATE: message checks, prerequisites, permission and
//! the changes an update makes to one zone. Pure: no I/O; the caller
//! verifies TSIG, finds the zone, applies and journals the [`ChangeSet`].

mod apply;
mod change;
mod message;
mod prereq;
mod response;
pub mod serial;
#[cfg(test)]
mod tests;

pub use change::{ChangeSet, RRsetChange};
pub use message::OPCODE_UPDATE;
pub use response::render_response;

use crate::wire::name::Name;
use crate::wire::query::CLASS_IN;
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::Zone;

/// Who may change what (RFC 2136 §3.3); implemented by the caller from the
/// config. Asked once per update RR with its owner and type; a deletion of
/// all RRsets at a name asks once per type the name owns in the zone (the
/// apex SOA and NS, which stay, excepted), never with type ANY.
pub trait UpdatePolicy {
    fn allows(&self, owner: &Name, rtype: Rtype) -> bool;
}

/// The rcode an UPDATE is answered with when it fails (RFC 2136 §2.2, §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    #[error("FORMERR: malformed update")]
    FormErr,
    #[error("SERVFAIL: server failure")]
    ServFail,
    #[error("NOTIMP: not implemented")]
    NotImp,
    #[error("REFUSED: not allowed")]
    Refused,
    /// Added to the agreed list: the "name is in use" prerequisite fails
    /// with NXDOMAIN (RFC 2136 §2.4.4, §3.2.5).
    #[error("NXDOMAIN: name does not exist when it should")]
    NxDomain,
    #[error("YXDOMAIN: name exists when it should not")]
    YxDomain,
    #[error("YXRRSET: RRset exists when it should not")]
    YxRRset,
    #[error("NXRRSET: RRset does not exist when it should")]
    NxRRset,
    #[error("NOTAUTH: not authoritative for the zone")]
    NotAuth,
    #[error("NOTZONE: name not within the zone")]
    NotZone,
}

impl UpdateError {
    /// The RCODE value (RFC 2136 §2.2, RFC 1035 §4.1.1).
    pub fn rcode(self) -> u8 {
        match self {
            UpdateError::FormErr => 1,
            UpdateError::ServFail => 2,
            UpdateError::NxDomain => 3,
            UpdateError::NotImp => 4,
            UpdateError::Refused => 5,
            UpdateError::YxDomain => 6,
            UpdateError::YxRRset => 7,
            UpdateError::NxRRset => 8,
            UpdateError::NotAuth => 9,
            UpdateError::NotZone => 10,
        }
    }
}

/// The zone named by the zone section (RFC 2136 §3.1.1): ZOCOUNT must be
/// 1, ZTYPE SOA, class IN. Errors → FORMERR.
pub fn zone_of(msg: &[u8]) -> Result<Name, UpdateError> {
    let entry = message::zone_entry(msg)?;
    if entry.ztype != Rtype::SOA || entry.class != CLASS_IN {
        return Err(UpdateError::FormErr);
    }
    Ok(entry.name)
}

/// Checks prerequisites, permission, prescan, then computes the changes
/// against `zone` (RFC 2136 §3.2–3.4, all-or-nothing). `Ok(None)` when
/// the update changes nothing (no serial bump).
///
/// The whole message must parse (FORMERR otherwise); additional records,
/// a TSIG the caller has verified included, are ignored. `zone` must be
/// the zone [`zone_of`] names (NOTAUTH otherwise). Names in `zone` that
/// belong to a more specific zone the server also serves are the caller's
/// to reject (NOTZONE) if it wishes: this function sees one zone.
pub fn process(
    msg: &[u8],
    zone: &Zone,
    policy: &dyn UpdatePolicy,
) -> Result<Option<ChangeSet>, UpdateError> {
    let parsed = message::parse(msg)?;
    if parsed.zone != zone.apex {
        return Err(UpdateError::NotAuth);
    }
    prereq::check(zone, &parsed.prerequisites)?;
    apply::apply(zone, &parsed.updates, policy)
}
