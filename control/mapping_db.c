/*
 * Explicit mapping records (see mapping_db.h): an rte_hash without concurrency flags (one
 * thread) mapping each inside key to its position, and an array of records by position.
 */
#include "mapping_db.h"

#include <stdio.h>
#include <stdlib.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>

struct mapping_db {
	struct rte_hash *hash;
	struct pcp_mapping_rec *recs; /* [capacity], by hash position */
	uint32_t capacity;
	uint32_t count;
};

struct mapping_db *
mapping_db_create(const char *name, uint32_t capacity)
{
	struct mapping_db *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->capacity = capacity;
	db->recs = calloc(capacity, sizeof(*db->recs));
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = sizeof(struct cgn_key),
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE, /* every position usable */
	};
	db->hash = rte_hash_create(&hp);
	if (db->recs == NULL || db->hash == NULL) {
		mapping_db_free(db);
		return NULL;
	}
	return db;
}

void
mapping_db_free(struct mapping_db *db)
{
	if (db == NULL)
		return;
	rte_hash_free(db->hash);
	free(db->recs);
	free(db);
}

struct pcp_mapping_rec *
mapping_db_find(struct mapping_db *db, const struct cgn_key *in)
{
	int32_t pos = rte_hash_lookup(db->hash, in);
	return pos >= 0 ? &db->recs[pos] : NULL;
}

struct pcp_mapping_rec *
mapping_db_add(struct mapping_db *db, const struct cgn_key *in)
{
	int32_t pos = rte_hash_add_key(db->hash, in);
	if (pos < 0 || (uint32_t)pos >= db->capacity) {
		if (pos >= 0)
			rte_hash_del_key(db->hash, in);
		return NULL;
	}
	struct pcp_mapping_rec *r = &db->recs[pos];
	memset(r, 0, sizeof(*r));
	r->in = *in;
	r->live = true;
	db->count++;
	return r;
}

void
mapping_db_del(struct mapping_db *db, struct pcp_mapping_rec *rec)
{
	if (!rec->live)
		return;
	rte_hash_del_key(db->hash, &rec->in);
	rec->live = false;
	db->count--;
}

uint32_t
mapping_db_count(const struct mapping_db *db)
{
	return db->count;
}

uint32_t
mapping_db_capacity(const struct mapping_db *db)
{
	return db->capacity;
}

uint32_t
mapping_db_scan(struct mapping_db *db, uint32_t *cursor, uint32_t budget,
		void (*fn)(struct pcp_mapping_rec *rec, void *arg), void *arg)
{
	uint32_t visited = 0;
	for (uint32_t i = 0; i < budget && i < db->capacity; i++) {
		uint32_t pos = (*cursor)++ % db->capacity;
		if (*cursor >= db->capacity)
			*cursor = 0;
		if (db->recs[pos].live) {
			fn(&db->recs[pos], arg);
			visited++;
		}
	}
	return visited;
}
