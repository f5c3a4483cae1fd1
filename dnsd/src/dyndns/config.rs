//! The `[dyndns]` table of `dnsd.toml`. See `docs/config.md`.

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The HTTP(S) dyndns2 update endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DyndnsConfig {
    /// Addresses the endpoint listens on (TCP).
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// PEM certificate chain; with `tls_key`, the endpoint speaks HTTPS only.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Plain HTTP sends passwords in clear: without TLS only loopback
    /// listeners are accepted unless this is true.
    #[serde(default)]
    pub allow_plain_http: bool,
    /// Take the client address from the last `X-Forwarded-For` entry (only
    /// behind a reverse proxy that sets it).
    #[serde(default)]
    pub trust_proxy: bool,
    /// Connections served at once; further clients wait in the backlog.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// Directory relative paths are resolved against (the config file's).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// One `[[dyndns.user]]`: HTTP Basic credentials mapped to a TSIG key's
/// update policy.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub password: Option<String>,
    /// A file holding the password (one line); it must not be readable by
    /// group or others.
    pub password_file: Option<PathBuf>,
    /// Name of the `[[key]]` entry whose update policy applies.
    pub key: String,
}

/// Never print passwords, not even in debug logs.
impl fmt::Debug for UserConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserConfig")
            .field("name", &self.name)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("password_file", &self.password_file)
            .field("key", &self.key)
            .finish()
    }
}

fn default_listen() -> Vec<SocketAddr> {
    vec!["127.0.0.1:8053".parse().expect("literal")]
}

fn default_max_connections() -> usize {
    64
}

impl DyndnsConfig {
    /// Whether the endpoint serves HTTPS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// Resolves `path` against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// Checks what can be checked without reading files; the message is
    /// meant to be prefixed with the config file's path.
    pub fn validate(&self) -> Result<(), String> {
        if self.listen.is_empty() {
            return Err("dyndns.listen is empty: nothing to serve on".into());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("dyndns: tls_cert and tls_key go together".into());
        }
        if !self.tls()
            && !self.allow_plain_http
            && let Some(addr) = self.listen.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(format!(
                "dyndns.listen {addr} is not a loopback address and there is no TLS: \
                 passwords would cross the network in clear; set tls_cert and tls_key, \
                 or allow_plain_http = true"
            ));
        }
        if self.max_connections == 0 {
            return Err("dyndns.max_connections must be at least 1".into());
        }
        if self.users.is_empty() {
            return Err("dyndns has no [[dyndns.user]]: nobody could update".into());
        }
        let mut names = HashSet::new();
        for u in &self.users {
            // RFC 7617 §2: the user-id cannot contain a colon.
            if u.name.is_empty() || u.name.contains(':') {
                return Err(format!(
                    "dyndns.user {:?}: a name must be non-empty and without ':'",
                    u.name
                ));
            }
            if !names.insert(u.name.as_str()) {
                return Err(format!("dyndns.user {:?} is listed twice", u.name));
            }
            match (&u.password, &u.password_file) {
                (Some(p), None) if p.is_empty() => {
                    return Err(format!("dyndns.user {:?}: empty password", u.name));
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(format!(
                        "dyndns.user {:?}: give exactly one of password and password_file",
                        u.name
                    ));
                }
            }
            if u.key.is_empty() {
                return Err(format!(
                    "dyndns.user {:?}: `key` must name a [[key]] entry",
                    u.name
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DyndnsConfig {
        toml::from_str(text).unwrap()
    }

    const USER: &str = "[[user]]\nname = \"router\"\npassword = \"s3cret\"\nkey = \"home\"\n";

    #[test]
    fn defaults_to_loopback_plain_http() {
        let c = parse(USER);
        assert_eq!(c.listen, ["127.0.0.1:8053".parse().unwrap()]);
        assert!(!c.tls() && !c.allow_plain_http && !c.trust_proxy);
        c.validate().unwrap();
    }

    #[test]
    fn plain_http_off_loopback_needs_consent() {
        let text = format!("listen = [\"[::1]:80\", \"198.18.0.1:80\"]\n{USER}");
        let e = parse(&text).validate().unwrap_err();
        assert!(
            e.contains("198.18.0.1:80") && e.contains("allow_plain_http"),
            "{e}"
        );
        parse(&format!("allow_plain_http = true\n{text}"))
            .validate()
            .unwrap();
        parse(&format!(
            "tls_cert = \"c.pem\"\ntls_key = \"k.pem\"\n{text}"
        ))
        .validate()
        .unwrap();
    }

    #[test]
    fn rejects_bad_users_and_tls_halves() {
        let cases = [
            ("tls_cert = \"c.pem\"\n", USER, "go together"),
            (
                "",
                "[[user]]\nname = \"a:b\"\npassword = \"p\"\nkey = \"k\"\n",
                "':'",
            ),
            ("", "[[user]]\nname = \"a\"\nkey = \"k\"\n", "exactly one"),
            (
                "",
                "[[user]]\nname = \"a\"\npassword = \"p\"\npassword_file = \"f\"\nkey = \"k\"\n",
                "exactly one",
            ),
            (
                "",
                "[[user]]\nname = \"a\"\npassword = \"\"\nkey = \"k\"\n",
                "empty password",
            ),
            (
                "",
                "[[user]]\nname = \"a\"\npassword = \"p\"\nkey = \"\"\n",
                "[[key]]",
            ),
            ("", "", "nobody"),
            ("listen = []\n", USER, "empty"),
            ("max_connections = 0\n", USER, "at least 1"),
        ];
        for (top, users, want) in cases {
            let e = parse(&format!("{top}{users}")).validate().unwrap_err();
            assert!(e.contains(want), "{top}{users}: {e}");
        }
        let e = parse(&format!("{USER}{USER}")).validate().unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn debug_output_hides_passwords() {
        let c = parse(USER);
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("router"),
            "{shown}"
        );
    }
}
