/*
 * libFuzzer target: what the logger thread takes from the lcores' event rings (issue 16) is
 * untrusted: any 64 octets. Each 64-octet piece of the input is one struct cgn_event; the
 * ones cgn_event_check() lets through go to both sinks as the logger hands them over (the
 * syslog sink's line formatter, checked here for what RFC 5424 §6 requires of a line, and the
 * IPFIX sink's encoder, over UDP to the discard port of the namespace's loopback), with a
 * flush every 16 events. Nothing may crash, read out of bounds, leak or write a line that is
 * not one printable ASCII line.
 *
 * Run by run_fuzz.sh inside a network namespace of its own (tests/netns_run.sh).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_config.h"
#include "cgn_event.h"
#include "log_sink.h"
#include "log_syslog.h"

static struct cgn_log_sink *syslog_sink, *ipfix_sink;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static struct cgn_config cfg;
	char err[256];
	cgn_config_defaults(&cfg);
	cfg.logging.syslog.transport = CGN_SYSLOG_UDP;
	cfg.logging.syslog.server.addr = cgn_addr_from_v4(htonl(0x7f000001));
	cfg.logging.syslog.server.port = 9; /* discard: nobody listens, sends are counted errors */
	snprintf(cfg.logging.syslog.hostname, sizeof(cfg.logging.syslog.hostname), "fuzz");
	cfg.logging.ipfix.on = true;
	cfg.logging.ipfix.collector = cfg.logging.syslog.server;
	syslog_sink = cgn_syslog_open(&cfg, err, sizeof(err));
	ipfix_sink = cgn_ipfix_open(&cfg, err, sizeof(err));
	if (syslog_sink == NULL || ipfix_sink == NULL)
		abort();
	return 0;
}

/* RFC 5424 §6: a line of printable US-ASCII (the sink writes no BOM and no UTF-8), no line
 * break, a PRI first. */
static void
check_line(const char *line, int n)
{
	if (n <= 0 || n >= CGN_SYSLOG_MSG_MAX || line[0] != '<' || (int)strlen(line) != n)
		abort();
	for (int i = 0; i < n; i++)
		if (line[i] < 32 || line[i] > 126)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t now = 1;
	unsigned handed = 0;
	for (size_t off = 0; off + sizeof(struct cgn_event) <= size; off += sizeof(struct cgn_event)) {
		struct cgn_event ev;
		memcpy(&ev, data + off, sizeof(ev));
		if (!cgn_event_check(&ev))
			continue;
		uint64_t wall_ms = ev.mono_ms % 4102444800000ull; /* up to 2100, as the logger's offset gives */
		char line[CGN_SYSLOG_MSG_MAX];
		int n = cgn_syslog_format(syslog_sink, &ev, wall_ms, line, sizeof(line));
		check_line(line, n);
		syslog_sink->event(syslog_sink, &ev, wall_ms);
		ipfix_sink->event(ipfix_sink, &ev, wall_ms);
		if (++handed % 16 == 0) {
			now += 100;
			syslog_sink->flush(syslog_sink, now);
			ipfix_sink->flush(ipfix_sink, now);
		}
	}
	now += 100;
	syslog_sink->flush(syslog_sink, now);
	ipfix_sink->flush(ipfix_sink, now);
	return 0;
}
