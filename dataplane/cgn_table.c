/*
 * The shared translation table (see cgn_table.h).
 */
#include "cgn_table.h"

#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#define STAT_ADD(t, field) __atomic_fetch_add(&(t)->stats.field, 1, __ATOMIC_RELAXED)

/* Called by rte_hash once a deleted key's grace period is over: drop one reference. */
static void
entry_release(void *ctx, void *data)
{
	struct cgn_table *t = ctx;
	struct cgn_mapping *m = data;

	if (__atomic_sub_fetch(&m->refcnt, 1, __ATOMIC_ACQ_REL) == 0) {
		rte_mempool_put(t->entries, m);
		STAT_ADD(t, freed);
	}
}

/* Called by the defer queue once a replaced entry's grace period is over. */
static void
replaced_free(void *ctx, void *elems, unsigned int n)
{
	struct cgn_table *t = ctx;
	struct cgn_mapping **m = elems;
	for (unsigned i = 0; i < n; i++) {
		rte_mempool_put(t->entries, m[i]);
		STAT_ADD(t, freed);
	}
}

struct cgn_table *
cgn_table_create(const char *name, uint32_t capacity, uint32_t max_readers, int socket_id)
{
	char objname[RTE_MEMZONE_NAMESIZE];
	struct cgn_table *t = rte_zmalloc_socket("cgn_table", sizeof(*t), RTE_CACHE_LINE_SIZE, socket_id);
	if (t == NULL)
		return NULL;
	t->capacity = capacity;
	t->max_readers = max_readers;

	size_t rcu_size = rte_rcu_qsbr_get_memsize(max_readers);
	t->rcu = rte_zmalloc_socket("cgn_rcu", rcu_size, RTE_CACHE_LINE_SIZE, socket_id);
	if (t->rcu == NULL || rte_rcu_qsbr_init(t->rcu, max_readers) != 0)
		goto fail;

	snprintf(objname, sizeof(objname), "%s_map", name);
	t->entries = rte_mempool_create(objname, capacity, sizeof(struct cgn_mapping), 0, 0, NULL,
					NULL, NULL, NULL, socket_id, 0);
	if (t->entries == NULL)
		goto fail;

	for (int side = 0; side < 2; side++) {
		snprintf(objname, sizeof(objname), "%s_%s", name, side == CGN_SIDE_INSIDE ? "in" : "out");
		struct rte_hash_parameters hp = {
			.name = objname,
			.entries = capacity,
			.key_len = sizeof(struct cgn_key),
			.hash_func = rte_hash_crc,
			.socket_id = socket_id,
			.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
				      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD | RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
		};
		t->hash[side] = rte_hash_create(&hp);
		if (t->hash[side] == NULL)
			goto fail;
		struct rte_hash_rcu_config rc = {
			.v = t->rcu,
			.mode = RTE_HASH_QSBR_MODE_DQ,
			.key_data_ptr = t,
			.free_key_data_func = entry_release,
		};
		if (rte_hash_rcu_qsbr_add(t->hash[side], &rc) != 0)
			goto fail;
	}

	snprintf(objname, sizeof(objname), "%s_repl", name);
	struct rte_rcu_qsbr_dq_parameters dqp = {
		.name = objname,
		.size = capacity,
		.esize = sizeof(struct cgn_mapping *),
		.trigger_reclaim_limit = 32,
		.max_reclaim_size = 64,
		.free_fn = replaced_free,
		.p = t,
		.v = t->rcu,
	};
	t->replaced = rte_rcu_qsbr_dq_create(&dqp);
	if (t->replaced == NULL)
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
	/* Readers are gone: entries still in the table are simply dropped with the pool. */
	if (t->replaced)
		rte_rcu_qsbr_dq_delete(t->replaced);
	rte_hash_free(t->hash[0]);
	rte_hash_free(t->hash[1]);
	rte_mempool_free(t->entries);
	rte_free(t->rcu);
	rte_free(t);
}

static int
table_add(struct cgn_table *t, const struct cgn_mapping *src)
{
	void *obj;

	struct cgn_key in = cgn_mapping_in_key(src), out = cgn_mapping_out_key(src);
	if (rte_hash_lookup(t->hash[CGN_SIDE_INSIDE], &in) >= 0) {
		STAT_ADD(t, add_exists);
		return -EEXIST;
	}
	if (rte_mempool_get(t->entries, &obj) != 0) {
		STAT_ADD(t, add_no_entry);
		return -ENOSPC;
	}
	struct cgn_mapping *m = obj;
	*m = *src;
	m->refcnt = 2;

	/* Publish the outside key first: a reader that finds the inside key can then always
	 * answer the return traffic. rte_hash's LF add is a release store of the data. */
	if (rte_hash_add_key_data(t->hash[CGN_SIDE_OUTSIDE], &out, m) < 0) {
		rte_mempool_put(t->entries, m);
		STAT_ADD(t, add_no_slot);
		return -ENOSPC;
	}
	if (rte_hash_add_key_data(t->hash[CGN_SIDE_INSIDE], &in, m) < 0) {
		m->refcnt = 1; /* only the outside key will be released */
		rte_hash_del_key(t->hash[CGN_SIDE_OUTSIDE], &out);
		STAT_ADD(t, add_no_slot);
		return -ENOSPC;
	}
	STAT_ADD(t, adds);
	return 0;
}

