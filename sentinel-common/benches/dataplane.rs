//! Data-plane cost per packet, measured by the kernel with
//! `BPF_PROG_TEST_RUN` (repeat N, average ns per run), for Argus and, as a
//! baseline, xdp-filter's objects from the `xdp-tools` package.
//!
//! Root only. Run: `cargo bench -p argus-sentinel-common --bench dataplane`
//! Environment: `ARGUS_BENCH_REPEAT` (runs per round, default 2,000,000),
//! `ARGUS_BENCH_ROUNDS` (rounds per scenario, median reported, default 5),
//! `ARGUS_BENCH_BIG` (entries of the big blocklist, default 1,000,000),
//! `XDP_FILTER_DIR` (default /usr/lib/x86_64-linux-gnu/bpf),
//! `ARGUS_BENCH_ONLY` (comma-separated substrings: only the scenarios whose
//! name contains one of them are measured, e.g. "passed TCP,blocked IPv4").
//! Results and their discussion live in docs/benchmarks.md ("Data plane").

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use argus_sentinel_common::bpffs::{require_root, TempBpffs};
use argus_sentinel_common::entry::{BlockEntry, ReasonCode};
use argus_sentinel_common::maps::{
    Allowlist, Blocklist, ConfigMap, DataplaneConfig, Events, Flows, StatsMap,
};
use argus_sentinel_common::program::{Dataplane, MapSizes, XDP_DROP, XDP_PASS};
use aya::maps::{MapData, PerCpuHashMap, PerCpuValues};
use aya::programs::{TestRun, TestRunOptions, Xdp};
use aya::util::nr_cpus;
use aya::EbpfLoader;
use etherparse::PacketBuilder;
use ipnet::IpNet;

const BANNED4: [u8; 4] = [10, 203, 66, 6];
const BANNED6: &str = "fd00:203:66::6";
const ALLOWED4: [u8; 4] = [10, 203, 77, 7];
const CLIENT4: [u8; 4] = [10, 203, 0, 2];
const SERVER4: [u8; 4] = [10, 203, 0, 1];
const SERVER6: &str = "fd00:203::1";
/// Source of the sampling scenario (its flow is reset between batches).
const SAMPLER4: [u8; 4] = [10, 203, 0, 3];
/// Packets per sampling batch: the ring buffer holds them all.
const SAMPLE_BATCH: u32 = 4096;

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

fn udp4(src: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, SERVER4, 64)
        .udp(5353, 53)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn udp6(src: [u8; 16]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(src, v6(SERVER6), 64)
        .udp(5353, 53)
        .write(&mut out, &[])
        .unwrap();
    out
}

/// A mid-connection TCP ACK: the common passed packet.
fn tcp4() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(CLIENT4, SERVER4, 64)
        .tcp(40000, 443, 1000, 65535)
        .ack(1)
        .write(&mut out, &[])
        .unwrap();
    out
}

/// One measured scenario: a closure returning the kernel's average
/// ns/packet for one round.
struct Scenario<'a> {
    name: String,
    run: Box<dyn FnMut() -> Duration + 'a>,
    samples: Vec<f64>,
}

impl<'a> Scenario<'a> {
    fn new(name: impl Into<String>, run: impl FnMut() -> Duration + 'a) -> Self {
        Self {
            name: name.into(),
            run: Box::new(run),
            samples: Vec::new(),
        }
    }
}

/// Runs the scenarios round-robin (so load from other processes hits all of
/// them alike) and records min and median per scenario.
fn measure(rows: &mut Vec<Row>, mut scenarios: Vec<Scenario<'_>>, rounds: u32) {
    for _ in 0..rounds {
        for s in &mut scenarios {
            let d = (s.run)();
            s.samples.push(d.as_nanos() as f64);
        }
    }
    for s in scenarios {
        let mut v = s.samples;
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let row = Row {
            name: s.name,
            min: v[0],
            median: v[v.len() / 2],
        };
        println!(
            "{:<60} min {:>7.1}  median {:>7.1} ns/packet",
            row.name, row.min, row.median
        );
        rows.push(row);
    }
}

