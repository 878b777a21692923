//! Packet-fixture tests of the XDP parser through BPF_PROG_TEST_RUN:
//! VLANs, IPv4 options, truncation at every byte, IPv6 extension chains,
//! fragments, ICMP/ICMPv6. Root only: they fail (never pass) without root.

mod common;

use std::net::IpAddr;

use argus_sentinel_common::abi::{FlowKey, Stats};
use argus_sentinel_common::entry::{BlockEntry, ReasonCode};
use argus_sentinel_common::key::{canonical_flow_key, Endpoint};
use argus_sentinel_common::packet::{self, Parsed};
use argus_sentinel_common::program::{XDP_DROP, XDP_PASS};
use common::{ip, Harness, Spec, ACK, L4, PSH, SYN};

const BANNED4: &str = "10.203.66.6";
const BANNED6: &str = "fd00:203:66::6";
const CLEAN4: &str = "10.203.0.2";
const CLEAN6: &str = "fd00:203::2";
const SERVER4: &str = "10.203.0.1";
const SERVER6: &str = "fd00:203::1";

fn harness(test: &str) -> Harness {
    let h = Harness::new(test);
    let mut b = h.blocklist();
    for n in [BANNED4, BANNED6] {
        let prefix = ipnet::IpNet::from(ip(n));
        b.insert(&BlockEntry::new(prefix, ReasonCode::Manual))
            .unwrap();
    }
    h
}

fn flow_key(spec: &Spec, proto: u8) -> FlowKey {
    let (sport, dport) = match spec.l4 {
        L4::Tcp { sport, dport, .. } | L4::Udp { sport, dport } => (sport, dport),
        L4::EchoRequest { id, .. } | L4::EchoReply { id, .. } => (id, id),
    };
    canonical_flow_key(
        Endpoint::new(spec.src, sport),
        Endpoint::new(spec.dst, dport),
        proto,
    )
    .0
}

fn counters(h: &Harness) -> Stats {
    h.stats()
}

/// Lengths of the headers of a frame built from `spec`.
struct Layout {
    /// End of the fixed L3 header (addresses readable from here on).
    l3_fixed_end: usize,
    /// End of the L4 header (the parser needs everything before it).
    l4_end: usize,
}

fn layout(spec: &Spec) -> Layout {
    let l2 = 14 + 4 * spec.vlans;
    let (fixed, l3) = match spec.src {
        IpAddr::V4(_) => (20, 20 + spec.ipv4_options.len()),
        IpAddr::V6(_) => (40, 40),
    };
    let l4 = match spec.l4 {
        L4::Tcp { .. } => 20,
        _ => 8,
    };
    Layout {
        l3_fixed_end: l2 + fixed,
        l4_end: l2 + l3 + l4,
    }
}

fn tcp(src: &str, dst: &str) -> Spec {
    Spec::new(
        ip(src),
        ip(dst),
        L4::Tcp {
            sport: 40000,
            dport: 443,
            flags: PSH | ACK,
        },
    )
    .payload(b"GET / HTTP/1.1\r\n\r\n")
}

/// The frames every structural test runs: each L4 protocol, both families,
/// 0/1/2 VLAN tags, IPv4 options.
fn fixtures(src4: &str, src6: &str) -> Vec<Spec> {
    let mut v = Vec::new();
    for (src, dst) in [(src4, SERVER4), (src6, SERVER6)] {
        for vlans in 0..=2 {
            v.push(tcp(src, dst).vlans(vlans));
        }
        v.push(
            Spec::new(
                ip(src),
                ip(dst),
                L4::Udp {
                    sport: 5353,
                    dport: 53,
                },
            )
            .payload(b"q"),
        );
        v.push(Spec::new(ip(src), ip(dst), L4::EchoRequest { id: 7, seq: 1 }).payload(b"ping"));
    }
    // Options: NOP padding (4 bytes) and a maximal 40-byte header extension.
    v.push(tcp(src4, SERVER4).ipv4_options(&[1, 1, 1, 1]));
    v.push(tcp(src4, SERVER4).ipv4_options(&[1; 40]).vlans(2));
    v
}

fn proto_of(spec: &Spec) -> u8 {
    match (spec.l4, spec.src) {
        (L4::Tcp { .. }, _) => 6,
        (L4::Udp { .. }, _) => 17,
        (_, IpAddr::V4(_)) => 1,
        (_, IpAddr::V6(_)) => 58,
    }
}

