//! Alert thresholds calibrated on baseline data the models were not fitted on.
//!
//! Neither score has a natural cut-off: a forest score of 0.6 may be routine on one network and
//! rare on another, and a deviation of 8 robust σ may be the daily peak of a bursty feature. So
//! the baseline is split in two: the models are fitted on one part, the held-out part is scored,
//! and each score's threshold is the `q`-quantile (e.g. 99.9th percentile) of the held-out
//! scores, in that score's own scale. Scoring held-out rather than training rows matters: both
//! models fit their own training rows a little too well (a training row was one of the points
//! the trees isolated, and helped set the medians), which would put the thresholds too low.
//!
//! The intended reading: on traffic like the baseline, each score exceeds its threshold for about
//! a fraction `1 − q` of flows, so alerting when either does flags at most about `2 (1 − q)`.
//! A quantile is only meaningful when enough held-out rows lie above it, so calibration needs at
//! least [`min_holdout_rows`]`(q)` of them (1000 for the 99.9th percentile).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::forest::ForestScore;
use crate::matrix::FeatureMatrix;
use crate::robust::DeviationScore;

/// Fewest rows the models are fitted on: the forest needs two to split anything.
pub const MIN_FIT_ROWS: usize = 2;

/// Which baseline rows are held out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HoldoutOrder {
    /// A seeded random sample of the rows: held-out rows come from the same period as the
    /// fitted ones, so the thresholds reflect the baseline's own variability.
    Shuffled {
        /// Seed of the shuffle.
        seed: u64,
    },
    /// The last rows, in the order given (usually time order): the thresholds then also absorb
    /// the drift between the fitted period and the later one, which is closer to what the model
    /// meets in service, but a baseline with a one-off event at its end will skew them.
    Tail,
}

/// Parameters of the holdout split and of the threshold quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationParams {
    /// Share of the baseline rows held out for calibration, in (0, 1) (default 0.2).
    pub holdout_fraction: f64,
    /// Quantile of the held-out scores used as threshold, in (0, 1) (default 0.999).
    pub quantile: f64,
    /// Which rows are held out (default shuffled with seed 0).
    pub order: HoldoutOrder,
}

impl Default for CalibrationParams {
    fn default() -> Self {
        Self {
            holdout_fraction: 0.2,
            quantile: 0.999,
            order: HoldoutOrder::Shuffled { seed: 0 },
        }
    }
}

/// Why thresholds could not be calibrated.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CalibrationError {
    /// A quantile outside its range (`[0, 1]` for [`quantile`], `(0, 1)` for thresholds) or NaN.
    #[error("quantile {0} is out of range")]
    QuantileOutOfRange(f64),
    /// A holdout fraction outside (0, 1).
    #[error("holdout fraction {0} is outside (0, 1)")]
    HoldoutFractionOutOfRange(f64),
    /// No values to take a quantile of.
    #[error("no values to take a quantile of")]
    Empty,
    /// A NaN among the values, which has no place in an order.
    #[error("value {index} is NaN")]
    NaN {
        /// Index of the NaN.
        index: usize,
    },
    /// Too few held-out rows for the requested quantile.
    #[error("{found} held-out rows, the {quantile} quantile needs at least {needed}")]
    TooFewHoldoutRows {
        /// The quantile asked for.
        quantile: f64,
        /// [`min_holdout_rows`] of it.
        needed: usize,
        /// Held-out rows available.
        found: usize,
    },
    /// Too few rows left to fit on after holding out.
    #[error("only {found} rows left to fit on after the holdout, at least {needed} are needed")]
    TooFewFitRows {
        /// [`MIN_FIT_ROWS`].
        needed: usize,
        /// Rows left.
        found: usize,
    },
    /// Forest and deviation score lists of different lengths.
    #[error("{forest} forest scores but {deviation} deviation scores")]
    LengthMismatch {
        /// Number of forest scores.
        forest: usize,
        /// Number of deviation scores.
        deviation: usize,
    },
}

/// Per-score alert thresholds: a score strictly above its threshold is unusual for the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// The quantile the thresholds were taken at.
    pub quantile: f64,
    /// Threshold on [`ForestScore`].
    pub forest: ForestScore,
    /// Threshold on [`DeviationScore`].
    pub deviation: DeviationScore,
    /// Number of held-out rows the quantiles were taken over.
    pub holdout_rows: usize,
}