struct Row {
    name: String,
    min: f64,
    median: f64,
}

struct Argus {
    dp: Dataplane,
    fs: TempBpffs,
}

impl Argus {
    fn new(big: u32, prefix_every: Option<u32>, spread: bool) -> Self {
        let fs = TempBpffs::new().expect("mount bpffs");
        let sizes = MapSizes {
            events_bytes: 16 << 20,
            ..MapSizes::default()
        };
        let dp = Dataplane::load(fs.path(), &sizes).expect("load argus");
        let me = Self { dp, fs };
        let mut b = Blocklist::open(me.fs.path()).unwrap();
        // ALLOWED4 is banned too: the allowlist is only looked up after a
        // ban hit, so the allowlisted scenario measures an override.
        for a in [
            IpAddr::from(BANNED4),
            IpAddr::from(v6(BANNED6)),
            IpAddr::from(ALLOWED4),
        ] {
            b.insert(&BlockEntry::new(IpNet::from(a), ReasonCode::Manual))
                .unwrap();
        }
        fill_blocklist(&mut b, big, prefix_every, spread);
        Allowlist::open(me.fs.path())
            .unwrap()
            .insert(IpNet::from(IpAddr::from(ALLOWED4)))
            .unwrap();
        ConfigMap::open(me.fs.path())
            .unwrap()
            .set(&DataplaneConfig {
                sample_bytes: 256,
                // Only the sampling scenario carries payload; the others
                // send payload-free packets and never take a sample.
                samples_per_direction: u16::MAX,
                ..Default::default()
            })
            .unwrap();
        me
    }

    fn run(&self, frame: &[u8], want: u32, repeat: u32) -> Duration {
        let (action, d) = self.dp.bench(frame, 0, repeat).expect("test run");
        assert_eq!(action, want, "unexpected verdict");
        d
    }
}

/// `n` extra entries, 70% IPv4 and 30% IPv6, random (deterministic) in
/// 10.0.0.0/8 (minus 10.203.0.0/16) and fd00:203::/32 (keys only, never
/// traffic). Every
/// `prefix_every`-th entry is a prefix (IPv4 /24, IPv6 /64) instead of a
/// host, so it lands in the BLOCKLIST trie rather than BLOCKHOSTS. With
/// `spread`, prefixes take eight lengths per family (IPv4 /17../24, IPv6
/// /57../64): a miss then costs eight filter probes (`maps::probe_limit`).
fn fill_blocklist(b: &mut Blocklist, n: u32, prefix_every: Option<u32>, spread: bool) {
    // xorshift64*: deterministic, dependency-free.
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for i in 0..n {
        let prefix = prefix_every.is_some_and(|p| i % p == 0);
        let shorter = if spread { ((i / 10) % 8) as u8 } else { 0 };
        let net = if i % 10 < 7 {
            // Keep clear of 10.203.0.0/16, where the measured packets live.
            let mut r = next() as u32 & 0x00FF_FFFF;
            while r >> 16 == 203 {
                r = next() as u32 & 0x00FF_FFFF;
            }
            let a = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | r));
            IpNet::new(a, if prefix { 24 - shorter } else { 32 }).unwrap()
        } else {
            let r = (u128::from(next()) << 64) | u128::from(next());
            let base = u128::from(0xfd00_0203u32) << 96;
            let a = IpAddr::V6(Ipv6Addr::from(base | (r & ((1u128 << 96) - 1))));
            IpNet::new(a, if prefix { 64 - shorter } else { 128 }).unwrap()
        };
        b.insert(&BlockEntry::new(net, ReasonCode::Manual)).unwrap();
    }
}

