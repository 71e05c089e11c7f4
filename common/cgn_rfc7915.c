/*
 * RFC 7915's ICMP type/code maps, Parameter Problem pointer maps and MTU arithmetic as
 * tables, and the small header rules (see cgn_rfc7915.h). The tables are read-only data
 * written once, here, in the order and the words of the RFC's lists, so that a row can be
 * checked against the RFC by eye (pf's pf_translate_icmp_af() does the same with a switch;
 * tables keep each direction's map in one place). Pure functions: any thread.
 */
#include "cgn_rfc7915.h"

#include <errno.h>
#include <stddef.h>

#include "cgn_proto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

const char *
cgn_rfc7915_drop_name(enum cgn_rfc7915_drop r)
{
	static const char *const names[CGN_RFC7915_DROP_COUNT] = {
		[CGN_RFC7915_OK] = "OK",
#define X(name, doc) [CGN_RFC7915_DROP_##name] = #name,
		CGN_RFC7915_DROP_REASONS(X)
#undef X
	};
	return (unsigned)r < CGN_RFC7915_DROP_COUNT ? names[r] : "?";
}

/* ---- the type/code tables ------------------------------------------------------------------ */

/*
 * One row: either a translation (rest != CGN_RFC7915_REST_NONE) or a drop (drop != OK). A row
 * left all zero (a hole in a designated-initializer table) is neither: the lookup reads it as
 * an unknown type or code, so that whatever the RFC does not list is dropped.
 */
struct xlat_row {
	uint8_t drop;      /* enum cgn_rfc7915_drop */
	uint8_t type;
	uint8_t code;
	uint8_t rest;      /* enum cgn_rfc7915_rest */
	uint8_t pointer;   /* CGN_RFC7915_REST_POINTER_SET */
	bool keep_code;    /* "The Code is unchanged": code copied, .code unused */
};

/* A type: one row for all its codes (codes == NULL), or a row per code. */
struct type_row {
	const struct xlat_row *codes;
	uint8_t ncodes;
	struct xlat_row all;
};

#define XLAT(t, c, r) { .drop = CGN_RFC7915_OK, .type = (t), .code = (c), .rest = CGN_RFC7915_REST_##r }
#define XLAT_KEEP(t, r) { .drop = CGN_RFC7915_OK, .type = (t), .rest = CGN_RFC7915_REST_##r, .keep_code = true }
#define DROP(why) { .drop = CGN_RFC7915_DROP_##why }
#define ALL(row) { .all = row }
#define BY_CODE(table) { .codes = (table), .ncodes = ARRAY_SIZE(table) }

/* RFC 7915 §4.2, ICMPv4 error messages, Destination Unreachable (Type 3): "Translate the Code
 * as follows". Codes above 15: "Other Code values: Silently drop." */
