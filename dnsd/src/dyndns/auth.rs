//! HTTP Basic authentication (RFC 7617) against the `[[dyndns.user]]` list.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::digest::{SHA256, digest};
use subtle::ConstantTimeEq;

use super::DyndnsError;
use super::config::DyndnsConfig;

/// Longest password file read (a password, not a document).
const MAX_PASSWORD_FILE: u64 = 4096;

/// A user as the endpoint knows it once passwords are loaded.
struct User {
    /// SHA-256 of the password: equal-length values to compare in
    /// constant time, whatever the lengths of the passwords.
    password_hash: [u8; 32],
    key: String,
}

/// Who may update, and as which key.
pub struct Users {
    by_name: HashMap<String, User>,
}

impl Users {
    /// Loads every user's password, reading password files (which must not
    /// be readable by group or others).
    pub fn load(config: &DyndnsConfig) -> Result<Users, DyndnsError> {
        let mut by_name = HashMap::new();
        for u in &config.users {
            let password = match (&u.password, &u.password_file) {
                (Some(p), _) => p.clone(),
                (None, Some(file)) => read_password_file(&config.resolve(file))?,
                (None, None) => {
                    return Err(DyndnsError::Config(format!(
                        "dyndns.user {:?} has no password",
                        u.name
                    )));
                }
            };
            let user = User {
                password_hash: sha256(password.as_bytes()),
                key: u.key.clone(),
            };
            by_name.insert(u.name.clone(), user);
        }
        Ok(Users { by_name })
    }

