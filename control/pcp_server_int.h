/*
 * What the PCP server's files share: the server's state, the explicit mapping record, the
 * per-request context, and the mapping lifecycle (mappings.c) that MAP, PEER and NAT-PMP all
 * go through. Not for other modules. Control thread only.
 */
#ifndef PCP_SERVER_INT_H
#define PCP_SERVER_INT_H

#include <stdbool.h>

#include "cgn_portblock.h"
#include "cgn_token_bucket.h"
#include "pcp_description.h"
#include "pcp_server.h"
#include "pcp_wire.h"
#include "rec_db.h"
#include "state_record.h"

struct cgn_state;

/*
 * A mapping the control plane manages: explicit (MAP, NAT-PMP), static, or outbound created
 * by PEER. Keyed by its inside key in srv->mappings; its data-plane twin is the shared-table
 * entry with the same keys.
 */
struct pcp_mapping_rec {
	struct cgn_key in;
	uint32_t sub;               /* subscriber index in srv->pb */
	uint32_t ext_addr;          /* network order */
	uint16_t ext_port;
	uint16_t flags;             /* CGN_MAP_* */
	uint8_t nonce[PCP_NONCE_LEN]; /* of the MAP/NAT-PMP part (§11.3: one nonce per mapping) */
	uint32_t lifetime_s;        /* last lifetime granted to the explicit part */
	uint64_t expire_ms;         /* explicit part; UINT64_MAX static; 0 none */
	uint64_t peer_expire_ms;    /* latest PEER session's expiry; 0 none */
	uint64_t created_ms;
	struct cgn_addr client;     /* who asked (differs from in.addr with THIRD_PARTY) */
	uint16_t client_port;
	uint8_t n_filters;
	struct cgn_filter filters[CGN_MAP_FILTERS];      /* as the data plane applies them (IPv4) */
	struct cgn_filter filters_sent[CGN_MAP_FILTERS]; /* as the client sent them (a NAT64
							  * client's under a Pref64, RFC 6887 §5) */
	uint8_t pref64;             /* NAT64: the Pref64 (nat64.prefixes index) the data plane
				     * embeds the remote's IPv4 address with; 0 for NAT44 */
	uint32_t n_peers;           /* PEER sessions on this mapping */
	/* RFC 7220 DESCRIPTION of the MAP part as stored (validated UTF-8, truncated to
	 * pcp.description_max at a character boundary), owned by the record (jemalloc'd, freed
	 * when the record goes or the text is replaced); NULL with length 0: none given.
	 * has_description: the client set one (an empty one clears it, §3 of RFC 7220). */
	char *description;
	uint16_t description_len;
	bool has_description;
	/* RFC 7753 PORT_SET: this mapping is one port of a set of set_size consecutive internal
	 * ports from set_first (and as many consecutive external ports from ext_port -
	 * (in.port - set_first)); set_size 0: a single-port mapping. Every port of a set is a
	 * record and a data-plane entry of its own; the set is renewed and deleted as one. */
	uint16_t set_first;
	uint16_t set_size;
	bool moved;                 /* reload.c: given a new external endpoint by this reload
				     * (between its two passes: still to be moved) */
	bool move_seen;             /* reload.c: pass 2 of this reload has dealt with it (a port
				     * set, all its ports, at the first one met) */
	bool port_lost;             /* reload.c: a pool change could not move it: its port is not
				     * the allocator's, so it is never released */
	uint64_t store_id;          /* pcp_store.c: its key in the state store; 0 not stored */
	bool bib_logged;            /* NAT logging: its BIB_CREATE was reported (or it was
				     * restored: reported by the run that made it), so its end is
				     * reported too; never a DELETE without it (mapping_log_*) */
};

/* A PEER session (§12): one remote peer of a mapping. Keyed by struct peer_key. */
struct peer_key {
	struct cgn_key in;
	struct cgn_addr remote;
	uint16_t remote_port;
	uint16_t reserved; /* zero: keys compare by their bytes */
};

