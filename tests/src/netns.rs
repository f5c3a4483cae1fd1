//! Two network namespaces joined by a veth pair, for tests that need a real
//! link (native XDP). Addresses come from the benchmarking range
//! 198.18.0.0/15 and the documentation prefix 2001:db8::/32 only; traffic
//! never leaves the pair. Everything is removed on `Drop`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::{Command, Output};

/// A server namespace and a client namespace, one veth between them.
pub struct NetPair {
    pub server_ns: String,
    pub client_ns: String,
    /// The veth end inside the server namespace.
    pub server_if: String,
    pub client_if: String,
    pub server_v4: Ipv4Addr,
    pub client_v4: Ipv4Addr,
    pub server_v6: Ipv6Addr,
    pub client_v6: Ipv6Addr,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip (package iproute2): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl NetPair {
    /// Creates the pair; `index` (0–255) keeps concurrent tests apart. Fails
    /// with the reason when not root or when namespaces are unavailable.
    pub fn new(index: u8) -> Result<NetPair, String> {
        let tag = format!("{}-{index}", std::process::id());
        let pair = NetPair {
            server_ns: format!("dnsd-s-{tag}"),
            client_ns: format!("dnsd-c-{tag}"),
            server_if: format!("dns{index}s"),
            client_if: format!("dns{index}c"),
            server_v4: Ipv4Addr::new(198, 18, index, 1),
            client_v4: Ipv4Addr::new(198, 18, index, 2),
            server_v6: Ipv6Addr::new(0x2001, 0xdb8, 0, index as u16, 0, 0, 0, 1),
            client_v6: Ipv6Addr::new(0x2001, 0xdb8, 0, index as u16, 0, 0, 0, 2),
        };
        // Drop cleans up whatever part was made if a step fails.
        pair.build()?;
        Ok(pair)
    }

    fn build(&self) -> Result<(), String> {
        let (s, c) = (&self.server_ns, &self.client_ns);
        ip(&["netns", "add", s])?;
        ip(&["netns", "add", c])?;
        ip(&[
            "link",
            "add",
            &self.server_if,
            "netns",
            s,
            "type",
            "veth",
            "peer",
            "name",
            &self.client_if,
            "netns",
            c,
        ])?;
        for (ns, ifname, v4, v6) in [
            (s, &self.server_if, self.server_v4, self.server_v6),
            (c, &self.client_if, self.client_v4, self.client_v6),
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
        Ok(())
    }

    /// `ip netns exec <ns> <program> <args>`.
    pub fn command(ns: &str, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, program]);
        cmd
    }

    /// Runs a command in the client namespace and returns its output.
    pub fn client_run(&self, program: &str, args: &[&str]) -> Output {
        NetPair::command(&self.client_ns, program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.client_ns))
    }

    pub fn server_addrs(&self) -> [IpAddr; 2] {
        [IpAddr::V4(self.server_v4), IpAddr::V6(self.server_v6)]
    }
}

