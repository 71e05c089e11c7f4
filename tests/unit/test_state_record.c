/*
 * The state store's record codec (control/state_record.c): round trips of every field, and
 * garbage: truncations, another format, lengths that lie, random octets.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcp_server_int.h"
#include "state_record.h"

static struct pcp_mapping_rec
sample_mapping(void)
{
	struct pcp_mapping_rec r;
	memset(&r, 0, sizeof(r));
	cgn_addr_parse("2001:db8::7", &r.in.addr);
	r.in.port = 8080;
	r.in.proto = 17;
	r.ext_addr = htonl(0xcb007105);
	r.ext_port = 40001;
	r.flags = CGN_MAP_EXPLICIT | CGN_MAP_FILTERED | CGN_MAP_THIRD_PARTY | CGN_MAP_PEER;
	for (int i = 0; i < PCP_NONCE_LEN; i++)
		r.nonce[i] = (uint8_t)(i * 7 + 1);
	r.lifetime_s = 3600;
	r.expire_ms = 5000000;
	r.peer_expire_ms = 4000000;
	r.created_ms = 1000;
	cgn_addr_parse("2001:db8::1", &r.client);
	r.client_port = 5350;
	r.n_filters = 2;
	for (int i = 0; i < 2; i++) {
		cgn_addr_parse(i ? "192.0.2.0" : "198.51.100.1", &r.filters[i].addr);
		r.filters[i].prefix_len = (uint8_t)(96 + 24 + i);
		r.filters[i].port = (uint16_t)(80 + i);
		cgn_addr_parse(i ? "64:ff9b::c000:200" : "64:ff9b::c633:6401", &r.filters_sent[i].addr);
		r.filters_sent[i].prefix_len = (uint8_t)(96 + 24 + i);
		r.filters_sent[i].port = (uint16_t)(80 + i);
	}
	r.set_first = 8078;
	r.set_size = 4;
	static char text[] = "camera \xc3\xa9t\xc3\xa9";
	r.description = text;
	r.description_len = (uint16_t)strlen(text);
	r.has_description = true;
	return r;
}

Test(state_record, a_mapping_round_trips_with_every_field)
{
	struct pcp_mapping_rec r = sample_mapping(), d;
	struct cgn_state_map_extra x = { 0 }, dx;
	cgn_addr_parse("64:ff9b::", &x.pref64.addr);
	x.pref64.len = 96;
	uint8_t buf[CGN_STATE_REC_MAX];
	int64_t off = 1700000000000; /* realtime - monotonic */
	int n = cgn_state_map_encode(&r, &x, off, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(buf[0], CGN_STATE_MAPPING);
	cr_assert_eq(buf[1], CGN_STATE_FORMAT);
	/* Read back in another boot: the monotonic clock 3 s further, realtime the same. */
	cr_assert_eq(cgn_state_map_decode(buf, (size_t)n, off - 3000, &d, &dx), 0);
	cr_assert(cgn_addr_eq(&d.in.addr, &r.in.addr));
	cr_assert_eq(d.in.port, 8080);
	cr_assert_eq(d.in.proto, 17);
	cr_assert_eq(d.in.side, CGN_SIDE_INSIDE);
	cr_assert_eq(d.ext_addr, r.ext_addr);
	cr_assert_eq(d.ext_port, 40001);
	cr_assert_eq(d.flags, r.flags);
	cr_assert_arr_eq(d.nonce, r.nonce, PCP_NONCE_LEN);
	cr_assert_eq(d.lifetime_s, 3600);
	cr_assert_eq(d.expire_ms, r.expire_ms + 3000);
	cr_assert_eq(d.peer_expire_ms, r.peer_expire_ms + 3000);
	cr_assert_eq(d.created_ms, r.created_ms + 3000);
	cr_assert(cgn_addr_eq(&d.client, &r.client));
	cr_assert_eq(d.client_port, 5350);
	cr_assert_eq(d.n_filters, 2);
	cr_assert_arr_eq(d.filters, r.filters, sizeof(r.filters[0]) * 2);
	cr_assert_arr_eq(d.filters_sent, r.filters_sent, sizeof(r.filters_sent[0]) * 2);
	cr_assert_eq(d.set_first, 8078);
	cr_assert_eq(d.set_size, 4);
	cr_assert(d.has_description);
	cr_assert_eq(d.description_len, r.description_len);
	cr_assert_arr_eq(d.description, r.description, r.description_len);
	cr_assert_eq(dx.pref64.len, 96);
	cr_assert(cgn_addr_eq(&dx.pref64.addr, &x.pref64.addr));
	free(d.description);
}

