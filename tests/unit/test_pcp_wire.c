/*
 * The PCP codec: every header field, every opcode layout, every §7.3 and §8.2 rule, every
 * registered option, error responses, and round trips. Test names carry the RFC section.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "pcp_wire.h"

static struct pcp_request req;
static struct pcp_response resp;

/* A request buffer: header of version 2, opcode, lifetime, client ::ffff:127.0.0.1. */
static size_t
hdr(uint8_t *m, uint8_t opcode, uint32_t lifetime)
{
	memset(m, 0, 1200);
	m[0] = 2;
	m[1] = opcode;
	m[4] = (uint8_t)(lifetime >> 24);
	m[5] = (uint8_t)(lifetime >> 16);
	m[6] = (uint8_t)(lifetime >> 8);
	m[7] = (uint8_t)lifetime;
	m[18] = m[19] = 0xff;
	m[20] = 127;
	m[23] = 1;
	return PCP_HDR_LEN + (size_t)pcp_opcode_data_len(opcode);
}

/* Appends an option with len octets of value fill; returns the new length. */
static size_t
opt(uint8_t *m, size_t off, uint8_t code, uint16_t len, uint8_t fill)
{
	m[off] = code;
	m[off + 1] = 0;
	m[off + 2] = (uint8_t)(len >> 8);
	m[off + 3] = (uint8_t)len;
	memset(m + off + 4, fill, len);
	return off + 4 + ((len + 3u) & ~3u);
}

static enum pcp_verdict
parse(const uint8_t *m, size_t len, uint8_t *result)
{
	*result = 0xff;
	return pcp_parse_request(m, len, &req, result);
}

/* ---- §8.2: header-level verdicts, in the order of the section ---- */

Test(rfc6887_8_2, shorter_than_two_octets_is_dropped)
{
	uint8_t m[2] = { 2, 1 }, r;
	cr_assert_eq(parse(m, 0, &r), PCP_VERDICT_DROP);
	cr_assert_eq(parse(m, 1, &r), PCP_VERDICT_DROP);
}

Test(rfc6887_8_2, r_bit_set_is_dropped)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	m[1] |= 0x80;
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_DROP);
	cr_assert_eq(parse(m, 2, &r), PCP_VERDICT_DROP);
}

Test(rfc6887_8_2, version_zero_is_natpmp)
{
	uint8_t m[2] = { 0, 0 }, r;
	cr_assert_eq(parse(m, 2, &r), PCP_VERDICT_NATPMP);
}

Test(rfc6887_8_2, other_versions_get_unsupp_version)
{
	uint8_t m[1200], r;
	for (int v = 1; v < 256; v++) {
		if (v == 2)
			continue;
		hdr(m, PCP_OP_MAP, 0);
		m[0] = (uint8_t)v;
		cr_assert_eq(parse(m, 60, &r), PCP_VERDICT_ERROR, "version %d", v);
		cr_assert_eq(r, PCP_RES_UNSUPP_VERSION);
		/* even when short: the version check comes before the length check */
		cr_assert_eq(parse(m, 2, &r), PCP_VERDICT_ERROR);
		cr_assert_eq(r, PCP_RES_UNSUPP_VERSION);
	}
}

Test(rfc6887_8_2, version_two_shorter_than_24_is_dropped)
{
	uint8_t m[1200], r;
	hdr(m, PCP_OP_ANNOUNCE, 0);
	for (size_t n = 2; n < 24; n++)
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_DROP, "length %zu", n);
	cr_assert_eq(parse(m, 24, &r), PCP_VERDICT_OK);
}

Test(rfc6887_8_2, longer_than_1100_is_malformed_request)
{
	uint8_t m[1200], r;
	hdr(m, PCP_OP_ANNOUNCE, 0);
	cr_assert_eq(parse(m, 1104, &r), PCP_VERDICT_ERROR);
	cr_assert_eq(r, PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_8_2, length_not_multiple_of_4_is_malformed_request)
{
	uint8_t m[1200], r;
	hdr(m, PCP_OP_ANNOUNCE, 0);
	for (size_t n = 25; n < 28; n++) {
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR);
		cr_assert_eq(r, PCP_RES_MALFORMED_REQUEST);
	}
}

Test(rfc6887_8_2, unknown_opcode_is_unsupp_opcode)
{
	uint8_t m[1200], r;
	for (int op = 4; op < 128; op++) {
		hdr(m, 0, 0);
		m[1] = (uint8_t)op;
		cr_assert_eq(parse(m, 24, &r), PCP_VERDICT_ERROR);
		cr_assert_eq(r, PCP_RES_UNSUPP_OPCODE, "opcode %d", op);
	}
}

