/*
 * Subscribers and port blocks (common/cgn_portblock.h): paired pooling spread over the pool,
 * random ports within blocks, parity, reserved ports, quotas, exhaustion, release and reclaim,
 * and lock-free allocation from several threads at once.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>

#include "cgn_portblock.h"

static struct cgn_pb pb;
static void *mem;
static uint32_t addrs[256];

static void
setup(uint32_t n_addrs, uint16_t lo, uint16_t hi, uint16_t block, uint16_t max_blocks, bool parity)
{
	for (uint32_t i = 0; i < n_addrs; i++)
		addrs[i] = htonl(0xcb007100u + i); /* 203.0.113.i */
	struct cgn_pb_params p = { .addrs = addrs, .n_addrs = n_addrs, .port_min = lo, .port_max = hi,
				   .block_size = block, .max_blocks = max_blocks, .max_subscribers = 1024,
				   .parity = parity };
	size_t n = cgn_pb_mem_size(&p);
	cr_assert_gt(n, 0);
	mem = calloc(1, n);
	cr_assert_eq(cgn_pb_init(&pb, &p, mem, n), 0);
}

static void
teardown(void)
{
	free(mem);
}

static int32_t
sub(unsigned i)
{
	struct cgn_addr a = cgn_addr_from_v4(htonl(0x64400000u + i)); /* 100.64.0.0 + i */
	int32_t s = cgn_pb_subscriber(&pb, &a, true);
	cr_assert_geq(s, 0);
	return s;
}

Test(portblock, parameters_are_checked)
{
	uint32_t a = 1;
	struct cgn_pb_params p = { .addrs = &a, .n_addrs = 1, .port_min = 1024, .port_max = 65535,
				   .block_size = 100, .max_blocks = 4, .max_subscribers = 10 };
	cr_assert_eq(cgn_pb_mem_size(&p), 0, "block size not a multiple of 64");
	p.block_size = 512;
	p.max_blocks = CGN_PB_MAX_BLOCKS + 1;
	cr_assert_eq(cgn_pb_mem_size(&p), 0);
	p.max_blocks = 4;
	p.port_min = 65100;
	cr_assert_eq(cgn_pb_mem_size(&p), 0, "no whole block in the range");
}

Test(portblock, subscribers_are_found_again, .fini = teardown)
{
	setup(4, 1024, 65535, 512, 4, false);
	struct cgn_addr a = cgn_addr_from_v4(htonl(0x64400001u));
	cr_assert_eq(cgn_pb_subscriber(&pb, &a, false), -ENOENT);
	int32_t s = cgn_pb_subscriber(&pb, &a, true);
	cr_assert_geq(s, 0);
	cr_assert_eq(cgn_pb_subscriber(&pb, &a, false), s);
	cr_assert_eq(cgn_pb_subscriber(&pb, &a, true), s);
	cr_assert(cgn_addr_eq(&cgn_pb_sub(&pb, (uint32_t)s)->addr, &a));
}

Test(rfc6888, req2_paired_pooling_spread_over_the_pool, .fini = teardown)
{
	setup(16, 1024, 65535, 512, 4, false);
	uint64_t rng = 1;
	unsigned per_addr[16] = { 0 };
	for (unsigned i = 0; i < 160; i++) {
		int32_t s = sub(i);
		uint32_t first = 0, a;
		uint16_t port;
		for (int k = 0; k < 20; k++) {
			cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s, k % 2 ? IPPROTO_TCP : IPPROTO_UDP, 0, 0, &rng, &a, &port), 0);
			if (k == 0)
				first = a;
			cr_assert_eq(a, first, "REQ-2: one external address per subscriber");
		}
		per_addr[cgn_pb_addr_index(&pb, first)]++;
	}
	for (int i = 0; i < 16; i++)
		cr_assert_eq(per_addr[i], 10, "least-loaded choice: 160 subscribers, 10 per address (got %u on %d)",
			     per_addr[i], i);
}

