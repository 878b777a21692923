//! A private bpffs mount in a temporary directory.
//!
//! `ip netns exec` gives its command a fresh /sys without bpffs, and every bpffs mount is its own instance,
//! so processes that must share pins (sentinel, enforcer, tests) use one bpffs mounted outside /sys.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::netns::run;

/// A bpffs mounted on a temporary directory, unmounted (dropping every pin in it) on drop.
#[derive(Debug)]
pub struct BpfFs {
    dir: tempfile::TempDir,
}

impl BpfFs {
    /// Mounts a fresh bpffs.
    pub fn mount() -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("argus-bpffs-")
            .tempdir()
            .context("create bpffs mount point")?;
        let path = dir
            .path()
            .to_str()
            .context("non-UTF-8 temp dir")?
            .to_owned();
        run("mount", &["-t", "bpf", "bpf", &path])?;
        Ok(Self { dir })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The pin directory Argus uses inside the mount.
    pub fn pin_dir(&self) -> PathBuf {
        self.dir.path().join("argus")
    }
}

impl Drop for BpfFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .output();
    }
}
