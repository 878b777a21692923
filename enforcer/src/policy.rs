//! The enforcer's rules as pure functions: ban durations, ban prefixes and the mode in force.

use std::net::IpAddr;
use std::time::Duration;

use argus_config::Enforcer;
use argus_proto::control::{EffectiveMode, ModeSetting};
use argus_proto::UnixTimeNs;
use ipnet::IpNet;

use crate::prefix::{canonical, host, widen};

/// The ban policy taken from `enforcer.*` in aegis.yaml.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// First offence's ban duration.
    pub default_ttl: Duration,
    /// Each further offence multiplies the duration by this.
    pub repeat_offender_factor: f64,
    /// Longest ban.
    pub max_ttl: Duration,
    /// IPv4 bans cover at most this prefix length.
    pub ipv4_ban_prefix: u8,
    /// IPv6 bans cover at most this prefix length.
    pub ipv6_ban_prefix: u8,
    /// Ban actively on spoofable (connectionless-only) evidence.
    pub ban_spoofable_evidence: bool,
    /// After an unblock, the same prefix is not banned again for the same reason for this long.
    pub unblock_grace: Duration,
    /// Most live bans (the kernel BLOCKLIST's size).
    pub max_entries: u64,
    /// Length of `auto` mode's dry-run period.
    pub dry_run_duration: Duration,
}

impl Policy {
    /// The policy configured in `e`.
    pub fn from_config(e: &Enforcer) -> Self {
        Self {
            default_ttl: Duration::from_secs(e.default_ttl_secs),
            repeat_offender_factor: e.repeat_offender_factor,
            max_ttl: Duration::from_secs(e.max_ttl_secs),
            ipv4_ban_prefix: e.ipv4_ban_prefix,
            ipv6_ban_prefix: e.ipv6_ban_prefix,
            ban_spoofable_evidence: e.ban_spoofable_evidence,
            unblock_grace: Duration::from_secs(e.unblock_grace_secs),
            max_entries: u64::from(e.max_entries),
            dry_run_duration: Duration::from_secs(u64::from(e.dry_run_duration_days) * 86_400),
        }
    }

    /// Ban duration for offence number `offence` (1 for a first offence): the default TTL multiplied
    /// by the repeat-offender factor once per earlier offence, capped at the maximum.
    pub fn ttl(&self, offence: u32) -> Duration {
        let exponent = i32::try_from(offence.saturating_sub(1)).unwrap_or(i32::MAX);
        let secs = self.default_ttl.as_secs_f64() * self.repeat_offender_factor.powi(exponent);
        // powi overflows to infinity for large offence counts; the cap absorbs it.
        Duration::from_secs_f64(secs.min(self.max_ttl.as_secs_f64()))
    }

    /// The prefix a verdict about `source` asking for `prefix` names: the verdict's prefix if it
    /// covers the source, else the source's host prefix (before widening, see [`Policy::widen`]).
    pub fn ban_prefix_unwidened(&self, source: IpAddr, prefix: IpNet) -> IpNet {
        let source = source.to_canonical();
        let prefix = canonical(prefix);
        if prefix.contains(&source) {
            prefix
        } else {
            tracing::warn!(%source, %prefix, "verdict prefix does not cover its source; banning the source");
            host(source)
        }
    }

    /// `net` widened to the configured ban prefix of its family.
    pub fn widen(&self, net: IpNet) -> IpNet {
        match net {
            IpNet::V4(_) => widen(net, self.ipv4_ban_prefix),
            IpNet::V6(_) => widen(net, self.ipv6_ban_prefix),
        }
    }
}

/// The mode in force for `setting` at `now`, and in `auto` mode while the dry-run lasts, the time
/// left of it. `auto` dry-runs for `dry_run` from `first_start`, then enforces.
pub fn effective_mode(
    setting: ModeSetting,
    first_start: UnixTimeNs,
    now: UnixTimeNs,
    dry_run: Duration,
) -> (EffectiveMode, Option<Duration>) {
    match setting {
        ModeSetting::DryRun => (EffectiveMode::DryRun, None),
        ModeSetting::Enforce => (EffectiveMode::Enforce, None),
        ModeSetting::Auto => {
            let elapsed = now.saturating_since(first_start);
            if elapsed < dry_run {
                (EffectiveMode::DryRun, Some(dry_run - elapsed))
            } else {
                (EffectiveMode::Enforce, None)
            }
        }
    }
}

