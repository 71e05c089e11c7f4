/*
 * Where a frame the NAT sends goes (RFC 1812 §5.2.4, RFC 4861 §5.2: longest match): route
 * tables per port role and family, side by side (l3fwd's ipv4 and ipv6 LPM structs): rte_lpm
 * for IPv4, rte_lpm6 for IPv6, and each one's default route (0.0.0.0/0, ::/0) apart, since
 * neither LPM takes depth 0. What leaves toward the subscribers looks up the inside tables,
 * what leaves toward the internet the outside ones, so a route can never turn a translated
 * packet back to the side it came from. A route's next hop is a port and a gateway, or the
 * destination itself when the prefix is directly connected. The neighbour table, keyed by
 * the 16-octet address (IPv4 as mapped, cgn_addr.h) and the port, gives each of those
 * addresses its MAC:
 *   gateways   entries made at start, kept for ever, asked for by ARP or ND (neighbour.c);
 *   static     config `neighbours`: the MAC is given, never asked for;
 *   learned    directly connected destinations: a worker that finds none puts the address
 *              on the resolve ring and drops the frame (NO_NEIGHBOUR); the control thread
 *              makes the entry and asks; one that stops answering is deleted again.
 * A port's peer_mac is what is left when no route matches (the labs' and tests' one wire).
 *
 * Threads: cgn_routes_create/_free on the main lcore; cgn_routes_reload on the control thread
 * with the workers paused; cgn_route_frame(), cgn_route_frame6() and cgn_neigh_learn() on
 * workers (lock-free: the LPMs and next hops never change while workers run; the neighbour
 * hash is RW_CONCURRENCY_LF with the control thread its only writer, and a deleted entry's
 * slot is reused only after an RCU grace period of the shared table's readers); the rest on
 * the control thread (neighbour.c).
 */
#ifndef CGN_ROUTE_H
#define CGN_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_ring.h>

#include "cgn_addr.h"
#include "cgn_config.h"

#define CGN_NEIGH_VALID (1ull << 63)
#define CGN_RESOLVE_RING_SIZE 1024 /* destinations waiting to be asked for */

enum cgn_neigh_kind { CGN_NEIGH_GATEWAY, CGN_NEIGH_STATIC, CGN_NEIGH_LEARNED };

/* One neighbour. mac and seen_ms are written by workers (relaxed atomics); the rest by the
 * control thread. */
struct cgn_neigh {
	uint64_t mac;             /* CGN_NEIGH_VALID | the MAC in the low 48 bits; 0 unresolved */
	uint64_t seen_ms;         /* when an ARP frame or ND advertisement from it last arrived */
	uint64_t next_request_ms; /* control: when to ask next */
	struct cgn_addr addr;     /* IPv4 as mapped: asked for by ARP; IPv6 by ND */
	uint8_t port;             /* ports[] index */
	uint8_t kind;             /* enum cgn_neigh_kind */
	uint8_t unanswered;       /* control: requests since it was last heard from */
	uint8_t in_use;
	uint8_t used;             /* learned: a worker sent to it since it was last reachable */
};

struct cgn_nexthop {
	struct cgn_addr via; /* the gateway (all zero when connected) */
	uint32_t neigh;      /* slot of via's entry, unless connected */
	uint16_t port_id;
	uint8_t port;        /* ports[] index */
	uint8_t connected;   /* 1: the destination itself is the neighbour */
};

/* The neighbour hash's key, and what the resolve ring carries. A hash key: no padding
 * (16 + 4 octets); set every member. */
/* The neighbour hash's key (and the resolve ring's element): 8-aligned with no hole, since
 * rte_hash_crc reads it 8 octets at a time; built with an initializer, so zero is zero. */
struct cgn_neigh_key {
	struct cgn_addr addr; /* IPv4 as mapped */
	uint32_t port;        /* ports[] index */
	uint32_t zero;
} __rte_aligned(8);

