/*
 * NAT64 ICMP error translation (common/cgn_xlat_error.h; RFC 7915 §4.2/§4.3/§5.2/§5.3, RFC
 * 6146 §3.4/§3.7, RFC 4884):
 *   - scapy-built vectors (xlat_error_vectors.h, generated independently of the code) compared
 *     byte for byte, both ways: every quoted kind (UDP, TCP, echo), PTB / Fragmentation Needed
 *     MTUs (the MTU 0 plateau), Parameter Problem pointers, the 1280 / 576 cuts, quoted IPv4
 *     options, quoted extension and Fragment headers, RFC 4884 extensions;
 *   - every ICMP type and code both ways on packets built here, each translated one checked
 *     against the RFC's lists (numbers copied from the RFC text) and its checksums verified from
 *     scratch (outer, quoted IP header, quoted transport) with this file's own arithmetic;
 *   - every Parameter Problem pointer, the MTU arithmetic with the next hops;
 *   - each drop reason: nested error, bad checksums, another mapping's quoted packet, ...;
 *   - random mutations of every vector (bounded loop), with inputs and outputs in exact-size
 *     heap buffers so that the ASan build catches any read or write out of bounds.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_rfc6052.h"
#include "cgn_xlat_error.h"
#include "xlat_error_vectors.h"

#define DROP(r) (-(int)CGN_XLAT_ERR_##r)

/* The mapping of the vectors (make_xlat_error_vectors.py). */
static const uint8_t INT6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x10 };
#define INT_PORT 40000
#define EXT4 0xc0000201u   /* 192.0.2.1 */
#define EXT_PORT 1025
#define D4 0xc6336407u     /* 198.51.100.7 */
#define R4 0xcb0071feu     /* 203.0.113.254 */
static const uint8_t PREF[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0x64 };
static const uint8_t R6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 0x01 };
#define IP_ID 0x4242

static struct cgn_prefix pref64;

static void
setup(void)
{
	memcpy(pref64.addr.b, PREF, 16);
	pref64.len = 96;
}

static struct cgn_xlat_err46
x46(void)
{
	struct cgn_xlat_err46 x = { .pref64 = &pref64, .int_port = INT_PORT, .ext_addr = htonl(EXT4),
				    .ext_port = EXT_PORT, .mtu6_nexthop = 9000, .mtu4_nexthop = 9000 };
	memcpy(x.int_addr.b, INT6, 16);
	return x;
}

static struct cgn_xlat_err64
x64(void)
{
	struct cgn_xlat_err64 x = { .pref64 = &pref64, .int_port = INT_PORT, .ext_addr = htonl(EXT4),
				    .ext_port = EXT_PORT, .mtu4_nexthop = 9000, .mtu6_nexthop = 9000, .ip_id = IP_ID };
	memcpy(x.int_addr.b, INT6, 16);
	return x;
}

/* ---- this file's own checksum arithmetic (RFC 1071, big-endian words) ------------------- */

static uint32_t
sum_words(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t
fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The checksum to store (host order) over n octets with an initial sum. */
static uint16_t
ck(const uint8_t *p, size_t n, uint32_t init)
{
	return (uint16_t)~fold(sum_words(p, n, init));
}

static bool
verifies(const uint8_t *p, size_t n, uint32_t init)
{
	return fold(sum_words(p, n, init)) == 0xffff;
}

static uint32_t
pseudo4(const uint8_t *ip4, uint8_t proto, size_t len)
{
	return sum_words(ip4 + 12, 8, 0) + proto + (uint32_t)len;
}

static uint32_t
pseudo6(const uint8_t *ip6, uint8_t nh, size_t len)
{
	return sum_words(ip6 + 8, 32, 0) + nh + (uint32_t)(len >> 16) + (uint32_t)(len & 0xffff);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* ---- packet builders ------------------------------------------------------------------------- */

enum qk { QUDP = 17, QTCP = 6, QICMP = 1 };

/* A transport header + data at t (IPv4 or IPv6 quote), its checksum left zero; returns its
 * length. icmp_type: for QICMP; port_a/port_b: source/destination port (ICMP: port_a the id). */
static size_t
build_l4(uint8_t *t, enum qk k, uint8_t icmp_type, uint16_t port_a, uint16_t port_b, size_t data)
{
	size_t h = k == QTCP ? 20 : 8;
	memset(t, 0, h);
	if (k == QICMP) {
		t[0] = icmp_type;
		put16(t + 4, port_a);
		put16(t + 6, 3);
	} else {
		put16(t, port_a);
		put16(t + 2, port_b);
		if (k == QUDP)
			put16(t + 4, (uint16_t)(h + data));
		else {
			put32(t + 4, 0x11223344);
			t[12] = 0x50;
			t[13] = 0x12;
			put16(t + 14, 4000);
		}
	}
	for (size_t i = 0; i < data; i++)
		t[h + i] = (uint8_t)(i * 7 + 1);
	return h + data;
}

static size_t
l4_ck_off(enum qk k)
{
	return k == QTCP ? 16 : k == QUDP ? 6 : 2;
}

/* An IPv4 packet EXT:EXT_PORT -> D4:53 (or an ICMP with id EXT_PORT), checksums set. */
static size_t
build_quote4(uint8_t *b, enum qk k, uint8_t icmp_type, uint32_t src, uint16_t sport, size_t data)
{
	size_t n = build_l4(b + 20, k, icmp_type, sport, 53, data);
	memset(b, 0, 20);
	b[0] = 0x45;
	b[1] = 0x10;
	put16(b + 2, (uint16_t)(20 + n));
	put16(b + 4, 0x77);
	b[8] = 61;
	b[9] = (uint8_t)k;
	put32(b + 12, src);
	put32(b + 16, D4);
	put16(b + 10, ck(b, 20, 0));
	put16(b + 20 + l4_ck_off(k), ck(b + 20, n, k == QICMP ? 0 : pseudo4(b, (uint8_t)k, n)));
	return 20 + n;
}

/* An ICMPv4 error R4 -> EXT with the rest of header and the quote; checksums set. */
static size_t
build_err4(uint8_t *b, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q, size_t qlen)
{
	memset(b, 0, 28);
	b[0] = 0x45;
	put16(b + 2, (uint16_t)(28 + qlen));
	b[8] = 64;
	b[9] = 1;
	put32(b + 12, R4);
	put32(b + 16, EXT4);
	put16(b + 10, ck(b, 20, 0));
	b[20] = type;
	b[21] = code;
	put32(b + 24, rest);
	memcpy(b + 28, q, qlen);
	put16(b + 22, ck(b + 20, 8 + qlen, 0));
	return 28 + qlen;
}

static void
d6(uint8_t *a)
{
	memcpy(a, PREF, 16);
	put32(a + 12, D4);
}

/* An IPv6 packet D6:53 -> INT6:INT_PORT (or an ICMPv6 with id INT_PORT), checksum set. */
static size_t
build_quote6(uint8_t *b, enum qk k, uint8_t icmp_type, const uint8_t *dst, uint16_t dport, size_t data)
{
	uint8_t nh = k == QICMP ? 58 : (uint8_t)k;
	size_t n = k == QICMP ? build_l4(b + 40, k, icmp_type, dport, 0, data) : build_l4(b + 40, k, 0, 53, dport, data);
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)n);
	b[6] = nh;
	b[7] = 57;
	d6(b + 8);
	memcpy(b + 24, dst, 16);
	put16(b + 40 + l4_ck_off(k), ck(b + 40, n, pseudo6(b, nh, n)));
	return 40 + n;
}

