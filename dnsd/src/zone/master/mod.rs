//! RFC 1035 master files (zone files).
//!
//! # Who does what
//!
//! The presentation formats of names and record data are parsed by the
//! `domain` crate (NLnet Labs, `zonefile::inplace::Zonefile`): owner and
//! RDATA names with escapes and relative to the origin, every RDATA format it
//! knows (SOA NS A AAAA CNAME DNAME MX TXT SRV PTR CAA NAPTR SSHFP TLSA HTTPS
//! SVCB DS DNSKEY RRSIG NSEC NSEC3 NSEC3PARAM HINFO CDS CDNSKEY ZONEMD RP …),
//! RFC 3597 `\# len hex` for any type, type and class mnemonics. Its wire
//! encoding (`compose_rdata`, uncompressed, case kept) becomes our [`Rdata`]
//! through [`Rdata::from_wire`], which also checks the shape again.
//!
//! Plain tokens of the common types (A AAAA NS CNAME PTR MX TXT SPF SOA, and
//! names without escapes) are read directly by [`fast`], for speed, with
//! the same result as `domain` (checked against it under `cfg(test)`);
//! everything else, and every error, goes through `domain`.
//!
//! Fed a whole file, `Zonefile` fails these requirements, so this module does
//! those parts itself and hands `domain` one entry at a time, rewritten as a
//! single line `. 0 IN TYPEnnn <rdata tokens>`:
//!
//! - Its records carry no position, only its errors do: the entry splitter
//!   (`lexer`) keeps the line of every token.
//! - After an error its scanner is "in an invalid state" and must not be
//!   used again, so one bad line would hide all later ones: entries are cut
//!   by `lexer` and each gets a fresh `Zonefile`.
//! - It cannot tell an explicit TTL from an inherited one, so it cannot
//!   apply the default-TTL rule or warn about a missing `$TTL`; it does not
//!   know TTL units (`1h`, `2d`); it keeps TTLs with the top bit set.
//!   Owner, TTL, class and type are read here.
//! - It accepts classes other than IN.
//! - `$INCLUDE` is only reported back (path and origin) to the caller, who
//!   must read the file, restore the origin afterwards and guard against
//!   loops; that is done here, as is `$ORIGIN` and `$TTL` bookkeeping. Its
//!   `$INCLUDE` file name also keeps the closing quote of a quoted name, so
//!   the name is decoded here with `domain`'s symbol decoder.
//! - A free-standing `@` is the origin only in owner position; in RDATA it
//!   becomes the label `@` (RFC 1035 §5.1 says it denotes the origin
//!   anywhere). `@` is replaced here in the name fields of the types that
//!   have them (see `name_fields`).
//! - An empty label (`a..b`) is not rejected but yields broken wire bytes;
//!   owner names and the name fields of `name_fields` are checked here.
//! - SPF has no presentation format in `domain`: it is read as TXT.

mod fast;
mod lexer;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use domain::base::iana::{Class as DClass, Rtype as DRtype};
use domain::base::name::Name as DName;
use domain::base::rdata::ComposeRecordData;
use domain::base::scan::Symbol;
use domain::zonefile::inplace::{Entry as DEntry, Zonefile};

use self::lexer::{Entry, Lexer, Token};
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype};
use crate::zone::source::{Diagnostic, Origin, Parsed, SourceRecord};

/// How deeply `$INCLUDE`s may nest (the top file is depth 1).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// Largest TTL kept as written (RFC 2181 §8); larger ones become 0.
const MAX_TTL: u32 = 0x7fff_ffff;

/// Reads and parses the master file at `path` for the zone `origin`.
///
/// `default_ttl` applies to records without a TTL as long as the file has
/// given neither `$TTL` nor any explicit TTL (see [`parse`]). An I/O error
/// becomes a diagnostic with line 0.
pub fn parse_file(path: &Path, origin: &Name, default_ttl: u32) -> Parsed {
    let mut records = Vec::new();
    let diagnostics = parse_file_into(path, origin, default_ttl, &mut |r| records.push(r));
    Parsed {
        records,
        locations: Vec::new(),
        diagnostics,
    }
}

