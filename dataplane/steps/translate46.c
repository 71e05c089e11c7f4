/*
 * NAT64's family steps from IPv4 to IPv6 (RFC 7915 §4, stateful as RFC 6146 §3.5/§3.7 says):
 * an IPv4 packet to a mapping whose internal endpoint is IPv6 arrives there from the remote's
 * address under the mapping's Pref64 (RFC 6052 §2.2). Chosen by the burst driver after the
 * lookup (the mapping says which family the inside speaks), and by hairpin.c for a packet one
 * subscriber sent to another's external endpoint (RFC 6146 §3.8).
 *
 * Header replacement (§4.1): the IPv4 header (its options ignored, §4.1 "IPv4 options ... are
 * ignored") gives way to a 40-octet IPv6 header: the frame grows into the mbuf's headroom,
 * the Ethernet header moving with it. TOS becomes Traffic Class (or 0 with
 * nat64.reset_traffic_class), the flow label is 0, the TTL less one the hop limit, protocol 1
 * becomes 58.
 *
 * Transport checksums as translate64.c does it the other way: TCP and UDP by the change of
 * the pseudo-header's addresses and of the port; ICMP echo becomes ICMPv6 echo by its type
 * word, identifier, and the IPv6 pseudo-header added. An IPv4 UDP datagram without a checksum
 * gets one computed (RFC 6146 §3.4), or is dropped (nat64.udp_zero_checksum = "drop").
 *
 * Fragments (§4.1; RFC 6146 §3.4 through fragment.h): an IPv4 fragment becomes IPv6 with a
 * Fragment header, the first one through the steps (its transport checksum's change holds for
 * the whole datagram; one with a zero UDP checksum cannot be translated without the rest and
 * is dropped), later ones by cgn_translate46_fragment with the addresses their first one got.
 * ICMP in fragments from the outside arrives whole (reassemble.c: the ICMPv6 checksum needs
 * the whole message's length); from the inside (an IPv4 subscriber's, hairpinned) it is not
 * reassembled, and dropped here. A packet with DF clear whose IPv6 form is longer than the lesser of
 * nat64.lowest_ipv6_mtu and its link's MTU leaves in IPv6 fragments (mtu.c); with DF set and
 * too long for the inside it is refused with Fragmentation Needed (cgn_fits46_step).
 * Worker context.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_ip.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "cgn_rfc6052.h"
#include "cgn_rfc7915.h"

enum cgn_verdict
cgn_fits46_step(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu)
{
	/* An ICMP error is cut to 1280 octets as it is translated (cgn_xlat_error.h): it fits. */
	if (p->icmp_error)
		return CGN_CONTINUE;
	const struct rte_ipv4_hdr *ip4 = p->ip4;
	uint32_t ihl = (uint32_t)(ip4->version_ihl & 0x0f) * 4;
	uint32_t payload = rte_be_to_cpu_16(ip4->total_length) - ihl;
	bool df = (ip4->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) != 0;
	/* DF clear and too big: IPv6 fragments on the way out (mtu.c); DF set and too big for
	 * the inside once IPv6 (+ 8 with a Fragment header): §4.1's Fragmentation Needed, with
	 * the IPv4 MTU that fits the IPv6 link. */
	if (likely(cgn_rfc7915_frag6(df, p->frag != CGN_FRAG_NONE, payload, w->dp->cfg->nat64.lowest_ipv6_mtu, mtu) !=
		   CGN_RFC7915_FRAG6_TOO_BIG))
		return CGN_CONTINUE;
	return cgn_icmp_too_big(w, p, cgn_rfc7915_frag_needed_mtu(mtu));
}

/*
 * Writes the IPv6 header from src6 to dst6 with hop limit hop over the IPv4 header, and with
 * frag a Fragment header after it (§4.1: "Payload Length [...] plus 8", Next Header 44; the
 * Fragment header's Next Header the protocol (1 -> 58), offset and M copied, Identification
 * the IPv4 ID in its low 16 bits); the frame grows into the mbuf's headroom (or shrinks, with
 * long IPv4 options), the Ethernet header moving with it. Notes in p whether the packet may
 * leave in IPv6 fragments (DF clear) and with which identification. p->l3 and p->naf follow.
 * @return false when the mbuf has no headroom (not with the data plane's pools).
 */
