//! Issue 3, item 4: the XDP program passes the verifier on kernels from
//! 5.15 on. No 5.15 kernel is packaged for this machine, so the test boots
//! Debian bullseye's 5.10 kernel in QEMU, loads the real program there
//! exactly as `dnsd serve` does (`dnsd/examples/xdp_verify.rs`, verifier
//! included) and checks a few queries with `BPF_PROG_TEST_RUN` against the
//! engine. Everything the program relies on is in 5.10 (bounded loops 5.3,
//! growing `bpf_xdp_adjust_tail` 5.8, hash inner maps of any size 5.10),
//! and from 5.10 to 5.15 the verifier only learned to accept more, so what
//! 5.10 accepts, 5.15 accepts.
//!
//! * The kernel package is fetched with apt-get from Debian (its signed
//!   `InRelease` → `Packages` → `.deb` hash chain checks it), using a
//!   private apt state under `target/tmp/oldkernel/`: the host's apt
//!   sources are not touched. Only `boot/vmlinuz-*` is kept, so reruns are
//!   offline.
//! * The initramfs holds busybox (busybox-static), the loader and its
//!   shared libraries, `examples/` and an `/init` that runs the loader and
//!   powers off.
//! * QEMU runs with TCG: under the nested KVM of these machines the guest
//!   hangs right after the BIOS (and `-cpu host` aborts setting MSR
//!   0x10a), while TCG boots and checks in about 15 s. Set
//!   `DNSD_OLDKERNEL_KVM=1` to use `-enable-kvm` where it works. The guest
//!   has no network device.
//!
//! Fails (never skips) when a tool is missing (`cargo xtask setup`
//! installs qemu-system-x86, busybox-static and cpio) or the kernel cannot
//! be fetched.

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the kernel is cached (`target/tmp/oldkernel`).
const CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/oldkernel");
/// The suite whose kernel is booted: 5.10, older than the 5.15 floor.
const SUITE: &str = "bullseye";
const KEYRING: &str = "/usr/share/keyrings/debian-archive-bullseye-stable.gpg";
const BUSYBOX: &str = "/bin/busybox";
/// Printed by `/init` after the loader exits.
const DONE: &str = "DNSD-OLDKERNEL-DONE rc=";
/// The whole boot, load and check; TCG boots in about 15 s.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
/// Each apt-get or dpkg-deb step.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

#[test]
fn xdp_program_verifies_and_answers_on_linux_5_10() {
    let started = Instant::now();
    let loader = build_loader();
    let kernel = cached_kernel().unwrap_or_else(|e| {
        panic!("cannot get Debian {SUITE}'s 5.10 kernel (network to deb.debian.org?): {e}")
    });
    let work = tempfile::tempdir().expect("creating a temporary directory");
    let initrd = build_initramfs(&loader, work.path())
        .unwrap_or_else(|e| panic!("cannot build the initramfs: {e}"));
    let prepared = started.elapsed();
    let booted = Instant::now();
    let console = boot(&kernel, &initrd, work.path()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{console}\n--- prepared in {prepared:.1?}, booted and checked in {:.1?}",
        booted.elapsed()
    );

    let release = console
        .lines()
        .find_map(|l| l.trim().strip_prefix("xdp_verify: kernel "))
        .unwrap_or_else(|| panic!("the loader did not start in the guest:\n{console}"));
    assert!(
        release.starts_with("5.10."),
        "booted kernel {release}, expected 5.10"
    );
    let rc = console
        .lines()
        .find_map(|l| l.trim().strip_prefix(DONE))
        .unwrap_or_else(|| panic!("the guest did not finish:\n{console}"));
    assert!(
        rc == "0" && console.lines().any(|l| l.trim() == "xdp_verify: PASS"),
        "the XDP program failed on Linux {release} (exit status {rc}); see the \
         verifier log or failed cases above:\n{console}"
    );
    // Each case must have run over both address families (16 lines).
    let ok = console
        .lines()
        .filter(|l| l.trim().starts_with("xdp_verify: ok "))
        .count();
    assert!(ok >= 16, "only {ok} cases passed:\n{console}");
}

/// Builds `dnsd/examples/xdp_verify.rs` and returns its path.
fn build_loader() -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .current_dir(dnsd_e2e::workspace_root())
        .args(["build", "--quiet", "-p", "dnsd", "--example", "xdp_verify"])
        .arg("--message-format=json")
        .stderr(Stdio::inherit())
        .output()
        .expect("running cargo build");
    assert!(
        output.status.success(),
        "building the xdp_verify example failed"
    );
    // The compiler-artifact message of the example names its executable.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = stdout
        .lines()
        .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("\"xdp_verify\""))
        .find_map(|l| {
            let rest = &l[l.find("\"executable\":\"")? + 14..];
            Some(PathBuf::from(&rest[..rest.find('"')?]))
        })
        .expect("cargo reported no xdp_verify executable");
    assert!(path.is_file(), "{} missing", path.display());
    path
}

