/*
 * The syslog sink (control/log_syslog.c) against real receivers on loopback (suite
 * 'integration'; meson runs it through tests/netns_run.sh, so 127.0.0.1 and ::1 are in a
 * network namespace of its own): a UDP socket, a TCP listener that reads RFC 6587
 * octet-counted frames, and an AF_UNIX datagram socket in a temporary directory standing in
 * for /dev/log. One event of every kind of common/cgn_event.h goes through ->event and
 * ->flush; every line received must match the RFC 5424 §6 ABNF (as a regular expression) and
 * be exactly the line expected for its event. A TCP receiver that stops reading or goes away
 * costs counted events, never a blocked logger, and is reconnected when it is back.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <regex.h>
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

/* 2026-12-03T14:02:17.123Z */
#define WALL_MS 1796306537123ull
#define WALL_TEXT "2026-12-03T14:02:17.123Z"

/* ---- The events and the lines they must give ----------------------------------------- */

struct expect {
	struct cgn_event ev;
	unsigned severity;
	const char *msgid, *sd, *msg;
};

static struct cgn_addr
v4(const char *text)
{
	struct cgn_addr a;
	cr_assert_eq(cgn_addr_parse(text, &a), 0);
	return a;
}

static uint32_t
v4_be(const char *text)
{
	struct cgn_addr a = v4(text);
	return cgn_addr_v4(&a);
}

#define N_KINDS 16
static struct expect cases[N_KINDS];

