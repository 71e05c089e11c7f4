/*
 * The mapping entry of the shared translation table and the message that carries it from
 * the control thread to the workers. Shared by control/ (producer) and dataplane/ (consumer);
 * no DPDK types here so that tests and tools can build messages without EAL.
 *
 * A mapping is one object reachable by two keys (pf: key[PF_SK_STACK] / key[PF_SK_WIRE]):
 *   inside key  = (internal address, internal port, protocol)   → used outbound, in2out
 *   outside key = (external address, external port, protocol)   → used inbound,  out2in
 * Each key leads to the same entry from its side of the table (dataplane/cgn_table.h), which
 * compares keys with the entry's own endpoints. Internal addresses are 16 octets (IPv4
 * mapped), so NAT64 subscribers (RFC 6146) need no new layout.
 *
 * Lifetimes are absolute times in milliseconds of CLOCK_MONOTONIC (cgn_clock_ms()), the one
 * clock every thread of cgnatd reads.
 */
#ifndef CGN_MAPPING_H
#define CGN_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cgn_addr.h"
#include "cgn_clock.h"

/* Which side of the NAT a key names. */
/* FILTER entries a mapping carries (RFC 6887 §13.3 lets a server set its own limit). */
#define CGN_MAP_FILTERS 4
/* Remote peers an implicit mapping remembers for endpoint-dependent filtering. */
#define CGN_MAP_PEERS 8

enum cgn_key_side {
	CGN_SIDE_INSIDE = 0,
	CGN_SIDE_OUTSIDE = 1,
};

/*
 * A key of the shared table. Keep in sync with cgn_key_make() and cgn_table_hash_v4(), which
 * hashes a key from its values laid out as here: no padding holes, every octet is written, so
 * keys hash by their bytes (CRC32-C, four 8-octet steps). The table compares a key with the
 * entry's endpoints (cgn_table_key_matches), never stores it.
 */
struct cgn_key {
	struct cgn_addr addr; /* internal (inside key) or external (outside key) address */
	uint16_t port;        /* host order; ICMP: the echo identifier */
	uint8_t proto;        /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	uint8_t side;         /* enum cgn_key_side */
	uint32_t domain;      /* routing domain of the address; 0 until VRFs exist */
	uint32_t remote_v4;   /* reserved for keys with a remote peer; 0 (ADF/APDF use peers[]) */
	uint16_t remote_port; /* ... and its port; 0 */
	uint16_t reserved;    /* 0 */
} __attribute__((aligned(8))); /* hashed 8 octets at a time */
_Static_assert(sizeof(struct cgn_key) == 32, "struct cgn_key must have no padding");

/*
 * Writes a key in place, field by field: building one on the stack and copying it whole
 * would read 16 octets over stores of 1 and 2 just made, which store-to-load forwarding
 * cannot serve (a stall of the per-packet path, seen with perf).
 */
static inline void
cgn_key_set_v4(struct cgn_key *k, uint32_t v4_be, uint16_t port, uint8_t proto, enum cgn_key_side side)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	memcpy(k->addr.b, mapped, 12);
	memcpy(&k->addr.b[12], &v4_be, 4);
	k->port = port;
	k->proto = proto;
	k->side = (uint8_t)side;
	k->domain = 0;
	k->remote_v4 = 0;
	k->remote_port = 0;
	k->reserved = 0;
}

static inline struct cgn_key
cgn_key_make(const struct cgn_addr *addr, uint16_t port, uint8_t proto, enum cgn_key_side side)
{
	struct cgn_key k = { .addr = *addr, .port = port, .proto = proto, .side = (uint8_t)side };
	return k;
}

/* How a mapping came to be (RFC 6887 §3 terminology). */
#define CGN_MAP_FLAGS(X)                                                             \
	X(EXPLICIT, 0, "created or managed by PCP MAP (explicit dynamic inbound)")      \
	X(STATIC, 1, "configured; never expires, PCP may not delete it")                 \
	X(PEER, 2, "created or managed by PCP PEER (explicit dynamic outbound)")         \
	X(IMPLICIT, 3, "created by outbound traffic (implicit dynamic)")                 \
	X(PREFER_FAILURE, 4, "requested with PREFER_FAILURE (§13.2)")                    \
	X(THIRD_PARTY, 5, "requested on behalf of another host (§13.1)")                 \
	X(FILTERED, 6, "inbound traffic restricted to the FILTER set (§13.3)")             \
	X(NATPMP, 7, "created or managed by NAT-PMP (RFC 6886)")

