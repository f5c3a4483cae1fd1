//! Building the XDP fast-path table from a compiled snapshot
//! (shared/spec/xdp-fast-path.md §3, §4; layout and lookup:
//! `dnsd_common::fastpath`).
//!
//! Every tail is the answer engine's own response (ONE renderer): a
//! reference query is answered by [`engine::respond`] over TCP (no size
//! limit, so the rendering is complete) and the bytes after the question
//! become the tail. Nothing here encodes DNS records.
//!
//! What the table holds, per zone served by XDP:
//! - a node entry for every name (empty non-terminals included): its
//!   NODATA tail, or for a delegation point or a name below one the
//!   referral, rendered for that name;
//! - an exact entry for every `(name, qtype)` whose answer differs from the
//!   node's tail: the types present, ANY, DS at cuts and at apexes whose
//!   parent we serve, and at CNAME owners every type of [`CNAME_QTYPES`];
//! - `*.E` entries (exact and node) with fixups, used for the names that
//!   the wildcard synthesises for;
//! - NXDOMAIN tails in `zone_nx`: slot `z` is zone `z`'s, and an encloser
//!   whose NXDOMAIN would compress differently (the SOA's MNAME below it,
//!   say) gets its own slot (`Entry::zone` of a node is its NXDOMAIN slot);
//! - pass nodes (`NODE_PASS`) where XDP cannot be exact.
//!
//! **Variable-length tails** (wildcard entries, referrals used for names
//! below the node, NXDOMAIN slots) are rendered for a reference name
//! `prefix.S`, `S` the name every query using the tail ends with. Each
//! compression pointer to `S` or into the tail is a fixup. Each such entry
//! is checked: rendered again for two longer reference names, the fixups
//! must predict those renderings byte for byte, else the entry is left out
//! (and the node passes). The writer may also compress a record name
//! against a part of the *query* name above `S`; that happens only if a
//! name in the tail ends with such a part. Those parts do not exist (else
//! the walk would have stopped there), so every non-existent ancestor of
//! a name written in a variable tail gets a pass node: a query below it
//! stops there and passes.
//!
//! **Pass entries** (nodes and `zone_nx` slots) carry `NODE_PASS`, no tail
//! bytes, `tail_len` = [`PASS_TAIL_LEN`] (over `TAIL_CAP`) and counter 0
//! (outside the answered range): the program passes on `NODE_PASS`
//! wherever it lands on a node or slot (as the flag's documentation says:
//! "every query that reaches this node without an exact entry"), and its
//! entry checks (tail length, counter) would refuse them anyway. Slots carry the flag because a name may be
//! answerable (NODATA) while misses below it are not (tinydns zones).
//!
//! Zones in tinydns wildcard mode: exact entries and NODATA/referral node
//! tails are built (the engine renders them for exactly that name); a node
//! whose generic answer comes from a tinydns wildcard (an empty
//! non-terminal under a `*`) passes; `NODE_WILDCARD` is never set and the
//! zone's NXDOMAIN slot passes, so every miss goes to userspace, which walks
//! tinydns wildcards (§4). Zones with tinydns timestamps
//! (`time_dependent`): every node passes and there are no exact entries —
//! the snapshot does not record which RRsets carry timestamps, and the spec
//! (§3) wants clock-dependent answers from userspace. Zones with records
//! restricted to tinydns locations (`client_dependent`) are treated the same
//! way: their answers depend on the client's address.
//!
//! **Hashed map keys:** every entry gets its key's name (the program
//! compares it); keys whose `MapKey` (64-bit name hash, qtype, kind) is
//! shared by another key all get `Entry::collision()`, which matches no
//! name, so their queries go to userspace (`build_with_hash` lets tests
//! force such collisions).

use std::collections::{BTreeSet, HashMap, HashSet};

use dnsd_common::fastpath::{
    KEY_NAME_LEN, KIND_EXACT, KIND_NODE, MAX_FIXUPS, MapKey, NODE_BELOW_CUT, NODE_CUT, NODE_PASS,
    NODE_WILDCARD, NameWords, TAIL_CAP, name_hash,
};

use super::{Entry, Key, Table, key_order, make_key};
use crate::config::WildcardMode;
use crate::engine::lookup::Kind;
use crate::engine::{self, EngineSettings, Transport};
use crate::wire::name::MAX_NAME;
use crate::wire::query::{CLASS_IN, flags, rcode};
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::{Node, Snapshot};

/// Answered-by-kind counters (indexes into `COUNTERS`), shared with the
/// XDP program.
pub use dnsd_common::{
    COUNTER_ANSWERED_ANSWER, COUNTER_ANSWERED_NODATA, COUNTER_ANSWERED_NXDOMAIN,
    COUNTER_ANSWERED_REFERRAL, COUNTER_ANSWERED_WILDCARD,
};

/// Query types XDP must pass whatever the table holds: the engine answers
/// zone transfers NOTIMP (checklist 50), not from the zone data.
pub const PASS_QTYPES: [u16; 2] = [Rtype::IXFR.0, Rtype::AXFR.0];