Test(rfc6887_8_2, too_short_for_the_opcode_is_malformed_request)
{
	uint8_t m[1200], r;
	for (size_t n = 24; n < 60; n += 4) {
		hdr(m, PCP_OP_MAP, 100);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR, "MAP of %zu octets", n);
		cr_assert_eq(r, PCP_RES_MALFORMED_REQUEST);
	}
	for (size_t n = 24; n < 80; n += 4) {
		hdr(m, PCP_OP_PEER, 100);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR, "PEER of %zu octets", n);
		cr_assert_eq(r, PCP_RES_MALFORMED_REQUEST);
	}
	hdr(m, PCP_OP_MAP, 100);
	cr_assert_eq(parse(m, 60, &r), PCP_VERDICT_OK);
	hdr(m, PCP_OP_PEER, 100);
	cr_assert_eq(parse(m, 80, &r), PCP_VERDICT_OK);
	hdr(m, PCP_OP_AUTHENTICATION, 0);
	cr_assert_eq(parse(m, 24, &r), PCP_VERDICT_OK);
}

/* ---- §7.1, §11.1, §12.1: every field ---- */

Test(rfc6887_7_1, header_fields)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_ANNOUNCE, 0xdeadbeef);
	m[2] = 0xaa; /* reserved: ignored on reception */
	m[3] = 0x55;
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	cr_assert_eq(req.version, 2);
	cr_assert_eq(req.opcode, PCP_OP_ANNOUNCE);
	cr_assert_eq(req.lifetime, 0xdeadbeef);
	struct cgn_addr lo;
	cgn_addr_parse("127.0.0.1", &lo);
	cr_assert(cgn_addr_eq(&req.client_addr, &lo));
	cr_assert_eq(req.n_options, 0);
}

Test(rfc6887_11_1, map_fields)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 3600);
	uint8_t *d = m + 24;
	for (int i = 0; i < 12; i++)
		d[i] = (uint8_t)(0xa0 + i);
	d[12] = 17;
	d[13] = d[14] = d[15] = 0xee; /* reserved: ignored */
	d[16] = 0x1f, d[17] = 0x90;   /* internal port 8080 */
	d[18] = 0x9c, d[19] = 0x40;   /* suggested port 40000 */
	d[30] = d[31] = 0xff;
	d[32] = 203, d[33] = 0, d[34] = 113, d[35] = 7;
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	for (int i = 0; i < 12; i++)
		cr_assert_eq(req.u.map.nonce[i], 0xa0 + i);
	cr_assert_eq(req.u.map.protocol, 17);
	cr_assert_eq(req.u.map.internal_port, 8080);
	cr_assert_eq(req.u.map.external_port, 40000);
	struct cgn_addr e;
	cgn_addr_parse("203.0.113.7", &e);
	cr_assert(cgn_addr_eq(&req.u.map.external_addr, &e));
}

Test(rfc6887_12_1, peer_fields)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_PEER, 60);
	uint8_t *d = m + 24;
	d[12] = 6;
	d[16] = 0, d[17] = 80;
	d[36] = 0x01, d[37] = 0xbb; /* remote port 443 */
	d[38] = d[39] = 0x77;       /* reserved */
	d[40] = 0x20, d[41] = 0x01, d[42] = 0x0d, d[43] = 0xb8, d[55] = 1;
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	cr_assert_eq(req.u.peer.map.protocol, 6);
	cr_assert_eq(req.u.peer.map.internal_port, 80);
	cr_assert_eq(req.u.peer.remote_port, 443);
	struct cgn_addr a;
	cgn_addr_parse("2001:db8::1", &a);
	cr_assert(cgn_addr_eq(&req.u.peer.remote_addr, &a));
}

/* ---- §7.3: options ---- */

