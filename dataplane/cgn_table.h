/*
 * The shared translation table, which every worker reads without locks. Each mapping is
 * found by its inside key on one side and its outside key on the other
 * (common/cgn_mapping.h); entries live in an rte_mempool.
 *
 * Each side is an array of 64-octet buckets of seven slots. A key has one home bucket; when
 * it is full the key goes to one of the next CGN_TABLE_MAX_PROBE buckets, and the home bucket
 * records how far its keys went (`probe`). A slot is one 64-bit word: 16 bits of the key's hash
 * (the signature) and the entry's address. The key itself is not stored: a lookup compares it
 * with the entry's own endpoints, in line 0, which the packet reads next anyway. So a lookup
 * costs one bucket and the entry: two cache misses where rte_hash costs four (two buckets,
 * the key-store slot, then the entry). docs/performance.md has the measurements that made us
 * leave rte_hash here.
 *
 * Concurrency: readers take no lock. Writers hold the table's spinlock and publish a slot
 * with one release store, after the entry is written; a reader that loads the slot sees the
 * whole entry. A slot may be reused at once: a reader holding its old word compares the key
 * with an entry that is still valid. A removed or replaced entry goes to an RCU defer queue
 * (rte_rcu_qsbr) and back to the mempool only after every reader has passed a quiescent state.
 *
 * Who calls what:
 *   writers (cgn_table_apply):              workers, each applying its own ring, adding the
 *                                            sessions it creates and removing those it expires;
 *                                            the main lcore while workers are paused (pool
 *                                            change);
 *   readers (cgn_table_lookup, the stages, _next): workers, and the telemetry and control threads
 *                                            between cgn_table_reader_online() and _offline();
 *   create/free:                             the main lcore, before workers start / after they stop.
 */
#ifndef CGN_TABLE_H
#define CGN_TABLE_H

#include <stdint.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_hash_crc.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>

#include "cgn_mapping.h"

/* Counters of the table; written by writers with relaxed atomics, read by telemetry. */
#define CGN_TABLE_COUNTERS(X)                                                 \
	X(adds, "mappings inserted")                                          \
	X(replaces, "mappings republished with new filters")                  \
	X(refreshes, "mapping lifetimes updated")                             \
	X(dels, "mappings removed")                                           \
	X(add_exists, "add for a key already present on either side (refused)") \
	X(add_no_entry, "add failed: no free entry (table full)")             \
	X(add_no_slot, "add failed: a key's home bucket and the next ones are full") \
	X(missing, "refresh or delete for an absent key")                     \
	X(replace_mismatch, "replace refused: the mapping there has another external endpoint") \
	X(retire_leaked, "removed entries never returned (the defer queue full: cannot happen)") \
	X(freed, "entries returned to the pool after an RCU grace period")

struct cgn_table_stats {
#define X(name, doc) uint64_t name;
	CGN_TABLE_COUNTERS(X)
#undef X
};

#define CGN_TABLE_SLOTS 7      /* slots of a bucket */
#define CGN_TABLE_MAX_CAPACITY (1u << 28) /* mappings (slot cursors stay within 32 bits) */
#define CGN_TABLE_MAX_PROBE 16 /* buckets after the home one a key may go to */

/*
 * A slot: 0 when free, else one word of
 *   bits 48-63  the key's signature (cgn_table_sig)
 *   bits 42-46  its distance from its home bucket (0 .. CGN_TABLE_MAX_PROBE)
 *   bits  0-41  the entry's address >> 6 (entries are cache-line aligned, below 2^48)
 */
#define CGN_SLOT_SIG_MASK (UINT64_C(0xffff) << 48)
#define CGN_SLOT_DIST_SHIFT 42
#define CGN_SLOT_ADDR_MASK ((UINT64_C(1) << 42) - 1)

/* One bucket: a cache line. */
struct cgn_table_bucket {
	uint64_t slot[CGN_TABLE_SLOTS]; /* see above */
	uint32_t probe;                 /* keys of this home lie up to `probe` buckets further
					 * (raised before such a key is published, lowered
					 * when the furthest goes) */
	uint32_t reserved;
} __attribute__((aligned(64)));

struct cgn_table {
	struct cgn_table_bucket *buckets[2]; /* by enum cgn_key_side: the inside keys, the outside keys */
	uint32_t mask;                       /* buckets per side - 1 (a power of two - 1) */
	uint32_t capacity;                   /* mappings */
	struct rte_mempool *entries;
	struct rte_rcu_qsbr *rcu;
	struct rte_rcu_qsbr_dq *retired; /* removed or replaced entries, freed after a grace period */
	uint32_t max_readers;            /* RCU thread ids 0 .. max_readers-1 */
	uint32_t seed;                   /* of the hash: keys' homes cannot be worked out offline */
	rte_spinlock_t write_lock;
	struct cgn_table_stats stats;
};

