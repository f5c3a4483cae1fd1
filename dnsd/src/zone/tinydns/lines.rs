//! One handler per line type (tinydns-data.md §2), with tinydns's defaults.
//! Handlers read every field first, so that all bad fields of a line are
//! reported, then push records in tinydns's order.

use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype, Soa};

use super::decode::{self, show};
use super::{Line, TinyOptions};
use crate::zone::source::{LocationDef, TinyAttrs};

/// TTL of `.` and `&` records (NS and glue A).
const TTL_NS: u32 = 259_200;
/// TTL of ordinary records.
const TTL_POSITIVE: u32 = 86_400;
/// TTL of SOA records, and their MINIMUM.
const TTL_NEGATIVE: u32 = 2_560;
const SOA_REFRESH: u32 = 16_384;
const SOA_RETRY: u32 = 2_048;
const SOA_EXPIRE: u32 = 1_048_576;
const SOA_MINIMUM: u32 = 2_560;
/// Longest RDATA (RFC 1035 §3.2.1, RDLENGTH is 16 bits).
const MAX_RDATA: usize = 65_535;
/// tinydns cuts TXT text into character-strings of this many bytes.
const TXT_CHUNK: usize = 127;

/// `.fqdn:ip:x:ttl:timestamp:lo`: SOA (MNAME = the NS name, RNAME =
/// `hostmaster.fqdn`, TTL 2560, or 0 when `ttl` is 0), NS by the x rule, and
/// an A for the server if `ip` is given. The serial is
/// [`TinyOptions::default_serial`] (§8).
pub(super) fn soa_ns(l: &mut Line<'_>, opts: &TinyOptions) {
    let owner = l.name(0, "name");
    let ip = l.ipv4_opt(1);
    let server = l.x_name(2, b"ns", "NS name", owner.as_ref());
    let ttl = l.ttl(3, TTL_NS);
    let attrs = l.attrs(4, 5);
    let (Some(owner), Some(server)) = (owner, server) else {
        return;
    };
    let rname = match owner.prepend(b"hostmaster") {
        Ok(rname) => rname,
        Err(e) => return l.error(format!("SOA RNAME hostmaster.{owner}: {e}")),
    };
    let soa = Soa {
        mname: server.clone(),
        rname,
        serial: opts.default_serial,
        refresh: SOA_REFRESH,
        retry: SOA_RETRY,
        expire: SOA_EXPIRE,
        minimum: SOA_MINIMUM,
    };
    let soa_ttl = if ttl == 0 { 0 } else { TTL_NEGATIVE };
    l.push(owner.clone(), soa_ttl, Rdata::Soa(Box::new(soa)), &attrs);
    l.push(owner, ttl, Rdata::Ns(server.clone()), &attrs);
    if let Some(ip) = ip {
        l.push(server, ttl, Rdata::A(ip), &attrs);
    }
}

/// `&fqdn:ip:x:ttl:timestamp:lo`: NS by the x rule, optional A; TTL 259200.
pub(super) fn ns(l: &mut Line<'_>, _: &TinyOptions) {
    let owner = l.name(0, "name");
    let ip = l.ipv4_opt(1);
    let server = l.x_name(2, b"ns", "NS name", owner.as_ref());
    let ttl = l.ttl(3, TTL_NS);
    let attrs = l.attrs(4, 5);
    let (Some(owner), Some(server)) = (owner, server) else {
        return;
    };
    l.push(owner, ttl, Rdata::Ns(server.clone()), &attrs);
    if let Some(ip) = ip {
        l.push(server, ttl, Rdata::A(ip), &attrs);
    }
}

/// `+fqdn:ip:ttl:timestamp:lo`: A; TTL 86400.
pub(super) fn a(l: &mut Line<'_>, _: &TinyOptions) {
    address(l, false);
}

/// `=fqdn:ip:ttl:timestamp:lo`: A, plus PTR at `d.c.b.a.in-addr.arpa`.
pub(super) fn a_ptr(l: &mut Line<'_>, _: &TinyOptions) {
    address(l, true);
}

