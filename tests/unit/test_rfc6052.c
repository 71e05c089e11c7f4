/*
 * IPv4-embedded IPv6 addresses (common/cgn_rfc6052.h, RFC 6052): the RFC's own examples
 * (§2.4, Tables 1 and 2), round trips at every length, the refused lengths and prefixes, the
 * u octet and the suffix, the list lookup and the §3.1 global-address rule.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgn_rfc6052.h"
#include "addr_text.h"

/* The same, in one of 8 rotating buffers: for arguments. */
static const struct cgn_addr *
pA(const char *text)
{
	static struct cgn_addr buf[8];
	static int i;
	i = (i + 1) % 8;
	buf[i] = A(text);
	return &buf[i];
}

static const struct cgn_prefix *
pP(const char *text)
{
	static struct cgn_prefix buf[8];
	static int i;
	i = (i + 1) % 8;
	buf[i] = P(text);
	return &buf[i];
}

/* RFC 6052 §2.4, Table 1 and Table 2, row by row. */
static const struct {
	const char *prefix, *v4, *v6;
} rfc_table[] = {
	{ "2001:db8::/32", "192.0.2.33", "2001:db8:c000:221::" },
	{ "2001:db8:100::/40", "192.0.2.33", "2001:db8:1c0:2:21::" },
	{ "2001:db8:122::/48", "192.0.2.33", "2001:db8:122:c000:2:2100::" },
	{ "2001:db8:122:300::/56", "192.0.2.33", "2001:db8:122:3c0:0:221::" },
	{ "2001:db8:122:344::/64", "192.0.2.33", "2001:db8:122:344:c0:2:2100::" },
	{ "2001:db8:122:344::/96", "192.0.2.33", "2001:db8:122:344::192.0.2.33" },
	{ "64:ff9b::/96", "192.0.2.33", "64:ff9b::192.0.2.33" },
};

Test(rfc6052, rfc_examples_embed)
{
	for (size_t i = 0; i < sizeof(rfc_table) / sizeof(rfc_table[0]); i++) {
		struct cgn_prefix p = P(rfc_table[i].prefix);
		struct cgn_addr v4 = A(rfc_table[i].v4), want = A(rfc_table[i].v6), got;
		cr_assert_eq(cgn_rfc6052_prefix_check(&p, NULL), 0, "%s", rfc_table[i].prefix);
		cr_assert_eq(cgn_rfc6052_embed(&p, &v4, &got), 0, "%s", rfc_table[i].prefix);
		cr_assert(cgn_addr_eq(&got, &want), "%s: %s, not %s", rfc_table[i].prefix, F(&got), rfc_table[i].v6);
	}
}

Test(rfc6052, rfc_examples_extract)
{
	for (size_t i = 0; i < sizeof(rfc_table) / sizeof(rfc_table[0]); i++) {
		struct cgn_prefix p = P(rfc_table[i].prefix);
		struct cgn_addr v6 = A(rfc_table[i].v6), want = A(rfc_table[i].v4), got;
		cr_assert_eq(cgn_rfc6052_extract(&p, &v6, &got), 0, "%s", rfc_table[i].v6);
		cr_assert(cgn_addr_is_v4(&got), "the result is IPv4-mapped");
		cr_assert(cgn_addr_eq(&got, &want), "%s: %s", rfc_table[i].v6, F(&got));
		cr_assert(cgn_rfc6052_is_canonical(&p, &v6), "%s", rfc_table[i].v6);
	}
}

/* Where the octets go, written out per length (RFC 6052 §2.2's bullet list), for an address
 * whose octets are all different and non-zero. */
Test(rfc6052, octet_positions)
{
	static const struct {
		unsigned len;
		uint8_t pos[4];
	} rows[] = { { 32, { 4, 5, 6, 7 } },   { 40, { 5, 6, 7, 9 } },	 { 48, { 6, 7, 9, 10 } },
		     { 56, { 7, 9, 10, 11 } }, { 64, { 9, 10, 11, 12 } }, { 96, { 12, 13, 14, 15 } } };
	struct cgn_addr v4 = A("1.2.3.4");
	for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		struct cgn_prefix p = { .addr = A("2001:db8::"), .len = (uint8_t)rows[r].len };
		struct cgn_addr v6;
		cr_assert_eq(cgn_rfc6052_embed(&p, &v4, &v6), 0);
		struct cgn_addr want = { .b = { 0x20, 0x01, 0x0d, 0xb8 } };
		for (int i = 0; i < 4; i++)
			want.b[rows[r].pos[i]] = (uint8_t)(i + 1);
		cr_assert(cgn_addr_eq(&v6, &want), "/%u: %s, not %s", rows[r].len, F(&v6), F(&want));
		cr_assert_eq(v6.b[CGN_RFC6052_U_OCTET], 0, "/%u: u octet", rows[r].len);
	}
}

