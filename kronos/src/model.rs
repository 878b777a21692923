//! The anomaly model kronos scores with: a [`Detector`] fitted on feature vectors from
//! [`crate::features`], its version, and the combined anomaly score.
//!
//! The combined score puts both of the detector's scores on the scale of the configuration's
//! thresholds: `anomaly = max(forest / forest threshold, deviation / deviation threshold)`, where
//! each threshold is the calibration quantile of held-out baseline scores. 1.0 is therefore "as
//! unusual as the most unusual `1 − q` of the baseline". The forest's share saturates a little
//! above 1 (its score cannot exceed 1.0), so only the unbounded deviation can reach the
//! high-risk threshold: a ban on model evidence alone needs a feature far outside its baseline
//! spread. See `docs/scoring.md`.
//!
//! Features where only high values can signal an attack ([`is_upper_tail_only`]) are clamped
//! from below at their baseline median, in fitting and in scoring alike, so a new source's low
//! counts are "normal", not "deviating": their deviation is one-sided.
//!
//! A saved model is the detector file (see [`crate::persist`]) plus a JSON sidecar
//! (`<file>.json`, [`ModelInfo`]) for people and `argusctl`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use argus_config::{Config, Kronos};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tracing::{error, info, warn};

use crate::calibrate::{CalibrationParams, HoldoutOrder};
use crate::detector::{DetectorError, Scores};
use crate::features::is_upper_tail_only;
use crate::forest::ForestParams;
use crate::robust::RobustParams;
use crate::{Detector, FeatureMatrix, FitParams, PersistError};

/// Smallest robust scale of any feature. Every feature is either `ln(1 + x)` of a magnitude or a
/// share/flag in [0, 1] (see [`crate::features`]), so a floor of 0.25 means: a change smaller than
/// a factor `e^0.25 ≈ 1.28`, or a quarter of a share, is never more than one robust σ. Without it,
/// a flag that is almost always 0 in the baseline would score any 1 in the hundreds and drown every
/// other feature in the maximum.
pub const MIN_FEATURE_SCALE: f64 = 0.25;

/// Why a model could not be loaded, fitted or saved. Every variant names the file.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The detector file is missing, corrupt or for other features.
    #[error(transparent)]
    Persist(#[from] PersistError),
    /// The file could not be read to compute its version.
    #[error("cannot read model file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The metadata sidecar could not be written.
    #[error("cannot write model metadata {}: {source}", path.display())]
    WriteInfo {
        /// The sidecar.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Fitting failed (too few rows for the calibration quantile, …).
    #[error("cannot fit a model on {rows} baseline rows: {source}")]
    Fit {
        /// Rows offered.
        rows: usize,
        /// The cause.
        source: DetectorError,
    },
}

/// Facts about a saved model, written beside it as `<file>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `local-` or `bootstrap-` and the first 12 hex digits of the file's SHA-256.
    pub version: String,
    /// Baseline rows the model was fitted and calibrated on.
    pub training_samples: u64,
    /// Of those, the rows the models were fitted on.
    pub fit_rows: u64,
    /// Fitting time, seconds since the epoch.
    pub created_at_unix_s: u64,
    /// Forest threshold (score 1.0 of the forest part).
    pub forest_threshold: f64,
    /// Deviation threshold (score 1.0 of the deviation part).
    pub deviation_threshold: f64,
    /// Calibration quantile.
    pub quantile: f64,
    /// Feature names, in vector order.
    pub feature_names: Vec<String>,
}

/// A loaded or freshly fitted detector with its version.
#[derive(Debug, Clone)]
pub struct ActiveModel {
    detector: Detector,
    version: String,
    bootstrap: bool,
    floors: Vec<f64>,
}

impl ActiveModel {
    /// Loads the detector at `path`, checking it was trained on `feature_names`; `bootstrap`
    /// marks the shipped model (versioned `bootstrap-…`).
    pub fn load<S: AsRef<str>>(
        path: &Path,
        feature_names: &[S],
        bootstrap: bool,
    ) -> Result<Self, ModelError> {
        let detector = Detector::load_expecting(path, feature_names)?;
        let version = file_version(path, bootstrap)?;
        Ok(Self::new(detector, version, bootstrap))
    }

    /// Wraps a detector already saved under `version`.
    pub fn new(detector: Detector, version: String, bootstrap: bool) -> Self {
        Self {
            floors: floors(&detector),
            detector,
            version,
            bootstrap,
        }
    }

    /// Scores `x` (clamping its one-sided features at their floors first, in place).
    pub fn score(&self, x: &mut [f64]) -> Result<Scores, DetectorError> {
        clamp(x, &self.floors);
        self.detector.score(x)
    }

