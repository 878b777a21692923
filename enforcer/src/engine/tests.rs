use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use argus_config::Config;
use argus_proto::control::{BanState, ControlErrorKind, ControlReply, EffectiveMode, ModeSetting};
use argus_proto::{
    Action, ControlRequest, ControlResponse, Evidence, Reason, Scores, UnixTimeNs, Verdict,
};
use ipnet::IpNet;

use super::*;
use crate::clock::FakeClock;
use crate::kernel::FakeMaps;
use crate::lockout::StaticSystem;
use crate::store::{AuditAction, ModeSource, Store};

const T0: UnixTimeNs = UnixTimeNs(1_700_000_000_000_000_000);
const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3600);

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn root() -> Actor {
    Actor::Ctl {
        uid: 0,
        user: Some("root".into()),
    }
}

fn system() -> StaticSystem {
    StaticSystem {
        own: vec![
            "10.203.0.1".parse().unwrap(),
            "fd00:203:0:1::1".parse().unwrap(),
        ],
        gateways: vec!["10.203.0.254".parse().unwrap()],
        dns: vec!["10.203.0.53".parse().unwrap()],
    }
}

fn config(mode: argus_config::Mode) -> Config {
    let mut c = Config::default();
    c.enforcer.mode = mode;
    c.anti_lockout.management_hosts = vec![net("10.203.50.0/24")];
    c.allowlist = vec![net("10.203.60.0/24")];
    c
}

struct Harness {
    engine: Engine,
    clock: Arc<FakeClock>,
    maps: FakeMaps,
}

impl Harness {
    fn with(cfg: &Config) -> Self {
        Self::on(
            Store::open_in_memory().unwrap(),
            cfg,
            Arc::new(FakeClock::new(T0)),
            FakeMaps::new(),
        )
    }

    fn on(store: Store, cfg: &Config, clock: Arc<FakeClock>, maps: FakeMaps) -> Self {
        let engine = Engine::new(
            store,
            Box::new(maps.clone()),
            clock.clone(),
            Box::new(system()),
            Settings::from_config(cfg),
        )
        .unwrap();
        Self {
            engine,
            clock,
            maps,
        }
    }

    fn enforcing() -> Self {
        Self::with(&config(argus_config::Mode::Enforce))
    }

    fn advance(&mut self, d: Duration) {
        self.clock.advance(d);
        self.engine.tick().unwrap();
    }

    fn verdict(&mut self, src: &str, reason: Reason) -> VerdictOutcome {
        self.engine.handle_verdict(&verdict(src, reason)).unwrap()
    }

    fn ctl(&mut self, req: ControlRequest) -> ControlResponse {
        self.engine.control(req, &root())
    }

    fn audit_actions(&self) -> Vec<AuditAction> {
        self.engine
            .store()
            .read()
            .audit(10_000)
            .unwrap()
            .into_iter()
            .map(|a| a.action)
            .collect()
    }
}

fn verdict(src: &str, reason: Reason) -> Verdict {
    Verdict::host_ban(
        7,
        src.parse().unwrap(),
        reason,
        Evidence {
            scores: Scores {
                anomaly: 3.5,
                ..Scores::default()
            },
            top_features: vec![("dst_ports".into(), 41.0)],
            model_version: "forest-test".into(),
            flows_seen: 12,
            ..Evidence::default()
        },
        T0,
    )
}

fn banned(o: &VerdictOutcome) -> (IpNet, BanState, UnixTimeNs, u32) {
    match o {
        VerdictOutcome::Banned {
            prefix,
            state,
            expires_at,
            offences,
            ..
        } => (*prefix, *state, *expires_at, *offences),
        other => panic!("expected a ban, got {other:?}"),
    }
}

fn suppression(o: &VerdictOutcome) -> &Suppression {
    match o {
        VerdictOutcome::Suppressed { why, .. } => why,
        other => panic!("expected a suppression, got {other:?}"),
    }
}

fn error_kind(r: ControlResponse) -> (ControlErrorKind, String) {
    let e = r.expect_err("expected an error");
    (e.kind, e.message)
}

#[test]
fn auto_mode_switches_to_enforce_after_seven_days_and_then_writes_enforcing_entries() {
    let mut h = Harness::with(&config(argus_config::Mode::Auto));
    assert_eq!(h.engine.mode(), EffectiveMode::DryRun);
    assert!(h.maps.dry_run(), "the kernel dry-run flag is set");

    let (p, state, _, _) = banned(&h.verdict("10.203.1.1", Reason::PortScan));
    assert_eq!(state, BanState::Simulated);
    assert_eq!(h.maps.blocks().get(&p), Some(&true), "a monitor entry");

    h.advance(7 * DAY - Duration::from_secs(1));
    assert_eq!(h.engine.mode(), EffectiveMode::DryRun, "one second left");
    assert!(h.maps.dry_run());

    h.advance(Duration::from_secs(1));
    assert_eq!(h.engine.mode(), EffectiveMode::Enforce, "the week is over");
    assert!(
        !h.maps.dry_run(),
        "the kernel flag is cleared at the switch"
    );
    let last = h.engine.store().read().latest_mode(None).unwrap().unwrap();
    assert_eq!(
        (last.setting, last.effective, last.source),
        (ModeSetting::Auto, EffectiveMode::Enforce, ModeSource::Clock)
    );

    let (p2, state, _, _) = banned(&h.verdict("10.203.1.2", Reason::PortScan));
    assert_eq!(state, BanState::Active);
    assert_eq!(h.maps.blocks().get(&p2), Some(&false), "an enforcing entry");
}

