//! The update section: prescan and permission (RFC 2136 §3.3, §3.4.1),
//! then the changes applied in order to a working copy of the names they
//! touch (§3.4.2), and the difference to the zone as a [`ChangeSet`].

use std::collections::HashMap;

use crate::wire::name::Name;
use crate::wire::query::CLASS_IN;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::snapshot::{RRset, SmallList, Zone};

use super::message::{CLASS_ANY, CLASS_NONE, Record};
use super::prereq::node;
use super::{ChangeSet, RRsetChange, UpdateError, UpdatePolicy, serial};

/// Largest TTL kept as sent; larger ones become 0 (RFC 2181 §8), as the
/// master-file loader does.
const MAX_TTL: u32 = 0x7fff_ffff;

/// One update RR, checked and decoded.
enum Op {
    /// Class IN: add to an RRset (RFC 2136 §2.5.1).
    Add(Name, RRset),
    /// Class ANY, type T: delete an RRset (§2.5.2).
    DeleteRRset(Name, Rtype),
    /// Class ANY, type ANY: delete all RRsets from a name (§2.5.3).
    DeleteName(Name),
    /// Class NONE: delete an RR from an RRset (§2.5.4).
    DeleteRr(Name, Rdata),
}

/// Prescan (RFC 2136 §3.4.1.3) and permission (§3.3) of every update RR,
/// before anything is applied: names outside the zone are NOTZONE, bad
/// class/type/TTL/RDATA combinations FORMERR, what `policy` does not allow
/// REFUSED. Per RR in that order, as BIND does.
fn prescan(
    zone: &Zone,
    updates: &[Record],
    policy: &dyn UpdatePolicy,
) -> Result<Vec<Op>, UpdateError> {
    let mut ops = Vec::with_capacity(updates.len());
    for rr in updates {
        if !rr.name.is_subdomain_of(&zone.apex) {
            return Err(UpdateError::NotZone);
        }
        let op = match rr.class {
            // Meta types (ANY, AXFR, IXFR, MAILA, MAILB, OPT, TSIG…) fail
            // to decode: they cannot be stored (RFC 6895 §3.1).
            CLASS_IN => Op::Add(
                rr.name.clone(),
                RRset {
                    rtype: rr.rtype,
                    ttl: if rr.ttl > MAX_TTL { 0 } else { rr.ttl },
                    rdatas: SmallList::one(decode(rr)?),
                },
            ),
            CLASS_ANY => {
                if rr.ttl != 0 || !rr.rdata.is_empty() {
                    return Err(UpdateError::FormErr);
                }
                if rr.rtype == Rtype::ANY {
                    Op::DeleteName(rr.name.clone())
                } else if rr.rtype.is_meta() {
                    return Err(UpdateError::FormErr);
                } else {
                    Op::DeleteRRset(rr.name.clone(), rr.rtype)
                }
            }
            CLASS_NONE => {
                if rr.ttl != 0 {
                    return Err(UpdateError::FormErr);
                }
                Op::DeleteRr(rr.name.clone(), decode(rr)?)
            }
            _ => return Err(UpdateError::FormErr),
        };
        if !permitted(zone, &op, policy) {
            return Err(UpdateError::Refused);
        }
        ops.push(op);
    }
    Ok(ops)
}

fn decode(rr: &Record) -> Result<Rdata, UpdateError> {
    Rdata::from_wire(rr.rtype, &rr.rdata).map_err(|_| UpdateError::FormErr)
}

/// Asks the policy about the owner and type an operation changes. Deleting
/// all RRsets at a name asks about each type the name owns in the zone
/// (the apex SOA and NS, which it keeps, excepted); types an earlier RR of
/// the same update adds were allowed when that RR was checked.
fn permitted(zone: &Zone, op: &Op, policy: &dyn UpdatePolicy) -> bool {
    match op {
        Op::Add(name, rrset) => policy.allows(name, rrset.rtype),
        Op::DeleteRRset(name, rtype) => policy.allows(name, *rtype),
        Op::DeleteRr(name, rdata) => policy.allows(name, rdata.rtype()),
        Op::DeleteName(name) => {
            let at_apex = *name == zone.apex;
            node(zone, name).is_none_or(|n| {
                n.rrsets
                    .iter()
                    .filter(|r| !(at_apex && is_apex_protected(r.rtype)))
                    .all(|r| policy.allows(name, r.rtype))
            })
        }
    }
}

