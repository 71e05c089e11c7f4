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
 * Fragments (§5.1.1; RFC 6146 §3.4 through fragment.h): the Fragment header is the last
 * extension header (classify64 drops the packet otherwise) and goes with the rest; the IPv4
 * identification is its Identification's low 16 bits, MF its M flag, the offset copied, DF
 * clear; the Total Length what follows it, plus 20. The first fragment is translated like a
 * whole packet otherwise (its transport checksum's change holds for the whole datagram: only
 * the pseudo-header's addresses and the port change); later ones get the header alone
 * (cgn_translate64_fragment). An atomic fragment (offset 0, M clear) is a whole packet (RFC
 * 6946, RFC 8021): classify does not call it a fragment, and its Identification is not kept.
 * ICMPv6 in fragments arrives here whole (reassemble.c: its checksum needs the whole
 * message's length) and leaves with DF clear, the worker's identification, and in IPv4
 * fragments when it is longer than the outside link's MTU (mtu.c).
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
	if (likely(len4 <= mtu) || !cgn_rfc7915_df_6to4(len4, p->frag != CGN_FRAG_NONE || p->reassembled))
		return CGN_CONTINUE; /* fits, or leaves in IPv4 fragments (DF clear: mtu.c) */
	/* Too big with DF: Packet Too Big with the IPv6 MTU that makes it fit, at least 1280
	 * (RFC 8201 §4: a smaller one is discarded by the sender). */
	uint32_t ptb = (uint32_t)mtu + CGN_RFC7915_HDR_DIFF;
	if (ptb < CGN_IPV6_MIN_MTU)
		ptb = CGN_IPV6_MIN_MTU;
	return cgn_icmp6_reply(w, p, CGN_ICMP6_PACKET_TOO_BIG, 0, ptb, CGN_DROP_TOO_BIG);
}

/* What the IPv4 header takes from the IPv6 one (and its Fragment header), read before the
 * IPv4 header is written over them. */
struct ip4_fields {
	uint8_t tos, ttl;
	uint16_t id;   /* network order */
	uint16_t frag; /* flags and offset, network order; DF decided by the caller for a whole packet */
};

/* §5.1.1: the identification's low 16 bits, MF = M, the offset, DF clear, from the Fragment
 * header just before p->l4. */
static inline void
fields_of_fragment(const struct cgn_pkt *p, struct ip4_fields *f)
{
	const uint8_t *fh = p->l4 - CGN_IPV6_FRAG_HDR_LEN;
	uint16_t fo_m = cgn_rd16(fh + 2);
	f->id = cgn_ld16(fh + 6);
	f->frag = rte_cpu_to_be_16((uint16_t)(RTE_IPV6_GET_FO(fo_m) | (RTE_IPV6_GET_MF(fo_m) ? RTE_IPV4_HDR_MF_FLAG : 0)));
}

/* Writes the IPv4 header just before the transport header (a later fragment's data), over the
 * IPv6 one and its extension headers, the Ethernet header moved before it; p->l3 follows. */
static void
replace_header(struct cgn_worker *w, struct cgn_pkt *p, const struct ip4_fields *f, uint8_t proto, uint32_t src,
	       uint32_t dst)
{
	const struct cgn_nat64_cfg *n64 = &w->dp->cfg->nat64;
	struct rte_mbuf *mb = p->m;
	uint8_t *frame = rte_pktmbuf_mtod(mb, uint8_t *);
	struct rte_ipv4_hdr *ip4 = (struct rte_ipv4_hdr *)(p->l4 - sizeof(struct rte_ipv4_hdr));
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)((uint8_t *)ip4 - sizeof(struct rte_ether_hdr));
	memmove(eth, frame, 2 * RTE_ETHER_ADDR_LEN);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip4->version_ihl = RTE_IPV4_VHL_DEF;
	ip4->type_of_service = cgn_rfc7915_tos_6to4(f->tos, n64->reset_tos, n64->new_tos);
	ip4->total_length = rte_cpu_to_be_16((uint16_t)(p->l4_len + sizeof(*ip4)));
	ip4->packet_id = f->id;
	ip4->fragment_offset = f->frag;
	ip4->time_to_live = f->ttl;
	ip4->next_proto_id = proto;
	ip4->src_addr = src;
	ip4->dst_addr = dst;
	ip4->hdr_checksum = 0;
	ip4->hdr_checksum = cgn_cksum(ip4, sizeof(*ip4)); /* a constant length: unrolled */
	rte_pktmbuf_adj(mb, (uint16_t)((uint8_t *)eth - frame));
	p->l3 = ip4;
}

void
cgn_translate64_fragment(struct cgn_worker *w, struct cgn_pkt *p, uint32_t src, uint32_t dst)
{
	struct ip4_fields f = { .tos = (uint8_t)(rte_be_to_cpu_32(p->ip6->vtc_flow) >> 20),
				.ttl = (uint8_t)(p->ip6->hop_limits - 1) };
	fields_of_fragment(p, &f);
	/* No transport header here: the first fragment's carried the whole datagram's change.
	 * p->proto is the Fragment header's Next Header, 58 already 1 (classify64). */
	replace_header(w, p, &f, p->proto, src, dst);
}

enum cgn_verdict
cgn_translate64_out(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_mapping *m = p->map;
	if (unlikely(p->icmp_error))
		return cgn_xlat64_error(w, p);

	/* What the IPv4 header needs, read before it is written over the IPv6 one. */
	const struct rte_ipv6_hdr *ip6 = p->ip6;
	uint32_t total = (uint32_t)p->l4_len + sizeof(struct rte_ipv4_hdr);
	struct ip4_fields f = { .tos = (uint8_t)(rte_be_to_cpu_32(ip6->vtc_flow) >> 20),
				.ttl = (uint8_t)(ip6->hop_limits - 1) };
	if (unlikely(p->frag != CGN_FRAG_NONE)) {
		fields_of_fragment(p, &f);
	} else {
		f.id = rte_cpu_to_be_16(w->ip_id++);
		/* Reassembled (reassemble.c): it came in fragments, so DF clear as §5.1.1 has it for
		 * each of them; mtu.c cuts it for the outside link. */
		f.frag = cgn_rfc7915_df_6to4(total, p->reassembled) ? rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG) : 0;
	}
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
		cgn_cks_apply(c, cgn_cksum_change(old_pseudo, new_pseudo) + cgn_cksum_delta16(port_old, port_new));
	}

	replace_header(w, p, &f, proto, ext, dst);
	return CGN_CONTINUE;
}
