//! bpffs helpers: pins only work on a mounted BPF filesystem.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `BPF_FS_MAGIC` from `<linux/magic.h>`.
const BPF_FS_MAGIC: u64 = 0xCAFE_4A11;

/// Errors preparing a pin directory.
#[derive(Debug, thiserror::Error)]
pub enum BpffsError {
    /// A filesystem operation on `path` failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Whether `path` lies on a BPF filesystem.
pub fn is_bpffs(path: &Path) -> io::Result<bool> {
    let c = c_path(path)?;
    // SAFETY: statfs writes into the zeroed struct we own; `c` is a valid
    // NUL-terminated string for the duration of the call.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // f_type's integer type differs between libc targets.
    #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
    let fs_type = st.f_type as u64;
    Ok(fs_type == BPF_FS_MAGIC)
}

fn mount_bpffs(path: &Path) -> io::Result<()> {
    let target = c_path(path)?;
    let fstype = c"bpf";
    let source = c"bpffs";
    let data = c"mode=0700";
    // SAFETY: all pointers are valid NUL-terminated strings for the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes sure `pin_dir` exists on a BPF filesystem: creates it, and when it
/// is not on bpffs mounts one there (hosts without `/sys/fs/bpf` mounted,
/// or a pin dir of its own). Needs root to mount.
pub fn ensure_bpffs(pin_dir: &Path) -> Result<(), BpffsError> {
    let io_err = |op, source| BpffsError::Io {
        op,
        path: pin_dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(pin_dir).map_err(|e| io_err("create", e))?;
    if is_bpffs(pin_dir).map_err(|e| io_err("statfs", e))? {
        return Ok(());
    }
    mount_bpffs(pin_dir).map_err(|e| io_err("mount bpffs on", e))
}

/// A private bpffs mounted on a fresh temporary directory, unmounted and
/// removed on drop (also when a test panics). Tests point the pin dir here
/// so they never touch `/sys/fs/bpf` and processes in network namespaces
/// (`ip netns exec` remounts /sys) still share the pins.
#[derive(Debug)]
pub struct TempBpffs {
    dir: PathBuf,
}

impl TempBpffs {
    /// Mounts a new bpffs (needs root).
    pub fn new() -> Result<Self, BpffsError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "argus-bpffs-{}-{}-{nanos}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|source| BpffsError::Io {
            op: "create",
            path: dir.clone(),
            source,
        })?;
        if let Err(source) = mount_bpffs(&dir) {
            let _ = std::fs::remove_dir(&dir);
            return Err(BpffsError::Io {
                op: "mount bpffs on",
                path: dir,
                source,
            });
        }
        Ok(Self { dir })
    }

    /// The mount point (use it as the pin dir).
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempBpffs {
    fn drop(&mut self) {
        if let Ok(c) = c_path(&self.dir) {
            // SAFETY: valid NUL-terminated path. MNT_DETACH so a pin still
            // held open by a leaked fd cannot keep the directory busy.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Panics with a clear message unless the process runs as root. Root-only
/// tests call this first so that without root they FAIL, never pass.
pub fn require_root(what: &str) {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "{what} needs root (loads BPF programs, mounts bpffs, creates network namespaces); \
         run the tests as root, e.g. `sudo -E cargo test -p <crate>`"
    );
}
