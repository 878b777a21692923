//! Baseline learning state under `paths.state_dir/kronos/`:
//!
//! - `state.json` ([`LearningState`]): when kronos first started, which fixes the learning period
//!   (`enforcer.dry_run_duration_days` from then; kronos does not know the enforcer's mode, it
//!   learns whenever its model is still in that period);
//! - `baseline.bin` ([`BaselineStore`]): a bounded rolling store of feature vectors, oldest
//!   overwritten first, that survives restarts;
//! - `model.bin` (+ `model.bin.json`): the locally learned model.
//!
//! `baseline.bin` layout (little endian): a 64-byte header — magic `ARGUSBL1`, feature count
//! (u32), 4 reserved bytes, capacity, next slot, row count and a hash of the feature names (u64
//! each) — then `capacity` slots of `n_features` f32. Rows are written before the header that
//! counts them, so a crash loses at most the rows of the last flush.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::FeatureMatrix;

const MAGIC: &[u8; 8] = b"ARGUSBL1";
const HEADER_BYTES: u64 = 64;
const SECS_PER_DAY: u64 = 86_400;

/// Why the learning state could not be read or written. Every variant names the file.
#[derive(Debug, Error)]
pub enum LearningError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The state file is not valid JSON.
    #[error("{} is corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> LearningError + '_ {
    move |source| LearningError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The files kronos keeps under `paths.state_dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    /// `<state_dir>/kronos`.
    pub dir: PathBuf,
    /// `state.json`.
    pub state: PathBuf,
    /// `baseline.bin`.
    pub baseline: PathBuf,
    /// `model.bin` (the learned model; its metadata is `model.bin.json`).
    pub model: PathBuf,
}

impl StatePaths {
    /// The paths under `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        let dir = state_dir.join("kronos");
        Self {
            state: dir.join("state.json"),
            baseline: dir.join("baseline.bin"),
            model: dir.join("model.bin"),
            dir,
        }
    }
}

/// What is remembered across restarts about learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearningState {
    /// First start of kronos, seconds since the epoch.
    pub first_start_unix_s: u64,
}

impl LearningState {
    /// Reads `path`, or records `now_unix_s` as the first start if it does not exist yet.
    pub fn load_or_create(path: &Path, now_unix_s: u64) -> Result<Self, LearningError> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| LearningError::Corrupt {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let state = Self {
                    first_start_unix_s: now_unix_s,
                };
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(io_err(parent))?;
                }
                let json = serde_json::to_vec_pretty(&state).expect("state always serialises");
                fs::write(path, json).map_err(io_err(path))?;
                Ok(state)
            }
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// Whether `now_unix_s` is within the learning period of `days` days.
    pub fn learning(&self, now_unix_s: u64, days: u32) -> bool {
        now_unix_s < self.first_start_unix_s + u64::from(days) * SECS_PER_DAY
    }
}

/// The rolling on-disk store of baseline feature vectors.
#[derive(Debug)]
pub struct BaselineStore {
    path: PathBuf,
    file: File,
    n_features: usize,
    capacity: u64,
    next: u64,
    len: u64,
    names_hash: u64,
    pending: Vec<f32>,
}

/// How [`BaselineStore::open`] found the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A new, empty store.
    Created,
    /// The existing rows were kept.
    Reused,
    /// The existing file was for other features or unreadable and was started afresh.
    Reset(String),
}

