//! Tests of the XDP program and its loader.
//!
//! The `root_*` tests load the real program into the kernel and therefore need
//! root (CAP_BPF, CAP_NET_ADMIN). Without it they FAIL with a message saying
//! so; they never skip, so CI cannot silently lose XDP coverage.

use std::{collections::BTreeMap, process::Command};

use dnsd_common::net::{ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IPPROTO_UDP};

use super::*;

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test loads the XDP program into the kernel and needs root (CAP_BPF, \
         CAP_NET_ADMIN); run the tests as root (e.g. `cargo xtask test` in the root \
         container, or `sudo -E cargo test -p dnsd xdp::`). It fails instead of skipping \
         on purpose."
    );
}

fn load(config: Config) -> XdpProgram {
    require_root();
    match XdpProgram::load(config) {
        Ok(program) => program,
        Err(error) => panic!("loading the XDP program failed: {error}"),
    }
}

// ---------------------------------------------------------------------------
// A tiny frame builder with real checksums.
// ---------------------------------------------------------------------------

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const CLIENT_V4: [u8; 4] = [192, 0, 2, 1];
const SERVER_V4: [u8; 4] = [192, 0, 2, 53];
const CLIENT_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER_V6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
];
const CLIENT_PORT: u16 = 40000;

/// One's-complement sum of `data` (odd length padded with a zero byte),
/// folded, not inverted.
fn ones_sum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// Internet checksum (RFC 1071) of `data`.
fn checksum(data: &[u8]) -> u16 {
    !ones_sum(data)
}

/// A UDP/TCP checksum over the pseudo-header and segment; 0 becomes 0xFFFF for UDP.
fn l4_checksum(pseudo: &[u8], segment: &[u8], proto: u8) -> u16 {
    let mut all = pseudo.to_vec();
    all.extend_from_slice(segment);
    match checksum(&all) {
        0 if proto == IPPROTO_UDP => 0xFFFF,
        c => c,
    }
}

fn pseudo_v4(proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&CLIENT_V4);
    p.extend_from_slice(&SERVER_V4);
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

fn pseudo_v6(proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(&CLIENT_V6);
    p.extend_from_slice(&SERVER_V6);
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, proto]);
    p
}

/// UDP header + payload, checksum over `pseudo` (built for the final length).
fn udp(dport: u16, payload: &[u8], pseudo: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut s = Vec::with_capacity(len);
    s.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&(len as u16).to_be_bytes());
    s.extend_from_slice(&[0, 0]);
    s.extend_from_slice(payload);
    let c = l4_checksum(&pseudo(len), &s, IPPROTO_UDP);
    s[6..8].copy_from_slice(&c.to_be_bytes());
    s
}

/// A TCP SYN (20-byte header, no options).
fn tcp_syn(dport: u16, pseudo: impl Fn(usize) -> Vec<u8>) -> Vec<u8> {
    let mut s = Vec::with_capacity(20);
    s.extend_from_slice(&CLIENT_PORT.to_be_bytes());
    s.extend_from_slice(&dport.to_be_bytes());
    s.extend_from_slice(&0x0102_0304u32.to_be_bytes()); // seq
    s.extend_from_slice(&0u32.to_be_bytes()); // ack
    s.extend_from_slice(&[5 << 4, 0x02]); // data offset 5, SYN
    s.extend_from_slice(&64240u16.to_be_bytes()); // window
    s.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    let c = l4_checksum(&pseudo(s.len()), &s, IPPROTO_TCP);
    s[16..18].copy_from_slice(&c.to_be_bytes());
    s
}

/// IPv4 header (with `options`, a multiple of 4 bytes) + `segment`.
fn ipv4(proto: u8, frag_off: u16, options: &[u8], segment: &[u8]) -> Vec<u8> {
    assert_eq!(options.len() % 4, 0);
    let hlen = 20 + options.len();
    let total = hlen + segment.len();
    let mut p = Vec::with_capacity(total);
    p.push(0x40 | (hlen / 4) as u8);
    p.push(0);
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&0x1c46u16.to_be_bytes()); // id
    p.extend_from_slice(&frag_off.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&CLIENT_V4);
    p.extend_from_slice(&SERVER_V4);
    p.extend_from_slice(options);
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(segment);
    p
}

fn ipv6(next_header: u8, segment: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + segment.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(segment.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next_header, 64]);
    p.extend_from_slice(&CLIENT_V6);
    p.extend_from_slice(&SERVER_V6);
    p.extend_from_slice(segment);
    p
}

/// Ethernet frame with the given tag TPIDs (outermost first), padded to the
/// 60-byte minimum as a NIC would.
fn ethernet(tpids: &[u16], ether_type: u16, l3: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60.max(18 + l3.len()));
    f.extend_from_slice(&SERVER_MAC);
    f.extend_from_slice(&CLIENT_MAC);
    for (i, tpid) in tpids.iter().enumerate() {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(100 + i as u16).to_be_bytes()); // TCI: VLAN 100, 101, ...
    }
    f.extend_from_slice(&ether_type.to_be_bytes());
    f.extend_from_slice(l3);
    f.resize(f.len().max(60), 0);
    f
}

/// A DNS query for `example.com. IN A` with RD set.
fn dns_query() -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x07example\x03com\x00");
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

fn udp4_frame(tpids: &[u16], dport: u16, payload: &[u8]) -> Vec<u8> {
    let seg = udp(dport, payload, |len| pseudo_v4(IPPROTO_UDP, len));
    ethernet(tpids, ETH_P_IP, &ipv4(IPPROTO_UDP, 0, &[], &seg))
}

fn udp6_frame(tpids: &[u16], dport: u16, payload: &[u8]) -> Vec<u8> {
    let seg = udp(dport, payload, |len| pseudo_v6(IPPROTO_UDP, len));
    ethernet(tpids, ETH_P_IPV6, &ipv6(IPPROTO_UDP, &seg))
}

#[test]
fn frame_builder_checksums_verify() {
    // RFC 1071 style known answer: the classic 20-byte header example.
    let header = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    assert_eq!(checksum(&header), 0xb861);

    // Every header we build sums to 0xFFFF including its checksum field.
    let frame = udp4_frame(&[], 53, &dns_query());
    let ip = &frame[14..34];
    assert_eq!(ones_sum(ip), 0xFFFF);
    let udp_len = u16::from_be_bytes([frame[38], frame[39]]) as usize;
    let mut all = pseudo_v4(IPPROTO_UDP, udp_len);
    all.extend_from_slice(&frame[34..34 + udp_len]);
    assert_eq!(ones_sum(&all), 0xFFFF);

    let frame = udp6_frame(&[ETH_P_8021Q], 53, &dns_query());
    let l4 = 18 + 40;
    let udp_len = u16::from_be_bytes([frame[l4 + 4], frame[l4 + 5]]) as usize;
    let mut all = pseudo_v6(IPPROTO_UDP, udp_len);
    all.extend_from_slice(&frame[l4..l4 + udp_len]);
    assert_eq!(ones_sum(&all), 0xFFFF);

    let seg = tcp_syn(53, |len| pseudo_v4(IPPROTO_TCP, len));
    let mut all = pseudo_v4(IPPROTO_TCP, seg.len());
    all.extend_from_slice(&seg);
    assert_eq!(ones_sum(&all), 0xFFFF);
}

#[test]
fn empty_object_means_not_built() {
    let err = XdpProgram::load_object(&[], Config::default()).unwrap_err();
    assert!(matches!(err, XdpError::NotBuilt), "{err}");
    assert!(err.to_string().contains("AYA_BUILD_SKIP"), "{err}");
}

#[test]
fn program_and_error_are_send_and_sync() {
    // The daemon shares the program (counters at scrape time) across tasks.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<XdpProgram>();
    assert_send_sync::<XdpError>();
}

#[test]
fn counter_names_are_unique_and_in_range() {
    let mut seen = BTreeMap::new();
    for &(index, name) in COUNTER_NAMES {
        assert!(index < COUNTER_SLOTS);
        assert!(seen.insert(name, index).is_none(), "duplicate name {name}");
        assert_eq!(counter_name(index), Some(name));
    }
}

// ---------------------------------------------------------------------------
// Root tests: BPF_PROG_TEST_RUN on crafted frames.
// ---------------------------------------------------------------------------

