//! HTTP address updates (dyndns2) as RFC 2136 UPDATE messages, so that
//! they take exactly the path of DNS updates: permission, limits,
//! journal, XDP.

use std::net::IpAddr;

use crate::wire::name::Name;
use crate::wire::rdata::Rtype;
use crate::zone::snapshot::Zone;

/// Default TTL of an address the name does not have yet: short, as it
/// changes (like the example zone's home address).
pub const NEW_ADDRESS_TTL: u32 = 300;

/// The type of an address record for `addr`.
pub fn rtype_of(addr: IpAddr) -> Rtype {
    match addr {
        IpAddr::V4(_) => Rtype::A,
        IpAddr::V6(_) => Rtype::AAAA,
    }
}

/// Whether `host`'s address RRset in `zone` is exactly `addr`.
pub fn is_current(zone: &Zone, host: &Name, addr: IpAddr) -> bool {
    let rtype = rtype_of(addr);
    let want = match addr {
        IpAddr::V4(a) => crate::wire::rdata::Rdata::A(a),
        IpAddr::V6(a) => crate::wire::rdata::Rdata::Aaaa(a),
    };
    zone.node(host.to_lowercase().as_wire())
        .and_then(|n| n.rrset(rtype))
        .is_some_and(|s| s.rdatas.len() == 1 && s.rdatas.iter().all(|r| r.dedup_eq(&want)))
}

/// The UPDATE (RFC 2136 §2.5.2, §2.5.1) replacing `host`'s address RRset
/// in zone `apex` with `addr`; the TTL is the RRset's current one, else
/// [`NEW_ADDRESS_TTL`].
pub fn message(zone: &Zone, host: &Name, addr: IpAddr) -> Vec<u8> {
    let rtype = rtype_of(addr);
    let ttl = zone
        .node(host.to_lowercase().as_wire())
        .and_then(|n| n.rrset(rtype))
        .map_or(NEW_ADDRESS_TTL, |s| s.ttl);
    let mut m = Vec::with_capacity(128);
    // ID 0, opcode UPDATE; ZOCOUNT 1, PRCOUNT 0, UPCOUNT 2, ADCOUNT 0.
    m.extend_from_slice(&[0, 0, 5 << 3, 0, 0, 1, 0, 0, 0, 2, 0, 0]);
    m.extend_from_slice(zone.apex.as_wire());
    m.extend_from_slice(&Rtype::SOA.0.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes()); // IN
    // Delete the RRset: class ANY, TTL 0, no RDATA.
    m.extend_from_slice(host.as_wire());
    m.extend_from_slice(&rtype.0.to_be_bytes());
    m.extend_from_slice(&255u16.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    // Add the address.
    m.extend_from_slice(host.as_wire());
    m.extend_from_slice(&rtype.0.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&ttl.to_be_bytes());
    let rdata: Vec<u8> = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::{self, UpdatePolicy};

    struct Any;
    impl UpdatePolicy for Any {
        fn allows(&self, _: &Name, _: Rtype) -> bool {
            true
        }
    }

    fn zone() -> crate::zone::snapshot::Snapshot {
        crate::dynamic::store::tests::snapshot(
            "$TTL 300\n@ SOA ns1 hostmaster 10 7200 900 1209600 300\n@ NS ns1\nns1 A 198.18.0.53\nsubspace 60 A 198.18.0.1\n",
        )
    }

    #[test]
    fn replaces_the_address_through_rfc2136() {
        let snap = zone();
        let z = &snap.zones[0];
        let host = Name::parse_text("subspace.example.info").unwrap();
        let new: IpAddr = "198.18.0.9".parse().unwrap();
        assert!(is_current(z, &host, "198.18.0.1".parse().unwrap()));
        assert!(!is_current(z, &host, new));
        let msg = message(z, &host, new);
        assert_eq!(update::zone_of(&msg).unwrap(), z.apex);
        let cs = update::process(&msg, z, &Any).unwrap().expect("a change");
        let a = cs.changes.iter().find(|c| c.rtype == Rtype::A).unwrap();
        let after = a.after.as_ref().unwrap();
        // The TTL is kept, the address replaced.
        assert_eq!(after.ttl, 60);
        assert_eq!(
            &*after.rdatas,
            &[crate::wire::rdata::Rdata::A([198, 18, 0, 9].into())]
        );
        // A new AAAA gets the default TTL.
        let v6: IpAddr = "2001:db8::9".parse().unwrap();
        let cs = update::process(&message(z, &host, v6), z, &Any)
            .unwrap()
            .unwrap();
        let aaaa = cs.changes.iter().find(|c| c.rtype == Rtype::AAAA).unwrap();
        assert_eq!(aaaa.after.as_ref().unwrap().ttl, NEW_ADDRESS_TTL);
        assert!(aaaa.before.is_none());
    }
}
