//! Anti-lockout: the prefixes that are never banned, and where they come from.
//!
//! The appliance's own addresses, its default gateways and DNS servers are read from the system
//! through [`SystemInfo`] (a trait, so tests inject them). Together with the management hosts, the
//! allowlist in aegis.yaml and the allowlist in SQLite they form the [`Protected`] set, which is
//! checked when a verdict arrives and also written into the kernel ALLOWLIST, which the XDP program
//! checks before the BLOCKLIST.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use argus_config::AntiLockout;
use ipnet::IpNet;

use crate::prefix::{host, overlaps};
use crate::store::AllowRow;

/// Where the system's own addresses, gateways and DNS servers come from.
pub trait SystemInfo: Send {
    /// Every address configured on the appliance's interfaces.
    fn own_addresses(&self) -> io::Result<Vec<IpAddr>>;
    /// The next hops of the default routes.
    fn default_gateways(&self) -> io::Result<Vec<IpAddr>>;
    /// The configured nameservers.
    fn dns_servers(&self) -> io::Result<Vec<IpAddr>>;
}

/// The running system: getifaddrs, `/proc/net/route`, `/proc/net/ipv6_route`, `/etc/resolv.conf`.
#[derive(Debug, Clone)]
pub struct LiveSystem {
    /// IPv4 routing table.
    pub route_v4: PathBuf,
    /// IPv6 routing table.
    pub route_v6: PathBuf,
    /// Resolver configuration.
    pub resolv_conf: PathBuf,
}

impl Default for LiveSystem {
    fn default() -> Self {
        Self {
            route_v4: "/proc/net/route".into(),
            route_v6: "/proc/net/ipv6_route".into(),
            resolv_conf: "/etc/resolv.conf".into(),
        }
    }
}

impl SystemInfo for LiveSystem {
    fn own_addresses(&self) -> io::Result<Vec<IpAddr>> {
        let mut out = Vec::new();
        for ifa in nix::ifaddrs::getifaddrs().map_err(io::Error::from)? {
            let Some(addr) = ifa.address else { continue };
            if let Some(v4) = addr.as_sockaddr_in() {
                out.push(IpAddr::V4(v4.ip()));
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                out.push(IpAddr::V6(v6.ip()));
            }
        }
        Ok(out)
    }

    fn default_gateways(&self) -> io::Result<Vec<IpAddr>> {
        let mut out = parse_route_v4(&read_optional(&self.route_v4)?);
        out.extend(parse_route_v6(&read_optional(&self.route_v6)?));
        Ok(out)
    }

    fn dns_servers(&self) -> io::Result<Vec<IpAddr>> {
        Ok(parse_resolv_conf(&read_optional(&self.resolv_conf)?))
    }
}

/// The file's text, or empty when it does not exist (no IPv6, no resolv.conf).
fn read_optional(path: &std::path::Path) -> io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
}

/// Gateways of the default routes in `/proc/net/route` (fields in host byte order hex).
pub fn parse_route_v4(text: &str) -> Vec<IpAddr> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (dest, gw, mask) = (hex(f.get(1)?)?, hex(f.get(2)?)?, hex(f.get(7)?)?);
            // The kernel prints the raw network-order word as a native integer.
            (dest == 0 && mask == 0 && gw != 0)
                .then(|| IpAddr::V4(Ipv4Addr::from(gw.to_ne_bytes())))
        })
        .collect()
}

/// Next hops of the default routes in `/proc/net/ipv6_route` (addresses as 32 hex digits).
pub fn parse_route_v6(text: &str) -> Vec<IpAddr> {
    let addr = |s: &str| u128::from_str_radix(s, 16).ok().map(Ipv6Addr::from);
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = addr(f.first()?)?;
            let dest_len = u8::from_str_radix(f.get(1)?, 16).ok()?;
            let next_hop = addr(f.get(4)?)?;
            (dest.is_unspecified() && dest_len == 0 && !next_hop.is_unspecified())
                .then_some(IpAddr::V6(next_hop))
        })
        .collect()
}

/// The `nameserver` addresses of a resolv.conf (zone suffixes such as `%eth0` dropped).
pub fn parse_resolv_conf(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == "nameserver").then_some(())?;
            let addr = words.next()?;
            addr.split('%').next()?.parse().ok()
        })
        .collect()
}

/// Fixed answers, for tests and for machines where the system must not be consulted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticSystem {
    /// Own addresses.
    pub own: Vec<IpAddr>,
    /// Default gateways.
    pub gateways: Vec<IpAddr>,
    /// DNS servers.
    pub dns: Vec<IpAddr>,
}