struct pcp_peer_rec {
	struct cgn_addr remote_sent; /* the remote peer as the client sent it (the key has the
				      * IPv4 address a NAT64 client's Pref64 address embeds) */
	uint8_t nonce[PCP_NONCE_LEN];
	uint32_t lifetime_s;
	uint64_t expire_ms;
	uint64_t renewed_ms; /* the last PEER request for it: a FIN or RST after it ends it */
	char *description;   /* RFC 7220, as pcp_mapping_rec's, of this PEER session */
	uint16_t description_len;
	bool has_description;
	uint64_t store_id;   /* pcp_store.c: its key in the state store; 0 not stored */
};

/* A freed external port held back from reuse (RFC 6888 REQ-8, RFC 6887 §15). */
struct hold_rec {
	uint32_t sub;
	uint32_t ext_addr;
	uint16_t ext_port;
	uint8_t proto;
	uint8_t nonce[PCP_NONCE_LEN];
	uint64_t until_ms;
};

/* Scheduled unsolicited sends: ANNOUNCE at start (§14.1.3), Mapping Updates (§14.2). */
#define PCP_MAX_UNSOLICITED 1024
struct unsolicited {
	struct cgn_key about;       /* the mapping a Mapping Update concerns (side 0xff: none) */
	struct cgn_addr dst;
	uint16_t dst_port;
	uint8_t sends_left;
	uint32_t interval_ms;
	uint64_t next_ms;
	uint16_t len;
	uint8_t msg[PCP_MAX_MSG];
};

struct pcp_server {
	struct cgn_config cfg;
	struct pcp_server_ops ops;
	uint64_t epoch_start_ms;
	struct rec_db *mappings;    /* struct pcp_mapping_rec by struct cgn_key (inside) */
	struct rec_db *peers;       /* struct pcp_peer_rec by struct peer_key */
	struct rec_db *holds;       /* struct hold_rec by struct cgn_key (inside) */
	struct pcp_desc_index *descriptions; /* copies of the mappings' DESCRIPTIONs by inside key,
					      * for the telemetry thread (pcp_description_rec.c) */
	struct cgn_pb pb;
	void *pb_mem;
	uint64_t rng;
	uint32_t expire_cursor, peer_cursor, hold_cursor, reclaim_cursor;
	struct cgn_token_bucket requests; /* overload limiter (§8.2), pcp.max_requests_per_second */
	bool pool_frozen;           /* the data plane allocates from pb: a repool pauses it (ops.repool_*) */
	struct unsolicited *unsol;  /* [PCP_MAX_UNSOLICITED] */
	unsigned n_unsol;
	struct pcp_server_stats stats;
	/* The state store (pcp_store.c); NULL when state.path is unset. */
	struct cgn_state *store;
	struct cgn_state_meta store_meta; /* as opened; replaced when the epoch starts again */
	int store_found;                  /* enum cgn_state_found of the open */
	int64_t store_rt_off;             /* CLOCK_REALTIME - CLOCK_MONOTONIC (ms), every tick */
	uint64_t store_logged_ms;         /* the last store failure logged */
	bool store_in_request;            /* pcp_server_handle is serving one: a change the
					   * batch has no room for fails (NO_RESOURCES) */
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
	bool store_keep;         /* an error result whose request changed other mappings all the
				  * same (RFC 7753 §4.4.1, pcp_port_set_map): its store writes stay */
	uint8_t p64_store[PCP_MAX_MSG]; /* data of the PREFIX64 options of resp */
	uint8_t port_set_store[PCP_PORT_SET_LEN]; /* data of the PORT_SET option of resp */
};

/*
 * Opcode handlers: build ctx->resp (opcode data, options, lifetime) and return PCP_RES_SUCCESS,
 * or return an error result and leave no state changed (§7.3).
 */
