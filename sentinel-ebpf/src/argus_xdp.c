// SPDX-License-Identifier: Apache-2.0
/*
 * argus_xdp.c - the Argus data plane.
 *
 * Per packet: parse (parse.h) -> policy (ALLOWLIST, then BLOCKLIST, on the
 * address the interface role selects) -> verdict -> flow accounting of
 * passed packets (FLOWS) -> at most one NEW_FLOW event per flow and at most
 * samples_per_direction payload samples per flow direction (EVENTS).
 *
 * Concurrency: the same FLOWS or BLOCKLIST entry is updated from several
 * CPUs at once (both directions of a flow arrive on different queues or
 * interfaces; a banned /24 floods every queue). Shared counters are
 * therefore updated with BPF atomics, not a per-entry bpf_spin_lock:
 *  - the kernel refuses bpf_spin_lock in BPF_MAP_TYPE_LRU_HASH values
 *    (map creation fails with EOPNOTSUPP) and in LPM trie values;
 *  - atomics never block, so a CPU can never stall the data path waiting
 *    for another one;
 *  - the counters are independent sums, so per-field atomicity is all the
 *    exporter needs (it tolerates a packet counted in "packets" but not
 *    yet in "bytes" while it reads).
 * Read-modify-write fields that are not sums (min/max) use a bounded
 * compare-and-swap that only runs when the value actually changes.
 * Built with -mcpu=v3 for fetch/xchg/cmpxchg atomics (kernel >= 5.12).
 */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "argus_shared.h"
#include "consts.h"
#include "maps.h"
#include "parse.h"

/* -EEXIST without pulling errno headers into the BPF build. */
#define ARGUS_EEXIST 17

/* Policy outcome for the checked address. */
enum argus_verdict {
	ARGUS_VERDICT_PASS = 0,
	ARGUS_VERDICT_DROP = 1,
};

static __always_inline void argus_atomic_min_u32(__u32 *p, __u32 v)
{
	__u32 old = *(volatile __u32 *)p;
	int i;

	for (i = 0; i < ARGUS_CAS_RETRIES && v < old; i++) {
		__u32 seen = __sync_val_compare_and_swap(p, old, v);

		if (seen == old)
			return;
		old = seen;
	}
}

static __always_inline void argus_atomic_max_u32(__u32 *p, __u32 v)
{
	__u32 old = *(volatile __u32 *)p;
	int i;

	for (i = 0; i < ARGUS_CAS_RETRIES && v > old; i++) {
		__u32 seen = __sync_val_compare_and_swap(p, old, v);

		if (seen == old)
			return;
		old = seen;
	}
}

/* 0 if no BLOCKLIST prefix covers addr, 1 if one may (the trie then has
 * the answer). Tests the BLOCKFILTER slot of addr masked to each prefix
 * length in use in addr's class, longest first (see BLOCKFILTER in
 * argus_shared.h); answers 1 without testing when BLOCKMETA cannot tell. */
static __always_inline int argus_prefix_may_match(const union argus_addr *addr)
{
	struct argus_prefix_filter *f;
	struct argus_prefix_meta *m;
	__u64 hi, lo, mhi, mlo;
	__u32 zero = 0, cls, n, i, len, slot, idx, *sel;

	sel = bpf_map_lookup_elem(&BLOCKMETASEL, &zero);
	idx = sel ? (*(volatile __u32 *)sel & 1) : 0;
	m = bpf_map_lookup_elem(&BLOCKMETA, &idx);
	if (!m || !(m->flags & ARGUS_PREFIX_META_F_VALID))
		return 1;
	cls = (addr->w64[0] == 0 && addr->w32[2] == bpf_htonl(0xFFFF))
		      ? ARGUS_CLASS_V4
		      : ARGUS_CLASS_V6;
	n = m->n_lens[cls];
	if (n == 0)
		return 0;
	if (n > ARGUS_PREFIX_LENS_MAX)
		return 1;
	hi = __builtin_bswap64(addr->w64[0]);
	lo = __builtin_bswap64(addr->w64[1]);
	for (i = 0; i < ARGUS_PREFIX_LENS_MAX && i < n; i++) {
		len = m->lens[cls][i];
		if (len > ARGUS_LPM_MAX_PREFIXLEN)
			return 1;
		if (len >= 64) {
			mhi = hi;
			mlo = len == 64 ? 0 : lo & (~0ULL << (128 - len));
		} else {
			mhi = len == 0 ? 0 : hi & (~0ULL << (64 - len));
			mlo = 0;
		}
		slot = argus_prefix_hash(mhi, mlo, len);
		idx = slot >> 3;
		f = bpf_map_lookup_elem(&BLOCKFILTER, &idx);
		if (!f || f->count[slot & 7])
			return 1;
	}
	return 0;
}

