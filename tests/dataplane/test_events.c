/*
 * The NAT event rings (dataplane/cgn_events.h): none made and nothing done when logging is
 * off; a ring per reporting lcore when it is on; a full ring drops and counts (log_dropped);
 * the rate limiter; and the events the session step and the port-block hook put on the
 * calling lcore's ring. EAL from dp_env (no hugepages); the test thread is the main lcore.
 */
#include <errno.h>
#include <netinet/in.h>

#include "cgn_events.h"
#include "dp_test.h"

TestSuite(events, .init = setup);

/* The test data plane's configuration with a destination (the local syslog: nothing is
 * sent, the rings do not know sinks). */
static struct cgn_config
logging_cfg(uint32_t ring_size, bool sessions)
{
	struct cgn_config c = E->cfg;
	c.logging.syslog.transport = CGN_SYSLOG_LOCAL;
	c.logging.ring_size = ring_size;
	c.logging.sessions = sessions;
	return c;
}

static unsigned
drain(unsigned lcore, struct cgn_event *out, unsigned max)
{
	struct rte_ring *r = cgn_events_active->lcore[lcore].ring;
	if (lcore == rte_lcore_id())
		cgn_events_flush(); /* what this lcore gathered goes into its ring at the end of its loop */
	return rte_ring_sc_dequeue_burst_elem(r, out, sizeof(*out), max, NULL);
}

Test(events, logging_off_makes_nothing_and_costs_nothing)
{
	cr_assert_eq(cgn_events_init(&E->cfg), 0);
	cr_assert_null(cgn_events_active, "no destination: no rings (RFC 6888 REQ-12)");
	cr_assert_not(cgn_events_on());
	cr_assert_not(cgn_events_sessions());
	cr_assert_null(rte_ring_lookup("cgn_ev0"));
	struct cgn_event ev = { .mono_ms = 1, .nat_event = CGN_NATEV_PORT_BLOCK_ALLOC };
	for (int i = 0; i < 1000; i++) {
		cgn_event_emit(&ev);
		cgn_event_emit_limited(&ev);
	}
	cr_assert_eq(cgn_events_dropped(), 0);
	/* Traffic with logging off: sessions are made, nothing is collected anywhere. */
	uint16_t len = build_udp(frame, "100.64.0.40", 4000, "198.51.100.1", 53, "a", 1, 64, false);
	cr_assert_not_null(dp_env_run(E->inside_port, frame, len, NULL, NULL));
	cr_assert_null(cgn_events_active);
	cgn_events_fini(); /* harmless */
}

Test(events, a_full_ring_drops_and_counts)
{
	struct cgn_config c = logging_cfg(64, false);
	cr_assert_eq(cgn_events_init(&c), 0);
	cr_assert_not_null(cgn_events_active);
	cr_assert_eq(cgn_events_init(&c), -EBUSY);
	unsigned id;
	unsigned n_rings = 0;
	RTE_LCORE_FOREACH(id) {
		cr_assert_not_null(cgn_events_active->lcore[id].ring, "lcore %u has a ring", id);
		n_rings++;
	}
	cr_assert_eq(n_rings, 2, "the main lcore and the worker (-l 0-1)");
	cr_assert_null(cgn_events_active->lcore[2].ring, "no ring for an lcore EAL does not run");
	cr_assert_eq(rte_lcore_id(), rte_get_main_lcore());

	struct cgn_event ev = { .nat_event = CGN_NATEV_PORT_BLOCK_ALLOC, .port_first = 1024, .port_last = 1087 };
	for (uint32_t i = 0; i < 64 + 10; i++) {
		ev.mono_ms = 1000 + i;
		cgn_event_emit(&ev);
	}
	cr_assert_eq(cgn_events_active->lcore[rte_lcore_id()].dropped, 0, "the first %u batches fit",
		     64 / CGN_EVENT_BATCH);
	cr_assert_eq(cgn_events_active->lcore[rte_lcore_id()].n_batch, 10, "10 gathered, not yet in the ring");
	cgn_events_flush(); /* the end of the lcore's loop */
	cr_assert_eq(cgn_events_active->lcore[rte_lcore_id()].dropped, 10, "ring_size events fit, the rest count");
	cr_assert_eq(cgn_events_dropped(), 10);
	struct cgn_event got[128];
	unsigned n = drain(rte_lcore_id(), got, 128);
	cr_assert_eq(n, 64);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(got[i].mono_ms, 1000 + i, "in order, the first ones kept");
	cgn_event_emit(&ev);
	cr_assert_eq(drain(rte_lcore_id(), got, 128), 1, "room again once the logger drained");
	cr_assert_eq(cgn_events_dropped(), 10);

	cgn_events_fini();
	cr_assert_null(cgn_events_active);
	cr_assert_eq(cgn_events_dropped(), 0, "gone with the rings");
}

