//! Record types and record data.
//!
//! Types whose RDATA holds names that are compressed on output (RFC 1035
//! types, RFC 3597 §4) or that drive additional-section processing (SRV) are
//! kept structured; everything else is opaque uncompressed wire bytes and is
//! served unchanged (RFC 3597 §5).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::name::{Name, NameError, wire_len};

/// A resource record type (RFC 1035 §3.2.2, IANA registry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rtype(pub u16);

impl Rtype {
    pub const A: Rtype = Rtype(1);
    pub const NS: Rtype = Rtype(2);
    pub const CNAME: Rtype = Rtype(5);
    pub const SOA: Rtype = Rtype(6);
    pub const PTR: Rtype = Rtype(12);
    pub const HINFO: Rtype = Rtype(13);
    pub const MX: Rtype = Rtype(15);
    pub const TXT: Rtype = Rtype(16);
    pub const AAAA: Rtype = Rtype(28);
    pub const SRV: Rtype = Rtype(33);
    pub const NAPTR: Rtype = Rtype(35);
    pub const DNAME: Rtype = Rtype(39);
    pub const OPT: Rtype = Rtype(41);
    pub const DS: Rtype = Rtype(43);
    pub const SSHFP: Rtype = Rtype(44);
    pub const RRSIG: Rtype = Rtype(46);
    pub const NSEC: Rtype = Rtype(47);
    pub const DNSKEY: Rtype = Rtype(48);
    pub const NSEC3: Rtype = Rtype(50);
    pub const NSEC3PARAM: Rtype = Rtype(51);
    pub const TLSA: Rtype = Rtype(52);
    pub const SVCB: Rtype = Rtype(64);
    pub const HTTPS: Rtype = Rtype(65);
    pub const SPF: Rtype = Rtype(99);
    pub const TSIG: Rtype = Rtype(250);
    pub const IXFR: Rtype = Rtype(251);
    pub const AXFR: Rtype = Rtype(252);
    pub const MAILB: Rtype = Rtype(253);
    pub const MAILA: Rtype = Rtype(254);
    pub const ANY: Rtype = Rtype(255);
    pub const CAA: Rtype = Rtype(257);

    /// Types that can never be stored in a zone: 0, OPT and the meta/query
    /// range 128–255 (RFC 6895 §3.1).
    pub fn is_meta(self) -> bool {
        self.0 == 0 || self.0 == 41 || (128..=255).contains(&self.0)
    }

    pub fn mnemonic(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "A",
            2 => "NS",
            5 => "CNAME",
            6 => "SOA",
            12 => "PTR",
            13 => "HINFO",
            15 => "MX",
            16 => "TXT",
            28 => "AAAA",
            33 => "SRV",
            35 => "NAPTR",
            39 => "DNAME",
            41 => "OPT",
            43 => "DS",
            44 => "SSHFP",
            46 => "RRSIG",
            47 => "NSEC",
            48 => "DNSKEY",
            50 => "NSEC3",
            51 => "NSEC3PARAM",
            52 => "TLSA",
            64 => "SVCB",
            65 => "HTTPS",
            99 => "SPF",
            250 => "TSIG",
            251 => "IXFR",
            252 => "AXFR",
            255 => "ANY",
            257 => "CAA",
            _ => return None,
        })
    }
}

impl fmt::Display for Rtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}
impl fmt::Debug for Rtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// SOA RDATA (RFC 1035 §3.3.13).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

/// Record data.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    /// DNAME: stored for completeness; its target is never compressed (RFC 6672 §2.5).
    Dname(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    Soa(Box<Soa>),
    /// SRV: structured only to find the target for the additional section;
    /// the target is never compressed (RFC 2782).
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    /// Any other type: uncompressed RDATA bytes, served as they are.
    Other {
        rtype: Rtype,
        data: Box<[u8]>,
    },
}

/// Why RDATA bytes do not fit their type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    #[error("RDATA of {rtype} must be {expected} bytes, not {actual}")]
    Length {
        rtype: Rtype,
        expected: usize,
        actual: usize,
    },
    #[error("RDATA of {0} is too short or has trailing bytes")]
    Shape(Rtype),
    #[error("bad name in RDATA: {0}")]
    Name(#[from] NameError),
    #[error("RDATA longer than 65535 bytes")]
    TooLong,
    #[error("type {0} cannot be stored in a zone")]
    MetaType(Rtype),
}