/* Looks the checked address up in BLOCKHOSTS and BLOCKLIST, then, only on
 * a ban hit, in ALLOWLIST, which overrides the ban: the verdict is the same
 * as with the allowlist looked up first, but an unbanned source (the pass
 * path) skips a trie walk. Updates entry counters and the allowlisted
 * (packets the allowlist saved from a ban) and would_drop statistics; an
 * overridden ban's counters are left alone. Entry "last hit" times use the
 * coarse clock: the precise one costs more than a hash lookup on some hosts
 * (kvm-clock), a drop must stay cheap, and "last hit" needs no better than
 * a few milliseconds. */
static __always_inline int argus_policy(const union argus_addr *addr,
					__u32 cfg_flags, __u32 len,
					struct argus_stats *st)
{
	struct argus_lpm_key key = { .prefixlen = ARGUS_LPM_MAX_PREFIXLEN };
	struct argus_allow_value *allow;
	struct argus_block_value *block;

	__builtin_memcpy(key.addr, addr->b, sizeof(key.addr));

	/* Host bans first: O(1) whatever their number (argus_shared.h).
	 * Then the prefixes: the trie walk only when the index says a prefix
	 * covers addr, so a miss stays O(lengths in use), not O(log n). */
	block = bpf_map_lookup_elem(&BLOCKHOSTS, key.addr);
	if (!block && argus_prefix_may_match(addr))
		block = bpf_map_lookup_elem(&BLOCKLIST, &key);
	if (!block)
		return ARGUS_VERDICT_PASS;

	allow = bpf_map_lookup_elem(&ALLOWLIST, &key);
	if (allow) {
		__sync_fetch_and_add(&allow->packets, 1);
		/* A plain store: racing CPUs write nearly equal timestamps
		 * and either one is a correct "last hit". */
		allow->last_hit_ns = bpf_ktime_get_coarse_ns();
		st->allowlisted++;
		return ARGUS_VERDICT_PASS;
	}

	__sync_fetch_and_add(&block->packets, 1);
	__sync_fetch_and_add(&block->bytes, len);
	block->last_hit_ns = bpf_ktime_get_coarse_ns();
	if ((cfg_flags & ARGUS_CFG_F_DRY_RUN) ||
	    (block->flags & ARGUS_BLOCK_F_MONITOR)) {
		__sync_fetch_and_add(&block->would_drop, 1);
		st->would_drop++;
		return ARGUS_VERDICT_PASS;
	}
	return ARGUS_VERDICT_DROP;
}

/* 1 if (src, sport) sorts before or equal to (dst, dport): addresses
 * compared as big-endian 128-bit numbers (= bytewise), then ports. */
static __always_inline int argus_src_is_lo(const struct argus_pkt *p)
{
	__u64 s = __builtin_bswap64(p->src.w64[0]);
	__u64 d = __builtin_bswap64(p->dst.w64[0]);

	if (s != d)
		return s < d;
	s = __builtin_bswap64(p->src.w64[1]);
	d = __builtin_bswap64(p->dst.w64[1]);
	if (s != d)
		return s < d;
	return bpf_ntohs(p->sport) <= bpf_ntohs(p->dport);
}

static __always_inline void argus_emit_new_flow(struct xdp_md *ctx,
						const struct argus_flow_key *key,
						__u8 initiator_is_lo, __u64 now,
						struct argus_stats *st)
{
	struct argus_new_flow_event *ev;

	ev = bpf_ringbuf_reserve(&EVENTS, sizeof(*ev), 0);
	if (!ev) {
		st->ringbuf_full++;
		return;
	}
	ev->type = ARGUS_EVENT_NEW_FLOW;
	ev->ifindex = ctx->ingress_ifindex;
	ev->ts_ns = now;
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	ev->initiator_is_lo = initiator_is_lo;
	__builtin_memset(ev->pad, 0, sizeof(ev->pad));
	bpf_ringbuf_submit(ev, 0);
}

/* Creates the FLOWS entry for a packet whose key was not found and returns
 * it (or the entry another CPU created first). */