Test(rfc6887_7_3, option_header_cut_short_is_malformed_option)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	m[n] = PCP_OPT_PREFER_FAILURE; /* 4 more octets would be a header; give it none */
	cr_assert_eq(parse(m, n + 4, &r), PCP_VERDICT_OK); /* a full zero-length option */
	n = opt(m, n, PCP_OPT_PREFER_FAILURE, 0, 0);
	m[n + 2] = 0;
	/* a lone 4-octet tail that says length 4 with nothing after it */
	m[n] = PCP_OPT_DESCRIPTION;
	m[n + 3] = 4;
	cr_assert_eq(parse(m, n + 4, &r), PCP_VERDICT_ERROR);
	cr_assert_eq(r, PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_7_3, option_longer_than_the_message_is_malformed_option)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	size_t end = opt(m, n, PCP_OPT_THIRD_PARTY, 16, 1);
	m[n + 3] = 20; /* claims 20, message holds 16 */
	cr_assert_eq(parse(m, end, &r), PCP_VERDICT_ERROR);
	cr_assert_eq(r, PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_7_3, padding_to_four_octets)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	n = opt(m, n, PCP_OPT_DESCRIPTION, 5, 'x'); /* 5 + 3 padding */
	n = opt(m, n, PCP_OPT_PREFER_FAILURE, 0, 0);
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	cr_assert_eq(req.n_options, 2);
	cr_assert_eq(req.options[0].code, PCP_OPT_DESCRIPTION);
	cr_assert_eq(req.options[0].len, 5);
	cr_assert_eq(memcmp(req.options[0].data, "xxxxx", 5), 0);
	cr_assert_eq(req.options[1].code, PCP_OPT_PREFER_FAILURE);
	/* without its padding the description overruns: malformed */
	cr_assert_eq(parse(m, 24 + 36 + 4 + 4, &r), PCP_VERDICT_ERROR);
	cr_assert_eq(r, PCP_RES_MALFORMED_OPTION);
}

Test(rfc6887_7_3, options_kept_in_order)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	for (int i = 0; i < 5; i++)
		n = opt(m, n, PCP_OPT_FILTER, 20, (uint8_t)i);
	n = opt(m, n, PCP_OPT_THIRD_PARTY, 16, 9);
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	cr_assert_eq(req.n_options, 6);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(req.options[i].data[0], i);
	cr_assert_eq(req.options[5].code, PCP_OPT_THIRD_PARTY);
	cr_assert_eq(pcp_request_option(&req, PCP_OPT_THIRD_PARTY), &req.options[5]);
	cr_assert_null(pcp_request_option(&req, PCP_OPT_PREFER_FAILURE));
}

Test(rfc6887_7_3, unknown_mandatory_option_is_unsupp_option)
{
	uint8_t m[1200], r;
	static const uint8_t codes[] = { 0, 14, 63, 95, 96, 126, 127 };
	for (size_t i = 0; i < sizeof(codes); i++) {
		size_t n = hdr(m, PCP_OP_MAP, 100);
		n = opt(m, n, codes[i], 4, 0);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR, "code %u", codes[i]);
		cr_assert_eq(r, PCP_RES_UNSUPP_OPTION, "code %u", codes[i]);
	}
}

Test(rfc6887_7_3, unknown_optional_option_is_kept_for_the_server_to_ignore)
{
	uint8_t m[1200], r;
	static const uint8_t codes[] = { 131, 191, 193, 224, 254, 255 };
	for (size_t i = 0; i < sizeof(codes); i++) {
		size_t n = hdr(m, PCP_OP_MAP, 100);
		n = opt(m, n, codes[i], 7, 0);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK, "code %u", codes[i]);
		cr_assert_eq(req.n_options, 1);
		cr_assert_null(req.options[0].desc);
	}
}

Test(rfc6887_7_3, too_many_occurrences_is_malformed_option)
{
	uint8_t m[1200], r;
	static const uint8_t once[] = { PCP_OPT_THIRD_PARTY, PCP_OPT_PREFER_FAILURE, PCP_OPT_DESCRIPTION,
					PCP_OPT_PORT_SET, PCP_OPT_CHECKPOINT_REQUIRED, PCP_OPT_PREFIX64,
					PCP_OPT_THIRD_PARTY_ID };
	for (size_t i = 0; i < sizeof(once); i++) {
		const struct pcp_option_desc *d = pcp_option_desc(once[i]);
		uint16_t len = d->len_kind == PCP_LEN_FIXED ? d->len : 8;
		size_t n = hdr(m, PCP_OP_MAP, 100);
		n = opt(m, n, once[i], len, 0);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK, "%s once", d->name);
		n = opt(m, n, once[i], len, 0);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR, "%s twice", d->name);
		cr_assert_eq(r, PCP_RES_MALFORMED_OPTION);
	}
}

