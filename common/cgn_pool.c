/*
 * Lock-free port bitmaps over the external pool (see cgn_pool.h).
 */
#include "cgn_pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int
cgn_pool_proto(uint8_t ip_proto)
{
	switch (ip_proto) {
	case IPPROTO_TCP:
		return CGN_POOL_TCP;
	case IPPROTO_UDP:
		return CGN_POOL_UDP;
	case IPPROTO_ICMP:
		return CGN_POOL_ICMP;
	default:
		return -1;
	}
}

static size_t
addrs_bytes(uint32_t n)
{
	return ((size_t)n * sizeof(uint32_t) + 7) & ~(size_t)7;
}

size_t
cgn_pool_mem_size(const struct cgn_config *cfg)
{
	uint32_t n = cgn_config_pool_size(cfg);
	return addrs_bytes(n) + (size_t)n * CGN_POOL_NPROTO * CGN_POOL_WORDS * sizeof(uint64_t) +
	       (size_t)n * CGN_POOL_NPROTO * sizeof(uint64_t);
}

int
cgn_pool_init(struct cgn_pool *pool, const struct cgn_config *cfg, void *mem, size_t size)
{
	if (size < cgn_pool_mem_size(cfg))
		return -ENOSPC;
	memset(mem, 0, cgn_pool_mem_size(cfg));

	uint32_t n = cgn_config_pool_size(cfg);
	pool->n_addrs = n;
	pool->port_min = cfg->nat.port_min;
	pool->port_max = cfg->nat.port_max;
	pool->addrs = mem;
	pool->bits = (_Atomic uint64_t *)((uint8_t *)mem + addrs_bytes(n));
	pool->in_use = pool->bits + (size_t)n * CGN_POOL_NPROTO * CGN_POOL_WORDS;

	uint32_t k = 0;
	for (unsigned i = 0; i < cfg->nat.n_pool; i++) {
		uint32_t base = ntohl(cgn_addr_v4(&cfg->nat.pool[i].addr));
		uint32_t count = 1u << (128 - cfg->nat.pool[i].len);
		for (uint32_t j = 0; j < count; j++)
			pool->addrs[k++] = htonl(base + j);
	}
	return 0;
}

bool
cgn_pool_port_reserved(uint8_t ip_proto, uint16_t port)
{
	/* RFC 6887 §11.3: "A PCP server MUST NOT create client mappings for external UDP ports
	 * 5350 or 5351." Port 0 is no port. */
	return port == 0 || (ip_proto == IPPROTO_UDP && (port == 5350 || port == 5351));
}

static _Atomic uint64_t *
bitmap(const struct cgn_pool *pool, uint32_t ai, int pi)
{
	return pool->bits + ((size_t)ai * CGN_POOL_NPROTO + (size_t)pi) * CGN_POOL_WORDS;
}

/* 32-bit finalizer of MurmurHash3: spreads consecutive subscriber addresses over the pool. */
static uint32_t
mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static uint32_t
paired_index(const struct cgn_pool *pool, const struct cgn_addr *subscriber)
{
	uint32_t h = 0;
	for (int i = 0; i < 16; i += 4) {
		uint32_t w;
		memcpy(&w, &subscriber->b[i], 4);
		h = mix32(h ^ w);
	}
	return h % pool->n_addrs;
}

uint32_t
cgn_pool_paired_addr(const struct cgn_pool *pool, const struct cgn_addr *subscriber)
{
	return pool->addrs[paired_index(pool, subscriber)];
}

int64_t
cgn_pool_addr_index(const struct cgn_pool *pool, uint32_t addr)
{
	/* Pools are a few prefixes: a linear scan is cheap and has no table to keep in sync. */
	for (uint32_t i = 0; i < pool->n_addrs; i++)
		if (pool->addrs[i] == addr)
			return i;
	return -1;
}

/* Sets the bit of port; true if this caller took it. */
static bool
try_take(const struct cgn_pool *pool, uint32_t ai, int pi, uint16_t port)
{
	_Atomic uint64_t *w = &bitmap(pool, ai, pi)[port / 64];
	uint64_t bit = 1ull << (port % 64);
	if (atomic_load_explicit(w, memory_order_relaxed) & bit)
		return false;
	if (atomic_fetch_or_explicit(w, bit, memory_order_acq_rel) & bit)
		return false;
	atomic_fetch_add_explicit(&pool->in_use[(size_t)ai * CGN_POOL_NPROTO + (size_t)pi], 1,
				  memory_order_relaxed);
	return true;
}

static uint64_t
xorshift64(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

int
cgn_pool_take(struct cgn_pool *pool, uint32_t addr, uint8_t ip_proto, uint16_t port)
{
	int pi = cgn_pool_proto(ip_proto);
	if (pi < 0)
		return -EPROTONOSUPPORT;
	int64_t ai = cgn_pool_addr_index(pool, addr);
	if (ai < 0 || port < pool->port_min || port > pool->port_max ||
	    cgn_pool_port_reserved(ip_proto, port))
		return -EADDRNOTAVAIL;
	return try_take(pool, (uint32_t)ai, pi, port) ? 0 : -EBUSY;
}

int
cgn_pool_alloc(struct cgn_pool *pool, const struct cgn_addr *subscriber, uint8_t ip_proto,
	       uint16_t want_port, uint64_t *rng, uint32_t *addr, uint16_t *port)
{
	int pi = cgn_pool_proto(ip_proto);
	if (pi < 0)
		return -EPROTONOSUPPORT;
	uint32_t ai = paired_index(pool, subscriber);
	*addr = pool->addrs[ai];

	if (want_port >= pool->port_min && want_port <= pool->port_max &&
	    !cgn_pool_port_reserved(ip_proto, want_port) && try_take(pool, ai, pi, want_port)) {
		*port = want_port;
		return 0;
	}

	/* A random start, then a scan over the whole range: finds the last free port too. */
	uint32_t span = (uint32_t)pool->port_max - pool->port_min + 1;
	uint32_t start = (uint32_t)(xorshift64(rng) % span);
	for (uint32_t i = 0; i < span; i++) {
		uint16_t p = (uint16_t)(pool->port_min + (start + i) % span);
		if (!cgn_pool_port_reserved(ip_proto, p) && try_take(pool, ai, pi, p)) {
			*port = p;
			return 0;
		}
	}
	return -ENOSPC;
}

void
cgn_pool_release(struct cgn_pool *pool, uint32_t addr, uint8_t ip_proto, uint16_t port)
{
	int pi = cgn_pool_proto(ip_proto);
	int64_t ai = cgn_pool_addr_index(pool, addr);
	if (pi < 0 || ai < 0)
		return;
	_Atomic uint64_t *w = &bitmap(pool, (uint32_t)ai, pi)[port / 64];
	uint64_t bit = 1ull << (port % 64);
	if (atomic_fetch_and_explicit(w, ~bit, memory_order_acq_rel) & bit)
		atomic_fetch_sub_explicit(&pool->in_use[(size_t)ai * CGN_POOL_NPROTO + (size_t)pi], 1,
					  memory_order_relaxed);
}

uint64_t
cgn_pool_in_use(const struct cgn_pool *pool, uint32_t i, enum cgn_pool_proto p)
{
	return atomic_load_explicit(&pool->in_use[(size_t)i * CGN_POOL_NPROTO + p], memory_order_relaxed);
}
