//! Types and constants shared by the XDP program (`dnsd-ebpf`) and the daemon.
//!
//! Everything here is `#[repr(C)]` without implicit padding, so the eBPF side and
//! userspace agree byte for byte. With the `user` feature the map value types
//! implement [`aya::Pod`].
#![no_std]

pub mod net;

/// Name of the XDP program (the `#[xdp]` function) in the object file.
pub const PROGRAM_NAME: &str = "dnsd";

/// Name of the `Array<Config>` map (one entry, index [`CONFIG_INDEX`]).
pub const MAP_CONFIG: &str = "CONFIG";
/// Name of the `PerCpuArray<u64>` counters map ([`COUNTER_SLOTS`] entries).
pub const MAP_COUNTERS: &str = "COUNTERS";

/// Index of the single [`Config`] entry in [`MAP_CONFIG`].
pub const CONFIG_INDEX: u32 = 0;

/// Port used when the config map was never written (its `dns_port` is 0).
pub const DEFAULT_DNS_PORT: u16 = 53;

/// Runtime configuration of the XDP program, value of the [`MAP_CONFIG`] array.
///
/// Array maps are zero-initialised, so every field's zero value must mean
/// "default": `dns_port == 0` means [`DEFAULT_DNS_PORT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// UDP destination port served, host byte order; 0 means [`DEFAULT_DNS_PORT`].
    pub dns_port: u16,
    /// Explicit padding to 8 bytes; always zero. Later flags take bytes from here.
    pub _pad: [u8; 6],
}

impl Config {
    /// A config serving `dns_port`.
    pub const fn new(dns_port: u16) -> Self {
        Self {
            dns_port,
            _pad: [0; 6],
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
// Every frame increments COUNTER_PACKETS_SEEN and exactly one "outcome"
// counter: COUNTER_DNS_UDP (today: reached the DNS stage, then passed) or one
// COUNTER_PASS_* reason. So PACKETS_SEEN == DNS_UDP + sum(PASS_*) until the
// answering path exists; then DNS_UDP frames split further into ANSWERED_* and
// DNS-level PASS_* reasons.
//
// Index ranges (stable; only append inside a range):
//   0..16    totals
//   16..48   answered by kind   (reserved, COUNTER_ANSWERED_BASE)
//   48..96   passed by reason   (COUNTER_PASS_BASE)
//   96..128  spare
// ---------------------------------------------------------------------------

/// Number of entries of the counters map.
pub const COUNTER_SLOTS: u32 = 128;

/// Every frame the program ran on.
pub const COUNTER_PACKETS_SEEN: u32 = 0;
/// UDP (IPv4 or IPv6) to the configured DNS port with consistent lengths.
pub const COUNTER_DNS_UDP: u32 = 1;

/// First index of the "answered by kind" range (reserved for the answer path).
pub const COUNTER_ANSWERED_BASE: u32 = 16;
/// Size of the "answered by kind" range.
pub const COUNTER_ANSWERED_SLOTS: u32 = 32;

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

/// Index → stable metric label, for every counter defined so far.
pub const COUNTER_NAMES: &[(u32, &str)] = &[
    (COUNTER_PACKETS_SEEN, "packets_seen"),
    (COUNTER_DNS_UDP, "dns_udp"),
    (COUNTER_PASS_NOT_IP, "pass_not_ip"),
    (COUNTER_PASS_TOO_MANY_VLANS, "pass_too_many_vlans"),
    (COUNTER_PASS_TRUNCATED, "pass_truncated"),
    (COUNTER_PASS_BAD_IP_VERSION, "pass_bad_ip_version"),
    (COUNTER_PASS_IPV4_OPTIONS, "pass_ipv4_options"),
    (COUNTER_PASS_IP_FRAGMENT, "pass_ip_fragment"),
    (COUNTER_PASS_NOT_UDP, "pass_not_udp"),
    (COUNTER_PASS_OTHER_PORT, "pass_other_port"),
    (COUNTER_PASS_BAD_LENGTH, "pass_bad_length"),
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
    assert!(COUNTER_PASS_BAD_LENGTH < COUNTER_PASS_BASE + COUNTER_PASS_SLOTS);
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
