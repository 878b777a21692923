//! The schema of `aegis.yaml`: one struct per section, every key with a default.
//!
//! Durations are whole seconds in keys ending in `_secs` (or `_ms`, `_hours`, `_days` where that unit is
//! natural), so a value's unit is always in its name.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// The whole configuration. An empty file is valid and means every default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Socket, state, pin and model paths.
    pub paths: Paths,
    /// Socket permissions and frame limits.
    pub sockets: Sockets,
    /// Logging.
    pub logging: Logging,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Prefixes that are never banned and never scored.
    pub allowlist: Vec<IpNet>,
    /// Addresses that must never be banned so the owner cannot be locked out.
    pub anti_lockout: AntiLockout,
    /// The capture process.
    pub sentinel: Sentinel,
    /// The brain.
    pub kronos: Kronos,
    /// The enforcer and its blacklist.
    pub enforcer: Enforcer,
}

/// Where things live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Paths {
    /// Socket kronos serves for sentinel (flow records, payload samples).
    pub sentinel_socket: PathBuf,
    /// Socket the enforcer serves for kronos (verdicts, feedback).
    pub verdict_socket: PathBuf,
    /// Socket the enforcer serves for argusctl.
    pub control_socket: PathBuf,
    /// bpffs directory where maps and XDP links are pinned.
    pub pin_dir: PathBuf,
    /// Directory for persistent state (baseline store, learned models).
    pub state_dir: PathBuf,
    /// Directory holding the shipped models.
    pub models_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            sentinel_socket: "/run/argus/sentinel.sock".into(),
            verdict_socket: "/run/argus/verdict.sock".into(),
            control_socket: "/run/argus/control.sock".into(),
            pin_dir: "/sys/fs/bpf/argus".into(),
            state_dir: "/var/lib/argus".into(),
            models_dir: "/usr/share/argus/models".into(),
        }
    }
}

/// Socket permissions and limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sockets {
    /// Group owning the inter-process sockets (mode 0660); the process's group when empty.
    pub group: Option<String>,
    /// Largest frame accepted or sent, in bytes.
    pub max_frame_bytes: usize,
}

impl Default for Sockets {
    fn default() -> Self {
        Self {
            group: Some("argus".into()),
            max_frame_bytes: 1024 * 1024,
        }
    }
}

/// Log verbosity and format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logging {
    /// A tracing filter: `info`, `debug`, `argus_kronos=debug,info` …
    pub level: String,
    /// Output format on stderr.
    pub format: LogFormat,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable key=value lines (journald adds timestamps).
    Text,
    /// One JSON object per line.
    Json,
}

/// Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    /// Serve metrics at all.
    pub enabled: bool,
    /// Address of the HTTP endpoint (`/metrics`) for the enforcer; kronos and sentinel use the next two
    /// ports. Keep it on loopback.
    pub listen: SocketAddr,
    /// Write node_exporter textfile-collector files into this directory instead of serving HTTP.
    pub textfile_dir: Option<PathBuf>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9747)),
            textfile_dir: None,
        }
    }
}

/// Addresses protected from bans whatever the evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AntiLockout {
    /// Protect every address configured on the appliance's interfaces.
    pub own_addresses: bool,
    /// Protect the default gateways from the routing table.
    pub default_gateway: bool,
    /// Protect the nameservers in /etc/resolv.conf.
    pub dns_servers: bool,
    /// Further DNS servers to protect.
    pub extra_dns_servers: Vec<IpAddr>,
    /// Management hosts or networks (the owner's laptop, the admin VLAN).
    pub management_hosts: Vec<IpNet>,
}

impl Default for AntiLockout {
    fn default() -> Self {
        Self {
            own_addresses: true,
            default_gateway: true,
            dns_servers: true,
            extra_dns_servers: Vec::new(),
            management_hosts: Vec::new(),
        }
    }
}

/// Which side of the gateway an interface faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InterfaceRole {
    /// Faces the internet: banned sources are dropped on ingress here.
    Wan,
    /// Faces the local network: replies are accounted here, and optionally packets to banned prefixes are
    /// dropped.
    Lan,
}

/// One interface sentinel attaches to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interface {
    /// Interface name, e.g. `eth0`.
    pub name: String,
    /// Its role.
    pub role: InterfaceRole,
}

/// XDP attach mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum XdpMode {
    /// Native if the driver supports it, else generic with a warning.
    Auto,
    /// Native only; failure is an error.
    Native,
    /// Generic (skb) only.
    Generic,
}

