//! Engine tests, each citing the checklist item it checks
//! (shared/spec/authoritative-checklist.md).

use std::net::Ipv4Addr;

use super::*;
use crate::config::WildcardMode;
use crate::wire::name::Name;
use crate::wire::query::tests::{OPT_DO, query};
use crate::wire::rdata::Rdata;
use crate::zone::compile::tests::{a, n, rec, zone_of};
use crate::zone::compile::{ZoneInput, compile_inputs};

/// A parsed response, decoded independently of the writer.
#[derive(Debug)]
struct Resp {
    flags: u16,
    counts: [u16; 4],
    /// (owner text, type, ttl) of every record, in order, OPT included.
    records: Vec<(String, u16, u32)>,
    len: usize,
}

fn read_name(m: &[u8], mut pos: usize) -> (String, usize) {
    let mut out = String::new();
    let mut end = None;
    for _ in 0..64 {
        let len = m[pos] as usize;
        if len & 0xC0 == 0xC0 {
            let target = ((len & 0x3F) << 8) | m[pos + 1] as usize;
            assert!(target < pos, "pointer must point backwards");
            end.get_or_insert(pos + 2);
            pos = target;
            continue;
        }
        if len == 0 {
            end.get_or_insert(pos + 1);
            break;
        }
        out.push_str(&String::from_utf8_lossy(&m[pos + 1..pos + 1 + len]));
        out.push('.');
        pos += 1 + len;
    }
    (if out.is_empty() { ".".into() } else { out }, end.unwrap())
}

fn decode(m: &[u8]) -> Resp {
    let w = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
    let counts = [w(4), w(6), w(8), w(10)];
    let mut pos = 12;
    for _ in 0..counts[0] {
        pos = read_name(m, pos).1 + 4;
    }
    let mut records = Vec::new();
    for _ in 0..counts[1] + counts[2] + counts[3] {
        let (owner, p) = read_name(m, pos);
        let t = w(p);
        let ttl = u32::from_be_bytes([m[p + 4], m[p + 5], m[p + 6], m[p + 7]]);
        let rdlen = w(p + 8) as usize;
        records.push((owner, t, ttl));
        pos = p + 10 + rdlen;
    }
    assert_eq!(pos, m.len(), "checklist 78: counts must match the contents");
    Resp {
        flags: w(2),
        counts,
        records,
        len: m.len(),
    }
}

fn rcode(r: &Resp) -> u16 {
    r.flags & 0xF
}
fn aa(r: &Resp) -> bool {
    r.flags & flags_aa() != 0
}
fn flags_aa() -> u16 {
    crate::wire::query::flags::AA
}

fn ask(snap: &Snapshot, msg: &[u8], tcp: bool) -> Option<Resp> {
    let mut out = Vec::new();
    let t = if tcp { Transport::Tcp } else { Transport::Udp };
    respond(snap, &EngineSettings::default(), msg, t, &mut out).then(|| decode(&out))
}

fn q(snap: &Snapshot, name: &str, qtype: u16) -> Resp {
    ask(snap, &query(0x1234, 0x0100, name, qtype, None), false).unwrap()
}

