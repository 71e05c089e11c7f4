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

/* Starts cgnatd on the shipped example, changed by the sed expression edit (or "" for none). */
static void
start_with(const char *edit)
{
	snprintf(dir, sizeof(dir), "/tmp/cgnt-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
	snprintf(prefix, sizeof(prefix), "cgnt%d", getpid());
	snprintf(log_path, sizeof(log_path), "%s/cgnatd.log", dir);
	/* The shipped example, with a file prefix of our own so parallel runs never meet. */
	cr_assert_eq(proc_run(out, sizeof(out), "sed -e 's/file_prefix = \"cgnat\"/file_prefix = \"%s\"/' -e '%s' %s > %s/cgnat.conf",
			      prefix, edit, proc_env("LOOPBACK_CONF"), dir), 0, "%s", out);
	cgnatd_pid = proc_spawn(log_path, "%s -c %s/cgnat.conf", proc_env("CGNATD"), dir);
	if (!proc_wait_file_contains(log_path, "cgnatd: ready", 30000)) {
		char *log = proc_read_file(log_path);
		cr_assert_fail("cgnatd did not become ready:\n%s", log ? log : "(no log)");
	}
}

static void
start(void)
{
	start_with("");
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

/* RFC 7220: pcpc sends a DESCRIPTION and prints the one echoed; cgnatctl shows the stored text. */
Test(loopback, pcpc_description_round_trip)
{
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8090 -D 'cam\xc3\xa9ra \"1\"' map"), 0, "%s", out);
	cr_assert(strstr(out, "option: DESCRIPTION cam\xc3\xa9ra \\\"1\\\"\n"), "%s", out);
	cr_assert_eq(pcpc("-j -n " NONCE " -p udp -i 8090 -D 'cam\xc3\xa9ra \"1\"' map"), 0, "%s", out);
	cr_assert(strstr(out, "\"name\": \"DESCRIPTION\", \"value\": \"cam\\u00e9ra \\\"1\\\"\""), "%s", out);
	cr_assert(ctl_until("-j mappings", "\"description\": \"cam\xc3\xa9ra \\\"1\\\"\"", true), "%s", out);
	cr_assert_eq(ctl("mappings"), 0);
	cr_assert(strstr(out, "EXPLICIT \"cam\xc3\xa9ra \\\"1\\\"\"\n"), "%s", out);
	/* not UTF-8 (pcpc sends the octets as given): ignored, so pcpc prints none */
	cr_assert_eq(pcpc("-p udp -i 8091 -D \"$(printf '\\377')\" map"), 0, "%s", out);
	cr_assert_null(strstr(out, "DESCRIPTION"), "%s", out);
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

/* ---- pcpc over IPv6: the shipped example's [::1]:5351, NAT64 under 64:ff9b::/96 ---------- */

#define V6 "-s [::1]:5351 "

/* The "prefix64:" lines of pcpc's last output, each ending in '\n', into buf. @return how many. */
static int
prefix64_lines(char *buf, size_t size)
{
	int n = 0;
	size_t used = 0;
	buf[0] = '\0';
	for (const char *l = out; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != '\0')) {
		size_t len = strcspn(l, "\n");
		if (strncmp(l, "prefix64: ", 10) != 0)
			continue;
		if (used + len + 2 < size)
			used += (size_t)snprintf(buf + used, size - used, "%.*s\n", (int)len, l);
		n++;
	}
	return n;
}

/* RFC 6887 §11 from an IPv6 client: a NAT64 mapping of ::1 (RFC 6146) with an IPv4 external
 * endpoint from the pool; RFC 7225 §4.3: --prefix64 asks for the Pref64 and gets the
 * configured one, with no suffix (a /96) and no IPv4 Prefix List (every destination). */
Test(loopback, pcpc_over_ipv6_maps_by_nat64_and_learns_the_pref64)
{
	char ext[64], want[160], lines[512];

	cr_assert_eq(pcpc(V6 "--prefix64 -n " NONCE " -p tcp -i 8080 -l 3600 map"), 0, "%s", out);
	cr_assert(strstr(out, "result: SUCCESS (0)") && strstr(out, "lifetime: 3600"), "%s", out);
	external_of(out, ext, sizeof(ext));
	unsigned a, b, c, d, port;
	cr_assert_eq(sscanf(ext, "%u.%u.%u.%u:%u", &a, &b, &c, &d, &port), 5, "an IPv4 external endpoint: %s", ext);
	cr_assert(a == 203 && b == 0 && c == 113 && d < 16 && port >= 1024, "%s is not in 203.0.113.0/28", ext);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 1, "%s", out);
	cr_assert_str_eq(lines, "prefix64: 64:ff9b::/96 suffix - ipv4 any\n", "%s", out);

	/* In the shared table with the internal endpoint ::1 (the request's source). */
	snprintf(want, sizeof(want), "\"internal\": \"[::1]:8080\", \"external\": \"%s\"", ext);
	cr_assert(ctl_until("-j mappings", want, true), "not in the shared table: %s", out);

	/* Not asked, not printed (the server gives PREFIX64 only when asked); a renewal keeps the
	 * endpoint (§11.3). */
	cr_assert_eq(pcpc(V6 "-n " NONCE " -p tcp -i 8080 -l 3600 map"), 0, "%s", out);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 0, "%s", out);
	cr_assert(strstr(out, "option: ") == NULL, "%s", out);
	external_of(out, want, sizeof(want));
	cr_assert_str_eq(want, ext, "a renewal over IPv6 returns the same endpoint");

	/* §15: deleted with the nonce, from the same source. */
	cr_assert_eq(pcpc(V6 "-n " NONCE " -p tcp -i 8080 -d map"), 0, "%s", out);
	cr_assert(strstr(out, "lifetime: 0"), "%s", out);
	cr_assert(ctl_until("-j mappings", "[::1]:8080", false), "still in the shared table: %s", out);
}

