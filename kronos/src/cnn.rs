//! The payload CNN: loading `payload_cnn.onnx` through ONNX Runtime (`ort`, loaded at run time
//! from `kronos.cnn.runtime_library` or `ORT_DYLIB_PATH`), checking it against its metadata
//! (`payload_cnn.json` beside it), and classifying payload prefixes in batches.
//!
//! Model contract: input `input_name` int64 `[batch, input_length]` holding the payload's bytes
//! (0..=255) followed by `pad_value` (256) up to `input_length`, longer payloads truncated; output
//! `output_name` float32 `[batch, n_classes]` of logits. The decision rule is the metadata's:
//! `p = softmax(logits)`; a payload is an attack when the most probable non-benign class reaches
//! the threshold, and that class is its class; otherwise it is benign.
//!
//! Loading verifies the SHA-256 and the tensor names and refuses a mismatch or a corrupt file with
//! an error naming the file. The runtime is process-wide (ONNX Runtime can only be loaded once):
//! [`init_runtime`] loads it and refuses a second, different library.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use argus_config::Config;
use ort::environment::Environment;
use ort::session::Session;
use ort::value::TensorRef;
use serde::Deserialize;
use thiserror::Error;

use crate::engine::{excerpt, fingerprint, InspectRequest, PayloadVerdict};
use crate::model::sha256_hex;

/// The metadata `format_version` this build reads.
pub const METADATA_FORMAT_VERSION: u32 = 1;

/// ONNX Runtime intra-op threads kronos runs the CNN with. One: the engine task and sentinel need
/// the other cores, and with them busy a second intra-op thread spins and waits for a core: on
/// the 2-core development machine under load it halved the payloads per second and doubled the
/// CPU per payload (docs/benchmarks.md, "Payload CNN").
pub const INTRA_OP_THREADS: usize = 1;

/// Why the runtime or the model could not be loaded, or a batch not classified.
#[derive(Debug, Error)]
pub enum CnnError {
    /// Neither `kronos.cnn.runtime_library` nor `ORT_DYLIB_PATH` names the runtime.
    #[error("no ONNX Runtime library configured: set kronos.cnn.runtime_library or ORT_DYLIB_PATH (libonnxruntime.so from the onnxruntime Python wheel, onnxruntime/capi/)")]
    NoRuntime,
    /// The runtime library is missing, not a shared library, or too old.
    #[error("cannot load ONNX Runtime library {}: {reason}", path.display())]
    Runtime {
        /// The library.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The metadata is not valid JSON of the expected shape, or breaks the contract.
    #[error("invalid CNN metadata {}: {reason}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The model's SHA-256 differs from the metadata's.
    #[error("CNN model {} does not match its metadata: sha256 is {found}, {metadata} says {expected}", path.display(), metadata = metadata.display())]
    Checksum {
        /// The model file.
        path: PathBuf,
        /// The metadata file.
        metadata: PathBuf,
        /// Digest in the metadata.
        expected: String,
        /// Digest of the file.
        found: String,
    },
    /// ONNX Runtime refused the model, or its inputs/outputs are not the metadata's.
    #[error("CNN model {} is unusable: {reason}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Inference failed.
    #[error("CNN inference failed: {0}")]
    Inference(String),
}

/// `payload_cnn.json`: the fields kronos relies on (others are informational).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CnnMetadata {
    /// Must be [`METADATA_FORMAT_VERSION`].
    pub format_version: u32,
    /// File name of the ONNX model.
    pub model_file: String,
    /// Hex SHA-256 of the model file.
    pub sha256: String,
    /// Name of the input tensor.
    pub input_name: String,
    /// Length of the input sequence.
    pub input_length: usize,
    /// Value filling the sequence after the payload.
    pub pad_value: i64,
    /// Name of the output tensor.
    pub output_name: String,
    /// Class names, in logit order.
    pub classes: Vec<String>,
    /// Name of the benign class.
    pub benign_class: String,
    /// Recommended probability threshold for attack classes.
    pub threshold: f32,
}