uint8_t pcp_map_handle(struct pcp_ctx *ctx);
uint8_t pcp_peer_handle(struct pcp_ctx *ctx);
uint8_t pcp_announce_handle(struct pcp_ctx *ctx);

/* ---- NAT64 by PCP, PREFIX64 (pcp_nat64.c) ---- */

/** @return true if req carries a PREFIX64 option that decodes (RFC 7225 §4.3: the client asks
 *  for the Pref64s); one that does not is ignored, as optional options may be (RFC 6887 §7.3). */
bool pcp_prefix64_asked(const struct pcp_request *req);

/**
 * Appends the PREFIX64 options of cfg's NAT64 to resp (RFC 7225 §4.2): the Pref64s that have
 * an IPv4 prefix list first, each with its list, then the others, each in configuration order;
 * every one with the null suffix. None without NAT64 ("MUST NOT include any PREFIX64").
 * Only those that fit the response's 1100 octets (RFC 6887 §7.3) beside what it holds already
 * are added, in that order: the request is never refused for them.
 * @param store holds the options' data (views of resp), cap octets.
 */
void pcp_prefix64_append(const struct cgn_config *cfg, struct pcp_response *resp, uint8_t *store, size_t cap);

/**
 * A remote peer of a NAT64 client (PEER, FILTER) as the data plane sees it (RFC 6887 §5,
 * Figure 5): an address under a Pref64 as the IPv4 address it embeds (RFC 6052 §2.3; *pref64
 * its index), an IPv4-mapped address as it is (*pref64 the first Pref64 that may carry it).
 * @return 0, or -ENOENT for an address that is neither, or one RFC 6052 §3.1 forbids under
 * its Pref64.
 */
int pcp_nat64_remote(const struct cgn_config *cfg, const struct cgn_addr *sent, struct cgn_addr *v4, int *pref64);

/**
 * A FILTER of a NAT64 client as the data plane applies it: an IPv4-mapped prefix as it is; a
 * prefix under a Pref64, at least as long as it, as the IPv4 prefix of the bits it covers.
 * @return PCP_RES_SUCCESS, or PCP_RES_MALFORMED_OPTION for a prefix that is neither.
 */
uint8_t pcp_nat64_filter(const struct cgn_config *cfg, const struct cgn_filter *sent, struct cgn_filter *out,
			 int *pref64);

/* ---- DESCRIPTION, RFC 7220 (pcp_description_rec.c) ---- */

/**
 * Reads a request's DESCRIPTION option (RFC 7220 §3). Counts an invalid one.
 * @return true if its text is valid UTF-8, with *len the octets to store and echo (cut to
 * pcp.description_max at a character boundary); false if it is to be ignored: "MUST NOT
 * return a DESCRIPTION option", the request served as without it.
 */
bool pcp_description_read(struct pcp_server *srv, const struct pcp_option *opt, uint16_t *len);

/**
 * Makes text[0..len) the DESCRIPTION of rec's MAP part, replacing and freeing the old one
 * (len 0: clears it, §3 "erase"). Call it once the change it comes with is certain (after the
 * push): it cannot be undone by the `old = *rec ... *rec = old` idiom.
 * @return true, or false (counted) with the old text kept when memory is short.
 */
bool pcp_description_mapping_set(struct pcp_server *srv, struct pcp_mapping_rec *rec, const uint8_t *text,
				 uint16_t len);

/** Frees rec's MAP part text, if any: before the record goes (forget, a strip, a reload's
 *  drop, pcp_server_free). */
void pcp_description_mapping_clear(struct pcp_server *srv, struct pcp_mapping_rec *rec);

/** As pcp_description_mapping_set for a PEER session. */
bool pcp_description_peer_set(struct pcp_server *srv, struct pcp_peer_rec *p, const uint8_t *text, uint16_t len);

/** Frees a PEER session's text, if any: before the session goes. */
void pcp_description_peer_clear(struct pcp_peer_rec *p);

