//! Answering a DNS/UDP query from the fast-path table (xdp-fast-path.md
//! §1–§6), or naming the reason to pass it.
//!
//! Order: allow-listed destination, UDP checksum present, DNS header, the
//! question (lower-cased into the scratch name while its original bytes
//! are summed), QCLASS IN, the optional OPT, exact message length, query
//! checksum verified, then the lookup of `dnsd_common::fastpath` and the
//! size check. Nothing is written before every check has passed; after
//! `bpf_xdp_adjust_tail` the frame is rewritten in place: headers swapped,
//! DNS header patched, the question kept as the client sent it, the tail
//! appended with its fixups, the OPT appended, checksums computed.
//!
//! Verifier notes (§10): offsets that differ between paths (VLAN tags, IP
//! version, name length) are laundered through the scratch map and masked,
//! so the verifier walks the answer path once instead of once per value;
//! every packet access is checked against `data_end` right before it.

use core::ptr;

use aya_ebpf::{helpers::bpf_xdp_adjust_tail, maps::lpm_trie::Key as LpmKey, programs::XdpContext};
use dnsd_common::{
    COUNTER_ANSWERED_BASE, COUNTER_ANSWERED_SLOTS, COUNTER_PASS_ADJUST_TAIL,
    COUNTER_PASS_BAD_CHECKSUM, COUNTER_PASS_BAD_ENTRY, COUNTER_PASS_BAD_NAME,
    COUNTER_PASS_BAD_SOURCE, COUNTER_PASS_COLLISION, COUNTER_PASS_COUNTS, COUNTER_PASS_EDNS,
    COUNTER_PASS_MISS, COUNTER_PASS_NAME_TOO_LONG, COUNTER_PASS_NO_CHECKSUM, COUNTER_PASS_NO_TABLE,
    COUNTER_PASS_NODE, COUNTER_PASS_NOT_OURS, COUNTER_PASS_NOT_QUERY, COUNTER_PASS_QCLASS,
    COUNTER_PASS_QTYPE, COUNTER_PASS_SHORT, COUNTER_PASS_TOO_BIG, COUNTER_PASS_TRUNCATED,
    HINT_MIN_NAME_LEN, TABLE_SLOT,
    fastpath::{
        Entry, KEY_NAME_LEN, KIND_EXACT, KIND_NODE, MAX_ANCESTORS, MAX_FIXUPS, MapKey,
        NODE_BELOW_CUT, NODE_CUT, NODE_PASS, NODE_WILDCARD, NameWords, TAIL_CAP, name_hash,
    },
    net::{
        CLASS_IN, DNS_HLEN, DNS_OPCODE_MASK, DNS_QR, DNS_RD, DnsHdr, EDNS_DO, EthHdr, IPPROTO_UDP,
        IPV4_HLEN, Ipv4Hdr, Ipv6Hdr, OPT_RR_LEN, PLAIN_UDP_LIMIT, TYPE_OPT, UDP_HLEN, UdpHdr,
    },
};

use crate::program::{
    ALLOW_V4, ALLOW_V6, HINTS, SCRATCH, Scratch, TABLES, Table, Udp, checked, config, frame_len,
    header, header_mut,
};

/// QTYPEs passed before any lookup: zone transfers (IXFR, AXFR), which the
/// engine answers NOTIMP rather than from the zone data. (DS and ANY, which
/// the engine also treats specially, get exact entries from the builder
/// wherever their answer differs from the node's.)
#[inline(always)]
const fn qtype_passes(qtype: u16) -> bool {
    matches!(qtype, 251 | 252)
}

/// IP TTL / hop limit of every reply.
const REPLY_TTL: u8 = 64;

/// What the answer path needs to know about the query.
struct Query {
    /// Offset of the DNS header in the frame.
    dns: usize,
    /// Wire length of the question name.
    qlen: usize,
    /// The query's flags word.
    flags: u16,
    /// The query had an (acceptable) OPT.
    edns: bool,
    dnssec_ok: bool,
    /// The OPT's UDP payload size.
    client_udp: u16,
    /// The server's EDNS UDP size (config, read once per packet).
    server_udp: u16,
    /// One's-complement sum (unfolded) of what query and reply share:
    /// pseudo-header addresses and protocol, ports, ID, QDCOUNT, question.
    shared_sum: u64,
}