static bool
replace_header(struct cgn_worker *w, struct cgn_pkt *p, uint8_t hop, const uint8_t src6[16], const uint8_t dst6[16],
	       bool frag)
{
	const struct cgn_config *cfg = w->dp->cfg;
	const struct rte_ipv4_hdr *ip4 = p->ip4;
	uint32_t ihl = (uint32_t)(ip4->version_ihl & 0x0f) * 4;
	uint16_t payload = (uint16_t)(rte_be_to_cpu_16(ip4->total_length) - ihl);
	uint8_t tos = ip4->type_of_service;
	uint8_t nh = ip4->next_proto_id == IPPROTO_ICMP ? IPPROTO_ICMPV6 : ip4->next_proto_id;
	uint16_t id = ip4->packet_id, fo = rte_be_to_cpu_16(ip4->fragment_offset);
	uint32_t hdrs = sizeof(struct rte_ipv6_hdr) + (frag ? CGN_IPV6_FRAG_HDR_LEN : 0);

	struct rte_mbuf *mb = p->m;
	uint8_t *frame = rte_pktmbuf_mtod(mb, uint8_t *);
	int32_t grow = (int32_t)hdrs - (int32_t)ihl;
	uint8_t *start = grow >= 0 ? (uint8_t *)rte_pktmbuf_prepend(mb, (uint16_t)grow)
				   : (uint8_t *)rte_pktmbuf_adj(mb, (uint16_t)-grow);
	if (unlikely(start == NULL))
		return false;
	memmove(start, frame, 2 * RTE_ETHER_ADDR_LEN);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)start;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);
	uint8_t tc = cgn_rfc7915_tc_4to6(tos, cfg->nat64.reset_traffic_class);
	ip6->vtc_flow = rte_cpu_to_be_32((uint32_t)CGN_IPV6_VERSION << 28 | (uint32_t)tc << 20);
	ip6->payload_len = rte_cpu_to_be_16((uint16_t)(payload + hdrs - sizeof(*ip6)));
	ip6->proto = frag ? IPPROTO_FRAGMENT : nh;
	ip6->hop_limits = hop;
	memcpy(ip6->src_addr, src6, 16);
	memcpy(ip6->dst_addr, dst6, 16);
	if (frag) {
		struct rte_ipv6_fragment_ext *fh = (struct rte_ipv6_fragment_ext *)(ip6 + 1);
		fh->next_header = nh;
		fh->reserved = 0;
		fh->frag_data = rte_cpu_to_be_16(
			(uint16_t)((fo & RTE_IPV4_HDR_OFFSET_MASK) << 3 | ((fo & RTE_IPV4_HDR_MF_FLAG) ? 1 : 0)));
		fh->id = rte_cpu_to_be_32(rte_be_to_cpu_16(id));
	}
	p->frag6_ok = !(fo & RTE_IPV4_HDR_DF_FLAG);
	p->ip4_id = id;
	p->l3 = ip6;
	p->naf = CGN_AF_IPV6;
	return true;
}

/* Translates an IPv4 packet (not an ICMP error) to the internal endpoint of m; decrements the
 * hop limit if ttl (a hairpinned packet's TTL went down when it was translated out). */
