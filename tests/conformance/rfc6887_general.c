/*
 * RFC 6887 §7 (common formats, options) and §8 (general server operation, epoch), against
 * the running cgnatd. Subscribers 127.7.0.x and 127.8.0.x.
 */
#include <string.h>
#include <unistd.h>

#include "harness.h"

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(rfc6887_8_2, requests_from_outside_the_inside_networks_are_ignored)
{
	/* "it MUST silently ignore PCP requests arriving on any other interface" */
	h_begin(PCP_OP_ANNOUNCE, "198.51.100.77", 0);
	cr_assert_eq(h_send("198.51.100.77", H_SILENCE), -1, "answered a request from outside pcp.inside");
	h_begin(PCP_OP_ANNOUNCE, "127.8.0.1", 0);
	cr_assert_eq(h_send("127.8.0.1", H_WAIT), PCP_RES_SUCCESS);
}

Test(rfc6887_8_2, shorter_than_two_octets_is_dropped)
{
	cr_assert_eq(h_send_raw("127.8.0.2", "\x02", 1, H_SILENCE), -1);
}

Test(rfc6887_8_2, r_bit_set_is_dropped)
{
	h_begin(PCP_OP_ANNOUNCE, "127.8.0.3", 0);
	h_send("127.8.0.3", H_WAIT);
	H_sent[1] |= 0x80;
	cr_assert_eq(h_send_raw("127.8.0.3", H_sent, H_sent_len, H_SILENCE), -1);
}

Test(rfc6887_8_2, unsupported_version_gets_unsupp_version_with_version_2)
{
	h_begin(PCP_OP_MAP, "127.8.0.4", 3600);
	h_map(17, 5000, 0, NULL, "v3");
	H_req.version = 3;
	cr_assert_eq(h_send("127.8.0.4", H_WAIT), PCP_RES_UNSUPP_VERSION);
	cr_assert_eq(H_raw[0], 2, "§9: the response carries the version the server supports");
	cr_assert_eq(H_resp.lifetime, H_LONG_ERR, "a long lifetime error");
}

Test(rfc6887_8_2, version_2_shorter_than_24_octets_is_dropped)
{
	h_begin(PCP_OP_ANNOUNCE, "127.8.0.5", 0);
	h_send("127.8.0.5", H_WAIT);
	cr_assert_eq(h_send_raw("127.8.0.5", H_sent, 20, H_SILENCE), -1);
}

