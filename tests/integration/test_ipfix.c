/*
 * The IPFIX sink (control/log_ipfix.c, RFC 7011 + RFC 8158) against a real collector: the test
 * tool ipfix_collect (libfixbuf's reading side) on loopback, in a network namespace of its own
 * (tests/netns_run.sh). Every event kind goes through the sink's ->event/->flush and every
 * field the collector decodes is checked; tshark decodes the collector's pcap without a
 * malformed field; a TCP collector stopped and restarted costs counted events, never a stall,
 * and gets the templates again on the new connection.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr_text.h"
#include "cgn_config.h"
#include "log_sink.h"
#include "proc.h"

#define WALL0 1700000000000ull

static char dir[64];

static void
setup(void)
{
	strcpy(dir, "/tmp/cgn-ipfix-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char out[256];
	if (getenv("IPFIX_KEEP") == NULL) /* IPFIX_KEEP=1: keep the logs and pcaps to look at */
		proc_run(out, sizeof(out), "rm -rf %s", dir);
	else
		fprintf(stderr, "kept %s\n", dir);
}

TestSuite(ipfix, .init = setup, .fini = teardown, .timeout = 60);

static uint64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static uint32_t
v4(const char *text)
{
	struct cgn_addr a = A(text);
	cr_assert(cgn_addr_is_v4(&a), "%s", text);
	return cgn_addr_v4(&a);
}

/* One event of each kind and family, and the line the collector must print for it. */
struct expect {
	struct cgn_event ev;
	const char *line;
};

#define EV(...) ((struct cgn_event){ __VA_ARGS__ })