#[test]
fn the_dry_run_period_counts_from_the_first_start_recorded_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    let cfg = config(argus_config::Mode::Auto);
    let clock = Arc::new(FakeClock::new(T0));
    let h = Harness::on(
        Store::open(&path).unwrap(),
        &cfg,
        clock.clone(),
        FakeMaps::new(),
    );
    assert_eq!(h.engine.mode(), EffectiveMode::DryRun);
    drop(h);

    // Restarted on day 3: still dry-run, with 4 days left.
    clock.advance(3 * DAY);
    let mut h = Harness::on(
        Store::open(&path).unwrap(),
        &cfg,
        clock.clone(),
        FakeMaps::new(),
    );
    assert_eq!(h.engine.mode(), EffectiveMode::DryRun);
    let Ok(ControlReply::Status(s)) = h.ctl(ControlRequest::Status) else {
        panic!("status")
    };
    assert_eq!(s.dry_run_secs_left, Some(4 * 86_400));
    drop(h);

    // Down over the switch, restarted on day 8: enforcing at once.
    clock.advance(5 * DAY);
    let maps = FakeMaps::new();
    let h = Harness::on(Store::open(&path).unwrap(), &cfg, clock, maps.clone());
    assert_eq!(h.engine.mode(), EffectiveMode::Enforce);
    assert!(!maps.dry_run());
}

#[test]
fn forced_modes_and_argusctl_mode_changes_are_recorded_with_who_did_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blacklist.db");
    let clock = Arc::new(FakeClock::new(T0));
    let dry = config(argus_config::Mode::DryRun);
    let mut h = Harness::on(
        Store::open(&path).unwrap(),
        &dry,
        clock.clone(),
        FakeMaps::new(),
    );
    h.advance(30 * DAY);
    assert_eq!(
        h.engine.mode(),
        EffectiveMode::DryRun,
        "forced dry-run never ends"
    );

    let r = h.ctl(ControlRequest::Mode {
        set: Some(ModeSetting::Enforce),
    });
    assert_eq!(
        r.unwrap(),
        ControlReply::Mode {
            setting: ModeSetting::Enforce,
            mode: EffectiveMode::Enforce
        }
    );
    assert!(!h.maps.dry_run());
    let rec = h.engine.store().read().latest_mode(None).unwrap().unwrap();
    assert_eq!(rec.source, ModeSource::Argusctl);
    assert_eq!(rec.actor, "argusctl:uid=0(root)");
    drop(h);

    // Restart with the same file: the owner's runtime choice stands.
    let h = Harness::on(
        Store::open(&path).unwrap(),
        &dry,
        clock.clone(),
        FakeMaps::new(),
    );
    assert_eq!(h.engine.mode(), EffectiveMode::Enforce);
    drop(h);
    // An edited file takes over.
    let auto = config(argus_config::Mode::Auto);
    let h = Harness::on(Store::open(&path).unwrap(), &auto, clock, FakeMaps::new());
    assert_eq!(
        h.engine.mode(),
        EffectiveMode::Enforce,
        "auto, and the week is long over"
    );
    let rec = h.engine.store().read().latest_mode(None).unwrap().unwrap();
    assert_eq!(
        (rec.setting, rec.source),
        (ModeSetting::Auto, ModeSource::Config)
    );
}

#[test]
fn ttl_escalates_for_repeat_offenders_and_expiry_removes_the_kernel_entry() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.default_ttl_secs = 3600;
    cfg.enforcer.repeat_offender_factor = 3.0;
    cfg.enforcer.max_ttl_secs = 5 * 3600;
    let mut h = Harness::with(&cfg);
    let p = net("10.203.1.1/32");
    let mut ttls = Vec::new();
    for offence in 1..=4u32 {
        let now = h.clock.now();
        let (bp, state, expires_at, n) = banned(&h.verdict("10.203.1.1", Reason::BruteForce));
        assert_eq!((bp, state, n), (p, BanState::Active, offence));
        assert!(h.maps.blocks().contains_key(&p));
        let ttl = expires_at.saturating_since(now);
        ttls.push(ttl.as_secs());
        // One second before expiry it is still there; at expiry it is gone.
        h.advance(ttl - Duration::from_secs(1));
        assert!(h.maps.blocks().contains_key(&p));
        h.advance(Duration::from_secs(1));
        assert!(
            !h.maps.blocks().contains_key(&p),
            "expiry removes the kernel entry"
        );
        let row = h.engine.store().read().last_ban(p).unwrap().unwrap();
        assert_eq!(row.state, BanState::Expired);
        assert_eq!(row.end_cause, Some(EndCause::Ttl));
    }
    assert_eq!(
        ttls,
        [3600, 3 * 3600, 5 * 3600, 5 * 3600],
        "x3 per offence, capped"
    );
    assert_eq!(h.engine.counts().total(), 0);
}

