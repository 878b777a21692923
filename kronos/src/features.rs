//! Feature extraction: the one place that turns flow records into feature vectors, used by live
//! scoring (`serve`), `train` and `score` alike so the three can never drift apart.
//!
//! A vector has two parts:
//!
//! - **flow features** ([`FLOW_FEATURE_NAMES`]), computed from the record alone: duration,
//!   packets and bytes per direction, packet size and inter-arrival mean/std, rates, TCP flag mix;
//! - **source features** ([`WINDOW_FEATURE_NAMES`], once per configured window, named
//!   `src<W>s.<name>`), describing the initiator's recent behaviour in the spirit of Kitsune's
//!   damped incremental statistics: every count decays as `exp(−Δt / W)`, so a steady rate of `r`
//!   events per second settles at `r·W`, "about the events of the last `W` seconds". Distinct
//!   destination ports, hosts and services are counted with small HyperLogLog sketches
//!   ([`crate::hll`]) over two consecutive `W`-second epochs.
//!
//! Port scans, SYN floods and brute force are behaviours of a source that a single flow cannot
//! show, and "SYN with no ACK back" never happens on Linux (closed ports answer RST, open ones
//! SYN-ACK). So the source features that separate are the share of flows the responder reset or
//! never answered, the share of handshakes that never completed, the distinct ports and hosts
//! probed, the new-flow rate, and the flows per service (repetition).
//!
//! Transformations keep every feature in a scale where a unit means the same everywhere:
//! magnitudes (counts, bytes, packet sizes, durations, rates) are `ln(1 + x)` so one unit is a
//! factor of `e`;
//! shares and flags lie in [0, 1]. Shares are smoothed towards 0 with [`SHARE_PRIOR`] pseudo-flows
//! (`count / (flows + prior)`), so one reset flow from a new source is not already "100 % reset".
//!
//! Time is the records' own (`last_seen`), never the wall clock, so replaying a capture gives the
//! features it gave live. Memory is bounded: at most `max_sources` sources are tracked, the least
//! recently seen is evicted (and counted) to make room.

use std::net::IpAddr;
use std::num::NonZeroUsize;

use argus_proto::{FlowRecord, IpProtocol, TcpFlags};
use lru::LruCache;
use thiserror::Error;

use crate::hll::{hash_ip, hash_u64, Hll};

/// Names of the per-flow features, in vector order.
pub const FLOW_FEATURE_NAMES: [&str; 26] = [
    "flow.duration",
    "flow.fwd_packets",
    "flow.bwd_packets",
    "flow.fwd_bytes",
    "flow.bwd_bytes",
    "flow.fwd_size_mean",
    "flow.fwd_size_std",
    "flow.bwd_size_mean",
    "flow.bwd_size_std",
    "flow.fwd_iat_mean",
    "flow.fwd_iat_std",
    "flow.bwd_iat_mean",
    "flow.bwd_iat_std",
    "flow.packets_per_s",
    "flow.bytes_per_s",
    "flow.bwd_fwd_bytes_ratio",
    "flow.tcp",
    "flow.udp",
    "flow.icmp",
    "flow.syn_only",
    "flow.established",
    "flow.responder_rst",
    "flow.initiator_rst",
    "flow.fin",
    "flow.unanswered",
    "flow.well_known_port",
];

/// Number of per-flow features.
pub const N_FLOW_FEATURES: usize = FLOW_FEATURE_NAMES.len();

/// Names of the per-source features of one window, in vector order (prefixed `src<W>s.`).
pub const WINDOW_FEATURE_NAMES: [&str; 11] = [
    "flows",
    "packets",
    "bytes",
    "dst_ports",
    "dst_hosts",
    "flows_per_service",
    "rst_share",
    "unanswered_share",
    "syn_only_share",
    "failed_handshake_share",
    "packets_per_flow",
];

/// Pseudo-flows added to the denominator of every share (see the module documentation).
pub const SHARE_PRIOR: f64 = 4.0;

/// Longest pause, in seconds, between two completed TCP connections of a source that still counts
/// as one sustained run (see [`WindowSummary::sustained_secs`]).
pub const SUSTAIN_GAP_SECS: f64 = 2.0;

