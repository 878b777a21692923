//! Isolation forest (Liu, Ting & Zhou, 2008), built for fast scoring of one vector at a time.
//!
//! Each tree is grown on a random subsample of ψ rows by splitting on a random feature at a
//! uniformly random value between that feature's minimum and maximum in the node, until a node
//! holds one row or the depth limit ⌈log₂ ψ⌉ is reached. Anomalies are isolated close to the
//! root, so the anomaly score of `x` is `s(x) = 2^(−E[h(x)] / c(ψ))`, where `h(x)` is the depth
//! of the leaf `x` falls into plus `c(size of that leaf)` (the expected depth still needed to
//! isolate it among the rows the leaf held), and `c(n)` is the average path length of an
//! unsuccessful search in a binary search tree of `n` keys, see [`average_path_length`].
//! Scores lie in (0, 1]: around 0.5 and below is normal, approaching 1 is anomalous.
//!
//! Every node of every tree lives in one flat `Vec` of 16-byte nodes whose two children are
//! adjacent, and a leaf points to itself. Scoring therefore needs neither allocation nor
//! branches: it takes exactly as many steps as the deepest leaf in the forest, walking several
//! trees in lockstep so that their (dependent, cache-missing) node loads overlap instead of
//! queueing one behind the other.
//!
//! A known limit: splits are drawn inside the training range, so every point beyond the range
//! in the same direction follows the same path; a point twice as far out as the training data
//! and one a million times as far get the same score. [`crate::robust`] covers that case.

use std::path::Path;

use rand::seq::index;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::matrix::FeatureMatrix;
use crate::persist::{self, PersistError};

/// Euler–Mascheroni constant γ (`f64::consts::EGAMMA` is not stable yet).
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// `kind` recorded in the envelope of a saved forest.
const FILE_KIND: &str = "argus-kronos/isolation-forest";

/// Largest number of nodes a forest may have: node indices are `u32`.
const MAX_NODES: u32 = u32::MAX;

/// Trees walked in lockstep when scoring: enough independent loads to hide memory latency,
/// few enough that the walk state stays in registers.
const LANES: usize = 8;

/// Default number of trees; the original paper found path lengths converge well before 100.
pub const DEFAULT_N_TREES: usize = 100;

/// Default subsample size ψ per tree, the paper's recommendation: larger samples add cost but
/// make anomalies harder to isolate (swamping and masking).
pub const DEFAULT_SUBSAMPLE_SIZE: usize = 256;

/// `c(n)`: the average path length of an unsuccessful search in a binary search tree of `n`
/// keys, used to normalise path lengths, with the harmonic number approximated as
/// `H(i) ≈ ln(i) + γ`:
///
/// `c(n) = 2 H(n − 1) − 2 (n − 1) / n` for `n > 2`, `c(2) = 1`, `c(0) = c(1) = 0`.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// `⌈log₂ ψ⌉`, the depth by which an average-sized tree would have isolated every row: deeper
/// nodes only separate normal rows from each other, which the score does not need.
fn default_max_depth(subsample_size: usize) -> usize {
    (usize::BITS - subsample_size.saturating_sub(1).leading_zeros()) as usize
}

/// Parameters of [`IsolationForest::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees (default [`DEFAULT_N_TREES`]).
    pub n_trees: usize,
    /// Rows drawn without replacement for each tree, ψ (default [`DEFAULT_SUBSAMPLE_SIZE`]);
    /// capped at the number of training rows.
    pub subsample_size: usize,
    /// Depth limit; `None` means `⌈log₂ ψ⌉` of the effective ψ.
    pub max_depth: Option<usize>,
    /// Seed of the random generator: the same data, parameters and seed give the same forest.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            n_trees: DEFAULT_N_TREES,
            subsample_size: DEFAULT_SUBSAMPLE_SIZE,
            max_depth: None,
            seed: 0,
        }
    }
}

