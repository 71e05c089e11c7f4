/*
 * A pool change (SIGHUP), the data plane's half (cgn_dataplane.h cgn_dataplane_repool): with
 * the workers paused and their rings drained, implicit sessions and held ports move to the
 * new pool's allocator where their address survives, and are deleted where it does not.
 * Control thread only, the workers paused (or never launched).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cgn_clock.h"
#include "cgn_dataplane.h"
#include "cgn_events.h"
#include "cgn_log.h"

/* Paused workers: waits until every message queued before now has been applied (two more
 * rounds of each worker's ring after the rings are empty). @return false after a second. */
static bool
drain_rings(struct cgn_dataplane *dp)
{
	if (!dp->launched)
		return true;
	uint64_t deadline = cgn_clock_ms() + 1000;
	while (cgn_dataplane_backlog(dp) != 0)
		if (cgn_clock_ms() > deadline)
			return false;
	uint32_t seen[RTE_MAX_LCORE];
	for (unsigned i = 0; i < dp->n_workers; i++)
		seen[i] = __atomic_load_n(&dp->workers[i].pause_rounds, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < dp->n_workers; i++)
		while (__atomic_load_n(&dp->workers[i].pause_rounds, __ATOMIC_ACQUIRE) - seen[i] < 2)
			if (cgn_clock_ms() > deadline)
				return false;
	return true;
}

/* Old subscriber index → new one (the same inside address), worked out once per subscriber
 * rather than once per session. */
struct sub_map {
	const struct cgn_pb *old_pb;
	uint32_t n;     /* old subscribers */
	int32_t *index; /* new index, -1 (none), or -2 (not worked out yet); NULL: short of memory */
};

static int32_t
new_sub(struct cgn_dataplane *dp, struct sub_map *sm, uint32_t old_sub)
{
	if (old_sub >= sm->n)
		return -1;
	if (sm->index != NULL && sm->index[old_sub] != -2)
		return sm->index[old_sub];
	int32_t sub = cgn_pb_subscriber(dp->pb, &cgn_pb_sub((struct cgn_pb *)sm->old_pb, old_sub)->addr, true);
	if (sm->index != NULL)
		sm->index[old_sub] = sub;
	return sub;
}

/* Takes (sub, addr, proto, port) on the new allocator if addr is still in the pool.
 * @return the new subscriber index, or -1. */
static int32_t
move_port(struct cgn_dataplane *dp, struct sub_map *sm, uint32_t old_sub, uint32_t addr, uint8_t proto,
	  uint16_t port)
{
	int32_t sub = new_sub(dp, sm, old_sub);
	if (sub < 0 || !cgn_dataplane_in_pool(dp, addr) || cgn_pb_take(dp->pb, (uint32_t)sub, addr, proto, port) != 0)
		return -1;
	return sub;
}

void
cgn_dataplane_repool(struct cgn_dataplane *dp, const struct cgn_pb *old_pb, const struct cgn_config *cfg,
		     struct cgn_repool_stats *st)
{
	*st = (struct cgn_repool_stats){ 0 };
	cgn_dataplane_set_pool(dp, cfg);
	if (dp->n_ports == 0)
		return;

	if (!drain_rings(dp))
		CGN_LOG(WARNING, "pool change: the workers' rings did not drain in a second");
	struct sub_map sm = { old_pb, __atomic_load_n(&old_pb->n_subs, __ATOMIC_SEQ_CST), NULL };
	sm.index = malloc(sizeof(*sm.index) * (sm.n ? sm.n : 1));
	for (uint32_t i = 0; sm.index != NULL && i < sm.n; i++)
		sm.index[i] = -2;

