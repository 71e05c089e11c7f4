/*
 * RFC 7915's pure core (common/cgn_rfc7915.h): every row of §4.2's and §5.2's ICMP lists and
 * of Figures 3 and 6, checked against values copied here from the RFC text (numbers as the
 * RFC writes them, not the header's names, so that a wrong name is caught too); every other
 * (type, code) and pointer dropped; the MTU rules of §4.2 (RFC 1191's plateaus), §5.2 and §4.1
 * at their boundaries; DF, Fragment header, Traffic Class / TOS and TTL rules.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgn_rfc7915.h"

#define OK CGN_RFC7915_OK
#define D(x) CGN_RFC7915_DROP_##x
#define R(x) CGN_RFC7915_REST_##x

/* One (type, code) of the RFC's lists. any_code: the RFC gives the rule for the type whatever
 * the code (then keep_code: "The Code is unchanged", the code copied; else .ocode). */
struct spec {
	int type, code;          /* code -1: any code */
	enum cgn_rfc7915_drop drop;
	int otype, ocode;        /* ocode -1: the input code, unchanged */
	enum cgn_rfc7915_rest rest;
	int pointer;
};

#define ANY (-1)
#define SAME (-1)

/* RFC 7915 §4.2, ICMPv4 -> ICMPv6, in the RFC's order. */
static const struct spec spec_4to6[] = {
	/* "Echo and Echo Reply (Type 8 and Type 0): Adjust the Type values to 128 and 129"
	 * (the code is not named: copied) */
	{ 8, ANY, OK, 128, SAME, R(COPY), 0 },
	{ 0, ANY, OK, 129, SAME, R(COPY), 0 },
	/* "Information Request/Reply (Type 15 and Type 16): Obsoleted in ICMPv6." */
	{ 15, ANY, D(OBSOLETE) },
	{ 16, ANY, D(OBSOLETE) },
	/* "Timestamp and Timestamp Reply (Type 13 and Type 14): Obsoleted in ICMPv6." */
	{ 13, ANY, D(OBSOLETE) },
	{ 14, ANY, D(OBSOLETE) },
	/* "Address Mask Request/Reply (Type 17 and Type 18): Obsoleted in ICMPv6." */
	{ 17, ANY, D(OBSOLETE) },
	{ 18, ANY, D(OBSOLETE) },
	/* "ICMP Router Advertisement (Type 9): Single-hop message." */
	{ 9, ANY, D(SINGLE_HOP) },
	/* "ICMP Router Solicitation (Type 10): Single-hop message." */
	{ 10, ANY, D(SINGLE_HOP) },
	/* Destination Unreachable (Type 3) -> Type 1, code by code. */
	{ 3, 0, OK, 1, 0, R(LENGTH), 0 },  /* "Code 0, 1 [...] Set the Code to 0" */
	{ 3, 1, OK, 1, 0, R(LENGTH), 0 },
	{ 3, 2, OK, 4, 1, R(POINTER_SET), 6 }, /* Parameter Problem 4/1, pointer at Next Header */
	{ 3, 3, OK, 1, 4, R(LENGTH), 0 },  /* "Set the Code to 4 (Port unreachable)" */
	{ 3, 4, OK, 2, 0, R(MTU), 0 },     /* "Packet Too Big message (Type 2) with Code set to 0" */
	{ 3, 5, OK, 1, 0, R(LENGTH), 0 },  /* Source Route Failed -> 0 */
	{ 3, 6, OK, 1, 0, R(LENGTH), 0 },  /* "Code 6, 7, 8: Set the Code to 0" */
	{ 3, 7, OK, 1, 0, R(LENGTH), 0 },
	{ 3, 8, OK, 1, 0, R(LENGTH), 0 },
	{ 3, 9, OK, 1, 1, R(LENGTH), 0 },  /* "Code 9, 10 [...] Set the Code to 1" */
	{ 3, 10, OK, 1, 1, R(LENGTH), 0 },
	{ 3, 11, OK, 1, 0, R(LENGTH), 0 }, /* "Code 11, 12: Set the Code to 0" */
	{ 3, 12, OK, 1, 0, R(LENGTH), 0 },
	{ 3, 13, OK, 1, 1, R(LENGTH), 0 }, /* "Code 13 [...] Set the Code to 1" */
	{ 3, 14, D(NO_COUNTERPART) },      /* "Code 14 (Host Precedence Violation): Silently drop." */
	{ 3, 15, OK, 1, 1, R(LENGTH), 0 }, /* "Code 15 [...] Set the Code to 1" */
	/* "Redirect (Type 5): Single-hop message." */
	{ 5, ANY, D(SINGLE_HOP) },
	/* "Alternative Host Address (Type 6): Silently drop." */
	{ 6, ANY, D(NO_COUNTERPART) },
	/* "Source Quench (Type 4): Obsoleted in ICMPv6." */
	{ 4, ANY, D(OBSOLETE) },
	/* "Time Exceeded (Type 11): Set the Type to 3 [...] The Code is unchanged." */
	{ 11, ANY, OK, 3, SAME, R(LENGTH), 0 },
	/* Parameter Problem (Type 12) -> Type 4 */
	{ 12, 0, OK, 4, 0, R(POINTER), 0 }, /* "Code 0 [...] Set the Code to 0 [...] Figure 3" */
	{ 12, 1, D(NO_COUNTERPART) },       /* "Code 1 (Missing a required option): Silently drop." */
	{ 12, 2, OK, 4, 0, R(POINTER), 0 }, /* "Code 2 (Bad length): Set the Code to 0 [...]" */
};
/* Types whose codes the RFC lists one by one ("Other Code values: Silently drop."). */
static const int by_code_4to6[] = { 3, 12 };