impl SystemInfo for StaticSystem {
    fn own_addresses(&self) -> io::Result<Vec<IpAddr>> {
        Ok(self.own.clone())
    }
    fn default_gateways(&self) -> io::Result<Vec<IpAddr>> {
        Ok(self.gateways.clone())
    }
    fn dns_servers(&self) -> io::Result<Vec<IpAddr>> {
        Ok(self.dns.clone())
    }
}

/// The last successful reading of the system's addresses. A failed reading keeps the previous
/// values: losing protection because a file could not be read would be worse than keeping a stale
/// address protected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemSnapshot(StaticSystem);

impl SystemSnapshot {
    /// Reads what `cfg` asks to protect from `sys`, keeping old values where a reading fails.
    pub fn refresh(&mut self, sys: &dyn SystemInfo, cfg: &AntiLockout) {
        let update = |slot: &mut Vec<IpAddr>,
                      wanted: bool,
                      what: &str,
                      read: io::Result<Vec<IpAddr>>| {
            if !wanted {
                slot.clear();
                return;
            }
            match read {
                Ok(v) => *slot = v,
                Err(e) => {
                    tracing::warn!(what, error = %e, kept = slot.len(), "cannot read the system's addresses; keeping the previous ones")
                }
            }
        };
        update(
            &mut self.0.own,
            cfg.own_addresses,
            "own addresses",
            sys.own_addresses(),
        );
        update(
            &mut self.0.gateways,
            cfg.default_gateway,
            "default gateways",
            sys.default_gateways(),
        );
        update(
            &mut self.0.dns,
            cfg.dns_servers,
            "dns servers",
            sys.dns_servers(),
        );
    }
}

/// Why a prefix is never banned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// On the allowlist in SQLite (`argusctl allow`).
    Allowlisted {
        /// The entry's comment.
        comment: String,
    },
    /// On the allowlist in aegis.yaml.
    Configured,
    /// An address of this appliance.
    OwnAddress,
    /// A default gateway.
    Gateway,
    /// A DNS server.
    DnsServer,
    /// A management host from `anti_lockout.management_hosts`.
    ManagementHost,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allowlisted { comment } if comment.is_empty() => f.write_str("on the allowlist"),
            Self::Allowlisted { comment } => write!(f, "on the allowlist ({comment})"),
            Self::Configured => f.write_str("on the allowlist in aegis.yaml"),
            Self::OwnAddress => f.write_str("an address of this appliance (anti-lockout)"),
            Self::Gateway => f.write_str("a default gateway (anti-lockout)"),
            Self::DnsServer => f.write_str("a DNS server (anti-lockout)"),
            Self::ManagementHost => f.write_str("a management host (anti-lockout)"),
        }
    }
}

/// Every protected prefix with its reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protected(Vec<(IpNet, Protection)>);

impl Protected {
    /// The set formed by the configured allowlist, the anti-lockout addresses and the SQLite
    /// allowlist.
    pub fn build(
        configured: &[IpNet],
        cfg: &AntiLockout,
        system: &SystemSnapshot,
        allowlist: &[AllowRow],
    ) -> Self {
        let hosts = |addrs: &[IpAddr], why: Protection| {
            addrs
                .iter()
                .map(move |a| (host(*a), why.clone()))
                .collect::<Vec<_>>()
        };
        let mut v: Vec<(IpNet, Protection)> = Vec::new();
        v.extend(
            configured
                .iter()
                .map(|n| (n.trunc(), Protection::Configured)),
        );
        v.extend(hosts(&system.0.own, Protection::OwnAddress));
        v.extend(hosts(&system.0.gateways, Protection::Gateway));
        v.extend(hosts(&system.0.dns, Protection::DnsServer));
        v.extend(hosts(&cfg.extra_dns_servers, Protection::DnsServer));
        v.extend(
            cfg.management_hosts
                .iter()
                .map(|n| (n.trunc(), Protection::ManagementHost)),
        );
        v.extend(allowlist.iter().map(|a| {
            (
                a.prefix,
                Protection::Allowlisted {
                    comment: a.comment.clone(),
                },
            )
        }));
        Self(v)
    }

    /// The first protected prefix that shares an address with `net`, and why it is protected.
    pub fn overlapping(&self, net: IpNet) -> Option<&(IpNet, Protection)> {
        self.0.iter().find(|(p, _)| overlaps(*p, net))
    }

    /// Every entry.
    pub fn entries(&self) -> &[(IpNet, Protection)] {
        &self.0
    }

