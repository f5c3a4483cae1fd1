//! Tests against tinydns-data.md: §7's example lines and malformed inputs,
//! §8's strict rules, escapes, the x rule, timestamps, locations and TXT
//! splitting.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;

use super::{TinyOptions, parse, parse_file, soa_owners};
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype, Soa};
use crate::zone::source::{Parsed, Severity, SourceRecord, TinyAttrs};

const SERIAL: u32 = 1_700_000_000;

fn opts() -> TinyOptions {
    TinyOptions {
        default_serial: SERIAL,
    }
}

fn file() -> Arc<Path> {
    Arc::from(Path::new("data"))
}

fn run_bytes(text: &[u8]) -> Parsed {
    parse(text, &file(), &opts())
}

fn run(text: &str) -> Parsed {
    run_bytes(text.as_bytes())
}

fn name(text: &str) -> Name {
    Name::parse_text(text).expect("test name")
}

fn errors(p: &Parsed) -> Vec<(u32, &str)> {
    p.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.origin.line, d.message.as_str()))
        .collect()
}

fn warnings(p: &Parsed) -> Vec<(u32, &str)> {
    p.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.origin.line, d.message.as_str()))
        .collect()
}

/// Parses text that must have no diagnostics at all.
fn clean(text: &str) -> Vec<SourceRecord> {
    let p = run(text);
    assert!(p.diagnostics.is_empty(), "{text:?}: {:?}", p.diagnostics);
    p.records
}

/// Parses `text`, which must give exactly one error, on `line`, whose message
/// contains `fragment`; and no records from that line.
fn rejects(text: &str, line: u32, fragment: &str) {
    let p = run(text);
    let text = text.get(..80).unwrap_or(text);
    let errs = errors(&p);
    assert_eq!(errs.len(), 1, "{text:?}: {errs:?}");
    assert_eq!(errs[0].0, line, "{text:?}: {errs:?}");
    assert!(
        errs[0].1.contains(fragment),
        "{text:?}: {:?} lacks {fragment:?}",
        errs[0].1
    );
    assert!(
        p.records.iter().all(|r| r.origin.line != line),
        "{text:?}: records from a bad line"
    );
}

/// (owner, ttl, rdata) of each record, for compact assertions.
fn simple(records: &[SourceRecord]) -> Vec<(Name, u32, Rdata)> {
    records
        .iter()
        .map(|r| (r.owner.clone(), r.ttl, r.rdata.clone()))
        .collect()
}

fn a(ip: &str) -> Rdata {
    Rdata::A(ip.parse().expect("test address"))
}

fn txt(data: &[u8]) -> Rdata {
    Rdata::Other {
        rtype: Rtype::TXT,
        data: data.into(),
    }
}

fn soa(mname: &str, rname: &str, timers: [u32; 5]) -> Rdata {
    let [serial, refresh, retry, expire, minimum] = timers;
    Rdata::Soa(Box::new(Soa {
        mname: name(mname),
        rname: name(rname),
        serial,
        refresh,
        retry,
        expire,
        minimum,
    }))
}

const NO_ATTRS: TinyAttrs = TinyAttrs {
    timestamp: None,
    location: None,
};

// ---- §7 examples, line by line ----

#[test]
fn dot_line_soa_ns_and_glue() {
    let r = clean(".example.info:192.0.2.1:a:300");
    assert_eq!(
        simple(&r),
        vec![
            (
                name("example.info"),
                2560,
                soa(
                    "a.ns.example.info",
                    "hostmaster.example.info",
                    [SERIAL, 16384, 2048, 1_048_576, 2560]
                )
            ),
            (
                name("example.info"),
                300,
                Rdata::Ns(name("a.ns.example.info"))
            ),
            (name("a.ns.example.info"), 300, a("192.0.2.1")),
        ]
    );
    assert!(r.iter().all(|r| r.tiny == Some(NO_ATTRS)));
    assert!(
        r.iter()
            .all(|r| r.origin.line == 1 && &*r.origin.file == Path::new("data"))
    );
}

#[test]
fn dot_line_defaults() {
    let r = clean(".2.0.192.in-addr.arpa:192.0.2.1:a");
    let owner = name("2.0.192.in-addr.arpa");
    let ns = name("a.ns.2.0.192.in-addr.arpa");
    assert_eq!(
        simple(&r),
        vec![
            (
                owner.clone(),
                2560,
                soa(
                    "a.ns.2.0.192.in-addr.arpa",
                    "hostmaster.2.0.192.in-addr.arpa",
                    [SERIAL, 16384, 2048, 1_048_576, 2560]
                )
            ),
            (owner, 259_200, Rdata::Ns(ns.clone())),
            (ns, 259_200, a("192.0.2.1")),
        ]
    );
}

