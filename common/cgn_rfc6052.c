/*
 * IPv4-embedded IPv6 addresses (RFC 6052 §2; see cgn_rfc6052.h). One loop does both
 * directions for every length: the IPv4 octets follow the prefix, stepping over the u octet.
 */
#include "cgn_rfc6052.h"

#include <errno.h>
#include <string.h>

bool
cgn_rfc6052_len_valid(unsigned len)
{
	switch (len) {
	case 32: case 40: case 48: case 56: case 64: case 96:
		return true;
	default:
		return false;
	}
}

/* 64:ff9b::/96 (RFC 6052 §2.1) */
static const struct cgn_prefix wkp = { .addr = { .b = { 0x00, 0x64, 0xff, 0x9b } }, .len = 96 };

bool
cgn_rfc6052_is_wkp(const struct cgn_prefix *p)
{
	return p->len == wkp.len && cgn_addr_eq(&p->addr, &wkp.addr);
}

/* The octets of the IPv6 address the IPv4 octets go to under a prefix of len bits (a valid
 * length): "Concatenate the prefix, the 32 bits of the IPv4 address, and the suffix", "insert
 * the null octet u" at bits 64-71 (RFC 6052 §2.3). Every valid length is a multiple of 8. */
static void
v4_octets(unsigned len, unsigned pos[4])
{
	unsigned at = len / 8;
	for (unsigned i = 0; i < 4; i++) {
		if (at == CGN_RFC6052_U_OCTET)
			at++;
		pos[i] = at++;
	}
}

int
cgn_rfc6052_embed(const struct cgn_prefix *pref64, const struct cgn_addr *v4, struct cgn_addr *v6)
{
	unsigned pos[4];

	if (!cgn_rfc6052_len_valid(pref64->len))
		return -EINVAL;
	if (!cgn_addr_is_v4(v4))
		return -EAFNOSUPPORT;
	v4_octets(pref64->len, pos);
	struct cgn_addr out = { .b = { 0 } }; /* u and suffix zero */
	memcpy(out.b, pref64->addr.b, pref64->len / 8);
	for (unsigned i = 0; i < 4; i++)
		out.b[pos[i]] = v4->b[12 + i];
	*v6 = out;
	return 0;
}

int
cgn_rfc6052_extract(const struct cgn_prefix *pref64, const struct cgn_addr *v6, struct cgn_addr *v4)
{
	unsigned pos[4];
	uint8_t octets[4];

	if (!cgn_rfc6052_len_valid(pref64->len))
		return -EINVAL;
	if (!cgn_prefix_contains(pref64, v6))
		return -ENOENT;
	v4_octets(pref64->len, pos);
	for (unsigned i = 0; i < 4; i++)
		octets[i] = v6->b[pos[i]];
	uint32_t be;
	memcpy(&be, octets, 4);
	*v4 = cgn_addr_from_v4(be);
	return 0;
}

bool
cgn_rfc6052_is_canonical(const struct cgn_prefix *pref64, const struct cgn_addr *v6)
{
	struct cgn_addr v4, again;
	return cgn_rfc6052_extract(pref64, v6, &v4) == 0 && cgn_rfc6052_embed(pref64, &v4, &again) == 0 &&
	       cgn_addr_eq(&again, v6);
}

int
cgn_rfc6052_find(const struct cgn_prefix *list, unsigned n, const struct cgn_addr *v6)
{
	int best = -ENOENT;
	for (unsigned i = 0; i < n; i++)
		if (cgn_prefix_contains(&list[i], v6) && (best < 0 || list[i].len > list[best].len))
			best = (int)i;
	return best;
}

static bool
host_bits_zero(const struct cgn_prefix *p)
{
	for (unsigned bit = p->len; bit < 128; bit++)
		if (p->addr.b[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int
cgn_rfc6052_prefix_check(const struct cgn_prefix *p, const char **why)
{
	static const struct cgn_addr zero;
	const char *w = NULL;

	if (cgn_addr_is_v4(&p->addr) && p->len >= 96)
		w = "must be an IPv6 prefix (not IPv4, not IPv4-mapped ::ffff:0:0/96)";
	else if (!cgn_rfc6052_len_valid(p->len))
		w = "must be a /32, /40, /48, /56, /64 or /96 (RFC 6052 §2.2)";
	else if (!host_bits_zero(p))
		w = "must have zero host bits";
	else if (p->len > 64 && p->addr.b[CGN_RFC6052_U_OCTET] != 0)
		w = "must have bits 64-71 zero (the \"u\" octet, RFC 6052 §2.2)";
	else if (!cgn_rfc6052_is_wkp(p) && cgn_prefix_overlaps(p, &wkp))
		w = "holds the Well-Known Prefix 64:ff9b::/96, which is used only as a /96 (RFC 6052 §2.2)";
	else if (cgn_addr_eq(&p->addr, &zero)) /* the valid lengths that hold ::ffff:0:0/96 too */
		w = "must not be ::/n (IPv4-compatible addresses, ::1 among them)";
	else if (cgn_addr_is_multicast(&p->addr))
		w = "must not be multicast (ff00::/8)";
	else if (cgn_addr_is_link_local(&p->addr))
		w = "must not be link-local (fe80::/10)";
	if (why)
		*why = w;
	return w ? -EINVAL : 0;
}

bool
cgn_rfc6052_v4_is_global(const struct cgn_addr *v4)
{
	/* RFC 5735 §3's table, and RFC 6598's Shared Address Space: { first octets, length }. */
	static const struct {
		uint8_t net[4];
		uint8_t len;
	} special[] = {
		{ { 0, 0, 0, 0 }, 8 },         /* "this" network */
		{ { 10, 0, 0, 0 }, 8 },        /* private use, RFC 1918 */
		{ { 100, 64, 0, 0 }, 10 },     /* Shared Address Space, RFC 6598 */
		{ { 127, 0, 0, 0 }, 8 },       /* loopback */
		{ { 169, 254, 0, 0 }, 16 },    /* link local */
		{ { 172, 16, 0, 0 }, 12 },     /* private use, RFC 1918 */
		{ { 192, 0, 0, 0 }, 24 },      /* IETF protocol assignments */
		{ { 192, 0, 2, 0 }, 24 },      /* TEST-NET-1 */
		{ { 192, 88, 99, 0 }, 24 },    /* 6to4 relay anycast */
		{ { 192, 168, 0, 0 }, 16 },    /* private use, RFC 1918 */
		{ { 198, 18, 0, 0 }, 15 },     /* benchmarking */
		{ { 198, 51, 100, 0 }, 24 },   /* TEST-NET-2 */
		{ { 203, 0, 113, 0 }, 24 },    /* TEST-NET-3 */
		{ { 224, 0, 0, 0 }, 4 },       /* multicast */
		{ { 240, 0, 0, 0 }, 4 },       /* reserved, and 255.255.255.255 */
	};
	if (!cgn_addr_is_v4(v4))
		return false;
	/* Per packet (classify6, translate46): host-order words and masks, no prefix objects. */
	uint32_t a = (uint32_t)v4->b[12] << 24 | (uint32_t)v4->b[13] << 16 | (uint32_t)v4->b[14] << 8 | v4->b[15];
	for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
		uint32_t net = (uint32_t)special[i].net[0] << 24 | (uint32_t)special[i].net[1] << 16 |
			       (uint32_t)special[i].net[2] << 8 | special[i].net[3];
		uint32_t mask = ~UINT32_C(0) << (32 - special[i].len);
		if ((a & mask) == net)
			return false;
	}
	return true;
}
