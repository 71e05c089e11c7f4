/*
 * The data plane as the rest of cgnatd sees it: the shared table, one control ring per worker,
 * and the worker lcores that drain those rings into the table.
 *
 * Ordering: every message about one mapping goes to the same worker's ring (chosen by a hash of
 * the inside key), so add → refresh → delete of a mapping are applied in the order sent, while
 * different mappings are applied by several workers at once.
 *
 * Threads: cgn_dataplane_create/_launch/_stop/_free on the main lcore; cgn_dataplane_push()
 * on the control thread only (each ring is single-producer); cgn_worker_main() is the body of
 * each worker lcore.
 */
#ifndef CGN_DATAPLANE_H
#define CGN_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_lcore.h>
#include <rte_ring.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include "cgn_config.h"
#include "cgn_mapping.h"
#include "cgn_portblock.h"
#include "cgn_table.h"
#include "cgn_token_bucket.h"
#include "fragment.h"
#include "pipeline.h"
#include "route.h"

#define CGN_RING_BURST 32 /* control messages a worker applies per loop */
#define CGN_RX_BURST 32   /* packets a worker reads from a port at once */

/* Per-worker counters: written by their worker only, read by telemetry (relaxed). */
#define CGN_WORKER_COUNTERS(X)                                       \
	X(loops, "iterations of the worker loop")                    \
	X(ring_msgs, "control messages applied")                     \
	X(ring_errors, "control messages that could not be applied") \
	X(idle_loops, "iterations that found no work")

struct cgn_worker_stats {
#define X(name, doc) uint64_t name;
	CGN_WORKER_COUNTERS(X)
#undef X
};

struct cgn_dataplane;

#define CGN_HOLD_RING 65536 /* freed ports a worker holds back at once (a power of two) */

#define CGN_HELD_NONE UINT32_MAX /* a held port's sub after a pool change took its address */

/* A freed port waiting out nat.port_hold_s (RFC 6888 REQ-8). */
struct cgn_held_port {
	uint64_t until_ms;
	uint32_t sub;
	uint16_t port;
	uint8_t proto;
};

/* One worker lcore's state: cache-aligned, indexed by worker number (l3fwd lcore_conf). */
struct cgn_worker {
	unsigned lcore_id;
	unsigned index;        /* 0 .. n_workers-1; also its RCU reader id */
	struct rte_ring *ring; /* control → this worker */
	struct cgn_dataplane *dp;
	uint64_t now_ms;       /* CLOCK_MONOTONIC, read once per loop */
	uint64_t rng;          /* its port choices (xorshift; seeded by dataplane.seed in tests) */
	uint16_t ip_id;        /* the IPv4 identification of the next packet NAT64 makes (RFC 7915 §5.1) */
	struct cgn_token_bucket icmp_tokens; /* ICMP and ICMPv6 errors it may still send */
	uint32_t expire_cursor;
	uint64_t background_ms; /* when expiry and port release last ran */
	struct cgn_held_port *held; /* [CGN_HOLD_RING] FIFO: ports freed in time order */
	uint32_t held_head, held_tail;
	struct rte_eth_dev_tx_buffer *tx[RTE_MAX_ETHPORTS];
	struct cgn_frags frags;     /* datagrams in fragments (fragment.h) */
	uint32_t paused_gen;        /* the dp->pause_gen it waits in (cgn_dataplane_pause) */
	uint32_t pause_rounds;      /* control-ring rounds done while paused */
	struct cgn_worker_stats stats;
	struct cgn_pkt_stats pkt;
} __rte_cache_aligned;

/* A DPDK port as the workers use it. */
struct cgn_port {
	uint16_t port_id;
	enum cgn_port_role role;
	struct rte_ether_addr mac;      /* its own */
	struct rte_ether_addr peer_mac; /* frames no route matches leave for it */
	bool have_peer_mac;
	uint32_t address;               /* the CGN's own IPv4 address on this link; 0 none */
	struct cgn_addr address6;       /* its own global IPv6 address on this link, if have_address6 */
	struct cgn_addr link_local;     /* fe80::/64 + modified EUI-64 of mac (RFC 4291): ND's source */
	bool have_address6;
	bool pcp_management;            /* outside port whose PCP is punted too (third-party senders) */
	uint16_t queues;                /* RX/TX queue pairs: one per worker */
	uint16_t mtu;                   /* largest IPv4 packet it sends; bigger ones are fragmented (mtu.c) */
	bool tx_chained;                /* its TX takes chained mbufs (fragments are built so) */
};

