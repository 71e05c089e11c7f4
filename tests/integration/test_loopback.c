/*
 * The real cgnatd on loopback, driven by the real pcpc and cgnatctl (suite 'integration').
 * meson runs this binary through tests/netns_run.sh, so it has a network namespace of its own:
 * 127.0.0.0/8 there is ours alone, and nothing touches the host's network.
 *
 * Each test starts its own cgnatd on docs/examples/loopback.conf with a unique EAL file prefix
 * and stops it with SIGTERM, asserting a clean exit.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"

static char dir[256], prefix[64], log_path[300];
static pid_t cgnatd_pid;
static char out[65536];

#define PCPC "%s --irt 0.3 --mrc 3 "
#define NONCE "0123456789abcdef01234567"

static void
start(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cgnt-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
	snprintf(prefix, sizeof(prefix), "cgnt%d", getpid());
	snprintf(log_path, sizeof(log_path), "%s/cgnatd.log", dir);
	/* The shipped example, with a file prefix of our own so parallel runs never meet. */
	cr_assert_eq(proc_run(out, sizeof(out), "sed 's/file_prefix = \"cgnat\"/file_prefix = \"%s\"/' %s > %s/cgnat.conf",
			      prefix, proc_env("LOOPBACK_CONF"), dir), 0, "%s", out);
	cgnatd_pid = proc_spawn(log_path, "%s -c %s/cgnat.conf", proc_env("CGNATD"), dir);
	if (!proc_wait_file_contains(log_path, "cgnatd: ready", 30000)) {
		char *log = proc_read_file(log_path);
		cr_assert_fail("cgnatd did not become ready:\n%s", log ? log : "(no log)");
	}
}

static void
stop(void)
{
	if (cgnatd_pid > 0) {
		int rc = proc_stop(cgnatd_pid, SIGTERM, 10000);
		cgnatd_pid = 0;
		char *log = proc_read_file(log_path);
		cr_expect_eq(rc, 0, "cgnatd did not exit cleanly on SIGTERM:\n%s", log ? log : "");
		free(log);
	}
	proc_run(out, sizeof(out), "rm -rf %s", dir);
}

static int
pcpc(const char *args)
{
	return proc_run(out, sizeof(out), PCPC "%s", proc_env("PCPC"), args);
}

static int
ctl(const char *args)
{
	return proc_run(out, sizeof(out), "%s -p %s %s", proc_env("CGNATCTL"), prefix, args);
}

/* Polls cgnatctl until its output does (or does not) contain text: workers apply ring
 * messages asynchronously, so the table catches up within milliseconds, not at once. */
static bool
ctl_until(const char *args, const char *text, bool present)
{
	for (int i = 0; i < 100; i++) {
		if (ctl(args) == 0 && (strstr(out, text) != NULL) == present)
			return true;
		usleep(20000);
	}
	return false;
}

/* "external: 203.0.113.N:PORT" → "203.0.113.N:PORT" */
static void
external_of(const char *text, char *ext, size_t size)
{
	const char *e = strstr(text, "external: ");
	cr_assert_not_null(e, "no external address in:\n%s", text);
	e += strlen("external: ");
	size_t n = strcspn(e, "\n");
	snprintf(ext, size, "%.*s", (int)n, e);
}

TestSuite(loopback, .init = start, .fini = stop, .timeout = 120);

Test(loopback, map_appears_in_the_shared_table_and_delete_removes_it)
{
	char ext[64], want[160];

	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 map"), 0, "%s", out);
	cr_assert(strstr(out, "result: SUCCESS (0)"), "%s", out);
	cr_assert(strstr(out, "lifetime: 3600"), "%s", out);
	external_of(out, ext, sizeof(ext));
	unsigned a, b, c, d, port;
	cr_assert_eq(sscanf(ext, "%u.%u.%u.%u:%u", &a, &b, &c, &d, &port), 5, "%s", ext);
	cr_assert(a == 203 && b == 0 && c == 113 && d < 16, "%s is not in 203.0.113.0/28", ext);
	cr_assert(port >= 1024, "%s", ext);

	/* The entry as the workers see it: from the shared table, not the control plane. */
	snprintf(want, sizeof(want), "\"internal\": \"127.0.0.1:8080\", \"external\": \"%s\"", ext);
	cr_assert(ctl_until("-j mappings", want, true), "not in the shared table: %s", out);
	cr_assert(strstr(out, "\"nonce\": \"" NONCE "\""), "%s", out);
	cr_assert_eq(ctl("mappings"), 0);
	cr_assert(strstr(out, "udp") && strstr(out, ext) && strstr(out, "EXPLICIT"), "%s", out);

	/* RFC 6887 §15.1: lifetime 0 with the same nonce deletes. */
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -d map"), 0, "%s", out);
	cr_assert(strstr(out, "lifetime: 0"), "%s", out);
	cr_assert(ctl_until("-j mappings", "127.0.0.1:8080", false), "still in the shared table: %s", out);
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"table_adds\": 1,"), "%s", out);
	cr_assert(strstr(out, "\"table_dels\": 1,"), "%s", out);
	cr_assert(strstr(out, "\"pcp_mappings\": 0,"), "%s", out);
}

