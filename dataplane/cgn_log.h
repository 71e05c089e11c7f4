/*
 * cgnatd's log type for library code (the data plane and the control plane's modules): one
 * rte_log type, "cgnat", with levels, so that an operator filters it like any DPDK component
 * (EAL's --log-level=cgnat:debug). Messages go where EAL sends its own (stderr and syslog).
 * The programs' own user-facing output (cgnatd's start-up errors, pcpc, cgnatctl) stays on
 * stdio. Any thread; never on a worker's fast path (a log line is a system call).
 */
#ifndef CGN_LOG_H
#define CGN_LOG_H

#include <rte_log.h>

extern int cgn_logtype;

/** CGN_LOG(ERR, "port %s: %s", name, why): one line, "cgnatd: " before it, newline after. */
#define CGN_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_##level, cgn_logtype, "cgnatd: " fmt "\n", ##__VA_ARGS__)

#endif /* CGN_LOG_H */
