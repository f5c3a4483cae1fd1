//! Wire layouts of the headers the XDP program parses.
//!
//! All fields are byte arrays (alignment 1, no padding), so a header can be read
//! through a pointer at any packet offset. Multi-byte fields are network byte
//! order; the accessors convert.

/// Ethernet header length (no tags).
pub const ETH_HLEN: usize = 14;
/// Length of one 802.1Q / 802.1ad tag.
pub const VLAN_HLEN: usize = 4;
/// Tags the program looks through (QinQ); more pass.
pub const MAX_VLAN_TAGS: usize = 2;
/// IPv4 header without options (IHL = 5).
pub const IPV4_HLEN: usize = 20;
/// IPv6 fixed header.
pub const IPV6_HLEN: usize = 40;
/// UDP header.
pub const UDP_HLEN: usize = 8;
/// DNS message header.
pub const DNS_HLEN: usize = 12;
/// An OPT pseudo-record without options: root owner (1), TYPE, CLASS,
/// TTL, RDLENGTH.
pub const OPT_RR_LEN: usize = 11;
/// RR type OPT.
pub const TYPE_OPT: u16 = 41;
/// Class IN.
pub const CLASS_IN: u16 = 1;
/// The DO bit in the OPT TTL's flags half (RFC 3225).
pub const EDNS_DO: u16 = 0x8000;
/// Header flags: QR.
pub const DNS_QR: u16 = 0x8000;
/// Header flags: opcode mask.
pub const DNS_OPCODE_MASK: u16 = 0x7800;
/// Header flags: RD.
pub const DNS_RD: u16 = 0x0100;
/// Limit of a UDP response to a query without OPT (RFC 1035 §4.2.1).
pub const PLAIN_UDP_LIMIT: usize = 512;

/// EtherType IPv4.
pub const ETH_P_IP: u16 = 0x0800;
/// EtherType IPv6.
pub const ETH_P_IPV6: u16 = 0x86DD;
/// EtherType 802.1Q (C-tag).
pub const ETH_P_8021Q: u16 = 0x8100;
/// EtherType 802.1ad (S-tag, QinQ).
pub const ETH_P_8021AD: u16 = 0x88A8;

/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// IPv4 flags/fragment-offset bits that mark a fragment (MF | offset).
pub const IPV4_FRAG_MASK: u16 = 0x3FFF;

/// Ethernet II header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EthHdr {
    pub dst: [u8; 6],
    pub src: [u8; 6],
    pub ether_type: [u8; 2],
}

impl EthHdr {
    #[inline(always)]
    pub const fn ether_type(&self) -> u16 {
        u16::from_be_bytes(self.ether_type)
    }
}

/// The 4 bytes of an 802.1Q/802.1ad tag that follow its TPID.
///
/// The TPID itself sits where the EtherType would be, so the tag's
/// `ether_type` is the next protocol (or the next tag's TPID).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VlanHdr {
    pub tci: [u8; 2],
    pub ether_type: [u8; 2],
}

impl VlanHdr {
    #[inline(always)]
    pub const fn ether_type(&self) -> u16 {
        u16::from_be_bytes(self.ether_type)
    }
}

/// IPv4 header without options.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipv4Hdr {
    pub version_ihl: u8,
    pub tos: u8,
    pub total_len: [u8; 2],
    pub id: [u8; 2],
    pub frag_off: [u8; 2],
    pub ttl: u8,
    pub protocol: u8,
    pub check: [u8; 2],
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

impl Ipv4Hdr {
    #[inline(always)]
    pub const fn version(&self) -> u8 {
        self.version_ihl >> 4
    }
    #[inline(always)]
    pub const fn ihl(&self) -> u8 {
        self.version_ihl & 0x0F
    }
    #[inline(always)]
    pub const fn total_len(&self) -> u16 {
        u16::from_be_bytes(self.total_len)
    }
    #[inline(always)]
    pub const fn frag_off(&self) -> u16 {
        u16::from_be_bytes(self.frag_off)
    }
    /// True for any fragment (first, middle or last).
    #[inline(always)]
    pub const fn is_fragment(&self) -> bool {
        self.frag_off() & IPV4_FRAG_MASK != 0
    }
}

/// IPv6 fixed header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipv6Hdr {
    /// Version (4 bits), traffic class (8), flow label (20).
    pub vtc_flow: [u8; 4],
    pub payload_len: [u8; 2],
    pub next_header: u8,
    pub hop_limit: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

impl Ipv6Hdr {
    #[inline(always)]
    pub const fn version(&self) -> u8 {
        self.vtc_flow[0] >> 4
    }
    #[inline(always)]
    pub const fn payload_len(&self) -> u16 {
        u16::from_be_bytes(self.payload_len)
    }
}

/// UDP header.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UdpHdr {
    pub src_port: [u8; 2],
    pub dst_port: [u8; 2],
    pub len: [u8; 2],
    pub check: [u8; 2],
}

impl UdpHdr {
    #[inline(always)]
    pub const fn src_port(&self) -> u16 {
        u16::from_be_bytes(self.src_port)
    }
    #[inline(always)]
    pub const fn dst_port(&self) -> u16 {
        u16::from_be_bytes(self.dst_port)
    }
    #[inline(always)]
    pub const fn length(&self) -> u16 {
        u16::from_be_bytes(self.len)
    }
    #[inline(always)]
    pub const fn check(&self) -> u16 {
        u16::from_be_bytes(self.check)
    }
}

/// DNS message header (RFC 1035 §4.1.1).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsHdr {
    pub id: [u8; 2],
    pub flags: [u8; 2],
    pub qdcount: [u8; 2],
    pub ancount: [u8; 2],
    pub nscount: [u8; 2],
    pub arcount: [u8; 2],
}

impl DnsHdr {
    #[inline(always)]
    pub const fn id(&self) -> u16 {
        u16::from_be_bytes(self.id)
    }
    #[inline(always)]
    pub const fn flags(&self) -> u16 {
        u16::from_be_bytes(self.flags)
    }
    #[inline(always)]
    pub const fn qdcount(&self) -> u16 {
        u16::from_be_bytes(self.qdcount)
    }
    #[inline(always)]
    pub const fn ancount(&self) -> u16 {
        u16::from_be_bytes(self.ancount)
    }
    #[inline(always)]
    pub const fn nscount(&self) -> u16 {
        u16::from_be_bytes(self.nscount)
    }
    #[inline(always)]
    pub const fn arcount(&self) -> u16 {
        u16::from_be_bytes(self.arcount)
    }
}

const _: () = {
    assert!(core::mem::size_of::<DnsHdr>() == DNS_HLEN);
    assert!(core::mem::size_of::<EthHdr>() == ETH_HLEN);
    assert!(core::mem::size_of::<VlanHdr>() == VLAN_HLEN);
    assert!(core::mem::size_of::<Ipv4Hdr>() == IPV4_HLEN);
    assert!(core::mem::size_of::<Ipv6Hdr>() == IPV6_HLEN);
    assert!(core::mem::size_of::<UdpHdr>() == UDP_HLEN);
    assert!(core::mem::align_of::<Ipv6Hdr>() == 1);
};
