//! The servers under test, each started alone in the server namespace on the
//! same zone set, pinned to one CPU (the load generator gets the other),
//! and stopped (SIGTERM, then SIGKILL to its process group) on drop. The
//! configurations follow tests/src/servers.rs: one server process for NSD
//! with rate limiting off, one UDP worker for Knot, one socket for dnsd.

use std::fmt::Write as _;
use std::fs;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::netns::{self, CLIENT_NS, SERVER_IF, SERVER_NS, SERVER_V4, SERVER_V6};
use super::probe::Prober;

/// The CPU the servers run on; the load generator uses CPU 0.
pub const SERVER_CPU: &str = "1";
/// How long a server may take to load the zones and answer.
const START_TIMEOUT: Duration = Duration::from_secs(300);

/// One benchmarked configuration.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    DnsdXdp,
    DnsdUser,
    Nsd,
    KnotUdp,
    KnotXdp,
    Tinydns,
    Swap,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::DnsdXdp,
        Kind::DnsdUser,
        Kind::Nsd,
        Kind::KnotUdp,
        Kind::KnotXdp,
        Kind::Tinydns,
        Kind::Swap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::DnsdXdp => "dnsd XDP",
            Kind::DnsdUser => "dnsd userspace",
            Kind::Nsd => "NSD",
            Kind::KnotUdp => "Knot UDP",
            Kind::KnotXdp => "Knot XDP",
            Kind::Tinydns => "tinydns",
            Kind::Swap => "XDP address swap",
        }
    }

    /// The address queries go to: IPv6 (kxdpgun leaves IPv4 UDP checksums
    /// zero, which dnsd's XDP program passes by design; IPv6 requires
    /// them), except for tinydns, which only speaks IPv4.
    pub fn addr(self) -> IpAddr {
        match self {
            Kind::Tinydns => IpAddr::V4(SERVER_V4),
            _ => IpAddr::V6(SERVER_V6),
        }
    }

    /// Whether this is a DNS server (the swap program only reflects).
    pub fn is_server(self) -> bool {
        self != Kind::Swap
    }
}

/// The zone files every server serves, under `dir`.
pub struct ZoneSet {
    /// The personal-setup zone from `examples/` (RFC 1035).
    pub info: PathBuf,
    /// The generated large zone `bench.example` (RFC 1035).
    pub large: PathBuf,
    /// Both zones as one tinydns `data` file.
    pub tinydns_data: PathBuf,
    pub large_records: usize,
}

/// The zone set for the large zone's `records`; the example zone's tinydns
/// twin is the example.net part of examples/tinydns/data, renamed.
pub fn zone_set(dir: &Path, records: usize) -> Result<ZoneSet> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let large_records = super::compile::generate(dir, records)?;
    let root = crate::util::workspace_root();
    let info = dir.join("example.info.zone");
    fs::copy(root.join("examples/zones/example.info.zone"), &info)?;
    let example = fs::read_to_string(root.join("examples/tinydns/data"))?;
    let mut data: String = example
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("example.net"))
        .map(|l| l.replace("example.net", "example.info") + "\n")
        .collect();
    data.push_str(&fs::read_to_string(dir.join("tinydns/data"))?);
    let tinydns_data = dir.join("tinydns/data");
    fs::write(&tinydns_data, data)?;
    Ok(ZoneSet {
        info,
        large: dir.join("bench.example.zone"),
        tinydns_data,
        large_records,
    })
}

/// A running server (or the attached swap program).
pub struct Server {
    pub kind: Kind,
    child: Option<Child>,
    /// For the swap ceiling: the BPF link that keeps it attached.
    _link: Option<OwnedFd>,
    pub dir: PathBuf,
    /// dnsd's config (for `dnsd stats`).
    pub config: Option<PathBuf>,
    /// Start until the large zone's SOA is answered (for tinydns including
    /// tinydns-data).
    pub load_time: Duration,
    log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Fails if the server process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "{} exited ({status}); its log:\n{}",
                self.kind.name(),
                self.log_tail()
            );
        }
        Ok(())
    }

    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pgid = child.id() as libc::pid_t;
        // SAFETY: signals the process group of our own unreaped child.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: as above; helpers of the group that are left (NSD's).
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = child.wait();
        // Knot leaves its XDP program on the interface; the next server
        // must not run behind it.
        netns::detach_netlink(SERVER_NS, SERVER_IF);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `kind` on `zones` with its state in `dir`, and waits until it
