//! The enforcer's Prometheus metrics (served by `argus-metrics`; each metric is listed with its meaning
//! in README.md, "Metrics"). The [`Engine`](crate::engine::Engine) owns them and counts where bans,
//! verdicts and mode changes happen; the control server counts requests.

use argus_metrics::prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Registry};
use argus_metrics::{counter_vec, gauge_vec, registered};
use argus_proto::control::{BanState, EffectiveMode};
use argus_proto::{ControlRequest, Reason};

use crate::engine::VerdictOutcome;
use crate::store::{EndCause, LiveCounts};

/// The enforcer's metrics, in their own registry. Clones share the values.
#[derive(Debug, Clone)]
pub struct EnforcerMetrics {
    registry: Registry,
    bans: IntGaugeVec,
    bans_added: IntCounterVec,
    bans_removed: IntCounterVec,
    mode: IntGaugeVec,
    verdicts: IntCounterVec,
    kernel_in_sync: IntGauge,
    control: IntCounterVec,
}

impl Default for EnforcerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn state_label(state: BanState) -> &'static str {
    match state {
        BanState::Active => "active",
        BanState::Simulated => "simulated",
        BanState::Expired => "expired",
        BanState::Unblocked => "unblocked",
    }
}

fn mode_label(mode: EffectiveMode) -> &'static str {
    match mode {
        EffectiveMode::DryRun => "dry_run",
        EffectiveMode::Enforce => "enforce",
    }
}

/// The `command` label of a control request (argusctl's subcommand).
pub fn command_label(req: &ControlRequest) -> &'static str {
    match req {
        ControlRequest::Status => "status",
        ControlRequest::List { .. } => "list",
        ControlRequest::Block { .. } => "block",
        ControlRequest::Unblock { .. } => "unblock",
        ControlRequest::Allow { .. } => "allow",
        ControlRequest::Disallow { .. } => "disallow",
        ControlRequest::Allowlist => "allowlist",
        ControlRequest::Explain { .. } => "explain",
        ControlRequest::Report => "report",
        ControlRequest::Mode { .. } => "mode",
        ControlRequest::Refit => "refit",
    }
}

