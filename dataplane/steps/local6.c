/*
 * IPv6 for the CGN itself (classify6.c hands it what is addressed to the in-port's own
 * addresses and groups), answered by the worker, out of the port it came by, as an IPv6
 * router interface would (RFC 4861, RFC 4443):
 *   Neighbor Solicitation for one of the port's addresses → the Neighbor Advertisement, in
 *      place (§7.2.4); one with a Source Link-Layer Address teaches its sender's MAC to an
 *      entry of the neighbour table that exists (§7.2.3);
 *   Neighbor Advertisement → its Target Link-Layer Address to the neighbour table, for an
 *      entry it has (§7.2.5: "If no entry exists, the advertisement SHOULD be silently
 *      discarded"): never makes an entry, so unsolicited ND cannot fill it;
 *   Echo Request to one of its unicast addresses → the Echo Reply, in place (RFC 4443 §4.2),
 *      routed back by the IPv6 routes (send.c cgn_send6_own);
 *   PCP (UDP to port 5351) to one of its unicast addresses, global or link-local, on an
 *      inside port (or an outside one marked pcp_management, as local.c for IPv4) → its
 *      extension headers taken out (what the worker walked is not the server's business),
 *      then the punt ring: the control thread's PCP server answers (punt.c);
 *   other UDP to one of its unicast addresses: no service listens there → destination
 *      unreachable, port (RFC 4443 §3.1 code 4), rate-limited;
 *   anything else (Router Solicitations: the CGN sends no Router Advertisements; MLD; TCP;
 *      fragments) is dropped and counted (LOCAL).
 * ND messages RFC 4861 §7.1 refuses are dropped as ND_INVALID, and counted by their reason
 * (nd_refused_*, telemetry).
 * Worker context; nothing allocated but the ICMPv6 error.
 */
#include <netinet/in.h>
#include <string.h>

#include "cgn_dataplane.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "icmp6.h"
#include "nd.h"
#include "pcp_wire.h"

/* Gives the frame (rewritten in place) its new length: no longer than the room it has (nd.c
 * checked: NO_ROOM), so neither call can fail. */
static void
set_len(struct rte_mbuf *m, uint16_t len)
{
	if (len > rte_pktmbuf_data_len(m))
		rte_pktmbuf_append(m, (uint16_t)(len - rte_pktmbuf_data_len(m)));
	else if (len < rte_pktmbuf_data_len(m))
		rte_pktmbuf_trim(m, (uint16_t)(rte_pktmbuf_data_len(m) - len));
}

/* Sends the frame (rewritten in place, len octets) back out of the port it came by: ND
 * answers stay on their link (RFC 4861: hop limit 255, never routed). */
static enum cgn_verdict
send_back(struct cgn_worker *w, struct cgn_pkt *p, uint16_t len)
{
	struct rte_mbuf *m = p->m;
	set_len(m, len);
	p->out_port = p->in_port;
	w->pkt.tx++;
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, w->tx[p->out_port], m);
	return CGN_CONSUMED;
}

/* An echo request (or a PCP request) behind extension headers (walked by classify6.c: hop-by-
 * hop, destination options, routing with nothing left to visit) is answered without them:
 * the Ethernet and IPv6 headers move up over them. The ICMPv6 (or UDP) checksum stays
 * right: the pseudo-header holds the addresses and the upper-layer length, neither of which
 * changes. */
static void
strip_extension_headers(struct cgn_pkt *p)
{
	uint16_t ext = (uint16_t)(p->l4 - (uint8_t *)p->l3 - sizeof(struct rte_ipv6_hdr));
	if (ext == 0)
		return;
	struct rte_ipv6_hdr *ip = p->ip6;
	ip->proto = p->proto;
	ip->payload_len = rte_cpu_to_be_16((uint16_t)(rte_be_to_cpu_16(ip->payload_len) - ext));
	uint8_t *frame = rte_pktmbuf_mtod(p->m, uint8_t *);
	memmove(frame + ext, frame, sizeof(struct rte_ether_hdr) + sizeof(*ip));
	rte_pktmbuf_adj(p->m, ext);
	p->l3 = (uint8_t *)p->l3 + ext;
}

static enum cgn_verdict
refused(struct cgn_worker *w, struct cgn_pkt *p, enum cgn_nd_result r)
{
	w->pkt.nd_refused[r < CGN_ND_RESULT_COUNT ? r : 0]++;
	return cgn_drop(w, p, CGN_DROP_ND_INVALID);
}

