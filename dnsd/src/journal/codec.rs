//! The binary form of one [`ChangeSet`] in the journal. Names and RDATA are
//! stored in uncompressed wire format, so decoding reuses the wire parsers.
//!
//! ```text
//! changeset := name serial_before:u32 serial_after:u32 count:u32 change*
//! change    := name rtype:u16 rrset? rrset?      (before, after)
//! rrset?    := 0 | 1 rtype:u16 ttl:u32 count:u32 (len:u16 rdata)*
//! name      := len:u16 wire
//! ```
//! All integers are big-endian.

use crate::update::{ChangeSet, RRsetChange};
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::snapshot::{RRset, SmallList};

/// Why a record's payload does not decode (its checksum was right, so
/// this is a bug or a file from another program).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("record ends early")]
    Short,
    #[error("trailing bytes after the record")]
    Trailing,
    #[error("bad name")]
    Name,
    #[error("bad RDATA: {0}")]
    Rdata(String),
    #[error("field too long to encode")]
    TooLong,
}

pub fn encode(cs: &ChangeSet) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(256);
    put_name(&mut out, &cs.zone)?;
    out.extend_from_slice(&cs.serial_before.to_be_bytes());
    out.extend_from_slice(&cs.serial_after.to_be_bytes());
    put_u32(&mut out, cs.changes.len())?;
    for c in &cs.changes {
        put_name(&mut out, &c.owner)?;
        out.extend_from_slice(&c.rtype.0.to_be_bytes());
        put_rrset(&mut out, c.before.as_ref())?;
        put_rrset(&mut out, c.after.as_ref())?;
    }
    Ok(out)
}

pub fn decode(data: &[u8]) -> Result<ChangeSet, CodecError> {
    let mut r = Reader { data, pos: 0 };
    let zone = r.name()?;
    let serial_before = r.u32()?;
    let serial_after = r.u32()?;
    let count = r.u32()?;
    let mut changes = Vec::new();
    for _ in 0..count {
        let owner = r.name()?;
        let rtype = Rtype(r.u16()?);
        let before = r.rrset()?;
        let after = r.rrset()?;
        changes.push(RRsetChange {
            owner,
            rtype,
            before,
            after,
        });
    }
    if r.pos != data.len() {
        return Err(CodecError::Trailing);
    }
    Ok(ChangeSet {
        zone,
        serial_before,
        serial_after,
        changes,
    })
}

fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<(), CodecError> {
    let n = u32::try_from(n).map_err(|_| CodecError::TooLong)?;
    out.extend_from_slice(&n.to_be_bytes());
    Ok(())
}

fn put_bytes16(out: &mut Vec<u8>, b: &[u8]) -> Result<(), CodecError> {
    let n = u16::try_from(b.len()).map_err(|_| CodecError::TooLong)?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(b);
    Ok(())
}

fn put_name(out: &mut Vec<u8>, name: &Name) -> Result<(), CodecError> {
    put_bytes16(out, name.as_wire())
}

fn put_rrset(out: &mut Vec<u8>, set: Option<&RRset>) -> Result<(), CodecError> {
    let Some(set) = set else {
        out.push(0);
        return Ok(());
    };
    out.push(1);
    out.extend_from_slice(&set.rtype.0.to_be_bytes());
    out.extend_from_slice(&set.ttl.to_be_bytes());
    put_u32(out, set.rdatas.len())?;
    for rd in set.rdatas.iter() {
        put_bytes16(out, &rd.to_wire())?;
    }
    Ok(())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], CodecError> {
        let end = self.pos.checked_add(n).ok_or(CodecError::Short)?;
        let b = self.data.get(self.pos..end).ok_or(CodecError::Short)?;
        self.pos = end;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, CodecError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn bytes16(&mut self) -> Result<&[u8], CodecError> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
    fn name(&mut self) -> Result<Name, CodecError> {
        Name::from_wire(self.bytes16()?).map_err(|_| CodecError::Name)
    }
    fn rrset(&mut self) -> Result<Option<RRset>, CodecError> {
        match self.u8()? {
            0 => return Ok(None),
            1 => {}
            _ => return Err(CodecError::Short),
        }
        let rtype = Rtype(self.u16()?);
        let ttl = self.u32()?;
        let count = self.u32()?;
        let mut rdatas = Vec::new();
        for _ in 0..count {
            let data = self.bytes16()?;
            let rd = Rdata::from_wire(rtype, data).map_err(|e| CodecError::Rdata(e.to_string()))?;
            rdatas.push(rd);
        }
        Ok(Some(RRset {
            rtype,
            ttl,
            rdatas: SmallList::from(rdatas),
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::rdata::Soa;

    pub(crate) fn name(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    pub(crate) fn a_set(ttl: u32, addrs: &[[u8; 4]]) -> RRset {
        RRset {
            rtype: Rtype::A,
            ttl,
            rdatas: SmallList::from(
                addrs
                    .iter()
                    .map(|a| Rdata::A((*a).into()))
                    .collect::<Vec<_>>(),
            ),
        }
    }

    pub(crate) fn soa_set(serial: u32) -> RRset {
        RRset {
            rtype: Rtype::SOA,
            ttl: 3600,
            rdatas: SmallList::one(Rdata::Soa(Box::new(Soa {
                mname: name("ns1.example.info"),
                rname: name("hostmaster.example.info"),
                serial,
                refresh: 7200,
                retry: 900,
                expire: 1209600,
                minimum: 300,
            }))),
        }
    }

    pub(crate) fn sample(serial: u32) -> ChangeSet {
        ChangeSet {
            zone: name("example.info"),
            serial_before: serial,
            serial_after: serial.wrapping_add(1),
            changes: vec![
                RRsetChange {
                    owner: name("Subspace.example.info"),
                    rtype: Rtype::A,
                    before: Some(a_set(300, &[[198, 18, 0, 1]])),
                    after: Some(a_set(60, &[[198, 18, 0, 2], [198, 18, 0, 3]])),
                },
                RRsetChange {
                    owner: name("gone.example.info"),
                    rtype: Rtype::TXT,
                    before: Some(RRset {
                        rtype: Rtype::TXT,
                        ttl: 5,
                        rdatas: SmallList::one(Rdata::Other {
                            rtype: Rtype::TXT,
                            data: b"\x02hi".as_slice().into(),
                        }),
                    }),
                    after: None,
                },
                RRsetChange {
                    owner: name("example.info"),
                    rtype: Rtype::SOA,
                    before: Some(soa_set(serial)),
                    after: Some(soa_set(serial.wrapping_add(1))),
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        for serial in [0, 7, u32::MAX] {
            let cs = sample(serial);
            let bytes = encode(&cs).unwrap();
            assert_eq!(decode(&bytes).unwrap(), cs);
        }
    }

    #[test]
    fn rejects_every_truncation_and_trailing_bytes() {
        let bytes = encode(&sample(1)).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer), Err(CodecError::Trailing));
    }
}
