/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.h - bounded packet parser of the Argus XDP program.
 *
 * Every read is preceded by a check against data_end; every loop has a
 * compile-time bound. The parser never decides a verdict: it reports how far
 * it got, and the program applies policy whenever the L3 addresses were read
 * (a truncated TCP header from a banned source is still dropped).
 */
#ifndef ARGUS_PARSE_H
#define ARGUS_PARSE_H

#include <linux/bpf.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "argus_shared.h"
#include "consts.h"

/* An address as the program handles it: 16 bytes, network byte order,
 * IPv4 as IPv4-mapped IPv6. The wider views make copies and comparisons a
 * few word operations. */
union argus_addr {
	__u8 b[16];
	__u32 w32[4];
	__u64 w64[2];
};

/* What the parser learned about one packet. */
struct argus_pkt {
	union argus_addr src;
	union argus_addr dst;
	/* ctx->data_end - ctx->data. */
	__u32 frame_len;
	/* IP packet length (header + payload) bounded by the frame. */
	__u32 ip_len;
	/* Offset of the L4 payload from ctx->data (valid if has_l4). */
	__u32 payload_off;
	/* L4 payload bytes present in the frame, bounded by the IP length so
	 * Ethernet padding of short frames never counts as payload. */
	__u32 payload_len;
	/* Network byte order; 0 for protocols without ports. */
	__u16 sport;
	__u16 dport;
	__u8 proto;
	/* TCP flags byte (FIN..CWR), 0 for other protocols. */
	__u8 tcp_flags;
	/* ICMP/ICMPv6 type and code, 0 for other protocols. */
	__u8 icmp_type;
	__u8 icmp_code;
	/* The packet can be keyed as a flow (L4 header complete, not a
	 * non-first fragment). */
	__u8 has_l4;
	/* A non-first IP fragment. */
	__u8 fragment;
	/* Headers ended early or were malformed. */
	__u8 failed;
};

/* How far argus_parse() got. */
enum argus_parse_result {
	/* Not IPv4/IPv6: passed untouched. */
	ARGUS_PARSE_NON_IP = 0,
	/* IPv4/IPv6 EtherType but the L3 header is unusable (pkt->failed). */
	ARGUS_PARSE_NO_L3 = 1,
	/* src and dst are valid; has_l4 / fragment / failed tell the rest. */
	ARGUS_PARSE_L3 = 2,
};

struct argus_vlan_hdr {
	__be16 tci;
	__be16 encapsulated_proto;
};

/* Common prefix of hop-by-hop, routing, destination-options and AH. */
struct argus_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct argus_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 identification;
};

/* Fixed 8-byte header shared by ICMP and ICMPv6 (echo layout). */
struct argus_icmp_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be16 id;
	__be16 sequence;
};

static __always_inline __u32 argus_min_u32(__u32 a, __u32 b)
{
	return a < b ? a : b;
}

/* Parses the L4 header at l4 (offset l4_off) of protocol p->proto.
 * ip_end_off is the end of the IP packet (already bounded by the frame). */
static __always_inline void argus_parse_l4(struct argus_pkt *p, void *l4,
					   void *data_end, __u32 l4_off,
					   __u32 ip_end_off, int is_v6)
{
	__u32 hdr_len;

	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end) {
			p->failed = 1;
			return;
		}
		hdr_len = th->doff * 4;
		if (hdr_len < ARGUS_TCP_MIN_HDR_LEN) {
			p->failed = 1;
			return;
		}
		p->sport = th->source;
		p->dport = th->dest;
		/* Byte 13 of the TCP header holds FIN..CWR. */
		p->tcp_flags = ((__u8 *)th)[13];
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end) {
			p->failed = 1;
			return;
		}
		hdr_len = ARGUS_UDP_HDR_LEN;
		p->sport = uh->source;
		p->dport = uh->dest;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		struct argus_icmp_hdr *ih = l4;
		__u8 req, rep;

		if ((void *)(ih + 1) > data_end) {
			p->failed = 1;
			return;
		}
		hdr_len = ARGUS_ICMP_HDR_LEN;
		p->icmp_type = ih->type;
		p->icmp_code = ih->code;
		req = is_v6 ? ARGUS_ICMPV6_ECHO_REQUEST : ARGUS_ICMP_ECHO_REQUEST;
		rep = is_v6 ? ARGUS_ICMPV6_ECHO_REPLY : ARGUS_ICMP_ECHO_REPLY;
		/* Request and reply carry the same identifier: using it as
		 * both ports merges them into one flow. */
		if (ih->type == req || ih->type == rep) {
			p->sport = ih->id;
			p->dport = ih->id;
		}
		break;
	}
	default:
		/* Port-less protocol (GRE, ESP, ...): keyed by addresses and
		 * protocol; everything after the L3 header is payload. */
		hdr_len = 0;
		break;
	}

	if (l4_off + hdr_len > ip_end_off) {
		/* The L4 header claims more than the IP packet holds. */
		p->failed = 1;
		return;
	}
	p->payload_off = l4_off + hdr_len;
	p->payload_len = ip_end_off - p->payload_off;
	p->has_l4 = 1;
}

