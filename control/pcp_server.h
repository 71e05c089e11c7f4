/*
 * The PCP server (RFC 6887 §8.2 onwards): takes one request datagram and its source, returns
 * the response datagram, and keeps the explicit mappings it created, pushing each change to the
 * data plane through the ops callback.
 *
 * It does no I/O and reads no clock: the caller passes the datagram and the time, so the same
 * code serves the UDP sockets of cgnatd, the unit tests and the fuzz target.
 *
 * Control thread only.
 */
#ifndef PCP_SERVER_H
#define PCP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"
#include "cgn_config.h"
#include "cgn_mapping.h"
#include "cgn_pool.h"
#include "pcp_registry.h"

/* Why a request got no answer; one counter each. */
#define PCP_DROP_REASONS(X)                                                   \
	X(NOT_INSIDE, "source is not in pcp.inside or pcp.third_party (§8.2)") \
	X(TOO_SHORT, "shorter than 2 octets, or than 24 for version 2 (§8.2)") \
	X(R_BIT, "R bit set: a response, not a request (§8.2)")

enum pcp_drop_reason {
#define X(name, doc) PCP_DROP_##name,
	PCP_DROP_REASONS(X)
#undef X
	PCP_DROP_COUNT
};

struct pcp_server_stats {
	uint64_t received;
	uint64_t dropped[PCP_DROP_COUNT];
	uint64_t by_opcode[PCP_OP_COUNT + 1]; /* last: unknown opcodes */
	uint64_t by_result[PCP_RES_COUNT + 1]; /* last: results outside the registry */
	uint64_t mappings_created, mappings_renewed, mappings_deleted, mappings_expired;
	uint64_t push_refused;                 /* data plane ring full → NO_RESOURCES */
};

/* How the server reaches the data plane. */
struct pcp_server_ops {
	/* Queues a mapping message for the workers. @return 0, or non-zero if it cannot. */
	int (*push)(void *ctx, struct cgn_ring_msg *msg);
	void *ctx;
};

struct pcp_server;

/**
 * Creates a server for cfg (which the server copies). The epoch starts at 0 now (§8.5).
 * @return the server, or NULL with errno set (ENOMEM, or EINVAL with a message on stderr).
 */
struct pcp_server *pcp_server_create(const struct cgn_config *cfg, const struct pcp_server_ops *ops,
				     uint64_t now_ms);
void pcp_server_free(struct pcp_server *srv);

/**
 * Handles one datagram received from (src, src_port).
 * @param resp at least PCP_MAX_MSG octets.
 * @return the response length, or 0 when the request is silently dropped.
 */
size_t pcp_server_handle(struct pcp_server *srv, uint64_t now_ms, const uint8_t *msg, size_t len,
			 const struct cgn_addr *src, uint16_t src_port, uint8_t *resp);

/**
 * Expires mappings whose lifetime is over. Bounded: visits at most capacity/50 + 64 record
 * slots per call, so ten calls a second sweep the whole table every five seconds.
 */
void pcp_server_expire(struct pcp_server *srv, uint64_t now_ms);

/** @return the Epoch Time field now (§8.5: seconds since the server's state began). */
uint32_t pcp_server_epoch(const struct pcp_server *srv, uint64_t now_ms);

const struct pcp_server_stats *pcp_server_stats(const struct pcp_server *srv);
const struct cgn_pool *pcp_server_pool(const struct pcp_server *srv);
uint32_t pcp_server_mapping_count(const struct pcp_server *srv);

/** @return the drop reason's name, for telemetry. */
const char *pcp_drop_reason_name(enum pcp_drop_reason r);

#endif /* PCP_SERVER_H */
