//! A fast path for the presentation formats most zone files consist of:
//! names, and the RDATA of A, AAAA, NS, CNAME, PTR, MX, TXT, SPF and SOA.
//!
//! It reads only tokens whose meaning is plain: unquoted names of printable
//! ASCII without escapes, decimal numbers, addresses, and character-strings
//! without escapes. It gives the same result as `domain` for every input it
//! accepts (unit tests check each accepted entry against `domain`), and
//! `None` for everything else, which then goes to `domain` and gets its
//! result or its error message.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::lexer::Token;
use crate::wire::name::{MAX_LABEL, MAX_NAME, Name};
use crate::wire::rdata::{Rdata, Rtype, Soa};

/// A byte that stands for itself in an unquoted token: printable ASCII that
/// neither ends a token nor starts an escape.
fn plain(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && !matches!(b, b'"' | b'(' | b')' | b';' | b'\\')
}

/// A domain name token, relative to `origin` unless it ends in a dot. A
/// lone `@` is not handled here (the callers know where it is the origin).
pub(super) fn name(tok: &Token<'_>, origin: &Name) -> Option<Name> {
    if tok.quoted {
        return None;
    }
    let text = tok.text.as_bytes();
    let (body, suffix) = match text.strip_suffix(b".") {
        Some(body) => (body, &[0u8][..]),
        None => (text, origin.as_wire()),
    };
    if body.is_empty() {
        return None;
    }
    let mut wire = Vec::with_capacity(body.len() + 1 + suffix.len());
    for label in body.split(|&b| b == b'.') {
        if label.is_empty() || label.len() > MAX_LABEL || !label.iter().all(|&b| plain(b)) {
            return None;
        }
        wire.push(u8::try_from(label.len()).ok()?);
        wire.extend_from_slice(label);
    }
    wire.extend_from_slice(suffix);
    if wire.len() > MAX_NAME {
        return None;
    }
    Name::from_wire_vec(wire).ok()
}

/// A name in an RDATA name field: a lone `@` is the origin.
fn rdata_name(tok: &Token<'_>, origin: &Name) -> Option<Name> {
    if tok.is("@") {
        return Some(origin.clone());
    }
    name(tok, origin)
}

/// An unsigned decimal number of plain digits that fits `T`.
fn number<T: FromStr>(tok: &Token<'_>) -> Option<T> {
    if tok.quoted || tok.text.is_empty() || !tok.text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tok.text.parse().ok()
}

/// TXT RDATA: one character-string per token.
fn txt(toks: &[Token<'_>]) -> Option<Box<[u8]>> {
    if toks.is_empty() {
        return None;
    }
    let len = toks.iter().map(|t| t.text.len() + 1).sum();
    if len > 65_535 {
        return None;
    }
    let mut data = Vec::with_capacity(len);
    for (i, tok) in toks.iter().enumerate() {
        let text = tok.text.as_bytes();
        let ok = if tok.quoted {
            !text.is_empty()
                && text
                    .iter()
                    .all(|&b| (0x20..=0x7e).contains(&b) && b != b'\\')
        } else {
            text.iter().all(|&b| plain(b))
        };
        // Tokens written without blank space between them are left to
        // `domain`, as is anything longer than a character-string.
        if !ok || (i > 0 && !tok.spaced) || text.len() > 255 {
            return None;
        }
        data.push(u8::try_from(text.len()).ok()?);
        data.extend_from_slice(text);
    }
    Some(data.into_boxed_slice())
}

/// The RDATA of `rtype` from its tokens, if every token is plain.
pub(super) fn rdata(rtype: Rtype, toks: &[Token<'_>], origin: &Name) -> Option<Rdata> {
    let one = || match toks {
        [tok] if !tok.quoted => Some(tok),
        _ => None,
    };
    Some(match rtype {
        Rtype::A => Rdata::A(Ipv4Addr::from_str(one()?.text).ok()?),
        Rtype::AAAA => Rdata::Aaaa(Ipv6Addr::from_str(one()?.text).ok()?),
        Rtype::NS => Rdata::Ns(rdata_name(one()?, origin)?),
        Rtype::CNAME => Rdata::Cname(rdata_name(one()?, origin)?),
        Rtype::PTR => Rdata::Ptr(rdata_name(one()?, origin)?),
        Rtype::MX => match toks {
            [preference, exchange] => Rdata::Mx {
                preference: number(preference)?,
                exchange: rdata_name(exchange, origin)?,
            },
            _ => return None,
        },
        Rtype::TXT | Rtype::SPF => Rdata::Other {
            rtype,
            data: txt(toks)?,
        },
        Rtype::SOA => match toks {
            [mname, rname, serial, refresh, retry, expire, minimum] => Rdata::Soa(Box::new(Soa {
                mname: rdata_name(mname, origin)?,
                rname: rdata_name(rname, origin)?,
                serial: number(serial)?,
                refresh: number(refresh)?,
                retry: number(retry)?,
                expire: number(expire)?,
                minimum: number(minimum)?,
            })),
            _ => return None,
        },
        _ => return None,
    })
}
