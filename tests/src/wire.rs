//! Raw DNS messages: a query builder that can produce any header, count or
//! EDNS variant (including invalid ones), and a structural walker for
//! responses that checks the wire rules of checklist items 75, 76 and 78
//! independently of any DNS library.

/// Record types used by the tests.
pub mod rtype {
    pub const A: u16 = 1;
    pub const NS: u16 = 2;
    pub const CNAME: u16 = 5;
    pub const SOA: u16 = 6;
    pub const PTR: u16 = 12;
    pub const HINFO: u16 = 13;
    pub const MX: u16 = 15;
    pub const TXT: u16 = 16;
    pub const AAAA: u16 = 28;
    pub const SRV: u16 = 33;
    pub const OPT: u16 = 41;
    pub const DS: u16 = 43;
    pub const IXFR: u16 = 251;
    pub const AXFR: u16 = 252;
    pub const ANY: u16 = 255;
}

/// Classes.
pub mod class {
    pub const IN: u16 = 1;
    pub const CH: u16 = 3;
    pub const HS: u16 = 4;
    pub const NONE: u16 = 254;
    pub const ANY: u16 = 255;
}

/// RCODEs (extended ones are > 15).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const BADVERS: u16 = 16;
}

/// The name of a type, for labels and messages.
pub fn type_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        13 => "HINFO".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        41 => "OPT".into(),
        43 => "DS".into(),
        251 => "IXFR".into(),
        252 => "AXFR".into(),
        255 => "ANY".into(),
        t => format!("TYPE{t}"),
    }
}

/// Encodes a presentation-format name (`a.b.c` or `a.b.c.`; `.` is the root;
/// `\DDD` and `\X` escapes allowed) in wire format, keeping letter case.
pub fn name_to_wire(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = name.as_bytes();
    let mut label: Vec<u8> = Vec::new();
    let mut i = 0;
    if name == "." || name.is_empty() {
        return vec![0];
    }
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\\' && i + 1 < bytes.len() {
            if i + 3 < bytes.len() && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
                let v: u32 = std::str::from_utf8(&bytes[i + 1..i + 4])
                    .expect("digits")
                    .parse()
                    .expect("number");
                label.push(v as u8);
                i += 4;
            } else {
                label.push(bytes[i + 1]);
                i += 2;
            }
            continue;
        }
        if c == b'.' {
            assert!(!label.is_empty(), "empty label in {name:?}");
            out.push(label.len() as u8);
            out.append(&mut label);
        } else {
            label.push(c);
        }
        i += 1;
    }
    if !label.is_empty() {
        out.push(label.len() as u8);
        out.append(&mut label);
    }
    out.push(0);
    out
}

/// An OPT pseudo-record for a query.
#[derive(Debug, Clone)]
pub struct Edns {
    /// Owner in wire format (the root, `[0]`, unless testing a bad owner).
    pub owner: Vec<u8>,
    pub udp_size: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The 15 flag bits after DO (must be zero; set to test item 39).
    pub z: u16,
    pub options: Vec<(u16, Vec<u8>)>,
    /// Raw RDATA replacing `options` (for malformed-OPT tests).
    pub raw_rdata: Option<Vec<u8>>,
}

impl Default for Edns {
    fn default() -> Edns {
        Edns {
            owner: vec![0],
            udp_size: 1232,
            ext_rcode: 0,
            version: 0,
            dnssec_ok: false,
            z: 0,
            options: Vec::new(),
            raw_rdata: None,
        }
    }
}