// ---------------------------------------------------------------------------
// The kernel

/// `boot/vmlinuz-*` from the cache, fetched first if missing.
fn cached_kernel() -> Result<PathBuf, String> {
    let cache = Path::new(CACHE);
    if let Some(found) = find_vmlinuz(cache) {
        return Ok(found);
    }
    let apt = cache.join("apt");
    for dir in ["lists/partial", "cache/archives/partial", "empty"] {
        fs::create_dir_all(apt.join(dir)).map_err(|e| format!("creating {dir}: {e}"))?;
    }
    let sources = apt.join("sources.list");
    fs::write(
        &sources,
        format!("deb [signed-by={KEYRING}] http://deb.debian.org/debian {SUITE} main\n"),
    )
    .map_err(|e| format!("writing {}: {e}", sources.display()))?;
    // A private apt state: only this list, no host sources or pins.
    let apt_cmd = |program: &str| {
        let mut cmd = Command::new(program);
        for (key, value) in [
            ("Dir::Etc::SourceList", sources.clone()),
            ("Dir::Etc::SourceParts", apt.join("empty")),
            ("Dir::Etc::PreferencesParts", apt.join("empty")),
            ("Dir::State::Lists", apt.join("lists")),
            ("Dir::Cache", apt.join("cache")),
        ] {
            cmd.arg("-o").arg(format!("{key}={}", value.display()));
        }
        for option in [
            "Acquire::Languages=none",
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false",
            "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false",
            "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false",
            "Acquire::http::Timeout=30",
            "Debug::NoLocking=1",
        ] {
            cmd.args(["-o", option]);
        }
        cmd.current_dir(&apt);
        cmd
    };
    run(apt_cmd("apt-get").args(["-q", "update"]))?;
    // linux-image-amd64 depends on the suite's current ABI, e.g. 5.10.0-32.
    let depends = run(apt_cmd("apt-cache").args(["depends", "linux-image-amd64"]))?;
    let package = depends
        .lines()
        .find_map(|l| l.trim().strip_prefix("Depends: "))
        .filter(|p| p.starts_with("linux-image-5.10.") && p.ends_with("-amd64"))
        .ok_or_else(|| format!("no 5.10 kernel in linux-image-amd64's dependencies:\n{depends}"))?
        .to_owned();
    run(apt_cmd("apt-get").args(["-q", "download", &package]))?;
    let deb = fs::read_dir(&apt)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&package) && n.ends_with(".deb"))
        })
        .ok_or_else(|| format!("apt-get download left no {package} .deb"))?;
    extract_vmlinuz(&deb, cache)?;
    // Keep only the kernel (about 7 MB of the 55 MB package and apt lists).
    let _ = fs::remove_dir_all(&apt);
    find_vmlinuz(cache).ok_or_else(|| format!("{} holds no boot/vmlinuz-*", deb.display()))
}

fn find_vmlinuz(cache: &Path) -> Option<PathBuf> {
    fs::read_dir(cache.join("boot"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-5.10."))
        })
}

/// `dpkg-deb --fsys-tarfile DEB | tar -x ./boot/vmlinuz-*`, then renamed
/// to `dest/boot`: an interrupted run never leaves a truncated kernel in
/// the cache.
fn extract_vmlinuz(deb: &Path, dest: &Path) -> Result<(), String> {
    let staging = dest.join("extracting");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).map_err(|e| format!("creating {}: {e}", staging.display()))?;
    let mut dpkg = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting dpkg-deb: {e}"))?;
    let tar_input = dpkg.stdout.take().ok_or("dpkg-deb stdout")?;
    let extracted = run(Command::new("tar")
        .current_dir(&staging)
        .args(["-x", "--wildcards", "./boot/vmlinuz-*"])
        .stdin(tar_input));
    let dpkg_status = wait_bounded(&mut dpkg, FETCH_TIMEOUT)?;
    extracted?;
    if !dpkg_status {
        return Err(format!("dpkg-deb --fsys-tarfile {} failed", deb.display()));
    }
    fs::rename(staging.join("boot"), dest.join("boot")).map_err(|e| e.to_string())?;
    fs::remove_dir_all(&staging).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// The initramfs

