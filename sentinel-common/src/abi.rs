//! `#[repr(C)]` mirrors of `sentinel-ebpf/include/argus_shared.h`.
//!
//! Field names, order and sizes follow the header exactly; the `const`
//! assertions at the bottom fail the build when the two drift apart. Keep the
//! header the source of truth: change it first, then this file, then bump
//! [`ABI_VERSION`].

use core::mem::{offset_of, size_of};

/// `ARGUS_ABI_VERSION`: bumped whenever a shared struct changes.
pub const ABI_VERSION: u32 = 2;

/// `ARGUS_MAX_SAMPLE_BYTES`: longest payload excerpt of a sample event.
pub const MAX_SAMPLE_BYTES: usize = 512;
/// `ARGUS_MAX_IPV6_EXT_HDRS`: IPv6 extension headers walked before giving up.
pub const MAX_IPV6_EXT_HDRS: usize = 8;
/// `ARGUS_MAX_VLAN_TAGS`: VLAN tags skipped in front of the L3 header.
pub const MAX_VLAN_TAGS: usize = 2;
/// `ARGUS_LPM_MAX_PREFIXLEN`: bit length of an LPM key.
pub const LPM_MAX_PREFIXLEN: u32 = 128;
/// `ARGUS_LPM_V4_MAPPED_PREFIXLEN`: prefix length of `::ffff:0:0/96`.
pub const LPM_V4_MAPPED_PREFIXLEN: u32 = 96;

/// `ARGUS_PREFIX_LENS_MAX`: most prefix lengths the program probes one by
/// one in BLOCKNETS per address class.
pub const PREFIX_LENS_MAX: usize = 16;
/// `ARGUS_PREFIX_LENS_TRIE`: `n_lens` value meaning "walk the trie".
pub const PREFIX_LENS_TRIE: u8 = 0xFF;
/// `ARGUS_CLASS_V4`: IPv4-mapped addresses.
pub const CLASS_V4: usize = 0;
/// `ARGUS_CLASS_V6`: every other address.
pub const CLASS_V6: usize = 1;
/// `ARGUS_PREFIX_COUNT_SLOTS`: prefix lengths 0..=128, padded.
pub const PREFIX_COUNT_SLOTS: usize = 130;
/// `ARGUS_PREFIX_META_F_VALID`: BLOCKFILTER and the length lists describe
/// BLOCKLIST.
pub const PREFIX_META_F_VALID: u32 = 1 << 0;
/// `ARGUS_PREFIX_META_F_REBUILDING`: a rebuild of the filter was started.
pub const PREFIX_META_F_REBUILDING: u32 = 1 << 1;
/// `ARGUS_PREFIX_FILTER_BITS`: log2 of the BLOCKFILTER counters.
pub const PREFIX_FILTER_BITS: u32 = 21;
/// `ARGUS_PREFIX_FILTER_ENTRIES`: BLOCKFILTER elements (8 counters each).
pub const PREFIX_FILTER_ENTRIES: u32 = 1 << (PREFIX_FILTER_BITS - 3);
/// `ARGUS_PREFIX_HASH_K1`.
pub const PREFIX_HASH_K1: u64 = 0x9E37_79B9_7F4A_7C15;
/// `ARGUS_PREFIX_HASH_K2`.
pub const PREFIX_HASH_K2: u64 = 0xD6E8_FEB8_6659_FD93;

/// `argus_prefix_hash()`: the BLOCKFILTER slot of a masked key whose
/// address is `hi` (bytes 0..8, big-endian) and `lo` (bytes 8..16).
pub fn prefix_hash(hi: u64, lo: u64, len: u32) -> u32 {
    let mut h = hi.wrapping_mul(PREFIX_HASH_K1) ^ lo ^ (u64::from(len) << 56);
    h = h.wrapping_mul(PREFIX_HASH_K2);
    h ^= h >> 29;
    h = h.wrapping_mul(PREFIX_HASH_K1);
    (h >> (64 - PREFIX_FILTER_BITS)) as u32
}

