/*
 * Packets bigger than the link they leave by. Translation never grows a packet, but links
 * differ: an access network with a smaller MTU than the core, jumbo frames on one side, or
 * net_af_packet, whose kernel socket hands cgnatd datagrams it reassembled (DPDK 22.11 joins
 * its fanout group with PACKET_FANOUT_FLAG_DEFRAG). Two cases:
 *
 *   DF set: refused before translation with ICMP "fragmentation needed and DF set" and the
 *           MTU of the next hop (RFC 1191 §4: "the router MUST include the MTU of that
 *           next-hop network in the low-order 16 bits"), so that Path MTU Discovery works
 *           through the NAT. The check is against the smallest MTU of the ports of the side
 *           the packet goes to (the port is chosen after translation).
 *   DF clear: fragmented after translation and routing (RFC 791 §3.2; RFC 1812 §4.2.2.7),
 *           with librte_ip_frag: each fragment is a new header mbuf chained to the payload
 *           it shares with the original. Its IP ID is the original's.
 *
 * Slow path: allocates mbufs per fragment, counted when it cannot. Worker context.
 */
#include <string.h>

#include <rte_ip_frag.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"

/* An IPv4 packet of at most 9216 octets, in fragments of at least 576 (CGN_MIN_MTU). */
#define MAX_FRAGMENTS 17

bool
cgn_send_fragments(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_mbuf *m = p->m, *frags[MAX_FRAGMENTS];
	if (p->ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
		/* It fit the smallest port of its side before translation: only a hairpinned
		 * packet, or one routed to the other side's port, gets here. */
		cgn_drop(w, p, CGN_DROP_TOO_BIG);
		return false;
	}
	struct rte_ether_hdr eth = *rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint16_t ihl = (uint16_t)((p->ip->version_ihl & 0x0f) * 4);
	/* Every fragment but the last carries a multiple of 8 octets (RFC 791). */
	uint16_t mtu = (uint16_t)(ihl + ((port->mtu - ihl) & ~7u));
	rte_pktmbuf_adj(m, sizeof(struct rte_ether_hdr));
	int32_t n = rte_ipv4_fragment_packet(m, frags, MAX_FRAGMENTS, mtu, dp->mbufs, dp->mbufs);
	if (n < 0) {
		cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
		return false;
	}
	rte_pktmbuf_free(m); /* the fragments hold their own references to its payload */
	unsigned sent = 0;
	for (int32_t i = 0; i < n; i++) {
		struct rte_mbuf *f = frags[i];
		struct rte_ether_hdr *e = (struct rte_ether_hdr *)rte_pktmbuf_prepend(f, sizeof(eth));
		if (e == NULL || (!port->tx_chained && rte_pktmbuf_linearize(f) != 0)) {
			w->pkt.drops[CGN_DROP_CANNOT_FRAGMENT]++;
			rte_pktmbuf_free(f);
			continue;
		}
		*e = eth;
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + 1);
		ip->hdr_checksum = 0; /* librte_ip_frag leaves it to the NIC */
		ip->hdr_checksum = cgn_cksum(ip, ihl);
		rte_eth_tx_buffer(port->port_id, (uint16_t)w->index, w->tx[port->port_id], f);
		sent++;
	}
	w->pkt.tx += sent;
	w->pkt.fragments_made += sent;
	w->pkt.fragmented++;
	return sent > 0;
}
