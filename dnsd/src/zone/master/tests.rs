use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::wire::rdata::Soa;
use crate::zone::source::Severity;

fn n(s: &str) -> Name {
    Name::parse_text(s).unwrap()
}

fn test_file() -> Arc<Path> {
    Arc::from(Path::new("test.zone"))
}

fn run(text: &str) -> Parsed {
    parse(text, &test_file(), &n("example.com."), 3600)
}

/// Parses `text` and insists on no errors (warnings allowed).
fn ok(text: &str) -> Vec<SourceRecord> {
    let p = run(text);
    assert!(!p.has_errors(), "unexpected errors: {:#?}", p.diagnostics);
    p.records
}

fn errors(p: &Parsed) -> Vec<(u32, String)> {
    p.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| (d.origin.line, d.message.clone()))
        .collect()
}

fn warnings(p: &Parsed) -> Vec<(u32, String)> {
    p.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| (d.origin.line, d.message.clone()))
        .collect()
}

/// The single error of `text`: its line and message.
fn one_error(text: &str) -> (u32, String) {
    let p = run(text);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "expected one error, got {:#?}", p.diagnostics);
    e[0].clone()
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// (line, owner, ttl, type, RDATA wire) of every record.
fn summary(records: &[SourceRecord]) -> Vec<(u32, String, u32, String, Vec<u8>)> {
    records
        .iter()
        .map(|r| {
            (
                r.origin.line,
                r.owner.to_string(),
                r.ttl,
                r.rdata.rtype().to_string(),
                r.rdata.to_wire(),
            )
        })
        .collect()
}

/// A unique scratch directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!(
            "dnsd-master-{tag}-{}-{nanos}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Syntax features

