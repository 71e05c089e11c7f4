/*
 * ICMP errors the NAT sends itself (RFC 792): time exceeded when a TTL runs out, destination
 * unreachable 3/13 ("communication administratively prohibited") when a session cannot be
 * created (RFC 6888 REQ-4/-5 style: the host learns at once instead of retrying into a full
 * table), 3/4 ("fragmentation needed and DF set", with the next hop's MTU: RFC 1191 §4) for a
 * packet too big for the link it would leave by (mtu.c). Rate-limited per worker by a token
 * bucket (dataplane.icmp_errors_per_second).
 * Slow path: allocates one mbuf per error. Worker context.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_icmp.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"

/* The error, with `rest` in the second word of its ICMP header (network order). */
static enum cgn_verdict
icmp_error(struct cgn_worker *w, struct cgn_pkt *p, uint8_t type, uint8_t code, uint32_t rest,
	   enum cgn_drop_reason why)
{
	struct cgn_dataplane *dp = w->dp;
	/* RFC 1812 §4.3.2.7: never an error about an ICMP error. */
	if (p->icmp_error || !cgn_icmp_allowed(w)) {
		if (!p->icmp_error)
			w->pkt.icmp_rate_limited++;
		return cgn_drop(w, p, why);
	}
	struct rte_mbuf *r = rte_pktmbuf_alloc(dp->mbufs);
	if (r == NULL)
		return cgn_drop(w, p, why);

	/* Quote the offending IP header and the first 8 octets of its payload. */
	uint16_t ihl = (uint16_t)((p->ip4->version_ihl & 0x0f) * 4);
	uint16_t quote = (uint16_t)(ihl + (p->l4_len < 8 ? p->l4_len : 8));
	uint16_t len = (uint16_t)(sizeof(struct rte_ether_hdr) + 20 + 8 + quote);
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(r, len);
	if (f == NULL) {
		rte_pktmbuf_free(r);
		return cgn_drop(w, p, why);
	}
	struct rte_ether_hdr *in_eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	eth->dst_addr = in_eth->src_addr;
	eth->src_addr = in_eth->dst_addr;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);

	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	memset(ip, 0, 20);
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + quote));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	/* From the NAT's own address towards the inside; towards the outside, from the
	 * external address the packet was sent to. */
	ip->src_addr = p->side == CGN_SIDE_INSIDE ? dp->icmp_source : p->ip4->dst_addr;
	ip->dst_addr = p->ip4->src_addr;
	ip->hdr_checksum = cgn_cksum(ip, 20);

	uint8_t *icmp = (uint8_t *)(ip + 1);
	memset(icmp, 0, 8);
	icmp[0] = type;
	icmp[1] = code;
	memcpy(icmp + 4, &rest, 4);
	memcpy(icmp + 8, p->ip4, quote);
	uint16_t c = cgn_cksum(icmp, (size_t)8 + quote);
	memcpy(icmp + 2, &c, 2);

	r->port = p->in_port;
	rte_pktmbuf_free(p->m);
	p->m = r;
	p->out_port = p->in_port;
	w->pkt.icmp_sent++;
	w->pkt.drops[why]++; /* the packet itself did not pass: counted under its reason */
	struct rte_eth_dev_tx_buffer *tx = w->tx[p->out_port];
	rte_eth_tx_buffer(p->out_port, (uint16_t)w->index, tx, r);
	return CGN_CONSUMED;
}

enum cgn_verdict
cgn_icmp_reply(struct cgn_worker *w, struct cgn_pkt *p, uint8_t type, uint8_t code, enum cgn_drop_reason why)
{
	return icmp_error(w, p, type, code, 0, why);
}

enum cgn_verdict
cgn_icmp_too_big(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu)
{
	/* RFC 1191 §4: "unused = 0 | Next-Hop MTU". */
	return icmp_error(w, p, CGN_ICMP_DEST_UNREACH, CGN_ICMP_FRAG_NEEDED, rte_cpu_to_be_32(mtu), CGN_DROP_TOO_BIG);
}
