//! An independent, deliberately small model of authoritative lookup (RFC 1034
//! §4.3.2, RFC 2308, RFC 4592, RFC 4035 §3.1.4.1, RFC 6604) over the zone
//! fixtures. It turns a (QNAME, QTYPE) into checklist expectations. It shares
//! no code with dnsd; its own correctness is checked by asserting the same
//! expectations against NSD and Knot (modulo their documented deviations).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use dnsd_e2e::wire::{rcode, rtype};
use dnsd_e2e::zonefile::ZoneRr;

use super::{Expect, fqdn};

/// One zone of the model.
pub struct Zone {
    pub apex: String,
    /// Records by lower-cased owner.
    pub names: BTreeMap<String, Vec<ZoneRr>>,
    /// Every existing name, empty non-terminals included.
    pub exists: BTreeSet<String>,
    /// RFC 2308 negative TTL: min(SOA TTL, SOA MINIMUM).
    pub neg_ttl: u32,
}

impl Zone {
    pub fn new(apex: &str, rrs: Vec<ZoneRr>) -> Zone {
        let apex = fqdn(apex);
        let mut names: BTreeMap<String, Vec<ZoneRr>> = BTreeMap::new();
        let mut exists = BTreeSet::new();
        let mut neg_ttl = 0;
        for r in rrs {
            if r.rtype == rtype::SOA {
                let minimum: u32 = r
                    .rdata
                    .split_whitespace()
                    .last()
                    .and_then(|m| m.parse().ok())
                    .expect("SOA MINIMUM");
                neg_ttl = r.ttl.min(minimum);
            }
            let mut n = r.owner.clone();
            loop {
                exists.insert(n.clone());
                if n == apex {
                    break;
                }
                n = parent(&n).expect("owner under the apex");
            }
            names.entry(r.owner.clone()).or_default().push(r);
        }
        Zone {
            apex,
            names,
            exists,
            neg_ttl,
        }
    }

    fn contains(&self, name: &str) -> bool {
        name == self.apex || name.ends_with(&format!(".{}", self.apex))
    }

    fn rrs(&self, name: &str, t: u16) -> Vec<ZoneRr> {
        self.names
            .get(name)
            .map(|v| v.iter().filter(|r| r.rtype == t).cloned().collect())
            .unwrap_or_default()
    }

    /// The highest zone cut at or above `name` (below the apex).
    fn cut(&self, name: &str) -> Option<String> {
        let mut chain = Vec::new();
        let mut n = name.to_string();
        while n != self.apex {
            chain.push(n.clone());
            n = parent(&n)?;
        }
        chain
            .into_iter()
            .rev()
            .find(|c| !self.rrs(c, rtype::NS).is_empty())
    }

    /// Addresses for in-bailiwick NS targets of `cut` (the glue).
    fn glue(&self, cut: &str) -> Vec<(String, u16)> {
        let mut out = Vec::new();
        for ns in self.rrs(cut, rtype::NS) {
            let target = fqdn(&ns.rdata);
            if target == cut || target.ends_with(&format!(".{cut}")) {
                for t in [rtype::A, rtype::AAAA] {
                    if !self.rrs(&target, t).is_empty() {
                        out.push((target.clone(), t));
                    }
                }
            }
        }
        out
    }
}

/// `a.b.c.` → `b.c.`; the root has no parent.
pub fn parent(n: &str) -> Option<String> {
    if n == "." {
        return None;
    }
    let i = n.find('.')?;
    let rest = &n[i + 1..];
    Some(if rest.is_empty() {
        ".".into()
    } else {
        rest.into()
    })
}

/// What a correct server answers.
#[derive(Debug, Clone)]
pub enum Outcome {
    Refused,
    /// NOERROR/NXDOMAIN with AA=1: `answer` records, then either an SOA
    /// (negative, with `neg_ttl`) or optional apex NS in authority.
    Auth {
        rcode: u16,
        answer: Vec<(String, u16, String)>,
        /// The answer must contain `answer` but may hold more (a chase into
        /// another zone).
        at_least: bool,
        negative: bool,
        referral: Option<(String, Vec<(String, u16)>)>,
    },
    /// A referral (AA=0).
    Referral {
        cut: String,
        glue: Vec<(String, u16)>,
    },
    /// QTYPE ANY at an existing name: a non-empty subset of these.
    Any(Vec<(String, u16, String)>),
}

pub struct Model {
    pub zones: Vec<Zone>,
}

