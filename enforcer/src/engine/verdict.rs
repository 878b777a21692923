//! Verdicts from kronos, and the ban creation shared with `argusctl block`.

use std::fmt;

use argus_proto::control::{BanState, EffectiveMode};
use argus_proto::{Action, Evidence, Reason, UnixTimeNs, Verdict};
use ipnet::IpNet;

use super::{Engine, META_EVICTED};
use crate::auth::Actor;
use crate::kernel::Counters;
use crate::lockout::Protection;
use crate::prefix::overlaps;
use crate::store::{AuditAction, AuditRow, BanRow, EndCause, NewBan, StoreError};

/// Why a ban verdict was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suppression {
    /// The prefix overlaps a protected one.
    Protected {
        /// The protected prefix.
        prefix: IpNet,
        /// Why it is protected.
        by: Protection,
    },
    /// The only evidence is spoofable and `ban_spoofable_evidence` is off.
    Spoofable,
    /// The owner unblocked this prefix for the same reason within `unblock_grace_secs`.
    Grace {
        /// When the grace period ends.
        until: UnixTimeNs,
    },
}

impl fmt::Display for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protected { prefix, by } => write!(f, "overlaps {prefix}, {by}"),
            Self::Spoofable => f.write_str(
                "evidence is spoofable (connectionless only) and enforcer.ban_spoofable_evidence is off",
            ),
            Self::Grace { until } => write!(
                f,
                "unblocked by the owner for the same reason; grace period until {}",
                until.as_secs()
            ),
        }
    }
}

/// What a verdict led to. Every outcome is committed to SQLite (at least as an audit row) before it
/// is returned, so the verdict may be acknowledged.
#[derive(Debug, Clone, PartialEq)]
pub enum VerdictOutcome {
    /// A new ban.
    Banned {
        /// The banned prefix.
        prefix: IpNet,
        /// `Active` or `Simulated`.
        state: BanState,
        /// When it ends.
        expires_at: UnixTimeNs,
        /// Offence number.
        offences: u32,
        /// Bans evicted to make room.
        evicted: Vec<IpNet>,
    },
    /// The prefix was already banned; the verdict was added to its evidence (and a simulated ban
    /// became active if the enforcer now enforces).
    Refreshed {
        /// The banned prefix.
        prefix: IpNet,
        /// Its state now.
        state: BanState,
    },
    /// A `watch` verdict, recorded only.
    Watched,
    /// A ban verdict that was not carried out.
    Suppressed {
        /// The prefix it asked to ban.
        prefix: IpNet,
        /// Why not.
        why: Suppression,
    },
}

/// What to do with a verdict, decided before the transaction.
enum Decision {
    Watch(IpNet),
    Suppress(IpNet, Suppression),
    Refresh(BanRow),
    New(NewBan),
}

impl Engine {
    /// Handles one verdict from kronos in one transaction, then writes the kernel.
    pub fn handle_verdict(&mut self, v: &Verdict) -> Result<VerdictOutcome, StoreError> {
        let now = self.clock.now();
        self.apply_mode(now)?;
        // A ban whose TTL ran out since the last tick must not absorb this verdict.
        self.expire(now)?;
        let span = tracing::info_span!("verdict", id = v.id, ip = %v.source, reason = %v.reason);
        let _entered = span.enter();
        let outcome = match self.decide(v, now)? {
            Decision::Watch(prefix) => {
                self.audit_verdict(v, now, AuditAction::Watch, prefix, "watch verdict".into())?;
                VerdictOutcome::Watched
            }
            Decision::Suppress(prefix, why) => {
                tracing::info!(%prefix, why = %why, "ban verdict suppressed");
                self.audit_verdict(v, now, AuditAction::Suppress, prefix, why.to_string())?;
                VerdictOutcome::Suppressed { prefix, why }
            }
            Decision::Refresh(ban) => self.refresh(v, now, ban)?,
            Decision::New(new) => {
                let detail = format!(
                    "{}, score {:.3}, offence {}, ttl {}s, model {}",
                    v.reason,
                    v.evidence.scores.anomaly,
                    new.offences,
                    new.expires_at.saturating_since(now).as_secs(),
                    v.evidence.model_version
                );
                let action = match new.state {
                    BanState::Active => AuditAction::Ban,
                    _ => AuditAction::Simulate,
                };
                let (prefix, state, expires_at, offences) =
                    (new.prefix, new.state, new.expires_at, new.offences);
                let evicted = self.create_ban(new, Some((v.id, &v.evidence)), action, detail)?;
                tracing::info!(%prefix, ?state, offences, ttl_secs = expires_at.saturating_since(now).as_secs(), "ban created");
                VerdictOutcome::Banned {
                    prefix,
                    state,
                    expires_at,
                    offences,
                    evicted,
                }
            }
        };
        self.metrics.verdict(&outcome);
        self.publish_state();
        Ok(outcome)
    }

