//! Robust per-feature deviation scores: how many robust standard deviations each feature of a
//! vector lies from that feature's baseline median.
//!
//! For feature `j`, `z_j = |x_j − median_j| / scale_j`, where `scale_j` is the median absolute
//! deviation (MAD) times 1.4826 (which makes it equal to σ for normal data), with two guards for
//! features that barely vary in the baseline:
//!
//! - when more than half the baseline values are identical the MAD is 0; the mean absolute
//!   deviation from the median times 1.2533 (`√(π/2)`, again σ for normal data) is used instead,
//!   so a feature that is usually 0 and occasionally not still gets a finite, data-driven scale;
//! - the scale never drops below `max(min_scale, relative_min_scale · |median_j|)`, so a
//!   feature constant in the baseline does not turn the smallest change into an infinite score.
//!
//! Unlike the isolation forest's, this score is unbounded: a value 10⁶ times beyond anything
//! seen scores 10⁶ times higher than one just beyond, which is what lets a flood or a
//! pathological flow stand out however extreme it is. The per-feature `z` values double as
//! evidence: [`RobustStats::top_features`] names the features that deviate most.

use std::ops::Deref;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::forest::{check_vector, VectorError};
use crate::matrix::FeatureMatrix;

/// Largest number of features a [`TopFeatures`] can hold, and so the largest `k` accepted for
/// [`Combine::TopKMean`] and for evidence. Fixed so ranking needs no allocation.
pub const MAX_TOP_FEATURES: usize = 16;

/// MAD × 1.4826 estimates σ of a normal distribution.
const MAD_TO_SIGMA: f64 = 1.4826;

/// Mean absolute deviation × √(π/2) estimates σ of a normal distribution.
const MEAN_AD_TO_SIGMA: f64 = 1.253_314_137_315_500_3;

/// How the per-feature `z` values are reduced to one [`DeviationScore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Combine {
    /// The largest `z`: one wildly deviating feature is enough. Simple to explain ("feature F is
    /// z robust σ from normal") and the default.
    Max,
    /// The mean of the `k` largest `z` values: less sensitive to one noisy feature, at the cost
    /// of diluting a genuine single-feature anomaly by `k`.
    TopKMean {
        /// How many of the largest values to average, 1 to [`MAX_TOP_FEATURES`].
        k: usize,
    },
}

impl Combine {
    /// How many of the largest `z` values the combination reads.
    fn width(self) -> usize {
        match self {
            Combine::Max => 1,
            Combine::TopKMean { k } => k,
        }
    }
}

/// Parameters of [`RobustStats::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RobustParams {
    /// Absolute floor of every feature's scale, in the feature's own units: the smallest change
    /// that should count as one standard deviation for a feature constant in the baseline
    /// (default `1e-3`).
    pub min_scale: f64,
    /// Floor of the scale relative to `|median|` (default `1e-3`: variations below 0.1% of a
    /// feature's typical magnitude are treated as noise).
    pub relative_min_scale: f64,
    /// How the per-feature values are combined (default [`Combine::Max`]).
    pub combine: Combine,
}

impl Default for RobustParams {
    fn default() -> Self {
        Self {
            min_scale: 1e-3,
            relative_min_scale: 1e-3,
            combine: Combine::Max,
        }
    }
}

/// Why robust statistics could not be fitted or a vector scored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RobustError {
    /// No training rows.
    #[error("no training rows")]
    NoRows,
    /// `min_scale` not finite and positive, or `relative_min_scale` not finite and non-negative.
    #[error("scale floors must be finite, min_scale > 0 and relative_min_scale >= 0 (got {min_scale}, {relative_min_scale})")]
    InvalidScaleFloor {
        /// The `min_scale` given.
        min_scale: f64,
        /// The `relative_min_scale` given.
        relative_min_scale: f64,
    },
    /// A top-k count of 0 or above [`MAX_TOP_FEATURES`].
    #[error("top-k count {k} is outside 1..={max}")]
    TopKOutOfRange {
        /// The count given.
        k: usize,
        /// [`MAX_TOP_FEATURES`].
        max: usize,
    },
    /// A vector whose length is not the feature count.
    #[error("vector has {found} features, the statistics cover {expected}")]
    WrongFeatureCount {
        /// Feature count of the statistics.
        expected: usize,
        /// Length of the vector.
        found: usize,
    },
    /// A NaN or infinite feature.
    #[error("feature {feature} is not finite ({value})")]
    NonFinite {
        /// Index of the feature.
        feature: usize,
        /// The value.
        value: f64,
    },
}

