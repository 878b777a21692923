//! The control channel between `argusctl` and the enforcer.
//!
//! The enforcer authenticates every connection by its peer credentials (SO_PEERCRED) before it reads a
//! request; read-only requests are marked by [`ControlRequest::is_read_only`].

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::flow::AttachMode;
use crate::types::UnixTimeNs;
use crate::verdict::{Evidence, KronosStatus, Reason};

/// Enforcement mode as set by the owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeSetting {
    /// Dry-run for `dry_run_duration_days` from the first start, then enforce.
    Auto,
    /// Never drop; record simulated bans.
    DryRun,
    /// Drop banned sources.
    Enforce,
}

/// The mode in force right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveMode {
    /// Bans are simulated; XDP counts `would_drop`.
    DryRun,
    /// Bans are written to the kernel and dropped.
    Enforce,
}

/// A request from `argusctl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlRequest {
    /// Mode, dry-run days left, XDP modes, counters, process health.
    Status,
    /// Bans, with kernel hit counters.
    List {
        /// Also list simulated (dry-run) bans.
        simulated: bool,
        /// Also list expired and unblocked bans.
        history: bool,
    },
    /// Ban a prefix by hand.
    Block {
        /// The prefix.
        prefix: IpNet,
        /// Duration; the default TTL when absent.
        ttl_secs: Option<u64>,
        /// Free-text reason for the audit log.
        comment: Option<String>,
    },
    /// Lift a ban at once and record it as a false positive.
    Unblock {
        /// The banned prefix (or an address inside it).
        prefix: IpNet,
        /// Also allowlist the prefix for this long.
        allow_for_secs: Option<u64>,
    },
    /// Add an allowlist entry.
    Allow {
        /// The prefix.
        prefix: IpNet,
        /// Free-text comment.
        comment: Option<String>,
        /// Expiry; permanent when absent.
        ttl_secs: Option<u64>,
    },
    /// Remove an allowlist entry.
    Disallow {
        /// The prefix.
        prefix: IpNet,
    },
    /// List the allowlist.
    Allowlist,
    /// Why an address was banned.
    Explain {
        /// The address.
        ip: IpAddr,
    },
    /// The dry-run summary.
    Report,
    /// Show, or with `set`, change the mode.
    Mode {
        /// The new mode.
        set: Option<ModeSetting>,
    },
    /// Ask kronos to re-fit its baseline model now.
    Refit,
}

impl ControlRequest {
    /// True for requests that change nothing, which the read-only group may make.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Self::Status
                | Self::List { .. }
                | Self::Allowlist
                | Self::Explain { .. }
                | Self::Report
                | Self::Mode { set: None }
        )
    }
}

/// Kind of a control error; `argusctl` maps each to its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlErrorKind {
    /// The caller may not make this request.
    PermissionDenied,
    /// The request's arguments are invalid (e.g. a prefix that would lock the owner out).
    InvalidArgument,
    /// Nothing matches (unknown IP, no such ban).
    NotFound,
    /// The enforcer failed (database error); nothing was changed.
    Internal,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    /// The kind.
    pub kind: ControlErrorKind,
    /// A message naming the thing at fault.
    pub message: String,
}

/// State of a ban row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BanState {
    /// In force: in the kernel map.
    Active,
    /// Recorded in dry-run; never in the kernel map.
    Simulated,
    /// Its TTL ran out.
    Expired,
    /// Lifted by the owner.
    Unblocked,
}

/// One ban as `argusctl list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BanView {
    /// The banned prefix.
    pub prefix: IpNet,
    /// Its state.
    pub state: BanState,
    /// Why.
    pub reason: Reason,
    /// Who or what created it (`kronos`, `argusctl:uid=0`).
    pub created_by: String,
    /// First offence.
    pub first_seen: UnixTimeNs,
    /// Latest offence.
    pub last_seen: UnixTimeNs,
    /// When it ends.
    pub expires_at: UnixTimeNs,
    /// Offences so far (drives TTL escalation).
    pub offences: u32,
    /// Packets the kernel dropped (or would have dropped in dry-run) for this entry.
    pub packets: u64,
    /// Bytes likewise.
    pub bytes: u64,
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllowView {
    /// The prefix.
    pub prefix: IpNet,
    /// Comment.
    pub comment: String,
    /// Expiry, if any.
    pub expires_at: Option<UnixTimeNs>,
    /// Who added it.
    pub created_by: String,
}

/// Per-interface XDP state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterfaceStatus {
    /// Interface name.
    pub name: String,
    /// Attach mode obtained.
    pub mode: AttachMode,
}

/// Kernel data-plane counters, summed over CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DataplaneCounters {
    /// Packets passed.
    pub passed: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Packets that would have been dropped (dry-run).
    pub would_drop: u64,
    /// Packets passed because their source is banned but allowlisted (the
    /// allowlist overrides the ban).
    pub allowlisted: u64,
    /// Packets the program could not parse (passed).
    pub parse_failed: u64,
}

/// `argusctl status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Mode setting.
    pub setting: ModeSetting,
    /// Mode in force.
    pub mode: EffectiveMode,
    /// Seconds of dry-run left in `auto` mode.
    pub dry_run_secs_left: Option<u64>,
    /// Active bans.
    pub bans_active: u64,
    /// Simulated bans.
    pub bans_simulated: u64,
    /// Bans evicted because the blocklist was full.
    pub bans_evicted: u64,
    /// Kernel counters, if the pinned maps are reachable.
    pub dataplane: Option<DataplaneCounters>,
    /// Kronos's latest status, if connected.
    pub kronos: Option<KronosStatus>,
    /// Enforcer uptime.
    pub uptime_secs: u64,
    /// Why the kernel maps may not match SQLite right now (pins missing, a failed write); `None` when
    /// the last reconciliation succeeded.
    pub kernel_problem: Option<String>,
}

/// `argusctl explain IP`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// The ban covering the address.
    pub ban: BanView,
    /// Evidence of each verdict that led to it, newest first.
    pub evidence: Vec<Evidence>,
}

/// One line of the dry-run report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// The ban that would have been active.
    pub ban: BanView,
    /// Whether the prefix is on the allowlist now (so enforcement would spare it).
    pub allowlisted_now: bool,
}

/// `argusctl report`: what enforcement would have done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DryRunReport {
    /// Start of the period covered.
    pub since: UnixTimeNs,
    /// Simulated bans, most packets first.
    pub entries: Vec<ReportEntry>,
    /// Packets the data plane would have dropped in total.
    pub would_drop_packets: u64,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlReply {
    /// For `Status`.
    Status(StatusReport),
    /// For `List`.
    Bans(Vec<BanView>),
    /// For `Allowlist`.
    Allowlist(Vec<AllowView>),
    /// For `Explain`.
    Explain(Explanation),
    /// For `Report`.
    Report(DryRunReport),
    /// For `Mode`.
    Mode {
        /// Setting.
        setting: ModeSetting,
        /// In force.
        mode: EffectiveMode,
    },
    /// For requests that change something: what was done.
    Done(String),
}

/// The enforcer's answer to one request.
pub type ControlResponse = Result<ControlReply, ControlError>;
