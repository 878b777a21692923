//! Prefix arithmetic in the kernel's address space.
//!
//! The data plane keys every list by 128-bit addresses with IPv4 as IPv4-mapped IPv6
//! (`::ffff:a.b.c.d`), so overlap is decided in that space: `::/0` covers every IPv4 address too.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// The one spelling of a prefix: host bits cleared, IPv4-mapped IPv6 prefixes as IPv4.
pub fn canonical(net: IpNet) -> IpNet {
    match net.trunc() {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
            Some(v4) => IpNet::V4(Ipv4Net::new(v4, n.prefix_len() - 96).expect("len <= 32")),
            None => IpNet::V6(n),
        },
        other => other,
    }
}

/// The host prefix (`/32` or `/128`) of an address, IPv4-mapped addresses as IPv4.
pub fn host(addr: IpAddr) -> IpNet {
    IpNet::from(addr.to_canonical())
}

/// `net` in the kernel's 128-bit space.
fn mapped(net: IpNet) -> Ipv6Net {
    match net.trunc() {
        IpNet::V4(n) => {
            Ipv6Net::new(n.network().to_ipv6_mapped(), 96 + n.prefix_len()).expect("len <= 128")
        }
        IpNet::V6(n) => n,
    }
}

/// Whether two prefixes share any address (one contains the other).
pub fn overlaps(a: IpNet, b: IpNet) -> bool {
    let (a, b) = (mapped(a), mapped(b));
    a.contains(&b) || b.contains(&a)
}

/// Whether `outer` contains every address of `inner`.
pub fn covers(outer: IpNet, inner: IpNet) -> bool {
    mapped(outer).contains(&mapped(inner))
}

/// Every prefix that equals or contains `prefix` in its own family, longest first.
pub fn supernets(prefix: IpNet) -> impl Iterator<Item = IpNet> {
    let p = canonical(prefix);
    (0..=p.prefix_len())
        .rev()
        .map(move |len| IpNet::new(p.addr(), len).expect("len <= max").trunc())
}

/// `net` shortened to at most `len` bits (never lengthened).
pub fn widen(net: IpNet, len: u8) -> IpNet {
    if net.prefix_len() <= len {
        return net.trunc();
    }
    IpNet::new(net.addr(), len)
        .expect("len < current length")
        .trunc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn canonical_clears_host_bits_and_unmaps_v4() {
        assert_eq!(canonical(n("10.203.1.7/24")), n("10.203.1.0/24"));
        assert_eq!(canonical(n("::ffff:10.203.1.7/120")), n("10.203.1.0/24"));
        assert_eq!(canonical(n("fd00:203::1/64")), n("fd00:203::/64"));
        assert_eq!(
            host("::ffff:10.203.0.1".parse().unwrap()),
            n("10.203.0.1/32")
        );
    }

    #[test]
    fn overlap_is_decided_in_mapped_space() {
        assert!(overlaps(n("10.203.0.0/16"), n("10.203.4.5/32")));
        assert!(overlaps(n("10.203.4.5/32"), n("10.203.0.0/16")));
        assert!(!overlaps(n("10.203.0.0/24"), n("10.203.1.0/24")));
        assert!(overlaps(n("::/0"), n("10.203.1.1/32")));
        assert!(!overlaps(n("fd00:203::/32"), n("10.203.1.1/32")));
        assert!(covers(n("10.203.0.0/16"), n("10.203.4.5/32")));
        assert!(!covers(n("10.203.4.5/32"), n("10.203.0.0/16")));
        assert!(covers(n("::/0"), n("10.203.0.0/16")));
    }

    #[test]
    fn supernets_run_from_the_prefix_to_the_root() {
        let s: Vec<IpNet> = supernets(n("10.203.1.2/32")).collect();
        assert_eq!(s.len(), 33);
        assert_eq!(s[0], n("10.203.1.2/32"));
        assert_eq!(s[8], n("10.203.1.0/24"));
        assert_eq!(s[32], n("0.0.0.0/0"));
    }

    #[test]
    fn widen_only_shortens() {
        assert_eq!(widen(n("fd00:203:1:2::9/128"), 64), n("fd00:203:1:2::/64"));
        assert_eq!(widen(n("fd00:203::/48"), 64), n("fd00:203::/48"));
    }
}
