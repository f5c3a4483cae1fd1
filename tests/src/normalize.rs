//! A comparable form of a DNS response, parsed with the `domain` crate (not
//! with dnsd's own code), so answers from different servers can be diffed.

use std::fmt;

use domain::base::Message;
use domain::base::name::ParsedName;
use domain::rdata::AllRecordData;

use crate::wire::{self, rtype, type_name};

/// One resource record in canonical text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rr {
    /// Owner exactly as sent (letter case kept), with a trailing dot.
    pub owner: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// RDATA in presentation format (`domain`'s rendering; names keep case).
    pub rdata: String,
}

impl Rr {
    /// The owner, lower-cased.
    pub fn owner_lc(&self) -> String {
        self.owner.to_ascii_lowercase()
    }
}

impl fmt::Display for Rr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let class = match self.class {
            1 => "IN".to_string(),
            3 => "CH".to_string(),
            c => format!("CLASS{c}"),
        };
        write!(
            f,
            "{} {} {} {} {}",
            self.owner,
            self.ttl,
            class,
            type_name(self.rtype),
            self.rdata
        )
    }
}

/// The OPT record of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptInfo {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The flag bits other than DO (must be zero).
    pub z: u16,
    /// Options as (code, data), in order.
    pub options: Vec<(u16, Vec<u8>)>,
    /// Whether the owner is the root.
    pub root_owner: bool,
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: u16,
    pub qr: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: bool,
    pub ad: bool,
    pub cd: bool,
    /// Full RCODE: header RCODE plus the OPT's extended bits.
    pub rcode: u16,
    /// Header RCODE alone.
    pub header_rcode: u8,
    /// QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT as sent.
    pub counts: [u16; 4],
    /// The question section's bytes exactly.
    pub question: Vec<u8>,
    pub answer: Vec<Rr>,
    pub authority: Vec<Rr>,
    /// Additional records without the OPT.
    pub additional: Vec<Rr>,
    pub opt: Option<OptInfo>,
    /// Number of OPT records (must be 0 or 1).
    pub opt_count: usize,
    /// Size of the message in bytes.
    pub len: usize,
}

fn owner_text<O: AsRef<[u8]>>(name: &ParsedName<O>) -> String
where
    ParsedName<O>: fmt::Display,
{
    let s = name.to_string();
    if s.ends_with('.') { s } else { format!("{s}.") }
}

impl Response {
    /// Parses `msg`. Structural errors are reported, not papered over.
    pub fn parse(msg: &[u8]) -> Result<Response, String> {
        let info = wire::walk(msg)?;
        let m = Message::from_octets(msg.to_vec()).map_err(|e| format!("domain: {e}"))?;
        let h = m.header();
        let mut sections: [Vec<Rr>; 3] = Default::default();
        let mut opt = None;
        let mut opt_count = 0;
        let mut section = m.answer().map_err(|e| format!("domain: {e}"))?;
        for (s, out) in sections.iter_mut().enumerate() {
            for rec in &mut section {
                let rec = rec.map_err(|e| format!("domain: {e}"))?;
                let rec = rec
                    .into_any_record::<AllRecordData<_, ParsedName<_>>>()
                    .map_err(|e| format!("domain: RDATA: {e}"))?;
                let t = rec.rtype().to_int();
                if t == rtype::OPT {
                    opt_count += 1;
                    if s != 2 {
                        return Err("OPT outside the additional section".into());
                    }
                    continue;
                }
                let rdata = match rec.data() {
                    AllRecordData::Unknown(u) => u.to_string(),
                    d => d.to_string(),
                };
                out.push(Rr {
                    owner: owner_text(rec.owner()),
                    rtype: t,
                    class: rec.class().to_int(),
                    ttl: rec.ttl().as_secs(),
                    rdata,
                });
            }
            if s < 2 {
                section = section
                    .next_section()
                    .map_err(|e| format!("domain: {e}"))?
                    .ok_or("missing section")?;
            }
        }
        // OPT details from the raw bytes.
        let mut ext = 0u16;
        for rr in &info.additional {
            if rr.rtype == rtype::OPT {
                let flags = (rr.ttl & 0xffff) as u16;
                ext = ((rr.ttl >> 24) as u16) << 4;
                let mut options = Vec::new();
                let mut p = rr.rdata.start;
                while p + 4 <= rr.rdata.end {
                    let code = u16::from_be_bytes([msg[p], msg[p + 1]]);
                    let len = u16::from_be_bytes([msg[p + 2], msg[p + 3]]) as usize;
                    let end = (p + 4 + len).min(rr.rdata.end);
                    options.push((code, msg[p + 4..end].to_vec()));
                    p = p + 4 + len;
                }
                opt = Some(OptInfo {
                    udp_size: rr.class,
                    version: ((rr.ttl >> 16) & 0xff) as u8,
                    dnssec_ok: flags & 0x8000 != 0,
                    z: flags & 0x7fff,
                    options,
                    root_owner: msg[rr.offset] == 0,
                });
            }
        }
        for s in &mut sections {
            s.sort();
        }
        let [answer, authority, additional] = sections;
        let b2 = msg[2];
        let b3 = msg[3];
        Ok(Response {
            id: h.id(),
            qr: h.qr(),
            opcode: (b2 >> 3) & 0xf,
            aa: h.aa(),
            tc: h.tc(),
            rd: h.rd(),
            ra: h.ra(),
            z: b3 & 0x40 != 0,
            ad: h.ad(),
            cd: h.cd(),
            rcode: ext | (b3 & 0xf) as u16,
            header_rcode: b3 & 0xf,
            counts: info.counts,
            question: msg[info.question.clone()].to_vec(),
            answer,
            authority,
            additional,
            opt,
            opt_count,
            len: msg.len(),
        })
    }

