/*
 * The Prometheus page (control/metrics.c) of a real cgnatd (suite 'integration'): cgnatd on
 * two net_pcap vdevs (three LLDP frames into the inside port, nothing into the outside one)
 * with PCP on 127.0.0.1 and the page on 127.0.0.1 or [::1]; fetched with curl, checked by
 * `promtool check metrics` (no error, no lint warning), and read for the counters a known
 * action leaves: one PCP MAP (pcpc), the three frames received and dropped as NOT_IP.
 *
 * meson runs this binary through tests/netns_run.sh: a network namespace of its own with only
 * its loopback, so any port is free and nothing else listens there.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

static char dir[256], prefix[64], log_path[300], conf_path[300];
static pid_t cgnatd_pid;
static int exit_status; /* of a cgnatd that exited before it was ready */
static char out[65536];

#define SUB_MAC "02:00:00:00:01:01"

/* A pcap of n LLDP frames (60 octets each): neither IPv4, IPv6 nor ARP, so each is dropped
 * as NOT_IP by the worker that reads it. */
static void
write_lldp_pcap(const char *path, unsigned n)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s", path);
	const uint32_t ghdr[6] = { 0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1 /* Ethernet */ };
	fwrite(ghdr, sizeof(ghdr), 1, f);
	uint8_t frame[60] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x88, 0xcc };
	for (unsigned i = 0; i < n; i++) {
		const uint32_t rhdr[4] = { 1, i, sizeof(frame), sizeof(frame) };
		fwrite(rhdr, sizeof(rhdr), 1, f);
		fwrite(frame, sizeof(frame), 1, f);
	}
	cr_assert_eq(fclose(f), 0);
}

/* A TCP port nobody uses in this namespace (the kernel's choice of an ephemeral one). */
static unsigned
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void
write_conf(const char *metrics)
{
	FILE *f = fopen(conf_path, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"pcp = { listen = [ \"127.0.0.1:5351\" ]; inside = [ \"127.0.0.0/8\", \"100.64.0.0/10\" ];\n"
		"        announce = { multicast = false; }; };\n"
		"nat = { pool = [ \"203.0.113.0/30\" ]; };\n"
		"dataplane = { idle_sleep_us = 100; rx_delay_ms = 200; };\n"
		"ports = ( { name = \"net_pcap0\"; role = \"inside\"; peer_mac = \"" SUB_MAC "\"; address = \"100.64.0.254\"; },\n"
		"          { name = \"net_pcap1\"; role = \"outside\"; peer_mac = \"02:00:00:00:02:02\"; address = \"198.51.100.1\"; } );\n"
		"%s\n",
		metrics);
	cr_assert_eq(fclose(f), 0);
}

/* Starts cgnatd with the metrics group given ("" for none). @return false if it exited
 * before it was ready (its log is in log_path). */