Test(state_record, no_description_and_a_cleared_one)
{
	struct pcp_mapping_rec r = sample_mapping(), d;
	struct cgn_state_map_extra x = { 0 }, dx;
	uint8_t buf[CGN_STATE_REC_MAX];
	r.description = NULL;
	r.description_len = 0;
	for (int has = 0; has < 2; has++) {
		r.has_description = has;
		int n = cgn_state_map_encode(&r, &x, 0, buf, sizeof(buf));
		cr_assert_eq(cgn_state_map_decode(buf, (size_t)n, 0, &d, &dx), 0);
		cr_assert_eq(d.has_description, has);
		cr_assert_null(d.description);
		cr_assert_eq(d.description_len, 0);
	}
}

Test(state_record, a_peer_session_round_trips)
{
	struct peer_key pk, dk;
	struct pcp_peer_rec p, d;
	memset(&pk, 0, sizeof(pk));
	memset(&p, 0, sizeof(p));
	cgn_addr_parse("10.0.0.5", &pk.in.addr);
	pk.in.port = 5000;
	pk.in.proto = 6;
	cgn_addr_parse("198.51.100.1", &pk.remote);
	pk.remote_port = 80;
	cgn_addr_parse("64:ff9b::c633:6401", &p.remote_sent);
	memset(p.nonce, 0xab, PCP_NONCE_LEN);
	p.lifetime_s = 600;
	p.expire_ms = 900000;
	p.renewed_ms = 300000;
	char text[] = "ssh";
	p.description = text;
	p.description_len = 3;
	p.has_description = true;
	uint8_t buf[CGN_STATE_REC_MAX];
	int n = cgn_state_peer_encode(&pk, &p, 100, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_eq(cgn_state_peer_decode(buf, (size_t)n, 100, &dk, &d), 0);
	cr_assert_arr_eq(&dk, &pk, sizeof(pk), "the key, byte for byte (it is a hash key)");
	cr_assert(cgn_addr_eq(&d.remote_sent, &p.remote_sent));
	cr_assert_arr_eq(d.nonce, p.nonce, PCP_NONCE_LEN);
	cr_assert_eq(d.lifetime_s, 600);
	cr_assert_eq(d.expire_ms, 900000);
	cr_assert_eq(d.renewed_ms, 300000);
	cr_assert_eq(d.description_len, 3);
	cr_assert_str_eq(d.description, "ssh");
	free(d.description);
}

Test(state_record, meta_round_trips_and_the_fingerprint_follows_the_pool)
{
	struct cgn_state_meta m = { CGN_STATE_FORMAT, 1700000000123, 1700000005000, 0x1122334455667788ull }, d;
	uint8_t buf[64];
	int n = cgn_state_meta_encode(&m, buf, sizeof(buf));
	cr_assert_eq(cgn_state_meta_decode(buf, (size_t)n, &d), 0);
	cr_assert_eq(d.epoch_start_rt, m.epoch_start_rt);
	cr_assert_eq(d.saved_rt, m.saved_rt);
	cr_assert_eq(d.pool_fingerprint, m.pool_fingerprint);
	buf[1] = CGN_STATE_FORMAT + 1;
	cr_assert_eq(cgn_state_meta_decode(buf, (size_t)n, &d), -EPROTO);
	cr_assert_eq(d.format, CGN_STATE_FORMAT + 1);

	static struct cgn_config a, b;
	char err[256];
#define conf "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"10.0.0.0/8\" ]; };\n" \
		     "nat = { pool = [ \"%s\" ]; ports = \"%s\"; };\n"
	char text[512];
	snprintf(text, sizeof(text), conf, "203.0.113.0/30", "1024-65535");
	cr_assert_eq(cgn_config_load_string(text, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cgn_config_load_string(text, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cgn_state_pool_fingerprint(&a), cgn_state_pool_fingerprint(&b));
	snprintf(text, sizeof(text), conf, "203.0.113.4/30", "1024-65535");
	cr_assert_eq(cgn_config_load_string(text, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(cgn_state_pool_fingerprint(&a), cgn_state_pool_fingerprint(&b));
	snprintf(text, sizeof(text), conf, "203.0.113.0/30", "2048-65535");
	cr_assert_eq(cgn_config_load_string(text, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_neq(cgn_state_pool_fingerprint(&a), cgn_state_pool_fingerprint(&b));
}

Test(state_record, every_truncation_and_extension_is_refused)
{
	struct pcp_mapping_rec r = sample_mapping(), d;
	struct cgn_state_map_extra x = { 0 }, dx;
	uint8_t buf[CGN_STATE_REC_MAX];
	int n = cgn_state_map_encode(&r, &x, 0, buf, sizeof(buf));
	for (int len = 0; len < n; len++)
		cr_assert_eq(cgn_state_map_decode(buf, (size_t)len, 0, &d, &dx), -EINVAL, "%d octets", len);
	cr_assert_eq(cgn_state_map_decode(buf, (size_t)n + 1, 0, &d, &dx), -EINVAL);
	cr_assert_eq(cgn_state_record_check(CGN_STATE_MAPPING, buf, 8, buf, (size_t)n), 0);
	cr_assert_eq(cgn_state_record_check(CGN_STATE_MAPPING, buf, 7, buf, (size_t)n), -EINVAL, "the key length");
	cr_assert_eq(cgn_state_record_check(CGN_STATE_PEER, buf, 8, buf, (size_t)n), -EINVAL, "another kind");
	/* a short buffer to encode into */
	cr_assert_eq(cgn_state_map_encode(&r, &x, 0, buf, (size_t)n - 1), -ENOSPC);
}

Test(state_record, fields_out_of_their_bounds_are_refused)
{
	struct pcp_mapping_rec r = sample_mapping(), d;
	struct cgn_state_map_extra x = { 0 }, dx;
	uint8_t buf[CGN_STATE_REC_MAX], bad[CGN_STATE_REC_MAX];
	int n = cgn_state_map_encode(&r, &x, 0, buf, sizeof(buf));
	/* format */
	memcpy(bad, buf, (size_t)n);
	bad[1] = 9;
	cr_assert_eq(cgn_state_map_decode(bad, (size_t)n, 0, &d, &dx), -EPROTO);
	/* flags: STATIC is never stored (offset: kind, format, addr 16, port 2, proto 1, ext 4, port 2) */
	size_t flags_at = 2 + 16 + 2 + 1 + 4 + 2;
	memcpy(bad, buf, (size_t)n);
	bad[flags_at + 1] |= CGN_MAP_STATIC;
	cr_assert_eq(cgn_state_map_decode(bad, (size_t)n, 0, &d, &dx), -EINVAL);
	memcpy(bad, buf, (size_t)n);
	bad[flags_at] = 0;
	bad[flags_at + 1] = CGN_MAP_FILTERED; /* neither MAP, NAT-PMP nor PEER */
	cr_assert_eq(cgn_state_map_decode(bad, (size_t)n, 0, &d, &dx), -EINVAL);
	/* the description's length says more than there is, or less */
	memcpy(bad, buf, (size_t)n);
	size_t dl = (size_t)n - r.description_len - 2;
	bad[dl + 1] = (uint8_t)(bad[dl + 1] + 1);
	cr_assert_eq(cgn_state_map_decode(bad, (size_t)n, 0, &d, &dx), -EINVAL);
	bad[dl + 1] = (uint8_t)(bad[dl + 1] - 2);
	cr_assert_eq(cgn_state_map_decode(bad, (size_t)n, 0, &d, &dx), -EINVAL);
	/* too many filters */
	struct pcp_mapping_rec many = r;
	many.n_filters = CGN_MAP_FILTERS + 1;
	cr_assert_eq(cgn_state_map_encode(&many, &x, 0, buf, sizeof(buf)), -EINVAL);
	/* a port set that does not hold its own port */
	struct pcp_mapping_rec set = r;
	set.set_first = 9000;
	n = cgn_state_map_encode(&set, &x, 0, buf, sizeof(buf));
	cr_assert_eq(cgn_state_map_decode(buf, (size_t)n, 0, &d, &dx), -EINVAL);
}

/* What the server never stores does not decode either: another protocol, internal port 0, a
 * "set" of one port or one past port 65535, a DESCRIPTION that is not UTF-8 (RFC 7220 §3). */
Test(state_record, what_the_server_never_stores_is_refused)
{
	struct cgn_state_map_extra x = { 0 }, dx;
	struct pcp_mapping_rec d;
	uint8_t buf[CGN_STATE_REC_MAX];
	struct pcp_mapping_rec cases[5];
	for (int i = 0; i < 5; i++)
		cases[i] = sample_mapping();
	cases[0].in.proto = 1;
	cases[1].in.port = 0;
	cases[1].set_size = 0;
	cases[2].set_first = 8080;
	cases[2].set_size = 1;
	cases[3].in.port = 65535;
	cases[3].set_first = 65534;
	cases[3].set_size = 3;
	cases[3].ext_port = 60000;
	static char bad_text[] = "cam\xc3(era";
	cases[4].description = bad_text;
	cases[4].description_len = (uint16_t)strlen(bad_text);
	for (int i = 0; i < 5; i++) {
		int n = cgn_state_map_encode(&cases[i], &x, 0, buf, sizeof(buf));
		cr_assert_gt(n, 0, "case %d encodes", i);
		cr_assert_eq(cgn_state_map_decode(buf, (size_t)n, 0, &d, &dx), -EINVAL, "case %d", i);
		cr_assert_null(d.description, "case %d: nothing left allocated", i);
	}
	struct pcp_mapping_rec ok = sample_mapping();
	int n = cgn_state_map_encode(&ok, &x, 0, buf, sizeof(buf));
	cr_assert_eq(cgn_state_map_decode(buf, (size_t)n, 0, &d, &dx), 0, "the sample itself decodes");
	free(d.description);
}

Test(state_record, random_octets_never_decode_as_more_than_they_hold)
{
	uint8_t buf[CGN_STATE_REC_MAX + 8];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned ok = 0;
	for (int i = 0; i < 200000; i++) {
		size_t len = (size_t)(s % sizeof(buf));
		for (size_t k = 0; k < len; k++) {
			s ^= s << 13, s ^= s >> 7, s ^= s << 17;
			buf[k] = (uint8_t)s;
		}
		if (len > 1)
			buf[0] = (uint8_t)"mMP"[i % 3], buf[1] = CGN_STATE_FORMAT;
		struct pcp_mapping_rec d;
		struct cgn_state_map_extra dx;
		struct peer_key pk;
		struct pcp_peer_rec p;
		struct cgn_state_meta m;
		if (cgn_state_map_decode(buf, len, 0, &d, &dx) == 0) {
			ok++;
			cr_assert_leq(d.n_filters, CGN_MAP_FILTERS);
			free(d.description);
		}
		if (cgn_state_peer_decode(buf, len, 0, &pk, &p) == 0) {
			ok++;
			cr_assert_leq(p.description_len, CGN_STATE_DESC_MAX);
			free(p.description);
		}
		ok += cgn_state_meta_decode(buf, len, &m) == 0;
	}
	cr_assert_lt(ok, 1000, "random octets decoded %u times", ok);
}
