//! The flow builder: turns accumulated flows (kernel FLOWS entries, or the
//! userspace [`FlowAccounting`](argus_sentinel_common::model::FlowAccounting)
//! of `--pcap` mode, which have the same shape) into [`FlowRecord`]s, and
//! decides when a flow is exported: TCP FIN in both directions or RST (after
//! a short linger, so the last ACK joins its flow instead of opening a new
//! one), idle timeout, active timeout (the flow continues and later records
//! carry only what happened since), or shutdown.
//!
//! Both live and pcap mode drive this same code with their own clock: the
//! kernel's `CLOCK_MONOTONIC` in live mode, packet timestamps in pcap mode.

use std::collections::HashMap;

use argus_proto::{
    Direction, DirectionStats, EndReason, FlowKey as WireKey, FlowRecord, IpProtocol,
    PayloadSample, TcpFlags, UnixTimeNs,
};
use argus_sentinel_common::abi::{FlowDir, FlowKey, FlowValue, SampleEvent, DIR_FORWARD};

const TCP: u8 = 6;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;
const FIN: u32 = 0x01;
const RST: u32 = 0x04;

/// When flows are exported, in nanoseconds of the flow clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// No packet for this long: exported and removed.
    pub idle_ns: u64,
    /// Running this long since the last record: exported, kept.
    pub active_ns: u64,
    /// A closed TCP flow (FIN both ways, or RST) is exported once it has
    /// been quiet this long.
    pub linger_ns: u64,
}

impl Timeouts {
    /// From the configuration's `sentinel.flows` section. The linger is one
    /// scan interval (at least 100 ms): long enough for the final ACK,
    /// short enough that closed flows leave promptly.
    pub fn from_config(flows: &argus_config::Flows) -> Self {
        const NS: u64 = 1_000_000_000;
        Self {
            idle_ns: flows.idle_timeout_secs.saturating_mul(NS),
            active_ns: flows.active_timeout_secs.saturating_mul(NS),
            linger_ns: flows.scan_interval_ms.max(100).saturating_mul(1_000_000),
        }
    }
}

/// One flow leaving the builder.
#[derive(Clone, Debug, PartialEq)]
pub struct Export {
    /// The flow's key (to remove it from its table when `remove`).
    pub key: FlowKey,
    /// The record to send.
    pub record: FlowRecord,
    /// Whether the flow is finished and must be removed from its table.
    pub remove: bool,
}

/// One flow incarnation: its key and the first-seen time of its forward
/// direction (a key reused after removal or LRU eviction is a new flow).
type FlowId = (FlowKey, u64);

/// What an active-timeout record already reported for a still-running flow.
#[derive(Clone, Copy, Debug)]
struct Reported {
    value: FlowValue,
    /// Flow-clock time the reported part ended (its record's last_seen).
    until_ns: u64,
}

/// Builds records from flows; see the module documentation.
#[derive(Debug)]
pub struct FlowBuilder {
    timeouts: Timeouts,
    /// Unix time minus flow-clock time, in ns (0 for pcap timestamps).
    clock_offset_ns: i128,
    /// Interface names by ifindex.
    interfaces: HashMap<u32, String>,
    reported: HashMap<FlowId, Reported>,
}

impl FlowBuilder {
    /// A builder with `timeouts`, converting flow-clock times to Unix time
    /// by adding `clock_offset_ns`, and naming interfaces from `interfaces`.
    pub fn new(
        timeouts: Timeouts,
        clock_offset_ns: i128,
        interfaces: HashMap<u32, String>,
    ) -> Self {
        Self {
            timeouts,
            clock_offset_ns,
            interfaces,
            reported: HashMap::new(),
        }
    }

    /// Updates the flow-clock to Unix-time offset (the wall clock may be
    /// stepped while sentinel runs).
    pub fn set_clock_offset(&mut self, clock_offset_ns: i128) {
        self.clock_offset_ns = clock_offset_ns;
    }

