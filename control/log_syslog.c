/*
 * The syslog sink (RFC 5424): one line per NAT event (common/cgn_event.h) to a syslog server
 * over UDP (RFC 5426: one datagram per line), over TCP (RFC 6587 §3.4.1 octet counting:
 * "MSG-LEN SP SYSLOG-MSG"), or to the host's syslog socket /dev/log (AF_UNIX datagrams).
 *
 * A line (docs/logging-syslog.md has one per kind):
 *   <134>1 2026-12-03T14:02:17.123Z cgn1 cgnatd 4242 PORTBLOCK [nat@32473 event="port-block-alloc"
 *   natEvent="16" src="100.64.0.5" xaddr="203.0.113.10" ports="40960-41023"] port block ...
 * PRI is facility * 8 + severity (§6.2.1): informational (6) for what happens in normal
 * operation, warning (4) for quota exceeded, exhaustion and thresholds. MSGID names the kind,
 * the structured data (§6.3, SD-ID under the documentation enterprise number 32473 of
 * RFC 5612) carries every field as PARAM-NAME="value" an operator can grep, and MSG says the
 * same in a short English sentence (ASCII: no BOM, §6.4). No destination address or port is
 * ever written (RFC 6888 REQ-12: events carry none).
 *
 * Never blocking the logger: every socket is non-blocking. Datagram transports collect up to
 * CGN_SYSLOG_BATCH lines and send them with one sendmmsg() at flush (or when the batch is
 * full); lines the kernel does not take now (EAGAIN: the receiver's queue is full) stay in the
 * batch for the next flush, and an event that finds the batch full is dropped and counted.
 * UDP keeps no state of the server: a line is sent whether anyone listens or not; an ICMP
 * refusal shows as an error (the socket is connected) and the refused send is retried once.
 * TCP appends frames to a buffer of the sink's own (CGN_SYSLOG_TCP_BUF) that flush
 * writes out as far as the socket takes it; a frame that does not fit is dropped and counted,
 * so a slow or stalled server costs events, never memory without bound or a stalled logger.
 * A lost destination (TCP closed, reset or refused; the local socket gone) is tried again at
 * the next flush, then every CGN_SYSLOG_RECONNECT_MS; meanwhile events are dropped and
 * counted. Lines the kernel took are "sent": what a TCP connection held in its kernel buffer
 * when it broke is lost uncounted (syslog has no acknowledgement; SO_SNDBUF bounds it).
 *
 * Counters (struct cgn_sink_stats): events = sent + dropped + the lines still queued (TCP
 * buffer, datagram batch); one event is one line, so messages == sent; connects counts every
 * connect() that succeeded (UDP and local: the socket's, TCP: each established connection);
 * errors counts failed send() and connect() calls other than "try again later" (EAGAIN).
 *
 * Threads: opened on the main lcore, then used by the logger thread only (log_sink.h); the
 * counters are written with relaxed atomics for the telemetry and metrics threads.
 */
#define _GNU_SOURCE /* sendmmsg, POLLRDHUP */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cgn_addr.h"
#include "cgn_config.h"
#include "cgn_event.h"
#include "log_sink.h"
#include "log_syslog.h"

/* TCP: frames queued at most (their lengths are kept to count what was sent); the shortest
 * frame is about 100 octets, so the buffer fills first. */
#define CGN_SYSLOG_TCP_MAX_QUEUED 4096
/* Syslog severities (RFC 5424 §6.2.1, Table 2). */
#define CGN_SYSLOG_SEV_WARNING 4
#define CGN_SYSLOG_SEV_INFO 6
/* RFC 5424 §6.2.1: facilities 0..23. */
#define CGN_SYSLOG_FACILITY_MAX 23
/* §6.2.4: HOSTNAME is 1*255PRINTUSASCII. */
#define CGN_SYSLOG_HOSTNAME_MAX 255
#define CGN_SYSLOG_APP_NAME "cgnatd"

/* What each event is called: its event="..." value, its MSGID, its severity, and which
 * structured data fields it always carries (others are added when the event has them). */
enum {
	F_PROTO = 1u << 0,   /* proto="tcp" */
	F_SRC = 1u << 1,     /* src="100.64.0.5": the subscriber / internal address */
	F_SPORT = 1u << 2,   /* sport="1234": the internal port */
	F_XADDR = 1u << 3,   /* xaddr="203.0.113.10": the external address */
	F_XPORT = 1u << 4,   /* xport="40001": the external port */
	F_PORTS = 1u << 5,   /* ports="40960-41023": the block */
	F_ORIGIN = 1u << 6,  /* origin="pcp": who made an explicit mapping */
	F_QUOTA = 1u << 7,   /* quota="per-user" limit="64" */
	F_THRESH = 1u << 8,  /* threshold="ports-high" pct="90" */
};