impl Edns {
    pub fn size(udp_size: u16) -> Edns {
        Edns {
            udp_size,
            ..Edns::default()
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.owner);
        out.extend_from_slice(&rtype::OPT.to_be_bytes());
        out.extend_from_slice(&self.udp_size.to_be_bytes());
        out.push(self.ext_rcode);
        out.push(self.version);
        let flags = (if self.dnssec_ok { 0x8000 } else { 0 }) | (self.z & 0x7fff);
        out.extend_from_slice(&flags.to_be_bytes());
        let rdata = match &self.raw_rdata {
            Some(r) => r.clone(),
            None => {
                let mut r = Vec::new();
                for (code, data) in &self.options {
                    r.extend_from_slice(&code.to_be_bytes());
                    r.extend_from_slice(&(data.len() as u16).to_be_bytes());
                    r.extend_from_slice(data);
                }
                r
            }
        };
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
}

/// Builds a raw query. Defaults: ID 0x1234, opcode QUERY, no flags, one
/// question, no EDNS.
#[derive(Debug, Clone)]
pub struct QueryBuilder {
    pub id: u16,
    pub opcode: u8,
    /// Raw flag bits of header bytes 2-3 except opcode and rcode
    /// (QR 0x8000, AA 0x0400, TC 0x0200, RD 0x0100, RA 0x0080, Z 0x0040,
    /// AD 0x0020, CD 0x0010).
    pub flags: u16,
    pub rcode: u8,
    pub questions: Vec<(Vec<u8>, u16, u16)>,
    /// Overrides QDCOUNT (to make the header lie).
    pub qdcount: Option<u16>,
    pub answer: Vec<Vec<u8>>,
    pub authority: Vec<Vec<u8>>,
    pub edns: Vec<Edns>,
    /// Raw bytes appended after everything.
    pub trailing: Vec<u8>,
}

pub const QR: u16 = 0x8000;
pub const AA: u16 = 0x0400;
pub const TC: u16 = 0x0200;
pub const RD: u16 = 0x0100;
pub const RA: u16 = 0x0080;
pub const Z: u16 = 0x0040;
pub const AD: u16 = 0x0020;
pub const CD: u16 = 0x0010;

impl QueryBuilder {
    /// A QUERY for `qname`/`qtype` in class IN.
    pub fn new(qname: &str, qtype: u16) -> QueryBuilder {
        QueryBuilder {
            id: 0x1234,
            opcode: 0,
            flags: 0,
            rcode: 0,
            questions: vec![(name_to_wire(qname), qtype, class::IN)],
            qdcount: None,
            answer: Vec::new(),
            authority: Vec::new(),
            edns: Vec::new(),
            trailing: Vec::new(),
        }
    }

    /// A message without a question.
    pub fn empty() -> QueryBuilder {
        let mut q = QueryBuilder::new(".", rtype::SOA);
        q.questions.clear();
        q
    }

    pub fn id(mut self, id: u16) -> Self {
        self.id = id;
        self
    }
    pub fn opcode(mut self, op: u8) -> Self {
        self.opcode = op;
        self
    }
    pub fn flags(mut self, f: u16) -> Self {
        self.flags |= f;
        self
    }
    pub fn class(mut self, c: u16) -> Self {
        self.questions[0].2 = c;
        self
    }
    pub fn question(mut self, qname: &str, qtype: u16, qclass: u16) -> Self {
        self.questions.push((name_to_wire(qname), qtype, qclass));
        self
    }
    pub fn qdcount(mut self, n: u16) -> Self {
        self.qdcount = Some(n);
        self
    }
    pub fn edns(mut self, e: Edns) -> Self {
        self.edns.push(e);
        self
    }
    pub fn trailing(mut self, b: &[u8]) -> Self {
        self.trailing.extend_from_slice(b);
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&self.id.to_be_bytes());
        let f =
            (self.flags & 0x87f0) | ((self.opcode as u16 & 0xf) << 11) | (self.rcode as u16 & 0xf);
        out.extend_from_slice(&f.to_be_bytes());
        let qd = self.qdcount.unwrap_or(self.questions.len() as u16);
        out.extend_from_slice(&qd.to_be_bytes());
        out.extend_from_slice(&(self.answer.len() as u16).to_be_bytes());
        out.extend_from_slice(&(self.authority.len() as u16).to_be_bytes());
        out.extend_from_slice(&(self.edns.len() as u16).to_be_bytes());
        for (name, t, c) in &self.questions {
            out.extend_from_slice(name);
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&c.to_be_bytes());
        }
        for rr in self.answer.iter().chain(&self.authority) {
            out.extend_from_slice(rr);
        }
        for e in &self.edns {
            e.encode(&mut out);
        }
        out.extend_from_slice(&self.trailing);
        out
    }
}

// ---------------------------------------------------------------------------
// Structural walk of a response

/// One record as located by [`walk`].
#[derive(Debug, Clone)]
pub struct RawRr {
    pub offset: usize,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: std::ops::Range<usize>,
}

/// The layout of a message.
#[derive(Debug, Clone)]
pub struct WireInfo {
    pub counts: [u16; 4],
    /// Byte range of the question section.
    pub question: std::ops::Range<usize>,
    pub answer: Vec<RawRr>,
    pub authority: Vec<RawRr>,
    pub additional: Vec<RawRr>,
    /// Number of compression pointers seen.
    pub pointers: usize,
}

/// Types whose RDATA names may be compressed (RFC 3597 §4: the RFC 1035
/// types only), with the RDATA layout: (names before fixed data, names
/// after a 2-byte preference).
fn rdata_names(t: u16) -> Option<(usize, usize)> {
    match t {
        2 | 5 | 7 | 8 | 9 | 12 => Some((1, 0)),
        6 | 14 => Some((2, 0)),
        15 => Some((0, 1)),
        _ => None,
    }
}

