//! kronos's Prometheus metrics (served by `argus-metrics`; each metric is listed with its meaning in
//! README.md, "Metrics"). The [`Engine`](crate::engine::Engine) owns them and counts records, scores and
//! verdicts where it handles them; the service counts what arrives, what is shed and the state of its
//! links and models.

use argus_metrics::prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry,
};
use argus_metrics::{counter_vec, gauge_vec, registered};
use argus_proto::{Action, Reason};

/// Bucket bounds of the score histograms. Anomaly scores are in units of the calibrated baseline
/// (1 is `anomaly_threshold`'s default, 3 `high_risk_threshold`'s); forest scores lie in 0..1; deviations
/// (robust z-scores) reach the tens to hundreds for attacks.
const SCORE_BUCKETS: [f64; 14] = [
    0.1, 0.25, 0.5, 0.6, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 25.0, 50.0, 100.0,
];

/// What happened to the payload CNN at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CnnStatus {
    /// Loaded and classifying.
    Loaded,
    /// `kronos.cnn.enabled` is false.
    Disabled,
    /// Enabled but could not be loaded (kronos runs without payload inspection).
    Failed,
}

impl CnnStatus {
    const ALL: [Self; 3] = [Self::Loaded, Self::Disabled, Self::Failed];

    fn label(self) -> &'static str {
        match self {
            Self::Loaded => "loaded",
            Self::Disabled => "disabled",
            Self::Failed => "failed",
        }
    }
}

/// Which anomaly model scores flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// None: behaviour rules only.
    None,
    /// The shipped bootstrap model.
    Bootstrap,
    /// A model fitted on this link's baseline.
    Local,
}

impl ModelKind {
    const ALL: [Self; 3] = [Self::None, Self::Bootstrap, Self::Local];

    fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bootstrap => "bootstrap",
            Self::Local => "local",
        }
    }
}

/// Where a record, sample or verdict was shed because a bounded queue was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// A flow record, at the input queue.
    Flow,
    /// A payload sample, at the input queue.
    Sample,
    /// A payload, at the CNN's queue.
    Cnn,
    /// A verdict, from the outbox while the enforcer was away.
    Verdict,
}

impl Shed {
    const ALL: [Self; 4] = [Self::Flow, Self::Sample, Self::Cnn, Self::Verdict];

    fn label(self) -> &'static str {
        match self {
            Self::Flow => "flow",
            Self::Sample => "sample",
            Self::Cnn => "cnn",
            Self::Verdict => "verdict",
        }
    }
}

/// How the engine handled a flow record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowPath {
    /// Fully scored.
    Scored,
    /// Fast path: a source with a calm recent score.
    Fast,
    /// From a protected (allowlisted or anti-lockout) address.
    Protected,
    /// Initiated on a LAN interface.
    Lan,
}

impl FlowPath {
    const ALL: [Self; 4] = [Self::Scored, Self::Fast, Self::Protected, Self::Lan];

    fn label(self) -> &'static str {
        match self {
            Self::Scored => "scored",
            Self::Fast => "fast_path",
            Self::Protected => "ignored_protected",
            Self::Lan => "ignored_lan",
        }
    }
}

/// kronos's metrics, in their own registry. Clones share the values.
#[derive(Debug, Clone)]
pub struct KronosMetrics {
    registry: Registry,
    received: IntCounterVec,
    flows: IntCounterVec,
    scores: HistogramVec,
    verdicts: IntCounterVec,
    withheld: IntCounter,
    payloads: IntCounterVec,
    shed: IntCounterVec,
    cnn: IntGaugeVec,
    model: IntGaugeVec,
    learning: IntGauge,
    baseline_rows: IntGauge,
    sources: IntGauge,
    sentinels: IntGauge,
    enforcer: IntGauge,
}

