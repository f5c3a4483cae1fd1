//! Domain names in uncompressed wire format (RFC 1035 §3.1).
//!
//! A [`Name`] keeps the letter case it was written with, because RDATA is
//! served as stored (RFC 4343 §4); equality, hashing and ordering ignore ASCII
//! case, as name matching must (RFC 4343 §3).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;
/// Longest name in wire format, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME: usize = 255;

/// Why bytes or text are not a valid name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("empty label inside a name")]
    EmptyLabel,
    #[error("bad escape sequence")]
    BadEscape,
    #[error("name ends before its root label")]
    Truncated,
    #[error("compressed or extended label type")]
    BadLabelType,
}

/// A fully qualified domain name, stored as uncompressed wire format.
#[derive(Clone)]
pub struct Name(Box<[u8]>);

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name(Box::new([0]))
    }

    /// Validates uncompressed wire format that ends exactly at the root label.
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        let len = wire_len(wire)?;
        if len != wire.len() {
            return Err(NameError::Truncated);
        }
        Ok(Name(wire.into()))
    }

    /// Like [`Name::from_wire`], for wire format already in an owned buffer:
    /// no copy when the buffer has no spare capacity.
    pub fn from_wire_vec(wire: Vec<u8>) -> Result<Name, NameError> {
        let len = wire_len(&wire)?;
        if len != wire.len() {
            return Err(NameError::Truncated);
        }
        Ok(Name(wire.into_boxed_slice()))
    }

    /// Builds a name from its labels, leftmost first (root label implied).
    pub fn from_labels<'a, I>(labels: I) -> Result<Name, NameError>
    where
        I: IntoIterator<Item = &'a [u8]>,
    {
        let mut wire = Vec::with_capacity(32);
        for label in labels {
            if label.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if label.len() > MAX_LABEL {
                return Err(NameError::LabelTooLong);
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label);
            if wire.len() + 1 > MAX_NAME {
                return Err(NameError::NameTooLong);
            }
        }
        wire.push(0);
        Ok(Name(wire.into_boxed_slice()))
    }

    /// Parses presentation format (`www.example.com.`, RFC 1035 §5.1):
    /// `\DDD` is a decimal byte, `\X` is X. A trailing dot is optional; the
    /// name is always taken as absolute. `@` is not special here.
    pub fn parse_text(text: &str) -> Result<Name, NameError> {
        let bytes = text.as_bytes();
        if bytes == b"." {
            return Ok(Name::root());
        }
        let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    if labels.last().is_some_and(|l| l.is_empty()) {
                        return Err(NameError::EmptyLabel);
                    }
                    if i + 1 < bytes.len() {
                        labels.push(Vec::new());
                    }
                    i += 1;
                }
                b'\\' => {
                    let rest = &bytes[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                        let v = (rest[0] - b'0') as u32 * 100
                            + (rest[1] - b'0') as u32 * 10
                            + (rest[2] - b'0') as u32;
                        if v > 255 {
                            return Err(NameError::BadEscape);
                        }
                        push_byte(&mut labels, v as u8);
                        i += 4;
                    } else if let Some(&x) = rest.first() {
                        if x.is_ascii_digit() {
                            return Err(NameError::BadEscape);
                        }
                        push_byte(&mut labels, x);
                        i += 2;
                    } else {
                        return Err(NameError::BadEscape);
                    }
                }
                _ => {
                    push_byte(&mut labels, c);
                    i += 1;
                }
            }
        }
        if labels.last().is_some_and(|l| l.is_empty()) {
            return Err(NameError::EmptyLabel);
        }
        Name::from_labels(labels.iter().map(Vec::as_slice))
    }

    /// The uncompressed wire format, letter case as stored.
    pub fn as_wire(&self) -> &[u8] {
        &self.0
    }

    /// Length of the wire format, root label included.
    pub fn wire_len(&self) -> usize {
        self.0.len()
    }

    pub fn is_root(&self) -> bool {
        self.0.len() == 1
    }

    /// Labels from the leftmost to the last before the root.
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.0 }
    }

    /// Number of labels, the root label not counted.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The first label, or `None` for the root.
    pub fn first_label(&self) -> Option<&[u8]> {
        self.labels().next()
    }

    /// True if the leftmost label is exactly `*` (RFC 4592 §2.1.1).
    pub fn is_wildcard(&self) -> bool {
        self.first_label() == Some(b"*")
    }

    /// The name with its leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = 1 + self.0[0] as usize;
        Some(Name(self.0[skip..].into()))
    }

    /// This name with `label` prepended.
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
        if self.0.len() + label.len() + 1 > MAX_NAME {
            return Err(NameError::NameTooLong);
        }
        let mut wire = Vec::with_capacity(self.0.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.0);
        Ok(Name(wire.into_boxed_slice()))
    }

    /// The wildcard `*.self`.
    pub fn wildcard_child(&self) -> Result<Name, NameError> {
        self.prepend(b"*")
    }

    /// Concatenates a relative label sequence (wire format without the root
    /// label) with this name as origin.
    pub fn append_to(relative: &[u8], origin: &Name) -> Result<Name, NameError> {
        let mut wire = Vec::with_capacity(relative.len() + origin.0.len());
        wire.extend_from_slice(relative);
        wire.extend_from_slice(&origin.0);
        Name::from_wire(&wire)
    }

    /// True if `self` equals `ancestor` or lies below it (label-aligned, any case).
    pub fn is_subdomain_of(&self, ancestor: &Name) -> bool {
        let (a, b) = (&self.0[..], &ancestor.0[..]);
        if b.len() > a.len() {
            return false;
        }
        let start = a.len() - b.len();
        if !a[start..].eq_ignore_ascii_case(b) {
            return false;
        }
        // The suffix must start on a label boundary of `self`.
        let mut i = 0;
        while i < start {
            i += 1 + a[i] as usize;
        }
        i == start
    }

    /// Number of labels `self` has below `ancestor`; `None` if not a subdomain.
    pub fn depth_below(&self, ancestor: &Name) -> Option<usize> {
        if !self.is_subdomain_of(ancestor) {
            return None;
        }
        Some(self.label_count() - ancestor.label_count())
    }

    /// A copy with ASCII letters lower-cased (the lookup key form).
    pub fn to_lowercase(&self) -> Name {
        Name(self.0.to_ascii_lowercase().into_boxed_slice())
    }

    /// The lookup key form (see [`Name::to_lowercase`]) written into `buf`,
    /// without allocating.
    pub fn lowercase_into<'b>(&self, buf: &'b mut [u8; MAX_NAME]) -> &'b [u8] {
        for (out, b) in buf.iter_mut().zip(self.0.iter()) {
            *out = b.to_ascii_lowercase();
        }
        &buf[..self.0.len().min(MAX_NAME)]
    }

    /// True if the lookup key form of `self` is exactly `lower`.
    pub fn lowercase_eq(&self, lower: &[u8]) -> bool {
        self.0.len() == lower.len()
            && self
                .0
                .iter()
                .zip(lower)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    }

    /// Ancestors from `self` (inclusive) up to the root (inclusive).
    pub fn ancestors(&self) -> impl Iterator<Item = Name> + '_ {
        let mut next = Some(self.clone());
        std::iter::from_fn(move || {
            let cur = next.take()?;
            next = cur.parent();
            Some(cur)
        })
    }
}

