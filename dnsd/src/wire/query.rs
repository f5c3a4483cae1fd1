//! Parsing queries: untrusted bytes in, a checked [`Query`] or the reason
//! it must be refused out (RFC 1035 §4.1, RFC 6891 §6).

use super::name::{MAX_NAME, Name};
use super::rdata::Rtype;

/// DNS header flags (RFC 1035 §4.1.1).
pub mod flags {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const OPCODE_MASK: u16 = 0x7800;
    pub const OPCODE_SHIFT: u16 = 11;
}

/// Response codes (RFC 1035 §4.1.1, RFC 6891 §9).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    /// Extended RCODE 16: only in the OPT record (RFC 6891 §9).
    pub const BADVERS: u16 = 16;
}

/// Class IN.
pub const CLASS_IN: u16 = 1;
/// QCLASS ANY (RFC 1035 §3.2.5).
pub const CLASS_ANY: u16 = 255;
/// EDNS option COOKIE (RFC 7873 §4).
pub const OPT_COOKIE: u16 = 10;

/// The header fields a response copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(msg: &[u8]) -> Option<Header> {
        let b = msg.get(..12)?;
        let w = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Some(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags & flags::OPCODE_MASK) >> flags::OPCODE_SHIFT) as u8
    }
    pub fn is_response(&self) -> bool {
        self.flags & flags::QR != 0
    }
}

/// The question (RFC 1035 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// As the client wrote it; its case is echoed (0x20, checklist 1).
    pub qname: Name,
    pub qtype: Rtype,
    pub qclass: u16,
}

/// The EDNS(0) pseudo-record of a query (RFC 6891 §6.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

/// A query that parsed: what the engine needs to answer it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub header: Header,
    pub question: Question,
    /// Byte length of the question section, for echoing it verbatim.
    pub question_len: usize,
    pub edns: Option<Edns>,
}

/// Why a message is not an answerable query. Each variant decides the
/// response: none, or a bare error with what could be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// No response at all: too short for a header, or QR=1 (checklist 3, 8).
    Drop,
    /// An error response (FORMERR, NOTIMP, BADVERS…) built from these parts.
    Error {
        header: Header,
        rcode: u16,
        question: Option<(Question, usize)>,
        edns: Option<Edns>,
    },
}

/// Parses a query message. Never panics, whatever the bytes.
pub fn parse(msg: &[u8]) -> Result<Query, Rejection> {
    let header = Header::parse(msg).ok_or(Rejection::Drop)?;
    if header.is_response() {
        return Err(Rejection::Drop);
    }
    let err =
        |rcode: u16, question: Option<(Question, usize)>, edns: Option<Edns>| Rejection::Error {
            header,
            rcode,
            question,
            edns,
        };

    // One question at most (RFC 9619); parse it before judging the opcode
    // so that NOTIMP can echo it.
    let mut pos = 12;
    let question = if header.qdcount >= 1 {
        match parse_question(msg, pos) {
            Some((q, end)) => {
                let len = end - pos;
                pos = end;
                Some((q, len))
            }
            None => return Err(err(rcode::FORMERR, None, None)),
        }
    } else {
        None
    };
    if header.opcode() != 0 {
        // Checklist 4: NOTIMP, opcode echoed, AA=0.
        return Err(err(rcode::NOTIMP, question, None));
    }
    if header.qdcount != 1 {
        // Checklist 5, 6 (QDCOUNT 0 with a COOKIE is for later, item 73).
        // Echo the OPT if one can be found (checklist 43): skip the other
        // questions, then look through the records.
        let mut end = Some(pos);
        for _ in 1..header.qdcount {
            end = end.and_then(|p| skip_name(msg, p)).map(|p| p + 4);
        }
        let edns = end.and_then(|p| scan_records(msg, p, &header).ok().flatten());
        return Err(err(rcode::FORMERR, question, edns));
    }
    let (q, qlen) = question.ok_or(Rejection::Drop)?;

    let edns = match scan_records(msg, pos, &header) {
        Ok(edns) => edns,
        Err(Malformed(edns)) => return Err(err(rcode::FORMERR, Some((q, qlen)), edns)),
    };
    if let Some(e) = edns
        && e.version != 0
    {
        // RFC 6891 §6.1.3: BADVERS, answered with version 0.
        return Err(err(rcode::BADVERS, Some((q, qlen)), edns));
    }
    Ok(Query {
        header,
        question: q,
        question_len: qlen,
        edns,
    })
}

