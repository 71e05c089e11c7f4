/*
 * RFC 7753 (PORT_SET) against the running cgnatd: §4 the option, §4.2 server behaviour
 * (checks, grants, single port, parity), §4.4 renewal and deletion as one unit, §4.4.1 and
 * §5.3 overlap (one response per mapping touched), §6.1 quotas, §6.3 idempotence.
 * Subscribers 127.75.0.x. The harness's cgnatd: nat.block_size 512, max_blocks 2,
 * pcp.max_mappings_per_subscriber 4, pcp.port_set_max unset (the block size).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

static void
port_set(uint16_t size, uint16_t first, bool parity)
{
	uint8_t b[PCP_PORT_SET_LEN];
	struct pcp_port_set ps = { .size = size, .first_internal_port = first, .parity = parity };
	pcp_port_set_encode(&ps, b);
	h_opt(PCP_OPT_PORT_SET, b, sizeof(b));
}

/* A MAP with PORT_SET (size 0: none) from src. @return the result code. */
static int
map_set(const char *src, uint8_t proto, uint16_t port, uint16_t size, bool parity, uint32_t lifetime,
	const char *nonce)
{
	h_begin(PCP_OP_MAP, src, lifetime);
	h_map(proto, port, 0, NULL, nonce);
	if (size)
		port_set(size, port, parity);
	return h_send(src, H_WAIT);
}

/* The PORT_SET of a response, decoded. @return false if it has none. */
static bool
resp_port_set(const struct pcp_response *r, struct pcp_port_set *ps)
{
	int found = 0;
	for (uint16_t i = 0; i < r->n_options; i++)
		if (r->options[i].code == PCP_OPT_PORT_SET) {
			cr_assert_eq(r->options[i].len, PCP_PORT_SET_LEN);
			pcp_option_port_set(&r->options[i], ps);
			found++;
		}
	cr_assert_leq(found, 1, "at most one PORT_SET in a response (§4: Maximum occurrences: 1)");
	return found == 1;
}

static bool
in_one_block(uint16_t first, uint16_t n)
{
	return (first - 1024) / 512 == (first + n - 1 - 1024) / 512;
}

Test(rfc7753_4_2, grant_of_n_consecutive_ports_as_in_5_1)
{
	/* §5.1: "Internal Port: 50,000 [...] Port Set Size: 100, First Internal Port: 50,000, P: 0" */
	cr_assert_eq(map_set("127.75.0.1", 17, 50000, 100, false, 3600, "set-n"), PCP_RES_SUCCESS);
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps), "a set of 100 is answered with PORT_SET");
	cr_assert_eq(ps.size, 100, "all 100 granted: %u", ps.size);
	cr_assert_eq(ps.first_internal_port, 50000);
	cr_assert_eq(H_resp.u.map.internal_port, 50000, "Internal Port copied from the request");
	cr_assert_eq(H_resp.lifetime, 3600);
	uint16_t ext = H_resp.u.map.external_port;
	cr_assert(in_one_block(ext, 100), "the external set %u+100 is a run of one block", ext);
	/* "the MAP response's Assigned External Port is set to the first port in the External
	 * Port Set": cgnatd shows the set as one row, internal 50000-50099 -> external ext..ext+99 */
	char want[96];
	snprintf(want, sizeof(want), "127.75.0.1:50000-50099");
	cr_assert(h_ctl_until("mappings -a", want, true), "%s", h_ctl("mappings -a"));
	snprintf(want, sizeof(want), "%s:%u-%u", h_ext_addr(), ext, ext + 99);
	cr_assert(strstr(h_ctl("mappings -a"), want) != NULL, "external %s in %s", want, h_ctl("mappings -a"));
	/* "Internal Ports outside the range [...] MUST NOT be mapped": 49999 and 50100 are free
	 * for another nonce; 50099 is the set's. */
	cr_assert_eq(map_set("127.75.0.1", 17, 50099, 0, false, 600, "other"), PCP_RES_NOT_AUTHORIZED);
	cr_assert_eq(map_set("127.75.0.1", 17, 50100, 0, false, 600, "other"), PCP_RES_SUCCESS);
	cr_assert_eq(map_set("127.75.0.1", 17, 49999, 0, false, 600, "other"), PCP_RES_SUCCESS);
}

