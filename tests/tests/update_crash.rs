//! Durability of dynamic updates (issue 5, item 9; RFC 2136 §3.5 with a
//! journal): a client streams UPDATEs over TCP, each adding two records
//! (`uN TXT` and `vN A`) to example.info, while dnsd is killed with SIGKILL
//! at a random moment, twenty times, and restarted. After each kill the
//! zone must load cleanly (`dnsd check`, journal included) and after each
//! restart every acknowledged update must be there, every update must be
//! whole (both records or neither), and the SOA serial must count exactly
//! the updates present. The journal is compacted every few dozen updates,
//! so kills also land inside compactions.
//!
//! Loopback only; the stream is bounded in count and time per round.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dnsd_e2e::client;
use dnsd_e2e::normalize::Response;
use dnsd_e2e::rng::{Rng, seed};
use dnsd_e2e::servers::{Dnsd, Server, Zone, dnsd_command};
use dnsd_e2e::update;
use dnsd_e2e::wire::{QueryBuilder, rcode, rtype};

const ROUNDS: usize = 20;
/// The stream of one round stops after this many updates or this time,
/// whichever comes first (the kill normally comes well before).
const MAX_UPDATES_PER_ROUND: u32 = 400;
const MAX_ROUND_TIME: Duration = Duration::from_secs(10);
/// The kill comes at a random moment in this window after the stream starts.
const KILL_WINDOW_MS: u64 = 400;
const TIMEOUT: Duration = Duration::from_secs(2);
/// dnsd's `journal_compact_after` here.
const COMPACT_AFTER: usize = 16;
/// The example zone's serial.
const INITIAL_SERIAL: u32 = 2024060101;

/// What the client saw of one update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// NOERROR received: must be there after the restart.
    Acked,
    /// Sent, no answer (the kill came first): all or nothing.
    InFlight,
}

/// The update adding record pair `n`.
fn add_pair(n: u32) -> Vec<u8> {
    update::message(
        n as u16,
        "example.info",
        &[],
        &[
            update::add(
                &format!("u{n}.example.info"),
                300,
                rtype::TXT,
                &update::txt(&n.to_string()),
            ),
            update::add(
                &format!("v{n}.example.info"),
                300,
                rtype::A,
                &[198, 18, (n >> 8) as u8, n as u8],
            ),
        ],
    )
}

/// Sends updates `first..` one after the other on one TCP connection
/// until the server goes away or the round's bounds are reached.
fn stream(addr: SocketAddr, first: u32) -> Vec<(u32, Fate)> {
    let mut out = Vec::new();
    let Some(mut conn) = client::tcp_connect(addr, TIMEOUT) else {
        return out;
    };
    let _ = conn.set_read_timeout(Some(TIMEOUT));
    let start = Instant::now();
    for n in first..first + MAX_UPDATES_PER_ROUND {
        if start.elapsed() > MAX_ROUND_TIME {
            break;
        }
        let msg = add_pair(n);
        if std::io::Write::write_all(&mut conn, &client::frame(&msg)).is_err() {
            break;
        }
        match client::read_frame(&mut conn).response() {
            Some(r) => {
                let code = update::rcode(&msg, &r);
                assert_eq!(code, Some(0), "update {n} answered with RCODE {code:?}");
                out.push((n, Fate::Acked));
            }
            None => {
                out.push((n, Fate::InFlight));
                break;
            }
        }
    }
    out
}

