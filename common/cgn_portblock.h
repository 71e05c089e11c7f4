/*
 * Subscribers and their port blocks: the allocator of external addresses and ports.
 *
 * The external port space of every pool address is cut into blocks of block_size ports
 * (RFC 6888 REQ-14, port sets). A subscriber (one inside address) owns up to max_blocks blocks,
 * all on one external address (paired pooling, RFC 6888 REQ-2), chosen when the subscriber is
 * first seen as the pool address with the fewest blocks in use. A port is taken at random
 * within the subscriber's blocks (RFC 6888 REQ-15, RFC 6056), optionally with the parity of the
 * internal port (RFC 4787 REQ-3). Explicit (PCP) mappings and implicit sessions draw from the
 * same blocks; a PCP port set (RFC 7753) takes a run of consecutive ports of one block.
 *
 * Concurrency: everything is atomics on memory the caller provides (cgn_pb_mem_size()), no
 * lock anywhere, so the control thread and the workers may allocate and release at once:
 *   - subscribers are found through an open-addressing table of slots (twice max_subscribers)
 *     claimed by CAS on their state (EMPTY → CLAIMING → READY), each naming a record in a
 *     dense array; records are never removed (the array holds max_subscribers);
 *   - a block is claimed by CAS on its owner word (0 → subscriber + 1), then published in the
 *     subscriber's next block slot; ports are bits taken with fetch_or and released with
 *     fetch_and;
 *   - whole blocks go back to the pool only through cgn_pb_reclaim(), which the control thread
 *     calls for subscribers holding no port. It marks the subscriber DRAINING first so no
 *     allocator adds to it meanwhile; allocators that meet DRAINING fail with -EAGAIN (a
 *     worker drops that packet as TABLE_FULL with ICMP 3/13; the flow's next packet finds
 *     the subscriber again).
 *
 * Thread rules: cgn_pb_init() once before any other call; everything else from any thread.
 * Who calls: the workers (implicit sessions, steps/session.c), the control thread (PCP and
 * NAT-PMP mappings, reclaim, pool changes) and DPDK's telemetry threads (reads only).
 *
 * The fields marked "shared" below are plain integers that several of these threads touch at
 * once: they are read and written only through the __atomic builtins (docs/architecture.md,
 * "Threads and who writes what"), never by a plain access; each says who writes and who reads
 * it. The port bitmaps are such words too (fetch_or/fetch_and; cgn_pb_reclaim() clears them
 * with memset only while the subscriber is DRAINING and no allocator is inside).
 *
 * Events (NAT logging, RFC 8158 §4.6.9, §4.6.10): an optional hook, set once before any
 * allocation, hears of every block a subscriber claims (CGN_NATEV_PORT_BLOCK_ALLOC, after
 * CGN_NATEV_BINDING_CREATE for its first block) and of every block cgn_pb_reclaim() gives
 * back (CGN_NATEV_PORT_BLOCK_FREE each, then CGN_NATEV_BINDING_DELETE). It is called by the
 * thread that claimed or reclaimed, once per block, after the claim's CAS loop succeeded and
 * never inside one, with mono_ms 0 (the hook stamps it).
 */
#ifndef CGN_PORTBLOCK_H
#define CGN_PORTBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"
#include "cgn_event.h"

#define CGN_PB_NPROTO 3   /* TCP, UDP, ICMP: each has its own port space in a block */
#define CGN_PB_MAX_BLOCKS 64 /* most blocks one subscriber may hold */

struct cgn_pb_params {
	const uint32_t *addrs;   /* pool addresses, network order */
	uint32_t n_addrs;
	uint16_t port_min, port_max;
	uint16_t block_size;     /* ports a block; a multiple of 64 */
	uint16_t max_blocks;     /* per subscriber: the subscriber's port quota is max_blocks * block_size */
	uint32_t max_subscribers;
	bool parity;             /* keep the parity of the internal port (RFC 4787 REQ-3) */
};

/* One subscriber; its block[] (max_blocks entries) and their bitmaps follow the record. */
struct cgn_pb_sub {
	/* CGN_PB_SUB_READY or _DRAINING. Shared: set READY by the thread that creates the
	 * subscriber, moved READY -> DRAINING -> READY by cgn_pb_reclaim() (control thread); read
	 * by every allocator (workers, control thread) and by telemetry. */
	uint32_t state;
	/* Allocators in flight. Shared: counted up and down by every allocator (workers, control
	 * thread); cgn_pb_reclaim() (control thread) waits for 0. */
	uint32_t busy;
	uint32_t ext_index;          /* paired pool address, index into addrs */
	/* Entries of block[] in use, published in order. Shared: grown by CAS by any allocator
	 * (workers, control thread), reset by cgn_pb_reclaim(); read by allocators, releasers and
	 * telemetry. */
	uint32_t n_blocks;
	/* Ports held in all blocks and protocols. Shared: counted by every allocator and releaser
	 * (workers, control thread); read by cgn_pb_reclaim(), the control thread's sweep and
	 * telemetry. */
	uint32_t ports_used;
	/* PCP/NAT-PMP mappings. Shared: written by the control thread only (mappings.c,
	 * reload.c); read by it and by the telemetry threads. */
	uint32_t explicit_mappings;
	/* A worker is creating one of its implicit mappings. Shared: a lock between the workers
	 * (steps/session.c), taken by CAS 0 -> 1, released by storing 0. */
	uint32_t creating;
	struct cgn_addr addr;        /* the subscriber's inside address */
	/* [max_blocks]: global block id + 1, 0 = not yet published. Shared: written by the
	 * allocator that claimed the block (any thread) and cleared by cgn_pb_reclaim(); read by
	 * allocators, releasers and telemetry. */
	uint32_t block[];
};

