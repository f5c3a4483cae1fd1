//! Ethernet frames carrying DNS over UDP, built and checked in userspace:
//! queries to feed `BPF_PROG_TEST_RUN` (tests, `bench`) and the checks a
//! reply frame from the XDP program must pass.

use std::net::IpAddr;

use dnsd_common::net::{ETH_P_IP, ETH_P_IPV6, IPPROTO_UDP};

/// One's-complement sum of `data` (odd length padded with a zero byte),
/// folded, not inverted.
pub fn ones_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    !ones_sum(data)
}

/// The UDP/TCP pseudo-header (RFC 768, RFC 8200 §8.1).
pub fn pseudo_header(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(len as u16).to_be_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            p.extend_from_slice(&(len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
        }
        _ => panic!("pseudo_header: mixed address families"),
    }
    p
}

/// The UDP checksum of `segment` (header with a zero checksum field, and
/// payload) between `src` and `dst`; 0 is sent as 0xFFFF.
pub fn udp_checksum(src: IpAddr, dst: IpAddr, segment: &[u8]) -> u16 {
    let mut all = pseudo_header(src, dst, IPPROTO_UDP, segment.len());
    all.extend_from_slice(segment);
    match checksum(&all) {
        0 => 0xFFFF,
        c => c,
    }
}

/// How to wrap a DNS message into a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    /// TPIDs of the 802.1Q/802.1ad tags, outermost first (TCI 100, 101, …).
    pub tags: Vec<u16>,
    /// Source and destination addresses: both IPv4 or both IPv6.
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
}

impl FrameSpec {
    /// Client `src`:40000 to server `dst`:53, no tags.
    pub fn new(src: IpAddr, dst: IpAddr) -> FrameSpec {
        FrameSpec {
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            tags: Vec::new(),
            src,
            dst,
            src_port: 40000,
            dst_port: 53,
        }
    }

    /// The frame carrying `payload` with a correct UDP checksum, padded to
    /// the 60-byte Ethernet minimum as a NIC would.
    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        let mut seg = Vec::with_capacity(8 + payload.len());
        seg.extend_from_slice(&self.src_port.to_be_bytes());
        seg.extend_from_slice(&self.dst_port.to_be_bytes());
        seg.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        seg.extend_from_slice(&[0, 0]);
        seg.extend_from_slice(payload);
        let c = udp_checksum(self.src, self.dst, &seg);
        seg[6..8].copy_from_slice(&c.to_be_bytes());
        self.wrap(&seg)
    }

    /// The frame carrying the UDP `segment` as it is (checksum untouched).
    pub fn wrap(&self, segment: &[u8]) -> Vec<u8> {
        let (ether_type, l3) = match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total = 20 + segment.len();
                let mut p = Vec::with_capacity(total);
                p.extend_from_slice(&[0x45, 0]);
                p.extend_from_slice(&(total as u16).to_be_bytes());
                p.extend_from_slice(&0x1c46u16.to_be_bytes()); // id
                p.extend_from_slice(&0x4000u16.to_be_bytes()); // DF
                p.extend_from_slice(&[57, IPPROTO_UDP, 0, 0]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                let c = checksum(&p);
                p[10..12].copy_from_slice(&c.to_be_bytes());
                p.extend_from_slice(segment);
                (ETH_P_IP, p)
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                let mut p = Vec::with_capacity(40 + segment.len());
                p.extend_from_slice(&[0x60, 0x0a, 0xbc, 0xde]); // traffic class, flow label
                p.extend_from_slice(&(segment.len() as u16).to_be_bytes());
                p.extend_from_slice(&[IPPROTO_UDP, 57]);
                p.extend_from_slice(&s.octets());
                p.extend_from_slice(&d.octets());
                p.extend_from_slice(segment);
                (ETH_P_IPV6, p)
            }
            _ => panic!("FrameSpec: mixed address families"),
        };
        let mut f = Vec::with_capacity(60.max(18 + 4 * self.tags.len() + l3.len()));
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        for (i, tpid) in self.tags.iter().enumerate() {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&(100 + i as u16).to_be_bytes());
        }
        f.extend_from_slice(&ether_type.to_be_bytes());
        f.extend_from_slice(&l3);
        f.resize(f.len().max(60), 0);
        f
    }

    /// Offset of the IP header in frames built from this spec.
    pub fn l3(&self) -> usize {
        14 + 4 * self.tags.len()
    }

    /// Offset of the DNS message in frames built from this spec.
    pub fn dns(&self) -> usize {
        self.l3() + if self.src.is_ipv4() { 20 } else { 40 } + 8
    }
}

