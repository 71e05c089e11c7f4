/*
 * RFC 7225 (PREFIX64) and RFC 6887 for NAT64 (§5 Figure 5: internal and remote peer IPv6,
 * external IPv4) against the shared cgnatd over IPv6 (harness.h: H_SRC6_NET, H_PREF64_*), and a
 * cgnatd of their own where the configuration is the point (no NAT64; a reload of the Pref64s).
 * docs/conformance/rfc7225.md lists the requirements with these tests.
 *
 * Each test has IPv6 sources in a /56 of its own (2001:db8:64:SS00::/56): one NAT64
 * subscriber each (nat64.subscriber_prefix_len 56).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* The request form of PREFIX64 (RFC 7225 §4.3): ::/96, Prefix64 Length 12, no list. */
static void
ask_prefix64(void)
{
	uint8_t p[PCP_PREFIX64_LEN] = { 0, 12 };
	h_opt(PCP_OPT_PREFIX64, p, sizeof(p));
}

/* The PREFIX64 options of H_resp, decoded; their count. */
static unsigned
prefix64s(struct pcp_prefix64 *out, unsigned max)
{
	unsigned n = 0;
	for (uint16_t i = 0; i < H_resp.n_options; i++) {
		if (H_resp.options[i].code != PCP_OPT_PREFIX64)
			continue;
		cr_assert_lt(n, max);
		cr_assert_eq(pcp_option_prefix64(&H_resp.options[i], &out[n]), 0, "PREFIX64 %u does not decode", n);
		n++;
	}
	return n;
}

static bool
prefix_is(const struct cgn_prefix *p, const char *text)
{
	struct cgn_prefix want;
	cr_assert_eq(cgn_prefix_parse(text, &want), 0);
	return p->len == want.len && cgn_addr_eq(&p->addr, &want.addr);
}

/* The configured Pref64s, in RFC 7225 §4.2's order: the NSP with its IPv4 list first, then the
 * WKP without; null suffixes. */
static void
assert_configured_prefix64s(void)
{
	struct pcp_prefix64 p[4];
	cr_assert_eq(prefix64s(p, 4), 2, "one PREFIX64 per Pref64");
	cr_assert(prefix_is(&p[0].pref64, H_PREF64_NSP), "§4.2: the Pref64 with an IPv4 list comes first");
	cr_assert(p[0].has_list && p[0].n_v4 == 2);
	struct cgn_prefix v4;
	cr_assert_eq(pcp_prefix64_v4(&p[0], 0, &v4), 0);
	cr_assert(prefix_is(&v4, "192.0.2.0/24"), "the IPv4 list in configuration order");
	cr_assert_eq(pcp_prefix64_v4(&p[0], 1, &v4), 0);
	cr_assert(prefix_is(&v4, "198.51.100.0/24"));
	static const uint8_t zero[12];
	cr_assert_eq(memcmp(p[0].suffix, zero, 12 - 7), 0, "§4.2: the null suffix");
	cr_assert(prefix_is(&p[1].pref64, H_PREF64_WKP), "then the others");
	cr_assert_not(p[1].has_list, "no list where none is configured");
}

Test(rfc7225_4_2, map_response_carries_the_configured_prefix64s_in_order)
{
	h_begin(PCP_OP_MAP, "2001:db8:64:100::1", 3600);
	h_map(6, 8080, 0, "::ffff:0:0", "p64map");
	ask_prefix64();
	cr_assert_eq(h_send("2001:db8:64:100::1", H_WAIT), PCP_RES_SUCCESS);
	assert_configured_prefix64s();
}

