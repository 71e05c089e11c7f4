/*
 * NAT events on their way to the logger (issue 16; docs/architecture.md, "The event path"):
 * one single-producer/single-consumer rte_ring of struct cgn_event (common/cgn_event.h, 64
 * octets) per lcore that may report: every worker lcore and the main lcore (the control
 * thread: PCP/NAT-PMP mappings, reclaim). The producer is the lcore itself
 * (cgn_event_emit()), the consumer the logger thread (control/logger.c), which trusts
 * nothing of what it dequeues (cgn_event_check()).
 *
 * The fast path pays nothing when logging is off: cgn_events_active is NULL (no destination
 * configured, RFC 6888 REQ-12) and every source tests cgn_events_on() before it builds an
 * event: one predictable branch. When it is on, an event costs a copy into the lcore's own
 * batch of CGN_EVENT_BATCH events, which goes into the ring in one burst when it is full and
 * at the end of every loop of its lcore (cgn_events_flush(): a worker after each round of
 * bursts, the control thread after each round of its loop), so the ring's head and tail,
 * shared with the logger, are touched once a batch, not once an event. What the full ring
 * does not take is dropped and counted on that lcore (log_dropped): no lock, no syscall, no
 * allocation, never a wait.
 *
 * Threads: cgn_events_init()/_fini() on the main lcore, before any worker is launched and
 * after they stopped and the logger drained (the rings and cgn_events_active live between
 * the two). cgn_event_emit() and cgn_event_emit_limited() from an EAL lcore (a worker or the
 * main lcore); from any other thread the event is counted as dropped (dropped_other).
 * The logger thread dequeues; telemetry reads the counters (relaxed).
 */
#ifndef CGN_EVENTS_H
#define CGN_EVENTS_H

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "cgn_config.h"
#include "cgn_event.h"
#include "cgn_mapping.h"
#include "cgn_portblock.h"

/* Kinds the source rate limiter keeps apart (RFC 8158 §4.6.5-7: exhaustion and quota events
 * are not sent for every packet that meets them): QUOTA_EXCEEDED per sub_event, then
 * PORTS_EXHAUSTED, ADDRESSES_EXHAUSTED. */
#define CGN_EVENT_LIMIT_KINDS (CGN_QUOTA_MAX + 2)
#define CGN_EVENT_LIMIT_MS 1000 /* one event per kind per lcore per second */
#define CGN_EVENT_BATCH 32      /* events an lcore gathers before one enqueue burst */

/* One lcore's ring and counters; cache-aligned, indexed by lcore id (l3fwd lcore_conf). */
struct cgn_events_lcore {
	struct rte_ring *ring; /* SP (this lcore) / SC (the logger); NULL: this lcore never reports */
	/* Events the full ring refused. Shared: written by this lcore only (relaxed load and
	 * store, no locked instruction), read by the logger and telemetry (relaxed). */
	uint64_t dropped;
	/* Events the rate limiter held back (not lost: one per second and kind is the point).
	 * Shared as dropped. */
	uint64_t limited;
	uint64_t limit_ms[CGN_EVENT_LIMIT_KINDS]; /* when each kind last passed; this lcore only */
	uint32_t n_batch;                         /* events in batch[]; this lcore only */
	struct cgn_event batch[CGN_EVENT_BATCH];  /* not yet in the ring; this lcore only */
} __rte_cache_aligned;

struct cgn_events {
	bool sessions;      /* logging.sessions: session create/delete events too */
	uint32_t ring_size; /* events each ring holds (logging.ring_size) */
	/* Events from threads that are no EAL lcore (they have no ring). Shared: fetch_add by
	 * them, read by the logger and telemetry. */
	uint64_t dropped_other;
	struct cgn_events_lcore lcore[RTE_MAX_LCORE];
};

/* The rings in use, or NULL when logging is off. Set by cgn_events_init(), cleared by
 * cgn_events_fini(): constant while any producer or the logger runs. */
extern struct cgn_events *cgn_events_active;

/** @return true if cfg sends events anywhere: an IPFIX collector or a syslog destination. */
static inline bool
cgn_events_wanted(const struct cgn_config *cfg)
{
	return cfg->logging.ipfix.on || cfg->logging.syslog.transport != CGN_SYSLOG_NONE;
}

/**
 * Makes a ring of cfg->logging.ring_size events for the main lcore and for every worker lcore
 * EAL runs, and publishes them in cgn_events_active, if cfg logs anywhere
 * (cgn_events_wanted()); else makes nothing and leaves cgn_events_active NULL. Main lcore,
 * after rte_eal_init() and before the workers are launched.
 * @return 0; -EBUSY if already made; -ENOMEM (a ring could not be made; nothing is left).
 */