static const struct xlat_row dest_unreach_4to6[] = {
	/* "Code 0, 1 (Net Unreachable, Host Unreachable): Set the Code to 0 (No route to
	 * destination)." */
	[CGN_ICMP_NET_UNREACH] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	[CGN_ICMP_HOST_UNREACH] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	/* "Code 2 (Protocol Unreachable): Translate to an ICMPv6 Parameter Problem (Type 4, Code 1)
	 * and make the Pointer point to the IPv6 Next Header field." (octet 6, RFC 8200 §3) */
	[CGN_ICMP_PROTOCOL_UNREACH] = { .drop = CGN_RFC7915_OK, .type = CGN_ICMP6_PARAM_PROB,
					.code = CGN_ICMP6_UNRECOGNIZED_NH,
					.rest = CGN_RFC7915_REST_POINTER_SET, .pointer = 6 },
	/* "Code 3 (Port Unreachable): Set the Code to 4 (Port unreachable)." */
	[CGN_ICMP_PORT_UNREACH] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_PORT_UNREACH, LENGTH),
	/* "Code 4 (Fragmentation Needed and DF was Set): Translate to an ICMPv6 Packet Too Big
	 * message (Type 2) with Code set to 0." The MTU: cgn_rfc7915_ptb_mtu_4to6(). */
	[CGN_ICMP_FRAG_NEEDED] = XLAT(CGN_ICMP6_PACKET_TOO_BIG, 0, MTU),
	/* "Code 5 (Source Route Failed): Set the Code to 0 (No route to destination)." */
	[CGN_ICMP_SOURCE_ROUTE_FAILED] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	/* "Code 6, 7, 8: Set the Code to 0 (No route to destination)." */
	[CGN_ICMP_NET_UNKNOWN] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	[CGN_ICMP_HOST_UNKNOWN] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	[CGN_ICMP_HOST_ISOLATED] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	/* "Code 9, 10 (Communication with Destination Host Administratively Prohibited): Set the
	 * Code to 1 (Communication with destination administratively prohibited)." */
	[CGN_ICMP_NET_PROHIBITED] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_ADMIN_PROHIBITED, LENGTH),
	[CGN_ICMP_HOST_PROHIBITED] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_ADMIN_PROHIBITED, LENGTH),
	/* "Code 11, 12: Set the Code to 0 (No route to destination)." */
	[CGN_ICMP_NET_UNREACH_TOS] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	[CGN_ICMP_HOST_UNREACH_TOS] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, LENGTH),
	/* "Code 13 (Communication Administratively Prohibited): Set the Code to 1" */
	[CGN_ICMP_ADMIN_PROHIBITED] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_ADMIN_PROHIBITED, LENGTH),
	/* "Code 14 (Host Precedence Violation): Silently drop." */
	[CGN_ICMP_HOST_PRECEDENCE] = DROP(NO_COUNTERPART),
	/* "Code 15 (Precedence cutoff in effect): Set the Code to 1" */
	[CGN_ICMP_PRECEDENCE_CUTOFF] = XLAT(CGN_ICMP6_DST_UNREACH, CGN_ICMP6_ADMIN_PROHIBITED, LENGTH),
};

/* §4.2, Parameter Problem (Type 12). "Other Code values: Silently drop." */
static const struct xlat_row param_problem_4to6[] = {
	/* "Code 0 (Pointer indicates the error): Set the Code to 0 (Erroneous header field
	 * encountered) and update the pointer as defined in Figure 3." */
	[CGN_ICMP_PARAM_POINTER] = XLAT(CGN_ICMP6_PARAM_PROB, CGN_ICMP6_ERR_HEADER_FIELD, POINTER),
	/* "Code 1 (Missing a required option): Silently drop." */
	[CGN_ICMP_PARAM_MISSING_OPTION] = DROP(NO_COUNTERPART),
	/* "Code 2 (Bad length): Set the Code to 0 (Erroneous header field encountered) and update
	 * the pointer as defined in Figure 3." */
	[CGN_ICMP_PARAM_BAD_LENGTH] = XLAT(CGN_ICMP6_PARAM_PROB, CGN_ICMP6_ERR_HEADER_FIELD, POINTER),
};