impl NetPair {
    /// Runs `f` on a new thread that has joined network namespace `ns`:
    /// sockets it creates live in `ns` for their whole life, whichever
    /// thread uses them later.
    pub fn in_ns<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let path = format!("/run/netns/{ns}");
        let file = std::fs::File::open(&path).map_err(|e| format!("open {path}: {e}"))?;
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: joins the namespace `file` refers to, on this thread only.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns {path}: {}", std::io::Error::last_os_error()));
            }
            Ok(f())
        })
        .join()
        .map_err(|_| "the thread in the namespace panicked".to_string())?
    }

    /// [`NetPair::in_ns`] for the client namespace.
    pub fn in_client<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        NetPair::in_ns(&self.client_ns, f)
    }

    /// Makes the client end of the veth behave like a host behind a real
    /// NIC towards an XDP responder on the server end:
    ///
    /// * transmit checksum offload off, so queries carry complete UDP
    ///   checksums (with it on, veth hands the peer CHECKSUM_PARTIAL frames
    ///   whose checksum field holds only the pseudo-header sum, and the
    ///   XDP program passes them as `pass_bad_checksum`);
    /// * an XDP_PASS program attached in native mode: veth delivers frames
    ///   that the peer's program sent with XDP_TX only to a device with its
    ///   own XDP program (with GRO alone they wait in the peer's ring until
    ///   something else schedules its NAPI, i.e. they are late or lost).
    ///
    /// The returned guard holds the BPF link: dropping it detaches the
    /// program (deleting the namespace does too).
    pub fn prepare_client_for_xdp(&self) -> Result<std::os::fd::OwnedFd, String> {
        let out = NetPair::command(&self.client_ns, "ethtool")
            .args(["-K", &self.client_if, "tx", "off"])
            .output()
            .map_err(|e| format!("cannot run ethtool (`cargo xtask setup` installs it): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ethtool -K {} tx off: {}",
                self.client_if,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let ifname = self.client_if.clone();
        self.in_client(move || xdp_pass_link(&ifname))?
    }
}

/// What an XDP test over veth starts from: the pair `index`, the guard of
/// its client end prepared for XDP ([`NetPair::prepare_client_for_xdp`]),
/// and a private directory named `prefix...` for the daemon. Panics (fails
/// the test) when any of them cannot be made.
pub fn xdp_test_bed(index: u8, prefix: &str) -> (NetPair, std::os::fd::OwnedFd, tempfile::TempDir) {
    let pair = NetPair::new(index).unwrap_or_else(|e| panic!("cannot create the veth pair: {e}"));
    let client_xdp = pair
        .prepare_client_for_xdp()
        .unwrap_or_else(|e| panic!("preparing the client end of the veth: {e}"));
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir");
    (pair, client_xdp, dir)
}

/// Fails the calling test, with a clear message, unless it runs as root
/// (namespaces, veth and XDP need it). Tests needing root never skip.
pub fn require_root(test: &str) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "{test} needs root (network namespaces, veth pairs, XDP): run it as root, \
         e.g. `sudo -E cargo test -p dnsd-e2e --test {test}`; it does not skip"
    );
}

/// A process started in a network namespace (`ip netns exec`, which execs
/// the program itself) in its own process group, output to a log file;
/// stopped (SIGTERM, then SIGKILL to the group) on drop.
pub struct NsChild {
    child: Option<std::process::Child>,
    pub log: std::path::PathBuf,
}

impl NsChild {
    pub fn spawn(
        ns: &str,
        program: &std::path::Path,
        args: &[&std::ffi::OsStr],
        dir: &std::path::Path,
        log: std::path::PathBuf,
    ) -> Result<NsChild, String> {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .arg(program)
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
        Ok(NsChild {
            child: Some(child),
            log,
        })
    }

    /// `dnsd serve --config CONFIG` in `ns`, run from `dir`, its output
    /// in `log`.
    pub fn dnsd(
        ns: &str,
        config: &std::path::Path,
        dir: &std::path::Path,
        log: std::path::PathBuf,
    ) -> Result<NsChild, String> {
        let args = [
            std::ffi::OsStr::new("serve"),
            std::ffi::OsStr::new("--config"),
            config.as_os_str(),
        ];
        NsChild::spawn(ns, &crate::servers::dnsd_binary(), &args, dir, log)
    }

    /// The output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `Some(status)` once the process has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id() as libc::pid_t;
        // SAFETY: signals the process group of our own unreaped child (its
        // id cannot be reused before the wait below).
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: as above; the child has not been reaped.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Drop for NsChild {
    fn drop(&mut self) {
        self.stop();
    }
}

/// dnsd started in a namespace ([`NsChild`]) and its control socket.
pub struct NsDnsd {
    pub child: NsChild,
    pub control: std::path::PathBuf,
}

impl NsDnsd {
    /// Fails the test with `why` and dnsd's log.
    pub fn fail(&self, why: &str) -> ! {
        panic!("dnsd: {why}; its log:\n{}", self.child.log_text())
    }

