/*
 * The burst driver (pipeline.h lists the steps). A burst from one port is classified (each
 * key's home bucket fetched as it is made), its candidate entries fetched in one pass
 * (cgn_table.h's lookup stages), then each packet confirms its mapping and goes through its
 * direction's steps until one returns a verdict other than CGN_CONTINUE:
 *
 *   outbound (inside port):  lookup | session (miss) | tcp state | filter (permit) |
 *                            hop limit | mtu (DF) | translate out | hairpin | send
 *   inbound (outside port):  lookup | filter | tcp state | hop limit | mtu (DF) |
 *                            translate in | send
 *
 * The steps marked by family come from the packet's struct cgn_family_steps; the rest read
 * only the context. Later fragments of a datagram skip the lookup (fragment.h), in either
 * family and to either; ICMP fragments NAT64 must see whole are reassembled in classify
 * (reassemble.c) and go on as the packet they make.
 *
 * Worker context: no lock, no system call, no allocation on this path.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_prefetch.h>

#include "cgn_dataplane.h"
#include "cgn_rfc7915.h"
#include "classify.h"
#include "filter.h"
#include "hairpin.h"
#include "send.h"
#include "tcp_state.h"

#define PREFETCH_OFFSET 4 /* packets ahead whose headers are prefetched (l3fwd's pattern) */

const struct cgn_family_steps cgn_steps_nat44 = {
	.name = "nat44",
	.hop_limit = cgn_ttl4_step,
	.fits = cgn_fits4_step,
	.translate_out = cgn_translate44_out,
	.translate_in = cgn_translate44_in,
};

const struct cgn_family_steps cgn_steps_nat64 = {
	.name = "nat64",
	.hop_limit = cgn_hop6_step,
	.fits = cgn_fits64_step,
	.translate_out = cgn_translate64_out,
	.translate_in = NULL, /* IPv6 comes in from the inside only */
};

const struct cgn_family_steps cgn_steps_nat46 = {
	.name = "nat46",
	.hop_limit = cgn_ttl4_step,
	.fits = cgn_fits46_step,
	.translate_out = NULL, /* IPv4 from the inside is NAT44's */
	.translate_in = cgn_translate46_in,
};

enum cgn_verdict
cgn_drop(struct cgn_worker *w, struct cgn_pkt *p, enum cgn_drop_reason why)
{
	w->pkt.drops[why]++;
	rte_pktmbuf_free(p->m);
	return CGN_DROPPED;
}

/* The drivers are inlined with their family steps as a constant wherever the burst loop can
 * name them (NAT44's): the compiler then calls, or inlines, each step directly. */
static inline __attribute__((always_inline)) enum cgn_verdict
outbound(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_family_steps *steps)
{
	struct cgn_dataplane *dp = w->dp;
	enum cgn_verdict v;
	if (p->map == NULL && (v = cgn_session_create(w, p)) != CGN_CONTINUE)
		return v;
	struct cgn_mapping *m = p->map;
	cgn_tcp_state(m, p, true, w->now_ms);
	cgn_filter_permit(w, p, m);
	/* RFC 4787 REQ-6: outbound traffic refreshes the mapping (written at most once a second:
	 * the line is shared by every worker that sees the flow). */
	if (!p->icmp_error && w->now_ms - __atomic_load_n(&m->last_out_ms, __ATOMIC_RELAXED) >= 1000)
		__atomic_store_n(&m->last_out_ms, w->now_ms, __ATOMIC_RELAXED);
	if ((v = steps->hop_limit(w, p)) != CGN_CONTINUE)
		return v;
	/* NAT64: the answers come from the Pref64 the subscriber used last (its mapping keeps one;
	 * a subscriber's flows through two Pref64 at once is a documented limit). */
	if (steps != &cgn_steps_nat44 && unlikely(__atomic_load_n(&m->pref64, __ATOMIC_RELAXED) != p->pref64))
		__atomic_store_n(&m->pref64, p->pref64, __ATOMIC_RELAXED);
	/* RFC 1191 §4, before translation: it leaves by the outside, or by the inside when it
	 * hairpins. Packets within the smaller of the two MTUs need no more thought; a hairpin
	 * to an IPv6 subscriber grows by 20 octets on its way back in (RFC 7915 §4.1). */
	p->hairpin = !p->icmp_error && cgn_dataplane_in_pool(dp, p->remote);
	if (steps != &cgn_steps_nat44 || unlikely(cgn_too_big_for(p, dp->mtu_floor)) ||
	    unlikely(p->hairpin && dp->n_pref64 != 0)) {
		uint16_t mtu = dp->role_mtu[p->hairpin ? CGN_PORT_INSIDE : CGN_PORT_OUTSIDE];
		if (p->hairpin && dp->n_pref64 != 0 && cgn_hairpin_to_ipv6(w, p))
			mtu = (uint16_t)(mtu - CGN_RFC7915_HDR_DIFF);
		if ((v = steps->fits(w, p, mtu)) != CGN_CONTINUE)
			return v;
	}
	if ((v = steps->translate_out(w, p)) != CGN_CONTINUE)
		return v;
	w->pkt.out_translated++;
	if (p->icmp_error)
		w->pkt.icmp_errors_translated++;
	return cgn_hairpin(w, p);
}

