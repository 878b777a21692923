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

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use aya::maps::lpm_trie::Key;
use aya::maps::{Array, HashMap, LpmTrie, Map, MapData, MapError, PerCpuArray, RingBuf};
use ipnet::IpNet;

use crate::abi::{
    map_names, prefix_hash, AllowValue, BlockValue, ConfigValue, FlowKey, FlowValue, HostKey,
    IfaceValue, NewFlowEvent, PrefixFilter, PrefixMeta, RawLpmKey, SampleEvent, Stats,
    CFG_F_DROP_LAN_TO_BANNED, CFG_F_DRY_RUN, CLASS_V4, CLASS_V6, EVENT_NEW_FLOW, EVENT_SAMPLE,
    LPM_MAX_PREFIXLEN, LPM_V4_MAPPED_PREFIXLEN, MAX_SAMPLE_BYTES, PREFIX_FILTER_ENTRIES,
    PREFIX_LENS_MAX, PREFIX_LENS_TRIE, PREFIX_META_F_REBUILDING, PREFIX_META_F_VALID,
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
    /// The pin directory could not be locked (prefix writes are serialised
    /// across processes with `flock` on it).
    #[error("cannot lock pin directory {path}: {source}")]
    Lock {
        /// Pin directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
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

/// `BPF_NOEXIST`: create only.
const BPF_NOEXIST: u64 = 1;

fn is_exists(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(s) if s.io_error.raw_os_error() == Some(libc::EEXIST))
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

/// Most prefix lengths the data plane probes one by one in BLOCKFILTER per
/// address class before it walks the BLOCKLIST trie instead (the kernel
/// accepts up to [`PREFIX_LENS_MAX`]). Fewer when the class has few
/// prefixes: see [`probe_limit`].
pub const PROBED_PREFIX_LENS: usize = 12;

/// How many lengths are probed for a class holding `entries` prefixes: a
/// probe costs ~3 ns, a trie miss ~2-3 ns per level of a trie of about
/// log2(entries) levels (docs/benchmarks.md, "Data plane"), so probing wins
/// while the lengths are fewer than the levels.
pub fn probe_limit(entries: u64) -> usize {
    let levels = (u64::BITS - entries.leading_zeros()) as usize;
    levels.clamp(2, PROBED_PREFIX_LENS.min(PREFIX_LENS_MAX))
}

/// The blocklist: single addresses in the BLOCKHOSTS hash, shorter
/// prefixes in the BLOCKLIST trie (the kernel checks the hash first, which
/// is a longest-prefix match over both; see `argus_shared.h`), with the
/// counting filter BLOCKFILTER and the length lists of BLOCKMETA in front
/// of the trie so a packet no prefix covers skips the trie walk. This
/// handle routes every operation to the right map and keeps the filter a
/// superset of the trie.
///
/// Prefix writes take an exclusive `flock` on the pin directory, so
/// concurrent writers (the enforcer, `argusctl`, tests) never lose each
/// other's BLOCKMETA/BLOCKFILTER updates. Host bans need no lock.
pub struct Blocklist {
    path: PathBuf,
    trie: LpmTrie<MapData, [u8; 16], BlockValue>,
    hosts_path: PathBuf,
    hosts: HashMap<MapData, HostKey, BlockValue>,
    filter_path: PathBuf,
    filter: Array<MapData, PrefixFilter>,
    meta_path: PathBuf,
    meta: Array<MapData, PrefixMeta>,
    sel_path: PathBuf,
    sel: Array<MapData, u32>,
    dir_path: PathBuf,
    dir: File,
}

/// Holds the pin directory's `flock` until dropped (the descriptor belongs
/// to the [`Blocklist`], which outlives every guard it hands out).
struct DirLock(libc::c_int);

impl Drop for DirLock {
    fn drop(&mut self) {
        // SAFETY: flock on the Blocklist's open descriptor; unlocking cannot
        // fail in a way we could act on (closing the file releases it too).
        unsafe { libc::flock(self.0, libc::LOCK_UN) };
    }
}

/// `key` with the address bits beyond its prefix length cleared: the form
/// the kernel hashes into BLOCKFILTER.
pub fn masked_key(key: &RawLpmKey) -> RawLpmKey {
    let len = key.prefixlen.min(LPM_MAX_PREFIXLEN);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (LPM_MAX_PREFIXLEN - len)
    };
    RawLpmKey {
        prefixlen: len,
        addr: (u128::from_be_bytes(key.addr) & mask).to_be_bytes(),
    }
}

/// The BLOCKFILTER slot of a BLOCKLIST key (`argus_prefix_hash()` of the
/// masked key).
pub fn filter_slot(key: &RawLpmKey) -> u32 {
    let k = masked_key(key);
    let a = u128::from_be_bytes(k.addr);
    prefix_hash((a >> 64) as u64, a as u64, k.prefixlen)
}

/// `::ffff:0:0`, the start of the IPv4-mapped block.
const V4_MAPPED: u128 = 0xffff_0000_0000;

/// Which address classes (`[CLASS_V4, CLASS_V6]`) a BLOCKLIST key can
/// cover: IPv4-mapped addresses, other addresses, or both (`::/0`).
pub fn key_classes(key: &RawLpmKey) -> [bool; 2] {
    let k = masked_key(key);
    let addr = u128::from_be_bytes(k.addr);
    if k.prefixlen >= LPM_V4_MAPPED_PREFIXLEN {
        let mapped = addr >> 32 == V4_MAPPED >> 32;
        [mapped, !mapped]
    } else {
        let covers_mapped = masked_key(&RawLpmKey {
            prefixlen: k.prefixlen,
            addr: V4_MAPPED.to_be_bytes(),
        })
        .addr
            == k.addr;
        [covers_mapped, true]
    }
}

/// Recomputes the length lists of `meta` from its counts.
fn update_lens(meta: &mut PrefixMeta) {
    for class in [CLASS_V4, CLASS_V6] {
        let in_use: Vec<u8> = (0..=LPM_MAX_PREFIXLEN as usize)
            .rev()
            .filter(|&l| meta.counts[class][l] > 0)
            .map(|l| l as u8)
            .collect();
        meta.lens[class] = [0; PREFIX_LENS_MAX];
        let entries: u64 = meta.counts[class].iter().map(|&c| u64::from(c)).sum();
        if in_use.len() > probe_limit(entries) {
            meta.n_lens[class] = PREFIX_LENS_TRIE;
        } else {
            meta.n_lens[class] = in_use.len() as u8;
            meta.lens[class][..in_use.len()].copy_from_slice(&in_use);
        }
    }
}

/// Adds `delta` (±1) to the counts of `key`'s classes.
fn count_key(meta: &mut PrefixMeta, key: &RawLpmKey, delta: i32) {
    let len = key.prefixlen.min(LPM_MAX_PREFIXLEN) as usize;
    for (class, covers) in key_classes(key).into_iter().enumerate() {
        if covers {
            let c = &mut meta.counts[class][len];
            *c = c.saturating_add_signed(delta);
        }
    }
}

/// Adds `delta` (±1) to a filter counter; a saturated counter (255) stays,
/// since it no longer knows how many keys it stands for.
fn bump(count: &mut u8, delta: i32) {
    if *count != u8::MAX {
        *count = (*count as i32 + delta).clamp(0, 255) as u8;
    }
}

impl Blocklist {
    /// Opens `<pin_dir>/BLOCKLIST`, `BLOCKHOSTS`, `BLOCKFILTER`,
    /// `BLOCKMETA` and `BLOCKMETASEL`.
    pub fn open(pin_dir: &Path) -> Result<Self, MapsError> {
        let (path, trie) = open_typed(pin_dir, map_names::BLOCKLIST)?;
        let (hosts_path, hosts) = open_typed(pin_dir, map_names::BLOCKHOSTS)?;
        let (filter_path, filter) = open_typed(pin_dir, map_names::BLOCKFILTER)?;
        let (meta_path, meta) = open_typed(pin_dir, map_names::BLOCKMETA)?;
        let (sel_path, sel) = open_typed(pin_dir, map_names::BLOCKMETASEL)?;
        let dir = File::open(pin_dir).map_err(|source| MapsError::Lock {
            path: pin_dir.to_owned(),
            source,
        })?;
        Ok(Self {
            path,
            trie,
            hosts_path,
            hosts,
            filter_path,
            filter,
            meta_path,
            meta,
            sel_path,
            sel,
            dir_path: pin_dir.to_owned(),
            dir,
        })
    }

    fn lock(&self) -> Result<DirLock, MapsError> {
        let fd = self.dir.as_raw_fd();
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
                return Ok(DirLock(fd));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(MapsError::Lock {
                    path: self.dir_path.clone(),
                    source: err,
                });
            }
        }
    }

    fn op_err<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(MapError) -> MapsError + 'a {
        move |source| MapsError::Op {
            path: path.to_owned(),
            op,
            source,
        }
    }

    /// The live BLOCKMETA entry (0 or 1).
    fn live_meta(&self) -> Result<u32, MapsError> {
        self.sel
            .get(&0, 0)
            .map(|v| v & 1)
            .map_err(Self::op_err(&self.sel_path, "read"))
    }

    fn read_meta(&self) -> Result<PrefixMeta, MapsError> {
        let live = self.live_meta()?;
        self.meta
            .get(&live, 0)
            .map_err(Self::op_err(&self.meta_path, "read"))
    }

    /// Writes `meta` into the spare BLOCKMETA entry, then makes it the live
    /// one: the program reads either the old or the new value, never a mix.
    fn write_meta(&mut self, meta: &PrefixMeta) -> Result<(), MapsError> {
        let spare = 1 - self.live_meta()?;
        self.meta
            .set(spare, *meta, 0)
            .map_err(Self::op_err(&self.meta_path, "write"))?;
        self.sel
            .set(0, spare, 0)
            .map_err(Self::op_err(&self.sel_path, "write"))
    }

    /// Adds `delta` to the filter counter of `key`.
    fn bump_filter(&mut self, key: &RawLpmKey, delta: i32) -> Result<(), MapsError> {
        let slot = filter_slot(key);
        let idx = slot >> 3;
        let mut v = self
            .filter
            .get(&idx, 0)
            .map_err(Self::op_err(&self.filter_path, "read"))?;
        bump(&mut v.count[(slot & 7) as usize], delta);
        self.filter
            .set(idx, v, 0)
            .map_err(Self::op_err(&self.filter_path, "write"))
    }

    /// BLOCKMETA, rebuilt together with BLOCKFILTER from the trie first if
    /// it is not marked valid (maps created by an older build, or never
    /// indexed). Call with the lock held.
    fn valid_meta(&mut self) -> Result<PrefixMeta, MapsError> {
        let old = self.read_meta()?;
        if old.flags & PREFIX_META_F_VALID != 0 {
            return Ok(old);
        }
        // Until BLOCKMETA is valid the kernel walks the trie, which is
        // always complete, so rebuilding never opens a gap.
        let keys: Vec<Key<[u8; 16]>> = self
            .trie
            .keys()
            .collect::<Result<_, _>>()
            .map_err(Self::op_err(&self.path, "iterate"))?;
        let mut meta = PrefixMeta::default();
        let mut counts = vec![PrefixFilter::default(); PREFIX_FILTER_ENTRIES as usize];
        for k in keys {
            let raw = RawLpmKey {
                prefixlen: k.prefix_len(),
                addr: k.data(),
            };
            count_key(&mut meta, &raw, 1);
            let slot = filter_slot(&raw);
            bump(
                &mut counts[(slot >> 3) as usize].count[(slot & 7) as usize],
                1,
            );
        }
        // A never-touched BLOCKMETA (all zero) means a never-touched, all
        // zero BLOCKFILTER: only non-zero elements need writing. After an
        // interrupted rebuild, every element is rewritten.
        let rewrite_all = old.flags & PREFIX_META_F_REBUILDING != 0;
        self.write_meta(&PrefixMeta {
            flags: PREFIX_META_F_REBUILDING,
            ..PrefixMeta::default()
        })?;
        for (i, v) in counts.iter().enumerate() {
            if rewrite_all || *v != PrefixFilter::default() {
                self.filter
                    .set(i as u32, *v, 0)
                    .map_err(Self::op_err(&self.filter_path, "write"))?;
            }
        }
        update_lens(&mut meta);
        meta.flags = PREFIX_META_F_VALID;
        self.write_meta(&meta)?;
        Ok(meta)
    }

    /// Makes sure BLOCKFILTER and BLOCKMETA describe the trie (rebuilding
    /// them if BLOCKMETA is not marked valid, e.g. after an upgrade reused
    /// older pins); until then the data plane walks the trie for every
    /// packet.
    pub fn ensure_index(&mut self) -> Result<(), MapsError> {
        let _lock = self.lock()?;
        self.valid_meta().map(|_| ())
    }

    /// The current BLOCKMETA value (prefix lengths in use per class).
    pub fn prefix_meta(&self) -> Result<PrefixMeta, MapsError> {
        self.read_meta()
    }

    /// Inserts or replaces the entry for `entry.prefix`, writing its
    /// counters as given (zero for [`BlockEntry::new`]).
    pub fn insert(&mut self, entry: &BlockEntry) -> Result<(), MapsError> {
        let (key, value) = entry.to_kv();
        if let Some(h) = host_key(&key) {
            return self
                .hosts
                .insert(h, value, 0)
                .map_err(Self::op_err(&self.hosts_path, "insert"));
        }
        let lock = self.lock()?;
        let mut meta = self.valid_meta()?;
        let raw = key.raw();
        // The trie first, then its filter slot and length: the kernel only
        // finds the new entry once both are in, and never loses an old one.
        let new = match self.trie.insert(&aya_key(&key), value, BPF_NOEXIST) {
            Ok(()) => true,
            Err(e) if is_exists(&e) => false,
            Err(source) => {
                return Err(MapsError::Op {
                    path: self.path.clone(),
                    op: "insert",
                    source,
                })
            }
        };
        if new {
            let mut account = || -> Result<(), MapsError> {
                self.bump_filter(&raw, 1)?;
                let before = meta;
                count_key(&mut meta, &raw, 1);
                update_lens(&mut meta);
                if meta != before {
                    self.write_meta(&meta)?;
                }
                Ok(())
            };
            if let Err(e) = account() {
                // The key is in the trie but maybe not in the filter, and a
                // retry would find it there and skip the filter: mark the
                // filter invalid instead (the kernel then walks the trie and
                // the next write rebuilds it), as an interrupted rebuild;
                // failing that, take the key out so a retry inserts it anew.
                let invalid = PrefixMeta {
                    flags: PREFIX_META_F_REBUILDING,
                    ..PrefixMeta::default()
                };
                if self.write_meta(&invalid).is_err() {
                    let _ = self.trie.remove(&aya_key(&key));
                }
                return Err(e);
            }
        } else {
            self.trie
                .insert(&aya_key(&key), value, 0)
                .map_err(Self::op_err(&self.path, "insert"))?;
        }
        drop(lock);
        Ok(())
    }

    /// Removes the exact prefix; `Ok(false)` if it was not there.
    pub fn remove(&mut self, prefix: IpNet) -> Result<bool, MapsError> {
        let key = LpmKey::from_net(prefix);
        if let Some(h) = host_key(&key) {
            return match self.hosts.remove(&h) {
                Ok(()) => Ok(true),
                Err(e) if is_not_found(&e) => Ok(false),
                Err(source) => Err(MapsError::Op {
                    path: self.hosts_path.clone(),
                    op: "remove",
                    source,
                }),
            };
        }
        let lock = self.lock()?;
        let mut meta = self.valid_meta()?;
        // The trie first: its key leaves before its filter slot and length.
        let removed = match self.trie.remove(&aya_key(&key)) {
            Ok(()) => true,
            Err(e) if is_not_found(&e) => false,
            Err(source) => {
                return Err(MapsError::Op {
                    path: self.path.clone(),
                    op: "remove",
                    source,
                })
            }
        };
        if removed {
            let raw = key.raw();
            self.bump_filter(&raw, -1)?;
            let before = meta;
            count_key(&mut meta, &raw, -1);
            update_lens(&mut meta);
            if meta != before {
                self.write_meta(&meta)?;
            }
        }
        drop(lock);
        Ok(removed)
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
    /// Packets this entry saved from a ban: the kernel looks ALLOWLIST up
    /// only after a BLOCKLIST/BLOCKHOSTS hit, so an allowlisted source no
    /// ban covers is not counted.
    pub packets: u64,
    /// `CLOCK_MONOTONIC_COARSE` ns of the last such packet, 0 = never.
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

// aya's Array, PerCpuArray and RingBuf do not implement Debug (nor does
// Blocklist, which holds an Array); the pin path
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
debug_by_path!(Blocklist, ConfigMap, StatsMap, Ifaces, Events);

#[cfg(test)]
mod prefix_index_tests {
    use super::*;

    fn key(s: &str) -> RawLpmKey {
        LpmKey::from_net(s.parse().unwrap()).raw()
    }

    #[test]
    fn masking_clears_the_host_bits() {
        let k = RawLpmKey {
            prefixlen: 120,
            addr: LpmKey::host("10.203.7.9".parse().unwrap()).addr(),
        };
        assert_eq!(masked_key(&k), key("10.203.7.0/24"));
        assert_eq!(masked_key(&key("fd00:203::/32")), key("fd00:203::/32"));
        let all = RawLpmKey {
            prefixlen: 0,
            addr: [0xff; 16],
        };
        assert_eq!(masked_key(&all).addr, [0; 16]);
        let host = key("fd00::1/128");
        assert_eq!(masked_key(&host), host);
    }

    #[test]
    fn classes_follow_what_a_prefix_can_cover() {
        assert_eq!(key_classes(&key("10.203.0.0/16")), [true, false]);
        assert_eq!(key_classes(&key("0.0.0.0/0")), [true, false]);
        assert_eq!(key_classes(&key("fd00:203::/32")), [false, true]);
        assert_eq!(key_classes(&key("::/0")), [true, true]);
        assert_eq!(key_classes(&key("::/1")), [true, true]);
        assert_eq!(key_classes(&key("::ffff:0:0/95")), [true, true]);
        assert_eq!(key_classes(&key("::ffff:0:0/96")), [true, false]);
        assert_eq!(key_classes(&key("8000::/1")), [false, true]);
        // ::fffe:0:0/96 and longer prefixes inside it are not IPv4.
        assert_eq!(key_classes(&key("::fffe:0:0/100")), [false, true]);
    }

    #[test]
    fn length_lists_are_longest_first_and_fall_back_to_the_trie() {
        let mut m = PrefixMeta::default();
        for p in ["10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "fd00::/64"] {
            count_key(&mut m, &key(p), 1);
        }
        count_key(&mut m, &key("10.2.0.0/16"), 1);
        update_lens(&mut m);
        // 4 IPv4 prefixes: a trie of ~3 levels, so up to 3 lengths probed.
        assert_eq!(probe_limit(4), 3);
        assert_eq!(m.n_lens, [3, 1]);
        assert_eq!(&m.lens[CLASS_V4][..3], &[120, 112, 104]);
        assert_eq!(m.lens[CLASS_V6][0], 64);
        count_key(&mut m, &key("10.0.0.0/9"), 1);
        update_lens(&mut m);
        assert_eq!(m.n_lens[CLASS_V4], PREFIX_LENS_TRIE, "4 lengths, 5 entries");
        // More entries of the same lengths: probing pays again.
        for i in 0..3 {
            count_key(&mut m, &key(&format!("10.{}.0.0/16", 3 + i)), 1);
        }
        update_lens(&mut m);
        assert_eq!(m.n_lens[CLASS_V4], 4, "4 lengths, 8 entries");
        assert_eq!(&m.lens[CLASS_V4][..4], &[120, 112, 105, 104]);
        count_key(&mut m, &key("10.0.0.0/9"), -1);
        update_lens(&mut m);
        assert_eq!(m.n_lens[CLASS_V4], 3);
        // Never more than PROBED_PREFIX_LENS, however many entries.
        for l in 0..=PROBED_PREFIX_LENS as u8 {
            for i in 0..400u32 {
                let n = IpNet::new(std::net::Ipv4Addr::from(i << 20).into(), 12 + l).unwrap();
                count_key(&mut m, &key(&n.to_string()), 1);
            }
        }
        update_lens(&mut m);
        assert_eq!(m.n_lens[CLASS_V4], PREFIX_LENS_TRIE);
        assert_eq!(probe_limit(u64::MAX), PROBED_PREFIX_LENS);
    }

    #[test]
    fn filter_slots_are_the_kernels_hash_of_the_masked_key() {
        let a = key("10.203.7.0/24");
        let mut b = a;
        b.addr[15] = 9; // host bits are ignored
        assert_eq!(filter_slot(&a), filter_slot(&b));
        assert_ne!(filter_slot(&a), filter_slot(&key("10.203.7.0/25")));
        assert!(filter_slot(&a) < 1 << crate::abi::PREFIX_FILTER_BITS);
        // Spread: 10,000 consecutive /24s land in nearly as many slots.
        let slots: std::collections::HashSet<u32> = (0..10_000u32)
            .map(|i| {
                filter_slot(&key(&format!(
                    "{}/24",
                    std::net::Ipv4Addr::from(0x0A00_0000 + (i << 8))
                )))
            })
            .collect();
        assert!(slots.len() > 9_950, "{}", slots.len());
    }
}