/* An ICMPv6 error R6 -> D6 with the rest of header and the quote; checksum set. */
static size_t
build_err6(uint8_t *b, uint8_t type, uint8_t code, uint32_t rest, const uint8_t *q, size_t qlen)
{
	memset(b, 0, 48);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)(8 + qlen));
	b[6] = 58;
	b[7] = 64;
	memcpy(b + 8, R6, 16);
	d6(b + 24);
	b[40] = type;
	b[41] = code;
	put32(b + 44, rest);
	memcpy(b + 48, q, qlen);
	put16(b + 42, ck(b + 40, 8 + qlen, pseudo6(b, 58, 8 + qlen)));
	return 48 + qlen;
}

/* Recomputes the ICMPv6 checksum of an IPv6 packet with ICMPv6 right after its header. */
static void
refix6(uint8_t *b, size_t len)
{
	if (len < 48 || b[6] != 58)
		return;
	size_t n = len - 40;
	b[42] = b[43] = 0;
	put16(b + 42, ck(b + 40, n, pseudo6(b, 58, n)));
}

static void
refix4(uint8_t *b, size_t len)
{
	if (len < 20)
		return;
	size_t ihl = (size_t)(b[0] & 15) * 4;
	if (ihl < 20 || ihl > len)
		return;
	b[10] = b[11] = 0;
	put16(b + 10, ck(b, ihl, 0));
	if (len >= ihl + 8) {
		b[ihl + 2] = b[ihl + 3] = 0;
		put16(b + ihl + 2, ck(b + ihl, len - ihl, 0));
	}
}

/* ---- output checks from scratch ---------------------------------------------------------- */

/* A 4->6 result: IPv6 header, ICMPv6 checksum over the pseudo-header, the payload length. */
static void
check_out6(const uint8_t *o, size_t n)
{
	cr_assert_geq(n, 48u);
	cr_assert_leq(n, 1280u);
	cr_assert_eq(o[0] >> 4, 6);
	cr_assert_eq(get16(o + 4), n - 40, "payload length");
	cr_assert_eq(o[6], 58);
	cr_assert(verifies(o + 40, n - 40, pseudo6(o, 58, n - 40)), "ICMPv6 checksum");
}

/* A 6->4 result: IPv4 header checksum and length, ICMPv4 checksum. */
static void
check_out4(const uint8_t *o, size_t n)
{
	cr_assert_geq(n, 28u);
	cr_assert_leq(n, 576u);
	cr_assert_eq(o[0], 0x45);
	cr_assert_eq(get16(o + 2), n, "total length");
	cr_assert(verifies(o, 20, 0), "IPv4 header checksum");
	cr_assert_eq(o[9], 1);
	cr_assert(verifies(o + 20, n - 20, 0), "ICMPv4 checksum");
}

/* The quoted IPv6 packet of a 4->6 result, complete: its transport checksum from scratch. */
static void
check_quote6_complete(const uint8_t *o, size_t n)
{
	const uint8_t *q = o + 48;
	size_t plen = get16(q + 4);
	cr_assert_eq(48 + 40 + plen, n, "the whole quote was carried");
	cr_assert(memcmp(q + 8, INT6, 16) == 0);
	uint8_t d[16];
	d6(d);
	cr_assert(memcmp(q + 24, d, 16) == 0);
	cr_assert(verifies(q + 40, plen, pseudo6(q, q[6], plen)), "quoted transport checksum");
}

/* The quoted IPv4 packet of a 6->4 result, complete: header and transport checksums. */
static void
check_quote4_complete(const uint8_t *o, size_t n)
{
	const uint8_t *q = o + 28;
	size_t tot = get16(q + 2);
	cr_assert_eq(28 + tot, n, "the whole quote was carried");
	cr_assert(verifies(q, 20, 0), "quoted IPv4 header checksum");
	cr_assert_eq(get32(q + 12), D4);
	cr_assert_eq(get32(q + 16), EXT4);
	uint32_t init = q[9] == 1 ? 0 : pseudo4(q, q[9], tot - 20);
	cr_assert(verifies(q + 20, tot - 20, init), "quoted transport checksum");
}

/* ---- the scapy vectors --------------------------------------------------------------------- */

static int
run_vec(const struct xlat_error_vector *v, uint8_t *out, size_t cap, size_t *out_len)
{
	if (v->direction == 46) {
		struct cgn_xlat_err46 x = x46();
		return cgn_xlat_error_4to6(v->in, v->in_len, &x, out, cap, out_len);
	}
	struct cgn_xlat_err64 x = x64();
	return cgn_xlat_error_6to4(v->in, v->in_len, &x, out, cap, out_len);
}

