//! The gateway topology (client — gateway — server): sentinel
//! on the gateway's wan0 (wan) and lan0 (lan) must merge both directions of
//! each forwarded flow into one record with exact per-direction packet and
//! byte counts for known UDP (v4, v6), ICMP and TCP exchanges, orient flows
//! from their initiator (also a LAN-initiated one), and `--pcap` on a capture
//! of wan0 taken at the same time must give the same records and samples.
//! Also: the LAN side drops packets to banned destinations (and stops when
//! the flag is cleared). Root only: fails without root.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

use argus_proto::{DirectionStats, FlowKey, FlowRecord, IpProtocol, PayloadSample, TcpFlags};
use argus_sentinel_common::bpffs::TempBpffs;
use argus_sentinel_common::packet::{self, Parsed};
use argus_tests::netns::Netns;
use argus_tests::process::Managed;
use argus_tests::require_root;
use common::net::{Gateway, CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6};
use common::{
    flows, samples, sentinel_bin, spawn_sentinel, stop, wait_attached, wait_for, write_config,
};
use nix::sys::signal::Signal;

/// Bounds every blocking read so a lost packet fails the test instead of
/// hanging it (a bound on waiting, not a performance assertion).
const IO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn sa(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), port)
}

/// A UDP socket on `addr` whose reads give up after [`IO_TIMEOUT`].
fn udp_socket(addr: SocketAddr) -> UdpSocket {
    let s = UdpSocket::bind(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Answers `n` datagrams on `addr` inside `ns` with `reply` bytes each; returns once the socket is
/// bound, so the other side may send at once.
fn udp_responder(
    ns: &Netns,
    addr: SocketAddr,
    n: usize,
    reply: Vec<u8>,
) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let responder = ns.spawn_in(move || {
        let s = udp_socket(addr);
        tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        for _ in 0..n {
            let (_, from) = s.recv_from(&mut buf).unwrap();
            s.send_to(&reply, from).unwrap();
        }
    });
    rx.recv().unwrap();
    responder
}

/// `n` datagrams of `req` bytes from client to server, each answered with
/// `rep` bytes.
fn udp_exchange(
    lab: &Gateway,
    client: SocketAddr,
    server: SocketAddr,
    n: usize,
    req: usize,
    rep: usize,
) {
    let srv = udp_responder(&lab.server, server, n, vec![0xBB; rep]);
    lab.client.run_in(move || {
        let c = udp_socket(client);
        let mut buf = [0u8; 2048];
        for i in 0..n {
            let mut payload = vec![0xAA; req];
            payload[0] = i as u8;
            c.send_to(&payload, server).unwrap();
            assert_eq!(c.recv_from(&mut buf).unwrap().0, rep);
        }
    });
    srv.join().unwrap();
}

/// A LAN-initiated exchange: the server sends first.
fn udp_from_lan(lab: &Gateway, server: SocketAddr, client: SocketAddr) {
    let cli = udp_responder(&lab.client, client, 1, vec![0xCC; 32]);
    lab.server.run_in(move || {
        let s = udp_socket(server);
        s.send_to(&[0xDD; 64], client).unwrap();
        let mut buf = [0u8; 2048];
        assert_eq!(s.recv_from(&mut buf).unwrap().0, 32);
    });
    cli.join().unwrap();
}

/// Client sends 500 bytes and half-closes; the server answers 1000 bytes
/// and closes. Each side's data fits one segment, so no offload can merge
/// packets differently on the capture and in XDP.
fn tcp_exchange(lab: &Gateway, client: SocketAddr, server: SocketAddr) {
    let (tx, rx) = std::sync::mpsc::channel();
    let srv = lab.server.spawn_in(move || {
        let l = TcpListener::bind(server).unwrap();
        tx.send(()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 500);
        s.write_all(&[0x42; 1000]).unwrap();
    });
    rx.recv().unwrap();
    lab.client.run_in(move || {
        let sock = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Stream,
            nix::sys::socket::SockFlag::empty(),
            None,
        )
        .unwrap();
        // A fixed source port keeps the record's key known in advance.
        nix::sys::socket::setsockopt(&sock, nix::sys::socket::sockopt::ReuseAddr, &true).unwrap();
        let local = nix::sys::socket::SockaddrIn::from(match client {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        });
        nix::sys::socket::bind(std::os::fd::AsRawFd::as_raw_fd(&sock), &local).unwrap();
        let remote = nix::sys::socket::SockaddrIn::from(match server {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        });
        nix::sys::socket::connect(std::os::fd::AsRawFd::as_raw_fd(&sock), &remote).unwrap();
        let mut s = TcpStream::from(sock);
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.write_all(&[0x41; 500]).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), 1000);
    });
    srv.join().unwrap();
}

