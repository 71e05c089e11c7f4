/*
 * The pure core of IP/ICMP translation (RFC 7915) as stateful NAT64 (RFC 6146 §3.5, §3.6)
 * uses it: the decisions that need no packet, only values.
 *
 *   - the ICMPv4 -> ICMPv6 (§4.2) and ICMPv6 -> ICMPv4 (§5.2) type and code map, as two
 *     tables indexed by type (and by code where the code matters): each (type, code) is
 *     either translated to a (type, code) with a rule for the 32-bit rest of the header
 *     (struct cgn_rfc7915_icmp), or dropped for a named reason (enum cgn_rfc7915_drop)
 *     that the data plane counts;
 *   - the Parameter Problem pointer maps, both ways (§4.2 Figure 3, §5.2 Figure 6);
 *   - the Packet Too Big / Fragmentation Needed MTU arithmetic (§4.2 with RFC 1191's
 *     plateaus for an MTU of zero, §5.2), and the MTU of the Fragmentation Needed the
 *     translator itself sends for a DF packet too big for the IPv6 side (§4.1);
 *   - the small header rules: Traffic Class <-> TOS (§4.1, §5.1), TTL / Hop Limit
 *     (§4.1, §5.1, §4.3, §5.3), whether an IPv4 packet gets an IPv6 Fragment header
 *     (§1.4, §4.1), the IPv4 DF bit from IPv6 (§5, §5.1, §5.1.1).
 *
 * What the data plane does with the answers (rewrite headers, translate the packet in
 * error, checksums, RFC 4884 length attributes) lives in its translate steps, one direction
 * each; nothing here touches a packet. Every function is pure (no state, no allocation, no
 * lock, no syscall): any thread, the workers' fast path included.
 *
 * Where RFC 7915 leaves a choice, the comment at the function says which one is made here.
 */
#ifndef CGN_RFC7915_H
#define CGN_RFC7915_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* §5: "When the resulting IPv4 packet is smaller than or equal to 1260 bytes, the translator
 * MUST send the packet with a cleared Don't Fragment bit." 1260 = 1280 - (40 - 20). */
#define CGN_RFC7915_DF_THRESHOLD 1260

/* §4.1: "lowest-ipv6-mtu", "which defaults to 1280 bytes" (the configuration may raise it). */
#define CGN_RFC7915_LOWEST_IPV6_MTU_DEFAULT 1280

/* The IPv6 header (40) less the IPv4 header without options (20): what §4.2 adds to and §5.2
 * subtracts from an MTU. */
#define CGN_RFC7915_HDR_DIFF 20

/* RFC 791: "Every internet module must be able to forward a datagram of 68 octets without
 * further fragmentation"; the smallest IPv4 MTU (RFC 1191 Table 7-1's last plateau). */
#define CGN_RFC7915_IPV4_MIN_MTU 68

/* §4.1, Flow Label: "0 (all zero bits)". */
#define CGN_RFC7915_FLOW_LABEL 0

/* ICMPv4 Parameter Problem: the pointer is one octet, the first after the checksum (RFC 792);
 * ICMPv6 Parameter Problem: the pointer is the 32-bit field after it (RFC 4443 §3.4). */
#define CGN_RFC7915_PTR4_OFFSET 4
#define CGN_RFC7915_PTR6_OFFSET 4

/*
 * Why a message is not translated: each is "Silently drop" in RFC 7915's lists, and each is
 * a counter the data plane can show by name (cgn_drop.h's rule that nothing is dropped
 * silently, even where the RFC says "silently": no ICMP error is sent back, §4.4, §5.4).
 */
#define CGN_RFC7915_DROP_REASONS(X)                                                             \
	X(UNKNOWN_TYPE, "an ICMP type RFC 7915 does not list (§4.2, §5.2: unknown types, silently drop)") \
	X(UNKNOWN_CODE, "a code RFC 7915 does not list for its type (\"Other Code values: Silently drop\")") \
	X(SINGLE_HOP, "a single-hop message: router advertisement or solicitation, redirect, MLD, ND (§4.2, §5.2)") \
	X(OBSOLETE, "obsoleted in ICMPv6: information, timestamp, address mask, source quench (§4.2)") \
	X(NO_COUNTERPART, "a type or code the other family lacks: alternative host address, host precedence violation, missing a required option, unrecognized IPv6 option") \
	X(POINTER, "a Parameter Problem pointer that Figure 3 or 6 does not list, or lists as n/a") \
	X(PTB_MTU, "a Packet Too Big reporting an MTU below 1280 (RFC 8201 §4: \"it must discard it\")")

