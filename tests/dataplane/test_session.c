/*
 * Sessions through the burst driver (suite 'dataplane'): endpoint-independent mapping
 * (RFC 4787 REQ-1), unsolicited inbound dropped, the port quota answered with ICMP 3/13,
 * FILTER peers, ports still in the table never shared, REPLACE keeping the traffic state,
 * hairpinning (RFC 4787 REQ-9). Shared setup and helpers: steps_fixture.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "steps_fixture.h"

TestSuite(session, .init = setup);

Test(session, endpoint_independent_mapping)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.6", 7777, "198.51.100.1", 53, "a", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	uint16_t p1 = port_at(o, 0);
	uint64_t created = E->w->pkt.sessions_created;
	len = build_udp(frame, "100.64.0.6", 7777, "198.51.100.2", 123, "b", 1, 64, false);
	o = run(E->inside_port, len, &op, &ol);
	cr_assert_eq(port_at(o, 0), p1, "RFC 4787 REQ-1");
	cr_assert_eq(E->w->pkt.sessions_created, created, "no second mapping");
}

Test(session, unsolicited_inbound_is_dropped)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "198.51.100.1", 53, "203.0.113.1", 1999, "u", 1, 64, false);
	uint64_t before = drops(CGN_DROP_NO_MAPPING);
	cr_assert_null(run(E->outside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_NO_MAPPING), before + 1);
}

Test(session, quota_is_answered_with_icmp_3_13)
{
	uint16_t op, ol;
	/* 2 blocks of 64 ports per protocol: 128 sessions, then NO_PORTS */
	for (uint16_t i = 0; i < 128; i++) {
		uint16_t len = build_udp(frame, "100.64.0.7", (uint16_t)(10000 + i), "198.51.100.1", 53, "q", 1, 64, false);
		cr_assert_not_null(run(E->inside_port, len, &op, &ol), "session %u", i);
		cr_assert_eq(op, E->outside_port);
	}
	uint16_t len = build_udp(frame, "100.64.0.7", 20000, "198.51.100.1", 53, "q", 1, 64, false);
	uint64_t before = drops(CGN_DROP_NO_PORTS);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(op, E->inside_port);
	cr_assert(o[34] == 3 && o[35] == 13, "communication administratively prohibited");
	cr_assert_eq(drops(CGN_DROP_NO_PORTS), before + 1);
}

Test(session, filtered_mapping_admits_only_its_peers)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.8", 8000, "198.51.100.1", 53, "f", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	char ext_s[16];
	inet_ntop(AF_INET, o + 14 + 12, ext_s, sizeof(ext_s));
	uint16_t eport = port_at(o, 0);
	/* Republish it with one FILTER: 198.51.100.20/32 any port. */
	struct cgn_mapping *m = dp_env_mapping("100.64.0.8", 8000, 17);
	cr_assert_not_null(m);
	struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
	msg.m = *m;
	msg.m.n_filters = 1;
	msg.m.flags |= CGN_MAP_FILTERED;
	cgn_addr_parse("198.51.100.20", &msg.m.filters[0].addr);
	msg.m.filters[0].prefix_len = 128;
	cr_assert_eq(cgn_table_apply(E->dp->table, &msg), 0);

	len = build_udp(frame, "198.51.100.20", 1, ext_s, eport, "ok", 2, 64, false);
	cr_assert_not_null(run(E->outside_port, len, &op, &ol), "the filter's peer passes");
	len = build_udp(frame, "198.51.100.21", 1, ext_s, eport, "no", 2, 64, false);
	uint64_t before = drops(CGN_DROP_FILTERED);
	cr_assert_null(run(E->outside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_FILTERED), before + 1);
}

/* Applies op (ADD or DEL) for static mappings of 100.127.255.1 on every port of ext but eport. */
static void
map_other_ports(enum cgn_msg_op op, uint32_t ext, uint16_t eport)
{
	struct cgn_ring_msg msg = { .op = op };
	for (uint16_t port = 1024; port <= 2047; port++) {
		if (port == eport)
			continue;
		struct cgn_key in;
		cgn_key_set_v4(&in, addr("100.127.255.1"), port, IPPROTO_UDP, CGN_SIDE_INSIDE);
		memset(&msg.m, 0, sizeof(msg.m));
		cgn_mapping_set(&msg.m, &in, ext, port);
		msg.m.flags = CGN_MAP_STATIC;
		cr_assert_eq(cgn_table_apply(E->dp->table, &msg), 0, "op %d, port %u", op, port);
	}
}

/* An external port the allocator offers while the table still maps it (its removal on the
 * way) is never shared: another is tried, at most four, and the ports tried go back. */
