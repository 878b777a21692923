//! Loading the embedded XDP object and running it with `BPF_PROG_TEST_RUN`.
//!
//! [`Dataplane::load`] creates the maps under a pin directory, or reuses the
//! ones already pinned there (bans survive restarts), after checking that
//! pinned maps match this build's ABI. Attaching to interfaces is sentinel's
//! job; tests and benchmarks use [`Dataplane::test_run`] instead.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aya::maps::{MapInfo, MapType};
use aya::programs::{ProgramError, TestRun, TestRunOptions, Xdp};
use aya::{Ebpf, EbpfError, EbpfLoader};

use crate::abi::{
    self, map_names, AllowValue, BlockValue, ConfigValue, FlowKey, FlowValue, HostKey, IfaceValue,
    PrefixFilter, PrefixMeta, RawLpmKey, Stats, PROGRAM_NAME,
};
use crate::maps::pin_path;
use crate::XDP_OBJECT;

/// Capacities of the sized maps, normally taken from the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSizes {
    /// max_entries of BLOCKLIST (prefixes) and of BLOCKHOSTS (single
    /// addresses) each.
    pub blocklist: u32,
    /// ALLOWLIST max_entries.
    pub allowlist: u32,
    /// FLOWS max_entries.
    pub flows: u32,
    /// EVENTS size in bytes (power of two, multiple of the page size).
    pub events_bytes: u32,
}

impl Default for MapSizes {
    fn default() -> Self {
        Self {
            blocklist: abi::BLOCKLIST_DEFAULT_ENTRIES,
            allowlist: abi::ALLOWLIST_DEFAULT_ENTRIES,
            flows: abi::FLOWS_DEFAULT_ENTRIES,
            events_bytes: abi::EVENTS_DEFAULT_BYTES,
        }
    }
}

/// Errors loading or running the data plane.
#[derive(Debug, thiserror::Error)]
pub enum DataplaneError {
    /// aya could not create/reuse the maps or parse the object.
    #[error("loading the XDP object with pin dir {pin_dir}: {source}")]
    Load {
        /// Pin directory.
        pin_dir: PathBuf,
        /// aya's error (boxed: it is large).
        #[source]
        source: Box<EbpfError>,
    },
    /// The kernel rejected the program (verifier) or a test run failed.
    #[error("{op} of program {PROGRAM_NAME}: {source}")]
    Program {
        /// What was attempted.
        op: &'static str,
        /// aya's error, including the verifier log (boxed: it is large).
        #[source]
        source: Box<ProgramError>,
    },
    /// A map pinned by another build has a different shape.
    #[error(
        "pinned map {path} is {found}, this build needs {expected}; \
         remove the pin (losing its entries) or run the matching build"
    )]
    IncompatiblePin {
        /// Pin path.
        path: PathBuf,
        /// What this build expects.
        expected: String,
        /// What the pinned map is.
        found: String,
    },
    /// A pinned map exists but cannot be inspected.
    #[error("cannot inspect pinned map {path}: {source}")]
    Inspect {
        /// Pin path.
        path: PathBuf,
        /// aya's error.
        #[source]
        source: aya::maps::MapError,
    },
    /// BLOCKFILTER/BLOCKMETA could not be brought in line with BLOCKLIST.
    #[error("indexing the blocklist: {source}")]
    Index {
        /// The map error (boxed: it is large).
        #[source]
        source: Box<crate::maps::MapsError>,
    },
    /// The object has no XDP program named [`PROGRAM_NAME`].
    #[error("the embedded object has no XDP program {PROGRAM_NAME}")]
    MissingProgram,
}

/// Map type, key size and value size a pinned map must have.
fn expected_shape(name: &str) -> (MapType, usize, usize) {
    use core::mem::size_of;
    match name {
        map_names::ALLOWLIST => (
            MapType::LpmTrie,
            size_of::<RawLpmKey>(),
            size_of::<AllowValue>(),
        ),
        map_names::BLOCKHOSTS => (MapType::Hash, size_of::<HostKey>(), size_of::<BlockValue>()),
        map_names::BLOCKFILTER => (MapType::Array, 4, size_of::<PrefixFilter>()),
        map_names::BLOCKMETA => (MapType::Array, 4, size_of::<PrefixMeta>()),
        map_names::BLOCKMETASEL => (MapType::Array, 4, 4),
        map_names::BLOCKLIST => (
            MapType::LpmTrie,
            size_of::<RawLpmKey>(),
            size_of::<BlockValue>(),
        ),
        map_names::CONFIG => (MapType::Array, 4, size_of::<ConfigValue>()),
        map_names::IFACES => (MapType::Array, 4, size_of::<IfaceValue>()),
        map_names::STATS => (MapType::PerCpuArray, 4, size_of::<Stats>()),
        map_names::FLOWS => (
            MapType::LruHash,
            size_of::<FlowKey>(),
            size_of::<FlowValue>(),
        ),
        _ => (MapType::RingBuf, 0, 0),
    }
}