/* xorshift32: fixed seed, so a failure repeats. */
static uint32_t
next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(rfc6052, round_trips_at_every_length)
{
	static const unsigned lens[] = { 32, 40, 48, 56, 64, 96 };
	uint32_t seed = 0x6052u;
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		for (int iter = 0; iter < 2000; iter++) {
			/* a random prefix: 2001:db8::/32 and random bits up to len, byte 8 zero */
			struct cgn_prefix p = { .addr = A("2001:db8::"), .len = (uint8_t)lens[l] };
			for (unsigned bit = 32; bit < lens[l]; bit++)
				if (bit / 8 != CGN_RFC6052_U_OCTET && (next_rand(&seed) & 1))
					p.addr.b[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
			const char *why = NULL;
			cr_assert_eq(cgn_rfc6052_prefix_check(&p, &why), 0, "/%u: %s", lens[l], why);
			uint32_t be = next_rand(&seed);
			struct cgn_addr v4 = cgn_addr_from_v4(be), v6, back;
			cr_assert_eq(cgn_rfc6052_embed(&p, &v4, &v6), 0);
			cr_assert(cgn_prefix_contains(&p, &v6), "/%u: %s lies under the prefix", lens[l], F(&v6));
			cr_assert_not(cgn_addr_is_v4(&v6));
			cr_assert_eq(v6.b[CGN_RFC6052_U_OCTET] & (lens[l] < 96 ? 0xff : 0), 0, "u octet zero");
			/* the suffix: every octet after the IPv4 address */
			unsigned end = lens[l] == 96 ? 16 : lens[l] / 8 + 5;
			for (unsigned o = end; o < 16; o++)
				cr_assert_eq(v6.b[o], 0, "/%u: suffix octet %u of %s", lens[l], o, F(&v6));
			cr_assert_eq(cgn_rfc6052_extract(&p, &v6, &back), 0);
			cr_assert(cgn_addr_eq(&back, &v4), "/%u: %s came back as %s", lens[l], F(&v4), F(&back));
			cr_assert(cgn_rfc6052_is_canonical(&p, &v6));
			cr_assert_eq(cgn_rfc6052_find(&p, 1, &v6), 0);
		}
	}
}

Test(rfc6052, refused_lengths)
{
	struct cgn_addr v4 = A("192.0.2.33"), v6 = A("2001:db8:c000:221::"), out = A("::1");
	const struct cgn_addr before = out;
	static const unsigned bad[] = { 0, 8, 24, 31, 33, 60, 72, 80, 88, 95, 97, 104, 112, 120, 128 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cgn_prefix p = { .addr = A("2001:db8::"), .len = (uint8_t)bad[i] };
		cr_assert_not(cgn_rfc6052_len_valid(bad[i]), "/%u", bad[i]);
		cr_assert_eq(cgn_rfc6052_embed(&p, &v4, &out), -EINVAL, "/%u", bad[i]);
		cr_assert_eq(cgn_rfc6052_extract(&p, &v6, &out), -EINVAL, "/%u", bad[i]);
		cr_assert(cgn_addr_eq(&out, &before), "/%u: the output is untouched", bad[i]);
		cr_assert_not(cgn_rfc6052_is_canonical(&p, &v6));
		const char *why = NULL;
		cr_assert_eq(cgn_rfc6052_prefix_check(&p, &why), -EINVAL, "/%u", bad[i]);
		cr_assert(why && strstr(why, "/32, /40, /48, /56, /64 or /96"), "/%u: %s", bad[i], why);
	}
}

Test(rfc6052, wrong_families)
{
	struct cgn_prefix p = P("64:ff9b::/96");
	struct cgn_addr out = A("::1");
	struct cgn_addr v6 = A("2001:db8::1");
	cr_assert_eq(cgn_rfc6052_embed(&p, &v6, &out), -EAFNOSUPPORT, "an IPv6 address is not embedded");
	cr_assert(cgn_addr_eq(&out, &(struct cgn_addr){ .b = { [15] = 1 } }));
	cr_assert_eq(cgn_rfc6052_extract(&p, &v6, &out), -ENOENT, "not under the prefix");
	struct cgn_addr mapped = A("192.0.2.33");
	cr_assert_eq(cgn_rfc6052_extract(&p, &mapped, &out), -ENOENT, "an IPv4 address is under no Pref64");
	cr_assert_eq(cgn_rfc6052_extract(pP("2001:db8::/32"), pA("2001:db9::"), &out),
		     -ENOENT);
}

