//! Userspace twin of the XDP parser (`sentinel-ebpf/include/parse.h`).
//!
//! Used where packets are seen outside the kernel (sentinel's `--pcap`
//! mode) so they are keyed and measured exactly as the data plane would:
//! the same VLAN and IPv6 extension-header bounds, the same fragment rule,
//! ICMP echo identifiers as ports, IP lengths bounded by the frame. It is
//! hand-written rather than built on a general parser because it must stop
//! where the kernel stops, not where a library would.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

use crate::abi::{MAX_IPV6_EXT_HDRS, MAX_VLAN_TAGS};

const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const HOPOPTS: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AH: u8 = 51;
const DSTOPTS: u8 = 60;

/// What the data plane would learn about a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Not IPv4/IPv6 (passed untouched by the data plane).
    NonIp,
    /// IPv4/IPv6 whose L3 header is unusable (counted as parse_failed).
    NoL3,
    /// Addresses were read.
    L3(PacketInfo),
}

/// A packet whose L3 addresses were read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    /// Source address (IPv4-mapped IPv6 addresses are returned as IPv4;
    /// they key identically).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP packet length (header + payload) bounded by the frame.
    pub ip_len: u32,
    /// L4 protocol after IPv6 extension headers.
    pub proto: u8,
    /// Source port (ICMP echo identifier, or 0), host byte order.
    pub sport: u16,
    /// Destination port, host byte order.
    pub dport: u16,
    /// TCP flags byte (0 for other protocols).
    pub tcp_flags: u8,
    /// ICMP/ICMPv6 type (0 for other protocols).
    pub icmp_type: u8,
    /// ICMP/ICMPv6 code (0 for other protocols).
    pub icmp_code: u8,
    /// The packet can be keyed as a flow.
    pub has_l4: bool,
    /// A non-first IP fragment.
    pub fragment: bool,
    /// Headers ended early or were malformed.
    pub failed: bool,
    /// Byte range of the L4 payload within the frame (empty unless has_l4).
    pub payload: Range<usize>,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Parses an Ethernet frame the way `argus_parse()` does.
pub fn parse(frame: &[u8]) -> Parsed {
    let Some(mut proto) = be16(frame, 12) else {
        return Parsed::NoL3;
    };
    let mut pos = 14;
    for _ in 0..MAX_VLAN_TAGS {
        if proto != ETH_P_8021Q && proto != ETH_P_8021AD {
            break;
        }
        let Some(inner) = be16(frame, pos + 2) else {
            return Parsed::NoL3;
        };
        proto = inner;
        pos += 4;
    }
    match proto {
        ETH_P_IP => parse_ipv4(frame, pos),
        ETH_P_IPV6 => parse_ipv6(frame, pos),
        ETH_P_8021Q | ETH_P_8021AD => Parsed::NoL3,
        _ => Parsed::NonIp,
    }
}

fn base(src: IpAddr, dst: IpAddr, proto: u8) -> PacketInfo {
    PacketInfo {
        src,
        dst,
        ip_len: 0,
        proto,
        sport: 0,
        dport: 0,
        tcp_flags: 0,
        icmp_type: 0,
        icmp_code: 0,
        has_l4: false,
        fragment: false,
        failed: false,
        payload: 0..0,
    }
}

fn parse_ipv4(frame: &[u8], l3: usize) -> Parsed {
    let Some(h) = frame.get(l3..l3 + 20) else {
        return Parsed::NoL3;
    };
    if h[0] >> 4 != 4 || h[0] & 0x0F < 5 {
        return Parsed::NoL3;
    }
    let src = Ipv4Addr::new(h[12], h[13], h[14], h[15]);
    let dst = Ipv4Addr::new(h[16], h[17], h[18], h[19]);
    let mut p = base(IpAddr::V4(src), IpAddr::V4(dst), h[9]);
    let ihl = usize::from(h[0] & 0x0F) * 4;
    let tot_len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    if l3 + ihl > frame.len() || tot_len < ihl {
        p.failed = true;
        return Parsed::L3(p);
    }
    if u16::from_be_bytes([h[6], h[7]]) & 0x1FFF != 0 {
        p.fragment = true;
        return Parsed::L3(p);
    }
    let ip_end = (l3 + tot_len).min(frame.len());
    p.ip_len = (ip_end - l3) as u32;
    parse_l4(&mut p, frame, l3 + ihl, ip_end, false);
    Parsed::L3(p)
}