Test(events, exhaustion_and_quota_events_are_rate_limited_per_kind)
{
	struct cgn_config c = logging_cfg(1024, false);
	cr_assert_eq(cgn_events_init(&c), 0);
	struct cgn_event q = { .nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_PER_USER, .value = 128 };
	struct cgn_event s = { .nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_SESSIONS };
	struct cgn_event x = { .nat_event = CGN_NATEV_PORTS_EXHAUSTED, .proto = IPPROTO_UDP, .ext_addr = 1 };
	for (uint64_t t = 5000; t < 7500; t += 10) { /* 2.5 s of refusals, every 10 ms */
		q.mono_ms = s.mono_ms = x.mono_ms = t;
		cgn_event_emit_limited(&q);
		cgn_event_emit_limited(&s);
		cgn_event_emit_limited(&x);
	}
	struct cgn_event got[64];
	unsigned n = drain(rte_lcore_id(), got, 64);
	cr_assert_eq(n, 9, "three kinds, each at 5.0, 6.0 and 7.0 s: %u", n);
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(got[i].mono_ms, 5000 + (i / 3) * 1000);
	cr_assert_eq(cgn_events_dropped(), 0, "held back, not lost to a full ring");
	cr_assert_eq(cgn_events_limited(), 750 - 9);
	/* Others are never limited. */
	struct cgn_event b = { .mono_ms = 8000, .nat_event = CGN_NATEV_PORT_BLOCK_ALLOC, .port_first = 1, .port_last = 2 };
	cgn_event_emit_limited(&b);
	cgn_event_emit_limited(&b);
	cr_assert_eq(drain(rte_lcore_id(), got, 64), 2);
	cgn_events_fini();
}

/* A first packet of a subscriber: its binding, its block, its session, on this lcore's
 * ring, in that order; the expiry of the session. */