impl Rdata {
    pub fn rtype(&self) -> Rtype {
        match self {
            Rdata::A(_) => Rtype::A,
            Rdata::Aaaa(_) => Rtype::AAAA,
            Rdata::Ns(_) => Rtype::NS,
            Rdata::Cname(_) => Rtype::CNAME,
            Rdata::Ptr(_) => Rtype::PTR,
            Rdata::Dname(_) => Rtype::DNAME,
            Rdata::Mx { .. } => Rtype::MX,
            Rdata::Soa(_) => Rtype::SOA,
            Rdata::Srv { .. } => Rtype::SRV,
            Rdata::Other { rtype, .. } => *rtype,
        }
    }

    /// Decodes uncompressed RDATA of `rtype` (as in a zone file's RFC 3597
    /// form or a tinydns `:` line), checking the shape of known types.
    pub fn from_wire(rtype: Rtype, data: &[u8]) -> Result<Rdata, RdataError> {
        if rtype.is_meta() {
            return Err(RdataError::MetaType(rtype));
        }
        if data.len() > 65535 {
            return Err(RdataError::TooLong);
        }
        let exact = |n: usize| {
            if data.len() == n {
                Ok(())
            } else {
                Err(RdataError::Length {
                    rtype,
                    expected: n,
                    actual: data.len(),
                })
            }
        };
        let name_at = |off: usize| -> Result<(Name, usize), RdataError> {
            let rest = data.get(off..).ok_or(RdataError::Shape(rtype))?;
            let len = wire_len(rest)?;
            Ok((Name::from_wire(&rest[..len])?, off + len))
        };
        let u16_at = |off: usize| -> Result<u16, RdataError> {
            data.get(off..off + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(RdataError::Shape(rtype))
        };
        let whole_name = |off: usize| -> Result<Name, RdataError> {
            let (name, end) = name_at(off)?;
            if end != data.len() {
                return Err(RdataError::Shape(rtype));
            }
            Ok(name)
        };
        Ok(match rtype {
            Rtype::A => {
                exact(4)?;
                Rdata::A(Ipv4Addr::new(data[0], data[1], data[2], data[3]))
            }
            Rtype::AAAA => {
                exact(16)?;
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                Rdata::Aaaa(Ipv6Addr::from(b))
            }
            Rtype::NS => Rdata::Ns(whole_name(0)?),
            Rtype::CNAME => Rdata::Cname(whole_name(0)?),
            Rtype::PTR => Rdata::Ptr(whole_name(0)?),
            Rtype::DNAME => Rdata::Dname(whole_name(0)?),
            Rtype::MX => Rdata::Mx {
                preference: u16_at(0)?,
                exchange: whole_name(2)?,
            },
            Rtype::SRV => Rdata::Srv {
                priority: u16_at(0)?,
                weight: u16_at(2)?,
                port: u16_at(4)?,
                target: whole_name(6)?,
            },
            Rtype::SOA => {
                let (mname, off) = name_at(0)?;
                let (rname, off) = name_at(off)?;
                if data.len() != off + 20 {
                    return Err(RdataError::Shape(rtype));
                }
                let n = |i: usize| {
                    let b = &data[off + 4 * i..off + 4 * i + 4];
                    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
                };
                Rdata::Soa(Box::new(Soa {
                    mname,
                    rname,
                    serial: n(0),
                    refresh: n(1),
                    retry: n(2),
                    expire: n(3),
                    minimum: n(4),
                }))
            }
            Rtype::TXT | Rtype::SPF => {
                check_character_strings(data).ok_or(RdataError::Shape(rtype))?;
                Rdata::Other {
                    rtype,
                    data: data.into(),
                }
            }
            _ => Rdata::Other {
                rtype,
                data: data.into(),
            },
        })
    }

    /// Uncompressed wire format, names in their stored case.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_uncompressed(&mut out);
        out
    }

