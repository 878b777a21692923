//! The on-disk envelope shared by every model file this crate writes.
//!
//! A file is one MessagePack map:
//! `{kind, format_version, n_features, checksum, body}` where `body` is the model itself, encoded
//! as compact MessagePack into a byte string. Keeping the model opaque inside the envelope means
//! the header can always be decoded, so a file from an older or newer build is reported as a
//! version mismatch rather than as an obscure decode error deep inside the model, and the
//! checksum over `body` catches truncation and bit rot that would otherwise decode into silently
//! wrong split thresholds. The checksum is no protection against tampering: whoever can write the
//! model file can recompute it, so model files must be writable by the service owner only.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Version of the envelope and of every model body this build writes and reads.
///
/// Bump it whenever a serialised model type changes shape: older files are then refused with
/// [`PersistError::UnsupportedVersion`] instead of being misread.
pub const FORMAT_VERSION: u32 = 1;

/// Why a model file could not be written or read. Every variant names the file.
#[derive(Debug, Error)]
pub enum PersistError {
    /// The file (or its temporary sibling) could not be written or renamed into place.
    #[error("cannot write model file {}: {source}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// The file could not be read.
    #[error("cannot read model file {}: {source}", path.display())]
    Read {
        /// The file being read.
        path: PathBuf,
        /// The underlying I/O error.
        source: io::Error,
    },
    /// The model could not be encoded (only possible for non-finite floats in exotic encoders,
    /// kept as an error rather than a panic).
    #[error("cannot encode model for {}: {source}", path.display())]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The encoder's error.
        source: rmp_serde::encode::Error,
    },
    /// The bytes are not a well-formed model file (truncated, not MessagePack, wrong shape).
    #[error("model file {} is corrupt or not an argus-kronos model: {source}", path.display())]
    Decode {
        /// The file being read.
        path: PathBuf,
        /// The decoder's error.
        source: rmp_serde::decode::Error,
    },
    /// The body does not match the checksum stored in the header.
    #[error("model file {} is corrupt: checksum mismatch (stored {stored:#018x}, computed {computed:#018x})", path.display())]
    ChecksumMismatch {
        /// The file being read.
        path: PathBuf,
        /// Checksum recorded in the header.
        stored: u64,
        /// Checksum of the body as read.
        computed: u64,
    },
    /// A model file of another kind (e.g. a bare forest where a detector was expected).
    #[error("model file {} holds a {found:?}, expected a {expected:?}", path.display())]
    WrongKind {
        /// The file being read.
        path: PathBuf,
        /// The kind the caller asked for.
        expected: &'static str,
        /// The kind recorded in the file.
        found: String,
    },
    /// A file written by a build with another [`FORMAT_VERSION`].
    #[error("model file {} has format version {found}, this build reads version {supported}", path.display())]
    UnsupportedVersion {
        /// The file being read.
        path: PathBuf,
        /// Version recorded in the file.
        found: u32,
        /// [`FORMAT_VERSION`].
        supported: u32,
    },
    /// A model trained on a different number of features than the caller extracts.
    #[error("model file {} was trained on {found} features, expected {expected}", path.display())]
    FeatureCountMismatch {
        /// The file being read.
        path: PathBuf,
        /// Feature count the caller expects.
        expected: usize,
        /// Feature count recorded in the file.
        found: usize,
    },
    /// A model whose feature names differ from the caller's, i.e. features in another order or
    /// meaning: scoring with it would be silently wrong.
    #[error("model file {}: feature {index} is {found:?}, expected {expected:?}", path.display())]
    FeatureNameMismatch {
        /// The file being read.
        path: PathBuf,
        /// Index of the first differing feature.
        index: usize,
        /// Name the caller expects.
        expected: String,
        /// Name recorded in the file.
        found: String,
    },
    /// The body decoded but breaks an invariant of the model (e.g. a node pointing outside the
    /// tree), which would make scoring panic or loop.
    #[error("model file {} is invalid: {reason}", path.display())]
    Invalid {
        /// The file being read.
        path: PathBuf,
        /// Which invariant failed.
        reason: String,
    },
}

/// The serialised envelope; see the module documentation.
#[derive(Serialize, Deserialize)]
struct Envelope {
    kind: String,
    format_version: u32,
    n_features: u64,
    checksum: u64,
    body: Bytes,
}

/// A byte string that MessagePack stores as `bin` rather than as an array of integers, which
/// would double the file size.
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        deserializer.deserialize_byte_buf(BytesVisitor)
    }
}

