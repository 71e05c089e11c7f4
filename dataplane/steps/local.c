/*
 * Frames for the CGN itself, answered by the worker in place and sent back out of the port
 * they came by, without the control thread:
 *   ARP requests for the port's own address, and on outside ports for every pool address
 *   (the NAT answers for its external addresses, RFC 6888's "CGN" as a router);
 *   ICMP echo requests to the port's own address (RFC 1122 §3.2.2.6).
 *   PCP (UDP 5351) to an inside port's own address: handed to the control thread through
 *   the punt ring (punt.c answers). PCP from the outside is not served (RFC 6887 §8.2: the
 *   server listens on its internal interfaces) and is counted with LOCAL, except on an
 *   outside port marked pcp_management (the control thread serves third-party senders).
 * ARP from a neighbour of the port (request or reply) teaches its MAC (route.h, neighbour.c).
 * Everything else for the CGN's own address is dropped and counted (LOCAL).
 * Worker context; no allocation: the request becomes the reply.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_arp.h>

#include "cgn_cksum.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "pcp_wire.h"
#include "cgn_dataplane.h"

static void
send_back(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	eth->dst_addr = eth->src_addr;
	eth->src_addr = port->mac;
	p->out_port = p->in_port;
	w->pkt.tx++;
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, w->tx[p->out_port], p->m);
}

enum cgn_verdict
cgn_local_arp(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	int16_t pi = dp->port_index[p->in_port];
	if (pi < 0 || rte_pktmbuf_data_len(p->m) < sizeof(struct rte_ether_hdr) + sizeof(struct rte_arp_hdr))
		return cgn_drop(w, p, CGN_DROP_ARP_NOT_OURS);
	const struct cgn_port *port = &dp->ports[pi];
	struct rte_arp_hdr *arp = rte_pktmbuf_mtod_offset(p->m, struct rte_arp_hdr *, sizeof(struct rte_ether_hdr));
	if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
	    arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
		return cgn_drop(w, p, CGN_DROP_ARP_NOT_OURS);
	/* Any ARP frame from a neighbour we asked for, request or reply, tells its MAC (RFC 826's
	 * "merge" of the sender's pair; neighbour.c asks and ages). */
	struct cgn_addr sip = cgn_addr_from_v4(arp->arp_data.arp_sip);
	if (dp->routes.hash && cgn_neigh_learn(&dp->routes, &sip, (uint8_t)pi, &arp->arp_data.arp_sha, w->now_ms)) {
		w->pkt.arp_learned++;
		if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) {
			rte_pktmbuf_free(p->m);
			return CGN_CONSUMED;
		}
	}
	if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST))
		return cgn_drop(w, p, CGN_DROP_ARP_NOT_OURS);
	uint32_t tip = arp->arp_data.arp_tip;
	bool ours = (port->address && tip == port->address) ||
		    (port->role == CGN_PORT_OUTSIDE && cgn_dataplane_in_pool(dp, tip));
	if (!ours)
		return cgn_drop(w, p, CGN_DROP_ARP_NOT_OURS);

	/* RFC 826: the request becomes the reply. */
	arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	arp->arp_data.arp_tha = arp->arp_data.arp_sha;
	arp->arp_data.arp_tip = arp->arp_data.arp_sip;
	arp->arp_data.arp_sha = port->mac;
	arp->arp_data.arp_sip = tip;
	w->pkt.arp_replies++;
	send_back(w, p, port);
	return CGN_CONSUMED;
}

enum cgn_verdict
cgn_local_ipv4(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	const struct cgn_port *port = &dp->ports[dp->port_index[p->in_port]];
	if ((port->role == CGN_PORT_INSIDE || port->pcp_management) && p->proto == IPPROTO_UDP && p->l4_len >= 8 &&
	    cgn_rd16(p->l4 + 2) == PCP_SERVER_PORT) {
		p->m->port = p->in_port;
		if (dp->punt == NULL || rte_ring_mp_enqueue(dp->punt, p->m) != 0)
			return cgn_drop(w, p, CGN_DROP_PUNT_FULL);
		w->pkt.punted++;
		return CGN_CONSUMED;
	}
	if (p->proto != IPPROTO_ICMP || p->l4_len < CGN_ICMP_HDR_LEN || p->l4[0] != CGN_ICMP_ECHO || p->l4[1] != 0)
		return cgn_drop(w, p, CGN_DROP_LOCAL);

	/* An echo reply: addresses swapped (the IP checksum does not change: the sum is the
	 * same), a fresh TTL, type 8 becomes 0 in the ICMP checksum (RFC 1624). */
	uint32_t a = p->ip4->src_addr;
	p->ip4->src_addr = p->ip4->dst_addr;
	p->ip4->dst_addr = a;
	uint8_t *ip = (uint8_t *)p->ip4;
	uint16_t old, new_;
	memcpy(&old, ip + 8, 2);
	uint8_t word[2] = { 64, ip[9] };
	memcpy(&new_, word, 2);
	memcpy(ip + 8, &new_, 2);
	uint16_t c;
	memcpy(&c, ip + 10, 2);
	c = cgn_cksum_update16(c, old, new_);
	memcpy(ip + 10, &c, 2);
	memcpy(&old, p->l4, 2);
	p->l4[0] = CGN_ICMP_ECHO_REPLY;
	memcpy(&new_, p->l4, 2);
	memcpy(&c, p->l4 + 2, 2);
	c = cgn_cksum_update16(c, old, new_);
	memcpy(p->l4 + 2, &c, 2);
	w->pkt.echo_replies++;
	send_back(w, p, port);
	return CGN_CONSUMED;
}