Test(rfc7753_4_2, partial_grant_never_more_than_asked)
{
	/* §4.1: 0xffff "as many ports as the PCP server can offer"; §4.2: "MAY map fewer ports
	 * [...] MUST NOT map more ports than the PCP client asked for". */
	cr_assert_eq(map_set("127.75.0.2", 6, 1024, 0xffff, false, 600, "all"), PCP_RES_SUCCESS);
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.size, 512, "pcp.port_set_max, the block size: %u", ps.size);
	cr_assert_eq(ps.first_internal_port, 1024);
	cr_assert(in_one_block(H_resp.u.map.external_port, ps.size));
	/* a request for fewer than the cap gets exactly that many */
	cr_assert_eq(map_set("127.75.0.2", 17, 7000, 3, false, 600, "three"), PCP_RES_SUCCESS);
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.size, 3);
}

Test(rfc7753_4_2, size_zero_is_malformed_option)
{
	cr_assert_eq(map_set("127.75.0.3", 17, 6000, 0, false, 600, "zero") /* no option */, PCP_RES_SUCCESS);
	h_begin(PCP_OP_MAP, "127.75.0.3", 600);
	h_map(17, 6100, 0, NULL, "zero");
	port_set(0, 6100, false);
	cr_assert_eq(h_send("127.75.0.3", H_WAIT), PCP_RES_MALFORMED_OPTION, "\"If the Port Set Size is zero\"");
	/* nothing was created: another nonce may take 6100 */
	cr_assert_eq(map_set("127.75.0.3", 17, 6100, 0, false, 600, "again"), PCP_RES_SUCCESS);
}

Test(rfc7753_4, two_port_sets_are_malformed_option)
{
	/* §4: "Maximum occurrences: 1"; §4.2: "If multiple PORT_SET options are present in a
	 * single PCP MAP request, a MALFORMED_OPTION error is returned." */
	h_begin(PCP_OP_MAP, "127.75.0.4", 600);
	h_map(17, 6200, 0, NULL, "dup");
	port_set(10, 6200, false);
	port_set(10, 6200, false);
	cr_assert_eq(h_send("127.75.0.4", H_WAIT), PCP_RES_MALFORMED_OPTION);
	cr_assert_eq(map_set("127.75.0.4", 17, 6200, 0, false, 600, "after"), PCP_RES_SUCCESS, "nothing created");
}

Test(rfc7753_4_2, prefer_failure_is_malformed_option)
{
	/* §4.1: "PREFER_FAILURE MUST NOT appear in a request with a PORT_SET option"; §4.2: "If a
	 * PREFER_FAILURE option is present, a MALFORMED_OPTION error is returned." (A suggested
	 * port, so that PREFER_FAILURE is otherwise well formed, RFC 6887 §13.2.) */
	for (uint16_t size = 1; size <= 10; size += 9) {
		h_begin(PCP_OP_MAP, "127.75.0.5", 600);
		h_map(6, 6300, 40000, NULL, "pf");
		/* PREFER_FAILURE first: Wireshark's PCP dissector (4.0.17) reports an option that
		 * follows PORT_SET as malformed, and the error response is a copy of the request */
		h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
		port_set(size, 6300, false);
		cr_assert_eq(h_send("127.75.0.5", H_WAIT), PCP_RES_MALFORMED_OPTION, "size %u", size);
	}
	cr_assert_eq(map_set("127.75.0.5", 6, 6300, 0, false, 600, "after"), PCP_RES_SUCCESS, "nothing created");
}

Test(rfc7753_4, first_internal_port_other_than_internal_port_is_malformed_option)
{
	/* §4: "In a request, this field MUST be set equal to the Internal Port field in the MAP
	 * Opcode by the PCP client." The RFC names no error; cgnatd answers as to §4.2's other
	 * malformed PORT_SETs (docs/conformance/rfc7753.md). */
	h_begin(PCP_OP_MAP, "127.75.0.6", 600);
	h_map(17, 6400, 0, NULL, "mismatch");
	port_set(10, 6401, false);
	cr_assert_eq(h_send("127.75.0.6", H_WAIT), PCP_RES_MALFORMED_OPTION);
}