/// The apex types deletions of RRsets or names leave alone (RFC 2136
/// §3.4.2.3).
fn is_apex_protected(rtype: Rtype) -> bool {
    rtype == Rtype::SOA || rtype == Rtype::NS
}

/// Types that may sit next to a CNAME: DNSSEC data (RFC 4035 §2.5).
fn allowed_with_cname(rtype: Rtype) -> bool {
    rtype == Rtype::RRSIG || rtype == Rtype::NSEC
}

/// A name the update touches: its RRsets as the update goes along.
struct Working {
    /// The owner as stored in the zone, or as first sent if new.
    owner: Name,
    rrsets: Vec<RRset>,
}

/// The working copy: the names touched so far ([`Name`] hashes and
/// compares ignoring case).
struct Overlay<'z> {
    zone: &'z Zone,
    names: HashMap<Name, Working>,
}

impl<'z> Overlay<'z> {
    fn new(zone: &'z Zone) -> Overlay<'z> {
        Overlay {
            zone,
            names: HashMap::new(),
        }
    }

    /// The working RRsets of `name`, copied from the zone on first use.
    fn rrsets(&mut self, name: &Name) -> &mut Vec<RRset> {
        let zone = self.zone;
        &mut self
            .names
            .entry(name.clone())
            .or_insert_with(|| match node(zone, name) {
                Some(n) => Working {
                    owner: n.name.clone(),
                    rrsets: n.rrsets.to_vec(),
                },
                None => Working {
                    owner: name.clone(),
                    rrsets: Vec::new(),
                },
            })
            .rrsets
    }

    /// RFC 2136 §3.4.2.2: add an RR, keeping the CNAME rules.
    fn add(&mut self, name: &Name, new: RRset) {
        let at_apex = *name == self.zone.apex;
        let rrsets = self.rrsets(name);
        let rtype = new.rtype;
        let Some(rdata) = new.rdatas.first().cloned() else {
            return;
        };
        // A CNAME does not join other data, nor other data a CNAME
        // (RFC 2136 §3.4.2.2, RFC 2181 §10.1); such RRs are ignored.
        if rtype == Rtype::CNAME {
            if rrsets
                .iter()
                .any(|r| r.rtype != Rtype::CNAME && !allowed_with_cname(r.rtype))
            {
                return;
            }
        } else if !allowed_with_cname(rtype) && rrsets.iter().any(|r| r.rtype == Rtype::CNAME) {
            return;
        }
        let existing = rrsets.iter_mut().find(|r| r.rtype == rtype);
        match existing {
            // SOA: only at the apex, and only with a serial not older
            // (RFC 2136 §3.4.2.2, RFC 1982); replaces the SOA.
            Some(soa) if rtype == Rtype::SOA => {
                let (Some(Rdata::Soa(old)), Rdata::Soa(sent)) = (soa.rdatas.first(), &rdata) else {
                    return;
                };
                if at_apex && !serial::newer(old.serial, sent.serial) {
                    *soa = new;
                }
            }
            None if rtype == Rtype::SOA => {}
            // A CNAME RRset holds one RR: a new one replaces it.
            Some(cname) if rtype == Rtype::CNAME => *cname = new,
            Some(set) => {
                // The RRset takes the TTL of the added RR (RFC 2181 §5.2);
                // a duplicate RR is not added again.
                set.ttl = new.ttl;
                if !set.rdatas.iter().any(|r| r.dedup_eq(&rdata)) {
                    set.rdatas.push(rdata);
                }
            }
            None => {
                let at = rrsets.partition_point(|r| r.rtype < rtype);
                rrsets.insert(at, new);
            }
        }
    }

    /// RFC 2136 §3.4.2.3: delete an RRset; the apex SOA and NS stay.
    fn delete_rrset(&mut self, name: &Name, rtype: Rtype) {
        if *name == self.zone.apex && is_apex_protected(rtype) {
            return;
        }
        self.rrsets(name).retain(|r| r.rtype != rtype);
    }

    /// RFC 2136 §3.4.2.3: delete all RRsets at a name; at the apex, the
    /// SOA and NS stay.
    fn delete_name(&mut self, name: &Name) {
        let at_apex = *name == self.zone.apex;
        self.rrsets(name)
            .retain(|r| at_apex && is_apex_protected(r.rtype));
    }

    /// RFC 2136 §3.4.2.4: delete one RR. SOA deletions are ignored, and so
    /// is deleting the last NS of the apex.
    fn delete_rr(&mut self, name: &Name, rdata: &Rdata) {
        let rtype = rdata.rtype();
        if rtype == Rtype::SOA {
            return;
        }
        let at_apex = *name == self.zone.apex;
        let rrsets = self.rrsets(name);
        let Some(i) = rrsets.iter().position(|r| r.rtype == rtype) else {
            return;
        };
        let set = &mut rrsets[i];
        if at_apex && rtype == Rtype::NS && set.rdatas.len() == 1 {
            return;
        }
        let kept: Vec<Rdata> = set
            .rdatas
            .iter()
            .filter(|r| !r.dedup_eq(rdata))
            .cloned()
            .collect();
        if kept.is_empty() {
            rrsets.remove(i);
        } else {
            set.rdatas = SmallList::from(kept);
        }
    }

    /// The RRsets that differ from the zone's, in canonical order of owner
    /// then type.
    fn changes(&self) -> Vec<RRsetChange> {
        let mut out = Vec::new();
        for (name, working) in &self.names {
            let before: &[RRset] = node(self.zone, name).map_or(&[], |n| &n.rrsets);
            let mut types: Vec<Rtype> = before
                .iter()
                .chain(working.rrsets.iter())
                .map(|r| r.rtype)
                .collect();
            types.sort_unstable();
            types.dedup();
            for rtype in types {
                let old = before.iter().find(|r| r.rtype == rtype);
                let new = working.rrsets.iter().find(|r| r.rtype == rtype);
                if !RRset::same(old, new) {
                    out.push(RRsetChange {
                        owner: working.owner.clone(),
                        rtype,
                        before: old.cloned(),
                        after: new.cloned(),
                    });
                }
            }
        }
        out.sort_by(|a, b| a.owner.cmp(&b.owner).then(a.rtype.cmp(&b.rtype)));
        out
    }
}

/// Prescan, permission and application of the update section; `None`
/// when nothing changes. The SOA serial moves forward by one unless the
/// update itself set a newer one (RFC 2136 §3.6, RFC 1982).
pub fn apply(
    zone: &Zone,
    updates: &[Record],
    policy: &dyn UpdatePolicy,
) -> Result<Option<ChangeSet>, UpdateError> {
    let ops = prescan(zone, updates, policy)?;
    let mut overlay = Overlay::new(zone);
    for op in ops {
        match op {
            Op::Add(name, rrset) => overlay.add(&name, rrset),
            Op::DeleteRRset(name, rtype) => overlay.delete_rrset(&name, rtype),
            Op::DeleteName(name) => overlay.delete_name(&name),
            Op::DeleteRr(name, rdata) => overlay.delete_rr(&name, &rdata),
        }
    }
    let mut changes = overlay.changes();
    if changes.is_empty() {
        return Ok(None);
    }
    let serial_before = zone.serial();
    let sent_serial = soa_of(overlay.rrsets(&zone.apex)).map(|s| s.serial);
    let serial_after = match sent_serial {
        Some(s) if serial::newer(s, serial_before) => s,
        _ => {
            let bumped = serial::next(serial_before);
            let soa_set = overlay
                .rrsets(&zone.apex)
                .iter_mut()
                .find(|r| r.rtype == Rtype::SOA)
                .ok_or(UpdateError::ServFail)?;
            if let Some(Rdata::Soa(soa)) = soa_set.rdatas.first_mut() {
                soa.serial = bumped;
            }
            changes = overlay.changes();
            bumped
        }
    };
    Ok(Some(ChangeSet {
        zone: zone.apex.clone(),
        serial_before,
        serial_after,
        changes,
    }))
}

fn soa_of(rrsets: &[RRset]) -> Option<&crate::wire::rdata::Soa> {
    match rrsets
        .iter()
        .find(|r| r.rtype == Rtype::SOA)?
        .rdatas
        .first()
    {
        Some(Rdata::Soa(soa)) => Some(soa),
        _ => None,
    }
}
