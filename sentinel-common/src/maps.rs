//! Typed access to the data plane's pinned maps.
//!
//! Every handle is opened from `<pin_dir>/<MAP NAME>` (see
//! [`crate::abi::map_names`]); errors name the pin path. Opening checks the
//! map type and key/value sizes against this build's ABI, so a map pinned by
//! an incompatible build is refused instead of misread.
//!
//! Ownership (docs/architecture.md): the enforcer writes [`Blocklist`]
//! (BLOCKLIST and BLOCKHOSTS),
//! [`Allowlist`] and the dry-run bit of [`ConfigMap`]; sentinel writes the
//! rest of [`ConfigMap`] and [`Ifaces`], and reads [`Flows`] and [`Events`].

use std::net::IpAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use aya::maps::lpm_trie::Key;
use aya::maps::{Array, HashMap, LpmTrie, Map, MapData, MapError, PerCpuArray, RingBuf};
use ipnet::IpNet;

use crate::abi::{
    map_names, AllowValue, BlockValue, ConfigValue, FlowKey, FlowValue, HostKey, IfaceValue,
    NewFlowEvent, RawLpmKey, SampleEvent, Stats, CFG_F_DROP_LAN_TO_BANNED, CFG_F_DRY_RUN,
    EVENT_NEW_FLOW, EVENT_SAMPLE, LPM_MAX_PREFIXLEN, MAX_SAMPLE_BYTES,
};
use crate::entry::{BlockEntry, Role};
use crate::key::LpmKey;

/// Errors of the pinned-map handles. Each names the pin path involved.
#[derive(Debug, thiserror::Error)]
pub enum MapsError {
    /// The pin could not be opened (missing, not on bpffs, no permission).
    #[error("cannot open pinned map {path}: {source}")]
    Open {
        /// Pin path.
        path: PathBuf,
        /// aya's error.
        #[source]
        source: MapError,
    },
    /// The pinned map has another type or key/value size than this build
    /// expects (created by an incompatible sentinel).
    #[error("pinned map {path} does not match this build's ABI: {source}")]
    Incompatible {
        /// Pin path.
        path: PathBuf,
        /// aya's description of the mismatch.
        #[source]
        source: MapError,
    },
    /// A map operation failed.
    #[error("{op} on pinned map {path} failed: {source}")]
    Op {
        /// Pin path.
        path: PathBuf,
        /// What was attempted.
        op: &'static str,
        /// aya's error.
        #[source]
        source: MapError,
    },
    /// A key read back from the kernel is invalid.
    #[error("pinned map {path} holds an invalid key: {source}")]
    BadKey {
        /// Pin path.
        path: PathBuf,
        /// Decoding error.
        #[source]
        source: crate::key::KeyError,
    },
}

/// `<pin_dir>/<name>`.
pub fn pin_path(pin_dir: &Path, name: &str) -> PathBuf {
    pin_dir.join(name)
}

fn open_map(pin_dir: &Path, name: &str) -> Result<(PathBuf, Map), MapsError> {
    let path = pin_path(pin_dir, name);
    let data = MapData::from_pin(&path).map_err(|source| MapsError::Open {
        path: path.clone(),
        source,
    })?;
    let map = Map::from_map_data(data).map_err(|source| MapsError::Incompatible {
        path: path.clone(),
        source,
    })?;
    Ok((path, map))
}

/// Opens `name` as the typed map `T`, mapping type/size mismatches to
/// [`MapsError::Incompatible`].
fn open_typed<T>(pin_dir: &Path, name: &str) -> Result<(PathBuf, T), MapsError>
where
    T: TryFrom<Map, Error = MapError>,
{
    let (path, map) = open_map(pin_dir, name)?;
    let typed = T::try_from(map).map_err(|source| MapsError::Incompatible {
        path: path.clone(),
        source,
    })?;
    Ok((path, typed))
}

fn is_not_found(e: &MapError) -> bool {
    match e {
        MapError::KeyNotFound | MapError::ElementNotFound => true,
        MapError::SyscallError(s) => s.io_error.raw_os_error() == Some(libc::ENOENT),
        _ => false,
    }
}

