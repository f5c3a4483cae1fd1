//! Writing messages with name compression (RFC 1035 §4.1.4).
//!
//! Pointers only ever point backwards and only to offsets below 0x4000
//! (checklist 75); only owner names and the RDATA names of the RFC 1035
//! types are compressed (RFC 3597 §4, checklist 76).

use super::name::Name;
use super::rdata::{Rdata, Rtype};

/// Offsets at or above this cannot be expressed in a 14-bit pointer.
const MAX_POINTER: usize = 0x4000;

/// A message under construction.
pub struct MessageWriter<'a> {
    buf: &'a mut Vec<u8>,
    /// Start offsets of names (and their suffixes) already written, each a
    /// possible pointer target.
    targets: Vec<u16>,
}

/// A position to roll back to when a record does not fit.
#[derive(Clone, Copy)]
pub struct Mark {
    len: usize,
    targets: usize,
}

impl<'a> MessageWriter<'a> {
    /// Starts a message in `buf` (cleared).
    pub fn new(buf: &'a mut Vec<u8>) -> MessageWriter<'a> {
        buf.clear();
        MessageWriter {
            buf,
            targets: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn bytes(&self) -> &[u8] {
        self.buf
    }

    pub fn mark(&self) -> Mark {
        Mark {
            len: self.buf.len(),
            targets: self.targets.len(),
        }
    }

    pub fn rollback(&mut self, mark: Mark) {
        self.buf.truncate(mark.len);
        self.targets.truncate(mark.targets);
    }

    pub fn put_u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn put_u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn put_bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn set_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// Copies an uncompressed name that is already in the message (the
    /// question) and registers its suffixes as pointer targets.
    pub fn register_name_at(&mut self, at: usize) {
        let mut pos = at;
        while pos < MAX_POINTER {
            let Some(&len) = self.buf.get(pos) else {
                return;
            };
            if len == 0 || len & 0xC0 != 0 {
                return;
            }
            self.targets.push(pos as u16);
            pos += 1 + len as usize;
        }
    }

    /// Writes `name`, compressed against earlier names.
    pub fn put_name_compressed(&mut self, name: &Name) {
        let wire = name.as_wire();
        let mut pos = 0;
        while wire[pos] != 0 {
            if let Some(target) = self.find(&wire[pos..]) {
                self.put_u16(0xC000 | target);
                return;
            }
            let here = self.buf.len();
            if here < MAX_POINTER {
                self.targets.push(here as u16);
            }
            let len = wire[pos] as usize;
            self.buf.extend_from_slice(&wire[pos..pos + 1 + len]);
            pos += 1 + len;
        }
        self.buf.push(0);
    }

    /// Writes `name` uncompressed (it is still not offered as a target, so
    /// that names inside RDATA of unknown layout never receive pointers).
    pub fn put_name_plain(&mut self, name: &Name) {
        self.buf.extend_from_slice(name.as_wire());
    }

    /// Finds an earlier occurrence of the label sequence `suffix` (wire
    /// format ending in the root label), compared case-insensitively.
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        self.targets
            .iter()
            .copied()
            .find(|&t| self.matches_at(t as usize, suffix))
    }

    fn matches_at(&self, mut at: usize, suffix: &[u8]) -> bool {
        let mut i = 0;
        // Each hop follows a pointer strictly backwards, so this terminates.
        for _ in 0..=128 {
            let Some(&len) = self.buf.get(at) else {
                return false;
            };
            if len & 0xC0 == 0xC0 {
                let Some(&lo) = self.buf.get(at + 1) else {
                    return false;
                };
                at = (((len & 0x3F) as usize) << 8) | lo as usize;
                continue;
            }
            let len = len as usize;
            if suffix.get(i) != Some(&(len as u8)) {
                return false;
            }
            if len == 0 {
                return true;
            }
            let (Some(a), Some(b)) = (
                self.buf.get(at + 1..at + 1 + len),
                suffix.get(i + 1..i + 1 + len),
            ) else {
                return false;
            };
            if !a.eq_ignore_ascii_case(b) {
                return false;
            }
            i += 1 + len;
            at += 1 + len;
        }
        false
    }

    /// Writes one resource record.
    pub fn put_record(&mut self, owner: &Name, ttl: u32, rdata: &Rdata) {
        self.put_name_compressed(owner);
        self.put_u16(rdata.rtype().0);
        self.put_u16(1);
        self.put_u32(ttl);
        let len_at = self.buf.len();
        self.put_u16(0);
        self.put_rdata(rdata);
        let rdlen = self.buf.len() - len_at - 2;
        self.set_u16(len_at, rdlen as u16);
    }

    fn put_rdata(&mut self, rdata: &Rdata) {
        match rdata {
            Rdata::A(a) => self.put_bytes(&a.octets()),
            Rdata::Aaaa(a) => self.put_bytes(&a.octets()),
            Rdata::Ns(n) | Rdata::Cname(n) | Rdata::Ptr(n) => self.put_name_compressed(n),
            Rdata::Dname(n) => self.put_name_plain(n),
            Rdata::Mx {
                preference,
                exchange,
            } => {
                self.put_u16(*preference);
                self.put_name_compressed(exchange);
            }
            Rdata::Soa(s) => {
                self.put_name_compressed(&s.mname);
                self.put_name_compressed(&s.rname);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    self.put_u32(v);
                }
            }
            Rdata::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                self.put_u16(*priority);
                self.put_u16(*weight);
                self.put_u16(*port);
                self.put_name_plain(target);
            }
            Rdata::Other { data, .. } => self.put_bytes(data),
        }
    }