static __always_inline struct argus_flow_value *
argus_create_flow(struct xdp_md *ctx, const struct argus_flow_key *key,
		  const struct argus_pkt *p, __u8 src_is_lo, __u64 now,
		  struct argus_stats *st)
{
	struct argus_flow_value init = {};
	long err;

	init.dir[ARGUS_DIR_FORWARD].first_seen_ns = now;
	init.dir[ARGUS_DIR_FORWARD].size_min = 0xFFFFFFFF;
	init.dir[ARGUS_DIR_REVERSE].size_min = 0xFFFFFFFF;
	init.initiator_ifindex = ctx->ingress_ifindex;
	init.initiator_is_lo = src_is_lo;
	init.icmp_type = p->icmp_type;
	init.icmp_code = p->icmp_code;

	err = bpf_map_update_elem(&FLOWS, key, &init, BPF_NOEXIST);
	if (err == 0) {
		st->flows_new++;
		argus_emit_new_flow(ctx, key, src_is_lo, now, st);
	} else if (err != -ARGUS_EEXIST) {
		st->flow_table_full++;
		return NULL;
	}
	/* -EEXIST: another CPU created it between our lookup and insert;
	 * this packet is accounted relative to that CPU's initiator. */
	return bpf_map_lookup_elem(&FLOWS, key);
}

/* Emits a payload sample if this direction still has a free slot. */
static __always_inline void
argus_maybe_sample(struct xdp_md *ctx, const struct argus_pkt *p,
		   const struct argus_config *cfg,
		   const struct argus_flow_key *key,
		   struct argus_flow_value *v, struct argus_flow_dir *d,
		   __u8 dir, __u64 now, struct argus_stats *st)
{
	struct argus_sample_event *ev;
	__u32 slot, n;

	slot = *(volatile __u32 *)&d->samples;
	if (slot >= cfg->samples_per_direction)
		return;
	/* Claim slot; a CPU that loses the race skips this packet rather
	 * than retrying, so the count never exceeds K. */
	if (__sync_val_compare_and_swap(&d->samples, slot, slot + 1) != slot)
		return;

	ev = bpf_ringbuf_reserve(&EVENTS, sizeof(*ev), 0);
	if (!ev) {
		st->ringbuf_full++;
		/* Give the slot back: a later packet may still be sampled. */
		__sync_fetch_and_add(&d->samples, -1);
		return;
	}
	n = argus_min_u32(p->payload_len, cfg->sample_bytes);
	if (n > ARGUS_MAX_SAMPLE_BYTES)
		n = ARGUS_MAX_SAMPLE_BYTES;
	/* Keeps the verifier's bound on n within [1, 512] whatever clang did
	 * with the comparisons above. */
	n &= 0x3FF;
	if (n == 0 || n > ARGUS_MAX_SAMPLE_BYTES ||
	    bpf_xdp_load_bytes(ctx, p->payload_off, ev->data, n) < 0) {
		bpf_ringbuf_discard(ev, 0);
		__sync_fetch_and_add(&d->samples, -1);
		return;
	}
	ev->type = ARGUS_EVENT_SAMPLE;
	ev->ifindex = ctx->ingress_ifindex;
	ev->ts_ns = now;
	ev->flow_start_ns = v->dir[ARGUS_DIR_FORWARD].first_seen_ns;
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	ev->direction = dir;
	ev->initiator_is_lo = v->initiator_is_lo;
	ev->index = slot;
	ev->captured_len = n;
	ev->payload_len = p->payload_len;
	bpf_ringbuf_submit(ev, 0);
	st->samples++;
}

/* Accounts a passed, keyable packet to its bidirectional flow. */
static __always_inline void argus_account_flow(struct xdp_md *ctx,
					       const struct argus_pkt *p,
					       const struct argus_config *cfg,
					       __u64 now,
					       struct argus_stats *st)
{
	struct argus_flow_key key;
	struct argus_flow_value *v;
	struct argus_flow_dir *d;
	__u64 prev, len = p->ip_len;
	__u8 src_is_lo = argus_src_is_lo(p), dir;

	if (src_is_lo) {
		__builtin_memcpy(key.lo_addr, p->src.b, 16);
		__builtin_memcpy(key.hi_addr, p->dst.b, 16);
		key.lo_port = p->sport;
		key.hi_port = p->dport;
	} else {
		__builtin_memcpy(key.lo_addr, p->dst.b, 16);
		__builtin_memcpy(key.hi_addr, p->src.b, 16);
		key.lo_port = p->dport;
		key.hi_port = p->sport;
	}
	key.proto = p->proto;
	key.pad[0] = key.pad[1] = key.pad[2] = 0;

