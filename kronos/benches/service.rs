//! Service-side performance of kronos, one core unless stated: flow records through the engine
//! (triage, features, model, rules, policy), per-record latency, CNN payloads per second batched
//! through ONNX Runtime, and resident memory with the model, the CNN and a full source table.
//!
//! `cargo bench -p argus-kronos --bench service` (needs the ONNX Runtime library: ORT_DYLIB_PATH
//! or the onnxruntime wheel in models/.venv). Results go to docs/benchmarks.md, "Brain: service"
//! and "Payload CNN". Knobs: `ARGUS_BENCH_CNN_THREADS` (ONNX Runtime intra-op threads, default
//! kronos's [`INTRA_OP_THREADS`]), `ARGUS_BENCH_CNN_MODEL` (another ONNX model with its metadata
//! beside it, default the shipped `models/payload_cnn.onnx`), `ARGUS_BENCH_RECORDS` (a records
//! file as written by `argus-sentinel --pcap CAPTURE --out FILE`: its flow records, in file order,
//! replace the synthetic workload and the synthetic source table of the memory figure; the model
//! is still fitted on synthetic traffic; a recorded lab stream is in `benches/data/`, see
//! docs/benchmarks.md, "Results from a recorded lab stream").

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argus_config::Config;
use argus_kronos::cnn::{init_runtime, PayloadCnn, INTRA_OP_THREADS};
use argus_kronos::engine::{Engine, EngineSettings, Outputs};
use argus_kronos::model::{self, ActiveModel};
use argus_kronos::records;
use argus_kronos::synth::{self, NS};
use argus_kronos::triage::Triage;
use argus_kronos::FeatureMatrix;
use argus_proto::{FlowRecord, SensorMessage};

const T0: u64 = 1_700_000_000 * NS;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn onnx_runtime() -> PathBuf {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH") {
        return p.into();
    }
    let lib = repo().join("models/.venv/lib");
    std::fs::read_dir(&lib)
        .expect("models/.venv/lib (or set ORT_DYLIB_PATH)")
        .flatten()
        .find_map(|py| {
            std::fs::read_dir(py.path().join("site-packages/onnxruntime/capi"))
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().contains("libonnxruntime.so."))
        })
        .expect("onnxruntime wheel in models/.venv")
}

fn engine(cfg: &Config, model: Option<ActiveModel>) -> Engine {
    let mut e = Engine::new(
        &EngineSettings::from_config(cfg),
        Triage::from_config(cfg),
        1,
    )
    .unwrap();
    e.set_model(model.map(std::sync::Arc::new));
    e
}

/// A model fitted (through the engine's learning path) on an hour of synthetic traffic.
fn trained(cfg: &Config) -> ActiveModel {
    let mut e = engine(cfg, None);
    e.set_learning(true);
    let mut out = Outputs::default();
    let mut rows = Vec::new();
    for r in synth::normal_traffic(1, 400, 40_000, T0, 3600) {
        e.on_flow(&r, &mut out);
        rows.extend(out.baseline.drain(..).flatten());
        out.clear();
    }
    let names = e.feature_names().to_vec();
    let m = FeatureMatrix::from_row_major(rows, names.len()).unwrap();
    ActiveModel::new(
        model::fit(&m, &names, &cfg.kronos).unwrap(),
        "bench".into(),
        false,
    )
}

/// Normal traffic with a port scan, a SYN flood and a brute force mixed in, time-ordered.
fn workload(n: usize) -> Vec<FlowRecord> {
    let t1 = T0 + 86_400 * NS;
    let mut all = synth::normal_traffic(2, 2000, n, t1, 3600);
    all.extend(synth::port_scan(
        "203.0.113.66",
        "192.0.2.10",
        1..=5000,
        t1 + 60 * NS,
        500,
        50,
    ));
    all.extend(synth::syn_flood(
        "203.0.113.77",
        "192.0.2.10",
        443,
        t1 + 600 * NS,
        20_000,
        1000,
    ));
    all.extend(synth::brute_force(
        "203.0.113.88",
        "192.0.2.10",
        22,
        t1 + 1200 * NS,
        5000,
        50,
    ));
    synth::time_ordered(all)
}

/// The flow records of the records file at `path` in file order (samples and status messages
/// skipped), read as `argus-kronos score --input` reads them.
fn recorded(path: &Path) -> impl Iterator<Item = FlowRecord> {
    records::open(path)
        .unwrap_or_else(|e| panic!("ARGUS_BENCH_RECORDS: {e}"))
        .map(|m| m.unwrap_or_else(|e| panic!("ARGUS_BENCH_RECORDS: {e}")))
        .filter_map(|m| match m {
            SensorMessage::Flow(f) => Some(f),
            _ => None,
        })
}