/// The Argus scenarios of one loaded instance.
fn argus_scenarios<'a>(a: &'a Argus, label: &str, repeat: u32) -> Vec<Scenario<'a>> {
    let blocked4 = udp4(BANNED4, b"");
    let blocked6 = udp6(v6(BANNED6));
    let allowed = udp4(ALLOWED4, b"");
    let tcp = tcp4();
    let mut v = vec![
        Scenario::new(format!("argus {label}: blocked IPv4"), move || {
            a.run(&blocked4, XDP_DROP, repeat)
        }),
        Scenario::new(format!("argus {label}: blocked IPv6"), move || {
            a.run(&blocked6, XDP_DROP, repeat)
        }),
        Scenario::new(
            format!("argus {label}: allowlisted over a ban (+ flow accounting)"),
            move || a.run(&allowed, XDP_PASS, repeat),
        ),
        Scenario::new(
            format!("argus {label}: passed TCP, flow accounting"),
            move || a.run(&tcp, XDP_PASS, repeat),
        ),
    ];

    // Every packet takes a sample: this flow's K is effectively unbounded
    // because the flow is deleted (and the ring buffer drained) before each
    // batch, so a batch measures the sampling path only. Sampling uses its
    // own source address so the other scenarios' flows are untouched.
    let mut events = Events::open(a.fs.path()).unwrap();
    let mut flows = Flows::open(a.fs.path()).unwrap();
    let frame = udp4(SAMPLER4, &[0x5A; 600]);
    let stats = StatsMap::open(a.fs.path()).unwrap();
    v.push(Scenario::new(
        format!("argus {label}: passed UDP, 256-byte payload sample"),
        move || {
            for (k, _) in flows.list().unwrap() {
                if k.lo_addr[12..] == SAMPLER4 || k.hi_addr[12..] == SAMPLER4 {
                    flows.remove(&k).unwrap();
                }
            }
            let before = stats.read().unwrap();
            let d = a.run(&frame, XDP_PASS, SAMPLE_BATCH);
            let after = stats.read().unwrap();
            assert_eq!(after.samples - before.samples, u64::from(SAMPLE_BATCH));
            events.drain();
            d
        },
    ));
    v
}

/// xdp-filter's object `file` (function `prog`) with IPv4/IPv6 source
/// filters set for the banned addresses.
struct XdpFilter {
    ebpf: aya::Ebpf,
    _fs: TempBpffs,
    prog: String,
}

impl XdpFilter {
    fn new(dir: &Path, prog: &str) -> Result<Self, String> {
        let file: PathBuf = dir.join(format!("{prog}.o"));
        let fs = TempBpffs::new().map_err(|e| e.to_string())?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(fs.path())
            .allow_unsupported_maps()
            .load_file(&file)
            .map_err(|e| format!("{}: {e}", file.display()))?;
        let xdp: &mut Xdp = ebpf
            .program_mut(prog)
            .ok_or_else(|| format!("no program {prog} in {}", file.display()))?
            .try_into()
            .map_err(|e| format!("{e}"))?;
        xdp.load().map_err(|e| format!("load {prog}: {e}"))?;
        {
            // MAP_FLAG_SRC on every CPU: "drop this source".
            let ncpu = nr_cpus().map_err(|(_, e)| e.to_string())?;
            let flags = || PerCpuValues::try_from(vec![1u64; ncpu]).unwrap();
            let mut m4: PerCpuHashMap<&mut MapData, u32, u64> = ebpf
                .map_mut("filter_ipv4")
                .ok_or("no filter_ipv4")?
                .try_into()
                .map_err(|e| format!("{e}"))?;
            m4.insert(u32::from_ne_bytes(BANNED4), flags(), 0)
                .map_err(|e| format!("{e}"))?;
            let mut m6: PerCpuHashMap<&mut MapData, [u8; 16], u64> = ebpf
                .map_mut("filter_ipv6")
                .ok_or("no filter_ipv6")?
                .try_into()
                .map_err(|e| format!("{e}"))?;
            m6.insert(v6(BANNED6), flags(), 0)
                .map_err(|e| format!("{e}"))?;
        }
        Ok(Self {
            ebpf,
            _fs: fs,
            prog: prog.to_owned(),
        })
    }