	v = bpf_map_lookup_elem(&FLOWS, &key);
	if (!v) {
		v = argus_create_flow(ctx, &key, p, src_is_lo, now, st);
		if (!v)
			return;
	}
	dir = src_is_lo == v->initiator_is_lo ? ARGUS_DIR_FORWARD
					       : ARGUS_DIR_REVERSE;
	d = dir == ARGUS_DIR_FORWARD ? &v->dir[ARGUS_DIR_FORWARD]
				     : &v->dir[ARGUS_DIR_REVERSE];

	/* xchg hands every packet the timestamp of its predecessor in this
	 * direction, so concurrent updates still telescope to last - first. */
	prev = __sync_lock_test_and_set(&d->last_seen_ns, now);
	__sync_fetch_and_add(&d->packets, 1);
	__sync_fetch_and_add(&d->bytes, len);
	__sync_fetch_and_add(&d->size_sumsq, len * len);
	if (prev == 0) {
		/* First packet of this direction (the forward one got its
		 * first_seen_ns at creation, so this only fills reverse). */
		__sync_val_compare_and_swap(&d->first_seen_ns, 0, now);
	} else {
		__u64 iat_ns = now > prev ? now - prev : 0;
		__u64 iat_us = iat_ns / 1000;

		if (iat_us > ARGUS_IAT_CLAMP_US)
			iat_us = ARGUS_IAT_CLAMP_US;
		__sync_fetch_and_add(&d->iat_sum_ns, iat_ns);
		__sync_fetch_and_add(&d->iat_sumsq_us, iat_us * iat_us);
	}
	argus_atomic_min_u32(&d->size_min, len);
	argus_atomic_max_u32(&d->size_max, len);
	/* Most packets repeat flags already seen: skip the locked OR then. */
	if (p->tcp_flags & ~*(volatile __u32 *)&d->tcp_flags)
		__sync_fetch_and_or(&d->tcp_flags, (__u32)p->tcp_flags);

	if (cfg && cfg->sample_bytes && p->payload_len)
		argus_maybe_sample(ctx, p, cfg, &key, v, d, dir, now, st);
}

SEC("xdp")
int argus_xdp(struct xdp_md *ctx)
{
	struct argus_pkt p = {};
	struct argus_config *cfg;
	struct argus_iface *iface;
	struct argus_stats *st;
	const union argus_addr *check;
	__u32 zero = 0, ifindex = ctx->ingress_ifindex, cfg_flags;
	__u64 now;
	int parsed;

	st = bpf_map_lookup_elem(&STATS, &zero);
	if (!st)
		return XDP_PASS; /* cannot happen: index 0 of a 1-entry array */

	parsed = argus_parse(ctx, &p);
	st->bytes += p.frame_len;
	if (p.failed)
		st->parse_failed++;
	if (parsed != ARGUS_PARSE_L3) {
		if (parsed == ARGUS_PARSE_NON_IP)
			st->non_ip++;
		st->passed++;
		return XDP_PASS;
	}
	if (p.fragment)
		st->fragments++;

	cfg = bpf_map_lookup_elem(&CONFIG, &zero);
	cfg_flags = cfg ? cfg->flags : 0;
	iface = bpf_map_lookup_elem(&IFACES, &ifindex);

	/* WAN: who sends to us. LAN: optionally, whom our hosts talk to. */
	if (iface && iface->role == ARGUS_ROLE_LAN)
		check = (cfg_flags & ARGUS_CFG_F_DROP_LAN_TO_BANNED) ? &p.dst
								     : NULL;
	else
		check = &p.src;

	if (check && argus_policy(check, cfg_flags, p.frame_len, st) ==
			     ARGUS_VERDICT_DROP) {
		st->dropped++;
		return XDP_DROP;
	}
	st->passed++;
	if (p.has_l4) {
		/* Flows need the precise clock (inter-arrival times). */
		now = bpf_ktime_get_ns();
		argus_account_flow(ctx, &p, cfg, now, st);
	}
	return XDP_PASS;
}

/* No GPL-only helper is used; the license string matches the project's. */
char LICENSE[] SEC("license") = "Apache-2.0";
