/*
 * Step "session", the slow path of an outbound packet that found no mapping: creates an
 * implicit dynamic mapping on the worker itself, with a port of the subscriber's blocks
 * (common/cgn_portblock.h), never a round trip to the control thread.
 *
 * Endpoint-independent mapping (RFC 4787 REQ-1, RFC 5382 REQ-1): the mapping is keyed by the
 * internal address, port and protocol only, so every destination shares it. Two workers that
 * miss on the same inside key at once must not both insert: creation holds the subscriber's
 * creation flag (a spin on the slow path only, never on the fast path); the second looks
 * again under it and uses the first one's mapping.
 *
 * NAT logging (dataplane/cgn_events.h): a session made is NAT44_SESSION_CREATE or
 * NAT64_SESSION_CREATE (logging.sessions only); a refusal is QUOTA_EXCEEDED (the subscriber's
 * ports, max_subscribers, the table) or PORTS_EXHAUSTED (its external address has no free
 * block), one per kind per second (RFC 8158 §4.6.6, §4.6.7). Built only when logging is on.
 * Worker context.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_pause.h>

#include "cgn_dataplane.h"
#include "cgn_events.h"

/* External ports tried for one session when the table still holds the ones offered. */
#define SESSION_PORT_TRIES 4

static enum cgn_drop_reason
alloc_reason(int rc)
{
	switch (rc) {
	case -EDQUOT:
		return CGN_DROP_NO_PORTS;
	case -ENOSPC:
		return CGN_DROP_POOL_EXHAUSTED;
	default:
		return CGN_DROP_TABLE_FULL;
	}
}

/* No mapping can be made: ICMP 3/13 toward an IPv4 host (RFC 5508 §3, RFC 6888 REQ-4); ICMPv6
 * 1/3, address unreachable, toward an IPv6 one (RFC 6146 §3.5.1.1). */
static enum cgn_verdict
refuse(struct cgn_worker *w, struct cgn_pkt *p, enum cgn_drop_reason why)
{
	if (p->af == CGN_AF_IPV6)
		return cgn_icmp6_reply(w, p, CGN_ICMP6_DST_UNREACH, CGN_ICMP6_ADDR_UNREACH, 0, why);
	return cgn_icmp_reply(w, p, CGN_ICMP_DEST_UNREACH, CGN_ICMP_ADMIN_PROHIBITED, why);
}

enum cgn_verdict
cgn_session_create(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_dataplane *dp = w->dp;

	/* Only subscribers get mappings; an ICMP error about an unknown flow is just dropped. */
	if (p->icmp_error)
		return cgn_drop(w, p, CGN_DROP_ICMP_ERROR_UNMATCHED);
	if (!cgn_dataplane_inside(dp, &p->key.addr))
		return cgn_drop(w, p, CGN_DROP_NOT_INSIDE);
	/* An IPv6 subscriber is its prefix (nat64.subscriber_prefix_len): one external address
	 * and one port quota for all its addresses. */
	bool v6 = p->af == CGN_AF_IPV6;
	struct cgn_addr sub_addr = cgn_subscriber_addr(dp->cfg, &p->key.addr);
	int32_t sub = cgn_pb_subscriber(dp->pb, &sub_addr, true);
	if (sub < 0) { /* RFC 6888 REQ-4/-5: count, and tell the host */
		cgn_event_refusal(w->now_ms, &sub_addr, CGN_NATEV_QUOTA_EXCEEDED, CGN_QUOTA_SUBSCRIBERS,
				  dp->cfg->nat.max_subscribers, 0, 0);
		return refuse(w, p, CGN_DROP_SUBSCRIBERS_FULL);
	}
	struct cgn_pb_sub *s = cgn_pb_sub(dp->pb, (uint32_t)sub);

	/* One creator per subscriber at a time; the others wait a few hundred cycles and then
	 * find the mapping the winner made. */
	uint32_t expect = 0;
	while (!__atomic_compare_exchange_n(&s->creating, &expect, 1, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
		expect = 0;
		rte_pause();
	}
	struct cgn_mapping *existing = cgn_table_lookup(dp->table, &p->key);
	if (existing) {
		__atomic_store_n(&s->creating, 0, __ATOMIC_RELEASE);
		p->map = existing;
		return CGN_CONTINUE;
	}

	/* A random port of the subscriber's blocks (RFC 6888 REQ-15), not the internal one. The
	 * allocator may offer a port whose mapping is still in the table, its removal queued on
	 * another worker's ring (a PCP delete with no hold time): the table refuses to share the
	 * endpoint, and that port stays taken while another is tried. (A try may make the
	 * subscriber claim another block; it keeps it, as it would for its next sessions.) */
	uint16_t busy[SESSION_PORT_TRIES];
	unsigned n_busy = 0;
	enum cgn_drop_reason why = CGN_DROP_PORTS_STILL_MAPPED;
	int alloc_rc = 0, table_rc = 0; /* what refused, for the event */
	bool made = false;
	while (n_busy < SESSION_PORT_TRIES) {
		uint32_t ext;
		uint16_t port;
		int rc = cgn_pb_alloc(dp->pb, (uint32_t)sub, p->proto, 0, p->key.port, &w->rng, &ext, &port);
		if (rc != 0) {
			why = alloc_reason(rc);
			alloc_rc = rc;
			break;
		}
		struct cgn_mapping m;
		memset(&m, 0, sizeof(m));
		cgn_mapping_set(&m, &p->key, ext, port);
		m.flags = CGN_MAP_IMPLICIT;
		m.pref64 = v6 ? p->pref64 : 0;
		m.subscriber = (uint32_t)sub;
		m.last_out_ms = w->now_ms;
		m.expire_ms = 0; /* implicit: lives by its idle timeout (expire.c) */
		rc = cgn_table_add(dp->table, &m, &p->map);
		if (rc == 0) {
			made = true;
			break;
		}
		p->map = rc == -EEXIST ? cgn_table_lookup(dp->table, &p->key) : NULL;
		if (rc == -EEXIST && p->map == NULL) { /* the external endpoint is still mapped */
			busy[n_busy++] = port;
			continue;
		}
		/* No room; or the inside key came meanwhile (a PCP mapping another worker applied),
		 * which the packet then uses. */
		cgn_pb_release(dp->pb, (uint32_t)sub, p->proto, port);
		why = CGN_DROP_TABLE_FULL;
		table_rc = rc;
		break;
	}
	for (unsigned i = 0; i < n_busy; i++)
		cgn_pb_release(dp->pb, (uint32_t)sub, p->proto, busy[i]);
	__atomic_store_n(&s->creating, 0, __ATOMIC_RELEASE);
	if (made) {
		w->pkt.sessions_created++;
		if (cgn_events_sessions()) {
			struct cgn_event ev;
			cgn_event_session(&ev, p->map, true, w->now_ms);
			cgn_event_emit(&ev);
		}
		return CGN_CONTINUE;
	}
	if (p->map != NULL)
		return CGN_CONTINUE;
	if (unlikely(cgn_events_on())) {
		cgn_event_alloc_refusal(dp->cfg, dp->pb, (uint32_t)sub, &sub_addr, p->proto, alloc_rc, w->now_ms);
		if (table_rc == -ENOSPC) /* RFC 8158 §4.6.7: maxSessionEntries */
			cgn_event_refusal(w->now_ms, &sub_addr, CGN_NATEV_QUOTA_EXCEEDED, CGN_QUOTA_SESSIONS,
					  dp->cfg->dataplane.table_size, 0, 0);
	}
	return refuse(w, p, why);
}
