//! A pure-Rust model of the XDP program's DNS stage: the header checks of
//! shared/spec/xdp-fast-path.md §1, the lookup of `dnsd_common::fastpath`
//! and the response assembly of §3 and §5. Tests hold it to the answer
//! engine byte for byte, so it is written the way the eBPF program must
//! be: one pass over the query name into a lower-cased key buffer with the
//! label offsets recorded, loops with constant trip counts, fixed-size
//! buffers, every read bounds-checked. Only the output is a `Vec`.
//!
//! `None` means XDP_PASS.

use dnsd_common::fastpath::{
    KEY_NAME_LEN, KIND_EXACT, KIND_NODE, MAX_ANCESTORS, MAX_FIXUPS, NODE_BELOW_CUT, NODE_CUT,
    NODE_PASS, NODE_WILDCARD, TAIL_CAP,
};
use dnsd_common::{COUNTER_ANSWERED_BASE, COUNTER_ANSWERED_SLOTS};

use super::table::qtype_passes;
use super::{Entry, Key, Table};

/// Header flag bits (RFC 1035 §4.1.1).
const QR: u16 = 0x8000;
const OPCODE_MASK: u16 = 0x7800;
const RD: u16 = 0x0100;
/// QCLASS IN.
const CLASS_IN: u16 = 1;
/// TYPE OPT.
const TYPE_OPT: u16 = 41;
/// An OPT record without options.
const OPT_LEN: usize = 11;
/// Most labels a name that fits a key can have (each takes two bytes at
/// least, and the root label one).
const MAX_LABELS: usize = (KEY_NAME_LEN - 1) / 2;
/// Response limit without EDNS (RFC 1035 §4.2.1).
const PLAIN_LIMIT: usize = 512;

/// The response XDP sends for `msg`, or `None` to pass it.
/// `server_udp_size` is the engine's `edns_udp_size`.
///
/// `NODE_PASS` is looked at on every node and `zone_nx` slot the lookup
/// lands on (the query's node, the closest encloser, the `*.E` node, the
/// NXDOMAIN slot): "pass every query that reaches this node without an
/// exact entry".
pub fn answer(table: &Table, server_udp_size: u16, msg: &[u8]) -> Option<Vec<u8>> {
    let q = parse(msg)?;
    if qtype_passes(q.qtype) {
        return None;
    }
    let entry = find(table, &q)?;
    respond(msg, &q, entry, server_udp_size)
}

/// True if `msg` passes the header, question and OPT checks (tests use it
/// to tell why a query was passed).
#[cfg(test)]
pub(super) fn accepts(msg: &[u8]) -> bool {
    parse(msg).is_some_and(|q| !qtype_passes(q.qtype))
}

/// What the program keeps from a query it may answer.
struct Query {
    /// The query name lower-cased, zero-padded; `kind` and `qtype` unset.
    key: Key,
    /// Wire length of the query name, root label included.
    qlen: usize,
    /// Offset in the name of each label, leftmost first.
    labels: [usize; MAX_LABELS],
    nlabels: usize,
    qtype: u16,
    flags: u16,
    /// The OPT record: (UDP size, DO).
    edns: Option<(u16, bool)>,
}

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    let b = msg.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// §1 "DNS header", "Question" and "Additional".
fn parse(msg: &[u8]) -> Option<Query> {
    let flags = be16(msg, 2)?;
    if flags & (QR | OPCODE_MASK) != 0 {
        return None;
    }
    let arcount = be16(msg, 10)?;
    if be16(msg, 4)? != 1 || be16(msg, 6)? != 0 || be16(msg, 8)? != 0 || arcount > 1 {
        return None;
    }

    // The name: one iteration per label.
    let mut key = Key::zeroed();
    let mut labels = [0usize; MAX_LABELS];
    let mut nlabels = 0;
    let mut pos = 0;
    let mut ended = false;
    for _ in 0..=MAX_LABELS {
        let len = *msg.get(12 + pos)? as usize;
        if len == 0 {
            ended = true;
            break;
        }
        // 0x40, 0x80 and 0xC0 label types; this label plus a root label
        // must fit the key.
        if len > 63 || pos + 1 + len + 1 > KEY_NAME_LEN || nlabels >= MAX_LABELS {
            return None;
        }
        labels[nlabels] = pos;
        nlabels += 1;
        key.name[pos] = len as u8;
        let label = msg.get(12 + pos + 1..12 + pos + 1 + len)?;
        // At most 63 iterations; RFC 4343: A–Z only.
        for (i, &b) in label.iter().enumerate() {
            key.name[pos + 1 + i] = if b.is_ascii_uppercase() { b | 0x20 } else { b };
        }
        pos += 1 + len;
    }
    if !ended {
        return None;
    }
    let qlen = pos + 1;
    let end = 12 + qlen;
    let qtype = be16(msg, end)?;
    if be16(msg, end + 2)? != CLASS_IN {
        return None;
    }
    let after = end + 4;
    let edns = if arcount == 0 {
        if msg.len() != after {
            return None;
        }
        None
    } else {
        // Root owner, type OPT, version 0, RDLEN 0, nothing after it. The
        // extended RCODE byte and the flags other than DO are ignored, as
        // the engine ignores them.
        let opt = msg.get(after..after + OPT_LEN)?;
        if msg.len() != after + OPT_LEN
            || opt[0] != 0
            || be16(opt, 1)? != TYPE_OPT
            || opt[6] != 0
            || be16(opt, 9)? != 0
        {
            return None;
        }
        Some((be16(opt, 3)?, opt[7] & 0x80 != 0))
    };
    Some(Query {
        key,
        qlen,
        labels,
        nlabels,
        qtype,
        flags,
        edns,
    })
}