Test(xlat_error, scapy_vectors, .init = setup)
{
	for (size_t i = 0; i < sizeof(xlat_error_vectors) / sizeof(xlat_error_vectors[0]); i++) {
		const struct xlat_error_vector *v = &xlat_error_vectors[i];
		uint8_t out[2048];
		size_t n = 0;
		int rc = run_vec(v, out, sizeof(out), &n);
		cr_assert_eq(rc, 0, "%s: %s", v->name, cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)-rc));
		cr_assert_eq(n, v->out_len, "%s: length %zu, expected %zu", v->name, n, v->out_len);
		for (size_t j = 0; j < n; j++)
			cr_assert_eq(out[j], v->out[j], "%s: octet %zu is 0x%02x, expected 0x%02x", v->name, j, out[j],
				     v->out[j]);
		if (v->direction == 46)
			check_out6(out, n);
		else
			check_out4(out, n);
	}
}

/* ---- every type and code, both ways ---------------------------------------------------------- */

struct row {
	int type, code; /* code -1: any */
	int otype, ocode; /* ocode -1: the same code */
};

/* RFC 7915 §4.2, the errors it translates (Echo is a query: NOT_ERROR here). */
static const struct row rows46[] = {
	{ 3, 0, 1, 0 }, { 3, 1, 1, 0 }, { 3, 2, 4, 1 }, { 3, 3, 1, 4 }, { 3, 4, 2, 0 }, { 3, 5, 1, 0 },
	{ 3, 6, 1, 0 }, { 3, 7, 1, 0 }, { 3, 8, 1, 0 }, { 3, 9, 1, 1 }, { 3, 10, 1, 1 }, { 3, 11, 1, 0 },
	{ 3, 12, 1, 0 }, { 3, 13, 1, 1 }, { 3, 15, 1, 1 }, { 11, -1, 3, -1 }, { 12, 0, 4, 0 }, { 12, 2, 4, 0 },
};

/* RFC 7915 §5.2. */
static const struct row rows64[] = {
	{ 1, 0, 3, 1 }, { 1, 1, 3, 10 }, { 1, 2, 3, 1 }, { 1, 3, 3, 1 }, { 1, 4, 3, 3 },
	{ 2, -1, 3, 4 }, { 3, -1, 11, -1 }, { 4, 0, 12, 0 }, { 4, 1, 3, 2 },
};

static const struct row *
find_row(const struct row *rows, size_t n, int type, int code)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].type == type && (rows[i].code == -1 || rows[i].code == code))
			return &rows[i];
	return NULL;
}

static const enum qk kinds[] = { QUDP, QTCP, QICMP };

Test(xlat_error, every_type_code_4to6, .init = setup)
{
	struct cgn_xlat_err46 x = x46();
	uint8_t q[256], in[512], out[1280];

	for (size_t ki = 0; ki < 3; ki++) {
		size_t qlen = build_quote4(q, kinds[ki], 8, EXT4, EXT_PORT, 33);
		for (int type = 0; type < 256; type++) {
			for (int code = 0; code < 256; code++) {
				/* The rest: an MTU of 1400 for 3/4; pointer 0 for 12. */
				uint32_t rest = type == 3 && code == 4 ? 1400 : 0;
				size_t n = build_err4(in, (uint8_t)type, (uint8_t)code, rest, q, qlen), on = 0;
				int rc = cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on);
				const struct row *r = find_row(rows46, sizeof(rows46) / sizeof(rows46[0]), type, code);
				if (r == NULL) {
					cr_assert_lt(rc, 0, "ICMPv4 %d/%d must be dropped", type, code);
					if (type == 0 || type == 8)
						cr_assert_eq(rc, DROP(NOT_ERROR));
					continue;
				}
				cr_assert_eq(rc, 0, "ICMPv4 %d/%d: %s", type, code,
					     cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)-rc));
				cr_assert_eq(out[40], r->otype, "%d/%d", type, code);
				cr_assert_eq(out[41], r->ocode == -1 ? code : r->ocode, "%d/%d", type, code);
				check_out6(out, on);
				check_quote6_complete(out, on);
				/* Outer addresses, hop limit. */
				cr_assert_eq(out[7], 63);
				cr_assert(memcmp(out + 24, INT6, 16) == 0);
				cr_assert(memcmp(out + 8, PREF, 12) == 0 && get32(out + 20) == R4);
				/* The quoted transport: port / identifier back to INT_PORT; echo 8 -> 128. */
				const uint8_t *l4 = out + 48 + 40;
				if (kinds[ki] == QICMP) {
					cr_assert_eq(l4[0], 128);
					cr_assert_eq(get16(l4 + 4), INT_PORT);
				} else {
					cr_assert_eq(get16(l4), INT_PORT);
					cr_assert_eq(get16(l4 + 2), 53);
				}
				uint32_t rest6 = get32(out + 44);
				if (r->otype == 2)
					cr_assert_eq(rest6, 1420u);
				else if (r->otype == 4)
					cr_assert_eq(rest6, type == 3 ? 6u : 0u);
				else
					cr_assert_eq(rest6, 0u);
			}
		}
	}
}

Test(xlat_error, every_type_code_6to4, .init = setup)
{
	struct cgn_xlat_err64 x = x64();
	uint8_t q[256], in[512], out[576];

	for (size_t ki = 0; ki < 3; ki++) {
		size_t qlen = build_quote6(q, kinds[ki], 128, INT6, INT_PORT, 33);
		for (int type = 0; type < 256; type++) {
			for (int code = 0; code < 256; code++) {
				uint32_t rest = type == 2 ? 1400 : 0;
				size_t n = build_err6(in, (uint8_t)type, (uint8_t)code, rest, q, qlen), on = 0;
				int rc = cgn_xlat_error_6to4(in, n, &x, out, sizeof(out), &on);
				const struct row *r = find_row(rows64, sizeof(rows64) / sizeof(rows64[0]), type, code);
				if (r == NULL) {
					cr_assert_lt(rc, 0, "ICMPv6 %d/%d must be dropped", type, code);
					if (type == 128 || type == 129)
						cr_assert_eq(rc, DROP(NOT_ERROR));
					continue;
				}
				cr_assert_eq(rc, 0, "ICMPv6 %d/%d: %s", type, code,
					     cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)-rc));
				cr_assert_eq(out[20], r->otype, "%d/%d", type, code);
				cr_assert_eq(out[21], r->ocode == -1 ? code : r->ocode, "%d/%d", type, code);
				check_out4(out, on);
				check_quote4_complete(out, on);
				cr_assert_eq(out[8], 63);
				cr_assert_eq(get16(out + 4), IP_ID);
				cr_assert_eq(get32(out + 12), EXT4);
				cr_assert_eq(get32(out + 16), D4);
				const uint8_t *l4 = out + 28 + 20;
				if (kinds[ki] == QICMP) {
					cr_assert_eq(l4[0], 8);
					cr_assert_eq(get16(l4 + 4), EXT_PORT);
				} else {
					cr_assert_eq(get16(l4 + 2), EXT_PORT);
					cr_assert_eq(get16(l4), 53);
				}
				uint32_t rest4 = get32(out + 24);
				cr_assert_eq(rest4, r->otype == 3 && r->ocode == 4 ? 1380u : 0u, "%d/%d", type, code);
			}
		}
	}
}

