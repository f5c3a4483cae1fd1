//! The lookup algorithm of RFC 1034 §4.3.2 over a compiled snapshot, with
//! RFC 4592 wildcards, RFC 2308 negative answers, RFC 8020 empty
//! non-terminals and RFC 6604 CNAME chains. Produces a structured
//! [`Answer`]; [`super::render`] turns it into bytes.

use crate::config::WildcardMode;
use crate::wire::name::Name;
use crate::wire::query::rcode;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::snapshot::{Node, RRset, Snapshot, Zone};

/// Longest CNAME chain we follow (loops are also detected).
pub const MAX_CHAIN: usize = 8;

/// Whose name a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// The query name as the client spelled it (compresses to 0xC00C).
    Qname,
    Name(&'a Name),
}

/// One RRset placed in a section.
#[derive(Clone, Copy, Debug)]
pub struct Rr<'a> {
    pub owner: Owner<'a>,
    pub rrset: &'a RRset,
    /// TTL to use instead of the RRset's (the SOA of negative answers).
    pub ttl: u32,
}

impl<'a> Rr<'a> {
    fn new(owner: Owner<'a>, rrset: &'a RRset) -> Rr<'a> {
        Rr {
            owner,
            rrset,
            ttl: rrset.ttl,
        }
    }
}

/// What kind of answer this is (for counters and the XDP table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Answer,
    NoData,
    NxDomain,
    Referral,
    Refused,
}

/// A structured response.
#[derive(Clone, Debug)]
pub struct Answer<'a> {
    pub rcode: u16,
    pub authoritative: bool,
    pub kind: Kind,
    /// Synthesised from a wildcard somewhere along the chain.
    pub wildcard: bool,
    pub answer: Vec<Rr<'a>>,
    pub authority: Vec<Rr<'a>>,
    pub additional: Vec<Rr<'a>>,
    /// The first `required_additional` additional RRsets must fit or the
    /// response is truncated (in-bailiwick glue, RFC 9471).
    pub required_additional: usize,
}

impl<'a> Answer<'a> {
    fn new(kind: Kind, rcode: u16, authoritative: bool) -> Answer<'a> {
        Answer {
            rcode,
            authoritative,
            kind,
            wildcard: false,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
            required_additional: 0,
        }
    }

    pub fn refused() -> Answer<'a> {
        Answer::new(Kind::Refused, rcode::REFUSED, false)
    }
}

/// Where a name lands inside one zone.
enum Step<'a> {
    /// The name exists (or a wildcard was found for it); `wildcard` tells which.
    Found {
        node: &'a Node,
        wildcard: bool,
    },
    /// At or below a delegation point.
    Referral(&'a Node),
    NxDomain,
}

