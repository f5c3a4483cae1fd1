//! Types and constants shared by the XDP program (`dnsd-ebpf`) and the daemon.
//!
//! Everything here is `#[repr(C)]` without implicit padding, so the eBPF side and
//! userspace agree byte for byte. With the `user` feature the map value types
//! implement [`aya::Pod`].
#![no_std]

pub mod fastpath;
pub mod net;

/// Name of the XDP program (the `#[xdp]` function) in the object file.
pub const PROGRAM_NAME: &str = "dnsd";
/// Name of the benchmark baseline in the same object: swaps MAC, IP
/// addresses and UDP ports and returns XDP_TX, nothing else. Never attached.
pub const PROGRAM_SWAP_NAME: &str = "dnsd_swap";

/// Name of the `Array<Config>` map (one entry, index [`CONFIG_INDEX`]).
pub const MAP_CONFIG: &str = "CONFIG";
/// Name of the `PerCpuArray<u64>` counters map ([`COUNTER_SLOTS`] entries).
pub const MAP_COUNTERS: &str = "COUNTERS";

/// Name of the `ArrayOfMaps` holding the current fast-path table: slot
/// [`TABLE_SLOT`] holds one `HashMap<fastpath::MapKey, fastpath::Entry>` with
/// the exact and node entries *and* the per-zone NXDOMAIN entries (keys of
/// kind [`KIND_ZONE_NX`]), so one outer lookup per packet yields one whole
/// version of the table. Reloads build a new inner map and swap the slot.
pub const MAP_TABLES: &str = "TABLES";
/// The slot of [`MAP_TABLES`] the program reads.
pub const TABLE_SLOT: u32 = 0;
/// `fastpath::MapKey::kind` of a zone's NXDOMAIN entry inside the
/// [`MAP_TABLES`] inner map: `hash` zero, `qtype` = the zone index (what
/// `fastpath::Entry::zone` holds).
pub const KIND_ZONE_NX: u16 = 3;
/// Name of the `Array<u32>` of hints about the current table
/// ([`HINT_SLOTS`] entries, zero meaning "no hint").
pub const MAP_HINTS: &str = "HINTS";
/// [`MAP_HINTS`] slot: the wire length of the shortest name in the table.
/// The program probes no shorter name (query or ancestor): none exists, so
/// the closest-encloser walk would end in a pass anyway. Any value at most
/// the true one only costs probes, and a larger (stale) one only makes the
/// program pass more, so it need not change atomically with the table.
pub const HINT_MIN_NAME_LEN: u32 = 0;
/// Entries of [`MAP_HINTS`].
pub const HINT_SLOTS: u32 = 1;
/// Name of the `LpmTrie<[u8; 4], u8>` of served IPv4 addresses (/32 keys).
pub const MAP_ALLOW_V4: &str = "ALLOW_V4";
/// Name of the `LpmTrie<[u8; 16], u8>` of served IPv6 addresses (/128 keys).
pub const MAP_ALLOW_V6: &str = "ALLOW_V6";
/// Capacity of each allow-list trie.
pub const ALLOW_MAX_ENTRIES: u32 = 1024;

/// Index of the single [`Config`] entry in [`MAP_CONFIG`].
pub const CONFIG_INDEX: u32 = 0;

/// Port used when the config map was never written (its `dns_port` is 0).
pub const DEFAULT_DNS_PORT: u16 = 53;
/// EDNS UDP size used when the config's `edns_udp_size` is 0 (DNS Flag Day 2020).
pub const DEFAULT_EDNS_UDP_SIZE: u16 = 1232;

/// Runtime configuration of the XDP program, value of the [`MAP_CONFIG`] array.
///
/// Array maps are zero-initialised, so every field's zero value must mean
/// "default": `dns_port == 0` means [`DEFAULT_DNS_PORT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// UDP destination port served, host byte order; 0 means [`DEFAULT_DNS_PORT`].
    pub dns_port: u16,
    /// The server's EDNS UDP size (the engine's `edns_udp_size`): the CLASS
    /// of every OPT sent and the cap on EDNS responses; 0 means
    /// [`DEFAULT_EDNS_UDP_SIZE`].
    pub edns_udp_size: u16,
    /// Explicit padding to 8 bytes; always zero. Later flags take bytes from here.
    pub _pad: [u8; 4],
}