/* ---- Parameter Problem pointers (Figures 3 and 6) ------------------------------------------- */

Test(xlat_error, pointers_4to6, .init = setup)
{
	/* Figure 3, -1 for "n/a"; 20 and above not listed. */
	static const int fig3[20] = { 0, 1, 4, 4, -1, -1, -1, -1, 7, 6, -1, -1, 8, 8, 8, 8, 24, 24, 24, 24 };
	struct cgn_xlat_err46 x = x46();
	uint8_t q[128], in[256], out[1280];
	size_t qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 4);

	for (int code = 0; code <= 2; code += 2) {
		for (int p = 0; p < 256; p++) {
			size_t n = build_err4(in, 12, (uint8_t)code, (uint32_t)p << 24, q, qlen), on;
			int rc = cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on);
			int want = p < 20 ? fig3[p] : -1;
			if (want < 0) {
				cr_assert_eq(rc, DROP(POINTER), "pointer %d", p);
				continue;
			}
			cr_assert_eq(rc, 0, "pointer %d", p);
			cr_assert_eq(out[40], 4);
			cr_assert_eq(out[41], 0);
			cr_assert_eq(get32(out + 44), (uint32_t)want, "pointer %d", p);
			check_out6(out, on);
		}
	}
}

Test(xlat_error, pointers_6to4, .init = setup)
{
	struct cgn_xlat_err64 x = x64();
	uint8_t q[128], in[256], out[576];
	size_t qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 4);

	for (uint32_t p = 0; p < 300; p++) {
		int want;
		if (p == 0 || p == 1)
			want = (int)p;
		else if (p == 4 || p == 5)
			want = 2;
		else if (p == 6)
			want = 9;
		else if (p == 7)
			want = 8;
		else if (p >= 8 && p <= 23)
			want = 12;
		else if (p >= 24 && p <= 39)
			want = 16;
		else
			want = -1;
		size_t n = build_err6(in, 4, 0, p, q, qlen), on;
		int rc = cgn_xlat_error_6to4(in, n, &x, out, sizeof(out), &on);
		if (want < 0) {
			cr_assert_eq(rc, DROP(POINTER), "pointer %u", p);
			continue;
		}
		cr_assert_eq(rc, 0, "pointer %u", p);
		cr_assert_eq(out[20], 12);
		cr_assert_eq(out[24], want, "pointer %u", p);
		cr_assert_eq(out[25] | out[26] | out[27], 0);
		check_out4(out, on);
	}
	/* A pointer with high bits set is not 40 + something small. */
	size_t n = build_err6(in, 4, 0, 0x10000007, q, qlen), on;
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &x, out, sizeof(out), &on), DROP(POINTER));
}

/* ---- MTU ---------------------------------------------------------------------------------------- */

static uint32_t
ptb46(uint16_t mtu4, uint32_t mtu6nh, uint32_t mtu4nh, size_t data)
{
	struct cgn_xlat_err46 x = x46();
	uint8_t q[128], in[256], out[1280];
	size_t qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 4);
	put16(q + 2, (uint16_t)(28 + data)); /* the Total Length of a bigger original, quoted in part */
	put16(q + 10, 0);
	put16(q + 10, ck(q, 20, 0));
	x.mtu6_nexthop = mtu6nh;
	x.mtu4_nexthop = mtu4nh;
	size_t n = build_err4(in, 3, 4, mtu4, q, qlen), on;
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), 0);
	cr_assert_eq(out[40], 2);
	check_out6(out, on);
	return get32(out + 44);
}

Test(xlat_error, ptb_mtu_4to6, .init = setup)
{
	/* max(1280, min(MTU + 20, MTU6 next hop, MTU4 next hop + 20)) (§4.2). */
	cr_assert_eq(ptb46(1400, 9000, 9000, 1472), 1420);
	cr_assert_eq(ptb46(1400, 1300, 9000, 1472), 1300);
	cr_assert_eq(ptb46(1400, 9000, 1350, 1472), 1370);
	cr_assert_eq(ptb46(576, 9000, 9000, 1472), 1280);
	/* MTU 0: the greatest RFC 1191 plateau below the Total Length and >= 1280. */
	cr_assert_eq(ptb46(0, 9000, 9000, 1472), 1512);     /* Total Length 1500: 1492 */
	cr_assert_eq(ptb46(0, 9000, 9000, 8972), 8186);     /* 9000: 8166 */
	cr_assert_eq(ptb46(0, 1500, 9000, 8972), 1500);     /* ... the next hop smaller */
	cr_assert_eq(ptb46(0, 9000, 9000, 1464), 1280);     /* 1492 is not below 1492: none, 1280 */
	cr_assert_eq(ptb46(0, 9000, 9000, 972), 1280);
	cr_assert_eq(ptb46(0, 65535, 65535, 65507), 32020); /* 65535 is not below 65535: 32000 */
}

static int
ptb64(uint32_t mtu6, uint32_t mtu4nh, uint32_t mtu6nh, uint16_t *mtu4)
{
	struct cgn_xlat_err64 x = x64();
	uint8_t q[128], in[256], out[576];
	size_t qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 4);
	x.mtu4_nexthop = mtu4nh;
	x.mtu6_nexthop = mtu6nh;
	size_t n = build_err6(in, 2, 0, mtu6, q, qlen), on;
	int rc = cgn_xlat_error_6to4(in, n, &x, out, sizeof(out), &on);
	if (rc == 0) {
		cr_assert_eq(out[20], 3);
		cr_assert_eq(out[21], 4);
		cr_assert_eq(get16(out + 24), 0);
		*mtu4 = get16(out + 26);
		check_out4(out, on);
	}
	return rc;
}

