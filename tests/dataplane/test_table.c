/*
 * The shared table on its own (dataplane/cgn_table.h): both keys of a mapping, keys never
 * shared, the three burst stages, overflow past a full home bucket and refusal when every
 * bucket it may use is full, REPLACE, the slot walk, RCU reclamation, and lock-free readers
 * against a writer thread. Each test makes its own small table (EAL from dp_env); the test
 * thread is reader 0 of it.
 */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>

#include "dp_test.h"

TestSuite(table, .init = setup);

static struct cgn_table *
table_new(uint32_t capacity)
{
	static unsigned n;
	char name[16];
	snprintf(name, sizeof(name), "tt%u", n++);
	struct cgn_table *t = cgn_table_create(name, capacity, 2, 0x5eed, 0);
	cr_assert_not_null(t);
	cgn_table_reader_online(t, 0);
	return t;
}

static void
table_done(struct cgn_table *t)
{
	cgn_table_reader_offline(t, 0);
	cgn_table_free(t);
}

/* Subscriber 100.64.0.0 + sub, internal port, external 203.0.113.1:ext. */
static struct cgn_key
in_key(uint32_t sub, uint16_t port)
{
	struct cgn_key k;
	cgn_key_set_v4(&k, htonl(0x64400000u + sub), port, IPPROTO_UDP, CGN_SIDE_INSIDE);
	return k;
}

static struct cgn_key
out_key(uint16_t ext)
{
	struct cgn_key k;
	cgn_key_set_v4(&k, htonl(0xcb007101u), ext, IPPROTO_UDP, CGN_SIDE_OUTSIDE);
	return k;
}

static int
apply(struct cgn_table *t, enum cgn_msg_op op, const struct cgn_key *in, uint16_t ext)
{
	struct cgn_ring_msg msg = { .op = op };
	cgn_mapping_set(&msg.m, in, htonl(0xcb007101u), ext);
	msg.m.flags = CGN_MAP_IMPLICIT;
	return cgn_table_apply(t, &msg);
}

/* A table of 64 holding one mapping: subscriber 1's port 5000 at external port 1100. */
static struct cgn_table *
table_with_one(struct cgn_key *in, struct cgn_key *out, struct cgn_mapping **m)
{
	struct cgn_table *t = table_new(64);
	*in = in_key(1, 5000);
	*out = out_key(1100);
	cr_assert_eq(apply(t, CGN_MSG_ADD, in, 1100), 0);
	*m = cgn_table_lookup(t, in);
	cr_assert_not_null(*m);
	return t;
}

/* Adds mappings for subscribers 0 .. n-1, port 7, at external ports 1024 + i. @return how
 * many the table took. */
static uint32_t
fill(struct cgn_table *t, uint32_t n)
{
	uint32_t added = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct cgn_key in = in_key(i, 7);
		added += apply(t, CGN_MSG_ADD, &in, (uint16_t)(1024 + i)) == 0;
	}
	return added;
}

/* The burst path: all three stages over n keys, as nat44.c runs them. */
static void
lookup_burst(const struct cgn_table *t, const struct cgn_key *keys, unsigned n, struct cgn_mapping **maps)
{
	uint32_t hash[64];
	struct cgn_mapping *cand[64];
	for (unsigned i = 0; i < n; i++) {
		hash[i] = cgn_table_hash(t, &keys[i]);
		cgn_table_prefetch(t, keys[i].side, hash[i]);
	}
	for (unsigned i = 0; i < n; i++)
		cand[i] = cgn_table_candidate(t, keys[i].side, hash[i]);
	for (unsigned i = 0; i < n; i++)
		maps[i] = cgn_table_confirm(t, &keys[i], hash[i], cand[i]);
}

