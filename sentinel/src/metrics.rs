//! sentinel's Prometheus metrics (served by `argus-metrics`; each metric is listed with its meaning in
//! README.md, "Metrics"): the data plane's counters, read from the per-CPU STATS map at each scrape; the
//! XDP mode obtained per interface; what the exporter sent and shed; the link to kronos.

use std::sync::{Arc, Mutex};

use argus_metrics::prometheus::core::{Collector, Desc};
use argus_metrics::prometheus::proto::MetricFamily;
use argus_metrics::prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use argus_metrics::registered;
use argus_proto::AttachMode;
use argus_sentinel_common::abi::Stats;
use argus_sentinel_common::maps::StatsMap;

use crate::sink::Queue;

/// sentinel's metrics, in their own registry. Clones share the values.
#[derive(Debug, Clone)]
pub struct SentinelMetrics {
    registry: Registry,
    xdp_mode: IntGaugeVec,
    flows_exported: IntCounter,
    samples_exported: IntCounter,
    bad_events: IntCounter,
    kronos_connected: IntGauge,
}

impl Default for SentinelMetrics {
    fn default() -> Self {
        Self::new()
    }
}

fn counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    registered(registry, IntCounter::new(name, help))
}

impl SentinelMetrics {
    /// The exporter's metrics at zero, in a fresh registry; the data plane's join with
    /// [`SentinelMetrics::watch_dataplane`].
    pub fn new() -> Self {
        let registry = Registry::new();
        let xdp_mode = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "argus_xdp_mode",
                    "1 for the XDP mode the kernel reports on each interface: native, generic or none (not attached).",
                ),
                &["iface", "mode"],
            ),
        );
        let kronos_connected = registered(
            &registry,
            IntGauge::new(
                "argus_sentinel_kronos_connected",
                "1 while sentinel is connected to kronos (records wait in the queue otherwise).",
            ),
        );
        Self {
            flows_exported: counter(
                &registry,
                "argus_sentinel_flows_exported_total",
                "Flow records queued for kronos.",
            ),
            samples_exported: counter(
                &registry,
                "argus_sentinel_samples_exported_total",
                "Payload samples queued for kronos.",
            ),
            bad_events: counter(
                &registry,
                "argus_sentinel_bad_events_total",
                "Ring-buffer events that could not be decoded (a kernel/user ABI mismatch if ever non-zero).",
            ),
            xdp_mode,
            kronos_connected,
            registry,
        }
    }

    /// The registry to publish.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// From now on, scrapes read the data plane's counters from `stats` and the queue's shed counts
    /// and length from `queue`.
    pub fn watch_dataplane(&self, stats: StatsMap, queue: Arc<Queue>) {
        self.registry
            .register(Box::new(Dataplane::new(stats, queue)))
            .expect("registered once");
    }

    /// The XDP mode obtained on `iface`.
    pub fn set_xdp_mode(&self, iface: &str, mode: AttachMode) {
        for m in [AttachMode::Native, AttachMode::Generic, AttachMode::None] {
            self.xdp_mode
                .with_label_values(&[iface, mode_label(m)])
                .set(i64::from(m == mode));
        }
    }

    /// A flow record was queued.
    pub fn flow_exported(&self) {
        self.flows_exported.inc();
    }

    /// A payload sample was queued.
    pub fn sample_exported(&self) {
        self.samples_exported.inc();
    }

    /// An undecodable ring-buffer event was skipped; returns the total so far.
    pub fn bad_event(&self) -> u64 {
        self.bad_events.inc();
        self.bad_events.get()
    }

    /// Flow records and payload samples queued so far.
    pub fn exported(&self) -> (u64, u64) {
        (self.flows_exported.get(), self.samples_exported.get())
    }

    /// The link to kronos went up or down.
    pub fn set_kronos_connected(&self, connected: bool) {
        self.kronos_connected.set(i64::from(connected));
    }
}

/// Sets a counter that mirrors a total kept elsewhere.
fn set(c: &IntCounter, total: u64) {
    c.reset();
    c.inc_by(total);
}

fn mode_label(mode: AttachMode) -> &'static str {
    match mode {
        AttachMode::Native => "native",
        AttachMode::Generic => "generic",
        AttachMode::None => "none",
    }
}

/// The data plane's STATS counters and the queue's, read when scraped: they are kept elsewhere (the
/// kernel, the queue), so the families are refilled from those totals under a lock at each scrape.
struct Dataplane {
    stats: Mutex<StatsMap>,
    queue: Arc<Queue>,
    packets: IntCounterVec,
    packet_counts: IntCounterVec,
    bytes: IntCounter,
    shed: IntCounterVec,
    queue_len: IntGauge,
}

impl Dataplane {
    fn new(stats: StatsMap, queue: Arc<Queue>) -> Self {
        let vec = |name: &str, help: &str, label: &str| {
            IntCounterVec::new(Opts::new(name, help), &[label]).expect("valid metric")
        };
        Self {
            stats: Mutex::new(stats),
            queue,
            packets: vec(
                "argus_xdp_packets_total",
                "Packets the XDP program returned, by action: pass or drop (banned sources in enforce mode).",
                "action",
            ),
            packet_counts: vec(
                "argus_xdp_events_total",
                "Data-plane events by kind: would_drop (passed, banned in dry-run), allowlisted (passed, banned but allowlisted), parse_failed, non_ip, fragment, flow_created, flow_table_full (new flow not tracked), ringbuf_full (sample or event lost), sample.",
                "event",
            ),
            bytes: IntCounter::new(
                "argus_xdp_bytes_total",
                "Bytes (L2 frame length) of every packet the XDP program saw.",
            )
            .expect("valid metric"),
            shed: vec(
                "argus_sentinel_shed_total",
                "Messages shed because the queue to kronos was full, by kind: flow, sample, status.",
                "kind",
            ),
            queue_len: IntGauge::new(
                "argus_sentinel_queue_length",
                "Messages waiting for kronos.",
            )
            .expect("valid metric"),
        }
    }