#[test]
fn anti_lockout_and_allowlist_are_never_banned_and_are_in_the_kernel_allowlist() {
    let mut h = Harness::enforcing();
    for (src, what) in [
        ("10.203.0.1", "appliance"),
        ("10.203.0.254", "gateway"),
        ("10.203.0.53", "DNS"),
        ("10.203.50.9", "management"),
        ("10.203.60.9", "allowlist in aegis.yaml"),
    ] {
        let o = h.verdict(src, Reason::PortScan);
        assert!(
            matches!(suppression(&o), Suppression::Protected { .. }),
            "{what}: {o:?}"
        );
    }
    assert!(h.maps.blocks().is_empty());
    assert_eq!(h.engine.counts().total(), 0);
    let allow = h.maps.allowlist();
    for p in [
        "10.203.0.1/32",
        "fd00:203:0:1::1/128",
        "10.203.0.254/32",
        "10.203.0.53/32",
        "10.203.50.0/24",
        "10.203.60.0/24",
    ] {
        assert!(
            allow.contains(&net(p)),
            "{p} in kernel ALLOWLIST: {allow:?}"
        );
    }
    assert_eq!(
        h.audit_actions()
            .iter()
            .filter(|a| **a == AuditAction::Suppress)
            .count(),
        5,
        "every suppression is audited"
    );

    // By hand too: the gateway, and a range holding the appliance.
    for p in ["10.203.0.254/32", "10.203.0.0/24"] {
        let (kind, msg) = error_kind(h.ctl(ControlRequest::Block {
            prefix: net(p),
            ttl_secs: None,
            comment: None,
        }));
        assert_eq!(kind, ControlErrorKind::InvalidArgument);
        assert!(msg.contains("anti-lockout"), "{msg}");
    }
    assert!(h.maps.blocks().is_empty(), "nothing changed");

    // An owner-allowed friend.
    h.ctl(ControlRequest::Allow {
        prefix: net("10.203.77.0/24"),
        comment: Some("friend".into()),
        ttl_secs: None,
    })
    .unwrap();
    assert!(h.maps.allowlist().contains(&net("10.203.77.0/24")));
    let o = h.verdict("10.203.77.5", Reason::Flood);
    assert!(matches!(suppression(&o), Suppression::Protected { .. }));
}

#[test]
fn eviction_at_max_entries_beyond_the_old_1024_cap() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.max_entries = 1100;
    let mut h = Harness::with(&cfg);
    let addr = |i: u32| format!("10.203.{}.{}", 100 + i / 250, 1 + i % 250);
    for i in 0..1500u32 {
        let o = h.verdict(&addr(i), Reason::PortScan);
        let VerdictOutcome::Banned { evicted, .. } = &o else {
            panic!("{o:?}")
        };
        // Each later ban expires later, so the oldest is always the soonest-expiring.
        let expect: Vec<IpNet> = if i >= 1100 {
            vec![net(&format!("{}/32", addr(i - 1100)))]
        } else {
            vec![]
        };
        assert_eq!(evicted, &expect, "ban {i}");
        h.clock.advance(Duration::from_secs(1));
    }
    assert_eq!(h.maps.blocks().len(), 1100);
    assert_eq!(h.engine.counts().active, 1100);
    let Ok(ControlReply::Status(s)) = h.ctl(ControlRequest::Status) else {
        panic!()
    };
    assert_eq!((s.bans_active, s.bans_evicted), (1100, 400));
    assert!(!h.maps.blocks().contains_key(&net("10.203.100.1/32")));
    assert!(h
        .maps
        .blocks()
        .contains_key(&net(&format!("{}/32", addr(1499)))));
    let evict_rows = h
        .audit_actions()
        .iter()
        .filter(|a| **a == AuditAction::Evict)
        .count();
    assert_eq!(evict_rows, 400, "every eviction is audited");
    // The reconciliation agrees with the incremental bookkeeping.
    h.engine.reconcile().unwrap();
    assert_eq!(h.engine.counts().active, 1100);
}

#[test]
fn more_than_1024_bans_all_reach_the_kernel_when_there_is_room() {
    let mut h = Harness::enforcing();
    for i in 0..2000u32 {
        let src = format!("10.203.{}.{}", 100 + i / 250, 1 + i % 250);
        banned(&h.verdict(&src, Reason::PortScan));
    }
    assert_eq!(h.maps.blocks().len(), 2000);
    assert_eq!(h.maps.inserts(), 2000);
}