fn key(src: SocketAddr, dst: SocketAddr, proto: IpProtocol) -> FlowKey {
    FlowKey {
        src: src.ip(),
        dst: dst.ip(),
        src_port: src.port(),
        dst_port: dst.port(),
        protocol: proto,
    }
}

fn find<'a>(records: &'a [FlowRecord], k: &FlowKey) -> &'a FlowRecord {
    let matching: Vec<_> = records.iter().filter(|r| r.key == *k).collect();
    assert_eq!(
        matching.len(),
        1,
        "exactly one record for {k}: {records:#?}"
    );
    matching[0]
}

/// `n` packets of IP length `len` each.
fn uniform(n: u64, len: u64) -> (u64, u64, u32, u32, u64) {
    (n, n * len, len as u32, len as u32, n * len * len)
}

fn shape(d: &DirectionStats) -> (u64, u64, u32, u32, u64) {
    (d.packets, d.bytes, d.size_min, d.size_max, d.size_sum_sq)
}

/// Per-direction ground truth of a flow from a capture: (packets, bytes,
/// flags) from the initiator and back.
fn from_capture(path: &Path, client: IpAddr, client_port: u16) -> [(u64, u64, u8); 2] {
    let file = std::fs::File::open(path).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut out = [(0, 0, 0); 2];
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        if let Parsed::L3(i) = packet::parse(&p.data) {
            if i.proto != 6 {
                continue;
            }
            let d = if (i.src, i.sport) == (client, client_port) {
                0
            } else if (i.dst, i.dport) == (client, client_port) {
                1
            } else {
                continue;
            };
            out[d].0 += 1;
            out[d].1 += u64::from(i.ip_len);
            out[d].2 |= i.tcp_flags;
        }
    }
    out
}

const MARKER: &[u8] = b"argus-capture-marker";

fn capture_has_marker(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = pcap_file::pcap::PcapReader::new(file) else {
        return false;
    };
    // The file may end mid-packet while tcpdump writes: stop at the first
    // error rather than fail.
    while let Some(Ok(p)) = r.next_packet() {
        if p.data.windows(MARKER.len()).any(|w| w == MARKER) {
            return true;
        }
    }
    false
}

/// Packets, bytes, min, max, sum of squares and flags of one direction.
type Counts = (u64, u64, u32, u32, u64, u8);

/// Everything but timing: what live and pcap must agree on.
fn counters(r: &FlowRecord) -> (FlowKey, [Counts; 2]) {
    let c = |d: &DirectionStats| {
        (
            d.packets,
            d.bytes,
            d.size_min,
            d.size_max,
            d.size_sum_sq,
            d.tcp_flags.0,
        )
    };
    (r.key, [c(&r.forward), c(&r.backward)])
}

fn sample_view(s: &PayloadSample) -> (String, String, u8, u32, Vec<u8>) {
    (
        s.flow.to_string(),
        format!("{:?}", s.direction),
        s.index,
        s.payload_len,
        s.bytes.clone(),
    )
}

/// Sentinel on the gateway topology, attached to wan0 (role wan) and lan0 (role lan) with its maps on a
/// private bpffs, writing `live.jsonl` in a work directory. Field order is drop order: sentinel first,
/// the namespaces last.
struct Running {
    sentinel: Managed,
    config: PathBuf,
    pin_dir: PathBuf,
    dir: tempfile::TempDir,
    _fs: TempBpffs,
    lab: Gateway,
}

impl Running {
    fn start(test: &str) -> Self {
        require_root(test);
        let lab = Gateway::new();
        let fs = TempBpffs::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pin_dir = fs.path().join("argus");
        let config = write_config(
            dir.path(),
            &pin_dir,
            &[("wan0", "wan"), ("lan0", "lan")],
            "",
        );
        let sentinel = spawn_sentinel(
            &lab.gateway,
            &config,
            &dir.path().join("live.jsonl"),
            dir.path().join("sentinel.log"),
        );
        wait_attached(&sentinel, &pin_dir, &["wan0", "lan0"]);
        Self {
            sentinel,
            config,
            pin_dir,
            dir,
            _fs: fs,
            lab,
        }
    }
}

