//! The TOML configuration file (`dnsd.toml`). See `docs/config.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::dynamic::config::{AddrPrefix, DEFAULT_MAX_CHANGES, DEFAULT_RATE, KeyConfig};
use crate::wire::name::Name;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The toml crate's message carries the line and column.
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Source format of a zone file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ZoneFormat {
    /// RFC 1035 §5 master file.
    #[default]
    Rfc1035,
    /// djbdns tinydns `data` file; may hold many zones.
    Tinydns,
}

/// Which wildcard rule a zone answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WildcardMode {
    /// RFC 4592: synthesise only from `*.<closest encloser>`.
    #[default]
    Rfc4592,
    /// tinydns 1.05: the nearest ancestor with a `*` child answers
    /// (tinydns-data.md §6.3).
    Tinydns,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(default)]
    pub xdp: XdpConfig,
    #[serde(default, rename = "zone")]
    pub zones: Vec<ZoneConfig>,
    /// TSIG keys and their update policies (`[[key]]`).
    #[serde(default, rename = "key")]
    pub keys: Vec<KeyConfig>,
    /// The dyndns2 HTTP(S) update endpoint; absent means off.
    #[serde(default)]
    pub dyndns: Option<crate::dyndns::DyndnsConfig>,
    /// Directory relative paths are resolved against (the config file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
    #[serde(skip)]
    pub path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Addresses served over both UDP and TCP.
    pub listen: Vec<SocketAddr>,
    /// UDP sockets per address (SO_REUSEPORT); 0 means one per CPU.
    pub udp_sockets: usize,
    /// Largest UDP response we send to EDNS clients (RFC 6891 §6.2.5).
    pub edns_udp_size: u16,
    /// Idle TCP connections are closed after this many milliseconds (RFC 7766 §6.2.3).
    pub tcp_idle_timeout_ms: u64,
    /// A TCP message must arrive completely within this many milliseconds.
    pub tcp_io_timeout_ms: u64,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_client: usize,
    /// Log every query at info level.
    pub query_log: bool,
    /// Unix socket for `dnsd stats` and `dnsd reload` (relative paths are
    /// taken from the config file's directory).
    pub control_socket: PathBuf,
    /// Where the journals of dynamic updates live (relative paths are
    /// taken from the config file's directory).
    pub journal_dir: PathBuf,
    /// A journal with more records than this is compacted into one.
    pub journal_compact_after: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: vec![
                "127.0.0.1:53".parse().expect("literal"),
                "[::1]:53".parse().expect("literal"),
            ],
            udp_sockets: 0,
            edns_udp_size: 1232,
            tcp_idle_timeout_ms: 10_000,
            tcp_io_timeout_ms: 2_000,
            tcp_max_connections: 512,
            tcp_max_connections_per_client: 32,
            query_log: false,
            control_socket: PathBuf::from("/run/dnsd/control.sock"),
            journal_dir: PathBuf::from("/var/lib/dnsd"),
            journal_compact_after: 1000,
        }
    }
}

/// How to attach the XDP program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum XdpMode {
    /// Native (driver) mode, falling back to generic mode with a warning.
    #[default]
    Auto,
    Native,
    /// Generic (skb) mode: works on any interface, `lo` included, slower.
    Generic,
}

/// The XDP fast path.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct XdpConfig {
    /// Interfaces to attach to; empty means userspace only.
    pub interfaces: Vec<String>,
    pub mode: XdpMode,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// tracing filter, e.g. "info" or "dnsd=debug"; RUST_LOG overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Defaults {
    /// TTL for RFC 1035 records when the file has no `$TTL` (RFC 2308 §4).
    pub ttl: u32,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { ttl: 3600 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Zone apex. Required for RFC 1035 files (it is the initial `$ORIGIN`).
    /// For tinydns files, restricts the file to this zone; if absent, every
    /// SOA in the file (`.` and `Z` lines) starts a zone.
    pub name: Option<String>,
    /// Path, relative to the config file's directory.
    pub file: PathBuf,
    #[serde(default)]
    pub format: ZoneFormat,
    #[serde(default)]
    pub wildcards: WildcardMode,
    /// SOA serial for tinydns `.` lines (default: SOURCE_DATE_EPOCH, else the
    /// file's last git commit time, else its mtime).
    pub serial: Option<u32>,
    /// Clients allowed to send unsigned dynamic updates (RFC 2136) for this
    /// zone; empty means only TSIG-signed updates.
    #[serde(default)]
    pub allow_update_from: Vec<AddrPrefix>,
    /// Unsigned updates per minute per client address.
    #[serde(default = "default_update_rate")]
    pub update_rate: u32,
    /// Most update-section records in one unsigned UPDATE.
    #[serde(default = "default_update_max_changes")]
    pub update_max_changes: usize,
}