enum cgn_map_flag {
#define X(name, bit, doc) CGN_MAP_##name = 1u << bit,
	CGN_MAP_FLAGS(X)
#undef X
};

/* Inbound mappings: no transport message reduces their lifetime (RFC 6887 §15). */
#define CGN_MAP_INBOUND (CGN_MAP_EXPLICIT | CGN_MAP_STATIC | CGN_MAP_NATPMP)

/* An implicit mapping with no PCP, static or PEER part: the workers' own, expired by its
 * idle timeout and moved by a pool change (the control thread owns the others). */
static inline bool
cgn_mapping_workers_own(uint16_t flags)
{
	return (flags & CGN_MAP_IMPLICIT) && !(flags & (CGN_MAP_EXPLICIT | CGN_MAP_STATIC | CGN_MAP_PEER));
}

/* One FILTER entry (RFC 6887 §13.3) as the data plane applies it. Keep in sync with
 * dataplane filtering: no padding holes. */
struct cgn_filter {
	struct cgn_addr addr;  /* remote peer prefix */
	uint16_t port;         /* host order; 0 = every port */
	uint8_t prefix_len;    /* 0..128, IPv4 as 96 + len */
	uint8_t reserved;
};
_Static_assert(sizeof(struct cgn_filter) == 20, "struct cgn_filter has no padding");

/*
 * One entry of the shared table: 192 octets, three cache lines. Line 0 holds all a packet
 * needs, whichever way it goes: both endpoints (a lookup compares its key with them; the
 * table stores no keys, cgn_mapping_in_key()/_out_key() rebuild them), flags, activity and lifetime. Lines 1
 * and 2 hold the FILTER set, read only for inbound packets of filtered mappings, and the nonce.
 *
 * Writers (dataplane/cgn_table.h): workers (their ring's messages, the sessions they create and
 * expire) and the main lcore during a pool change, the workers paused.
 * Readers: every worker, and the telemetry and control threads while they are RCU readers.
 * expire_ms and lifetime_s are updated in place with relaxed atomics by refresh messages,
 * last_out_ms, tcp_state, pref64 and closed_* by workers on traffic; every other field is written once before
 * the entry is published and never again (a change of filters publishes a new entry: REPLACE).
 * Freed entries are returned to their mempool only after an RCU grace period
 * (dataplane/cgn_table.c), so a reader holding a pointer obtained while online may read it
 * until its next quiescent state.
 */
struct cgn_mapping {
	/* cache line 0: the translation */
	struct cgn_addr int_addr; /* internal address (IPv4 mapped, or IPv6 with NAT64) */
	uint32_t ext_addr;      /* external IPv4 address, network order */
	uint16_t int_port;      /* host order; ICMP: the echo identifier */
	uint16_t ext_port;      /* host order */
	uint8_t proto;          /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP */
	uint8_t n_filters;      /* entries of filters[] in force; 0 = endpoint-independent */
	uint16_t flags;         /* CGN_MAP_* */
	uint8_t tcp_state;      /* CGN_TCP_* (workers, relaxed); implicit TCP mappings' timeout */
	uint8_t handed_tcp_state; /* writers only, on an entry a REPLACE retired: the tcp_state it
				   * copied to the successor (cgn_table.c merges what came later) */
	uint8_t pref64;         /* NAT64: index of the Pref64 (nat64.prefixes) the subscriber sent
	                         * through last (workers, relaxed): the 4->6 source is embedded
	                         * with it; 0 otherwise */
	uint8_t reserved0;
	uint32_t domain;        /* routing domain of both keys; 0 until VRFs exist */
	uint32_t subscriber;    /* subscriber index (common/cgn_portblock.h) */
	uint32_t lifetime_s;    /* granted lifetime, for reporting */
	uint64_t last_out_ms;   /* last outbound packet (workers); 0 = none seen */
	uint64_t expire_ms;     /* absolute; UINT64_MAX = never (static); 0 = by idle timeout */
	/* cache lines 1 and 2: inbound filtering, bookkeeping */
	union {
		/* PCP MAP mappings: their FILTER set (RFC 6887 §13.3), written once */
		struct cgn_filter filters[CGN_MAP_FILTERS];
		/* implicit mappings under address(-and-port)-dependent filtering: the remote peers
		 * the inside has sent to (RFC 4787 §5), one atomic word each, slot by hash */
		uint64_t peers[CGN_MAP_PEERS];
	};
	uint8_t nonce[12];      /* RFC 6887 §11.1 mapping nonce; zero for static mappings */
	uint32_t closed_peer;   /* ... and the remote end of that connection (network order) */
	uint64_t closed_ms;     /* outbound mappings: when a FIN or RST last made tcp_state CLOSING (workers) */
	uint16_t closed_port;   /* ... the remote port (host order) */
	/* RFC 7753 PORT_SET: the entry is one port of a set of set_size consecutive internal
	 * ports from set_first (0: a single-port mapping). For reporting only (telemetry lists a
	 * set as one row); the workers never read it: each port of a set is an entry of its own. */
	uint16_t set_first;
	uint16_t set_size;
	uint8_t reserved2[18];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct cgn_mapping) == 192, "struct cgn_mapping is three cache lines");