/// Runs every frame once; asserts XDP_PASS and an unchanged frame; returns
/// the counter deltas.
fn run_frames(program: &XdpProgram, frames: &[(&str, Vec<u8>)]) -> Vec<i128> {
    let before = program.counters().expect("reading counters");
    for (name, frame) in frames {
        let out = program
            .test_run(frame, 1)
            .unwrap_or_else(|e| panic!("{name}: test run failed: {e}"));
        assert_eq!(out.action, action::PASS, "{name}: verdict");
        assert_eq!(&out.frame, frame, "{name}: the frame was modified");
    }
    let after = program.counters().expect("reading counters");
    assert_eq!(after.as_slice().len(), COUNTER_SLOTS as usize);
    after
        .as_slice()
        .iter()
        .zip(before.as_slice())
        .map(|(a, b)| i128::from(*a) - i128::from(*b))
        .collect()
}

fn assert_deltas(deltas: &[i128], expected: &[(u32, i128)]) {
    for (index, delta) in deltas.iter().enumerate() {
        let index = index as u32;
        let want: i128 = expected
            .iter()
            .filter(|(i, _)| *i == index)
            .map(|(_, d)| d)
            .sum();
        let name = counter_name(index).unwrap_or("unnamed");
        assert_eq!(*delta, want, "counter {index} ({name})");
    }
}

#[test]
fn root_test_run_counts_dns_frames_and_passes_everything() {
    // Default config: port 0 means 53.
    let program = load(Config::default());
    assert_eq!(program.config().unwrap().effective_dns_port(), 53);

    let query = dns_query();
    let mut truncated = udp4_frame(&[], 53, &query);
    truncated.truncate(14 + 20 + 4); // ends inside the UDP header
    let mut bad_udp_len = udp4_frame(&[], 53, &query);
    bad_udp_len[14 + 20 + 5] += 1; // UDP length one more than the IP payload
    let tcp = ethernet(
        &[],
        ETH_P_IP,
        &ipv4(
            IPPROTO_TCP,
            0,
            &[],
            &tcp_syn(53, |len| pseudo_v4(IPPROTO_TCP, len)),
        ),
    );
    let fragment = {
        let seg = udp(53, &query, |len| pseudo_v4(IPPROTO_UDP, len));
        ethernet(&[], ETH_P_IP, &ipv4(IPPROTO_UDP, 0x2000, &[], &seg)) // MF
    };
    let options = {
        let seg = udp(53, &query, |len| pseudo_v4(IPPROTO_UDP, len));
        // Router Alert option (RFC 2113), IHL 6.
        ethernet(&[], ETH_P_IP, &ipv4(IPPROTO_UDP, 0, &[0x94, 4, 0, 0], &seg))
    };
    let arp = ethernet(&[], 0x0806, &[0u8; 28]);

    let dns_frames = [
        ("IPv4 UDP/53", udp4_frame(&[], 53, &query)),
        ("IPv6 UDP/53", udp6_frame(&[], 53, &query)),
        ("802.1Q IPv4 UDP/53", udp4_frame(&[ETH_P_8021Q], 53, &query)),
        (
            "QinQ IPv6 UDP/53",
            udp6_frame(&[ETH_P_8021AD, ETH_P_8021Q], 53, &query),
        ),
        // 54 bytes of headers + DNS header only, padded to 60 by `ethernet`.
        (
            "padded short IPv4 UDP/53",
            udp4_frame(&[], 53, &query[..12]),
        ),
    ];
    let other_frames = [
        ("IPv4 TCP/53", tcp),
        ("truncated IPv4 UDP/53", truncated),
        ("ARP", arp),
        (
            "Ethernet header only",
            ethernet(&[], ETH_P_IP, &[])[..14].to_vec(),
        ),
        ("IPv4 UDP/123", udp4_frame(&[], 123, &[0u8; 48])),
        ("IPv6 UDP/123", udp6_frame(&[], 123, &[0u8; 48])),
        (
            "three tags",
            udp4_frame(&[ETH_P_8021AD, ETH_P_8021Q, ETH_P_8021Q], 53, &query),
        ),
        ("IPv4 fragment", fragment),
        ("IPv4 options", options),
        ("UDP length mismatch", bad_udp_len),
    ];
    let frames: Vec<_> = dns_frames.iter().chain(&other_frames).cloned().collect();

    let deltas = run_frames(&program, &frames);
    assert_deltas(
        &deltas,
        &[
            (COUNTER_PACKETS_SEEN, frames.len() as i128),
            (COUNTER_DNS_UDP, dns_frames.len() as i128),
            (COUNTER_PASS_NOT_UDP, 1),
            (COUNTER_PASS_TRUNCATED, 1),
            (COUNTER_PASS_NOT_IP, 1),
            // The 14-byte frame claims IPv4 but has no IP header.
            (COUNTER_PASS_TRUNCATED, 1),
            (COUNTER_PASS_OTHER_PORT, 2),
            (COUNTER_PASS_TOO_MANY_VLANS, 1),
            (COUNTER_PASS_IP_FRAGMENT, 1),
            (COUNTER_PASS_IPV4_OPTIONS, 1),
            (COUNTER_PASS_BAD_LENGTH, 1),
            // No allow-list yet: every DNS frame is "not ours".
            (COUNTER_PASS_NOT_OURS, dns_frames.len() as i128),
        ],
    );
}

#[test]
fn root_configured_port_is_used() {
    let mut program = load(Config::new(5353));
    assert_eq!(program.config().unwrap(), Config::new(5353));
    let query = dns_query();
    let frames = [
        ("IPv4 UDP/53", udp4_frame(&[], 53, &query)),
        ("IPv6 UDP/5353", udp6_frame(&[], 5353, &query)),
    ];
    let deltas = run_frames(&program, &frames);
    assert_deltas(
        &deltas,
        &[
            (COUNTER_PACKETS_SEEN, 2),
            (COUNTER_DNS_UDP, 1),
            (COUNTER_PASS_OTHER_PORT, 1),
            (COUNTER_PASS_NOT_OURS, 1),
        ],
    );

    // Reconfiguring takes effect for the next packet.
    program.set_config(Config::new(53)).unwrap();
    let deltas = run_frames(&program, &frames);
    assert_deltas(
        &deltas,
        &[
            (COUNTER_PACKETS_SEEN, 2),
            (COUNTER_DNS_UDP, 1),
            (COUNTER_PASS_OTHER_PORT, 1),
            (COUNTER_PASS_NOT_OURS, 1),
        ],
    );
    assert_eq!(program.counter(COUNTER_DNS_UDP).unwrap(), 2);
}

// ---------------------------------------------------------------------------
// Root test: attach, fallback, detach on drop (veth: native; bridge: generic).
// ---------------------------------------------------------------------------

/// Deletes the test interface on drop.
struct TestLink(String);

