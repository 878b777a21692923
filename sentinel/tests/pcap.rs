//! `--pcap` mode without root: a capture built here (etherparse frames,
//! pcap-file writer) replayed by the binary gives exact records (both
//! directions merged, initiator orientation, idle-timeout split, TCP close)
//! and samples, as JSON lines or sent to a kronos socket that only appears
//! after sentinel started (reconnect with backoff).

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use argus_proto::{
    Connection, Direction, EndReason, FlowKey, IpProtocol, PeerRole, SensorMessage, TcpFlags,
};
use common::{flows, samples, sentinel_bin};
use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapPacket, PcapWriter};

const S: u64 = 1_000_000_000;
const CLIENT: [u8; 4] = [10, 203, 30, 2];
const SERVER: [u8; 4] = [10, 203, 30, 1];

fn udp(from_client: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, SERVER, 5000, 53)
    } else {
        (SERVER, CLIENT, 53, 5000)
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .udp(sp, dp)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn tcp(from_client: bool, syn: bool, fin: bool, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        (CLIENT, SERVER, 40000, 80)
    } else {
        (SERVER, CLIENT, 80, 40000)
    };
    let mut b = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sp, dp, 1, 65535);
    if syn {
        b = b.syn();
    }
    if fin {
        b = b.fin();
    }
    if !(syn && from_client) {
        b = b.ack(1);
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// Writes the capture: a UDP exchange, a 100 s gap (past the 30 s idle
/// timeout), another exchange on the same 5-tuple, and a TCP conversation.
fn write_capture(path: &Path) {
    let mut frames: Vec<(u64, Vec<u8>)> = vec![
        (10 * S, udp(true, b"query one")),
        (10 * S + 1_000, udp(false, b"answer one, longer")),
        (110 * S, udp(true, b"query two")),
        (110 * S + 1_000, udp(false, b"answer two")),
        (120 * S, tcp(true, true, false, b"")),
        (120 * S + 10_000, tcp(false, true, false, b"")),
        (
            120 * S + 20_000,
            tcp(true, false, false, b"GET / HTTP/1.1\r\n\r\n"),
        ),
        (
            120 * S + 30_000,
            tcp(false, false, false, b"HTTP/1.1 200 OK\r\n\r\n"),
        ),
        (120 * S + 40_000, tcp(true, false, true, b"")),
        (120 * S + 50_000, tcp(false, false, true, b"")),
        (120 * S + 60_000, tcp(true, false, false, b"")),
    ];
    // ARP is skipped, not an error.
    let mut arp = vec![0xff; 6];
    arp.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend([0u8; 28]);
    frames.push((121 * S, arp));
    let file = std::fs::File::create(path).unwrap();
    let mut w = PcapWriter::new(file).unwrap();
    for (ts, data) in &frames {
        let p = PcapPacket::new(Duration::from_nanos(*ts), data.len() as u32, data);
        w.write_packet(&p).unwrap();
    }
}

fn key(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16, proto: IpProtocol) -> FlowKey {
    FlowKey {
        src: IpAddr::from(src),
        dst: IpAddr::from(dst),
        src_port: sp,
        dst_port: dp,
        protocol: proto,
    }
}

fn replay(dir: &Path, extra: &[&str]) -> std::process::Output {
    let cap = dir.join("in.pcap");
    write_capture(&cap);
    std::process::Command::new(sentinel_bin())
        .arg("--config")
        .arg(dir.join("aegis.yaml"))
        .arg("--pcap")
        .arg(&cap)
        .args(["--pcap-interface", "eth9"])
        .args(extra)
        .output()
        .unwrap()
}

fn write_config(dir: &Path, socket: &Path) {
    std::fs::write(
        dir.join("aegis.yaml"),
        format!(
            "paths:\n  sentinel_socket: {}\nsockets:\n  group: null\n",
            socket.display()
        ),
    )
    .unwrap();
}

#[test]
fn pcap_replay_gives_exact_records_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), &dir.path().join("unused.sock"));
    let out = dir.path().join("out.jsonl");
    let run = replay(dir.path(), &["--out", out.to_str().unwrap()]);
    assert!(run.status.success(), "{run:?}");

    let records = flows(&out);
    let udp_key = key(CLIENT, 5000, SERVER, 53, IpProtocol::UDP);
    let udp: Vec<_> = records.iter().filter(|r| r.key == udp_key).collect();
    assert_eq!(
        udp.len(),
        2,
        "the idle gap splits the UDP flow: {records:#?}"
    );
    assert_eq!(udp[0].end_reason, EndReason::IdleTimeout);
    assert_eq!(
        (udp[0].forward.packets, udp[0].forward.bytes),
        (1, 20 + 8 + 9)
    );
    assert_eq!(
        (udp[0].backward.packets, udp[0].backward.bytes),
        (1, 20 + 8 + 18)
    );
    assert_eq!(udp[0].interface, "eth9");
    assert_eq!(
        udp[0].first_seen.0,
        10 * S,
        "capture timestamps are Unix time"
    );
    assert_eq!(udp[1].end_reason, EndReason::Shutdown);

    let t = records
        .iter()
        .find(|r| r.key == key(CLIENT, 40000, SERVER, 80, IpProtocol::TCP))
        .expect("tcp record");
    assert_eq!((t.forward.packets, t.backward.packets), (4, 3));
    assert_eq!(t.forward.bytes, 40 * 4 + 18);
    assert_eq!(t.backward.bytes, 40 * 3 + 19);
    assert!(t.forward.tcp_flags.has(TcpFlags::SYN | TcpFlags::FIN));
    assert!(t
        .backward
        .tcp_flags
        .has(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::FIN));
    // pcap stores microseconds: the gaps above are whole microseconds.
    assert_eq!(
        t.forward.iat_sum_ns, 60_000,
        "last - first of the forward direction"
    );
    assert_eq!(records.len(), 3);

    // Default sampling: 512 bytes of the first 2 payload packets per
    // direction; the second UDP flow is a new flow with its own samples.
    let s = samples(&out);
    let first_query: Vec<_> = s
        .iter()
        .filter(|s| s.flow == udp_key && s.direction == Direction::Forward)
        .collect();
    assert_eq!(first_query.len(), 2);
    assert_eq!(first_query[0].bytes, b"query one");
    assert_eq!(first_query[1].bytes, b"query two");
    assert_eq!(s.len(), 6, "{s:#?}");
}

