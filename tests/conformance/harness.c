/*
 * The conformance harness (see harness.h): main() writes the configuration, starts tshark
 * and cgnatd, runs every Criterion test against them, stops them, and finally has tshark
 * decode every response the server sent, failing the run on any malformed field.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proc.h"

struct pcp_request H_req;
struct pcp_response H_resp;
uint8_t H_raw[PCP_MAX_MSG + 64];
size_t H_raw_len;
uint8_t H_sent[PCP_MAX_MSG + 64];
size_t H_sent_len;
const char *H_server = "127.0.0.1";
const char *H_server6 = "::1";

static uint8_t opt_store[64][PCP_MAX_MSG];
static unsigned opt_used;
static char prefix[64], workdir[256];

const char *
h_env(const char *name)
{
	return proc_env(name);
}

static struct cgn_addr
addr(const char *text)
{
	struct cgn_addr a;
	cr_assert_eq(cgn_addr_parse(text, &a), 0, "bad address %s", text);
	return a;
}

void
h_begin(uint8_t opcode, const char *src, uint32_t lifetime)
{
	memset(&H_req, 0, sizeof(H_req));
	opt_used = 0;
	H_req.version = PCP_VERSION;
	H_req.opcode = opcode;
	H_req.lifetime = lifetime;
	H_req.client_addr = addr(src);
}

void
h_map(uint8_t proto, uint16_t internal_port, uint16_t ext_port, const char *ext_addr, const char *nonce_tag)
{
	struct pcp_map_data *m = &H_req.u.map;
	memset(m->nonce, 0, PCP_NONCE_LEN);
	memcpy(m->nonce, nonce_tag, strnlen(nonce_tag, PCP_NONCE_LEN));
	m->protocol = proto;
	m->internal_port = internal_port;
	m->external_port = ext_port;
	m->external_addr = addr(ext_addr ? ext_addr : "0.0.0.0");
}

void
h_peer_remote(const char *remote, uint16_t remote_port)
{
	H_req.u.peer.remote_addr = addr(remote);
	H_req.u.peer.remote_port = remote_port;
}

void
h_opt(uint8_t code, const void *data, uint16_t len)
{
	cr_assert_lt(opt_used, 64);
	if (len)
		memcpy(opt_store[opt_used], data, len);
	cr_assert_eq(pcp_request_add_option(&H_req, code, opt_store[opt_used], len), 0);
	opt_used++;
}

void
h_third_party(const char *a)
{
	struct cgn_addr x = addr(a);
	h_opt(PCP_OPT_THIRD_PARTY, x.b, 16);
}

void
h_filter(uint8_t prefix_len, const char *a, uint16_t port)
{
	struct pcp_filter f = { .prefix_len = prefix_len, .remote_port = port, .remote_addr = addr(a) };
	uint8_t b[PCP_FILTER_LEN];
	pcp_filter_encode(&f, b);
	h_opt(PCP_OPT_FILTER, b, sizeof(b));
}

int
h_send_raw(const char *src, const void *msg, size_t len, int wait_ms)
{
	struct sockaddr_storage me = { 0 }, srv = { 0 };
	socklen_t sl;
	if (strchr(src, ':')) { /* an IPv6 client: to H_server6 */
		struct sockaddr_in6 *m6 = (struct sockaddr_in6 *)&me, *s6 = (struct sockaddr_in6 *)&srv;
		m6->sin6_family = s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(5351);
		cr_assert_eq(inet_pton(AF_INET6, src, &m6->sin6_addr), 1, "bad address %s", src);
		cr_assert_eq(inet_pton(AF_INET6, H_server6, &s6->sin6_addr), 1);
		sl = sizeof(*m6);
	} else {
		struct sockaddr_in *m4 = (struct sockaddr_in *)&me, *s4 = (struct sockaddr_in *)&srv;
		m4->sin_family = s4->sin_family = AF_INET;
		s4->sin_port = htons(5351);
		inet_pton(AF_INET, src, &m4->sin_addr);
		inet_pton(AF_INET, H_server, &s4->sin_addr);
		sl = sizeof(*m4);
	}
	int fd = socket(me.ss_family, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	if (me.ss_family == AF_INET6) { /* H_SRC6_NET is a local route, not addresses: bind freely */
		int one = 1;
		setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
	}
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sl), 0, "bind %s: %s", src, strerror(errno));
	/* Connected: only datagrams from the server's address and port 5351 are read (§8.3). */
	cr_assert_eq(connect(fd, (struct sockaddr *)&srv, sl), 0);
	cr_assert_eq(send(fd, msg, len, 0), (ssize_t)len);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int rc = -1;
	if (poll(&p, 1, wait_ms) == 1) {
		ssize_t n = recv(fd, H_raw, sizeof(H_raw), 0);
		if (n >= 0) {
			H_raw_len = (size_t)n;
			rc = (int)n;
		}
	}
	close(fd);
	return rc;
}

