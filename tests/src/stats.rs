//! Reading dnsd's counters (`dnsd stats`, or the control socket directly).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Counters by name (`xdp.answered_answer`, `userspace.udp_queries`, …).
pub type Stats = BTreeMap<String, u64>;

/// Parses `name value` lines.
pub fn parse(text: &str) -> Stats {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// Asks the daemon at `control` for its counters.
pub fn query(control: &Path) -> Result<Stats, String> {
    let mut s = UnixStream::connect(control).map_err(|e| format!("control socket: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    s.write_all(b"stats\n").map_err(|e| e.to_string())?;
    let mut text = String::new();
    s.read_to_string(&mut text)
        .map_err(|e| format!("reading stats: {e}"))?;
    Ok(parse(&text))
}

/// How much counter `key` grew.
pub fn delta(before: &Stats, after: &Stats, key: &str) -> u64 {
    after.get(key).copied().unwrap_or(0) - before.get(key).copied().unwrap_or(0)
}

/// How many queries XDP answered in between, all kinds together.
pub fn xdp_answered(before: &Stats, after: &Stats) -> u64 {
    after
        .keys()
        .filter(|k| k.starts_with("xdp.answered_"))
        .map(|k| delta(before, after, k))
        .sum()
}
