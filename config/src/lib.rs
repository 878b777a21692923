//! The typed `aegis.yaml` shared by every Argus process.
//!
//! One schema ([`Config`]) with a section per process and shared sections (paths, sockets, logging,
//! metrics, allowlist, anti-lockout). Every key has a default, so an empty file is valid; unknown keys are
//! errors, so a typo never passes silently. After parsing, [`Config::validate`] checks ranges, ordering and
//! paths and reports every problem with its key path.
//!
//! ```
//! let cfg = argus_config::Config::from_yaml("enforcer:\n  mode: enforce\n", "example.yaml").unwrap();
//! assert_eq!(cfg.enforcer.mode, argus_config::Mode::Enforce);
//! assert_eq!(cfg.enforcer.dry_run_duration_days, 7);
//! ```

mod error;
mod schema;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, Problem};
pub use schema::*;

/// Where the processes look for their configuration unless told otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/argus/aegis.yaml";

/// The commented default configuration shipped as `/etc/argus/aegis.yaml`.
pub const DEFAULT_CONFIG_YAML: &str = include_str!("../aegis.yaml");

impl Config {
    /// Reads, parses and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, path)
    }

    /// Parses and validates YAML text; `origin` names it in errors.
    pub fn from_yaml(text: &str, origin: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let origin = origin.as_ref();
        // An empty document (or only comments) is YAML null: every default.
        let cfg: Option<Config> = serde_yaml::from_str(text).map_err(|e| yaml_error(origin, &e))?;
        let cfg = cfg.unwrap_or_default();
        let problems = cfg.validate();
        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError::Invalid {
                path: origin.to_owned(),
                problems,
            })
        }
    }

    /// Every problem with the values, each with its key path; empty when the configuration is valid.
    pub fn validate(&self) -> Vec<Problem> {
        validate::check(self)
    }

    /// The effective configuration as YAML, every default filled in (for `argusctl config check`).
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).expect("a Config always serialises")
    }

    /// A model path from the configuration: relative paths are under `paths.models_dir`.
    pub fn model_path(&self, configured: &Path) -> PathBuf {
        self.paths.models_dir.join(configured)
    }
}

fn yaml_error(origin: &Path, e: &serde_yaml::Error) -> ConfigError {
    let (line, column) = e
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    let mut message = e.to_string();
    // serde_yaml appends the position; it is already in the error's own fields.
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    ConfigError::Yaml {
        path: origin.to_owned(),
        line,
        column,
        message,
    }
}