fn address(l: &mut Line<'_>, with_ptr: bool) {
    let owner = l.name(0, "name");
    let ip = l.ipv4(1);
    let ttl = l.ttl(2, TTL_POSITIVE);
    let attrs = l.attrs(3, 4);
    let (Some(owner), Some(ip)) = (owner, ip) else {
        return;
    };
    l.push(owner.clone(), ttl, Rdata::A(ip), &attrs);
    if with_ptr {
        match decode::reverse_v4(ip) {
            Some(reverse) => l.push(reverse, ttl, Rdata::Ptr(owner), &attrs),
            None => l.error(format!("cannot build the reverse name of {ip}")),
        }
    }
}

/// `3fqdn:ip:ttl:timestamp:lo` (patched installs): AAAA from 32 hex digits.
pub(super) fn aaaa(l: &mut Line<'_>, _: &TinyOptions) {
    address6(l, false);
}

/// `6fqdn:ip:ttl:timestamp:lo` (patched installs): AAAA plus PTR in
/// `ip6.arpa`.
pub(super) fn aaaa_ptr(l: &mut Line<'_>, _: &TinyOptions) {
    address6(l, true);
}

fn address6(l: &mut Line<'_>, with_ptr: bool) {
    let owner = l.name(0, "name");
    let field = l.field(1);
    let ip = if field.is_empty() {
        l.error("missing IPv6 address");
        None
    } else {
        decode::ipv6_hex(field)
            .map_err(|e| l.error(format!("IPv6 address \"{}\" {e}", show(field))))
            .ok()
    };
    let ttl = l.ttl(2, TTL_POSITIVE);
    let attrs = l.attrs(3, 4);
    let (Some(owner), Some(ip)) = (owner, ip) else {
        return;
    };
    l.push(owner.clone(), ttl, Rdata::Aaaa(ip), &attrs);
    if with_ptr {
        match decode::reverse_v6(ip) {
            Some(reverse) => l.push(reverse, ttl, Rdata::Ptr(owner), &attrs),
            None => l.error(format!("cannot build the reverse name of {ip}")),
        }
    }
}

/// `@fqdn:ip:x:dist:ttl:timestamp:lo`: MX (x rule with `mx`), optional A for
/// the exchanger; distance 0, TTL 86400.
pub(super) fn mx(l: &mut Line<'_>, _: &TinyOptions) {
    let owner = l.name(0, "name");
    let ip = l.ipv4_opt(1);
    let exchange = l.x_name(2, b"mx", "MX exchanger", owner.as_ref());
    let preference = l.u16_or(3, "distance", 0);
    let ttl = l.ttl(4, TTL_POSITIVE);
    let attrs = l.attrs(5, 6);
    let (Some(owner), Some(exchange)) = (owner, exchange) else {
        return;
    };
    let mx = Rdata::Mx {
        preference,
        exchange: exchange.clone(),
    };
    l.push(owner, ttl, mx, &attrs);
    if let Some(ip) = ip {
        l.push(exchange, ttl, Rdata::A(ip), &attrs);
    }
}

/// TXT RDATA from decoded text: character-strings of at most 127 bytes, as
/// tinydns cuts them. Empty text gives empty RDATA (the caller decides).
fn txt_rdata(text: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(text.len() + text.len() / TXT_CHUNK + 1);
    for chunk in text.chunks(TXT_CHUNK) {
        // A chunk is at most TXT_CHUNK (127) bytes.
        data.push(u8::try_from(chunk.len()).unwrap_or(u8::MAX));
        data.extend_from_slice(chunk);
    }
    data
}

