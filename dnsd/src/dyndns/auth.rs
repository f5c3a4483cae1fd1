//! HTTP Basic authentication (RFC 7617) against the `[[dyndns.user]]` list.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