static inline __attribute__((always_inline)) enum cgn_verdict
inbound(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_family_steps *steps)
{
	struct cgn_mapping *m = p->map;
	enum cgn_verdict v;
	if (m == NULL)
		return cgn_drop(w, p, p->icmp_error ? CGN_DROP_ICMP_ERROR_UNMATCHED : CGN_DROP_NO_MAPPING);
	if ((v = cgn_filter_in(w, p, m)) != CGN_CONTINUE)
		return v;
	cgn_tcp_state(m, p, false, w->now_ms);
	if ((v = steps->hop_limit(w, p)) != CGN_CONTINUE)
		return v;
	if ((v = steps->fits(w, p, w->dp->role_mtu[CGN_PORT_INSIDE])) != CGN_CONTINUE)
		return v;
	if ((v = steps->translate_in(w, p)) != CGN_CONTINUE)
		return v;
	w->pkt.in_translated++;
	if (p->icmp_error)
		w->pkt.icmp_errors_translated++;
	p->out_port = w->dp->role_port[CGN_PORT_INSIDE];
	p->to = CGN_PORT_INSIDE;
	return CGN_TX;
}

uint16_t
cgn_pipeline_burst(struct cgn_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n)
{
	struct cgn_dataplane *dp = w->dp;
	struct cgn_pkt ctx[CGN_RX_BURST];
	struct cgn_mapping *candidate[CGN_RX_BURST];
	uint16_t live[CGN_RX_BURST];
	uint16_t k = 0, sent = 0;
	int16_t pi = dp->port_index[port];
	uint8_t side = pi >= 0 && dp->ports[pi].role == CGN_PORT_OUTSIDE ? CGN_SIDE_OUTSIDE : CGN_SIDE_INSIDE;

	w->pkt.rx += n;
	/* Classify: the mbuf headers of the burst were read by the PMD; prefetch every frame's
	 * first line now, and the mbuf and frame PREFETCH_OFFSET packets ahead again while
	 * classifying (l3fwd's pattern). */
	for (uint16_t i = 0; i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	uint16_t later[CGN_RX_BURST], n_later = 0; /* fragments after the first (fragment.h) */
	for (uint16_t i = 0; i < n; i++) {
		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET], char *) + RTE_CACHE_LINE_SIZE / 2);
		struct cgn_pkt *p = &ctx[i];
		p->m = pkts[i];
		p->side = side;
		p->in_port = port;
		p->map = NULL;
		p->frag = CGN_FRAG_NONE;
		p->frag6_ok = false;
		p->reassembled = false;
		if (cgn_classify(w, p) != CGN_CONTINUE) {
			/* e.g. too short for its transport header: a datagram classify keyed (IPv4's;
			 * IPv6's once classify64 chose NAT64's steps, fragment.h) */
			if (unlikely(p->frag == CGN_FRAG_FIRST) &&
			    (p->af == CGN_AF_IPV4 || p->steps == &cgn_steps_nat64))
				cgn_frag_refuse(w, p);
			continue;
		}
		if (unlikely(p->frag == CGN_FRAG_LATER)) {
			later[n_later++] = i;
			continue;
		}
		cgn_table_prefetch(dp->table, side, p->hash); /* lookup stage 1 */
		live[k++] = i;
	}
	if (k == 0 && n_later == 0)
		return 0;

	/* Lookup stage 2 for the burst: every entry it may need on its way into the cache. */
	for (uint16_t j = 0; j < k; j++)
		candidate[j] = cgn_table_candidate(dp->table, side, ctx[live[j]].hash);

	for (uint16_t j = 0; j < k; j++) {
		struct cgn_pkt *p = &ctx[live[j]];
		p->map = cgn_table_confirm(dp->table, &p->key, p->hash, candidate[j]); /* stage 3 */
		/* The inside of an inbound packet's mapping says which family it leaves with. */
		if (side == CGN_SIDE_OUTSIDE && p->map != NULL && unlikely(!cgn_addr_is_v4(&p->map->int_addr))) {
			p->steps = &cgn_steps_nat46;
			p->naf = CGN_AF_IPV6;
		}
		enum cgn_verdict v;
		if (likely(p->steps == &cgn_steps_nat44))
			v = side == CGN_SIDE_INSIDE ? outbound(w, p, &cgn_steps_nat44) : inbound(w, p, &cgn_steps_nat44);
		else
			v = side == CGN_SIDE_INSIDE ? outbound(w, p, p->steps) : inbound(w, p, p->steps);
		if (v != CGN_TX) {
			if (unlikely(p->frag == CGN_FRAG_FIRST))
				cgn_frag_refuse(w, p);
			continue;
		}
		const struct cgn_frag_entry *fe = unlikely(p->frag == CGN_FRAG_FIRST) ? cgn_frag_record(w, p) : NULL;
		if (cgn_send_inline(w, p))
			sent++;
		if (unlikely(fe != NULL && w->frags.n_held))
			sent = (uint16_t)(sent + cgn_frag_release(w, fe));
	}
	/* After the burst's first fragments, so that a datagram within one burst needs no hold. */
	for (uint16_t j = 0; j < n_later; j++) {
		struct cgn_pkt *p = &ctx[later[j]];
		if (cgn_frag_later(w, p) == CGN_TX && cgn_send_inline(w, p))
			sent++;
	}
	return sent;
}