    /// The key of the user these credentials belong to, or None. Takes the
    /// same time whether the user exists or not.
    pub fn check(&self, name: &str, password: &[u8]) -> Option<&str> {
        let given = sha256(password);
        match self.by_name.get(name) {
            Some(u) if bool::from(given.ct_eq(&u.password_hash)) => Some(&u.key),
            Some(_) => None,
            None => {
                // Same work as a wrong password, so timing does not tell
                // which user names exist.
                let _ = given.ct_eq(&[0u8; 32]);
                None
            }
        }
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

fn read_password_file(path: &Path) -> Result<String, DyndnsError> {
    let io = |source| DyndnsError::Io {
        what: "password file",
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(DyndnsError::Config(format!(
            "{}: password file has mode {:o}; it must not be readable by group or others \
             (chmod 600)",
            path.display(),
            mode & 0o7777
        )));
    }
    if meta.len() > MAX_PASSWORD_FILE {
        return Err(DyndnsError::Config(format!(
            "{}: password file is larger than {MAX_PASSWORD_FILE} bytes",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    // The first line is the password: editors add a final newline.
    let password = text.lines().next().unwrap_or("");
    if password.is_empty() {
        return Err(DyndnsError::Config(format!(
            "{}: password file is empty",
            path.display()
        )));
    }
    Ok(password.to_owned())
}

/// Failed logins that block a client for the rest of the window.
const MAX_FAILURES: u32 = 10;
/// How long failed logins are remembered.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Clients tracked at most; beyond, new clients go untracked rather than
/// letting a flood of source addresses grow memory.
const MAX_TRACKED: usize = 10_000;

/// Slows password guessing: a client (IPv4 address or IPv6 /64, one site)
/// with [`MAX_FAILURES`] failed logins within [`FAILURE_WINDOW`] is refused
/// without a password check until the window ends.
#[derive(Default)]
pub struct AuthThrottle {
    /// Client → (start of its window, failures in it).
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthThrottle {
    pub fn blocked(&self, client: IpAddr, now: Instant) -> bool {
        let Ok(failures) = self.failures.lock() else {
            return false;
        };
        failures
            .get(&site(client))
            .is_some_and(|&(start, n)| n >= MAX_FAILURES && now < start + FAILURE_WINDOW)
    }

    pub fn failed(&self, client: IpAddr, now: Instant) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        let key = site(client);
        if failures.len() >= MAX_TRACKED && !failures.contains_key(&key) {
            failures.retain(|_, &mut (start, _)| now < start + FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = failures.entry(key).or_insert((now, 0));
        if now >= entry.0 + FAILURE_WINDOW {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

/// The unit of the throttle: the IPv4 address, or the IPv6 /64.
fn site(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !0u128 << 64)),
        v4 => v4,
    }
}

/// User name and password from an `Authorization: Basic` header value
/// (RFC 7617 §2): base64 of `user:password`, split at the first colon.
pub fn parse_basic(header: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dyndns::tests::temp_dir;

    fn config(users: &str, dir: &Path) -> DyndnsConfig {
        let mut c: DyndnsConfig = toml::from_str(users).unwrap();
        c.base_dir = dir.to_owned();
        c
    }

    #[test]
    fn checks_inline_passwords() {
        let c = config(
            "[[user]]\nname = \"router\"\npassword = \"pa:ss\"\nkey = \"home\"\n",
            Path::new("/"),
        );
        let users = Users::load(&c).unwrap();
        assert_eq!(users.check("router", b"pa:ss"), Some("home"));
        assert_eq!(users.check("router", b"pa:s"), None);
        assert_eq!(users.check("router", b""), None);
        assert_eq!(users.check("Router", b"pa:ss"), None);
        assert_eq!(users.check("nobody", b"pa:ss"), None);
    }

    #[test]
    fn password_file_must_be_private() {
        let dir = temp_dir("pwfile");
        let file = dir.join("router.pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let c = config(
            "[[user]]\nname = \"router\"\npassword_file = \"router.pw\"\nkey = \"home\"\n",
            &dir,
        );
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Users::load(&c).err().expect("world-readable file accepted");
        assert!(e.to_string().contains("mode 644"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(Users::load(&c).is_err(), "group-readable file accepted");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let users = Users::load(&c).unwrap();
        assert_eq!(users.check("router", b"from-file"), Some("home"));
        assert_eq!(users.check("router", b"from-file\n"), None);
        std::fs::write(&file, "\n").unwrap();
        assert!(Users::load(&c).is_err(), "empty password accepted");
        std::fs::remove_file(&file).unwrap();
        let e = Users::load(&c).err().expect("missing file accepted");
        assert!(e.to_string().contains("router.pw"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn throttle_blocks_a_site_for_the_rest_of_the_window() {
        let t = AuthThrottle::default();
        let start = Instant::now();
        let guesser: IpAddr = "2001:db8:1:2::7".parse().unwrap();
        let same_site: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::7".parse().unwrap();
        for i in 0..MAX_FAILURES {
            assert!(!t.blocked(guesser, start), "blocked after {i} failures");
            t.failed(guesser, start + Duration::from_secs(1));
        }
        let later = start + Duration::from_secs(30);
        assert!(t.blocked(guesser, later) && t.blocked(same_site, later));
        assert!(!t.blocked(other, later));
        assert!(!t.blocked(guesser, start + FAILURE_WINDOW + Duration::from_secs(1)));
        // A new window starts from zero.
        t.failed(guesser, start + FAILURE_WINDOW + Duration::from_secs(2));
        assert!(!t.blocked(guesser, start + FAILURE_WINDOW + Duration::from_secs(3)));
        let v4: IpAddr = "198.18.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:198.18.0.1".parse().unwrap();
        assert_eq!(site(mapped), v4);
    }

    #[test]
    fn throttle_memory_is_bounded() {
        let t = AuthThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED as u32 + 100) {
            t.failed(IpAddr::V4(i.into()), now);
        }
        assert_eq!(t.failures.lock().unwrap().len(), MAX_TRACKED);
        // Once the window has passed, old entries make room.
        t.failed("198.18.0.1".parse().unwrap(), now + FAILURE_WINDOW);
        assert_eq!(t.failures.lock().unwrap().len(), 1);
    }

    proptest::proptest! {
        #[test]
        fn any_authorization_header_is_parsed_or_refused(
            header in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            let _ = parse_basic(&header);
        }
    }

    #[test]
    fn parses_basic_credentials() {
        // RFC 7617 §2's example.
        assert_eq!(
            parse_basic(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Some(("Aladdin".into(), b"open sesame".to_vec()))
        );
        assert_eq!(
            parse_basic(b"basic  dTpwOnE= "),
            Some(("u".into(), b"p:q".to_vec()))
        );
        for bad in [
            &b"Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="[..],
            b"Basic",
            b"Basic !!!",
            b"Basic bm9jb2xvbg==", // "nocolon"
            b"Basic /w==",         // not UTF-8 in the user part... and no colon
            b"\xff\xfe",
        ] {
            assert_eq!(parse_basic(bad), None, "{bad:?}");
        }
    }
}
