//! End-to-end: the real appliance on the lab gateway, with real traffic.

use std::time::{Duration, Instant};

use argus_config::Mode;
use argus_tests::appliance::{lab_config, Appliance, Component};
use argus_tests::lab::{Lab, ATTACKER_V4, SERVER_V4};
use argus_tests::require_root;
use argus_tests::traffic::{can_reach_web, start_servers};

/// Polls `cond` every 50 ms for up to `limit`; returns the time it took, or `None`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn manual_block_drops_in_xdp_and_unblock_restores_at_once() {
    require_root("the appliance end-to-end test");
    let lab = Lab::new().unwrap();
    let _servers = start_servers(&lab).unwrap();
    let app = Appliance::start(&lab, lab_config(&lab, Mode::Enforce)).unwrap();
    let t = Duration::from_secs(2);
    assert!(can_reach_web(&lab.attacker, false, t), "{}", app.logs());

    app.argusctl(&["block", &format!("{ATTACKER_V4}/32"), "--reason", "e2e"])
        .unwrap();
    let blocked = wait_for(Duration::from_secs(5), || {
        !can_reach_web(&lab.attacker, false, Duration::from_millis(500))
    });
    assert!(
        blocked.is_some(),
        "attacker still reaches the server\n{}",
        app.logs()
    );
    assert!(
        can_reach_web(&lab.client, false, t),
        "the client must not be affected"
    );
    let list = app.argusctl_json(&["list"]).unwrap();
    eprintln!("{list:#}");

    let start = Instant::now();
    app.argusctl(&["unblock", ATTACKER_V4]).unwrap();
    let restored = wait_for(Duration::from_secs(5), || {
        can_reach_web(&lab.attacker, false, Duration::from_millis(500))
    });
    eprintln!("unblock → traffic flows again after {:?}", start.elapsed());
    assert!(
        restored.is_some(),
        "unblock did not restore traffic\n{}",
        app.logs()
    );
    let _ = SERVER_V4;
}

