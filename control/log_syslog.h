/*
 * The syslog sink's internals that its tests reach (control/log_syslog.c); cgnatd itself only
 * calls cgn_syslog_open() of log_sink.h. The format of the lines is in docs/logging-syslog.md.
 *
 * Threads: as log_sink.h (open on the main lcore, everything else on the logger thread).
 */
#ifndef CGN_LOG_SYSLOG_H
#define CGN_LOG_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log_sink.h"

/* The host's syslog socket (AF_UNIX, SOCK_DGRAM) of transport "local". */
#define CGN_SYSLOG_LOCAL_PATH "/dev/log"
/* Port of transport "udp"/"tcp" when the server was given without one. */
#define CGN_SYSLOG_DEFAULT_PORT 514
/* A destination lost (TCP connection closed or refused, local socket gone) is tried again at
 * once, then every CGN_SYSLOG_RECONNECT_MS (fixed: syslog has no reconnect_s of its own). */
#define CGN_SYSLOG_RECONNECT_MS 5000
/* UDP, local: lines collected for one sendmmsg(), and kept while the receiver's queue is full
 * (AF_UNIX: net.unix.max_dgram_qlen datagrams, 10 by default); more are dropped. */
#define CGN_SYSLOG_BATCH 32
/* TCP: the sink's own send buffer (octet-counted frames not yet taken by the kernel). When it
 * is full, events are dropped and counted: the logger never waits for a slow server. */
#define CGN_SYSLOG_TCP_BUF (256u * 1024u)
/* Longest line the sink writes (with room to spare: the longest event is about 430 octets,
 * under the 480 every RFC 5426 receiver takes over IPv4). */
#define CGN_SYSLOG_MSG_MAX 1024
/* The SD-ID of every line: "nat" under the documentation enterprise number (RFC 5612). */
#define CGN_SYSLOG_SD_ID "nat@32473"

/**
 * cgn_syslog_open() with the path of the local socket given (tests: a socket of their own in
 * a temporary directory). local_path is used for transport "local" only; NULL means
 * CGN_SYSLOG_LOCAL_PATH. Main lcore. @return the sink, or NULL with err set.
 */
struct cgn_log_sink *cgn_syslog_open_path(const struct cgn_config *cfg, const char *local_path,
					  char *err, size_t err_len);

/**
 * Writes the RFC 5424 line of one event as the sink s would send it (no framing, no newline).
 * Any thread that owns s.
 * @return its length (without the NUL), -EINVAL if the event is not one cgn_event_check()
 *         accepts, or -ENOSPC if it does not fit in size.
 */
int cgn_syslog_format(const struct cgn_log_sink *s, const struct cgn_event *ev, uint64_t wall_ms,
		      char *buf, size_t size);

/**
 * Escapes a PARAM-VALUE (RFC 5424 §6.3.3: '"', '\' and ']' get a '\' before them).
 * @return the length written (dst NUL-terminated), or -ENOSPC if it does not fit in size.
 */
int cgn_syslog_escape(char *dst, size_t size, const char *src);

/**
 * @return true while the sink can send: a datagram socket is connected, a TCP connection is
 *         established. Tests; the logger thread.
 */
bool cgn_syslog_is_up(const struct cgn_log_sink *s);

#endif /* CGN_LOG_SYSLOG_H */