Test(table, hash_from_values_is_the_key_hash)
{
	struct cgn_table *t = table_new(64);
	uint32_t x = 12345;
	for (int i = 0; i < 10000; i++) {
		x = x * 1103515245u + 12345u;
		uint32_t v4 = x;
		uint16_t port = (uint16_t)(x >> 7);
		uint8_t proto = (uint8_t[]){ IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP }[i % 3];
		enum cgn_key_side side = (enum cgn_key_side)(i & 1);
		struct cgn_key k;
		cgn_key_set_v4(&k, v4, port, proto, side);
		cr_assert_eq(cgn_table_hash_v4(t, v4, port, proto, side), cgn_table_hash(t, &k), "case %d", i);
	}
	table_done(t);
}

/* CRC32-C alone left bit 0 constant over these keys: half the buckets empty, every key on
 * one worker's ring. */
Test(table, the_hash_spreads_structured_keys)
{
	struct cgn_table *t = table_new(64);
	static unsigned bucket[256];
	unsigned odd = 0;
	for (uint32_t i = 0; i < 256 * 1024; i++) {
		struct cgn_key k = in_key(i % 256, (uint16_t)(7 + i / 256));
		uint32_t h = cgn_table_hash(t, &k);
		bucket[h & 255]++;
		odd += h & 1;
	}
	for (unsigned b = 0; b < 256; b++)
		cr_assert(bucket[b] > 1024 * 3 / 4 && bucket[b] < 1024 * 5 / 4, "bucket %u: %u keys of a mean 1024", b, bucket[b]);
	cr_assert(odd > 128 * 1024 * 9 / 10 && odd < 128 * 1024 * 11 / 10, "%u odd hashes of 262144", odd);
	table_done(t);
}

/* The seed moves every key: homes worked out for one seed say nothing of another's. */
Test(table, the_seed_moves_the_homes)
{
	struct cgn_table *a = cgn_table_create("seed_a", 4096, 1, 1, 0);
	struct cgn_table *b = cgn_table_create("seed_b", 4096, 1, 2, 0);
	struct cgn_table *r = cgn_table_create("seed_r", 4096, 1, 0, 0);
	cr_assert(a && b && r);
	cr_assert_neq(r->seed, 0, "0 asks for a random seed");
	unsigned same = 0;
	for (uint32_t i = 0; i < 4096; i++) {
		struct cgn_key k = in_key(1, (uint16_t)(1024 + i));
		same += (cgn_table_hash(a, &k) & a->mask) == (cgn_table_hash(b, &k) & b->mask);
	}
	cr_assert_lt(same, 4096 / 64, "%u of 4096 keys kept their home (%u buckets)", same, a->mask + 1);
	cgn_table_free(a);
	cgn_table_free(b);
	cgn_table_free(r);
}

Test(table, both_keys_lead_to_one_entry)
{
	struct cgn_key in, out;
	struct cgn_mapping *m;
	struct cgn_table *t = table_with_one(&in, &out, &m);
	cr_assert_eq(cgn_table_lookup(t, &out), m);
	cr_assert_eq(m->ext_port, 1100);
	cr_assert_eq(m->int_port, 5000);
	/* The same endpoint on the other side, another port or protocol: nothing. */
	struct cgn_key wrong_side = in;
	wrong_side.side = CGN_SIDE_OUTSIDE;
	cr_assert_null(cgn_table_lookup(t, &wrong_side));
	struct cgn_key other_port = in_key(1, 5001);
	cr_assert_null(cgn_table_lookup(t, &other_port));
	struct cgn_key tcp = in;
	tcp.proto = IPPROTO_TCP;
	cr_assert_null(cgn_table_lookup(t, &tcp));
	cr_assert_eq(cgn_table_count(t), 1);

	cr_assert_eq(apply(t, CGN_MSG_DEL, &in, 1100), 0);
	cr_assert_null(cgn_table_lookup(t, &in));
	cr_assert_null(cgn_table_lookup(t, &out));
	cr_assert_eq(apply(t, CGN_MSG_DEL, &in, 1100), -ENOENT);
	cr_assert_eq(cgn_table_count(t), 0);
	table_done(t);
}

