//! Every message type survives encode → decode unchanged (property tests).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use argus_proto::control::{ControlReply, ControlRequest, ModeSetting};
use argus_proto::frame::{decode_message, encode_message};
use argus_proto::*;
use proptest::prelude::*;

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| IpAddr::V4(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| IpAddr::V6(Ipv6Addr::from(o))),
    ]
}

fn key() -> impl Strategy<Value = FlowKey> {
    (ip(), ip(), any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(src, dst, sp, dp, p)| {
        FlowKey {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
            protocol: IpProtocol(p),
        }
    })
}

fn dir_stats() -> impl Strategy<Value = DirectionStats> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(p, b, f, mn, mx, sq, iat, iatsq)| DirectionStats {
            packets: p,
            bytes: b,
            tcp_flags: TcpFlags(f),
            size_min: mn,
            size_max: mx,
            size_sum_sq: sq,
            iat_sum_ns: iat,
            iat_sum_sq_us: iatsq,
        })
}

fn record() -> impl Strategy<Value = FlowRecord> {
    (
        key(),
        "[a-z0-9]{1,15}",
        any::<u64>(),
        any::<u64>(),
        dir_stats(),
        dir_stats(),
        0..5u8,
    )
        .prop_map(
            |(key, interface, a, b, forward, backward, end)| FlowRecord {
                key,
                interface,
                first_seen: UnixTimeNs(a),
                last_seen: UnixTimeNs(b),
                forward,
                backward,
                end_reason: [
                    EndReason::IdleTimeout,
                    EndReason::ActiveTimeout,
                    EndReason::TcpFin,
                    EndReason::TcpRst,
                    EndReason::Shutdown,
                ][end as usize],
            },
        )
}

fn roundtrip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    v: &T,
) {
    let bytes = encode_message("test", v).unwrap();
    let back: T = decode_message("test", &bytes).unwrap();
    assert_eq!(&back, v);
}

proptest! {
    #[test]
    fn flow_records_roundtrip(r in record()) {
        roundtrip(&SensorMessage::Flow(r));
    }

    #[test]
    fn payload_samples_roundtrip(k in key(), bytes in proptest::collection::vec(any::<u8>(), 0..600), idx in any::<u8>(), len in any::<u32>(), fwd in any::<bool>()) {
        roundtrip(&SensorMessage::Sample(PayloadSample {
            flow: k,
            direction: if fwd { Direction::Forward } else { Direction::Backward },
            index: idx,
            timestamp: UnixTimeNs(7),
            payload_len: len,
            bytes,
        }));
    }

    #[test]
    fn verdicts_roundtrip(src in ip(), r in record(), score in -1e9f64..1e9, id in any::<u64>(), ttl in proptest::option::of(any::<u64>()), reason in 0..7usize) {
        let prefix = ipnet::IpNet::from(src);
        roundtrip(&KronosMessage::Verdict(Verdict {
            id,
            source: src,
            prefix,
            action: Action::Ban,
            reason: Reason::ALL[reason],
            evidence: Evidence {
                scores: Scores {
                    flow_forest: Some(0.7),
                    source_forest: None,
                    deviation: Some(score),
                    anomaly: score,
                    cnn: Some(CnnEvidence { class: "xss".into(), probability: 0.99, model: "abc".into(), excerpt: "<script>".into() }),
                },
                top_features: vec![("syn_only_share".into(), score)],
                example_flows: vec![r],
                spoofable: false,
                model_version: "bootstrap-1".into(),
                flows_seen: 3,
            },
            ttl_hint_secs: ttl,
            timestamp: UnixTimeNs(1),
        }));
    }

    #[test]
    fn control_requests_roundtrip(src in ip(), ttl in proptest::option::of(any::<u64>())) {
        let prefix = ipnet::IpNet::from(src);
        for req in [
            ControlRequest::Status,
            ControlRequest::Block { prefix, ttl_secs: ttl, comment: Some("by hand".into()) },
            ControlRequest::Unblock { prefix, allow_for_secs: ttl },
            ControlRequest::Explain { ip: src },
            ControlRequest::Mode { set: Some(ModeSetting::Enforce) },
        ] {
            roundtrip(&req);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_message::<SensorMessage>("fuzz", &bytes);
        let _ = decode_message::<KronosMessage>("fuzz", &bytes);
        let _ = decode_message::<EnforcerMessage>("fuzz", &bytes);
        let _ = decode_message::<ControlRequest>("fuzz", &bytes);
        let _ = decode_message::<Hello>("fuzz", &bytes);
    }
}

#[test]
fn control_responses_roundtrip() {
    let ok: ControlResponse = Ok(ControlReply::Done("unblocked 10.203.1.2/32".into()));
    roundtrip(&ok);
    let err: ControlResponse = Err(argus_proto::control::ControlError {
        kind: argus_proto::control::ControlErrorKind::NotFound,
        message: "no ban covers 10.203.9.9".into(),
    });
    roundtrip(&err);
}

#[test]
fn reason_codes_are_stable() {
    for r in Reason::ALL {
        assert_eq!(Reason::from_code(r.code()), Some(r));
    }
    assert_eq!(Reason::Manual.code(), 1);
    assert_eq!(Reason::Anomaly.code(), 7);
    assert_eq!(Reason::from_code(0), None);
}

#[test]
fn direction_statistics() {
    let s = DirectionStats {
        packets: 4,
        bytes: 400,
        size_sum_sq: 4 * 100 * 100 + 4 * 25,
        iat_sum_ns: 3_000_000,
        iat_sum_sq_us: 3 * 1_000_000,
        ..Default::default()
    };
    assert_eq!(s.size_mean(), 100.0);
    assert!((s.size_std() - 5.0).abs() < 1e-9);
    assert_eq!(s.iat_mean_us(), 1000.0);
    assert!(s.iat_std_us().abs() < 1e-9);
    assert_eq!(DirectionStats::default().size_mean(), 0.0);
}