enum cgn_rfc7915_drop {
	CGN_RFC7915_OK = 0, /* translated */
#define X(name, doc) CGN_RFC7915_DROP_##name,
	CGN_RFC7915_DROP_REASONS(X)
#undef X
	CGN_RFC7915_DROP_COUNT
};

/** @return the name of a drop reason ("SINGLE_HOP"), "OK" for CGN_RFC7915_OK, "?" out of range. Any thread. */
const char *cgn_rfc7915_drop_name(enum cgn_rfc7915_drop r);

/*
 * What becomes of the ICMP header's second 32-bit word (octets 4-7, "rest of header") when a
 * message is translated.
 */
enum cgn_rfc7915_rest {
	CGN_RFC7915_REST_NONE = 0,   /* (not translated: a table hole; never returned with OK) */
	CGN_RFC7915_REST_COPY,       /* echo: identifier and sequence number copied (stateful
	                              * NAT64 then writes the session's identifier, RFC 6146 §3.5.3) */
	CGN_RFC7915_REST_LENGTH,     /* Destination Unreachable, Time Exceeded: unused octets zero;
	                              * the RFC 4884 length attribute (ICMPv4 octet 5, 32-bit words;
	                              * ICMPv6 octet 4, 64-bit words) is written for the translated
	                              * "original datagram" field, zero without extension (§4.2, §5.2
	                              * "ICMP Error Payload") */
	CGN_RFC7915_REST_ZERO,       /* all four octets zero (ICMPv6 4/1 -> ICMPv4 3/2: no length,
	                              * since an ICMPv6 Parameter Problem carries no extension) */
	CGN_RFC7915_REST_MTU,        /* Packet Too Big <-> Fragmentation Needed: the MTU computed
	                              * by cgn_rfc7915_ptb_mtu_4to6() / cgn_rfc7915_ptb_mtu_6to4()
	                              * (ICMPv4: octets 6-7, octets 4-5 zero; ICMPv6: octets 4-7) */
	CGN_RFC7915_REST_POINTER,    /* Parameter Problem: the pointer mapped by
	                              * cgn_rfc7915_pointer_4to6() / cgn_rfc7915_pointer_6to4()
	                              * (which may still drop: CGN_RFC7915_DROP_POINTER) */
	CGN_RFC7915_REST_POINTER_SET /* the pointer is the constant in .pointer (ICMPv4 3/2 ->
	                              * ICMPv6 4/1: the IPv6 Next Header field, octet 6) */
};

/** A translated ICMP type, code and rest-of-header rule. */
struct cgn_rfc7915_icmp {
	uint8_t type;
	uint8_t code;
	uint8_t rest;    /* enum cgn_rfc7915_rest */
	uint8_t pointer; /* for CGN_RFC7915_REST_POINTER_SET only; 0 otherwise */
};

/**
 * ICMPv4 -> ICMPv6 type and code (RFC 7915 §4.2):
 *   8 -> 128, 0 -> 129 (rest copied);
 *   3 (Destination Unreachable) -> 1: codes 0, 1, 5, 6, 7, 8, 11, 12 -> 0; 3 -> 4; 9, 10, 13,
 *     15 -> 1; code 2 -> Parameter Problem 4/1 with the pointer 6; code 4 -> Packet Too Big
 *     2/0 (MTU); code 14 and codes above 15 dropped;
 *   11 (Time Exceeded) -> 3, the code unchanged;
 *   12 (Parameter Problem) codes 0 and 2 -> 4/0 with the pointer mapped; others dropped;
 *   9, 10, 5 single-hop, 13-18 and 4 obsolete, 6 no counterpart, every other type unknown.
 * Echo keeps its code ("Adjust the Type values"; the code is not named, so it is copied).
 * @param out filled when the result is CGN_RFC7915_OK; left alone otherwise. Not NULL.
 * @return CGN_RFC7915_OK, or the reason to drop.
 * Any thread.
 */
enum cgn_rfc7915_drop cgn_rfc7915_icmp_4to6(uint8_t type, uint8_t code, struct cgn_rfc7915_icmp *out);

