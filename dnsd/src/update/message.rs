//! Reading an UPDATE message (RFC 2136 §2): header, zone section, and the
//! prerequisite and update records with their names decompressed. Never
//! panics; anything malformed is FORMERR (RFC 2136 §3.1.1, §3.8).

use crate::wire::name::{MAX_NAME, Name, wire_len};
use crate::wire::query::{CLASS_IN, Header};
use crate::wire::rdata::Rtype;

use super::UpdateError;

/// Opcode UPDATE (RFC 2136 §1.3).
pub const OPCODE_UPDATE: u8 = 5;
/// Class NONE (RFC 2136 §1.3).
pub const CLASS_NONE: u16 = 254;
pub use crate::wire::query::CLASS_ANY;

/// One record of the prerequisite or update section, as sent: the meaning
/// of class, TTL and RDATA depends on the section (RFC 2136 §2.4, §2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: Rtype,
    pub class: u16,
    pub ttl: u32,
    /// RDATA with the names of the RFC 1035 types decompressed (RFC 3597
    /// §4), so that it can be read as uncompressed wire format.
    pub rdata: Vec<u8>,
}

/// An UPDATE message that parsed.
#[derive(Debug)]
pub struct Message {
    pub zone: Name,
    pub prerequisites: Vec<Record>,
    pub updates: Vec<Record>,
}

/// The zone section entry (RFC 2136 §2.3) and where it ends.
pub struct ZoneEntry {
    pub name: Name,
    pub ztype: Rtype,
    pub class: u16,
    pub end: usize,
}

/// Reads the one zone section entry. The name is the first in the message,
/// so it cannot be compressed: a pointer could only point into the header.
pub fn zone_entry(msg: &[u8]) -> Result<ZoneEntry, UpdateError> {
    let header = Header::parse(msg).ok_or(UpdateError::FormErr)?;
    if header.qdcount != 1 {
        return Err(UpdateError::FormErr);
    }
    let rest = msg.get(12..).ok_or(UpdateError::FormErr)?;
    let len = wire_len(rest).map_err(|_| UpdateError::FormErr)?;
    let name = Name::from_wire(&rest[..len]).map_err(|_| UpdateError::FormErr)?;
    let pos = 12 + len;
    let tail = msg.get(pos..pos + 4).ok_or(UpdateError::FormErr)?;
    Ok(ZoneEntry {
        name,
        ztype: Rtype(u16::from_be_bytes([tail[0], tail[1]])),
        class: u16::from_be_bytes([tail[2], tail[3]]),
        end: pos + 4,
    })
}

/// Parses the whole message: zone section (RFC 2136 §3.1.1: ZTYPE SOA,
/// class IN), prerequisites, updates, and the additional section, whose
/// records are checked for shape and otherwise ignored (the caller has
/// verified a trailing TSIG; BIND and Knot ignore the rest too), except
/// that a TSIG before the last record is FORMERR. Bytes after the last
/// record are FORMERR.
pub fn parse(msg: &[u8]) -> Result<Message, UpdateError> {
    let entry = zone_entry(msg)?;
    if entry.ztype != Rtype::SOA || entry.class != CLASS_IN {
        return Err(UpdateError::FormErr);
    }
    let header = Header::parse(msg).ok_or(UpdateError::FormErr)?;
    let mut pos = entry.end;
    let section = |count: u16, pos: &mut usize| -> Result<Vec<Record>, UpdateError> {
        let mut out = Vec::new();
        for _ in 0..count {
            let (record, end) = read_record(msg, *pos)?;
            out.push(record);
            *pos = end;
        }
        Ok(out)
    };
    let prerequisites = section(header.ancount, &mut pos)?;
    let updates = section(header.nscount, &mut pos)?;
    for i in 0..header.arcount {
        let f = read_fixed(msg, pos)?;
        // A TSIG anywhere but last is FORMERR (RFC 8945 §5.1); the last
        // one is the caller's.
        if f.rtype == Rtype::TSIG && i + 1 != header.arcount {
            return Err(UpdateError::FormErr);
        }
        pos = f.rdata_end;
    }
    if pos != msg.len() {
        return Err(UpdateError::FormErr);
    }
    Ok(Message {
        zone: entry.name,
        prerequisites,
        updates,
    })
}

