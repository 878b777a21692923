//! Typed views of list entries and interface roles.

use ipnet::IpNet;

use crate::abi::{self, BlockValue, BLOCK_F_MONITOR, ROLE_LAN, ROLE_WAN};
use crate::key::LpmKey;

/// Why a prefix is blocked (`enum argus_reason`). The kernel never reads it;
/// it travels with the entry so operators see it next to the counters. The
/// values are the verdict reasons' stable codes (`argus_proto::Reason::code`),
/// one variant per reason, so a reason written reads back unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReasonCode {
    /// No reason recorded.
    Unspecified,
    /// Banned by an operator.
    Manual,
    /// Many distinct ports or hosts probed.
    PortScan,
    /// Many half-open or unanswered TCP handshakes.
    SynFlood,
    /// Repeated short connections to one authenticated service.
    BruteForce,
    /// kronos' payload classifier.
    PayloadAttack,
    /// A volumetric flood.
    Flood,
    /// kronos' anomaly model, without a more specific reason.
    Anomaly,
    /// A code this build does not know (written by a newer enforcer).
    Other(u32),
}

impl ReasonCode {
    /// The value stored in the map.
    pub fn to_raw(self) -> u32 {
        match self {
            Self::Unspecified => abi::reason::UNSPECIFIED,
            Self::Manual => abi::reason::MANUAL,
            Self::PortScan => abi::reason::PORT_SCAN,
            Self::SynFlood => abi::reason::SYN_FLOOD,
            Self::BruteForce => abi::reason::BRUTE_FORCE,
            Self::PayloadAttack => abi::reason::PAYLOAD_ATTACK,
            Self::Flood => abi::reason::FLOOD,
            Self::Anomaly => abi::reason::ANOMALY,
            Self::Other(n) => n,
        }
    }

    /// The typed form of a stored value.
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            abi::reason::UNSPECIFIED => Self::Unspecified,
            abi::reason::MANUAL => Self::Manual,
            abi::reason::PORT_SCAN => Self::PortScan,
            abi::reason::SYN_FLOOD => Self::SynFlood,
            abi::reason::BRUTE_FORCE => Self::BruteForce,
            abi::reason::PAYLOAD_ATTACK => Self::PayloadAttack,
            abi::reason::FLOOD => Self::Flood,
            abi::reason::ANOMALY => Self::Anomaly,
            n => Self::Other(n),
        }
    }
}

/// Role of an interface (`enum argus_role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Uplink: packets are checked by SOURCE address. Interfaces missing
    /// from IFACES behave as WAN.
    Wan,
    /// Inside: packets are checked by DESTINATION address, and only when
    /// the drop-LAN-to-banned flag is set.
    Lan,
}

impl Role {
    /// The value stored in IFACES.
    pub fn to_raw(self) -> u32 {
        match self {
            Self::Wan => ROLE_WAN,
            Self::Lan => ROLE_LAN,
        }
    }

    /// The role the data plane applies for a stored value (anything but LAN
    /// is WAN, as in the kernel).
    pub fn from_raw(raw: u32) -> Self {
        if raw == ROLE_LAN {
            Self::Lan
        } else {
            Self::Wan
        }
    }
}

/// Counters the data plane keeps per BLOCKLIST entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockCounters {
    /// Packets that matched (dropped or would-drop).
    pub packets: u64,
    /// Their bytes (L2 frame length).
    pub bytes: u64,
    /// Matches while dry-run or monitor mode was on.
    pub would_drop: u64,
    /// `CLOCK_MONOTONIC_COARSE` ns of the last match, 0 = never.
    pub last_hit_ns: u64,
}

/// One BLOCKLIST entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// The banned prefix (host bits are cleared when written).
    pub prefix: IpNet,
    /// Why.
    pub reason: ReasonCode,
    /// Count matches as would_drop but never drop this prefix, even when
    /// the data plane enforces (`ARGUS_BLOCK_F_MONITOR`).
    pub monitor: bool,
    /// Kernel-maintained counters (written as given on insert).
    pub counters: BlockCounters,
}

impl BlockEntry {
    /// An enforcing entry with zeroed counters.
    pub fn new(prefix: IpNet, reason: ReasonCode) -> Self {
        Self {
            prefix: prefix.trunc(),
            reason,
            monitor: false,
            counters: BlockCounters::default(),
        }
    }

    /// The same entry in monitor mode.
    pub fn monitored(mut self) -> Self {
        self.monitor = true;
        self
    }

    /// Map key and value.
    pub fn to_kv(&self) -> (LpmKey, BlockValue) {
        let value = BlockValue {
            packets: self.counters.packets,
            bytes: self.counters.bytes,
            would_drop: self.counters.would_drop,
            last_hit_ns: self.counters.last_hit_ns,
            reason: self.reason.to_raw(),
            flags: if self.monitor { BLOCK_F_MONITOR } else { 0 },
        };
        (LpmKey::from_net(self.prefix), value)
    }

    /// The entry a map key and value describe.
    pub fn from_kv(key: &LpmKey, value: &BlockValue) -> Self {
        Self {
            prefix: key.to_net(),
            reason: ReasonCode::from_raw(value.reason),
            monitor: value.flags & BLOCK_F_MONITOR != 0,
            counters: BlockCounters {
                packets: value.packets,
                bytes: value.bytes,
                would_drop: value.would_drop,
                last_hit_ns: value.last_hit_ns,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_round_trip() {
        for r in [
            ReasonCode::Unspecified,
            ReasonCode::Manual,
            ReasonCode::PortScan,
            ReasonCode::SynFlood,
            ReasonCode::BruteForce,
            ReasonCode::PayloadAttack,
            ReasonCode::Flood,
            ReasonCode::Anomaly,
            ReasonCode::Other(77),
        ] {
            assert_eq!(ReasonCode::from_raw(r.to_raw()), r);
        }
    }

    #[test]
    fn entry_round_trip() {
        let e = BlockEntry::new("10.203.9.9/24".parse().unwrap(), ReasonCode::Flood).monitored();
        assert_eq!(e.prefix, "10.203.9.0/24".parse::<IpNet>().unwrap());
        let (k, v) = e.to_kv();
        assert_eq!(v.flags, BLOCK_F_MONITOR);
        assert_eq!(v.reason, 6);
        assert_eq!(BlockEntry::from_kv(&k, &v), e);
    }
}
