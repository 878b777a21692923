//! Helpers shared by the root-only data-plane tests: a loaded program on a
//! private bpffs, typed map handles and frame builders (etherparse).
#![allow(dead_code)] // each test binary uses a different subset

use std::net::IpAddr;

use argus_sentinel_common::abi::Stats;
use argus_sentinel_common::bpffs::{require_root, TempBpffs};
use argus_sentinel_common::maps::{
    Allowlist, Blocklist, ConfigMap, DataplaneConfig, Events, Flows, Ifaces, StatsMap,
};
use argus_sentinel_common::program::{Dataplane, MapSizes};
use etherparse::{IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, PacketBuilder};

/// Loopback's ifindex: exists in every network namespace, so test runs may
/// name it as the ingress interface (to give it a role in IFACES).
pub const LO_IFINDEX: u32 = 1;

/// A loaded data plane on its own bpffs (maps and counters private to the
/// test). Dropping it unmounts the bpffs, which frees the maps.
pub struct Harness {
    pub dp: Dataplane,
    // Declared after `dp` so the program and map fds close before unmount.
    pub fs: TempBpffs,
}

impl Harness {
    /// Small maps: tests run in parallel and FLOWS is preallocated.
    pub fn new(test: &str) -> Self {
        Self::with_sizes(
            test,
            MapSizes {
                blocklist: 65_536,
                allowlist: 1024,
                flows: 4096,
                events_bytes: 1 << 20,
            },
        )
    }

    pub fn with_sizes(test: &str, sizes: MapSizes) -> Self {
        require_root(test);
        let fs = TempBpffs::new().expect("mount a private bpffs");
        let dp = Dataplane::load(fs.path(), &sizes).expect("load the XDP object");
        Self { dp, fs }
    }

    pub fn run(&self, frame: &[u8]) -> u32 {
        self.dp.test_run(frame, 0).expect("BPF_PROG_TEST_RUN")
    }

    pub fn run_on(&self, frame: &[u8], ifindex: u32) -> u32 {
        self.dp.test_run(frame, ifindex).expect("BPF_PROG_TEST_RUN")
    }

    pub fn blocklist(&self) -> Blocklist {
        Blocklist::open(self.fs.path()).unwrap()
    }
    pub fn allowlist(&self) -> Allowlist {
        Allowlist::open(self.fs.path()).unwrap()
    }
    pub fn config(&self) -> ConfigMap {
        ConfigMap::open(self.fs.path()).unwrap()
    }
    pub fn set_config(&self, cfg: DataplaneConfig) {
        self.config().set(&cfg).unwrap();
    }
    pub fn ifaces(&self) -> Ifaces {
        Ifaces::open(self.fs.path()).unwrap()
    }
    pub fn flows(&self) -> Flows {
        Flows::open(self.fs.path()).unwrap()
    }
    pub fn events(&self) -> Events {
        Events::open(self.fs.path()).unwrap()
    }
    pub fn stats(&self) -> Stats {
        StatsMap::open(self.fs.path()).unwrap().read().unwrap()
    }
}

/// Transport layer of a test frame.
#[derive(Clone, Copy, Debug)]
pub enum L4 {
    /// TCP with the given flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    Tcp {
        sport: u16,
        dport: u16,
        flags: u8,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
    EchoRequest {
        id: u16,
        seq: u16,
    },
    EchoReply {
        id: u16,
        seq: u16,
    },
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// A frame to build.
#[derive(Clone, Debug)]
pub struct Spec {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub l4: L4,
    pub payload: Vec<u8>,
    /// 0, 1 (802.1Q) or 2 (802.1ad outer + 802.1Q inner) tags.
    pub vlans: usize,
    /// IPv4 options (multiple of 4 bytes, at most 40).
    pub ipv4_options: Vec<u8>,
}

impl Spec {
    pub fn new(src: IpAddr, dst: IpAddr, l4: L4) -> Self {
        Self {
            src,
            dst,
            l4,
            payload: Vec::new(),
            vlans: 0,
            ipv4_options: Vec::new(),
        }
    }
    pub fn payload(mut self, p: &[u8]) -> Self {
        self.payload = p.to_vec();
        self
    }
    pub fn vlans(mut self, n: usize) -> Self {
        self.vlans = n;
        self
    }
    pub fn ipv4_options(mut self, o: &[u8]) -> Self {
        self.ipv4_options = o.to_vec();
        self
    }

