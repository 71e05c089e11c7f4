/*
 * The data plane as the rest of cgnatd sees it: the shared table, one control ring per worker,
 * and the worker lcores that drain those rings into the table.
 *
 * Ordering: every message about one mapping goes to the same worker's ring (chosen by a hash of
 * the inside key), so add → refresh → delete of a mapping are applied in the order sent, while
 * different mappings are applied by several workers at once.
 *
 * Threads: cgn_dataplane_create/_launch/_stop/_free on the main lcore; cgn_dataplane_push()
 * on the control thread only (each ring is single-producer); cgn_worker_main() is the body of
 * each worker lcore.
 */
#ifndef CGN_DATAPLANE_H
#define CGN_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include "cgn_mapping.h"
#include "cgn_table.h"

#define CGN_RING_BURST 32 /* control messages a worker applies per loop */

/* Per-worker counters: written by their worker only, read by telemetry (relaxed). */
#define CGN_WORKER_COUNTERS(X)                                       \
	X(loops, "iterations of the worker loop")                    \
	X(ring_msgs, "control messages applied")                     \
	X(ring_errors, "control messages that could not be applied") \
	X(idle_loops, "iterations that found no work")

struct cgn_worker_stats {
#define X(name, doc) uint64_t name;
	CGN_WORKER_COUNTERS(X)
#undef X
};

struct cgn_dataplane;

/* One worker lcore's state: cache-aligned, indexed by worker number (l3fwd lcore_conf). */
struct cgn_worker {
	unsigned lcore_id;
	unsigned index;        /* 0 .. n_workers-1; also its RCU reader id */
	struct rte_ring *ring; /* control → this worker */
	struct cgn_dataplane *dp;
	struct cgn_worker_stats stats;
} __rte_cache_aligned;

struct cgn_dataplane {
	struct cgn_table *table;
	unsigned n_workers;
	uint32_t idle_sleep_us;
	volatile bool stop;
	uint32_t seq;           /* next message sequence number (control thread) */
	uint64_t push_full;     /* messages refused because a ring was full (control thread) */
	struct cgn_worker workers[RTE_MAX_LCORE];
};

/* RCU reader ids beyond the workers': the telemetry threads (one walk at a time) and the
 * control thread (reading last_out_ms of a mapping). */
#define CGN_READER_TELEMETRY(dp) ((dp)->n_workers)
#define CGN_READER_CONTROL(dp) ((dp)->n_workers + 1)

/**
 * Creates the table and a ring for each worker lcore EAL gave us. Main lcore.
 * @return the data plane, or NULL with rte_errno set (and a message on stderr).
 */
struct cgn_dataplane *cgn_dataplane_create(uint32_t table_size, uint32_t ring_size,
					   uint32_t idle_sleep_us);

/** Starts cgn_worker_main() on every worker lcore. Main lcore. @return 0 or -errno. */
int cgn_dataplane_launch(struct cgn_dataplane *dp);

/** Asks the workers to stop and waits for them. Main lcore. */
void cgn_dataplane_stop(struct cgn_dataplane *dp);

void cgn_dataplane_free(struct cgn_dataplane *dp);

/**
 * Sends one message to the worker that owns msg->m.in. Control thread only.
 * @return 0, or -ENOBUFS if that worker's ring is full (the caller rolls back).
 */
int cgn_dataplane_push(struct cgn_dataplane *dp, struct cgn_ring_msg *msg);

/** @return how many messages are queued and not yet applied. Any thread. */
unsigned cgn_dataplane_backlog(const struct cgn_dataplane *dp);

/** The worker loop (lcore_function_t); arg is a struct cgn_worker. */
int cgn_worker_main(void *arg);

#endif /* CGN_DATAPLANE_H */