impl TestLink {
    fn create(name: String, args: &[&str]) -> Self {
        let _ = Command::new("ip").args(["link", "del", &name]).output();
        let out = Command::new("ip")
            .args(["link", "add", &name])
            .args(args)
            .output()
            .expect("running `ip` (iproute2)");
        assert!(
            out.status.success(),
            "ip link add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(name)
    }

    /// The XDP part of `ip -d link show`: "xdp" (native), "xdpgeneric" or None.
    fn xdp_state(&self) -> Option<String> {
        let out = Command::new("ip")
            .args(["-d", "link", "show", "dev", &self.0])
            .output()
            .expect("running `ip`");
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find(|w| *w == "xdp" || *w == "xdpgeneric" || *w == "xdpdrv")
            .map(str::to_owned)
    }
}

impl Drop for TestLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

#[test]
fn root_attach_native_or_generic_and_detach_on_drop() {
    let mut program = load(Config::default());
    let id = std::process::id() % 100_000;
    let veth = TestLink::create(
        format!("dxa{id}"),
        &["type", "veth", "peer", "name", &format!("dxb{id}")],
    );
    let bridge = TestLink::create(format!("dxc{id}"), &["type", "bridge"]);

    assert_eq!(
        program
            .attach(&veth.0, AttachMode::NativeOrGeneric)
            .unwrap(),
        AttachMode::Native,
        "veth supports native XDP"
    );
    assert_eq!(veth.xdp_state().as_deref(), Some("xdp"));

    // a bridge has no native XDP: NativeOrGeneric falls back, Native alone fails.
    let err = program.attach(&bridge.0, AttachMode::Native).unwrap_err();
    assert!(
        err.to_string().contains("generic (skb) mode may work"),
        "{err}"
    );
    assert_eq!(
        program
            .attach(&bridge.0, AttachMode::NativeOrGeneric)
            .unwrap(),
        AttachMode::Generic
    );
    assert_eq!(bridge.xdp_state().as_deref(), Some("xdpgeneric"));
    assert_eq!(program.attached().count(), 2);

    let err = program
        .attach("dnsd-no-such-if", AttachMode::NativeOrGeneric)
        .unwrap_err();
    assert!(matches!(err, XdpError::UnknownInterface { .. }), "{err}");

    program.detach(&veth.0).unwrap();
    assert_eq!(veth.xdp_state(), None);
    assert!(matches!(
        program.detach(&veth.0),
        Err(XdpError::NotAttached { .. })
    ));

    drop(program);
    assert_eq!(bridge.xdp_state(), None, "drop must detach");
}

// ---------------------------------------------------------------------------
// Root tests: answering. Every XDP_TX reply is checked header by header
// (frame::check_reply) and its DNS message compared byte for byte with the
// engine's response to the same query bytes, and with the model
// (`fastpath::model`); every XDP_PASS leaves the frame untouched.
// ---------------------------------------------------------------------------

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::frame::{FrameSpec, check_reply};
use crate::engine::{self, EngineSettings, Transport};
use crate::fastpath::{Table, model, table};
use crate::zone::snapshot::Snapshot;

const V4_CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const V4_SERVER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53));
const V4_OTHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 54));
const V6_CLIENT: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 7));
const V6_SERVER: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53));
const V6_OTHER: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x54));

const T_A: u16 = 1;
const T_NS: u16 = 2;
const T_CNAME: u16 = 5;
const T_SOA: u16 = 6;
const T_MX: u16 = 15;
const T_TXT: u16 = 16;
const T_AAAA: u16 = 28;
const T_DS: u16 = 43;
const T_AXFR: u16 = 252;
const T_ANY: u16 = 255;

/// The zones every answering test serves. `example.com` has the cases of
/// xdp-fast-path.md §4 (exact, CNAME, ENT, wildcard with MX additional,
/// delegation with glue, a deep name, an RRset too big for 512 bytes);
/// `example.org` a wildcard at the apex.
fn zone_text(serial: u32, www: &str) -> [(&'static str, String); 2] {
    let mut big = String::new();
    for i in 1..=40 {
        big.push_str(&format!("big     A     192.0.2.{i}\n"));
    }
    [
        (
            "example.com.",
            format!(
                "$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster {serial} 3600 900 604800 300
@       NS    ns1
@       NS    ns2.example.net.
@       MX    10 mail
ns1     A     192.0.2.53
ns1     AAAA  2001:db8::53
www     A     {www}
www     AAAA  2001:db8::1
mail    A     192.0.2.25
alias   CNAME www
txt     TXT   \"hello world\"
*.wild  A     192.0.2.99
*.wild  MX    10 mail
sub     NS    ns.sub
ns.sub  A     192.0.2.200
deep.a.b.c.d.e.f.g A 192.0.2.7
x.y     A     192.0.2.8
{big}"
            ),
        ),
        (
            "example.org.",
            "$ORIGIN example.org.
$TTL 600
@       SOA   ns1.example.com. hostmaster 7 3600 900 604800 60
@       NS    ns1.example.com.
*       A     198.51.100.1
host    A     198.51.100.2
"
            .to_owned(),
        ),
    ]
}

fn compile_zones(serial: u32, www: &str) -> Snapshot {
    snapshot_of(&zone_text(serial, www))
}

/// Master-file zones `(apex, text)` compiled into one snapshot (RFC 4592
/// wildcards).
fn snapshot_of(zones: &[(&str, String)]) -> Snapshot {
    use std::{path::Path, sync::Arc};

    use crate::config::WildcardMode;
    use crate::wire::name::Name;
    use crate::zone::{
        compile::{ZoneInput, compile_inputs},
        master,
    };

    let inputs = zones
        .iter()
        .map(|(apex, text)| {
            let apex = Name::parse_text(apex).unwrap();
            let file: Arc<Path> = Arc::from(Path::new("xdp-test.zone"));
            let parsed = master::parse(text, &file, &apex, 3600);
            assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
            ZoneInput {
                apex,
                records: parsed.records,
                wildcards: WildcardMode::Rfc4592,
                source: "xdp-test.zone".into(),
            }
        })
        .collect();
    compile_inputs(inputs, Vec::new())
        .unwrap_or_else(|e| panic!("{e}: {:?}", e.diagnostics))
        .snapshot
}

/// A query message, byte by byte.
#[derive(Clone, Debug)]
struct Msg {
    id: u16,
    flags: u16,
    counts: [u16; 4],
    /// Wire-format name as sent (any case, possibly malformed).
    qname: Vec<u8>,
    qtype: u16,
    qclass: u16,
    /// Additional section bytes (an OPT, or anything).
    additional: Vec<u8>,
    /// Bytes after everything.
    trailing: Vec<u8>,
}

impl Msg {
    fn new(name: &str, qtype: u16) -> Msg {
        Msg {
            id: 0x4d2e,
            flags: 0x0100,
            counts: [1, 0, 0, 0],
            qname: wire(name),
            qtype,
            qclass: 1,
            additional: Vec::new(),
            trailing: Vec::new(),
        }
    }

    /// With an OPT: UDP size, DO, version, options (RDATA).
    fn opt(mut self, udp: u16, dnssec_ok: bool, version: u8, rdata: &[u8]) -> Msg {
        self.additional = opt_rr(udp, dnssec_ok, version, rdata);
        self.counts[3] = 1;
        self
    }

    fn edns(self, udp: u16, dnssec_ok: bool) -> Msg {
        self.opt(udp, dnssec_ok, 0, &[])
    }

    fn bytes(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&self.flags.to_be_bytes());
        for c in self.counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(&self.qname);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&self.qclass.to_be_bytes());
        m.extend_from_slice(&self.additional);
        m.extend_from_slice(&self.trailing);
        m
    }
}

fn opt_rr(udp: u16, dnssec_ok: bool, version: u8, rdata: &[u8]) -> Vec<u8> {
    let mut o = vec![0, 0, 41];
    o.extend_from_slice(&udp.to_be_bytes());
    o.extend_from_slice(&[0, version, if dnssec_ok { 0x80 } else { 0 }, 0]);
    o.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    o.extend_from_slice(rdata);
    o
}

/// `a.b.c` → wire format, case kept.
fn wire(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        w.push(label.len() as u8);
        w.extend_from_slice(label.as_bytes());
    }
    w.push(0);
    w
}

/// A loaded program serving the test zones, with the engine and model to
/// compare against.
struct Harness {
    snapshot: Snapshot,
    settings: EngineSettings,
    table: Table,
    program: XdpProgram,
}

/// What one frame did.
#[derive(Debug)]
enum Outcome {
    /// XDP_TX; the reply's DNS message (headers already checked).
    Tx(Vec<u8>),
    /// XDP_PASS, frame untouched.
    Pass,
}

impl Harness {
    fn new(settings: EngineSettings) -> Harness {
        Self::with_snapshot(compile_zones(1, "192.0.2.1"), settings)
    }

    fn with_snapshot(snapshot: Snapshot, settings: EngineSettings) -> Harness {
        let table = table::build(&snapshot, &settings);
        let mut program = load(Config::new(53).with_edns_udp_size(settings.edns_udp_size));
        program.load_table(&table).expect("loading the table");
        program
            .set_addresses(&[V4_SERVER, V6_SERVER])
            .expect("setting the allow-list");
        Harness {
            snapshot,
            settings,
            table,
            program,
        }
    }

    fn engine(&self, msg: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        engine::respond(
            &self.snapshot,
            &self.settings,
            msg,
            Transport::Udp,
            &mut out,
        )
        .then_some(out)
    }

    fn model(&self, msg: &[u8]) -> Option<Vec<u8>> {
        model::answer(&self.table, self.settings.edns_udp_size, msg)
    }