Test(loopback, renew_keeps_the_port_and_another_nonce_is_refused)
{
	char ext1[64], ext2[64];
	cr_assert_eq(pcpc("-n " NONCE " -p tcp -i 22 -l 600 map"), 0, "%s", out);
	external_of(out, ext1, sizeof(ext1));
	cr_assert_eq(pcpc("-n " NONCE " -p tcp -i 22 -l 900 map"), 0, "%s", out);
	external_of(out, ext2, sizeof(ext2));
	cr_assert_str_eq(ext1, ext2, "RFC 6887 §11.3 item 3: a renewal returns the existing mapping");
	cr_assert(strstr(out, "lifetime: 900"), "%s", out);
	cr_assert(ctl_until("-j mappings", "\"lifetime_s\": 900", true), "refresh not applied: %s", out);

	/* §11.3 Simple Threat Model: NOT_AUTHORIZED, lifetime = the mapping's remaining life. */
	cr_assert_eq(pcpc("-n ffffffffffffffffffffffff -p tcp -i 22 map"), 2, "%s", out);
	cr_assert(strstr(out, "result: NOT_AUTHORIZED (2)"), "%s", out);
	unsigned lifetime = 0;
	const char *l = strstr(out, "lifetime: ");
	cr_assert(l && sscanf(l, "lifetime: %u", &lifetime) == 1);
	cr_assert(lifetime > 800 && lifetime <= 900, "remaining lifetime %u", lifetime);
	cr_assert_eq(pcpc("-n ffffffffffffffffffffffff -p tcp -i 22 -d map"), 2, "deleting needs the nonce: %s", out);
	/* lifetimes are clamped to [120, 86400] (§15) */
	cr_assert_eq(pcpc("-p udp -i 53 -l 5 map"), 0, "%s", out);
	cr_assert(strstr(out, "lifetime: 120"), "%s", out);
	cr_assert_eq(pcpc("-p udp -i 54 -l 4000000000 map"), 0, "%s", out);
	cr_assert(strstr(out, "lifetime: 86400"), "%s", out);
}

Test(loopback, header_errors_of_rfc6887_8_2)
{
	/* version 1: UNSUPP_VERSION with the version the server speaks */
	cr_assert_eq(pcpc("raw 0101000000000e10" "00000000000000000000ffff7f000001"), 1, "%s", out);
	cr_assert(strstr(out, "version: 2"), "%s", out);
	/* MAP of 28 octets: too short for the opcode */
	cr_assert_eq(pcpc("raw 0201000000000e10" "00000000000000000000ffff7f000001" "00000000"), 3, "%s", out);
	/* unknown opcode 9 */
	cr_assert_eq(pcpc("raw 0209000000000000" "00000000000000000000ffff7f000001"), 4, "%s", out);
	/* 26 octets: not a multiple of 4 */
	cr_assert_eq(pcpc("raw 0200000000000000" "00000000000000000000ffff7f000001" "0000"), 3, "%s", out);
	/* R bit set, or too short: silently dropped, so no response at all */
	cr_assert_eq(pcpc("--mrc 1 raw 0280000000000000" "00000000000000000000ffff7f000001"), 100, "%s", out);
	cr_assert_eq(pcpc("--mrc 1 raw 02010000"), 100, "%s", out);
	/* the client address field does not match the source */
	cr_assert_eq(pcpc("-C 127.0.0.9 -p udp -i 9 map"), 12, "%s", out);
	cr_assert(strstr(out, "ADDRESS_MISMATCH"), "%s", out);
	/* an unknown mandatory option: UNSUPP_OPTION; an unknown optional one is ignored */
	cr_assert_eq(pcpc("raw 0201000000000e10" "00000000000000000000ffff7f000001"
			  "0102030405060708090a0b0c" "11000000" "1f900000" "00000000000000000000ffff00000000"
			  "0e000000"), 5, "%s", out);
	cr_assert_eq(pcpc("raw 0201000000000e10" "00000000000000000000ffff7f000001"
			  "0102030405060708090a0b0c" "11000000" "1f900000" "00000000000000000000ffff00000000"
			  "c8000000"), 0, "%s", out);
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"pcp_result_MALFORMED_REQUEST\": 2,"), "%s", out);
	cr_assert(strstr(out, "\"pcp_drop_R_BIT\": 1,"), "%s", out);
	cr_assert(strstr(out, "\"pcp_drop_TOO_SHORT\": 1,"), "%s", out);
}

