/*
 * A pool change under the data plane (cgn_dataplane_repool): what the PCP server does on
 * SIGHUP (a new allocator, every subscriber made again and pinned to its address where it
 * survives) is done here by hand, then the data plane's half: implicit sessions on a kept
 * address keep their endpoint, the others go; held ports move; ARP follows the new pool.
 * The test thread is worker 0 (tests/lib/dp_env.c: pool 203.0.113.0/30, ports 1024-2047 in
 * blocks of 64, two blocks a subscriber, port_hold_s 120).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <rte_arp.h>

#include "dp_test.h"

TestSuite(repool, .init = setup);

/* The test's frame through the burst driver: sent or not; a copy of what was sent in out. */
static bool
run(uint16_t in_port, uint16_t len, uint8_t *out)
{
	uint16_t n;
	uint8_t *sent = dp_env_run(in_port, frame, len, NULL, &n);
	if (sent && out)
		memcpy(out, sent, n);
	return sent != NULL;
}

/* An outbound UDP session; @return its mapping. */
static struct cgn_mapping *
session(const char *subscriber, uint16_t sport)
{
	uint16_t len = build_udp(frame, subscriber, sport, "198.51.100.9", 53, "q", 1, 64, false);
	cr_assert(run(E->inside_port, len, NULL), "outbound from %s:%u", subscriber, sport);
	struct cgn_mapping *m = dp_env_mapping(subscriber, sport, 17);
	cr_assert_not_null(m);
	return m;
}

/* What the PCP server's repool does to the allocator (control/reload.c). The old one's
 * memory is handed back in *old_mem, to free at the end. */
static void
new_allocator(struct cgn_config *cfg, struct cgn_pb *old, void **old_mem)
{
	uint32_t n = cgn_config_pool_size(cfg), *addrs = calloc(n, 4), k = 0;
	for (unsigned i = 0; i < cfg->nat.n_pool; i++) {
		uint32_t base = ntohl(cgn_addr_v4(&cfg->nat.pool[i].addr));
		for (uint32_t j = 0; j < 1u << (128 - cfg->nat.pool[i].len); j++)
			addrs[k++] = htonl(base + j);
	}
	struct cgn_pb_params pp = E->pb.p;
	pp.addrs = addrs;
	pp.n_addrs = n;
	size_t size = cgn_pb_mem_size(&pp);
	void *mem = calloc(1, size);
	struct cgn_pb pb;
	cr_assert_eq(cgn_pb_init(&pb, &pp, mem, size), 0);
	free(addrs);
	*old = E->pb;
	for (uint32_t i = 0; i < old->n_subs; i++) {
		struct cgn_pb_sub *s = cgn_pb_sub(old, i);
		int32_t ni = cgn_pb_subscriber(&pb, &s->addr, true);
		cr_assert_geq(ni, 0);
		cgn_pb_pin(&pb, (uint32_t)ni, old->addrs[s->ext_index]);
	}
	E->pb = pb; /* dp->pb points here */
	*old_mem = E->pb_mem;
	E->pb_mem = mem;
}

/* An ARP request from the outside router for target: answered or not. */
static bool
arp_answered(const char *target)
{
	static const struct rte_ether_addr router = { { 2, 0, 0, 0, 2, 2 } };
	return run(E->outside_port, build_arp(frame, RTE_ARP_OP_REQUEST, &router, NULL, "198.51.100.9", target), NULL);
}

Test(repool, kept_addresses_keep_their_sessions_removed_ones_lose_them)
{
	/* Two subscribers on two pool addresses (paired pooling spreads them). */
	struct cgn_mapping *x = session("100.64.0.40", 5000), *y = session("100.64.0.41", 5000);
	uint32_t xa = x->ext_addr, ya = y->ext_addr;
	uint16_t xp = x->ext_port;
	cr_assert_neq(xa, ya, "the least-loaded address for each");
	session("100.64.0.40", 5001);
	/* One of x's sessions expires: its port is held for port_hold_s. */
	struct cgn_mapping *gone = session("100.64.0.40", 5002);
	gone->last_out_ms = 1; /* idle since long ago */
	for (int i = 0; i < 64; i++) {
		E->w->background_ms = 0;
		cgn_expire(E->w, E->w->now_ms);
	}
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
	cr_assert_null(dp_env_mapping("100.64.0.40", 5002, 17));
	cr_assert_eq(E->w->held_tail - E->w->held_head, 1);

	/* The new pool: x's address and 203.0.113.8/30; y's address is gone. */
	struct cgn_config cfg = E->cfg;
	char xs[16];
	inet_ntop(AF_INET, &xa, xs, sizeof(xs));
	strcat(xs, "/32");
	cr_assert_eq(cgn_prefix_parse(xs, &cfg.nat.pool[0]), 0);
	cr_assert_eq(cgn_prefix_parse("203.0.113.8/30", &cfg.nat.pool[1]), 0);
	cfg.nat.n_pool = 2;
	cfg.dataplane.have_icmp_source = false;
	struct cgn_pb old;
	void *old_mem;
	new_allocator(&cfg, &old, &old_mem);
	struct cgn_repool_stats st;
	cgn_dataplane_repool(E->dp, &old, &cfg, &st);
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);

	cr_assert_eq(st.kept, 2, "x's two sessions (%u)", st.kept);
	cr_assert_eq(st.removed, 1, "y's (%u)", st.removed);
	cr_assert_eq(st.holds_kept, 1);
	cr_assert_eq(st.holds_dropped, 0);
	x = dp_env_mapping("100.64.0.40", 5000, 17);
	cr_assert_not_null(x);
	cr_assert_eq(x->ext_addr, xa);
	cr_assert_eq(x->ext_port, xp, "the same external endpoint");
	cr_assert_null(dp_env_mapping("100.64.0.41", 5000, 17));

	/* x's session still translates both ways; its port is taken on the new allocator. */
	static uint8_t out[2048];
	*strchr(xs, '/') = '\0';
	uint16_t len = build_udp(frame, "198.51.100.9", 53, xs, xp, "a", 1, 64, false);
	cr_assert(run(E->outside_port, len, out), "inbound to a kept session");
	cr_assert_eq(memcmp(out + 14 + 16, &(uint32_t){ dp_ipv4("100.64.0.40") }, 4), 0);
	const struct cgn_pb_sub *xs_sub = cgn_pb_sub(&E->pb, x->subscriber);
	cr_assert_eq(E->pb.addrs[xs_sub->ext_index], xa, "x stays on its address");
	cr_assert_eq(__atomic_load_n(&((struct cgn_pb_sub *)xs_sub)->ports_used, __ATOMIC_SEQ_CST), 3,
		     "two sessions and the held port");

	/* y starts again on the new pool. */
	y = session("100.64.0.41", 5000);
	cr_assert_neq(y->ext_addr, ya);
	uint32_t yh = ntohl(y->ext_addr);
	cr_assert(y->ext_addr == xa || (yh >= 0xcb007108 && yh <= 0xcb00710b), "in the new pool");

	/* ARP follows the pool; ICMP errors come from its first address. */
	char yas[16];
	inet_ntop(AF_INET, &ya, yas, sizeof(yas));
	cr_assert(arp_answered("203.0.113.9"));
	cr_assert_not(arp_answered(yas), "a removed address is not ours any more");
	cr_assert_eq(E->dp->icmp_source, xa);
	free(old_mem);
}