/// Answers the query in `udp` (returning the answered counter: XDP_TX) or
/// returns the pass reason (the frame is untouched).
#[inline(always)]
pub(crate) fn respond(ctx: &XdpContext, udp: &Udp) -> Result<u32, u32> {
    let Some(s) = SCRATCH.get_ptr_mut(0) else {
        return Err(COUNTER_PASS_NO_TABLE);
    };
    // Launder the per-path offsets (see the module notes). Largest values:
    // l3 22, l4 62, UDP length 65535.
    let l3 = opaque(s, udp.l3) & 0x1f;
    let l4 = opaque(s, udp.l4) & 0x7f;
    let udp_len = opaque(s, udp.len) & 0xffff;
    let v6 = udp.v6;

    // The destination must be one of ours, the source one the kernel would
    // accept and we may reply to; sum the pseudo-header addresses.
    // A loopback source is acceptable only towards a loopback destination:
    // then the packet can only have come over `lo` (anything else is a
    // martian the stack drops, and so do we).
    let (addr_sum, on_loopback) = if v6 {
        let Some(ip) = header::<Ipv6Hdr>(ctx, l3) else {
            return Err(COUNTER_PASS_TRUNCATED);
        };
        if ALLOW_V6.get(LpmKey::new(128, ip.dst)).is_none() {
            return Err(COUNTER_PASS_NOT_OURS);
        }
        let on_loopback = is_v6_loopback(&ip.src) && is_v6_loopback(&ip.dst);
        if bad_source_v6(&ip.src, on_loopback) {
            return Err(COUNTER_PASS_BAD_SOURCE);
        }
        (sum16(&ip.src) + sum16(&ip.dst), on_loopback)
    } else {
        let Some(ip) = header::<Ipv4Hdr>(ctx, l3) else {
            return Err(COUNTER_PASS_TRUNCATED);
        };
        if ALLOW_V4.get(LpmKey::new(32, ip.dst)).is_none() {
            return Err(COUNTER_PASS_NOT_OURS);
        }
        // 0/8, 127/8 (except towards 127/8), multicast and 240/4
        // (broadcast included).
        let on_loopback = ip.src[0] == 127 && ip.dst[0] == 127;
        if matches!(ip.src[0], 0 | 224..=255) || (ip.src[0] == 127 && !on_loopback) {
            return Err(COUNTER_PASS_BAD_SOURCE);
        }
        // ip_rcv drops a bad header checksum; so must we.
        let header_sum = u64::from(u16::from_be_bytes([ip.version_ihl, ip.tos]))
            + u64::from(ip.total_len())
            + u64::from(u16::from_be_bytes(ip.id))
            + u64::from(ip.frag_off())
            + u64::from(u16::from_be_bytes([ip.ttl, ip.protocol]))
            + u64::from(u16::from_be_bytes(ip.check))
            + sum4(&ip.src)
            + sum4(&ip.dst);
        if fold(header_sum) != 0xffff {
            return Err(COUNTER_PASS_BAD_CHECKSUM);
        }
        (sum4(&ip.src) + sum4(&ip.dst), on_loopback)
    };
    match header::<EthHdr>(ctx, 0) {
        // Multicast or broadcast source MAC: not a station to reply to.
        Some(eth) if eth.src[0] & 1 == 0 => {}
        _ => return Err(COUNTER_PASS_BAD_SOURCE),
    }

    let Some(uh) = header::<UdpHdr>(ctx, l4) else {
        return Err(COUNTER_PASS_TRUNCATED);
    };
    if uh.src_port() == 0 {
        return Err(COUNTER_PASS_BAD_SOURCE);
    }
    let check = uh.check();
    if check == 0 {
        return Err(COUNTER_PASS_NO_CHECKSUM);
    }
    let ports = u64::from(uh.src_port()) + u64::from(uh.dst_port());

    let dns = (l4 + UDP_HLEN) & 0x7f;
    if udp_len < UDP_HLEN + DNS_HLEN + 5 {
        return Err(COUNTER_PASS_SHORT);
    }
    let msg_len = udp_len - UDP_HLEN;
    let Some(h) = header::<DnsHdr>(ctx, dns) else {
        return Err(COUNTER_PASS_SHORT);
    };
    let flags = h.flags();
    if flags & (DNS_QR | DNS_OPCODE_MASK) != 0 {
        return Err(COUNTER_PASS_NOT_QUERY);
    }
    let arcount = h.arcount();
    if h.qdcount() != 1 || h.ancount() != 0 || h.nscount() != 0 || arcount > 1 {
        return Err(COUNTER_PASS_COUNTS);
    }
    let id = h.id();

    // The name: lower-cased and zero-padded into the scratch buffer, its
    // original bytes summed (it starts at an even offset of the datagram).
    // SAFETY: `s` is this CPU's scratch entry; nothing else uses it while
    // the program runs.
    let name = unsafe { &mut (*s).name };
    clear64(name.as_mut_ptr());
    let qstart = dns + DNS_HLEN;
    let mut next = 0usize;
    let mut qlen = 0usize;
    let mut qsum = 0u64;
    // A constant trip count with an index, as the verifier likes it (§10.2),
    // four bytes per bounds check: a name ending in a chunk is followed by
    // QTYPE and QCLASS, so the chunk lies inside a well-formed question.
    'chunks: for c in 0..KEY_NAME_LEN / 4 {
        let Some(w) = bytes::<4>(ctx, qstart + 4 * c) else {
            // Fewer than four bytes left. Name the reason as a byte-wise
            // walk would: the name ends here (QTYPE missing), or is cut.
            let end = byte(ctx, qstart + (next & 0x7f));
            return Err(if next < 4 * c + 4 && end == Some(0) {
                COUNTER_PASS_SHORT
            } else {
                COUNTER_PASS_BAD_NAME
            });
        };
        let mut k = 0;
        while k < 4 {
            let i = 4 * c + k;
            let b = w[k];
            qsum += acc(b, k);
            if i == next {
                if b > 63 {
                    // Compression pointer or extended label type.
                    return Err(COUNTER_PASS_BAD_NAME);
                }
                if b == 0 {
                    qlen = i + 1;
                    break 'chunks;
                }
                next = i + 1 + b as usize;
            }
            name[i] = lower(b);
            k += 1;
        }
    }
    if qlen == 0 {
        return Err(COUNTER_PASS_NAME_TOO_LONG);
    }
    let qlen = opaque(s, qlen) & 0x7f;

    // QTYPE, QCLASS: at DNS offset 12 + qlen.
    let Some(t) = bytes::<4>(ctx, qstart + qlen) else {
        return Err(COUNTER_PASS_SHORT);
    };
    let qtype = u16::from_be_bytes([t[0], t[1]]);
    if u16::from_be_bytes([t[2], t[3]]) != CLASS_IN {
        return Err(COUNTER_PASS_QCLASS);
    }
    if qtype_passes(qtype) {
        return Err(COUNTER_PASS_QTYPE);
    }
    let mut i = 0;
    while i < 4 {
        qsum += acc(t[i], DNS_HLEN + qlen + i);
        i += 1;
    }

    // The optional OPT, right after the question and ending the message.
    let after_question = DNS_HLEN + qlen + 4;
    let mut edns = false;
    let mut dnssec_ok = false;
    let mut client_udp = 0u16;
    let mut opt_sum = 0u64;
    if arcount == 1 {
        let Some(o) = bytes::<OPT_RR_LEN>(ctx, dns + after_question) else {
            return Err(COUNTER_PASS_EDNS);
        };
        // Root owner, TYPE OPT, version 0, RDLENGTH 0 (no options). The
        // extended RCODE and flags other than DO are ignored, as by the engine.
        if o[0] != 0
            || u16::from_be_bytes([o[1], o[2]]) != TYPE_OPT
            || o[6] != 0
            || o[9] != 0
            || o[10] != 0
        {
            return Err(COUNTER_PASS_EDNS);
        }
        edns = true;
        client_udp = u16::from_be_bytes([o[3], o[4]]);
        dnssec_ok = u16::from_be_bytes([o[7], o[8]]) & EDNS_DO != 0;
        let mut i = 0;
        while i < OPT_RR_LEN {
            opt_sum += acc(o[i], after_question + i);
            i += 1;
        }
    }
    let expected = after_question + if edns { OPT_RR_LEN } else { 0 };
    if msg_len != expected {
        // Bytes after the last record (or a record that is missing).
        return Err(COUNTER_PASS_EDNS);
    }

    // Never answer a datagram the kernel would drop: verify its checksum.
    let shared_sum = addr_sum + u64::from(IPPROTO_UDP) + ports + u64::from(id) + 1 + qsum;
    let query_sum = shared_sum
        + 2 * udp_len as u64
        + u64::from(check)
        + u64::from(flags)
        + u64::from(arcount)
        + opt_sum;
    // On loopback the stack leaves UDP checksums partial (CHECKSUM_PARTIAL:
    // only the pseudo-header is summed) and nothing can corrupt the packet,
    // so only other interfaces verify it.
    if fold(query_sum) != 0xffff && !on_loopback {
        return Err(COUNTER_PASS_BAD_CHECKSUM);
    }

    let Some(table) = TABLES.get(TABLE_SLOT) else {
        return Err(COUNTER_PASS_NO_TABLE);
    };
    let entry = lookup(table, s, qtype, qlen)?;
    let query = Query {
        dns,
        qlen,
        flags,
        edns,
        dnssec_ok,
        client_udp,
        server_udp: config().effective_edns_udp_size(),
        shared_sum,
    };
    reply(ctx, s, l3, l4, v6, &query, entry)
}

