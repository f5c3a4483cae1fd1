//! The benchmark's network: a server namespace and a client namespace joined
//! by one veth pair, addresses from 198.18.0.0/15 and 2001:db8::/32 only
//! (RFC 2544, RFC 3849), so no traffic leaves the pair. Fixed names, so a
//! run killed with SIGKILL is cleaned up by the next one ([`NetPair::new`]).
//! SIGINT and SIGTERM only set a flag ([`interrupted`]) that the benchmark
//! loops check; the `Drop`s then stop the servers and delete the namespaces.
//!
//! Also the two tiny XDP programs the benchmark attaches itself (the aya
//! object cannot be loaded by `ip`/`bpftool`: libbpf 1.x rejects its legacy
//! `maps` section): an XDP_PASS program for the client veth and the
//! address-swapping XDP_TX ceiling for the server veth.

use std::ffi::CString;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, bail};

pub const SERVER_NS: &str = "dnsd-bench-s";
pub const CLIENT_NS: &str = "dnsd-bench-c";
pub const SERVER_IF: &str = "dnsbench-s";
pub const CLIENT_IF: &str = "dnsbench-c";
pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 1);
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(198, 18, 53, 2);
pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0x53, 0, 0, 0, 1);
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0x53, 0, 0, 0, 2);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM set the flag [`interrupted`] reads instead of
/// killing xtask before its `Drop`s ran. The servers run in their own
/// process groups, so a terminal's Ctrl-C does not reach them directly.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic (async-signal-safe).
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
}

/// Fails once SIGINT or SIGTERM arrived; the caller's `?` unwinds to the
/// `Drop`s that clean up.
pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted; cleaning up");
    }
    Ok(())
}

/// Sleeps `d` in small steps, failing early when interrupted.
pub fn sleep(d: std::time::Duration) -> Result<()> {
    let end = std::time::Instant::now() + d;
    while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
        check_interrupted()?;
        std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
    }
    check_interrupted()
}

