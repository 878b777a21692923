//! Unix socket helpers: binding with permissions, stale-socket removal, reconnecting clients, peer
//! credentials and a server loop that isolates one bad client from the others.

use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use nix::unistd::{Gid, Group, Uid, User};
use tokio::net::{UnixListener, UnixStream};

use crate::error::ProtoError;

/// Ownership and mode of a listening socket file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketPermissions {
    /// File mode, e.g. `0o660`.
    pub mode: u32,
    /// Group that may connect; the process's own group when `None`.
    pub group: Option<String>,
}

impl Default for SocketPermissions {
    fn default() -> Self {
        Self {
            mode: 0o660,
            group: None,
        }
    }
}

/// Binds a listening socket at `path`.
///
/// Creates the parent directory if needed. A leftover socket file from a dead process is removed; a live
/// one (something accepts connections) is an [`ProtoError::InUse`] error, and a path that is not a socket
/// is never removed.
pub fn bind(path: &Path, perms: &SocketPermissions) -> Result<UnixListener, ProtoError> {
    let err = |action: &'static str| {
        move |source: io::Error| ProtoError::Socket {
            path: path.to_owned(),
            action,
            source,
        }
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err("create parent directory"))?;
    }
    remove_stale(path)?;
    let listener = UnixListener::bind(path).map_err(err("bind"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(perms.mode))
        .map_err(err("set mode"))?;
    if let Some(group) = &perms.group {
        let gid = group_id(group).ok_or_else(|| ProtoError::UnknownGroup {
            path: path.to_owned(),
            group: group.clone(),
        })?;
        nix::unistd::chown(path, None, Some(gid))
            .map_err(|e| err("change group")(io::Error::from(e)))?;
    }
    Ok(listener)
}

fn remove_stale(path: &Path) -> Result<(), ProtoError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ProtoError::Socket {
                path: path.to_owned(),
                action: "inspect existing file",
                source,
            })
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ProtoError::NotASocket {
            path: path.to_owned(),
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Err(ProtoError::InUse {
            path: path.to_owned(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => std::fs::remove_file(path)
            .map_err(|source| ProtoError::Socket {
                path: path.to_owned(),
                action: "remove stale socket",
                source,
            }),
        Err(source) => Err(ProtoError::Socket {
            path: path.to_owned(),
            action: "probe existing socket",
            source,
        }),
    }
}

/// The gid of a group name.
pub fn group_id(name: &str) -> Option<Gid> {
    Group::from_name(name).ok().flatten().map(|g| g.gid)
}

/// Exponential backoff between reconnection attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// The delay after `attempt` failed attempts (0-based), doubling up to `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max)
    }
}

/// Connects to `path`, retrying with `backoff` until it succeeds.
///
/// Failures are logged (the first as a warning, later ones at debug level so a peer that is down for a
/// long time does not flood the journal).
pub async fn connect_with_backoff(path: &Path, backoff: Backoff) -> UnixStream {
    let mut attempt = 0u32;
    loop {
        match UnixStream::connect(path).await {
            Ok(s) => {
                if attempt > 0 {
                    tracing::info!(socket = %path.display(), attempts = attempt + 1, "connected");
                }
                return s;
            }
            Err(e) => {
                if attempt == 0 {
                    tracing::warn!(socket = %path.display(), error = %e, "cannot connect yet; retrying with backoff");
                } else {
                    tracing::debug!(socket = %path.display(), error = %e, attempt, "reconnect failed");
                }
                tokio::time::sleep(backoff.delay(attempt)).await;
                attempt = attempt.saturating_add(1);
            }
        }
    }
}

/// The kernel-verified identity of the process at the other end of a Unix socket (SO_PEERCRED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id at connect time.
    pub pid: i32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

impl PeerCred {
    /// Reads the credentials of `stream`'s peer.
    pub fn of(stream: &UnixStream) -> io::Result<Self> {
        let c = getsockopt(stream, PeerCredentials).map_err(io::Error::from)?;
        Ok(Self {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
        })
    }

    /// True for root.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// True if the peer's primary group or its user's supplementary groups include `gid`.
    pub fn in_group(&self, gid: Gid) -> bool {
        if self.gid == gid.as_raw() {
            return true;
        }
        let Ok(Some(user)) = User::from_uid(Uid::from_raw(self.uid)) else {
            return false;
        };
        let Ok(name) = std::ffi::CString::new(user.name) else {
            return false;
        };
        nix::unistd::getgrouplist(&name, Gid::from_raw(self.gid))
            .map(|groups| groups.contains(&gid))
            .unwrap_or(false)
    }
}

/// Accepts connections on `listener` forever, running `handler` for each in its own task.
///
/// A handler's error is logged with the peer it names and ends only that connection; the server keeps
/// serving the others.
pub async fn serve<F, Fut>(listener: UnixListener, name: &'static str, handler: F)
where
    F: Fn(UnixStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), ProtoError>> + Send + 'static,
{
    let handler = std::sync::Arc::new(handler);
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let handler = handler.clone();
                tokio::spawn(async move {
                    if let Err(e) = handler(stream).await {
                        tracing::warn!(server = name, error = %e, "connection closed on error");
                    }
                });
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::error!(server = name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