/* One event of every natEvent cgnatd sends (RFC 8158 Table 2, 3..18). */
static void
make_cases(void)
{
	struct cgn_addr sub = v4("100.64.0.5"), sub6 = v4("2001:db8:1::5");
	uint32_t x = v4_be("203.0.113.10");
	unsigned i = 0;

#define EV(...) (struct cgn_event){ .mono_ms = 1, __VA_ARGS__ }
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_PORT_BLOCK_ALLOC, .internal = sub, .ext_addr = x,
		   .port_first = 40960, .port_last = 41023), 6, "PORTBLOCK",
		"[nat@32473 event=\"port-block-alloc\" natEvent=\"16\" src=\"100.64.0.5\" xaddr=\"203.0.113.10\" ports=\"40960-41023\"]",
		"port block 40960-41023 of 203.0.113.10 allocated to 100.64.0.5" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_PORT_BLOCK_FREE, .internal = sub6, .ext_addr = x,
		   .port_first = 1024, .port_last = 2047), 6, "PORTBLOCK",
		"[nat@32473 event=\"port-block-free\" natEvent=\"17\" src=\"2001:db8:1::5\" xaddr=\"203.0.113.10\" ports=\"1024-2047\"]",
		"port block 1024-2047 of 203.0.113.10 released by 2001:db8:1::5" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_BINDING_CREATE, .internal = sub, .ext_addr = x), 6, "BINDING",
		"[nat@32473 event=\"binding-create\" natEvent=\"14\" src=\"100.64.0.5\" xaddr=\"203.0.113.10\"]",
		"100.64.0.5 bound to 203.0.113.10" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_BINDING_DELETE, .internal = sub, .ext_addr = x), 6, "BINDING",
		"[nat@32473 event=\"binding-delete\" natEvent=\"15\" src=\"100.64.0.5\" xaddr=\"203.0.113.10\"]",
		"100.64.0.5 unbound from 203.0.113.10" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT44_SESSION_CREATE, .proto = IPPROTO_TCP, .internal = sub,
		   .int_port = 1234, .ext_addr = x, .ext_port = 40001), 6, "SESSION",
		"[nat@32473 event=\"nat44-session-create\" natEvent=\"4\" proto=\"tcp\" src=\"100.64.0.5\" sport=\"1234\" xaddr=\"203.0.113.10\" xport=\"40001\"]",
		"NAT44 session tcp 100.64.0.5:1234 -> 203.0.113.10:40001 created" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT44_SESSION_DELETE, .proto = IPPROTO_ICMP, .internal = sub,
		   .int_port = 7, .ext_addr = x, .ext_port = 40002), 6, "SESSION",
		"[nat@32473 event=\"nat44-session-delete\" natEvent=\"5\" proto=\"icmp\" src=\"100.64.0.5\" sport=\"7\" xaddr=\"203.0.113.10\" xport=\"40002\"]",
		"NAT44 session icmp 100.64.0.5:7 -> 203.0.113.10:40002 deleted" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT64_SESSION_CREATE, .proto = IPPROTO_UDP, .internal = sub6,
		   .int_port = 5353, .ext_addr = x, .ext_port = 40003), 6, "SESSION",
		"[nat@32473 event=\"nat64-session-create\" natEvent=\"6\" proto=\"udp\" src=\"2001:db8:1::5\" sport=\"5353\" xaddr=\"203.0.113.10\" xport=\"40003\"]",
		"NAT64 session udp [2001:db8:1::5]:5353 -> 203.0.113.10:40003 created" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT64_SESSION_DELETE, .proto = IPPROTO_UDP, .internal = sub6,
		   .int_port = 5353, .ext_addr = x, .ext_port = 40003), 6, "SESSION",
		"[nat@32473 event=\"nat64-session-delete\" natEvent=\"7\" proto=\"udp\" src=\"2001:db8:1::5\" sport=\"5353\" xaddr=\"203.0.113.10\" xport=\"40003\"]",
		"NAT64 session udp [2001:db8:1::5]:5353 -> 203.0.113.10:40003 deleted" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT44_BIB_CREATE, .proto = IPPROTO_UDP, .origin = CGN_ORIGIN_PCP,
		   .internal = sub, .int_port = 5000, .ext_addr = x, .ext_port = 40004, .lifetime_s = 7200),
		6, "MAPPING",
		"[nat@32473 event=\"nat44-bib-create\" natEvent=\"8\" proto=\"udp\" src=\"100.64.0.5\" sport=\"5000\" xaddr=\"203.0.113.10\" xport=\"40004\" origin=\"pcp\" lifetime=\"7200\"]",
		"NAT44 mapping udp 100.64.0.5:5000 -> 203.0.113.10:40004 created (pcp), lifetime 7200 s" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT44_BIB_DELETE, .proto = IPPROTO_TCP, .origin = CGN_ORIGIN_NATPMP,
		   .internal = sub, .int_port = 22, .ext_addr = x, .ext_port = 40005), 6, "MAPPING",
		"[nat@32473 event=\"nat44-bib-delete\" natEvent=\"9\" proto=\"tcp\" src=\"100.64.0.5\" sport=\"22\" xaddr=\"203.0.113.10\" xport=\"40005\" origin=\"natpmp\"]",
		"NAT44 mapping tcp 100.64.0.5:22 -> 203.0.113.10:40005 deleted (natpmp)" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT64_BIB_CREATE, .proto = IPPROTO_TCP, .origin = CGN_ORIGIN_PCP,
		   .internal = sub6, .int_port = 443, .ext_addr = x, .ext_port = 40006, .lifetime_s = 3600),
		6, "MAPPING",
		"[nat@32473 event=\"nat64-bib-create\" natEvent=\"10\" proto=\"tcp\" src=\"2001:db8:1::5\" sport=\"443\" xaddr=\"203.0.113.10\" xport=\"40006\" origin=\"pcp\" lifetime=\"3600\"]",
		"NAT64 mapping tcp [2001:db8:1::5]:443 -> 203.0.113.10:40006 created (pcp), lifetime 3600 s" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_NAT64_BIB_DELETE, .proto = IPPROTO_TCP, .origin = CGN_ORIGIN_POOL,
		   .internal = sub6, .int_port = 443, .ext_addr = x, .ext_port = 40006), 6, "MAPPING",
		"[nat@32473 event=\"nat64-bib-delete\" natEvent=\"11\" proto=\"tcp\" src=\"2001:db8:1::5\" sport=\"443\" xaddr=\"203.0.113.10\" xport=\"40006\" origin=\"pool\"]",
		"NAT64 mapping tcp [2001:db8:1::5]:443 -> 203.0.113.10:40006 deleted (pool)" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_PORTS_EXHAUSTED, .proto = IPPROTO_TCP, .ext_addr = x), 4, "EXHAUSTED",
		"[nat@32473 event=\"ports-exhausted\" natEvent=\"12\" proto=\"tcp\" xaddr=\"203.0.113.10\"]",
		"ports exhausted on 203.0.113.10 (tcp)" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_PER_USER, .value = 64,
		   .internal = sub), 4, "QUOTA",
		"[nat@32473 event=\"quota-exceeded\" natEvent=\"13\" quota=\"per-user\" limit=\"64\" src=\"100.64.0.5\"]",
		"quota exceeded: per-user, limit 64, subscriber 100.64.0.5" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_ADDRESSES_EXHAUSTED), 4, "EXHAUSTED",
		"[nat@32473 event=\"addresses-exhausted\" natEvent=\"3\"]",
		"addresses exhausted: no pool address has a free port block" };
	cases[i++] = (struct expect){
		EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_PORTS_HIGH, .value = 90),
		4, "THRESHOLD",
		"[nat@32473 event=\"threshold-reached\" natEvent=\"18\" threshold=\"ports-high\" pct=\"90\"]",
		"threshold reached: ports-high at 90%" };
#undef EV
	cr_assert_eq(i, N_KINDS);
	/* Every natEvent cgnatd may send is here once. */
	for (unsigned e = CGN_NATEV_ADDRESSES_EXHAUSTED; e <= CGN_NATEV_MAX; e++) {
		unsigned n = 0;
		for (unsigned j = 0; j < N_KINDS; j++)
			n += cases[j].ev.nat_event == e;
		cr_assert_eq(n, 1, "natEvent %u has %u cases", e, n);
	}
	for (unsigned j = 0; j < N_KINDS; j++)
		cr_assert(cgn_event_check(&cases[j].ev), "case %u is not a valid event", j);
}

