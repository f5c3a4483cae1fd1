//! The XDP fast path's data, derived from the compiled snapshot in one
//! place (`table`), and a pure-Rust model of the XDP program's lookup
//! (`model`) that tests hold to the answer engine byte for byte.
//!
//! Layout and lookup rules: `dnsd_common::fastpath`.

use std::cmp::Ordering;

pub use dnsd_common::fastpath::{Entry, Key};
use dnsd_common::fastpath::{KEY_NAME_LEN, KIND_EXACT, KIND_NODE};

pub mod model;
pub mod table;
#[cfg(test)]
mod tests;

/// Everything the XDP program needs, for one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Contents of `ENTRIES`: exact answers and nodes. [`table::build`]
    /// sorts them by [`key_order`] (keys unique), which [`Table::get`] needs.
    pub entries: Vec<(Key, Entry)>,
    /// Per-zone NXDOMAIN entries, indexed by `Entry::zone` (loaded under
    /// keys of kind `dnsd_common::KIND_ZONE_NX`).
    pub zone_nx: Vec<Entry>,
}

/// The order of [`Table::entries`]: name bytes, then qtype, then kind.
pub fn key_order(a: &Key, b: &Key) -> Ordering {
    (a.name, a.qtype, a.kind).cmp(&(b.name, b.qtype, b.kind))
}

/// The key of a lower-cased wire-format name, or `None` if it does not fit.
pub fn make_key(lower_wire: &[u8], qtype: u16, kind: u16) -> Option<Key> {
    if lower_wire.len() > KEY_NAME_LEN {
        return None;
    }
    let mut key = Key::zeroed();
    key.name[..lower_wire.len()].copy_from_slice(lower_wire);
    key.qtype = qtype;
    key.kind = kind;
    Some(key)
}

impl Table {
    /// The `ENTRIES` value for `key` (binary search: entries must be sorted
    /// by [`key_order`], as [`table::build`] leaves them).
    pub fn get(&self, key: &Key) -> Option<&Entry> {
        self.entries
            .binary_search_by(|(k, _)| key_order(k, key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// The exact entry for a lower-cased wire name and qtype.
    pub fn exact(&self, lower_wire: &[u8], qtype: u16) -> Option<&Entry> {
        self.get(&make_key(lower_wire, qtype, KIND_EXACT)?)
    }

    /// The node entry for a lower-cased wire name.
    pub fn node(&self, lower_wire: &[u8]) -> Option<&Entry> {
        self.get(&make_key(lower_wire, 0, KIND_NODE)?)
    }

    /// True if the entries are sorted by [`key_order`] with unique keys.
    pub fn is_sorted(&self) -> bool {
        self.entries
            .windows(2)
            .all(|w| key_order(&w[0].0, &w[1].0) == Ordering::Less)
    }

    /// Number of exact entries.
    pub fn exact_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|(k, _)| k.kind == KIND_EXACT)
            .count()
    }

    /// Number of node entries.
    pub fn node_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|(k, _)| k.kind == KIND_NODE)
            .count()
    }
}