/// Why a forest could not be fitted or a vector scored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ForestError {
    /// `n_trees` was zero.
    #[error("an isolation forest needs at least one tree")]
    NoTrees,
    /// `subsample_size` below 2: with one row per tree there is nothing to isolate and `c(ψ)`
    /// is zero.
    #[error("subsample size {0} is below the minimum of 2")]
    SubsampleTooSmall(usize),
    /// `max_depth` of zero: every tree would be a single leaf.
    #[error("max_depth must be at least 1")]
    ZeroDepth,
    /// Fewer than two training rows.
    #[error("{found} training rows, at least 2 are needed")]
    TooFewRows {
        /// Rows given.
        found: usize,
    },
    /// The forest would have more nodes than a `u32` index can address.
    #[error("the forest would exceed {max} nodes; use fewer trees or a smaller subsample")]
    TooManyNodes {
        /// The limit.
        max: u32,
    },
    /// A vector whose length is not the forest's feature count.
    #[error("vector has {found} features, the forest was trained on {expected}")]
    WrongFeatureCount {
        /// Feature count of the forest.
        expected: usize,
        /// Length of the vector.
        found: usize,
    },
    /// A NaN or infinite feature, which has no place on either side of a split.
    #[error("feature {feature} is not finite ({value})")]
    NonFinite {
        /// Index of the feature.
        feature: usize,
        /// The value.
        value: f64,
    },
}

/// An isolation-forest anomaly score in (0, 1]; higher is more anomalous.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ForestScore(pub f64);

/// One tree node: `x[feature] < threshold` goes to `left`, otherwise to `left + 1`.
///
/// A leaf has `left` pointing at itself and an infinite threshold, so a step from a leaf stays
/// on it (every finite value is below the threshold). That lets scoring take the same number of
/// steps in every tree with no test for "is this a leaf".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Node {
    threshold: f64,
    feature: u32,
    left: u32,
}

impl Node {
    /// The leaf at index `index`.
    fn leaf(index: usize) -> Self {
        Self {
            threshold: f64::INFINITY,
            feature: 0,
            left: index as u32,
        }
    }

    /// Index of the next node for `x` (the node itself for a leaf).
    #[inline(always)]
    fn step(&self, x: &[f64]) -> usize {
        self.left as usize + usize::from(x[self.feature as usize] >= self.threshold)
    }
}

/// A fitted isolation forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsolationForest {
    n_features: usize,
    /// Effective ψ: the requested subsample size capped at the number of training rows.
    subsample_size: usize,
    max_depth: usize,
    /// Depth of the deepest leaf in the forest: the number of steps scoring takes per tree.
    depth: usize,
    /// All nodes of all trees; children always come after their parent.
    nodes: Vec<Node>,
    /// Per node, the path length `h = depth + c(rows in leaf)` a vector ending there adds;
    /// 0 for internal nodes. Kept apart from `nodes` so the walk touches 16 bytes per step.
    path_lengths: Vec<f64>,
    /// Index of each tree's root in `nodes`.
    roots: Vec<u32>,
}

impl IsolationForest {
    /// Grows a forest on the rows of `data`.
    pub fn fit(data: &FeatureMatrix, params: &ForestParams) -> Result<Self, ForestError> {
        if params.n_trees == 0 {
            return Err(ForestError::NoTrees);
        }
        if params.subsample_size < 2 {
            return Err(ForestError::SubsampleTooSmall(params.subsample_size));
        }
        if params.max_depth == Some(0) {
            return Err(ForestError::ZeroDepth);
        }
        let n_rows = data.n_rows();
        if n_rows < 2 {
            return Err(ForestError::TooFewRows { found: n_rows });
        }
        let subsample_size = params.subsample_size.min(n_rows);
        let max_depth = params
            .max_depth
            .unwrap_or_else(|| default_max_depth(subsample_size));
        // A tree over ψ rows has at most 2ψ − 1 nodes; checking up front keeps every `as u32`
        // below lossless.
        let max_nodes = params
            .n_trees
            .checked_mul(2 * subsample_size - 1)
            .filter(|&n| n <= MAX_NODES as usize);
        if max_nodes.is_none() {
            return Err(ForestError::TooManyNodes { max: MAX_NODES });
        }

        let mut builder = TreeBuilder::new(data, max_depth);
        let mut nodes = Vec::new();
        let mut path_lengths = Vec::new();
        let mut roots = Vec::with_capacity(params.n_trees);
        for tree in 0..params.n_trees {
            // One independent ChaCha stream per tree: tree `t` depends only on the seed and
            // `t`, so growing trees in parallel later would not change the model.
            let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
            rng.set_stream(tree as u64);
            let mut rows = index::sample(&mut rng, n_rows, subsample_size).into_vec();
            roots.push(nodes.len() as u32);
            builder.grow(&mut rng, &mut rows, &mut nodes, &mut path_lengths);
        }
        nodes.shrink_to_fit();
        path_lengths.shrink_to_fit();
        Ok(Self {
            n_features: data.n_features(),
            subsample_size,
            max_depth,
            depth: builder.deepest,
            nodes,
            path_lengths,
            roots,
        })
    }