/// The setting configured by `enforcer.mode`.
pub fn configured_setting(mode: argus_config::Mode) -> ModeSetting {
    match mode {
        argus_config::Mode::Auto => ModeSetting::Auto,
        argus_config::Mode::DryRun => ModeSetting::DryRun,
        argus_config::Mode::Enforce => ModeSetting::Enforce,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::from_config(&Enforcer::default())
    }

    #[test]
    fn ttl_escalates_per_offence_and_is_capped() {
        let p = Policy {
            default_ttl: Duration::from_secs(3600),
            repeat_offender_factor: 2.0,
            max_ttl: Duration::from_secs(5 * 3600),
            ..policy()
        };
        assert_eq!(p.ttl(1), Duration::from_secs(3600));
        assert_eq!(p.ttl(2), Duration::from_secs(7200));
        assert_eq!(p.ttl(3), Duration::from_secs(14_400));
        assert_eq!(p.ttl(4), Duration::from_secs(5 * 3600), "capped");
        assert_eq!(
            p.ttl(u32::MAX),
            Duration::from_secs(5 * 3600),
            "no overflow"
        );
        assert_eq!(
            p.ttl(0),
            Duration::from_secs(3600),
            "offence 0 is treated as the first"
        );
    }

    #[test]
    fn ipv6_is_widened_to_the_configured_prefix() {
        let p = policy();
        let src: IpAddr = "fd00:203:1:2:aaaa::9".parse().unwrap();
        assert_eq!(
            p.widen(p.ban_prefix_unwidened(src, "fd00:203:1:2:aaaa::9/128".parse().unwrap())),
            "fd00:203:1:2::/64".parse::<IpNet>().unwrap()
        );
        let p56 = Policy {
            ipv6_ban_prefix: 56,
            ..policy()
        };
        assert_eq!(
            p56.widen(p56.ban_prefix_unwidened(src, "fd00:203:1:2:aaaa::9/128".parse().unwrap())),
            "fd00:203:1::/56".parse::<IpNet>().unwrap()
        );
    }

    #[test]
    fn ipv4_keeps_host_prefix_by_default_and_mapped_sources_are_ipv4() {
        let p = policy();
        let src: IpAddr = "::ffff:10.203.1.9".parse().unwrap();
        assert_eq!(
            p.widen(p.ban_prefix_unwidened(src, "::ffff:10.203.1.9/128".parse().unwrap())),
            "10.203.1.9/32".parse::<IpNet>().unwrap()
        );
    }

    #[test]
    fn a_prefix_not_covering_the_source_bans_the_source() {
        let p = policy();
        let src: IpAddr = "10.203.1.9".parse().unwrap();
        assert_eq!(
            p.widen(p.ban_prefix_unwidened(src, "10.203.2.0/24".parse().unwrap())),
            "10.203.1.9/32".parse::<IpNet>().unwrap()
        );
    }

    #[test]
    fn auto_mode_dry_runs_for_the_period_then_enforces() {
        let week = Duration::from_secs(7 * 86_400);
        let t0 = UnixTimeNs(1_700_000_000_000_000_000);
        let (m, left) = effective_mode(ModeSetting::Auto, t0, t0, week);
        assert_eq!((m, left), (EffectiveMode::DryRun, Some(week)));
        let just_before = t0.saturating_add(week - Duration::from_secs(1));
        assert_eq!(
            effective_mode(ModeSetting::Auto, t0, just_before, week),
            (EffectiveMode::DryRun, Some(Duration::from_secs(1)))
        );
        let at = t0.saturating_add(week);
        assert_eq!(
            effective_mode(ModeSetting::Auto, t0, at, week),
            (EffectiveMode::Enforce, None)
        );
        assert_eq!(
            effective_mode(ModeSetting::DryRun, t0, at, week).0,
            EffectiveMode::DryRun
        );
        assert_eq!(
            effective_mode(ModeSetting::Enforce, t0, t0, week).0,
            EffectiveMode::Enforce
        );
    }
}
