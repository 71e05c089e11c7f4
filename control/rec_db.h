/*
 * A table of fixed-size records keyed by fixed-size keys, for the control plane's state:
 * explicit mappings (by inside key), PEER sessions (by 5-tuple), held-down ports (by inside
 * key). An rte_hash without concurrency flags finds a key's position; records live in one
 * array by position, so a record's address is stable while it lives.
 *
 * Control thread only: nothing here is safe to call from two threads.
 */
#ifndef REC_DB_H
#define REC_DB_H

#include <stddef.h>
#include <stdint.h>

struct rec_db;

/** @return a table of capacity records of rec_size octets keyed by key_len octets, or NULL. */
struct rec_db *rec_db_create(const char *name, uint32_t capacity, uint32_t key_len, size_t rec_size);
void rec_db_free(struct rec_db *db);

/** @return the record with this key, or NULL. */
void *rec_db_find(struct rec_db *db, const void *key);

/** Inserts a zeroed record for key. @return it, NULL when the table is full or the key exists. */
void *rec_db_add(struct rec_db *db, const void *key);

/** Removes a record returned by _find or _add. */
void rec_db_del(struct rec_db *db, void *rec);

/** @return the key of a live record. */
const void *rec_db_key(struct rec_db *db, const void *rec);

uint32_t rec_db_count(const struct rec_db *db);
uint32_t rec_db_capacity(const struct rec_db *db);

/**
 * Visits up to budget record slots from *cursor onwards (wrapping at the end), calling fn on
 * each live one; fn may delete the record it is given. @return live records visited.
 */
uint32_t rec_db_scan(struct rec_db *db, uint32_t *cursor, uint32_t budget,
		     void (*fn)(void *rec, void *arg), void *arg);

#endif /* REC_DB_H */