Test(table, a_key_is_never_shared)
{
	struct cgn_key a, out, b = in_key(2, 5000);
	struct cgn_mapping *m;
	struct cgn_table *t = table_with_one(&a, &out, &m);
	unsigned avail = rte_mempool_avail_count(t->entries);
	cr_assert_eq(apply(t, CGN_MSG_ADD, &a, 1200), -EEXIST, "the same inside key");
	cr_assert_eq(apply(t, CGN_MSG_ADD, &b, 1100), -EEXIST, "another subscriber, the same external endpoint");
	cr_assert_eq(t->stats.add_exists, 2);
	cr_assert_eq(rte_mempool_avail_count(t->entries), avail, "no entry taken by a refused add");
	cr_assert_eq(cgn_table_lookup(t, &out), m);
	cr_assert_eq(cgn_table_lookup(t, &a), m);
	cr_assert_null(cgn_table_lookup(t, &b));
	table_done(t);
}

/* n inside keys whose home is one of buckets 0 .. homes-1 (subscribers 0-255, port 7 up). */
static unsigned
keys_homed_below(const struct cgn_table *t, struct cgn_key *keys, unsigned n, uint32_t homes)
{
	unsigned found = 0;
	for (uint32_t i = 0; i < 256 * 1024 && found < n; i++) {
		struct cgn_key k = in_key(i % 256, (uint16_t)(7 + i / 256));
		if ((cgn_table_hash(t, &k) & t->mask) < homes)
			keys[found++] = k;
	}
	return found;
}

Test(table, a_full_home_overflows_to_the_next_buckets_then_refuses)
{
	struct cgn_table *t = table_new(512); /* 128 buckets a side */
	enum { FIT = CGN_TABLE_SLOTS * (CGN_TABLE_MAX_PROBE + 1) };
	struct cgn_key home0[FIT + 1];
	cr_assert_eq(keys_homed_below(t, home0, FIT + 1, 1), FIT + 1);

	struct cgn_key keys[64];
	struct cgn_mapping *maps[64];
	for (unsigned i = 0; i < FIT; i++) {
		keys[0] = home0[i];
		cr_assert_eq(apply(t, CGN_MSG_ADD, &keys[0], (uint16_t)(1024 + i)), 0,
			     "key %u of %u homed at bucket 0", i, FIT);
	}
	cr_assert_eq(t->buckets[CGN_SIDE_INSIDE][0].probe, CGN_TABLE_MAX_PROBE);

	/* Every one is found, alone and through the burst stages. */
	for (unsigned i = 0; i < FIT; i++) {
		keys[i % 64] = home0[i];
		if (i % 64 == 63 || i == FIT - 1) {
			unsigned n = i % 64 + 1;
			lookup_burst(t, keys, n, maps);
			for (unsigned j = 0; j < n; j++) {
				cr_assert_not_null(maps[j], "key %u", i - n + 1 + j);
				cr_assert(cgn_table_key_matches(maps[j], &keys[j]));
				cr_assert_eq(maps[j], cgn_table_lookup(t, &keys[j]));
			}
		}
	}
	unsigned avail = rte_mempool_avail_count(t->entries);
	struct cgn_key last = home0[FIT];
	cr_assert_eq(apply(t, CGN_MSG_ADD, &last, 2000), -ENOSPC, "home and the next %u buckets full", CGN_TABLE_MAX_PROBE);
	cr_assert_eq(t->stats.add_no_slot, 1);
	cr_assert_null(cgn_table_lookup(t, &last));
	struct cgn_key last_out = out_key(2000);
	cr_assert_null(cgn_table_lookup(t, &last_out), "the outside key taken back");

	/* A removal frees a slot for it. */
	struct cgn_key first = home0[0];
	cr_assert_eq(apply(t, CGN_MSG_DEL, &first, 1024), 0);
	cr_assert_eq(t->buckets[CGN_SIDE_INSIDE][0].probe, CGN_TABLE_MAX_PROBE, "keys still lie 16 buckets on");
	cr_assert_eq(apply(t, CGN_MSG_ADD, &last, 2000), 0);
	cr_assert_eq(cgn_table_lookup(t, &last_out), cgn_table_lookup(t, &last));
	cr_assert_null(cgn_table_lookup(t, &first));
	rte_rcu_qsbr_quiescent(t->rcu, 0);
	cgn_table_reclaim(t);
	cr_assert_eq(rte_mempool_avail_count(t->entries), avail, "the removed entry back, the new one taken");

	/* As the furthest keys go, the home's probe comes back down, to 0 with the home alone. */
	for (unsigned i = FIT; i-- > 1;) {
		struct cgn_key k = home0[i];
		cr_assert_eq(apply(t, CGN_MSG_DEL, &k, 0), 0);
		unsigned left = i; /* home0[1..i-1] and home0[FIT] */
		unsigned expect = left <= CGN_TABLE_SLOTS ? 0 : (left - 1) / CGN_TABLE_SLOTS;
		cr_assert_eq(t->buckets[CGN_SIDE_INSIDE][0].probe, expect, "%u keys of home 0 left", left);
	}
	cr_assert_eq(cgn_table_lookup(t, &last_out), cgn_table_lookup(t, &last), "the last one still found");
	table_done(t);
}

