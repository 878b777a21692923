//! Composition of the enforcer process: sockets, database, pinned maps, engine, service.

use std::future::Future;
use std::sync::Arc;

use argus_config::Config;
use argus_metrics::{MetricsError, Process, Publisher};
use argus_proto::ProtoError;

use crate::auth::AccessGroups;
use crate::clock::SystemClock;
use crate::engine::{Engine, Settings};
use crate::kernel::PinnedMaps;
use crate::lockout::LiveSystem;
use crate::service::{self, Endpoints, Listeners};
use crate::store::{Store, StoreError};

/// Why the enforcer could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The blacklist database cannot be used.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A socket cannot be served (another enforcer is running, bad path, unknown group).
    #[error(transparent)]
    Socket(#[from] ProtoError),
    /// Metrics cannot be published where `metrics` asks (port in use, unwritable directory).
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Runs the enforcer with `cfg` until `shutdown` completes.
pub async fn run(cfg: &Config, shutdown: impl Future<Output = ()>) -> Result<(), DaemonError> {
    // Sockets first: a second enforcer fails here, before it touches the database or the maps.
    let listeners = Listeners::bind(&Endpoints {
        verdict_socket: cfg.paths.verdict_socket.clone(),
        control_socket: cfg.paths.control_socket.clone(),
        socket_group: cfg.sockets.group.clone(),
        max_frame: cfg.sockets.max_frame_bytes,
    })?;
    let store = Store::open(&cfg.enforcer.blacklist_db_path)?;
    let engine = Engine::new(
        store,
        Box::new(PinnedMaps::new(&cfg.paths.pin_dir)),
        Arc::new(SystemClock),
        Box::new(LiveSystem::default()),
        Settings::from_config(cfg),
    )?;
    let groups = AccessGroups::resolve(
        &cfg.enforcer.admin_group,
        cfg.enforcer.read_group.as_deref(),
    );
    let metrics = Publisher::start(
        &cfg.metrics,
        Process::Enforcer,
        engine.metrics().registry().clone(),
    )
    .await?;
    let counts = engine.counts();
    tracing::info!(
        db = %cfg.enforcer.blacklist_db_path.display(),
        pin_dir = %cfg.paths.pin_dir.display(),
        verdict_socket = %cfg.paths.verdict_socket.display(),
        control_socket = %cfg.paths.control_socket.display(),
        mode = ?engine.mode(),
        active = counts.active,
        simulated = counts.simulated,
        "argus-enforcer ready"
    );
    service::run(engine, listeners, groups, shutdown).await;
    if let Some(m) = metrics {
        m.stop().await;
    }
    Ok(())
}
