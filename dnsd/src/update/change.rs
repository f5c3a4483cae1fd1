//! What an UPDATE changes: RRsets before and after, per zone.

use crate::wire::name::Name;
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::RRset;

/// One RRset before and after an update: the unit of the journal and of
/// later IXFR (RFC 1995).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRsetChange {
    pub owner: Name,
    pub rtype: Rtype,
    pub before: Option<RRset>,
    pub after: Option<RRset>,
}

/// Everything one UPDATE message changes in one zone, SOA serial bump
/// included (as an [`RRsetChange`] of the SOA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSet {
    pub zone: Name,
    pub serial_before: u32,
    pub serial_after: u32,
    pub changes: Vec<RRsetChange>,
}