/*
 * The u octet (bits 64-71). Built: always zero. Read: RFC 6052 §2.3 removes it without a
 * condition, and §2.2 has translators ignore non-zero suffix bits; so a non-zero u octet (or
 * suffix) does not change the IPv4 address read, and is_canonical() tells such addresses
 * apart.
 */
Test(rfc6052, u_octet_and_suffix_on_extraction)
{
	struct cgn_addr v4;
	struct cgn_prefix p32 = P("2001:db8::/32"), p64 = P("2001:db8:122:344::/64");
	struct cgn_addr u_set = A("2001:db8:c000:221:ff00::");
	cr_assert_eq(cgn_rfc6052_extract(&p32, &u_set, &v4), 0);
	cr_assert(cgn_addr_eq(&v4, pA("192.0.2.33")), "%s", F(&v4));
	cr_assert_not(cgn_rfc6052_is_canonical(&p32, &u_set));

	struct cgn_addr suffix_set = A("2001:db8:c000:221:0:0:0:1");
	cr_assert_eq(cgn_rfc6052_extract(&p32, &suffix_set, &v4), 0);
	cr_assert(cgn_addr_eq(&v4, pA("192.0.2.33")));
	cr_assert_not(cgn_rfc6052_is_canonical(&p32, &suffix_set));

	/* /64: the u octet sits right after the prefix; the IPv4 address starts after it */
	struct cgn_addr u64 = A("2001:db8:122:344:80c0:2:2100::");
	cr_assert_eq(cgn_rfc6052_extract(&p64, &u64, &v4), 0);
	cr_assert(cgn_addr_eq(&v4, pA("192.0.2.33")), "%s", F(&v4));
	cr_assert_not(cgn_rfc6052_is_canonical(&p64, &u64));
	cr_assert(cgn_rfc6052_is_canonical(&p64, pA("2001:db8:122:344:c0:2:2100::")));
}

Test(rfc6052, u_octet_and_host_bits_of_prefixes)
{
	const char *why = NULL;
	/* §2.2: "When using a /96 Network-Specific Prefix, the administrators MUST ensure that
	 * the bits 64 to 71 are set to zero." */
	struct cgn_prefix p = P("2001:db8:122:344:100::/96");
	cr_assert_eq(cgn_rfc6052_prefix_check(&p, &why), -EINVAL);
	cr_assert(strstr(why, "bits 64-71"), "%s", why);
	cr_assert_eq(cgn_rfc6052_prefix_check(pP("2001:db8:122:344:0:1::/96"), NULL), 0);
	/* Shorter prefixes end before bit 64: their bits 64-71 are host bits. */
	p = (struct cgn_prefix){ A("2001:db8:122:344:100::"), 64 };
	cr_assert_eq(cgn_rfc6052_prefix_check(&p, &why), -EINVAL);
	cr_assert(strstr(why, "host bits"), "%s", why);
	/* embedding reads only the prefix's len bits: host bits set by hand do not leak */
	struct cgn_addr v6;
	cr_assert_eq(cgn_rfc6052_embed(&p, pA("192.0.2.33"), &v6), 0);
	cr_assert(cgn_addr_eq(&v6, pA("2001:db8:122:344:c0:2:2100::")), "%s", F(&v6));
}