/// [`parse_file`], handing each record to `sink` as soon as it is read
/// instead of collecting them. Returns the diagnostics.
pub(crate) fn parse_file_into(
    path: &Path,
    origin: &Name,
    default_ttl: u32,
    sink: &mut dyn FnMut(SourceRecord),
) -> Vec<Diagnostic> {
    let file: Arc<Path> = Arc::from(path);
    let mut loader = Loader::new(default_ttl, canonical(path), sink);
    match read_text(path, &file, &mut loader.diagnostics) {
        Ok(text) => loader.load(&text, &file, origin.clone()),
        Err(e) => loader.diagnostics.push(Diagnostic::error(
            Origin::new(&file, 0),
            format!("cannot read {}: {e}", path.display()),
        )),
    }
    loader.diagnostics
}

/// Parses master-file `text` that was read from `file`, for the zone
/// `origin`. `$INCLUDE` paths that are relative resolve against the
/// directory of `file`.
///
/// TTLs: an explicit TTL wins; else the last `$TTL`; else, as RFC 1035 §5.1
/// and BIND do, the last explicit TTL seen before; else `default_ttl`. The
/// first record that gets its TTL without `$TTL` in effect draws a single
/// warning (RFC 2308 §4 says `$TTL` should be present).
pub fn parse(text: &str, file: &Arc<Path>, origin: &Name, default_ttl: u32) -> Parsed {
    let mut records = Vec::new();
    let mut sink = |r| records.push(r);
    let mut loader = Loader::new(default_ttl, canonical(file), &mut sink);
    loader.load(text, file, origin.clone());
    let diagnostics = loader.diagnostics;
    Parsed {
        records,
        locations: Vec::new(),
        diagnostics,
    }
}

/// Per-parse state; TTL state is shared with included files, as in BIND.
struct Loader<'s> {
    /// Where records go, in source order.
    sink: &'s mut dyn FnMut(SourceRecord),
    diagnostics: Vec<Diagnostic>,
    default_ttl: u32,
    dollar_ttl: Option<u32>,
    last_ttl: Option<u32>,
    warned_no_ttl: bool,
    /// Files being read, outermost first (canonical paths where possible).
    stack: Vec<PathBuf>,
}

/// Per-file state; an included file starts with its own origin and no
/// previous owner, and the including file's are kept unchanged.
struct FileCtx {
    file: Arc<Path>,
    origin: Name,
    /// `origin` in `domain`'s form.
    dorigin: DName<Bytes>,
    last_owner: Option<Name>,
}

impl FileCtx {
    fn new(file: &Arc<Path>, origin: Name) -> FileCtx {
        FileCtx {
            file: file.clone(),
            dorigin: to_dname(&origin),
            origin,
            last_owner: None,
        }
    }

    fn at(&self, line: u32) -> Origin {
        Origin::new(&self.file, line)
    }

    fn set_origin(&mut self, origin: Name) {
        self.dorigin = to_dname(&origin);
        self.origin = origin;
    }
}

fn to_dname(name: &Name) -> DName<Bytes> {
    DName::from_octets(Bytes::copy_from_slice(name.as_wire()))
        .unwrap_or_else(|_| DName::root_bytes())
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads a file as text. Lines that are not UTF-8 are reported and read as
/// empty (non-ASCII bytes must be written as `\DDD`).
fn read_text(
    path: &Path,
    file: &Arc<Path>,
    diags: &mut Vec<Diagnostic>,
) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let bytes = e.into_bytes();
            let mut text = String::with_capacity(bytes.len());
            for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    text.push('\n');
                }
                match std::str::from_utf8(line) {
                    Ok(l) => text.push_str(l),
                    Err(_) => diags.push(Diagnostic::error(
                        Origin::new(file, u32::try_from(i + 1).unwrap_or(u32::MAX)),
                        "line is not valid UTF-8 (write other bytes as \\DDD); line ignored",
                    )),
                }
            }
            Ok(text)
        }
    }
}

/// Where a TTL, class or type token was found.
enum Ctr {
    Ttl(u32),
    Class(DClass),
    Type(DRtype),
}

impl<'s> Loader<'s> {
    fn new(default_ttl: u32, top: PathBuf, sink: &'s mut dyn FnMut(SourceRecord)) -> Loader<'s> {
        Loader {
            sink,
            diagnostics: Vec::new(),
            default_ttl,
            dollar_ttl: None,
            last_ttl: None,
            warned_no_ttl: false,
            stack: vec![top],
        }
    }

    fn error(&mut self, origin: Origin, msg: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(origin, msg));
    }

