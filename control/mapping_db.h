/*
 * The control plane's record of explicit mappings (those PCP created or manages): what the
 * data plane cannot know, such as the mapping nonce, the client that asked and when the
 * mapping expires. Keyed by the mapping's inside key (internal address, port, protocol).
 *
 * The shared table in dataplane/ is the data plane's view; this is the authority it is fed
 * from. Records live in one array indexed by the rte_hash key position, so a record's
 * address is stable while it lives.
 *
 * Control thread only: nothing here is safe to call from two threads.
 */
#ifndef MAPPING_DB_H
#define MAPPING_DB_H

#include <stdbool.h>
#include <stdint.h>

#include "cgn_mapping.h"
#include "pcp_wire.h"

struct pcp_mapping_rec {
	struct cgn_key in;          /* inside key; also the record's hash key */
	uint32_t ext_addr;          /* network order */
	uint16_t ext_port;          /* host order */
	uint16_t flags;             /* CGN_MAP_* */
	uint8_t nonce[PCP_NONCE_LEN];
	uint32_t lifetime_s;        /* last granted lifetime */
	uint64_t expire_ms;         /* absolute, cgn_clock_ms(); UINT64_MAX for static mappings */
	uint64_t created_ms;
	struct cgn_addr client;     /* who asked (differs from in.addr for THIRD_PARTY) */
	uint16_t client_port;
	bool live;
};

struct mapping_db;

/** @return a database for capacity mappings, or NULL (out of memory). */
struct mapping_db *mapping_db_create(const char *name, uint32_t capacity);
void mapping_db_free(struct mapping_db *db);

/** @return the record with this inside key, or NULL. */
struct pcp_mapping_rec *mapping_db_find(struct mapping_db *db, const struct cgn_key *in);

/** Inserts a zeroed, live record for in. @return it, or NULL when the database is full. */
struct pcp_mapping_rec *mapping_db_add(struct mapping_db *db, const struct cgn_key *in);

/** Removes a record returned by _find or _add. */
void mapping_db_del(struct mapping_db *db, struct pcp_mapping_rec *rec);

/** @return live records. */
uint32_t mapping_db_count(const struct mapping_db *db);

/** @return the capacity given at creation. */
uint32_t mapping_db_capacity(const struct mapping_db *db);

/**
 * Visits up to budget record slots from *cursor onwards (wrapping at the end), calling fn on
 * each live one; fn may delete the record it is given.
 * @return live records visited.
 */
uint32_t mapping_db_scan(struct mapping_db *db, uint32_t *cursor, uint32_t budget,
			 void (*fn)(struct pcp_mapping_rec *rec, void *arg), void *arg);

#endif /* MAPPING_DB_H */
