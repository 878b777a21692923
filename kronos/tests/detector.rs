//! The combined detector: calibration, persistence and its failure modes.

mod common;

use std::fs;

use argus_kronos::calibrate::{quantile, split_holdout, CalibrationParams, HoldoutOrder};
use argus_kronos::detector::DetectorError;
use argus_kronos::{Detector, FitParams, ForestScore, IsolationForest, PersistError};
use common::{gaussian_rows, matrix, names, point_at_radius, rng};

const D: usize = 6;

fn params() -> FitParams {
    FitParams {
        calibration: CalibrationParams {
            holdout_fraction: 0.25,
            quantile: 0.99,
            order: HoldoutOrder::Shuffled { seed: 9 },
        },
        ..FitParams::default()
    }
}

fn baseline(seed: u64, n: usize) -> Vec<Vec<f64>> {
    gaussian_rows(&mut rng(seed), n, D)
}

fn detector() -> Detector {
    Detector::fit(&matrix(&baseline(10, 8000)), names(D), &params()).unwrap()
}

#[test]
fn thresholds_are_the_holdout_quantiles() {
    let rows = baseline(10, 8000);
    let p = params();
    let det = Detector::fit(&matrix(&rows), names(D), &p).unwrap();
    let meta = det.metadata();
    assert_eq!((meta.training_rows, meta.fit_rows), (8000, 6000));
    assert_eq!(det.thresholds().holdout_rows, 2000);
    assert_eq!(det.thresholds().quantile, 0.99);

    // Recompute from the same split: the thresholds are exactly the 99th percentiles of the
    // held-out rows' scores, each in its own scale.
    let split = split_holdout(&matrix(&rows), &p.calibration).unwrap();
    let scores: Vec<_> = split
        .holdout
        .rows()
        .map(|x| det.score(x).unwrap())
        .collect();
    let forest: Vec<f64> = scores.iter().map(|s| s.forest.0).collect();
    let deviation: Vec<f64> = scores.iter().map(|s| s.deviation.0).collect();
    assert_eq!(det.thresholds().forest.0, quantile(&forest, 0.99).unwrap());
    assert_eq!(
        det.thresholds().deviation.0,
        quantile(&deviation, 0.99).unwrap()
    );
    let above = forest
        .iter()
        .filter(|&&s| s > det.thresholds().forest.0)
        .count();
    assert_eq!(
        above, 20,
        "1% of 2000 held-out rows lie above the 99th percentile"
    );
}

#[test]
fn thresholds_generalise_to_fresh_baseline_traffic() {
    let det = detector();
    let fresh = baseline(11, 20_000);
    let (mut forest, mut deviation) = (0, 0);
    for x in &fresh {
        let e = det.score(x).unwrap().exceeds(det.thresholds());
        forest += usize::from(e.forest);
        deviation += usize::from(e.deviation);
    }
    // Expected 1% of 20000 = 200 each; allow for sampling noise in the 2000-row holdout.
    for (name, count) in [("forest", forest), ("deviation", deviation)] {
        assert!(
            (100..=400).contains(&count),
            "{name}: {count} of 20000 fresh baseline rows above the 99th percentile threshold"
        );
    }
    // Far outliers exceed both.
    let mut r = rng(12);
    for _ in 0..50 {
        let x = point_at_radius(&mut r, D, 10.0);
        assert!(det.score(&x).unwrap().exceeds(det.thresholds()).forest);
    }
}

#[test]
fn evidence_names_the_deviating_feature() {
    let det = detector();
    let mut x = vec![0.0; D];
    x[4] = 25.0;
    x[1] = -6.0;
    let s = det.score(&x).unwrap();
    assert_eq!(s.top_features.len(), 3);
    assert_eq!(s.top_features[0].feature, 4);
    assert_eq!(s.top_features[1].feature, 1);
    assert_eq!(det.feature_name(4), Some("f4"));
    assert_eq!(
        s.deviation.0, s.top_features[0].z,
        "default combination is the max"
    );
    assert!(s.exceeds(det.thresholds()).any());
}

#[test]
fn saved_model_scores_identically() {
    let det = detector();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("detector.model");
    det.save(&path).unwrap();
    let back = Detector::load(&path).unwrap();
    assert_eq!(back, det);
    let back = Detector::load_expecting(&path, &names(D)).unwrap();
    let mut r = rng(13);
    for i in 0..500 {
        let x = point_at_radius(&mut r, D, f64::from(i % 12));
        assert_eq!(back.score(&x).unwrap(), det.score(&x).unwrap());
    }

    let forest_path = dir.path().join("forest.model");
    det.forest().save(&forest_path).unwrap();
    let forest = IsolationForest::load_expecting(&forest_path, D).unwrap();
    assert_eq!(&forest, det.forest());
}