Test(rfc7753_4_2, single_port_has_no_port_set_in_the_response)
{
	/* §4.2: "if the PCP server receives a single-port PCP MAP request that includes a
	 * PORT_SET option, the PORT_SET option is silently ignored, and the request is handled
	 * as a single-port PCP MAP request"; "the PORT_SET option MUST NOT be present in the
	 * response". */
	cr_assert_eq(map_set("127.75.0.7", 17, 6500, 1, false, 600, "one"), PCP_RES_SUCCESS);
	struct pcp_port_set ps;
	cr_assert(!resp_port_set(&H_resp, &ps));
	cr_assert_eq(H_resp.u.map.internal_port, 6500);
	cr_assert_neq(H_resp.u.map.external_port, 0);
	cr_assert(h_ctl_until("mappings -a", "127.75.0.7:6500 ", true), "a plain row: %s", h_ctl("mappings -a"));
	/* ... and renewed as one, without PORT_SET */
	cr_assert_eq(map_set("127.75.0.7", 17, 6500, 1, false, 900, "one"), PCP_RES_SUCCESS);
	cr_assert(!resp_port_set(&H_resp, &ps));
	cr_assert_eq(H_resp.lifetime, 900);
}

Test(rfc7753_4_2, parity_of_the_first_internal_port_kept_when_asked)
{
	/* §4.2: "If the port parity preservation is requested (P = 1), the PCP server MAY
	 * preserve port parity. In that case, the External Port is set to a value having the
	 * same parity as the First Internal Port." cgnatd does. */
	static const uint16_t ports[] = { 60001, 60100, 60203, 60300 };
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(map_set("127.75.0.8", 17, ports[i], 9, true, 600, "parity"), PCP_RES_SUCCESS);
		struct pcp_port_set ps;
		cr_assert(resp_port_set(&H_resp, &ps));
		cr_assert_eq(ps.size, 9);
		cr_assert_eq(H_resp.u.map.external_port & 1, ports[i] & 1, "external %u for internal %u",
			     H_resp.u.map.external_port, ports[i]);
		cr_assert(ps.parity, "P echoed");
	}
}

Test(rfc7753_4_4, renewal_of_the_set_as_one_unit)
{
	/* §4.4: "Port-set mappings are renewed [...] as a single entity. That is, the lifetime of
	 * all port mappings in the set is set to the Assigned Lifetime at once." */
	cr_assert_eq(map_set("127.75.0.9", 6, 8000, 20, false, 600, "renew"), PCP_RES_SUCCESS);
	uint16_t ext = H_resp.u.map.external_port;
	cr_assert_eq(map_set("127.75.0.9", 6, 8000, 20, false, 1000, "renew"), PCP_RES_SUCCESS);
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.size, 20);
	cr_assert_eq(ps.first_internal_port, 8000);
	cr_assert_eq(H_resp.u.map.external_port, ext, "the same set");
	cr_assert_eq(H_resp.lifetime, 1000);
	/* A MAP naming one port of it, without PORT_SET, refreshes the whole set (§4.4.1: "with
	 * or without a PORT_SET option"): Internal Port as sent, the set's first ports. */
	cr_assert_eq(map_set("127.75.0.9", 6, 8013, 0, false, 1200, "renew"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.internal_port, 8013);
	cr_assert_eq(H_resp.u.map.external_port, ext);
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.first_internal_port, 8000);
	cr_assert_eq(ps.size, 20);
	cr_assert_eq(H_resp.lifetime, 1200);
	cr_assert(h_ctl_until("mappings -a", "127.75.0.9:8000-8019", true));
	const char *row = strstr(h_ctl("mappings -a"), "127.75.0.9:8000-8019");
	cr_assert(row && strstr(row, " 1200 ") != NULL && strstr(row, " 1200 ") < strchr(row, '\n'),
		  "the set's lifetime is 1200: %s", row);
	/* RFC 6887 §11.3 Simple Threat Model: another nonce, on any port of the set */
	cr_assert_eq(map_set("127.75.0.9", 6, 8019, 0, false, 600, "thief"), PCP_RES_NOT_AUTHORIZED);
	cr_assert(H_resp.lifetime > 1100 && H_resp.lifetime <= 1200, "error lifetime %u", H_resp.lifetime);
	cr_assert_eq(map_set("127.75.0.9", 6, 8000, 20, false, 0, "thief"), PCP_RES_NOT_AUTHORIZED, "nor delete");
}