    /// Runs `frame` (built by `spec`) once; checks the reply's headers or
    /// that a passed frame is untouched.
    fn run_frame(&self, spec: &FrameSpec, frame: &[u8]) -> Result<Outcome, String> {
        let out = self
            .program
            .test_run(frame, 1)
            .map_err(|e| format!("test run failed: {e}"))?;
        match out.action {
            action::TX => check_reply(spec, frame, &out.frame).map(Outcome::Tx),
            action::PASS if out.frame == frame => Ok(Outcome::Pass),
            action::PASS => Err("XDP_PASS with a modified frame".into()),
            other => Err(format!("verdict {other}")),
        }
    }

    /// Runs `msg` in a frame; an XDP_TX reply must equal the engine's
    /// response and the model's; the model must pass what XDP passes
    /// (unless `model_may_answer`: XDP-only pass reasons such as the
    /// allow-list or checksums).
    fn check(&self, what: &str, spec: &FrameSpec, msg: &[u8], model_may_answer: bool) -> Outcome {
        let frame = spec.build(msg);
        let outcome = self
            .run_frame(spec, &frame)
            .unwrap_or_else(|e| panic!("{what}: {e}\nquery {msg:02x?}"));
        let model = self.model(msg);
        match &outcome {
            Outcome::Tx(reply) => {
                let engine = self.engine(msg);
                assert_eq!(
                    Some(reply),
                    engine.as_ref(),
                    "{what}: XDP reply differs from the engine's\nquery {msg:02x?}"
                );
                assert_eq!(
                    Some(reply),
                    model.as_ref(),
                    "{what}: XDP reply differs from the model's"
                );
            }
            Outcome::Pass => {
                if !model_may_answer {
                    assert_eq!(
                        model, None,
                        "{what}: XDP passed what the model answers\nquery {msg:02x?}"
                    );
                }
            }
        }
        outcome
    }

    fn tx(&self, what: &str, spec: &FrameSpec, msg: &Msg) -> Vec<u8> {
        match self.check(what, spec, &msg.bytes(), false) {
            Outcome::Tx(reply) => reply,
            Outcome::Pass => panic!("{what}: expected XDP_TX, got XDP_PASS"),
        }
    }

    /// Asserts XDP_PASS (frame untouched) with `reason` counted (if given).
    fn pass(&self, what: &str, spec: &FrameSpec, frame: &[u8], reason: Option<u32>) {
        let before = self.program.counters().unwrap();
        match self.run_frame(spec, frame) {
            Ok(Outcome::Pass) => {}
            Ok(Outcome::Tx(_)) => panic!("{what}: expected XDP_PASS, got XDP_TX"),
            Err(e) => panic!("{what}: {e}"),
        }
        let after = self.program.counters().unwrap();
        let moved: Vec<u32> = (COUNTER_PASS_BASE..COUNTER_PASS_BASE + COUNTER_PASS_SLOTS)
            .filter(|&i| after.get(i) != before.get(i))
            .collect();
        assert_eq!(moved.len(), 1, "{what}: pass reasons counted: {moved:?}");
        if let Some(reason) = reason {
            assert_eq!(
                moved[0],
                reason,
                "{what}: counted {} instead of {}",
                counter_name(moved[0]).unwrap_or("?"),
                counter_name(reason).unwrap_or("?")
            );
        }
    }
}

/// Publishes `inner` as the program's table, bypassing `load_table`'s
/// checks (through the map's id, as a second process would).
fn publish(program: &XdpProgram, inner: &super::loader::TableMap) {
    use aya::maps::{ArrayOfMaps, Map, MapData};
    let id = program.tables_map_id().unwrap();
    let map = Map::from_map_data(MapData::from_id(id).unwrap()).unwrap();
    let mut outer: ArrayOfMaps<MapData, super::loader::TableMap> =
        ArrayOfMaps::try_from(map).unwrap();
    outer.set(dnsd_common::TABLE_SLOT, inner, 0).unwrap();
}

/// Issue 3 item 4: the map is keyed by a 64-bit hash of the name, so an
/// entry found may belong to another name. Such an entry is never sent,
/// and never taken for a miss either (a miss can mean NXDOMAIN): the
/// query passes. Collisions are forged by storing entries under the map
/// keys of names that do not exist, at each lookup step that can meet
/// one: the exact lookup, the name's node, an ancestor's node.
#[test]
fn root_hash_collisions_pass() {
    use crate::fastpath::make_key;
    use dnsd_common::fastpath::{KIND_EXACT, KIND_NODE};

    let h = Harness::new(EngineSettings::default());
    let lower = |name: &str| wire(name);
    let www_a = *h.table.exact(&lower("www.example.com"), T_A).unwrap();
    let www_node = *h.table.node(&lower("www.example.com")).unwrap();
    // Room for three more entries (the map is sized from the table).
    let pads: Vec<_> = ["pad1.invalid", "pad2.invalid", "pad3.invalid"]
        .map(|pad| make_key(&lower(pad), 0, KIND_NODE).unwrap())
        .into();
    let mut padded = h.table.clone();
    for key in &pads {
        padded
            .entries
            .push((*key, dnsd_common::fastpath::Entry::collision()));
    }
    let mut inner = super::loader::table_map(&padded).unwrap();
    for key in &pads {
        inner.remove(&key.map_key()).unwrap();
    }
    let forge = |inner: &mut super::loader::TableMap, name: &str, qtype, kind, e| {
        let key = make_key(&lower(name), qtype, kind).unwrap();
        assert!(h.table.get(&key).is_none(), "{name} must not exist");
        inner.insert(key.map_key(), e, 0).unwrap();
    };
    forge(&mut inner, "nope.example.com", T_A, KIND_EXACT, www_a);
    forge(&mut inner, "gone.example.com", 0, KIND_NODE, www_node);
    forge(&mut inner, "absent.example.com", 0, KIND_NODE, www_node);
    publish(&h.program, &inner);

    for (what, name) in [
        ("exact entry of another name", "nope.example.com"),
        ("node of another name", "Gone.example.com"),
        ("ancestor's node of another name", "a.b.absent.example.com"),
    ] {
        let frame = v4().build(&Msg::new(name, T_A).bytes());
        h.pass(what, &v4(), &frame, Some(COUNTER_PASS_COLLISION));
    }
    // The rest of the table still answers, as the engine.
    h.tx("exact A", &v4(), &Msg::new("www.example.com", T_A));
    h.tx("NXDOMAIN", &v4(), &Msg::new("other.example.com", T_A));
}

fn v4() -> FrameSpec {
    FrameSpec::new(V4_CLIENT, V4_SERVER)
}

fn v6() -> FrameSpec {
    FrameSpec::new(V6_CLIENT, V6_SERVER)
}

fn tagged(mut spec: FrameSpec, tags: &[u16]) -> FrameSpec {
    spec.tags = tags.to_vec();
    spec
}

fn rcode_of(reply: &[u8]) -> u16 {
    u16::from_be_bytes([reply[2], reply[3]]) & 0xF
}

fn counts_of(reply: &[u8]) -> [u16; 4] {
    let w = |i: usize| u16::from_be_bytes([reply[i], reply[i + 1]]);
    [w(4), w(6), w(8), w(10)]
}