/// Default cap on tracked sources (about 1 KiB each with three windows).
pub const DEFAULT_MAX_SOURCES: usize = 32_768;

/// Why an extractor could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FeatureError {
    /// No window was configured.
    #[error("at least one source window is needed")]
    NoWindows,
    /// A window of zero seconds.
    #[error("source window {0} is zero seconds long")]
    ZeroWindow(usize),
    /// The same window twice, which would give two features one name.
    #[error("source window {0}s is configured twice")]
    DuplicateWindow(u64),
}

/// Yes/no facts about one flow, shared by the flow features and the source statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowTraits {
    /// The flow is TCP.
    pub tcp: bool,
    /// The flow is UDP.
    pub udp: bool,
    /// The flow is ICMP or ICMPv6.
    pub icmp: bool,
    /// TCP: the initiator sent SYN but never ACK (scanners, SYN floods).
    pub syn_only: bool,
    /// TCP: the three-way handshake completed (SYN-ACK back, ACK forward).
    pub established: bool,
    /// TCP: the responder reset the flow (a closed port on Linux).
    pub responder_rst: bool,
    /// TCP: the initiator reset the flow.
    pub initiator_rst: bool,
    /// TCP: either side sent FIN.
    pub fin: bool,
    /// The responder never sent a packet (filtered port, dead host, one-way flood).
    pub unanswered: bool,
}

impl FlowTraits {
    /// The traits of `rec`.
    pub fn of(rec: &FlowRecord) -> Self {
        let protocol = rec.key.protocol;
        let tcp = protocol == IpProtocol::TCP;
        let fwd = rec.forward.tcp_flags;
        let bwd = rec.backward.tcp_flags;
        Self {
            tcp,
            udp: protocol == IpProtocol::UDP,
            icmp: protocol.is_icmp(),
            syn_only: tcp && fwd.has(TcpFlags::SYN) && !fwd.has(TcpFlags::ACK),
            established: tcp && bwd.has(TcpFlags::SYN | TcpFlags::ACK) && fwd.has(TcpFlags::ACK),
            responder_rst: tcp && bwd.has(TcpFlags::RST),
            initiator_rst: tcp && fwd.has(TcpFlags::RST),
            fin: tcp && (fwd.has(TcpFlags::FIN) || bwd.has(TcpFlags::FIN)),
            unanswered: rec.backward.packets == 0,
        }
    }

