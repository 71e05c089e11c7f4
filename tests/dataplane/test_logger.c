/*
 * The logger thread (control/logger.h) in-process, with a sink of the test that records what
 * it is given: the events of real port-block allocations arrive in order with wall-clock
 * times; invalid events are counted (log_invalid), never passed on; the pool threshold is
 * reported once on crossing upward and re-armed 5 points below; stop drains what is left.
 * EAL from dp_env; the test thread is the main lcore (its ring is the one allocations use).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgn_events.h"
#include "dp_test.h"
#include "logger.h"

TestSuite(logger, .init = setup);

#define MAX_REC 512
struct rec_sink {
	struct cgn_log_sink s;
	struct cgn_event ev[MAX_REC];
	uint64_t wall[MAX_REC];
	unsigned n;     /* written by the logger thread, read by the test (atomics) */
	unsigned flushes;
	bool closed;
};

static void
rec_event(struct cgn_log_sink *s, const struct cgn_event *ev, uint64_t wall_ms)
{
	struct rec_sink *r = (struct rec_sink *)s;
	unsigned n = __atomic_load_n(&r->n, __ATOMIC_RELAXED);
	if (n < MAX_REC) {
		r->ev[n] = *ev;
		r->wall[n] = wall_ms;
		__atomic_store_n(&r->n, n + 1, __ATOMIC_RELEASE);
	}
	s->stats.events++;
}

static void
rec_flush(struct cgn_log_sink *s, uint64_t now_ms)
{
	(void)now_ms;
	__atomic_fetch_add(&((struct rec_sink *)s)->flushes, 1, __ATOMIC_RELEASE);
}

static void
rec_close(struct cgn_log_sink *s)
{
	((struct rec_sink *)s)->closed = true;
}

static struct rec_sink sink = { .s = { .name = "test", .event = rec_event, .flush = rec_flush, .close = rec_close } };

static uint64_t
wall_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Waits (at most 3 s) for the sink to hold n events. */
static unsigned
wait_for(unsigned n)
{
	for (int i = 0; i < 3000 && __atomic_load_n(&sink.n, __ATOMIC_ACQUIRE) < n; i++)
		usleep(1000);
	return __atomic_load_n(&sink.n, __ATOMIC_ACQUIRE);
}

struct counters {
	uint64_t events, dropped, invalid, test_events;
};

static void
take_counter(void *ctx, const char *name, uint64_t v)
{
	struct counters *c = ctx;
	if (strcmp(name, "log_events") == 0)
		c->events = v;
	else if (strcmp(name, "log_dropped") == 0)
		c->dropped = v;
	else if (strcmp(name, "log_invalid") == 0)
		c->invalid = v;
	else if (strcmp(name, "test_events") == 0)
		c->test_events = v;
}

static struct cgn_config
logging_cfg(void)
{
	struct cgn_config c = E->cfg;
	c.logging.syslog.transport = CGN_SYSLOG_LOCAL;
	c.logging.ring_size = 1024;
	return c;
}