    /// Anomaly score of `x`, after checking its length and that every value is finite.
    pub fn score(&self, x: &[f64]) -> Result<ForestScore, ForestError> {
        check_vector(x, self.n_features).map_err(|e| match e {
            VectorError::Length(found) => ForestError::WrongFeatureCount {
                expected: self.n_features,
                found,
            },
            VectorError::NonFinite { feature, value } => ForestError::NonFinite { feature, value },
        })?;
        Ok(self.score_checked(x))
    }

    /// Score of a vector the caller has already checked with [`check_vector`].
    pub(crate) fn score_checked(&self, x: &[f64]) -> ForestScore {
        let mean_path = self.path_length_sum(x) / self.roots.len() as f64;
        ForestScore((-mean_path / average_path_length(self.subsample_size)).exp2())
    }

    /// Sum over trees of `h(x)`.
    fn path_length_sum(&self, x: &[f64]) -> f64 {
        let mut chunks = self.roots.chunks_exact(LANES);
        let mut total: f64 = chunks
            .by_ref()
            .map(|roots| self.walk::<LANES>(roots, x))
            .sum();
        for root in chunks.remainder() {
            total += self.walk::<1>(std::slice::from_ref(root), x);
        }
        total
    }

    /// Sum of `h(x)` over the `N` trees rooted at `roots`, walked in lockstep.
    #[inline(always)]
    fn walk<const N: usize>(&self, roots: &[u32], x: &[f64]) -> f64 {
        let mut at = [0_usize; N];
        for (a, &root) in at.iter_mut().zip(roots) {
            *a = root as usize;
        }
        for _ in 0..self.depth {
            for a in &mut at {
                *a = self.nodes[*a].step(x);
            }
        }
        at.iter().map(|&a| self.path_lengths[a]).sum()
    }

    /// Number of features the forest was trained on.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Effective subsample size ψ (the requested one capped at the training row count).
    pub fn subsample_size(&self) -> usize {
        self.subsample_size
    }

    /// Depth limit the trees were grown with.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Total number of nodes over all trees (a measure of the model's memory footprint,
    /// 16 bytes per node).
    pub fn n_nodes(&self) -> usize {
        self.nodes.len()
    }