    /// TCP flow whose handshake never completed.
    pub fn failed_handshake(&self) -> bool {
        self.tcp && !self.established
    }
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Appends the [`N_FLOW_FEATURES`] flow features of `rec` to `out`.
pub fn push_flow_features(rec: &FlowRecord, out: &mut Vec<f64>) {
    let f = &rec.forward;
    let b = &rec.backward;
    let traits = FlowTraits::of(rec);
    let secs = rec.duration().as_secs_f64();
    let packets = (f.packets + b.packets) as f64;
    let bytes = (f.bytes + b.bytes) as f64;
    // A one-packet flow has no duration; rate it over one millisecond rather than divide by 0.
    let rate_secs = secs.max(1e-3);
    out.extend_from_slice(&[
        secs.ln_1p(),
        (f.packets as f64).ln_1p(),
        (b.packets as f64).ln_1p(),
        (f.bytes as f64).ln_1p(),
        (b.bytes as f64).ln_1p(),
        f.size_mean().ln_1p(),
        f.size_std().ln_1p(),
        b.size_mean().ln_1p(),
        b.size_std().ln_1p(),
        (f.iat_mean_us() / 1e3).ln_1p(),
        (f.iat_std_us() / 1e3).ln_1p(),
        (b.iat_mean_us() / 1e3).ln_1p(),
        (b.iat_std_us() / 1e3).ln_1p(),
        (packets / rate_secs).ln_1p(),
        (bytes / rate_secs).ln_1p(),
        (b.bytes as f64).ln_1p() - (f.bytes as f64).ln_1p(),
        flag(traits.tcp),
        flag(traits.udp),
        flag(traits.icmp),
        flag(traits.syn_only),
        flag(traits.established),
        flag(traits.responder_rst),
        flag(traits.initiator_rst),
        flag(traits.fin),
        flag(traits.unanswered),
        flag(rec.key.dst_port < 1024 && (traits.tcp || traits.udp)),
    ]);
}

/// A source's behaviour over one window, in raw (untransformed) units: decayed counts ("about
/// the last `window_secs` seconds") and distinct-value estimates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowSummary {
    /// Length of the window in seconds.
    pub window_secs: u64,
    /// Flows started by the source.
    pub flows: f64,
    /// Packets the source sent.
    pub packets: f64,
    /// Bytes the source sent.
    pub bytes: f64,
    /// Distinct destination ports.
    pub dst_ports: f64,
    /// Distinct destination hosts.
    pub dst_hosts: f64,
    /// Distinct services (host, protocol, port).
    pub services: f64,
    /// Flows the responder reset.
    pub responder_rst: f64,
    /// Flows the responder never answered.
    pub unanswered: f64,
    /// TCP flows with SYN but no ACK from the source.
    pub syn_only: f64,
    /// TCP flows whose handshake never completed.
    pub failed_handshakes: f64,
    /// TCP flows whose handshake completed.
    pub established: f64,
    /// Of those, the ones of the source's current sustained run (see
    /// [`WindowSummary::sustained_secs`]): reset when a run starts, decayed like every count.
    pub run_established: f64,
    /// TCP flows.
    pub tcp_flows: f64,
    /// How long, up to now, the source has kept completing TCP connections without a pause longer
    /// than [`SUSTAIN_GAP_SECS`] (0 when its last one is older): a property of the source, the
    /// same in every window. A person's page load or a short load test lasts a second or two and
    /// is followed by a pause; a password-guessing tool never pauses.
    pub sustained_secs: f64,
}

impl WindowSummary {
    /// `count` as a share of the flows, smoothed with [`SHARE_PRIOR`].
    pub fn share(&self, count: f64) -> f64 {
        count / (self.flows + SHARE_PRIOR)
    }

    /// Flows that probed nothing alive: reset by the responder or never answered.
    pub fn failed_probes(&self) -> f64 {
        self.responder_rst + self.unanswered
    }

    /// Mean packets the source sent per flow (0 without flows).
    pub fn packets_per_flow(&self) -> f64 {
        if self.flows > 0.0 {
            self.packets / self.flows
        } else {
            0.0
        }
    }

    /// Flows per distinct service: how much the source repeats itself.
    pub fn flows_per_service(&self) -> f64 {
        self.flows / self.services.max(1.0)
    }

    /// Appends the [`WINDOW_FEATURE_NAMES`] features of this window to `out`.
    pub fn push_features(&self, out: &mut Vec<f64>) {
        out.extend_from_slice(&[
            self.flows.ln_1p(),
            self.packets.ln_1p(),
            self.bytes.ln_1p(),
            self.dst_ports.ln_1p(),
            self.dst_hosts.ln_1p(),
            self.flows_per_service().ln_1p(),
            self.share(self.responder_rst),
            self.share(self.unanswered),
            self.share(self.syn_only),
            self.failed_handshakes / (self.tcp_flows + SHARE_PRIOR),
            self.packets_per_flow().ln_1p(),
        ]);
    }
}

/// Decayed counters and distinct sketches of one source over one window.
#[derive(Debug, Clone)]
struct WindowState {
    window_secs: u64,
    counts: WindowSummary,
    /// Sketches of ports, hosts and services; `[kind][epoch & 1]`.
    sketches: [[Hll; 2]; 3],
    /// Index of the current `window_secs`-long epoch.
    epoch: u64,
}

const PORTS: usize = 0;
const HOSTS: usize = 1;
const SERVICES: usize = 2;

impl WindowState {
    fn new(window_secs: u64, now_ns: u64) -> Self {
        Self {
            window_secs,
            counts: WindowSummary {
                window_secs,
                ..WindowSummary::default()
            },
            sketches: [[Hll::default(); 2]; 3],
            epoch: now_ns / 1_000_000_000 / window_secs,
        }
    }

