/*
 * The receiving side of Neighbor Discovery on a port, as an IPv6 router interface
 * (RFC 4861 §7.1.1, §7.1.2, §7.2.3-§7.2.5; message formats §4.3, §4.4, §4.6.1), and the
 * port's ICMPv6 echo responder (RFC 4443 §4.2):
 *   cgn_nd_parse()        validates a received NS or NA and hands back what it says, or
 *                         names why it is refused (enum cgn_nd_result: one drop counter each);
 *   cgn_nd_dst_is_ours()  is a destination the port listens on (its addresses, their
 *                         solicited-node groups, all-nodes);
 *   cgn_nd_ns_reply()     turns an NS for one of the port's addresses into the NA, in place;
 *   cgn_nd_echo_reply()   turns an Echo Request to one of them into the Echo Reply, in place;
 *   cgn_nd_learned()      what an NA (or an NS with a Source Link-Layer Address) teaches:
 *                         an (address, MAC) pair for the neighbour table, which updates only
 *                         the entries it has (RFC 4861 §7.2.5; route.h).
 * Sending solicitations and the neighbour cache's states are route.h/neighbour.c's.
 *
 * Frames are Ethernet (14 octets, no VLAN tag) + IPv6 with the ICMPv6 message right behind
 * the IPv6 header: ND has no use for extension headers and fragmented ND is refused
 * (RFC 6980 §5); an echo request behind extension headers is refused too (NOT_ICMP6).
 * Every length is checked against the octets given before it is read.
 *
 * Self-contained, no allocation, nothing shared written: any thread, on frames it owns.
 */
#ifndef CGN_ND_H
#define CGN_ND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>

#include "cgn_addr.h"
#include "cgn_proto.h"
#include "icmp6.h" /* cgn_icmp6_cksum() */

/* The NA the CGN sends: the message and one Target Link-Layer Address option (32 octets). */
#define CGN_ND_NA_REPLY_LEN (CGN_ND_NA_LEN + CGN_ND_LLA_OPT_LEN)
#define CGN_ND_NA_FRAME_LEN (RTE_ETHER_HDR_LEN + CGN_IPV6_HDR_LEN + CGN_ND_NA_REPLY_LEN) /* 86 */
#define CGN_ECHO6_HOP_LIMIT 64 /* Echo Replies leave with the default hop limit */

/** The port ND acts for: its MAC and its IPv6 addresses (network order). An address that is
 *  :: is not configured and matches nothing. Owned by the caller, read only here. */
struct cgn_nd_iface {
	struct rte_ether_addr mac;
	struct cgn_addr link_local;
	struct cgn_addr global;
	bool have_global;
};

/* Why a frame is refused: one named counter each (an X-macro list like common/cgn_drop.h's,
 * so that the lead can splice it into CGN_DROP_REASONS or map it). */
#define CGN_ND_REFUSALS(X)                                                                                        \
	X(TRUNCATED, "shorter than its Ethernet or IPv6 header, or than its IPv6 payload length")                 \
	X(NOT_IPV6, "not an IPv6 frame, or IPv6 version not 6")                                                   \
	X(NOT_ICMP6, "not ICMPv6 right after the IPv6 header (ND and echo behind extension headers are refused)") \
	X(NOT_ND, "an ICMPv6 message that is neither NS nor NA (cgn_nd_parse), or not an echo request")           \
	X(HOP_LIMIT, "ND with an IP hop limit other than 255 (RFC 4861 §7.1.1, §7.1.2)")                         \
	X(TOO_SHORT, "ICMPv6 length under 24 octets for ND (§7.1.1), under 8 for an echo request")                \
	X(BAD_CHECKSUM, "ICMPv6 checksum wrong (RFC 4443 §2.3)")                                                  \
	X(BAD_CODE, "ICMPv6 code not 0")                                                                          \
	X(MULTICAST_TARGET, "ND target is a multicast address (§7.1.1, §7.1.2)")                                  \
	X(OPTION_ZERO_LENGTH, "an ND option with length 0 (§7.1.1, §7.1.2)")                                      \
	X(OPTION_TRUNCATED, "an ND option that runs past the end of the ICMPv6 message")                          \
	X(BAD_SOURCE, "source address multicast (RFC 4291 §2.7), or :: for an echo request")                      \
	X(DAD_NOT_SOLICITED_NODE, "NS from :: not to a solicited-node multicast address (§7.1.1)")               \
	X(DAD_WITH_SOURCE_LLA, "NS from :: with a Source Link-Layer Address option (§7.1.1)")                     \
	X(NA_MULTICAST_SOLICITED, "NA to a multicast address with the Solicited flag set (§7.1.2)")              \
	X(NOT_FOR_US, "to an address the port does not listen on")                                                \
	X(TARGET_NOT_OURS, "NS for an address that is not the port's (§7.2.3: another node's resolution or DAD)") \
	X(NO_ROOM, "the buffer cannot hold the reply")

