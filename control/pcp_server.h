/*
 * The PCP server (RFC 6887 §8.2 onwards, and NAT-PMP, RFC 6886, on the same port): takes one
 * request datagram and its source, returns the response datagram, and keeps the mappings it
 * manages, pushing each change to the data plane through the ops callbacks.
 *
 * It does no I/O of its own and reads no clock: the caller passes datagrams and the time, and
 * lends it a way to send unsolicited messages (ANNOUNCE, Mapping Update). So the same code
 * serves cgnatd's sockets, the tests and the fuzz target.
 *
 * Control thread only.
 */
#ifndef PCP_SERVER_H
#define PCP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"
#include "cgn_config.h"
#include "cgn_mapping.h"
#include "cgn_portblock.h"
#include "pcp_registry.h"

/* Why a request got no answer; one counter each. */
#define PCP_DROP_REASONS(X)                                                    \
	X(NOT_INSIDE, "source is not in pcp.inside or pcp.third_party (§8.2)")  \
	X(TOO_SHORT, "shorter than 2 octets, or than 24 for version 2 (§8.2)")  \
	X(R_BIT, "R bit set: a response, not a request (§8.2)")                 \
	X(NATPMP_MALFORMED, "a NAT-PMP request of the wrong length, or a response")

enum pcp_drop_reason {
#define X(name, doc) PCP_DROP_##name,
	PCP_DROP_REASONS(X)
#undef X
	PCP_DROP_COUNT
};

/* NAT-PMP opcodes counted (RFC 6886 §3): external address, map UDP, map TCP, other. */
#define NATPMP_OPCODES 4

/*
 * The server's event counters, one uint64_t each; telemetry shows each as "pcp_" NAME
 * (docs/operations.md, "Counters"). The tables by drop reason, opcode and result follow them
 * in struct pcp_server_stats.
 */
#define PCP_SERVER_COUNTERS(X)                                                                       \
	X(received, "datagrams on the PCP sockets")                                                  \
	X(overload, "answered NO_RESOURCES by pcp.max_requests_per_second (§8.2)")                   \
	X(mappings_created, "explicit mappings created")                                             \
	X(mappings_renewed, "explicit mappings renewed")                                             \
	X(mappings_deleted, "explicit mappings deleted by their client")                             \
	X(mappings_expired, "explicit mappings expired")                                             \
	X(mappings_moved, "explicit mappings moved to a new external endpoint by a pool change (§14.2)") \
	X(sessions_created, "PEER sessions created")                                                 \
	X(sessions_renewed, "PEER sessions renewed")                                                 \
	X(sessions_expired, "PEER sessions expired")                                                 \
	X(sessions_closed, "PEER sessions ended by a TCP FIN or RST of the internal host (§12.3)")    \
	X(holds_reclaimed, "held ports given back to the same client (internal endpoint and nonce)")  \
	X(holds_displaced, "holds ended early by a newer one for the same key")                      \
	X(holds_dropped, "holds ended early: the hold table was full")                               \
	X(blocks_reclaimed, "port blocks returned to the pool from subscribers holding no port")      \
	X(push_refused, "changes the data plane's ring refused (full): answered NO_RESOURCES")        \
	X(descriptions_invalid, "DESCRIPTION options ignored: not UTF-8 (RFC 7220 §3)")               \
	X(descriptions_unstored, "valid DESCRIPTION options not stored: memory short (not echoed)")   \
	X(unsolicited_sent, "ANNOUNCE and Mapping Update datagrams sent")                            \
	X(unsolicited_failed, "ANNOUNCE and Mapping Update datagrams not sent")                      \
	X(store_failed, "changes the state store could not take (map full, I/O): a request answered " \
			"NO_RESOURCES, or (expiry, moves, commits) the store lags")             \
	X(port_sets_created, "RFC 7753 port sets created (two ports or more)")                        \
	X(port_set_responses, "extra responses of MAPs that touched several mappings (RFC 7753 §4.4.1)")