impl Thresholds {
    /// Thresholds at quantile `q` of the held-out rows' scores (one forest and one deviation
    /// score per row).
    pub fn from_holdout(
        forest: &[ForestScore],
        deviation: &[DeviationScore],
        q: f64,
    ) -> Result<Self, CalibrationError> {
        if forest.len() != deviation.len() {
            return Err(CalibrationError::LengthMismatch {
                forest: forest.len(),
                deviation: deviation.len(),
            });
        }
        let needed = min_holdout_rows(q)?;
        if forest.len() < needed {
            return Err(CalibrationError::TooFewHoldoutRows {
                quantile: q,
                needed,
                found: forest.len(),
            });
        }
        let forest_values: Vec<f64> = forest.iter().map(|s| s.0).collect();
        let deviation_values: Vec<f64> = deviation.iter().map(|s| s.0).collect();
        Ok(Self {
            quantile: q,
            forest: ForestScore(quantile(&forest_values, q)?),
            deviation: DeviationScore(quantile(&deviation_values, q)?),
            holdout_rows: forest.len(),
        })
    }

    /// Checks the invariants a loaded model relies on.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let ok = self.quantile > 0.0
            && self.quantile < 1.0
            && self.forest.0.is_finite()
            && self.deviation.0.is_finite();
        if ok {
            Ok(())
        } else {
            Err(format!("thresholds out of range: {self:?}"))
        }
    }
}

/// Fewest held-out rows for a meaningful `q`-quantile threshold, `⌈1 / (1 − q)⌉`: with fewer,
/// less than one held-out row is expected above the threshold, so the estimate is really just
/// the largest value seen. `q` must lie in (0, 1).
pub fn min_holdout_rows(q: f64) -> Result<usize, CalibrationError> {
    if !(q > 0.0 && q < 1.0) {
        return Err(CalibrationError::QuantileOutOfRange(q));
    }
    let rows = 1.0 / (1.0 - q);
    // 1 / (1 − 0.999) is 1000.0000000000009 in floating point; don't let that demand 1001 rows.
    Ok((rows - rows * 1e-9).ceil() as usize)
}