Test(rfc6887_7_3, wrong_length_is_malformed_option)
{
	uint8_t m[1200], r;
	struct {
		uint8_t code, op;
		uint16_t len;
	} bad[] = {
		{ PCP_OPT_THIRD_PARTY, PCP_OP_MAP, 4 },   { PCP_OPT_THIRD_PARTY, PCP_OP_PEER, 20 },
		{ PCP_OPT_PREFER_FAILURE, PCP_OP_MAP, 4 }, { PCP_OPT_FILTER, PCP_OP_MAP, 16 },
		{ PCP_OPT_PORT_SET, PCP_OP_MAP, 4 },       { PCP_OPT_CHECKPOINT_REQUIRED, PCP_OP_MAP, 1 },
		{ PCP_OPT_DESCRIPTION, PCP_OP_MAP, 1017 }, { PCP_OPT_THIRD_PARTY_ID, PCP_OP_MAP, 1017 },
		{ PCP_OPT_NONCE, PCP_OP_AUTHENTICATION, 8 }, { PCP_OPT_PRF, PCP_OP_AUTHENTICATION, 2 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = hdr(m, bad[i].op, 100);
		n = opt(m, n, bad[i].code, bad[i].len, 0);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR, "option %u length %u", bad[i].code, bad[i].len);
		cr_assert_eq(r, PCP_RES_MALFORMED_OPTION, "option %u length %u", bad[i].code, bad[i].len);
	}
}

Test(rfc6887_7_3, maximum_lengths_are_accepted)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	n = opt(m, n, PCP_OPT_DESCRIPTION, 1016, 'd');
	cr_assert_eq(n, 24 + 36 + 4 + 1016);
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	n = hdr(m, PCP_OP_PEER, 100);
	n = opt(m, n, PCP_OPT_THIRD_PARTY_ID, 1016, 'i');
	cr_assert_eq(n, 1100, "24 + 56 + 4 + 1016: exactly the maximum message");
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
}

Test(rfc6887_11_3, mandatory_option_invalid_for_opcode_is_malformed_option)
{
	uint8_t m[1200], r;
	struct {
		uint8_t code, op;
		uint16_t len;
	} bad[] = {
		{ PCP_OPT_FILTER, PCP_OP_PEER, 20 },         { PCP_OPT_THIRD_PARTY, PCP_OP_ANNOUNCE, 16 },
		{ PCP_OPT_NONCE, PCP_OP_MAP, 4 },            { PCP_OPT_EAP_PAYLOAD, PCP_OP_PEER, 4 },
		{ PCP_OPT_SESSION_LIFETIME, PCP_OP_AUTHENTICATION, 4 }, /* response only */
		{ PCP_OPT_ID_INDICATOR, PCP_OP_AUTHENTICATION, 4 },     /* response only */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = hdr(m, bad[i].op, 100);
		n = opt(m, n, bad[i].code, bad[i].len, 0);
		cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR, "option %u opcode %u", bad[i].code, bad[i].op);
		cr_assert_eq(r, PCP_RES_MALFORMED_OPTION, "option %u opcode %u", bad[i].code, bad[i].op);
	}
}

Test(rfc6887_12_1, prefer_failure_in_peer_is_malformed_request)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_PEER, 100);
	n = opt(m, n, PCP_OPT_PREFER_FAILURE, 0, 0);
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR);
	cr_assert_eq(r, PCP_RES_MALFORMED_REQUEST);
}

Test(rfc6887_7_3, optional_option_invalid_for_opcode_is_ignored)
{
	uint8_t m[1200], r;
	size_t n = hdr(m, PCP_OP_PEER, 100);
	n = opt(m, n, PCP_OPT_PORT_SET, 5, 0);   /* MAP only */
	n = opt(m, n, PCP_OPT_PREFIX64, 12, 0);  /* MAP, ANNOUNCE only */
	n = opt(m, n, PCP_OPT_DESCRIPTION, 3, 'a');
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK);
	cr_assert_eq(req.n_options, 1);
	cr_assert_eq(req.options[0].code, PCP_OPT_DESCRIPTION);
}

/* Every registered option, on every opcode it is valid for, with a valid length. */
Test(rfc6887_7_3, every_registered_option_is_recognised)
{
	uint8_t m[1200], r;
	int seen = 0;
	for (int code = 0; code < 256; code++) {
		const struct pcp_option_desc *d = pcp_option_desc((uint8_t)code);
		if (d == NULL)
			continue;
		seen++;
		cr_assert_eq(d->code, code);
		for (int op = 0; op < PCP_OP_COUNT; op++) {
			if (!(d->opcodes & (1u << op)) || d->where == PCP_IN_RESP)
				continue;
			uint16_t len = d->len_kind == PCP_LEN_FIXED ? d->len : d->len_kind == PCP_LEN_MAX ? d->len : 9;
			size_t n = hdr(m, (uint8_t)op, 100);
			if (n + 4 + len > PCP_MAX_MSG)
				len = (uint16_t)(PCP_MAX_MSG - n - 4);
			n = opt(m, n, (uint8_t)code, len, 0x5a);
			cr_assert_eq(parse(m, n, &r), PCP_VERDICT_OK, "%s on opcode %d", d->name, op);
			cr_assert_eq(req.n_options, 1);
			cr_assert_eq(req.options[0].desc, d);
			cr_assert_eq(req.options[0].len, len);
		}
	}
	cr_assert_eq(seen, 17, "IANA lists 17 assigned PCP options");
}