/**
 * Creates the table, its entry pool and its RCU variable. Main lcore, before workers start.
 * @param name        prefix of the DPDK object names (unique per process).
 * @param capacity    mappings held, 1 .. CGN_TABLE_MAX_CAPACITY; each side has slots for 1.75
 *                    to 3.5 times as many keys.
 * @param max_readers RCU reader thread ids to allow (workers, telemetry, control).
 * @param seed        of the hash; 0 = a random one (tests fix it, for a repeatable order).
 * @return the table, or NULL with rte_errno set (EINVAL: capacity; ENOMEM; DPDK's own).
 */
struct cgn_table *cgn_table_create(const char *name, uint32_t capacity, uint32_t max_readers,
				   uint32_t seed, int socket_id);

/** Frees the table and every entry. Main lcore, after every reader has stopped. */
void cgn_table_free(struct cgn_table *t);

/**
 * Applies one control message (add, refresh, replace, delete). Writer context.
 * @return 0; -EEXIST (an add for a key present on either side); -ENOSPC (full: no entry, or
 * no slot within reach); -ENOENT (refresh, replace or delete of an absent key); -EINVAL (a
 * REPLACE for another external endpoint, or an unknown op).
 */
int cgn_table_apply(struct cgn_table *t, const struct cgn_ring_msg *msg);

/**
 * Adds mapping m (CGN_MSG_ADD without the message). Writer context.
 * @return as cgn_table_apply; on 0, *added is the published entry (valid until the caller's
 * next quiescent state).
 */
int cgn_table_add(struct cgn_table *t, const struct cgn_mapping *m, struct cgn_mapping **added);

/*
 * CRC32-C is linear: keys that differ in a few bits (one subscriber's ports, a /24's
 * addresses) can leave some low bits of the CRC constant (seen: bit 0 never set over 256
 * addresses × 1024 ports). murmur3's finaliser spreads every bit over all of them.
 */
static inline uint32_t
cgn_table_mix(uint32_t crc)
{
	crc ^= crc >> 16;
	crc *= 0x85ebca6bu;
	crc ^= crc >> 13;
	crc *= 0xc2b2ae35u;
	return crc ^ (crc >> 16);
}

/** @return the hash of a key: its home bucket (low bits), its signature, and
 * cgn_dataplane_push's ring choice. Seeded: a subscriber choosing its ports cannot aim them
 * all at one bucket (it would fill the buckets others' keys overflow to). */
static inline uint32_t
cgn_table_hash(const struct cgn_table *t, const struct cgn_key *key)
{
	/* The CRC of the key's four 8-octet words, as rte_hash_crc() would compute it, but read
	 * with memcpy: a key just written field by field and read back as uint64_t through a
	 * cast pointer is undefined under strict aliasing, and gcc -O2 did reorder the reads
	 * before the writes (wrong hashes in a test). */
	uint64_t w[4];
	memcpy(w, key, sizeof(w));
	uint32_t h = t->seed;
	for (unsigned i = 0; i < 4; i++)
		h = rte_hash_crc_8byte(w[i], h);
	return cgn_table_mix(h);
}
_Static_assert(sizeof(struct cgn_key) == 32, "cgn_table_hash reads four words");
/* cgn_table_hash_v4 lays the words out from these offsets. */
_Static_assert(offsetof(struct cgn_key, addr) == 0 && offsetof(struct cgn_key, port) == 16 &&
		       offsetof(struct cgn_key, proto) == 18 && offsetof(struct cgn_key, side) == 19 &&
		       offsetof(struct cgn_key, domain) == 20 && offsetof(struct cgn_key, remote_v4) == 24,
	       "struct cgn_key as cgn_table_hash_v4 reads it");

/**
 * @return cgn_table_hash() of the key cgn_key_set_v4() writes, computed from the values
 * rather than read back from the key: classify has just written it field by field, and
 * reading it at once as 8-octet words would stall on store forwarding. The words are those
 * of struct cgn_key in memory: 8 zero octets, ::ffff: and the address, then port, protocol,
 * side and a zero domain, then 8 zero octets.
 */
static inline uint32_t
cgn_table_hash_v4(const struct cgn_table *t, uint32_t v4_be, uint16_t port, uint8_t proto,
		  enum cgn_key_side side)
{
#if RTE_BYTE_ORDER != RTE_LITTLE_ENDIAN
#error "cgn_table_hash_v4 lays out the key's words for a little-endian CPU"
#endif
	uint32_t h = rte_hash_crc_8byte(0, t->seed);
	h = rte_hash_crc_8byte(UINT64_C(0xffff0000) | (uint64_t)v4_be << 32, h);
	h = rte_hash_crc_8byte(port | (uint64_t)proto << 16 | (uint64_t)side << 24, h);
	return cgn_table_mix(rte_hash_crc_8byte(0, h));
}

/* The signature, in a slot's top 16 bits: from every bit of the hash, not the bucket's bits. */
static inline uint64_t
cgn_table_sig(uint32_t hash)
{
	return (uint64_t)((hash * 0x9e3779b1u) >> 16) << 48;
}

static inline struct cgn_mapping *
cgn_table_slot_entry(uint64_t word)
{
	return (struct cgn_mapping *)(uintptr_t)((word & CGN_SLOT_ADDR_MASK) << 6);
}