Test(xlat_error, ptb_mtu_6to4, .init = setup)
{
	uint16_t m = 0;
	/* min(MTU - 20, MTU4 next hop, MTU6 next hop - 20) (§5.2). */
	cr_assert_eq(ptb64(1400, 9000, 9000, &m), 0);
	cr_assert_eq(m, 1380);
	cr_assert_eq(ptb64(1280, 9000, 9000, &m), 0);
	cr_assert_eq(m, 1260);
	cr_assert_eq(ptb64(1500, 1300, 9000, &m), 0);
	cr_assert_eq(m, 1300);
	cr_assert_eq(ptb64(1500, 9000, 1400, &m), 0);
	cr_assert_eq(m, 1380);
	/* RFC 8201 §4: below 1280, discarded. */
	cr_assert_eq(ptb64(1279, 9000, 9000, &m), DROP(PTB_MTU));
	cr_assert_eq(ptb64(0, 9000, 9000, &m), DROP(PTB_MTU));
}

/* ---- truncation, room ---------------------------------------------------------------------------- */

Test(xlat_error, cap_cuts_the_quote, .init = setup)
{
	const struct xlat_error_vector *v = NULL;
	for (size_t i = 0; i < sizeof(xlat_error_vectors) / sizeof(xlat_error_vectors[0]); i++)
		if (strcmp(xlat_error_vectors[i].name, "46_truncated_1280") == 0)
			v = &xlat_error_vectors[i];
	cr_assert_not_null(v);
	uint8_t out[1280];
	size_t n;
	/* A cap below 1280 cuts further, the bytes kept the same as the 1280 result's. */
	cr_assert_eq(run_vec(v, out, 300, &n), 0);
	cr_assert_eq(n, 300);
	cr_assert(memcmp(out + 48, v->out + 48, 300 - 48) == 0);
	check_out6(out, n);
	/* The headers: 40 + 8 + 40 + 8 octets at least. */
	cr_assert_eq(run_vec(v, out, 96, &n), 0);
	cr_assert_eq(n, 96);
	check_out6(out, n);
	cr_assert_eq(run_vec(v, out, 95, &n), DROP(NO_ROOM));

	for (size_t i = 0; i < sizeof(xlat_error_vectors) / sizeof(xlat_error_vectors[0]); i++)
		if (strcmp(xlat_error_vectors[i].name, "64_truncated_576") == 0)
			v = &xlat_error_vectors[i];
	cr_assert_eq(run_vec(v, out, 100, &n), 0);
	cr_assert_eq(n, 100);
	cr_assert(memcmp(out + 28, v->out + 28, 100 - 28) == 0);
	check_out4(out, n);
	cr_assert_eq(run_vec(v, out, 56, &n), 0);
	cr_assert_eq(n, 56);
	check_out4(out, n);
	cr_assert_eq(run_vec(v, out, 55, &n), DROP(NO_ROOM));
}

Test(xlat_error, rfc4884_extension_left_out_when_it_cannot_fit, .init = setup)
{
	/* An ICMPv4 Time Exceeded far beyond RFC 4884's 576: a 128-octet field and a 1200-octet
	 * extension cannot fit 1280 with it: the extension is left out, the length attribute 0. */
	struct cgn_xlat_err46 x = x46();
	static uint8_t q[1400], in[1500], out[1280];
	size_t qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 72); /* 100 octets */
	memset(q + qlen, 0, 128 - qlen);
	for (size_t i = 128; i < 128 + 1200; i++)
		q[i] = 0xee;
	size_t n = build_err4(in, 11, 0, 32u << 16, q, 128 + 1200), on;
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), 0);
	cr_assert_eq(out[44], 0, "no length attribute");
	cr_assert_eq(on, 48 + 120, "the translated datagram only, not padded");
	check_out6(out, on);
	check_quote6_complete(out, on);
	/* A length attribute beyond the message: EXTENSION. */
	n = build_err4(in, 11, 0, 200u << 16, q, 128);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(EXTENSION));
	struct cgn_xlat_err64 y = x64();
	uint8_t q6[256], in6[512], out4[576];
	qlen = build_quote6(q6, QUDP, 0, INT6, INT_PORT, 20);
	n = build_err6(in6, 1, 4, 30u << 24, q6, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in6, n, &y, out4, sizeof(out4), &on), DROP(EXTENSION));
}

/* ---- drops ------------------------------------------------------------------------------------- */

Test(xlat_error, nested_error_dropped, .init = setup)
{
	struct cgn_xlat_err46 x = x46();
	struct cgn_xlat_err64 y = x64();
	uint8_t q[256], in[512], out[1280];
	size_t n, on;
	/* RFC 6146 §3.4: an error quoting an error. ICMPv4 errors 3, 4, 5, 11, 12. */
	static const uint8_t e4[] = { 3, 4, 5, 11, 12 };
	for (size_t i = 0; i < sizeof(e4); i++) {
		size_t qlen = build_quote4(q, QICMP, e4[i], EXT4, EXT_PORT, 28);
		n = build_err4(in, 3, 1, 0, q, qlen);
		cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(NESTED_ERROR), "type %u", e4[i]);
	}
	for (int t = 0; t < 128; t++) {
		size_t qlen = build_quote6(q, QICMP, (uint8_t)t, INT6, INT_PORT, 48);
		n = build_err6(in, 1, 4, 0, q, qlen);
		cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(NESTED_ERROR), "type %d", t);
	}
	/* Another query in the quote: not an echo, no mapping owns it. */
	size_t qlen = build_quote4(q, QICMP, 13, EXT4, EXT_PORT, 12);
	n = build_err4(in, 3, 1, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(NOT_TRANSLATABLE));
	qlen = build_quote6(q, QICMP, 130, INT6, INT_PORT, 12);
	n = build_err6(in, 1, 4, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(NOT_TRANSLATABLE));
}

