/*
 * The logger thread (see logger.h): rings -> check -> wall-clock time -> sinks, the flush
 * cadence, and the once-a-second pool threshold. Owns the logger's counters; the sinks own
 * theirs (log_sink.h).
 */
#include "logger.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "cgn_clock.h"
#include "cgn_events.h"
#include "cgn_log.h"

struct cgn_logger {
	struct cgn_logger_params p;
	pthread_t tid;
	/* Set by cgn_logger_stop() (main lcore), read by the logger thread. Shared. */
	bool stop;
	pthread_mutex_t pool_lock; /* held by the main lcore through a pool change */
	uint64_t last_flush_ms, last_check_ms;
	bool threshold_armed, exhaustion_armed;
};

/* The counters, shared: written by the logger thread (relaxed), read by any thread. They
 * outlive a logger (zero until one runs). */
static struct {
#define X(name, doc) uint64_t name;
	CGN_LOGGER_COUNTERS(X)
#undef X
} stats;

/* The running logger, for cgn_logger_foreach_counter(). Shared: set and cleared by the main
 * lcore (start, stop), read by telemetry. */
static struct cgn_logger *running;

static void
count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC in ms, sampled now: an event's mono_ms + this is its
 * wall-clock time (a clock step after the event moves it; events are seconds old at most). */
static int64_t
wall_offset_ms(void)
{
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	uint64_t mono = cgn_clock_ms();
	return (int64_t)((uint64_t)rt.tv_sec * 1000u + (uint64_t)rt.tv_nsec / 1000000u) - (int64_t)mono;
}

/* One event, untrusted: checked, counted, handed to every sink. */
static void
deliver(struct cgn_logger *lg, struct cgn_event *ev, int64_t offset)
{
	if (!cgn_event_check(ev)) {
		count(&stats.invalid, 1);
		return;
	}
	uint64_t wall_ms = (uint64_t)((int64_t)ev->mono_ms + offset);
	count(&stats.events, 1);
	for (unsigned i = 0; i < lg->p.n_sinks; i++) {
		struct cgn_log_sink *s = lg->p.sinks[i];
		s->event(s, ev, wall_ms);
	}
}

/* Drains every ring, at most max_bursts bursts each (0: until empty). @return events read. */
static uint64_t
drain(struct cgn_logger *lg, unsigned max_bursts)
{
	struct cgn_events *e = cgn_events_active;
	if (e == NULL)
		return 0;
	struct cgn_event buf[CGN_LOGGER_BURST];
	int64_t offset = wall_offset_ms();
	uint64_t total = 0;
	for (unsigned id = 0; id < RTE_MAX_LCORE; id++) {
		struct rte_ring *r = e->lcore[id].ring;
		if (r == NULL)
			continue;
		for (unsigned b = 0; max_bursts == 0 || b < max_bursts; b++) {
			unsigned n = rte_ring_sc_dequeue_burst_elem(r, buf, sizeof(buf[0]), CGN_LOGGER_BURST, NULL);
			for (unsigned i = 0; i < n; i++) {
				buf[i].lcore = (uint8_t)id; /* the ring says who, not the record */
				deliver(lg, &buf[i], offset);
			}
			total += n;
			if (n < CGN_LOGGER_BURST)
				break;
		}
	}
	return total;
}

static void
flush(struct cgn_logger *lg, uint64_t now)
{
	for (unsigned i = 0; i < lg->p.n_sinks; i++)
		lg->p.sinks[i]->flush(lg->p.sinks[i], now);
	lg->last_flush_ms = now;
}

/* An event the logger itself reports (threshold, exhaustion): through the same check. */
static void
report(struct cgn_logger *lg, enum cgn_nat_event what, uint32_t sub_event, uint32_t value, uint64_t now)
{
	struct cgn_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.mono_ms = now;
	ev.nat_event = (uint8_t)what;
	ev.sub_event = sub_event;
	ev.value = value;
	ev.lcore = UINT8_MAX; /* none: the logger's own */
	deliver(lg, &ev, wall_offset_ms());
}

/*
 * RFC 8158 §4.6.8 addressPortMappingHighThreshold: once when the blocks in use reach
 * threshold_pct of the pool, re-armed when use falls CGN_LOGGER_REARM_PCT points below.
 * §4.6.5 ADDRESSES_EXHAUSTED: once when every block of every pool address is held (no
 * address can take a new subscriber's block), re-armed when one is free again.
 */
static void
check_pool(struct cgn_logger *lg, uint64_t now)
{
	lg->last_check_ms = now;
	if (lg->p.pool == NULL || pthread_mutex_trylock(&lg->pool_lock) != 0)
		return; /* a pool change is under way: next second */
	uint64_t used = 0, total = 0;
	bool ok = lg->p.pool(lg->p.pool_ctx, &used, &total);
	pthread_mutex_unlock(&lg->pool_lock);
	if (!ok || total == 0)
		return;
	uint64_t pct = used * 100 / total;
	uint8_t thr = lg->p.threshold_pct;
	if (thr > 0) {
		if (lg->threshold_armed && pct >= thr) {
			report(lg, CGN_NATEV_THRESHOLD_REACHED, CGN_THRESHOLD_PORTS_HIGH, thr, now);
			lg->threshold_armed = false;
		} else if (!lg->threshold_armed && pct + CGN_LOGGER_REARM_PCT <= thr) {
			lg->threshold_armed = true;
		}
	}
	if (lg->exhaustion_armed && used >= total) {
		report(lg, CGN_NATEV_ADDRESSES_EXHAUSTED, 0, 0, now);
		lg->exhaustion_armed = false;
	} else if (used < total) {
		lg->exhaustion_armed = true;
	}
}

