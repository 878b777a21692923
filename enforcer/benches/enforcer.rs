//! Enforcer benchmark on real pinned maps (needs root): bans per second into the kernel map,
//! verdict → kernel latency (engine and over the verdict socket) and unblock latency.
//!
//! `sudo -E cargo bench -p argus-enforcer --bench enforcer`
//! Knobs: ARGUS_BENCH_MAP_BANS (50000 per family), ARGUS_BENCH_VERDICTS (20000),
//! ARGUS_BENCH_SOCKET (2000), ARGUS_BENCH_UNBLOCKS (1000).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use argus_config::Config;
use argus_enforcer::auth::AccessGroups;
use argus_enforcer::clock::SystemClock;
use argus_enforcer::engine::{Engine, Settings, VerdictOutcome};
use argus_enforcer::kernel::{Counters, KernelMaps, MapsHealth, PinnedMaps};
use argus_enforcer::lockout::LiveSystem;
use argus_enforcer::service::{self, Endpoints, Listeners};
use argus_enforcer::store::Store;
use argus_proto::control::ControlReply;
use argus_proto::{
    Connection, ControlRequest, ControlResponse, EnforcerMessage, Evidence, KronosMessage,
    PeerRole, Reason, Scores, UnixTimeNs, Verdict, DEFAULT_MAX_FRAME_BYTES,
};
use argus_sentinel_common::bpffs::{require_root, TempBpffs};
use argus_sentinel_common::program::{Dataplane, MapSizes};
use ipnet::IpNet;
use tokio::net::UnixStream;

fn knob(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `i`-th IPv4 host in 10.203.0.0/16 (i < 65536).
fn v4(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 203, 0, 0)) + i))
}

/// The `i`-th IPv6 /64 in fd00:203::/32 (i < 65536).
fn v6_net(i: u32) -> IpNet {
    let addr = Ipv6Addr::new(0xfd00, 0x203, i as u16, 0, 0, 0, 0, 0);
    IpNet::new(IpAddr::V6(addr), 64).unwrap()
}