fn push_byte(labels: &mut [Vec<u8>], b: u8) {
    if let Some(l) = labels.last_mut() {
        l.push(b);
    }
}

/// Length of the uncompressed name at the start of `wire`, or why it is invalid.
pub fn wire_len(wire: &[u8]) -> Result<usize, NameError> {
    let mut i = 0;
    loop {
        let len = *wire.get(i).ok_or(NameError::Truncated)? as usize;
        if len & 0xC0 != 0 {
            return Err(NameError::BadLabelType);
        }
        i += 1 + len;
        if i > MAX_NAME {
            return Err(NameError::NameTooLong);
        }
        if len == 0 {
            return Ok(i);
        }
        if i > wire.len() {
            return Err(NameError::Truncated);
        }
    }
}

/// Iterator over a name's labels.
pub struct Labels<'a> {
    wire: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.first()? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.wire[1..1 + len];
        self.wire = &self.wire[1 + len..];
        Some(label)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}
impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; MAX_NAME];
        state.write(self.lowercase_into(&mut buf));
    }
}

impl Ord for Name {
    /// Canonical DNS order (RFC 4034 §6.1): compare label by label from the
    /// root, lower-cased bytes, shorter label first.
    fn cmp(&self, other: &Name) -> Ordering {
        let a: Vec<&[u8]> = self.labels().collect();
        let b: Vec<&[u8]> = other.labels().collect();
        for (x, y) in a.iter().rev().zip(b.iter().rev()) {
            let ord = x
                .iter()
                .map(u8::to_ascii_lowercase)
                .cmp(y.iter().map(u8::to_ascii_lowercase));
            if ord != Ordering::Equal {
                return ord;
            }
        }
        a.len().cmp(&b.len())
    }
}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Name {
    /// Presentation format with a trailing dot; special bytes escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                        write!(f, "\\{}", b as char)?
                    }
                    0x21..=0x7e => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{:03}", b)?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    #[test]
    fn parse_and_display_round_trip() {
        assert_eq!(n("www.Example.com").to_string(), "www.Example.com.");
        assert_eq!(
            n("www.example.com.").as_wire(),
            b"\x03www\x07example\x03com\x00"
        );
        assert_eq!(n(".").as_wire(), b"\x00");
        assert_eq!(n("a\\.b.c").label_count(), 2);
        assert_eq!(n("a\\046b.c").first_label(), Some(&b"a.b"[..]));
        assert_eq!(n("a\\.b.c").to_string(), "a\\.b.c.");
    }

    #[test]
    fn rejects_bad_text() {
        assert_eq!(Name::parse_text("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::parse_text(".a"), Err(NameError::EmptyLabel));
        assert_eq!(
            Name::parse_text(&"x".repeat(64)),
            Err(NameError::LabelTooLong)
        );
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(Name::parse_text(&long), Err(NameError::NameTooLong));
        assert_eq!(Name::parse_text("a\\256"), Err(NameError::BadEscape));
        assert_eq!(Name::parse_text("a\\"), Err(NameError::BadEscape));
    }

    #[test]
    fn longest_valid_name_is_255_bytes() {
        // 3 labels of 63 + one of 61 = 4*1 + 250 + root = 255.
        let l63 = "a".repeat(63);
        let text = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
        assert_eq!(n(&text).wire_len(), 255);
        let text = format!("{l63}.{l63}.{l63}.{}", "b".repeat(62));
        assert_eq!(Name::parse_text(&text), Err(NameError::NameTooLong));
    }

    #[test]
    fn lower_case_forms_without_allocating() {
        let name = n("WWW.Example.com");
        let mut buf = [0u8; MAX_NAME];
        assert_eq!(
            name.lowercase_into(&mut buf),
            n("www.example.com").as_wire()
        );
        assert!(name.lowercase_eq(b"\x03www\x07example\x03com\x00"));
        assert!(!name.lowercase_eq(name.as_wire()));
        assert!(!name.lowercase_eq(b"\x03www\x07example\x03com"));
        let longest = format!("{0}.{0}.{0}.{1}", "A".repeat(63), "b".repeat(61));
        let lower = n(&longest).to_lowercase();
        assert_eq!(n(&longest).lowercase_into(&mut buf), lower.as_wire());
        assert_eq!(Name::from_wire_vec(b"\x01a\x00".to_vec()), Ok(n("a")));
        assert_eq!(
            Name::from_wire_vec(b"\x01a".to_vec()),
            Err(NameError::Truncated)
        );
        assert_eq!(
            Name::from_wire_vec(b"\x01a\x00\x00".to_vec()),
            Err(NameError::Truncated)
        );
    }

    #[test]
    fn case_insensitive_eq_and_hash() {
        use std::collections::HashSet;
        let mut set = HashSet::new();
        set.insert(n("WWW.example.COM"));
        assert!(set.contains(&n("www.EXAMPLE.com")));
        assert_eq!(n("A.b"), n("a.B"));
    }

    #[test]
    fn subdomain_is_label_aligned() {
        assert!(n("www.example.com").is_subdomain_of(&n("EXAMPLE.com")));
        assert!(n("example.com").is_subdomain_of(&n("example.com")));
        assert!(!n("wwwexample.com").is_subdomain_of(&n("example.com")));
        assert!(!n("com").is_subdomain_of(&n("example.com")));
        assert!(n("x").is_subdomain_of(&Name::root()));
        assert_eq!(n("a.b.example.com").depth_below(&n("example.com")), Some(2));
    }

    #[test]
    fn canonical_order() {
        // RFC 4034 §6.1 example order.
        let order = [
            "example",
            "a.example",
            "yljkjljk.a.example",
            "Z.a.example",
            "zABC.a.EXAMPLE",
            "z.example",
            "\\001.z.example",
            "*.z.example",
            "\\200.z.example",
        ];
        for w in order.windows(2) {
            assert!(n(w[0]) < n(w[1]), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn wire_validation() {
        assert!(Name::from_wire(b"\x01a\x00").is_ok());
        assert_eq!(Name::from_wire(b"\x01a"), Err(NameError::Truncated));
        assert_eq!(Name::from_wire(b"\xc0\x0c"), Err(NameError::BadLabelType));
        assert_eq!(Name::from_wire(b"\x01a\x00x"), Err(NameError::Truncated));
        assert!(n("a.b").parent() == Some(n("b")));
        assert_eq!(n("b").wildcard_child().unwrap(), n("*.b"));
        assert!(n("*.b").is_wildcard());
        assert!(!n("a.*.b").is_wildcard());
    }
}
