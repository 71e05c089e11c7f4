/*
 * PCP over IPv6 and PREFIX64: what a review found broken, each named by the section it checks
 * (RFC 6887 §7.3, §12.3, §13.1; RFC 7225 §4.2, §4.3), against the shared cgnatd (harness.h)
 * or one of the test's own.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static void
ask_p64(void)
{
	uint8_t p[PCP_PREFIX64_LEN] = { 0, 12 };
	h_opt(PCP_OPT_PREFIX64, p, sizeof(p));
}

/* RFC 6887 §7.3 limits a response to 1100 octets, and an error must leave nothing behind. The
 * PREFIX64 answer (52 octets with the harness's Pref64s) replaces a 20-octet request option: in
 * a 1088-octet request the server's PREFIX64s do not all fit. It answers SUCCESS with those
 * that fit (RFC 7225 §4.2's order), never an error after the mapping was made. */
Test(rfc7225_4_2, prefix64s_that_do_not_fit_are_left_out)
{
	const char *c = "2001:db8:64:e100::1";
	h_begin(PCP_OP_MAP, c, 3600);
	h_map(6, 9090, 0, "::ffff:0:0", "ovf");
	for (int i = 0; i < 42; i++) /* duplicates: one filter, each echoed */
		h_filter(128, "64:ff9b::c000:201", 80);
	ask_p64();
	int rc = h_send(c, H_WAIT);
	cr_assert_eq(H_sent_len, 1088);
	cr_assert_eq(rc, PCP_RES_SUCCESS, "rc %d", rc);
	cr_assert_leq(H_raw_len, 1100, "within §7.3's 1100 octets");
	unsigned p64 = 0;
	for (uint16_t i = 0; i < H_resp.n_options; i++)
		p64 += H_resp.options[i].code == PCP_OPT_PREFIX64;
	cr_assert_lt(p64, 2, "not every Pref64 fits: %u", p64);
}

/* RFC 7225 §4.3: "Upon receipt of an unsolicited PCP ANNOUNCE message, the PCP client replaces
 * the old prefix/suffix ... with the new Pref64::/n". After a reload's ANNOUNCE with the new
 * Pref64s, no ANNOUNCE carrying only the old one may follow. */
Test(rfc7225_4_3, no_stale_prefix64_announce_after_a_reload, .timeout = 60)
{
	char conf[1024], pfx[32], log[256], path[256];
	snprintf(pfx, sizeof(pfx), "cgnr%d", getpid());
	h_work_file(pfx, ".log", log, sizeof(log));
	h_work_file(pfx, ".conf", path, sizeof(path));
#define R_CONF "eal = { file_prefix = \"%s\"; lcores = \"0-1\"; };\n"                                      \
	       "pcp = { listen = [ \"127.0.0.216:5351\" ]; inside = [ \"127.0.0.0/8\" ];\n"                \
	       "        announce = { multicast = false; clients = [ \"127.0.0.217:5350\" ]; }; };\n"      \
	       "nat = { pool = [ \"203.0.113.200/30\" ]; };\n"                                              \
	       "nat64 = { prefixes = [ %s ]; };\n"                                                         \
	       "dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(5350) };
	inet_pton(AF_INET, "127.0.0.217", &me.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	snprintf(conf, sizeof(conf), R_CONF, pfx, "\"64:ff9b::/96\"");
	int pid = h_start_cgnatd(conf, pfx, log);
	cr_assert_gt(pid, 0);
	uint8_t b[PCP_MAX_MSG];
	static struct pcp_response r;
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 2000), 1);
	usleep(500000);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, R_CONF, pfx, "\"2001:db8:122:300::/56\"");
	fclose(f);
	kill(pid, SIGHUP);
	bool seen_new = false;
	int stale_after_new = 0;
	for (int i = 0; i < 80; i++) { /* 8 s */
		if (poll(&pf, 1, 100) != 1)
			continue;
		ssize_t n = recv(fd, b, sizeof(b), 0);
		if (pcp_parse_response(b, (size_t)n, &r) != PCP_VERDICT_OK || r.n_options < 1)
			continue;
		struct pcp_prefix64 p;
		if (pcp_option_prefix64(&r.options[0], &p) != 0)
			continue;
		bool is_new = p.pref64.len == 56;
		if (is_new)
			seen_new = true;
		else if (seen_new)
			stale_after_new++;
	}
	h_stop_cgnatd(pid);
	close(fd);
	cr_assert(seen_new);
	cr_assert_eq(stale_after_new, 0, "%d ANNOUNCEs with the removed Pref64 after the new one", stale_after_new);
}

/* A NAT64 PEER with an IPv4-mapped remote: answered under the first Pref64 that may carry it
 * (RFC 6052 §3.1). 64:ff9b::a00:1 (10.0.0.1 under the Well-Known Prefix) is refused; the same
 * peer IPv4-mapped is granted under the harness's Network-Specific Prefix, which carries any
 * IPv4 address (before, it was granted under the WKP, whose return traffic the data plane
 * drops: NAT64_NON_GLOBAL). */
Test(rfc6887_12_3, nat64_peer_with_a_mapped_remote_takes_a_pref64_that_may_carry_it)
{
	const char *c = "2001:db8:64:e300::1";
	h_begin(PCP_OP_PEER, c, 600);
	h_map(6, 4300, 0, "::ffff:0:0", "pm");
	h_peer_remote("64:ff9b::a00:1", 443);
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_MALFORMED_REQUEST);
	h_begin(PCP_OP_PEER, c, 600);
	h_map(6, 4300, 0, "::ffff:0:0", "pm");
	h_peer_remote("::ffff:10.0.0.1", 443);
	int rc = h_send(c, H_WAIT);
	cr_assert_eq(rc, PCP_RES_SUCCESS, "the same peer IPv4-mapped, under the NSP: rc %d", rc);
	struct cgn_addr want;
	cr_assert_eq(cgn_addr_parse("::ffff:10.0.0.1", &want), 0);
	cr_assert(cgn_addr_eq(&H_resp.u.peer.remote_addr, &want), "given back as sent");
}

/* Option order: FILTER then THIRD_PARTY (an IPv6 host) from the IPv4 third party reads as
 * THIRD_PARTY then FILTER does: RFC 6887 §13.1 gives THIRD_PARTY no required position. */
Test(rfc6887_13_1, filter_before_third_party_reads_as_after_it)
{
	h_begin(PCP_OP_MAP, H_THIRD_PARTY, 3600);
	h_map(6, 4400, 0, "::ffff:0:0", "ord1");
	h_third_party("2001:db8:64:e400::1");
	h_filter(128, "64:ff9b::808:808", 80);
	int rc1 = h_send(H_THIRD_PARTY, H_WAIT);
	h_begin(PCP_OP_MAP, H_THIRD_PARTY, 3600);
	h_map(6, 4401, 0, "::ffff:0:0", "ord2");
	h_filter(128, "64:ff9b::808:808", 80);
	h_third_party("2001:db8:64:e400::1");
	int rc2 = h_send(H_THIRD_PARTY, H_WAIT);
	cr_assert_eq(rc1, PCP_RES_SUCCESS, "rc1 %d", rc1);
	cr_assert_eq(rc2, PCP_RES_SUCCESS, "same request, FILTER first: rc2 %d", rc2);
}
