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

/* ---- runs of consecutive ports (cgn_pb_alloc_run, RFC 7753 port sets) ---------------------- */

/* Asserts ports [first, first + n) are all taken in the allocator for sub (each fails cgn_pb_take). */
static void
assert_run_taken(int32_t s, uint32_t a, uint8_t proto, uint16_t first, uint16_t n)
{
	for (uint16_t k = 0; k < n; k++)
		cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s, a, proto, (uint16_t)(first + k)), -EBUSY,
			     "port %u of the run is taken", first + k);
}

Test(rfc7753_4_2, run_of_n_consecutive_ports_granted, .fini = teardown)
{
	setup(1, 1024, 65535, 512, 2, false);
	uint64_t rng = 21;
	int32_t s = sub(40);
	uint32_t a;
	uint16_t first, got;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 100, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(got, 100);
	cr_assert_eq((first - 1024) / 512, (first + 99 - 1024) / 512, "within one block");
	cr_assert_eq(cgn_pb_sub(&pb, (uint32_t)s)->ports_used, 100);
	assert_run_taken(s, a, IPPROTO_UDP, first, 100);
	/* a second run does not meet the first */
	uint16_t first2, got2;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 100, -1, &rng, &a, &first2, &got2), 0);
	cr_assert_eq(got2, 100);
	cr_assert(first2 + 100 <= first || first2 >= first + 100, "runs %u and %u overlap", first, first2);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 0, -1, &rng, &a, &first, &got), -EINVAL);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, 132, 0, 4, -1, &rng, &a, &first, &got), -EPROTONOSUPPORT);
}

Test(rfc7753_4_2, run_capped_at_the_block_and_spans_words, .fini = teardown)
{
	setup(1, 1024, 65535, 256, 1, false);
	uint64_t rng = 22;
	int32_t s = sub(41);
	uint32_t a;
	uint16_t first, got;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_TCP, 0, 0xffff, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(got, 256, "0xffff: as many as one block holds");
	cr_assert_eq((first - 1024) % 256, 0, "the whole block, from its first port");
	assert_run_taken(s, a, IPPROTO_TCP, first, 256);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_TCP, 0, 2, -1, &rng, &a, &first, &got), -EDQUOT,
		     "the one block is full: quota");
}

Test(rfc7753_4_2, partial_grant_is_the_longest_free_run, .fini = teardown)
{
	setup(1, 1024, 1024 + 4 * 128 - 1, 128, 1, false); /* one block of 128 for the subscriber */
	uint64_t rng = 23;
	int32_t s = sub(42);
	uint32_t a;
	uint16_t port, first, got;
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s, IPPROTO_UDP, 0, 0, &rng, &a, &port), 0);
	uint16_t base = port - (uint16_t)((port - 1024) % 128);
	cgn_pb_release(&pb, (uint32_t)s, IPPROTO_UDP, port);
	/* taken: base+10, base+60 (word 0) and base+100 (word 1): free runs 10, 49, 39, 27 */
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s, a, IPPROTO_UDP, base + 10), 0);
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s, a, IPPROTO_UDP, base + 60), 0);
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s, a, IPPROTO_UDP, base + 100), 0);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 40, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, base + 11);
	cr_assert_eq(got, 40, "the first run of 40 fits in 11..59");
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, base + 61, "no run of 64 and the quota is reached: the longest, across words 0 and 1");
	cr_assert_eq(got, 39);
	assert_run_taken(s, a, IPPROTO_UDP, first, got);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, base + 101);
	cr_assert_eq(got, 27);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(got, 10, "then 0..9");
	cr_assert_eq(first, base);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, base + 51);
	cr_assert_eq(got, 9, "what the first run left, 51..59");
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), -EDQUOT);
	cgn_pb_release(&pb, (uint32_t)s, IPPROTO_UDP, base + 60);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, base + 60);
	cr_assert_eq(got, 1, "one port left: at least one is granted");
}