Test(logger, allocations_arrive_in_order_with_wall_clock_times_and_invalid_ones_are_counted)
{
	struct cgn_config c = logging_cfg();
	cr_assert_eq(cgn_events_init(&c), 0);
	cgn_pb_set_event_hook(&E->pb, cgn_events_pb_hook, NULL);
	struct cgn_logger_params p = { .sinks = { &sink.s }, .n_sinks = 1 };
	struct cgn_logger *lg = cgn_logger_start(&p);
	cr_assert_not_null(lg);

	uint64_t before = wall_now_ms();
	uint64_t rng = 3;
	uint32_t ext[4];
	uint16_t port[4];
	for (unsigned i = 0; i < 4; i++) { /* four subscribers, a block each */
		struct cgn_addr a = cgn_addr_from_v4(htonl(0x64400a00u + i)); /* 100.64.10.i */
		int32_t s = cgn_pb_subscriber(&E->pb, &a, true);
		cr_assert_geq(s, 0);
		cr_assert_eq(cgn_pb_alloc(&E->pb, (uint32_t)s, IPPROTO_UDP, 0, 0, &rng, &ext[i], &port[i]), 0);
	}
	/* Two invalid records on the same ring: a natEvent of no table, a range upside down. */
	struct cgn_event bad = { .mono_ms = 1, .nat_event = 99 };
	cgn_event_emit(&bad);
	bad = (struct cgn_event){ .mono_ms = 1, .nat_event = CGN_NATEV_PORT_BLOCK_ALLOC, .port_first = 2000,
				  .port_last = 1999 };
	cgn_event_emit(&bad);
	cgn_events_flush(); /* the end of this lcore's loop: its batch into its ring */
	cr_assert_eq(wait_for(8), 8, "binding and block of each subscriber");
	uint64_t after = wall_now_ms();
	for (unsigned i = 0; i < 8; i++) {
		const struct cgn_event *ev = &sink.ev[i];
		struct cgn_addr a = cgn_addr_from_v4(htonl(0x64400a00u + i / 2));
		cr_assert_eq(ev->nat_event, i % 2 ? CGN_NATEV_PORT_BLOCK_ALLOC : CGN_NATEV_BINDING_CREATE,
			     "event %u in order", i);
		cr_assert(cgn_addr_eq(&ev->internal, &a), "event %u: subscriber %u", i, i / 2);
		cr_assert_eq(ev->ext_addr, ext[i / 2]);
		if (i % 2)
			cr_assert(ev->port_first <= port[i / 2] && port[i / 2] <= ev->port_last);
		cr_assert_eq(ev->lcore, rte_lcore_id(), "the ring it came by");
		cr_assert(sink.wall[i] + 5 >= before && sink.wall[i] <= after + 5,
			  "event %u: wall clock %lu within [%lu, %lu]", i, (unsigned long)sink.wall[i],
			  (unsigned long)before, (unsigned long)after);
		if (i > 0)
			cr_assert_geq(sink.wall[i], sink.wall[i - 1]);
	}
	/* The invalid ones follow on the ring: counted, never given to the sink. */
	struct counters k = { 0 };
	for (int i = 0; i < 1000 && k.invalid < 2; i++) {
		usleep(1000);
		cgn_logger_foreach_counter(take_counter, &k);
	}
	cr_assert_eq(k.invalid, 2);
	cr_assert_eq(k.events, 8);
	cr_assert_eq(k.dropped, 0);
	cr_assert_eq(k.test_events, 8, "the sink's own counters as test_<counter>");
	cr_assert_eq(__atomic_load_n(&sink.n, __ATOMIC_ACQUIRE), 8);
	usleep(150 * 1000);
	cr_assert_geq(__atomic_load_n(&sink.flushes, __ATOMIC_ACQUIRE), 2, "flushed each round and every 100 ms");

	/* Stop drains what the lcores reported last. */
	struct cgn_event last = { .mono_ms = 5, .nat_event = CGN_NATEV_NAT44_SESSION_CREATE, .proto = IPPROTO_UDP };
	cgn_event_emit(&last);
	cgn_logger_stop(lg);
	cr_assert_geq(__atomic_load_n(&sink.n, __ATOMIC_ACQUIRE), 9);
	cr_assert_eq(sink.ev[sink.n - 1].nat_event, CGN_NATEV_NAT44_SESSION_CREATE);
	cr_assert_not(sink.closed, "the caller closes the sinks");
	cgn_logger_close_sinks(&p);
	cr_assert(sink.closed);
	cgn_pb_set_event_hook(&E->pb, NULL, NULL);
	cgn_events_fini();
}

/* The pool as the test sets it. */
static uint64_t pool_used, pool_total = 100;

static bool
test_pool(void *ctx, uint64_t *used, uint64_t *total)
{
	(void)ctx;
	*used = __atomic_load_n(&pool_used, __ATOMIC_ACQUIRE);
	*total = pool_total;
	return true;
}

static unsigned
count_kind(enum cgn_nat_event what)
{
	unsigned n = 0, all = __atomic_load_n(&sink.n, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < all; i++)
		n += sink.ev[i].nat_event == what;
	return n;
}

Test(logger, threshold_once_on_crossing_and_rearmed_five_points_below)
{
	struct cgn_config c = logging_cfg();
	cr_assert_eq(cgn_events_init(&c), 0);
	struct cgn_logger_params p = { .sinks = { &sink.s }, .n_sinks = 1, .threshold_pct = 80, .pool = test_pool };
	__atomic_store_n(&pool_used, 85, __ATOMIC_RELEASE);
	struct cgn_logger *lg = cgn_logger_start(&p);
	cr_assert_not_null(lg);
	cr_assert_eq(wait_for(1), 1, "85 %% of the pool in use, threshold 80 %%");
	cr_assert_eq(sink.ev[0].nat_event, CGN_NATEV_THRESHOLD_REACHED);
	cr_assert_eq(sink.ev[0].sub_event, CGN_THRESHOLD_PORTS_HIGH);
	cr_assert_eq(sink.ev[0].value, 80);
	__atomic_store_n(&pool_used, 78, __ATOMIC_RELEASE); /* below, but not 5 points */
	usleep(1100 * 1000);
	__atomic_store_n(&pool_used, 90, __ATOMIC_RELEASE);
	usleep(1100 * 1000);
	cr_assert_eq(count_kind(CGN_NATEV_THRESHOLD_REACHED), 1, "not re-armed above 75 %%");
	__atomic_store_n(&pool_used, 75, __ATOMIC_RELEASE); /* re-armed */
	usleep(1100 * 1000);
	__atomic_store_n(&pool_used, 100, __ATOMIC_RELEASE); /* again, and every block held */
	cr_assert_eq(wait_for(3), 3);
	cr_assert_eq(count_kind(CGN_NATEV_THRESHOLD_REACHED), 2);
	cr_assert_eq(count_kind(CGN_NATEV_ADDRESSES_EXHAUSTED), 1);
	/* Held off during a pool change: no check then. */
	cgn_logger_pool_hold(lg);
	__atomic_store_n(&pool_used, 0, __ATOMIC_RELEASE);
	usleep(1100 * 1000);
	__atomic_store_n(&pool_used, 100, __ATOMIC_RELEASE);
	usleep(1100 * 1000);
	cgn_logger_pool_release(lg);
	cgn_logger_stop(lg);
	cr_assert_eq(count_kind(CGN_NATEV_ADDRESSES_EXHAUSTED), 1, "the dip was never seen");
	cgn_events_fini();
}