    fn update(&mut self, elapsed_secs: f64, now_ns: u64, flow: &ObservedFlow) {
        let decay = (-elapsed_secs / self.window_secs as f64).exp();
        let c = &mut self.counts;
        for v in [
            &mut c.flows,
            &mut c.packets,
            &mut c.bytes,
            &mut c.responder_rst,
            &mut c.unanswered,
            &mut c.syn_only,
            &mut c.failed_handshakes,
            &mut c.established,
            &mut c.run_established,
            &mut c.tcp_flows,
        ] {
            *v *= decay;
        }
        let t = &flow.traits;
        c.flows += 1.0;
        c.packets += flow.packets;
        c.bytes += flow.bytes;
        c.responder_rst += flag(t.responder_rst);
        c.unanswered += flag(t.unanswered);
        c.syn_only += flag(t.syn_only);
        c.failed_handshakes += flag(t.failed_handshake());
        c.established += flag(t.established);
        if flow.new_run {
            c.run_established = 0.0;
        }
        c.run_established += flag(t.established);
        c.tcp_flows += flag(t.tcp);

        let epoch = now_ns / 1_000_000_000 / self.window_secs;
        if epoch > self.epoch {
            for kind in &mut self.sketches {
                if epoch > self.epoch + 1 {
                    kind[(self.epoch & 1) as usize].clear();
                }
                kind[(epoch & 1) as usize].clear();
            }
            self.epoch = epoch;
        }
        let slot = (self.epoch & 1) as usize;
        self.sketches[PORTS][slot].insert(flow.port_hash);
        self.sketches[HOSTS][slot].insert(flow.host_hash);
        self.sketches[SERVICES][slot].insert(flow.service_hash);
    }

    fn summary(&self) -> WindowSummary {
        let distinct = |kind: usize| {
            self.sketches[kind][0]
                .union(&self.sketches[kind][1])
                .estimate()
        };
        WindowSummary {
            dst_ports: distinct(PORTS),
            dst_hosts: distinct(HOSTS),
            services: distinct(SERVICES),
            ..self.counts
        }
    }
}

/// What a flow contributes to its source's statistics.
struct ObservedFlow {
    traits: FlowTraits,
    /// The flow completed a connection after a pause: a new sustained run starts with it.
    new_run: bool,
    packets: f64,
    bytes: f64,
    port_hash: u64,
    host_hash: u64,
    service_hash: u64,
}

/// Everything remembered about one source.
#[derive(Debug, Clone)]
pub struct SourceState {
    windows: Vec<WindowState>,
    last_ns: u64,
    last_tcp_ns: Option<u64>,
    /// Start and latest completed connection of the current sustained run.
    run: Option<(u64, u64)>,
    flows_total: u64,
}

impl SourceState {
    fn new(windows: &[u64], now_ns: u64) -> Self {
        Self {
            windows: windows
                .iter()
                .map(|&w| WindowState::new(w, now_ns))
                .collect(),
            last_ns: now_ns,
            last_tcp_ns: None,
            run: None,
            flows_total: 0,
        }
    }

    fn update(&mut self, rec: &FlowRecord) {
        // Records can arrive slightly out of order; never let time run backwards.
        let now_ns = rec.last_seen.0.max(self.last_ns);
        let elapsed_secs = (now_ns - self.last_ns) as f64 / 1e9;
        let traits = FlowTraits::of(rec);
        let dst = hash_ip(rec.key.dst);
        let proto_port = (u64::from(rec.key.protocol.0) << 16) | u64::from(rec.key.dst_port);
        let new_run = traits.established && self.run.is_none_or(|(_, last)| paused(last, now_ns));
        let flow = ObservedFlow {
            traits,
            new_run,
            packets: rec.forward.packets as f64,
            bytes: rec.forward.bytes as f64,
            port_hash: hash_u64(proto_port),
            host_hash: dst,
            service_hash: hash_u64(dst ^ proto_port),
        };
        for w in &mut self.windows {
            w.update(elapsed_secs, now_ns, &flow);
        }
        self.last_ns = now_ns;
        if traits.tcp {
            self.last_tcp_ns = Some(now_ns);
        }
        if traits.established {
            self.run = match self.run {
                Some((start, last)) if !paused(last, now_ns) => Some((start, now_ns)),
                _ => Some((now_ns, now_ns)),
            };
        }
        self.flows_total += 1;
    }