#[test]
fn root_answers_exact_wildcard_nxdomain_nodata_referral() {
    let h = Harness::new(EngineSettings::default());
    let specs = [
        ("IPv4", v4()),
        ("IPv6", v6()),
        ("802.1Q IPv4", tagged(v4(), &[ETH_P_8021Q])),
        ("QinQ IPv6", tagged(v6(), &[ETH_P_8021AD, ETH_P_8021Q])),
    ];
    let cases: Vec<(&str, Msg)> = vec![
        ("exact A", Msg::new("www.example.com", T_A)),
        ("exact A, 0x20 case", Msg::new("wWw.ExAmPlE.CoM", T_A)),
        ("exact AAAA", Msg::new("WWW.EXAMPLE.COM", T_AAAA)),
        ("apex MX with additional", Msg::new("Example.com", T_MX)),
        ("apex NS", Msg::new("example.com", T_NS)),
        ("apex SOA", Msg::new("example.com", T_SOA)),
        ("TXT", Msg::new("txt.example.com", T_TXT)),
        ("CNAME owner, A", Msg::new("Alias.example.com", T_A)),
        ("CNAME owner, CNAME", Msg::new("alias.example.com", T_CNAME)),
        ("ANY", Msg::new("www.example.com", T_ANY)),
        ("wildcard A", Msg::new("host.wild.example.com", T_A)),
        ("wildcard A, 0x20", Msg::new("HoSt.WiLd.eXample.com", T_A)),
        ("wildcard MX", Msg::new("a.b.wild.example.com", T_MX)),
        ("wildcard NODATA", Msg::new("host.wild.example.com", T_TXT)),
        ("apex wildcard", Msg::new("anything.example.org", T_A)),
        ("NXDOMAIN", Msg::new("nope.example.com", T_A)),
        ("NXDOMAIN, 0x20", Msg::new("NoPe.Example.COM", T_AAAA)),
        (
            "NXDOMAIN below an existing name",
            Msg::new("a.b.www.example.com", T_A),
        ),
        ("NODATA", Msg::new("www.example.com", T_TXT)),
        (
            "NODATA at an empty non-terminal",
            Msg::new("y.example.com", T_A),
        ),
        ("referral at the cut", Msg::new("sub.example.com", T_A)),
        (
            "referral below the cut",
            Msg::new("host.sub.EXAMPLE.com", T_A),
        ),
        ("referral at glue", Msg::new("ns.sub.example.com", T_A)),
        (
            "deep exact",
            Msg::new("deep.a.b.c.d.e.f.g.example.com", T_A),
        ),
        (
            "deep NXDOMAIN",
            Msg::new("x.deep.a.b.c.d.e.f.g.example.com", T_A),
        ),
        ("other zone", Msg::new("host.example.org", T_A)),
    ];
    let mut kinds = BTreeMap::new();
    for (spec_name, spec) in &specs {
        for (case, msg) in &cases {
            for (edns_name, m) in [
                ("no OPT", msg.clone()),
                ("OPT 1232", msg.clone().edns(1232, false)),
                ("OPT 4096 DO", msg.clone().edns(4096, true)),
                ("OPT 512 DO", msg.clone().edns(512, true)),
                ("OPT 0", msg.clone().edns(0, false)),
            ] {
                let what = format!("{spec_name}, {case}, {edns_name}");
                let reply = h.tx(&what, spec, &m);
                *kinds
                    .entry((rcode_of(&reply), counts_of(&reply)[1] > 0))
                    .or_insert(0) += 1;
                if m.counts[3] == 1 {
                    // The OPT: last, DO echoed, CLASS = our size.
                    let opt = &reply[reply.len() - 11..];
                    assert_eq!(&opt[..5], &[0, 0, 41, 0x04, 0xd0], "{what}");
                    assert_eq!(opt[7] & 0x80 != 0, m.additional[7] & 0x80 != 0, "{what}");
                }
                // The question comes back as sent (0x20).
                assert_eq!(&reply[12..12 + m.qname.len()], &m.qname[..], "{what}");
            }
        }
    }
    assert!(
        kinds.keys().any(|(rcode, _)| *rcode == 3),
        "no NXDOMAIN seen"
    );

    // Bytes after the IP packet (Ethernet padding, trailers) are not part of
    // the query, and the reply is exactly as long as its IP length says.
    for spec in [v4(), tagged(v6(), &[ETH_P_8021Q])] {
        for (case, msg) in &cases[..3] {
            let msg = msg.bytes();
            let mut frame = spec.build(&msg);
            frame.extend_from_slice(&[0xa5; 37]);
            let what = format!("{case} with 37 bytes of trailer");
            match h.run_frame(&spec, &frame) {
                Ok(Outcome::Tx(reply)) => assert_eq!(Some(reply), h.engine(&msg), "{what}"),
                other => panic!("{what}: {other:?}"),
            }
        }
    }
}

#[test]
fn root_passes_what_it_cannot_answer_byte_for_byte() {
    let h = Harness::new(EngineSettings::default());
    let spec = v4();
    let www = Msg::new("www.example.com", T_A);
    let mut cases: Vec<(&str, Vec<u8>, Option<u32>)> = Vec::new();
    let mut add = |what, msg: Msg, reason: u32| cases.push((what, msg.bytes(), Some(reason)));

    let mut m = www.clone();
    m.flags |= 0x8000;
    add("QR=1", m, COUNTER_PASS_NOT_QUERY);
    let mut m = www.clone();
    m.flags |= 4 << 11;
    add("opcode NOTIFY", m, COUNTER_PASS_NOT_QUERY);
    let mut m = www.clone();
    m.flags |= 2 << 11;
    add("opcode STATUS", m, COUNTER_PASS_NOT_QUERY);
    let mut m = www.clone();
    m.counts[0] = 2;
    m.trailing = [wire("mail.example.com"), vec![0, 1, 0, 1]].concat();
    add("QDCOUNT 2", m, COUNTER_PASS_COUNTS);
    let mut m = www.clone();
    m.counts[0] = 0;
    add("QDCOUNT 0", m, COUNTER_PASS_COUNTS);
    let mut m = www.clone();
    m.counts[1] = 1;
    add("ANCOUNT 1", m, COUNTER_PASS_COUNTS);
    let mut m = www.clone();
    m.counts[2] = 1;
    add("NSCOUNT 1", m, COUNTER_PASS_COUNTS);
    let mut m = www.clone().edns(1232, false);
    m.counts[3] = 2;
    m.additional.extend(opt_rr(1232, false, 0, &[]));
    add("ARCOUNT 2", m, COUNTER_PASS_COUNTS);
    add(
        "OPT with a cookie",
        www.clone()
            .opt(1232, false, 0, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]),
        COUNTER_PASS_EDNS,
    );
    add(
        "OPT with padding",
        www.clone().opt(1232, false, 0, &[0, 12, 0, 0]),
        COUNTER_PASS_EDNS,
    );
    add(
        "OPT version 1",
        www.clone().opt(1232, true, 1, &[]),
        COUNTER_PASS_EDNS,
    );
    let mut m = www.clone().edns(1232, false);
    m.additional[0] = 1; // owner not root: "\x01a..." would be a name; here bad
    m.additional.splice(1..1, [b'a', 0]);
    add("OPT owner not root", m, COUNTER_PASS_EDNS);
    let mut m = www.clone();
    m.counts[3] = 1;
    m.additional = [
        wire("example.com"),
        vec![0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4],
    ]
    .concat();
    add("additional A instead of OPT", m, COUNTER_PASS_EDNS);
    let mut m = www.clone();
    m.trailing = vec![0];
    add("trailing byte", m, COUNTER_PASS_EDNS);
    let mut m = www.clone().edns(1232, false);
    m.trailing = vec![0, 0];
    add("bytes after the OPT", m, COUNTER_PASS_EDNS);
    let mut m = www.clone();
    m.qclass = 3;
    add("class CH", m, COUNTER_PASS_QCLASS);
    let mut m = www.clone();
    m.qclass = 255;
    add("class ANY", m, COUNTER_PASS_QCLASS);
    add("AXFR", Msg::new("example.com", T_AXFR), COUNTER_PASS_QTYPE);
    add("IXFR", Msg::new("example.com", 251), COUNTER_PASS_QTYPE);
    let long = format!("{}.{}.example.com", "a".repeat(30), "b".repeat(30));
    add(
        "name over 64 bytes",
        Msg::new(&long, T_A),
        COUNTER_PASS_NAME_TOO_LONG,
    );
    let mut m = www.clone();
    m.qname = vec![3, b'w', b'w', b'w', 0xC0, 12];
    add("compressed question name", m, COUNTER_PASS_BAD_NAME);
    let mut m = www.clone();
    m.qname = vec![0x41, b'x', 0];
    add("extended label type", m, COUNTER_PASS_BAD_NAME);
    add(
        "out of zone",
        Msg::new("www.example.net", T_A),
        COUNTER_PASS_MISS,
    );
    add("root", Msg::new(".", T_NS), COUNTER_PASS_MISS);
    add(
        "deeper than MAX_ANCESTORS below the encloser",
        Msg::new("a.b.c.d.e.f.g.h.i.nope.example.com", T_A),
        COUNTER_PASS_MISS,
    );
    add(
        "CNAME owner, type without exact entry",
        Msg::new("alias.example.com", 99),
        COUNTER_PASS_NODE,
    );
    // A response over 512 bytes without OPT. With TAIL_CAP = 384 and names
    // of at most 64 bytes no table entry can exceed 464 bytes, so the table
    // has no entry for it and the program's own size check
    // (COUNTER_PASS_TOO_BIG) is a second line of defence; the reason
    // counted is the builder's choice.
    cases.push((
        "big without OPT",
        Msg::new("big.example.com", T_A).bytes(),
        None,
    ));
    cases.push((
        "big with OPT",
        Msg::new("big.example.com", T_A).edns(4096, true).bytes(),
        None,
    ));
    for (what, msg, reason) in &cases {
        assert_eq!(h.model(msg), None, "{what}: the model answers it");
        h.pass(what, &spec, &spec.build(msg), *reason);
        let engine = h.engine(msg);
        if *what == "big without OPT" {
            // The engine sets TC: XDP rightly left it to userspace.
            let reply = engine.expect("the engine answers");
            assert_ne!(u16::from_be_bytes([reply[2], reply[3]]) & 0x0200, 0, "TC");
        }
    }

    // Frame-level reasons: not our address, checksums, short messages.
    let msg = www.bytes();
    for (what, spec, reason) in [
        (
            "IPv4 address not ours",
            FrameSpec::new(V4_CLIENT, V4_OTHER),
            COUNTER_PASS_NOT_OURS,
        ),
        (
            "IPv6 address not ours",
            FrameSpec::new(V6_CLIENT, V6_OTHER),
            COUNTER_PASS_NOT_OURS,
        ),
    ] {
        h.pass(what, &spec, &spec.build(&msg), Some(reason));
    }
    let l4 = spec.l3() + 20;
    let mut frame = spec.build(&msg);
    frame[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
    h.pass(
        "IPv4 UDP checksum 0",
        &spec,
        &frame,
        Some(COUNTER_PASS_NO_CHECKSUM),
    );
    let mut frame = spec.build(&msg);
    frame[l4 + 6] ^= 0x40;
    h.pass(
        "UDP checksum wrong",
        &spec,
        &frame,
        Some(COUNTER_PASS_BAD_CHECKSUM),
    );
    let mut frame = spec.build(&msg);
    frame[spec.dns() + 13] ^= 0x20; // corrupt the name, keep the checksum
    h.pass(
        "corrupted payload",
        &spec,
        &frame,
        Some(COUNTER_PASS_BAD_CHECKSUM),
    );
    h.pass(
        "header only",
        &spec,
        &spec.build(&msg[..12]),
        Some(COUNTER_PASS_SHORT),
    );
    let mut frame = spec.build(&msg);
    frame[spec.l3() + 10] ^= 0x10;
    h.pass(
        "IPv4 header checksum wrong",
        &spec,
        &frame,
        Some(COUNTER_PASS_BAD_CHECKSUM),
    );
    // Sources the kernel drops, or that must never receive a reflection.
    let mut bad_sources: Vec<(String, FrameSpec)> = [
        "0.1.2.3",
        "127.0.0.1",
        "224.0.0.251",
        "255.255.255.255",
        "240.0.0.1",
    ]
    .iter()
    .map(|a| {
        (
            format!("IPv4 source {a}"),
            FrameSpec::new(a.parse().unwrap(), V4_SERVER),
        )
    })
    .collect();
    bad_sources.extend(
        ["ff02::fb", "::", "::1", "::ffff:192.0.2.1"]
            .iter()
            .map(|a| {
                (
                    format!("IPv6 source {a}"),
                    FrameSpec::new(a.parse().unwrap(), V6_SERVER),
                )
            }),
    );
    let mut broadcast_mac = v4();
    broadcast_mac.src_mac = [0xff; 6];
    bad_sources.push(("broadcast source MAC".into(), broadcast_mac));
    let mut port_zero = v6();
    port_zero.src_port = 0;
    bad_sources.push(("UDP source port 0".into(), port_zero));
    for (what, spec) in &bad_sources {
        h.pass(what, spec, &spec.build(&msg), Some(COUNTER_PASS_BAD_SOURCE));
    }
    let s6 = v6();
    let mut frame = s6.build(&msg);
    let l4 = s6.l3() + 40;
    frame[l4 + 6..l4 + 8].copy_from_slice(&[0, 0]);
    h.pass(
        "IPv6 UDP checksum 0",
        &s6,
        &frame,
        Some(COUNTER_PASS_NO_CHECKSUM),
    );
    // Truncated inside the name (UDP length consistent with the frame).
    h.pass(
        "name cut short",
        &spec,
        &spec.build(&msg[..20]),
        Some(COUNTER_PASS_BAD_NAME),
    );
}