struct syslog_kind {
	const char *name;
	const char *msgid;
	uint8_t severity;
	uint16_t fields;
};

#define MAPPING_FIELDS (F_PROTO | F_SRC | F_SPORT | F_XADDR | F_XPORT)
static const struct syslog_kind kinds[CGN_NATEV_MAX + 1] = {
	[CGN_NATEV_ADDRESSES_EXHAUSTED] = { "addresses-exhausted", "EXHAUSTED", CGN_SYSLOG_SEV_WARNING, 0 },
	[CGN_NATEV_NAT44_SESSION_CREATE] = { "nat44-session-create", "SESSION", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS },
	[CGN_NATEV_NAT44_SESSION_DELETE] = { "nat44-session-delete", "SESSION", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS },
	[CGN_NATEV_NAT64_SESSION_CREATE] = { "nat64-session-create", "SESSION", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS },
	[CGN_NATEV_NAT64_SESSION_DELETE] = { "nat64-session-delete", "SESSION", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS },
	[CGN_NATEV_NAT44_BIB_CREATE] = { "nat44-bib-create", "MAPPING", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS | F_ORIGIN },
	[CGN_NATEV_NAT44_BIB_DELETE] = { "nat44-bib-delete", "MAPPING", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS | F_ORIGIN },
	[CGN_NATEV_NAT64_BIB_CREATE] = { "nat64-bib-create", "MAPPING", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS | F_ORIGIN },
	[CGN_NATEV_NAT64_BIB_DELETE] = { "nat64-bib-delete", "MAPPING", CGN_SYSLOG_SEV_INFO, MAPPING_FIELDS | F_ORIGIN },
	[CGN_NATEV_PORTS_EXHAUSTED] = { "ports-exhausted", "EXHAUSTED", CGN_SYSLOG_SEV_WARNING, F_XADDR },
	[CGN_NATEV_QUOTA_EXCEEDED] = { "quota-exceeded", "QUOTA", CGN_SYSLOG_SEV_WARNING, F_QUOTA },
	[CGN_NATEV_BINDING_CREATE] = { "binding-create", "BINDING", CGN_SYSLOG_SEV_INFO, F_SRC | F_XADDR },
	[CGN_NATEV_BINDING_DELETE] = { "binding-delete", "BINDING", CGN_SYSLOG_SEV_INFO, F_SRC | F_XADDR },
	[CGN_NATEV_PORT_BLOCK_ALLOC] = { "port-block-alloc", "PORTBLOCK", CGN_SYSLOG_SEV_INFO, F_SRC | F_XADDR | F_PORTS },
	[CGN_NATEV_PORT_BLOCK_FREE] = { "port-block-free", "PORTBLOCK", CGN_SYSLOG_SEV_INFO, F_SRC | F_XADDR | F_PORTS },
	[CGN_NATEV_THRESHOLD_REACHED] = { "threshold-reached", "THRESHOLD", CGN_SYSLOG_SEV_WARNING, F_THRESH },
};

/* quota="..." (RFC 8158 Table 3) and threshold="..." (Table 4), origin="...". */
static const char *const quota_names[CGN_QUOTA_MAX + 1] = {
	[CGN_QUOTA_SESSIONS] = "sessions", [CGN_QUOTA_BIB] = "bib-entries",
	[CGN_QUOTA_PER_USER] = "per-user", [CGN_QUOTA_SUBSCRIBERS] = "subscribers",
	[CGN_QUOTA_FRAGMENTS] = "fragments",
};
static const char *const threshold_names[CGN_THRESHOLD_MAX + 1] = {
	[CGN_THRESHOLD_POOL_HIGH] = "pool-high", [CGN_THRESHOLD_POOL_LOW] = "pool-low",
	[CGN_THRESHOLD_PORTS_HIGH] = "ports-high", [CGN_THRESHOLD_PER_USER_HIGH] = "per-user-high",
	[CGN_THRESHOLD_GLOBAL_HIGH] = "global-high",
};
static const char *const origin_names[CGN_ORIGIN_MAX + 1] = {
	[CGN_ORIGIN_DATA] = "data", [CGN_ORIGIN_PCP] = "pcp",
	[CGN_ORIGIN_NATPMP] = "natpmp", [CGN_ORIGIN_POOL] = "pool",
};

enum syslog_state {
	SYSLOG_DOWN,       /* no socket: events dropped; connect again at retry_ms */
	SYSLOG_CONNECTING, /* TCP connect() in progress: frames are queued */
	SYSLOG_UP,
};

