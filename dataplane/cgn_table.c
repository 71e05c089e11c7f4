/*
 * The shared translation table (see cgn_table.h): buckets, writers under the spinlock, RCU
 * reclamation of removed entries.
 */
#include "cgn_table.h"
#include "cgn_log.h"

#include <errno.h>
#include <stdio.h>

#include <rte_debug.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_random.h>

#define STAT_ADD(t, field) __atomic_fetch_add(&(t)->stats.field, 1, __ATOMIC_RELAXED)

static inline uint32_t
slot_dist(uint64_t word)
{
	return (uint32_t)(word >> CGN_SLOT_DIST_SHIFT) & 0x1f;
}

/* The address part of a slot's word for entry m. */
static inline uint64_t
slot_addr(const struct cgn_mapping *m)
{
	return (uint64_t)(uintptr_t)m >> 6;
}

/* Entries beyond the capacity: a REPLACE of a full table needs one while the old one waits
 * out its grace period. One per 1024, at least one. */
static uint32_t
spare_entries(uint32_t capacity)
{
	return capacity / 1024 + 1;
}
/* Entries a writer takes back at most in one go, under the lock (the rest come later). */
#define RECLAIM_BATCH 64

static uint32_t
buckets_for(uint32_t capacity)
{
	/* At least capacity / 4 buckets of 7 slots: no side more than 57 % full. */
	uint32_t want = (capacity + 3) / 4;
	return want <= 2 ? 2 : rte_align32pow2(want);
}

/* In the defer queue, an entry a REPLACE retired has bit 0 of its address set (entries are
 * cache-line aligned): its late writes are merged before it is freed. */
#define RETIRED_REPLACED ((uintptr_t)1)

static uint64_t *slot_of(struct cgn_table *t, const struct cgn_key *key);

/*
 * Writer, once the grace period of an entry a REPLACE retired is over: between REPLACE copying
 * its traffic state to the successor and their next quiescent state, workers that had found
 * the old entry went on writing to it. What they wrote goes to the entry now holding its keys,
 * if that is still the same mapping (same external endpoint): the latest outbound time, a TCP
 * state that moved on the old entry but not yet on the new, a later close. Best effort where
 * workers write the new entry at the same moment, as every traffic field is.
 */