impl Config {
    /// A config serving `dns_port`, with the default EDNS UDP size.
    pub const fn new(dns_port: u16) -> Self {
        Self {
            dns_port,
            edns_udp_size: 0,
            _pad: [0; 4],
        }
    }

    /// This config with the server EDNS UDP size set (must equal the
    /// engine's `EngineSettings::edns_udp_size`, or answers differ).
    pub const fn with_edns_udp_size(mut self, edns_udp_size: u16) -> Self {
        self.edns_udp_size = edns_udp_size;
        self
    }

    /// The EDNS UDP size actually used: `edns_udp_size`, or 1232 when unset.
    pub const fn effective_edns_udp_size(&self) -> u16 {
        if self.edns_udp_size == 0 {
            DEFAULT_EDNS_UDP_SIZE
        } else {
            self.edns_udp_size
        }
    }

    /// The port the program actually matches: `dns_port`, or 53 when unset.
    pub const fn effective_dns_port(&self) -> u16 {
        if self.dns_port == 0 {
            DEFAULT_DNS_PORT
        } else {
            self.dns_port
        }
    }
}

const _: () = assert!(core::mem::size_of::<Config>() == 8);

#[cfg(feature = "user")]
// SAFETY: #[repr(C)], only integer fields, no implicit padding (size asserted above).
unsafe impl aya::Pod for Config {}

// ---------------------------------------------------------------------------
// Counters: PerCpuArray<u64> named COUNTERS, indexed by the constants below,
// summed over CPUs in userspace.
//
// Every frame increments COUNTER_PACKETS_SEEN and exactly one of
// COUNTER_DNS_UDP or an L2–L4 COUNTER_PASS_* reason (NOT_IP … BAD_LENGTH).
// Every COUNTER_DNS_UDP frame then increments exactly one answered-by-kind
// counter (COUNTER_ANSWERED_BASE + n, from the table entry) or one
// DNS-level COUNTER_PASS_* reason (NOT_OURS … BAD_SOURCE). So
//   PACKETS_SEEN == DNS_UDP + sum(L2–L4 PASS_*)
//   DNS_UDP      == sum(ANSWERED_*) + sum(DNS-level PASS_*).
//
// Index ranges (stable; only append inside a range):
//   0..16    totals
//   16..48   answered by kind   (COUNTER_ANSWERED_BASE)
//   48..96   passed by reason   (COUNTER_PASS_BASE)
//   96..128  spare
// ---------------------------------------------------------------------------

/// Number of entries of the counters map.
pub const COUNTER_SLOTS: u32 = 128;

/// Every frame the program ran on.
pub const COUNTER_PACKETS_SEEN: u32 = 0;
/// UDP (IPv4 or IPv6) to the configured DNS port with consistent lengths.
pub const COUNTER_DNS_UDP: u32 = 1;

/// First index of the "answered by kind" range; the table builder puts
/// `COUNTER_ANSWERED_BASE + kind` into `fastpath::Entry::counter`.
pub const COUNTER_ANSWERED_BASE: u32 = 16;
/// Size of the "answered by kind" range.
pub const COUNTER_ANSWERED_SLOTS: u32 = 32;
/// Answered: positive answer (exact entry).
pub const COUNTER_ANSWERED_ANSWER: u32 = COUNTER_ANSWERED_BASE;
/// Answered: NODATA.
pub const COUNTER_ANSWERED_NODATA: u32 = COUNTER_ANSWERED_BASE + 1;
/// Answered: NXDOMAIN.
pub const COUNTER_ANSWERED_NXDOMAIN: u32 = COUNTER_ANSWERED_BASE + 2;
/// Answered: synthesised from a wildcard.
pub const COUNTER_ANSWERED_WILDCARD: u32 = COUNTER_ANSWERED_BASE + 3;
/// Answered: referral.
pub const COUNTER_ANSWERED_REFERRAL: u32 = COUNTER_ANSWERED_BASE + 4;