struct cgn_dataplane {
	struct cgn_table *table;
	const struct cgn_config *cfg;   /* the configuration it started with */
	struct cgn_pb *pb;              /* subscribers and port blocks, shared with the control plane */
	struct rte_mempool *mbufs;
	struct rte_mempool *frag_mbufs; /* small: fragments' headers and payload references (mtu.c) */
	struct cgn_port ports[CGN_MAX_PORTS];
	unsigned n_ports;
	int16_t port_index[RTE_MAX_ETHPORTS]; /* DPDK port id → ports[] index, -1 if not ours */
	uint16_t role_port[2];          /* by enum cgn_port_role: the first port of it, where the
					 * direction's frames leave when no route says otherwise */
	uint16_t role_mtu[2];           /* by enum cgn_port_role: the smallest MTU of its ports, which
					 * a packet with DF set must fit before it is translated */
	uint16_t mtu_floor;             /* the smaller of the two: packets within it need no check */
	struct {                        /* by role, when it has no route and its port a peer_mac: */
		bool fixed;             /* frames leaving by role_port take these two MACs */
		struct rte_ether_addr dst, src;
		uint16_t port;          /* ports[] index of role_port */
		uint16_t max_frame;     /* its MTU and an Ethernet header: longer frames are fragmented */
	} l2[2];
	uint32_t icmp_source;           /* of ICMP errors toward the inside (network order) */
	struct cgn_addr icmp_source6;   /* of ICMPv6 errors, when have_icmp_source6 (icmp6_reply.c) */
	bool have_icmp_source6;
	struct { uint32_t net, mask; } pool_v4[CGN_MAX_POOL_PREFIXES]; /* host order: hairpin test */
	/* nat64.prefixes as classify6 tests them per packet (cgn_dataplane_pref64()): two masked
	 * words, and where the IPv4 octets lie (RFC 6052 §2.2). Set at start and by a reload
	 * (workers paused: cgn_dataplane_renat64). */
	struct cgn_pref64_match {
		uint64_t net[2], mask[2]; /* network order words */
		uint8_t pos[4];           /* octets of the IPv6 address holding the IPv4 one */
	} pref64[CGN_MAX_NAT64_PREFIXES];
	unsigned n_pref64;
	unsigned n_pool;
	uint64_t rx_start_ms;           /* workers read ports from this time on (dataplane.rx_delay_ms) */
	struct rte_ring *punt;          /* workers → control thread: PCP for the CGN itself (MP/SC) */
	struct rte_ring *punt_tx;       /* control thread → worker 0: frames to send (SP/SC) */
	/* Punt counters: written by the control thread (punt.c), read by telemetry as "punt_" NAME. */
#define CGN_PUNT_COUNTERS(X)                                                                  \
	X(answered, "PCP requests that came in by an inside port, answered there")            \
	X(unanswered, "PCP requests that came in by an inside port, dropped (§8.3: not a request)") \
	X(malformed, "punted frames that were not Ethernet/IPv4/UDP, nor Ethernet/IPv6/UDP with a right checksum from a unicast source") \
	X(tx_failed, "answers the ring to worker 0 refused")                                   \
	X(outside_refused, "PCP by a pcp_management port from a host not in pcp.third_party")
	struct {
#define X(name, doc) uint64_t name;
		CGN_PUNT_COUNTERS(X)
#undef X
	} punt_stats;
	struct cgn_routes routes;       /* route tables and neighbours (route.h) */
	unsigned n_workers;
	uint32_t idle_sleep_us;
	volatile bool stop;
	bool launched;                  /* workers running cgn_worker_main */
	bool pause;                     /* workers wait at the top of their loop (pool change) */
	uint32_t pause_gen;             /* which pause: workers acknowledge this one, not an older */
	uint32_t seq;           /* next message sequence number (control thread) */
	uint64_t push_full;     /* messages refused because a ring was full (control thread) */
	struct cgn_worker workers[RTE_MAX_LCORE];
};

