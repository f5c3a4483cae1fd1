//! The fast-path table: what the XDP program looks up, built in userspace
//! by `dnsd::fastpath::table` from the compiled snapshot
//! (shared/spec/xdp-fast-path.md §2–§4).
//!
//! A response the XDP program sends is
//! `header(12) + question(qlen + 4, the query's bytes) + tail + [OPT(11)]`,
//! where `tail` comes from an [`Entry`] rendered by the userspace engine.
//!
//! Lookup, for a query (qname lower-cased into a [`Key`], qtype):
//! `ENTRIES` is the one inner hash map of `crate::MAP_TABLES`; a reload
//! swaps it as a whole, so every packet sees one version.
//!
//! `ENTRIES` is keyed by the compact [`MapKey`]: a 64-bit [`name_hash`] of
//! the key name instead of the 64 name bytes, so the kernel hashes and
//! compares 16 bytes per lookup instead of 72. Each [`Entry`] holds its
//! full name; a found entry whose name differs from the looked-up one is a
//! hash collision and the query passes (never a wrong answer, and never
//! taken for a miss). Names whose keys collide inside one table get a
//! [`Entry::collision`] entry instead (the builder's job), so they pass.
//!
//! 1. `ENTRIES[Key { name: qname, qtype, kind: KIND_EXACT }]` → answer.
//! 2. Else `ENTRIES[Key { name: qname, qtype: 0, kind: KIND_NODE }]`: the name
//!    exists. If the node has [`NODE_PASS`], pass; if [`NODE_CUT`] or
//!    [`NODE_BELOW_CUT`], answer its tail (the referral) or pass; otherwise
//!    answer its tail (NODATA).
//! 3. Else strip labels one at a time (at most [`MAX_ANCESTORS`]); the first
//!    ancestor with a `KIND_NODE` entry is the closest encloser `E`:
//!    - [`NODE_CUT`] or [`NODE_BELOW_CUT`] → its tail (the referral), or pass
//!      if it has [`NODE_PASS`];
//!    - [`NODE_WILDCARD`] (`*.E` exists) → `ENTRIES[{ "*.E", qtype, KIND_EXACT }]`,
//!      else `ENTRIES[{ "*.E", 0, KIND_NODE }]` (its NODATA tail), else pass;
//!    - otherwise → `ENTRIES[{ 0, qtype: E.zone, KIND_ZONE_NX }]` (NXDOMAIN
//!      with the zone's SOA).
//! 4. No ancestor found → pass (userspace answers REFUSED).
//!
//! Entries used for a name other than the one they were rendered for (the
//! wildcard and NXDOMAIN cases) have fixups: each listed 16-bit compression
//! pointer in the tail gets `qlen - ref_qlen` added.
//!
//! Every lookup result is sent only if the whole response fits the client's
//! limit (512 without OPT, else `min(max(udp_size, 512), server size)`);
//! otherwise the query is passed, and userspace drops additional data or
//! sets TC (a tail is always the *complete* rendering).

/// Bytes of the lower-cased wire-format name in a [`Key`], root label
/// included; longer names are never answered by XDP.
pub const KEY_NAME_LEN: usize = 64;

/// Most bytes a tail can have; larger answers are left to userspace.
pub const TAIL_CAP: usize = 384;

/// Most fixups one entry can carry; entries needing more are not built.
pub const MAX_FIXUPS: usize = 8;

/// Most labels stripped from the query name while looking for the closest
/// encloser; deeper names pass.
pub const MAX_ANCESTORS: usize = 8;

/// [`Key::kind`]: an exact (name, qtype) answer.
pub const KIND_EXACT: u16 = 1;
/// [`Key::kind`]: a node (existing name, empty non-terminals included);
/// [`Key::qtype`] is 0.
pub const KIND_NODE: u16 = 2;

/// Node flag: the name is a delegation point; the tail is the referral.
pub const NODE_CUT: u16 = 1 << 0;
/// Node flag: below a delegation point (glue); the tail is the referral of
/// the cut above.
pub const NODE_BELOW_CUT: u16 = 1 << 1;
/// Node flag: `*.<this name>` exists.
pub const NODE_WILDCARD: u16 = 1 << 2;
/// Node flag: answers here depend on more than the name and type (a CNAME
/// owner for a type without an exact entry, client location, the clock,
/// tinydns wildcard mode): pass every query that reaches this node without
/// an exact entry.
pub const NODE_PASS: u16 = 1 << 3;

/// Full key of a table entry, in userspace (`dnsd::fastpath::Table`) and
/// in the program's scratch space; the map itself is keyed by
/// [`Key::map_key`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// Lower-cased (ASCII A–Z only, RFC 4343) wire-format name, zero-padded.
    pub name: [u8; KEY_NAME_LEN],
    /// Query type for [`KIND_EXACT`]; 0 for [`KIND_NODE`].
    pub qtype: u16,
    pub kind: u16,
    /// Always zero (padding is part of the hash).
    pub _pad: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<Key>() == KEY_NAME_LEN + 8);

/// Hash key of the table (the inner map of `crate::MAP_TABLES`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapKey {
    /// [`name_hash`] of the key name; 0 for `crate::KIND_ZONE_NX` entries.
    pub hash: u64,
    /// As in [`Key`].
    pub qtype: u16,
    pub kind: u16,
    /// Always zero (padding is part of the hash).
    pub _pad: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<MapKey>() == 16);

