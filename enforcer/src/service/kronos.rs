//! The verdict channel: kronos sends verdicts and its status; the enforcer acknowledges each verdict
//! once it is committed, and sends the owner's false positives and refit requests.

use argus_proto::frame::FrameWriter;
use argus_proto::{Connection, EnforcerMessage, KronosMessage, PeerRole, ProtoError};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::writer::WriterHandle;
use crate::engine::VerdictOutcome;
use crate::store::StoreError;

/// Verdicts read ahead of their acknowledgements (pipelining keeps the writer busy).
const IN_FLIGHT: usize = 1024;

type Pending = (u64, oneshot::Receiver<Result<VerdictOutcome, StoreError>>);

/// What a kronos connection listens to besides its socket.
#[derive(Clone, Debug)]
pub struct KronosSignals {
    /// Bumped whenever new false-positive feedback was recorded.
    pub feedback: watch::Receiver<u64>,
    /// `argusctl refit` requests.
    pub refit: broadcast::Sender<()>,
}

/// Serves one kronos connection until it closes.
pub async fn serve(
    stream: UnixStream,
    writer: WriterHandle,
    signals: KronosSignals,
    max_frame: usize,
) -> Result<(), ProtoError> {
    let (conn, hello) =
        Connection::<KronosMessage, EnforcerMessage>::accept(stream, PeerRole::Kronos, max_frame)
            .await?;
    let peer = conn.peer().to_owned();
    tracing::info!(%peer, software = %hello.software, "kronos connected");
    let (mut reader, out) = conn.into_split();
    let (pending_tx, pending_rx) = mpsc::channel::<Pending>(IN_FLIGHT);
    let outbound = tokio::spawn(outbound(out, pending_rx, writer.clone(), signals));
    let result = async {
        while let Some(msg) = reader.recv().await? {
            match msg {
                KronosMessage::Verdict(v) => {
                    let id = v.id;
                    let Ok(rx) = writer.verdict(v).await else {
                        break;
                    };
                    if pending_tx.send((id, rx)).await.is_err() {
                        break;
                    }
                }
                KronosMessage::Status(s) => {
                    if writer.kronos_status(Some(s)).await.is_err() {
                        break;
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    drop(pending_tx);
    // Acknowledge what was already committed before the connection ends.
    let out_result = outbound.await.unwrap_or(Ok(()));
    let _ = writer.kronos_status(None).await;
    tracing::info!(%peer, "kronos disconnected");
    result.and(out_result)
}

/// Sends acknowledgements in verdict order, pending feedback and refit requests.
async fn outbound(
    mut out: FrameWriter<EnforcerMessage>,
    mut pending: mpsc::Receiver<Pending>,
    writer: WriterHandle,
    mut signals: KronosSignals,
) -> Result<(), ProtoError> {
    let mut refit = signals.refit.subscribe();
    deliver_feedback(&mut out, &writer).await?;
    loop {
        tokio::select! {
            next = pending.recv() => {
                let Some((id, rx)) = next else { return Ok(()) };
                match rx.await {
                    Ok(Ok(_)) => out.send(&EnforcerMessage::Ack { id }).await?,
                    // Not committed, so not acknowledged: kronos keeps it and sends it again.
                    Ok(Err(e)) => tracing::error!(id, error = %e, "verdict not recorded; not acknowledged"),
                    Err(_) => return Ok(()),
                }
            }
            changed = signals.feedback.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                deliver_feedback(&mut out, &writer).await?;
            }
            r = refit.recv() => {
                if r.is_ok() {
                    out.send(&EnforcerMessage::Refit).await?;
                }
            }
        }
    }
}

/// Sends every undelivered false positive and marks those sent.
async fn deliver_feedback(
    out: &mut FrameWriter<EnforcerMessage>,
    writer: &WriterHandle,
) -> Result<(), ProtoError> {
    let pending = match writer.pending_feedback().await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read pending feedback");
            return Ok(());
        }
        Err(_) => return Ok(()),
    };
    let mut sent = Vec::new();
    for (id, fb) in pending {
        let (prefix, reason) = (fb.prefix, fb.reason);
        out.send(&EnforcerMessage::FalsePositive(fb)).await?;
        tracing::info!(%prefix, %reason, "false positive sent to kronos");
        sent.push(id);
    }
    if !sent.is_empty() {
        let _ = writer.feedback_delivered(sent).await;
    }
    Ok(())
}