/* RCU reader ids beyond the workers': the telemetry threads (one walk at a time) and the
 * control thread (reading last_out_ms of a mapping). */
#define CGN_READER_TELEMETRY(dp) ((dp)->n_workers)
#define CGN_READER_CONTROL(dp) ((dp)->n_workers + 1)

/**
 * Creates the table, a ring for each worker lcore EAL gave us, and sets up cfg's ports (one
 * RX/TX queue pair per worker, started). pb is the subscriber/port-block allocator the workers
 * draw implicit sessions from. Main lcore.
 * @return the data plane, or NULL with a message on stderr.
 */
struct cgn_dataplane *cgn_dataplane_create(const struct cgn_config *cfg, struct cgn_pb *pb);

/** Starts cgn_worker_main() on every worker lcore. Main lcore. @return 0 or -errno. */
int cgn_dataplane_launch(struct cgn_dataplane *dp);

/**
 * Holds every worker at the top of its loop, where it keeps applying its control ring and
 * reporting quiescent states but reads no packet and touches no port block, until
 * cgn_dataplane_resume(). Control thread. @return 0, or -ETIMEDOUT (resumed again).
 */
int cgn_dataplane_pause(struct cgn_dataplane *dp);
void cgn_dataplane_resume(struct cgn_dataplane *dp);

/**
 * Recomputes what TX keeps derived from the ports and routes: each role's default path when
 * it has no routes (l2: MACs, port, frame length) and the roles' smallest MTUs. Main lcore at
 * start; control thread with the workers paused (a reload); tests after changing a port's mtu.
 */
void cgn_dataplane_derive_tx(struct cgn_dataplane *dp);

/**
 * A reload's new routes and static neighbours (route.h cgn_routes_reload). Control thread,
 * the workers paused unless check_only. @return 0, or -errno with err set and nothing changed.
 */
int cgn_dataplane_reroute(struct cgn_dataplane *dp, const struct cgn_config *cfg, bool check_only, char *err,
			  size_t err_len);

/* What a pool change did to the data plane's own state. */
struct cgn_repool_stats {
	uint32_t kept, removed;             /* implicit sessions */
	uint32_t holds_kept, holds_dropped; /* ports the workers hold back */
};

/**
 * A pool change (SIGHUP), the data plane's half: dp->pb is already the new pool's allocator
 * with every subscriber of old_pb made again (pinned to its address where that survives),
 * and nothing else allocated on it yet. Waits until the workers applied every message
 * queued for them, then: implicit sessions keep their external endpoint when its address
 * survives and the port can be taken on the new allocator, and are deleted otherwise (after
 * the walk of the table: deleting moves keys); the ports the workers hold back move the same
 * way; ARP and hairpinning follow cfg's pool. Control thread, workers paused (or never
 * launched), and nothing pushed to them until it returns.
 */
void cgn_dataplane_repool(struct cgn_dataplane *dp, const struct cgn_pb *old_pb, const struct cgn_config *cfg,
			  struct cgn_repool_stats *st);

/**
 * A reload that changes nat64.prefixes (SIGHUP), the data plane's half: dp->pref64 and the
 * configuration the workers read are already the new ones. Waits until the workers applied
 * every message queued before, then gives every NAT64 mapping (IPv6 internal address) the
 * index of its Pref64 in the new list, map[old index] (cgn_nat64_remap(): 0 where the prefix
 * went). Control thread, the workers paused (or never launched).
 * @return the mappings renumbered.
 */
uint32_t cgn_dataplane_renat64(struct cgn_dataplane *dp, const uint8_t map[CGN_MAX_NAT64_PREFIXES]);

/**
 * The pool as the workers test it (ARP for pool addresses, hairpinning) and the default
 * source of the ICMP errors they send, from cfg. Main lcore at start; control thread in a
 * pool change (repool.c), the workers paused.
 */
void cgn_dataplane_set_pool(struct cgn_dataplane *dp, const struct cgn_config *cfg);