impl EnforcerMetrics {
    /// Every metric at zero, registered in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let kernel_in_sync = registered(
            &registry,
            IntGauge::new(
                "argus_enforcer_kernel_in_sync",
                "1 when the kernel BLOCKLIST holds exactly the live bans (last reconciliation and writes succeeded).",
            ),
        );
        let m = Self {
            bans: gauge_vec(
                &registry,
                "argus_enforcer_bans",
                "Live bans by state: active (dropped in XDP) or simulated (dry-run, counted as would-drop).",
                &["state"],
            ),
            bans_added: counter_vec(
                &registry,
                "argus_enforcer_bans_added_total",
                "Bans created, by reason and state (active or simulated).",
                &["reason", "state"],
            ),
            bans_removed: counter_vec(
                &registry,
                "argus_enforcer_bans_removed_total",
                "Bans ended, by cause: ttl, evicted (blocklist full), unblocked, allowlisted.",
                &["cause"],
            ),
            mode: gauge_vec(
                &registry,
                "argus_enforcer_mode",
                "1 for the mode in force (dry_run or enforce), 0 for the other.",
                &["mode"],
            ),
            verdicts: counter_vec(
                &registry,
                "argus_enforcer_verdicts_total",
                "Verdicts received from kronos, by outcome: banned, refreshed, watched, suppressed.",
                &["outcome"],
            ),
            kernel_in_sync,
            control: counter_vec(
                &registry,
                "argus_enforcer_control_requests_total",
                "argusctl requests by command and result: ok, error or denied.",
                &["command", "result"],
            ),
            registry,
        };
        // Every label value present from the start, so dashboards and rate() see zeros, not gaps.
        for state in [BanState::Active, BanState::Simulated] {
            m.bans.with_label_values(&[state_label(state)]).set(0);
        }
        for mode in [EffectiveMode::DryRun, EffectiveMode::Enforce] {
            m.mode.with_label_values(&[mode_label(mode)]).set(0);
        }
        for outcome in ["banned", "refreshed", "watched", "suppressed"] {
            m.verdicts.with_label_values(&[outcome]);
        }
        m
    }

    /// The registry to publish.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Publishes the engine's state: live ban counts, the mode, whether the kernel is in sync.
    pub fn set_state(&self, counts: LiveCounts, mode: EffectiveMode, kernel_in_sync: bool) {
        let set = |state, n: u64| {
            self.bans
                .with_label_values(&[state_label(state)])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        };
        set(BanState::Active, counts.active);
        set(BanState::Simulated, counts.simulated);
        for m in [EffectiveMode::DryRun, EffectiveMode::Enforce] {
            self.mode
                .with_label_values(&[mode_label(m)])
                .set(i64::from(m == mode));
        }
        self.kernel_in_sync.set(i64::from(kernel_in_sync));
    }

    /// A ban was created.
    pub fn ban_added(&self, reason: Reason, state: BanState) {
        self.bans_added
            .with_label_values(&[reason.name(), state_label(state)])
            .inc();
    }

    /// A ban ended.
    pub fn ban_removed(&self, cause: EndCause) {
        let label = match cause {
            EndCause::Ttl => "ttl",
            EndCause::Evicted => "evicted",
            EndCause::Unblocked => "unblocked",
            EndCause::Allowlisted => "allowlisted",
        };
        self.bans_removed.with_label_values(&[label]).inc();
    }

    /// A verdict was handled.
    pub fn verdict(&self, outcome: &VerdictOutcome) {
        let label = match outcome {
            VerdictOutcome::Banned { .. } => "banned",
            VerdictOutcome::Refreshed { .. } => "refreshed",
            VerdictOutcome::Watched => "watched",
            VerdictOutcome::Suppressed { .. } => "suppressed",
        };
        self.verdicts.with_label_values(&[label]).inc();
    }

    /// A control request ([`command_label`]) was answered (`Some(ok)`) or refused (`None`).
    pub fn control(&self, command: &'static str, answered: Option<bool>) {
        let result = match answered {
            Some(true) => "ok",
            Some(false) => "error",
            None => "denied",
        };
        self.control.with_label_values(&[command, result]).inc();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use argus_config::{Config, Mode};
    use argus_metrics::{render, scrape};
    use argus_proto::{Action, UnixTimeNs, Verdict};
    use ipnet::IpNet;

    use super::*;
    use crate::auth::Actor;
    use crate::clock::FakeClock;
    use crate::engine::{Engine, Settings};
    use crate::kernel::FakeMaps;
    use crate::lockout::StaticSystem;
    use crate::store::Store;

    const T0: UnixTimeNs = UnixTimeNs(1_700_000_000_000_000_000);

    fn engine(mode: Mode) -> (Engine, Arc<FakeClock>) {
        let mut cfg = Config::default();
        cfg.enforcer.mode = mode;
        let clock = Arc::new(FakeClock::new(T0));
        let engine = Engine::new(
            Store::open_in_memory().unwrap(),
            Box::new(FakeMaps::new()),
            clock.clone(),
            Box::new(StaticSystem::default()),
            Settings::from_config(&cfg),
        )
        .unwrap();
        (engine, clock)
    }

    fn ban(src: &str, reason: Reason) -> Verdict {
        let source = src.parse().unwrap();
        Verdict {
            id: 1,
            source,
            prefix: IpNet::from(source),
            action: Action::Ban,
            reason,
            evidence: Default::default(),
            ttl_hint_secs: None,
            timestamp: T0,
        }
    }

    fn text(e: &Engine) -> String {
        render(e.metrics().registry()).unwrap()
    }

    #[test]
    fn bans_move_the_gauges_and_counters() {
        let (mut e, clock) = engine(Mode::Enforce);
        let t = text(&e);
        assert_eq!(
            scrape::value(&t, "argus_enforcer_bans", "state=\"active\""),
            Some(0.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_mode", "mode=\"enforce\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_mode", "mode=\"dry_run\""),
            Some(0.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_kernel_in_sync", ""),
            Some(1.0)
        );

        e.handle_verdict(&ban("198.51.100.7", Reason::PortScan))
            .unwrap();
        e.handle_verdict(&ban("198.51.100.7", Reason::PortScan))
            .unwrap();
        let t = text(&e);
        assert_eq!(
            scrape::value(&t, "argus_enforcer_bans", "state=\"active\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(
                &t,
                "argus_enforcer_bans_added_total",
                "reason=\"port_scan\",state=\"active\""
            ),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_verdicts_total", "outcome=\"banned\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_verdicts_total", "outcome=\"refreshed\""),
            Some(1.0)
        );

        // The owner lifts it: the gauge falls, the removal is counted by cause.
        let actor = Actor::Ctl {
            uid: 0,
            user: Some("root".into()),
        };
        let unblock = ControlRequest::Unblock {
            prefix: "198.51.100.7/32".parse().unwrap(),
            allow_for_secs: None,
        };
        e.control(unblock, &actor).unwrap();
        let t = text(&e);
        assert_eq!(
            scrape::value(&t, "argus_enforcer_bans", "state=\"active\""),
            Some(0.0)
        );
        assert_eq!(
            scrape::value(
                &t,
                "argus_enforcer_bans_removed_total",
                "cause=\"unblocked\""
            ),
            Some(1.0)
        );

        // Another ban runs out.
        e.handle_verdict(&ban("203.0.113.9", Reason::SynFlood))
            .unwrap();
        clock.advance(Duration::from_secs(8 * 24 * 3600));
        e.tick().unwrap();
        let t = text(&e);
        assert_eq!(
            scrape::value(&t, "argus_enforcer_bans_removed_total", "cause=\"ttl\""),
            Some(1.0)
        );
        assert_eq!(scrape::sum(&t, "argus_enforcer_bans"), Some(0.0));
    }

    #[test]
    fn dry_run_bans_are_simulated() {
        let (mut e, _) = engine(Mode::DryRun);
        e.handle_verdict(&ban("198.51.100.8", Reason::BruteForce))
            .unwrap();
        let t = text(&e);
        assert_eq!(
            scrape::value(&t, "argus_enforcer_mode", "mode=\"dry_run\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_bans", "state=\"simulated\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_enforcer_bans", "state=\"active\""),
            Some(0.0)
        );
        assert_eq!(
            scrape::value(
                &t,
                "argus_enforcer_bans_added_total",
                "reason=\"brute_force\",state=\"simulated\""
            ),
            Some(1.0)
        );
    }

    #[test]
    fn control_requests_by_command_and_result() {
        let m = EnforcerMetrics::new();
        m.control(command_label(&ControlRequest::Status), Some(true));
        m.control(command_label(&ControlRequest::Refit), None);
        m.control(command_label(&ControlRequest::Report), Some(false));
        let t = render(m.registry()).unwrap();
        let v = |labels| scrape::value(&t, "argus_enforcer_control_requests_total", labels);
        assert_eq!(v("command=\"status\",result=\"ok\""), Some(1.0));
        assert_eq!(v("command=\"refit\",result=\"denied\""), Some(1.0));
        assert_eq!(v("command=\"report\",result=\"error\""), Some(1.0));
    }
}
