//! Scoring throughput of the anomaly core: feature vectors scored per second by a
//! [`Detector`] with 100 trees on 20 features, on one core.
//!
//! `cargo bench -p argus-kronos --bench score`
//!
//! Each case is measured twice: in wall-clock time (what a dedicated core achieves) and in the
//! benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), which leaves out the time the thread
//! spends descheduled, so it stays meaningful on a shared, loaded build machine.

use std::hint::black_box;
use std::time::Duration;

use argus_kronos::{Detector, FeatureMatrix, FitParams};
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const N_FEATURES: usize = 20;
const BASELINE_ROWS: usize = 10_000;
const BATCH: usize = 4096;

/// Skewed, correlated features, closer to flow statistics than plain noise: a log-normal
/// "size" drives every third feature, the rest are independent.
fn vectors(rng: &mut ChaCha8Rng, n: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * N_FEATURES);
    for _ in 0..n {
        let size: f64 = (rng.random::<f64>() * 4.0).exp();
        for j in 0..N_FEATURES {
            let noise: f64 = rng.random();
            out.push(if j % 3 == 0 {
                size * (1.0 + noise)
            } else {
                noise * (j as f64)
            });
        }
    }
    out
}

/// CPU time consumed by the calling thread.
struct ThreadCpuTime;

/// Lends its duration formatter, which criterion does not export.
static WALL_TIME: WallTime = WallTime;

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, start: Duration) -> Duration {
        thread_cpu_now() - start
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL_TIME.formatter()
    }
}

fn run<M: Measurement>(c: &mut Criterion<M>, clock: &str) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let baseline = FeatureMatrix::from_row_major(vectors(&mut rng, BASELINE_ROWS), N_FEATURES)
        .expect("finite rows");
    let names = (0..N_FEATURES).map(|i| format!("f{i}")).collect();
    let detector = Detector::fit(&baseline, names, &FitParams::default()).expect("fit");
    let probes = vectors(&mut rng, BATCH);
    let forest = detector.forest();
    eprintln!(
        "model: {} trees, psi {}, {} nodes ({} KiB of nodes and path lengths)",
        forest.n_trees(),
        forest.subsample_size(),
        forest.n_nodes(),
        forest.n_nodes() * 24 / 1024
    );

    let mut group = c.benchmark_group(format!("score_{clock}"));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("detector_100_trees_20_features", |b| {
        b.iter(|| {
            for x in probes.chunks_exact(N_FEATURES) {
                black_box(detector.score(black_box(x)).expect("score"));
            }
        })
    });
    group.bench_function("forest_only_100_trees_20_features", |b| {
        b.iter(|| {
            for x in probes.chunks_exact(N_FEATURES) {
                black_box(detector.forest().score(black_box(x)).expect("score"));
            }
        })
    });
    group.bench_function("robust_only_20_features", |b| {
        b.iter(|| {
            for x in probes.chunks_exact(N_FEATURES) {
                black_box(detector.robust().score(black_box(x)).expect("score"));
            }
        })
    });
    group.finish();
}

fn wall(c: &mut Criterion) {
    run(c, "wall");
}

fn thread_cpu(c: &mut Criterion<ThreadCpuTime>) {
    run(c, "thread_cpu");
}

criterion_group!(wall_clock, wall);
criterion_group! {
    name = cpu_clock;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = thread_cpu
}
criterion_main!(wall_clock, cpu_clock);
