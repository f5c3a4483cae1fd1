//! Compilation: config + zone sources → one validated, immutable
//! [`Snapshot`]. All semantic checks live here, each reported with the
//! source line of the record concerned.
//!
//! Records stream into a [`ZoneBuilder`] as the parsers produce them: a zone
//! of millions of records is never held as a list of source records.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{SystemTime, UNIX_EPOCH};

use hashbrown::HashMap as FastMap;
use hashbrown::HashSet as FastSet;

use super::snapshot::{Node, NodeIndex, RRset, SmallList, Snapshot, Zone};
use super::source::{Diagnostic, LocationDef, Origin, Severity, SourceRecord};
use super::{master, tinydns};
use crate::config::{Config, WildcardMode, ZoneConfig, ZoneFormat};
use crate::wire::name::{MAX_NAME, Name};
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

/// A zone waiting for [`assemble`]: records still to add, or already added.
enum Pending {
    Input(ZoneInput),
    Built(Box<ZoneBuilder>),
}

/// Which location-restricted tinydns records a compilation includes
/// (tinydns-data.md §4): records without a location are in every view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    /// Clients in no defined location.
    Base,
    /// Clients in this location.
    Location([u8; 2]),
}

impl View {
    fn includes(self, location: Option<[u8; 2]>) -> bool {
        match (location, self) {
            (None, _) => true,
            (Some(lo), View::Location(code)) => lo == code,
            (Some(_), View::Base) => false,
        }
    }
}

/// What the tinydns sources said about locations.
#[derive(Default)]
struct LocationInfo {
    /// `%` lines, in file order.
    defs: Vec<LocationDef>,
    /// Some record is restricted to a location.
    used: bool,
}

/// Compiles every zone the config names. The clock is read once, for
/// tinydns timestamps (tinydns-data.md §3). When tinydns records are
/// restricted to locations, one snapshot per location is compiled too,
/// and the engine picks one by the client's address.
pub fn compile(config: &Config) -> Result<Compiled, CompileError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (mut compiled, info) = compile_view(config, View::Base, now)?;
    if info.used {
        let mut codes: Vec<[u8; 2]> = info.defs.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        for code in codes {
            let (variant, _) = compile_view(config, View::Location(code), now)?;
            compiled
                .snapshot
                .location_views
                .push((code, Arc::new(variant.snapshot)));
        }
        compiled.snapshot.locations = info.defs;
    }
    Ok(compiled)
}

/// One view of every zone.
fn compile_view(
    config: &Config,
    view: View,
    now: u64,
) -> Result<(Compiled, LocationInfo), CompileError> {
    let mut info = LocationInfo::default();
    // Diagnostics of reading the sources, all before those of building.
    let mut diagnostics = Vec::new();
    let mut pending = Vec::new();
    for zc in &config.zones {
        let path = config.zone_path(zc);
        match zc.format {
            ZoneFormat::Rfc1035 => {
                let Some(apex) = zc.name.as_deref().and_then(|n| Name::parse_text(n).ok()) else {
                    continue; // Config::validate rejects this.
                };
                let mut builder = ZoneBuilder::new(apex.clone(), zc.wildcards, path.clone());
                let size = std::fs::metadata(&path).map_or(0, |m| m.len());
                let diags = pipeline(
                    size,
                    |sink| master::parse_file_into(&path, &apex, config.defaults.ttl, sink),
                    |r| builder.add(r),
                );
                diagnostics.extend(diags);
                pending.push(Pending::Built(Box::new(builder)));
            }
            ZoneFormat::Tinydns => {
                let opts = tinydns::TinyOptions {
                    default_serial: tinydns_serial(zc, &path),
                };
                let file: Arc<Path> = Arc::from(path.as_path());
                let text = match std::fs::read(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        diagnostics.push(Diagnostic::error(
                            Origin::new(&file, 0),
                            format!("cannot read: {e}"),
                        ));
                        continue;
                    }
                };
                let (builders, diags) =
                    split_tinydns(&text, &file, &opts, zc, now, view, &mut info);
                diagnostics.extend(diags);
                pending.extend(builders.into_iter().map(|b| Pending::Built(Box::new(b))));
            }
        }
    }
    assemble(pending, diagnostics).map(|c| (c, info))
}

