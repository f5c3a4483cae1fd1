//! The compiled, immutable view of every zone: what the answer engine and
//! the XDP table builder read. Built only by [`super::compile`].

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::config::WildcardMode;
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype, Soa};
use crate::zone::source::LocationDef;

/// A list that keeps a lone element inline and derefs to a slice. Most
/// names have one RRset and most RRsets one record: a zone of millions of
/// names then needs no allocation per RRset or record list.
#[derive(Clone)]
pub struct SmallList<T>(Repr<T>);

#[derive(Clone)]
enum Repr<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> SmallList<T> {
    pub fn new() -> SmallList<T> {
        SmallList(Repr::Many(Vec::new()))
    }

    pub fn one(item: T) -> SmallList<T> {
        SmallList(Repr::One(item))
    }

    pub fn push(&mut self, item: T) {
        match &mut self.0 {
            Repr::Many(v) if !v.is_empty() => v.push(item),
            Repr::Many(_) => self.0 = Repr::One(item),
            Repr::One(_) => {
                if let Repr::One(first) = std::mem::replace(&mut self.0, Repr::Many(Vec::new())) {
                    self.0 = Repr::Many(vec![first, item]);
                }
            }
        }
    }
}

impl<T> Default for SmallList<T> {
    fn default() -> SmallList<T> {
        SmallList::new()
    }
}

impl<T> From<Vec<T>> for SmallList<T> {
    fn from(v: Vec<T>) -> SmallList<T> {
        SmallList(Repr::Many(v))
    }
}

impl<T> Deref for SmallList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::One(item) => std::slice::from_ref(item),
            Repr::Many(v) => v,
        }
    }
}

impl<T> DerefMut for SmallList<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.0 {
            Repr::One(item) => std::slice::from_mut(item),
            Repr::Many(v) => v,
        }
    }
}

impl<'a, T> IntoIterator for &'a SmallList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: PartialEq> PartialEq for SmallList<T> {
    fn eq(&self, other: &SmallList<T>) -> bool {
        **self == **other
    }
}
impl<T: Eq> Eq for SmallList<T> {}

impl<T: fmt::Debug> fmt::Debug for SmallList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// All records of one owner and type, with one TTL (RFC 2181 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RRset {
    pub rtype: Rtype,
    pub ttl: u32,
    pub rdatas: SmallList<Rdata>,
}

impl RRset {
    /// Same TTL and the same records, in any order (RFC 2136 §1.1.1: an
    /// RRset is unordered). An absent RRset equals only an absent one.
    pub fn same(a: Option<&RRset>, b: Option<&RRset>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.rtype == b.rtype
                    && a.ttl == b.ttl
                    && a.rdatas.len() == b.rdatas.len()
                    && a.rdatas
                        .iter()
                        .all(|x| b.rdatas.iter().any(|y| y.dedup_eq(x)))
            }
            _ => false,
        }
    }
}

/// One name in a zone. A node with no RRsets is an empty non-terminal
/// (RFC 8020: it exists).
#[derive(Clone, Debug)]
pub struct Node {
    /// The owner as first written in the source.
    pub name: Name,
    /// Sorted by type.
    pub rrsets: SmallList<RRset>,
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

/// Positions in a node list by lower-cased wire name. The table holds only
/// positions and hashes; names are compared against the nodes themselves.
#[derive(Clone, Debug, Default)]
pub(crate) struct NodeIndex {
    table: HashTable<Slot>,
    hasher: DefaultHashBuilder,
}

/// A position and 32 bits of the hash of the name there, which are all
/// that growing the table needs: no node is read again.
#[derive(Clone, Copy, Debug)]
struct Slot {
    node: u32,
    hash: u32,
}

impl NodeIndex {
    fn hash(&self, lower: &[u8]) -> u32 {
        (self.hasher.hash_one(lower) >> 32) as u32
    }

    /// The table hash: low bits select the bucket, the top 7 bits are the
    /// tag compared before any node is read.
    fn spread(hash: u32) -> u64 {
        u64::from(hash).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    /// The position of the node whose lower-cased name is exactly `lower`.
    pub(crate) fn find(&self, nodes: &[Node], lower: &[u8]) -> Option<usize> {
        let hash = self.hash(lower);
        self.table
            .find(Self::spread(hash), |s| {
                s.hash == hash
                    && nodes
                        .get(s.node as usize)
                        .is_some_and(|n| n.name.lowercase_eq(lower))
            })
            .map(|s| s.node as usize)
    }

    /// Records that the node at `at`, whose lower-cased name is `lower`, is
    /// not yet in the index.
    pub(crate) fn insert(&mut self, lower: &[u8], at: usize) {
        let hash = self.hash(lower);
        let node = u32::try_from(at).unwrap_or(u32::MAX);
        self.table
            .insert_unique(Self::spread(hash), Slot { node, hash }, |s| {
                Self::spread(s.hash)
            });
    }
}

/// A compiled zone.
#[derive(Clone, Debug)]
pub struct Zone {
    pub apex: Name,
    /// Every node, empty non-terminals included, in no particular order.
    pub(crate) nodes: Vec<Node>,
    /// `nodes` by lower-cased wire-format name.
    pub(crate) index: NodeIndex,
    /// Position of the apex in `nodes`.
    pub(crate) apex_node: usize,
    pub wildcards: WildcardMode,
    /// Where it came from, for messages.
    pub source: PathBuf,
    /// Number of resource records.
    pub records: usize,
    /// Some data depends on the clock (tinydns timestamps): the answers
    /// may change without a file change.
    pub time_dependent: bool,
    /// Some data is restricted to tinydns locations: answers depend on the
    /// client's address (see [`Snapshot::for_client`]).
    pub client_dependent: bool,
}

impl Zone {
    /// The node with the lower-cased wire name `lower_wire`.
    pub fn node(&self, lower_wire: &[u8]) -> Option<&Node> {
        self.index
            .find(&self.nodes, lower_wire)
            .and_then(|i| self.nodes.get(i))
    }