    fn fill_stats(&self, s: &Stats) {
        set(&self.packets.with_label_values(&["pass"]), s.passed);
        set(&self.packets.with_label_values(&["drop"]), s.dropped);
        for (event, v) in [
            ("would_drop", s.would_drop),
            ("allowlisted", s.allowlisted),
            ("parse_failed", s.parse_failed),
            ("non_ip", s.non_ip),
            ("fragment", s.fragments),
            ("flow_created", s.flows_new),
            ("flow_table_full", s.flow_table_full),
            ("ringbuf_full", s.ringbuf_full),
            ("sample", s.samples),
        ] {
            set(&self.packet_counts.with_label_values(&[event]), v);
        }
        set(&self.bytes, s.bytes);
    }

    fn fill_queue(&self) {
        let shed = self.queue.shed();
        for (kind, v) in [
            ("flow", shed.flows),
            ("sample", shed.samples),
            ("status", shed.status),
        ] {
            set(&self.shed.with_label_values(&[kind]), v);
        }
        self.queue_len
            .set(i64::try_from(self.queue.len()).unwrap_or(i64::MAX));
    }
}

impl Collector for Dataplane {
    fn desc(&self) -> Vec<&Desc> {
        let mut d = self.packets.desc();
        d.extend(self.packet_counts.desc());
        d.extend(self.bytes.desc());
        d.extend(self.shed.desc());
        d.extend(self.queue_len.desc());
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // One scrape at a time: the families are refilled in place.
        let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        match stats.read() {
            Ok(s) => {
                self.fill_stats(&s);
                out.extend(self.packets.collect());
                out.extend(self.packet_counts.collect());
                out.extend(self.bytes.collect());
            }
            // A scrape without the data plane's counters says so by their absence.
            Err(e) => tracing::warn!(error = %e, "cannot read STATS for metrics"),
        }
        self.fill_queue();
        out.extend(self.shed.collect());
        out.extend(self.queue_len.collect());
        out
    }
}

#[cfg(test)]
mod tests {
    use argus_metrics::{render, scrape};
    use argus_proto::{SensorMessage, SensorStatus};
    use argus_sentinel_common::bpffs::{require_root, TempBpffs};
    use argus_sentinel_common::program::{Dataplane, MapSizes, XDP_PASS};

    use super::*;

    fn status() -> SensorMessage {
        SensorMessage::Status(SensorStatus {
            interfaces: Vec::new(),
            flows_exported: 0,
            flows_shed: 0,
            samples_exported: 0,
            ringbuf_lost: 0,
        })
    }

    #[test]
    fn exporter_counters_and_xdp_modes() {
        let m = SentinelMetrics::new();
        m.set_xdp_mode("wan0", AttachMode::Generic);
        m.flow_exported();
        m.flow_exported();
        m.sample_exported();
        m.set_kronos_connected(true);
        let t = render(m.registry()).unwrap();
        let mode = |mode| {
            scrape::value(
                &t,
                "argus_xdp_mode",
                &format!("iface=\"wan0\",mode=\"{mode}\""),
            )
        };
        assert_eq!(mode("generic"), Some(1.0));
        assert_eq!(mode("native"), Some(0.0));
        assert_eq!(
            scrape::value(&t, "argus_sentinel_flows_exported_total", ""),
            Some(2.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_sentinel_samples_exported_total", ""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_sentinel_kronos_connected", ""),
            Some(1.0)
        );
        assert_eq!(m.exported(), (2, 1));
    }

    /// The data plane's counters move with a packet run through the real XDP program.
    #[test]
    fn stats_are_read_from_the_kernel_at_each_scrape() {
        require_root("stats_are_read_from_the_kernel_at_each_scrape");
        let fs = TempBpffs::new().unwrap();
        let sizes = MapSizes {
            blocklist: 1024,
            allowlist: 64,
            flows: 1024,
            events_bytes: 64 * 1024,
        };
        let dp = Dataplane::load(fs.path(), &sizes).unwrap();
        let m = SentinelMetrics::new();
        let queue = Arc::new(Queue::new(1));
        m.watch_dataplane(StatsMap::open(fs.path()).unwrap(), queue.clone());
        let t = render(m.registry()).unwrap();
        assert_eq!(
            scrape::value(&t, "argus_xdp_packets_total", "action=\"pass\""),
            Some(0.0)
        );

        let mut frame = Vec::new();
        etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([198, 51, 100, 7], [192, 0, 2, 10], 64)
            .udp(40_000, 53)
            .write(&mut frame, b"hello")
            .unwrap();
        assert_eq!(dp.test_run(&frame, 0).unwrap(), XDP_PASS);
        queue.push(status());
        queue.push(status());
        let t = render(m.registry()).unwrap();
        assert_eq!(
            scrape::value(&t, "argus_xdp_packets_total", "action=\"pass\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_xdp_packets_total", "action=\"drop\""),
            Some(0.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_xdp_events_total", "event=\"flow_created\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_xdp_bytes_total", ""),
            Some(frame.len() as f64)
        );
        assert_eq!(
            scrape::value(&t, "argus_sentinel_shed_total", "kind=\"status\""),
            Some(1.0)
        );
        assert_eq!(
            scrape::value(&t, "argus_sentinel_queue_length", ""),
            Some(1.0)
        );
    }
}
