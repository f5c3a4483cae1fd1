//! The compiled, immutable view of every zone: what the answer engine and
//! the XDP table builder read. Built only by [`super::compile`].

use std::collections::HashMap;
use std::path::PathBuf;

use crate::config::WildcardMode;
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype, Soa};

/// All records of one owner and type, with one TTL (RFC 2181 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRset {
    pub rtype: Rtype,
    pub ttl: u32,
    pub rdatas: Vec<Rdata>,
}

/// One name in a zone. A node with no RRsets is an empty non-terminal
/// (RFC 8020: it exists).
#[derive(Clone, Debug)]
pub struct Node {
    /// The owner as first written in the source.
    pub name: Name,
    /// Sorted by type.
    pub rrsets: Vec<RRset>,
    /// Has NS and is not the apex: a delegation point.
    pub is_cut: bool,
    /// Lies below a delegation point: glue or occluded data.
    pub below_cut: bool,
}

impl Node {
    pub fn rrset(&self, rtype: Rtype) -> Option<&RRset> {
        self.rrsets.iter().find(|r| r.rtype == rtype)
    }
    pub fn is_empty_nonterminal(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// A compiled zone.
#[derive(Clone, Debug)]
pub struct Zone {
    pub apex: Name,
    /// Keyed by the lower-cased wire-format name.
    pub nodes: HashMap<Box<[u8]>, Node>,
    pub wildcards: WildcardMode,
    /// Where it came from, for messages.
    pub source: PathBuf,
    /// Number of resource records.
    pub records: usize,
    /// Some data depends on the clock (tinydns timestamps): the answers
    /// may change without a file change.
    pub time_dependent: bool,
}

impl Zone {
    pub fn node(&self, lower_wire: &[u8]) -> Option<&Node> {
        self.nodes.get(lower_wire)
    }

    pub fn apex_node(&self) -> &Node {
        self.nodes
            .get(self.apex.to_lowercase().as_wire())
            .expect("compile guarantees an apex node")
    }

    /// The SOA RRset; compile guarantees exactly one SOA record at the apex.
    pub fn soa_rrset(&self) -> &RRset {
        self.apex_node()
            .rrset(Rtype::SOA)
            .expect("compile guarantees an apex SOA")
    }

    pub fn soa(&self) -> &Soa {
        match self.soa_rrset().rdatas.first() {
            Some(Rdata::Soa(soa)) => soa,
            _ => unreachable!("compile guarantees an apex SOA"),
        }
    }

    pub fn serial(&self) -> u32 {
        self.soa().serial
    }

    /// TTL of the SOA in negative answers: min(SOA TTL, MINIMUM) (RFC 2308 §3).
    pub fn negative_ttl(&self) -> u32 {
        self.soa_rrset().ttl.min(self.soa().minimum)
    }
}

/// Every zone, indexed by apex.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub zones: Vec<Zone>,
    /// Lower-cased wire-format apex → index into `zones`.
    pub apexes: HashMap<Box<[u8]>, usize>,
}

impl Snapshot {
    /// The deepest zone containing the lower-cased wire name `lower`, and the
    /// offset in `lower` where the apex starts.
    pub fn find_zone(&self, lower: &[u8]) -> Option<(usize, usize)> {
        let mut pos = 0;
        loop {
            let suffix = lower.get(pos..)?;
            if let Some(&z) = self.apexes.get(suffix) {
                return Some((z, pos));
            }
            let len = *suffix.first()? as usize;
            if len == 0 {
                return None;
            }
            pos += 1 + len;
        }
    }

    /// The zone strictly above the one at `zone` that also contains its apex
    /// (the parent side of a cut, for DS queries: RFC 4035 §3.1.4.1).
    pub fn parent_zone(&self, zone: usize) -> Option<(usize, usize)> {
        let apex = self.zones.get(zone)?.apex.to_lowercase();
        let wire = apex.as_wire();
        let first = *wire.first()? as usize;
        if first == 0 {
            return None;
        }
        let skip = 1 + first;
        self.find_zone(&wire[skip..])
            .map(|(z, pos)| (z, pos + skip))
    }

    pub fn records(&self) -> usize {
        self.zones.iter().map(|z| z.records).sum()
    }
}
