//! Framing, handshake and typed connections.

use std::fmt;
use std::marker::PhantomData;

use bytes::{Buf, Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::error::ProtoError;
use crate::socket::PeerCred;
use crate::PROTOCOL_VERSION;

/// The kind of process at one end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeerRole {
    /// argus-sentinel.
    Sentinel,
    /// argus-kronos.
    Kronos,
    /// argus-enforcer.
    Enforcer,
    /// argusctl.
    Ctl,
}

impl fmt::Display for PeerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sentinel => "sentinel",
            Self::Kronos => "kronos",
            Self::Enforcer => "enforcer",
            Self::Ctl => "argusctl",
        })
    }
}

/// First frame a client sends. Its layout never changes between protocol versions, so a server can
/// always read it and answer a version mismatch clearly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The client's [`PROTOCOL_VERSION`].
    pub protocol_version: u16,
    /// What the client is.
    pub role: PeerRole,
    /// The client's software version, for logs.
    pub software: String,
}

/// The server's answer to a [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelloReply {
    /// Go ahead.
    Accept {
        /// The server's protocol version (equal to the client's).
        protocol_version: u16,
        /// The server's software version.
        software: String,
    },
    /// The server will close the connection.
    Reject {
        /// The server's protocol version.
        protocol_version: u16,
        /// Why.
        reason: String,
    },
}

/// Length-delimited framing with typed errors for oversize and truncated frames.
///
/// Wraps tokio-util's [`LengthDelimitedCodec`] (4-byte big-endian length prefix) so that an oversize
/// length is reported with its value before any of the frame is buffered.
#[derive(Debug)]
pub struct FrameCodec {
    inner: LengthDelimitedCodec,
    max: usize,
    /// The inner codec has consumed a length prefix and waits for the rest of that frame, so the bytes at
    /// the front of the buffer are frame body, not a prefix.
    mid_frame: bool,
}

