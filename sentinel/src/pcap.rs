//! `--pcap` mode: replay a pcap or pcapng capture through the userspace twin
//! of the XDP parser and flow accounting
//! ([`packet::parse`], [`FlowAccounting`]) into the same [`FlowBuilder`] as
//! live mode, with the packets' timestamps as the flow clock. No root, no
//! kernel: every flow of the capture is accounted (there is no policy).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use argus_config::Config;
use argus_proto::SensorMessage;
use argus_sentinel_common::abi::{FlowKey, FlowValue};
use argus_sentinel_common::model::FlowAccounting;
use argus_sentinel_common::packet::{self, Parsed};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

use crate::error::SentinelError;
use crate::records::{FlowBuilder, Timeouts};
use crate::sink::Queue;

/// The ifindex pcap-mode flows are recorded on (named by `interface`).
const PCAP_IFINDEX: u32 = 0;

/// What a replay saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Packets read.
    pub packets: u64,
    /// Packets skipped: not IP, unusable L3, no L4 key, or a link type
    /// other than Ethernet.
    pub skipped: u64,
    /// Flow records produced.
    pub flows: u64,
    /// Payload samples produced.
    pub samples: u64,
}

/// Replays `path` into `queue`, naming the capture's interface `interface`.
pub fn replay(
    cfg: &Config,
    path: &Path,
    interface: &str,
    queue: &Queue,
) -> Result<Summary, SentinelError> {
    let err = |detail: String| SentinelError::Pcap {
        path: path.to_owned(),
        detail,
    };
    let mut file = File::open(path).map_err(|source| SentinelError::Io {
        op: "open",
        path: path.to_owned(),
        source,
    })?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .map_err(|e| err(format!("too short for a capture: {e}")))?;
    let file = File::open(path).map_err(|source| SentinelError::Io {
        op: "open",
        path: path.to_owned(),
        source,
    })?;

    let mut replay = Replay::new(cfg, interface);
    // pcapng starts with a Section Header Block (0x0A0D0D0A in any order).
    if magic == [0x0A, 0x0D, 0x0D, 0x0A] {
        let mut r = PcapNgReader::new(BufReader::new(file)).map_err(|e| err(e.to_string()))?;
        // Link type of each interface, by interface id (order of appearance).
        let mut ethernet: Vec<bool> = Vec::new();
        while let Some(block) = r.next_block() {
            match block.map_err(|e| err(e.to_string()))? {
                Block::InterfaceDescription(i) => ethernet.push(i.linktype == DataLink::ETHERNET),
                Block::EnhancedPacket(p) => {
                    let eth = ethernet
                        .get(p.interface_id as usize)
                        .copied()
                        .unwrap_or(false);
                    replay.packet(eth, p.timestamp.as_nanos() as u64, &p.data, queue);
                }
                Block::SimplePacket(p) => {
                    // No timestamp: it happens "now" on the first interface.
                    let eth = ethernet.first().copied().unwrap_or(false);
                    let ts = replay.now;
                    replay.packet(eth, ts, &p.data, queue);
                }
                _ => {}
            }
        }
    } else {
        let mut r = PcapReader::new(BufReader::new(file)).map_err(|e| err(e.to_string()))?;
        let ethernet = r.header().datalink == DataLink::ETHERNET;
        while let Some(p) = r.next_packet() {
            let p = p.map_err(|e| err(e.to_string()))?;
            replay.packet(ethernet, p.timestamp.as_nanos() as u64, &p.data, queue);
        }
    }
    Ok(replay.finish(queue))
}

struct Replay {
    accounting: FlowAccounting,
    builder: FlowBuilder,
    scan_every_ns: u64,
    next_scan: u64,
    now: u64,
    summary: Summary,
}

impl Replay {
    fn new(cfg: &Config, interface: &str) -> Self {
        let flows = &cfg.sentinel.flows;
        let payload = &cfg.sentinel.payload;
        Self {
            accounting: FlowAccounting::new(
                payload.sample_bytes,
                u16::from(payload.samples_per_flow),
            ),
            // Packet timestamps are already Unix time.
            builder: FlowBuilder::new(
                Timeouts::from_config(flows),
                0,
                HashMap::from([(PCAP_IFINDEX, interface.to_owned())]),
            ),
            scan_every_ns: flows.scan_interval_ms.saturating_mul(1_000_000),
            next_scan: 0,
            now: 0,
            summary: Summary::default(),
        }
    }

    fn packet(&mut self, ethernet: bool, ts: u64, frame: &[u8], queue: &Queue) {
        self.summary.packets += 1;
        // Captures are not always in order across interfaces; the flow clock
        // never runs backwards.
        self.now = self.now.max(ts);
        if self.next_scan == 0 {
            self.next_scan = self.now + self.scan_every_ns;
        }
        if self.now >= self.next_scan {
            self.scan(queue);
            self.next_scan = self.now + self.scan_every_ns;
        }
        let info = match (ethernet, packet::parse(frame)) {
            (true, Parsed::L3(info)) => info,
            _ => {
                self.summary.skipped += 1;
                return;
            }
        };
        match self.accounting.account(frame, &info, ts, PCAP_IFINDEX) {
            Some(acc) => {
                if let Some(s) = acc.sample {
                    let flow = self.accounting.get(&acc.key);
                    self.summary.samples += 1;
                    queue.push(SensorMessage::Sample(self.builder.sample(&s, flow)));
                }
            }
            None => self.summary.skipped += 1,
        }
    }

    fn snapshot(&self) -> Vec<(FlowKey, FlowValue)> {
        let mut v: Vec<_> = self.accounting.flows().map(|(k, v)| (*k, *v)).collect();
        // Deterministic output order.
        v.sort_by_key(|(k, v)| (v.dir[0].first_seen_ns, *k));
        v
    }

    fn scan(&mut self, queue: &Queue) {
        let snapshot = self.snapshot();
        let exports = self.builder.scan(&snapshot, self.now);
        self.emit(exports, queue);
    }

    fn emit(&mut self, exports: Vec<crate::records::Export>, queue: &Queue) {
        for e in exports {
            if e.remove {
                self.accounting.remove(&e.key);
            }
            self.summary.flows += 1;
            queue.push(SensorMessage::Flow(e.record));
        }
    }

    fn finish(mut self, queue: &Queue) -> Summary {
        let snapshot = self.snapshot();
        let exports = self.builder.flush(&snapshot);
        self.emit(exports, queue);
        self.summary
    }
}