#[test]
fn eviction_spares_the_higher_score_among_equally_expiring_bans() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.max_entries = 2;
    let mut h = Harness::with(&cfg);
    let mut low = verdict("10.203.1.1", Reason::Anomaly);
    low.evidence.scores.anomaly = 1.1;
    let mut high = verdict("10.203.1.2", Reason::Anomaly);
    high.evidence.scores.anomaly = 9.0;
    h.engine.handle_verdict(&high).unwrap();
    h.engine.handle_verdict(&low).unwrap();
    let o = h.verdict("10.203.1.3", Reason::Anomaly);
    let VerdictOutcome::Banned { evicted, .. } = o else {
        panic!()
    };
    assert_eq!(evicted, vec![net("10.203.1.1/32")]);
}

#[test]
fn ipv6_bans_are_widened_but_never_over_the_appliance() {
    let mut h = Harness::enforcing();
    let (p, ..) = banned(&h.verdict("fd00:203:1:2:aaaa::9", Reason::PortScan));
    assert_eq!(p, net("fd00:203:1:2::/64"));
    assert_eq!(h.maps.blocks().get(&p), Some(&false));
    // A neighbour in the appliance's own /64: only the address is banned.
    let (p, ..) = banned(&h.verdict("fd00:203:0:1::99", Reason::PortScan));
    assert_eq!(p, net("fd00:203:0:1::99/128"));
    // A repeat from the same /64 refreshes the one ban.
    let o = h.verdict("fd00:203:1:2:bbbb::1", Reason::PortScan);
    assert_eq!(
        o,
        VerdictOutcome::Refreshed {
            prefix: net("fd00:203:1:2::/64"),
            state: BanState::Active
        }
    );
    assert_eq!(h.engine.counts().active, 2);
}

#[test]
fn spoofable_evidence_is_not_banned_unless_configured() {
    let mut v = verdict("10.203.1.1", Reason::Flood);
    v.evidence.spoofable = true;
    let mut h = Harness::enforcing();
    let o = h.engine.handle_verdict(&v).unwrap();
    assert_eq!(suppression(&o), &Suppression::Spoofable);
    assert!(h.maps.blocks().is_empty());

    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.ban_spoofable_evidence = true;
    let mut h = Harness::with(&cfg);
    let (_, state, ..) = banned(&h.engine.handle_verdict(&v).unwrap());
    assert_eq!(state, BanState::Active);
}

#[test]
fn unblock_lifts_at_once_records_feedback_and_grace_suppresses_rebans() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.unblock_grace_secs = 3600;
    let mut h = Harness::with(&cfg);
    let p = net("10.203.1.1/32");
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
    let r = h.ctl(ControlRequest::Unblock {
        prefix: net("10.203.1.1/32"),
        allow_for_secs: None,
    });
    assert!(
        matches!(r, Ok(ControlReply::Done(ref m)) if m.contains("false positive")),
        "{r:?}"
    );
    assert!(!h.maps.blocks().contains_key(&p), "kernel entry removed");
    let row = h.engine.store().read().last_ban(p).unwrap().unwrap();
    assert_eq!(row.state, BanState::Unblocked);
    let fb = h.engine.pending_feedback().unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!((fb[0].1.prefix, fb[0].1.reason), (p, Reason::PortScan));
    h.engine.feedback_delivered(&[fb[0].0]).unwrap();
    assert!(h.engine.pending_feedback().unwrap().is_empty());

    // Same reason within the grace period: suppressed and audited.
    h.clock.advance(Duration::from_secs(3599));
    let o = h.verdict("10.203.1.1", Reason::PortScan);
    assert!(matches!(suppression(&o), Suppression::Grace { .. }));
    assert_eq!(h.audit_actions()[0], AuditAction::Suppress);
    // Another reason is a new matter; so is the same reason after the grace period. A false
    // positive is not an offence: the count starts again.
    let (_, _, _, n) = banned(&h.verdict("10.203.1.1", Reason::PayloadAttack));
    assert_eq!(n, 1);
    h.ctl(ControlRequest::Unblock {
        prefix: p,
        allow_for_secs: None,
    })
    .unwrap();
    h.clock.advance(Duration::from_secs(3601));
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
}

#[test]
fn unblock_by_address_inside_a_ban_and_optional_allow_for_a_time() {
    let mut h = Harness::enforcing();
    h.ctl(ControlRequest::Block {
        prefix: net("10.203.8.0/24"),
        ttl_secs: Some(600),
        comment: Some("noisy".into()),
    })
    .unwrap();
    assert_eq!(h.maps.blocks().get(&net("10.203.8.0/24")), Some(&false));
    h.ctl(ControlRequest::Unblock {
        prefix: net("10.203.8.77/32"),
        allow_for_secs: Some(3600),
    })
    .unwrap();
    assert!(h.maps.blocks().is_empty());
    assert!(h.maps.allowlist().contains(&net("10.203.8.0/24")));
    h.advance(HOUR);
    assert!(
        !h.maps.allowlist().contains(&net("10.203.8.0/24")),
        "the temporary allow expired"
    );
}