/// True if XDP must pass `qtype` before any lookup.
pub const fn qtype_passes(qtype: u16) -> bool {
    let mut i = 0;
    while i < PASS_QTYPES.len() {
        if PASS_QTYPES[i] == qtype {
            return true;
        }
        i += 1;
    }
    false
}

/// The query types with exact entries at CNAME owners (every other type
/// passes there: the node has `NODE_PASS`).
pub const CNAME_QTYPES: [u16; 14] = [
    Rtype::A.0,
    Rtype::NS.0,
    Rtype::CNAME.0,
    Rtype::SOA.0,
    Rtype::PTR.0,
    Rtype::MX.0,
    Rtype::TXT.0,
    Rtype::AAAA.0,
    Rtype::SRV.0,
    Rtype::DS.0,
    Rtype::SVCB.0,
    Rtype::HTTPS.0,
    Rtype::CAA.0,
    Rtype::ANY.0,
];

/// `tail_len` of pass entries: over [`TAIL_CAP`] and any UDP limit, so a
/// pass entry is never sent even where `NODE_PASS` is not looked at.
pub const PASS_TAIL_LEN: u16 = u16::MAX;

/// Private-use types used to render NODATA tails (RFC 6895 §3.1); the first
/// two absent at a node are used.
const PROBE_QTYPES: [u16; 4] = [65280, 65281, 65282, 65283];

/// Builds the table for `snapshot`; `settings` are the engine's.
pub fn build(snapshot: &Snapshot, settings: &EngineSettings) -> Table {
    build_with_hash(snapshot, settings, name_hash)
}

/// [`build`], with the map's name hash given (tests force collisions with
/// weak ones; the program only ever uses [`name_hash`]).
pub(crate) fn build_with_hash(
    snapshot: &Snapshot,
    settings: &EngineSettings,
    hash: fn(&NameWords) -> u64,
) -> Table {
    build_with(snapshot, settings, hash, None)
}

/// [`build_with_hash`] on `threads` threads (`None`: one per core).
fn build_with(
    snapshot: &Snapshot,
    settings: &EngineSettings,
    hash: fn(&NameWords) -> u64,
    threads: Option<usize>,
) -> Table {
    let mut b = Builder::new(snapshot, settings);
    if let Some(t) = threads {
        b.threads = t.max(1);
    }
    for zi in 0..snapshot.zones.len() {
        b.add_zone(zi);
    }
    b.add_pass_nodes();
    b.finish(hash)
}

/// Gives every entry the name of its key, and replaces the entries of
/// keys whose [`MapKey`] (hashed with `hash`) is shared by another key
/// with [`Entry::collision`]: the map can hold one of them only, and the
/// program would answer none (the names differ), so userspace answers all.
fn resolve_collisions(entries: &mut [(Key, Entry)], hash: fn(&NameWords) -> u64) {
    // A sorted copy of the map keys finds the shared ones (cheaper than a
    // SipHash map over every key).
    let keys: Vec<MapKey> = entries.iter().map(|(k, _)| k.map_key_with(hash)).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    for ((key, entry), map_key) in entries.iter_mut().zip(&keys) {
        let first = sorted.partition_point(|k| k < map_key);
        if sorted.get(first + 1) == Some(map_key) {
            *entry = Entry::collision();
        } else {
            entry.name = key.name;
        }
    }
}

/// Sorts `entries` by [`key_order`], moving each (large) entry at most
/// once per swap: the indexes are sorted, then the permutation is applied
/// in place cycle by cycle (no second copy of the table).
fn sort_entries(entries: &mut [(Key, Entry)]) {
    let mut order: Vec<u32> = (0..entries.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| key_order(&entries[a as usize].0, &entries[b as usize].0));
    // `order[i]` is the index of the entry that belongs at `i`.
    for start in 0..order.len() {
        let mut i = start;
        loop {
            let j = order[i] as usize;
            order[i] = i as u32;
            if j == start || j == i {
                break;
            }
            entries.swap(i, j);
            i = j;
        }
    }
}

/// A pass entry: `NODE_PASS`, [`PASS_TAIL_LEN`], counter 0 (never sent).
pub fn pass_entry(node_flags: u16, zone: u16) -> Entry {
    let mut e = Entry::zeroed();
    e.node_flags = node_flags | NODE_PASS;
    e.zone = zone;
    e.tail_len = PASS_TAIL_LEN;
    e
}

/// The tail of `entry` with its fixups applied for a query name of
/// `qlen` bytes, or `None` if the entry is malformed or a pass entry.
pub fn tail_for(entry: &Entry, qlen: usize) -> Option<Vec<u8>> {
    let len = entry.tail_len as usize;
    if entry.node_flags & NODE_PASS != 0 || len > TAIL_CAP || entry.nfixups as usize > MAX_FIXUPS {
        return None;
    }
    let mut tail = entry.tail[..len].to_vec();
    let delta = (qlen as u16).wrapping_sub(entry.ref_qlen);
    for &off in &entry.fixups[..entry.nfixups as usize] {
        let off = off as usize;
        let p = tail.get(off..off + 2)?;
        let v = u16::from_be_bytes([p[0], p[1]]).wrapping_add(delta);
        tail[off..off + 2].copy_from_slice(&v.to_be_bytes());
    }
    Some(tail)
}

