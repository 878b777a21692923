//! The scoring engine: triage, features, model and rules, payload escalation and the decision
//! policy, as one synchronous state machine fed with records, samples, CNN results and enforcer
//! feedback. The service drives it live; `train` and `score` drive it over a records file, so all
//! three take exactly the same decisions on the same input.
//!
//! Time is the records' time ([`Engine::now_ns`] is the latest `last_seen` seen), so a replayed
//! capture behaves as it did live and tests need no clock.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;

use argus_config::Config;
use argus_proto::{
    Action, CnnEvidence, Direction, Evidence, Feedback, FlowKey, FlowRecord, IpProtocol,
    PayloadSample, Reason, Scores, UnixTimeNs, Verdict,
};
use ipnet::IpNet;
use lru::LruCache;
use tracing::{debug, info, warn};

use crate::features::{self, FeatureError, FeatureExtractor, FlowTraits, SourceState};
use crate::metrics::{FlowPath, KronosMetrics, ModelKind};
use crate::model::ActiveModel;
use crate::policy::{Assessment, Decision, Policy, PolicyParams};
use crate::rules::{self, REASON_MIN_STRENGTH};
use crate::triage::{Ignored, Path, SourceHistory, Triage};

/// Example flows kept per source for the evidence of a verdict.
pub const MAX_EXAMPLE_FLOWS: usize = 5;

/// Payload samples held per source while it is not (yet) suspicious.
pub const MAX_PENDING_SAMPLES: usize = 4;

/// Sources with held payload samples (least recently sampled evicted).
pub const MAX_PENDING_SOURCES: usize = 4096;

/// Bytes of a payload shown in a verdict's excerpt.
pub const EXCERPT_BYTES: usize = 96;

/// Settings of an engine, from the configuration.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Per-source windows (`kronos.source_windows_secs`).
    pub windows_secs: Vec<u64>,
    /// Most sources tracked by the extractor, the triage memory and the policy each.
    pub max_sources: NonZeroUsize,
    /// Thresholds and durations of the decision policy.
    pub policy: PolicyParams,
    /// Collect baseline vectors (while the model is learning, and for `train`).
    pub learning: bool,
}

impl EngineSettings {
    /// The settings of `cfg` (learning off; the caller decides).
    pub fn from_config(cfg: &Config) -> Self {
        let k = &cfg.kronos;
        Self {
            windows_secs: k.source_windows_secs.clone(),
            max_sources: NonZeroUsize::new(features::DEFAULT_MAX_SOURCES)
                .expect("the default is not zero"),
            policy: PolicyParams {
                anomaly_threshold: k.anomaly_threshold,
                high_risk_threshold: k.high_risk_threshold,
                ban_ttl_secs: cfg.enforcer.default_ttl_secs,
                watch_cooldown_secs: k.source_windows_secs.iter().copied().max().unwrap_or(600),
                unblock_grace_secs: cfg.enforcer.unblock_grace_secs,
                ban_spoofable_evidence: cfg.enforcer.ban_spoofable_evidence,
            },
            learning: false,
        }
    }
}

/// A payload sample to classify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectRequest {
    /// The flow's initiator.
    pub source: IpAddr,
    /// The flow.
    pub flow: FlowKey,
    /// The payload prefix.
    pub bytes: Vec<u8>,
}

/// The CNN's opinion of one [`InspectRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadVerdict {
    /// The flow's initiator.
    pub source: IpAddr,
    /// The flow.
    pub flow: FlowKey,
    /// Most probable class.
    pub class: String,
    /// Its softmax probability.
    pub probability: f32,
    /// The class is an attack class and its probability reaches the threshold.
    pub attack: bool,
    /// Version of the CNN.
    pub model: String,
    /// Printable excerpt of the payload.
    pub excerpt: String,
    /// [`fingerprint`] of the payload.
    pub fingerprint: u64,
}

/// What the engine produced for one input; drained by the caller.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Verdicts to send to the enforcer.
    pub verdicts: Vec<Verdict>,
    /// Payloads to classify.
    pub inspect: Vec<InspectRequest>,
    /// Baseline feature vectors (only while learning).
    pub baseline: Vec<Vec<f64>>,
}

impl Outputs {
    /// Empties every list.
    pub fn clear(&mut self) {
        self.verdicts.clear();
        self.inspect.clear();
        self.baseline.clear();
    }
}

