//! The text form of journaled changes, for `dnsd journal ZONE` and the
//! update log: one master-file line (RFC 1035 §5.1) per record, `-` for
//! records removed and `+` for records added.

use std::fmt::Write;

use crate::update::{ChangeSet, RRsetChange};
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::snapshot::RRset;

/// Every change of `cs`: a `serial A -> B` line, then the records.
pub fn changeset(cs: &ChangeSet) -> String {
    let mut out = format!("serial {} -> {}\n", cs.serial_before, cs.serial_after);
    for c in &cs.changes {
        change(&mut out, c);
    }
    out
}

/// One line per change without the records: `owner TYPE` and what
/// happened to the RRset, for log lines.
pub fn summary(cs: &ChangeSet) -> String {
    cs.changes
        .iter()
        .filter(|c| c.rtype != Rtype::SOA)
        .map(|c| {
            let what = match (&c.before, &c.after) {
                (None, Some(a)) => format!("added ({} records)", a.rdatas.len()),
                (Some(_), None) => "deleted".to_owned(),
                (_, Some(a)) => format!("replaced ({} records)", a.rdatas.len()),
                (None, None) => "unchanged".to_owned(),
            };
            format!("{} {} {what}", c.owner, c.rtype)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn change(out: &mut String, c: &RRsetChange) {
    // Records both before and after are not shown: they did not change.
    let kept = |set: &RRset, rd: &Rdata, other: Option<&RRset>| {
        other.is_some_and(|o| o.ttl == set.ttl && o.rdatas.iter().any(|x| x.dedup_eq(rd)))
    };
    for (sign, set, other) in [("-", &c.before, &c.after), ("+", &c.after, &c.before)] {
        let Some(set) = set else {
            continue;
        };
        for rd in set.rdatas.iter() {
            if !kept(set, rd, other.as_ref()) {
                let _ = writeln!(out, "{sign} {}", record(&c.owner, set.ttl, rd));
            }
        }
    }
}

/// `owner TTL IN TYPE rdata`.
pub fn record(owner: &Name, ttl: u32, rd: &Rdata) -> String {
    format!("{owner} {ttl} IN {} {}", rd.rtype(), rdata(rd))
}

fn rdata(rd: &Rdata) -> String {
    match rd {
        Rdata::A(a) => a.to_string(),
        Rdata::Aaaa(a) => a.to_string(),
        Rdata::Ns(n) | Rdata::Cname(n) | Rdata::Ptr(n) | Rdata::Dname(n) => n.to_string(),
        Rdata::Mx {
            preference,
            exchange,
        } => format!("{preference} {exchange}"),
        Rdata::Soa(s) => format!(
            "{} {} {} {} {} {} {}",
            s.mname, s.rname, s.serial, s.refresh, s.retry, s.expire, s.minimum
        ),
        Rdata::Srv {
            priority,
            weight,
            port,
            target,
        } => format!("{priority} {weight} {port} {target}"),
        Rdata::Other { rtype, data } if matches!(*rtype, Rtype::TXT | Rtype::SPF) => {
            character_strings(data).unwrap_or_else(|| generic(data))
        }
        Rdata::Other { data, .. } => generic(data),
    }
}

/// TXT strings, quoted and escaped (RFC 1035 §5.1).
fn character_strings(data: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let s = tail.get(..usize::from(len))?;
        rest = &tail[usize::from(len)..];
        let mut q = String::from("\"");
        for &b in s {
            match b {
                b'"' | b'\\' => {
                    q.push('\\');
                    q.push(char::from(b));
                }
                0x20..=0x7e => q.push(char::from(b)),
                _ => q.push_str(&format!("\\{b:03}")),
            }
        }
        q.push('"');
        out.push(q);
    }
    Some(out.join(" "))
}

/// RFC 3597 §5 generic form.
fn generic(data: &[u8]) -> String {
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    format!("\\# {} {hex}", data.len())
}

#[cfg(test)]
mod tests {
    use super::super::codec::tests::sample;
    use super::*;

    #[test]
    fn shows_only_what_changed() {
        let text = changeset(&sample(7));
        assert_eq!(
            text,
            "serial 7 -> 8\n\
             - Subspace.example.info. 300 IN A 198.18.0.1\n\
             + Subspace.example.info. 60 IN A 198.18.0.2\n\
             + Subspace.example.info. 60 IN A 198.18.0.3\n\
             - gone.example.info. 5 IN TXT \"hi\"\n\
             - example.info. 3600 IN SOA ns1.example.info. hostmaster.example.info. 7 7200 900 1209600 300\n\
             + example.info. 3600 IN SOA ns1.example.info. hostmaster.example.info. 8 7200 900 1209600 300\n"
        );
        assert_eq!(
            summary(&sample(7)),
            "Subspace.example.info. A replaced (2 records); gone.example.info. TXT deleted"
        );
    }

    #[test]
    fn odd_rdata_is_escaped() {
        assert_eq!(
            character_strings(b"\x03a\"\x01\x00"),
            Some("\"a\\\"\\001\" \"\"".into())
        );
        assert_eq!(character_strings(b"\x05ab"), None);
        assert_eq!(generic(&[0xde, 0xad]), "\\# 2 dead");
    }
}
