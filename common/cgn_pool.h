/*
 * The external address pool and its port allocator.
 *
 * Every (external address, protocol) pair has a bitmap of its ports, one bit a port, set while
 * the port is held. Bits are taken and released with C11 atomics on memory the caller
 * provides, so the control thread and the workers may allocate at once with no lock.
 *
 * Paired pooling (RFC 6888 REQ-2): a subscriber's mappings all use one external address,
 * chosen by hashing the subscriber's address. Within that address the port is random
 * (RFC 6888 REQ-15, RFC 6056). UDP 5350/5351 are never handed out (RFC 6887 §11.3).
 *
 * Thread rules: cgn_pool_init() before any other call, on one thread; then cgn_pool_alloc()
 * and cgn_pool_release() from any thread; each caller passes its own random state.
 */
#ifndef CGN_POOL_H
#define CGN_POOL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"
#include "cgn_config.h"

enum cgn_pool_proto {
	CGN_POOL_TCP,
	CGN_POOL_UDP,
	CGN_POOL_ICMP,
	CGN_POOL_NPROTO,
};

#define CGN_POOL_WORDS (65536 / 64) /* bitmap words per (address, protocol) */

struct cgn_pool {
	uint32_t n_addrs;
	uint16_t port_min, port_max;
	uint32_t *addrs;          /* external addresses, network order */
	_Atomic uint64_t *bits;   /* [n_addrs][CGN_POOL_NPROTO][CGN_POOL_WORDS] */
	_Atomic uint64_t *in_use; /* [n_addrs][CGN_POOL_NPROTO]: ports held */
};

/** @return the pool's protocol index for an IP protocol number, or -1 if it has none. */
int cgn_pool_proto(uint8_t ip_proto);

/** @return the octets cgn_pool_init() needs for this configuration. */
size_t cgn_pool_mem_size(const struct cgn_config *cfg);

/**
 * Lays the pool out in mem (cgn_pool_mem_size() octets, 8-aligned, owned by the caller and
 * kept alive as long as the pool) with every port free.
 * @return 0, or -ENOSPC if mem is too small.
 */
int cgn_pool_init(struct cgn_pool *pool, const struct cgn_config *cfg, void *mem, size_t size);

/** @return true if (protocol, port) may never be handed out. */
bool cgn_pool_port_reserved(uint8_t ip_proto, uint16_t port);

/** @return the paired external address (network order) of a subscriber. */
uint32_t cgn_pool_paired_addr(const struct cgn_pool *pool, const struct cgn_addr *subscriber);

/**
 * Takes a port on the subscriber's paired address. When want_port is non-zero and free there,
 * it is the one taken; otherwise a random free port in [port_min, port_max].
 * @param rng the caller's random state (any non-zero seed).
 * @return 0 with *addr (network order) and *port set, -EPROTONOSUPPORT, or -ENOSPC when the
 *         paired address has no free port.
 */
int cgn_pool_alloc(struct cgn_pool *pool, const struct cgn_addr *subscriber, uint8_t ip_proto,
		   uint16_t want_port, uint64_t *rng, uint32_t *addr, uint16_t *port);

/**
 * Takes exactly (addr, port) if it is in the pool and free.
 * @return 0, -EADDRNOTAVAIL if addr is not a pool address or the port is out of range or
 *         reserved, -EBUSY if it is held, -EPROTONOSUPPORT.
 */
int cgn_pool_take(struct cgn_pool *pool, uint32_t addr, uint8_t ip_proto, uint16_t port);

/** Returns a port taken with cgn_pool_alloc() or cgn_pool_take(). */
void cgn_pool_release(struct cgn_pool *pool, uint32_t addr, uint8_t ip_proto, uint16_t port);

/** @return ports held on pool address index i for a protocol index. */
uint64_t cgn_pool_in_use(const struct cgn_pool *pool, uint32_t i, enum cgn_pool_proto p);

/** @return the index of a pool address, or -1. */
int64_t cgn_pool_addr_index(const struct cgn_pool *pool, uint32_t addr);

#endif /* CGN_POOL_H */
