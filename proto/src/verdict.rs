//! Messages between kronos and the enforcer: verdicts with their evidence, acknowledgements and the
//! owner's false-positive feedback.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::flow::{FlowRecord, SensorStatus};
use crate::types::UnixTimeNs;

/// Why a source was judged hostile. The numeric codes are stored in the kernel's `BLOCKLIST` values and
/// in SQLite, so they never change meaning; new reasons get new numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Reason {
    /// Set by hand with `argusctl block`.
    Manual = 1,
    /// Many distinct ports or hosts probed.
    PortScan = 2,
    /// Many half-open or unanswered TCP handshakes.
    SynFlood = 3,
    /// Repeated short connections to one authenticated service.
    BruteForce = 4,
    /// A payload the CNN classified as an attack.
    PayloadAttack = 5,
    /// A volumetric flood (packets or bytes far above the baseline).
    Flood = 6,
    /// Behaviour far from the learned baseline without a more specific reason.
    Anomaly = 7,
}

impl Reason {
    /// Every reason, in code order.
    pub const ALL: [Reason; 7] = [
        Self::Manual,
        Self::PortScan,
        Self::SynFlood,
        Self::BruteForce,
        Self::PayloadAttack,
        Self::Flood,
        Self::Anomaly,
    ];

    /// The stable numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The reason for a stable numeric code.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The snake_case name used in logs, SQLite and `argusctl`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::PortScan => "port_scan",
            Self::SynFlood => "syn_flood",
            Self::BruteForce => "brute_force",
            Self::PayloadAttack => "payload_attack",
            Self::Flood => "flood",
            Self::Anomaly => "anomaly",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What kronos asks the enforcer to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Ban the prefix (simulated in dry-run).
    Ban,
    /// Record the suspicion in the audit log without banning (evidence too weak or spoofable).
    Watch,
}

/// The CNN's opinion of a payload sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CnnEvidence {
    /// Predicted class name (one of the model's classes).
    pub class: String,
    /// Softmax probability of that class.
    pub probability: f32,
    /// Version (sha256 prefix) of the model that scored it.
    pub model: String,
    /// A printable excerpt of the payload that was scored.
    pub excerpt: String,
}

/// Scores behind a verdict, each in its own scale (see `docs/scoring.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Scores {
    /// Isolation-forest score of the worst flow, in (0, 1].
    pub flow_forest: Option<f64>,
    /// Isolation-forest score of the source's behaviour windows, in (0, 1].
    pub source_forest: Option<f64>,
    /// Robust deviation (median/MAD z-score) of the source's behaviour, unbounded.
    pub deviation: Option<f64>,
    /// Combined anomaly score compared with `anomaly_threshold` / `high_risk_threshold`.
    pub anomaly: f64,
    /// The CNN's verdict on the most suspicious payload, if one was scored.
    pub cnn: Option<CnnEvidence>,
}

/// Everything `argusctl explain` shows about why a verdict was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Evidence {
    /// The scores.
    pub scores: Scores,
    /// Features that contributed most, with their values or z-scores.
    pub top_features: Vec<(String, f64)>,
    /// A few example flows from the source (bounded by kronos).
    pub example_flows: Vec<FlowRecord>,
    /// True when every flow behind the verdict was connectionless (UDP/ICMP), so the source address could
    /// be spoofed; the enforcer does not actively ban on such evidence unless configured to.
    pub spoofable: bool,
    /// Version of the isolation-forest model that scored it.
    pub model_version: String,
    /// Flows from this source that kronos saw in the scoring windows.
    pub flows_seen: u64,
}

/// A decision about one source, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Kronos's sequence number for this verdict, echoed in the enforcer's acknowledgement.
    pub id: u64,
    /// The offending source address.
    pub source: IpAddr,
    /// The prefix to act on (the enforcer may widen IPv6 to its configured ban prefix).
    pub prefix: IpNet,
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// Scores, features and example flows.
    pub evidence: Evidence,
    /// A suggested ban duration in seconds; the enforcer's TTL policy decides.
    pub ttl_hint_secs: Option<u64>,
    /// When kronos decided.
    pub timestamp: UnixTimeNs,
}

impl Verdict {
    /// A ban of the single address `source` (its host prefix), without a TTL hint: the common
    /// verdict, for which the enforcer's policy decides the prefix width and duration.
    pub fn host_ban(
        id: u64,
        source: IpAddr,
        reason: Reason,
        evidence: Evidence,
        timestamp: UnixTimeNs,
    ) -> Self {
        Self {
            id,
            source,
            prefix: IpNet::from(source),
            action: Action::Ban,
            reason,
            evidence,
            ttl_hint_secs: None,
            timestamp,
        }
    }
}

/// Kronos's health, relayed by the enforcer to `argusctl status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct KronosStatus {
    /// Version of the isolation-forest model in use.
    pub model_version: String,
    /// Number of baseline samples the model was fitted on.
    pub training_samples: u64,
    /// True while kronos uses the shipped bootstrap model rather than a locally learned one.
    pub bootstrap_model: bool,
    /// Whether the payload CNN is loaded.
    pub cnn_loaded: bool,
    /// The CNN's model version when loaded, or why it is not.
    pub cnn_detail: String,
    /// Flow records received.
    pub flows_received: u64,
    /// Flow records shed because a queue was full.
    pub flows_shed: u64,
    /// Payload samples scored by the CNN.
    pub samples_scored: u64,
    /// Verdicts sent.
    pub verdicts_sent: u64,
    /// Sentinel's latest status, if sentinel is connected.
    pub sensor: Option<SensorStatus>,
}

/// A message on the kronos → enforcer direction of the verdict channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KronosMessage {
    /// A verdict.
    Verdict(Verdict),
    /// Kronos's health.
    Status(KronosStatus),
}

/// The owner's feedback on a ban, sent by the enforcer so kronos learns from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    /// The prefix that was unblocked.
    pub prefix: IpNet,
    /// The reason the ban had.
    pub reason: Reason,
    /// When the owner unblocked it.
    pub at: UnixTimeNs,
}

/// A message on the enforcer → kronos direction of the verdict channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcerMessage {
    /// The verdict with this id is durably recorded (committed to SQLite).
    Ack {
        /// The verdict's id.
        id: u64,
    },
    /// The owner unblocked a prefix: a false positive.
    FalsePositive(Feedback),
    /// The owner asked for the baseline model to be re-fitted now.
    Refit,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_ban_covers_exactly_its_source() {
        for (src, prefix) in [
            ("10.203.1.7", "10.203.1.7/32"),
            ("fd00:203::7", "fd00:203::7/128"),
        ] {
            let v = Verdict::host_ban(
                3,
                src.parse().unwrap(),
                Reason::Flood,
                Evidence::default(),
                UnixTimeNs(5),
            );
            assert_eq!(v.prefix, prefix.parse::<IpNet>().unwrap());
            assert_eq!(
                (v.action, v.reason, v.ttl_hint_secs),
                (Action::Ban, Reason::Flood, None)
            );
        }
    }
}