Test(rfc6888, req15_ports_random_within_the_block, .fini = teardown)
{
	setup(1, 1024, 65535, 512, 1, false);
	uint64_t rng = 99;
	int32_t s = sub(1);
	uint32_t a;
	uint16_t p[64];
	unsigned sequential = 0;
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s, IPPROTO_UDP, 0, 0, &rng, &a, &p[i]), 0);
		if (i && p[i] == p[i - 1] + 1)
			sequential++;
	}
	uint16_t first = p[0] - (uint16_t)((p[0] - 1024) % 512);
	for (int i = 0; i < 64; i++)
		cr_assert(p[i] >= first && p[i] < first + 512, "all in the subscriber's one block");
	cr_assert_lt(sequential, 16, "not handed out in sequence (%u of 63 consecutive)", sequential);
}

Test(rfc4787, req3_parity_preserved_when_configured, .fini = teardown)
{
	setup(1, 1024, 65535, 128, 2, true);
	uint64_t rng = 5;
	int32_t s = sub(2);
	uint32_t a;
	uint16_t port;
	for (int i = 0; i < 100; i++) {
		uint16_t internal = (uint16_t)(5000 + i);
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s, IPPROTO_UDP, 0, internal, &rng, &a, &port), 0);
		cr_assert_eq(port & 1, internal & 1, "port %u for internal %u", port, internal);
	}
}

Test(rfc6887_11_3, pcp_ports_never_handed_out, .fini = teardown)
{
	setup(1, 5312, 5375, 64, 1, false); /* one block holding 5350 and 5351 */
	uint64_t rng = 3;
	int32_t s = sub(3);
	uint32_t a;
	uint16_t port;
	int got = 0;
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s, IPPROTO_UDP, 5351, 0, &rng, &a, &port), 0);
	cr_assert_neq(port, 5351);
	got++;
	while (cgn_pb_alloc(&pb, (uint32_t)s, IPPROTO_UDP, 0, 0, &rng, &a, &port) == 0) {
		cr_assert(port != 5350 && port != 5351, "port %u", port);
		got++;
	}
	cr_assert_eq(got, 62, "every port of the block but 5350 and 5351");
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s, a, IPPROTO_TCP, 5351), 0, "TCP 5351 is fine");
}

Test(portblock, suggested_port_and_exact_take, .fini = teardown)
{
	setup(2, 1024, 65535, 256, 2, false);
	uint64_t rng = 7;
	int32_t s1 = sub(10), s2 = sub(11);
	uint32_t a1, a2;
	uint16_t port;
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_TCP, 40000, 0, &rng, &a1, &port), 0);
	cr_assert_eq(port, 40000, "a free suggested port is honoured");
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_TCP, 40000, 0, &rng, &a1, &port), 0);
	cr_assert_neq(port, 40000);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 40000, 0, &rng, &a1, &port), 0);
	cr_assert_eq(port, 40000, "per-protocol port spaces");
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s1, a1, IPPROTO_UDP, 40000), -EBUSY);
	/* s2 is on the other address (least loaded): s1's address is not its own */
	cgn_pb_alloc(&pb, (uint32_t)s2, IPPROTO_TCP, 0, 0, &rng, &a2, &port);
	cr_assert_neq(a1, a2);
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s2, a1, IPPROTO_TCP, 40001), -EADDRNOTAVAIL);
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s1, a1, IPPROTO_TCP, 80), -EADDRNOTAVAIL, "below port_min");
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, 132, 0, 0, &rng, &a1, &port), -EPROTONOSUPPORT);
}

Test(portblock, quota_then_pool_exhaustion, .fini = teardown)
{
	setup(1, 1024, 1024 + 4 * 64 - 1, 64, 2, false); /* one address, four blocks of 64 */
	uint64_t rng = 11;
	int32_t s1 = sub(20), s2 = sub(21), s3 = sub(22);
	uint32_t a;
	uint16_t port;
	for (int i = 0; i < 128; i++)
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_TCP, 0, 0, &rng, &a, &port), 0, "port %d", i);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_TCP, 0, 0, &rng, &a, &port), -EDQUOT,
		     "two full blocks: the subscriber's quota");
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &port), 0,
		     "UDP has its own space in the same blocks");
	for (int i = 0; i < 128; i++)
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s2, IPPROTO_TCP, 0, 0, &rng, &a, &port), 0);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s3, IPPROTO_TCP, 0, 0, &rng, &a, &port), -ENOSPC,
		     "every block of the address is owned: pool exhausted");
}

