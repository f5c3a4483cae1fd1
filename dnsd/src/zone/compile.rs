//! Compilation: config + zone sources → one validated, immutable
//! [`Snapshot`]. All semantic checks live here, each reported with the
//! source line of the record concerned.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::snapshot::{Node, RRset, Snapshot, Zone};
use super::source::{Diagnostic, Origin, Parsed, Severity, SourceRecord};
use super::{master, tinydns};
use crate::config::{Config, WildcardMode, ZoneConfig, ZoneFormat};
use crate::wire::name::Name;
use crate::wire::rdata::{Rdata, Rtype};

/// The result of a successful compilation: the snapshot and its warnings.
#[derive(Debug)]
pub struct Compiled {
    pub snapshot: Snapshot,
    pub warnings: Vec<Diagnostic>,
}

/// Compilation failed; every error and warning found, in source order.
#[derive(Debug, thiserror::Error)]
#[error("{} error(s) in zone data", self.errors().count())]
pub struct CompileError {
    pub diagnostics: Vec<Diagnostic>,
}

impl CompileError {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// One zone to build: its apex, its records and its options.
pub struct ZoneInput {
    pub apex: Name,
    pub records: Vec<SourceRecord>,
    pub wildcards: WildcardMode,
    pub source: PathBuf,
}

/// Compiles every zone the config names. The clock is read once, for
/// tinydns timestamps (tinydns-data.md §3).
pub fn compile(config: &Config) -> Result<Compiled, CompileError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut diagnostics = Vec::new();
    let mut inputs = Vec::new();
    for zc in &config.zones {
        let path = config.zone_path(zc);
        match zc.format {
            ZoneFormat::Rfc1035 => {
                let Some(apex) = zc.name.as_deref().and_then(|n| Name::parse_text(n).ok()) else {
                    continue; // Config::validate rejects this.
                };
                let parsed = master::parse_file(&path, &apex, config.defaults.ttl);
                diagnostics.extend(parsed.diagnostics);
                inputs.push(ZoneInput {
                    apex,
                    records: parsed.records,
                    wildcards: zc.wildcards,
                    source: path,
                });
            }
            ZoneFormat::Tinydns => {
                let opts = tinydns::TinyOptions {
                    default_serial: tinydns_serial(zc, &path),
                };
                let parsed = match tinydns::parse_file(&path, &opts) {
                    Ok(p) => p,
                    Err(e) => {
                        diagnostics.push(Diagnostic::error(
                            Origin::new(&Arc::from(path.as_path()), 0),
                            format!("cannot read: {e}"),
                        ));
                        continue;
                    }
                };
                let (zone_inputs, diags) = split_tinydns(parsed, zc, &path, now);
                diagnostics.extend(diags);
                inputs.extend(zone_inputs);
            }
        }
    }
    compile_inputs(inputs, diagnostics)
}

/// Compiles zones that are already parsed (the core of [`compile`], and
/// what unit tests and benchmarks call).
pub fn compile_inputs(
    inputs: Vec<ZoneInput>,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Compiled, CompileError> {
    let mut snapshot = Snapshot::default();
    for input in inputs {
        let key: Box<[u8]> = input.apex.to_lowercase().as_wire().into();
        if snapshot.apexes.contains_key(&key) {
            diagnostics.push(Diagnostic::error(
                Origin {
                    file: Arc::from(input.source.as_path()),
                    line: 0,
                },
                format!("zone {} is configured more than once", input.apex),
            ));
            continue;
        }
        if let Some(zone) = build_zone(input, &mut diagnostics) {
            snapshot.apexes.insert(key, snapshot.zones.len());
            snapshot.zones.push(zone);
        }
    }
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(CompileError { diagnostics });
    }
    Ok(Compiled {
        snapshot,
        warnings: diagnostics,
    })
}