#[test]
fn root_empty_allow_list_and_no_table_answer_nothing() {
    require_root();
    let snapshot = compile_zones(1, "192.0.2.1");
    let settings = EngineSettings::default();
    let table = table::build(&snapshot, &settings);
    let mut program = load(Config::default());
    let spec = v4();
    let frame = spec.build(&Msg::new("www.example.com", T_A).bytes());
    let run = |program: &XdpProgram| program.test_run(&frame, 1).unwrap();

    // Table, no addresses.
    program.load_table(&table).unwrap();
    assert_eq!(run(&program).action, action::PASS);
    assert_eq!(program.counter(COUNTER_PASS_NOT_OURS).unwrap(), 1);
    // Addresses, and the table answers.
    program.set_addresses(&[V6_SERVER, V4_SERVER]).unwrap();
    let mut addresses = program.addresses().unwrap();
    addresses.sort();
    assert_eq!(addresses, vec![V4_SERVER, V6_SERVER]);
    assert_eq!(run(&program).action, action::TX);
    // Replacing the list removes what is gone.
    program.set_addresses(&[V6_SERVER]).unwrap();
    assert_eq!(program.addresses().unwrap(), vec![V6_SERVER]);
    assert_eq!(run(&program).action, action::PASS);
    assert_eq!(program.counter(COUNTER_PASS_NOT_OURS).unwrap(), 2);
    program.set_addresses(&[]).unwrap();
    assert!(program.addresses().unwrap().is_empty());

    // A fresh program: addresses but no table yet.
    let mut program = load(Config::default());
    program.set_addresses(&[V4_SERVER]).unwrap();
    assert_eq!(run(&program).action, action::PASS);
    assert_eq!(program.counter(COUNTER_PASS_NO_TABLE).unwrap(), 1);
    // An empty table answers nothing either.
    program.load_table(&Table::default()).unwrap();
    assert_eq!(run(&program).action, action::PASS);
    assert_eq!(program.counter(COUNTER_PASS_MISS).unwrap(), 1);
    assert_eq!(program.table_len(), 0);
}

#[test]
fn root_answered_counters_by_kind() {
    let h = Harness::new(EngineSettings::default());
    let spec = v6();
    let cases = [
        (Msg::new("www.example.com", T_A), COUNTER_ANSWERED_ANSWER),
        (Msg::new("www.example.com", T_TXT), COUNTER_ANSWERED_NODATA),
        (Msg::new("nope.example.com", T_A), COUNTER_ANSWERED_NXDOMAIN),
        (
            Msg::new("host.wild.example.com", T_A),
            COUNTER_ANSWERED_WILDCARD,
        ),
        (
            Msg::new("host.sub.example.com", T_A),
            COUNTER_ANSWERED_REFERRAL,
        ),
        (Msg::new("y.example.com", T_A), COUNTER_ANSWERED_NODATA),
        (
            Msg::new("host.wild.example.com", T_TXT),
            COUNTER_ANSWERED_WILDCARD,
        ),
    ];
    for (msg, counter) in &cases {
        let before = h.program.counters().unwrap();
        h.tx(&format!("{msg:?}"), &spec, msg);
        let after = h.program.counters().unwrap();
        for index in 0..COUNTER_SLOTS {
            let delta = after.get(index) - before.get(index);
            let want = u64::from(
                index == *counter || index == COUNTER_DNS_UDP || index == COUNTER_PACKETS_SEEN,
            );
            assert_eq!(
                delta,
                want,
                "{msg:?}: counter {index} ({})",
                counter_name(index).unwrap_or("unnamed")
            );
        }
    }
}

