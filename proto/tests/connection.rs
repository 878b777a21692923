//! Handshake, framing errors and server isolation over real Unix sockets.

use std::time::Duration;

use argus_proto::frame::{Connection, PeerRole};
use argus_proto::socket::{bind, serve, SocketPermissions};
use argus_proto::{ProtoError, SensorMessage, SensorStatus, PROTOCOL_VERSION};
use futures::SinkExt;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio_util::codec::{FramedWrite, LengthDelimitedCodec};

const MAX: usize = 4096;

fn status(n: u64) -> SensorMessage {
    SensorMessage::Status(SensorStatus {
        interfaces: vec![],
        flows_exported: n,
        flows_shed: 0,
        samples_exported: 0,
        ringbuf_lost: 0,
    })
}

/// A kronos-like server that forwards every message and every connection error to the test.
async fn server() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    mpsc::UnboundedReceiver<Result<SensorMessage, String>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sentinel.sock");
    let listener = bind(&path, &SocketPermissions::default()).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(serve(listener, "test", move |stream| {
        let tx = tx.clone();
        async move {
            let result = async {
                let (mut conn, _hello) =
                    Connection::<SensorMessage, ()>::accept(stream, PeerRole::Sentinel, MAX)
                        .await?;
                while let Some(msg) = conn.recv().await? {
                    let _ = tx.send(Ok(msg));
                }
                Ok::<_, ProtoError>(())
            }
            .await;
            if let Err(e) = &result {
                let _ = tx.send(Err(e.to_string()));
            }
            result
        }
    }));
    (dir, path, rx)
}

async fn client(
    path: &std::path::Path,
    role: PeerRole,
) -> Result<Connection<(), SensorMessage>, ProtoError> {
    let stream = UnixStream::connect(path).await.unwrap();
    Connection::connect(stream, role, &path.display().to_string(), MAX).await
}

async fn next(
    rx: &mut mpsc::UnboundedReceiver<Result<SensorMessage, String>>,
) -> Result<SensorMessage, String> {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("server silent")
        .unwrap()
}

/// Raw hello bytes framed by hand, to play a peer of another version.
async fn raw_hello(
    path: &std::path::Path,
    version: u16,
    role: PeerRole,
) -> FramedWrite<UnixStream, LengthDelimitedCodec> {
    let stream = UnixStream::connect(path).await.unwrap();
    let mut w = FramedWrite::new(stream, LengthDelimitedCodec::new());
    let hello = argus_proto::Hello {
        protocol_version: version,
        role,
        software: "old".into(),
    };
    w.send(bytes::Bytes::from(rmp_serde::to_vec(&hello).unwrap()))
        .await
        .unwrap();
    w
}

#[tokio::test]
async fn messages_flow_after_handshake() {
    let (_d, path, mut rx) = server().await;
    let mut c = client(&path, PeerRole::Sentinel).await.unwrap();
    for n in 0..3 {
        c.send(&status(n)).await.unwrap();
    }
    for n in 0..3 {
        assert_eq!(next(&mut rx).await.unwrap(), status(n));
    }
}

