/*
 * RFC 6887 §12 (PEER), against the running cgnatd. Subscribers 127.12.0.x.
 */
#include <string.h>

#include "harness.h"

static int
peer(const char *src, uint8_t proto, uint16_t port, const char *remote, uint16_t rport, uint32_t lifetime,
     const char *nonce)
{
	h_begin(PCP_OP_PEER, src, lifetime);
	h_map(proto, port, 0, NULL, nonce);
	h_peer_remote(remote, rport);
	return h_send(src, H_WAIT);
}

Test(rfc6887_12_3, create_copies_the_fields_and_returns_the_external_endpoint)
{
	cr_assert_eq(peer("127.12.0.1", 6, 5000, "198.51.100.20", 443, 600, "p1"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 600);
	cr_assert_eq(H_resp.u.peer.map.internal_port, 5000);
	cr_assert_eq(H_resp.u.peer.remote_port, 443);
	char buf[CGN_ADDR_STRLEN];
	cr_assert_str_eq(cgn_addr_format(&H_resp.u.peer.remote_addr, buf, sizeof(buf)), "198.51.100.20");
	cr_assert_neq(H_resp.u.peer.map.external_port, 0);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.12.0.1:5000\"", true), "in the shared table");
	cr_assert(strstr(h_ctl("-j mappings -a"), "PEER"));
}

Test(rfc6887_12_3, the_same_five_tuple_extends_and_keeps_the_mapping)
{
	cr_assert_eq(peer("127.12.0.2", 17, 5000, "198.51.100.20", 53, 300, "p2"), PCP_RES_SUCCESS);
	uint16_t port = H_resp.u.peer.map.external_port;
	cr_assert_eq(peer("127.12.0.2", 17, 5000, "198.51.100.20", 53, 900, "p2"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.peer.map.external_port, port);
	cr_assert_eq(H_resp.lifetime, 900);
	/* §12.1: PEER cannot shorten: a short request is a query of the remaining lifetime */
	cr_assert_eq(peer("127.12.0.2", 17, 5000, "198.51.100.20", 53, 1, "p2"), PCP_RES_SUCCESS);
	cr_assert(H_resp.lifetime > 890, "%u", H_resp.lifetime);
}

Test(rfc6887_12_3, another_remote_peer_shares_the_endpoint_independent_mapping)
{
	cr_assert_eq(peer("127.12.0.3", 17, 5000, "198.51.100.20", 53, 600, "p3"), PCP_RES_SUCCESS);
	uint16_t port = H_resp.u.peer.map.external_port;
	cr_assert_eq(peer("127.12.0.3", 17, 5000, "198.51.100.21", 53, 600, "p3b"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.peer.map.external_port, port, "RFC 4787 REQ-1: EIM");
}

Test(rfc6887_12_3, another_nonce_is_not_authorized)
{
	cr_assert_eq(peer("127.12.0.4", 6, 5000, "198.51.100.20", 80, 600, "mine"), PCP_RES_SUCCESS);
	cr_assert_eq(peer("127.12.0.4", 6, 5000, "198.51.100.20", 80, 600, "yours"), PCP_RES_NOT_AUTHORIZED);
	cr_assert(H_resp.lifetime > 590 && H_resp.lifetime <= 600, "%u", H_resp.lifetime);
}

Test(rfc6887_12_3, invalid_remote_peers_are_malformed_request)
{
	static const struct {
		const char *addr;
		uint16_t port;
	} bad[] = { { "127.0.0.1", 80 }, { "0.0.0.0", 80 }, { "224.0.0.1", 80 }, { "198.51.100.1", 0 },
		    { "255.255.255.255", 80 } };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(peer("127.12.0.5", 6, 5000, bad[i].addr, bad[i].port, 600, "bad"), PCP_RES_MALFORMED_REQUEST,
			     "%s:%u", bad[i].addr, bad[i].port);
}

Test(rfc6887_12_1, protocol_and_internal_port_must_not_be_zero)
{
	cr_assert_eq(peer("127.12.0.6", 0, 5000, "198.51.100.1", 80, 600, "z"), PCP_RES_MALFORMED_REQUEST);
	cr_assert_eq(peer("127.12.0.6", 6, 0, "198.51.100.1", 80, 600, "z"), PCP_RES_MALFORMED_REQUEST);
	cr_assert_eq(peer("127.12.0.6", 132, 5000, "198.51.100.1", 80, 600, "z"), PCP_RES_UNSUPP_PROTOCOL);
}

Test(rfc6887_12_1, prefer_failure_in_peer_is_malformed_request)
{
	h_begin(PCP_OP_PEER, "127.12.0.7", 600);
	h_map(6, 5000, 5000, NULL, "pf");
	h_peer_remote("198.51.100.1", 80);
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.12.0.7", H_WAIT), PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_12_2, a_suggestion_that_cannot_be_honoured_is_cannot_provide_external)
{
	/* PREFER_FAILURE is implied: the suggestion is taken, or the request fails. The MAP's
	 * suggestion may not be honoured (another test's subscriber can hold that port block on
	 * the same address): the port it got is the one made unavailable. */
	h_begin(PCP_OP_MAP, "127.12.0.8", 3600);
	h_map(6, 80, 41000, NULL, "m");
	cr_assert_eq(h_send("127.12.0.8", H_WAIT), PCP_RES_SUCCESS);
	uint16_t taken = H_resp.u.map.external_port;
	h_begin(PCP_OP_PEER, "127.12.0.8", 600);
	h_map(6, 81, taken, NULL, "p");
	h_peer_remote("198.51.100.1", 80);
	cr_assert_eq(h_send("127.12.0.8", H_WAIT), PCP_RES_CANNOT_PROVIDE_EXTERNAL);
	/* Its neighbour is in the same (even-aligned) block, which the subscriber holds. */
	uint16_t free_port = taken ^ 1;
	h_begin(PCP_OP_PEER, "127.12.0.8", 600);
	h_map(6, 82, free_port, NULL, "p");
	h_peer_remote("198.51.100.1", 80);
	cr_assert_eq(h_send("127.12.0.8", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.peer.map.external_port, free_port, "a free suggestion is honoured");
}

Test(rfc6887_12_3, peer_on_a_map_mapping_uses_its_external_port)
{
	h_begin(PCP_OP_MAP, "127.12.0.9", 3600);
	h_map(17, 7777, 0, NULL, "m");
	cr_assert_eq(h_send("127.12.0.9", H_WAIT), PCP_RES_SUCCESS);
	uint16_t port = H_resp.u.map.external_port;
	cr_assert_eq(peer("127.12.0.9", 17, 7777, "198.51.100.30", 3478, 600, "p"), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.u.peer.map.external_port, port);
}

Test(rfc6887_13_1, third_party_peer)
{
	h_begin(PCP_OP_PEER, H_THIRD_PARTY, 600);
	h_map(6, 5000, 0, NULL, "tpp");
	h_peer_remote("198.51.100.1", 80);
	h_third_party("127.12.0.60");
	cr_assert_eq(h_send(H_THIRD_PARTY, H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 1);
	cr_assert(h_ctl_until("-j mappings -a", "\"internal\": \"127.12.0.60:5000\"", true));
}