int cgn_events_init(const struct cgn_config *cfg);

/** Frees the rings (events still in them are lost) and clears cgn_events_active. Main lcore,
 * the workers and the logger stopped. */
void cgn_events_fini(void);

/** @return true if events are being collected. Any thread. */
static inline bool
cgn_events_on(void)
{
	return cgn_events_active != NULL;
}

/** @return true if session events are collected too (logging.sessions). Any thread. */
static inline bool
cgn_events_sessions(void)
{
	return unlikely(cgn_events_active != NULL) && cgn_events_active->sessions;
}

/* Counts one event lost on lcore l (its own lcore only). */
static inline void
cgn_events_count(uint64_t *counter)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

/* Puts l's batch into its ring in one burst; what the ring does not take is counted lost. */
static inline void
cgn_events_flush_lcore(struct cgn_events_lcore *l)
{
	unsigned n = l->n_batch;
	l->n_batch = 0;
	unsigned done = rte_ring_sp_enqueue_burst_elem(l->ring, l->batch, sizeof(struct cgn_event), n, NULL);
	if (unlikely(done < n))
		__atomic_store_n(&l->dropped, __atomic_load_n(&l->dropped, __ATOMIC_RELAXED) + (n - done),
				 __ATOMIC_RELAXED);
}

/**
 * Hands the calling lcore's gathered events to the logger (its ring). Every lcore that
 * emits calls it at the end of each loop, so that an event waits one loop at most; nothing
 * when logging is off or nothing is gathered. The calling EAL lcore.
 */
static inline void
cgn_events_flush(void)
{
	struct cgn_events *e = cgn_events_active;
	if (likely(e == NULL))
		return;
	unsigned id = rte_lcore_id();
	if (id < RTE_MAX_LCORE && e->lcore[id].n_batch > 0)
		cgn_events_flush_lcore(&e->lcore[id]);
}

/**
 * Hands ev (copied) to the logger: into the calling lcore's batch, which goes into its ring
 * when full or at the lcore's next cgn_events_flush(); a full ring drops and counts
 * (log_dropped on this lcore). Nothing when logging is off. No lock, no syscall, no
 * allocation. The calling EAL lcore (worker or main); from another thread: counted dropped.
 */
static inline void
cgn_event_emit(const struct cgn_event *ev)
{
	struct cgn_events *e = cgn_events_active;
	if (likely(e == NULL))
		return;
	unsigned id = rte_lcore_id();
	if (unlikely(id >= RTE_MAX_LCORE || e->lcore[id].ring == NULL)) {
		__atomic_fetch_add(&e->dropped_other, 1, __ATOMIC_RELAXED);
		return;
	}
	struct cgn_events_lcore *l = &e->lcore[id];
	l->batch[l->n_batch++] = *ev;
	if (l->n_batch == CGN_EVENT_BATCH)
		cgn_events_flush_lcore(l);
}

/** @return the rate limiter's kind of ev (0 .. CGN_EVENT_LIMIT_KINDS-1), or -1 if it is not
 * rate-limited. */
static inline int
cgn_event_limit_kind(const struct cgn_event *ev)
{
	switch (ev->nat_event) {
	case CGN_NATEV_QUOTA_EXCEEDED:
		return ev->sub_event >= 1 && ev->sub_event <= CGN_QUOTA_MAX ? (int)ev->sub_event - 1 : -1;
	case CGN_NATEV_PORTS_EXHAUSTED:
		return CGN_QUOTA_MAX;
	case CGN_NATEV_ADDRESSES_EXHAUSTED:
		return CGN_QUOTA_MAX + 1;
	default:
		return -1;
	}
}

/**
 * cgn_event_emit() for the exhaustion and quota events: at most one per kind
 * (cgn_event_limit_kind()) per lcore per CGN_EVENT_LIMIT_MS, by ev->mono_ms; the others are
 * counted as limited. Same threads as cgn_event_emit().
 */
static inline void
cgn_event_emit_limited(const struct cgn_event *ev)
{
	struct cgn_events *e = cgn_events_active;
	if (likely(e == NULL))
		return;
	unsigned id = rte_lcore_id();
	int kind = cgn_event_limit_kind(ev);
	if (id < RTE_MAX_LCORE && kind >= 0) {
		struct cgn_events_lcore *l = &e->lcore[id];
		uint64_t last = l->limit_ms[kind];
		if (last != 0 && ev->mono_ms < last + CGN_EVENT_LIMIT_MS) {
			cgn_events_count(&l->limited);
			return;
		}
		l->limit_ms[kind] = ev->mono_ms ? ev->mono_ms : 1;
	}
	cgn_event_emit(ev);
}

