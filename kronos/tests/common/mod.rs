//! Synthetic baselines shared by the integration tests.
//!
//! Each test binary compiles its own copy of this module and uses only some helpers.
#![allow(dead_code)]

use argus_kronos::FeatureMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A seeded generator, so every test sees the same data on every run.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// One standard normal draw (Box–Muller).
pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln stays finite
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n` rows of `d` independent standard normal features.
pub fn gaussian_rows(rng: &mut ChaCha8Rng, n: usize, d: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| (0..d).map(|_| normal(rng)).collect())
        .collect()
}

/// A point at Euclidean distance `radius` from the origin in a random direction.
pub fn point_at_radius(rng: &mut ChaCha8Rng, d: usize, radius: f64) -> Vec<f64> {
    let dir: Vec<f64> = (0..d).map(|_| normal(rng)).collect();
    let norm = dir.iter().map(|v| v * v).sum::<f64>().sqrt();
    dir.iter().map(|v| v / norm * radius).collect()
}

/// Feature names `f0`, `f1`, ….
pub fn names(d: usize) -> Vec<String> {
    (0..d).map(|i| format!("f{i}")).collect()
}

/// `rows` as a matrix.
pub fn matrix(rows: &[Vec<f64>]) -> FeatureMatrix {
    FeatureMatrix::from_rows(rows).expect("well-formed rows")
}