enum cgn_nd_result {
	CGN_ND_ACCEPT = 0,
#define X(name, doc) CGN_ND_REFUSE_##name,
	CGN_ND_REFUSALS(X)
#undef X
	CGN_ND_RESULT_COUNT
};

/** @return the name of a result ("ACCEPT", "HOP_LIMIT"), or "?" if out of range. Any thread. */
const char *cgn_nd_result_name(enum cgn_nd_result r);

/** A valid NS or NA, as cgn_nd_parse() found it. */
struct cgn_nd_msg {
	uint8_t type;                 /* CGN_ND_NEIGHBOR_SOLICIT or CGN_ND_NEIGHBOR_ADVERT */
	uint8_t flags;                /* NA: CGN_ND_NA_* bits (R, S, O); NS: 0 */
	bool has_lla;                 /* NS: a Source, NA: a Target Link-Layer Address option of
				       * Ethernet size (length 1, RFC 2464 §8); the first one counts */
	struct rte_ether_addr lla;    /* its address, if has_lla */
	struct rte_ether_addr eth_src; /* the frame's Ethernet source */
	struct cgn_addr src, dst;     /* IPv6 source and destination */
	struct cgn_addr target;       /* the Target Address */
};

/**
 * Validates a received Neighbor Solicitation or Advertisement (RFC 4861 §7.1.1, §7.1.2): hop
 * limit 255, ICMPv6 checksum over the pseudo-header, code 0, ICMP length (from the IPv6
 * payload length) at least 24, target not multicast, every option of non-zero length and
 * inside the message; an NS from :: only to a solicited-node multicast address and without
 * a Source Link-Layer Address option; an NA to a multicast address without the Solicited
 * flag; and (RFC 4291 §2.7) no multicast source. Unknown options and options not meant for
 * the message are skipped (§4.3, §4.4); octets past the payload length (padding) ignored.
 * @param frame the Ethernet frame, len octets readable; read only. Untrusted.
 * @param msg filled on CGN_ND_ACCEPT only; owned by the caller.
 * @return CGN_ND_ACCEPT, or the refusal: TRUNCATED, NOT_IPV6, NOT_ICMP6, NOT_ND, HOP_LIMIT,
 *         TOO_SHORT, BAD_CHECKSUM, BAD_CODE, MULTICAST_TARGET, OPTION_ZERO_LENGTH,
 *         OPTION_TRUNCATED, BAD_SOURCE, DAD_NOT_SOLICITED_NODE, DAD_WITH_SOURCE_LLA,
 *         NA_MULTICAST_SOLICITED (each CGN_ND_REFUSE_*). A refused frame is to be dropped
 *         and counted.
 * Any thread.
 */
enum cgn_nd_result cgn_nd_parse(const uint8_t *frame, size_t len, struct cgn_nd_msg *msg);

/** @return true if a is a solicited-node multicast address (ff02::1:ffXX:XXXX). */
bool cgn_nd_is_solicited_node(const struct cgn_addr *a);

/** @return true if a is one of the port's unicast addresses (its link-local, or its global
 *  address if it has one). Any thread. */
bool cgn_nd_addr_is_ours(const struct cgn_nd_iface *ifc, const struct cgn_addr *a);

/**
 * Is an IPv6 destination one the port listens on (RFC 4861 §7.2.1, RFC 4291 §2.8): its own
 * addresses, their solicited-node multicast addresses, and all-nodes (ff02::1)?
 * Any thread.
 */
bool cgn_nd_dst_is_ours(const struct cgn_nd_iface *ifc, const struct cgn_addr *dst);

