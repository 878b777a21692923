//! Which XDP mode the kernel reports for an interface (rtnetlink
//! `IFLA_XDP_ATTACHED`), so sentinel can state what it actually obtained,
//! including for links it reused from a previous run.

use std::io;

use argus_proto::AttachMode;

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_ATTACHED: u16 = 2;
const NLA_TYPE_MASK: u16 = 0x3FFF;
const NLMSG_HDRLEN: usize = 16;
const IFINFOMSG_LEN: usize = 16;
const XDP_ATTACHED_DRV: u8 = 1;
const XDP_ATTACHED_SKB: u8 = 2;
const XDP_ATTACHED_HW: u8 = 3;
const XDP_ATTACHED_MULTI: u8 = 4;

/// The XDP mode attached to `ifindex` in the caller's network namespace.
pub fn xdp_mode(ifindex: u32) -> io::Result<AttachMode> {
    // SAFETY: plain socket(2); the fd is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor we own.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let raw = std::os::fd::AsRawFd::as_raw_fd(&fd);

    let mut req = [0u8; NLMSG_HDRLEN + IFINFOMSG_LEN];
    let len = req.len() as u32;
    req[0..4].copy_from_slice(&len.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    // ifinfomsg: family AF_UNSPEC, pad, type, index, flags, change.
    req[NLMSG_HDRLEN + 4..NLMSG_HDRLEN + 8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    // SAFETY: req is a valid buffer of the given length.
    if unsafe { libc::send(raw, req.as_ptr().cast(), req.len(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: buf is a valid writable buffer of the given length.
    let n = unsafe { libc::recv(raw, buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    parse_reply(&buf[..n as usize])
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn parse_reply(msg: &[u8]) -> io::Result<AttachMode> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed rtnetlink reply");
    let len = u32::from_ne_bytes(
        msg.get(0..4)
            .ok_or_else(bad)?
            .try_into()
            .map_err(|_| bad())?,
    ) as usize;
    let kind = u16_at(msg, 4).ok_or_else(bad)?;
    if kind == NLMSG_ERROR {
        let errno = i32::from_ne_bytes(
            msg.get(NLMSG_HDRLEN..NLMSG_HDRLEN + 4)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        return Err(io::Error::from_raw_os_error(-errno));
    }
    if kind != RTM_NEWLINK || len > msg.len() {
        return Err(bad());
    }
    let mut pos = NLMSG_HDRLEN + IFINFOMSG_LEN;
    while pos + 4 <= len {
        let alen = usize::from(u16_at(msg, pos).ok_or_else(bad)?);
        let atype = u16_at(msg, pos + 2).ok_or_else(bad)? & NLA_TYPE_MASK;
        if alen < 4 || pos + alen > len {
            return Err(bad());
        }
        if atype == IFLA_XDP {
            let mut inner = pos + 4;
            while inner + 4 <= pos + alen {
                let ilen = usize::from(u16_at(msg, inner).ok_or_else(bad)?);
                let itype = u16_at(msg, inner + 2).ok_or_else(bad)? & NLA_TYPE_MASK;
                if ilen < 4 {
                    return Err(bad());
                }
                if itype == IFLA_XDP_ATTACHED {
                    return Ok(match msg.get(inner + 4).copied().ok_or_else(bad)? {
                        XDP_ATTACHED_DRV | XDP_ATTACHED_HW | XDP_ATTACHED_MULTI => {
                            AttachMode::Native
                        }
                        XDP_ATTACHED_SKB => AttachMode::Generic,
                        _ => AttachMode::None,
                    });
                }
                inner += (ilen + 3) & !3;
            }
        }
        pos += (alen + 3) & !3;
    }
    Ok(AttachMode::None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_no_xdp_and_missing_interfaces_error() {
        // Loopback exists in every namespace and nothing here attaches to it.
        assert_eq!(xdp_mode(1).unwrap(), AttachMode::None);
        assert!(xdp_mode(u32::MAX >> 1).is_err());
    }
}