/* RFC 7915 §5.2, ICMPv6 -> ICMPv4, in the RFC's order. */
static const struct spec spec_6to4[] = {
	/* "Echo Request and Echo Reply (Type 128 and 129): Adjust the Type values to 8 and 0" */
	{ 128, ANY, OK, 8, SAME, R(COPY), 0 },
	{ 129, ANY, OK, 0, SAME, R(COPY), 0 },
	/* "MLD Multicast Listener Query/Report/Done (Type 130, 131, 132): Single-hop message." */
	{ 130, ANY, D(SINGLE_HOP) },
	{ 131, ANY, D(SINGLE_HOP) },
	{ 132, ANY, D(SINGLE_HOP) },
	/* "Neighbor Discover messages (Type 133 through 137): Single-hop message." */
	{ 133, ANY, D(SINGLE_HOP) },
	{ 134, ANY, D(SINGLE_HOP) },
	{ 135, ANY, D(SINGLE_HOP) },
	{ 136, ANY, D(SINGLE_HOP) },
	{ 137, ANY, D(SINGLE_HOP) },
	/* Destination Unreachable (Type 1) -> Type 3 */
	{ 1, 0, OK, 3, 1, R(LENGTH), 0 },  /* "Code 0 (No route to destination): Set the Code to 1" */
	{ 1, 1, OK, 3, 10, R(LENGTH), 0 }, /* "Code 1 [...] Set the Code to 10" */
	{ 1, 2, OK, 3, 1, R(LENGTH), 0 },  /* "Code 2 (Beyond scope of source address): [...] 1" */
	{ 1, 3, OK, 3, 1, R(LENGTH), 0 },  /* "Code 3 (Address unreachable): Set the Code to 1" */
	{ 1, 4, OK, 3, 3, R(LENGTH), 0 },  /* "Code 4 (Port unreachable): Set the Code to 3" */
	/* "Packet Too Big (Type 2): Translate to an ICMPv4 Destination Unreachable (Type 3) with
	 * Code 4" */
	{ 2, ANY, OK, 3, 4, R(MTU), 0 },
	/* "Time Exceeded (Type 3): Set the Type to 11 [...] The Code is unchanged." */
	{ 3, ANY, OK, 11, SAME, R(LENGTH), 0 },
	/* Parameter Problem (Type 4) */
	{ 4, 0, OK, 12, 0, R(POINTER), 0 }, /* "Set to Type 12, Code 0, and update the pointer" */
	{ 4, 1, OK, 3, 2, R(ZERO), 0 },     /* "protocol unreachable (Type 3, Code 2)" */
	{ 4, 2, D(NO_COUNTERPART) },        /* "Code 2 (Unrecognized IPv6 option encountered):
	                                     * Silently drop." */
};
static const int by_code_6to4[] = { 1, 4 };

