//! Pure-Rust model of the data plane's policy decision.
//!
//! [`PolicyModel::verdict`] answers what `argus_xdp` does with a packet given
//! the lists and flags, without a kernel. Policy tests run against it without
//! root; `tests/dataplane.rs` runs the same case table through the model and
//! through the real program (BPF_PROG_TEST_RUN) and asserts they agree.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::entry::{BlockEntry, Role};
use crate::key::LpmKey;

/// What the data plane does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Passed, no list matched (or nothing was checked).
    Pass,
    /// Dropped (`XDP_DROP`).
    Drop,
    /// Passed, but BLOCKLIST matched in dry-run or monitor mode.
    WouldDrop,
    /// Passed because ALLOWLIST matched (checked before BLOCKLIST).
    Allowlisted,
}

impl Verdict {
    /// Whether the packet leaves the program with `XDP_DROP`.
    pub fn is_drop(self) -> bool {
        self == Self::Drop
    }
}

/// The policy inputs of the data plane.
#[derive(Clone, Debug, Default)]
pub struct PolicyModel {
    /// ALLOWLIST prefixes.
    pub allowlist: Vec<IpNet>,
    /// BLOCKLIST entries (only `prefix` and `monitor` matter).
    pub blocklist: Vec<BlockEntry>,
    /// `ARGUS_CFG_F_DRY_RUN`.
    pub dry_run: bool,
    /// `ARGUS_CFG_F_DROP_LAN_TO_BANNED`.
    pub drop_lan_to_banned: bool,
}

impl PolicyModel {
    /// The verdict for a parsed IP packet from `src` to `dst` arriving on an
    /// interface with `role`.
    ///
    /// WAN checks the source; LAN checks the destination only with
    /// `drop_lan_to_banned`. The checked address goes through ALLOWLIST,
    /// then the longest matching BLOCKLIST prefix, in the IPv4-mapped
    /// 128-bit space the kernel uses (so `::/0` also covers IPv4).
    pub fn verdict(&self, role: Role, src: IpAddr, dst: IpAddr) -> Verdict {
        let checked = match role {
            Role::Wan => src,
            Role::Lan if self.drop_lan_to_banned => dst,
            Role::Lan => return Verdict::Pass,
        };
        if self
            .allowlist
            .iter()
            .any(|n| LpmKey::from_net(*n).contains(checked))
        {
            return Verdict::Allowlisted;
        }
        let longest = self
            .blocklist
            .iter()
            .map(|e| (LpmKey::from_net(e.prefix), e))
            .filter(|(k, _)| k.contains(checked))
            .max_by_key(|(k, _)| k.prefixlen());
        match longest {
            None => Verdict::Pass,
            Some((_, e)) if self.dry_run || e.monitor => Verdict::WouldDrop,
            Some(_) => Verdict::Drop,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ReasonCode;
    use crate::key::v4;

    fn block(s: &str) -> BlockEntry {
        BlockEntry::new(s.parse().unwrap(), ReasonCode::Manual)
    }

    #[test]
    fn wan_checks_source_lan_checks_destination_only_with_flag() {
        let mut m = PolicyModel {
            blocklist: vec![block("10.203.1.0/24")],
            ..Default::default()
        };
        let bad = v4(10, 203, 1, 9);
        let good = v4(10, 203, 2, 9);
        assert_eq!(m.verdict(Role::Wan, bad, good), Verdict::Drop);
        assert_eq!(m.verdict(Role::Wan, good, bad), Verdict::Pass);
        assert_eq!(m.verdict(Role::Lan, good, bad), Verdict::Pass);
        m.drop_lan_to_banned = true;
        assert_eq!(m.verdict(Role::Lan, good, bad), Verdict::Drop);
        assert_eq!(m.verdict(Role::Lan, bad, good), Verdict::Pass);
    }

    #[test]
    fn allowlist_wins_and_dry_run_and_monitor() {
        let mut m = PolicyModel {
            allowlist: vec!["10.203.1.7/32".parse().unwrap()],
            blocklist: vec![block("10.203.1.0/24"), block("10.203.3.0/24").monitored()],
            ..Default::default()
        };
        let other = v4(10, 203, 0, 1);
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 1, 7), other),
            Verdict::Allowlisted
        );
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 3, 1), other),
            Verdict::WouldDrop
        );
        m.dry_run = true;
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 1, 8), other),
            Verdict::WouldDrop
        );
    }

    #[test]
    fn longest_prefix_decides_monitor() {
        let m = PolicyModel {
            blocklist: vec![block("10.203.0.0/16").monitored(), block("10.203.5.0/24")],
            ..Default::default()
        };
        let other = v4(10, 203, 0, 1);
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 5, 1), other),
            Verdict::Drop
        );
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 6, 1), other),
            Verdict::WouldDrop
        );
    }

    #[test]
    fn v6_all_covers_v4() {
        let m = PolicyModel {
            blocklist: vec![block("::/0")],
            ..Default::default()
        };
        assert!(m
            .verdict(Role::Wan, v4(10, 203, 0, 2), v4(10, 203, 0, 1))
            .is_drop());
    }
}
