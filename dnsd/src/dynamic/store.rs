//! Applying [`ChangeSet`]s to a [`Snapshot`]: the changed zone is rebuilt
//! through the zone compiler (so every check of a loaded zone holds for an
//! updated one too) and spliced into a copy of the snapshot; the other
//! zones are copied unchanged.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::update::{ChangeSet, serial};
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::compile::ZoneBuilder;
use crate::zone::snapshot::{RRset, SharedZone, Snapshot, Zone};
use crate::zone::source::{Diagnostic, Origin, Severity, SourceRecord};

/// Why changes cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("zone {0} is not served")]
    NoZone(Name),
    /// Answers of the zone depend on the client's address or on the clock
    /// (tinydns locations, timestamps): a rebuilt copy could not keep that.
    #[error("zone {0} has tinydns location or timestamp data; dynamic updates are refused")]
    Unsupported(Name),
    /// The zone compiler rejected the result (a bug in the update checks,
    /// or a journal that no longer fits its source).
    #[error("zone {zone} would not compile after the change: {}", first_error(.diagnostics))]
    Invalid {
        zone: Name,
        diagnostics: Vec<Diagnostic>,
    },
}

fn first_error(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .find(|d| d.severity == Severity::Error)
        .map_or_else(String::new, ToString::to_string)
}

/// A journaled change whose `before` is not what the zone holds: the
/// source file changed underneath. The journaled `after` is applied anyway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub zone: Name,
    pub owner: Name,
    pub rtype: Rtype,
}

/// The snapshot with `changes` applied in order to the zone they name
/// (all must name the same zone), plus the conflicts found on the way.
/// With `replay`, the SOA follows [`replay_soa`]; otherwise the last
/// change's SOA is taken as it is.
pub fn apply(
    snapshot: &Snapshot,
    changes: &[ChangeSet],
    replay: bool,
) -> Result<(Snapshot, Vec<Conflict>), StoreError> {
    let Some(first) = changes.first() else {
        return Ok((snapshot.clone(), Vec::new()));
    };
    let apex = &first.zone;
    let key: Box<[u8]> = apex.to_lowercase().as_wire().into();
    let zone = snapshot
        .apexes
        .get(&key)
        .and_then(|&i| snapshot.zones.get(i))
        .ok_or_else(|| StoreError::NoZone(apex.clone()))?;
    if zone.client_dependent || zone.time_dependent {
        return Err(StoreError::Unsupported(apex.clone()));
    }
    let (zone, conflicts) = rebuild(zone, changes, replay)?;
    let zone = SharedZone::from(zone);
    // Copies one pointer per zone, not the zones.
    let mut out = snapshot.clone();
    splice(&mut out, &key, &zone);
    // Views of tinydns locations hold their own copy of every zone.
    for (_, view) in &mut out.location_views {
        let mut v = (**view).clone();
        splice(&mut v, &key, &zone);
        *view = Arc::new(v);
    }
    Ok((out, conflicts))
}

fn splice(snapshot: &mut Snapshot, key: &[u8], zone: &SharedZone) {
    if let Some(slot) = snapshot
        .apexes
        .get(key)
        .copied()
        .and_then(|i| snapshot.zones.get_mut(i))
    {
        *slot = zone.clone();
    }
}

/// One RRset in the overlay: the owner as written and the new contents.
type Overlay = HashMap<(Box<[u8]>, Rtype), (Name, Option<RRset>)>;

/// `zone` with `changes` applied, recompiled.
fn rebuild(
    zone: &Zone,
    changes: &[ChangeSet],
    replay: bool,
) -> Result<(Zone, Vec<Conflict>), StoreError> {
    let mut overlay: Overlay = HashMap::new();
    let mut conflicts = Vec::new();
    for cs in changes {
        for c in &cs.changes {
            let key = (Box::from(c.owner.to_lowercase().as_wire()), c.rtype);
            let current = match overlay.get(&key) {
                Some((_, set)) => set.as_ref(),
                None => zone.node(&key.0).and_then(|n| n.rrset(c.rtype)),
            };
            // The SOA's serial moves on every update; its history is not a
            // conflict.
            if c.rtype != Rtype::SOA && !RRset::same(current, c.before.as_ref()) {
                conflicts.push(Conflict {
                    zone: zone.apex.clone(),
                    owner: c.owner.clone(),
                    rtype: c.rtype,
                });
            }
            overlay.insert(key, (c.owner.clone(), c.after.clone()));
        }
    }
    if replay {
        replay_soa(zone, changes, &mut overlay);
    }
    let file: Arc<Path> = Arc::from(zone.source.as_path());
    let origin = Origin::new(&file, 0);
    let mut builder = ZoneBuilder::new(zone.apex.clone(), zone.wildcards, zone.source.clone());
    let record = |owner: &Name, ttl: u32, rdata: &Rdata| SourceRecord {
        owner: owner.clone(),
        ttl,
        rdata: rdata.clone(),
        origin: origin.clone(),
        tiny: None,
    };
    for node in zone.nodes() {
        let lower: Box<[u8]> = node.name.to_lowercase().as_wire().into();
        for set in node.rrsets.iter() {
            if overlay.contains_key(&(lower.clone(), set.rtype)) {
                continue;
            }
            for rd in set.rdatas.iter() {
                builder.add(record(&node.name, set.ttl, rd));
            }
        }
    }
    for (owner, set) in overlay.values() {
        if let Some(set) = set {
            for rd in set.rdatas.iter() {
                builder.add(record(owner, set.ttl, rd));
            }
        }
    }
    let (built, diagnostics) = builder.finish();
    match built {
        Some(z) if !diagnostics.iter().any(|d| d.severity == Severity::Error) => Ok((z, conflicts)),
        _ => Err(StoreError::Invalid {
            zone: zone.apex.clone(),
            diagnostics,
        }),
    }
}