/// The lookup of `dnsd_common::fastpath`: exact, node, ancestors (closest
/// encloser), wildcard, zone NXDOMAIN. Each name is hashed once for its
/// lookups; an entry found under the hash must hold the same name. Names
/// shorter than any in the table are not looked up (they would miss, and
/// the walk would end in a pass).
#[inline(always)]
fn lookup(table: &Table, s: *mut Scratch, qtype: u16, qlen: usize) -> Result<&Entry, u32> {
    // SAFETY: this CPU's scratch entry, used by nothing else meanwhile.
    let (win, name) = unsafe { (&mut (*s).win, &(*s).name) };
    let min_len = HINTS.get(HINT_MIN_NAME_LEN).map_or(0, |&v| v as usize);
    if qlen < min_len {
        return Err(COUNTER_PASS_MISS);
    }
    // The suffixes worth probing start at most here (they are at least
    // `min_len` long). Kept in the scratch entry and read afresh in each
    // iteration: a bound held in a register would get another range on
    // every iteration's branch, and the 5.10 verifier would then not prune
    // the walk's states.
    // SAFETY: this CPU's scratch entry.
    unsafe { ptr::write_volatile(&mut (*s).last_off, (qlen - min_len) as u64) };

    // 1. Exact (name, qtype).
    let hash = window(win, name, 0);
    if let Some(e) = get(table, win, hash, qtype, KIND_EXACT)? {
        return Ok(e);
    }
    // 2. The name exists: NODATA, or the referral.
    if let Some(node) = get(table, win, hash, 0, KIND_NODE)? {
        return if node.node_flags & NODE_PASS != 0 {
            Err(COUNTER_PASS_NODE)
        } else {
            Ok(node)
        };
    }
    // 3. The closest encloser, one label up at a time.
    let mut off = 0usize;
    for _ in 0..MAX_ANCESTORS {
        let len = name[off & (KEY_NAME_LEN - 1)] as usize;
        if len == 0 {
            break; // the root was tried already: out of our zones
        }
        off = (off + 1 + len) & (KEY_NAME_LEN - 1);
        // SAFETY: as above.
        if off as u64 > unsafe { ptr::read_volatile(&(*s).last_off) } {
            break; // shorter than every name in the table
        }
        let hash = window(win, name, off);
        let Some(node) = get(table, win, hash, 0, KIND_NODE)? else {
            continue;
        };
        let node_flags = node.node_flags;
        if node_flags & NODE_PASS != 0 {
            return Err(COUNTER_PASS_NODE);
        }
        if node_flags & (NODE_CUT | NODE_BELOW_CUT) != 0 {
            return Ok(node);
        }
        if node_flags & NODE_WILDCARD != 0 {
            let hash = wildcard_window(win, name, off);
            if let Some(e) = get(table, win, hash, qtype, KIND_EXACT)? {
                return Ok(e);
            }
            return match get(table, win, hash, 0, KIND_NODE)? {
                Some(w) if w.node_flags & NODE_PASS == 0 => Ok(w),
                _ => Err(COUNTER_PASS_NODE),
            };
        }
        // The slot's key holds no name: nothing to compare.
        let nx = MapKey::zone_nx(node.zone);
        // SAFETY: as in `get`.
        return match table.get_ptr(nx) {
            Some(p) => Ok(unsafe { &*p }),
            None => Err(COUNTER_PASS_NODE),
        };
    }
    // 4. No zone of ours, or deeper than MAX_ANCESTORS below the encloser.
    Err(COUNTER_PASS_MISS)
}