/// The capture process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sentinel {
    /// Interfaces to attach to, with their roles.
    pub interfaces: Vec<Interface>,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// Leave the XDP program attached (dropping banned sources) when sentinel stops on SIGTERM.
    pub keep_dataplane_on_exit: bool,
    /// On LAN interfaces, also drop packets sent to a banned prefix.
    pub drop_lan_to_banned: bool,
    /// Flow accounting.
    pub flows: Flows,
    /// Payload sampling.
    pub payload: Payload,
}

impl Default for Sentinel {
    fn default() -> Self {
        Self {
            interfaces: Vec::new(),
            xdp_mode: XdpMode::Auto,
            keep_dataplane_on_exit: false,
            drop_lan_to_banned: true,
            flows: Flows::default(),
            payload: Payload::default(),
        }
    }
}

/// Flow table and export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Flows {
    /// Entries of the kernel flow table (LRU).
    pub table_size: u32,
    /// A flow with no packet for this long is exported and removed.
    pub idle_timeout_secs: u64,
    /// A long flow is exported (and continues) after this long.
    pub active_timeout_secs: u64,
    /// How often the exporter walks the flow table.
    pub scan_interval_ms: u64,
    /// Records queued for kronos before the oldest are shed.
    pub queue_capacity: usize,
}

impl Default for Flows {
    fn default() -> Self {
        Self {
            table_size: 65_536,
            idle_timeout_secs: 30,
            active_timeout_secs: 120,
            scan_interval_ms: 1000,
            queue_capacity: 16_384,
        }
    }
}

/// Payload samples for the CNN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Payload {
    /// Bytes captured from the start of each sampled payload (at most 512).
    pub sample_bytes: u16,
    /// Payload-carrying packets sampled per flow and direction (0 disables sampling).
    pub samples_per_flow: u8,
    /// Size of the kernel ring buffer in bytes (a power of two, at least one page).
    pub ringbuf_bytes: u32,
}

impl Default for Payload {
    fn default() -> Self {
        Self {
            sample_bytes: 512,
            samples_per_flow: 2,
            ringbuf_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The brain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Kronos {
    /// Flow records and samples queued for scoring before the oldest are shed.
    pub queue_capacity: usize,
    /// Combined anomaly score above which a source is suspicious (watched, and its payloads go to the
    /// CNN). The score is in units of the calibrated baseline threshold: 1.0 is as unusual as the most
    /// unusual 0.1 % of the held-out baseline.
    pub anomaly_threshold: f64,
    /// Combined anomaly score above which a source is banned on behaviour alone.
    pub high_risk_threshold: f64,
    /// Destination ports whose payloads always go to the CNN.
    pub inspect_ports: Vec<u16>,
    /// Per-source behaviour windows, in seconds.
    pub source_windows_secs: Vec<u64>,
    /// Verdicts buffered while the enforcer is unreachable before the oldest are dropped.
    pub verdict_buffer: usize,
    /// Isolation forest and baseline learning.
    pub isolation_forest: IsolationForest,
    /// The payload CNN.
    pub cnn: Cnn,
}

impl Default for Kronos {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            anomaly_threshold: 1.0,
            high_risk_threshold: 3.0,
            inspect_ports: vec![80, 8080, 8000, 3000, 5000],
            source_windows_secs: vec![10, 60, 600],
            verdict_buffer: 4096,
            isolation_forest: IsolationForest::default(),
            cnn: Cnn::default(),
        }
    }
}

/// Isolation forest and the baseline it learns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IsolationForest {
    /// The shipped model used until enough local baseline exists; relative paths are under
    /// `paths.models_dir`.
    pub bootstrap_model: PathBuf,
    /// Trees per forest.
    pub trees: usize,
    /// Subsample size per tree.
    pub subsample: usize,
    /// Feature vectors kept in the rolling on-disk baseline store.
    pub baseline_max_samples: usize,
    /// Baseline samples needed before the locally learned model replaces the bootstrap one.
    pub min_samples: usize,
    /// Re-fit on the baseline this often during learning.
    pub refit_interval_hours: u64,
    /// Share of the baseline held back from fitting to calibrate thresholds.
    pub calibration_holdout: f64,
    /// Quantile of held-back baseline scores that maps to an anomaly score of 1.0.
    pub calibration_quantile: f64,
}

impl Default for IsolationForest {
    fn default() -> Self {
        Self {
            bootstrap_model: "bootstrap_forest.bin".into(),
            trees: 100,
            subsample: 256,
            baseline_max_samples: 200_000,
            min_samples: 5_000,
            refit_interval_hours: 6,
            calibration_holdout: 0.2,
            calibration_quantile: 0.999,
        }
    }
}