/// Answers `qname`/`qtype` (class IN) from `snap`.
pub fn lookup<'a>(snap: &'a Snapshot, qname: &Name, qtype: Rtype) -> Answer<'a> {
    let mut lower = qname.to_lowercase().as_wire().to_vec();
    let Some((mut zi, mut apex_pos)) = snap.find_zone(&lower) else {
        return Answer::refused();
    };
    // DS at a zone apex is answered by the parent zone if we have it
    // (RFC 4035 §3.1.4.1, checklist 19).
    if qtype == Rtype::DS
        && apex_pos == 0
        && let Some((p, pos)) = snap.parent_zone(zi)
    {
        zi = p;
        apex_pos = pos;
    }

    let mut ans = Answer::new(Kind::Answer, rcode::NOERROR, true);
    let mut owner = Owner::Qname;
    let mut visited: Vec<Vec<u8>> = Vec::new();
    for hop in 0..=MAX_CHAIN {
        let zone = &snap.zones[zi];
        match resolve_in_zone(zone, &lower, apex_pos, qtype) {
            Step::Referral(cut) => {
                if hop == 0 {
                    ans = Answer::new(Kind::Referral, rcode::NOERROR, false);
                }
                // A chain into a delegation ends with the referral; AA still
                // follows the first owner (checklist 21), and the resolver
                // follows the referral.
                add_referral(snap, zone, cut, &mut ans);
                return ans;
            }
            Step::NxDomain => {
                ans.rcode = rcode::NXDOMAIN;
                ans.kind = Kind::NxDomain;
                ans.authority.push(negative_soa(zone));
                return ans;
            }
            Step::Found { node, wildcard } => {
                ans.wildcard |= wildcard;
                if qtype == Rtype::ANY {
                    // RFC 8482 §4.2: one RRset (the CNAME at a CNAME owner).
                    match node.rrset(Rtype::CNAME).or(node.rrsets.first()) {
                        Some(set) => ans.answer.push(Rr::new(owner, set)),
                        None => nodata(&mut ans, zone),
                    }
                    return ans;
                }
                if let Some(set) = node.rrset(qtype) {
                    ans.answer.push(Rr::new(owner, set));
                    add_additional(snap, &mut ans, set);
                    return ans;
                }
                let cname = match node.rrset(Rtype::CNAME) {
                    Some(set) if qtype != Rtype::CNAME => set,
                    _ => {
                        nodata(&mut ans, zone);
                        return ans;
                    }
                };
                ans.answer.push(Rr::new(owner, cname));
                let Some(Rdata::Cname(target)) = cname.rdatas.first() else {
                    return ans;
                };
                // Restart at the target if it is ours (RFC 1034 §4.3.2 step 3a).
                visited.push(lower);
                lower = target.to_lowercase().as_wire().to_vec();
                if visited.contains(&lower) {
                    return ans; // loop: stop with what we have
                }
                let Some((z, pos)) = snap.find_zone(&lower) else {
                    return ans;
                };
                zi = z;
                apex_pos = pos;
                owner = Owner::Name(target);
            }
        }
    }
    ans
}

fn nodata<'a>(ans: &mut Answer<'a>, zone: &'a Zone) {
    if ans.answer.is_empty() {
        ans.kind = Kind::NoData;
    }
    ans.authority.push(negative_soa(zone));
}

/// The zone's SOA with the RFC 2308 §3 TTL.
fn negative_soa(zone: &Zone) -> Rr<'_> {
    Rr {
        owner: Owner::Name(&zone.apex),
        rrset: zone.soa_rrset(),
        ttl: zone.negative_ttl(),
    }
}

/// Finds where the lower-cased wire name `lower` (inside `zone`, whose apex
/// starts at `apex_pos`) lands.
fn resolve_in_zone<'a>(zone: &'a Zone, lower: &[u8], apex_pos: usize, qtype: Rtype) -> Step<'a> {
    // Label start offsets above the apex, deepest name first.
    let mut starts: Vec<usize> = Vec::with_capacity(8);
    let mut pos = 0;
    while pos < apex_pos {
        starts.push(pos);
        pos += 1 + lower[pos] as usize;
    }
    // Walk from just below the apex towards the query name (RFC 1034
    // §4.3.2 step 3b: a cut on the way means a referral).
    let mut encloser = zone.apex_node();
    for &start in starts.iter().rev() {
        match zone.node(&lower[start..]) {
            Some(node) => {
                if node.is_cut && !(start == 0 && qtype == Rtype::DS) {
                    return Step::Referral(node);
                }
                encloser = node;
            }
            None => {
                return match zone.wildcards {
                    WildcardMode::Rfc4592 => wildcard_below(zone, encloser),
                    WildcardMode::Tinydns => tinydns_wildcard(zone, lower, &starts, None),
                };
            }
        }
    }
    // The name itself exists.
    if zone.wildcards == WildcardMode::Tinydns && encloser.is_empty_nonterminal() {
        return tinydns_wildcard(zone, lower, &starts, Some(encloser));
    }
    Step::Found {
        node: encloser,
        wildcard: false,
    }
}

