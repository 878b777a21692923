//! Configuration errors: each names the file and the key path or YAML position at fault.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// One validation problem: a key path (e.g. `enforcer.max_ttl_secs`) and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, with `[i]` for list elements.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read configuration: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not valid YAML for the schema (syntax, wrong type, unknown key).
    #[error("{path}:{line}:{column}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message, starting with the key path where known.
        message: String,
    },
    /// The file parsed but some values are out of range or inconsistent.
    #[error("{path}: invalid configuration:\n{}", list(.problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found (not just the first).
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}
