//! UPDATE tests, each citing the checklist item (shared/spec/
//! authoritative-checklist.md §10) and the RFC 2136 section it checks.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::config::WildcardMode;
use crate::wire::rdata::Rdata;
use crate::zone::compile::{ZoneInput, compile_inputs};
use crate::zone::master;
use crate::zone::snapshot::RRset;

const ZONE: &str = "
$ORIGIN example.info.
$TTL 3600
@        IN SOA ns1 hostmaster 10 16384 2048 1048576 2560
@        IN NS  ns1
@        IN NS  ns2
@        IN A   198.18.0.10
@        IN MX  10 mx.example.com.
ns1      IN A   198.18.0.53
ns2      IN A   198.18.1.53
WWW      IN A   198.18.0.10
www      IN A   198.18.0.11
alias    IN CNAME www
subspace 300 IN A 198.18.0.7
*        IN CNAME subspace
a.b.c    IN TXT \"deep\"
";

fn n(s: &str) -> Name {
    Name::parse_text(s).unwrap()
}

/// Compiles master-file text for `apex` into a zone.
fn zone_from(apex: &str, text: &str) -> Zone {
    let file: Arc<Path> = Arc::from(Path::new("update-test.zone"));
    let parsed = master::parse(text, &file, &n(apex), 3600);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let input = ZoneInput {
        apex: n(apex),
        records: parsed.records,
        wildcards: WildcardMode::Rfc4592,
        source: PathBuf::from("update-test.zone"),
    };
    let mut compiled = compile_inputs(vec![input], Vec::new()).unwrap();
    compiled.snapshot.zones.remove(0).into_inner()
}

fn zone() -> Zone {
    zone_from("example.info", ZONE)
}

/// One record of the prerequisite or update section, before encoding.
struct Rr {
    name: &'static str,
    rtype: Rtype,
    class: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

const IN: u16 = 1;
const NONE: u16 = 254;
const ANY: u16 = 255;

fn rr(name: &'static str, rtype: Rtype, class: u16, ttl: u32, rdata: Vec<u8>) -> Rr {
    Rr {
        name,
        rtype,
        class,
        ttl,
        rdata,
    }
}

fn a(ip: [u8; 4]) -> Vec<u8> {
    ip.to_vec()
}

fn dname(s: &str) -> Vec<u8> {
    n(s).as_wire().to_vec()
}

fn txt(s: &str) -> Vec<u8> {
    [&[s.len() as u8][..], s.as_bytes()].concat()
}

fn soa(serial: u32) -> Vec<u8> {
    let mut d = dname("ns1.example.info");
    d.extend(dname("hostmaster.example.info"));
    for v in [serial, 16384, 2048, 1048576, 2560] {
        d.extend(v.to_be_bytes());
    }
    d
}

// Prerequisite forms (RFC 2136 §2.4.1–§2.4.5).
fn exists(name: &'static str, t: Rtype) -> Rr {
    rr(name, t, ANY, 0, vec![])
}
fn exists_value(name: &'static str, t: Rtype, rdata: Vec<u8>) -> Rr {
    rr(name, t, IN, 0, rdata)
}
fn absent(name: &'static str, t: Rtype) -> Rr {
    rr(name, t, NONE, 0, vec![])
}
fn in_use(name: &'static str) -> Rr {
    rr(name, Rtype::ANY, ANY, 0, vec![])
}
fn unused(name: &'static str) -> Rr {
    rr(name, Rtype::ANY, NONE, 0, vec![])
}

// Update forms (RFC 2136 §2.5.1–§2.5.4).
fn add(name: &'static str, t: Rtype, ttl: u32, rdata: Vec<u8>) -> Rr {
    rr(name, t, IN, ttl, rdata)
}
fn del_rrset(name: &'static str, t: Rtype) -> Rr {
    rr(name, t, ANY, 0, vec![])
}
fn del_name(name: &'static str) -> Rr {
    rr(name, Rtype::ANY, ANY, 0, vec![])
}
fn del_rr(name: &'static str, t: Rtype, rdata: Vec<u8>) -> Rr {
    rr(name, t, NONE, 0, rdata)
}

fn put_rr(m: &mut Vec<u8>, r: &Rr) {
    m.extend_from_slice(n(r.name).as_wire());
    m.extend_from_slice(&r.rtype.0.to_be_bytes());
    m.extend_from_slice(&r.class.to_be_bytes());
    m.extend_from_slice(&r.ttl.to_be_bytes());
    m.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&r.rdata);
}