#[test]
fn full_frames_are_parsed_to_l4() {
    let h = harness("full_frames_are_parsed_to_l4");
    for spec in fixtures(CLEAN4, CLEAN6) {
        let frame = spec.build();
        let before = counters(&h);
        assert_eq!(h.run(&frame), XDP_PASS, "{spec:?}");
        let after = counters(&h);
        assert_eq!(after.parse_failed, before.parse_failed, "{spec:?}");
        let key = flow_key(&spec, proto_of(&spec));
        let flow = h.flows().get(&key).unwrap();
        assert!(flow.is_some(), "no flow with the right ports for {spec:?}");
    }
    for spec in fixtures(BANNED4, BANNED6) {
        assert_eq!(h.run(&spec.build()), XDP_DROP, "{spec:?}");
    }
}

#[test]
fn truncation_at_every_byte() {
    let h = harness("truncation_at_every_byte");
    for clean in [true, false] {
        let specs = if clean {
            fixtures(CLEAN4, CLEAN6)
        } else {
            fixtures(BANNED4, BANNED6)
        };
        for spec in specs {
            let frame = spec.build();
            let lay = layout(&spec);
            // XDP never sees frames shorter than an Ethernet header (the
            // kernel refuses them in BPF_PROG_TEST_RUN too).
            for cut in 14..=frame.len() {
                let before = counters(&h);
                let action = h.run(&frame[..cut]);
                let after = counters(&h);
                let case = format!("{spec:?} cut at {cut} of {}", frame.len());
                let want_drop = !clean && cut >= lay.l3_fixed_end;
                assert_eq!(action == XDP_DROP, want_drop, "{case}");
                let failed = after.parse_failed - before.parse_failed;
                assert_eq!(failed, u64::from(cut < lay.l4_end), "parse_failed: {case}");
                // The userspace twin stops at the same byte.
                let twin_failed = match packet::parse(&frame[..cut]) {
                    Parsed::NonIp => false,
                    Parsed::NoL3 => true,
                    Parsed::L3(p) => {
                        assert_eq!(p.has_l4, cut >= lay.l4_end, "twin has_l4: {case}");
                        p.failed
                    }
                };
                assert_eq!(u64::from(twin_failed), failed, "twin: {case}");
                assert_eq!(
                    after.passed + after.dropped,
                    before.passed + before.dropped + 1
                );
            }
            if clean {
                // Exactly the cuts that kept the L4 header were accounted.
                let key = flow_key(&spec, proto_of(&spec));
                let flow = h.flows().get(&key).unwrap().expect("flow");
                let accounted = (frame.len() + 1 - lay.l4_end) as u64;
                assert_eq!(flow.dir[0].packets, accounted, "{spec:?}");
                h.flows().remove(&key).unwrap();
            }
        }
    }
}

#[test]
fn non_ip_and_too_many_vlan_tags_pass() {
    let h = harness("non_ip_and_too_many_vlan_tags_pass");
    // ARP request.
    let mut arp = vec![0xff; 6];
    arp.extend([2, 0, 0, 0, 0, 1, 0x08, 0x06]);
    arp.extend([0u8; 28]);
    assert_eq!(h.run(&arp), XDP_PASS);
    assert_eq!(counters(&h).non_ip, 1);
    assert_eq!(counters(&h).parse_failed, 0);
    // Three tags in front of a banned IPv4 source: the parser stops (and
    // passes, counted) rather than guess.
    let two = tcp(BANNED4, SERVER4).vlans(2).build();
    let mut three = two[..12].to_vec();
    three.extend([0x81, 0x00, 0x00, 0x03]);
    three.extend(&two[12..]);
    assert_eq!(h.run(&three), XDP_PASS);
    assert_eq!(counters(&h).parse_failed, 1);
}

