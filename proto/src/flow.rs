//! Messages from sentinel to kronos: finished (or long-running) flows and payload samples.

use serde::{Deserialize, Serialize};

use crate::types::{Direction, FlowKey, TcpFlags, UnixTimeNs};

/// Counters for one direction of a flow, as accumulated in the kernel's `FLOWS` map.
///
/// Sizes are IP packet lengths in bytes; inter-arrival times are between consecutive packets of this
/// direction. Raw sums are carried (not means) so records of the same flow can be merged exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DirectionStats {
    /// Packets seen.
    pub packets: u64,
    /// Bytes seen (IP length).
    pub bytes: u64,
    /// TCP flags seen, ORed.
    pub tcp_flags: TcpFlags,
    /// Smallest packet.
    pub size_min: u32,
    /// Largest packet.
    pub size_max: u32,
    /// Sum of squared packet sizes.
    pub size_sum_sq: u64,
    /// Sum of inter-arrival times in nanoseconds.
    pub iat_sum_ns: u64,
    /// Sum of squared inter-arrival times in microseconds² (µs keeps the square inside u64).
    pub iat_sum_sq_us: u64,
}

impl DirectionStats {
    /// Mean packet size, 0 for an empty direction.
    pub fn size_mean(&self) -> f64 {
        ratio(self.bytes as f64, self.packets)
    }

    /// Population standard deviation of packet sizes.
    pub fn size_std(&self) -> f64 {
        let mean = self.size_mean();
        (ratio(self.size_sum_sq as f64, self.packets) - mean * mean)
            .max(0.0)
            .sqrt()
    }

    /// Mean inter-arrival time in microseconds.
    pub fn iat_mean_us(&self) -> f64 {
        ratio(self.iat_sum_ns as f64 / 1e3, self.packets.saturating_sub(1))
    }

    /// Population standard deviation of inter-arrival times in microseconds.
    pub fn iat_std_us(&self) -> f64 {
        let mean = self.iat_mean_us();
        (ratio(self.iat_sum_sq_us as f64, self.packets.saturating_sub(1)) - mean * mean)
            .max(0.0)
            .sqrt()
    }
}

fn ratio(sum: f64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// Why sentinel exported a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// No packet for `flows.idle_timeout_secs`.
    IdleTimeout,
    /// The flow is still alive but ran for `flows.active_timeout_secs`; a later record continues it.
    ActiveTimeout,
    /// Both sides sent FIN.
    TcpFin,
    /// A side sent RST.
    TcpRst,
    /// Sentinel is shutting down or the pcap file ended.
    Shutdown,
}

/// One flow, both directions merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// 5-tuple, oriented initiator → responder.
    pub key: FlowKey,
    /// Interface on which the initiator's first packet arrived.
    pub interface: String,
    /// First packet seen.
    pub first_seen: UnixTimeNs,
    /// Last packet seen.
    pub last_seen: UnixTimeNs,
    /// Initiator → responder counters.
    pub forward: DirectionStats,
    /// Responder → initiator counters.
    pub backward: DirectionStats,
    /// Why the record was exported.
    pub end_reason: EndReason,
}

impl FlowRecord {
    /// Duration from the first to the last packet.
    pub fn duration(&self) -> std::time::Duration {
        self.last_seen.saturating_since(self.first_seen)
    }
}

/// The first bytes of one payload-carrying packet of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadSample {
    /// The flow this packet belongs to, oriented initiator → responder.
    pub flow: FlowKey,
    /// Direction of this packet.
    pub direction: Direction,
    /// Ordinal of this sample within its flow and direction (0 = first payload packet).
    pub index: u8,
    /// When the packet was seen.
    pub timestamp: UnixTimeNs,
    /// Length of the packet's L4 payload, of which `bytes` is the prefix.
    pub payload_len: u32,
    /// The captured prefix of the L4 payload.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

/// XDP attachment mode actually obtained on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachMode {
    /// Driver (native) XDP.
    Native,
    /// Generic (skb) XDP: works everywhere, slower.
    Generic,
    /// No program attached (pcap mode, or attach failed).
    None,
}

/// Sentinel's health, sent periodically so kronos and the enforcer can report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorStatus {
    /// Interfaces and the XDP mode obtained on each.
    pub interfaces: Vec<(String, AttachMode)>,
    /// Flow records exported since start.
    pub flows_exported: u64,
    /// Flow records dropped because the queue to kronos was full.
    pub flows_shed: u64,
    /// Payload samples exported since start.
    pub samples_exported: u64,
    /// Ring-buffer events the kernel could not reserve (ring full).
    pub ringbuf_lost: u64,
}

/// A message on the sentinel → kronos channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SensorMessage {
    /// A flow record.
    Flow(FlowRecord),
    /// A payload sample.
    Sample(PayloadSample),
    /// Sentinel's health.
    Status(SensorStatus),
}