#[test]
fn dot_line_ttl_zero_gives_soa_ttl_zero_and_no_ip_no_a() {
    let r = clean(".example.info::ns1.example.info:0");
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].ttl, 0);
    assert_eq!(r[0].rdata.rtype(), Rtype::SOA);
    assert_eq!(
        (r[1].ttl, &r[1].rdata),
        (0, &Rdata::Ns(name("ns1.example.info")))
    );
}

#[test]
fn z_line_explicit() {
    let r = clean("Zsoa.test:ns1.soa.test:admin.soa.test:2024010101:3600:600:86400:300:1000");
    assert_eq!(
        simple(&r),
        vec![(
            name("soa.test"),
            1000,
            soa(
                "ns1.soa.test",
                "admin.soa.test",
                [2_024_010_101, 3600, 600, 86400, 300]
            )
        )]
    );
}

#[test]
fn z_line_defaults() {
    let r = clean("Zsoa.test:ns1.soa.test:admin.soa.test");
    assert_eq!(
        simple(&r),
        vec![(
            name("soa.test"),
            2560,
            soa(
                "ns1.soa.test",
                "admin.soa.test",
                [SERIAL, 16384, 2048, 1_048_576, 2560]
            )
        )]
    );
    let r = clean("Zsoa.test:ns1.soa.test:admin.soa.test::::::");
    assert_eq!(r[0].ttl, 2560);
    let r = clean("Zsoa.test:ns1.soa.test:admin.soa.test:4294967295");
    assert!(matches!(&r[0].rdata, Rdata::Soa(s) if s.serial == u32::MAX));
}

#[test]
fn amp_lines() {
    let r = clean("&soa.test:198.51.100.55:ns1.soa.test");
    assert_eq!(
        simple(&r),
        vec![
            (name("soa.test"), 259_200, Rdata::Ns(name("ns1.soa.test"))),
            (name("ns1.soa.test"), 259_200, a("198.51.100.55")),
        ]
    );
    let r = clean("&child.example.info:192.0.2.53:ns1.child.example.info");
    assert_eq!(
        simple(&r),
        vec![
            (
                name("child.example.info"),
                259_200,
                Rdata::Ns(name("ns1.child.example.info"))
            ),
            (name("ns1.child.example.info"), 259_200, a("192.0.2.53")),
        ]
    );
}

#[test]
fn equals_line_a_and_ptr() {
    let r = clean("=host.example.info:192.0.2.10");
    assert_eq!(
        simple(&r),
        vec![
            (name("host.example.info"), 86400, a("192.0.2.10")),
            (
                name("10.2.0.192.in-addr.arpa"),
                86400,
                Rdata::Ptr(name("host.example.info"))
            ),
        ]
    );
}

#[test]
fn plus_line() {
    let r = clean("+www.example.info:192.0.2.11:60");
    assert_eq!(
        simple(&r),
        vec![(name("www.example.info"), 60, a("192.0.2.11"))]
    );
    let r = clean("+www.example.info:192.0.2.11");
    assert_eq!(r[0].ttl, 86400);
}

#[test]
fn at_lines() {
    let r = clean("@example.info:192.0.2.25:mx1");
    assert_eq!(
        simple(&r),
        vec![
            (
                name("example.info"),
                86400,
                Rdata::Mx {
                    preference: 0,
                    exchange: name("mx1.mx.example.info")
                }
            ),
            (name("mx1.mx.example.info"), 86400, a("192.0.2.25")),
        ]
    );
    let r = clean("@example.info::mail.other.test.:20");
    assert_eq!(
        simple(&r),
        vec![(
            name("example.info"),
            86400,
            Rdata::Mx {
                preference: 20,
                exchange: name("mail.other.test")
            }
        )]
    );
}

#[test]
fn quote_line_txt_with_escapes() {
    let r = clean("'txt.example.info:hello\\072world\\040x:600");
    assert_eq!(
        simple(&r),
        vec![(name("txt.example.info"), 600, txt(b"\x0dhello:world x"))]
    );
}

#[test]
fn caret_line_ptr() {
    let r = clean("^25.2.0.192.in-addr.arpa:mx1.mx.example.info");
    assert_eq!(
        simple(&r),
        vec![(
            name("25.2.0.192.in-addr.arpa"),
            86400,
            Rdata::Ptr(name("mx1.mx.example.info"))
        )]
    );
}

#[test]
fn c_line_cname_wildcard() {
    let r = clean("C*.example.info:host.example.info");
    assert_eq!(
        simple(&r),
        vec![(
            name("*.example.info"),
            86400,
            Rdata::Cname(name("host.example.info"))
        )]
    );
    assert!(r[0].owner.is_wildcard());
}