/// FNV-1a, 64 bit: a few lines, no dependency, and enough to catch accidental corruption.
fn checksum(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// Writes `body` as a model file of `kind` at `path`.
///
/// The file is written to a temporary sibling and renamed into place, so a service reloading
/// the model never sees a half-written file.
pub(crate) fn save<T: Serialize>(
    path: &Path,
    kind: &'static str,
    n_features: usize,
    body: &T,
) -> Result<(), PersistError> {
    let encode_err = |source| PersistError::Encode {
        path: path.to_path_buf(),
        source,
    };
    let body = rmp_serde::to_vec(body).map_err(encode_err)?;
    let envelope = Envelope {
        kind: kind.to_owned(),
        format_version: FORMAT_VERSION,
        n_features: n_features as u64,
        checksum: checksum(&body),
        body: Bytes(body),
    };
    let bytes = rmp_serde::to_vec_named(&envelope).map_err(encode_err)?;

    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write_err = |source| PersistError::Write {
        path: path.to_path_buf(),
        source,
    };
    fs::write(&tmp, &bytes).map_err(write_err)?;
    fs::rename(&tmp, path).map_err(|e| {
        // Best effort: the rename error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
        write_err(e)
    })
}

/// Reads a model file of `kind` from `path`, checking the envelope and, when given, the
/// feature count. The caller still has to validate the decoded model's own invariants.
pub(crate) fn load<T: DeserializeOwned>(
    path: &Path,
    kind: &'static str,
    expected_features: Option<usize>,
) -> Result<T, PersistError> {
    let bytes = fs::read(path).map_err(|source| PersistError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let decode_err = |source| PersistError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let envelope: Envelope = rmp_serde::from_slice(&bytes).map_err(decode_err)?;
    if envelope.kind != kind {
        return Err(PersistError::WrongKind {
            path: path.to_path_buf(),
            expected: kind,
            found: envelope.kind,
        });
    }
    if envelope.format_version != FORMAT_VERSION {
        return Err(PersistError::UnsupportedVersion {
            path: path.to_path_buf(),
            found: envelope.format_version,
            supported: FORMAT_VERSION,
        });
    }
    let computed = checksum(&envelope.body.0);
    if computed != envelope.checksum {
        return Err(PersistError::ChecksumMismatch {
            path: path.to_path_buf(),
            stored: envelope.checksum,
            computed,
        });
    }
    if let Some(expected) = expected_features {
        if envelope.n_features != expected as u64 {
            return Err(PersistError::FeatureCountMismatch {
                path: path.to_path_buf(),
                expected,
                found: usize::try_from(envelope.n_features).unwrap_or(usize::MAX),
            });
        }
    }
    rmp_serde::from_slice(&envelope.body.0).map_err(decode_err)
}

/// Builds the [`PersistError::Invalid`] for a model that decoded but failed validation.
pub(crate) fn invalid(path: &Path, reason: String) -> PersistError {
    PersistError::Invalid {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(checksum(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(checksum(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(checksum(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn round_trip_and_header_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        save(&path, "test-kind", 3, &vec![1.5_f64, 2.5]).unwrap();
        let back: Vec<f64> = load(&path, "test-kind", Some(3)).unwrap();
        assert_eq!(back, vec![1.5, 2.5]);
        assert!(matches!(
            load::<Vec<f64>>(&path, "other-kind", None),
            Err(PersistError::WrongKind { .. })
        ));
        assert!(matches!(
            load::<Vec<f64>>(&path, "test-kind", Some(4)),
            Err(PersistError::FeatureCountMismatch {
                expected: 4,
                found: 3,
                ..
            })
        ));
    }

    #[test]
    fn refuses_other_format_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.bin");
        let body = rmp_serde::to_vec(&0_u8).unwrap();
        let envelope = Envelope {
            kind: "test-kind".into(),
            format_version: FORMAT_VERSION + 1,
            n_features: 1,
            checksum: checksum(&body),
            body: Bytes(body),
        };
        fs::write(&path, rmp_serde::to_vec_named(&envelope).unwrap()).unwrap();
        let err = load::<u8>(&path, "test-kind", None).unwrap_err();
        assert!(
            matches!(err, PersistError::UnsupportedVersion { found, .. } if found == FORMAT_VERSION + 1)
        );
        assert!(err.to_string().contains("future.bin"));
    }
}
