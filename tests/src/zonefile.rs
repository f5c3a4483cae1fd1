//! The RFC 1035 fixtures as data, read with `domain`'s zone file parser, so
//! tests can state expectations ("the whole RRset", "a subset of the name's
//! data") without trusting any server.

use std::collections::BTreeSet;
use std::path::Path;

use domain::base::ToName;
use domain::zonefile::inplace::{Entry, Zonefile};

/// One record of a zone file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneRr {
    /// Lower-cased owner with a trailing dot.
    pub owner: String,
    pub rtype: u16,
    pub ttl: u32,
    /// RDATA in `domain`'s presentation format.
    pub rdata: String,
}

/// Every record of the zone file at `path`, whose origin is `origin`.
pub fn load(path: &Path, origin: &str) -> Vec<ZoneRr> {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut zf = Zonefile::new();
    zf.extend_from_slice(&text);
    zf.set_origin(
        domain::base::Name::bytes_from_str(origin)
            .unwrap_or_else(|e| panic!("origin {origin}: {e}")),
    );
    let mut out = Vec::new();
    loop {
        match zf.next_entry() {
            Ok(Some(Entry::Record(r))) => {
                let owner = r
                    .owner()
                    .to_name::<Vec<u8>>()
                    .to_string()
                    .to_ascii_lowercase();
                let owner = if owner.ends_with('.') {
                    owner
                } else {
                    format!("{owner}.")
                };
                out.push(ZoneRr {
                    owner,
                    rtype: r.rtype().to_int(),
                    ttl: r.ttl().as_secs(),
                    rdata: r.data().to_string(),
                });
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }
    out
}

/// The set of distinct owner names in `zone`.
pub fn owners(zone: &[ZoneRr]) -> BTreeSet<String> {
    zone.iter().map(|r| r.owner.clone()).collect()
}