fn parse_ipv6(frame: &[u8], l3: usize) -> Parsed {
    let Some(h) = frame.get(l3..l3 + 40) else {
        return Parsed::NoL3;
    };
    if h[0] >> 4 != 6 {
        return Parsed::NoL3;
    }
    let src: [u8; 16] = h[8..24].try_into().expect("16 bytes");
    let dst: [u8; 16] = h[24..40].try_into().expect("16 bytes");
    let mut p = base(
        crate::key::addr_from_bytes(src),
        crate::key::addr_from_bytes(dst),
        0,
    );
    let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let ip_end = if plen == 0 {
        frame.len()
    } else {
        (l3 + 40 + plen).min(frame.len())
    };
    p.ip_len = (ip_end - l3) as u32;
    let mut next = h[6];
    let mut pos = l3 + 40;
    let mut walked = 0;
    loop {
        match next {
            HOPOPTS | ROUTING | DSTOPTS | AH if walked < MAX_IPV6_EXT_HDRS => {
                let Some(oh) = frame.get(pos..pos + 2) else {
                    p.failed = true;
                    return Parsed::L3(p);
                };
                pos += if next == AH {
                    (usize::from(oh[1]) + 2) << 2
                } else {
                    (usize::from(oh[1]) + 1) << 3
                };
                next = oh[0];
            }
            FRAGMENT if walked < MAX_IPV6_EXT_HDRS => {
                let Some(fh) = frame.get(pos..pos + 8) else {
                    p.failed = true;
                    return Parsed::L3(p);
                };
                if u16::from_be_bytes([fh[2], fh[3]]) & 0xFFF8 != 0 {
                    p.fragment = true;
                    p.proto = fh[0];
                    return Parsed::L3(p);
                }
                next = fh[0];
                pos += 8;
            }
            HOPOPTS | ROUTING | DSTOPTS | AH | FRAGMENT => {
                // Still an extension header after the bound.
                p.failed = true;
                return Parsed::L3(p);
            }
            _ => break,
        }
        walked += 1;
    }
    p.proto = next;
    parse_l4(&mut p, frame, pos, ip_end, true);
    Parsed::L3(p)
}

fn parse_l4(p: &mut PacketInfo, frame: &[u8], l4: usize, ip_end: usize, v6: bool) {
    let hdr_len = match p.proto {
        IPPROTO_TCP => {
            let Some(th) = frame.get(l4..l4 + 20) else {
                p.failed = true;
                return;
            };
            let len = usize::from(th[12] >> 4) * 4;
            if len < 20 {
                p.failed = true;
                return;
            }
            p.sport = u16::from_be_bytes([th[0], th[1]]);
            p.dport = u16::from_be_bytes([th[2], th[3]]);
            p.tcp_flags = th[13];
            len
        }
        IPPROTO_UDP => {
            let Some(uh) = frame.get(l4..l4 + 8) else {
                p.failed = true;
                return;
            };
            p.sport = u16::from_be_bytes([uh[0], uh[1]]);
            p.dport = u16::from_be_bytes([uh[2], uh[3]]);
            8
        }
        IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            let Some(ih) = frame.get(l4..l4 + 8) else {
                p.failed = true;
                return;
            };
            p.icmp_type = ih[0];
            p.icmp_code = ih[1];
            let (req, rep) = if v6 { (128, 129) } else { (8, 0) };
            if ih[0] == req || ih[0] == rep {
                let id = u16::from_be_bytes([ih[4], ih[5]]);
                p.sport = id;
                p.dport = id;
            }
            8
        }
        _ => 0,
    };
    if l4 + hdr_len > ip_end {
        p.failed = true;
        return;
    }
    p.payload = l4 + hdr_len..ip_end;
    p.has_l4 = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp4(payload: &[u8], pad_to: usize) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let tot = 20 + 8 + payload.len();
        f.extend([
            0x45,
            0,
            (tot >> 8) as u8,
            tot as u8,
            0,
            0,
            0,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend([10, 203, 0, 2, 10, 203, 0, 1]);
        f.extend([0x13, 0x88, 0, 53, 0, (8 + payload.len()) as u8, 0, 0]);
        f.extend(payload);
        f.resize(f.len().max(pad_to), 0);
        f
    }

    #[test]
    fn udp_with_padding() {
        let f = udp4(b"hi", 60);
        let Parsed::L3(p) = parse(&f) else { panic!() };
        assert_eq!((p.sport, p.dport, p.proto, p.ip_len), (5000, 53, 17, 30));
        assert_eq!(&f[p.payload.clone()], b"hi", "padding is not payload");
        assert!(p.has_l4 && !p.failed);
    }

    #[test]
    fn truncations() {
        let f = udp4(b"hi", 0);
        assert_eq!(parse(&f[..13]), Parsed::NoL3);
        assert_eq!(parse(&f[..33]), Parsed::NoL3);
        let Parsed::L3(p) = parse(&f[..34]) else {
            panic!()
        };
        assert!(p.failed && !p.has_l4);
        let mut arp = f.clone();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(parse(&arp), Parsed::NonIp);
    }
}
