//! The kronos service (`argus-kronos serve`): the sentinel socket, the engine task, the CNN
//! worker, baseline learning and the enforcer link.
//!
//! ```text
//! sentinel conns ──▶ ShedQueue (queue_capacity) ──▶ engine task ──▶ Outbox (verdict_buffer) ──▶ enforcer link
//!                                                    │   ▲   ▲                                   │
//!                         CNN worker (thread) ◀──────┘   │   └──── acks, false positives, refit ◀┘
//!                                        └───────────────┘
//! ```
//!
//! The engine task owns the [`Engine`], the baseline store and the learning schedule; everything
//! it exchanges with the other tasks goes through bounded queues. The enforcer link reconnects
//! with backoff and re-sends unacknowledged verdicts after each reconnect; while the enforcer is
//! down verdicts wait in the outbox, the oldest dropped (and counted) when it is full.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argus_config::Config;
use argus_metrics::{MetricsError, Process, Publisher};
use argus_proto::socket::{self, Backoff, SocketPermissions};
use argus_proto::{
    Connection, EnforcerMessage, Feedback, KronosMessage, KronosStatus, PayloadSample, PeerRole,
    ProtoError, SensorMessage, SensorStatus, UnixTimeNs, Verdict,
};
use thiserror::Error;
use tokio::sync::{mpsc, watch, Notify};
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::cnn::{self, CnnError};
use crate::engine::{Engine, EngineSettings, Outputs, PayloadVerdict};
use crate::features::FeatureError;
use crate::inference::InferenceWorker;
use crate::learning::{BaselineStore, LearningError, LearningState, Opened, StatePaths};
use crate::metrics::{CnnStatus, KronosMetrics, Shed};
use crate::model::{self, ActiveModel, ModelError};
use crate::outbox::Outbox;
use crate::queue::ShedQueue;
use crate::triage::Triage;
use crate::FeatureMatrix;

/// Payload samples waiting for the CNN before new ones are shed.
pub const CNN_QUEUE: usize = 1024;

/// Verdicts sent to the enforcer and not yet acknowledged at once. The enforcer commits each verdict
/// before acking it, so this bounds what a crash of the enforcer can leave to be re-sent, while a burst
/// of verdicts (a scan from many sources) still flows without a round trip per verdict.
pub const MAX_UNACKED: usize = 64;

/// Records the engine takes from the input queue at a time.
const ENGINE_BATCH: usize = 256;