/// Reads a (possibly compressed) name at `pos`; returns the position after
/// it in the original stream. Checks checklist 75: every pointer points
/// backwards (below the pointer itself) and below 0x4000, no loops, label
/// types 0x40/0x80 absent, total length at most 255.
pub fn read_name(msg: &[u8], pos: usize, pointers: &mut usize) -> Result<usize, String> {
    let mut p = pos;
    let mut end = None;
    let mut len = 1usize;
    let mut jumps = 0;
    loop {
        let Some(&b) = msg.get(p) else {
            return Err(format!("name at {pos} runs past the end"));
        };
        match b & 0xc0 {
            0x00 => {
                if b == 0 {
                    let after = p + 1;
                    return Ok(end.unwrap_or(after));
                }
                let l = b as usize;
                if p + 1 + l > msg.len() {
                    return Err(format!("label at {p} runs past the end"));
                }
                len += l + 1;
                if len > 255 {
                    return Err(format!("name at {pos} longer than 255 bytes"));
                }
                p += 1 + l;
            }
            0xc0 => {
                let Some(&b2) = msg.get(p + 1) else {
                    return Err(format!("pointer at {p} runs past the end"));
                };
                let target = (((b & 0x3f) as usize) << 8) | b2 as usize;
                // Checklist 75: backwards, and below 0x4000 (always true for
                // 14 bits, but the target must also lie before the pointer).
                if target >= p {
                    return Err(format!(
                        "compression pointer at offset {p} points forward to {target} (checklist 75)"
                    ));
                }
                if target >= 0x4000 {
                    return Err(format!("compression pointer at {p} to {target} >= 0x4000"));
                }
                *pointers += 1;
                jumps += 1;
                if jumps > 127 {
                    return Err(format!("compression loop in name at {pos}"));
                }
                if end.is_none() {
                    end = Some(p + 2);
                }
                p = target;
            }
            _ => return Err(format!("label type {:#x} at {p}", b & 0xc0)),
        }
    }
}

/// Whether the name at `pos` contains a compression pointer.
fn name_is_compressed(msg: &[u8], mut pos: usize) -> bool {
    while let Some(&b) = msg.get(pos) {
        match b & 0xc0 {
            0 if b == 0 => return false,
            0 => pos += 1 + b as usize,
            _ => return true,
        }
    }
    false
}

/// Walks a whole message, checking that it consists of exactly the header,
/// QDCOUNT questions and ANCOUNT+NSCOUNT+ARCOUNT records and nothing else
/// (checklist 78), every name's compression (75), and that SRV targets are
/// never compressed (76).
pub fn walk(msg: &[u8]) -> Result<WireInfo, String> {
    if msg.len() < 12 {
        return Err(format!(
            "message of {} bytes is shorter than a header",
            msg.len()
        ));
    }
    let c = |i: usize| u16::from_be_bytes([msg[4 + 2 * i], msg[5 + 2 * i]]);
    let counts = [c(0), c(1), c(2), c(3)];
    let mut pointers = 0;
    let mut pos = 12;
    for i in 0..counts[0] {
        pos = read_name(msg, pos, &mut pointers).map_err(|e| format!("question {i}: {e}"))?;
        if pos + 4 > msg.len() {
            return Err(format!("question {i} runs past the end"));
        }
        pos += 4;
    }
    let question = 12..pos;
    let mut sections: [Vec<RawRr>; 3] = Default::default();
    for (s, section) in sections.iter_mut().enumerate() {
        for i in 0..counts[s + 1] {
            let where_ = || format!("{} record {i}", ["answer", "authority", "additional"][s]);
            let offset = pos;
            pos = read_name(msg, pos, &mut pointers).map_err(|e| format!("{}: {e}", where_()))?;
            if pos + 10 > msg.len() {
                return Err(format!(
                    "{}: header runs past the end of the message",
                    where_()
                ));
            }
            let u16at = |p: usize| u16::from_be_bytes([msg[p], msg[p + 1]]);
            let rtype = u16at(pos);
            let class = u16at(pos + 2);
            let ttl = u32::from_be_bytes([msg[pos + 4], msg[pos + 5], msg[pos + 6], msg[pos + 7]]);
            let rdlen = u16at(pos + 8) as usize;
            let start = pos + 10;
            if start + rdlen > msg.len() {
                return Err(format!(
                    "{}: RDATA runs past the end of the message",
                    where_()
                ));
            }
            // Names inside RDATA.
            if let Some((before, after_pref)) = rdata_names(rtype) {
                let mut p = start + if after_pref > 0 { 2 } else { 0 };
                for _ in 0..before.max(after_pref) {
                    p = read_name(msg, p, &mut pointers)
                        .map_err(|e| format!("{} RDATA: {e}", where_()))?;
                }
                if rtype == rtype::SOA {
                    p += 20;
                }
                if p != start + rdlen {
                    return Err(format!(
                        "{}: RDLENGTH {rdlen} does not match its content",
                        where_()
                    ));
                }
            } else if rtype == rtype::SRV {
                if rdlen < 7 {
                    return Err(format!("{}: SRV RDATA too short", where_()));
                }
                if name_is_compressed(msg, start + 6) {
                    return Err(format!(
                        "{}: SRV target is compressed (checklist 76)",
                        where_()
                    ));
                }
                let p = read_name(msg, start + 6, &mut pointers)
                    .map_err(|e| format!("{} SRV: {e}", where_()))?;
                if p != start + rdlen {
                    return Err(format!("{}: SRV RDLENGTH does not match", where_()));
                }
            }
            section.push(RawRr {
                offset,
                rtype,
                class,
                ttl,
                rdata: start..start + rdlen,
            });
            pos = start + rdlen;
        }
    }
    if pos != msg.len() {
        return Err(format!(
            "{} bytes after the last record counted in the header (checklist 78)",
            msg.len() - pos
        ));
    }
    let [answer, authority, additional] = sections;
    Ok(WireInfo {
        counts,
        question,
        answer,
        authority,
        additional,
        pointers,
    })
}

