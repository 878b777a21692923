//! The payload CNN through ONNX Runtime: loader error paths and the shipped model against its
//! fixtures.
//!
//! Needs the ONNX Runtime library: `ORT_DYLIB_PATH`, or the onnxruntime wheel installed in
//! `models/.venv` (`models/.venv/bin/pip install onnxruntime`). Without it these tests fail, as
//! they do when the shipped model or its fixtures are missing: they are the check that kronos can
//! load what `models/` ships.

mod support;

use std::fs;
use std::path::{Path, PathBuf};

use argus_kronos::cnn::{init_runtime, CnnError, PayloadCnn};
use base64::Engine as _;
use serde::Deserialize;

fn shipped_model() -> PathBuf {
    let model = support::repo_root().join("models/payload_cnn.onnx");
    assert!(
        model.is_file() && model.with_extension("json").is_file(),
        "the shipped CNN {} (and its .json) is missing: models/ must ship it",
        model.display()
    );
    model
}

#[derive(Deserialize)]
struct Fixture {
    name: String,
    class: String,
    payload_b64: String,
    logits: Vec<f32>,
}

fn fixtures() -> Vec<(Fixture, Vec<u8>)> {
    let path = support::repo_root().join("models/fixtures/payload_cnn_fixtures.json");
    let text = fs::read(&path)
        .unwrap_or_else(|e| panic!("CNN fixtures {} are missing: {e}", path.display()));
    let list: Vec<Fixture> = serde_json::from_slice(&text).expect("fixtures are JSON");
    assert!(!list.is_empty(), "no fixtures in {}", path.display());
    list.into_iter()
        .map(|f| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&f.payload_b64)
                .expect("fixture payload is base64");
            (f, bytes)
        })
        .collect()
}

#[test]
fn shipped_model_reproduces_its_fixtures() {
    let env = init_runtime(&support::onnx_runtime()).expect("runtime loads");
    let mut cnn = PayloadCnn::load(&shipped_model(), &env, None).expect("shipped model loads");
    let fixtures = fixtures();
    for (f, bytes) in &fixtures {
        let c = &cnn.classify(&[bytes]).expect("inference")[0];
        assert_eq!(cnn.class_name(c.class), f.class, "fixture {}", f.name);
        assert_eq!(c.logits.len(), f.logits.len(), "fixture {}", f.name);
        for (got, want) in c.logits.iter().zip(&f.logits) {
            assert!(
                (got - want).abs() <= 1e-4,
                "fixture {}: logits {:?} != {:?}",
                f.name,
                c.logits,
                f.logits
            );
        }
    }
    // One batch gives the same answers as one payload at a time.
    let payloads: Vec<&[u8]> = fixtures.iter().map(|(_, b)| b.as_slice()).collect();
    let batch = cnn.classify(&payloads).expect("batched inference");
    for ((f, _), c) in fixtures.iter().zip(&batch) {
        assert_eq!(
            cnn.class_name(c.class),
            f.class,
            "batched fixture {}",
            f.name
        );
        for (got, want) in c.logits.iter().zip(&f.logits) {
            assert!((got - want).abs() <= 1e-4, "batched fixture {}", f.name);
        }
    }
    assert!(cnn.version().starts_with("cnn-"));
}

/// A copy of the shipped model and metadata in a temp dir, for corrupting.
fn copy_model(dir: &Path) -> PathBuf {
    let model = shipped_model();
    let target = dir.join("payload_cnn.onnx");
    fs::copy(&model, &target).unwrap();
    fs::copy(model.with_extension("json"), target.with_extension("json")).unwrap();
    target
}

fn set_sha(model: &Path, sha: &str) {
    let meta_path = model.with_extension("json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
    meta["sha256"] = serde_json::Value::String(sha.to_owned());
    fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
}

#[test]
fn wrong_sha_is_refused_naming_the_file() {
    let env = init_runtime(&support::onnx_runtime()).expect("runtime loads");
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path());
    set_sha(&model, &"ab".repeat(32));
    let err = PayloadCnn::load(&model, &env, None).unwrap_err();
    assert!(matches!(err, CnnError::Checksum { .. }), "{err}");
    assert!(
        err.to_string().contains(&model.display().to_string()),
        "{err}"
    );
}

#[test]
fn corrupt_onnx_is_refused_naming_the_file() {
    let env = init_runtime(&support::onnx_runtime()).expect("runtime loads");
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path());
    let garbage = b"this is not an onnx protobuf".repeat(10);
    fs::write(&model, &garbage).unwrap();
    // The checksum matches the garbage, so it is ONNX Runtime that refuses it.
    set_sha(&model, &argus_kronos::model::sha256_hex(&garbage));
    let err = PayloadCnn::load(&model, &env, None).unwrap_err();
    assert!(matches!(err, CnnError::Model { .. }), "{err}");
    assert!(
        err.to_string().contains(&model.display().to_string()),
        "{err}"
    );
}

#[test]
fn bad_metadata_json_is_refused_naming_the_file() {
    let env = init_runtime(&support::onnx_runtime()).expect("runtime loads");
    let dir = tempfile::tempdir().unwrap();
    let model = copy_model(dir.path());
    fs::write(model.with_extension("json"), "{\"format_version\": 1,").unwrap();
    let err = PayloadCnn::load(&model, &env, None).unwrap_err();
    assert!(err.to_string().contains("payload_cnn.json"), "{err}");
    // Tensor names that the model does not have.
    let model = copy_model(dir.path());
    let meta_path = model.with_extension("json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
    meta["input_name"] = "bytes".into();
    fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let err = PayloadCnn::load(&model, &env, None).unwrap_err();
    assert!(
        err.to_string().contains("no input named \"bytes\""),
        "{err}"
    );
    assert!(err.to_string().contains("payload_cnn.onnx"), "{err}");
    // Missing model file.
    let err = PayloadCnn::load(&dir.path().join("absent.onnx"), &env, None).unwrap_err();
    assert!(err.to_string().contains("absent.json"), "{err}");
}

#[test]
fn missing_or_broken_runtime_library_is_an_error_naming_it() {
    let err = init_runtime(Path::new("/nonexistent/libonnxruntime.so.1")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/libonnxruntime.so.1"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so");
    fs::write(&fake, b"not a shared library").unwrap();
    let err = init_runtime(&fake).unwrap_err();
    assert!(
        err.to_string().contains(&fake.display().to_string()),
        "{err}"
    );
}