/// Compiles zones that are already parsed (the core of [`compile`], and
/// what unit tests and benchmarks call).
pub fn compile_inputs(
    inputs: Vec<ZoneInput>,
    diagnostics: Vec<Diagnostic>,
) -> Result<Compiled, CompileError> {
    assemble(
        inputs.into_iter().map(Pending::Input).collect(),
        diagnostics,
    )
}

/// Builds the zones in order into one snapshot; a zone whose apex is
/// already in it is an error.
fn assemble(
    pending: Vec<Pending>,
    mut diagnostics: Vec<Diagnostic>,
) -> Result<Compiled, CompileError> {
    let mut snapshot = Snapshot::default();
    for p in pending {
        let (apex, source) = match &p {
            Pending::Input(input) => (&input.apex, &input.source),
            Pending::Built(builder) => (&builder.apex, &builder.source),
        };
        let key: Box<[u8]> = apex.to_lowercase().as_wire().into();
        if snapshot.apexes.contains_key(&key) {
            diagnostics.push(Diagnostic::error(
                Origin {
                    file: Arc::from(source.as_path()),
                    line: 0,
                },
                format!("zone {apex} is configured more than once"),
            ));
            continue;
        }
        let builder = match p {
            Pending::Built(builder) => *builder,
            Pending::Input(input) => {
                let mut builder = ZoneBuilder::new(input.apex, input.wildcards, input.source);
                for r in input.records {
                    builder.add(r);
                }
                builder
            }
        };
        let (zone, diags) = builder.finish();
        diagnostics.extend(diags);
        if let Some(zone) = zone {
            snapshot.apexes.insert(key, snapshot.zones.len());
            snapshot.zones.push(zone.into());
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
/// rules for `now`. A first pass over the `.` and `Z` lines finds the
/// apexes, so that the second one can stream every record into its zone.
/// The diagnostics are those of parsing, then those of splitting.
fn split_tinydns(
    text: &[u8],
    file: &Arc<Path>,
    opts: &tinydns::TinyOptions,
    zc: &ZoneConfig,
    now: u64,
    view: View,
    info: &mut LocationInfo,
) -> (Vec<ZoneBuilder>, Vec<Diagnostic>) {
    let only = zc.name.as_deref().and_then(|n| Name::parse_text(n).ok());
    let mut apexes = tinydns::soa_owners(text, file, opts);
    let mut split_diags = Vec::new();
    let mut wanted = true;
    if let Some(only) = &only {
        if apexes.contains(only) {
            apexes.retain(|a| a == only);
        } else {
            split_diags.push(Diagnostic::error(
                Origin::new(file, 0),
                format!("no SOA for {only} in this file (add a `.` or `Z` line)"),
            ));
            apexes.clear();
            wanted = false;
        }
    }
    if wanted && apexes.is_empty() {
        split_diags.push(Diagnostic::error(
            Origin::new(file, 0),
            "no zone in this file: no `.` or `Z` line",
        ));
    }
    let source: PathBuf = file.to_path_buf();
    // A few apexes are compared one by one, many are looked up by suffix.
    let few = apexes.len() <= 8;
    let by_key: FastMap<Box<[u8]>, usize> = if few {
        FastMap::default()
    } else {
        apexes
            .iter()
            .enumerate()
            .map(|(i, a)| (a.to_lowercase().as_wire().into(), i))
            .collect()
    };
    let mut builders: Vec<ZoneBuilder> = apexes
        .iter()
        .map(|apex| ZoneBuilder::new(apex.clone(), zc.wildcards, source.clone()))
        .collect();
    let size = u64::try_from(text.len()).unwrap_or(u64::MAX);
    let parse = |sink: &mut dyn FnMut(SourceRecord)| tinydns::parse_into(text, file, opts, sink);
    let mut located: Vec<bool> = vec![false; builders.len()];
    let (mut diags, locations) = pipeline(size, parse, |mut r| {
        if !wanted {
            return;
        }
        let Some(attrs) = r.tiny.clone() else {
            return;
        };
        let include = view.includes(attrs.location);
        if let Some(ts) = attrs.timestamp {
            // External TAI64: 2^62 + 10 + Unix seconds.
            let unix = ts.saturating_sub((1u64 << 62) + 10);
            if r.ttl == 0 {
                if now >= unix {
                    return; // expired end time
                }
                r.ttl = (unix - now).clamp(2, 3600) as u32;
            } else if now < unix {
                return; // start time not reached
            }
        }
        // The deepest apex containing the owner.
        let best = if few {
            apexes
                .iter()
                .enumerate()
                .filter(|(_, a)| r.owner.is_subdomain_of(a))
                .max_by_key(|(_, a)| a.label_count())
                .map(|(i, _)| i)
        } else {
            let mut buf = [0u8; MAX_NAME];
            let lower = r.owner.lowercase_into(&mut buf);
            suffixes(lower).find_map(|pos| by_key.get(&lower[pos..]).copied())
        };
        if attrs.location.is_some()
            && let Some(flag) = best.and_then(|i| located.get_mut(i))
        {
            *flag = true;
        }
        if !include {
            return;
        }
        match best.and_then(|i| builders.get_mut(i)) {
            Some(builder) => builder.add(r),
            None if only.is_none() => split_diags.push(Diagnostic::warning(
                r.origin,
                format!(
                    "{} is in no zone of this file (no SOA above it); ignored",
                    r.owner
                ),
            )),
            None => {}
        }
    });
    diags.append(&mut split_diags);
    for (builder, located) in builders.iter_mut().zip(located) {
        builder.client_dependent |= located;
        info.used |= located;
    }
    if info.used && view == View::Base {
        for def in &locations {
            if !info
                .defs
                .iter()
                .any(|d| d.code == def.code && d.prefix == def.prefix)
            {
                info.defs.push(def.clone());
            }
        }
    }
    (builders, diags)
}

/// Sources smaller than this are parsed and built on one thread.
const PIPELINE_MIN_BYTES: u64 = 1 << 20;

/// Records handed between the threads of [`pipeline`] at a time.
const PIPELINE_BATCH: usize = 4096;

/// Runs `parse`, which hands records to its sink in source order, and
/// `consume` on every record. For a source of `size` bytes above
/// [`PIPELINE_MIN_BYTES`] with a second CPU, `consume` runs on a second
/// thread, in batches through a bounded channel, so that parsing and
/// grouping overlap; the order of records is kept either way.
fn pipeline<T>(
    size: u64,
    parse: impl FnOnce(&mut dyn FnMut(SourceRecord)) -> T,
    mut consume: impl FnMut(SourceRecord) + Send,
) -> T {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if size < PIPELINE_MIN_BYTES || cpus < 2 {
        return parse(&mut consume);
    }
    let consume = Mutex::new(consume);
    let consume = &consume;
    std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<Vec<SourceRecord>>(4);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<SourceRecord>>();
        let spawned = std::thread::Builder::new()
            .name("zone-build".into())
            .spawn_scoped(scope, move || {
                let mut consume = consume.lock().unwrap_or_else(PoisonError::into_inner);
                for mut batch in full_rx {
                    for r in batch.drain(..) {
                        (*consume)(r);
                    }
                    // Recycled; fails only once the parser is done.
                    let _ = empty_tx.send(batch);
                }
            });
        let Ok(worker) = spawned else {
            // No second thread to be had: all on this one.
            let mut consume = consume.lock().unwrap_or_else(PoisonError::into_inner);
            return parse(&mut *consume);
        };
        let mut batch = Vec::with_capacity(PIPELINE_BATCH);
        let result = parse(&mut |r| {
            batch.push(r);
            if batch.len() >= PIPELINE_BATCH {
                let next = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(PIPELINE_BATCH));
                // Fails only if the worker panicked; `join` reports that.
                let _ = full_tx.send(std::mem::replace(&mut batch, next));
            }
        });
        let _ = full_tx.send(batch);
        drop(full_tx);
        if let Err(panic) = worker.join() {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// Start offsets of a wire name's suffixes at label boundaries, the name
/// itself first and the root last.
fn suffixes(wire: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let mut next = Some(0usize);
    std::iter::from_fn(move || {
        let pos = next?;
        let len = usize::from(*wire.get(pos)?);
        next = (len != 0).then_some(pos + 1 + len);
        Some(pos)
    })
}

/// Where an RRset was first seen: an index into [`ZoneBuilder::files`]
/// and a line.
#[derive(Clone, Copy)]
struct Seen {
    file: u32,
    line: u32,
}

/// RRsets up to this size are searched linearly for duplicates; larger
/// ones get a hash set of duplicate-detection keys.
const LINEAR_DEDUP: usize = 16;

/// Builds one zone from records added one at a time, in source order,
/// then checks and indexes it in [`ZoneBuilder::finish`].
pub(crate) struct ZoneBuilder {
    apex: Name,
    apex_lower: Box<[u8]>,
    wildcards: WildcardMode,
    source: PathBuf,
    /// Real nodes in order of first appearance; empty non-terminals are
    /// appended by `finish`. RRsets stay in order of first appearance
    /// until then.
    nodes: Vec<Node>,
    index: NodeIndex,
    /// Files that records came from, for [`Seen`].
    files: Vec<Arc<Path>>,
    /// Where the first RRset of each node was first seen.
    first_seen: Vec<Seen>,
    /// Where the other RRsets were first seen, by (node, RRset position).
    more_seen: FastMap<(u32, u32), Seen>,
    /// Duplicate-detection keys of the RRsets above [`LINEAR_DEDUP`].
    big_sets: FastMap<(u32, Rtype), FastSet<Vec<u8>>>,
    /// The node of the previous record.
    last: Option<usize>,
    time_dependent: bool,
    /// Some record is restricted to a tinydns location.
    client_dependent: bool,
    diags: Vec<Diagnostic>,
}

impl ZoneBuilder {
    pub(crate) fn new(apex: Name, wildcards: WildcardMode, source: PathBuf) -> ZoneBuilder {
        ZoneBuilder {
            apex_lower: apex.to_lowercase().as_wire().into(),
            apex,
            wildcards,
            source,
            nodes: Vec::new(),
            index: NodeIndex::default(),
            files: Vec::new(),
            first_seen: Vec::new(),
            more_seen: FastMap::default(),
            big_sets: FastMap::default(),
            last: None,
            time_dependent: false,
            client_dependent: false,
            diags: Vec::new(),
        }
    }

    fn seen(&mut self, origin: &Origin) -> Seen {
        let file = match self
            .files
            .iter()
            .rposition(|f| Arc::ptr_eq(f, &origin.file))
        {
            Some(i) => i,
            None => {
                self.files.push(origin.file.clone());
                self.files.len() - 1
            }
        };
        Seen {
            file: u32::try_from(file).unwrap_or(u32::MAX),
            line: origin.line,
        }
    }

    /// Where RRset `set` (position in order of appearance) of node `node`
    /// was first seen.
    fn seen_at(&self, node: usize, set: usize) -> Seen {
        let seen = if set == 0 {
            self.first_seen.get(node).copied()
        } else {
            self.more_seen.get(&(node as u32, set as u32)).copied()
        };
        seen.unwrap_or(Seen { file: 0, line: 0 })
    }

    fn origin_at(&self, node: usize, set: usize) -> Origin {
        let seen = self.seen_at(node, set);
        let file = match self.files.get(seen.file as usize) {
            Some(f) => f.clone(),
            None => Arc::from(self.source.as_path()),
        };
        Origin {
            file,
            line: seen.line,
        }
    }

    /// Adds one record: groups it with its owner and type, merges TTLs and
    /// drops duplicates.
    pub(crate) fn add(&mut self, r: SourceRecord) {
        let SourceRecord {
            owner,
            ttl,
            rdata,
            origin,
            tiny,
        } = r;
        if !owner.is_subdomain_of(&self.apex) {
            self.diags.push(Diagnostic::warning(
                origin,
                format!("{owner} is outside zone {}; ignored", self.apex),
            ));
            return;
        }
        let rtype = rdata.rtype();
        if rtype.is_meta() {
            self.diags.push(Diagnostic::error(
                origin,
                format!("type {rtype} cannot be stored in a zone"),
            ));
            return;
        }
        self.time_dependent |= tiny.as_ref().is_some_and(|t| t.timestamp.is_some());
        let mut buf = [0u8; MAX_NAME];
        let lower = owner.lowercase_into(&mut buf);
        // Records of one owner tend to come together.
        let last = self.last.filter(|&i| {
            self.nodes
                .get(i)
                .is_some_and(|n| n.name.lowercase_eq(lower))
        });
        let Some(ni) = last.or_else(|| self.index.find(&self.nodes, lower)) else {
            let at = self.nodes.len();
            let seen = self.seen(&origin);
            self.nodes.push(Node {
                name: owner,
                rrsets: SmallList::one(RRset {
                    rtype,
                    ttl,
                    rdatas: SmallList::one(rdata),
                }),
                is_cut: false,
                below_cut: false,
            });
            self.index.insert(lower, at);
            self.first_seen.push(seen);
            self.last = Some(at);
            return;
        };
        self.last = Some(ni);
        let Some(node) = self.nodes.get(ni) else {
            return;
        };
        let Some(si) = node.rrsets.iter().position(|s| s.rtype == rtype) else {
            let si = node.rrsets.len();
            let seen = self.seen(&origin);
            self.more_seen.insert((ni as u32, si as u32), seen);
            if let Some(node) = self.nodes.get_mut(ni) {
                node.rrsets.push(RRset {
                    rtype,
                    ttl,
                    rdatas: SmallList::one(rdata),
                });
            }
            return;
        };
        let first_line = self.seen_at(ni, si).line;
        let Some(set) = self.nodes.get_mut(ni).and_then(|n| n.rrsets.get_mut(si)) else {
            return;
        };
        if set.ttl != ttl {
            let low = set.ttl.min(ttl);
            self.diags.push(Diagnostic::warning(
                origin,
                format!(
                    "TTL {ttl} differs from {} of the {rtype} RRset at {owner} (first at line {first_line}); using {low} (RFC 2181 §5.2)",
                    set.ttl
                ),
            ));
            set.ttl = low;
        }
        // Duplicate RRs collapse into one (RFC 2181 §5).
        if set.rdatas.len() < LINEAR_DEDUP {
            if !set.rdatas.iter().any(|rd| rd.dedup_eq(&rdata)) {
                set.rdatas.push(rdata);
            }
            return;
        }
        let keys = self
            .big_sets
            .entry((ni as u32, rtype))
            .or_insert_with(|| set.rdatas.iter().map(Rdata::dedup_key).collect());
        if keys.insert(rdata.dedup_key()) {
            set.rdatas.push(rdata);
        }
    }

    /// Checks the zone, adds its empty non-terminals and indexes it. `None`
    /// if it cannot be served. Returns the diagnostics of the whole build.
    pub(crate) fn finish(mut self) -> (Option<Zone>, Vec<Diagnostic>) {
        self.big_sets = FastMap::default();
        let zone = self.build();
        (zone, self.diags)
    }

    fn build(&mut self) -> Option<Zone> {
        let zone_origin = Origin::new(&Arc::from(self.source.as_path()), 0);
        let apex = self.apex.clone();

        // Apex: exactly one SOA, and NS.
        let Some(apex_node) = self.index.find(&self.nodes, &self.apex_lower) else {
            self.diags.push(Diagnostic::error(
                zone_origin,
                format!("zone {apex} has no SOA record at its apex"),
            ));
            return None;
        };
        let apex_sets = &self.nodes.get(apex_node)?.rrsets;
        match apex_sets.iter().position(|s| s.rtype == Rtype::SOA) {
            None => {
                self.diags.push(Diagnostic::error(
                    zone_origin.clone(),
                    format!("zone {apex} has no SOA record at its apex"),
                ));
                return None;
            }
            Some(si) if apex_sets.get(si).is_some_and(|s| s.rdatas.len() > 1) => {
                let count = apex_sets.get(si).map_or(0, |s| s.rdatas.len());
                let origin = self.origin_at(apex_node, si);
                self.diags.push(Diagnostic::error(
                    origin,
                    format!(
                        "zone {apex} has {count} different SOA records; exactly one is allowed"
                    ),
                ));
                return None;
            }
            Some(_) => {}
        }
        if !apex_sets.iter().any(|s| s.rtype == Rtype::NS) {
            self.diags.push(Diagnostic::warning(
                zone_origin.clone(),
                format!("zone {apex} has no NS records at its apex"),
            ));
        }

        let real = self.nodes.len();
        let mut diags = Vec::new();
        // Per-name checks.
        for (i, node) in self.nodes.iter().enumerate() {
            let sets = &node.rrsets;
            let at = |rt: Rtype| sets.iter().position(|s| s.rtype == rt);
            if let Some(ci) = at(Rtype::CNAME) {
                if sets.get(ci).is_some_and(|s| s.rdatas.len() > 1) {
                    diags.push(Diagnostic::error(
                        self.origin_at(i, ci),
                        format!("{} has more than one CNAME", node.name),
                    ));
                }
                if let Some(oi) = sets.iter().position(|s| s.rtype != Rtype::CNAME) {
                    diags.push(Diagnostic::error(
                        self.origin_at(i, oi),
                        format!(
                            "{} has a CNAME (line {}) and other data ({}); a CNAME must stand alone (RFC 2181 §10.1)",
                            node.name,
                            self.seen_at(i, ci).line,
                            sets[oi].rtype
                        ),
                    ));
                }
            }
            if node.name.is_wildcard() {
                for rt in [Rtype::NS, Rtype::DNAME] {
                    if let Some(si) = at(rt) {
                        diags.push(Diagnostic::warning(
                            self.origin_at(i, si),
                            format!("{rt} at wildcard owner {} (RFC 4592 §4.2, §4.4)", node.name),
                        ));
                    }
                }
            }
            if i != apex_node
                && let Some(si) = at(Rtype::SOA)
            {
                diags.push(Diagnostic::error(
                    self.origin_at(i, si),
                    format!("SOA at {}, which is not the apex of zone {apex}", node.name),
                ));
            }
        }

        // Delegations: names with NS below the apex; everything below them is
        // glue (A/AAAA) or occluded.
        let mut any_cut = false;
        for (i, node) in self.nodes.iter_mut().enumerate() {
            node.is_cut = i != apex_node && node.rrsets.iter().any(|s| s.rtype == Rtype::NS);
            any_cut |= node.is_cut;
        }
        if any_cut {
            for i in 0..real {
                let below = self.below_cut(&self.nodes[i].name);
                self.nodes[i].below_cut = below;
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.below_cut {
                for (si, s) in node.rrsets.iter().enumerate() {
                    if s.rtype != Rtype::A && s.rtype != Rtype::AAAA {
                        diags.push(Diagnostic::warning(
                            self.origin_at(i, si),
                            format!(
                                "{} {} is below a delegation and will not be served",
                                node.name, s.rtype
                            ),
                        ));
                    }
                }
            } else if node.is_cut {
                for (si, s) in node.rrsets.iter().enumerate() {
                    if !matches!(s.rtype, Rtype::NS | Rtype::DS) {
                        diags.push(Diagnostic::warning(
                            self.origin_at(i, si),
                            format!(
                                "{} {} is at a delegation point and will not be served",
                                node.name, s.rtype
                            ),
                        ));
                    }
                }
            }
        }
        self.diags.append(&mut diags);
        self.first_seen = Vec::new();
        self.more_seen = FastMap::default();

        // Empty non-terminals (RFC 8020): the ancestors of every name, up
        // to the apex, exist. Each gets the case of the first name below
        // it, as written.
        let apex_len = self.apex_lower.len();
        for i in 0..real {
            let wire = self.nodes[i].name.as_wire();
            if wire.len() - 1 - usize::from(wire[0]) <= apex_len {
                continue; // the parent is the apex, or the node is
            }
            let mut buf = [0u8; MAX_NAME];
            let lower = self.nodes[i].name.lowercase_into(&mut buf);
            // Proper ancestors strictly below the apex (which exists).
            for pos in suffixes(lower).skip(1) {
                if lower.len() - pos <= apex_len {
                    break;
                }
                match self.index.find(&self.nodes, &lower[pos..]) {
                    // Done before, with its ancestors.
                    Some(j) if j < i || j >= real => break,
                    // A real node, done in its turn.
                    Some(_) => continue,
                    None => {}
                }
                let Ok(name) = Name::from_wire(&self.nodes[i].name.as_wire()[pos..]) else {
                    break;
                };
                let below_cut = any_cut && self.below_cut(&name);
                let at = self.nodes.len();
                self.nodes.push(Node {
                    name,
                    rrsets: SmallList::new(),
                    is_cut: false,
                    below_cut,
                });
                self.index.insert(&lower[pos..], at);
            }
        }

        let mut record_count = 0;
        for node in &mut self.nodes {
            node.rrsets.sort_by_key(|r| r.rtype);
            record_count += node.rrsets.iter().map(|r| r.rdatas.len()).sum::<usize>();
        }

        // Warn about NS/MX targets that are CNAMEs (RFC 2181 §10.3).
        for node in &self.nodes {
            for set in node
                .rrsets
                .iter()
                .filter(|s| matches!(s.rtype, Rtype::NS | Rtype::MX))
            {
                for rd in &set.rdatas {
                    let Some(target) = rd.additional_target() else {
                        continue;
                    };
                    let mut buf = [0u8; MAX_NAME];
                    if let Some(t) = self
                        .index
                        .find(&self.nodes, target.lowercase_into(&mut buf))
                        && self.nodes[t].rrset(Rtype::CNAME).is_some()
                    {
                        self.diags.push(Diagnostic::warning(
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

        let mut nodes = std::mem::take(&mut self.nodes);
        nodes.shrink_to_fit();
        Some(Zone {
            apex,
            nodes,
            index: std::mem::take(&mut self.index),
            apex_node,
            wildcards: self.wildcards,
            source: std::mem::take(&mut self.source),
            records: record_count,
            time_dependent: self.time_dependent,
            client_dependent: self.client_dependent,
        })
    }

    /// True if a proper ancestor of `name` strictly below the apex is a
    /// delegation point (`is_cut` of the real nodes must be set).
    fn below_cut(&self, name: &Name) -> bool {
        let mut buf = [0u8; MAX_NAME];
        let lower = name.lowercase_into(&mut buf);
        suffixes(lower)
            .skip(1)
            .take_while(|&pos| lower.len() - pos > self.apex_lower.len())
            .any(|pos| {
                self.index
                    .find(&self.nodes, &lower[pos..])
                    .is_some_and(|j| self.nodes[j].is_cut)
            })
    }
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
    #[test]
    fn pipeline_keeps_the_order_of_records() {
        let count = 3 * PIPELINE_BATCH + 5;
        let mut seen = Vec::new();
        let produced = pipeline(
            PIPELINE_MIN_BYTES,
            |sink| {
                for line in 0..count {
                    let mut r = a("www.example.com", [192, 0, 2, 1], 0);
                    r.origin.line = u32::try_from(line).unwrap();
                    sink(r);
                }
                count
            },
            |r| seen.push(r.origin.line),
        );
        assert_eq!(produced, count);
        assert!(seen.iter().copied().eq(0..u32::try_from(count).unwrap()));
    }

    /// tinydns-data.md §8: two servers building one commit serve one serial,
    /// the commit's time, not the file's mtime.
    #[test]
    fn tinydns_serial_is_the_last_commit_time() {
        let dir = std::env::temp_dir().join(format!("dnsd-serial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args([
                    "-c",
                    "user.name=dnsd",
                    "-c",
                    "user.email=dnsd@example.invalid",
                ])
                .args(args)
                .env("GIT_AUTHOR_DATE", "@1700000000 +0000")
                .env("GIT_COMMITTER_DATE", "@1700000000 +0000")
                .output()
                .expect("git is installed");
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let data = dir.join("data");
        std::fs::write(&data, ".example.info:192.0.2.1:a\n").unwrap();
        git(&["init", "-q"]);
        git(&["add", "data"]);
        git(&["commit", "-q", "-m", "zone"]);
        assert_eq!(git_commit_time(&data), Some(1_700_000_000));
        // A modified file is not the commit: fall back (to the mtime).
        std::fs::write(&data, ".example.info:192.0.2.2:a\n").unwrap();
        assert_eq!(git_commit_time(&data), None);
        // An explicit serial wins over everything.
        let zc = ZoneConfig {
            name: None,
            file: data.clone(),
            format: ZoneFormat::Tinydns,
            wildcards: WildcardMode::Rfc4592,
            serial: Some(7),
            ..ZoneConfig::default()
        };
        assert_eq!(tinydns_serial(&zc, &data), 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn large_rrsets_collapse_duplicates_like_small_ones() {
        let mut records = Vec::new();
        for round in 0..3 {
            for i in 0..40u8 {
                records.push(a("big.example.com", [192, 0, 2, i], 3));
                let ns = if round == 1 { "NS" } else { "ns" };
                let target = format!("{ns}{i}.example.net");
                records.push(rec("big.example.com", 300, Rdata::Ns(n(&target)), 4));
            }
        }
        // 192.0.2.97 differs from 192.0.2.65 only in the ASCII case of its
        // last byte: they are two records (only names ignore case).
        records.push(a("big.example.com", [192, 0, 2, 65], 5));
        records.push(a("big.example.com", [192, 0, 2, 97], 6));
        let c = compile_one(zone_of("example.com", records)).unwrap();
        let node = c.snapshot.zones[0]
            .node(n("big.example.com").as_wire())
            .unwrap();
        assert_eq!(node.rrset(Rtype::A).unwrap().rdatas.len(), 42);
        assert_eq!(node.rrset(Rtype::NS).unwrap().rdatas.len(), 40);
        assert!(node.is_cut);
    }

    #[test]
    fn tinydns_records_go_to_the_deepest_of_many_apexes() {
        let mut text = String::new();
        let apexes: Vec<String> = (0..12)
            .map(|i| match i {
                0 => "example.com".to_string(),
                1 => "Sub.Example.com".to_string(),
                _ => format!("zone{i}.example"),
            })
            .collect();
        for apex in &apexes {
            text.push_str(&format!(".{apex}::ns1:300\n"));
        }
        text.push_str("+a.sub.example.com:192.0.2.1\n+a.example.com:192.0.2.2\n");
        text.push_str("+x.zone7.example:192.0.2.3\n+nowhere.test:192.0.2.4\n");
        let file: Arc<Path> = Arc::from(Path::new("data"));
        let opts = tinydns::TinyOptions { default_serial: 1 };
        let zc = ZoneConfig {
            name: None,
            file: PathBuf::from("data"),
            format: ZoneFormat::Tinydns,
            wildcards: WildcardMode::Rfc4592,
            serial: Some(1),
            ..ZoneConfig::default()
        };
        let (builders, diags) = split_tinydns(
            text.as_bytes(),
            &file,
            &opts,
            &zc,
            0,
            View::Base,
            &mut LocationInfo::default(),
        );
        assert_eq!(builders.len(), 12);
        let names = |i: usize| -> Vec<String> {
            builders[i]
                .nodes
                .iter()
                .map(|n| n.name.to_string())
                .collect()
        };
        assert_eq!(names(0), ["example.com.", "a.example.com."]);
        assert_eq!(names(1), ["Sub.Example.com.", "a.sub.example.com."]);
        assert_eq!(names(7), ["zone7.example.", "x.zone7.example."]);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].message.contains("nowhere.test. is in no zone"));
    }
}