/// The CNN's opinion of one payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    /// Index of the class in [`CnnMetadata::classes`].
    pub class: usize,
    /// Softmax probability of that class.
    pub probability: f32,
    /// Whether the class is an attack class (at or above the threshold).
    pub attack: bool,
    /// The raw logits.
    pub logits: Vec<f32>,
}

/// The ONNX Runtime library to load: `configured` (`kronos.cnn.runtime_library`), else
/// `ORT_DYLIB_PATH`.
pub fn runtime_library(configured: Option<&Path>) -> Result<PathBuf, CnnError> {
    if let Some(p) = configured {
        return Ok(p.to_path_buf());
    }
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(CnnError::NoRuntime),
    }
}

static RUNTIME: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Loads ONNX Runtime from `library` (once per process) and returns its environment.
pub fn init_runtime(library: &Path) -> Result<Environment, CnnError> {
    let mut runtime = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((loaded, env)) = runtime.as_ref() {
        return if loaded == library {
            Ok(env.clone())
        } else {
            Err(CnnError::Runtime {
                path: library.to_path_buf(),
                reason: format!("ONNX Runtime is already loaded from {}", loaded.display()),
            })
        };
    }
    let err = |reason: String| CnnError::Runtime {
        path: library.to_path_buf(),
        reason,
    };
    // ort resolves relative paths against the executable's directory; insist on a real file so
    // the error names what the operator configured.
    match fs::metadata(library) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(err("not a regular file".into())),
        Err(e) => return Err(err(e.to_string())),
    }
    let env = ort::init_from(library)
        .map_err(|e| err(e.to_string()))?
        .with_name("argus-kronos")
        .with_telemetry(false)
        .build()
        .map_err(|e| err(e.to_string()))?;
    *runtime = Some((library.to_path_buf(), env.clone()));
    Ok(env)
}

/// Where the metadata of a model lives: the model path with a `.json` extension.
pub fn metadata_path(model: &Path) -> PathBuf {
    model.with_extension("json")
}

/// Reads and checks the metadata at `path`.
pub fn read_metadata(path: &Path) -> Result<CnnMetadata, CnnError> {
    let text = fs::read(path).map_err(|source| CnnError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |reason: String| CnnError::Metadata {
        path: path.to_path_buf(),
        reason,
    };
    let meta: CnnMetadata = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    if meta.format_version != METADATA_FORMAT_VERSION {
        return Err(invalid(format!(
            "format_version {} (this build reads {METADATA_FORMAT_VERSION})",
            meta.format_version
        )));
    }
    if meta.input_length == 0 {
        return Err(invalid("input_length is 0".into()));
    }
    if meta.classes.len() < 2 {
        return Err(invalid("fewer than two classes".into()));
    }
    if !meta.classes.contains(&meta.benign_class) {
        return Err(invalid(format!(
            "benign_class {:?} is not among the classes",
            meta.benign_class
        )));
    }
    if !(meta.threshold > 0.0 && meta.threshold < 1.0) {
        return Err(invalid(format!(
            "threshold {} is not in (0, 1)",
            meta.threshold
        )));
    }
    if meta.sha256.len() != 64 || !meta.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("sha256 is not 64 hex digits".into()));
    }
    Ok(meta)
}

/// A loaded payload CNN.
#[derive(Debug)]
pub struct PayloadCnn {
    session: Session,
    meta: CnnMetadata,
    benign: usize,
    threshold: f32,
    version: String,
    input: Vec<i64>,
}

impl PayloadCnn {
    /// Loads the model at `model` (metadata beside it, see [`metadata_path`]) into `env`, run
    /// with [`INTRA_OP_THREADS`]. `threshold` overrides the metadata's recommended threshold
    /// (`kronos.cnn.threshold`).
    pub fn load(model: &Path, env: &Environment, threshold: Option<f32>) -> Result<Self, CnnError> {
        Self::load_with_threads(model, env, threshold, INTRA_OP_THREADS)
    }