impl BaselineStore {
    /// Opens (or creates) the store at `path` for vectors with `feature_names`, keeping at most
    /// `capacity` rows. A store of another capacity keeps its newest rows; a store for other
    /// features is started afresh (the old rows cannot be scored by the new extractor).
    pub fn open(
        path: &Path,
        feature_names: &[String],
        capacity: usize,
    ) -> Result<(Self, Opened), LearningError> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let names_hash = names_hash(feature_names);
        let n_features = feature_names.len();
        let capacity = capacity.max(1) as u64;
        let (kept, opened) = match Self::read_existing(path, n_features, names_hash)? {
            Existing::Missing => (Vec::new(), Opened::Created),
            Existing::Rows(rows) => (rows, Opened::Reused),
            Existing::Unusable(reason) => (Vec::new(), Opened::Reset(reason)),
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io_err(path))?;
        let mut store = Self {
            path: path.to_path_buf(),
            file,
            n_features,
            capacity,
            next: 0,
            len: 0,
            names_hash,
            pending: Vec::new(),
        };
        let keep_from = kept.len().saturating_sub(capacity as usize * n_features);
        store.pending.extend_from_slice(&kept[keep_from..]);
        store.flush()?;
        Ok((store, opened))
    }

    /// Queues one feature vector (written by the next [`flush`](Self::flush)).
    pub fn append(&mut self, row: &[f64]) {
        debug_assert_eq!(row.len(), self.n_features);
        self.pending.extend(row.iter().map(|&v| v as f32));
    }

    /// Rows stored, including queued ones.
    pub fn len(&self) -> usize {
        let pending = (self.pending.len() / self.n_features.max(1)) as u64;
        (self.len + pending).min(self.capacity) as usize
    }

    /// Whether no row is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes queued rows, then the header that counts them.
    pub fn flush(&mut self) -> Result<(), LearningError> {
        let row_bytes = self.n_features as u64 * 4;
        let pending = std::mem::take(&mut self.pending);
        // Only the newest `capacity` rows can survive; skip the rest.
        let rows: Vec<&[f32]> = pending.chunks_exact(self.n_features.max(1)).collect();
        let skip = rows.len().saturating_sub(self.capacity as usize);
        for row in &rows[skip..] {
            let bytes: Vec<u8> = row.iter().flat_map(|v| v.to_le_bytes()).collect();
            self.file
                .write_all_at(&bytes, HEADER_BYTES + self.next * row_bytes)
                .map_err(io_err(&self.path))?;
            self.next = (self.next + 1) % self.capacity;
            self.len = (self.len + 1).min(self.capacity);
        }
        self.file
            .write_all_at(&self.header(), 0)
            .map_err(io_err(&self.path))
    }

    /// All stored rows, oldest first (flushes first).
    pub fn rows(&mut self) -> Result<Option<FeatureMatrix>, LearningError> {
        self.flush()?;
        let values = read_rows(
            &self.file,
            &self.path,
            self.n_features,
            self.capacity,
            self.next,
            self.len,
        )?;
        Ok(FeatureMatrix::from_row_major(
            values.into_iter().map(f64::from).collect(),
            self.n_features,
        )
        .ok()
        .filter(|m| m.n_rows() > 0))
    }

    fn header(&self) -> [u8; HEADER_BYTES as usize] {
        let mut h = [0u8; HEADER_BYTES as usize];
        h[..8].copy_from_slice(MAGIC);
        h[8..12].copy_from_slice(&(self.n_features as u32).to_le_bytes());
        h[16..24].copy_from_slice(&self.capacity.to_le_bytes());
        h[24..32].copy_from_slice(&self.next.to_le_bytes());
        h[32..40].copy_from_slice(&self.len.to_le_bytes());
        h[40..48].copy_from_slice(&self.names_hash.to_le_bytes());
        h
    }

    fn read_existing(
        path: &Path,
        n_features: usize,
        names_hash: u64,
    ) -> Result<Existing, LearningError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Missing),
            Err(e) => return Err(io_err(path)(e)),
        };
        let mut h = [0u8; HEADER_BYTES as usize];
        if file.read_exact_at(&mut h, 0).is_err() || &h[..8] != MAGIC {
            return Ok(Existing::Unusable("not a baseline store".into()));
        }
        let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().expect("8 bytes"));
        let stored_features = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) as usize;
        if stored_features != n_features || u64_at(40) != names_hash {
            return Ok(Existing::Unusable(format!(
                "recorded for other features ({stored_features} features)"
            )));
        }
        let (capacity, next, len) = (u64_at(16), u64_at(24), u64_at(32));
        if capacity == 0 || next >= capacity || len > capacity {
            return Ok(Existing::Unusable("inconsistent header".into()));
        }
        match read_rows(&file, path, n_features, capacity, next, len) {
            Ok(rows) => Ok(Existing::Rows(rows)),
            Err(LearningError::Io { source, .. })
                if source.kind() == io::ErrorKind::UnexpectedEof =>
            {
                Ok(Existing::Unusable("truncated".into()))
            }
            Err(e) => Err(e),
        }
    }
}