#[test]
fn basic_zone_owners_ttls_lines_and_rdata() {
    let text = "\
$TTL 3600
@       IN  SOA ns1 hostmaster (   ; the SOA spans three lines
                2024010101 ; serial
                7200 3600 1209600 300 )
        IN  NS  ns1
        NS      ns2.Example.NET.
        MX  10  mail
; a comment line

www     300 IN A 192.0.2.1
        IN 60 AAAA 2001:db8::1
alias   CNAME www
";
    let recs = ok(text);
    let ex = b"\x07example\x03com\x00";
    let nm = |l: &[u8]| [l, &ex[..]].concat();
    assert_eq!(
        summary(&recs),
        vec![
            (
                2,
                "example.com.".into(),
                3600,
                "SOA".into(),
                [
                    nm(b"\x03ns1"),
                    nm(b"\x0ahostmaster"),
                    hex("78a3f175 00001c20 00000e10 00127500 0000012c"),
                ]
                .concat()
            ),
            (5, "example.com.".into(), 3600, "NS".into(), nm(b"\x03ns1")),
            (
                6,
                "example.com.".into(),
                3600,
                "NS".into(),
                b"\x03ns2\x07Example\x03NET\x00".to_vec()
            ),
            (
                7,
                "example.com.".into(),
                3600,
                "MX".into(),
                [&b"\x00\x0a\x04mail"[..], ex].concat()
            ),
            (
                10,
                "www.example.com.".into(),
                300,
                "A".into(),
                vec![192, 0, 2, 1]
            ),
            (
                11,
                "www.example.com.".into(),
                60,
                "AAAA".into(),
                hex("20010db8000000000000000000000001")
            ),
            (
                12,
                "alias.example.com.".into(),
                3600,
                "CNAME".into(),
                nm(b"\x03www")
            ),
        ]
    );
    assert_eq!(
        recs[0].rdata,
        Rdata::Soa(Box::new(Soa {
            mname: n("ns1.example.com"),
            rname: n("hostmaster.example.com"),
            serial: 2024010101,
            refresh: 7200,
            retry: 3600,
            expire: 1209600,
            minimum: 300,
        }))
    );
    assert_eq!(recs[4].rdata, Rdata::A(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(
        recs[5].rdata,
        Rdata::Aaaa("2001:db8::1".parse::<Ipv6Addr>().unwrap())
    );
    assert!(recs.iter().all(|r| r.tiny.is_none()));
    assert!(
        recs.iter()
            .all(|r| &*r.origin.file == Path::new("test.zone"))
    );
    assert!(run(text).diagnostics.is_empty());
}

#[test]
fn ttl_and_class_in_either_order() {
    let recs = ok(
        "$TTL 1\na 10 IN A 192.0.2.1\nb IN 20 A 192.0.2.2\nc 30 A 192.0.2.3\nd IN A 192.0.2.4\ne CLASS1 A 192.0.2.5\nf in a 192.0.2.6\n",
    );
    let ttls: Vec<u32> = recs.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [10, 20, 30, 1, 1, 1]);
    let lines: Vec<u32> = recs.iter().map(|r| r.origin.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
}

#[test]
fn origin_directive_and_relative_names() {
    let recs = ok("\
$TTL 60
$ORIGIN sub
www A 192.0.2.1
$ORIGIN other.NET.
@ NS ns
deep.er CNAME target.
$origin .
top. A 192.0.2.2
");
    let owners: Vec<String> = recs.iter().map(|r| r.owner.to_string()).collect();
    assert_eq!(
        owners,
        [
            "www.sub.example.com.",
            "other.NET.",
            "deep.er.other.NET.",
            "top."
        ]
    );
    assert_eq!(recs[1].rdata.to_wire(), b"\x02ns\x05other\x03NET\x00");
    assert_eq!(recs[2].rdata.to_wire(), b"\x06target\x00");
    assert_eq!(recs[3].origin.line, 8);
}

#[test]
fn at_sign_is_the_origin_in_owner_and_name_fields_only() {
    let recs = ok("\
$TTL 60
$ORIGIN Zone.Test.
@ NS @
@ MX 10 @
@ TXT @
@ SRV 1 2 3 @
@ SOA @ @ 1 2 3 4 5
");
    let zone = b"\x04Zone\x04Test\x00".to_vec();
    assert_eq!(recs[0].owner.as_wire(), &zone[..]);
    assert_eq!(recs[0].rdata.to_wire(), zone);
    assert_eq!(recs[1].rdata.to_wire(), [&b"\x00\x0a"[..], &zone].concat());
    assert_eq!(recs[2].rdata.to_wire(), b"\x01@");
    assert_eq!(
        recs[3].rdata.to_wire(),
        [&b"\x00\x01\x00\x02\x00\x03"[..], &zone].concat()
    );
    assert_eq!(
        recs[4].rdata.to_wire(),
        [
            &zone[..],
            &zone,
            &hex("00000001 00000002 00000003 00000004 00000005")
        ]
        .concat()
    );
}

#[test]
fn letter_case_and_escapes_are_kept() {
    let recs =
        ok("$TTL 60\nWWW.Example.COM. CNAME Mixed.Case.\na\\.b\\065 TXT \"x\\\"y\" \\(z\\)\n");
    assert_eq!(recs[0].owner.as_wire(), b"\x03WWW\x07Example\x03COM\x00");
    assert_eq!(recs[0].rdata.to_wire(), b"\x05Mixed\x04Case\x00");
    assert_eq!(recs[1].owner.first_label(), Some(&b"a.bA"[..]));
    assert_eq!(recs[1].rdata.to_wire(), b"\x03x\"y\x03(z)");
}

#[test]
fn parentheses_comments_and_crlf() {
    let recs = ok("$TTL 60\r\nk TXT ( \"a\" ; one\r\n   \"b\" ) ; two\r\n( m ) A 192.0.2.9\r\n");
    assert_eq!(recs[0].rdata.to_wire(), b"\x01a\x01b");
    assert_eq!(recs[1].owner, n("m.example.com"));
    assert_eq!(recs[0].origin.line, 2);
    assert_eq!(recs[1].origin.line, 4);
}

#[test]
fn ttl_units_and_dollar_ttl() {
    let recs = ok(
        "$TTL 1h30m\na A 192.0.2.1\nb 1W2d A 192.0.2.1\nc 10S A 192.0.2.1\n$TTL 0\nd A 192.0.2.1\n",
    );
    let ttls: Vec<u32> = recs.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [5400, 9 * 86400, 10, 0]);
    assert_eq!(one_error("$TTL 1x\n").0, 1);
    assert_eq!(one_error("$TTL 1h3\n").0, 1);
    assert_eq!(one_error("$TTL\n").0, 1);
    assert_eq!(one_error("$TTL 4294967296\n").0, 1);
}

#[test]
fn missing_dollar_ttl_uses_default_then_rfc1035_last_ttl_with_one_warning() {
    let p = run("a A 192.0.2.1\nb 300 A 192.0.2.2\nc A 192.0.2.3\n$TTL 7\nd A 192.0.2.4\n");
    assert!(!p.has_errors());
    let ttls: Vec<u32> = p.records.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [3600, 300, 300, 7]);
    let w = warnings(&p);
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].0, 1);
    assert!(w[0].1.contains("$TTL"), "{}", w[0].1);

    // A different default TTL; no warning when every record has a TTL.
    let p = parse("a A 192.0.2.1\n", &test_file(), &n("example.com"), 42);
    assert_eq!(p.records[0].ttl, 42);
    let p = run("a 5 A 192.0.2.1\nb 6 A 192.0.2.1\n");
    assert!(p.diagnostics.is_empty());
}