/* RFC 7225 §4.3: "a PREFIX64 option in a MAP or ANNOUNCE request"; the JSON form carries the
 * same fields, and the raw octets of the option (§4.1, Figure 1). */
Test(loopback, pcpc_asks_prefix64_in_an_ipv6_announce)
{
	char lines[512];
	cr_assert_eq(pcpc(V6 "--prefix64 announce"), 0, "%s", out);
	cr_assert(strstr(out, "opcode: ANNOUNCE") && strstr(out, "lifetime: 0"), "%s", out);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 1, "%s", out);
	cr_assert_str_eq(lines, "prefix64: 64:ff9b::/96 suffix - ipv4 any\n", "%s", out);
	cr_assert_eq(pcpc("-s ::1 -j --prefix64 announce"), 0, "a bare IPv6 server address: %s", out);
	cr_assert(strstr(out, "{\"code\": 129, \"name\": \"PREFIX64\", \"prefix64\": \"64:ff9b::/96\", \"suffix\": \"\", "
			      "\"ipv4\": null, \"ignored\": 0, \"value\": \"000c0064ff9b0000000000000000\"}"), "%s", out);
	cr_assert_eq(pcpc(V6 "announce"), 0, "%s", out);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 0, "not asked: %s", out);
	/* PREFIX64 is for MAP and ANNOUNCE only (§4.1); pcpc refuses it elsewhere */
	cr_assert_eq(pcpc(V6 "--prefix64 -p tcp -i 1 -r 8.8.8.8:53 peer"), 101, "%s", out);
	cr_assert_eq(pcpc(V6 "--prefix64 raw 0200000000000000"), 101, "%s", out);
}

/* PEER and FILTER from an IPv6 client (RFC 6887 §12, §13.3): remote peers under the Pref64 are
 * the IPv4 hosts they embed (RFC 6052) and come back as sent; one that is neither under a
 * Pref64 nor IPv4-mapped is refused. */