/// The RFC 4592 §2.2.1 example zone plus a personal-setup zone.
fn snapshot() -> Snapshot {
    let ex = "example";
    let cname = |o: &str, t: &str, line| rec(o, 300, Rdata::Cname(n(t)), line);
    let txt = |o: &str, line| {
        rec(
            o,
            300,
            Rdata::Other {
                rtype: Rtype::TXT,
                data: b"\x04text".to_vec().into(),
            },
            line,
        )
    };
    let mx = |o: &str, t: &str, line| {
        rec(
            o,
            300,
            Rdata::Mx {
                preference: 10,
                exchange: n(t),
            },
            line,
        )
    };
    let example = zone_of(
        ex,
        vec![
            txt("*.example", 2),
            mx("*.example", "host1.example", 3),
            mx("sub.*.example", "host2.example", 4),
            a("host1.example", [192, 0, 2, 1], 5),
            rec(
                "_ssh._tcp.host1.example",
                300,
                Rdata::Srv {
                    priority: 0,
                    weight: 0,
                    port: 22,
                    target: n("host1.example"),
                },
                6,
            ),
            rec(
                "_ssh._tcp.host2.example",
                300,
                Rdata::Srv {
                    priority: 0,
                    weight: 0,
                    port: 22,
                    target: n("host2.example"),
                },
                7,
            ),
            a("host2.example", [192, 0, 2, 2], 8),
            rec("subdel.example", 300, Rdata::Ns(n("ns.subdel.example")), 9),
            a("ns.subdel.example", [192, 0, 2, 53], 10),
        ],
    );
    let info = zone_of(
        "example.info",
        vec![
            a("example.info", [192, 0, 2, 80], 2),
            mx("example.info", "mx.example.info", 3),
            a("mx.example.info", [192, 0, 2, 25], 4),
            a("subspace.example.info", [198, 51, 100, 7], 5),
            cname("*.example.info", "subspace.example.info", 6),
            a("host.example.info", [192, 0, 2, 10], 7),
            cname("*.host.example.info", "host.example.info", 8),
            a("www.example.info", [192, 0, 2, 11], 9),
            cname("loop1.example.info", "loop2.example.info", 10),
            cname("loop2.example.info", "loop1.example.info", 11),
            cname("dangling.example.info", "nothing.sub.www.example.info", 12),
            cname("out.example.info", "www.example.org", 13),
            cname("tosub.example.info", "host.subdel.example", 14),
        ],
    );
    compile_inputs(vec![example, info], Vec::new())
        .unwrap()
        .snapshot
}

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const SOA: u16 = 6;
const MX: u16 = 15;
const TXT: u16 = 16;

#[test]
fn checklist_1_2_header_echo() {
    let s = snapshot();
    // Z, AD, CD set in the query; RD set.
    let r = ask(
        &s,
        &query(0xBEEF, 0x0100 | 0x0070, "www.EXAMPLE.info", A, None),
        false,
    )
    .unwrap();
    let mut raw = Vec::new();
    respond(
        &s,
        &EngineSettings::default(),
        &query(0xBEEF, 0x0100 | 0x0070, "www.EXAMPLE.info", A, None),
        Transport::Udp,
        &mut raw,
    );
    assert_eq!(&raw[..2], &[0xBE, 0xEF]);
    // QR AA RD; no RA, Z, AD, CD.
    assert_eq!(r.flags, 0x8000 | 0x0400 | 0x0100);
    // Question echoed byte for byte, letter case kept.
    assert_eq!(
        &raw[12..12 + 18],
        Name::parse_text("www.EXAMPLE.info").unwrap().as_wire()
    );
    // Owner is a pointer to the question.
    assert_eq!(&raw[12 + 18 + 4..12 + 18 + 6], &[0xC0, 0x0C]);
}

#[test]
fn checklist_3_and_7() {
    let s = snapshot();
    assert!(ask(&s, &query(1, 0x8000, "www.example.info", A, None), false).is_none());
    // AA and TC in a query are ignored.
    let r = ask(&s, &query(1, 0x0600, "www.example.info", A, None), false).unwrap();
    assert_eq!(rcode(&r), 0);
    assert_eq!(r.counts[1], 1);
    assert_eq!(r.flags & 0x0200, 0);
}

#[test]
fn checklist_4_notimp_echoes_opcode() {
    let s = snapshot();
    for op in [1u16, 2, 3, 6, 15] {
        let r = ask(&s, &query(1, op << 11, "www.example.info", A, None), false).unwrap();
        assert_eq!(rcode(&r), 4, "opcode {op}");
        assert_eq!((r.flags >> 11) & 0xF, op);
        assert!(!aa(&r));
    }
}

#[test]
fn checklist_9_10_refused() {
    let s = snapshot();
    let mut m = query(1, 0, "www.example.info", A, None);
    let l = m.len();
    m[l - 1] = 3; // CH
    let r = ask(&s, &m, false).unwrap();
    assert_eq!(rcode(&r), 5);
    assert!(!aa(&r));
    let r = q(&s, "www.example.org", A);
    assert_eq!(rcode(&r), 5);
    assert!(!aa(&r));
    assert_eq!(r.counts, [1, 0, 0, 0]);
}