/// The entry under (`hash`, `qtype`, `kind`), if any; the pass reason if
/// it holds a name other than `win` (a collision: never answered, and not
/// a miss either, which could mean NXDOMAIN).
#[inline(always)]
fn get<'a>(
    table: &'a Table,
    win: &NameWords,
    hash: u64,
    qtype: u16,
    kind: u16,
) -> Result<Option<&'a Entry>, u32> {
    let key = MapKey {
        hash,
        qtype,
        kind,
        _pad: [0; 4],
    };
    let Some(p) = table.get_ptr(key) else {
        return Ok(None);
    };
    // SAFETY: inner maps are never modified once published (reloads swap
    // in a new map), so the value cannot change under us; RCU keeps it
    // alive until the program returns.
    let e = unsafe { &*p };
    // `Entry` is 8-byte aligned and `name` its first field.
    let words = e.name.as_ptr() as *const u64;
    let mut diff = 0u64;
    let mut i = 0;
    while i < win.len() {
        // SAFETY: `name` has KEY_NAME_LEN = 8 × 8 bytes, 8-aligned.
        diff |= u64::from_le(unsafe { *words.add(i) }) ^ win[i];
        i += 1;
    }
    if diff != 0 {
        return Err(COUNTER_PASS_COLLISION);
    }
    Ok(Some(e))
}

