/*
 * The shared translation table, which every worker reads without locks: each mapping under
 * its inside key in one rte_hash and its outside key in another
 * (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF both; common/cgn_mapping.h), entries in an
 * rte_mempool. Two hashes, not one with both keys: a burst looks up one side, and half the
 * bucket array stays in cache far better (docs/architecture.md).
 *
 * Memory reclamation: both hashes are bound to one rte_rcu_qsbr variable (rte_hash_rcu_qsbr_add,
 * defer-queue mode). A deleted key's slot and its data pointer are released only after every
 * registered reader has passed a quiescent state; the entry goes back to the mempool when the
 * last of its two keys is released (refcnt).
 *
 * Who calls what:
 *   writers (cgn_table_apply):          workers, each applying its own ring (several writers:
 *                                        the hashes are created with MULTI_WRITER_ADD);
 *   readers (cgn_table_lookup, _next):   workers, and the telemetry thread between
 *                                        cgn_table_reader_online() and _offline();
 *   create/free:                         the main lcore, before workers start / after they stop.
 */
#ifndef CGN_TABLE_H
#define CGN_TABLE_H

#include <stdint.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "cgn_mapping.h"

/* Counters of the table; written by writers with relaxed atomics, read by telemetry. */
#define CGN_TABLE_COUNTERS(X)                                                 \
	X(adds, "mappings inserted")                                          \
	X(replaces, "mappings republished with new filters")                  \
	X(refreshes, "mapping lifetimes updated")                             \
	X(dels, "mappings removed")                                           \
	X(add_exists, "add for an inside key already present (ignored)")      \
	X(add_no_entry, "add failed: no free entry (table full)")             \
	X(add_no_slot, "add failed: hash has no free slot")                   \
	X(missing, "refresh or delete for an absent key")                     \
	X(replace_mismatch, "replace refused: the mapping there has another external endpoint") \
	X(replace_leaked, "replaced entries never returned (the defer queue full: cannot happen)") \
	X(freed, "entries returned to the pool after an RCU grace period")

struct cgn_table_stats {
#define X(name, doc) uint64_t name;
	CGN_TABLE_COUNTERS(X)
#undef X
};

struct cgn_table {
	struct rte_hash *hash[2]; /* by enum cgn_key_side: the inside keys, the outside keys */
	struct rte_mempool *entries;
	struct rte_rcu_qsbr *rcu;
	struct rte_rcu_qsbr_dq *replaced; /* entries superseded by REPLACE, freed after a grace period */
	uint32_t capacity;       /* mappings */
	uint32_t max_readers;    /* RCU thread ids 0 .. max_readers-1 */
	struct cgn_table_stats stats;
};

/**
 * Creates the table, its entry pool and its RCU variable. Main lcore, before workers start.
 * @param name        prefix of the DPDK object names (unique per process).
 * @param capacity    mappings held; each hash holds as many keys.
 * @param max_readers RCU reader thread ids to allow (workers + telemetry).
 * @return the table, or NULL with rte_errno set.
 */
struct cgn_table *cgn_table_create(const char *name, uint32_t capacity, uint32_t max_readers,
				   int socket_id);

/** Frees the table and every entry. Main lcore, after every reader has stopped. */
void cgn_table_free(struct cgn_table *t);

/**
 * Applies one control message (add, refresh, replace, delete). Writer context: a worker.
 * @return 0, -EEXIST, -ENOSPC (full), -ENOENT (refresh/delete of an absent key) or -EINVAL
 * (a REPLACE for another external endpoint).
 */
int cgn_table_apply(struct cgn_table *t, const struct cgn_ring_msg *msg);

/** @return the hash of a key in the table (its hash_func), and of cgn_dataplane_push's ring choice. */
static inline uint32_t
cgn_table_hash(const struct cgn_key *key)
{
	return rte_hash_crc(key, sizeof(*key), 0);
}

/**
 * Finds a mapping by either key. Reader context (online RCU reader): the pointer stays valid
 * until the caller's next quiescent state.
 */
struct cgn_mapping *cgn_table_lookup(const struct cgn_table *t, const struct cgn_key *key);

/**
 * Iterates the table's inside keys from *cursor (0 to start), one mapping per call.
 * Reader context. @return the mapping, or NULL at the end.
 */
struct cgn_mapping *cgn_table_next(const struct cgn_table *t, uint32_t *cursor);

/** @return mappings in the table now (inside keys counted). Any thread. */
uint32_t cgn_table_count(const struct cgn_table *t);

/** Registers and brings online RCU reader id for a non-worker thread (telemetry). */
void cgn_table_reader_online(struct cgn_table *t, unsigned reader_id);
void cgn_table_reader_offline(struct cgn_table *t, unsigned reader_id);

#endif /* CGN_TABLE_H */