/**
 * An event about one mapping's endpoints (RFC 8158 §4.6.1-4.6.4): nat44_event is the NAT44
 * value of Table 2 (SESSION_CREATE/_DELETE, BIB_CREATE/_DELETE); an IPv6 internal address
 * makes it the NAT64 one, two further in the table. Any thread (builds only).
 */
static inline void
cgn_event_endpoints(struct cgn_event *ev, enum cgn_nat_event nat44_event, uint8_t proto,
		    const struct cgn_addr *internal, uint16_t int_port, uint32_t ext_addr, uint16_t ext_port,
		    uint64_t now_ms)
{
	memset(ev, 0, sizeof(*ev));
	ev->mono_ms = now_ms;
	ev->nat_event = (uint8_t)(nat44_event + (cgn_addr_is_v4(internal) ? 0 : 2));
	ev->proto = proto;
	ev->internal = *internal;
	ev->int_port = int_port;
	ev->ext_addr = ext_addr;
	ev->ext_port = ext_port;
}

/** The session event of an implicit mapping: create or delete, at now_ms. Any thread. */
static inline void
cgn_event_session(struct cgn_event *ev, const struct cgn_mapping *m, bool create, uint64_t now_ms)
{
	cgn_event_endpoints(ev, create ? CGN_NATEV_NAT44_SESSION_CREATE : CGN_NATEV_NAT44_SESSION_DELETE, m->proto,
			    &m->int_addr, m->int_port, m->ext_addr, m->ext_port, now_ms);
	ev->origin = CGN_ORIGIN_DATA;
}

/**
 * Reports a new mapping refused for subscriber sub_addr (as cgn_subscriber_addr() names it):
 * QUOTA_EXCEEDED with sub_event and its limit (§4.6.7), or PORTS_EXHAUSTED of ext_addr and
 * proto (§4.6.6); rate-limited (cgn_event_emit_limited()). Nothing when logging is off. The
 * calling EAL lcore (a worker, the control thread).
 */
static inline void
cgn_event_refusal(uint64_t now_ms, const struct cgn_addr *sub_addr, enum cgn_nat_event what, uint32_t sub_event,
		  uint32_t value, uint32_t ext_addr, uint8_t proto)
{
	if (likely(!cgn_events_on()))
		return;
	struct cgn_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.mono_ms = now_ms;
	ev.nat_event = (uint8_t)what;
	ev.sub_event = sub_event;
	ev.value = value;
	ev.internal = *sub_addr;
	ev.ext_addr = ext_addr;
	ev.proto = proto;
	cgn_event_emit_limited(&ev);
}

/**
 * Reports what the port allocator's refusal rc (cgn_pb_alloc(), _alloc_run()) of subscriber
 * sub means, if anything: -EDQUOT its port quota (maxEntriesPerUser: max_blocks full blocks),
 * -ENOSPC no free block on its paired address (ports exhausted for proto). The workers'
 * sessions and the control thread's mappings alike. Same threads as cgn_event_refusal().
 */
static inline void
cgn_event_alloc_refusal(const struct cgn_config *cfg, const struct cgn_pb *pb, uint32_t sub,
			const struct cgn_addr *sub_addr, uint8_t proto, int rc, uint64_t now_ms)
{
	if (rc == -EDQUOT)
		cgn_event_refusal(now_ms, sub_addr, CGN_NATEV_QUOTA_EXCEEDED, CGN_QUOTA_PER_USER,
				  (uint32_t)cfg->nat.max_blocks * cfg->nat.block_size, 0, 0);
	else if (rc == -ENOSPC)
		cgn_event_refusal(now_ms, sub_addr, CGN_NATEV_PORTS_EXHAUSTED, 0, 0,
				  pb->addrs[cgn_pb_sub(pb, sub)->ext_index], proto);
}

/**
 * The port-block allocator's event hook (cgn_pb_set_event_hook(), ctx unused): stamps the
 * event with CLOCK_MONOTONIC if it has no time and emits it. The allocating EAL lcore.
 */
void cgn_events_pb_hook(void *ctx, const struct cgn_event *ev);

/** @return events lost to full rings, summed over the lcores (and other threads). Any thread. */
uint64_t cgn_events_dropped(void);

/** @return events the rate limiter held back, summed over the lcores. Any thread. */
uint64_t cgn_events_limited(void);

#endif /* CGN_EVENTS_H */