fn aya_key(k: &LpmKey) -> Key<[u8; 16]> {
    k.to_aya()
}

fn from_aya_key(path: &Path, k: &Key<[u8; 16]>) -> Result<LpmKey, MapsError> {
    LpmKey::from_raw(RawLpmKey {
        prefixlen: k.prefix_len(),
        addr: k.data(),
    })
    .map_err(|source| MapsError::BadKey {
        path: path.to_owned(),
        source,
    })
}

/// The blocklist: single addresses in the BLOCKHOSTS hash, shorter
/// prefixes in the BLOCKLIST trie (the kernel checks the hash first, which
/// is a longest-prefix match over both; see `argus_shared.h`). This handle
/// routes every operation to the right map.
#[derive(Debug)]
pub struct Blocklist {
    path: PathBuf,
    trie: LpmTrie<MapData, [u8; 16], BlockValue>,
    hosts_path: PathBuf,
    hosts: HashMap<MapData, HostKey, BlockValue>,
}

impl Blocklist {
    /// Opens `<pin_dir>/BLOCKLIST` and `<pin_dir>/BLOCKHOSTS`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, trie) = open_typed(pin_dir, map_names::BLOCKLIST)?;
        let (hosts_path, hosts) = open_typed(pin_dir, map_names::BLOCKHOSTS)?;
        Ok(Self {
            path,
            trie,
            hosts_path,
            hosts,
        })
    }

    /// Inserts or replaces the entry for `entry.prefix`, writing its
    /// counters as given (zero for [`BlockEntry::new`]).
    pub fn insert(&mut self, entry: &BlockEntry) -> Result<(), MapsError> {
        let (key, value) = entry.to_kv();
        let res = match host_key(&key) {
            Some(h) => self
                .hosts
                .insert(h, value, 0)
                .map_err(|e| (&self.hosts_path, e)),
            None => self
                .trie
                .insert(&aya_key(&key), value, 0)
                .map_err(|e| (&self.path, e)),
        };
        res.map_err(|(path, source)| MapsError::Op {
            path: path.clone(),
            op: "insert",
            source,
        })
    }

    /// Removes the exact prefix; `Ok(false)` if it was not there.
    pub fn remove(&mut self, prefix: IpNet) -> Result<bool, MapsError> {
        let key = LpmKey::from_net(prefix);
        let (path, res) = match host_key(&key) {
            Some(h) => (&self.hosts_path, self.hosts.remove(&h)),
            None => (&self.path, self.trie.remove(&aya_key(&key))),
        };
        match res {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(source) => Err(MapsError::Op {
                path: path.clone(),
                op: "remove",
                source,
            }),
        }
    }

    /// Every entry with its counters (one syscall pair per entry).
    pub fn list(&self) -> Result<Vec<BlockEntry>, MapsError> {
        let mut out = Vec::new();
        for item in self.hosts.iter() {
            let (k, v) = item.map_err(|source| MapsError::Op {
                path: self.hosts_path.clone(),
                op: "iterate",
                source,
            })?;
            out.push(BlockEntry::from_kv(&LpmKey::host_bytes(k.addr), &v));
        }
        for item in self.trie.iter() {
            let (k, v) = item.map_err(|source| MapsError::Op {
                path: self.path.clone(),
                op: "iterate",
                source,
            })?;
            out.push(BlockEntry::from_kv(&from_aya_key(&self.path, &k)?, &v));
        }
        Ok(out)
    }

    /// The value the data plane would match for `addr` (host entry, else
    /// longest prefix), with its counters; `None` if nothing covers it.
    pub fn lookup(&self, addr: IpAddr) -> Result<Option<BlockValue>, MapsError> {
        let key = LpmKey::host(addr);
        let hk = HostKey { addr: key.addr() };
        for (path, res) in [
            (&self.hosts_path, self.hosts.get(&hk, 0)),
            (&self.path, self.trie.get(&aya_key(&key), 0)),
        ] {
            match res {
                Ok(v) => return Ok(Some(v)),
                Err(e) if is_not_found(&e) => {}
                Err(source) => {
                    return Err(MapsError::Op {
                        path: path.clone(),
                        op: "lookup",
                        source,
                    })
                }
            }
        }
        Ok(None)
    }
}