/// Checks the entry and the size, then rewrites the frame into the reply.
#[inline(always)]
fn reply(
    ctx: &XdpContext,
    s: *mut Scratch,
    l3: usize,
    l4: usize,
    v6: bool,
    q: &Query,
    e: &Entry,
) -> Result<u32, u32> {
    let tail_len = e.tail_len as usize;
    let nfixups = e.nfixups as usize;
    let counter = u32::from(e.counter);
    if tail_len > TAIL_CAP
        || nfixups > MAX_FIXUPS
        || !(COUNTER_ANSWERED_BASE..COUNTER_ANSWERED_BASE + COUNTER_ANSWERED_SLOTS)
            .contains(&counter)
    {
        return Err(COUNTER_PASS_BAD_ENTRY);
    }
    let mut k = 0;
    while k < MAX_FIXUPS {
        if k < nfixups && e.fixups[k] as usize + 2 > tail_len {
            return Err(COUNTER_PASS_BAD_ENTRY);
        }
        k += 1;
    }

    let opt_len = if q.edns { OPT_RR_LEN } else { 0 };
    let dns_len = DNS_HLEN + q.qlen + 4 + tail_len + opt_len;
    let limit = if q.edns {
        let server = q.server_udp as usize;
        (q.client_udp as usize)
            .max(PLAIN_UDP_LIMIT)
            .min(server.max(PLAIN_UDP_LIMIT))
    } else {
        PLAIN_UDP_LIMIT
    };
    if dns_len > limit {
        return Err(COUNTER_PASS_TOO_BIG);
    }

    let new_len = (q.dns + dns_len) as i64;
    let delta = new_len - frame_len(ctx) as i64;
    // SAFETY: plain helper call on our own context.
    if delta != 0 && unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta as i32) } != 0 {
        return Err(COUNTER_PASS_ADJUST_TAIL);
    }
    // From here on the frame becomes the reply. The bounds checks in
    // `rewrite` cannot fail (the frame now has exactly the size computed
    // above); they are for the verifier. Should one fail anyway, the frame
    // would be passed half rewritten, counted as ADJUST_TAIL.
    let Some(()) = rewrite(ctx, s, l3, l4, v6, q, e, dns_len) else {
        return Err(COUNTER_PASS_ADJUST_TAIL);
    };
    Ok(counter)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn rewrite(
    ctx: &XdpContext,
    s: *mut Scratch,
    l3: usize,
    l4: usize,
    v6: bool,
    q: &Query,
    e: &Entry,
    dns_len: usize,
) -> Option<()> {
    let udp_len = UDP_HLEN + dns_len;
    let eth = header_mut::<EthHdr>(ctx, 0)?;
    core::mem::swap(&mut eth.dst, &mut eth.src);
    if v6 {
        let ip = header_mut::<Ipv6Hdr>(ctx, l3)?;
        core::mem::swap(&mut ip.src, &mut ip.dst);
        ip.payload_len = (udp_len as u16).to_be_bytes();
        ip.hop_limit = REPLY_TTL;
    } else {
        let ip = header_mut::<Ipv4Hdr>(ctx, l3)?;
        core::mem::swap(&mut ip.src, &mut ip.dst);
        ip.total_len = ((IPV4_HLEN + udp_len) as u16).to_be_bytes();
        ip.ttl = REPLY_TTL;
        ip.check = [0, 0];
        let sum = u64::from(u16::from_be_bytes([ip.version_ihl, ip.tos]))
            + u64::from(ip.total_len())
            + u64::from(u16::from_be_bytes(ip.id))
            + u64::from(ip.frag_off())
            + u64::from(u16::from_be_bytes([ip.ttl, ip.protocol]))
            + sum4(&ip.src)
            + sum4(&ip.dst);
        ip.check = (!fold(sum)).to_be_bytes();
    }

    // Tail, then its fixups, summed as if it started at an even offset.
    // Lengths read from the entry are laundered before and after each loop:
    // a loop that exits at `j >= len` leaves the verifier knowing `len == j`
    // on each exit path, and those otherwise identical states would not
    // prune each other (hundreds of thousands of instructions to verify).
    let base = q.dns + DNS_HLEN + q.qlen + 4;
    let tail_len = opaque(s, e.tail_len as usize) & 0x1ff;
    let mut tail_sum = 0u64;
    // Eight bytes per bounds check; `j` stays a multiple of 8, so each
    // byte's place in the checksum word is fixed.
    let mut j = 0usize;
    for _ in 0..TAIL_CAP / 8 {
        if j + 8 > tail_len {
            break;
        }
        let p = bytes_ptr::<8>(ctx, base + j)? as *mut u8;
        let mut k = 0;
        while k < 8 {
            let b = *e.tail.get(j + k)?;
            // SAFETY: 8 bytes at `p` are inside the frame (bytes_ptr).
            unsafe { *p.add(k) = b };
            tail_sum += acc(b, k);
            k += 1;
        }
        j += 8;
    }
    // The last 0–7 bytes, one bounds check each.
    let mut k = 0;
    while k < 7 {
        if j + k >= tail_len {
            break;
        }
        let b = *e.tail.get(j + k)?;
        let p = byte_ptr(ctx, base + j + k)?;
        // SAFETY: `p` is inside the frame (checked by byte_ptr).
        unsafe { *p = b };
        tail_sum += acc(b, k);
        k += 1;
    }
    let tail_len = opaque(s, tail_len) & 0x1ff;
    let shift = (q.qlen as u16).wrapping_sub(e.ref_qlen);
    let nfixups = opaque(s, e.nfixups as usize) & 0xf;
    for k in 0..MAX_FIXUPS {
        if k >= nfixups {
            break;
        }
        let f = e.fixups[k] as usize & 0x1ff;
        let p = bytes_ptr::<2>(ctx, base + f)?;
        // SAFETY: two bytes inside the frame (checked by bytes_ptr).
        let old = unsafe { u16::from_be_bytes(*p) };
        let new = old.wrapping_add(shift);
        unsafe { *p = new.to_be_bytes() };
        let (old, new) = if f & 1 == 0 {
            (old, new)
        } else {
            (old.swap_bytes(), new.swap_bytes())
        };
        tail_sum += u64::from(new) + u64::from(0xffff - old);
    }
    let mut tail_sum = fold(tail_sum);
    if q.qlen & 1 == 1 {
        // The tail starts at an odd offset of the datagram.
        tail_sum = tail_sum.swap_bytes();
    }

    // The OPT: root, OPT, CLASS = server size, TTL = DO only, RDLENGTH 0.
    let mut opt_sum = 0u64;
    if q.edns {
        let o = bytes_ptr::<OPT_RR_LEN>(ctx, base + tail_len)?;
        let size = q.server_udp.to_be_bytes();
        let opt: [u8; OPT_RR_LEN] = [
            0,
            0,
            TYPE_OPT as u8,
            size[0],
            size[1],
            0,
            0,
            if q.dnssec_ok { 0x80 } else { 0 },
            0,
            0,
            0,
        ];
        // SAFETY: OPT_RR_LEN bytes inside the frame (checked by bytes_ptr).
        unsafe { *o = opt };
        let at = DNS_HLEN + q.qlen + 4 + tail_len;
        let mut i = 0;
        while i < OPT_RR_LEN {
            opt_sum += acc(opt[i], at + i);
            i += 1;
        }
    }

    // DNS header: ID and QDCOUNT stay.
    let flags = DNS_QR | (q.flags & DNS_RD) | e.flags;
    let arcount = e.arcount.wrapping_add(u16::from(q.edns));
    let h = header_mut::<DnsHdr>(ctx, q.dns)?;
    h.flags = flags.to_be_bytes();
    h.ancount = e.ancount.to_be_bytes();
    h.nscount = e.nscount.to_be_bytes();
    h.arcount = arcount.to_be_bytes();

    let uh = header_mut::<UdpHdr>(ctx, l4)?;
    core::mem::swap(&mut uh.src_port, &mut uh.dst_port);
    uh.len = (udp_len as u16).to_be_bytes();
    let sum = q.shared_sum
        + 2 * udp_len as u64
        + u64::from(flags)
        + u64::from(e.ancount)
        + u64::from(e.nscount)
        + u64::from(arcount)
        + u64::from(tail_sum)
        + opt_sum;
    let check = match !fold(sum) {
        0 => 0xffff,
        c => c,
    };
    uh.check = check.to_be_bytes();
    Some(())
}

