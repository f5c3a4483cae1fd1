//! The response to an UPDATE (RFC 2136 §3.8).

use crate::wire::query::{Header, flags};

use super::UpdateError;
use super::message::{OPCODE_UPDATE, zone_entry};

/// The UPDATE response (RFC 2136 §3.8): same ID, QR=1, opcode UPDATE,
/// rcode, the zone section echoed (when it parsed), other sections empty.
/// No TSIG (the caller appends it). `out` is left empty when `msg` has no
/// complete header: there is no ID to answer to.
pub fn render_response(msg: &[u8], result: Result<(), UpdateError>, out: &mut Vec<u8>) {
    out.clear();
    let Some(header) = Header::parse(msg) else {
        return;
    };
    let rcode = result.err().map_or(0, UpdateError::rcode);
    let flags = flags::QR | (u16::from(OPCODE_UPDATE) << flags::OPCODE_SHIFT) | u16::from(rcode);
    let zone = zone_entry(msg).ok().map(|e| &msg[12..e.end]);
    out.extend_from_slice(&header.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, zone.is_some() as u8, 0, 0, 0, 0, 0, 0]);
    if let Some(zone) = zone {
        out.extend_from_slice(zone);
    }
}