/* §4.2, by ICMPv4 type. A type not here: "Unknown ICMPv4 types: Silently drop." */
static const struct type_row icmp_4to6[256] = {
	/* "Echo and Echo Reply (Type 8 and Type 0): Adjust the Type values to 128 and 129" */
	[CGN_ICMP_ECHO] = ALL(XLAT_KEEP(CGN_ICMP6_ECHO_REQUEST, COPY)),
	[CGN_ICMP_ECHO_REPLY] = ALL(XLAT_KEEP(CGN_ICMP6_ECHO_REPLY, COPY)),
	/* "Information Request/Reply (Type 15 and Type 16): Obsoleted in ICMPv6. Silently drop."
	 * Likewise Timestamp (13, 14) and Address Mask (17, 18). */
	[CGN_ICMP_INFO_REQUEST] = ALL(DROP(OBSOLETE)),
	[CGN_ICMP_INFO_REPLY] = ALL(DROP(OBSOLETE)),
	[CGN_ICMP_TIMESTAMP] = ALL(DROP(OBSOLETE)),
	[CGN_ICMP_TIMESTAMP_REPLY] = ALL(DROP(OBSOLETE)),
	[CGN_ICMP_ADDR_MASK_REQUEST] = ALL(DROP(OBSOLETE)),
	[CGN_ICMP_ADDR_MASK_REPLY] = ALL(DROP(OBSOLETE)),
	/* "ICMP Router Advertisement (Type 9): Single-hop message. Silently drop." (and 10) */
	[CGN_ICMP_ROUTER_ADVERT] = ALL(DROP(SINGLE_HOP)),
	[CGN_ICMP_ROUTER_SOLICIT] = ALL(DROP(SINGLE_HOP)),
	/* Errors. "Destination Unreachable (Type 3): Translate the Code as described below, set
	 * the Type to 1" */
	[CGN_ICMP_DEST_UNREACH] = BY_CODE(dest_unreach_4to6),
	/* "Redirect (Type 5): Single-hop message. Silently drop." */
	[CGN_ICMP_REDIRECT] = ALL(DROP(SINGLE_HOP)),
	/* "Alternative Host Address (Type 6): Silently drop." */
	[CGN_ICMP_ALT_HOST_ADDR] = ALL(DROP(NO_COUNTERPART)),
	/* "Source Quench (Type 4): Obsoleted in ICMPv6. Silently drop." */
	[CGN_ICMP_SOURCE_QUENCH] = ALL(DROP(OBSOLETE)),
	/* "Time Exceeded (Type 11): Set the Type to 3 [...] The Code is unchanged." */
	[CGN_ICMP_TIME_EXCEEDED] = ALL(XLAT_KEEP(CGN_ICMP6_TIME_EXCEEDED, LENGTH)),
	/* "Parameter Problem (Type 12): Set the Type to 4" */
	[CGN_ICMP_PARAM_PROBLEM] = BY_CODE(param_problem_4to6),
};

/* RFC 7915 §5.2, ICMPv6 error messages, Destination Unreachable (Type 1): "Set the Type to 3".
 * Codes above 4 (5 and 6 among them): "Other Code values: Silently drop." */
static const struct xlat_row dest_unreach_6to4[] = {
	/* "Code 0 (No route to destination): Set the Code to 1 (Host unreachable)." */
	[CGN_ICMP6_NO_ROUTE] = XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_HOST_UNREACH, LENGTH),
	/* "Code 1 (Communication with destination administratively prohibited): Set the Code to
	 * 10 (Communication with destination host administratively prohibited)." */
	[CGN_ICMP6_ADMIN_PROHIBITED] = XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_HOST_PROHIBITED, LENGTH),
	/* "Code 2 (Beyond scope of source address): Set the Code to 1 (Host unreachable)." */
	[CGN_ICMP6_BEYOND_SCOPE] = XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_HOST_UNREACH, LENGTH),
	/* "Code 3 (Address unreachable): Set the Code to 1 (Host unreachable)." */
	[CGN_ICMP6_ADDR_UNREACH] = XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_HOST_UNREACH, LENGTH),
	/* "Code 4 (Port unreachable): Set the Code to 3 (Port unreachable)." */
	[CGN_ICMP6_PORT_UNREACH] = XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_PORT_UNREACH, LENGTH),
};

/* §5.2, Parameter Problem (Type 4). The RFC lists codes 0-2 only; a later code (RFC 7112's 3,
 * for one) is not listed: dropped as unknown. */
static const struct xlat_row param_problem_6to4[] = {
	/* "Code 0 (Erroneous header field encountered): Set to Type 12, Code 0, and update the
	 * pointer as defined in Figure 6." */
	[CGN_ICMP6_ERR_HEADER_FIELD] = XLAT(CGN_ICMP_PARAM_PROBLEM, CGN_ICMP_PARAM_POINTER, POINTER),
	/* "Code 1 (Unrecognized Next Header type encountered): Translate this to an ICMPv4
	 * protocol unreachable (Type 3, Code 2)." No RFC 4884 length: ICMPv6 Parameter Problem
	 * carries no extension, so the ICMPv4 rest of header is all zero. */
	[CGN_ICMP6_UNRECOGNIZED_NH] = XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_PROTOCOL_UNREACH, ZERO),
	/* "Code 2 (Unrecognized IPv6 option encountered): Silently drop." */
	[CGN_ICMP6_UNRECOGNIZED_OPT] = DROP(NO_COUNTERPART),
};

/* §5.2, by ICMPv6 type. A type not here: "Unknown informational messages: Silently drop.",
 * "Unknown error messages: Silently drop." */