/// The serial for tinydns `.` lines: deterministic across servers building
/// the same file (tinydns-data.md §8), never the mtime when avoidable.
fn tinydns_serial(zc: &ZoneConfig, path: &Path) -> u32 {
    if let Some(s) = zc.serial {
        return s;
    }
    if let Some(s) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
    {
        return s;
    }
    if let Some(s) = git_commit_time(path) {
        return s;
    }
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as u32)
        .filter(|&s| s != 0)
        .unwrap_or(1)
}

/// Time of the last commit touching `path`, if it is in a git work tree
/// and unmodified.
fn git_commit_time(path: &Path) -> Option<u32> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path.file_name()?;
    let clean = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--"])
        .arg(file)
        .output()
        .ok()?;
    if !clean.status.success() || !clean.stdout.is_empty() {
        return None;
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%ct", "--"])
        .arg(file)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Splits a tinydns file into zones (tinydns-data.md §5: the file has no
/// zone concept; every SOA owner is an apex) and applies the timestamp
/// rules for `now`.
fn split_tinydns(
    parsed: Parsed,
    zc: &ZoneConfig,
    path: &Path,
    now: u64,
) -> (Vec<ZoneInput>, Vec<Diagnostic>) {
    let mut diags = parsed.diagnostics;
    let file: Arc<Path> = Arc::from(path);
    let only = zc.name.as_deref().and_then(|n| Name::parse_text(n).ok());
    let mut apexes: Vec<Name> = Vec::new();
    for r in &parsed.records {
        if r.rdata.rtype() == Rtype::SOA && !apexes.contains(&r.owner) {
            apexes.push(r.owner.clone());
        }
    }
    if let Some(only) = &only {
        if !apexes.contains(only) {
            diags.push(Diagnostic::error(
                Origin::new(&file, 0),
                format!("no SOA for {only} in this file (add a `.` or `Z` line)"),
            ));
            return (Vec::new(), diags);
        }
        apexes.retain(|a| a == only);
    }
    if apexes.is_empty() {
        diags.push(Diagnostic::error(
            Origin::new(&file, 0),
            "no zone in this file: no `.` or `Z` line",
        ));
    }
    let mut by_apex: Vec<Vec<SourceRecord>> = vec![Vec::new(); apexes.len()];
    for mut r in parsed.records {
        let Some(attrs) = r.tiny.clone() else {
            continue;
        };
        if attrs.location.is_some() {
            diags.push(Diagnostic::error(
                r.origin.clone(),
                "location-restricted records (`lo` field) are not supported yet",
            ));
            continue;
        }
        if let Some(ts) = attrs.timestamp {
            // External TAI64: 2^62 + 10 + Unix seconds.
            let unix = ts.saturating_sub((1u64 << 62) + 10);
            if r.ttl == 0 {
                if now >= unix {
                    continue; // expired end time
                }
                r.ttl = (unix - now).clamp(2, 3600) as u32;
            } else if now < unix {
                continue; // start time not reached
            }
        }
        // The deepest apex containing the owner.
        let best = apexes
            .iter()
            .enumerate()
            .filter(|(_, a)| r.owner.is_subdomain_of(a))
            .max_by_key(|(_, a)| a.label_count());
        match best {
            Some((i, _)) => by_apex[i].push(r),
            None if only.is_none() => diags.push(Diagnostic::warning(
                r.origin.clone(),
                format!(
                    "{} is in no zone of this file (no SOA above it); ignored",
                    r.owner
                ),
            )),
            None => {}
        }
    }
    let inputs = apexes
        .into_iter()
        .zip(by_apex)
        .map(|(apex, records)| ZoneInput {
            apex,
            records,
            wildcards: zc.wildcards,
            source: path.to_owned(),
        })
        .collect();
    (inputs, diags)
}

/// True if a proper ancestor of the lower-cased wire name `key`, longer
/// than the apex, is in `cuts`.
fn strictly_below_any(key: &[u8], apex_len: usize, cuts: &HashSet<Box<[u8]>>) -> bool {
    let mut pos = 1 + key.first().copied().unwrap_or(0) as usize;
    while key.len().saturating_sub(pos) > apex_len {
        if cuts.contains(&key[pos..]) {
            return true;
        }
        pos += 1 + key[pos] as usize;
    }
    false
}

/// An RRset being collected: its TTL so far, where it was first seen, and
/// its records with their duplicate-detection keys.
struct PendingSet {
    rtype: Rtype,
    ttl: u32,
    origin: Origin,
    rdatas: Vec<(Vec<u8>, Rdata)>,
}

/// Builds one zone, pushing its diagnostics. `None` if it cannot be served.
fn build_zone(input: ZoneInput, diags: &mut Vec<Diagnostic>) -> Option<Zone> {
    let ZoneInput {
        apex,
        records,
        wildcards,
        source,
    } = input;
    let file: Arc<Path> = Arc::from(source.as_path());
    let zone_origin = Origin::new(&file, 0);
    let apex_key: Box<[u8]> = apex.to_lowercase().as_wire().into();

    struct Pending {
        name: Name,
        // (rtype, ttl, first origin, rdatas with their dedup keys)
        sets: Vec<PendingSet>,
    }
    let mut pending: HashMap<Box<[u8]>, Pending> = HashMap::new();
    let mut order: Vec<Box<[u8]>> = Vec::new();
    let mut time_dependent = false;

    for r in records {
        if !r.owner.is_subdomain_of(&apex) {
            diags.push(Diagnostic::warning(
                r.origin.clone(),
                format!("{} is outside zone {apex}; ignored", r.owner),
            ));
            continue;
        }
        if r.rdata.rtype().is_meta() {
            diags.push(Diagnostic::error(
                r.origin.clone(),
                format!("type {} cannot be stored in a zone", r.rdata.rtype()),
            ));
            continue;
        }
        time_dependent |= r.tiny.as_ref().is_some_and(|t| t.timestamp.is_some());
        let key: Box<[u8]> = r.owner.to_lowercase().as_wire().into();
        let node = pending.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Pending {
                name: r.owner.clone(),
                sets: Vec::new(),
            }
        });
        let rtype = r.rdata.rtype();
        let dedup = r.rdata.dedup_key();
        match node.sets.iter_mut().find(|s| s.rtype == rtype) {
            Some(set) => {
                if set.ttl != r.ttl {
                    let low = set.ttl.min(r.ttl);
                    diags.push(Diagnostic::warning(
                        r.origin.clone(),
                        format!(
                            "TTL {} differs from {} of the {rtype} RRset at {} (first at line {}); using {low} (RFC 2181 §5.2)",
                            r.ttl, set.ttl, r.owner, set.origin.line
                        ),
                    ));
                    set.ttl = low;
                }
                // Duplicate RRs collapse into one (RFC 2181 §5).
                if !set.rdatas.iter().any(|(k, _)| *k == dedup) {
                    set.rdatas.push((dedup, r.rdata));
                }
            }
            None => node.sets.push(PendingSet {
                rtype,
                ttl: r.ttl,
                origin: r.origin.clone(),
                rdatas: vec![(dedup, r.rdata)],
            }),
        }
    }

    // Apex: exactly one SOA, and NS.
    let Some(apex_node) = pending.get(&apex_key) else {
        diags.push(Diagnostic::error(
            zone_origin,
            format!("zone {apex} has no SOA record at its apex"),
        ));
        return None;
    };
    match apex_node.sets.iter().find(|s| s.rtype == Rtype::SOA) {
        None => {
            diags.push(Diagnostic::error(
                zone_origin.clone(),
                format!("zone {apex} has no SOA record at its apex"),
            ));
            return None;
        }
        Some(s) if s.rdatas.len() > 1 => {
            diags.push(Diagnostic::error(
                s.origin.clone(),
                format!(
                    "zone {apex} has {} different SOA records; exactly one is allowed",
                    s.rdatas.len()
                ),
            ));
            return None;
        }
        Some(_) => {}
    }
    if !apex_node.sets.iter().any(|s| s.rtype == Rtype::NS) {
        diags.push(Diagnostic::warning(
            zone_origin.clone(),
            format!("zone {apex} has no NS records at its apex"),
        ));
    }

    // Per-name checks.
    for key in &order {
        let node = &pending[key];
        let at = |rt: Rtype| node.sets.iter().find(|s| s.rtype == rt);
        if let Some(cname) = at(Rtype::CNAME) {
            if cname.rdatas.len() > 1 {
                diags.push(Diagnostic::error(
                    cname.origin.clone(),
                    format!("{} has more than one CNAME", node.name),
                ));
            }
            if let Some(other) = node.sets.iter().find(|s| s.rtype != Rtype::CNAME) {
                diags.push(Diagnostic::error(
                    other.origin.clone(),
                    format!(
                        "{} has a CNAME (line {}) and other data ({}); a CNAME must stand alone (RFC 2181 §10.1)",
                        node.name, cname.origin.line, other.rtype
                    ),
                ));
            }
        }
        if node.name.is_wildcard() {
            for rt in [Rtype::NS, Rtype::DNAME] {
                if let Some(s) = at(rt) {
                    diags.push(Diagnostic::warning(
                        s.origin.clone(),
                        format!("{rt} at wildcard owner {} (RFC 4592 §4.2, §4.4)", node.name),
                    ));
                }
            }
        }
        if *key != apex_key
            && let Some(soa) = at(Rtype::SOA)
        {
            diags.push(Diagnostic::error(
                soa.origin.clone(),
                format!("SOA at {}, which is not the apex of zone {apex}", node.name),
            ));
        }
    }

    // Delegations: names with NS below the apex; everything below them is
    // glue (A/AAAA) or occluded.
    let cuts: HashSet<Box<[u8]>> = order
        .iter()
        .filter(|k| **k != apex_key)
        .filter(|k| pending[*k].sets.iter().any(|s| s.rtype == Rtype::NS))
        .cloned()
        .collect();
    let is_below_cut =
        |name: &Name| strictly_below_any(name.to_lowercase().as_wire(), apex_key.len(), &cuts);
    for key in &order {
        let node = &pending[key];
        if is_below_cut(&node.name) {
            for s in node
                .sets
                .iter()
                .filter(|s| s.rtype != Rtype::A && s.rtype != Rtype::AAAA)
            {
                diags.push(Diagnostic::warning(
                    s.origin.clone(),
                    format!(
                        "{} {} is below a delegation and will not be served",
                        node.name, s.rtype
                    ),
                ));
            }
        } else if cuts.contains(key) {
            for s in node
                .sets
                .iter()
                .filter(|s| !matches!(s.rtype, Rtype::NS | Rtype::DS))
            {
                diags.push(Diagnostic::warning(
                    s.origin.clone(),
                    format!(
                        "{} {} is at a delegation point and will not be served",
                        node.name, s.rtype
                    ),
                ));
            }
        }
    }

    // Build nodes, empty non-terminals included (RFC 8020).
    let mut nodes: HashMap<Box<[u8]>, Node> = HashMap::with_capacity(pending.len() * 2);
    let mut record_count = 0;
    for key in &order {
        let Some(p) = pending.remove(key) else {
            continue;
        };
        let mut rrsets: Vec<RRset> = p
            .sets
            .into_iter()
            .map(|set| RRset {
                rtype: set.rtype,
                ttl: set.ttl,
                rdatas: set.rdatas.into_iter().map(|(_, rd)| rd).collect(),
            })
            .collect();
        rrsets.sort_by_key(|r| r.rtype);
        record_count += rrsets.iter().map(|r| r.rdatas.len()).sum::<usize>();
        let is_cut = *key != apex_key && rrsets.iter().any(|r| r.rtype == Rtype::NS);
        let below_cut = is_below_cut(&p.name);
        // Ancestors up to the apex exist too.
        for anc in p.name.ancestors().skip(1) {
            if !anc.is_subdomain_of(&apex) {
                break;
            }
            let akey: Box<[u8]> = anc.to_lowercase().as_wire().into();
            if nodes.contains_key(&akey) {
                break; // its ancestors exist already
            }
            if pending.contains_key(&akey) {
                continue; // a real node, inserted in its turn
            }
            nodes.insert(
                akey,
                Node {
                    below_cut: is_below_cut(&anc),
                    name: anc,
                    rrsets: Vec::new(),
                    is_cut: false,
                },
            );
        }
        nodes.insert(
            key.clone(),
            Node {
                name: p.name,
                rrsets,
                is_cut,
                below_cut,
            },
        );
    }

    // Warn about NS/MX targets that are CNAMEs (RFC 2181 §10.3).
    for node in nodes.values() {
        for set in node
            .rrsets
            .iter()
            .filter(|s| matches!(s.rtype, Rtype::NS | Rtype::MX))
        {
            for rd in &set.rdatas {
                let Some(target) = rd.additional_target() else {
                    continue;
                };
                if let Some(t) = nodes.get(target.to_lowercase().as_wire())
                    && t.rrset(Rtype::CNAME).is_some()
                {
                    diags.push(Diagnostic::warning(
                        zone_origin.clone(),
                        format!(
                            "{} {} target {target} is a CNAME (RFC 2181 §10.3)",
                            node.name, set.rtype
                        ),
                    ));
                }
            }
        }
    }

    Some(Zone {
        apex,
        nodes,
        wildcards,
        source,
        records: record_count,
        time_dependent,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::wire::rdata::Soa;
    use std::net::Ipv4Addr;

    pub(crate) fn n(s: &str) -> Name {
        Name::parse_text(s).unwrap()
    }

    pub(crate) fn rec(owner: &str, ttl: u32, rdata: Rdata, line: u32) -> SourceRecord {
        SourceRecord {
            owner: n(owner),
            ttl,
            rdata,
            origin: Origin {
                file: Arc::from(Path::new("test.zone")),
                line,
            },
            tiny: None,
        }
    }

    pub(crate) fn soa(apex: &str, ttl: u32, minimum: u32) -> SourceRecord {
        rec(
            apex,
            ttl,
            Rdata::Soa(Box::new(Soa {
                mname: n(&format!("ns1.{apex}")),
                rname: n(&format!("hostmaster.{apex}")),
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum,
            })),
            1,
        )
    }

    pub(crate) fn a(owner: &str, ip: [u8; 4], line: u32) -> SourceRecord {
        rec(owner, 300, Rdata::A(Ipv4Addr::from(ip)), line)
    }

    pub(crate) fn zone_of(apex: &str, mut records: Vec<SourceRecord>) -> ZoneInput {
        records.insert(0, soa(apex, 1000, 300));
        records.insert(1, rec(apex, 300, Rdata::Ns(n(&format!("ns1.{apex}"))), 1));
        ZoneInput {
            apex: n(apex),
            records,
            wildcards: WildcardMode::Rfc4592,
            source: PathBuf::from("test.zone"),
        }
    }

    fn compile_one(input: ZoneInput) -> Result<Compiled, CompileError> {
        compile_inputs(vec![input], Vec::new())
    }

    #[test]
    fn groups_merges_and_picks_lowest_ttl() {
        let c = compile_one(zone_of(
            "example.com",
            vec![
                a("www.example.com", [192, 0, 2, 1], 3),
                a("WWW.example.com", [192, 0, 2, 1], 4),
                rec(
                    "www.example.com",
                    60,
                    Rdata::A(Ipv4Addr::new(192, 0, 2, 2)),
                    5,
                ),
            ],
        ))
        .unwrap();
        let z = &c.snapshot.zones[0];
        let node = z.node(n("www.example.com").as_wire()).unwrap();
        let set = node.rrset(Rtype::A).unwrap();
        assert_eq!(set.rdatas.len(), 2, "duplicate collapsed");
        assert_eq!(set.ttl, 60);
        assert!(
            c.warnings
                .iter()
                .any(|d| d.origin.line == 5 && d.message.contains("RFC 2181 §5.2"))
        );
        assert_eq!(z.records, 2 + 2);
        assert_eq!(z.negative_ttl(), 300);
    }

    #[test]
    fn creates_empty_non_terminals() {
        let c = compile_one(zone_of(
            "example.com",
            vec![a("a.b.c.example.com", [192, 0, 2, 1], 3)],
        ))
        .unwrap();
        let z = &c.snapshot.zones[0];
        assert!(
            z.node(n("b.c.example.com").as_wire())
                .unwrap()
                .is_empty_nonterminal()
        );
        assert!(
            z.node(n("c.example.com").as_wire())
                .unwrap()
                .is_empty_nonterminal()
        );
        assert!(z.node(n("x.example.com").as_wire()).is_none());
    }

    #[test]
    fn cname_beside_other_data_is_an_error_with_its_line() {
        let e = compile_one(zone_of(
            "example.com",
            vec![
                rec("x.example.com", 300, Rdata::Cname(n("y.example.com")), 7),
                a("x.example.com", [192, 0, 2, 1], 8),
            ],
        ))
        .unwrap_err();
        let msgs: Vec<String> = e.errors().map(|d| d.to_string()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("test.zone:8: ") && m.contains("CNAME")),
            "{msgs:?}"
        );
    }

    #[test]
    fn missing_soa_and_extra_soa_are_errors() {
        let input = ZoneInput {
            apex: n("example.com"),
            records: vec![a("example.com", [192, 0, 2, 1], 1)],
            wildcards: WildcardMode::Rfc4592,
            source: PathBuf::from("z"),
        };
        assert!(
            compile_one(input)
                .unwrap_err()
                .to_string()
                .contains("1 error")
        );
        let mut two = zone_of("example.com", vec![]);
        let mut other = soa("example.com", 1000, 300);
        if let Rdata::Soa(s) = &mut other.rdata {
            s.serial = 2;
        }
        two.records.push(other);
        assert!(compile_one(two).is_err());
    }

    #[test]
    fn cuts_and_glue() {
        let c = compile_one(zone_of(
            "example.com",
            vec![
                rec(
                    "sub.example.com",
                    300,
                    Rdata::Ns(n("ns.sub.example.com")),
                    3,
                ),
                a("ns.sub.example.com", [192, 0, 2, 53], 4),
                rec("x.sub.example.com", 300, Rdata::Cname(n("y")), 5),
            ],
        ))
        .unwrap();
        let z = &c.snapshot.zones[0];
        assert!(z.node(n("sub.example.com").as_wire()).unwrap().is_cut);
        assert!(z.node(n("ns.sub.example.com").as_wire()).unwrap().below_cut);
        assert!(
            c.warnings
                .iter()
                .any(|d| d.origin.line == 5 && d.message.contains("below a delegation"))
        );
    }

    #[test]
    fn out_of_zone_and_wildcard_ns_warn() {
        let c = compile_one(zone_of(
            "example.com",
            vec![
                a("www.example.net", [192, 0, 2, 1], 3),
                rec("*.example.com", 300, Rdata::Ns(n("ns.example.net")), 4),
            ],
        ))
        .unwrap();
        assert!(
            c.warnings
                .iter()
                .any(|d| d.origin.line == 3 && d.message.contains("outside zone"))
        );
        assert!(
            c.warnings
                .iter()
                .any(|d| d.origin.line == 4 && d.message.contains("wildcard"))
        );
    }

    #[test]
    fn zone_index_finds_deepest_zone() {
        let c = compile_inputs(
            vec![
                zone_of("example.com", vec![]),
                zone_of("sub.example.com", vec![]),
            ],
            Vec::new(),
        )
        .unwrap();
        let s = &c.snapshot;
        let q = n("a.sub.example.com").to_lowercase();
        let (z, pos) = s.find_zone(q.as_wire()).unwrap();
        assert_eq!(s.zones[z].apex, n("sub.example.com"));
        assert_eq!(pos, 2);
        assert_eq!(
            s.parent_zone(z).map(|(p, _)| s.zones[p].apex.clone()),
            Some(n("example.com"))
        );
        assert!(s.find_zone(n("example.org").as_wire()).is_none());
    }
}