    fn decide(&self, v: &Verdict, now: UnixTimeNs) -> Result<Decision, StoreError> {
        let policy = &self.settings.policy;
        let narrow = policy.ban_prefix_unwidened(v.source, v.prefix);
        let wide = policy.widen(narrow);
        if v.action == Action::Watch {
            return Ok(Decision::Watch(wide));
        }
        let prefix = match self.protected.overlapping(wide) {
            None => wide,
            // The widened range holds a protected address (say, the appliance's own /64): ban only
            // what the verdict named.
            Some(_) if wide != narrow && self.protected.overlapping(narrow).is_none() => narrow,
            Some((p, by)) => {
                return Ok(Decision::Suppress(
                    wide,
                    Suppression::Protected {
                        prefix: *p,
                        by: by.clone(),
                    },
                ))
            }
        };
        if v.evidence.spoofable && !policy.ban_spoofable_evidence {
            return Ok(Decision::Suppress(prefix, Suppression::Spoofable));
        }
        let read = self.store.read();
        let since = UnixTimeNs(now.0.saturating_sub(policy.unblock_grace.as_nanos() as u64));
        if let Some((_, at)) = read
            .unblocked_since(v.reason, since)?
            .into_iter()
            .filter(|(p, _)| overlaps(*p, prefix))
            .max_by_key(|(_, at)| *at)
        {
            let until = at.saturating_add(policy.unblock_grace);
            return Ok(Decision::Suppress(prefix, Suppression::Grace { until }));
        }
        if let Some(ban) = read.live_ban(prefix)? {
            return Ok(Decision::Refresh(ban));
        }
        let offences = self.next_offence(prefix)?;
        let state = match self.mode {
            EffectiveMode::Enforce => BanState::Active,
            EffectiveMode::DryRun => BanState::Simulated,
        };
        Ok(Decision::New(NewBan {
            prefix,
            reason: v.reason,
            state,
            score: v.evidence.scores.anomaly,
            at: now,
            expires_at: now.saturating_add(policy.ttl(offences)),
            offences,
            created_by: Actor::Kronos.to_string(),
            comment: None,
        }))
    }

    /// The offence number of a new ban of `prefix`: one more than its previous ban's, or 1 when it was
    /// never banned or its last ban was lifted by the owner (a false positive is not an offence).
    pub(super) fn next_offence(&self, prefix: IpNet) -> Result<u32, StoreError> {
        Ok(match self.store.read().last_ban(prefix)? {
            Some(last) if last.state != BanState::Unblocked => last.offences.saturating_add(1),
            _ => 1,
        })
    }

    fn refresh(
        &mut self,
        v: &Verdict,
        now: UnixTimeNs,
        ban: BanRow,
    ) -> Result<VerdictOutcome, StoreError> {
        // A verdict against a simulated ban while enforcing means the source is still at it: enforce.
        let activate = ban.state == BanState::Simulated && self.mode == EffectiveMode::Enforce;
        let actor = Actor::Kronos.to_string();
        self.store.write(|w| {
            w.refresh_ban(ban.id, now, v.evidence.scores.anomaly)?;
            if activate {
                w.activate_ban(ban.id, now, ban.expires_at, ban.reason, None)?;
            }
            w.add_evidence(ban.id, Some(v.id), now, v.reason, &v.evidence)?;
            w.audit(&AuditRow {
                at: now,
                actor,
                action: AuditAction::Refresh,
                prefix: Some(ban.prefix),
                detail: format!(
                    "{}, score {:.3}{}",
                    v.reason,
                    v.evidence.scores.anomaly,
                    if activate {
                        "; simulated ban now active"
                    } else {
                        ""
                    }
                ),
            })
        })?;
        let state = if activate {
            self.count_ended(BanState::Simulated);
            self.count_started(BanState::Active);
            self.write_kernel_block(&ban.prefix, ban.reason, false, ban.counters());
            BanState::Active
        } else {
            ban.state
        };
        Ok(VerdictOutcome::Refreshed {
            prefix: ban.prefix,
            state,
        })
    }