int
h_send(const char *src, int wait_ms)
{
	ssize_t n = pcp_build_request(&H_req, H_sent, sizeof(H_sent));
	cr_assert_gt(n, 0, "request does not build");
	H_sent_len = (size_t)n;
	if (h_send_raw(src, H_sent, H_sent_len, wait_ms) < 0)
		return -1;
	cr_assert_eq(pcp_parse_response(H_raw, H_raw_len, &H_resp), PCP_VERDICT_OK, "unreadable response of %zu octets",
		     H_raw_len);
	return H_resp.result;
}

const char *
h_ext_addr(void)
{
	static char buf[CGN_ADDR_STRLEN];
	return cgn_addr_format(&H_resp.u.map.external_addr, buf, sizeof(buf));
}

const char *
h_ctl(const char *fmt, ...)
{
	static char out[65536];
	char *args;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&args, fmt, ap), 0);
	va_end(ap);
	/* Test bodies run in processes Criterion starts afresh: the prefix comes by environment. */
	proc_run(out, sizeof(out), "%s -p %s %s", proc_env("CGNATCTL"), proc_env("CGNC_PREFIX"), args);
	free(args);
	return out;
}

bool
h_ctl_until(const char *args, const char *text, bool present)
{
	for (int i = 0; i < 100; i++) {
		if ((strstr(h_ctl("%s", args), text) != NULL) == present)
			return true;
		usleep(20000);
	}
	return false;
}

/* The IPv6 addresses main() gives the namespace's loopback (beside ::1). */
static const char *const h_lo6[] = { H_SERVER6_B, H_CLIENT6_A, H_CLIENT6_B, H_CLIENT6_C, H_CLIENT6_D, H_OUTSIDE6 };

#define CONF_TEMPLATE \
	"eal = { file_prefix = \"%s\"; lcores = \"0-1\"; no_huge = true; memory_mb = 256; };\n" \
	"pcp = {\n" \
	"  listen = [ \"127.0.0.1:5351\", \"[" H_SERVER6 "]:5351\" ];\n" \
	"  inside = [ \"127.0.0.0/8\", \"::1/128\", \"" H_INSIDE6 "\", \"" H_SRC6_NET "\" ];\n" \
	"  third_party = [ \"" H_THIRD_PARTY "\", \"" H_THIRD_PARTY6 "\" ];\n" \
	"  lifetime = { min = 120; max = 86400; };\n" \
	"  error_lifetime = { short = %d; long = %d; };\n" \
	"  max_mappings_per_subscriber = %d;\n" \
	"  max_filters = %d;\n" \
	"  announce = { multicast = false; };\n" \
	"};\n" \
	"nat = {\n" \
	"  pool = [ \"203.0.113.0/29\", \"203.0.113.64/30\" ];\n" \
	"  ports = \"1024-65535\";\n" \
	"  block_size = 512; max_blocks = 2; port_hold_s = 120;\n" \
	"  static = ( { proto = \"tcp\"; internal = \"" H_STATIC_INTERNAL ":22\"; external = \"" H_STATIC_EXTERNAL ":2222\"; } );\n" \
	"};\n" \
	"nat64 = { prefixes = [ \"" H_PREF64_WKP "\", \"" H_PREF64_NSP "\" ];\n" \
	"  ipv4_prefixes = ( { pref64 = \"" H_PREF64_NSP "\"; ipv4 = [ \"192.0.2.0/24\", \"198.51.100.0/24\" ]; } ); };\n" \
	"dataplane = { table_size = 65536; idle_sleep_us = 200; };\n"