typedef enum cgn_rfc7915_drop (*icmp_fn)(uint8_t, uint8_t, struct cgn_rfc7915_icmp *);

/* What the spec says of (type, code): the row, or NULL with *unknown set to the drop. */
static const struct spec *
spec_find(const struct spec *s, size_t n, const int *by_code, size_t nby, int type, int code,
	  enum cgn_rfc7915_drop *unknown)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].type == type && (s[i].code == ANY || s[i].code == code))
			return &s[i];
	*unknown = D(UNKNOWN_TYPE);
	for (size_t i = 0; i < nby; i++)
		if (by_code[i] == type)
			*unknown = D(UNKNOWN_CODE);
	return NULL;
}

/* Every (type, code) of 256 x 256 against the spec: listed rows as listed, the rest dropped. */
static void
check_all(const char *dir, icmp_fn fn, const struct spec *s, size_t n, const int *by_code, size_t nby)
{
	unsigned translated = 0;

	for (int type = 0; type < 256; type++) {
		for (int code = 0; code < 256; code++) {
			struct cgn_rfc7915_icmp out, before;
			enum cgn_rfc7915_drop unknown = OK;
			const struct spec *e = spec_find(s, n, by_code, nby, type, code, &unknown);

			memset(&out, 0xa5, sizeof(out));
			before = out;
			enum cgn_rfc7915_drop got = fn((uint8_t)type, (uint8_t)code, &out);
			enum cgn_rfc7915_drop want = e ? e->drop : unknown;

			cr_assert_eq(got, want, "%s %d/%d: %s, want %s", dir, type, code,
				     cgn_rfc7915_drop_name(got), cgn_rfc7915_drop_name(want));
			if (want != OK) {
				cr_assert(memcmp(&out, &before, sizeof(out)) == 0,
					  "%s %d/%d: out written on a drop", dir, type, code);
				continue;
			}
			translated++;
			cr_assert_eq(out.type, e->otype, "%s %d/%d: type %u, want %d", dir, type, code,
				     out.type, e->otype);
			cr_assert_eq(out.code, e->ocode == SAME ? code : e->ocode,
				     "%s %d/%d: code %u", dir, type, code, out.code);
			cr_assert_eq(out.rest, e->rest, "%s %d/%d: rest %u, want %d", dir, type, code,
				     out.rest, e->rest);
			cr_assert_eq(out.pointer, e->pointer, "%s %d/%d: pointer %u", dir, type, code,
				     out.pointer);
		}
	}
	cr_assert_gt(translated, 0);
}

Test(rfc7915, icmp_4to6_every_type_and_code)
{
	check_all("4to6", cgn_rfc7915_icmp_4to6, spec_4to6, sizeof(spec_4to6) / sizeof(spec_4to6[0]),
		  by_code_4to6, 2);
}

Test(rfc7915, icmp_6to4_every_type_and_code)
{
	check_all("6to4", cgn_rfc7915_icmp_6to4, spec_6to4, sizeof(spec_6to4) / sizeof(spec_6to4[0]),
		  by_code_6to4, 2);
}

