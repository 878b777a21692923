//! An in-memory [`KernelMaps`] for tests: shared between the test and the engine, it can be made to
//! disappear or be re-created like the real pinned maps.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use argus_proto::control::DataplaneCounters;
use argus_proto::Reason;
use ipnet::IpNet;

use super::{Counters, KernelBlock, KernelError, KernelMaps, MapsHealth};

#[derive(Debug, Default)]
struct State {
    present: bool,
    generation: u64,
    seen_generation: Option<u64>,
    blocks: BTreeMap<IpNet, (Option<Reason>, bool, Counters)>,
    allow: BTreeSet<IpNet>,
    dry_run: bool,
    inserts: u64,
}

/// In-memory maps. Clones share the same maps.
#[derive(Debug, Clone)]
pub struct FakeMaps(Arc<Mutex<State>>);

impl Default for FakeMaps {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeMaps {
    /// Present, empty maps.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(State {
            present: true,
            ..State::default()
        })))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock has already failed; its state is still readable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ready(&self) -> Result<MutexGuard<'_, State>, KernelError> {
        let s = self.state();
        if s.present {
            Ok(s)
        } else {
            Err(KernelError::Unavailable("fake maps are absent".into()))
        }
    }

    /// The BLOCKLIST: prefix → monitor flag.
    pub fn blocks(&self) -> BTreeMap<IpNet, bool> {
        self.state()
            .blocks
            .iter()
            .map(|(p, (_, m, _))| (*p, *m))
            .collect()
    }

    /// The ALLOWLIST.
    pub fn allowlist(&self) -> BTreeSet<IpNet> {
        self.state().allow.clone()
    }

    /// The dry-run flag.
    pub fn dry_run(&self) -> bool {
        self.state().dry_run
    }

    /// Number of BLOCKLIST insertions so far.
    pub fn inserts(&self) -> u64 {
        self.state().inserts
    }

    /// Makes the maps disappear (`false`) or come back empty as new maps (`true`), as when sentinel
    /// is stopped and started again.
    pub fn set_present(&self, present: bool) {
        let mut s = self.state();
        if present && !s.present {
            s.generation += 1;
        }
        s.present = present;
        if !present {
            s.blocks.clear();
            s.allow.clear();
            s.dry_run = false;
        }
    }

    /// Replaces the maps with new empty ones in one step (sentinel re-created them).
    pub fn recreate(&self) {
        let mut s = self.state();
        s.generation += 1;
        s.blocks.clear();
        s.allow.clear();
        s.dry_run = false;
    }

    /// Adds a BLOCKLIST entry behind the enforcer's back (a stray entry).
    pub fn insert_stray(&self, prefix: IpNet) {
        self.state()
            .blocks
            .insert(prefix, (Some(Reason::Manual), false, Counters::default()));
    }

    /// The reason stored with the entry of `prefix` (`None` inside for an unknown code).
    pub fn reason(&self, prefix: IpNet) -> Option<Option<Reason>> {
        self.state().blocks.get(&prefix).map(|(r, _, _)| *r)
    }

    /// Rewrites the reason of the entry of `prefix` behind the enforcer's back (`None`: a code this
    /// build does not know, as an older or newer build may have written).
    pub fn set_reason(&self, prefix: IpNet, reason: Option<Reason>) {
        if let Some((r, _, _)) = self.state().blocks.get_mut(&prefix) {
            *r = reason;
        }
    }

    /// Counts `packets` matching the entry of `prefix`, as the data plane would.
    pub fn hit(&self, prefix: IpNet, packets: u64) {
        if let Some((_, _, c)) = self.state().blocks.get_mut(&prefix) {
            c.packets += packets;
            c.bytes += packets * 100;
        }
    }
}

impl KernelMaps for FakeMaps {
    fn refresh(&mut self) -> MapsHealth {
        let mut s = self.state();
        if !s.present {
            return MapsHealth::Missing {
                detail: "fake maps are absent".into(),
            };
        }
        let recreated = s.seen_generation != Some(s.generation);
        s.seen_generation = Some(s.generation);
        MapsHealth::Ready { recreated }
    }

    fn insert_block(
        &mut self,
        prefix: IpNet,
        reason: Reason,
        monitor: bool,
        counters: Counters,
    ) -> Result<(), KernelError> {
        let mut s = self.ready()?;
        s.inserts += 1;
        s.blocks.insert(prefix, (Some(reason), monitor, counters));
        Ok(())
    }

    fn block_counters(&mut self, prefix: IpNet) -> Result<Option<Counters>, KernelError> {
        Ok(self.ready()?.blocks.get(&prefix).map(|(_, _, c)| *c))
    }

    fn remove_block(&mut self, prefix: IpNet) -> Result<bool, KernelError> {
        Ok(self.ready()?.blocks.remove(&prefix).is_some())
    }

    fn list_blocks(&mut self) -> Result<Vec<KernelBlock>, KernelError> {
        Ok(self
            .ready()?
            .blocks
            .iter()
            .map(|(p, (reason, monitor, counters))| KernelBlock {
                prefix: *p,
                reason: *reason,
                monitor: *monitor,
                counters: *counters,
            })
            .collect())
    }

    fn set_allowlist(&mut self, prefixes: &BTreeSet<IpNet>) -> Result<(), KernelError> {
        self.ready()?.allow = prefixes.clone();
        Ok(())
    }

    fn set_dry_run(&mut self, on: bool) -> Result<(), KernelError> {
        self.ready()?.dry_run = on;
        Ok(())
    }

    fn stats(&mut self) -> Result<DataplaneCounters, KernelError> {
        let s = self.ready()?;
        let matched: u64 = s.blocks.values().map(|(_, _, c)| c.packets).sum();
        let (dropped, would_drop) = if s.dry_run {
            (0, matched)
        } else {
            let monitored: u64 = s
                .blocks
                .values()
                .filter(|(_, m, _)| *m)
                .map(|(_, _, c)| c.packets)
                .sum();
            (matched - monitored, monitored)
        };
        Ok(DataplaneCounters {
            dropped,
            would_drop,
            ..DataplaneCounters::default()
        })
    }
}
