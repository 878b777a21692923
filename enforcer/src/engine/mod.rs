//! The enforcer's state machine: every decision, owned by the single writer thread.
//!
//! Each decision is one SQLite transaction; the kernel maps are written after it commits. If the kernel
//! write fails (sentinel not started, maps re-created) the decision stands in SQLite and
//! [`Engine::tick`] reconciles the maps as soon as they can be used, so SQLite is always the truth and
//! the kernel converges to it.

mod control;
mod verdict;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use argus_config::{AntiLockout, Config};
use argus_proto::control::{BanState, EffectiveMode, ModeSetting};
use argus_proto::{Feedback, KronosStatus, UnixTimeNs};
use ipnet::IpNet;

use crate::auth::Actor;
use crate::clock::Clock;
use crate::kernel::{Counters, KernelError, KernelMaps, MapsHealth};
use crate::lockout::{Protected, SystemInfo, SystemSnapshot};
use crate::metrics::EnforcerMetrics;
use crate::policy::{configured_setting, effective_mode, Policy};
use crate::store::{
    AuditAction, AuditRow, BanRow, EndCause, LiveCounts, ModeRecord, ModeSource, Store, StoreError,
};

pub use verdict::{Suppression, VerdictOutcome};

/// `meta` key of the first start's time.
const META_FIRST_START: &str = "first_start_ns";
/// `meta` key of the number of bans evicted because the blocklist was full.
const META_EVICTED: &str = "bans_evicted";
/// How often the audit log and the ban history are pruned to their retention bounds when nothing is
/// left over.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Rows deleted per tick at most, per kind of pruning (audit log, ban history): a few milliseconds of
/// the writer thread, so verdicts and argusctl never wait long behind pruning; a backlog (first start
/// after an upgrade, a lowered bound) goes at this rate per second.
const PRUNE_BATCH: usize = 5_000;

/// What the engine takes from aegis.yaml.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Ban policy.
    pub policy: Policy,
    /// `enforcer.mode`.
    pub configured_setting: ModeSetting,
    /// The allowlist in aegis.yaml.
    pub allowlist: Vec<IpNet>,
    /// Anti-lockout sources.
    pub anti_lockout: AntiLockout,
    /// How often SQLite and the kernel are reconciled in full.
    pub reconcile_interval: Duration,
    /// Most ALLOWLIST entries.
    pub allowlist_max_entries: usize,
    /// Audit rows older than this are deleted (`None`: kept however old).
    pub audit_retention: Option<Duration>,
    /// At most this many audit rows are kept (`None`: no limit).
    pub audit_max_rows: Option<u64>,
    /// Ended bans (with their evidence) that ended longer ago than this are deleted, and delivered
    /// feedback once both this and the unblock grace have passed (`None`: all kept however old).
    pub ban_history_retention: Option<Duration>,
}

impl Settings {
    /// The settings in `cfg`.
    pub fn from_config(cfg: &Config) -> Self {
        Self {
            policy: Policy::from_config(&cfg.enforcer),
            configured_setting: configured_setting(cfg.enforcer.mode),
            allowlist: cfg.allowlist.clone(),
            anti_lockout: cfg.anti_lockout.clone(),
            reconcile_interval: Duration::from_secs(cfg.enforcer.reconcile_interval_secs),
            allowlist_max_entries: cfg.enforcer.allowlist_max_entries as usize,
            audit_retention: (cfg.enforcer.audit_retention_days > 0).then(|| {
                Duration::from_secs(u64::from(cfg.enforcer.audit_retention_days) * 86_400)
            }),
            audit_max_rows: (cfg.enforcer.audit_max_rows > 0)
                .then_some(u64::from(cfg.enforcer.audit_max_rows)),
            ban_history_retention: (cfg.enforcer.ban_history_retention_days > 0).then(|| {
                Duration::from_secs(u64::from(cfg.enforcer.ban_history_retention_days) * 86_400)
            }),
        }
    }
}

/// What one reconciliation changed in the kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Bans put into the map.
    pub added: usize,
    /// Stray entries removed.
    pub removed: usize,
    /// Entries rewritten because their monitor flag or reason was wrong.
    pub fixed: usize,
}