static const struct type_row icmp_6to4[256] = {
	/* "Echo Request and Echo Reply (Type 128 and 129): Adjust the Type values to 8 and 0" */
	[CGN_ICMP6_ECHO_REQUEST] = ALL(XLAT_KEEP(CGN_ICMP_ECHO, COPY)),
	[CGN_ICMP6_ECHO_REPLY] = ALL(XLAT_KEEP(CGN_ICMP_ECHO_REPLY, COPY)),
	/* "MLD Multicast Listener Query/Report/Done (Type 130, 131, 132): Single-hop message." */
	[CGN_ICMP6_MLD_QUERY] = ALL(DROP(SINGLE_HOP)),
	[CGN_ICMP6_MLD_REPORT] = ALL(DROP(SINGLE_HOP)),
	[CGN_ICMP6_MLD_DONE] = ALL(DROP(SINGLE_HOP)),
	/* "Neighbor Discover messages (Type 133 through 137): Single-hop message." */
	[CGN_ND_ROUTER_SOLICIT] = ALL(DROP(SINGLE_HOP)),
	[CGN_ND_ROUTER_ADVERT] = ALL(DROP(SINGLE_HOP)),
	[CGN_ND_NEIGHBOR_SOLICIT] = ALL(DROP(SINGLE_HOP)),
	[CGN_ND_NEIGHBOR_ADVERT] = ALL(DROP(SINGLE_HOP)),
	[CGN_ND_REDIRECT] = ALL(DROP(SINGLE_HOP)),
	/* "Destination Unreachable (Type 1) Set the Type to 3" */
	[CGN_ICMP6_DST_UNREACH] = BY_CODE(dest_unreach_6to4),
	/* "Packet Too Big (Type 2): Translate to an ICMPv4 Destination Unreachable (Type 3) with
	 * Code 4". The MTU: cgn_rfc7915_ptb_mtu_6to4(). */
	[CGN_ICMP6_PACKET_TOO_BIG] = ALL(XLAT(CGN_ICMP_DEST_UNREACH, CGN_ICMP_FRAG_NEEDED, MTU)),
	/* "Time Exceeded (Type 3): Set the Type to 11 [...] The Code is unchanged." */
	[CGN_ICMP6_TIME_EXCEEDED] = ALL(XLAT_KEEP(CGN_ICMP_TIME_EXCEEDED, LENGTH)),
	/* "Parameter Problem (Type 4): Translate the Type and Code as follows" */
	[CGN_ICMP6_PARAM_PROB] = BY_CODE(param_problem_6to4),
};

static enum cgn_rfc7915_drop
lookup(const struct type_row *types, uint8_t type, uint8_t code, struct cgn_rfc7915_icmp *out)
{
	const struct type_row *t = &types[type];
	const struct xlat_row *r;

	if (t->codes != NULL) {
		if (code >= t->ncodes)
			return CGN_RFC7915_DROP_UNKNOWN_CODE;
		r = &t->codes[code];
		if (r->drop == CGN_RFC7915_OK && r->rest == CGN_RFC7915_REST_NONE)
			return CGN_RFC7915_DROP_UNKNOWN_CODE; /* a hole in the code table (none today:
			                                       * a guard for later edits) */
	} else {
		r = &t->all;
		if (r->drop == CGN_RFC7915_OK && r->rest == CGN_RFC7915_REST_NONE)
			return CGN_RFC7915_DROP_UNKNOWN_TYPE;
	}
	if (r->drop != CGN_RFC7915_OK)
		return (enum cgn_rfc7915_drop)r->drop;
	out->type = r->type;
	out->code = r->keep_code ? code : r->code;
	out->rest = r->rest;
	out->pointer = r->pointer;
	return CGN_RFC7915_OK;
}

enum cgn_rfc7915_drop
cgn_rfc7915_icmp_4to6(uint8_t type, uint8_t code, struct cgn_rfc7915_icmp *out)
{
	return lookup(icmp_4to6, type, code, out);
}

enum cgn_rfc7915_drop
cgn_rfc7915_icmp_6to4(uint8_t type, uint8_t code, struct cgn_rfc7915_icmp *out)
{
	return lookup(icmp_6to4, type, code, out);
}