#[test]
fn pcap_replay_to_kronos_waits_for_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("kronos.sock");
    write_config(dir.path(), &socket);
    // Sentinel starts first and retries with backoff until kronos listens.
    let cap_dir = dir.path().to_owned();
    let sentinel = std::thread::spawn(move || replay(&cap_dir, &[]));
    std::thread::sleep(Duration::from_millis(300));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let listener = argus_proto::socket::bind(&socket, &Default::default()).unwrap();
        // Bounded: a sentinel that never connects fails the test.
        let (stream, _) = tokio::time::timeout(Duration::from_secs(60), listener.accept())
            .await
            .expect("sentinel connected")
            .unwrap();
        let (mut conn, hello) = Connection::<SensorMessage, ()>::accept(
            stream,
            PeerRole::Sentinel,
            argus_proto::DEFAULT_MAX_FRAME_BYTES,
        )
        .await
        .unwrap();
        assert_eq!(hello.role, PeerRole::Sentinel);
        let mut got = Vec::new();
        while let Some(m) = conn.recv().await.unwrap() {
            got.push(m);
        }
        got
    });
    let run = sentinel.join().unwrap();
    assert!(run.status.success(), "{run:?}");
    let records = got
        .iter()
        .filter(|m| matches!(m, SensorMessage::Flow(_)))
        .count();
    let samples = got
        .iter()
        .filter(|m| matches!(m, SensorMessage::Sample(_)))
        .count();
    assert_eq!((records, samples), (3, 6));
}

#[test]
fn cli_version_and_bad_config() {
    let v = std::process::Command::new(sentinel_bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).contains(env!("CARGO_PKG_VERSION")));

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.yaml");
    std::fs::write(&cfg, "sentinel:\n  flows:\n    table_size: 1\n").unwrap();
    let r = std::process::Command::new(sentinel_bin())
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("sentinel.flows.table_size"),
        "the error names the key: {r:?}"
    );
}
