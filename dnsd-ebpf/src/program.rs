//! The XDP program proper (compiled only for `target_arch = "bpf"`).
//!
//! Classification: Ethernet (up to two 802.1Q/802.1ad tags), IPv4 without
//! options or fragments / IPv6 with UDP as next header, UDP to the
//! configured DNS port with consistent lengths. Such frames go on to
//! [`crate::answer::respond`], which answers from the fast-path table
//! (XDP_TX) or passes. Every frame bumps `COUNTER_PACKETS_SEEN` and exactly
//! one outcome counter (see `dnsd_common`'s counter notes).
//!
//! Rules (shared/spec/xdp-fast-path.md §9, §10): bounds check before every
//! packet access, no panics, no `core::fmt`, no per-packet logging.

use core::mem;

use aya_ebpf::{
    bindings::xdp_action,
    btf_maps::{ArrayOfMaps, HashMap as BtfHashMap},
    macros::{btf_map, map, xdp},
    maps::{Array, LpmTrie, PerCpuArray},
    programs::XdpContext,
};
use dnsd_common::{
    ALLOW_MAX_ENTRIES, CONFIG_INDEX, COUNTER_DNS_UDP, COUNTER_PACKETS_SEEN,
    COUNTER_PASS_BAD_IP_VERSION, COUNTER_PASS_BAD_LENGTH, COUNTER_PASS_IP_FRAGMENT,
    COUNTER_PASS_IPV4_OPTIONS, COUNTER_PASS_NOT_IP, COUNTER_PASS_NOT_UDP, COUNTER_PASS_OTHER_PORT,
    COUNTER_PASS_TOO_MANY_VLANS, COUNTER_PASS_TRUNCATED, COUNTER_SLOTS, Config, HINT_SLOTS,
    fastpath::{Entry, KEY_NAME_LEN, MapKey, NameWords},
    net::{
        ETH_HLEN, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, EthHdr, IPPROTO_UDP, IPV4_HLEN,
        IPV6_HLEN, Ipv4Hdr, Ipv6Hdr, MAX_VLAN_TAGS, UDP_HLEN, UdpHdr, VLAN_HLEN, VlanHdr,
    },
};

use crate::answer;

/// Runtime configuration, one entry at `CONFIG_INDEX`; all-zero means defaults.
#[map(name = "CONFIG")]
pub(crate) static CONFIG: Array<Config> = Array::with_max_entries(1, 0);

/// Hints about the current table, indexed by `dnsd_common::HINT_*`.
#[map(name = "HINTS")]
pub(crate) static HINTS: Array<u32> = Array::with_max_entries(HINT_SLOTS, 0);

/// Per-CPU counters, indexed by the `dnsd_common::COUNTER_*` constants.
#[map(name = "COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

/// Served IPv4 addresses (/32 keys); empty means nothing is answered.
#[map(name = "ALLOW_V4")]
pub(crate) static ALLOW_V4: LpmTrie<[u8; 4], u8> = LpmTrie::with_max_entries(ALLOW_MAX_ENTRIES, 0);

/// Served IPv6 addresses (/128 keys); empty means nothing is answered.
#[map(name = "ALLOW_V6")]
pub(crate) static ALLOW_V6: LpmTrie<[u8; 16], u8> = LpmTrie::with_max_entries(ALLOW_MAX_ENTRIES, 0);

/// The table an inner map of [`TABLES`] holds: exact, node and zone
/// NXDOMAIN entries. `1` is only the template's size: the loader creates
/// each inner map sized from its table (hash inner maps may differ in
/// `max_entries` since Linux 5.10).
pub(crate) type Table = BtfHashMap<MapKey, Entry, 1>;

/// Slot `TABLE_SLOT` holds the current table. The loader fills a new inner
/// map and swaps it in with one update; a packet reads the slot once, so it
/// sees one whole version (xdp-fast-path.md §8).
#[btf_map]
pub(crate) static TABLES: ArrayOfMaps<Table, 1> = ArrayOfMaps::new();

/// Per-CPU scratch space for key and name buffers (the stack has 512 bytes).
#[repr(C, align(8))]
pub(crate) struct Scratch {
    /// The key name of the current lookup as words: hashed into the map
    /// key, then compared with the name of the entry found.
    pub win: NameWords,
    /// The query name, lower-cased, zero-padded. Bytes from `KEY_NAME_LEN`
    /// on are never written and stay zero, so a 64-byte window starting
    /// anywhere in the first half is a zero-padded key name.
    pub name: [u8; 2 * KEY_NAME_LEN],
    /// Round-trip slot that hides per-path constants from the verifier.
    pub spill: u64,
    /// Offset in `name` of the shortest suffix the closest-encloser walk
    /// may probe.
    pub last_off: u64,
}