#[test]
fn ttl_with_top_bit_becomes_zero_with_warning() {
    let p =
        run("$TTL 2147483648\na A 192.0.2.1\nb 4294967295 A 192.0.2.2\nc 2147483647 A 192.0.2.3\n");
    assert!(!p.has_errors());
    let ttls: Vec<u32> = p.records.iter().map(|r| r.ttl).collect();
    assert_eq!(ttls, [0, 0, 2147483647]);
    let lines: Vec<u32> = warnings(&p).iter().map(|w| w.0).collect();
    assert_eq!(lines, [1, 3]);
    assert!(warnings(&p)[0].1.contains("RFC 2181"));
}

#[test]
fn classes_other_than_in_are_errors() {
    for (text, line) in [
        ("$TTL 1\na A 192.0.2.1\nb CH A 192.0.2.1\n", 3),
        ("$TTL 1\nb HS 60 TXT \"x\"\n", 2),
        ("$TTL 1\nb 60 CLASS3 A 192.0.2.1\n", 2),
        ("$TTL 1\nb NONE A 192.0.2.1\n", 2),
    ] {
        let (l, msg) = one_error(text);
        assert_eq!(l, line, "{text}");
        assert!(msg.contains("class"), "{msg}");
    }
}

// ---------------------------------------------------------------------------
// Record types

const ALL_TYPES: &str = r#"$TTL 60
t TXT "hello world" two "semi\;colon" "q\"x" \065
s SPF "v=spf1 -all"
_sip._tcp SRV 10 20 5060 sip
p PTR host.example.net.
d DNAME other.net.
caa CAA 0 issue "letsencrypt.org"
n NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
ssh SSHFP 1 1 123456789abcdef67890123456789abcdef67890
tls TLSA 3 1 1 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
h HTTPS 1 . alpn="h2,h3" port=443
sv SVCB 0 www
ds DS 60485 5 1 2BB183AF5F22588179A53B0A98631FAD 1A292118
k DNSKEY 256 3 5 ( AQPSKmynfzW4kyBv015MUG2DeIQ3
   Cbl+BBZH4b/0PY1kxkmvHjcZc8no kfzj31GajIQKY+5CptLr3buXA10h WqTkF7H6RfoRqXQeogmMHfpftf6z Mv1LyBUgia7za6ZEzOJBOztyvhjL 742iU/TpPSEDhm2SNKLijfUppn1U aNvv4w==  )
r RRSIG A 5 3 86400 20030322173103 ( 20030220173103 2642 example.com. oJB1W6WNGv+ldvQ3WDG0MQkg5IEhjRip8WTr PYGv07h108dUKGMeDPKijVCHX3DDKdfb+v6o B9wfuh3DTJXUAfI/M0zmO/zz8bW0Rznl8O3t GNazPwQKkRN20XPXV6nwwfoXmJQbsLNrLfkG J5D6fwFm8nN+6pBzeDQfsS3Ap3o= )
x NSEC host.example.com. ( A MX RRSIG NSEC TYPE1234 )
h3 NSEC3 1 1 12 aabbccdd ( 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG )
@ NSEC3PARAM 1 0 12 aabbccdd
hi HINFO "PC" "Linux"
"#;