    fn warning(&mut self, origin: Origin, msg: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(origin, msg));
    }

    fn load(&mut self, text: &str, file: &Arc<Path>, origin: Name) {
        let mut ctx = FileCtx::new(file, origin);
        let mut lexer = Lexer::new(text);
        let mut entry = Entry::default();
        while lexer.next_into(&mut entry) {
            if entry.errors.is_empty() {
                self.entry(&mut ctx, &entry);
                continue;
            }
            for (line, msg) in &entry.errors {
                self.error(ctx.at(*line), msg.clone());
            }
            // Keep the owner so that the following indented lines are not
            // attributed to an earlier name.
            if let Some(first) = entry.tokens.first()
                && !entry.indented
                && !is_directive(first)
                && let Ok(owner) = resolve_name(first, &ctx)
            {
                ctx.last_owner = Some(owner);
            }
        }
    }

    fn entry(&mut self, ctx: &mut FileCtx, entry: &Entry<'_>) {
        match entry.tokens.first() {
            Some(first) if !entry.indented && is_directive(first) => {
                self.directive(ctx, first, &entry.tokens[1..])
            }
            Some(_) => self.record(ctx, entry),
            None => {}
        }
    }

    fn directive(&mut self, ctx: &mut FileCtx, name: &Token<'_>, args: &[Token<'_>]) {
        let at = ctx.at(name.line);
        let upper = name.text.to_ascii_uppercase();
        let arity = |lo: usize, hi: usize| (lo..=hi).contains(&args.len());
        match upper.as_str() {
            "$ORIGIN" => {
                if !arity(1, 1) {
                    return self.error(at, "$ORIGIN takes exactly one domain name");
                }
                match resolve_name(&args[0], ctx) {
                    Ok(origin) => ctx.set_origin(origin),
                    Err(e) => self.error(at, format!("bad $ORIGIN {}: {e}", args[0].display())),
                }
            }
            "$TTL" => {
                if !arity(1, 1) {
                    return self.error(at, "$TTL takes exactly one TTL");
                }
                if let Some(ttl) = self.ttl_value(&args[0], ctx) {
                    self.dollar_ttl = Some(ttl);
                }
            }
            "$INCLUDE" => {
                if !arity(1, 2) {
                    return self.error(at, "$INCLUDE takes a file name and an optional origin");
                }
                self.include(ctx, name.line, &args[0], args.get(1));
            }
            "$GENERATE" => self.error(at, "$GENERATE is not supported"),
            _ => self.error(at, format!("unknown directive {}", name.text)),
        }
    }

    fn include(&mut self, ctx: &FileCtx, line: u32, path: &Token<'_>, origin: Option<&Token<'_>>) {
        let at = ctx.at(line);
        let path = match include_path(path) {
            Ok(p) => p,
            Err(e) => return self.error(at, format!("bad $INCLUDE file name: {e}")),
        };
        let origin = match origin {
            None => ctx.origin.clone(),
            Some(tok) => match resolve_name(tok, ctx) {
                Ok(o) => o,
                Err(e) => {
                    return self.error(at, format!("bad $INCLUDE origin {}: {e}", tok.display()));
                }
            },
        };
        let target = if Path::new(&path).is_absolute() {
            PathBuf::from(&path)
        } else {
            match ctx.file.parent() {
                Some(dir) => dir.join(&path),
                None => PathBuf::from(&path),
            }
        };
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return self.error(
                at,
                format!(
                    "$INCLUDE {}: includes nested more than {MAX_INCLUDE_DEPTH} deep",
                    target.display()
                ),
            );
        }
        let key = canonical(&target);
        if self.stack.contains(&key) {
            return self.error(
                at,
                format!(
                    "$INCLUDE {}: include loop, the file is already being read",
                    target.display()
                ),
            );
        }
        if let Ok(meta) = std::fs::metadata(&target)
            && !meta.is_file()
        {
            return self.error(
                at,
                format!("$INCLUDE {}: not a regular file", target.display()),
            );
        }
        let file: Arc<Path> = Arc::from(target.as_path());
        let text = match read_text(&target, &file, &mut self.diagnostics) {
            Ok(t) => t,
            Err(e) => {
                return self.error(
                    at,
                    format!("$INCLUDE {}: cannot read: {e}", target.display()),
                );
            }
        };
        self.stack.push(key);
        self.load(&text, &file, origin);
        self.stack.pop();
    }

    /// Reads a TTL token (digits, or BIND units such as `1h30m`), applying
    /// RFC 2181 §8; reports and returns `None` if it is not a TTL.
    fn ttl_value(&mut self, tok: &Token<'_>, ctx: &FileCtx) -> Option<u32> {
        let at = ctx.at(tok.line);
        let value = (!tok.quoted).then(|| parse_ttl(tok.text)).flatten();
        match value {
            None => {
                self.error(at, format!("bad TTL {}", tok.display()));
                None
            }
            Some(v) if v > u64::from(u32::MAX) => {
                self.error(at, format!("TTL {} is out of range", tok.text));
                None
            }
            Some(v) if v > u64::from(MAX_TTL) => {
                self.warning(
                    at,
                    format!("TTL {v} has the top bit set, using 0 (RFC 2181 §8)"),
                );
                Some(0)
            }
            Some(v) => u32::try_from(v).ok(),
        }
    }

    fn record(&mut self, ctx: &mut FileCtx, entry: &Entry<'_>) {
        let tokens = &entry.tokens;
        let Some(first) = tokens.first() else { return };
        let line = first.line;
        let at = ctx.at(line);
        let (owner, rest) = if entry.indented {
            match &ctx.last_owner {
                Some(owner) => (owner.clone(), &tokens[..]),
                None => {
                    return self.error(
                        at,
                        "line starts with blank space but there is no previous owner name to repeat",
                    );
                }
            }
        } else {
            match resolve_name(first, ctx) {
                Ok(owner) => {
                    ctx.last_owner = Some(owner.clone());
                    (owner, &tokens[1..])
                }
                Err(e) => {
                    return self.error(at, format!("bad owner name {}: {e}", first.display()));
                }
            }
        };

        // [<TTL>] [<class>] <type> or [<class>] [<TTL>] <type>
        let mut ttl = None;
        let mut class_seen = false;
        let mut found = None;
        for (i, tok) in rest.iter().enumerate() {
            let what = if tok.quoted {
                None
            } else if tok.text.starts_with(|c: char| c.is_ascii_digit()) {
                match self.ttl_value(tok, ctx) {
                    Some(v) => Some(Ctr::Ttl(v)),
                    None => return,
                }
            } else if let Ok(class) = DClass::from_str(tok.text) {
                Some(Ctr::Class(class))
            } else {
                DRtype::from_str(tok.text).ok().map(Ctr::Type)
            };
            match what {
                Some(Ctr::Ttl(v)) if ttl.is_none() => ttl = Some(v),
                Some(Ctr::Class(c)) if !class_seen => {
                    if c != DClass::IN {
                        return self.error(
                            ctx.at(tok.line),
                            format!("class {} is not supported, only IN", tok.text),
                        );
                    }
                    class_seen = true;
                }
                Some(Ctr::Type(t)) => {
                    found = Some((i, t));
                    break;
                }
                Some(Ctr::Ttl(_)) | Some(Ctr::Class(_)) => {
                    return self.error(
                        ctx.at(tok.line),
                        format!("TTL or class given twice at {}", tok.display()),
                    );
                }
                None if tok.quoted => {
                    return self.error(
                        ctx.at(tok.line),
                        format!(
                            "expected a TTL, class or record type, found {}",
                            tok.display()
                        ),
                    );
                }
                None => {
                    return self.error(
                        ctx.at(tok.line),
                        format!("unknown record type {}", tok.display()),
                    );
                }
            }
        }
        let Some((type_idx, dtype)) = found else {
            let last = rest.last().map_or(line, |t| t.line);
            return self.error(ctx.at(last), "record type missing");
        };
        let type_tok = &rest[type_idx];
        let rtype = Rtype(dtype.to_int());
        if rtype.is_meta() {
            return self.error(
                ctx.at(type_tok.line),
                format!(
                    "{} is a meta type and cannot appear in a zone",
                    type_tok.text
                ),
            );
        }

        let ttl = match ttl {
            Some(v) => {
                self.last_ttl = Some(v);
                v
            }
            None => match self.dollar_ttl {
                Some(v) => v,
                None => {
                    let v = self.last_ttl.unwrap_or(self.default_ttl);
                    if !self.warned_no_ttl {
                        self.warned_no_ttl = true;
                        self.warning(
                            at.clone(),
                            format!(
                                "no $TTL before a record without a TTL: using {v} \
                                 (RFC 2308 §4 says the file should start with $TTL)"
                            ),
                        );
                    }
                    v
                }
            },
        };

        let rdata_toks = &rest[type_idx + 1..];
        match rdata(rtype, type_tok, rdata_toks, ctx) {
            Ok(rdata) => (self.sink)(SourceRecord {
                owner,
                ttl,
                rdata,
                origin: at,
                tiny: None,
            }),
            Err((line, msg)) => self.error(ctx.at(line), msg),
        }
    }
}

