//! Test support for Argus: network namespaces, veth pairs, private bpffs mounts and the gateway lab.
//!
//! Everything here cleans up after itself in `Drop`, so a failing (panicking) test leaves no namespace,
//! mount or process behind. Only addresses in 10.203.0.0/16 and fd00:203::/32 are ever configured, and
//! traffic only flows between namespaces the tests create.

pub mod appliance;
pub mod bpffs;
pub mod lab;
pub mod netns;
pub mod process;
pub mod traffic;

/// Fails the calling test with a clear message unless it runs as root.
///
/// Root-only tests must not pass silently when they cannot run: CI runs as root, and a developer without
/// root sees exactly why the test failed.
pub fn require_root(what: &str) {
    assert!(
        nix::unistd::geteuid().is_root(),
        "{what} needs root (network namespaces, XDP, bpffs): run the test suite as root, e.g. `sudo packaging/test-all.sh`"
    );
}

/// A name unique to this process and call, short enough for interface names (15 bytes) with a suffix.
pub fn unique_tag() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}", std::process::id() % 0xffff, n)
}