#[test]
fn checklist_12_unknown_and_meta_types_are_nodata() {
    let s = snapshot();
    for t in [1000u16, 65000, 41, 250, 253, 0] {
        let r = q(&s, "www.example.info", t);
        assert_eq!(rcode(&r), 0, "type {t}");
        assert!(aa(&r));
        assert_eq!(r.counts, [1, 0, 1, 0], "type {t}");
        assert_eq!(r.records[0].1, SOA);
    }
}

#[test]
fn checklist_14_15_16_positive_and_negative() {
    let s = snapshot();
    let r = q(&s, "www.example.info", A);
    assert_eq!((rcode(&r), aa(&r), r.counts), (0, true, [1, 1, 0, 0]));
    // NODATA: SOA TTL = min(1000, 300).
    let r = q(&s, "www.example.info", MX);
    assert_eq!((rcode(&r), r.counts), (0, [1, 0, 1, 0]));
    assert_eq!(r.records[0], ("example.info.".into(), SOA, 300));
    // NXDOMAIN in the RFC 4592 zone (no wildcard applies below host1).
    let r = q(&s, "x.host1.example", TXT);
    assert_eq!((rcode(&r), aa(&r)), (3, true));
    assert_eq!(r.records[0].1, SOA);
}

#[test]
fn checklist_17_empty_non_terminal() {
    let s = snapshot();
    let r = q(&s, "_tcp.host1.example", A);
    assert_eq!((rcode(&r), r.counts), (0, [1, 0, 1, 0]));
}

#[test]
fn checklist_18_19_20_referrals() {
    let s = snapshot();
    for (name, t) in [
        ("host.subdel.example", A),
        ("subdel.example", NS),
        ("ns.subdel.example", A),
    ] {
        let r = q(&s, name, t);
        assert_eq!((rcode(&r), aa(&r)), (0, false), "{name}");
        assert_eq!(r.counts, [1, 0, 1, 1], "{name}");
        assert_eq!(r.records[0], ("subdel.example.".into(), NS, 300));
        assert_eq!(r.records[1], ("ns.subdel.example.".into(), A, 300));
    }
    // DS at the cut: the parent answers, NODATA with AA=1.
    let r = q(&s, "subdel.example", 43);
    assert_eq!((rcode(&r), aa(&r), r.counts), (0, true, [1, 0, 1, 0]));
}

#[test]
fn checklist_21_22_cname_chains() {
    let s = snapshot();
    // Wildcard CNAME chased to the dynamic A (checklist 33).
    let r = q(&s, "anything.example.info", A);
    assert_eq!(rcode(&r), 0);
    assert_eq!(
        r.records,
        vec![
            ("anything.example.info.".into(), CNAME, 300),
            ("subspace.example.info.".into(), A, 300)
        ]
    );
    // QTYPE CNAME: no chase.
    let r = q(&s, "anything.example.info", CNAME);
    assert_eq!(r.counts, [1, 1, 0, 0]);
    // Loop: stops, both CNAMEs once.
    let r = q(&s, "loop1.example.info", A);
    assert_eq!(rcode(&r), 0);
    assert_eq!(r.counts[1], 2);
    // Dangling in-zone target: NXDOMAIN with the CNAME (RFC 6604).
    let r = q(&s, "dangling.example.info", A);
    assert_eq!(rcode(&r), 3);
    assert_eq!(r.records[0].1, CNAME);
    assert_eq!(r.records[1].1, SOA);
    // Out-of-zone target: just the CNAME.
    let r = q(&s, "out.example.info", A);
    assert_eq!((rcode(&r), r.counts), (0, [1, 1, 0, 0]));
    // Into a delegation: the CNAME, then the referral; AA from the first owner.
    let r = q(&s, "tosub.example.info", A);
    assert_eq!((rcode(&r), aa(&r), r.counts), (0, true, [1, 1, 1, 1]));
    assert_eq!(r.records[1], ("subdel.example.".into(), NS, 300));
    assert_eq!(r.records[2], ("ns.subdel.example.".into(), A, 300));
    // Per-host wildcard: x.host → host's A.
    let r = q(&s, "a.b.host.example.info", A);
    assert_eq!(r.records[1], ("host.example.info.".into(), A, 300));
}

