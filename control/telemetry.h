/*
 * cgnatd's commands on the DPDK telemetry socket, all under /cgnat/ (cgnatctl is their client):
 *   /cgnat/info                      what runs: version, epoch, workers, pool, limits
 *   /cgnat/stats                     every counter by name: PCP, table, workers
 *   /cgnat/mappings[,START[,COUNT]]  the shared table as the workers see it, a page at a time;
 *                                    an RFC 7753 port set is one row (internal and external
 *                                    as "address:first-last", set_size), its first port's
 *   /cgnat/subscriber,ADDR           one subscriber: external address, port blocks, quota use
 *   /cgnat/pool[,START]              port blocks in use per pool address
 *   /cgnat/worker,N                  one worker's packet and drop counters
 *   /cgnat/sessions[,...]            the same as mappings; with ADDR, one subscriber's
 *   /cgnat/neighbours[,START]        the neighbour (ARP and ND) table, a page at a time
 *   /cgnat/routes                    the route tables
 *
 * Callbacks run on DPDK's telemetry thread. They read control-thread counters with relaxed
 * loads and the shared table as an RCU reader (reader id CGN_READER_TELEMETRY), never taking a
 * lock the data plane could wait on.
 */
#ifndef CGN_TELEMETRY_H
#define CGN_TELEMETRY_H

#include "cgn_config.h"
#include "cgn_dataplane.h"
#include "pcp_server.h"

#define CGN_TEL_PAGE_DEFAULT 32
#define CGN_TEL_PAGE_MAX 48 /* keeps a page under the socket's 16 KiB output limit */

/**
 * Registers the /cgnat/ commands. Main lcore, after rte_eal_init(); the objects must outlive
 * the process's telemetry (they do: they are freed after rte_eal_cleanup() stops it).
 * @return 0, or a negative errno from rte_telemetry_register_cmd().
 */
int cgn_telemetry_init(const struct cgn_config *cfg, struct pcp_server *srv, struct cgn_dataplane *dp,
		       uint64_t start_ms);

/** Stops the commands from touching srv and dp (they answer "shutting down"). Main lcore. */
void cgn_telemetry_detach(void);

/**
 * Stops the commands from touching srv and dp until cgn_telemetry_resume() (they answer why):
 * a reload may replace what they read. Waits for the ones running. Main lcore.
 */
void cgn_telemetry_suspend(const char *why);
void cgn_telemetry_resume(void);

/**
 * Begins a read of the objects given to cgn_telemetry_init() (srv, dp and what they own) by
 * another thread than the telemetry callbacks (the metrics page, control/metrics.c), under
 * the same rule: suspend and detach wait for it. Any thread but the main lcore (which would
 * wait for itself).
 * @param why set when it returns false: why the objects may not be read ("reloading",
 *            "shutting down"; a static string).
 * @return true: read, then call cgn_telemetry_read_end(); false: do not read, nothing to end.
 */
bool cgn_telemetry_read_begin(const char **why);
/** Ends a read cgn_telemetry_read_begin() allowed. */
void cgn_telemetry_read_end(void);

#endif /* CGN_TELEMETRY_H */
