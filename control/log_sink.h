/*
 * Where the logger thread (control/logger.c) sends NAT events: one sink per configured
 * destination (IPFIX: control/log_ipfix.c; syslog: control/log_syslog.c). A sink formats
 * each event it is given and sends it itself; it never blocks for long: a destination that is
 * down or slow costs events, counted, never memory without bound or a stalled logger.
 *
 * Threads: a sink is opened on the main lcore before the logger starts, then used by the
 * logger thread only, and closed on the main lcore after the logger stopped. Its counters are
 * shared: written by the logger thread, read by the telemetry and metrics threads (relaxed).
 */
#ifndef CGN_LOG_SINK_H
#define CGN_LOG_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "cgn_config.h"
#include "cgn_event.h"

/* A sink's counters (shared: the logger thread writes, telemetry/metrics read, relaxed). */
#define CGN_SINK_COUNTERS(X)                                                                 \
	X(events, "events handed to it")                                                     \
	X(sent, "events it sent (records of messages written to the socket)")                \
	X(dropped, "events lost: destination unreachable, socket full, or message refused")  \
	X(messages, "messages (IPFIX messages, syslog lines) written to the socket")         \
	X(connects, "connections made (TCP: the first and every reconnection)")              \
	X(errors, "send or connect failures")

struct cgn_sink_stats {
#define X(name, doc) uint64_t name;
	CGN_SINK_COUNTERS(X)
#undef X
};

struct cgn_log_sink {
	const char *name; /* "ipfix", "syslog": telemetry and metrics label */
	struct cgn_sink_stats stats;
	/**
	 * Formats one event (cgn_event_check() passed) and queues or sends it. wall_ms: when it
	 * happened, milliseconds since the Unix epoch. Logger thread.
	 */
	void (*event)(struct cgn_log_sink *s, const struct cgn_event *ev, uint64_t wall_ms);
	/**
	 * Sends what is queued, and does the sink's timed work (templates re-sent, reconnection):
	 * called after each batch of events and at least every 100 ms. now_ms: CLOCK_MONOTONIC.
	 * Logger thread.
	 */
	void (*flush)(struct cgn_log_sink *s, uint64_t now_ms);
	/** Sends what is queued if it can, closes and frees. Main lcore, logger stopped. */
	void (*close)(struct cgn_log_sink *s);
};

/**
 * Opens the IPFIX exporter of cfg->logging.ipfix (libfixbuf): UDP or TCP to the collector,
 * the RFC 8158 templates. A TCP collector that is not up yet is not an error (reconnected).
 * Main lcore. @return the sink, or NULL with err set.
 */
struct cgn_log_sink *cgn_ipfix_open(const struct cgn_config *cfg, char *err, size_t err_len);

/**
 * Opens the RFC 5424 syslog sink of cfg->logging.syslog (UDP, TCP with octet-counting
 * framing (RFC 6587), or the local syslog socket /dev/log). Main lcore.
 * @return the sink, or NULL with err set.
 */
struct cgn_log_sink *cgn_syslog_open(const struct cgn_config *cfg, char *err, size_t err_len);

#endif /* CGN_LOG_SINK_H */
