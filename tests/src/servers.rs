//! Starting and stopping the servers under test.
//!
//! Every server runs in its own process group with its configuration, pid
//! file, databases and logs in a private temporary directory, listens only on
//! loopback, and is stopped (SIGTERM, then SIGKILL to its process group) when
//! its [`Server`] is dropped, also when a test panics.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

use crate::client;
use crate::wire::QueryBuilder;

/// How long a server may take to answer its first SOA query.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Which implementation a [`Server`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Dnsd,
    Nsd,
    Knot,
    Tinydns,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Dnsd => "dnsd",
            Kind::Nsd => "NSD",
            Kind::Knot => "Knot",
            Kind::Tinydns => "tinydns",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Source format of a zone given to dnsd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc1035,
    Tinydns,
}

/// One `[[zone]]` entry of a dnsd configuration (and the zone list of NSD
/// and Knot, which only take RFC 1035 zones).
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: Option<String>,
    pub file: PathBuf,
    pub format: Format,
    /// `Some("tinydns")` or `Some("rfc4592")`; `None` leaves the default.
    pub wildcards: Option<&'static str>,
    pub serial: Option<u32>,
    /// Extra lines for dnsd's `[[zone]]` entry, e.g. `allow_update_from = [...]`.
    pub options: Vec<String>,
}

impl Zone {
    /// An RFC 1035 master file for zone `name`.
    pub fn rfc1035(name: &str, file: impl Into<PathBuf>) -> Zone {
        Zone {
            name: Some(name.to_string()),
            file: file.into(),
            format: Format::Rfc1035,
            wildcards: None,
            serial: None,
            options: Vec::new(),
        }
    }

    /// A tinydns `data` file serving every zone with an SOA line in it.
    pub fn tinydns(file: impl Into<PathBuf>) -> Zone {
        Zone {
            name: None,
            file: file.into(),
            format: Format::Tinydns,
            wildcards: None,
            serial: None,
            options: Vec::new(),
        }
    }

    pub fn wildcards(mut self, mode: &'static str) -> Zone {
        self.wildcards = Some(mode);
        self
    }

    pub fn serial(mut self, serial: u32) -> Zone {
        self.serial = Some(serial);
        self
    }

    /// An extra line for dnsd's `[[zone]]` entry.
    pub fn option(mut self, line: &str) -> Zone {
        self.options.push(line.to_string());
        self
    }
}

// ---------------------------------------------------------------------------
// Binaries

/// The dnsd binary: `$DNSD_BIN`, else `target/debug/dnsd` (honouring
/// `CARGO_TARGET_DIR`). Panics if it has not been built.
pub fn dnsd_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("DNSD_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "DNSD_BIN={} is not a file", p.display());
        return p;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| {
            if t.is_absolute() {
                t
            } else {
                crate::workspace_root().join(t)
            }
        })
        .unwrap_or_else(|| crate::workspace_root().join("target"));
    let bin = target.join("debug").join("dnsd");
    if !bin.is_file() {
        panic!(
            "{} does not exist: run `cargo build -p dnsd` first (the end-to-end tests run the real binary)",
            bin.display()
        );
    }
    warn_if_stale(&bin);
    bin
}

/// Prints a warning when a file under dnsd/src is newer than the binary.
fn warn_if_stale(bin: &Path) {
    static WARNED: Mutex<bool> = Mutex::new(false);
    let Ok(bin_time) = fs::metadata(bin).and_then(|m| m.modified()) else {
        return;
    };
    fn newest(dir: &Path) -> Option<SystemTime> {
        let mut best = None;
        for entry in fs::read_dir(dir).ok()?.flatten() {
            let path = entry.path();
            let t = if path.is_dir() {
                newest(&path)
            } else {
                entry.metadata().ok()?.modified().ok()
            };
            best = best.max(t);
        }
        best
    }
    let src = crate::workspace_root().join("dnsd").join("src");
    if let Some(t) = newest(&src)
        && t > bin_time
    {
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        if !*warned {
            *warned = true;
            eprintln!(
                "warning: {} is older than dnsd/src: run `cargo build -p dnsd` to test the current code",
                bin.display()
            );
        }
    }
}