/// Counters of the engine, since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EngineCounters {
    /// Flow records received.
    pub flows: u64,
    /// Records from protected addresses.
    pub ignored_protected: u64,
    /// Records initiated on a LAN interface.
    pub ignored_lan: u64,
    /// Records on the fast path.
    pub fast_path: u64,
    /// Records fully scored.
    pub scored: u64,
    /// Records the model refused (wrong length, non-finite feature: a bug if ever non-zero).
    pub score_errors: u64,
    /// Payload samples received.
    pub samples: u64,
    /// Samples sent to the CNN.
    pub samples_inspected: u64,
    /// Samples dropped: backward direction, protected or LAN source, or pending overflow.
    pub samples_skipped: u64,
    /// CNN results received.
    pub payloads_scored: u64,
    /// Verdicts produced.
    pub verdicts: u64,
    /// Of which bans.
    pub bans: u64,
    /// Verdicts withheld as duplicates (source banned, or watched within the cooldown).
    pub duplicates: u64,
    /// Baseline vectors produced.
    pub baseline_rows: u64,
}

/// The last full scoring of a source, for the evidence of later verdicts.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    forest: Option<f64>,
    deviation: Option<f64>,
    anomaly: f64,
    reason: Option<Reason>,
    top_features: Vec<(String, f64)>,
}

#[derive(Debug, Default)]
struct Memo {
    history: SourceHistory,
    examples: VecDeque<FlowRecord>,
    last_baseline_ns: Option<u64>,
    last: Snapshot,
}

/// The engine; see the module documentation.
#[derive(Debug)]
pub struct Engine {
    triage: Triage,
    extractor: FeatureExtractor,
    policy: Policy,
    model: Option<Arc<ActiveModel>>,
    memo: LruCache<IpAddr, Memo>,
    pending: LruCache<IpAddr, Vec<PayloadSample>>,
    lan_sources: LruCache<IpAddr, ()>,
    learning: bool,
    baseline_every_ns: u64,
    counters: EngineCounters,
    next_id: u64,
    now_ns: u64,
    vector: Vec<f64>,
    metrics: KronosMetrics,
}

impl Engine {
    /// An engine with `settings` and `triage`; verdict ids start at `first_id` (the service uses
    /// the start time in nanoseconds, so ids stay unique across restarts).
    pub fn new(
        settings: &EngineSettings,
        triage: Triage,
        first_id: u64,
    ) -> Result<Self, FeatureError> {
        let shortest = settings.windows_secs.iter().copied().min().unwrap_or(1);
        Ok(Self {
            triage,
            extractor: FeatureExtractor::new(&settings.windows_secs, settings.max_sources)?,
            policy: Policy::new(settings.policy, settings.max_sources),
            model: None,
            memo: LruCache::new(settings.max_sources),
            pending: LruCache::new(NonZeroUsize::new(MAX_PENDING_SOURCES).expect("not zero")),
            lan_sources: LruCache::new(settings.max_sources),
            learning: settings.learning,
            baseline_every_ns: shortest.saturating_mul(1_000_000_000),
            counters: EngineCounters::default(),
            next_id: first_id,
            now_ns: 0,
            vector: Vec::new(),
            metrics: KronosMetrics::new(),
        })
    }

    /// Names of the features the engine extracts, which a model must have been trained on.
    pub fn feature_names(&self) -> &[String] {
        self.extractor.feature_names()
    }

    /// Replaces the anomaly model (`None`: behaviour rules only).
    pub fn set_model(&mut self, model: Option<Arc<ActiveModel>>) {
        self.metrics.set_model(match &model {
            None => ModelKind::None,
            Some(m) if m.is_bootstrap() => ModelKind::Bootstrap,
            Some(_) => ModelKind::Local,
        });
        self.model = model;
    }

    /// The current anomaly model.
    pub fn model(&self) -> Option<&Arc<ActiveModel>> {
        self.model.as_ref()
    }

    /// Starts or stops collecting baseline vectors.
    pub fn set_learning(&mut self, learning: bool) {
        self.learning = learning;
    }

    /// Whether baseline vectors are collected.
    pub fn learning(&self) -> bool {
        self.learning
    }

    /// The metrics the engine counts into.
    pub fn metrics(&self) -> &KronosMetrics {
        &self.metrics
    }

    /// The counters.
    pub fn counters(&self) -> EngineCounters {
        self.counters
    }

    /// Sources currently tracked by the feature extractor.
    pub fn tracked_sources(&self) -> usize {
        self.extractor.tracked_sources()
    }

    /// Sources evicted from the feature extractor to stay within its cap.
    pub fn evicted_sources(&self) -> u64 {
        self.extractor.evicted_sources()
    }