/* A few rows spelled out, so that a failure of the sweep has a readable twin. */
Test(rfc7915, icmp_named_rows)
{
	struct cgn_rfc7915_icmp o;

	cr_assert_eq(cgn_rfc7915_icmp_4to6(8, 0, &o), OK);
	cr_assert(o.type == 128 && o.code == 0 && o.rest == R(COPY));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(3, 2, &o), OK);
	cr_assert(o.type == 4 && o.code == 1 && o.rest == R(POINTER_SET) && o.pointer == 6);
	cr_assert_eq(cgn_rfc7915_icmp_4to6(3, 4, &o), OK);
	cr_assert(o.type == 2 && o.code == 0 && o.rest == R(MTU));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(3, 13, &o), OK);
	cr_assert(o.type == 1 && o.code == 1);
	cr_assert_eq(cgn_rfc7915_icmp_4to6(11, 1, &o), OK);
	cr_assert(o.type == 3 && o.code == 1);
	cr_assert_eq(cgn_rfc7915_icmp_4to6(3, 16, &o), D(UNKNOWN_CODE));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(3, 255, &o), D(UNKNOWN_CODE));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(12, 3, &o), D(UNKNOWN_CODE));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(7, 0, &o), D(UNKNOWN_TYPE));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(255, 0, &o), D(UNKNOWN_TYPE));
	cr_assert_eq(cgn_rfc7915_icmp_4to6(128, 0, &o), D(UNKNOWN_TYPE)); /* an ICMPv6 type */

	cr_assert_eq(cgn_rfc7915_icmp_6to4(129, 0, &o), OK);
	cr_assert(o.type == 0 && o.code == 0 && o.rest == R(COPY));
	cr_assert_eq(cgn_rfc7915_icmp_6to4(2, 0, &o), OK);
	cr_assert(o.type == 3 && o.code == 4 && o.rest == R(MTU));
	cr_assert_eq(cgn_rfc7915_icmp_6to4(4, 1, &o), OK);
	cr_assert(o.type == 3 && o.code == 2 && o.rest == R(ZERO));
	cr_assert_eq(cgn_rfc7915_icmp_6to4(1, 5, &o), D(UNKNOWN_CODE)); /* policy failure */
	cr_assert_eq(cgn_rfc7915_icmp_6to4(1, 6, &o), D(UNKNOWN_CODE)); /* reject route */
	cr_assert_eq(cgn_rfc7915_icmp_6to4(4, 3, &o), D(UNKNOWN_CODE)); /* RFC 7112 */
	cr_assert_eq(cgn_rfc7915_icmp_6to4(127, 0, &o), D(UNKNOWN_TYPE)); /* unknown error */
	cr_assert_eq(cgn_rfc7915_icmp_6to4(138, 0, &o), D(UNKNOWN_TYPE)); /* unknown informational */
	cr_assert_eq(cgn_rfc7915_icmp_6to4(8, 0, &o), D(UNKNOWN_TYPE));   /* an ICMPv4 type */
}

/* §4.2 Figure 3, as the RFC prints it: Original IPv4 Pointer Value -> Translated IPv6 Pointer
 * Value, -1 for "n/a". */
static const struct { int from, to; } figure3[] = {
	{ 0, 0 }, { 1, 1 }, { 2, 4 }, { 3, 4 }, { 4, -1 }, { 5, -1 }, { 6, -1 }, { 7, -1 },
	{ 8, 7 }, { 9, 6 }, { 10, -1 }, { 11, -1 }, { 12, 8 }, { 13, 8 }, { 14, 8 }, { 15, 8 },
	{ 16, 24 }, { 17, 24 }, { 18, 24 }, { 19, 24 },
};

Test(rfc7915, pointer_4to6_figure3)
{
	/* every 8-bit pointer: the listed ones as listed, the rest (20-255) dropped */
	for (int p = 0; p < 256; p++) {
		uint32_t out = 0xdeadbeef;
		int want = p < 20 ? figure3[p].to : -1;

		cr_assert(p >= 20 || figure3[p].from == p);
		enum cgn_rfc7915_drop got = cgn_rfc7915_pointer_4to6((uint8_t)p, &out);
		if (want < 0) {
			cr_assert_eq(got, D(POINTER), "pointer %d", p);
			cr_assert_eq(out, 0xdeadbeef, "pointer %d: written on a drop", p);
		} else {
			cr_assert_eq(got, OK, "pointer %d", p);
			cr_assert_eq(out, (uint32_t)want, "pointer %d -> %u, want %d", p, out, want);
		}
	}
}

