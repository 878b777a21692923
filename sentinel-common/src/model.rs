//! Pure-Rust models of the data plane.
//!
//! - [`PolicyModel::verdict`] answers what `argus_xdp` does with a packet
//!   given the lists and flags, without a kernel. Policy tests run against it
//!   without root; `tests/policy.rs` runs the same case table through the
//!   model and through the real program (BPF_PROG_TEST_RUN) and asserts they
//!   agree.
//! - [`FlowAccounting`] updates flows exactly as `argus_account_flow()`
//!   does, for packets seen outside the kernel (sentinel's `--pcap` mode);
//!   `tests/flows.rs` checks it against the kernel's FLOWS.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::abi::{
    FlowDir, FlowKey, FlowValue, NewFlowEvent, SampleEvent, DIR_FORWARD, DIR_REVERSE,
    EVENT_NEW_FLOW, EVENT_SAMPLE, MAX_SAMPLE_BYTES,
};
use crate::entry::{BlockEntry, Role};
use crate::key::{canonical_flow_key, Endpoint, LpmKey};
use crate::packet::PacketInfo;

/// What the data plane does with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Passed, no list matched (or nothing was checked).
    Pass,
    /// Dropped (`XDP_DROP`).
    Drop,
    /// Passed, but BLOCKLIST matched in dry-run or monitor mode.
    WouldDrop,
    /// Passed because ALLOWLIST matched a banned address: the allowlist
    /// overrides any ban (dry-run or not). An allowlisted address that no
    /// ban covers is [`Verdict::Pass`]: the kernel looks ALLOWLIST up only
    /// after a ban hit, and counts `allowlisted` only for those.
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
    /// `drop_lan_to_banned`. The checked address goes through the longest
    /// matching BLOCKLIST prefix, then, if one matched, ALLOWLIST (which
    /// overrides the ban), in the IPv4-mapped 128-bit space the kernel uses
    /// (so `::/0` also covers IPv4).
    pub fn verdict(&self, role: Role, src: IpAddr, dst: IpAddr) -> Verdict {
        let checked = match role {
            Role::Wan => src,
            Role::Lan if self.drop_lan_to_banned => dst,
            Role::Lan => return Verdict::Pass,
        };
        let longest = self
            .blocklist
            .iter()
            .map(|e| (LpmKey::from_net(e.prefix), e))
            .filter(|(k, _)| k.contains(checked))
            .max_by_key(|(k, _)| k.prefixlen());
        let allowed = || {
            self.allowlist
                .iter()
                .any(|n| LpmKey::from_net(*n).contains(checked))
        };
        match longest {
            None => Verdict::Pass,
            Some(_) if allowed() => Verdict::Allowlisted,
            Some((_, e)) if self.dry_run || e.monitor => Verdict::WouldDrop,
            Some(_) => Verdict::Drop,
        }
    }
}

/// What accounting one packet produced (the events the kernel would emit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accounted {
    /// The packet's flow.
    pub key: FlowKey,
    /// The NEW_FLOW event, if this packet created the flow.
    pub new_flow: Option<NewFlowEvent>,
    /// The payload sample, if this packet took one.
    pub sample: Option<Box<SampleEvent>>,
}

/// Flow table updated like the kernel's FLOWS (without LRU eviction: the
/// caller exports and removes flows).
#[derive(Clone, Debug, Default)]
pub struct FlowAccounting {
    flows: HashMap<FlowKey, FlowValue>,
    sample_bytes: u16,
    samples_per_direction: u16,
}

impl FlowAccounting {
    /// An empty table sampling `sample_bytes` (clamped to 512) of the first
    /// `samples_per_direction` payload packets of each flow direction.
    pub fn new(sample_bytes: u16, samples_per_direction: u16) -> Self {
        Self {
            flows: HashMap::new(),
            sample_bytes: sample_bytes.min(MAX_SAMPLE_BYTES as u16),
            samples_per_direction,
        }
    }