#[test]
fn colon_line_aaaa() {
    let r = clean(
        ":gen.example.info:28:\\040\\001\\015\\270\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\000\\001",
    );
    let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        simple(&r),
        vec![(name("gen.example.info"), 86400, Rdata::Aaaa(ip))]
    );
}

#[test]
fn colon_line_other_types() {
    // An unknown type is opaque; TTL, timestamp and location as usual.
    let r = clean(":x.example.info:65280:ab\\000c:60:4000000070000000:in");
    assert_eq!(
        r[0].rdata,
        Rdata::Other {
            rtype: Rtype(65280),
            data: b"ab\0c"[..].into()
        }
    );
    assert_eq!(r[0].ttl, 60);
    assert_eq!(
        r[0].tiny,
        Some(TinyAttrs {
            timestamp: Some(0x4000_0000_7000_0000),
            location: Some(*b"in")
        })
    );
    // SRV through a `:` line is structured by Rdata::from_wire.
    let r = clean(
        ":_sip._tcp.example.info:33:\\000\\001\\000\\002\\023\\304\\003sip\\007example\\004info\\000",
    );
    assert_eq!(
        r[0].rdata,
        Rdata::Srv {
            priority: 1,
            weight: 2,
            port: 5060,
            target: name("sip.example.info")
        }
    );
    // Empty RDATA is fine for types without a fixed shape.
    let r = clean(":x.example.info:65280:");
    assert_eq!(r[0].rdata.to_wire(), b"");
}

#[test]
fn percent_lines_and_record_locations() {
    let p = run("%in:192.0.2\n%ex\n%ab:10.0.0.1\n%x:");
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    assert!(p.records.is_empty());
    let defs: Vec<_> = p
        .locations
        .iter()
        .map(|l| (l.code, l.prefix.clone(), l.origin.line))
        .collect();
    assert_eq!(
        defs,
        vec![
            (*b"in", vec![192, 0, 2], 1),
            (*b"ex", vec![], 2),
            (*b"ab", vec![10, 0, 0, 1], 3),
            ([b'x', 0], vec![], 4),
        ]
    );
    assert!(p.locations[0].matches(Ipv4Addr::new(192, 0, 2, 7)));
    assert!(!p.locations[0].matches(Ipv4Addr::new(198, 51, 100, 7)));

    let r = clean("+loc.example.info:203.0.113.1:::in\n+loc.example.info:203.0.113.2:::e");
    assert_eq!(r[0].tiny.as_ref().unwrap().location, Some(*b"in"));
    assert_eq!(r[1].tiny.as_ref().unwrap().location, Some([b'e', 0]));
}

#[test]
fn timestamp_end_time() {
    let r = clean("+ttd.example.info:192.0.2.99:0:4000000070000000");
    assert_eq!(r[0].ttl, 0);
    assert_eq!(
        r[0].tiny,
        Some(TinyAttrs {
            timestamp: Some(0x4000_0000_7000_0000),
            location: None
        })
    );
    // All zeros means "no timestamp" to tinydns.
    let r = clean("+t.example.info:192.0.2.99:0:0000000000000000");
    assert_eq!(r[0].tiny, Some(NO_ATTRS));
}

#[test]
fn minus_comment_and_blank_lines_are_ignored() {
    let p = run("-off.example.info:192.0.2.200\n-garbage \\ :: \x01\n# comment\r\n\n   \n\t\n");
    assert!(p.records.is_empty() && p.locations.is_empty());
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
}

#[test]
fn whole_spec_example_file() {
    let p = run_bytes(include_bytes!("../testdata/tinydns/spec-examples.data"));
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let types: Vec<(u32, Rtype)> = p
        .records
        .iter()
        .map(|r| (r.origin.line, r.rdata.rtype()))
        .collect();
    use Rtype as T;
    assert_eq!(
        types,
        vec![
            (1, T::SOA),
            (1, T::NS),
            (1, T::A),
            (2, T::SOA),
            (2, T::NS),
            (2, T::A),
            (3, T::SOA),
            (4, T::NS),
            (4, T::A),
            (5, T::NS),
            (5, T::A),
            (6, T::A),
            (6, T::PTR),
            (7, T::A),
            (8, T::MX),
            (8, T::A),
            (9, T::MX),
            (10, T::TXT),
            (11, T::PTR),
            (12, T::CNAME),
            (13, T::AAAA),
            (16, T::A),
            (17, T::A),
            (18, T::A),
        ]
    );
    assert_eq!(p.locations.len(), 2);
    assert!(p.records.iter().all(|r| r.tiny.is_some()));
}