struct pcp_server_stats {
#define X(name, doc) uint64_t name;
	PCP_SERVER_COUNTERS(X)
#undef X
	uint64_t dropped[PCP_DROP_COUNT];
	uint64_t by_opcode[PCP_OP_COUNT + 1];  /* last: unknown opcodes */
	uint64_t by_result[PCP_RES_COUNT + 1]; /* last: results outside the registry */
	uint64_t natpmp_by_opcode[NATPMP_OPCODES];
	uint64_t natpmp_by_result[6];
};

/* How the server reaches the rest of cgnatd. */
struct pcp_server_ops {
	/* Queues a mapping message for the workers. @return 0, or non-zero if it cannot. */
	int (*push)(void *ctx, struct cgn_ring_msg *msg);
	/* What the data plane saw of a mapping's traffic, in one look at its entry: @return the
	 * last outbound packet (0 = none), with *closed set when a FIN or RST last closed a TCP
	 * connection of an outbound mapping and no SYN came since (tcp_state CLOSING): it picks
	 * the idle timeout; never set for inbound mappings (§15). May be NULL. */
	uint64_t (*last_out)(void *ctx, const struct cgn_key *in, bool *closed);
	/* The last close the mapping's internal host sent, for its PEER sessions (§12.3): when,
	 * and its remote end; 0 if none. On an outbound mapping as last_out's *closed; on an inbound one
	 * (MAP, static, NAT-PMP) with sessions joined, the last recorded whatever its state.
	 * Best effort: one record a mapping, the latest close. May be NULL. */
	uint64_t (*session_closed_at)(void *ctx, const struct cgn_key *in, struct cgn_addr *peer, uint16_t *peer_port);
	/* Finds an implicit (traffic-created) mapping of an inside key in the data plane's table:
	 * @return true with its external endpoint and its Pref64 index (NAT64; 0 otherwise).
	 * May be NULL. */
	bool (*find_implicit)(void *ctx, const struct cgn_key *in, uint32_t *ext_addr, uint16_t *ext_port,
			      uint8_t *pref64);
	/* A pool change while a data plane draws from the allocator (pcp_server_freeze_pool):
	 * repool_begin stops it from allocating (@return 0 or -errno: the change is refused);
	 * repool_move, once the new allocator has the subscribers and before the server
	 * allocates on it, moves the data plane's own sessions from old_pb (pushing nothing);
	 * repool_end, once the server's mappings moved, lets it go on. May be NULL. */
	int (*repool_begin)(void *ctx);
	void (*repool_move)(void *ctx, const struct cgn_pb *old_pb, const struct cgn_config *cfg);
	void (*repool_end)(void *ctx);
	/* A reload's settings of the data plane: routes, static neighbours, nat.timeouts,
	 * nat.port_hold_s (cfg is the new configuration); check_only: only whether it would
	 * fail. @return 0, or -errno with err set and nothing changed. May be NULL. */
	int (*reconfigure)(void *ctx, const struct cgn_config *cfg, bool check_only, char *err, size_t err_len);
	/* Sends an unsolicited message from the PCP port (§14.1.3). @return 0 or -errno. */
	int (*send)(void *ctx, const struct cgn_addr *dst, uint16_t port, const uint8_t *msg, size_t len);
	void *ctx;
};

struct pcp_server;

/**
 * Creates a server for cfg (which the server copies). The epoch starts at 0 now (§8.5). With
 * state.path set it opens the state store (a corrupt one moved aside, or refused).
 * @return the server, or NULL with errno set (ENOMEM; EINVAL with a message on stderr;
 * EUCLEAN: the store is corrupt and state.on_corrupt is "refuse"; EBUSY: another process uses
 * the store; others from the store, logged).
 */
struct pcp_server *pcp_server_create(const struct cgn_config *cfg, const struct pcp_server_ops *ops,
				     uint64_t now_ms);
void pcp_server_free(struct pcp_server *srv);

