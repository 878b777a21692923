//! Flow accounting and ring-buffer events through BPF_PROG_TEST_RUN: exact
//! per-direction counters of a TCP conversation, one NEW_FLOW event per flow
//! and at most K payload samples per direction (never an event per packet).
//! Root only: these tests fail (never pass) without root.

mod common;

use argus_sentinel_common::abi::{FlowValue, DIR_FORWARD, DIR_REVERSE};
use argus_sentinel_common::key::{canonical_flow_key, Endpoint};
use argus_sentinel_common::maps::{DataplaneConfig, Event};
use argus_sentinel_common::model::FlowAccounting;
use argus_sentinel_common::packet::{self, Parsed};
use argus_sentinel_common::program::XDP_PASS;
use common::{ip, Harness, Spec, ACK, FIN, L4, LO_IFINDEX, PSH, SYN};

const CLIENT: &str = "10.203.0.2";
const SERVER: &str = "10.203.0.1";

fn tcp(from_client: bool, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sport, dport) = if from_client {
        (CLIENT, SERVER, 40000, 80)
    } else {
        (SERVER, CLIENT, 80, 40000)
    };
    Spec::new(
        ip(src),
        ip(dst),
        L4::Tcp {
            sport,
            dport,
            flags,
        },
    )
    .payload(payload)
    .build()
}

fn sampling(h: &Harness, bytes: u16, k: u16) {
    h.set_config(DataplaneConfig {
        sample_bytes: bytes,
        samples_per_direction: k,
        ..Default::default()
    });
}

#[test]
fn tcp_conversation_exact_counters() {
    let h = Harness::new("tcp_conversation_exact_counters");
    let conversation = [
        (true, SYN, &b""[..]),
        (false, SYN | ACK, b""),
        (true, ACK, b""),
        (true, PSH | ACK, &[7u8; 100][..]),
        (false, ACK, b""),
        (false, PSH | ACK, &[9u8; 1000][..]),
        (true, FIN | ACK, b""),
        (false, FIN | ACK, b""),
        (true, ACK, b""),
    ];
    let mut want = FlowValue::default();
    for d in &mut want.dir {
        d.size_min = u32::MAX;
    }
    for (from_client, flags, payload) in conversation {
        let frame = tcp(from_client, flags, payload);
        assert_eq!(h.run_on(&frame, LO_IFINDEX), XDP_PASS);
        let d = &mut want.dir[if from_client {
            DIR_FORWARD
        } else {
            DIR_REVERSE
        }];
        // Flows count IP lengths: the frame minus its Ethernet header.
        let len = frame.len() as u64 - 14;
        d.packets += 1;
        d.bytes += len;
        d.size_sumsq += len * len;
        d.size_min = d.size_min.min(len as u32);
        d.size_max = d.size_max.max(len as u32);
        d.tcp_flags |= u32::from(flags);
    }
    let (key, client_is_lo) = canonical_flow_key(
        Endpoint::new(ip(CLIENT), 40000),
        Endpoint::new(ip(SERVER), 80),
        6,
    );
    let flows = h.flows().list().unwrap();
    assert_eq!(flows.len(), 1, "both directions merge into one entry");
    let (k, got) = flows[0];
    assert_eq!(k, key);
    assert_eq!(got.initiator_is_lo, u8::from(client_is_lo));
    assert_eq!(got.initiator_ifindex, LO_IFINDEX);
    for dir in [DIR_FORWARD, DIR_REVERSE] {
        let (g, w) = (&got.dir[dir], &want.dir[dir]);
        let what = if dir == DIR_FORWARD {
            "forward"
        } else {
            "reverse"
        };
        assert_eq!(g.packets, w.packets, "{what} packets");
        assert_eq!(g.bytes, w.bytes, "{what} bytes");
        assert_eq!(g.size_sumsq, w.size_sumsq, "{what} sumsq");
        assert_eq!(
            (g.size_min, g.size_max),
            (w.size_min, w.size_max),
            "{what} min/max"
        );
        assert_eq!(g.tcp_flags, w.tcp_flags, "{what} flags");
        assert!(
            g.first_seen_ns > 0 && g.last_seen_ns >= g.first_seen_ns,
            "{what}"
        );
        // Each packet's gap is measured against its predecessor (xchg), so
        // the inter-arrival sum telescopes exactly to last - first.
        assert_eq!(g.iat_sum_ns, g.last_seen_ns - g.first_seen_ns, "{what} iat");
        let mean_us = g.iat_sum_ns as f64 / 1000.0 / (g.packets - 1) as f64;
        let mean_sq = g.iat_sumsq_us as f64 / (g.packets - 1) as f64;
        assert!(
            mean_sq + 2.0 * mean_us + 1.0 >= mean_us * mean_us,
            "{what}: E[x²] ≥ E[x]²"
        );
    }
    assert!(got.dir[DIR_REVERSE].first_seen_ns >= got.dir[DIR_FORWARD].first_seen_ns);
    let s = h.stats();
    assert_eq!((s.flows_new, s.flow_table_full, s.passed), (1, 0, 9));
}