    /// See [`WindowSummary::sustained_secs`].
    pub fn sustained_secs(&self) -> f64 {
        match self.run {
            Some((start, last)) if !paused(last, self.last_ns) => (last - start) as f64 / 1e9,
            _ => 0.0,
        }
    }

    /// The behaviour in each window, shortest-configured first (configuration order).
    pub fn summaries(&self) -> impl ExactSizeIterator<Item = WindowSummary> + '_ {
        let sustained_secs = self.sustained_secs();
        self.windows.iter().map(move |w| WindowSummary {
            sustained_secs,
            ..w.summary()
        })
    }

    /// True when no TCP flow from this source was seen within its longest window: everything
    /// recent was connectionless (UDP/ICMP), so the source address may be spoofed.
    pub fn connectionless_only(&self) -> bool {
        let longest = self
            .windows
            .iter()
            .map(|w| w.window_secs)
            .max()
            .unwrap_or(0);
        match self.last_tcp_ns {
            None => true,
            Some(t) => self.last_ns.saturating_sub(t) > longest.saturating_mul(1_000_000_000),
        }
    }

    /// Flows seen from this source since it was first tracked.
    pub fn flows_total(&self) -> u64 {
        self.flows_total
    }

    /// Appends this source's window features to `out` (after the flow features).
    pub fn push_features(&self, out: &mut Vec<f64>) {
        for w in &self.windows {
            w.summary().push_features(out);
        }
    }
}

/// Whether more than [`SUSTAIN_GAP_SECS`] passed from `last_ns` to `now_ns`.
fn paused(last_ns: u64, now_ns: u64) -> bool {
    now_ns.saturating_sub(last_ns) as f64 / 1e9 > SUSTAIN_GAP_SECS
}

/// Tracks per-source behaviour and builds feature vectors.
#[derive(Debug)]
pub struct FeatureExtractor {
    windows: Vec<u64>,
    names: Vec<String>,
    sources: LruCache<IpAddr, SourceState>,
    evicted: u64,
}

impl FeatureExtractor {
    /// An extractor with the given windows (seconds, e.g. `kronos.source_windows_secs`) tracking
    /// at most `max_sources` sources.
    pub fn new(windows_secs: &[u64], max_sources: NonZeroUsize) -> Result<Self, FeatureError> {
        Ok(Self {
            names: feature_names(windows_secs)?,
            windows: windows_secs.to_vec(),
            sources: LruCache::new(max_sources),
            evicted: 0,
        })
    }

    /// Names of the vector's features, in order: flow features, then each window's.
    pub fn feature_names(&self) -> &[String] {
        &self.names
    }

    /// Length of a feature vector.
    pub fn n_features(&self) -> usize {
        self.names.len()
    }

    /// The configured windows, in seconds.
    pub fn windows(&self) -> &[u64] {
        &self.windows
    }

    /// Adds `rec` to its initiator's statistics and returns the updated state.
    pub fn observe(&mut self, rec: &FlowRecord) -> &SourceState {
        let source = rec.key.src.to_canonical();
        if !self.sources.contains(&source) {
            let state = SourceState::new(&self.windows, rec.last_seen.0);
            if let Some((old, _)) = self.sources.push(source, state) {
                if old != source {
                    self.evicted += 1;
                }
            }
        }
        let state = self
            .sources
            .get_mut(&source)
            .expect("the source was just inserted");
        state.update(rec);
        state
    }

    /// The state of a tracked source, without touching its recency.
    pub fn source(&self, source: IpAddr) -> Option<&SourceState> {
        self.sources.peek(&source.to_canonical())
    }

    /// Number of sources currently tracked.
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// Sources evicted to stay within the cap.
    pub fn evicted_sources(&self) -> u64 {
        self.evicted
    }
}

/// The full feature vector of `rec` in the context of its source's (already updated) `state`,
/// written into `out` (cleared first).
pub fn vector_into(rec: &FlowRecord, state: &SourceState, out: &mut Vec<f64>) {
    out.clear();
    push_flow_features(rec, out);
    state.push_features(out);
}