/* ---- RFC 5424 §6 ABNF as a POSIX extended regular expression --------------------------- */

#define PRINTUSASCII "[!-~]"
/* SD-NAME: 1*32PRINTUSASCII except '=', SP, ']', '"' */
#define SD_NAME "[!#-<>-\\^-~]{1,32}"
/* PARAM-VALUE: anything but '"', '\' and ']', which come escaped (§6.3.3) */
#define PARAM_VALUE "([^]\"\\]|\\\\[]\"\\])*"
#define SD_ELEMENT "\\[" SD_NAME "( " SD_NAME "=\"" PARAM_VALUE "\")*\\]"
static const char rfc5424_re[] =
	"^<([0-9]{1,3})>1 "                                                  /* PRI VERSION */
	"(-|[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"                /* TIMESTAMP */
	"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]{1,6})?"
	"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])) "
	"(" PRINTUSASCII "{1,255}) (" PRINTUSASCII "{1,48}) "                /* HOSTNAME APP-NAME */
	"(" PRINTUSASCII "{1,128}) (" PRINTUSASCII "{1,32}) "                /* PROCID MSGID */
	"(-|(" SD_ELEMENT ")+)"                                              /* STRUCTURED-DATA */
	"( (.*))?$";                                                         /* MSG */
/* Groups of rfc5424_re: PRI value, HOSTNAME, APP-NAME, PROCID, MSGID, SD, MSG. */
enum { RE_PRI = 1, RE_TS = 2, RE_HOST = 10, RE_APP, RE_PROCID, RE_MSGID, RE_SD, RE_MSG = 19, RE_N };

static regex_t re;

static void
setup(void)
{
	int rc = regcomp(&re, rfc5424_re, REG_EXTENDED);
	char e[256];
	regerror(rc, &re, e, sizeof(e));
	cr_assert_eq(rc, 0, "regcomp: %s", e);
	make_cases();
}

static void
teardown(void)
{
	regfree(&re);
}

static char *
group(const char *line, const regmatch_t *m, int g, char *buf, size_t size)
{
	size_t n = m[g].rm_so < 0 ? 0 : (size_t)(m[g].rm_eo - m[g].rm_so);
	cr_assert_lt(n, size);
	memcpy(buf, line + (m[g].rm_so < 0 ? 0 : m[g].rm_so), n);
	buf[n] = '\0';
	return buf;
}

/* Checks one received line against the ABNF and against the line expected for case x. */
static void
check_line(const char *line, size_t len, const struct expect *x, const char *hostname, unsigned facility,
	   const char *ts)
{
	regmatch_t m[RE_N];
	char buf[1024], want[1024];

	cr_assert_eq(strlen(line), len, "a NUL inside the line");
	cr_assert_null(strchr(line, '\n'), "a newline inside the line: %s", line);
	cr_assert_eq(regexec(&re, line, RE_N, m, 0), 0, "not RFC 5424: %s", line);
	cr_assert_leq(atoi(group(line, m, RE_PRI, buf, sizeof(buf))), 191, "%s", line);
	cr_assert_str_eq(group(line, m, RE_TS, buf, sizeof(buf)), ts);
	cr_assert_str_eq(group(line, m, RE_HOST, buf, sizeof(buf)), hostname);
	cr_assert_str_eq(group(line, m, RE_APP, buf, sizeof(buf)), "cgnatd");
	cr_assert_eq(atoi(group(line, m, RE_PROCID, buf, sizeof(buf))), getpid());
	cr_assert_str_eq(group(line, m, RE_MSGID, buf, sizeof(buf)), x->msgid);
	cr_assert_str_eq(group(line, m, RE_SD, buf, sizeof(buf)), x->sd);
	cr_assert_str_eq(group(line, m, RE_MSG, buf, sizeof(buf)), x->msg);
	/* And the whole line, octet for octet. */
	snprintf(want, sizeof(want), "<%u>1 %s %s cgnatd %d %s %s %s", facility * 8 + x->severity, ts,
		 hostname, getpid(), x->msgid, x->sd, x->msg);
	cr_assert_str_eq(line, want);
}

TestSuite(syslog, .init = setup, .fini = teardown, .timeout = 20);

/* ---- Receivers ------------------------------------------------------------------------- */