static void *
logger_main(void *arg)
{
	struct cgn_logger *lg = arg;
	while (!__atomic_load_n(&lg->stop, __ATOMIC_ACQUIRE)) {
		/* 16 bursts a ring a round: one busy lcore cannot starve the others' rings. */
		uint64_t n = drain(lg, 16);
		uint64_t now = cgn_clock_ms();
		if (n > 0 || now - lg->last_flush_ms >= CGN_LOGGER_FLUSH_MS)
			flush(lg, now);
		if (now - lg->last_check_ms >= 1000)
			check_pool(lg, now);
		if (n == 0)
			usleep(CGN_LOGGER_IDLE_US);
	}
	return NULL;
}

struct cgn_logger *
cgn_logger_start(const struct cgn_logger_params *p)
{
	if (p->n_sinks > CGN_LOGGER_MAX_SINKS) {
		errno = EINVAL;
		return NULL;
	}
	struct cgn_logger *lg = calloc(1, sizeof(*lg));
	if (lg == NULL)
		return NULL;
	lg->p = *p;
	lg->threshold_armed = lg->exhaustion_armed = true;
	lg->last_flush_ms = lg->last_check_ms = cgn_clock_ms();
	pthread_mutex_init(&lg->pool_lock, NULL);
	int rc = rte_ctrl_thread_create(&lg->tid, "cgn-logger", NULL, logger_main, lg);
	if (rc != 0) {
		pthread_mutex_destroy(&lg->pool_lock);
		free(lg);
		errno = rc < 0 ? -rc : rc;
		return NULL;
	}
	__atomic_store_n(&running, lg, __ATOMIC_RELEASE);
	return lg;
}

void
cgn_logger_stop(struct cgn_logger *lg)
{
	if (lg == NULL)
		return;
	cgn_events_flush(); /* the main lcore's last gathered events (the workers flushed as they stopped) */
	__atomic_store_n(&lg->stop, true, __ATOMIC_RELEASE);
	pthread_join(lg->tid, NULL);
	/* The rings' consumer is this thread now: what the lcores reported last goes out too. */
	drain(lg, 0);
	flush(lg, cgn_clock_ms());
	__atomic_store_n(&running, NULL, __ATOMIC_RELEASE);
	pthread_mutex_destroy(&lg->pool_lock);
	free(lg);
}

void
cgn_logger_pool_hold(struct cgn_logger *lg)
{
	if (lg)
		pthread_mutex_lock(&lg->pool_lock);
}

void
cgn_logger_pool_release(struct cgn_logger *lg)
{
	if (lg)
		pthread_mutex_unlock(&lg->pool_lock);
}

int
cgn_logger_open_sinks(const struct cgn_config *cfg, struct cgn_logger_params *p, char *err, size_t err_len)
{
	p->n_sinks = 0;
	struct cgn_log_sink *s;
	if (cfg->logging.ipfix.on) {
		if ((s = cgn_ipfix_open(cfg, err, err_len)) == NULL)
			return -EINVAL;
		p->sinks[p->n_sinks++] = s;
	}
	if (cfg->logging.syslog.transport != CGN_SYSLOG_NONE) {
		if ((s = cgn_syslog_open(cfg, err, err_len)) == NULL) {
			cgn_logger_close_sinks(p);
			return -EINVAL;
		}
		p->sinks[p->n_sinks++] = s;
	}
	return 0;
}

void
cgn_logger_close_sinks(struct cgn_logger_params *p)
{
	for (unsigned i = 0; i < p->n_sinks; i++)
		p->sinks[i]->close(p->sinks[i]);
	p->n_sinks = 0;
}

void
cgn_logger_totals(struct cgn_logger_totals *t)
{
	t->events = __atomic_load_n(&stats.events, __ATOMIC_RELAXED);
	t->dropped = cgn_events_dropped();
	t->invalid = __atomic_load_n(&stats.invalid, __ATOMIC_RELAXED);
}

unsigned
cgn_logger_sinks(const struct cgn_log_sink **out, unsigned max)
{
	struct cgn_logger *lg = __atomic_load_n(&running, __ATOMIC_ACQUIRE);
	unsigned n = 0;
	for (; lg && n < lg->p.n_sinks && n < max; n++)
		out[n] = lg->p.sinks[n];
	return n;
}

void
cgn_logger_foreach_counter(void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx)
{
	struct cgn_logger_totals t;
	cgn_logger_totals(&t);
	fn(ctx, "log_events", t.events);
	fn(ctx, "log_dropped", t.dropped);
	fn(ctx, "log_invalid", t.invalid);
	const struct cgn_log_sink *sinks[CGN_LOGGER_MAX_SINKS];
	unsigned n = cgn_logger_sinks(sinks, CGN_LOGGER_MAX_SINKS);
	for (unsigned i = 0; i < n; i++) {
		char name[64];
#define X(field, doc)                                                                  \
	snprintf(name, sizeof(name), "%s_" #field, sinks[i]->name);                   \
	fn(ctx, name, __atomic_load_n(&sinks[i]->stats.field, __ATOMIC_RELAXED));
		CGN_SINK_COUNTERS(X)
#undef X
	}
}