/**
 * ICMPv6 -> ICMPv4 type and code (RFC 7915 §5.2):
 *   128 -> 8, 129 -> 0 (rest copied);
 *   1 (Destination Unreachable) -> 3: codes 0, 2, 3 -> 1; 1 -> 10; 4 -> 3; others dropped;
 *   2 (Packet Too Big), any code -> 3/4 (MTU);
 *   3 (Time Exceeded) -> 11, the code unchanged;
 *   4 (Parameter Problem): code 0 -> 12/0 with the pointer mapped; code 1 -> 3/2; code 2
 *     dropped (no counterpart); other codes dropped as unknown;
 *   130-132 (MLD) and 133-137 (ND) single-hop, every other type unknown.
 * @param out filled when the result is CGN_RFC7915_OK; left alone otherwise. Not NULL.
 * @return CGN_RFC7915_OK, or the reason to drop.
 * Any thread.
 */
enum cgn_rfc7915_drop cgn_rfc7915_icmp_6to4(uint8_t type, uint8_t code, struct cgn_rfc7915_icmp *out);

/**
 * The Parameter Problem pointer, ICMPv4 -> ICMPv6 (§4.2 Figure 3): 0->0, 1->1, 2,3->4, 8->7,
 * 9->6, 12-15->8, 16-19->24; 4-7 and 10-11 are "n/a", 20 and above are not listed (IPv4
 * options): both drop ("If the Original IPv4 Pointer Value is not listed or the Translated
 * IPv6 Pointer Value is listed as "n/a", silently drop the packet.").
 * @param ptr6 receives the IPv6 pointer on CGN_RFC7915_OK. Not NULL.
 * @return CGN_RFC7915_OK or CGN_RFC7915_DROP_POINTER. Any thread.
 */
enum cgn_rfc7915_drop cgn_rfc7915_pointer_4to6(uint8_t ptr4, uint32_t *ptr6);

/**
 * The Parameter Problem pointer, ICMPv6 -> ICMPv4 (§5.2 Figure 6): 0->0, 1->1, 4,5->2, 6->9,
 * 7->8, 8-23->12, 24-39->16; 2,3 are "n/a" and 40 and above are not listed (extension
 * headers, the payload): both drop.
 * @param ptr4 receives the IPv4 pointer on CGN_RFC7915_OK. Not NULL.
 * @return CGN_RFC7915_OK or CGN_RFC7915_DROP_POINTER. Any thread.
 */
enum cgn_rfc7915_drop cgn_rfc7915_pointer_6to4(uint32_t ptr6, uint8_t *ptr4);

/**
 * The MTU of the ICMPv6 Packet Too Big made from an ICMPv4 Fragmentation Needed (§4.2):
 *     maximum(1280, minimum(mtu4 + 20, mtu6_nexthop, mtu4_nexthop + 20)).
 * When mtu4 is 0 (a router that predates RFC 1191), mtu4 is taken as the greatest RFC 1191
 * plateau (Table 7-1: 65535, 32000, 17914, 8166, 4352, 2002, 1492, ...) that is less than
 * inner_tot_len and at least 1280; when none is (inner_tot_len <= 1492), the 1280 floor holds.
 * Choice: the plateau stands for the IPv4 MTU the router did not write, so it goes through the
 * same formula (+ 20, the next hops) like any MTU4; the RFC says "include that path MTU", and
 * an IPv4 path MTU must still be "adjusted for the difference between the IPv4 and IPv6 header
 * sizes" (Jool does the same).
 * @param mtu4 the Next-Hop MTU field of the ICMPv4 message (octets 6-7).
 * @param mtu6_nexthop the MTU of the IPv6 link the translated message leaves by.
 * @param mtu4_nexthop the MTU of the IPv4 link the packet in error left by.
 * @param inner_tot_len the Total Length of the IPv4 packet in error (only read when mtu4 is 0).
 * @return the MTU to write in the ICMPv6 Packet Too Big, >= 1280. Any thread.
 */
uint32_t cgn_rfc7915_ptb_mtu_4to6(uint16_t mtu4, uint32_t mtu6_nexthop, uint32_t mtu4_nexthop,
				  uint16_t inner_tot_len);

