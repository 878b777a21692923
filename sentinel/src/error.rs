//! Errors of the sentinel process.

use std::path::PathBuf;

/// Everything that can stop sentinel.
#[derive(Debug, thiserror::Error)]
pub enum SentinelError {
    /// The configuration could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] argus_config::ConfigError),
    /// The pin directory could not be prepared.
    #[error(transparent)]
    Bpffs(#[from] argus_sentinel_common::bpffs::BpffsError),
    /// Loading the XDP object failed.
    #[error(transparent)]
    Dataplane(#[from] argus_sentinel_common::program::DataplaneError),
    /// A pinned map could not be used.
    #[error(transparent)]
    Maps(#[from] argus_sentinel_common::maps::MapsError),
    /// Live mode needs at least one interface.
    #[error("sentinel.interfaces is empty: nothing to attach to (use --pcap to read a capture)")]
    NoInterfaces,
    /// A configured interface does not exist.
    #[error("interface {name} does not exist")]
    UnknownInterface {
        /// Interface name.
        name: String,
    },
    /// Attaching XDP to an interface failed.
    #[error("attaching XDP to {name} ({mode}): {source}")]
    Attach {
        /// Interface name.
        name: String,
        /// Mode that was tried.
        mode: &'static str,
        /// aya's error.
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// A pinned link could not be created, reused or removed.
    #[error("XDP link pin {path}: {detail}")]
    Link {
        /// Pin path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A capture file could not be read.
    #[error("reading capture {path}: {detail}")]
    Pcap {
        /// Capture file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Installing a signal handler failed.
    #[error("installing signal handlers: {0}")]
    Signals(#[source] std::io::Error),
    /// Metrics cannot be published where `metrics` asks (port in use, unwritable directory).
    #[error(transparent)]
    Metrics(#[from] argus_metrics::MetricsError),
}