Test(rfc7753_4_4, deletion_of_the_set_as_one_unit)
{
	/* §4.4: "Port-set mappings are [...] deleted as a single entity." */
	cr_assert_eq(map_set("127.75.0.10", 17, 9000, 30, false, 600, "del"), PCP_RES_SUCCESS);
	uint16_t ext = H_resp.u.map.external_port;
	cr_assert_eq(map_set("127.75.0.10", 17, 9000, 30, false, 0, "del"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps), "the response names the set deleted");
	cr_assert_eq(ps.size, 30);
	cr_assert(h_ctl_until("mappings -a", "127.75.0.10:", false), "every port gone: %s", h_ctl("mappings -a"));
	/* The ports are held for the same client (RFC 6887 §15): asking again with the same nonce
	 * and the old first external port as suggestion (§4: "to regenerate previous mappings")
	 * gives the same set back. */
	h_begin(PCP_OP_MAP, "127.75.0.10", 600);
	h_map(17, 9000, ext, NULL, "del");
	port_set(30, 9000, false);
	cr_assert_eq(h_send("127.75.0.10", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, ext);
	/* deleted by a MAP naming its last port, without PORT_SET */
	cr_assert_eq(map_set("127.75.0.10", 17, 9029, 0, false, 0, "del"), PCP_RES_SUCCESS);
	cr_assert(h_ctl_until("mappings -a", "127.75.0.10:", false), "%s", h_ctl("mappings -a"));
	/* every port is free for another nonce now */
	cr_assert_eq(map_set("127.75.0.10", 17, 9000, 0, false, 600, "new"), PCP_RES_SUCCESS);
	cr_assert_eq(map_set("127.75.0.10", 17, 9015, 0, false, 600, "new"), PCP_RES_SUCCESS);
	cr_assert_eq(map_set("127.75.0.10", 17, 9029, 0, false, 600, "new"), PCP_RES_SUCCESS);
}

/* Sends H_req from src and collects the responses that arrive within window_ms on the same
 * socket (the first, then the other ones §4.4.1 sends). @return how many (at most max). */
static int
send_collect(const char *src, uint8_t raw[][PCP_MAX_MSG + 64], size_t *lens, int max, int window_ms)
{
	uint8_t msg[PCP_MAX_MSG];
	ssize_t len = pcp_build_request(&H_req, msg, sizeof(msg));
	cr_assert_gt(len, 0);
	struct sockaddr_in me = { .sin_family = AF_INET }, srv = { .sin_family = AF_INET, .sin_port = htons(5351) };
	inet_pton(AF_INET, src, &me.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &srv.sin_addr);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&srv, sizeof(srv)), 0);
	cr_assert_eq(send(fd, msg, (size_t)len, 0), len);
	int n = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (n < max && poll(&p, 1, window_ms) == 1) {
		ssize_t r = recv(fd, raw[n], PCP_MAX_MSG + 64, 0);
		if (r < 0)
			break;
		lens[n++] = (size_t)r;
	}
	close(fd);
	return n;
}

Test(rfc7753_5_3, overlap_is_a_refresh_of_each_mapping_one_response_each)
{
	/* §5.3: "Suppose Internal Port 100 is mapped to External Port 100 and port set 101-199 is
	 * mapped to External Port Set 201-299. The PCP server receives a PCP MAP request with
	 * Internal Port = 100, External Port = 0, and a PORT_SET option with Port Set Size = 100.
	 * [...] the first one contains Internal Port = 100, External Port = 100, and no PORT_SET
	 * option, while the second one contains Internal Port = 101, External Port = 201, and a
	 * PORT_SET option with Port Set Size = 99." */
	cr_assert_eq(map_set("127.75.0.20", 17, 100, 0, false, 600, "overlap"), PCP_RES_SUCCESS);
	uint16_t ext_single = H_resp.u.map.external_port;
	cr_assert_eq(map_set("127.75.0.20", 17, 101, 99, false, 600, "overlap"), PCP_RES_SUCCESS);
	uint16_t ext_set = H_resp.u.map.external_port;
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.size, 99);

	h_begin(PCP_OP_MAP, "127.75.0.20", 900);
	h_map(17, 100, 0, NULL, "overlap");
	port_set(100, 100, false);
	static uint8_t raw[4][PCP_MAX_MSG + 64];
	size_t lens[4];
	int n = send_collect("127.75.0.20", raw, lens, 4, 600);
	cr_assert_eq(n, 2, "two responses, one per mapping touched: %d", n);
	static struct pcp_response r[2];
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pcp_parse_response(raw[i], lens[i], &r[i]), PCP_VERDICT_OK);
		cr_assert_eq(r[i].result, PCP_RES_SUCCESS);
		cr_assert_eq(r[i].lifetime, 900, "both refreshed");
		cr_assert_eq(memcmp(r[i].u.map.nonce, "overlap", 7), 0);
	}
	cr_assert_eq(r[0].u.map.internal_port, 100);
	cr_assert_eq(r[0].u.map.external_port, ext_single);
	cr_assert(!resp_port_set(&r[0], &ps), "the single port's response has no PORT_SET");
	cr_assert_eq(r[1].u.map.internal_port, 101);
	cr_assert_eq(r[1].u.map.external_port, ext_set);
	cr_assert(resp_port_set(&r[1], &ps));
	cr_assert_eq(ps.size, 99);
	cr_assert_eq(ps.first_internal_port, 101);
	/* nothing new was mapped: still two rows */
	const char *out = h_ctl("mappings -a");
	cr_assert(strstr(out, "127.75.0.20:100 ") != NULL && strstr(out, "127.75.0.20:101-199") != NULL, "%s", out);
}