enum Existing {
    Missing,
    Rows(Vec<f32>),
    Unusable(String),
}

/// The `len` rows of a ring of `capacity` slots whose next write goes to `next`, oldest first.
fn read_rows(
    file: &File,
    path: &Path,
    n_features: usize,
    capacity: u64,
    next: u64,
    len: u64,
) -> Result<Vec<f32>, LearningError> {
    let row_bytes = n_features as u64 * 4;
    let first = (next + capacity - len) % capacity;
    let mut bytes = vec![0u8; (len * row_bytes) as usize];
    // At most two contiguous runs: from `first` to the end of the ring, then from slot 0.
    let first_run = len.min(capacity - first);
    let (a, b) = bytes.split_at_mut((first_run * row_bytes) as usize);
    file.read_exact_at(a, HEADER_BYTES + first * row_bytes)
        .map_err(io_err(path))?;
    file.read_exact_at(b, HEADER_BYTES).map_err(io_err(path))?;
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

fn names_hash(names: &[String]) -> u64 {
    let mut h = Sha256::new();
    for n in names {
        h.update(n.as_bytes());
        h.update([0]);
    }
    u64::from_le_bytes(h.finalize()[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    fn column(store: &mut BaselineStore) -> Vec<f64> {
        store
            .rows()
            .unwrap()
            .map_or_else(Vec::new, |m| m.rows().map(|r| r[0]).collect())
    }

    #[test]
    fn learning_period_is_counted_from_the_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = StatePaths::new(dir.path()).state;
        let s = LearningState::load_or_create(&path, 1000).unwrap();
        assert_eq!(s.first_start_unix_s, 1000);
        // A restart keeps the first start.
        assert_eq!(LearningState::load_or_create(&path, 5000).unwrap(), s);
        assert!(s.learning(1000 + 7 * SECS_PER_DAY - 1, 7));
        assert!(!s.learning(1000 + 7 * SECS_PER_DAY, 7));
        fs::write(&path, "{").unwrap();
        let e = LearningState::load_or_create(&path, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("state.json"), "{e}");
    }

    #[test]
    fn ring_keeps_the_newest_rows_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kronos/baseline.bin");
        let (mut store, opened) = BaselineStore::open(&path, &names(2), 4).unwrap();
        assert_eq!(opened, Opened::Created);
        assert!(store.is_empty());
        for i in 0..6 {
            store.append(&[f64::from(i), 0.5]);
        }
        assert_eq!(store.len(), 4);
        assert_eq!(column(&mut store), vec![2.0, 3.0, 4.0, 5.0]);
        store.append(&[6.0, 0.5]);
        store.flush().unwrap();
        drop(store);
        let (mut store, opened) = BaselineStore::open(&path, &names(2), 4).unwrap();
        assert_eq!(opened, Opened::Reused);
        assert_eq!(column(&mut store), vec![3.0, 4.0, 5.0, 6.0]);
        // A smaller capacity keeps the newest.
        drop(store);
        let (mut store, _) = BaselineStore::open(&path, &names(2), 2).unwrap();
        assert_eq!(column(&mut store), vec![5.0, 6.0]);
    }

    #[test]
    fn other_features_or_garbage_start_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.bin");
        let (mut store, _) = BaselineStore::open(&path, &names(2), 4).unwrap();
        store.append(&[1.0, 2.0]);
        store.flush().unwrap();
        drop(store);
        let (mut store, opened) = BaselineStore::open(&path, &names(3), 4).unwrap();
        assert!(matches!(opened, Opened::Reset(_)), "{opened:?}");
        assert!(store.rows().unwrap().is_none());
        drop(store);
        fs::write(&path, b"garbage").unwrap();
        let (_, opened) = BaselineStore::open(&path, &names(3), 4).unwrap();
        assert!(matches!(opened, Opened::Reset(_)), "{opened:?}");
    }
}