/* ---- §8.2 and §7.2: error responses ---- */

Test(rfc6887_8_2, error_response_copies_the_request)
{
	uint8_t m[1200], out[PCP_MAX_MSG];
	size_t n = hdr(m, PCP_OP_MAP, 100);
	n = opt(m, n, PCP_OPT_DESCRIPTION, 2, 'z');
	for (int i = 0; i < 12; i++)
		m[24 + i] = (uint8_t)i;
	size_t len = pcp_build_error(m, n, PCP_RES_NOT_AUTHORIZED, 1800, 77, true, out);
	cr_assert_eq(len, n);
	cr_assert_eq(out[0], 2);
	cr_assert_eq(out[1], 0x80 | PCP_OP_MAP);
	cr_assert_eq(out[2], 0);
	cr_assert_eq(out[3], PCP_RES_NOT_AUTHORIZED);
	cr_assert_eq(out[4] << 24 | out[5] << 16 | out[6] << 8 | out[7], 1800);
	cr_assert_eq(out[8] << 24 | out[9] << 16 | out[10] << 8 | out[11], 77);
	for (int i = 12; i < 24; i++)
		cr_assert_eq(out[i], 0, "reserved octet %d of a parsed request", i);
	cr_assert_eq(memcmp(out + 24, m + 24, n - 24), 0, "opcode data and options copied");
}

Test(rfc6887_7_2, unparsed_request_keeps_last_96_bits_of_client_address)
{
	uint8_t m[1200], out[PCP_MAX_MSG];
	size_t n = 24;
	hdr(m, 99, 0);
	for (int i = 8; i < 24; i++)
		m[i] = (uint8_t)(0xc0 + i);
	size_t len = pcp_build_error(m, n, PCP_RES_UNSUPP_OPCODE, 1800, 5, false, out);
	cr_assert_eq(len, 24);
	for (int i = 12; i < 24; i++)
		cr_assert_eq(out[i], 0xc0 + i);
}

Test(rfc6887_8_2, error_response_truncated_to_1100_and_padded)
{
	uint8_t m[1200], out[PCP_MAX_MSG];
	hdr(m, PCP_OP_ANNOUNCE, 0);
	memset(m + 24, 0x33, 1200 - 24);
	cr_assert_eq(pcp_build_error(m, 1200, PCP_RES_MALFORMED_REQUEST, 1, 2, false, out), 1100);
	cr_assert_eq(out[1099], 0x33);
	cr_assert_eq(pcp_build_error(m, 27, PCP_RES_MALFORMED_REQUEST, 1, 2, false, out), 28);
	cr_assert_eq(out[27], 0, "zero-padded");
	cr_assert_eq(out[26], 0x33);
	cr_assert_eq(pcp_build_error(m, 2, PCP_RES_UNSUPP_VERSION, 1, 2, false, out), 24, "at least a header");
}

Test(rfc6887_9, unsupp_version_response_carries_version_2)
{
	uint8_t m[1200], out[PCP_MAX_MSG];
	hdr(m, PCP_OP_MAP, 0);
	m[0] = 7;
	pcp_build_error(m, 60, PCP_RES_UNSUPP_VERSION, 1800, 0, false, out);
	cr_assert_eq(out[0], 2);
}

/* ---- building and round trips ---- */