/// `ARGUS_BLOCKLIST_DEFAULT_ENTRIES`.
pub const BLOCKLIST_DEFAULT_ENTRIES: u32 = 1_048_576;
/// `ARGUS_ALLOWLIST_DEFAULT_ENTRIES`.
pub const ALLOWLIST_DEFAULT_ENTRIES: u32 = 65_536;
/// `ARGUS_FLOWS_DEFAULT_ENTRIES`.
pub const FLOWS_DEFAULT_ENTRIES: u32 = 262_144;
/// `ARGUS_IFACES_MAX_ENTRIES`: IFACES is indexed by ifindex, so only
/// interfaces with a smaller ifindex can be given a role.
pub const IFACES_MAX_ENTRIES: u32 = 16_384;
/// `ARGUS_EVENTS_DEFAULT_BYTES`.
pub const EVENTS_DEFAULT_BYTES: u32 = 4 * 1024 * 1024;

/// Names of the maps in the object, which are also their pin file names.
pub mod map_names {
    /// LPM trie of never-dropped prefixes.
    pub const ALLOWLIST: &str = "ALLOWLIST";
    /// LPM trie of banned prefixes shorter than a host.
    pub const BLOCKLIST: &str = "BLOCKLIST";
    /// Hash of banned single addresses ([`super::HostKey`]).
    pub const BLOCKHOSTS: &str = "BLOCKHOSTS";
    /// Array of [`super::PrefixFilter`]: counting filter of the BLOCKLIST
    /// keys.
    pub const BLOCKFILTER: &str = "BLOCKFILTER";
    /// Array of two [`super::PrefixMeta`]; BLOCKMETASEL names the live one.
    pub const BLOCKMETA: &str = "BLOCKMETA";
    /// Array holding one `u32`: the live BLOCKMETA entry (0 or 1).
    pub const BLOCKMETASEL: &str = "BLOCKMETASEL";
    /// Array holding one [`super::ConfigValue`].
    pub const CONFIG: &str = "CONFIG";
    /// Array indexed by ifindex of [`super::IfaceValue`].
    pub const IFACES: &str = "IFACES";
    /// Per-CPU array holding one [`super::Stats`].
    pub const STATS: &str = "STATS";
    /// LRU hash of [`super::FlowKey`] to [`super::FlowValue`].
    pub const FLOWS: &str = "FLOWS";
    /// Ring buffer of [`super::NewFlowEvent`] and [`super::SampleEvent`].
    pub const EVENTS: &str = "EVENTS";
    /// Every map, in a stable order.
    pub const ALL: [&str; 11] = [
        ALLOWLIST,
        BLOCKLIST,
        BLOCKHOSTS,
        BLOCKFILTER,
        BLOCKMETA,
        BLOCKMETASEL,
        CONFIG,
        IFACES,
        STATS,
        FLOWS,
        EVENTS,
    ];
}

/// Name of the XDP program (function) in the object.
pub const PROGRAM_NAME: &str = "argus_xdp";

/// `ARGUS_BLOCK_F_MONITOR`: the entry counts would_drop but never drops.
pub const BLOCK_F_MONITOR: u32 = 1 << 0;

/// `ARGUS_CFG_F_DRY_RUN`: never drop, count would_drop instead.
pub const CFG_F_DRY_RUN: u32 = 1 << 0;
/// `ARGUS_CFG_F_DROP_LAN_TO_BANNED`: on LAN interfaces check destinations.
pub const CFG_F_DROP_LAN_TO_BANNED: u32 = 1 << 1;
/// `ARGUS_CFG_F_ALL`: every defined config flag.
pub const CFG_F_ALL: u32 = CFG_F_DRY_RUN | CFG_F_DROP_LAN_TO_BANNED;

/// `ARGUS_ROLE_WAN` (also the role of interfaces missing from IFACES).
pub const ROLE_WAN: u32 = 0;
/// `ARGUS_ROLE_LAN`.
pub const ROLE_LAN: u32 = 1;

/// `ARGUS_DIR_FORWARD`: initiator to responder.
pub const DIR_FORWARD: usize = 0;
/// `ARGUS_DIR_REVERSE`: responder to initiator.
pub const DIR_REVERSE: usize = 1;

/// `ARGUS_EVENT_NEW_FLOW`.
pub const EVENT_NEW_FLOW: u32 = 1;
/// `ARGUS_EVENT_SAMPLE`.
pub const EVENT_SAMPLE: u32 = 2;

