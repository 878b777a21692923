//! Attack scenarios through the engine, with a model trained (through `offline::train`) on
//! synthetic normal traffic, and in rules-only mode.

use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;

use argus_config::Config;
use argus_kronos::engine::{Engine, EngineSettings, Outputs, PayloadVerdict};
use argus_kronos::features::{self, FeatureExtractor};
use argus_kronos::model::ActiveModel;
use argus_kronos::offline;
use argus_kronos::synth::{self, NS};
use argus_kronos::triage::Triage;
use argus_proto::{
    Action, Feedback, FlowRecord, IpProtocol, Reason, SensorMessage, UnixTimeNs, Verdict,
};

/// Start of the training capture.
const T0: u64 = 1_700_000_000 * NS;
/// Start of the scored traffic, a day later.
const T1: u64 = T0 + 86_400 * NS;
const SERVER: &str = "192.0.2.10";

fn config(extra: &str) -> Config {
    Config::from_yaml(extra, "test.yaml").expect("valid test config")
}

/// A model trained once per test binary on an hour of normal traffic from 400 clients.
fn model() -> ActiveModel {
    static MODEL: OnceLock<ActiveModel> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let input = dir.path().join("normal.jsonl");
            write_records(&input, &synth::normal_traffic(1, 400, 40_000, T0, 3600));
            let output = dir.path().join("model.bin");
            let cfg = config("");
            let report = offline::train(&cfg, &input, &output).expect("train");
            assert!(
                report.info.training_samples >= 5000,
                "{:?}",
                report.info.training_samples
            );
            let names = features::feature_names(&cfg.kronos.source_windows_secs).unwrap();
            ActiveModel::load(&output, &names, false).expect("load trained model")
        })
        .clone()
}

fn write_records(path: &Path, records: &[FlowRecord]) {
    let text: String = records
        .iter()
        .map(|r| serde_json::to_string(&SensorMessage::Flow(r.clone())).unwrap() + "\n")
        .collect();
    std::fs::write(path, text).unwrap();
}

fn engine(cfg: &Config, model: Option<ActiveModel>) -> Engine {
    let mut e = Engine::new(
        &EngineSettings::from_config(cfg),
        Triage::from_config(cfg),
        1,
    )
    .unwrap();
    e.set_model(model.map(std::sync::Arc::new));
    e
}

fn run(engine: &mut Engine, records: &[FlowRecord]) -> Vec<Verdict> {
    let mut out = Outputs::default();
    let mut verdicts = Vec::new();
    for r in records {
        engine.on_flow(r, &mut out);
        verdicts.append(&mut out.verdicts);
        out.clear();
    }
    verdicts
}

fn with_normal(attack: Vec<FlowRecord>) -> Vec<FlowRecord> {
    let mut all = synth::normal_traffic(2, 100, 1700, T1, 600);
    all.extend(attack);
    synth::time_ordered(all)
}

fn from(verdicts: &[Verdict], src: &str) -> Vec<Verdict> {
    let ip: IpAddr = src.parse().unwrap();
    verdicts
        .iter()
        .filter(|v| v.source == ip)
        .cloned()
        .collect()
}

/// The verdicts about `src`: exactly one Ban (no storm), at most one Watch per reason before it,
/// nothing after it; returns the Ban.
fn single_ban(verdicts: &[Verdict], src: &str) -> Verdict {
    let v = from(verdicts, src);
    let bans: Vec<&Verdict> = v.iter().filter(|v| v.action == Action::Ban).collect();
    assert_eq!(bans.len(), 1, "{v:#?}");
    assert_eq!(
        v.last().map(|v| v.action),
        Some(Action::Ban),
        "nothing after the ban: {v:#?}"
    );
    let mut watched: Vec<Reason> = v
        .iter()
        .filter(|v| v.action == Action::Watch)
        .map(|v| v.reason)
        .collect();
    let n = watched.len();
    watched.dedup();
    assert_eq!(watched.len(), n, "one watch per reason: {v:#?}");
    bans[0].clone()
}

/// The deviation score of every record of `records`, in the context of its source.
fn deviations(model: &ActiveModel, records: &[FlowRecord]) -> Vec<f64> {
    let mut x =
        FeatureExtractor::new(&[10, 60, 600], std::num::NonZeroUsize::new(4096).unwrap()).unwrap();
    let mut v = Vec::new();
    records
        .iter()
        .map(|r| {
            let state = x.observe(r);
            features::vector_into(r, state, &mut v);
            model.score(&mut v).unwrap().deviation.0
        })
        .collect()
}