/// Reads a name that must not be compressed (the query name: a pointer
/// there could only point forward or into the header).
fn parse_question(msg: &[u8], start: usize) -> Option<(Question, usize)> {
    let mut pos = start;
    loop {
        let len = *msg.get(pos)? as usize;
        if len & 0xC0 != 0 {
            return None;
        }
        pos += 1 + len;
        if pos - start > MAX_NAME {
            return None;
        }
        if len == 0 {
            break;
        }
    }
    let qname = Name::from_wire(msg.get(start..pos)?).ok()?;
    let tail = msg.get(pos..pos + 4)?;
    let qtype = Rtype(u16::from_be_bytes([tail[0], tail[1]]));
    let qclass = u16::from_be_bytes([tail[2], tail[3]]);
    Some((
        Question {
            qname,
            qtype,
            qclass,
        },
        pos + 4,
    ))
}

/// The records are malformed (checklist 8), or the OPT is (two of them,
/// or bad options: checklist 38, 43); carries the OPT if one was read, so
/// that the FORMERR can include one.
struct Malformed(Option<Edns>);

/// Skips a possibly compressed name, validating pointers: they must point
/// backwards (so no loops are possible) and labels must be plain.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    let mut total = 0usize;
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xC0 {
            0x00 => {
                total += 1 + len;
                if total > MAX_NAME {
                    return None;
                }
                pos += 1 + len;
                if len == 0 {
                    return Some(pos);
                }
                msg.get(pos - 1)?;
            }
            0xC0 => {
                let target = ((len & 0x3F) << 8) | *msg.get(pos + 1)? as usize;
                if target >= pos {
                    return None;
                }
                validate_pointed_name(msg, target, pos, total)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

/// Follows a compressed name from `pos`, every pointer strictly backwards.
fn validate_pointed_name(
    msg: &[u8],
    mut pos: usize,
    mut limit: usize,
    mut total: usize,
) -> Option<()> {
    loop {
        let len = *msg.get(pos)? as usize;
        match len & 0xC0 {
            0x00 => {
                total += 1 + len;
                if total > MAX_NAME || pos + 1 + len > limit {
                    return None;
                }
                if len == 0 {
                    return Some(());
                }
                pos += 1 + len;
            }
            0xC0 => {
                let target = ((len & 0x3F) << 8) | *msg.get(pos + 1)? as usize;
                if target >= pos {
                    return None;
                }
                limit = pos;
                pos = target;
            }
            _ => return None,
        }
    }
}

/// Walks answer, authority and additional records; returns the OPT.
/// Bytes after the last record make the message malformed (checklist 8).
fn scan_records(msg: &[u8], mut pos: usize, header: &Header) -> Result<Option<Edns>, Malformed> {
    let before_additional = header.ancount as usize + header.nscount as usize;
    let total = before_additional + header.arcount as usize;
    let mut edns: Option<Edns> = None;
    let mut bad_opt = false;
    for i in 0..total {
        let owner_start = pos;
        pos = skip_name(msg, pos).ok_or(Malformed(edns))?;
        let fixed = msg.get(pos..pos + 10).ok_or(Malformed(edns))?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let rdlen = u16::from_be_bytes([fixed[8], fixed[9]]) as usize;
        let rdata = msg.get(pos + 10..pos + 10 + rdlen).ok_or(Malformed(edns))?;
        pos += 10 + rdlen;
        if rtype != Rtype::OPT.0 {
            continue;
        }
        // RFC 6891 §6.1.1: one OPT, root owner, additional section only.
        let this = Edns {
            udp_size: class,
            version: (ttl >> 16) as u8,
            dnssec_ok: ttl & 0x8000 != 0,
        };
        if i < before_additional || msg[owner_start] != 0 || edns.is_some() || !options_ok(rdata) {
            bad_opt = true;
        }
        if edns.is_none() {
            edns = Some(this);
        }
    }
    if bad_opt || pos != msg.len() {
        return Err(Malformed(edns));
    }
    Ok(edns)
}

/// Options must fill RDATA exactly; a COOKIE is 8 or 16–40 bytes (RFC 7873 §4).
fn options_ok(mut rdata: &[u8]) -> bool {
    while !rdata.is_empty() {
        let Some(h) = rdata.get(..4) else {
            return false;
        };
        let code = u16::from_be_bytes([h[0], h[1]]);
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        if rdata.len() < 4 + len {
            return false;
        }
        if code == OPT_COOKIE && !(len == 8 || (16..=40).contains(&len)) {
            return false;
        }
        rdata = &rdata[4 + len..];
    }
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a query: header fields, question, optional OPT.
    pub(crate) fn query(
        id: u16,
        flags: u16,
        qname: &str,
        qtype: u16,
        opt: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, opt.is_some() as u8]);
        m.extend_from_slice(Name::parse_text(qname).unwrap().as_wire());
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        if let Some(o) = opt {
            m.extend_from_slice(o);
        }
        m
    }

    pub(crate) const OPT_DO: &[u8] = &[0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn plain_query() {
        let q = parse(&query(7, 0x0100, "WwW.example.com", 1, None)).unwrap();
        assert_eq!(q.header.id, 7);
        assert_eq!(q.question.qname.to_string(), "WwW.example.com.");
        assert_eq!(q.question_len, 17 + 4);
        assert_eq!(q.edns, None);
    }

    #[test]
    fn edns_and_do() {
        let q = parse(&query(1, 0, "a", 1, Some(OPT_DO))).unwrap();
        assert_eq!(
            q.edns,
            Some(Edns {
                udp_size: 4096,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn drops_responses_and_runts() {
        assert_eq!(parse(&[0; 11]), Err(Rejection::Drop));
        assert_eq!(parse(&query(1, 0x8000, "a", 1, None)), Err(Rejection::Drop));
    }

    fn rcode_of(m: &[u8]) -> u16 {
        match parse(m) {
            Err(Rejection::Error { rcode, .. }) => rcode,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn error_cases() {
        // Checklist 4: opcode 2 (STATUS).
        assert_eq!(rcode_of(&query(1, 2 << 11, "a", 1, None)), rcode::NOTIMP);
        // Checklist 5, 6.
        let mut m = query(1, 0, "a", 1, None);
        m[5] = 2;
        assert_eq!(rcode_of(&m), rcode::FORMERR);
        m[5] = 0;
        assert_eq!(rcode_of(&m[..12]), rcode::FORMERR);
        // QDCOUNT 0 with an OPT: FORMERR that keeps the OPT.
        let mut m = query(1, 0, "a", 1, Some(OPT_DO));
        m[5] = 0;
        m.drain(12..12 + 7);
        match parse(&m) {
            Err(Rejection::Error { rcode, edns, .. }) => {
                assert_eq!(rcode, rcode::FORMERR);
                assert!(edns.is_some_and(|e| e.dnssec_ok));
            }
            other => panic!("{other:?}"),
        }
        // Checklist 37: version 1.
        let v1 = [0, 0, 41, 0x10, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(rcode_of(&query(1, 0, "a", 1, Some(&v1))), rcode::BADVERS);
        // Checklist 38: two OPTs.
        let mut two = query(1, 0, "a", 1, Some(OPT_DO));
        two.extend_from_slice(OPT_DO);
        two[11] = 2;
        assert_eq!(rcode_of(&two), rcode::FORMERR);
        // Checklist 43: option overrunning RDLEN; bad COOKIE length.
        let over = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 4, 0, 100, 0, 9];
        assert_eq!(rcode_of(&query(1, 0, "a", 1, Some(&over))), rcode::FORMERR);
        let cookie = [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 7, 0, 10, 0, 3, 1, 2, 3];
        assert_eq!(
            rcode_of(&query(1, 0, "a", 1, Some(&cookie))),
            rcode::FORMERR
        );
        // Checklist 8: label type 0x40, pointer in the question, truncation.
        let mut bad = query(1, 0, "a", 1, None);
        bad[12] = 0x41;
        assert_eq!(rcode_of(&bad), rcode::FORMERR);
        let mut ptr = query(1, 0, "a", 1, None);
        ptr[12] = 0xC0;
        ptr[13] = 12;
        assert_eq!(rcode_of(&ptr), rcode::FORMERR);
        let m = query(1, 0, "abc", 1, None);
        assert_eq!(rcode_of(&m[..m.len() - 1]), rcode::FORMERR);
    }

    #[test]
    fn compression_loops_in_additional_are_formerr() {
        let mut m = query(1, 0, "a", 1, None);
        m[11] = 1;
        let at = m.len();
        // A record whose owner points to itself.
        m.extend_from_slice(&[0xC0, at as u8, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(rcode_of(&m), rcode::FORMERR);
        // A valid backward pointer is fine.
        let mut ok = query(1, 0, "a", 1, None);
        ok[11] = 1;
        ok.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert!(parse(&ok).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_queries(flips in proptest::collection::vec((0usize..40, proptest::num::u8::ANY), 1..6)) {
            let mut m = query(1, 0, "www.example.com", 1, Some(OPT_DO));
            for (i, b) in flips {
                let n = m.len();
                m[i % n] = b;
            }
            let _ = parse(&m);
        }
    }
}