/* §5.2 Figure 6. */
static int
figure6(uint32_t p)
{
	if (p == 0)
		return 0;   /* Version/Traffic Class -> Version/IHL, Type Of Ser */
	if (p == 1)
		return 1;   /* Traffic Class/Flow Label -> Type Of Service */
	if (p == 2 || p == 3)
		return -1;  /* Flow Label -> n/a */
	if (p == 4 || p == 5)
		return 2;   /* Payload Length -> Total Length */
	if (p == 6)
		return 9;   /* Next Header -> Protocol */
	if (p == 7)
		return 8;   /* Hop Limit -> Time to Live */
	if (p >= 8 && p <= 23)
		return 12;  /* Source Address */
	if (p >= 24 && p <= 39)
		return 16;  /* Destination Address */
	return -1;          /* not listed */
}

Test(rfc7915, pointer_6to4_figure6)
{
	static const uint32_t big[] = { 40, 41, 255, 256, 0x10000, 0x7fffffff, 0xffffffff };

	for (uint32_t p = 0; p < 1024; p++) {
		uint8_t out = 0xee;
		int want = figure6(p);
		enum cgn_rfc7915_drop got = cgn_rfc7915_pointer_6to4(p, &out);

		if (want < 0) {
			cr_assert_eq(got, D(POINTER), "pointer %u", p);
			cr_assert_eq(out, 0xee, "pointer %u: written on a drop", p);
		} else {
			cr_assert_eq(got, OK, "pointer %u", p);
			cr_assert_eq(out, want, "pointer %u -> %u, want %d", p, out, want);
		}
	}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		uint8_t out;
		cr_assert_eq(cgn_rfc7915_pointer_6to4(big[i], &out), D(POINTER), "pointer %u", big[i]);
	}
	/* spot checks in the RFC's words */
	uint8_t o;
	cr_assert_eq(cgn_rfc7915_pointer_6to4(6, &o), OK);
	cr_assert_eq(o, 9); /* Next Header -> Protocol */
	cr_assert_eq(cgn_rfc7915_pointer_6to4(39, &o), OK);
	cr_assert_eq(o, 16);
}

/* §4.2: maximum(1280, minimum(MTU4 + 20, MTU_of_IPv6_nexthop, MTU_of_IPv4_nexthop + 20)). */
Test(rfc7915, ptb_mtu_4to6_formula)
{
	/* each term the least in turn */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1400, 9000, 9000, 1500), 1420);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 1500, 9000, 1500), 1500);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 9000, 1300, 1500), 1320);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 1500, 1500, 1500), 1500);
	/* the 1280 floor: "MUST NOT be set to a value smaller than the minimum IPv6 MTU" */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1261, 9000, 9000, 1500), 1281);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1260, 9000, 9000, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1259, 9000, 9000, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(576, 9000, 9000, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(68, 9000, 9000, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1, 9000, 9000, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 1280, 9000, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 1279, 9000, 1500), 1280); /* bad config: floor */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 9000, 1259, 1500), 1280);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1480, 9000, 0, 1500), 1280);
	/* the largest field */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(65535, UINT32_MAX, UINT32_MAX, 1500), 65555);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(65535, UINT32_MAX, 65535, 1500), 65555);
	/* a non-zero MTU4 ignores the Total Length */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(1400, 9000, 9000, 0), 1420);
}

/* §4.2 with MTU4 = 0: the greatest RFC 1191 plateau (65535, 32000, 17914, 8166, 4352, 2002,
 * 1492, 1006, 508, 296, 68) below the returned Total Length and >= 1280, then the formula. */
