/*
 * Expiry and port hold-down (suite 'dataplane'): idle UDP mappings expire after
 * nat.udp_timeout_s (RFC 4787 REQ-5) and their port is held before it is free again
 * (RFC 6888 REQ-8), outbound traffic refreshes a mapping (REQ-6), established TCP outlives
 * transitory (RFC 5382 REQ-5). Shared setup and helpers: steps_fixture.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "steps_fixture.h"

TestSuite(expire, .init = setup);

/* Runs the sweep over the whole (small) table. */
static void
sweep(void)
{
	for (int i = 0; i < 64; i++) {
		E->w->background_ms = 0;
		cgn_expire(E->w, E->w->now_ms);
	}
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
}

Test(expire, idle_udp_mapping_expires_and_its_port_is_held_then_released)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.20", 5000, "198.51.100.1", 53, "e", 1, 64, false);
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	struct cgn_mapping *m = dp_env_mapping("100.64.0.20", 5000, 17);
	cr_assert_not_null(m);
	uint16_t ext_port = m->ext_port;
	uint32_t sub = m->subscriber;
	struct cgn_pb_sub *s = cgn_pb_sub(&E->pb, sub);
	uint32_t used = __atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST);

	E->w->now_ms += 299 * 1000; /* RFC 4787 REQ-5: nat.udp_timeout_s = 300 by default */
	sweep();
	cr_assert_not_null(dp_env_mapping("100.64.0.20", 5000, 17), "still within its timeout");
	E->w->now_ms += 2 * 1000;
	uint64_t expired = E->w->pkt.sessions_expired;
	sweep();
	cr_assert_null(dp_env_mapping("100.64.0.20", 5000, 17), "idle past 300 s: gone");
	cr_assert_eq(E->w->pkt.sessions_expired, expired + 1);
	cr_assert_eq(__atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST), used,
		     "RFC 6888 REQ-8: the port is held, not free");

	E->w->now_ms += 121 * 1000;
	cgn_hold_release(E->w, E->w->now_ms);
	cr_assert_eq(__atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST), used - 1, "released after the hold time");
	(void)ext_port;
}

Test(expire, outbound_traffic_keeps_a_mapping)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.21", 5000, "198.51.100.1", 53, "k", 1, 64, false);
	for (int i = 0; i < 5; i++) {
		cr_assert_not_null(run(E->inside_port, len, &op, &ol));
		E->w->now_ms += 200 * 1000; /* each packet well within 300 s of the one before */
		sweep();
		cr_assert_not_null(dp_env_mapping("100.64.0.21", 5000, 17), "refreshed by outbound traffic (REQ-6)");
		len = build_udp(frame, "100.64.0.21", 5000, "198.51.100.1", 53, "k", 1, 64, false);
	}
}

Test(expire, tcp_established_lives_longer_than_transitory)
{
	uint16_t op, ol;
	/* a SYN only: transitory, 240 s */
	uint16_t len = build_tcp(frame, "100.64.0.22", 6000, "198.51.100.1", 80, 0x02);
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(dp_env_mapping("100.64.0.22", 6000, 6)->tcp_state, CGN_TCP_TRANSITORY);
	/* another connection that completes: SYN out, SYN/ACK in: established, 7440 s */
	len = build_tcp(frame, "100.64.0.22", 6001, "198.51.100.1", 80, 0x02);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	char ext_s[16];
	inet_ntop(AF_INET, o + 14 + 12, ext_s, sizeof(ext_s));
	len = build_tcp(frame, "198.51.100.1", 80, ext_s, port_at(o, 0), 0x12);
	cr_assert_not_null(run(E->outside_port, len, &op, &ol));
	cr_assert_eq(dp_env_mapping("100.64.0.22", 6001, 6)->tcp_state, CGN_TCP_ESTABLISHED);

	E->w->now_ms += 241 * 1000;
	sweep();
	cr_assert_null(dp_env_mapping("100.64.0.22", 6000, 6), "transitory: gone after 240 s");
	cr_assert_not_null(dp_env_mapping("100.64.0.22", 6001, 6), "established: kept (RFC 5382 REQ-5)");
}