#[test]
fn common_types_to_exact_wire() {
    let text = ALL_TYPES;
    let recs = ok(text);
    let ex = "076578616d706c6503636f6d00"; // example.com.
    let want: Vec<(u32, &str, &str, String)> = vec![
        (
            2,
            "t",
            "TXT",
            "0b68656c6c6f20776f726c64 0374776f 0a73656d693b636f6c6f6e 03712278 0141".into(),
        ),
        (3, "s", "SPF", "0b763d73706631202d616c6c".into()),
        (4, "_sip._tcp", "SRV", format!("000a 0014 13c4 03736970 {ex}")),
        (5, "p", "PTR", "04686f7374 076578616d706c65 036e6574 00".into()),
        (6, "d", "DNAME", "056f74686572036e657400".into()),
        (
            7,
            "caa",
            "CAA",
            "00 05 6973737565 6c657473656e63727970742e6f7267".into(),
        ),
        (
            8,
            "n",
            "NAPTR",
            format!("0064 000a 0153 075349502b443255 00 045f736970 045f756470 {ex}"),
        ),
        (
            9,
            "ssh",
            "SSHFP",
            "01 01 123456789abcdef67890123456789abcdef67890".into(),
        ),
        (
            10,
            "tls",
            "TLSA",
            "03 01 01 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        ),
        (
            11,
            "h",
            "HTTPS",
            "0001 00 0001 0006 026832 026833 0003 0002 01bb".into(),
        ),
        (12, "sv", "SVCB", format!("0000 03777777 {ex}")),
        (
            13,
            "ds",
            "DS",
            "ec45 05 01 2bb183af5f22588179a53b0a98631fad1a292118".into(),
        ),
        (
            14,
            "k",
            "DNSKEY",
            "0100 03 05 0103d22a6ca77f35b893206fd35e4c506d8378843709b97e041647e1bff43d8d64c649af1e371973c9e891fce3df519a8c840a63ee42a6d2ebddbb97035d215aa4e417b1fa45fa11a9741ea2098c1dfa5fb5feb332fd4bc8152089aef36ba644cce2413b3b72be18cbef8da253f4e93d2103866d9234a2e28df529a67d5468dbefe3".into(),
        ),
        (
            16,
            "r",
            "RRSIG",
            format!("0001 05 03 00015180 3e7c9dd7 3e5510d7 0a52 {ex} a090755ba58d1affa576f4375831b4310920e481218d18a9f164eb3d81afd3b875d3c75428631e0cf2a28d50875f70c329d7dbfafea807dc1fba1dc34c95d401f23f334ce63bfcf3f1b5b44739e5f0eded18d6b33f040a911376d173d757a9f0c1fa1798941bb0b36b2df9062790fa7f0166f2737eea907378341fb12dc0a77a"),
        ),
        (
            17,
            "x",
            "NSEC",
            format!("04686f7374 {ex} 00 06 400100000003 04 1b 000000000000000000000000000000000000000000000000000020"),
        ),
        (
            18,
            "h3",
            "NSEC3",
            "01 01 000c 04aabbccdd 14 17f3df17b2b2adaef615257de4d2020b80ac6c7c 00 06 400000000002".into(),
        ),
        (19, "@", "NSEC3PARAM", "01 00 000c 04aabbccdd".into()),
        (20, "hi", "HINFO", "025043 054c696e7578".into()),
    ];
    assert_eq!(recs.len(), want.len());
    for (rec, (line, owner, ty, wire)) in recs.iter().zip(&want) {
        let owner = if *owner == "@" {
            n("example.com")
        } else {
            n(&format!("{owner}.example.com"))
        };
        assert_eq!(rec.owner, owner);
        assert_eq!(rec.origin.line, *line, "{owner}");
        assert_eq!(rec.rdata.rtype().to_string(), *ty);
        assert_eq!(rec.rdata.to_wire(), hex(wire), "{ty}");
        assert_eq!(rec.ttl, 60);
    }
    // Structured variants for SRV and the name-only types.
    assert_eq!(
        recs[2].rdata,
        Rdata::Srv {
            priority: 10,
            weight: 20,
            port: 5060,
            target: n("sip.example.com")
        }
    );
    assert_eq!(recs[3].rdata, Rdata::Ptr(n("host.example.net")));
    assert_eq!(recs[4].rdata, Rdata::Dname(n("other.net")));
    assert!(matches!(
        recs[0].rdata,
        Rdata::Other {
            rtype: Rtype::TXT,
            ..
        }
    ));
    assert!(matches!(
        recs[1].rdata,
        Rdata::Other {
            rtype: Rtype::SPF,
            ..
        }
    ));
}

/// Entries at the limits of what the fast path reads, and just past them
/// (left to `domain`). Under `cfg(test)` every entry the fast path reads is
/// also given to `domain` and must come out the same.
#[test]
fn fast_path_limits_agree_with_domain() {
    let l63 = "a".repeat(63);
    let l61 = "b".repeat(61);
    let s255 = "t".repeat(255);
    let good = format!(
        "$TTL 300\n\
         @ SOA @ hostmaster.@ 4294967295 0 00010 65536 4294967295\n\
         @ NS @\n\
         @ MX 65535 @\n\
         @ MX 0 mail.Example.COM.\n\
         {l63} A 192.0.2.1\n\
         {l63}.{l63}.{l61} AAAA 2001:DB8::1\n\
         x PTR {l63}.{l63}.{l63}.{l61}.\n\
         x TXT \"{s255}\" {s255} \"with space\" a=b\n\
         y SPF \"v=spf1 -all\"\n\
         z CNAME *.wild-card_x\n\
         z2 NS ns.z2.\n"
    );
    let records = ok(&good);
    assert_eq!(records.len(), 11);
    for (text, fragment) in [
        (
            format!("{}x A 192.0.2.1\n", "a".repeat(64)),
            "bad owner name",
        ),
        (format!("a NS {}.\n", "a".repeat(64)), "bad NS RDATA"),
        (
            format!("a CNAME {l63}.{l63}.{l63}.{l61}\n"),
            "bad CNAME RDATA",
        ),
        ("a MX 65536 b\n".to_string(), "bad MX RDATA"),
        (format!("a TXT {s255}x\n"), "bad TXT RDATA"),
        ("a A 192.0.2.01\n".to_string(), "bad A RDATA"),
        (
            "a SOA a b 4294967296 1 2 3 4\n".to_string(),
            "bad SOA RDATA",
        ),
    ] {
        let (_, msg) = one_error(&text);
        assert!(msg.contains(fragment), "{text}: {msg}");
    }
}

#[test]
fn rfc3597_unknown_form() {
    let recs = ok("\
$TTL 60
u TYPE65280 \\# 4 0A000001
u2 A \\# 4 c0000202
u3 type65281 \\# 0
u4 MX \\# 5 000a 016100
u5 TXT \\# 3 02 6869
u6 TYPE1 192.0.2.7
");
    assert_eq!(
        recs[0].rdata,
        Rdata::Other {
            rtype: Rtype(65280),
            data: vec![10, 0, 0, 1].into()
        }
    );
    assert_eq!(recs[1].rdata, Rdata::A(Ipv4Addr::new(192, 0, 2, 2)));
    assert_eq!(
        recs[2].rdata,
        Rdata::Other {
            rtype: Rtype(65281),
            data: Box::new([])
        }
    );
    assert_eq!(
        recs[3].rdata,
        Rdata::Mx {
            preference: 10,
            exchange: n("a")
        }
    );
    assert_eq!(recs[4].rdata.to_wire(), b"\x02hi");
    assert_eq!(recs[5].rdata, Rdata::A(Ipv4Addr::new(192, 0, 2, 7)));

    // Length mismatch, and bytes that do not fit the known type.
    assert_eq!(
        one_error("$TTL 1\n\nx TYPE65280 \\# 3 0a0000\n  A \\# 2 0a00\n").0,
        4
    );
    assert_eq!(one_error("$TTL 1\nx CNAME \\# 3 010203\n").0, 2);
    // Types `domain` has no presentation format for need the RFC 3597 form.
    let (line, msg) = one_error("$TTL 1\nl LOC 52 22 23 N 4 53 32 E -2m\n");
    assert_eq!(line, 2);
    assert!(msg.contains("RFC 3597"), "{msg}");
    assert_eq!(ok("$TTL 1\nl LOC \\# 1 00\n")[0].rdata.rtype(), Rtype(29));
}

#[test]
fn meta_types_are_errors() {
    for t in [
        "ANY", "AXFR", "IXFR", "OPT", "TSIG", "TYPE0", "TYPE128", "MAILB",
    ] {
        let (line, msg) = one_error(&format!("$TTL 1\n\nx {t} \\# 0\n"));
        assert_eq!(line, 3, "{t}");
        assert!(msg.contains("meta"), "{t}: {msg}");
    }
}

#[test]
fn rfc4592_example_zone() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/zone/testdata/master/rfc4592.zone");
    let p = parse_file(&path, &n("example."), 3600);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    let got: Vec<(u32, String, String)> = p
        .records
        .iter()
        .map(|r| {
            (
                r.origin.line,
                r.owner.to_string(),
                r.rdata.rtype().to_string(),
            )
        })
        .collect();
    let want = [
        (4, "example.", "SOA"),
        (5, "example.", "NS"),
        (6, "example.", "NS"),
        (7, "*.example.", "TXT"),
        (8, "*.example.", "MX"),
        (9, "sub.*.example.", "TXT"),
        (10, "host1.example.", "A"),
        (11, "_ssh._tcp.host1.example.", "SRV"),
        (12, "_ssh._tcp.host2.example.", "SRV"),
        (13, "subdel.example.", "NS"),
        (14, "subdel.example.", "NS"),
    ]
    .map(|(l, o, t)| (l, o.to_string(), t.to_string()));
    assert_eq!(got, want);
    assert!(p.records[3].owner.is_wildcard());
    assert!(!p.records[5].owner.is_wildcard());
    assert_eq!(p.records[3].rdata.to_wire(), b"\x12this is a wildcard");
    assert!(p.records.iter().all(|r| r.ttl == 3600));
    assert!(p.records.iter().all(|r| *r.origin.file == *path));
}

// ---------------------------------------------------------------------------
// $INCLUDE

#[test]
fn include_with_and_without_origin() {
    let dir = TempDir::new("include");
    let main = dir.write(
        "main.zone",
        "\
$TTL 100
@ NS ns
$INCLUDE sub/hosts.inc hosts
$INCLUDE \"sub/more.inc\"
after A 192.0.2.9
    TXT \"after\"
",
    );
    dir.write(
        "sub/hosts.inc",
        "\
; included with origin hosts.example.com.
a A 192.0.2.1
$TTL 200
@ A 192.0.2.2
$ORIGIN elsewhere.test.
b A 192.0.2.3
",
    );
    // The second include resolves `nested.inc` against its own directory.
    dir.write("sub/more.inc", "c A 192.0.2.4\n$INCLUDE nested.inc\n");
    dir.write("sub/nested.inc", "\n\nd A 192.0.2.5\n");

    let p = parse_file(&main, &n("example.com"), 3600);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
    let got: Vec<(String, u32, String, u32)> = p
        .records
        .iter()
        .map(|r| {
            let file = r
                .origin
                .file
                .strip_prefix(&dir.0)
                .unwrap()
                .display()
                .to_string();
            (file, r.origin.line, r.owner.to_string(), r.ttl)
        })
        .collect();
    let want = [
        ("main.zone", 2, "example.com.", 100),
        ("sub/hosts.inc", 2, "a.hosts.example.com.", 100),
        ("sub/hosts.inc", 4, "hosts.example.com.", 200),
        ("sub/hosts.inc", 6, "b.elsewhere.test.", 200),
        // The origin reverts after the include; $TTL carries over, as in BIND.
        ("sub/more.inc", 1, "c.example.com.", 200),
        ("sub/nested.inc", 3, "d.example.com.", 200),
        ("main.zone", 5, "after.example.com.", 200),
        ("main.zone", 6, "after.example.com.", 200),
    ]
    .map(|(f, l, o, t)| (f.to_string(), l, o.to_string(), t));
    assert_eq!(got, want);
}

#[test]
fn include_starts_without_previous_owner_and_reports_its_own_lines() {
    let dir = TempDir::new("include-owner");
    let main = dir.write("main.zone", "$TTL 1\nwww A 192.0.2.1\n$INCLUDE inc.zone\n");
    dir.write("inc.zone", "\n   A 192.0.2.2\nx A 300.0.0.1\n");
    let p = parse_file(&main, &n("example.com"), 3600);
    let errs: Vec<(String, u32)> = p
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.origin
                    .file
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                d.origin.line,
            )
        })
        .collect();
    assert_eq!(
        errs,
        [("inc.zone".to_string(), 2), ("inc.zone".to_string(), 3)]
    );
    assert_eq!(p.records.len(), 1);
    assert!(
        p.diagnostics[1]
            .to_string()
            .contains("inc.zone:3: bad A RDATA")
    );
}

