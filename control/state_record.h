/*
 * The records of the state store (control/state_store.h), as octets: encode, decode and
 * validate an explicit mapping (struct pcp_mapping_rec), a PEER session (struct peer_key and
 * struct pcp_peer_rec) and the store's meta record. Pure C: no LMDB, no DPDK, no clock; so the
 * unit tests and a fuzz target (tests/fuzz/fuzz_state_record.c) feed it anything.
 *
 * Every record starts with its kind and CGN_STATE_FORMAT; every number is big-endian; every
 * length is bounded here (CGN_STATE_REC_MAX, CGN_STATE_DESC_MAX, CGN_MAP_FILTERS) and a
 * record decodes only if it is exactly as long as its fields say. A record that does not
 * decode makes the whole store "corrupt" (state_store.c): the file was damaged from outside,
 * since LMDB never writes half a transaction.
 *
 * Times are stored as CLOCK_REALTIME milliseconds (CLOCK_MONOTONIC starts again at boot): the
 * caller gives the offset rt = mono + rt_off; 0 (none) and UINT64_MAX (never) stay as they are.
 *
 * Any thread; no state.
 */
#ifndef CGN_STATE_RECORD_H
#define CGN_STATE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"

/* Declared in cgn_config.h and pcp_server_int.h (which includes this file). */
struct cgn_config;
struct pcp_mapping_rec;
struct peer_key;
struct pcp_peer_rec;

/* The record format. A store of another format is not read (state_store.c: moved aside,
 * cgnatd starts empty); a later format must decode this one's records. */
#define CGN_STATE_FORMAT 1

#define CGN_STATE_DESC_MAX 1016 /* RFC 7220 §2: a DESCRIPTION is at most 1016 octets */
#define CGN_STATE_KEY_LEN 8     /* mappings and PEER sessions: a 64-bit id, big-endian */
#define CGN_STATE_REC_MAX (512 + CGN_STATE_DESC_MAX) /* fixed fields and filters are 360 at most */

enum cgn_state_kind {
	CGN_STATE_META = 'm',
	CGN_STATE_MAPPING = 'M',
	CGN_STATE_PEER = 'P',
};

/* The meta record: what the store's mappings are valid for. */
struct cgn_state_meta {
	uint32_t format;           /* CGN_STATE_FORMAT of the writer */
	uint64_t epoch_start_rt;   /* §8.5: when the Epoch Time was 0 (CLOCK_REALTIME ms) */
	uint64_t saved_rt;         /* the last time cgnatd wrote the meta: the epoch restored is
				    * never less than it was then, even if the clock went back */
	uint64_t pool_fingerprint; /* cgn_state_pool_fingerprint() of the writer's pool */
};

/* A mapping's fields that are not in struct pcp_mapping_rec as stored. */
struct cgn_state_map_extra {
	struct cgn_prefix pref64; /* NAT64: the Pref64 itself (the index may differ next run); len 0 none */
};

/** @return a 64-bit fingerprint of the pool: its prefixes, nat.ports and nat.block_size. */
uint64_t cgn_state_pool_fingerprint(const struct cgn_config *cfg);

/** Encodes a meta record. @return its length (<= CGN_STATE_REC_MAX), or -ENOSPC if cap is short. */
int cgn_state_meta_encode(const struct cgn_state_meta *m, uint8_t *buf, size_t cap);

/** @return 0 with *m filled, -EPROTO for another format (m->format set), -EINVAL for garbage. */
int cgn_state_meta_decode(const uint8_t *buf, size_t len, struct cgn_state_meta *m);

/**
 * Encodes an explicit mapping: every field a restart needs (inside key, external endpoint,
 * flags, nonce, lifetime, expiries, creation, client, filters as applied and as sent, Pref64,
 * DESCRIPTION, port set). Not the subscriber index, the PEER count, nor reload's marks.
 * @param rt_off CLOCK_REALTIME - CLOCK_MONOTONIC, ms.
 * @return the length, or -ENOSPC if cap is short, -EINVAL for a record out of the bounds.
 */
int cgn_state_map_encode(const struct pcp_mapping_rec *rec, const struct cgn_state_map_extra *x, int64_t rt_off,
			 uint8_t *buf, size_t cap);

/**
 * Decodes a mapping record into *rec (zeroed first; in.side INSIDE) and *x. The description
 * is malloc'd (rec->description, owned by the caller: free() it) when its length is not 0.
 * @return 0, -EPROTO for another format, -EINVAL for anything else out of place, -ENOMEM.
 */
int cgn_state_map_decode(const uint8_t *buf, size_t len, int64_t rt_off, struct pcp_mapping_rec *rec,
			 struct cgn_state_map_extra *x);

/** Encodes a PEER session. @return the length, -ENOSPC or -EINVAL as above. */
int cgn_state_peer_encode(const struct peer_key *pk, const struct pcp_peer_rec *p, int64_t rt_off, uint8_t *buf,
			  size_t cap);

/** Decodes a PEER session (p->description malloc'd as above). @return as _map_decode(). */
int cgn_state_peer_decode(const uint8_t *buf, size_t len, int64_t rt_off, struct peer_key *pk,
			  struct pcp_peer_rec *p);

/**
 * Checks one stored pair as state_store.c reads it: the key's length for its kind, and that
 * the value decodes. @return 0, -EPROTO (another format) or -EINVAL.
 */
int cgn_state_record_check(enum cgn_state_kind kind, const uint8_t *key, size_t key_len, const uint8_t *val,
			   size_t val_len);

/** The key of a mapping or PEER record: id big-endian. */
void cgn_state_key(uint64_t id, uint8_t key[CGN_STATE_KEY_LEN]);
/** @return the id of a key (CGN_STATE_KEY_LEN octets). */
uint64_t cgn_state_key_id(const uint8_t key[CGN_STATE_KEY_LEN]);

#endif /* CGN_STATE_RECORD_H */