Test(xlat_error, bad_checksums_dropped, .init = setup)
{
	uint8_t buf[2048], out[2048];
	size_t on;
	for (size_t i = 0; i < sizeof(xlat_error_vectors) / sizeof(xlat_error_vectors[0]); i++) {
		const struct xlat_error_vector *v = &xlat_error_vectors[i];
		/* One flipped bit in the last octet (the quote or the extension): only the ICMP
		 * checksum can tell. */
		memcpy(buf, v->in, v->in_len);
		buf[v->in_len - 1] ^= 0x01;
		struct xlat_error_vector w = *v;
		w.in = buf;
		cr_assert_eq(run_vec(&w, out, sizeof(out), &on), DROP(BAD_CHECKSUM), "%s", v->name);
		memcpy(buf, v->in, v->in_len);
		if (v->direction == 46) {
			buf[8] ^= 0x04; /* the TTL: the IPv4 header checksum */
		} else {
			buf[9] ^= 0x01; /* the source address: the pseudo-header */
		}
		cr_assert_eq(run_vec(&w, out, sizeof(out), &on), DROP(BAD_CHECKSUM), "%s", v->name);
	}
}

Test(xlat_error, other_mapping_dropped, .init = setup)
{
	struct cgn_xlat_err46 x = x46();
	struct cgn_xlat_err64 y = x64();
	uint8_t q[256], in[512], out[1280];
	size_t n, on, qlen;

	/* 4->6: the quoted source is another external address, or another port / identifier. */
	qlen = build_quote4(q, QUDP, 0, EXT4 + 1, EXT_PORT, 8);
	n = build_err4(in, 3, 3, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(INNER_MISMATCH));
	qlen = build_quote4(q, QTCP, 0, EXT4, EXT_PORT + 1, 8);
	n = build_err4(in, 3, 3, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(INNER_MISMATCH));
	qlen = build_quote4(q, QICMP, 8, EXT4, EXT_PORT + 1, 8);
	n = build_err4(in, 3, 3, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(INNER_MISMATCH));
	/* ... the error is for another address than the quoted source. */
	qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 8);
	n = build_err4(in, 3, 3, 0, q, qlen);
	put32(in + 16, EXT4 + 1);
	refix4(in, n);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(OUTER_MISMATCH));

	/* 6->4: the quoted destination is another subscriber, or another port. */
	uint8_t other[16];
	memcpy(other, INT6, 16);
	other[15] = 0x11;
	qlen = build_quote6(q, QUDP, 0, other, INT_PORT, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(INNER_MISMATCH));
	qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT + 1, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(INNER_MISMATCH));
	qlen = build_quote6(q, QICMP, 129, INT6, INT_PORT + 1, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(INNER_MISMATCH));
	/* ... the error goes to another remote than the quoted source. */
	qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	in[39] ^= 1;
	refix6(in, n);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(OUTER_MISMATCH));
	/* ... or outside every Pref64. */
	qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	in[24] = 0x30;
	refix6(in, n);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(NOT_PREF64));
}