Test(loopback, map_protocol_and_option_rules)
{
	cr_assert_eq(pcpc("-p 0 -i 80 map"), 3, "protocol 0 with a port: MALFORMED_REQUEST: %s", out);
	cr_assert_eq(pcpc("-p 0 -i 0 map"), 9, "DMZ not offered: UNSUPP_PROTOCOL: %s", out);
	cr_assert_eq(pcpc("-p 132 -i 80 map"), 9, "SCTP: UNSUPP_PROTOCOL: %s", out);
	cr_assert_eq(pcpc("-p udp -i 1 -f -e 0 map"), 6, "PREFER_FAILURE without a port: %s", out);
	/* THIRD_PARTY only from the ACL (127.0.0.2), never naming the sender itself */
	cr_assert_eq(pcpc("-t 127.0.0.5 -p udp -i 7 map"), 5, "%s", out);
	cr_assert_eq(pcpc("-b 127.0.0.2 -t 127.0.0.2 -p udp -i 7 map"), 3, "%s", out);
	cr_assert_eq(pcpc("-b 127.0.0.2 -t 127.0.0.5 -p udp -i 7 map"), 0, "%s", out);
	cr_assert(strstr(out, "option: THIRD_PARTY 127.0.0.5"), "echoed: %s", out);
	cr_assert(ctl_until("-j mappings", "\"internal\": \"127.0.0.5:7\"", true), "%s", out);
	/* PREFER_FAILURE: the suggested port, or CANNOT_PROVIDE_EXTERNAL */
	cr_assert_eq(pcpc("-p tcp -i 80 -e 40080 -f map"), 0, "%s", out);
	cr_assert(strstr(out, ":40080\n"), "%s", out);
	cr_assert_eq(pcpc("-p tcp -i 81 -e 40080 -f map"), 11, "port taken: %s", out);
	cr_assert_eq(pcpc("-p tcp -i 81 -e 40080 map"), 0, "without PREFER_FAILURE another port: %s", out);
	cr_assert(strstr(out, ":40080\n") == NULL, "%s", out);
	/* PEER (§12): an outbound mapping with its remote peer */
	cr_assert_eq(pcpc("-p tcp -i 5000 -r 198.51.100.1:80 peer"), 0, "%s", out);
	cr_assert(strstr(out, "remote: 198.51.100.1:80"), "%s", out);
}

Test(loopback, announce_reports_the_epoch)
{
	cr_assert_eq(pcpc("announce"), 0, "%s", out);
	cr_assert(strstr(out, "opcode: ANNOUNCE") && strstr(out, "lifetime: 0"), "%s", out);
	unsigned e1, e2;
	cr_assert_eq(sscanf(strstr(out, "epoch: "), "epoch: %u", &e1), 1);
	sleep(2);
	cr_assert_eq(pcpc("announce"), 0, "%s", out);
	cr_assert_eq(sscanf(strstr(out, "epoch: "), "epoch: %u", &e2), 1);
	cr_assert(e2 >= e1 + 1 && e2 <= e1 + 3, "§8.5: the epoch counts seconds: %u then %u", e1, e2);
	cr_assert_eq(ctl("info"), 0);
	cr_assert(strstr(out, "workers: 1") && strstr(out, "203.0.113.0/28"), "%s", out);
}

/* The shipped example listens on [::1]:5351 with ::1 inside too: an ANNOUNCE from ::1 is
 * answered SUCCESS (RFC 6887 §14.1.2) from [::1]:5351 (§8.3: the socket is connected to it). */
