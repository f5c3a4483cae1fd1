//! RFC 2136 UPDATE processing, bytes in, over a small zone: never panics,
//! and what it returns is consistent (a change set moves the serial
//! forward and stays inside the zone; the response keeps the ID).
#![no_main]
use std::sync::{Arc, OnceLock};

use dnsd::update::{UpdatePolicy, process, render_response, zone_of};
use dnsd::wire::name::Name;
use dnsd::wire::rdata::Rtype;
use dnsd::zone::snapshot::Zone;
use libfuzzer_sys::fuzz_target;

const ZONE: &str = "$ORIGIN example.info.
$TTL 3600
@        SOA   ns1 hostmaster 4294967290 3600 600 86400 300
@        NS    ns1
@        NS    ns2
@        MX    10 mx.example.com.
ns1      A     192.0.2.53
ns2      A     192.0.2.54
www      A     192.0.2.10
www      AAAA  2001:db8::10
subspace 300 A 192.0.2.7
*        CNAME subspace
alias    CNAME www
child    NS    ns1.child
ns1.child A    192.0.2.99
a.b.c    TXT   \"deep\"
";

/// Allows everything but TXT, so that both answers are reachable.
struct NoTxt;
impl UpdatePolicy for NoTxt {
    fn allows(&self, _: &Name, rtype: Rtype) -> bool {
        rtype != Rtype::TXT
    }
}

fn zone() -> &'static Zone {
    static ZONE_CELL: OnceLock<Zone> = OnceLock::new();
    ZONE_CELL.get_or_init(|| {
        let apex = Name::parse_text("example.info").unwrap();
        let file: Arc<std::path::Path> = Arc::from(std::path::Path::new("fuzz-zone"));
        let parsed = dnsd::zone::master::parse(ZONE, &file, &apex, 3600);
        let input = dnsd::zone::compile::ZoneInput {
            apex,
            records: parsed.records,
            wildcards: Default::default(),
            source: "fuzz-zone".into(),
        };
        let compiled = dnsd::zone::compile::compile_inputs(vec![input], Vec::new()).unwrap();
        compiled.snapshot.zones.into_iter().next().unwrap().into_inner()
    })
}

fuzz_target!(|data: &[u8]| {
    let zone = zone();
    let _ = zone_of(data);
    let result = process(data, zone, &NoTxt);
    if let Ok(Some(cs)) = &result {
        assert!(!cs.changes.is_empty());
        assert_ne!(cs.serial_before, cs.serial_after);
        assert!(cs.changes.iter().all(|c| c.owner.is_subdomain_of(&zone.apex)));
        assert!(cs.changes.iter().all(|c| c.before != c.after));
    }
    let mut out = Vec::new();
    render_response(data, result.map(|_| ()), &mut out);
    if data.len() >= 12 {
        assert_eq!(out[..2], data[..2]);
    } else {
        assert!(out.is_empty());
    }
});