Test(table, the_pool_bounds_the_mappings)
{
	struct cgn_table *t = table_new(100);
	cr_assert_eq(fill(t, 200), 100);
	cr_assert_eq(t->stats.add_no_entry, 100);
	cr_assert_eq(cgn_table_count(t), 100);
	table_done(t);
}

/* REPLACEs key in's mapping (external port ext) with a filtered one. @return the new entry. */
static struct cgn_mapping *
replace_with_filter(struct cgn_table *t, const struct cgn_key *in, uint16_t ext)
{
	struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
	cgn_mapping_set(&msg.m, in, htonl(0xcb007101u), ext);
	msg.m.flags = CGN_MAP_EXPLICIT | CGN_MAP_FILTERED;
	msg.m.n_filters = 1;
	cr_assert_eq(cgn_table_apply(t, &msg), 0);
	return cgn_table_lookup(t, in);
}

Test(table, replace_swaps_the_entry_and_keeps_what_traffic_taught)
{
	struct cgn_key in, out;
	struct cgn_mapping *old;
	struct cgn_table *t = table_with_one(&in, &out, &old);
	old->last_out_ms = 777;
	old->tcp_state = CGN_TCP_ESTABLISHED;

	struct cgn_mapping *now = replace_with_filter(t, &in, 1100);
	cr_assert_neq(now, old);
	cr_assert_eq(cgn_table_lookup(t, &out), now);
	cr_assert_eq(now->n_filters, 1);
	cr_assert_eq(now->last_out_ms, 777);
	cr_assert_eq(now->tcp_state, CGN_TCP_ESTABLISHED);
	cr_assert_eq(old->int_port, 5000, "the old entry readable until the reader's quiescent state");
	cr_assert_eq(t->stats.freed, 0);
	rte_rcu_qsbr_quiescent(t->rcu, 0);
	cgn_table_reclaim(t);
	cr_assert_eq(t->stats.freed, 1);

	/* For another external endpoint: refused, nothing changes. */
	struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
	msg.m.flags = CGN_MAP_EXPLICIT | CGN_MAP_FILTERED;
	cgn_mapping_set(&msg.m, &in, htonl(0xcb007101u), 1101);
	cr_assert_eq(cgn_table_apply(t, &msg), -EINVAL);
	cr_assert_eq(cgn_table_lookup(t, &in), now);
	/* For an absent key. */
	struct cgn_key absent = in_key(9, 9);
	cgn_mapping_set(&msg.m, &absent, htonl(0xcb007101u), 1100);
	cr_assert_eq(cgn_table_apply(t, &msg), -ENOENT);
	table_done(t);
}

/* A worker that found the old entry before a REPLACE writes to it until its next quiescent
 * state; those writes reach the new entry when the old one is freed, unless the new entry
 * learned something later itself. */
