//! Properties that must hold for any input, checked with proptest.

mod common;

use std::sync::OnceLock;

use argus_kronos::calibrate::quantile;
use argus_kronos::forest::{ForestParams, IsolationForest};
use argus_kronos::robust::{RobustParams, RobustStats};
use common::{gaussian_rows, matrix, rng};
use proptest::prelude::*;

const D: usize = 3;

fn models() -> &'static (IsolationForest, RobustStats) {
    static MODELS: OnceLock<(IsolationForest, RobustStats)> = OnceLock::new();
    MODELS.get_or_init(|| {
        let data = matrix(&gaussian_rows(&mut rng(20), 1000, D));
        (
            IsolationForest::fit(&data, &ForestParams::default()).unwrap(),
            RobustStats::fit(&data, &RobustParams::default()).unwrap(),
        )
    })
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![-10.0..10.0, -1e12..1e12, Just(f64::MAX), Just(-f64::MAX)]
}

proptest! {
    #[test]
    fn forest_score_is_in_the_unit_interval(x in prop::array::uniform3(finite())) {
        let s = models().0.score(&x).unwrap().0;
        prop_assert!(s > 0.0 && s <= 1.0, "{}", s);
    }

    #[test]
    fn deviation_grows_with_distance_from_the_median(
        x in prop::array::uniform3(-10.0..10.0_f64),
        feature in 0..D,
        push in 0.0..1e6_f64,
    ) {
        let robust = &models().1;
        let median = robust.feature_stats()[feature].median;
        let mut further = x;
        further[feature] += push * (x[feature] - median).signum();
        let (near, far) = (robust.score(&x).unwrap().0, robust.score(&further).unwrap().0);
        prop_assert!(near >= 0.0);
        prop_assert!(far >= near, "{} < {}", far, near);
    }

    #[test]
    fn quantile_is_monotone_and_bounded(
        values in prop::collection::vec(-1e9..1e9_f64, 1..200),
        q1 in 0.0..=1.0_f64,
        q2 in 0.0..=1.0_f64,
    ) {
        let (lo, hi) = if q1 <= q2 { (q1, q2) } else { (q2, q1) };
        let (a, b) = (quantile(&values, lo).unwrap(), quantile(&values, hi).unwrap());
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(min <= a && a <= b && b <= max, "{} {} {} {}", min, a, b, max);
    }
}