#[test]
fn bad_control_input_is_a_clear_error_and_changes_nothing() {
    let mut h = Harness::enforcing();
    let (kind, msg) = error_kind(h.ctl(ControlRequest::Unblock {
        prefix: net("10.203.9.9/32"),
        allow_for_secs: None,
    }));
    assert_eq!(kind, ControlErrorKind::NotFound);
    assert!(msg.contains("never banned"), "{msg}");

    banned(&h.verdict("10.203.9.9", Reason::PortScan));
    h.advance(2 * HOUR);
    let (kind, msg) = error_kind(h.ctl(ControlRequest::Unblock {
        prefix: net("10.203.9.9/32"),
        allow_for_secs: None,
    }));
    assert_eq!(kind, ControlErrorKind::NotFound);
    assert!(msg.contains("expired at"), "{msg}");

    let (kind, _) = error_kind(h.ctl(ControlRequest::Block {
        prefix: net("10.203.9.9/32"),
        ttl_secs: Some(0),
        comment: None,
    }));
    assert_eq!(kind, ControlErrorKind::InvalidArgument);
    let (kind, msg) = error_kind(h.ctl(ControlRequest::Block {
        prefix: net("10.203.9.9/32"),
        ttl_secs: Some(365 * 86_400),
        comment: None,
    }));
    assert_eq!(kind, ControlErrorKind::InvalidArgument);
    assert!(msg.contains("max_ttl_secs"), "{msg}");
    let (kind, _) = error_kind(h.ctl(ControlRequest::Explain {
        ip: "10.203.200.1".parse().unwrap(),
    }));
    assert_eq!(kind, ControlErrorKind::NotFound);
    let (kind, msg) = error_kind(h.ctl(ControlRequest::Disallow {
        prefix: net("10.203.60.0/24"),
    }));
    assert_eq!(kind, ControlErrorKind::InvalidArgument);
    assert!(msg.contains("aegis.yaml"), "{msg}");
    let (kind, _) = error_kind(h.ctl(ControlRequest::Disallow {
        prefix: net("10.203.61.0/24"),
    }));
    assert_eq!(kind, ControlErrorKind::NotFound);
    assert!(h.maps.blocks().is_empty());
    assert_eq!(h.engine.counts().total(), 0);
}

#[test]
fn allow_lifts_bans_inside_it_and_disallow_removes_it_from_the_kernel() {
    let mut h = Harness::enforcing();
    banned(&h.verdict("10.203.5.1", Reason::PortScan));
    banned(&h.verdict("10.203.5.2", Reason::PortScan));
    banned(&h.verdict("10.203.6.1", Reason::PortScan));
    let r = h
        .ctl(ControlRequest::Allow {
            prefix: net("10.203.5.0/24"),
            comment: Some("office".into()),
            ttl_secs: None,
        })
        .unwrap();
    assert_eq!(
        r,
        ControlReply::Done("allowed 10.203.5.0/24; lifted 2 ban(s) inside it".into())
    );
    assert_eq!(
        h.maps.blocks().keys().copied().collect::<Vec<_>>(),
        vec![net("10.203.6.1/32")]
    );
    assert_eq!(h.engine.pending_feedback().unwrap().len(), 2);
    let Ok(ControlReply::Allowlist(list)) = h.ctl(ControlRequest::Allowlist) else {
        panic!()
    };
    let office = list
        .iter()
        .find(|a| a.prefix == net("10.203.5.0/24"))
        .unwrap();
    assert_eq!(office.comment, "office");
    assert!(list.iter().any(|a| a.created_by == "anti-lockout"));

    h.ctl(ControlRequest::Disallow {
        prefix: net("10.203.5.0/24"),
    })
    .unwrap();
    assert!(!h.maps.allowlist().contains(&net("10.203.5.0/24")));
    // Allowing was a false positive: the same reason stays in its grace period, others ban.
    let o = h.verdict("10.203.5.1", Reason::PortScan);
    assert!(matches!(suppression(&o), Suppression::Grace { .. }));
    banned(&h.verdict("10.203.5.1", Reason::SynFlood));
}

#[test]
fn kernel_maps_absent_at_start_are_filled_when_they_appear_and_after_recreation() {
    let maps = FakeMaps::new();
    maps.set_present(false);
    let mut h = Harness::on(
        Store::open_in_memory().unwrap(),
        &config(argus_config::Mode::Enforce),
        Arc::new(FakeClock::new(T0)),
        maps.clone(),
    );
    assert!(h.engine.kernel_problem().is_some());
    // Anti-lockout does not wait for the maps.
    let o = h.verdict("10.203.0.254", Reason::PortScan);
    assert!(matches!(suppression(&o), Suppression::Protected { .. }));
    // Verdicts are still committed while sentinel is away.
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
    banned(&h.verdict("10.203.1.2", Reason::PortScan));
    assert!(maps.blocks().is_empty());

    maps.set_present(true);
    h.engine.tick().unwrap();
    assert_eq!(maps.blocks().len(), 2);
    assert!(maps.allowlist().contains(&net("10.203.0.254/32")));
    assert!(h.engine.kernel_problem().is_none());

    // Sentinel re-created the maps: everything is put back at the next tick, counters included.
    maps.hit(net("10.203.1.1/32"), 5);
    h.engine.reconcile().unwrap();
    maps.recreate();
    h.engine.tick().unwrap();
    assert_eq!(maps.blocks().len(), 2);
    assert!(!maps.allowlist().is_empty());
    let Ok(ControlReply::Bans(bans)) = h.ctl(ControlRequest::List {
        simulated: false,
        history: false,
    }) else {
        panic!()
    };
    let b = bans
        .iter()
        .find(|b| b.prefix == net("10.203.1.1/32"))
        .unwrap();
    assert_eq!(b.packets, 5, "counters survive the re-creation");
}