/// Passes `v` through the scratch map: the verifier then sees an unknown
/// value (to be masked by the caller) instead of one constant per path.
#[inline(always)]
fn opaque(s: *mut Scratch, v: usize) -> usize {
    // SAFETY: this CPU's scratch entry; volatile so LLVM keeps the round trip.
    unsafe {
        ptr::write_volatile(&mut (*s).spill, v as u64);
        ptr::read_volatile(&(*s).spill) as usize
    }
}

/// Zeroes 64 bytes at `p` (8-byte aligned) with eight 8-byte stores.
/// Volatile: plain stores become a call to the object's byte-wise `memset`.
#[inline(always)]
fn clear64(p: *mut u8) {
    let w = p as *mut u64;
    let mut i = 0;
    while i < KEY_NAME_LEN / 8 {
        // SAFETY: callers pass a 64-byte, 8-aligned buffer.
        unsafe { w.add(i).write_volatile(0) };
        i += 1;
    }
}

/// `win` = the 64 bytes of `name` from `off` (≤ 63) as words: the suffix
/// starting there, zero-padded; returns its hash.
#[inline(always)]
fn window(win: &mut NameWords, name: &[u8; 2 * KEY_NAME_LEN], off: usize) -> u64 {
    fill(win, name, off);
    name_hash(win)
}