Test(loopback, pcpc_sends_ipv6_remote_peers_and_filters)
{
	/* 8.8.8.8 under the Well-Known Prefix: a global address (RFC 6052 §3.1) */
	cr_assert_eq(pcpc(V6 "-p tcp -i 5000 -r [64:ff9b::808:808]:53 peer"), 0, "%s", out);
	cr_assert(strstr(out, "remote: [64:ff9b::808:808]:53\n"), "given back as sent: %s", out);
	cr_assert(ctl_until("mappings", "[::1]:5000", true), "%s", out);
	cr_assert(strstr(out, "PEER"), "%s", out);
	cr_assert_eq(pcpc(V6 "-p tcp -i 5001 -r [2001:db8::1]:53 peer"), 3, "not under a Pref64: %s", out);
	cr_assert(strstr(out, "remote: [2001:db8::1]:53\n"), "%s", out);

	cr_assert_eq(pcpc(V6 "-p udp -i 8082 -F [64:ff9b::808:800/120]:443 -F 64:ff9b::/96 map"), 0, "%s", out);
	cr_assert(strstr(out, "option: FILTER [64:ff9b::808:800/120]:443\n") &&
		  strstr(out, "option: FILTER [64:ff9b::/96]:0\n"), "filters given back as sent: %s", out);
	cr_assert(ctl_until("mappings", "FILTERED", true), "%s", out);
	cr_assert_eq(pcpc(V6 "-p udp -i 8083 -F 2001:db8::/64 map"), 6, "a filter not under a Pref64: %s", out);

	/* Usage: an unclosed bracket, a zone on a remote peer */
	cr_assert_eq(pcpc("-s [::1 announce"), 101, "%s", out);
	cr_assert_eq(pcpc(V6 "-p tcp -i 1 -r [64:ff9b::808:808%lo]:53 peer"), 101, "%s", out);
}

/* The IPv6 exchanges on the wire, decoded by Wireshark's PCP dissector (portcontrol, which
 * knows PREFIX64): every message PCP, no malformed field, the PREFIX64 asked (::/96 in the
 * requests, RFC 7225 §4.3) and answered (64:ff9b::/96). */
Test(loopback, tshark_decodes_pcpc_over_ipv6)
{
	char pcap[320], cap_log[320];
	snprintf(pcap, sizeof(pcap), "%s/pcp6.pcap", dir);
	snprintf(cap_log, sizeof(cap_log), "%s/tshark.log", dir);
	pid_t cap = proc_spawn(cap_log, "tshark -q -i lo -f 'ip6 and udp port 5351' -w %s", pcap);
	cr_assert(proc_wait_file_contains(cap_log, "Capturing on", 20000), "tshark did not start");
	usleep(300000);

	cr_assert_eq(pcpc(V6 "--prefix64 -n " NONCE " -p udp -i 8080 -F [64:ff9b::808:800/120]:443 map"), 0, "%s", out);
	cr_assert_eq(pcpc(V6 "--prefix64 announce"), 0, "%s", out);
	cr_assert_eq(pcpc(V6 "-p tcp -i 5000 -r [64:ff9b::808:808]:53 peer"), 0, "%s", out);
	cr_assert_eq(pcpc(V6 "-n " NONCE " -p udp -i 8080 -d map"), 0, "%s", out);
	usleep(300000);
	proc_stop(cap, SIGINT, 10000);

	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y 'portcontrol && ipv6.src == ::1' -T fields -e frame.number 2>/dev/null | wc -l", pcap), 0);
	cr_assert_eq(atoi(out), 8, "four requests and four responses decoded as PCP over IPv6: %s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y 'portcontrol.option.p64.prefix64' -T fields "
				 "-e portcontrol.r -e portcontrol.option.p64.length -e portcontrol.option.p64.prefix64 "
				 "2>/dev/null | sort | uniq -c | tr -s ' '", pcap), 0);
	cr_assert(strstr(out, " 2 0\t12\t000000000000000000000000\n") && strstr(out, " 2 1\t12\t0064ff9b0000000000000000\n"),
		  "PREFIX64 ::/96 in two requests and 64:ff9b::/96 in two responses: %s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "tshark -r %s -Y '_ws.malformed || _ws.expert.severity >= 0x00600000' "
				 "-T fields -e frame.number -e _ws.expert.message 2>/dev/null", pcap), 0);
	cr_assert_str_eq(out, "", "malformed fields or expert findings: %s", out);
}