#[test]
fn include_loops_and_depth_are_caught() {
    let dir = TempDir::new("loop");
    let a = dir.write("a.zone", "$TTL 1\na A 192.0.2.1\n$INCLUDE b.zone\n");
    dir.write("b.zone", "b A 192.0.2.2\n\n$INCLUDE ./a.zone\n");
    let p = parse_file(&a, &n("example.com"), 3600);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{:#?}", p.diagnostics);
    assert_eq!(e[0].0, 3);
    assert!(e[0].1.contains("loop"), "{}", e[0].1);
    assert!(p.diagnostics[0].origin.file.ends_with("b.zone"));
    assert_eq!(p.records.len(), 2);

    let selfish = dir.write("self.zone", "$INCLUDE self.zone\n");
    let p = parse_file(&selfish, &n("example.com"), 3600);
    assert_eq!(errors(&p).len(), 1);
    assert_eq!(errors(&p)[0].0, 1);

    // A chain deeper than the limit stops with one error at the limit.
    for i in 0..MAX_INCLUDE_DEPTH + 3 {
        dir.write(
            &format!("d{i}.zone"),
            &format!("\n$INCLUDE d{}.zone\n", i + 1),
        );
    }
    let p = parse_file(&dir.0.join("d0.zone"), &n("example.com"), 3600);
    let e = errors(&p);
    assert_eq!(e.len(), 1, "{:#?}", p.diagnostics);
    assert_eq!(e[0].0, 2);
    assert!(e[0].1.contains("nested"), "{}", e[0].1);
    let deepest = format!("d{}.zone", MAX_INCLUDE_DEPTH - 1);
    assert!(p.diagnostics[0].origin.file.ends_with(deepest));
}

#[test]
fn missing_files() {
    let dir = TempDir::new("missing");
    let p = parse_file(&dir.0.join("nope.zone"), &n("example.com"), 3600);
    assert!(p.records.is_empty());
    let e = errors(&p);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].0, 0);
    assert!(
        p.diagnostics[0]
            .to_string()
            .contains("nope.zone: cannot read")
    );

    let main = dir.write(
        "main.zone",
        "$TTL 1\n\n$INCLUDE gone.zone\nok A 192.0.2.1\n",
    );
    let p = parse_file(&main, &n("example.com"), 3600);
    assert_eq!(errors(&p).len(), 1);
    assert_eq!(errors(&p)[0].0, 3);
    assert_eq!(p.records.len(), 1);

    // A directory is not a zone file.
    dir.write("sub/x", "");
    let main = dir.write("main2.zone", "$INCLUDE sub\n");
    assert_eq!(errors(&parse_file(&main, &n("example.com"), 3600))[0].0, 1);
}