/// `'fqdn:text:ttl:timestamp:lo`: TXT cut into 127-byte character-strings;
/// TTL 86400. Empty text is one empty character-string with a warning
/// (tinydns serves a zero-length RDATA, which RFC 1035 §3.3.14 does not
/// allow; §8 "Empty TXT").
pub(super) fn txt(l: &mut Line<'_>, _: &TinyOptions) {
    let owner = l.name(0, "name");
    let field = l.field(1);
    let text = decode::unescape(field)
        .map_err(|e| l.error(format!("TXT text \"{}\": {e}", show(field))))
        .ok();
    let ttl = l.ttl(2, TTL_POSITIVE);
    let attrs = l.attrs(3, 4);
    let (Some(owner), Some(text)) = (owner, text) else {
        return;
    };
    let data = if text.is_empty() {
        l.warn(
            "empty TXT text: serving one empty character-string \
             (tinydns serves a zero-length RDATA)",
        );
        vec![0]
    } else {
        txt_rdata(&text)
    };
    if data.len() > MAX_RDATA {
        return l.error(format!(
            "TXT RDATA would be {} bytes, more than {MAX_RDATA}",
            data.len()
        ));
    }
    let rdata = Rdata::Other {
        rtype: Rtype::TXT,
        data: data.into(),
    };
    l.push(owner, ttl, rdata, &attrs);
}

/// `^fqdn:target:ttl:timestamp:lo`: PTR; TTL 86400.
pub(super) fn ptr(l: &mut Line<'_>, _: &TinyOptions) {
    if let Some((owner, target, ttl, attrs)) = owner_target(l, "PTR target") {
        l.push(owner, ttl, Rdata::Ptr(target), &attrs);
    }
}

/// `Cfqdn:target:ttl:timestamp:lo`: CNAME; TTL 86400. Whether other data
/// sits at the same name is checked by the compiler (§8 item 7).
pub(super) fn cname(l: &mut Line<'_>, _: &TinyOptions) {
    if let Some((owner, target, ttl, attrs)) = owner_target(l, "CNAME target") {
        l.push(owner, ttl, Rdata::Cname(target), &attrs);
    }
}

fn owner_target(l: &mut Line<'_>, what: &str) -> Option<(Name, Name, u32, TinyAttrs)> {
    let owner = l.name(0, "name");
    let target = l.name(1, what);
    let ttl = l.ttl(2, TTL_POSITIVE);
    let attrs = l.attrs(3, 4);
    Some((owner?, target?, ttl, attrs))
}

/// `Zfqdn:mname:rname:ser:ref:ret:exp:min:ttl:timestamp:lo`: SOA only, RNAME
/// written dotted. Empty fields take the defaults of `.` lines; the serial
/// defaults to [`TinyOptions::default_serial`]; TTL 2560.
pub(super) fn soa(l: &mut Line<'_>, opts: &TinyOptions) {
    let owner = l.name(0, "name");
    let mname = l.name(1, "SOA MNAME");
    let rname = l.name(2, "SOA RNAME");
    let serial = l.u32_or(3, "SOA serial", opts.default_serial);
    let refresh = l.u32_or(4, "SOA refresh", SOA_REFRESH);
    let retry = l.u32_or(5, "SOA retry", SOA_RETRY);
    let expire = l.u32_or(6, "SOA expire", SOA_EXPIRE);
    let minimum = l.u32_or(7, "SOA minimum", SOA_MINIMUM);
    let ttl = l.ttl(8, TTL_NEGATIVE);
    let attrs = l.attrs(9, 10);
    let (Some(owner), Some(mname), Some(rname)) = (owner, mname, rname) else {
        return;
    };
    let soa = Soa {
        mname,
        rname,
        serial,
        refresh,
        retry,
        expire,
        minimum,
    };
    l.push(owner, ttl, Rdata::Soa(Box::new(soa)), &attrs);
}

/// Why tinydns-data refuses a `:` line's type, and the line to use instead
/// (§2: types 0, 2, 5, 6, 12, 15 and 252 are fatal).
fn prohibited(rtype: u16) -> Option<&'static str> {
    Some(match rtype {
        0 => "type 0 is reserved",
        2 => "write NS records as `&` lines (or `.` lines for a zone with its SOA)",
        5 => "write CNAME records as `C` lines",
        6 => "write SOA records as `Z` lines (or `.` lines)",
        12 => "write PTR records as `^` lines (or `=` lines with the A record)",
        15 => "write MX records as `@` lines",
        252 => "AXFR is a query type",
        _ => return None,
    })
}