void
h_work_file(const char *pfx, const char *suffix, char *path, size_t len)
{
	const char *dir = getenv("CGNC_WORKDIR"); /* set by main */
	snprintf(path, len, "%s/%s%s", dir ? dir : "/tmp", pfx, suffix);
}

int
h_start_cgnatd(const char *conf_text, const char *pfx, const char *log_path)
{
	char path[512];
	h_work_file(pfx, ".conf", path, sizeof(path));
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(conf_text, f);
	fclose(f);
	pid_t pid = proc_spawn(log_path, "%s -c %s", proc_env("CGNATD"), path);
	if (!proc_wait_file_contains(log_path, "cgnatd: ready", 30000)) {
		char *log = proc_read_file(log_path);
		fprintf(stderr, "cgnatd did not start:\n%s\n", log ? log : "");
		free(log);
		proc_stop(pid, SIGKILL, 1000);
		return -1;
	}
	return pid;
}

int
h_stop_cgnatd(int pid)
{
	return proc_stop(pid, SIGTERM, 10000);
}

int
main(int argc, char *argv[])
{
	char conf[4096], log_path[512], pcap[512], cap_log[512], out[8192];
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;

	if (!criterion_handle_args(argc, argv, true)) {
		criterion_finalize(tests);
		return 0;
	}
	snprintf(workdir, sizeof(workdir), "/tmp/cgnat-conformance-%d", getpid());
	snprintf(prefix, sizeof(prefix), "cgnc%d", getpid());
	setenv("CGNC_PREFIX", prefix, 1);
	setenv("CGNC_WORKDIR", workdir, 1);
	proc_run(out, sizeof(out), "mkdir -p %s && ip addr add 198.51.100.77/32 dev lo", workdir);
	/* IPv6 clients: addresses of H_INSIDE6 and one outside pcp.inside (H_OUTSIDE6), usable at
	 * once (nodad: no Duplicate Address Detection to wait for). The namespace's own. */
	for (unsigned i = 0; i < sizeof(h_lo6) / sizeof(h_lo6[0]); i++)
		if (proc_run(out, sizeof(out), "ip -6 addr add %s/128 dev lo nodad", h_lo6[i]) != 0) {
			fprintf(stderr, "conformance: cannot add %s to lo: %s\n", h_lo6[i], out);
			return 1;
		}
	/* IPv6 clients: ::1 and any address of H_SRC6_NET (a local route, in the test's own
	 * network namespace). */
	proc_run(out, sizeof(out), "ip -6 route add local " H_SRC6_NET " dev lo");

	/* Every response on the wire goes to tshark; decoded after the run. */
	snprintf(pcap, sizeof(pcap), "%s/conformance.pcap", workdir);
	snprintf(cap_log, sizeof(cap_log), "%s/tshark.log", workdir);
	pid_t cap = proc_spawn(cap_log, "tshark -q -i lo -f 'udp port 5351' -w %s", pcap);
	if (!proc_wait_file_contains(cap_log, "Capturing on", 20000)) {
		fprintf(stderr, "conformance: tshark did not start\n");
		return 1;
	}

	snprintf(conf, sizeof(conf), CONF_TEMPLATE, prefix, H_SHORT_ERR, H_LONG_ERR, H_MAX_MAPPINGS, H_MAX_FILTERS);
	snprintf(log_path, sizeof(log_path), "%s/cgnatd.log", workdir);
	int pid = h_start_cgnatd(conf, prefix, log_path);
	if (pid < 0)
		return 1;

	result = criterion_run_all_tests(tests);
	criterion_finalize(tests);

	int rc = h_stop_cgnatd(pid);
	if (rc != 0) {
		fprintf(stderr, "conformance: cgnatd did not exit cleanly (%d)\n", rc);
		result = 0;
	}
	usleep(300000);
	proc_stop(cap, SIGINT, 10000);

	/* Interop: every response the server sent decodes without malformed fields or expert
	 * errors in Wireshark's PCP/NAT-PMP dissector. One kind is excused: the MALFORMED_REQUEST
	 * answer to a request cut short inside its opcode data, which §8.2 makes a copy of that
	 * short request, so it is short too, and the dissector reads past its end. */
	proc_run(out, sizeof(out), "tshark -r %s -Y 'udp.srcport == 5351' 2>/dev/null | wc -l", pcap);
	int responses = atoi(out);
	proc_run(out, sizeof(out), "tshark -r %s -Y 'udp.srcport == 5351 && (_ws.malformed || _ws.expert.severity >= 0x00800000) "
		 "&& !(portcontrol.result_code == 3 && ((portcontrol.opcode == 1 && udp.length < 68) || "
		 "(portcontrol.opcode == 2 && udp.length < 88)))' "
		 "-T fields -e frame.number -e _ws.expert.message 2>/dev/null", pcap);
	printf("conformance: tshark decoded %d responses; findings: %s\n", responses, out[0] ? out : "none");
	/* ... among them IPv6 ones and PREFIX64s (RFC 7225), which the dissector decodes field by
	 * field: they must have been on the wire for the check to mean anything. */
	char more[256];
	proc_run(more, sizeof(more), "tshark -r %s -Y 'udp.srcport == 5351 && ipv6' 2>/dev/null | wc -l", pcap);
	int v6 = atoi(more);
	proc_run(more, sizeof(more), "tshark -r %s -Y 'udp.srcport == 5351 && portcontrol.option.p64.length' 2>/dev/null | wc -l",
		 pcap);
	int p64 = atoi(more);
	/* ... and DESCRIPTIONs (RFC 7220) the server echoed, one of them read back as its text */
	proc_run(more, sizeof(more), "tshark -r %s -Y 'udp.srcport == 5351 && portcontrol.result_code == 0 && "
		 "portcontrol.option.code == 128' 2>/dev/null | wc -l", pcap);
	int desc = atoi(more);
	proc_run(more, sizeof(more), "tshark -r %s -Y 'udp.srcport == 5351 && portcontrol.result_code == 0' "
		 "-T fields -e portcontrol.option.description 2>/dev/null | grep -c '^FTP server$'", pcap);
	int ftp = atoi(more);
	printf("conformance: %d responses over IPv6, %d with PREFIX64, %d with DESCRIPTION\n", v6, p64, desc);
	if (v6 < 20 || p64 < 5 || desc < 10 || ftp < 1) {
		fprintf(stderr, "conformance: too few IPv6, PREFIX64 or DESCRIPTION responses on the wire "
				"(or tshark did not read \"FTP server\" back)\n");
		result = 0;
	}
	/* ... and PORT_SETs (RFC 7753), §5.3's among them: Port Set Size 99, First Internal Port
	 * 101 (which the dissector calls "Assigned First Port"). */
	proc_run(more, sizeof(more), "tshark -r %s -Y 'udp.srcport == 5351 && portcontrol.option.portset.size' 2>/dev/null | wc -l",
		 pcap);
	int port_sets = atoi(more);
	proc_run(more, sizeof(more), "tshark -r %s -Y 'udp.srcport == 5351 && portcontrol.option.portset.size == 99 && "
		 "portcontrol.option.portset.rsp_assigned_first_external_port == 101' 2>/dev/null | wc -l", pcap);
	int overlap = atoi(more);
	printf("conformance: %d responses with PORT_SET, %d as RFC 7753 §5.3's second one\n", port_sets, overlap);
	if (port_sets < 10 || overlap < 1) {
		fprintf(stderr, "conformance: too few PORT_SET responses on the wire\n");
		result = 0;
	}
	if (responses < 50 || out[0]) {
		int first = atoi(out);
		proc_run(out, sizeof(out), "tshark -r %s -Y 'frame.number == %d' -V -x 2>/dev/null | tail -n 60", pcap, first);
		fprintf(stderr, "conformance: the responses on the wire do not all decode; frame %d:\n%s\n", first, out);
		result = 0;
	}
	proc_run(out, sizeof(out), "rm -rf %s", workdir);
	return result ? 0 : 1;
}