/// `enum argus_reason` values: the stable codes of `argus_proto::Reason` (0 = unspecified).
pub mod reason {
    /// `ARGUS_REASON_UNSPECIFIED`.
    pub const UNSPECIFIED: u32 = 0;
    /// `ARGUS_REASON_MANUAL`.
    pub const MANUAL: u32 = 1;
    /// `ARGUS_REASON_PORT_SCAN`.
    pub const PORT_SCAN: u32 = 2;
    /// `ARGUS_REASON_SYN_FLOOD`.
    pub const SYN_FLOOD: u32 = 3;
    /// `ARGUS_REASON_BRUTE_FORCE`.
    pub const BRUTE_FORCE: u32 = 4;
    /// `ARGUS_REASON_PAYLOAD_ATTACK`.
    pub const PAYLOAD_ATTACK: u32 = 5;
    /// `ARGUS_REASON_FLOOD`.
    pub const FLOOD: u32 = 6;
    /// `ARGUS_REASON_ANOMALY`.
    pub const ANOMALY: u32 = 7;
}

/// `struct argus_lpm_key`: key of ALLOWLIST and BLOCKLIST.
///
/// Build it with [`crate::key::LpmKey`]'s constructors, never by hand: the
/// address is IPv4-mapped IPv6 in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RawLpmKey {
    /// Bits of `addr` that must match.
    pub prefixlen: u32,
    /// Address, network byte order.
    pub addr: [u8; 16],
}

/// `struct argus_host_key`: key of BLOCKHOSTS (one address, 16 bytes,
/// IPv4-mapped, network byte order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HostKey {
    /// Address, network byte order.
    pub addr: [u8; 16],
}

/// `struct argus_prefix_meta`: the single BLOCKMETA value, the prefix
/// lengths in use in BLOCKLIST per address class ([`CLASS_V4`],
/// [`CLASS_V6`]). Maintained by [`crate::maps::Blocklist`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixMeta {
    /// `ARGUS_PREFIX_META_F_*`.
    pub flags: u32,
    /// Valid entries of `lens[class]`, or [`PREFIX_LENS_TRIE`].
    pub n_lens: [u8; 2],
    /// Padding, 0.
    pub pad: [u8; 2],
    /// Prefix lengths in use, longest first.
    pub lens: [[u8; PREFIX_LENS_MAX]; 2],
    /// BLOCKLIST entries per class and prefix length.
    pub counts: [[u32; PREFIX_COUNT_SLOTS]; 2],
}

impl Default for PrefixMeta {
    fn default() -> Self {
        Self {
            flags: 0,
            n_lens: [0; 2],
            pad: [0; 2],
            lens: [[0; PREFIX_LENS_MAX]; 2],
            counts: [[0; PREFIX_COUNT_SLOTS]; 2],
        }
    }
}

/// `struct argus_prefix_filter`: one BLOCKFILTER element, the counters of
/// slots `8 * index ..= 8 * index + 7`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixFilter {
    /// Keys per slot, saturating at 255.
    pub count: [u8; 8],
}

/// `struct argus_block_value`: BLOCKLIST and BLOCKHOSTS value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockValue {
    /// Packets that matched (dropped or would-drop).
    pub packets: u64,
    /// Bytes (L2 frame length) of those packets.
    pub bytes: u64,
    /// Packets that matched in dry-run or monitor mode.
    pub would_drop: u64,
    /// `CLOCK_MONOTONIC_COARSE` nanoseconds of the last match, 0 = never.
    pub last_hit_ns: u64,
    /// `enum argus_reason`.
    pub reason: u32,
    /// `ARGUS_BLOCK_F_*`.
    pub flags: u32,
}

/// `struct argus_allow_value`: ALLOWLIST value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllowValue {
    /// Packets this entry saved from a ban (ALLOWLIST is looked up only
    /// after a ban hit).
    pub packets: u64,
    /// `CLOCK_MONOTONIC_COARSE` nanoseconds of the last such packet, 0 = never.
    pub last_hit_ns: u64,
}