#[test]
fn parse_file_reads_bytes_and_reports_io_errors() {
    let dir = std::env::temp_dir().join(format!("dnsd-tinydns-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data");
    std::fs::write(&path, b"+a.example:192.0.2.1\n'b.example:\xff\xfe\n").unwrap();
    let p = parse_file(&path, &opts()).unwrap();
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.records[1].rdata, txt(b"\x02\xff\xfe"));
    assert_eq!(&*p.records[0].origin.file, path.as_path());
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(parse_file(&dir.join("missing"), &opts()).is_err());
}

// ---- patched-install lines ----

#[test]
fn three_and_six_lines() {
    let r = clean("3v6.example.info:20010db8000000000000000000000001:300");
    let ip: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        simple(&r),
        vec![(name("v6.example.info"), 300, Rdata::Aaaa(ip))]
    );

    let r = clean("6v6.example.info:20010DB8000000000000000000000001");
    assert_eq!(
        simple(&r),
        vec![
            (name("v6.example.info"), 86400, Rdata::Aaaa(ip)),
            (
                name("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"),
                86400,
                Rdata::Ptr(name("v6.example.info"))
            ),
        ]
    );
    rejects(
        "3v6.example.info:0123456789abcdef0123456789abcdeg",
        1,
        "32 hex digits",
    );
    rejects(
        "3v6.example.info:20010db800000000000000000000001",
        1,
        "32 hex digits",
    );
    rejects("6v6.example.info:", 1, "missing IPv6 address");
}

#[test]
fn s_line_srv() {
    let r = clean("S_sip._tcp.example.info:192.0.2.5:sip.example.info:5060:10:20:300");
    assert_eq!(
        simple(&r),
        vec![
            (
                name("_sip._tcp.example.info"),
                300,
                Rdata::Srv {
                    priority: 10,
                    weight: 20,
                    port: 5060,
                    target: name("sip.example.info")
                }
            ),
            (name("sip.example.info"), 300, a("192.0.2.5")),
        ]
    );
    // Defaults: priority and weight 0, TTL 86400, no A without ip; the
    // target is used as written (no x rule).
    let r = clean("S_x._udp.example.info::target:53");
    assert_eq!(
        simple(&r),
        vec![(
            name("_x._udp.example.info"),
            86400,
            Rdata::Srv {
                priority: 0,
                weight: 0,
                port: 53,
                target: name("target")
            }
        )]
    );
    rejects("S_x._udp.example.info::target", 1, "missing SRV port");
    rejects("S_x._udp.example.info::target:65536", 1, "SRV port");
    rejects("S_x._udp.example.info:::53", 1, "missing SRV target");
}

// ---- §7 "Malformed input" table ----

#[test]
fn malformed_table() {
    rejects("+bad-ip.example.info:300.2.3.4", 1, "octet 300 above 255");
    rejects(
        "+ttlx.example.info:192.0.2.81:300x",
        1,
        "TTL \"300x\" is not a decimal number",
    );
    rejects(
        "+badttl.example.info:192.0.2.79:abc",
        1,
        "TTL \"abc\" is not a decimal number",
    );
    rejects("Ccrlf.example.info:a.crlf.test\r\n", 1, "dos2unix");
    rejects(
        "# ok\n +lead.example.info:192.0.2.1",
        2,
        "must not start with whitespace",
    );
    rejects(
        &format!(
            "+ok.example:192.0.2.1\n+{}.example.info:192.0.2.1",
            "a".repeat(64)
        ),
        2,
        "longer than 63 bytes",
    );
    rejects(":t.example.info:5:\\001a", 1, "`C` lines");
    rejects(
        ":t.example.info:65536:x",
        1,
        "record type \"65536\" is above the maximum 65535",
    );
}

#[test]
fn empty_txt_is_one_empty_string_with_a_warning() {
    let p = run("'empty.example.info:");
    assert!(errors(&p).is_empty());
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].rdata, txt(b"\0"));
    let w = warnings(&p);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, 1);
    assert!(w[0].1.contains("empty TXT"));
    // The same through a `:` line.
    let p = run(":empty.example.info:16:");
    assert!(errors(&p).is_empty());
    assert_eq!(p.records[0].rdata, txt(b"\0"));
    assert_eq!(warnings(&p).len(), 1);
}

// ---- §8 strict parsing ----

