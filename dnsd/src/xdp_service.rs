//! The daemon's side of the fast path: load and attach the XDP program the
//! config asks for, keep its table in step with the engine's snapshot, and
//! report its counters. When XDP cannot be used (not root, old kernel,
//! driver refuses), dnsd keeps serving from userspace and says why.

use std::net::IpAddr;
use std::sync::Mutex;

use crate::config::{Config, XdpMode};
use crate::engine::EngineSettings;
use crate::fastpath::table;
use crate::xdp::{AttachMode, XdpProgram};
use crate::zone::snapshot::Snapshot;

/// The loaded and attached program, if any.
pub struct XdpService {
    program: Mutex<XdpProgram>,
    settings: EngineSettings,
}

impl XdpService {
    /// Loads, fills and attaches the program as `config.xdp` says. `None`
    /// when nothing is configured or XDP is unavailable (logged).
    pub fn start(
        config: &Config,
        snapshot: &Snapshot,
        settings: EngineSettings,
    ) -> Option<XdpService> {
        let xdp = &config.xdp;
        if xdp.interfaces.is_empty() {
            tracing::info!(
                "XDP: no interfaces configured ([xdp] interfaces); answering from userspace only"
            );
            return None;
        }
        let port = config.server.listen.first()?.port();
        if config.server.listen.iter().any(|a| a.port() != port) {
            tracing::warn!(
                "XDP: listen addresses use different ports; the fast path serves port {port} only"
            );
        }
        let addresses = served_addresses(config);
        let common = dnsd_common::Config {
            dns_port: port,
            edns_udp_size: settings.edns_udp_size,
            _pad: [0; 4],
        };
        let mut program = match XdpProgram::load(common) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("XDP unavailable, answering from userspace only: {e}");
                return None;
            }
        };
        let table = table::build(snapshot, &settings);
        if let Err(e) = program
            .set_addresses(&addresses)
            .and_then(|()| program.load_table(&table))
        {
            tracing::warn!("XDP unavailable, answering from userspace only: {e}");
            return None;
        }
        let mode = match xdp.mode {
            XdpMode::Auto => AttachMode::NativeOrGeneric,
            XdpMode::Native => AttachMode::Native,
            XdpMode::Generic => AttachMode::Generic,
        };
        let mut attached = 0;
        for iface in &xdp.interfaces {
            match program.attach(iface, mode) {
                Ok(used) => {
                    attached += 1;
                    tracing::info!(
                        interface = %iface,
                        mode = %used,
                        entries = table.entries.len(),
                        "XDP fast path attached"
                    );
                }
                Err(e) => tracing::warn!(
                    "XDP: cannot attach to {iface}: {e}; that interface is served from userspace"
                ),
            }
        }
        if attached == 0 {
            tracing::warn!("XDP attached to no interface; answering from userspace only");
            return None;
        }
        Some(XdpService {
            program: Mutex::new(program),
            settings,
        })
    }

    /// Replaces the fast-path table with one built from `snapshot`, as one
    /// atomic switch. On failure XDP passes nothing stale: the program is
    /// detached and userspace answers everything.
    pub fn update(&self, snapshot: &Snapshot) {
        let started = std::time::Instant::now();
        let table = table::build(snapshot, &self.settings);
        let built = started.elapsed();
        let mut program = self.program.lock().unwrap_or_else(|p| p.into_inner());
        let loaded = program.load_table(&table);
        if let Err(e) = loaded {
            tracing::error!(
                "XDP table update failed ({e}); detaching so that userspace answers everything"
            );
            let ifaces: Vec<String> = program.attached().map(|(i, _)| i.to_owned()).collect();
            for iface in ifaces {
                let _ = program.detach(&iface);
            }
        } else {
            tracing::info!(
                entries = table.entries.len(),
                build_us = built.as_micros() as u64,
                load_us = (started.elapsed() - built).as_micros() as u64,
                "XDP table updated"
            );
        }
    }

    /// `xdp.<counter> <value>` lines, summed over CPUs.
    pub fn stats_text(&self) -> String {
        let program = self.program.lock().unwrap_or_else(|p| p.into_inner());
        match program.counters() {
            Ok(c) => c
                .named()
                .map(|(name, v)| format!("xdp.{name} {v}\n"))
                .collect(),
            Err(e) => format!("xdp.error {e}\n"),
        }
    }
}

/// The addresses XDP answers for: the listen addresses, or for a wildcard
/// listen address every address of the XDP interfaces.
fn served_addresses(config: &Config) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for addr in &config.server.listen {
        if addr.ip().is_unspecified() {
            for (iface, ip) in interface_addresses() {
                if config.xdp.interfaces.contains(&iface)
                    && ip.is_ipv4() == addr.is_ipv4()
                    && !out.contains(&ip)
                {
                    out.push(ip);
                }
            }
        } else if !out.contains(&addr.ip()) {
            out.push(addr.ip());
        }
    }
    out
}

/// Every (interface, address) pair of this host (getifaddrs).
fn interface_addresses() -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: ifa_addr points to a sockaddr whose family says its type.
        let family = unsafe { (*ifa.ifa_addr).sa_family } as i32;
        let ip = match family {
            libc::AF_INET => {
                // SAFETY: family AF_INET means a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes())
            }
            libc::AF_INET6 => {
                // SAFETY: family AF_INET6 means a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                IpAddr::from(sin6.sin6_addr.s6_addr)
            }
            _ => continue,
        };
        out.push((name, ip));
    }
    // SAFETY: frees the list getifaddrs allocated, once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_its_addresses() {
        let all = interface_addresses();
        assert!(
            all.iter()
                .any(|(i, ip)| i == "lo" && *ip == IpAddr::from([127, 0, 0, 1])),
            "{all:?}"
        );
    }

    #[test]
    fn wildcard_listen_takes_the_interface_addresses() {
        let config = Config::parse(
            "[server]\nlisten = [\"0.0.0.0:53\", \"192.0.2.1:53\"]\n[xdp]\ninterfaces = [\"lo\"]\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap();
        let addrs = served_addresses(&config);
        assert!(addrs.contains(&IpAddr::from([127, 0, 0, 1])), "{addrs:?}");
        assert!(addrs.contains(&IpAddr::from([192, 0, 2, 1])), "{addrs:?}");
        assert!(addrs.iter().all(|a| a.is_ipv4()));
    }
}
