//! The Argus wire protocol.
//!
//! The three Argus processes exchange MsgPack-encoded messages (rmp-serde) over Unix stream sockets, each
//! message in one length-delimited frame (tokio-util's [`LengthDelimitedCodec`](tokio_util::codec::LengthDelimitedCodec),
//! 4-byte big-endian length, bounded by a maximum frame size). Every connection starts with a [`Hello`]
//! handshake carrying [`PROTOCOL_VERSION`]; a peer speaking another version is rejected with a clear error on
//! both sides.
//!
//! Channels and their message types:
//!
//! | channel | client → server | server → client |
//! |---|---|---|
//! | sentinel → kronos (`paths.sentinel_socket`) | [`SensorMessage`] | nothing |
//! | kronos → enforcer (`paths.verdict_socket`) | [`KronosMessage`] | [`EnforcerMessage`] |
//! | argusctl → enforcer (`paths.control_socket`) | [`ControlRequest`] | [`ControlResponse`] |

pub mod control;
pub mod error;
pub mod flow;
pub mod frame;
pub mod socket;
pub mod types;
pub mod verdict;

pub use control::{ControlRequest, ControlResponse};
pub use error::ProtoError;
pub use flow::{
    AttachMode, DirectionStats, EndReason, FlowRecord, PayloadSample, SensorMessage, SensorStatus,
};
pub use frame::{Connection, Hello, HelloReply, PeerRole};
pub use types::{Direction, FlowKey, IpProtocol, TcpFlags, UnixTimeNs};
pub use verdict::{
    Action, CnnEvidence, EnforcerMessage, Evidence, Feedback, KronosMessage, KronosStatus, Reason,
    Scores, Verdict,
};

/// Version of the message schema. Bump on any incompatible change to a message type.
pub const PROTOCOL_VERSION: u16 = 1;

/// Default upper bound for one frame's payload: large enough for a batch of payload samples or a full
/// `argusctl list`, small enough that a garbage length prefix cannot make a peer allocate much.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1024 * 1024;