/// The BLOCKHOSTS key of a single-address LPM key, `None` for prefixes.
fn host_key(key: &LpmKey) -> Option<HostKey> {
    (key.prefixlen() == LPM_MAX_PREFIXLEN).then(|| HostKey { addr: key.addr() })
}

/// One ALLOWLIST entry with its counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    /// The allowed prefix.
    pub prefix: IpNet,
    /// Packets that matched.
    pub packets: u64,
    /// `CLOCK_MONOTONIC_COARSE` ns of the last match, 0 = never.
    pub last_hit_ns: u64,
}

/// The ALLOWLIST LPM trie.
#[derive(Debug)]
pub struct Allowlist {
    path: PathBuf,
    trie: LpmTrie<MapData, [u8; 16], AllowValue>,
}

impl Allowlist {
    /// Opens `<pin_dir>/ALLOWLIST`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, trie) = open_typed(pin_dir, map_names::ALLOWLIST)?;
        Ok(Self { path, trie })
    }

    /// Adds `prefix` (counters start at zero; an existing entry is reset).
    pub fn insert(&mut self, prefix: IpNet) -> Result<(), MapsError> {
        self.trie
            .insert(
                &aya_key(&LpmKey::from_net(prefix)),
                AllowValue::default(),
                0,
            )
            .map_err(|source| MapsError::Op {
                path: self.path.clone(),
                op: "insert",
                source,
            })
    }

    /// Removes the exact prefix; `Ok(false)` if it was not there.
    pub fn remove(&mut self, prefix: IpNet) -> Result<bool, MapsError> {
        match self.trie.remove(&aya_key(&LpmKey::from_net(prefix))) {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(source) => Err(MapsError::Op {
                path: self.path.clone(),
                op: "remove",
                source,
            }),
        }
    }

    /// Every entry with its counters.
    pub fn list(&self) -> Result<Vec<AllowEntry>, MapsError> {
        let mut out = Vec::new();
        for item in self.trie.iter() {
            let (k, v) = item.map_err(|source| MapsError::Op {
                path: self.path.clone(),
                op: "iterate",
                source,
            })?;
            out.push(AllowEntry {
                prefix: from_aya_key(&self.path, &k)?.to_net(),
                packets: v.packets,
                last_hit_ns: v.last_hit_ns,
            });
        }
        Ok(out)
    }
}

/// Typed form of the CONFIG value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DataplaneConfig {
    /// Never drop; count would_drop instead.
    pub dry_run: bool,
    /// On LAN interfaces, drop packets to banned destinations.
    pub drop_lan_to_banned: bool,
    /// Payload bytes per sample (the kernel clamps to 512); 0 = no samples.
    pub sample_bytes: u16,
    /// K: payload packets sampled per flow and per direction.
    pub samples_per_direction: u16,
}

impl DataplaneConfig {
    /// The raw value, keeping flag bits this build does not know from `base`.
    pub fn to_raw(&self, base: &ConfigValue) -> ConfigValue {
        let mut flags = base.flags & !(CFG_F_DRY_RUN | CFG_F_DROP_LAN_TO_BANNED);
        if self.dry_run {
            flags |= CFG_F_DRY_RUN;
        }
        if self.drop_lan_to_banned {
            flags |= CFG_F_DROP_LAN_TO_BANNED;
        }
        ConfigValue {
            flags,
            sample_bytes: self.sample_bytes.min(MAX_SAMPLE_BYTES as u16),
            samples_per_direction: self.samples_per_direction,
        }
    }

    /// The typed form of a raw value.
    pub fn from_raw(raw: &ConfigValue) -> Self {
        Self {
            dry_run: raw.flags & CFG_F_DRY_RUN != 0,
            drop_lan_to_banned: raw.flags & CFG_F_DROP_LAN_TO_BANNED != 0,
            sample_bytes: raw.sample_bytes,
            samples_per_direction: raw.samples_per_direction,
        }
    }
}

