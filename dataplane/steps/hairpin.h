/*
 * Step "hairpin" (hairpin.c has the rule and its RFC sections): after an outbound packet was
 * translated, one to our own pool goes back inside; the test here is the fast path's (the
 * destination is not a pool address: it leaves toward the outside). Worker context.
 */
#ifndef CGN_HAIRPIN_H
#define CGN_HAIRPIN_H

#include "cgn_dataplane.h"

/** @return whether the mapping a hairpinned packet goes back to is an IPv6 subscriber's (its
 * translation back in then grows by 20 octets). hairpin.c */
bool cgn_hairpin_to_ipv6(struct cgn_worker *w, const struct cgn_pkt *p);

/** The slow part of cgn_hairpin(): a destination in the pool. hairpin.c */
enum cgn_verdict cgn_hairpin_back(struct cgn_worker *w, struct cgn_pkt *p);

/**
 * Step "hairpin": to one of our external endpoints, back inside, filtered as if it came from
 * outside (RFC 4787 REQ-9, RFC 5382 REQ-8); anything else leaves toward the outside.
 * @return CGN_TX or CGN_DROPPED.
 */
static inline enum cgn_verdict
cgn_hairpin(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;
	p->out_port = dp->role_port[CGN_PORT_OUTSIDE];
	p->to = CGN_PORT_OUTSIDE;
	if (likely(!p->hairpin)) /* outbound() tested the destination (never for an ICMP error) */
		return CGN_TX;
	return cgn_hairpin_back(w, p);
}

#endif /* CGN_HAIRPIN_H */