/// Inserts IPv6 extension headers `exts` (kind, full bytes) between the IPv6
/// header and the L4 header of `frame` (no VLAN), fixing next-header fields
/// and the payload length.
fn with_v6_exts(frame: &[u8], exts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let l3 = 14;
    let l4_proto = frame[l3 + 6];
    let mut out = frame[..l3 + 40].to_vec();
    let total: usize = exts.iter().map(|(_, b)| b.len()).sum();
    let plen = u16::from_be_bytes([out[l3 + 4], out[l3 + 5]]) as usize + total;
    out[l3 + 4..l3 + 6].copy_from_slice(&(plen as u16).to_be_bytes());
    out[l3 + 6] = exts.first().map_or(l4_proto, |e| e.0);
    for (i, (_, bytes)) in exts.iter().enumerate() {
        let mut b = bytes.clone();
        b[0] = exts.get(i + 1).map_or(l4_proto, |e| e.0);
        out.extend(b);
    }
    out.extend(&frame[l3 + 40..]);
    out
}

const HOPOPTS: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AH: u8 = 51;
const DSTOPTS: u8 = 60;

/// An options-style extension header of `units` 8-byte units (PadN filled).
fn opt_ext(kind: u8, units: usize) -> (u8, Vec<u8>) {
    let mut b = vec![0u8; 8 * units];
    b[1] = (units - 1) as u8;
    b[2] = 1; // PadN
    b[3] = (8 * units - 4) as u8;
    (kind, b)
}

fn routing_ext() -> (u8, Vec<u8>) {
    // Type 0 style header with one address, segments left 0.
    let mut b = vec![0u8; 24];
    b[1] = 2;
    (ROUTING, b)
}

fn frag_ext(offset_units: u16, more: bool) -> (u8, Vec<u8>) {
    let mut b = vec![0u8; 8];
    let fo = (offset_units << 3) | u16::from(more);
    b[2..4].copy_from_slice(&fo.to_be_bytes());
    b[4..8].copy_from_slice(&0xA5A5u32.to_be_bytes());
    (FRAGMENT, b)
}

fn ah_ext() -> (u8, Vec<u8>) {
    // 12-byte fixed part + 4-byte ICV = 16 bytes: payload len 16/4 - 2 = 2.
    let mut b = vec![0u8; 16];
    b[1] = 2;
    (AH, b)
}

#[test]
fn ipv6_extension_chains() {
    let h = harness("ipv6_extension_chains");
    let spec = tcp(CLEAN6, SERVER6);
    let base = spec.build();
    let key = flow_key(&spec, 6);

    // Every kind, first fragment: parsed through to TCP.
    let chain = vec![
        opt_ext(HOPOPTS, 1),
        opt_ext(DSTOPTS, 2),
        routing_ext(),
        frag_ext(0, true),
        ah_ext(),
    ];
    assert_eq!(h.run(&with_v6_exts(&base, &chain)), XDP_PASS);
    let s = counters(&h);
    assert_eq!((s.parse_failed, s.fragments), (0, 0));
    let f = h
        .flows()
        .get(&key)
        .unwrap()
        .expect("flow through the chain");
    assert_eq!(f.dir[0].packets, 1);

    // Exactly the bound (8 headers) still reaches TCP.
    let eight: Vec<_> = (0..8).map(|_| opt_ext(DSTOPTS, 1)).collect();
    assert_eq!(h.run(&with_v6_exts(&base, &eight)), XDP_PASS);
    assert_eq!(counters(&h).parse_failed, 0);
    assert_eq!(h.flows().get(&key).unwrap().unwrap().dir[0].packets, 2);

    // One more than the bound: counted, passed, not accounted...
    let nine: Vec<_> = (0..9).map(|_| opt_ext(DSTOPTS, 1)).collect();
    assert_eq!(h.run(&with_v6_exts(&base, &nine)), XDP_PASS);
    assert_eq!(counters(&h).parse_failed, 1);
    assert_eq!(h.flows().get(&key).unwrap().unwrap().dir[0].packets, 2);
    // ...but a banned source is still dropped: policy needs only addresses.
    let banned = tcp(BANNED6, SERVER6).build();
    assert_eq!(h.run(&with_v6_exts(&banned, &nine)), XDP_DROP);

    // Chain cut inside an extension header.
    let chained = with_v6_exts(&base, &chain);
    for cut in 54..(54 + 8 + 16 + 24 + 8 + 16) {
        let before = counters(&h).parse_failed;
        assert_eq!(h.run(&chained[..cut]), XDP_PASS, "cut {cut}");
        assert_eq!(counters(&h).parse_failed, before + 1, "cut {cut}");
    }
}

