//! The decision policy: given what kronos concluded about a source, whether to send a verdict and
//! which action it asks for, with the memory that keeps verdicts from storming.
//!
//! - Nothing happens below `anomaly_threshold` unless the CNN found an attack payload.
//! - **Ban** when the anomaly reaches `high_risk_threshold`, when a source keeps being watched
//!   ([`REPEATS_TO_BAN`] watches for the same reason without a quiet spell), or for payload
//!   attacks from a source a behaviour rule already names (a scan, a brute force, …) or of
//!   [`PAYLOAD_ATTACKS_TO_BAN`] different payloads; otherwise **Watch**. The same payload
//!   repeated is one piece of evidence: a client re-sending a request the CNN misjudges (a search
//!   for `it's a <test>`) is not an attacker trying exploit after exploit. And the model's score
//!   does not corroborate a payload: it is calibrated so that the most unusual 0.1 % of benign
//!   flows reach the anomaly threshold (an ordinary large download can be one of them), so a
//!   single CNN false positive right after it would ban a benign user.
//! - Never Ban on spoofable evidence alone (everything recent from the source was UDP/ICMP, or an
//!   attack payload over UDP) unless `enforcer.ban_spoofable_evidence` is set: Watch, marked
//!   spoofable. With the option set the Ban is sent, marked spoofable, and the enforcer (which
//!   owns the option and checks it again) carries it out.
//! - Never Ban a source for a reason the owner unblocked it for (`EnforcerMessage::FalsePositive`)
//!   within `enforcer.unblock_grace_secs`.
//! - No verdict at all for a source already banned (from the moment the Ban is emitted, and
//!   refreshed when the enforcer acknowledges it) until its TTL hint runs out; at most one Watch
//!   per source and reason per cooldown.
//!
//! Memory is bounded: at most `max_sources` sources (least recently judged evicted) and
//! [`MAX_FORGIVEN`] unblocked prefixes.

use std::net::IpAddr;
use std::num::NonZeroUsize;

use argus_proto::{Action, Feedback, Reason, Verdict};
use ipnet::IpNet;
use lru::LruCache;

/// Watches for one reason after which a still-anomalous source is banned.
pub const REPEATS_TO_BAN: u32 = 3;

/// Different attack payloads from one source after which it is banned even if its behaviour is
/// normal.
pub const PAYLOAD_ATTACKS_TO_BAN: usize = 2;

/// Unblocked prefixes remembered at once (the oldest are forgotten first).
pub const MAX_FORGIVEN: usize = 1024;

const NS: u64 = 1_000_000_000;

/// The thresholds and durations the policy works with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PolicyParams {
    /// `kronos.anomaly_threshold`.
    pub anomaly_threshold: f64,
    /// `kronos.high_risk_threshold`.
    pub high_risk_threshold: f64,
    /// TTL hint of a Ban, also how long kronos stays quiet about a banned source
    /// (`enforcer.default_ttl_secs`).
    pub ban_ttl_secs: u64,
    /// Minimum time between two Watch verdicts for one source and reason (the longest window).
    pub watch_cooldown_secs: u64,
    /// How long an unblocked source is not banned again for the same reason
    /// (`enforcer.unblock_grace_secs`).
    pub unblock_grace_secs: u64,
    /// Ban on spoofable evidence alone (`enforcer.ban_spoofable_evidence`).
    pub ban_spoofable_evidence: bool,
}

/// What kronos concluded about one source at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// The source.
    pub source: IpAddr,
    /// Combined anomaly score (see `docs/scoring.md`).
    pub anomaly: f64,
    /// What the behaviour looks like.
    pub reason: Reason,
    /// Everything recent from the source was connectionless.
    pub spoofable: bool,
    /// The CNN classified one of its payloads as an attack: the payload's fingerprint (a hash of
    /// its bytes), so repeats of one payload count once.
    pub attack_payload: Option<u64>,
    /// A behaviour rule names what the source does (strength at least
    /// [`crate::rules::REASON_MIN_STRENGTH`] at its last full scoring).
    pub rule_matched: bool,
}

