//! Feeds arbitrary bytes through the frame codec and every message decoder, as a hostile peer would.
#![no_main]

use argus_proto::control::ControlRequest;
use argus_proto::frame::{decode_message, FrameCodec};
use argus_proto::{EnforcerMessage, Hello, KronosMessage, SensorMessage};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = FrameCodec::new(64 * 1024);
    let mut buf = BytesMut::from(data);
    loop {
        match codec.decode_eof(&mut buf) {
            Ok(Some(frame)) => {
                let _ = decode_message::<Hello>("fuzz", &frame);
                let _ = decode_message::<SensorMessage>("fuzz", &frame);
                let _ = decode_message::<KronosMessage>("fuzz", &frame);
                let _ = decode_message::<EnforcerMessage>("fuzz", &frame);
                let _ = decode_message::<ControlRequest>("fuzz", &frame);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
