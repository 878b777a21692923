//! Behaviour rules: the attack shapes kronos names, recognised from a source's window summaries.
//!
//! Each rule gives a *strength*, the observed amount divided by the rule's limit (1.0 = exactly at
//! the limit), and applies only when its shape matches:
//!
//! | reason | shape | amount / limit in a window of `W` s |
//! |---|---|---|
//! | `port_scan` | ≥ 50 % of flows reset or unanswered, ≤ 4 packets per flow | min(distinct ports or hosts, failed probes) / 25 |
//! | `syn_flood` | ≥ 80 % SYN-only flows, ≤ 4 ports | SYN-only flows / max(100, W) |
//! | `brute_force` | ≤ 3 services, ≤ 40 packets per flow, connections sustained ≥ 5 s | connections completed in the sustained run / max(30, W / 2) |
//! | `flood` | ≥ 50 % of flows unanswered | packets sent / (1000 · W) |
//!
//! The strongest rule over all windows names the reason of a verdict (when its strength is at
//! least [`REASON_MIN_STRENGTH`]); its strength is a floor of the anomaly score, which is the
//! larger of the model's score and the rules' (and the rules' alone without a model; see
//! `docs/scoring.md`); and vectors of sources matching a rule are kept out of the learned
//! baseline, so a week of background scanning cannot teach the model that scans are normal.
//! The limits are attack-level volumes: at 1.0 a source is watched, at 3.0 (the default
//! high-risk threshold) banned.
//!
//! The shapes keep benign volume out. A browser loading a page opens dozens of connections in a
//! second and a load test hundreds, to one service, like a brute force; what they do not do is
//! keep it up: a brute force needs the source to have completed connections without a pause of
//! more than [`crate::features::SUSTAIN_GAP_SECS`] for [`BRUTE_FORCE_MIN_SUSTAINED_SECS`], and
//! only the connections of that uninterrupted run count, so bursts with pauses between them
//! never add up to one. An
//! upload sends many packets, but they are answered; a flood needs most of the source's flows to
//! have gone unanswered (UDP floods: evidence the policy treats as spoofable).

use argus_proto::Reason;

use crate::features::WindowSummary;

/// Strength from which a rule names the reason of a verdict and keeps a source's vectors out of
/// the baseline.
pub const REASON_MIN_STRENGTH: f64 = 0.5;

/// Seconds a source must have kept completing connections (see
/// [`WindowSummary::sustained_secs`]) before its volume can count as a brute force.
pub const BRUTE_FORCE_MIN_SUSTAINED_SECS: f64 = 5.0;

/// The strongest rule that matched, with the amounts behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatch {
    /// What the behaviour looks like.
    pub reason: Reason,
    /// Amount over limit (1.0 = at the limit).
    pub strength: f64,
    /// The window it was seen in.
    pub window_secs: u64,
    /// Raw amounts of that window, named like the features (`src<W>s.<name>`).
    pub evidence: Vec<(String, f64)>,
}

/// Strength of each rule in one window, `None` where the shape does not match.
fn strengths(s: &WindowSummary) -> [(Reason, Option<f64>); 4] {
    let w = s.window_secs as f64;
    let flows = s.flows.max(f64::MIN_POSITIVE);
    let port_scan = (s.failed_probes() / flows >= 0.5 && s.packets_per_flow() <= 4.0)
        .then(|| s.dst_ports.max(s.dst_hosts).min(s.failed_probes()) / 25.0);
    let syn_flood =
        (s.syn_only / flows >= 0.8 && s.dst_ports <= 4.0).then(|| s.syn_only / w.max(100.0));
    let brute_force = (s.services <= 3.0
        && s.packets_per_flow() <= 40.0
        && s.sustained_secs >= BRUTE_FORCE_MIN_SUSTAINED_SECS)
        .then(|| s.run_established / (w / 2.0).max(30.0));
    let flood = (s.unanswered / flows >= 0.5).then(|| s.packets / (1000.0 * w));
    [
        (Reason::PortScan, port_scan),
        (Reason::SynFlood, syn_flood),
        (Reason::BruteForce, brute_force),
        (Reason::Flood, flood),
    ]
}

/// The strongest matching rule over `summaries`, or `None` when no rule has any strength.
pub fn strongest(summaries: impl IntoIterator<Item = WindowSummary>) -> Option<RuleMatch> {
    let mut best: Option<(Reason, f64, WindowSummary)> = None;
    for s in summaries {
        for (reason, strength) in strengths(&s) {
            if let Some(strength) = strength.filter(|v| *v > 0.0) {
                if best.as_ref().is_none_or(|(_, b, _)| strength > *b) {
                    best = Some((reason, strength, s));
                }
            }
        }
    }
    best.map(|(reason, strength, s)| RuleMatch {
        reason,
        strength,
        window_secs: s.window_secs,
        evidence: evidence(reason, &s),
    })
}