static uint64_t
mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A socket bound to the loopback address of family af, port chosen by the kernel. */
static int
bind_loopback(int af, int type, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int one = 1, fd = socket(af, type, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (af == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(*port);
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(*port);
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -errno;
	}
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(af == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (type == SOCK_STREAM)
		cr_assert_eq(listen(fd, 4), 0);
	return fd;
}

/* Receives one datagram (NUL-terminated) within timeout_ms. @return its length, or -1. */
static ssize_t
recv_dgram(int fd, char *buf, size_t size, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	ssize_t n = recv(fd, buf, size - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	return n;
}

static struct cgn_config cfg;

static void
config_for(int transport, const char *server, uint16_t port)
{
	cgn_config_defaults(&cfg);
	cfg.logging.syslog.transport = transport;
	if (server != NULL)
		cr_assert_eq(cgn_addr_parse(server, &cfg.logging.syslog.server.addr), 0);
	cfg.logging.syslog.server.port = port;
	snprintf(cfg.logging.syslog.hostname, sizeof(cfg.logging.syslog.hostname), "cgn1");
}

static struct cgn_sink_stats
stats_of(const struct cgn_log_sink *s)
{
	return s->stats;
}

/* Receives one datagram within timeout_ms, flushing s meanwhile (lines a full AF_UNIX queue
 * did not take wait in the sink for its next flush, as they do for the logger's).
 * @return its length, or -1. */
static ssize_t
recv_flushing(struct cgn_log_sink *s, int fd, char *buf, size_t size, int timeout_ms, uint64_t now)
{
	for (int waited = 0; waited < timeout_ms; waited += 10) {
		ssize_t n = recv_dgram(fd, buf, size, 10);
		if (n > 0)
			return n;
		s->flush(s, now);
	}
	return -1;
}

/* Sends every case through a datagram sink and checks what the receiver fd gets. */
static void
every_kind_dgram(struct cgn_log_sink *s, int fd)
{
	char line[2048];

	for (unsigned i = 0; i < N_KINDS; i++)
		s->event(s, &cases[i].ev, WALL_MS);
	s->flush(s, 1000);
	for (unsigned i = 0; i < N_KINDS; i++) {
		ssize_t n = recv_flushing(s, fd, line, sizeof(line), 2000, 1000);
		cr_assert_gt(n, 0, "line %u never came", i);
		check_line(line, (size_t)n, &cases[i], "cgn1", cfg.logging.syslog.facility, WALL_TEXT);
	}
	cr_assert_eq(recv_flushing(s, fd, line, sizeof(line), 50, 1000), -1, "one line too many: %s", line);
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.events, N_KINDS);
	cr_assert_eq(st.sent, N_KINDS);
	cr_assert_eq(st.messages, N_KINDS);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(st.errors, 0);
	cr_assert_eq(st.connects, 1);
}

/* ---- Formatting ------------------------------------------------------------------------ */

Test(syslog, escape_param_value)
{
	char out[32];

	/* RFC 5424 §6.3.3: '"', '\' and ']' are escaped as '\"', '\\' and '\]'. */
	cr_assert_eq(cgn_syslog_escape(out, sizeof(out), "a\"b\\c]d[e"), 12);
	cr_assert_str_eq(out, "a\\\"b\\\\c\\]d[e");
	cr_assert_eq(cgn_syslog_escape(out, sizeof(out), ""), 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(cgn_syslog_escape(out, 4, "abc"), 3);
	cr_assert_eq(cgn_syslog_escape(out, 3, "abc"), -ENOSPC);
	cr_assert_eq(cgn_syslog_escape(out, 4, "ab]"), -ENOSPC);
	/* The expression the tests use agrees: an unescaped ']' or '"' is not a PARAM-VALUE. */
	const char *good = "<134>1 - h a p M [x@1 k=\"a\\]b\\\"c\\\\\"] m";
	const char *bad1 = "<134>1 - h a p M [x@1 k=\"a]b\"] m";
	const char *bad2 = "<134>1 - h a p M [x@1 k=\"a\"b\"] m";
	cr_assert_eq(regexec(&re, good, 0, NULL, 0), 0);
	cr_assert_neq(regexec(&re, bad1, 0, NULL, 0), 0);
	cr_assert_neq(regexec(&re, bad2, 0, NULL, 0), 0);
}

Test(syslog, format_every_kind)
{
	char line[CGN_SYSLOG_MSG_MAX];
	struct cgn_log_sink *s;
	char err[256];
	uint16_t port = 0;
	int fd = bind_loopback(AF_INET, SOCK_DGRAM, &port);

	config_for(CGN_SYSLOG_UDP, "127.0.0.1", port);
	cfg.logging.syslog.facility = 23; /* local7: PRI 190 and 188 */
	s = cgn_syslog_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	for (unsigned i = 0; i < N_KINDS; i++) {
		int n = cgn_syslog_format(s, &cases[i].ev, WALL_MS, line, sizeof(line));
		cr_assert_gt(n, 0);
		/* RFC 5426 §3.2: every receiver takes 480 octets over IPv4. */
		cr_assert_leq(n, 480, "%s", line);
		check_line(line, (size_t)n, &cases[i], "cgn1", 23, WALL_TEXT);
	}
	/* §6.2.3: no time known: the NILVALUE. */
	int n = cgn_syslog_format(s, &cases[0].ev, 0, line, sizeof(line));
	cr_assert_gt(n, 0);
	check_line(line, (size_t)n, &cases[0], "cgn1", 23, "-");
	/* The epoch's milliseconds are padded: .007 */
	cr_assert_gt(cgn_syslog_format(s, &cases[0].ev, 86400007, line, sizeof(line)), 0);
	cr_assert(strstr(line, " 1970-01-02T00:00:00.007Z ") != NULL, "%s", line);
	/* What cgn_event_check() refuses is not formatted; what does not fit is not cut. */
	struct cgn_event bad = cases[0].ev;
	bad.nat_event = 2; /* Historic */
	cr_assert_eq(cgn_syslog_format(s, &bad, WALL_MS, line, sizeof(line)), -EINVAL);
	bad = cases[0].ev;
	bad.port_first = 2, bad.port_last = 1;
	cr_assert_eq(cgn_syslog_format(s, &bad, WALL_MS, line, sizeof(line)), -EINVAL);
	cr_assert_eq(cgn_syslog_format(s, &cases[0].ev, WALL_MS, line, 40), -ENOSPC);
	s->close(s);
	close(fd);
}

Test(syslog, open_refuses_what_cannot_work)
{
	char err[256];
	char dir[] = "/tmp/cgn-syslog-XXXXXX", path[300];

	config_for(CGN_SYSLOG_NONE, NULL, 0);
	cr_assert_null(cgn_syslog_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "no transport") != NULL, "%s", err);

	config_for(CGN_SYSLOG_UDP, "127.0.0.1", 514);
	cfg.logging.syslog.facility = 24;
	cr_assert_null(cgn_syslog_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "facility 24") != NULL, "%s", err);

	config_for(CGN_SYSLOG_UDP, "127.0.0.1", 514);
	snprintf(cfg.logging.syslog.hostname, sizeof(cfg.logging.syslog.hostname), "cgn 1");
	cr_assert_null(cgn_syslog_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "hostname") != NULL, "%s", err);

	config_for(CGN_SYSLOG_UDP, NULL, 514);
	cr_assert_null(cgn_syslog_open(&cfg, err, sizeof(err)));
	cr_assert(strstr(err, "no server address") != NULL, "%s", err);

	/* No syslog daemon at the local socket: refused at start, saying where it looked. */
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	config_for(CGN_SYSLOG_LOCAL, NULL, 0);
	cr_assert_null(cgn_syslog_open_path(&cfg, path, err, sizeof(err)));
	cr_assert(strstr(err, path) != NULL && strstr(err, "No such file") != NULL, "%s", err);
	rmdir(dir);
}

