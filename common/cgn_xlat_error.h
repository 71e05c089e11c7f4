/*
 * Translating the ICMP errors of stateful NAT64 (RFC 6146 §3.5, §3.7; RFC 7915 §4.2, §4.3, §5.2,
 * §5.3): an ICMPv4 error from the outside about a packet the NAT64 sent out becomes an ICMPv6
 * error to the subscriber, and an ICMPv6 error from the inside about a packet the NAT64 sent in
 * becomes an ICMPv4 error to the remote. Each call reads one whole packet (from its IP header)
 * and writes the whole translated packet into a buffer of the caller's; the data plane finds the
 * mapping first (from the quoted packet, RFC 6146 §3.4, addresses and ports swapped) and passes
 * what it needs in struct cgn_xlat_err46 / cgn_xlat_err64.
 *
 * What is translated, and how:
 *   - the outer header (RFC 7915 §4.1, §5.1): 4->6 source = embed(Pref64, the router's IPv4
 *     source) even when that source is not global ("the "illegal" source address will be
 *     translated for the purpose of trouble shooting", §4.1), destination = the subscriber's
 *     address; 6->4 source = the mapping's external address (the error may come from a router
 *     of the access network that has no IPv4 form), destination = the remote, extracted from
 *     the outer IPv6 destination. TTL / Hop Limit decremented once, TC <-> TOS as configured,
 *     DF by §5.1 (1 iff the IPv4 packet is longer than 1260), the IPv4 header checksum;
 *   - the ICMP header through cgn_rfc7915's tables: type and code, the Parameter Problem
 *     pointer, the Packet Too Big / Fragmentation Needed MTU (4->6 with RFC 1191's plateaus when
 *     the router wrote 0), the RFC 4884 length attribute;
 *   - the quoted packet "just like a normal IP packet" except its TTL / Hop Limit (§4.3, §5.3):
 *     addresses and the NAT64's port or echo identifier swapped back (RFC 6146 §3.7), its IPv4
 *     options dropped (4->6) or its Hop-by-Hop, Destination Options and Routing (segments left
 *     0) headers skipped (6->4), a first fragment keeping its fragment fields (Fragment header
 *     <-> IPv4 MF and ID), its lengths those of the original datagram (not of what the error
 *     carries), its TCP/UDP checksum updated incrementally for the pseudo-header and port
 *     change (RFC 1624; the quote may be cut, so it cannot be recomputed), an echo turned into
 *     the other family's echo (type, identifier, checksum with or without the pseudo-header);
 *   - checksums: the incoming ICMP checksum verified first (ICMPv6 over its pseudo-header), so
 *     that a corrupt message never leaves as a valid one (Jool does the same); the outgoing one
 *     computed over the whole message.
 *
 * Size: a 4->6 result is at most 1280 octets (RFC 4443 §2.4(c): "as much of invoking packet as
 * possible without the ICMPv6 packet exceeding the minimum IPv6 MTU"); a 6->4 result at most
 * 576 (RFC 1812 §4.3.2.3: "without the length of the ICMP datagram exceeding 576 bytes"; RFC
 * 4884 §7: a message with extensions "MUST NOT exceed the minimum reassembly buffer size");
 * either also at most the caller's cap. The quoted packet is cut to fit (its headers never).
 *
 * RFC 4884 extensions: translated, not dropped (RFC 7915 §4.2, §5.2 "the ... Extension length
 * attribute MUST be adjusted accordingly"). An extension is recognized by a non-zero length
 * attribute (ICMPv4 types 3, 11, 12: octet 5, 32-bit words; ICMPv6 types 1, 3: octet 4, 64-bit
 * words). When the translated message may carry one (ICMPv6 1 and 3, ICMPv4 3 and 11 with the
 * LENGTH rest-of-header rule), the "original datagram" field is translated, zero padded to the
 * other family's word (8 or 4 octets) and to at least 128 octets (RFC 4884 §3), the length
 * attribute written for it, and the extension copied after it as an opaque string (RFC 7915:
 * "passes the extensions as opaque bit strings"). Otherwise (Packet Too Big, Parameter
 * Problem, Fragmentation Needed, Protocol Unreachable: no length attribute on the other side)
 * the extension is left out and the length attribute is zero. Choice: where the extension
 * does not fit whole next to a 128-octet datagram field within the size limit, it is left out
 * rather than "simply truncated" (§4.2's SHOULD): a cut extension fails its own checksum and
 * object lengths (RFC 4884 §7, §8), a message without one stays whole. Only a message beyond
 * RFC 4884's own limits (576 octets for ICMPv4) gets there. The extension's contents are not
 * verified (its checksum is its receiver's business).
 *
 * Nothing is dropped silently: every refusal is a named reason (enum cgn_xlat_err_drop, its
 * first values the same as enum cgn_rfc7915_drop's) for the data plane's counters.
 *
 * Pure functions on their arguments (no state, no allocation, no lock, no syscall, no DPDK):
 * any thread, the workers' fast path included. Every read of the input is bounded by its
 * length; every write of the output by cap.
 */