/// A combined robust deviation score: 0 at the baseline median, unbounded above.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviationScore(pub f64);

/// How far one feature of a vector lies from its baseline, in robust standard deviations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureDeviation {
    /// Index of the feature in the vector.
    pub feature: usize,
    /// `|x − median| / scale`.
    pub z: f64,
}

/// Baseline location and spread of one feature.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Median of the feature over the baseline.
    pub median: f64,
    /// Robust standard deviation after the floors (always finite and positive).
    pub scale: f64,
}

/// The features that deviate most, largest `z` first (ties: lower feature index first), held
/// inline so that scoring never allocates. Dereferences to a slice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopFeatures {
    items: [FeatureDeviation; MAX_TOP_FEATURES],
    len: usize,
    capacity: usize,
}

impl TopFeatures {
    /// An empty list that will keep the `capacity` (≤ [`MAX_TOP_FEATURES`]) largest offers.
    fn with_capacity(capacity: usize) -> Self {
        debug_assert!(capacity <= MAX_TOP_FEATURES);
        Self {
            items: [FeatureDeviation { feature: 0, z: 0.0 }; MAX_TOP_FEATURES],
            len: 0,
            capacity,
        }
    }

    /// Keeps `candidate` if it is among the `capacity` largest seen so far. Insertion into a
    /// sorted array: `capacity` is tiny, so this beats a heap.
    fn offer(&mut self, candidate: FeatureDeviation) {
        if self.len == self.capacity {
            match self.items[..self.len].last() {
                Some(last) if candidate.z > last.z => self.len -= 1,
                _ => return,
            }
        }
        // Strictly-less keeps earlier (lower-index) features ahead on ties.
        let pos = self.items[..self.len]
            .iter()
            .position(|d| d.z < candidate.z)
            .unwrap_or(self.len);
        self.items.copy_within(pos..self.len, pos + 1);
        self.items[pos] = candidate;
        self.len += 1;
    }

    /// Drops all but the first `len` entries.
    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// The entries, largest `z` first.
    pub fn as_slice(&self) -> &[FeatureDeviation] {
        &self.items[..self.len]
    }
}

impl Deref for TopFeatures {
    type Target = [FeatureDeviation];
    fn deref(&self) -> &[FeatureDeviation] {
        self.as_slice()
    }
}

/// Per-feature baseline medians and robust scales.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RobustStats {
    features: Vec<FeatureStats>,
    combine: Combine,
}

impl RobustStats {
    /// Computes each feature's median and robust scale over the rows of `data`.
    pub fn fit(data: &FeatureMatrix, params: &RobustParams) -> Result<Self, RobustError> {
        let RobustParams {
            min_scale,
            relative_min_scale,
            combine,
        } = *params;
        if !(min_scale.is_finite()
            && min_scale > 0.0
            && relative_min_scale.is_finite()
            && relative_min_scale >= 0.0)
        {
            return Err(RobustError::InvalidScaleFloor {
                min_scale,
                relative_min_scale,
            });
        }
        check_top_k(combine.width())?;
        if data.n_rows() == 0 {
            return Err(RobustError::NoRows);
        }
        let mut column = Vec::with_capacity(data.n_rows());
        let features = (0..data.n_features())
            .map(|j| {
                column.clear();
                column.extend(data.rows().map(|r| r[j]));
                let center = median(&mut column);
                for v in &mut column {
                    *v = (*v - center).abs();
                }
                let mad = median(&mut column);
                let spread = if mad > 0.0 {
                    MAD_TO_SIGMA * mad
                } else {
                    MEAN_AD_TO_SIGMA * column.iter().sum::<f64>() / column.len() as f64
                };
                let floor = min_scale.max(relative_min_scale * center.abs());
                FeatureStats {
                    median: center,
                    scale: spread.max(floor),
                }
            })
            .collect();
        Ok(Self { features, combine })
    }