Test(codec, map_request_round_trip)
{
	uint8_t buf[PCP_MAX_MSG], r;
	struct pcp_request in = { .version = 2, .opcode = PCP_OP_MAP, .lifetime = 7200 };
	cgn_addr_parse("100.64.0.5", &in.client_addr);
	memset(in.u.map.nonce, 0x42, 12);
	in.u.map.protocol = 6;
	in.u.map.internal_port = 22;
	in.u.map.external_port = 2222;
	cgn_addr_parse("203.0.113.1", &in.u.map.external_addr);
	struct cgn_addr tp;
	cgn_addr_parse("100.64.0.9", &tp);
	struct pcp_filter f = { .prefix_len = 120, .remote_port = 443 };
	cgn_addr_parse("198.51.100.0", &f.remote_addr);
	uint8_t fb[PCP_FILTER_LEN];
	pcp_filter_encode(&f, fb);
	pcp_request_add_option(&in, PCP_OPT_THIRD_PARTY, tp.b, 16);
	pcp_request_add_option(&in, PCP_OPT_FILTER, fb, sizeof(fb));
	pcp_request_add_option(&in, PCP_OPT_DESCRIPTION, "ssh", 3);

	ssize_t n = pcp_build_request(&in, buf, sizeof(buf));
	cr_assert_eq(n, 24 + 36 + 20 + 24 + 8);
	cr_assert_eq(parse(buf, (size_t)n, &r), PCP_VERDICT_OK);
	cr_assert_eq(req.lifetime, 7200);
	cr_assert(cgn_addr_eq(&req.client_addr, &in.client_addr));
	cr_assert_eq(memcmp(&req.u.map, &in.u.map, sizeof(in.u.map)), 0);
	cr_assert_eq(req.n_options, 3);
	struct cgn_addr tp2;
	pcp_option_third_party(&req.options[0], &tp2);
	cr_assert(cgn_addr_eq(&tp, &tp2));
	struct pcp_filter f2;
	pcp_option_filter(&req.options[1], &f2);
	cr_assert_eq(f2.prefix_len, 120);
	cr_assert_eq(f2.remote_port, 443);
	cr_assert(cgn_addr_eq(&f2.remote_addr, &f.remote_addr));
}

Test(codec, peer_response_round_trip)
{
	uint8_t buf[PCP_MAX_MSG];
	static struct pcp_response out;
	memset(&out, 0, sizeof(out));
	out.opcode = PCP_OP_PEER;
	out.result = PCP_RES_SUCCESS;
	out.lifetime = 300;
	out.epoch = 1234;
	out.u.peer.map.protocol = 17;
	out.u.peer.map.internal_port = 5000;
	out.u.peer.map.external_port = 6000;
	cgn_addr_parse("203.0.113.2", &out.u.peer.map.external_addr);
	out.u.peer.remote_port = 53;
	cgn_addr_parse("198.51.100.53", &out.u.peer.remote_addr);
	pcp_response_add_option(&out, PCP_OPT_CHECKPOINT_REQUIRED, NULL, 0);

	ssize_t n = pcp_build_response(&out, buf, sizeof(buf));
	cr_assert_eq(n, 24 + 56 + 4);
	cr_assert_eq(buf[0], 2);
	cr_assert_eq(buf[1], 0x80 | PCP_OP_PEER);
	cr_assert_eq(pcp_parse_response(buf, (size_t)n, &resp), PCP_VERDICT_OK);
	cr_assert_eq(resp.lifetime, 300);
	cr_assert_eq(resp.epoch, 1234);
	cr_assert_eq(memcmp(&resp.u.peer, &out.u.peer, sizeof(out.u.peer)), 0);
	cr_assert_eq(resp.n_options, 1);
	cr_assert_eq(resp.options[0].code, PCP_OPT_CHECKPOINT_REQUIRED);
}

Test(rfc6887_7_3, response_over_1100_octets_is_refused)
{
	uint8_t buf[PCP_MAX_MSG], big[1016] = { 0 };
	static struct pcp_response out;
	memset(&out, 0, sizeof(out));
	out.opcode = PCP_OP_MAP;
	pcp_response_add_option(&out, PCP_OPT_DESCRIPTION, big, sizeof(big));
	cr_assert_eq(pcp_build_response(&out, buf, sizeof(buf)), 24 + 36 + 4 + 1016);
	pcp_response_add_option(&out, PCP_OPT_THIRD_PARTY, big, 16);
	cr_assert_eq(pcp_build_response(&out, buf, sizeof(buf)), 1100, "exactly the maximum");
	pcp_response_add_option(&out, PCP_OPT_PREFER_FAILURE, NULL, 0);
	cr_assert_eq(pcp_build_response(&out, buf, sizeof(buf)), -EMSGSIZE);
}

Test(rfc6887_8_3, client_side_response_checks)
{
	uint8_t buf[PCP_MAX_MSG] = { 2, 0x80 | PCP_OP_ANNOUNCE, 0, 0 };
	cr_assert_eq(pcp_parse_response(buf, 3, &resp), PCP_VERDICT_DROP, "< 4 octets");
	buf[1] = PCP_OP_ANNOUNCE;
	cr_assert_eq(pcp_parse_response(buf, 24, &resp), PCP_VERDICT_DROP, "R bit clear");
	buf[1] = 0x80 | PCP_OP_ANNOUNCE;
	cr_assert_eq(pcp_parse_response(buf, 24, &resp), PCP_VERDICT_OK);
	cr_assert_eq(pcp_parse_response(buf, 20, &resp), PCP_VERDICT_DROP, "< 24 octets");
	cr_assert_eq(pcp_parse_response(buf, 26, &resp), PCP_VERDICT_DROP, "not a multiple of 4");
	buf[3] = PCP_RES_UNSUPP_VERSION;
	buf[0] = 0; /* a NAT-PMP server's answer */
	cr_assert_eq(pcp_parse_response(buf, 8, &resp), PCP_VERDICT_OK, "UNSUPP_VERSION of any length");
	cr_assert_eq(resp.version, 0);
}

