//! New-flow flood: how fast the data plane creates flows (BPF_PROG_TEST_RUN
//! one packet per new flow, the syscall included), how many ring-buffer
//! events are lost with and without a consumer draining EVENTS, and how
//! fast sentinel's exporter turns the full FLOWS table into records (walk,
//! build, delete).
//!
//! Root only. Run: `cargo bench -p argus-sentinel --bench export`
//! Environment: `ARGUS_BENCH_FLOWS` (new flows per flood, default 200,000).
//! Results live in docs/benchmarks.md ("Data plane", "Flow export").

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_config::Flows as FlowsConfig;
use argus_sentinel::records::{FlowBuilder, Timeouts};
use argus_sentinel_common::bpffs::{require_root, TempBpffs};
use argus_sentinel_common::maps::{ConfigMap, DataplaneConfig, Event, Events, Flows, StatsMap};
use argus_sentinel_common::program::{Dataplane, MapSizes, XDP_PASS};
use etherparse::PacketBuilder;

/// The configuration's defaults, so the numbers describe a stock install.
fn defaults() -> (MapSizes, DataplaneConfig, FlowsConfig) {
    let cfg = argus_config::Config::default();
    let sizes = MapSizes {
        blocklist: cfg.enforcer.max_entries,
        allowlist: cfg.enforcer.allowlist_max_entries,
        flows: cfg.sentinel.flows.table_size,
        events_bytes: cfg.sentinel.payload.ringbuf_bytes,
    };
    let dp = DataplaneConfig {
        sample_bytes: cfg.sentinel.payload.sample_bytes,
        samples_per_direction: u16::from(cfg.sentinel.payload.samples_per_flow),
        ..Default::default()
    };
    (sizes, dp, cfg.sentinel.flows)
}

/// A UDP frame with a 64-byte payload; flow `i` gets its own source
/// address (10.203.x.y) and port.
struct FloodFrames {
    template: Vec<u8>,
}

impl FloodFrames {
    fn new() -> Self {
        let mut template = Vec::new();
        PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([10, 203, 0, 0], [10, 203, 255, 254], 64)
            .udp(1024, 53)
            .write(&mut template, &[0x5A; 64])
            .unwrap();
        Self { template }
    }

    fn frame(&mut self, i: u32) -> &[u8] {
        // IPv4 source's last two bytes at 14+14, UDP source port at 14+20.
        self.template[28..30].copy_from_slice(&((i >> 14) as u16).to_be_bytes());
        let port = 1024 + (i & 0x3FFF) as u16;
        self.template[34..36].copy_from_slice(&port.to_be_bytes());
        &self.template
    }
}

struct Flood {
    flows_per_s: f64,
    new_flows: u64,
    samples: u64,
    lost: u64,
    consumed: u64,
}

fn flood(dp: &Dataplane, pin: &std::path::Path, n: u32, first: u32, consume: bool) -> Flood {
    let stats = StatsMap::open(pin).unwrap();
    let before = stats.read().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let consumer = consume.then(|| {
        let stop = stop.clone();
        let mut events = Events::open(pin).unwrap();
        std::thread::spawn(move || {
            let mut consumed = 0u64;
            loop {
                match events.next_event() {
                    Some(Ok(Event::NewFlow(_) | Event::Sample(_))) => consumed += 1,
                    Some(Err(e)) => panic!("bad event: {e}"),
                    None if stop.load(Ordering::Relaxed) => return consumed,
                    None => std::thread::yield_now(),
                }
            }
        })
    });
    let mut frames = FloodFrames::new();
    let t0 = Instant::now();
    for i in first..first + n {
        assert_eq!(dp.test_run(frames.frame(i), 0).unwrap(), XDP_PASS);
    }
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    let consumed = consumer.map_or(0, |c| c.join().unwrap());
    let after = stats.read().unwrap();
    Flood {
        flows_per_s: f64::from(n) / elapsed.as_secs_f64(),
        new_flows: after.flows_new - before.flows_new,
        samples: after.samples - before.samples,
        lost: after.ringbuf_full - before.ringbuf_full,
        consumed,
    }
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    require_root("the flow-export benchmark");
    let n: u32 = std::env::var("ARGUS_BENCH_FLOWS")
        .ok()
        .map(|v| v.parse().expect("ARGUS_BENCH_FLOWS is a number"))
        .unwrap_or(200_000);
    let fs = TempBpffs::new().unwrap();
    let pin = fs.path().join("argus");
    std::fs::create_dir_all(&pin).unwrap();
    let (sizes, dp_cfg, flows_cfg) = defaults();
    let dp = Dataplane::load(&pin, &sizes).unwrap();
    ConfigMap::open(&pin).unwrap().set(&dp_cfg).unwrap();
    println!(
        "defaults: FLOWS {} entries, EVENTS {} bytes, {} payload bytes x {} per direction; {n} new flows per flood",
        sizes.flows, sizes.events_bytes, dp_cfg.sample_bytes, dp_cfg.samples_per_direction
    );

    for (label, consume, first) in [
        ("with a consumer", true, 0),
        ("without a consumer", false, n),
    ] {
        let mut f = flood(&dp, &pin, n, first, consume);
        if !consume {
            // What made it into the ring is still there: count it (this
            // also empties the ring for whatever runs next).
            f.consumed = Events::open(&pin).unwrap().drain().len() as u64;
        }
        // Every event is either in the ring / consumed, or lost.
        let attempted = f.consumed + f.lost;
        println!(
            "flood {label}: {:.0} new flows/s; {} flows created, {} samples emitted; \
             events delivered {} + lost {} = {attempted} ({:.2} % lost)",
            f.flows_per_s,
            f.new_flows,
            f.samples,
            f.consumed,
            f.lost,
            100.0 * f.lost as f64 / attempted.max(1) as f64,
        );
    }

    // Exporter: the whole table is idle; walk it, build records, delete.
    let mut flows = Flows::open(&pin).unwrap();
    let t0 = Instant::now();
    let snapshot = flows.list().unwrap();
    let walk = t0.elapsed();
    let mut builder = FlowBuilder::new(Timeouts::from_config(&flows_cfg), 0, HashMap::new());
    let t1 = Instant::now();
    let exports = builder.scan(&snapshot, u64::MAX / 2);
    let build = t1.elapsed();
    let t2 = Instant::now();
    for e in &exports {
        flows.remove(&e.key).unwrap();
    }
    let delete = t2.elapsed();
    let total = walk + build + delete;
    let rate = |d: Duration| snapshot.len() as f64 / d.as_secs_f64();
    println!(
        "export of {} flows: walk {:.0}/s, build {:.0}/s, delete {:.0}/s, overall {:.0} records/s ({:.1} ms)",
        snapshot.len(),
        rate(walk),
        rate(build),
        rate(delete),
        rate(total),
        total.as_secs_f64() * 1e3
    );
    assert_eq!(exports.len(), snapshot.len());
}