enum { CGN_PB_SUB_EMPTY, CGN_PB_SUB_CLAIMING, CGN_PB_SUB_READY, CGN_PB_SUB_DRAINING };

/* A slot of the lookup table: EMPTY, CLAIMING (being filled), or READY naming record idx. */
struct cgn_pb_slot {
	/* Shared: claimed by CAS and published by whichever thread creates the subscriber; read
	 * by every lookup (workers, control thread, telemetry). idx and addr are written before
	 * the release that publishes READY and read after the acquire that sees it. */
	uint32_t state;
	uint32_t idx;
	struct cgn_addr addr;
};

/** The event hook: called by the allocating or reclaiming thread; must not block. */
typedef void (*cgn_pb_event_fn)(void *ctx, const struct cgn_event *ev);

struct cgn_pb {
	struct cgn_pb_params p;
	cgn_pb_event_fn event;      /* NULL: no events; set before the allocator is shared */
	void *event_ctx;
	uint32_t blocks_per_addr;
	uint32_t words_per_block;   /* 64-bit words of one protocol's bitmap */
	size_t sub_stride;          /* record + block[] + bitmaps, 64-aligned */
	uint32_t slot_mask;         /* lookup slots - 1 (power of two >= 2 * max_subscribers) */
	struct cgn_pb_slot *slots;  /* [slot_mask + 1] */
	uint8_t *subs;              /* [max_subscribers] records of sub_stride octets */
	/* [n_addrs * blocks_per_addr]: subscriber index + 1, 0 = free. Shared: claimed by CAS by
	 * any allocator (workers, control thread), freed by cgn_pb_reclaim(); read by allocators. */
	uint32_t *owner;
	/* [n_addrs]: blocks in use per address. Shared: counted up by allocators, down by
	 * cgn_pb_reclaim(); read by subscriber creation (least loaded address) and telemetry. */
	uint32_t *addr_blocks;
	/* Subscriber records in use. Shared: counted up by whichever thread creates a subscriber
	 * (workers, control thread); read by the control thread (sweeps, pool changes) and
	 * telemetry. */
	uint32_t n_subs;
	uint32_t *addrs;            /* copy of the pool addresses */
};

/** @return the octets cgn_pb_init() needs, or 0 if the parameters are invalid. */
size_t cgn_pb_mem_size(const struct cgn_pb_params *p);

/**
 * Lays the allocator out in mem: cgn_pb_mem_size() octets, 64-aligned, and zeroed by the
 * caller (calloc or mmap memory is): so only the pages of subscribers that appear are ever
 * touched, and a table sized for millions costs little until it fills.
 * @return 0, -EINVAL for bad parameters (block size not a multiple of 64, no whole block in
 *         the port range, too many blocks), or -ENOSPC if mem is too small.
 */
int cgn_pb_init(struct cgn_pb *pb, const struct cgn_pb_params *p, void *mem, size_t size);

/**
 * Finds a subscriber, creating it when create is true.
 * @return its index (0 .. max_subscribers-1, dense), -ENOENT (not found, create false), or
 *         -ENOSPC (max_subscribers reached).
 */
int32_t cgn_pb_subscriber(struct cgn_pb *pb, const struct cgn_addr *addr, bool create);

/**
 * Pins subscriber sub to pool address addr (static mappings choose their external address).
 * @return 0, -EADDRNOTAVAIL if addr is not in the pool, -EBUSY if sub already holds blocks
 *         on another address.
 */
int cgn_pb_pin(struct cgn_pb *pb, uint32_t sub, uint32_t addr);

/** @return the record of subscriber index i. */
struct cgn_pb_sub *cgn_pb_sub(const struct cgn_pb *pb, uint32_t i);

/** @return the pool address index for an IP protocol's port space, or -1. */
int cgn_pb_proto(uint8_t ip_proto);