Test(table, writes_to_a_replaced_entry_during_its_grace_period_are_kept)
{
	struct cgn_table *t = table_new(64);
	struct cgn_key a = in_key(1, 5000), b = in_key(2, 5000);
	cr_assert_eq(apply(t, CGN_MSG_ADD, &a, 1100), 0);
	cr_assert_eq(apply(t, CGN_MSG_ADD, &b, 1101), 0);
	struct cgn_mapping *old_a = cgn_table_lookup(t, &a), *old_b = cgn_table_lookup(t, &b);
	old_a->last_out_ms = old_b->last_out_ms = 700;
	old_a->tcp_state = old_b->tcp_state = CGN_TCP_TRANSITORY;

	struct cgn_mapping *new_a = replace_with_filter(t, &a, 1100), *new_b = replace_with_filter(t, &b, 1101);
	cr_assert_eq(new_a->tcp_state, CGN_TCP_TRANSITORY);
	/* The reader (this thread) still holds both old entries and writes to them. */
	for (struct cgn_mapping *o = old_a; o != NULL; o = o == old_a ? old_b : NULL) {
		o->last_out_ms = 900;
		o->tcp_state = CGN_TCP_ESTABLISHED;
		o->closed_peer = htonl(0xc6336401u);
		o->closed_port = 443;
		o->closed_ms = 950;
	}
	/* b's new entry has meanwhile seen later traffic of its own. */
	new_b->last_out_ms = 1000;
	new_b->tcp_state = CGN_TCP_CLOSING;
	new_b->closed_peer = htonl(0xc6336402u);
	new_b->closed_ms = 990;
	cr_assert_eq(new_a->last_out_ms, 700, "not merged before the grace period");

	rte_rcu_qsbr_quiescent(t->rcu, 0);
	cgn_table_reclaim(t);
	cr_assert_eq(t->stats.freed, 2);
	cr_assert_eq(new_a->last_out_ms, 900);
	cr_assert_eq(new_a->tcp_state, CGN_TCP_ESTABLISHED);
	cr_assert_eq(new_a->closed_ms, 950);
	cr_assert_eq(new_a->closed_peer, htonl(0xc6336401u));
	cr_assert_eq(new_a->closed_port, 443);
	cr_assert_eq(new_b->last_out_ms, 1000, "the later time stays");
	cr_assert_eq(new_b->tcp_state, CGN_TCP_CLOSING, "a state the new entry reached itself stays");
	cr_assert_eq(new_b->closed_ms, 990);
	cr_assert_eq(new_b->closed_peer, htonl(0xc6336402u));
	table_done(t);
}

/* A full table still takes a REPLACE (a PCP filter change): the new entry comes from the
 * spare ones while the old one waits out its grace period. It takes no more mappings. */
Test(table, a_full_table_takes_a_replace_but_no_add)
{
	struct cgn_table *t = table_new(64);
	cr_assert_eq(fill(t, 64), 64);
	struct cgn_key more = in_key(100, 7);
	cr_assert_eq(apply(t, CGN_MSG_ADD, &more, 2000), -ENOSPC);
	cr_assert_eq(t->stats.add_no_entry, 1);
	struct cgn_key in = in_key(5, 7);
	cr_assert_eq(apply(t, CGN_MSG_REPLACE, &in, 1029), 0, "the spare entry");
	cr_assert_eq(cgn_table_lookup(t, &in)->ext_port, 1029);
	cr_assert_eq(apply(t, CGN_MSG_ADD, &more, 2000), -ENOSPC, "still full");
	table_done(t);
}

Test(table, removed_entries_wait_for_every_reader)
{
	struct cgn_key in, out;
	struct cgn_mapping *m;
	struct cgn_table *t = table_with_one(&in, &out, &m);
	cgn_table_reader_online(t, 1); /* a second reader, which has not passed a quiescent state */
	cr_assert_eq(apply(t, CGN_MSG_DEL, &in, 1100), 0);
	rte_rcu_qsbr_quiescent(t->rcu, 0);
	cgn_table_reclaim(t);
	cr_assert_eq(t->stats.freed, 0, "reader 1 may still hold it");
	cr_assert_eq(m->int_port, 5000);
	rte_rcu_qsbr_quiescent(t->rcu, 1);
	cgn_table_reclaim(t);
	cr_assert_eq(t->stats.freed, 1);
	cgn_table_reader_offline(t, 1);
	table_done(t);
}