/**
 * Places the DESCRIPTION echoed in resp once the request succeeded: last of the options when
 * keep (the record stored it), else out (not stored: "not accepted", RFC 7220 §3). RFC 6887
 * leaves the options' order to the server; last, because Wireshark 4.0's dissector misreads
 * an option that follows a DESCRIPTION whose length is not a multiple of 4. The other
 * options keep their order. The echo is added in request order while the options are read,
 * so that what is added after it (PREFIX64s) is sized with it in the 1100 octets.
 */
void pcp_description_place(struct pcp_response *resp, bool keep);

/** Frees every record's text and the index: pcp_server_free. */
void pcp_description_free_all(struct pcp_server *srv);

/* THIRD_PARTY (§13.1) for MAP and PEER: authorises the sender and sets *internal. */
uint8_t pcp_option_third_party_check(struct pcp_ctx *ctx, const struct pcp_option *opt, struct cgn_addr *internal);

/**
 * Schedules an unsolicited message: now, then sends-1 more times at intervals doubling from
 * first_gap_ms. about (may be NULL) names the mapping, so that its client's next request
 * cancels the rest (§14.2).
 */
void pcp_unsolicited_add(struct pcp_server *srv, uint64_t now, const struct cgn_addr *dst, uint16_t port,
			 const uint8_t *msg, size_t len, uint8_t sends, uint32_t first_gap_ms, const struct cgn_key *about);

/**
 * Schedules the unsolicited ANNOUNCEs of §14.1.3 (multicast, configured clients; with the
 * PREFIX64s, RFC 7225 §4.2) as at start, and sends the first now: on a restart, and when a
 * reload changes the Pref64s ("SHOULD issue an unsolicited PCP ANNOUNCE message").
 */
void pcp_announce_all(struct pcp_server *srv, uint64_t now);

/** Cancels pending Mapping Updates about a mapping: its client has refreshed it (§14.2); about
 * NULL: the pending ANNOUNCEs (a reload replaces them with new Pref64s). */
void pcp_unsolicited_cancel(struct pcp_server *srv, const struct cgn_key *about);

/** Lays out a port-block allocator for cfg's pool, on zeroed memory (*mem, to free). */
int pcp_server_make_pb(const struct cgn_config *cfg, struct cgn_pb *pb, void **mem);

/* NAT-PMP (RFC 6886) for version-0 requests. @return the response length, 0 to drop. */
size_t natpmp_handle(struct pcp_server *srv, uint64_t now_ms, const uint8_t *msg, size_t len,
		     const struct cgn_addr *src, uint16_t src_port, uint8_t *out);

/* ---- the mapping lifecycle (mappings.c) ---- */

/* What a MAP or NAT-PMP request asks for once its options are read. */
struct map_intent {
	struct cgn_key in;              /* internal address (own or THIRD_PARTY), port, protocol */
	struct cgn_addr suggested_addr;
	uint16_t suggested_port;
	uint32_t lifetime;              /* requested; 0 = delete */
	uint8_t nonce[PCP_NONCE_LEN];
	uint16_t origin;                /* CGN_MAP_EXPLICIT or CGN_MAP_NATPMP */
	bool prefer_failure, third_party;
	bool filters_clear;             /* a FILTER of prefix length 0 came first (§13.3) */
	uint8_t n_filters;              /* FILTERs to add */
	struct cgn_filter filters[CGN_MAP_FILTERS];      /* as the data plane applies them */
	struct cgn_filter filters_sent[CGN_MAP_FILTERS]; /* as the client sent them */
	uint8_t pref64;                 /* NAT64: the Pref64 of a new mapping (rec->pref64) */
	struct cgn_addr client;
	uint16_t client_port;
	/* RFC 7220 DESCRIPTION to store on the MAP part (valid UTF-8, already cut to
	 * pcp.description_max; a view of the request); has_description false: none given, the
	 * stored one stays. Length 0 clears it. */
	const uint8_t *description;
	uint16_t description_len;
	bool has_description;
	/* RFC 7753 PORT_SET (pcp_port_set.c): the ports asked from in.port, capped at
	 * pcp.port_set_max and at port 65535; 0 without the option. 1 is a single-port MAP. */
	uint16_t set_want;
	bool set_parity;                /* its P bit */
};