fn evidence(reason: Reason, s: &WindowSummary) -> Vec<(String, f64)> {
    let named = |name: &str, v: f64| (format!("src{}s.{name}", s.window_secs), v);
    let mut out = vec![named("flows", s.flows)];
    match reason {
        Reason::PortScan => out.extend([
            named("dst_ports", s.dst_ports),
            named("dst_hosts", s.dst_hosts),
            named("responder_rst", s.responder_rst),
            named("unanswered", s.unanswered),
        ]),
        Reason::SynFlood => out.extend([
            named("syn_only", s.syn_only),
            named("failed_handshakes", s.failed_handshakes),
            named("dst_ports", s.dst_ports),
        ]),
        Reason::BruteForce => out.extend([
            named("run_established", s.run_established),
            named("services", s.services),
            named("packets_per_flow", s.packets_per_flow()),
            ("src.sustained_secs".to_owned(), s.sustained_secs),
        ]),
        _ => out.extend([
            named("packets", s.packets),
            named("bytes", s.bytes),
            named("unanswered", s.unanswered),
        ]),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(w: u64) -> WindowSummary {
        WindowSummary {
            window_secs: w,
            ..WindowSummary::default()
        }
    }

    #[test]
    fn port_scan_needs_failures_and_breadth() {
        let scan = WindowSummary {
            flows: 500.0,
            packets: 500.0,
            dst_ports: 480.0,
            dst_hosts: 1.0,
            services: 480.0,
            responder_rst: 450.0,
            unanswered: 0.0,
            syn_only: 500.0,
            ..window(10)
        };
        let m = strongest([scan]).unwrap();
        assert_eq!(m.reason, Reason::PortScan);
        assert!((m.strength - 450.0 / 25.0).abs() < 1e-9);
        assert_eq!(m.evidence[1], ("src10s.dst_ports".to_owned(), 480.0));
        // The same breadth without failures (a busy client) is no scan.
        let browsing = WindowSummary {
            responder_rst: 5.0,
            syn_only: 0.0,
            established: 495.0,
            ..scan
        };
        assert_ne!(
            strongest([browsing]).map(|m| m.reason),
            Some(Reason::PortScan)
        );
    }

    #[test]
    fn syn_flood_brute_force_and_flood() {
        let syn = WindowSummary {
            flows: 1000.0,
            packets: 1000.0,
            syn_only: 1000.0,
            failed_handshakes: 1000.0,
            tcp_flows: 1000.0,
            dst_ports: 1.0,
            dst_hosts: 1.0,
            services: 1.0,
            ..window(10)
        };
        let m = strongest([syn]).unwrap();
        assert_eq!((m.reason, m.strength), (Reason::SynFlood, 10.0));

        let brute = WindowSummary {
            flows: 120.0,
            packets: 600.0,
            established: 120.0,
            run_established: 120.0,
            tcp_flows: 120.0,
            dst_ports: 1.0,
            dst_hosts: 1.0,
            services: 1.0,
            sustained_secs: 20.0,
            ..window(60)
        };
        let m = strongest([window(10), brute]).unwrap();
        assert_eq!(
            (m.reason, m.strength, m.window_secs),
            (Reason::BruteForce, 4.0, 60)
        );
        // The same volume in a burst (a page load, a short load test) is no brute force, nor
        // are bursts with pauses between them followed by a slow, steady run.
        let burst = WindowSummary {
            sustained_secs: 1.5,
            ..brute
        };
        assert!(strongest([burst]).is_none());
        let bursts_then_polling = WindowSummary {
            run_established: 6.0,
            ..brute
        };
        let m = strongest([bursts_then_polling]).unwrap();
        assert_eq!((m.reason, m.strength), (Reason::BruteForce, 0.2));

        let flood = WindowSummary {
            flows: 50.0,
            packets: 50_000.0,
            dst_ports: 50.0,
            services: 50.0,
            dst_hosts: 1.0,
            unanswered: 40.0,
            ..window(10)
        };
        let m = strongest([flood]).unwrap();
        assert_eq!((m.reason, m.strength), (Reason::Flood, 5.0));
        // As many packets, answered (an upload), are no flood.
        let upload = WindowSummary {
            unanswered: 0.0,
            ..flood
        };
        assert!(strongest([upload]).is_none());
        assert!(strongest([window(10)]).is_none());
    }
}