Test(xlat_error, other_drops, .init = setup)
{
	struct cgn_xlat_err46 x = x46();
	struct cgn_xlat_err64 y = x64();
	uint8_t q[2048], in[2048], out[1280];
	size_t n, on, qlen;

	qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 8);
	/* The error itself a fragment. */
	n = build_err4(in, 3, 3, 0, q, qlen);
	put16(in + 6, 0x2000);
	refix4(in, n);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(FRAGMENT));
	/* TTL 1: the caller's check, repeated. */
	n = build_err4(in, 3, 3, 0, q, qlen);
	in[8] = 1;
	refix4(in, n);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(HOP_LIMIT));
	/* Not ICMP. */
	n = build_err4(in, 3, 3, 0, q, qlen);
	in[9] = 17;
	refix4(in, n);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(NOT_ERROR));
	/* An unexpired loose source route (options: NOP, LSRR len 7 ptr 4, EOL). */
	{
		uint8_t o[2048];
		n = build_err4(in, 3, 3, 0, q, qlen);
		memcpy(o, in, 20);
		o[0] = 0x48;
		static const uint8_t opt[12] = { 1, 131, 7, 4, 10, 0, 0, 1, 0, 0, 0, 0 };
		memcpy(o + 20, opt, 12);
		memcpy(o + 32, in + 20, n - 20);
		put16(o + 2, (uint16_t)(n + 12));
		refix4(o, n + 12);
		cr_assert_eq(cgn_xlat_error_4to6(o, n + 12, &x, out, sizeof(out), &on), DROP(SOURCE_ROUTE));
		o[23] = 8; /* expired: pointer past the length; options are then ignored */
		refix4(o, n + 12);
		cr_assert_eq(cgn_xlat_error_4to6(o, n + 12, &x, out, sizeof(out), &on), 0);
		check_out6(out, on);
	}
	/* The quote a non-first fragment, or a fragment of an echo. */
	memcpy(in, q, qlen);
	put16(in + 6, 0x0010);
	put16(in + 10, 0);
	put16(in + 10, ck(in, 20, 0));
	n = build_err4(in + 600, 3, 3, 0, in, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in + 600, n, &x, out, sizeof(out), &on), DROP(INNER_FRAGMENT));
	qlen = build_quote4(q, QICMP, 8, EXT4, EXT_PORT, 8);
	put16(q + 6, 0x2000);
	put16(q + 10, 0);
	put16(q + 10, ck(q, 20, 0));
	n = build_err4(in, 3, 3, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(INNER_FRAGMENT));
	/* Less than 8 octets of the transport header. */
	qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 8);
	n = build_err4(in, 3, 3, 0, q, 27);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(TRUNCATED));
	/* An IPv4 quote of another protocol. */
	qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 8);
	q[9] = 132;
	put16(q + 10, 0);
	put16(q + 10, ck(q, 20, 0));
	n = build_err4(in, 3, 3, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(NOT_TRANSLATABLE));
	/* A Pref64 of a length RFC 6052 does not allow. */
	qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 8);
	n = build_err4(in, 3, 3, 0, q, qlen);
	pref64.len = 80;
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), DROP(NOT_PREF64));
	pref64.len = 96;

	/* 6->4: a Fragment header on the error, hop limit 1, a quoted Routing header with segments
	 * left, a quoted non-first fragment, an extension header after the Fragment header. */
	qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	in[7] = 1;
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(HOP_LIMIT));
	{
		/* The outer: IPv6 + Fragment header + ICMPv6. */
		uint8_t o[512];
		n = build_err6(in, 1, 4, 0, q, qlen);
		memcpy(o, in, 40);
		o[6] = 44;
		put16(o + 4, (uint16_t)(n - 40 + 8));
		memset(o + 40, 0, 8);
		o[40] = 58;
		memcpy(o + 48, in + 40, n - 40);
		cr_assert_eq(cgn_xlat_error_6to4(o, n + 8, &y, out, 576, &on), DROP(FRAGMENT));
	}
	/* Quoted: IPv6 + ext + UDP, built by hand. */
	static const struct {
		uint8_t nh1, nh2; /* the extension header, and what follows it */
		uint16_t w2;      /* its octets 2-3 (Routing: type, segments left; Fragment: offset/M) */
		int want;
	} ext[] = {
		{ 43, 17, 0x0001, DROP(EXT_HEADER) },     /* Routing, segments left 1 */
		{ 43, 17, 0x0000, 0 },                    /* Routing, segments left 0 */
		{ 44, 17, 0x0008, DROP(INNER_FRAGMENT) }, /* Fragment, offset 1 */
		{ 44, 17, 0x0001, 0 },                    /* Fragment, first, M */
		{ 44, 60, 0x0001, DROP(EXT_HEADER) },     /* Fragment then Destination Options */
		{ 44, 51, 0x0001, DROP(EXT_HEADER) },     /* Fragment then AH */
		{ 51, 17, 0x0000, DROP(NOT_TRANSLATABLE) },/* AH: an upper layer here */
		{ 0, 17, 0x0000, 0 },                      /* Hop-by-Hop */
	};
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		uint8_t qq[256];
		qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
		memcpy(qq, q, 40);
		qq[6] = ext[i].nh1;
		put16(qq + 4, (uint16_t)(qlen - 40 + 8));
		memset(qq + 40, 0, 8);
		qq[40] = ext[i].nh2;
		put16(qq + 42, ext[i].w2);
		if (ext[i].nh2 != 17) {
			/* a second extension header of 8 octets, then UDP */
			memmove(qq + 48, qq + 40, 0);
			memset(qq + 48, 0, 8);
			qq[48] = 17;
			memcpy(qq + 56, q + 40, qlen - 40);
			put16(qq + 4, (uint16_t)(qlen - 40 + 16));
			n = build_err6(in, 1, 4, 0, qq, qlen + 16);
		} else {
			memcpy(qq + 48, q + 40, qlen - 40);
			n = build_err6(in, 1, 4, 0, qq, qlen + 8);
		}
		int rc = cgn_xlat_error_6to4(in, n, &y, out, 576, &on);
		cr_assert_eq(rc, ext[i].want, "case %zu: %s", i, cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)-rc));
		if (rc == 0) {
			check_out4(out, on);
			cr_assert_eq(get16(out + 28 + 2), 20 + 16, "the quoted Total Length skips the headers");
			if (ext[i].nh1 != 44)
				check_quote4_complete(out, on);
			else
				cr_assert_eq(get16(out + 28 + 6), 0x2000, "MF, DF clear");
		}
	}
	/* A Hop-by-Hop header not first: refused. */
	{
		uint8_t qq[256];
		qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
		memcpy(qq, q, 40);
		qq[6] = 60;
		put16(qq + 4, (uint16_t)(qlen - 40 + 16));
		memset(qq + 40, 0, 16);
		qq[40] = 0;
		qq[48] = 17;
		memcpy(qq + 56, q + 40, qlen - 40);
		n = build_err6(in, 1, 4, 0, qq, qlen + 16);
		cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(EXT_HEADER));
	}
	/* A quoted echo in fragments. */
	{
		uint8_t qq[256];
		qlen = build_quote6(q, QICMP, 128, INT6, INT_PORT, 8);
		memcpy(qq, q, 40);
		qq[6] = 44;
		put16(qq + 4, (uint16_t)(qlen - 40 + 8));
		memset(qq + 40, 0, 8);
		qq[40] = 58;
		put16(qq + 42, 1);
		memcpy(qq + 48, q + 40, qlen - 40);
		n = build_err6(in, 1, 4, 0, qq, qlen + 8);
		cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(INNER_FRAGMENT));
	}
	/* Truncated: the payload length beyond the buffer; a quote shorter than 40 + 8. */
	qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in, n - 1, &y, out, 576, &on), DROP(TRUNCATED));
	n = build_err6(in, 1, 4, 0, q, 47);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(TRUNCATED));
	/* An echo is a query, not an error. */
	n = build_err6(in, 128, 0, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), DROP(NOT_ERROR));
}

/* ---- configuration knobs, other prefixes -------------------------------------------------------- */

Test(xlat_error, traffic_class_and_tos, .init = setup)
{
	struct cgn_xlat_err46 x = x46();
	struct cgn_xlat_err64 y = x64();
	uint8_t q[256], in[512], out[1280];
	size_t n, on, qlen;

	qlen = build_quote4(q, QUDP, 0, EXT4, EXT_PORT, 8);
	n = build_err4(in, 3, 3, 0, q, qlen);
	in[1] = 0xb8;
	refix4(in, n);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), 0);
	cr_assert_eq((get16(out) >> 4) & 0xff, 0xb8, "TC = TOS");
	cr_assert_eq(get16(out + 48) >> 4 & 0xff, 0x10, "quoted TC = quoted TOS");
	x.reset_tc = true;
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), 0);
	cr_assert_eq(get32(out), 0x60000000u, "TC 0, flow label 0");
	cr_assert_eq(get32(out + 48), 0x60000000u);
	check_out6(out, on);
	check_quote6_complete(out, on);

	qlen = build_quote6(q, QUDP, 0, INT6, INT_PORT, 8);
	n = build_err6(in, 1, 4, 0, q, qlen);
	in[0] = 0x6a;
	in[1] = 0xc0; /* TC 0xac */
	refix6(in, n);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), 0);
	cr_assert_eq(out[1], 0xac);
	y.reset_tos = true;
	y.new_tos = 0x04;
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), 0);
	cr_assert_eq(out[1], 0x04);
	cr_assert_eq(out[28 + 1], 0x04);
	check_out4(out, on);
	check_quote4_complete(out, on);
	cr_assert_eq(get16(out + 6), 0, "576 octets at most: DF clear (§5.1, <= 1260)");
}