/// The `q`-quantile of `values` (`q` in [0, 1]), interpolating linearly between the two nearest
/// order statistics: position `(n − 1) q` in the sorted values (type 7 of Hyndman & Fan, the
/// default of R and NumPy).
pub fn quantile(values: &[f64], q: f64) -> Result<f64, CalibrationError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(CalibrationError::QuantileOutOfRange(q));
    }
    if values.is_empty() {
        return Err(CalibrationError::Empty);
    }
    if let Some(index) = values.iter().position(|v| v.is_nan()) {
        return Err(CalibrationError::NaN { index });
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Ok(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Baseline rows split into a part to fit on and a part to calibrate on.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutSplit {
    /// Rows to fit the models on.
    pub fit: FeatureMatrix,
    /// Rows to score for the thresholds.
    pub holdout: FeatureMatrix,
}

/// Splits `data` per `params`, checking that both parts are large enough.
pub fn split_holdout(
    data: &FeatureMatrix,
    params: &CalibrationParams,
) -> Result<HoldoutSplit, CalibrationError> {
    let fraction = params.holdout_fraction;
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(CalibrationError::HoldoutFractionOutOfRange(fraction));
    }
    let n = data.n_rows();
    let n_holdout = (n as f64 * fraction).round() as usize;
    let needed = min_holdout_rows(params.quantile)?;
    if n_holdout < needed {
        return Err(CalibrationError::TooFewHoldoutRows {
            quantile: params.quantile,
            needed,
            found: n_holdout,
        });
    }
    let n_fit = n - n_holdout;
    if n_fit < MIN_FIT_ROWS {
        return Err(CalibrationError::TooFewFitRows {
            needed: MIN_FIT_ROWS,
            found: n_fit,
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    if let HoldoutOrder::Shuffled { seed } = params.order {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    }
    let (fit, holdout) = order.split_at(n_fit);
    Ok(HoldoutSplit {
        fit: data.select_rows(fit),
        holdout: data.select_rows(holdout),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_between_order_statistics() {
        let v = [5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&v, 0.0), Ok(1.0));
        assert_eq!(quantile(&v, 0.25), Ok(2.0));
        assert_eq!(quantile(&v, 0.5), Ok(3.0));
        assert_eq!(quantile(&v, 1.0), Ok(5.0));
        assert!((quantile(&v, 0.9).unwrap() - 4.6).abs() < 1e-12);
        assert_eq!(quantile(&[7.0], 0.3), Ok(7.0));
        // NumPy: np.quantile(np.arange(1, 1001), 0.999) == 999.001
        let ramp: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert!((quantile(&ramp, 0.999).unwrap() - 999.001).abs() < 1e-9);
    }

    #[test]
    fn quantile_rejects_bad_input() {
        assert_eq!(quantile(&[], 0.5), Err(CalibrationError::Empty));
        assert_eq!(
            quantile(&[1.0], 1.5),
            Err(CalibrationError::QuantileOutOfRange(1.5))
        );
        assert!(quantile(&[1.0], f64::NAN).is_err());
        assert_eq!(
            quantile(&[1.0, f64::NAN], 0.5),
            Err(CalibrationError::NaN { index: 1 })
        );
    }

    #[test]
    fn min_holdout_rows_for_common_quantiles() {
        assert_eq!(min_holdout_rows(0.5), Ok(2));
        assert_eq!(min_holdout_rows(0.99), Ok(100));
        assert_eq!(min_holdout_rows(0.999), Ok(1000));
        assert_eq!(min_holdout_rows(0.9999), Ok(10000));
        assert!(min_holdout_rows(1.0).is_err());
        assert!(min_holdout_rows(0.0).is_err());
    }

    fn ramp(n: usize) -> FeatureMatrix {
        FeatureMatrix::from_row_major((0..n).map(|i| i as f64).collect(), 1).unwrap()
    }

    #[test]
    fn tail_split_holds_out_the_last_rows() {
        let params = CalibrationParams {
            holdout_fraction: 0.25,
            quantile: 0.5,
            order: HoldoutOrder::Tail,
        };
        let split = split_holdout(&ramp(8), &params).unwrap();
        let fit: Vec<f64> = split.fit.rows().map(|r| r[0]).collect();
        let holdout: Vec<f64> = split.holdout.rows().map(|r| r[0]).collect();
        assert_eq!(fit, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(holdout, vec![6.0, 7.0]);
    }

    #[test]
    fn shuffled_split_is_a_seeded_partition() {
        let params = CalibrationParams {
            holdout_fraction: 0.3,
            quantile: 0.9,
            order: HoldoutOrder::Shuffled { seed: 7 },
        };
        let a = split_holdout(&ramp(100), &params).unwrap();
        let b = split_holdout(&ramp(100), &params).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.fit.n_rows(), a.holdout.n_rows()), (70, 30));
        let mut all: Vec<f64> = a.fit.rows().chain(a.holdout.rows()).map(|r| r[0]).collect();
        all.sort_unstable_by(f64::total_cmp);
        assert_eq!(all, (0..100).map(f64::from).collect::<Vec<_>>());
        assert_ne!(
            a.holdout,
            ramp(100).select_rows(&(70..100).collect::<Vec<_>>())
        );
    }

    #[test]
    fn split_checks_sizes() {
        let params = CalibrationParams::default();
        assert_eq!(
            split_holdout(&ramp(1000), &params),
            Err(CalibrationError::TooFewHoldoutRows {
                quantile: 0.999,
                needed: 1000,
                found: 200
            })
        );
        let greedy = CalibrationParams {
            holdout_fraction: 0.99,
            quantile: 0.5,
            ..params
        };
        assert_eq!(
            split_holdout(&ramp(100), &greedy),
            Err(CalibrationError::TooFewFitRows {
                needed: 2,
                found: 1
            })
        );
        let zero = CalibrationParams {
            holdout_fraction: 0.0,
            ..params
        };
        assert_eq!(
            split_holdout(&ramp(100), &zero),
            Err(CalibrationError::HoldoutFractionOutOfRange(0.0))
        );
    }

    #[test]
    fn thresholds_take_each_scores_quantile() {
        let forest: Vec<ForestScore> = (0..100)
            .map(|i| ForestScore(f64::from(i) / 100.0))
            .collect();
        let deviation: Vec<DeviationScore> =
            (0..100).map(|i| DeviationScore(f64::from(i))).collect();
        let t = Thresholds::from_holdout(&forest, &deviation, 0.99).unwrap();
        assert!((t.forest.0 - 0.9801).abs() < 1e-12);
        assert!((t.deviation.0 - 98.01).abs() < 1e-9);
        assert_eq!(t.holdout_rows, 100);
        assert_eq!(
            Thresholds::from_holdout(&forest[..50], &deviation[..50], 0.99),
            Err(CalibrationError::TooFewHoldoutRows {
                quantile: 0.99,
                needed: 100,
                found: 50
            })
        );
        assert_eq!(
            Thresholds::from_holdout(&forest, &deviation[..1], 0.5),
            Err(CalibrationError::LengthMismatch {
                forest: 100,
                deviation: 1
            })
        );
    }
}