    /// Writes an OPT pseudo-record (RFC 6891 §6.1.2) with no options.
    pub fn put_opt(&mut self, udp_size: u16, ext_rcode: u8, dnssec_ok: bool) {
        self.buf.push(0);
        self.put_u16(Rtype::OPT.0);
        self.put_u16(udp_size);
        let ttl = ((ext_rcode as u32) << 24) | if dnssec_ok { 0x8000 } else { 0 };
        self.put_u32(ttl);
        self.put_u16(0);
    }
}

/// Size of an OPT record without options.
pub const OPT_LEN: usize = 11;

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    #[test]
    fn compresses_owner_against_question_case_insensitively() {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf);
        w.put_bytes(&[0; 12]);
        w.put_bytes(n("WWW.Example.com").as_wire());
        w.register_name_at(12);
        w.put_u32(0x0001_0001);
        w.put_record(
            &n("www.example.com"),
            60,
            &Rdata::Cname(n("mail.example.COM")),
        );
        let b = w.bytes();
        // owner = pointer to the question
        assert_eq!(&b[33..35], &[0xC0, 12]);
        // RDATA: "mail" then a pointer to "Example.com" at 16.
        assert_eq!(&b[45..52], &[4, b'm', b'a', b'i', b'l', 0xC0, 16]);
    }

    #[test]
    fn never_points_at_or_beyond_0x4000() {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf);
        w.put_bytes(&vec![0; 0x4000]);
        w.put_name_compressed(&n("far.example"));
        w.put_name_compressed(&n("far.example"));
        let b = w.bytes();
        // The second copy is written out in full, not as a pointer.
        assert_eq!(b.len(), 0x4000 + 2 * 13);
    }

    #[test]
    fn srv_and_unknown_rdata_are_not_compressed() {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf);
        w.put_bytes(&[0; 12]);
        w.put_name_compressed(&n("t.example"));
        let srv = Rdata::Srv {
            priority: 1,
            weight: 2,
            port: 3,
            target: n("t.example"),
        };
        w.put_record(&n("t.example"), 1, &srv);
        let b = w.bytes().to_vec();
        assert!(b.ends_with(n("t.example").as_wire()));
    }

    #[test]
    fn rollback_forgets_targets() {
        let mut buf = Vec::new();
        let mut w = MessageWriter::new(&mut buf);
        w.put_bytes(&[0; 12]);
        let m = w.mark();
        w.put_name_compressed(&n("a.example"));
        w.rollback(m);
        w.put_name_compressed(&n("b.example"));
        // "example" must not point into the rolled-back bytes.
        assert_eq!(w.len(), 12 + 11);
    }
}
