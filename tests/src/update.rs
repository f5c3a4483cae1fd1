//! RFC 2136 UPDATE messages built by hand (independent of dnsd's own
//! code), for the dynamic-update tests: a zone section, prerequisites in
//! the answer section and changes in the authority section.

use crate::wire::{QueryBuilder, class, name_to_wire, rtype};

/// OPCODE UPDATE (RFC 2136 §1.3).
pub const OPCODE: u8 = 5;

/// One resource record in wire format.
pub fn rr(owner: &str, class: u16, ttl: u32, rtype: u16, rdata: &[u8]) -> Vec<u8> {
    let mut out = name_to_wire(owner);
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
    out
}

/// "Add to an RRset" (RFC 2136 §2.5.1).
pub fn add(owner: &str, ttl: u32, rtype: u16, rdata: &[u8]) -> Vec<u8> {
    rr(owner, class::IN, ttl, rtype, rdata)
}

/// "Delete an RRset" (RFC 2136 §2.5.2).
pub fn delete_rrset(owner: &str, rtype: u16) -> Vec<u8> {
    rr(owner, class::ANY, 0, rtype, &[])
}

/// TXT RDATA of one character-string.
pub fn txt(text: &str) -> Vec<u8> {
    let mut out = vec![text.len() as u8];
    out.extend_from_slice(text.as_bytes());
    out
}

/// An UPDATE of `zone` with message ID `id`.
pub fn message(id: u16, zone: &str, prerequisites: &[Vec<u8>], updates: &[Vec<u8>]) -> Vec<u8> {
    let mut q = QueryBuilder::new(zone, rtype::SOA).id(id).opcode(OPCODE);
    q.answer = prerequisites.to_vec();
    q.authority = updates.to_vec();
    q.build()
}

/// Replaces the A RRset of `owner` in `zone` with `addr`.
pub fn set_a(id: u16, zone: &str, owner: &str, ttl: u32, addr: [u8; 4]) -> Vec<u8> {
    message(
        id,
        zone,
        &[],
        &[
            delete_rrset(owner, rtype::A),
            add(owner, ttl, rtype::A, &addr),
        ],
    )
}

/// Whether `response` answers the UPDATE `request` (same ID, QR, opcode
/// UPDATE) and with which RCODE.
pub fn rcode(request: &[u8], response: &[u8]) -> Option<u8> {
    let ok = response.len() >= 12
        && response[..2] == request[..2]
        && response[2] & 0x80 != 0
        && (response[2] >> 3) & 0x0f == OPCODE;
    ok.then(|| response[3] & 0x0f)
}