/// What the policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send a verdict with this action.
    Send(Action),
    /// Nothing to say: below the thresholds.
    Quiet,
    /// Already banned, or watched for this reason within the cooldown.
    Duplicate,
}

#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    banned_until_ns: u64,
    last_watch: Option<(Reason, u64)>,
    watches: u32,
    /// Fingerprints of the different attack payloads seen, the first `payload_attacks` valid.
    payloads: [u64; PAYLOAD_ATTACKS_TO_BAN],
    payload_attacks: usize,
}

/// The decision policy and its memory.
#[derive(Debug)]
pub struct Policy {
    params: PolicyParams,
    memory: LruCache<IpAddr, Memory>,
    forgiven: Vec<(IpNet, Reason, u64)>,
}

impl Policy {
    /// A policy remembering at most `max_sources` sources.
    pub fn new(params: PolicyParams, max_sources: NonZeroUsize) -> Self {
        Self {
            params,
            memory: LruCache::new(max_sources),
            forgiven: Vec::new(),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &PolicyParams {
        &self.params
    }

    /// Decides about `a` at `now_ns` and remembers the decision.
    pub fn decide(&mut self, a: &Assessment, now_ns: u64) -> Decision {
        let p = self.params;
        let suspicious = a.anomaly >= p.anomaly_threshold;
        if !suspicious && a.attack_payload.is_none() {
            return Decision::Quiet;
        }
        let forgiven = self.is_forgiven_for(a.source, a.reason, now_ns);
        let m = self.memory.get_or_insert_mut(a.source, Memory::default);
        if m.banned_until_ns > now_ns {
            return Decision::Duplicate;
        }
        if let Some(fingerprint) = a.attack_payload {
            let n = m.payload_attacks;
            if n < PAYLOAD_ATTACKS_TO_BAN && !m.payloads[..n].contains(&fingerprint) {
                m.payloads[n] = fingerprint;
                m.payload_attacks += 1;
            }
        }
        // A long quiet spell since the last watch starts the count afresh.
        if let Some((_, at)) = m.last_watch {
            if now_ns.saturating_sub(at) > 3 * p.watch_cooldown_secs * NS {
                m.watches = 0;
            }
        }
        let repeated_watches =
            m.watches + 1 >= REPEATS_TO_BAN && m.last_watch.is_some_and(|(r, _)| r == a.reason);
        let wants_ban = a.anomaly >= p.high_risk_threshold
            || (suspicious && repeated_watches)
            || (a.attack_payload.is_some()
                && (a.rule_matched || m.payload_attacks >= PAYLOAD_ATTACKS_TO_BAN));
        if wants_ban && (!a.spoofable || p.ban_spoofable_evidence) && !forgiven {
            m.banned_until_ns = now_ns.saturating_add(p.ban_ttl_secs.saturating_mul(NS));
            return Decision::Send(Action::Ban);
        }
        let recently_watched = m.last_watch.is_some_and(|(r, at)| {
            r == a.reason && now_ns.saturating_sub(at) < p.watch_cooldown_secs * NS
        });
        if recently_watched {
            return Decision::Duplicate;
        }
        m.watches = if m.last_watch.is_some_and(|(r, _)| r == a.reason) {
            m.watches + 1
        } else {
            1
        };
        m.last_watch = Some((a.reason, now_ns));
        Decision::Send(Action::Watch)
    }

    /// The enforcer durably recorded `verdict`: a Ban silences the source for its TTL hint from
    /// `now_ns`.
    pub fn acknowledged(&mut self, verdict: &Verdict, now_ns: u64) {
        if verdict.action == Action::Ban {
            let ttl = verdict.ttl_hint_secs.unwrap_or(self.params.ban_ttl_secs);
            let m = self
                .memory
                .get_or_insert_mut(verdict.source.to_canonical(), Memory::default);
            m.banned_until_ns = m
                .banned_until_ns
                .max(now_ns.saturating_add(ttl.saturating_mul(NS)));
        }
    }

    /// The owner unblocked `feedback.prefix`: forget its bans and do not ban it again for the
    /// same reason within the grace period.
    pub fn false_positive(&mut self, feedback: &Feedback) {
        let until = feedback
            .at
            .0
            .saturating_add(self.params.unblock_grace_secs.saturating_mul(NS));
        if self.forgiven.len() >= MAX_FORGIVEN {
            self.forgiven.remove(0);
        }
        let prefix = feedback.prefix.trunc();
        self.forgiven.push((prefix, feedback.reason, until));
        for (ip, m) in self.memory.iter_mut() {
            if prefix.contains(ip) {
                *m = Memory::default();
            }
        }
    }

    /// Whether the owner unblocked `source` (for any reason) and the grace period still runs:
    /// such sources are normal as far as the baseline is concerned.
    pub fn is_forgiven(&self, source: IpAddr, now_ns: u64) -> bool {
        self.forgiven
            .iter()
            .any(|(net, _, until)| *until > now_ns && net.contains(&source))
    }

    fn is_forgiven_for(&self, source: IpAddr, reason: Reason, now_ns: u64) -> bool {
        self.forgiven
            .iter()
            .any(|(net, r, until)| *r == reason && *until > now_ns && net.contains(&source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_proto::UnixTimeNs;

    const SRC: &str = "203.0.113.9";

    fn policy() -> Policy {
        Policy::new(
            PolicyParams {
                anomaly_threshold: 1.0,
                high_risk_threshold: 3.0,
                ban_ttl_secs: 3600,
                watch_cooldown_secs: 600,
                unblock_grace_secs: 86_400,
                ban_spoofable_evidence: false,
            },
            NonZeroUsize::new(64).unwrap(),
        )
    }

    fn assess(anomaly: f64, reason: Reason) -> Assessment {
        Assessment {
            source: SRC.parse().unwrap(),
            anomaly,
            reason,
            spoofable: false,
            attack_payload: None,
            rule_matched: false,
        }
    }

    #[test]
    fn thresholds_choose_the_action() {
        let mut p = policy();
        assert_eq!(p.decide(&assess(0.5, Reason::Anomaly), 0), Decision::Quiet);
        assert_eq!(
            p.decide(&assess(1.5, Reason::Anomaly), 0),
            Decision::Send(Action::Watch)
        );
        assert_eq!(
            p.decide(&assess(1.5, Reason::Anomaly), NS),
            Decision::Duplicate
        );
        assert_eq!(
            p.decide(&assess(4.0, Reason::PortScan), 2 * NS),
            Decision::Send(Action::Ban)
        );
        // Banned: silent until the TTL runs out.
        assert_eq!(
            p.decide(&assess(9.0, Reason::PortScan), 3 * NS),
            Decision::Duplicate
        );
        assert_eq!(
            p.decide(&assess(9.0, Reason::PortScan), 3602 * NS),
            Decision::Send(Action::Ban)
        );
    }

    #[test]
    fn spoofable_evidence_is_only_watched_unless_configured() {
        let mut p = policy();
        let a = Assessment {
            spoofable: true,
            ..assess(50.0, Reason::Flood)
        };
        assert_eq!(p.decide(&a, 0), Decision::Send(Action::Watch));
        assert_eq!(p.decide(&a, NS), Decision::Duplicate);
        let mut p = Policy::new(
            PolicyParams {
                ban_spoofable_evidence: true,
                ..*policy().params()
            },
            NonZeroUsize::new(16).unwrap(),
        );
        assert_eq!(p.decide(&a, 0), Decision::Send(Action::Ban));
    }

    #[test]
    fn repeated_watches_escalate_to_a_ban() {
        let mut p = policy();
        let a = assess(1.5, Reason::BruteForce);
        assert_eq!(p.decide(&a, 0), Decision::Send(Action::Watch));
        assert_eq!(p.decide(&a, 601 * NS), Decision::Send(Action::Watch));
        assert_eq!(p.decide(&a, 1202 * NS), Decision::Send(Action::Ban));
    }

    #[test]
    fn payload_attacks_ban_when_different_or_named_by_a_rule() {
        let mut p = policy();
        let a = |fingerprint| Assessment {
            attack_payload: Some(fingerprint),
            ..assess(0.2, Reason::PayloadAttack)
        };
        assert_eq!(p.decide(&a(1), 0), Decision::Send(Action::Watch));
        // The same payload again is no new evidence.
        assert_eq!(p.decide(&a(1), NS), Decision::Duplicate);
        assert_eq!(p.decide(&a(2), 2 * NS), Decision::Send(Action::Ban));
        // A source already scanning: its first attack payload bans it.
        let mut p = policy();
        let scanning = Assessment {
            anomaly: 1.2,
            rule_matched: true,
            ..a(3)
        };
        assert_eq!(p.decide(&scanning, 0), Decision::Send(Action::Ban));
        // The model's score alone (an unusual but benign download just before) does not
        // corroborate a payload.
        let mut p = policy();
        let unusual = Assessment {
            anomaly: 1.2,
            ..a(4)
        };
        assert_eq!(p.decide(&unusual, 0), Decision::Send(Action::Watch));
    }

    #[test]
    fn acknowledged_bans_refresh_the_silence() {
        let mut p = policy();
        assert_eq!(
            p.decide(&assess(4.0, Reason::PortScan), 0),
            Decision::Send(Action::Ban)
        );
        let v = Verdict {
            id: 1,
            source: SRC.parse().unwrap(),
            prefix: "203.0.113.9/32".parse().unwrap(),
            action: Action::Ban,
            reason: Reason::PortScan,
            evidence: Default::default(),
            ttl_hint_secs: Some(7200),
            timestamp: UnixTimeNs(0),
        };
        p.acknowledged(&v, 100 * NS);
        assert_eq!(
            p.decide(&assess(4.0, Reason::PortScan), 7000 * NS),
            Decision::Duplicate
        );
        assert_eq!(
            p.decide(&assess(4.0, Reason::PortScan), 7301 * NS),
            Decision::Send(Action::Ban)
        );
    }

    #[test]
    fn unblocked_sources_are_not_banned_again_for_the_same_reason() {
        let mut p = policy();
        assert_eq!(
            p.decide(&assess(4.0, Reason::BruteForce), 0),
            Decision::Send(Action::Ban)
        );
        p.false_positive(&Feedback {
            prefix: "203.0.113.0/24".parse().unwrap(),
            reason: Reason::BruteForce,
            at: UnixTimeNs(10 * NS),
        });
        assert!(p.is_forgiven(SRC.parse().unwrap(), 20 * NS));
        // Same evidence: watched (once), never banned.
        assert_eq!(
            p.decide(&assess(4.0, Reason::BruteForce), 20 * NS),
            Decision::Send(Action::Watch)
        );
        assert_eq!(
            p.decide(&assess(4.0, Reason::BruteForce), 30 * NS),
            Decision::Duplicate
        );
        // Another reason is new evidence.
        assert_eq!(
            p.decide(&assess(4.0, Reason::PortScan), 40 * NS),
            Decision::Send(Action::Ban)
        );
        // After the grace period the old reason counts again.
        let mut p2 = policy();
        p2.false_positive(&Feedback {
            prefix: "203.0.113.9/32".parse().unwrap(),
            reason: Reason::BruteForce,
            at: UnixTimeNs(0),
        });
        assert!(!p2.is_forgiven(SRC.parse().unwrap(), 86_401 * NS));
        assert_eq!(
            p2.decide(&assess(4.0, Reason::BruteForce), 86_401 * NS),
            Decision::Send(Action::Ban)
        );
    }
}