/// `struct argus_config`: the single CONFIG value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConfigValue {
    /// `ARGUS_CFG_F_*`.
    pub flags: u32,
    /// Payload bytes per sample (clamped to [`MAX_SAMPLE_BYTES`]), 0 = off.
    pub sample_bytes: u16,
    /// K: payload packets sampled per flow and per direction.
    pub samples_per_direction: u16,
}

/// `struct argus_iface`: IFACES value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceValue {
    /// [`ROLE_WAN`] or [`ROLE_LAN`].
    pub role: u32,
    /// Reserved, 0.
    pub flags: u32,
}

/// `struct argus_stats`: one per CPU in STATS; see the header for meanings.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Packets returned with `XDP_PASS`.
    pub passed: u64,
    /// Packets returned with `XDP_DROP`.
    pub dropped: u64,
    /// Passed packets that matched BLOCKLIST in dry-run/monitor mode.
    pub would_drop: u64,
    /// Passed packets whose checked address matched a ban and ALLOWLIST,
    /// which overrides it (packets the allowlist saved from a ban).
    pub allowlisted: u64,
    /// Packets whose headers ended early or were malformed.
    pub parse_failed: u64,
    /// Failed FLOWS insertions.
    pub flow_table_full: u64,
    /// Events lost because EVENTS was full.
    pub ringbuf_full: u64,
    /// Flows created.
    pub flows_new: u64,
    /// Payload samples emitted.
    pub samples: u64,
    /// Passed non-IP packets.
    pub non_ip: u64,
    /// Non-first IP fragments.
    pub fragments: u64,
    /// Bytes (L2 frame length) of all packets.
    pub bytes: u64,
}

impl Stats {
    /// Field-wise sum, used to fold the per-CPU copies.
    pub fn add(&mut self, o: &Stats) {
        self.passed += o.passed;
        self.dropped += o.dropped;
        self.would_drop += o.would_drop;
        self.allowlisted += o.allowlisted;
        self.parse_failed += o.parse_failed;
        self.flow_table_full += o.flow_table_full;
        self.ringbuf_full += o.ringbuf_full;
        self.flows_new += o.flows_new;
        self.samples += o.samples;
        self.non_ip += o.non_ip;
        self.fragments += o.fragments;
        self.bytes += o.bytes;
    }
}

/// `struct argus_flow_key`: canonical (direction-free) FLOWS key.
///
/// Use [`crate::key`] to build and decode it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Address of the side that sorts first, network byte order.
    pub lo_addr: [u8; 16],
    /// Address of the other side.
    pub hi_addr: [u8; 16],
    /// Port of the lo side, network byte order.
    pub lo_port: u16,
    /// Port of the hi side, network byte order.
    pub hi_port: u16,
    /// IP protocol number.
    pub proto: u8,
    /// Zero.
    pub pad: [u8; 3],
}

/// `struct argus_flow_dir`: counters of one direction of a flow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowDir {
    /// Packets.
    pub packets: u64,
    /// Sum of IP packet lengths (header + payload, bounded by the frame).
    pub bytes: u64,
    /// First packet, `CLOCK_MONOTONIC` ns (0 = none).
    pub first_seen_ns: u64,
    /// Last packet, `CLOCK_MONOTONIC` ns (0 = none).
    pub last_seen_ns: u64,
    /// Sum of squared IP packet lengths.
    pub size_sumsq: u64,
    /// Sum of inter-arrival times (ns); `packets - 1` of them.
    pub iat_sum_ns: u64,
    /// Sum of squared inter-arrival times (µs²).
    pub iat_sumsq_us: u64,
    /// Smallest IP packet length (`u32::MAX` before the first packet).
    pub size_min: u32,
    /// Largest IP packet length.
    pub size_max: u32,
    /// TCP flags ORed.
    pub tcp_flags: u32,
    /// Payload samples emitted.
    pub samples: u32,
}

/// `struct argus_flow_value`: FLOWS value.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowValue {
    /// Indexed by [`DIR_FORWARD`] / [`DIR_REVERSE`].
    pub dir: [FlowDir; 2],
    /// Ingress ifindex of the initiator's first packet.
    pub initiator_ifindex: u32,
    /// 1 if the initiator is the key's lo side.
    pub initiator_is_lo: u8,
    /// ICMP/ICMPv6 type of the first packet (0 for other protocols).
    pub icmp_type: u8,
    /// ICMP/ICMPv6 code of the first packet (0 for other protocols).
    pub icmp_code: u8,
    /// Zero.
    pub pad: u8,
}

