/*
 * Step "send" out of line (send.h), for the slow paths: held fragments, and the IPv6 frames
 * the CGN sends itself (echo replies, ICMPv6 errors), routed like any frame it sends.
 * Worker context.
 */
#include "send.h"

bool
cgn_send(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_send_inline(w, p);
}

bool
cgn_send6(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	const struct cgn_addr *dst = (const struct cgn_addr *)p->ip6->dst_addr;
	/* Not l2[].fixed's shortcut: that says the role has no IPv4 routes; its IPv6 routes are
	 * looked up here (none: NONE at once). */
	enum cgn_route_result r = cgn_route_frame6(&dp->routes, (enum cgn_port_role)p->to, dst, &p->out_port,
						   &eth->dst_addr, &w->pkt.resolve_full);
	if (r == CGN_ROUTE_UNRESOLVED) {
		cgn_drop(w, p, CGN_DROP_NO_NEIGHBOUR);
		return false;
	}
	int16_t pi = dp->port_index[p->out_port];
	if (r == CGN_ROUTE_NONE) { /* as send.h does for IPv4 */
		if (dp->ports[pi].have_peer_mac)
			eth->dst_addr = dp->ports[pi].peer_mac;
		else if (p->out_port == p->in_port)
			eth->dst_addr = eth->src_addr;
		else
			memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	}
	eth->src_addr = dp->ports[pi].mac;
	/* RFC 7915 §4.1: with DF clear, no longer than lowest-ipv6-mtu either (mtu.c). */
	uint32_t limit = dp->ports[pi].mtu;
	if (p->frag6_ok && dp->cfg->nat64.lowest_ipv6_mtu < limit)
		limit = dp->cfg->nat64.lowest_ipv6_mtu;
	if (unlikely(rte_pktmbuf_pkt_len(p->m) > limit + RTE_ETHER_HDR_LEN))
		return cgn_send_fragments6(w, p, &dp->ports[pi]);
	w->pkt.tx++;
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, w->tx[p->out_port], p->m);
	return true;
}

bool
cgn_send6_own(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_addr *dst)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	int16_t pi = dp->port_index[p->in_port];
	uint16_t port_id = p->in_port;
	struct rte_ether_addr mac;
	/* A link-local destination is on the link it came from (RFC 4291 §2.5.6): not routed. */
	enum cgn_route_result r = cgn_addr_is_link_local(dst) ? CGN_ROUTE_NONE
			: cgn_route_frame6(&dp->routes, dp->ports[pi].role, dst, &port_id, &mac, &w->pkt.resolve_full);
	if (r == CGN_ROUTE_UNRESOLVED)
		return false;
	if (r == CGN_ROUTE_OK) {
		eth->dst_addr = mac;
		pi = dp->port_index[port_id];
	} /* else: back to where it came from, as the caller addressed it */
	eth->src_addr = dp->ports[pi].mac;
	p->out_port = port_id;
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, w->tx[p->out_port], p->m);
	return true;
}