struct cgn_syslog {
	struct cgn_log_sink sink; /* first: what the logger holds */
	int transport;            /* CGN_SYSLOG_UDP / _TCP / _LOCAL */
	int fd;                   /* -1 while DOWN */
	enum syslog_state state;
	uint64_t retry_ms;        /* DOWN: next connect at the first flush at or after it */
	uint64_t connect_ms;      /* CONNECTING: the flush that first saw it (0: none yet) */
	struct sockaddr_storage dst;
	socklen_t dst_len;
	uint8_t facility;
	char hostname[CGN_SYSLOG_HOSTNAME_MAX + 1];
	char procid[24];

	/* UDP, local: the lines of the next sendmmsg(), [d_first, n_dgram) of dgram. */
	unsigned d_first, n_dgram;
	struct mmsghdr mm[CGN_SYSLOG_BATCH];
	struct iovec iov[CGN_SYSLOG_BATCH];
	char dgram[CGN_SYSLOG_BATCH][CGN_SYSLOG_MSG_MAX];

	/* TCP: frames in tbuf[head, tail), their lengths in the ring q_len (q_first, q_n);
	 * q_partial octets of the first were written already. */
	char *tbuf;
	size_t head, tail;
	uint32_t q_len[CGN_SYSLOG_TCP_MAX_QUEUED];
	unsigned q_first, q_n;
	size_t q_partial;
};

/* Counters: one writer (the logger), readers elsewhere (log_sink.h). */
#define STAT_ADD(ss, field, n) __atomic_fetch_add(&(ss)->sink.stats.field, (uint64_t)(n), __ATOMIC_RELAXED)

static struct cgn_syslog *
to_syslog(struct cgn_log_sink *s)
{
	return (struct cgn_syslog *)s;
}

static const struct cgn_syslog *
to_syslog_const(const struct cgn_log_sink *s)
{
	return (const struct cgn_syslog *)s;
}

/* ---- Formatting (RFC 5424 §6) ---------------------------------------------------------- */

int
cgn_syslog_escape(char *dst, size_t size, const char *src)
{
	size_t n = 0;

	for (; *src != '\0'; src++) {
		bool esc = *src == '"' || *src == '\\' || *src == ']';
		if (n + esc + 1 >= size)
			return -ENOSPC;
		if (esc)
			dst[n++] = '\\';
		dst[n++] = *src;
	}
	if (size == 0)
		return -ENOSPC;
	dst[n] = '\0';
	return (int)n;
}

/* An output buffer that remembers running out of room. */
struct out {
	char *p;
	size_t size, len;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->p + o->len, o->size - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->size - o->len)
		o->full = true;
	else
		o->len += (size_t)n;
}

/* SP PARAM-NAME "=" %d34 PARAM-VALUE %d34 (§6.3.3), the value escaped. */
static void
out_param(struct out *o, const char *name, const char *value)
{
	char esc[2 * CGN_SYSLOG_MSG_MAX / 4];

	if (cgn_syslog_escape(esc, sizeof(esc), value) < 0) {
		o->full = true;
		return;
	}
	out_printf(o, " %s=\"%s\"", name, esc);
}

static void
out_param_u(struct out *o, const char *name, unsigned long v)
{
	char num[24];
	snprintf(num, sizeof(num), "%lu", v);
	out_param(o, name, num);
}

static const char *
proto_name(uint8_t proto, char buf[8])
{
	switch (proto) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		snprintf(buf, 8, "%u", proto);
		return buf;
	}
}

/* "a.b.c.d:port" or "[v6]:port" for MSG. */
static const char *
addr_port(const struct cgn_addr *a, uint16_t port, char *buf, size_t size)
{
	char text[CGN_ADDR_STRLEN];
	cgn_addr_format(a, text, sizeof(text));
	snprintf(buf, size, cgn_addr_is_v4(a) ? "%s:%u" : "[%s]:%u", text, port);
	return buf;
}

/* TIMESTAMP (§6.2.3): UTC, milliseconds, or the NILVALUE when the time is unknown (0) or
 * beyond DATE-FULLYEAR's four digits. */
static void
out_timestamp(struct out *o, uint64_t wall_ms)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (wall_ms == 0 || gmtime_r(&secs, &tm) == NULL || tm.tm_year + 1900 > 9999) {
		out_printf(o, "-");
		return;
	}
	out_printf(o, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
		   tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(wall_ms % 1000));
}