#[test]
fn non_utf8_lines_are_reported_and_skipped() {
    let dir = TempDir::new("utf8");
    let path = dir.0.join("latin1.zone");
    std::fs::write(&path, b"$TTL 1\nt TXT \"caf\xe9\"\nu A 192.0.2.1\n").unwrap();
    let p = parse_file(&path, &n("example.com"), 3600);
    assert_eq!(errors(&p).iter().map(|e| e.0).collect::<Vec<_>>(), [2]);
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.records[0].origin.line, 3);
}

// ---------------------------------------------------------------------------
// Errors

#[test]
fn error_cases_carry_their_line() {
    let long_txt = format!("$TTL 1\nx TXT \"{}\"\n", "a".repeat(256));
    let cases: &[(&str, u32, &str)] = &[
        ("$TTL 1\nok A 192.0.2.1\nbad A 192.0.2.256\n", 3, "IPv4"),
        ("$TTL 1\nbad AAAA 2001:db8::g\n", 2, "IPv6"),
        ("$TTL 1\n\nx FOO 192.0.2.1\n", 3, "unknown record type FOO"),
        ("$TTL 1\nx 60 IN\n", 2, "record type missing"),
        ("$TTL 1\nx A 192.0.2.1 192.0.2.2\n", 2, "trailing"),
        ("$TTL 1\nx A\n", 2, "bad A RDATA"),
        ("$TTL 1\nx 60 70 A 192.0.2.1\n", 2, "twice"),
        ("$TTL 1\nx 3600x A 192.0.2.1\n", 2, "bad TTL"),
        ("$TTL 1\n\n  A 192.0.2.1\n", 3, "no previous owner"),
        (
            "$TTL 1\n@ SOA ns host (\n  1 2 3\n  4 )\n",
            4,
            "bad SOA RDATA",
        ),
        (
            "$TTL 1\n@ SOA ns host (\n  1 2 three\n  4 5 )\n",
            3,
            "bad SOA RDATA",
        ),
        ("$TTL 1\nx (\n A 192.0.2.1\n\n", 2, "never closed"),
        ("$TTL 1\nx A 192.0.2.1 )\n", 2, "without a matching"),
        ("$TTL 1\nx TXT \"open\n", 2, "not closed"),
        ("$TTL 1\nx TXT a\\\n", 2, "backslash"),
        ("$TTL 1\na..b A 192.0.2.1\n", 2, "bad owner name"),
        ("$TTL 1\nx CNAME a..b\n", 2, "empty label"),
        ("$TTL 1\nx NSEC .a A\n", 2, "empty label"),
        ("$ORIGIN a..b\n", 1, "bad $ORIGIN"),
        ("$ORIGIN\n", 1, "$ORIGIN"),
        ("$INCLUDE\n", 1, "$INCLUDE"),
        ("$GENERATE 1-2 a$ A 192.0.2.$\n", 1, "$GENERATE"),
        ("$FOO\n", 1, "unknown directive"),
        (
            "$TTL 1\nx TXT \"ok\" ( \n \"\\256\" )\n",
            3,
            "bad TXT RDATA",
        ),
        (&long_txt, 2, "bad TXT RDATA"),
    ];
    for (text, line, needle) in cases {
        let p = run(text);
        let e = errors(&p);
        assert_eq!(e.len(), 1, "{text:?}: {:#?}", p.diagnostics);
        assert_eq!(e[0].0, *line, "{text:?}: {}", e[0].1);
        assert!(e[0].1.contains(needle), "{text:?}: {}", e[0].1);
        let shown = p
            .diagnostics
            .iter()
            .find(|d| d.severity == Severity::Error)
            .unwrap();
        assert!(
            shown
                .to_string()
                .starts_with(&format!("test.zone:{line}: ")),
            "{shown}"
        );
    }
}

