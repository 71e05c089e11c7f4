/*
 * RFC 6887 §8.5 and §14.1.3 across a restart, and §8.2 overload: each test runs a cgnatd of
 * its own on another address of the namespace's loopback.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define CONF_FMT \
	"eal = { file_prefix = \"%s\"; lcores = \"0-1\"; };\n" \
	"pcp = { listen = [ \"%s:5351\" ]; inside = [ \"127.0.0.0/8\" ];\n" \
	"        announce = { multicast = false; clients = [ \"%s\" ]; };\n" \
	"        max_requests_per_second = %u; };\n" \
	"nat = { pool = [ \"203.0.113.128/28\" ]; };\n" \
	"dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"

/* A cgnatd a test starts: its file prefix, its log and config files (in the run's work
 * folder, h_start_cgnatd's). */
struct daemon_files {
	char pfx[32], log[256], conf[256];
};

static struct daemon_files
daemon_files(const char *tag)
{
	struct daemon_files f;
	snprintf(f.pfx, sizeof(f.pfx), "%s%d", tag, getpid());
	h_work_file(f.pfx, ".log", f.log, sizeof(f.log));
	h_work_file(f.pfx, ".conf", f.conf, sizeof(f.conf));
	return f;
}

/* Collects unsolicited ANNOUNCEs on fd for ms milliseconds. */
static int
collect_announces(int fd, int ms, uint32_t *max_epoch)
{
	int n = 0;
	uint8_t b[PCP_MAX_MSG];
	struct sockaddr_in from;
	for (int waited = 0; waited < ms; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			continue;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		cr_assert_eq(len, 24, "an ANNOUNCE response is a bare header");
		cr_assert_eq(b[0], 2);
		cr_assert_eq(b[1], 0x80 | PCP_OP_ANNOUNCE, "§14.1.3: an ANNOUNCE response");
		cr_assert_eq(b[3], PCP_RES_SUCCESS);
		cr_assert_eq(ntohs(from.sin_port), 5351, "sent from the PCP port");
		char a[32];
		cr_assert_str_eq(inet_ntop(AF_INET, &from.sin_addr, a, sizeof(a)), "127.0.0.200", "from the server's address");
		uint32_t e = (uint32_t)b[8] << 24 | (uint32_t)b[9] << 16 | (uint32_t)b[10] << 8 | b[11];
		if (e > *max_epoch)
			*max_epoch = e;
		n++;
	}
	return n;
}

static uint32_t
announce_epoch(void)
{
	H_server = "127.0.0.200";
	h_begin(PCP_OP_ANNOUNCE, "127.14.0.1", 0);
	cr_assert_eq(h_send("127.14.0.1", H_WAIT), PCP_RES_SUCCESS);
	H_server = "127.0.0.1";
	return H_resp.epoch;
}

Test(rfc6887_14_1_3, restart_announces_and_resets_the_epoch, .timeout = 60)
{
	char conf[2048];
	struct daemon_files df = daemon_files("cgnr");
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(5350) };
	inet_pton(AF_INET, "127.0.0.201", &me.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);

	snprintf(conf, sizeof(conf), CONF_FMT, df.pfx, "127.0.0.200", "127.0.0.201:5350", 0u);
	int pid = h_start_cgnatd(conf, df.pfx, df.log);
	cr_assert_gt(pid, 0);
	uint32_t max_epoch = 0;
	/* "up to ten times", intervals doubling from 250 ms: 0, 0.25, 0.75, 1.75 s in 2 s */
	int n = collect_announces(fd, 2000, &max_epoch);
	cr_assert(n >= 3 && n <= 5, "%d ANNOUNCEs in the first 2 s", n);
	cr_assert_leq(max_epoch, 2);
	usleep(1500000);
	uint32_t before = announce_epoch();
	cr_assert_geq(before, 3);
	cr_assert_eq(h_stop_cgnatd(pid), 0);

	/* A restart loses the mappings: the epoch starts again (§8.5), and clients are told. */
	pid = h_start_cgnatd(conf, df.pfx, df.log);
	cr_assert_gt(pid, 0);
	max_epoch = 0;
	n = collect_announces(fd, 1000, &max_epoch);
	cr_assert_geq(n, 2, "ANNOUNCEs again after the restart");
	uint32_t after = announce_epoch();
	cr_assert_lt(after, before, "§8.5: the epoch went back (%u then %u)", before, after);
	cr_assert_eq(h_stop_cgnatd(pid), 0);
	close(fd);
}

