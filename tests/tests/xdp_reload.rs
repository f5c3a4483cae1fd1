//! Zone reloads under load through XDP: while a client in another network
//! namespace sends a steady stream of queries over a veth to dnsd with XDP
//! attached in native mode, the zone flips between two versions a hundred
//! times. Every response must be wholly one version (byte for byte one of
//! the two reference responses), both versions must be seen, no query may
//! go unanswered, and XDP must answer nearly all of them: the table swap
//! is atomic (shared/spec/xdp-fast-path.md §8). A second test flips
//! as soon as the previous version is served and checks that dnsd acts on
//! every rename.
//!
//! Needs root; fails (never skips) without it. Traffic stays inside the
//! namespaces the test creates (198.18.0.0/15 only); the client is bounded
//! in count and time.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use dnsd_e2e::netns::{self, NetPair, NsChild, NsDnsd, require_root};
use dnsd_e2e::normalize::Response;
use dnsd_e2e::stats;
use dnsd_e2e::wire::{QueryBuilder, rtype};

/// Keeps this test's namespaces apart from other tests' (198.18.62.0/24).
const INDEX: u8 = 62;
/// The namespaces of the second test (198.18.63.0/24).
const QUICK_INDEX: u8 = 63;
const FLIPS: usize = 100;
/// How long one version may take to become visible after a flip.
const FLIP_TIMEOUT: Duration = Duration::from_secs(10);
/// A rename not acted on within this time was missed by dnsd (a reload
/// takes well under a second: 200 ms of settling plus compiling).
const MISS_TIMEOUT: Duration = Duration::from_millis(1500);
/// Pause after a flip has become visible through XDP before the next one:
/// dnsd swaps the XDP table before it has finished the reload, and drops
/// inotify events until it has (reported; checked by the second test, which
/// flips without the pause).
const PAUSE_AFTER_FLIP: Duration = Duration::from_millis(100);
/// Flips made without the pause by the second test.
const QUICK_FLIPS: usize = 4;
/// Bounds of the client's stream.
const MAX_QUERIES: u64 = 150_000;
const MAX_STREAM_TIME: Duration = Duration::from_secs(50);
/// The stream's pace (queries per second), at most.
const RATE: u64 = 3_000;
const QUERY_TIMEOUT: Duration = Duration::from_secs(1);

/// Zone `flip.example`, version `v`: the A RRset of www (both addresses
/// and the TTL), the MX preference and its additional address, and the
/// SOA serial all differ between the versions; every length stays the same.
fn zone(v: u8) -> String {
    let (octet, ttl, pref) = if v == 1 {
        (200, 300, 10)
    } else {
        (201, 600, 20)
    };
    format!(
        "$ORIGIN flip.example.\n$TTL 300\n\
         @ 300 IN SOA ns1.flip.example. hostmaster.flip.example. {v} 3600 600 86400 300\n\
         @ IN NS ns1.flip.example.\n\
         ns1 IN A 198.18.199.53\n\
         @ IN MX {pref} mx1.flip.example.\n\
         mx1 IN A 198.18.{octet}.25\n\
         www {ttl} IN A 198.18.{octet}.1\n\
         www {ttl} IN A 198.18.{octet}.2\n"
    )
}

/// Replaces the zone file the way editors do: a temporary file renamed
/// over it (dnsd notices through inotify on the directory).
fn write_zone(path: &Path, v: u8) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, zone(v)).expect("write the zone");
    fs::rename(&tmp, path).expect("rename the zone into place");
}

/// The stream's two queries: www A and the apex MX.
fn query(which: usize, id: u16) -> Vec<u8> {
    match which {
        0 => QueryBuilder::new("www.flip.example", rtype::A),
        _ => QueryBuilder::new("flip.example", rtype::MX),
    }
    .id(id)
    .build()
}

/// Frame size of a DNS message over IPv4 on Ethernet.
fn frame_len(dns_len: usize) -> usize {
    14 + 20 + 8 + dns_len
}

/// Whether XDP can always grow the query frame into the response on a
/// veth: the tailroom there is only the cache-line alignment slack of the
/// frame (see xdp_veth.rs, `fits_veth_tailroom`).
fn fits_veth_tailroom(query_len: usize, response_len: usize) -> bool {
    frame_len(response_len) <= frame_len(query_len).div_ceil(64) * 64
}