/// The bans `argusctl list --json` shows, as (prefix, state, reason, packets).
fn bans(app: &Appliance, extra: &[&str]) -> Vec<(String, String, String, u64)> {
    let mut args = vec!["list"];
    args.extend_from_slice(extra);
    let list = app.argusctl_json(&args).unwrap();
    list["bans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["prefix"].as_str().unwrap().to_owned(),
                b["state"].as_str().unwrap().to_owned(),
                b["reason"].as_str().unwrap().to_owned(),
                b["packets"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn attacks_are_detected_banned_and_dropped_while_the_client_is_spared() {
    require_root("the appliance detection test");
    let lab = Lab::new().unwrap();
    let _servers = start_servers(&lab).unwrap();
    let app = Appliance::start(&lab, lab_config(&lab, Mode::Enforce)).unwrap();
    let benign = std::thread::scope(|s| {
        let client = s.spawn(|| {
            let mut failures = 0;
            for _ in 0..6 {
                failures += argus_tests::traffic::benign_round(&lab.client).unwrap();
            }
            failures
        });
        let first_attack = Instant::now();
        let _ = argus_tests::traffic::web_attacks(&lab.attacker, SERVER_V4);
        let _ = argus_tests::traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 1000);
        let banned = wait_for(Duration::from_secs(30), || {
            bans(&app, &[])
                .iter()
                .any(|b| b.0 == format!("{ATTACKER_V4}/32"))
        });
        eprintln!("first attack → ban: {banned:?} (from {first_attack:?})");
        eprintln!("{:#?}", bans(&app, &["--simulated"]));
        assert!(banned.is_some(), "attacker not banned\n{}", app.logs());
        client.join().unwrap()
    });
    assert_eq!(benign, 0, "benign requests failed");
    assert!(!can_reach_web(&lab.attacker, false, Duration::from_secs(1)));
    assert!(
        bans(&app, &[])
            .iter()
            .all(|b| !b.0.starts_with("10.203.1.2")),
        "the client was banned"
    );
}

/// Active bans in SQLite (via argusctl) and entries in the kernel blocklist must be the same prefixes.
fn assert_sqlite_matches_kernel(app: &Appliance) {
    let mut sqlite: Vec<String> = bans(app, &[])
        .into_iter()
        .filter(|b| b.1 == "active")
        .map(|b| b.0)
        .collect();
    let kernel_maps =
        argus_sentinel_common::maps::Blocklist::open(&app.config().paths.pin_dir).unwrap();
    let mut kernel: Vec<String> = kernel_maps
        .list()
        .unwrap()
        .into_iter()
        .map(|e| e.prefix.to_string())
        .collect();
    sqlite.sort();
    kernel.sort();
    assert_eq!(
        sqlite, kernel,
        "SQLite's active bans differ from the kernel map"
    );
}

/// Waits until the attacker's IPv4 address has a ban in `state`.
fn wait_for_attacker_ban(app: &Appliance, state: &str) -> Option<Duration> {
    let prefix = format!("{ATTACKER_V4}/32");
    wait_for(Duration::from_secs(30), || {
        bans(app, &["--simulated"])
            .iter()
            .any(|b| b.0 == prefix && b.1 == state)
    })
}

#[test]
fn dry_run_simulates_bans_counts_would_drop_and_drops_nothing() {
    require_root("the dry-run end-to-end test");
    let lab = Lab::new().unwrap();
    let _servers = start_servers(&lab).unwrap();
    let app = Appliance::start(&lab, lab_config(&lab, Mode::DryRun)).unwrap();
    argus_tests::traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 1000).unwrap();
    assert!(
        wait_for_attacker_ban(&app, "simulated").is_some(),
        "no simulated ban for the scanner\n{}",
        app.logs()
    );
    // Nothing is dropped: the attacker still gets answers, and the kernel counts what enforcement would
    // have dropped.
    for _ in 0..3 {
        assert!(can_reach_web(&lab.attacker, false, Duration::from_secs(2)));
    }
    let would_drop = wait_for(Duration::from_secs(5), || {
        app.argusctl_json(&["status"]).unwrap()["status"]["dataplane"]["would_drop"]
            .as_u64()
            .unwrap_or(0)
            > 0
    });
    assert!(
        would_drop.is_some(),
        "would_drop never counted: {:#}\n{}",
        app.argusctl_json(&["status"]).unwrap(),
        app.logs()
    );
    let status = &app.argusctl_json(&["status"]).unwrap()["status"];
    assert_eq!(
        status["dataplane"]["dropped"].as_u64(),
        Some(0),
        "{status:#}"
    );
    assert_eq!(status["mode"].as_str(), Some("dry_run"), "{status:#}");
    assert!(
        bans(&app, &[]).iter().all(|b| b.1 != "active"),
        "an active ban in dry-run"
    );
    let report = &app.argusctl_json(&["report"]).unwrap()["report"];
    let entries = report["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["ban"]["prefix"].as_str() == Some(&format!("{ATTACKER_V4}/32"))),
        "the report does not list the scanner: {report:#}"
    );
    assert!(
        report["would_drop_packets"].as_u64().unwrap() > 0,
        "{report:#}"
    );
    let human = app.argusctl(&["report"]).unwrap();
    assert!(String::from_utf8_lossy(&human.stdout).contains(ATTACKER_V4));
}

#[test]
fn unblock_restores_within_a_second_and_the_same_evidence_does_not_reban() {
    require_root("the unblock end-to-end test");
    let lab = Lab::new().unwrap();
    let _servers = start_servers(&lab).unwrap();
    let app = Appliance::start(&lab, lab_config(&lab, Mode::Enforce)).unwrap();
    argus_tests::traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 1000).unwrap();
    assert!(
        wait_for_attacker_ban(&app, "active").is_some(),
        "scanner not banned\n{}",
        app.logs()
    );
    assert!(!can_reach_web(&lab.attacker, false, Duration::from_secs(1)));

    let start = Instant::now();
    app.argusctl(&["unblock", ATTACKER_V4]).unwrap();
    let restored = wait_for(Duration::from_secs(5), || {
        can_reach_web(&lab.attacker, false, Duration::from_millis(300))
    });
    eprintln!(
        "argusctl unblock → attacker's traffic flows again: {:?}",
        restored.map(|_| start.elapsed())
    );
    assert!(restored.is_some(), "traffic not restored\n{}", app.logs());

    // The same scan again: the owner said this source is fine, so the same evidence must not ban it.
    argus_tests::traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 1000).unwrap();
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        bans(&app, &[])
            .iter()
            .all(|b| b.0 != format!("{ATTACKER_V4}/32")),
        "re-banned for the same evidence\n{}",
        app.logs()
    );
    assert!(can_reach_web(&lab.attacker, false, Duration::from_secs(2)));
}