/// The words of [`window`]. Each is combined from two aligned source words
/// (`name` is 8-byte aligned).
#[inline(always)]
fn fill(win: &mut NameWords, name: &[u8; 2 * KEY_NAME_LEN], off: usize) {
    let off = off & (KEY_NAME_LEN - 1);
    let q = off >> 3;
    let r = ((off & 7) << 3) as u32;
    let src = name.as_ptr() as *const u64;
    let mut w = 0;
    while w < KEY_NAME_LEN / 8 {
        // SAFETY: q + w + 1 ≤ 7 + 7 + 1 < 16 words of `name`, 8-aligned.
        let (lo, hi) = unsafe {
            (
                u64::from_le(*src.add(q + w)),
                u64::from_le(*src.add(q + w + 1)),
            )
        };
        // `hi << (64 - r)`, written so that r = 0 shifts by at most 63.
        win[w] = (lo >> r) | ((hi << 1) << (63 - r));
        w += 1;
    }
}

/// `win` = `\x01*` + the suffix of `name` from `off` (2 ≤ `off` ≤ 63;
/// the suffix is at most 62 bytes since a label was stripped); returns
/// its hash.
#[inline(always)]
fn wildcard_window(win: &mut NameWords, name: &[u8; 2 * KEY_NAME_LEN], off: usize) -> u64 {
    fill(win, name, off.wrapping_sub(2));
    win[0] = (win[0] & !0xffff) | (u64::from(b'*') << 8) | 1;
    name_hash(win)
}

