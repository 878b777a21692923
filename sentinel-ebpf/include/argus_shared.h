/* SPDX-License-Identifier: Apache-2.0 */
/*
 * argus_shared.h - every type and constant shared between the Argus XDP
 * program (sentinel-ebpf/src/argus_xdp.c) and userspace
 * (sentinel-common/src/abi.rs mirrors this file field by field, with
 * compile-time size and offset assertions).
 *
 * Rules for this file:
 *  - only fixed-width types, explicit padding, no bitfields, no pointers;
 *  - every struct except the LPM key (whose layout the kernel fixes) has a
 *    size that is a multiple of 8, so the layout is identical on every
 *    64-bit host and in the BPF target;
 *  - changing a layout means bumping ARGUS_ABI_VERSION: pinned maps created
 *    by an older sentinel are then incompatible (userspace checks key and
 *    value sizes of pinned maps before reusing them).
 *
 * Byte order: addresses are stored as 16 bytes in network byte order, IPv4
 * as IPv4-mapped IPv6 (::ffff:a.b.c.d). Ports are stored in network byte
 * order. Every counter is in host byte order.
 */
#ifndef ARGUS_SHARED_H
#define ARGUS_SHARED_H

#include <linux/types.h>

/* Bumped whenever a struct below changes size or meaning. */
#define ARGUS_ABI_VERSION 2

/* ------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------ */

/* Longest payload excerpt a sample event can carry. */
#define ARGUS_MAX_SAMPLE_BYTES 512
/* Most IPv6 extension headers walked before giving up (counted as
 * parse_failed, verdict still applied from the addresses). */
#define ARGUS_MAX_IPV6_EXT_HDRS 8
/* Most VLAN tags (802.1Q / 802.1ad) skipped in front of the L3 header. */
#define ARGUS_MAX_VLAN_TAGS 2
/* Bit length of an LPM key: every address is handled as IPv6. */
#define ARGUS_LPM_MAX_PREFIXLEN 128
/* Prefix length of ::ffff:0:0/96; an IPv4 /n is 96 + n. */
#define ARGUS_LPM_V4_MAPPED_PREFIXLEN 96

/* Compile-time defaults of the map sizes; userspace overrides them at load
 * from the configuration (EbpfLoader::map_max_entries). */
#define ARGUS_BLOCKLIST_DEFAULT_ENTRIES 1048576
#define ARGUS_ALLOWLIST_DEFAULT_ENTRIES 65536
#define ARGUS_FLOWS_DEFAULT_ENTRIES 262144
/* IFACES is an array indexed by ifindex: interfaces whose ifindex is not
 * below this cannot be given a role (they are WAN). */
#define ARGUS_IFACES_MAX_ENTRIES 16384
/* Ring buffer size in bytes (a power of two multiple of the page size). */
#define ARGUS_EVENTS_DEFAULT_BYTES (4 * 1024 * 1024)

/* ------------------------------------------------------------------------
 * ALLOWLIST / BLOCKLIST (BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC)
 * BLOCKHOSTS (BPF_MAP_TYPE_HASH, BPF_F_NO_PREALLOC)
 *
 * The blocklist is split by prefix length: single addresses (IPv4 /32,
 * IPv6 /128) live in the BLOCKHOSTS hash, shorter prefixes in the
 * BLOCKLIST trie. A host entry is always the longest possible match, so
 * "BLOCKHOSTS first, then BLOCKLIST" is exactly a longest-prefix match over
 * both, while the lookup cost of the (typically huge) set of banned hosts
 * stays O(1) instead of growing with the trie depth (log2 of the entries).
 * Userspace (sentinel-common's maps::Blocklist) routes entries; a host
 * written into the trie directly still matches, only slower.
 * ------------------------------------------------------------------------ */

/* Key of both LPM tries. prefixlen counts bits of addr from the first byte;
 * IPv4 a.b.c.d/n is ::ffff:a.b.c.d/(96 + n). */