#[test]
fn thousand_packets_one_flow_event_and_at_most_k_samples() {
    let h = Harness::new("thousand_packets_one_flow_event_and_at_most_k_samples");
    const K: u16 = 4;
    sampling(&h, 16, K);
    let mut events = h.events();
    let udp = |from_client: bool, i: u16| {
        let (src, dst, sport, dport) = if from_client {
            (CLIENT, SERVER, 5000, 53)
        } else {
            (SERVER, CLIENT, 53, 5000)
        };
        let mut payload = vec![0u8; 64];
        payload[..2].copy_from_slice(&i.to_be_bytes());
        Spec::new(ip(src), ip(dst), L4::Udp { sport, dport })
            .payload(&payload)
            .build()
    };
    for i in 0..1000 {
        assert_eq!(h.run(&udp(true, i)), XDP_PASS);
    }
    let got = events.drain();
    let new_flows: Vec<_> = got
        .iter()
        .filter(|e| matches!(e, Ok(Event::NewFlow(_))))
        .collect();
    let samples: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            Ok(Event::Sample(s)) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(new_flows.len(), 1, "{got:?}");
    assert_eq!(samples.len(), usize::from(K));
    assert_eq!(got.len(), 1 + usize::from(K), "no other events");
    let (key, client_is_lo) = canonical_flow_key(
        Endpoint::new(ip(CLIENT), 5000),
        Endpoint::new(ip(SERVER), 53),
        17,
    );
    let Ok(Event::NewFlow(nf)) = new_flows[0] else {
        unreachable!()
    };
    assert_eq!(nf.key, key);
    assert_eq!(nf.initiator_is_lo, u8::from(client_is_lo));
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(s.key, key);
        assert_eq!(usize::from(s.index), i);
        assert_eq!(usize::from(s.direction), DIR_FORWARD);
        assert_eq!((s.captured_len, s.payload_len), (16, 64));
        assert_eq!(
            &s.payload()[..2],
            &(i as u16).to_be_bytes(),
            "the first K packets"
        );
        assert_eq!(s.flow_start_ns, nf.ts_ns, "joins the flow");
    }

    // The other direction gets its own K samples, then nothing more.
    for i in 0..50 {
        assert_eq!(h.run(&udp(false, i)), XDP_PASS);
    }
    let back = events.drain();
    assert_eq!(back.len(), usize::from(K), "{back:?}");
    for e in &back {
        let Ok(Event::Sample(s)) = e else {
            panic!("{e:?}")
        };
        assert_eq!(usize::from(s.direction), DIR_REVERSE);
    }
    let f = h.flows().get(&key).unwrap().unwrap();
    assert_eq!((f.dir[0].packets, f.dir[1].packets), (1000, 50));
    assert_eq!(
        (f.dir[0].samples, f.dir[1].samples),
        (u32::from(K), u32::from(K))
    );
    let s = h.stats();
    assert_eq!(
        (s.flows_new, s.samples, s.ringbuf_full),
        (1, 2 * u64::from(K), 0)
    );
}

#[test]
fn padding_is_not_payload_and_caps_apply() {
    let h = Harness::new("padding_is_not_payload_and_caps_apply");
    sampling(&h, 512, 8);
    let mut events = h.events();
    // A bare ACK is 54 bytes; Ethernet pads it to 60. Padding is not payload.
    let mut ack = tcp(true, ACK, b"");
    assert_eq!(ack.len(), 54);
    ack.resize(60, 0);
    assert_eq!(h.run(&ack), XDP_PASS);
    let evs = events.drain();
    assert_eq!(evs.len(), 1, "only NEW_FLOW: {evs:?}");
    let (_, f) = h.flows().list().unwrap()[0];
    assert_eq!(f.dir[0].bytes, 40, "IP length, not the padded frame");
    // A 1400-byte payload is cut to the 512-byte maximum.
    assert_eq!(h.run(&tcp(true, PSH | ACK, &[0xAB; 1400])), XDP_PASS);
    let evs = events.drain();
    let [Ok(Event::Sample(s))] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!((s.captured_len, s.payload_len), (512, 1400));
    assert!(s.payload().iter().all(|b| *b == 0xAB));
    // Sampling off: nothing but new flows.
    sampling(&h, 0, 8);
    assert_eq!(h.run(&tcp(false, PSH | ACK, b"reply")), XDP_PASS);
    assert!(events.drain().is_empty());
}