/// Whether only high values of the feature named `name` can signal an attack: every source
/// window feature except `packets_per_flow` (scans send few packets per flow). A source seen
/// for the first time has low counts in every window; that is ordinary, so the model treats
/// values below the baseline median of these features as the median (see
/// [`crate::model::fit`]).
pub fn is_upper_tail_only(name: &str) -> bool {
    name.starts_with("src") && !name.ends_with(".packets_per_flow")
}

/// Feature names for the given windows: flow features, then `src<W>s.<name>` per window.
pub fn feature_names(windows_secs: &[u64]) -> Result<Vec<String>, FeatureError> {
    if windows_secs.is_empty() {
        return Err(FeatureError::NoWindows);
    }
    if let Some(i) = windows_secs.iter().position(|&w| w == 0) {
        return Err(FeatureError::ZeroWindow(i));
    }
    for (i, w) in windows_secs.iter().enumerate() {
        if windows_secs[..i].contains(w) {
            return Err(FeatureError::DuplicateWindow(*w));
        }
    }
    let mut names: Vec<String> = FLOW_FEATURE_NAMES.iter().map(|s| (*s).to_owned()).collect();
    for w in windows_secs {
        names.extend(WINDOW_FEATURE_NAMES.iter().map(|n| format!("src{w}s.{n}")));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{flow, tcp_flow, NS};

    fn extractor(windows: &[u64]) -> FeatureExtractor {
        FeatureExtractor::new(windows, NonZeroUsize::new(16).unwrap()).unwrap()
    }

    #[test]
    fn flow_features_of_a_hand_built_http_flow() {
        // 2 s; 5 packets / 600 bytes forward, 4 packets / 4000 bytes back; full handshake + FIN.
        let mut rec = tcp_flow("198.51.100.7", "192.0.2.1", 80, 0, 2 * NS);
        rec.forward.packets = 5;
        rec.forward.bytes = 600;
        rec.forward.size_sum_sq = 5 * 120 * 120 + 4 * 100; // sizes with mean 120, variance 80
        rec.forward.iat_sum_ns = 4 * 500_000_000; // 4 gaps of 0.5 s
        rec.forward.iat_sum_sq_us = 4 * 500_000 * 500_000;
        rec.forward.tcp_flags =
            TcpFlags(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN);
        rec.backward.packets = 4;
        rec.backward.bytes = 4000;
        rec.backward.size_sum_sq = 4 * 1000 * 1000;
        rec.backward.tcp_flags = TcpFlags(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::FIN);
        let mut v = Vec::new();
        push_flow_features(&rec, &mut v);
        assert_eq!(v.len(), N_FLOW_FEATURES);
        let expect = [
            3f64.ln(),                 // ln(1 + 2 s)
            6f64.ln(),                 // ln(1 + 5)
            5f64.ln(),                 // ln(1 + 4)
            601f64.ln(),               // ln(1 + 600)
            4001f64.ln(),              // ln(1 + 4000)
            121f64.ln(),               // ln(1 + fwd size mean 120)
            (1.0 + 80f64.sqrt()).ln(), // ln(1 + fwd size std √80)
            1001f64.ln(),              // ln(1 + bwd size mean 1000)
            0.0,                       // bwd size std
            501f64.ln(),               // ln(1 + 500 ms)
            0.0,                       // constant gaps
            0.0,                       // one-packet-per-gap backward: no gaps recorded
            0.0,
            5.5f64.ln(),  // ln(1 + 9 packets / 2 s)
            2301f64.ln(), // ln(1 + 4600 bytes / 2 s)
            4001f64.ln() - 601f64.ln(),
            1.0, // tcp
            0.0,
            0.0,
            0.0, // not syn-only
            1.0, // established
            0.0,
            0.0,
            1.0, // fin
            0.0, // answered
            1.0, // port 80
        ];
        for (i, (got, want)) in v.iter().zip(expect).enumerate() {
            assert!(
                (got - want).abs() < 1e-9,
                "{}: {got} != {want}",
                FLOW_FEATURE_NAMES[i]
            );
        }
    }

    #[test]
    fn traits_of_scan_probes() {
        // Closed port on Linux: SYN → RST-ACK.
        let mut closed = tcp_flow("203.0.113.9", "192.0.2.1", 23, 0, 0);
        closed.forward.tcp_flags = TcpFlags(TcpFlags::SYN);
        closed.backward.packets = 1;
        closed.backward.tcp_flags = TcpFlags(TcpFlags::RST | TcpFlags::ACK);
        let t = FlowTraits::of(&closed);
        assert!(t.syn_only && t.responder_rst && !t.unanswered && t.failed_handshake());
        // Filtered port: no answer at all.
        let mut filtered = closed.clone();
        filtered.backward = Default::default();
        let t = FlowTraits::of(&filtered);
        assert!(t.unanswered && !t.responder_rst && t.failed_handshake());
        // UDP is never "failed handshake".
        let t = FlowTraits::of(&flow("203.0.113.9", "192.0.2.1", IpProtocol::UDP, 53, 0, 0));
        assert!(t.udp && !t.failed_handshake() && t.unanswered);
    }

    #[test]
    fn window_counts_decay_exponentially() {
        let mut x = extractor(&[10]);
        let rec = tcp_flow("198.51.100.7", "192.0.2.1", 443, 0, 0);
        x.observe(&rec);
        let mut later = rec.clone();
        later.first_seen.0 = 10 * NS;
        later.last_seen.0 = 10 * NS;
        let s = x.observe(&later).summaries().next().unwrap();
        assert!((s.flows - (1.0 + (-1f64).exp())).abs() < 1e-12);
        assert!((s.established - (1.0 + (-1f64).exp())).abs() < 1e-12);
        assert_eq!(s.window_secs, 10);
        // Same service twice.
        assert!((s.services - 1.0).abs() < 0.05);
        assert!((s.flows_per_service() - s.flows / s.services).abs() < 1e-12);
    }

    #[test]
    fn a_port_scan_has_many_ports_and_resets() {
        let mut x = extractor(&[10, 60]);
        let mut last = None;
        for port in 1..=500u16 {
            let mut probe = tcp_flow(
                "203.0.113.9",
                "192.0.2.1",
                port,
                u64::from(port) * NS / 100,
                0,
            );
            probe.forward.tcp_flags = TcpFlags(TcpFlags::SYN);
            probe.backward.tcp_flags = TcpFlags(TcpFlags::RST | TcpFlags::ACK);
            let state = x.observe(&probe);
            last = Some(state.summaries().collect::<Vec<_>>());
        }
        let summaries = last.unwrap();
        let short = summaries[0];
        assert!(short.dst_ports > 250.0, "{short:?}");
        assert!(short.dst_hosts < 1.5);
        assert!(short.share(short.responder_rst) > 0.95);
        assert!(short.failed_probes() > 350.0); // 500 probes over 5 s, decayed
        let mut v = Vec::new();
        vector_into(
            &tcp_flow("203.0.113.9", "192.0.2.1", 1, 0, 0),
            x.source("203.0.113.9".parse().unwrap()).unwrap(),
            &mut v,
        );
        assert_eq!(v.len(), x.n_features());
        assert_eq!(x.feature_names()[N_FLOW_FEATURES], "src10s.flows");
        assert_eq!(x.feature_names().last().unwrap(), "src60s.packets_per_flow");
    }

    #[test]
    fn sustained_runs_of_connections_end_at_a_pause() {
        let mut x = extractor(&[10]);
        let at = |ms: u64| tcp_flow("198.51.100.7", "192.0.2.1", 80, ms * NS / 1000, 0);
        let sustained = |x: &mut FeatureExtractor, ms: u64| {
            let s = x.observe(&at(ms)).summaries().next().unwrap();
            assert_eq!(
                s.sustained_secs,
                x.source("198.51.100.7".parse().unwrap())
                    .unwrap()
                    .sustained_secs()
            );
            s.sustained_secs
        };
        // A connection every 1.5 s for 6 s: one run.
        for ms in [0, 1500, 3000, 4500] {
            sustained(&mut x, ms);
        }
        assert!((sustained(&mut x, 6000) - 6.0).abs() < 1e-9);
        let run_established = |x: &FeatureExtractor| {
            x.source("198.51.100.7".parse().unwrap())
                .unwrap()
                .summaries()
                .next()
                .unwrap()
                .run_established
        };
        // Five connections 1.5 s apart, decayed over the 10 s window.
        let five: f64 = (0..5).map(|k| (-0.15 * f64::from(k)).exp()).sum();
        assert!((run_established(&x) - five).abs() < 1e-9);
        // A pause of 2.5 s starts a new run, with its own count of connections.
        assert_eq!(sustained(&mut x, 8500), 0.0);
        assert_eq!(run_established(&x), 1.0);
        assert!((sustained(&mut x, 9000) - 0.5).abs() < 1e-9);
        // Flows that complete no connection do not extend the run, and a later one after a pause
        // reads 0.
        let mut udp = flow("198.51.100.7", "192.0.2.1", IpProtocol::UDP, 53, 0, 0);
        udp.last_seen.0 = 9800 * NS / 1000;
        assert!((x.observe(&udp).sustained_secs() - 0.5).abs() < 1e-9);
        udp.last_seen.0 = 12 * NS;
        assert_eq!(x.observe(&udp).sustained_secs(), 0.0);
    }

    #[test]
    fn connectionless_sources_are_flagged_spoofable() {
        let mut x = extractor(&[10]);
        let udp = flow("203.0.113.5", "192.0.2.1", IpProtocol::UDP, 53, 0, 0);
        assert!(x.observe(&udp).connectionless_only());
        let tcp = tcp_flow("203.0.113.5", "192.0.2.1", 80, NS, 0);
        assert!(!x.observe(&tcp).connectionless_only());
        let mut much_later = udp.clone();
        much_later.last_seen.0 = 100 * NS;
        assert!(x.observe(&much_later).connectionless_only());
    }

    #[test]
    fn tracked_sources_are_capped_and_evictions_counted() {
        let mut x = FeatureExtractor::new(&[10], NonZeroUsize::new(2).unwrap()).unwrap();
        for i in 0..5 {
            x.observe(&tcp_flow(&format!("198.51.100.{i}"), "192.0.2.1", 80, 0, 0));
        }
        assert_eq!(x.tracked_sources(), 2);
        assert_eq!(x.evicted_sources(), 3);
        assert!(x.source("198.51.100.4".parse().unwrap()).is_some());
        assert!(x.source("198.51.100.0".parse().unwrap()).is_none());
    }

    #[test]
    fn time_never_runs_backwards() {
        let mut x = extractor(&[10]);
        x.observe(&tcp_flow("198.51.100.7", "192.0.2.1", 80, 100 * NS, 0));
        let s = x
            .observe(&tcp_flow("198.51.100.7", "192.0.2.1", 80, 50 * NS, 0))
            .summaries()
            .next()
            .unwrap();
        assert!((s.flows - 2.0).abs() < 1e-12);
    }

    #[test]
    fn feature_names_reject_bad_windows() {
        assert_eq!(feature_names(&[]), Err(FeatureError::NoWindows));
        assert_eq!(feature_names(&[10, 0]), Err(FeatureError::ZeroWindow(1)));
        assert_eq!(
            feature_names(&[10, 10]),
            Err(FeatureError::DuplicateWindow(10))
        );
        assert_eq!(
            feature_names(&[10, 60]).unwrap().len(),
            N_FLOW_FEATURES + 2 * WINDOW_FEATURE_NAMES.len()
        );
        let names = feature_names(&[10]).unwrap();
        let one_sided: Vec<&str> = names
            .iter()
            .filter(|n| is_upper_tail_only(n))
            .map(String::as_str)
            .collect();
        assert_eq!(one_sided.len(), WINDOW_FEATURE_NAMES.len() - 1);
        assert!(one_sided.contains(&"src10s.dst_ports"));
        assert!(!one_sided.contains(&"src10s.packets_per_flow"));
        assert!(!one_sided.contains(&"flow.fwd_packets"));
    }
}
