//! Behaviour of the isolation forest and the robust deviation score on synthetic data.

mod common;

use argus_kronos::forest::{ForestParams, IsolationForest};
use argus_kronos::robust::{RobustParams, RobustStats};
use common::{gaussian_rows, matrix, point_at_radius, rng};

const D: usize = 4;

fn fitted(seed: u64) -> IsolationForest {
    let rows = gaussian_rows(&mut rng(1), 4000, D);
    let params = ForestParams {
        seed,
        ..ForestParams::default()
    };
    IsolationForest::fit(&matrix(&rows), &params).unwrap()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn outliers_score_higher_than_the_dense_core() {
    let forest = fitted(0);
    let mut r = rng(2);
    // Points well inside the cluster (radius ≤ 1) and far outside it (radius 8, where a
    // standard 4-d normal essentially never reaches).
    let core: Vec<f64> = (0..300)
        .map(|i| {
            let x = point_at_radius(&mut r, D, f64::from(i % 10) / 10.0);
            forest.score(&x).unwrap().0
        })
        .collect();
    let far: Vec<f64> = (0..300)
        .map(|_| forest.score(&point_at_radius(&mut r, D, 8.0)).unwrap().0)
        .collect();
    let core_max = core.iter().copied().fold(f64::MIN, f64::max);
    let far_min = far.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        far_min > core_max + 0.1,
        "every outlier should beat every core point by a margin: {far_min} vs {core_max}"
    );
    assert!(
        mean(&far) - mean(&core) > 0.25,
        "{} vs {}",
        mean(&far),
        mean(&core)
    );
    assert!(core.iter().chain(&far).all(|&s| s > 0.0 && s <= 1.0));
}

#[test]
fn same_seed_gives_identical_forests() {
    let a = fitted(42);
    let b = fitted(42);
    assert_eq!(a, b);
    let x = [0.3, -1.0, 2.0, 0.0];
    assert_eq!(a.score(&x).unwrap(), b.score(&x).unwrap());
}

#[test]
fn scores_barely_depend_on_the_seed() {
    let mut r = rng(3);
    let points: Vec<Vec<f64>> = (0..400)
        .map(|i| point_at_radius(&mut r, D, f64::from(i % 8)))
        .collect();
    let means: Vec<f64> = (0..5)
        .map(|seed| {
            let forest = fitted(seed);
            mean(
                &points
                    .iter()
                    .map(|x| forest.score(x).unwrap().0)
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let spread = means.iter().copied().fold(f64::MIN, f64::max)
        - means.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        spread < 0.01,
        "mean score across seeds varies by {spread}: {means:?}"
    );
    // Different seeds do give different forests, or the test above would prove nothing.
    assert_ne!(fitted(0), fitted(1));
}

#[test]
fn forest_saturates_beyond_the_training_range_but_robust_score_does_not() {
    // Uniform baseline in [0, 1]^D.
    let mut r = rng(4);
    let rows: Vec<Vec<f64>> = (0..2000)
        .map(|_| (0..D).map(|_| rand::Rng::random::<f64>(&mut r)).collect())
        .collect();
    let data = matrix(&rows);
    let forest = IsolationForest::fit(&data, &ForestParams::default()).unwrap();
    let robust = RobustStats::fit(&data, &RobustParams::default()).unwrap();

    let twice = [2.0; D];
    let million = [1e6; D];
    let (f2, f6) = (
        forest.score(&twice).unwrap(),
        forest.score(&million).unwrap(),
    );
    // The known limit: every split threshold lies inside the training range, so both points
    // take the right branch at every node and end in the same leaves.
    assert_eq!(
        f2, f6,
        "the forest cannot tell 2x from 10^6x beyond the data"
    );
    assert!(f2.0 > 0.6, "it still sees both as anomalous: {}", f2.0);

    let (d2, d6) = (
        robust.score(&twice).unwrap().0,
        robust.score(&million).unwrap().0,
    );
    assert!(
        d2 > 3.0,
        "2x beyond is already several robust sigma out: {d2}"
    );
    assert!(
        d6 > 1e5 * d2,
        "10^6x beyond must score far higher: {d6} vs {d2}"
    );
}