    /// [`PayloadCnn::load`] with `intra_threads` ONNX Runtime intra-op threads (the benchmark
    /// compares thread counts).
    pub fn load_with_threads(
        model: &Path,
        env: &Environment,
        threshold: Option<f32>,
        intra_threads: usize,
    ) -> Result<Self, CnnError> {
        let meta_path = metadata_path(model);
        let meta = read_metadata(&meta_path)?;
        let file_name = model
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if meta.model_file != file_name {
            return Err(CnnError::Metadata {
                path: meta_path,
                reason: format!("describes {:?}, not {file_name:?}", meta.model_file),
            });
        }
        let bytes = fs::read(model).map_err(|source| CnnError::Read {
            path: model.to_path_buf(),
            source,
        })?;
        let digest = sha256_hex(&bytes);
        if !digest.eq_ignore_ascii_case(&meta.sha256) {
            return Err(CnnError::Checksum {
                path: model.to_path_buf(),
                metadata: meta_path,
                expected: meta.sha256,
                found: digest,
            });
        }
        let unusable = |reason: String| CnnError::Model {
            path: model.to_path_buf(),
            reason,
        };
        let session = Session::builder(env)
            .and_then(|b| b.with_intra_threads(intra_threads).map_err(Into::into))
            .and_then(|mut b| b.commit_from_memory(&bytes))
            .map_err(|e| unusable(e.to_string()))?;
        if !session.inputs().iter().any(|i| i.name() == meta.input_name) {
            return Err(unusable(format!("no input named {:?}", meta.input_name)));
        }
        if !session
            .outputs()
            .iter()
            .any(|o| o.name() == meta.output_name)
        {
            return Err(unusable(format!("no output named {:?}", meta.output_name)));
        }
        let benign = meta
            .classes
            .iter()
            .position(|c| *c == meta.benign_class)
            .expect("checked by read_metadata");
        Ok(Self {
            session,
            benign,
            threshold: threshold.unwrap_or(meta.threshold),
            version: format!("cnn-{}", &digest[..12]),
            meta,
            input: Vec::new(),
        })
    }

    /// The model's metadata.
    pub fn metadata(&self) -> &CnnMetadata {
        &self.meta
    }

    /// Version string (`cnn-` and the first 12 hex digits of the model's SHA-256).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The probability threshold in use.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Name of class `index`.
    pub fn class_name(&self, index: usize) -> &str {
        &self.meta.classes[index]
    }