    fn audit_verdict(
        &mut self,
        v: &Verdict,
        now: UnixTimeNs,
        action: AuditAction,
        prefix: IpNet,
        why: String,
    ) -> Result<(), StoreError> {
        let row = AuditRow {
            at: now,
            actor: Actor::Kronos.to_string(),
            action,
            prefix: Some(prefix),
            detail: format!("verdict {} ({}): {why}", v.id, v.reason),
        };
        self.store.write(|w| w.audit(&row))
    }

    /// Inserts a new live ban (evicting the first candidates if the blocklist is full) in one
    /// transaction, then writes the kernel. Returns the evicted prefixes.
    pub(super) fn create_ban(
        &mut self,
        new: NewBan,
        evidence: Option<(u64, &Evidence)>,
        action: AuditAction,
        detail: String,
    ) -> Result<Vec<IpNet>, StoreError> {
        let excess = (self.counts.total() + 1).saturating_sub(self.settings.policy.max_entries);
        let evicted = self.store.read().eviction_candidates(excess)?;
        let last = self.final_counters(&evicted);
        let enforcer = Actor::Enforcer.to_string();
        self.store.write(|w| {
            for (victim, last) in evicted.iter().zip(&last) {
                w.end_ban(
                    victim.id,
                    BanState::Expired,
                    EndCause::Evicted,
                    new.at,
                    *last,
                )?;
                w.audit(&AuditRow {
                    at: new.at,
                    actor: enforcer.clone(),
                    action: AuditAction::Evict,
                    prefix: Some(victim.prefix),
                    detail: format!(
                        "blocklist full; evicted {:?} ban expiring at {} (score {:.3}) for {}",
                        victim.state,
                        victim.expires_at.as_secs(),
                        victim.score,
                        new.prefix
                    ),
                })?;
            }
            if !evicted.is_empty() {
                w.add_to_counter(META_EVICTED, evicted.len() as u64)?;
            }
            let id = w.insert_ban(&new)?;
            if let Some((verdict_id, ev)) = evidence {
                w.add_evidence(id, Some(verdict_id), new.at, new.reason, ev)?;
            }
            w.audit(&AuditRow {
                at: new.at,
                actor: new.created_by.clone(),
                action,
                prefix: Some(new.prefix),
                detail,
            })
        })?;
        for victim in &evicted {
            tracing::warn!(prefix = %victim.prefix, for_prefix = %new.prefix, "blocklist full: ban evicted");
            self.evicted += 1;
            self.count_ended(victim.state);
            self.metrics.ban_removed(EndCause::Evicted);
            if let Err(e) = self.kernel.remove_block(victim.prefix) {
                self.kernel_failed("remove evicted ban", &e);
            }
        }
        self.count_started(new.state);
        self.metrics.ban_added(new.reason, new.state);
        self.write_kernel_block(
            &new.prefix,
            new.reason,
            new.state == BanState::Simulated,
            Counters::default(),
        );
        Ok(evicted.into_iter().map(|b| b.prefix).collect())
    }

    /// Writes one BLOCKLIST entry; a failure leaves the reconciliation to fix it.
    pub(super) fn write_kernel_block(
        &mut self,
        prefix: &IpNet,
        reason: Reason,
        monitor: bool,
        counters: Counters,
    ) {
        if let Err(e) = self.kernel.insert_block(*prefix, reason, monitor, counters) {
            self.kernel_failed("insert ban", &e);
        }
    }
}

impl BanRow {
    /// The stored counters, to carry over when the kernel entry is rewritten.
    pub(crate) fn counters(&self) -> Counters {
        Counters {
            packets: self.packets,
            bytes: self.bytes,
        }
    }
}