/* ---- UDP (RFC 5426) -------------------------------------------------------------------- */

Test(syslog, udp_every_kind)
{
	char err[256];
	uint16_t port = 0;
	int fd = bind_loopback(AF_INET, SOCK_DGRAM, &port);

	config_for(CGN_SYSLOG_UDP, "127.0.0.1", port);
	struct cgn_log_sink *s = cgn_syslog_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_str_eq(s->name, "syslog");
	every_kind_dgram(s, fd);
	s->close(s);
	close(fd);
}

Test(syslog, udp_ipv6_and_default_hostname)
{
	char err[256], host[256], line[2048];
	uint16_t port = 0;
	int fd = bind_loopback(AF_INET6, SOCK_DGRAM, &port);

	if (fd < 0)
		cr_skip_test("no ::1 in this namespace (%s)", strerror(-fd));
	config_for(CGN_SYSLOG_UDP, "::1", port);
	cfg.logging.syslog.hostname[0] = '\0';
	struct cgn_log_sink *s = cgn_syslog_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	s->event(s, &cases[0].ev, WALL_MS);
	s->flush(s, 1000);
	ssize_t n = recv_dgram(fd, line, sizeof(line), 2000);
	cr_assert_gt(n, 0);
	check_line(line, (size_t)n, &cases[0], host[0] != '\0' ? host : "-", 16, WALL_TEXT);
	s->close(s);
	close(fd);
}

Test(syslog, udp_server_down_counts_errors)
{
	char err[256], line[2048];
	uint16_t port = 0;
	int fd = bind_loopback(AF_INET, SOCK_DGRAM, &port);

	config_for(CGN_SYSLOG_UDP, "127.0.0.1", port);
	struct cgn_log_sink *s = cgn_syslog_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	close(fd); /* nobody on the port: ICMP port unreachable, then ECONNREFUSED on a send */
	for (unsigned round = 0; round < 3; round++) {
		s->event(s, &cases[0].ev, WALL_MS);
		s->flush(s, 1000 + round);
		usleep(20000);
	}
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.events, 3);
	/* UDP cannot know: every line left, the refusals (ICMP) of the earlier ones showed as
	 * errors on the next sends, which went out again. */
	cr_assert_eq(st.sent, 3);
	cr_assert_eq(st.dropped, 0);
	cr_assert_geq(st.errors, 1, "the refusal was not seen");
	/* The server is back on the same port: the next line reaches it. */
	fd = bind_loopback(AF_INET, SOCK_DGRAM, &port);
	cr_assert_geq(fd, 0);
	s->event(s, &cases[1].ev, WALL_MS);
	s->flush(s, 2000);
	ssize_t n = recv_dgram(fd, line, sizeof(line), 2000);
	cr_assert_gt(n, 0);
	check_line(line, (size_t)n, &cases[1], "cgn1", 16, WALL_TEXT);
	s->close(s);
	close(fd);
}