#[test]
fn keeps_going_after_errors() {
    let text = "\
$TTL 60
a A 192.0.2.1
b A 192.0.2.x
c BOGUS 1
d CH A 192.0.2.1
e ( A
    192.0.2.999 )
f TXT \"fine\"
g A 192.0.2.1 )
h AAAA ::1
    MX 10 a..b
    MX 10 mail
";
    let p = run(text);
    let lines: Vec<u32> = errors(&p).iter().map(|e| e.0).collect();
    assert_eq!(lines, [3, 4, 5, 7, 9, 11]);
    let owners: Vec<(u32, String)> = p
        .records
        .iter()
        .map(|r| (r.origin.line, r.owner.to_string()))
        .collect();
    assert_eq!(
        owners,
        [
            (2, "a.example.com.".to_string()),
            (8, "f.example.com.".to_string()),
            (10, "h.example.com.".to_string()),
            (12, "h.example.com.".to_string()),
        ]
    );
}

#[test]
fn unterminated_parenthesis_is_reported_at_its_line() {
    let p =
        run("$TTL 60\na A 192.0.2.1\n@ SOA ns host ( 1 2 3 4 5\nb A 192.0.2.2\nc A 192.0.2.3\n");
    assert_eq!(errors(&p).iter().map(|e| e.0).collect::<Vec<_>>(), [3]);
    assert_eq!(p.records.len(), 1);
}

