//! The whole query path, bytes in to bytes out, over a small zone: never
//! panics, and a UDP response without EDNS never exceeds 512 bytes.
#![no_main]
use std::sync::{Arc, OnceLock};

use dnsd::engine::{EngineSettings, Transport, respond};
use dnsd::zone::snapshot::Snapshot;
use libfuzzer_sys::fuzz_target;

const DATA: &[u8] = b"Zexample.info:ns1.example.info:hostmaster.example.info:1:3600:600:86400:300:1000
&example.info:192.0.2.1:ns1.example.info
+example.info:192.0.2.80
@example.info:192.0.2.25:mx
Csubspace.example.info:host.example.info
C*.example.info:subspace.example.info
+host.example.info:192.0.2.10
C*.host.example.info:host.example.info
&child.example.info:192.0.2.53:ns1.child.example.info
'example.info:v=spf1 mx -all
";

fn snapshot() -> &'static Snapshot {
    static SNAP: OnceLock<Snapshot> = OnceLock::new();
    SNAP.get_or_init(|| {
        let file: Arc<std::path::Path> = Arc::from(std::path::Path::new("fuzz-data"));
        let parsed = dnsd::zone::tinydns::parse(DATA, &file, &dnsd::zone::tinydns::TinyOptions { default_serial: 1 });
        let input = dnsd::zone::compile::ZoneInput {
            apex: dnsd::wire::name::Name::parse_text("example.info").unwrap(),
            records: parsed.records,
            wildcards: Default::default(),
            source: "fuzz-data".into(),
        };
        dnsd::zone::compile::compile_inputs(vec![input], Vec::new()).unwrap().snapshot
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if respond(snapshot(), &EngineSettings::default(), data, Transport::Udp, &mut out) {
        let has_opt = dnsd::wire::query::parse(data).map(|q| q.edns.is_some()).unwrap_or(true);
        assert!(has_opt || out.len() <= 512);
    }
});
