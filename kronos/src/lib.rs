//! Argus brain (`argus-kronos`): scores flows for anomalies and turns the scores into verdicts.
//!
//! At its centre is the anomaly-scoring core, pure library code that does no I/O except the
//! explicit `save`/`load` of model files. Feature extraction, triage, rules, the decision
//! policy, the payload CNN and the service build on it (see their own module documentation).
//!
//! - [`matrix`]: [`FeatureMatrix`], the row-major training input;
//! - [`forest`]: an [`IsolationForest`] with flat node arrays for allocation-free scoring;
//! - [`robust`]: per-feature median/MAD deviation scores ([`RobustStats`]), unbounded where the
//!   forest saturates, and the top deviating features as evidence;
//! - [`calibrate`]: thresholds at a quantile of scores on held-out baseline rows;
//! - [`detector`]: the combined [`Detector`] with metadata and save/load;
//! - [`persist`]: the model file envelope and its errors.
//!
//! The inputs are not standardised (smartcore's `StandardScaler` was considered): the forest
//! draws each split uniformly between a feature's minimum and maximum, so it is unaffected by
//! any per-feature affine rescaling, and the deviation score already divides by a robust
//! per-feature scale that, unlike a standard deviation, a few extreme baseline flows cannot
//! inflate.
//!
//! ```
//! use argus_kronos::{Detector, FeatureMatrix, FitParams};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A baseline of 5000 two-feature vectors.
//! let rows: Vec<Vec<f64>> = (0..5000)
//!     .map(|i| vec![f64::from(i % 100), f64::from(i % 37) * 2.0])
//!     .collect();
//! let data = FeatureMatrix::from_rows(&rows)?;
//! let names = vec!["packets".to_owned(), "bytes_per_packet".to_owned()];
//! let detector = Detector::fit(&data, names, &FitParams::default())?;
//! let scores = detector.score(&[50.0, 1e6])?;
//! assert!(scores.exceeds(detector.thresholds()).deviation);
//! let worst = scores.top_features[0];
//! assert_eq!(detector.feature_name(worst.feature), Some("bytes_per_packet"));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod calibrate;
pub mod cnn;
pub mod detector;
pub mod engine;
pub mod features;
pub mod forest;
pub mod hll;
pub mod inference;
pub mod learning;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod offline;
pub mod outbox;
pub mod persist;
pub mod policy;
pub mod queue;
pub mod records;
pub mod robust;
pub mod rules;
pub mod service;
pub mod synth;
pub mod triage;

pub use calibrate::{CalibrationParams, Thresholds};
pub use detector::{Detector, FitParams, ModelMetadata, Scores};
pub use forest::{ForestParams, ForestScore, IsolationForest};
pub use matrix::FeatureMatrix;
pub use persist::PersistError;
pub use robust::{DeviationScore, FeatureDeviation, RobustParams, RobustStats, TopFeatures};
