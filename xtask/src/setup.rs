//! `cargo xtask setup`: install what is missing, quickly do nothing otherwise.
//!
//! Checks (all cheap: no network, no apt): the nightly toolchain with
//! `rust-src` and `clippy`, Debian packages via `dpkg-query`, and
//! `bpf-linker --version`. Installs only what is missing and says so.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::util;

/// What a subcommand needs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Enough to build the XDP program: nightly + rust-src, LLVM 22, bpf-linker.
    Toolchain,
    /// Toolchain plus the peers and tools the tests use.
    All,
}

/// Needed to build bpf-linker against LLVM 22 (shared/spec/toolchain.md §1).
const TOOLCHAIN_PACKAGES: &[&str] = &["llvm-22-dev"];
/// Test peers and tools.
const PEER_PACKAGES: &[&str] = &[
    "nsd",
    "knot",
    "knot-dnsutils",
    "tinydns",
    "dnsperf",
    "bind9-dnsutils",
    "bpftool",
    "iproute2",
    "iputils-ping",
    "ethtool",
    "openssl", // HMACs of the hand-signed TSIG requests (tests/tests/update_rfc2136.rs)
    // tests/tests/old_kernel.rs boots Linux 5.10 with the XDP loader.
    "qemu-system-x86",
    "busybox-static",
    "cpio",
    "ddclient",
    "libio-socket-ssl-perl", // ddclient's HTTPS
    // The font `cargo xtask bench` draws its chart's labels with.
    "fonts-dejavu-core",
];
/// Packages that ship a daemon, and its systemd unit.
const DAEMONS: &[(&str, &str)] = &[
    ("nsd", "nsd.service"),
    ("knot", "knot.service"),
    ("tinydns", "tinydns.service"),
    // Its daemon would send updates out; the dyndns tests run it by hand.
    ("ddclient", "ddclient.service"),
];

const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// `cargo xtask setup`.
pub fn run() -> Result<()> {
    ensure(Scope::All)
}

/// Installs whatever `scope` needs and is missing.
pub fn ensure(scope: Scope) -> Result<()> {
    let started = Instant::now();
    util::ensure_cargo_bin_on_path();
    let mut installed = Vec::new();

    ensure_nightly(&mut installed)?;
    let mut packages = TOOLCHAIN_PACKAGES.to_vec();
    if scope == Scope::All {
        packages.extend_from_slice(PEER_PACKAGES);
    }
    ensure_packages(&packages, &mut installed)?;
    ensure_bpf_linker(&mut installed)?;
    if scope == Scope::All {
        warn_if_port_53_taken();
    }

    if installed.is_empty() {
        eprintln!(
            "xtask: setup: all present (nightly + rust-src, {}, bpf-linker {BPF_LINKER_VERSION}) \
             in {:.2?}",
            packages.join(" "),
            started.elapsed()
        );
    } else {
        eprintln!(
            "xtask: setup: installed {} in {:.0?}",
            installed.join(", "),
            started.elapsed()
        );
    }
    Ok(())
}

/// The nightly toolchain (used by aya-build) with `rust-src` (for
/// `-Z build-std=core`) and `clippy` (for the eBPF lint).
fn ensure_nightly(installed: &mut Vec<String>) -> Result<()> {
    let sysroot = match nightly_sysroot() {
        Some(sysroot) => sysroot,
        None => {
            eprintln!("xtask: setup: installing the nightly toolchain (rust-src, clippy)");
            util::run(Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
                "--component",
                "rust-src",
                "--component",
                "clippy",
            ]))?;
            installed.push("nightly toolchain".to_owned());
            nightly_sysroot().context("nightly toolchain still missing after installing it")?
        }
    };
    let components = [
        (
            "rust-src",
            sysroot.join("lib/rustlib/src/rust/library/core/Cargo.toml"),
        ),
        ("clippy", sysroot.join("bin/cargo-clippy")),
    ];
    for (component, marker) in components {
        if !marker.exists() {
            eprintln!("xtask: setup: installing rustup component {component} for nightly");
            util::run(Command::new("rustup").args([
                "component",
                "add",
                component,
                "--toolchain",
                "nightly",
            ]))?;
            installed.push(format!("nightly {component}"));
        }
    }
    Ok(())
}

fn nightly_sysroot() -> Option<PathBuf> {
    let out = util::output(
        Command::new("rustup").args(["run", "nightly", "rustc", "--print", "sysroot"]),
    )?;
    Some(PathBuf::from(out.trim()))
}

/// Debian packages, checked with `dpkg-query` (fast, offline).
fn ensure_packages(packages: &[&str], installed: &mut Vec<String>) -> Result<()> {
    let missing = missing_packages(packages)?;
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "xtask: setup: installing Debian packages: {}",
        missing.join(" ")
    );
    if !util::is_root() {
        bail!(
            "installing packages needs root; run as root, or install them yourself:\n  \
             apt-get update && apt-get install -y {}",
            missing.join(" ")
        );
    }

    // Keep package scripts from starting nsd/knot/tinydns on port 53, which
    // would break tests that bind it: policy-rc.d exit 101 = "do not start".
    let _policy = PolicyRcD::install()?;
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    util::run(&mut apt(&["-q", "update"]))?;
    let mut install = apt(&["-q", "install", "-y"]);
    install.args(&missing);
    util::run(&mut install)?;
    stop_daemons(&missing);

    let still = missing_packages(packages)?;
    if !still.is_empty() {
        bail!(
            "packages still missing after apt-get install: {}",
            still.join(" ")
        );
    }
    installed.extend(missing.iter().map(|p| (*p).to_owned()));
    Ok(())
}

