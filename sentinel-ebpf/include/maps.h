/* SPDX-License-Identifier: Apache-2.0 */
/*
 * maps.h - BTF-defined maps of the Argus XDP program.
 *
 * Every map is pinned by name (LIBBPF_PIN_BY_NAME): a loader pointed at a
 * pin directory reuses the maps it finds there, so bans and flows survive a
 * sentinel restart. max_entries below are compile-time defaults; userspace
 * sets the real sizes from the configuration at load time.
 */
#ifndef ARGUS_MAPS_H
#define ARGUS_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "argus_shared.h"

/* Addresses that are never dropped: looked up after a BLOCKHOSTS or
 * BLOCKLIST hit, whose ban a match overrides. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct argus_lpm_key);
	__type(value, struct argus_allow_value);
	/* LPM tries must not be preallocated. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ARGUS_ALLOWLIST_DEFAULT_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ALLOWLIST SEC(".maps");

/* Banned single addresses (IPv4 /32, IPv6 /128) with per-entry counters;
 * looked up before BLOCKLIST (see argus_shared.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct argus_host_key);
	__type(value, struct argus_block_value);
	/* Sized like BLOCKLIST but allocated per entry, not up front. */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ARGUS_BLOCKLIST_DEFAULT_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BLOCKHOSTS SEC(".maps");

/* Banned prefixes shorter than a host, with per-entry counters. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct argus_lpm_key);
	__type(value, struct argus_block_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, ARGUS_BLOCKLIST_DEFAULT_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BLOCKLIST SEC(".maps");

/* Counting filter of the BLOCKLIST keys (argus_shared.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct argus_prefix_filter);
	__uint(max_entries, ARGUS_PREFIX_FILTER_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BLOCKFILTER SEC(".maps");

/* Two struct argus_prefix_meta (BLOCKLIST's prefix lengths): the one
 * BLOCKMETASEL names is live, userspace rewrites the other and then flips
 * BLOCKMETASEL, so the program never reads a half-written length list. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct argus_prefix_meta);
	__uint(max_entries, 2);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BLOCKMETA SEC(".maps");

/* One __u32 at index 0: the live BLOCKMETA entry (0 or 1). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u32);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} BLOCKMETASEL SEC(".maps");

/* One struct argus_config at index 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct argus_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} CONFIG SEC(".maps");

/* ifindex -> role. An array indexed by ifindex rather than a hash: the
 * verifier inlines array lookups (a few instructions instead of a hashed
 * lookup on every packet). Unset entries and ifindexes beyond the array are
 * WAN. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct argus_iface);
	__uint(max_entries, ARGUS_IFACES_MAX_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} IFACES SEC(".maps");

/* One struct argus_stats per CPU at index 0: per-CPU so the hot path never
 * shares a cache line between cores; userspace sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct argus_stats);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} STATS SEC(".maps");

/* Bidirectional flows keyed canonically. LRU so a flood of new flows evicts
 * the least recently used entries instead of stopping accounting. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct argus_flow_key);
	__type(value, struct argus_flow_value);
	__uint(max_entries, ARGUS_FLOWS_DEFAULT_ENTRIES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} FLOWS SEC(".maps");

/* NEW_FLOW and SAMPLE events; never one per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ARGUS_EVENTS_DEFAULT_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} EVENTS SEC(".maps");

#endif /* ARGUS_MAPS_H */
