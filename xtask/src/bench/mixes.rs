//! The query mixes, one file each in `bench/mixes/` (kxdpgun's format:
//! `name type [flag]` per line, flag `D` = EDNS with the DO bit). The files
//! are generated deterministically (fixed seed) and committed; a missing
//! one is written again.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

use anyhow::Result;

/// Lines in the generated mixes (c) and (d): the generators cycle through
/// the file, so at 100k q/s a name repeats every half second.
const GENERATED_LINES: usize = 50_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mix {
    /// (a) the personal-setup zone from `examples/`.
    Personal,
    /// (b) the same with EDNS and DO, as resolvers send.
    PersonalDo,
    /// (c) random-subdomain flood: unique names, NXDOMAIN or wildcard.
    RandomSubdomain,
    /// (d) uniform random names of the 1,000,000-name zone.
    LargeZone,
}

impl Mix {
    pub const ALL: [Mix; 4] = [
        Mix::Personal,
        Mix::PersonalDo,
        Mix::RandomSubdomain,
        Mix::LargeZone,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Mix::Personal => "(a) personal zone",
            Mix::PersonalDo => "(b) (a) + EDNS DO",
            Mix::RandomSubdomain => "(c) random subdomains",
            Mix::LargeZone => "(d) 1M-name zone",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Mix::Personal => "a",
            Mix::PersonalDo => "b",
            Mix::RandomSubdomain => "c",
            Mix::LargeZone => "d",
        }
    }

    fn file_name(self) -> &'static str {
        match self {
            Mix::Personal => "a-personal.txt",
            Mix::PersonalDo => "b-personal-edns-do.txt",
            Mix::RandomSubdomain => "c-random-subdomain.txt",
            Mix::LargeZone => "d-large-zone.txt",
        }
    }

    /// Whether dnsperf needs `-D` (the file's `D` flags are kxdpgun's).
    pub fn dnssec_ok(self) -> bool {
        self == Mix::PersonalDo
    }

    /// The committed file, written first if missing.
    pub fn path(self) -> Result<PathBuf> {
        let dir = crate::util::workspace_root().join("bench/mixes");
        let path = dir.join(self.file_name());
        if !path.is_file() {
            fs::create_dir_all(&dir)?;
            fs::write(&path, self.generate())?;
        }
        Ok(path)
    }

    /// The file's text. Large-zone names follow `compile::generate`:
    /// `hN.bench.example` with type AAAA, TXT, MX or A by N mod 10.
    fn generate(self) -> String {
        let mut out = String::new();
        let mut rng = XorShift(0x5eed_d115_2026_0001);
        match self {
            Mix::Personal | Mix::PersonalDo => {
                let flag = if self == Mix::PersonalDo { " D" } else { "" };
                for (name, qtype) in PERSONAL {
                    let _ = writeln!(out, "{name} {qtype}{flag}");
                }
            }
            Mix::RandomSubdomain => {
                for i in 0..GENERATED_LINES {
                    let label = rng.label(12);
                    // Half wildcard hits (`*` at the apex), half NXDOMAIN
                    // (below www, which has no wildcard): RFC 4592 §2.2.
                    let parent = if i % 2 == 0 {
                        "example.info"
                    } else {
                        "www.example.info"
                    };
                    let _ = writeln!(out, "{label}{i:x}.{parent} A");
                }
            }
            Mix::LargeZone => {
                for _ in 0..GENERATED_LINES {
                    let n = rng.next() % 999_997;
                    let qtype = match n % 10 {
                        0 => "AAAA",
                        1 => "TXT",
                        2 => "MX",
                        _ => "A",
                    };
                    let _ = writeln!(out, "h{n}.bench.example {qtype}");
                }
            }
        }
        out
    }
}

/// Mix (a): what a personal domain gets asked. Exact hits, wildcard hits
/// (`*` and `*.host`), MX, AAAA, TXT and NXDOMAIN (names below `www`).
const PERSONAL: &[(&str, &str)] = &[
    ("www.example.info", "A"),
    ("www.example.info", "AAAA"),
    ("example.info", "A"),
    ("example.info", "MX"),
    ("www.example.info", "A"),
    ("laptop.example.info", "A"),
    ("host.example.info", "AAAA"),
    ("example.info", "TXT"),
    ("www.example.info", "AAAA"),
    ("subspace.example.info", "A"),
    ("web.host.example.info", "A"),
    ("example.info", "MX"),
    ("old.www.example.info", "A"),
    ("host.example.info", "A"),
    ("nas.example.info", "AAAA"),
    ("www.example.info", "A"),
    ("printer.example.info", "A"),
    ("mail.www.example.info", "MX"),
    ("example.info", "A"),
    ("ns1.example.info", "A"),
];

/// xorshift64: deterministic names without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn label(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_subdomain_names_are_unique() {
        let text = Mix::RandomSubdomain.generate();
        let names: std::collections::HashSet<&str> = text.lines().collect();
        assert_eq!(names.len(), GENERATED_LINES);
    }

    #[test]
    fn do_mix_is_the_personal_mix_with_the_flag() {
        let a = Mix::Personal.generate();
        let b = Mix::PersonalDo.generate();
        let stripped: String = b
            .lines()
            .map(|l| format!("{}\n", l.trim_end_matches(" D")))
            .collect();
        assert_eq!(a, stripped);
        assert!(b.lines().all(|l| l.ends_with(" D")));
    }
}
