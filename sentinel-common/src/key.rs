//! Encoding of addresses, prefixes and flows into the kernel's key formats.
//!
//! Every address is handled as 16 bytes in network byte order; IPv4
//! `a.b.c.d` becomes the IPv4-mapped IPv6 address `::ffff:a.b.c.d`, so an
//! IPv4 `/n` is an LPM prefix of `96 + n` bits. (The old prototype wrote keys
//! in host byte order, which the kernel never matched: the tests below pin
//! the exact bytes.)

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::abi::{FlowKey, RawLpmKey, LPM_MAX_PREFIXLEN, LPM_V4_MAPPED_PREFIXLEN};

/// Errors decoding kernel keys back into typed values.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// The prefix length is longer than 128 bits.
    #[error("LPM key prefix length {0} exceeds 128")]
    PrefixTooLong(u32),
}

/// The 16-byte form of an address: IPv6 as is, IPv4 as `::ffff:a.b.c.d`.
pub fn addr_bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The typed form of 16 key bytes: IPv4-mapped addresses come back as IPv4.
pub fn addr_from_bytes(bytes: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(bytes);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// A key of ALLOWLIST/BLOCKLIST built from typed addresses.
///
/// Host bits beyond the prefix are cleared, so `10.0.0.7/24` and
/// `10.0.0.0/24` are the same key (the kernel would otherwise keep the
/// stray bits and list them back).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LpmKey(RawLpmKey);

impl LpmKey {
    /// The key of a prefix (IPv4 `/n` becomes `/96+n` of `::ffff:0:0/96`).
    pub fn from_net(net: IpNet) -> Self {
        let (addr, prefixlen) = match net.trunc() {
            IpNet::V4(n) => (
                IpAddr::V4(n.network()),
                LPM_V4_MAPPED_PREFIXLEN + u32::from(n.prefix_len()),
            ),
            IpNet::V6(n) => (IpAddr::V6(n.network()), u32::from(n.prefix_len())),
        };
        Self(RawLpmKey {
            prefixlen,
            addr: addr_bytes(addr),
        })
    }

    /// The key of a single address (`/32` or `/128`), as the data plane
    /// looks packets up.
    pub fn host(addr: IpAddr) -> Self {
        Self(RawLpmKey {
            prefixlen: LPM_MAX_PREFIXLEN,
            addr: addr_bytes(addr),
        })
    }

    /// The key of a single address given as the 16 key bytes (BLOCKHOSTS
    /// stores only the address).
    pub fn host_bytes(addr: [u8; 16]) -> Self {
        Self(RawLpmKey {
            prefixlen: LPM_MAX_PREFIXLEN,
            addr,
        })
    }

    /// Wraps a key read from the kernel, clearing bits past the prefix.
    pub fn from_raw(raw: RawLpmKey) -> Result<Self, KeyError> {
        if raw.prefixlen > LPM_MAX_PREFIXLEN {
            return Err(KeyError::PrefixTooLong(raw.prefixlen));
        }
        let mask = prefix_mask(raw.prefixlen);
        let addr = (u128::from_be_bytes(raw.addr) & mask).to_be_bytes();
        Ok(Self(RawLpmKey {
            prefixlen: raw.prefixlen,
            addr,
        }))
    }

    /// The prefix this key stands for. Keys inside `::ffff:0:0/96` come back
    /// as IPv4 networks; shorter IPv6 prefixes (e.g. `::/0`, which also
    /// covers every IPv4 address) stay IPv6.
    pub fn to_net(&self) -> IpNet {
        let v6 = Ipv6Addr::from(self.0.addr);
        let plen = self.0.prefixlen;
        if plen >= LPM_V4_MAPPED_PREFIXLEN {
            if let Some(v4) = v6.to_ipv4_mapped() {
                let len = (plen - LPM_V4_MAPPED_PREFIXLEN) as u8;
                return IpNet::V4(Ipv4Net::new(v4, len).expect("prefix <= 32"));
            }
        }
        IpNet::V6(Ipv6Net::new(v6, plen as u8).expect("prefix <= 128"))
    }

    /// Whether this prefix covers `addr` (in the 16-byte mapped space the
    /// kernel uses).
    pub fn contains(&self, addr: IpAddr) -> bool {
        let mask = prefix_mask(self.0.prefixlen);
        u128::from_be_bytes(addr_bytes(addr)) & mask == u128::from_be_bytes(self.0.addr) & mask
    }

    /// Prefix length in bits of the 128-bit key.
    pub fn prefixlen(&self) -> u32 {
        self.0.prefixlen
    }

    /// The address bytes (network byte order).
    pub fn addr(&self) -> [u8; 16] {
        self.0.addr
    }

    /// The `#[repr(C)]` form stored in the map.
    pub fn raw(&self) -> RawLpmKey {
        self.0
    }

    /// The key as aya's [`aya::maps::lpm_trie::Key`] (same 20-byte layout).
    pub fn to_aya(&self) -> aya::maps::lpm_trie::Key<[u8; 16]> {
        aya::maps::lpm_trie::Key::new(self.0.prefixlen, self.0.addr)
    }
}

impl From<IpNet> for LpmKey {
    fn from(net: IpNet) -> Self {
        Self::from_net(net)
    }
}

impl From<IpAddr> for LpmKey {
    fn from(addr: IpAddr) -> Self {
        Self::host(addr)
    }
}

fn prefix_mask(prefixlen: u32) -> u128 {
    match prefixlen {
        0 => 0,
        n if n >= 128 => u128::MAX,
        n => u128::MAX << (128 - n),
    }
}

/// One endpoint of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address (IPv4-mapped keys decode to IPv4).
    pub addr: IpAddr,
    /// Port in host byte order (ICMP echo identifier, or 0).
    pub port: u16,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(addr: IpAddr, port: u16) -> Self {
        Self { addr, port }
    }

    /// The kernel's canonical order: address bytes, then port number.
    fn sort_key(&self) -> ([u8; 16], u16) {
        (addr_bytes(self.addr), self.port)
    }
}

