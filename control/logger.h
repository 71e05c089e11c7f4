/*
 * The logger thread (issue 16; docs/architecture.md, "The event path"): takes the NAT events
 * the lcores put on their rings (dataplane/cgn_events.h), checks each (cgn_event_check(): a
 * bad one is counted, log_invalid, never passed on), gives it its wall-clock time and hands
 * it to every sink (control/log_sink.h: IPFIX, syslog), which it flushes after each round and
 * at least every 100 ms. Once a second it also compares the port blocks in use with the pool
 * (logging.threshold): THRESHOLD_REACHED (addressPortMappingHighThreshold) when use crosses
 * the threshold upward, again only after it fell 5 points below; ADDRESSES_EXHAUSTED when no
 * pool address has a free block left.
 *
 * Threads: a control thread of its own (rte_ctrl_thread_create: not an lcore of the fast
 * path, never on a worker's core set). cgn_logger_start/_stop, _open_sinks/_close_sinks and
 * _pool_hold/_release on the main lcore; cgn_logger_foreach_counter from any thread (relaxed
 * reads; telemetry, metrics).
 */
#ifndef CGN_LOGGER_H
#define CGN_LOGGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgn_config.h"
#include "log_sink.h"

#define CGN_LOGGER_MAX_SINKS 4
#define CGN_LOGGER_BURST 64       /* events dequeued from a ring at once */
#define CGN_LOGGER_FLUSH_MS 100   /* sinks are flushed at least this often */
#define CGN_LOGGER_IDLE_US 1000   /* sleep when every ring was empty */
#define CGN_LOGGER_REARM_PCT 5    /* the threshold is re-armed this far below it */

/* The logger's own counters (shared: the logger thread writes, telemetry/metrics read). */
#define CGN_LOGGER_COUNTERS(X)                                              \
	X(events, "events handed to the sinks")                             \
	X(invalid, "events read from a ring that failed cgn_event_check()")

/**
 * Reads the port-block use the threshold is checked against: blocks held and blocks in the
 * pool. Called on the logger thread once a second, while cgn_logger_pool_hold() is not in
 * force. @return false if it cannot tell now.
 */
typedef bool (*cgn_logger_pool_fn)(void *ctx, uint64_t *used, uint64_t *total);

struct cgn_logger_params {
	struct cgn_log_sink *sinks[CGN_LOGGER_MAX_SINKS]; /* owned by the caller */
	unsigned n_sinks;
	uint8_t threshold_pct;    /* logging.threshold; 0: no threshold event */
	cgn_logger_pool_fn pool;  /* NULL: no threshold or exhaustion check */
	void *pool_ctx;
};

struct cgn_logger;

/**
 * Opens the sinks cfg names (cgn_ipfix_open(), cgn_syslog_open()) into p->sinks. Main lcore.
 * @return 0 (none configured: n_sinks 0), or -EINVAL with err set (what is open is closed).
 */
int cgn_logger_open_sinks(const struct cgn_config *cfg, struct cgn_logger_params *p, char *err, size_t err_len);

/** Closes the sinks of p (->close). Main lcore, the logger stopped. */
void cgn_logger_close_sinks(struct cgn_logger_params *p);

/**
 * Starts the logger thread on the rings of cgn_events_active (made by cgn_events_init()
 * before). p is copied. Main lcore, after the data plane exists.
 * @return the logger, or NULL with errno set.
 */
struct cgn_logger *cgn_logger_start(const struct cgn_logger_params *p);

/**
 * Stops the thread, then drains every ring once more and flushes the sinks (so that nothing
 * reported before the workers stopped is lost), and frees the logger. Main lcore, the
 * workers stopped, before the data plane and the rings are freed. NULL: nothing.
 */
void cgn_logger_stop(struct cgn_logger *lg);

/**
 * Keeps the threshold check off the port-block allocator until cgn_logger_pool_release():
 * a pool change (reload) replaces it. Waits for a check in progress. Main lcore. NULL: nothing.
 */
void cgn_logger_pool_hold(struct cgn_logger *lg);
void cgn_logger_pool_release(struct cgn_logger *lg);

/* The logger's own totals. */
struct cgn_logger_totals {
	uint64_t events;  /* handed to the sinks */
	uint64_t dropped; /* lost to full rings, summed over the lcores */
	uint64_t invalid; /* refused by cgn_event_check() */
};

/** Reads the totals (all 0 until a logger ran). Any thread; relaxed reads. */
void cgn_logger_totals(struct cgn_logger_totals *t);

/**
 * The running logger's sinks, whose counters (stats) a reader loads relaxed: at most max into
 * out. @return how many; 0 when no logger runs. Any thread that stops before the logger does
 * (telemetry, metrics: cgnatd stops them first).
 */
unsigned cgn_logger_sinks(const struct cgn_log_sink **out, unsigned max);

/**
 * Calls fn with each counter: log_events, log_dropped (rings full, summed over the lcores),
 * log_invalid (all 0 until a logger ran), then each sink's CGN_SINK_COUNTERS as
 * "<sink>_<counter>" while a logger runs. Any thread; relaxed reads.
 */
void cgn_logger_foreach_counter(void (*fn)(void *ctx, const char *name, uint64_t value), void *ctx);

#endif /* CGN_LOGGER_H */
