/*
 * Step "hairpin" (RFC 4787 §6 REQ-9, RFC 5382 §5 REQ-8): an outbound packet, translated,
 * whose destination is one of our own external endpoints goes back inside to the internal
 * endpoint of that mapping, its source staying the external one just written ("the NAT MUST
 * use the external source IP address and port ... as the source"), filtered as if it came
 * from outside. Everything else leaves toward the outside. The mapping it goes back to may be
 * an IPv6 subscriber's: then it is translated to IPv6 (RFC 6146 §3.8, "hairpinning"), whether
 * it came from an IPv4 or (translated 6->4 already) an IPv6 subscriber.
 * Worker context.
 */
#include <netinet/in.h>

#include "filter.h"
#include "hairpin.h"

/* The mapping a packet to our pool goes back to (outside key: its destination). */
static struct cgn_mapping *
peer_of(const struct cgn_worker *w, const struct cgn_pkt *p)
{
	const struct cgn_mapping *m = p->map;
	struct cgn_addr dst = cgn_addr_from_v4(p->remote);
	/* ICMP queries: the identifier is the "port" of both ends, and it is now ours. */
	uint16_t dport = p->proto == IPPROTO_ICMP ? m->ext_port : p->remote_port;
	struct cgn_key k = cgn_key_make(&dst, dport, p->proto, CGN_SIDE_OUTSIDE);
	return cgn_table_lookup(w->dp->table, &k);
}

bool
cgn_hairpin_to_ipv6(struct cgn_worker *w, const struct cgn_pkt *p)
{
	const struct cgn_mapping *peer = peer_of(w, p);
	return peer != NULL && !cgn_addr_is_v4(&peer->int_addr);
}

enum cgn_verdict
cgn_hairpin_back(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_mapping *m = p->map;
	struct cgn_mapping *peer = peer_of(w, p);
	if (peer == NULL)
		return cgn_drop(w, p, CGN_DROP_HAIRPIN_NO_MAPPING);
	enum cgn_verdict v = cgn_filter_hairpin(w, p, peer, m->ext_addr, p->proto == IPPROTO_ICMP ? 0 : m->ext_port);
	if (v != CGN_CONTINUE)
		return v;
	if (cgn_addr_is_v4(&peer->int_addr)) {
		cgn_translate44_hairpin(p, peer);
	} else { /* an IPv6 subscriber's (RFC 6146 §3.8): from our external endpoint under its Pref64 */
		if ((v = cgn_translate46_hairpin(w, p, peer)) != CGN_CONTINUE)
			return v;
	}
	p->out_port = p->in_port; /* when no inside route says otherwise */
	p->to = CGN_PORT_INSIDE;
	w->pkt.hairpinned++;
	return CGN_TX;
}