struct map_outcome {
	const struct pcp_mapping_rec *rec; /* the mapping (NULL after a delete); a set's first port */
	uint32_t lifetime;                 /* to report */
	uint32_t error_lifetime;           /* for NOT_AUTHORIZED: the mapping's remaining life */
	bool description_stored;           /* mi's DESCRIPTION is the mapping's now: echo it */
	uint16_t set_first, set_size;      /* RFC 7753: the set concerned (size 0: a single port) */
};

/** Creates, renews or deletes (lifetime 0) a mapping (§11.3, §15). @return a result code. */
uint8_t mapping_map(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct map_outcome *out);

/* A PEER request's DESCRIPTION (RFC 7220) for its session: given (valid, cut to
 * pcp.description_max; a view of the request), and whether the session stores it now. */
struct pcp_desc_want {
	const uint8_t *text;
	uint16_t len;
	bool given;
	bool stored; /* set by mapping_peer on SUCCESS */
};

/**
 * Creates or extends the outbound mapping of a PEER request (§12.3).
 * @param desc the session's DESCRIPTION, or NULL (none: a session keeps its text).
 * @return a result code; on SUCCESS *rec is the mapping and *lifetime the session's.
 */
uint8_t mapping_peer(struct pcp_server *srv, uint64_t now, const struct peer_key *pk,
		     const struct cgn_addr *remote_sent, uint8_t pref64,
		     const struct cgn_addr *suggested_addr, uint16_t suggested_port, uint32_t lifetime,
		     const uint8_t nonce[PCP_NONCE_LEN], bool third_party, const struct cgn_addr *client,
		     uint16_t client_port, struct pcp_desc_want *desc, const struct pcp_mapping_rec **rec,
		     uint32_t *granted, uint32_t *error_lifetime);

/**
 * The subscriber of an internal address in srv->pb: the address itself for IPv4, its
 * nat64.subscriber_prefix_len prefix for IPv6 (cgn_nat64_subscriber(), as the data plane's).
 * @return its index, or -1 (table full, or not there and !create).
 */
int32_t mapping_subscriber(struct pcp_server *srv, const struct cgn_addr *internal, bool create);

/* ---- RFC 7753 port sets: the lifecycle (mappings.c), the MAP side (pcp_port_set.c) ---- */

/** @return true if rec is one port of a port set. */
static inline bool
mapping_in_set(const struct pcp_mapping_rec *rec)
{
	return rec->set_size != 0;
}

/** @return the first external port of rec's set (ext_port - (in.port - set_first)), or rec's
 *  own port if it is a single-port mapping: what a response's Assigned External Port gives. */
static inline uint16_t
mapping_first_external(const struct pcp_mapping_rec *rec)
{
	return mapping_in_set(rec) ? (uint16_t)(rec->ext_port - (rec->in.port - rec->set_first)) : rec->ext_port;
}

/**
 * The records of rec's port set still there, in internal port order (rec is one of them; an
 * expiry the ring interrupted may have removed some, the first among them).
 * @return a view of a static array, valid until the next call of a set function of
 * mappings.c (control thread only, never nested), with *n (>= 1) its length.
 */
struct pcp_mapping_rec **mapping_set_members(struct pcp_server *srv, const struct pcp_mapping_rec *rec, uint32_t *n);

/** Turns rec's fields into an outbound-only mapping's (a PEER one): no longer explicit, no
 *  filters, no expiry of its own, no longer a port of a set. The record only: the caller
 *  stores and pushes it, and gives back a quota count it held (mapping_counts_once()). */
