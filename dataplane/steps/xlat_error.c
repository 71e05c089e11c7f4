/*
 * NAT64's ICMP errors, both ways (RFC 7915 §4.2-§4.3 and §5.2-§5.3; RFC 6146 §3.5): the error
 * and the packet it quotes are translated together by common/cgn_xlat_error.h into a
 * buffer on the stack, which then replaces the frame's IP packet (the Ethernet header kept):
 *   6->4: an ICMPv6 error from the inside (the subscriber, or a router of its access network)
 *         about a packet the NAT64 sent in; it leaves from the mapping's external address;
 *   4->6: an ICMPv4 error from the outside about a packet the NAT64 sent out; it arrives from
 *         the router's address under the mapping's Pref64.
 * What the translator refuses is counted under NAT64_ICMP_ERROR and by its reason
 * (pkt.nat64_error[], telemetry pkt_nat64_error_*). Never answered with another error.
 * Worker context (slow path: a copy of at most 1280 octets).
 */
#include <string.h>

#include "cgn_dataplane.h"
#include "cgn_xlat_error.h"

/* Puts the translated packet (len octets of family af) in place of the frame's IP packet. */
static enum cgn_verdict
replace(struct cgn_worker *w, struct cgn_pkt *p, const uint8_t *pkt, size_t len, enum cgn_af af)
{
	struct rte_mbuf *m = p->m;
	uint32_t want = (uint32_t)(sizeof(struct rte_ether_hdr) + len), have = rte_pktmbuf_data_len(m);
	if (want > have ? rte_pktmbuf_append(m, (uint16_t)(want - have)) == NULL
			: rte_pktmbuf_trim(m, (uint16_t)(have - want)) != 0)
		return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->ether_type = rte_cpu_to_be_16(af == CGN_AF_IPV6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
	memcpy(eth + 1, pkt, len);
	p->l3 = eth + 1;
	p->naf = (uint8_t)af;
	return CGN_CONTINUE;
}

static enum cgn_verdict
refused(struct cgn_worker *w, struct cgn_pkt *p, int rc)
{
	unsigned r = (unsigned)-rc;
	w->pkt.nat64_error[r < CGN_XLAT_ERR_COUNT ? r : 0]++;
	return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
}

enum cgn_verdict
cgn_xlat64_error(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_dataplane *dp = w->dp;
	const struct cgn_nat64_cfg *n64 = &dp->cfg->nat64;
	const struct cgn_mapping *m = p->map;
	const struct cgn_xlat_err64 x = {
		.pref64 = &n64->prefixes[p->pref64],
		.int_addr = m->int_addr,
		.int_port = m->int_port,
		.ext_addr = m->ext_addr,
		.ext_port = m->ext_port,
		.mtu4_nexthop = dp->role_mtu[CGN_PORT_OUTSIDE],
		.mtu6_nexthop = dp->role_mtu[CGN_PORT_INSIDE],
		.ip_id = w->ip_id++,
		.reset_tos = n64->reset_tos,
		.new_tos = n64->new_tos,
	};
	uint8_t out[CGN_XLAT_ERR_MAX4];
	size_t len = 0;
	size_t in_len = sizeof(struct rte_ipv6_hdr) + rte_be_to_cpu_16(p->ip6->payload_len);
	int rc = cgn_xlat_error_6to4(p->l3, in_len, &x, out, sizeof(out), &len);
	if (rc < 0)
		return refused(w, p, rc);
	return replace(w, p, out, len, CGN_AF_IPV4);
}

enum cgn_verdict
cgn_xlat46_error(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_dataplane *dp = w->dp;
	const struct cgn_nat64_cfg *n64 = &dp->cfg->nat64;
	const struct cgn_mapping *m = p->map;
	const struct cgn_xlat_err46 x = {
		.pref64 = &n64->prefixes[__atomic_load_n(&m->pref64, __ATOMIC_RELAXED)],
		.int_addr = m->int_addr,
		.int_port = m->int_port,
		.ext_addr = m->ext_addr,
		.ext_port = m->ext_port,
		.mtu6_nexthop = dp->role_mtu[CGN_PORT_INSIDE],
		.mtu4_nexthop = dp->role_mtu[CGN_PORT_OUTSIDE],
		.reset_tc = n64->reset_traffic_class,
	};
	uint8_t out[CGN_XLAT_ERR_MAX6];
	size_t len = 0;
	int rc = cgn_xlat_error_4to6(p->l3, rte_be_to_cpu_16(p->ip4->total_length), &x, out, sizeof(out), &len);
	if (rc < 0)
		return refused(w, p, rc);
	return replace(w, p, out, len, CGN_AF_IPV6);
}
