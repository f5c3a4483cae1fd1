//! The XDP program proper (compiled only for `target_arch = "bpf"`).
//!
//! It only classifies: Ethernet (up to two 802.1Q/802.1ad tags), IPv4 without
//! options or fragments / IPv6 with UDP as next header, UDP to the configured
//! DNS port. Every frame bumps `COUNTER_PACKETS_SEEN` and exactly one outcome
//! counter, and every frame is passed untouched (XDP_PASS).
//!
//! Rules (shared/spec/xdp-fast-path.md §9, §10): bounds check before every
//! packet access, no panics, no `core::fmt`, no per-packet logging.

use core::mem;

use aya_ebpf::{
    bindings::xdp_action,
    macros::{map, xdp},
    maps::{Array, PerCpuArray},
    programs::XdpContext,
};
use dnsd_common::{
    CONFIG_INDEX, COUNTER_DNS_UDP, COUNTER_PACKETS_SEEN, COUNTER_PASS_BAD_IP_VERSION,
    COUNTER_PASS_BAD_LENGTH, COUNTER_PASS_IP_FRAGMENT, COUNTER_PASS_IPV4_OPTIONS,
    COUNTER_PASS_NOT_IP, COUNTER_PASS_NOT_UDP, COUNTER_PASS_OTHER_PORT,
    COUNTER_PASS_TOO_MANY_VLANS, COUNTER_PASS_TRUNCATED, COUNTER_SLOTS, Config, DEFAULT_DNS_PORT,
    net::{
        ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, EthHdr, IPPROTO_UDP, IPV4_HLEN,
        IPV6_HLEN, Ipv4Hdr, Ipv6Hdr, MAX_VLAN_TAGS, UDP_HLEN, UdpHdr, VLAN_HLEN, VlanHdr,
    },
};

/// Runtime configuration, one entry at `CONFIG_INDEX`; all-zero means defaults.
#[map(name = "CONFIG")]
static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

/// Per-CPU counters, indexed by the `dnsd_common::COUNTER_*` constants.
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

#[xdp]
pub fn dnsd(ctx: XdpContext) -> u32 {
    count(COUNTER_PACKETS_SEEN);
    count(classify(&ctx));
    xdp_action::XDP_PASS
}

/// Adds one to counter `index` on this CPU. Out-of-range indexes are ignored.
#[inline(always)]
fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: the map lookup returned a valid pointer to this CPU's u64
        // slot; XDP programs do not migrate between CPUs while running.
        unsafe { *slot = (*slot).wrapping_add(1) };
    }
}

/// The configured DNS port (host order), 53 when the config map is unset.
#[inline(always)]
fn dns_port() -> u16 {
    match CONFIG.get(CONFIG_INDEX) {
        Some(config) => config.effective_dns_port(),
        None => DEFAULT_DNS_PORT,
    }
}

/// A header of type `T` at `offset` bytes from the frame start, if the whole
/// header lies inside the frame. Every `T` has alignment 1.
#[inline(always)]
fn header<T>(ctx: &XdpContext, offset: usize) -> Option<&T> {
    let start = ctx.data();
    let end = ctx.data_end();
    if start + offset + mem::size_of::<T>() > end {
        return None;
    }
    // SAFETY: bounds checked just above against data_end; T is a byte-array
    // #[repr(C)] header from dnsd_common::net (alignment 1, any bit pattern valid).
    Some(unsafe { &*((start + offset) as *const T) })
}

#[inline(always)]
fn frame_len(ctx: &XdpContext) -> usize {
    ctx.data_end() - ctx.data()
}

#[inline(always)]
const fn is_vlan(ether_type: u16) -> bool {
    ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD
}

/// Returns the outcome counter for this frame.
#[inline(always)]
fn classify(ctx: &XdpContext) -> u32 {
    let Some(eth) = header::<EthHdr>(ctx, 0) else {
        return COUNTER_PASS_TRUNCATED;
    };
    let mut ether_type = eth.ether_type();
    let mut l3 = ETH_HLEN;
    for _ in 0..MAX_VLAN_TAGS {
        if !is_vlan(ether_type) {
            break;
        }
        let Some(tag) = header::<VlanHdr>(ctx, l3) else {
            return COUNTER_PASS_TRUNCATED;
        };
        ether_type = tag.ether_type();
        l3 += VLAN_HLEN;
    }
    match ether_type {
        ETH_P_IP => ipv4(ctx, l3),
        ETH_P_IPV6 => ipv6(ctx, l3),
        t if is_vlan(t) => COUNTER_PASS_TOO_MANY_VLANS,
        _ => COUNTER_PASS_NOT_IP,
    }
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, l3: usize) -> u32 {
    let Some(ip) = header::<Ipv4Hdr>(ctx, l3) else {
        return COUNTER_PASS_TRUNCATED;
    };
    if ip.version() != 4 {
        return COUNTER_PASS_BAD_IP_VERSION;
    }
    if ip.ihl() != 5 {
        return COUNTER_PASS_IPV4_OPTIONS;
    }
    if ip.is_fragment() {
        return COUNTER_PASS_IP_FRAGMENT;
    }
    if ip.protocol != IPPROTO_UDP {
        return COUNTER_PASS_NOT_UDP;
    }
    let total_len = ip.total_len() as usize;
    let l4 = l3 + IPV4_HLEN;
    let Some(udp) = header::<UdpHdr>(ctx, l4) else {
        return COUNTER_PASS_TRUNCATED;
    };
    if udp.dst_port() != dns_port() {
        return COUNTER_PASS_OTHER_PORT;
    }
    // Ethernet may pad short frames, so the frame may be longer than the IP
    // packet, never shorter.
    if total_len < IPV4_HLEN + UDP_HLEN
        || l3 + total_len > frame_len(ctx)
        || udp.length() as usize != total_len - IPV4_HLEN
    {
        return COUNTER_PASS_BAD_LENGTH;
    }
    COUNTER_DNS_UDP
}

#[inline(always)]
fn ipv6(ctx: &XdpContext, l3: usize) -> u32 {
    let Some(ip) = header::<Ipv6Hdr>(ctx, l3) else {
        return COUNTER_PASS_TRUNCATED;
    };
    if ip.version() != 6 {
        return COUNTER_PASS_BAD_IP_VERSION;
    }
    // Extension headers (fragments included) pass: only UDP directly.
    if ip.next_header != IPPROTO_UDP {
        return COUNTER_PASS_NOT_UDP;
    }
    let payload_len = ip.payload_len() as usize;
    let l4 = l3 + IPV6_HLEN;
    let Some(udp) = header::<UdpHdr>(ctx, l4) else {
        return COUNTER_PASS_TRUNCATED;
    };
    if udp.dst_port() != dns_port() {
        return COUNTER_PASS_OTHER_PORT;
    }
    if payload_len < UDP_HLEN
        || l4 + payload_len > frame_len(ctx)
        || udp.length() as usize != payload_len
    {
        return COUNTER_PASS_BAD_LENGTH;
    }
    COUNTER_DNS_UDP
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // Unreachable in a verified program (no panicking code is linked); the
    // verifier rejects the loop if it ever is.
    loop {}
}

/// GPL-compatible, so GPL-only helpers (e.g. `bpf_fib_lookup`) stay usable.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