static bool
start_with(const char *metrics)
{
	snprintf(dir, sizeof(dir), "/tmp/cgnm-%d-XXXXXX", getpid());
	cr_assert_not_null(mkdtemp(dir));
	snprintf(prefix, sizeof(prefix), "cgnm%d", getpid());
	snprintf(log_path, sizeof(log_path), "%s/cgnatd.log", dir);
	snprintf(conf_path, sizeof(conf_path), "%s/cgnat.conf", dir);
	char in_in[300], in_out[300];
	snprintf(in_in, sizeof(in_in), "%s/in_inside.pcap", dir);
	snprintf(in_out, sizeof(in_out), "%s/in_outside.pcap", dir);
	write_lldp_pcap(in_in, 3);
	write_lldp_pcap(in_out, 0);
	write_conf(metrics);
	cgnatd_pid = proc_spawn(log_path,
				"%s -l 0-1 --no-huge -m 256 --no-pci --no-shconf --file-prefix %s "
				"--vdev net_pcap0,rx_pcap=%s,tx_pcap=%s/out_inside.pcap "
				"--vdev net_pcap1,rx_pcap=%s,tx_pcap=%s/out_outside.pcap -- -c %s",
				proc_env("CGNATD"), prefix, in_in, dir, in_out, dir, conf_path);
	for (int i = 0; i < 300; i++) {
		char *log = proc_read_file(log_path);
		bool ready = log && strstr(log, "cgnatd: ready");
		free(log);
		if (ready)
			return true;
		int st;
		if (waitpid(cgnatd_pid, &st, WNOHANG) == cgnatd_pid) {
			exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			cgnatd_pid = 0;
			return false;
		}
		usleep(50000);
	}
	char *log = proc_read_file(log_path);
	cr_assert_fail("cgnatd did not become ready:\n%s", log ? log : "(no log)");
	return false;
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

/* GET (or another method) url with curl: the status, the body in *body (malloc'ed, NULL
 * if none), the headers in out. */
static int
fetch(const char *method, const char *url, char **body)
{
	char path[320], code[64];
	snprintf(path, sizeof(path), "%s/page", dir);
	unlink(path);
	int rc = proc_run(code, sizeof(code), "curl -sS -g -m 5 -X %s -o %s -D %s/headers -w '%%{http_code}' '%s'",
			  method, path, dir, url);
	cr_assert_eq(rc, 0, "curl %s %s: %s", method, url, code);
	if (body)
		*body = proc_read_file(path);
	snprintf(path, sizeof(path), "%s/headers", dir);
	char *h = proc_read_file(path);
	snprintf(out, sizeof(out), "%s", h ? h : "");
	free(h);
	return atoi(code);
}

/* The value of the sample whose name and labels are exactly key, or -1 if the page has none. */
static double
value(const char *page, const char *key)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s ", key);
	const char *p = strstr(page, want);
	return p ? strtod(p + strlen(want), NULL) : -1;
}

/* Fetches the page until key has value v (the workers read the pcap after rx_delay_ms), for
 * 5 s at most. @return the last page (malloc'ed). */
static char *
page_when(const char *url, const char *key, double v)
{
	for (int i = 0; i < 100; i++) {
		char *page;
		cr_assert_eq(fetch("GET", url, &page), 200, "%s", out);
		cr_assert_not_null(page);
		if (value(page, key) == v || i == 99)
			return page;
		free(page);
		usleep(50000);
	}
	return NULL;
}