impl Model {
    fn zone_for(&self, name: &str) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|z| z.contains(name))
            .max_by_key(|z| z.apex.len())
    }

    /// The outcome of (qname, qtype).
    pub fn resolve(&self, qname: &str, qtype: u16) -> (Outcome, Option<&Zone>) {
        let qname = fqdn(qname);
        let Some(zone) = self.zone_for(&qname) else {
            return (Outcome::Refused, None);
        };
        let mut answer: Vec<(String, u16, String)> = Vec::new();
        let mut current = qname.clone();
        let mut visited = BTreeSet::new();
        let mut z = zone;
        loop {
            visited.insert(current.clone());
            // Zone cut (the parent answers DS at the cut itself).
            if let Some(cut) = z.cut(&current)
                && !(qtype == rtype::DS && cut == current)
            {
                let glue = z.glue(&cut);
                if answer.is_empty() {
                    return (Outcome::Referral { cut, glue }, Some(zone));
                }
                return (
                    Outcome::Auth {
                        rcode: rcode::NOERROR,
                        answer,
                        at_least: false,
                        negative: false,
                        referral: Some((cut, glue)),
                    },
                    Some(zone),
                );
            }
            // Exact name, else wildcard at the closest encloser.
            let source = if z.names.contains_key(&current) {
                Some(current.clone())
            } else if z.exists.contains(&current) {
                None // empty non-terminal: NODATA
            } else {
                let mut ce = parent(&current).expect("below apex");
                while !z.exists.contains(&ce) {
                    ce = parent(&ce).expect("apex exists");
                }
                let wild = format!("*.{ce}");
                if z.names.contains_key(&wild) {
                    Some(wild)
                } else {
                    let _ = ce;
                    return (
                        Outcome::Auth {
                            rcode: rcode::NXDOMAIN,
                            answer,
                            at_least: false,
                            negative: true,
                            referral: None,
                        },
                        Some(z),
                    );
                }
            };
            let Some(source) = source else {
                return (
                    Outcome::Auth {
                        rcode: rcode::NOERROR,
                        answer,
                        at_least: false,
                        negative: true,
                        referral: None,
                    },
                    Some(z),
                );
            };
            let rrs = &z.names[&source];
            let synth = |r: &ZoneRr| (current.clone(), r.rtype, r.rdata.clone());
            if qtype == rtype::ANY && answer.is_empty() {
                return (Outcome::Any(rrs.iter().map(synth).collect()), Some(z));
            }
            let cname: Vec<&ZoneRr> = rrs.iter().filter(|r| r.rtype == rtype::CNAME).collect();
            if let Some(c) = cname.first()
                && qtype != rtype::CNAME
            {
                answer.push(synth(c));
                let target = fqdn(&c.rdata);
                if visited.contains(&target) || answer.len() > 8 {
                    // A loop: the chain so far (servers differ in how far
                    // they follow it).
                    return (
                        Outcome::Auth {
                            rcode: rcode::NOERROR,
                            answer,
                            at_least: true,
                            negative: false,
                            referral: None,
                        },
                        Some(zone),
                    );
                }
                match self.zone_for(&target) {
                    Some(tz) if std::ptr::eq(tz, z) => {
                        current = target;
                        continue;
                    }
                    // Into another of our zones: chasing is allowed but
                    // not required (checklist 21).
                    Some(_) | None => {
                        return (
                            Outcome::Auth {
                                rcode: rcode::NOERROR,
                                answer,
                                at_least: true,
                                negative: false,
                                referral: None,
                            },
                            Some(zone),
                        );
                    }
                }
            }
            let hits: Vec<_> = rrs.iter().filter(|r| r.rtype == qtype).map(synth).collect();
            let negative = hits.is_empty();
            answer.extend(hits);
            let _ = &mut z;
            return (
                Outcome::Auth {
                    rcode: rcode::NOERROR,
                    answer,
                    at_least: false,
                    negative,
                    referral: None,
                },
                Some(z),
            );
        }
    }

    /// Expectations for (qname, qtype).
    pub fn expect(&self, qname: &str, qtype: u16) -> Vec<Expect> {
        let (outcome, zone) = self.resolve(qname, qtype);
        match outcome {
            Outcome::Refused => vec![
                Expect::Rcode(rcode::REFUSED),
                Expect::Aa(false),
                Expect::AnswerEmpty,
            ],
            Outcome::Referral { cut, glue } => vec![
                Expect::Rcode(rcode::NOERROR),
                Expect::Aa(false),
                Expect::AnswerEmpty,
                Expect::AuthorityNs(cut),
                Expect::AdditionalHas(glue),
            ],
            Outcome::Any(rrs) => vec![Expect::AnySubset(rrs)],
            Outcome::Auth {
                rcode,
                answer,
                at_least,
                negative,
                referral,
            } => {
                let zone = zone.expect("zone");
                let mut v = vec![Expect::Rcode(rcode), Expect::Aa(true)];
                if at_least {
                    v.push(Expect::AnswerContains(answer));
                } else {
                    v.push(Expect::AnswerRecords(answer));
                }
                if let Some((cut, glue)) = referral {
                    v.push(Expect::AuthorityNs(cut));
                    v.push(Expect::AdditionalHas(glue));
                } else if negative {
                    v.push(Expect::AuthoritySoa {
                        zone: zone.apex.clone(),
                        ttl: zone.neg_ttl,
                    });
                } else if !at_least {
                    v.push(Expect::AuthorityEmptyOrApexNs(zone.apex.clone()));
                }
                v
            }
        }
    }
}