fn query(server: &Server, name: &str, qtype: u16) -> Response {
    let q = QueryBuilder::new(name, qtype).id(0x7777).build();
    let r = client::udp(server.addr, &q, TIMEOUT)
        .unwrap_or_else(|| panic!("no answer to {name}; log:\n{}", server.log()));
    Response::parse(&r).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Whether pair `n` is there: (TXT present, A present).
fn pair_present(server: &Server, n: u32) -> (bool, bool) {
    let has = |name: String, t: u16, want: String| {
        let r = query(server, &name, t);
        r.rcode == rcode::NOERROR && r.answer.iter().any(|a| a.rtype == t && a.rdata == want)
    };
    (
        has(format!("u{n}.example.info"), rtype::TXT, format!("\"{n}\"")),
        has(
            format!("v{n}.example.info"),
            rtype::A,
            format!("198.18.{}.{}", (n >> 8) as u8, n as u8),
        ),
    )
}

fn serial(server: &Server) -> u32 {
    let r = query(server, "example.info", rtype::SOA);
    r.answer
        .iter()
        .find(|a| a.rtype == rtype::SOA)
        .and_then(|a| a.rdata.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or_else(|| panic!("no SOA serial in\n{}", r.render()))
}

#[test]
fn acknowledged_updates_survive_sigkill() {
    let seed = seed();
    println!("seed {seed} (DNSD_E2E_SEED={seed} repeats this run)");
    let mut rng = Rng(seed);
    let zone = Zone::rfc1035("example.info", dnsd_e2e::example("zones/example.info.zone"))
        .option("allow_update_from = [\"127.0.0.1/32\"]")
        .option("update_rate = 1000000")
        .option("update_max_changes = 10");
    let mut server = Dnsd::new(&[zone])
        .server_option("journal_dir = \"journal\"")
        // Compacted often, so that kills also land inside compactions.
        .server_option(&format!("journal_compact_after = {COMPACT_AFTER}"))
        .start();
    let config = server.dir().join("dnsd.toml");
    let mut present: Vec<u32> = Vec::new();
    let mut next = 1u32;
    let mut acked_total = 0;
    for round in 0..ROUNDS {
        let addr = server.addr;
        let first = next;
        let streamer = std::thread::spawn(move || stream(addr, first));
        std::thread::sleep(Duration::from_millis(rng.next_u64() % KILL_WINDOW_MS));
        server.kill();
        let fates = streamer.join().expect("the client thread");
        next = fates.last().map_or(next, |(n, _)| n + 1);

        // The zone loads cleanly with the journal as the kill left it.
        let check = dnsd_command()
            .arg("check")
            .arg(&config)
            .output()
            .expect("run dnsd check");
        assert!(
            check.status.success(),
            "round {round}: dnsd check fails after SIGKILL:\n{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );

        server.restart();
        for &(n, fate) in &fates {
            let (txt, a) = pair_present(&server, n);
            assert_eq!(
                txt, a,
                "round {round}: update {n} ({fate:?}) is half applied: TXT {txt}, A {a}"
            );
            match fate {
                Fate::Acked => {
                    assert!(
                        txt,
                        "round {round}: acknowledged update {n} is lost; log:\n{}",
                        server.log()
                    );
                    acked_total += 1;
                    present.push(n);
                }
                Fate::InFlight if txt => present.push(n),
                Fate::InFlight => {}
            }
        }
        let acked = fates.iter().filter(|(_, f)| *f == Fate::Acked).count();
        println!(
            "round {round:2}: {acked} acknowledged, {} in flight, {} updates present in all",
            fates.len() - acked,
            present.len()
        );
        // Every update bumps the serial by one, and only those present did.
        assert_eq!(
            serial(&server),
            INITIAL_SERIAL + present.len() as u32,
            "round {round}: the serial does not count the {} updates present",
            present.len()
        );
    }
    assert!(
        acked_total >= ROUNDS,
        "only {acked_total} updates were acknowledged in {ROUNDS} rounds: the kills came too early to test anything"
    );
    // Finally, everything from every round is still there.
    for &n in &present {
        assert_eq!(
            pair_present(&server, n),
            (true, true),
            "update {n} lost by a later round"
        );
    }
    let log = server.log();
    assert!(!log.contains("panicked"), "dnsd panicked:\n{log}");
    assert!(
        log.matches("journal compacted").count() >= ROUNDS,
        "too few compactions to test crashes during them:\n{log}"
    );
}