Test(session, a_port_still_in_the_table_is_not_shared)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.30", 3000, "198.51.100.1", 53, "a", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	uint16_t eport = port_at(o, 0);

	/* Every other port of that address mapped, as if by mappings whose removal is queued. */
	map_other_ports(CGN_MSG_ADD, ext, eport);
	uint64_t dropped = drops(CGN_DROP_PORTS_STILL_MAPPED), made = E->w->pkt.sessions_created;
	len = build_udp(frame, "100.64.0.30", 3001, "198.51.100.1", 53, "b", 1, 64, false);
	o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(o[14 + 20], 3, "ICMP destination unreachable");
	cr_assert_eq(o[14 + 20 + 1], 13, "administratively prohibited");
	cr_assert_eq(drops(CGN_DROP_PORTS_STILL_MAPPED), dropped + 1);
	cr_assert_eq(E->w->pkt.sessions_created, made);
	cr_assert_null(dp_env_mapping("100.64.0.30", 3001, 17));

	/* Once they go, the subscriber's whole quota is there: no port was kept. */
	map_other_ports(CGN_MSG_DEL, ext, eport);
	unsigned quota = E->cfg.nat.block_size * E->cfg.nat.max_blocks;
	for (unsigned i = 1; i < quota; i++) {
		len = build_udp(frame, "100.64.0.30", (uint16_t)(3000 + i), "198.51.100.1", 53, "c", 1, 64, false);
		o = run(E->inside_port, len, &op, &ol);
		cr_assert(o != NULL && op == E->outside_port, "session %u of %u", i + 1, quota);
	}
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
}

Test(session, replace_keeps_the_traffic_state_and_refuses_another_endpoint)
{
	uint16_t op, ol;
	uint16_t len = build_tcp(frame, "100.64.0.9", 9000, "198.51.100.1", 80, 0x02);
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	len = build_tcp(frame, "100.64.0.9", 9000, "198.51.100.1", 80, 0x11); /* FIN, ACK */
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	struct cgn_mapping *m = dp_env_mapping("100.64.0.9", 9000, 6);
	cr_assert_not_null(m);
	cr_assert_eq(m->tcp_state, CGN_TCP_CLOSING);

	/* A PCP MAP adopting it (the control thread's copy knows nothing of the traffic). */
	struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
	msg.m = *m;
	msg.m.tcp_state = CGN_TCP_NONE;
	msg.m.closed_ms = 0;
	msg.m.last_out_ms = 0;
	cr_assert_eq(cgn_table_apply(E->dp->table, &msg), 0);
	struct cgn_mapping *n = dp_env_mapping("100.64.0.9", 9000, 6);
	cr_assert_neq(n, m, "a new entry was published");
	cr_assert_eq(n->tcp_state, CGN_TCP_CLOSING, "the TCP state stays");
	cr_assert_eq(n->closed_ms, m->closed_ms);
	cr_assert_eq(n->last_out_ms, m->last_out_ms);

	/* The same for an external endpoint that is not the mapping's: refused, nothing changes. */
	uint64_t before = E->dp->table->stats.replace_mismatch;
	msg.m = *n;
	msg.m.ext_port = (uint16_t)(n->ext_port + 1);
	cr_assert_eq(cgn_table_apply(E->dp->table, &msg), -EINVAL);
	cr_assert_eq(E->dp->table->stats.replace_mismatch, before + 1);
	cr_assert_eq(dp_env_mapping("100.64.0.9", 9000, 6), n);
	struct cgn_key out = cgn_mapping_out_key(&msg.m);
	cr_assert_null(cgn_table_lookup(E->dp->table, &out), "no outside key for the other endpoint");
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
}

Test(session, hairpin_goes_back_inside_from_the_external_endpoint)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.9", 9000, "198.51.100.1", 53, "h", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	char ext9[16];
	inet_ntop(AF_INET, o + 14 + 12, ext9, sizeof(ext9));
	uint16_t p9 = port_at(o, 0);
	/* 100.64.0.10 sends to 100.64.0.9's external endpoint */
	len = build_udp(frame, "100.64.0.10", 9001, ext9, p9, "hi", 2, 64, false);
	uint8_t *h = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(h);
	cr_assert_eq(op, E->inside_port, "RFC 4787 REQ-9: back to the inside");
	uint32_t dst, src;
	memcpy(&dst, h + 14 + 16, 4);
	memcpy(&src, h + 14 + 12, 4);
	cr_assert_eq(dst, addr("100.64.0.9"));
	cr_assert_eq(port_at(h, 2), 9000);
	cr_assert_neq(src, addr("100.64.0.10"), "the source is the sender's external address");
	cr_assert(frame_cksums_ok(h, ol));
}
