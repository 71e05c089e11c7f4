/*
 * Step "filter" (filter.c has the rules and their RFC sections): who may send into a mapping
 * from outside. The checks here are the fast path's: a mapping with no FILTER under
 * endpoint-independent filtering admits everyone, and nothing is recorded; the rest is
 * filter.c's. Worker context.
 */
#ifndef CGN_FILTER_H
#define CGN_FILTER_H

#include "cgn_dataplane.h"

/** The slow part of cgn_filter_in(). filter.c */
enum cgn_verdict cgn_filter_in_check(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *m);
/** The slow part of cgn_filter_permit(). filter.c */
void cgn_filter_permit_peer(struct cgn_worker *w, const struct cgn_pkt *p, struct cgn_mapping *m);

/**
 * Step "filter", inbound: whether the mapping admits the packet's remote peer: its FILTERs
 * (RFC 6887 §13.3), and for implicit mappings nat.filtering (RFC 4787 REQ-8). An ICMP error
 * passes: it is about a packet the mapping sent, from any router on the way.
 * @return CGN_CONTINUE, or CGN_DROPPED (FILTERED).
 */
static inline enum cgn_verdict
cgn_filter_in(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *m)
{
	if (likely(m->n_filters == 0) &&
	    (w->dp->cfg->nat.filtering == CGN_FILTER_EIF || !(m->flags & CGN_MAP_IMPLICIT)))
		return CGN_CONTINUE;
	return p->icmp_error ? CGN_CONTINUE : cgn_filter_in_check(w, p, m);
}

/** Step "filter", outbound: an implicit mapping's packet permits its destination to answer
 * (ADF, APDF; nothing under EIF). */
static inline void
cgn_filter_permit(struct cgn_worker *w, const struct cgn_pkt *p, struct cgn_mapping *m)
{
	if (unlikely(w->dp->cfg->nat.filtering != CGN_FILTER_EIF) && (m->flags & CGN_MAP_IMPLICIT) && !p->icmp_error)
		cgn_filter_permit_peer(w, p, m);
}

/**
 * Step "filter" for a hairpinned packet: peer (the mapping it goes to) admits it from the
 * external endpoint (src, sport) it was translated to, as if it came from outside (RFC 4787
 * REQ-9). filter.c @return CGN_CONTINUE, or CGN_DROPPED (FILTERED).
 */
enum cgn_verdict cgn_filter_hairpin(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *peer,
				    uint32_t src, uint16_t sport);

#endif /* CGN_FILTER_H */