Test(rfc7753_6_3, later_overlapping_request_refreshes_the_first_set)
{
	/* §6.3: "Request A: Internal Port Set 1-10, Request B: Internal Port Set 5-14 [...] Upon
	 * reception of B: [...] a response containing the following fields is sent: Internal
	 * Port: 5, First Internal Port: 1, Port Set Size: 10" */
	cr_assert_eq(map_set("127.75.0.21", 6, 1, 10, false, 600, "idem"), PCP_RES_SUCCESS);
	uint16_t ext = H_resp.u.map.external_port;
	cr_assert_eq(map_set("127.75.0.21", 6, 5, 10, false, 600, "idem"), PCP_RES_SUCCESS);
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(H_resp.u.map.internal_port, 5);
	cr_assert_eq(ps.first_internal_port, 1);
	cr_assert_eq(ps.size, 10);
	cr_assert_eq(H_resp.u.map.external_port, ext);
	/* 11-14 were not mapped by it */
	cr_assert_eq(map_set("127.75.0.21", 6, 12, 0, false, 600, "other"), PCP_RES_SUCCESS);
}

Test(rfc7753_6_1, a_set_is_one_mapping_against_the_quota_on_one_address)
{
	/* §6.1: "It is up to the PCP server to determine the port-set quota"; cgnatd counts a set
	 * as one of pcp.max_mappings_per_subscriber (4 here), its ports against the subscriber's
	 * port blocks. "the same Assigned External IP Address SHOULD be assigned to the
	 * subscriber in multiple port-set responses." */
	char first_addr[64] = "";
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(map_set("127.75.0.30", 17, (uint16_t)(10000 + 100 * i), 50, false, 600, "quota"),
			     PCP_RES_SUCCESS, "set %d", i);
		struct pcp_port_set ps;
		cr_assert(resp_port_set(&H_resp, &ps));
		cr_assert_eq(ps.size, 50);
		if (i == 0)
			snprintf(first_addr, sizeof(first_addr), "%s", h_ext_addr());
		cr_assert_str_eq(h_ext_addr(), first_addr, "one external address for all sets");
	}
	cr_assert_eq(map_set("127.75.0.30", 17, 11000, 50, false, 600, "quota"), PCP_RES_USER_EX_QUOTA);
	/* the ports: two blocks of 512 (nat.max_blocks 2) */
	cr_assert_eq(map_set("127.75.0.31", 6, 20000, 512, false, 600, "ports"), PCP_RES_SUCCESS);
	cr_assert_eq(map_set("127.75.0.31", 6, 30000, 512, false, 600, "ports"), PCP_RES_SUCCESS);
	struct pcp_port_set ps;
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.size, 512);
	cr_assert_eq(map_set("127.75.0.31", 6, 40000, 10, false, 600, "ports"), PCP_RES_USER_EX_QUOTA,
		     "both blocks full");
	/* deleting one set gives its ports back (after the hold: to the same client only) */
	cr_assert_eq(map_set("127.75.0.31", 6, 20000, 512, false, 0, "ports"), PCP_RES_SUCCESS);
	cr_assert_eq(map_set("127.75.0.31", 6, 20000, 512, false, 600, "ports"), PCP_RES_SUCCESS);
	cr_assert(resp_port_set(&H_resp, &ps));
	cr_assert_eq(ps.size, 512, "the held ports, whole again");
	cr_assert(h_ctl_until("subscriber 127.75.0.31", "ports_used: 1024", true), "%s", h_ctl("subscriber 127.75.0.31"));
	cr_assert(strstr(h_ctl("subscriber 127.75.0.31"), "mappings: 2") != NULL, "two mappings");
}