/* THIRD_PARTY with an IPv6 internal address (RFC 6887 §13.1) from a host of pcp.third_party
 * (::1 added, with a subscriber prefix inside): a NAT64 mapping for that host. */
static void
start_third_party6(void)
{
	start_with("s|third_party = \\[ \"127.0.0.2\" \\];|third_party = [ \"127.0.0.2\", \"::1\" ];|;"
		   "s|inside = \\[ \"127.0.0.0/8\", \"::1/128\" \\];|inside = [ \"127.0.0.0/8\", \"::1/128\", \"2001:db8:14::/64\" ];|");
}

TestSuite(loopback_third_party6, .init = start_third_party6, .fini = stop, .timeout = 120);

Test(loopback_third_party6, pcpc_maps_for_an_ipv6_third_party)
{
	cr_assert_eq(proc_run(out, sizeof(out), "grep -c '\"::1\" \\];\\|2001:db8:14::/64' %s/cgnat.conf", dir), 0, "%s", out);
	cr_assert_eq(atoi(out), 2, "the edit of the example did not apply: update this test");
	cr_assert_eq(pcpc(V6 "-t 2001:db8:14::5 -p udp -i 7 -l 600 map"), 0, "%s", out);
	cr_assert(strstr(out, "option: THIRD_PARTY 2001:db8:14::5\n"), "echoed: %s", out);
	cr_assert(ctl_until("-j mappings", "\"internal\": \"[2001:db8:14::5]:7\"", true), "%s", out);
	cr_assert_eq(pcpc(V6 "-t ::1 -p udp -i 7 map"), 3, "naming the sender itself: %s", out);
	/* the ACL is per address: 127.0.0.1 is not in it */
	cr_assert_eq(pcpc("-t 127.0.0.5 -p udp -i 7 map"), 5, "%s", out);
}

/* Two Pref64s, one with an IPv4 Prefix List (nat64.ipv4_prefixes): pcpc prints one line per
 * PREFIX64 in the response's order, which RFC 7225 §4.2 fixes (those with a list first). */
static void
start_two_pref64s(void)
{
	start_with("s|prefixes = \\[ \"64:ff9b::/96\" \\];|prefixes = [ \"64:ff9b::/96\", \"2001:db8:122::/48\" ]; "
		   "ipv4_prefixes = ( { pref64 = \"2001:db8:122::/48\"; ipv4 = [ \"192.0.2.0/24\", \"198.51.100.0/25\" ]; } );|");
}

TestSuite(loopback_two_pref64s, .init = start_two_pref64s, .fini = stop, .timeout = 120);

Test(loopback_two_pref64s, pcpc_prints_each_prefix64_in_order)
{
	char lines[512];
	cr_assert_eq(proc_run(out, sizeof(out), "grep -c 2001:db8:122::/48 %s/cgnat.conf", dir), 0,
		     "the edit of the example did not apply: update this test");
	const char *want = "prefix64: 2001:db8:122::/48 suffix 000000000000 ipv4 192.0.2.0/24,198.51.100.0/25\n"
			   "prefix64: 64:ff9b::/96 suffix - ipv4 any\n";
	cr_assert_eq(pcpc(V6 "--prefix64 -p udp -i 9000 map"), 0, "%s", out);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 2, "%s", out);
	cr_assert_str_eq(lines, want, "%s", out);
	cr_assert_eq(pcpc(V6 "--prefix64 announce"), 0, "%s", out);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 2, "%s", out);
	cr_assert_str_eq(lines, want, "%s", out);
	cr_assert_eq(pcpc(V6 "-j --prefix64 announce"), 0, "%s", out);
	cr_assert(strstr(out, "\"prefix64\": \"2001:db8:122::/48\", \"suffix\": \"000000000000\", "
			      "\"ipv4\": [\"192.0.2.0/24\",\"198.51.100.0/25\"], \"ignored\": 0, \"value\": "
			      "\"000620010db8012200000000000000020018c00002000019c6336400\"}"), "%s", out);
}