/// The enforcer's state.
pub struct Engine {
    store: Store,
    kernel: Box<dyn KernelMaps>,
    clock: Arc<dyn Clock>,
    system: Box<dyn SystemInfo>,
    settings: Settings,
    snapshot: SystemSnapshot,
    protected: Protected,
    setting: ModeSetting,
    mode: EffectiveMode,
    first_start: UnixTimeNs,
    started: UnixTimeNs,
    counts: LiveCounts,
    evicted: u64,
    /// Why the kernel maps may differ from SQLite; `None` once a reconciliation succeeded.
    kernel_problem: Option<String>,
    last_reconcile: Option<UnixTimeNs>,
    last_system_read: Option<UnixTimeNs>,
    /// When the audit log and ban history were last pruned; `None` also while rows beyond their
    /// bounds are left over.
    last_prune: Option<UnixTimeNs>,
    kronos: Option<KronosStatus>,
    metrics: EnforcerMetrics,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.store)
            .field("mode", &self.mode)
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Starts the engine on an open database: records the first start and the configured mode,
    /// then reconciles the kernel maps (if they are there yet).
    pub fn new(
        store: Store,
        kernel: Box<dyn KernelMaps>,
        clock: Arc<dyn Clock>,
        system: Box<dyn SystemInfo>,
        settings: Settings,
    ) -> Result<Self, StoreError> {
        let mut engine = Self {
            store,
            kernel,
            started: clock.now(),
            clock,
            system,
            settings,
            snapshot: SystemSnapshot::default(),
            protected: Protected::default(),
            setting: ModeSetting::Auto,
            mode: EffectiveMode::DryRun,
            first_start: UnixTimeNs(0),
            counts: LiveCounts::default(),
            evicted: 0,
            kernel_problem: Some("not reconciled yet".into()),
            last_reconcile: None,
            last_system_read: None,
            last_prune: None,
            kronos: None,
            metrics: EnforcerMetrics::new(),
        };
        engine.load_mode()?;
        let read = engine.store.read();
        engine.counts = read.live_counts()?;
        engine.evicted = read
            .meta(META_EVICTED)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        engine.tick()?;
        Ok(engine)
    }

    /// Reads the first start and mode history, recording the first start and a changed configured
    /// setting.
    fn load_mode(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now();
        let configured = self.settings.configured_setting;
        let dry_run = self.settings.policy.dry_run_duration;
        let (first_start, latest) = self.store.write(|w| {
            let r = w.read();
            let first_start = match r.meta(META_FIRST_START)?.and_then(|v| v.parse().ok()) {
                Some(ns) => UnixTimeNs(ns),
                None => {
                    w.set_meta(META_FIRST_START, &now.0.to_string())?;
                    now
                }
            };
            // A setting edited in aegis.yaml takes over; an unchanged file keeps what argusctl set.
            let config_changed = r
                .latest_mode(Some(ModeSource::Config))?
                .is_none_or(|m| m.setting != configured);
            if config_changed {
                let rec = ModeRecord {
                    at: now,
                    setting: configured,
                    effective: effective_mode(configured, first_start, now, dry_run).0,
                    source: ModeSource::Config,
                    actor: Actor::Config.to_string(),
                };
                w.record_mode(&rec)?;
                w.audit(&AuditRow {
                    at: now,
                    actor: rec.actor.clone(),
                    action: AuditAction::Mode,
                    prefix: None,
                    detail: format!("setting {configured:?} from aegis.yaml"),
                })?;
            }
            Ok((first_start, w.read().latest_mode(None)?))
        })?;
        self.first_start = first_start;
        let latest = latest.expect("a mode row was just ensured");
        self.setting = latest.setting;
        self.mode = latest.effective;
        tracing::info!(setting = ?self.setting, mode = ?self.mode, first_start = first_start.as_secs(), "mode loaded");
        Ok(())
    }

    /// Periodic work: the end of the dry-run period, expiry, and reconciliation of the kernel maps
    /// when they changed, when a write failed, or when the reconcile interval has passed.
    pub fn tick(&mut self) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.apply_mode(now)?;
        self.expire(now)?;
        self.promote_simulated(now, &Actor::Enforcer.to_string())?;
        if self
            .last_prune
            .is_none_or(|t| now.saturating_since(t) >= PRUNE_INTERVAL)
        {
            // `|`, not `||`: each gets its batch, whether or not the other left rows over.
            let left_over = self.prune_audit(now)? | self.prune_history(now)?;
            self.last_prune = (!left_over).then_some(now);
        }
        // Anti-lockout must hold whether or not the kernel maps exist yet.
        if self
            .last_system_read
            .is_none_or(|t| now.saturating_since(t) >= self.settings.reconcile_interval)
        {
            self.refresh_protection()?;
        }
        match self.kernel.refresh() {
            MapsHealth::Missing { detail } => {
                if self.kernel_problem.as_deref() != Some(detail.as_str()) {
                    tracing::warn!(%detail, "kernel maps unavailable; bans are kept in SQLite and written when they appear");
                }
                self.kernel_problem = Some(detail);
            }
            MapsHealth::Ready { recreated } => {
                let due = self
                    .last_reconcile
                    .is_none_or(|t| now.saturating_since(t) >= self.settings.reconcile_interval);
                if recreated || due || self.kernel_problem.is_some() {
                    if recreated {
                        tracing::info!("kernel maps (re)appeared; reconciling them with SQLite");
                    }
                    self.reconcile()?;
                }
            }
        }
        self.publish_state();
        Ok(())
    }

    /// Brings the metrics' gauges up to date (after every tick, verdict and control request).
    fn publish_state(&self) {
        self.metrics
            .set_state(self.counts, self.mode, self.kernel_problem.is_none());
    }

    /// Makes the kernel hold exactly what SQLite says: the live bans (active ones enforcing,
    /// simulated ones as monitor entries), the protected prefixes in ALLOWLIST, and the dry-run flag.
    /// Also stores the kernel's counters in SQLite.
    pub fn reconcile(&mut self) -> Result<ReconcileReport, StoreError> {
        let now = self.clock.now();
        match self.reconcile_kernel() {
            Ok((report, counters)) => {
                self.store.write(|w| {
                    for (id, c) in &counters {
                        w.set_counters(*id, *c)?;
                    }
                    Ok(())
                })?;
                if report != ReconcileReport::default() || self.kernel_problem.is_some() {
                    tracing::info!(
                        added = report.added,
                        removed = report.removed,
                        fixed = report.fixed,
                        "kernel maps reconciled with SQLite"
                    );
                }
                self.kernel_problem = None;
                self.last_reconcile = Some(now);
                self.counts = self.store.read().live_counts()?;
                Ok(report)
            }
            Err(KernelErrorOrStore::Store(e)) => Err(e),
            Err(KernelErrorOrStore::Kernel(e)) => {
                self.kernel_failed("reconcile", &e);
                Ok(ReconcileReport::default())
            }
        }
    }

    /// The kernel side of [`Engine::reconcile`]; returns the counters of the entries that were kept.
    fn reconcile_kernel(
        &mut self,
    ) -> Result<(ReconcileReport, Vec<(i64, Counters)>), KernelErrorOrStore> {
        self.kernel.set_allowlist(&self.protected.prefixes())?;
        self.kernel
            .set_dry_run(self.mode == EffectiveMode::DryRun)?;
        let live: BTreeMap<IpNet, _> = self
            .store
            .read()
            .live_bans()?
            .into_iter()
            .map(|b| (b.prefix, b))
            .collect();
        let mut report = ReconcileReport::default();
        let mut kept = Vec::new();
        let mut in_kernel = HashMap::new();
        for entry in self.kernel.list_blocks()? {
            in_kernel.insert(entry.prefix, ());
            match live.get(&entry.prefix) {
                None => {
                    self.kernel.remove_block(entry.prefix)?;
                    tracing::info!(prefix = %entry.prefix, "removed stray kernel entry");
                    report.removed += 1;
                }
                Some(ban) => {
                    let monitor = ban.state == BanState::Simulated;
                    // A wrong reason is fixed too: operators read it next to the counters.
                    if entry.monitor != monitor || entry.reason != Some(ban.reason) {
                        self.kernel.insert_block(
                            ban.prefix,
                            ban.reason,
                            monitor,
                            entry.counters,
                        )?;
                        report.fixed += 1;
                    }
                    if entry.counters != ban.counters() {
                        kept.push((ban.id, entry.counters));
                    }
                }
            }
        }
        for (prefix, ban) in &live {
            if !in_kernel.contains_key(prefix) {
                let counters = Counters {
                    packets: ban.packets,
                    bytes: ban.bytes,
                };
                self.kernel.insert_block(
                    *prefix,
                    ban.reason,
                    ban.state == BanState::Simulated,
                    counters,
                )?;
                report.added += 1;
            }
        }
        Ok((report, kept))
    }

    /// Deletes one batch of audit rows beyond the configured retention; `true` if the batch was full
    /// (the rest is left for the next tick).
    fn prune_audit(&mut self, now: UnixTimeNs) -> Result<bool, StoreError> {
        let older_than = self.settings.audit_retention.map(|r| now.saturating_sub(r));
        let max_rows = self.settings.audit_max_rows;
        if older_than.is_none() && max_rows.is_none() {
            return Ok(false);
        }
        let deleted = self
            .store
            .write(|w| w.prune_audit(older_than, max_rows, PRUNE_BATCH))?;
        if deleted > 0 {
            tracing::info!(
                deleted,
                retention_days = self.settings.audit_retention.map(|r| r.as_secs() / 86_400),
                max_rows,
                "audit log pruned"
            );
        }
        Ok(deleted == PRUNE_BATCH)
    }

    /// Deletes one batch of ban history beyond the configured retention; `true` if the batch was full
    /// (the rest is left for the next tick).
    ///
    /// Repeat-offender escalation counts from a prefix's newest ban, so a source whose bans all ended
    /// more than the retention period ago is a first offender again: the retention is also how long
    /// an offence is remembered. Feedback is kept while it still suppresses re-bans (the unblock grace)
    /// and until kronos has it, and its ban with it.
    fn prune_history(&mut self, now: UnixTimeNs) -> Result<bool, StoreError> {
        let Some(retention) = self.settings.ban_history_retention else {
            return Ok(false);
        };
        let ended_before = now.saturating_sub(retention);
        let feedback_before = now.saturating_sub(retention.max(self.settings.policy.unblock_grace));
        let deleted = self
            .store
            .write(|w| w.prune_history(ended_before, feedback_before, PRUNE_BATCH))?;
        if deleted > 0 {
            tracing::info!(
                deleted,
                retention_days = retention.as_secs() / 86_400,
                "ban history pruned"
            );
        }
        Ok(deleted == PRUNE_BATCH)
    }

    /// Reads the system's own addresses, gateways and DNS servers again and rebuilds the protected
    /// set (the kernel ALLOWLIST follows at the next reconciliation).
    fn refresh_protection(&mut self) -> Result<(), StoreError> {
        self.snapshot
            .refresh(self.system.as_ref(), &self.settings.anti_lockout);
        self.last_system_read = Some(self.clock.now());
        let before = self.protected.prefixes();
        self.rebuild_protected()?;
        if self.protected.prefixes() != before {
            tracing::info!(
                protected = self.protected.entries().len(),
                "protected prefixes (anti-lockout and allowlist) updated"
            );
            self.push_allowlist();
        }
        Ok(())
    }

    /// Rebuilds the protected set from its sources (after an allowlist change or a system reading).
    fn rebuild_protected(&mut self) -> Result<(), StoreError> {
        let allow = self.store.read().allowlist()?;
        self.protected = Protected::build(
            &self.settings.allowlist,
            &self.settings.anti_lockout,
            &self.snapshot,
            &allow,
        );
        Ok(())
    }

    /// Writes the protected set to the kernel ALLOWLIST.
    fn push_allowlist(&mut self) {
        if let Err(e) = self.kernel.set_allowlist(&self.protected.prefixes()) {
            self.kernel_failed("allowlist update", &e);
        }
    }

    /// Records that the kernel may now differ from SQLite; the next tick reconciles.
    fn kernel_failed(&mut self, op: &str, e: &KernelError) {
        match e {
            KernelError::Unavailable(_) => {
                tracing::debug!(op, error = %e, "kernel maps unavailable; will reconcile later")
            }
            KernelError::Op { .. } => {
                tracing::error!(op, error = %e, "kernel map write failed; will reconcile")
            }
        }
        self.kernel_problem = Some(e.to_string());
    }

    /// Switches the mode in force when the dry-run period ends (or the setting changed), loudly.
    fn apply_mode(&mut self, now: UnixTimeNs) -> Result<(), StoreError> {
        let (mode, _) = effective_mode(
            self.setting,
            self.first_start,
            now,
            self.settings.policy.dry_run_duration,
        );
        if mode == self.mode {
            return Ok(());
        }
        let setting = self.setting;
        self.store.write(|w| {
            w.record_mode(&ModeRecord {
                at: now,
                setting,
                effective: mode,
                source: ModeSource::Clock,
                actor: Actor::Enforcer.to_string(),
            })?;
            w.audit(&AuditRow {
                at: now,
                actor: Actor::Enforcer.to_string(),
                action: AuditAction::Mode,
                prefix: None,
                detail: format!("mode in force is now {mode:?} (setting {setting:?})"),
            })
        })?;
        self.set_mode(mode);
        Ok(())
    }

    /// Puts `mode` in force in memory and in the kernel.
    fn set_mode(&mut self, mode: EffectiveMode) {
        if mode != self.mode {
            match mode {
                EffectiveMode::Enforce => tracing::warn!(
                    setting = ?self.setting,
                    "===== ENFORCING: the dry-run is over; new verdicts are active bans and banned sources are DROPPED ====="
                ),
                EffectiveMode::DryRun => tracing::warn!(
                    setting = ?self.setting,
                    "===== DRY-RUN: nothing is dropped; verdicts become simulated bans counted as would_drop ====="
                ),
            }
        }
        self.mode = mode;
        if let Err(e) = self.kernel.set_dry_run(mode == EffectiveMode::DryRun) {
            self.kernel_failed("dry-run flag", &e);
        }
    }

    /// Ends the bans and allowlist entries whose time has come.
    fn expire(&mut self, now: UnixTimeNs) -> Result<(), StoreError> {
        let read = self.store.read();
        let bans = read.due_bans(now)?;
        let allows = read.due_allows(now)?;
        if bans.is_empty() && allows.is_empty() {
            return Ok(());
        }
        let actor = Actor::Enforcer.to_string();
        let last = self.final_counters(&bans);
        self.store.write(|w| {
            for (b, last) in bans.iter().zip(&last) {
                w.end_ban(b.id, BanState::Expired, EndCause::Ttl, now, *last)?;
                w.audit(&AuditRow {
                    at: now,
                    actor: actor.clone(),
                    action: AuditAction::Expire,
                    prefix: Some(b.prefix),
                    detail: format!("{:?} ban for {} expired", b.state, b.reason),
                })?;
            }
            for a in &allows {
                w.delete_allow(a.prefix)?;
                w.audit(&AuditRow {
                    at: now,
                    actor: actor.clone(),
                    action: AuditAction::Disallow,
                    prefix: Some(a.prefix),
                    detail: "allowlist entry expired".into(),
                })?;
            }
            Ok(())
        })?;
        for b in &bans {
            self.count_ended(b.state);
            self.metrics.ban_removed(EndCause::Ttl);
            let _span =
                tracing::info_span!("expire", prefix = %b.prefix, reason = %b.reason).entered();
            tracing::info!(state = ?b.state, "ban expired");
            if let Err(e) = self.kernel.remove_block(b.prefix) {
                self.kernel_failed("remove expired ban", &e);
            }
        }
        if !allows.is_empty() {
            self.rebuild_protected()?;
            self.push_allowlist();
        }
        Ok(())
    }

    /// The kernel's counters of bans about to leave the map, so SQLite keeps their final counts (the
    /// dry-run report sums them). `None` where the kernel cannot tell.
    fn final_counters(&mut self, bans: &[BanRow]) -> Vec<Option<Counters>> {
        bans.iter()
            .map(|b| match self.kernel.block_counters(b.prefix) {
                Ok(c) => c,
                Err(e) => {
                    tracing::debug!(prefix = %b.prefix, error = %e, "final counters unavailable");
                    None
                }
            })
            .collect()
    }

    /// While enforcing, the dry-run's live simulated bans become active ones, whichever way enforcement
    /// began (the dry-run week ended, `argusctl mode enforce`, aegis.yaml, a restart after either). The
    /// owner had the dry-run report to allow friends first, and kronos sends no new verdict for a source
    /// it already reported, so without this a source banned yesterday in dry-run would roam free today.
    /// Bans covering a prefix protected now (allowlisted since) stay simulated and run out.
    pub(super) fn promote_simulated(
        &mut self,
        now: UnixTimeNs,
        actor: &str,
    ) -> Result<(), StoreError> {
        if self.mode != EffectiveMode::Enforce || self.counts.simulated == 0 {
            return Ok(());
        }
        let due: Vec<BanRow> = self
            .store
            .read()
            .bans_in(&[BanState::Simulated])?
            .into_iter()
            .filter(|b| b.expires_at > now && self.protected.overlapping(b.prefix).is_none())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        self.store.write(|w| {
            for b in &due {
                w.activate_ban(b.id, now, b.expires_at, b.reason, None)?;
                w.audit(&AuditRow {
                    at: now,
                    actor: actor.to_owned(),
                    action: AuditAction::Ban,
                    prefix: Some(b.prefix),
                    detail: format!(
                        "{}: simulated ban from the dry-run promoted on enforcement",
                        b.reason
                    ),
                })?;
            }
            Ok(())
        })?;
        tracing::warn!(promoted = due.len(), "dry-run bans are now enforced");
        for b in &due {
            self.count_ended(BanState::Simulated);
            self.count_started(BanState::Active);
            self.write_kernel_block(&b.prefix, b.reason, false, b.counters());
        }
        Ok(())
    }

    /// Adjusts the live counts for a ban in `state` that ended.
    fn count_ended(&mut self, state: BanState) {
        match state {
            BanState::Active => self.counts.active = self.counts.active.saturating_sub(1),
            BanState::Simulated => self.counts.simulated = self.counts.simulated.saturating_sub(1),
            BanState::Expired | BanState::Unblocked => {}
        }
    }

    /// Adjusts the live counts for a new ban in `state`.
    fn count_started(&mut self, state: BanState) {
        match state {
            BanState::Active => self.counts.active += 1,
            BanState::Simulated => self.counts.simulated += 1,
            BanState::Expired | BanState::Unblocked => {}
        }
    }

    /// Kronos's latest status (`None` when it disconnected), for `argusctl status`.
    pub fn set_kronos_status(&mut self, status: Option<KronosStatus>) {
        self.kronos = status;
    }

    /// False-positive feedback not yet delivered to kronos, with row ids.
    pub fn pending_feedback(&self) -> Result<Vec<(i64, Feedback)>, StoreError> {
        self.store.read().pending_feedback()
    }

    /// Marks feedback rows as delivered.
    pub fn feedback_delivered(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let now = self.clock.now();
        self.store.write(|w| w.mark_feedback_delivered(ids, now))
    }

    /// Audits a refused control request.
    pub fn audit_denied(&mut self, actor: &Actor, request: &str) -> Result<(), StoreError> {
        let row = AuditRow {
            at: self.clock.now(),
            actor: actor.to_string(),
            action: AuditAction::Denied,
            prefix: None,
            detail: format!("refused: {request}"),
        };
        tracing::warn!(%actor, request, "control request refused");
        self.store.write(|w| w.audit(&row))
    }

    /// The metrics the engine counts into.
    pub fn metrics(&self) -> &EnforcerMetrics {
        &self.metrics
    }

    /// The mode in force.
    pub fn mode(&self) -> EffectiveMode {
        self.mode
    }

    /// Live ban counts.
    pub fn counts(&self) -> LiveCounts {
        self.counts
    }

    /// Why the kernel may differ from SQLite, if it may.
    pub fn kernel_problem(&self) -> Option<&str> {
        self.kernel_problem.as_deref()
    }

    /// The database (for tests and inspection).
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// A reconciliation failure: kernel failures are retried, database failures are errors.
enum KernelErrorOrStore {
    Kernel(KernelError),
    Store(StoreError),
}

impl From<KernelError> for KernelErrorOrStore {
    fn from(e: KernelError) -> Self {
        Self::Kernel(e)
    }
}

impl From<StoreError> for KernelErrorOrStore {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

#[cfg(test)]
mod tests;