/// Builds the canonical FLOWS key of a packet from `src` to `dst`, exactly as
/// the XDP program does, and tells whether `src` is the key's lo side.
///
/// Both directions of a conversation give the same key; ties (same address
/// and port on both sides) make `src` the lo side.
pub fn canonical_flow_key(src: Endpoint, dst: Endpoint, proto: u8) -> (FlowKey, bool) {
    let src_is_lo = src.sort_key().cmp(&dst.sort_key()) != Ordering::Greater;
    let (lo, hi) = if src_is_lo { (src, dst) } else { (dst, src) };
    let key = FlowKey {
        lo_addr: addr_bytes(lo.addr),
        hi_addr: addr_bytes(hi.addr),
        lo_port: lo.port.to_be(),
        hi_port: hi.port.to_be(),
        proto,
        pad: [0; 3],
    };
    (key, src_is_lo)
}

impl FlowKey {
    /// The lo endpoint (port in host byte order).
    pub fn lo(&self) -> Endpoint {
        Endpoint::new(addr_from_bytes(self.lo_addr), u16::from_be(self.lo_port))
    }

    /// The hi endpoint (port in host byte order).
    pub fn hi(&self) -> Endpoint {
        Endpoint::new(addr_from_bytes(self.hi_addr), u16::from_be(self.hi_port))
    }

    /// `(initiator, responder)` given the value's `initiator_is_lo`.
    pub fn oriented(&self, initiator_is_lo: bool) -> (Endpoint, Endpoint) {
        if initiator_is_lo {
            (self.lo(), self.hi())
        } else {
            (self.hi(), self.lo())
        }
    }
}

