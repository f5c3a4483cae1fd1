//! The dyndns2 protocol without I/O: what an update request asks for, and
//! the answer codes (as DynDNS documented them and ddclient, OpenWrt
//! ddns-scripts and the Fritz!Box read them).

use std::fmt;
use std::net::IpAddr;

use crate::wire::name::{MAX_LABEL, Name};

/// More hostnames than this in one request are answered `numhost`
/// (DynDNS's limit).
pub const MAX_HOSTS: usize = 20;

/// One update request's parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UpdateRequest {
    /// `hostname`, split at commas, as given (for the log and the answer).
    pub hosts: Vec<String>,
    /// At most one address per family, from `myip` (a comma-separated list,
    /// as the Fritz!Box sends `<ipaddr>,<ip6addr>`) and `myipv6`; empty when
    /// the client's own address is meant.
    pub addrs: Vec<IpAddr>,
    /// `username` / `password` parameters, for routers that cannot send
    /// Basic authentication; the header wins when both are present.
    pub credentials: Option<(String, Vec<u8>)>,
}

impl UpdateRequest {
    /// Reads a query string. Unknown parameters (`system`, `wildcard`, `mx`,
    /// `backmx`, `offline`...) are ignored, as DynDNS ignored them for
    /// dynamic hosts.
    pub fn parse(query: &str) -> UpdateRequest {
        let mut hosts = None;
        let mut addr_texts = Vec::new();
        let mut user = None;
        let mut password = None;
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "hostname" => hosts = Some(v.into_owned()),
                "myip" | "myipv6" => addr_texts.push(v.into_owned()),
                "username" | "user" => user = Some(v.into_owned()),
                "password" | "pass" => password = Some(v.into_owned()),
                _ => {}
            }
        }
        let hosts = hosts
            .iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        let mut addrs: Vec<IpAddr> = Vec::new();
        for text in addr_texts.iter().flat_map(|t| t.split(',')) {
            // Anything but a usable unicast address is ignored, as DynDNS
            // did; routers send `myip=` or unfilled placeholders when they
            // do not know an address.
            let Some(addr) = parse_addr(text) else {
                continue;
            };
            if !addrs.iter().any(|a| a.is_ipv4() == addr.is_ipv4()) {
                addrs.push(addr);
            }
        }
        UpdateRequest {
            hosts,
            addrs,
            credentials: user.map(|u| (u, password.unwrap_or_default().into_bytes())),
        }
    }
}

/// An address a host may be given: unicast, specified. Brackets around an
/// IPv6 address are accepted.
pub fn parse_addr(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let text = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    let addr: IpAddr = text.parse().ok()?;
    let addr = addr.to_canonical();
    let usable = match addr {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast()),
        IpAddr::V6(a) => !(a.is_unspecified() || a.is_multicast()),
    };
    usable.then_some(addr)
}

/// A hostname as dyndns2 clients write it: letters, digits, `-` and `_`,
/// at least two labels, an optional final dot. Lower-cased. None means
/// `notfqdn`.
pub fn parse_hostname(text: &str) -> Option<Name> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let labels: Vec<&str> = text.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= MAX_LABEL
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !ok {
        return None;
    }
    let name = Name::from_labels(labels.iter().map(|l| l.as_bytes())).ok()?;
    Some(name.to_lowercase())
}

/// One answer line (or the whole answer, for `badauth` and `numhost`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The host now has these addresses.
    Good(Vec<IpAddr>),
    /// The host already had these addresses.
    NoChg(Vec<IpAddr>),
    BadAuth,
    /// The host is not served, or not this user's to change.
    NoHost,
    NotFqdn,
    NumHost,
    /// Too many updates: the key's rate limit.
    Abuse,
    /// A server-side failure; clients retry later (DynDNS's `911`).
    ServerError,
}

impl Reply {
    /// The word clients match on, without the addresses.
    pub fn code(&self) -> &'static str {
        match self {
            Reply::Good(_) => "good",
            Reply::NoChg(_) => "nochg",
            Reply::BadAuth => "badauth",
            Reply::NoHost => "nohost",
            Reply::NotFqdn => "notfqdn",
            Reply::NumHost => "numhost",
            Reply::Abuse => "abuse",
            Reply::ServerError => "911",
        }
    }
}

impl fmt::Display for Reply {
    /// `good 198.51.100.7` or, with both families, `good 198.51.100.7,2001:db8::7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())?;
        match self {
            Reply::Good(addrs) | Reply::NoChg(addrs) => write!(f, " {}", AddrList(addrs)),
            _ => Ok(()),
        }
    }
}

/// Addresses, comma-separated.
pub struct AddrList<'a>(pub &'a [IpAddr]);

