//! The demo: the whole appliance on the lab gateway, first in dry-run, then enforcing, with real benign
//! and attack traffic, a live view of what Argus sees and does, and a summary.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use argus_config::Mode;

use crate::appliance::{lab_config, Appliance};
use crate::lab::{Lab, ATTACKER_V4, ATTACKER_V6, CLIENT_V4, SERVER_V4, SERVER_V6};
use crate::traffic;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: nix::libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Stops the demo at the next step once Ctrl-C was pressed; the lab is torn down as the stack unwinds.
fn checkpoint() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: tearing the lab down");
    }
    Ok(())
}

/// What the live view remembers about one ban.
#[derive(Debug, Clone)]
struct Seen {
    state: String,
    reason: String,
    first_seen_at: Duration,
    packets: u64,
}

/// Runs the demo. Needs root and the workspace's binaries.
pub fn run() -> Result<()> {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGINT,
            nix::sys::signal::SigHandler::Handler(on_sigint),
        )?;
    }
    let t0 = Instant::now();
    say(t0, "building the lab: attacker and client on the internet side, Argus on the gateway, a web server on the LAN");
    let lab = Lab::new()?;
    let _servers = traffic::start_servers(&lab)?;
    say(t0, &format!("attacker {ATTACKER_V4} / {ATTACKER_V6}, client {CLIENT_V4}, server {SERVER_V4} / {SERVER_V6}"));

    say(t0, "phase 1 — DRY-RUN: starting argus-enforcer, argus-kronos, argus-sentinel (XDP on wan0 and lan0)");
    let app = Appliance::start(&lab, lab_config(&lab, Mode::DryRun))?;
    show_status(&app, t0)?;
    let mut seen = BTreeMap::new();
    let done = AtomicBool::new(false);
    let benign_failures = std::thread::scope(|s| -> Result<usize> {
        let client = s.spawn(|| {
            let mut failures = 0;
            while !done.load(Ordering::SeqCst) && !INTERRUPTED.load(Ordering::SeqCst) {
                failures += traffic::benign_round(&lab.client).unwrap_or(1);
            }
            failures
        });
        let result = (|| -> Result<()> {
            attacks(&lab, &app, t0, &mut seen)?;
            say(
                t0,
                "the dry-run report (`argusctl report`): what enforcement would have done",
            );
            print!(
                "{}",
                String::from_utf8_lossy(&app.argusctl(&["report"])?.stdout)
            );
            checkpoint()?;
            say(t0, "the attacker still gets through in dry-run:");
            reachability(&lab, t0);

            say(
                t0,
                "phase 2 — ENFORCE: the owner runs `argusctl mode enforce`",
            );
            print!(
                "{}",
                String::from_utf8_lossy(&app.argusctl(&["mode", "enforce"])?.stdout)
            );
            std::thread::sleep(Duration::from_secs(1));
            attacks(&lab, &app, t0, &mut seen)?;
            say(t0, "bans in force (`argusctl list`):");
            print!(
                "{}",
                String::from_utf8_lossy(&app.argusctl(&["list"])?.stdout)
            );
            say(
                t0,
                &format!("why was {ATTACKER_V4} banned? (`argusctl explain {ATTACKER_V4}`)"),
            );
            print!(
                "{}",
                String::from_utf8_lossy(&app.argusctl_raw(&["explain", ATTACKER_V4])?.stdout)
            );
            reachability(&lab, t0);
            show_status(&app, t0)?;
            Ok(())
        })();
        done.store(true, Ordering::SeqCst);
        let failures = client.join().unwrap_or(usize::MAX);
        result.map(|()| failures)
    })?;

    println!();
    println!("===== summary =====");
    println!(
        "{:<22} {:<10} {:<16} {:>12} {:>14}",
        "prefix", "state", "reason", "packets", "seen after"
    );
    for (prefix, s) in &seen {
        println!(
            "{:<22} {:<10} {:<16} {:>12} {:>13.1}s",
            prefix,
            s.state,
            s.reason,
            s.packets,
            s.first_seen_at.as_secs_f64()
        );
    }
    let client_banned = seen.keys().any(|p| p.starts_with(CLIENT_V4));
    println!(
        "benign client {CLIENT_V4}: {} failed HTTP requests over the whole demo; banned: {}",
        benign_failures,
        if client_banned {
            "YES (a false positive)"
        } else {
            "no"
        }
    );
    println!("tearing the lab down");
    Ok(())
}