Test(rfc6887_8_3, error_copy_of_a_malformed_request_is_still_read)
{
	uint8_t m[1200], out[PCP_MAX_MSG], r;
	size_t n = hdr(m, PCP_OP_MAP, 100);
	m[n] = PCP_OPT_THIRD_PARTY;
	m[n + 3] = 200; /* longer than the message */
	n += 4;
	cr_assert_eq(parse(m, n, &r), PCP_VERDICT_ERROR);
	size_t len = pcp_build_error(m, n, r, 1800, 3, false, out);
	cr_assert_eq(pcp_parse_response(out, len, &resp), PCP_VERDICT_OK);
	cr_assert_eq(resp.result, PCP_RES_MALFORMED_OPTION);
	cr_assert_eq(resp.n_options, 0);
	cr_assert(resp.has_opcode_data);
	/* and a MAP cut short: only the header */
	len = pcp_build_error(m, 28, PCP_RES_MALFORMED_REQUEST, 1800, 3, false, out);
	cr_assert_eq(pcp_parse_response(out, len, &resp), PCP_VERDICT_OK);
	cr_assert_not(resp.has_opcode_data);
	/* a success response with broken options is not trusted */
	out[3] = PCP_RES_SUCCESS;
	len = pcp_build_error(m, n, r, 1800, 3, false, out);
	out[3] = 0;
	cr_assert_eq(pcp_parse_response(out, len, &resp), PCP_VERDICT_DROP);
}

Test(codec, port_set_option)
{
	uint8_t b[PCP_PORT_SET_LEN];
	struct pcp_port_set ps = { .size = 64, .first_internal_port = 5000, .parity = true }, out;
	pcp_port_set_encode(&ps, b);
	struct pcp_option o = { .code = PCP_OPT_PORT_SET, .len = 5, .data = b };
	pcp_option_port_set(&o, &out);
	cr_assert_eq(out.size, 64);
	cr_assert_eq(out.first_internal_port, 5000);
	cr_assert(out.parity);
	/* RFC 7753 §4: "Reserved: MUST be set to zero when sending; MUST be ignored when receiving." */
	cr_assert_eq(b[4], 1, "only P sent");
	b[4] = 0xfe;
	pcp_option_port_set(&o, &out);
	cr_assert(!out.parity, "reserved bits ignored");
	cr_assert_eq(out.size, 64);
}

/* ---- PREFIX64 (RFC 7225 §4.1) ---- */

static struct cgn_prefix
pfx(const char *text)
{
	struct cgn_prefix p;
	cr_assert_eq(cgn_prefix_parse(text, &p), 0, "%s", text);
	return p;
}

/* The notes' example (pcp-extensions-notes.md §3.1): 64:ff9b::/96 with {192.0.2.0/24}. */
Test(rfc7225_4_1, encode_wkp_with_one_ipv4_prefix)
{
	static const uint8_t want[] = { 0x00, 0x0c, 0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0,
					0x00, 0x01, 0x00, 0x18, 0xc0, 0x00, 0x02, 0x00 };
	struct cgn_prefix p = pfx("64:ff9b::/96"), v4 = pfx("192.0.2.0/24");
	uint8_t out[64];
	cr_assert_eq(pcp_prefix64_encode(&p, &v4, 1, true, out, sizeof(out)), (ssize_t)sizeof(want));
	cr_assert_arr_eq(out, want, sizeof(want));
}

/* Figure 1: a /56 takes 7 octets of Prefix64 and 5 of (null) Suffix; no list, 14 octets. */
Test(rfc7225_4_1, encode_nsp_56_without_list)
{
	static const uint8_t want[] = { 0x00, 0x07, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x22, 0x03, 0, 0, 0, 0, 0 };
	struct cgn_prefix p = pfx("2001:db8:122:300::/56");
	uint8_t out[64];
	cr_assert_eq(pcp_prefix64_encode(&p, NULL, 0, false, out, sizeof(out)), 14);
	cr_assert_arr_eq(out, want, sizeof(want));
	cr_assert_eq(pcp_prefix64_encode(&p, NULL, 0, false, out, 13), -EMSGSIZE);
	struct cgn_prefix bad = pfx("2001:db8::/33");
	cr_assert_eq(pcp_prefix64_encode(&bad, NULL, 0, false, out, sizeof(out)), -EINVAL);
	struct cgn_prefix v6 = pfx("2001:db8::/48");
	cr_assert_eq(pcp_prefix64_encode(&p, &v6, 1, true, out, sizeof(out)), -EINVAL);
}