/// Writes `initrd.cpio` into `work` and returns its path.
fn build_initramfs(loader: &Path, work: &Path) -> Result<PathBuf, String> {
    let root = work.join("root");
    for dir in ["bin", "examples"] {
        fs::create_dir_all(root.join(dir)).map_err(|e| e.to_string())?;
    }
    if !Path::new(BUSYBOX).is_file() {
        return Err(format!(
            "{BUSYBOX} missing: install busybox-static (`cargo xtask setup`)"
        ));
    }
    copy(Path::new(BUSYBOX), &root.join("bin/busybox"))?;
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).map_err(|e| e.to_string())?;
    copy(loader, &root.join("bin/xdp_verify"))?;
    for library in shared_libraries(loader)? {
        let relative = library.strip_prefix("/").map_err(|e| e.to_string())?;
        copy(&library, &root.join(relative))?;
    }
    copy_tree(
        &dnsd_e2e::workspace_root().join("examples"),
        &root.join("examples"),
    )?;
    let init = root.join("init");
    fs::write(&init, INIT).map_err(|e| e.to_string())?;
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(&init, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    // Uncompressed newc archive: the kernel takes it as is, and gzip would
    // cost more time than it saves.
    let initrd = work.join("initrd.cpio");
    let out = fs::File::create(&initrd).map_err(|e| e.to_string())?;
    let status = Command::new("sh")
        .current_dir(&root)
        .args(["-c", "find . | cpio -o -H newc --quiet"])
        .stdout(out)
        .status()
        .map_err(|e| format!("running find | cpio: {e}"))?;
    if !status.success() {
        return Err("find | cpio failed (is cpio installed? `cargo xtask setup`)".into());
    }
    Ok(initrd)
}

/// The guest's PID 1: mounts what aya and the verifier need (`/sys` for the
/// kernel BTF, bpffs), runs the loader, reports its status and powers off.
const INIT: &str = "#!/bin/sh
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t bpf bpf /sys/fs/bpf
/bin/xdp_verify /examples/dnsd.toml
echo \"DNSD-OLDKERNEL-DONE rc=$?\"
/bin/busybox poweroff -f
";

/// The absolute paths `ldd` lists for `binary` (loader included).
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = run(Command::new("ldd").arg(binary))?;
    Ok(out
        .lines()
        .filter_map(|l| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x...)".
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    for entry in fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let target = to.join(path.file_name().ok_or("a file without a name")?);
        // Only the config and zone files matter; a demo run leaves its
        // control socket and journal here, which cannot (or need not) be copied.
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else if path.is_file() {
            copy(&path, &target)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// QEMU

/// Kills the VM if the test ends early (panic, timeout).
struct Vm(Child);

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Boots `kernel` with `initrd`; returns the serial console output once the
/// guest powered off.
fn boot(kernel: &Path, initrd: &Path, work: &Path) -> Result<String, String> {
    let log = work.join("console.log");
    let console = fs::File::create(&log).map_err(|e| e.to_string())?;
    let mut cmd = Command::new("qemu-system-x86_64");
    if std::env::var_os("DNSD_OLDKERNEL_KVM").is_some_and(|v| v == "1") {
        cmd.arg("-enable-kvm");
    } else {
        cmd.args(["-accel", "tcg"]);
    }
    cmd.args([
        "-m",
        "1024",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
    ])
    .args(["-serial", "stdio", "-net", "none"])
    .arg("-kernel")
    .arg(kernel)
    .arg("-initrd")
    .arg(initrd)
    .args(["-append", "console=ttyS0 panic=-1 quiet"])
    .stdin(Stdio::null())
    .stdout(console)
    .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64 (`cargo xtask setup`): {e}"))?;
    let mut vm = Vm(child);
    let exited = wait_bounded(&mut vm.0, BOOT_TIMEOUT);
    let output = fs::read_to_string(&log).unwrap_or_default();
    let mut stderr = String::new();
    if let Some(mut pipe) = vm.0.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    match exited {
        Ok(_) => Ok(output),
        Err(e) => Err(format!(
            "QEMU: {e}\nserial console:\n{output}\nqemu stderr:\n{stderr}"
        )),
    }
}

// ---------------------------------------------------------------------------
// Processes

/// Waits up to `timeout`; kills the child on timeout. Ok(success).
fn wait_bounded(child: &mut Child, timeout: Duration) -> Result<bool, String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => return Ok(status.success()),
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no exit within {timeout:?}; killed"));
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Runs `cmd` to completion within [`FETCH_TIMEOUT`]; its stdout, or an
/// error with its stderr.
fn run(cmd: &mut Command) -> Result<String, String> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    // Read in threads so a full pipe cannot stall the child.
    let mut out_pipe = child.stdout.take().ok_or("stdout")?;
    let mut err_pipe = child.stderr.take().ok_or("stderr")?;
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out_pipe.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let success = wait_bounded(&mut child, FETCH_TIMEOUT).map_err(|e| format!("{what}: {e}"))?;
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if success {
        Ok(stdout)
    } else {
        Err(format!("{what} failed:\n{stderr}"))
    }
}