    /// The combined deviation score of `x`.
    pub fn score(&self, x: &[f64]) -> Result<DeviationScore, RobustError> {
        self.check(x)?;
        Ok(self.combined(&self.rank(x, self.combine.width())))
    }

    /// The `k` (1 to [`MAX_TOP_FEATURES`]) features of `x` that deviate most.
    pub fn top_features(&self, x: &[f64], k: usize) -> Result<TopFeatures, RobustError> {
        check_top_k(k)?;
        self.check(x)?;
        Ok(self.rank(x, k))
    }

    /// Score and the `evidence` (≤ [`MAX_TOP_FEATURES`], checked by the caller) top features of a
    /// vector already checked with [`check_vector`], ranked in one pass.
    pub(crate) fn evaluate_checked(
        &self,
        x: &[f64],
        evidence: usize,
    ) -> (DeviationScore, TopFeatures) {
        let mut top = self.rank(x, evidence.max(self.combine.width()));
        let score = self.combined(&top);
        top.truncate(evidence);
        (score, top)
    }

    /// Per-feature statistics, in feature order.
    pub fn feature_stats(&self) -> &[FeatureStats] {
        &self.features
    }

    /// The combination rule the statistics were fitted with.
    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.features.len()
    }

    fn check(&self, x: &[f64]) -> Result<(), RobustError> {
        check_vector(x, self.features.len()).map_err(|e| match e {
            VectorError::Length(found) => RobustError::WrongFeatureCount {
                expected: self.features.len(),
                found,
            },
            VectorError::NonFinite { feature, value } => RobustError::NonFinite { feature, value },
        })
    }

    /// The `capacity` largest per-feature `z` values of `x`.
    fn rank(&self, x: &[f64], capacity: usize) -> TopFeatures {
        let mut top = TopFeatures::with_capacity(capacity);
        for (feature, (&v, s)) in x.iter().zip(&self.features).enumerate() {
            top.offer(FeatureDeviation {
                feature,
                z: (v - s.median).abs() / s.scale,
            });
        }
        top
    }

    /// Applies the combination rule to a ranking at least `combine.width()` long (or holding
    /// every feature, when there are fewer).
    fn combined(&self, top: &TopFeatures) -> DeviationScore {
        let used = &top[..top.len().min(self.combine.width())];
        DeviationScore(match self.combine {
            Combine::Max => used.first().map_or(0.0, |d| d.z),
            Combine::TopKMean { .. } => {
                used.iter().map(|d| d.z).sum::<f64>() / used.len().max(1) as f64
            }
        })
    }

    /// Checks the invariants scoring relies on (see `IsolationForest::validate`).
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.features.is_empty() {
            return Err("robust statistics cover no features".into());
        }
        check_top_k(self.combine.width()).map_err(|e| e.to_string())?;
        match self
            .features
            .iter()
            .position(|s| !(s.median.is_finite() && s.scale.is_finite() && s.scale > 0.0))
        {
            Some(j) => Err(format!("feature {j} has a non-finite median or bad scale")),
            None => Ok(()),
        }
    }
}

/// Checks a top-k count against `1..=MAX_TOP_FEATURES`.
pub(crate) fn check_top_k(k: usize) -> Result<(), RobustError> {
    if (1..=MAX_TOP_FEATURES).contains(&k) {
        Ok(())
    } else {
        Err(RobustError::TopKOutOfRange {
            k,
            max: MAX_TOP_FEATURES,
        })
    }
}