/* ---- Local (/dev/log) ------------------------------------------------------------------ */

static int
bind_unix(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", path);
	unlink(path);
	cr_assert_eq(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0, "bind %s: %s", path, strerror(errno));
	return fd;
}

Test(syslog, local_every_kind_and_daemon_restart)
{
	char dir[] = "/tmp/cgn-syslog-XXXXXX", path[300], err[256], line[2048];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	int fd = bind_unix(path);
	config_for(CGN_SYSLOG_LOCAL, NULL, 0);
	struct cgn_log_sink *s = cgn_syslog_open_path(&cfg, path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	every_kind_dgram(s, fd);

	/* The daemon restarts: its socket is gone (lines dropped, counted), then a new one at the
	 * same path, found again within CGN_SYSLOG_RECONNECT_MS. */
	close(fd);
	unlink(path);
	s->event(s, &cases[0].ev, WALL_MS);
	s->flush(s, 2000);
	cr_assert(!cgn_syslog_is_up(s));
	s->event(s, &cases[0].ev, WALL_MS);
	s->flush(s, 2001); /* the retry at once fails: nothing at the path */
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.dropped, 2);
	cr_assert_geq(st.errors, 2);
	fd = bind_unix(path);
	s->flush(s, 2002);
	cr_assert(!cgn_syslog_is_up(s), "retried before CGN_SYSLOG_RECONNECT_MS");
	s->flush(s, 2001 + CGN_SYSLOG_RECONNECT_MS);
	cr_assert(cgn_syslog_is_up(s));
	s->event(s, &cases[2].ev, WALL_MS);
	s->flush(s, 2002 + CGN_SYSLOG_RECONNECT_MS);
	ssize_t n = recv_dgram(fd, line, sizeof(line), 2000);
	cr_assert_gt(n, 0);
	check_line(line, (size_t)n, &cases[2], "cgn1", 16, WALL_TEXT);
	st = stats_of(s);
	cr_assert_eq(st.connects, 2);
	cr_assert_eq(st.events, N_KINDS + 3);
	cr_assert_eq(st.sent, N_KINDS + 1);
	cr_assert_eq(st.sent + st.dropped, st.events);
	s->close(s);
	close(fd);
	unlink(path);
	rmdir(dir);
}

Test(syslog, local_daemon_not_reading_never_blocks)
{
	char dir[] = "/tmp/cgn-syslog-XXXXXX", path[300], err[256], line[2048];
	const unsigned total = 2000;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	int fd = bind_unix(path);
	config_for(CGN_SYSLOG_LOCAL, NULL, 0);
	struct cgn_log_sink *s = cgn_syslog_open_path(&cfg, path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);

	/* The daemon reads nothing: its queue fills, then the sink's batch; the rest is dropped. */
	uint64_t t0 = mono_ms();
	for (unsigned i = 0; i < total; i++) {
		s->event(s, &cases[i % N_KINDS].ev, WALL_MS);
		if (i % 8 == 7)
			s->flush(s, 1000);
	}
	cr_assert_lt(mono_ms() - t0, 2000, "the sink blocked");
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.events, total);
	cr_assert_gt(st.dropped, 0);
	cr_assert_eq(st.errors, 0, "a full queue is not an error");
	cr_assert_leq(total - st.sent - st.dropped, CGN_SYSLOG_BATCH);

	/* It reads again: what the sink kept comes too, every line valid. */
	unsigned got = 0;
	while (recv_flushing(s, fd, line, sizeof(line), 200, 1000) > 0) {
		cr_assert_eq(regexec(&re, line, 0, NULL, 0), 0, "not RFC 5424: %s", line);
		got++;
	}
	st = stats_of(s);
	cr_assert_eq(st.sent + st.dropped, total);
	cr_assert_eq(got, st.sent);
	s->close(s);
	close(fd);
	unlink(path);
	rmdir(dir);
}

/* ---- TCP (RFC 6587 octet counting) ----------------------------------------------------- */

/* A TCP receiver's stream and the frames parsed from it. */
struct stream {
	int fd;
	char buf[1 << 20];
	size_t len;
};

static struct stream rx;

/* Reads what has come within timeout_ms into rx. @return false if the peer closed. */
static bool
stream_read(int timeout_ms)
{
	struct pollfd p = { .fd = rx.fd, .events = POLLIN };
	if (poll(&p, 1, timeout_ms) != 1)
		return true;
	ssize_t n = recv(rx.fd, rx.buf + rx.len, sizeof(rx.buf) - rx.len, 0);
	cr_assert_geq(n, 0);
	rx.len += (size_t)n;
	return n > 0;
}

/*
 * Takes one "MSG-LEN SP SYSLOG-MSG" frame off rx into line (NUL-terminated).
 * @return its length, 0 if no whole frame is there yet; fails the test if it is malformed.
 */
