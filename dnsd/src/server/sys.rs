//! The server's only unsafe code: socket options socket2 does not offer
//! unconditionally, and `recvmsg`/`sendmsg` with packet-info control messages.
//!
//! A UDP socket bound to `0.0.0.0` or `::` receives queries sent to any local
//! address, but a plain `send_to` lets the kernel choose the reply's source
//! address by routing, which differs from the query's destination on
//! multi-homed hosts (and for `127.0.0.2` vs `127.0.0.1`). Clients drop such
//! replies (RFC 2181 §4, checklist 13). With `IP_PKTINFO` (IPv4) or
//! `IPV6_RECVPKTINFO` (IPv6) enabled, `recvmsg` reports the destination
//! address in a control message, and `sendmsg` with the same kind of control
//! message makes the reply leave from it.
//!
//! Every function here takes the socket by reference (`AsFd`), so the
//! descriptor stays open during each call, and uses only buffers it owns or
//! borrows for the duration of the call.

use std::io;
use std::mem::{self, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd};
use std::ptr;

use libc::{c_int, c_void, socklen_t};

/// The local address a datagram arrived on, from its packet-info message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dest {
    V4 {
        /// The destination address in the IP header.
        addr: Ipv4Addr,
        /// The kernel's choice of local address (differs for broadcasts).
        spec_dst: Ipv4Addr,
    },
    V6 {
        addr: Ipv6Addr,
        /// Interface the datagram arrived on; needed for link-local addresses.
        ifindex: u32,
    },
}

/// One datagram received by [`recv`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Received {
    pub len: usize,
    pub from: SocketAddr,
    /// None if the kernel sent no packet-info message (not expected).
    pub dest: Option<Dest>,
}

/// Room for one control message carrying the larger of `in_pktinfo` (12
/// bytes) and `in6_pktinfo` (20 bytes): CMSG_SPACE(20) is 40 on 64-bit
/// Linux. Aligned like `cmsghdr`, as CMSG_FIRSTHDR expects.
#[repr(C, align(8))]
struct ControlBuf([MaybeUninit<u8>; 64]);

impl ControlBuf {
    fn new() -> ControlBuf {
        ControlBuf([MaybeUninit::uninit(); 64])
    }
}

fn set_int_option(socket: &impl AsFd, level: c_int, name: c_int, value: c_int) -> io::Result<()> {
    // SAFETY: the descriptor is open (borrowed for the call); `optval` points
    // to a c_int that outlives the call and `optlen` is its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            level,
            name,
            ptr::from_ref(&value).cast::<c_void>(),
            mem::size_of::<c_int>() as socklen_t,
        )
    };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// SO_REUSEPORT: several sockets on one address, the kernel spreads the
/// datagrams over them by 4-tuple hash (Linux ≥ 3.9).
pub(super) fn set_reuse_port(socket: &impl AsFd) -> io::Result<()> {
    set_int_option(socket, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)
}

/// Asks for a packet-info control message with every received datagram.
pub(super) fn enable_pktinfo(socket: &impl AsFd, ipv6: bool) -> io::Result<()> {
    if ipv6 {
        set_int_option(socket, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
    } else {
        set_int_option(socket, libc::IPPROTO_IP, libc::IP_PKTINFO, 1)
    }
}

/// Non-blocking `recvmsg` of one datagram into `buf`, with its packet info.
/// A datagram larger than `buf` is discarded with an `InvalidData` error.
pub(super) fn recv(socket: &impl AsFd, buf: &mut [u8]) -> io::Result<Received> {
    // SAFETY: all-zero bytes are a valid sockaddr_storage and msghdr (plain C
    // structs of integers and pointers; musl's msghdr has padding fields that
    // must be zero, which is why it is built from zeroed memory).
    let mut name: libc::sockaddr_storage = unsafe { mem::zeroed() };
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    let mut control = ControlBuf::new();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<c_void>(),
        iov_len: buf.len(),
    };
    msg.msg_name = ptr::from_mut(&mut name).cast::<c_void>();
    msg.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast::<c_void>();
    msg.msg_controllen = mem::size_of::<ControlBuf>() as _;

    // SAFETY: every pointer in `msg` refers to a live local or to `buf`, with
    // the lengths set above; the kernel writes at most those lengths and
    // updates msg_namelen, msg_controllen and msg_flags.
    let n = unsafe { libc::recvmsg(socket.as_fd().as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if msg.msg_flags & libc::MSG_TRUNC != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram larger than the receive buffer",
        ));
    }
    let from = from_sockaddr(&name, msg.msg_namelen)?;

    let mut dest = None;
    if msg.msg_flags & libc::MSG_CTRUNC == 0 {
        // SAFETY: `msg` was filled in by recvmsg, so msg_control and the
        // updated msg_controllen delimit the kernel's control messages;
        // CMSG_FIRSTHDR/CMSG_NXTHDR never return a header beyond that range,
        // and we read a payload only after checking cmsg_len covers it. The
        // payload may be unaligned for the struct, hence read_unaligned.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
            while !cmsg.is_null() {
                let header = ptr::read_unaligned(cmsg);
                let data = libc::CMSG_DATA(cmsg);
                let len = header.cmsg_len as usize;
                match (header.cmsg_level, header.cmsg_type) {
                    (libc::IPPROTO_IP, libc::IP_PKTINFO)
                        if len >= cmsg_len::<libc::in_pktinfo>() =>
                    {
                        let info = ptr::read_unaligned(data.cast::<libc::in_pktinfo>());
                        dest = Some(Dest::V4 {
                            addr: Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)),
                            spec_dst: Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr)),
                        });
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO)
                        if len >= cmsg_len::<libc::in6_pktinfo>() =>
                    {
                        let info = ptr::read_unaligned(data.cast::<libc::in6_pktinfo>());
                        dest = Some(Dest::V6 {
                            addr: Ipv6Addr::from(info.ipi6_addr.s6_addr),
                            ifindex: info.ipi6_ifindex,
                        });
                    }
                    _ => {}
                }
                cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
            }
        }
    }
    Ok(Received {
        len: n as usize,
        from,
        dest,
    })
}

