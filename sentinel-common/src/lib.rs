//! Shared kernel/userspace pieces of the Argus data plane.
//!
//! - [`XDP_OBJECT`]: the compiled `sentinel-ebpf/src/argus_xdp.c`;
//! - [`abi`]: `#[repr(C)]` mirrors of `sentinel-ebpf/include/argus_shared.h`;
//! - [`key`]: address/prefix/flow key encoding (IPv4 as IPv4-mapped IPv6,
//!   network byte order);
//! - [`entry`]: typed list entries, reasons and interface roles;
//! - [`model`]: pure-Rust models of the policy decision and of flow
//!   accounting;
//! - [`packet`]: the userspace twin of the XDP parser;
//! - [`maps`]: typed access to the pinned maps (used by the enforcer and
//!   sentinel);
//! - [`program`]: loading the object (pinning/reusing maps) and
//!   `BPF_PROG_TEST_RUN`;
//! - [`bpffs`]: making sure a pin directory is on bpffs; temporary bpffs and
//!   the root check for tests.

#![warn(missing_docs)]

pub mod abi;
pub mod bpffs;
pub mod entry;
pub mod key;
pub mod maps;
pub mod model;
pub mod packet;
pub mod program;

/// Forces 8-byte alignment of the embedded object: the ELF parser reads
/// 64-bit fields in place.
#[repr(C, align(8))]
struct Aligned<B: ?Sized>(B);

static ALIGNED_OBJECT: &Aligned<[u8]> =
    &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/argus_xdp.o")));

/// The XDP object built from `sentinel-ebpf/src/argus_xdp.c` by `build.rs`.
pub static XDP_OBJECT: &[u8] = &ALIGNED_OBJECT.0;