/// First index of the "passed by reason" range.
pub const COUNTER_PASS_BASE: u32 = 48;
/// Size of the "passed by reason" range.
pub const COUNTER_PASS_SLOTS: u32 = 48;

/// EtherType (after any tags) is neither IPv4 nor IPv6.
pub const COUNTER_PASS_NOT_IP: u32 = COUNTER_PASS_BASE;
/// More than [`net::MAX_VLAN_TAGS`] 802.1Q/802.1ad tags.
pub const COUNTER_PASS_TOO_MANY_VLANS: u32 = COUNTER_PASS_BASE + 1;
/// The frame ends inside the Ethernet, VLAN, IP or UDP header.
pub const COUNTER_PASS_TRUNCATED: u32 = COUNTER_PASS_BASE + 2;
/// IP version nibble does not match the EtherType.
pub const COUNTER_PASS_BAD_IP_VERSION: u32 = COUNTER_PASS_BASE + 3;
/// IPv4 header with options (IHL != 5).
pub const COUNTER_PASS_IPV4_OPTIONS: u32 = COUNTER_PASS_BASE + 4;
/// IPv4 fragment (MF set or non-zero offset).
pub const COUNTER_PASS_IP_FRAGMENT: u32 = COUNTER_PASS_BASE + 5;
/// Not UDP: other IPv4 protocol, or IPv6 next header not UDP (extension headers included).
pub const COUNTER_PASS_NOT_UDP: u32 = COUNTER_PASS_BASE + 6;
/// UDP to another destination port.
pub const COUNTER_PASS_OTHER_PORT: u32 = COUNTER_PASS_BASE + 7;
/// IP total/payload length and UDP length disagree with each other or the frame.
pub const COUNTER_PASS_BAD_LENGTH: u32 = COUNTER_PASS_BASE + 8;
// DNS-level reasons (after COUNTER_DNS_UDP):
/// Destination address not in the allow-list (ALLOW_V4 / ALLOW_V6).
pub const COUNTER_PASS_NOT_OURS: u32 = COUNTER_PASS_BASE + 9;
/// UDP checksum field 0 (none over IPv4, invalid over IPv6).
pub const COUNTER_PASS_NO_CHECKSUM: u32 = COUNTER_PASS_BASE + 10;
/// UDP checksum (or IPv4 header checksum) wrong: the kernel drops such a
/// packet, so we never answer it.
pub const COUNTER_PASS_BAD_CHECKSUM: u32 = COUNTER_PASS_BASE + 11;
/// Shorter than a header and a question.
pub const COUNTER_PASS_SHORT: u32 = COUNTER_PASS_BASE + 12;
/// QR=1 or opcode not QUERY.
pub const COUNTER_PASS_NOT_QUERY: u32 = COUNTER_PASS_BASE + 13;
/// QDCOUNT != 1, ANCOUNT or NSCOUNT != 0, or ARCOUNT > 1.
pub const COUNTER_PASS_COUNTS: u32 = COUNTER_PASS_BASE + 14;
/// Question name with a compression pointer, an extended label type
/// (0x40/0x80) or ending beyond the message.
pub const COUNTER_PASS_BAD_NAME: u32 = COUNTER_PASS_BASE + 15;
/// Question name longer than `fastpath::KEY_NAME_LEN` wire bytes.
pub const COUNTER_PASS_NAME_TOO_LONG: u32 = COUNTER_PASS_BASE + 16;
/// QCLASS other than IN.
pub const COUNTER_PASS_QCLASS: u32 = COUNTER_PASS_BASE + 17;
/// The additional record is not an acceptable OPT (owner not root, not
/// OPT, version != 0, RDLENGTH != 0: options), or the message has bytes
/// after the last record.
pub const COUNTER_PASS_EDNS: u32 = COUNTER_PASS_BASE + 18;
/// No table loaded yet.
pub const COUNTER_PASS_NO_TABLE: u32 = COUNTER_PASS_BASE + 19;
/// No entry for the name nor any ancestor within `MAX_ANCESTORS` (out of
/// zone, or too deep below the closest encloser).
pub const COUNTER_PASS_MISS: u32 = COUNTER_PASS_BASE + 20;
/// The node reached says pass (`NODE_PASS`), or a wildcard without an entry
/// for the qtype or a NODATA node, or a zone without an NXDOMAIN entry.
pub const COUNTER_PASS_NODE: u32 = COUNTER_PASS_BASE + 21;
/// QTYPE never answered by XDP (AXFR, IXFR: the engine answers NOTIMP).
pub const COUNTER_PASS_QTYPE: u32 = COUNTER_PASS_BASE + 22;
/// The response would exceed the client's limit (userspace truncates).
pub const COUNTER_PASS_TOO_BIG: u32 = COUNTER_PASS_BASE + 23;
/// The entry is inconsistent (tail or fixups out of range).
pub const COUNTER_PASS_BAD_ENTRY: u32 = COUNTER_PASS_BASE + 24;
/// `bpf_xdp_adjust_tail` failed (no tailroom in this driver).
pub const COUNTER_PASS_ADJUST_TAIL: u32 = COUNTER_PASS_BASE + 25;
/// A source the kernel would drop or userspace could not answer: multicast
/// or broadcast source MAC; IPv4 source in 0/8, 127/8 or 224/3; IPv6
/// source multicast, unspecified, loopback or IPv4-mapped; UDP source port
/// 0. Never reflect a reply there.
pub const COUNTER_PASS_BAD_SOURCE: u32 = COUNTER_PASS_BASE + 26;
/// A table entry under the query's hashed key holds another name (a hash
/// collision, or a name the builder left out because its key collided).
pub const COUNTER_PASS_COLLISION: u32 = COUNTER_PASS_BASE + 27;