Test(rfc6052, refused_prefixes)
{
	static const struct {
		const char *prefix, *why;
	} cases[] = {
		{ "192.0.2.0/24", "IPv6 prefix" },
		{ "::ffff:0:0/96", "IPv6 prefix" },
		{ "64:ff9b::/64", "Well-Known Prefix" },
		{ "64:ff9b::/32", "Well-Known Prefix" },
		{ "::/96", "::/n" },
		{ "::/32", "::/n" },
		{ "ff0e::/32", "multicast" },
		{ "fe80::/64", "link-local" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cgn_prefix p = P(cases[i].prefix);
		const char *why = NULL;
		cr_assert_eq(cgn_rfc6052_prefix_check(&p, &why), -EINVAL, "%s", cases[i].prefix);
		cr_assert(why && strstr(why, cases[i].why), "%s: %s", cases[i].prefix, why);
	}
	/* the Well-Known Prefix itself, and RFC 8215's local-use 64:ff9b:1::/48 next to it */
	cr_assert_eq(cgn_rfc6052_prefix_check(pP("64:ff9b::/96"), NULL), 0);
	cr_assert_eq(cgn_rfc6052_prefix_check(pP("64:ff9b:1::/48"), NULL), 0);
}

Test(rfc6052, wkp)
{
	cr_assert(cgn_rfc6052_is_wkp(pP("64:ff9b::/96")));
	cr_assert_not(cgn_rfc6052_is_wkp(pP("64:ff9b:1::/96")));
	cr_assert_not(cgn_rfc6052_is_wkp(pP("2001:db8::/96")));
	struct cgn_prefix short_wkp = P("64:ff9b::/96");
	short_wkp.len = 64;
	cr_assert_not(cgn_rfc6052_is_wkp(&short_wkp), "the length is part of it");
}

Test(rfc6052, find_in_a_list)
{
	struct cgn_prefix list[] = { P("2001:db8:100::/40"), P("64:ff9b::/96"), P("2001:db8:122:344::/64"),
				     P("2001:db8:122::/48") };
	cr_assert_eq(cgn_rfc6052_find(list, 4, pA("64:ff9b::192.0.2.33")), 1);
	cr_assert_eq(cgn_rfc6052_find(list, 4, pA("2001:db8:1c0:2:21::")), 0);
	/* 2001:db8:122:344::/64 lies inside 2001:db8:122::/48: the longer one is the one */
	cr_assert_eq(cgn_rfc6052_find(list, 4, pA("2001:db8:122:344:c0:2:2100::")), 2);
	cr_assert_eq(cgn_rfc6052_find(list, 4, pA("2001:db8:122:c000:2:2100::")), 3);
	cr_assert_eq(cgn_rfc6052_find(list, 4, pA("2001:db9::1")), -ENOENT);
	cr_assert_eq(cgn_rfc6052_find(list, 4, pA("192.0.2.33")), -ENOENT);
	cr_assert_eq(cgn_rfc6052_find(list, 0, pA("64:ff9b::1")), -ENOENT, "an empty list holds nothing");
}

/* RFC 6052 §3.1: the Well-Known Prefix only with global IPv4 addresses. */
Test(rfc6052, global_v4)
{
	static const char *const non_global[] = {
		"0.1.2.3",	   "10.0.0.1",	     "10.255.255.255", "100.64.0.1",    "100.127.255.255", "127.0.0.1",
		"169.254.1.1",	   "172.16.0.1",     "172.31.255.255", "192.0.0.8",     "192.0.2.33",	   "192.88.99.1",
		"192.168.1.1",	   "198.18.0.1",     "198.19.255.255", "198.51.100.7",  "203.0.113.9",	   "224.0.0.1",
		"239.255.255.255", "240.0.0.1",	     "255.255.255.255",
	};
	static const char *const global[] = { "1.1.1.1",   "8.8.8.8",	   "100.63.255.255", "100.128.0.0",
					      "172.15.255.255", "172.32.0.0", "192.0.1.255", "192.0.3.0",
					      "192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255" };
	for (size_t i = 0; i < sizeof(non_global) / sizeof(non_global[0]); i++)
		cr_assert_not(cgn_rfc6052_v4_is_global(pA(non_global[i])), "%s", non_global[i]);
	for (size_t i = 0; i < sizeof(global) / sizeof(global[0]); i++)
		cr_assert(cgn_rfc6052_v4_is_global(pA(global[i])), "%s", global[i]);
	cr_assert_not(cgn_rfc6052_v4_is_global(pA("2001:db8::1")), "not IPv4");
}

Test(rfc6052, in_place)
{
	struct cgn_prefix p = P("2001:db8:122::/48");
	struct cgn_addr a = A("192.0.2.33");
	cr_assert_eq(cgn_rfc6052_embed(&p, &a, &a), 0);
	cr_assert(cgn_addr_eq(&a, pA("2001:db8:122:c000:2:2100::")), "%s", F(&a));
	cr_assert_eq(cgn_rfc6052_extract(&p, &a, &a), 0);
	cr_assert(cgn_addr_eq(&a, pA("192.0.2.33")), "%s", F(&a));
}