/// `entry` unless it says pass.
fn unless_pass(entry: &Entry) -> Option<&Entry> {
    (entry.node_flags & NODE_PASS == 0).then_some(entry)
}

/// What a lookup of `key` finds: `Ok(None)` for a miss, `Err(())` (pass)
/// if the entry found holds another name (a collision entry: the map is
/// keyed by a hash of the name, and the program compares the names).
fn get<'t>(table: &'t Table, key: &Key) -> Result<Option<&'t Entry>, ()> {
    match table.get(key) {
        Some(e) if e.name != key.name => Err(()),
        found => Ok(found),
    }
}

/// The lookup of `dnsd_common::fastpath`, steps 1 to 4.
fn find<'t>(table: &'t Table, q: &Query) -> Option<&'t Entry> {
    // 1. Exact.
    let mut key = q.key;
    key.qtype = q.qtype;
    key.kind = KIND_EXACT;
    if let Some(e) = get(table, &key).ok()? {
        return Some(e);
    }
    // 2. The name exists: NODATA, referral or pass.
    key.qtype = 0;
    key.kind = KIND_NODE;
    if let Some(node) = get(table, &key).ok()? {
        return unless_pass(node);
    }
    // 3. The closest encloser, at most MAX_ANCESTORS labels up.
    for i in 1..=MAX_ANCESTORS {
        if i > q.nlabels {
            return None;
        }
        // Strip i labels; i == nlabels leaves the root label.
        let start = if i < q.nlabels {
            q.labels[i]
        } else {
            q.qlen - 1
        };
        let len = q.qlen - start;
        let mut anc = Key::zeroed();
        anc.name[..len].copy_from_slice(&q.key.name[start..q.qlen]);
        anc.kind = KIND_NODE;
        let Some(enc) = get(table, &anc).ok()? else {
            continue;
        };
        let enc = unless_pass(enc)?;
        if enc.node_flags & (NODE_CUT | NODE_BELOW_CUT) != 0 {
            return Some(enc);
        }
        if enc.node_flags & NODE_WILDCARD != 0 {
            // `*.E`: the label `*` then E.
            if 2 + len > KEY_NAME_LEN {
                return None;
            }
            let mut star = Key::zeroed();
            star.name[0] = 1;
            star.name[1] = b'*';
            star.name[2..2 + len].copy_from_slice(&anc.name[..len]);
            star.qtype = q.qtype;
            star.kind = KIND_EXACT;
            if let Some(e) = get(table, &star).ok()? {
                return Some(e);
            }
            star.qtype = 0;
            star.kind = KIND_NODE;
            return unless_pass(get(table, &star).ok()??);
        }
        return unless_pass(table.zone_nx.get(enc.zone as usize)?);
    }
    // 4. Deeper than MAX_ANCESTORS below anything we have, or no zone.
    None
}

/// §3, §5: the query's header and question, the tail with its fixups, the
/// OPT; or `None` if it does not fit, or the entry is not a sendable one
/// (tail or fixups out of range, counter outside the answered range: the
/// checks the program makes before copying).
fn respond(msg: &[u8], q: &Query, e: &Entry, server_udp_size: u16) -> Option<Vec<u8>> {
    let tail_len = e.tail_len as usize;
    let nfixups = e.nfixups as usize;
    let counter = e.counter as u32;
    if tail_len > TAIL_CAP
        || nfixups > MAX_FIXUPS
        || !(COUNTER_ANSWERED_BASE..COUNTER_ANSWERED_BASE + COUNTER_ANSWERED_SLOTS)
            .contains(&counter)
    {
        return None;
    }
    let limit = match q.edns {
        None => PLAIN_LIMIT,
        Some((udp, _)) => (udp as usize)
            .max(PLAIN_LIMIT)
            .min((server_udp_size as usize).max(PLAIN_LIMIT)),
    };
    let qend = 12 + q.qlen + 4;
    let opt_len = if q.edns.is_some() { OPT_LEN } else { 0 };
    if qend + tail_len + opt_len > limit {
        return None;
    }
    let mut out = Vec::with_capacity(qend + tail_len + opt_len);
    out.extend_from_slice(msg.get(..qend)?);
    let flags = QR | (q.flags & RD) | e.flags;
    let arcount = e.arcount + q.edns.is_some() as u16;
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    out[4..6].copy_from_slice(&1u16.to_be_bytes());
    out[6..8].copy_from_slice(&e.ancount.to_be_bytes());
    out[8..10].copy_from_slice(&e.nscount.to_be_bytes());
    out[10..12].copy_from_slice(&arcount.to_be_bytes());
    out.extend_from_slice(&e.tail[..tail_len]);
    let delta = (q.qlen as u16).wrapping_sub(e.ref_qlen);
    for i in 0..MAX_FIXUPS {
        if i >= nfixups {
            break;
        }
        let off = e.fixups[i] as usize;
        if off + 2 > tail_len {
            return None;
        }
        let at = qend + off;
        let v = u16::from_be_bytes([out[at], out[at + 1]]).wrapping_add(delta);
        out[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    if let Some((_, dnssec_ok)) = q.edns {
        let [hi, lo] = server_udp_size.to_be_bytes();
        let do_bit = if dnssec_ok { 0x80 } else { 0 };
        out.extend_from_slice(&[0, 0, TYPE_OPT as u8, hi, lo, 0, 0, do_bit, 0, 0, 0]);
    }
    Some(out)
}