    /// Writes the forest to `path` (see [`crate::persist`] for the format).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PersistError> {
        persist::save(path.as_ref(), FILE_KIND, self.n_features, self)
    }

    /// Reads a forest written by [`IsolationForest::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PersistError> {
        Self::load_inner(path.as_ref(), None)
    }

    /// Reads a forest and fails with [`PersistError::FeatureCountMismatch`] unless it was trained
    /// on `n_features` features.
    pub fn load_expecting(path: impl AsRef<Path>, n_features: usize) -> Result<Self, PersistError> {
        Self::load_inner(path.as_ref(), Some(n_features))
    }

    fn load_inner(path: &Path, n_features: Option<usize>) -> Result<Self, PersistError> {
        let forest: Self = persist::load(path, FILE_KIND, n_features)?;
        forest
            .validate()
            .map_err(|reason| persist::invalid(path, reason))?;
        Ok(forest)
    }

    /// Checks the invariants scoring relies on, so a decodable but damaged file fails at load
    /// rather than panicking (index out of bounds) or silently scoring wrong: every node is in
    /// range and belongs to exactly one tree, and `depth` steps reach a leaf from every root.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let n = self.nodes.len();
        if self.n_features == 0 {
            return Err("no features".into());
        }
        if self.subsample_size < 2 {
            return Err(format!("subsample size {} below 2", self.subsample_size));
        }
        if self.roots.is_empty() {
            return Err("no trees".into());
        }
        if self.path_lengths.len() != n || n > MAX_NODES as usize {
            return Err(format!(
                "{n} nodes but {} path lengths",
                self.path_lengths.len()
            ));
        }
        // How many times each node is entered: as a root or as a child; must be once.
        let mut entries = vec![0_u8; n];
        // Depth of each node, filled parent-first since children follow their parent.
        let mut depth = vec![0_usize; n];
        for &root in &self.roots {
            let root = root as usize;
            if root >= n {
                return Err(format!("root {root} outside the {n} nodes"));
            }
            entries[root] = entries[root].saturating_add(1);
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let left = node.left as usize;
            let path_length = self.path_lengths[i];
            if left == i {
                let sound = node.threshold == f64::INFINITY
                    && path_length.is_finite()
                    && path_length >= 0.0;
                if !sound {
                    return Err(format!("leaf {i} is malformed"));
                }
                continue;
            }
            if left < i || left + 1 >= n {
                return Err(format!("node {i} has children out of order or range"));
            }
            if node.feature as usize >= self.n_features || !node.threshold.is_finite() {
                return Err(format!("node {i} has a bad split"));
            }
            if path_length != 0.0 {
                return Err(format!("internal node {i} has a path length"));
            }
            for child in [left, left + 1] {
                entries[child] = entries[child].saturating_add(1);
                depth[child] = depth[i] + 1;
            }
        }
        if let Some(i) = entries.iter().position(|&e| e != 1) {
            return Err(format!("node {i} is entered {} times", entries[i]));
        }
        let deepest = depth.iter().copied().max().unwrap_or(0);
        if deepest != self.depth {
            return Err(format!(
                "recorded depth {} but the deepest leaf is at {deepest}",
                self.depth
            ));
        }
        Ok(())
    }
}

/// What is wrong with a vector about to be scored.
pub(crate) enum VectorError {
    /// The vector has this many features instead of the expected count.
    Length(usize),
    /// A NaN or infinite value.
    NonFinite { feature: usize, value: f64 },
}

/// Checks a vector's length and that every value is finite (a NaN would pick a side of every
/// split arbitrarily and poison the deviation score).
pub(crate) fn check_vector(x: &[f64], n_features: usize) -> Result<(), VectorError> {
    if x.len() != n_features {
        return Err(VectorError::Length(x.len()));
    }
    match x.iter().position(|v| !v.is_finite()) {
        Some(feature) => Err(VectorError::NonFinite {
            feature,
            value: x[feature],
        }),
        None => Ok(()),
    }
}

/// A pending node: the rows `rows[start..end]` reached it at `depth`.
struct Pending {
    node: usize,
    start: usize,
    end: usize,
    depth: usize,
}

/// Grows trees, reusing its scratch buffers across nodes and trees.
struct TreeBuilder<'a> {
    data: &'a FeatureMatrix,
    max_depth: usize,
    /// Depth of the deepest leaf grown so far.
    deepest: usize,
    mins: Vec<f64>,
    maxs: Vec<f64>,
    splittable: Vec<usize>,
    stack: Vec<Pending>,
}

impl<'a> TreeBuilder<'a> {
    fn new(data: &'a FeatureMatrix, max_depth: usize) -> Self {
        let n = data.n_features();
        Self {
            data,
            max_depth,
            deepest: 0,
            mins: vec![0.0; n],
            maxs: vec![0.0; n],
            splittable: Vec::with_capacity(n),
            stack: Vec::new(),
        }
    }