/// Why the service could not start.
#[derive(Debug, Error)]
pub enum ServiceError {
    /// The sentinel socket could not be bound.
    #[error("sentinel socket: {0}")]
    Socket(#[from] ProtoError),
    /// The configured windows are unusable.
    #[error("kronos.source_windows_secs: {0}")]
    Features(#[from] FeatureError),
    /// The learning state could not be read or written.
    #[error("learning state: {0}")]
    Learning(#[from] LearningError),
    /// The CNN is required (`kronos.cnn.required`) and could not be loaded.
    #[error("payload CNN (kronos.cnn.required is true): {0}")]
    Cnn(#[from] CnnError),
    /// A thread could not be started.
    #[error("cannot start the CNN thread: {0}")]
    Thread(#[from] std::io::Error),
    /// Metrics cannot be published where `metrics` asks (port in use, unwritable directory).
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// Knobs of the service that are not in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceOptions {
    /// How often the status is published to the enforcer and the baseline store flushed.
    pub status_interval: Duration,
    /// Backoff between attempts to reach the enforcer.
    pub backoff: Backoff,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        Self {
            status_interval: Duration::from_secs(10),
            backoff: Backoff::default(),
        }
    }
}

/// An input of the engine from a sentinel connection.
#[derive(Debug)]
enum Input {
    Flow(argus_proto::FlowRecord),
    Sample(PayloadSample),
}

/// A message to the engine task from the enforcer link or a refit.
#[derive(Debug)]
pub enum Control {
    /// The enforcer acknowledged this verdict.
    Ack(Box<Verdict>),
    /// The owner unblocked a prefix.
    FalsePositive(Feedback),
    /// The owner asked for a re-fit.
    Refit,
    /// A re-fit finished.
    Fitted(Box<Result<ActiveModel, ModelError>>),
}

/// What the sentinel connections share with the engine task.
#[derive(Debug)]
struct Intake {
    /// Counts what arrives and what the input queue sheds.
    metrics: KronosMetrics,
    sensor: Mutex<Option<SensorStatus>>,
}

/// Counts a sentinel connection for as long as it lives, however it ends.
struct SentinelConnection<'a>(&'a KronosMetrics);

impl<'a> SentinelConnection<'a> {
    fn open(metrics: &'a KronosMetrics) -> Self {
        metrics.sentinel_connected(true);
        Self(metrics)
    }
}

impl Drop for SentinelConnection<'_> {
    fn drop(&mut self) {
        self.0.sentinel_connected(false);
    }
}

/// What the enforcer link shares with the engine task.
#[derive(Debug, Clone)]
pub struct EnforcerLink {
    /// Verdicts to send.
    pub outbox: Arc<Mutex<Outbox>>,
    /// Woken when verdicts are queued.
    pub wake: Arc<Notify>,
    /// Acks, feedback and refit requests for the engine task.
    pub control: mpsc::Sender<Control>,
    /// The latest status, sent when it changes.
    pub status: watch::Receiver<KronosStatus>,
    /// Records whether the enforcer is connected.
    pub metrics: KronosMetrics,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn unix_now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs the service until `shutdown` completes.
pub async fn run(
    cfg: Config,
    options: ServiceOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServiceError> {
    let paths = StatePaths::new(&cfg.paths.state_dir);
    let state = LearningState::load_or_create(&paths.state, unix_now_s())?;
    let learning = state.learning(unix_now_s(), cfg.enforcer.dry_run_duration_days);
    let settings = EngineSettings {
        learning,
        ..EngineSettings::from_config(&cfg)
    };
    let mut engine = Engine::new(&settings, Triage::from_config(&cfg), UnixTimeNs::now().0)?;
    let metrics = engine.metrics().clone();
    let names = engine.feature_names().to_vec();
    let learned_model_exists = paths.model.exists();
    engine.set_model(model::load_configured(&cfg, &paths.model, &names).map(Arc::new));
    let (store, opened) = BaselineStore::open(
        &paths.baseline,
        &names,
        cfg.kronos.isolation_forest.baseline_max_samples,
    )?;
    if let Opened::Reset(why) = &opened {
        warn!(path = %paths.baseline.display(), reason = %why, "baseline store started afresh");
    }
    info!(
        learning,
        baseline_rows = store.len(),
        first_start = state.first_start_unix_s,
        "baseline"
    );

    let (cnn_tx, cnn_rx) = mpsc::channel::<PayloadVerdict>(CNN_QUEUE);
    let (worker, cnn_detail) = match cnn::load_from_config(&cfg) {
        Ok(Some(c)) => {
            let detail = format!("{} (threshold {})", c.version(), c.threshold());
            info!(model = %c.version(), "payload CNN loaded");
            let latency = Duration::from_millis(cfg.kronos.cnn.batch_latency_ms);
            let w =
                InferenceWorker::spawn(c, cfg.kronos.cnn.max_batch, latency, CNN_QUEUE, cnn_tx)?;
            metrics.set_cnn(CnnStatus::Loaded);
            (Some(w), detail)
        }
        Ok(None) => {
            metrics.set_cnn(CnnStatus::Disabled);
            (None, "disabled (kronos.cnn.enabled is false)".to_owned())
        }
        Err(e) if cfg.kronos.cnn.required => return Err(e.into()),
        Err(e) => {
            error!(error = %e, "PAYLOAD CNN NOT LOADED: running without payload inspection (kronos.cnn.required is false)");
            metrics.set_cnn(CnnStatus::Failed);
            (None, format!("not loaded: {e}"))
        }
    };

    let queue = Arc::new(ShedQueue::new(cfg.kronos.queue_capacity));
    let intake = Arc::new(Intake {
        metrics: metrics.clone(),
        sensor: Mutex::new(None),
    });
    let listener = socket::bind(
        &cfg.paths.sentinel_socket,
        &SocketPermissions {
            mode: 0o660,
            group: cfg.sockets.group.clone(),
        },
    )?;
    info!(socket = %cfg.paths.sentinel_socket.display(), "serving sentinel");
    let publisher =
        match Publisher::start(&cfg.metrics, Process::Kronos, metrics.registry().clone()).await {
            Ok(p) => p,
            Err(e) => {
                // The socket is ours: leave no file behind that looks like a running kronos.
                let _ = std::fs::remove_file(&cfg.paths.sentinel_socket);
                return Err(e.into());
            }
        };
    let server = tokio::spawn(serve_sentinel(
        listener,
        cfg.sockets.max_frame_bytes,
        queue.clone(),
        intake.clone(),
    ));

    let (status_tx, status_rx) = watch::channel(KronosStatus::default());
    let (control_tx, control_rx) = mpsc::channel(1024);
    let link = EnforcerLink {
        outbox: Arc::new(Mutex::new(Outbox::new(cfg.kronos.verdict_buffer))),
        wake: Arc::new(Notify::new()),
        control: control_tx.clone(),
        status: status_rx,
        metrics,
    };
    let client = tokio::spawn(enforcer_client(
        cfg.paths.verdict_socket.clone(),
        cfg.sockets.max_frame_bytes,
        options.backoff,
        link.clone(),
    ));

    let mut task = EngineTask {
        refit_due_at_start: learning
            && !learned_model_exists
            && store.len() >= cfg.kronos.isolation_forest.min_samples,
        cfg,
        engine,
        store,
        state,
        worker,
        cnn_detail,
        queue,
        intake,
        link,
        control_tx,
        status_tx,
        model_path: paths.model,
        refitting: false,
    };
    task.run(options, control_rx, cnn_rx, shutdown).await;
    server.abort();
    client.abort();
    if let Some(p) = publisher {
        p.stop().await;
    }
    if let Err(e) = task.store.flush() {
        error!(error = %e, "baseline store not flushed at shutdown");
    }
    let _ = std::fs::remove_file(&task.cfg.paths.sentinel_socket);
    info!("stopped");
    Ok(())
}

/// Accepts sentinel connections and feeds their records and samples to the queue.
async fn serve_sentinel(
    listener: tokio::net::UnixListener,
    max_frame: usize,
    queue: Arc<ShedQueue<Input>>,
    intake: Arc<Intake>,
) {
    socket::serve(listener, "sentinel", move |stream| {
        let queue = queue.clone();
        let intake = intake.clone();
        async move {
            let (mut conn, hello) =
                Connection::<SensorMessage, ()>::accept(stream, PeerRole::Sentinel, max_frame)
                    .await?;
            let span = info_span!("sentinel", peer = %conn.peer(), software = %hello.software);
            async move {
                info!("connected");
                let _connected = SentinelConnection::open(&intake.metrics);
                while let Some(msg) = conn.recv().await? {
                    let shed = match msg {
                        SensorMessage::Flow(f) => {
                            intake.metrics.received(true);
                            queue.push(Input::Flow(f))
                        }
                        SensorMessage::Sample(s) => {
                            intake.metrics.received(false);
                            queue.push(Input::Sample(s))
                        }
                        SensorMessage::Status(s) => {
                            *lock(&intake.sensor) = Some(s);
                            None
                        }
                    };
                    match shed {
                        Some(Input::Flow(_)) => intake.metrics.shed(Shed::Flow, 1),
                        Some(Input::Sample(_)) => intake.metrics.shed(Shed::Sample, 1),
                        None => {}
                    }
                }
                info!("disconnected");
                Ok(())
            }
            .instrument(span)
            .await
        }
    })
    .await;
}

/// Keeps a connection to the enforcer: sends queued verdicts and status, forwards acks and
/// feedback to the engine task, reconnects with backoff and re-sends unacknowledged verdicts.
/// Runs until aborted.
pub async fn enforcer_client(
    path: PathBuf,
    max_frame: usize,
    backoff: Backoff,
    mut link: EnforcerLink,
) {
    let name = path.display().to_string();
    loop {
        let stream = socket::connect_with_backoff(&path, backoff).await;
        let conn = match Connection::<EnforcerMessage, KronosMessage>::connect(
            stream,
            PeerRole::Kronos,
            &name,
            max_frame,
        )
        .await
        {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "enforcer handshake failed");
                tokio::time::sleep(backoff.max).await;
                continue;
            }
        };
        info!(socket = %name, "connected to the enforcer");
        lock(&link.outbox).requeue_unacked();
        link.metrics.set_enforcer_connected(true);
        let served = serve_enforcer(conn, &mut link).await;
        link.metrics.set_enforcer_connected(false);
        match served {
            Ok(()) => warn!(socket = %name, "enforcer closed the connection; reconnecting"),
            Err(e) => warn!(socket = %name, error = %e, "enforcer connection lost; reconnecting"),
        }
    }
}

async fn serve_enforcer(
    conn: Connection<EnforcerMessage, KronosMessage>,
    link: &mut EnforcerLink,
) -> Result<(), ProtoError> {
    let (mut reader, mut writer) = conn.into_split();
    let status = link.status.borrow_and_update().clone();
    writer.send(&KronosMessage::Status(status)).await?;
    loop {
        loop {
            let next = {
                let mut outbox = lock(&link.outbox);
                if outbox.awaiting_ack() < MAX_UNACKED {
                    outbox.next_unsent()
                } else {
                    None
                }
            };
            let Some(verdict) = next else { break };
            debug!(ip = %verdict.source, id = verdict.id, "sending verdict");
            writer.send(&KronosMessage::Verdict(verdict)).await?;
        }
        tokio::select! {
            msg = reader.recv() => {
                let control = match msg? {
                    None => return Ok(()),
                    Some(EnforcerMessage::Ack { id }) => {
                        let acked = lock(&link.outbox).ack(id);
                        match acked {
                            Some(v) => Control::Ack(Box::new(v)),
                            None => continue,
                        }
                    }
                    Some(EnforcerMessage::FalsePositive(f)) => Control::FalsePositive(f),
                    Some(EnforcerMessage::Refit) => Control::Refit,
                };
                if link.control.send(control).await.is_err() {
                    return Ok(());
                }
            }
            _ = link.wake.notified() => {}
            changed = link.status.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let status = link.status.borrow_and_update().clone();
                writer.send(&KronosMessage::Status(status)).await?;
            }
        }
    }
}

/// The engine task's state.
struct EngineTask {
    cfg: Config,
    engine: Engine,
    store: BaselineStore,
    state: LearningState,
    worker: Option<InferenceWorker>,
    cnn_detail: String,
    queue: Arc<ShedQueue<Input>>,
    intake: Arc<Intake>,
    link: EnforcerLink,
    control_tx: mpsc::Sender<Control>,
    status_tx: watch::Sender<KronosStatus>,
    model_path: PathBuf,
    refitting: bool,
    refit_due_at_start: bool,
}

impl EngineTask {
    async fn run(
        &mut self,
        options: ServiceOptions,
        mut control: mpsc::Receiver<Control>,
        mut cnn: mpsc::Receiver<PayloadVerdict>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut out = Outputs::default();
        let mut batch = Vec::with_capacity(ENGINE_BATCH);
        let mut status_tick = tokio::time::interval(options.status_interval);
        let refit_every =
            Duration::from_secs(self.cfg.kronos.isolation_forest.refit_interval_hours * 3600);
        let mut refit_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + refit_every, refit_every);
        if self.refit_due_at_start {
            self.start_refit();
        }
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                Some(c) = control.recv() => self.on_control(c),
                Some(pv) = cnn.recv() => self.engine.on_payload_verdict(&pv, &mut out),
                _ = self.queue.pop_batch(&mut batch, ENGINE_BATCH) => {
                    for input in batch.drain(..) {
                        match input {
                            Input::Flow(f) => self.engine.on_flow(&f, &mut out),
                            Input::Sample(s) => self.engine.on_sample(s, &mut out),
                        }
                    }
                }
                _ = status_tick.tick() => self.tick(),
                _ = refit_tick.tick() => {
                    if self.engine.learning() {
                        self.start_refit();
                    }
                }
            }
            self.dispatch(&mut out);
        }
    }

    fn dispatch(&mut self, out: &mut Outputs) {
        if !out.verdicts.is_empty() {
            let mut outbox = lock(&self.link.outbox);
            for v in out.verdicts.drain(..) {
                outbox.push(v);
            }
            drop(outbox);
            self.link.wake.notify_one();
        }
        for request in out.inspect.drain(..) {
            if let Some(w) = &self.worker {
                w.submit(request);
            }
        }
        for row in out.baseline.drain(..) {
            self.store.append(&row);
        }
    }

    fn on_control(&mut self, c: Control) {
        match c {
            Control::Ack(v) => self.engine.on_ack(&v),
            Control::FalsePositive(f) => self.engine.on_false_positive(&f),
            Control::Refit => {
                info!("re-fit requested by the owner");
                self.start_refit();
            }
            Control::Fitted(result) => {
                self.refitting = false;
                match *result {
                    Ok(m) => {
                        info!(model = %m.version(), samples = m.training_samples(), "re-fitted the anomaly model on the local baseline");
                        self.engine.set_model(Some(Arc::new(m)));
                        self.tick();
                    }
                    Err(e) => error!(error = %e, "re-fit failed; keeping the current model"),
                }
            }
        }
    }

    /// Fits a new model on the baseline store in a blocking task, if enough rows exist.
    fn start_refit(&mut self) {
        if self.refitting {
            return;
        }
        let min = self.cfg.kronos.isolation_forest.min_samples;
        let rows: Option<FeatureMatrix> = match self.store.rows() {
            Ok(r) => r,
            Err(e) => {
                error!(error = %e, "cannot read the baseline store");
                return;
            }
        };
        let Some(rows) = rows.filter(|r| r.n_rows() >= min) else {
            info!(
                rows = self.store.len(),
                min_samples = min,
                "not enough baseline yet to fit a model"
            );
            return;
        };
        self.refitting = true;
        let names = self.engine.feature_names().to_vec();
        let kronos = self.cfg.kronos.clone();
        let path = self.model_path.clone();
        let tx = self.control_tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = model::fit(&rows, &names, &kronos)
                .and_then(|d| model::save(d, &path, false))
                .map(|(m, _)| m);
            let _ = tx.blocking_send(Control::Fitted(Box::new(result)));
        });
    }

    /// Periodic work: learning period, baseline flush, status.
    fn tick(&mut self) {
        let learning = self
            .state
            .learning(unix_now_s(), self.cfg.enforcer.dry_run_duration_days);
        if learning != self.engine.learning() {
            info!(learning, "learning period changed");
            self.engine.set_learning(learning);
        }
        if let Err(e) = self.store.flush() {
            error!(error = %e, "cannot write the baseline store");
        }
        let c = self.engine.counters();
        let metrics = self.engine.metrics();
        let cnn_shed = self.worker.as_ref().map_or(0, InferenceWorker::shed);
        let verdicts_dropped = lock(&self.link.outbox).dropped();
        metrics.shed_total(Shed::Cnn, cnn_shed);
        metrics.shed_total(Shed::Verdict, verdicts_dropped);
        metrics.set_learning(
            self.engine.learning(),
            self.store.len(),
            self.engine.tracked_sources(),
        );
        let model = self.engine.model();
        let status = KronosStatus {
            model_version: model.map_or_else(
                || "none (behaviour rules only)".to_owned(),
                |m| m.version().to_owned(),
            ),
            training_samples: model.map_or(0, |m| m.training_samples()),
            bootstrap_model: model.is_some_and(|m| m.is_bootstrap()),
            cnn_loaded: self.worker.is_some(),
            cnn_detail: self.cnn_detail.clone(),
            flows_received: metrics.flows_received(),
            flows_shed: metrics.shed_count(Shed::Flow),
            samples_scored: c.payloads_scored,
            verdicts_sent: lock(&self.link.outbox).sent(),
            sensor: lock(&self.intake.sensor).clone(),
        };
        debug!(
            flows = c.flows,
            scored = c.scored,
            fast_path = c.fast_path,
            ignored = c.ignored_protected + c.ignored_lan,
            samples_shed = metrics.shed_count(Shed::Sample),
            cnn_shed,
            verdicts_dropped,
            sources = self.engine.tracked_sources(),
            sources_evicted = self.engine.evicted_sources(),
            baseline_rows = self.store.len(),
            "status"
        );
        self.status_tx.send_replace(status);
    }
}