    /// Every node, empty non-terminals included, in no particular order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn apex_node(&self) -> &Node {
        self.nodes
            .get(self.apex_node)
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

/// A zone shared between snapshots: cloning a snapshot copies pointers, so
/// an update that rebuilds one zone costs nothing per other zone. Writing
/// through it copies the zone first if another snapshot still holds it.
#[derive(Clone, Debug)]
pub struct SharedZone(Arc<Zone>);

impl SharedZone {
    /// The zone itself, copied only if another snapshot still holds it.
    pub fn into_inner(self) -> Zone {
        Arc::unwrap_or_clone(self.0)
    }
}

impl From<Zone> for SharedZone {
    fn from(zone: Zone) -> SharedZone {
        SharedZone(Arc::new(zone))
    }
}

impl Deref for SharedZone {
    type Target = Zone;
    fn deref(&self) -> &Zone {
        &self.0
    }
}

impl DerefMut for SharedZone {
    fn deref_mut(&mut self) -> &mut Zone {
        Arc::make_mut(&mut self.0)
    }
}

/// Every zone, indexed by apex.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub zones: Vec<SharedZone>,
    /// Lower-cased wire-format apex → index into `zones`.
    pub apexes: HashMap<Box<[u8]>, usize>,
    /// tinydns location definitions (`%lo:prefix`); empty when no record
    /// is restricted to a location.
    pub locations: Vec<LocationDef>,
    /// The whole snapshot as seen from each location: this snapshot plus
    /// the records restricted to that location. This snapshot itself is
    /// the view of clients in no location.
    pub location_views: Vec<([u8; 2], Arc<Snapshot>)>,
}

impl Snapshot {
    /// The view for a client (tinydns-data.md §4): the longest matching
    /// `%` prefix decides the location. Prefixes are IPv4 octets; an
    /// empty prefix matches every client, IPv6 ones included.
    pub fn for_client(&self, client: IpAddr) -> &Snapshot {
        if self.location_views.is_empty() {
            return self;
        }
        let v4 = match client {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        let best = self
            .locations
            .iter()
            .filter(|d| match v4 {
                Some(a) => d.matches(a),
                None => d.prefix.is_empty(),
            })
            .max_by_key(|d| d.prefix.len());
        best.and_then(|d| self.location_views.iter().find(|(c, _)| *c == d.code))
            .map_or(self, |(_, view)| view)
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_list_behaves_like_a_vec() {
        let mut list = SmallList::new();
        let mut vec = Vec::new();
        assert!(list.is_empty());
        for i in 0..5 {
            list.push(i);
            vec.push(i);
            assert_eq!(&*list, &vec[..]);
            assert_eq!(list, SmallList::from(vec.clone()));
        }
        list.sort_by_key(|&i| std::cmp::Reverse(i));
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), [4, 3, 2, 1, 0]);
        assert_eq!((&list).into_iter().count(), 5);
        assert_eq!(format!("{:?}", SmallList::one(7)), "[7]");
        let mut one = SmallList::from(Vec::new());
        one.push(1);
        assert_eq!(one, SmallList::one(1));
    }

    #[test]
    fn rrset_sameness_ignores_order_only() {
        let set = |ttl, last: &[u8]| RRset {
            rtype: Rtype::A,
            ttl,
            rdatas: SmallList::from(
                last.iter()
                    .map(|&b| Rdata::A([198, 18, 0, b].into()))
                    .collect::<Vec<_>>(),
            ),
        };
        assert!(RRset::same(
            Some(&set(60, &[1, 2])),
            Some(&set(60, &[2, 1]))
        ));
        assert!(!RRset::same(
            Some(&set(60, &[1, 2])),
            Some(&set(61, &[1, 2]))
        ));
        assert!(!RRset::same(
            Some(&set(60, &[1, 2])),
            Some(&set(60, &[1, 3]))
        ));
        assert!(!RRset::same(Some(&set(60, &[1])), Some(&set(60, &[1, 1]))));
        assert!(!RRset::same(Some(&set(60, &[1])), None));
        assert!(RRset::same(None, None));
    }

    #[test]
    fn node_index_matches_exact_lower_case_names() {
        let node = |name: &str| Node {
            name: Name::parse_text(name).unwrap(),
            rrsets: SmallList::new(),
            is_cut: false,
            below_cut: false,
        };
        let nodes: Vec<Node> = (0..1000)
            .map(|i| node(&format!("Host{i}.Example.com")))
            .collect();
        let mut index = NodeIndex::default();
        for (i, n) in nodes.iter().enumerate() {
            index.insert(n.name.to_lowercase().as_wire(), i);
        }
        for (i, n) in nodes.iter().enumerate() {
            assert_eq!(index.find(&nodes, n.name.to_lowercase().as_wire()), Some(i));
            // Keys are lower-cased wire names; others are not found.
            assert_eq!(index.find(&nodes, n.name.as_wire()), None);
        }
        assert_eq!(
            index.find(
                &nodes,
                Name::parse_text("host1000.example.com").unwrap().as_wire()
            ),
            None
        );
    }
}
