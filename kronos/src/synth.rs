//! Synthetic flow records: hand-built single flows and seeded generators of normal traffic and
//! of the attacks kronos looks for. Used by the tests, the benchmarks and the documentation
//! examples; never by the service itself.
//!
//! Flows are oriented as sentinel exports them: `src` is the initiator (on the WAN side, the
//! remote host), `dst` the responder. Times are nanoseconds since the epoch.

use std::net::IpAddr;

use argus_proto::{
    DirectionStats, EndReason, FlowKey, FlowRecord, IpProtocol, TcpFlags, UnixTimeNs,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Nanoseconds per second.
pub const NS: u64 = 1_000_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse()
        .unwrap_or_else(|_| panic!("{s:?} is not an IP address"))
}

fn direction(packets: u64, bytes: u64, flags: u8) -> DirectionStats {
    let mean = bytes.checked_div(packets).unwrap_or(0);
    DirectionStats {
        packets,
        bytes,
        tcp_flags: TcpFlags(flags),
        size_min: mean as u32,
        size_max: mean as u32,
        size_sum_sq: packets * mean * mean,
        iat_sum_ns: 0,
        iat_sum_sq_us: 0,
    }
}

/// A flow of `protocol` from `src` to `dst:dst_port` with one 60-byte packet forward and no
/// answer, starting at `start_ns` and lasting `duration_ns`.
pub fn flow(
    src: &str,
    dst: &str,
    protocol: IpProtocol,
    dst_port: u16,
    start_ns: u64,
    duration_ns: u64,
) -> FlowRecord {
    FlowRecord {
        key: FlowKey {
            src: ip(src),
            dst: ip(dst),
            src_port: 40_000,
            dst_port,
            protocol,
        },
        interface: "wan0".to_owned(),
        first_seen: UnixTimeNs(start_ns),
        last_seen: UnixTimeNs(start_ns + duration_ns),
        forward: direction(1, 60, 0),
        backward: DirectionStats::default(),
        end_reason: EndReason::IdleTimeout,
    }
}

/// A completed TCP connection (handshake, a little data, FIN both ways): 3 packets / 180 bytes
/// forward, 2 packets / 120 bytes back.
pub fn tcp_flow(
    src: &str,
    dst: &str,
    dst_port: u16,
    start_ns: u64,
    duration_ns: u64,
) -> FlowRecord {
    FlowRecord {
        forward: direction(
            3,
            180,
            TcpFlags::SYN | TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
        ),
        backward: direction(2, 120, TcpFlags::SYN | TcpFlags::ACK | TcpFlags::FIN),
        end_reason: EndReason::TcpFin,
        ..flow(src, dst, IpProtocol::TCP, dst_port, start_ns, duration_ns)
    }
}

/// Sorts records by `last_seen`, the order sentinel exports them in.
pub fn time_ordered(mut records: Vec<FlowRecord>) -> Vec<FlowRecord> {
    records.sort_by_key(|r| r.last_seen);
    records
}

/// Normal inbound traffic: `sources` clients (from 198.51.100.0/24 and 2001:db8:1::/64) each
/// opening a few HTTPS, HTTP or SSH sessions with varied sizes and durations, spread over
/// `span_secs` from `start_ns`; about `flows` records, time-ordered. Seeded: the same
/// arguments give the same records.
pub fn normal_traffic(
    seed: u64,
    sources: u32,
    flows: usize,
    start_ns: u64,
    span_secs: u64,
) -> Vec<FlowRecord> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let servers = ["192.0.2.10", "192.0.2.11", "192.0.2.12"];
    let mut out = Vec::with_capacity(flows);
    for _ in 0..flows {
        let client = rng.random_range(0..sources.max(1));
        let src = if client % 4 == 3 {
            format!("2001:db8:1::{:x}", client + 1)
        } else {
            format!("198.51.100.{}", client % 250 + 1)
        };
        let (port, server) = match rng.random_range(0..10) {
            0..=5 => (443, servers[0]),
            6..=7 => (80, servers[1]),
            8 => (22, servers[2]),
            _ => (8443, servers[0]),
        };
        let start = start_ns + rng.random_range(0..span_secs.max(1) * NS);
        let duration = rng.random_range(NS / 20..20 * NS);
        let fwd_packets = rng.random_range(4..40u64);
        let bwd_packets = fwd_packets + rng.random_range(0..60u64);
        let mut rec = tcp_flow(&src, server, port, start, duration);
        rec.key.src_port = rng.random_range(32_768..61_000);
        rec.forward = direction(
            fwd_packets,
            fwd_packets * rng.random_range(60..400u64),
            TcpFlags::SYN | TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
        );
        rec.backward = direction(
            bwd_packets,
            bwd_packets * rng.random_range(200..1400u64),
            TcpFlags::SYN | TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
        );
        let gaps = fwd_packets - 1;
        rec.forward.iat_sum_ns = duration;
        rec.forward.iat_sum_sq_us = (duration / 1000).pow(2) / gaps.max(1);
        out.push(rec);
    }
    time_ordered(out)
}

