//! The updater: one thread that owns the dynamic state (config, journals,
//! rate limits) and applies every change in turn — UPDATE messages,
//! reloads, journal drops — so two changes never race. The thread blocks
//! on fsync; the server's socket loops only queue messages to it.
//!
//! Per UPDATE (RFC 2136 §3, RFC 8945 §5): TSIG check, zone (NOTAUTH if
//! not ours), permission (the key's rules, or the zone's
//! `allow_update_from` for unsigned updates), size and rate limits,
//! [`update::process`], then the new snapshot is built, journaled and
//! fsynced, swapped into the XDP table and the engine, and only then
//! acknowledged. Every outcome is logged at info with key, client, zone
//! and change.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot};

use super::address;
use super::auth::{self, Auth};
use super::config::AllowRule;
use super::load::{self, Loaded};
use super::store;
use crate::config::{Config, ZoneConfig};
use crate::dyndns;
use crate::engine::Engine;
use crate::journal::{self, Journal, text};
use crate::server::{UpdateRequest, UpdateSink};
use crate::update::{self, ChangeSet, UpdateError, UpdatePolicy};
use crate::wire::name::Name;
use crate::wire::rdata::Rtype;
use crate::xdp_service::XdpService;
use crate::zone::snapshot::Snapshot;

/// Commands waiting for the updater; more are refused (UDP clients retry).
const QUEUE: usize = 1024;
/// Rate-limit buckets kept before idle ones are forgotten.
const MAX_BUCKETS: usize = 1024;

enum Command {
    Update(UpdateRequest),
    Reload {
        config: Box<Config>,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Journal {
        zone: Name,
        drop: bool,
        reply: oneshot::Sender<String>,
    },
    SetAddress {
        key: Name,
        host: Name,
        addr: IpAddr,
        client: SocketAddr,
        reply: oneshot::Sender<Result<AddressOutcome, AddressRefusal>>,
    },
}

/// A done HTTP address update (dyndns2 `good` / `nochg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressOutcome {
    Changed,
    Unchanged,
}

/// A refused HTTP address update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressRefusal {
    /// No zone here holds the name.
    NoHost,
    /// The key's rules do not cover the name and type.
    NotAllowed,
    /// The key's rate or size limit.
    Abuse,
    /// The journal or the zone build failed.
    ServerError,
}

/// The handle to the updater thread; the thread ends when every handle
/// is dropped.
#[derive(Clone)]
pub struct Updater {
    tx: mpsc::Sender<Command>,
}

impl UpdateSink for Updater {
    fn submit(&self, request: UpdateRequest) -> bool {
        self.tx.try_send(Command::Update(request)).is_ok()
    }
}

impl Updater {
    /// Starts the thread over `loaded` (what [`load::load`] made of
    /// `config`, already live in `engine` and `xdp`).
    pub fn start(
        config: Config,
        loaded: Loaded,
        engine: Arc<Engine>,
        xdp: Arc<Option<XdpService>>,
    ) -> std::io::Result<Updater> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let state = State {
            keys: auth::Keys::from_config(&config),
            config,
            journals: loaded.journals,
            buckets: HashMap::new(),
            engine,
            xdp,
        };
        std::thread::Builder::new()
            .name("dnsd-updater".into())
            .spawn(move || state.run(rx))?;
        Ok(Updater { tx })
    }

    /// Recompiles the zones of `config` and replays their journals; on
    /// success they are live. The text says what is served, or why not.
    pub async fn reload(&self, config: Config) -> Result<String, String> {
        let (reply, rx) = oneshot::channel();
        let command = Command::Reload {
            config: Box::new(config),
            reply,
        };
        if self.tx.send(command).await.is_err() {
            return Err("shutting down".into());
        }
        rx.await.unwrap_or_else(|_| Err("shutting down".into()))
    }

    /// Makes `host`'s address RRset (A or AAAA by `addr`'s family) exactly
    /// `addr`, under the policy of the key named `key`, through the same
    /// path as RFC 2136 updates.
    pub async fn set_address(
        &self,
        key: &str,
        host: &Name,
        addr: IpAddr,
        client: SocketAddr,
    ) -> Result<AddressOutcome, AddressRefusal> {
        let Ok(key) = Name::parse_text(key) else {
            return Err(AddressRefusal::NotAllowed);
        };
        let (reply, rx) = oneshot::channel();
        let command = Command::SetAddress {
            key,
            host: host.clone(),
            addr,
            client,
            reply,
        };
        if self.tx.send(command).await.is_err() {
            return Err(AddressRefusal::ServerError);
        }
        rx.await.unwrap_or(Err(AddressRefusal::ServerError))
    }

    /// `dnsd journal ZONE [--drop]` for the running daemon, from a
    /// blocking thread: the changes in effect, or the outcome of dropping
    /// them.
    pub fn journal_blocking(&self, zone: Name, drop: bool) -> String {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .blocking_send(Command::Journal { zone, drop, reply })
            .is_err()
        {
            return "error: shutting down\n".into();
        }
        rx.blocking_recv()
            .unwrap_or_else(|_| "error: shutting down\n".into())
    }
}