impl Default for KronosMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl KronosMetrics {
    /// Every metric at zero, registered in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| registered(&registry, IntGauge::new(name, help));
        let withheld = registered(
            &registry,
            IntCounter::new(
                "argus_kronos_verdicts_withheld_total",
                "Verdicts not sent because they repeat one already sent (source banned, or watched within the cooldown).",
            ),
        );
        let scores = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "argus_kronos_score",
                    "Scores of fully scored flows' sources: anomaly (units of the calibrated baseline, rules included), forest (isolation forest, 0..1), deviation (robust z-score over the baseline).",
                )
                .buckets(SCORE_BUCKETS.to_vec()),
                &["score"],
            ),
        );
        let m = Self {
            received: counter_vec(
                &registry,
                "argus_kronos_received_total",
                "Messages received from sentinel, by kind: flow, sample.",
                &["kind"],
            ),
            flows: counter_vec(
                &registry,
                "argus_kronos_flows_total",
                "Flow records handled by the engine, by path: scored, fast_path, ignored_protected, ignored_lan.",
                &["path"],
            ),
            scores,
            verdicts: counter_vec(
                &registry,
                "argus_kronos_verdicts_total",
                "Verdicts sent to the enforcer, by reason and action (ban or watch).",
                &["reason", "action"],
            ),
            withheld,
            payloads: counter_vec(
                &registry,
                "argus_kronos_payloads_classified_total",
                "Payload samples the CNN classified, by result: attack, benign.",
                &["result"],
            ),
            shed: counter_vec(
                &registry,
                "argus_kronos_shed_total",
                "Items dropped because a bounded queue was full: flow and sample (input queue), cnn (CNN queue), verdict (outbox while the enforcer is away).",
                &["queue"],
            ),
            cnn: gauge_vec(
                &registry,
                "argus_kronos_cnn_status",
                "1 for the payload CNN's state: loaded, disabled or failed (running without payload inspection).",
                &["status"],
            ),
            model: gauge_vec(
                &registry,
                "argus_kronos_model",
                "1 for the anomaly model in use: none (rules only), bootstrap (shipped) or local (fitted on this link).",
                &["kind"],
            ),
            learning: gauge(
                "argus_kronos_learning",
                "1 while kronos collects its baseline (the first dry-run week).",
            ),
            baseline_rows: gauge(
                "argus_kronos_baseline_rows",
                "Feature vectors in the baseline store.",
            ),
            sources: gauge(
                "argus_kronos_tracked_sources",
                "Sources whose features are being tracked.",
            ),
            sentinels: gauge(
                "argus_kronos_sentinel_connections",
                "Connected sentinels (1 in a running appliance).",
            ),
            enforcer: gauge(
                "argus_kronos_enforcer_connected",
                "1 while kronos is connected to the enforcer.",
            ),
            registry,
        };
        // Every label value present from the start, so dashboards and rate() see zeros, not gaps.
        for kind in ["flow", "sample"] {
            m.received.with_label_values(&[kind]);
        }
        for p in FlowPath::ALL {
            m.flows.with_label_values(&[p.label()]);
        }
        for s in Shed::ALL {
            m.shed.with_label_values(&[s.label()]);
        }
        for r in ["attack", "benign"] {
            m.payloads.with_label_values(&[r]);
        }
        m.set_cnn(CnnStatus::Disabled);
        m.set_model(ModelKind::None);
        m
    }

    /// The registry to publish.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A flow record (`flow`) or a payload sample arrived from sentinel.
    pub fn received(&self, flow: bool) {
        let kind = if flow { "flow" } else { "sample" };
        self.received.with_label_values(&[kind]).inc();
    }

    /// The engine handled a flow record.
    pub fn flow(&self, path: FlowPath) {
        self.flows.with_label_values(&[path.label()]).inc();
    }

    /// A source was scored: its anomaly score, and the model's scores when there is a model.
    pub fn scored(&self, anomaly: f64, forest: Option<f64>, deviation: Option<f64>) {
        self.scores.with_label_values(&["anomaly"]).observe(anomaly);
        if let Some(f) = forest {
            self.scores.with_label_values(&["forest"]).observe(f);
        }
        if let Some(d) = deviation {
            self.scores.with_label_values(&["deviation"]).observe(d);
        }
    }

    /// A verdict was produced.
    pub fn verdict(&self, reason: Reason, action: Action) {
        let action = match action {
            Action::Ban => "ban",
            Action::Watch => "watch",
        };
        self.verdicts
            .with_label_values(&[reason.name(), action])
            .inc();
    }

    /// A verdict was withheld as a repeat.
    pub fn withheld(&self) {
        self.withheld.inc();
    }

    /// The CNN classified a payload.
    pub fn payload(&self, attack: bool) {
        let result = if attack { "attack" } else { "benign" };
        self.payloads.with_label_values(&[result]).inc();
    }

    /// `n` items were shed at `queue`.
    pub fn shed(&self, queue: Shed, n: u64) {
        self.shed.with_label_values(&[queue.label()]).inc_by(n);
    }

    /// Brings a shed counter kept elsewhere as a running total (the CNN worker's, the outbox's) up to
    /// `total`.
    pub fn shed_total(&self, queue: Shed, total: u64) {
        let c = self.shed.with_label_values(&[queue.label()]);
        c.inc_by(total.saturating_sub(c.get()));
    }

    /// Items shed at `queue` so far.
    pub fn shed_count(&self, queue: Shed) -> u64 {
        self.shed.with_label_values(&[queue.label()]).get()
    }

    /// Flow records received so far.
    pub fn flows_received(&self) -> u64 {
        self.received.with_label_values(&["flow"]).get()
    }

    /// The CNN's state.
    pub fn set_cnn(&self, status: CnnStatus) {
        for s in CnnStatus::ALL {
            self.cnn
                .with_label_values(&[s.label()])
                .set(i64::from(s == status));
        }
    }

    /// The anomaly model in use.
    pub fn set_model(&self, kind: ModelKind) {
        for k in ModelKind::ALL {
            self.model
                .with_label_values(&[k.label()])
                .set(i64::from(k == kind));
        }
    }

    /// The learning state: whether the baseline is being collected, its size, tracked sources.
    pub fn set_learning(&self, learning: bool, baseline_rows: usize, sources: usize) {
        self.learning.set(i64::from(learning));
        self.baseline_rows
            .set(i64::try_from(baseline_rows).unwrap_or(i64::MAX));
        self.sources.set(i64::try_from(sources).unwrap_or(i64::MAX));
    }

    /// A sentinel connected (`true`) or left.
    pub fn sentinel_connected(&self, connected: bool) {
        if connected {
            self.sentinels.inc();
        } else {
            self.sentinels.dec();
        }
    }

    /// The enforcer link went up or down.
    pub fn set_enforcer_connected(&self, connected: bool) {
        self.enforcer.set(i64::from(connected));
    }
}

