/*
 * Step "send": a translated packet is routed toward the side it goes to (p->to) and queued on
 * its port's TX buffer, its Ethernet addresses written (route.h: the route tables and the
 * neighbour table; without a route the port's peer_mac). A frame longer than its port's MTU
 * leaves in fragments (mtu.c). Inline: the burst loop runs it for every packet; cgn_send()
 * (send.c) is the same for the slow paths.
 * Worker context.
 */
#ifndef CGN_SEND_H
#define CGN_SEND_H

#include <string.h>

#include "cgn_dataplane.h"

/* Queues the frame on p->out_port (ports[pi]), in fragments if it is longer than max_frame,
 * the port's MTU and an Ethernet header (mtu.c). */
static inline __attribute__((always_inline)) bool
cgn_send_tx(struct cgn_worker *w, struct cgn_pkt *p, uint32_t max_frame, int16_t pi)
{
	if (unlikely(rte_pktmbuf_pkt_len(p->m) > max_frame))
		return cgn_send_fragments(w, p, &w->dp->ports[pi]);
	w->pkt.tx++;
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, w->tx[p->out_port], p->m);
	return true;
}

/* Routes the frame toward p->to's side and sends it. Without a matching route it leaves by
 * p->out_port, to that port's peer_mac, or back to the sender when it leaves by the port it
 * came in on, or broadcast. */
static inline __attribute__((always_inline)) bool
cgn_send_inline(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	if (unlikely(p->naf == CGN_AF_IPV6)) /* NAT64's, toward the inside */
		return cgn_send6(w, p);
	if (dp->l2[p->to].fixed && p->out_port == dp->role_port[p->to]) { /* no routes, a peer_mac */
		eth->dst_addr = dp->l2[p->to].dst;
		eth->src_addr = dp->l2[p->to].src;
		return cgn_send_tx(w, p, dp->l2[p->to].max_frame, dp->l2[p->to].port);
	}
	enum cgn_route_result r = cgn_route_frame(&dp->routes, (enum cgn_port_role)p->to, p->ip4->dst_addr,
						  &p->out_port, &eth->dst_addr, &w->pkt.resolve_full);
	if (r == CGN_ROUTE_UNRESOLVED) {
		cgn_drop(w, p, CGN_DROP_NO_NEIGHBOUR);
		return false;
	}
	/* Always one of ours: routes name only our ports, and the fallbacks are a role's port or
	 * the one the frame came in by. */
	int16_t pi = dp->port_index[p->out_port];
	if (r == CGN_ROUTE_NONE) {
		if (dp->ports[pi].have_peer_mac)
			eth->dst_addr = dp->ports[pi].peer_mac;
		else if (p->out_port == p->in_port)
			eth->dst_addr = eth->src_addr;
		else /* no neighbour configured */
			memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	}
	eth->src_addr = dp->ports[pi].mac;
	return cgn_send_tx(w, p, (uint32_t)dp->ports[pi].mtu + RTE_ETHER_HDR_LEN, pi);
}

#endif /* CGN_SEND_H */
