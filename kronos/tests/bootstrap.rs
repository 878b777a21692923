//! The shipped bootstrap model (`models/bootstrap_forest.bin`) is the one kronos scores with on a
//! fresh install: it must load with the feature vector this build computes, and its metadata file
//! must describe exactly that file. A change to the features without retraining fails here, not
//! on an appliance (where kronos would start without an anomaly model).

use std::path::{Path, PathBuf};

use argus_config::Config;
use argus_kronos::features::feature_names;
use argus_kronos::model::{sha256_hex, ActiveModel};
use serde_json::Value;

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
}

fn metadata() -> Value {
    let path = models_dir().join("bootstrap_forest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn shipped_bootstrap_model_loads_with_this_builds_features() {
    let cfg = Config::default();
    let model_file = &cfg.kronos.isolation_forest.bootstrap_model;
    let path = models_dir().join(model_file);
    let names = feature_names(&cfg.kronos.source_windows_secs).unwrap();

    let model = ActiveModel::load(&path, &names, true)
        .unwrap_or_else(|e| panic!("the shipped bootstrap model does not load: {e}"));
    assert!(model.is_bootstrap());

    let meta = metadata();
    assert_eq!(
        Path::new(meta["model_file"].as_str().unwrap()),
        model_file.as_path()
    );
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(meta["sha256"].as_str().unwrap(), sha256_hex(&bytes));
    assert_eq!(meta["size_bytes"].as_u64().unwrap(), bytes.len() as u64);
    assert_eq!(meta["version"].as_str().unwrap(), model.version());
    let listed: Vec<&str> = meta["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, names);

    let detector = model.detector();
    let m = detector.metadata();
    assert_eq!(
        meta["training_rows"].as_u64().unwrap(),
        m.training_rows as u64
    );
    assert_eq!(meta["fit_rows"].as_u64().unwrap(), m.fit_rows as u64);
    assert_eq!(model.training_samples(), m.training_rows as u64);
    let t = detector.thresholds();
    assert_eq!(meta["thresholds"]["forest"].as_f64().unwrap(), t.forest.0);
    assert_eq!(
        meta["thresholds"]["deviation"].as_f64().unwrap(),
        t.deviation.0
    );
}
