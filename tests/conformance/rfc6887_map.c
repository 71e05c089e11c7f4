/*
 * RFC 6887 §11 (MAP), §13 (THIRD_PARTY, PREFER_FAILURE, FILTER), §15 (lifetime and deletion)
 * and RFC 6888 REQ-2/REQ-8, against the running cgnatd. Subscribers 127.11.0.x, 127.13.0.x,
 * 127.15.0.x.
 */
#include <string.h>

#include "harness.h"

static int
map(const char *src, uint8_t proto, uint16_t port, uint32_t lifetime, const char *nonce)
{
	h_begin(PCP_OP_MAP, src, lifetime);
	h_map(proto, port, 0, NULL, nonce);
	return h_send(src, H_WAIT);
}

static bool
in_pool(const struct cgn_addr *a)
{
	struct cgn_prefix p1, p2;
	cgn_prefix_parse("203.0.113.0/29", &p1);
	cgn_prefix_parse("203.0.113.64/30", &p2);
	return cgn_prefix_contains(&p1, a) || cgn_prefix_contains(&p2, a);
}

Test(rfc6887_11_3, create_copies_fields_and_assigns_from_the_pool)
{
	cr_assert_eq(map("127.11.0.1", 17, 8080, 3600, "create"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 3600);
	cr_assert_eq(memcmp(H_resp.u.map.nonce, "create", 6), 0, "nonce copied");
	cr_assert_eq(H_resp.u.map.protocol, 17);
	cr_assert_eq(H_resp.u.map.internal_port, 8080);
	cr_assert(in_pool(&H_resp.u.map.external_addr), "%s", h_ext_addr());
	cr_assert_geq(H_resp.u.map.external_port, 1024);
	for (int i = 12; i < 24; i++)
		cr_assert_eq(H_raw[i], 0);
}

Test(rfc6887_11_3, renewal_returns_the_existing_mapping)
{
	cr_assert_eq(map("127.11.0.2", 6, 22, 600, "renew"), PCP_RES_SUCCESS);
	struct pcp_map_data first = H_resp.u.map;
	h_begin(PCP_OP_MAP, "127.11.0.2", 900);
	h_map(6, 22, 33333, "203.0.113.7", "renew"); /* a different suggestion: ignored (item 3) */
	cr_assert_eq(h_send("127.11.0.2", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, first.external_port);
	cr_assert(cgn_addr_eq(&H_resp.u.map.external_addr, &first.external_addr));
	cr_assert_eq(H_resp.lifetime, 900);
}

Test(rfc6887_11_3, another_nonce_is_not_authorized_for_the_remaining_lifetime)
{
	cr_assert_eq(map("127.11.0.3", 17, 53, 1000, "owner"), PCP_RES_SUCCESS);
	cr_assert_eq(map("127.11.0.3", 17, 53, 3600, "thief"), PCP_RES_NOT_AUTHORIZED);
	cr_assert(H_resp.lifetime > 990 && H_resp.lifetime <= 1000, "error lifetime %u", H_resp.lifetime);
	cr_assert_eq(map("127.11.0.3", 17, 53, 0, "thief"), PCP_RES_NOT_AUTHORIZED, "nor may it delete");
}

Test(rfc6887_11_3, protocol_zero_with_a_port_is_malformed_request)
{
	cr_assert_eq(map("127.11.0.4", 0, 80, 3600, "p0"), PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_11_3, dmz_and_all_ports_mappings_are_unsupp_protocol)
{
	cr_assert_eq(map("127.11.0.5", 0, 0, 3600, "dmz"), PCP_RES_UNSUPP_PROTOCOL);
	cr_assert_eq(map("127.11.0.5", 6, 0, 3600, "all"), PCP_RES_UNSUPP_PROTOCOL);
}

Test(rfc6887_11_3, unsupported_protocols_are_unsupp_protocol)
{
	cr_assert_eq(map("127.11.0.6", 132, 80, 3600, "sctp"), PCP_RES_UNSUPP_PROTOCOL);
	cr_assert_eq(map("127.11.0.6", 33, 80, 3600, "dccp"), PCP_RES_UNSUPP_PROTOCOL);
	cr_assert_eq(H_resp.lifetime, H_LONG_ERR);
}

Test(rfc6887_11_3, suggested_port_is_honoured_when_free)
{
	/* A port known to be free: the neighbour of one the subscriber got, in the (even-aligned)
	 * port block it holds. An arbitrary port's block may belong to another test's subscriber
	 * on the same address. */
	h_begin(PCP_OP_MAP, "127.11.0.7", 3600);
	h_map(6, 79, 0, NULL, "first");
	cr_assert_eq(h_send("127.11.0.7", H_WAIT), PCP_RES_SUCCESS);
	uint16_t free_port = H_resp.u.map.external_port ^ 1;
	h_begin(PCP_OP_MAP, "127.11.0.7", 3600);
	h_map(6, 80, free_port, NULL, "sugg");
	cr_assert_eq(h_send("127.11.0.7", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, free_port);
	/* the same external port for another internal port of the subscriber: taken, so another */
	h_begin(PCP_OP_MAP, "127.11.0.7", 3600);
	h_map(6, 81, free_port, NULL, "sugg2");
	cr_assert_eq(h_send("127.11.0.7", H_WAIT), PCP_RES_SUCCESS, "a suggestion never makes a request fail");
	cr_assert_neq(H_resp.u.map.external_port, free_port);
	/* an address outside the pool: any pool address instead */
	h_begin(PCP_OP_MAP, "127.11.0.7", 3600);
	h_map(6, 82, 0, "192.0.2.1", "sugg3");
	cr_assert_eq(h_send("127.11.0.7", H_WAIT), PCP_RES_SUCCESS);
	cr_assert(in_pool(&H_resp.u.map.external_addr));
}

Test(rfc6887_11_3, never_the_pcp_ports)
{
	/* "A PCP server MUST NOT create client mappings for external UDP ports 5350 or 5351." */
	for (uint16_t p = 5350; p <= 5351; p++) {
		h_begin(PCP_OP_MAP, "127.11.0.8", 3600);
		h_map(17, p, p, NULL, p == 5350 ? "p5350" : "p5351");
		cr_assert_eq(h_send("127.11.0.8", H_WAIT), PCP_RES_SUCCESS);
		cr_assert_neq(H_resp.u.map.external_port, p);
		h_begin(PCP_OP_MAP, "127.11.0.8", 3600);
		h_map(17, (uint16_t)(p + 100), p, NULL, p == 5350 ? "q5350" : "q5351");
		h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
		cr_assert_eq(h_send("127.11.0.8", H_WAIT), PCP_RES_CANNOT_PROVIDE_EXTERNAL);
	}
}

Test(rfc6887_11_3, static_mapping_answers_with_lifetime_2_32_minus_1)
{
	/* Item 2, and "the server does not record the nonce": any nonce gets it. */
	cr_assert_eq(map(H_STATIC_INTERNAL, 6, 22, 3600, "anyone"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, UINT32_MAX);
	cr_assert_str_eq(h_ext_addr(), H_STATIC_EXTERNAL);
	cr_assert_eq(H_resp.u.map.external_port, 2222);
	cr_assert_eq(map(H_STATIC_INTERNAL, 6, 22, 3600, "another"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, 2222);
	/* §15.1: "If the PCP client attempts to delete a static mapping ... NOT_AUTHORIZED" */
	cr_assert_eq(map(H_STATIC_INTERNAL, 6, 22, 0, "anyone"), PCP_RES_NOT_AUTHORIZED);
	cr_assert(h_ctl_until("-j mappings -a", "\"external\": \"" H_STATIC_EXTERNAL ":2222\"", true),
		  "the static mapping is in the shared table");
}

Test(rfc6887_11_3, outbound_mapping_becomes_explicit_with_the_same_port)
{
	/* Item 4: an outbound (PEER) mapping exists; MAP replicates its address and port. */
	h_begin(PCP_OP_PEER, "127.11.0.9", 3600);
	h_map(6, 5000, 0, NULL, "peer");
	h_peer_remote("198.51.100.10", 443);
	cr_assert_eq(h_send("127.11.0.9", H_WAIT), PCP_RES_SUCCESS);
	uint16_t port = H_resp.u.map.external_port;
	cr_assert_eq(map("127.11.0.9", 6, 5000, 3600, "map"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, port);
}

Test(rfc6887_11_3, per_subscriber_quota_is_user_ex_quota)
{
	for (int i = 0; i < H_MAX_MAPPINGS; i++)
		cr_assert_eq(map("127.11.0.10", 17, (uint16_t)(7000 + i), 3600, "q"), PCP_RES_SUCCESS);
	cr_assert_eq(map("127.11.0.10", 17, 7100, 3600, "q"), PCP_RES_USER_EX_QUOTA);
	cr_assert_eq(map("127.11.0.10", 17, 7000, 3600, "q"), PCP_RES_SUCCESS, "renewals are not new mappings");
	cr_assert_eq(map("127.11.0.10", 17, 7000, 0, "q"), PCP_RES_SUCCESS);
	cr_assert_eq(map("127.11.0.10", 17, 7100, 3600, "q"), PCP_RES_SUCCESS, "a delete frees quota");
	cr_assert_eq(map("127.11.0.11", 17, 7100, 3600, "q"), PCP_RES_SUCCESS, "quotas are per subscriber");
}

Test(rfc6888, req2_one_external_address_per_subscriber)
{
	cr_assert_eq(map("127.11.0.12", 17, 1, 3600, "a"), PCP_RES_SUCCESS);
	struct cgn_addr a = H_resp.u.map.external_addr;
	cr_assert_eq(map("127.11.0.12", 6, 2, 3600, "b"), PCP_RES_SUCCESS);
	cr_assert(cgn_addr_eq(&a, &H_resp.u.map.external_addr));
	cr_assert(strstr(h_ctl("-j subscriber 127.11.0.12"), h_ext_addr()), "%s", h_ctl("subscriber 127.11.0.12"));
}

/* ---- §13.1 THIRD_PARTY ---- */

Test(rfc6887_13_1, only_from_authorised_hosts)
{
	h_begin(PCP_OP_MAP, "127.13.0.1", 3600);
	h_map(17, 9000, 0, NULL, "tp");
	h_third_party("127.13.0.50");
	cr_assert_eq(h_send("127.13.0.1", H_WAIT), PCP_RES_UNSUPP_OPTION);
}

Test(rfc6887_13_1, own_address_is_malformed_request)
{
	h_begin(PCP_OP_MAP, H_THIRD_PARTY, 3600);
	h_map(17, 9000, 0, NULL, "tp");
	h_third_party(H_THIRD_PARTY);
	cr_assert_eq(h_send(H_THIRD_PARTY, H_WAIT), PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_13_1, authorised_host_maps_for_another_and_the_option_is_echoed)
{
	h_begin(PCP_OP_MAP, H_THIRD_PARTY, 3600);
	h_map(17, 9001, 0, NULL, "tp");
	h_third_party("127.13.0.51");
	cr_assert_eq(h_send(H_THIRD_PARTY, H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 1);
	cr_assert_eq(H_resp.options[0].code, PCP_OPT_THIRD_PARTY);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.13.0.51:9001\"", true));
	/* §15.1 note: "the THIRD_PARTY option, if authorized, can also delete" */
	h_begin(PCP_OP_MAP, H_THIRD_PARTY, 0);
	h_map(17, 9001, 0, NULL, "tp");
	h_third_party("127.13.0.51");
	cr_assert_eq(h_send(H_THIRD_PARTY, H_WAIT), PCP_RES_SUCCESS);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.13.0.51:9001\"", false));
}

/* ---- §13.2 PREFER_FAILURE ---- */

Test(rfc6887_13_2, zero_suggested_port_is_malformed_option)
{
	h_begin(PCP_OP_MAP, "127.13.0.2", 3600);
	h_map(17, 9000, 0, NULL, "pf");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.13.0.2", H_WAIT), PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_11_3, prefer_failure_with_lifetime_0_is_malformed_option)
{
	h_begin(PCP_OP_MAP, "127.13.0.3", 0);
	h_map(17, 9000, 40000, NULL, "pf");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.13.0.3", H_WAIT), PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_13_2, exact_port_or_cannot_provide_external)
{
	/* A free port in the subscriber's own block (see suggested_port_is_honoured_when_free). */
	h_begin(PCP_OP_MAP, "127.13.0.4", 3600);
	h_map(6, 442, 0, NULL, "first");
	cr_assert_eq(h_send("127.13.0.4", H_WAIT), PCP_RES_SUCCESS);
	uint16_t held = H_resp.u.map.external_port, want = held ^ 1;
	h_begin(PCP_OP_MAP, "127.13.0.4", 3600);
	h_map(6, 443, want, NULL, "pf1");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.13.0.4", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, want);
	cr_assert_eq(H_resp.n_options, 1, "processed, so echoed");
	h_begin(PCP_OP_MAP, "127.13.0.4", 3600);
	h_map(6, 444, want, NULL, "pf2");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.13.0.4", H_WAIT), PCP_RES_CANNOT_PROVIDE_EXTERNAL);
	/* §11.3 item 1: an existing mapping that does not match the suggestion */
	h_begin(PCP_OP_MAP, "127.13.0.4", 3600);
	h_map(6, 443, held, NULL, "pf1");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.13.0.4", H_WAIT), PCP_RES_CANNOT_PROVIDE_EXTERNAL);
}

/* ---- §13.3 FILTER ---- */

Test(rfc6887_13_3, prefix_lengths_are_validated)
{
	static const struct {
		uint8_t len;
		const char *addr;
		int want;
	} cases[] = {
		{ 95, "198.51.100.0", PCP_RES_MALFORMED_OPTION },  { 129, "198.51.100.0", PCP_RES_MALFORMED_OPTION },
		{ 96, "0.0.0.0", PCP_RES_SUCCESS },                { 128, "198.51.100.1", PCP_RES_SUCCESS },
		{ 32, "2001:db8::", PCP_RES_SUCCESS },              { 129, "2001:db8::", PCP_RES_MALFORMED_OPTION },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h_begin(PCP_OP_MAP, "127.13.0.5", 3600);
		h_map(17, (uint16_t)(100 + i), 0, NULL, "filt");
		h_filter(cases[i].len, cases[i].addr, 0);
		cr_assert_eq(h_send("127.13.0.5", H_WAIT), cases[i].want, "prefix %u on %s", cases[i].len, cases[i].addr);
		if (cases[i].want == PCP_RES_SUCCESS)
			cr_assert_eq(H_resp.n_options, 1, "FILTER echoed");
	}
}

Test(rfc6887_13_3, lifetime_0_with_filter_is_malformed_option)
{
	h_begin(PCP_OP_MAP, "127.13.0.6", 0);
	h_map(17, 100, 0, NULL, "filt");
	h_filter(120, "198.51.100.0", 0);
	cr_assert_eq(h_send("127.13.0.6", H_WAIT), PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_13_3, filters_add_up_to_the_limit_and_prefix_0_clears)
{
	const char *s = "127.13.0.7";
	h_begin(PCP_OP_MAP, s, 3600);
	h_map(17, 100, 0, NULL, "filt");
	h_filter(128, "198.51.100.1", 443);
	cr_assert_eq(h_send(s, H_WAIT), PCP_RES_SUCCESS);
	h_begin(PCP_OP_MAP, s, 3600);
	h_map(17, 100, 0, NULL, "filt");
	h_filter(120, "198.51.100.0", 0);
	cr_assert_eq(h_send(s, H_WAIT), PCP_RES_SUCCESS, "filters of a later request are added");
	cr_assert(h_ctl_until("-j mappings -a", "\"filters\": \"198.51.100.1/32:443 198.51.100.0/24:0\"", true),
		  "both filters reach the shared table: %s", h_ctl("-j mappings -a"));
	h_begin(PCP_OP_MAP, s, 3600);
	h_map(17, 100, 0, NULL, "filt");
	h_filter(128, "198.51.100.9", 0);
	cr_assert_eq(h_send(s, H_WAIT), PCP_RES_EXCESSIVE_REMOTE_PEERS, "a third exceeds the limit of 2");
	cr_assert_eq(H_resp.lifetime, H_LONG_ERR);
	/* "the first option containing a prefix length of 0 (to delete all existing filters) and
	 * the second containing the new remote peer" */
	h_begin(PCP_OP_MAP, s, 3600);
	h_map(17, 100, 0, NULL, "filt");
	h_filter(0, "0.0.0.0", 0);
	h_filter(128, "198.51.100.9", 53);
	cr_assert_eq(h_send(s, H_WAIT), PCP_RES_SUCCESS);
	cr_assert(h_ctl_until("-j mappings -a", "\"filters\": \"198.51.100.9/32:53\"", true), "%s", h_ctl("mappings -a"));
	cr_assert(strstr(h_ctl("-j mappings -a"), "FILTERED"));
}

Test(rfc6887_13_3, three_filters_at_once_exceed_the_limit)
{
	h_begin(PCP_OP_MAP, "127.13.0.8", 3600);
	h_map(17, 100, 0, NULL, "filt");
	h_filter(128, "198.51.100.1", 0);
	h_filter(128, "198.51.100.2", 0);
	h_filter(128, "198.51.100.3", 0);
	cr_assert_eq(h_send("127.13.0.8", H_WAIT), PCP_RES_EXCESSIVE_REMOTE_PEERS);
	cr_assert(!strstr(h_ctl("-j mappings -a"), "127.13.0.8:100"), "§7.3: no state change");
}

/* ---- §15 ---- */

Test(rfc6887_15, lifetimes_are_clamped_to_the_configured_range)
{
	cr_assert_eq(map("127.15.0.1", 17, 1, 5, "lt"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 120, "minimum 120 s");
	cr_assert_eq(map("127.15.0.1", 17, 2, 4000000000u, "lt"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 86400, "maximum 24 h");
}

Test(rfc6887_15_1, delete_of_an_unknown_mapping_is_success_with_fields_copied)
{
	/* erratum 3621: suggested address and port are copied into the response */
	h_begin(PCP_OP_MAP, "127.15.0.2", 0);
	h_map(17, 4444, 0, "0.0.0.0", "nothing");
	cr_assert_eq(h_send("127.15.0.2", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	cr_assert_eq(H_resp.u.map.external_port, 0);
	cr_assert_str_eq(h_ext_addr(), "0.0.0.0");
	cr_assert_eq(H_resp.u.map.internal_port, 4444);
}

Test(rfc6887_15_1, delete_of_an_outbound_mapping_is_not_authorized)
{
	h_begin(PCP_OP_PEER, "127.15.0.3", 3600);
	h_map(6, 5000, 0, NULL, "out");
	h_peer_remote("198.51.100.10", 80);
	cr_assert_eq(h_send("127.15.0.3", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(map("127.15.0.3", 6, 5000, 0, "out"), PCP_RES_NOT_AUTHORIZED);
}

Test(rfc6887_15_1, delete_removes_the_mapping_from_the_data_plane)
{
	cr_assert_eq(map("127.15.0.4", 17, 4000, 3600, "del"), PCP_RES_SUCCESS);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.15.0.4:4000\"", true));
	cr_assert_eq(map("127.15.0.4", 17, 4000, 0, "del"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.15.0.4:4000\"", false));
}

Test(rfc6888, req8_a_freed_port_is_held_but_the_same_client_may_reclaim_it)
{
	cr_assert_eq(map("127.15.0.5", 17, 4000, 3600, "hold"), PCP_RES_SUCCESS);
	uint16_t port = H_resp.u.map.external_port;
	cr_assert_eq(map("127.15.0.5", 17, 4000, 0, "hold"), PCP_RES_SUCCESS);
	/* another internal port of the subscriber asking for exactly that port: held */
	h_begin(PCP_OP_MAP, "127.15.0.5", 3600);
	h_map(17, 4001, port, NULL, "other");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.15.0.5", H_WAIT), PCP_RES_CANNOT_PROVIDE_EXTERNAL, "port %u reused within 120 s", port);
	/* the same internal address, port and nonce: it comes back (§15 last paragraph) */
	cr_assert_eq(map("127.15.0.5", 17, 4000, 3600, "hold"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.map.external_port, port);
}
