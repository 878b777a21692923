//! A dense, row-major matrix of feature vectors, the training input of every model in this crate.
//!
//! The feature count is only known at run time (it comes from the feature extractor), so rows are
//! stored back to back in one `Vec<f64>` rather than as `Vec<Vec<f64>>`: one allocation, and the
//! forest builder walks rows by index without chasing pointers.

use thiserror::Error;

/// Why a set of rows could not become a [`FeatureMatrix`].
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MatrixError {
    /// The feature count was zero: there is nothing to score.
    #[error("a feature matrix needs at least one feature per row")]
    NoFeatures,
    /// `from_rows` was given no rows, so the feature count cannot be known.
    #[error("no rows given, so the feature count is unknown")]
    NoRows,
    /// A row-major buffer whose length is not a multiple of the feature count.
    #[error(
        "a row-major buffer of {len} values is not a whole number of rows of {n_features} features"
    )]
    NotWholeRows {
        /// Length of the buffer.
        len: usize,
        /// Declared feature count.
        n_features: usize,
    },
    /// A row whose length differs from the first row's.
    #[error("row {row} has {found} features, expected {expected}")]
    RaggedRow {
        /// Index of the offending row.
        row: usize,
        /// Feature count of the first row.
        expected: usize,
        /// Feature count of this row.
        found: usize,
    },
    /// A NaN or infinite value; training on one would poison medians and split ranges.
    #[error("row {row}, feature {feature} is not finite ({value})")]
    NonFinite {
        /// Index of the offending row.
        row: usize,
        /// Index of the offending feature.
        feature: usize,
        /// The value itself.
        value: f64,
    },
}

/// Rows of finite feature values, all of the same length, stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    values: Vec<f64>,
    n_features: usize,
}

impl FeatureMatrix {
    /// Copies `rows` (e.g. a `&[Vec<f64>]`) into a matrix; the first row fixes the feature count.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, MatrixError> {
        let n_features = rows.first().ok_or(MatrixError::NoRows)?.as_ref().len();
        let mut values = Vec::with_capacity(n_features * rows.len());
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != n_features {
                return Err(MatrixError::RaggedRow {
                    row,
                    expected: n_features,
                    found: r.len(),
                });
            }
            values.extend_from_slice(r);
        }
        Self::from_row_major(values, n_features)
    }

    /// Takes ownership of a row-major buffer of `values.len() / n_features` rows.
    pub fn from_row_major(values: Vec<f64>, n_features: usize) -> Result<Self, MatrixError> {
        if n_features == 0 {
            return Err(MatrixError::NoFeatures);
        }
        if !values.len().is_multiple_of(n_features) {
            return Err(MatrixError::NotWholeRows {
                len: values.len(),
                n_features,
            });
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(MatrixError::NonFinite {
                row: i / n_features,
                feature: i % n_features,
                value: values[i],
            });
        }
        Ok(Self { values, n_features })
    }

    /// Number of rows (samples).
    pub fn n_rows(&self) -> usize {
        self.values.len() / self.n_features
    }

    /// Number of features per row.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Row `i`; panics if `i >= n_rows()`, like slice indexing.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The rows in order.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[f64]> {
        self.values.chunks_exact(self.n_features)
    }

    /// A new matrix made of the rows at `indices`, in that order.
    pub(crate) fn select_rows(&self, indices: &[usize]) -> Self {
        let mut values = Vec::with_capacity(indices.len() * self.n_features);
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Self {
            values,
            n_features: self.n_features,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_rows_keeps_order_and_shape() {
        let m =
            FeatureMatrix::from_rows(&[vec![1.0, 2.0], vec![3.0, 4.0], vec![5.0, 6.0]]).unwrap();
        assert_eq!(m.n_rows(), 3);
        assert_eq!(m.n_features(), 2);
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert_eq!(m.rows().len(), 3);
        assert_eq!(m.select_rows(&[2, 0]).row(0), &[5.0, 6.0]);
    }

    #[test]
    fn rejects_bad_shapes_and_values() {
        let empty: &[Vec<f64>] = &[];
        assert_eq!(FeatureMatrix::from_rows(empty), Err(MatrixError::NoRows));
        assert_eq!(
            FeatureMatrix::from_rows(&[vec![1.0, 2.0], vec![3.0]]),
            Err(MatrixError::RaggedRow {
                row: 1,
                expected: 2,
                found: 1
            })
        );
        assert_eq!(
            FeatureMatrix::from_row_major(vec![1.0; 5], 2),
            Err(MatrixError::NotWholeRows {
                len: 5,
                n_features: 2
            })
        );
        assert_eq!(
            FeatureMatrix::from_row_major(vec![], 0),
            Err(MatrixError::NoFeatures)
        );
        assert!(matches!(
            FeatureMatrix::from_row_major(vec![0.0, 1.0, f64::NAN, 2.0], 2),
            Err(MatrixError::NonFinite {
                row: 1,
                feature: 0,
                ..
            })
        ));
    }
}