/// Median of non-empty `values` (reordered in place); the midpoint of the two middle values
/// for an even count.
fn median(values: &mut [f64]) -> f64 {
    let n = values.len();
    let (lower, &mut upper, _) = values.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        // After selection the lower middle value is the largest of the lower part.
        let lower_middle = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        f64::midpoint(lower_middle, upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(rows: &[Vec<f64>], params: &RobustParams) -> RobustStats {
        RobustStats::fit(&FeatureMatrix::from_rows(rows).unwrap(), params).unwrap()
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
        assert_eq!(median(&mut [f64::MAX, f64::MAX]), f64::MAX);
    }

    #[test]
    fn mad_scale_and_z() {
        // Median 3, absolute deviations {2,1,0,1,2} → MAD 1 → scale 1.4826.
        let s = stats(
            &[vec![1.0], vec![2.0], vec![3.0], vec![4.0], vec![5.0]],
            &RobustParams::default(),
        );
        assert_eq!(s.feature_stats()[0].median, 3.0);
        assert!((s.feature_stats()[0].scale - 1.4826).abs() < 1e-12);
        let z = s.score(&[3.0 + 2.0 * 1.4826]).unwrap().0;
        assert!((z - 2.0).abs() < 1e-12);
        assert_eq!(s.score(&[3.0]).unwrap(), DeviationScore(0.0));
    }

    #[test]
    fn zero_mad_falls_back_to_mean_absolute_deviation() {
        // Nine zeros and one 10: MAD 0, mean |x − 0| = 1 → scale √(π/2).
        let mut rows = vec![vec![0.0]; 9];
        rows.push(vec![10.0]);
        let s = stats(&rows, &RobustParams::default());
        assert!((s.feature_stats()[0].scale - MEAN_AD_TO_SIGMA).abs() < 1e-12);
    }

    #[test]
    fn constant_features_use_the_floors() {
        let s = stats(&vec![vec![0.0, 1000.0]; 5], &RobustParams::default());
        assert_eq!(s.feature_stats()[0].scale, 1e-3);
        assert_eq!(s.feature_stats()[1].scale, 1.0);
        // A change of one unit on the constant-zero feature is large but finite.
        assert!((s.score(&[1.0, 1000.0]).unwrap().0 - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn top_features_are_ordered_and_ties_keep_index_order() {
        let rows: Vec<Vec<f64>> = (0..5).map(|i| vec![f64::from(i); 4]).collect();
        let s = stats(&rows, &RobustParams::default());
        let top = s.top_features(&[2.0, 9.0, 2.0 + 7.0, -20.0], 3).unwrap();
        let order: Vec<usize> = top.iter().map(|d| d.feature).collect();
        assert_eq!(order, vec![3, 1, 2]);
        assert!(top[0].z > top[1].z && top[1].z == top[2].z);
        assert_eq!(
            s.top_features(&[0.0; 4], 0),
            Err(RobustError::TopKOutOfRange {
                k: 0,
                max: MAX_TOP_FEATURES
            })
        );
    }

    #[test]
    fn top_k_mean_averages_the_largest() {
        let rows: Vec<Vec<f64>> = (0..5).map(|i| vec![f64::from(i); 3]).collect();
        let params = RobustParams {
            combine: Combine::TopKMean { k: 2 },
            ..RobustParams::default()
        };
        let s = stats(&rows, &params);
        let x = [2.0 + 1.4826, 2.0 + 3.0 * 1.4826, 2.0];
        assert!((s.score(&x).unwrap().0 - 2.0).abs() < 1e-12);
        let (score, top) = s.evaluate_checked(&x, 1);
        assert!((score.0 - 2.0).abs() < 1e-12);
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].feature, 1);
    }

    #[test]
    fn fit_and_score_reject_bad_input() {
        let data = FeatureMatrix::from_rows(&[vec![1.0, 2.0]]).unwrap();
        let bad_floor = RobustParams {
            min_scale: 0.0,
            ..RobustParams::default()
        };
        assert!(matches!(
            RobustStats::fit(&data, &bad_floor),
            Err(RobustError::InvalidScaleFloor { .. })
        ));
        let bad_k = RobustParams {
            combine: Combine::TopKMean {
                k: MAX_TOP_FEATURES + 1,
            },
            ..RobustParams::default()
        };
        assert!(matches!(
            RobustStats::fit(&data, &bad_k),
            Err(RobustError::TopKOutOfRange { .. })
        ));
        let empty = FeatureMatrix::from_row_major(vec![], 2).unwrap();
        assert_eq!(
            RobustStats::fit(&empty, &RobustParams::default()),
            Err(RobustError::NoRows)
        );
        let s = RobustStats::fit(&data, &RobustParams::default()).unwrap();
        assert_eq!(
            s.score(&[1.0]),
            Err(RobustError::WrongFeatureCount {
                expected: 2,
                found: 1
            })
        );
        assert!(matches!(
            s.score(&[f64::NAN, 1.0]),
            Err(RobustError::NonFinite { feature: 0, .. })
        ));
    }
}
