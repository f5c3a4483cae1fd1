//! Decoders for the fields of a tinydns `data` line (tinydns-data.md §1),
//! with the strict checks dnsd applies on top of tinydns (§8 "Strict
//! parsing"). Each returns the reason a field is rejected as a short phrase;
//! the caller ([`super::Line`]) adds which field it was.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::name::{MAX_LABEL, MAX_NAME, Name};

/// Bytes of a field quoted in messages before it is cut short.
const SHOW_MAX: usize = 64;

/// A field for a message: non-printable bytes escaped, long fields cut.
pub(super) fn show(field: &[u8]) -> String {
    let head = field.get(..SHOW_MAX).unwrap_or(field);
    let mut s = head.escape_ascii().to_string();
    if field.len() > SHOW_MAX {
        s.push_str("...");
    }
    s
}

/// The bytes of a field with escapes decoded (§1 "Escapes"): `\` + 1–3 octal
/// digits is that byte, `\` + any other byte is that byte. Yields each byte
/// and whether it was escaped, so that `\.` and `\056` are not label
/// separators in names.
struct Unescape<'a> {
    rest: &'a [u8],
}

fn is_octal(b: u8) -> bool {
    (b'0'..=b'7').contains(&b)
}

impl Iterator for Unescape<'_> {
    type Item = Result<(u8, bool), String>;

    fn next(&mut self) -> Option<Self::Item> {
        let (&c, rest) = self.rest.split_first()?;
        self.rest = rest;
        if c != b'\\' {
            return Some(Ok((c, false)));
        }
        let Some((&d, rest)) = self.rest.split_first() else {
            // tinydns drops a lone trailing backslash.
            return Some(Err("backslash at the end of the field".into()));
        };
        self.rest = rest;
        if !is_octal(d) {
            return Some(Ok((d, true)));
        }
        let mut value = u32::from(d - b'0');
        for _ in 0..2 {
            match self.rest.split_first() {
                Some((&o, rest)) if is_octal(o) => {
                    value = value * 8 + u32::from(o - b'0');
                    self.rest = rest;
                }
                _ => break,
            }
        }
        // tinydns keeps the low 8 bits of \400–\777; that is never intended.
        Some(
            u8::try_from(value)
                .map(|b| (b, true))
                .map_err(|_| format!("escape \\{value:o} is above \\377")),
        )
    }
}

/// Decodes the escapes of TXT text, `:` RDATA or a single label (§1).
pub(super) fn unescape(field: &[u8]) -> Result<Vec<u8>, String> {
    Unescape { rest: field }
        .map(|r| r.map(|(b, _)| b))
        .collect()
}

/// Decodes a non-empty name field (§1 "Names"): escapes decoded, trailing
/// dot optional, `.` alone is the root, letter case kept. Unlike tinydns,
/// empty labels (`a..b`, `.a`), labels over 63 bytes and names over 255
/// bytes are errors (§8 item 4).
pub(super) fn name(field: &[u8]) -> Result<Name, String> {
    if field == b"." {
        return Ok(Name::root());
    }
    if field.contains(&b'\\') {
        name_from(field.len(), Unescape { rest: field })
    } else {
        name_from(field.len(), field.iter().map(|&b| Ok((b, false))))
    }
}

/// [`name`] from the decoded bytes of a field of `len` bytes, each with
/// whether it was escaped.
fn name_from(
    len: usize,
    bytes: impl Iterator<Item = Result<(u8, bool), String>>,
) -> Result<Name, String> {
    // Wire format built in place: each label's length byte is written when
    // the label ends. Escapes only shrink the text, so the capacity is
    // exact for names without them.
    let mut wire: Vec<u8> = Vec::with_capacity(len + 2);
    let mut label_start = 0;
    wire.push(0);
    for item in bytes {
        let (b, escaped) = item?;
        let label_len = wire.len() - label_start - 1;
        if b == b'.' && !escaped {
            if label_len == 0 {
                return Err("empty label (a leading dot or two dots in a row)".into());
            }
            wire[label_start] = u8::try_from(label_len).unwrap_or(u8::MAX);
            label_start = wire.len();
            wire.push(0);
        } else {
            wire.push(b);
            if label_len + 1 > MAX_LABEL {
                return Err(format!(
                    "label \"{}\" is longer than {MAX_LABEL} bytes",
                    show(&wire[label_start + 1..])
                ));
            }
        }
    }
    let last_len = wire.len() - label_start - 1;
    if last_len == 0 {
        // The trailing dot is optional; a name without labels is empty.
        if label_start == 0 {
            return Err("empty name".into());
        }
    } else {
        wire[label_start] = u8::try_from(last_len).unwrap_or(u8::MAX);
        wire.push(0);
    }
    if wire.len() > MAX_NAME {
        return Err(format!(
            "name is {} bytes in wire format, more than {MAX_NAME}",
            wire.len()
        ));
    }
    Name::from_wire_vec(wire).map_err(|e| e.to_string())
}

