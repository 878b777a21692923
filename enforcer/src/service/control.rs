//! The control channel: argusctl requests, authorised by the caller's peer credentials.

use argus_proto::control::{ControlError, ControlErrorKind};
use argus_proto::socket::PeerCred;
use argus_proto::{Connection, ControlRequest, ControlResponse, PeerRole, ProtoError};
use tokio::net::UnixStream;
use tokio::sync::{broadcast, watch};

use super::writer::WriterHandle;
use crate::auth::{authorize, AccessGroups, Actor};
use crate::metrics::{command_label, EnforcerMetrics};

/// What the control server needs besides the writer.
#[derive(Clone, Debug)]
pub struct ControlContext {
    /// The configured groups.
    pub groups: AccessGroups,
    /// Bumped after a request that may have recorded false positives.
    pub feedback: watch::Sender<u64>,
    /// Refit requests to the connected kronos.
    pub refit: broadcast::Sender<()>,
    /// Counts requests.
    pub metrics: EnforcerMetrics,
}

/// Serves one argusctl connection until it closes.
pub async fn serve(
    stream: UnixStream,
    writer: WriterHandle,
    ctx: ControlContext,
    max_frame: usize,
) -> Result<(), ProtoError> {
    // Identity comes from the kernel, before anything the caller sends is read.
    let cred = PeerCred::of(&stream).map_err(|source| ProtoError::Io {
        peer: "argusctl peer".into(),
        source,
    })?;
    let access = ctx.groups.access_of(&cred);
    let actor = Actor::ctl(&cred);
    let (mut conn, _) =
        Connection::<ControlRequest, ControlResponse>::accept(stream, PeerRole::Ctl, max_frame)
            .await?;
    while let Some(req) = conn.recv().await? {
        let response = handle(req, &actor, access, &writer, &ctx).await;
        conn.send(&response).await?;
    }
    Ok(())
}

async fn handle(
    req: ControlRequest,
    actor: &Actor,
    access: crate::auth::Access,
    writer: &WriterHandle,
    ctx: &ControlContext,
) -> ControlResponse {
    let unavailable = || ControlError {
        kind: ControlErrorKind::Internal,
        message: "the enforcer is shutting down".into(),
    };
    let command = command_label(&req);
    if let Err(denied) = authorize(access, &req) {
        ctx.metrics.control(command, None);
        writer
            .denied(actor.clone(), format!("{req:?}"))
            .await
            .map_err(|_| unavailable())?;
        return Err(denied);
    }
    let is_refit = matches!(req, ControlRequest::Refit);
    if is_refit && ctx.refit.receiver_count() == 0 {
        return Err(ControlError {
            kind: ControlErrorKind::Internal,
            message: "kronos is not connected to the enforcer; nothing to re-fit".into(),
        });
    }
    let changes = !req.is_read_only();
    let response = writer
        .control(req, actor.clone())
        .await
        .map_err(|_| unavailable())?;
    if response.is_ok() && changes {
        // Unblock and allow record false positives; the kronos connections send what is pending.
        ctx.feedback.send_modify(|n| *n = n.wrapping_add(1));
        if is_refit {
            let _ = ctx.refit.send(());
        }
    }
    ctx.metrics.control(command, Some(response.is_ok()));
    response
}
