/*
 * RFC 6887 over IPv6, the transport (the server's kernel socket on [::1]:5351): the §8.2 and
 * §7.2 rules whose addresses come from an IPv6 client, NAT-PMP staying IPv4 (RFC 6886), and
 * the restart ANNOUNCE to an IPv6 unicast client (§14.1.3). MAP and PEER from IPv6 clients
 * (NAT64 mappings) are not here: only what the transport decides before an opcode acts.
 * Clients ::1 and H_CLIENT6_A..D (harness.h); IPv4 controls from 127.20.0.x.
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A counter of the shared cgnatd's telemetry (cgnatctl -j stats), e.g. "pcp_drop_NOT_INSIDE". */
static unsigned long
stat_of(const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "\"%s\": ", name);
	const char *p = strstr(h_ctl("-j stats"), key);
	cr_assert_not_null(p, "no %s in cgnatctl stats", name);
	return strtoul(p + strlen(key), NULL, 10);
}

Test(rfc6887_8_2, ipv6_client_is_answered_from_the_server_address)
{
	/* §8.3: the response must come "from the IP address and port to which the request was
	 * sent": h_send's socket is connected to [::1]:5351 and reads nothing else. */
	h_begin(PCP_OP_ANNOUNCE, "::1", 0);
	cr_assert_eq(h_send("::1", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_raw_len, 24);
	cr_assert_eq(H_raw[0], 2);
	cr_assert_eq(H_raw[1], 0x80 | PCP_OP_ANNOUNCE);
	cr_assert_eq(H_resp.lifetime, 0, "§14.1.2");
	for (int i = 12; i < 24; i++)
		cr_assert_eq(H_raw[i], 0, "§7.2: reserved is zero in a success response");

	h_begin(PCP_OP_ANNOUNCE, H_CLIENT6_A, 0);
	cr_assert_eq(h_send(H_CLIENT6_A, H_WAIT), PCP_RES_SUCCESS, "a global address of pcp.inside");
}

Test(rfc6887_8_2, ipv6_requests_from_outside_the_inside_networks_are_ignored)
{
	/* "it MUST silently ignore PCP requests arriving on any other interface": an IPv6 source
	 * that pcp.inside does not hold, as an IPv4 one. */
	unsigned long before = stat_of("pcp_drop_NOT_INSIDE");
	h_begin(PCP_OP_ANNOUNCE, H_OUTSIDE6, 0);
	cr_assert_eq(h_send(H_OUTSIDE6, H_SILENCE), -1, "answered a request from outside pcp.inside");
	cr_assert_geq(stat_of("pcp_drop_NOT_INSIDE"), before + 1, "the drop is counted");
	h_begin(PCP_OP_ANNOUNCE, H_CLIENT6_A, 0);
	cr_assert_eq(h_send(H_CLIENT6_A, H_WAIT), PCP_RES_SUCCESS);
}

Test(rfc6887_8_2, ipv6_address_mismatch_compares_all_128_bits)
{
	/* "The PCP server compares the source IP address (from the received IP header) with the
	 * field PCP Client IP Address. If they do not match, the error ADDRESS_MISMATCH MUST be
	 * returned." Sent from H_CLIENT6_B each time, with a field that differs: in its first 32
	 * bits only (which §7.2's 96-bit copy does not hold), in its last bit, and the IPv4-mapped
	 * form of another client. A MAP, so that a missed check would leave a mapping. */
	static const char *const liars[] = { "3001:db8:14::b", "2001:db8:14::a", "::ffff:127.20.0.1" };
	for (unsigned i = 0; i < sizeof(liars) / sizeof(liars[0]); i++) {
		h_begin(PCP_OP_MAP, liars[i], 3600);
		h_map(17, (uint16_t)(5100 + i), 0, "::ffff:0.0.0.0", "mismatch6");
		cr_assert_eq(h_send(H_CLIENT6_B, H_WAIT), PCP_RES_ADDRESS_MISMATCH, "client field %s", liars[i]);
		cr_assert_eq(H_resp.lifetime, H_LONG_ERR, "a long lifetime error (§7.4)");
		cr_assert_eq(H_raw_len, H_sent_len, "§8.2: the error is a copy of the request");
		cr_assert_eq(memcmp(H_raw + 24, H_sent + 24, H_sent_len - 24), 0, "opcode data copied");
	}
	const char *maps = h_ctl("-j mappings -a");
	cr_assert(!strstr(maps, "2001:db8:14::b") && !strstr(maps, "3001:db8:14::b"), "a mapping was made: %s", maps);

	h_begin(PCP_OP_ANNOUNCE, H_CLIENT6_B, 0);
	cr_assert_eq(h_send(H_CLIENT6_B, H_WAIT), PCP_RES_SUCCESS, "the same source, its own address: no mismatch");
}

Test(rfc6887_7_2, ipv6_unparsed_error_keeps_the_last_96_bits_of_the_client_address)
{
	/* §7.2 Reserved: "For requests that were not successfully parsed, the server copies the
	 * last 96 bits of the PCP Client's IP Address field from the request message into this
	 * corresponding 96-bit field of the response." Those of H_CLIENT6_C (2001:db8:14::c) are
	 * 0014:0:0:0:0:000c, where an IPv4-mapped address has 0000:ffff and the IPv4 address. */
	static const uint8_t last96[12] = { 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0c };

	/* An unsupported version (§9). */
	h_begin(PCP_OP_MAP, H_CLIENT6_C, 3600);
	h_map(17, 5200, 0, "::ffff:0.0.0.0", "v3six");
	H_req.version = 3;
	cr_assert_eq(h_send(H_CLIENT6_C, H_WAIT), PCP_RES_UNSUPP_VERSION);
	cr_assert_eq(H_raw[0], 2, "§9: the version the server supports");
	cr_assert_eq(memcmp(H_sent + 12, last96, 12), 0, "the request carries them");
	cr_assert_eq(memcmp(H_raw + 12, last96, 12), 0, "UNSUPP_VERSION: reserved holds the client's last 96 bits");

	/* An opcode the server does not know: "copies the rest of the PCP payload as is". */
	uint8_t m[32];
	memcpy(m, H_sent, 24);
	m[0] = 2;
	m[1] = 33;
	memset(m + 24, 0xcd, 8);
	cr_assert_eq(h_send_raw(H_CLIENT6_C, m, sizeof(m), H_WAIT), 32);
	cr_assert_eq(H_raw[1], 0x80 | 33);
	cr_assert_eq(H_raw[3], PCP_RES_UNSUPP_OPCODE);
	cr_assert_eq(memcmp(H_raw + 24, m + 24, 8), 0, "the payload copied");
	cr_assert_eq(memcmp(H_raw + 12, last96, 12), 0, "UNSUPP_OPCODE: reserved holds the client's last 96 bits");

	/* A length that is not a multiple of 4: MALFORMED_REQUEST, zero-padded. */
	h_begin(PCP_OP_MAP, H_CLIENT6_C, 3600);
	h_map(17, 5201, 0, "::ffff:0.0.0.0", "m4six");
	cr_assert_gt(pcp_build_request(&H_req, H_sent, sizeof(H_sent)), 0);
	cr_assert_eq(h_send_raw(H_CLIENT6_C, H_sent, 58, H_WAIT), 60);
	cr_assert_eq(H_raw[3], PCP_RES_MALFORMED_REQUEST);
	cr_assert_eq(memcmp(H_raw + 12, last96, 12), 0, "MALFORMED_REQUEST: reserved holds the client's last 96 bits");
	cr_assert_eq(rd32(H_raw + 4), H_LONG_ERR);
}

Test(rfc6886, natpmp_is_ipv4_only)
{
	/* NAT-PMP carries 32-bit addresses; "PCP also adds significant enhancements, including
	 * IPv6 support" (RFC 6886 §1.1). A version-0 request from IPv6 is answered as a PCP-only
	 * server answers it (RFC 6887 Appendix A): UNSUPP_VERSION, version 2, 24 octets. */
	static const uint8_t external_address[2] = { 0, 0 };
	cr_assert_eq(h_send_raw("::1", external_address, 2, H_WAIT), 24);
	cr_assert_eq(H_raw[0], 2);
	cr_assert_eq(H_raw[1], 0x80 | 0);
	cr_assert_eq(H_raw[3], PCP_RES_UNSUPP_VERSION);
	/* The same request from IPv4 is NAT-PMP's: version 0, opcode 128, 12 octets (§3.2). */
	cr_assert_eq(h_send_raw("127.20.0.1", external_address, 2, H_WAIT), 12);
	cr_assert_eq(H_raw[0], 0);
	cr_assert_eq(H_raw[1], 128);
}

/* ---- §14.1.3 to an IPv6 unicast client, from a cgnatd of the test's own ---- */

#define CONF6_FMT \
	"eal = { file_prefix = \"%s\"; lcores = \"0-1\"; };\n" \
	"pcp = { listen = [ \"[" H_SERVER6_B "]:5351\" ]; inside = [ \"" H_INSIDE6 "\" ];\n" \
	"        announce = { multicast = false; clients = [ \"[" H_CLIENT6_D "]:5350\" ]; }; };\n" \
	"nat = { pool = [ \"203.0.113.144/28\" ]; };\n" \
	"dataplane = { table_size = 4096; idle_sleep_us = 500; };\n"

Test(rfc6887_14_1_3, restart_announce_to_an_ipv6_client, .timeout = 60)
{
	/* "it MUST inform PCP clients of this fact by unicasting or multicasting a gratuitous PCP
	 * ANNOUNCE Opcode response packet ... If sending a unicast ANNOUNCE messages, it sends
	 * ANNOUNCE response message to the IP address(es) and port(s) of its PCP clients", "sent
	 * from the unicast IP address and UDP port number on which PCP requests are received". */
	char pfx[32], log[256], conf[2048];
	snprintf(pfx, sizeof(pfx), "cgn6a%d", getpid());
	h_work_file(pfx, ".log", log, sizeof(log));
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 me = { .sin6_family = AF_INET6, .sin6_port = htons(5350) };
	inet_pton(AF_INET6, H_CLIENT6_D, &me.sin6_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);

	snprintf(conf, sizeof(conf), CONF6_FMT, pfx);
	int pid = h_start_cgnatd(conf, pfx, log);
	cr_assert_gt(pid, 0);
	/* 0, 0.25, 0.75 s (intervals doubling from 250 ms) in the first 1.2 s. */
	int n = 0;
	uint8_t b[PCP_MAX_MSG];
	for (int waited = 0; waited < 1200; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 50) != 1)
			continue;
		struct sockaddr_in6 from;
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		cr_assert_eq(len, 24, "an ANNOUNCE response is a bare header");
		cr_assert_eq(b[0], 2);
		cr_assert_eq(b[1], 0x80 | PCP_OP_ANNOUNCE);
		cr_assert_eq(b[3], PCP_RES_SUCCESS, "§14.1.3: result code zero");
		cr_assert_leq(rd32(b + 8), 2, "the epoch of a server just started");
		char a[INET6_ADDRSTRLEN];
		cr_assert_eq(from.sin6_family, AF_INET6);
		cr_assert_str_eq(inet_ntop(AF_INET6, &from.sin6_addr, a, sizeof(a)), H_SERVER6_B, "from the listen address");
		cr_assert_eq(ntohs(from.sin6_port), 5351, "from the PCP port");
		n++;
	}
	cr_assert(n >= 2 && n <= 4, "%d ANNOUNCEs in the first 1.2 s", n);
	cr_assert_eq(h_stop_cgnatd(pid), 0);
	close(fd);
}
