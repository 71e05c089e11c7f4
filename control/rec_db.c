/*
 * Fixed-size records by key (see rec_db.h).
 */
#include "rec_db.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>

struct rec_db {
	struct rte_hash *hash;
	uint8_t *recs;   /* [capacity][rec_size], by hash position */
	bool *live;      /* [capacity] */
	size_t rec_size;
	uint32_t capacity;
	uint32_t count;
};

struct rec_db *
rec_db_create(const char *name, uint32_t capacity, uint32_t key_len, size_t rec_size)
{
	struct rec_db *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->capacity = capacity;
	db->rec_size = rec_size;
	db->recs = calloc(capacity, rec_size);
	db->live = calloc(capacity, sizeof(bool));
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = key_len,
		.hash_func = rte_hash_crc,
		.socket_id = SOCKET_ID_ANY,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE, /* every position usable */
	};
	db->hash = rte_hash_create(&hp);
	if (db->recs == NULL || db->live == NULL || db->hash == NULL) {
		rec_db_free(db);
		return NULL;
	}
	return db;
}

void
rec_db_free(struct rec_db *db)
{
	if (db == NULL)
		return;
	rte_hash_free(db->hash);
	free(db->recs);
	free(db->live);
	free(db);
}

static uint32_t
pos_of(const struct rec_db *db, const void *rec)
{
	return (uint32_t)(((const uint8_t *)rec - db->recs) / db->rec_size);
}

void *
rec_db_find(struct rec_db *db, const void *key)
{
	int32_t pos = rte_hash_lookup(db->hash, key);
	return pos >= 0 ? db->recs + (size_t)pos * db->rec_size : NULL;
}

void *
rec_db_add(struct rec_db *db, const void *key)
{
	if (rte_hash_lookup(db->hash, key) >= 0)
		return NULL;
	int32_t pos = rte_hash_add_key(db->hash, key);
	if (pos < 0)
		return NULL;
	if ((uint32_t)pos >= db->capacity) {
		rte_hash_del_key(db->hash, key);
		return NULL;
	}
	void *r = db->recs + (size_t)pos * db->rec_size;
	memset(r, 0, db->rec_size);
	db->live[pos] = true;
	db->count++;
	return r;
}

const void *
rec_db_key(struct rec_db *db, const void *rec)
{
	void *key = NULL;
	rte_hash_get_key_with_position(db->hash, (int32_t)pos_of(db, rec), &key);
	return key;
}

void
rec_db_del(struct rec_db *db, void *rec)
{
	uint32_t pos = pos_of(db, rec);
	if (pos >= db->capacity || !db->live[pos])
		return;
	const void *key = rec_db_key(db, rec);
	if (key)
		rte_hash_del_key(db->hash, key);
	db->live[pos] = false;
	db->count--;
}

uint32_t
rec_db_count(const struct rec_db *db)
{
	return db->count;
}

uint32_t
rec_db_capacity(const struct rec_db *db)
{
	return db->capacity;
}

uint32_t
rec_db_scan(struct rec_db *db, uint32_t *cursor, uint32_t budget, void (*fn)(void *rec, void *arg), void *arg)
{
	uint32_t visited = 0;
	for (uint32_t i = 0; i < budget && i < db->capacity; i++) {
		uint32_t pos = *cursor % db->capacity;
		*cursor = pos + 1 >= db->capacity ? 0 : pos + 1;
		if (db->live[pos]) {
			fn(db->recs + (size_t)pos * db->rec_size, arg);
			visited++;
		}
	}
	return visited;
}