#ifndef CGN_XLAT_ERROR_H
#define CGN_XLAT_ERROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgn_addr.h"
#include "cgn_rfc7915.h"

/* RFC 4443 §2.4(c): the most a 4->6 result may be (the minimum IPv6 MTU). */
#define CGN_XLAT_ERR_MAX6 1280
/* RFC 1812 §4.3.2.3, RFC 4884 §7: the most a 6->4 result may be. */
#define CGN_XLAT_ERR_MAX4 576
/* RFC 4884 §3: the least an "original datagram" field followed by an extension may be. */
#define CGN_XLAT_ERR_4884_MIN 128
/* The most IPv6 extension headers walked before the upper layer (outer or quoted). */
#define CGN_XLAT_ERR_MAX_EXT_HDRS 8

/* This module's own reasons, after cgn_rfc7915's (whose values they continue). */
#define CGN_XLAT_ERR_OWN_REASONS(X)                                                                \
	X(TRUNCATED, "shorter than its headers say, or too short for the ICMP header, the quoted IP header(s) and 8 octets of the quoted transport header (RFC 6146 §3.4: no tuple)") \
	X(MALFORMED, "a wrong IP version, an IHL below 5, a length below the header's, a jumbogram") \
	X(FRAGMENT, "the ICMP error itself is a fragment (IPv4 MF or offset, or an IPv6 Fragment header)") \
	X(SOURCE_ROUTE, "4->6: an unexpired IPv4 source route option (RFC 7915 §4.1: discard)")  \
	X(HOP_LIMIT, "the outer TTL / Hop Limit is 0 or 1 (the caller's check, repeated)")      \
	X(BAD_CHECKSUM, "the IPv4 header, ICMPv4 or ICMPv6 (pseudo-header included) checksum does not verify") \
	X(NOT_ERROR, "not an ICMP error: another protocol, or an echo (a query goes through the NAT64's query path)") \
	X(NESTED_ERROR, "the quoted packet is itself an ICMP error (RFC 6146 §3.4: silently discarded; RFC 7915 §4.3, §5.3)") \
	X(NOT_TRANSLATABLE, "the quoted packet is neither TCP, UDP nor an ICMP echo: no NAT64 mapping can own it") \
	X(INNER_FRAGMENT, "the quoted packet is a non-first fragment (no ports), or a fragment of an echo (its checksum covers a length the quote does not tell)") \
	X(EXT_HEADER, "an IPv6 extension header that is not skipped: a Routing header with segments left, an extension header after the Fragment header (RFC 7915 §5.1.1), a Hop-by-Hop header not first, more than CGN_XLAT_ERR_MAX_EXT_HDRS") \
	X(INNER_MISMATCH, "the quoted packet is not the mapping's: its NAT64-side address or port / echo identifier is not ext_addr:ext_port (4->6) or int_addr:int_port (6->4)") \
	X(OUTER_MISMATCH, "the error is not addressed to the quoted packet's source (4->6: ext_addr; 6->4: the quoted Pref64 source)") \
	X(NOT_PREF64, "6->4: the outer destination is not under pref64, or pref64 is not an RFC 6052 prefix; 4->6: pref64 is not") \
	X(EXTENSION, "an RFC 4884 length attribute that reaches past the end of the message")      \
	X(NO_ROOM, "cap is too small for the headers of the result")