/**
 * The Pref64s as the workers match them (dp->pref64) from cfg->nat64. Main lcore at start;
 * the control thread in a reload, the workers paused; tests after changing their nat64.
 */
void cgn_dataplane_set_nat64(struct cgn_dataplane *dp, const struct cgn_config *cfg);

/** Asks the workers to stop and waits for them. Main lcore. */
void cgn_dataplane_stop(struct cgn_dataplane *dp);

void cgn_dataplane_free(struct cgn_dataplane *dp);

/**
 * Sends one message to the worker that owns msg->m.in. Control thread only.
 * @return 0, or -ENOBUFS if that worker's ring is full (the caller rolls back).
 */
int cgn_dataplane_push(struct cgn_dataplane *dp, struct cgn_ring_msg *msg);

/** @return how many messages are queued and not yet applied. Any thread. */
unsigned cgn_dataplane_backlog(const struct cgn_dataplane *dp);

/**
 * Sends one frame out of a port from the control thread: worker 0 transmits it. Frees it if
 * the ring to worker 0 is full. Control thread only.
 * @return 0 or -ENOBUFS.
 */
int cgn_dataplane_control_tx(struct cgn_dataplane *dp, uint16_t port_id, struct rte_mbuf *m);

/**
 * Answers a PCP request: pcp_server_handle's shape, plus whether it came by an outside
 * (management) port. @return the answer's length, 0 for none.
 */
typedef size_t (*cgn_punt_handler)(void *ctx, const uint8_t *msg, size_t len, const struct cgn_addr *src,
				   uint16_t src_port, bool outside, uint8_t *resp);

/**
 * Serves up to one burst of the PCP requests the workers punted (punt.c): each answer goes
 * back out of the port its request came by: the control thread puts it on the punt_tx ring
 * and worker 0 sends it on its own TX queue. Control thread only.
 * @param before_send called once the burst's requests are handled and before any of their
 *        answers leaves (may be NULL): the state store's group commit (pcp_server_flush).
 * @return how many requests were taken off the ring.
 */
unsigned cgn_punt_serve_burst(struct cgn_dataplane *dp, cgn_punt_handler handle, void (*before_send)(void *ctx),
			      void *ctx);

/** cgn_punt_serve_burst() with nothing to do before the answers leave. */
unsigned cgn_punt_serve(struct cgn_dataplane *dp, cgn_punt_handler handle, void *ctx);

/**
 * Sends a PCP message to a multicast group (network order; RFC 6887 §14.1.3's 224.0.0.1)
 * out of every inside port that has an address, from that address and port 5351, TTL 1.
 * Control thread only. @return the ports it was queued on.
 */
unsigned cgn_punt_multicast(struct cgn_dataplane *dp, uint32_t group, uint16_t dport, const uint8_t *msg,
			    size_t len);

/* The hop limit of what the CGN sends to a link-scoped IPv6 group (ff02::1). */
#define CGN_PUNT_HOP_LIMIT_LINK 255

/**
 * Sends a PCP message to an IPv6 multicast group (RFC 6887 §14.1.3's ff02::1) out of every
 * inside port that has IPv6 (an address6), from the port's link-local address and port 5351,
 * hop limit CGN_PUNT_HOP_LIMIT_LINK, to the group's MAC (RFC 2464 §7). Control thread only.
 * @return the ports it was queued on.
 */
unsigned cgn_punt_multicast6(struct cgn_dataplane *dp, const struct cgn_addr *group, uint16_t dport,
			     const uint8_t *msg, size_t len);

/**
 * Sends a PCP message to one client (network order address) the way the inside route table
 * says, else out of the first inside port with an address and a peer_mac, from that port's
 * address and port 5351. Control thread only.
 * @return 0, -EHOSTUNREACH (no such port), -ENOBUFS or -EMSGSIZE.
 */
int cgn_punt_unicast(struct cgn_dataplane *dp, uint32_t dst, uint16_t dport, const uint8_t *msg, size_t len);

