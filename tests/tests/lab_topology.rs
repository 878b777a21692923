//! The lab itself: every host reaches the server through the gateway, over IPv4 and IPv6, and nothing is
//! left behind afterwards.

use argus_tests::lab::{Lab, SERVER_V4, SERVER_V6};
use argus_tests::require_root;

#[test]
fn hosts_reach_the_server_through_the_gateway_and_cleanup_is_complete() {
    require_root("the lab topology test");
    let names;
    let pin_mount;
    {
        let lab = Lab::new().expect("build lab");
        names = [
            lab.attacker.name(),
            lab.client.name(),
            lab.gateway.name(),
            lab.server.name(),
            lab.inet.name(),
        ]
        .map(str::to_owned);
        pin_mount = lab.bpffs.path().to_owned();
        for host in [&lab.attacker, &lab.client] {
            host.exec("ping", &["-c1", "-W2", SERVER_V4])
                .expect("IPv4 through the gateway");
            host.exec("ping", &["-6", "-c1", "-W2", SERVER_V6])
                .expect("IPv6 through the gateway");
        }
    }
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    for n in names {
        assert!(!list.contains(&n), "namespace {n} left behind");
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(
        !mounts.contains(pin_mount.to_str().unwrap()),
        "bpffs left mounted"
    );
}

#[test]
fn lab_services_answer_benign_and_attack_traffic_without_argus() {
    require_root("the lab services test");
    let lab = Lab::new().expect("build lab");
    let _servers = argus_tests::traffic::start_servers(&lab).expect("servers");
    assert_eq!(argus_tests::traffic::benign_round(&lab.client).unwrap(), 0);
    assert!(argus_tests::traffic::can_reach_web(
        &lab.attacker,
        true,
        std::time::Duration::from_secs(2)
    ));
    let answered = argus_tests::traffic::web_attacks(&lab.attacker, SERVER_V4).unwrap();
    assert_eq!(answered, argus_tests::traffic::WEB_ATTACKS.len());
    let scan = argus_tests::traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 100).unwrap();
    let report = String::from_utf8_lossy(&scan.stdout);
    assert!(
        report.contains("80/tcp") && report.contains("open"),
        "{report}"
    );
}
