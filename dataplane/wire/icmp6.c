/*
 * ICMPv6 errors the CGN originates (RFC 4443 §2.4, §3.1-§3.4): the §2.4(e) predicate, the
 * writer of the error frame, its mbuf wrapper, and the pseudo-header checksum. See icmp6.h
 * for the contracts. Pure functions on caller-owned bytes, one mbuf allocation: any thread.
 */
#include <errno.h>
#include <string.h>

#include <rte_errno.h>

#include "cgn_cksum.h"
#include "icmp6.h"

/* Offsets in the IPv6 header (RFC 8200 §3). */
#define IP6_OFF_PLEN 4
#define IP6_OFF_NEXT 6
#define IP6_OFF_HOPS 7
#define IP6_OFF_SRC 8
#define IP6_OFF_DST 24

static inline uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint16_t
cgn_icmp6_cksum(const uint8_t *ip6, const void *icmp, size_t len)
{
	/* RFC 8200 §8.1's pseudo-header (source, destination, length, Next Header), then the message. */
	uint32_t sum = cgn_cksum_pseudo6(ip6 + IP6_OFF_SRC, ip6 + IP6_OFF_DST, (uint32_t)len, IPPROTO_ICMPV6);
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(icmp, len, cgn_cksum_fold(sum)));
}

bool
cgn_ip6_is_unspecified(const struct cgn_addr *a)
{
	static const struct cgn_addr zero;
	return cgn_addr_eq(a, &zero);
}

