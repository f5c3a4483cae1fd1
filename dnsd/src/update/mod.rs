//! RFC 2136 dynamic UPDATE: message checks, prerequisites, permission and
//! the changes an update makes to one zone. Pure: no I/O; the caller
//! verifies TSIG, finds the zone, applies and journals the [`ChangeSet`].

mod change;

pub use change::{ChangeSet, RRsetChange};

use crate::wire::name::Name;
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::Zone;

/// Who may change what (RFC 2136 §3.3); implemented by the caller from the
/// config.
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
pub fn zone_of(_msg: &[u8]) -> Result<Name, UpdateError> {
    Err(UpdateError::NotImp)
}

/// Checks prerequisites, permission, prescan, then computes the changes
/// against `zone` (RFC 2136 §3.2–3.4, all-or-nothing). `Ok(None)` when
/// the update changes nothing (no serial bump).
pub fn process(
    _msg: &[u8],
    _zone: &Zone,
    _policy: &dyn UpdatePolicy,
) -> Result<Option<ChangeSet>, UpdateError> {
    Err(UpdateError::NotImp)
}

/// The UPDATE response (RFC 2136 §3.8): same ID, QR=1, opcode UPDATE,
/// rcode, the zone section echoed (when it parsed), other sections empty.
/// No TSIG (the caller appends it).
pub fn render_response(_msg: &[u8], _result: Result<(), UpdateError>, _out: &mut Vec<u8>) {}