/* A deleted entry waiting out a grace period before its slot is reused. */
struct cgn_neigh_retired {
	uint64_t token;
	int32_t position; /* in the hash */
	uint32_t slot;
};

struct cgn_routes {
	struct rte_lpm *lpm[2];        /* IPv4, by enum cgn_port_role; NULL when the role has no
					* IPv4 route longer than /0 */
	int32_t dflt[2];               /* 0.0.0.0/0 by role (rte_lpm's depths are 1..32); -1 none */
	struct rte_lpm6 *lpm6[2];      /* IPv6, by role; NULL likewise */
	int32_t dflt6[2];              /* ::/0 by role (rte_lpm6's depths are 1..128); -1 none
					* (cgn_routes_create sets it: a zeroed struct is not "none") */
	struct cgn_nexthop nh[CGN_MAX_ROUTES]; /* of both families */
	unsigned n_nh;
	struct rte_hash *hash;         /* struct cgn_neigh_key → slot (as the data pointer) */
	struct cgn_neigh *neigh;       /* [capacity] */
	uint32_t capacity;
	uint32_t max_learned, n_learned;
	uint32_t *free_slots, n_free;  /* control */
	struct cgn_neigh_retired *retired; /* control: FIFO of [capacity] */
	uint32_t retired_head, n_retired;
	uint32_t walk_cursor;          /* control: the next slot the aging walk visits */
	struct rte_ring *resolve;      /* workers → control: struct cgn_neigh_key (MP/SC) */
	struct rte_rcu_qsbr *rcu;      /* the shared table's: every worker reports to it */
	uint32_t reachable_ms, retry_ms, probes;
	uint64_t next_walk_ms;         /* control */
	/* Route and neighbour counters: written by the control thread, read by telemetry as
	 * "nh_" NAME (NAME, not always the member's name: telemetry keys stay as they were). */
#define CGN_ROUTE_COUNTERS(X)                                                                  \
	X(arp_requests, arp_requests, "ARP requests sent (gateways, directly connected destinations)") \
	X(nd_requests, nd_requests, "Neighbor Solicitations sent (IPv6 gateways, directly connected destinations)") \
	X(expired, expired, "MACs forgotten after arp.probes unanswered requests")              \
	X(learned, learned, "directly connected destinations entered")                          \
	X(forgotten, forgotten, "directly connected destinations deleted again (silent or unused)") \
	X(full, table_full, "destinations not entered: arp.max_neighbours learned entries already")
	struct {
#define X(member, name, doc) uint64_t member;
		CGN_ROUTE_COUNTERS(X)
#undef X
	} stats;
};

struct cgn_dataplane;

/** No default route of either family on either side (-1: none). */
static inline void
cgn_routes_no_defaults(struct cgn_routes *rt)
{
	rt->dflt[CGN_PORT_INSIDE] = rt->dflt[CGN_PORT_OUTSIDE] = -1;
	rt->dflt6[CGN_PORT_INSIDE] = rt->dflt6[CGN_PORT_OUTSIDE] = -1;
}

/**
 * Builds the route tables of both families and the neighbour table from cfg (routes,
 * neighbours, arp) for the data plane's ports. Main lcore, after the ports are set up.
 * Each role with IPv4 or IPv6 prefixes takes an rte_lpm or rte_lpm6 of about 64 MB (their
 * tbl24). @return 0 or -errno (message on stderr).
 */
int cgn_routes_create(struct cgn_dataplane *dp, struct cgn_routes *rt, const struct cgn_config *cfg);

void cgn_routes_free(struct cgn_routes *rt);

/**
 * Replaces the routes and static neighbours with cfg's (a reload; ports, arp unchanged).
 * Gateways and static neighbours cfg no longer names become learned entries, aged out unless
 * frames still go to them; the MAC of a static one is asked for again. Control thread, the
 * workers paused (cgn_dataplane_pause) and telemetry suspended; check_only: only whether it
 * would fail (no pause needed). @return 0, or -errno with err set and nothing changed (the
 * neighbour table too full for the new entries).
 */