/// Finds a system binary (NSD, Knot, tinydns, ...) in `PATH` or the sbin
/// directories, or panics naming the Debian package that provides it.
pub fn peer_binary(name: &str, package: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ] {
        dirs.push(PathBuf::from(d));
    }
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` not found: install the Debian package `{package}` (`cargo xtask setup` installs every peer)"
    );
}

// ---------------------------------------------------------------------------
// Addresses

static USED_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that is free for both UDP and TCP right now and has not
/// been handed out before in this process.
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let Ok(udp) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let port = udp.local_addr().expect("bound").port();
        if TcpListener::bind(("127.0.0.1", port)).is_err() {
            continue;
        }
        // Also free on ::1, so dnsd can listen on both families.
        if UdpSocket::bind(("::1", port)).is_err() && has_ipv6_loopback() {
            continue;
        }
        let mut used = USED_PORTS.lock().unwrap_or_else(|e| e.into_inner());
        if used.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free loopback port found");
}

/// Whether `::1` can be bound on this machine.
pub fn has_ipv6_loopback() -> bool {
    UdpSocket::bind("[::1]:0").is_ok()
}

/// A distinct 127.53.x.y address whose port 53 is free, for tinydns (which
/// only listens on port 53).
pub fn free_tinydns_ip() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = (std::process::id() % 200) as u8 + 1;
    for _ in 0..250 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let ip = Ipv4Addr::new(
            127,
            53,
            base.wrapping_add((n / 250) as u8),
            (n % 250) as u8 + 1,
        );
        if UdpSocket::bind((ip, 53)).is_ok() {
            return ip;
        }
    }
    panic!("no free 127.53.x.y:53 address for tinydns");
}

// ---------------------------------------------------------------------------
// Servers

/// A running server; stopped on drop.
pub struct Server {
    pub kind: Kind,
    /// The address every test queries (127.0.0.1 or 127.53.x.y).
    pub addr: SocketAddr,
    /// All addresses the server listens on.
    pub addrs: Vec<SocketAddr>,
    /// Whether the server answers over TCP.
    pub tcp: bool,
    child: Option<Child>,
    log: PathBuf,
    dir: TempDir,
    /// How to start it again ([`Server::restart`]).
    program: std::ffi::OsString,
    args: Vec<std::ffi::OsString>,
    probe: String,
}

impl Server {
    /// The server's stdout and stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The private directory holding the server's config and state.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `None` while running, else the exit status.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Panics unless the server is still running.
    /// Process id of the server, while it runs.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn assert_running(&mut self) {
        if let Some(status) = self.exited() {
            panic!(
                "{} is no longer running ({status}); its output:\n{}",
                self.kind,
                self.log()
            );
        }
    }

    /// Starts `cmd` (already configured) and waits until the server answers
    /// an SOA query for `probe` with NOERROR and AA=1.
    fn spawn(
        kind: Kind,
        mut cmd: Command,
        dir: TempDir,
        addr: SocketAddr,
        addrs: Vec<SocketAddr>,
        tcp: bool,
        probe: &str,
    ) -> Server {
        let log = dir.path().join("server.log");
        let program = cmd.get_program().to_owned();
        let args = cmd.get_args().map(ToOwned::to_owned).collect();
        let child = Self::launch(kind, &mut cmd, &log);
        let mut server = Server {
            kind,
            addr,
            addrs,
            tcp,
            child: Some(child),
            log,
            dir,
            program,
            args,
            probe: probe.to_owned(),
        };
        server.wait_ready(probe);
        server
    }

    /// Starts `cmd` in its own process group, output appended to `log`.
    fn launch(kind: Kind, cmd: &mut Command, log: &Path) -> Child {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("open log file");
        let err = out.try_clone().expect("clone log file");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .process_group(0);
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind} ({cmd:?}): {e}"))
    }

    /// Kills the server with SIGKILL, as a crash would: no cleanup.
    pub fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: signals our own unreaped child's process group.
        unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = child.wait();
    }

    /// Starts the same command again in the same directory (after
    /// [`Server::kill`] or [`Server::stop`]) and waits until it answers.
    pub fn restart(&mut self) {
        self.stop();
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).current_dir(self.dir.path());
        self.child = Some(Self::launch(self.kind, &mut cmd, &self.log));
        let probe = self.probe.clone();
        self.wait_ready(&probe);
    }

    fn wait_ready(&mut self, probe: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        let query = QueryBuilder::new(probe, 6).id(0x5151).build();
        let mut last = String::from("no answer");
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "{} exited ({status}) before answering an SOA query for {probe}; its output:\n{}",
                    self.kind,
                    self.log()
                );
            }
            match client::udp(self.addr, &query, Duration::from_millis(200)) {
                Some(resp) if resp.len() >= 12 => {
                    let rcode = resp[3] & 0x0f;
                    let aa = resp[2] & 0x04 != 0;
                    if rcode == 0 && aa {
                        break;
                    }
                    last = format!("RCODE {rcode}, AA={aa}");
                }
                Some(_) => last = "a short response".into(),
                None => {}
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer an SOA query for {probe} on {} within {:?} (last: {last}); its output:\n{}",
                    self.kind,
                    self.addr,
                    START_TIMEOUT,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.tcp {
            while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
                if Instant::now() > deadline {
                    panic!(
                        "{} answers UDP but does not accept TCP on {}; its output:\n{}",
                        self.kind,
                        self.addr,
                        self.log()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Stops the server now (also done on drop).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals our own child's process group (set up with
        // process_group(0) above, so its id is the child's pid). The child is
        // not reaped until after the last signal, so the id cannot be reused.
        unsafe { libc::kill(-pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !exited_without_reaping(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Whatever is left of the group (NSD's helpers, a hung server).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = child.wait();
    }
}

/// Whether process `pid` has exited, leaving it a zombie so that its pid (and
/// so its process group id) stays reserved.
fn exited_without_reaping(pid: libc::pid_t) -> bool {
    // SAFETY: waitid with WNOWAIT only inspects our own child.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies the zone files into `dir` and returns the copies' file names.
fn copy_zones(dir: &Path, zones: &[Zone]) -> Vec<String> {
    zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            let base = z
                .file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "zone".into());
            let name = format!("z{i}-{base}");
            fs::copy(&z.file, dir.join(&name))
                .unwrap_or_else(|e| panic!("copy {}: {e}", z.file.display()));
            name
        })
        .collect()
}

fn tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create temporary directory")
}

fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builder for a dnsd instance.
pub struct Dnsd {
    zones: Vec<Zone>,
    server_lines: Vec<String>,
    /// Appended to the config after the zones (`[[key]]`, `[dyndns]`...).
    extra: String,
    ipv6: bool,
    probe: Option<String>,
}

impl Dnsd {
    pub fn new(zones: &[Zone]) -> Dnsd {
        Dnsd {
            zones: zones.to_vec(),
            server_lines: Vec::new(),
            extra: String::new(),
            ipv6: false,
            probe: None,
        }
    }

    /// An extra line for the `[server]` table, e.g. `tcp_idle_timeout_ms = 1500`.
    pub fn server_option(mut self, line: &str) -> Dnsd {
        self.server_lines.push(line.to_string());
        self
    }

    /// Text appended to the config file after the zones.
    pub fn config_text(mut self, text: &str) -> Dnsd {
        self.extra.push_str(text);
        self.extra.push('\n');
        self
    }

    /// Also listen on `[::1]`.
    pub fn ipv6(mut self) -> Dnsd {
        self.ipv6 = true;
        self
    }

    /// The name whose SOA query tells that the server is ready (default: the
    /// first zone's name).
    pub fn probe(mut self, name: &str) -> Dnsd {
        self.probe = Some(name.to_string());
        self
    }

    /// Writes the config file for `port` into `dir`; returns its path.
    fn write_config(&self, dir: &Path, port: u16) -> (PathBuf, Vec<SocketAddr>) {
        let files = copy_zones(dir, &self.zones);
        let mut addrs = vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)];
        if self.ipv6 {
            addrs.push(SocketAddr::new("::1".parse().expect("literal"), port));
        }
        let mut conf = String::new();
        conf.push_str("[server]\nlisten = [");
        let listen: Vec<String> = addrs.iter().map(|a| toml_str(&a.to_string())).collect();
        conf.push_str(&listen.join(", "));
        conf.push_str("]\nudp_sockets = 1\ncontrol_socket = \"control.sock\"\n");
        for l in &self.server_lines {
            conf.push_str(l);
            conf.push('\n');
        }
        conf.push_str("\n[log]\nlevel = \"info\"\n");
        for (z, file) in self.zones.iter().zip(&files) {
            conf.push_str("\n[[zone]]\n");
            if let Some(n) = &z.name {
                let _ = writeln!(conf, "name = {}", toml_str(n));
            }
            let _ = writeln!(conf, "file = {}", toml_str(file));
            let _ = writeln!(
                conf,
                "format = \"{}\"",
                match z.format {
                    Format::Rfc1035 => "rfc1035",
                    Format::Tinydns => "tinydns",
                }
            );
            if let Some(w) = z.wildcards {
                let _ = writeln!(conf, "wildcards = \"{w}\"");
            }
            if let Some(s) = z.serial {
                let _ = writeln!(conf, "serial = {s}");
            }
            for line in &z.options {
                let _ = writeln!(conf, "{line}");
            }
        }
        conf.push('\n');
        conf.push_str(&self.extra);
        let path = dir.join("dnsd.toml");
        fs::write(&path, conf).expect("write dnsd.toml");
        (path, addrs)
    }

    pub fn start(self) -> Server {
        let bin = dnsd_binary();
        let dir = tempdir("dnsd-e2e-dnsd-");
        let port = free_port();
        let (config, addrs) = self.write_config(dir.path(), port);
        let probe = self
            .probe
            .clone()
            .or_else(|| self.zones.iter().find_map(|z| z.name.clone()))
            .expect("a probe name (a zone name) for dnsd");
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .current_dir(dir.path());
        Server::spawn(Kind::Dnsd, cmd, dir, addrs[0], addrs, true, &probe)
    }
}

/// Starts dnsd serving `zones` on a fresh loopback port.
pub fn start_dnsd(zones: &[Zone]) -> Server {
    Dnsd::new(zones).start()
}

/// Starts NSD (`nsd -d`) serving the RFC 1035 `zones`.
pub fn start_nsd(zones: &[Zone]) -> Server {
    let bin = peer_binary("nsd", "nsd");
    let dir = tempdir("dnsd-e2e-nsd-");
    let d = dir.path();
    let port = free_port();
    let files = copy_zones(d, zones);
    let mut conf = format!(
        "server:\n  ip-address: 127.0.0.1@{port}\n  port: {port}\n  server-count: 1\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{dir}\"\n  pidfile: \"{dir}/nsd.pid\"\n  database: \"\"\n  xfrdfile: \"{dir}/xfrd.state\"\n  zonelistfile: \"{dir}/zone.list\"\n  xfrdir: \"{dir}\"\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  verbosity: 1\n  tcp-timeout: 120\nremote-control:\n  control-enable: no\n",
        dir = d.display()
    );
    for (z, f) in zones.iter().zip(&files) {
        assert_eq!(z.format, Format::Rfc1035, "NSD only takes RFC 1035 zones");
        let name = z.name.as_deref().expect("zone name");
        let _ = write!(
            conf,
            "zone:\n  name: \"{name}\"\n  zonefile: \"{}/{f}\"\n",
            d.display()
        );
    }
    let path = d.join("nsd.conf");
    fs::write(&path, conf).expect("write nsd.conf");
    let mut cmd = Command::new(bin);
    cmd.arg("-d").arg("-c").arg(&path).current_dir(d);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let probe = zones[0].name.clone().expect("zone name");
    Server::spawn(Kind::Nsd, cmd, dir, addr, vec![addr], true, &probe)
}

/// Starts Knot DNS (`knotd -c`) serving the RFC 1035 `zones`.
pub fn start_knot(zones: &[Zone]) -> Server {
    let bin = peer_binary("knotd", "knot");
    let dir = tempdir("dnsd-e2e-knot-");
    let d = dir.path();
    let port = free_port();
    let files = copy_zones(d, zones);
    fs::create_dir_all(d.join("run")).expect("mkdir run");
    fs::create_dir_all(d.join("db")).expect("mkdir db");
    let mut conf = format!(
        "server:\n  rundir: \"{dir}/run\"\n  listen: 127.0.0.1@{port}\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n\ndatabase:\n  storage: \"{dir}/db\"\n\nlog:\n  - target: stderr\n    any: info\n\ntemplate:\n  - id: default\n    storage: \"{dir}\"\n    journal-content: none\n    zonefile-sync: -1\n\nzone:\n",
        dir = d.display()
    );
    for (z, f) in zones.iter().zip(&files) {
        assert_eq!(z.format, Format::Rfc1035, "Knot only takes RFC 1035 zones");
        let name = z.name.as_deref().expect("zone name");
        let _ = write!(
            conf,
            "  - domain: \"{name}\"\n    file: \"{}/{f}\"\n",
            d.display()
        );
    }
    let path = d.join("knot.conf");
    fs::write(&path, conf).expect("write knot.conf");
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(&path).current_dir(d);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
    let probe = zones[0].name.clone().expect("zone name");
    Server::spawn(Kind::Knot, cmd, dir, addr, vec![addr], true, &probe)
}

/// Compiles `data` with tinydns-data and starts tinydns on a private
/// 127.53.x.y:53. `probe` names a zone with SOA and NS in the data.
pub fn start_tinydns(data: &Path, probe: &str) -> Server {
    let compiler = peer_binary("tinydns-data", "tinydns");
    let bin = peer_binary("tinydns", "tinydns");
    let dir = tempdir("dnsd-e2e-tinydns-");
    let d = dir.path();
    fs::copy(data, d.join("data")).unwrap_or_else(|e| panic!("copy {}: {e}", data.display()));
    let out = Command::new(&compiler)
        .current_dir(d)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", compiler.display()));
    assert!(
        out.status.success(),
        "tinydns-data failed on {}: {}{}",
        data.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ip = free_tinydns_ip();
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("ROOT", d)
        .env("IP", ip.to_string())
        .env("UID", "0")
        .env("GID", "0")
        .current_dir(d);
    let addr = SocketAddr::new(IpAddr::V4(ip), 53);
    Server::spawn(Kind::Tinydns, cmd, dir, addr, vec![addr], false, probe)
}

/// A `dnsd` command (for `dnsd check` and the like).
pub fn dnsd_command() -> Command {
    Command::new(dnsd_binary())
}