	/* Implicit sessions, a batch at a time as an RCU reader. Nothing changes the table
	 * during the walk (the workers wait, their rings are empty); the sessions that lose
	 * their address are deleted after it, so that the walk's cursor sees a still table. */
	unsigned reader = CGN_READER_CONTROL(dp);
	uint32_t cursor = 0, n_gone = 0, cap_gone = 0;
	struct cgn_key *gone = NULL;
	for (bool more = true; more;) {
		cgn_table_reader_online(dp->table, reader);
		for (unsigned n = 0; n < 1024; n++) {
			struct cgn_mapping *m = cgn_table_next(dp->table, &cursor);
			if (m == NULL) {
				more = false;
				break;
			}
			if (!cgn_mapping_workers_own(m->flags))
				continue; /* the PCP server moves its own */
			int32_t sub = move_port(dp, &sm, m->subscriber, m->ext_addr, m->proto, m->ext_port);
			if (sub >= 0) {
				m->subscriber = (uint32_t)sub; /* no worker reads it now */
				st->kept++;
				continue;
			}
			if (n_gone == cap_gone) {
				cap_gone = cap_gone ? cap_gone * 2 : 1024;
				struct cgn_key *g = realloc(gone, sizeof(*gone) * cap_gone);
				if (g == NULL) { /* short of memory: these stay, on ports nobody else gets */
					cap_gone = n_gone;
					continue;
				}
				gone = g;
			}
			gone[n_gone++] = cgn_mapping_in_key(m);
		}
		cgn_table_reader_offline(dp->table, reader);
	}
	for (uint32_t i = 0; i < n_gone; i += 1024) {
		cgn_table_reader_online(dp->table, reader);
		for (uint32_t j = i; j < n_gone && j < i + 1024; j++) {
			struct cgn_mapping *m = cgn_table_lookup(dp->table, &gone[j]);
			if (m == NULL)
				continue;
			struct cgn_ring_msg msg = { .op = CGN_MSG_DEL };
			msg.m = *m;
			if (cgn_table_apply(dp->table, &msg) == 0) {
				st->removed++;
				/* an implicit mapping's end (logging.sessions; cgn_events.h) */
				if (cgn_events_sessions() && cgn_mapping_workers_own(msg.m.flags)) {
					struct cgn_event ev;
					cgn_event_session(&ev, &msg.m, false, cgn_clock_ms());
					cgn_event_emit(&ev);
				}
			}
		}
		cgn_table_reader_offline(dp->table, reader);
	}
	free(gone);

	/* The ports the workers hold back (RFC 6888 REQ-8) stay held on the new allocator. */
	for (unsigned i = 0; i < dp->n_workers; i++) {
		struct cgn_worker *w = &dp->workers[i];
		for (uint32_t j = w->held_head; j != w->held_tail; j++) {
			struct cgn_held_port *h = &w->held[j & (CGN_HOLD_RING - 1)];
			if (h->sub == CGN_HELD_NONE)
				continue;
			const struct cgn_pb_sub *os = cgn_pb_sub((struct cgn_pb *)old_pb, h->sub);
			int32_t sub = move_port(dp, &sm, h->sub, old_pb->addrs[os->ext_index], h->proto, h->port);
			if (sub >= 0)
				st->holds_kept++;
			else
				st->holds_dropped++;
			h->sub = sub >= 0 ? (uint32_t)sub : CGN_HELD_NONE;
		}
	}
	free(sm.index);
}


/* A reload's new nat64.prefixes (cgn_dataplane.h). In place, as the pool change rewrites
 * subscribers: no worker reads an entry now, and a byte-wide field never tears for telemetry. */
uint32_t
cgn_dataplane_renat64(struct cgn_dataplane *dp, const uint8_t map[CGN_MAX_NAT64_PREFIXES])
{
	if (!drain_rings(dp))
		CGN_LOG(WARNING, "nat64 change: the workers' rings did not drain in a second");
	unsigned reader = CGN_READER_CONTROL(dp);
	uint32_t cursor = 0, n = 0;
	for (bool more = true; more;) {
		cgn_table_reader_online(dp->table, reader);
		for (unsigned k = 0; k < 1024; k++) {
			struct cgn_mapping *m = cgn_table_next(dp->table, &cursor);
			if (m == NULL) {
				more = false;
				break;
			}
			if (cgn_addr_is_v4(&m->int_addr) || m->pref64 >= CGN_MAX_NAT64_PREFIXES ||
			    map[m->pref64] == m->pref64)
				continue;
			m->pref64 = map[m->pref64];
			n++;
		}
		cgn_table_reader_offline(dp->table, reader);
	}
	return n;
}