    /// Decides, at flow-clock time `now`, which of `flows` to export.
    pub fn scan(&mut self, flows: &[(FlowKey, FlowValue)], now: u64) -> Vec<Export> {
        let mut out = Vec::new();
        let mut alive = std::collections::HashSet::new();
        for (key, value) in flows {
            let id = (*key, value.dir[DIR_FORWARD].first_seen_ns);
            alive.insert(id);
            if let Some((reason, remove)) = self.decide(key, value, now) {
                out.push(self.export(key, value, reason, remove));
            }
        }
        // Flows that vanished without being exported (LRU eviction) leave
        // no partial-report state behind.
        self.reported.retain(|id, _| alive.contains(id));
        out
    }

    /// Exports every flow (shutdown or end of a pcap file).
    pub fn flush(&mut self, flows: &[(FlowKey, FlowValue)]) -> Vec<Export> {
        flows
            .iter()
            .map(|(k, v)| self.export(k, v, EndReason::Shutdown, true))
            .collect()
    }

    fn decide(&self, key: &FlowKey, v: &FlowValue, now: u64) -> Option<(EndReason, bool)> {
        let last = last_seen(v);
        let quiet = now.saturating_sub(last);
        if key.proto == TCP && quiet >= self.timeouts.linger_ns {
            let (f, r) = (v.dir[0].tcp_flags, v.dir[1].tcp_flags);
            if (f | r) & RST != 0 {
                return Some((EndReason::TcpRst, true));
            }
            if f & FIN != 0 && r & FIN != 0 {
                return Some((EndReason::TcpFin, true));
            }
        }
        if quiet >= self.timeouts.idle_ns {
            return Some((EndReason::IdleTimeout, true));
        }
        let id = (*key, v.dir[DIR_FORWARD].first_seen_ns);
        let since = self
            .reported
            .get(&id)
            .map_or(v.dir[DIR_FORWARD].first_seen_ns, |r| r.until_ns);
        if now.saturating_sub(since) >= self.timeouts.active_ns {
            return Some((EndReason::ActiveTimeout, false));
        }
        None
    }

    fn export(&mut self, key: &FlowKey, v: &FlowValue, reason: EndReason, remove: bool) -> Export {
        let id = (*key, v.dir[DIR_FORWARD].first_seen_ns);
        let prior = if remove {
            self.reported.remove(&id)
        } else {
            self.reported.get(&id).copied()
        };
        let last = last_seen(v);
        let first = prior.map_or(v.dir[DIR_FORWARD].first_seen_ns, |p| p.until_ns);
        let base = prior.map(|p| p.value).unwrap_or_default();
        let record = FlowRecord {
            key: wire_key(key, v.initiator_is_lo != 0, v.icmp_type, v.icmp_code),
            interface: self.interface_name(v.initiator_ifindex),
            first_seen: self.to_unix(first),
            last_seen: self.to_unix(last),
            forward: delta(&v.dir[0], &base.dir[0]),
            backward: delta(&v.dir[1], &base.dir[1]),
            end_reason: reason,
        };
        if !remove {
            self.reported.insert(
                id,
                Reported {
                    value: *v,
                    until_ns: last,
                },
            );
        }
        Export {
            key: *key,
            record,
            remove,
        }
    }

    /// The wire form of a payload sample; `flow` is the sample's flow if it
    /// is still known (it names ICMP flows by their first type and code).
    pub fn sample(&self, ev: &SampleEvent, flow: Option<&FlowValue>) -> PayloadSample {
        let (icmp_type, icmp_code) = flow.map_or((0, 0), |f| (f.icmp_type, f.icmp_code));
        PayloadSample {
            flow: wire_key(&ev.key, ev.initiator_is_lo != 0, icmp_type, icmp_code),
            direction: if usize::from(ev.direction) == DIR_FORWARD {
                Direction::Forward
            } else {
                Direction::Backward
            },
            index: u8::try_from(ev.index).unwrap_or(u8::MAX),
            timestamp: self.to_unix(ev.ts_ns),
            payload_len: u32::from(ev.payload_len),
            bytes: ev.payload().to_vec(),
        }
    }

