//! `argusctl` requests. Each change is one transaction plus its audit row; bad input changes nothing.

use std::collections::HashMap;
use std::time::Duration;

use argus_proto::control::{
    AllowView, BanState, BanView, ControlError, ControlErrorKind, ControlReply, DryRunReport,
    EffectiveMode, Explanation, ModeSetting, ReportEntry, StatusReport,
};
use argus_proto::{ControlRequest, ControlResponse, Reason, UnixTimeNs};
use ipnet::IpNet;

use super::Engine;
use crate::auth::Actor;
use crate::kernel::Counters;
use crate::lockout::Protection;
use crate::policy::effective_mode;
use crate::prefix::{canonical, covers, host};
use crate::store::{AllowRow, AuditAction, AuditRow, BanRow, EndCause, ModeRecord, ModeSource};
use crate::store::{NewBan, StoreError};
use crate::timefmt::{short, utc};

type CtlResult = Result<ControlReply, ControlError>;

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "database error while serving a control request");
        ControlError {
            kind: ControlErrorKind::Internal,
            message: format!("{e} (nothing was changed)"),
        }
    }
}

fn fail(kind: ControlErrorKind, message: String) -> CtlResult {
    Err(ControlError { kind, message })
}

fn invalid(message: String) -> CtlResult {
    fail(ControlErrorKind::InvalidArgument, message)
}

/// A duration in whole seconds from a request, which must be positive.
fn positive_secs(secs: Option<u64>, what: &str) -> Result<Option<Duration>, ControlError> {
    match secs {
        Some(0) => Err(ControlError {
            kind: ControlErrorKind::InvalidArgument,
            message: format!("{what} must be longer than zero seconds"),
        }),
        other => Ok(other.map(Duration::from_secs)),
    }
}

impl Engine {
    /// Serves one authorised control request from `actor`.
    pub fn control(&mut self, req: ControlRequest, actor: &Actor) -> ControlResponse {
        let span = tracing::info_span!("control", %actor);
        let _entered = span.enter();
        let response = self.dispatch(req, actor);
        self.publish_state();
        response
    }

    fn dispatch(&mut self, req: ControlRequest, actor: &Actor) -> ControlResponse {
        match req {
            ControlRequest::Status => Ok(self.status()),
            ControlRequest::List { simulated, history } => self.list(simulated, history),
            ControlRequest::Block {
                prefix,
                ttl_secs,
                comment,
            } => self.block(prefix, ttl_secs, comment, actor),
            ControlRequest::Unblock {
                prefix,
                allow_for_secs,
            } => self.unblock(prefix, allow_for_secs, actor),
            ControlRequest::Allow {
                prefix,
                comment,
                ttl_secs,
            } => self.allow(prefix, comment, ttl_secs, actor),
            ControlRequest::Disallow { prefix } => self.disallow(prefix, actor),
            ControlRequest::Allowlist => self.allowlist(),
            ControlRequest::Explain { ip } => self.explain(host(ip)),
            ControlRequest::Report => self.report(),
            ControlRequest::Mode { set } => self.mode_request(set, actor),
            ControlRequest::Refit => self.refit(actor),
        }
    }

