//! Helpers for sentinel's process-level tests: configs, running the binary
//! (inside a namespace) and reading its JSON-lines output. Namespaces, veths
//! and child processes come from argus-tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argus_proto::{FlowRecord, PayloadSample, SensorMessage};
use argus_tests::netns::Netns;
use argus_tests::process::Managed;
use nix::sys::signal::Signal;

pub mod net;

/// The sentinel binary under test.
pub fn sentinel_bin() -> &'static str {
    env!("CARGO_BIN_EXE_argus-sentinel")
}

/// Writes an aegis.yaml for sentinel with `interfaces` (name, role) and a
/// fast scan so tests do not wait long for exports.
pub fn write_config(
    dir: &Path,
    pin_dir: &Path,
    interfaces: &[(&str, &str)],
    extra: &str,
) -> PathBuf {
    // Metrics off: parallel tests would compete for the default port.
    let mut yaml = format!(
        "paths:\n  pin_dir: {}\n  sentinel_socket: {}\nlogging:\n  level: debug\nmetrics:\n  enabled: false\nsentinel:\n  interfaces:\n",
        pin_dir.display(),
        dir.join("sentinel.sock").display()
    );
    for (name, role) in interfaces {
        yaml.push_str(&format!("    - name: {name}\n      role: {role}\n"));
    }
    yaml.push_str("  flows:\n    scan_interval_ms: 100\n    idle_timeout_secs: 60\n    active_timeout_secs: 600\n");
    yaml.push_str(extra);
    let path = dir.join("aegis.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Starts sentinel inside `ns` with `config`, writing JSON lines to `out`.
pub fn spawn_sentinel(ns: &Netns, config: &Path, out: &Path, log: PathBuf) -> Managed {
    let mut cmd = ns.command(sentinel_bin());
    cmd.arg("--config").arg(config).arg("--out").arg(out);
    Managed::spawn("argus-sentinel", cmd, log).expect("starting argus-sentinel")
}

/// Polls `cond` until it holds; panics with `what` and `log` after a
/// generous deadline (this bounds a wait, it measures nothing).
pub fn wait_for(what: &str, log: impl Fn() -> String, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n--- log ---\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until sentinel reports every interface attached (a link pin may
/// predate this run, so the log is the signal) and its link pinned.
pub fn wait_attached(s: &Managed, pin_dir: &Path, interfaces: &[&str]) {
    wait_for(
        "sentinel to attach",
        || s.log(),
        || {
            let log = s.log();
            interfaces.iter().all(|i| {
                pin_dir.join("links").join(i).exists()
                    && log.lines().any(|l| {
                        l.contains("XDP attached") && l.contains(&format!("interface={i}"))
                    })
            })
        },
    );
}

/// Sends SIGTERM and waits for a clean exit.
pub fn stop(s: &mut Managed) {
    s.signal(Signal::SIGTERM).expect("SIGTERM to sentinel");
    let status = s.wait().expect("waiting for sentinel");
    assert!(
        status.success(),
        "sentinel exited with {status}\n{}",
        s.log()
    );
}

/// The messages of a JSON-lines output file.
pub fn read_messages(path: &Path) -> Vec<SensorMessage> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

/// The flow records of an output file.
pub fn flows(path: &Path) -> Vec<FlowRecord> {
    read_messages(path)
        .into_iter()
        .filter_map(|m| match m {
            SensorMessage::Flow(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// The payload samples of an output file.
pub fn samples(path: &Path) -> Vec<PayloadSample> {
    read_messages(path)
        .into_iter()
        .filter_map(|m| match m {
            SensorMessage::Sample(s) => Some(s),
            _ => None,
        })
        .collect()
}