/* RFC 7225 §4.3 on the client side, against a fake server on [::1]:5352 (python): an invalid
 * entry of an IPv4 Prefix List is ignored and the valid ones used; a PREFIX64 that does not
 * decode (Prefix64 Length 9) is shown as such, its octets kept. */
Test(pcpc_client, prefix64_entries_it_must_ignore)
{
	char log[64] = "/tmp/cgnt-fake-XXXXXX", lines[512];
	int fd = mkstemp(log);
	cr_assert_geq(fd, 0);
	close(fd);
	pid_t fake = proc_spawn(log, "python3 -c '\n"
		"import socket, sys\n"
		"s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
		"s.bind((\"::1\", 5352))\n"
		"print(\"listening\", flush=True)\n"
		"s.settimeout(20)\n"
		"d, a = s.recvfrom(1100)\n"
		"r = bytes([2, 0x80, 0, 0]) + bytes(4) + (5).to_bytes(4, \"big\") + bytes(12)\n"
		"r += bytes.fromhex(\"8100001c\" \"0004\" \"20010db8\" \"0000000000000000\" \"0002\" \"0018c0000201\" \"000000000000\")\n"
		"r += bytes.fromhex(\"8100000e\" \"0009\" \"000000000000000000000000\" \"0000\")\n"
		"s.sendto(r, a)'");
	cr_assert(proc_wait_file_contains(log, "listening", 10000), "the fake server did not start");
	int rc = pcpc("-s [::1]:5352 announce");
	proc_stop(fake, SIGTERM, 5000);
	unlink(log);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "epoch: 5\n"), "%s", out);
	cr_assert_eq(prefix64_lines(lines, sizeof(lines)), 2, "%s", out);
	cr_assert_str_eq(lines, "prefix64: 2001:db8::/32 suffix 0000000000000000 ipv4 0.0.0.0/0 ignored 1\n"
				"prefix64: malformed\n", "%s", out);
	cr_assert(strstr(out, "option: PREFIX64 0009000000000000000000000000\n"), "%s", out);
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

/* ---- the state store (docs/operations.md "State store"): mappings survive a restart ---- */

static int spawns;

/* Starts cgnatd again on the same directory (its configuration and its store), with a log of
 * its own; @return true once it is ready, false if it exited or did not get ready. */
static bool
respawn(void)
{
	snprintf(log_path, sizeof(log_path), "%s/cgnatd-%d.log", dir, ++spawns);
	cgnatd_pid = proc_spawn(log_path, "%s -c %s/cgnat.conf", proc_env("CGNATD"), dir);
	return proc_wait_file_contains(log_path, "cgnatd: ready", 30000);
}

static void
kill_cgnatd(int sig)
{
	int rc = proc_stop(cgnatd_pid, sig, 10000);
	cgnatd_pid = 0;
	if (sig == SIGTERM)
		cr_assert_eq(rc, 0, "cgnatd did not exit cleanly on SIGTERM");
}

static unsigned
epoch_of(const char *text)
{
	unsigned e;
	const char *p = strstr(text, "epoch: ");
	cr_assert(p && sscanf(p, "epoch: %u", &e) == 1, "no epoch in:\n%s", text);
	return e;
}