/// `:fqdn:type:rdata:ttl:timestamp:lo`: one record of a numeric type with
/// escaped raw RDATA; TTL 86400. Unlike tinydns, the RDATA of known types is
/// checked by [`Rdata::from_wire`] (A 4 bytes, AAAA 16, names, …), and meta
/// types (0, 41, 128–255) are refused (§8 item 6).
pub(super) fn generic(l: &mut Line<'_>, _: &TinyOptions) {
    let owner = l.name(0, "name");
    let rtype = if l.field(1).is_empty() {
        l.error("missing record type");
        None
    } else {
        l.number(1, "record type", u16::MAX.into())
            .and_then(|v| u16::try_from(v).ok())
            .map(Rtype)
    };
    // A refused type is reported once, without also checking its RDATA.
    let rtype = rtype.filter(|&rtype| {
        if let Some(instead) = prohibited(rtype.0) {
            l.error(format!(
                "`:` lines with type {} ({rtype}) are prohibited by tinydns-data; {instead}",
                rtype.0
            ));
            false
        } else if rtype.is_meta() {
            l.error(format!(
                "type {} ({rtype}) is a meta or query type and cannot be stored in a \
                 zone (RFC 6895 §3.1)",
                rtype.0
            ));
            false
        } else {
            true
        }
    });
    let field = l.field(2);
    let data = decode::unescape(field)
        .map_err(|e| l.error(format!("RDATA \"{}\": {e}", show(field))))
        .ok();
    let ttl = l.ttl(3, TTL_POSITIVE);
    let attrs = l.attrs(4, 5);
    let (Some(owner), Some(rtype), Some(mut data)) = (owner, rtype, data) else {
        return;
    };
    if data.is_empty() && matches!(rtype, Rtype::TXT | Rtype::SPF) {
        l.warn(format!(
            "empty {rtype} RDATA: serving one empty character-string"
        ));
        data.push(0);
    }
    match Rdata::from_wire(rtype, &data) {
        Ok(rdata) => l.push(owner, ttl, rdata, &attrs),
        Err(e) => l.error(format!("type {} RDATA: {e}", rtype.0)),
    }
}

/// `%lo:ipprefix`: location definition (§4).
pub(super) fn location(l: &mut Line<'_>, _: &TinyOptions) {
    let code_field = l.field(0);
    let code = match decode::location(code_field) {
        Ok(Some(code)) => Some(code),
        Ok(None) => {
            l.error("missing location code");
            None
        }
        Err(e) => {
            l.error(format!("location code \"{}\" {e}", show(code_field)));
            None
        }
    };
    let prefix_field = l.field(1);
    let prefix = decode::ipv4_prefix(prefix_field)
        .map_err(|e| l.error(format!("location prefix \"{}\" {e}", show(prefix_field))))
        .ok();
    if let (Some(code), Some(prefix)) = (code, prefix) {
        let origin = l.origin.clone();
        l.locations.push(LocationDef {
            code,
            prefix,
            origin,
        });
    }
}

/// `Sfqdn:ip:x:port:priority:weight:ttl:timestamp:lo` (patched installs):
/// SRV to `x` as written (no x rule), optional A for the target; priority
/// and weight 0, TTL 86400. The port is required.
pub(super) fn srv(l: &mut Line<'_>, _: &TinyOptions) {
    let owner = l.name(0, "name");
    let ip = l.ipv4_opt(1);
    let target = l.name(2, "SRV target");
    let port = if l.field(3).is_empty() {
        l.error("missing SRV port");
        None
    } else {
        l.number(3, "SRV port", u16::MAX.into())
            .and_then(|v| u16::try_from(v).ok())
    };
    let priority = l.u16_or(4, "SRV priority", 0);
    let weight = l.u16_or(5, "SRV weight", 0);
    let ttl = l.ttl(6, TTL_POSITIVE);
    let attrs = l.attrs(7, 8);
    let (Some(owner), Some(target), Some(port)) = (owner, target, port) else {
        return;
    };
    let srv = Rdata::Srv {
        priority,
        weight,
        port,
        target: target.clone(),
    };
    l.push(owner, ttl, srv, &attrs);
    if let Some(ip) = ip {
        l.push(target, ttl, Rdata::A(ip), &attrs);
    }
}
