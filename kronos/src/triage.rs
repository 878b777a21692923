//! Triage: which records kronos ignores, which take the fast path, and which payloads go to the
//! CNN.
//!
//! - **Ignored** (counted): flows initiated by a protected address (`allowlist`,
//!   `anti_lockout.management_hosts`, `anti_lockout.extra_dns_servers`) or arriving on a LAN
//!   interface (bans act on WAN sources; local devices are never judged).
//! - **Fast path**: an established TCP flow the responder did not reset, from a source whose last
//!   full scoring was comfortably normal (below [`CALM_FRACTION`] of the anomaly threshold; the
//!   forest part of a typical normal vector sits around 0.7–0.8) and that was fully
//!   scored within the last [`FULL_SCORE_EVERY`] records. Its source statistics are still updated;
//!   only the model and the rules are skipped.
//! - **Standard path**: everything else is scored by the model and the behaviour rules.
//! - **Escalation**: forward payload samples go to the CNN when their destination port is in
//!   `kronos.inspect_ports` or their source is suspicious.

use std::collections::HashSet;
use std::net::IpAddr;

use argus_config::{Config, InterfaceRole};
use argus_proto::FlowRecord;
use ipnet::IpNet;

use crate::features::FlowTraits;

/// A source on the fast path is fully re-scored at least once every this many records, so a
/// source that turns bad is noticed within a bounded number of flows.
pub const FULL_SCORE_EVERY: u32 = 16;

/// Share of the anomaly threshold below which a source's last score counts as calm.
pub const CALM_FRACTION: f64 = 0.85;

/// Why an address is never judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    /// In `allowlist`.
    Allowlist,
    /// In `anti_lockout.management_hosts`.
    Management,
    /// In `anti_lockout.extra_dns_servers`.
    DnsServer,
}

/// Why a record is not scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ignored {
    /// The initiator is protected.
    Protected(Protection),
    /// The flow was initiated from a LAN interface.
    LanInitiated,
}

/// Which scoring a record gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Update the source statistics only.
    Fast,
    /// Score with the model and the behaviour rules.
    Standard,
}

/// What triage remembers about a source between its records.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SourceHistory {
    /// Combined anomaly score of the last full scoring (`None` before the first).
    pub last_anomaly: Option<f64>,
    /// Records since the last full scoring.
    pub since_full: u32,
}

/// The triage rules of one configuration.
#[derive(Debug, Clone)]
pub struct Triage {
    protected: Vec<(IpNet, Protection)>,
    lan_interfaces: HashSet<String>,
    inspect_ports: HashSet<u16>,
    anomaly_threshold: f64,
}

impl Triage {
    /// The triage rules of `cfg`.
    pub fn from_config(cfg: &Config) -> Self {
        let mut protected: Vec<(IpNet, Protection)> = Vec::new();
        protected.extend(
            cfg.allowlist
                .iter()
                .map(|n| (n.trunc(), Protection::Allowlist)),
        );
        protected.extend(
            cfg.anti_lockout
                .management_hosts
                .iter()
                .map(|n| (n.trunc(), Protection::Management)),
        );
        protected.extend(
            cfg.anti_lockout
                .extra_dns_servers
                .iter()
                .map(|&a| (IpNet::from(a.to_canonical()), Protection::DnsServer)),
        );
        Self {
            protected,
            lan_interfaces: cfg
                .sentinel
                .interfaces
                .iter()
                .filter(|i| i.role == InterfaceRole::Lan)
                .map(|i| i.name.clone())
                .collect(),
            inspect_ports: cfg.kronos.inspect_ports.iter().copied().collect(),
            anomaly_threshold: cfg.kronos.anomaly_threshold,
        }
    }