static bool
log_has(const char *text)
{
	char *log = proc_read_file(log_path);
	bool has = log && strstr(log, text);
	free(log);
	return has;
}

/* "expires_in_s" of the mapping whose internal endpoint is internal ("127.0.0.1:8080"). */
static long
expires_in(const char *internal)
{
	char want[96];
	snprintf(want, sizeof(want), "\"internal\": \"%s\"", internal);
	cr_assert(ctl_until("-j mappings", want, true), "%s not in the table: %s", internal, out);
	const char *e = strstr(strstr(out, want), "\"expires_in_s\": ");
	cr_assert_not_null(e, "%s", out);
	return atol(e + strlen("\"expires_in_s\": "));
}

static void
start_state(void)
{
	spawns = 0;
	start();
}

TestSuite(loopback_state, .init = start_state, .fini = stop, .timeout = 180);

/* MAP and PEER with SUCCESS, cgnatd killed (kill -9 or SIGTERM) and started again: the same
 * external endpoints, the nonces (the same client renews, another is refused), the remaining
 * lifetime (smaller, not granted again), the PEER session, and an epoch that went on (§8.5). */
static void
survives(int sig)
{
	char ext[64], peer_ext[64], want[160];
	cr_assert(proc_run(out, sizeof(out), "grep -c 'path = \"state\"' %s/cgnat.conf", dir) == 0,
		  "the example has no state store: update this test");
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 -D 'caméra' map"), 0, "%s", out);
	external_of(out, ext, sizeof(ext));
	unsigned e1 = epoch_of(out);
	cr_assert_eq(pcpc("-p tcp -i 5000 -r 198.51.100.1:80 -l 3600 peer"), 0, "%s", out);
	external_of(out, peer_ext, sizeof(peer_ext));
	sleep(2);

	kill_cgnatd(sig);
	cr_assert(respawn(), "cgnatd did not start again on its store");
	cr_assert(log_has("2 mappings restored (0 moved"), "log: %s", proc_read_file(log_path));
	cr_assert(log_has("1 PEER sessions"), "%s", proc_read_file(log_path));
	cr_assert(log_has("epoch goes on"), "%s", proc_read_file(log_path));

	snprintf(want, sizeof(want), "\"internal\": \"127.0.0.1:8080\", \"external\": \"%s\"", ext);
	cr_assert(ctl_until("-j mappings", want, true), "not restored: %s", out);
	cr_assert(strstr(out, "\"nonce\": \"" NONCE "\""), "%s", out);
	cr_assert(strstr(out, "\"description\": \"caméra\""), "the DESCRIPTION (RFC 7220) came back: %s", out);
	long left = expires_in("127.0.0.1:8080");
	cr_assert(left < 3600 - 1 && left > 3600 - 60, "the remaining lifetime, not a new one: %ld", left);
	snprintf(want, sizeof(want), "\"internal\": \"127.0.0.1:5000\", \"external\": \"%s\"", peer_ext);
	cr_assert(ctl_until("-j mappings", want, true), "the PEER mapping: %s", out);
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"pcp_sessions\": 1,"), "the PEER session: %s", out);

	cr_assert_eq(pcpc("announce"), 0, "%s", out);
	unsigned e2 = epoch_of(out);
	cr_assert(e2 >= e1 + 2 && e2 <= e1 + 40, "§8.5: the epoch went on (%u, then %u)", e1, e2);
	/* The nonce came back: the client renews, another is refused (§11.3). */
	cr_assert_eq(pcpc("-n ffffffffffffffffffffffff -p udp -i 8080 -l 3600 map"), 2, "%s", out);
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 -D 'door' map"), 0, "%s", out);
	char ext2[64];
	external_of(out, ext2, sizeof(ext2));
	cr_assert_str_eq(ext2, ext);
	/* The renewal is stored too: once more, and the lifetime is the renewed one. */
	kill_cgnatd(SIGKILL);
	cr_assert(respawn());
	left = expires_in("127.0.0.1:8080");
	cr_assert(left > 3600 - 30, "the renewal was stored: %ld", left);
	cr_assert(strstr(out, "\"description\": \"door\""), "the renewal's DESCRIPTION was stored: %s", out);
}