Test(rfc6887_8_2, overload_is_answered_with_no_resources, .timeout = 60)
{
	char conf[2048];
	struct daemon_files df = daemon_files("cgno");
	snprintf(conf, sizeof(conf), CONF_FMT, df.pfx, "127.0.0.202", "127.0.0.203:5350", 10u);
	int pid = h_start_cgnatd(conf, df.pfx, df.log);
	cr_assert_gt(pid, 0);

	H_server = "127.0.0.202";
	int ok = 0, busy = 0;
	for (int i = 0; i < 40; i++) {
		h_begin(PCP_OP_ANNOUNCE, "127.14.0.2", 0);
		int rc = h_send("127.14.0.2", H_WAIT);
		ok += rc == PCP_RES_SUCCESS;
		if (rc == PCP_RES_NO_RESOURCES) {
			busy++;
			cr_assert_eq(H_resp.lifetime, 30, "a short lifetime error");
		}
	}
	H_server = "127.0.0.1";
	cr_assert_eq(ok + busy, 40);
	cr_assert(ok >= 10 && ok <= 16, "a one-second burst of 10, then 10/s: %d succeeded", ok);
	cr_assert_geq(busy, 20);
	cr_assert_eq(h_stop_cgnatd(pid), 0);
}

/* ---- §14.2 Mapping Update on a pool change (SIGHUP) ---- */

#include <signal.h>

/* A client socket that stays open, to receive the unsolicited updates of a server. */
static int
client_of(const char *server, const char *addr, uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(port) };
	inet_pton(AF_INET, addr, &me.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	struct sockaddr_in srv = { .sin_family = AF_INET, .sin_port = htons(5351) };
	inet_pton(AF_INET, server, &srv.sin_addr);
	cr_assert_eq(connect(fd, (struct sockaddr *)&srv, sizeof(srv)), 0);
	return fd;
}

static int
client(const char *addr, uint16_t port)
{
	return client_of("127.0.0.204", addr, port);
}

static int
exchange(int fd, const char *src, uint16_t iport, uint16_t eport, bool prefer_failure, struct pcp_response *r)
{
	h_begin(PCP_OP_MAP, src, 3600);
	h_map(17, iport, eport, NULL, "upd");
	if (prefer_failure)
		h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	uint8_t b[PCP_MAX_MSG];
	ssize_t n = pcp_build_request(&H_req, b, sizeof(b));
	cr_assert_eq(send(fd, b, (size_t)n, 0), n);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&p, 1, H_WAIT), 1);
	n = recv(fd, b, sizeof(b), 0);
	cr_assert_eq(pcp_parse_response(b, (size_t)n, r), PCP_VERDICT_OK);
	return r->result;
}

/* Gives the running daemon a new config file and a SIGHUP. */
static void
reload(const struct daemon_files *f, int pid, const char *conf)
{
	FILE *fp = fopen(f->conf, "w");
	cr_assert_not_null(fp);
	fputs(conf, fp);
	fclose(fp);
	kill(pid, SIGHUP);
}

/* Counts unsolicited responses on fd for ms; the last one parsed into *r. */
static int
updates(int fd, int ms, struct pcp_response *r)
{
	uint8_t b[PCP_MAX_MSG];
	int n = 0;
	for (int waited = 0; waited < ms; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			continue;
		ssize_t len = recv(fd, b, sizeof(b), 0);
		cr_assert_eq(pcp_parse_response(b, (size_t)len, r), PCP_VERDICT_OK);
		n++;
	}
	return n;
}

