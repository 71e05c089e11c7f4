/*
 * Step "filter": who may send into a mapping from outside.
 *   - A mapping with FILTERs (RFC 6887 §13.3) admits only remote peers of its FILTER set.
 *   - Implicit mappings follow nat.filtering (RFC 4787 §5 REQ-8, RFC 6888 REQ-7):
 *     endpoint-independent (EIF, the default: anyone), address-dependent (ADF) or address and
 *     port dependent (APDF): an outbound packet permits its destination (address, or address
 *     and port) to answer; an inbound packet must come from a permitted one.
 * Mapping (which external endpoint) and filtering (who may use it) stay apart: session.c and
 * the table decide the first, this file only the second.
 *
 * Permitted peers: up to CGN_MAP_PEERS a mapping, one atomic word each in a slot chosen by
 * hash: a new peer takes the slot its hash picks, so a flow to many peers may forget one it
 * permitted earlier (documented limit). Under EIF this costs nothing.
 * Worker context (several workers may write a mapping's slots at once: relaxed atomics).
 */
#include <netinet/in.h>

#include "filter.h"

static inline uint64_t
peer_tag(enum cgn_filtering mode, uint32_t addr, uint16_t port)
{
	return (uint64_t)addr << 32 | (uint64_t)(mode == CGN_FILTER_APDF ? port : 0) << 16 | 1;
}

static inline unsigned
peer_slot(uint64_t tag)
{
	return (unsigned)((tag * 0x9e3779b97f4a7c15ull) >> 61); /* 0..7 */
}

/* §13.3: a filtered mapping admits only remote peers of its FILTER set. */
static bool
filters_admit(const struct cgn_mapping *m, uint32_t addr, uint16_t port)
{
	if (m->n_filters == 0)
		return true;
	struct cgn_addr remote = cgn_addr_from_v4(addr);
	for (unsigned i = 0; i < m->n_filters && i < CGN_MAP_FILTERS; i++) {
		const struct cgn_filter *f = &m->filters[i];
		struct cgn_prefix pfx = { f->addr, f->prefix_len };
		if (cgn_prefix_contains(&pfx, &remote) && (f->port == 0 || f->port == port))
			return true;
	}
	return false;
}

/* Whether m admits a packet from (addr, port), network order address, host order port. */
static bool
admits(const struct cgn_worker *w, const struct cgn_mapping *m, uint32_t addr, uint16_t port)
{
	if (!filters_admit(m, addr, port))
		return false;
	enum cgn_filtering mode = w->dp->cfg->nat.filtering;
	if (mode == CGN_FILTER_EIF || !(m->flags & CGN_MAP_IMPLICIT))
		return true;
	uint64_t tag = peer_tag(mode, addr, port);
	return __atomic_load_n(&m->peers[peer_slot(tag)], __ATOMIC_RELAXED) == tag;
}

enum cgn_verdict
cgn_filter_in_check(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *m)
{
	return admits(w, m, p->remote, p->remote_port) ? CGN_CONTINUE : cgn_drop(w, p, CGN_DROP_FILTERED);
}

enum cgn_verdict
cgn_filter_hairpin(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *peer, uint32_t src,
		   uint16_t sport)
{
	return admits(w, peer, src, sport) ? CGN_CONTINUE : cgn_drop(w, p, CGN_DROP_FILTERED);
}

void
cgn_filter_permit_peer(struct cgn_worker *w, const struct cgn_pkt *p, struct cgn_mapping *m)
{
	uint64_t tag = peer_tag(w->dp->cfg->nat.filtering, p->remote, p->remote_port);
	uint64_t *slot = &m->peers[peer_slot(tag)];
	if (__atomic_load_n(slot, __ATOMIC_RELAXED) != tag)
		__atomic_store_n(slot, tag, __ATOMIC_RELAXED);
}