    fn to_unix(&self, t: u64) -> UnixTimeNs {
        let unix = i128::from(t) + self.clock_offset_ns;
        UnixTimeNs(u64::try_from(unix.max(0)).unwrap_or(u64::MAX))
    }

    fn interface_name(&self, ifindex: u32) -> String {
        self.interfaces
            .get(&ifindex)
            .cloned()
            .unwrap_or_else(|| format!("if{ifindex}"))
    }
}

fn last_seen(v: &FlowValue) -> u64 {
    v.dir[0].last_seen_ns.max(v.dir[1].last_seen_ns)
}

/// The oriented wire key. ICMP flows are keyed in the kernel by the echo
/// identifier (so request and reply merge); on the wire, per argus-proto,
/// their ports are the first packet's type and code.
fn wire_key(key: &FlowKey, initiator_is_lo: bool, icmp_type: u8, icmp_code: u8) -> WireKey {
    let (src, dst) = key.oriented(initiator_is_lo);
    let (src_port, dst_port) = match key.proto {
        ICMP | ICMPV6 => (u16::from(icmp_type), u16::from(icmp_code)),
        _ => (src.port, dst.port),
    };
    WireKey {
        src: src.addr,
        dst: dst.addr,
        src_port,
        dst_port,
        protocol: IpProtocol(key.proto),
    }
}