struct argus_lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* ------------------------------------------------------------------------
 * BLOCKFILTER (BPF_MAP_TYPE_ARRAY), BLOCKMETA (BPF_MAP_TYPE_ARRAY, 2
 * entries) and BLOCKMETASEL (BPF_MAP_TYPE_ARRAY, 1 __u32: which BLOCKMETA
 * entry is live): a counting filter in front of the BLOCKLIST trie.
 *
 * A miss in an LPM trie walks it towards a leaf (~log2 of its entries),
 * which is what every passed packet pays. BLOCKMETA lists the prefix
 * lengths in use, per address class, longest first; BLOCKFILTER counts the
 * trie's keys (address masked to its length) per hash slot
 * (argus_prefix_hash below). When a class uses at most
 * ARGUS_PREFIX_LENS_MAX lengths, the program masks the address to each of
 * them and tests its slot (an inlined array load, no hash-table lookup);
 * only when a slot is non-zero does it walk the trie, which holds the
 * values and counters and returns the longest match. A miss so costs a few
 * instructions per length in use, whatever the number of prefixes, plus a
 * trie walk on the rare slot collision. With more lengths in a class
 * (ARGUS_PREFIX_LENS_TRIE), or while BLOCKMETA is not marked valid (new or
 * legacy maps), the program walks the trie directly, as before.
 *
 * Classes: an IPv4 address (::ffff:a.b.c.d) can be covered by IPv4
 * prefixes and by short IPv6 prefixes that contain ::ffff:0:0/96 (::/0);
 * any other address only by entries outside ::ffff:0:0/96.
 *
 * Userspace (sentinel-common's maps::Blocklist) keeps filter and lengths a
 * superset of the trie under a lock on the pin directory: a slot or a
 * length is only decremented when its key leaves the trie. Counters
 * saturate at 255 and then stay (a stale slot only costs a trie walk).
 * BLOCKMETA is double-buffered: a bpf() update copies a value with a plain
 * memcpy, so the program could otherwise read a length count from the new
 * list and lengths from the old one.
 * ------------------------------------------------------------------------ */

/* Most prefix lengths probed one by one per address class. */
#define ARGUS_PREFIX_LENS_MAX 16
/* n_lens value: too many lengths in this class, walk the trie. */
#define ARGUS_PREFIX_LENS_TRIE 0xFF
/* Address classes (index of n_lens, lens and counts). */
#define ARGUS_CLASS_V4 0
#define ARGUS_CLASS_V6 1
/* Slots of argus_prefix_meta.counts[class]: prefix lengths 0..128, padded. */
#define ARGUS_PREFIX_COUNT_SLOTS 130
/* BLOCKMETA flags: the filter and the length lists describe BLOCKLIST; a
 * rebuild of them was started (and maybe not finished). */
#define ARGUS_PREFIX_META_F_VALID (1U << 0)
#define ARGUS_PREFIX_META_F_REBUILDING (1U << 1)
/* BLOCKFILTER holds 2^ARGUS_PREFIX_FILTER_BITS one-byte counters, eight per
 * array element (2 MiB). */
#define ARGUS_PREFIX_FILTER_BITS 21
#define ARGUS_PREFIX_FILTER_ENTRIES (1U << (ARGUS_PREFIX_FILTER_BITS - 3))
/* Multipliers of argus_prefix_hash. */
#define ARGUS_PREFIX_HASH_K1 0x9E3779B97F4A7C15ULL
#define ARGUS_PREFIX_HASH_K2 0xD6E8FEB86659FD93ULL

/* Filter slot (0 .. 2^ARGUS_PREFIX_FILTER_BITS - 1) of a masked key given
 * as its address in two big-endian halves (hi = bytes 0..7) and its
 * length. Userspace computes the same function (maps::filter_slot). */
static inline __u32 argus_prefix_hash(__u64 hi, __u64 lo, __u32 len)
{
	__u64 h = (hi * ARGUS_PREFIX_HASH_K1) ^ lo ^ ((__u64)len << 56);

	h *= ARGUS_PREFIX_HASH_K2;
	h ^= h >> 29;
	h *= ARGUS_PREFIX_HASH_K1;
	return (__u32)(h >> (64 - ARGUS_PREFIX_FILTER_BITS));
}

struct argus_prefix_meta {
	/* ARGUS_PREFIX_META_F_*. */
	__u32 flags;
	/* Lengths in lens[class], or ARGUS_PREFIX_LENS_TRIE. */
	__u8 n_lens[2];
	__u8 pad[2];
	/* Prefix lengths (0..128, in the 128-bit key space) in use, longest
	 * first; the first n_lens[class] are valid. */
	__u8 lens[2][ARGUS_PREFIX_LENS_MAX];
	/* BLOCKLIST entries per class and prefix length (userspace
	 * bookkeeping; the program does not read it). */
	__u32 counts[2][ARGUS_PREFIX_COUNT_SLOTS];
};

/* BLOCKFILTER value: counters of slots 8 * index .. 8 * index + 7. */
struct argus_prefix_filter {
	__u8 count[8];
};

/* Key of BLOCKHOSTS: one address, same encoding as argus_lpm_key.addr. */
struct argus_host_key {
	__u8 addr[16];
};

/* Why an address is blocked; set by the enforcer, opaque to the kernel. The values are the stable
 * codes of the verdict reasons (argus_proto::Reason::code), so a ban's reason survives the round trip
 * through the map; argus-enforcer asserts at compile time that the two agree, and argus-sentinel-common
 * tests that its mirror matches this header. */
enum argus_reason {
	ARGUS_REASON_UNSPECIFIED = 0,
	/* An operator banned it by hand (argusctl). */
	ARGUS_REASON_MANUAL = 1,
	/* Many distinct ports or hosts probed. */
	ARGUS_REASON_PORT_SCAN = 2,
	/* Many half-open or unanswered TCP handshakes. */
	ARGUS_REASON_SYN_FLOOD = 3,
	/* Repeated short connections to one authenticated service. */
	ARGUS_REASON_BRUTE_FORCE = 4,
	/* kronos' payload classifier produced the verdict. */
	ARGUS_REASON_PAYLOAD_ATTACK = 5,
	/* A volumetric flood. */
	ARGUS_REASON_FLOOD = 6,
	/* kronos' anomaly model produced the verdict without a more specific reason. */
	ARGUS_REASON_ANOMALY = 7,
};

/* BLOCKLIST entry flag: the entry only counts would_drop and never drops,
 * even when the global DRY_RUN flag is off (staged rollout of one ban). */
#define ARGUS_BLOCK_F_MONITOR (1U << 0)

/* BLOCKLIST and BLOCKHOSTS value. Counters are updated by the XDP program with atomic adds;
 * userspace writes the whole value when it (re)inserts an entry. */
struct argus_block_value {
	/* Packets that matched this entry (dropped or would-drop). */
	__u64 packets;
	/* Bytes (L2 frame length as seen by XDP) of those packets. */
	__u64 bytes;
	/* Packets that matched while dry-run or ARGUS_BLOCK_F_MONITOR was on. */
	__u64 would_drop;
	/* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE: the flows' clock
	 * at tick resolution) of the last match, 0 = never. */
	__u64 last_hit_ns;
	/* enum argus_reason. */
	__u32 reason;
	/* ARGUS_BLOCK_F_*. */
	__u32 flags;
};

/* ALLOWLIST value. ALLOWLIST is looked up only after a ban hit (it
 * overrides the ban), so these count the packets the entry saved from a
 * ban, not every packet from the prefix. */
struct argus_allow_value {
	/* Packets this entry saved from a ban. */
	__u64 packets;
	/* bpf_ktime_get_coarse_ns() of the last such packet, 0 = never. */
	__u64 last_hit_ns;
};

/* ------------------------------------------------------------------------
 * CONFIG (BPF_MAP_TYPE_ARRAY, 1 entry at index 0)
 * ------------------------------------------------------------------------ */

/* Never drop: matches are counted as would_drop (entry and STATS). */
#define ARGUS_CFG_F_DRY_RUN (1U << 0)
/* On role=lan interfaces, also match the DESTINATION address against the
 * lists, so LAN hosts cannot reach banned addresses. */
#define ARGUS_CFG_F_DROP_LAN_TO_BANNED (1U << 1)
/* Every defined flag; the program ignores the others. */
#define ARGUS_CFG_F_ALL (ARGUS_CFG_F_DRY_RUN | ARGUS_CFG_F_DROP_LAN_TO_BANNED)

/* Runtime configuration. A freshly created (all-zero) CONFIG means:
 * enforce, no LAN destination check, no payload samples. Writers replace
 * the whole value (the enforcer owns flags' DRY_RUN bit, sentinel the rest;
 * both read-modify-write through sentinel-common's maps module). */
struct argus_config {
	/* ARGUS_CFG_F_*. */
	__u32 flags;
	/* Bytes of payload copied per sample, clamped to ARGUS_MAX_SAMPLE_BYTES;
	 * 0 disables payload samples. */
	__u16 sample_bytes;
	/* K: payload-carrying packets sampled per flow and per direction. */
	__u16 samples_per_direction;
};

/* ------------------------------------------------------------------------
 * IFACES (BPF_MAP_TYPE_ARRAY indexed by ifindex -> struct argus_iface)
 * ------------------------------------------------------------------------ */

/* An interface without an entry (all-zero value, or ifindex out of range)
 * is handled as WAN: the source check is the safe default for an interface
 * nobody described. */
enum argus_role {
	ARGUS_ROLE_WAN = 0,
	ARGUS_ROLE_LAN = 1,
};

struct argus_iface {
	/* enum argus_role. */
	__u32 role;
	/* Reserved, 0. */
	__u32 flags;
};

/* ------------------------------------------------------------------------
 * STATS (BPF_MAP_TYPE_PERCPU_ARRAY, 1 entry at index 0, summed by userspace)
 * ------------------------------------------------------------------------ */

/* Every packet increments exactly one of passed/dropped. The other counters
 * are subsets or side counters. */
struct argus_stats {
	/* Packets returned with XDP_PASS (including would_drop, allowlisted,
	 * non-IP and unparseable ones). */
	__u64 passed;
	/* Packets returned with XDP_DROP. */
	__u64 dropped;
	/* Passed packets that matched BLOCKLIST in dry-run/monitor mode. */
	__u64 would_drop;
	/* Passed packets whose checked address matched a ban and ALLOWLIST,
	 * which overrides it (packets the allowlist saved from a ban). */
	__u64 allowlisted;
	/* Packets whose headers ended early or were malformed (truncated
	 * Ethernet/VLAN/L3/L4, bad IHL, too many VLAN tags or IPv6 extension
	 * headers). Policy still applies when the L3 addresses were read. */
	__u64 parse_failed;
	/* Inserting a new flow into FLOWS failed. */
	__u64 flow_table_full;
	/* An event could not be reserved in EVENTS (consumer too slow). */
	__u64 ringbuf_full;
	/* Flows created in FLOWS (and NEW_FLOW events attempted). */
	__u64 flows_new;
	/* Payload sample events emitted. */
	__u64 samples;
	/* Passed packets that are neither IPv4 nor IPv6 (ARP, LLDP, ...). */
	__u64 non_ip;
	/* Non-first IP fragments: policy applied, no flow accounting (no
	 * L4 header to key them by). */
	__u64 fragments;
	/* Bytes of all packets seen (L2 frame length). */
	__u64 bytes;
};

/* ------------------------------------------------------------------------
 * FLOWS (BPF_MAP_TYPE_LRU_HASH)
 * ------------------------------------------------------------------------ */

/* Canonical, direction-free flow key: the (addr, port) pair that sorts
 * first (addr bytes lexicographically, then port as a number) is "lo".
 * Both directions of a flow therefore find the same entry.
 * ICMP/ICMPv6 echo request/reply use the echo identifier as both ports;
 * other ICMP messages and port-less protocols use port 0. */
struct argus_flow_key {
	__u8 lo_addr[16];
	__u8 hi_addr[16];
	/* Network byte order. */
	__u16 lo_port;
	/* Network byte order. */
	__u16 hi_port;
	/* IPPROTO_* of the L4 header (after IPv6 extension headers). */
	__u8 proto;
	__u8 pad[3];
};

/* Index of struct argus_flow_value.dir: relative to the initiator, the
 * sender of the first packet the program saw for the flow. */
enum argus_direction {
	/* Initiator -> responder. */
	ARGUS_DIR_FORWARD = 0,
	/* Responder -> initiator. */
	ARGUS_DIR_REVERSE = 1,
};

/* Per-direction counters; updated with atomics (see argus_xdp.c). */
struct argus_flow_dir {
	__u64 packets;
	/* Sum of IP packet lengths (IPv4 total length, IPv6 40 + payload
	 * length, bounded by the frame), i.e. the "sum" of the size
	 * statistics. IP lengths, not frame lengths, so Ethernet padding and
	 * VLAN tags do not skew them and pcap input gives the same numbers. */
	__u64 bytes;
	/* bpf_ktime_get_ns() of the first/last packet, 0 = none yet. */
	__u64 first_seen_ns;
	__u64 last_seen_ns;
	/* Sum of squares of IP packet lengths. */
	__u64 size_sumsq;
	/* Inter-arrival times between consecutive packets of this direction
	 * (there are packets - 1 of them): their sum in nanoseconds, and the
	 * sum of their squares in microseconds^2 (squares of nanoseconds
	 * overflow a u64 within seconds). */
	__u64 iat_sum_ns;
	__u64 iat_sumsq_us;
	/* Smallest/largest IP packet length; size_min is UINT32_MAX until the
	 * first packet. */
	__u32 size_min;
	__u32 size_max;
	/* TCP flags (FIN 0x01 ... CWR 0x80) ORed over every packet. */
	__u32 tcp_flags;
	/* Payload samples emitted for this direction (<= samples_per_direction). */
	__u32 samples;
};

struct argus_flow_value {
	/* Indexed by enum argus_direction. */
	struct argus_flow_dir dir[2];
	/* Ingress ifindex of the initiator's first packet. */
	__u32 initiator_ifindex;
	/* 1 if the initiator is the key's lo side, 0 if it is the hi side. */
	__u8 initiator_is_lo;
	/* ICMP/ICMPv6 type and code of the first packet (0 for other
	 * protocols): flow records name ICMP flows by them. */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 pad;
};

/* ------------------------------------------------------------------------
 * EVENTS (BPF_MAP_TYPE_RINGBUF)
 * ------------------------------------------------------------------------ */

/* First field of every event. */
enum argus_event_type {
	ARGUS_EVENT_NEW_FLOW = 1,
	ARGUS_EVENT_SAMPLE = 2,
};

/* Emitted once, when the program creates a FLOWS entry. */
struct argus_new_flow_event {
	/* ARGUS_EVENT_NEW_FLOW. */
	__u32 type;
	/* Ingress ifindex of the initiator's first packet. */
	__u32 ifindex;
	/* bpf_ktime_get_ns() of the first packet; equals
	 * dir[ARGUS_DIR_FORWARD].first_seen_ns of the entry, which tells this
	 * flow apart from a later one that reuses the same key after LRU
	 * eviction or export. */
	__u64 ts_ns;
	struct argus_flow_key key;
	/* 1 if the initiator is the key's lo side. */
	__u8 initiator_is_lo;
	__u8 pad[7];
};

/* Emitted for the first samples_per_direction payload-carrying packets of
 * each direction of a flow. */
struct argus_sample_event {
	/* ARGUS_EVENT_SAMPLE. */
	__u32 type;
	/* Ingress ifindex of this packet. */
	__u32 ifindex;
	/* bpf_ktime_get_ns() of this packet. */
	__u64 ts_ns;
	/* dir[ARGUS_DIR_FORWARD].first_seen_ns of the flow: joins the sample
	 * to its flow together with key. */
	__u64 flow_start_ns;
	struct argus_flow_key key;
	/* enum argus_direction of this packet. */
	__u8 direction;
	/* 1 if the initiator is the key's lo side. */
	__u8 initiator_is_lo;
	/* 0-based index of this sample within its direction. */
	__u16 index;
	/* Bytes of data[] that are valid. */
	__u16 captured_len;
	/* L4 payload length of the packet (may exceed captured_len). */
	__u16 payload_len;
	/* First captured_len bytes of the L4 payload. */
	__u8 data[ARGUS_MAX_SAMPLE_BYTES];
};

/* ------------------------------------------------------------------------
 * Layout pins. sentinel-common/src/abi.rs asserts the same numbers on the
 * Rust mirrors, so a change on either side breaks the build of that side.
 * ------------------------------------------------------------------------ */
#define ARGUS_ASSERT_SIZE(t, n) _Static_assert(sizeof(struct t) == (n), #t " size")
#define ARGUS_ASSERT_OFF(t, f, n) \
	_Static_assert(__builtin_offsetof(struct t, f) == (n), #t "." #f " offset")

ARGUS_ASSERT_SIZE(argus_lpm_key, 20);
ARGUS_ASSERT_OFF(argus_lpm_key, addr, 4);
ARGUS_ASSERT_SIZE(argus_host_key, 16);
ARGUS_ASSERT_SIZE(argus_prefix_meta, 1080);
ARGUS_ASSERT_OFF(argus_prefix_meta, n_lens, 4);
ARGUS_ASSERT_OFF(argus_prefix_meta, lens, 8);
ARGUS_ASSERT_OFF(argus_prefix_meta, counts, 40);
ARGUS_ASSERT_SIZE(argus_prefix_filter, 8);
ARGUS_ASSERT_SIZE(argus_block_value, 40);
ARGUS_ASSERT_OFF(argus_block_value, bytes, 8);
ARGUS_ASSERT_OFF(argus_block_value, would_drop, 16);
ARGUS_ASSERT_OFF(argus_block_value, last_hit_ns, 24);
ARGUS_ASSERT_OFF(argus_block_value, reason, 32);
ARGUS_ASSERT_OFF(argus_block_value, flags, 36);
ARGUS_ASSERT_SIZE(argus_allow_value, 16);
ARGUS_ASSERT_OFF(argus_allow_value, last_hit_ns, 8);
ARGUS_ASSERT_SIZE(argus_config, 8);
ARGUS_ASSERT_OFF(argus_config, sample_bytes, 4);
ARGUS_ASSERT_OFF(argus_config, samples_per_direction, 6);
ARGUS_ASSERT_SIZE(argus_iface, 8);
ARGUS_ASSERT_OFF(argus_iface, flags, 4);
ARGUS_ASSERT_SIZE(argus_stats, 96);
ARGUS_ASSERT_OFF(argus_stats, dropped, 8);
ARGUS_ASSERT_OFF(argus_stats, parse_failed, 32);
ARGUS_ASSERT_OFF(argus_stats, flows_new, 56);
ARGUS_ASSERT_OFF(argus_stats, bytes, 88);
ARGUS_ASSERT_SIZE(argus_flow_key, 40);
ARGUS_ASSERT_OFF(argus_flow_key, hi_addr, 16);
ARGUS_ASSERT_OFF(argus_flow_key, lo_port, 32);
ARGUS_ASSERT_OFF(argus_flow_key, hi_port, 34);
ARGUS_ASSERT_OFF(argus_flow_key, proto, 36);
ARGUS_ASSERT_OFF(argus_flow_key, pad, 37);
ARGUS_ASSERT_SIZE(argus_flow_dir, 72);
ARGUS_ASSERT_OFF(argus_flow_dir, first_seen_ns, 16);
ARGUS_ASSERT_OFF(argus_flow_dir, size_sumsq, 32);
ARGUS_ASSERT_OFF(argus_flow_dir, iat_sum_ns, 40);
ARGUS_ASSERT_OFF(argus_flow_dir, iat_sumsq_us, 48);
ARGUS_ASSERT_OFF(argus_flow_dir, size_min, 56);
ARGUS_ASSERT_OFF(argus_flow_dir, size_max, 60);
ARGUS_ASSERT_OFF(argus_flow_dir, tcp_flags, 64);
ARGUS_ASSERT_OFF(argus_flow_dir, samples, 68);
ARGUS_ASSERT_SIZE(argus_flow_value, 152);
ARGUS_ASSERT_OFF(argus_flow_value, initiator_ifindex, 144);
ARGUS_ASSERT_OFF(argus_flow_value, initiator_is_lo, 148);
ARGUS_ASSERT_OFF(argus_flow_value, icmp_type, 149);
ARGUS_ASSERT_OFF(argus_flow_value, icmp_code, 150);
ARGUS_ASSERT_SIZE(argus_new_flow_event, 64);
ARGUS_ASSERT_OFF(argus_new_flow_event, ts_ns, 8);
ARGUS_ASSERT_OFF(argus_new_flow_event, key, 16);
ARGUS_ASSERT_OFF(argus_new_flow_event, initiator_is_lo, 56);
ARGUS_ASSERT_SIZE(argus_sample_event, 584);
ARGUS_ASSERT_OFF(argus_sample_event, flow_start_ns, 16);
ARGUS_ASSERT_OFF(argus_sample_event, key, 24);
ARGUS_ASSERT_OFF(argus_sample_event, direction, 64);
ARGUS_ASSERT_OFF(argus_sample_event, initiator_is_lo, 65);
ARGUS_ASSERT_OFF(argus_sample_event, index, 66);
ARGUS_ASSERT_OFF(argus_sample_event, captured_len, 68);
ARGUS_ASSERT_OFF(argus_sample_event, payload_len, 70);
ARGUS_ASSERT_OFF(argus_sample_event, data, 72);

#endif /* ARGUS_SHARED_H */