Test(rfc7753_4_2, new_block_claimed_when_no_run_fits, .fini = teardown)
{
	setup(1, 1024, 65535, 64, 3, false);
	uint64_t rng = 24;
	int32_t s = sub(43);
	uint32_t a;
	uint16_t first, got, f2, g2;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 40, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(cgn_pb_sub(&pb, (uint32_t)s)->n_blocks, 1);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 40, -1, &rng, &a, &f2, &g2), 0);
	cr_assert_eq(g2, 40, "24 left in the first block: a second block gives the whole run");
	cr_assert_eq(cgn_pb_sub(&pb, (uint32_t)s)->n_blocks, 2);
	cr_assert_neq((first - 1024) / 64, (f2 - 1024) / 64);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 20, -1, &rng, &a, &f2, &g2), 0);
	cr_assert_eq(g2, 20);
	cr_assert_eq(cgn_pb_sub(&pb, (uint32_t)s)->n_blocks, 2, "a run of 20 fits in a block held: no new block");
	cgn_pb_release_run(&pb, (uint32_t)s, IPPROTO_UDP, f2, g2);
	cr_assert_eq(cgn_pb_sub(&pb, (uint32_t)s)->ports_used, 80);
}

Test(rfc7753_4_2, parity_of_the_first_port_kept_when_asked, .fini = teardown)
{
	setup(1, 1024, 65535, 128, 4, false);
	uint64_t rng = 25;
	int32_t s = sub(44);
	uint32_t a;
	uint16_t first, got;
	for (int i = 0; i < 6; i++) {
		int parity = i & 1;
		cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 9, parity, &rng, &a, &first, &got), 0);
		cr_assert_eq(first & 1, parity, "first port %u, parity %d", first, parity);
		cr_assert_eq(got, 9);
	}
	/* the suggestion is not honoured against the parity asked */
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 40001, 4, 0, &rng, &a, &first, &got), 0);
	cr_assert_neq(first, 40001);
	cr_assert_eq(first & 1, 0);
}

Test(rfc7753_4_2, parity_given_up_only_when_impossible, .fini = teardown)
{
	setup(1, 1024, 1024 + 64 - 1, 64, 1, false);
	uint64_t rng = 26;
	int32_t s = sub(45);
	uint32_t a;
	uint16_t first, got;
	/* every even port taken: an even first port is impossible */
	for (uint16_t p = 1024; p < 1024 + 64; p += 2)
		cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s, pb.addrs[0], IPPROTO_UDP, p), 0);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 4, 0, &rng, &a, &first, &got), 0);
	cr_assert_eq(first & 1, 1);
	cr_assert_eq(got, 1, "one odd port: runs are of one port here");
}

Test(rfc7753_4, suggested_first_port_honoured_when_the_run_is_free, .fini = teardown)
{
	setup(1, 1024, 65535, 256, 4, false);
	uint64_t rng = 27;
	int32_t s = sub(46);
	uint32_t a;
	uint16_t first, got, port;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_TCP, 40000, 50, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, 40000);
	cr_assert_eq(got, 50);
	assert_run_taken(s, a, IPPROTO_TCP, 40000, 50);
	/* 40049 is taken: a run from 40020 is not whole, so it goes elsewhere */
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_TCP, 40040, 20, -1, &rng, &a, &first, &got), 0);
	cr_assert(first >= 40050 || first + 20 <= 40000, "first %u", first);
	/* a run that would leave its block (40192 is the last block's end here) is not honoured */
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_TCP, 40188, 8, -1, &rng, &a, &first, &got), 0);
	cr_assert_neq(first, 40188);
	cr_assert_eq(got, 8);
	/* a single port: as cgn_pb_alloc's suggestion */
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s, IPPROTO_TCP, 40000, 0, &rng, &a, &port), 0);
	cr_assert_neq(port, 40000);
}