// `answer` copies names 8 bytes at a time: both buffers must be 8-aligned.
const _: () = {
    assert!(mem::offset_of!(Scratch, win) == 0);
    assert!(mem::offset_of!(Scratch, name) % 8 == 0);
    assert!(mem::align_of::<Scratch>() == 8);
};

#[map(name = "SCRATCH")]
pub(crate) static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

#[xdp]
pub fn dnsd(ctx: XdpContext) -> u32 {
    count(COUNTER_PACKETS_SEEN);
    let udp = match classify(&ctx) {
        Ok(udp) => udp,
        Err(reason) => {
            count(reason);
            return xdp_action::XDP_PASS;
        }
    };
    count(COUNTER_DNS_UDP);
    match answer::respond(&ctx, &udp) {
        Ok(counter) => {
            count(counter);
            xdp_action::XDP_TX
        }
        Err(reason) => {
            count(reason);
            xdp_action::XDP_PASS
        }
    }
}

/// Benchmark baseline (never attached): swaps MACs, IP addresses and UDP
/// ports of an untagged UDP frame and sends it back. Checksums stay valid
/// (swapping words does not change a one's-complement sum).
#[xdp]
pub fn dnsd_swap(ctx: XdpContext) -> u32 {
    match swap(&ctx) {
        Some(()) => xdp_action::XDP_TX,
        None => xdp_action::XDP_PASS,
    }
}

#[inline(always)]
fn swap(ctx: &XdpContext) -> Option<()> {
    let eth = header_mut::<EthHdr>(ctx, 0)?;
    mem::swap(&mut eth.dst, &mut eth.src);
    let l4 = match eth.ether_type() {
        ETH_P_IP => {
            let ip = header_mut::<Ipv4Hdr>(ctx, ETH_HLEN)?;
            mem::swap(&mut ip.src, &mut ip.dst);
            ETH_HLEN + IPV4_HLEN
        }
        ETH_P_IPV6 => {
            let ip = header_mut::<Ipv6Hdr>(ctx, ETH_HLEN)?;
            mem::swap(&mut ip.src, &mut ip.dst);
            ETH_HLEN + IPV6_HLEN
        }
        _ => return None,
    };
    let udp = header_mut::<UdpHdr>(ctx, l4)?;
    mem::swap(&mut udp.src_port, &mut udp.dst_port);
    Some(())
}

/// Adds one to counter `index` on this CPU. Out-of-range indexes are ignored.
#[inline(always)]
pub(crate) fn count(index: u32) {
    if let Some(slot) = COUNTERS.get_ptr_mut(index) {
        // SAFETY: the map lookup returned a valid pointer to this CPU's u64
        // slot; XDP programs do not migrate between CPUs while running.
        unsafe { *slot = (*slot).wrapping_add(1) };
    }
}

/// The configuration (all defaults when the map is unreadable).
#[inline(always)]
pub(crate) fn config() -> Config {
    match CONFIG.get(CONFIG_INDEX) {
        Some(config) => *config,
        None => Config::new(0),
    }
}

/// The address of `len` frame bytes at `offset`, if they lie inside the frame.
///
/// The start address goes through `black_box` (a stack round trip): LLVM
/// then cannot rewrite `p + len > end` into `p >= end` or `off + len >
/// end - data`, forms the verifier cannot use (§10.4), and the verifier
/// sees `p + len` as the pointer with a constant offset `len` whose check
/// makes `len` bytes at `p` accessible, whatever `offset`'s range.
#[inline(always)]
pub(crate) fn checked(ctx: &XdpContext, offset: usize, len: usize) -> Option<usize> {
    let p = core::hint::black_box(ctx.data() + offset);
    if p + len > ctx.data_end() {
        return None;
    }
    Some(p)
}

/// A header of type `T` at `offset` bytes from the frame start, if the whole
/// header lies inside the frame. Every `T` has alignment 1.
#[inline(always)]
pub(crate) fn header<T>(ctx: &XdpContext, offset: usize) -> Option<&T> {
    let p = checked(ctx, offset, mem::size_of::<T>())?;
    // SAFETY: bounds checked against data_end; T is a byte-array
    // #[repr(C)] header from dnsd_common::net (alignment 1, any bit pattern valid).
    Some(unsafe { &*(p as *const T) })
}

/// Like [`header`], writable.
#[inline(always)]
#[allow(clippy::mut_from_ref)] // the frame belongs to this program run
pub(crate) fn header_mut<T>(ctx: &XdpContext, offset: usize) -> Option<&mut T> {
    let p = checked(ctx, offset, mem::size_of::<T>())?;
    // SAFETY: as for `header`; XDP owns the frame, nothing else aliases it
    // while the program runs.
    Some(unsafe { &mut *(p as *mut T) })
}