fn is_directive(tok: &Token<'_>) -> bool {
    !tok.quoted && tok.text.starts_with('$')
}

/// Parses a TTL: decimal seconds, or BIND's units (`1w2d3h4m5s`, any case,
/// each number followed by a unit). `None` if malformed; the value may
/// exceed `u32`.
fn parse_ttl(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 40 {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for b in text.bytes() {
        if b.is_ascii_digit() {
            let n = num.unwrap_or(0);
            num = Some(n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?);
            continue;
        }
        let unit: u64 = match b.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
    }
    if num.is_some() {
        return None;
    }
    Some(total)
}

/// Checks a name token for empty labels (`a..b`, `.a`), which `domain`
/// would turn into broken wire format instead of rejecting.
fn check_labels(text: &str) -> Result<(), String> {
    if text == "." {
        return Ok(());
    }
    let b = text.as_bytes();
    let mut prev_dot = true; // a leading dot is an empty first label
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                prev_dot = false;
                i += 2;
                continue;
            }
            b'.' if prev_dot => return Err("empty label".to_string()),
            b'.' => prev_dot = true,
            _ => prev_dot = false,
        }
        i += 1;
    }
    Ok(())
}

/// Resolves a domain name token against the current origin through
/// `domain` (`$ORIGIN <token>` on a fresh scanner); a lone `@` is the origin.
fn resolve_name(tok: &Token<'_>, ctx: &FileCtx) -> Result<Name, String> {
    if tok.is("@") {
        return Ok(ctx.origin.clone());
    }
    if let Some(name) = fast::name(tok, &ctx.origin) {
        #[cfg(test)]
        assert_eq!(
            resolve_name_domain(tok, ctx).as_ref().map(Name::as_wire),
            Ok(name.as_wire()),
            "fast path differs from domain for {tok:?}"
        );
        return Ok(name);
    }
    resolve_name_domain(tok, ctx)
}