Test(rfc7753_4_2, reserved_ports_end_a_run, .fini = teardown)
{
	setup(1, 5312, 5375, 64, 1, false); /* one block holding UDP 5350 and 5351 */
	uint64_t rng = 28;
	int32_t s = sub(47);
	uint32_t a;
	uint16_t first, got;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, 5312);
	cr_assert_eq(got, 38, "5312..5349: 5350 and 5351 are never handed out");
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(first, 5352);
	cr_assert_eq(got, 24);
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s, IPPROTO_UDP, 5349, 4, -1, &rng, &a, &first, &got), -EDQUOT);
}

/* Contention: two threads take runs while two take single ports, all from one subscriber's
 * blocks; no port is handed out twice and the counts add up. */
struct run_arg {
	uint32_t sub;
	bool runs;
	uint64_t rng;
	uint16_t first[4096], got[4096];
	unsigned n;
};
static struct run_arg rargs[THREADS];

static void *
grab_runs(void *p)
{
	struct run_arg *w = p;
	uint32_t a;
	int rc;
	for (;;) {
		uint16_t first, got = 1;
		if (w->runs)
			rc = cgn_pb_alloc_run(&pb, w->sub, IPPROTO_UDP, 0, (uint16_t)(3 + w->n % 29), -1, &w->rng, &a,
					      &first, &got);
		else
			rc = cgn_pb_alloc(&pb, w->sub, IPPROTO_UDP, 0, 0, &w->rng, &a, &first);
		if (rc == -EAGAIN)
			continue;
		if (rc != 0)
			break;
		w->first[w->n] = first;
		w->got[w->n++] = got;
	}
	cr_assert(rc == -EDQUOT || rc == -ENOSPC, "rc %d", rc);
	return NULL;
}