static void
build_cases(struct expect *c, unsigned *n)
{
	unsigned i = 0;
#define CASE(ev_, line_) (c[i].ev = (ev_), c[i].line = (line_), i++)
	CASE(EV(.nat_event = CGN_NATEV_NAT44_SESSION_CREATE, .proto = 6, .internal = A("100.64.0.10"),
		.int_port = 40000, .ext_addr = v4("198.51.100.1"), .ext_port = 1025),
	     "template=256 observationTimeMilliseconds=1700000000000 natEvent=4 sourceIPv4Address=100.64.0.10 "
	     "postNATSourceIPv4Address=198.51.100.1 protocolIdentifier=6 sourceTransportPort=40000 "
	     "postNAPTSourceTransportPort=1025");
	CASE(EV(.nat_event = CGN_NATEV_NAT64_SESSION_DELETE, .proto = 17, .internal = A("2001:db8::10"),
		.int_port = 5353, .ext_addr = v4("198.51.100.2"), .ext_port = 2000),
	     "template=257 observationTimeMilliseconds=1700000000001 natEvent=7 sourceIPv6Address=2001:db8::10 "
	     "postNATSourceIPv4Address=198.51.100.2 protocolIdentifier=17 sourceTransportPort=5353 "
	     "postNAPTSourceTransportPort=2000");
	CASE(EV(.nat_event = CGN_NATEV_NAT44_BIB_CREATE, .proto = 6, .origin = CGN_ORIGIN_PCP,
		.internal = A("100.64.0.11"), .int_port = 8080, .ext_addr = v4("198.51.100.1"),
		.ext_port = 8081, .lifetime_s = 3600),
	     "template=258 observationTimeMilliseconds=1700000000002 natEvent=8 sourceIPv4Address=100.64.0.11 "
	     "postNATSourceIPv4Address=198.51.100.1 protocolIdentifier=6 sourceTransportPort=8080 "
	     "postNAPTSourceTransportPort=8081");
	CASE(EV(.nat_event = CGN_NATEV_NAT64_BIB_DELETE, .proto = 17, .origin = CGN_ORIGIN_NATPMP,
		.internal = A("2001:db8::11"), .int_port = 53, .ext_addr = v4("198.51.100.2"), .ext_port = 5300),
	     "template=259 observationTimeMilliseconds=1700000000003 natEvent=11 sourceIPv6Address=2001:db8::11 "
	     "postNATSourceIPv4Address=198.51.100.2 protocolIdentifier=17 sourceTransportPort=53 "
	     "postNAPTSourceTransportPort=5300");
	CASE(EV(.nat_event = CGN_NATEV_ADDRESSES_EXHAUSTED, .internal = A("100.64.0.12")),
	     "template=260 observationTimeMilliseconds=1700000000004 natEvent=3 natPoolId=1");
	CASE(EV(.nat_event = CGN_NATEV_PORTS_EXHAUSTED, .proto = 17, .internal = A("100.64.0.12"),
		.ext_addr = v4("198.51.100.3")),
	     "template=261 observationTimeMilliseconds=1700000000005 natEvent=12 "
	     "postNATSourceIPv4Address=198.51.100.3 protocolIdentifier=17");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_SESSIONS, .value = 1000000,
		.internal = A("100.64.0.12")),
	     "template=262 observationTimeMilliseconds=1700000000006 natEvent=13 natQuotaExceededEvent=1 "
	     "maxSessionEntries=1000000");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_BIB, .value = 500,
		.internal = A("100.64.0.12")),
	     "template=263 observationTimeMilliseconds=1700000000007 natEvent=13 natQuotaExceededEvent=2 "
	     "maxBIBEntries=500");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_PER_USER, .value = 2048,
		.internal = A("100.64.0.12")),
	     "template=264 observationTimeMilliseconds=1700000000008 natEvent=13 natQuotaExceededEvent=3 "
	     "maxEntriesPerUser=2048 sourceIPv4Address=100.64.0.12");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_PER_USER, .value = 4096,
		.internal = A("2001:db8::12")),
	     "template=265 observationTimeMilliseconds=1700000000009 natEvent=13 natQuotaExceededEvent=3 "
	     "maxEntriesPerUser=4096 sourceIPv6Address=2001:db8::12");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_SUBSCRIBERS, .value = 65536,
		.internal = A("100.64.0.13")),
	     "template=266 observationTimeMilliseconds=1700000000010 natEvent=13 natQuotaExceededEvent=4 "
	     "maxSubscribers=65536");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_FRAGMENTS, .value = 64,
		.internal = A("100.64.0.13")),
	     "template=267 observationTimeMilliseconds=1700000000011 natEvent=13 natQuotaExceededEvent=5 "
	     "maxFragmentsPendingReassembly=64 sourceIPv4Address=100.64.0.13");
	CASE(EV(.nat_event = CGN_NATEV_QUOTA_EXCEEDED, .sub_event = CGN_QUOTA_FRAGMENTS, .value = 32,
		.internal = A("2001:db8::13")),
	     "template=268 observationTimeMilliseconds=1700000000012 natEvent=13 natQuotaExceededEvent=5 "
	     "maxFragmentsPendingReassembly=32 sourceIPv6Address=2001:db8::13");
	CASE(EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_POOL_HIGH, .value = 90,
		.internal = A("100.64.0.13")),
	     "template=269 observationTimeMilliseconds=1700000000013 natEvent=18 natThresholdEvent=1 natPoolId=1 "
	     "addressPoolHighThreshold=90");
	CASE(EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_POOL_LOW, .value = 10,
		.internal = A("100.64.0.13")),
	     "template=270 observationTimeMilliseconds=1700000000014 natEvent=18 natThresholdEvent=2 natPoolId=1 "
	     "addressPoolLowThreshold=10");
	CASE(EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_PORTS_HIGH, .value = 85,
		.internal = A("100.64.0.13")),
	     "template=271 observationTimeMilliseconds=1700000000015 natEvent=18 natThresholdEvent=3 "
	     "addressPortMappingHighThreshold=85");
	CASE(EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_PER_USER_HIGH, .value = 80,
		.internal = A("100.64.0.14")),
	     "template=272 observationTimeMilliseconds=1700000000016 natEvent=18 natThresholdEvent=4 "
	     "addressPortMappingHighThreshold=80 sourceIPv4Address=100.64.0.14");
	CASE(EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_PER_USER_HIGH, .value = 75,
		.internal = A("2001:db8::14")),
	     "template=273 observationTimeMilliseconds=1700000000017 natEvent=18 natThresholdEvent=4 "
	     "addressPortMappingHighThreshold=75 sourceIPv6Address=2001:db8::14");
	CASE(EV(.nat_event = CGN_NATEV_THRESHOLD_REACHED, .sub_event = CGN_THRESHOLD_GLOBAL_HIGH, .value = 95,
		.internal = A("100.64.0.14")),
	     "template=274 observationTimeMilliseconds=1700000000018 natEvent=18 natThresholdEvent=5 "
	     "globalAddressMappingHighThreshold=95");
	CASE(EV(.nat_event = CGN_NATEV_BINDING_CREATE, .internal = A("100.64.0.15"), .ext_addr = v4("198.51.100.4")),
	     "template=275 observationTimeMilliseconds=1700000000019 natEvent=14 sourceIPv4Address=100.64.0.15 "
	     "postNATSourceIPv4Address=198.51.100.4");
	CASE(EV(.nat_event = CGN_NATEV_BINDING_DELETE, .internal = A("2001:db8:1::"), .ext_addr = v4("198.51.100.5")),
	     "template=276 observationTimeMilliseconds=1700000000020 natEvent=15 sourceIPv6Address=2001:db8:1:: "
	     "postNATSourceIPv4Address=198.51.100.5");
	CASE(EV(.nat_event = CGN_NATEV_PORT_BLOCK_ALLOC, .internal = A("100.64.0.15"), .ext_addr = v4("198.51.100.4"),
		.port_first = 1024, .port_last = 1535),
	     "template=277 observationTimeMilliseconds=1700000000021 natEvent=16 sourceIPv4Address=100.64.0.15 "
	     "postNATSourceIPv4Address=198.51.100.4 portRangeStart=1024 portRangeEnd=1535");
	CASE(EV(.nat_event = CGN_NATEV_PORT_BLOCK_FREE, .internal = A("2001:db8:1::"), .ext_addr = v4("198.51.100.5"),
		.port_first = 64512, .port_last = 65535),
	     "template=278 observationTimeMilliseconds=1700000000022 natEvent=17 sourceIPv6Address=2001:db8:1:: "
	     "postNATSourceIPv4Address=198.51.100.5 portRangeStart=64512 portRangeEnd=65535");