/// RFC 4592 §3.3.1: only `*.<closest encloser>` can answer.
fn wildcard_below<'a>(zone: &'a Zone, encloser: &'a Node) -> Step<'a> {
    let mut key = Vec::with_capacity(2 + encloser.name.wire_len());
    key.extend_from_slice(b"\x01*");
    key.extend_from_slice(encloser.name.to_lowercase().as_wire());
    match zone.node(&key) {
        Some(node) => Step::Found {
            node,
            wildcard: true,
        },
        None => Step::NxDomain,
    }
}

/// tinydns 1.05 (tinydns-data.md §6.3): the nearest ancestor with a `*`
/// child answers, whatever exists in between. An existing empty
/// non-terminal without such a wildcard is still NODATA (RFC 8020).
fn tinydns_wildcard<'a>(
    zone: &'a Zone,
    lower: &[u8],
    starts: &[usize],
    existing: Option<&'a Node>,
) -> Step<'a> {
    let mut key = Vec::with_capacity(lower.len() + 2);
    let ancestors = starts.iter().skip(1).copied().chain(std::iter::once(
        starts
            .last()
            .map(|&s| s + 1 + lower[s] as usize)
            .unwrap_or(0),
    ));
    for start in ancestors {
        key.clear();
        key.extend_from_slice(b"\x01*");
        key.extend_from_slice(&lower[start..]);
        if let Some(node) = zone.node(&key) {
            return Step::Found {
                node,
                wildcard: true,
            };
        }
    }
    match existing {
        Some(node) => Step::Found {
            node,
            wildcard: false,
        },
        None => Step::NxDomain,
    }
}

/// Adds the referral to the delegation at `cut`: its NS RRset in authority,
/// glue in additional (RFC 1034 §4.3.2 step 3b, RFC 9471).
fn add_referral<'a>(snap: &'a Snapshot, zone: &'a Zone, cut: &'a Node, ans: &mut Answer<'a>) {
    let Some(ns) = cut.rrset(Rtype::NS) else {
        return;
    };
    ans.authority.push(Rr::new(Owner::Name(&cut.name), ns));
    // In-bailiwick glue first: it is required.
    let mut optional = Vec::new();
    for rd in &ns.rdatas {
        let Some(target) = rd.additional_target() else {
            continue;
        };
        if target.is_subdomain_of(&cut.name) {
            if let Some(node) = zone.node(target.to_lowercase().as_wire()) {
                push_addresses(&mut ans.additional, node);
            }
        } else {
            optional.push(target);
        }
    }
    ans.required_additional = ans.additional.len();
    for target in optional {
        push_authoritative_addresses(snap, &mut ans.additional, target);
    }
}

/// A and AAAA for the NS, MX and SRV targets of `set`, from our
/// authoritative data only (checklist 24).
fn add_additional<'a>(snap: &'a Snapshot, ans: &mut Answer<'a>, set: &'a RRset) {
    for rd in &set.rdatas {
        if let Some(target) = rd.additional_target() {
            push_authoritative_addresses(snap, &mut ans.additional, target);
        }
    }
}

fn push_authoritative_addresses<'a>(snap: &'a Snapshot, out: &mut Vec<Rr<'a>>, target: &Name) {
    let lower = target.to_lowercase();
    let Some((zi, _)) = snap.find_zone(lower.as_wire()) else {
        return;
    };
    if let Some(node) = snap.zones[zi].node(lower.as_wire())
        && !node.below_cut
        && !node.is_cut
    {
        push_addresses(out, node);
    }
}

fn push_addresses<'a>(out: &mut Vec<Rr<'a>>, node: &'a Node) {
    for rtype in [Rtype::A, Rtype::AAAA] {
        if let Some(set) = node.rrset(rtype)
            && !out.iter().any(|r| std::ptr::eq(r.rrset, set))
        {
            out.push(Rr::new(Owner::Name(&node.name), set));
        }
    }
}