/* Publishes src in place of the entry with the same keys: readers see the old entry or the new
 * one, never a mix; the old one is freed after a grace period. */
static int
table_replace(struct cgn_table *t, const struct cgn_mapping *src)
{
	void *old, *obj;
	struct cgn_key in = cgn_mapping_in_key(src), out = cgn_mapping_out_key(src);
	if (rte_hash_lookup_data(t->hash[CGN_SIDE_INSIDE], &in, &old) < 0) {
		STAT_ADD(t, missing);
		return -ENOENT;
	}
	const struct cgn_mapping *o = old;
	if (o->ext_addr != src->ext_addr || o->ext_port != src->ext_port) {
		/* Not the mapping the sender meant (it went, and came back elsewhere): the new
		 * entry's outside key would not replace the old one's. */
		STAT_ADD(t, replace_mismatch);
		return -EINVAL;
	}
	if (rte_mempool_get(t->entries, &obj) != 0) {
		STAT_ADD(t, add_no_entry);
		return -ENOSPC;
	}
	struct cgn_mapping *m = obj;
	*m = *src;
	m->refcnt = 2;
	/* What the workers learned of the traffic stays. */
	m->last_out_ms = __atomic_load_n(&o->last_out_ms, __ATOMIC_RELAXED);
	m->tcp_state = __atomic_load_n(&o->tcp_state, __ATOMIC_RELAXED);
	m->closed_ms = __atomic_load_n(&o->closed_ms, __ATOMIC_RELAXED);
	m->closed_peer = __atomic_load_n(&o->closed_peer, __ATOMIC_RELAXED);
	m->closed_port = __atomic_load_n(&o->closed_port, __ATOMIC_RELAXED);
	/* An existing key's data is replaced with one atomic store (LF mode). */
	rte_hash_add_key_data(t->hash[CGN_SIDE_OUTSIDE], &out, m);
	rte_hash_add_key_data(t->hash[CGN_SIDE_INSIDE], &in, m);
	if (rte_rcu_qsbr_dq_enqueue(t->replaced, &old) != 0) {
		/* Full: free what has waited out its grace period (it does not wait) and try
		 * again. The queue holds a table's worth: this cannot fail unless readers stall;
		 * then the entry is never returned, rather than returned early. */
		rte_rcu_qsbr_dq_reclaim(t->replaced, UINT32_MAX, NULL, NULL, NULL);
		if (rte_rcu_qsbr_dq_enqueue(t->replaced, &old) != 0)
			STAT_ADD(t, replace_leaked);
	}
	STAT_ADD(t, replaces);
	return 0;
}

int
cgn_table_apply(struct cgn_table *t, const struct cgn_ring_msg *msg)
{
	void *data;
	struct cgn_key in = cgn_mapping_in_key(&msg->m);

	switch (msg->op) {
	case CGN_MSG_ADD:
		return table_add(t, &msg->m);
	case CGN_MSG_REFRESH:
		if (rte_hash_lookup_data(t->hash[CGN_SIDE_INSIDE], &in, &data) < 0)
			break;
		__atomic_store_n(&((struct cgn_mapping *)data)->expire_ms, msg->m.expire_ms, __ATOMIC_RELAXED);
		__atomic_store_n(&((struct cgn_mapping *)data)->lifetime_s, msg->m.lifetime_s, __ATOMIC_RELAXED);
		STAT_ADD(t, refreshes);
		return 0;
	case CGN_MSG_REPLACE:
		return table_replace(t, &msg->m);
	case CGN_MSG_DEL:
		if (rte_hash_lookup_data(t->hash[CGN_SIDE_INSIDE], &in, &data) < 0)
			break;
		struct cgn_key out = cgn_mapping_out_key(data);
		rte_hash_del_key(t->hash[CGN_SIDE_INSIDE], &in);
		rte_hash_del_key(t->hash[CGN_SIDE_OUTSIDE], &out);
		STAT_ADD(t, dels);
		return 0;
	default:
		return -EINVAL;
	}
	STAT_ADD(t, missing);
	return -ENOENT;
}

struct cgn_mapping *
cgn_table_lookup(const struct cgn_table *t, const struct cgn_key *key)
{
	void *data;
	return rte_hash_lookup_data(t->hash[key->side & 1], key, &data) >= 0 ? data : NULL;
}

struct cgn_mapping *
cgn_table_next(const struct cgn_table *t, uint32_t *cursor)
{
	const void *key;
	void *data;

	while (rte_hash_iterate(t->hash[CGN_SIDE_INSIDE], &key, &data, cursor) >= 0) {
		if (data != NULL)
			return data;
	}
	return NULL;
}

uint32_t
cgn_table_count(const struct cgn_table *t)
{
	/* Not rte_hash_count(): it still counts deleted keys waiting for their grace period. */
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