    /// Grows one tree over `rows` (indices into the data), appending its nodes to `nodes` and
    /// their path lengths to `path_lengths`. Iterative rather than recursive so a large
    /// `max_depth` cannot overflow the stack.
    fn grow(
        &mut self,
        rng: &mut ChaCha8Rng,
        rows: &mut [usize],
        nodes: &mut Vec<Node>,
        path_lengths: &mut Vec<f64>,
    ) {
        self.stack.push(Pending {
            node: nodes.len(),
            start: 0,
            end: rows.len(),
            depth: 0,
        });
        // Every node starts as a leaf and is overwritten if it is split.
        nodes.push(Node::leaf(nodes.len()));
        path_lengths.push(0.0);
        while let Some(p) = self.stack.pop() {
            let node_rows = &mut rows[p.start..p.end];
            let split = if p.depth < self.max_depth && node_rows.len() > 1 {
                self.choose_split(rng, node_rows)
            } else {
                None
            };
            let Some((feature, threshold)) = split else {
                path_lengths[p.node] = p.depth as f64 + average_path_length(node_rows.len());
                self.deepest = self.deepest.max(p.depth);
                continue;
            };
            let data = self.data;
            let n_left = partition(node_rows, |r| data.row(r)[feature] < threshold);
            let left = nodes.len();
            nodes.extend([Node::leaf(left), Node::leaf(left + 1)]);
            path_lengths.extend([0.0, 0.0]);
            nodes[p.node] = Node {
                threshold,
                feature: feature as u32,
                left: left as u32,
            };
            let mid = p.start + n_left;
            self.stack.push(Pending {
                node: left + 1,
                start: mid,
                end: p.end,
                depth: p.depth + 1,
            });
            self.stack.push(Pending {
                node: left,
                start: p.start,
                end: mid,
                depth: p.depth + 1,
            });
        }
    }

    /// Picks a feature uniformly among those not constant over `rows`, and a threshold in
    /// `(min, max]` of that feature, so both sides of the split are non-empty. `None` when every
    /// feature is constant: the rows are duplicates and cannot be isolated from each other.
    fn choose_split(&mut self, rng: &mut ChaCha8Rng, rows: &[usize]) -> Option<(usize, f64)> {
        let first = self.data.row(rows[0]);
        self.mins.copy_from_slice(first);
        self.maxs.copy_from_slice(first);
        for &r in &rows[1..] {
            for (f, &v) in self.data.row(r).iter().enumerate() {
                self.mins[f] = self.mins[f].min(v);
                self.maxs[f] = self.maxs[f].max(v);
            }
        }
        self.splittable.clear();
        self.splittable
            .extend((0..self.mins.len()).filter(|&f| self.maxs[f] > self.mins[f]));
        if self.splittable.is_empty() {
            return None;
        }
        let feature = self.splittable[rng.random_range(0..self.splittable.len())];
        let (lo, hi) = (self.mins[feature], self.maxs[feature]);
        // `random` is in [0, 1), so `1 − u` is in (0, 1] and the threshold in (lo, hi]. Rounding
        // can still land it on `lo` when the range is tiny next to `lo`; `hi` keeps both sides
        // non-empty then.
        let threshold = lo + (hi - lo) * (1.0 - rng.random::<f64>());
        Some((feature, if threshold > lo { threshold } else { hi }))
    }
}