Test(loopback_state, a_mapping_survives_kill_9)
{
	survives(SIGKILL);
}

Test(loopback_state, a_mapping_survives_a_clean_restart)
{
	survives(SIGTERM);
}

/* An RFC 7753 port set with a DESCRIPTION survives kill -9 as one: every port back on the
 * same consecutive external ports, shown as one row, the text on it, one mapping of the quota,
 * and it is still renewed and deleted as one. */
Test(loopback_state, a_port_set_survives_kill_9)
{
	char ext[64], want[200];
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 9000 -l 3600 --port-set 8 -D 'cameras' map"), 0, "%s", out);
	cr_assert(strstr(out, "PORT_SET size 8 first_internal_port 9000"), "a set of 8: %s", out);
	external_of(out, ext, sizeof(ext)); /* address:first port */
	char *colon = strrchr(ext, ':');
	cr_assert_not_null(colon);
	unsigned first = (unsigned)atoi(colon + 1);
	*colon = '\0';
	snprintf(want, sizeof(want), "\"internal\": \"127.0.0.1:9000-9007\", \"external\": \"%s:%u-%u\"", ext, first,
		 first + 7);
	cr_assert(ctl_until("-j mappings", want, true), "the set before: %s", out);

	kill_cgnatd(SIGKILL);
	cr_assert(respawn(), "cgnatd did not start again on its store");
	cr_assert(log_has("8 mappings restored (0 moved"), "%s", proc_read_file(log_path));
	cr_assert(ctl_until("-j mappings", want, true), "the set after kill -9: %s", out);
	cr_assert(strstr(out, "\"description\": \"cameras\""), "its DESCRIPTION: %s", out);
	cr_assert_eq(ctl("-j subscriber 127.0.0.1"), 0, "%s", out);
	cr_assert(strstr(out, "\"mappings\": 1,") || strstr(out, "\"mappings\": 1}"), "one mapping of the quota: %s", out);
	/* renewed as one (§4.4: same external ports), then deleted as one */
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 9000 -l 3600 --port-set 8 map"), 0, "%s", out);
	cr_assert(strstr(out, "PORT_SET size 8 first_internal_port 9000"), "%s", out);
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 9000 -l 0 --port-set 8 map"), 0, "%s", out);
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"pcp_mappings\": 0,"), "the set is gone: %s", out);
	kill_cgnatd(SIGKILL);
	cr_assert(respawn());
	cr_assert(log_has("0 mappings restored"), "the delete was stored: %s", proc_read_file(log_path));
}

/* A damaged store: cgnatd starts empty and working, says so, keeps the file aside, and the
 * epoch starts again. */
static void
damaged(const char *how)
{
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 map"), 0, "%s", out);
	sleep(3);
	kill_cgnatd(SIGTERM);
	cr_assert_eq(proc_run(out, sizeof(out), "cd %s/state && %s", dir, how), 0, "%s", out);
	cr_assert(respawn(), "cgnatd did not start on a damaged store: %s", proc_read_file(log_path));
	cr_assert(log_has("starting empty, epoch reset"), "%s", proc_read_file(log_path));
	cr_assert(log_has("/state/data.mdb: "), "the file is named: %s", proc_read_file(log_path));
	cr_assert_eq(proc_run(out, sizeof(out), "ls %s/state | grep -c 'data.mdb.bad-'", dir), 0, "moved aside: %s", out);
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"pcp_mappings\": 0,"), "%s", out);
	cr_assert_eq(pcpc("announce"), 0, "%s", out);
	cr_assert(epoch_of(out) <= 2, "the epoch starts again: %s", out);
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 map"), 0, "and it works: %s", out);
	/* ... on a new store that survives in turn */
	kill_cgnatd(SIGKILL);
	cr_assert(respawn());
	cr_assert(log_has("1 mappings restored"), "%s", proc_read_file(log_path));
}