    /// Records of `section` with type `t`.
    pub fn of_type(section: &[Rr], t: u16) -> impl Iterator<Item = &Rr> {
        section.iter().filter(move |r| r.rtype == t)
    }

    /// A multi-line rendering for failure messages.
    pub fn render(&self) -> String {
        let mut s = format!(
            "id={} opcode={} rcode={} flags=[{}{}{}{}{}{}{}{}{}] counts={:?} len={}\n",
            self.id,
            self.opcode,
            rcode_name(self.rcode),
            if self.qr { "qr " } else { "" },
            if self.aa { "aa " } else { "" },
            if self.tc { "tc " } else { "" },
            if self.rd { "rd " } else { "" },
            if self.ra { "ra " } else { "" },
            if self.z { "z " } else { "" },
            if self.ad { "ad " } else { "" },
            if self.cd { "cd " } else { "" },
            "",
            self.counts,
            self.len
        );
        s.push_str(&format!("  question: {}\n", question_text(&self.question)));
        if let Some(o) = &self.opt {
            s.push_str(&format!(
                "  OPT: version {} udp {} do={} z={:#x} options={:?} root_owner={}\n",
                o.version, o.udp_size, o.dnssec_ok, o.z, o.options, o.root_owner
            ));
        }
        for (name, sec) in [
            ("answer", &self.answer),
            ("authority", &self.authority),
            ("additional", &self.additional),
        ] {
            for r in sec {
                s.push_str(&format!("  {name}: {r}\n"));
            }
        }
        s
    }
}

/// Renders a raw question section (`name type class`, case kept).
pub fn question_text(q: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = 0;
    while p < q.len() {
        let mut name = String::new();
        while p < q.len() && q[p] != 0 && q[p] & 0xc0 == 0 {
            let l = q[p] as usize;
            for &b in q.get(p + 1..p + 1 + l).unwrap_or(&[]) {
                if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                    name.push(b as char);
                } else {
                    name.push_str(&format!("\\{b:03}"));
                }
            }
            name.push('.');
            p += 1 + l;
        }
        if name.is_empty() {
            name.push('.');
        }
        if p < q.len() && q[p] & 0xc0 == 0xc0 {
            name.push_str("<ptr>");
            p += 1;
        }
        p += 1;
        if p + 4 <= q.len() {
            let t = u16::from_be_bytes([q[p], q[p + 1]]);
            let c = u16::from_be_bytes([q[p + 2], q[p + 3]]);
            out.push(format!("{name} {} CLASS{c}", type_name(t)));
        }
        p += 4;
    }
    out.join(", ")
}

