/*
 * The state store: explicit mappings and PEER sessions that outlive a restart or a crash of
 * cgnatd, in an LMDB environment under state.path (docs/operations.md, "State store").
 * Records are opaque octets here (control/state_record.h encodes them; pcp_store.c decides
 * what to store and when). Three LMDB databases: "meta" (one record), "map" and "peer", the
 * last two keyed by a 64-bit id that only grows, so that new records append to the B-tree's
 * last page instead of dirtying a random one.
 *
 * Writes (group commit). Every put or delete goes into one write transaction, which
 * cgn_state_flush() commits: once per batch of requests, before their responses are sent. A
 * change that fails (the map is full) must leave the transaction as if the change had not
 * been tried, and LMDB marks a transaction unusable after such a failure; so every change is
 * also appended to a log of the open transaction, and a failure aborts the transaction and
 * replays the log into a new one (the same operations on the same pages: they fit again).
 * Savepoints (cgn_state_mark/_rollback) take back changes the same way: a change whose
 * data-plane push fails after it was written (the ring was full), or a request that fails. This gives the semantics of a nested transaction per request without paying for
 * one (LMDB's nested transactions allocate 3 MB each: measured 0.5 µs a change).
 *
 * Durability: committed transactions are in the file (written by write(2) at commit), so a
 * kill -9 loses none. Without state.sync = "commit" the environment is MDB_NOSYNC and a
 * thread fdatasyncs it every sync_interval_ms: a power loss loses at most that much, or may
 * leave a file LMDB cannot trust, which the next start finds corrupt (moved aside, start
 * empty). The data file is preallocated to the map size, so that a commit never meets a full
 * disk (ENOSPC); a full map fails the change, not the commit.
 *
 * Opening checks the whole file in a child process first (LMDB trusts its pages: a truncated
 * or damaged file can crash the reader with SIGBUS or SIGSEGV): every page referenced must be
 * in the file and every record must decode.
 *
 * Thread rules: one thread (cgnatd's control thread) calls everything; the sync thread is
 * internal.
 */
#ifndef CGN_STATE_STORE_H
#define CGN_STATE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_record.h"

struct cgn_state;

struct cgn_state_params {
	const char *dir;          /* made if missing (its parent must exist) */
	uint64_t map_size;        /* octets; the data file is preallocated to it */
	bool refuse_corrupt;      /* a store that cannot be read: fail instead of starting empty */
	bool sync_commit;         /* fdatasync at every commit; else every sync_interval_ms */
	uint32_t sync_interval_ms;
	uint64_t pool_fingerprint;
	uint32_t check_timeout_ms; /* the check of an existing file; 0: 60 s */
};

/* What opening found. */
enum cgn_state_found {
	CGN_STATE_NEW,       /* nothing (or a store moved aside): empty, a new epoch */
	CGN_STATE_SURVIVED,  /* the store of this pool: restore it, the epoch goes on */
	CGN_STATE_OTHER_POOL /* readable, another pool's: restore what fits, a new epoch (§14.2) */
};

/**
 * Opens (or creates) the store in p->dir, locked against a second cgnatd. An existing store
 * that is corrupt, truncated, or of another format is moved aside to data.mdb.bad-SECONDS
 * with a log line (file, reason, "starting empty, epoch reset"), unless p->refuse_corrupt.
 * A new store gets a meta record whose epoch starts at now_rt; *meta is the one in force.
 * @return 0 with *out, *found, *meta set; -EUCLEAN (corrupt store, refuse_corrupt), -EBUSY
 * (another process holds it), or another -errno; err says what and which file.
 */
int cgn_state_open(const struct cgn_state_params *p, uint64_t now_rt, struct cgn_state **out,
		   enum cgn_state_found *found, struct cgn_state_meta *meta, char *err, size_t err_len);

/** Commits what is pending, stops the sync thread, syncs, closes. NULL is fine. */
void cgn_state_close(struct cgn_state *st);

/** Replaces the meta record (in the open batch). @return 0 or -errno. */
int cgn_state_set_meta(struct cgn_state *st, const struct cgn_state_meta *m);

/** @return a new record id (never 0, never given before by this store). */
uint64_t cgn_state_new_id(struct cgn_state *st);

/**
 * Writes a record of kind MAPPING or PEER into the open batch (opened if none).
 * @return 0, -ENOSPC (the map is full: nothing of it written), or another -errno.
 */
int cgn_state_put(struct cgn_state *st, enum cgn_state_kind kind, uint64_t id, const void *val, size_t len);

/** Deletes a record (absent: 0). @return 0, or -errno with nothing changed. */
int cgn_state_del(struct cgn_state *st, enum cgn_state_kind kind, uint64_t id);

/** @return a savepoint of the open batch: the changes made after it can be taken back. */
size_t cgn_state_mark(const struct cgn_state *st);

/** Takes back every change made since mark (savepoints nest: any earlier mark stays valid). */
void cgn_state_rollback(struct cgn_state *st, size_t mark);

/**
 * Commits the open batch (nothing: nothing to do). Call before the batch's responses leave.
 * @return 0, or -errno (the batch could not be committed even once replayed: its changes are
 * lost to the store, logged).
 */
int cgn_state_flush(struct cgn_state *st);

/**
 * Calls fn on every record of kind (MAPPING or PEER), in id order, in one read transaction.
 * fn must not write to the store. @return records visited, or -errno.
 */
long cgn_state_foreach(struct cgn_state *st, enum cgn_state_kind kind,
		       void (*fn)(uint64_t id, const uint8_t *val, size_t len, void *arg), void *arg);

/** Counts, for telemetry and tests. */
struct cgn_state_stats {
	uint64_t commits, commit_failed, replays, puts, dels, map_full;
};
const struct cgn_state_stats *cgn_state_stats(const struct cgn_state *st);

/** @return the number of records of kind in the committed store, or -errno. */
long cgn_state_count(struct cgn_state *st, enum cgn_state_kind kind);

#endif /* CGN_STATE_STORE_H */