#[cfg(test)]
mod tests {
    use argus_config::Config;
    use argus_metrics::{render, scrape};

    use super::*;
    use crate::engine::{Engine, EngineSettings, Outputs, PayloadVerdict};
    use crate::synth::{self, NS};
    use crate::triage::Triage;

    const T1: u64 = 1_700_086_400 * NS;

    fn engine() -> Engine {
        let cfg = Config::default();
        Engine::new(
            &EngineSettings::from_config(&cfg),
            Triage::from_config(&cfg),
            1,
        )
        .unwrap()
    }

    #[test]
    fn a_port_scan_moves_flows_scores_and_verdicts() {
        let mut e = engine();
        let t = render(e.metrics().registry()).unwrap();
        assert_eq!(
            scrape::value(&t, "argus_kronos_model", "kind=\"none\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_kronos_cnn_status", "status=\"disabled\""),
            Some(1.0)
        );
        assert_eq!(scrape::sum(&t, "argus_kronos_verdicts_total"), None);

        let scan = synth::port_scan("203.0.113.66", "192.0.2.10", 1..=300, T1, 100, 50);
        let mut out = Outputs::default();
        let mut bans = 0.0;
        for r in &scan {
            e.on_flow(r, &mut out);
            bans += out
                .verdicts
                .iter()
                .filter(|v| v.action == Action::Ban)
                .count() as f64;
            out.clear();
        }
        assert!(bans >= 1.0, "the scan is banned");
        let t = render(e.metrics().registry()).unwrap();
        assert_eq!(
            scrape::value(
                &t,
                "argus_kronos_verdicts_total",
                "action=\"ban\",reason=\"port_scan\""
            ),
            Some(bans)
        );
        let c = e.counters();
        let flows = |path| scrape::value(&t, "argus_kronos_flows_total", path);
        assert_eq!(flows("path=\"scored\""), Some(c.scored as f64));
        assert_eq!(flows("path=\"fast_path\""), Some(c.fast_path as f64));
        assert_eq!(
            scrape::value(&t, "argus_kronos_score_count", "score=\"anomaly\""),
            Some(c.scored as f64)
        );
        assert_eq!(
            scrape::value(&t, "argus_kronos_verdicts_withheld_total", ""),
            Some(c.duplicates as f64)
        );

        // The CNN's opinion of a payload is counted by result.
        let pv = PayloadVerdict {
            source: scan[0].key.src,
            flow: scan[0].key,
            class: "benign".into(),
            probability: 0.99,
            attack: false,
            model: "test".into(),
            excerpt: String::new(),
            fingerprint: 1,
        };
        e.on_payload_verdict(&pv, &mut out);
        let t = render(e.metrics().registry()).unwrap();
        assert_eq!(
            scrape::value(
                &t,
                "argus_kronos_payloads_classified_total",
                "result=\"benign\""
            ),
            Some(1.0)
        );
    }

    #[test]
    fn shed_totals_kept_elsewhere_catch_up() {
        let m = KronosMetrics::new();
        m.shed_total(Shed::Cnn, 5);
        m.shed_total(Shed::Cnn, 7);
        m.shed(Shed::Flow, 2);
        assert_eq!(m.shed_count(Shed::Cnn), 7);
        m.set_cnn(CnnStatus::Failed);
        m.set_learning(true, 12, 3);
        let t = render(m.registry()).unwrap();
        assert_eq!(
            scrape::value(&t, "argus_kronos_shed_total", "queue=\"flow\""),
            Some(2.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_kronos_cnn_status", "status=\"failed\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_kronos_cnn_status", "status=\"loaded\""),
            Some(0.0)
        );
        assert_eq!(scrape::value(&t, "argus_kronos_learning", ""), Some(1.0));
        assert_eq!(
            scrape::value(&t, "argus_kronos_baseline_rows", ""),
            Some(12.0)
        );
    }
}