/// CPU time of `clock`: leaves out time descheduled on a loaded machine.
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of this thread.
fn thread_cpu() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process: includes ONNX Runtime's own intra-op threads.
fn process_cpu() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    // Zero for no samples (a benign recording may produce no verdict).
    sorted
        .get((sorted.len().saturating_sub(1) as f64 * q).round() as usize)
        .copied()
        .unwrap_or_default()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let cfg = Config::default();
    let records_file = std::env::var_os("ARGUS_BENCH_RECORDS").map(PathBuf::from);
    let model = trained(&cfg);
    // Memory first, before the workload is generated: model, CNN and a full source table (or the
    // recorded stream's sources).
    let rss_before_cnn = rss_kib();
    let env = init_runtime(&onnx_runtime()).expect("ONNX Runtime");
    let cnn_model = std::env::var_os("ARGUS_BENCH_CNN_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("models/payload_cnn.onnx"));
    let cnn_threads = std::env::var("ARGUS_BENCH_CNN_THREADS").map_or(INTRA_OP_THREADS, |v| {
        v.parse().expect("ARGUS_BENCH_CNN_THREADS: a number")
    });
    let mut cnn = PayloadCnn::load_with_threads(&cnn_model, &env, None, cnn_threads)
        .unwrap_or_else(|e| panic!("CNN: {e}"));
    let mut out = Outputs::default();
    let mut e = engine(&cfg, Some(model.clone()));
    let fill: Box<dyn Iterator<Item = FlowRecord>> = match &records_file {
        Some(path) => Box::new(recorded(path)),
        None => Box::new((0..40_000u32).map(|i| {
            let src = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            synth::tcp_flow(&src, "192.0.2.10", 443, T0 + u64::from(i) * 1_000_000, NS)
        })),
    };
    for r in fill {
        e.on_flow(&r, &mut out);
        out.clear();
    }
    println!(
        "rss: {} MiB with model, CNN and {} tracked sources ({} evicted); {} MiB before loading the CNN and filling the table",
        rss_kib() / 1024,
        e.tracked_sources(),
        e.evicted_sources(),
        rss_before_cnn / 1024
    );
    drop(e);

    let records: Vec<FlowRecord> = match &records_file {
        Some(path) => {
            let r: Vec<FlowRecord> = recorded(path).collect();
            let first = r.iter().map(|f| f.first_seen).min();
            let last = r.iter().map(|f| f.last_seen).max();
            println!(
                "workload: {} flow records from {}, {:.0} s of traffic",
                r.len(),
                path.display(),
                last.zip(first)
                    .map_or(0.0, |(l, f)| l.saturating_since(f).as_secs_f64())
            );
            r
        }
        None => workload(300_000),
    };

    // Throughput: every record through the engine, single thread.
    let mut e = engine(&cfg, Some(model.clone()));
    let start = Instant::now();
    let cpu = thread_cpu();
    let mut verdicts = 0usize;
    for r in &records {
        e.on_flow(r, &mut out);
        verdicts += out.verdicts.len();
        out.clear();
    }
    let elapsed = start.elapsed();
    let cpu = thread_cpu() - cpu;
    let c = e.counters();
    println!(
        "engine: {} records; thread CPU {:.3} s = {:.0} records/s/core; wall {:.3} s = {:.0} records/s ({} fully scored, {} fast path, {} verdicts)",
        records.len(),
        cpu.as_secs_f64(),
        records.len() as f64 / cpu.as_secs_f64(),
        elapsed.as_secs_f64(),
        records.len() as f64 / elapsed.as_secs_f64(),
        c.scored,
        c.fast_path,
        verdicts
    );

    // Latency: per record, record in → verdicts out of the engine (p50/p99 over all records and
    // over the records that produced a verdict).
    let mut e = engine(&cfg, Some(model.clone()));
    let mut all = Vec::with_capacity(records.len());
    let mut with_verdict = Vec::new();
    for r in &records {
        let t = Instant::now();
        e.on_flow(r, &mut out);
        let d = t.elapsed();
        all.push(d);
        if !out.verdicts.is_empty() {
            with_verdict.push(d);
        }
        out.clear();
    }
    all.sort();
    with_verdict.sort();
    println!(
        "latency per record: p50 {:?} p99 {:?}; records that produced a verdict ({}): p50 {:?} p99 {:?}",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        with_verdict.len(),
        percentile(&with_verdict, 0.5),
        percentile(&with_verdict, 0.99)
    );

    // CNN: batches of payloads from the shipped fixtures (the cost of a fixed-size CNN does not
    // depend on the content). Best of three rounds per batch size, as other builds share the
    // machine; per CPU-second counts every thread of the process, ONNX Runtime's included.
    let fixtures: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(repo().join("models/fixtures/payload_cnn_fixtures.json")).unwrap(),
    )
    .unwrap();
    use base64::Engine as _;
    let payloads: Vec<Vec<u8>> = fixtures
        .iter()
        .map(|f| {
            base64::engine::general_purpose::STANDARD
                .decode(f["payload_b64"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    println!(
        "cnn {} ({}): {cnn_threads} intra-op thread(s), {} cores",
        cnn_model.display(),
        cnn.version(),
        std::thread::available_parallelism().map_or(0, |p| p.get()),
    );
    for size in [1, 16, 64, 256] {
        let batch: Vec<&[u8]> = payloads
            .iter()
            .cycle()
            .take(size)
            .map(Vec::as_slice)
            .collect();
        cnn.classify(&batch).unwrap(); // warm-up
        let (mut wall_best, mut cpu_best) = (0f64, 0f64);
        for _ in 0..3 {
            let start = Instant::now();
            let cpu = process_cpu();
            let mut n = 0usize;
            while start.elapsed() < Duration::from_secs(1) {
                n += cnn.classify(&batch).unwrap().len();
            }
            wall_best = wall_best.max(n as f64 / start.elapsed().as_secs_f64());
            cpu_best = cpu_best.max(n as f64 / (process_cpu() - cpu).as_secs_f64());
        }
        println!(
            "cnn: batch {size:>3}: {wall_best:.0} payloads/s wall, {cpu_best:.0} payloads per CPU-second (best of 3 x 1 s)"
        );
    }
}