pub fn rcode_name(r: u16) -> String {
    match r {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        9 => "NOTAUTH".into(),
        16 => "BADVERS".into(),
        23 => "BADCOOKIE".into(),
        r => format!("RCODE{r}"),
    }
}

/// A field in which two responses differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// One server answered, the other did not.
    Presence,
    Id,
    Opcode,
    Rcode,
    Qr,
    Aa,
    Tc,
    Rd,
    Ra,
    Z,
    Ad,
    Cd,
    Question,
    Answer,
    Authority,
    Additional,
    Opt,
}

/// The fields in which `a` and `b` differ (empty when identical).
pub fn diff(a: Option<&Response>, b: Option<&Response>) -> Vec<Field> {
    let (a, b) = match (a, b) {
        (None, None) => return vec![],
        (Some(a), Some(b)) => (a, b),
        _ => return vec![Field::Presence],
    };
    let mut out = Vec::new();
    let mut chk = |c: bool, f: Field| {
        if c {
            out.push(f)
        }
    };
    chk(a.id != b.id, Field::Id);
    chk(a.opcode != b.opcode, Field::Opcode);
    chk(a.rcode != b.rcode, Field::Rcode);
    chk(a.qr != b.qr, Field::Qr);
    chk(a.aa != b.aa, Field::Aa);
    chk(a.tc != b.tc, Field::Tc);
    chk(a.rd != b.rd, Field::Rd);
    chk(a.ra != b.ra, Field::Ra);
    chk(a.z != b.z, Field::Z);
    chk(a.ad != b.ad, Field::Ad);
    chk(a.cd != b.cd, Field::Cd);
    chk(a.question != b.question, Field::Question);
    chk(a.answer != b.answer, Field::Answer);
    chk(a.authority != b.authority, Field::Authority);
    chk(a.additional != b.additional, Field::Additional);
    chk(a.opt != b.opt || a.opt_count != b.opt_count, Field::Opt);
    out
}

/// Parses an optional raw response; a structurally broken one is an error.
pub fn parse_opt(raw: Option<&[u8]>) -> Result<Option<Response>, String> {
    raw.map(Response::parse).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Edns, QueryBuilder, rtype};

    /// A response built by hand: www.Example. A, answer A 192.0.2.1 (owner
    /// compressed to the question), OPT with DO and extended RCODE 1.
    fn sample() -> Vec<u8> {
        let mut m = QueryBuilder::new("www.Example", rtype::A)
            .id(7)
            .flags(crate::wire::QR | crate::wire::AA | crate::wire::RD)
            .build();
        m[7] = 1; // ANCOUNT
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 1]);
        let e = Edns {
            ext_rcode: 1,
            dnssec_ok: true,
            ..Edns::default()
        };
        let q = QueryBuilder::empty().edns(e).build();
        m[11] = 1; // ARCOUNT
        m.extend_from_slice(&q[12..]);
        m
    }

    #[test]
    fn parses_header_sections_and_opt() {
        let r = Response::parse(&sample()).expect("parse");
        assert_eq!(r.id, 7);
        assert!(r.qr && r.aa && r.rd && !r.tc && !r.ra);
        assert_eq!(r.rcode, 16, "extended RCODE from the OPT");
        assert_eq!(r.header_rcode, 0);
        assert_eq!(r.answer.len(), 1);
        assert_eq!(
            r.answer[0].owner, "www.Example.",
            "owner keeps the question's case"
        );
        assert_eq!(r.answer[0].rdata, "192.0.2.1");
        assert_eq!(r.answer[0].ttl, 3600);
        let o = r.opt.as_ref().expect("opt");
        assert!(o.dnssec_ok && o.version == 0 && o.udp_size == 1232 && o.root_owner);
        assert!(r.additional.is_empty(), "OPT is not an additional record");
        assert_eq!(question_text(&r.question), "www.Example. A CLASS1");
    }

    #[test]
    fn diff_names_the_differing_fields() {
        let a = Response::parse(&sample()).expect("parse");
        let mut b = a.clone();
        assert!(diff(Some(&a), Some(&b)).is_empty());
        b.aa = false;
        b.answer.clear();
        assert_eq!(diff(Some(&a), Some(&b)), vec![Field::Aa, Field::Answer]);
        assert_eq!(diff(Some(&a), None), vec![Field::Presence]);
    }
}