Test(table, the_walk_sees_each_mapping_once)
{
	struct cgn_table *t = table_new(2000);
	cr_assert_eq(fill(t, 1500), 1500);
	static uint8_t seen[1500];
	uint32_t cursor = 0, n = 0;
	struct cgn_mapping *m;
	while ((m = cgn_table_next(t, &cursor)) != NULL) {
		uint32_t i = m->ext_port - 1024u;
		cr_assert_lt(i, 1500);
		cr_assert_eq(seen[i]++, 0, "mapping %u seen twice", i);
		n++;
	}
	cr_assert_eq(n, 1500);
	n = 0;
	for (uint32_t c = 0; c < cgn_table_slots(t); c++)
		n += cgn_table_slot(t, c) != NULL;
	cr_assert_eq(n, 1500);
	table_done(t);
}

/*
 * Lock-free readers: a writer thread keeps a full table churning (remove a mapping, add
 * another key with a new external port; the pool has one entry beyond the capacity, so an
 * entry comes back two steps after its removal, under another key, unless RCU holds it) while this thread looks
 * keys up and holds what it found for a while, as a worker holds entries through its burst.
 * Whatever it holds must stay the key's mapping, whole: its external port one the writer gave
 * that key. Bounded: 20000 steps.
 */
enum { STRESS_CAPACITY = 64, STRESS_KEYS = 2 * STRESS_CAPACITY, STRESS_STEPS = 20000 };

struct stress {
	struct cgn_table *t;
	bool done;       /* shared: the writer sets it when it is through; the reader polls it */
	unsigned failed; /* writer's operations that failed */
};

/* Key i's external port at step n: 1024 + i + 128 (n % 450). */
static uint16_t
stress_ext(uint32_t i, uint32_t n)
{
	return (uint16_t)(1024 + i + STRESS_KEYS * (n % 450));
}

static int
stress_add(struct stress *s, uint32_t i, uint32_t n)
{
	struct cgn_key in = in_key(i, 9);
	int rc;
	for (int tries = 0; (rc = apply(s->t, CGN_MSG_ADD, &in, stress_ext(i, n))) == -ENOSPC && tries < 1000000; tries++) {
		cgn_table_reclaim(s->t);
		sched_yield();
	}
	return rc;
}

