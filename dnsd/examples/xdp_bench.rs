//! Per-packet cost of the XDP program, measured with BPF_PROG_TEST_RUN,
//! next to a program that only swaps addresses and returns XDP_TX. Run by
//! `cargo xtask bench xdp` (needs root). Prints a Markdown table.

use std::process::ExitCode;

fn main() -> ExitCode {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let results = match dnsd::xdp::bench::run(runs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xdp_bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let swap = results
        .iter()
        .find(|m| m.case.contains("swap") && m.repeat > 1)
        .map(|m| m.ns_per_packet);
    println!("| case | runs | ns/packet | net ns/packet | net vs address swap |");
    println!("|---|---:|---:|---:|---:|");
    for m in &results {
        let ratio = swap.map_or("–".to_owned(), |s| format!("{:.1}×", m.net_ns / s));
        println!(
            "| {} | {} | {:.0} | {:.0} | {} |",
            m.case, m.runs, m.ns_per_packet, m.net_ns, ratio
        );
    }
    ExitCode::SUCCESS
}
