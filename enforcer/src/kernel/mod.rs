//! The kernel maps the enforcer writes, behind [`KernelMaps`] so the engine is tested without root.
//!
//! The enforcer owns BLOCKLIST, ALLOWLIST and the dry-run flag in CONFIG (docs/architecture.md).
//! Active bans are enforcing BLOCKLIST entries; simulated (dry-run) bans are monitor entries, which the
//! data plane counts as `would_drop` but never drops.

mod fake;
mod pinned;

use std::collections::BTreeSet;

use argus_proto::control::DataplaneCounters;
use argus_proto::Reason;
use ipnet::IpNet;

pub use fake::FakeMaps;
pub use pinned::PinnedMaps;

/// Packet counters of one BLOCKLIST entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets that matched (dropped, or counted as would-drop).
    pub packets: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One BLOCKLIST entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelBlock {
    /// The banned prefix.
    pub prefix: IpNet,
    /// The reason stored with it; `None` for a code no reason has (written by another build).
    pub reason: Option<Reason>,
    /// Counted but never dropped (a simulated ban).
    pub monitor: bool,
    /// The data plane's counters.
    pub counters: Counters,
}

/// Whether the pinned maps can be used, checked before each reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapsHealth {
    /// The maps are there. `recreated` when they are not the maps used before (sentinel re-created
    /// them, or they appeared), so they must be reconciled in full.
    Ready {
        /// The maps changed since the last check.
        recreated: bool,
    },
    /// The maps cannot be used yet (sentinel has not pinned them).
    Missing {
        /// What is missing, naming the pin path.
        detail: String,
    },
}

/// A failed kernel operation. The engine keeps working on SQLite and retries by reconciling.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The pinned maps are not there (sentinel not started) or could not be opened.
    #[error("kernel maps unavailable: {0}")]
    Unavailable(String),
    /// A map operation failed.
    #[error("kernel map {op} failed: {detail}")]
    Op {
        /// What was attempted.
        op: &'static str,
        /// The cause, naming the pin path.
        detail: String,
    },
}

/// The operations the enforcer needs on the data plane's maps.
pub trait KernelMaps: Send {
    /// Checks the pins, re-opening the maps if they were re-created.
    fn refresh(&mut self) -> MapsHealth;
    /// Inserts or replaces the BLOCKLIST entry of `prefix`, with its counters set to `counters`
    /// (zero for a new ban; the stored values when a ban is put back after the maps were re-created).
    fn insert_block(
        &mut self,
        prefix: IpNet,
        reason: Reason,
        monitor: bool,
        counters: Counters,
    ) -> Result<(), KernelError>;
    /// The counters of the BLOCKLIST entry of exactly `prefix`, if there is one (read before an entry
    /// is removed, so SQLite keeps its final counts).
    fn block_counters(&mut self, prefix: IpNet) -> Result<Option<Counters>, KernelError>;
    /// Removes the BLOCKLIST entry of exactly `prefix`; `false` if there was none.
    fn remove_block(&mut self, prefix: IpNet) -> Result<bool, KernelError>;
    /// Every BLOCKLIST entry with its counters.
    fn list_blocks(&mut self) -> Result<Vec<KernelBlock>, KernelError>;
    /// Makes the ALLOWLIST hold exactly `prefixes`.
    fn set_allowlist(&mut self, prefixes: &BTreeSet<IpNet>) -> Result<(), KernelError>;
    /// Sets or clears the data plane's global dry-run flag.
    fn set_dry_run(&mut self, on: bool) -> Result<(), KernelError>;
    /// The data plane's counters, summed over CPUs.
    fn stats(&mut self) -> Result<DataplaneCounters, KernelError>;
}