int cgn_routes_reload(struct cgn_dataplane *dp, const struct cgn_config *cfg, bool check_only, char *err,
		      size_t err_len);

/**
 * Makes a neighbour entry for addr (IPv4 as mapped, or IPv6; the caller's) on port (ports[]
 * index), or finds the one there is. Control thread (main lcore at start).
 * @return its slot, or -1 if the table is full.
 */
int32_t cgn_neigh_add(struct cgn_routes *rt, const struct cgn_addr *addr, uint8_t port, enum cgn_neigh_kind kind);

/** @return the slot of key's neighbour, or -1. Workers and the control thread. */
static inline int32_t
cgn_neigh_find_key(const struct cgn_routes *rt, const struct cgn_neigh_key *k)
{
	void *data;
	if (rte_hash_lookup_data(rt->hash, k, &data) < 0)
		return -1;
	return (int32_t)(uintptr_t)data;
}

/** @return the slot of (addr, port)'s neighbour, or -1. Workers and the control thread. */
static inline int32_t
cgn_neigh_find(const struct cgn_routes *rt, const struct cgn_addr *addr, uint8_t port)
{
	struct cgn_neigh_key k = { *addr, port };
	return cgn_neigh_find_key(rt, &k);
}

/** The MAC of a neighbour word. */
static inline void
cgn_neigh_mac(uint64_t w, struct rte_ether_addr *mac)
{
	for (int i = 0; i < 6; i++)
		mac->addr_bytes[i] = (uint8_t)(w >> (40 - 8 * i));
}

/** A MAC as a neighbour word: CGN_NEIGH_VALID and the 48 bits. */
static inline uint64_t
cgn_neigh_word(const struct rte_ether_addr *mac)
{
	uint64_t w = CGN_NEIGH_VALID;
	for (int i = 0; i < 6; i++)
		w |= (uint64_t)mac->addr_bytes[i] << (40 - 8 * i);
	return w;
}

enum cgn_route_result {
	CGN_ROUTE_OK,        /* *port_id and *mac say where the frame goes */
	CGN_ROUTE_NONE,      /* no route of that role matches: the caller's fallback */
	CGN_ROUTE_UNRESOLVED /* a route matches, its neighbour has no MAC (yet): drop, count */
};

/*
 * The next hop of route id for dst (key: dst and the next hop's port, filled here): its
 * port and its neighbour's MAC. A directly connected destination with no neighbour entry
 * is put on the resolve ring. Both families.
 */
static inline enum cgn_route_result
cgn_route_nexthop(struct cgn_routes *rt, uint32_t id, struct cgn_neigh_key *k, uint16_t *port_id,
		  struct rte_ether_addr *mac, uint64_t *resolve_full)
{
	const struct cgn_nexthop *nh = &rt->nh[id];
	*port_id = nh->port_id;
	int32_t slot = (int32_t)nh->neigh;
	if (nh->connected) {
		k->port = nh->port;
		if ((slot = cgn_neigh_find_key(rt, k)) < 0) {
			if (rte_ring_mp_enqueue_elem(rt->resolve, k, sizeof(*k)) != 0)
				(*resolve_full)++;
			return CGN_ROUTE_UNRESOLVED;
		}
	}
	struct cgn_neigh *n = &rt->neigh[slot];
	if (nh->connected && !__atomic_load_n(&n->used, __ATOMIC_RELAXED))
		__atomic_store_n(&n->used, 1, __ATOMIC_RELAXED); /* once per aging period: keeps it */
	uint64_t w = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);
	if (!(w & CGN_NEIGH_VALID))
		return CGN_ROUTE_UNRESOLVED;
	cgn_neigh_mac(w, mac);
	return CGN_ROUTE_OK;
}

