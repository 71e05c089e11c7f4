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

/* An IPv4 packet of at most 9216 octets (CGN_MAX_MTU) in fragments of 576 (CGN_MIN_MTU) with
 * a 60-octet header: 512 octets of payload each, 18 fragments. */
#define MAX_FRAGMENTS 18

bool
cgn_send_fragments(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_mbuf *m = p->m, *frags[MAX_FRAGMENTS];
	if (p->ip4->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG)) {
		/* It fit the smallest port of its side before translation (nat44.c): only an ICMP
		 * error (never answered with another) or a frame of the CGN's own gets here. */
		cgn_drop(w, p, CGN_DROP_TOO_BIG);
		return false;
	}
	struct rte_ether_hdr eth = *rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint16_t ihl = (uint16_t)((p->ip4->version_ihl & 0x0f) * 4);
	/* Every fragment but the last carries a multiple of 8 octets (RFC 791). */
	uint16_t mtu = (uint16_t)(ihl + ((port->mtu - ihl) & ~7u));
	rte_pktmbuf_adj(m, sizeof(struct rte_ether_hdr));
	/* A port that takes no chains gets each fragment copied into its header mbuf, which
	 * must then have room for it: one of the packets' own. */
	struct rte_mempool *headers = port->tx_chained ? dp->frag_mbufs : dp->mbufs;
	int32_t n = rte_ipv4_fragment_packet(m, frags, MAX_FRAGMENTS, mtu, headers, dp->frag_mbufs);
	if (n < 0) {
		cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
		return false;
	}
	rte_pktmbuf_free(m); /* the fragments hold their own references to its payload */
	/* Every fragment ready before any is queued: a datagram missing one never reassembles. */
	for (int32_t i = 0; i < n; i++) {
		struct rte_ether_hdr *e = (struct rte_ether_hdr *)rte_pktmbuf_prepend(frags[i], sizeof(eth));
		if (e == NULL || (!port->tx_chained && rte_pktmbuf_linearize(frags[i]) != 0)) {
			for (int32_t j = 0; j < n; j++)
				rte_pktmbuf_free(frags[j]);
			w->pkt.drops[CGN_DROP_CANNOT_FRAGMENT]++;
			return false;
		}
		*e = eth;
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(e + 1);
		/* Fragments after the first carry only the options flagged "copied": each has its
		 * own header length. librte_ip_frag leaves the checksum to the NIC. */
		ip->hdr_checksum = 0;
		ip->hdr_checksum = cgn_cksum(ip, (size_t)(ip->version_ihl & 0x0f) * 4);
	}
	for (int32_t i = 0; i < n; i++)
		rte_eth_tx_buffer(port->port_id, (uint16_t)w->index, w->tx[port->port_id], frags[i]);
	w->pkt.tx += (uint64_t)n;
	w->pkt.fragments_made += (uint64_t)n;
	w->pkt.fragmented++;
	return true;
}

bool
cgn_send_fragments6(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port)
{
	(void)port; /* IPv6 fragmentation of translated packets comes with NAT64's fragments */
	cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
	return false;
}