/// The CONFIG array.
///
/// Writers replace the whole value; [`ConfigMap::set_dry_run`] is a
/// read-modify-write, so two processes changing different fields at the
/// same instant can lose one update (sentinel writes its fields at start,
/// the enforcer only the dry-run bit, so this does not happen in practice).
pub struct ConfigMap {
    path: PathBuf,
    array: Array<MapData, ConfigValue>,
}

impl ConfigMap {
    /// Opens `<pin_dir>/CONFIG`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, array) = open_typed(pin_dir, map_names::CONFIG)?;
        Ok(Self { path, array })
    }

    fn raw(&self) -> Result<ConfigValue, MapsError> {
        self.array.get(&0, 0).map_err(|source| MapsError::Op {
            path: self.path.clone(),
            op: "read",
            source,
        })
    }

    /// The current configuration.
    pub fn get(&self) -> Result<DataplaneConfig, MapsError> {
        Ok(DataplaneConfig::from_raw(&self.raw()?))
    }

    /// Replaces the configuration.
    pub fn set(&mut self, cfg: &DataplaneConfig) -> Result<(), MapsError> {
        let raw = cfg.to_raw(&self.raw()?);
        self.array.set(0, raw, 0).map_err(|source| MapsError::Op {
            path: self.path.clone(),
            op: "write",
            source,
        })
    }

    /// Turns dry-run on or off, keeping the other fields.
    pub fn set_dry_run(&mut self, dry_run: bool) -> Result<(), MapsError> {
        let mut cfg = self.get()?;
        cfg.dry_run = dry_run;
        self.set(&cfg)
    }
}

/// The per-CPU STATS array.
pub struct StatsMap {
    path: PathBuf,
    array: PerCpuArray<MapData, Stats>,
}

impl StatsMap {
    /// Opens `<pin_dir>/STATS`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, array) = open_typed(pin_dir, map_names::STATS)?;
        Ok(Self { path, array })
    }

    /// The counters summed over every CPU.
    pub fn read(&self) -> Result<Stats, MapsError> {
        let per_cpu = self.array.get(&0, 0).map_err(|source| MapsError::Op {
            path: self.path.clone(),
            op: "read",
            source,
        })?;
        let mut total = Stats::default();
        for s in per_cpu.iter() {
            total.add(s);
        }
        Ok(total)
    }
}

/// The IFACES array (ifindex to role; unset entries are WAN).
pub struct Ifaces {
    path: PathBuf,
    array: Array<MapData, IfaceValue>,
}

impl Ifaces {
    /// Opens `<pin_dir>/IFACES`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, array) = open_typed(pin_dir, map_names::IFACES)?;
        Ok(Self { path, array })
    }

    /// Sets the role of `ifindex`; fails (naming the limit) when the
    /// ifindex is beyond the array ([`crate::abi::IFACES_MAX_ENTRIES`]).
    pub fn set(&mut self, ifindex: u32, role: Role) -> Result<(), MapsError> {
        let value = IfaceValue {
            role: role.to_raw(),
            flags: 0,
        };
        self.array
            .set(ifindex, value, 0)
            .map_err(|source| MapsError::Op {
                path: self.path.clone(),
                op: "set role",
                source,
            })
    }

    /// The role the data plane applies to `ifindex` (WAN when unset or out
    /// of range).
    pub fn get(&self, ifindex: u32) -> Result<Role, MapsError> {
        match self.array.get(&ifindex, 0) {
            Ok(v) => Ok(Role::from_raw(v.role)),
            Err(MapError::OutOfBounds { .. }) => Ok(Role::Wan),
            Err(source) => Err(MapsError::Op {
                path: self.path.clone(),
                op: "read role",
                source,
            }),
        }
    }
}

/// The FLOWS LRU hash.
#[derive(Debug)]
pub struct Flows {
    path: PathBuf,
    map: HashMap<MapData, FlowKey, FlowValue>,
}