Test(rfc7915, ptb_mtu_4to6_plateaus)
{
	static const struct { uint16_t tot_len; uint32_t want; } t[] = {
		{ 65535, 32000 + 20 },  /* 65535 is not less than 65535 */
		{ 65534, 32000 + 20 },
		{ 32001, 32000 + 20 },
		{ 32000, 17914 + 20 },
		{ 17915, 17914 + 20 },
		{ 17914, 8166 + 20 },
		{ 8167, 8166 + 20 },
		{ 8166, 4352 + 20 },
		{ 4353, 4352 + 20 },
		{ 4352, 2002 + 20 },
		{ 2003, 2002 + 20 },
		{ 2002, 1492 + 20 },
		{ 1500, 1492 + 20 },
		{ 1493, 1492 + 20 },
		{ 1492, 1280 },        /* 1006 < 1280: no plateau qualifies, the floor */
		{ 1281, 1280 },
		{ 1280, 1280 },
		{ 1279, 1280 },
		{ 1006, 1280 },
		{ 68, 1280 },
		{ 20, 1280 },
		{ 0, 1280 },           /* an illegal Total Length: still the floor */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(0, UINT32_MAX, UINT32_MAX, t[i].tot_len), t[i].want,
			     "Total Length %u -> %u, want %u", t[i].tot_len,
			     cgn_rfc7915_ptb_mtu_4to6(0, UINT32_MAX, UINT32_MAX, t[i].tot_len), t[i].want);
	/* the plateau goes through the next hops like any MTU */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(0, 1500, 9000, 9000), 1500);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(0, 9000, 1400, 9000), 1420);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_4to6(0, 1280, 9000, 9000), 1280);
}

/* §5.2: minimum(MTU6 - 20, MTU_of_IPv4_nexthop, MTU_of_IPv6_nexthop - 20), 28 with a Fragment
 * header in the packet in error; below 1280 dropped (RFC 8201 §4). */
Test(rfc7915, ptb_mtu_6to4)
{
	uint16_t m;

	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 9000, 9000, false, &m), OK);
	cr_assert_eq(m, 1480);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 1400, 9000, false, &m), OK);
	cr_assert_eq(m, 1400);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(9000, 9000, 1500, false, &m), OK);
	cr_assert_eq(m, 1480);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 1500, 1500, false, &m), OK);
	cr_assert_eq(m, 1480);
	/* the Fragment header: 8 more */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 9000, 9000, true, &m), OK);
	cr_assert_eq(m, 1472);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(9000, 9000, 1500, true, &m), OK);
	cr_assert_eq(m, 1472);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 1400, 9000, true, &m), OK);
	cr_assert_eq(m, 1400); /* the IPv4 next hop is an IPv4 MTU: not adjusted */
	/* 1280 and around it */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1280, 9000, 9000, false, &m), OK);
	cr_assert_eq(m, 1260);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1281, 9000, 9000, false, &m), OK);
	cr_assert_eq(m, 1261);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1280, 9000, 9000, true, &m), OK);
	cr_assert_eq(m, 1252);
	m = 4242;
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1279, 9000, 9000, false, &m), D(PTB_MTU));
	cr_assert_eq(m, 4242, "written on a drop");
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(0, 9000, 9000, false, &m), D(PTB_MTU));
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(20, 9000, 9000, false, &m), D(PTB_MTU));
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(19, 9000, 9000, true, &m), D(PTB_MTU));
	/* the 16-bit field */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(UINT32_MAX, UINT32_MAX, UINT32_MAX, false, &m), OK);
	cr_assert_eq(m, 65535);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(65555, 70000, 70000, false, &m), OK);
	cr_assert_eq(m, 65535);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(65554, 70000, 70000, false, &m), OK);
	cr_assert_eq(m, 65534);
	/* next hops below the minimums (contract broken): IPv4's 68, never an underflow */
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 0, 9000, false, &m), OK);
	cr_assert_eq(m, 68);
	cr_assert_eq(cgn_rfc7915_ptb_mtu_6to4(1500, 9000, 10, true, &m), OK);
	cr_assert_eq(m, 68);
}