/* Every reason: cgn_rfc7915's (the type/code, pointer and MTU tables), then this module's. */
#define CGN_XLAT_ERR_DROP_REASONS(X) CGN_RFC7915_DROP_REASONS(X) CGN_XLAT_ERR_OWN_REASONS(X)

/**
 * Why an error is not translated. CGN_XLAT_ERR_UNKNOWN_TYPE .. CGN_XLAT_ERR_PTB_MTU have the
 * values of CGN_RFC7915_DROP_UNKNOWN_TYPE .. CGN_RFC7915_DROP_PTB_MTU (checked at build time):
 * a cgn_rfc7915 answer converts by a cast.
 */
enum cgn_xlat_err_drop {
	CGN_XLAT_ERR_OK = 0,
#define X(name, doc) CGN_XLAT_ERR_##name,
	CGN_XLAT_ERR_DROP_REASONS(X)
#undef X
	CGN_XLAT_ERR_COUNT
};

/** @return the name of a reason ("NESTED_ERROR"), "OK" for CGN_XLAT_ERR_OK, "?" out of range. Any thread. */
const char *cgn_xlat_err_drop_name(enum cgn_xlat_err_drop r);

/** @return the one-line description of a reason, "" for OK, "?" out of range. Any thread. */
const char *cgn_xlat_err_drop_doc(enum cgn_xlat_err_drop r);

/*
 * 4->6: an ICMPv4 error that came from the outside about a packet the NAT64 sent out (its
 * quoted packet: source = ext_addr:ext_port, destination = a remote IPv4 D:d).
 * ext_addr and ext_port were added to the lead's interface: the quoted packet (and the error's
 * destination) are checked against them (CGN_XLAT_ERR_INNER_MISMATCH, _OUTER_MISMATCH).
 */
struct cgn_xlat_err46 {
	const struct cgn_prefix *pref64; /* embeds every IPv4 address that is not ours */
	struct cgn_addr int_addr;        /* the subscriber's IPv6 address: replaces ext_addr */
	uint16_t int_port;               /* host order; replaces ext_port (TCP/UDP source port, ICMP
	                                  * echo identifier) in the quoted packet */
	uint32_t ext_addr;               /* network order: the quoted source and the error's destination */
	uint16_t ext_port;               /* host order: the quoted source port / echo identifier */
	uint32_t mtu6_nexthop;           /* the IPv6 side's MTU (PTB arithmetic) */
	uint32_t mtu4_nexthop;           /* the IPv4 side's MTU */
	bool reset_tc;                   /* TC 0 instead of the TOS (outer and quoted) */
};

/**
 * Translates an ICMPv4 error into an ICMPv6 error (RFC 7915 §4.2, §4.3; RFC 6146 §3.7).
 *
 * Checked, in this order, each failure a reason: the outer IPv4 header (version, IHL, total
 * length within len, header checksum, not a fragment, no unexpired source route, protocol
 * ICMP, TTL > 1, destination ext_addr), the ICMPv4 checksum, the type and code (an error RFC
 * 7915 translates), the RFC 4884 length attribute, the quoted IPv4 header (version, IHL, source
 * ext_addr, not a non-first fragment), the quoted transport (TCP/UDP with source port ext_port,
 * or an unfragmented ICMP echo with identifier ext_port; an ICMP error there: NESTED_ERROR).
 *
 * Written: IPv6 header (TC from the TOS or 0, flow label 0, hop limit = TTL - 1, source =
 * embed(pref64, the IPv4 source), destination = int_addr), ICMPv6 header (checksum over the
 * pseudo-header), the quoted packet as IPv6 (TC, flow 0, payload length = its IPv4 total length
 * - IHL (+ 8 with a Fragment header), hop limit = its TTL, source int_addr, destination
 * embed(pref64, D), a Fragment header for a first fragment; then its transport header and data,
 * source port / identifier int_port, checksum updated), the RFC 4884 padding and extension.
 *
 * @param ip4 the whole IPv4 packet from its header (read only; octets after its Total Length
 *        are ignored), as received: the caller has not rewritten it. Not NULL.
 * @param len the octets readable at ip4.
 * @param x the mapping's values; x->pref64 not NULL.
 * @param out receives the IPv6 packet; must not overlap ip4. Not NULL. Contents undefined on error.
 * @param cap the octets writable at out; the result is at most min(cap, 1280), the quoted
 *        data cut to fit (a cap below the headers: CGN_XLAT_ERR_NO_ROOM).
 * @param out_len receives the length of the result on success. Not NULL.
 * @return 0, or -(enum cgn_xlat_err_drop) (never -CGN_XLAT_ERR_OK).
 * Any thread.
 */