/// Zeroes what depends on the clock (the kernel's and the model's clocks
/// differ), keeping every counter.
fn timeless(mut v: FlowValue) -> FlowValue {
    for d in &mut v.dir {
        d.first_seen_ns = 0;
        d.last_seen_ns = 0;
        d.iat_sum_ns = 0;
        d.iat_sumsq_us = 0;
    }
    v
}

#[test]
fn accounting_model_matches_the_kernel() {
    let h = Harness::new("accounting_model_matches_the_kernel");
    sampling(&h, 32, 2);
    let mut events = h.events();
    let mut model = FlowAccounting::new(32, 2);
    let v6 = |s: &str| ip(s);
    let mut frames = Vec::new();
    for (from_client, flags, payload) in [
        (true, SYN, &b""[..]),
        (false, SYN | ACK, b""),
        (true, PSH | ACK, b"GET / HTTP/1.1\r\n\r\n"),
        (false, PSH | ACK, &[b'x'; 700][..]),
        (true, FIN | ACK, b""),
        (false, FIN | ACK, b""),
    ] {
        frames.push(tcp(from_client, flags, payload));
    }
    let echo = |a: &str, b: &str, req: bool| {
        let l4 = if req {
            L4::EchoRequest { id: 9, seq: 1 }
        } else {
            L4::EchoReply { id: 9, seq: 1 }
        };
        Spec::new(ip(a), ip(b), l4).payload(b"ping").build()
    };
    frames.push(echo(CLIENT, SERVER, true));
    frames.push(echo(SERVER, CLIENT, false));
    frames.push(echo("fd00:203::2", "fd00:203::1", true));
    for i in 0..5u16 {
        let s = Spec::new(
            v6("fd00:203::2"),
            v6("fd00:203::1"),
            L4::Udp {
                sport: 7000 + (i % 2),
                dport: 53,
            },
        )
        .payload(&vec![i as u8; 10 + usize::from(i)])
        .vlans(usize::from(i % 3));
        frames.push(s.build());
    }
    frames.push(
        Spec::new(ip(CLIENT), ip(SERVER), L4::Udp { sport: 1, dport: 2 })
            .ipv4_options(&[1, 1, 1, 1])
            .payload(b"opt")
            .build(),
    );
    let mut model_samples = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(h.run(f), XDP_PASS);
        let Parsed::L3(info) = packet::parse(f) else {
            panic!("frame {i}")
        };
        // Test runs without an interface arrive on loopback (ifindex 1).
        let acc = model
            .account(f, &info, 1_000 + i as u64 * 1_000, LO_IFINDEX)
            .expect("keyable");
        model_samples.extend(acc.sample);
    }
    let mut kernel = h.flows().list().unwrap();
    kernel.sort_by_key(|(k, _)| *k);
    let mut modeled: Vec<_> = model.flows().map(|(k, v)| (*k, *v)).collect();
    modeled.sort_by_key(|(k, _)| *k);
    assert_eq!(kernel.len(), 6, "tcp, 2 echo, 2 udp6, udp4");
    assert_eq!(
        kernel
            .iter()
            .map(|(k, v)| (*k, timeless(*v)))
            .collect::<Vec<_>>(),
        modeled
            .iter()
            .map(|(k, v)| (*k, timeless(*v)))
            .collect::<Vec<_>>()
    );
    let kernel_samples: Vec<_> = events
        .drain()
        .into_iter()
        .filter_map(|e| match e.unwrap() {
            Event::Sample(s) => Some(s),
            Event::NewFlow(_) => None,
        })
        .collect();
    let strip = |s: &argus_sentinel_common::abi::SampleEvent| {
        (
            s.key,
            s.direction,
            s.index,
            s.captured_len,
            s.payload_len,
            s.payload().to_vec(),
        )
    };
    assert_eq!(
        kernel_samples.iter().map(|s| strip(s)).collect::<Vec<_>>(),
        model_samples.iter().map(|s| strip(s)).collect::<Vec<_>>()
    );
}