static void *
stress_writer(void *arg)
{
	struct stress *s = arg;
	bool present[STRESS_KEYS] = { false };
	uint32_t x = 7;
	for (uint32_t i = 0; i + 1 < STRESS_CAPACITY; i++) {
		s->failed += stress_add(s, i, 0) != 0;
		present[i] = true;
	}
	for (uint32_t n = 1; n <= STRESS_STEPS; n++) {
		uint32_t victim, next;
		do {
			x = x * 1103515245u + 12345u;
			victim = (x >> 8) % STRESS_KEYS;
		} while (!present[victim]);
		do {
			x = x * 1103515245u + 12345u;
			next = (x >> 8) % STRESS_KEYS;
		} while (present[next] || next == victim);
		struct cgn_key in = in_key(victim, 9);
		s->failed += apply(s->t, CGN_MSG_DEL, &in, 0) != 0;
		present[victim] = false;
		s->failed += stress_add(s, next, n) != 0;
		present[next] = true;
	}
	__atomic_store_n(&s->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

Test(table, readers_never_see_a_torn_or_reused_entry)
{
	struct stress s = { .t = table_new(STRESS_CAPACITY) };
	pthread_t writer;
	cr_assert_eq(pthread_create(&writer, NULL, stress_writer, &s), 0);
	/* EAL pinned this thread to one CPU, and the writer inherited it: give the writer the
	 * last CPU, so that on a machine with two they run at once. */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus > 1) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET((int)cpus - 1, &set);
		pthread_setaffinity_np(writer, sizeof(set), &set);
	}
	uint64_t found = 0, lookups = 0, bad = 0;
	uint32_t x = 1;
	while (!__atomic_load_n(&s.done, __ATOMIC_SEQ_CST)) {
		struct cgn_key keys[32];
		struct cgn_mapping *maps[32];
		for (unsigned j = 0; j < 32; j++) {
			x = x * 1103515245u + 12345u;
			keys[j] = in_key((x >> 8) % STRESS_KEYS, 9);
		}
		lookup_burst(s.t, keys, 32, maps);
		/* Hold them about as long as a few steps of the writer take. */
		for (uint64_t until = rte_rdtsc() + rte_get_tsc_hz() / 200000; rte_rdtsc() < until;)
			rte_pause();
		for (unsigned j = 0; j < 32; j++) {
			lookups++;
			if (maps[j] == NULL)
				continue;
			found++;
			uint32_t i = ntohl(cgn_addr_v4(&keys[j].addr)) - 0x64400000u;
			if (!cgn_table_key_matches(maps[j], &keys[j]) || (maps[j]->ext_port - 1024u - i) % STRESS_KEYS != 0)
				bad++;
		}
		rte_rcu_qsbr_quiescent(s.t->rcu, 0);
	}
	pthread_join(writer, NULL);
	cr_log_info("%lu lookups, %lu found", (unsigned long)lookups, (unsigned long)found);
	cr_assert_eq(s.failed, 0, "the writer's adds and removals all succeed");
	cr_assert_eq(bad, 0, "%lu of %lu entries held were not the key's", (unsigned long)bad, (unsigned long)found);
	cr_assert_gt(found, 0, "the reader overlapped the writer");
	cr_assert_eq(cgn_table_count(s.t), STRESS_CAPACITY - 1);
	cr_assert_eq(s.t->stats.dels, STRESS_STEPS);
	rte_rcu_qsbr_quiescent(s.t->rcu, 0);
	cgn_table_reclaim(s.t);
	cr_assert_eq(s.t->stats.freed, STRESS_STEPS, "every removed entry returned");
	cr_assert_eq(rte_mempool_avail_count(s.t->entries), s.t->entries->size - (STRESS_CAPACITY - 1));
	table_done(s.t);
}

/*
 * The table against a model: 200 000 random adds, removals, replaces and lookups (alone and
 * by the burst stages) over 160 keys homed in two buckets (126 slots within their reach), so
 * that keys overflow, probes rise and fall, adds are refused when the reach is full, and
 * external ports collide. After every step each key's lookup must
 * agree with the model, and every home's probe must be the distance of its furthest key.
 */
enum { MODEL_KEYS = 160, MODEL_PORTS = 600, MODEL_STEPS = 200000 };

static void
check_probes(const struct cgn_table *t, enum cgn_key_side side)
{
	const struct cgn_table_bucket *base = t->buckets[side];
	uint32_t nb = t->mask + 1;
	for (uint32_t h = 0; h < nb; h++) {
		uint32_t furthest = 0;
		for (uint32_t d = 1; d <= CGN_TABLE_MAX_PROBE; d++)
			for (unsigned s = 0; s < CGN_TABLE_SLOTS; s++) {
				uint64_t w = base[(h + d) & t->mask].slot[s];
				if (w != 0 && ((w >> CGN_SLOT_DIST_SHIFT) & 0x1f) == d)
					furthest = d;
			}
		cr_assert_eq(base[h].probe, furthest, "side %d home %u: probe %u, furthest key %u", side, h,
			     base[h].probe, furthest);
	}
}

