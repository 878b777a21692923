//! Errors of the wire protocol. Every variant names the peer (or socket path) it concerns.

use std::io;
use std::path::PathBuf;

use crate::frame::PeerRole;

/// An error on a connection or socket.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// Reading or writing the socket failed.
    #[error("{peer}: i/o error: {source}")]
    Io {
        /// The peer.
        peer: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A frame's length prefix exceeds the configured maximum; the connection is closed unread.
    #[error("{peer}: frame of {len} bytes exceeds the maximum frame size of {max} bytes")]
    FrameTooLarge {
        /// The peer.
        peer: String,
        /// Length announced by the prefix.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The peer closed the connection in the middle of a frame.
    #[error("{peer}: connection closed in the middle of a frame ({buffered} bytes buffered)")]
    Truncated {
        /// The peer.
        peer: String,
        /// Bytes of the incomplete frame that had arrived.
        buffered: usize,
    },
    /// A complete frame did not decode as the expected message type.
    #[error("{peer}: undecodable {expected} frame of {len} bytes: {source}")]
    Decode {
        /// The peer.
        peer: String,
        /// The message type expected.
        expected: &'static str,
        /// Frame length.
        len: usize,
        /// The decoder's complaint.
        #[source]
        source: rmp_serde::decode::Error,
    },
    /// A message could not be encoded (a bug, or a message over the frame limit).
    #[error("{peer}: cannot send {what}: {reason}")]
    Encode {
        /// The peer.
        peer: String,
        /// The message type.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The peer speaks another protocol version.
    #[error("{peer}: speaks Argus protocol version {theirs}, this side speaks version {ours}; upgrade both to the same release")]
    VersionMismatch {
        /// The peer.
        peer: String,
        /// Our version.
        ours: u16,
        /// Theirs.
        theirs: u16,
    },
    /// The peer is not the kind of process this socket serves.
    #[error("{peer}: is a {got} but this socket serves {expected}")]
    UnexpectedRole {
        /// The peer.
        peer: String,
        /// The role expected.
        expected: PeerRole,
        /// The role announced.
        got: PeerRole,
    },
    /// The server refused the handshake.
    #[error("{peer}: refused the handshake: {reason}")]
    Rejected {
        /// The peer.
        peer: String,
        /// The server's reason.
        reason: String,
    },
    /// The peer closed the connection before the handshake finished.
    #[error("{peer}: closed the connection during the handshake")]
    ClosedInHandshake {
        /// The peer.
        peer: String,
    },
    /// Binding, connecting or configuring a socket file failed.
    #[error("socket {path}: {action}: {source}")]
    Socket {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Another process is already serving on the socket path.
    #[error("socket {path}: another process is already listening on it")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// The socket path exists and is not a socket, so it is not removed.
    #[error("socket {path}: exists and is not a socket; refusing to remove it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// The configured socket group does not exist.
    #[error("socket {path}: group {group:?} does not exist")]
    UnknownGroup {
        /// The socket path.
        path: PathBuf,
        /// The group name.
        group: String,
    },
}
