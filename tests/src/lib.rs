//! Test support for Argus: network namespaces, veth pairs, the gateway lab, its traffic and the running
//! appliance. Private bpffs mounts come from `argus_sentinel_common::bpffs`.
//!
//! Everything here cleans up after itself in `Drop`, so a failing (panicking) test leaves no namespace,
//! mount or process behind. Only addresses in 10.203.0.0/16 and fd00:203::/32 are ever configured, and
//! traffic only flows between namespaces the tests create.

pub mod appliance;
pub mod demo;
pub mod lab;
pub mod netns;
pub mod process;
pub mod scenarios;
pub mod traffic;

pub use argus_sentinel_common::bpffs::require_root;

/// A name unique to this process and call, short enough for interface names (15 bytes) with a suffix.
pub fn unique_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}", std::process::id() % 0xffff, n)
}
