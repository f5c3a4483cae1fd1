//! Shared pieces of the differential tests: test cases, checklist
//! expectations and the comparison loop.

#![allow(dead_code)]

pub mod model;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use dnsd_e2e::client::{self, Transport};
use dnsd_e2e::normalize::{Field, Response, diff, rcode_name};
use dnsd_e2e::servers::{Kind, Server};
use dnsd_e2e::wire::{self, Edns, QueryBuilder};

/// How two servers' answers to a case are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Every field.
    Full,
    /// QTYPE ANY (checklist 49): servers legitimately pick different RRsets,
    /// so the sections are not compared; the expectation checks them.
    AnySubset,
}

/// What the query was, for expectations and deliberate-difference rules.
#[derive(Debug, Clone)]
pub struct Meta {
    /// Lower-cased QNAME with a trailing dot (empty if no question).
    pub qname: String,
    pub qtype: u16,
    pub qclass: u16,
    pub opcode: u8,
    pub flags: u16,
    pub qdcount: u16,
    pub edns: Option<Edns>,
    pub edns_count: usize,
    /// The query is deliberately malformed.
    pub malformed: bool,
    /// Raw question bytes of the query (for checklist 1).
    pub question: Vec<u8>,
}

/// One query sent to every server.
pub struct Case {
    /// Checklist items this case exercises.
    pub items: Vec<u32>,
    pub label: String,
    pub query: Vec<u8>,
    pub transport: Transport,
    pub compare: Compare,
    pub meta: Meta,
    /// Checklist expectations, asserted on dnsd's response.
    pub expect: Vec<Expect>,
}

impl Case {
    /// A case from a builder; `meta` is derived from it.
    pub fn new(
        items: &[u32],
        label: impl Into<String>,
        q: &QueryBuilder,
        transport: Transport,
    ) -> Case {
        let query = q.build();
        let (qname, qtype, qclass) = q
            .questions
            .first()
            .map(|(n, t, c)| (wire_name_lc(n), *t, *c))
            .unwrap_or_default();
        let qlen: usize = q.questions.iter().map(|(n, _, _)| n.len() + 4).sum();
        let meta = Meta {
            qname,
            qtype,
            qclass,
            opcode: q.opcode,
            flags: q.flags,
            qdcount: q.qdcount.unwrap_or(q.questions.len() as u16),
            edns: q.edns.first().cloned(),
            edns_count: q.edns.len(),
            malformed: false,
            question: query[12..12 + qlen.min(query.len() - 12)].to_vec(),
        };
        let mut label = label.into();
        if transport == Transport::Tcp {
            label.push_str(" /tcp");
        }
        let mut items = items.to_vec();
        items.sort();
        items.dedup();
        Case {
            items,
            label,
            query,
            transport,
            compare: Compare::Full,
            meta,
            expect: Vec::new(),
        }
    }

    /// A case with raw, possibly malformed, query bytes.
    pub fn raw(
        items: &[u32],
        label: impl Into<String>,
        query: Vec<u8>,
        transport: Transport,
    ) -> Case {
        let flags = if query.len() >= 4 {
            u16::from_be_bytes([query[2], query[3]]) & 0x87f0
        } else {
            0
        };
        Case {
            items: items.to_vec(),
            label: label.into(),
            meta: Meta {
                qname: String::new(),
                qtype: 0,
                qclass: 0,
                opcode: if query.len() > 2 {
                    (query[2] >> 3) & 0xf
                } else {
                    0
                },
                flags,
                qdcount: if query.len() >= 6 {
                    u16::from_be_bytes([query[4], query[5]])
                } else {
                    0
                },
                edns: None,
                edns_count: 0,
                malformed: true,
                question: Vec::new(),
            },
            query,
            transport,
            compare: Compare::Full,
            expect: Vec::new(),
        }
    }

    pub fn expect(mut self, e: Expect) -> Case {
        self.expect.push(e);
        self
    }

    pub fn compare(mut self, c: Compare) -> Case {
        self.compare = c;
        self
    }

    pub fn tagged(&self) -> String {
        let items: Vec<String> = self.items.iter().map(|i| i.to_string()).collect();
        format!("[{}] {}", items.join(","), self.label)
    }
}