/// A SYN scan of `ports` on `dst` from `src`, `rate` probes per second from `start_ns`: closed
/// ports answer RST-ACK (Linux), every `open_every`-th port answers SYN-ACK and is reset by the
/// scanner.
pub fn port_scan(
    src: &str,
    dst: &str,
    ports: std::ops::RangeInclusive<u16>,
    start_ns: u64,
    rate: u64,
    open_every: u16,
) -> Vec<FlowRecord> {
    ports
        .enumerate()
        .map(|(i, port)| {
            let mut rec = tcp_flow(src, dst, port, start_ns + i as u64 * NS / rate, 1_000_000);
            rec.key.src_port = 51_000;
            if port % open_every == 0 {
                rec.forward = direction(2, 100, TcpFlags::SYN | TcpFlags::RST);
                rec.backward = direction(1, 44, TcpFlags::SYN | TcpFlags::ACK);
            } else {
                rec.forward = direction(1, 44, TcpFlags::SYN);
                rec.backward = direction(1, 40, TcpFlags::RST | TcpFlags::ACK);
            }
            rec.end_reason = EndReason::TcpRst;
            rec
        })
        .collect()
}

/// `n` SYNs at `rate` per second from `src` to `dst:port`, each from a new source port: the
/// responder answers SYN-ACK (retransmitted), the source never completes the handshake.
pub fn syn_flood(
    src: &str,
    dst: &str,
    port: u16,
    start_ns: u64,
    n: u64,
    rate: u64,
) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut rec = tcp_flow(src, dst, port, start_ns + i * NS / rate, 3 * NS);
            rec.key.src_port = 1024 + (i % 60_000) as u16;
            rec.forward = direction(1, 40, TcpFlags::SYN);
            rec.backward = direction(3, 132, TcpFlags::SYN | TcpFlags::ACK);
            rec.end_reason = EndReason::IdleTimeout;
            rec
        })
        .collect()
}

/// `n` short login attempts at `rate` per second from `src` to `dst:port` (e.g. an HTTP form or
/// SSH): each a complete connection with one small request and one small answer.
pub fn brute_force(
    src: &str,
    dst: &str,
    port: u16,
    start_ns: u64,
    n: u64,
    rate: u64,
) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut rec = tcp_flow(src, dst, port, start_ns + i * NS / rate, 80_000_000);
            rec.key.src_port = 20_000 + (i % 40_000) as u16;
            rec.forward = direction(
                5,
                620,
                TcpFlags::SYN | TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
            );
            rec.backward = direction(
                4,
                900,
                TcpFlags::SYN | TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN,
            );
            rec
        })
        .collect()
}

/// `n` one-way UDP flows of `packets` 1200-byte datagrams each from `src` to random ports of
/// `dst`, `rate` flows per second.
pub fn udp_flood(
    src: &str,
    dst: &str,
    start_ns: u64,
    n: u64,
    rate: u64,
    packets: u64,
) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let mut rec = flow(
                src,
                dst,
                IpProtocol::UDP,
                1024 + (hash_port(i) % 60_000) as u16,
                start_ns + i * NS / rate,
                NS,
            );
            rec.forward = direction(packets, packets * 1200, 0);
            rec
        })
        .collect()
}

fn hash_port(i: u64) -> u64 {
    crate::hll::hash_u64(i)
}