/// Runs `cmd` to completion; fails with its stderr unless it exits 0.
pub fn checked(cmd: &mut Command) -> Result<()> {
    let shown = crate::util::display(cmd);
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {shown} (`cargo xtask setup` installs it)"))?;
    if !out.status.success() {
        bail!("{shown}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<()> {
    checked(Command::new("ip").args(args))
}

/// `ip netns exec <ns> <program>`.
pub fn command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

/// The two namespaces and their veth; deleted on drop.
pub struct NetPair(());

impl NetPair {
    /// Removes what a killed earlier run left (its processes, then its
    /// namespaces) and builds the pair.
    pub fn new() -> Result<NetPair> {
        remove_stale();
        let pair = NetPair(());
        let (s, c) = (SERVER_NS, CLIENT_NS);
        ip(&["netns", "add", s])?;
        ip(&["netns", "add", c])?;
        ip(&[
            "link", "add", SERVER_IF, "netns", s, "type", "veth", "peer", "name", CLIENT_IF,
            "netns", c,
        ])?;
        for (ns, ifname, v4, v6) in [
            (s, SERVER_IF, SERVER_V4, SERVER_V6),
            (c, CLIENT_IF, CLIENT_V4, CLIENT_V6),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{v4}/24"), "dev", ifname])?;
            ip(&[
                "-n",
                ns,
                "-6",
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                ifname,
                "nodad",
            ])?;
            ip(&["-n", ns, "link", "set", ifname, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        // Complete UDP checksums from the client's kernel sockets: with
        // offload, veth hands the peer CHECKSUM_PARTIAL frames, which an XDP
        // responder cannot answer (it passes them).
        checked(command(c, "ethtool").args(["-K", CLIENT_IF, "tx", "off"]))?;
        Ok(pair)
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        remove_stale();
    }
}

/// Kills every process still in our namespaces, then deletes them
/// (deleting a namespace deletes its veth end and with it the peer).
fn remove_stale() {
    for ns in [SERVER_NS, CLIENT_NS] {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse::<libc::pid_t>().ok())
            {
                // SAFETY: plain kill of a process that lives in our own
                // benchmark namespace (`ip netns pids` lists only those).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        let _ = ip(&["netns", "del", ns]);
    }
}

/// Runs `f` on a thread that joined namespace `ns` (sockets and BPF links it
/// creates belong to `ns`).
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
    std::thread::spawn(move || {
        // SAFETY: joins the namespace `file` refers to, on this thread only.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        Ok(f())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the thread in namespace {ns} panicked"))?
}

// ---------------------------------------------------------------------------
// Hand-assembled XDP programs.

/// One eBPF instruction: opcode, registers, offset, immediate.
fn insn(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    u64::from_le_bytes([op, (src << 4) | dst, o[0], o[1], i[0], i[1], i[2], i[3]])
}

const LDX_W: u8 = 0x61;
const LDX_H: u8 = 0x69;
const LDX_B: u8 = 0x71;
const STX_W: u8 = 0x63;
const STX_H: u8 = 0x6b;
const STX_B: u8 = 0x73;
const MOV_REG: u8 = 0xbf;
const MOV_IMM: u8 = 0xb7;
const ADD_IMM: u8 = 0x07;
const OR_IMM: u8 = 0x47;
const AND_IMM: u8 = 0x57;
const RSH_IMM: u8 = 0x77;
const ADD_REG: u8 = 0x0f;
const JGT_REG: u8 = 0x2d;
const JNE_IMM: u8 = 0x55;
const EXIT: u8 = 0x95;
const XDP_PASS: i32 = 2;
const XDP_TX: i32 = 3;

/// `r0 = XDP_PASS; exit`.
fn pass_program() -> Vec<u64> {
    vec![insn(MOV_IMM, 0, 0, 0, XDP_PASS), insn(EXIT, 0, 0, 0, 0)]
}

/// The load generator's ceiling: for an untagged IPv6/UDP frame, swap MACs,
/// addresses and ports, set the DNS QR bit (so the generator counts it as
/// a response; kernel sockets then need the checksum fixed too) and
/// XDP_TX; anything else XDP_PASS. The same work as the `dnsd_swap`
/// baseline in the eBPF object, plus the QR bit and its checksum update.
fn swap_program() -> Vec<u64> {
    const ETH: i16 = 14;
    const UDP: i16 = ETH + 40;
    const DNS_FLAGS: i16 = UDP + 8 + 2;
    let mut p = vec![
        insn(LDX_W, 2, 1, 0, 0), // r2 = ctx->data
        insn(LDX_W, 3, 1, 4, 0), // r3 = ctx->data_end
        insn(MOV_REG, 4, 2, 0, 0),
        insn(ADD_IMM, 4, 0, 0, i32::from(DNS_FLAGS) + 1),
        insn(JGT_REG, 4, 3, 0, 0), // -> pass (patched)
        insn(LDX_H, 4, 2, 12, 0),
        insn(JNE_IMM, 4, 0, 0, 0xdd86), // ethertype 0x86dd, read little-endian
        insn(LDX_B, 4, 2, ETH + 6, 0),
        insn(JNE_IMM, 4, 0, 0, 17), // next header UDP
    ];
    let jumps = [4usize, 6, 8];
    let pairs: [(i16, i16, u8, u8); 7] = [
        (0, 6, LDX_W, STX_W),
        (4, 10, LDX_H, STX_H),
        (ETH + 8, ETH + 24, LDX_W, STX_W),
        (ETH + 12, ETH + 28, LDX_W, STX_W),
        (ETH + 16, ETH + 32, LDX_W, STX_W),
        (ETH + 20, ETH + 36, LDX_W, STX_W),
        (UDP, UDP + 2, LDX_H, STX_H),
    ];
    for (a, b, ld, st) in pairs {
        p.push(insn(ld, 4, 2, a, 0));
        p.push(insn(ld, 5, 2, b, 0));
        p.push(insn(st, 2, 5, a, 0));
        p.push(insn(st, 2, 4, b, 0));
    }
    p.push(insn(LDX_B, 4, 2, DNS_FLAGS, 0));
    p.push(insn(OR_IMM, 4, 0, 0, 0x80));
    p.push(insn(STX_B, 2, 4, DNS_FLAGS, 0));
    // QR adds 0x8000 to a big-endian word of the payload, so the UDP
    // checksum drops by it: add ~0x8000 in one's complement (RFC 1624).
    // Loaded little-endian the same sum is byte-swapped (RFC 1071 §2(B)):
    // add 0xff7f and fold the carry. Never yields 0 (IPv6's "no checksum").
    p.push(insn(LDX_H, 4, 2, UDP + 6, 0));
    p.push(insn(ADD_IMM, 4, 0, 0, 0xff7f));
    p.push(insn(MOV_REG, 5, 4, 0, 0));
    p.push(insn(RSH_IMM, 5, 0, 0, 16));
    p.push(insn(AND_IMM, 4, 0, 0, 0xffff));
    p.push(insn(ADD_REG, 4, 5, 0, 0));
    p.push(insn(STX_H, 2, 4, UDP + 6, 0));
    p.push(insn(MOV_IMM, 0, 0, 0, XDP_TX));
    p.push(insn(EXIT, 0, 0, 0, 0));
    let pass = p.len();
    p.push(insn(MOV_IMM, 0, 0, 0, XDP_PASS));
    p.push(insn(EXIT, 0, 0, 0, 0));
    for j in jumps {
        let off = i16::try_from(pass - j - 1).unwrap_or(i16::MAX);
        p[j] = (p[j] & !0xffff_0000) | (u64::from(off as u16) << 16);
    }
    p
}

/// Which hand-assembled program to attach.
#[derive(Clone, Copy)]
pub enum Program {
    Pass,
    Swap,
}

/// Detaches whatever XDP program was attached to `ifname` through netlink
/// (Knot and kxdpgun leave theirs when they exit).
pub fn detach_netlink(ns: &str, ifname: &str) {
    let _ = ip(&["-n", ns, "link", "set", "dev", ifname, "xdp", "off"]);
}

/// Loads `program` and attaches it in native mode to `ifname` in namespace
/// `ns` through a BPF link; dropping the returned fd detaches it.
pub fn attach(ns: &str, ifname: &'static str, program: Program) -> Result<OwnedFd> {
    in_ns(ns, move || {
        let insns = match program {
            Program::Pass => pass_program(),
            Program::Swap => swap_program(),
        };
        attach_here(ifname, &insns)
    })?
}

fn bpf(cmd: libc::c_long, attr: &mut [u64; 16]) -> std::io::Result<OwnedFd> {
    // SAFETY: `attr` is a zeroed, 128-byte `union bpf_attr` image whose
    // pointers reference live buffers for the duration of the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr) as libc::c_uint,
        )
    };
    if fd < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        // SAFETY: the kernel returned a new file descriptor we now own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }
}

fn attach_here(ifname: &str, insns: &[u64]) -> Result<OwnedFd> {
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_PROG_TYPE_XDP: u32 = 6;
    const BPF_XDP: u32 = 37;
    const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
    let license = c"GPL";
    let mut attr = [0u64; 16];
    // prog_type, insn_cnt | insns | license | (log fields) ... |
    // offset 68: expected_attach_type.
    attr[0] = u64::from(BPF_PROG_TYPE_XDP) | ((insns.len() as u64) << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    attr[8] = u64::from(BPF_XDP) << 32;
    let prog = bpf(BPF_PROG_LOAD, &mut attr).context("loading an XDP program")?;
    let cname = CString::new(ifname)?;
    // SAFETY: a NUL-terminated interface name.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        bail!("no interface {ifname}");
    }
    let mut attr = [0u64; 16];
    // prog_fd, target_ifindex | attach_type, flags.
    attr[0] = u64::from(prog.as_raw_fd() as u32) | (u64::from(ifindex) << 32);
    attr[1] = u64::from(BPF_XDP) | (u64::from(XDP_FLAGS_DRV_MODE) << 32);
    bpf(BPF_LINK_CREATE, &mut attr)
        .with_context(|| format!("attaching an XDP program to {ifname} (native)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_program_jumps_land_on_the_pass_exit() {
        let p = swap_program();
        let pass = p.len() - 2;
        for (i, ins) in p.iter().enumerate() {
            let op = (*ins & 0xff) as u8;
            if op == JGT_REG || op == JNE_IMM {
                let off = ((*ins >> 16) & 0xffff) as u16 as i16;
                assert_eq!(i as i64 + 1 + i64::from(off), pass as i64, "jump at {i}");
            }
        }
        assert_eq!(p[pass], insn(MOV_IMM, 0, 0, 0, XDP_PASS));
    }
}