/**
 * Takes a port for subscriber sub: want_port if non-zero and it can be had within the
 * subscriber's blocks (claiming the block that holds it if the quota allows), else a random
 * free port of its blocks, claiming a new block when they are full.
 * @param internal_port for parity preservation; 0 = any parity.
 * @return 0 with *addr (network order) and *port set; -EDQUOT when the subscriber holds
 *         max_blocks full blocks (its port quota); -ENOSPC when its address has no free block
 *         (pool exhausted); -EAGAIN while the subscriber is being drained; -EPROTONOSUPPORT.
 */
int cgn_pb_alloc(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t want_port,
		 uint16_t internal_port, uint64_t *rng, uint32_t *addr, uint16_t *port);

/**
 * Takes exactly (addr, port) for sub, claiming its block if needed (static mappings).
 * @return 0; -EADDRNOTAVAIL if addr is not sub's paired address or port is outside the blocks
 *         or reserved; -EBUSY if the port or its block is held; -EDQUOT; -EPROTONOSUPPORT.
 */
int cgn_pb_take(struct cgn_pb *pb, uint32_t sub, uint32_t addr, uint8_t ip_proto, uint16_t port);

/**
 * Takes a run of consecutive free ports for subscriber sub (RFC 7753 port sets): up to want
 * ports, as many as one run within one of its blocks holds (a run never leaves its block, so
 * at most block_size ports). In order: the run of want ports from want_first if it is whole
 * and free (the suggestion, RFC 7753 §4: "to regenerate previous mappings after state loss");
 * else the first run of want ports in the blocks held; else a new block, if the quota allows,
 * and the longest run in the blocks held or the new one. parity 0 or 1 asks for a first port
 * of that parity (RFC 7753 §4.2, RFC 4787 REQ-3), kept whenever a free port of that parity
 * exists; -1 any.
 *
 * Lock-free as cgn_pb_alloc(): each word of the run is taken with fetch_or; if a concurrent
 * allocator took one of the ports first, the bits taken so far are given back and the search
 * starts again (at most 16 times). Any thread.
 * @return 0 with *addr (network order), *first and *got (1..want) set; -EINVAL (want 0);
 *         -EDQUOT / -ENOSPC / -EAGAIN / -EPROTONOSUPPORT as cgn_pb_alloc() when not even one
 *         port can be had (-EAGAIN too after 16 lost races).
 */
int cgn_pb_alloc_run(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t want_first, uint16_t want,
		     int parity, uint64_t *rng, uint32_t *addr, uint16_t *first, uint16_t *got);

/** Releases the n ports from first that cgn_pb_alloc_run() took (or any taken ports). */
void cgn_pb_release_run(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t first, uint16_t n);

/** Releases a port taken by cgn_pb_alloc() or cgn_pb_take(). */
void cgn_pb_release(struct cgn_pb *pb, uint32_t sub, uint8_t ip_proto, uint16_t port);

/**
 * Gives a subscriber's blocks back to the pool if it holds no port. Control thread.
 * @return blocks released.
 */
uint32_t cgn_pb_reclaim(struct cgn_pb *pb, uint32_t sub);

/**
 * Sets (or with fn NULL removes) the event hook. After cgn_pb_init() (which clears it) and
 * before any other thread uses pb.
 */
void cgn_pb_set_event_hook(struct cgn_pb *pb, cgn_pb_event_fn fn, void *ctx);

/**
 * Reports every block pb holds as given back (PORT_BLOCK_FREE each, BINDING_DELETE per
 * subscriber) without changing anything: a pool change (control/reload.c) leaves the old
 * allocator behind for a new one, on which the blocks kept are claimed (and reported) again.
 * Control thread, no allocator running on pb (the workers paused).
 * @return blocks reported.
 */
uint32_t cgn_pb_report_all_free(const struct cgn_pb *pb);

/**
 * cgn_pb_report_all_free() for the subscribers *cursor .. *cursor + n_subs - 1 only, so that
 * a caller can let the hook's consumer catch up between slices (shutdown). Advances *cursor.
 * @return blocks reported; 0 with *cursor past the last subscriber when done.
 */
uint32_t cgn_pb_report_free_slice(const struct cgn_pb *pb, uint32_t *cursor, uint32_t n_subs);

/** @return blocks held by subscribers, all pool addresses together (relaxed). Any thread. */
uint64_t cgn_pb_blocks_used(const struct cgn_pb *pb);

/** @return blocks the pool holds: pool addresses times blocks per address. Any thread. */
static inline uint64_t
cgn_pb_blocks_total(const struct cgn_pb *pb)
{
	return (uint64_t)pb->p.n_addrs * pb->blocks_per_addr;
}

/** @return true if (protocol, port) is never handed out (UDP 5350/5351, port 0). */
bool cgn_pb_port_reserved(uint8_t ip_proto, uint16_t port);

/** @return the pool index of an address, or -1. */
int64_t cgn_pb_addr_index(const struct cgn_pb *pb, uint32_t addr);

/** @return the first port of a global block id. */
uint16_t cgn_pb_block_first_port(const struct cgn_pb *pb, uint32_t block_id);

#endif /* CGN_PORTBLOCK_H */