/// `struct argus_new_flow_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewFlowEvent {
    /// [`EVENT_NEW_FLOW`].
    pub event_type: u32,
    /// Ingress ifindex of the initiator's first packet.
    pub ifindex: u32,
    /// First packet, `CLOCK_MONOTONIC` ns (= forward `first_seen_ns`).
    pub ts_ns: u64,
    /// The flow.
    pub key: FlowKey,
    /// 1 if the initiator is the key's lo side.
    pub initiator_is_lo: u8,
    /// Zero.
    pub pad: [u8; 7],
}

/// `struct argus_sample_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleEvent {
    /// [`EVENT_SAMPLE`].
    pub event_type: u32,
    /// Ingress ifindex of this packet.
    pub ifindex: u32,
    /// This packet, `CLOCK_MONOTONIC` ns.
    pub ts_ns: u64,
    /// Forward `first_seen_ns` of the flow (joins the sample to it).
    pub flow_start_ns: u64,
    /// The flow.
    pub key: FlowKey,
    /// [`DIR_FORWARD`] or [`DIR_REVERSE`] as `u8`.
    pub direction: u8,
    /// 1 if the initiator is the key's lo side.
    pub initiator_is_lo: u8,
    /// 0-based index of this sample within its direction.
    pub index: u16,
    /// Valid bytes of `data`.
    pub captured_len: u16,
    /// L4 payload length of the packet.
    pub payload_len: u16,
    /// Payload excerpt; bytes past `captured_len` are unspecified.
    pub data: [u8; MAX_SAMPLE_BYTES],
}

impl SampleEvent {
    /// The captured payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.data[..usize::from(self.captured_len).min(MAX_SAMPLE_BYTES)]
    }
}

// SAFETY: every type below is #[repr(C)], made only of integers and integer
// arrays, with explicit padding fields (asserted below), so every bit pattern
// is valid and there are no uninitialised bytes.
unsafe impl aya::Pod for RawLpmKey {}
unsafe impl aya::Pod for HostKey {}
unsafe impl aya::Pod for PrefixMeta {}
unsafe impl aya::Pod for PrefixFilter {}
unsafe impl aya::Pod for BlockValue {}
unsafe impl aya::Pod for AllowValue {}
unsafe impl aya::Pod for ConfigValue {}
unsafe impl aya::Pod for IfaceValue {}
unsafe impl aya::Pod for Stats {}
unsafe impl aya::Pod for FlowKey {}
unsafe impl aya::Pod for FlowDir {}
unsafe impl aya::Pod for FlowValue {}
unsafe impl aya::Pod for NewFlowEvent {}
unsafe impl aya::Pod for SampleEvent {}