void mapping_strip_explicit_fields(struct pcp_mapping_rec *rec);

/**
 * Creates a port set for mi (RFC 7753 §4.2): mi->set_want (>= 2) internal ports from
 * mi->in.port mapped to as many consecutive external ports of the subscriber's blocks as can
 * be had (cgn_pb_alloc_run()), at least one; fewer when an internal port of the range has an
 * implicit mapping in the data plane (the set stops before it). Every port is a record and a
 * data-plane entry of its own; the set counts as one mapping against
 * pcp.max_mappings_per_subscriber. A grant of one port is a plain single-port mapping
 * (out->set_size 0). All or nothing: if the data plane refuses one port (ring full), every
 * port is taken back and the result is NO_RESOURCES. No mapping may exist in the range (the
 * caller, pcp_port_set_map(), refreshes those instead, §4.4.1).
 * @return a result code; on SUCCESS out->rec is the first port's record.
 */
uint8_t mapping_set_create(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct map_outcome *out);

/**
 * Refreshes the set rec belongs to as one unit (RFC 7753 §4.4, RFC 6887 §15): renewed (every
 * port gets the same new lifetime) or, with mi->lifetime 0, deleted, as a single-port MAP
 * would be (the nonce must match: NOT_AUTHORIZED otherwise; §15 idle rule for the set as a
 * whole). All or nothing on a full ring (NO_RESOURCES). mi->in is not read.
 * @return a result code; out->set_first/size name the set.
 */
uint8_t mapping_set_refresh(struct pcp_server *srv, uint64_t now, const struct map_intent *mi,
			    struct pcp_mapping_rec *rec, struct map_outcome *out);

/** Reads a PORT_SET option of a MAP request into mi (RFC 7753 §4.2). @return a result code. */
uint8_t pcp_port_set_read(struct pcp_ctx *ctx, const struct pcp_option *opt, struct map_intent *mi);

/** @return true if the MAP of mi is a port-set one: it asks for a set, or its internal port
 *  belongs to one (RFC 7753 §4.4.1: a plain MAP refreshes the set it touches). */
bool pcp_port_set_applies(struct pcp_server *srv, const struct map_intent *mi);

/**
 * Serves a port-set MAP once its options are read (RFC 7753 §4.2, §4.4.1): creates the set,
 * or refreshes every mapping (single port or set) the request's internal ports touch, each
 * as a refresh of its own with a response of its own: the first (lowest internal port) is
 * ctx->resp (the return value is its result), the others go to the client by srv->ops.send.
 * Checks the rules that need every option first (PREFER_FAILURE, size 0).
 * @return the result of the first response.
 */
uint8_t pcp_port_set_map(struct pcp_ctx *ctx, struct map_intent *mi);

/** @return true if rec counts against pcp.max_mappings_per_subscriber: an explicit mapping,
 *  once (a port set by its first port only: RFC 7753, the set is one mapping). */
bool mapping_counts_once(const struct pcp_mapping_rec *rec);

/** Installs the configured static mappings. @return 0 or -errno with a message on stderr. */
int mapping_install_statics(struct pcp_server *srv, uint64_t now);

/** Bounded sweeps: expiry of mappings, sessions and port holds; block reclaim. */
void mapping_expire(struct pcp_server *srv, uint64_t now);

/** §15: never shorter than the life outbound traffic gives a mapping. @return remaining ms. */
uint64_t mapping_idle_remaining_ms(struct pcp_server *srv, const struct pcp_mapping_rec *rec, uint64_t now);

/** Sends a mapping change to the data plane. @return 0, or -ENOBUFS (counted). */
int pcp_server_push(struct pcp_server *srv, enum cgn_msg_op op, const struct pcp_mapping_rec *rec);

