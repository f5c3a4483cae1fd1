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

/// Hash key of the table (the inner map of `crate::MAP_TABLES`).
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

/// Value of the table: a pre-rendered answer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
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
}

const _: () = assert!(core::mem::size_of::<Entry>() == 20 + 2 * MAX_FIXUPS + TAIL_CAP);

impl Key {
    pub const fn zeroed() -> Key {
        Key {
            name: [0; KEY_NAME_LEN],
            qtype: 0,
            kind: 0,
            _pad: [0; 4],
        }
    }
}

impl Entry {
    pub const fn zeroed() -> Entry {
        Entry {
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
        }
    }
}

#[cfg(feature = "user")]
// SAFETY: #[repr(C)], only integer fields and arrays, no implicit padding
// (sizes asserted above).
unsafe impl aya::Pod for Key {}
#[cfg(feature = "user")]
// SAFETY: as for Key.
unsafe impl aya::Pod for Entry {}