static __always_inline int argus_parse_ipv4(struct argus_pkt *p, void *data,
					    void *l3, void *data_end)
{
	struct iphdr *ip = l3;
	__u32 ihl, tot_len, l3_off, ip_end_off;

	if ((void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5) {
		p->failed = 1;
		return ARGUS_PARSE_NO_L3;
	}
	p->src.w64[0] = 0;
	p->src.w32[2] = bpf_htonl(0x0000FFFF);
	p->src.w32[3] = ip->saddr;
	p->dst.w64[0] = 0;
	p->dst.w32[2] = bpf_htonl(0x0000FFFF);
	p->dst.w32[3] = ip->daddr;
	p->proto = ip->protocol;

	ihl = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (l3 + ihl > data_end || tot_len < ihl) {
		/* Options cut off or a length shorter than the header. */
		p->failed = 1;
		return ARGUS_PARSE_L3;
	}
	if (bpf_ntohs(ip->frag_off) & ARGUS_IP_OFFSET_MASK) {
		p->fragment = 1;
		return ARGUS_PARSE_L3;
	}
	l3_off = l3 - data;
	ip_end_off = argus_min_u32(l3_off + tot_len, p->frame_len);
	p->ip_len = ip_end_off - l3_off;
	argus_parse_l4(p, l3 + ihl, data_end, l3_off + ihl, ip_end_off, 0);
	return ARGUS_PARSE_L3;
}

static __always_inline int argus_parse_ipv6(struct argus_pkt *p, void *data,
					    void *l3, void *data_end)
{
	struct ipv6hdr *ip6 = l3;
	void *pos;
	__u32 l3_off, ip_end_off, plen;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6 + 1) > data_end || ip6->version != 6) {
		p->failed = 1;
		return ARGUS_PARSE_NO_L3;
	}
	__builtin_memcpy(p->src.b, &ip6->saddr, 16);
	__builtin_memcpy(p->dst.b, &ip6->daddr, 16);

	l3_off = l3 - data;
	plen = bpf_ntohs(ip6->payload_len);
	/* payload_len 0 is a jumbogram (or garbage): trust the frame. */
	ip_end_off = plen ? argus_min_u32(l3_off + sizeof(*ip6) + plen,
					  p->frame_len)
			  : p->frame_len;
	p->ip_len = ip_end_off - l3_off;
	nexthdr = ip6->nexthdr;
	pos = ip6 + 1;

#pragma unroll
	for (i = 0; i < ARGUS_MAX_IPV6_EXT_HDRS; i++) {
		switch (nexthdr) {
		case ARGUS_IPV6_HOPOPTS:
		case ARGUS_IPV6_ROUTING:
		case ARGUS_IPV6_DSTOPTS:
		case ARGUS_IPV6_AH: {
			struct argus_ipv6_opt_hdr *oh = pos;

			if ((void *)(oh + 1) > data_end) {
				p->failed = 1;
				return ARGUS_PARSE_L3;
			}
			/* AH counts 4-byte units minus 2, the others 8-byte
			 * units minus 1. */
			if (nexthdr == ARGUS_IPV6_AH)
				pos += ((__u32)oh->hdrlen + 2) << 2;
			else
				pos += ((__u32)oh->hdrlen + 1) << 3;
			nexthdr = oh->nexthdr;
			break;
		}
		case ARGUS_IPV6_FRAGMENT: {
			struct argus_ipv6_frag_hdr *fh = pos;

			if ((void *)(fh + 1) > data_end) {
				p->failed = 1;
				return ARGUS_PARSE_L3;
			}
			if (bpf_ntohs(fh->frag_off) & ARGUS_IP6_OFFSET_MASK) {
				p->fragment = 1;
				p->proto = fh->nexthdr;
				return ARGUS_PARSE_L3;
			}
			nexthdr = fh->nexthdr;
			pos = fh + 1;
			break;
		}
		default:
			goto l4;
		}
	}
	/* Still an extension header after the bound. */
	switch (nexthdr) {
	case ARGUS_IPV6_HOPOPTS:
	case ARGUS_IPV6_ROUTING:
	case ARGUS_IPV6_DSTOPTS:
	case ARGUS_IPV6_AH:
	case ARGUS_IPV6_FRAGMENT:
		p->failed = 1;
		return ARGUS_PARSE_L3;
	default:
		break;
	}
l4:
	p->proto = nexthdr;
	argus_parse_l4(p, pos, data_end, pos - data, ip_end_off, 1);
	return ARGUS_PARSE_L3;
}

/* Parses Ethernet, up to ARGUS_MAX_VLAN_TAGS VLAN tags, IPv4/IPv6 and the
 * L4 header into *p (which must be zeroed by the caller). */
static __always_inline int argus_parse(struct xdp_md *ctx, struct argus_pkt *p)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *pos;
	__be16 proto;
	int i;

	p->frame_len = data_end - data;
	if ((void *)(eth + 1) > data_end) {
		p->failed = 1;
		return ARGUS_PARSE_NO_L3;
	}
	proto = eth->h_proto;
	pos = eth + 1;

#pragma unroll
	for (i = 0; i < ARGUS_MAX_VLAN_TAGS; i++) {
		struct argus_vlan_hdr *vh = pos;

		if (proto != bpf_htons(ARGUS_ETH_P_8021Q) &&
		    proto != bpf_htons(ARGUS_ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end) {
			p->failed = 1;
			return ARGUS_PARSE_NO_L3;
		}
		proto = vh->encapsulated_proto;
		pos = vh + 1;
	}

	if (proto == bpf_htons(ARGUS_ETH_P_IP))
		return argus_parse_ipv4(p, data, pos, data_end);
	if (proto == bpf_htons(ARGUS_ETH_P_IPV6))
		return argus_parse_ipv6(p, data, pos, data_end);
	if (proto == bpf_htons(ARGUS_ETH_P_8021Q) ||
	    proto == bpf_htons(ARGUS_ETH_P_8021AD)) {
		/* More tags than we walk: we cannot find the L3 header. */
		p->failed = 1;
		return ARGUS_PARSE_NO_L3;
	}
	return ARGUS_PARSE_NON_IP;
}

#endif /* ARGUS_PARSE_H */
