//! argus-sentinel: loads and attaches the XDP data plane, pins its maps and
//! links, and exports flow records and payload samples to kronos (or, for
//! tests and offline analysis, as JSON lines), live or from a capture.
//!
//! - [`live`]: load/attach/replace/detach and the live exporter loop;
//! - [`pcap`]: `--pcap` replay through the userspace twin of the data plane;
//! - [`records`]: the flow builder both modes share (export decisions and
//!   record conversion);
//! - [`sink`]: the bounded queue and its outputs (kronos socket, JSON lines);
//! - [`netlink`]: reading back the XDP mode of an interface;
//! - [`metrics`]: the Prometheus metrics;
//! - [`clock`]: monotonic to Unix time.

#![warn(missing_docs)]

pub mod clock;
pub mod error;
pub mod live;
pub mod metrics;
pub mod netlink;
pub mod pcap;
pub mod records;
pub mod sink;

pub use error::SentinelError;