/// The dyndns2 endpoint's updates take the RFC 2136 path.
impl dyndns::AddressSink for Updater {
    async fn set_address(
        &self,
        c: dyndns::AddressChange<'_>,
    ) -> Result<dyndns::SetOutcome, dyndns::SetRefusal> {
        match Updater::set_address(self, c.key, c.host, c.addr, c.client).await {
            Ok(AddressOutcome::Changed) => Ok(dyndns::SetOutcome::Changed),
            Ok(AddressOutcome::Unchanged) => Ok(dyndns::SetOutcome::Unchanged),
            Err(AddressRefusal::NoHost) => Err(dyndns::SetRefusal::NoHost),
            Err(AddressRefusal::NotAllowed) => Err(dyndns::SetRefusal::NotAllowed),
            Err(AddressRefusal::Abuse) => Err(dyndns::SetRefusal::Abuse),
            Err(AddressRefusal::ServerError) => Err(dyndns::SetRefusal::ServerError),
        }
    }
}

/// A token bucket: `rate` updates per minute, bursts up to `rate`.
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, rate: u32, now: Instant) -> bool {
        let rate = f64::from(rate);
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate / 60.0).min(rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What a key's rules for one zone allow.
struct KeyPolicy<'a>(Vec<&'a AllowRule>);

impl UpdatePolicy for KeyPolicy<'_> {
    fn allows(&self, owner: &Name, rtype: Rtype) -> bool {
        self.0.iter().any(|r| r.allows(owner, rtype))
    }
}

/// Unsigned updates from an allowed address may change anything in the
/// zone (as BIND's allow-update with addresses).
struct AnyChange;

impl UpdatePolicy for AnyChange {
    fn allows(&self, _: &Name, _: Rtype) -> bool {
        true
    }
}

/// Why an update was not applied: the rcode and a reason for the log.
struct Refusal {
    error: UpdateError,
    reason: String,
    /// Refused by a rate or size limit.
    limited: bool,
}

fn refuse(error: UpdateError, reason: impl Into<String>) -> Refusal {
    Refusal {
        error,
        reason: reason.into(),
        limited: false,
    }
}

fn limit(reason: String) -> Refusal {
    Refusal {
        limited: true,
        ..refuse(UpdateError::Refused, reason)
    }
}

/// An applied update, for the log.
struct Applied {
    zone: Name,
    change: Option<ChangeSet>,
    /// Building the new snapshot (the changed zone rebuilt, the others
    /// shared).
    build: Duration,
    /// From the end of the journal fsync to the end of the XDP table swap.
    publish: Duration,
    fsync: Duration,
}

struct State {
    config: Config,
    keys: auth::Keys,
    journals: HashMap<Box<[u8]>, Journal>,
    /// Rate limits by key name (`key:NAME`) or client (`addr:IP`).
    buckets: HashMap<String, Bucket>,
    engine: Arc<Engine>,
    xdp: Arc<Option<XdpService>>,
}