#[test]
fn corrupt_and_mismatched_files_are_clear_errors() {
    let det = detector();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.model");
    det.save(&good).unwrap();
    let bytes = fs::read(&good).unwrap();
    let names_of = |path: &std::path::Path| path.display().to_string();

    // Not a model at all.
    let garbage = dir.path().join("garbage.model");
    fs::write(&garbage, b"definitely not msgpack \xc1\xc1").unwrap();
    let err = Detector::load(&garbage).unwrap_err();
    assert!(matches!(err, PersistError::Decode { .. }), "{err}");
    assert!(err.to_string().contains(&names_of(&garbage)), "{err}");

    // Truncated.
    let truncated = dir.path().join("truncated.model");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = Detector::load(&truncated).unwrap_err();
    assert!(matches!(err, PersistError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("truncated.model"), "{err}");

    // One flipped bit inside the body.
    let flipped = dir.path().join("flipped.model");
    let mut damaged = bytes.clone();
    let mid = damaged.len() * 2 / 3;
    damaged[mid] ^= 0x10;
    fs::write(&flipped, &damaged).unwrap();
    let err = Detector::load(&flipped).unwrap_err();
    assert!(
        matches!(err, PersistError::ChecksumMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("flipped.model"), "{err}");

    // Wrong feature count, wrong names, wrong kind, missing file.
    let err = Detector::load_expecting(&good, &names(D + 1)).unwrap_err();
    assert!(
        matches!(err, PersistError::FeatureCountMismatch { expected, found, .. } if expected == D + 1 && found == D),
        "{err}"
    );
    assert!(err.to_string().contains("good.model"), "{err}");
    let mut renamed = names(D);
    renamed[2] = "bytes".into();
    let err = Detector::load_expecting(&good, &renamed).unwrap_err();
    assert!(
        matches!(&err, PersistError::FeatureNameMismatch { index: 2, found, .. } if found == "f2"),
        "{err}"
    );
    let err = IsolationForest::load_expecting(&good, D).unwrap_err();
    assert!(matches!(err, PersistError::WrongKind { .. }), "{err}");
    let err = Detector::load(dir.path().join("missing.model")).unwrap_err();
    assert!(matches!(err, PersistError::Read { .. }), "{err}");
    assert!(err.to_string().contains("missing.model"), "{err}");
}

#[test]
fn scoring_rejects_bad_vectors() {
    let det = detector();
    assert_eq!(
        det.score(&[0.0; D - 1]),
        Err(DetectorError::WrongFeatureCount {
            expected: D,
            found: D - 1
        })
    );
    let mut x = [0.0; D];
    x[3] = f64::NAN;
    assert!(matches!(
        det.score(&x),
        Err(DetectorError::NonFinite { feature: 3, .. })
    ));
}

#[test]
fn fit_rejects_bad_names_and_small_baselines() {
    let data = matrix(&baseline(14, 8000));
    assert_eq!(
        Detector::fit(&data, names(D - 1), &params()),
        Err(DetectorError::FeatureNameCount {
            names: D - 1,
            features: D
        })
    );
    let mut dup = names(D);
    dup[5] = "f0".into();
    assert_eq!(
        Detector::fit(&data, dup, &params()),
        Err(DetectorError::DuplicateFeatureName("f0".into()))
    );
    let mut empty = names(D);
    empty[1].clear();
    assert_eq!(
        Detector::fit(&data, empty, &params()),
        Err(DetectorError::EmptyFeatureName(1))
    );
    // The default 99.9th percentile needs 1000 held-out rows: 20% of 1000 is not enough.
    let small = matrix(&baseline(15, 1000));
    assert!(matches!(
        Detector::fit(&small, names(D), &FitParams::default()),
        Err(DetectorError::Calibration(_))
    ));
    let no_evidence = FitParams {
        evidence_features: 0,
        ..params()
    };
    assert!(matches!(
        Detector::fit(&data, names(D), &no_evidence),
        Err(DetectorError::Robust(_))
    ));
}

#[test]
fn forest_scores_stay_in_the_unit_interval() {
    let det = detector();
    let mut r = rng(16);
    for i in 0..200 {
        let ForestScore(s) = det
            .score(&point_at_radius(&mut r, D, f64::from(i)))
            .unwrap()
            .forest;
        assert!(s > 0.0 && s <= 1.0, "{s}");
    }
}