Test(rfc7753_4_2, concurrent_runs_and_ports_hand_each_port_out_once, .fini = teardown)
{
	setup(1, 10240, 10240 + 64 * 128 - 1, 128, 16, false);
	pthread_t t[THREADS];
	int32_t s = sub(50);
	for (int i = 0; i < THREADS; i++) {
		rargs[i] = (struct run_arg){ .sub = (uint32_t)s, .runs = i < 2, .rng = 0x9876ull * (unsigned)(i + 1) };
		pthread_create(&t[i], NULL, grab_runs, &rargs[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	static uint8_t seen[65536];
	unsigned total = 0;
	for (int i = 0; i < THREADS; i++)
		for (unsigned k = 0; k < rargs[i].n; k++)
			for (unsigned j = 0; j < rargs[i].got[k]; j++) {
				uint16_t p = (uint16_t)(rargs[i].first[k] + j);
				cr_assert_eq(seen[p]++, 0, "port %u handed out twice", p);
				total++;
			}
	cr_assert_eq(total, 16 * 128, "the subscriber's 16 blocks filled exactly: %u", total);
	cr_assert_eq(__atomic_load_n(&cgn_pb_sub(&pb, (uint32_t)s)->ports_used, __ATOMIC_SEQ_CST), total);
}

/* ---- the event hook (NAT logging, RFC 8158 §4.6.9, §4.6.10) ---------------------------------- */

#define MAX_HEARD 256
static struct cgn_event heard[MAX_HEARD];
static unsigned n_heard;
static int hook_ctx_seen;

static void
record(void *ctx, const struct cgn_event *ev)
{
	cr_assert_eq(ctx, &hook_ctx_seen, "the hook gets its ctx");
	cr_assert_lt(n_heard, MAX_HEARD);
	heard[n_heard++] = *ev;
}

static void
assert_event(unsigned i, enum cgn_nat_event what, unsigned subscriber, uint32_t ext, uint16_t first, uint16_t last)
{
	cr_assert_lt(i, n_heard, "event %u heard (%u in all)", i, n_heard);
	const struct cgn_event *ev = &heard[i];
	struct cgn_addr in = cgn_addr_from_v4(htonl(0x64400000u + subscriber));
	cr_assert_eq(ev->nat_event, what, "event %u: natEvent %u, want %u", i, ev->nat_event, what);
	cr_assert(cgn_addr_eq(&ev->internal, &in), "event %u: the subscriber", i);
	cr_assert_eq(ev->ext_addr, ext, "event %u: the external address", i);
	cr_assert_eq(ev->port_first, first, "event %u: first port %u, want %u", i, ev->port_first, first);
	cr_assert_eq(ev->port_last, last, "event %u: last port %u, want %u", i, ev->port_last, last);
	cr_assert_eq(ev->mono_ms, 0, "the hook stamps the time");
	cr_assert(cgn_event_check(ev), "event %u passes the logger's check", i);
}

Test(portblock_events, blocks_and_bindings_reported_once_each, .fini = teardown)
{
	setup(1, 1024, 1024 + 4 * 64 - 1, 64, 2, false); /* four blocks of 64, two a subscriber */
	cgn_pb_set_event_hook(&pb, record, &hook_ctx_seen);
	n_heard = 0;
	uint64_t rng = 5;
	int32_t s1 = sub(40);
	uint32_t a;
	uint16_t ports[128], port;
	cr_assert_eq(n_heard, 0, "a subscriber without a block binds nothing yet");
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &ports[0]), 0);
	cr_assert_eq(n_heard, 2, "first block: binding, then block");
	uint16_t b0 = (uint16_t)(1024 + (ports[0] - 1024) / 64 * 64);
	assert_event(0, CGN_NATEV_BINDING_CREATE, 40, a, 0, 0);
	assert_event(1, CGN_NATEV_PORT_BLOCK_ALLOC, 40, a, b0, (uint16_t)(b0 + 63));
	for (int i = 1; i < 64; i++) /* the rest of the block, any protocol: no event */
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &ports[i]), 0);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_TCP, 0, 0, &rng, &a, &port), 0);
	cr_assert_eq(n_heard, 2, "ports of a block held make no event");
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &ports[64]), 0);
	cr_assert_eq(n_heard, 3, "the second block: one event, no second binding");
	uint16_t b1 = (uint16_t)(1024 + (ports[64] - 1024) / 64 * 64);
	cr_assert_neq(b1, b0);
	assert_event(2, CGN_NATEV_PORT_BLOCK_ALLOC, 40, a, b1, (uint16_t)(b1 + 63));
	for (int i = 65; i < 128; i++)
		cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &ports[i]), 0);
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s1, IPPROTO_UDP, 0, 0, &rng, &a, &port), -EDQUOT);
	cr_assert_eq(n_heard, 3, "a refusal claims nothing and reports nothing here");

	/* Reclaim: each block given back, then the binding. */
	for (int i = 0; i < 128; i++)
		cgn_pb_release(&pb, (uint32_t)s1, IPPROTO_UDP, ports[i]);
	cgn_pb_release(&pb, (uint32_t)s1, IPPROTO_TCP, port);
	cr_assert_eq(cgn_pb_reclaim(&pb, (uint32_t)s1), 2);
	cr_assert_eq(n_heard, 6);
	assert_event(3, CGN_NATEV_PORT_BLOCK_FREE, 40, a, b0, (uint16_t)(b0 + 63));
	assert_event(4, CGN_NATEV_PORT_BLOCK_FREE, 40, a, b1, (uint16_t)(b1 + 63));
	assert_event(5, CGN_NATEV_BINDING_DELETE, 40, a, 0, 0);
	cr_assert_eq(cgn_pb_reclaim(&pb, (uint32_t)s1), 0);
	cr_assert_eq(n_heard, 6, "nothing held: nothing reported");

	/* The exact take of a static mapping and a port-set run claim blocks too. */
	cr_assert_eq(cgn_pb_take(&pb, (uint32_t)s1, a, IPPROTO_TCP, 1024 + 3 * 64 + 5), 0);
	cr_assert_eq(n_heard, 8);
	assert_event(6, CGN_NATEV_BINDING_CREATE, 40, a, 0, 0);
	assert_event(7, CGN_NATEV_PORT_BLOCK_ALLOC, 40, a, 1024 + 3 * 64, 1024 + 4 * 64 - 1);
	uint16_t first, got;
	cr_assert_eq(cgn_pb_alloc_run(&pb, (uint32_t)s1, IPPROTO_TCP, 0, 64, -1, &rng, &a, &first, &got), 0);
	cr_assert_eq(got, 64);
	cr_assert_eq(n_heard, 9, "a TCP run of a whole block needs a new one (one TCP port is held)");
	assert_event(8, CGN_NATEV_PORT_BLOCK_ALLOC, 40, a, first, (uint16_t)(first + 63));

	/* A pool change reports every block of the old allocator as given back. */
	cr_assert_eq(cgn_pb_blocks_used(&pb), 2);
	cr_assert_eq(cgn_pb_blocks_total(&pb), 4);
	cr_assert_eq(cgn_pb_report_all_free(&pb), 2);
	cr_assert_eq(n_heard, 12);
	cr_assert_eq(heard[9].nat_event, CGN_NATEV_PORT_BLOCK_FREE);
	cr_assert_eq(heard[10].nat_event, CGN_NATEV_PORT_BLOCK_FREE);
	assert_event(11, CGN_NATEV_BINDING_DELETE, 40, a, 0, 0);
	cr_assert_eq(cgn_pb_blocks_used(&pb), 2, "reporting changes nothing");

	/* In slices (shutdown): a second subscriber with a block; one subscriber a slice. */
	struct cgn_addr in2 = cgn_addr_from_v4(htonl(0x64400002));
	int32_t s2 = cgn_pb_subscriber(&pb, &in2, true);
	cr_assert_geq(s2, 0);
	uint32_t a2;
	uint16_t p2;
	cr_assert_eq(cgn_pb_alloc(&pb, (uint32_t)s2, IPPROTO_UDP, 0, 1000, &rng, &a2, &p2), 0);
	unsigned before = n_heard;
	uint32_t cursor = 0;
	cr_assert_eq(cgn_pb_report_free_slice(&pb, &cursor, 1), 2, "the first subscriber's two blocks");
	cr_assert_eq(cursor, 1);
	cr_assert_eq(n_heard, before + 3, "two blocks and a binding");
	cr_assert_eq(cgn_pb_report_free_slice(&pb, &cursor, 1), 1, "the second's block");
	cr_assert_eq(cursor, 2);
	cr_assert_eq(n_heard, before + 5);
	cr_assert_eq(heard[n_heard - 1].nat_event, CGN_NATEV_BINDING_DELETE);
	cr_assert_eq(cgn_pb_report_free_slice(&pb, &cursor, 1), 0, "done");
	cr_assert_eq(cursor, 2, "the cursor stays at the end");
	cr_assert_eq(n_heard, before + 5);
}