/// Non-blocking `sendmsg` of `buf` to `to`, from the address in `from` when
/// given (and of the same family as `to`).
pub(super) fn send(
    socket: &impl AsFd,
    buf: &[u8],
    to: SocketAddr,
    from: Option<Dest>,
) -> io::Result<usize> {
    let (name, namelen) = to_sockaddr(to);
    // SAFETY: as in `recv`, an all-zero msghdr is valid.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    let mut control = ControlBuf([MaybeUninit::new(0); 64]);
    let mut iov = libc::iovec {
        // sendmsg only reads through iov_base; the C type is not const.
        iov_base: buf.as_ptr().cast_mut().cast::<c_void>(),
        iov_len: buf.len(),
    };
    msg.msg_name = ptr::from_ref(&name).cast_mut().cast::<c_void>();
    msg.msg_namelen = namelen;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;

    match (from, to) {
        (Some(Dest::V4 { addr, spec_dst }), SocketAddr::V4(_)) => {
            // The source is the query's destination, except for broadcast and
            // multicast queries, which we answer from the kernel's choice.
            let source = if addr.is_broadcast() || addr.is_multicast() {
                spec_dst
            } else {
                addr
            };
            let info = libc::in_pktinfo {
                // 0: let routing pick the interface; a fixed ifindex breaks
                // replies when the route back goes out another interface.
                ipi_ifindex: 0,
                ipi_spec_dst: libc::in_addr {
                    s_addr: u32::from(source).to_be(),
                },
                ipi_addr: libc::in_addr { s_addr: 0 },
            };
            // SAFETY: `control` is large and aligned enough for one such
            // message (see ControlBuf).
            unsafe {
                put_cmsg(
                    &mut msg,
                    &mut control,
                    libc::IPPROTO_IP,
                    libc::IP_PKTINFO,
                    info,
                )
            };
        }
        (Some(Dest::V6 { addr, ifindex }), SocketAddr::V6(_)) => {
            let info = libc::in6_pktinfo {
                ipi6_addr: libc::in6_addr {
                    s6_addr: addr.octets(),
                },
                ipi6_ifindex: ifindex,
            };
            // SAFETY: as above.
            unsafe {
                put_cmsg(
                    &mut msg,
                    &mut control,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    info,
                )
            };
        }
        _ => {}
    }

    // SAFETY: every pointer in `msg` refers to a live local or to `buf`, with
    // matching lengths; sendmsg only reads them.
    let n = unsafe { libc::sendmsg(socket.as_fd().as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// CMSG_LEN for a payload of type T.
fn cmsg_len<T>() -> usize {
    // SAFETY: CMSG_LEN is arithmetic only (unsafe in libc for historical reasons).
    unsafe { libc::CMSG_LEN(mem::size_of::<T>() as u32) as usize }
}

/// Makes `control` hold exactly one control message with `payload` and
/// points `msg` at it.
///
/// # Safety
/// `control` must have room for CMSG_SPACE(size_of::<T>()) bytes.
unsafe fn put_cmsg<T>(
    msg: &mut libc::msghdr,
    control: &mut ControlBuf,
    level: c_int,
    kind: c_int,
    payload: T,
) {
    // SAFETY: the caller guarantees the space; CMSG_FIRSTHDR returns the start
    // of `control` (non-null, since msg_controllen ≥ sizeof(cmsghdr)), which is
    // aligned for cmsghdr; the payload write is unaligned-safe.
    unsafe {
        let space = libc::CMSG_SPACE(mem::size_of::<T>() as u32) as usize;
        debug_assert!(space <= mem::size_of::<ControlBuf>());
        msg.msg_control = control.0.as_mut_ptr().cast::<c_void>();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        (*cmsg).cmsg_level = level;
        (*cmsg).cmsg_type = kind;
        (*cmsg).cmsg_len = cmsg_len::<T>() as _;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<T>(), payload);
    }
}

fn from_sockaddr(name: &libc::sockaddr_storage, len: socklen_t) -> io::Result<SocketAddr> {
    let len = len as usize;
    match c_int::from(name.ss_family) {
        libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is large and aligned enough for it.
            let sin = unsafe { &*ptr::from_ref(name).cast::<libc::sockaddr_in>() };
            Ok(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*ptr::from_ref(name).cast::<libc::sockaddr_in6>() };
            Ok(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "datagram from an unexpected address family",
        )),
    }
}

fn to_sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any
            // sockaddr type.
            let sin = unsafe { &mut *ptr::from_mut(&mut storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr = libc::in_addr {
                s_addr: u32::from(*a.ip()).to_be(),
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe { &mut *ptr::from_mut(&mut storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr = libc::in6_addr {
                s6_addr: a.ip().octets(),
            };
            sin6.sin6_scope_id = a.scope_id();
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as socklen_t)
}