#[test]
fn strict_1_carriage_return_anywhere() {
    rejects("+a.example:192.0.2.1\r", 1, "CRLF");
    rejects("+a.example:192.0.2.1\n'b.example:x\ry", 2, "\\r");
    rejects("\r", 1, "dos2unix");
    // Each CRLF line is reported.
    let p = run("+a.example:192.0.2.1\r\n+b.example:192.0.2.2\r\n");
    assert_eq!(
        errors(&p).iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn strict_leading_characters() {
    rejects("\t+a.example:192.0.2.1", 1, "whitespace");
    rejects(
        "X+a.example:192.0.2.1",
        1,
        "unrecognized leading character 'X'",
    );
    rejects("\u{7f}a", 1, "unrecognized leading character '\\x7f'");
    rejects("Nfoo.example:1:2:u:E2U+sip:!^.*$!sip:x@y!:", 1, "type 35");
}

#[test]
fn strict_2_ipv4() {
    rejects("+a.example:192.0.2.1x", 1, "text \"x\" after the address");
    rejects("+a.example:192.0.2.1.5", 1, "text \".5\" after the address");
    rejects("+a.example:192.0.2", 1, "not an IPv4 address");
    rejects("+a.example:192..0.2", 1, "not an IPv4 address");
    rejects("+a.example:localhost", 1, "not an IPv4 address");
    rejects("+a.example:1.2.3.99999999999999999999", 1, "above 255");
    rejects("=a.example:256.0.0.1", 1, "octet 256");
    rejects("+a.example:", 1, "missing IPv4 address");
    rejects("=a.example", 1, "missing IPv4 address");
    rejects("&a.example:192.0.2.300:ns1.a.example", 1, "octet 300");
    rejects(".a.example:1.2.3.4 :ns1.a.example", 1, "after the address");
    rejects("@a.example:x:mx1", 1, "not an IPv4 address");
    rejects("%in:192.0.2.256", 1, "octet 256");
    rejects("%in:192.0.2.", 1, "dotted decimal octets");
    rejects("%in:1.2.3.4.5", 1, "more than 4 octets");
    rejects("%in:10/8", 1, "dotted decimal octets");
    let r = clean("+a.example:0.0.0.0\n+b.example:255.255.255.255");
    assert_eq!(r[1].rdata, a("255.255.255.255"));
}

#[test]
fn strict_3_numbers() {
    rejects(
        "+a.example:192.0.2.1:2147483648",
        1,
        "above the maximum 2147483647",
    );
    rejects(
        "+a.example:192.0.2.1:99999999999999999999999",
        1,
        "above the maximum",
    );
    rejects("+a.example:192.0.2.1:-1", 1, "not a decimal number");
    rejects("+a.example:192.0.2.1: 60", 1, "not a decimal number");
    rejects(
        "@a.example::mx1:65536",
        1,
        "distance \"65536\" is above the maximum 65535",
    );
    rejects(
        "@a.example::mx1:1x",
        1,
        "distance \"1x\" is not a decimal number",
    );
    rejects(
        "Za.example:ns.a.example:h.a.example:4294967296",
        1,
        "SOA serial",
    );
    rejects("Za.example:ns.a.example:h.a.example:1:x", 1, "SOA refresh");
    rejects(
        "Za.example:ns.a.example:h.a.example:1:1:1:1:1:2147483648",
        1,
        "TTL",
    );
    rejects(":a.example:abc:x", 1, "record type \"abc\"");
    rejects(":a.example::x", 1, "missing record type");
    // A colon in TXT text shifts the fields; the message says so.
    rejects("'a.example:v=spf1 include:_spf.example ~all", 1, "\\072");
    let r = clean("+a.example:192.0.2.1:2147483647\n@a.example::mx1:65535\n+b.example:192.0.2.1:0");
    assert_eq!(r[0].ttl, 2_147_483_647);
    assert_eq!(r[2].ttl, 0);
}

#[test]
fn strict_4_names() {
    let long = "a".repeat(64);
    rejects(
        &format!("+{long}.example:192.0.2.1"),
        1,
        "longer than 63 bytes",
    );
    rejects(&format!("Ca.example:{long}.example"), 1, "CNAME target");
    rejects(&format!("&a.example::{long}"), 1, "longer than 63 bytes");
    rejects(&format!("@a.example::{long}"), 1, "longer than 63 bytes");
    let label = "b".repeat(63);
    let too_long = [label.as_str(); 4].join(".");
    rejects(&format!("+{too_long}:192.0.2.1"), 1, "more than 255");
    rejects(&format!("^x.example:{too_long}"), 1, "more than 255");
    // The x rule can push a name over the limit.
    let near = [
        label.as_str(),
        label.as_str(),
        label.as_str(),
        &"c".repeat(59),
    ]
    .join(".");
    assert!(run(&format!("+{near}:192.0.2.1")).diagnostics.is_empty());
    rejects(&format!("&{near}::x"), 1, "name");
    rejects("+a..example:192.0.2.1", 1, "empty label");
    rejects("+.a.example:192.0.2.1", 1, "empty label");
    rejects("+a.example..:192.0.2.1", 1, "empty label");
    rejects("+:192.0.2.1", 1, "missing name");
    rejects("Ca.example:", 1, "missing CNAME target");
    rejects("Za.example::h.a.example", 1, "missing SOA MNAME");
    // 63-byte labels and a 255-byte name are fine.
    let max = [
        label.as_str(),
        label.as_str(),
        label.as_str(),
        &"d".repeat(61),
    ]
    .join(".");
    let r = clean(&format!("+{max}.:192.0.2.1"));
    assert_eq!(r[0].owner.wire_len(), 255);
    // The root.
    let r = clean("'.:root text");
    assert!(r[0].owner.is_root());
}

#[test]
fn strict_5_timestamps() {
    let r = clean("+a.example:192.0.2.1::4000000070000000");
    assert_eq!(
        r[0].tiny.as_ref().unwrap().timestamp,
        Some(0x4000_0000_7000_0000)
    );
    for bad in [
        "400000007000000",
        "40000000700000000",
        "400000007000000A",
        "4000000070000g00",
        "0x00000070000000",
        "4000000070000000 x",
    ] {
        rejects(
            &format!("+a.example:192.0.2.1::{bad}"),
            1,
            "exactly 16 lower-case hex digits",
        );
    }
}

#[test]
fn strict_6_colon_types() {
    let prohibited = [
        (0, "type 0 is reserved"),
        (2, "`&` lines"),
        (5, "`C` lines"),
        (6, "`Z` lines"),
        (12, "`^` lines"),
        (15, "`@` lines"),
        (252, "AXFR is a query type"),
    ];
    for (t, hint) in prohibited {
        let text = format!(":a.example:{t}:\\001a\\000");
        rejects(&text, 1, "prohibited by tinydns-data");
        rejects(&text, 1, hint);
    }
    for t in [41, 128, 250, 251, 255] {
        rejects(&format!(":a.example:{t}:x"), 1, "meta or query type");
    }
    rejects(":a.example:1:\\300\\000\\002", 1, "must be 4 bytes, not 3");
    rejects(":a.example:1:", 1, "must be 4 bytes, not 0");
    rejects(
        ":a.example:28:\\001\\002\\003\\004",
        1,
        "must be 16 bytes, not 4",
    );
    rejects(":a.example:33:\\000\\001", 1, "type 33 RDATA");
    rejects(":a.example:16:\\005abc", 1, "type 16 RDATA");
    let r = clean(":a.example:1:\\300\\000\\002\\001\n:a.example:256:anything\n:a.example:65535:x");
    assert_eq!(r[0].rdata, a("192.0.2.1"));
    assert_eq!(r.len(), 3);
}

#[test]
fn location_codes() {
    rejects(
        "+a.example:192.0.2.1:::abc",
        1,
        "location code \"abc\" is longer than 2 bytes",
    );
    rejects("%abc:10", 1, "longer than 2 bytes");
    rejects("%:10", 1, "missing location code");
    let r = clean("+a.example:192.0.2.1:::\\x");
    assert_eq!(r[0].tiny.as_ref().unwrap().location, Some(*b"\\x"));
}

#[test]
fn every_error_is_reported() {
    let text = "+a.example:300.0.0.1\n\
                +ok.example:192.0.2.1\n\
                +b..example:192.0.2.1:abc:xyz:toolong\n\
                \n\
                bogus\n\
                :c.example:5:x\n\
                'fine.example:text";
    let p = run(text);
    let errs = errors(&p);
    let lines: Vec<u32> = errs.iter().map(|e| e.0).collect();
    // Line 3 has four bad fields, each reported.
    assert_eq!(lines, vec![1, 3, 3, 3, 3, 5, 6], "{errs:?}");
    assert!(errs[6].1.contains("`C` lines"));
    assert!(errs[1].1.contains("empty label"));
    assert!(errs[2].1.contains("TTL"));
    assert!(errs[3].1.contains("timestamp"));
    assert!(errs[4].1.contains("location"));
    let good: Vec<u32> = p.records.iter().map(|r| r.origin.line).collect();
    assert_eq!(good, vec![2, 7]);
    assert!(p.has_errors());
    let shown = p.diagnostics[0].to_string();
    assert!(shown.starts_with("data:1: "), "{shown}");
}

// ---- escapes, x rule, case, TXT splitting, whitespace, extra fields ----

#[test]
fn escapes() {
    // \056 and \. are dots inside a label; \072 is a colon; \\ a backslash.
    let r =
        clean("+a\\056b.example:192.0.2.1\n+c\\.d.example:192.0.2.1\n+e\\072f.example:192.0.2.1");
    let first: Vec<&[u8]> = r.iter().filter_map(|r| r.owner.first_label()).collect();
    assert_eq!(first, vec![&b"a.b"[..], b"c.d", b"e:f"]);
    assert_eq!(r[0].owner.label_count(), 2);

    let r = clean("'t.example:a\\\\b\\040c\\7d\\1234\\q\\\"");
    assert_eq!(r[0].rdata, txt(b"\x0ba\\b c\x07d\x534q\""));
    // \0 followed by a non-octal digit, and a high byte.
    let r = clean("'t.example:\\08\\377");
    assert_eq!(r[0].rdata, txt(b"\x03\x008\xff"));

    rejects("'t.example:abc\\", 1, "backslash at the end");
    rejects("'t.example:\\777", 1, "escape \\777 is above \\377");
    rejects("+a\\400.example:192.0.2.1", 1, "above \\377");
    rejects(":a.example:65280:\\", 1, "backslash");
}

#[test]
fn x_rule() {
    let ns = |text: &str| -> Name {
        let r = clean(text);
        let targets: Vec<Name> = r
            .iter()
            .filter_map(|r| match &r.rdata {
                Rdata::Ns(n) => Some(n.clone()),
                Rdata::Mx { exchange, .. } => Some(exchange.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(targets.len(), 1, "{text}");
        targets[0].clone()
    };
    assert_eq!(ns("&example.com::ns1.other.net"), name("ns1.other.net"));
    assert_eq!(ns("&example.com::ns1.other.net."), name("ns1.other.net"));
    assert_eq!(ns("&example.com::a"), name("a.ns.example.com"));
    assert_eq!(ns("&example.com.::a"), name("a.ns.example.com"));
    assert_eq!(ns("&example.com::"), name("ns.example.com"));
    assert_eq!(ns(".example.com::b"), name("b.ns.example.com"));
    assert_eq!(ns("@example.com::mx1"), name("mx1.mx.example.com"));
    assert_eq!(ns("@example.com::"), name("mx.example.com"));
    assert_eq!(
        ns("@example.com::mail.example.com"),
        name("mail.example.com")
    );
    // An escaped dot does not count: the label is "a.b".
    let n = ns("&example.com::a\\056b");
    assert_eq!(n.first_label(), Some(&b"a.b"[..]));
    assert_eq!(n.label_count(), 4);
    // The glue A goes to the x-rule name.
    let r = clean("&example.com:192.0.2.1:a");
    assert_eq!(r[1].owner, name("a.ns.example.com"));
    // A bad owner is reported once, not again for the x rule.
    let p = run("&a..b::x");
    assert_eq!(errors(&p).len(), 1);
}

#[test]
fn letter_case_is_kept() {
    let r = clean("CWWW.Example.INFO:Host.Example.Info");
    assert_eq!(r[0].owner.as_wire(), b"\x03WWW\x07Example\x04INFO\x00");
    match &r[0].rdata {
        Rdata::Cname(t) => assert_eq!(t.as_wire(), b"\x04Host\x07Example\x04Info\x00"),
        other => panic!("{other:?}"),
    }
    let r = clean("@Example.COM::MX1");
    match &r[0].rdata {
        Rdata::Mx { exchange, .. } => {
            assert_eq!(exchange.as_wire(), b"\x03MX1\x02mx\x07Example\x03COM\x00")
        }
        other => panic!("{other:?}"),
    }
    let r = clean(".Example.COM::A");
    match &r[0].rdata {
        Rdata::Soa(s) => assert_eq!(s.rname.as_wire(), b"\x0ahostmaster\x07Example\x03COM\x00"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn txt_is_cut_into_127_byte_strings() {
    let strings = |len: usize| -> Vec<usize> {
        let r = clean(&format!("'t.example:{}", "x".repeat(len)));
        let Rdata::Other { data, .. } = &r[0].rdata else {
            panic!()
        };
        let mut lens = Vec::new();
        let mut i = 0;
        while i < data.len() {
            lens.push(data[i] as usize);
            i += 1 + data[i] as usize;
        }
        assert_eq!(i, data.len());
        lens
    };
    assert_eq!(strings(1), vec![1]);
    assert_eq!(strings(127), vec![127]);
    assert_eq!(strings(128), vec![127, 1]);
    assert_eq!(strings(300), vec![127, 127, 46]);
    assert_eq!(strings(254), vec![127, 127]);
    // Escapes count as their decoded byte.
    let r = clean(&format!("'t.example:{}", "\\072".repeat(128)));
    let Rdata::Other { data, .. } = &r[0].rdata else {
        panic!()
    };
    assert_eq!(data.len(), 130);
    assert_eq!((data[0], data[128]), (127, 1));
    // RDATA over 65535 bytes is refused.
    rejects(
        &format!("'t.example:{}", "x".repeat(65_100)),
        1,
        "more than 65535",
    );
}

#[test]
fn trailing_whitespace_and_missing_fields() {
    let r = clean("+a.example:192.0.2.1:60 \t  \n+b.example:192.0.2.2::\n");
    assert_eq!(r.len(), 2);
    assert_eq!((r[0].ttl, r[1].ttl), (60, 86400));
    // Inner whitespace is not stripped.
    rejects("+a.example:192.0.2.1 :60", 1, "after the address");
    // A file without a final newline still has its last line read.
    assert_eq!(clean("+a.example:192.0.2.1\n+b.example:192.0.2.2").len(), 2);
}

#[test]
fn extra_fields_are_ignored_with_a_warning() {
    let p = run("+a.example:192.0.2.1:60:::extra:more");
    assert!(errors(&p).is_empty());
    assert_eq!(p.records.len(), 1);
    let w = warnings(&p);
    assert_eq!(w.len(), 1);
    assert!(w[0].1.contains("2 extra fields ignored"), "{w:?}");
}

#[test]
fn line_numbers_count_every_line() {
    let p = run("# 1\n\n-3\n+a.example:192.0.2.1\n\n+b.example:bad");
    assert_eq!(p.records[0].origin.line, 4);
    assert_eq!(
        errors(&p),
        vec![(
            6,
            "IPv4 address \"bad\" is not an IPv4 address (expected a.b.c.d)"
        )]
    );
}

#[test]
fn soa_owners_are_those_of_the_parsed_records() {
    let text = b"+www.example.com:192.0.2.1\n\
        .example.com::ns1:300\n\
        ZSub.Example.com:ns1.example.com.:hostmaster.example.com.\n\
        .bad..name::x\n\
        .example.net:300.1.1.1:x\n\
        Zexample.org:ns1.example.org.:hostmaster.example.org.:x\n\
        .EXAMPLE.com::ns2\n\
        .crlf.example\r\n\
        .example.info::ns1:::in\n\
        Z*.wild.example:a.:b.\n\
        :soa.example:6:\\000\n\
        .example.edu::ns1:::bad\n\
        .sub.example.com::x\n";
    let p = run_bytes(text);
    let mut owners: Vec<Name> = Vec::new();
    for r in p.records.iter().filter(|r| r.rdata.rtype() == Rtype::SOA) {
        if !owners.contains(&r.owner) {
            owners.push(r.owner.clone());
        }
    }
    let wires =
        |names: &[Name]| -> Vec<Vec<u8>> { names.iter().map(|n| n.as_wire().to_vec()).collect() };
    assert_eq!(wires(&soa_owners(text, &file(), &opts())), wires(&owners));
    assert_eq!(
        owners.iter().map(Name::to_string).collect::<Vec<_>>(),
        [
            "example.com.",
            "Sub.Example.com.",
            "example.info.",
            "*.wild.example."
        ]
    );
}

// ---- no panics ----

const TYPE_CHARS: &[u8] = b".&=+@'^CZ:%-#36SN";

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    let alphabet = prop::sample::select(b"0123456789abcdefAF.:\\\r\t x*-_\x00\xff".to_vec());
    (
        prop::sample::select(TYPE_CHARS.to_vec()),
        prop::collection::vec(prop_oneof![alphabet, any::<u8>()], 0..200),
    )
        .prop_map(|(kind, mut rest)| {
            rest.insert(0, kind);
            rest
        })
}

proptest! {
    #[test]
    fn never_panics_on_bytes(text in prop::collection::vec(any::<u8>(), 0..1024)) {
        let p = run_bytes(&text);
        let lines = text.split(|&b| b == b'\n').count() as u32;
        prop_assert!(p.diagnostics.iter().all(|d| (1..=lines).contains(&d.origin.line)));
    }

    #[test]
    fn never_panics_on_typed_lines(lines in prop::collection::vec(line_strategy(), 1..8)) {
        let text = lines.join(&b'\n');
        let p = run_bytes(&text);
        for r in &p.records {
            prop_assert!(r.tiny.is_some());
            prop_assert!(r.ttl <= 0x7fff_ffff);
            prop_assert!(r.owner.wire_len() <= 255);
        }
        // A line with an error never yields records.
        for d in p.diagnostics.iter().filter(|d| d.severity == Severity::Error) {
            prop_assert!(p.records.iter().all(|r| r.origin.line != d.origin.line));
        }
        // The first pass of the compiler finds the same apexes.
        let mut owners: Vec<Name> = Vec::new();
        for r in p.records.iter().filter(|r| r.rdata.rtype() == Rtype::SOA) {
            if !owners.contains(&r.owner) {
                owners.push(r.owner.clone());
            }
        }
        let found = soa_owners(&text, &file(), &opts());
        prop_assert_eq!(
            found.iter().map(|n| n.as_wire().to_vec()).collect::<Vec<_>>(),
            owners.iter().map(|n| n.as_wire().to_vec()).collect::<Vec<_>>()
        );
    }
}
