/*
 * The Prometheus page: GET /metrics over HTTP from a listener inside cgnatd (libmicrohttpd),
 * in the text exposition format 0.0.4, with every counter `cgnatctl stats` shows (labels for
 * workers, ports, opcodes, results and reasons instead of one name per value) and gauges for
 * mappings, sessions, pool and block use. Off unless the configuration has a metrics group
 * (docs/configuration.md "metrics"; docs/operations.md "Metrics").
 *
 * Threads: cgn_metrics_start() and cgn_metrics_stop() on the main lcore. Requests are served
 * by libmicrohttpd's one internal thread (MHD_USE_INTERNAL_POLLING_THREAD), one at a time; it
 * reads counters with relaxed loads, as telemetry does, and the objects only between
 * cgn_telemetry_read_begin() and _end(), so a reload (cgn_telemetry_suspend()) or shutdown
 * (cgn_telemetry_detach()) never has it read what changes or goes: it answers 503 then.
 * Nothing of it runs on the workers: a scrape costs the fast path nothing but the cache lines
 * of the counters it reads.
 */
#ifndef CGN_METRICS_H
#define CGN_METRICS_H

#include <stddef.h>

#include "cgn_config.h"
#include "cgn_dataplane.h"
#include "pcp_server.h"

/* The largest page built: a request whose page would pass it is answered 500 (and logged). */
#define CGN_METRICS_PAGE_MAX (4u << 20)
#define CGN_METRICS_CONNECTIONS 16    /* connections served at once; more wait in the backlog */
#define CGN_METRICS_TIMEOUT_S 10      /* an idle or slow connection is closed after this */

/**
 * Binds cfg->metrics.listen (that address only) and starts serving. Does nothing when
 * cfg->metrics.on is false. Main lcore, after cgn_telemetry_init() (whose read rule it
 * follows); cfg, srv and dp must stay until cgn_metrics_stop().
 * @param err receives why it failed ("metrics.listen 127.0.0.1:9464: cannot bind: Address
 *            already in use").
 * @return 0; a negative errno from socket(), bind() or listen(); -ENOMEM, or -EIO if
 *         libmicrohttpd would not start.
 */
int cgn_metrics_start(const struct cgn_config *cfg, struct pcp_server *srv, struct cgn_dataplane *dp, char *err,
		      size_t err_len);

/** Stops serving and closes the listener (waits for the request being served). Main lcore;
 * harmless when not started. */
void cgn_metrics_stop(void);

#endif /* CGN_METRICS_H */