Test(rfc7225_4_2, announce_response_carries_them_too)
{
	h_begin(PCP_OP_ANNOUNCE, "2001:db8:64:200::1", 0);
	ask_prefix64();
	cr_assert_eq(h_send("2001:db8:64:200::1", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	assert_configured_prefix64s();
	/* And to an IPv4 client that asks: the option is about the server, not the family. */
	h_begin(PCP_OP_ANNOUNCE, "127.40.0.1", 0);
	ask_prefix64();
	cr_assert_eq(h_send("127.40.0.1", H_WAIT), PCP_RES_SUCCESS);
	assert_configured_prefix64s();
}

Test(rfc7225_4_2, not_sent_unasked)
{
	struct pcp_prefix64 p[4];
	h_begin(PCP_OP_ANNOUNCE, "2001:db8:64:300::1", 0);
	cr_assert_eq(h_send("2001:db8:64:300::1", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(prefix64s(p, 4), 0);
	h_begin(PCP_OP_MAP, "2001:db8:64:300::1", 3600);
	h_map(17, 5000, 0, "::ffff:0:0", "unasked");
	cr_assert_eq(h_send("2001:db8:64:300::1", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(prefix64s(p, 4), 0);
}

/* RFC 6887 §7.3 with RFC 7225 §4.1 "Maximum occurrences: 1 for a request". */
Test(rfc7225_4_1, two_prefix64_in_a_request_is_malformed_option)
{
	h_begin(PCP_OP_MAP, "2001:db8:64:400::1", 3600);
	h_map(6, 8081, 0, "::ffff:0:0", "dup");
	ask_prefix64();
	ask_prefix64();
	cr_assert_eq(h_send("2001:db8:64:400::1", H_WAIT), PCP_RES_MALFORMED_OPTION);
	/* nothing was created: a plain MAP with another nonce is a new mapping */
	h_begin(PCP_OP_MAP, "2001:db8:64:400::1", 3600);
	h_map(6, 8081, 0, "::ffff:0:0", "other");
	cr_assert_eq(h_send("2001:db8:64:400::1", H_WAIT), PCP_RES_SUCCESS);
}

/* An optional option with bad contents is not processed (RFC 6887 §7.3; notes §3.4 item 7):
 * the request succeeds, without PREFIX64. */
Test(rfc7225_4_1, bad_prefix64_contents_are_ignored)
{
	uint8_t bad[PCP_PREFIX64_LEN] = { 0, 9 }; /* Prefix64 Length 9: not RFC 6052's */
	struct pcp_prefix64 p[4];
	h_begin(PCP_OP_ANNOUNCE, "2001:db8:64:500::1", 0);
	h_opt(PCP_OPT_PREFIX64, bad, sizeof(bad));
	cr_assert_eq(h_send("2001:db8:64:500::1", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(prefix64s(p, 4), 0);
}

/* §4.2: "If ... no Pref64::/n is explicitly configured, the PCP server MUST NOT include any
 * PREFIX64 option". A cgnatd without nat64. */
Test(rfc7225_4_2, none_without_nat64, .timeout = 60)
{
	char conf[1024], pfx[32], log[256];
	snprintf(pfx, sizeof(pfx), "cgnp%d", getpid());
	h_work_file(pfx, ".log", log, sizeof(log));
	snprintf(conf, sizeof(conf),
		 "eal = { file_prefix = \"%s\"; lcores = \"0-1\"; };\n"
		 "pcp = { listen = [ \"127.0.0.205:5351\" ]; inside = [ \"127.0.0.0/8\" ]; announce = { multicast = false; }; };\n"
		 "nat = { pool = [ \"203.0.113.192/30\" ]; };\n"
		 "dataplane = { table_size = 4096; idle_sleep_us = 500; };\n", pfx);
	int pid = h_start_cgnatd(conf, pfx, log);
	cr_assert_gt(pid, 0);
	H_server = "127.0.0.205";
	struct pcp_prefix64 p[4];
	h_begin(PCP_OP_MAP, "127.41.0.1", 3600);
	h_map(6, 8080, 0, NULL, "nonat64");
	ask_prefix64();
	int rc = h_send("127.41.0.1", H_WAIT);
	unsigned n_map = prefix64s(p, 4);
	h_begin(PCP_OP_ANNOUNCE, "127.41.0.1", 0);
	ask_prefix64();
	int rc2 = h_send("127.41.0.1", H_WAIT);
	unsigned n_ann = prefix64s(p, 4);
	H_server = "127.0.0.1";
	cr_assert_eq(h_stop_cgnatd(pid), 0);
	cr_assert_eq(rc, PCP_RES_SUCCESS);
	cr_assert_eq(n_map, 0);
	cr_assert_eq(rc2, PCP_RES_SUCCESS);
	cr_assert_eq(n_ann, 0);
}

/* §4.2: "If a distinct Pref64::/n or suffix is configured ..., the PCP server SHOULD issue an
 * unsolicited PCP ANNOUNCE message". A reload of nat64.prefixes (no restart needed). */
Test(rfc7225_4_2, new_prefixes_on_sighup_are_announced, .timeout = 60)
{
	char conf[1024], pfx[32], log[256], path[256];
	snprintf(pfx, sizeof(pfx), "cgnq%d", getpid());
	h_work_file(pfx, ".log", log, sizeof(log));
	h_work_file(pfx, ".conf", path, sizeof(path));
#define Q_CONF "eal = { file_prefix = \"%s\"; lcores = \"0-1\"; };\n"                                      \
	       "pcp = { listen = [ \"127.0.0.206:5351\" ]; inside = [ \"127.0.0.0/8\" ];\n"                \
	       "        announce = { multicast = false; clients = [ \"127.0.0.207:5350\" ]; }; };\n"      \
	       "nat = { pool = [ \"203.0.113.196/30\" ]; };\n"                                              \
	       "nat64 = { prefixes = [ %s ]; };\n"                                                         \
	       "dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(5350) };
	inet_pton(AF_INET, "127.0.0.207", &me.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	snprintf(conf, sizeof(conf), Q_CONF, pfx, "\"64:ff9b::/96\"");
	int pid = h_start_cgnatd(conf, pfx, log);
	cr_assert_gt(pid, 0);

	uint8_t b[PCP_MAX_MSG];
	static struct pcp_response r;
	struct pcp_option *o;
	/* the first start ANNOUNCE (§14.1.3) carries the Pref64 */
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pf, 1, 2000), 1);
	ssize_t n = recv(fd, b, sizeof(b), 0);
	cr_assert_eq(pcp_parse_response(b, (size_t)n, &r), PCP_VERDICT_OK);
	cr_assert_eq(r.opcode, PCP_OP_ANNOUNCE);
	cr_assert_eq(r.n_options, 1);
	o = &r.options[0];
	struct pcp_prefix64 p;
	cr_assert_eq(pcp_option_prefix64(o, &p), 0);
	cr_assert(prefix_is(&p.pref64, "64:ff9b::/96"));
	/* let the start ANNOUNCEs (ten, doubling from 250 ms) be: drain what came so far */
	usleep(1500000);
	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;

	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, Q_CONF, pfx, "\"2001:db8:122:300::/56\", \"64:ff9b::/96\"");
	fclose(f);
	kill(pid, SIGHUP);
	/* the next one to come with two PREFIX64s is the reload's */
	bool seen = false;
	for (int i = 0; i < 40 && !seen; i++) {
		if (poll(&pf, 1, 100) != 1)
			continue;
		n = recv(fd, b, sizeof(b), 0);
		cr_assert_eq(pcp_parse_response(b, (size_t)n, &r), PCP_VERDICT_OK);
		if (r.n_options != 2)
			continue;
		struct pcp_prefix64 q[2];
		cr_assert_eq(pcp_option_prefix64(&r.options[0], &q[0]), 0);
		cr_assert_eq(pcp_option_prefix64(&r.options[1], &q[1]), 0);
		cr_assert(prefix_is(&q[0].pref64, "2001:db8:122:300::/56"), "no lists: the first is the first configured");
		cr_assert(prefix_is(&q[1].pref64, "64:ff9b::/96"));
		seen = true;
	}
	cr_assert_eq(h_stop_cgnatd(pid), 0);
	close(fd);
	cr_assert(seen, "no unsolicited ANNOUNCE with the new Pref64s after SIGHUP");
}

/* ---- NAT64 mappings by PCP (RFC 6887 §5 Figure 5, §11.3, §12.3 over IPv6) ---- */

static void
assert_pool_v4(void)
{
	cr_assert(cgn_addr_is_v4(&H_resp.u.map.external_addr), "§5: the external address is IPv4, IPv4-mapped");
	cr_assert_eq(strncmp(h_ext_addr(), "203.0.113.", 10), 0, "%s is a pool address", h_ext_addr());
}

Test(rfc6887_11_3, nat64_map_creates_renews_and_deletes)
{
	const char *c = "2001:db8:64:600::1";
	h_begin(PCP_OP_MAP, c, 3600);
	h_map(6, 8080, 0, "::ffff:0:0", "n64");
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_SUCCESS);
	assert_pool_v4();
	struct cgn_addr ext = H_resp.u.map.external_addr;
	uint16_t port = H_resp.u.map.external_port;
	cr_assert_neq(port, 0);
	cr_assert_eq(H_resp.lifetime, 3600);
	cr_assert(h_ctl_until("-j mappings -a", "2001:db8:64:600::1", true), "the data plane has the NAT64 mapping");

	/* renewal: same nonce, same endpoint */
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_SUCCESS);
	cr_assert(cgn_addr_eq(&H_resp.u.map.external_addr, &ext) && H_resp.u.map.external_port == port);
	/* §11.3 Simple Threat Model: another nonce */
	h_map(6, 8080, 0, "::ffff:0:0", "thief");
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_NOT_AUTHORIZED);
	cr_assert_gt(H_resp.lifetime, 3000, "the error's lifetime is the mapping's");
	/* §15: delete */
	h_begin(PCP_OP_MAP, c, 0);
	h_map(6, 8080, 0, "::ffff:0:0", "n64");
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	cr_assert(h_ctl_until("-j mappings -a", "2001:db8:64:600::1", false), "deleted from the data plane");
}

/* One subscriber per /56 (nat64.subscriber_prefix_len): one external address and one quota. */
Test(rfc6887_17_2, nat64_subscriber_is_its_prefix)
{
	struct cgn_addr first;
	char src[64];
	for (int i = 0; i < H_MAX_MAPPINGS; i++) {
		snprintf(src, sizeof(src), "2001:db8:64:7%02x::%d", i, i + 1); /* all in 2001:db8:64:700::/56 */
		h_begin(PCP_OP_MAP, src, 3600);
		h_map(17, (uint16_t)(6000 + i), 0, "::ffff:0:0", "quota");
		cr_assert_eq(h_send(src, H_WAIT), PCP_RES_SUCCESS, "mapping %d", i);
		if (i == 0)
			first = H_resp.u.map.external_addr;
		cr_assert(cgn_addr_eq(&H_resp.u.map.external_addr, &first), "paired: one external address per subscriber");
	}
	h_begin(PCP_OP_MAP, "2001:db8:64:7ff::9", 3600);
	h_map(17, 6100, 0, "::ffff:0:0", "quota");
	cr_assert_eq(h_send("2001:db8:64:7ff::9", H_WAIT), PCP_RES_USER_EX_QUOTA, "the /56's quota is spent");
	/* another /56 is another subscriber */
	h_begin(PCP_OP_MAP, "2001:db8:64:800::1", 3600);
	h_map(17, 6100, 0, "::ffff:0:0", "quota");
	cr_assert_eq(h_send("2001:db8:64:800::1", H_WAIT), PCP_RES_SUCCESS);
}

Test(rfc6887_13_2, nat64_prefer_failure)
{
	const char *c = "2001:db8:64:900::1";
	h_begin(PCP_OP_MAP, c, 3600);
	h_map(6, 9090, 41777, "::ffff:0:0", "pf");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, 41777);
	/* an IPv6 external address cannot be provided by a NAT64 */
	h_begin(PCP_OP_MAP, c, 3600);
	h_map(6, 9091, 41001, "2001:db8::1", "pf2");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_CANNOT_PROVIDE_EXTERNAL);
}

Test(rfc6887_13_1, nat64_third_party_from_an_authorised_host)
{
	h_begin(PCP_OP_MAP, H_THIRD_PARTY6, 3600);
	h_map(6, 2222, 0, "::ffff:0:0", "tp6");
	h_third_party("2001:db8:64:a00::5");
	cr_assert_eq(h_send(H_THIRD_PARTY6, H_WAIT), PCP_RES_SUCCESS);
	assert_pool_v4();
	cr_assert_eq(H_resp.n_options, 1);
	cr_assert_eq(H_resp.options[0].code, PCP_OPT_THIRD_PARTY, "echoed");
	cr_assert(h_ctl_until("-j mappings -a", "2001:db8:64:a00::5", true));
	/* not from another host */
	h_begin(PCP_OP_MAP, "2001:db8:64:a00::6", 3600);
	h_map(6, 2223, 0, "::ffff:0:0", "tp6");
	h_third_party("2001:db8:64:a00::5");
	cr_assert_eq(h_send("2001:db8:64:a00::6", H_WAIT), PCP_RES_UNSUPP_OPTION);
}

/* §12.3 with §5: the remote peer is the IPv6 address the client sees (under a Pref64), given
 * back as sent. */
Test(rfc6887_12_3, nat64_peer_remote_under_a_pref64)
{
	const char *c = "2001:db8:64:b00::1";
	static const char *const ok[] = { "64:ff9b::808:808",    /* 8.8.8.8 under the WKP */
					   "2001:db8:122:3c6:33:640a::",   /* 198.51.100.10 under the NSP /56 (a
									    * documentation address: fine under an NSP) */
					   "::ffff:198.51.100.11" };      /* IPv4-mapped: it knows the address */
	for (unsigned i = 0; i < 3; i++) {
		h_begin(PCP_OP_PEER, c, 600);
		h_map(6, (uint16_t)(4000 + i), 0, "::ffff:0:0", "peer6");
		h_peer_remote(ok[i], 443);
		cr_assert_eq(h_send(c, H_WAIT), PCP_RES_SUCCESS, "%s", ok[i]);
		struct cgn_addr want;
		cgn_addr_parse(ok[i], &want);
		cr_assert(cgn_addr_eq(&H_resp.u.peer.remote_addr, &want), "the remote peer as sent (%s)", ok[i]);
		assert_pool_v4();
	}
	static const char *const bad[] = { "2001:db8:9999::1",     /* under no Pref64 */
					   "64:ff9b::a00:1",       /* 10.0.0.1: not global under the WKP (RFC 6052 §3.1) */
					   "64:ff9b::c633:640a",   /* 198.51.100.10: nor is TEST-NET-2 */
					   "64:ff9b::7f00:1" };    /* 127.0.0.1 */
	for (unsigned i = 0; i < 4; i++) {
		h_begin(PCP_OP_PEER, c, 600);
		h_map(6, 4100, 0, "::ffff:0:0", "peer6");
		h_peer_remote(bad[i], 443);
		cr_assert_eq(h_send(c, H_WAIT), PCP_RES_MALFORMED_REQUEST, "%s", bad[i]);
	}
}

/* §13.3 with §5: FILTERs of a NAT64 client are IPv6, under a Pref64; echoed as sent. */
Test(rfc6887_13_3, nat64_filters_under_a_pref64)
{
	const char *c = "2001:db8:64:c00::1";
	h_begin(PCP_OP_MAP, c, 3600);
	h_map(6, 8443, 0, "::ffff:0:0", "filt6");
	h_filter(120, "64:ff9b::c633:6400", 0); /* 198.51.100.0/24 */
	cr_assert_eq(h_send(c, H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 1);
	struct pcp_filter f;
	pcp_option_filter(&H_resp.options[0], &f);
	struct cgn_addr want;
	cgn_addr_parse("64:ff9b::c633:6400", &want);
	cr_assert(f.prefix_len == 120 && cgn_addr_eq(&f.remote_addr, &want), "echoed as sent");
	cr_assert(h_ctl_until("-j mappings -a", "198.51.100.0/24", true), "the data plane filters the IPv4 prefix");

	static const struct { uint8_t len; const char *addr; } bad[] = { { 48, "2001:db8:9999::" }, { 64, "64:ff9b::" } };
	for (unsigned i = 0; i < 2; i++) {
		h_begin(PCP_OP_MAP, c, 3600);
		h_map(6, 8444, 0, "::ffff:0:0", "filt6b");
		h_filter(bad[i].len, bad[i].addr, 0);
		cr_assert_eq(h_send(c, H_WAIT), PCP_RES_MALFORMED_OPTION, "%s/%u", bad[i].addr, bad[i].len);
	}
}