/// Refuses to reuse pins whose shape differs from this build: aya would
/// otherwise hand the program a map it misreads.
fn check_pins(pin_dir: &Path) -> Result<(), DataplaneError> {
    for name in map_names::ALL {
        let path = pin_path(pin_dir, name);
        if !path.exists() {
            continue;
        }
        let info = MapInfo::from_pin(&path).map_err(|source| DataplaneError::Inspect {
            path: path.clone(),
            source,
        })?;
        let (ty, key, value) = expected_shape(name);
        let found_ty = info.map_type().ok();
        let found = (
            found_ty,
            info.key_size() as usize,
            info.value_size() as usize,
        );
        if found != (Some(ty), key, value) {
            return Err(DataplaneError::IncompatiblePin {
                path,
                expected: format!("{ty:?} key {key} B value {value} B"),
                found: format!("{:?} key {} B value {} B", found.0, found.1, found.2),
            });
        }
    }
    Ok(())
}

/// The loaded (not attached) data plane.
#[derive(Debug)]
pub struct Dataplane {
    ebpf: Ebpf,
}

impl Dataplane {
    /// Loads the embedded object, creating the maps under `pin_dir` (which
    /// must be on bpffs, see [`crate::bpffs::ensure_bpffs`]) or reusing the
    /// compatible maps pinned there. `sizes` only apply to maps created now:
    /// a reused map keeps its size.
    pub fn load(pin_dir: &Path, sizes: &MapSizes) -> Result<Self, DataplaneError> {
        check_pins(pin_dir)?;
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(pin_dir)
            .map_max_entries(map_names::BLOCKLIST, sizes.blocklist)
            .map_max_entries(map_names::BLOCKHOSTS, sizes.blocklist)
            .map_max_entries(map_names::ALLOWLIST, sizes.allowlist)
            .map_max_entries(map_names::FLOWS, sizes.flows)
            .map_max_entries(map_names::EVENTS, sizes.events_bytes)
            .load(XDP_OBJECT)
            .map_err(|source| DataplaneError::Load {
                pin_dir: pin_dir.to_owned(),
                source: Box::new(source),
            })?;
        let prog: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram)?
            .try_into()
            .map_err(|source| DataplaneError::Program {
                op: "type check",
                source: Box::new(source),
            })?;
        prog.load().map_err(|source| DataplaneError::Program {
            op: "load",
            source: Box::new(source),
        })?;
        // Reused pins of an older build have no valid prefix index: build
        // it now rather than at the first ban (the program walks the trie
        // until then). Cheap for new maps (an empty trie).
        crate::maps::Blocklist::open(pin_dir)
            .and_then(|mut b| b.ensure_index())
            .map_err(|source| DataplaneError::Index {
                source: Box::new(source),
            })?;
        Ok(Self { ebpf })
    }

    /// The XDP program (to attach it, or pin it).
    pub fn program_mut(&mut self) -> &mut Xdp {
        self.ebpf
            .program_mut(PROGRAM_NAME)
            .and_then(|p| <&mut Xdp>::try_from(p).ok())
            .expect("checked in load")
    }

    fn program(&self) -> &Xdp {
        self.ebpf
            .program(PROGRAM_NAME)
            .and_then(|p| <&Xdp>::try_from(p).ok())
            .expect("checked in load")
    }

    /// The underlying aya object (maps are also reachable through their
    /// pins, see [`crate::maps`]).
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    /// Runs the program once on `frame` as if it arrived on
    /// `ingress_ifindex`, which must exist in the caller's network
    /// namespace; 0 leaves the choice to the kernel, which then reports the
    /// namespace's loopback (ifindex 1). Returns the XDP action
    /// (`XDP_DROP` = 1, `XDP_PASS` = 2).
    pub fn test_run(&self, frame: &[u8], ingress_ifindex: u32) -> Result<u32, DataplaneError> {
        Ok(self.run(frame, ingress_ifindex, 1)?.0)
    }

    /// Runs the program `repeat` times on `frame` in the kernel and returns
    /// the action and the kernel-measured average time per run (the
    /// kernel's timer has 1 ns resolution).
    pub fn bench(
        &self,
        frame: &[u8],
        ingress_ifindex: u32,
        repeat: u32,
    ) -> Result<(u32, Duration), DataplaneError> {
        self.run(frame, ingress_ifindex, repeat)
    }

    fn run(
        &self,
        frame: &[u8],
        ingress_ifindex: u32,
        repeat: u32,
    ) -> Result<(u32, Duration), DataplaneError> {
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex,
        // rx_queue_index, egress_ifindex. The kernel requires data = 0,
        // data_end = frame length and data_meta = 0.
        let ctx_words: [u32; 6] = [0, frame.len() as u32, 0, ingress_ifindex, 0, 0];
        let mut ctx = [0u8; 24];
        for (chunk, w) in ctx.chunks_exact_mut(4).zip(ctx_words) {
            chunk.copy_from_slice(&w.to_ne_bytes());
        }
        let use_ctx = ingress_ifindex != 0;
        let mut opts = TestRunOptions::new();
        opts.data_in = Some(frame);
        opts.ctx_in = use_ctx.then_some(&ctx[..]);
        opts.repeat = repeat;
        let res = self
            .program()
            .test_run(opts)
            .map_err(|source| DataplaneError::Program {
                op: "BPF_PROG_TEST_RUN",
                source: Box::new(source),
            })?;
        Ok((res.return_value, res.duration))
    }
}

/// `XDP_DROP`.
pub const XDP_DROP: u32 = 1;
/// `XDP_PASS`.
pub const XDP_PASS: u32 = 2;