Test(rfc6887_14_2, pool_change_moves_mappings_and_tells_clients, .timeout = 60)
{
	static struct pcp_response r1, r2, r3, u;
	char conf[2048], a[CGN_ADDR_STRLEN];
	struct daemon_files df = daemon_files("cgnu");
#define UPD_CONF "eal = { file_prefix = \"%s\"; };\n"                                         \
		 "pcp = { listen = [ \"127.0.0.204:5351\" ]; inside = [ \"127.0.0.0/8\" ];\n"    \
		 "        announce = { multicast = false; }; };\n"                               \
		 "nat = { pool = [ %s ]; };\n"                                                    \
		 "dataplane = { table_size = %u; idle_sleep_us = 500; };\n"
	snprintf(conf, sizeof(conf), UPD_CONF, df.pfx, "\"203.0.113.160/31\"", 4096u);
	int pid = h_start_cgnatd(conf, df.pfx, df.log);
	cr_assert_gt(pid, 0);

	/* S has a plain mapping and a PREFER_FAILURE one; T one mapping, on the other address. */
	int s1 = client("127.16.0.1", 40001), s2 = client("127.16.0.1", 40002), t = client("127.16.0.2", 40003);
	cr_assert_eq(exchange(s1, "127.16.0.1", 7001, 0, false, &r1), PCP_RES_SUCCESS);
	cr_assert_eq(exchange(s2, "127.16.0.1", 7002, 47002, true, &r2), PCP_RES_SUCCESS);
	cr_assert_eq(exchange(t, "127.16.0.2", 7003, 0, false, &r3), PCP_RES_SUCCESS);
	cr_assert_not(cgn_addr_eq(&r1.u.map.external_addr, &r3.u.map.external_addr), "two subscribers, two addresses");
	cr_assert_eq(r2.u.map.external_port, 47002);

	/* A reload that would need a restart changes nothing. */
	snprintf(conf, sizeof(conf), UPD_CONF, df.pfx, "\"203.0.113.160/31\"", 8192u);
	reload(&df, pid, conf);
	usleep(300000);
	cr_assert_eq(updates(s1, 300, &u), 0);

	/* Nor one that removes S's address and changes nat64.subscriber_prefix_len: that needs a
	 * restart too (NAT64 sessions are keyed under it). */
	char keep[64];
	snprintf(keep, sizeof(keep), "\"%s\"", cgn_addr_format(&r3.u.map.external_addr, a, sizeof(a)));
	snprintf(conf, sizeof(conf), UPD_CONF "nat64 = { subscriber_prefix_len = 64; };\n", df.pfx, keep, 4096u);
	reload(&df, pid, conf);
	usleep(300000);
	cr_assert_eq(updates(s1, 300, &u), 0, "the pool did not change");

	/* Remove S's address: T's stays. */
	snprintf(conf, sizeof(conf), UPD_CONF, df.pfx, keep, 4096u);
	reload(&df, pid, conf);

	/* Three updates each (0, 250, 750 ms), from the same server address and port. */
	int n1 = updates(s1, 1500, &u);
	cr_assert_eq(n1, 3, "the moved mapping's client got %d updates", n1);
	cr_assert_eq(u.result, PCP_RES_SUCCESS);
	cr_assert(cgn_addr_eq(&u.u.map.external_addr, &r3.u.map.external_addr), "moved to the remaining address");
	cr_assert_eq(u.u.map.internal_port, 7001);
	cr_assert_eq(memcmp(u.u.map.nonce, "upd", 3), 0);
	cr_assert_lt(u.epoch, 3, "§8.5: the epoch was reset");
	struct pcp_response v;
	cr_assert_eq(updates(s2, 300, &v), 3);
	cr_assert_eq(v.result, PCP_RES_CANNOT_PROVIDE_EXTERNAL, "PREFER_FAILURE: the same address cannot be had");
	cr_assert_eq(updates(t, 300, &v), 0, "a mapping that did not move is not updated");

	cr_assert_eq(h_stop_cgnatd(pid), 0);
	close(s1), close(s2), close(t);
}