#[test]
fn checklist_24_additional_for_mx() {
    let s = snapshot();
    let r = q(&s, "example.info", MX);
    assert_eq!(r.counts, [1, 1, 0, 1]);
    assert_eq!(r.records[1], ("mx.example.info.".into(), A, 300));
}

#[test]
fn checklist_27_to_32_rfc4592() {
    let s = snapshot();
    let expect = [
        ("host3.example", MX, 0, 1),
        ("foo.bar.example", TXT, 0, 1),
        ("host3.example", A, 0, 0),
        ("host1.example", MX, 0, 0),
        ("sub.*.example", MX, 0, 1),
        ("_telnet._tcp.host1.example", 33, 3, 0),
        ("x.host1.example", TXT, 3, 0),
        ("ghost.*.example", MX, 3, 0),
        ("*.example", TXT, 0, 1),
    ];
    for (name, t, rc, an) in expect {
        let r = q(&s, name, t);
        assert_eq!((rcode(&r), r.counts[1]), (rc, an), "{name} {t}");
        assert!(aa(&r));
    }
    let r = q(&s, "host3.example", MX);
    assert_eq!(r.records[0].0, "host3.example.");
    // Additional for the synthesised MX target.
    assert_eq!(r.records[1], ("host1.example.".into(), A, 300));
    let r = q(&s, "host.subdel.example", A);
    assert!(!aa(&r));
}

#[test]
fn tinydns_wildcard_mode() {
    let mut input = zone_of(
        "example.info",
        vec![
            rec(
                "*.example.info",
                300,
                Rdata::Cname(n("subspace.example.info")),
                2,
            ),
            a("subspace.example.info", [198, 51, 100, 7], 3),
            a("www.example.info", [192, 0, 2, 11], 4),
            a("pink.floyd.u.example.info", [192, 0, 2, 12], 5),
        ],
    );
    input.wildcards = WildcardMode::Tinydns;
    let rfc = compile_inputs(
        vec![zone_of("example.info", input.records[2..].to_vec())],
        Vec::new(),
    )
    .unwrap()
    .snapshot;
    let tiny = compile_inputs(vec![input], Vec::new()).unwrap().snapshot;
    // x.www: RFC 4592 NXDOMAIN, tinydns the wildcard.
    assert_eq!(rcode(&q(&rfc, "x.www.example.info", A)), 3);
    let r = q(&tiny, "x.www.example.info", A);
    assert_eq!((rcode(&r), r.records[0].1), (0, CNAME));
    // Empty non-terminal: RFC NODATA, tinydns wildcard.
    assert_eq!(q(&rfc, "floyd.u.example.info", A).counts, [1, 0, 1, 0]);
    assert_eq!(q(&tiny, "floyd.u.example.info", A).records[0].1, CNAME);
}

#[test]
fn checklist_35_to_41_edns() {
    let s = snapshot();
    let r = ask(&s, &query(1, 0, "www.example.info", A, Some(OPT_DO)), false).unwrap();
    assert_eq!(r.counts, [1, 1, 0, 1]);
    let opt = r.records.last().unwrap();
    assert_eq!(opt.1, 41);
    assert_eq!(opt.2, 0x8000, "DO copied, version 0, ext rcode 0");
    // Checklist 37: BADVERS.
    let v1 = [0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0];
    let r = ask(&s, &query(1, 0, "www.example.info", A, Some(&v1)), false).unwrap();
    assert_eq!((rcode(&r), aa(&r), r.counts), (0, false, [1, 0, 0, 1]));
    assert_eq!(r.records[0].2 >> 24, 1);
    // Checklist 39: unknown option ignored, unknown flag not echoed.
    let opt = [0, 0, 41, 0x10, 0, 0, 0, 0x40, 0, 0, 4, 0, 100, 0, 0];
    let r = ask(&s, &query(1, 0, "www.example.info", A, Some(&opt)), false).unwrap();
    assert_eq!(r.records.last().unwrap().2, 0);
    assert_eq!(rcode(&r), 0);
}