/// Reads a possibly compressed name at `pos`; returns it and the position
/// after it in the message. Pointers must point strictly backwards, so
/// no loop is possible (checklist 76).
pub fn read_name(msg: &[u8], mut pos: usize) -> Result<(Name, usize), UpdateError> {
    let mut wire = Vec::with_capacity(32);
    let mut end = None;
    loop {
        let len = *msg.get(pos).ok_or(UpdateError::FormErr)? as usize;
        match len & 0xC0 {
            0x00 => {
                let label = msg.get(pos..pos + 1 + len).ok_or(UpdateError::FormErr)?;
                wire.extend_from_slice(label);
                if wire.len() > MAX_NAME {
                    return Err(UpdateError::FormErr);
                }
                pos += 1 + len;
                if len == 0 {
                    let name = Name::from_wire_vec(wire).map_err(|_| UpdateError::FormErr)?;
                    return Ok((name, end.unwrap_or(pos)));
                }
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(UpdateError::FormErr)? as usize;
                let target = ((len & 0x3F) << 8) | low;
                if target >= pos {
                    return Err(UpdateError::FormErr);
                }
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(UpdateError::FormErr),
        }
    }
}

/// Owner, type, class, TTL and the RDATA bounds of the record at `pos`.
struct Fixed {
    name: Name,
    rtype: Rtype,
    class: u16,
    ttl: u32,
    rdata_start: usize,
    rdata_end: usize,
}

fn read_fixed(msg: &[u8], pos: usize) -> Result<Fixed, UpdateError> {
    let (name, pos) = read_name(msg, pos)?;
    let f = msg.get(pos..pos + 10).ok_or(UpdateError::FormErr)?;
    let rdlen = u16::from_be_bytes([f[8], f[9]]) as usize;
    let rdata_start = pos + 10;
    let rdata_end = rdata_start + rdlen;
    if rdata_end > msg.len() {
        return Err(UpdateError::FormErr);
    }
    Ok(Fixed {
        name,
        rtype: Rtype(u16::from_be_bytes([f[0], f[1]])),
        class: u16::from_be_bytes([f[2], f[3]]),
        ttl: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
        rdata_start,
        rdata_end,
    })
}

fn read_record(msg: &[u8], pos: usize) -> Result<(Record, usize), UpdateError> {
    let f = read_fixed(msg, pos)?;
    let rdata = decompress_rdata(msg, f.rtype, f.rdata_start, f.rdata_end)?;
    Ok((
        Record {
            name: f.name,
            rtype: f.rtype,
            class: f.class,
            ttl: f.ttl,
            rdata,
        },
        f.rdata_end,
    ))
}

/// How the RDATA of a type whose names may be compressed is laid out:
/// fixed bytes before the names, number of names, fixed bytes after
/// (RFC 1035 §3.3; RFC 3597 §4 allows compression in these types only).
fn compressed_layout(rtype: Rtype) -> Option<(usize, usize, usize)> {
    Some(match rtype.0 {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR
        2..=5 | 7..=9 | 12 => (0, 1, 0),
        // SOA: MNAME, RNAME, five 32-bit numbers
        6 => (0, 2, 20),
        // MINFO: RMAILBX, EMAILBX
        14 => (0, 2, 0),
        // MX: preference, exchange
        15 => (2, 1, 0),
        _ => return None,
    })
}

/// The RDATA at `start..end`, names decompressed for the types of
/// [`compressed_layout`]; the bytes as they are for every other type.
fn decompress_rdata(
    msg: &[u8],
    rtype: Rtype,
    start: usize,
    end: usize,
) -> Result<Vec<u8>, UpdateError> {
    let raw = msg.get(start..end).ok_or(UpdateError::FormErr)?;
    // An empty RDATA is how class ANY and prerequisites say "no data".
    let Some((before, names, after)) = compressed_layout(rtype).filter(|_| !raw.is_empty()) else {
        return Ok(raw.to_vec());
    };
    let mut out = Vec::with_capacity(raw.len() + 32);
    out.extend_from_slice(raw.get(..before).ok_or(UpdateError::FormErr)?);
    let mut pos = start + before;
    for _ in 0..names {
        if pos >= end {
            return Err(UpdateError::FormErr);
        }
        let (name, next) = read_name(msg, pos)?;
        out.extend_from_slice(name.as_wire());
        pos = next;
    }
    if pos + after != end {
        return Err(UpdateError::FormErr);
    }
    out.extend_from_slice(&msg[pos..end]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    #[test]
    fn names_decompress_through_backward_pointers_only() {
        // "example.com" at 12, then "www" + pointer to 12 at 25.
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x07example\x03com\x00");
        m.extend_from_slice(b"\x03www\xc0\x0c");
        assert_eq!(read_name(&m, 12).unwrap(), (n("example.com"), 25));
        assert_eq!(read_name(&m, 25).unwrap(), (n("www.example.com"), 31));
        // A pointer to itself or forward is a loop risk: FORMERR.
        let mut selfp = m.clone();
        selfp.extend_from_slice(&[0xC0, 31]);
        assert_eq!(read_name(&selfp, 31), Err(UpdateError::FormErr));
        // Truncated, and label type 0x40.
        assert_eq!(read_name(&m[..20], 12), Err(UpdateError::FormErr));
        let mut ext = m.clone();
        ext[12] = 0x41;
        assert_eq!(read_name(&ext, 12), Err(UpdateError::FormErr));
    }

    #[test]
    fn names_longer_than_255_bytes_are_formerr() {
        // Pointers chaining 63-byte labels past the 255-byte limit.
        let mut m = vec![0u8; 12];
        m.push(0);
        let mut prev = 12usize;
        for _ in 0..5 {
            let at = m.len();
            m.push(63);
            m.extend_from_slice(&[b'a'; 63]);
            m.extend_from_slice(&[0xC0 | (prev >> 8) as u8, prev as u8]);
            prev = at;
        }
        assert_eq!(read_name(&m, prev), Err(UpdateError::FormErr));
    }

    #[test]
    fn rdata_names_of_rfc1035_types_decompress() {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(b"\x07example\x00");
        let mx = m.len();
        m.extend_from_slice(&[0, 10, 4, b'm', b'a', b'i', b'l', 0xC0, 12]);
        let got = decompress_rdata(&m, Rtype::MX, mx, m.len()).unwrap();
        assert_eq!(got, b"\x00\x0a\x04mail\x07example\x00");
        // Bytes after the last name of an MX: FORMERR.
        m.push(0);
        assert_eq!(
            decompress_rdata(&m, Rtype::MX, mx, m.len()),
            Err(UpdateError::FormErr)
        );
        // Other types are taken as they are, pointers and all.
        let srv = [0, 1, 0, 2, 0, 3, 0xC0, 12];
        let mut m2 = m.clone();
        let at = m2.len();
        m2.extend_from_slice(&srv);
        assert_eq!(
            decompress_rdata(&m2, Rtype::SRV, at, m2.len()).unwrap(),
            srv
        );
    }
}
