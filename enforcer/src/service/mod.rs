//! The enforcer's sockets and background work around the [`Engine`]:
//!
//! - the verdict socket (`paths.verdict_socket`) for kronos, see [`kronos`];
//! - the control socket (`paths.control_socket`) for argusctl, see [`control`];
//! - a one-second tick for expiry, the end of the dry-run period and reconciliation;
//! - the single writer thread that owns the engine, see [`writer`].

pub mod control;
pub mod kronos;
pub mod writer;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use argus_proto::socket::{bind, serve, SocketPermissions};
use argus_proto::ProtoError;
use tokio::net::UnixListener;
use tokio::sync::{broadcast, watch};

use crate::auth::AccessGroups;
use crate::engine::Engine;
use control::ControlContext;
use kronos::KronosSignals;

/// How often expiry, the mode switch and map checks run.
pub const TICK: Duration = Duration::from_secs(1);

/// Where and how the sockets are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The verdict socket, for kronos.
    pub verdict_socket: PathBuf,
    /// The control socket, for argusctl.
    pub control_socket: PathBuf,
    /// Group owning the verdict socket (mode 0660).
    pub socket_group: Option<String>,
    /// Largest frame.
    pub max_frame: usize,
}

/// The bound sockets. Binding first makes a busy or unusable path an error at start.
#[derive(Debug)]
pub struct Listeners {
    verdict: UnixListener,
    control: UnixListener,
    paths: [PathBuf; 2],
    max_frame: usize,
}

impl Listeners {
    /// Binds both sockets. The control socket is world-connectable (0666) on purpose: every caller
    /// is identified by its kernel credentials, so a refusal is explicit, explained and audited
    /// rather than a bare "permission denied" on connect.
    pub fn bind(e: &Endpoints) -> Result<Self, ProtoError> {
        let verdict = bind(
            &e.verdict_socket,
            &SocketPermissions {
                mode: 0o660,
                group: e.socket_group.clone(),
            },
        )?;
        let control = bind(
            &e.control_socket,
            &SocketPermissions {
                mode: 0o666,
                group: None,
            },
        )?;
        Ok(Self {
            verdict,
            control,
            paths: [e.verdict_socket.clone(), e.control_socket.clone()],
            max_frame: e.max_frame,
        })
    }
}

/// Serves until `shutdown` completes, then stops the writer and removes the socket files.
/// Returns the engine.
pub async fn run(
    engine: Engine,
    listeners: Listeners,
    groups: AccessGroups,
    shutdown: impl Future<Output = ()>,
) -> Engine {
    let Listeners {
        verdict,
        control,
        paths,
        max_frame,
    } = listeners;
    let metrics = engine.metrics().clone();
    let (writer, thread) = writer::spawn(engine);
    let (feedback_tx, feedback_rx) = watch::channel(0u64);
    let (refit, _) = broadcast::channel(4);
    let signals = KronosSignals {
        feedback: feedback_rx,
        refit: refit.clone(),
    };
    let ctx = ControlContext {
        groups,
        feedback: feedback_tx,
        refit,
        metrics,
    };

    let w = writer.clone();
    let verdicts = tokio::spawn(serve(verdict, "verdict", move |stream| {
        kronos::serve(stream, w.clone(), signals.clone(), max_frame)
    }));
    let w = writer.clone();
    let controls = tokio::spawn(serve(control, "control", move |stream| {
        control::serve(stream, w.clone(), ctx.clone(), max_frame)
    }));
    let w = writer.clone();
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            w.tick();
        }
    });

    shutdown.await;
    tracing::info!("shutting down");
    for task in [verdicts, controls, ticker] {
        task.abort();
        let _ = task.await;
    }
    // Open connections notice the writer is gone and end.
    writer.stop().await;
    let engine = tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("joining the writer")
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    for p in &paths {
        remove_socket(p);
    }
    engine
}

fn remove_socket(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(socket = %path.display(), error = %e, "cannot remove socket file");
        }
    }
}
