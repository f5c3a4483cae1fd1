//! Zone reloads of the real binary: an edited zone file is picked up by
//! itself (inotify on its directory), SIGHUP reloads, and a file with
//! errors leaves the old data serving.

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dnsd_e2e::client;
use dnsd_e2e::normalize::Response;
use dnsd_e2e::servers::{Dnsd, Server, Zone, dnsd_binary};
use dnsd_e2e::wire::{QueryBuilder, rtype};

const V1: &str = "Zreload.test:ns1.reload.test:hostmaster.reload.test:1:3600:600:86400:300:300\n\
&reload.test::ns1.reload.test:3600\n\
+home.reload.test:192.0.2.1:60\n";

/// The A record of home.reload.test as dnsd serves it now.
fn home_a(server: &Server) -> Option<Ipv4Addr> {
    let q = QueryBuilder::new("home.reload.test", rtype::A).build();
    let raw = client::udp(server.addr, &q, client::TIMEOUT)?;
    let r = Response::parse(&raw).ok()?;
    r.answer.first().and_then(|rr| rr.rdata.parse().ok())
}

fn wait_for(server: &Server, want: Ipv4Addr, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if home_a(server) == Some(want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Replaces `path` the way editors and config management do: write a
/// temporary file, then rename it over the original.
fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, text).unwrap();
    fs::rename(&tmp, path).unwrap();
}

#[test]
fn edited_zone_file_is_served_and_a_broken_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    fs::write(&data, V1).unwrap();
    let mut server = Dnsd::new(&[Zone::tinydns(&data)])
        .probe("reload.test")
        .start();
    let served = server.dir().join("z0-data");
    assert!(served.exists(), "the harness copies zones as z<i>-<name>");
    assert_eq!(home_a(&server), Some(Ipv4Addr::new(192, 0, 2, 1)));

    // 1. Edit: the new address is served without any signal.
    replace(&served, &V1.replace("192.0.2.1", "192.0.2.2"));
    assert!(
        wait_for(&server, Ipv4Addr::new(192, 0, 2, 2), Duration::from_secs(5)),
        "edited zone not served within 5 s; log:\n{}",
        server.log()
    );

    // 2. A broken file: errors logged with file:line, old data kept.
    replace(
        &served,
        &format!(
            "{}+bad.reload.test:300.1.2.3\n",
            V1.replace("192.0.2.1", "192.0.2.3")
        ),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(home_a(&server), Some(Ipv4Addr::new(192, 0, 2, 2)));
    let log = server.log();
    assert!(
        log.contains("z0-data:4:"),
        "error with file:line expected in the log:\n{log}"
    );
    assert!(log.contains("still serving the old zones"), "{log}");

    // 3. Fixed again, and SIGHUP also reloads.
    fs::write(&served, V1.replace("192.0.2.1", "192.0.2.4")).unwrap();
    let pid = server.pid();
    // SAFETY: sends SIGHUP to the dnsd child this test started.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGHUP) }, 0);
    assert!(
        wait_for(&server, Ipv4Addr::new(192, 0, 2, 4), Duration::from_secs(5)),
        "reload not served; log:\n{}",
        server.log()
    );

    // 4. `dnsd reload` and `dnsd stats` over the control socket.
    fs::write(&served, V1.replace("192.0.2.1", "192.0.2.5")).unwrap();
    let config = server.dir().join("dnsd.toml");
    let out = Command::new(dnsd_binary())
        .args(["reload", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("reloaded: "),
        "{text}"
    );
    assert_eq!(home_a(&server), Some(Ipv4Addr::new(192, 0, 2, 5)));
    let out = Command::new(dnsd_binary())
        .args(["stats", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let queries: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("userspace.udp_queries "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no udp_queries in stats:\n{text}"));
    assert!(queries >= 4, "{text}");
    server.assert_running();
}