static enum cgn_verdict
translate(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *m, bool ttl)
{
	const struct cgn_config *cfg = w->dp->cfg;
	const struct rte_ipv4_hdr *ip4 = p->ip4;
	uint32_t ihl = (uint32_t)(ip4->version_ihl & 0x0f) * 4;
	uint16_t payload = (uint16_t)(rte_be_to_cpu_16(ip4->total_length) - ihl);
	uint8_t hop = (uint8_t)(ip4->time_to_live - (ttl ? 1 : 0));
	uint32_t src4 = ip4->src_addr, dst4 = ip4->dst_addr;
	uint8_t proto = p->proto;
	if (unlikely(ihl > sizeof(*ip4)) && cgn_rfc7915_source_route_unexpired((const uint8_t *)(ip4 + 1), ihl - sizeof(*ip4)))
		return cgn_icmp_reply(w, p, CGN_ICMP_DEST_UNREACH, CGN_ICMP_SOURCE_ROUTE_FAILED, CGN_DROP_NAT64_SOURCE_ROUTE);
	if (unlikely(p->frag != CGN_FRAG_NONE)) {
		/* A first fragment (fragment.h). Not ICMP (hairpinned from an IPv4 subscriber: the
		 * outside's are reassembled, reassemble.c): the ICMPv6 checksum covers a
		 * pseudo-header with the whole message's length, which no fragment tells. Not a
		 * datagram of an IPv6 subscriber hairpinned to another: its record would need two
		 * pairs of IPv6 addresses (fragment.h). */
		if (proto == IPPROTO_ICMP || p->af == CGN_AF_IPV6)
			return cgn_drop(w, p, CGN_DROP_NAT64_FRAGMENT);
	}

	/* §4.1: "Illegal source addresses ... (e.g., 0.0.0.0, 127.0.0.1, etc.)" should be dropped
	 * silently (an ICMP error's source is translated anyway: xlat_error.c). */
	uint8_t first = (uint8_t)(rte_be_to_cpu_32(src4) >> 24);
	if (unlikely(first == 0 || first == 127 || first >= 224))
		return cgn_drop(w, p, CGN_DROP_NAT64_ILLEGAL_SOURCE);

	/* The source under the mapping's Pref64 (RFC 6052 §2.2), unless §3.1 forbids it. */
	struct cgn_addr src6, v4 = cgn_addr_from_v4(src4);
	uint8_t pref = __atomic_load_n(&m->pref64, __ATOMIC_RELAXED); /* outbound() may change it */
	if (unlikely(!cgn_nat64_v4_allowed(cfg, pref, &v4)))
		return cgn_drop(w, p, CGN_DROP_NAT64_NON_GLOBAL);
	cgn_rfc6052_embed(&cfg->nat64.prefixes[pref], &v4, &src6);
	const struct cgn_addr *dst6 = &m->int_addr;

	uint8_t *l4 = p->l4;
	uint16_t port_new = rte_cpu_to_be_16(m->int_port);
	bool udp_sum = false; /* UDP without a checksum: computed once the header is written */
	if (proto == IPPROTO_ICMP) {
		uint16_t tw_old = cgn_ld16(l4), id_old = cgn_ld16(l4 + 4);
		l4[0] = l4[0] == CGN_ICMP_ECHO ? CGN_ICMP6_ECHO_REQUEST : CGN_ICMP6_ECHO_REPLY;
		memcpy(l4 + 4, &port_new, 2);
		uint32_t d = cgn_cksum_fold(cgn_cksum_pseudo6(src6.b, dst6->b, payload, IPPROTO_ICMPV6)) +
			     cgn_cksum_delta16(tw_old, cgn_ld16(l4)) + cgn_cksum_delta16(id_old, port_new);
		cgn_cks_apply((struct cgn_cks){ l4 + 2, false }, d);
	} else {
		uint16_t port_old = cgn_ld16(l4 + 2);
		memcpy(l4 + 2, &port_new, 2);
		if (proto == IPPROTO_UDP && cgn_ld16(l4 + 6) == 0) {
			/* RFC 6146 §3.4: computed, unless configured otherwise; a fragment's needs
			 * the whole datagram, which the NAT64 does not reassemble. */
			if (cfg->nat64.udp_zero_checksum_drop || p->frag != CGN_FRAG_NONE)
				return cgn_drop(w, p, CGN_DROP_NAT64_UDP_ZERO_CHECKSUM);
			udp_sum = true;
		} else {
			struct cgn_cks c = proto == IPPROTO_TCP ? (struct cgn_cks){ l4 + 16, false }
								: (struct cgn_cks){ l4 + 6, true };
			uint32_t old_pseudo = cgn_cksum_partial(&dst4, 4, cgn_cksum_partial(&src4, 4, 0));
			uint32_t new_pseudo = cgn_cksum_partial(dst6->b, 16, cgn_cksum_partial(src6.b, 16, 0));
			cgn_cks_apply(c, cgn_cksum_change(old_pseudo, new_pseudo) + cgn_cksum_delta16(port_old, port_new));
		}
	}

	/* The IPv6 header where the IPv4 one ends, with a Fragment header for a fragment. */
	if (unlikely(!replace_header(w, p, hop, src6.b, dst6->b, p->frag != CGN_FRAG_NONE)))
		return cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
	if (udp_sum) {
		uint16_t *ck = (uint16_t *)(l4 + 6);
		uint16_t sum = (uint16_t)~cgn_cksum_fold(
			cgn_cksum_partial(l4, payload, cgn_cksum_pseudo6(src6.b, dst6->b, payload, IPPROTO_UDP)));
		sum = sum == 0 ? 0xffff : sum;
		memcpy(ck, &sum, 2);
	}
	return CGN_CONTINUE;
}

enum cgn_verdict
cgn_translate46_fragment(struct cgn_worker *w, struct cgn_pkt *p, const uint8_t src6[16], const uint8_t dst6[16])
{
	/* No transport header here: the first fragment's carried the whole datagram's change. */
	if (unlikely(!replace_header(w, p, (uint8_t)(p->ip4->time_to_live - 1), src6, dst6, true)))
		return cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
	return CGN_CONTINUE;
}

enum cgn_verdict
cgn_translate46_in(struct cgn_worker *w, struct cgn_pkt *p)
{
	if (unlikely(p->icmp_error))
		return cgn_xlat46_error(w, p);
	return translate(w, p, p->map, true);
}

enum cgn_verdict
cgn_translate46_hairpin(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *peer)
{
	return translate(w, p, peer, false);
}