/* ---- NAT logging of explicit mappings (mappings.c; common/cgn_event.h) ----
 *
 * Every mapping of srv->mappings but the static ones (configuration, not events) is a BIB
 * entry of RFC 8158 §4.6.3/§4.6.4: NAT44_BIB_CREATE (NAT64_ for an IPv6 internal address)
 * once the change that makes it is certain (stored and pushed), NAT44_BIB_DELETE once it is
 * gone from the data plane; a renewal, a strip to outbound only (PEER sessions keep it) and a
 * restore on the same endpoint are none; a move to a new endpoint is a DELETE of the old one
 * and a CREATE of the new one, origin CGN_ORIGIN_POOL. All of it from the main lcore's ring,
 * and nothing when logging is off (cgn_events_on()).
 */

/** @return who made or removes rec, as its flags tell: CGN_ORIGIN_NATPMP for a NAT-PMP-only
 *  mapping, else CGN_ORIGIN_PCP (MAP, PEER). */
uint8_t mapping_origin(const struct pcp_mapping_rec *rec);

/** Reports rec, as it is now (its endpoint, its lifetime_s), created (origin a
 *  CGN_ORIGIN_*), and marks it reported. Not for a static mapping (nothing then). */
void mapping_log_create(struct pcp_mapping_rec *rec, uint8_t origin, uint64_t now);

/** Reports the end of rec's endpoint as it is now, if its creation was reported (bib_logged),
 *  and clears the mark. */
void mapping_log_delete(struct pcp_mapping_rec *rec, uint8_t origin, uint64_t now);

/* ---- the state store (pcp_store.c; docs/operations.md "State store") ---- */

/** Opens state.path's store, if set (pcp_server_create). @return 0 or -errno, logged. */
int pcp_store_open(struct pcp_server *srv);
void pcp_store_close(struct pcp_server *srv);
/** Restores the stored mappings and sessions (pcp_server_start, after the statics). */
int pcp_store_restore(struct pcp_server *srv, uint64_t now);
/** Samples the realtime - monotonic offset the records' times are written with. */
void pcp_store_clock(struct pcp_server *srv);
/**
 * Writes a mapping (not static) or a PEER session as it is now into the open batch (an id is
 * given to a new one). Call before pushing the change: on failure the caller puts the record
 * back and answers NO_RESOURCES. @return 0, or -ENOSPC / -errno (counted: pcp_store_failed).
 */
int pcp_store_mapping(struct pcp_server *srv, struct pcp_mapping_rec *rec);
int pcp_store_peer(struct pcp_server *srv, const struct peer_key *pk, struct pcp_peer_rec *p);
/** Deletes a mapping's or a session's record (none stored: 0). @return 0 or -errno (counted). */
int pcp_store_mapping_gone(struct pcp_server *srv, const struct pcp_mapping_rec *rec);
int pcp_store_peer_gone(struct pcp_server *srv, const struct pcp_peer_rec *p);
/** A savepoint of the open batch, and taking back what was written since (a failed push). */
size_t pcp_store_mark(const struct pcp_server *srv);
void pcp_store_rollback(struct pcp_server *srv, size_t mark);

/**
 * Schedules the unsolicited MAP (or PEER, with pk and p) response of §14.2 for rec as it is
 * now, three times (reload.c: a pool change; pcp_store.c: a restored mapping that moved).
 */
void pcp_mapping_update(struct pcp_server *srv, uint64_t now, const struct pcp_mapping_rec *rec,
			const struct peer_key *pk, const struct pcp_peer_rec *p, uint8_t result);

/** The same for a change no client waits for (a pool change, the restore at start): waits for
 *  ring room until deadline (cgn_clock_ms()). @return 0, or -ENOBUFS (counted). */
int pcp_server_push_patiently(struct pcp_server *srv, enum cgn_msg_op op, const struct pcp_mapping_rec *rec,
			      uint64_t deadline);

/** Clamps a requested lifetime to [min, max] (§15). */
uint32_t pcp_clamp_lifetime(const struct cgn_config *cfg, uint32_t requested);

#endif /* PCP_SERVER_INT_H */