/// An UPDATE message (RFC 2136 §2) for `zone`, uncompressed.
fn update_msg(zone: &str, prereqs: &[Rr], updates: &[Rr]) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x28, 0x00, 0, 1];
    m.extend_from_slice(&(prereqs.len() as u16).to_be_bytes());
    m.extend_from_slice(&(updates.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(n(zone).as_wire());
    m.extend_from_slice(&[0, 6, 0, 1]);
    for r in prereqs.iter().chain(updates) {
        put_rr(&mut m, r);
    }
    m
}

struct AllowAll;
impl UpdatePolicy for AllowAll {
    fn allows(&self, _: &Name, _: Rtype) -> bool {
        true
    }
}

/// Allows exactly the listed (owner, type) pairs.
struct Only(Vec<(&'static str, Rtype)>);
impl UpdatePolicy for Only {
    fn allows(&self, owner: &Name, rtype: Rtype) -> bool {
        self.0.iter().any(|(o, t)| n(o) == *owner && *t == rtype)
    }
}

fn run(prereqs: &[Rr], updates: &[Rr]) -> Result<Option<ChangeSet>, UpdateError> {
    process(
        &update_msg("example.info", prereqs, updates),
        &zone(),
        &AllowAll,
    )
}

fn changed(prereqs: &[Rr], updates: &[Rr]) -> ChangeSet {
    match run(prereqs, updates) {
        Ok(Some(cs)) => cs,
        other => panic!("expected changes, got {other:?}"),
    }
}

/// The RRset after the change set: from the change if there is one, else
/// as in the zone.
fn after(cs: &ChangeSet, owner: &str, t: Rtype) -> Option<RRset> {
    let owner = n(owner);
    match cs.changes.iter().find(|c| c.owner == owner && c.rtype == t) {
        Some(c) => c.after.clone(),
        None => prereq::node(&zone(), &owner).and_then(|n| n.rrset(t).cloned()),
    }
}

fn addrs(set: &Option<RRset>) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = set
        .iter()
        .flat_map(|s| s.rdatas.iter())
        .filter_map(|r| match r {
            Rdata::A(a) => Some(*a),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// (owner, type) of every change, in order.
fn touched(cs: &ChangeSet) -> Vec<(String, Rtype)> {
    cs.changes
        .iter()
        .map(|c| (c.owner.to_string().to_lowercase(), c.rtype))
        .collect()
}

// ---- Zone section (checklist 62, RFC 2136 §3.1.1) ----

#[test]
fn zone_section_names_the_zone() {
    assert_eq!(
        zone_of(&update_msg("Example.INFO", &[], &[])),
        Ok(n("example.info"))
    );
    let ok = update_msg("example.info", &[], &[]);
    // ZOCOUNT 0 and 2.
    for count in [0u8, 2] {
        let mut m = ok.clone();
        m[5] = count;
        assert_eq!(zone_of(&m), Err(UpdateError::FormErr), "ZOCOUNT {count}");
        assert_eq!(process(&m, &zone(), &AllowAll), Err(UpdateError::FormErr));
    }
    // ZTYPE A, and class CH.
    let zend = ok.len();
    let mut m = ok.clone();
    m[zend - 3] = 1;
    assert_eq!(zone_of(&m), Err(UpdateError::FormErr));
    assert_eq!(process(&m, &zone(), &AllowAll), Err(UpdateError::FormErr));
    let mut m = ok.clone();
    m[zend - 1] = 3;
    assert_eq!(zone_of(&m), Err(UpdateError::FormErr));
    // Truncated zone entry, runt header, compressed zone name.
    assert_eq!(zone_of(&ok[..zend - 1]), Err(UpdateError::FormErr));
    assert_eq!(zone_of(&ok[..11]), Err(UpdateError::FormErr));
    let mut m = ok[..12].to_vec();
    m.extend_from_slice(&[0xC0, 0, 0, 6, 0, 1]);
    assert_eq!(zone_of(&m), Err(UpdateError::FormErr));
}

#[test]
fn another_zone_than_the_one_given_is_notauth() {
    let m = update_msg(
        "example.net",
        &[],
        &[add("x.example.net", Rtype::A, 60, a([198, 18, 0, 1]))],
    );
    assert_eq!(process(&m, &zone(), &AllowAll), Err(UpdateError::NotAuth));
}

// ---- Prerequisites (checklist 63, RFC 2136 §2.4, §3.2) ----

#[test]
fn rrset_exists_value_independent() {
    // §2.4.1: class ANY, type T, RDLENGTH 0 → NXRRSET when absent.
    let up = [add("new.example.info", Rtype::A, 60, a([198, 18, 0, 99]))];
    assert!(run(&[exists("www.example.info", Rtype::A)], &up).is_ok_and(|c| c.is_some()));
    assert_eq!(
        run(&[exists("www.example.info", Rtype::MX)], &up),
        Err(UpdateError::NxRRset)
    );
    // Names are not wildcard-expanded (§2.4): the `*` CNAME does not make
    // other.example.info own one.
    assert_eq!(
        run(&[exists("other.example.info", Rtype::CNAME)], &up),
        Err(UpdateError::NxRRset)
    );
}

#[test]
fn rrset_exists_value_dependent() {
    // §2.4.2: the whole RRset must match, in any order and name case,
    // TTL not compared.
    let up = [add("new.example.info", Rtype::A, 60, a([198, 18, 0, 99]))];
    let both = [
        exists_value("www.example.info", Rtype::A, a([198, 18, 0, 11])),
        exists_value("WWW.example.info", Rtype::A, a([198, 18, 0, 10])),
    ];
    assert!(run(&both, &up).is_ok_and(|c| c.is_some()));
    // A subset, a superset and a different RRset all fail with NXRRSET.
    let subset = [exists_value(
        "www.example.info",
        Rtype::A,
        a([198, 18, 0, 10]),
    )];
    assert_eq!(run(&subset, &up), Err(UpdateError::NxRRset));
    let superset = [
        exists_value("www.example.info", Rtype::A, a([198, 18, 0, 10])),
        exists_value("www.example.info", Rtype::A, a([198, 18, 0, 11])),
        exists_value("www.example.info", Rtype::A, a([198, 18, 0, 12])),
    ];
    assert_eq!(run(&superset, &up), Err(UpdateError::NxRRset));
    let absent_set = [exists_value(
        "nope.example.info",
        Rtype::A,
        a([198, 18, 0, 10]),
    )];
    assert_eq!(run(&absent_set, &up), Err(UpdateError::NxRRset));
    // Names in RDATA compare ignoring case (RFC 4343).
    let cname = [exists_value(
        "alias.example.info",
        Rtype::CNAME,
        dname("WwW.Example.Info"),
    )];
    assert!(run(&cname, &up).is_ok_and(|c| c.is_some()));
    // RDATA that does not fit its type is FORMERR.
    let bad = [exists_value("www.example.info", Rtype::A, vec![1, 2, 3])];
    assert_eq!(run(&bad, &up), Err(UpdateError::FormErr));
}

#[test]
fn rrset_does_not_exist() {
    // §2.4.3: class NONE, type T → YXRRSET when present.
    let up = [add("new.example.info", Rtype::A, 60, a([198, 18, 0, 99]))];
    assert_eq!(
        run(&[absent("www.example.info", Rtype::A)], &up),
        Err(UpdateError::YxRRset)
    );
    assert!(run(&[absent("www.example.info", Rtype::MX)], &up).is_ok_and(|c| c.is_some()));
}

#[test]
fn name_in_use_and_not_in_use() {
    let up = [add("new.example.info", Rtype::A, 60, a([198, 18, 0, 99]))];
    // §2.4.4: ANY/ANY → NXDOMAIN when the name owns no RR; an empty
    // non-terminal (b.c) owns none.
    assert!(run(&[in_use("www.example.info")], &up).is_ok_and(|c| c.is_some()));
    assert_eq!(
        run(&[in_use("nothere.example.info")], &up),
        Err(UpdateError::NxDomain)
    );
    assert_eq!(
        run(&[in_use("b.c.example.info")], &up),
        Err(UpdateError::NxDomain)
    );
    // §2.4.5: NONE/ANY → YXDOMAIN when it owns one.
    assert_eq!(
        run(&[unused("www.example.info")], &up),
        Err(UpdateError::YxDomain)
    );
    assert!(run(&[unused("b.c.example.info")], &up).is_ok_and(|c| c.is_some()));
    assert!(run(&[unused("nothere.example.info")], &up).is_ok_and(|c| c.is_some()));
    assert_eq!(UpdateError::NxDomain.rcode(), 3);
    assert_eq!(UpdateError::YxDomain.rcode(), 6);
}

#[test]
fn malformed_prerequisites() {
    let up = [add("new.example.info", Rtype::A, 60, a([198, 18, 0, 99]))];
    // Name outside the zone → NOTZONE (§3.2.1); also a sibling suffix.
    assert_eq!(
        run(&[exists("www.example.net", Rtype::A)], &up),
        Err(UpdateError::NotZone)
    );
    assert_eq!(
        run(&[exists("badexample.info", Rtype::A)], &up),
        Err(UpdateError::NotZone)
    );
    // TTL ≠ 0 (§3.2.1), RDATA with class ANY or NONE (§3.2.1, §3.2.2),
    // class CH (§3.2.4) → FORMERR.
    let cases = [
        rr("www.example.info", Rtype::A, ANY, 1, vec![]),
        rr("www.example.info", Rtype::A, ANY, 0, a([198, 18, 0, 10])),
        rr("www.example.info", Rtype::A, NONE, 0, a([198, 18, 0, 10])),
        rr("www.example.info", Rtype::A, 3, 0, vec![]),
        rr("www.example.info", Rtype::AXFR, ANY, 0, vec![]),
    ];
    for case in cases {
        assert_eq!(run(&[case], &up), Err(UpdateError::FormErr));
    }
}

#[test]
fn a_failed_prerequisite_changes_nothing() {
    // Checklist 64 (all or nothing): a valid update after a failing
    // prerequisite yields no change set.
    let r = run(
        &[
            exists("www.example.info", Rtype::A),
            absent("www.example.info", Rtype::A),
        ],
        &[del_name("www.example.info")],
    );
    assert_eq!(r, Err(UpdateError::YxRRset));
}

// ---- Permission (RFC 2136 §3.3) ----

#[test]
fn policy_refuses_what_it_does_not_allow() {
    let zone = zone();
    let policy = Only(vec![
        ("subspace.example.info", Rtype::A),
        ("www.example.info", Rtype::A),
    ]);
    let go = |updates: &[Rr]| process(&update_msg("example.info", &[], updates), &zone, &policy);
    assert!(
        go(&[add(
            "subspace.example.info",
            Rtype::A,
            300,
            a([198, 18, 0, 8])
        )])
        .is_ok()
    );
    assert!(go(&[del_rrset("subspace.example.info", Rtype::A)]).is_ok());
    assert_eq!(
        go(&[add("subspace.example.info", Rtype::TXT, 300, txt("x"))]),
        Err(UpdateError::Refused)
    );
    assert_eq!(
        go(&[add("other.example.info", Rtype::A, 300, a([198, 18, 0, 8]))]),
        Err(UpdateError::Refused)
    );
    assert_eq!(
        go(&[del_rr(
            "alias.example.info",
            Rtype::CNAME,
            dname("www.example.info")
        )]),
        Err(UpdateError::Refused)
    );
    // Deleting a name asks about each type it owns: www has only A.
    assert!(go(&[del_name("www.example.info")]).is_ok_and(|c| c.is_some()));
    assert_eq!(
        go(&[del_name("alias.example.info")]),
        Err(UpdateError::Refused)
    );
    // One refused RR refuses the whole update (all or nothing).
    assert_eq!(
        go(&[
            add("www.example.info", Rtype::A, 300, a([198, 18, 0, 12])),
            add("ns1.example.info", Rtype::A, 300, a([198, 18, 0, 12])),
        ]),
        Err(UpdateError::Refused)
    );
}

// ---- Prescan (RFC 2136 §3.4.1) ----

#[test]
fn prescan_rejects_bad_update_records() {
    // Outside the zone → NOTZONE (§3.4.1.3).
    assert_eq!(
        run(
            &[],
            &[add("www.example.net", Rtype::A, 60, a([198, 18, 0, 1]))]
        ),
        Err(UpdateError::NotZone)
    );
    let formerr = [
        // Class IN with a meta or query type (§3.4.1.3).
        add("x.example.info", Rtype::ANY, 60, vec![]),
        add("x.example.info", Rtype::AXFR, 60, vec![]),
        add("x.example.info", Rtype::IXFR, 60, vec![]),
        add("x.example.info", Rtype::MAILA, 60, vec![]),
        add("x.example.info", Rtype::MAILB, 60, vec![]),
        add("x.example.info", Rtype::OPT, 60, vec![]),
        add("x.example.info", Rtype::TSIG, 60, vec![]),
        // RDATA that does not fit its type.
        add("x.example.info", Rtype::A, 60, vec![1, 2, 3]),
        add("x.example.info", Rtype::CNAME, 60, vec![3, b'a']),
        // Class ANY: TTL and RDLENGTH must be 0; no AXFR.
        rr("www.example.info", Rtype::A, ANY, 60, vec![]),
        rr("www.example.info", Rtype::A, ANY, 0, a([198, 18, 0, 10])),
        rr("www.example.info", Rtype::AXFR, ANY, 0, vec![]),
        // Class NONE: TTL 0; no type ANY.
        rr("www.example.info", Rtype::A, NONE, 60, a([198, 18, 0, 10])),
        rr("www.example.info", Rtype::ANY, NONE, 0, vec![]),
        // Another class.
        rr("www.example.info", Rtype::A, 3, 60, a([198, 18, 0, 10])),
    ];
    for bad in formerr {
        let what = format!("{} class {} ttl {}", bad.rtype, bad.class, bad.ttl);
        let good = add("ok.example.info", Rtype::A, 60, a([198, 18, 0, 1]));
        assert_eq!(run(&[], &[good, bad]), Err(UpdateError::FormErr), "{what}");
    }
}

// ---- Operations (checklist 64, RFC 2136 §3.4.2) ----

#[test]
fn add_joins_an_rrset_and_bumps_the_serial() {
    let cs = changed(
        &[],
        &[add(
            "subspace.example.info",
            Rtype::A,
            120,
            a([198, 18, 0, 8]),
        )],
    );
    assert_eq!(cs.zone, n("example.info"));
    assert_eq!((cs.serial_before, cs.serial_after), (10, 11));
    let set = after(&cs, "subspace.example.info", Rtype::A);
    assert_eq!(addrs(&set), [ip("198.18.0.7"), ip("198.18.0.8")]);
    // The RRset takes the TTL of the added RR (RFC 2181 §5.2).
    assert_eq!(set.map(|s| s.ttl), Some(120));
    // The SOA change is part of the set, with the new serial; canonical
    // order puts the apex first.
    assert_eq!(
        touched(&cs),
        [
            ("example.info.".into(), Rtype::SOA),
            ("subspace.example.info.".into(), Rtype::A)
        ]
    );
    let soa = &cs.changes[0];
    let serial = |s: &Option<RRset>| match s.as_ref().and_then(|s| s.rdatas.first()) {
        Some(Rdata::Soa(soa)) => soa.serial,
        other => panic!("{other:?}"),
    };
    assert_eq!((serial(&soa.before), serial(&soa.after)), (10, 11));
}

#[test]
fn add_creates_names_and_ignores_duplicates() {
    let cs = changed(
        &[],
        &[add("new.deep.example.info", Rtype::TXT, 60, txt("hi"))],
    );
    let set = after(&cs, "new.deep.example.info", Rtype::TXT).unwrap();
    assert_eq!((set.ttl, set.rdatas.len()), (60, 1));
    assert!(
        cs.changes
            .iter()
            .all(|c| c.before.is_none() || c.rtype == Rtype::SOA)
    );
    // Adding what is there, with its TTL, changes nothing: no serial bump.
    assert_eq!(
        run(
            &[],
            &[add("www.example.info", Rtype::A, 3600, a([198, 18, 0, 10]))]
        ),
        Ok(None)
    );
    // The same RR twice in one update is added once.
    let cs = changed(
        &[],
        &[
            add("x.example.info", Rtype::A, 60, a([198, 18, 0, 1])),
            add("x.example.info", Rtype::A, 60, a([198, 18, 0, 1])),
        ],
    );
    assert_eq!(
        after(&cs, "x.example.info", Rtype::A).unwrap().rdatas.len(),
        1
    );
    // A duplicate with another TTL changes the TTL only.
    let cs = changed(
        &[],
        &[add("www.example.info", Rtype::A, 60, a([198, 18, 0, 10]))],
    );
    let set = after(&cs, "www.example.info", Rtype::A);
    assert_eq!(addrs(&set), [ip("198.18.0.10"), ip("198.18.0.11")]);
    assert_eq!(set.map(|s| s.ttl), Some(60));
}

#[test]
fn delete_an_rrset() {
    let cs = changed(&[], &[del_rrset("www.example.info", Rtype::A)]);
    assert_eq!(after(&cs, "www.example.info", Rtype::A), None);
    let change = cs.changes.iter().find(|c| c.rtype == Rtype::A).unwrap();
    assert_eq!(
        change.owner.to_string(),
        "WWW.example.info.",
        "owner as stored"
    );
    assert_eq!(
        addrs(&change.before),
        [ip("198.18.0.10"), ip("198.18.0.11")]
    );
    // Absent RRsets, and the apex SOA and NS (§3.4.2.3), are left alone.
    assert_eq!(
        run(&[], &[del_rrset("www.example.info", Rtype::MX)]),
        Ok(None)
    );
    assert_eq!(
        run(
            &[],
            &[
                del_rrset("example.info", Rtype::SOA),
                del_rrset("example.info", Rtype::NS)
            ]
        ),
        Ok(None)
    );
    // NS elsewhere may go.
    let z = "$ORIGIN example.info.\n@ SOA ns1 h 1 1 1 1 1\n@ NS ns1\nsub NS ns.other.\n";
    let zone = zone_from("example.info", z);
    let m = update_msg(
        "example.info",
        &[],
        &[del_rrset("sub.example.info", Rtype::NS)],
    );
    let cs = process(&m, &zone, &AllowAll).unwrap().unwrap();
    assert!(
        cs.changes
            .iter()
            .any(|c| c.rtype == Rtype::NS && c.after.is_none())
    );
}

#[test]
fn delete_all_rrsets_at_a_name() {
    let cs = changed(&[], &[del_name("www.example.info")]);
    assert_eq!(after(&cs, "www.example.info", Rtype::A), None);
    // At the apex, SOA and NS stay; A and MX go (§3.4.2.3).
    let cs = changed(&[], &[del_name("example.info")]);
    assert_eq!(
        touched(&cs),
        [
            ("example.info.".into(), Rtype::A),
            ("example.info.".into(), Rtype::SOA),
            ("example.info.".into(), Rtype::MX),
        ]
    );
    assert_eq!(
        after(&cs, "example.info", Rtype::NS).map(|s| s.rdatas.len()),
        Some(2)
    );
    // A name that owns nothing: no change.
    assert_eq!(run(&[], &[del_name("nothere.example.info")]), Ok(None));
    assert_eq!(run(&[], &[del_name("b.c.example.info")]), Ok(None));
}

#[test]
fn delete_one_rr() {
    let cs = changed(
        &[],
        &[del_rr("www.example.info", Rtype::A, a([198, 18, 0, 11]))],
    );
    assert_eq!(
        addrs(&after(&cs, "www.example.info", Rtype::A)),
        [ip("198.18.0.10")]
    );
    // Deleting the last RR removes the RRset.
    let cs = changed(
        &[],
        &[
            del_rr("www.example.info", Rtype::A, a([198, 18, 0, 11])),
            del_rr("www.example.info", Rtype::A, a([198, 18, 0, 10])),
        ],
    );
    assert_eq!(after(&cs, "www.example.info", Rtype::A), None);
    // An RR that is not there, and any SOA (§3.4.2.4), change nothing.
    assert_eq!(
        run(
            &[],
            &[del_rr("www.example.info", Rtype::A, a([198, 18, 0, 12]))]
        ),
        Ok(None)
    );
    assert_eq!(
        run(&[], &[del_rr("example.info", Rtype::SOA, soa(10))]),
        Ok(None)
    );
    // Names in RDATA match ignoring case.
    let cs = changed(
        &[],
        &[del_rr(
            "alias.example.info",
            Rtype::CNAME,
            dname("WWW.example.INFO"),
        )],
    );
    assert_eq!(after(&cs, "alias.example.info", Rtype::CNAME), None);
}

#[test]
fn the_last_apex_ns_stays() {
    // Checklist 64: one of two apex NS may go, the last one not (§3.4.2.4).
    let cs = changed(
        &[],
        &[
            del_rr("example.info", Rtype::NS, dname("ns1.example.info")),
            del_rr("example.info", Rtype::NS, dname("ns2.example.info")),
        ],
    );
    let ns = after(&cs, "example.info", Rtype::NS).unwrap();
    assert_eq!(ns.rdatas.to_vec(), [Rdata::Ns(n("ns2.example.info"))]);
}

#[test]
fn cname_rules_are_kept() {
    // Checklist 64, RFC 2136 §3.4.2.2: a CNAME is not added next to other
    // data, nor other data next to a CNAME; both silently ignored.
    assert_eq!(
        run(
            &[],
            &[add(
                "www.example.info",
                Rtype::CNAME,
                60,
                dname("x.example.info")
            )]
        ),
        Ok(None)
    );
    assert_eq!(
        run(
            &[],
            &[add("alias.example.info", Rtype::A, 60, a([198, 18, 0, 1]))]
        ),
        Ok(None)
    );
    assert_eq!(
        run(
            &[],
            &[add(
                "example.info",
                Rtype::CNAME,
                60,
                dname("x.example.info")
            )]
        ),
        Ok(None)
    );
    // A new CNAME replaces the old one.
    let cs = changed(
        &[],
        &[add(
            "alias.example.info",
            Rtype::CNAME,
            60,
            dname("ns1.example.info"),
        )],
    );
    let set = after(&cs, "alias.example.info", Rtype::CNAME).unwrap();
    assert_eq!(set.rdatas.to_vec(), [Rdata::Cname(n("ns1.example.info"))]);
    // Rules apply to the state as the update goes: CNAME then A at a new
    // name keeps the CNAME only; deleting the A first lets a CNAME in.
    let cs = changed(
        &[],
        &[
            add(
                "new.example.info",
                Rtype::CNAME,
                60,
                dname("www.example.info"),
            ),
            add("new.example.info", Rtype::A, 60, a([198, 18, 0, 1])),
        ],
    );
    assert!(after(&cs, "new.example.info", Rtype::A).is_none());
    assert!(after(&cs, "new.example.info", Rtype::CNAME).is_some());
    let cs = changed(
        &[],
        &[
            del_rrset("www.example.info", Rtype::A),
            add(
                "www.example.info",
                Rtype::CNAME,
                60,
                dname("subspace.example.info"),
            ),
        ],
    );
    assert!(after(&cs, "www.example.info", Rtype::CNAME).is_some());
}

#[test]
fn soa_updates_follow_serial_arithmetic() {
    // A newer serial replaces the SOA and is not bumped again.
    let cs = changed(&[], &[add("example.info", Rtype::SOA, 2560, soa(50))]);
    assert_eq!((cs.serial_before, cs.serial_after), (10, 50));
    // An older serial is ignored (RFC 2136 §3.4.2.2, RFC 1982).
    assert_eq!(
        run(&[], &[add("example.info", Rtype::SOA, 2560, soa(9))]),
        Ok(None)
    );
    // Not at the apex: ignored.
    assert_eq!(
        run(&[], &[add("www.example.info", Rtype::SOA, 2560, soa(50))]),
        Ok(None)
    );
    // The same serial with other values: replaced, then bumped.
    let mut same = soa(10);
    let at = same.len() - 4;
    same[at..].copy_from_slice(&300u32.to_be_bytes());
    let cs = changed(&[], &[add("example.info", Rtype::SOA, 2560, same)]);
    assert_eq!(cs.serial_after, 11);
    match after(&cs, "example.info", Rtype::SOA)
        .unwrap()
        .rdatas
        .first()
    {
        Some(Rdata::Soa(s)) => assert_eq!((s.serial, s.minimum), (11, 300)),
        other => panic!("{other:?}"),
    }
    // The serial wraps at 2^32 (RFC 1982 §3.1).
    let z = "$ORIGIN example.info.\n@ SOA ns1 h 4294967295 1 1 1 1\n@ NS ns1\n";
    let zone = zone_from("example.info", z);
    let m = update_msg(
        "example.info",
        &[],
        &[add("x.example.info", Rtype::A, 1, a([198, 18, 0, 1]))],
    );
    let cs = process(&m, &zone, &AllowAll).unwrap().unwrap();
    assert_eq!((cs.serial_before, cs.serial_after), (u32::MAX, 0));
}

#[test]
fn replacing_an_address_is_delete_then_add() {
    // The dyndns pattern: the RRset becomes exactly the new address.
    let cs = changed(
        &[],
        &[
            del_rrset("subspace.example.info", Rtype::A),
            add("subspace.example.info", Rtype::A, 300, a([198, 18, 5, 5])),
        ],
    );
    assert_eq!(
        addrs(&after(&cs, "subspace.example.info", Rtype::A)),
        [ip("198.18.5.5")]
    );
    // Adding and removing the same RR in one update nets to nothing.
    assert_eq!(
        run(
            &[],
            &[
                add("x.example.info", Rtype::A, 60, a([198, 18, 0, 1])),
                del_rr("x.example.info", Rtype::A, a([198, 18, 0, 1])),
            ]
        ),
        Ok(None)
    );
}

// ---- Message handling ----

#[test]
fn compressed_names_and_a_trailing_tsig() {
    // Owner and CNAME target compressed against the zone name, as nsupdate
    // and knsupdate send them (RFC 3597 §4), and a TSIG-shaped record in
    // the additional section, which the caller has verified.
    let mut m = update_msg("example.info", &[], &[]);
    m[9] = 1; // UPCOUNT
    m[11] = 1; // ADCOUNT
    m.extend_from_slice(&[3, b'n', b'e', b'w', 0xC0, 12]);
    m.extend_from_slice(&[0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
    m.extend_from_slice(&[3, b'w', b'w', b'w', 0xC0, 12]);
    m.extend_from_slice(&[3, b'k', b'e', b'y', 0]);
    m.extend_from_slice(&[0, 250, 0, 255, 0, 0, 0, 0, 0, 2, 0xAB, 0xCD]);
    let cs = process(&m, &zone(), &AllowAll).unwrap().unwrap();
    let set = after(&cs, "new.example.info", Rtype::CNAME).unwrap();
    assert_eq!(set.rdatas.to_vec(), [Rdata::Cname(n("www.example.info"))]);
    // Bytes after the last record, and a record cut short: FORMERR.
    let mut extra = m.clone();
    extra.push(0);
    assert_eq!(
        process(&extra, &zone(), &AllowAll),
        Err(UpdateError::FormErr)
    );
    assert_eq!(
        process(&m[..m.len() - 1], &zone(), &AllowAll),
        Err(UpdateError::FormErr)
    );
    // A TSIG that is not the last record: FORMERR (RFC 8945 §5.1,
    // checklist 66), whoever checks the last one.
    let mut misplaced = m.clone();
    misplaced[11] = 2;
    misplaced.extend_from_slice(&[0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 198, 18, 0, 1]);
    assert_eq!(
        process(&misplaced, &zone(), &AllowAll),
        Err(UpdateError::FormErr)
    );
    // Counts larger than the records there: FORMERR.
    let mut more = m.clone();
    more[7] = 1;
    assert_eq!(
        process(&more, &zone(), &AllowAll),
        Err(UpdateError::FormErr)
    );
}

#[test]
fn response_echoes_id_opcode_and_zone() {
    // RFC 2136 §3.8; rcodes of RFC 2136 §2.2.
    let m = update_msg("example.info", &[], &[del_name("www.example.info")]);
    let mut out = Vec::new();
    render_response(&m, Err(UpdateError::NotZone), &mut out);
    let mut want = vec![0x12, 0x34, 0xA8, 10, 0, 1, 0, 0, 0, 0, 0, 0];
    want.extend_from_slice(b"\x07example\x04info\x00\x00\x06\x00\x01");
    assert_eq!(out, want);
    render_response(&m, Ok(()), &mut out);
    assert_eq!(out[3], 0);
    assert_eq!(out.len(), want.len());
    // Without a readable zone section: header only, ZOCOUNT 0.
    let mut two = m.clone();
    two[5] = 2;
    render_response(&two, Err(UpdateError::FormErr), &mut out);
    assert_eq!(out, [0x12, 0x34, 0xA8, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    // No header: nothing to answer.
    render_response(&m[..5], Err(UpdateError::FormErr), &mut out);
    assert!(out.is_empty());
    let codes = [
        (UpdateError::FormErr, 1),
        (UpdateError::ServFail, 2),
        (UpdateError::NxDomain, 3),
        (UpdateError::NotImp, 4),
        (UpdateError::Refused, 5),
        (UpdateError::YxDomain, 6),
        (UpdateError::YxRRset, 7),
        (UpdateError::NxRRset, 8),
        (UpdateError::NotAuth, 9),
        (UpdateError::NotZone, 10),
    ];
    for (e, code) in codes {
        assert_eq!(e.rcode(), code, "{e}");
    }
}

proptest::proptest! {
    #[test]
    fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let zone = zone();
        let _ = zone_of(&bytes);
        let _ = process(&bytes, &zone, &AllowAll);
        let mut out = Vec::new();
        render_response(&bytes, Err(UpdateError::FormErr), &mut out);
    }

    #[test]
    fn never_panics_on_mutated_updates(flips in proptest::collection::vec((0usize..200, proptest::num::u8::ANY), 1..6)) {
        let mut m = update_msg(
            "example.info",
            &[exists("www.example.info", Rtype::A)],
            &[
                del_rrset("subspace.example.info", Rtype::A),
                add("subspace.example.info", Rtype::A, 300, a([198, 18, 5, 5])),
                add("example.info", Rtype::SOA, 300, soa(11)),
            ],
        );
        for (i, b) in flips {
            let len = m.len();
            m[i % len] = b;
        }
        let _ = process(&m, &zone(), &AllowAll);
    }
}