/// 64-bit words of a key name (little-endian loads, as the program reads
/// its 8-byte aligned name buffer).
pub type NameWords = [u64; KEY_NAME_LEN / 8];

/// The hash of a zero-padded key name given as words: one multiply and
/// xor-shift per word (a few instructions each in BPF, far cheaper than
/// the kernel's jhash over 72 bytes). Not keyed: a collision costs a pass
/// to userspace, never a wrong answer (entries hold the full name).
#[inline(always)]
pub const fn name_hash(w: &NameWords) -> u64 {
    // Odd 64-bit constants from splitmix64/murmur3's finaliser.
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut i = 0;
    while i < w.len() {
        h = (h ^ w[i]).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 32;
        i += 1;
    }
    h
}

/// The name of an [`Entry::collision`] entry: its first byte is no label
/// length, so it equals no query name.
pub const COLLISION_NAME: [u8; KEY_NAME_LEN] = [0xff; KEY_NAME_LEN];

/// Value of the table: a pre-rendered answer. 8-byte aligned so that the
/// program compares `name` a word at a time.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The lower-cased, zero-padded name of the key this entry is stored
    /// under (all zero for NXDOMAIN slots; [`COLLISION_NAME`] for a
    /// collision entry). The program answers only if it equals the name
    /// it looked up.
    pub name: [u8; KEY_NAME_LEN],
    /// Bits OR-ed into the response flags word: AA and RCODE. The program
    /// adds QR and copies RD from the query; opcode is 0.
    pub flags: u16,
    pub ancount: u16,
    pub nscount: u16,
    /// Additional records in the tail (the OPT, if any, is added on top).
    pub arcount: u16,
    /// Valid bytes of `tail`.
    pub tail_len: u16,
    /// Wire length of the query name the tail was rendered for; fixups add
    /// `qlen - ref_qlen` (two's complement, wrapping) to each pointer.
    pub ref_qlen: u16,
    /// `NODE_*` flags (node entries only).
    pub node_flags: u16,
    /// Zone index: the `qtype` of the zone's `crate::KIND_ZONE_NX` entry
    /// (node entries only).
    pub zone: u16,
    /// Answered-by-kind counter slot to increment (an index into COUNTERS).
    pub counter: u16,
    /// Number of valid `fixups`.
    pub nfixups: u16,
    /// Offsets in `tail` of 16-bit big-endian compression pointers.
    pub fixups: [u16; MAX_FIXUPS],
    pub tail: [u8; TAIL_CAP],
    /// Always zero (explicit, so that the type has no implicit padding).
    pub _pad: [u8; 4],
}

const _: () =
    assert!(core::mem::size_of::<Entry>() == KEY_NAME_LEN + 20 + 2 * MAX_FIXUPS + TAIL_CAP + 4);
const _: () = assert!(core::mem::size_of::<Entry>().is_multiple_of(8));

impl Key {
    pub const fn zeroed() -> Key {
        Key {
            name: [0; KEY_NAME_LEN],
            qtype: 0,
            kind: 0,
            _pad: [0; 4],
        }
    }

    /// The words of `name`, as [`name_hash`] takes them.
    pub fn name_words(&self) -> NameWords {
        let mut w = [0u64; KEY_NAME_LEN / 8];
        for (i, chunk) in self.name.chunks_exact(8).enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            w[i] = u64::from_le_bytes(b);
        }
        w
    }

    /// The map key this key is stored under, with hash function `hash`
    /// ([`name_hash`] in production; tests inject weak ones).
    pub fn map_key_with(&self, hash: fn(&NameWords) -> u64) -> MapKey {
        MapKey {
            hash: hash(&self.name_words()),
            qtype: self.qtype,
            kind: self.kind,
            _pad: [0; 4],
        }
    }

    /// The map key this key is stored under.
    pub fn map_key(&self) -> MapKey {
        self.map_key_with(name_hash)
    }
}

impl MapKey {
    /// The key of zone `zone`'s NXDOMAIN entry (no name, nothing hashed).
    pub const fn zone_nx(zone: u16) -> MapKey {
        MapKey {
            hash: 0,
            qtype: zone,
            kind: crate::KIND_ZONE_NX,
            _pad: [0; 4],
        }
    }
}

impl Entry {
    pub const fn zeroed() -> Entry {
        Entry {
            name: [0; KEY_NAME_LEN],
            flags: 0,
            ancount: 0,
            nscount: 0,
            arcount: 0,
            tail_len: 0,
            ref_qlen: 0,
            node_flags: 0,
            zone: 0,
            counter: 0,
            nfixups: 0,
            fixups: [0; MAX_FIXUPS],
            tail: [0; TAIL_CAP],
            _pad: [0; 4],
        }
    }

    /// The entry stored under a map key that several names share: it
    /// matches no name, so every query reaching it passes.
    pub const fn collision() -> Entry {
        let mut e = Entry::zeroed();
        e.name = COLLISION_NAME;
        e.node_flags = NODE_PASS;
        e
    }
}

#[cfg(feature = "user")]
// SAFETY: #[repr(C)], only integer fields and arrays, no implicit padding
// (sizes asserted above).
unsafe impl aya::Pod for Key {}
#[cfg(feature = "user")]
// SAFETY: as for Key (16 bytes, no implicit padding: asserted above).
unsafe impl aya::Pod for MapKey {}
#[cfg(feature = "user")]
// SAFETY: as for Key.
unsafe impl aya::Pod for Entry {}