/*
 * §14.2 to IPv6 clients: NAT64 mappings (RFC 6146) made by MAP from two IPv6 subscribers
 * (nat64.subscriber_prefix_len 128: each address its own subscriber, so each its own external
 * address), on a cgnatd of the test's own on [::1]:5352 (the shared one has [::1]:5351). A
 * reload removes A's external address: A's mapping moves to the one left, and A is told three
 * times over IPv6 (§14.2: "the PCP server SHOULD send ... unicast to the client") with the new
 * IPv4 endpoint, its internal port and nonce; B, whose mapping stays, hears nothing.
 */
static int
client6_of(uint16_t server_port, const char *addr, uint16_t port)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 me = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	inet_pton(AF_INET6, addr, &me.sin6_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0, "bind [%s]:%u", addr, port);
	struct sockaddr_in6 srv = { .sin6_family = AF_INET6, .sin6_port = htons(server_port),
				    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	cr_assert_eq(connect(fd, (struct sockaddr *)&srv, sizeof(srv)), 0);
	return fd;
}

Test(rfc6887_14_2, pool_change_updates_an_ipv6_client, .timeout = 60)
{
	static struct pcp_response ra, rb, u;
	char conf[2048], a[CGN_ADDR_STRLEN], keep[64];
	struct daemon_files df = daemon_files("cgnu6");
#define UPD6_CONF "eal = { file_prefix = \"%s\"; };\n"                                              \
		  "pcp = { listen = [ \"[::1]:5352\" ]; inside = [ \"" H_INSIDE6 "\" ];\n"             \
		  "        announce = { multicast = false; }; };\n"                                    \
		  "nat = { pool = [ %s ]; };\n"                                                         \
		  "nat64 = { prefixes = [ \"64:ff9b::/96\" ]; subscriber_prefix_len = 128; };\n"      \
		  "dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"
	snprintf(conf, sizeof(conf), UPD6_CONF, df.pfx, "\"203.0.113.162/31\"");
	int pid = h_start_cgnatd(conf, df.pfx, df.log);
	cr_assert_gt(pid, 0);

	int ca = client6_of(5352, H_CLIENT6_A, 40011), cb = client6_of(5352, H_CLIENT6_B, 40012);
	cr_assert_eq(exchange(ca, H_CLIENT6_A, 7011, 0, false, &ra), PCP_RES_SUCCESS);
	cr_assert_eq(exchange(cb, H_CLIENT6_B, 7012, 0, false, &rb), PCP_RES_SUCCESS);
	cr_assert(cgn_addr_is_v4(&ra.u.map.external_addr) && cgn_addr_is_v4(&rb.u.map.external_addr),
		  "NAT64 mappings: IPv4 external addresses");
	cr_assert_not(cgn_addr_eq(&ra.u.map.external_addr, &rb.u.map.external_addr), "two subscribers, two addresses");

	/* Keep B's address only. */
	snprintf(keep, sizeof(keep), "\"%s\"", cgn_addr_format(&rb.u.map.external_addr, a, sizeof(a)));
	snprintf(conf, sizeof(conf), UPD6_CONF, df.pfx, keep);
	reload(&df, pid, conf);

	int n = updates(ca, 1500, &u);
	cr_assert_eq(n, 3, "the moved NAT64 mapping's IPv6 client got %d updates", n);
	cr_assert_eq(u.opcode, PCP_OP_MAP);
	cr_assert_eq(u.result, PCP_RES_SUCCESS);
	cr_assert(cgn_addr_eq(&u.u.map.external_addr, &rb.u.map.external_addr), "moved to the remaining address, %s",
		  cgn_addr_format(&u.u.map.external_addr, a, sizeof(a)));
	cr_assert_eq(u.u.map.internal_port, 7011);
	cr_assert_eq(u.u.map.protocol, 17);
	cr_assert_eq(memcmp(u.u.map.nonce, "upd", 3), 0);
	cr_assert_lt(u.epoch, 3, "§8.5: the epoch was reset");
	cr_assert_eq(updates(cb, 300, &u), 0, "a mapping that did not move is not updated");

	cr_assert_eq(h_stop_cgnatd(pid), 0);
	close(ca), close(cb);
}