/// A zone with a big RRset for truncation tests (checklist 42, 78).
fn big_snapshot() -> Snapshot {
    let mut recs = Vec::new();
    for i in 0..40u8 {
        recs.push(a("big.example.com", [192, 0, 2, i], 3 + i as u32));
    }
    recs.push(rec(
        "mx.example.com",
        300,
        Rdata::Mx {
            preference: 1,
            exchange: n("big.example.com"),
        },
        50,
    ));
    compile_inputs(vec![zone_of("example.com", recs)], Vec::new())
        .unwrap()
        .snapshot
}

#[test]
fn checklist_42_78_truncation() {
    let s = big_snapshot();
    // 40 A records = 40*16 + header > 512 over UDP without EDNS.
    let r = q(&s, "big.example.com", A);
    assert_ne!(r.flags & 0x0200, 0, "TC");
    assert_eq!(r.counts, [1, 0, 0, 0]);
    assert!(r.len <= 512);
    // Over TCP: everything.
    let r = ask(&s, &query(1, 0, "big.example.com", A, None), true).unwrap();
    assert_eq!((r.flags & 0x0200, r.counts[1]), (0, 40));
    // With EDNS 1232: fits, OPT kept.
    let r = ask(&s, &query(1, 0, "big.example.com", A, Some(OPT_DO)), false).unwrap();
    assert_eq!(r.counts, [1, 40, 0, 1]);
    // Checklist 41: advertised 100 is taken as 512.
    let small = [0, 0, 41, 0, 100, 0, 0, 0, 0, 0, 0];
    let r = ask(&s, &query(1, 0, "big.example.com", A, Some(&small)), false).unwrap();
    assert_ne!(r.flags & 0x0200, 0);
    assert_eq!(r.counts, [1, 0, 0, 1]);
    // Additional that does not fit is dropped without TC (checklist 24).
    let r = q(&s, "mx.example.com", MX);
    assert_eq!(r.flags & 0x0200, 0);
    assert_eq!(r.counts, [1, 1, 0, 0]);
}

#[test]
fn checklist_49_any_returns_one_rrset() {
    let s = snapshot();
    let r = q(&s, "example.info", 255);
    assert_eq!((rcode(&r), aa(&r)), (0, true));
    assert_eq!(r.counts[1], 1);
    let r = q(&s, "anything.example.info", 255);
    assert_eq!(r.records[0].1, CNAME);
}

#[test]
fn checklist_50_axfr_not_served() {
    let s = snapshot();
    assert_eq!(rcode(&q(&s, "example.info", 252)), 4);
}

#[test]
fn engine_swaps_snapshots() {
    let engine = Engine::new(snapshot(), EngineSettings::default());
    let client = "127.0.0.1:1".parse().unwrap();
    let msg = query(1, 0, "www.example.info", A, None);
    let req = Request {
        message: &msg,
        transport: Transport::Udp,
        client,
    };
    let mut out = Vec::new();
    assert!(engine.respond(&req, &mut out));
    assert_eq!(decode(&out).counts[1], 1);
    engine.replace(Snapshot::default());
    assert!(engine.respond(&req, &mut out));
    assert_eq!(rcode(&decode(&out)), 5);
    let _ = Ipv4Addr::LOCALHOST;
}