/**
 * The MTU of the ICMPv4 Fragmentation Needed made from an ICMPv6 Packet Too Big (§5.2):
 *     minimum(mtu6 - 20, mtu4_nexthop, mtu6_nexthop - 20),
 * "taking into account whether or not the packet in error includes a Fragment Header".
 * Choices, where the RFC leaves one:
 *   - the formula only subtracts 20, the sentence before it asks to account for a Fragment
 *     header: with inner_frag_hdr the IPv6 terms lose 28 (40 + 8 - 20), the size difference
 *     between that IPv6 packet and its IPv4 form (Jool subtracts 20 always);
 *   - an mtu6 below 1280 is a drop (CGN_RFC7915_DROP_PTB_MTU), as RFC 8201 §4 has a node
 *     discard it; RFC 7915 says nothing of it;
 *   - the result is clamped to [68, 65535], the 16-bit field and IPv4's minimum MTU (only
 *     reachable with an mtu4_nexthop or mtu6_nexthop below the IPv4/IPv6 minimums).
 * @param mtu6 the MTU field of the ICMPv6 Packet Too Big (octets 4-7).
 * @param mtu4_nexthop the MTU of the IPv4 link the translated message leaves by.
 * @param mtu6_nexthop the MTU of the IPv6 link the packet in error left by.
 * @param inner_frag_hdr whether the IPv6 packet in error has a Fragment header.
 * @param mtu4 receives the MTU for the ICMPv4 message's octets 6-7 on CGN_RFC7915_OK. Not NULL.
 * @return CGN_RFC7915_OK or CGN_RFC7915_DROP_PTB_MTU. Any thread.
 */
enum cgn_rfc7915_drop cgn_rfc7915_ptb_mtu_6to4(uint32_t mtu6, uint32_t mtu4_nexthop,
					       uint32_t mtu6_nexthop, bool inner_frag_hdr,
					       uint16_t *mtu4);

/* What an IPv4 packet needs to become IPv6 (§1.4, §4.1). */
enum cgn_rfc7915_frag6 {
	CGN_RFC7915_FRAG6_NONE,     /* no Fragment header ("MUST NOT include the Fragment Header
	                             * for the non-fragmented IPv6 packets") */
	CGN_RFC7915_FRAG6_COPY,     /* the IPv4 packet is a fragment: one Fragment header, offset
	                             * and M copied, Identification = the IPv4 ID in the low 16
	                             * bits, Payload Length + 8 */
	CGN_RFC7915_FRAG6_FRAGMENT, /* DF clear and too big: fragment it, a Fragment header in each
	                             * fragment, none longer than the limit given
	                             * (cgn_rfc7915_frag6_payload_max()) */
	CGN_RFC7915_FRAG6_TOO_BIG,  /* DF set and too big for the IPv6 next hop: drop, send ICMPv4
	                             * 3/4 with cgn_rfc7915_frag_needed_mtu() */
};

/**
 * Whether an IPv4 packet translates to one IPv6 packet with or without a Fragment header, to
 * IPv6 fragments, or not at all (§1.4, §4.1). RFC 7915 already carries what RFC 8021 asks
 * (§2 item 2: atomic fragments deprecated): a DF-clear packet that fits gets no Fragment
 * header; only a packet that already is a fragment, or one the translator fragments, has one.
 *   - DF clear: "If the DF flag is not set and the IPv4 packet will result in an IPv6 packet
 *     larger than [...] "lowest-ipv6-mtu" [...] the packet SHOULD be fragmented"; the limit is
 *     the lesser of lowest-ipv6-mtu and the next hop's MTU (§1.4: the translator "MUST send a
 *     Packet Too Big error message or fragment the packet when the packet size exceeds the MTU
 *     of the next-hop interface").
 *   - DF set: "If the DF bit is set and the MTU of the next-hop interface is less than the
 *     total length value of the IPv4 packet plus 20, the translator MUST send an ICMPv4
 *     "Fragmentation Needed"". Choice: the size compared is that of the IPv6 packet actually
 *     built (payload + 40, + 8 for a fragment), which is total length + 20 without IPv4
 *     options and smaller with them (options are not translated, §4.1).
 * @param df the IPv4 DF flag.
 * @param is_fragment MF set or a non-zero fragment offset.
 * @param v4_payload_len Total Length less the IPv4 header and options.
 * @param lowest_ipv6_mtu lowest-ipv6-mtu (CGN_RFC7915_LOWEST_IPV6_MTU_DEFAULT or configured).
 * @param mtu6_nexthop the MTU of the IPv6 link the packet leaves by.
 * @return what to do. Any thread.
 */
enum cgn_rfc7915_frag6 cgn_rfc7915_frag6(bool df, bool is_fragment, uint32_t v4_payload_len,
					 uint32_t lowest_ipv6_mtu, uint32_t mtu6_nexthop);