    fn run(&self, frame: &[u8], want: u32, repeat: u32) -> Duration {
        let xdp: &Xdp = self.ebpf.program(&self.prog).unwrap().try_into().unwrap();
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(frame);
        opts.repeat = repeat;
        let r = xdp.test_run(opts).expect("test run");
        assert_eq!(r.return_value, want, "{}: unexpected verdict", self.prog);
        r.duration
    }
}

fn xdp_filter_scenarios<'a>(filters: &'a [XdpFilter], repeat: u32) -> Vec<Scenario<'a>> {
    let mut v = Vec::new();
    for f in filters {
        let (b4, b6, tcp) = (udp4(BANNED4, b""), udp6(v6(BANNED6)), tcp4());
        v.push(Scenario::new(
            format!("{}: blocked IPv4 (src in filter_ipv4)", f.prog),
            move || f.run(&b4, XDP_DROP, repeat),
        ));
        v.push(Scenario::new(
            format!("{}: blocked IPv6 (src in filter_ipv6)", f.prog),
            move || f.run(&b6, XDP_DROP, repeat),
        ));
        v.push(Scenario::new(
            format!("{}: passed TCP", f.prog),
            move || f.run(&tcp, XDP_PASS, repeat),
        ));
    }
    v
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would run us in
    // test mode: do nothing there (this is a measurement, not a test).
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    require_root("the data-plane benchmark");
    let repeat = env_u32("ARGUS_BENCH_REPEAT", 2_000_000);
    let rounds = env_u32("ARGUS_BENCH_ROUNDS", 5);
    let big = env_u32("ARGUS_BENCH_BIG", 1_000_000);
    let dir = PathBuf::from(
        std::env::var("XDP_FILTER_DIR").unwrap_or_else(|_| "/usr/lib/x86_64-linux-gnu/bpf".into()),
    );
    println!("BPF_PROG_TEST_RUN, repeat {repeat}, {rounds} interleaved rounds");
    let filters: Vec<XdpFilter> = ["xdpfilt_alw_all", "xdpfilt_alw_ip"]
        .iter()
        .map(|p| {
            XdpFilter::new(&dir, p).unwrap_or_else(|e| {
                panic!("xdp-filter baseline unavailable ({e}); apt-get install xdp-tools")
            })
        })
        .collect();
    let small = Argus::new(0, None, false);
    eprintln!("filling three blocklists with {big} entries each...");
    let large = Argus::new(big, None, false);
    let mixed = Argus::new(big, Some(10), false);
    let spread = Argus::new(big, Some(10), true);
    let mut scenarios = xdp_filter_scenarios(&filters, repeat);
    scenarios.extend(argus_scenarios(&small, "1 entry", repeat));
    scenarios.extend(argus_scenarios(&large, &format!("{big} hosts"), repeat));
    scenarios.extend(argus_scenarios(
        &mixed,
        &format!("{big} (10% prefixes)"),
        repeat,
    ));
    scenarios.extend(argus_scenarios(
        &spread,
        &format!("{big} (10% prefixes, 8 lengths)"),
        repeat,
    ));
    if let Ok(only) = std::env::var("ARGUS_BENCH_ONLY") {
        let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
        scenarios.retain(|s| wanted.iter().any(|w| s.name.contains(w)));
    }
    let mut rows = Vec::new();
    measure(&mut rows, scenarios, rounds);

    println!("\n| scenario | min ns/packet | median ns/packet |\n|---|---:|---:|");
    for r in &rows {
        println!("| {} | {:.0} | {:.0} |", r.name, r.min, r.median);
    }
}
