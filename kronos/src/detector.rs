//! The combined anomaly model: an isolation forest and robust deviation statistics fitted on the
//! same baseline, thresholds calibrated on held-out baseline rows, and the metadata needed to
//! trust a model file later (feature names, sizes, creation time, parameters).
//!
//! The two scores complement each other. The forest sees combinations (a flow whose every
//! feature is individually ordinary but whose mix is not) and is insensitive to each feature's
//! scale; the deviation score sees magnitude without limit, where the forest saturates beyond
//! the training range. A verdict can use either or both; [`Scores::exceeds`] compares each with
//! its own threshold.

use std::collections::HashSet;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calibrate::{split_holdout, CalibrationError, CalibrationParams, Thresholds};
use crate::forest::{
    check_vector, ForestError, ForestParams, ForestScore, IsolationForest, VectorError,
};
use crate::matrix::FeatureMatrix;
use crate::persist::{self, PersistError, FORMAT_VERSION};
use crate::robust::{
    check_top_k, DeviationScore, RobustError, RobustParams, RobustStats, TopFeatures,
};

/// `kind` recorded in the envelope of a saved detector.
const FILE_KIND: &str = "argus-kronos/detector";

/// Default number of top deviating features reported with each score.
pub const DEFAULT_EVIDENCE_FEATURES: usize = 3;

/// Everything [`Detector::fit`] needs besides the data; stored in the model's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitParams {
    /// Isolation forest parameters.
    pub forest: ForestParams,
    /// Robust deviation parameters.
    pub robust: RobustParams,
    /// Holdout split and threshold quantile.
    pub calibration: CalibrationParams,
    /// How many top deviating features [`Detector::score`] reports, 1 to
    /// [`crate::robust::MAX_TOP_FEATURES`] (default [`DEFAULT_EVIDENCE_FEATURES`]).
    pub evidence_features: usize,
}

impl Default for FitParams {
    fn default() -> Self {
        Self {
            forest: ForestParams::default(),
            robust: RobustParams::default(),
            calibration: CalibrationParams::default(),
            evidence_features: DEFAULT_EVIDENCE_FEATURES,
        }
    }
}

/// Why a detector could not be fitted or a vector scored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DetectorError {
    /// As many names as features are needed, in feature order.
    #[error("{names} feature names for {features} features")]
    FeatureNameCount {
        /// Names given.
        names: usize,
        /// Features in the data.
        features: usize,
    },
    /// An empty name, which evidence could not refer to.
    #[error("feature {0} has an empty name")]
    EmptyFeatureName(usize),
    /// Two features with one name, which would make evidence ambiguous.
    #[error("feature name {0:?} appears more than once")]
    DuplicateFeatureName(String),
    /// The holdout split or the thresholds failed.
    #[error("calibration: {0}")]
    Calibration(#[from] CalibrationError),
    /// The forest could not be fitted.
    #[error("isolation forest: {0}")]
    Forest(#[from] ForestError),
    /// The robust statistics could not be fitted or the evidence count is out of range.
    #[error("robust statistics: {0}")]
    Robust(#[from] RobustError),
    /// A vector whose length is not the model's feature count.
    #[error("vector has {found} features, the model was trained on {expected}")]
    WrongFeatureCount {
        /// Feature count of the model.
        expected: usize,
        /// Length of the vector.
        found: usize,
    },
    /// A NaN or infinite feature value.
    #[error("feature {feature} is not finite ({value})")]
    NonFinite {
        /// Index of the feature.
        feature: usize,
        /// The value.
        value: f64,
    },
}

/// Both anomaly scores of one vector, with the features that deviate most as evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Isolation forest score in (0, 1].
    pub forest: ForestScore,
    /// Combined robust deviation, unbounded.
    pub deviation: DeviationScore,
    /// The most deviating features, largest first (`FitParams::evidence_features` of them).
    pub top_features: TopFeatures,
}

/// Which scores exceed their thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceedance {
    /// The forest score is above its threshold.
    pub forest: bool,
    /// The deviation score is above its threshold.
    pub deviation: bool,
}

impl Exceedance {
    /// Whether either score exceeds its threshold.
    pub fn any(self) -> bool {
        self.forest || self.deviation
    }
}

impl Scores {
    /// Compares each score with its threshold (strictly above counts as exceeding).
    pub fn exceeds(&self, thresholds: &Thresholds) -> Exceedance {
        Exceedance {
            forest: self.forest.0 > thresholds.forest.0,
            deviation: self.deviation.0 > thresholds.deviation.0,
        }
    }
}

/// Facts about a fitted model, saved with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMetadata {
    /// Model file format version ([`FORMAT_VERSION`] of the build that fitted it).
    pub format_version: u32,
    /// Version of this crate when the model was fitted.
    pub crate_version: String,
    /// Feature names, in vector order.
    pub feature_names: Vec<String>,
    /// Baseline rows given to [`Detector::fit`].
    pub training_rows: usize,
    /// Of those, the rows the models were fitted on (the rest were held out).
    pub fit_rows: usize,
    /// Fitting time, seconds since the Unix epoch.
    pub created_at_unix_s: u64,
    /// Parameters of the fit.
    pub params: FitParams,
    /// Calibrated thresholds.
    pub thresholds: Thresholds,
}

/// A fitted isolation forest and robust statistics, with calibrated thresholds and metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detector {
    metadata: ModelMetadata,
    forest: IsolationForest,
    robust: RobustStats,
}