/**
 * The most payload one IPv6 fragment may carry after its IPv6 and Fragment headers, for
 * CGN_RFC7915_FRAG6_FRAGMENT: (limit - 40 - 8), rounded down to a multiple of 8 (RFC 8200
 * §4.5: fragment offsets count 8-octet units). §4.1: "at most 1232 bytes (1280 minus 40 for
 * the IPv6 header and 8 for the Fragment Header)".
 * @param limit the lesser of lowest-ipv6-mtu and the next hop's MTU, >= 1280 by contract.
 * @return the payload per fragment (1232 at 1280); 0 if limit < 56. Any thread.
 */
uint32_t cgn_rfc7915_frag6_payload_max(uint32_t limit);

/**
 * The MTU to write in the ICMPv4 Fragmentation Needed the translator sends for
 * CGN_RFC7915_FRAG6_TOO_BIG. RFC 7915 §4.1 does not say which; this is the largest IPv4
 * packet (without options) whose translation fits the IPv6 next hop: mtu6_nexthop - 20,
 * clamped to [68, 65535].
 * @return the MTU for octets 6-7. Any thread.
 */
uint16_t cgn_rfc7915_frag_needed_mtu(uint32_t mtu6_nexthop);

/**
 * The IPv4 DF flag of a packet translated from IPv6 (§5.1, §5.1.1):
 *   - without a Fragment header: "If the size of the translated IPv4 packet is less than or
 *     equal to 1260 bytes, it is set to zero; otherwise, it is set to one.";
 *   - with one: "The IPv4 Don't Fragment (DF) flag is cleared (set to zero)".
 * @param v4_total_len the Total Length of the translated IPv4 packet.
 * @param has_frag_hdr whether the IPv6 packet has a Fragment header.
 * @return the DF flag. Any thread.
 */
bool cgn_rfc7915_df_6to4(uint32_t v4_total_len, bool has_frag_hdr);

/**
 * IPv6 Traffic Class from the IPv4 TOS octet (§4.1): "By default, copied from the IP Type Of
 * Service (TOS) octet. [...] An implementation of a translator SHOULD support an
 * administratively configurable option to ignore the IPv4 TOS and always set the IPv6 traffic
 * class (TC) to zero." Choice: "always [...] zero" is taken whole, the ECN bits included.
 * @param ignore_tos the configuration option.
 * @return tos, or 0 when ignore_tos. Any thread.
 */
uint8_t cgn_rfc7915_tc_4to6(uint8_t tos, bool ignore_tos);

/**
 * IPv4 TOS octet from the IPv6 Traffic Class (§5.1): "By default, copied from the IPv6 Traffic
 * Class (all 8 bits). [...] An implementation of a translator SHOULD provide the ability to
 * ignore the IPv6 traffic class and always set the IPv4 TOS Octet to a specified value."
 * @param ignore_tc the configuration option; when set, tos_value is used (all 8 bits).
 * @return tc, or tos_value when ignore_tc. Any thread.
 */
uint8_t cgn_rfc7915_tos_6to4(uint8_t tc, bool ignore_tc, uint8_t tos_value);

/**
 * The outgoing TTL / Hop Limit (§4.1, §5.1): "the translator is a router, as part of forwarding
 * the packet it needs to decrement either the IPv4 TTL (before the translation) or the IPv6
 * Hop Limit (after the translation). As part of decrementing the TTL or Hop Limit, the
 * translator (as any router) MUST check for zero and send the ICMPv4 "TTL Exceeded" or ICMPv6
 * "Hop Limit Exceeded" error." The packet in error inside an ICMP error is translated "except
 * the TTL value of the inner IPv4/IPv6 packet" (§4.3, §5.3): copied, never checked.
 * @param in the incoming TTL or Hop Limit.
 * @param inner true for the packet in error inside an ICMP error.
 * @param out receives the outgoing value on 0. Not NULL.
 * @return 0, or -ETIMEDOUT when an outer packet arrives with 0 or 1 (it would leave with 0):
 *         drop it and send Time Exceeded code 0 (ICMPv4 11/0 or ICMPv6 3/0). Any thread.
 */
int cgn_rfc7915_hop_limit(uint8_t in, bool inner, uint8_t *out);

/**
 * RFC 7915 §4.1: "if an unexpired source route option is present, then the packet MUST instead
 * be discarded". Walks n octets of IPv4 options (after the 20-octet header) with bounds; a
 * malformed list ends the walk. @return whether a loose or strict source route is unexpired
 * (its pointer not past its length, RFC 791). Any thread.
 */
bool cgn_rfc7915_source_route_unexpired(const uint8_t *opt, size_t n);

#endif /* CGN_RFC7915_H */
