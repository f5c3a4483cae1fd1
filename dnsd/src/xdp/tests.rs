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