/// The attack sequence, with the live view refreshed between steps.
fn attacks(
    lab: &Lab,
    app: &Appliance,
    t0: Instant,
    seen: &mut BTreeMap<String, Seen>,
) -> Result<()> {
    let steps: [(&str, &dyn Fn() -> Result<()>); 4] = [
        ("attacker: nmap SYN scan of ports 1-1000", &|| {
            traffic::nmap_syn_scan(&lab.attacker, SERVER_V4, 1000).map(drop)
        }),
        ("attacker: nmap SYN scan over IPv6", &|| {
            traffic::nmap_syn_scan(&lab.attacker, SERVER_V6, 200).map(drop)
        }),
        (
            "attacker: HTTP requests with SQL injection, XSS, path traversal, command injection",
            &|| traffic::web_attacks(&lab.attacker, SERVER_V4).map(drop),
        ),
        ("attacker: hping3 SYN flood, 3000 packets", &|| {
            traffic::hping3_syn_flood(&lab.attacker, SERVER_V4, 3000).map(drop)
        }),
    ];
    for (what, step) in steps {
        checkpoint()?;
        say(t0, what);
        step()?;
        for _ in 0..6 {
            refresh(app, t0, seen)?;
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(())
}

/// Prints bans that appeared or changed since the last refresh.
fn refresh(app: &Appliance, t0: Instant, seen: &mut BTreeMap<String, Seen>) -> Result<()> {
    let list = app.argusctl_json(&["list", "--simulated"])?;
    for b in list["bans"].as_array().into_iter().flatten() {
        let prefix = b["prefix"].as_str().unwrap_or("?").to_owned();
        let state = b["state"].as_str().unwrap_or("?").to_owned();
        let reason = b["reason"].as_str().unwrap_or("?").to_owned();
        let packets = b["packets"].as_u64().unwrap_or(0);
        let changed = seen.get(&prefix).is_none_or(|s| s.state != state);
        if changed {
            let verb = if state == "active" {
                "BANNED (XDP drops it)"
            } else {
                "simulated ban (dry-run: would drop)"
            };
            say(t0, &format!("  → {prefix}: {verb}, reason {reason}"));
        }
        let entry = seen.entry(prefix).or_insert_with(|| Seen {
            state: state.clone(),
            reason: reason.clone(),
            first_seen_at: t0.elapsed(),
            packets,
        });
        entry.state = state;
        entry.reason = reason;
        entry.packets = packets;
    }
    Ok(())
}

fn show_status(app: &Appliance, t0: Instant) -> Result<()> {
    let status = &app.argusctl_json(&["status"])?["status"];
    let dp = &status["dataplane"];
    let k = &status["kronos"];
    say(
        t0,
        &format!(
            "status: mode {}, XDP passed {} dropped {} would_drop {}; kronos flows {} verdicts {}, CNN {}",
            status["mode"].as_str().unwrap_or("?"),
            dp["passed"].as_u64().unwrap_or(0),
            dp["dropped"].as_u64().unwrap_or(0),
            dp["would_drop"].as_u64().unwrap_or(0),
            k["flows_received"].as_u64().unwrap_or(0),
            k["verdicts_sent"].as_u64().unwrap_or(0),
            if k["cnn_loaded"].as_bool() == Some(true) { "loaded" } else { "not loaded" },
        ),
    );
    Ok(())
}

fn reachability(lab: &Lab, t0: Instant) {
    for (name, host) in [("attacker", &lab.attacker), ("client", &lab.client)] {
        let ok = traffic::can_reach_web(host, false, Duration::from_secs(2));
        say(
            t0,
            &format!(
                "  {name} → web server: {}",
                if ok { "200 OK" } else { "no answer (dropped)" }
            ),
        );
    }
}

fn say(t0: Instant, msg: &str) {
    println!("[{:6.1}s] {msg}", t0.elapsed().as_secs_f64());
}
