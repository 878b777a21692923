//! The gateway topology of sentinel's tests, built from argus-tests' namespaces and veths (which
//! remove themselves on drop, also when a test panics). Only 10.203.0.0/16 and fd00:203::/32 are used.

use argus_tests::netns::{addr, veth, Netns};
use argus_tests::unique_tag;

/// client 10.203.21.2 — (wan0) gateway (lan0) — server 10.203.22.2, with
/// fd00:203:21::/64 and fd00:203:22::/64; the gateway forwards.
pub struct Gateway {
    /// The client side (the "internet").
    pub client: Netns,
    /// The gateway running sentinel on wan0 and lan0.
    pub gateway: Netns,
    /// The LAN server.
    pub server: Netns,
}

/// Client's IPv4 address.
pub const CLIENT_V4: &str = "10.203.21.2";
/// Client's IPv6 address.
pub const CLIENT_V6: &str = "fd00:203:21::2";
/// Server's IPv4 address.
pub const SERVER_V4: &str = "10.203.22.2";
/// Server's IPv6 address.
pub const SERVER_V6: &str = "fd00:203:22::2";

impl Gateway {
    /// Builds the topology (root).
    pub fn new() -> Self {
        Self::build().expect("building the gateway topology")
    }

    fn build() -> anyhow::Result<Self> {
        let tag = unique_tag();
        let g = Self {
            client: Netns::new(&format!("argus-{tag}-c"))?,
            gateway: Netns::new(&format!("argus-{tag}-g"))?,
            server: Netns::new(&format!("argus-{tag}-s"))?,
        };
        veth(&g.client, "eth0", &g.gateway, "wan0")?;
        veth(&g.gateway, "lan0", &g.server, "eth0")?;
        for (ns, ifname, v4, v6) in [
            (&g.client, "eth0", "10.203.21.2/24", "fd00:203:21::2/64"),
            (&g.gateway, "wan0", "10.203.21.1/24", "fd00:203:21::1/64"),
            (&g.gateway, "lan0", "10.203.22.1/24", "fd00:203:22::1/64"),
            (&g.server, "eth0", "10.203.22.2/24", "fd00:203:22::2/64"),
        ] {
            addr(ns, ifname, v4)?;
            addr(ns, ifname, v6)?;
        }
        for (ns, v4, v6) in [
            (&g.client, "10.203.21.1", "fd00:203:21::1"),
            (&g.server, "10.203.22.1", "fd00:203:22::1"),
        ] {
            ns.ip(&["route", "add", "default", "via", v4])?;
            ns.ip(&["-6", "route", "add", "default", "via", v6])?;
        }
        g.gateway.sysctl("net.ipv4.ip_forward", "1")?;
        g.gateway.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        Ok(g)
    }
}