/* MSG (§6.4): the event in a short sentence. src, xaddr, proto: the texts of the fields. */
static void
out_text(struct out *o, const struct cgn_event *ev, const char *src, const char *xaddr,
	 const char *proto)
{
	char in[CGN_ADDR_STRLEN + 8], ex[CGN_ADDR_STRLEN + 8];
	struct cgn_addr ext = cgn_addr_from_v4(ev->ext_addr);
	const char *family = cgn_event_is_v6(ev) ? "NAT64" : "NAT44";
	uint8_t e = ev->nat_event;
	bool create = e == CGN_NATEV_NAT44_SESSION_CREATE || e == CGN_NATEV_NAT64_SESSION_CREATE ||
		      e == CGN_NATEV_NAT44_BIB_CREATE || e == CGN_NATEV_NAT64_BIB_CREATE;

	switch (e) {
	case CGN_NATEV_PORT_BLOCK_ALLOC:
	case CGN_NATEV_PORT_BLOCK_FREE:
		out_printf(o, "port block %u-%u of %s %s %s", ev->port_first, ev->port_last, xaddr,
			   e == CGN_NATEV_PORT_BLOCK_ALLOC ? "allocated to" : "released by", src);
		break;
	case CGN_NATEV_BINDING_CREATE:
		out_printf(o, "%s bound to %s", src, xaddr);
		break;
	case CGN_NATEV_BINDING_DELETE:
		out_printf(o, "%s unbound from %s", src, xaddr);
		break;
	case CGN_NATEV_NAT44_SESSION_CREATE:
	case CGN_NATEV_NAT44_SESSION_DELETE:
	case CGN_NATEV_NAT64_SESSION_CREATE:
	case CGN_NATEV_NAT64_SESSION_DELETE:
		out_printf(o, "%s session %s %s -> %s %s", family, proto,
			   addr_port(&ev->internal, ev->int_port, in, sizeof(in)),
			   addr_port(&ext, ev->ext_port, ex, sizeof(ex)), create ? "created" : "deleted");
		break;
	case CGN_NATEV_NAT44_BIB_CREATE:
	case CGN_NATEV_NAT44_BIB_DELETE:
	case CGN_NATEV_NAT64_BIB_CREATE:
	case CGN_NATEV_NAT64_BIB_DELETE:
		out_printf(o, "%s mapping %s %s -> %s %s (%s)", family, proto,
			   addr_port(&ev->internal, ev->int_port, in, sizeof(in)),
			   addr_port(&ext, ev->ext_port, ex, sizeof(ex)), create ? "created" : "deleted",
			   origin_names[ev->origin]);
		if (create && ev->lifetime_s != 0)
			out_printf(o, ", lifetime %u s", ev->lifetime_s);
		break;
	case CGN_NATEV_QUOTA_EXCEEDED:
		out_printf(o, "quota exceeded: %s, limit %u", quota_names[ev->sub_event], ev->value);
		if (src != NULL)
			out_printf(o, ", subscriber %s", src);
		break;
	case CGN_NATEV_ADDRESSES_EXHAUSTED:
		out_printf(o, "addresses exhausted: no pool address has a free port block");
		break;
	case CGN_NATEV_PORTS_EXHAUSTED:
		out_printf(o, "ports exhausted on %s", xaddr);
		if (proto != NULL)
			out_printf(o, " (%s)", proto);
		break;
	case CGN_NATEV_THRESHOLD_REACHED:
		out_printf(o, "threshold reached: %s at %u%%", threshold_names[ev->sub_event], ev->value);
		break;
	default:
		break;
	}
}