    /// Why `ip` is protected, if it is.
    pub fn protection(&self, ip: IpAddr) -> Option<Protection> {
        let ip = ip.to_canonical();
        self.protected
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|&(_, p)| p)
    }

    /// Why `rec` is not scored, or `None` when it is.
    pub fn ignore(&self, rec: &FlowRecord) -> Option<Ignored> {
        if let Some(p) = self.protection(rec.key.src) {
            return Some(Ignored::Protected(p));
        }
        if self.lan_interfaces.contains(&rec.interface) {
            return Some(Ignored::LanInitiated);
        }
        None
    }

    /// The path of a flow with `traits` from a source with `history`.
    pub fn path(&self, traits: &FlowTraits, history: &SourceHistory) -> Path {
        let calm = history
            .last_anomaly
            .is_some_and(|a| a < CALM_FRACTION * self.anomaly_threshold);
        if calm
            && history.since_full < FULL_SCORE_EVERY
            && traits.established
            && !traits.responder_rst
        {
            Path::Fast
        } else {
            Path::Standard
        }
    }

    /// Whether payloads to `port` always go to the CNN.
    pub fn inspect_port(&self, port: u16) -> bool {
        self.inspect_ports.contains(&port)
    }

    /// Whether a source with this anomaly score is suspicious enough for its payloads to be
    /// escalated to the CNN.
    pub fn suspicious(&self, anomaly: f64) -> bool {
        anomaly >= self.anomaly_threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::tcp_flow;

    fn triage(yaml: &str) -> Triage {
        Triage::from_config(&Config::from_yaml(yaml, "test.yaml").unwrap())
    }

    #[test]
    fn protected_prefixes_are_ignored() {
        let t = triage(
            "allowlist: [198.51.100.0/24]\nanti_lockout:\n  management_hosts: [203.0.113.7/32]\n  extra_dns_servers: [9.9.9.9, '2620:fe::fe']\n",
        );
        let ignore = |src: &str| t.ignore(&tcp_flow(src, "192.0.2.1", 80, 0, 0));
        assert_eq!(
            ignore("198.51.100.200"),
            Some(Ignored::Protected(Protection::Allowlist))
        );
        assert_eq!(
            ignore("203.0.113.7"),
            Some(Ignored::Protected(Protection::Management))
        );
        assert_eq!(
            ignore("9.9.9.9"),
            Some(Ignored::Protected(Protection::DnsServer))
        );
        assert_eq!(
            ignore("2620:fe::fe"),
            Some(Ignored::Protected(Protection::DnsServer))
        );
        // IPv4-mapped IPv6 is the same host.
        assert_eq!(
            ignore("::ffff:198.51.100.1"),
            Some(Ignored::Protected(Protection::Allowlist))
        );
        assert_eq!(ignore("203.0.113.8"), None);
    }

    #[test]
    fn lan_initiated_flows_are_ignored() {
        let t = triage("sentinel:\n  interfaces:\n    - {name: wan0, role: wan}\n    - {name: lan0, role: lan}\n");
        let mut rec = tcp_flow("192.168.1.20", "192.0.2.1", 443, 0, 0);
        assert_eq!(t.ignore(&rec), None);
        rec.interface = "lan0".into();
        assert_eq!(t.ignore(&rec), Some(Ignored::LanInitiated));
    }

    #[test]
    fn fast_path_needs_a_calm_history_and_an_established_flow() {
        let t = triage("");
        let est = FlowTraits::of(&tcp_flow("198.51.100.1", "192.0.2.1", 443, 0, 0));
        let calm = SourceHistory {
            last_anomaly: Some(0.1),
            since_full: 3,
        };
        assert_eq!(t.path(&est, &calm), Path::Fast);
        assert_eq!(t.path(&est, &SourceHistory::default()), Path::Standard);
        let due = SourceHistory {
            since_full: FULL_SCORE_EVERY,
            ..calm
        };
        assert_eq!(t.path(&est, &due), Path::Standard);
        let tense = SourceHistory {
            last_anomaly: Some(0.9),
            ..calm
        };
        assert_eq!(t.path(&est, &tense), Path::Standard);
        let failed = FlowTraits {
            established: false,
            ..est
        };
        assert_eq!(t.path(&failed, &calm), Path::Standard);
        assert!(t.inspect_port(8080) && !t.inspect_port(22));
    }
}