/// Header fields straight from the bytes.
pub fn header_id(msg: &[u8]) -> u16 {
    u16::from_be_bytes([msg[0], msg[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_encode_with_case_and_escapes() {
        assert_eq!(name_to_wire("."), vec![0]);
        assert_eq!(name_to_wire("A.b."), vec![1, b'A', 1, b'b', 0]);
        assert_eq!(
            name_to_wire("a\\.b.c"),
            vec![3, b'a', b'.', b'b', 1, b'c', 0]
        );
        assert_eq!(name_to_wire("\\065x"), vec![2, b'A', b'x', 0]);
    }

    #[test]
    fn query_builder_sets_header_fields() {
        let q = QueryBuilder::new("a.b", rtype::MX)
            .id(0xabcd)
            .opcode(2)
            .flags(RD | CD)
            .edns(Edns::size(4096))
            .build();
        assert_eq!(&q[..4], &[0xab, 0xcd, 0x11, 0x10]);
        assert_eq!(&q[4..12], &[0, 1, 0, 0, 0, 0, 0, 1]);
        let info = walk(&q).expect("walk");
        assert_eq!(info.additional.len(), 1);
        assert_eq!(info.additional[0].class, 4096);
    }

    fn header(qd: u16, an: u16) -> Vec<u8> {
        let mut m = vec![0, 1, 0x80, 0];
        for c in [qd, an, 0, 0] {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m
    }

    #[test]
    fn walk_rejects_forward_pointers_loops_and_bad_counts() {
        // Forward pointer in the question.
        let m = [header(1, 0), vec![0xc0, 18, 0, 1, 0, 1, 0]].concat();
        assert!(walk(&m).unwrap_err().contains("forward"));
        // Self pointer (a loop) is also "not backwards".
        let m = [header(1, 0), vec![0xc0, 12, 0, 1, 0, 1]].concat();
        assert!(walk(&m).is_err());
        // Label type 0x40.
        let m = [header(1, 0), vec![0x40, 0, 1, 0, 1]].concat();
        assert!(walk(&m).unwrap_err().contains("label type"));
        // ANCOUNT=1 without the record, and trailing bytes.
        let q = [header(1, 0), vec![1, b'a', 0, 0, 1, 0, 1]].concat();
        assert!(walk(&q).is_ok());
        let mut m = q.clone();
        m[7] = 1;
        assert!(walk(&m).is_err());
        let m = [q.clone(), vec![0]].concat();
        assert!(walk(&m).unwrap_err().contains("after the last record"));
        // A backward pointer is fine.
        let mut m = q.clone();
        m[7] = 1;
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        let info = walk(&m).expect("valid");
        assert_eq!(info.pointers, 1);
        assert_eq!(info.answer.len(), 1);
    }

    #[test]
    fn walk_rejects_compressed_srv_targets() {
        let q = [header(1, 0), vec![1, b'a', 0, 0, 33, 0, 1]].concat();
        let mut m = q.clone();
        m[7] = 1;
        // SRV 0 0 22 <pointer to "a">
        m.extend_from_slice(&[
            0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 8, 0, 0, 0, 0, 0, 22, 0xc0, 12,
        ]);
        assert!(walk(&m).unwrap_err().contains("SRV target is compressed"));
        let mut m = q;
        m[7] = 1;
        m.extend_from_slice(&[
            0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 60, 0, 9, 0, 0, 0, 0, 0, 22, 1, b'a', 0,
        ]);
        assert!(walk(&m).is_ok());
    }
}