Test(rfc6887_8_2, longer_than_1100_octets_is_malformed_and_truncated)
{
	uint8_t big[1200] = { 2, PCP_OP_ANNOUNCE };
	big[18] = big[19] = 0xff;
	big[20] = 127, big[21] = 8, big[23] = 6;
	int n = h_send_raw("127.8.0.6", big, sizeof(big), H_WAIT);
	cr_assert_eq(n, 1100, "§8.2: the response is truncated to 1100 octets");
	cr_assert_eq(H_raw[3], PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_8_2, length_not_a_multiple_of_4_is_malformed)
{
	h_begin(PCP_OP_MAP, "127.8.0.7", 3600);
	h_map(17, 5000, 0, NULL, "m4");
	h_send("127.8.0.7", H_WAIT);
	int n = h_send_raw("127.8.0.7", H_sent, H_sent_len - 2, H_WAIT);
	cr_assert_eq(n, (int)H_sent_len, "zero-padded to a multiple of 4");
	cr_assert_eq(H_raw[3], PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_8_2, too_short_for_the_opcode_is_malformed)
{
	h_begin(PCP_OP_MAP, "127.8.0.8", 3600);
	h_map(17, 5000, 0, NULL, "short");
	h_send("127.8.0.8", H_WAIT);
	cr_assert_eq(h_send_raw("127.8.0.8", H_sent, 40, H_WAIT), 40);
	cr_assert_eq(H_raw[3], PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_8_2, address_mismatch)
{
	/* "If they do not match, the error ADDRESS_MISMATCH MUST be returned." */
	h_begin(PCP_OP_MAP, "127.9.9.9", 3600);
	h_map(17, 5000, 0, NULL, "mismatch");
	cr_assert_eq(h_send("127.8.0.9", H_WAIT), PCP_RES_ADDRESS_MISMATCH);
	cr_assert_eq(H_resp.lifetime, H_LONG_ERR);
}

Test(rfc6887_8_2, unknown_opcode_is_unsupp_opcode_and_copied)
{
	h_begin(PCP_OP_ANNOUNCE, "127.8.0.10", 0);
	h_send("127.8.0.10", H_WAIT);
	uint8_t m[32];
	memcpy(m, H_sent, 24);
	m[1] = 33;
	memset(m + 24, 0xab, 8);
	cr_assert_eq(h_send_raw("127.8.0.10", m, sizeof(m), H_WAIT), 32);
	cr_assert_eq(H_raw[1], 0x80 | 33, "same opcode, R bit set");
	cr_assert_eq(H_raw[3], PCP_RES_UNSUPP_OPCODE);
	cr_assert_eq(memcmp(H_raw + 24, m + 24, 8), 0, "the payload is copied as is");
	/* §7.2: not parsed, so the reserved field keeps the last 96 bits of the client address */
	cr_assert_eq(memcmp(H_raw + 12, m + 12, 12), 0);
}

Test(rfc6887_8_2, error_response_is_a_complete_copy_with_epoch_and_lifetime)
{
	h_begin(PCP_OP_MAP, "127.8.0.11", 3600);
	h_map(0, 80, 0, NULL, "copy"); /* protocol 0 with a port: MALFORMED_REQUEST */
	h_opt(PCP_OPT_DESCRIPTION, "kept", 4);
	cr_assert_eq(h_send("127.8.0.11", H_WAIT), PCP_RES_MALFORMED_REQUEST);
	cr_assert_eq(H_raw_len, H_sent_len);
	cr_assert_eq(memcmp(H_raw + 24, H_sent + 24, H_sent_len - 24), 0, "§7.3: all options returned");
	cr_assert_eq(rd32(H_raw + 4), H_LONG_ERR);
	for (int i = 12; i < 24; i++)
		cr_assert_eq(H_raw[i], 0, "§7.2: reserved is zero for a parsed request");
}

Test(rfc6887_7_4, short_lifetime_errors_use_the_short_lifetime)
{
	/* USER_EX_QUOTA is a short lifetime error */
	for (int i = 0; i < H_MAX_MAPPINGS; i++) {
		h_begin(PCP_OP_MAP, "127.8.0.12", 3600);
		h_map(17, (uint16_t)(6000 + i), 0, NULL, "quota");
		cr_assert_eq(h_send("127.8.0.12", H_WAIT), PCP_RES_SUCCESS);
	}
	h_begin(PCP_OP_MAP, "127.8.0.12", 3600);
	h_map(17, 6100, 0, NULL, "quota");
	cr_assert_eq(h_send("127.8.0.12", H_WAIT), PCP_RES_USER_EX_QUOTA);
	cr_assert_eq(H_resp.lifetime, H_SHORT_ERR);
}

Test(rfc6887_7_3, unknown_mandatory_option_is_unsupp_option)
{
	h_begin(PCP_OP_MAP, "127.7.0.1", 3600);
	h_map(17, 5000, 0, NULL, "opt");
	h_opt(99, "abcd", 4);
	cr_assert_eq(h_send("127.7.0.1", H_WAIT), PCP_RES_UNSUPP_OPTION);
}

Test(rfc6887_7_3, unprocessed_optional_options_are_not_echoed)
{
	/* PREFER_FAILURE needs a suggestion that can be honoured: the neighbour of a port the
	 * subscriber holds (a fixed one may sit in another test's subscriber's block). */
	h_begin(PCP_OP_MAP, "127.7.0.2", 3600);
	h_map(17, 4999, 0, NULL, "first");
	cr_assert_eq(h_send("127.7.0.2", H_WAIT), PCP_RES_SUCCESS);
	uint16_t free_port = H_resp.u.map.external_port ^ 1;
	h_begin(PCP_OP_MAP, "127.7.0.2", 3600);
	h_map(17, 5000, 0, NULL, "opt");
	h_opt(PCP_OPT_CHECKPOINT_REQUIRED, NULL, 0); /* RFC 7767: optional, not offered */
	h_opt(200, "x", 1);
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	H_req.u.map.external_port = free_port;
	cr_assert_eq(h_send("127.7.0.2", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.n_options, 1, "only the processed PREFER_FAILURE comes back");
	cr_assert_eq(H_resp.options[0].code, PCP_OPT_PREFER_FAILURE);
}

Test(rfc6887_7_3, an_option_twice_is_malformed_option)
{
	h_begin(PCP_OP_MAP, "127.7.0.3", 3600);
	h_map(17, 5000, 45001, NULL, "opt");
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	h_opt(PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(h_send("127.7.0.3", H_WAIT), PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_7_3, an_error_changes_no_state)
{
	/* A valid FILTER, then an invalid one: MALFORMED_OPTION, and no mapping was made. */
	h_begin(PCP_OP_MAP, "127.7.0.4", 3600);
	h_map(17, 5000, 0, NULL, "rollback");
	h_filter(120, "198.51.100.0", 0);
	h_filter(90, "198.51.100.0", 0);
	cr_assert_eq(h_send("127.7.0.4", H_WAIT), PCP_RES_MALFORMED_OPTION);
	cr_assert(strstr(h_ctl("-j subscriber 127.7.0.4"), "\"state\": \"unknown\"") ||
		  strstr(h_ctl("-j subscriber 127.7.0.4"), "\"mappings\": 0,"), "%s", h_ctl("-j subscriber 127.7.0.4"));
	cr_assert(!strstr(h_ctl("-j mappings -a"), "127.7.0.4:5000"), "a mapping was left behind");
}

Test(rfc6887_8_5, epoch_counts_seconds)
{
	h_begin(PCP_OP_ANNOUNCE, "127.8.0.13", 0);
	cr_assert_eq(h_send("127.8.0.13", H_WAIT), PCP_RES_SUCCESS);
	uint32_t e1 = H_resp.epoch;
	usleep(2100000);
	cr_assert_eq(h_send("127.8.0.13", H_WAIT), PCP_RES_SUCCESS);
	cr_assert(H_resp.epoch >= e1 + 2 && H_resp.epoch <= e1 + 3, "%u then %u", e1, H_resp.epoch);
}

Test(rfc6887_14_1, solicited_announce_is_success_with_lifetime_0)
{
	/* §14.1.1: lifetime "set to 0 on transmission and ignored on reception" */
	h_begin(PCP_OP_ANNOUNCE, "127.8.0.14", 3600);
	cr_assert_eq(h_send("127.8.0.14", H_WAIT), PCP_RES_SUCCESS);
	cr_assert_eq(H_resp.lifetime, 0);
	cr_assert_eq(H_raw_len, 24);
}