/* ---- Parameter Problem pointers -------------------------------------------------------- */

#define NA (-1) /* "n/a", or not listed */

/* §4.2 Figure 3: Pointer Value for Translating from IPv4 to IPv6. Pointers 20 and above (into
 * IPv4 options) are not listed. */
static const int8_t pointer_4to6[20] = {
	[0] = 0,                          /* Version/IHL -> Version/Traffic Class */
	[1] = 1,                          /* Type Of Service -> Traffic Class/Flow Label */
	[2] = 4, [3] = 4,                 /* Total Length -> Payload Length */
	[4] = NA, [5] = NA,               /* Identification */
	[6] = NA,                         /* Flags/Fragment Offset */
	[7] = NA,                         /* Fragment Offset */
	[8] = 7,                          /* Time to Live -> Hop Limit */
	[9] = 6,                          /* Protocol -> Next Header */
	[10] = NA, [11] = NA,             /* Header Checksum */
	[12] = 8, [13] = 8, [14] = 8, [15] = 8,     /* Source Address */
	[16] = 24, [17] = 24, [18] = 24, [19] = 24, /* Destination Address */
};

/* §5.2 Figure 6: Pointer Value for Translating from IPv6 to IPv4. Pointers 40 and above are
 * not listed. */
static const int8_t pointer_6to4[40] = {
	[0] = 0,                          /* Version/Traffic Class -> Version/IHL, Type Of Ser */
	[1] = 1,                          /* Traffic Class/Flow Label -> Type Of Service */
	[2] = NA, [3] = NA,               /* Flow Label */
	[4] = 2, [5] = 2,                 /* Payload Length -> Total Length */
	[6] = 9,                          /* Next Header -> Protocol */
	[7] = 8,                          /* Hop Limit -> Time to Live */
	[8 ... 23] = 12,                  /* Source Address */
	[24 ... 39] = 16,                 /* Destination Address */
};

enum cgn_rfc7915_drop
cgn_rfc7915_pointer_4to6(uint8_t ptr4, uint32_t *ptr6)
{
	if (ptr4 >= ARRAY_SIZE(pointer_4to6) || pointer_4to6[ptr4] == NA)
		return CGN_RFC7915_DROP_POINTER;
	*ptr6 = (uint32_t)pointer_4to6[ptr4];
	return CGN_RFC7915_OK;
}

enum cgn_rfc7915_drop
cgn_rfc7915_pointer_6to4(uint32_t ptr6, uint8_t *ptr4)
{
	if (ptr6 >= ARRAY_SIZE(pointer_6to4) || pointer_6to4[ptr6] == NA)
		return CGN_RFC7915_DROP_POINTER;
	*ptr4 = (uint8_t)pointer_6to4[ptr6];
	return CGN_RFC7915_OK;
}

/* ---- MTU arithmetic -------------------------------------------------------------------- */

/* RFC 1191 §7, Table 7-1, the plateau column, greatest first. */
static const uint16_t rfc1191_plateaus[] = {
	65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
};

static uint32_t
min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