/// The payload CNN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Cnn {
    /// Load and use the CNN.
    pub enabled: bool,
    /// Refuse to start when the CNN cannot be loaded; otherwise run without it and say so in status.
    pub required: bool,
    /// The ONNX model; its metadata is the `.json` beside it. Relative paths are under `paths.models_dir`.
    pub model: PathBuf,
    /// The ONNX Runtime shared library; `ORT_DYLIB_PATH`, then the packaged copy, when unset.
    pub runtime_library: Option<PathBuf>,
    /// Minimum probability of an attack class; the model's recommended threshold when unset.
    pub threshold: Option<f32>,
    /// Largest batch per inference call.
    pub max_batch: usize,
    /// Longest a sample waits for its batch to fill, in milliseconds.
    pub batch_latency_ms: u64,
}

impl Default for Cnn {
    fn default() -> Self {
        Self {
            enabled: true,
            required: false,
            model: "payload_cnn.onnx".into(),
            runtime_library: None,
            threshold: None,
            max_batch: 64,
            batch_latency_ms: 5,
        }
    }
}

/// Enforcement mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Dry-run for `dry_run_duration_days` from the first start, then enforce.
    Auto,
    /// Never drop.
    DryRun,
    /// Drop.
    Enforce,
}

/// The enforcer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Enforcer {
    /// Enforcement mode.
    pub mode: Mode,
    /// Length of the dry-run period in `auto` mode, from the first start recorded in the database.
    pub dry_run_duration_days: u32,
    /// The SQLite blacklist.
    pub blacklist_db_path: PathBuf,
    /// First ban's duration.
    pub default_ttl_secs: u64,
    /// Each repeat offence multiplies the previous ban's duration by this.
    pub repeat_offender_factor: f64,
    /// Longest ban.
    pub max_ttl_secs: u64,
    /// Most bans held at once (also the kernel BLOCKLIST's size); when full, the soonest-expiring,
    /// lowest-score bans are evicted.
    pub max_entries: u32,
    /// Entries of the kernel ALLOWLIST.
    pub allowlist_max_entries: u32,
    /// IPv4 bans cover this prefix length.
    pub ipv4_ban_prefix: u8,
    /// IPv6 bans are widened to this prefix length (one host usually owns a /64).
    pub ipv6_ban_prefix: u8,
    /// Actively ban on connectionless (spoofable) evidence alone, such as UDP-only floods.
    pub ban_spoofable_evidence: bool,
    /// How often SQLite and the kernel map are reconciled.
    pub reconcile_interval_secs: u64,
    /// Group whose members may change bans with argusctl (root always may).
    pub admin_group: String,
    /// Group whose members may run read-only argusctl commands. It must not be `sockets.group`:
    /// members of that group reach the verdict socket (they could send bans) and the state directory.
    /// Validation refuses the two being the same group.
    pub read_group: Option<String>,
    /// After `argusctl unblock`, the same source is not banned again on the same kind of evidence for
    /// this long.
    pub unblock_grace_secs: u64,
    /// Audit-log rows older than this many days are deleted (0: kept however old).
    pub audit_retention_days: u32,
    /// At most this many audit-log rows are kept, the oldest deleted first (0: no limit). Bounds the
    /// database when verdicts arrive faster than the retention period removes them.
    pub audit_max_rows: u32,
    /// Ended bans (expired, unblocked, evicted, lifted by the allowlist) are deleted with their
    /// evidence this many days after they ended, and delivered feedback once its unblock grace has
    /// passed too (0: kept however old). Repeat-offender escalation only sees what is kept: a source
    /// whose bans all ended longer ago than this is a first offender again.
    pub ban_history_retention_days: u32,
}

impl Default for Enforcer {
    fn default() -> Self {
        Self {
            mode: Mode::Auto,
            dry_run_duration_days: 7,
            blacklist_db_path: "/var/lib/argus/blacklist.db".into(),
            default_ttl_secs: 3600,
            repeat_offender_factor: 2.0,
            max_ttl_secs: 7 * 24 * 3600,
            max_entries: 1 << 20,
            allowlist_max_entries: 65_536,
            ipv4_ban_prefix: 32,
            ipv6_ban_prefix: 64,
            ban_spoofable_evidence: false,
            reconcile_interval_secs: 60,
            admin_group: "argus-admin".into(),
            read_group: Some("argus-read".into()),
            unblock_grace_secs: 24 * 3600,
            audit_retention_days: 90,
            audit_max_rows: 500_000,
            ban_history_retention_days: 180,
        }
    }
}