#[test]
fn reconcile_removes_strays_and_fixes_flags() {
    let mut h = Harness::with(&config(argus_config::Mode::DryRun));
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
    h.maps.insert_stray(net("10.203.99.0/24"));
    let r = h.engine.reconcile().unwrap();
    assert_eq!((r.added, r.removed), (0, 1));
    assert_eq!(
        h.maps.blocks().into_iter().collect::<Vec<_>>(),
        vec![(net("10.203.1.1/32"), true)]
    );
}

#[test]
fn every_reason_reads_back_from_the_kernel_after_reconcile() {
    let mut h = Harness::enforcing();
    let source = |i: usize| format!("10.203.7.{}", i + 1);
    for (i, r) in Reason::ALL.into_iter().enumerate() {
        banned(&h.verdict(&source(i), r));
    }
    // Maps re-created (reasons written afresh), and one entry whose code this build does not know.
    h.maps.recreate();
    h.engine.reconcile().unwrap();
    h.maps.set_reason(net(&format!("{}/32", source(0))), None);
    let r = h.engine.reconcile().unwrap();
    assert_eq!(r.fixed, 1, "the unknown code is rewritten");
    for (i, r) in Reason::ALL.into_iter().enumerate() {
        let prefix = net(&format!("{}/32", source(i)));
        assert_eq!(h.maps.reason(prefix), Some(Some(r)), "{prefix}");
    }
    assert_eq!(
        h.engine.reconcile().unwrap().fixed,
        0,
        "nothing left to fix"
    );
}

fn audit_rows(h: &Harness) -> usize {
    h.engine.store().read().audit(1 << 20).unwrap().len()
}

#[test]
fn the_audit_log_is_pruned_to_its_retention_period() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.audit_retention_days = 2;
    let mut h = Harness::with(&cfg);
    let nobody = Actor::Ctl {
        uid: 4_000_000,
        user: None,
    };
    h.engine.audit_denied(&nobody, "old").unwrap();
    h.advance(DAY);
    h.engine.audit_denied(&nobody, "recent").unwrap();
    let before = audit_rows(&h);
    // A day and a half after the start the first rows are not two days old yet.
    h.advance(12 * HOUR);
    assert_eq!(audit_rows(&h), before);
    // Past two days since the start: what was written then goes, the rest stays.
    h.advance(13 * HOUR);
    let details: Vec<String> = h
        .engine
        .store()
        .read()
        .audit(100)
        .unwrap()
        .into_iter()
        .map(|a| a.detail)
        .collect();
    assert!(
        details.contains(&"refused: recent".to_string()),
        "{details:?}"
    );
    assert!(
        !details.contains(&"refused: old".to_string()),
        "{details:?}"
    );
}

#[test]
fn the_audit_log_is_capped_in_batches_that_keep_the_newest_rows() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.audit_retention_days = 0;
    cfg.enforcer.audit_max_rows = 10;
    let mut h = Harness::with(&cfg);
    let nobody = Actor::Ctl {
        uid: 4_000_000,
        user: None,
    };
    let n = super::PRUNE_BATCH + 20;
    for i in 0..n {
        h.engine
            .audit_denied(&nobody, &format!("request {i}"))
            .unwrap();
    }
    // The hourly prune is due: one full batch goes, and a full batch brings it back at the next tick.
    h.advance(HOUR);
    assert!(audit_rows(&h) > 10);
    h.engine.tick().unwrap();
    assert_eq!(audit_rows(&h), 10);
    let newest = &h.engine.store().read().audit(1).unwrap()[0];
    assert_eq!(newest.detail, format!("refused: request {}", n - 1));
    // Below the cap, nothing more happens until the next hour.
    h.engine.audit_denied(&nobody, "one more").unwrap();
    h.engine.tick().unwrap();
    assert_eq!(audit_rows(&h), 11);
    h.advance(HOUR);
    assert_eq!(audit_rows(&h), 10);
}

#[test]
fn dry_run_report_lists_what_would_have_been_blocked_and_who_is_allowed_now() {
    let mut h = Harness::with(&config(argus_config::Mode::Auto));
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
    banned(&h.verdict("10.203.1.2", Reason::BruteForce));
    h.maps.hit(net("10.203.1.1/32"), 40);
    h.maps.hit(net("10.203.1.2/32"), 2);
    h.ctl(ControlRequest::Allow {
        prefix: net("10.203.1.2/32"),
        comment: Some("my phone".into()),
        ttl_secs: None,
    })
    .unwrap();
    h.advance(2 * HOUR);
    let Ok(ControlReply::Report(r)) = h.ctl(ControlRequest::Report) else {
        panic!()
    };
    assert_eq!(r.since, T0);
    let rows: Vec<(String, bool, u64)> = r
        .entries
        .iter()
        .map(|e| (e.ban.prefix.to_string(), e.allowlisted_now, e.ban.packets))
        .collect();
    assert_eq!(
        rows,
        [
            ("10.203.1.1/32".to_string(), false, 40),
            ("10.203.1.2/32".to_string(), true, 2)
        ]
    );
    assert_eq!(r.would_drop_packets, 42);
}