#[test]
fn gateway_counts_directions_exactly_and_pcap_agrees() {
    let mut run = Running::start("gateway_counts_directions_exactly_and_pcap_agrees");
    let (lab, dir) = (&run.lab, run.dir.path());
    let path = |name: &str| dir.join(name);
    let live_out = path("live.jsonl");

    let cap = path("wan0.pcap");
    let mut tcpdump = Managed::spawn(
        "tcpdump",
        {
            let mut c = lab.gateway.command("tcpdump");
            c.args(["-i", "wan0", "-n", "-U", "-w"]).arg(&cap);
            c
        },
        path("tcpdump.log"),
    )
    .unwrap();
    wait_for(
        "tcpdump to listen",
        || tcpdump.log(),
        || tcpdump.log().contains("listening on"),
    );

    let (c4, s4) = (sa(CLIENT_V4, 40001), sa(SERVER_V4, 5300));
    udp_exchange(lab, c4, s4, 3, 100, 200);
    let (c6, s6) = (sa(CLIENT_V6, 40001), sa(SERVER_V6, 5301));
    udp_exchange(lab, c6, s6, 2, 50, 70);
    let (lan_src, lan_dst) = (sa(SERVER_V4, 5400), sa(CLIENT_V4, 5401));
    udp_from_lan(lab, lan_src, lan_dst);
    let ping = Command::new("ip")
        .args([
            "netns",
            "exec",
            lab.client.name(),
            "ping",
            "-c",
            "3",
            "-i",
            "0.2",
            "-s",
            "56",
            SERVER_V4,
        ])
        .output()
        .unwrap();
    assert!(ping.status.success(), "ping: {ping:?}");
    let (ct, st) = (sa(CLIENT_V4, 40002), sa(SERVER_V4, 8080));
    tcp_exchange(lab, ct, st);

    // tcpdump drains its capture ring lazily: send a marker after the last
    // exchange and stop the capture only once the marker is in the file.
    lab.client.run_in(|| {
        let s = UdpSocket::bind(sa(CLIENT_V4, 0)).unwrap();
        s.send_to(MARKER, sa("10.203.21.1", 9)).unwrap();
    });
    wait_for(
        "the capture to catch up",
        || tcpdump.log(),
        || capture_has_marker(&cap),
    );
    // Stop the capture, then sentinel (which exports every remaining flow
    // on SIGTERM).
    tcpdump.signal(Signal::SIGINT).unwrap();
    tcpdump.wait().unwrap();
    stop(&mut run.sentinel);
    let live = flows(&live_out);

    // UDP v4: 3 x (20 + 8 + 100) out, 3 x (20 + 8 + 200) back.
    let r = find(&live, &key(c4, s4, IpProtocol::UDP));
    assert_eq!(r.interface, "wan0", "initiator's ingress");
    assert_eq!(shape(&r.forward), uniform(3, 128));
    assert_eq!(shape(&r.backward), uniform(3, 228));
    // UDP v6: 2 x (40 + 8 + 50) out, 2 x (40 + 8 + 70) back.
    let r = find(&live, &key(c6, s6, IpProtocol::UDP));
    assert_eq!(shape(&r.forward), uniform(2, 98));
    assert_eq!(shape(&r.backward), uniform(2, 118));
    // LAN-initiated: oriented from the server, recorded on lan0.
    let r = find(&live, &key(lan_src, lan_dst, IpProtocol::UDP));
    assert_eq!(r.interface, "lan0");
    assert_eq!(shape(&r.forward), uniform(1, 92));
    assert_eq!(shape(&r.backward), uniform(1, 60));
    // ICMP echo: keyed by type/code of the first packet; 3 x 84 each way.
    let icmp = FlowKey {
        src: CLIENT_V4.parse().unwrap(),
        dst: SERVER_V4.parse().unwrap(),
        src_port: 8,
        dst_port: 0,
        protocol: IpProtocol::ICMP,
    };
    let r = find(&live, &icmp);
    assert_eq!(shape(&r.forward), uniform(3, 84));
    assert_eq!(shape(&r.backward), uniform(3, 84));
    // TCP: the capture is the ground truth for the packet sequence.
    let r = find(&live, &key(ct, st, IpProtocol::TCP));
    let truth = from_capture(&cap, ct.ip(), ct.port());
    for (d, got) in [&r.forward, &r.backward].into_iter().enumerate() {
        assert_eq!(
            (got.packets, got.bytes, got.tcp_flags.0),
            truth[d],
            "direction {d}"
        );
    }
    assert!(r.forward.tcp_flags.has(TcpFlags::SYN | TcpFlags::FIN));
    assert!(r
        .backward
        .tcp_flags
        .has(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::FIN));
    assert!(r.forward.bytes >= 40 + 500 && r.backward.bytes >= 40 + 1000);

    // --pcap on the wan0 capture: the same records (timing aside; the
    // capture names every flow wan0) and the same payload samples.
    let pcap_out = path("pcap.jsonl");
    let replay = Command::new(sentinel_bin())
        .arg("--config")
        .arg(&run.config)
        .arg("--pcap")
        .arg(&cap)
        .args(["--pcap-interface", "wan0", "--out"])
        .arg(&pcap_out)
        .output()
        .unwrap();
    assert!(replay.status.success(), "pcap replay: {replay:?}");
    let replayed = flows(&pcap_out);
    let wanted = [
        key(c4, s4, IpProtocol::UDP),
        key(c6, s6, IpProtocol::UDP),
        key(lan_src, lan_dst, IpProtocol::UDP),
        icmp,
        key(ct, st, IpProtocol::TCP),
    ];
    for k in &wanted {
        assert_eq!(
            counters(find(&replayed, k)),
            counters(find(&live, k)),
            "{k}"
        );
    }
    let pick = |all: Vec<PayloadSample>| {
        let mut v: Vec<_> = all
            .iter()
            .filter(|s| wanted.contains(&s.flow))
            .map(sample_view)
            .collect();
        v.sort();
        v
    };
    let live_samples = pick(samples(&live_out));
    assert!(!live_samples.is_empty(), "payload samples were exported");
    assert_eq!(pick(samples(&pcap_out)), live_samples);
}