/* (e.6): a source that does not name one node. */
static bool
source_not_one_node(const struct cgn_addr *s)
{
	static const struct cgn_addr loopback = { .b = { [15] = 1 } };
	if (cgn_ip6_is_unspecified(s) || cgn_ip6_is_multicast(s) || cgn_addr_eq(s, &loopback))
		return true;
	/* RFC 2526 §2: the reserved subnet anycast addresses of a prefix with 64-bit EUI-64
	 * interface identifiers are fdff:ffff:ffff:ff80 .. fdff:ffff:ffff:ffff (the u bit 0). */
	static const uint8_t anycast_iid[7] = { 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	return memcmp(&s->b[8], anycast_iid, sizeof(anycast_iid)) == 0 && s->b[15] >= 0x80;
}

bool
cgn_icmp6_error_allowed(const uint8_t *ip6, size_t len, const struct rte_ether_addr *l2_dst,
			uint8_t upper_proto, size_t upper_off, uint8_t type, uint8_t code, uint32_t param)
{
	if (len < CGN_IPV6_HDR_LEN || ip6[0] >> 4 != 6)
		return false;
	struct cgn_addr src, dst;
	memcpy(src.b, ip6 + IP6_OFF_SRC, 16);
	memcpy(dst.b, ip6 + IP6_OFF_DST, 16);
	if (source_not_one_node(&src))
		return false; /* (e.6) */
	if (upper_proto == IPPROTO_ICMPV6) {
		if (upper_off >= len)
			return false; /* its type is not in hand: it may be an error */
		uint8_t t = ip6[upper_off];
		if (cgn_icmp6_is_error(t) || t == CGN_ND_REDIRECT)
			return false; /* (e.1), (e.2) */
	}
	if (cgn_ip6_is_multicast(&dst) || (l2_dst != NULL && rte_is_multicast_ether_addr(l2_dst))) {
		/* (e.3)-(e.5), broadcast being a multicast Ethernet address too; their exceptions:
		 * Packet Too Big, and Parameter Problem code 2 about an option whose type's two
		 * high-order bits are 10 (RFC 8200 §4.2: "regardless of whether or not the
		 * packet's Destination Address was a multicast address"). */
		if (type == CGN_ICMP6_PACKET_TOO_BIG)
			return true;
		return type == CGN_ICMP6_PARAM_PROB && code == CGN_ICMP6_UNRECOGNIZED_OPT && param < len &&
		       (ip6[param] & 0xc0) == 0x80;
	}
	return true;
}

/* The octets of the offending packet the error quotes. */
static size_t
quote_len(const uint8_t *ip6, size_t len)
{
	size_t plen = rd16(ip6 + IP6_OFF_PLEN);
	/* Octets past the payload length are the link's padding, not the packet. A payload
	 * length of 0 is a jumbogram's (RFC 2675): everything in hand is the packet. */
	if (plen != 0 && CGN_IPV6_HDR_LEN + plen < len)
		len = CGN_IPV6_HDR_LEN + plen;
	return len < CGN_ICMP6_ERROR_QUOTE_MAX ? len : CGN_ICMP6_ERROR_QUOTE_MAX;
}

size_t
cgn_icmp6_error_len(const uint8_t *ip6, size_t len)
{
	if (len < CGN_IPV6_HDR_LEN || ip6[0] >> 4 != 6)
		return 0;
	return RTE_ETHER_HDR_LEN + CGN_IPV6_HDR_LEN + CGN_ICMP6_HDR_LEN + quote_len(ip6, len);
}

int
cgn_icmp6_error_write(uint8_t *buf, size_t cap, const struct rte_ether_addr *src_mac,
		      const struct rte_ether_addr *dst_mac, const struct cgn_addr *src, const uint8_t *ip6,
		      size_t len, uint8_t type, uint8_t code, uint32_t param)
{
	size_t total = cgn_icmp6_error_len(ip6, len);
	if (total == 0 || !cgn_icmp6_is_error(type))
		return -EINVAL;
	if (cap < total)
		return -ENOSPC;
	size_t quote = quote_len(ip6, len);
	size_t icmp_len = CGN_ICMP6_HDR_LEN + quote;

	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	eth->dst_addr = *dst_mac;
	eth->src_addr = *src_mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);

	uint8_t *ip = buf + RTE_ETHER_HDR_LEN;
	memset(ip, 0, 8);
	ip[0] = 6 << 4; /* version 6, traffic class 0, flow label 0 */
	ip[IP6_OFF_PLEN] = (uint8_t)(icmp_len >> 8);
	ip[IP6_OFF_PLEN + 1] = (uint8_t)icmp_len;
	ip[IP6_OFF_NEXT] = IPPROTO_ICMPV6;
	ip[IP6_OFF_HOPS] = CGN_ICMP6_ERROR_HOP_LIMIT;
	memcpy(ip + IP6_OFF_SRC, src->b, 16);
	memcpy(ip + IP6_OFF_DST, ip6 + IP6_OFF_SRC, 16); /* §3.1-§3.4: "Copied from the Source Address" */

	uint8_t *icmp = ip + CGN_IPV6_HDR_LEN;
	icmp[0] = type;
	icmp[1] = code;
	icmp[2] = icmp[3] = 0;
	icmp[4] = (uint8_t)(param >> 24);
	icmp[5] = (uint8_t)(param >> 16);
	icmp[6] = (uint8_t)(param >> 8);
	icmp[7] = (uint8_t)param;
	memcpy(icmp + CGN_ICMP6_HDR_LEN, ip6, quote);
	uint16_t c = cgn_icmp6_cksum(ip, icmp, icmp_len);
	memcpy(icmp + 2, &c, 2);
	return (int)total;
}

struct rte_mbuf *
cgn_icmp6_error_build(struct rte_mempool *mp, const struct rte_ether_addr *src_mac,
		      const struct rte_ether_addr *dst_mac, const struct cgn_addr *src, const uint8_t *ip6,
		      size_t len, uint8_t type, uint8_t code, uint32_t param)
{
	size_t total = cgn_icmp6_error_len(ip6, len);
	if (total == 0 || !cgn_icmp6_is_error(type)) {
		rte_errno = EINVAL;
		return NULL;
	}
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	if (m == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)total);
	if (buf == NULL) {
		rte_errno = ENOSPC;
		goto fail;
	}
	int n = cgn_icmp6_error_write(buf, total, src_mac, dst_mac, src, ip6, len, type, code, param);
	if (n < 0) { /* cannot happen: checked above, and the room is exact */
		rte_errno = -n;
		goto fail;
	}
	m->l2_len = RTE_ETHER_HDR_LEN;
	m->l3_len = CGN_IPV6_HDR_LEN;
	return m;
fail:
	rte_pktmbuf_free(m);
	return NULL;
}