/// The SOA after a replay: the source's SOA when its serial is newer
/// (RFC 1982) than the last journaled one (the operator edited the file
/// and bumped the serial), otherwise the last journaled SOA, whose serial
/// is then at least the source's.
fn replay_soa(zone: &Zone, changes: &[ChangeSet], overlay: &mut Overlay) {
    let Some(last) = changes.last() else {
        return;
    };
    if serial::newer(zone.serial(), last.serial_after) {
        overlay.retain(|(_, rtype), _| *rtype != Rtype::SOA);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::WildcardMode;
    use crate::update::RRsetChange;
    use crate::zone::compile::{ZoneInput, compile_inputs};
    use crate::zone::master;
    use crate::zone::snapshot::SmallList;

    const ZONE: &str = "\
$TTL 300
@         SOA ns1 hostmaster 10 7200 900 1209600 300
@         NS  ns1
ns1       A   198.18.0.53
subspace  A   198.18.0.1
*         CNAME subspace
other.sub TXT \"x\"
";

    fn name(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    pub(crate) fn snapshot(text: &str) -> Snapshot {
        snapshot_of(&[("example.info", text)])
    }

    /// One zone per `(apex, master-file text)`, in order.
    fn snapshot_of(zones: &[(&str, &str)]) -> Snapshot {
        let inputs = zones
            .iter()
            .map(|&(apex, text)| {
                let apex = name(apex);
                let source = format!("{apex}.zone");
                let file: Arc<Path> = Arc::from(Path::new(&source));
                let parsed = master::parse(text, &file, &apex, 300);
                assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
                ZoneInput {
                    apex,
                    records: parsed.records,
                    wildcards: WildcardMode::Rfc4592,
                    source: source.into(),
                }
            })
            .collect();
        compile_inputs(inputs, Vec::new()).unwrap().snapshot
    }

    fn a(ttl: u32, addr: [u8; 4]) -> RRset {
        RRset {
            rtype: Rtype::A,
            ttl,
            rdatas: SmallList::one(Rdata::A(addr.into())),
        }
    }

    fn soa_of(snap: &Snapshot, serial: u32) -> RRset {
        let mut set = snap.zones[0].soa_rrset().clone();
        if let Some(Rdata::Soa(s)) = set.rdatas.first_mut() {
            s.serial = serial;
        }
        set
    }

    /// Changes subspace's A from `before` (TTL 300 as in the source, 60
    /// once changed) to `after` (TTL 60).
    fn set_a(snap: &Snapshot, serial: u32, before: [u8; 4], after: [u8; 4]) -> ChangeSet {
        let before_ttl = if before == [198, 18, 0, 1] { 300 } else { 60 };
        ChangeSet {
            zone: name("example.info"),
            serial_before: serial,
            serial_after: serial + 1,
            changes: vec![
                RRsetChange {
                    owner: name("subspace.example.info"),
                    rtype: Rtype::A,
                    before: Some(a(before_ttl, before)),
                    after: Some(a(60, after)),
                },
                RRsetChange {
                    owner: name("example.info"),
                    rtype: Rtype::SOA,
                    before: Some(soa_of(snap, serial)),
                    after: Some(soa_of(snap, serial + 1)),
                },
            ],
        }
    }

    fn a_of(snap: &Snapshot, owner: &str) -> Option<RRset> {
        let z = &snap.zones[0];
        z.node(name(owner).to_lowercase().as_wire())
            .and_then(|n| n.rrset(Rtype::A))
            .cloned()
    }

    #[test]
    fn applies_a_change_and_keeps_the_rest() {
        let snap = snapshot(ZONE);
        let cs = set_a(&snap, 10, [198, 18, 0, 1], [198, 18, 0, 2]);
        let (new, conflicts) = apply(&snap, &[cs], false).unwrap();
        assert!(conflicts.is_empty());
        assert_eq!(new.zones[0].serial(), 11);
        assert_eq!(
            a_of(&new, "subspace.example.info"),
            Some(a(60, [198, 18, 0, 2]))
        );
        assert_eq!(
            a_of(&new, "ns1.example.info"),
            a_of(&snap, "ns1.example.info")
        );
        assert_eq!(new.zones[0].records, snap.zones[0].records);
        // The empty non-terminal `sub` still exists.
        assert!(
            new.zones[0]
                .node(name("sub.example.info").as_wire())
                .is_some()
        );
        // The old snapshot is untouched.
        assert_eq!(snap.zones[0].serial(), 10);
    }

    #[test]
    fn an_update_shares_the_other_zones() {
        let other = "@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 198.18.0.54\n";
        let snap = snapshot_of(&[("example.info", ZONE), ("example.net", other)]);
        let cs = set_a(&snap, 10, [198, 18, 0, 1], [198, 18, 0, 2]);
        let (new, _) = apply(&snap, &[cs], false).unwrap();
        // The untouched zone is the same allocation, not a copy.
        assert!(std::ptr::eq::<Zone>(&*new.zones[1], &*snap.zones[1]));
        assert!(!std::ptr::eq::<Zone>(&*new.zones[0], &*snap.zones[0]));
        assert_eq!(new.zones[0].serial(), 11);
    }

    #[test]
    fn deleting_and_adding_names() {
        let snap = snapshot(ZONE);
        let cs = ChangeSet {
            zone: name("example.info"),
            serial_before: 10,
            serial_after: 11,
            changes: vec![
                RRsetChange {
                    owner: name("other.sub.example.info"),
                    rtype: Rtype::TXT,
                    before: a_of(&snap, "x"),
                    after: None,
                },
                RRsetChange {
                    owner: name("new.deep.example.info"),
                    rtype: Rtype::A,
                    before: None,
                    after: Some(a(5, [198, 18, 1, 1])),
                },
            ],
        };
        let (new, conflicts) = apply(&snap, &[cs], false).unwrap();
        // `before` of the TXT change was wrong on purpose: a conflict.
        assert_eq!(conflicts.len(), 1);
        assert_eq!(conflicts[0].rtype, Rtype::TXT);
        let z = &new.zones[0];
        assert!(z.node(name("other.sub.example.info").as_wire()).is_none());
        assert!(z.node(name("sub.example.info").as_wire()).is_none());
        assert!(z.node(name("deep.example.info").as_wire()).is_some());
        assert_eq!(
            a_of(&new, "new.deep.example.info"),
            Some(a(5, [198, 18, 1, 1]))
        );
    }

    #[test]
    fn an_invalid_result_is_refused() {
        let snap = snapshot(ZONE);
        let cs = ChangeSet {
            zone: name("example.info"),
            serial_before: 10,
            serial_after: 11,
            changes: vec![RRsetChange {
                owner: name("example.info"),
                rtype: Rtype::SOA,
                before: Some(soa_of(&snap, 10)),
                after: None,
            }],
        };
        let e = apply(&snap, &[cs], false).unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{e}");
        let other = ChangeSet {
            zone: name("example.org"),
            ..set_a(&snap, 10, [0; 4], [0; 4])
        };
        assert!(matches!(
            apply(&snap, &[other], false),
            Err(StoreError::NoZone(_))
        ));
    }

    #[test]
    fn replay_keeps_the_newer_serial() {
        let snap = snapshot(ZONE);
        let journal = vec![
            set_a(&snap, 10, [198, 18, 0, 1], [198, 18, 0, 2]),
            set_a(&snap, 11, [198, 18, 0, 2], [198, 18, 0, 3]),
        ];
        let (new, conflicts) = apply(&snap, &journal, true).unwrap();
        assert!(conflicts.is_empty(), "{conflicts:?}");
        assert_eq!(new.zones[0].serial(), 12);
        assert_eq!(
            a_of(&new, "subspace.example.info"),
            Some(a(60, [198, 18, 0, 3]))
        );

        // The operator edited the file: new address and serial 50.
        let edited = snapshot(
            &ZONE
                .replace(" 10 7200", " 50 7200")
                .replace("198.18.0.1", "198.18.0.9"),
        );
        let (new, conflicts) = apply(&edited, &journal, true).unwrap();
        assert_eq!(
            conflicts,
            vec![Conflict {
                zone: name("example.info"),
                owner: name("subspace.example.info"),
                rtype: Rtype::A
            }]
        );
        // The dynamic change wins, the source's newer SOA stays.
        assert_eq!(
            a_of(&new, "subspace.example.info"),
            Some(a(60, [198, 18, 0, 3]))
        );
        assert_eq!(new.zones[0].serial(), 50);
    }
}