fn missing_packages<'a>(packages: &[&'a str]) -> Result<Vec<&'a str>> {
    // Exits 1 when a package is unknown to dpkg; its stdout still lists the others.
    let out = Command::new("dpkg-query")
        .arg("-W")
        .arg("-f=${Package}\t${db:Status-Status}\n")
        .args(packages)
        .output()
        .context("running dpkg-query (is this a Debian system?)")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let present: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(_, status)| *status == "installed")
        .map(|(name, _)| name.split(':').next().unwrap_or(name))
        .collect();
    Ok(packages
        .iter()
        .copied()
        .filter(|p| !present.contains(p))
        .collect())
}

/// A temporary `/usr/sbin/policy-rc.d` denying service starts, removed on drop.
/// An existing one (e.g. Docker's) is left alone.
struct PolicyRcD {
    created: bool,
}

impl PolicyRcD {
    fn install() -> Result<Self> {
        if Path::new(POLICY_RC_D).exists() {
            return Ok(Self { created: false });
        }
        use std::os::unix::fs::PermissionsExt as _;
        fs::write(
            POLICY_RC_D,
            "#!/bin/sh\n# Written by cargo xtask setup.\nexit 101\n",
        )
        .with_context(|| format!("writing {POLICY_RC_D}"))?;
        fs::set_permissions(POLICY_RC_D, fs::Permissions::from_mode(0o755))?;
        Ok(Self { created: true })
    }
}

impl Drop for PolicyRcD {
    fn drop(&mut self) {
        if self.created {
            let _ = fs::remove_file(POLICY_RC_D);
        }
    }
}

/// Belt and braces: on systemd hosts, stop and disable the daemons just installed.
fn stop_daemons(just_installed: &[&str]) {
    if !Path::new("/run/systemd/system").exists() {
        return;
    }
    let units: Vec<&str> = DAEMONS
        .iter()
        .filter(|(package, _)| just_installed.contains(package))
        .map(|(_, unit)| *unit)
        .collect();
    if units.is_empty() {
        return;
    }
    eprintln!(
        "xtask: setup: disabling {} so they do not hold port 53 or send updates out",
        units.join(" ")
    );
    let _ = Command::new("systemctl")
        .args(["disable", "--now", "--quiet"])
        .args(&units)
        .status();
}

/// bpf-linker 0.13.0 built against LLVM 22 (shared/spec/toolchain.md §1).
fn ensure_bpf_linker(installed: &mut Vec<String>) -> Result<()> {
    if let Some(version) = bpf_linker_version() {
        if version == BPF_LINKER_VERSION {
            return Ok(());
        }
        eprintln!(
            "xtask: setup: bpf-linker {version} found, need {BPF_LINKER_VERSION}; reinstalling"
        );
    }
    eprintln!(
        "xtask: setup: installing bpf-linker {BPF_LINKER_VERSION} (LLVM 22) with cargo install \
         (about a minute)"
    );
    util::run(
        util::cargo()
            .env("LLVM_PREFIX", LLVM_PREFIX)
            .arg("install")
            .arg(format!("bpf-linker@{BPF_LINKER_VERSION}"))
            .args(["--no-default-features", "--features", "llvm-22"])
            // We only get here if bpf-linker is missing, broken (e.g. libLLVM
            // gone) or the wrong version: replace whatever cargo has.
            .arg("--force"),
    )?;
    match bpf_linker_version() {
        Some(v) if v == BPF_LINKER_VERSION => {
            installed.push(format!("bpf-linker {BPF_LINKER_VERSION}"));
            Ok(())
        }
        other => bail!(
            "after cargo install, `bpf-linker --version` reports {}, expected \
             {BPF_LINKER_VERSION}; is another bpf-linker earlier on PATH ({})?",
            other.as_deref().unwrap_or("nothing (not found or failing)"),
            util::find_on_path("bpf-linker")
                .map_or_else(|| "none found".to_owned(), |p| p.display().to_string())
        ),
    }
}

/// The version `bpf-linker --version` prints ("bpf-linker 0.13.0"), if it runs.
fn bpf_linker_version() -> Option<String> {
    let linker = util::find_on_path("bpf-linker")?;
    let out = util::output(Command::new(linker).arg("--version"))?;
    out.split_whitespace().nth(1).map(str::to_owned)
}

/// Warns when something already listens on port 53 (UDP or TCP).
fn warn_if_port_53_taken() {
    const PORT_53: &str = ":0035";
    let listening = |file: &str, state: &str| {
        fs::read_to_string(file).is_ok_and(|table| {
            table.lines().skip(1).any(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(PORT_53) && fields[3] == state
            })
        })
    };
    // UDP sockets bound but unconnected show state 07, TCP listeners 0A.
    let taken = listening("/proc/net/udp", "07")
        || listening("/proc/net/udp6", "07")
        || listening("/proc/net/tcp", "0A")
        || listening("/proc/net/tcp6", "0A");
    if taken {
        eprintln!(
            "xtask: setup: warning: something listens on port 53 (nsd, knot or tinydns \
             started by their packages?); tests that bind port 53 may fail. \
             Stop it, e.g. `systemctl disable --now nsd knot tinydns`."
        );
    }
}