/*
 * §14.2 again, where the order of the move matters: sixteen subscribers on two addresses,
 * each pair asking for the same port number (so for the same block on each address). The
 * address of half of them goes; those mappings move to the other address, where their port
 * numbers' blocks belong to mappings that stay. A mapping whose address survives keeps its
 * endpoint and gets no update, whatever order the server meets the mappings in; the moved ones
 * get distinct new endpoints.
 */
Test(rfc6887_14_2, mappings_that_stay_are_never_displaced_by_those_that_move, .timeout = 60)
{
	enum { N = 16 };
	static struct pcp_response r[N], u;
	char conf[2048], a[CGN_ADDR_STRLEN], src[32];
	struct daemon_files df = daemon_files("cgnv");
#define ORDER_CONF "eal = { file_prefix = \"%s\"; };\n"                                      \
		   "pcp = { listen = [ \"127.0.0.205:5351\" ]; inside = [ \"127.0.0.0/8\" ];\n" \
		   "        announce = { multicast = false; }; };\n"                              \
		   "nat = { pool = [ %s ]; ports = \"1024-2047\"; block_size = 64; };\n"        \
		   "dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"
	snprintf(conf, sizeof(conf), ORDER_CONF, df.pfx, "\"203.0.113.170/31\"");
	int pid = h_start_cgnatd(conf, df.pfx, df.log);
	cr_assert_gt(pid, 0);

	int fd[N];
	H_server = "127.0.0.205";
	for (int i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "127.18.0.%d", i + 1);
		fd[i] = client_of("127.0.0.205", src, (uint16_t)(41000 + i));
		uint16_t want = (uint16_t)(1024 + 64 * (i / 2) + 5);
		cr_assert_eq(exchange(fd[i], src, 7000, want, false, &r[i]), PCP_RES_SUCCESS);
		cr_assert_eq(r[i].u.map.external_port, want, "subscriber %d got the port it asked for", i);
	}
	H_server = "127.0.0.1";
	/* Keep subscriber 0's address: the ports of those on it stay taken. */
	bool stays[N];
	uint16_t taken[N];
	int n_taken = 0;
	for (int i = 0; i < N; i++)
		if ((stays[i] = cgn_addr_eq(&r[i].u.map.external_addr, &r[0].u.map.external_addr)))
			taken[n_taken++] = r[i].u.map.external_port;
	cr_assert(n_taken < N, "both addresses in use (%d of %d on the first)", n_taken, N);

	char keep[64];
	snprintf(keep, sizeof(keep), "\"%s\"", cgn_addr_format(&r[0].u.map.external_addr, a, sizeof(a)));
	snprintf(conf, sizeof(conf), ORDER_CONF, df.pfx, keep);
	reload(&df, pid, conf);

	for (int i = 0; i < N; i++) {
		int n = updates(fd[i], i == 0 ? 2500 : 300, &u);
		if (stays[i]) {
			cr_assert_eq(n, 0, "subscriber %d's address stays: its mapping stays, no update", i);
			continue;
		}
		cr_assert_eq(n, 3, "subscriber %d's mapping moved: three updates, got %d", i, n);
		cr_assert_eq(u.result, PCP_RES_SUCCESS);
		cr_assert(cgn_addr_eq(&u.u.map.external_addr, &r[0].u.map.external_addr));
		for (int j = 0; j < n_taken; j++)
			cr_assert_neq(u.u.map.external_port, taken[j], "subscriber %d moved onto port %u, in use", i, taken[j]);
		taken[n_taken++] = u.u.map.external_port;
	}

	cr_assert_eq(h_stop_cgnatd(pid), 0);
	for (int i = 0; i < N; i++)
		close(fd[i]);
}
