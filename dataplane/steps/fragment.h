/*
 * IPv4 fragments (RFC 4787 REQ-14: a NAT "MUST support receiving in-order and out-of-order
 * fragments"), translated without reassembly. The first fragment carries the transport
 * header: it goes through the steps like any packet, and what they made of its addresses is
 * remembered for the datagram (source, destination, IP identification, protocol, side).
 * Later fragments take the same addresses from that record; one that comes before its first
 * fragment is held until the first one is translated, or dropped after a hold time. A first
 * fragment the steps drop is remembered too: its later fragments are dropped at once.
 * Only fragments that could be ours are held (outbound from pcp.inside, inbound to a pool
 * address), each side at most half the hold, the oldest making room for the newest.
 * The IP identification is not rewritten: a destination may, rarely, see two subscribers'
 * datagrams with one identification from one external address at once (documented limit).
 *
 * State is per worker: RSS sends every fragment of a datagram to one queue (NICs hash
 * fragments by their addresses alone, RTE_ETH_RSS_FRAG_IPV4). Worker context only.
 */
#ifndef CGN_FRAGMENT_H
#define CGN_FRAGMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"

#define CGN_FRAG_SLOTS 65536  /* datagrams remembered a worker (a power of two; 32 octets each) */
#define CGN_FRAG_HELD 64      /* later fragments held a worker, waiting for their first */
#define CGN_FRAG_HELD_SIDE (CGN_FRAG_HELD / 2) /* of them, from one side */
#define CGN_FRAG_LIFE_MS 2000 /* how long a datagram is remembered, and a fragment held */

/* One datagram whose first fragment was translated. */
struct cgn_frag_entry {
	struct cgn_frag_key k;
	uint32_t new_src, new_dst; /* network order */
	uint16_t out_port;         /* where the first fragment left when no route says otherwise */
	uint8_t to;                /* enum cgn_port_role */
	bool refused;              /* the steps dropped the first fragment: drop the rest */
	uint64_t until_ms;         /* 0: free */
};
_Static_assert(sizeof(struct cgn_frag_entry) == 32, "two entries a cache line");

struct cgn_frag_held {
	struct cgn_pkt p; /* as classify left it: its mbuf, headers, fkey */
	uint64_t until_ms;
};

struct cgn_frags {
	struct cgn_frag_entry *slots; /* [CGN_FRAG_SLOTS] */
	struct cgn_frag_held held[CGN_FRAG_HELD]; /* in arrival order */
	unsigned n_held;
	unsigned n_held_side[2];
};

/** Allocates a worker's fragment state. Main lcore. @return 0 or -ENOMEM. */
int cgn_frags_init(struct cgn_frags *f);

/** Frees it, and the fragments still held. Main lcore, after the workers stopped. */
void cgn_frags_fini(struct cgn_frags *f);

/**
 * A first fragment leaves translated (p's header rewritten, p->out_port and p->to set):
 * remembers its datagram under the key classify took before the rewrite. @return its record.
 */
const struct cgn_frag_entry *cgn_frag_record(struct cgn_worker *w, const struct cgn_pkt *p);

/** The steps dropped a first fragment: its later fragments, held or to come, are dropped. */
void cgn_frag_refuse(struct cgn_worker *w, const struct cgn_frag_key *k);

/**
 * A later fragment: translated like its datagram's first fragment (@return CGN_TX), or held
 * until it comes (CGN_CONSUMED), or dropped (CGN_DROPPED: its first was dropped, it cannot be
 * ours, or its TTL ran out: no ICMP error for a non-initial fragment, RFC 1812 §4.3.2.7).
 */
enum cgn_verdict cgn_frag_later(struct cgn_worker *w, struct cgn_pkt *p);

/** Sends the held fragments of the datagram just recorded (e: cgn_frag_record's, this burst).
 * @return how many were sent. */
unsigned cgn_frag_release(struct cgn_worker *w, const struct cgn_frag_entry *e);

/** Drops held fragments whose first fragment did not come in time (counted). */
void cgn_frag_expire(struct cgn_worker *w, uint64_t now_ms);

#endif /* CGN_FRAGMENT_H */