/// Index → stable metric label, for every counter defined so far.
pub const COUNTER_NAMES: &[(u32, &str)] = &[
    (COUNTER_PACKETS_SEEN, "packets_seen"),
    (COUNTER_DNS_UDP, "dns_udp"),
    (COUNTER_ANSWERED_ANSWER, "answered_answer"),
    (COUNTER_ANSWERED_NODATA, "answered_nodata"),
    (COUNTER_ANSWERED_NXDOMAIN, "answered_nxdomain"),
    (COUNTER_ANSWERED_WILDCARD, "answered_wildcard"),
    (COUNTER_ANSWERED_REFERRAL, "answered_referral"),
    (COUNTER_PASS_NOT_IP, "pass_not_ip"),
    (COUNTER_PASS_TOO_MANY_VLANS, "pass_too_many_vlans"),
    (COUNTER_PASS_TRUNCATED, "pass_truncated"),
    (COUNTER_PASS_BAD_IP_VERSION, "pass_bad_ip_version"),
    (COUNTER_PASS_IPV4_OPTIONS, "pass_ipv4_options"),
    (COUNTER_PASS_IP_FRAGMENT, "pass_ip_fragment"),
    (COUNTER_PASS_NOT_UDP, "pass_not_udp"),
    (COUNTER_PASS_OTHER_PORT, "pass_other_port"),
    (COUNTER_PASS_BAD_LENGTH, "pass_bad_length"),
    (COUNTER_PASS_NOT_OURS, "pass_not_ours"),
    (COUNTER_PASS_NO_CHECKSUM, "pass_no_checksum"),
    (COUNTER_PASS_BAD_CHECKSUM, "pass_bad_checksum"),
    (COUNTER_PASS_SHORT, "pass_short"),
    (COUNTER_PASS_NOT_QUERY, "pass_not_query"),
    (COUNTER_PASS_COUNTS, "pass_counts"),
    (COUNTER_PASS_BAD_NAME, "pass_bad_name"),
    (COUNTER_PASS_NAME_TOO_LONG, "pass_name_too_long"),
    (COUNTER_PASS_QCLASS, "pass_qclass"),
    (COUNTER_PASS_EDNS, "pass_edns"),
    (COUNTER_PASS_NO_TABLE, "pass_no_table"),
    (COUNTER_PASS_MISS, "pass_miss"),
    (COUNTER_PASS_NODE, "pass_node"),
    (COUNTER_PASS_QTYPE, "pass_qtype"),
    (COUNTER_PASS_TOO_BIG, "pass_too_big"),
    (COUNTER_PASS_BAD_ENTRY, "pass_bad_entry"),
    (COUNTER_PASS_ADJUST_TAIL, "pass_adjust_tail"),
    (COUNTER_PASS_BAD_SOURCE, "pass_bad_source"),
    (COUNTER_PASS_COLLISION, "pass_collision"),
];