/// How XDP may use a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// RFC 4592: everything the lookup algorithm expresses.
    Rfc,
    /// tinydns wildcards: exact entries and NODATA/referral nodes; misses pass.
    Tinydns,
    /// Clock-dependent data: every node passes.
    AllPass,
}

/// The engine's response to one reference query.
struct Rendering {
    msg: Vec<u8>,
    /// Wire length of the query name.
    qlen: usize,
    /// AA and RCODE bits.
    flags: u16,
    /// ANCOUNT, NSCOUNT, ARCOUNT.
    counts: [u16; 3],
    kind: Kind,
    wildcard: bool,
}

impl Rendering {
    fn tail_start(&self) -> usize {
        12 + self.qlen + 4
    }
    fn tail(&self) -> &[u8] {
        &self.msg[self.tail_start()..]
    }
    /// Same header bits, counts and tail bytes.
    fn same_as(&self, other: &Rendering) -> bool {
        self.flags == other.flags && self.counts == other.counts && self.tail() == other.tail()
    }
    fn counter(&self) -> u16 {
        let c = if self.wildcard {
            COUNTER_ANSWERED_WILDCARD
        } else {
            match self.kind {
                Kind::Answer => COUNTER_ANSWERED_ANSWER,
                Kind::NoData => COUNTER_ANSWERED_NODATA,
                Kind::NxDomain => COUNTER_ANSWERED_NXDOMAIN,
                Kind::Referral | Kind::Refused => COUNTER_ANSWERED_REFERRAL,
            }
        };
        c as u16
    }
}

/// Compression pointers and names found in a rendered message's records.
#[derive(Default)]
struct Scan {
    /// (offset of the pointer in the message, its target).
    pointers: Vec<(usize, usize)>,
    /// Every compressible name written (owners; NS, CNAME, PTR, MX, SOA
    /// RDATA names), decoded and lower-cased.
    names: Vec<Vec<u8>>,
    /// The owner names among them.
    owners: Vec<Vec<u8>>,
}

impl Scan {
    /// Walks `records` resource records from `start` to the end of `msg`.
    fn of(msg: &[u8], start: usize, records: usize) -> Option<Scan> {
        let mut scan = Scan::default();
        let mut pos = start;
        for _ in 0..records {
            pos = scan.name(msg, pos)?;
            scan.owners.extend(scan.names.last().cloned());
            let fixed = msg.get(pos..pos + 10)?;
            let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
            let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
            let start = pos + 10;
            let end = start + rdlen;
            msg.get(start..end)?;
            let names_end = match Rtype(rtype) {
                Rtype::NS | Rtype::CNAME | Rtype::PTR => Some(scan.name(msg, start)?),
                Rtype::MX => Some(scan.name(msg, start + 2)?),
                Rtype::SOA => {
                    let rname = scan.name(msg, start)?;
                    Some(scan.name(msg, rname)? + 20)
                }
                _ => None,
            };
            if names_end.is_some_and(|e| e != end) {
                return None;
            }
            pos = end;
        }
        (pos == msg.len()).then_some(scan)
    }

    /// Reads a possibly compressed name at `pos`; records its pointer (the
    /// first one only: later ones belong to names already scanned or to the
    /// question) and the decoded name. Returns the end of the name.
    fn name(&mut self, msg: &[u8], mut pos: usize) -> Option<usize> {
        let mut decoded = Vec::new();
        let mut end = None;
        for _ in 0..MAX_NAME {
            let len = *msg.get(pos)? as usize;
            match len & 0xC0 {
                0xC0 => {
                    let target = ((len & 0x3F) << 8) | *msg.get(pos + 1)? as usize;
                    if target >= pos {
                        return None;
                    }
                    if end.is_none() {
                        end = Some(pos + 2);
                        self.pointers.push((pos, target));
                    }
                    pos = target;
                }
                0 => {
                    if len == 0 {
                        decoded.push(0);
                        self.names.push(decoded.to_ascii_lowercase());
                        return Some(end.unwrap_or(pos + 1));
                    }
                    decoded.extend_from_slice(msg.get(pos..pos + 1 + len)?);
                    pos += 1 + len;
                }
                _ => return None,
            }
        }
        None
    }
}

