//! Times the XDP fast-path table build for a generated zone of N names
//! (the shape of `cargo xtask bench`'s zone) and reports peak RSS.
//! `cargo run --release -p dnsd --example table_build -- 200000`

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use dnsd::config::WildcardMode;
use dnsd::engine::EngineSettings;
use dnsd::fastpath::table;
use dnsd::wire::name::Name;
use dnsd::zone::compile::{ZoneInput, compile_inputs};
use dnsd::zone::master;

/// The benchmark's zone text with `total` records.
fn zone_text(total: usize) -> String {
    let mut z = String::from(
        "$ORIGIN bench.example.\n$TTL 86400\n\
         @ 2560 IN SOA ns1.bench.example. hostmaster.bench.example. 1 16384 2048 1048576 2560\n\
         @ 259200 IN NS ns1.bench.example.\nns1 259200 IN A 198.18.0.53\n",
    );
    for i in 0..total.saturating_sub(3) {
        let (a, b) = ((i >> 8) & 0xff, i & 0xff);
        let _ = match i % 10 {
            0 => writeln!(z, "h{i} 300 IN AAAA 2001:db8::{a:x}{b:02x}"),
            1 => writeln!(z, "h{i} 300 IN TXT \"v=spf1 ip4:198.18.{a}.{b} -all\""),
            2 => writeln!(z, "h{i} 300 IN MX 10 mx{}.bench.example.", i % 97),
            _ => writeln!(z, "h{i} 300 IN A 198.18.{a}.{b}"),
        };
    }
    z
}

/// Peak resident set size of this process, from /proc.
fn peak_rss_mb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let apex = Name::parse_text("bench.example.").expect("apex");
    let file: Arc<Path> = Arc::from(Path::new("bench.zone"));
    let t = Instant::now();
    let parsed = master::parse(&zone_text(total), &file, &apex, 3600);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let input = ZoneInput {
        apex,
        records: parsed.records,
        wildcards: WildcardMode::Rfc4592,
        source: PathBuf::from("bench.zone"),
    };
    let snapshot = compile_inputs(vec![input], Vec::new())
        .expect("compiles")
        .snapshot;
    let compiled = t.elapsed();
    let rss_compiled = peak_rss_mb();
    let t = Instant::now();
    let built = table::build(&snapshot, &EngineSettings::default());
    let build = t.elapsed();
    let entries = built.entries.len() + built.zone_nx.len();
    println!(
        "records {total}: compile {:.2} s (peak RSS {rss_compiled} MB); table {entries} entries in {:.2} s = {:.2} us/entry; peak RSS {} MB",
        compiled.as_secs_f64(),
        build.as_secs_f64(),
        build.as_secs_f64() * 1e6 / entries.max(1) as f64,
        peak_rss_mb()
    );
}