/// The metric label of counter `index`, if it is defined.
pub fn counter_name(index: u32) -> Option<&'static str> {
    let mut i = 0;
    while i < COUNTER_NAMES.len() {
        if COUNTER_NAMES[i].0 == index {
            return Some(COUNTER_NAMES[i].1);
        }
        i += 1;
    }
    None
}

const _: () = {
    assert!(COUNTER_ANSWERED_BASE + COUNTER_ANSWERED_SLOTS <= COUNTER_PASS_BASE);
    assert!(COUNTER_PASS_BASE + COUNTER_PASS_SLOTS <= COUNTER_SLOTS);
    assert!(COUNTER_PASS_COLLISION < COUNTER_PASS_BASE + COUNTER_PASS_SLOTS);
    assert!(COUNTER_ANSWERED_REFERRAL < COUNTER_ANSWERED_BASE + COUNTER_ANSWERED_SLOTS);
    assert!(KIND_ZONE_NX != fastpath::KIND_EXACT && KIND_ZONE_NX != fastpath::KIND_NODE);
    // Indexes are unique and inside the map.
    let mut i = 0;
    while i < COUNTER_NAMES.len() {
        assert!(COUNTER_NAMES[i].0 < COUNTER_SLOTS);
        let mut j = i + 1;
        while j < COUNTER_NAMES.len() {
            assert!(COUNTER_NAMES[i].0 != COUNTER_NAMES[j].0);
            j += 1;
        }
        i += 1;
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_port_means_53() {
        assert_eq!(Config::default().effective_dns_port(), 53);
        assert_eq!(Config::new(5353).effective_dns_port(), 5353);
    }

    #[test]
    fn unset_edns_size_means_1232() {
        assert_eq!(Config::default().effective_edns_udp_size(), 1232);
        let c = Config::new(53).with_edns_udp_size(4096);
        assert_eq!((c.effective_edns_udp_size(), c.dns_port), (4096, 53));
    }

    #[test]
    fn counter_names_resolve() {
        assert_eq!(counter_name(COUNTER_DNS_UDP), Some("dns_udp"));
        assert_eq!(counter_name(COUNTER_PASS_NOT_IP), Some("pass_not_ip"));
        assert_eq!(counter_name(COUNTER_SLOTS - 1), None);
    }

    #[test]
    fn header_accessors_read_network_order() {
        let udp = net::UdpHdr {
            src_port: [0x9c, 0x40],
            dst_port: [0, 53],
            len: [0, 37],
            check: [0xab, 0xcd],
        };
        assert_eq!(
            (udp.src_port(), udp.dst_port(), udp.length(), udp.check()),
            (40000, 53, 37, 0xabcd)
        );
        let mut ip = net::Ipv4Hdr {
            version_ihl: 0x45,
            frag_off: [0x40, 0], // DF only: not a fragment
            ..Default::default()
        };
        assert_eq!((ip.version(), ip.ihl(), ip.is_fragment()), (4, 5, false));
        ip.frag_off = [0x20, 0]; // MF
        assert!(ip.is_fragment());
        ip.frag_off = [0, 1]; // offset 8
        assert!(ip.is_fragment());
    }
}