#[test]
fn a_simulated_ban_becomes_active_when_the_source_persists_after_the_switch() {
    let mut h = Harness::with(&config(argus_config::Mode::Auto));
    let (p, ..) = banned(&h.verdict("10.203.1.1", Reason::PortScan));
    h.clock.advance(7 * DAY);
    // The verdict arrives before any tick: the switch is applied first.
    let o = h.verdict("10.203.1.1", Reason::PortScan);
    // The one-hour ban expired long ago, so this is a new, second offence, and it is active.
    let (bp, state, _, n) = banned(&o);
    assert_eq!((bp, state, n), (p, BanState::Active, 2));
    assert_eq!(h.maps.blocks().get(&p), Some(&false));
}

#[test]
fn explain_shows_the_evidence_and_watch_verdicts_are_only_audited() {
    let mut h = Harness::enforcing();
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
    let mut again = verdict("10.203.1.1", Reason::PortScan);
    again.evidence.scores.anomaly = 7.0;
    h.engine.handle_verdict(&again).unwrap();
    let Ok(ControlReply::Explain(x)) = h.ctl(ControlRequest::Explain {
        ip: "10.203.1.1".parse().unwrap(),
    }) else {
        panic!()
    };
    assert_eq!(x.ban.prefix, net("10.203.1.1/32"));
    assert_eq!(x.evidence.len(), 2);
    assert_eq!(x.evidence[0].scores.anomaly, 7.0, "newest first");
    assert_eq!(x.evidence[1].top_features[0].0, "dst_ports");

    let mut w = verdict("10.203.1.5", Reason::Anomaly);
    w.action = Action::Watch;
    assert_eq!(
        h.engine.handle_verdict(&w).unwrap(),
        VerdictOutcome::Watched
    );
    assert_eq!(h.audit_actions()[0], AuditAction::Watch);
    assert!(!h.maps.blocks().contains_key(&net("10.203.1.5/32")));
}

#[test]
fn a_denied_caller_is_audited() {
    let mut h = Harness::enforcing();
    let nobody = Actor::Ctl {
        uid: 65534,
        user: Some("nobody".into()),
    };
    h.engine
        .audit_denied(&nobody, "block 10.203.1.1/32")
        .unwrap();
    let a = &h.engine.store().read().audit(1).unwrap()[0];
    assert_eq!(a.action, AuditAction::Denied);
    assert_eq!(a.actor, "argusctl:uid=65534(nobody)");
}

#[test]
fn the_database_on_disk_is_shared_by_restarts_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let path: &Path = &dir.path().join("blacklist.db");
    let cfg = config(argus_config::Mode::Enforce);
    let clock = Arc::new(FakeClock::new(T0));
    let mut h = Harness::on(
        Store::open(path).unwrap(),
        &cfg,
        clock.clone(),
        FakeMaps::new(),
    );
    for i in 1..=20 {
        banned(&h.verdict(&format!("10.203.2.{i}"), Reason::PortScan));
    }
    drop(h);
    // A new engine with empty maps (a reboot) puts every ban back.
    let maps = FakeMaps::new();
    let h = Harness::on(Store::open(path).unwrap(), &cfg, clock, maps.clone());
    assert_eq!(maps.blocks().len(), 20);
    assert_eq!(h.engine.counts().active, 20);
}

#[test]
fn entering_enforcement_promotes_live_simulated_bans_but_not_allowlisted_ones() {
    let mut h = Harness::with(&config(argus_config::Mode::Auto));
    let (scanner, state, ..) = banned(&h.verdict("10.203.1.1", Reason::PortScan));
    assert_eq!(state, BanState::Simulated);
    let (friend, ..) = banned(&h.verdict("10.203.1.2", Reason::BruteForce));
    // The owner reads the report and allows the friend before enforcing.
    h.ctl(ControlRequest::Allow {
        prefix: friend,
        comment: Some("a friend".into()),
        ttl_secs: None,
    })
    .unwrap();
    let reply = h.ctl(ControlRequest::Mode {
        set: Some(ModeSetting::Enforce),
    });
    assert!(matches!(
        reply,
        Ok(ControlReply::Mode {
            mode: EffectiveMode::Enforce,
            ..
        })
    ));
    // No new verdict arrives (kronos already reported the scanner): the dry-run's ban is enforced.
    assert_eq!(
        h.maps.blocks().get(&scanner),
        Some(&false),
        "an enforcing entry"
    );
    assert!(
        !h.maps.blocks().contains_key(&friend),
        "the allowed friend is not banned"
    );
    let live = h.engine.store().read().live_bans().unwrap();
    let states: Vec<_> = live.iter().map(|b| (b.prefix, b.state)).collect();
    assert!(states.contains(&(scanner, BanState::Active)), "{states:?}");
    assert!(
        !states
            .iter()
            .any(|(p, s)| *p == friend && *s == BanState::Active),
        "{states:?}"
    );
}