/// Writes version `v` and waits until `served()` shows it. A rename that
/// dnsd has not acted on within [`MISS_TIMEOUT`] is counted as missed and
/// repeated (dnsd drops inotify events that arrive while it reloads; see
/// `zone_replaced_while_reloading_is_reloaded`). `None` after [`FLIP_TIMEOUT`].
fn flip(path: &Path, v: u8, served: &mut dyn FnMut() -> bool) -> Option<(Duration, u32)> {
    let start = Instant::now();
    let mut missed = 0;
    write_zone(path, v);
    let mut written = Instant::now();
    loop {
        if served() {
            return Some((start.elapsed(), missed));
        }
        if start.elapsed() > FLIP_TIMEOUT {
            return None;
        }
        if written.elapsed() > MISS_TIMEOUT {
            missed += 1;
            write_zone(path, v);
            written = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------

fn answered(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> u64 {
    stats::xdp_answered(before, after)
}

/// A UDP socket bound to the client's IPv4 address, in its namespace.
fn client_socket(pair: &NetPair) -> UdpSocket {
    let v4 = pair.client_v4;
    pair.in_client(move || UdpSocket::bind((v4, 0)))
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("bind a socket in the client namespace")
}

/// Sends `query` and waits for the datagram from `server` with its ID.
fn exchange(sock: &UdpSocket, server: SocketAddr, query: &[u8]) -> Option<Vec<u8>> {
    netns::udp_exchange(sock, server, query, QUERY_TIMEOUT)
}

/// Which version `response` (to a query with ID `id`) is: 1 or 2 when it
/// equals that version's reference response byte for byte (but the ID).
fn version_of(refs: &[[Vec<u8>; 2]; 2], which: usize, id: u16, response: &[u8]) -> Option<u8> {
    if response.len() < 2 || response[..2] != id.to_be_bytes() {
        return None;
    }
    (0..2)
        .find(|&v| refs[which][v][2..] == response[2..])
        .map(|v| v as u8 + 1)
}

#[derive(Default, Debug)]
struct StreamResult {
    sent: u64,
    responses: u64,
    lost: u64,
    /// Per query (A, MX): responses of version 1 and version 2.
    seen: [[u64; 2]; 2],
    /// Responses that are neither version, with their query.
    odd: Vec<(Vec<u8>, Vec<u8>)>,
    odd_count: u64,
    lost_examples: Vec<Vec<u8>>,
    elapsed: Duration,
}

/// dnsd with XDP in the server namespace serving `flip.example`, and the
/// reference responses of both versions, fetched through XDP.
struct Setup {
    // Dropped in this order: dnsd, the client's XDP program, the
    // namespaces, the directory.
    dnsd: NsDnsd,
    _client_xdp: std::os::fd::OwnedFd,
    pair: NetPair,
    _dir: tempfile::TempDir,
    zone_path: PathBuf,
    server: SocketAddr,
    probe: UdpSocket,
    id: u16,
    /// `[query][version - 1]`, with ID 0.
    refs: Arc<[[Vec<u8>; 2]; 2]>,
    /// Renames dnsd missed while the references were fetched.
    missed: u32,
}

impl Setup {
    fn new(index: u8) -> Setup {
        let (pair, client_xdp, dir) = netns::xdp_test_bed(index, "dnsd-e2e-xdp-reload-");
        let zone_path = dir.path().join("flip.zone");
        write_zone(&zone_path, 1);
        let server = SocketAddr::new(IpAddr::V4(pair.server_v4), 53);
        let config = dir.path().join("dnsd.toml");
        fs::write(
            &config,
            format!(
                "[server]\nlisten = [\"{server}\"]\nudp_sockets = 1\ncontrol_socket = \"control.sock\"\n\n\
                 [log]\nlevel = \"info\"\n\n[xdp]\ninterfaces = [\"{}\"]\nmode = \"native\"\n\n\
                 [[zone]]\nname = \"flip.example\"\nfile = \"flip.zone\"\nformat = \"rfc1035\"\n",
                pair.server_if
            ),
        )
        .unwrap();
        let child = NsChild::dnsd(
            &pair.server_ns,
            &config,
            dir.path(),
            dir.path().join("dnsd.log"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dnsd = NsDnsd {
            child,
            control: dir.path().join("control.sock"),
        };
        let probe = client_socket(&pair);
        let mut setup = Setup {
            dnsd,
            _client_xdp: client_xdp,
            pair,
            _dir: dir,
            zone_path,
            server,
            probe,
            id: 0,
            refs: Arc::new(Default::default()),
            missed: 0,
        };
        setup.fetch_references();
        setup
    }

    /// The response to stream query `which` now, with ID 0.
    fn fetch(&mut self, which: usize) -> Option<Vec<u8>> {
        self.id = self.id.wrapping_add(1) | 0x8000;
        exchange(&self.probe, self.server, &query(which, self.id)).map(|mut r| {
            r[..2].copy_from_slice(&[0, 0]);
            r
        })
    }

    /// Flips to version `v` and waits until www A is served from it.
    fn flip_to(&mut self, v: u8) -> Option<(Duration, u32)> {
        let want = self.refs[0][v as usize - 1].clone();
        let path = self.zone_path.clone();
        flip(&path, v, &mut || self.fetch(0).as_ref() == Some(&want))
    }

    fn fetch_references(&mut self) {
        // Ready: answers www A.
        let deadline = Instant::now() + Duration::from_secs(20);
        let v1_a = loop {
            if let Some(status) = self.dnsd.child.exited() {
                self.dnsd
                    .fail(&format!("exited ({status}) before answering"));
            }
            if let Some(r) = self.fetch(0) {
                break r;
            }
            if Instant::now() > deadline {
                self.dnsd
                    .fail("no answer to www.flip.example A within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let log = self.dnsd.child.log_text();
        if !log.contains("XDP fast path attached") || !log.contains("mode=native") {
            self.dnsd.fail("XDP is not attached in native mode");
        }
        let v1_mx = self
            .fetch(1)
            .unwrap_or_else(|| self.dnsd.fail("no answer to flip.example MX"));

        // Version 2: flip once and wait for a different answer.
        let mut v2_a = None;
        let path = self.zone_path.clone();
        match flip(&path, 2, &mut || {
            v2_a = self.fetch(0).filter(|r| *r != v1_a);
            v2_a.is_some()
        }) {
            Some((_, m)) => self.missed += m,
            None => self
                .dnsd
                .fail("version 2 not served within 10 s of the first flip"),
        }
        std::thread::sleep(PAUSE_AFTER_FLIP);
        let v2_a = v2_a.expect("served");
        let v2_mx = self
            .fetch(1)
            .unwrap_or_else(|| self.dnsd.fail("no answer to flip.example MX"));
        // The references are what the zones say, in every place that differs.
        for (v, a, mx) in [(1u8, &v1_a, &v1_mx), (2, &v2_a, &v2_mx)] {
            let (octet, ttl, pref) = if v == 1 {
                (200, 300, 10)
            } else {
                (201, 600, 20)
            };
            let a = Response::parse(a).unwrap_or_else(|e| panic!("version {v} www A: {e}"));
            let mut addrs: Vec<String> = a
                .answer
                .iter()
                .filter(|r| r.rtype == rtype::A && r.ttl == ttl)
                .map(|r| r.rdata.clone())
                .collect();
            addrs.sort();
            assert_eq!(
                (addrs, a.answer.len()),
                (
                    vec![format!("198.18.{octet}.1"), format!("198.18.{octet}.2")],
                    2
                ),
                "version {v} www A:\n{}",
                a.render()
            );
            let mx = Response::parse(mx).unwrap_or_else(|e| panic!("version {v} MX: {e}"));
            assert!(
                mx.answer.len() == 1
                    && mx.answer[0].rdata.starts_with(&format!("{pref} "))
                    && mx
                        .additional
                        .iter()
                        .any(|r| r.rdata == format!("198.18.{octet}.25")),
                "version {v} MX with its address:\n{}",
                mx.render()
            );
        }
        for (what, q, r) in [("www A", query(0, 0), &v1_a), ("MX", query(1, 0), &v1_mx)] {
            assert!(
                fits_veth_tailroom(q.len(), r.len()),
                "{what}: a {}-byte response to a {}-byte query does not fit the tailroom XDP has on a veth; \
                 change the zone so that XDP can answer",
                r.len(),
                q.len()
            );
        }
        self.refs = Arc::new([[v1_a, v2_a], [v1_mx, v2_mx]]);
        match self.flip_to(1) {
            Some((_, m)) => self.missed += m,
            None => self.dnsd.fail("version 1 not served again within 10 s"),
        }
        std::thread::sleep(PAUSE_AFTER_FLIP);
    }
}

#[test]
fn zone_flips_under_xdp_load_never_mix_or_lose() {
    require_root("xdp_reload");
    let started = Instant::now();
    let mut setup = Setup::new(INDEX);
    let stream_sock = client_socket(&setup.pair);
    let server = setup.server;
    let refs = Arc::clone(&setup.refs);

    // The stream: one query at a time, alternating www A and MX, paced.
    let stop = Arc::new(AtomicBool::new(false));
    let stats_before = setup.dnsd.stats();
    let stream = {
        let (refs, stop) = (Arc::clone(&refs), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut res = StreamResult::default();
            let start = Instant::now();
            let mut id: u16 = 0;
            while !stop.load(Ordering::Relaxed)
                && res.sent < MAX_QUERIES
                && start.elapsed() < MAX_STREAM_TIME
            {
                let which = (res.sent % 2) as usize;
                id = id.wrapping_add(1) & 0x7fff;
                let q = query(which, id);
                res.sent += 1;
                match exchange(&stream_sock, server, &q) {
                    None => {
                        res.lost += 1;
                        if res.lost_examples.len() < 5 {
                            res.lost_examples.push(q);
                        }
                    }
                    Some(r) => {
                        res.responses += 1;
                        match version_of(&refs, which, id, &r) {
                            Some(v) => res.seen[which][v as usize - 1] += 1,
                            None => {
                                res.odd_count += 1;
                                if res.odd.len() < 5 {
                                    res.odd.push((q, r));
                                }
                            }
                        }
                    }
                }
                // Pace: never ahead of RATE queries per second.
                let due = Duration::from_micros(res.sent * 1_000_000 / RATE);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
            res.elapsed = start.elapsed();
            res
        })
    };

    // The flips, each waited for (through the same XDP path).
    let mut flips = 0;
    let mut flip_times = Vec::new();
    let mut missed = Vec::new();
    for i in 0..FLIPS {
        let v = if i % 2 == 0 { 2 } else { 1 };
        match setup.flip_to(v) {
            Some((took, m)) => {
                flip_times.push(took);
                if m > 0 {
                    missed.push(i + 1);
                }
                std::thread::sleep(PAUSE_AFTER_FLIP);
            }
            None => {
                stop.store(true, Ordering::Relaxed);
                let _ = stream.join();
                setup.dnsd.fail(&format!(
                    "flip {} (to version {v}) not served within {FLIP_TIMEOUT:?}",
                    i + 1
                ));
            }
        }
        flips += 1;
        if stream.is_finished() {
            break;
        }
    }
    // A little more traffic on the last version, then stop.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let res = stream.join().expect("the client thread");
    let stats_after = setup.dnsd.stats();
    let by_xdp = answered(&stats_before, &stats_after);
    let by_userspace = stats::delta(&stats_before, &stats_after, "userspace.udp_queries");
    let pass_reasons: Vec<String> = stats_after
        .keys()
        .filter(|k| {
            k.starts_with("xdp.pass_") && *k != "xdp.pass_not_udp" && *k != "xdp.pass_not_ip"
        })
        .filter(|k| stats::delta(&stats_before, &stats_after, k) != 0)
        .map(|k| format!("{k} +{}", stats::delta(&stats_before, &stats_after, k)))
        .collect();
    flip_times.sort();
    eprintln!(
        "xdp_reload: {flips} flips ({} missed by dnsd and repeated; median {:?}, max {:?} until served); stream: {} queries in {:.1?}, {} responses, {} lost, {} neither version; \
         www A v1 {} v2 {}, MX v1 {} v2 {}; XDP answered {by_xdp}, userspace {by_userspace} (stream and flip probes); passes: {}",
        missed.len(),
        flip_times
            .get(flip_times.len() / 2)
            .copied()
            .unwrap_or_default(),
        flip_times.last().copied().unwrap_or_default(),
        res.sent,
        res.elapsed,
        res.responses,
        res.lost,
        res.odd_count,
        res.seen[0][0],
        res.seen[0][1],
        res.seen[1][0],
        res.seen[1][1],
        if pass_reasons.is_empty() {
            "none".to_string()
        } else {
            pass_reasons.join(", ")
        }
    );
    if let Some(status) = setup.dnsd.child.exited() {
        setup
            .dnsd
            .fail(&format!("exited ({status}) during the flips"));
    }
    assert_eq!(
        flips, FLIPS,
        "the stream ended (bounds) before the flips did"
    );
    let odd: Vec<String> = res
        .odd
        .iter()
        .map(|(q, r)| {
            format!(
                "  query {}\n  response {}\n{}",
                hex(q),
                hex(r),
                Response::parse(r).map_or_else(|e| e, |p| p.render())
            )
        })
        .collect();
    assert!(
        res.odd_count == 0,
        "{} responses were neither version 1 nor version 2 (mixed or wrong), e.g.:\n{}\nreferences: v1 A {}, v2 A {}, v1 MX {}, v2 MX {}",
        res.odd_count,
        odd.join("\n"),
        hex(&refs[0][0]),
        hex(&refs[0][1]),
        hex(&refs[1][0]),
        hex(&refs[1][1]),
    );
    assert!(
        res.lost == 0 && res.responses == res.sent,
        "{} of {} queries got no response within {QUERY_TIMEOUT:?}, e.g. {:?}; log:\n{}",
        res.lost,
        res.sent,
        res.lost_examples.iter().map(|q| hex(q)).collect::<Vec<_>>(),
        setup.dnsd.child.log_text()
    );
    assert!(
        res.seen.iter().all(|w| w[0] > 0 && w[1] > 0),
        "both versions must be seen for both queries: {:?}",
        res.seen
    );
    assert!(
        res.sent >= 5_000,
        "the stream sent only {} queries",
        res.sent
    );
    // XDP answers nearly everything: a reload swaps its table atomically,
    // it does not detach or pass while userspace catches up.
    assert!(
        by_xdp * 100 >= (by_xdp + by_userspace) * 99,
        "XDP answered {by_xdp}, userspace {by_userspace}; XDP passes: {}",
        pass_reasons.join(", ")
    );
    // Renames dnsd missed (repeated by `flip`) are the second test's
    // subject; here they only cost time.
    if !missed.is_empty() || setup.missed > 0 {
        eprintln!(
            "xdp_reload: dnsd missed the rename of flips {missed:?} (and {} before the stream) although each came {PAUSE_AFTER_FLIP:?} after the previous version was served",
            setup.missed
        );
    }
    eprintln!("xdp_reload: done in {:.1?}", started.elapsed());
}

/// Flips made as soon as the previous version is served through XDP: dnsd
/// must act on each, although it is still finishing the previous reload
/// when the rename happens (the XDP table is swapped inside the reload).
#[test]
fn zone_replaced_while_reloading_is_reloaded() {
    require_root("xdp_reload");
    let mut setup = Setup::new(QUICK_INDEX);

    let mut quick_missed = Vec::new();
    for i in 0..QUICK_FLIPS {
        let v = if i % 2 == 0 { 2 } else { 1 };
        match setup.flip_to(v) {
            Some((_, m)) if m > 0 => quick_missed.push(i + 1),
            Some(_) => {}
            None => setup.dnsd.fail(&format!(
                "quick flip {} (to version {v}) not served within {FLIP_TIMEOUT:?}",
                i + 1
            )),
        }
    }
    eprintln!(
        "xdp_reload: {QUICK_FLIPS} flips without a pause: {} missed by dnsd",
        quick_missed.len()
    );
    assert!(
        quick_missed.is_empty(),
        "dnsd ignored the rename of {} of {QUICK_FLIPS} flips made as soon as the previous version was served \
         through XDP (flips {quick_missed:?}) until the file was renamed over again {MISS_TIMEOUT:?} later: \
         a zone file replaced while dnsd is finishing a reload is not reloaded (the XDP table is swapped \
         inside the reload, and the inotify events that arrive before the new watcher is set up are lost \
         with the old one; dnsd/src/main.rs `watcher = watch_zones(..)` after `reload(..)`); log:\n{}",
        quick_missed.len(),
        setup.dnsd.child.log_text()
    );
}