#[test]
fn port_scan_deviates_more_than_browsing_and_is_banned_as_a_port_scan() {
    let model = model();
    let scanner = "203.0.113.66";
    let scan = synth::port_scan(scanner, SERVER, 1..=500, T1 + 300 * NS, 100, 50);
    let normal = synth::normal_traffic(2, 100, 1700, T1, 600);
    let mut normal_dev = deviations(&model, &normal);
    normal_dev.sort_by(f64::total_cmp);
    let scan_dev = deviations(&model, &scan);
    let p99 = normal_dev[normal_dev.len() * 99 / 100];
    let scan_median = {
        let mut s = scan_dev.clone();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    assert!(
        scan_median > 2.0 * p99,
        "scan median deviation {scan_median} vs browsing p99 {p99}"
    );

    let cfg = config("");
    let mut e = engine(&cfg, Some(model.clone()));
    let verdicts = run(&mut e, &with_normal(scan));
    let v = &single_ban(&verdicts, scanner);
    assert_eq!(v.reason, Reason::PortScan);
    assert!(v.evidence.scores.anomaly >= cfg.kronos.high_risk_threshold);
    assert!(v.evidence.scores.deviation.unwrap() > p99);
    assert!(!v.evidence.spoofable);
    assert!(!v.evidence.example_flows.is_empty() && v.evidence.example_flows.len() <= 5);
    assert!(
        v.evidence
            .top_features
            .iter()
            .any(|(n, _)| n.contains("dst_ports")),
        "{:?}",
        v.evidence.top_features
    );
    assert_eq!(v.evidence.model_version, model.version());
    assert_eq!(v.ttl_hint_secs, Some(cfg.enforcer.default_ttl_secs));
    // Normal clients are never banned.
    assert!(
        verdicts
            .iter()
            .all(|v| v.source == scanner.parse::<IpAddr>().unwrap() || v.action == Action::Watch),
        "{verdicts:#?}"
    );
}

#[test]
fn syn_flood_is_banned_as_a_syn_flood() {
    let src = "203.0.113.77";
    let mut e = engine(&config(""), Some(model()));
    let verdicts = run(
        &mut e,
        &with_normal(synth::syn_flood(src, SERVER, 443, T1 + 100 * NS, 2000, 200)),
    );
    assert_eq!(single_ban(&verdicts, src).reason, Reason::SynFlood);
}

#[test]
fn http_brute_force_is_banned_as_brute_force() {
    let src = "203.0.113.88";
    let mut e = engine(&config(""), Some(model()));
    let verdicts = run(
        &mut e,
        &with_normal(synth::brute_force(src, SERVER, 80, T1 + 100 * NS, 600, 20)),
    );
    assert_eq!(single_ban(&verdicts, src).reason, Reason::BruteForce);
}

#[test]
fn udp_only_flood_is_spoofable_and_only_watched() {
    let src = "203.0.113.99";
    let mut e = engine(&config(""), Some(model()));
    let verdicts = run(
        &mut e,
        &with_normal(synth::udp_flood(src, SERVER, T1 + 100 * NS, 3000, 300, 50)),
    );
    let v = from(&verdicts, src);
    assert!(!v.is_empty());
    for v in &v {
        assert_eq!(v.action, Action::Watch, "{v:#?}");
        assert!(v.evidence.spoofable);
        assert!(v
            .evidence
            .example_flows
            .iter()
            .all(|f| f.key.protocol == IpProtocol::UDP));
    }
    assert!(v.iter().any(|v| v.reason == Reason::Flood), "{v:#?}");
}

#[test]
fn rules_alone_catch_attacks_without_a_model() {
    let mut e = engine(&config(""), None);
    let scanner = "203.0.113.66";
    let flooder = "203.0.113.77";
    let mut attack = synth::port_scan(scanner, SERVER, 1..=500, T1 + 300 * NS, 100, 50);
    attack.extend(synth::syn_flood(
        flooder,
        SERVER,
        443,
        T1 + 100 * NS,
        2000,
        200,
    ));
    let verdicts = run(&mut e, &with_normal(attack));
    let scan = single_ban(&verdicts, scanner);
    assert_eq!(scan.reason, Reason::PortScan);
    assert_eq!(scan.evidence.model_version, "rules-only");
    assert_eq!(single_ban(&verdicts, flooder).reason, Reason::SynFlood);
    // Normal clients are not banned by the rules either.
    assert!(
        verdicts
            .iter()
            .all(|v| v.source == scanner.parse::<IpAddr>().unwrap()
                || v.source == flooder.parse::<IpAddr>().unwrap()),
        "{verdicts:#?}"
    );
}

#[test]
fn allowlisted_and_management_sources_are_ignored() {
    let cfg = config(
        "allowlist: [203.0.113.64/26]\nanti_lockout:\n  management_hosts: [203.0.113.5/32]\n",
    );
    let mut e = engine(&cfg, Some(model()));
    let mut attack = synth::port_scan("203.0.113.66", SERVER, 1..=500, T1, 100, 50);
    attack.extend(synth::brute_force("203.0.113.5", SERVER, 22, T1, 300, 20));
    let n = attack.len() as u64;
    let verdicts = run(&mut e, &attack);
    assert!(verdicts.is_empty(), "{verdicts:#?}");
    assert_eq!(e.counters().ignored_protected, n);
    assert_eq!(e.counters().scored + e.counters().fast_path, 0);
}

#[test]
fn false_positive_feedback_suppresses_rebanning_and_keeps_the_source_as_normal() {
    let src = "203.0.113.88";
    let mut e = engine(&config(""), Some(model()));
    e.set_learning(true);
    let first = synth::brute_force(src, SERVER, 80, T1, 600, 20);
    let ban = single_ban(&run(&mut e, &first), src);
    assert_eq!(ban.reason, Reason::BruteForce);
    let rows_before = e.counters().baseline_rows;
    e.on_ack(&ban);
    e.on_false_positive(&Feedback {
        prefix: "203.0.113.88/32".parse().unwrap(),
        reason: Reason::BruteForce,
        at: UnixTimeNs(T1 + 30 * NS),
    });
    // The same behaviour again: at most watched, never banned.
    let again = synth::brute_force(src, SERVER, 80, T1 + 60 * NS, 600, 20);
    let v = run(&mut e, &again);
    assert!(v.iter().all(|v| v.action == Action::Watch), "{v:#?}");
    // And its vectors now count as normal baseline.
    assert!(e.counters().baseline_rows > rows_before);
}

#[test]
fn attack_payloads_are_escalated_and_banned_when_different_ones_repeat() {
    let src = "203.0.113.44";
    let cfg = config("");
    let mut e = engine(&cfg, Some(model()));
    let mut out = Outputs::default();
    let conn = synth::tcp_flow(src, SERVER, 8080, T1, NS);
    // A sample to an inspected port goes to the CNN at once.
    e.on_sample(
        argus_proto::PayloadSample {
            flow: conn.key,
            direction: argus_proto::Direction::Forward,
            index: 0,
            timestamp: UnixTimeNs(T1),
            payload_len: 20,
            bytes: b"GET /?id=1' OR '1'='1".to_vec(),
        },
        &mut out,
    );
    assert_eq!(out.inspect.len(), 1);
    let pv = |n: u64| PayloadVerdict {
        source: src.parse().unwrap(),
        flow: argus_proto::FlowKey {
            src_port: 40_000 + n as u16,
            ..conn.key
        },
        class: "sql_injection".into(),
        probability: 0.97,
        attack: true,
        model: "cnn-test".into(),
        excerpt: "GET /?id=1' OR '1'='1".into(),
        fingerprint: n,
    };
    e.on_payload_verdict(&pv(1), &mut out);
    // The same payload again (a client re-sending a request) is no new evidence.
    e.on_payload_verdict(&pv(1), &mut out);
    e.on_payload_verdict(&pv(2), &mut out);
    let actions: Vec<(Action, Reason)> =
        out.verdicts.iter().map(|v| (v.action, v.reason)).collect();
    assert_eq!(
        actions,
        vec![
            (Action::Watch, Reason::PayloadAttack),
            (Action::Ban, Reason::PayloadAttack)
        ]
    );
    let cnn = out.verdicts[1].evidence.scores.cnn.as_ref().unwrap();
    assert_eq!(
        (cnn.class.as_str(), cnn.model.as_str()),
        ("sql_injection", "cnn-test")
    );
}