/**
 * Turns a valid NS (cgn_nd_parse()) for one of the port's addresses into its solicited NA,
 * in place (RFC 4861 §7.2.3, §7.2.4): Target Address copied; Router flag set (the CGN is a
 * router); Override set (the address is the port's own, neither anycast nor proxied, and the
 * Target Link-Layer Address option is always included); to the NS's source with Solicited
 * set, or, if the source is :: (Duplicate Address Detection by another node, RFC 4862
 * §5.4.3), to all-nodes ff02::1 with Solicited clear. IPv6 source = the target address, hop
 * limit 255, traffic class and flow label 0; Ethernet from the port's MAC to the NS's Source
 * Link-Layer Address (else its Ethernet source), or to 33:33:00:00:00:01; checksum computed.
 * The NA is CGN_ND_NA_FRAME_LEN octets: longer than an NS without options (DAD), shorter
 * than one with several; the caller sets the frame's length to *out_len (trims or appends).
 * @param ifc the port the NS came in by; read only.
 * @param frame the frame msg was parsed from, cap octets writable from frame[0].
 * @param msg what cgn_nd_parse() returned for it (CGN_ND_ACCEPT, type NS).
 * @param out_len the NA's frame length, on CGN_ND_ACCEPT.
 * @return CGN_ND_ACCEPT (the frame is the NA: send it back out of the port), or
 *         NOT_ND (msg is not an NS), TARGET_NOT_OURS, NOT_FOR_US (the NS's destination is not
 *         one the port listens on), NO_ROOM (cap < CGN_ND_NA_FRAME_LEN); frame unchanged then.
 * Any thread.
 */
enum cgn_nd_result cgn_nd_ns_reply(const struct cgn_nd_iface *ifc, uint8_t *frame, size_t cap,
				   const struct cgn_nd_msg *msg, uint16_t *out_len);

/**
 * Turns an ICMPv6 Echo Request to one of the port's unicast addresses into the Echo Reply,
 * in place (RFC 4443 §4.2): type 129, identifier, sequence number and data unchanged,
 * addresses swapped (the reply comes from the address the request was sent to), hop limit
 * CGN_ECHO6_HOP_LIMIT, Ethernet addresses from the port's MAC back to the request's source;
 * the checksum is updated for the type (RFC 1624; the pseudo-header sum does not change when
 * the addresses swap) after the request's own was verified. Requests to a multicast address
 * are not answered (NOT_FOR_US). *out_len is the frame's length without Ethernet padding.
 * @param frame the Ethernet frame, len octets; rewritten only on CGN_ND_ACCEPT. Untrusted.
 * @return CGN_ND_ACCEPT (send the frame back out of the port), or TRUNCATED, NOT_IPV6,
 *         NOT_ICMP6, NOT_ND (not an echo request), TOO_SHORT, BAD_CHECKSUM, BAD_CODE,
 *         BAD_SOURCE (source multicast or ::), NOT_FOR_US, NO_ROOM (longer than
 *         a uint16_t frame length).
 * Any thread.
 */
enum cgn_nd_result cgn_nd_echo_reply(const struct cgn_nd_iface *ifc, uint8_t *frame, size_t len, uint16_t *out_len);

/** What a valid ND message teaches about a neighbour (RFC 4861 §7.2.3, §7.2.5). */
struct cgn_nd_learn {
	struct cgn_addr addr;       /* the neighbour's IPv6 address */
	struct rte_ether_addr mac;  /* its link-layer address */
	bool is_router;             /* NA: R flag; NS: false (§7.2.3: unknown, leave as is) */
	bool solicited;             /* NA: S flag (§7.2.5: REACHABLE, else STALE); NS: false */
	bool override;              /* NA: O flag; NS: true (§7.2.3: a differing cached address is replaced) */
};

/**
 * What a valid NS or NA teaches, for the neighbour table (which updates only the entries it
 * has, §7.2.5: "If no entry exists, the advertisement SHOULD be silently discarded"):
 *   an NA with a Target Link-Layer Address: (target, that address);
 *   an NS from a unicast source with a Source Link-Layer Address, for one of the port's
 *   addresses (§7.2.3; an NS for another target is discarded before it teaches): (source,
 *   that address).
 * Nothing from an NA without the option (the neighbour table keeps its MAC), from an NS from
 * ::, nor about the port's own addresses or :: (an NA for one of ours is another node
 * claiming it, RFC 4862 §5.4.4: not a neighbour to learn).
 * @param ifc the port the message came in by; msg as cgn_nd_parse() accepted it.
 * @param out filled when true is returned.
 * @return true if out holds a pair to hand to the neighbour table.
 * Any thread.
 */
bool cgn_nd_learned(const struct cgn_nd_iface *ifc, const struct cgn_nd_msg *msg, struct cgn_nd_learn *out);

#endif /* CGN_ND_H */
