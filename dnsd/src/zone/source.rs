//! What a zone source (tinydns `data`, RFC 1035 master file, later dynamic
//! updates) produces: records with the place they came from, and diagnostics.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

use crate::wire::name::Name;
use crate::wire::rdata::Rdata;

/// Where a record or a diagnostic comes from: `file:line`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub file: Arc<Path>,
    /// 1-based; 0 when the problem concerns the whole file.
    pub line: u32,
}

impl Origin {
    pub fn new(file: &Arc<Path>, line: u32) -> Origin {
        Origin {
            file: file.clone(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// A problem found while reading or compiling zone data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub origin: Origin,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(origin: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            origin,
            severity: Severity::Error,
            message: message.into(),
        }
    }
    pub fn warning(origin: Origin, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            origin,
            severity: Severity::Warning,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line: message`, as compilers and `named-checkzone` print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {}", self.origin, self.message),
            Severity::Warning => write!(f, "{}: warning: {}", self.origin, self.message),
        }
    }
}

/// tinydns-only attributes of a record (tinydns-data.md §3, §4).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TinyAttrs {
    /// External TAI64 label (16 hex digits), if the line had one. With TTL 0
    /// it is an end time, otherwise a start time.
    pub timestamp: Option<u64>,
    /// Location code (1–2 bytes) the record is restricted to.
    pub location: Option<[u8; 2]>,
}

/// One record as a source wrote it, before compilation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRecord {
    /// Owner name, letter case as written.
    pub owner: Name,
    pub ttl: u32,
    pub rdata: Rdata,
    pub origin: Origin,
    /// Present only for records from tinydns `data`.
    pub tiny: Option<TinyAttrs>,
}

/// A tinydns location definition `%lo:prefix` (tinydns-data.md §4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationDef {
    pub code: [u8; 2],
    /// 0–4 leading octets of an IPv4 address.
    pub prefix: Vec<u8>,
    pub origin: Origin,
}

impl LocationDef {
    pub fn matches(&self, addr: Ipv4Addr) -> bool {
        addr.octets().starts_with(&self.prefix)
    }
}

/// Everything one source file yields.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub records: Vec<SourceRecord>,
    pub locations: Vec<LocationDef>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error)
    }
}