    /// Accounts one passed packet seen at `ts_ns` on `ifindex`; `frame` is
    /// the frame `info` was parsed from (for the payload sample). `None`
    /// when the packet cannot be keyed (no complete L4 header, or a
    /// non-first fragment), as in the kernel.
    pub fn account(
        &mut self,
        frame: &[u8],
        info: &PacketInfo,
        ts_ns: u64,
        ifindex: u32,
    ) -> Option<Accounted> {
        if !info.has_l4 || info.fragment {
            return None;
        }
        let (key, src_is_lo) = canonical_flow_key(
            Endpoint::new(info.src, info.sport),
            Endpoint::new(info.dst, info.dport),
            info.proto,
        );
        let mut new_flow = None;
        let v = self.flows.entry(key).or_insert_with(|| {
            let mut v = FlowValue {
                initiator_ifindex: ifindex,
                initiator_is_lo: u8::from(src_is_lo),
                icmp_type: info.icmp_type,
                icmp_code: info.icmp_code,
                ..Default::default()
            };
            v.dir[DIR_FORWARD].first_seen_ns = ts_ns;
            v.dir[DIR_FORWARD].size_min = u32::MAX;
            v.dir[DIR_REVERSE].size_min = u32::MAX;
            new_flow = Some(NewFlowEvent {
                event_type: EVENT_NEW_FLOW,
                ifindex,
                ts_ns,
                key,
                initiator_is_lo: u8::from(src_is_lo),
                pad: [0; 7],
            });
            v
        });
        let dir = if u8::from(src_is_lo) == v.initiator_is_lo {
            DIR_FORWARD
        } else {
            DIR_REVERSE
        };
        let flow_start_ns = v.dir[DIR_FORWARD].first_seen_ns;
        let initiator_is_lo = v.initiator_is_lo;
        let d = &mut v.dir[dir];
        update_dir(d, info, ts_ns);

        let mut sample = None;
        let payload_len = info.payload.len();
        if self.sample_bytes > 0
            && payload_len > 0
            && d.samples < u32::from(self.samples_per_direction)
        {
            let n = payload_len.min(usize::from(self.sample_bytes));
            let mut ev = SampleEvent {
                event_type: EVENT_SAMPLE,
                ifindex,
                ts_ns,
                flow_start_ns,
                key,
                direction: dir as u8,
                initiator_is_lo,
                index: d.samples as u16,
                captured_len: n as u16,
                payload_len: payload_len as u16,
                data: [0; MAX_SAMPLE_BYTES],
            };
            ev.data[..n].copy_from_slice(&frame[info.payload.start..info.payload.start + n]);
            d.samples += 1;
            sample = Some(Box::new(ev));
        }
        Some(Accounted {
            key,
            new_flow,
            sample,
        })
    }

    /// Every flow.
    pub fn flows(&self) -> impl Iterator<Item = (&FlowKey, &FlowValue)> {
        self.flows.iter()
    }

    /// The flow with `key`.
    pub fn get(&self, key: &FlowKey) -> Option<&FlowValue> {
        self.flows.get(key)
    }

    /// Forgets a flow (after export).
    pub fn remove(&mut self, key: &FlowKey) -> Option<FlowValue> {
        self.flows.remove(key)
    }
}

/// The per-direction update of `argus_account_flow()`.
fn update_dir(d: &mut FlowDir, info: &PacketInfo, ts_ns: u64) {
    let len = u64::from(info.ip_len);
    let prev = std::mem::replace(&mut d.last_seen_ns, ts_ns);
    d.packets += 1;
    d.bytes += len;
    d.size_sumsq += len * len;
    if prev == 0 {
        if d.first_seen_ns == 0 {
            d.first_seen_ns = ts_ns;
        }
    } else {
        let iat_ns = ts_ns.saturating_sub(prev);
        let iat_us = (iat_ns / 1000).min(u64::from(u32::MAX));
        d.iat_sum_ns += iat_ns;
        d.iat_sumsq_us += iat_us * iat_us;
    }
    d.size_min = d.size_min.min(info.ip_len);
    d.size_max = d.size_max.max(info.ip_len);
    d.tcp_flags |= u32::from(info.tcp_flags);
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
        // Allowlisted but not banned: a plain pass (nothing to override).
        m.allowlist.push("10.203.2.0/24".parse().unwrap());
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 2, 7), other),
            Verdict::Pass
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
        assert_eq!(
            m.verdict(Role::Wan, v4(10, 203, 1, 7), other),
            Verdict::Allowlisted
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
