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
 *           it shares with the original. Its IP ID is the original's. A translated IPv6
 *           packet (NAT64, 4->6; RFC 7915 §4.1) is also cut when longer than
 *           nat64.lowest_ipv6_mtu: each fragment gets a Fragment header with the IPv4 ID,
 *           offsets continuing those of an IPv4 fragment it came from. That is done here,
 *           not with rte_ipv6_fragment_packet(), which writes Identification 0 and cannot
 *           cut a packet that has a Fragment header already; each fragment is copied into
 *           one packet mbuf (slow path: at most 1232 octets each at the default limit).
 *
 * Slow path: allocates mbufs per fragment, counted when it cannot. Worker context.
 */
#include <string.h>

#include <rte_ip_frag.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"
#include "cgn_rfc7915.h"

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

/* An IPv6 packet translated from IPv4 (at most 65535 octets less the IPv4 header) in
 * fragments of 1232 octets of payload (1280, RFC 7915 §4.1's least limit): 54. */
#define MAX_FRAGMENTS6 54

bool
cgn_send_fragments6(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port)
{
	struct cgn_dataplane *dp = w->dp;
	struct rte_mbuf *m = p->m, *frags[MAX_FRAGMENTS6];
	if (!p->frag6_ok) {
		/* DF was set: it fit the inside's smallest MTU before translation (cgn_fits46_step),
		 * so only a later fragment with DF, or an ICMPv6 error, gets here. */
		cgn_drop(w, p, CGN_DROP_TOO_BIG);
		return false;
	}
	/* §4.1: each fragment, its Fragment header included, no longer than the lesser of
	 * lowest-ipv6-mtu and the link's MTU; and no longer than the mbuf it is copied into. */
	uint32_t limit = RTE_MIN((uint32_t)port->mtu, dp->cfg->nat64.lowest_ipv6_mtu);
	uint32_t room = (uint32_t)rte_pktmbuf_data_room_size(dp->mbufs) - RTE_PKTMBUF_HEADROOM - RTE_ETHER_HDR_LEN;
	uint32_t chunk = cgn_rfc7915_frag6_payload_max(RTE_MIN(limit, room));

	/* The datagram's Fragment header: translate46.c's, right after the IPv6 header, when it
	 * was an IPv4 fragment already (cut further: its offset is the base of the pieces', its M
	 * the last piece's); else a new one with the IPv4 ID (§4.1: the packet is fragmented as
	 * IPv4 would be, then each piece translated). */
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(eth + 1);
	uint32_t hdrs = sizeof(*ip6), base = 0, id = rte_cpu_to_be_32(rte_be_to_cpu_16(p->ip4_id));
	uint8_t nh = ip6->proto;
	bool more = false;
	if (ip6->proto == IPPROTO_FRAGMENT) {
		const struct rte_ipv6_fragment_ext *fh = (const struct rte_ipv6_fragment_ext *)(ip6 + 1);
		uint16_t fo_m = rte_be_to_cpu_16(fh->frag_data);
		nh = fh->next_header;
		base = RTE_IPV6_GET_FO(fo_m);
		more = RTE_IPV6_GET_MF(fo_m);
		id = fh->id;
		hdrs += sizeof(*fh);
	}
	uint32_t len = rte_pktmbuf_pkt_len(m) - RTE_ETHER_HDR_LEN - hdrs;
	uint32_t n = chunk ? (len + chunk - 1) / chunk : 0;
	if (n == 0 || n > MAX_FRAGMENTS6 || base + (n - 1) * (chunk / 8) > RTE_IPV4_HDR_OFFSET_MASK) {
		cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
		return false;
	}
	/* Each fragment copied whole into a packet mbuf (Ethernet, IPv6, Fragment header, its
	 * share of the payload), whatever the port takes: the original may be a chain. Every
	 * fragment ready before any is queued: a datagram missing one never reassembles. */
	const size_t fh_at = RTE_ETHER_HDR_LEN + sizeof(*ip6);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = i * chunk, l = RTE_MIN(chunk, len - off);
		struct rte_mbuf *f = rte_pktmbuf_alloc(dp->mbufs);
		uint8_t *d = f ? (uint8_t *)rte_pktmbuf_append(f, (uint16_t)(fh_at + sizeof(struct rte_ipv6_fragment_ext) + l))
			       : NULL;
		if (d == NULL) {
			rte_pktmbuf_free(f);
			for (uint32_t j = 0; j < i; j++)
				rte_pktmbuf_free(frags[j]);
			cgn_drop(w, p, CGN_DROP_CANNOT_FRAGMENT);
			return false;
		}
		memcpy(d, eth, RTE_ETHER_HDR_LEN);
		struct rte_ipv6_hdr *o = (struct rte_ipv6_hdr *)(d + RTE_ETHER_HDR_LEN);
		*o = *ip6;
		o->payload_len = rte_cpu_to_be_16((uint16_t)(sizeof(struct rte_ipv6_fragment_ext) + l));
		o->proto = IPPROTO_FRAGMENT;
		struct rte_ipv6_fragment_ext *fh = (struct rte_ipv6_fragment_ext *)(d + fh_at);
		fh->next_header = nh;
		fh->reserved = 0;
		fh->frag_data = rte_cpu_to_be_16((uint16_t)((base + off / 8) << 3 | (i + 1 < n || more ? 1 : 0)));
		fh->id = id;
		uint8_t *to = (uint8_t *)(fh + 1);
		const void *from = rte_pktmbuf_read(m, RTE_ETHER_HDR_LEN + hdrs + off, l, to);
		if (from != to)
			memcpy(to, from, l);
		frags[i] = f;
	}
	rte_pktmbuf_free(m);
	for (uint32_t i = 0; i < n; i++)
		rte_eth_tx_buffer(port->port_id, (uint16_t)w->index, w->tx[port->port_id], frags[i]);
	w->pkt.tx += n;
	w->pkt.fragments_made += n;
	w->pkt.fragmented++;
	return true;
}