int
cgn_syslog_format(const struct cgn_log_sink *sink, const struct cgn_event *ev, uint64_t wall_ms,
		  char *buf, size_t size)
{
	const struct cgn_syslog *s = to_syslog_const(sink);
	char src_text[CGN_ADDR_STRLEN], xaddr_text[CGN_ADDR_STRLEN], proto_buf[8], ports[16];
	const char *src = NULL, *xaddr = NULL, *proto = NULL;
	const struct syslog_kind *k;
	struct out o = { .p = buf, .size = size };
	unsigned fields;

	/* The logger checked it already; the sink trusts no more than it (log_sink.h). */
	if (!cgn_event_check(ev) || size == 0)
		return -EINVAL;
	k = &kinds[ev->nat_event];
	fields = k->fields;
	/* The optional fields: there when the event has them (quota, exhaustion). */
	if (!cgn_addr_is_unspecified(&ev->internal))
		fields |= F_SRC;
	if (ev->ext_addr != 0)
		fields |= F_XADDR;
	if (ev->proto != 0)
		fields |= F_PROTO;
	if (fields & F_SRC)
		src = cgn_addr_format(&ev->internal, src_text, sizeof(src_text));
	if (fields & F_XADDR) {
		struct cgn_addr x = cgn_addr_from_v4(ev->ext_addr);
		xaddr = cgn_addr_format(&x, xaddr_text, sizeof(xaddr_text));
	}
	if (fields & F_PROTO)
		proto = proto_name(ev->proto, proto_buf);

	/* HEADER (§6.2): PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID */
	out_printf(&o, "<%u>1 ", s->facility * 8u + k->severity);
	out_timestamp(&o, wall_ms);
	out_printf(&o, " %s %s %s %s ", s->hostname, CGN_SYSLOG_APP_NAME, s->procid, k->msgid);

	/* STRUCTURED-DATA (§6.3): one SD-ELEMENT. */
	out_printf(&o, "[%s", CGN_SYSLOG_SD_ID);
	out_param(&o, "event", k->name);
	out_param_u(&o, "natEvent", ev->nat_event);
	if (fields & F_QUOTA) {
		out_param(&o, "quota", quota_names[ev->sub_event]);
		out_param_u(&o, "limit", ev->value);
	}
	if (fields & F_THRESH) {
		out_param(&o, "threshold", threshold_names[ev->sub_event]);
		out_param_u(&o, "pct", ev->value);
	}
	if (fields & F_PROTO)
		out_param(&o, "proto", proto);
	if (fields & F_SRC)
		out_param(&o, "src", src);
	if (fields & F_SPORT)
		out_param_u(&o, "sport", ev->int_port);
	if (fields & F_XADDR)
		out_param(&o, "xaddr", xaddr);
	if (fields & F_XPORT)
		out_param_u(&o, "xport", ev->ext_port);
	if (fields & F_PORTS) {
		snprintf(ports, sizeof(ports), "%u-%u", ev->port_first, ev->port_last);
		out_param(&o, "ports", ports);
	}
	if (fields & F_ORIGIN)
		out_param(&o, "origin", origin_names[ev->origin]);
	if ((ev->nat_event == CGN_NATEV_NAT44_BIB_CREATE || ev->nat_event == CGN_NATEV_NAT64_BIB_CREATE) &&
	    ev->lifetime_s != 0)
		out_param_u(&o, "lifetime", ev->lifetime_s);
	out_printf(&o, "]");

	/* SP MSG (§6.4): ASCII, so MSG-ANY without a BOM. */
	out_printf(&o, " ");
	out_text(&o, ev, src, xaddr, proto);
	return o.full ? -ENOSPC : (int)o.len;
}

/* ---- Sockets --------------------------------------------------------------------------- */

/* Drops what is queued (counted), closes the socket; the next attempt at retry_ms. */
static void
syslog_down(struct cgn_syslog *s, uint64_t retry_ms)
{
	uint64_t lost = (s->n_dgram - s->d_first) + s->q_n;

	if (lost != 0)
		STAT_ADD(s, dropped, lost);
	s->d_first = s->n_dgram = 0;
	s->q_n = s->q_first = 0;
	s->q_partial = 0;
	s->head = s->tail = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->state = SYSLOG_DOWN;
	s->retry_ms = retry_ms;
	s->connect_ms = 0;
}

/*
 * Makes the socket and connects it (non-blocking). @return 0 (UP), -EINPROGRESS (TCP:
 * CONNECTING), or -errno (DOWN, nothing left open).
 */