static void
merge_late_writes(struct cgn_table *t, const struct cgn_mapping *old)
{
	struct cgn_key in = cgn_mapping_in_key(old);
	uint64_t *slot = slot_of(t, &in);
	if (slot == NULL)
		return;
	struct cgn_mapping *m = cgn_table_slot_entry(*slot);
	if (m->ext_addr != old->ext_addr || m->ext_port != old->ext_port)
		return;
	uint64_t last = __atomic_load_n(&old->last_out_ms, __ATOMIC_RELAXED);
	uint64_t cur = __atomic_load_n(&m->last_out_ms, __ATOMIC_RELAXED);
	while (last > cur &&
	       !__atomic_compare_exchange_n(&m->last_out_ms, &cur, last, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	uint8_t handed = old->handed_tcp_state, st = __atomic_load_n(&old->tcp_state, __ATOMIC_RELAXED);
	if (st != handed)
		__atomic_compare_exchange_n(&m->tcp_state, &handed, st, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	uint64_t closed = __atomic_load_n(&old->closed_ms, __ATOMIC_ACQUIRE);
	if (closed > __atomic_load_n(&m->closed_ms, __ATOMIC_RELAXED)) {
		__atomic_store_n(&m->closed_peer, __atomic_load_n(&old->closed_peer, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
		__atomic_store_n(&m->closed_port, __atomic_load_n(&old->closed_port, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
		__atomic_store_n(&m->closed_ms, closed, __ATOMIC_RELEASE);
	}
}

/* Called by the defer queue once removed entries' grace period is over: under the writers'
 * lock (writers reclaim as they go), or from cgn_table_free. */
static void
retired_free(void *ctx, void *elems, unsigned int n)
{
	struct cgn_table *t = ctx;
	uintptr_t *tagged = elems;
	for (unsigned i = 0; i < n; i++) {
		struct cgn_mapping *m = (struct cgn_mapping *)(tagged[i] & ~RETIRED_REPLACED);
		if (tagged[i] & RETIRED_REPLACED)
			merge_late_writes(t, m);
		rte_mempool_put(t->entries, m);
		STAT_ADD(t, freed);
	}
}

struct cgn_table *
cgn_table_create(const char *name, uint32_t capacity, uint32_t max_readers, uint32_t seed,
		 int socket_id)
{
	char objname[RTE_MEMZONE_NAMESIZE];
	if (capacity == 0 || capacity > CGN_TABLE_MAX_CAPACITY) {
		rte_errno = EINVAL;
		return NULL;
	}
	struct cgn_table *t = rte_zmalloc_socket("cgn_table", sizeof(*t), RTE_CACHE_LINE_SIZE, socket_id);
	if (t == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	t->capacity = capacity;
	t->max_readers = max_readers;
	while ((t->seed = seed) == 0)
		seed = (uint32_t)rte_rand();
	rte_spinlock_init(&t->write_lock);

	size_t rcu_size = rte_rcu_qsbr_get_memsize(max_readers);
	t->rcu = rte_zmalloc_socket("cgn_rcu", rcu_size, RTE_CACHE_LINE_SIZE, socket_id);
	if (t->rcu == NULL) {
		rte_errno = ENOMEM;
		goto fail;
	}
	if (rte_rcu_qsbr_init(t->rcu, max_readers) != 0)
		goto fail;

	snprintf(objname, sizeof(objname), "%s_map", name);
	t->entries = rte_mempool_create(objname, capacity + spare_entries(capacity), sizeof(struct cgn_mapping), 0, 0,
					NULL, NULL, NULL, NULL, socket_id, 0);
	if (t->entries == NULL)
		goto fail;

	uint32_t nb = buckets_for(capacity);
	t->mask = nb - 1;
	for (int side = 0; side < 2; side++) {
		t->buckets[side] = rte_zmalloc_socket("cgn_buckets", (size_t)nb * sizeof(struct cgn_table_bucket),
						      RTE_CACHE_LINE_SIZE, socket_id);
		if (t->buckets[side] == NULL) {
			rte_errno = ENOMEM;
			goto fail;
		}
	}

	snprintf(objname, sizeof(objname), "%s_retired", name);
	struct rte_rcu_qsbr_dq_parameters dqp = {
		.name = objname,
		.size = capacity + spare_entries(capacity),
		.esize = sizeof(uintptr_t), /* the entry, tagged RETIRED_REPLACED */
		.trigger_reclaim_limit = 32,
		.max_reclaim_size = 64,
		.free_fn = retired_free,
		.p = t,
		.v = t->rcu,
	};
	t->retired = rte_rcu_qsbr_dq_create(&dqp);
	if (t->retired == NULL)
		goto fail;
	return t;

fail:
	cgn_table_free(t);
	return NULL;
}

void
cgn_table_free(struct cgn_table *t)
{
	if (t == NULL)
		return;
	/* Readers are gone: entries still in the table or the queue go with the pool. The queue
	 * is deleted only once it is empty, which it is unless a reader is still registered. */
	if (t->retired && rte_rcu_qsbr_dq_delete(t->retired) != 0)
		CGN_LOG(WARNING, "shared table: a reader is still registered: its defer queue is left");
	rte_free(t->buckets[0]);
	rte_free(t->buckets[1]);
	rte_mempool_free(t->entries);
	rte_free(t->rcu);
	rte_free(t);
}

/* The slot holding key's entry (hash is the key's), with the word read from it in *word;
 * or NULL. Readers and writers. */
static uint64_t *
find_slot(const struct cgn_table *t, const struct cgn_key *key, uint32_t hash, uint64_t *word)
{
	struct cgn_table_bucket *base = t->buckets[key->side & 1];
	uint64_t sig = cgn_table_sig(hash);
	uint32_t probe = __atomic_load_n(&base[hash & t->mask].probe, __ATOMIC_ACQUIRE);

	for (uint32_t d = 0; d <= probe; d++) {
		struct cgn_table_bucket *b = &base[(hash + d) & t->mask];
		for (unsigned s = 0; s < CGN_TABLE_SLOTS; s++) {
			uint64_t w = __atomic_load_n(&b->slot[s], __ATOMIC_ACQUIRE);
			if (w != 0 && (w & CGN_SLOT_SIG_MASK) == sig && cgn_table_key_matches(cgn_table_slot_entry(w), key)) {
				*word = w;
				return &b->slot[s];
			}
		}
	}
	return NULL;
}

struct cgn_mapping *
cgn_table_lookup_hashed(const struct cgn_table *t, const struct cgn_key *key, uint32_t hash)
{
	uint64_t w;
	return find_slot(t, key, hash, &w) != NULL ? cgn_table_slot_entry(w) : NULL;
}

struct cgn_mapping *
cgn_table_lookup(const struct cgn_table *t, const struct cgn_key *key)
{
	return cgn_table_lookup_hashed(t, key, cgn_table_hash(t, key));
}

/* Writer: @return the slot holding key's entry, or NULL. */
static uint64_t *
slot_of(struct cgn_table *t, const struct cgn_key *key)
{
	uint64_t w;
	return find_slot(t, key, cgn_table_hash(t, key), &w);
}

/* Writer: publishes m under key (whose hash is given) in the first free slot from its home
 * bucket on. @return the slot, or NULL when the home and the next buckets are full. */
static uint64_t *
slot_insert(struct cgn_table *t, const struct cgn_key *key, uint32_t hash, struct cgn_mapping *m)
{
	struct cgn_table_bucket *base = t->buckets[key->side & 1];
	struct cgn_table_bucket *home = &base[hash & t->mask];
	for (uint32_t d = 0; d <= CGN_TABLE_MAX_PROBE; d++) {
		struct cgn_table_bucket *b = &base[(hash + d) & t->mask];
		for (unsigned s = 0; s < CGN_TABLE_SLOTS; s++) {
			if (b->slot[s] != 0)
				continue;
			uint64_t word = cgn_table_sig(hash) | (uint64_t)d << CGN_SLOT_DIST_SHIFT | slot_addr(m);
			/* Readers must look this far before they can find the key there. */
			if (d > home->probe)
				__atomic_store_n(&home->probe, d, __ATOMIC_RELEASE);
			__atomic_store_n(&b->slot[s], word, __ATOMIC_RELEASE);
			return &b->slot[s];
		}
	}
	return NULL;
}

/*
 * Writer: frees a slot. When its key was the furthest of its home's, the home's probe comes
 * down to the furthest key left (the distance in each slot says which keys are the home's),
 * so that misses do not scan buckets for keys long gone. A reader that read the old probe
 * scans a bucket too many, nothing worse.
 */
static void
slot_clear(struct cgn_table *t, enum cgn_key_side side, uint64_t *slot)
{
	struct cgn_table_bucket *base = t->buckets[side & 1];
	uint32_t d = slot_dist(*slot);
	uint32_t at = (uint32_t)(((uintptr_t)slot - (uintptr_t)base) / sizeof(*base));
	uint32_t home = (at - d) & t->mask;

	__atomic_store_n(slot, 0, __ATOMIC_RELEASE);
	if (d == 0 || d < base[home].probe)
		return;
	uint32_t probe = d;
	for (; probe > 0; probe--) {
		const struct cgn_table_bucket *b = &base[(home + probe) & t->mask];
		bool homed_here = false;
		for (unsigned s = 0; s < CGN_TABLE_SLOTS && !homed_here; s++)
			homed_here = b->slot[s] != 0 && slot_dist(b->slot[s]) == probe;
		if (homed_here)
			break;
	}
	__atomic_store_n(&base[home].probe, probe, __ATOMIC_RELEASE);
}

/* Writer: hands a removed entry to RCU; it returns to the pool after a grace period.
 * replaced: REPLACE retired it (its late writes are merged then). */
static void
retire(struct cgn_table *t, struct cgn_mapping *m, bool replaced)
{
	uintptr_t elem = (uintptr_t)m | (replaced ? RETIRED_REPLACED : 0);
	if (rte_rcu_qsbr_dq_enqueue(t->retired, &elem) != 0) {
		/* Full: free what has waited out its grace period (it does not wait) and try
		 * again. The queue holds a table's worth: this cannot fail unless readers stall;
		 * then the entry is never returned, rather than returned early. */
		rte_rcu_qsbr_dq_reclaim(t->retired, RECLAIM_BATCH, NULL, NULL, NULL);
		if (rte_rcu_qsbr_dq_enqueue(t->retired, &elem) != 0)
			STAT_ADD(t, retire_leaked);
	}
}

/* Writer: an entry from the pool; when it is empty, after taking back a batch of those whose
 * grace period is over. */
static int
take_entry(struct cgn_table *t, void **obj)
{
	if (rte_mempool_get(t->entries, obj) == 0)
		return 0;
	rte_rcu_qsbr_dq_reclaim(t->retired, RECLAIM_BATCH, NULL, NULL, NULL);
	return rte_mempool_get(t->entries, obj);
}

static int
table_add(struct cgn_table *t, const struct cgn_mapping *src, struct cgn_mapping **added)
{
	void *obj;
	uint64_t w;
	struct cgn_key in = cgn_mapping_in_key(src), out = cgn_mapping_out_key(src);
	uint32_t in_hash = cgn_table_hash(t, &in), out_hash = cgn_table_hash(t, &out);

	/* An outside key present already is another mapping's endpoint: never share it. */
	if (find_slot(t, &in, in_hash, &w) != NULL || find_slot(t, &out, out_hash, &w) != NULL) {
		STAT_ADD(t, add_exists);
		return -EEXIST;
	}
	if (cgn_table_count(t) >= t->capacity || take_entry(t, &obj) != 0) {
		STAT_ADD(t, add_no_entry);
		return -ENOSPC;
	}
	struct cgn_mapping *m = obj;
	*m = *src;
	/* A slot holds address >> 6 in 48 bits: entries are cache-line aligned (mempool). */
	RTE_VERIFY((uintptr_t)m < (UINT64_C(1) << 48) && ((uintptr_t)m & 63) == 0);

	/* Publish the outside key first: a reader that finds the inside key can then always
	 * answer the return traffic. */
	uint64_t *out_slot = slot_insert(t, &out, out_hash, m);
	if (out_slot == NULL) {
		rte_mempool_put(t->entries, m); /* never published */
		STAT_ADD(t, add_no_slot);
		return -ENOSPC;
	}
	if (slot_insert(t, &in, in_hash, m) == NULL) {
		slot_clear(t, CGN_SIDE_OUTSIDE, out_slot);
		retire(t, m, false); /* a reader may have found it by its outside key */
		STAT_ADD(t, add_no_slot);
		return -ENOSPC;
	}
	STAT_ADD(t, adds);
	*added = m;
	return 0;
}

/* Publishes src in place of the entry with the same keys: readers see the old entry or the new
 * one, never a mix; the old one is freed after a grace period. */
static int
table_replace(struct cgn_table *t, const struct cgn_mapping *src)
{
	void *obj;
	struct cgn_key in = cgn_mapping_in_key(src), out = cgn_mapping_out_key(src);
	uint64_t *in_slot = slot_of(t, &in);
	if (in_slot == NULL) {
		STAT_ADD(t, missing);
		return -ENOENT;
	}
	const struct cgn_mapping *o = cgn_table_slot_entry(*in_slot);
	uint64_t *out_slot = slot_of(t, &out);
	if (out_slot == NULL || cgn_table_slot_entry(*out_slot) != o) {
		/* Not the mapping the sender meant (it went, and came back elsewhere): the new
		 * entry's outside key would not replace the old one's. */
		STAT_ADD(t, replace_mismatch);
		return -EINVAL;
	}
	if (take_entry(t, &obj) != 0) {
		STAT_ADD(t, add_no_entry);
		return -ENOSPC;
	}
	struct cgn_mapping *m = obj;
	*m = *src;
	/* What the workers learned of the traffic stays; what they write to the old entry until
	 * their next quiescent state is merged once its grace period is over. */
	m->last_out_ms = __atomic_load_n(&o->last_out_ms, __ATOMIC_RELAXED);
	m->tcp_state = __atomic_load_n(&o->tcp_state, __ATOMIC_RELAXED);
	m->closed_ms = __atomic_load_n(&o->closed_ms, __ATOMIC_RELAXED);
	m->closed_peer = __atomic_load_n(&o->closed_peer, __ATOMIC_RELAXED);
	m->closed_port = __atomic_load_n(&o->closed_port, __ATOMIC_RELAXED);
	((struct cgn_mapping *)(uintptr_t)o)->handed_tcp_state = m->tcp_state; /* no reader reads it */
	/* Same keys, same signatures and distances: only the address part of each word changes. */
	__atomic_store_n(out_slot, (*out_slot & ~CGN_SLOT_ADDR_MASK) | slot_addr(m), __ATOMIC_RELEASE);
	__atomic_store_n(in_slot, (*in_slot & ~CGN_SLOT_ADDR_MASK) | slot_addr(m), __ATOMIC_RELEASE);
	retire(t, (struct cgn_mapping *)(uintptr_t)o, true);
	STAT_ADD(t, replaces);
	return 0;
}

static int
table_del(struct cgn_table *t, const struct cgn_key *in)
{
	uint64_t *in_slot = slot_of(t, in);
	if (in_slot == NULL) {
		STAT_ADD(t, missing);
		return -ENOENT;
	}
	struct cgn_mapping *m = cgn_table_slot_entry(*in_slot);
	struct cgn_key out = cgn_mapping_out_key(m);
	uint64_t *out_slot = slot_of(t, &out);
	slot_clear(t, CGN_SIDE_INSIDE, in_slot);
	if (out_slot != NULL && cgn_table_slot_entry(*out_slot) == m)
		slot_clear(t, CGN_SIDE_OUTSIDE, out_slot);
	retire(t, m, false);
	STAT_ADD(t, dels);
	return 0;
}

int
cgn_table_add(struct cgn_table *t, const struct cgn_mapping *m, struct cgn_mapping **added)
{
	rte_spinlock_lock(&t->write_lock);
	int rc = table_add(t, m, added);
	rte_spinlock_unlock(&t->write_lock);
	return rc;
}

int
cgn_table_apply(struct cgn_table *t, const struct cgn_ring_msg *msg)
{
	struct cgn_key in = cgn_mapping_in_key(&msg->m);
	struct cgn_mapping *added;
	int rc = 0;

	rte_spinlock_lock(&t->write_lock);
	switch (msg->op) {
	case CGN_MSG_ADD:
		rc = table_add(t, &msg->m, &added);
		break;
	case CGN_MSG_REFRESH: {
		uint64_t *slot = slot_of(t, &in);
		if (slot == NULL) {
			STAT_ADD(t, missing);
			rc = -ENOENT;
			break;
		}
		struct cgn_mapping *m = cgn_table_slot_entry(*slot);
		__atomic_store_n(&m->expire_ms, msg->m.expire_ms, __ATOMIC_RELAXED);
		__atomic_store_n(&m->lifetime_s, msg->m.lifetime_s, __ATOMIC_RELAXED);
		STAT_ADD(t, refreshes);
		break;
	}
	case CGN_MSG_REPLACE:
		rc = table_replace(t, &msg->m);
		break;
	case CGN_MSG_DEL:
		rc = table_del(t, &in);
		break;
	default:
		rc = -EINVAL;
	}
	rte_spinlock_unlock(&t->write_lock);
	return rc;
}

struct cgn_mapping *
cgn_table_next(const struct cgn_table *t, uint32_t *cursor)
{
	for (uint32_t end = cgn_table_slots(t); *cursor < end;) {
		struct cgn_mapping *m = cgn_table_slot(t, (*cursor)++);
		if (m != NULL)
			return m;
	}
	return NULL;
}

void
cgn_table_reclaim(struct cgn_table *t)
{
	rte_spinlock_lock(&t->write_lock);
	rte_rcu_qsbr_dq_reclaim(t->retired, UINT32_MAX, NULL, NULL, NULL);
	rte_spinlock_unlock(&t->write_lock);
}

uint32_t
cgn_table_count(const struct cgn_table *t)
{
	uint64_t adds = __atomic_load_n(&t->stats.adds, __ATOMIC_RELAXED);
	uint64_t dels = __atomic_load_n(&t->stats.dels, __ATOMIC_RELAXED);
	return adds > dels ? (uint32_t)(adds - dels) : 0;
}

void
cgn_table_reader_online(struct cgn_table *t, unsigned reader_id)
{
	rte_rcu_qsbr_thread_register(t->rcu, reader_id);
	rte_rcu_qsbr_thread_online(t->rcu, reader_id);
}

void
cgn_table_reader_offline(struct cgn_table *t, unsigned reader_id)
{
	rte_rcu_qsbr_thread_offline(t->rcu, reader_id);
	rte_rcu_qsbr_thread_unregister(t->rcu, reader_id);
}