#undef CASE
	for (unsigned k = 0; k < i; k++)
		cr_assert(cgn_event_check(&c[k].ev), "case %u", k);
	*n = i;
}

/* The templates the collector must print (RFC 8158 §4.6 order, IANA lengths). */
static const char *const expected_templates[] = {
	"id=256 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv4Address/4,postNATSourceIPv4Address/4,"
	"protocolIdentifier/1,sourceTransportPort/2,postNAPTSourceTransportPort/2\n",
	"id=257 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv6Address/16,postNATSourceIPv4Address/4,"
	"protocolIdentifier/1,sourceTransportPort/2,postNAPTSourceTransportPort/2\n",
	"id=258 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv4Address/4,postNATSourceIPv4Address/4,"
	"protocolIdentifier/1,sourceTransportPort/2,postNAPTSourceTransportPort/2\n",
	"id=259 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv6Address/16,postNATSourceIPv4Address/4,"
	"protocolIdentifier/1,sourceTransportPort/2,postNAPTSourceTransportPort/2\n",
	"id=260 fields=observationTimeMilliseconds/8,natEvent/1,natPoolId/4\n",
	"id=261 fields=observationTimeMilliseconds/8,natEvent/1,postNATSourceIPv4Address/4,protocolIdentifier/1\n",
	"id=262 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,maxSessionEntries/4\n",
	"id=263 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,maxBIBEntries/4\n",
	"id=264 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,maxEntriesPerUser/4,"
	"sourceIPv4Address/4\n",
	"id=265 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,maxEntriesPerUser/4,"
	"sourceIPv6Address/16\n",
	"id=266 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,maxSubscribers/4\n",
	"id=267 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,"
	"maxFragmentsPendingReassembly/4,sourceIPv4Address/4\n",
	"id=268 fields=observationTimeMilliseconds/8,natEvent/1,natQuotaExceededEvent/4,"
	"maxFragmentsPendingReassembly/4,sourceIPv6Address/16\n",
	"id=269 fields=observationTimeMilliseconds/8,natEvent/1,natThresholdEvent/4,natPoolId/4,"
	"addressPoolHighThreshold/4\n",
	"id=270 fields=observationTimeMilliseconds/8,natEvent/1,natThresholdEvent/4,natPoolId/4,"
	"addressPoolLowThreshold/4\n",
	"id=271 fields=observationTimeMilliseconds/8,natEvent/1,natThresholdEvent/4,addressPortMappingHighThreshold/4\n",
	"id=272 fields=observationTimeMilliseconds/8,natEvent/1,natThresholdEvent/4,addressPortMappingHighThreshold/4,"
	"sourceIPv4Address/4\n",
	"id=273 fields=observationTimeMilliseconds/8,natEvent/1,natThresholdEvent/4,addressPortMappingHighThreshold/4,"
	"sourceIPv6Address/16\n",
	"id=274 fields=observationTimeMilliseconds/8,natEvent/1,natThresholdEvent/4,"
	"globalAddressMappingHighThreshold/4\n",
	"id=275 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv4Address/4,postNATSourceIPv4Address/4\n",
	"id=276 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv6Address/16,postNATSourceIPv4Address/4\n",
	"id=277 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv4Address/4,postNATSourceIPv4Address/4,"
	"portRangeStart/2,portRangeEnd/2\n",
	"id=278 fields=observationTimeMilliseconds/8,natEvent/1,sourceIPv6Address/16,postNATSourceIPv4Address/4,"
	"portRangeStart/2,portRangeEnd/2\n",
};
#define N_TEMPLATES (sizeof(expected_templates) / sizeof(expected_templates[0]))

