/*
 * NAT64's family steps from IPv6 to IPv4 (RFC 7915 §5, stateful as RFC 6146 §3.5/§3.7 says):
 * an IPv6 packet of a subscriber to an address under a Pref64 leaves as IPv4 from its
 * mapping's external endpoint to the IPv4 address embedded in the destination (RFC 6052 §2.3,
 * extracted by classify6.c into p->remote).
 *
 * Header replacement (§5.1): the IPv6 header and the extension headers classify walked
 * (Hop-by-Hop, Destination Options, Routing with no segments left: "skip over") give way to a
 * 20-octet IPv4 header written in the same buffer just before the transport header; the
 * Ethernet header moves with it. Traffic Class becomes TOS (or nat64.new_tos), the hop limit
 * the TTL less one, Next Header 58 becomes 1; DF set only above 1260 octets; the
 * identification comes from the worker's counter.
 *
 * Transport checksums are updated, not recomputed (RFC 6146 §3.7 points at RFC 3022's
 * incremental method): TCP and UDP by the change of their pseudo-header's addresses (its
 * length and protocol words are equal in both families) and of the port; ICMPv6 echo becomes
 * ICMP echo by its type word, its identifier, and the whole IPv6 pseudo-header taken out
 * (ICMPv4 has none).
 * Worker context.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_ip.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "cgn_rfc7915.h"

enum cgn_verdict
cgn_hop6_step(struct cgn_worker *w, struct cgn_pkt *p)
{
	if (likely(p->ip6->hop_limits > 1))
		return CGN_CONTINUE;
	/* RFC 7915 §5.1: "the packet MUST be dropped, and the translator MUST send an ICMPv6
	 * 'Hop Limit Exceeded' error" (RFC 4443 §3.3, code 0). */
	return cgn_icmp6_reply(w, p, CGN_ICMP6_TIME_EXCEEDED, CGN_ICMP6_HOP_LIMIT_EXCEEDED, 0, CGN_DROP_TTL_EXPIRED);
}

enum cgn_verdict
cgn_fits64_step(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu)
{
	uint32_t len4 = (uint32_t)p->l4_len + sizeof(struct rte_ipv4_hdr);
	if (likely(len4 <= mtu) || !cgn_rfc7915_df_6to4(len4, p->frag != CGN_FRAG_NONE))
		return CGN_CONTINUE; /* fits, or leaves in IPv4 fragments (DF clear: mtu.c) */
	/* Too big with DF: Packet Too Big with the IPv6 MTU that makes it fit, at least 1280
	 * (RFC 8201 §4: a smaller one is discarded by the sender). */
	uint32_t ptb = (uint32_t)mtu + CGN_RFC7915_HDR_DIFF;
	if (ptb < CGN_IPV6_MIN_MTU)
		ptb = CGN_IPV6_MIN_MTU;
	return cgn_icmp6_reply(w, p, CGN_ICMP6_PACKET_TOO_BIG, 0, ptb, CGN_DROP_TOO_BIG);
}

/* The one's-complement change from the sum old to the sum new (both unfolded). */
static inline uint32_t
sum_change(uint32_t old, uint32_t new_)
{
	return (uint32_t)(uint16_t)~cgn_cksum_fold(old) + cgn_cksum_fold(new_);
}

enum cgn_verdict
cgn_translate64_out(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_nat64_cfg *n64 = &w->dp->cfg->nat64;
	const struct cgn_mapping *m = p->map;
	if (unlikely(p->icmp_error))
		return cgn_xlat64_error(w, p);

	/* What the IPv4 header needs, read before it is written over the IPv6 one. */
	const struct rte_ipv6_hdr *ip6 = p->ip6;
	uint8_t tc = (uint8_t)(rte_be_to_cpu_32(ip6->vtc_flow) >> 20);
	uint8_t hop = ip6->hop_limits;
	uint32_t ext = m->ext_addr, dst = p->remote;
	uint32_t old_pseudo = cgn_cksum_partial(ip6->src_addr, 32, 0);
	uint8_t *l4 = p->l4;
	uint16_t len = p->l4_len;

	/* The transport header: port (or echo identifier) and checksum. */
	uint16_t port_new = rte_cpu_to_be_16(m->ext_port);
	uint8_t proto = p->proto;
	if (proto == IPPROTO_ICMP) {
		/* ICMPv6 echo -> ICMP echo (§5.2): 128 -> 8, 129 -> 0; the ICMPv6 pseudo-header
		 * leaves the sum. */
		uint16_t tw_old = cgn_ld16(l4), id_old = cgn_ld16(l4 + 4);
		l4[0] = l4[0] == CGN_ICMP6_ECHO_REQUEST ? CGN_ICMP_ECHO : CGN_ICMP_ECHO_REPLY;
		memcpy(l4 + 4, &port_new, 2);
		uint32_t pseudo = cgn_cksum_pseudo6(ip6->src_addr, ip6->dst_addr, len, IPPROTO_ICMPV6);
		uint32_t d = (uint32_t)(uint16_t)~cgn_cksum_fold(pseudo) + cgn_cksum_delta16(tw_old, cgn_ld16(l4)) +
			     cgn_cksum_delta16(id_old, port_new);
		cgn_cks_apply((struct cgn_cks){ l4 + 2, false }, d);
	} else {
		struct cgn_cks c = proto == IPPROTO_TCP ? (struct cgn_cks){ l4 + 16, false } : (struct cgn_cks){ l4 + 6, true };
		/* RFC 8200 §8.1: an IPv6 UDP checksum is never zero; there is nothing to update. */
		if (unlikely(proto == IPPROTO_UDP && cgn_ld16(l4 + 6) == 0))
			return cgn_drop(w, p, CGN_DROP_NAT64_UDP_ZERO_CHECKSUM);
		uint32_t new_pseudo = cgn_cksum_partial(&dst, 4, cgn_cksum_partial(&ext, 4, 0));
		uint16_t port_old = cgn_ld16(l4);
		memcpy(l4, &port_new, 2);
		cgn_cks_apply(c, sum_change(old_pseudo, new_pseudo) + cgn_cksum_delta16(port_old, port_new));
	}

	/* The IPv4 header just before the transport header; the Ethernet header before it. */
	struct rte_mbuf *mb = p->m;
	uint8_t *frame = rte_pktmbuf_mtod(mb, uint8_t *);
	struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)(l4 - sizeof(struct rte_ipv4_hdr));
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)((uint8_t *)ip4 - sizeof(struct rte_ether_hdr));
	memmove(eth, frame, 2 * RTE_ETHER_ADDR_LEN);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	uint32_t total = (uint32_t)len + sizeof(*ip4);
	ip4->version_ihl = RTE_IPV4_VHL_DEF;
	ip4->type_of_service = cgn_rfc7915_tos_6to4(tc, n64->reset_tos, n64->new_tos);
	ip4->total_length = rte_cpu_to_be_16((uint16_t)total);
	ip4->packet_id = rte_cpu_to_be_16(w->ip_id++);
	ip4->fragment_offset = cgn_rfc7915_df_6to4(total, false) ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
	ip4->time_to_live = (uint8_t)(hop - 1);
	ip4->next_proto_id = proto;
	ip4->src_addr = ext;
	ip4->dst_addr = dst;
	ip4->hdr_checksum = 0;
	ip4->hdr_checksum = cgn_cksum(ip4, sizeof(*ip4)); /* a constant length: unrolled */
	rte_pktmbuf_adj(mb, (uint16_t)((uint8_t *)eth - frame));
	p->l3 = ip4;
	return CGN_CONTINUE;
}
