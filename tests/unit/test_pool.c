/*
 * The port pool (common/cgn_pool.h): paired addresses, reserved ports, exhaustion, release,
 * and lock-free allocation from several threads at once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>

#include "cgn_pool.h"

static struct cgn_config cfg;
static struct cgn_pool pool;
static void *mem;

static void
setup(const char *prefix, uint16_t lo, uint16_t hi)
{
	cgn_config_defaults(&cfg);
	cgn_prefix_parse(prefix, &cfg.nat.pool[0]);
	cfg.nat.n_pool = 1;
	cfg.nat.port_min = lo;
	cfg.nat.port_max = hi;
	size_t n = cgn_pool_mem_size(&cfg);
	mem = aligned_alloc(64, (n + 63) & ~(size_t)63);
	cr_assert_eq(cgn_pool_init(&pool, &cfg, mem, n), 0);
}

static void
teardown(void)
{
	free(mem);
}

static struct cgn_addr
sub(unsigned i)
{
	return cgn_addr_from_v4(htonl(0x64400000u + i)); /* 100.64.0.0 + i */
}

Test(pool, init_lists_every_address, .fini = teardown)
{
	setup("203.0.113.0/28", 1024, 65535);
	cr_assert_eq(pool.n_addrs, 16);
	for (uint32_t i = 0; i < 16; i++)
		cr_assert_eq(ntohl(pool.addrs[i]), 0xcb007100u + i);
	cr_assert_eq(cgn_pool_addr_index(&pool, htonl(0xcb007105u)), 5);
	cr_assert_eq(cgn_pool_addr_index(&pool, htonl(0xcb007200u)), -1);
	cr_assert_eq(cgn_pool_init(&pool, &cfg, mem, 10), -ENOSPC);
}

Test(pool, rfc6888_req2_paired_address, .fini = teardown)
{
	setup("203.0.113.0/28", 1024, 65535);
	uint64_t rng = 1;
	unsigned used[16] = { 0 };
	for (unsigned s = 0; s < 256; s++) {
		struct cgn_addr a = sub(s);
		uint32_t paired = cgn_pool_paired_addr(&pool, &a), got;
		uint16_t port;
		for (int k = 0; k < 3; k++) {
			cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_UDP, 0, &rng, &got, &port), 0);
			cr_assert_eq(got, paired, "every mapping of a subscriber uses one address");
		}
		used[cgn_pool_addr_index(&pool, paired)]++;
	}
	for (int i = 0; i < 16; i++)
		cr_assert_gt(used[i], 0, "256 subscribers spread over all 16 addresses");
}

Test(pool, suggested_port_honoured_when_free, .fini = teardown)
{
	setup("203.0.113.1/32", 1024, 65535);
	uint64_t rng = 7;
	struct cgn_addr a = sub(1);
	uint32_t addr;
	uint16_t port;
	cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_TCP, 40000, &rng, &addr, &port), 0);
	cr_assert_eq(port, 40000);
	cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_TCP, 40000, &rng, &addr, &port), 0);
	cr_assert_neq(port, 40000, "taken: another port");
	cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_UDP, 40000, &rng, &addr, &port), 0);
	cr_assert_eq(port, 40000, "UDP and TCP ports are separate");
	cr_assert_eq(cgn_pool_take(&pool, addr, IPPROTO_UDP, 40000), -EBUSY);
	cr_assert_eq(cgn_pool_take(&pool, addr, IPPROTO_UDP, 40001), 0);
	cr_assert_eq(cgn_pool_take(&pool, addr, IPPROTO_UDP, 80), -EADDRNOTAVAIL, "below port_min");
	cr_assert_eq(cgn_pool_take(&pool, htonl(1), IPPROTO_UDP, 4000), -EADDRNOTAVAIL, "not a pool address");
	cr_assert_eq(cgn_pool_alloc(&pool, &a, 132, 0, &rng, &addr, &port), -EPROTONOSUPPORT);
}

Test(rfc6887_11_3, pcp_ports_never_handed_out, .fini = teardown)
{
	setup("203.0.113.1/32", 5340, 5360);
	uint64_t rng = 3;
	struct cgn_addr a = sub(2);
	uint32_t addr;
	uint16_t port;
	int got = 0;
	cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_UDP, 5351, &rng, &addr, &port), 0);
	cr_assert_neq(port, 5351);
	got++;
	while (cgn_pool_alloc(&pool, &a, IPPROTO_UDP, 0, &rng, &addr, &port) == 0) {
		cr_assert(port != 5350 && port != 5351);
		got++;
	}
	cr_assert_eq(got, 21 - 2, "every port of the range but 5350 and 5351");
	cr_assert_eq(cgn_pool_in_use(&pool, 0, CGN_POOL_UDP), 19);
	cr_assert_eq(cgn_pool_take(&pool, addr, IPPROTO_TCP, 5351), 0, "TCP 5351 is allowed");
}

Test(pool, exhaustion_and_release, .fini = teardown)
{
	setup("203.0.113.1/32", 2000, 2099);
	uint64_t rng = 11;
	struct cgn_addr a = sub(3);
	uint32_t addr;
	uint16_t port, ports[100];
	for (int i = 0; i < 100; i++)
		cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_TCP, 0, &rng, &addr, &ports[i]), 0);
	cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_TCP, 0, &rng, &addr, &port), -ENOSPC);
	cgn_pool_release(&pool, addr, IPPROTO_TCP, ports[42]);
	cgn_pool_release(&pool, addr, IPPROTO_TCP, ports[42]); /* twice: counted once */
	cr_assert_eq(cgn_pool_in_use(&pool, 0, CGN_POOL_TCP), 99);
	cr_assert_eq(cgn_pool_alloc(&pool, &a, IPPROTO_TCP, 0, &rng, &addr, &port), 0);
	cr_assert_eq(port, ports[42], "the one free port is found");
}

#define THREADS 4
struct worker_arg {
	uint16_t got[70000];
	unsigned n;
	uint64_t rng;
};
static struct worker_arg args[THREADS];

static void *
grab(void *p)
{
	struct worker_arg *w = p;
	struct cgn_addr a = sub(9);
	uint32_t addr;
	uint16_t port;
	while (cgn_pool_alloc(&pool, &a, IPPROTO_UDP, 0, &w->rng, &addr, &port) == 0)
		w->got[w->n++] = port;
	return NULL;
}

Test(pool, concurrent_allocation_hands_each_port_out_once, .fini = teardown)
{
	setup("203.0.113.1/32", 1024, 65535);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		args[i].n = 0;
		args[i].rng = 0x1234567ull * (unsigned)(i + 1);
		pthread_create(&t[i], NULL, grab, &args[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	static uint8_t seen[65536];
	unsigned total = 0;
	for (int i = 0; i < THREADS; i++)
		for (unsigned k = 0; k < args[i].n; k++) {
			cr_assert_eq(seen[args[i].got[k]]++, 0, "port %u handed out twice", args[i].got[k]);
			total++;
		}
	cr_assert_eq(total, 65535 - 1024 + 1 - 2, "every port but UDP 5350/5351, each once");
	cr_assert_eq(cgn_pool_in_use(&pool, 0, CGN_POOL_UDP), total);
}
