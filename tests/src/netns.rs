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