Test(loopback, the_example_answers_over_ipv6)
{
	uint8_t req[24] = { 2, 0 }, resp[1200];
	req[23] = 1; /* the PCP Client IP Address ::1 */
	struct sockaddr_in6 me = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT },
			    srv = { .sin6_family = AF_INET6, .sin6_port = htons(5351), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&srv, sizeof(srv)), 0);
	ssize_t n = -1;
	for (int attempt = 0; attempt < 3 && n < 0; attempt++) {
		cr_assert_eq(send(fd, req, sizeof(req), 0), (ssize_t)sizeof(req));
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 500) == 1)
			n = recv(fd, resp, sizeof(resp), 0);
	}
	close(fd);
	cr_assert_eq(n, 24, "no answer over IPv6");
	cr_assert(resp[0] == 2 && resp[1] == 0x80 && resp[3] == 0, "an ANNOUNCE response, SUCCESS");
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"pcp_opcode_ANNOUNCE\": 1,"), "%s", out);
}

/* The exchange on the wire, decoded by Wireshark's PCP dissector (portcontrol). */
Test(loopback, tshark_decodes_every_message_without_errors)
{
	char pcap[320], cap_log[320];
	snprintf(pcap, sizeof(pcap), "%s/pcp.pcap", dir);
	snprintf(cap_log, sizeof(cap_log), "%s/tshark.log", dir);
	pid_t cap = proc_spawn(cap_log, "tshark -q -i lo -f 'udp port 5351' -w %s", pcap);
	cr_assert(proc_wait_file_contains(cap_log, "Capturing on", 20000), "tshark did not start");
	usleep(300000);

	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -F 198.51.100.0/24:443 map"), 0, "%s", out);
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -D web map"), 0, "%s", out);
	cr_assert_eq(pcpc("-b 127.0.0.2 -t 127.0.0.7 -p tcp -i 443 -e 40443 -f map"), 0, "%s", out);
	cr_assert_eq(pcpc("announce"), 0, "%s", out);
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -d map"), 0, "%s", out);
	cr_assert_eq(pcpc("raw 0209000000000000" "00000000000000000000ffff7f000001"), 4, "%s", out);
	usleep(300000);
	proc_stop(cap, SIGINT, 10000);

	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y 'portcontrol && udp.dstport != 5350' -T fields -e frame.number 2>/dev/null | wc -l", pcap), 0);
	cr_assert_eq(atoi(out), 12, "six requests and six responses decoded as PCP: %s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y 'portcontrol.response && udp.dstport != 5350' -T fields "
				 "-e portcontrol.result_code 2>/dev/null | sort | uniq -c | tr -s ' '", pcap), 0);
	cr_assert(strstr(out, "5 0") && strstr(out, "1 4"), "result codes: %s", out);
	/* No malformed field and no expert error anywhere; not even a warning but for the
	 * deliberately unknown opcode of the last exchange. */
	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y '_ws.malformed || _ws.expert.severity >= 0x00800000 || "
				 "(_ws.expert.severity >= 0x00600000 && portcontrol.opcode != 9)' "
				 "-T fields -e frame.number -e _ws.expert.message 2>/dev/null", pcap), 0);
	cr_assert_str_eq(out, "", "malformed fields or expert findings: %s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y 'portcontrol.opcode == 9 && _ws.expert.severity >= 0x00600000' "
				 "-T fields -e _ws.expert.message 2>/dev/null", pcap), 0);
	cr_assert(strstr(out, "Unknown opcode: 9"), "the filter above can see findings: %s", out);
}

/* Start-up errors: a bad file names its line and key; cgnatd exits 2 and leaves nothing. */
Test(cgnatd_cli, bad_config_names_file_line_and_key)
{
	char path[] = "/tmp/cgnt-conf-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	const char *text = "pcp = {\n  listen = [ \"127.0.0.1:5351\" ];\n  inside = [ \"127.0.0.1/8\" ];\n};\n";
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	int rc = proc_run(out, sizeof(out), "%s -c %s", proc_env("CGNATD"), path);
	unlink(path);
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, ":3: pcp.inside: entry 1 (\"127.0.0.1/8\")"), "%s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "%s -c %s -t", proc_env("CGNATD"), proc_env("LOOPBACK_CONF")), 0, "%s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "%s", proc_env("CGNATD")), 2, "%s", out);
}