/* Racing claims of one block by two subscribers: the loser reports nothing. */
struct claim_arg {
	uint32_t sub;
	int rc;
};

static void
count_event(void *ctx, const struct cgn_event *ev)
{
	if (ev->nat_event == CGN_NATEV_PORT_BLOCK_ALLOC)
		__atomic_fetch_add((unsigned *)ctx, 1, __ATOMIC_SEQ_CST);
}

static void *
claim(void *p)
{
	struct claim_arg *c = p;
	uint64_t rng = c->sub + 1;
	uint32_t a;
	uint16_t port;
	while ((c->rc = cgn_pb_alloc(&pb, c->sub, IPPROTO_UDP, 0, 0, &rng, &a, &port)) == 0)
		;
	return NULL;
}

Test(portblock_events, concurrent_claims_report_each_block_once, .fini = teardown)
{
	setup(1, 1024, 1024 + 64 * 64 - 1, 64, 64, false); /* 64 blocks, any subscriber may take all */
	static unsigned allocs;
	allocs = 0;
	cgn_pb_set_event_hook(&pb, count_event, &allocs);
	struct claim_arg c[THREADS];
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		c[i].sub = (uint32_t)sub(50 + (unsigned)i);
		pthread_create(&t[i], NULL, claim, &c[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(allocs, 64, "every block claimed once, reported once (%u)", allocs);
	cr_assert_eq(cgn_pb_blocks_used(&pb), 64);
}
