//! The journal of dynamic updates seen from outside (issue 5, items 4 and
//! 6): `dnsd journal ZONE` with the daemon running and stopped, `--drop`
//! both ways, journal replay over an edited source (the conflict logged,
//! the dynamic change kept), and the per-client rate and size limits.
//!
//! Loopback only.

use std::time::Duration;

use dnsd_e2e::client;
use dnsd_e2e::normalize::Response;
use dnsd_e2e::servers::{Dnsd, Server, Zone, dnsd_command};
use dnsd_e2e::update;
use dnsd_e2e::wire::{QueryBuilder, rcode, rtype};

const TIMEOUT: Duration = Duration::from_secs(2);

fn start(rate: u32) -> Server {
    let zone = Zone::rfc1035("example.info", dnsd_e2e::example("zones/example.info.zone"))
        .option("allow_update_from = [\"127.0.0.1/32\"]")
        .option(&format!("update_rate = {rate}"))
        .option("update_max_changes = 4");
    Dnsd::new(&[zone])
        .server_option("journal_dir = \"journal\"")
        .start()
}

/// The UPDATE making `addr` the home address (subspace A, TTL 60).
fn set_home(id: u16, addr: [u8; 4]) -> Vec<u8> {
    update::set_a(id, "example.info", "subspace.example.info", 60, addr)
}

/// Sends an UPDATE over UDP and returns its RCODE.
fn send(server: &Server, msg: &[u8]) -> u8 {
    let r = client::udp(server.addr, msg, TIMEOUT)
        .unwrap_or_else(|| panic!("no response to an UPDATE; log:\n{}", server.log()));
    update::rcode(msg, &r).unwrap_or_else(|| panic!("not an UPDATE response: {r:02x?}"))
}

fn address(server: &Server, name: &str) -> Vec<String> {
    let q = QueryBuilder::new(name, rtype::A).build();
    let r = client::udp(server.addr, &q, TIMEOUT).expect("an answer");
    let r = Response::parse(&r).expect("parses");
    r.answer
        .iter()
        .filter(|a| a.rtype == rtype::A)
        .map(|a| a.rdata.clone())
        .collect()
}