proptest::proptest! {
    /// Whatever the bytes, the engine answers within limits and counts match.
    #[test]
    fn never_panics_and_counts_match(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
        let s = snapshot();
        let mut out = Vec::new();
        if respond(&s, &EngineSettings::default(), &bytes, Transport::Udp, &mut out) {
            proptest::prop_assert!(out.len() <= 512 || bytes.len() > 12);
        }
    }

    #[test]
    fn mutated_queries_are_safe(name in "[a-zA-Z0-9*._-]{1,40}", t in 0u16..300, do_bit in proptest::bool::ANY) {
        let s = snapshot();
        let Ok(qn) = Name::parse_text(&format!("{name}.example.info")) else { return Ok(()); };
        let text = qn.to_string();
        let msg = query(9, 0, &text, t, do_bit.then_some(OPT_DO));
        let mut out = Vec::new();
        if respond(&s, &EngineSettings::default(), &msg, Transport::Udp, &mut out) {
            let r = decode(&out);
            let limit = if do_bit { 1232 } else { 512 };
            proptest::prop_assert!(r.len <= limit);
        }
    }
}

#[allow(dead_code)]
fn unused(_: ZoneInput) {}

/// tinydns locations (tinydns-data.md §4): the client's address picks the
/// records; the XDP table leaves such zones to userspace.
#[test]
fn tinydns_locations_pick_records_by_client_address() {
    let dir = std::env::temp_dir().join(format!("dnsd-loc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("data"),
        "Zexample.info:ns1.example.info:hostmaster.example.info:1:3600:600:86400:300:300\n\
         &example.info::ns1.example.info\n\
         %in:192.0.2\n\
         %ex\n\
         +loc.example.info:203.0.113.1:::in\n\
         +loc.example.info:203.0.113.2:::ex\n\
         +all.example.info:203.0.113.9\n\
         +inonly.example.info:203.0.113.3:::in\n",
    )
    .unwrap();
    let config = crate::config::Config::parse(
        "[[zone]]\nfile = \"data\"\nformat = \"tinydns\"\n",
        &dir.join("dnsd.toml"),
    )
    .unwrap();
    let compiled = crate::zone::compile::compile(&config).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let engine = Engine::new(compiled.snapshot, EngineSettings::default());
    let ask_from = |client: &str, name: &str| {
        let msg = query(1, 0, name, A, None);
        let req = Request {
            message: &msg,
            transport: Transport::Udp,
            client: std::net::SocketAddr::new(client.parse().unwrap(), 1234),
        };
        let mut out = Vec::new();
        assert!(engine.respond(&req, &mut out));
        let rcode = out[3] & 0xF;
        // The last four bytes of a one-A answer are the address.
        let addr = (out[7] == 1).then(|| {
            Ipv4Addr::new(
                out[out.len() - 4],
                out[out.len() - 3],
                out[out.len() - 2],
                out[out.len() - 1],
            )
        });
        (rcode, addr)
    };
    assert_eq!(
        ask_from("192.0.2.7", "loc.example.info"),
        (0, Some(Ipv4Addr::new(203, 0, 113, 1)))
    );
    assert_eq!(
        ask_from("198.51.100.7", "loc.example.info"),
        (0, Some(Ipv4Addr::new(203, 0, 113, 2)))
    );
    // An empty prefix takes every client, IPv6 ones too.
    assert_eq!(
        ask_from("2001:db8::7", "loc.example.info"),
        (0, Some(Ipv4Addr::new(203, 0, 113, 2)))
    );
    assert_eq!(
        ask_from("192.0.2.7", "inonly.example.info"),
        (0, Some(Ipv4Addr::new(203, 0, 113, 3)))
    );
    assert_eq!(ask_from("198.51.100.7", "inonly.example.info").0, 3);
    assert_eq!(
        ask_from("198.51.100.7", "all.example.info"),
        (0, Some(Ipv4Addr::new(203, 0, 113, 9)))
    );
    // The fast path does not answer a location-dependent zone.
    let snap = engine.snapshot();
    assert!(snap.zones[0].client_dependent);
    let table = crate::fastpath::table::build(&snap, &EngineSettings::default());
    for name in [
        "loc.example.info",
        "all.example.info",
        "nothing.example.info",
    ] {
        let msg = query(1, 0, name, A, None);
        assert_eq!(
            crate::fastpath::model::answer(&table, 1232, &msg),
            None,
            "{name}"
        );
    }
}