static unsigned
count_of(const char *text, const char *needle)
{
	unsigned n = 0;
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static struct cgn_config cfg;

static struct cgn_log_sink *
open_sink(bool tcp, uint16_t port, uint32_t refresh_s, uint32_t reconnect_s)
{
	char err[256] = "";
	cgn_config_defaults(&cfg);
	cfg.logging.ipfix.on = true;
	cfg.logging.ipfix.collector.addr = A("127.0.0.1");
	cfg.logging.ipfix.collector.port = port;
	cfg.logging.ipfix.tcp = tcp;
	cfg.logging.ipfix.observation_domain = 7;
	cfg.logging.ipfix.template_refresh_s = refresh_s;
	cfg.logging.ipfix.reconnect_s = reconnect_s;
	struct cgn_log_sink *s = cgn_ipfix_open(&cfg, err, sizeof(err));
	cr_assert_not_null(s, "cgn_ipfix_open: %s", err);
	cr_assert_str_eq(s->name, "ipfix");
	return s;
}

/* Waits up to ms for pid to exit by itself. @return its exit status, -1 if it had to be killed. */
static int
wait_exit(pid_t pid, unsigned ms)
{
	int st;
	for (unsigned waited = 0; waited < ms; waited += 10) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		sleep_ms(10);
	}
	proc_stop(pid, SIGKILL, 1000);
	return -1;
}

static pid_t
collector(const char *log, const char *args)
{
	pid_t pid = proc_spawn(log, "%s %s", proc_env("IPFIX_COLLECT"), args);
	cr_assert(proc_wait_file_contains(log, "ready proto=", 5000), "collector did not start");
	return pid;
}

/* Every kind over UDP: every field, the templates, their refresh, message size, sequence
 * numbers, the counters; and tshark's view of the same messages. */
