/*
 * ICMPv6 errors the CGN originates itself (RFC 4443 §2.4, §3.1-§3.4): Destination
 * Unreachable, Packet Too Big (with the next hop's MTU), Time Exceeded and Parameter Problem
 * (with its pointer), each quoting as much of the offending packet as fits in the IPv6
 * minimum MTU of 1280 octets (§2.4(c)); and the §2.4(e) rules on when no error may be sent,
 * as a predicate the caller asks first. The ICMPv6 checksum over the IPv6 pseudo-header
 * (RFC 8200 §8.1) lives here too, for nd.c and for the pipeline.
 *
 * Self-contained: works on bytes (an IPv6 packet from its header, or an Ethernet frame) and
 * on an mbuf it allocates; knows nothing of the pipeline's per-packet context. Rate limiting
 * (§2.4(f)) is the caller's: ask cgn_icmp6_error_allowed(), then the token bucket, then
 * build. Pure functions and one allocation from a mempool: any thread (the mempool's own
 * rules apply: a worker uses its per-lcore cache).
 */
#ifndef CGN_ICMP6_H
#define CGN_ICMP6_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "cgn_addr.h"
#include "cgn_proto.h"

/* The most of the offending packet an error quotes: the error, IPv6 header included, is at
 * most the minimum MTU (RFC 4443 §2.4(c)). */
#define CGN_ICMP6_ERROR_QUOTE_MAX (CGN_IPV6_MIN_MTU - CGN_IPV6_HDR_LEN - CGN_ICMP6_HDR_LEN) /* 1232 */
/* The hop limit of the errors: the IANA default (64) every originated packet gets, as the
 * IPv4 errors' TTL in icmp.c; 255 is ND's "not forwarded" mark, meaningless for an error
 * that must cross routers to reach the offending packet's source. */
#define CGN_ICMP6_ERROR_HOP_LIMIT 64

/**
 * The ICMPv6 checksum (RFC 4443 §2.3) of an upper-layer message, over the pseudo-header of
 * RFC 8200 §8.1: source and destination from the IPv6 header at ip6, the message's length,
 * Next Header 58.
 * @param ip6 an IPv6 header (40 octets readable); only its addresses are read.
 * @param icmp the ICMPv6 message, its checksum field as it lies (zero it to compute one; a
 *        message whose checksum is right sums to 0 with it in place).
 * @param len the message's length in octets.
 * @return the checksum in network order, as it would lie in the packet; 0 if icmp already
 *         holds a correct checksum.
 * Any thread.
 */
uint16_t cgn_icmp6_cksum(const uint8_t *ip6, const void *icmp, size_t len);

/** @return true if a is an IPv6 multicast address (ff00::/8, RFC 4291 §2.7). */
static inline bool
cgn_ip6_is_multicast(const struct cgn_addr *a)
{
	return a->b[0] == 0xff;
}

/** @return true if a is :: (all zeros; unlike cgn_addr_is_unspecified(), ::ffff:0.0.0.0 is not). */
bool cgn_ip6_is_unspecified(const struct cgn_addr *a);

/**
 * RFC 4443 §2.4(e): may an error of this type and code be originated about this packet?
 * False for (e.1) an ICMPv6 error or (e.2) a Redirect, (e.3) a packet to a multicast
 * address, (e.4/e.5) one sent to a link-layer multicast or broadcast address -- both
 * except Packet Too Big and Parameter Problem code 2 whose pointer designates an option
 * type with its two high-order bits 10 (RFC 8200 §4.2) --, and (e.6) a packet whose source
 * does not identify one node: ::, multicast, ::1 (never on a wire, RFC 4291 §2.5.3) or a
 * reserved subnet anycast address (RFC 2526 §2: interface identifier
 * fdff:ffff:ffff:ff80-ffff). False also for what is not an IPv6 header (len < 40, version
 * not 6), and when the packet is ICMPv6 but its type lies beyond len (it may be an error).
 * The caller walks the extension headers (RFC 8200 §4) and says where they ended.
 * @param ip6 the offending packet from its IPv6 header (not the Ethernet header); read only.
 * @param len octets readable at ip6.
 * @param l2_dst the Ethernet destination the packet arrived with, or NULL if not known (then
 *        only the IPv6 destination is checked).
 * @param upper_proto the Next Header value where the walk stopped: 58 for ICMPv6, or the
 *        protocol of a non-first fragment's fragment header, etc.
 * @param upper_off offset from ip6 of the upper-layer header (the ICMPv6 type octet when
 *        upper_proto is 58); may be >= len.
 * @param type, code the error the caller means to send (CGN_ICMP6_*).
 * @param param its 32-bit parameter, host order: the pointer, for Parameter Problem.
 * Any thread.
 */