/// An IPv6 source we never reply to: multicast, unspecified (::), loopback
/// (::1, except towards ::1) or IPv4-mapped (::ffff:0:0/96).
#[inline(always)]
fn bad_source_v6(a: &[u8; 16], on_loopback: bool) -> bool {
    if a[0] == 0xff {
        return true;
    }
    let mut zero_head = true;
    let mut i = 0;
    while i < 10 {
        zero_head &= a[i] == 0;
        i += 1;
    }
    if !zero_head {
        return false;
    }
    let mapped = a[10] == 0xff && a[11] == 0xff;
    let low = (a[10] | a[11] | a[12] | a[13] | a[14]) == 0 && a[15] <= 1;
    let loopback = low && a[15] == 1;
    mapped || (low && !(loopback && on_loopback))
}

/// `::1`.
#[inline(always)]
fn is_v6_loopback(a: &[u8; 16]) -> bool {
    let mut zero = true;
    let mut i = 0;
    while i < 15 {
        zero &= a[i] == 0;
        i += 1;
    }
    zero && a[15] == 1
}

/// ASCII lower case of A–Z only (RFC 4343); label lengths (≤ 63) are below 'A'.
#[inline(always)]
const fn lower(b: u8) -> u8 {
    if b.wrapping_sub(b'A') < 26 {
        b | 0x20
    } else {
        b
    }
}

/// `b`'s contribution to a one's-complement sum at offset `pos` of a
/// region starting at an even offset: high byte at even offsets.
#[inline(always)]
fn acc(b: u8, pos: usize) -> u64 {
    u64::from(b) << ((!pos & 1) << 3)
}

/// Folds a one's-complement sum to 16 bits.
#[inline(always)]
fn fold(mut sum: u64) -> u16 {
    let mut i = 0;
    while i < 4 {
        sum = (sum & 0xffff) + (sum >> 16);
        i += 1;
    }
    sum as u16
}

#[inline(always)]
fn sum4(a: &[u8; 4]) -> u64 {
    u64::from(u16::from_be_bytes([a[0], a[1]])) + u64::from(u16::from_be_bytes([a[2], a[3]]))
}

#[inline(always)]
fn sum16(a: &[u8; 16]) -> u64 {
    let mut sum = 0;
    let mut i = 0;
    while i < 16 {
        sum += u64::from(u16::from_be_bytes([a[i], a[i + 1]]));
        i += 2;
    }
    sum
}

/// The frame byte at `off`.
#[inline(always)]
fn byte(ctx: &XdpContext, off: usize) -> Option<u8> {
    // SAFETY: byte_ptr checked the bounds.
    byte_ptr(ctx, off).map(|p| unsafe { *p })
}

#[inline(always)]
fn byte_ptr(ctx: &XdpContext, off: usize) -> Option<*mut u8> {
    bytes_ptr::<1>(ctx, off).map(|p| p as *mut u8)
}

/// `N` frame bytes at `off`, copied.
#[inline(always)]
fn bytes<const N: usize>(ctx: &XdpContext, off: usize) -> Option<[u8; N]> {
    // SAFETY: bytes_ptr checked the bounds; [u8; N] has alignment 1.
    bytes_ptr::<N>(ctx, off).map(|p| unsafe { *p })
}

#[inline(always)]
fn bytes_ptr<const N: usize>(ctx: &XdpContext, off: usize) -> Option<*mut [u8; N]> {
    checked(ctx, off, N).map(|p| p as *mut [u8; N])
}