impl Default for ZoneConfig {
    fn default() -> ZoneConfig {
        ZoneConfig {
            name: None,
            file: PathBuf::new(),
            format: ZoneFormat::default(),
            wildcards: WildcardMode::default(),
            serial: None,
            allow_update_from: Vec::new(),
            update_rate: DEFAULT_RATE,
            update_max_changes: DEFAULT_MAX_CHANGES,
        }
    }
}

fn default_update_rate() -> u32 {
    DEFAULT_RATE
}
fn default_update_max_changes() -> usize {
    DEFAULT_MAX_CHANGES
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        config.path = path.to_owned();
        config.base_dir = path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."));
        if let Some(d) = config.dyndns.as_mut() {
            d.base_dir = config.base_dir.clone();
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: self.path.clone(),
            message,
        };
        if self.server.listen.is_empty() {
            return Err(invalid(
                "server.listen is empty: nothing to serve on".into(),
            ));
        }
        if self.server.edns_udp_size < 512 {
            return Err(invalid("server.edns_udp_size must be at least 512".into()));
        }
        if let Some(d) = &self.dyndns {
            d.validate().map_err(invalid)?;
            // Each HTTP user acts under a key's update policy.
            for u in &d.users {
                if !self
                    .keys
                    .iter()
                    .any(|k| k.name.eq_ignore_ascii_case(&u.key))
                {
                    return Err(invalid(format!(
                        "dyndns user {}: no [[key]] named {:?}",
                        u.name, u.key
                    )));
                }
            }
        }
        for (i, z) in self.zones.iter().enumerate() {
            match (&z.name, z.format) {
                (None, ZoneFormat::Rfc1035) => {
                    return Err(invalid(format!(
                        "zone #{} ({}): an RFC 1035 zone needs `name`",
                        i + 1,
                        z.file.display()
                    )));
                }
                (Some(name), _) => {
                    Name::parse_text(name)
                        .map_err(|e| invalid(format!("zone #{}: bad name {name:?}: {e}", i + 1)))?;
                }
                _ => {}
            }
            if z.update_rate == 0 {
                return Err(invalid(format!(
                    "zone #{}: update_rate must be at least 1",
                    i + 1
                )));
            }
        }
        for (i, k) in self.keys.iter().enumerate() {
            k.validate(&self.base_dir)
                .map_err(|e| invalid(format!("key #{} ({}): {e}", i + 1, k.name)))?;
            if self.keys[..i]
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&k.name))
            {
                return Err(invalid(format!("key {} is defined twice", k.name)));
            }
        }
        Ok(())
    }

    /// The control socket's path, resolved against the config's directory.
    pub fn control_socket(&self) -> PathBuf {
        self.base_dir.join(&self.server.control_socket)
    }

    /// The journal directory, resolved against the config's directory.
    pub fn journal_dir(&self) -> PathBuf {
        self.base_dir.join(&self.server.journal_dir)
    }

    /// A zone's file, resolved against the config's directory.
    pub fn zone_path(&self, zone: &ZoneConfig) -> PathBuf {
        self.base_dir.join(&zone.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_config() {
        let c = Config::parse(
            r#"
            [server]
            listen = ["127.0.0.1:5353", "[::1]:5353"]
            [[zone]]
            name = "example.org"
            file = "example.org.zone"
            [[zone]]
            file = "data"
            format = "tinydns"
            wildcards = "tinydns"
            serial = 7
            [xdp]
            interfaces = ["lo"]
            mode = "generic"
            "#,
            Path::new("/etc/dnsd/dnsd.toml"),
        )
        .unwrap();
        assert_eq!(c.server.listen.len(), 2);
        assert_eq!(c.zones[1].format, ZoneFormat::Tinydns);
        assert_eq!(c.zones[1].wildcards, WildcardMode::Tinydns);
        assert_eq!(
            c.zone_path(&c.zones[0]),
            Path::new("/etc/dnsd/example.org.zone")
        );
        assert_eq!(c.server.edns_udp_size, 1232);
        assert_eq!(c.xdp.interfaces, ["lo"]);
        assert_eq!(c.xdp.mode, XdpMode::Generic);
        assert_eq!(c.control_socket(), Path::new("/run/dnsd/control.sock"));
    }

    #[test]
    fn parses_update_settings() {
        let c = Config::parse(
            r#"
            [server]
            journal_dir = "journal"
            [[zone]]
            name = "example.info"
            file = "z"
            allow_update_from = ["127.0.0.1/32", "2001:db8::/32"]
            update_rate = 600
            [[key]]
            name = "home-router"
            algorithm = "hmac-sha512"
            secret = "c2VjcmV0"
            rate = 10
            [[key.allow]]
            zone = "example.info"
            names = ["subspace.example.info", "subtree:dyn.example.info"]
            types = ["A", "AAAA"]
            "#,
            Path::new("/etc/dnsd/dnsd.toml"),
        )
        .unwrap();
        assert_eq!(c.journal_dir(), Path::new("/etc/dnsd/journal"));
        assert_eq!(c.zones[0].allow_update_from.len(), 2);
        assert_eq!(c.zones[0].update_rate, 600);
        assert_eq!(c.zones[0].update_max_changes, DEFAULT_MAX_CHANGES);
        let k = &c.keys[0];
        assert_eq!((k.rate, k.max_changes), (10, DEFAULT_MAX_CHANGES));
        let sub = Name::parse_text("a.dyn.example.info").unwrap();
        assert!(k.allow[0].allows(&sub, crate::wire::rdata::Rtype::AAAA));
        assert!(!k.allow[0].allows(&sub, crate::wire::rdata::Rtype::TXT));
        let bad = |text: &str| {
            Config::parse(text, Path::new("x.toml"))
                .unwrap_err()
                .to_string()
        };
        let e = bad("[[key]]\nname = \"k\"\nalgorithm = \"md5\"\nsecret = \"eA==\"\n");
        assert!(e.contains("key #1 (k): unknown TSIG algorithm"), "{e}");
        let e = bad("[[key]]\nname = \"k\"\n");
        assert!(e.contains("exactly one of"), "{e}");
        let e = bad("[[key]]\nname = \"k\"\nsecret = \"not base64!\"\n");
        assert!(e.contains("not valid base64"), "{e}");
        let e =
            bad("[[zone]]\nname = \"a\"\nfile = \"f\"\nallow_update_from = [\"10.0.0.0/40\"]\n");
        assert!(e.contains("line 4"), "{e}");
        let e = bad(
            "[[key]]\nname = \"k\"\nsecret = \"eA==\"\n[[key.allow]]\nzone = \"x\"\ntypes = [\"BOGUS\"]\n",
        );
        assert!(e.contains("unknown record type"), "{e}");
    }

    #[test]
    fn dyndns_table_is_optional_and_validated() {
        let c = Config::parse("", Path::new("/etc/dnsd/dnsd.toml")).unwrap();
        assert!(c.dyndns.is_none());
        let users = "[[dyndns.user]]\nname = \"r\"\npassword_file = \"r.pw\"\nkey = \"k\"\n\
                     [[key]]\nname = \"k\"\nsecret = \"eA==\"\n";
        let c = Config::parse(
            &format!("[dyndns]\nlisten = [\"[::1]:8053\"]\n{users}"),
            Path::new("/etc/dnsd/dnsd.toml"),
        )
        .unwrap();
        let d = c.dyndns.unwrap();
        assert_eq!(d.resolve(Path::new("r.pw")), Path::new("/etc/dnsd/r.pw"));
        // A user must act under a key that exists.
        let e = Config::parse(
            "[dyndns]\nlisten = [\"[::1]:8053\"]\n[[dyndns.user]]\nname = \"r\"\npassword = \"p\"\nkey = \"nope\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no [[key]] named \"nope\""), "{e}");
        let e = Config::parse(
            &format!("[dyndns]\nlisten = [\"0.0.0.0:80\"]\n{users}"),
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("x.toml: ") && e.contains("allow_plain_http"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = Config::parse("[server]\nlisten = [\"nonsense\"]\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.toml: "), "{e}");
        assert!(e.contains("line 2"), "{e}");
        let e = Config::parse("[[zone]]\nfile = \"f\"\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs `name`"), "{e}");
        let e = Config::parse("bogus = 1\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field"), "{e}");
    }
}