struct Summary {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

fn summarise(mut samples: Vec<Duration>) -> Summary {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Summary {
        p50: at(0.50),
        p99: at(0.99),
        max: *samples.last().unwrap(),
    }
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn verdict(id: u64, source: IpAddr) -> Verdict {
    let evidence = Evidence {
        scores: Scores {
            anomaly: 3.0,
            ..Scores::default()
        },
        top_features: vec![("dst_ports".into(), 40.0), ("syn_ratio".into(), 0.98)],
        model_version: "bench".into(),
        flows_seen: 25,
        ..Evidence::default()
    };
    Verdict::host_ban(id, source, Reason::PortScan, evidence, UnixTimeNs::now())
}

fn map_inserts(pin_dir: &Path, n: u32) {
    let mut maps = PinnedMaps::new(pin_dir);
    assert_eq!(maps.refresh(), MapsHealth::Ready { recreated: true });
    for (family, prefix) in [
        (
            "IPv4 /32 (BLOCKHOSTS hash)",
            &(|i| IpNet::from(v4(i))) as &dyn Fn(u32) -> IpNet,
        ),
        ("IPv6 /64 (BLOCKLIST trie)", &v6_net),
    ] {
        let start = Instant::now();
        for i in 0..n {
            maps.insert_block(prefix(i), Reason::PortScan, false, Counters::default())
                .expect("insert");
        }
        let insert = start.elapsed();
        let start = Instant::now();
        for i in 0..n {
            maps.remove_block(prefix(i)).expect("remove");
        }
        let remove = start.elapsed();
        println!(
            "map inserts, {family}: {n} in {:.3} s = {:.0} bans/s; removals {:.0}/s",
            insert.as_secs_f64(),
            f64::from(n) / insert.as_secs_f64(),
            f64::from(n) / remove.as_secs_f64()
        );
    }
}

fn enforce_config(dir: &Path, pin_dir: &Path) -> Config {
    let mut cfg = Config::default();
    cfg.enforcer.mode = argus_config::Mode::Enforce;
    cfg.enforcer.blacklist_db_path = dir.join("blacklist.db");
    cfg.paths.pin_dir = pin_dir.to_owned();
    cfg
}

fn engine(cfg: &Config) -> Engine {
    Engine::new(
        Store::open(&cfg.enforcer.blacklist_db_path).expect("database"),
        Box::new(PinnedMaps::new(&cfg.paths.pin_dir)),
        Arc::new(SystemClock),
        Box::new(LiveSystem::default()),
        Settings::from_config(cfg),
    )
    .expect("engine")
}

fn engine_verdicts(pin_dir: &Path, n: u32) {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = engine(&enforce_config(dir.path(), pin_dir));
    let mut samples = Vec::with_capacity(n as usize);
    let start = Instant::now();
    for i in 0..n {
        let v = verdict(u64::from(i), v4(i));
        let t = Instant::now();
        let outcome = engine.handle_verdict(&v).expect("verdict");
        samples.push(t.elapsed());
        assert!(
            matches!(outcome, VerdictOutcome::Banned { .. }),
            "{outcome:?}"
        );
    }
    let total = start.elapsed();
    assert!(
        engine.kernel_problem().is_none(),
        "{:?}",
        engine.kernel_problem()
    );
    let s = summarise(samples);
    println!(
        "engine verdict → SQLite commit + kernel map: {n} in {:.3} s = {:.0} bans/s; \
         latency p50 {}, p99 {}, max {}",
        total.as_secs_f64(),
        f64::from(n) / total.as_secs_f64(),
        us(s.p50),
        us(s.p99),
        us(s.max)
    );
}

async fn kronos(path: &Path) -> Connection<EnforcerMessage, KronosMessage> {
    let s = UnixStream::connect(path).await.expect("verdict socket");
    Connection::connect(s, PeerRole::Kronos, "bench", DEFAULT_MAX_FRAME_BYTES)
        .await
        .expect("handshake")
}

async fn ctl(path: &Path) -> Connection<ControlResponse, ControlRequest> {
    let s = UnixStream::connect(path).await.expect("control socket");
    Connection::connect(s, PeerRole::Ctl, "bench", DEFAULT_MAX_FRAME_BYTES)
        .await
        .expect("handshake")
}

async fn socket_round_trips(pin_dir: &Path, n: u32, unblocks: u32) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = enforce_config(dir.path(), pin_dir);
    let endpoints = Endpoints {
        verdict_socket: dir.path().join("verdict.sock"),
        control_socket: dir.path().join("control.sock"),
        socket_group: None,
        max_frame: DEFAULT_MAX_FRAME_BYTES,
    };
    let listeners = Listeners::bind(&endpoints).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let groups = AccessGroups {
        admin: None,
        read: None,
    };
    let server = tokio::spawn(service::run(engine(&cfg), listeners, groups, async {
        let _ = stopped.await;
    }));

    // Verdict sent → acknowledgement received; the ack follows the kernel write.
    let mut k = kronos(&endpoints.verdict_socket).await;
    let mut samples = Vec::new();
    for i in 0..n {
        let id = u64::from(i);
        let t = Instant::now();
        k.send(&KronosMessage::Verdict(verdict(id, v4(30_000 + i))))
            .await
            .expect("send verdict");
        let ack = k.recv().await.expect("read ack");
        samples.push(t.elapsed());
        assert_eq!(ack, Some(EnforcerMessage::Ack { id }));
    }
    let s = summarise(samples);
    println!(
        "verdict socket → ack (kernel written): p50 {}, p99 {}, max {}",
        us(s.p50),
        us(s.p99),
        us(s.max)
    );

    // argusctl unblock → reply (SQLite committed, kernel entry removed).
    let mut c = ctl(&endpoints.control_socket).await;
    let mut samples = Vec::new();
    for i in 0..unblocks.min(n) {
        let req = ControlRequest::Unblock {
            prefix: IpNet::from(v4(30_000 + i)),
            allow_for_secs: None,
        };
        let t = Instant::now();
        c.send(&req).await.expect("send unblock");
        let reply = c.recv().await.expect("read reply");
        samples.push(t.elapsed());
        assert!(
            matches!(reply, Some(Ok(ControlReply::Done(_)))),
            "{reply:?}"
        );
    }
    let s = summarise(samples);
    println!(
        "unblock over the control socket → reply (kernel entry removed): p50 {}, p99 {}, max {}",
        us(s.p50),
        us(s.p99),
        us(s.max)
    );
    let _ = stop.send(());
    server.await.unwrap();
}

fn main() {
    require_root("the enforcer benchmark (real pinned maps)");
    let bpffs = TempBpffs::new().expect("bpffs");
    let _dataplane = Dataplane::load(bpffs.path(), &MapSizes::default()).expect("XDP object");
    map_inserts(
        bpffs.path(),
        knob("ARGUS_BENCH_MAP_BANS", 50_000).min(65_536),
    );
    engine_verdicts(
        bpffs.path(),
        knob("ARGUS_BENCH_VERDICTS", 20_000).min(30_000),
    );
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(socket_round_trips(
            bpffs.path(),
            knob("ARGUS_BENCH_SOCKET", 2000).min(30_000),
            knob("ARGUS_BENCH_UNBLOCKS", 1000),
        ));
}