Test(table, agrees_with_a_model_under_random_operations)
{
	struct cgn_table *t = table_new(1024); /* 256 buckets a side; entries to spare */
	struct cgn_key keys[MODEL_KEYS];
	cr_assert_eq(keys_homed_below(t, keys, MODEL_KEYS, 2), MODEL_KEYS);

	int32_t ext_of[MODEL_KEYS];   /* -1: absent; else its external port index */
	int32_t owner[MODEL_PORTS];   /* -1: free; else the key index holding the port */
	memset(ext_of, -1, sizeof(ext_of));
	memset(owner, -1, sizeof(owner));
	uint32_t present = 0, x = 99;
	uint64_t adds = 0, full = 0, clashes = 0;

	for (uint32_t step = 0; step < MODEL_STEPS; step++) {
		x = x * 1103515245u + 12345u;
		uint32_t k = (x >> 8) % MODEL_KEYS, op = (x >> 20) % 8; /* 6 add, 1 remove, 1 replace */
		x = x * 1103515245u + 12345u;
		uint32_t port = (x >> 8) % MODEL_PORTS;
		if (op < 6) { /* add */
			int rc = apply(t, CGN_MSG_ADD, &keys[k], (uint16_t)(20000 + port));
			if (ext_of[k] >= 0 || owner[port] >= 0) {
				cr_assert_eq(rc, -EEXIST, "step %u: add of a present key or port", step);
				clashes++;
			} else if (rc == 0) {
				ext_of[k] = (int32_t)port;
				owner[port] = (int32_t)k;
				present++;
				adds++;
			} else {
				/* Refused only when the 17 buckets from its home are full. */
				cr_assert_eq(rc, -ENOSPC, "step %u", step);
				cr_assert_eq(t->stats.add_no_entry, 0, "never for want of an entry here");
				full++;
			}
		} else if (op == 6) { /* remove */
			int rc = apply(t, CGN_MSG_DEL, &keys[k], 0);
			cr_assert_eq(rc, ext_of[k] >= 0 ? 0 : -ENOENT, "step %u: del", step);
			if (ext_of[k] >= 0) {
				owner[ext_of[k]] = -1;
				ext_of[k] = -1;
				present--;
			}
		} else if (ext_of[k] >= 0) { /* replace, with its own endpoint */
			struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
			cgn_mapping_set(&msg.m, &keys[k], htonl(0xcb007101u), (uint16_t)(20000 + ext_of[k]));
			msg.m.lifetime_s = step;
			cr_assert_eq(cgn_table_apply(t, &msg), 0, "step %u: replace", step);
			cr_assert_eq(cgn_table_lookup(t, &keys[k])->lifetime_s, step);
		}
		/* Every 64 steps: every key and port agrees, alone and in bursts; the probes hold. */
		if (step % 64 != 63)
			continue;
		struct cgn_mapping *maps[64];
		for (uint32_t base = 0; base < MODEL_KEYS; base += 64) {
			uint32_t n = MODEL_KEYS - base < 64 ? MODEL_KEYS - base : 64;
			lookup_burst(t, &keys[base], n, maps);
			for (uint32_t j = 0; j < n; j++) {
				uint32_t i = base + j;
				cr_assert_eq(maps[j], cgn_table_lookup(t, &keys[i]));
				if (ext_of[i] < 0) {
					cr_assert_null(maps[j], "step %u: key %u found, absent in the model", step, i);
					continue;
				}
				cr_assert_not_null(maps[j], "step %u: key %u lost", step, i);
				cr_assert_eq(maps[j]->ext_port, 20000 + ext_of[i]);
				struct cgn_key o = out_key((uint16_t)(20000 + ext_of[i]));
				cr_assert_eq(cgn_table_lookup(t, &o), maps[j], "step %u: key %u's outside key", step, i);
			}
		}
		for (uint32_t p = 0; p < MODEL_PORTS; p++) {
			struct cgn_key o = out_key((uint16_t)(20000 + p));
			cr_assert_eq(cgn_table_lookup(t, &o) != NULL, owner[p] >= 0, "step %u: port %u", step, p);
		}
		cr_assert_eq(cgn_table_count(t), present);
		check_probes(t, CGN_SIDE_INSIDE);
		check_probes(t, CGN_SIDE_OUTSIDE);
		rte_rcu_qsbr_quiescent(t->rcu, 0);
	}
	cr_log_info("%lu adds, %lu refused full, %lu clashes, %u present", (unsigned long)adds,
		    (unsigned long)full, (unsigned long)clashes, present);
	cr_assert_gt(full, 0, "the homes overflowed all the way");
	cr_assert_gt(clashes, 0, "keys and ports collided");
	table_done(t);
}