/// [`resolve_name`] through `domain`.
fn resolve_name_domain(tok: &Token<'_>, ctx: &FileCtx) -> Result<Name, String> {
    check_labels(tok.text)?;
    let mut line = String::with_capacity(tok.text.len() + 12);
    line.push_str("$ORIGIN ");
    tok.push_to(&mut line);
    line.push('\n');
    let mut zf = Zonefile::from(line.as_str());
    zf.set_origin(ctx.dorigin.clone());
    match zf.next_entry() {
        Ok(None) => {}
        Ok(Some(_)) => return Err("not a domain name".to_string()),
        Err(e) => return Err(domain_message(&e.to_string()).to_string()),
    }
    let name = zf.origin().map_err(|e| e.to_string())?;
    Name::from_wire(name.as_slice()).map_err(|e| e.to_string())
}

/// Decodes the file name of `$INCLUDE` (escapes) with `domain`'s symbol
/// decoder. (Its `$INCLUDE` parsing keeps the closing quote of a quoted
/// name without escapes, so the entry is not handed to it.)
fn include_path(tok: &Token<'_>) -> Result<String, String> {
    let mut chars = tok.text.chars();
    let mut out = String::with_capacity(tok.text.len());
    while let Some(sym) = Symbol::from_chars(&mut chars).map_err(|e| e.to_string())? {
        out.push(sym.into_char().map_err(|e| e.to_string())?);
    }
    if out.is_empty() {
        return Err("empty file name".to_string());
    }
    Ok(out)
}

/// RDATA fields that hold domain names, by position in the presentation
/// format: a lone `@` there is replaced with the origin and empty labels are
/// rejected before `domain` sees them.
fn name_fields(rtype: Rtype) -> &'static [usize] {
    match rtype.0 {
        // NS CNAME PTR DNAME MB MD MF MG MR
        2 | 5 | 12 | 39 | 7 | 3 | 4 | 8 | 9 => &[0],
        // NSEC: next owner name
        47 => &[0],
        // MX; SVCB and HTTPS: target
        15 | 64 | 65 => &[1],
        // SOA, MINFO, RP
        6 | 14 | 17 => &[0, 1],
        // SRV: target
        33 => &[3],
        // NAPTR: replacement
        35 => &[5],
        // RRSIG: signer's name
        46 => &[7],
        _ => &[],
    }
}