Test(loopback_state, a_store_of_garbage_gives_an_empty_working_cgnatd)
{
	damaged("head -c 65536 /dev/urandom > data.mdb");
}

Test(loopback_state, a_truncated_store_gives_an_empty_working_cgnatd)
{
	damaged("truncate -s 12288 data.mdb");
}

Test(loopback_state, on_corrupt_refuse_stops_cgnatd)
{
	kill_cgnatd(SIGTERM);
	cr_assert_eq(proc_run(out, sizeof(out),
			      "sed -i 's|path = \"state\";|path = \"state\"; on_corrupt = \"refuse\";|' %s/cgnat.conf && "
			      "head -c 65536 /dev/urandom > %s/state/data.mdb", dir, dir), 0, "%s", out);
	/* Its refusal, not 30 s of waiting for a "ready" that never comes. */
	snprintf(log_path, sizeof(log_path), "%s/cgnatd-%d.log", dir, ++spawns);
	cgnatd_pid = proc_spawn(log_path, "%s -c %s/cgnat.conf", proc_env("CGNATD"), dir);
	cr_assert(proc_wait_file_contains(log_path, "refusing to start", 30000), "%s", proc_read_file(log_path));
	int rc = proc_stop(cgnatd_pid, SIGTERM, 10000);
	cgnatd_pid = 0;
	cr_assert(rc > 0, "exit status %d", rc);
	cr_assert_not(log_has("cgnatd: ready"), "cgnatd started on a corrupt store with on_corrupt = refuse");
	cr_assert_eq(proc_run(out, sizeof(out), "ls %s/state | grep -c 'data.mdb.bad-'", dir), 1, "not moved: %s", out);
}

/* The pool changed between runs: the mapping on an address that is gone gets a new endpoint
 * in the new pool (§14.2, as a pool change on SIGHUP) and the epoch starts again. */
Test(loopback_state, a_pool_change_between_runs_moves_the_mapping)
{
	char ext[64];
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 map"), 0, "%s", out);
	kill_cgnatd(SIGTERM);
	cr_assert_eq(proc_run(out, sizeof(out), "sed -i 's|203.0.113.0/28|198.51.100.0/28|' %s/cgnat.conf", dir), 0);
	cr_assert(respawn(), "%s", proc_read_file(log_path));
	cr_assert(log_has("1 mappings restored (1 moved"), "%s", proc_read_file(log_path));
	cr_assert(log_has("epoch reset"), "%s", proc_read_file(log_path));
	cr_assert(ctl_until("-j mappings", "\"internal\": \"127.0.0.1:8080\", \"external\": \"198.51.100.", true),
		  "%s", out);
	cr_assert_eq(ctl("-j stats"), 0);
	cr_assert(strstr(out, "\"pcp_mappings_moved\": 1,"), "%s", out);
	cr_assert_eq(pcpc("-n " NONCE " -p udp -i 8080 -l 3600 map"), 0, "the client renews it: %s", out);
	external_of(out, ext, sizeof(ext));
	cr_assert(strncmp(ext, "198.51.100.", 11) == 0, "%s", ext);
	cr_assert(epoch_of(out) <= 5, "%s", out);
}

/* SIGHUP cannot change the state section: a restart-only key. */
Test(loopback_state, reload_refuses_a_change_of_the_state_section)
{
	cr_assert_eq(proc_run(out, sizeof(out), "sed -i 's|path = \"state\";|path = \"state2\";|' %s/cgnat.conf", dir), 0);
	kill(cgnatd_pid, SIGHUP);
	cr_assert(proc_wait_file_contains(log_path, "state changed: that needs a restart", 10000), "%s",
		  proc_read_file(log_path));
}