/* @return whether m is the mapping of key on key->side (its endpoint on that side). */
static inline bool
cgn_table_key_matches(const struct cgn_mapping *m, const struct cgn_key *key)
{
	if (m->proto != key->proto || m->domain != key->domain)
		return false;
	if (key->side == CGN_SIDE_INSIDE)
		return m->int_port == key->port && cgn_addr_eq(&m->int_addr, &key->addr);
	return m->ext_port == key->port && cgn_addr_is_v4(&key->addr) &&
	       cgn_addr_v4(&key->addr) == m->ext_addr;
}

/**
 * Finds a mapping by either key. Reader context (online RCU reader): the pointer stays valid
 * until the caller's next quiescent state.
 */
struct cgn_mapping *cgn_table_lookup(const struct cgn_table *t, const struct cgn_key *key);

/* The rare ends of a bulk lookup: a key whose home overflowed, or a signature that lied. */
struct cgn_mapping *cgn_table_lookup_hashed(const struct cgn_table *t, const struct cgn_key *key,
					    uint32_t hash);

/*
 * A burst's lookup comes in three stages, each run over the whole burst before the next, so
 * that the cache misses of a stage overlap (nat44.c interleaves them with its own loops):
 *   cgn_table_prefetch   starts fetching a key's home bucket, given its hash;
 *   cgn_table_candidate  finds the slot with the key's signature and starts fetching its entry;
 *   cgn_table_confirm    compares the key with that entry, and falls back to a full search
 *                        when the home bucket overflowed or a signature lied.
 * Reader context (online RCU reader).
 */

/** Starts fetching the home bucket of a key of side, given its hash. */
static inline void
cgn_table_prefetch(const struct cgn_table *t, enum cgn_key_side side, uint32_t hash)
{
	rte_prefetch0(&t->buckets[side & 1][hash & t->mask]);
}

/** @return the entry of the home bucket's first slot with the signature of hash (on its way
 * into the cache), or NULL. */
static inline struct cgn_mapping *
cgn_table_candidate(const struct cgn_table *t, enum cgn_key_side side, uint32_t hash)
{
	const struct cgn_table_bucket *b = &t->buckets[side & 1][hash & t->mask];
	uint64_t sig = cgn_table_sig(hash);
	for (unsigned s = 0; s < CGN_TABLE_SLOTS; s++) {
		uint64_t w = __atomic_load_n(&b->slot[s], __ATOMIC_ACQUIRE);
		if (w != 0 && (w & CGN_SLOT_SIG_MASK) == sig) {
			struct cgn_mapping *m = cgn_table_slot_entry(w);
			rte_prefetch0(m);
			return m;
		}
	}
	return NULL;
}

/** @return key's mapping, or NULL; candidate is what cgn_table_candidate() returned for it. */
static inline struct cgn_mapping *
cgn_table_confirm(const struct cgn_table *t, const struct cgn_key *key, uint32_t hash,
		  struct cgn_mapping *candidate)
{
	if (likely(candidate != NULL) && likely(cgn_table_key_matches(candidate, key)))
		return candidate;
	if (candidate == NULL &&
	    __atomic_load_n(&t->buckets[key->side & 1][hash & t->mask].probe, __ATOMIC_ACQUIRE) == 0)
		return NULL;
	return cgn_table_lookup_hashed(t, key, hash);
}

/**
 * Iterates the table's mappings (its inside keys) from *cursor (0 to start), one mapping a
 * call. Reader context. @return the mapping, or NULL at the end.
 */
struct cgn_mapping *cgn_table_next(const struct cgn_table *t, uint32_t *cursor);

/** @return the slots of a side: cursors of cgn_table_next run from 0 to this. */
static inline uint32_t
cgn_table_slots(const struct cgn_table *t)
{
	return (t->mask + 1) * CGN_TABLE_SLOTS;
}

/**
 * @return the mapping in inside-key slot c (c < cgn_table_slots()), or NULL where the slot is
 * free. Reader context: a bounded walk reads the table slot by slot (dataplane/steps/expire.c).
 */
static inline struct cgn_mapping *
cgn_table_slot(const struct cgn_table *t, uint32_t c)
{
	uint64_t w = __atomic_load_n(&t->buckets[CGN_SIDE_INSIDE][c / CGN_TABLE_SLOTS].slot[c % CGN_TABLE_SLOTS],
				     __ATOMIC_ACQUIRE);
	return w != 0 ? cgn_table_slot_entry(w) : NULL;
}

/** Returns to the pool the removed entries whose grace period is over (it does not wait).
 * Writers do it as they remove and before refusing an add; this is for a writer thread
 * that wants it now (it takes the table's lock). */
void cgn_table_reclaim(struct cgn_table *t);

/** @return mappings in the table now. Any thread. */
uint32_t cgn_table_count(const struct cgn_table *t);

/** Registers and brings online RCU reader id for a non-worker thread (telemetry, control):
 * entries it finds stay valid until it goes offline. */
void cgn_table_reader_online(struct cgn_table *t, unsigned reader_id);
/** Takes reader id offline and unregisters it: writers no longer wait for it. */
void cgn_table_reader_offline(struct cgn_table *t, unsigned reader_id);

#endif /* CGN_TABLE_H */
