/*
 * Weak stand-ins for the sinks' constructors (control/log_sink.h) until control/log_ipfix.c
 * and control/log_syslog.c are built: cgnatd links, and refuses a configured destination
 * ("not built") rather than dropping its events silently. Main lcore.
 *
 * DELETE THIS FILE when the real sinks are merged: from a static archive, a weak definition
 * that the linker met first would hide the strong one of another member.
 */
#include <stdio.h>

#include "log_sink.h"

__attribute__((weak)) struct cgn_log_sink *
cgn_ipfix_open(const struct cgn_config *cfg, char *err, size_t err_len)
{
	(void)cfg;
	snprintf(err, err_len, "logging.ipfix: not built");
	return NULL;
}

__attribute__((weak)) struct cgn_log_sink *
cgn_syslog_open(const struct cgn_config *cfg, char *err, size_t err_len)
{
	(void)cfg;
	snprintf(err, err_len, "logging.syslog: not built");
	return NULL;
}