/// Why a frame could not be read.
#[derive(Debug)]
pub enum FrameError {
    /// The socket failed.
    Io(std::io::Error),
    /// The length prefix exceeds the maximum.
    TooLarge {
        /// Announced length.
        len: usize,
    },
    /// End of stream in the middle of a frame.
    Truncated {
        /// Bytes buffered.
        buffered: usize,
    },
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl FrameCodec {
    /// A codec accepting frames of at most `max` bytes (payload, without the prefix).
    pub fn new(max: usize) -> Self {
        let inner = LengthDelimitedCodec::builder()
            .length_field_length(4)
            .max_frame_length(max)
            .new_codec();
        Self {
            inner,
            max,
            mid_frame: false,
        }
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let has_prefix = !self.mid_frame && src.len() >= 4;
        if has_prefix {
            let len = (&src[..4]).get_u32() as usize;
            if len > self.max {
                return Err(FrameError::TooLarge { len });
            }
        }
        let frame = self.inner.decode(src)?;
        // The inner codec consumes the prefix as soon as it has one, even if the body is incomplete.
        self.mid_frame = frame.is_none() && (self.mid_frame || has_prefix);
        Ok(frame)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        if item.len() > self.max {
            return Err(FrameError::TooLarge { len: item.len() });
        }
        Ok(self.inner.encode(item, dst)?)
    }
}

/// Decodes one MsgPack message from a frame.
pub fn decode_message<T: DeserializeOwned>(peer: &str, frame: &[u8]) -> Result<T, ProtoError> {
    rmp_serde::from_slice(frame).map_err(|source| ProtoError::Decode {
        peer: peer.to_owned(),
        expected: short_type_name::<T>(),
        len: frame.len(),
        source,
    })
}

/// Encodes one message as MsgPack (compact: the handshake pins the schema version).
pub fn encode_message<T: Serialize>(peer: &str, msg: &T) -> Result<Bytes, ProtoError> {
    rmp_serde::to_vec(msg)
        .map(Bytes::from)
        .map_err(|e| ProtoError::Encode {
            peer: peer.to_owned(),
            what: short_type_name::<T>(),
            reason: e.to_string(),
        })
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// The reading half of a connection: yields messages of type `In`.
pub struct FrameReader<In> {
    inner: FramedRead<OwnedReadHalf, FrameCodec>,
    peer: String,
    max: usize,
    _msg: PhantomData<fn() -> In>,
}

/// The writing half of a connection: sends messages of type `Out`.
pub struct FrameWriter<Out> {
    inner: FramedWrite<OwnedWriteHalf, FrameCodec>,
    peer: String,
    max: usize,
    _msg: PhantomData<fn(Out)>,
}

impl<In: DeserializeOwned> FrameReader<In> {
    /// The next message; `Ok(None)` when the peer closed the connection cleanly between frames.
    pub async fn recv(&mut self) -> Result<Option<In>, ProtoError> {
        match self.next_frame().await? {
            Some(frame) => decode_message(&self.peer, &frame).map(Some),
            None => Ok(None),
        }
    }

    async fn next_frame(&mut self) -> Result<Option<BytesMut>, ProtoError> {
        match self.inner.next().await {
            None => Ok(None),
            Some(Ok(frame)) => Ok(Some(frame)),
            Some(Err(e)) => Err(frame_error(&self.peer, self.max, e)),
        }
    }

    /// Description of the peer, for logs and errors.
    pub fn peer(&self) -> &str {
        &self.peer
    }
}

impl<Out: Serialize> FrameWriter<Out> {
    /// Sends one message and flushes it.
    pub async fn send(&mut self, msg: &Out) -> Result<(), ProtoError> {
        let bytes = encode_message(&self.peer, msg)?;
        self.inner
            .send(bytes)
            .await
            .map_err(|e| frame_error(&self.peer, self.max, e))
    }

    /// Description of the peer, for logs and errors.
    pub fn peer(&self) -> &str {
        &self.peer
    }
}

fn frame_error(peer: &str, max: usize, e: FrameError) -> ProtoError {
    let peer = peer.to_owned();
    match e {
        FrameError::Io(source) => ProtoError::Io { peer, source },
        FrameError::TooLarge { len } => ProtoError::FrameTooLarge { peer, len, max },
        FrameError::Truncated { buffered } => ProtoError::Truncated { peer, buffered },
    }
}

/// A connection after a successful handshake: receives `In`, sends `Out`.
pub struct Connection<In, Out> {
    reader: FrameReader<In>,
    writer: FrameWriter<Out>,
}

impl<In: DeserializeOwned, Out: Serialize> Connection<In, Out> {
    fn new(stream: UnixStream, peer: String, max_frame: usize) -> Self {
        let (r, w) = stream.into_split();
        Self {
            reader: FrameReader {
                inner: FramedRead::new(r, FrameCodec::new(max_frame)),
                peer: peer.clone(),
                max: max_frame,
                _msg: PhantomData,
            },
            writer: FrameWriter {
                inner: FramedWrite::new(w, FrameCodec::new(max_frame)),
                peer,
                max: max_frame,
                _msg: PhantomData,
            },
        }
    }

    /// Client side: sends a [`Hello`] as `role` and waits for the server's answer.
    ///
    /// `server` names the server in errors (e.g. the socket path).
    pub async fn connect(
        stream: UnixStream,
        role: PeerRole,
        server: &str,
        max_frame: usize,
    ) -> Result<Self, ProtoError> {
        let mut raw: Connection<HelloReply, Hello> =
            Connection::new(stream, server.to_owned(), max_frame);
        raw.writer
            .send(&Hello {
                protocol_version: PROTOCOL_VERSION,
                role,
                software: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .await?;
        let peer = server.to_owned();
        match raw.reader.recv().await? {
            Some(HelloReply::Accept { .. }) => Ok(raw.retype()),
            Some(HelloReply::Reject {
                protocol_version,
                reason,
            }) if protocol_version != PROTOCOL_VERSION => Err(ProtoError::VersionMismatch {
                peer: format!("{peer} ({reason})"),
                ours: PROTOCOL_VERSION,
                theirs: protocol_version,
            }),
            Some(HelloReply::Reject { reason, .. }) => Err(ProtoError::Rejected { peer, reason }),
            None => Err(ProtoError::ClosedInHandshake { peer }),
        }
    }

    /// Server side: reads the client's [`Hello`], checks its version and role, and answers.
    ///
    /// On a mismatch the client is told why before the error is returned and the connection dropped.
    pub async fn accept(
        stream: UnixStream,
        expected: PeerRole,
        max_frame: usize,
    ) -> Result<(Self, Hello), ProtoError> {
        let cred = PeerCred::of(&stream).ok();
        let peer = describe_peer(expected, cred);
        let mut raw: Connection<Hello, HelloReply> = Connection::new(stream, peer, max_frame);
        let hello = raw
            .reader
            .recv()
            .await?
            .ok_or_else(|| ProtoError::ClosedInHandshake {
                peer: raw.reader.peer.clone(),
            })?;
        let problem = if hello.protocol_version != PROTOCOL_VERSION {
            Some(ProtoError::VersionMismatch {
                peer: raw.reader.peer.clone(),
                ours: PROTOCOL_VERSION,
                theirs: hello.protocol_version,
            })
        } else if hello.role != expected {
            Some(ProtoError::UnexpectedRole {
                peer: raw.reader.peer.clone(),
                expected,
                got: hello.role,
            })
        } else {
            None
        };
        if let Some(problem) = problem {
            // Best effort: the client may already be gone, and the error to report is `problem`.
            let _ = raw
                .writer
                .send(&HelloReply::Reject {
                    protocol_version: PROTOCOL_VERSION,
                    reason: problem.to_string(),
                })
                .await;
            return Err(problem);
        }
        raw.writer
            .send(&HelloReply::Accept {
                protocol_version: PROTOCOL_VERSION,
                software: env!("CARGO_PKG_VERSION").to_owned(),
            })
            .await?;
        Ok((raw.retype(), hello))
    }

    fn retype<I2, O2>(self) -> Connection<I2, O2> {
        Connection {
            reader: FrameReader {
                inner: self.reader.inner,
                peer: self.reader.peer,
                max: self.reader.max,
                _msg: PhantomData,
            },
            writer: FrameWriter {
                inner: self.writer.inner,
                peer: self.writer.peer,
                max: self.writer.max,
                _msg: PhantomData,
            },
        }
    }

    /// The next message; `Ok(None)` on a clean close.
    pub async fn recv(&mut self) -> Result<Option<In>, ProtoError> {
        self.reader.recv().await
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &Out) -> Result<(), ProtoError> {
        self.writer.send(msg).await
    }

    /// Description of the peer.
    pub fn peer(&self) -> &str {
        &self.reader.peer
    }

    /// Splits into halves that can be used from different tasks.
    pub fn into_split(self) -> (FrameReader<In>, FrameWriter<Out>) {
        (self.reader, self.writer)
    }
}

fn describe_peer(role: PeerRole, cred: Option<PeerCred>) -> String {
    match cred {
        Some(c) => format!("{role} peer (pid {}, uid {})", c.pid, c.uid),
        None => format!("{role} peer"),
    }
}