Test(ipfix, udp_every_event_kind)
{
	struct expect c[32];
	unsigned n;
	char log[128], pcap[128], line[512];

	build_cases(c, &n);
	snprintf(log, sizeof(log), "%s/collector.log", dir);
	snprintf(pcap, sizeof(pcap), "%s/ipfix.pcap", dir);
	char args[256];
	snprintf(args, sizeof(args), "-u -p 4739 -n %u -T 15 -w %s", n + 1, pcap);
	pid_t pid = collector(log, args);

	struct cgn_log_sink *s = open_sink(false, 4739, 1, 5);
	uint64_t t0 = mono_ms();
	for (unsigned i = 0; i < n; i++)
		s->event(s, &c[i].ev, WALL0 + i);
	/* An event whose family does not fit its kind: counted, not sent. */
	struct cgn_event bad = c[0].ev;
	bad.internal = A("2001:db8::99");
	s->event(s, &bad, WALL0 + 99);
	s->flush(s, t0);
	/* template_refresh_s = 1: the next flush a second later sends them again (RFC 7011 §8.4). */
	sleep_ms(1100);
	s->flush(s, mono_ms());
	s->event(s, &c[n - 1].ev, WALL0 + 100);
	s->flush(s, mono_ms());

	cr_assert_eq(wait_exit(pid, 10000), 0, "the collector did not get every record");
	char *out = proc_read_file(log);
	cr_assert_not_null(out);

	for (unsigned i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "record domain=7 %s\n", c[i].line);
		cr_expect_eq(count_of(out, line), 1, "missing or repeated: %s\n--- collector:\n%s", line, out);
	}
	for (unsigned i = 0; i < N_TEMPLATES; i++) {
		snprintf(line, sizeof(line), "template domain=7 %s", expected_templates[i]);
		cr_expect_eq(count_of(out, line), 2, "template sent at start and refreshed once: %s", line);
	}
	cr_expect_eq(count_of(out, "template domain="), 2 * N_TEMPLATES, "no other template");
	cr_expect(strstr(out, "record domain=7 template=278 observationTimeMilliseconds=1700000000100 natEvent=17 ") !=
		  NULL, "the record after the refresh");
	cr_expect_eq(count_of(out, "record domain="), n + 1, "%s", out);
	cr_expect(strstr(out, "end records=24 ") != NULL);

	/* Messages fit a 512-octet packet (RFC 7011 §10.3.3); sequence numbers count data records. */
	unsigned msgs = 0, last_seq = 0;
	for (const char *p = out; (p = strstr(p, "message domain=7 seq=")) != NULL; p++) {
		unsigned seq, len;
		cr_assert_eq(sscanf(p, "message domain=7 seq=%u len=%u", &seq, &len), 2);
		cr_expect_leq(len, 512 - 28, "message of %u octets", len);
		cr_expect_geq(seq, last_seq, "sequence numbers never go back");
		last_seq = seq;
		msgs++;
	}
	cr_expect_eq(last_seq, n, "the last message follows the %u data records before it", n);

	cr_expect_eq(s->stats.events, n + 2);
	cr_expect_eq(s->stats.sent, n + 1);
	cr_expect_eq(s->stats.dropped, 1);
	cr_expect_eq(s->stats.errors, 0);
	cr_expect_eq(s->stats.messages, msgs, "every message the sink counted arrived");
	s->close(s);

	/* tshark: every message decodes, no malformed field, the natEvent values are there. */
	static char ts[1 << 20];
	int rc = proc_run(ts, sizeof(ts), "tshark -n -r %s -d udp.port==4739,cflow -V 2>&1", pcap);
	cr_assert_eq(rc, 0, "tshark: %s", ts);
	cr_expect_null(strcasestr(ts, "malformed"), "tshark reports a malformed field");
	cr_expect_null(strcasestr(ts, "Expert Info (Error"), "tshark reports an error");
	cr_expect_eq(count_of(ts, "Nat Event: "), n + 1, "every data record decoded:\n%s", ts);
	static const char *const shown[] = {
		"Nat Event: NAT Addresses exhausted (3)\n",
		"Nat Event: NAT44 session create (4)\n",
		"Nat Event: NAT64 session delete (7)\n",
		"Nat Event: NAT44 BIB create (8)\n",
		"Nat Event: NAT64 BIB delete (11)\n",
		"Nat Event: NAT ports exhausted (12)\n",
		"Nat Event: Quota Exceeded (13)\n",
		"Nat Event: Address binding create (14)\n",
		"Nat Event: Address binding delete (15)\n",
		"Nat Event: Port block allocation (16)\n",
		"Nat Event: Port block de-allocation (17)\n",
		"Nat Event: Threshold Reached (18)\n",
		"NAT Quota Exceeded Event: Maximum entries per user (3)\n",
		"Port Range Start: 1024\n",
		"Port Range End: 1535\n",
		"Post NAT Source IPv4 Address: 198.51.100.4\n",
	};
	for (unsigned i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		cr_expect(strstr(ts, shown[i]) != NULL, "tshark does not show %s", shown[i]);
	free(out);
}

/* Flushes every 20 ms until cond holds or ms pass. @return whether it held. */
#define FLUSH_UNTIL(s, cond, ms)                                                             \
	({                                                                                    \
		uint64_t end_ = mono_ms() + (ms);                                             \
		while (!(cond) && mono_ms() < end_) {                                         \
			(s)->flush((s), mono_ms());                                           \
			sleep_ms(20);                                                         \
		}                                                                             \
		(bool)(cond);                                                                 \
	})

/* Hands events k..k+n-1 of the cases to the sink with a flush after each; none may take
 * long (the collector being down must not stall the logger). */
static void
feed(struct cgn_log_sink *s, const struct expect *c, unsigned k, unsigned n, uint64_t wall)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t t = mono_ms();
		s->event(s, &c[k + i].ev, wall + i);
		s->flush(s, mono_ms());
		cr_assert_lt(mono_ms() - t, 100, "event+flush took %" PRIu64 " ms", mono_ms() - t);
	}
}

/* TCP: no collector at first (events dropped, counted), then one (connect, templates, records),
 * stopped (detected, events dropped without blocking), restarted (reconnect after reconnect_s,
 * templates again on the new Transport Session, records decoded). */