static int
syslog_connect(struct cgn_syslog *s)
{
	int type = s->transport == CGN_SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM;
	int fd, rc;

	fd = socket(s->dst.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (s->transport == CGN_SYSLOG_TCP) {
		/* Bounds what a broken connection can lose unseen (the kernel doubles it). */
		int sndbuf = (int)CGN_SYSLOG_TCP_BUF;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	do
		rc = connect(fd, (const struct sockaddr *)&s->dst, s->dst_len);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	s->fd = fd;
	s->connect_ms = 0;
	if (rc < 0) {
		s->state = SYSLOG_CONNECTING;
		return -EINPROGRESS;
	}
	s->state = SYSLOG_UP;
	STAT_ADD(s, connects, 1);
	return 0;
}

/* DOWN and due: tries again; a failure waits CGN_SYSLOG_RECONNECT_MS. */
static void
syslog_retry(struct cgn_syslog *s, uint64_t now_ms)
{
	int rc = syslog_connect(s);

	if (rc < 0 && rc != -EINPROGRESS) {
		STAT_ADD(s, errors, 1);
		s->retry_ms = now_ms + CGN_SYSLOG_RECONNECT_MS;
	}
}

/* CONNECTING: established, failed, or still waiting (at most CGN_SYSLOG_RECONNECT_MS). */
static void
syslog_check_connect(struct cgn_syslog *s, uint64_t now_ms)
{
	struct pollfd p = { .fd = s->fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (s->connect_ms == 0)
		s->connect_ms = now_ms;
	if (poll(&p, 1, 0) <= 0) {
		if (now_ms - s->connect_ms >= CGN_SYSLOG_RECONNECT_MS) {
			STAT_ADD(s, errors, 1);
			syslog_down(s, now_ms + CGN_SYSLOG_RECONNECT_MS);
		}
		return;
	}
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
		STAT_ADD(s, errors, 1);
		syslog_down(s, now_ms + CGN_SYSLOG_RECONNECT_MS);
		return;
	}
	s->state = SYSLOG_UP;
	STAT_ADD(s, connects, 1);
}

/* UP (TCP): a server never writes to us, so a readable socket is its end (or its reset). */
static bool
syslog_tcp_alive(struct cgn_syslog *s)
{
	struct pollfd p = { .fd = s->fd, .events = POLLIN | POLLRDHUP };
	char scratch[512];

	if (poll(&p, 1, 0) <= 0)
		return true;
	if (p.revents & (POLLRDHUP | POLLHUP | POLLERR))
		return false;
	/* Something to read: discard it (bounded: one buffer a flush), unless it is the end. */
	ssize_t r = recv(s->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
	return r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
}

/* TCP: writes queued frames as far as the socket takes them. */
static void
syslog_tcp_send(struct cgn_syslog *s)
{
	while (s->head < s->tail) {
		ssize_t r = send(s->fd, s->tbuf + s->head, s->tail - s->head, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			STAT_ADD(s, errors, 1);
			syslog_down(s, 0); /* reset or broken: try again at the next flush */
			return;
		}
		/* Count the frames the kernel now holds whole. */
		size_t n = (size_t)r, done = 0;
		s->head += n;
		while (n > 0) {
			size_t rest = s->q_len[s->q_first] - s->q_partial;
			if (n < rest) {
				s->q_partial += n;
				break;
			}
			n -= rest;
			s->q_partial = 0;
			s->q_first = (s->q_first + 1) % CGN_SYSLOG_TCP_MAX_QUEUED;
			s->q_n--;
			done++;
		}
		if (done != 0) {
			STAT_ADD(s, sent, done);
			STAT_ADD(s, messages, done);
		}
	}
	s->head = s->tail = 0;
}

/*
 * UDP, local: sends the lines of the batch [d_first, n_dgram). Lines the socket does not take
 * now (EAGAIN: the receiver's queue is full; AF_UNIX queues hold only
 * net.unix.max_dgram_qlen datagrams) stay for the next flush; event() drops what does not
 * fit behind them.
 */
static void
syslog_dgram_send(struct cgn_syslog *s)
{
	bool retried = false;

	if (s->state != SYSLOG_UP)
		return;
	/* Bounded: every round sends, keeps or drops at least one line, or retries one once. */
	while (s->d_first < s->n_dgram) {
		unsigned i = s->d_first, n = s->n_dgram - i;
		for (unsigned j = i; j < s->n_dgram; j++) {
			s->iov[j].iov_base = s->dgram[j];
			s->mm[j].msg_hdr = (struct msghdr){ .msg_iov = &s->iov[j], .msg_iovlen = 1 };
		}
		int r = sendmmsg(s->fd, &s->mm[i], n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r > 0) {
			s->d_first += (unsigned)r;
			STAT_ADD(s, sent, r);
			STAT_ADD(s, messages, r);
			retried = false;
			continue;
		}
		int e = r < 0 ? errno : EIO;
		if (e == EINTR)
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
			return; /* kept for the next flush */
		STAT_ADD(s, errors, 1);
		if (s->transport == CGN_SYSLOG_UDP && e == ECONNREFUSED && !retried) {
			/* The ICMP error of an earlier datagram, reported (and cleared) by this send,
			 * which did not go out: send it again, the server may be back. */
			retried = true;
			continue;
		}
		retried = false;
		if (s->transport == CGN_SYSLOG_LOCAL) {
			/* The receiver of the socket is gone (a syslog daemon that restarted makes a
			 * new socket at the same path): connect again at the next flush. */
			syslog_down(s, 0);
			return;
		}
		/* UDP: this line's error (no route, refused twice): the next may pass. */
		STAT_ADD(s, dropped, 1);
		s->d_first++;
	}
	s->d_first = s->n_dgram = 0;
}

/* ---- The sink ---------------------------------------------------------------------------- */

/* TCP: frames "MSG-LEN SP SYSLOG-MSG" (RFC 6587 §3.4.1) into the sink's buffer. */
static void
syslog_tcp_queue(struct cgn_syslog *s, const char *line, int len)
{
	char prefix[16];
	int plen = snprintf(prefix, sizeof(prefix), "%d ", len);
	size_t need = (size_t)plen + (size_t)len;

	if (s->state == SYSLOG_DOWN || s->q_n == CGN_SYSLOG_TCP_MAX_QUEUED) {
		STAT_ADD(s, dropped, 1);
		return;
	}
	if (s->tail + need > CGN_SYSLOG_TCP_BUF && s->head != 0) {
		memmove(s->tbuf, s->tbuf + s->head, s->tail - s->head);
		s->tail -= s->head;
		s->head = 0;
	}
	if (s->tail + need > CGN_SYSLOG_TCP_BUF) {
		STAT_ADD(s, dropped, 1); /* the server does not keep up */
		return;
	}
	memcpy(s->tbuf + s->tail, prefix, (size_t)plen);
	memcpy(s->tbuf + s->tail + plen, line, (size_t)len);
	s->tail += need;
	s->q_len[(s->q_first + s->q_n) % CGN_SYSLOG_TCP_MAX_QUEUED] = (uint32_t)need;
	s->q_n++;
	/* Half full: write now rather than wait for the flush of this batch. */
	if (s->state == SYSLOG_UP && s->tail - s->head >= CGN_SYSLOG_TCP_BUF / 2)
		syslog_tcp_send(s);
}

static void
syslog_event(struct cgn_log_sink *sink, const struct cgn_event *ev, uint64_t wall_ms)
{
	struct cgn_syslog *s = to_syslog(sink);
	char line[CGN_SYSLOG_MSG_MAX];
	int len;

	STAT_ADD(s, events, 1);
	if (s->transport == CGN_SYSLOG_TCP) {
		len = cgn_syslog_format(sink, ev, wall_ms, line, sizeof(line));
		if (len < 0) {
			STAT_ADD(s, dropped, 1);
			return;
		}
		syslog_tcp_queue(s, line, len);
		return;
	}
	if (s->state != SYSLOG_UP) {
		STAT_ADD(s, dropped, 1);
		return;
	}
	if (s->n_dgram == CGN_SYSLOG_BATCH)
		syslog_dgram_send(s);
	if (s->n_dgram == CGN_SYSLOG_BATCH && s->d_first != 0) {
		/* Lines kept by a full receiver: move them to the front. */
		unsigned keep = s->n_dgram - s->d_first;
		memmove(s->dgram[0], s->dgram[s->d_first], (size_t)keep * CGN_SYSLOG_MSG_MAX);
		for (unsigned j = 0; j < keep; j++)
			s->iov[j].iov_len = s->iov[s->d_first + j].iov_len;
		s->d_first = 0;
		s->n_dgram = keep;
	}
	if (s->state != SYSLOG_UP || s->n_dgram == CGN_SYSLOG_BATCH) {
		STAT_ADD(s, dropped, 1); /* the receiver does not keep up, or is gone */
		return;
	}
	len = cgn_syslog_format(sink, ev, wall_ms, s->dgram[s->n_dgram], CGN_SYSLOG_MSG_MAX);
	if (len < 0) {
		STAT_ADD(s, dropped, 1);
		return;
	}
	s->iov[s->n_dgram].iov_len = (size_t)len;
	s->n_dgram++;
}

static void
syslog_flush(struct cgn_log_sink *sink, uint64_t now_ms)
{
	struct cgn_syslog *s = to_syslog(sink);

	if (s->state == SYSLOG_DOWN && now_ms >= s->retry_ms)
		syslog_retry(s, now_ms);
	if (s->state == SYSLOG_CONNECTING)
		syslog_check_connect(s, now_ms);
	if (s->transport != CGN_SYSLOG_TCP) {
		syslog_dgram_send(s);
		return;
	}
	if (s->state != SYSLOG_UP)
		return;
	if (!syslog_tcp_alive(s)) {
		/* The server closed: what is queued is lost; first retry at once. */
		syslog_down(s, now_ms);
		return;
	}
	syslog_tcp_send(s);
}

static void
syslog_close(struct cgn_log_sink *sink)
{
	struct cgn_syslog *s = to_syslog(sink);

	if (s == NULL)
		return;
	if (s->state == SYSLOG_UP) {
		if (s->transport == CGN_SYSLOG_TCP)
			syslog_tcp_send(s);
		else
			syslog_dgram_send(s);
	}
	syslog_down(s, 0); /* counts what could not be sent */
	free(s->tbuf);
	free(s);
}

bool
cgn_syslog_is_up(const struct cgn_log_sink *sink)
{
	return to_syslog_const(sink)->state == SYSLOG_UP;
}

/* HOSTNAME (§6.2.4): 1*255PRINTUSASCII. */
static bool
hostname_valid(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > CGN_SYSLOG_HOSTNAME_MAX)
		return false;
	for (; *h != '\0'; h++)
		if (*h < 33 || *h > 126)
			return false;
	return true;
}

/* The destination of cfg in s->dst. @return 0 or -EINVAL with err set. */
static int
syslog_destination(struct cgn_syslog *s, const struct cgn_config *cfg, const char *local_path,
		   char *err, size_t err_len)
{
	const struct cgn_listen *srv = &cfg->logging.syslog.server;
	uint16_t port = srv->port != 0 ? srv->port : CGN_SYSLOG_DEFAULT_PORT;

	memset(&s->dst, 0, sizeof(s->dst));
	if (s->transport == CGN_SYSLOG_LOCAL) {
		struct sockaddr_un *un = (struct sockaddr_un *)&s->dst;
		if (strlen(local_path) >= sizeof(un->sun_path)) {
			snprintf(err, err_len, "syslog: local socket path too long: %s", local_path);
			return -EINVAL;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, local_path);
		s->dst_len = sizeof(*un);
		return 0;
	}
	if (cgn_addr_is_unspecified(&srv->addr)) {
		snprintf(err, err_len, "syslog: no server address");
		return -EINVAL;
	}
	if (cgn_addr_is_v4(&srv->addr)) {
		struct sockaddr_in *in = (struct sockaddr_in *)&s->dst;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		in->sin_addr.s_addr = cgn_addr_v4(&srv->addr);
		s->dst_len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s->dst;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, srv->addr.b, 16);
		s->dst_len = sizeof(*in6);
	}
	return 0;
}

struct cgn_log_sink *
cgn_syslog_open_path(const struct cgn_config *cfg, const char *local_path, char *err, size_t err_len)
{
	struct cgn_syslog *s;
	char where[CGN_ADDR_STRLEN + 120];
	int rc;

	if (local_path == NULL)
		local_path = CGN_SYSLOG_LOCAL_PATH;
	if (cfg->logging.syslog.transport != CGN_SYSLOG_UDP && cfg->logging.syslog.transport != CGN_SYSLOG_TCP &&
	    cfg->logging.syslog.transport != CGN_SYSLOG_LOCAL) {
		snprintf(err, err_len, "syslog: no transport configured");
		return NULL;
	}
	if (cfg->logging.syslog.facility > CGN_SYSLOG_FACILITY_MAX) {
		snprintf(err, err_len, "syslog: facility %u is not 0..%u (RFC 5424 §6.2.1)",
			 cfg->logging.syslog.facility, CGN_SYSLOG_FACILITY_MAX);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, err_len, "syslog: out of memory");
		return NULL;
	}
	s->sink.name = "syslog";
	s->sink.event = syslog_event;
	s->sink.flush = syslog_flush;
	s->sink.close = syslog_close;
	s->transport = cfg->logging.syslog.transport;
	s->facility = cfg->logging.syslog.facility;
	s->fd = -1;
	s->state = SYSLOG_DOWN;
	snprintf(s->procid, sizeof(s->procid), "%ld", (long)getpid());

	/* HOSTNAME (§6.2.4): the configured name, else the host's, else the NILVALUE. */
	if (cfg->logging.syslog.hostname[0] != '\0') {
		if (!hostname_valid(cfg->logging.syslog.hostname)) {
			snprintf(err, err_len, "syslog: hostname \"%s\" is not 1 to 255 printable ASCII characters without spaces",
				 cfg->logging.syslog.hostname);
			goto fail;
		}
		snprintf(s->hostname, sizeof(s->hostname), "%s", cfg->logging.syslog.hostname);
	} else if (gethostname(s->hostname, sizeof(s->hostname)) < 0 ||
		   !hostname_valid(s->hostname)) {
		strcpy(s->hostname, "-");
	}
	if (syslog_destination(s, cfg, local_path, err, err_len) < 0)
		goto fail;
	if (s->transport == CGN_SYSLOG_TCP) {
		s->tbuf = malloc(CGN_SYSLOG_TCP_BUF);
		if (s->tbuf == NULL) {
			snprintf(err, err_len, "syslog: out of memory");
			goto fail;
		}
	}

	rc = syslog_connect(s);
	if (rc == 0 || rc == -EINPROGRESS)
		return &s->sink;
	if (s->transport == CGN_SYSLOG_TCP) {
		/* A server not up yet is not an error: tried again at the first flush. */
		STAT_ADD(s, errors, 1);
		s->retry_ms = 0;
		return &s->sink;
	}
	/* UDP and the local socket take no time to connect: failing now is a configuration
	 * the operator should hear about at start (local: no syslog daemon listens there). */
	if (s->transport == CGN_SYSLOG_LOCAL)
		snprintf(where, sizeof(where), "local socket %s", local_path);
	else
		snprintf(where, sizeof(where), "server %s port %u",
			 cgn_addr_format(&cfg->logging.syslog.server.addr, (char[CGN_ADDR_STRLEN]){ 0 },
					 CGN_ADDR_STRLEN),
			 ntohs(((struct sockaddr_in *)&s->dst)->sin_port));
	snprintf(err, err_len, "syslog: cannot reach the %s: %s%s", where, strerror(-rc),
		 s->transport == CGN_SYSLOG_LOCAL ? " (is a syslog daemon running?)" : "");
fail:
	free(s->tbuf);
	free(s);
	return NULL;
}

struct cgn_log_sink *
cgn_syslog_open(const struct cgn_config *cfg, char *err, size_t err_len)
{
	return cgn_syslog_open_path(cfg, NULL, err, err_len);
}