Test(portblock, release_and_reclaim, .fini = teardown)
{
	setup(1, 1024, 1024 + 2 * 64 - 1, 64, 1, false);
	uint64_t rng = 13;
	int32_t s1 = sub(30), s2 = sub(31);
	uint32_t a;
	uint16_t ports[64], port;
	for (int i = 0; i < 64; i++)
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &ports[i]), 0);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &port), -EDQUOT);
	cgn_pb_release(&pb, (uint32_t)s1, IPPROTO_UDP, ports[17]);
	cgn_pb_release(&pb, (uint32_t)s1, IPPROTO_UDP, ports[17]); /* twice: counted once */
	cr_assert_eq(__atomic_load_n(&cgn_pb_sub(&pb, (uint32_t)s1)->ports_used, __ATOMIC_SEQ_CST), 63);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &port), 0);
	cr_assert_eq(port, ports[17], "the one free port is found");
	cr_assert_eq(cgn_pb_reclaim(&pb, (uint32_t)s1), 0, "ports still held: nothing reclaimed");
	for (int i = 0; i < 64; i++)
		cgn_pb_release(&pb, (uint32_t)s1, IPPROTO_UDP, ports[i]);
	cr_assert_eq(cgn_pb_reclaim(&pb, (uint32_t)s1), 1);
	cr_assert_eq(__atomic_load_n(&pb.addr_blocks[0], __ATOMIC_SEQ_CST), 0);
	/* the block is free for the other subscriber; both blocks can be had */
	for (int i = 0; i < 64; i++)
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s2, IPPROTO_UDP, 0, 0, &rng, &a, &port), 0);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &port), 0,
		     "s1 gets a block again after its reclaim");
}

#define THREADS 4
struct grab_arg {
	uint32_t sub;
	uint16_t got[8192];
	unsigned n;
	uint64_t rng;
};
static struct grab_arg args[THREADS];

static void *
grab(void *p)
{
	struct grab_arg *w = p;
	uint32_t a;
	uint16_t port;
	int rc;
	while ((rc = cgn_pb_alloc(&pb, w->sub, IPPROTO_UDP, 0, 0, &w->rng, &a, &port)) == 0)
		w->got[w->n++] = port;
	cr_assert(rc == -EDQUOT || rc == -ENOSPC, "rc %d", rc);
	return NULL;
}

Test(portblock, concurrent_allocation_hands_each_port_out_once, .fini = teardown)
{
	setup(1, 1024, 1024 + 64 * 128 - 1, 128, 16, false); /* 64 blocks of 128 */
	pthread_t t[THREADS];
	/* two subscribers, two threads each: blocks and ports contended at once */
	for (int i = 0; i < THREADS; i++) {
		args[i].sub = (uint32_t)sub((unsigned)(i / 2));
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
	/* UDP 5350 and 5351 lie in block 33 ((5350 - 1024) / 128): not handed out if it was claimed */
	unsigned reserved = __atomic_load_n(&pb.owner[(5350 - 1024) / 128], __ATOMIC_SEQ_CST) ? 2 : 0;
	cr_assert_eq(total, 2 * 16 * 128 - reserved, "each subscriber filled its 16 blocks: %u", total);
	cr_assert_eq(__atomic_load_n(&cgn_pb_sub(&pb, args[0].sub)->ports_used, __ATOMIC_SEQ_CST) +
			     __atomic_load_n(&cgn_pb_sub(&pb, args[2].sub)->ports_used, __ATOMIC_SEQ_CST), total);
	cr_assert_eq(__atomic_load_n(&pb.addr_blocks[0], __ATOMIC_SEQ_CST), 32);
}

static void *
make_subs(void *p)
{
	uintptr_t base = (uintptr_t)p;
	for (unsigned i = 0; i < 200; i++) {
		struct cgn_addr a = cgn_addr_from_v4(htonl(0x64400000u + (unsigned)(i % 100) + (unsigned)base));
		cr_assert_geq(cgn_pb_subscriber(&pb, &a, true), 0);
	}
	return NULL;
}

Test(portblock, concurrent_subscriber_creation_makes_each_once, .fini = teardown)
{
	setup(4, 1024, 65535, 512, 4, false);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, make_subs, (void *)(uintptr_t)((i % 2) * 50));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(__atomic_load_n(&pb.n_subs, __ATOMIC_SEQ_CST), 150, "addresses 0..149, each created once");
}