    fn ip_headers(&self) -> IpHeaders {
        let proto = match (self.l4, self.src) {
            (L4::Tcp { .. }, _) => IpNumber::TCP,
            (L4::Udp { .. }, _) => IpNumber::UDP,
            (_, IpAddr::V4(_)) => IpNumber::ICMP,
            (_, IpAddr::V6(_)) => IpNumber::IPV6_ICMP,
        };
        match (self.src, self.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(0, 64, proto, s.octets(), d.octets()).unwrap();
                h.options = self
                    .ipv4_options
                    .as_slice()
                    .try_into()
                    .expect("valid options");
                IpHeaders::Ipv4(h, Default::default())
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => IpHeaders::Ipv6(
                Ipv6Header {
                    traffic_class: 0,
                    flow_label: Ipv6FlowLabel::ZERO,
                    payload_length: 0,
                    next_header: proto,
                    hop_limit: 64,
                    source: s.octets(),
                    destination: d.octets(),
                },
                Default::default(),
            ),
            _ => panic!("mixed address families"),
        }
    }

    /// The serialized Ethernet frame.
    pub fn build(&self) -> Vec<u8> {
        let mac_a = [0x02, 0, 0, 0, 0, 1];
        let mac_b = [0x02, 0, 0, 0, 0, 2];
        let eth = PacketBuilder::ethernet2(mac_a, mac_b);
        let ip = self.ip_headers();
        match self.vlans {
            0 => self.finish(eth.ip(ip)),
            1 => self.finish(eth.single_vlan(0x123.try_into().unwrap()).ip(ip)),
            2 => self.finish(
                eth.double_vlan(0x100.try_into().unwrap(), 0x200.try_into().unwrap())
                    .ip(ip),
            ),
            n => panic!("{n} VLAN tags not supported by the builder"),
        }
    }

    fn finish(&self, step: etherparse::PacketBuilderStep<IpHeaders>) -> Vec<u8> {
        let v6 = self.src.is_ipv6();
        let mut out = Vec::new();
        match self.l4 {
            L4::Tcp {
                sport,
                dport,
                flags,
            } => {
                let mut t = step.tcp(sport, dport, 1000, 65535);
                if flags & FIN != 0 {
                    t = t.fin();
                }
                if flags & SYN != 0 {
                    t = t.syn();
                }
                if flags & RST != 0 {
                    t = t.rst();
                }
                if flags & PSH != 0 {
                    t = t.psh();
                }
                if flags & ACK != 0 {
                    t = t.ack(1);
                }
                t.write(&mut out, &self.payload).unwrap();
            }
            L4::Udp { sport, dport } => step
                .udp(sport, dport)
                .write(&mut out, &self.payload)
                .unwrap(),
            L4::EchoRequest { id, seq } if v6 => step
                .icmpv6_echo_request(id, seq)
                .write(&mut out, &self.payload)
                .unwrap(),
            L4::EchoRequest { id, seq } => step
                .icmpv4_echo_request(id, seq)
                .write(&mut out, &self.payload)
                .unwrap(),
            L4::EchoReply { id, seq } if v6 => step
                .icmpv6_echo_reply(id, seq)
                .write(&mut out, &self.payload)
                .unwrap(),
            L4::EchoReply { id, seq } => step
                .icmpv4_echo_reply(id, seq)
                .write(&mut out, &self.payload)
                .unwrap(),
        }
        out
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

/// A small UDP datagram (DNS-like ports) from `src` to `dst`.
pub fn udp(src: IpAddr, dst: IpAddr) -> Vec<u8> {
    Spec::new(
        src,
        dst,
        L4::Udp {
            sport: 5353,
            dport: 53,
        },
    )
    .payload(b"argus")
    .build()
}