Test(rfc7225_4_1, decode_round_trip_with_list)
{
	struct cgn_prefix p = pfx("2001:db8:122::/48"), v4[2] = { pfx("198.51.100.0/24"), pfx("0.0.0.0/0") };
	uint8_t data[64];
	ssize_t n = pcp_prefix64_encode(&p, v4, 2, true, data, sizeof(data));
	cr_assert_eq(n, 16 + 12);
	struct pcp_option opt = { PCP_OPT_PREFIX64, (uint16_t)n, data, NULL };
	struct pcp_prefix64 d;
	cr_assert_eq(pcp_option_prefix64(&opt, &d), 0);
	cr_assert_eq(d.pref64.len, 48);
	cr_assert(cgn_addr_eq(&d.pref64.addr, &p.addr));
	cr_assert(d.has_list);
	cr_assert_eq(d.n_v4, 2);
	struct cgn_prefix got;
	cr_assert_eq(pcp_prefix64_v4(&d, 0, &got), 0);
	cr_assert(got.len == v4[0].len && cgn_addr_eq(&got.addr, &v4[0].addr));
	cr_assert_eq(pcp_prefix64_v4(&d, 1, &got), 0);
	cr_assert(got.len == 96 && cgn_addr_eq(&got.addr, &v4[1].addr));
	cr_assert_eq(pcp_prefix64_v4(&d, 2, &got), -EINVAL);
}

/* §4.3: a client's request carries ::/96; with or without a zero IPv4 Prefix Count. */
Test(rfc7225_4_3, decode_client_request_forms)
{
	uint8_t data[16] = { 0x00, 0x0c };
	struct pcp_prefix64 d;
	struct pcp_option opt = { PCP_OPT_PREFIX64, 14, data, NULL };
	cr_assert_eq(pcp_option_prefix64(&opt, &d), 0);
	cr_assert(!d.has_list && d.pref64.len == 96 && cgn_addr_is_unspecified(&d.pref64.addr));
	opt.len = 16;
	cr_assert_eq(pcp_option_prefix64(&opt, &d), 0);
	cr_assert(d.has_list && d.n_v4 == 0);
}

Test(rfc7225_4_1, decode_refuses_bad_layouts)
{
	uint8_t data[32] = { 0x00, 0x0c };
	struct pcp_prefix64 d;
	struct pcp_option opt = { PCP_OPT_PREFIX64, 13, data, NULL };
	cr_assert_eq(pcp_option_prefix64(&opt, &d), -EINVAL, "shorter than 14");
	opt.len = 15;
	cr_assert_eq(pcp_option_prefix64(&opt, &d), -EINVAL, "a count cut short");
	opt.len = 16;
	data[15] = 1; /* count 1, no entry */
	cr_assert_eq(pcp_option_prefix64(&opt, &d), -EINVAL, "count beyond the data");
	opt.len = 22;
	cr_assert_eq(pcp_option_prefix64(&opt, &d), 0);
	data[17] = 33;
	cr_assert_eq(pcp_prefix64_v4(&d, 0, &(struct cgn_prefix){ 0 }), -EINVAL, "IPv4 length 33");
	data[17] = 8;
	data[21] = 1; /* 0.0.0.1/8: host bits */
	cr_assert_eq(pcp_prefix64_v4(&d, 0, &(struct cgn_prefix){ 0 }), -EINVAL, "host bits");
	static const unsigned bad_len[] = { 0, 3, 9, 10, 11, 13, 16 };
	opt.len = 14;
	for (unsigned i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
		data[1] = (uint8_t)bad_len[i];
		cr_assert_eq(pcp_option_prefix64(&opt, &d), -EINVAL, "Prefix64 Length %u", bad_len[i]);
	}
	static const unsigned good_len[] = { 4, 5, 6, 7, 8, 12 };
	for (unsigned i = 0; i < 6; i++) {
		data[1] = (uint8_t)good_len[i];
		cr_assert_eq(pcp_option_prefix64(&opt, &d), 0, "Prefix64 Length %u", good_len[i]);
		cr_assert_eq(d.pref64.len, good_len[i] * 8);
	}
}
