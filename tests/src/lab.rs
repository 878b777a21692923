//! The gateway lab: an *internet* side with an attacker and a benign client, a gateway, and a LAN server.
//!
//! ```text
//!  attacker 10.203.1.10 ─┐
//!  fd00:203:1::10        │ br0 (inet)     gateway                 server
//!                        ├──────────── wan0 10.203.1.1  lan0 10.203.2.1 ─── 10.203.2.10
//!  client   10.203.1.20 ─┘             fd00:203:1::1   fd00:203:2::1      fd00:203:2::10
//!  fd00:203:1::20
//! ```
//!
//! The gateway forwards between wan0 and lan0; Argus attaches to both (wan0 role `wan`, lan0 role `lan`),
//! so it sees both directions of every flow.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::netns::{addr, veth, Netns};
use crate::unique_tag;
use argus_sentinel_common::bpffs::TempBpffs;

/// The attacker's IPv4 address.
pub const ATTACKER_V4: &str = "10.203.1.10";
/// The attacker's IPv6 address.
pub const ATTACKER_V6: &str = "fd00:203:1::10";
/// The benign client's IPv4 address.
pub const CLIENT_V4: &str = "10.203.1.20";
/// The benign client's IPv6 address.
pub const CLIENT_V6: &str = "fd00:203:1::20";
/// The gateway's WAN address (IPv4).
pub const GATEWAY_WAN_V4: &str = "10.203.1.1";
/// The gateway's WAN address (IPv6).
pub const GATEWAY_WAN_V6: &str = "fd00:203:1::1";
/// The gateway's LAN address (IPv4).
pub const GATEWAY_LAN_V4: &str = "10.203.2.1";
/// The gateway's LAN address (IPv6).
pub const GATEWAY_LAN_V6: &str = "fd00:203:2::1";
/// The LAN server's IPv4 address.
pub const SERVER_V4: &str = "10.203.2.10";
/// The LAN server's IPv6 address.
pub const SERVER_V6: &str = "fd00:203:2::10";

/// The lab's namespaces, its bpffs and a work directory for sockets, databases, configs and logs.
///
/// Field order is drop order: hosts go before the bridge namespace, the bpffs last.
#[derive(Debug)]
pub struct Lab {
    /// The attacker.
    pub attacker: Netns,
    /// The benign client.
    pub client: Netns,
    /// The gateway running Argus.
    pub gateway: Netns,
    /// The LAN server.
    pub server: Netns,
    /// The internet side's bridge.
    pub inet: Netns,
    /// Pins shared by sentinel, the enforcer and the test.
    pub bpffs: TempBpffs,
    /// Sockets, database, config, logs.
    pub dir: tempfile::TempDir,
}

impl Lab {
    /// Builds the topology. Needs root.
    pub fn new() -> Result<Self> {
        let tag = unique_tag();
        let ns = |role: &str| Netns::new(&format!("argus-{tag}-{role}"));
        let lab = Self {
            attacker: ns("att")?,
            client: ns("cli")?,
            gateway: ns("gw")?,
            server: ns("srv")?,
            inet: ns("inet")?,
            bpffs: TempBpffs::new()?,
            dir: tempfile::Builder::new().prefix("argus-lab-").tempdir()?,
        };
        lab.wire()?;
        Ok(lab)
    }

    fn wire(&self) -> Result<()> {
        let inet = &self.inet;
        inet.ip(&["link", "add", "br0", "type", "bridge"])?;
        inet.ip(&["link", "set", "br0", "up"])?;
        for (host, port, v4, v6) in [
            (&self.attacker, "att", ATTACKER_V4, ATTACKER_V6),
            (&self.client, "cli", CLIENT_V4, CLIENT_V6),
        ] {
            veth(host, "eth0", inet, port)?;
            inet.ip(&["link", "set", port, "master", "br0"])?;
            addr(host, "eth0", &format!("{v4}/24"))?;
            addr(host, "eth0", &format!("{v6}/64"))?;
            host.ip(&["route", "add", "default", "via", GATEWAY_WAN_V4])?;
            host.ip(&["-6", "route", "add", "default", "via", GATEWAY_WAN_V6])?;
        }
        let gw = &self.gateway;
        veth(gw, "wan0", inet, "gw")?;
        inet.ip(&["link", "set", "gw", "master", "br0"])?;
        addr(gw, "wan0", &format!("{GATEWAY_WAN_V4}/24"))?;
        addr(gw, "wan0", &format!("{GATEWAY_WAN_V6}/64"))?;
        veth(gw, "lan0", &self.server, "eth0")?;
        addr(gw, "lan0", &format!("{GATEWAY_LAN_V4}/24"))?;
        addr(gw, "lan0", &format!("{GATEWAY_LAN_V6}/64"))?;
        gw.sysctl("net.ipv4.ip_forward", "1")?;
        gw.sysctl("net.ipv6.conf.all.forwarding", "1")?;
        let srv = &self.server;
        addr(srv, "eth0", &format!("{SERVER_V4}/24"))?;
        addr(srv, "eth0", &format!("{SERVER_V6}/64"))?;
        srv.ip(&["route", "add", "default", "via", GATEWAY_LAN_V4])?;
        srv.ip(&["-6", "route", "add", "default", "via", GATEWAY_LAN_V6])?;
        Ok(())
    }

    /// A path inside the lab's work directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The work directory.
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Parses one of the lab's address constants.
    pub fn ip(s: &str) -> IpAddr {
        s.parse().expect("lab addresses are valid")
    }
}