    /// The engine's clock: the latest record time seen, in nanoseconds since the epoch.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Handles one flow record.
    pub fn on_flow(&mut self, rec: &FlowRecord, out: &mut Outputs) {
        self.counters.flows += 1;
        self.now_ns = self.now_ns.max(rec.last_seen.0);
        let now_ns = self.now_ns;
        let source = rec.key.src.to_canonical();
        match self.triage.ignore(rec) {
            Some(Ignored::Protected(_)) => {
                self.counters.ignored_protected += 1;
                self.metrics.flow(FlowPath::Protected);
                return;
            }
            Some(Ignored::LanInitiated) => {
                self.counters.ignored_lan += 1;
                self.metrics.flow(FlowPath::Lan);
                self.lan_sources.put(source, ());
                return;
            }
            None => {}
        }
        let traits = FlowTraits::of(rec);
        let state = self.extractor.observe(rec);
        let memo = self.memo.get_or_insert_mut(source, Memo::default);
        if memo.examples.len() == MAX_EXAMPLE_FLOWS {
            memo.examples.pop_front();
        }
        memo.examples.push_back(rec.clone());
        let forgiven = self.policy.is_forgiven(source, now_ns);
        let baseline_due = self.learning
            && memo
                .last_baseline_ns
                .is_none_or(|t| now_ns.saturating_sub(t) >= self.baseline_every_ns);

        if self.triage.path(&traits, &memo.history) == Path::Fast {
            self.counters.fast_path += 1;
            self.metrics.flow(FlowPath::Fast);
            memo.history.since_full += 1;
            if baseline_due {
                features::vector_into(rec, state, &mut self.vector);
                memo.last_baseline_ns = Some(now_ns);
                out.baseline.push(self.vector.clone());
                self.counters.baseline_rows += 1;
            }
            return;
        }

        self.counters.scored += 1;
        self.metrics.flow(FlowPath::Scored);
        features::vector_into(rec, state, &mut self.vector);
        // Scoring clamps the vector in place; the baseline keeps it as extracted.
        let raw = baseline_due.then(|| self.vector.clone());
        let rule = rules::strongest(state.summaries());
        let rule_strength = rule.as_ref().map_or(0.0, |r| r.strength);
        let mut snapshot = Snapshot {
            anomaly: rule_strength,
            reason: rule
                .as_ref()
                .filter(|r| r.strength >= REASON_MIN_STRENGTH)
                .map(|r| r.reason),
            ..Snapshot::default()
        };
        if let Some(model) = &self.model {
            match model.score(&mut self.vector) {
                Ok(scores) => {
                    snapshot.forest = Some(scores.forest.0);
                    snapshot.deviation = Some(scores.deviation.0);
                    snapshot.anomaly = model.anomaly(&scores).max(rule_strength);
                    snapshot.top_features = scores
                        .top_features
                        .iter()
                        .filter_map(|d| {
                            model
                                .detector()
                                .feature_name(d.feature)
                                .map(|n| (format!("{n} (z)"), d.z))
                        })
                        .collect();
                }
                Err(e) => {
                    self.counters.score_errors += 1;
                    warn!(ip = %source, flow = %rec.key, error = %e, "model refused a feature vector");
                }
            }
        }
        if let Some(r) = &rule {
            snapshot.top_features.extend(r.evidence.iter().cloned());
        }
        let anomaly = snapshot.anomaly;
        self.metrics
            .scored(anomaly, snapshot.forest, snapshot.deviation);
        memo.history = SourceHistory {
            last_anomaly: Some(anomaly),
            since_full: 0,
        };
        let calm =
            anomaly < self.policy.params().anomaly_threshold && rule_strength < REASON_MIN_STRENGTH;
        if let Some(raw) = raw.filter(|_| calm || forgiven) {
            memo.last_baseline_ns = Some(now_ns);
            out.baseline.push(raw);
            self.counters.baseline_rows += 1;
        }
        let assessment = Assessment {
            source,
            anomaly,
            reason: snapshot.reason.unwrap_or(Reason::Anomaly),
            spoofable: state.connectionless_only(),
            attack_payload: None,
            rule_matched: snapshot.reason.is_some(),
        };
        debug!(ip = %source, flow = %rec.key, score = anomaly, "scored");
        memo.last = snapshot;
        let decision = self.policy.decide(&assessment, now_ns);
        let flows_seen = state.flows_total();
        self.emit(decision, &assessment, None, flows_seen, out);
        if self.triage.suspicious(anomaly) {
            if let Some(samples) = self.pending.pop(&source) {
                for s in samples {
                    self.inspect(s, out);
                }
            }
        }
    }

    /// Handles one payload sample: sends it to the CNN now (inspected port or suspicious
    /// source), or holds it until its source turns suspicious.
    pub fn on_sample(&mut self, sample: PayloadSample, out: &mut Outputs) {
        self.counters.samples += 1;
        // A sample can arrive before any record of its source (records leave when flows end), and a
        // verdict on it is stamped with the engine's clock.
        self.now_ns = self.now_ns.max(sample.timestamp.0);
        let source = sample.flow.src.to_canonical();
        if sample.direction != Direction::Forward
            || self.triage.protection(source).is_some()
            || self.lan_sources.contains(&source)
        {
            self.counters.samples_skipped += 1;
            return;
        }
        let suspicious = self
            .memo
            .peek(&source)
            .and_then(|m| m.history.last_anomaly)
            .is_some_and(|a| self.triage.suspicious(a));
        if suspicious || self.triage.inspect_port(sample.flow.dst_port) {
            self.inspect(sample, out);
            return;
        }
        let held = self.pending.get_or_insert_mut(source, Vec::new);
        if held.len() == MAX_PENDING_SAMPLES {
            held.remove(0);
            self.counters.samples_skipped += 1;
        }
        held.push(sample);
    }