/// Parses RDATA and converts it; errors carry the line of the token they
/// concern. Plain tokens of common types are read by [`fast`], the rest by
/// `domain`.
fn rdata(
    rtype: Rtype,
    type_tok: &Token<'_>,
    toks: &[Token<'_>],
    ctx: &FileCtx,
) -> Result<Rdata, (u32, String)> {
    if let Some(rd) = fast::rdata(rtype, toks, &ctx.origin) {
        #[cfg(test)]
        assert_eq!(
            rdata_domain(rtype, type_tok, toks, ctx).map(|r| format!("{r:?}")),
            Ok(format!("{rd:?}")),
            "fast path differs from domain for {toks:?}"
        );
        return Ok(rd);
    }
    rdata_domain(rtype, type_tok, toks, ctx)
}

/// Parses RDATA through `domain` and converts it; errors carry the line of
/// the token `domain` stopped at.
fn rdata_domain(
    rtype: Rtype,
    type_tok: &Token<'_>,
    toks: &[Token<'_>],
    ctx: &FileCtx,
) -> Result<Rdata, (u32, String)> {
    let label = type_tok.text.to_ascii_uppercase();
    let unknown_form = toks.first().is_some_and(|t| t.is("\\#"));
    let fields = if unknown_form {
        &[][..]
    } else {
        name_fields(rtype)
    };
    // SPF (RFC 7208 §3.1) has TXT's format, which `domain` does not know for it.
    let scan_as = if rtype == Rtype::SPF {
        Rtype::TXT
    } else {
        rtype
    };

    let mut line = format!(". 0 IN TYPE{}", scan_as.0);
    // (offset in `line`, source line) of every token, to place errors.
    let mut marks = vec![(0usize, type_tok.line)];
    for (i, tok) in toks.iter().enumerate() {
        if i == 0 || tok.spaced {
            line.push(' ');
        }
        marks.push((line.len(), tok.line));
        if fields.contains(&i) {
            if tok.is("@") {
                line.push_str(&ctx.origin.to_string());
                continue;
            }
            check_labels(tok.text).map_err(|e| {
                (
                    tok.line,
                    format!("bad {label} RDATA: {e} in {}", tok.display()),
                )
            })?;
        }
        tok.push_to(&mut line);
    }
    line.push('\n');

    let mut zf = Zonefile::from(line.as_str());
    zf.set_origin(ctx.dorigin.clone());
    zf.set_default_class(DClass::IN);
    let record = match zf.next_entry() {
        Ok(Some(DEntry::Record(record))) => record,
        Ok(_) => return Err((type_tok.line, format!("bad {label} RDATA"))),
        Err(e) => {
            let text = e.to_string();
            // `domain` points at or after the end of the token it rejects
            // (often at the start of the next one, or past the line break),
            // so the culprit is the last token starting before that point.
            let pos = error_offset(&text).unwrap_or(usize::MAX);
            let src_line = marks
                .iter()
                .take_while(|(off, _)| *off < pos)
                .last()
                .map_or(type_tok.line, |(_, l)| *l);
            let msg = domain_message(&text);
            let msg = if msg.contains("unknown record type with concrete data") {
                format!(
                    "{label} is not supported in presentation format; \
                     write its RDATA in RFC 3597 form (\\# length hex)"
                )
            } else {
                format!("bad {label} RDATA: {msg}")
            };
            return Err((src_line, msg));
        }
    };
    let mut wire = Vec::new();
    if record.data().compose_rdata(&mut wire).is_err() {
        return Err((type_tok.line, format!("bad {label} RDATA")));
    }
    Rdata::from_wire(rtype, &wire).map_err(|e| (type_tok.line, format!("bad {label} RDATA: {e}")))
}

/// `domain`'s errors print as `line:col: message`; the message part.
fn domain_message(text: &str) -> &str {
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(c), Some(msg))
            if l.bytes().all(|b| b.is_ascii_digit()) && c.bytes().all(|b| b.is_ascii_digit()) =>
        {
            msg.trim_start()
        }
        _ => text,
    }
}

/// The 0-based byte offset in the single line given to `domain` that its
/// error points at; past the end if it points beyond the line break.
fn error_offset(text: &str) -> Option<usize> {
    let mut parts = text.splitn(3, ':');
    let line: usize = parts.next()?.parse().ok()?;
    let col: usize = parts.next()?.parse().ok()?;
    if line > 1 {
        return Some(usize::MAX);
    }
    col.checked_sub(1)
}