bool cgn_icmp6_error_allowed(const uint8_t *ip6, size_t len, const struct rte_ether_addr *l2_dst,
			     uint8_t upper_proto, size_t upper_off, uint8_t type, uint8_t code, uint32_t param);

/**
 * The octets of the error cgn_icmp6_error_write() writes for an offending packet of len
 * octets: Ethernet + IPv6 + ICMPv6 header + the quote (the packet up to its IPv6 payload
 * length, at most CGN_ICMP6_ERROR_QUOTE_MAX), or 0 if ip6/len is not an IPv6 packet
 * (len < 40 or version not 6).
 */
size_t cgn_icmp6_error_len(const uint8_t *ip6, size_t len);

/**
 * Writes an ICMPv6 error into buf: Ethernet (src_mac → dst_mac, IPv6), IPv6 (hop limit
 * CGN_ICMP6_ERROR_HOP_LIMIT, traffic class and flow label 0, from src to the offending
 * packet's source), ICMPv6 (type, code, checksum, param in the second word in network
 * order: the MTU for Packet Too Big (§3.2), the pointer for Parameter Problem (§3.4), 0
 * otherwise (§3.1, §3.3 "Unused")), then as much of the offending packet as fits in 1280
 * octets of IPv6 packet (§2.4(c)); octets beyond its IPv6 payload length (Ethernet padding)
 * are not quoted. Checks nothing of §2.4(e): see cgn_icmp6_error_allowed().
 * @param buf where to write, cap octets; the caller owns it.
 * @param ip6 the offending packet from its IPv6 header, len octets readable; read only, may
 *        not overlap buf.
 * @param src the error's IPv6 source (RFC 4443 §2.2: the address the packet was sent to if
 *        it was one of ours, else one of the port's unicast addresses).
 * @param type an error type (< 128).
 * @return the frame's length, or -EINVAL (not an IPv6 packet, or type >= 128), -ENOSPC
 *         (cap smaller than cgn_icmp6_error_len()).
 * Any thread.
 */
int cgn_icmp6_error_write(uint8_t *buf, size_t cap, const struct rte_ether_addr *src_mac,
			  const struct rte_ether_addr *dst_mac, const struct cgn_addr *src, const uint8_t *ip6,
			  size_t len, uint8_t type, uint8_t code, uint32_t param);

/**
 * The same error in a new single-segment mbuf from mp (cgn_icmp6_error_write()); port and
 * offload fields are left for the caller (l2_len and l3_len are set).
 * @return the mbuf, owned by the caller; or NULL with rte_errno EINVAL (as above), ENOMEM
 *         (mp is empty) or ENOSPC (mp's buffers are too small for the error: up to 1294
 *         octets of frame).
 * Any thread that may allocate from mp.
 */
struct rte_mbuf *cgn_icmp6_error_build(struct rte_mempool *mp, const struct rte_ether_addr *src_mac,
				       const struct rte_ether_addr *dst_mac, const struct cgn_addr *src,
				       const uint8_t *ip6, size_t len, uint8_t type, uint8_t code, uint32_t param);

#endif /* CGN_ICMP6_H */