#[test]
fn sigkill_of_each_process_during_an_attack_loses_no_ban_and_drops_continue() {
    require_root("the fault end-to-end test");
    let lab = Lab::new().unwrap();
    let _servers = start_servers(&lab).unwrap();
    let mut app = Appliance::start(&lab, lab_config(&lab, Mode::Enforce)).unwrap();
    // Bans of every shape: a v4 host, a v6 /64 and a v4 /24 outside the lab's hosts.
    app.argusctl(&["block", ATTACKER_V4]).unwrap();
    app.argusctl(&["block", "fd00:203:1::10"]).unwrap();
    app.argusctl(&["block", "10.203.77.0/24"]).unwrap();
    let before = bans(&app, &[]);
    assert_eq!(before.len(), 3, "{before:?}");
    assert_sqlite_matches_kernel(&app);

    for component in Component::ALL {
        let dropped_before = attacker_drops(&app);
        app.kill(component).unwrap();
        // The attack goes on while the process is dead; the pinned program keeps dropping it.
        let _ = argus_tests::traffic::hping3_syn_flood(&lab.attacker, SERVER_V4, 200);
        assert!(
            !can_reach_web(&lab.attacker, false, Duration::from_millis(500)),
            "attacker got through while {component:?} was dead"
        );
        assert!(
            can_reach_web(&lab.client, false, Duration::from_secs(2)),
            "the client lost service while {component:?} was dead"
        );
        assert!(
            attacker_drops(&app) > dropped_before,
            "no XDP drops counted while {component:?} was dead"
        );
        app.start_one(component).unwrap();
        let after: Vec<_> = bans(&app, &[]).into_iter().map(|b| b.0).collect();
        for (prefix, ..) in &before {
            assert!(
                after.contains(prefix),
                "{prefix} lost after restarting {component:?}"
            );
        }
        assert_sqlite_matches_kernel(&app);
    }
    // Every link came back: kronos reports to the enforcer again.
    let reconnected = wait_for(Duration::from_secs(15), || {
        !app.argusctl_json(&["status"]).unwrap()["status"]["kronos"].is_null()
    });
    assert!(
        reconnected.is_some(),
        "kronos did not reconnect\n{}",
        app.logs()
    );
}

/// Packets the kernel matched against the attacker's IPv4 host ban, read from the pinned map (the
/// enforcer may be dead).
fn attacker_drops(app: &Appliance) -> u64 {
    argus_sentinel_common::maps::Blocklist::open(&app.config().paths.pin_dir)
        .unwrap()
        .lookup(ATTACKER_V4.parse().unwrap())
        .unwrap()
        .map(|v| v.packets)
        .unwrap_or(0)
}

/// The value of `name{labels}` in a scrape, 0 when absent.
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    argus_metrics::scrape::value(text, name, labels).unwrap_or(0.0)
}

