//! The single writer: a thread that owns the [`Engine`] and applies commands one at a time, so every
//! decision is serialised and each is one SQLite transaction.

use std::thread::JoinHandle;

use argus_proto::{ControlRequest, ControlResponse, Feedback, KronosStatus, Verdict};
use tokio::sync::{mpsc, oneshot};

use crate::auth::Actor;
use crate::engine::{Engine, VerdictOutcome};
use crate::store::StoreError;

/// Commands queued before the writer applies backpressure to the sockets.
const QUEUE: usize = 8192;

enum Command {
    Verdict(
        Box<Verdict>,
        oneshot::Sender<Result<VerdictOutcome, StoreError>>,
    ),
    Control(ControlRequest, Actor, oneshot::Sender<ControlResponse>),
    Denied(Actor, String, oneshot::Sender<()>),
    Tick,
    KronosStatus(Option<KronosStatus>),
    PendingFeedback(oneshot::Sender<Result<Vec<(i64, Feedback)>, StoreError>>),
    FeedbackDelivered(Vec<i64>),
    Stop,
}

/// The writer thread stopped (asked to, or it panicked).
#[derive(Debug, thiserror::Error)]
#[error("the enforcer's writer thread has stopped")]
pub struct WriterGone;

/// A handle for queueing work on the writer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct WriterHandle(mpsc::Sender<Command>);

impl WriterHandle {
    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, WriterGone> {
        let (tx, rx) = oneshot::channel();
        self.0.send(make(tx)).await.map_err(|_| WriterGone)?;
        rx.await.map_err(|_| WriterGone)
    }

    /// Queues a verdict; the returned receiver yields its outcome once committed (or the error).
    pub async fn verdict(
        &self,
        v: Verdict,
    ) -> Result<oneshot::Receiver<Result<VerdictOutcome, StoreError>>, WriterGone> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(Command::Verdict(Box::new(v), tx))
            .await
            .map_err(|_| WriterGone)?;
        Ok(rx)
    }

    /// Applies an authorised control request.
    pub async fn control(
        &self,
        req: ControlRequest,
        actor: Actor,
    ) -> Result<ControlResponse, WriterGone> {
        self.call(|tx| Command::Control(req, actor, tx)).await
    }

    /// Audits a refused control request, returning once the audit row is written (or failed to be,
    /// which is logged), so the refusal is on record before the caller hears of it.
    pub async fn denied(&self, actor: Actor, request: String) -> Result<(), WriterGone> {
        self.call(|tx| Command::Denied(actor, request, tx)).await
    }

    /// Asks for the periodic work, unless the writer is so busy that a tick is already queued
    /// behind other work (ticks do not pile up).
    pub fn tick(&self) {
        let _ = self.0.try_send(Command::Tick);
    }

    /// Kronos's latest status, or `None` when it disconnected.
    pub async fn kronos_status(&self, s: Option<KronosStatus>) -> Result<(), WriterGone> {
        self.0
            .send(Command::KronosStatus(s))
            .await
            .map_err(|_| WriterGone)
    }

    /// Feedback not yet delivered to kronos.
    pub async fn pending_feedback(
        &self,
    ) -> Result<Result<Vec<(i64, Feedback)>, StoreError>, WriterGone> {
        self.call(Command::PendingFeedback).await
    }

    /// Stops the writer after the work queued before this call; later work is refused.
    pub async fn stop(&self) {
        let _ = self.0.send(Command::Stop).await;
    }

    /// Marks feedback as delivered.
    pub async fn feedback_delivered(&self, ids: Vec<i64>) -> Result<(), WriterGone> {
        self.0
            .send(Command::FeedbackDelivered(ids))
            .await
            .map_err(|_| WriterGone)
    }
}

/// Starts the writer thread. It runs until [`WriterHandle::stop`] (or until every handle is dropped),
/// then returns the engine.
pub fn spawn(engine: Engine) -> (WriterHandle, JoinHandle<Engine>) {
    let (tx, rx) = mpsc::channel(QUEUE);
    let thread = std::thread::Builder::new()
        .name("enforcer-writer".into())
        .spawn(move || run(engine, rx))
        .expect("spawning the writer thread");
    (WriterHandle(tx), thread)
}

fn run(mut engine: Engine, mut rx: mpsc::Receiver<Command>) -> Engine {
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            // A requester that went away no longer needs the answer; the work is done regardless.
            Command::Verdict(v, reply) => {
                let _ = reply.send(engine.handle_verdict(&v));
            }
            Command::Control(req, actor, reply) => {
                let _ = reply.send(engine.control(req, &actor));
            }
            Command::Denied(actor, request, done) => {
                if let Err(e) = engine.audit_denied(&actor, &request) {
                    tracing::error!(error = %e, "cannot audit a refused request");
                }
                let _ = done.send(());
            }
            Command::Tick => {
                if let Err(e) = engine.tick() {
                    tracing::error!(error = %e, "periodic work failed; retrying at the next tick");
                }
            }
            Command::KronosStatus(s) => engine.set_kronos_status(s),
            Command::PendingFeedback(reply) => {
                let _ = reply.send(engine.pending_feedback());
            }
            Command::FeedbackDelivered(ids) => {
                if let Err(e) = engine.feedback_delivered(&ids) {
                    tracing::error!(error = %e, "cannot mark feedback delivered; it will be sent again");
                }
            }
            // Queued work behind this is dropped unanswered: unacknowledged verdicts are resent by
            // kronos, and argusctl reports that the enforcer went away.
            Command::Stop => break,
        }
    }
    engine
}
