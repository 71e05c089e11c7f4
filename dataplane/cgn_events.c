/*
 * The per-lcore event rings (cgn_events.h): made and freed on the main lcore, around the
 * lifetime of the workers and of the logger; their counters summed for telemetry.
 */
#include "cgn_events.h"

#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "cgn_clock.h"
#include "cgn_log.h"

struct cgn_events *cgn_events_active;

int
cgn_events_init(const struct cgn_config *cfg)
{
	if (cgn_events_active != NULL)
		return -EBUSY;
	if (!cgn_events_wanted(cfg))
		return 0; /* RFC 6888 REQ-12: nothing is collected for nowhere */
	struct cgn_events *e = rte_zmalloc("cgn_events", sizeof(*e), RTE_CACHE_LINE_SIZE);
	if (e == NULL)
		return -ENOMEM;
	e->sessions = cfg->logging.sessions;
	e->ring_size = cfg->logging.ring_size;
	unsigned id;
	RTE_LCORE_FOREACH(id) { /* the main lcore and every worker */
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "cgn_ev%u", id);
		/* RING_F_EXACT_SZ: ring_size events fit, not ring_size - 1. */
		e->lcore[id].ring = rte_ring_create_elem(name, sizeof(struct cgn_event), e->ring_size,
							 (int)rte_lcore_to_socket_id(id),
							 RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
		if (e->lcore[id].ring == NULL) {
			CGN_LOG(ERR, "cannot make the event ring of lcore %u (%u events): %s", id, e->ring_size,
				rte_strerror(rte_errno));
			for (unsigned j = 0; j < RTE_MAX_LCORE; j++)
				rte_ring_free(e->lcore[j].ring);
			rte_free(e);
			return -ENOMEM;
		}
	}
	__atomic_store_n(&cgn_events_active, e, __ATOMIC_RELEASE);
	return 0;
}

void
cgn_events_fini(void)
{
	struct cgn_events *e = cgn_events_active;
	if (e == NULL)
		return;
	__atomic_store_n(&cgn_events_active, NULL, __ATOMIC_RELEASE);
	for (unsigned j = 0; j < RTE_MAX_LCORE; j++)
		rte_ring_free(e->lcore[j].ring);
	rte_free(e);
}

void
cgn_events_pb_hook(void *ctx __rte_unused, const struct cgn_event *ev)
{
	if (ev->mono_ms != 0) {
		cgn_event_emit(ev);
		return;
	}
	struct cgn_event copy = *ev;
	copy.mono_ms = cgn_clock_ms(); /* vDSO: no system call */
	cgn_event_emit(&copy);
}

uint64_t
cgn_events_dropped(void)
{
	struct cgn_events *e = __atomic_load_n(&cgn_events_active, __ATOMIC_ACQUIRE);
	if (e == NULL)
		return 0;
	uint64_t n = __atomic_load_n(&e->dropped_other, __ATOMIC_RELAXED);
	for (unsigned j = 0; j < RTE_MAX_LCORE; j++)
		n += __atomic_load_n(&e->lcore[j].dropped, __ATOMIC_RELAXED);
	return n;
}

uint64_t
cgn_events_limited(void)
{
	struct cgn_events *e = __atomic_load_n(&cgn_events_active, __ATOMIC_ACQUIRE);
	if (e == NULL)
		return 0;
	uint64_t n = 0;
	for (unsigned j = 0; j < RTE_MAX_LCORE; j++)
		n += __atomic_load_n(&e->lcore[j].limited, __ATOMIC_RELAXED);
	return n;
}