    fn inspect(&mut self, sample: PayloadSample, out: &mut Outputs) {
        self.counters.samples_inspected += 1;
        out.inspect.push(InspectRequest {
            source: sample.flow.src.to_canonical(),
            flow: sample.flow,
            bytes: sample.bytes,
        });
    }

    /// Handles the CNN's opinion of a payload.
    pub fn on_payload_verdict(&mut self, pv: &PayloadVerdict, out: &mut Outputs) {
        self.counters.payloads_scored += 1;
        self.metrics.payload(pv.attack);
        if !pv.attack {
            return;
        }
        let source = pv.source.to_canonical();
        let (anomaly, rule_matched) = self
            .memo
            .peek(&source)
            .map_or((0.0, false), |m| (m.last.anomaly, m.last.reason.is_some()));
        info!(ip = %source, flow = %pv.flow, class = %pv.class, probability = pv.probability, score = anomaly, "attack payload");
        let assessment = Assessment {
            source,
            anomaly,
            reason: Reason::PayloadAttack,
            // A payload over anything but TCP may come from a forged address.
            spoofable: pv.flow.protocol != IpProtocol::TCP,
            attack_payload: Some(pv.fingerprint),
            rule_matched,
        };
        let decision = self.policy.decide(&assessment, self.now_ns);
        let cnn = CnnEvidence {
            class: pv.class.clone(),
            probability: pv.probability,
            model: pv.model.clone(),
            excerpt: pv.excerpt.clone(),
        };
        let flows_seen = self
            .extractor
            .source(source)
            .map_or(0, SourceState::flows_total);
        self.emit(decision, &assessment, Some(cnn), flows_seen, out);
    }

    /// The enforcer durably recorded `verdict`.
    pub fn on_ack(&mut self, verdict: &Verdict) {
        self.policy.acknowledged(verdict, self.now_ns);
    }

    /// The owner unblocked a prefix.
    pub fn on_false_positive(&mut self, feedback: &Feedback) {
        info!(prefix = %feedback.prefix, reason = %feedback.reason, "false positive: not banning it again for this reason");
        self.policy.false_positive(feedback);
    }

    fn emit(
        &mut self,
        decision: Decision,
        a: &Assessment,
        cnn: Option<CnnEvidence>,
        flows_seen: u64,
        out: &mut Outputs,
    ) {
        let action = match decision {
            Decision::Send(action) => action,
            Decision::Duplicate => {
                self.counters.duplicates += 1;
                self.metrics.withheld();
                return;
            }
            Decision::Quiet => return,
        };
        let (last, examples) = match self.memo.peek(&a.source) {
            Some(m) => (m.last.clone(), m.examples.iter().cloned().collect()),
            None => (Snapshot::default(), Vec::new()),
        };
        let verdict = Verdict {
            id: self.next_id,
            source: a.source,
            prefix: IpNet::from(a.source),
            action,
            reason: a.reason,
            evidence: Evidence {
                scores: Scores {
                    flow_forest: None,
                    source_forest: last.forest,
                    deviation: last.deviation,
                    anomaly: a.anomaly,
                    cnn,
                },
                top_features: last.top_features,
                example_flows: examples,
                spoofable: a.spoofable,
                model_version: self
                    .model
                    .as_ref()
                    .map_or_else(|| "rules-only".to_owned(), |m| m.version().to_owned()),
                flows_seen,
            },
            ttl_hint_secs: (action == Action::Ban).then_some(self.policy.params().ban_ttl_secs),
            timestamp: UnixTimeNs(self.now_ns),
        };
        self.next_id += 1;
        self.counters.verdicts += 1;
        if action == Action::Ban {
            self.counters.bans += 1;
        }
        self.metrics.verdict(a.reason, action);
        info!(ip = %a.source, score = a.anomaly, action = ?action, reason = %a.reason, spoofable = a.spoofable, id = verdict.id, "verdict");
        out.verdicts.push(verdict);
    }
}

/// A hash of a payload's bytes, telling repeats of one payload from different payloads.
pub fn fingerprint(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// A printable excerpt of a payload: its first [`EXCERPT_BYTES`] bytes, other than printable
/// ASCII shown as `.`.
pub fn excerpt(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(EXCERPT_BYTES)
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b)
            } else {
                '.'
            }
        })
        .collect()
}