#[inline(always)]
pub(crate) fn frame_len(ctx: &XdpContext) -> usize {
    ctx.data_end() - ctx.data()
}

#[inline(always)]
const fn is_vlan(ether_type: u16) -> bool {
    ether_type == ETH_P_8021Q || ether_type == ETH_P_8021AD
}

/// A UDP datagram to the DNS port, lengths checked.
pub(crate) struct Udp {
    /// Offset of the IP header.
    pub l3: usize,
    /// Offset of the UDP header.
    pub l4: usize,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// UDP length (header included), equal to the IP payload length.
    pub len: usize,
}

/// The UDP datagram to the DNS port, or the pass reason.
#[inline(always)]
fn classify(ctx: &XdpContext) -> Result<Udp, u32> {
    let Some(eth) = header::<EthHdr>(ctx, 0) else {
        return Err(COUNTER_PASS_TRUNCATED);
    };
    let mut ether_type = eth.ether_type();
    let mut l3 = ETH_HLEN;
    for _ in 0..MAX_VLAN_TAGS {
        if !is_vlan(ether_type) {
            break;
        }
        let Some(tag) = header::<VlanHdr>(ctx, l3) else {
            return Err(COUNTER_PASS_TRUNCATED);
        };
        ether_type = tag.ether_type();
        l3 += VLAN_HLEN;
    }
    match ether_type {
        ETH_P_IP => ipv4(ctx, l3),
        ETH_P_IPV6 => ipv6(ctx, l3),
        t if is_vlan(t) => Err(COUNTER_PASS_TOO_MANY_VLANS),
        _ => Err(COUNTER_PASS_NOT_IP),
    }
}

#[inline(always)]
fn ipv4(ctx: &XdpContext, l3: usize) -> Result<Udp, u32> {
    let Some(ip) = header::<Ipv4Hdr>(ctx, l3) else {
        return Err(COUNTER_PASS_TRUNCATED);
    };
    if ip.version() != 4 {
        return Err(COUNTER_PASS_BAD_IP_VERSION);
    }
    if ip.ihl() != 5 {
        return Err(COUNTER_PASS_IPV4_OPTIONS);
    }
    if ip.is_fragment() {
        return Err(COUNTER_PASS_IP_FRAGMENT);
    }
    if ip.protocol != IPPROTO_UDP {
        return Err(COUNTER_PASS_NOT_UDP);
    }
    let total_len = ip.total_len() as usize;
    let l4 = l3 + IPV4_HLEN;
    let Some(udp) = header::<UdpHdr>(ctx, l4) else {
        return Err(COUNTER_PASS_TRUNCATED);
    };
    if udp.dst_port() != config().effective_dns_port() {
        return Err(COUNTER_PASS_OTHER_PORT);
    }
    // Ethernet may pad short frames, so the frame may be longer than the IP
    // packet, never shorter.
    if total_len < IPV4_HLEN + UDP_HLEN
        || l3 + total_len > frame_len(ctx)
        || udp.length() as usize != total_len - IPV4_HLEN
    {
        return Err(COUNTER_PASS_BAD_LENGTH);
    }
    Ok(Udp {
        l3,
        l4,
        v6: false,
        len: total_len - IPV4_HLEN,
    })
}

#[inline(always)]
fn ipv6(ctx: &XdpContext, l3: usize) -> Result<Udp, u32> {
    let Some(ip) = header::<Ipv6Hdr>(ctx, l3) else {
        return Err(COUNTER_PASS_TRUNCATED);
    };
    if ip.version() != 6 {
        return Err(COUNTER_PASS_BAD_IP_VERSION);
    }
    // Extension headers (fragments included) pass: only UDP directly.
    if ip.next_header != IPPROTO_UDP {
        return Err(COUNTER_PASS_NOT_UDP);
    }
    let payload_len = ip.payload_len() as usize;
    let l4 = l3 + IPV6_HLEN;
    let Some(udp) = header::<UdpHdr>(ctx, l4) else {
        return Err(COUNTER_PASS_TRUNCATED);
    };
    if udp.dst_port() != config().effective_dns_port() {
        return Err(COUNTER_PASS_OTHER_PORT);
    }
    if payload_len < UDP_HLEN
        || l4 + payload_len > frame_len(ctx)
        || udp.length() as usize != payload_len
    {
        return Err(COUNTER_PASS_BAD_LENGTH);
    }
    Ok(Udp {
        l3,
        l4,
        v6: true,
        len: payload_len,
    })
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
