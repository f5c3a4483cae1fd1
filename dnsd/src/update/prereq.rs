//! The prerequisite section (RFC 2136 §2.4, §3.2), checked against the zone
//! as it is before the update. Names are matched literally: no wildcard
//! expansion (RFC 2136 §2.4: "names are not expanded").

use crate::wire::name::Name;
use crate::wire::query::CLASS_IN;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::snapshot::{Node, Zone};

use super::UpdateError;
use super::message::{CLASS_ANY, CLASS_NONE, Record};

/// The zone's node for `name`, if it has one.
pub fn node<'z>(zone: &'z Zone, name: &Name) -> Option<&'z Node> {
    zone.node(name.to_lowercase().as_wire())
}

/// A name is in use when it owns at least one RR; an empty non-terminal
/// does not (RFC 2136 §2.4.4).
fn in_use(zone: &Zone, name: &Name) -> bool {
    node(zone, name).is_some_and(|n| !n.rrsets.is_empty())
}

fn has_rrset(zone: &Zone, name: &Name, rtype: Rtype) -> bool {
    node(zone, name).is_some_and(|n| n.rrset(rtype).is_some())
}

/// Checks every prerequisite (RFC 2136 §3.2.5 pseudocode, in order), then
/// the value-dependent ones as whole RRsets (§2.4.2, §3.2.3).
pub fn check(zone: &Zone, prerequisites: &[Record]) -> Result<(), UpdateError> {
    // (owner, type, RDATAs) of the class IN prerequisites, RRset by RRset.
    let mut expected: Vec<(&Name, Rtype, Vec<Rdata>)> = Vec::new();
    for rr in prerequisites {
        if rr.ttl != 0 {
            return Err(UpdateError::FormErr);
        }
        if !rr.name.is_subdomain_of(&zone.apex) {
            return Err(UpdateError::NotZone);
        }
        match rr.class {
            CLASS_ANY | CLASS_NONE => {
                if !rr.rdata.is_empty() {
                    return Err(UpdateError::FormErr);
                }
                let exists = if rr.rtype == Rtype::ANY {
                    in_use(zone, &rr.name)
                } else if rr.rtype.is_meta() {
                    // Not a type RRsets can have (RFC 6895 §3.1).
                    return Err(UpdateError::FormErr);
                } else {
                    has_rrset(zone, &rr.name, rr.rtype)
                };
                match (rr.class == CLASS_ANY, rr.rtype == Rtype::ANY, exists) {
                    (true, true, false) => return Err(UpdateError::NxDomain),
                    (true, false, false) => return Err(UpdateError::NxRRset),
                    (false, true, true) => return Err(UpdateError::YxDomain),
                    (false, false, true) => return Err(UpdateError::YxRRset),
                    _ => {}
                }
            }
            CLASS_IN => {
                let rdata =
                    Rdata::from_wire(rr.rtype, &rr.rdata).map_err(|_| UpdateError::FormErr)?;
                match expected
                    .iter_mut()
                    .find(|(name, t, _)| *t == rr.rtype && **name == rr.name)
                {
                    Some((_, _, set)) => {
                        if !set.iter().any(|r| r.dedup_eq(&rdata)) {
                            set.push(rdata);
                        }
                    }
                    None => expected.push((&rr.name, rr.rtype, vec![rdata])),
                }
            }
            _ => return Err(UpdateError::FormErr),
        }
    }
    for (name, rtype, set) in &expected {
        let Some(rrset) = node(zone, name).and_then(|n| n.rrset(*rtype)) else {
            return Err(UpdateError::NxRRset);
        };
        let same = rrset.rdatas.len() == set.len()
            && set
                .iter()
                .all(|r| rrset.rdatas.iter().any(|z| z.dedup_eq(r)));
        if !same {
            return Err(UpdateError::NxRRset);
        }
    }
    Ok(())
}