#[test]
fn the_end_of_the_dry_run_week_promotes_bans_still_running() {
    let mut cfg = config(argus_config::Mode::Auto);
    cfg.enforcer.default_ttl_secs = 2 * 24 * 3600;
    let mut h = Harness::with(&cfg);
    h.advance(6 * DAY);
    let (p, state, ..) = banned(&h.verdict("10.203.1.1", Reason::PortScan));
    assert_eq!(state, BanState::Simulated);
    h.advance(DAY);
    assert_eq!(h.engine.mode(), EffectiveMode::Enforce);
    assert_eq!(
        h.maps.blocks().get(&p),
        Some(&false),
        "promoted at the switch"
    );
}

fn history(h: &mut Harness) -> Vec<(IpNet, BanState)> {
    let Ok(ControlReply::Bans(bans)) = h.ctl(ControlRequest::List {
        simulated: true,
        history: true,
    }) else {
        panic!()
    };
    bans.iter().map(|b| (b.prefix, b.state)).collect()
}

#[test]
fn ban_history_is_pruned_after_its_retention_and_a_pruned_offender_starts_again_at_offence_1() {
    let mut cfg = config(argus_config::Mode::Enforce);
    cfg.enforcer.default_ttl_secs = 3600;
    // Every ban lasts an hour, so each has ended at the next hourly step.
    cfg.enforcer.repeat_offender_factor = 1.0;
    cfg.enforcer.ban_history_retention_days = 2;
    let mut h = Harness::with(&cfg);
    let p = net("10.203.1.1/32");
    h.ctl(ControlRequest::Block {
        prefix: net("10.203.9.0/24"),
        ttl_secs: Some(7 * 86_400),
        comment: None,
    })
    .unwrap();
    for offence in 1..=2 {
        assert_eq!(
            banned(&h.verdict("10.203.1.1", Reason::PortScan)).3,
            offence
        );
        h.advance(HOUR);
    }
    // A day later the history is still there: the count goes on.
    h.advance(DAY);
    assert_eq!(banned(&h.verdict("10.203.1.1", Reason::PortScan)).3, 3);
    h.advance(HOUR);
    assert_eq!(history(&mut h).len(), 4);
    // Two days after the last ban ended every ban of the source is gone, evidence and all (the
    // foreign key would refuse the bans otherwise), and it is a first offender again. The manual
    // ban, still in force, stays.
    h.advance(2 * DAY + HOUR);
    assert_eq!(history(&mut h), [(net("10.203.9.0/24"), BanState::Active)]);
    let (kind, _) = error_kind(h.ctl(ControlRequest::Explain {
        ip: "10.203.1.1".parse().unwrap(),
    }));
    assert_eq!(kind, ControlErrorKind::NotFound);
    assert_eq!(banned(&h.verdict("10.203.1.1", Reason::PortScan)).3, 1);
    let Ok(ControlReply::Explain(x)) = h.ctl(ControlRequest::Explain {
        ip: "10.203.1.1".parse().unwrap(),
    }) else {
        panic!()
    };
    assert_eq!((x.ban.prefix, x.evidence.len()), (p, 1));
}

#[test]
fn simulated_bans_and_undelivered_feedback_outlive_the_ban_history_retention() {
    let mut cfg = config(argus_config::Mode::DryRun);
    cfg.enforcer.default_ttl_secs = 10 * 86_400;
    cfg.enforcer.max_ttl_secs = 10 * 86_400;
    cfg.enforcer.ban_history_retention_days = 2;
    let mut h = Harness::with(&cfg);
    banned(&h.verdict("10.203.1.1", Reason::PortScan));
    banned(&h.verdict("10.203.1.2", Reason::PortScan));
    h.ctl(ControlRequest::Unblock {
        prefix: net("10.203.1.2/32"),
        allow_for_secs: None,
    })
    .unwrap();
    for _ in 0..5 {
        h.advance(DAY);
    }
    // The simulated ban, live, keeps its evidence and is in the dry-run report; the unblocked one
    // stays while kronos has not had its feedback.
    let Ok(ControlReply::Explain(x)) = h.ctl(ControlRequest::Explain {
        ip: "10.203.1.1".parse().unwrap(),
    }) else {
        panic!()
    };
    assert_eq!((x.ban.state, x.evidence.len()), (BanState::Simulated, 1));
    let Ok(ControlReply::Report(r)) = h.ctl(ControlRequest::Report) else {
        panic!()
    };
    assert_eq!(r.entries.len(), 2);
    assert_eq!(history(&mut h).len(), 2);
    let ids: Vec<i64> = h
        .engine
        .pending_feedback()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    h.engine.feedback_delivered(&ids).unwrap();
    h.advance(HOUR);
    assert_eq!(
        history(&mut h),
        [(net("10.203.1.1/32"), BanState::Simulated)]
    );
}