impl Detector {
    /// Fits both models on part of `samples` and calibrates thresholds on the rest (see
    /// [`crate::calibrate`]). `feature_names` name the columns of `samples`, in order.
    pub fn fit(
        samples: &FeatureMatrix,
        feature_names: Vec<String>,
        params: &FitParams,
    ) -> Result<Self, DetectorError> {
        check_names(&feature_names, samples.n_features())?;
        check_top_k(params.evidence_features)?;
        let split = split_holdout(samples, &params.calibration)?;
        let forest = IsolationForest::fit(&split.fit, &params.forest)?;
        let robust = RobustStats::fit(&split.fit, &params.robust)?;
        let mut forest_scores = Vec::with_capacity(split.holdout.n_rows());
        let mut deviation_scores = Vec::with_capacity(split.holdout.n_rows());
        for x in split.holdout.rows() {
            forest_scores.push(forest.score(x)?);
            deviation_scores.push(robust.score(x)?);
        }
        let thresholds = Thresholds::from_holdout(
            &forest_scores,
            &deviation_scores,
            params.calibration.quantile,
        )?;
        let metadata = ModelMetadata {
            format_version: FORMAT_VERSION,
            crate_version: env!("CARGO_PKG_VERSION").to_owned(),
            feature_names,
            training_rows: samples.n_rows(),
            fit_rows: split.fit.n_rows(),
            // A clock before 1970 is a broken clock; 0 says "unknown" without failing the fit.
            created_at_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            params: *params,
            thresholds,
        };
        Ok(Self {
            metadata,
            forest,
            robust,
        })
    }

    /// Scores one feature vector. Allocation-free; the only checks are the length and that
    /// every value is finite.
    pub fn score(&self, x: &[f64]) -> Result<Scores, DetectorError> {
        check_vector(x, self.forest.n_features()).map_err(|e| match e {
            VectorError::Length(found) => DetectorError::WrongFeatureCount {
                expected: self.forest.n_features(),
                found,
            },
            VectorError::NonFinite { feature, value } => {
                DetectorError::NonFinite { feature, value }
            }
        })?;
        let (deviation, top_features) = self
            .robust
            .evaluate_checked(x, self.metadata.params.evidence_features);
        Ok(Scores {
            forest: self.forest.score_checked(x),
            deviation,
            top_features,
        })
    }

    /// The calibrated thresholds.
    pub fn thresholds(&self) -> &Thresholds {
        &self.metadata.thresholds
    }

    /// The model's metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.metadata
    }

    /// Feature names, in vector order.
    pub fn feature_names(&self) -> &[String] {
        &self.metadata.feature_names
    }

    /// Name of feature `index`, e.g. to render a [`crate::robust::FeatureDeviation`].
    pub fn feature_name(&self, index: usize) -> Option<&str> {
        self.metadata.feature_names.get(index).map(String::as_str)
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.forest.n_features()
    }

    /// The isolation forest.
    pub fn forest(&self) -> &IsolationForest {
        &self.forest
    }

    /// The robust statistics.
    pub fn robust(&self) -> &RobustStats {
        &self.robust
    }

    /// Writes the model to `path` (see [`crate::persist`] for the format).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PersistError> {
        persist::save(path.as_ref(), FILE_KIND, self.n_features(), self)
    }

    /// Reads a model written by [`Detector::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PersistError> {
        Self::load_inner(path.as_ref(), None)
    }

    /// Reads a model and checks it was trained on exactly `feature_names`, in that order: a
    /// model from another feature extractor version would otherwise score silently wrong.
    pub fn load_expecting<S: AsRef<str>>(
        path: impl AsRef<Path>,
        feature_names: &[S],
    ) -> Result<Self, PersistError> {
        let path = path.as_ref();
        let detector = Self::load_inner(path, Some(feature_names.len()))?;
        let mismatch = detector
            .feature_names()
            .iter()
            .zip(feature_names)
            .position(|(found, expected)| found != expected.as_ref());
        match mismatch {
            Some(index) => Err(PersistError::FeatureNameMismatch {
                path: path.to_path_buf(),
                index,
                expected: feature_names[index].as_ref().to_owned(),
                found: detector.feature_names()[index].clone(),
            }),
            None => Ok(detector),
        }
    }

    fn load_inner(path: &Path, n_features: Option<usize>) -> Result<Self, PersistError> {
        let detector: Self = persist::load(path, FILE_KIND, n_features)?;
        detector
            .validate()
            .map_err(|reason| persist::invalid(path, reason))?;
        Ok(detector)
    }

    /// Checks that the parts of a loaded model agree with each other and are each sound.
    fn validate(&self) -> Result<(), String> {
        self.forest.validate()?;
        self.robust.validate()?;
        self.metadata.thresholds.validate()?;
        let n = self.forest.n_features();
        if self.robust.n_features() != n {
            return Err(format!(
                "forest has {n} features, robust statistics {}",
                self.robust.n_features()
            ));
        }
        check_names(&self.metadata.feature_names, n).map_err(|e| e.to_string())?;
        check_top_k(self.metadata.params.evidence_features).map_err(|e| e.to_string())
    }
}

/// Checks there is one non-empty, unique name per feature.
fn check_names(names: &[String], n_features: usize) -> Result<(), DetectorError> {
    if names.len() != n_features {
        return Err(DetectorError::FeatureNameCount {
            names: names.len(),
            features: n_features,
        });
    }
    if let Some(index) = names.iter().position(String::is_empty) {
        return Err(DetectorError::EmptyFeatureName(index));
    }
    let mut seen = HashSet::with_capacity(names.len());
    match names.iter().find(|name| !seen.insert(name.as_str())) {
        Some(dup) => Err(DetectorError::DuplicateFeatureName(dup.clone())),
        None => Ok(()),
    }
}