#[test]
fn root_server_udp_size_is_configurable() {
    // The OPT's CLASS is the server size, whatever the client's.
    for server in [4096u16, 1232, 512] {
        let h = Harness::new(EngineSettings {
            edns_udp_size: server,
        });
        for client in [0u16, 512, 1232, 4096] {
            let what = format!("server {server}, client {client}");
            let reply = h.tx(
                &what,
                &v4(),
                &Msg::new("www.example.com", T_A).edns(client, true),
            );
            let opt = &reply[reply.len() - 11..];
            assert_eq!(&opt[..3], &[0, 0, 41], "{what}");
            assert_eq!(u16::from_be_bytes([opt[3], opt[4]]), server, "{what}");
        }
    }
    // 0 in the config means 1232.
    let h = Harness::new(EngineSettings::default());
    assert_eq!(h.program.config().unwrap().effective_edns_udp_size(), 1232);
}

/// xorshift64*: a fixed, seedable generator (no dependency, reproducible).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A random query: names in and out of the zones in random case, random
/// types, OPT/DO or not with random sizes, sometimes malformed.
/// Names the property test builds its queries from (test zones).
const BASES: &[&str] = &[
    "example.com",
    "www.example.com",
    "ns1.example.com",
    "mail.example.com",
    "alias.example.com",
    "txt.example.com",
    "wild.example.com",
    "*.wild.example.com",
    "sub.example.com",
    "ns.sub.example.com",
    "deep.a.b.c.d.e.f.g.example.com",
    "c.d.e.f.g.example.com",
    "y.example.com",
    "x.y.example.com",
    "big.example.com",
    "example.org",
    "host.example.org",
    "*.example.org",
    "example.net",
    "com",
    "",
];