/// `dnsd journal ZONE [--drop]`: (success, stdout).
fn journal(server: &Server, drop: bool) -> (bool, String) {
    let mut cmd = dnsd_command();
    cmd.arg("journal")
        .arg("example.info")
        .arg("--config")
        .arg(server.dir().join("dnsd.toml"));
    if drop {
        cmd.arg("--drop");
    }
    let out = cmd.output().expect("run dnsd journal");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn journal_shows_drops_and_survives_source_edits() {
    let mut server = start(1000);
    let set = |id, last| set_home(id, [198, 18, 7, last]);
    assert_eq!(send(&server, &set(1, 1)), 0);
    assert_eq!(send(&server, &set(2, 2)), 0);
    assert_eq!(address(&server, "anything.example.info"), ["198.18.7.2"]);

    // Running: through the control socket.
    let (ok, text) = journal(&server, false);
    assert!(ok, "{text}");
    assert!(text.contains("2 dynamic update(s) in effect"), "{text}");
    assert!(
        text.contains("- subspace.example.info. 300 IN A 203.0.113.7"),
        "{text}"
    );
    assert!(
        text.contains("+ subspace.example.info. 60 IN A 198.18.7.2"),
        "{text}"
    );
    assert!(text.contains("serial 2024060102 -> 2024060103"), "{text}");

    // The operator edits the source under the journal: the edit is served,
    // the dynamic change wins where they meet, and the conflict is logged.
    let zone_file = server.dir().join("z0-example.info.zone");
    let source = std::fs::read_to_string(&zone_file).unwrap();
    let edited = source
        .replace("203.0.113.7", "203.0.113.8")
        .replace("2024060101 ; serial", "2024060200 ; serial")
        .replace(
            "www             IN A     192.0.2.10",
            "www             IN A     192.0.2.11",
        );
    assert_ne!(edited, source, "the example zone changed: update this test");
    std::fs::write(&zone_file, edited).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while address(&server, "www.example.info") != ["192.0.2.11"] {
        assert!(
            std::time::Instant::now() < deadline,
            "edit not reloaded; log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(address(&server, "subspace.example.info"), ["198.18.7.2"]);
    let log = server.log();
    assert!(
        log.lines()
            .any(|l| l.contains("journal conflict") && l.contains("subspace.example.info.")),
        "{log}"
    );

    // Stopped: read from the file; still there after a restart.
    server.stop();
    let (ok, text) = journal(&server, false);
    assert!(ok && text.contains("2 dynamic update(s)"), "{text}");
    server.restart();
    assert_eq!(address(&server, "subspace.example.info"), ["198.18.7.2"]);

    // Drop while running: the source alone is served at once.
    let (ok, text) = journal(&server, true);
    assert!(ok && text.contains("dropped the journal"), "{text}");
    assert_eq!(address(&server, "subspace.example.info"), ["203.0.113.8"]);
    let (ok, text) = journal(&server, false);
    assert!(ok && text.contains("no dynamic changes"), "{text}");

    // Drop while stopped.
    assert_eq!(send(&server, &set(3, 3)), 0);
    server.stop();
    let (ok, text) = journal(&server, true);
    assert!(ok && text.contains("dropped the journal"), "{text}");
    server.restart();
    assert_eq!(address(&server, "subspace.example.info"), ["203.0.113.8"]);
}

#[test]
fn rate_and_size_limits_refuse() {
    // 3 updates per minute for one client address.
    let server = start(3);
    let set = |id, last| set_home(id, [198, 18, 8, last]);
    for i in 1..=3 {
        assert_eq!(send(&server, &set(i, i as u8)), 0, "update {i}");
    }
    assert_eq!(
        send(&server, &set(4, 4)) as u16,
        rcode::REFUSED,
        "fourth update in a minute"
    );
    assert_eq!(address(&server, "subspace.example.info"), ["198.18.8.3"]);
    let log = server.log();
    assert!(
        log.contains("update refused") && log.contains("rate limit of 3"),
        "{log}"
    );

    // More than update_max_changes records in one UPDATE.
    let server = start(1000);
    let adds: Vec<Vec<u8>> = (0..5)
        .map(|i| {
            update::add(
                &format!("n{i}.example.info"),
                60,
                rtype::A,
                &[198, 18, 9, i],
            )
        })
        .collect();
    let msg = update::message(9, "example.info", &[], &adds);
    assert_eq!(send(&server, &msg) as u16, rcode::REFUSED);
    assert_eq!(
        send(
            &server,
            &update::message(10, "example.info", &[], &adds[..4])
        ),
        0
    );
    assert!(server.log().contains("5 changes, more than the limit of 4"));
}

#[test]
fn long_journals_are_compacted() {
    // dnsd folds a journal of more than 1000 records into one.
    const UPDATES: u16 = 1010;
    let mut server = start(1_000_000);
    for i in 1..=UPDATES {
        let addr = [198, 18, 10 + (i >> 8) as u8, i as u8];
        assert_eq!(send(&server, &set_home(i, addr)), 0, "update {i}");
    }
    let last = format!("198.18.{}.{}", 10 + (UPDATES >> 8), UPDATES & 0xff);
    assert!(
        server.log().contains("journal compacted"),
        "{}",
        server.log()
    );
    let (ok, text) = journal(&server, false);
    assert!(ok, "{text}");
    let records = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("no record count in {text}"));
    assert!(records < 20, "{records} records after compaction:\n{text}");
    // The net effect: the source's address gone, the last one there, and
    // the serial of the last update.
    assert!(
        text.contains("- subspace.example.info. 300 IN A 203.0.113.7"),
        "{text}"
    );
    assert!(
        text.contains(&format!("+ subspace.example.info. 60 IN A {last}")),
        "{text}"
    );
    server.restart();
    assert_eq!(address(&server, "subspace.example.info"), [last]);
    let soa = QueryBuilder::new("example.info", rtype::SOA).build();
    let r = Response::parse(&client::udp(server.addr, &soa, TIMEOUT).unwrap()).unwrap();
    let serial = r.answer[0]
        .rdata
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    assert_eq!(serial, (2024060101 + u32::from(UPDATES)).to_string());
}