    /// The combined anomaly score of `scores` (see the module documentation).
    pub fn anomaly(&self, scores: &Scores) -> f64 {
        let t = self.detector.thresholds();
        let forest = scores.forest.0 / t.forest.0.max(f64::MIN_POSITIVE);
        let deviation = scores.deviation.0 / t.deviation.0.max(f64::MIN_POSITIVE);
        forest.max(deviation)
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The version string.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether this is the shipped bootstrap model.
    pub fn is_bootstrap(&self) -> bool {
        self.bootstrap
    }

    /// Baseline rows the model was fitted and calibrated on.
    pub fn training_samples(&self) -> u64 {
        self.detector.metadata().training_rows as u64
    }
}

/// The model to start with: the locally learned one (`learned`, under `paths.state_dir`) if it
/// loads, else the shipped bootstrap model (`kronos.isolation_forest.bootstrap_model`). When
/// neither is usable this says so loudly and returns `None`: kronos then runs on behaviour rules
/// and the CNN only.
pub fn load_configured(
    cfg: &Config,
    learned: &Path,
    feature_names: &[String],
) -> Option<ActiveModel> {
    if learned.exists() {
        match ActiveModel::load(learned, feature_names, false) {
            Ok(m) => {
                info!(model = %m.version(), samples = m.training_samples(), "using the locally learned model");
                return Some(m);
            }
            Err(e) => warn!(error = %e, "ignoring the locally learned model"),
        }
    }
    let bootstrap = cfg.model_path(&cfg.kronos.isolation_forest.bootstrap_model);
    match ActiveModel::load(&bootstrap, feature_names, true) {
        Ok(m) => {
            info!(model = %m.version(), samples = m.training_samples(), "using the bootstrap model");
            Some(m)
        }
        Err(e) => {
            error!(error = %e, "NO ANOMALY MODEL: the bootstrap model is unusable; scoring with behaviour rules and the payload CNN only until a baseline is learned");
            None
        }
    }
}

/// Fitting parameters from the configuration (trees, subsample, holdout, quantile), with
/// [`MIN_FEATURE_SCALE`] and a fixed seed so a baseline always gives the same model.
pub fn fit_params(cfg: &Kronos) -> FitParams {
    let f = &cfg.isolation_forest;
    FitParams {
        forest: ForestParams {
            n_trees: f.trees,
            subsample_size: f.subsample,
            ..ForestParams::default()
        },
        robust: RobustParams {
            min_scale: MIN_FEATURE_SCALE,
            ..RobustParams::default()
        },
        calibration: CalibrationParams {
            holdout_fraction: f.calibration_holdout,
            quantile: f.calibration_quantile,
            order: HoldoutOrder::Shuffled { seed: 0 },
        },
        evidence_features: 5,
    }
}

/// Fits a detector on baseline `rows` named `feature_names`, in two passes: the first finds the
/// medians, the second fits on rows whose one-sided features are clamped at them (see the module
/// documentation), so the thresholds are calibrated on the same clamped vectors the service
/// scores.
pub fn fit(
    rows: &FeatureMatrix,
    feature_names: &[String],
    cfg: &Kronos,
) -> Result<Detector, ModelError> {
    let params = fit_params(cfg);
    let err = |source| ModelError::Fit {
        rows: rows.n_rows(),
        source,
    };
    let first = Detector::fit(rows, feature_names.to_vec(), &params).map_err(err)?;
    let floors = floors(&first);
    let mut values = Vec::with_capacity(rows.n_rows() * rows.n_features());
    for row in rows.rows() {
        let start = values.len();
        values.extend_from_slice(row);
        clamp(&mut values[start..], &floors);
    }
    let clamped = FeatureMatrix::from_row_major(values, rows.n_features())
        .expect("clamping keeps the shape and finite values");
    Detector::fit(&clamped, feature_names.to_vec(), &params).map_err(err)
}

/// Per-feature lower bounds: the baseline median for one-sided features, −∞ for the others.
fn floors(detector: &Detector) -> Vec<f64> {
    detector
        .feature_names()
        .iter()
        .zip(detector.robust().feature_stats())
        .map(|(name, stats)| {
            if is_upper_tail_only(name) {
                stats.median
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect()
}

fn clamp(x: &mut [f64], floors: &[f64]) {
    for (v, f) in x.iter_mut().zip(floors) {
        *v = v.max(*f);
    }
}

/// Saves `detector` at `path` with its `<path>.json` sidecar and returns the model ready to use.
pub fn save(
    detector: Detector,
    path: &Path,
    bootstrap: bool,
) -> Result<(ActiveModel, ModelInfo), ModelError> {
    detector.save(path)?;
    let version = file_version(path, bootstrap)?;
    let meta = detector.metadata();
    let info = ModelInfo {
        version: version.clone(),
        training_samples: meta.training_rows as u64,
        fit_rows: meta.fit_rows as u64,
        created_at_unix_s: meta.created_at_unix_s,
        forest_threshold: meta.thresholds.forest.0,
        deviation_threshold: meta.thresholds.deviation.0,
        quantile: meta.thresholds.quantile,
        feature_names: meta.feature_names.clone(),
    };
    let sidecar = info_path(path);
    let json = serde_json::to_vec_pretty(&info).expect("model info always serialises");
    fs::write(&sidecar, json).map_err(|source| ModelError::WriteInfo {
        path: sidecar,
        source,
    })?;
    Ok((ActiveModel::new(detector, version, bootstrap), info))
}

/// Where the JSON sidecar of a model file lives: `<file>.json`.
pub fn info_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".json");
    PathBuf::from(name)
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn file_version(path: &Path, bootstrap: bool) -> Result<String, ModelError> {
    let bytes = fs::read(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let prefix = if bootstrap { "bootstrap" } else { "local" };
    Ok(format!("{prefix}-{}", &sha256_hex(&bytes)[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calibrate::Thresholds;
    use crate::forest::ForestScore;
    use crate::robust::DeviationScore;

    fn small_cfg() -> Kronos {
        let mut k = Kronos::default();
        k.isolation_forest.trees = 10;
        k.isolation_forest.calibration_quantile = 0.99;
        k
    }

    fn baseline(n: usize) -> FeatureMatrix {
        let rows: Vec<Vec<f64>> = (0..n)
            .map(|i| vec![(i % 17) as f64 / 4.0, (i % 5) as f64 / 10.0])
            .collect();
        FeatureMatrix::from_rows(&rows).unwrap()
    }

    #[test]
    fn fit_save_load_round_trip_with_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bin");
        let names = vec!["a".to_owned(), "b".to_owned()];
        let detector = fit(&baseline(1000), &names, &small_cfg()).unwrap();
        let (model, info) = save(detector, &path, false).unwrap();
        assert!(model.version().starts_with("local-") && model.version().len() == 18);
        assert_eq!(info.training_samples, 1000);
        let sidecar: ModelInfo =
            serde_json::from_slice(&fs::read(info_path(&path)).unwrap()).unwrap();
        assert_eq!(sidecar, info);
        let loaded = ActiveModel::load(&path, &names, true).unwrap();
        assert_eq!(&loaded.version()[10..], &model.version()[6..]);
        assert!(loaded.is_bootstrap());
        // Other features: refused, naming the file.
        let err = ActiveModel::load(&path, &["a", "c"], false).unwrap_err();
        assert!(err.to_string().contains("model.bin"), "{err}");
    }

    #[test]
    fn one_sided_features_do_not_deviate_below_their_median() {
        let names = vec!["flow.x".to_owned(), "src10s.flows".to_owned()];
        let detector = fit(&baseline(1000), &names, &small_cfg()).unwrap();
        let model = ActiveModel::new(detector, "v".into(), false);
        let medians: Vec<f64> = model
            .detector()
            .robust()
            .feature_stats()
            .iter()
            .map(|s| s.median)
            .collect();
        let mut low = [medians[0], -100.0];
        let s = model.score(&mut low).unwrap();
        assert_eq!(low[1], medians[1]);
        assert!(s.deviation.0 < 1e-9, "{s:?}");
        let mut high = [medians[0], 100.0];
        assert!(model.score(&mut high).unwrap().deviation.0 > 10.0);
        let mut two_sided = [-100.0, medians[1]];
        assert!(model.score(&mut two_sided).unwrap().deviation.0 > 10.0);
    }

    #[test]
    fn too_little_baseline_is_a_fit_error() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let err = fit(&baseline(50), &names, &small_cfg()).unwrap_err();
        assert!(matches!(err, ModelError::Fit { rows: 50, .. }), "{err}");
    }

    #[test]
    fn anomaly_is_the_larger_ratio_to_its_threshold() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let detector = fit(&baseline(1000), &names, &small_cfg()).unwrap();
        let t: Thresholds = *detector.thresholds();
        let model = ActiveModel::new(detector, "v".into(), false);
        let mut s = model.detector().score(&[1.0, 0.2]).unwrap();
        s.forest = ForestScore(t.forest.0 * 0.5);
        s.deviation = DeviationScore(t.deviation.0 * 2.0);
        assert!((model.anomaly(&s) - 2.0).abs() < 1e-9);
        s.deviation = DeviationScore(0.0);
        assert!((model.anomaly(&s) - 0.5).abs() < 1e-9);
    }
}
