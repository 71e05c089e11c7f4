/*
 * What pcp_server.c shares with the opcode handlers (pcp_map.c, pcp_announce.c): the server's
 * state and the per-request context. Not for other modules. Control thread only.
 */
#ifndef PCP_SERVER_INT_H
#define PCP_SERVER_INT_H

#include <stdbool.h>

#include "mapping_db.h"
#include "pcp_server.h"
#include "pcp_wire.h"

struct pcp_server {
	struct cgn_config cfg;
	struct pcp_server_ops ops;
	uint64_t epoch_start_ms;
	struct mapping_db *db;
	struct cgn_pool pool;
	void *pool_mem;
	uint64_t rng;
	uint32_t expire_cursor;
	struct pcp_server_stats stats;
};

/* One request on its way through the server. */
struct pcp_ctx {
	struct pcp_server *srv;
	uint64_t now_ms;
	const uint8_t *msg;
	size_t len;
	struct cgn_addr src;
	uint16_t src_port;
	struct pcp_request req;
	struct pcp_response resp;
	uint32_t error_lifetime; /* non-zero: overrides the class lifetime of an error result */
};

/*
 * Opcode handlers: build ctx->resp (opcode data, options, lifetime) and return PCP_RES_SUCCESS,
 * or return an error result and leave no state changed (§7.3).
 */
uint8_t pcp_map_handle(struct pcp_ctx *ctx);
uint8_t pcp_announce_handle(struct pcp_ctx *ctx);

/* Sends a mapping change to the data plane. @return 0, or -ENOBUFS (counted). */
int pcp_server_push(struct pcp_server *srv, enum cgn_msg_op op, const struct pcp_mapping_rec *rec);

/* Releases a record's external port and removes it; the caller has told the data plane. */
void pcp_server_forget(struct pcp_server *srv, struct pcp_mapping_rec *rec);

#endif /* PCP_SERVER_INT_H */