/// Lower-cased presentation form of a wire name with a trailing dot.
pub fn wire_name_lc(n: &[u8]) -> String {
    let mut out = String::new();
    let mut p = 0;
    while p < n.len() && n[p] != 0 {
        let l = n[p] as usize;
        for &b in &n[p + 1..(p + 1 + l).min(n.len())] {
            out.push((b as char).to_ascii_lowercase());
        }
        out.push('.');
        p += 1 + l;
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

/// A checklist expectation on one response.
#[derive(Debug, Clone)]
pub enum Expect {
    /// No response at all (e.g. QR=1, checklist 3).
    NoResponse,
    /// A response with this (extended) RCODE.
    Rcode(u16),
    /// One of these RCODEs, or no response (malformed input, checklist 8).
    RcodeOrDrop(Vec<u16>),
    Aa(bool),
    Tc(bool),
    /// The answer holds exactly these (owner, type) RRsets (owners
    /// compared case-insensitively), in any order.
    Answer(Vec<(String, u16)>),
    /// The answer holds exactly the zone file's RRset(s) (owner, type) with
    /// the owner replaced by the QNAME as sent: checked via (owner, type,
    /// rdata) texts.
    AnswerRecords(Vec<(String, u16, String)>),
    /// Like `AnswerRecords`, but RDATA compared with its letter case
    /// (checklist 26: RDATA keeps its stored case).
    AnswerRecordsExact(Vec<(String, u16, String)>),
    /// The answer holds at least these records (CNAME loops, chases into
    /// another zone).
    AnswerContains(Vec<(String, u16, String)>),
    AnswerEmpty,
    /// One of these RCODEs (never a drop).
    RcodeIn(Vec<u16>),
    /// The message is at most this long.
    MaxLen(usize),
    /// Authority = the SOA of this zone, with this TTL (RFC 2308).
    AuthoritySoa {
        zone: String,
        ttl: u32,
    },
    /// Authority = this NS RRset only (a referral).
    AuthorityNs(String),
    /// Authority empty, or only the NS RRset of this zone's apex (item 25).
    AuthorityEmptyOrApexNs(String),
    /// These (owner, type) records are in the additional section.
    AdditionalHas(Vec<(String, u16)>),
    /// Every answer owner is spelled exactly like the QNAME (0x20, item 14).
    OwnersAsSent,
    /// QTYPE ANY (49): NOERROR, AA, a non-empty answer whose records are all
    /// at the QNAME and part of the zone data (or a synthesized HINFO).
    AnySubset(Vec<(String, u16, String)>),
}

/// Owners are stored with the trailing dot, lower-cased.
pub fn fqdn(s: &str) -> String {
    let s = s.to_ascii_lowercase();
    if s.ends_with('.') { s } else { format!("{s}.") }
}

impl Expect {
    pub fn check(&self, case: &Case, r: Option<&Response>) -> Result<(), String> {
        use Expect::*;
        match (self, r) {
            (NoResponse, None) => return Ok(()),
            (NoResponse, Some(_)) => return Err("expected no response".into()),
            (RcodeOrDrop(_), None) => return Ok(()),
            (_, None) => return Err("expected a response, got none".into()),
            _ => {}
        }
        let r = r.expect("checked above");
        let fail = |m: String| Err(m);
        // A truncated response carries no records to check (checklist 42).
        let content = matches!(
            self,
            Answer(_)
                | AnswerRecords(_)
                | AnswerRecordsExact(_)
                | AnySubset(_)
                | AnswerContains(_)
                | AuthoritySoa { .. }
                | AuthorityNs(_)
                | AuthorityEmptyOrApexNs(_)
                | AdditionalHas(_)
                | OwnersAsSent
        );
        if r.tc && content {
            return Ok(());
        }
        match self {
            NoResponse => unreachable!(),
            Rcode(c) if r.rcode != *c => fail(format!(
                "RCODE {} expected, got {}",
                rcode_name(*c),
                rcode_name(r.rcode)
            )),
            Rcode(_) => Ok(()),
            RcodeOrDrop(cs) if !cs.contains(&r.rcode) => fail(format!(
                "RCODE one of {cs:?} (or a drop) expected, got {}",
                rcode_name(r.rcode)
            )),
            RcodeOrDrop(_) => Ok(()),
            Aa(b) if r.aa != *b => fail(format!("AA={b} expected")),
            Tc(b) if r.tc != *b => fail(format!("TC={b} expected")),
            Aa(_) | Tc(_) => Ok(()),
            Answer(want) => {
                let mut want: Vec<(String, u16)> =
                    want.iter().map(|(o, t)| (fqdn(o), *t)).collect();
                want.sort();
                want.dedup();
                let mut got: Vec<(String, u16)> =
                    r.answer.iter().map(|x| (x.owner_lc(), x.rtype)).collect();
                got.sort();
                got.dedup();
                if got != want {
                    return fail(format!("answer RRsets {want:?} expected, got {got:?}"));
                }
                Ok(())
            }
            AnswerRecords(want) | AnswerRecordsExact(want) => {
                // Names in RDATA may be compressed against the QNAME and so
                // take its case; only the Exact variant looks at case.
                let exact = matches!(self, AnswerRecordsExact(_));
                let norm = |d: &str| {
                    if exact {
                        d.to_string()
                    } else {
                        d.to_ascii_lowercase()
                    }
                };
                let mut want: Vec<(String, u16, String)> = want
                    .iter()
                    .map(|(o, t, d)| (fqdn(o), *t, norm(d)))
                    .collect();
                want.sort();
                let mut got: Vec<(String, u16, String)> = r
                    .answer
                    .iter()
                    .map(|x| (x.owner_lc(), x.rtype, norm(&x.rdata)))
                    .collect();
                got.sort();
                if got != want {
                    return fail(format!("answer records {want:?} expected, got {got:?}"));
                }
                Ok(())
            }
            AnswerContains(want) => {
                for (o, t, d) in want {
                    if !r.answer.iter().any(|x| {
                        x.owner_lc() == fqdn(o) && x.rtype == *t && x.rdata.eq_ignore_ascii_case(d)
                    }) {
                        return fail(format!(
                            "answer must contain {o} {} {d}",
                            wire::type_name(*t)
                        ));
                    }
                }
                Ok(())
            }
            RcodeIn(cs) if !cs.contains(&r.rcode) => fail(format!(
                "RCODE one of {cs:?} expected, got {}",
                rcode_name(r.rcode)
            )),
            RcodeIn(_) => Ok(()),
            MaxLen(n) if r.len > *n => fail(format!("response of {} bytes exceeds {n}", r.len)),
            MaxLen(_) => Ok(()),
            AnswerEmpty if !r.answer.is_empty() => fail("empty answer expected".into()),
            AnswerEmpty => Ok(()),
            AuthoritySoa { zone, ttl } => {
                let soa: Vec<_> = r
                    .authority
                    .iter()
                    .filter(|x| x.rtype == wire::rtype::SOA)
                    .collect();
                if soa.len() != 1 || soa[0].owner_lc() != fqdn(zone) {
                    return fail(format!("authority must hold the SOA of {zone}"));
                }
                if soa[0].ttl != *ttl {
                    return fail(format!(
                        "negative-answer SOA TTL {} expected (RFC 2308 §3), got {}",
                        ttl, soa[0].ttl
                    ));
                }
                if r.authority.len() != 1 {
                    return fail("authority must hold only the SOA".into());
                }
                Ok(())
            }
            AuthorityNs(owner) => {
                if r.authority.is_empty()
                    || r.authority
                        .iter()
                        .any(|x| x.rtype != wire::rtype::NS || x.owner_lc() != fqdn(owner))
                {
                    return fail(format!("authority must be the NS RRset of {owner}"));
                }
                Ok(())
            }
            AuthorityEmptyOrApexNs(apex) => {
                if r.authority
                    .iter()
                    .any(|x| x.rtype != wire::rtype::NS || x.owner_lc() != fqdn(apex))
                {
                    return fail(format!("authority must be empty or the NS RRset of {apex}"));
                }
                Ok(())
            }
            AdditionalHas(want) => {
                for (o, t) in want {
                    if !r
                        .additional
                        .iter()
                        .any(|x| x.owner_lc() == fqdn(o) && x.rtype == *t)
                    {
                        return fail(format!("additional must hold {o} {}", wire::type_name(*t)));
                    }
                }
                Ok(())
            }
            OwnersAsSent => {
                let sent = dnsd_e2e::normalize::question_text(&case.meta.question);
                let sent_name = sent.split(' ').next().unwrap_or("").to_string();
                for x in &r.answer {
                    if x.owner_lc() == sent_name.to_ascii_lowercase() && x.owner != sent_name {
                        return fail(format!(
                            "answer owner {} not spelled as sent ({sent_name})",
                            x.owner
                        ));
                    }
                }
                Ok(())
            }
            AnySubset(zone_rrs) => {
                if r.rcode != 0 || !r.aa {
                    return fail("ANY: NOERROR with AA=1 expected".into());
                }
                if r.answer.is_empty() {
                    return fail("ANY: non-empty answer expected (RFC 8482)".into());
                }
                for x in &r.answer {
                    let synth = x.rtype == wire::rtype::HINFO && x.rdata.contains("RFC8482");
                    let known = zone_rrs.iter().any(|(o, t, d)| {
                        fqdn(o) == x.owner_lc() && *t == x.rtype && d.eq_ignore_ascii_case(&x.rdata)
                    });
                    if !(synth || known) || x.owner_lc() != case.meta.qname {
                        return fail(format!("ANY: {x} is not the QNAME's zone data"));
                    }
                }
                Ok(())
            }
        }
    }
}

/// Checks that every response must pass, whatever the query (checklist 1, 2,
/// 35, 36, 40-42, 47, 78; 75/76 are checked while parsing).
pub fn invariants(case: &Case, raw: &[u8], r: &Response) -> Vec<String> {
    let mut errs = Vec::new();
    let m = &case.meta;
    let q = &case.query;
    if r.id != wire::header_id(q) {
        errs.push("[1] ID not copied".into());
    }
    if !r.qr {
        errs.push("[1] QR=0 in a response".into());
    }
    if r.opcode != m.opcode {
        errs.push(format!(
            "[1] opcode {} not echoed (got {})",
            m.opcode, r.opcode
        ));
    }
    if !m.malformed && m.qdcount == 1 && r.question != m.question {
        errs.push(format!(
            "[1] question not copied byte for byte: sent {:?}, got {:?}",
            dnsd_e2e::normalize::question_text(&m.question),
            dnsd_e2e::normalize::question_text(&r.question)
        ));
    }
    if r.rd != (m.flags & wire::RD != 0) {
        errs.push("[2] RD not copied".into());
    }
    if r.ra {
        errs.push("[2] RA set by an authoritative-only server".into());
    }
    if r.z {
        errs.push("[2] Z set".into());
    }
    if r.ad || r.cd {
        errs.push("[2] AD/CD echoed".into());
    }
    if r.opt_count > 1 {
        errs.push("[35] more than one OPT".into());
    }
    match (&m.edns, &r.opt) {
        (None, Some(_)) if !m.malformed => {
            errs.push("[36] OPT in a response to a query without one".into())
        }
        (Some(e), Some(o)) => {
            if o.version != 0 {
                errs.push("[35] response OPT version is not 0".into());
            }
            if !o.root_owner {
                errs.push("[35] response OPT owner is not the root".into());
            }
            if o.z != 0 {
                errs.push("[39] MBZ EDNS flags set in the response".into());
            }
            if o.options.iter().any(|(c, _)| *c == 100 || *c == 65001) {
                errs.push("[39] unknown EDNS option echoed".into());
            }
            if e.version == 0
                && m.edns_count == 1
                && r.rcode != wire::rcode::FORMERR
                && o.dnssec_ok != e.dnssec_ok
            {
                errs.push("[40] DO bit not copied".into());
            }
            if o.udp_size < 512 {
                errs.push("[35] response advertises a UDP size below 512".into());
            }
        }
        (Some(e), None)
            if m.edns_count == 1
                && e.owner == [0]
                && !m.malformed
                && r.rcode != wire::rcode::FORMERR =>
        {
            errs.push("[35] no OPT in the response to an EDNS query".into())
        }
        _ => {}
    }
    if case.transport == Transport::Udp {
        let limit = match &m.edns {
            Some(e) if m.edns_count == 1 => (e.udp_size as usize).max(512),
            _ => 512,
        };
        if raw.len() > limit {
            errs.push(format!(
                "[78/41] UDP response of {} bytes exceeds the limit {limit}",
                raw.len()
            ));
        }
        if r.tc && !r.answer.is_empty() {
            errs.push("[42] TC response carries answer records (ANCOUNT must be 0)".into());
        }
    } else if r.tc {
        errs.push("[47] TC set over TCP".into());
    }
    errs
}

/// A difference between two servers that is acceptable, with the reason.
#[derive(Clone, Copy)]
pub struct Deliberate {
    pub item: u32,
    pub reason: &'static str,
    /// Whether this entry explains `field` differing between the two
    /// responses.
    pub applies: fn(&Pair<'_>) -> bool,
}

/// Two servers' answers to one case.
pub struct Pair<'a> {
    pub case: &'a Case,
    pub field: Field,
    pub a: Kind,
    pub ra: Option<&'a Response>,
    pub b: Kind,
    pub rb: Option<&'a Response>,
}

impl Pair<'_> {
    /// The response of server `k` in this pair (None if `k` is not in it or
    /// did not answer).
    pub fn of(&self, k: Kind) -> Option<&Response> {
        if self.a == k {
            self.ra
        } else if self.b == k {
            self.rb
        } else {
            None
        }
    }
    pub fn has(&self, k: Kind) -> bool {
        self.a == k || self.b == k
    }
    /// The other server's response.
    pub fn other(&self, k: Kind) -> Option<&Response> {
        if self.a == k { self.rb } else { self.ra }
    }
    pub fn both(&self) -> Option<(&Response, &Response)> {
        Some((self.ra?, self.rb?))
    }
}

/// Differences of one pair, split into explained (by table index) and not.
#[derive(Default)]
pub struct PairResult {
    pub explained: Vec<(usize, Field)>,
    pub unexplained: Vec<Field>,
}

pub fn compare_pair(
    table: &[Deliberate],
    case: &Case,
    a: Kind,
    ra: Option<&Response>,
    b: Kind,
    rb: Option<&Response>,
) -> PairResult {
    let mut fields = diff(ra, rb);
    if case.compare == Compare::AnySubset {
        fields.retain(|f| !matches!(f, Field::Answer | Field::Authority | Field::Additional));
    }
    let mut out = PairResult::default();
    for field in fields {
        let pair = Pair {
            case,
            field,
            a,
            ra,
            b,
            rb,
        };
        match table.iter().position(|d| (d.applies)(&pair)) {
            Some(i) => out.explained.push((i, field)),
            None => out.unexplained.push(field),
        }
    }
    out
}

/// Sends every case to every server (one thread per server); returns the
/// raw responses, per case in server order.
pub fn run_all(servers: &[&Server], cases: &[Case]) -> Vec<Vec<Option<Vec<u8>>>> {
    let expect_drop = |c: &Case| {
        c.expect
            .iter()
            .any(|e| matches!(e, Expect::NoResponse | Expect::RcodeOrDrop(_)))
    };
    let per_server: Vec<Vec<Option<Vec<u8>>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = servers
            .iter()
            .map(|s| {
                scope.spawn(move || {
                    cases
                        .iter()
                        .map(|c| {
                            if c.transport == Transport::Tcp && !s.tcp {
                                return None;
                            }
                            let timeout =
                                if expect_drop(c) || c.meta.malformed || c.meta.qdcount != 1 {
                                    client::DROP_TIMEOUT
                                } else {
                                    client::TIMEOUT
                                };
                            client::exchange(s.addr, c.transport, &c.query, timeout)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("query thread"))
            .collect()
    });
    (0..cases.len())
        .map(|i| per_server.iter().map(|v| v[i].clone()).collect())
        .collect()
}

/// Result of a whole differential run.
#[derive(Default)]
pub struct Report {
    pub total: usize,
    pub identical: usize,
    pub deliberate: BTreeMap<usize, usize>,
    pub deliberate_cases: usize,
    pub one_peer: usize,
    pub failures: Vec<String>,
    pub expectation_failures: Vec<String>,
    pub invariant_failures: Vec<String>,
}

/// Compares `subject` (index into `servers`) against each of `peers`.
///
/// Rule: every difference between the subject and a peer must be explained
/// by `table`; where the peers disagree among themselves on a case, it is
/// enough that the subject has no unexplained difference with one of them.
pub fn compare_all(
    table: &[Deliberate],
    kinds: &[Kind],
    subject: usize,
    peers: &[usize],
    cases: &[Case],
    raws: &[Vec<Option<Vec<u8>>>],
    check_expectations: bool,
) -> Report {
    let mut rep = Report::default();
    for (case, raw) in cases.iter().zip(raws) {
        rep.total += 1;
        let mut parsed: Vec<Option<Response>> = Vec::new();
        let mut broken = false;
        for (k, r) in kinds.iter().zip(raw) {
            match r.as_deref().map(Response::parse).transpose() {
                Ok(p) => parsed.push(p),
                Err(e) => {
                    rep.failures.push(format!(
                        "{}: {k}'s response does not parse: {e}",
                        case.tagged()
                    ));
                    parsed.push(None);
                    broken = true;
                }
            }
        }
        if broken {
            continue;
        }
        let sk = kinds[subject];
        let sr = parsed[subject].as_ref();
        if check_expectations {
            if let (Some(r), Some(raw)) = (sr, raw[subject].as_deref()) {
                for e in invariants(case, raw, r) {
                    rep.invariant_failures.push(format!(
                        "{}: {sk}: {e}\n{}",
                        case.tagged(),
                        r.render()
                    ));
                }
            }
            for e in &case.expect {
                if let Err(msg) = e.check(case, sr) {
                    rep.expectation_failures.push(format!(
                        "{}: {sk}: {msg}\n{}",
                        case.tagged(),
                        sr.map(|r| r.render())
                            .unwrap_or_else(|| "  (no response)\n".into())
                    ));
                }
            }
        }
        let results: Vec<(usize, PairResult)> = peers
            .iter()
            .map(|&p| {
                (
                    p,
                    compare_pair(table, case, sk, sr, kinds[p], parsed[p].as_ref()),
                )
            })
            .collect();
        let peers_disagree = peers.len() > 1 && {
            let (p, q) = (peers[0], peers[1]);
            !diff(parsed[p].as_ref(), parsed[q].as_ref()).is_empty()
        };
        let clean: Vec<bool> = results
            .iter()
            .map(|(_, r)| r.unexplained.is_empty())
            .collect();
        let any_diff = results
            .iter()
            .any(|(_, r)| !r.explained.is_empty() || !r.unexplained.is_empty());
        if clean.iter().all(|c| *c) {
            if !any_diff {
                rep.identical += 1;
            } else {
                rep.deliberate_cases += 1;
                let mut seen = std::collections::BTreeSet::new();
                for (_, r) in &results {
                    for (i, _) in &r.explained {
                        seen.insert(*i);
                    }
                }
                for i in seen {
                    *rep.deliberate.entry(i).or_default() += 1;
                }
            }
        } else if peers_disagree && clean.iter().any(|c| *c) {
            rep.one_peer += 1;
        } else {
            let mut msg = format!("{}:\n", case.tagged());
            for (p, r) in &results {
                if !r.unexplained.is_empty() {
                    let _ = writeln!(msg, "  differs from {} in {:?}", kinds[*p], r.unexplained);
                }
            }
            for (k, r) in kinds.iter().zip(&parsed) {
                let _ = write!(
                    msg,
                    "  -- {k}:\n{}",
                    r.as_ref()
                        .map(|r| r
                            .render()
                            .lines()
                            .map(|l| format!("    {l}\n"))
                            .collect::<String>())
                        .unwrap_or_else(|| "    (no response)\n".into())
                );
            }
            rep.failures.push(msg);
        }
    }
    rep
}

impl Report {
    pub fn print(&self, title: &str, table: &[Deliberate]) {
        eprintln!("==== {title}");
        eprintln!(
            "{} queries, {} identical, {} with deliberate differences only, {} where the peers disagree and the subject matches one, {} failing",
            self.total,
            self.identical,
            self.deliberate_cases,
            self.one_peer,
            self.failures.len()
        );
        for (i, n) in &self.deliberate {
            let d = &table[*i];
            eprintln!("  deliberate (item {}): {n} queries: {}", d.item, d.reason);
        }
        for (name, list) in [
            ("differences", &self.failures),
            ("checklist expectations not met", &self.expectation_failures),
            ("invariants broken", &self.invariant_failures),
        ] {
            if !list.is_empty() {
                eprintln!("---- {} {name} (first 40):", list.len());
                for f in list.iter().take(40) {
                    eprintln!("{f}");
                }
            }
        }
    }
}

/// Wait used by tests that expect a server to drop a query.
pub const DROP: Duration = client::DROP_TIMEOUT;