#[test]
fn metrics_of_all_three_processes_move_during_an_attack() {
    require_root("the metrics end-to-end test");
    let lab = Lab::new().unwrap();
    let _servers = start_servers(&lab).unwrap();
    let app = Appliance::start(&lab, lab_config(&lab, Mode::Enforce)).unwrap();
    let scrape = |c| {
        app.scrape(c)
            .unwrap_or_else(|e| panic!("{c:?}: {e:#}\n{}", app.logs()))
    };

    let sentinel = scrape(Component::Sentinel);
    let modes = argus_metrics::scrape::sum(&sentinel, "argus_xdp_mode").unwrap_or(0.0);
    assert_eq!(modes, 2.0, "one XDP mode per interface:\n{sentinel}");
    assert_eq!(
        metric(&sentinel, "argus_xdp_mode", "iface=\"wan0\",mode=\"none\""),
        0.0
    );
    assert_eq!(
        metric(&sentinel, "argus_xdp_packets_total", "action=\"drop\""),
        0.0
    );
    let enforcer = scrape(Component::Enforcer);
    assert_eq!(
        metric(&enforcer, "argus_enforcer_mode", "mode=\"enforce\""),
        1.0
    );
    assert_eq!(
        metric(&enforcer, "argus_enforcer_bans", "state=\"active\""),
        0.0
    );
    let kronos = scrape(Component::Kronos);
    assert_eq!(
        metric(&kronos, "argus_kronos_enforcer_connected", ""),
        1.0,
        "{kronos}"
    );

    argus_tests::traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 1000).unwrap();
    assert!(
        wait_for_attacker_ban(&app, "active").is_some(),
        "attacker not banned\n{}",
        app.logs()
    );
    // Banned traffic now ends in XDP.
    let dropped = wait_for(Duration::from_secs(10), || {
        let _ = can_reach_web(&lab.attacker, false, Duration::from_millis(300));
        metric(
            &scrape(Component::Sentinel),
            "argus_xdp_packets_total",
            "action=\"drop\"",
        ) > 0.0
    });
    assert!(dropped.is_some(), "no XDP drop counted\n{}", app.logs());

    let sentinel = scrape(Component::Sentinel);
    let kronos = scrape(Component::Kronos);
    let enforcer = scrape(Component::Enforcer);
    eprintln!("{sentinel}\n{kronos}\n{enforcer}");
    assert!(metric(&sentinel, "argus_xdp_packets_total", "action=\"pass\"") > 0.0);
    assert!(metric(&sentinel, "argus_sentinel_flows_exported_total", "") > 0.0);
    assert_eq!(
        metric(&sentinel, "argus_sentinel_kronos_connected", ""),
        1.0
    );
    assert!(metric(&kronos, "argus_kronos_received_total", "kind=\"flow\"") > 0.0);
    assert!(metric(&kronos, "argus_kronos_flows_total", "path=\"scored\"") > 0.0);
    // Whatever the reason the scan is banned for (port scan, SYN flood, anomaly).
    let sum = |text: &str, name: &str| argus_metrics::scrape::sum(text, name).unwrap_or(0.0);
    assert!(
        sum(&kronos, "argus_kronos_verdicts_total") >= 1.0,
        "{kronos}"
    );
    assert!(metric(&kronos, "argus_kronos_score_count", "score=\"anomaly\"") > 0.0);
    assert_eq!(
        metric(&kronos, "argus_kronos_sentinel_connections", ""),
        1.0
    );
    assert!(metric(&enforcer, "argus_enforcer_bans", "state=\"active\"") >= 1.0);
    assert!(
        metric(
            &enforcer,
            "argus_enforcer_verdicts_total",
            "outcome=\"banned\""
        ) >= 1.0
    );
    assert!(sum(&enforcer, "argus_enforcer_bans_added_total") >= 1.0);
    assert!(
        metric(
            &enforcer,
            "argus_enforcer_control_requests_total",
            "command=\"list\",result=\"ok\""
        ) >= 1.0,
        "argusctl list was counted"
    );
}