impl fmt::Display for AddrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Untrusted input: any query or hostname text is parsed or
        /// refused, never a panic.
        #[test]
        fn any_input_parses_without_panicking(text in "\\PC*", raw in ".*") {
            let r = UpdateRequest::parse(&text);
            prop_assert!(r.addrs.len() <= 2);
            let _ = UpdateRequest::parse(&raw);
            let _ = parse_hostname(&text);
            let _ = parse_addr(&text);
        }

        #[test]
        fn host_names_survive_lowercased(
            labels in proptest::collection::vec("[A-Za-z0-9_-]{1,20}", 2..6),
        ) {
            let text = labels.join(".");
            let name = parse_hostname(&text).expect("a valid host name refused");
            prop_assert_eq!(name.to_string(), format!("{}.", text.to_ascii_lowercase()));
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_a_ddclient_query() {
        let r = UpdateRequest::parse(
            "system=dyndns&hostname=subspace.example.info&myip=198.51.100.7&wildcard=NOCHG&mx=NOCHG&backmx=NOCHG",
        );
        assert_eq!(r.hosts, ["subspace.example.info"]);
        assert_eq!(r.addrs, [ip("198.51.100.7")]);
        assert_eq!(r.credentials, None);
    }

    #[test]
    fn parses_a_fritzbox_query() {
        // Fritz!Box: update-URL `...?hostname=<domain>&myip=<ipaddr>,<ip6addr>`;
        // without an IPv6 address the second item is empty.
        let r =
            UpdateRequest::parse("hostname=a.example.info&myip=198.51.100.7%2C2001%3Adb8%3A%3A7");
        assert_eq!(r.addrs, [ip("198.51.100.7"), ip("2001:db8::7")]);
        let r = UpdateRequest::parse("hostname=a.example.info&myip=198.51.100.7,");
        assert_eq!(r.addrs, [ip("198.51.100.7")]);
        let r = UpdateRequest::parse("hostname=a.example.info&myip=<ipaddr>,<ip6addr>");
        assert!(r.addrs.is_empty());
    }

    #[test]
    fn keeps_the_first_address_of_each_family() {
        let r = UpdateRequest::parse(
            "hostname=a.b&myip=[2001:db8::1],198.51.100.1,198.51.100.2&myipv6=2001:db8::2",
        );
        assert_eq!(r.addrs, [ip("2001:db8::1"), ip("198.51.100.1")]);
        let r = UpdateRequest::parse("hostname=a.b&myipv6=2001:db8::2");
        assert_eq!(r.addrs, [ip("2001:db8::2")]);
    }

    #[test]
    fn ignores_unusable_addresses() {
        for bad in [
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "ff02::1",
            "255.255.255.255",
            "1.2.3",
            "x",
            "",
        ] {
            assert_eq!(parse_addr(bad), None, "{bad}");
        }
        assert_eq!(parse_addr("::ffff:198.51.100.1"), Some(ip("198.51.100.1")));
        assert_eq!(parse_addr(" 198.51.100.1 "), Some(ip("198.51.100.1")));
    }

    #[test]
    fn splits_hostnames_and_reads_query_credentials() {
        let r = UpdateRequest::parse(
            "hostname=a.example.info,%20b.example.info,,&username=router&password=p%26w",
        );
        assert_eq!(r.hosts, ["a.example.info", "b.example.info"]);
        assert_eq!(r.credentials, Some(("router".into(), b"p&w".to_vec())));
        assert_eq!(UpdateRequest::parse(""), UpdateRequest::default());
        assert_eq!(
            UpdateRequest::parse("&&=&hostname"),
            UpdateRequest::default()
        );
    }

    #[test]
    fn validates_hostnames() {
        assert_eq!(
            parse_hostname("SubSpace.Example.Info.")
                .unwrap()
                .to_string(),
            "subspace.example.info."
        );
        assert!(parse_hostname("_dyn.my-host.example.info").is_some());
        let long = "a".repeat(64);
        for bad in [
            "localhost",
            "",
            ".",
            "a..b",
            ".a.b",
            "a.b..",
            "*.example.info",
            "a b.example.info",
            "a\\.b.example.info",
            "ä.example.info",
            &format!("{long}.info"),
        ] {
            assert_eq!(parse_hostname(bad), None, "{bad:?}");
        }
        let too_long = vec!["a".repeat(60); 5].join(".");
        assert_eq!(parse_hostname(&too_long), None);
    }

    #[test]
    fn renders_answer_lines() {
        let both = vec![ip("198.51.100.7"), ip("2001:db8::7")];
        assert_eq!(
            Reply::Good(both.clone()).to_string(),
            "good 198.51.100.7,2001:db8::7"
        );
        assert_eq!(
            Reply::NoChg(both[..1].to_vec()).to_string(),
            "nochg 198.51.100.7"
        );
        assert_eq!(Reply::ServerError.to_string(), "911");
        assert_eq!(Reply::BadAuth.to_string(), "badauth");
    }
}