uint32_t
cgn_rfc7915_ptb_mtu_4to6(uint16_t mtu4, uint32_t mtu6_nexthop, uint32_t mtu4_nexthop,
			 uint16_t inner_tot_len)
{
	uint32_t mtu = mtu4;

	/* "Note that if the IPv4 router set the MTU field to zero, i.e., the router does not
	 * implement [RFC1191], then the translator MUST use the plateau values specified in
	 * [RFC1191] to determine a likely path MTU and include that path MTU in the ICMPv6
	 * packet. (Use the greatest plateau value that is less than the returned Total Length
	 * field, but that is larger than or equal to 1280.)" The table is in decreasing order:
	 * the first one below inner_tot_len is the greatest; if it is below 1280, none is, and mtu
	 * stays 0 for the floor below to make 1280. (With Table 7-1 the ">= 1280" test changes no
	 * result, as no plateau lies in [1260, 1280) where "+ 20" would lift it over the floor; it
	 * stays so that the code says what the RFC says, and holds for any other plateau list.) */
	if (mtu == 0) {
		for (size_t i = 0; i < ARRAY_SIZE(rfc1191_plateaus); i++) {
			if (rfc1191_plateaus[i] < inner_tot_len) {
				if (rfc1191_plateaus[i] >= CGN_IPV6_MIN_MTU)
					mtu = rfc1191_plateaus[i];
				break;
			}
		}
	}
	/* "The MTU field MUST be adjusted for the difference between the IPv4 and IPv6 header
	 * sizes, but MUST NOT be set to a value smaller than the minimum IPv6 MTU (1280 bytes).
	 * That is, it should be set to
	 *     maximum(1280, minimum((MTU value in the Packet Too Big Message) + 20,
	 *                           MTU_of_IPv6_nexthop, (MTU_of_IPv4_nexthop) + 20))."
	 * (+ 20 on a uint32_t from at most 65535 or a configured MTU: no overflow that matters;
	 * saturate all the same.) */
	uint32_t v4nh = mtu4_nexthop > UINT32_MAX - CGN_RFC7915_HDR_DIFF ? UINT32_MAX
									 : mtu4_nexthop + CGN_RFC7915_HDR_DIFF;
	mtu = min_u32(min_u32(mtu + CGN_RFC7915_HDR_DIFF, mtu6_nexthop), v4nh);
	return mtu < CGN_IPV6_MIN_MTU ? CGN_IPV6_MIN_MTU : mtu;
}

/* a - b, 0 when b > a. */
static uint32_t
sub_sat(uint32_t a, uint32_t b)
{
	return a > b ? a - b : 0;
}

enum cgn_rfc7915_drop
cgn_rfc7915_ptb_mtu_6to4(uint32_t mtu6, uint32_t mtu4_nexthop, uint32_t mtu6_nexthop,
			 bool inner_frag_hdr, uint16_t *mtu4)
{
	/* RFC 8201 §4: "If a node receives a Packet Too Big message reporting a next-hop MTU that
	 * is less than the IPv6 minimum link MTU, it must discard it." */
	if (mtu6 < CGN_IPV6_MIN_MTU)
		return CGN_RFC7915_DROP_PTB_MTU;
	/* "The MTU field MUST be adjusted for the difference between the IPv4 and IPv6 header
	 * sizes, taking into account whether or not the packet in error includes a Fragment
	 * Header, i.e., minimum((MTU value in the Packet Too Big Message)-20,
	 * MTU_of_IPv4_nexthop, (MTU_of_IPv6_nexthop)-20)." With a Fragment header the IPv6 packet
	 * was 48 octets of headers for IPv4's 20: 28 (see the header for this choice). */
	uint32_t diff = CGN_RFC7915_HDR_DIFF + (inner_frag_hdr ? CGN_IPV6_FRAG_HDR_LEN : 0);
	uint32_t mtu = min_u32(min_u32(sub_sat(mtu6, diff), mtu4_nexthop), sub_sat(mtu6_nexthop, diff));

	if (mtu < CGN_RFC7915_IPV4_MIN_MTU)
		mtu = CGN_RFC7915_IPV4_MIN_MTU;
	if (mtu > UINT16_MAX)
		mtu = UINT16_MAX;
	*mtu4 = (uint16_t)mtu;
	return CGN_RFC7915_OK;
}

enum cgn_rfc7915_frag6
cgn_rfc7915_frag6(bool df, bool is_fragment, uint32_t v4_payload_len, uint32_t lowest_ipv6_mtu,
		  uint32_t mtu6_nexthop)
{
	/* The IPv6 packet as §4.1 builds it: "Payload Length: Total length value from the IPv4
	 * header, minus the size of the IPv4 header and IPv4 options", "plus 8 for the Fragment
	 * Header" when there is one. */
	uint64_t len6 = (uint64_t)CGN_IPV6_HDR_LEN + v4_payload_len + (is_fragment ? CGN_IPV6_FRAG_HDR_LEN : 0);

	if (df) {
		/* "If the DF bit is set and the MTU of the next-hop interface is less than the
		 * total length value of the IPv4 packet plus 20, the translator MUST send an ICMPv4
		 * "Fragmentation Needed" error message". */
		if (len6 > mtu6_nexthop)
			return CGN_RFC7915_FRAG6_TOO_BIG;
	} else {
		/* "If the DF flag is not set and the IPv4 packet will result in an IPv6 packet
		 * larger than [...] "lowest-ipv6-mtu" [...], the packet SHOULD be fragmented so
		 * that the resulting IPv6 packet (with Fragment Header added to each fragment)
		 * will be less than or equal to lowest-ipv6-mtu". */
		if (len6 > min_u32(lowest_ipv6_mtu, mtu6_nexthop))
			return CGN_RFC7915_FRAG6_FRAGMENT;
	}
	/* §1.4: "an IPv6 Fragment Header is only included if the IPv4 packet is already
	 * fragmented"; "When the IPv4 sender does not set the DF bit, the translator MUST NOT
	 * include the Fragment Header for the non-fragmented IPv6 packets." */
	return is_fragment ? CGN_RFC7915_FRAG6_COPY : CGN_RFC7915_FRAG6_NONE;
}