    fn status(&mut self) -> ControlReply {
        let now = self.clock.now();
        let (_, left) = effective_mode(
            self.setting,
            self.first_start,
            now,
            self.settings.policy.dry_run_duration,
        );
        let dataplane = match self.kernel.stats() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "no data-plane counters for status");
                None
            }
        };
        ControlReply::Status(StatusReport {
            setting: self.setting,
            mode: self.mode,
            dry_run_secs_left: left.map(|d| d.as_secs()),
            bans_active: self.counts.active,
            bans_simulated: self.counts.simulated,
            bans_evicted: self.evicted,
            dataplane,
            kronos: self.kronos.clone(),
            uptime_secs: now.saturating_since(self.started).as_secs(),
            kernel_problem: self.kernel_problem.clone(),
        })
    }

    /// The kernel's counters per banned prefix; empty when the maps cannot be read.
    fn kernel_counters(&mut self) -> HashMap<IpNet, Counters> {
        match self.kernel.list_blocks() {
            Ok(entries) => entries
                .into_iter()
                .map(|e| (e.prefix, e.counters))
                .collect(),
            Err(e) => {
                tracing::debug!(error = %e, "showing stored counters");
                HashMap::new()
            }
        }
    }

    /// `ban` as shown, with the kernel's current counters if it is live.
    fn view(ban: &BanRow, counters: &HashMap<IpNet, Counters>) -> BanView {
        let mut v = ban.view();
        if let Some(c) = counters.get(&ban.prefix).filter(|_| ban.is_live()) {
            v.packets = c.packets;
            v.bytes = c.bytes;
        }
        v
    }

    fn list(&mut self, simulated: bool, history: bool) -> CtlResult {
        let mut states = vec![BanState::Active];
        if simulated {
            states.push(BanState::Simulated);
        }
        if history {
            states.extend([BanState::Expired, BanState::Unblocked]);
        }
        let rows = self.store.read().bans_in(&states)?;
        let counters = self.kernel_counters();
        Ok(ControlReply::Bans(
            rows.iter().map(|b| Self::view(b, &counters)).collect(),
        ))
    }

    fn block(
        &mut self,
        prefix: IpNet,
        ttl_secs: Option<u64>,
        comment: Option<String>,
        actor: &Actor,
    ) -> CtlResult {
        let prefix = canonical(prefix);
        let max = self.settings.policy.max_ttl;
        let ttl = match positive_secs(ttl_secs, "--ttl")? {
            None => self.settings.policy.default_ttl,
            Some(t) if t > max => {
                return invalid(format!(
                    "--ttl {}s is longer than enforcer.max_ttl_secs ({}s)",
                    t.as_secs(),
                    max.as_secs()
                ))
            }
            Some(t) => t,
        };
        if let Some((p, by)) = self.protected.overlapping(prefix) {
            return invalid(format!(
                "refusing to block {prefix}: it overlaps {p}, {by}; nothing was changed"
            ));
        }
        let now = self.clock.now();
        let expires_at = now.saturating_add(ttl);
        let detail = format!(
            "manual block for {}{}",
            short(ttl),
            comment
                .as_deref()
                .map(|c| format!(": {c}"))
                .unwrap_or_default()
        );
        match self.store.read().live_ban(prefix)? {
            Some(ban) => {
                let row = AuditRow {
                    at: now,
                    actor: actor.to_string(),
                    action: AuditAction::Block,
                    prefix: Some(prefix),
                    detail: format!("{detail} (re-armed {:?} ban)", ban.state),
                };
                self.store.write(|w| {
                    w.activate_ban(ban.id, now, expires_at, Reason::Manual, comment.as_deref())?;
                    w.audit(&row)
                })?;
                if ban.state == BanState::Simulated {
                    self.count_ended(BanState::Simulated);
                    self.count_started(BanState::Active);
                    self.write_kernel_block(&prefix, Reason::Manual, false, ban.counters());
                }
            }
            None => {
                let new = NewBan {
                    prefix,
                    reason: Reason::Manual,
                    state: BanState::Active,
                    // The owner's own bans are the last to be evicted.
                    score: f64::MAX,
                    at: now,
                    expires_at,
                    offences: self.next_offence(prefix)?,
                    created_by: actor.to_string(),
                    comment,
                };
                self.create_ban(new, None, AuditAction::Block, detail)?;
            }
        }
        tracing::info!(%prefix, ttl_secs = ttl.as_secs(), "manual block");
        let note = match self.mode {
            EffectiveMode::Enforce => "",
            EffectiveMode::DryRun => " (dry-run: matches are counted, not dropped)",
        };
        Ok(ControlReply::Done(format!(
            "blocked {prefix} until {}{note}",
            utc(expires_at)
        )))
    }

    /// Ends `bans` as lifted by the owner (recording false positives), and optionally allowlists.
    fn lift(
        &mut self,
        bans: &[BanRow],
        cause: EndCause,
        allow: Option<AllowRow>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        let who = actor.to_string();
        let last = self.final_counters(bans);
        self.store.write(|w| {
            for (b, last) in bans.iter().zip(&last) {
                w.end_ban(b.id, BanState::Unblocked, cause, now, *last)?;
                w.add_feedback(b.prefix, b.reason, now, &who, b.id)?;
                w.audit(&AuditRow {
                    at: now,
                    actor: who.clone(),
                    action: AuditAction::Unblock,
                    prefix: Some(b.prefix),
                    detail: format!(
                        "lifted {:?} ban for {} ({}); false positive recorded",
                        b.state,
                        b.reason,
                        match cause {
                            EndCause::Allowlisted => "allowlisted",
                            _ => "unblocked",
                        }
                    ),
                })?;
            }
            if let Some(a) = &allow {
                w.upsert_allow(a)?;
                w.audit(&AuditRow {
                    at: now,
                    actor: who.clone(),
                    action: AuditAction::Allow,
                    prefix: Some(a.prefix),
                    detail: format!(
                        "allowed{}: {}",
                        a.expires_at
                            .map(|t| format!(" until {}", utc(t)))
                            .unwrap_or_default(),
                        a.comment
                    ),
                })?;
            }
            Ok(())
        })?;
        for b in bans {
            let _span =
                tracing::info_span!("unblock", prefix = %b.prefix, reason = %b.reason).entered();
            tracing::info!(%actor, "ban lifted");
            self.count_ended(b.state);
            self.metrics.ban_removed(cause);
            if let Err(e) = self.kernel.remove_block(b.prefix) {
                self.kernel_failed("remove unblocked ban", &e);
            }
        }
        if allow.is_some() {
            self.rebuild_protected()?;
            self.push_allowlist();
        }
        Ok(())
    }

    /// Refuses a new allowlist entry when the kernel ALLOWLIST is full.
    fn check_allowlist_room(&self, prefix: IpNet) -> Result<(), ControlError> {
        let prefixes = self.protected.prefixes();
        if !prefixes.contains(&prefix) && prefixes.len() >= self.settings.allowlist_max_entries {
            return Err(ControlError {
                kind: ControlErrorKind::InvalidArgument,
                message: format!(
                    "the allowlist is full ({} entries, enforcer.allowlist_max_entries); nothing was changed",
                    prefixes.len()
                ),
            });
        }
        Ok(())
    }

    fn unblock(&mut self, prefix: IpNet, allow_for: Option<u64>, actor: &Actor) -> CtlResult {
        let prefix = canonical(prefix);
        let allow_for = positive_secs(allow_for, "--allow-for")?;
        let read = self.store.read();
        let bans = read.live_bans_covering(prefix)?;
        if bans.is_empty() {
            let message = match read.latest_ban_covering(prefix)? {
                Some(b) => format!(
                    "no active or simulated ban covers {prefix}; the last ban of {} ({}) {} at {}",
                    b.prefix,
                    b.reason,
                    match b.end_cause {
                        Some(EndCause::Ttl) => "expired",
                        Some(EndCause::Evicted) => "was evicted",
                        Some(EndCause::Unblocked) => "was unblocked",
                        Some(EndCause::Allowlisted) => "was lifted by an allow",
                        None => "ended",
                    },
                    b.ended_at.map(utc).unwrap_or_default()
                ),
                None => format!("no ban covers {prefix}: it was never banned"),
            };
            return fail(ControlErrorKind::NotFound, message);
        }
        let now = self.clock.now();
        let allow = match allow_for {
            Some(d) => {
                self.check_allowlist_room(bans[0].prefix)?;
                Some(AllowRow {
                    prefix: bans[0].prefix,
                    comment: format!("unblocked by {actor}"),
                    expires_at: Some(now.saturating_add(d)),
                    created_at: now,
                    created_by: actor.to_string(),
                })
            }
            None => None,
        };
        let allowed = allow.as_ref().map(|a| (a.prefix, a.expires_at));
        self.lift(&bans, EndCause::Unblocked, allow, actor)?;
        let lifted: Vec<String> = bans
            .iter()
            .map(|b| format!("{} ({})", b.prefix, b.reason))
            .collect();
        let allowed = allowed
            .map(|(p, t)| format!("; {p} allowed until {}", t.map(utc).unwrap_or_default()))
            .unwrap_or_default();
        Ok(ControlReply::Done(format!(
            "unblocked {}; recorded as a false positive{allowed}",
            lifted.join(", ")
        )))
    }

    fn allow(
        &mut self,
        prefix: IpNet,
        comment: Option<String>,
        ttl_secs: Option<u64>,
        actor: &Actor,
    ) -> CtlResult {
        let prefix = canonical(prefix);
        let ttl = positive_secs(ttl_secs, "--ttl")?;
        self.check_allowlist_room(prefix)?;
        let now = self.clock.now();
        let row = AllowRow {
            prefix,
            comment: comment.unwrap_or_default(),
            expires_at: ttl.map(|d| now.saturating_add(d)),
            created_at: now,
            created_by: actor.to_string(),
        };
        // Bans inside the allowed prefix are lifted; a wider ban stays, the kernel lets the allowed
        // part through because an ALLOWLIST match overrides any ban.
        let covered: Vec<BanRow> = self
            .store
            .read()
            .live_bans()?
            .into_iter()
            .filter(|b| covers(prefix, b.prefix))
            .collect();
        let until = row
            .expires_at
            .map(|t| format!(" until {}", utc(t)))
            .unwrap_or_default();
        self.lift(&covered, EndCause::Allowlisted, Some(row), actor)?;
        let lifted = if covered.is_empty() {
            String::new()
        } else {
            format!("; lifted {} ban(s) inside it", covered.len())
        };
        Ok(ControlReply::Done(format!(
            "allowed {prefix}{until}{lifted}"
        )))
    }

    fn disallow(&mut self, prefix: IpNet, actor: &Actor) -> CtlResult {
        let prefix = canonical(prefix);
        let now = self.clock.now();
        let row = AuditRow {
            at: now,
            actor: actor.to_string(),
            action: AuditAction::Disallow,
            prefix: Some(prefix),
            detail: "removed from the allowlist".into(),
        };
        let removed = self.store.write(|w| {
            let removed = w.delete_allow(prefix)?;
            if removed {
                w.audit(&row)?;
            }
            Ok(removed)
        })?;
        if removed {
            self.rebuild_protected()?;
            self.push_allowlist();
            return Ok(ControlReply::Done(format!(
                "{prefix} removed from the allowlist"
            )));
        }
        match self.protected.entries().iter().find(|(p, _)| *p == prefix) {
            Some((_, Protection::Configured)) => invalid(format!(
                "{prefix} is on the allowlist in aegis.yaml; remove it there and restart"
            )),
            Some((_, by)) => invalid(format!(
                "{prefix} is {by}, which cannot be disallowed; see anti_lockout in aegis.yaml"
            )),
            None => fail(
                ControlErrorKind::NotFound,
                format!("{prefix} is not on the allowlist"),
            ),
        }
    }

    fn allowlist(&self) -> CtlResult {
        let mut out: Vec<AllowView> = Vec::new();
        for (prefix, by) in self.protected.entries() {
            match by {
                // Listed with their expiry from SQLite below.
                Protection::Allowlisted { .. } => {}
                Protection::Configured => out.push(AllowView {
                    prefix: *prefix,
                    comment: "allowlist in aegis.yaml".into(),
                    expires_at: None,
                    created_by: Actor::Config.to_string(),
                }),
                other => out.push(AllowView {
                    prefix: *prefix,
                    comment: other.to_string(),
                    expires_at: None,
                    created_by: "anti-lockout".into(),
                }),
            }
        }
        out.extend(self.store.read().allowlist()?.iter().map(AllowRow::view));
        Ok(ControlReply::Allowlist(out))
    }

    fn explain(&mut self, prefix: IpNet) -> CtlResult {
        let read = self.store.read();
        let ban = match read.live_bans_covering(prefix)?.into_iter().next() {
            Some(b) => Some(b),
            None => read.latest_ban_covering(prefix)?,
        };
        let Some(ban) = ban else {
            return fail(
                ControlErrorKind::NotFound,
                format!("{} is not banned and never was", prefix.addr()),
            );
        };
        let evidence = read.evidence(ban.id)?;
        let counters = self.kernel_counters();
        Ok(ControlReply::Explain(Explanation {
            ban: Self::view(&ban, &counters),
            evidence,
        }))
    }

    fn report(&mut self) -> CtlResult {
        // Brings the live bans' counters into SQLite, where the ended ones already are.
        self.reconcile()?;
        let now = self.clock.now();
        let period = self.settings.policy.dry_run_duration;
        let since = UnixTimeNs(
            now.0
                .saturating_sub(period.as_nanos() as u64)
                .max(self.first_start.0),
        );
        let entries: Vec<ReportEntry> = self
            .store
            .read()
            .simulated_since(since)?
            .iter()
            .map(|b| ReportEntry {
                ban: b.view(),
                allowlisted_now: self.protected.overlapping(b.prefix).is_some(),
            })
            .collect();
        let would_drop_packets = entries.iter().map(|e| e.ban.packets).sum();
        Ok(ControlReply::Report(DryRunReport {
            since,
            entries,
            would_drop_packets,
        }))
    }

    fn mode_request(&mut self, set: Option<ModeSetting>, actor: &Actor) -> CtlResult {
        if let Some(setting) = set {
            let now = self.clock.now();
            let (mode, _) = effective_mode(
                setting,
                self.first_start,
                now,
                self.settings.policy.dry_run_duration,
            );
            let rec = ModeRecord {
                at: now,
                setting,
                effective: mode,
                source: ModeSource::Argusctl,
                actor: actor.to_string(),
            };
            let row = AuditRow {
                at: now,
                actor: actor.to_string(),
                action: AuditAction::Mode,
                prefix: None,
                detail: format!(
                    "setting {:?} -> {setting:?}; mode in force {:?} -> {mode:?}",
                    self.setting, self.mode
                ),
            };
            self.store.write(|w| {
                w.record_mode(&rec)?;
                w.audit(&row)
            })?;
            tracing::warn!(%actor, ?setting, ?mode, "mode changed by argusctl");
            self.setting = setting;
            self.set_mode(mode);
            self.promote_simulated(now, &actor.to_string())?;
        }
        Ok(ControlReply::Mode {
            setting: self.setting,
            mode: self.mode,
        })
    }

    fn refit(&mut self, actor: &Actor) -> CtlResult {
        let row = AuditRow {
            at: self.clock.now(),
            actor: actor.to_string(),
            action: AuditAction::Refit,
            prefix: None,
            detail: "asked kronos to re-fit its baseline model".into(),
        };
        self.store.write(|w| w.audit(&row))?;
        Ok(ControlReply::Done(
            "asked kronos to re-fit its baseline model".into(),
        ))
    }
}