    /// Classifies a batch of payload prefixes (one inference call).
    pub fn classify<P: AsRef<[u8]>>(
        &mut self,
        payloads: &[P],
    ) -> Result<Vec<Classification>, CnnError> {
        if payloads.is_empty() {
            return Ok(Vec::new());
        }
        let len = self.meta.input_length;
        self.input.clear();
        for p in payloads {
            let p = p.as_ref();
            let n = p.len().min(len);
            self.input.extend(p[..n].iter().map(|&b| i64::from(b)));
            self.input
                .extend(std::iter::repeat_n(self.meta.pad_value, len - n));
        }
        let infer = |e: ort::Error| CnnError::Inference(e.to_string());
        let tensor = TensorRef::from_array_view(([payloads.len(), len], self.input.as_slice()))
            .map_err(infer)?;
        let outputs = self
            .session
            .run(ort::inputs![self.meta.input_name.as_str() => tensor])
            .map_err(infer)?;
        let (shape, logits) = outputs[self.meta.output_name.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(infer)?;
        let n_classes = self.meta.classes.len();
        if logits.len() != payloads.len() * n_classes {
            return Err(CnnError::Inference(format!(
                "output {:?} has shape {shape:?}, expected [{}, {n_classes}]",
                self.meta.output_name,
                payloads.len()
            )));
        }
        Ok(logits
            .chunks_exact(n_classes)
            .map(|row| decide(row, self.benign, self.threshold))
            .collect())
    }
    /// Classifies the payloads of `requests` in one batch and turns the answers into the
    /// engine's [`PayloadVerdict`]s.
    pub fn judge(&mut self, requests: &[InspectRequest]) -> Result<Vec<PayloadVerdict>, CnnError> {
        let payloads: Vec<&[u8]> = requests.iter().map(|r| r.bytes.as_slice()).collect();
        let classes = self.classify(&payloads)?;
        Ok(requests
            .iter()
            .zip(classes)
            .map(|(r, c)| PayloadVerdict {
                source: r.source,
                flow: r.flow,
                class: self.class_name(c.class).to_owned(),
                probability: c.probability,
                attack: c.attack,
                model: self.version.clone(),
                excerpt: excerpt(&r.bytes),
                fingerprint: fingerprint(&r.bytes),
            })
            .collect())
    }
}

/// Loads the CNN `cfg` asks for: `Ok(None)` when `kronos.cnn.enabled` is false.
pub fn load_from_config(cfg: &Config) -> Result<Option<PayloadCnn>, CnnError> {
    let c = &cfg.kronos.cnn;
    if !c.enabled {
        return Ok(None);
    }
    let env = init_runtime(&runtime_library(c.runtime_library.as_deref())?)?;
    PayloadCnn::load(&cfg.model_path(&c.model), &env, c.threshold).map(Some)
}

/// Applies the decision rule to one row of logits.
fn decide(logits: &[f32], benign: usize, threshold: f32) -> Classification {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    let p = |i: usize| exp[i] / sum;
    let best_attack = (0..logits.len())
        .filter(|&i| i != benign)
        .max_by(|&a, &b| p(a).total_cmp(&p(b)))
        .expect("at least two classes");
    let (class, attack) = if p(best_attack) >= threshold {
        (best_attack, true)
    } else {
        (benign, false)
    };
    Classification {
        class,
        probability: p(class),
        attack,
        logits: logits.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_rule_uses_the_best_attack_class_and_the_threshold() {
        // softmax([0, ln 3, 0]) = [0.2, 0.6, 0.2]
        let c = decide(&[0.0, 3f32.ln(), 0.0], 0, 0.5);
        assert_eq!((c.class, c.attack), (1, true));
        assert!((c.probability - 0.6).abs() < 1e-6);
        let c = decide(&[0.0, 3f32.ln(), 0.0], 0, 0.7);
        assert_eq!((c.class, c.attack), (0, false));
        assert!((c.probability - 0.2).abs() < 1e-6);
        // Benign need not be the arg-max to win when no attack class reaches the threshold.
        let c = decide(&[0.0, 0.1, 0.1], 0, 0.9);
        assert_eq!((c.class, c.attack), (0, false));
    }

    #[test]
    fn runtime_library_prefers_the_configuration() {
        let p = runtime_library(Some(Path::new("/opt/ort/libonnxruntime.so"))).unwrap();
        assert_eq!(p, Path::new("/opt/ort/libonnxruntime.so"));
    }

    #[test]
    fn metadata_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("payload_cnn.json");
        fs::write(&path, "{not json").unwrap();
        let e = read_metadata(&path).unwrap_err().to_string();
        assert!(e.contains("payload_cnn.json"), "{e}");
        let valid = r#"{"format_version":1,"model_file":"payload_cnn.onnx","sha256":"00000000000000000000000000000000000000000000000000000000000000ff","input_name":"payload","input_length":512,"pad_value":256,"output_name":"logits","classes":["benign","xss"],"benign_class":"benign","threshold":0.5}"#;
        fs::write(&path, valid).unwrap();
        assert_eq!(read_metadata(&path).unwrap().classes.len(), 2);
        for (from, to) in [
            (r#""benign_class":"benign""#, r#""benign_class":"normal""#),
            (r#""threshold":0.5"#, r#""threshold":1.5"#),
            (r#""format_version":1"#, r#""format_version":2"#),
            (r#""sha256":"0000"#, r#""sha256":"zz00"#),
        ] {
            fs::write(&path, valid.replace(from, to)).unwrap();
            let e = read_metadata(&path).unwrap_err().to_string();
            assert!(e.contains("payload_cnn.json"), "{e}");
        }
        let missing = read_metadata(&dir.path().join("absent.json"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("absent.json"), "{missing}");
    }
}