/**
 * The same to an IPv6 client: by the inside IPv6 routes from the port's address6, else (no
 * route, or a link-local client, which no route names) out of the first inside port with an
 * address6 and a peer_mac, from its address6, or its link-local address to a link-local
 * client. Hop limit 64. Control thread only.
 * @return 0, -EHOSTUNREACH (no such port, or the next hop is being asked for), -ENOBUFS or
 *         -EMSGSIZE.
 */
int cgn_punt_unicast6(struct cgn_dataplane *dp, const struct cgn_addr *dst, uint16_t dport, const uint8_t *msg,
		      size_t len);

#define CGN_PUNT_RING_SIZE 1024  /* each of punt and punt_tx: mbufs they may hold */

/**
 * The MAC frames leaving by a port go to when no route matches: its peer_mac.
 * @return false if it has none. Any thread.
 */
static inline bool
cgn_port_peer_mac(const struct cgn_port *port, struct rte_ether_addr *mac)
{
	if (!port->have_peer_mac)
		return false;
	*mac = port->peer_mac;
	return true;
}

/**
 * Neighbour resolution (neighbour.c): makes the entries the workers asked for, sends the ARP
 * requests that are due, forgets what stopped answering. Workers learn the answers from ARP
 * frames (local.c). Control thread only; call every few milliseconds.
 */
void cgn_neighbours_tick(struct cgn_dataplane *dp, uint64_t now_ms);

/** The port as ND sees it (wire/nd.h): its MAC and IPv6 addresses. Any thread. */
static inline struct cgn_nd_iface
cgn_port_nd(const struct cgn_port *port)
{
	return (struct cgn_nd_iface){ port->mac, port->link_local, port->address6, port->have_address6 };
}

/** @return true if a (network order) address is one of the pool's. Any thread. */
static inline bool
cgn_dataplane_in_pool(const struct cgn_dataplane *dp, uint32_t addr_be)
{
	uint32_t a = rte_be_to_cpu_32(addr_be);
	for (unsigned i = 0; i < dp->n_pool; i++)
		if ((a & dp->pool_v4[i].mask) == dp->pool_v4[i].net)
			return true;
	return false;
}

/** @return the index of the Pref64 holding a (the longest: they never overlap), or -1. Any
 * thread. */
static inline int
cgn_dataplane_pref64(const struct cgn_dataplane *dp, const struct cgn_addr *a)
{
	uint64_t w[2];
	memcpy(w, a->b, 16);
	for (unsigned i = 0; i < dp->n_pref64; i++) {
		const struct cgn_pref64_match *m = &dp->pref64[i];
		if ((((w[0] ^ m->net[0]) & m->mask[0]) | ((w[1] ^ m->net[1]) & m->mask[1])) == 0)
			return (int)i;
	}
	return -1;
}

/** @return the IPv4 address (network order) embedded in a, under Pref64 number i (RFC 6052
 * §2.3; a is under it). Any thread. */
static inline uint32_t
cgn_dataplane_pref64_extract(const struct cgn_dataplane *dp, unsigned i, const struct cgn_addr *a)
{
	const uint8_t *pos = dp->pref64[i].pos;
	uint8_t o[4] = { a->b[pos[0]], a->b[pos[1]], a->b[pos[2]], a->b[pos[3]] };
	uint32_t be;
	memcpy(&be, o, 4);
	return be;
}

/** @return true if an internal address is a subscriber's (in pcp.inside). Any thread. */
static inline bool
cgn_dataplane_inside(const struct cgn_dataplane *dp, const struct cgn_addr *addr)
{
	return cgn_prefix_list_contains(dp->cfg->pcp.inside, dp->cfg->pcp.n_inside, addr);
}

/** @return whether the worker may send one more ICMP or ICMPv6 error now (one token bucket
 * for both, dataplane.icmp_errors_per_second). Worker context. */
static inline bool
cgn_icmp_allowed(struct cgn_worker *w)
{
	return cgn_tb_take(&w->icmp_tokens, w->dp->cfg->dataplane.icmp_errors_per_second, w->now_ms);
}

/** The worker loop (lcore_function_t); arg is a struct cgn_worker. */
int cgn_worker_main(void *arg);

#endif /* CGN_DATAPLANE_H */
