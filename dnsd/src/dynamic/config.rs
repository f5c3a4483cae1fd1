//! The configuration of dynamic updates: TSIG keys with their update
//! policies (`[[key]]`), and per-zone address lists for unsigned updates.
//! Parsed and checked when the config loads; see `docs/config.md`.

use std::fmt;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::wire::name::Name;
use crate::wire::rdata::Rtype;

/// Default rate limit: updates per minute per key (or per client address
/// for unsigned updates).
pub const DEFAULT_RATE: u32 = 60;
/// Default largest number of update-section records in one UPDATE.
pub const DEFAULT_MAX_CHANGES: usize = 100;

fn default_rate() -> u32 {
    DEFAULT_RATE
}
fn default_max_changes() -> usize {
    DEFAULT_MAX_CHANGES
}

/// One `[[key]]`: a TSIG key (RFC 8945) and what it may change.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Key name as clients send it in the TSIG RR, e.g. "home-router".
    pub name: String,
    /// "hmac-sha256" (default), "hmac-sha512", or "hmac-sha1" for old clients.
    #[serde(default = "default_algorithm")]
    pub algorithm: String,
    /// Base64 secret inline ...
    pub secret: Option<String>,
    /// ... or in a file owned by root (or dnsd's user) and readable by its
    /// owner only (mode 0600 or 0400).
    pub secret_file: Option<PathBuf>,
    /// Updates per minute (token bucket of this size).
    #[serde(default = "default_rate")]
    pub rate: u32,
    /// Most update-section records in one UPDATE.
    #[serde(default = "default_max_changes")]
    pub max_changes: usize,
    /// What the key may change; none means nothing.
    #[serde(default)]
    pub allow: Vec<AllowRule>,
}

fn default_algorithm() -> String {
    "hmac-sha256".into()
}

/// One `[[key.allow]]` rule: names and types within one zone.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    #[serde(deserialize_with = "name_from_text")]
    pub zone: Name,
    /// Exact names, `subtree:NAME` (NAME and below) or `*.NAME` (strictly
    /// below NAME); none means every name of the zone.
    #[serde(default)]
    pub names: Vec<NamePattern>,
    /// Type mnemonics (`TYPE123` for others); none means every type.
    #[serde(default)]
    pub types: Vec<TypeName>,
}

fn name_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
    let s = String::deserialize(d)?;
    Name::parse_text(&s).map_err(|e| serde::de::Error::custom(format!("bad name {s:?}: {e}")))
}

impl AllowRule {
    pub fn allows(&self, owner: &Name, rtype: Rtype) -> bool {
        owner.is_subdomain_of(&self.zone)
            && (self.names.is_empty() || self.names.iter().any(|p| p.matches(owner)))
            && (self.types.is_empty() || self.types.iter().any(|t| t.0 == rtype))
    }
}

/// Which names a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamePattern {
    Exact(Name),
    /// The name and everything below it.
    Subtree(Name),
    /// `*.NAME`: everything strictly below NAME.
    Below(Name),
}

impl NamePattern {
    pub fn matches(&self, owner: &Name) -> bool {
        match self {
            NamePattern::Exact(n) => owner == n,
            NamePattern::Subtree(n) => owner.is_subdomain_of(n),
            NamePattern::Below(n) => owner != n && owner.is_subdomain_of(n),
        }
    }
}

impl FromStr for NamePattern {
    type Err = String;
    fn from_str(s: &str) -> Result<NamePattern, String> {
        let parse = |t: &str| Name::parse_text(t).map_err(|e| format!("bad name {t:?}: {e}"));
        if let Some(rest) = s.strip_prefix("subtree:") {
            Ok(NamePattern::Subtree(parse(rest)?))
        } else if let Some(rest) = s.strip_prefix("*.") {
            Ok(NamePattern::Below(parse(rest)?))
        } else {
            Ok(NamePattern::Exact(parse(s)?))
        }
    }
}

