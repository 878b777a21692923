//! The processes' logs: `tracing` events on stderr, which systemd hands to journald.
//!
//! One setup for all three daemons, so `logging.*` means the same everywhere: `RUST_LOG`, when set,
//! overrides `logging.level` (for a one-off debugging run without editing aegis.yaml); colours only
//! on a terminal, so journald and log files get plain `key=value` text; `logging.format: json` for
//! log shippers.

use std::io::IsTerminal;

use argus_config::{LogFormat, Logging};
use tracing_subscriber::EnvFilter;

/// Why logging cannot be set up as configured.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The filter is not a valid `tracing` directive list.
    #[error(
        "{key} {value:?} is not a log filter (e.g. info, or argus_kronos=debug,info): {reason}"
    )]
    Filter {
        /// Where the filter came from: `logging.level` or `RUST_LOG`.
        key: &'static str,
        /// The filter as given.
        value: String,
        /// The parser's complaint (kept as text: its own error chain repeats itself).
        reason: String,
    },
    /// A global subscriber was already installed (a second call in one process).
    #[error("logging is already set up: {0}")]
    AlreadySet(String),
}

/// The filter to log with: `RUST_LOG` if set and not empty, else `logging.level`.
pub fn filter(cfg: &Logging, rust_log: Option<&str>) -> Result<EnvFilter, LoggingError> {
    let (key, value) = match rust_log.filter(|v| !v.trim().is_empty()) {
        Some(v) => ("RUST_LOG", v),
        None => ("logging.level", cfg.level.as_str()),
    };
    EnvFilter::try_new(value).map_err(|e| LoggingError::Filter {
        key,
        value: value.to_owned(),
        reason: e.to_string(),
    })
}

/// Installs the process's global subscriber as `cfg` says (see the module docs).
pub fn init(cfg: &Logging) -> Result<(), LoggingError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter(cfg, rust_log.as_deref())?)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match cfg.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| LoggingError::AlreadySet(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logging(level: &str) -> Logging {
        Logging {
            level: level.into(),
            ..Logging::default()
        }
    }

    #[test]
    fn rust_log_overrides_the_configured_level() {
        let f = filter(&logging("info"), Some("argus_kronos=trace")).unwrap();
        assert_eq!(f.to_string(), "argus_kronos=trace");
        // An empty RUST_LOG is no override.
        let f = filter(&logging("warn"), Some(" ")).unwrap();
        assert_eq!(f.to_string(), "warn");
        let f = filter(&logging("debug"), None).unwrap();
        assert_eq!(f.to_string(), "debug");
    }

    #[test]
    fn a_bad_filter_is_an_error_naming_where_it_came_from() {
        let e = filter(&logging("argus_kronos=loud"), None).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("logging.level \"argus_kronos=loud\""),
            "{msg}"
        );
        let e = filter(&logging("info"), Some("x=[")).unwrap_err();
        assert!(e.to_string().starts_with("RUST_LOG \"x=[\""), "{e}");
    }
}