static size_t
stream_frame(char *line, size_t size)
{
	size_t i = 0, len = 0;

	while (i < rx.len && rx.buf[i] >= '0' && rx.buf[i] <= '9') {
		cr_assert(i > 0 || rx.buf[i] != '0', "MSG-LEN starts with 0");
		len = len * 10 + (size_t)(rx.buf[i++] - '0');
		cr_assert_lt(i, 8, "MSG-LEN too long");
	}
	if (i == rx.len)
		return 0;
	cr_assert(i > 0 && rx.buf[i] == ' ', "not an octet-counted frame at: %.40s", rx.buf);
	if (rx.len < i + 1 + len)
		return 0;
	cr_assert_lt(len, size);
	memcpy(line, rx.buf + i + 1, len);
	line[len] = '\0';
	memmove(rx.buf, rx.buf + i + 1 + len, rx.len - i - 1 - len);
	rx.len -= i + 1 + len;
	return len;
}

/* Reads frames until want of them came (or 3 s passed) and checks each against cases[]
 * (case k % N_KINDS for the k-th). @return how many came. */
static unsigned
stream_expect(unsigned want, unsigned first)
{
	char line[2048];
	unsigned got = 0;
	uint64_t end = mono_ms() + 3000;

	while (got < want && mono_ms() < end) {
		size_t n;
		while (got < want && (n = stream_frame(line, sizeof(line))) > 0) {
			check_line(line, n, &cases[(first + got) % N_KINDS], "cgn1", 16, WALL_TEXT);
			got++;
		}
		if (got < want && !stream_read(50))
			break;
	}
	return got;
}

static int
accept_within(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, timeout_ms), 1, "the sink did not connect");
	int fd = accept(lfd, NULL, NULL);
	cr_assert_geq(fd, 0);
	return fd;
}

/* Opens a TCP sink to a listener on 127.0.0.1 and accepts its connection. */
static struct cgn_log_sink *
tcp_open(int *lfd, uint16_t *port)
{
	char err[256];

	*port = 0;
	*lfd = bind_loopback(AF_INET, SOCK_STREAM, port);
	config_for(CGN_SYSLOG_TCP, "127.0.0.1", *port);
	struct cgn_log_sink *s = cgn_syslog_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	rx.fd = accept_within(*lfd, 2000);
	rx.len = 0;
	for (unsigned i = 0; i < 100 && !cgn_syslog_is_up(s); i++) {
		s->flush(s, 1000);
		usleep(1000);
	}
	cr_assert(cgn_syslog_is_up(s));
	return s;
}

Test(syslog, tcp_every_kind_octet_counted)
{
	int lfd;
	uint16_t port;
	struct cgn_log_sink *s = tcp_open(&lfd, &port);

	for (unsigned i = 0; i < N_KINDS; i++)
		s->event(s, &cases[i].ev, WALL_MS);
	s->flush(s, 1000);
	cr_assert_eq(stream_expect(N_KINDS, 0), N_KINDS);
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.events, N_KINDS);
	cr_assert_eq(st.sent, N_KINDS);
	cr_assert_eq(st.messages, N_KINDS);
	cr_assert_eq(st.dropped, 0);
	cr_assert_eq(st.connects, 1);
	cr_assert_eq(st.errors, 0);
	s->close(s);
	/* close() sent everything and closed: the receiver sees the end, nothing more. */
	cr_assert(!stream_read(2000));
	cr_assert_eq(rx.len, 0);
	close(rx.fd);
	close(lfd);
}

Test(syslog, tcp_server_not_reading_never_blocks)
{
	int lfd;
	uint16_t port;
	struct cgn_log_sink *s = tcp_open(&lfd, &port);
	const unsigned total = 40000; /* ~8 MB of frames: far more than every buffer on the way */

	/* The receiver reads nothing: the kernel's buffers, then the sink's, fill up. */
	uint64_t t0 = mono_ms();
	for (unsigned i = 0; i < total; i++) {
		s->event(s, &cases[i % N_KINDS].ev, WALL_MS);
		if (i % 64 == 63)
			s->flush(s, 1000);
	}
	s->flush(s, 1000);
	uint64_t took = mono_ms() - t0;
	cr_assert_lt(took, 3000, "the sink blocked: %llu ms", (unsigned long long)took);
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.events, total);
	cr_assert_gt(st.dropped, 0, "nothing dropped with a server that does not read");
	cr_assert_lt(st.sent + st.dropped, total + 1);
	uint64_t queued = total - st.sent - st.dropped;
	/* What is queued fits the sink's own buffer (frames of 100+ octets). */
	cr_assert_leq(queued * 100, CGN_SYSLOG_TCP_BUF, "%llu queued", (unsigned long long)queued);

	/* The receiver reads again: every frame it gets is whole and in order (frames cut by
	 * partial writes were continued, never restarted or mixed), and all that was sent. The
	 * frames received are a run of the cases with gaps where lines were dropped, so only
	 * the framing and the ABNF are checked here, plus the count. */
	unsigned got = 0;
	char line[2048];
	uint64_t end = mono_ms() + 5000;
	while (mono_ms() < end) {
		size_t n;
		s->flush(s, 1000);
		while ((n = stream_frame(line, sizeof(line))) > 0) {
			regmatch_t m[RE_N];
			cr_assert_eq(regexec(&re, line, RE_N, m, 0), 0, "not RFC 5424: %s", line);
			got++;
		}
		st = stats_of(s);
		if (st.sent + st.dropped == total && got == st.sent)
			break;
		stream_read(10);
	}
	st = stats_of(s);
	cr_assert_eq(st.sent + st.dropped, total, "frames left queued");
	cr_assert_eq(got, st.sent);
	cr_assert_eq(st.messages, st.sent);
	cr_assert_eq(st.errors, 0);
	s->close(s);
	close(rx.fd);
	close(lfd);
}