/// Whether a datagram from the server reaches the client (1 s wait).
fn server_reaches_client(lab: &Gateway, port: u16) -> bool {
    let client = sa(CLIENT_V4, port);
    let (tx, rx) = std::sync::mpsc::channel();
    let receiver = lab.client.spawn_in(move || {
        let c = UdpSocket::bind(client).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(1)))
            .unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        c.recv_from(&mut buf).is_ok()
    });
    rx.recv().unwrap();
    lab.server.run_in(move || {
        let s = UdpSocket::bind(sa(SERVER_V4, 0)).unwrap();
        s.send_to(b"to a banned host", client).unwrap();
    });
    receiver.join().unwrap()
}

#[test]
fn lan_side_drops_traffic_to_banned_destinations() {
    use argus_sentinel_common::entry::{BlockEntry, ReasonCode};
    use argus_sentinel_common::maps::{Blocklist, ConfigMap};

    let mut run = Running::start("lan_side_drops_traffic_to_banned_destinations");
    let (lab, pin_dir) = (&run.lab, &run.pin_dir);
    assert!(server_reaches_client(lab, 6001), "baseline");

    let mut b = Blocklist::open(pin_dir).unwrap();
    let client: ipnet::IpNet = format!("{CLIENT_V4}/32").parse().unwrap();
    b.insert(&BlockEntry::new(client, ReasonCode::Manual))
        .unwrap();
    // drop_lan_to_banned defaults to true: lan0 drops packets *to* the ban.
    assert!(
        !server_reaches_client(lab, 6002),
        "LAN to banned is dropped"
    );
    let hits = b.lookup(client.addr()).unwrap().unwrap().packets;
    assert!(hits >= 1);
    // Without the flag, lan0 lets it through (only wan0 checks sources).
    let mut cfg = ConfigMap::open(pin_dir).unwrap();
    let mut c = cfg.get().unwrap();
    assert!(c.drop_lan_to_banned, "sentinel wrote the configured flag");
    c.drop_lan_to_banned = false;
    cfg.set(&c).unwrap();
    assert!(server_reaches_client(lab, 6003), "LAN check off");
    stop(&mut run.sentinel);
}