/// Test shorthand: the IPv4 address as an [`IpAddr`].
#[cfg(test)]
pub(crate) fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn v4_host_key_bytes_are_mapped_network_order() {
        let k = LpmKey::host(v4(10, 203, 1, 2));
        assert_eq!(k.prefixlen(), 128);
        assert_eq!(
            k.addr(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 203, 1, 2]
        );
    }

    #[test]
    fn v4_prefix_is_96_plus_n_and_truncated() {
        let k = LpmKey::from_net(net("10.203.7.9/24"));
        assert_eq!(k.prefixlen(), 96 + 24);
        assert_eq!(
            k.addr(),
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 203, 7, 0]
        );
        assert_eq!(k.to_net(), net("10.203.7.0/24"));
    }

    #[test]
    fn v6_prefix_bytes() {
        let k = LpmKey::from_net(net("fd00:203:1:2::ff/64"));
        assert_eq!(k.prefixlen(), 64);
        assert_eq!(
            k.addr(),
            [0xfd, 0x00, 0x02, 0x03, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(k.to_net(), net("fd00:203:1:2::/64"));
    }

    #[test]
    fn raw_key_memory_layout() {
        let raw = LpmKey::from_net(net("10.203.0.0/16")).raw();
        // SAFETY: RawLpmKey is repr(C) plain data of 20 bytes.
        let bytes: [u8; 20] = unsafe { core::mem::transmute(raw) };
        let mut want = [0u8; 20];
        want[..4].copy_from_slice(&112u32.to_ne_bytes());
        want[14] = 0xff;
        want[15] = 0xff;
        want[16] = 10;
        want[17] = 203;
        assert_eq!(bytes, want);
    }

    #[test]
    fn round_trip_and_mapped_v6_input() {
        for s in [
            "0.0.0.0/0",
            "10.203.0.1/32",
            "fd00:203::/32",
            "::/0",
            "::1/128",
        ] {
            assert_eq!(LpmKey::from_net(net(s)).to_net(), net(s), "{s}");
        }
        // A v4-mapped IPv6 input is the same key as the IPv4 address.
        let mapped: IpAddr = "::ffff:10.203.0.1".parse().unwrap();
        assert_eq!(LpmKey::host(mapped), LpmKey::host(v4(10, 203, 0, 1)));
        assert_eq!(
            LpmKey::from_raw(LpmKey::host(mapped).raw())
                .unwrap()
                .to_net(),
            net("10.203.0.1/32")
        );
    }

    #[test]
    fn from_raw_rejects_and_masks() {
        let bad = RawLpmKey {
            prefixlen: 129,
            addr: [0; 16],
        };
        assert_eq!(LpmKey::from_raw(bad), Err(KeyError::PrefixTooLong(129)));
        let stray = RawLpmKey {
            prefixlen: 8,
            addr: [0xfd, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        assert_eq!(LpmKey::from_raw(stray).unwrap().addr()[..2], [0xfd, 0]);
    }

    #[test]
    fn contains_uses_mapped_space() {
        assert!(LpmKey::from_net(net("10.203.1.0/24")).contains(v4(10, 203, 1, 200)));
        assert!(!LpmKey::from_net(net("10.203.1.0/24")).contains(v4(10, 203, 2, 1)));
        assert!(LpmKey::from_net(net("::/0")).contains(v4(10, 203, 2, 1)));
        assert!(!LpmKey::from_net(net("0.0.0.0/0")).contains("fd00:203::1".parse().unwrap()));
    }

    #[test]
    fn flow_key_is_direction_free() {
        let a = Endpoint::new(v4(10, 203, 0, 2), 40000);
        let b = Endpoint::new(v4(10, 203, 0, 1), 80);
        let (k1, a_lo) = canonical_flow_key(a, b, 6);
        let (k2, b_lo) = canonical_flow_key(b, a, 6);
        assert_eq!(k1, k2);
        assert!(!a_lo && b_lo);
        assert_eq!(k1.lo(), b);
        assert_eq!(k1.hi(), a);
        assert_eq!(k1.lo_port, 80u16.to_be());
        assert_eq!(k1.oriented(false), (a, b));
    }

    #[test]
    fn flow_key_ties_break_on_port_then_src() {
        let x = v4(10, 203, 0, 1);
        let (k, src_lo) = canonical_flow_key(Endpoint::new(x, 9), Endpoint::new(x, 7), 17);
        assert!(!src_lo);
        assert_eq!(k.lo().port, 7);
        let (_, same) = canonical_flow_key(Endpoint::new(x, 7), Endpoint::new(x, 7), 17);
        assert!(same);
    }
}