/// Shifts the pointers at `fixups` of `tail` by `delta`.
fn shifted(tail: &[u8], fixups: &[u16], delta: isize) -> Vec<u8> {
    let mut out = tail.to_vec();
    for &f in fixups {
        let f = f as usize;
        let v = u16::from_be_bytes([out[f], out[f + 1]]).wrapping_add(delta as u16);
        out[f..f + 2].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// `label` + `parent` in wire format (lower-case inputs), if it is a name.
fn child(label: &[u8], parent: &[u8]) -> Option<Vec<u8>> {
    if label.is_empty() || label.len() > 63 || 1 + label.len() + parent.len() > MAX_NAME {
        return None;
    }
    let mut v = Vec::with_capacity(1 + label.len() + parent.len());
    v.push(label.len() as u8);
    v.extend_from_slice(label);
    v.extend_from_slice(parent);
    Some(v)
}

/// The names an entry rendered for `r1` must also hold for.
struct Verify {
    r1: Vec<u8>,
    /// Length of the suffix every query using the entry ends with.
    shared: usize,
    others: Vec<Vec<u8>>,
}

/// A table entry, and for a variable-length one the names written in its
/// tail with the suffix every query using it ends with.
struct Built {
    entry: Entry,
    names: Vec<(Vec<u8>, Vec<u8>)>,
    /// The rendering it came from (for comparisons with other qtypes).
    rendering: Rendering,
}

/// Nodes rendered per round of [`Builder::add_zone`] (bounds the memory
/// held by rendered but not yet added nodes).
const BLOCK_NODES: usize = 4096;

/// Blocks smaller than this are rendered on this thread (spawning costs
/// more than it saves).
const MIN_PARALLEL_NODES: usize = 256;

/// Threads rendering nodes, at most.
const MAX_THREADS: usize = 8;

/// Where the misses below a node go.
enum Slot {
    /// This `zone_nx` slot.
    Fixed(u16),
    /// A slot whose entry predicts this NXDOMAIN entry (a new one if none
    /// does), or the pass slot if `None`.
    Nx(Option<Box<Entry>>),
}

/// One node's entries, rendered but not yet added to the table.
struct NodeOut {
    /// Lower-cased wire name.
    name: Vec<u8>,
    node_flags: u16,
    /// The node's tail entry, or `None` if the node passes.
    tail: Option<Entry>,
    exact: Vec<(u16, Entry)>,
    /// Names written in its variable-length tails, with their suffixes.
    names: Vec<(Vec<u8>, Vec<u8>)>,
    slot: Slot,
}

struct Builder<'a> {
    snap: &'a Snapshot,
    settings: &'a EngineSettings,
    /// Unsorted; pass nodes may repeat (identical), [`Builder::finish`]
    /// sorts and deduplicates.
    entries: Vec<(Key, Entry)>,
    /// Whether some zone has clock- or client-dependent records (only then
    /// are renderings scanned for their owners).
    dependent: bool,
    /// Threads rendering nodes.
    threads: usize,
    zone_nx: Vec<Entry>,
    /// Whether `zone_nx[z]` holds zone `z`'s tail yet.
    zone_slot_filled: Vec<bool>,
    /// Extra NXDOMAIN slots of each zone.
    extra_slots: Vec<Vec<u16>>,
    /// The slot that always passes.
    pass_slot: u16,
    /// Lower-cased names of every node the XDP program may find, with
    /// their zone (nodes of a zone hidden by a deeper zone are left out).
    nodes: HashMap<Box<[u8]>, usize>,
    /// Names written in variable-length tails, each with the suffix every
    /// query using the tail ends with.
    variable_names: HashSet<(Vec<u8>, Vec<u8>)>,
}

impl<'a> Builder<'a> {
    fn new(snap: &'a Snapshot, settings: &'a EngineSettings) -> Builder<'a> {
        let zones = snap.zones.len();
        let mut nodes = HashMap::new();
        for (zi, zone) in snap.zones.iter().enumerate() {
            for node in zone.nodes() {
                let key: Box<[u8]> = node.name.to_lowercase().as_wire().into();
                if snap.find_zone(&key).is_some_and(|(z, _)| z == zi) {
                    nodes.insert(key, zi);
                }
            }
        }
        let pass_slot = zones as u16;
        Builder {
            snap,
            settings,
            entries: Vec::new(),
            dependent: snap
                .zones
                .iter()
                .any(|z| z.time_dependent || z.client_dependent),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS)),
            zone_nx: (0..=zones).map(|z| pass_entry(0, z as u16)).collect(),
            zone_slot_filled: vec![false; zones],
            extra_slots: vec![Vec::new(); zones],
            pass_slot,
            nodes,
            variable_names: HashSet::new(),
        }
    }

    fn finish(self, hash: fn(&NameWords) -> u64) -> Table {
        let mut entries = self.entries;
        sort_entries(&mut entries);
        entries.dedup_by(|a, b| {
            let same = a.0 == b.0;
            debug_assert!(!same || a.1 == b.1, "duplicate table key");
            same
        });
        entries.shrink_to_fit();
        resolve_collisions(&mut entries, hash);
        Table {
            entries,
            zone_nx: self.zone_nx,
        }
    }

    /// True if the lower-cased `name` exists for the engine.
    fn exists(&self, name: &[u8]) -> bool {
        self.snap
            .find_zone(name)
            .is_some_and(|(z, _)| self.snap.zones[z].node(name).is_some())
    }

    /// A child of `parent` that does not exist, with a label made from
    /// `base` (a number appended if needed).
    fn fresh_child(&self, base: &[u8], parent: &[u8]) -> Option<Vec<u8>> {
        for i in 0..100u32 {
            let mut label = base.to_vec();
            if i > 0 {
                label.extend_from_slice(i.to_string().as_bytes());
            }
            let name = child(&label, parent)?;
            if !self.exists(&name) {
                return Some(name);
            }
        }
        None
    }

    /// Names below `shared` that must get the same answer as a query name
    /// directly below it: two longer ones, as far as they are names.
    fn verify_below(&self, r1: Vec<u8>, shared: &[u8]) -> Option<Verify> {
        let mut others = Vec::new();
        if let Some(v) = self.fresh_child(b"xdp-verify", shared)
            && let Some(v2) = child(b"xdp-verify", &v)
        {
            others.push(v2);
        }
        if let Some(v) = self.fresh_child(&[b'v'; 40], shared) {
            others.push(v);
        }
        if others.is_empty() {
            return None;
        }
        Some(Verify {
            r1,
            shared: shared.len(),
            others,
        })
    }

    /// The engine's answer to a plain query for `name` (lower-cased wire)
    /// and `qtype`, over TCP (complete, never truncated).
    fn render(&self, name: &[u8], qtype: u16) -> Option<Rendering> {
        let mut query = Vec::with_capacity(12 + name.len() + 4);
        query.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        query.extend_from_slice(name);
        query.extend_from_slice(&qtype.to_be_bytes());
        query.extend_from_slice(&CLASS_IN.to_be_bytes());
        let mut msg = Vec::with_capacity(512);
        let mut seen = None;
        let t = Transport::Tcp;
        if !engine::respond_traced(self.snap, self.settings, &query, t, &mut msg, &mut seen) {
            return None;
        }
        let (kind, wildcard) = seen?;
        let w = |i: usize| msg.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let f = w(2)?;
        let rc = f & 0x000F;
        if f & !(flags::QR | flags::AA | 0x000F) != 0
            || f & flags::QR == 0
            || (rc != rcode::NOERROR && rc != rcode::NXDOMAIN)
            || w(4)? != 1
            || msg.get(12..query.len())? != &query[12..]
        {
            return None;
        }
        let counts = [w(6)?, w(8)?, w(10)?];
        // Records from a zone with tinydns timestamps or locations:
        // clock- or client-dependent (§3), userspace answers.
        let records = counts.iter().map(|&c| c as usize).sum();
        if self.dependent
            && Scan::of(&msg, 12 + name.len() + 4, records)?
                .owners
                .iter()
                .any(|o| {
                    self.snap.find_zone(o).is_some_and(|(z, _)| {
                        let zone = &self.snap.zones[z];
                        zone.time_dependent || zone.client_dependent
                    })
                })
        {
            return None;
        }
        Some(Rendering {
            qlen: name.len(),
            flags: f & (flags::AA | 0x000F),
            counts,
            kind,
            wildcard,
            msg,
        })
    }

    /// An entry from a rendering, with `fixups`.
    fn entry(r: &Rendering, fixups: &[u16], counter: u16) -> Option<Entry> {
        let tail = r.tail();
        if tail.len() > TAIL_CAP || fixups.len() > MAX_FIXUPS {
            return None;
        }
        let mut e = Entry::zeroed();
        e.flags = r.flags;
        e.ancount = r.counts[0];
        e.nscount = r.counts[1];
        e.arcount = r.counts[2];
        e.tail_len = tail.len() as u16;
        e.ref_qlen = r.qlen as u16;
        e.counter = counter;
        e.nfixups = fixups.len() as u16;
        e.fixups[..fixups.len()].copy_from_slice(fixups);
        e.tail[..tail.len()].copy_from_slice(tail);
        Some(e)
    }

    /// An entry used only for the name it is rendered for.
    fn fixed(&self, name: &[u8], qtype: u16) -> Option<Built> {
        let r = self.render(name, qtype)?;
        let entry = Self::entry(&r, &[], r.counter())?;
        Some(Built {
            entry,
            names: Vec::new(),
            rendering: r,
        })
    }

    /// An entry used for every name ending with `v.shared` bytes of
    /// `v.r1`: rendered for `v.r1`, its fixups checked against `v.others`.
    fn variable(&self, v: &Verify, qtype: u16, counter: Option<u16>) -> Option<Built> {
        let r = self.render(&v.r1, qtype)?;
        let scan = Scan::of(
            &r.msg,
            r.tail_start(),
            r.counts.iter().map(|&c| c as usize).sum(),
        )?;
        let tail_start = r.tail_start();
        // Where the shared suffix starts in the message.
        let shared_from = 12 + v.r1.len() - v.shared;
        let mut fixups = Vec::new();
        for &(pos, target) in &scan.pointers {
            if pos < tail_start {
                return None;
            }
            if target == 12 && shared_from > 12 {
                continue; // the query name itself (a synthesised owner)
            }
            if target < shared_from {
                return None;
            }
            fixups.push((pos - tail_start) as u16);
        }
        let entry = Self::entry(&r, &fixups, counter.unwrap_or_else(|| r.counter()))?;
        for other in &v.others {
            let o = self.render(other, qtype)?;
            let delta = other.len() as isize - v.r1.len() as isize;
            if o.flags != r.flags
                || o.counts != r.counts
                || o.kind != r.kind
                || shifted(r.tail(), &fixups, delta) != o.tail()
            {
                return None;
            }
        }
        let shared = &v.r1[v.r1.len() - v.shared..];
        let names = scan
            .names
            .into_iter()
            // Only names below the shared suffix can need pass nodes
            // (`add_pass_nodes` skips the others): keep no more.
            .filter(|n| *n != v.r1 && n.len() > shared.len() && n.ends_with(shared))
            .map(|n| (n, shared.to_vec()))
            .collect();
        Some(Built {
            entry,
            names,
            rendering: r,
        })
    }

    fn insert(&mut self, name: &[u8], qtype: u16, kind: u16, entry: Entry) {
        if let Some(key) = make_key(name, qtype, kind) {
            self.entries.push((key, entry));
        }
    }

    fn add_zone(&mut self, zi: usize) {
        let snap = self.snap;
        let zone = &snap.zones[zi];
        let mode = if zone.time_dependent || zone.client_dependent {
            Mode::AllPass
        } else if zone.wildcards == WildcardMode::Tinydns {
            Mode::Tinydns
        } else {
            Mode::Rfc
        };
        let mut nodes: Vec<(&Node, Vec<u8>)> = zone
            .nodes()
            .iter()
            .map(|n| (n, n.name.to_lowercase().as_wire().to_vec()))
            .filter(|(_, k)| self.nodes.get(&k[..]) == Some(&zi))
            .collect();
        // Canonical order: the apex first, so that it renders the zone's
        // own NXDOMAIN slot when it can.
        nodes.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        // Rendering dominates and reads only the snapshot: blocks of nodes
        // are rendered on every core, then applied in order (NXDOMAIN slots
        // are shared, so the table is the same as a sequential build's).
        let threads = self.threads;
        for block in nodes.chunks(BLOCK_NODES) {
            let per_thread = block.len().div_ceil(threads);
            let outs: Vec<Option<NodeOut>> = if threads == 1 || block.len() < MIN_PARALLEL_NODES {
                block
                    .iter()
                    .map(|(node, key)| self.node_out(zi, mode, node, key))
                    .collect()
            } else {
                let this = &*self;
                std::thread::scope(|scope| {
                    let workers: Vec<_> = block
                        .chunks(per_thread)
                        .map(|part| {
                            scope.spawn(move || {
                                part.iter()
                                    .map(|(node, key)| this.node_out(zi, mode, node, key))
                                    .collect::<Vec<_>>()
                            })
                        })
                        .collect();
                    workers
                        .into_iter()
                        // A worker's panic is the builder's own: no partial table.
                        .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                        .collect()
                })
            };
            for out in outs.into_iter().flatten() {
                self.apply_node(zi, out);
            }
        }
    }

    /// Adds what [`Builder::node_out`] computed for one node of zone `zi`.
    fn apply_node(&mut self, zi: usize, out: NodeOut) {
        self.variable_names.extend(out.names);
        for (qtype, entry) in out.exact {
            self.insert(&out.name, qtype, KIND_EXACT, entry);
        }
        let slot = match out.slot {
            Slot::Fixed(s) => s,
            Slot::Nx(candidate) => self.assign_nx_slot(zi, candidate),
        };
        let entry = match out.tail {
            Some(mut e) => {
                e.node_flags = out.node_flags;
                e.zone = slot;
                e
            }
            None => pass_entry(out.node_flags, slot),
        };
        self.insert(&out.name, 0, KIND_NODE, entry);
    }

    /// The entries of one node (`name` its lower-cased wire name), not yet
    /// added: reads only the snapshot, so nodes can be rendered in parallel.
    fn node_out(&self, zi: usize, mode: Mode, node: &Node, name: &[u8]) -> Option<NodeOut> {
        if name.len() > KEY_NAME_LEN {
            return None;
        }
        let snap = self.snap;
        let zone = &snap.zones[zi];
        let referral = node.is_cut || node.below_cut;
        let mut node_flags = 0;
        if node.is_cut {
            node_flags |= NODE_CUT;
        }
        if node.below_cut {
            node_flags |= NODE_BELOW_CUT;
        }
        let mut out = NodeOut {
            name: name.to_vec(),
            node_flags,
            tail: None,
            exact: Vec::new(),
            names: Vec::new(),
            slot: Slot::Fixed(zi as u16),
        };
        if mode == Mode::AllPass {
            return Some(out);
        }
        let mut pass = false;

        // The wildcard child, if the lookup would synthesise from it.
        let star = child(b"*", name);
        let has_star = star.as_ref().is_some_and(|s| zone.node(s).is_some());
        if mode == Mode::Rfc && !referral && has_star {
            if star
                .as_ref()
                .is_some_and(|s| self.nodes.get(&s[..]) == Some(&zi))
            {
                node_flags |= NODE_WILDCARD;
            } else {
                // `*.name` is answered from another zone: no XDP here.
                pass = true;
                out.slot = Slot::Fixed(self.pass_slot);
            }
        }
        // A `*` owner whose entries answer for other names.
        let synthesising = mode == Mode::Rfc && !referral && node.name.is_wildcard();

        let mut probes = PROBE_QTYPES
            .iter()
            .copied()
            .filter(|&t| node.rrset(Rtype(t)).is_none());
        let (p1, p2) = (probes.next(), probes.next());
        let cname = node.rrset(Rtype::CNAME).is_some();

        // The node's tail: what every type without an exact entry gets.
        let node_tail: Option<Built> = match (p1, p2) {
            _ if cname => None,
            (Some(p1), Some(p2)) => {
                let built = if referral {
                    // Used for this name and every name below it.
                    self.verify_below(name.to_vec(), name)
                        .and_then(|v| self.variable(&v, p1, None))
                        .filter(|b| b.rendering.kind == Kind::Referral)
                } else if synthesising {
                    self.verify_below(name.to_vec(), &name[2..])
                        .and_then(|v| self.variable(&v, p1, Some(COUNTER_ANSWERED_WILDCARD as u16)))
                        .filter(|b| b.rendering.kind == Kind::NoData)
                } else {
                    self.fixed(name, p1)
                        .filter(|b| b.rendering.kind == Kind::NoData && !b.rendering.wildcard)
                };
                // The same for another type absent here.
                built.filter(|b| {
                    self.render(name, p2)
                        .is_some_and(|r| r.same_as(&b.rendering))
                })
            }
            _ => None,
        };
        if node_tail.is_none() {
            pass = true;
        }

        // Exact entries: every type whose answer differs from the tail.
        let mut qtypes: BTreeSet<u16> = node.rrsets.iter().map(|s| s.rtype.0).collect();
        qtypes.insert(Rtype::ANY.0);
        qtypes.insert(Rtype::DS.0);
        if cname {
            qtypes.extend(CNAME_QTYPES);
        }
        for qtype in qtypes {
            if qtype_passes(qtype) {
                continue;
            }
            let Some(r) = self.render(name, qtype) else {
                pass = true;
                continue;
            };
            if node_tail.as_ref().is_some_and(|t| t.rendering.same_as(&r)) {
                continue;
            }
            let built = if synthesising {
                self.verify_below(name.to_vec(), &name[2..])
                    .and_then(|v| self.variable(&v, qtype, Some(COUNTER_ANSWERED_WILDCARD as u16)))
            } else {
                Self::entry(&r, &[], r.counter()).map(|entry| Built {
                    entry,
                    names: Vec::new(),
                    rendering: r,
                })
            };
            match built {
                Some(b) => {
                    out.names.extend(b.names);
                    out.exact.push((qtype, b.entry));
                }
                None => pass = true,
            }
        }

        // Where a miss below this name lands: its NXDOMAIN slot.
        if mode == Mode::Rfc && !referral && !has_star {
            out.slot = Slot::Nx(self.nx_candidate(name, &mut out.names).map(Box::new));
        }

        if let Some(b) = node_tail.filter(|_| !pass) {
            out.names.extend(b.names);
            out.tail = Some(b.entry);
        }
        out.node_flags = node_flags;
        Some(out)
    }

    /// The NXDOMAIN entry for misses whose closest encloser is `encloser`
    /// (no wildcard child, not at or below a cut), if XDP can use it; the
    /// names it writes below the encloser are added to `names` (whichever
    /// slot serves it).
    fn nx_candidate(&self, encloser: &[u8], names: &mut Vec<(Vec<u8>, Vec<u8>)>) -> Option<Entry> {
        let built = self
            .fresh_child(b"-", encloser)
            .and_then(|r1| self.verify_below(r1, encloser))
            .and_then(|v| self.variable(&v, Rtype::A.0, None))
            .filter(|b| b.rendering.kind == Kind::NxDomain && !b.rendering.wildcard)?;
        names.extend(built.names);
        Some(built.entry)
    }

    /// The `zone_nx` slot for an encloser's NXDOMAIN entry `candidate`
    /// (from [`Builder::nx_candidate`]): zone `zi`'s own slot if its tail
    /// predicts the candidate, another slot of the zone that does, a new
    /// slot, or the pass slot if there is no candidate.
    fn assign_nx_slot(&mut self, zi: usize, candidate: Option<Box<Entry>>) -> u16 {
        let Some(e) = candidate.map(|e| *e) else {
            return self.pass_slot;
        };
        let predicts = |s: &Entry| {
            s.node_flags & NODE_PASS == 0
                && (s.flags, s.ancount, s.nscount, s.arcount, s.tail_len)
                    == (e.flags, e.ancount, e.nscount, e.arcount, e.tail_len)
                && s.fixups[..s.nfixups as usize] == e.fixups[..e.nfixups as usize]
                && tail_for(s, e.ref_qlen as usize).as_deref()
                    == Some(&e.tail[..e.tail_len as usize])
        };
        let candidates = std::iter::once(zi as u16)
            .filter(|_| self.zone_slot_filled[zi])
            .chain(self.extra_slots[zi].iter().copied());
        for s in candidates {
            if predicts(&self.zone_nx[s as usize]) {
                return s;
            }
        }
        let mut e = e;
        e.zone = zi as u16;
        if !self.zone_slot_filled[zi] {
            self.zone_slot_filled[zi] = true;
            self.zone_nx[zi] = e;
            return zi as u16;
        }
        let s = self.zone_nx.len() as u16;
        self.zone_nx.push(e);
        self.extra_slots[zi].push(s);
        s
    }

    /// Pass nodes for the non-existent ancestors of every name written in a
    /// variable-length tail that lie below the tail's shared suffix (see
    /// the module documentation): a query at or below one stops there.
    fn add_pass_nodes(&mut self) {
        let mut names: Vec<(Vec<u8>, Vec<u8>)> = std::mem::take(&mut self.variable_names)
            .into_iter()
            .collect();
        names.sort();
        for (name, shared) in names {
            // The suffixes of `name` strictly below `shared`, if it is one.
            let mut below = Vec::new();
            let mut pos = 0;
            while pos < name.len() && name[pos..] != shared[..] && name[pos] != 0 {
                below.push(pos);
                pos += 1 + name[pos] as usize;
            }
            if name.get(pos..) != Some(&shared[..]) {
                continue;
            }
            for start in below {
                let suffix = &name[start..];
                if self.nodes.contains_key(suffix) {
                    continue;
                }
                if let Some(key) = make_key(suffix, 0, KIND_NODE) {
                    // Pointing at the pass slot: a miss below passes too.
                    let pass = pass_entry(0, self.pass_slot);
                    self.entries.push((key, pass));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::wire::rdata::Rdata;
    use crate::zone::compile::compile_inputs;
    use crate::zone::compile::tests::{n, rec, zone_of};

    /// Entries whose keys are `names` (any order, repeats allowed), each
    /// entry tagged with its key's name so that a pairing mix-up shows.
    fn tagged(names: &[Vec<u8>]) -> Vec<(Key, Entry)> {
        names
            .iter()
            .map(|n| {
                let key = make_key(n, 1, KIND_EXACT).expect("short name");
                let mut e = Entry::zeroed();
                e.tail[..n.len()].copy_from_slice(n);
                e.tail_len = n.len() as u16;
                (key, e)
            })
            .collect()
    }

    /// A zone of `count` names of every shape the builder treats apart:
    /// plain names, empty non-terminals, wildcards, delegations, CNAMEs.
    fn mixed_zone(count: u32) -> Snapshot {
        let mut records = Vec::new();
        for i in 0..count {
            let ip = [198, 18, (i >> 8) as u8, i as u8];
            let owner = match i % 5 {
                0 => format!("h{i}.big.test."),
                1 => format!("x.e{i}.big.test."),
                2 => format!("*.w{i}.big.test."),
                3 => format!("c{i}.big.test."),
                _ => format!("ns.d{i}.big.test."),
            };
            let rdata = match i % 5 {
                3 => Rdata::Cname(n(&format!("h{}.big.test.", i - 3))),
                _ => Rdata::A(ip.into()),
            };
            records.push(rec(&owner, 300, rdata, i + 3));
            if i % 5 == 4 {
                let cut = format!("d{i}.big.test.");
                records.push(rec(&cut, 300, Rdata::Ns(n(&format!("ns.{cut}"))), i + 3));
            }
        }
        compile_inputs(vec![zone_of("big.test.", records)], Vec::new())
            .expect("compiles")
            .snapshot
    }

    /// Rendering nodes on several threads gives exactly the sequential
    /// table: the same entries and the same NXDOMAIN slots.
    #[test]
    fn parallel_build_is_the_sequential_build() {
        let snap = mixed_zone(3000);
        let settings = EngineSettings::default();
        let one = build_with(&snap, &settings, name_hash, Some(1));
        let three = build_with(&snap, &settings, name_hash, Some(3));
        // Enough nodes that blocks are rendered in parallel.
        assert!(
            one.entries.len() > 2 * MIN_PARALLEL_NODES,
            "{}",
            one.entries.len()
        );
        assert!(one.entries.len() == three.entries.len());
        assert!(one.entries == three.entries, "entries differ");
        assert!(one.zone_nx == three.zone_nx, "NXDOMAIN slots differ");
    }

    proptest! {
        /// The in-place permutation sort gives what a plain sort gives,
        /// every entry still beside its own key.
        #[test]
        fn sort_entries_is_a_sort(names in prop::collection::vec(
            prop::collection::vec(any::<u8>(), 0..6), 0..200)) {
            let mut got = tagged(&names);
            let mut want = got.clone();
            sort_entries(&mut got);
            want.sort_by(|a, b| key_order(&a.0, &b.0));
            let keys = |v: &[(Key, Entry)]| v.iter().map(|(k, _)| *k).collect::<Vec<_>>();
            prop_assert_eq!(keys(&got), keys(&want));
            for (key, entry) in &got {
                let len = entry.tail_len as usize;
                prop_assert_eq!(&entry.tail[..len], &key.name[..len]);
            }
        }
    }
}
