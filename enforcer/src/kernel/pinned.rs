//! [`KernelMaps`] on the data plane's pinned maps, through argus-sentinel-common.
//!
//! The maps are opened lazily and re-opened when the BLOCKLIST pin names another map than the one
//! held (sentinel re-created the maps) — detected by comparing kernel map ids, so entries written
//! into orphaned maps are never mistaken for live ones.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use argus_proto::control::DataplaneCounters;
use argus_proto::Reason;
use argus_sentinel_common::abi::map_names;
use argus_sentinel_common::entry::{BlockCounters, BlockEntry, ReasonCode};
use argus_sentinel_common::maps::{pin_path, Allowlist, Blocklist, ConfigMap, MapsError, StatsMap};
use aya::maps::MapInfo;
use ipnet::IpNet;

use super::{Counters, KernelBlock, KernelError, KernelMaps, MapsHealth};

/// The handles of one generation of the maps.
#[derive(Debug)]
struct Open {
    id: u32,
    block: Blocklist,
    allow: Allowlist,
    config: ConfigMap,
    stats: StatsMap,
}

/// The maps pinned under `paths.pin_dir`.
#[derive(Debug)]
pub struct PinnedMaps {
    pin_dir: PathBuf,
    open: Option<Open>,
}

impl PinnedMaps {
    /// Maps under `pin_dir`, opened on first use.
    pub fn new(pin_dir: &Path) -> Self {
        Self {
            pin_dir: pin_dir.to_owned(),
            open: None,
        }
    }

    /// The kernel id of the map the BLOCKLIST pin names now.
    fn pinned_id(&self) -> Result<u32, KernelError> {
        let path = pin_path(&self.pin_dir, map_names::BLOCKLIST);
        MapInfo::from_pin(&path)
            .map(|i| i.id())
            .map_err(|e| KernelError::Unavailable(format!("{}: {e}", path.display())))
    }

    fn try_open(&self) -> Result<Open, KernelError> {
        let unavailable = |e: MapsError| KernelError::Unavailable(e.to_string());
        // Read the id on both sides of opening: if sentinel swapped the maps in between, the
        // handles may mix generations, so open again.
        for _ in 0..3 {
            let id = self.pinned_id()?;
            let open = Open {
                id,
                block: Blocklist::open(&self.pin_dir).map_err(unavailable)?,
                allow: Allowlist::open(&self.pin_dir).map_err(unavailable)?,
                config: ConfigMap::open(&self.pin_dir).map_err(unavailable)?,
                stats: StatsMap::open(&self.pin_dir).map_err(unavailable)?,
            };
            if self.pinned_id()? == id {
                return Ok(open);
            }
        }
        Err(KernelError::Unavailable(format!(
            "the maps under {} keep changing while being opened",
            self.pin_dir.display()
        )))
    }

    fn maps(&mut self) -> Result<&mut Open, KernelError> {
        if self.open.is_none() {
            self.open = Some(self.try_open()?);
        }
        Ok(self.open.as_mut().expect("just opened"))
    }
}

fn op(op: &'static str) -> impl FnOnce(MapsError) -> KernelError {
    move |e| KernelError::Op {
        op,
        detail: e.to_string(),
    }
}

// The map stores a verdict reason as its stable code (`enum argus_reason` mirrors `Reason`), so a
// reason reads back as written; these fail the build when the two drift apart.
const _: () = {
    use argus_sentinel_common::abi::reason;
    assert!(Reason::Manual as u32 == reason::MANUAL);
    assert!(Reason::PortScan as u32 == reason::PORT_SCAN);
    assert!(Reason::SynFlood as u32 == reason::SYN_FLOOD);
    assert!(Reason::BruteForce as u32 == reason::BRUTE_FORCE);
    assert!(Reason::PayloadAttack as u32 == reason::PAYLOAD_ATTACK);
    assert!(Reason::Flood as u32 == reason::FLOOD);
    assert!(Reason::Anomaly as u32 == reason::ANOMALY);
    assert!(
        Reason::ALL.len() == 7,
        "a new Reason needs an ARGUS_REASON_ constant"
    );
};

/// The data plane's code for a verdict reason.
fn reason_code(r: Reason) -> ReasonCode {
    ReasonCode::from_raw(r.code().into())
}

