//! tinydns `data` files (specification: `tinydns-data.md`).
//!
//! Syntax and defaults follow tinydns-data 1.05 (§1–4) so that imported data
//! serves the same records and TTLs; parsing is strict where tinydns is
//! silently lenient (§8 "Strict parsing", items 1–6). Every problem is a
//! [`Diagnostic`] with its 1-based line number, and parsing goes on after an
//! error so that one run reports all of them. A line with an error yields no
//! records. Zone-level checks (CNAME beside other data, zone membership) are
//! the compiler's job.

mod decode;
mod lines;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype};

use super::source::{Diagnostic, LocationDef, Origin, Parsed, SourceRecord, TinyAttrs};
use decode::show;

/// Settings for reading a `data` file.
#[derive(Clone, Debug)]
pub struct TinyOptions {
    /// SOA serial of `.` lines, computed deterministically by the caller
    /// (tinydns uses the file's mtime; §8 "SOA serial of `.` lines"). Also
    /// the serial of `Z` lines whose serial field is empty.
    pub default_serial: u32,
}

/// Reads and parses a `data` file; see [`parse`].
pub fn parse_file(path: &Path, opts: &TinyOptions) -> Result<Parsed, std::io::Error> {
    let text = std::fs::read(path)?;
    let file: Arc<Path> = Arc::from(path);
    Ok(parse(&text, &file, opts))
}

/// Parses the contents of a `data` file. `text` is raw bytes: tinydns data
/// need not be UTF-8. `file` is only used in [`Origin`]s.
pub fn parse(text: &[u8], file: &Arc<Path>, opts: &TinyOptions) -> Parsed {
    let mut records = Vec::new();
    let (diagnostics, locations) = parse_into(text, file, opts, &mut |r| records.push(r));
    Parsed {
        records,
        locations,
        diagnostics,
    }
}

/// [`parse`], handing each record to `sink` as soon as its line is read
/// instead of collecting them. Returns the diagnostics and the location
/// definitions.
pub(crate) fn parse_into(
    text: &[u8],
    file: &Arc<Path>,
    opts: &TinyOptions,
    sink: &mut dyn FnMut(SourceRecord),
) -> (Vec<Diagnostic>, Vec<LocationDef>) {
    let mut out = Out {
        diagnostics: Vec::new(),
        locations: Vec::new(),
        scratch: Vec::new(),
        sink,
    };
    run(text, file, opts, |_| true, &mut out);
    (out.diagnostics, out.locations)
}

/// The owners of the SOA records of a `data` file, in order of first
/// appearance, each once (letter case as first written): what a full
/// [`parse`] would yield, reading only the `.` and `Z` lines.
pub(crate) fn soa_owners(text: &[u8], file: &Arc<Path>, opts: &TinyOptions) -> Vec<Name> {
    let mut owners = Vec::new();
    let mut seen = HashSet::new();
    let mut sink = |r: SourceRecord| {
        if r.rdata.rtype() == Rtype::SOA && seen.insert(r.owner.clone()) {
            owners.push(r.owner);
        }
    };
    let mut out = Out {
        diagnostics: Vec::new(),
        locations: Vec::new(),
        scratch: Vec::new(),
        sink: &mut sink,
    };
    run(
        text,
        file,
        opts,
        |kind| kind == b'.' || kind == b'Z',
        &mut out,
    );
    owners
}

/// Where the lines' results go.
struct Out<'s> {
    diagnostics: Vec<Diagnostic>,
    locations: Vec<LocationDef>,
    /// Records of the current line, reused from line to line.
    scratch: Vec<SourceRecord>,
    sink: &'s mut dyn FnMut(SourceRecord),
}

/// Parses the lines whose leading byte `wanted` accepts.
fn run(
    text: &[u8],
    file: &Arc<Path>,
    opts: &TinyOptions,
    wanted: impl Fn(u8) -> bool,
    out: &mut Out<'_>,
) {
    for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
        if raw.first().is_some_and(|&kind| wanted(kind)) {
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            parse_line(raw, file, line, opts, out);
        }
    }
}