impl State {
    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.blocking_recv() {
            match command {
                Command::Update(request) => {
                    let out = self.handle(&request);
                    let _ = request.reply.send(out);
                }
                Command::Reload { config, reply } => {
                    let _ = reply.send(self.reload(*config));
                }
                Command::Journal { zone, drop, reply } => {
                    let _ = reply.send(self.journal(&zone, drop));
                }
                Command::SetAddress {
                    key,
                    host,
                    addr,
                    client,
                    reply,
                } => {
                    let _ = reply.send(self.set_address(key, &host, addr, client));
                }
            }
        }
    }

    /// One UPDATE message in, its response out.
    fn handle(&mut self, request: &UpdateRequest) -> Vec<u8> {
        let msg = &request.message;
        let now = unix_now();
        let auth = self.keys.check(msg, now);
        let result = self.update_logged(msg, &auth, request.client);
        let mut out = Vec::new();
        update::render_response(msg, result.map(|_| ()).map_err(|r| r.error), &mut out);
        auth.finish(&mut out, now);
        out
    }

    fn set_address(
        &mut self,
        key: Name,
        host: &Name,
        addr: IpAddr,
        client: SocketAddr,
    ) -> Result<AddressOutcome, AddressRefusal> {
        let snapshot = self.engine.snapshot();
        let zone = snapshot
            .find_zone(host.to_lowercase().as_wire())
            .and_then(|(z, _)| snapshot.zones.get(z));
        let Some(zone) = zone else {
            tracing::info!(key = %key, client = %client, host = %host, "address update refused: no zone holds the name");
            return Err(AddressRefusal::NoHost);
        };
        if address::is_current(zone, host, addr) {
            tracing::info!(key = %key, client = %client, host = %host, %addr, "address update changed nothing");
            return Ok(AddressOutcome::Unchanged);
        }
        let msg = address::message(zone, host, addr);
        match self.update_logged(&msg, &Auth::Http(key), client) {
            Ok(Applied {
                change: Some(_), ..
            }) => Ok(AddressOutcome::Changed),
            Ok(Applied { change: None, .. }) => Ok(AddressOutcome::Unchanged),
            Err(r) if r.limited => Err(AddressRefusal::Abuse),
            Err(r) if r.error == UpdateError::ServFail => Err(AddressRefusal::ServerError),
            Err(_) => Err(AddressRefusal::NotAllowed),
        }
    }

    /// [`State::apply`], logged at info with key, client, zone and change.
    fn update_logged(
        &mut self,
        msg: &[u8],
        auth: &Auth,
        client: SocketAddr,
    ) -> Result<Applied, Refusal> {
        let key = auth
            .key_name()
            .map_or_else(|| "-".to_owned(), ToString::to_string);
        let result = match auth.failure() {
            Some((error, reason)) => Err(refuse(error, reason)),
            None => self.apply(msg, auth, client),
        };
        match &result {
            Ok(done) => match &done.change {
                Some(cs) => tracing::info!(
                    key = %key,
                    client = %client,
                    zone = %done.zone,
                    serial = cs.serial_after,
                    build_us = done.build.as_micros() as u64,
                    fsync_us = done.fsync.as_micros() as u64,
                    publish_us = done.publish.as_micros() as u64,
                    change = %text::summary(cs),
                    "update applied"
                ),
                None => {
                    tracing::info!(key = %key, client = %client, zone = %done.zone, "update changed nothing")
                }
            },
            Err(r) => tracing::info!(
                key = %key,
                client = %client,
                zone = %update::zone_of(msg).map_or_else(|_| "-".to_owned(), |z| z.to_string()),
                rcode = r.error.rcode(),
                reason = %r.reason,
                "update refused"
            ),
        }
        result
    }

    fn apply(&mut self, msg: &[u8], auth: &Auth, client: SocketAddr) -> Result<Applied, Refusal> {
        let apex = update::zone_of(msg).map_err(|e| refuse(e, "bad zone section"))?;
        let snapshot = self.engine.snapshot();
        let lower: Box<[u8]> = apex.to_lowercase().as_wire().into();
        let zone = snapshot
            .apexes
            .get(&lower)
            .and_then(|&i| snapshot.zones.get(i))
            .ok_or_else(|| {
                refuse(
                    UpdateError::NotAuth,
                    format!("{apex} is not a zone of ours"),
                )
            })?;
        let zc = zone_config(&self.config, &zone.source, &apex);
        let (policy, bucket, rate, max_changes): (Box<dyn UpdatePolicy + '_>, String, u32, usize) =
            match auth.key_name() {
                Some(name) => {
                    let key = self
                        .config
                        .keys
                        .iter()
                        .find(|k| Name::parse_text(&k.name).is_ok_and(|n| n == *name))
                        .ok_or_else(|| refuse(UpdateError::NotAuth, "unknown key"))?;
                    let rules: Vec<&AllowRule> =
                        key.allow.iter().filter(|r| r.zone == apex).collect();
                    if rules.is_empty() {
                        return Err(refuse(UpdateError::Refused, "key may not update this zone"));
                    }
                    (
                        Box::new(KeyPolicy(rules)),
                        format!("key:{}", key.name),
                        key.rate,
                        key.max_changes,
                    )
                }
                None => {
                    let zc = zc
                        .filter(|zc| zc.allow_update_from.iter().any(|p| p.contains(client.ip())));
                    let Some(zc) = zc else {
                        return Err(refuse(
                            UpdateError::Refused,
                            "unsigned update from an address not in allow_update_from",
                        ));
                    };
                    (
                        Box::new(AnyChange),
                        format!("addr:{}", client_ip(client)),
                        zc.update_rate,
                        zc.update_max_changes,
                    )
                }
            };
        // NSCOUNT: the update section's size (RFC 2136 §2.2).
        let changes = msg
            .get(8..10)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
        if changes > max_changes {
            return Err(limit(format!(
                "{changes} changes, more than the limit of {max_changes}"
            )));
        }
        let now = Instant::now();
        if self.buckets.len() > MAX_BUCKETS {
            // A bucket idle for a minute is full again: forgetting it
            // changes nothing.
            self.buckets
                .retain(|_, b| now.saturating_duration_since(b.last) < Duration::from_secs(60));
        }
        let allowed = self
            .buckets
            .entry(bucket)
            .or_insert(Bucket {
                tokens: f64::from(rate),
                last: now,
            })
            .take(rate, now);
        if !allowed {
            return Err(limit(format!("rate limit of {rate} updates per minute")));
        }
        if zone.client_dependent || zone.time_dependent {
            return Err(refuse(
                UpdateError::Refused,
                "zone has tinydns location or timestamp data",
            ));
        }
        let Some(cs) = update::process(msg, zone, policy.as_ref())
            .map_err(|e| refuse(e, "failed the RFC 2136 checks"))?
        else {
            return Ok(Applied {
                zone: apex,
                change: None,
                build: Duration::ZERO,
                publish: Duration::ZERO,
                fsync: Duration::ZERO,
            });
        };
        // A name in a zone of ours below this one belongs to that zone
        // (RFC 2136 §3.4.1.3: NOTZONE).
        let zone_index = snapshot.apexes.get(&lower).copied();
        if let Some(c) = cs.changes.iter().find(|c| {
            snapshot
                .find_zone(c.owner.to_lowercase().as_wire())
                .map(|(z, _)| z)
                != zone_index
        }) {
            return Err(refuse(
                UpdateError::NotZone,
                format!("{} belongs to another zone served here", c.owner),
            ));
        }
        let building = Instant::now();
        let (next, _) = store::apply(&snapshot, std::slice::from_ref(&cs), false).map_err(|e| {
            tracing::error!("update not applied: {e}");
            refuse(UpdateError::ServFail, e.to_string())
        })?;
        let started = Instant::now();
        let build = started - building;
        let journal = match self.journals.entry(lower.clone()) {
            Entry::Occupied(j) => j.into_mut(),
            Entry::Vacant(v) => {
                let path = journal::path_for(&self.config.journal_dir(), &apex);
                let (j, _) = Journal::open(&path).map_err(|e| {
                    tracing::error!("update not applied: {e}");
                    refuse(UpdateError::ServFail, e.to_string())
                })?;
                v.insert(j)
            }
        };
        journal.append(&cs).map_err(|e| {
            tracing::error!("update not applied: {e}");
            refuse(UpdateError::ServFail, e.to_string())
        })?;
        let synced = Instant::now();
        self.publish(next);
        let published = synced.elapsed();
        if let Some(journal) = self
            .journals
            .get_mut(&lower)
            .filter(|j| j.records() > self.config.server.journal_compact_after)
        {
            // The update is durable already; a failed compaction only
            // leaves the journal long.
            match journal.compact() {
                Ok(()) => {
                    tracing::info!(zone = %apex, journal = %journal.path().display(), "journal compacted")
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        Ok(Applied {
            zone: apex,
            change: Some(cs),
            build,
            publish: published,
            fsync: synced - started,
        })
    }

    /// Makes `snapshot` live: the XDP table first, then the engine, so
    /// neither answers older data than the other for long.
    fn publish(&self, snapshot: Snapshot) {
        if let Some(x) = self.xdp.as_ref() {
            x.update(&snapshot);
        }
        self.engine.replace(snapshot);
    }

    fn reload(&mut self, config: Config) -> Result<String, String> {
        match load::load(&config, true) {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!("{w}");
                }
                let text = describe(&loaded.snapshot);
                self.keys.reconfigure(&config);
                self.config = config;
                self.journals = loaded.journals;
                self.publish(loaded.snapshot);
                Ok(text)
            }
            Err(load::LoadError::Compile(e)) => {
                for d in &e.diagnostics {
                    tracing::error!("{d}");
                }
                Err(e.to_string())
            }
            Err(e) => {
                tracing::error!("{e}");
                Err(e.to_string())
            }
        }
    }

    fn journal(&mut self, zone: &Name, drop: bool) -> String {
        let path = journal::path_for(&self.config.journal_dir(), zone);
        if !drop {
            return match journal::read(&path) {
                Ok(c) => show(zone, &c.changes),
                Err(e) => format!("error: {e}\n"),
            };
        }
        let lower: Box<[u8]> = zone.to_lowercase().as_wire().into();
        let dropped = match self.journals.get_mut(&lower) {
            Some(j) => j.drop_all(),
            None => journal::remove(&path),
        };
        if let Err(e) = dropped {
            return format!("error: {e}\n");
        }
        tracing::info!(zone = %zone, "journal dropped; serving the source");
        match self.reload(self.config.clone()) {
            Ok(text) => format!("dropped the journal of {zone}; serving {text}\n"),
            Err(e) => format!("error: journal dropped, but the reload failed: {e}\n"),
        }
    }
}

/// The `dnsd journal ZONE` text: every change in effect, oldest first.
pub fn show(zone: &Name, changes: &[ChangeSet]) -> String {
    if changes.is_empty() {
        return format!("; {zone}: no dynamic changes\n");
    }
    let mut out = format!("; {zone}: {} dynamic update(s) in effect\n", changes.len());
    for cs in changes {
        out.push_str(&text::changeset(cs));
    }
    out
}

/// `apex (serial N), ...` for every zone.
pub fn describe(snapshot: &Snapshot) -> String {
    snapshot
        .zones
        .iter()
        .map(|z| format!("{} (serial {})", z.apex, z.serial()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The config entry of the zone built from `source`; for a tinydns file
/// holding several zones, the entry naming `apex` or the file's entry.
fn zone_config<'c>(
    config: &'c Config,
    source: &std::path::Path,
    apex: &Name,
) -> Option<&'c ZoneConfig> {
    let mut of_file = config
        .zones
        .iter()
        .filter(|zc| config.zone_path(zc) == source);
    let all: Vec<&ZoneConfig> = of_file.by_ref().collect();
    all.iter()
        .find(|zc| {
            zc.name
                .as_deref()
                .and_then(|n| Name::parse_text(n).ok())
                .as_ref()
                == Some(apex)
        })
        .or_else(|| all.first())
        .copied()
}

/// Rate limits of unsigned updates count per client address (IPv6: /64,
/// one site).
fn client_ip(client: SocketAddr) -> IpAddr {
    match client.ip() {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            IpAddr::V6((v6.to_bits() & !0u128 << 64).into())
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client.ip(), IpAddr::V4),
        v4 => v4,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_rate_per_minute() {
        let t0 = Instant::now();
        let mut b = Bucket {
            tokens: 3.0,
            last: t0,
        };
        assert!(b.take(3, t0));
        assert!(b.take(3, t0));
        assert!(b.take(3, t0));
        assert!(!b.take(3, t0));
        // 3 per minute: one more after 20 s, not before.
        assert!(!b.take(3, t0 + Duration::from_secs(19)));
        assert!(b.take(3, t0 + Duration::from_secs(21)));
        // Never more than a minute's worth saved up.
        let later = t0 + Duration::from_secs(3600);
        assert!((0..3).all(|_| b.take(3, later)));
        assert!(!b.take(3, later));
    }

    #[test]
    fn unsigned_clients_are_counted_per_site() {
        let a: SocketAddr = "[2001:db8:1:2:3::4]:53".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:ffff::9]:53".parse().unwrap();
        assert_eq!(client_ip(a), client_ip(b));
        let m: SocketAddr = "[::ffff:198.18.0.1]:53".parse().unwrap();
        assert_eq!(client_ip(m), IpAddr::from([198, 18, 0, 1]));
    }
}