/// A decimal number field (§1 "Numbers"): `Ok(None)` when empty (the caller
/// applies the default). Unlike tinydns, any non-digit (`300x`, `abc`) and
/// any value above `max` is an error (§8 item 3).
pub(super) fn number(field: &[u8], max: u64) -> Result<Option<u64>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    if !field.iter().all(u8::is_ascii_digit) {
        return Err("is not a decimal number".into());
    }
    let value = field.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    });
    match value {
        Some(v) if v <= max => Ok(Some(v)),
        _ => Err(format!("is above the maximum {max}")),
    }
}

/// Reads a run of decimal digits at the start of `s`: (value saturated at
/// `u32::MAX`, digits read).
fn digits(s: &[u8]) -> (u32, usize) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let value = s.iter().take(n).fold(0u32, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    });
    (value, n)
}

/// A dotted-quad IPv4 address (§1 "IPv4"). Unlike tinydns, octets above 255,
/// text after the address and anything unparsable are errors (§8 item 2).
pub(super) fn ipv4(field: &[u8]) -> Result<Ipv4Addr, String> {
    let mut octets = [0u8; 4];
    let mut rest = field;
    for (i, slot) in octets.iter_mut().enumerate() {
        if i > 0 {
            match rest.split_first() {
                Some((b'.', r)) => rest = r,
                _ => return Err("is not an IPv4 address (expected a.b.c.d)".into()),
            }
        }
        let (value, n) = digits(rest);
        if n == 0 {
            return Err("is not an IPv4 address (expected a.b.c.d)".into());
        }
        *slot = u8::try_from(value).map_err(|_| format!("has octet {value} above 255"))?;
        rest = rest.get(n..).unwrap_or_default();
    }
    if !rest.is_empty() {
        return Err(format!("has text \"{}\" after the address", show(rest)));
    }
    Ok(Ipv4Addr::from(octets))
}

/// An IPv6 address written as exactly 32 hex digits, as the `3` and `6`
/// lines of patched installs use (§2).
pub(super) fn ipv6_hex(field: &[u8]) -> Result<Ipv6Addr, String> {
    if field.len() != 32 || !field.iter().all(u8::is_ascii_hexdigit) {
        return Err("must be exactly 32 hex digits".into());
    }
    let text = std::str::from_utf8(field).map_err(|e| e.to_string())?;
    u128::from_str_radix(text, 16)
        .map(Ipv6Addr::from)
        .map_err(|e| e.to_string())
}

/// The prefix of a `%lo:prefix` line (§4): 0–4 dotted decimal octets, not
/// CIDR. Unlike tinydns, empty octets, octets above 255, more than four
/// octets and other text are errors.
pub(super) fn ipv4_prefix(field: &[u8]) -> Result<Vec<u8>, String> {
    if field.is_empty() {
        return Ok(Vec::new());
    }
    let mut prefix = Vec::with_capacity(4);
    for part in field.split(|&b| b == b'.') {
        let (value, n) = digits(part);
        if n == 0 || n != part.len() {
            return Err("must be 0–4 dotted decimal octets, such as 192.0.2".into());
        }
        let octet = u8::try_from(value).map_err(|_| format!("has octet {value} above 255"))?;
        prefix.push(octet);
    }
    if prefix.len() > 4 {
        return Err("has more than 4 octets".into());
    }
    Ok(prefix)
}

/// A timestamp field (§3): `Ok(None)` when empty. Unlike tinydns (which reads
/// bad digits as 0 and pads short strings), it must be exactly 16 lower-case
/// hex digits (§8 item 5). An all-zero label means "no timestamp" to tinydns,
/// so it also gives `None`.
pub(super) fn timestamp(field: &[u8]) -> Result<Option<u64>, String> {
    if field.is_empty() {
        return Ok(None);
    }
    let hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    if field.len() != 16 || !field.iter().all(hex) {
        return Err("must be exactly 16 lower-case hex digits (an external TAI64 label)".into());
    }
    let text = std::str::from_utf8(field).map_err(|e| e.to_string())?;
    let value = u64::from_str_radix(text, 16).map_err(|e| e.to_string())?;
    Ok((value != 0).then_some(value))
}