/**
 * Installs the static mappings, restores the state store's mappings and PEER sessions (the
 * epoch goes on when they survived as they were, §8.5), and schedules the restart ANNOUNCEs
 * (§14.1.3). Call once the data plane consumes its rings. @return 0 or -errno (message on stderr).
 */
int pcp_server_start(struct pcp_server *srv, uint64_t now_ms);

/**
 * Handles one datagram received from (src, src_port).
 * @param resp at least PCP_MAX_MSG octets.
 * @return the response length, or 0 when the request is silently dropped.
 */
size_t pcp_server_handle(struct pcp_server *srv, uint64_t now_ms, const uint8_t *msg, size_t len,
			 const struct cgn_addr *src, uint16_t src_port, uint8_t *resp);

/**
 * Commits the state store's batch (state.path): every change the requests since the last
 * flush made. Call before their responses are sent (group commit), and after ticks and
 * reloads (they call it themselves). No store, or nothing pending: nothing to do.
 */
void pcp_server_flush(struct pcp_server *srv);

/**
 * Timers: expiry (bounded sweeps, see mappings.c), unsolicited sends that are due.
 * Call every 100 ms or so.
 */
void pcp_server_tick(struct pcp_server *srv, uint64_t now_ms);

/**
 * Applies a new configuration without losing mappings (SIGHUP). Keys that size memory or
 * sockets need a restart: if one differs, nothing changes and *err says which. A new pool
 * moves the mappings of removed addresses and tells their clients (§14.2), and resets the
 * epoch (§8.5).
 * @return 0, or -EINVAL / -ENOMEM with *err set.
 */
int pcp_server_reload(struct pcp_server *srv, const struct cgn_config *cfg, uint64_t now_ms, char *err,
		      size_t err_len);

/** @return the Epoch Time field now (§8.5: seconds since the server's state began). */
uint32_t pcp_server_epoch(const struct pcp_server *srv, uint64_t now_ms);

const struct pcp_server_stats *pcp_server_stats(const struct pcp_server *srv);

/**
 * The DESCRIPTION (RFC 7220) of the MAP part of the mapping of inside key in, as a JSON
 * string body in ASCII (pcp_utf8_escape(ascii)): its first octets (at most 127, cut at a
 * character boundary) as much of it as fits out[0..cap).
 * Any thread (the telemetry thread): it reads a copy kept under a lock, never the records.
 * @param stored_len if not NULL, set to the octets the mapping stores.
 * @return true if the mapping has a description (possibly empty), else false with out "".
 */
bool pcp_server_description(struct pcp_server *srv, const struct cgn_key *in, char *out, size_t cap,
			    uint16_t *stored_len);
/** The configuration in force (the last one SIGHUP applied). */
const struct cgn_config *pcp_server_config(const struct pcp_server *srv);

/** The subscriber/port-block allocator, which the data plane's workers share. */
struct cgn_pb *pcp_server_pb(struct pcp_server *srv);

/**
 * From now on a data plane allocates from the server's allocator (implicit sessions): a pool
 * change on reload goes through ops.repool_begin/_end so that it moves the data plane too.
 */
void pcp_server_freeze_pool(struct pcp_server *srv);
uint32_t pcp_server_mapping_count(const struct pcp_server *srv);

/**
 * NAT logging at shutdown when no state store keeps the explicit mappings: reports the end
 * (NAT44/NAT64_BIB_DELETE) of each one whose creation was reported, visiting slots record
 * slots from *cursor (0 at first), so that the caller can let the logger catch up between
 * calls. Control thread, before the logger stops. @return true while slots remain.
 */
bool pcp_server_log_ends(struct pcp_server *srv, uint32_t *cursor, uint32_t slots, uint64_t now);
uint32_t pcp_server_session_count(const struct pcp_server *srv);
uint32_t pcp_server_hold_count(const struct pcp_server *srv);

/** @return the drop reason's name, for telemetry. */
const char *pcp_drop_reason_name(enum pcp_drop_reason r);

#endif /* PCP_SERVER_H */
