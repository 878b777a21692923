/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consts.h - kernel-only constants of the Argus XDP program. Anything
 * userspace needs lives in argus_shared.h instead.
 */
#ifndef ARGUS_CONSTS_H
#define ARGUS_CONSTS_H

#include <linux/types.h>

/* EtherTypes (host byte order; compared after bpf_ntohs). */
#define ARGUS_ETH_P_IP 0x0800
#define ARGUS_ETH_P_IPV6 0x86DD
#define ARGUS_ETH_P_8021Q 0x8100
#define ARGUS_ETH_P_8021AD 0x88A8

/* IPv6 extension headers walked by the parser. */
#define ARGUS_IPV6_HOPOPTS 0
#define ARGUS_IPV6_ROUTING 43
#define ARGUS_IPV6_FRAGMENT 44
#define ARGUS_IPV6_AH 51
#define ARGUS_IPV6_DSTOPTS 60

/* IPv4 fragment offset mask (host byte order, after bpf_ntohs). */
#define ARGUS_IP_OFFSET_MASK 0x1FFF
/* IPv6 fragment offset mask within frag_off (host byte order). */
#define ARGUS_IP6_OFFSET_MASK 0xFFF8

/* ICMP echo types whose identifier keys the flow like a port. */
#define ARGUS_ICMP_ECHO_REPLY 0
#define ARGUS_ICMP_ECHO_REQUEST 8
#define ARGUS_ICMPV6_ECHO_REQUEST 128
#define ARGUS_ICMPV6_ECHO_REPLY 129

/* Every L4 header the parser reads is at least this long. */
#define ARGUS_ICMP_HDR_LEN 8
#define ARGUS_UDP_HDR_LEN 8
#define ARGUS_TCP_MIN_HDR_LEN 20

/* Inter-arrival times are clamped before squaring so the square of one
 * sample fits a u64 (UINT32_MAX us is ~71 minutes, far beyond any idle
 * timeout). */
#define ARGUS_IAT_CLAMP_US 0xFFFFFFFFULL

/* Bound of the compare-and-swap retry loops (min/max); losing more races
 * than this in a row leaves the extreme one packet stale, never wrong
 * by more than that packet. */
#define ARGUS_CAS_RETRIES 4

#endif /* ARGUS_CONSTS_H */
