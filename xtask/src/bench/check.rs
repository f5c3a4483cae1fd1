//! Spot check before measuring: a few queries of the mixes with a real
//! client (kdig, from the client namespace), their RCODE and answer section
//! compared with what the zone files say. A server that answers wrongly
//! would make its rate meaningless, so the benchmark stops instead.

use std::net::IpAddr;

use anyhow::{Context, Result, bail};

use super::servers::{Kind, client};

/// One query and the expected RCODE and answer records (owner, type,
/// RDATA; TTLs are not compared), from examples/zones/example.info.zone
/// and `compile::generate`.
struct Case {
    name: &'static str,
    qtype: &'static str,
    dnssec_ok: bool,
    rcode: &'static str,
    answer: &'static [&'static str],
}

/// tinydns answers old.www.example.info from `*.example.info` (its
/// wildcard rule is not RFC 4592's).
const TINYDNS_OLD: &[&str] = &["old.www.example.info. CNAME subspace.example.info."];

const CASES: &[Case] = &[
    Case {
        name: "www.example.info",
        qtype: "A",
        dnssec_ok: false,
        rcode: "NOERROR",
        answer: &["www.example.info. A 192.0.2.10"],
    },
    Case {
        name: "www.example.info",
        qtype: "AAAA",
        dnssec_ok: true,
        rcode: "NOERROR",
        answer: &["www.example.info. AAAA 2001:db8::10"],
    },
    Case {
        name: "example.info",
        qtype: "MX",
        dnssec_ok: false,
        rcode: "NOERROR",
        answer: &[
            "example.info. MX 10 mx1.mail-forward.example.com.",
            "example.info. MX 20 mx2.mail-forward.example.com.",
        ],
    },
    Case {
        name: "laptop.example.info",
        qtype: "A",
        dnssec_ok: true,
        rcode: "NOERROR",
        answer: &[
            "laptop.example.info. CNAME subspace.example.info.",
            "subspace.example.info. A 203.0.113.7",
        ],
    },
    Case {
        name: "web.host.example.info",
        qtype: "A",
        dnssec_ok: false,
        rcode: "NOERROR",
        answer: &[
            "web.host.example.info. CNAME host.example.info.",
            "host.example.info. A 198.51.100.20",
        ],
    },
    // NXDOMAIN under RFC 4592 (www has no wildcard); tinydns's own rule
    // answers from `*.example.info` instead (checked separately below).
    Case {
        name: "old.www.example.info",
        qtype: "A",
        dnssec_ok: false,
        rcode: "NXDOMAIN",
        answer: &[],
    },
    Case {
        name: "h3.bench.example",
        qtype: "A",
        dnssec_ok: false,
        rcode: "NOERROR",
        answer: &["h3.bench.example. A 198.18.0.3"],
    },
    Case {
        name: "h2.bench.example",
        qtype: "MX",
        dnssec_ok: false,
        rcode: "NOERROR",
        answer: &["h2.bench.example. MX 10 mx2.bench.example."],
    },
];

/// Runs every case against `kind`; fails with the differences.
pub fn spot_check(kind: Kind) -> Result<usize> {
    let mut errors = Vec::new();
    for case in CASES {
        let (rcode, answer) = kdig(kind.addr(), case.name, case.qtype, case.dnssec_ok)?;
        let (want_rcode, want): (&str, Vec<String>) = match kind {
            // The ceiling reflects the query: QR set, nothing answered.
            Kind::Swap => ("NOERROR", Vec::new()),
            Kind::Tinydns if case.name == "old.www.example.info" => {
                ("NOERROR", normalize(TINYDNS_OLD.iter().copied()))
            }
            // tinydns does not follow a CNAME to its target's records.
            Kind::Tinydns => (
                case.rcode,
                normalize(
                    case.answer
                        .iter()
                        .copied()
                        .filter(|r| r.starts_with(&format!("{}. ", case.name))),
                ),
            ),
            _ => (case.rcode, normalize(case.answer.iter().copied())),
        };
        if rcode != want_rcode || answer != want {
            errors.push(format!(
                "{} {}{}: got {rcode} {answer:?}, expected {want_rcode} {want:?}",
                case.name,
                case.qtype,
                if case.dnssec_ok { " +dnssec" } else { "" }
            ));
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} answers wrongly:\n  {}",
            kind.name(),
            errors.join("\n  ")
        );
    }
    Ok(CASES.len())
}

/// `kdig @addr name type +norecurse [+dnssec]` from the client namespace:
/// the RCODE and the answer section as normalized records.
fn kdig(addr: IpAddr, name: &str, qtype: &str, dnssec_ok: bool) -> Result<(String, Vec<String>)> {
    let mut cmd = client("kdig");
    cmd.arg(format!("@{addr}"))
        .args([name, qtype, "+norecurse", "+timeout=5", "+retry=2"]);
    if dnssec_ok {
        cmd.arg("+dnssec");
    }
    let out = cmd.output().context("cannot run kdig")?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_kdig(&text).with_context(|| {
        format!(
            "no answer from {addr} to {name} {qtype}: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn parse_kdig(text: &str) -> Option<(String, Vec<String>)> {
    let rcode = text
        .lines()
        .find_map(|l| l.split("status: ").nth(1))?
        .split(';')
        .next()?
        .trim()
        .to_owned();
    let mut answer = Vec::new();
    let mut in_answer = false;
    for line in text.lines() {
        if line.starts_with(";; ANSWER SECTION:") {
            in_answer = true;
        } else if in_answer && (line.trim().is_empty() || line.starts_with(";;")) {
            break;
        } else if in_answer {
            answer.push(line.to_owned());
        }
    }
    Some((rcode, normalize(answer.iter().map(String::as_str))))
}

/// `owner TTL IN type rdata` (any spacing, any case) → `owner type rdata`,
/// lowercase, sorted.
fn normalize<'a>(records: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = records
        .map(|r| {
            let f: Vec<&str> = r.split_whitespace().collect();
            let rest = match f.as_slice() {
                [owner, ttl, "IN", rest @ ..] if ttl.parse::<u32>().is_ok() => {
                    let mut v = vec![*owner];
                    v.extend_from_slice(rest);
                    v
                }
                _ => f,
            };
            rest.join(" ").to_lowercase()
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kdig_output() {
        let text = ";; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 1\n;; Flags: qr aa; QUERY: 1; ANSWER: 2; AUTHORITY: 0; ADDITIONAL: 0\n\n;; QUESTION SECTION:\n;; foo.example.info. \t\tIN\tA\n\n;; ANSWER SECTION:\nfoo.example.info.   \t3600\tIN\tCNAME\tsubspace.example.info.\nsubspace.example.info.\t300\tIN\tA\t203.0.113.7\n\n;; Received 80 B\n";
        let (rcode, answer) = parse_kdig(text).expect("parses");
        assert_eq!(rcode, "NOERROR");
        assert_eq!(
            answer,
            vec![
                "foo.example.info. cname subspace.example.info.",
                "subspace.example.info. a 203.0.113.7"
            ]
        );
        assert!(parse_kdig(";; WARNING: response timeout\n").is_none());
    }

    #[test]
    fn expected_records_normalize_like_kdig_output() {
        assert_eq!(
            normalize(["WWW.example.info. A 192.0.2.10"].into_iter()),
            normalize(["www.example.info.\t60\tIN\tA\t192.0.2.10"].into_iter())
        );
    }
}