// The same numbers are _Static_asserted at the end of argus_shared.h, so the C
// and Rust layouts can only agree or fail to build.
const _: () = {
    assert!(size_of::<RawLpmKey>() == 20);
    assert!(offset_of!(RawLpmKey, addr) == 4);

    assert!(size_of::<HostKey>() == 16);
    assert!(size_of::<PrefixMeta>() == 1080);
    assert!(offset_of!(PrefixMeta, n_lens) == 4);
    assert!(offset_of!(PrefixMeta, lens) == 8);
    assert!(offset_of!(PrefixMeta, counts) == 40);
    assert!(size_of::<PrefixFilter>() == 8);
    assert!(size_of::<BlockValue>() == 40);
    assert!(offset_of!(BlockValue, bytes) == 8);
    assert!(offset_of!(BlockValue, would_drop) == 16);
    assert!(offset_of!(BlockValue, last_hit_ns) == 24);
    assert!(offset_of!(BlockValue, reason) == 32);
    assert!(offset_of!(BlockValue, flags) == 36);

    assert!(size_of::<AllowValue>() == 16);
    assert!(offset_of!(AllowValue, last_hit_ns) == 8);

    assert!(size_of::<ConfigValue>() == 8);
    assert!(offset_of!(ConfigValue, sample_bytes) == 4);
    assert!(offset_of!(ConfigValue, samples_per_direction) == 6);

    assert!(size_of::<IfaceValue>() == 8);
    assert!(offset_of!(IfaceValue, flags) == 4);

    assert!(size_of::<Stats>() == 96);
    assert!(offset_of!(Stats, dropped) == 8);
    assert!(offset_of!(Stats, parse_failed) == 32);
    assert!(offset_of!(Stats, flows_new) == 56);
    assert!(offset_of!(Stats, bytes) == 88);

    assert!(size_of::<FlowKey>() == 40);
    assert!(offset_of!(FlowKey, hi_addr) == 16);
    assert!(offset_of!(FlowKey, lo_port) == 32);
    assert!(offset_of!(FlowKey, hi_port) == 34);
    assert!(offset_of!(FlowKey, proto) == 36);
    assert!(offset_of!(FlowKey, pad) == 37);

    assert!(size_of::<FlowDir>() == 72);
    assert!(offset_of!(FlowDir, first_seen_ns) == 16);
    assert!(offset_of!(FlowDir, size_sumsq) == 32);
    assert!(offset_of!(FlowDir, iat_sum_ns) == 40);
    assert!(offset_of!(FlowDir, iat_sumsq_us) == 48);
    assert!(offset_of!(FlowDir, size_min) == 56);
    assert!(offset_of!(FlowDir, size_max) == 60);
    assert!(offset_of!(FlowDir, tcp_flags) == 64);
    assert!(offset_of!(FlowDir, samples) == 68);

    assert!(size_of::<FlowValue>() == 152);
    assert!(offset_of!(FlowValue, initiator_ifindex) == 144);
    assert!(offset_of!(FlowValue, initiator_is_lo) == 148);
    assert!(offset_of!(FlowValue, icmp_type) == 149);
    assert!(offset_of!(FlowValue, icmp_code) == 150);

    assert!(size_of::<NewFlowEvent>() == 64);
    assert!(offset_of!(NewFlowEvent, ts_ns) == 8);
    assert!(offset_of!(NewFlowEvent, key) == 16);
    assert!(offset_of!(NewFlowEvent, initiator_is_lo) == 56);

    assert!(size_of::<SampleEvent>() == 584);
    assert!(offset_of!(SampleEvent, flow_start_ns) == 16);
    assert!(offset_of!(SampleEvent, key) == 24);
    assert!(offset_of!(SampleEvent, direction) == 64);
    assert!(offset_of!(SampleEvent, initiator_is_lo) == 65);
    assert!(offset_of!(SampleEvent, index) == 66);
    assert!(offset_of!(SampleEvent, captured_len) == 68);
    assert!(offset_of!(SampleEvent, payload_len) == 70);
    assert!(offset_of!(SampleEvent, data) == 72);
};

#[cfg(test)]
mod tests {
    /// The header's `enum argus_reason`, as (name, value) pairs in declaration order.
    fn header_reasons() -> Vec<(String, u32)> {
        let header = include_str!("../../sentinel-ebpf/include/argus_shared.h");
        let start = header
            .find("enum argus_reason {")
            .expect("enum argus_reason");
        let body = &header[start..start + header[start..].find("};").expect("end of enum")];
        body.lines()
            .filter_map(|l| {
                let (name, value) = l.trim().strip_prefix("ARGUS_REASON_")?.split_once('=')?;
                let value = value
                    .trim()
                    .trim_end_matches(',')
                    .parse()
                    .expect("a number");
                Some((name.trim().to_owned(), value))
            })
            .collect()
    }

    /// The C header is compiled by clang, not rustc, so only a test can hold the two together.
    #[test]
    fn reason_constants_mirror_the_header() {
        use super::reason::*;
        let mirror = [
            ("UNSPECIFIED", UNSPECIFIED),
            ("MANUAL", MANUAL),
            ("PORT_SCAN", PORT_SCAN),
            ("SYN_FLOOD", SYN_FLOOD),
            ("BRUTE_FORCE", BRUTE_FORCE),
            ("PAYLOAD_ATTACK", PAYLOAD_ATTACK),
            ("FLOOD", FLOOD),
            ("ANOMALY", ANOMALY),
        ]
        .map(|(n, v)| (n.to_owned(), v));
        assert_eq!(header_reasons(), mirror);
    }
}
