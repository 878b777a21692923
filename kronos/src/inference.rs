//! The CNN inference worker: a dedicated thread owning the [`PayloadCnn`] (`Session::run` needs
//! `&mut self`), batching requests up to `kronos.cnn.max_batch` or until the first request of a
//! batch has waited `kronos.cnn.batch_latency_ms`. Its input queue is bounded; requests beyond it
//! are shed and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc as async_mpsc;
use tracing::{debug_span, error};

use crate::cnn::PayloadCnn;
use crate::engine::{InspectRequest, PayloadVerdict};

/// Handle to the inference thread. The thread ends when the handle is dropped (after its queue
/// drains) or when the receiver of the results is gone.
#[derive(Debug)]
pub struct InferenceWorker {
    tx: SyncSender<InspectRequest>,
    shed: Arc<AtomicU64>,
}

impl InferenceWorker {
    /// Starts the thread. Results go to `results`; at most `capacity` requests wait.
    pub fn spawn(
        mut cnn: PayloadCnn,
        max_batch: usize,
        latency: Duration,
        capacity: usize,
        results: async_mpsc::Sender<PayloadVerdict>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<InspectRequest>(capacity.max(1));
        let max_batch = max_batch.max(1);
        std::thread::Builder::new()
            .name("kronos-cnn".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(max_batch);
                while let Ok(first) = rx.recv() {
                    let deadline = Instant::now() + latency;
                    batch.push(first);
                    while batch.len() < max_batch {
                        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                            Ok(r) => batch.push(r),
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                        }
                    }
                    let span = debug_span!("cnn_batch", size = batch.len());
                    let _enter = span.enter();
                    match cnn.judge(&batch) {
                        Ok(verdicts) => {
                            for v in verdicts {
                                if results.blocking_send(v).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => error!(error = %e, dropped = batch.len(), "payload batch not classified"),
                    }
                    batch.clear();
                }
            })?;
        Ok(Self {
            tx,
            shed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Queues a request; sheds it (and counts) when the queue is full.
    pub fn submit(&self, request: InspectRequest) {
        match self.tx.try_send(request) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Requests shed because the queue was full (or the thread had stopped).
    pub fn shed(&self) -> u64 {
        self.shed.load(Ordering::Relaxed)
    }
}