    /// The counters, from the control socket (what `dnsd stats` prints).
    pub fn stats(&self) -> crate::stats::Stats {
        crate::stats::query(&self.control).unwrap_or_else(|e| self.fail(&e))
    }
}

/// Loads `r0 = XDP_PASS; exit` and attaches it to `ifname` (in the calling
/// thread's network namespace) in native mode through a BPF link.
fn xdp_pass_link(ifname: &str) -> Result<std::os::fd::OwnedFd, String> {
    use std::os::fd::{FromRawFd, OwnedFd};
    const BPF_PROG_LOAD: libc::c_long = 5;
    const BPF_LINK_CREATE: libc::c_long = 28;
    const BPF_PROG_TYPE_XDP: u32 = 6;
    const BPF_XDP: u32 = 37;
    const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
    // mov64 r0, 2 (XDP_PASS); exit
    let insns: [u64; 2] = [
        u64::from_le_bytes([0xb7, 0, 0, 0, 2, 0, 0, 0]),
        u64::from_le_bytes([0x95, 0, 0, 0, 0, 0, 0, 0]),
    ];
    let license = c"GPL";
    let bpf = |cmd: libc::c_long, attr: &mut [u64; 16]| -> Result<OwnedFd, String> {
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
            Err(std::io::Error::last_os_error().to_string())
        } else {
            // SAFETY: the kernel returned a new file descriptor we now own.
            Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
        }
    };
    let mut attr = [0u64; 16];
    // prog_type, insn_cnt | insns | license | (log fields) ... |
    // offset 68: expected_attach_type.
    attr[0] = u64::from(BPF_PROG_TYPE_XDP) | (2u64 << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    attr[8] = u64::from(BPF_XDP) << 32;
    let prog =
        bpf(BPF_PROG_LOAD, &mut attr).map_err(|e| format!("loading an XDP_PASS program: {e}"))?;
    let cname = std::ffi::CString::new(ifname).map_err(|e| e.to_string())?;
    // SAFETY: a NUL-terminated interface name.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(format!("no interface {ifname}"));
    }
    use std::os::fd::AsRawFd;
    let mut attr = [0u64; 16];
    // prog_fd, target_ifindex | attach_type, flags.
    attr[0] = u64::from(prog.as_raw_fd() as u32) | (u64::from(ifindex) << 32);
    attr[1] = u64::from(BPF_XDP) | (u64::from(XDP_FLAGS_DRV_MODE) << 32);
    bpf(BPF_LINK_CREATE, &mut attr)
        .map_err(|e| format!("attaching an XDP_PASS program to {ifname} (native): {e}"))
}

/// Sends `query` and returns the first datagram from `server` carrying the
/// query's ID, or `None` after `timeout` (other datagrams are skipped).
pub fn udp_exchange(
    sock: &std::net::UdpSocket,
    server: std::net::SocketAddr,
    query: &[u8],
    timeout: std::time::Duration,
) -> Option<Vec<u8>> {
    use std::time::{Duration, Instant};
    sock.send_to(query, server).ok()?;
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 65535];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == server && n >= 2 && buf[..2] == query[..2] => {
                return Some(buf[..n].to_vec());
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and with it the peer.
        let _ = ip(&["netns", "del", &self.server_ns]);
        let _ = ip(&["netns", "del", &self.client_ns]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root: fails (never skips) without it.
    #[test]
    fn pair_pings_and_cleans_up() {
        let pair =
            NetPair::new(250).unwrap_or_else(|e| panic!("network namespaces need root: {e}"));
        let out = pair.client_run("ping", &["-c", "1", "-W", "2", &pair.server_v4.to_string()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let name = pair.server_ns.clone();
        drop(pair);
        let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&list.stdout).contains(&name));
    }
}