int cgn_xlat_error_4to6(const uint8_t *ip4, size_t len, const struct cgn_xlat_err46 *x, uint8_t *out,
			size_t cap, size_t *out_len);

/*
 * 6->4: an ICMPv6 error from the inside about a packet the NAT64 sent in (its quoted packet:
 * source = Pref64-embedded remote D:d, destination = the subscriber's int_addr:int_port).
 * int_addr and int_port were added to the lead's interface: the quoted destination is checked
 * against them (CGN_XLAT_ERR_INNER_MISMATCH).
 */
struct cgn_xlat_err64 {
	const struct cgn_prefix *pref64; /* extracts the remote's IPv4 address */
	struct cgn_addr int_addr;        /* the subscriber's IPv6 address: the quoted destination */
	uint16_t int_port;               /* host order: the quoted destination port / echo identifier */
	uint32_t ext_addr;               /* network order: replaces the subscriber's address (outer
	                                  * source and quoted destination) */
	uint16_t ext_port;               /* host order: replaces int_port in the quoted packet */
	uint32_t mtu4_nexthop, mtu6_nexthop;
	uint16_t ip_id;                  /* host order: the outer IPv4 identification to use */
	bool reset_tos;                  /* TOS = new_tos instead of the Traffic Class (outer and quoted) */
	uint8_t new_tos;
};

/**
 * Translates an ICMPv6 error into an ICMPv4 error (RFC 7915 §5.2, §5.3; RFC 6146 §3.7).
 *
 * Checked, in this order, each failure a reason: the outer IPv6 header (version, payload
 * length within len, not a jumbogram), its extension headers (skipped as in §5.1; a Fragment
 * header: FRAGMENT), next header ICMPv6, hop limit > 1, the ICMPv6 checksum over the
 * pseudo-header, the type and code, the outer destination under pref64, the RFC 4884 length
 * attribute, the quoted IPv6 header (version, source = the outer destination, destination =
 * int_addr), its extension headers (Hop-by-Hop, Destination Options and Routing with segments
 * left 0 skipped; a Fragment header read, a non-first fragment refused), the quoted transport
 * (TCP/UDP with destination port int_port, or an unfragmented ICMPv6 echo with identifier
 * int_port; an ICMPv6 error there: NESTED_ERROR).
 *
 * Written: IPv4 header (IHL 5, TOS from the TC or new_tos, ID ip_id, DF iff the total length
 * is above 1260, TTL = hop limit - 1, source ext_addr, destination the extracted remote,
 * checksum), ICMPv4 header (checksum over the message), the quoted packet as IPv4 (IHL 5, TOS,
 * total length = 20 + its IPv6 payload length less the extension headers, ID = the Fragment
 * header's low 16 bits or 0, MF and offset from the Fragment header or DF by §5.1, TTL = its hop
 * limit, protocol (58 -> 1), source the remote, destination ext_addr, header checksum; then its
 * transport header and data, destination port / identifier ext_port, checksum updated), the
 * RFC 4884 padding and extension.
 *
 * @param ip6 the whole IPv6 packet from its header (read only; octets after its Payload Length
 *        are ignored). Not NULL.
 * @param len the octets readable at ip6.
 * @param x the mapping's values; x->pref64 not NULL.
 * @param out receives the IPv4 packet; must not overlap ip6. Not NULL. Contents undefined on error.
 * @param cap the octets writable at out; the result is at most min(cap, 576).
 * @param out_len receives the length of the result on success. Not NULL.
 * @return 0, or -(enum cgn_xlat_err_drop).
 * Any thread.
 */
int cgn_xlat_error_6to4(const uint8_t *ip6, size_t len, const struct cgn_xlat_err64 *x, uint8_t *out,
			size_t cap, size_t *out_len);

#endif /* CGN_XLAT_ERROR_H */
