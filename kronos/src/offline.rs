//! `train` and `score`: the engine run over a records file instead of the sentinel socket, with
//! the same triage, features, rules and policy as the service.

use std::path::Path;

use argus_config::Config;
use argus_proto::{SensorMessage, Verdict};
use thiserror::Error;
use tracing::info;

use crate::cnn::{CnnError, PayloadCnn};
use crate::engine::{Engine, EngineCounters, EngineSettings, Outputs};
use crate::features::FeatureError;
use crate::model::{self, ActiveModel, ModelError, ModelInfo};
use crate::records::{self, RecordsError};
use crate::triage::Triage;
use crate::FeatureMatrix;

/// Why `train` or `score` failed.
#[derive(Debug, Error)]
pub enum OfflineError {
    /// The records file could not be read.
    #[error(transparent)]
    Records(#[from] RecordsError),
    /// The configured windows are unusable.
    #[error("kronos.source_windows_secs: {0}")]
    Features(#[from] FeatureError),
    /// The model could not be fitted or saved.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The CNN failed.
    #[error(transparent)]
    Cnn(#[from] CnnError),
    /// No baseline row came out of the records (empty file, or everything was ignored or
    /// suspicious).
    #[error("no baseline rows in {0}: every record was ignored or looked like an attack")]
    NoBaseline(String),
}

/// What `train` did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Engine counters over the file.
    pub counters: EngineCounters,
    /// The saved model's metadata.
    pub info: ModelInfo,
}

fn engine(cfg: &Config, learning: bool) -> Result<Engine, FeatureError> {
    let settings = EngineSettings {
        learning,
        ..EngineSettings::from_config(cfg)
    };
    Engine::new(&settings, Triage::from_config(cfg), 1)
}

/// Fits a model on the baseline vectors of the records in `input` (one vector per source per
/// shortest window, sources matching a behaviour rule left out) and writes it to `output`
/// with its `.json` sidecar.
pub fn train(cfg: &Config, input: &Path, output: &Path) -> Result<TrainReport, OfflineError> {
    let mut engine = engine(cfg, true)?;
    let mut out = Outputs::default();
    let mut rows: Vec<f64> = Vec::new();
    for msg in records::open(input)? {
        if let SensorMessage::Flow(rec) = msg? {
            engine.on_flow(&rec, &mut out);
            for row in out.baseline.drain(..) {
                rows.extend(row);
            }
            out.clear();
        }
    }
    let names = engine.feature_names().to_vec();
    let matrix = FeatureMatrix::from_row_major(rows, names.len())
        .ok()
        .filter(|m| m.n_rows() > 0)
        .ok_or_else(|| OfflineError::NoBaseline(input.display().to_string()))?;
    info!(rows = matrix.n_rows(), features = names.len(), "fitting");
    let detector = model::fit(&matrix, &names, &cfg.kronos)?;
    let (_, info) = model::save(detector, output, false)?;
    Ok(TrainReport {
        counters: engine.counters(),
        info,
    })
}

/// Scores the records in `input` with `model` (`None`: behaviour rules only) and `cnn`, calling
/// `on_verdict` for every verdict in order. Nothing is learned and nothing is sent.
pub fn score(
    cfg: &Config,
    input: &Path,
    model: Option<ActiveModel>,
    mut cnn: Option<&mut PayloadCnn>,
    mut on_verdict: impl FnMut(&Verdict),
) -> Result<EngineCounters, OfflineError> {
    let mut engine = engine(cfg, false)?;
    engine.set_model(model.map(std::sync::Arc::new));
    let mut out = Outputs::default();
    for msg in records::open(input)? {
        match msg? {
            SensorMessage::Flow(rec) => engine.on_flow(&rec, &mut out),
            SensorMessage::Sample(sample) => engine.on_sample(sample, &mut out),
            SensorMessage::Status(_) => {}
        }
        if let (Some(cnn), false) = (cnn.as_deref_mut(), out.inspect.is_empty()) {
            let requests = std::mem::take(&mut out.inspect);
            for pv in cnn.judge(&requests)? {
                engine.on_payload_verdict(&pv, &mut out);
            }
        }
        out.verdicts.iter().for_each(&mut on_verdict);
        out.clear();
    }
    Ok(engine.counters())
}

/// One human-readable line per verdict: action, reason, source, scores, CNN class and the top
/// features.
pub fn summary_line(v: &Verdict) -> String {
    let s = &v.evidence.scores;
    let mut line = format!(
        "{} {:?} {} {} anomaly={:.2}",
        v.timestamp.as_secs(),
        v.action,
        v.reason,
        v.source,
        s.anomaly
    );
    if let Some(f) = s.source_forest {
        line.push_str(&format!(" forest={f:.3}"));
    }
    if let Some(d) = s.deviation {
        line.push_str(&format!(" deviation={d:.1}"));
    }
    if let Some(c) = &s.cnn {
        line.push_str(&format!(" cnn={}:{:.2}", c.class, c.probability));
    }
    if v.evidence.spoofable {
        line.push_str(" spoofable");
    }
    let top: Vec<String> = v
        .evidence
        .top_features
        .iter()
        .take(3)
        .map(|(n, x)| format!("{n}={x:.1}"))
        .collect();
    if !top.is_empty() {
        line.push_str(&format!(" [{}]", top.join(", ")));
    }
    line
}