    /// The distinct prefixes, as written to the kernel ALLOWLIST.
    pub fn prefixes(&self) -> BTreeSet<IpNet> {
        self.0.iter().map(|(p, _)| *p).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_v4_default_gateway_in_host_order_hex() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t01CBA8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
            eth0\t00CBA8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
        let gw = u32::from_str_radix("01CBA8C0", 16).unwrap().to_ne_bytes();
        assert_eq!(parse_route_v4(text), vec![IpAddr::V4(Ipv4Addr::from(gw))]);
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_route_v4(text),
                vec!["192.168.203.1".parse::<IpAddr>().unwrap()]
            );
        }
    }

    #[test]
    fn route_v6_default_next_hop() {
        let text = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n\
                    fd000203000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n\
                    00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        assert_eq!(
            parse_route_v6(text),
            vec!["fe80::1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch example\nnameserver 10.203.0.53\nnameserver fe80::53%eth0\n nameserver   fd00:203::53\noptions edns0\n";
        assert_eq!(
            parse_resolv_conf(text),
            ["10.203.0.53", "fe80::53", "fd00:203::53"]
                .map(|s| s.parse::<IpAddr>().unwrap())
                .to_vec()
        );
    }

    fn sys() -> StaticSystem {
        StaticSystem {
            own: vec!["10.203.0.1".parse().unwrap()],
            gateways: vec!["10.203.0.254".parse().unwrap()],
            dns: vec!["fd00:203::53".parse().unwrap()],
        }
    }

    #[test]
    fn protected_set_names_each_source() {
        let cfg = AntiLockout {
            extra_dns_servers: vec!["10.203.9.9".parse().unwrap()],
            management_hosts: vec!["10.203.50.0/24".parse().unwrap()],
            ..AntiLockout::default()
        };
        let mut snap = SystemSnapshot::default();
        snap.refresh(&sys(), &cfg);
        let allow = [AllowRow {
            prefix: "10.203.77.0/24".parse().unwrap(),
            comment: "friend".into(),
            expires_at: None,
            created_at: argus_proto::UnixTimeNs(0),
            created_by: "test".into(),
        }];
        let p = Protected::build(&["10.203.60.0/24".parse().unwrap()], &cfg, &snap, &allow);
        let why = |s: &str| p.overlapping(s.parse().unwrap()).map(|(_, w)| w.clone());
        assert_eq!(why("10.203.0.1/32"), Some(Protection::OwnAddress));
        assert_eq!(why("10.203.0.254/32"), Some(Protection::Gateway));
        assert_eq!(why("fd00:203::53/128"), Some(Protection::DnsServer));
        assert_eq!(why("10.203.9.9/32"), Some(Protection::DnsServer));
        assert_eq!(why("10.203.50.7/32"), Some(Protection::ManagementHost));
        assert_eq!(why("10.203.60.7/32"), Some(Protection::Configured));
        assert_eq!(
            why("10.203.77.7/32"),
            Some(Protection::Allowlisted {
                comment: "friend".into()
            })
        );
        // A wide ban containing the gateway is refused too.
        assert!(why("10.203.0.0/16").is_some());
        assert_eq!(why("10.203.1.1/32"), None);
        assert_eq!(p.prefixes().len(), 7);
    }

    #[test]
    fn disabled_sources_are_not_protected_and_failed_reads_keep_old_values() {
        struct Failing;
        impl SystemInfo for Failing {
            fn own_addresses(&self) -> io::Result<Vec<IpAddr>> {
                Err(io::Error::other("boom"))
            }
            fn default_gateways(&self) -> io::Result<Vec<IpAddr>> {
                Err(io::Error::other("boom"))
            }
            fn dns_servers(&self) -> io::Result<Vec<IpAddr>> {
                Err(io::Error::other("boom"))
            }
        }
        let cfg = AntiLockout::default();
        let mut snap = SystemSnapshot::default();
        snap.refresh(&sys(), &cfg);
        let before = snap.clone();
        snap.refresh(&Failing, &cfg);
        assert_eq!(snap, before, "a failed reading keeps the protection");
        let off = AntiLockout {
            own_addresses: false,
            ..AntiLockout::default()
        };
        snap.refresh(&sys(), &off);
        let p = Protected::build(&[], &off, &snap, &[]);
        assert!(p.overlapping("10.203.0.1/32".parse().unwrap()).is_none());
        assert!(p.overlapping("10.203.0.254/32".parse().unwrap()).is_some());
    }

    #[test]
    fn live_system_reads_this_machine() {
        let own = LiveSystem::default().own_addresses().unwrap();
        assert!(
            own.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)),
            "getifaddrs lists loopback: {own:?}"
        );
    }
}