Test(syslog, tcp_server_restart_reconnects)
{
	int lfd;
	uint16_t port;
	struct cgn_log_sink *s = tcp_open(&lfd, &port);
	uint64_t now = 1000;

	for (unsigned i = 0; i < N_KINDS; i++)
		s->event(s, &cases[i].ev, WALL_MS);
	s->flush(s, now);
	cr_assert_eq(stream_expect(N_KINDS, 0), N_KINDS);

	/* The server goes away. The sink sees the end at its next flush, tries again at once
	 * (refused), and drops what comes meanwhile, fast. */
	close(rx.fd);
	close(lfd);
	usleep(10000);
	s->flush(s, ++now);
	cr_assert(!cgn_syslog_is_up(s));
	uint64_t t0 = mono_ms();
	for (unsigned i = 0; i < 1000; i++)
		s->event(s, &cases[i % N_KINDS].ev, WALL_MS);
	s->flush(s, ++now);
	cr_assert_lt(mono_ms() - t0, 1000);
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.sent, N_KINDS);
	cr_assert_eq(st.dropped, 1000);
	cr_assert_geq(st.errors, 1, "the refused reconnection was not counted");

	/* Back on the same port: reconnected only once CGN_SYSLOG_RECONNECT_MS passed. */
	lfd = bind_loopback(AF_INET, SOCK_STREAM, &port);
	cr_assert_geq(lfd, 0);
	s->flush(s, now + 10);
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, 100), 0, "reconnected before CGN_SYSLOG_RECONNECT_MS");
	now += CGN_SYSLOG_RECONNECT_MS;
	s->flush(s, now);
	rx.fd = accept_within(lfd, 2000);
	rx.len = 0;
	for (unsigned i = 0; i < 100 && !cgn_syslog_is_up(s); i++) {
		s->flush(s, ++now);
		usleep(1000);
	}
	cr_assert(cgn_syslog_is_up(s));
	for (unsigned i = 0; i < N_KINDS; i++)
		s->event(s, &cases[i].ev, WALL_MS);
	s->flush(s, ++now);
	cr_assert_eq(stream_expect(N_KINDS, 0), N_KINDS);
	st = stats_of(s);
	cr_assert_eq(st.connects, 2);
	cr_assert_eq(st.events, 2 * N_KINDS + 1000);
	cr_assert_eq(st.sent, 2 * N_KINDS);
	cr_assert_eq(st.dropped, 1000);
	s->close(s);
	close(rx.fd);
	close(lfd);
}

Test(syslog, tcp_server_not_up_at_start)
{
	char err[256];
	uint16_t port = 0;
	int lfd = bind_loopback(AF_INET, SOCK_STREAM, &port);

	close(lfd); /* a free port, nobody listening */
	config_for(CGN_SYSLOG_TCP, "127.0.0.1", port);
	struct cgn_log_sink *s = cgn_syslog_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "a TCP server not up yet is not an error: %s", err);
	s->flush(s, 1000);
	s->event(s, &cases[0].ev, WALL_MS);
	s->flush(s, 1001);
	cr_assert(!cgn_syslog_is_up(s));
	lfd = bind_loopback(AF_INET, SOCK_STREAM, &port);
	s->flush(s, 1000 + CGN_SYSLOG_RECONNECT_MS);
	rx.fd = accept_within(lfd, 2000);
	rx.len = 0;
	for (unsigned i = 0; i < 100 && !cgn_syslog_is_up(s); i++) {
		s->flush(s, 1001 + CGN_SYSLOG_RECONNECT_MS);
		usleep(1000);
	}
	cr_assert(cgn_syslog_is_up(s));
	s->event(s, &cases[3].ev, WALL_MS);
	s->flush(s, 1002 + CGN_SYSLOG_RECONNECT_MS);
	cr_assert_eq(stream_expect(1, 3), 1);
	struct cgn_sink_stats st = stats_of(s);
	cr_assert_eq(st.dropped, 1);
	cr_assert_eq(st.sent, 1);
	cr_assert_eq(st.connects, 1);
	s->close(s);
	close(rx.fd);
	close(lfd);
}