/// answers the large zone's SOA.
pub fn start(kind: Kind, zones: &ZoneSet, dir: &Path, prober: &Prober) -> Result<Server> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let log = dir.join("server.log");
    let started = Instant::now();
    let (cmd, config) = match kind {
        Kind::DnsdXdp | Kind::DnsdUser => {
            let config = dnsd_config(kind, zones, dir)?;
            let mut cmd = Command::new(super::dnsd_binary());
            cmd.arg("serve").arg("--config").arg(&config);
            (Some(cmd), Some(config))
        }
        Kind::Nsd => (Some(nsd(zones, dir)?), None),
        Kind::KnotUdp | Kind::KnotXdp => (Some(knot(kind, zones, dir)?), None),
        Kind::Tinydns => (Some(tinydns(zones, dir)?), None),
        Kind::Swap => (None, None),
    };
    let (child, link) = match cmd {
        Some(cmd) => (Some(spawn(cmd, dir, &log)?), None),
        None => (
            None,
            Some(netns::attach(SERVER_NS, SERVER_IF, netns::Program::Swap)?),
        ),
    };
    let mut server = Server {
        kind,
        child,
        _link: link,
        dir: dir.to_owned(),
        config,
        load_time: Duration::ZERO,
        log,
    };
    if kind.is_server() {
        let deadline = started + START_TIMEOUT;
        loop {
            netns::check_interrupted()?;
            server.check_running()?;
            if prober.soa_ready(kind.addr(), "bench.example") {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer the SOA of bench.example within {START_TIMEOUT:?}; its log:\n{}",
                    kind.name(),
                    server.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        server.load_time = started.elapsed();
    }
    Ok(server)
}

/// `ip netns exec <server ns> taskset -c 1 <cmd>`, in its own process group.
fn spawn(cmd: Command, dir: &Path, log: &Path) -> Result<Child> {
    let out = fs::File::create(log)?;
    let err = out.try_clone()?;
    let mut full = netns::command(SERVER_NS, "taskset");
    full.args(["-c", SERVER_CPU])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    full.spawn()
        .with_context(|| format!("cannot start {}", crate::util::display(&full)))
}

fn listen_v4() -> String {
    format!("{SERVER_V4}")
}

fn listen_v6() -> String {
    format!("{SERVER_V6}")
}

fn dnsd_config(kind: Kind, zones: &ZoneSet, dir: &Path) -> Result<PathBuf> {
    let mut conf = format!(
        "[server]\nlisten = [\"{}:53\", \"[{}]:53\"]\nudp_sockets = 1\ncontrol_socket = \"control.sock\"\n\n[log]\nlevel = \"warn\"\n",
        listen_v4(),
        listen_v6()
    );
    if kind == Kind::DnsdXdp {
        let _ = write!(
            conf,
            "\n[xdp]\ninterfaces = [\"{SERVER_IF}\"]\nmode = \"native\"\n"
        );
    }
    // The example zone is copied, so the reload measurement can replace it.
    let info = dir.join("example.info.zone");
    fs::copy(&zones.info, &info)?;
    let _ = write!(
        conf,
        "\n[[zone]]\nname = \"example.info\"\nfile = \"example.info.zone\"\n\n[[zone]]\nname = \"bench.example\"\nfile = \"{}\"\n",
        zones.large.display()
    );
    write_conf(dir, "dnsd.toml", &conf)
}

fn write_conf(dir: &Path, name: &str, conf: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    fs::write(&path, conf).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn nsd(zones: &ZoneSet, dir: &Path) -> Result<Command> {
    let d = dir.display();
    // Debian's NSD rate-limits by default; that would measure the limiter.
    let conf = format!(
        "server:\n  ip-address: {v4}@53\n  ip-address: {v6}@53\n  server-count: 1\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  database: \"\"\n  xfrdfile: \"{d}/xfrd.state\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdir: \"{d}\"\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  verbosity: 1\nremote-control:\n  control-enable: no\nzone:\n  name: \"example.info\"\n  zonefile: \"{info}\"\nzone:\n  name: \"bench.example\"\n  zonefile: \"{large}\"\n",
        v4 = listen_v4(),
        v6 = listen_v6(),
        info = zones.info.display(),
        large = zones.large.display(),
    );
    let mut cmd = Command::new("nsd");
    cmd.arg("-d")
        .arg("-c")
        .arg(write_conf(dir, "nsd.conf", &conf)?);
    Ok(cmd)
}

fn knot(kind: Kind, zones: &ZoneSet, dir: &Path) -> Result<Command> {
    let d = dir.display();
    fs::create_dir_all(dir.join("run"))?;
    fs::create_dir_all(dir.join("db"))?;
    // Knot's XDP workers follow the interface's queues: one on this veth.
    let xdp = if kind == Kind::KnotXdp {
        format!("\nxdp:\n  listen: {SERVER_IF}\n  udp: on\n")
    } else {
        String::new()
    };
    let conf = format!(
        "server:\n  rundir: \"{d}/run\"\n  listen: [ {v4}@53, {v6}@53 ]\n  udp-workers: 1\n  tcp-workers: 1\n  background-workers: 1\n{xdp}\ndatabase:\n  storage: \"{d}/db\"\n\nlog:\n  - target: stderr\n    any: info\n\ntemplate:\n  - id: default\n    storage: \"{d}\"\n    journal-content: none\n    zonefile-sync: -1\n\nzone:\n  - domain: example.info\n    file: \"{info}\"\n  - domain: bench.example\n    file: \"{large}\"\n",
        v4 = listen_v4(),
        v6 = listen_v6(),
        info = zones.info.display(),
        large = zones.large.display(),
    );
    let mut cmd = Command::new("knotd");
    cmd.arg("-c").arg(write_conf(dir, "knot.conf", &conf)?);
    Ok(cmd)
}

/// tinydns-data (counted in the load time), then tinydns on port 53.
fn tinydns(zones: &ZoneSet, dir: &Path) -> Result<Command> {
    fs::copy(&zones.tinydns_data, dir.join("data"))?;
    netns::checked(Command::new("tinydns-data").current_dir(dir))?;
    let mut cmd = Command::new("tinydns");
    cmd.env("ROOT", dir)
        .env("IP", listen_v4())
        .env("UID", "0")
        .env("GID", "0");
    Ok(cmd)
}

/// Peak memory of `pid`'s process group: the sum of VmHWM (resident high
/// water mark) of its processes plus the memory of the BPF maps they hold
/// (`memlock` in the fdinfo of map fds). KiB.
pub fn peak_memory_kib(pid: u32) -> (u64, u64) {
    let mut rss = 0;
    let mut bpf = 0;
    let Ok(procs) = fs::read_dir("/proc") else {
        return (0, 0);
    };
    for entry in procs.flatten() {
        let Some(p) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: getpgid has no memory-safety preconditions.
        if unsafe { libc::getpgid(p) } != pid as i32 {
            continue;
        }
        let status = fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
        rss += status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        bpf += bpf_map_bytes(p) / 1024;
    }
    (rss, bpf)
}

fn bpf_map_bytes(pid: i32) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    for fd in fds.flatten() {
        let info = fs::read_to_string(fd.path()).unwrap_or_default();
        let field = |key: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        // Count each map once, however many fds refer to it.
        if let (Some(id), Some(mem), Some(kind)) =
            (field("map_id:"), field("memlock:"), field("map_type:"))
            && seen.insert(id)
        {
            total += mem;
            // Maps inside maps (dnsd's zone table) are held by the outer
            // map, not by an fd (BPF_MAP_TYPE_ARRAY_OF_MAPS, HASH_OF_MAPS).
            if kind == 12 || kind == 13 {
                for inner in inner_maps(id) {
                    if seen.insert(inner) {
                        total += map_memlock(inner).unwrap_or(0);
                    }
                }
            }
        }
    }
    total
}

/// The ids of the maps stored in map-of-maps `id` (`bpftool map dump`:
/// each value is an inner map id, little-endian).
fn inner_maps(id: u64) -> Vec<u64> {
    let text =
        crate::util::output(Command::new("bpftool").args(["map", "dump", "id", &id.to_string()]))
            .unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split("value:").nth(1))
        .filter_map(|v| {
            let bytes: Vec<u8> = v
                .split_whitespace()
                .filter_map(|b| u8::from_str_radix(b, 16).ok())
                .collect();
            let b: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
            Some(u64::from(u32::from_le_bytes(b)))
        })
        .collect()
}

/// `bytes_memlock` of map `id` (`bpftool -j map show id`).
fn map_memlock(id: u64) -> Option<u64> {
    let text = crate::util::output(Command::new("bpftool").args([
        "-j",
        "map",
        "show",
        "id",
        &id.to_string(),
    ]))?;
    text.split("\"bytes_memlock\":")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The client namespace, for commands run by the checks and generators.
pub fn client(program: &str) -> Command {
    netns::command(CLIENT_NS, program)
}