Test(xlat_error, pref64_of_64_bits, .init = setup)
{
	/* 2001:db8:1:2::/64: the IPv4 address after the u octet (RFC 6052 §2.2). */
	struct cgn_prefix p = { .addr = { .b = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2 } }, .len = 64 };
	struct cgn_xlat_err46 x = x46();
	struct cgn_xlat_err64 y = x64();
	uint8_t q[256], in[512], out[1280];
	size_t n, on, qlen;
	static const uint8_t r4_emb[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0xcb, 0, 0x71, 0xfe };
	static const uint8_t d4_emb[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0xc6, 0x33, 0x64, 0x07 };

	x.pref64 = &p;
	qlen = build_quote4(q, QTCP, 0, EXT4, EXT_PORT, 8);
	n = build_err4(in, 11, 0, 0, q, qlen);
	cr_assert_eq(cgn_xlat_error_4to6(in, n, &x, out, sizeof(out), &on), 0);
	cr_assert(memcmp(out + 8, r4_emb, 16) == 0);
	cr_assert(memcmp(out + 48 + 24, d4_emb, 16) == 0);
	check_out6(out, on);
	cr_assert(verifies(out + 88, on - 88, pseudo6(out + 48, 6, on - 88)), "quoted TCP checksum");

	/* And back: an ICMPv6 error to the /64-embedded remote. */
	y.pref64 = &p;
	uint8_t q6[256];
	qlen = build_quote6(q6, QUDP, 0, INT6, INT_PORT, 8);
	memcpy(q6 + 8, d4_emb, 16);
	put16(q6 + 46, 0);
	put16(q6 + 46, ck(q6 + 40, qlen - 40, pseudo6(q6, 17, qlen - 40)));
	n = build_err6(in, 3, 0, 0, q6, qlen);
	memcpy(in + 24, d4_emb, 16);
	refix6(in, n);
	cr_assert_eq(cgn_xlat_error_6to4(in, n, &y, out, 576, &on), 0);
	check_out4(out, on);
	check_quote4_complete(out, on);
}

Test(xlat_error, reason_names)
{
	cr_assert_str_eq(cgn_xlat_err_drop_name(CGN_XLAT_ERR_OK), "OK");
	cr_assert_str_eq(cgn_xlat_err_drop_name(CGN_XLAT_ERR_NESTED_ERROR), "NESTED_ERROR");
	cr_assert_str_eq(cgn_xlat_err_drop_name(CGN_XLAT_ERR_POINTER), "POINTER");
	cr_assert_str_eq(cgn_xlat_err_drop_name(CGN_XLAT_ERR_COUNT), "?");
	cr_assert_eq((int)CGN_XLAT_ERR_PTB_MTU, (int)CGN_RFC7915_DROP_PTB_MTU);
	for (int i = 1; i < CGN_XLAT_ERR_COUNT; i++) {
		const char *a = cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)i);
		cr_assert_str_neq(a, "?");
		cr_assert_gt(strlen(cgn_xlat_err_drop_doc((enum cgn_xlat_err_drop)i)), 10u);
		for (int j = 1; j < i; j++)
			cr_assert_str_neq(a, cgn_xlat_err_drop_name((enum cgn_xlat_err_drop)j));
		if (i < CGN_RFC7915_DROP_COUNT)
			cr_assert_str_eq(a, cgn_rfc7915_drop_name((enum cgn_rfc7915_drop)i));
	}
}

/* ---- robustness ---------------------------------------------------------------------------- */

/* xorshift: deterministic, so that a failure repeats. */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(xlat_error, random_mutations_stay_in_bounds, .init = setup, .timeout = 120)
{
	uint32_t seed = 0x2545f491;
	unsigned ok = 0, total = 0;

	for (size_t i = 0; i < sizeof(xlat_error_vectors) / sizeof(xlat_error_vectors[0]); i++) {
		const struct xlat_error_vector *v = &xlat_error_vectors[i];
		for (int iter = 0; iter < 3000; iter++) {
			size_t len = v->in_len;
			uint32_t r = rnd(&seed);
			if (r % 4 == 0)
				len = rnd(&seed) % (v->in_len + 1); /* cut anywhere */
			/* Exact-size heap buffers: ASan sees any octet read or written beyond. */
			uint8_t *in = malloc(len ? len : 1);
			cr_assert_not_null(in);
			memcpy(in, v->in, len);
			unsigned flips = 1 + rnd(&seed) % 6;
			for (unsigned f = 0; f < flips && len; f++) {
				size_t at = rnd(&seed) % (len < 120 ? len : 120); /* mostly headers */
				if (rnd(&seed) % 3 == 0)
					at = rnd(&seed) % len;
				in[at] = (uint8_t)rnd(&seed);
			}
			/* Half the time the outer checksums are made right again, so that mutations
			 * reach the quoted packet's parser. */
			if (rnd(&seed) % 2) {
				if (v->direction == 46)
					refix4(in, len);
				else
					refix6(in, len);
			}
			size_t cap = rnd(&seed) % 3 == 0 ? rnd(&seed) % 1400 : 1400;
			uint8_t *out = malloc(cap ? cap : 1);
			cr_assert_not_null(out);
			size_t on = 0;
			int rc;
			if (v->direction == 46) {
				struct cgn_xlat_err46 x = x46();
				rc = cgn_xlat_error_4to6(in, len, &x, out, cap, &on);
				if (rc == 0) {
					cr_assert_leq(on, cap);
					check_out6(out, on);
				}
			} else {
				struct cgn_xlat_err64 x = x64();
				rc = cgn_xlat_error_6to4(in, len, &x, out, cap, &on);
				if (rc == 0) {
					cr_assert_leq(on, cap);
					check_out4(out, on);
				}
			}
			cr_assert(rc <= 0 && rc > -(int)CGN_XLAT_ERR_COUNT, "rc %d", rc);
			ok += rc == 0;
			total++;
			free(in);
			free(out);
		}
	}
	/* The loop is worth something only if some mutations were translated. */
	cr_log_info("%u of %u mutated inputs translated", ok, total);
	cr_assert_gt(ok, total / 50, "%u of %u translated", ok, total);
}