impl<'de> Deserialize<'de> for NamePattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A record type as written in the config: a mnemonic or `TYPEnnn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeName(pub Rtype);

impl FromStr for TypeName {
    type Err = String;
    fn from_str(s: &str) -> Result<TypeName, String> {
        let upper = s.to_ascii_uppercase();
        if let Some(n) = upper
            .strip_prefix("TYPE")
            .and_then(|n| n.parse::<u16>().ok())
        {
            return Ok(TypeName(Rtype(n)));
        }
        (0..=u16::MAX)
            .map(Rtype)
            .find(|t| t.mnemonic() == Some(upper.as_str()))
            .filter(|t| !t.is_meta())
            .map(TypeName)
            .ok_or_else(|| format!("unknown record type {s:?}"))
    }
}

impl<'de> Deserialize<'de> for TypeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An address prefix such as `127.0.0.1/32` or `2001:db8::/32`; a bare
/// address is a host prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddrPrefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl AddrPrefix {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for AddrPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<AddrPrefix, String> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("bad address prefix {s:?}"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => max,
            Some(l) => l
                .parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| format!("bad prefix length in {s:?}"))?,
        };
        Ok(AddrPrefix { addr, len })
    }
}

impl fmt::Display for AddrPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl<'de> Deserialize<'de> for AddrPrefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl KeyConfig {
    /// The base64 secret: inline, or read from `secret_file` (resolved
    /// against `base_dir`), which must belong to root or to the user dnsd
    /// runs as and must not be readable by group or others.
    pub fn secret_text(&self, base_dir: &Path) -> Result<String, String> {
        match (&self.secret, &self.secret_file) {
            (Some(s), None) => Ok(s.trim().to_owned()),
            (None, Some(file)) => {
                let path = base_dir.join(file);
                let meta = std::fs::metadata(&path)
                    .map_err(|e| format!("secret_file {}: {e}", path.display()))?;
                // SAFETY: geteuid has no preconditions.
                let euid = unsafe { libc::geteuid() };
                if meta.uid() != 0 && meta.uid() != euid {
                    return Err(format!(
                        "secret_file {} belongs to uid {}, not to root or to dnsd's user",
                        path.display(),
                        meta.uid()
                    ));
                }
                if meta.mode() & 0o077 != 0 {
                    return Err(format!(
                        "secret_file {} is readable by group or others (mode {:o}); chmod 600 it",
                        path.display(),
                        meta.mode() & 0o777
                    ));
                }
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("secret_file {}: {e}", path.display()))?;
                Ok(text.trim().to_owned())
            }
            _ => Err("needs exactly one of `secret` and `secret_file`".into()),
        }
    }

    /// Checks the entry: name, algorithm, a readable secret that decodes
    /// (RFC 8945 §6: base64), a usable rate.
    pub fn validate(&self, base_dir: &Path) -> Result<(), String> {
        if self.rate == 0 {
            return Err("rate must be at least 1 update per minute".into());
        }
        crate::dynamic::auth::tsig_key(self, base_dir).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn name(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    #[test]
    fn name_patterns() {
        let exact: NamePattern = "Subspace.example.info".parse().unwrap();
        assert!(exact.matches(&name("subspace.example.info")));
        assert!(!exact.matches(&name("a.subspace.example.info")));
        let tree: NamePattern = "subtree:dyn.example.info".parse().unwrap();
        assert!(tree.matches(&name("dyn.example.info")));
        assert!(tree.matches(&name("a.b.dyn.example.info")));
        assert!(!tree.matches(&name("xdyn.example.info")));
        let below: NamePattern = "*.dyn.example.info".parse().unwrap();
        assert!(!below.matches(&name("dyn.example.info")));
        assert!(below.matches(&name("a.dyn.example.info")));
        assert!("subtree:a..b".parse::<NamePattern>().is_err());
    }

    #[test]
    fn type_names() {
        assert_eq!("aaaa".parse::<TypeName>(), Ok(TypeName(Rtype::AAAA)));
        assert_eq!("TYPE65280".parse::<TypeName>(), Ok(TypeName(Rtype(65280))));
        assert!("BOGUS".parse::<TypeName>().is_err());
        assert!("AXFR".parse::<TypeName>().is_err());
    }

    #[test]
    fn prefixes() {
        let p: AddrPrefix = "198.18.0.0/15".parse().unwrap();
        assert!(p.contains("198.19.255.1".parse().unwrap()));
        assert!(!p.contains("198.20.0.1".parse().unwrap()));
        assert!(p.contains("::ffff:198.18.0.1".parse().unwrap()));
        let host: AddrPrefix = "127.0.0.1".parse().unwrap();
        assert_eq!(host.len, 32);
        assert!(!host.contains("127.0.0.2".parse().unwrap()));
        let v6: AddrPrefix = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::5".parse().unwrap()));
        let all: AddrPrefix = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<AddrPrefix>().is_err());
    }

    #[test]
    fn rules_combine_zone_names_and_types() {
        let rule = AllowRule {
            zone: name("example.info"),
            names: vec!["subspace.example.info".parse().unwrap()],
            types: vec![TypeName(Rtype::A), TypeName(Rtype::AAAA)],
        };
        assert!(rule.allows(&name("subspace.example.info"), Rtype::A));
        assert!(!rule.allows(&name("subspace.example.info"), Rtype::TXT));
        assert!(!rule.allows(&name("www.example.info"), Rtype::A));
        let any = AllowRule {
            zone: name("example.info"),
            names: vec![],
            types: vec![],
        };
        assert!(any.allows(&name("x.example.info"), Rtype::MX));
        assert!(!any.allows(&name("example.org"), Rtype::MX));
    }

    #[test]
    fn secret_file_must_be_private() {
        let dir = std::env::temp_dir().join(format!("dnsd-keycfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("k.secret");
        std::fs::write(&file, "c2VjcmV0\n").unwrap();
        let key = KeyConfig {
            name: "k".into(),
            algorithm: default_algorithm(),
            secret: None,
            secret_file: Some("k.secret".into()),
            rate: DEFAULT_RATE,
            max_changes: DEFAULT_MAX_CHANGES,
            allow: vec![],
        };
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = key.validate(&dir).unwrap_err();
        assert!(e.contains("readable by group or others"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(key.secret_text(&dir).unwrap(), "c2VjcmV0");
        // Another user's file, even private, is refused.
        std::os::unix::fs::chown(&file, Some(65534), None)
            .expect("chown to another user needs root (the tests run as root)");
        let e = key.validate(&dir).unwrap_err();
        assert!(e.contains("belongs to uid 65534"), "{e}");
        let both = KeyConfig {
            secret: Some("x".into()),
            ..key
        };
        assert!(both.validate(&dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