/// A location code (§4): 1–2 bytes, padded with a 0 byte; `Ok(None)` when
/// empty. tinydns silently truncates longer codes; dnsd rejects them.
pub(super) fn location(field: &[u8]) -> Result<Option<[u8; 2]>, String> {
    match *field {
        [] => Ok(None),
        [a] => Ok(Some([a, 0])),
        [a, b] => Ok(Some([a, b])),
        _ => Err("is longer than 2 bytes".into()),
    }
}

/// `d.c.b.a.in-addr.arpa` for the PTR of an `=` line (§2).
pub(super) fn reverse_v4(ip: Ipv4Addr) -> Option<Name> {
    let o = ip.octets();
    let labels: Vec<Vec<u8>> = o
        .iter()
        .rev()
        .map(|b| b.to_string().into_bytes())
        .chain([b"in-addr".to_vec(), b"arpa".to_vec()])
        .collect();
    Name::from_labels(labels.iter().map(Vec::as_slice)).ok()
}

/// The nibble name in `ip6.arpa` for the PTR of a `6` line (RFC 3596 §2.5).
pub(super) fn reverse_v6(ip: Ipv6Addr) -> Option<Name> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let nibbles: Vec<[u8; 1]> = ip
        .octets()
        .iter()
        .rev()
        .flat_map(|b| [b & 0x0f, b >> 4])
        .map(|n| [HEX.get(usize::from(n)).copied().unwrap_or(b'0')])
        .collect();
    let suffix: [&[u8]; 2] = [b"ip6", b"arpa"];
    Name::from_labels(nibbles.iter().map(|n| &n[..]).chain(suffix)).ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// [`name`] as it was first written, with a list of labels: the
    /// reference for results and messages.
    fn name_by_labels(field: &[u8]) -> Result<Name, String> {
        if field == b"." {
            return Ok(Name::root());
        }
        let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
        for item in (Unescape { rest: field }) {
            let (b, escaped) = item?;
            let Some(label) = labels.last_mut() else {
                break;
            };
            if b == b'.' && !escaped {
                if label.is_empty() {
                    return Err("empty label (a leading dot or two dots in a row)".into());
                }
                labels.push(Vec::new());
            } else {
                label.push(b);
                if label.len() > MAX_LABEL {
                    return Err(format!(
                        "label \"{}\" is longer than {MAX_LABEL} bytes",
                        show(label)
                    ));
                }
            }
        }
        if labels.len() > 1 && labels.last().is_some_and(Vec::is_empty) {
            labels.pop();
        }
        if labels.iter().any(Vec::is_empty) {
            return Err("empty name".into());
        }
        let wire_len = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        if wire_len > MAX_NAME {
            return Err(format!(
                "name is {wire_len} bytes in wire format, more than {MAX_NAME}"
            ));
        }
        Name::from_labels(labels.iter().map(Vec::as_slice)).map_err(|e| e.to_string())
    }

    fn same(field: &[u8]) -> Result<(), TestCaseError> {
        let got = name(field).map(|n| n.as_wire().to_vec());
        let want = name_by_labels(field).map(|n| n.as_wire().to_vec());
        prop_assert_eq!(got, want, "{}", show(field));
        Ok(())
    }

    #[test]
    fn name_edge_cases_match_the_reference() {
        let long = |n: usize| "a".repeat(n);
        let fields = [
            String::new(),
            ".".into(),
            "..".into(),
            "a.".into(),
            "a..".into(),
            ".a".into(),
            "a..b".into(),
            "a\\.b.c".into(),
            "a\\056b".into(),
            "\\".into(),
            "a\\".into(),
            "\\777".into(),
            long(63),
            long(64),
            format!("{}.{}", long(63), long(64)),
            format!("{0}.{0}.{0}.{1}", long(63), long(61)),
            format!("{0}.{0}.{0}.{1}", long(63), long(62)),
            format!("{0}.{0}.{0}.{1}.", long(63), long(61)),
            vec!["abcdefghi"; 40].join("."),
        ];
        for f in fields {
            same(f.as_bytes()).unwrap();
        }
    }

    proptest! {
        #[test]
        fn name_matches_the_reference(
            field in prop::collection::vec(
                prop::sample::select(b"ab.\\0123456789\xff".to_vec()),
                0..300,
            )
        ) {
            same(&field)?;
        }
    }
}