/// The verdict reason a stored code stands for; `None` for codes no reason has (unspecified, or
/// written by another build).
fn reason_of(code: ReasonCode) -> Option<Reason> {
    u8::try_from(code.to_raw()).ok().and_then(Reason::from_code)
}

impl KernelMaps for PinnedMaps {
    fn refresh(&mut self) -> MapsHealth {
        let id = match self.pinned_id() {
            Ok(id) => id,
            Err(e) => {
                self.open = None;
                return MapsHealth::Missing {
                    detail: e.to_string(),
                };
            }
        };
        if self.open.as_ref().is_some_and(|o| o.id == id) {
            return MapsHealth::Ready { recreated: false };
        }
        match self.try_open() {
            Ok(open) => {
                tracing::info!(pin_dir = %self.pin_dir.display(), map_id = open.id, "opened pinned maps");
                self.open = Some(open);
                MapsHealth::Ready { recreated: true }
            }
            Err(e) => {
                self.open = None;
                MapsHealth::Missing {
                    detail: e.to_string(),
                }
            }
        }
    }

    fn insert_block(
        &mut self,
        prefix: IpNet,
        reason: Reason,
        monitor: bool,
        counters: Counters,
    ) -> Result<(), KernelError> {
        let mut entry = BlockEntry::new(prefix, reason_code(reason));
        entry.monitor = monitor;
        entry.counters = BlockCounters {
            packets: counters.packets,
            bytes: counters.bytes,
            ..BlockCounters::default()
        };
        self.maps()?.block.insert(&entry).map_err(op("insert ban"))
    }

    fn block_counters(&mut self, prefix: IpNet) -> Result<Option<Counters>, KernelError> {
        // The data plane's own lookup: exact for single addresses; for a prefix it is the longest
        // match of its first address, which is the prefix's entry unless a longer banned prefix
        // sits at its start.
        let value = self
            .maps()?
            .block
            .lookup(prefix.network())
            .map_err(op("read ban counters"))?;
        Ok(value.map(|v| Counters {
            packets: v.packets,
            bytes: v.bytes,
        }))
    }

    fn remove_block(&mut self, prefix: IpNet) -> Result<bool, KernelError> {
        self.maps()?.block.remove(prefix).map_err(op("remove ban"))
    }

    fn list_blocks(&mut self) -> Result<Vec<KernelBlock>, KernelError> {
        let entries = self.maps()?.block.list().map_err(op("list bans"))?;
        Ok(entries
            .into_iter()
            .map(|e| KernelBlock {
                prefix: e.prefix,
                reason: reason_of(e.reason),
                monitor: e.monitor,
                counters: Counters {
                    packets: e.counters.packets,
                    bytes: e.counters.bytes,
                },
            })
            .collect())
    }

    fn set_allowlist(&mut self, prefixes: &BTreeSet<IpNet>) -> Result<(), KernelError> {
        let allow = &mut self.maps()?.allow;
        let current: BTreeSet<IpNet> = allow
            .list()
            .map_err(op("list allowlist"))?
            .into_iter()
            .map(|e| e.prefix)
            .collect();
        // Insert before removing, so a prefix moving between entries is never unprotected.
        for p in prefixes.difference(&current) {
            allow.insert(*p).map_err(op("insert allowlist entry"))?;
        }
        for p in current.difference(prefixes) {
            allow.remove(*p).map_err(op("remove allowlist entry"))?;
        }
        Ok(())
    }

    fn set_dry_run(&mut self, on: bool) -> Result<(), KernelError> {
        self.maps()?
            .config
            .set_dry_run(on)
            .map_err(op("set dry-run flag"))
    }

    fn stats(&mut self) -> Result<DataplaneCounters, KernelError> {
        let s = self.maps()?.stats.read().map_err(op("read stats"))?;
        Ok(DataplaneCounters {
            passed: s.passed,
            dropped: s.dropped,
            would_drop: s.would_drop,
            allowlisted: s.allowlisted,
            parse_failed: s.parse_failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_survives_the_map_code() {
        for r in Reason::ALL {
            let code = reason_code(r);
            assert!(
                !matches!(code, ReasonCode::Unspecified | ReasonCode::Other(_)),
                "{r} has no data-plane code"
            );
            assert_eq!(reason_of(ReasonCode::from_raw(code.to_raw())), Some(r));
        }
        assert_eq!(reason_of(ReasonCode::Unspecified), None);
        assert_eq!(reason_of(ReasonCode::Other(300)), None);
    }
}