#[tokio::test]
async fn version_mismatch_is_an_error_on_both_sides() {
    let (_d, path, mut rx) = server().await;
    let mut w = raw_hello(&path, PROTOCOL_VERSION + 98, PeerRole::Sentinel).await;
    let err = next(&mut rx).await.unwrap_err();
    assert!(err.contains("version 99"), "{err}");
    assert!(err.contains("sentinel peer"), "{err}");
    // The client is told why before the server hangs up.
    let reply = read_reply(w.get_mut()).await;
    match reply {
        argus_proto::HelloReply::Reject {
            protocol_version,
            reason,
        } => {
            assert_eq!(protocol_version, PROTOCOL_VERSION);
            assert!(reason.contains("version 99"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// A stream past a valid sentinel handshake, for writing frames by hand.
async fn raw_after_handshake(path: &std::path::Path) -> UnixStream {
    let mut raw = UnixStream::connect(path).await.unwrap();
    let hello = rmp_serde::to_vec(&argus_proto::Hello {
        protocol_version: PROTOCOL_VERSION,
        role: PeerRole::Sentinel,
        software: "t".into(),
    })
    .unwrap();
    raw.write_all(&(hello.len() as u32).to_be_bytes())
        .await
        .unwrap();
    raw.write_all(&hello).await.unwrap();
    let _ = read_reply(&mut raw).await;
    raw
}

async fn read_reply(stream: &mut UnixStream) -> argus_proto::HelloReply {
    use tokio::io::AsyncReadExt;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await.unwrap();
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut buf).await.unwrap();
    rmp_serde::from_slice(&buf).unwrap()
}

#[tokio::test]
async fn client_reports_a_server_of_another_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sock");
    let listener = bind(&path, &SocketPermissions::default()).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let reply = argus_proto::HelloReply::Reject {
            protocol_version: 2,
            reason: "speaks version 2".into(),
        };
        let body = rmp_serde::to_vec(&reply).unwrap();
        s.write_all(&(body.len() as u32).to_be_bytes())
            .await
            .unwrap();
        s.write_all(&body).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let err = client(&path, PeerRole::Sentinel)
        .await
        .err()
        .expect("must fail");
    assert!(
        matches!(err, ProtoError::VersionMismatch { theirs: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("v2.sock"), "{err}");
}

#[tokio::test]
async fn wrong_role_is_rejected() {
    let (_d, path, mut rx) = server().await;
    let err = client(&path, PeerRole::Ctl).await.err().expect("must fail");
    assert!(matches!(err, ProtoError::Rejected { .. }), "{err}");
    let server_err = next(&mut rx).await.unwrap_err();
    assert!(server_err.contains("argusctl"), "{server_err}");
}

#[tokio::test]
async fn oversize_frame_is_rejected_and_others_keep_being_served() {
    let (_d, path, mut rx) = server().await;
    let mut good = client(&path, PeerRole::Sentinel).await.unwrap();
    // A length prefix far above the limit, sent by hand after a valid handshake.
    let mut raw = raw_after_handshake(&path).await;
    raw.write_all(&(10_000_000u32).to_be_bytes()).await.unwrap();

    let mut saw_oversize = false;
    let mut saw_status = false;
    good.send(&status(42)).await.unwrap();
    for _ in 0..4 {
        match next(&mut rx).await {
            Err(e) if e.contains("10000000 bytes exceeds the maximum frame size of 4096") => {
                saw_oversize = true
            }
            Ok(m) if m == status(42) => saw_status = true,
            _ => {}
        }
        if saw_oversize && saw_status {
            break;
        }
    }
    assert!(
        saw_oversize && saw_status,
        "oversize {saw_oversize}, good client served {saw_status}"
    );
    good.send(&status(43)).await.unwrap();
    assert_eq!(next(&mut rx).await.unwrap(), status(43));
}

#[tokio::test]
async fn garbage_and_truncated_frames_are_errors_naming_the_peer() {
    let (_d, path, mut rx) = server().await;
    // Garbage: a well-framed body that is not a SensorMessage.
    let mut raw = raw_after_handshake(&path).await;
    raw.write_all(&3u32.to_be_bytes()).await.unwrap();
    raw.write_all(&[0xc1, 0xff, 0x00]).await.unwrap();
    let err = next(&mut rx).await.unwrap_err();
    assert!(
        err.contains("undecodable SensorMessage frame of 3 bytes"),
        "{err}"
    );
    assert!(err.contains("sentinel peer (pid"), "{err}");

    // Truncated: half a frame, then EOF.
    let mut raw = raw_after_handshake(&path).await;
    raw.write_all(&100u32.to_be_bytes()).await.unwrap();
    raw.write_all(&[0u8; 10]).await.unwrap();
    raw.shutdown().await.unwrap();
    drop(raw);
    let err = next(&mut rx).await.unwrap_err();
    assert!(
        err.contains("closed in the middle of a frame (10 bytes buffered)"),
        "{err}"
    );

    // Garbage instead of a hello.
    let mut raw = UnixStream::connect(&path).await.unwrap();
    raw.write_all(&2u32.to_be_bytes()).await.unwrap();
    raw.write_all(&[0xde, 0xad]).await.unwrap();
    let err = next(&mut rx).await.unwrap_err();
    assert!(err.contains("undecodable Hello frame"), "{err}");

    // The server still serves a good client.
    let mut good = client(&path, PeerRole::Sentinel).await.unwrap();
    good.send(&status(7)).await.unwrap();
    assert_eq!(next(&mut rx).await.unwrap(), status(7));
}

#[tokio::test]
async fn sending_an_oversize_message_fails_locally() {
    let (_d, path, _rx) = server().await;
    let mut c = client(&path, PeerRole::Sentinel).await.unwrap();
    let big = SensorMessage::Sample(argus_proto::PayloadSample {
        flow: argus_proto::FlowKey {
            src: "10.203.0.1".parse().unwrap(),
            dst: "10.203.0.2".parse().unwrap(),
            src_port: 1,
            dst_port: 2,
            protocol: argus_proto::IpProtocol::TCP,
        },
        direction: argus_proto::Direction::Forward,
        index: 0,
        timestamp: argus_proto::UnixTimeNs(0),
        payload_len: 10_000,
        bytes: vec![0; 10_000],
    });
    let err = c.send(&big).await.unwrap_err();
    assert!(
        matches!(err, ProtoError::FrameTooLarge { max: MAX, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_frame_split_across_reads_is_reassembled() {
    // Regression: the body of a frame whose prefix arrived in an earlier read was mistaken for a length
    // prefix (a Status message starts 0x81 0xa6 …, read as a 2 GB length), breaking bursts of frames.
    let (_d, path, mut rx) = server().await;
    let mut raw = raw_after_handshake(&path).await;
    let mut frames = Vec::new();
    for n in 0..3 {
        let body = rmp_serde::to_vec(&status(n)).unwrap();
        frames.extend_from_slice(&(body.len() as u32).to_be_bytes());
        frames.extend_from_slice(&body);
    }
    // Split after the first prefix and 10 body bytes, then in the middle of the second frame.
    for chunk in [&frames[..14], &frames[14..30], &frames[30..]] {
        raw.write_all(chunk).await.unwrap();
        raw.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in 0..3 {
        assert_eq!(next(&mut rx).await.unwrap(), status(n));
    }
}