    fn write_uncompressed(&self, out: &mut Vec<u8>) {
        match self {
            Rdata::A(a) => out.extend_from_slice(&a.octets()),
            Rdata::Aaaa(a) => out.extend_from_slice(&a.octets()),
            Rdata::Ns(n) | Rdata::Cname(n) | Rdata::Ptr(n) | Rdata::Dname(n) => {
                out.extend_from_slice(n.as_wire())
            }
            Rdata::Mx {
                preference,
                exchange,
            } => {
                out.extend_from_slice(&preference.to_be_bytes());
                out.extend_from_slice(exchange.as_wire());
            }
            Rdata::Soa(s) => {
                out.extend_from_slice(s.mname.as_wire());
                out.extend_from_slice(s.rname.as_wire());
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            Rdata::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                for v in [priority, weight, port] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                out.extend_from_slice(target.as_wire());
            }
            Rdata::Other { data, .. } => out.extend_from_slice(data),
        }
    }

    /// The name whose addresses go in the additional section (RFC 1035 §3.3.9,
    /// §3.3.11; RFC 2782).
    pub fn additional_target(&self) -> Option<&Name> {
        match self {
            Rdata::Ns(n) => Some(n),
            Rdata::Mx { exchange, .. } => Some(exchange),
            Rdata::Srv { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Identity for duplicate detection (RFC 2181 §5): names in RDATA of the
    /// well-known types compare case-insensitively (RFC 4343 §4.1, RFC 3597
    /// §6); addresses, numbers and opaque RDATA compare exactly. Equal keys
    /// exactly when [`Rdata::dedup_eq`].
    pub fn dedup_key(&self) -> Vec<u8> {
        let lower = |n: &Name| n.to_lowercase();
        let lowered = match self {
            Rdata::Ns(n) => Rdata::Ns(lower(n)),
            Rdata::Cname(n) => Rdata::Cname(lower(n)),
            Rdata::Ptr(n) => Rdata::Ptr(lower(n)),
            Rdata::Dname(n) => Rdata::Dname(lower(n)),
            Rdata::Mx {
                preference,
                exchange,
            } => Rdata::Mx {
                preference: *preference,
                exchange: lower(exchange),
            },
            Rdata::Soa(soa) => Rdata::Soa(Box::new(Soa {
                mname: lower(&soa.mname),
                rname: lower(&soa.rname),
                ..(**soa).clone()
            })),
            Rdata::Srv {
                priority,
                weight,
                port,
                target,
            } => Rdata::Srv {
                priority: *priority,
                weight: *weight,
                port: *port,
                target: lower(target),
            },
            Rdata::Other { rtype, data } => {
                return [&[1][..], &rtype.0.to_be_bytes(), data].concat();
            }
            other => other.clone(),
        };
        [
            &[0][..],
            &lowered.rtype().0.to_be_bytes(),
            &lowered.to_wire(),
        ]
        .concat()
    }

    /// Duplicate detection without allocating: the derived equality, since
    /// [`Name`] compares case-insensitively and everything else exactly.
    pub fn dedup_eq(&self, other: &Rdata) -> bool {
        self == other
    }
}

/// Checks that `data` is a sequence of <character-string>s (RFC 1035 §3.3).
pub fn check_character_strings(data: &[u8]) -> Option<()> {
    let mut i = 0;
    while i < data.len() {
        i += 1 + data[i] as usize;
    }
    (i == data.len()).then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_wire_checks_lengths() {
        assert!(matches!(
            Rdata::from_wire(Rtype::A, &[1, 2, 3]),
            Err(RdataError::Length { expected: 4, .. })
        ));
        assert!(matches!(
            Rdata::from_wire(Rtype::AAAA, &[0; 4]),
            Err(RdataError::Length { expected: 16, .. })
        ));
        assert_eq!(
            Rdata::from_wire(Rtype::A, &[192, 0, 2, 1]).unwrap(),
            Rdata::A(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert!(Rdata::from_wire(Rtype(41), &[]).is_err());
        assert!(Rdata::from_wire(Rtype(200), &[]).is_err());
        assert!(Rdata::from_wire(Rtype::CNAME, b"\x01a\x00\x00").is_err());
        assert!(Rdata::from_wire(Rtype::TXT, b"\x05ab").is_err());
        assert!(Rdata::from_wire(Rtype::TXT, b"\x02ab\x00").is_ok());
    }

    #[test]
    fn structured_round_trip() {
        let cases: Vec<(Rtype, Vec<u8>)> = vec![
            (Rtype::MX, b"\x00\x0a\x04mail\x07Example\x00".to_vec()),
            (Rtype::SRV, b"\x00\x01\x00\x02\x00\x35\x02ns\x00".to_vec()),
            (
                Rtype::SOA,
                [&b"\x02ns\x00\x04host\x00"[..], &[0u8; 20]].concat(),
            ),
            (Rtype(65280), vec![0xc0, 0, 2, 1]),
        ];
        for (t, wire) in cases {
            let rd = Rdata::from_wire(t, &wire).unwrap();
            assert_eq!(rd.rtype(), t);
            assert_eq!(rd.to_wire(), wire);
        }
    }

    #[test]
    fn dedup_ignores_case_only_for_known_types() {
        let a = Rdata::from_wire(Rtype::NS, b"\x02NS\x00").unwrap();
        let b = Rdata::from_wire(Rtype::NS, b"\x02ns\x00").unwrap();
        assert_eq!(a.dedup_key(), b.dedup_key());
        let x = Rdata::from_wire(Rtype(65280), b"AB").unwrap();
        let y = Rdata::from_wire(Rtype(65280), b"ab").unwrap();
        assert_ne!(x.dedup_key(), y.dedup_key());
    }

    #[test]
    fn dedup_eq_is_dedup_key_equality() {
        let soa = |m: &[u8], serial: u32| {
            [m, &b"\x04host\x00"[..], &serial.to_be_bytes(), &[0u8; 16]].concat()
        };
        let cases: Vec<(Rtype, Vec<u8>)> = vec![
            (Rtype::A, vec![192, 0, 2, 65]),
            (Rtype::A, vec![192, 0, 2, 97]),
            (Rtype::A, vec![192, 0, 2, 1]),
            (
                Rtype::AAAA,
                [[0x20, 1, 0xd, 0xb8], [0; 4], [0; 4], [0, 0, 0, 0x41]].concat(),
            ),
            (
                Rtype::AAAA,
                [[0x20, 1, 0xd, 0xb8], [0; 4], [0; 4], [0, 0, 0, 0x61]].concat(),
            ),
            (Rtype::NS, b"\x02NS\x00".to_vec()),
            (Rtype::NS, b"\x02ns\x00".to_vec()),
            (Rtype::NS, b"\x02nt\x00".to_vec()),
            (Rtype::CNAME, b"\x02ns\x00".to_vec()),
            (Rtype::MX, b"\x00\x41\x02MX\x00".to_vec()),
            (Rtype::MX, b"\x00\x61\x02mx\x00".to_vec()),
            (Rtype::MX, b"\x00\x0a\x02mx\x00".to_vec()),
            (Rtype::SRV, b"\x00\x01\x00\x02\x00\x35\x02NS\x00".to_vec()),
            (Rtype::SRV, b"\x00\x01\x00\x02\x00\x55\x02ns\x00".to_vec()),
            (Rtype::SRV, b"\x00\x01\x00\x02\x00\x75\x02ns\x00".to_vec()),
            (Rtype::SOA, soa(b"\x02NS\x00", 0x41)),
            (Rtype::SOA, soa(b"\x02ns\x00", 0x61)),
            (Rtype::SOA, soa(b"\x02ns\x00", 0x62)),
            (Rtype::TXT, b"\x02AB".to_vec()),
            (Rtype::TXT, b"\x02ab".to_vec()),
            (Rtype(65280), b"\x02ns\x00".to_vec()),
        ];
        let mut rdatas: Vec<Rdata> = cases
            .iter()
            .map(|(t, w)| Rdata::from_wire(*t, w).unwrap())
            .collect();
        rdatas.push(Rdata::Other {
            rtype: Rtype::NS,
            data: b"\x02ns\x00"[..].into(),
        });
        for a in &rdatas {
            for b in &rdatas {
                assert_eq!(a.dedup_eq(b), a.dedup_key() == b.dedup_key(), "{a:?} {b:?}");
            }
        }
        // Only names ignore case: 192.0.2.65 ('A') is not 192.0.2.97 ('a'),
        // MX 65 is not MX 97, but NS "NS." is "ns.".
        assert!(!rdatas[0].dedup_eq(&rdatas[1]));
        assert!(!rdatas[3].dedup_eq(&rdatas[4]));
        assert!(rdatas[5].dedup_eq(&rdatas[6]));
        assert!(!rdatas[5].dedup_eq(&rdatas[8]), "NS and CNAME differ");
        assert!(!rdatas[9].dedup_eq(&rdatas[10]));
        assert!(!rdatas[12].dedup_eq(&rdatas[13]));
        assert!(!rdatas[15].dedup_eq(&rdatas[16]));
    }
}
