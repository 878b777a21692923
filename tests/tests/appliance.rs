//! End-to-end: the real appliance on the lab gateway, with real traffic.

use std::time::{Duration, Instant};

use argus_config::Mode;
use argus_tests::appliance::{lab_config, Appliance};
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