/**
 * Routes an IPv4 frame for dst (network order) toward role's side. A directly connected
 * destination with no neighbour entry is put on the resolve ring; *resolve_full counts the
 * times the ring had no room (the caller's own counter). Workers and the control thread.
 */
static inline enum cgn_route_result
cgn_route_frame(struct cgn_routes *rt, enum cgn_port_role role, uint32_t dst, uint16_t *port_id,
		struct rte_ether_addr *mac, uint64_t *resolve_full)
{
	uint32_t id;
	if (rt->lpm[role] == NULL || rte_lpm_lookup(rt->lpm[role], rte_be_to_cpu_32(dst), &id) != 0) {
		if (rt->dflt[role] < 0)
			return CGN_ROUTE_NONE;
		id = (uint32_t)rt->dflt[role];
	}
	struct cgn_neigh_key k = { cgn_addr_from_v4(dst), 0 };
	return cgn_route_nexthop(rt, id, &k, port_id, mac, resolve_full);
}

/**
 * Routes an IPv6 frame for dst (16 octets, the caller's) toward role's side: the same as
 * cgn_route_frame() through the IPv6 tables. Workers and the control thread.
 */
static inline enum cgn_route_result
cgn_route_frame6(struct cgn_routes *rt, enum cgn_port_role role, const struct cgn_addr *dst, uint16_t *port_id,
		 struct rte_ether_addr *mac, uint64_t *resolve_full)
{
	uint32_t id;
	if (rt->lpm6[role] == NULL || rte_lpm6_lookup(rt->lpm6[role], dst->b, &id) != 0) {
		if (rt->dflt6[role] < 0)
			return CGN_ROUTE_NONE;
		id = (uint32_t)rt->dflt6[role];
	}
	struct cgn_neigh_key k = { *dst, 0 };
	return cgn_route_nexthop(rt, id, &k, port_id, mac, resolve_full);
}

/**
 * What a neighbour's frame told about it (RFC 4861 §7.2.5, RFC 826's merge), for an entry that
 * exists (never makes one: unsolicited ARP or ND cannot fill the table; a static entry keeps
 * its MAC): with mac, its MAC, stored unless override is clear and a different valid MAC is
 * cached ("the Override flag is clear ... MUST NOT update the cache"); without mac (a
 * solicited NA that left the option out, as RFC 4861 §7.2.4 allows in answer to a unicast
 * probe), only that it is reachable, where a MAC is cached. Workers.
 * @return true if the entry was updated or confirmed.
 */
static inline bool
cgn_neigh_update(struct cgn_routes *rt, const struct cgn_addr *addr, uint8_t port, const struct rte_ether_addr *mac,
		 bool override, uint64_t now_ms)
{
	int32_t slot = cgn_neigh_find(rt, addr, port);
	if (slot < 0 || rt->neigh[slot].kind == CGN_NEIGH_STATIC)
		return false;
	struct cgn_neigh *n = &rt->neigh[slot];
	uint64_t cur = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);
	if (mac == NULL) {
		if (!(cur & CGN_NEIGH_VALID))
			return false;
	} else {
		uint64_t word = cgn_neigh_word(mac);
		if (!override && (cur & CGN_NEIGH_VALID) && cur != word)
			return false;
		__atomic_store_n(&n->mac, word, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&n->seen_ms, now_ms, __ATOMIC_RELAXED);
	return true;
}

/**
 * An ARP frame from addr (IPv4 as mapped) on port (ports[] index) told its MAC: ARP has no
 * override flag, so the MAC is stored (cgn_neigh_update). Workers.
 * @return true if it was a neighbour of ours.
 */
static inline bool
cgn_neigh_learn(struct cgn_routes *rt, const struct cgn_addr *addr, uint8_t port, const struct rte_ether_addr *mac,
		uint64_t now_ms)
{
	return cgn_neigh_update(rt, addr, port, mac, true, now_ms);
}

#endif /* CGN_ROUTE_H */