/// Counters of `now` minus those already reported in `base`. Min, max and
/// flags stay cumulative: merging records by min/max/OR stays exact.
fn delta(now: &FlowDir, base: &FlowDir) -> DirectionStats {
    let packets = now.packets.saturating_sub(base.packets);
    DirectionStats {
        packets,
        bytes: now.bytes.saturating_sub(base.bytes),
        tcp_flags: TcpFlags(now.tcp_flags as u8),
        size_min: if now.packets == 0 { 0 } else { now.size_min },
        size_max: now.size_max,
        size_sum_sq: now.size_sumsq.saturating_sub(base.size_sumsq),
        iat_sum_ns: now.iat_sum_ns.saturating_sub(base.iat_sum_ns),
        iat_sum_sq_us: now.iat_sumsq_us.saturating_sub(base.iat_sumsq_us),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_sentinel_common::key::{canonical_flow_key, Endpoint};
    use std::net::IpAddr;

    const S: u64 = 1_000_000_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn builder() -> FlowBuilder {
        let t = Timeouts {
            idle_ns: 30 * S,
            active_ns: 120 * S,
            linger_ns: S,
        };
        FlowBuilder::new(
            t,
            1_000 * S as i128,
            HashMap::from([(2, "wan0".to_owned())]),
        )
    }

    /// A flow from client:40000 to server:80 (client initiated).
    fn flow(proto: u8, fwd: (u64, u64, u32), rev: (u64, u64, u32)) -> (FlowKey, FlowValue) {
        let client = Endpoint::new(ip("10.203.0.2"), 40000);
        let server = Endpoint::new(ip("10.203.0.1"), 80);
        let (key, client_lo) = canonical_flow_key(client, server, proto);
        let mut v = FlowValue {
            initiator_ifindex: 2,
            initiator_is_lo: u8::from(client_lo),
            ..Default::default()
        };
        for (d, (first, last, flags)) in v.dir.iter_mut().zip([fwd, rev]) {
            d.first_seen_ns = first;
            d.last_seen_ns = last;
            d.tcp_flags = flags;
            d.packets = u64::from(last > 0) * 3;
            d.bytes = d.packets * 100;
            d.size_min = 100;
            d.size_max = 100;
        }
        (key, v)
    }

    #[test]
    fn record_is_oriented_from_the_initiator() {
        let mut b = builder();
        let f = flow(17, (10 * S, 11 * S, 0), (10 * S, 12 * S, 0));
        let out = b.flush(&[f]);
        let r = &out[0].record;
        assert_eq!((r.key.src, r.key.src_port), (ip("10.203.0.2"), 40000));
        assert_eq!((r.key.dst, r.key.dst_port), (ip("10.203.0.1"), 80));
        assert_eq!(r.interface, "wan0");
        assert_eq!(r.first_seen, UnixTimeNs(1_010 * S));
        assert_eq!(r.last_seen, UnixTimeNs(1_012 * S));
        assert_eq!((r.forward.packets, r.backward.bytes), (3, 300));
        assert_eq!(r.end_reason, EndReason::Shutdown);
        assert!(out[0].remove);
    }

    #[test]
    fn tcp_close_waits_for_the_linger() {
        let mut b = builder();
        let closed = flow(
            6,
            (10 * S, 20 * S, FIN | 0x10),
            (10 * S, 20 * S, FIN | 0x10),
        );
        assert!(
            b.scan(&[closed], 20 * S + S / 2).is_empty(),
            "still lingering"
        );
        let out = b.scan(&[closed], 21 * S);
        assert_eq!(out[0].record.end_reason, EndReason::TcpFin);
        let half = flow(6, (10 * S, 20 * S, FIN), (10 * S, 20 * S, 0x10));
        assert!(b.scan(&[half], 25 * S).is_empty(), "one FIN is not a close");
        let reset = flow(6, (10 * S, 20 * S, 0x10), (10 * S, 20 * S, RST));
        assert_eq!(
            b.scan(&[reset], 21 * S)[0].record.end_reason,
            EndReason::TcpRst
        );
    }

    #[test]
    fn idle_and_active_timeouts() {
        let mut b = builder();
        let quiet = flow(17, (10 * S, 10 * S, 0), (0, 0, 0));
        assert!(b.scan(&[quiet], 39 * S).is_empty());
        let out = b.scan(&[quiet], 40 * S);
        assert_eq!(out[0].record.end_reason, EndReason::IdleTimeout);
        assert!(out[0].remove);
        assert_eq!(out[0].record.backward.size_min, 0, "empty direction");

        // A long flow: one active-timeout record, then the rest as a delta.
        let (key, mut v) = flow(17, (10 * S, 129 * S, 0), (10 * S, 129 * S, 0));
        let out = b.scan(&[(key, v)], 130 * S);
        assert_eq!(out[0].record.end_reason, EndReason::ActiveTimeout);
        assert!(!out[0].remove);
        assert_eq!(out[0].record.forward.packets, 3);
        v.dir[0].packets = 5;
        v.dir[0].bytes = 500;
        v.dir[0].last_seen_ns = 140 * S;
        assert!(b.scan(&[(key, v)], 141 * S).is_empty());
        let out = b.flush(&[(key, v)]);
        let r = &out[0].record;
        assert_eq!(
            (r.forward.packets, r.forward.bytes),
            (2, 200),
            "only the new part"
        );
        assert_eq!(
            r.first_seen,
            UnixTimeNs(1_129 * S),
            "continues the previous record"
        );
    }

    #[test]
    fn icmp_records_carry_type_and_code() {
        let b = builder();
        let (key, mut v) = flow(1, (10 * S, 10 * S, 0), (0, 0, 0));
        v.icmp_type = 8;
        let k = wire_key(&key, v.initiator_is_lo != 0, v.icmp_type, v.icmp_code);
        assert_eq!((k.src_port, k.dst_port), (8, 0));
        let mut ev = SampleEvent {
            event_type: 2,
            ifindex: 2,
            ts_ns: 11 * S,
            flow_start_ns: 10 * S,
            key,
            direction: 1,
            initiator_is_lo: v.initiator_is_lo,
            index: 0,
            captured_len: 2,
            payload_len: 9,
            data: [0; 512],
        };
        ev.data[..2].copy_from_slice(b"hi");
        let s = b.sample(&ev, Some(&v));
        assert_eq!(s.flow, k);
        assert_eq!(s.direction, Direction::Backward);
        assert_eq!((s.bytes.as_slice(), s.payload_len), (&b"hi"[..], 9));
        assert_eq!(s.timestamp, UnixTimeNs(1_011 * S));
    }
}