/// Checks that `reply` is a well-formed reply to `query` (both built by
/// `spec`): MACs, addresses and ports swapped, tags kept, lengths exact, IP
/// TTL / hop limit 64, IPv4 header checksum and UDP checksum valid, the
/// other IP header fields kept. Returns the reply's DNS message.
pub fn check_reply(spec: &FrameSpec, query: &[u8], reply: &[u8]) -> Result<Vec<u8>, String> {
    let l3 = spec.l3();
    let be16 = |f: &[u8], i: usize| u16::from_be_bytes([f[i], f[i + 1]]);
    if reply.len() < spec.dns() + 12 {
        return Err(format!("reply frame of {} bytes is too short", reply.len()));
    }
    if reply[0..6] != query[6..12] || reply[6..12] != query[0..6] {
        return Err("MAC addresses not swapped".into());
    }
    if reply[12..l3] != query[12..l3] {
        return Err("VLAN tags or EtherType changed".into());
    }
    let l4 = if spec.src.is_ipv4() {
        let ip = &reply[l3..l3 + 20];
        let q = &query[l3..l3 + 20];
        if ip[0..2] != q[0..2] || ip[4..8] != q[4..8] || ip[9] != q[9] {
            return Err("IPv4 version, TOS, ID, flags or protocol changed".into());
        }
        if ip[8] != 64 {
            return Err(format!("IPv4 TTL {} instead of 64", ip[8]));
        }
        if ip[12..16] != q[16..20] || ip[16..20] != q[12..16] {
            return Err("IPv4 addresses not swapped".into());
        }
        if usize::from(be16(ip, 2)) != reply.len() - l3 {
            return Err(format!(
                "IPv4 total length {} but {} bytes follow the Ethernet header",
                be16(ip, 2),
                reply.len() - l3
            ));
        }
        if ones_sum(ip) != 0xFFFF {
            return Err("IPv4 header checksum wrong".into());
        }
        l3 + 20
    } else {
        let ip = &reply[l3..l3 + 40];
        let q = &query[l3..l3 + 40];
        if ip[0..4] != q[0..4] || ip[6] != q[6] {
            return Err("IPv6 version, class, flow label or next header changed".into());
        }
        if ip[7] != 64 {
            return Err(format!("IPv6 hop limit {} instead of 64", ip[7]));
        }
        if ip[8..24] != q[24..40] || ip[24..40] != q[8..24] {
            return Err("IPv6 addresses not swapped".into());
        }
        if usize::from(be16(ip, 4)) != reply.len() - l3 - 40 {
            return Err(format!(
                "IPv6 payload length {} but {} bytes follow the header",
                be16(ip, 4),
                reply.len() - l3 - 40
            ));
        }
        l3 + 40
    };
    let udp = &reply[l4..];
    if udp[0..2] != query[l4 + 2..l4 + 4] || udp[2..4] != query[l4..l4 + 2] {
        return Err("UDP ports not swapped".into());
    }
    if usize::from(be16(udp, 4)) != udp.len() {
        return Err(format!(
            "UDP length {} but {} bytes",
            be16(udp, 4),
            udp.len()
        ));
    }
    let mut zeroed = udp.to_vec();
    zeroed[6..8].copy_from_slice(&[0, 0]);
    let want = udp_checksum(spec.dst, spec.src, &zeroed);
    if be16(udp, 6) != want {
        return Err(format!(
            "UDP checksum {:#06x}, recomputed {want:#06x}",
            be16(udp, 6)
        ));
    }
    Ok(udp[8..].to_vec())
}