_Static_assert(offsetof(struct cgn_mapping, filters) == 64, "line 0 holds the whole translation");

/** @return the inside key of a mapping (internal address, port, protocol). */
static inline struct cgn_key
cgn_mapping_in_key(const struct cgn_mapping *m)
{
	struct cgn_key k = { .addr = m->int_addr, .port = m->int_port, .proto = m->proto,
			     .side = CGN_SIDE_INSIDE, .domain = m->domain };
	return k;
}

/** @return the outside key of a mapping (external address, port, protocol). */
static inline struct cgn_key
cgn_mapping_out_key(const struct cgn_mapping *m)
{
	struct cgn_key k = { .addr = cgn_addr_from_v4(m->ext_addr), .port = m->ext_port, .proto = m->proto,
			     .side = CGN_SIDE_OUTSIDE, .domain = m->domain };
	return k;
}

/** Sets both endpoints of a mapping: the inside key's, and an external address and port. */
static inline void
cgn_mapping_set(struct cgn_mapping *m, const struct cgn_key *in, uint32_t ext_addr, uint16_t ext_port)
{
	m->int_addr = in->addr;
	m->int_port = in->port;
	m->proto = in->proto;
	m->domain = in->domain;
	m->ext_addr = ext_addr;
	m->ext_port = ext_port;
}

/* TCP state of an outbound (implicit or PEER) mapping: an implicit one's idle timeout (RFC
 * 5382 REQ-5, RFC 7857 §2.1); a PEER session ends on CLOSING (RFC 6887 §12.3). */
enum cgn_tcp_state {
	CGN_TCP_NONE = 0,        /* not TCP, or no segment seen */
	CGN_TCP_TRANSITORY = 1,  /* SYN without its answer: tcp_transitory_s */
	CGN_TCP_ESTABLISHED = 2, /* SYN seen both ways: tcp_established_s */
	CGN_TCP_CLOSING = 3,     /* FIN or RST seen: tcp_transitory_s */
};

/* Operations the control thread asks the workers to apply. */
enum cgn_msg_op {
	CGN_MSG_ADD = 1,     /* insert both keys of m */
	CGN_MSG_REFRESH = 2, /* set expire_ms/lifetime_s of the entry with m's inside key */
	CGN_MSG_DEL = 3,     /* remove both keys of the entry with m's inside key */
	CGN_MSG_REPLACE = 4, /* publish m in place of the entry with the same keys (filters changed) */
};

/* One element of the control → worker ring (rte_ring_create_elem, fixed size). */
struct cgn_ring_msg {
	uint32_t op; /* enum cgn_msg_op */
	uint32_t seq; /* producer sequence number, for tracing */
	uint8_t pad[56];
	struct cgn_mapping m;
};
_Static_assert(sizeof(struct cgn_ring_msg) % 4 == 0, "rte_ring element size must be a multiple of 4");

#endif /* CGN_MAPPING_H */