/// Handler for one line type: reads the fields of a [`Line`] and pushes its
/// records, location definitions and diagnostics.
type Handler = fn(&mut Line<'_>, &TinyOptions);

/// Line types (§2): leading byte, number of fields, handler. `3`, `6` and `S`
/// are the patched-install lines.
const LINE_TYPES: &[(u8, usize, Handler)] = &[
    (b'.', 6, lines::soa_ns),
    (b'&', 6, lines::ns),
    (b'=', 5, lines::a_ptr),
    (b'+', 5, lines::a),
    (b'@', 7, lines::mx),
    (b'\'', 5, lines::txt),
    (b'^', 5, lines::ptr),
    (b'C', 5, lines::cname),
    (b'Z', 11, lines::soa),
    (b':', 6, lines::generic),
    (b'%', 2, lines::location),
    (b'3', 5, lines::aaaa),
    (b'6', 5, lines::aaaa_ptr),
    (b'S', 9, lines::srv),
];

/// The most fields any line type has.
const MAX_FIELDS: usize = 11;

/// Dispatches one line (without its `\n`) on its leading byte (§1, §2).
fn parse_line(raw: &[u8], file: &Arc<Path>, line: u32, opts: &TinyOptions, out: &mut Out<'_>) {
    // tinydns strips trailing spaces and tabs, but not `\r` (§1 "Line ends").
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    let text = raw.get(..end).unwrap_or_default();
    let Some((&kind, rest)) = text.split_first() else {
        return; // blank line
    };
    // Comments and `-` lines are ignored without parsing.
    if kind == b'#' || kind == b'-' {
        return;
    }
    let origin = Origin::new(file, line);
    if text.contains(&b'\r') {
        out.diagnostics.push(Diagnostic::error(
            origin,
            "carriage return (\\r) in line: the file has CRLF line ends; \
             convert it to LF line ends (for example with dos2unix)",
        ));
        return;
    }
    let Some(&(_, count, handler)) = LINE_TYPES.iter().find(|(k, _, _)| *k == kind) else {
        let message = match kind {
            b' ' | b'\t' => {
                "unrecognized leading character: lines must not start with whitespace".to_string()
            }
            b'N' => "N (NAPTR) lines are not supported; write the record as a `:` line \
                     with type 35"
                .to_string(),
            _ => format!(
                "unrecognized leading character '{}'",
                show(std::slice::from_ref(&kind))
            ),
        };
        out.diagnostics.push(Diagnostic::error(origin, message));
        return;
    };
    let mut fields: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
    let mut total = 0;
    for (slot, field) in rest.split(|&b| b == b':').enumerate() {
        if let Some(f) = fields.get_mut(slot) {
            *f = field;
        }
        total += 1;
    }
    let mut l = Line {
        kind,
        fields,
        origin,
        records: std::mem::take(&mut out.scratch),
        locations: Vec::new(),
        diagnostics: Vec::new(),
        failed: false,
    };
    if total > count {
        let extra = total - count;
        l.warn(format!(
            "`{}` lines have {count} fields; {extra} extra field{} ignored",
            char::from(kind),
            if extra == 1 { "" } else { "s" }
        ));
    }
    handler(&mut l, opts);
    out.diagnostics.append(&mut l.diagnostics);
    if l.failed {
        l.records.clear();
    } else {
        for r in l.records.drain(..) {
            (out.sink)(r);
        }
        out.locations.append(&mut l.locations);
    }
    out.scratch = l.records;
}

/// One line being parsed: its fields and what it has produced so far.
/// Accessors report bad fields themselves and return a fallback (`None` or
/// the default); a line with any error contributes no records.
struct Line<'a> {
    kind: u8,
    /// The fields after the leading byte, split on `:` before escapes are
    /// decoded (§1); missing ones are empty, those past [`MAX_FIELDS`] are
    /// dropped.
    fields: [&'a [u8]; MAX_FIELDS],
    origin: Origin,
    records: Vec<SourceRecord>,
    locations: Vec<LocationDef>,
    diagnostics: Vec<Diagnostic>,
    failed: bool,
}

impl<'a> Line<'a> {
    /// Field `i` (0 = the one right after the leading byte); missing
    /// trailing fields are empty (§1 "Records").
    fn field(&self, i: usize) -> &'a [u8] {
        self.fields.get(i).copied().unwrap_or_default()
    }

    fn error(&mut self, message: impl Into<String>) {
        self.failed = true;
        self.diagnostics
            .push(Diagnostic::error(self.origin.clone(), message));
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.origin.clone(), message));
    }

    /// A required name (owner or target), §1 "Names".
    fn name(&mut self, i: usize, what: &str) -> Option<Name> {
        let field = self.field(i);
        if field.is_empty() {
            self.error(format!("missing {what}"));
            return None;
        }
        decode::name(field)
            .map_err(|e| self.error(format!("{what} \"{}\": {e}", show(field))))
            .ok()
    }

    /// The server name of `.`, `&` and `@` lines by the x rule (§2): `x` with
    /// a dot is a name as written; otherwise it is the label `x` (if any)
    /// before `infix` (`ns` or `mx`) and the owner.
    fn x_name(&mut self, i: usize, infix: &[u8], what: &str, owner: Option<&Name>) -> Option<Name> {
        let field = self.field(i);
        if field.contains(&b'.') {
            return self.name(i, what);
        }
        let owner = owner?; // its error is already reported
        let what = || {
            format!(
                "{what} \"{}\" (x rule: x.{}.{owner})",
                show(field),
                show(infix)
            )
        };
        let label = match decode::unescape(field) {
            Ok(label) => label,
            Err(e) => {
                self.error(format!("{}: {e}", what()));
                return None;
            }
        };
        let name = owner.prepend(infix).and_then(|n| {
            if label.is_empty() {
                Ok(n)
            } else {
                n.prepend(&label)
            }
        });
        name.map_err(|e| self.error(format!("{}: {e}", what())))
            .ok()
    }

    /// A decimal field with a maximum; `None` when empty or bad (§8 item 3).
    fn number(&mut self, i: usize, what: &str, max: u64) -> Option<u64> {
        let field = self.field(i);
        match decode::number(field, max) {
            Ok(v) => v,
            Err(e) => {
                let mut message = format!("{what} \"{}\" {e}", show(field));
                if matches!(self.kind, b'\'' | b':') && i > 1 {
                    message.push_str(" (is there a `:` in the text? write it as \\072)");
                }
                self.error(message);
                None
            }
        }
    }

    /// A TTL: at most 2^31 − 1 (RFC 2181 §8); `default` when empty.
    fn ttl(&mut self, i: usize, default: u32) -> u32 {
        self.number(i, "TTL", 0x7fff_ffff)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(default)
    }

    fn u16_or(&mut self, i: usize, what: &str, default: u16) -> u16 {
        self.number(i, what, u16::MAX.into())
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(default)
    }

    fn u32_or(&mut self, i: usize, what: &str, default: u32) -> u32 {
        self.number(i, what, u32::MAX.into())
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(default)
    }

    /// An optional IPv4 address (`.`, `&`, `@`, `S`): `None` when empty or
    /// bad (§8 item 2).
    fn ipv4_opt(&mut self, i: usize) -> Option<Ipv4Addr> {
        let field = self.field(i);
        if field.is_empty() {
            return None;
        }
        decode::ipv4(field)
            .map_err(|e| self.error(format!("IPv4 address \"{}\" {e}", show(field))))
            .ok()
    }

    /// A required IPv4 address (`+`, `=`): tinydns silently drops the line
    /// when it is missing.
    fn ipv4(&mut self, i: usize) -> Option<Ipv4Addr> {
        if self.field(i).is_empty() {
            self.error("missing IPv4 address");
            return None;
        }
        self.ipv4_opt(i)
    }

    /// The timestamp (§3) and location (§4) fields.
    fn attrs(&mut self, timestamp: usize, location: usize) -> TinyAttrs {
        let ts_field = self.field(timestamp);
        let timestamp = decode::timestamp(ts_field)
            .map_err(|e| self.error(format!("timestamp \"{}\" {e}", show(ts_field))))
            .unwrap_or_default();
        let lo_field = self.field(location);
        let location = decode::location(lo_field)
            .map_err(|e| self.error(format!("location code \"{}\" {e}", show(lo_field))))
            .unwrap_or_default();
        TinyAttrs {
            timestamp,
            location,
        }
    }

    fn push(&mut self, owner: Name, ttl: u32, rdata: Rdata, attrs: &TinyAttrs) {
        self.records.push(SourceRecord {
            owner,
            ttl,
            rdata,
            origin: self.origin.clone(),
            tiny: Some(attrs.clone()),
        });
    }
}