// ---------------------------------------------------------------------------
// Robustness

fn zoneish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("$TTL ".to_string()),
        Just("$ORIGIN ".to_string()),
        Just("$INCLUDE ".to_string()),
        Just("@".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("\n".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("\"".to_string()),
        Just(";".to_string()),
        Just("\\".to_string()),
        Just("\\#".to_string()),
        Just(".".to_string()),
        Just("..".to_string()),
        Just("IN ".to_string()),
        Just("CH ".to_string()),
        Just("3600 ".to_string()),
        Just("4294967295 ".to_string()),
        prop::sample::select(vec![
            "A",
            "AAAA",
            "NS",
            "SOA",
            "MX",
            "TXT",
            "SPF",
            "SRV",
            "CAA",
            "NAPTR",
            "SSHFP",
            "TLSA",
            "HTTPS",
            "SVCB",
            "DS",
            "DNSKEY",
            "RRSIG",
            "NSEC",
            "NSEC3",
            "NSEC3PARAM",
            "HINFO",
            "TYPE65280",
            "ANY",
            "CNAME",
            "DNAME",
            "PTR",
            "LOC",
        ])
        .prop_map(|s| format!(" {s} ")),
        "[a-z0-9.\\-_*=,:+/]{1,12}",
        "[0-9a-f]{1,16}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

fn no_fs_file() -> Arc<Path> {
    // `$INCLUDE` in generated text resolves inside a directory that does
    // not exist, so the test never reads real files.
    Arc::from(Path::new("/nonexistent-dnsd-master-proptest/dir/x.zone"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_zoneish_text(text in zoneish()) {
        let text = text.replace('/', "x");
        let p = parse(&text, &no_fs_file(), &n("example.com"), 3600);
        let lines = u32::try_from(text.split('\n').count()).unwrap();
        for d in &p.diagnostics {
            prop_assert!(d.origin.line <= lines);
        }
        for r in &p.records {
            prop_assert!(r.origin.line >= 1 && r.origin.line <= lines);
        }
    }

    /// Damaged versions of a zone that uses every supported type, to reach
    /// deep into the RDATA parsers.
    #[test]
    fn parse_never_panics_on_damaged_zone(
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0usize..4, "[ -~\t\n]{0,3}"),
            1..8,
        )
    ) {
        let mut text = ALL_TYPES.replace('/', "x").into_bytes();
        for (at, cut, insert) in edits {
            let pos = at.index(text.len() + 1);
            let end = (pos + cut).min(text.len());
            text.splice(pos..end, insert.bytes());
        }
        let text = String::from_utf8_lossy(&text).replace('/', "x");
        let _ = parse(&text, &no_fs_file(), &n("example.com"), 3600);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in any::<String>()) {
        let text = text.replace('/', "x");
        let _ = parse(&text, &no_fs_file(), &n("example.com"), 3600);
    }
}