Test(events, session_and_block_events_of_real_traffic)
{
	struct cgn_config c = logging_cfg(1024, true);
	cr_assert_eq(cgn_events_init(&c), 0);
	cgn_pb_set_event_hook(&E->pb, cgn_events_pb_hook, NULL);
	uint16_t len = build_udp(frame, "100.64.0.41", 4001, "198.51.100.1", 53, "a", 1, 64, false);
	cr_assert_not_null(dp_env_run(E->inside_port, frame, len, NULL, NULL));
	struct cgn_mapping *m = dp_env_mapping("100.64.0.41", 4001, IPPROTO_UDP);
	cr_assert_not_null(m);
	struct cgn_event got[16];
	unsigned n = drain(rte_lcore_id(), got, 16);
	cr_assert_eq(n, 3, "binding, block, session: %u", n);
	struct cgn_addr in = cgn_addr_from_v4(dp_ipv4("100.64.0.41"));
	cr_assert_eq(got[0].nat_event, CGN_NATEV_BINDING_CREATE);
	cr_assert(cgn_addr_eq(&got[0].internal, &in));
	cr_assert_eq(got[0].ext_addr, m->ext_addr);
	cr_assert_gt(got[0].mono_ms, 0, "the hook stamps the time");
	cr_assert_eq(got[1].nat_event, CGN_NATEV_PORT_BLOCK_ALLOC);
	cr_assert_eq(got[1].ext_addr, m->ext_addr);
	cr_assert_leq(got[1].port_first, m->ext_port);
	cr_assert_geq(got[1].port_last, m->ext_port);
	cr_assert_eq(got[1].port_last - got[1].port_first + 1, 64, "nat.block_size");
	cr_assert_eq(got[2].nat_event, CGN_NATEV_NAT44_SESSION_CREATE);
	cr_assert(cgn_addr_eq(&got[2].internal, &in));
	cr_assert_eq(got[2].int_port, 4001);
	cr_assert_eq(got[2].ext_addr, m->ext_addr);
	cr_assert_eq(got[2].ext_port, m->ext_port);
	cr_assert_eq(got[2].proto, IPPROTO_UDP);
	cr_assert_eq(got[2].mono_ms, E->w->now_ms);
	for (unsigned i = 0; i < n; i++)
		cr_assert(cgn_event_check(&got[i]));

	/* A second session of the subscriber: its block is held, only the session. */
	len = build_udp(frame, "100.64.0.41", 4002, "198.51.100.1", 53, "b", 1, 64, false);
	cr_assert_not_null(dp_env_run(E->inside_port, frame, len, NULL, NULL));
	cr_assert_eq(drain(rte_lcore_id(), got, 16), 1);
	cr_assert_eq(got[0].nat_event, CGN_NATEV_NAT44_SESSION_CREATE);
	cr_assert_eq(got[0].int_port, 4002);

	/* Expiry (past nat.udp_timeout_s): a delete per session. */
	uint64_t later = E->w->now_ms + (uint64_t)E->cfg.nat.udp_timeout_s * 1000 + 1000;
	for (unsigned k = 0; k < 64; k++)
		cgn_expire(E->w, later);
	n = drain(rte_lcore_id(), got, 16);
	cr_assert_eq(n, 2, "both sessions expired: %u", n);
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(got[i].nat_event, CGN_NATEV_NAT44_SESSION_DELETE);
		cr_assert(cgn_addr_eq(&got[i].internal, &in));
		cr_assert_eq(got[i].mono_ms, later);
	}
	cgn_pb_set_event_hook(&E->pb, NULL, NULL);
	cgn_events_fini();
}

/* Refusals: the subscriber's port quota (nat.max_blocks 2 of 64 ports). */
Test(events, quota_refusal_is_reported_once_a_second)
{
	struct cgn_config c = logging_cfg(1024, false);
	cr_assert_eq(cgn_events_init(&c), 0);
	struct cgn_event got[64];
	unsigned refused = 0;
	for (uint16_t port = 1; port <= 140; port++) {
		uint16_t len = build_udp(frame, "100.64.0.42", port, "198.51.100.1", 53, "q", 1, 64, false);
		uint16_t out_port = 0;
		dp_env_run(E->inside_port, frame, len, &out_port, NULL);
		refused += out_port == E->inside_port; /* ICMP 3/13 back to the inside */
	}
	cr_assert_geq(refused, 10, "the quota refused some (%u)", refused);
	unsigned n = drain(rte_lcore_id(), got, 64);
	cr_assert_eq(n, 1, "one QUOTA_EXCEEDED for all refusals in the same second: %u", n);
	cr_assert_eq(got[0].nat_event, CGN_NATEV_QUOTA_EXCEEDED);
	cr_assert_eq(got[0].sub_event, CGN_QUOTA_PER_USER);
	cr_assert_eq(got[0].value, 128, "max_blocks * block_size");
	struct cgn_addr in = cgn_addr_from_v4(dp_ipv4("100.64.0.42"));
	cr_assert(cgn_addr_eq(&got[0].internal, &in));
	cr_assert(cgn_event_check(&got[0]));
	cgn_events_fini();
}