fn random_msg(rng: &mut Rng, bases: &[&str]) -> Msg {
    const LABELS: &[&str] = &[
        "www",
        "x",
        "a",
        "nope",
        "*",
        "wild",
        "sub",
        "ns1",
        "host",
        "-",
        "xn--d1acufc",
        "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
        "_tcp",
        "0",
    ];
    const TYPES: &[u16] = &[
        T_A, T_A, T_A, T_AAAA, T_NS, T_CNAME, T_SOA, T_MX, T_TXT, T_DS, T_ANY, 33, 65, 99, 0, 251,
        252, 65280, 41,
    ];
    let mut name = rng.pick(bases).to_string();
    for _ in 0..rng.below(4) {
        name = format!("{}.{name}", rng.pick(LABELS));
    }
    if rng.chance(3) {
        name = format!("{}.{name}", "z".repeat(1 + rng.below(63)));
    }
    // 0x20: random case.
    let name: String = name
        .chars()
        .map(|c| {
            if rng.chance(50) {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    let qtype = if rng.chance(5) {
        rng.next() as u16
    } else {
        *rng.pick(TYPES)
    };
    let mut m = Msg::new(&name, qtype);
    m.id = rng.next() as u16;
    // Flags the engine ignores (AA, TC, RA, Z, AD, CD, RCODE) and RD.
    m.flags = (rng.next() as u16) & 0x07FF;
    if rng.chance(50) {
        let udp = *rng.pick(&[0u16, 511, 512, 1220, 1232, 1400, 4096, 65535]);
        m = m.edns(udp, rng.chance(50));
        if rng.chance(10) {
            m.additional[5] = rng.next() as u8; // extended RCODE
        }
        if rng.chance(10) {
            m.additional[8] = rng.next() as u8; // flags other than DO
        }
    }
    // Malformations.
    match rng.below(40) {
        0 => m.flags |= 0x8000,
        1 => m.flags |= (1 + rng.below(15) as u16) << 11,
        2 => m.counts[rng.below(4)] = rng.below(3) as u16,
        3 => m.qclass = *rng.pick(&[0, 2, 3, 254, 255]),
        4 => m.trailing = vec![0; 1 + rng.below(3)],
        5 if m.counts[3] == 1 => m.additional[6] = 1 + rng.below(3) as u8,
        6 if m.counts[3] == 1 => {
            m = m.opt(1232, false, 0, &[0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        7 => {
            let at = rng.below(m.qname.len());
            m.qname[at] = rng.next() as u8;
        }
        _ => {}
    }
    m
}

fn random_spec(rng: &mut Rng) -> FrameSpec {
    let mut spec = if rng.chance(50) { v4() } else { v6() };
    spec.tags = match rng.below(4) {
        0 => vec![ETH_P_8021Q],
        1 => vec![ETH_P_8021AD, ETH_P_8021Q],
        _ => Vec::new(),
    };
    spec.src_port = 1024 + rng.below(60000) as u16;
    if rng.chance(3) {
        spec.dst = if spec.dst.is_ipv4() {
            V4_OTHER
        } else {
            V6_OTHER
        };
    }
    spec
}

#[test]
fn root_property_random_queries_pass_or_match_the_engine() {
    let h = Harness::new(EngineSettings::default());
    let seed = std::env::var("DNSD_XDP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_d15c_0dd5_u64);
    let mut rng = Rng(seed);
    let (mut tx, mut pass) = (0, 0);
    for i in 0..6000 {
        let spec = random_spec(&mut rng);
        let msg = random_msg(&mut rng, BASES).bytes();
        let what = format!("seed {seed:#x}, query {i}, {spec:?}");
        let ours = spec.dst == V4_SERVER || spec.dst == V6_SERVER;
        match h.check(&what, &spec, &msg, !ours) {
            Outcome::Tx(_) => tx += 1,
            Outcome::Pass => pass += 1,
        }
    }
    eprintln!("property test: {tx} answered by XDP, {pass} passed");
    assert!(tx > 1500 && pass > 1000, "answered {tx}, passed {pass}");
}

#[test]
fn root_load_table_swaps_atomically() {
    use aya::maps::{ArrayOfMaps, Map, MapData};
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    require_root();
    let settings = EngineSettings::default();
    // Two versions: different serials (every NXDOMAIN/NODATA differs) and
    // different addresses for www.
    let old = Harness::with_snapshot(compile_zones(1, "192.0.2.1"), settings);
    let new_snapshot = compile_zones(2, "192.0.2.2");
    let new_table = table::build(&new_snapshot, &settings);
    let engine_of = |snap: &Snapshot, msg: &[u8]| {
        let mut out = Vec::new();
        assert!(engine::respond(
            snap,
            &settings,
            msg,
            Transport::Udp,
            &mut out
        ));
        out
    };

    // Duplicate keys are refused, and the old table stays in place.
    let mut dup = new_table.clone();
    dup.entries.push(dup.entries[0]);
    let mut program = old.program;
    let err = program.load_table(&dup).unwrap_err();
    assert!(err.to_string().contains("duplicate"), "{err}");

    let msgs: Vec<Vec<u8>> = [
        Msg::new("www.example.com", T_A),
        Msg::new("nope.example.com", T_A),
        Msg::new("www.example.com", T_TXT),
        Msg::new("host.wild.example.com", T_A),
        Msg::new("host.example.org", T_A),
    ]
    .iter()
    .map(Msg::bytes)
    .collect();
    let spec = v4();
    let frames: Vec<Vec<u8>> = msgs.iter().map(|m| spec.build(m)).collect();
    let reply = |program: &XdpProgram, i: usize| {
        let out = program.test_run(&frames[i], 1).unwrap();
        assert_eq!(out.action, action::TX, "query {i}");
        check_reply(&spec, &frames[i], &out.frame).unwrap()
    };
    for (i, msg) in msgs.iter().enumerate() {
        assert_eq!(reply(&program, i), engine_of(&old.snapshot, msg));
    }
    program.load_table(&new_table).unwrap();
    for (i, msg) in msgs.iter().enumerate() {
        assert_eq!(reply(&program, i), engine_of(&new_snapshot, msg));
    }

    // Swap back and forth from another thread (through the map's id, as a
    // second process would) while queries run: every reply is one whole
    // version's, never a mix, never a pass.
    let old_map = super::loader::table_map(&old.table).unwrap();
    let new_map = super::loader::table_map(&new_table).unwrap();
    let id = program.tables_map_id().unwrap();
    let expected: Vec<[Vec<u8>; 2]> = msgs
        .iter()
        .map(|m| [engine_of(&old.snapshot, m), engine_of(&new_snapshot, m)])
        .collect();
    let stop = AtomicBool::new(false);
    let swapped = AtomicU64::new(0);
    let swaps = std::thread::scope(|scope| {
        let swapper = scope.spawn(|| {
            let map = Map::from_map_data(MapData::from_id(id).unwrap()).unwrap();
            let mut outer: ArrayOfMaps<MapData, super::loader::TableMap> =
                ArrayOfMaps::try_from(map).unwrap();
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let inner = if swaps.is_multiple_of(2) {
                    &old_map
                } else {
                    &new_map
                };
                outer.set(dnsd_common::TABLE_SLOT, inner, 0).unwrap();
                swaps += 1;
                swapped.store(swaps, Ordering::Relaxed);
            }
            swaps
        });
        // Stops the swapper even if an assertion below fails.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = Stop(&stop);
        let (mut seen_old, mut seen_new) = (0, 0);
        let mut round = 0;
        let started = std::time::Instant::now();
        // Each swap waits for an RCU grace period in the kernel (so that no
        // program still runs on the old map when the update returns): a few
        // dozen swaps take a while.
        while round < 4000 || swapped.load(Ordering::Relaxed) < 30 {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "the swapper does not make progress"
            );
            let i = round % msgs.len();
            round += 1;
            let got = reply(&program, i);
            if got == expected[i][0] {
                seen_old += 1;
            } else if got == expected[i][1] {
                seen_new += 1;
            } else {
                panic!("query {i}: reply matches neither version: {got:02x?}");
            }
        }
        stop.store(true, Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        eprintln!("atomic swap test: {swaps} swaps, {seen_old} old and {seen_new} new replies");
        swaps
    });
    assert!(swaps >= 30, "the swapper barely ran ({swaps} swaps)");
}

/// MEASUREMENT, not a pass/fail benchmark: prints ns per packet of the XDP
/// program (BPF_PROG_TEST_RUN, 1,000,000 runs each) for an exact hit, a
/// wildcard hit and an NXDOMAIN, next to the `dnsd_swap` baseline (see
/// `bench` for why runs are one per call); asserts only that the numbers
/// are sane.
#[test]
fn root_measure_ns_per_packet() {
    require_root();
    let started = std::time::Instant::now();
    let results = super::bench::run(1_000_000).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "MEASUREMENT: XDP cost per packet (BPF_PROG_TEST_RUN, kernel time, mean of 1,000,000 runs):"
    );
    for m in &results {
        eprintln!(
            "  {:>8.1} ns/packet  (net {:>6.1} ns, {} per call)  {}",
            m.ns_per_packet, m.net_ns, m.repeat, m.case
        );
        assert!(m.ns_per_packet > 0.0, "{}: {} ns", m.case, m.ns_per_packet);
        assert!(
            m.ns_per_packet < 100_000.0,
            "{}: {} ns",
            m.case,
            m.ns_per_packet
        );
        let want = if m.case.starts_with("pass") {
            action::PASS
        } else {
            action::TX
        };
        assert_eq!(m.action, want, "{}", m.case);
    }
    eprintln!("  (measured in {:.1?})", started.elapsed());
    assert_eq!(results.len(), 7);
}

/// Guards the verifier budget (1,000,000 processed instructions; older
/// kernels prune less well, so keep a wide margin) and prints the sizes.
#[test]
fn root_verifier_cost_stays_small() {
    let program = load(Config::default());
    let stats = program.program_stats().unwrap();
    eprintln!(
        "dnsd: {} BPF instructions (xlated), {} processed by the verifier",
        stats.xlated_instructions.unwrap_or(0),
        stats.verified_instructions.unwrap_or(0)
    );
    let verified = stats
        .verified_instructions
        .expect("kernel reports it (≥ 5.16)");
    assert!(
        verified < 250_000,
        "the verifier processed {verified} instructions: a state explosion crept in \
         (see the notes in dnsd-ebpf/src/answer.rs)"
    );
}

/// The RFC 4592 §2.2.1 example zone (apex `example.`, one label), alone.
fn rfc4592_snapshot() -> Snapshot {
    let text = include_str!("../zone/testdata/master/rfc4592.zone");
    snapshot_of(&[("example.", text.to_owned())])
}

/// Names at the key's limit: 64 bytes (the root label included) are
/// answered exactly, as NXDOMAIN and from a wildcard, their windows and
/// hashes reaching the end of the name buffer; 65 bytes pass.
#[test]
fn root_names_at_the_key_length() {
    let zone = "$ORIGIN example.com.
$TTL 3600
@       SOA   ns1 hostmaster 1 3600 900 604800 300
@       NS    ns1
ns1     A     192.0.2.53
*.w     A     192.0.2.99
";
    let h = Harness::with_snapshot(
        snapshot_of(&[("example.com.", zone.to_owned())]),
        EngineSettings::default(),
    );
    // 64 and 65 bytes: `<n letters>.<label>.example.com`.
    let name = |n: usize, label: &str| format!("{}.{label}.example.com", "k".repeat(n));
    let fits_w = name(64 - 1 - 2 - 13, "w");
    assert_eq!(wire(&fits_w).len(), 64);
    let reply = h.tx("wildcard, 64 bytes", &v4(), &Msg::new(&fits_w, T_A));
    assert_eq!(counts_of(&reply)[1], 1);
    let fits_nx = name(64 - 1 - 2 - 13, "x");
    let reply = h.tx("NXDOMAIN, 64 bytes", &v4(), &Msg::new(&fits_nx, T_A));
    assert_eq!(rcode_of(&reply), 3);
    let long = name(64 - 1 - 2 - 13 + 1, "w");
    let frame = v4().build(&Msg::new(&long, T_A).bytes());
    h.pass("65 bytes", &v4(), &frame, Some(COUNTER_PASS_NAME_TOO_LONG));
}

/// The shortest-name hint follows each table: 13 bytes (`example.com`,
/// `example.org`) for the test zones, so a shorter query passes without a
/// probe; 9 (`example`) once the RFC 4592 zone is loaded, whose names are
/// then answered.
#[test]
fn root_min_name_len_hint_follows_the_table() {
    use dnsd_common::HINT_MIN_NAME_LEN;

    let mut h = Harness::new(EngineSettings::default());
    assert_eq!(h.program.hint(HINT_MIN_NAME_LEN).unwrap(), 13);
    let frame = v4().build(&Msg::new("com", T_A).bytes());
    h.pass("one label", &v4(), &frame, Some(COUNTER_PASS_MISS));

    h.snapshot = rfc4592_snapshot();
    h.table = table::build(&h.snapshot, &h.settings);
    h.program.load_table(&h.table).unwrap();
    assert_eq!(h.program.hint(HINT_MIN_NAME_LEN).unwrap(), 9);
    h.tx(
        "apex of a one-label zone",
        &v4(),
        &Msg::new("example", T_SOA),
    );
    h.tx("NODATA below it", &v4(), &Msg::new("host1.example", T_TXT));
}

/// The property test over the example zone of RFC 4592 (wildcards, a
/// wildcard-looking non-wildcard `sub.*`, empty non-terminals, a
/// delegation), served alone.
#[test]
fn root_property_rfc4592_zone() {
    let snapshot = rfc4592_snapshot();
    let h = Harness::with_snapshot(snapshot, EngineSettings::default());
    const NAMES: &[&str] = &[
        "example",
        "host1.example",
        "host2.example",
        "host3.example",
        "*.example",
        "sub.*.example",
        "*.*.example",
        "_tcp.host1.example",
        "_ssh._tcp.host1.example",
        "_ssh._tcp.host2.example",
        "_tcp.host2.example",
        "subdel.example",
        "ns.subdel.example",
        "foo.bar.example",
        "ghost.*.example",
        "example.com",
        "",
    ];
    let mut rng = Rng(0x4592_4592_4592);
    let (mut tx, mut pass) = (0, 0);
    for i in 0..4000 {
        let spec = random_spec(&mut rng);
        let msg = random_msg(&mut rng, NAMES).bytes();
        let what = format!("RFC 4592 zone, query {i}, {spec:?}");
        let ours = spec.dst == V4_SERVER || spec.dst == V6_SERVER;
        match h.check(&what, &spec, &msg, !ours) {
            Outcome::Tx(_) => tx += 1,
            Outcome::Pass => pass += 1,
        }
    }
    eprintln!("RFC 4592 property test: {tx} answered by XDP, {pass} passed");
    assert!(tx > 1000 && pass > 500, "answered {tx}, passed {pass}");
}