/* §1.4, §4.1: the Fragment header. */
Test(rfc7915, frag6)
{
	const uint32_t L = CGN_RFC7915_LOWEST_IPV6_MTU_DEFAULT;

	cr_assert_eq(L, 1280);
	/* DF clear, not a fragment: none up to lowest-ipv6-mtu, fragments beyond it */
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 1240, L, 1500), CGN_RFC7915_FRAG6_NONE);
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 1241, L, 1500), CGN_RFC7915_FRAG6_FRAGMENT);
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 0, L, 1500), CGN_RFC7915_FRAG6_NONE);
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 65515, L, 1500), CGN_RFC7915_FRAG6_FRAGMENT);
	/* a configured lowest-ipv6-mtu of 1500 */
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 1460, 1500, 1500), CGN_RFC7915_FRAG6_NONE);
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 1461, 1500, 1500), CGN_RFC7915_FRAG6_FRAGMENT);
	/* ... above the next hop's MTU: the next hop wins */
	cr_assert_eq(cgn_rfc7915_frag6(false, false, 1461, 9000, 1500), CGN_RFC7915_FRAG6_FRAGMENT);
	/* a fragment: one Fragment header (8 more octets), or fragmented again */
	cr_assert_eq(cgn_rfc7915_frag6(false, true, 8, L, 1500), CGN_RFC7915_FRAG6_COPY);
	cr_assert_eq(cgn_rfc7915_frag6(false, true, 1232, L, 1500), CGN_RFC7915_FRAG6_COPY);
	cr_assert_eq(cgn_rfc7915_frag6(false, true, 1233, L, 1500), CGN_RFC7915_FRAG6_FRAGMENT);
	/* DF set: "MTU of the next-hop interface is less than the total length [...] plus 20" */
	cr_assert_eq(cgn_rfc7915_frag6(true, false, 1460, L, 1500), CGN_RFC7915_FRAG6_NONE);
	cr_assert_eq(cgn_rfc7915_frag6(true, false, 1461, L, 1500), CGN_RFC7915_FRAG6_TOO_BIG);
	cr_assert_eq(cgn_rfc7915_frag6(true, false, 1240, L, 1280), CGN_RFC7915_FRAG6_NONE);
	cr_assert_eq(cgn_rfc7915_frag6(true, false, 1241, L, 1280), CGN_RFC7915_FRAG6_TOO_BIG);
	/* DF set ignores lowest-ipv6-mtu: PMTUD works end to end */
	cr_assert_eq(cgn_rfc7915_frag6(true, false, 8960, L, 9000), CGN_RFC7915_FRAG6_NONE);
	/* DF with a fragment (odd, possible): the Fragment header counts */
	cr_assert_eq(cgn_rfc7915_frag6(true, true, 1452, L, 1500), CGN_RFC7915_FRAG6_COPY);
	cr_assert_eq(cgn_rfc7915_frag6(true, true, 1453, L, 1500), CGN_RFC7915_FRAG6_TOO_BIG);
	/* no overflow at the top of uint32_t */
	cr_assert_eq(cgn_rfc7915_frag6(false, true, UINT32_MAX, UINT32_MAX, UINT32_MAX),
		     CGN_RFC7915_FRAG6_FRAGMENT);
}

Test(rfc7915, frag6_payload_and_frag_needed_mtu)
{
	/* §4.1: "at most 1232 bytes (1280 minus 40 for the IPv6 header and 8 for the Fragment
	 * Header)" */
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(1280), 1232);
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(1287), 1232);
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(1288), 1240);
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(1500), 1448); /* 1452 rounded down to 8 */
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(56), 8);
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(55), 0);
	cr_assert_eq(cgn_rfc7915_frag6_payload_max(0), 0);

	cr_assert_eq(cgn_rfc7915_frag_needed_mtu(1280), 1260);
	cr_assert_eq(cgn_rfc7915_frag_needed_mtu(1500), 1480);
	cr_assert_eq(cgn_rfc7915_frag_needed_mtu(65555), 65535);
	cr_assert_eq(cgn_rfc7915_frag_needed_mtu(UINT32_MAX), 65535);
	cr_assert_eq(cgn_rfc7915_frag_needed_mtu(0), 68);
}