uint32_t
cgn_rfc7915_frag6_payload_max(uint32_t limit)
{
	uint32_t room = sub_sat(limit, CGN_IPV6_HDR_LEN + CGN_IPV6_FRAG_HDR_LEN);

	return room & ~(uint32_t)(CGN_IPV6_FRAG_HDR_LEN - 1); /* 8-octet units */
}

uint16_t
cgn_rfc7915_frag_needed_mtu(uint32_t mtu6_nexthop)
{
	uint32_t mtu = sub_sat(mtu6_nexthop, CGN_RFC7915_HDR_DIFF);

	if (mtu < CGN_RFC7915_IPV4_MIN_MTU)
		mtu = CGN_RFC7915_IPV4_MIN_MTU;
	return mtu > UINT16_MAX ? UINT16_MAX : (uint16_t)mtu;
}

bool
cgn_rfc7915_df_6to4(uint32_t v4_total_len, bool has_frag_hdr)
{
	/* §5.1.1: "The IPv4 Don't Fragment (DF) flag is cleared (set to zero), allowing this
	 * packet to be further fragmented by IPv4 routers." */
	if (has_frag_hdr)
		return false;
	/* §5.1: "If the size of the translated IPv4 packet is less than or equal to 1260 bytes,
	 * it is set to zero; otherwise, it is set to one." */
	return v4_total_len > CGN_RFC7915_DF_THRESHOLD;
}

/* ---- Traffic Class, TTL -------------------------------------------------------------- */

uint8_t
cgn_rfc7915_tc_4to6(uint8_t tos, bool ignore_tos)
{
	return ignore_tos ? 0 : tos;
}

uint8_t
cgn_rfc7915_tos_6to4(uint8_t tc, bool ignore_tc, uint8_t tos_value)
{
	return ignore_tc ? tos_value : tc;
}

int
cgn_rfc7915_hop_limit(uint8_t in, bool inner, uint8_t *out)
{
	if (inner) {
		*out = in; /* §4.3, §5.3: the packet in error keeps its TTL / Hop Limit */
		return 0;
	}
	if (in <= 1)
		return -ETIMEDOUT;
	*out = (uint8_t)(in - 1);
	return 0;
}

#define IPV4_OPT_EOL 0         /* End of Option List (RFC 791) */
#define IPV4_OPT_NOP 1
#define IPV4_OPT_LSRR 131      /* Loose Source and Record Route */
#define IPV4_OPT_SSRR 137      /* Strict Source and Record Route */

/*
 * RFC 7915 §4.1: "if an unexpired source route option is present, then the packet MUST instead
 * be discarded". Walks n octets of IPv4 options; a malformed list ends the walk (options are
 * otherwise ignored, so nothing else depends on it). A route is unexpired while its pointer
 * does not exceed its length (RFC 791: "If the pointer is greater than the length, the source
 * route is empty").
 */
bool
cgn_rfc7915_source_route_unexpired(const uint8_t *opt, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t type = opt[i];
		if (type == IPV4_OPT_EOL)
			break;
		if (type == IPV4_OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			break;
		uint8_t olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			break;
		if ((type == IPV4_OPT_LSRR || type == IPV4_OPT_SSRR) && olen >= 3 && opt[i + 2] <= olen)
			return true;
		i += olen;
	}
	return false;
}