impl Flows {
    /// Opens `<pin_dir>/FLOWS`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, map) = open_typed(pin_dir, map_names::FLOWS)?;
        Ok(Self { path, map })
    }

    /// A snapshot of every flow (entries may change while it is taken).
    pub fn list(&self) -> Result<Vec<(FlowKey, FlowValue)>, MapsError> {
        self.map
            .iter()
            .map(|r| {
                r.map_err(|source| MapsError::Op {
                    path: self.path.clone(),
                    op: "iterate",
                    source,
                })
            })
            .collect()
    }

    /// The flow with `key`, if present.
    pub fn get(&self, key: &FlowKey) -> Result<Option<FlowValue>, MapsError> {
        match self.map.get(key, 0) {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(source) => Err(MapsError::Op {
                path: self.path.clone(),
                op: "lookup",
                source,
            }),
        }
    }

    /// Deletes a flow (after export); `Ok(false)` if it was already gone.
    pub fn remove(&mut self, key: &FlowKey) -> Result<bool, MapsError> {
        match self.map.remove(key) {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(source) => Err(MapsError::Op {
                path: self.path.clone(),
                op: "remove",
                source,
            }),
        }
    }
}

/// An event read from EVENTS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A flow was created.
    NewFlow(NewFlowEvent),
    /// A payload sample.
    Sample(Box<SampleEvent>),
}

/// Errors decoding a ring-buffer record.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    /// The record is shorter than its type requires.
    #[error("event of type {event_type} has {len} bytes, expected {expected}")]
    Short {
        /// Type field (0 if even that was missing).
        event_type: u32,
        /// Bytes received.
        len: usize,
        /// Bytes needed.
        expected: usize,
    },
    /// Unknown type field.
    #[error("unknown event type {0}")]
    UnknownType(u32),
}

fn read_pod<T: aya::Pod>(bytes: &[u8], event_type: u32) -> Result<T, EventError> {
    let expected = core::mem::size_of::<T>();
    if bytes.len() < expected {
        return Err(EventError::Short {
            event_type,
            len: bytes.len(),
            expected,
        });
    }
    // SAFETY: T is Pod (every bit pattern valid) and `bytes` holds at least
    // size_of::<T>() bytes; read_unaligned has no alignment requirement.
    Ok(unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

impl Event {
    /// Decodes one ring-buffer record.
    pub fn parse(bytes: &[u8]) -> Result<Self, EventError> {
        let event_type: u32 = read_pod(bytes, 0)?;
        match event_type {
            EVENT_NEW_FLOW => Ok(Self::NewFlow(read_pod(bytes, event_type)?)),
            EVENT_SAMPLE => Ok(Self::Sample(Box::new(read_pod(bytes, event_type)?))),
            other => Err(EventError::UnknownType(other)),
        }
    }
}

/// Consumer of the EVENTS ring buffer. Only one consumer may read a ring
/// buffer at a time (the kernel keeps a single consumer position).
pub struct Events {
    path: PathBuf,
    ring: RingBuf<MapData>,
}

impl Events {
    /// Opens `<pin_dir>/EVENTS`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, ring) = open_typed(pin_dir, map_names::EVENTS)?;
        Ok(Self { path, ring })
    }

    /// The next event if one is ready (never blocks; poll [`Events::as_fd`]
    /// for readiness).
    pub fn next_event(&mut self) -> Option<Result<Event, EventError>> {
        self.ring.next().map(|item| Event::parse(&item))
    }

    /// Drains every ready event.
    pub fn drain(&mut self) -> Vec<Result<Event, EventError>> {
        std::iter::from_fn(|| self.next_event()).collect()
    }
}

impl AsFd for Events {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }
}

// aya's Array, PerCpuArray and RingBuf do not implement Debug; the pin path
// is what identifies a handle anyway.
macro_rules! debug_by_path {
    ($($t:ty),+) => {$(
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($t)).field("path", &self.path).finish()
            }
        }
    )+};
}
debug_by_path!(ConfigMap, StatsMap, Ifaces, Events);