/// Moves the elements satisfying `left` to the front; returns how many there are.
fn partition(rows: &mut [usize], mut left: impl FnMut(usize) -> bool) -> usize {
    let mut n_left = 0;
    for i in 0..rows.len() {
        if left(rows[i]) {
            rows.swap(i, n_left);
            n_left += 1;
        }
    }
    n_left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_path_length_known_values() {
        assert_eq!(average_path_length(0), 0.0);
        assert_eq!(average_path_length(1), 0.0);
        assert_eq!(average_path_length(2), 1.0);
        // 2 (ln 4 + γ) − 8/5
        assert!((average_path_length(5) - 2.327_020_052_042_847).abs() < 1e-12);
        // 2 (ln 255 + γ) − 510/256, the normaliser for the default ψ.
        assert!((average_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
        // 2 (ln 998 + γ) − 1996/999
        assert!((average_path_length(999) - 12.967_939_884_427_995).abs() < 1e-12);
    }

    #[test]
    fn average_path_length_tracks_exact_harmonic_numbers() {
        // H(i) ≈ ln i + γ errs by about 1/(2i), so c(n) is within ~1/n of the exact formula.
        for n in [3_usize, 10, 100, 1000, 100_000] {
            let exact_h: f64 = (1..n).map(|i| 1.0 / i as f64).sum();
            let exact = 2.0 * exact_h - 2.0 * (n - 1) as f64 / n as f64;
            let err = (average_path_length(n) - exact).abs();
            assert!(err <= 1.0 / (n - 1) as f64, "n={n}: err {err}");
        }
    }

    #[test]
    fn default_depth_is_ceil_log2() {
        assert_eq!(default_max_depth(2), 1);
        assert_eq!(default_max_depth(3), 2);
        assert_eq!(default_max_depth(4), 2);
        assert_eq!(default_max_depth(5), 3);
        assert_eq!(default_max_depth(256), 8);
        assert_eq!(default_max_depth(257), 9);
    }

    #[test]
    fn partition_moves_matching_rows_first() {
        let mut rows = vec![5, 2, 8, 1, 9, 4];
        let n = partition(&mut rows, |r| r < 5);
        assert_eq!(n, 3);
        assert!(rows[..n].iter().all(|&r| r < 5));
        assert!(rows[n..].iter().all(|&r| r >= 5));
    }

    #[test]
    fn duplicate_rows_become_a_single_leaf() {
        let data = FeatureMatrix::from_rows(&vec![vec![1.0, 2.0]; 10]).unwrap();
        let forest = IsolationForest::fit(&data, &ForestParams::default()).unwrap();
        assert_eq!(forest.n_nodes(), forest.n_trees());
        // Every path is c(ψ), so the score is exactly 2^−1.
        for x in [[1.0, 2.0], [100.0, -3.0]] {
            assert!((forest.score(&x).unwrap().0 - 0.5).abs() < 1e-12);
        }
    }

    #[test]
    fn fit_rejects_bad_parameters() {
        let data = FeatureMatrix::from_rows(&[vec![1.0], vec![2.0]]).unwrap();
        let with = |f: fn(&mut ForestParams)| {
            let mut p = ForestParams::default();
            f(&mut p);
            IsolationForest::fit(&data, &p)
        };
        assert_eq!(with(|p| p.n_trees = 0), Err(ForestError::NoTrees));
        assert_eq!(
            with(|p| p.subsample_size = 1),
            Err(ForestError::SubsampleTooSmall(1))
        );
        assert_eq!(with(|p| p.max_depth = Some(0)), Err(ForestError::ZeroDepth));
        assert_eq!(
            with(|p| p.n_trees = usize::MAX),
            Err(ForestError::TooManyNodes { max: MAX_NODES })
        );
        let one = FeatureMatrix::from_rows(&[vec![1.0]]).unwrap();
        assert_eq!(
            IsolationForest::fit(&one, &ForestParams::default()),
            Err(ForestError::TooFewRows { found: 1 })
        );
    }

    #[test]
    fn damaged_structure_is_refused_at_load() {
        let data = FeatureMatrix::from_rows(&[vec![0.0], vec![1.0], vec![2.0], vec![3.0]]).unwrap();
        let mut forest = IsolationForest::fit(&data, &ForestParams::default()).unwrap();
        let internal = forest
            .nodes
            .iter()
            .enumerate()
            .position(|(i, n)| n.left as usize != i)
            .unwrap();
        // Point the root's split one node back, at itself: it now looks like a leaf but
        // carries a split threshold, and its real children are unreachable.
        forest.nodes[internal].left -= 1;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.model");
        forest.save(&path).unwrap();
        let err = IsolationForest::load(&path).unwrap_err();
        assert!(matches!(err, PersistError::Invalid { .. }), "{err}");
        assert!(err.to_string().contains("damaged.model"), "{err}");
    }

    #[test]
    fn score_checks_the_vector() {
        let data = FeatureMatrix::from_rows(&[vec![1.0, 0.0], vec![2.0, 1.0]]).unwrap();
        let forest = IsolationForest::fit(&data, &ForestParams::default()).unwrap();
        assert_eq!(
            forest.score(&[1.0]),
            Err(ForestError::WrongFeatureCount {
                expected: 2,
                found: 1
            })
        );
        assert!(matches!(
            forest.score(&[1.0, f64::INFINITY]),
            Err(ForestError::NonFinite { feature: 1, .. })
        ));
    }
}