#[test]
fn fragments() {
    let h = harness("fragments");
    // IPv6 non-first fragment: policy yes, flow no.
    let spec6 = tcp(CLEAN6, SERVER6);
    let tail6 = with_v6_exts(&spec6.build(), &[frag_ext(185, false)]);
    assert_eq!(h.run(&tail6), XDP_PASS);
    let banned6 = with_v6_exts(&tcp(BANNED6, SERVER6).build(), &[frag_ext(185, true)]);
    assert_eq!(h.run(&banned6), XDP_DROP);
    let s = counters(&h);
    assert_eq!((s.fragments, s.parse_failed), (2, 0));
    assert!(h.flows().list().unwrap().is_empty());

    // IPv4: offset != 0 is a tail fragment; MF with offset 0 is the head.
    let mut tail4 = tcp(CLEAN4, SERVER4).build();
    tail4[14 + 6..14 + 8].copy_from_slice(&185u16.to_be_bytes());
    assert_eq!(h.run(&tail4), XDP_PASS);
    let mut banned4 = tcp(BANNED4, SERVER4).build();
    banned4[14 + 6..14 + 8].copy_from_slice(&185u16.to_be_bytes());
    assert_eq!(h.run(&banned4), XDP_DROP);
    assert_eq!(counters(&h).fragments, 4);
    assert!(h.flows().list().unwrap().is_empty());
    let spec4 = tcp(CLEAN4, SERVER4);
    let mut head4 = spec4.build();
    head4[14 + 6..14 + 8].copy_from_slice(&0x2000u16.to_be_bytes());
    assert_eq!(h.run(&head4), XDP_PASS);
    assert_eq!(counters(&h).fragments, 4);
    assert!(h.flows().get(&flow_key(&spec4, 6)).unwrap().is_some());
}

#[test]
fn icmp_echo_merges_request_and_reply() {
    let h = harness("icmp_echo_merges_request_and_reply");
    for (a, b, proto) in [(CLEAN4, SERVER4, 1u8), (CLEAN6, SERVER6, 58u8)] {
        let req = Spec::new(ip(a), ip(b), L4::EchoRequest { id: 0x4242, seq: 1 }).payload(b"abcd");
        let rep = Spec::new(ip(b), ip(a), L4::EchoReply { id: 0x4242, seq: 1 }).payload(b"abcd");
        assert_eq!(h.run(&req.build()), XDP_PASS);
        assert_eq!(h.run(&rep.build()), XDP_PASS);
        let key = flow_key(&req, proto);
        assert_eq!(
            (key.lo_port, key.hi_port),
            (0x4242u16.to_be(), 0x4242u16.to_be())
        );
        let f = h.flows().get(&key).unwrap().expect("echo flow");
        assert_eq!((f.dir[0].packets, f.dir[1].packets), (1, 1), "{a}");
        let want_type = if proto == 1 { 8 } else { 128 };
        assert_eq!(
            (f.icmp_type, f.icmp_code),
            (want_type, 0),
            "{a}: first packet's type"
        );

        // Other ICMP types (here: destination unreachable) have no id: port 0.
        let mut unreach = req.clone().payload(b"").build();
        let l4 = if proto == 1 { 14 + 20 } else { 14 + 40 };
        unreach[l4] = if proto == 1 { 3 } else { 1 };
        assert_eq!(h.run(&unreach), XDP_PASS);
        let (k0, _) = canonical_flow_key(Endpoint::new(ip(a), 0), Endpoint::new(ip(b), 0), proto);
        assert!(h.flows().get(&k0).unwrap().is_some(), "{a}");
    }
    assert_eq!(counters(&h).parse_failed, 0);
}

#[test]
fn tcp_syn_keys_by_ports() {
    let h = harness("tcp_syn_keys_by_ports");
    let spec = Spec::new(
        ip(CLEAN4),
        ip(SERVER4),
        L4::Tcp {
            sport: 51000,
            dport: 22,
            flags: SYN,
        },
    );
    assert_eq!(h.run(&spec.build()), XDP_PASS);
    let key = flow_key(&spec, 6);
    assert_eq!(key.lo().port, 22, "server 10.203.0.1 sorts first");
    let f = h.flows().get(&key).unwrap().expect("flow");
    assert_eq!(f.dir[0].tcp_flags, u32::from(SYN));
    assert_eq!(f.initiator_is_lo, 0);
}