static void
promtool_accepts(const char *page)
{
	char path[320];
	snprintf(path, sizeof(path), "%s/page.prom", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(page, f);
	fclose(f);
	int rc = proc_run(out, sizeof(out), "%s check metrics < %s", proc_env("PROMTOOL"), path);
	cr_assert_eq(rc, 0, "promtool check metrics: %s", out);
	cr_assert_str_empty(out, "promtool check metrics: a lint warning: %s", out);
}

TestSuite(metrics, .fini = stop, .timeout = 60);

Test(metrics, the_page_has_every_counter_with_its_value_and_promtool_accepts_it)
{
	char group[128], url[96];
	unsigned port = free_port();
	snprintf(group, sizeof(group), "metrics = { listen = \"127.0.0.1:%u\"; };", port);
	cr_assert(start_with(group), "cgnatd exited: %s", proc_read_file(log_path));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	snprintf(out, sizeof(out), "cgnatd: metrics on %s\n", url);
	char *log = proc_read_file(log_path);
	cr_assert(log && strstr(log, out), "%s", log);
	free(log);

	/* A known action: one MAP from 127.0.0.1, answered SUCCESS. */
	cr_assert_eq(proc_run(out, sizeof(out), "%s --irt 0.3 --mrc 3 -p udp -i 8080 map", proc_env("PCPC")), 0, "%s",
		     out);
	cr_assert(strstr(out, "result: SUCCESS (0)"), "%s", out);

	char *page = page_when(url, "cgnat_packets_dropped_total{reason=\"NOT_IP\",worker=\"0\"}", 3);
	cr_assert_eq(value(page, "cgnat_packets_dropped_total{reason=\"NOT_IP\",worker=\"0\"}"), 3, "%s", page);
	cr_assert(strstr(out, "Content-Type: text/plain; version=0.0.4"), "%s", out);
	promtool_accepts(page);

	/* PCP by opcode and result, labelled; the mapping as a gauge, its block in the pool. */
	cr_assert_eq(value(page, "cgnat_pcp_requests_total{opcode=\"MAP\"}"), 1);
	cr_assert_eq(value(page, "cgnat_pcp_requests_total{opcode=\"PEER\"}"), 0);
	cr_assert_eq(value(page, "cgnat_pcp_responses_total{result=\"SUCCESS\"}"), 1);
	cr_assert_eq(value(page, "cgnat_pcp_responses_total{result=\"NO_RESOURCES\"}"), 0);
	cr_assert_eq(value(page, "cgnat_pcp_received_total"), 1);
	cr_assert_eq(value(page, "cgnat_pcp_mappings_created_total"), 1);
	cr_assert_eq(value(page, "cgnat_pcp_mappings"), 1);
	cr_assert_eq(value(page, "cgnat_pcp_dropped_total{reason=\"NOT_INSIDE\"}"), 0);
	cr_assert_eq(value(page, "cgnat_natpmp_responses_total{result=\"SUCCESS\"}"), 0);
	cr_assert_eq(value(page, "cgnat_table_mappings"), 1);
	cr_assert_eq(value(page, "cgnat_table_adds_total"), 1);
	cr_assert_eq(value(page, "cgnat_pool_addresses"), 4);
	cr_assert_eq(value(page, "cgnat_pool_blocks_used"), 1);
	cr_assert_eq(value(page, "cgnat_pool_blocks"), 4 * (64512 / 512));
	cr_assert_eq(value(page, "cgnat_subscribers"), 1);
	cr_assert_eq(value(page, "cgnat_subscriber_ports_used"), 1);
	/* The frames: by the NIC's count on port 0, by the worker's, and why they went. */
	cr_assert_eq(value(page, "cgnat_port_packets_total{port=\"0\",device=\"net_pcap0\",role=\"inside\",direction=\"rx\"}"),
		     3, "%s", page);
	cr_assert_eq(value(page, "cgnat_port_bytes_total{port=\"0\",device=\"net_pcap0\",role=\"inside\",direction=\"rx\"}"),
		     180);
	cr_assert_eq(value(page, "cgnat_port_packets_total{port=\"1\",device=\"net_pcap1\",role=\"outside\",direction=\"rx\"}"),
		     0);
	cr_assert_eq(value(page, "cgnat_pkt_rx_total{worker=\"0\"}"), 3);
	cr_assert_eq(value(page, "cgnat_packets_dropped_total{reason=\"TABLE_FULL\",worker=\"0\"}"), 0);
	cr_assert(value(page, "cgnat_port_mtu_bytes{port=\"0\",device=\"net_pcap0\",role=\"inside\"}") > 0);
	cr_assert_eq(value(page, "cgnat_workers"), 1);
	/* Every reason of the breakdowns is there, zero or not (no 256-entry limit here). */
	cr_assert_eq(value(page, "cgnat_nd_refused_total{reason=\"HOP_LIMIT\",worker=\"0\"}"), 0);
	cr_assert_eq(value(page, "cgnat_nat64_icmp_errors_dropped_total{reason=\"NESTED_ERROR\",worker=\"0\"}"), 0);
	/* One HELP and one TYPE per family, the drop reasons' docs in it, counters as _total. */
	cr_assert(strstr(page, "# TYPE cgnat_packets_dropped_total counter\n"));
	cr_assert(strstr(page, "# HELP cgnat_packets_dropped_total Packets the data plane dropped"));
	cr_assert(strstr(page, "NOT_IP: neither IPv4, IPv6 nor ARP"));
	cr_assert(strstr(page, "# TYPE cgnat_pool_blocks_used gauge\n"));
	free(page);

	/* Elsewhere 404, another method 405; HEAD is GET without the body. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	cr_assert_eq(fetch("GET", url, NULL), 404);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics/x", port);
	cr_assert_eq(fetch("GET", url, NULL), 404);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	cr_assert_eq(fetch("POST", url, NULL), 405);
	cr_assert(strstr(out, "Allow: GET, HEAD"), "%s", out);
	cr_assert_eq(proc_run(out, sizeof(out), "curl -sS -m 5 -I -o /dev/null -w '%%{http_code}' '%s'", url), 0);
	cr_assert_str_eq(out, "200");

	/* Restart-only: a SIGHUP that moves the page is refused, and it stays where it was. */
	snprintf(group, sizeof(group), "metrics = { listen = \"127.0.0.1:%u\"; };", port + 1);
	write_conf(group);
	kill(cgnatd_pid, SIGHUP);
	cr_assert(proc_wait_file_contains(log_path, "metrics changed: that needs a restart", 10000), "%s",
		  proc_read_file(log_path));
	cr_assert_eq(fetch("GET", url, NULL), 200);

	/* Scrapes while cgnatd stops: it exits cleanly (stop() asserts), reading nothing freed. */
	proc_spawn("/dev/null", "sh -c 'for i in $(seq 300); do curl -s -m 1 -o /dev/null %s; done'", url);
	usleep(100000);
}

Test(metrics, over_ipv6)
{
	char group[128], url[96];
	unsigned port = free_port();
	snprintf(group, sizeof(group), "metrics = { listen = \"[::1]:%u\"; };", port);
	cr_assert(start_with(group), "cgnatd exited: %s", proc_read_file(log_path));
	snprintf(url, sizeof(url), "http://[::1]:%u/metrics", port);
	char *page = NULL;
	cr_assert_eq(fetch("GET", url, &page), 200, "%s", out);
	cr_assert(value(page, "cgnat_pcp_requests_total{opcode=\"MAP\"}") == 0, "%s", page);
	free(page);
	/* bound to ::1 alone: not on IPv4 */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", port);
	cr_assert_neq(proc_run(out, sizeof(out), "curl -sS -m 2 -o /dev/null '%s'", url), 0, "%s", out);
}

/* Without a metrics group no socket listens: the namespace has no TCP listener at all. */
Test(metrics, without_the_group_nothing_listens)
{
	cr_assert(start_with(""), "cgnatd exited: %s", proc_read_file(log_path));
	cr_assert_eq(proc_run(out, sizeof(out), "cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == \"0A\"' | wc -l"), 0);
	cr_assert_eq(atoi(out), 0, "a TCP socket listens: %s", out);
	char *log = proc_read_file(log_path);
	cr_assert_null(strstr(log, "metrics on"), "%s", log);
	free(log);
	/* and the default port is not served either */
	cr_assert_neq(proc_run(out, sizeof(out), "curl -sS -m 2 -o /dev/null http://127.0.0.1:9464/metrics"), 0);
}

/* A port already taken is a start-up error that says which and why. */
Test(metrics, a_taken_port_stops_the_start_with_a_clear_error)
{
	char group[128];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(fd, 1) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &len) == 0);
	snprintf(group, sizeof(group), "metrics = { listen = \"127.0.0.1:%u\"; };", ntohs(a.sin_port));
	cr_assert_not(start_with(group), "cgnatd started on a taken port");
	int rc = exit_status;
	close(fd);
	char *log = proc_read_file(log_path);
	char want[128];
	snprintf(want, sizeof(want), "cgnatd: metrics.listen 127.0.0.1:%u: cannot bind: Address already in use",
		 ntohs(a.sin_port));
	cr_assert(log && strstr(log, want), "%s", log);
	cr_assert_eq(rc, 1, "exit status %d:\n%s", rc, log);
	free(log);
}