/* §5, §5.1: DF = 0 up to 1260, 1 above; §5.1.1: 0 with a Fragment header. */
Test(rfc7915, df_6to4)
{
	cr_assert_eq(CGN_RFC7915_DF_THRESHOLD, 1260);
	cr_assert_not(cgn_rfc7915_df_6to4(0, false));
	cr_assert_not(cgn_rfc7915_df_6to4(1259, false));
	cr_assert_not(cgn_rfc7915_df_6to4(1260, false));
	cr_assert(cgn_rfc7915_df_6to4(1261, false));
	cr_assert(cgn_rfc7915_df_6to4(65535, false));
	cr_assert_not(cgn_rfc7915_df_6to4(1261, true));
	cr_assert_not(cgn_rfc7915_df_6to4(65535, true));
}

/* §4.1, §5.1: copied by default, all 8 bits; the options set TC 0 / TOS to a value. */
Test(rfc7915, traffic_class)
{
	for (int v = 0; v < 256; v++) {
		cr_assert_eq(cgn_rfc7915_tc_4to6((uint8_t)v, false), v);
		cr_assert_eq(cgn_rfc7915_tc_4to6((uint8_t)v, true), 0);
		cr_assert_eq(cgn_rfc7915_tos_6to4((uint8_t)v, false, 0x28), v);
		cr_assert_eq(cgn_rfc7915_tos_6to4((uint8_t)v, true, 0x28), 0x28);
		cr_assert_eq(cgn_rfc7915_tos_6to4((uint8_t)v, true, 0), 0);
	}
	cr_assert_eq(CGN_RFC7915_FLOW_LABEL, 0);
}

/* §4.1, §5.1: decrement once, expire at zero; §4.3, §5.3: the inner packet untouched. */
Test(rfc7915, hop_limit)
{
	uint8_t out;

	out = 77;
	cr_assert_eq(cgn_rfc7915_hop_limit(0, false, &out), -ETIMEDOUT);
	cr_assert_eq(out, 77);
	cr_assert_eq(cgn_rfc7915_hop_limit(1, false, &out), -ETIMEDOUT);
	cr_assert_eq(cgn_rfc7915_hop_limit(2, false, &out), 0);
	cr_assert_eq(out, 1);
	cr_assert_eq(cgn_rfc7915_hop_limit(64, false, &out), 0);
	cr_assert_eq(out, 63);
	cr_assert_eq(cgn_rfc7915_hop_limit(255, false, &out), 0);
	cr_assert_eq(out, 254);
	for (int v = 0; v < 256; v++) {
		cr_assert_eq(cgn_rfc7915_hop_limit((uint8_t)v, true, &out), 0);
		cr_assert_eq(out, v);
	}
}

Test(rfc7915, drop_names)
{
	cr_assert_str_eq(cgn_rfc7915_drop_name(CGN_RFC7915_OK), "OK");
	cr_assert_str_eq(cgn_rfc7915_drop_name(D(UNKNOWN_TYPE)), "UNKNOWN_TYPE");
	cr_assert_str_eq(cgn_rfc7915_drop_name(D(SINGLE_HOP)), "SINGLE_HOP");
	cr_assert_str_eq(cgn_rfc7915_drop_name(D(PTB_MTU)), "PTB_MTU");
	cr_assert_str_eq(cgn_rfc7915_drop_name(CGN_RFC7915_DROP_COUNT), "?");
	cr_assert_str_eq(cgn_rfc7915_drop_name((enum cgn_rfc7915_drop)-1), "?");
	for (int r = 0; r < CGN_RFC7915_DROP_COUNT; r++)
		cr_assert_neq(strcmp(cgn_rfc7915_drop_name((enum cgn_rfc7915_drop)r), "?"), 0);
}
