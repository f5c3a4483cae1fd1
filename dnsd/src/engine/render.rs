//! Turning an [`Answer`] (or a rejection) into response bytes: header,
//! echoed question, sections within the size limit, OPT.

use super::lookup::{Answer, Owner, Rr};
use crate::wire::name::Name;
use crate::wire::query::{Edns, Header, Query, flags};
use crate::wire::writer::{MessageWriter, OPT_LEN};

/// Response size limit (RFC 1035 §4.2.1, RFC 6891 §6.2.5, checklist 41).
pub fn size_limit(edns: Option<Edns>, server_udp_size: u16, tcp: bool) -> usize {
    if tcp {
        return 65535;
    }
    match edns {
        None => 512,
        Some(e) => (e.udp_size.max(512)).min(server_udp_size.max(512)) as usize,
    }
}

/// The header flags word of a response: QR, opcode echoed, RD copied;
/// RA, Z, AD, CD clear (checklist 1, 2).
fn response_flags(query: &Header, aa: bool, rcode: u16) -> u16 {
    flags::QR
        | (query.flags & (flags::OPCODE_MASK | flags::RD))
        | if aa { flags::AA } else { 0 }
        | (rcode & 0x000F)
}

/// Writes a full response for a parsed query.
pub fn render(
    query: &Query,
    raw: &[u8],
    ans: &Answer<'_>,
    limit: usize,
    server_udp_size: u16,
    out: &mut Vec<u8>,
) {
    let mut w = MessageWriter::new(out);
    let flags = response_flags(&query.header, ans.authoritative, ans.rcode);
    w.put_u16(query.header.id);
    w.put_u16(flags);
    w.put_bytes(&[0, 1, 0, 0, 0, 0, 0, 0]);
    w.put_bytes(&raw[12..12 + query.question_len]);
    w.register_name_at(12);
    let after_question = w.mark();
    let budget = limit.saturating_sub(if query.edns.is_some() { OPT_LEN } else { 0 });
    let qname = &query.question.qname;

    let mut counts = [0u16; 3];
    let mut truncated = false;
    'sections: for (i, section) in [&ans.answer, &ans.authority].into_iter().enumerate() {
        for rr in section {
            if !put_rrset(&mut w, rr, qname, budget) {
                truncated = true;
                break 'sections;
            }
            counts[i] += rr.rrset.rdatas.len() as u16;
        }
    }
    if !truncated {
        for (j, rr) in ans.additional.iter().enumerate() {
            if put_rrset(&mut w, rr, qname, budget) {
                counts[2] += rr.rrset.rdatas.len() as u16;
            } else if j < ans.required_additional {
                truncated = true;
                break;
            }
            // Optional additional data that does not fit is left out, never
            // a reason for TC (RFC 2181 §9, checklist 24).
        }
    }
    if truncated {
        // Checklist 42: a minimal response whose counts match its contents.
        w.rollback(after_question);
        counts = [0; 3];
        w.set_u16(2, flags | flags::TC);
    }
    w.set_u16(6, counts[0]);
    w.set_u16(8, counts[1]);
    let mut arcount = counts[2];
    if let Some(e) = query.edns {
        w.put_opt(server_udp_size, 0, e.dnssec_ok);
        arcount += 1;
    }
    w.set_u16(10, arcount);
}

/// Writes every record of one RRset, or nothing if it would pass `budget`.
fn put_rrset(w: &mut MessageWriter<'_>, rr: &Rr<'_>, qname: &Name, budget: usize) -> bool {
    let mark = w.mark();
    let owner = match rr.owner {
        Owner::Qname => qname,
        Owner::Name(n) => n,
    };
    for rd in &rr.rrset.rdatas {
        w.put_record(owner, rr.ttl, rd);
        if w.len() > budget {
            w.rollback(mark);
            return false;
        }
    }
    true
}

/// Writes an error response (FORMERR, NOTIMP, REFUSED, BADVERS): AA=0,
/// the question echoed when there was one, an OPT when the query had one.
pub fn render_error(
    header: &Header,
    raw: &[u8],
    rcode: u16,
    question_len: Option<usize>,
    edns: Option<Edns>,
    server_udp_size: u16,
    out: &mut Vec<u8>,
) {
    let mut w = MessageWriter::new(out);
    w.put_u16(header.id);
    w.put_u16(response_flags(header, false, rcode));
    let qd = question_len.is_some() as u16;
    w.put_u16(qd);
    w.put_bytes(&[0, 0, 0, 0]);
    w.put_u16(edns.is_some() as u16);
    if let Some(len) = question_len {
        w.put_bytes(&raw[12..12 + len]);
    }
    if let Some(e) = edns {
        w.put_opt(server_udp_size, (rcode >> 4) as u8, e.dnssec_ok);
    }
}
