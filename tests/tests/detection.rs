//! Detection on real lab traffic through the real appliance: every attack kind from the attacker is
//! banned for its reason and then dropped in XDP, and benign users of every kind, from many sources,
//! are never banned. Timing figures are printed, not asserted (`argus-lab evaluate` collects them).

use std::sync::Mutex;
use std::time::Duration;

use argus_config::Mode;
use argus_tests::appliance::Appliance;
use argus_tests::lab::Lab;
use argus_tests::require_root;
use argus_tests::scenarios::{self, Attack, MixParams};
use argus_tests::traffic::Activity;

/// One lab at a time: detection depends on how fast the appliance keeps up, and CI has two cores.
static ONE_LAB: Mutex<()> = Mutex::new(());

/// Runs each attack on a fresh lab and asserts the attacker was banned for the attack's reason and
/// that XDP then drops its packets.
fn banned_for_its_reason_and_dropped(attacks: &[Attack]) {
    require_root("the detection tests");
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    for &attack in attacks {
        let lab = Lab::new().unwrap();
        let _servers = scenarios::start_content(&lab).unwrap();
        let cfg = scenarios::detection_config(&lab, Mode::Enforce).unwrap();
        let app = Appliance::start(&lab, cfg).unwrap();
        let outcome = scenarios::run_attack(&lab, &app, attack).unwrap();
        eprintln!(
            "{}: ban {:?} after {:?}, first XDP drop after {:?}",
            attack.name(),
            outcome.ban,
            outcome.to_ban,
            outcome.to_drop
        );
        assert_eq!(
            outcome.reason(),
            attack.expected_reason(),
            "{}: {outcome:?}\n{}",
            attack.name(),
            app.logs()
        );
        let dropped = scenarios::probe_attacker(&lab, &app, attack).unwrap();
        assert!(
            dropped > 0,
            "{}: banned but nothing dropped in XDP\n{}",
            attack.name(),
            app.logs()
        );
    }
}

#[test]
fn ipv4_port_scans_syn_and_connect_are_banned_and_dropped() {
    banned_for_its_reason_and_dropped(&[
        Attack::SynScan { v6: false },
        Attack::ConnectScan { v6: false },
    ]);
}

#[test]
fn ipv6_port_scans_syn_and_connect_are_banned_and_dropped() {
    banned_for_its_reason_and_dropped(&[
        Attack::SynScan { v6: true },
        Attack::ConnectScan { v6: true },
    ]);
}

#[test]
fn syn_flood_is_banned_and_dropped() {
    banned_for_its_reason_and_dropped(&[Attack::SynFlood]);
}

#[test]
fn web_attack_payloads_are_banned_and_dropped() {
    banned_for_its_reason_and_dropped(&[Attack::WebAttacks]);
}

#[test]
fn http_login_brute_force_is_banned_and_dropped() {
    banned_for_its_reason_and_dropped(&[Attack::BruteForce]);
}

#[test]
fn benign_users_of_every_kind_are_never_banned() {
    require_root("the detection tests");
    let _one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new().unwrap();
    let _servers = scenarios::start_content(&lab).unwrap();
    let sources = scenarios::benign_sources(&lab, 6).unwrap();
    let cfg = scenarios::detection_config(&lab, Mode::Enforce).unwrap();
    let app = Appliance::start(&lab, cfg).unwrap();
    let report = scenarios::benign_mix(
        &lab.client,
        &sources,
        &MixParams::new(Duration::from_secs(30), 7),
    );
    // The last flows close, are exported and judged.
    std::thread::sleep(Duration::from_secs(5));
    eprintln!(
        "{} activities from {} sources: {:?}",
        report.activities,
        sources.len(),
        Activity::ALL
            .iter()
            .zip(report.per_kind)
            .collect::<Vec<_>>()
    );
    assert!(report.errors.is_empty(), "{:#?}", report.errors);
    assert!(
        report.per_kind.iter().all(|&n| n > 0),
        "every kind of activity ran: {:?}",
        report.per_kind
    );
    let bans = scenarios::bans(&app).unwrap();
    assert!(
        bans.is_empty(),
        "benign sources banned: {bans:#?}\n{}",
        app.logs()
    );
}