static enum cgn_verdict
neighbor_discovery(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_nd_iface *ifc, uint8_t pi)
{
	struct cgn_dataplane *dp = w->dp;
	uint8_t *frame = rte_pktmbuf_mtod(p->m, uint8_t *);
	struct cgn_nd_msg msg;
	enum cgn_nd_result r = cgn_nd_parse(frame, rte_pktmbuf_data_len(p->m), &msg);
	if (r != CGN_ND_ACCEPT)
		return refused(w, p, r);
	struct cgn_nd_learn learn;
	bool learned = false;
	if (dp->routes.hash && cgn_nd_learned(ifc, &msg, &learn))
		learned = cgn_neigh_update(&dp->routes, &learn.addr, pi, &learn.mac, learn.override, w->now_ms);
	else if (dp->routes.hash && msg.type == CGN_ND_NEIGHBOR_ADVERT && (msg.flags & CGN_ND_NA_FLAG_SOLICITED) &&
		 !msg.has_lla && !cgn_addr_is_v4(&msg.target))
		/* The answer to a unicast probe may leave the option out (§7.2.4): reachable still. */
		learned = cgn_neigh_update(&dp->routes, &msg.target, pi, NULL, false, w->now_ms);
	if (learned)
		w->pkt.nd_learned++;
	if (msg.type == CGN_ND_NEIGHBOR_ADVERT) {
		if (!learned)
			return cgn_drop(w, p, CGN_DROP_ND_NOT_OURS);
		rte_pktmbuf_free(p->m);
		return CGN_CONSUMED;
	}
	uint16_t len;
	size_t cap = (size_t)rte_pktmbuf_data_len(p->m) + rte_pktmbuf_tailroom(p->m);
	r = cgn_nd_ns_reply(ifc, frame, cap, &msg, &len);
	if (r == CGN_ND_REFUSE_TARGET_NOT_OURS || r == CGN_ND_REFUSE_NOT_FOR_US)
		return cgn_drop(w, p, CGN_DROP_ND_NOT_OURS); /* another node's resolution or DAD */
	if (r != CGN_ND_ACCEPT)
		return refused(w, p, r);
	w->pkt.nd_answered++;
	return send_back(w, p, len);
}

enum cgn_verdict
cgn_local6(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	int16_t pi = dp->port_index[p->in_port];
	const struct cgn_port *port = &dp->ports[pi];
	const struct cgn_nd_iface ifc = cgn_port_nd(port);
	if (p->frag != CGN_FRAG_NONE) /* RFC 6980 §5: ND is never fragmented; nothing else here is */
		return cgn_drop(w, p, CGN_DROP_LOCAL);
	bool unicast = p->ip6->dst_addr[0] != 0xff;
	switch (p->proto) {
	case IPPROTO_ICMPV6:
		if (p->l4_len < CGN_ICMP6_HDR_LEN)
			return cgn_drop(w, p, CGN_DROP_TRUNCATED);
		if (p->l4[0] == CGN_ND_NEIGHBOR_SOLICIT || p->l4[0] == CGN_ND_NEIGHBOR_ADVERT)
			return neighbor_discovery(w, p, &ifc, (uint8_t)pi);
		if (p->l4[0] == CGN_ICMP6_ECHO_REQUEST && unicast) {
			strip_extension_headers(p);
			uint16_t len;
			enum cgn_nd_result r = cgn_nd_echo_reply(&ifc, rte_pktmbuf_mtod(p->m, uint8_t *),
								 rte_pktmbuf_data_len(p->m), &len);
			if (r != CGN_ND_ACCEPT)
				return refused(w, p, r);
			set_len(p->m, len);
			struct cgn_addr dst;
			memcpy(dst.b, p->ip6->dst_addr, 16); /* the reply's: the request's source */
			if (!cgn_send6_own(w, p, &dst)) /* its next hop is being asked for */
				return cgn_drop(w, p, CGN_DROP_NO_NEIGHBOUR);
			w->pkt.echo6_replies++;
			w->pkt.tx++;
			return CGN_CONSUMED;
		}
		return cgn_drop(w, p, CGN_DROP_LOCAL); /* RS, MLD, echo to a group, ... */
	case IPPROTO_UDP:
		if (unicast && (port->role == CGN_PORT_INSIDE || port->pcp_management) && p->l4_len >= 8 &&
		    cgn_rd16(p->l4 + 2) == PCP_SERVER_PORT) {
			strip_extension_headers(p); /* punt.c reads UDP right behind the IPv6 header */
			p->m->port = p->in_port;
			if (dp->punt == NULL || rte_ring_mp_enqueue(dp->punt, p->m) != 0)
				return cgn_drop(w, p, CGN_DROP_PUNT_FULL);
			w->pkt.punted++;
			return CGN_CONSUMED;
		}
		if (unicast) /* RFC 4443 §3.1: "SHOULD send ... if the transport protocol has no listener" */
			return cgn_icmp6_reply(w, p, CGN_ICMP6_DST_UNREACH, CGN_ICMP6_PORT_UNREACH, 0, CGN_DROP_LOCAL);
		return cgn_drop(w, p, CGN_DROP_LOCAL);
	default:
		return cgn_drop(w, p, CGN_DROP_LOCAL);
	}
}
