/*
 * Background work of a worker, bounded per call so that it never stalls packet processing:
 *
 *   cgn_expire: walks the inside keys of the shared table, at most dataplane.expire_budget
 *     mappings and 8 times as many slots per call, and among the mappings whose control ring is this worker's (the hash of
 *     the inside key, as cgn_dataplane_push chooses)
 *     deletes implicit mappings idle past their timeout: UDP nat.udp_timeout_s (RFC 4787
 *     REQ-5), TCP established / transitory (RFC 5382 REQ-5), ICMP nat.icmp_timeout_s (RFC 5508
 *     REQ-1). Explicit, static and PEER mappings live by their PCP lifetime (RFC 6887 §16.2):
 *     the control thread removes them. Deleted entries are reclaimed through RCU.
 *   cgn_hold_release: gives freed ports back to their subscriber once nat.port_hold_s has
 *     passed (RFC 6888 REQ-8), at most 256 per call.
 *
 * An expired implicit mapping is NAT44_SESSION_DELETE / NAT64_SESSION_DELETE for the logger
 * (logging.sessions only; dataplane/cgn_events.h).
 *
 * Worker context.
 */
#include <netinet/in.h>

#include "cgn_dataplane.h"
#include "cgn_events.h"

static void
hold(struct cgn_worker *w, const struct cgn_mapping *m)
{
	struct cgn_dataplane *dp = w->dp;
	uint32_t hold_ms = dp->cfg->nat.port_hold_s * 1000;
	if (hold_ms == 0 || w->held_tail - w->held_head >= CGN_HOLD_RING) {
		cgn_pb_release(dp->pb, m->subscriber, m->proto, m->ext_port);
		w->pkt.ports_released++;
		return;
	}
	struct cgn_held_port *h = &w->held[w->held_tail++ & (CGN_HOLD_RING - 1)];
	h->until_ms = w->now_ms + hold_ms;
	h->sub = m->subscriber;
	h->port = m->ext_port;
	h->proto = m->proto;
	w->pkt.ports_held++;
}

void
cgn_expire(struct cgn_worker *w, uint64_t now)
{
	struct cgn_dataplane *dp = w->dp;
	const struct cgn_config *cfg = dp->cfg;
	uint32_t budget = cfg->dataplane.expire_budget, slots = cgn_table_slots(dp->table);

	/* budget mappings a call; a free slot costs an eighth of one, so that a sparse table is
	 * swept as quickly and a call stays bounded. */
	for (uint32_t visited = 0, scanned = 0; visited < budget && scanned < 8 * budget; scanned++) {
		if (w->expire_cursor >= slots) {
			w->expire_cursor = 0; /* the whole table seen: start again next time */
			return;
		}
		struct cgn_mapping *m = cgn_table_slot(dp->table, w->expire_cursor++);
		if (m == NULL)
			continue;
		visited++;
		/* Every change of a mapping is made by one worker: the one whose ring carries the
		 * control thread's messages for its inside key (cgn_dataplane_push), so an expiry
		 * never races a REPLACE (a PCP MAP adopting this implicit mapping). */
		if (!cgn_mapping_workers_own(m->flags))
			continue;
		if (dp->n_workers > 1) {
			struct cgn_key k = cgn_mapping_in_key(m);
			if (cgn_table_hash(dp->table, &k) % dp->n_workers != w->index)
				continue;
		}
		if (now < cgn_idle_expiry_ms(cfg, m))
			continue;
		struct cgn_ring_msg msg = { .op = CGN_MSG_DEL };
		msg.m = *m;
		if (cgn_table_apply(dp->table, &msg) == 0) {
			hold(w, m); /* m stays readable until our next quiescent state */
			w->pkt.sessions_expired++;
			if (cgn_events_sessions()) {
				struct cgn_event ev;
				cgn_event_session(&ev, m, false, now);
				cgn_event_emit(&ev);
			}
		}
	}
}

void
cgn_hold_release(struct cgn_worker *w, uint64_t now)
{
	for (unsigned i = 0; i < 256 && w->held_head != w->held_tail; i++) {
		struct cgn_held_port *h = &w->held[w->held_head & (CGN_HOLD_RING - 1)];
		if (h->until_ms > now)
			return;
		if (h->sub != CGN_HELD_NONE)
			cgn_pb_release(w->dp->pb, h->sub, h->proto, h->port);
		w->held_head++;
		w->pkt.ports_released++;
	}
}