Test(ipfix, tcp_collector_down_stopped_restarted)
{
	struct expect c[32];
	unsigned n;
	char log1[128], log2[128], line[512];

	build_cases(c, &n);
	snprintf(log1, sizeof(log1), "%s/collector1.log", dir);
	snprintf(log2, sizeof(log2), "%s/collector2.log", dir);

	/* Nobody listens: the refused connect fails at once; every event is dropped. */
	struct cgn_log_sink *s = open_sink(true, 4740, 600, 1);
	feed(s, c, 0, 5, WALL0);
	cr_expect_eq(s->stats.events, 5);
	cr_expect_eq(s->stats.dropped, 5);
	cr_expect_eq(s->stats.sent, 0);
	cr_expect_eq(s->stats.connects, 0);
	cr_expect_geq(s->stats.errors, 1, "the refused connect");

	/* The collector comes: connected within reconnect_s, templates then records. */
	pid_t pid = collector(log1, "-t -p 4740 -n 0 -T 30");
	cr_assert(FLUSH_UNTIL(s, s->stats.connects == 1, 3000), "no connection");
	feed(s, c, 19, 3, WALL0 + 1000); /* binding v4, binding v6, block v4 */
	snprintf(line, sizeof(line), "record domain=7 template=277 observationTimeMilliseconds=%llu natEvent=16 "
		 "sourceIPv4Address=100.64.0.15 postNATSourceIPv4Address=198.51.100.4 portRangeStart=1024 "
		 "portRangeEnd=1535\n", WALL0 + 1002);
	cr_assert(proc_wait_file_contains(log1, line, 5000), "records over TCP");
	cr_expect_eq(s->stats.sent, 3);
	cr_expect_eq(s->stats.dropped, 5);

	/* Stopped: the sink sees the connection close at its next flush, and drops from then on. */
	uint64_t errors = s->stats.errors;
	proc_stop(pid, SIGTERM, 2000);
	cr_assert(FLUSH_UNTIL(s, s->stats.errors > errors, 2000), "the closed connection was not noticed");
	uint64_t t = mono_ms();
	feed(s, c, 0, 10, WALL0 + 2000);
	cr_expect_lt(mono_ms() - t, 500, "ten events with the collector gone took %" PRIu64 " ms", mono_ms() - t);
	cr_expect_eq(s->stats.dropped, 15);
	cr_expect_eq(s->stats.sent, 3);

	/* Restarted: a new connection after reconnect_s; templates again, then the records. */
	pid = collector(log2, "-t -p 4740 -n 2 -T 30");
	cr_assert(FLUSH_UNTIL(s, s->stats.connects == 2, 4000), "no reconnection");
	feed(s, c, 20, 2, WALL0 + 3000); /* binding v6, block v4 */
	cr_assert_eq(wait_exit(pid, 5000), 0, "records after the reconnection");
	char *out = proc_read_file(log2);
	cr_assert_not_null(out);
	for (unsigned i = 0; i < N_TEMPLATES; i++) {
		snprintf(line, sizeof(line), "template domain=7 %s", expected_templates[i]);
		cr_expect_eq(count_of(out, line), 1, "template on the new connection: %s", line);
	}
	cr_expect(strstr(out, "message domain=7 seq=0 ") != NULL, "a new Transport Session counts from 0");
	snprintf(line, sizeof(line), "record domain=7 template=276 observationTimeMilliseconds=%llu natEvent=15 "
		 "sourceIPv6Address=2001:db8:1:: postNATSourceIPv4Address=198.51.100.5\n", WALL0 + 3000);
	cr_expect(strstr(out, line) != NULL, "%s\n--- collector:\n%s", line, out);
	snprintf(line, sizeof(line), "record domain=7 template=277 observationTimeMilliseconds=%llu natEvent=16 "
		 "sourceIPv4Address=100.64.0.15 postNATSourceIPv4Address=198.51.100.4 portRangeStart=1024 "
		 "portRangeEnd=1535\n", WALL0 + 3001);
	cr_expect(strstr(out, line) != NULL, "%s\n--- collector:\n%s", line, out);
	free(out);

	cr_expect_eq(s->stats.events, 20);
	cr_expect_eq(s->stats.sent, 5);
	cr_expect_eq(s->stats.dropped, 15);
	cr_expect_eq(s->stats.connects, 2);
	cr_expect_geq(s->stats.messages, 4, "templates and data on each connection");
	s->close(s);
}
