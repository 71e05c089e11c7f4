/*
 * Step "classify", its first part: the Ethernet header, and by its type the family's own
 * classify (classify4.c, classify6.c), which parse the rest with bounds and choose the
 * packet's family steps; ARP goes to local.c. Nothing else is ours: dropped, counted
 * (NOT_IP). Inline: the burst loop calls the family's classify directly. Worker context.
 */
#ifndef CGN_CLASSIFY_H
#define CGN_CLASSIFY_H

#include <rte_ether.h>

#include "cgn_dataplane.h"

/** Parses and checks a frame: see pipeline.h for what it fills and chooses. */
static inline enum cgn_verdict
cgn_classify(struct cgn_worker *w, struct cgn_pkt *p)
{
	uint8_t *frame = rte_pktmbuf_mtod(p->m, uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(p->m);

	if (unlikely(len < sizeof(struct rte_ether_hdr)))
		return cgn_drop(w, p, CGN_DROP_TRUNCATED);
	uint16_t ether_type = ((struct rte_ether_hdr *)frame)->ether_type;
	p->l3 = frame + sizeof(struct rte_ether_hdr);
	len -= sizeof(struct rte_ether_hdr);
	if (likely(ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)))
		return cgn_classify4(w, p, len);
	if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
		return cgn_classify6(w, p, len);
	if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		return cgn_local_arp(w, p);
	return cgn_drop(w, p, CGN_DROP_NOT_IP);
}

#endif /* CGN_CLASSIFY_H */
