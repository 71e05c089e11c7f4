/*
 * A worker's packet path, for both address families: one context per packet (struct cgn_pkt,
 * like pf's pf_pdesc: the family a packet arrives with, af, and the one it leaves with, naf),
 * steps that each return one verdict, and the burst driver that runs them (pipeline.c),
 * reading like the RFCs' algorithm (RFC 4787/5382/5508 for NAT44; RFC 6146/7915 for NAT64):
 *
 *   classify  (classify.h)   Ethernet, then classify4.c / classify6.c: headers parsed with
 *                            bounds (IPv6: its extension headers walked, at most
 *                            CGN_IP6_MAX_EXT), frames for the CGN itself handed to local.c /
 *                            local6.c, the lookup key built, the family steps chosen
 *   lookup    (pipeline.c)   the shared table's three lookup stages over the burst (cgn_table.h)
 *   session   (session.c)    slow path: an outbound miss creates an implicit mapping
 *   filter    (filter.c)     the mapping's FILTERs (RFC 6887 §13.3); implicit mappings by
 *                            nat.filtering: EIF, ADF or APDF (RFC 4787 §5 REQ-8)
 *   tcp state (tcp_state.c)  SYN/FIN/RST: the implicit timeouts (RFC 5382 REQ-5), PEER closes
 *   hop limit (family step)  TTL expiry answered with time exceeded (icmp4.c)
 *   mtu       (family step)  DF set and too big for the side it goes to (mtu.c, RFC 1191 §4)
 *   translate (family step)  NAT44: translate44.c (RFC 1624 checksums, RFC 5508 ICMP errors);
 *                            NAT64: translate64.c (6->4), translate46.c (4->6), xlat_error.c
 *   hairpin   (hairpin.c)    outbound to a pool address: back inside (RFC 4787 REQ-9)
 *   send      (send.h)       route and neighbour (route.h), MACs, the TX buffer; in
 *                            fragments when bigger than the port's MTU (mtu.c)
 *
 * What differs by family is chosen once per packet, after classify, from a small table of
 * steps (struct cgn_family_steps, Jool's struct translation_steps): the burst loop stays one
 * loop, and NAT64 is a table and its files, not a branch in every step: nat64 (chosen by
 * classify6 for a destination under a Pref64) and nat46 (chosen after the lookup, when the
 * mapping's inside is IPv6).
 *
 * Worker context only: nothing here takes a lock, makes a system call or allocates on the
 * fast path; session creation and ICMP generation are the slow path.
 */
#ifndef CGN_PIPELINE_H
#define CGN_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "cgn_config.h"
#include "cgn_drop.h"
#include "cgn_mapping.h"
#include "cgn_portblock.h"
#include "cgn_proto.h"
#include "cgn_xlat_error.h"
#include "nd.h"

struct cgn_worker;
struct cgn_port;

/* What a step decides. */
enum cgn_verdict {
	CGN_CONTINUE,  /* go on to the next step */
	CGN_TX,        /* done: send it out of ctx->out_port */
	CGN_DROPPED,   /* done: counted by cgn_drop(), freed */
	CGN_CONSUMED,  /* done: turned into something else (an ICMP error sent) */
};

/* An address family as the steps index it (not AF_INET's values: a table index). */
enum cgn_af {
	CGN_AF_IPV4,
	CGN_AF_IPV6,
	CGN_AF_COUNT
};

/* The datagram a fragment belongs to, as it arrived, and the side it arrived on. IPv4's (RFC
 * 791: source, destination, protocol and identification) as they are. IPv6's (RFC 8200 §4.5:
 * source, destination and the 32-bit identification; not the Next Header, which may differ
 * between the fragments of one packet) do not fit the 12 octets the fragment records keep:
 * src is a hash of the two addresses, dst the identification, and the addresses themselves
 * travel beside the key (struct cgn_pkt's faddr6) and are compared too (fragment.c). A hash
 * key: no padding, every octet set (cgn_frag_key6()). */
struct cgn_frag_key {
	uint32_t src, dst; /* network order; IPv6: see above */
	uint16_t id;       /* IPv6: 0 */
	uint8_t proto;     /* IPv6: 0 */
	uint8_t side;      /* enum cgn_key_side, with CGN_FRAG_KEY_IPV6 for an IPv6 datagram */
};
#define CGN_FRAG_KEY_IPV6 0x80

/* Two IPv6 addresses of a fragmented datagram (fragment.h says which). */
struct cgn_frag_addr6 {
	uint8_t src[16], dst[16];
};

enum cgn_frag_kind {
	CGN_FRAG_NONE,  /* a whole datagram */
	CGN_FRAG_FIRST, /* offset 0, more to come: has the transport header (fragment.h) */
	CGN_FRAG_LATER, /* offset > 0: no transport header */
};

struct cgn_pkt;

/*
 * The steps that differ by the families a packet arrives and leaves with, chosen once after
 * classify (cgn_family_steps_of). Each returns a verdict like every other step; a step that
 * answers with an ICMP error returns CGN_CONSUMED (or CGN_DROPPED when it may not answer).
 */
struct cgn_family_steps {
	const char *name; /* "nat44" */
	/* The hop limit (TTL) would reach 0 in forwarding: answered with time exceeded. */
	enum cgn_verdict (*hop_limit)(struct cgn_worker *w, struct cgn_pkt *p);
	/* DF set (IPv4) and bigger than mtu, the smallest MTU of the side it goes to. */
	enum cgn_verdict (*fits)(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu);
	/* Rewrites (or replaces) the headers with the mapping; the hop limit goes down by one. */
	enum cgn_verdict (*translate_out)(struct cgn_worker *w, struct cgn_pkt *p);
	enum cgn_verdict (*translate_in)(struct cgn_worker *w, struct cgn_pkt *p);
};

/* One packet on its way through the steps. */
struct cgn_pkt {
	struct rte_mbuf *m;
	const struct cgn_family_steps *steps; /* by (af, naf): set by classify */
	union {                     /* its network header, of family af */
		void *l3;
		struct rte_ipv4_hdr *ip4;
		struct rte_ipv6_hdr *ip6;
	};
	uint8_t *l4;                /* its transport header (IPv6: after the extension headers) */
	uint16_t l4_len;            /* octets from l4 to the end of the IP payload */
	uint8_t af;                 /* enum cgn_af it arrived with */
	uint8_t naf;                /* ... and leaves with */
	uint8_t proto;              /* of the flow: of the embedded packet for ICMP errors */
	uint8_t side;               /* enum cgn_key_side it arrived on */
	uint8_t to;                 /* enum cgn_port_role of the side it leaves toward (routing) */
	bool icmp_error;            /* an ICMP error: the flow is the embedded packet's */
	bool hairpin;               /* outbound to a pool address: back inside (set before the mtu step) */
	uint8_t frag;               /* enum cgn_frag_kind */
	uint8_t pref64;             /* NAT64: the index of the Pref64 the destination is under */
	bool frag6_ok;              /* NAT46: DF was clear, so it may leave in IPv6 fragments no
				     * longer than nat64.lowest_ipv6_mtu (RFC 7915 §4.1; mtu.c) */
	uint16_t ip4_id;            /* ... their Identification's low 16 bits: the IPv4 ID (network order) */
	bool reassembled;           /* put together from fragments (reassemble.c): the sender let it
				     * be fragmented, so NAT64 6->4 leaves it with DF clear */
	union {                     /* ICMP errors: the embedded packet's network header */
		void *emb_l3;
		struct rte_ipv4_hdr *emb_ip4;
		struct rte_ipv6_hdr *emb_ip6;
	};
	uint8_t *emb_l4;            /* ... and its first 8 octets of transport header */
	uint16_t in_port;           /* DPDK port it came from */
	uint16_t out_port;          /* DPDK port it leaves by */
	uint32_t remote;            /* the remote peer's IPv4 address (network order): the destination
				     * of an outbound packet, the source of an inbound one (filter,
				     * TCP closes, hairpin); not set for ICMP errors */
	uint16_t remote_port;       /* its port (host order); 0 for ICMP queries */
	struct cgn_key key;         /* the lookup key (keep in sync with struct cgn_key) */
	uint32_t hash;              /* cgn_table_hash() of key, set with it */
	struct cgn_mapping *map;    /* the mapping found or created */
	struct cgn_frag_key fkey;   /* fragments: their datagram, before translation */
	struct cgn_frag_addr6 faddr6; /* IPv6 fragments: their datagram's addresses (with fkey) */
};

/* Per-worker counters beyond drops. */
#define CGN_PKT_COUNTERS(X)                                                 \
	X(rx, "packets received")                                           \
	X(tx, "packets sent")                                               \
	X(out_translated, "outbound packets translated")                    \
	X(in_translated, "inbound packets translated")                      \
	X(hairpinned, "inside to inside through an external address")       \
	X(icmp_errors_translated, "ICMP errors whose embedded packet was translated") \
	X(sessions_created, "implicit mappings created")                    \
	X(sessions_expired, "implicit mappings expired")                    \
	X(icmp_sent, "ICMP errors the NAT sent itself")                     \
	X(icmp_rate_limited, "ICMP errors not sent: over the rate")         \
	X(ports_held, "freed ports waiting out the hold time")              \
	X(arp_replies, "ARP requests for the CGN's addresses answered")     \
	X(echo_replies, "ICMP echo requests to the CGN's own address answered") \
	X(echo6_replies, "ICMPv6 echo requests to a port's IPv6 addresses answered (RFC 4443 §4.2)") \
	X(nd_answered, "Neighbor Solicitations for a port's IPv6 addresses answered (RFC 4861 §7.2.4)") \
	X(nd_learned, "ND messages from a neighbour in the table: its MAC (re)learned (RFC 4861 §7.2.5)") \
	X(punted, "PCP requests handed to the control thread")             \
	X(resolve_full, "destinations not queued for ARP or ND: the resolve ring was full") \
	X(arp_learned, "ARP frames from a next hop, its MAC (re)learned")   \
	X(ports_released, "held ports given back to the subscriber")        \
	X(fragments_translated, "fragments after the first, translated like it (RFC 4787 REQ-14)") \
	X(fragments_held, "fragments that came before their first one, held for it") \
	X(reassembly_held, "ICMP fragments held for reassembly (NAT64: an ICMPv6 checksum needs the whole message; reassemble.c)") \
	X(reassembled, "ICMP datagrams reassembled from their fragments and translated whole (reassemble.c)") \
	X(fragmented, "packets too big for the link they left by (or, NAT64 4->6 without DF, for nat64.lowest_ipv6_mtu), sent in fragments (mtu.c)") \
	X(fragments_made, "fragments sent for them")

struct cgn_pkt_stats {
#define X(name, doc) uint64_t name;
	CGN_PKT_COUNTERS(X)
#undef X
	uint64_t drops[CGN_DROP_COUNT];
	uint64_t nd_refused[CGN_ND_RESULT_COUNT]; /* by enum cgn_nd_result: why ND_INVALID (nd.h) */
	uint64_t nat64_error[CGN_XLAT_ERR_COUNT]; /* by enum cgn_xlat_err_drop: why NAT64_ICMP_ERROR */
};

/** Counts a drop by reason and frees the packet. @return CGN_DROPPED. */
enum cgn_verdict cgn_drop(struct cgn_worker *w, struct cgn_pkt *p, enum cgn_drop_reason why);

/* Step "classify" (steps/classify.h, inline; then classify4.c or classify6.c): parses and
 * checks a frame; fills the context and its lookup key and chooses its family steps, or
 * answers it when it is for the CGN itself (CGN_CONSUMED) or drops it with a reason. */
/** The IPv4 part of classify, from the IPv4 header on (p->ip4 set). classify4.c */
enum cgn_verdict cgn_classify4(struct cgn_worker *w, struct cgn_pkt *p, uint32_t len);
/** The IPv6 part of classify, from the IPv6 header on (p->ip6 set). classify6.c */
enum cgn_verdict cgn_classify6(struct cgn_worker *w, struct cgn_pkt *p, uint32_t len);

/* Extension headers classify6.c walks before it gives up on a packet (RFC 8200 sets no limit;
 * RFC 7112 wants the whole chain in the first fragment). */
#define CGN_IP6_MAX_EXT 8

/**
 * Answers IPv6 for the CGN itself (local6.c), in place where it can, out of the port it came
 * by: Neighbor Solicitations for the port's addresses (RFC 4861 §7.2.4), Neighbor
 * Advertisements teaching a neighbour's MAC, echo requests (RFC 4443 §4.2), UDP to a port no
 * service listens on (destination unreachable, port). @return CGN_CONSUMED, or CGN_DROPPED.
 */
enum cgn_verdict cgn_local6(struct cgn_worker *w, struct cgn_pkt *p);

/**
 * Answers an IPv6 packet with an ICMPv6 error (RFC 4443) of type, code and param (the MTU of
 * Packet Too Big, the pointer of Parameter Problem; host order), quoting as much of it as fits
 * in 1280 octets, when §2.4(e) allows one and the worker's token bucket has one; from the
 * address it was sent to if that is ours, else dataplane.icmp_source6, else the in-port's
 * address (§2.2); back out of the port it came by. Frees the packet. icmp6_reply.c
 * @return CGN_CONSUMED, or CGN_DROPPED; either way the packet is counted under why.
 */
enum cgn_verdict cgn_icmp6_reply(struct cgn_worker *w, struct cgn_pkt *p, uint8_t type, uint8_t code, uint32_t param,
				 enum cgn_drop_reason why);

/** IPv6 to a destination that is not the CGN's, with no NAT64 to take it: ICMPv6
 * destination unreachable, no route (RFC 4443 §3.1 code 0), counted NO_NAT64. icmp6.c */
enum cgn_verdict cgn_no_route6(struct cgn_worker *w, struct cgn_pkt *p);

/** The family steps of NAT44 (IPv4 in, IPv4 out). pipeline.c (hidden: never interposed, so
 * the driver's specialisation for it sees its steps and inlines them) */
extern const struct cgn_family_steps cgn_steps_nat44 __attribute__((visibility("hidden")));
/** NAT64's (RFC 6146): IPv6 in from the inside, IPv4 out (translate64.c), chosen by classify6
 * for a destination under a Pref64; and IPv4 in from the outside, IPv6 out (translate46.c),
 * chosen after the lookup when the mapping's internal address is IPv6. pipeline.c */
extern const struct cgn_family_steps cgn_steps_nat64 __attribute__((visibility("hidden")));
extern const struct cgn_family_steps cgn_steps_nat46 __attribute__((visibility("hidden")));

/** NAT64's hop-limit step: ICMPv6 time exceeded (RFC 7915 §5.1, RFC 4443 §3.3) when the hop
 * limit would reach 0. translate64.c */
enum cgn_verdict cgn_hop6_step(struct cgn_worker *w, struct cgn_pkt *p);
/** NAT64's MTU step, 6->4: a packet whose IPv4 form is bigger than mtu and would have DF set
 * (RFC 7915 §5.1: over 1260 octets) is answered with Packet Too Big; one that would not is
 * fragmented in IPv4 on its way out. translate64.c */
enum cgn_verdict cgn_fits64_step(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu);
/** Replaces the IPv6 header of an outbound packet with an IPv4 one through its mapping (RFC
 * 7915 §5.1, RFC 6146 §3.7), transport checksum and ports included. translate64.c */
enum cgn_verdict cgn_translate64_out(struct cgn_worker *w, struct cgn_pkt *p);
/** NAT46's MTU step: DF set and too big for the inside once IPv6 (+20): ICMPv4 3/4 (RFC 7915
 * §4.1). translate46.c */
enum cgn_verdict cgn_fits46_step(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu);
/** Replaces the IPv4 header of an inbound packet with an IPv6 one through its mapping (RFC
 * 7915 §4.1): source the remote under the mapping's Pref64, destination its internal
 * endpoint. translate46.c */
enum cgn_verdict cgn_translate46_in(struct cgn_worker *w, struct cgn_pkt *p);
/** The same for a hairpinned packet, translated out already (its TTL decremented then), to
 * the IPv6 subscriber of peer (RFC 6146 §3.8). translate46.c */
enum cgn_verdict cgn_translate46_hairpin(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_mapping *peer);
/** Replaces the IPv6 header (and the extension headers up to the Fragment header) of a later
 * fragment from the inside with an IPv4 one (RFC 7915 §5.1.1): from src to dst (network order,
 * its datagram's first fragment's), ID, MF and offset from the Fragment header, DF clear, the
 * TTL the hop limit less one (the caller checked it is above 1). translate64.c */
void cgn_translate64_fragment(struct cgn_worker *w, struct cgn_pkt *p, uint32_t src, uint32_t dst);
/** Replaces the IPv4 header of a later fragment with an IPv6 one and a Fragment header (RFC
 * 7915 §4.1): from src6 to dst6 (its datagram's first fragment's), the hop limit the TTL less
 * one (the caller checked it is above 1). translate46.c @return CGN_CONTINUE, or CGN_DROPPED
 * (counted) when the mbuf has no headroom for it. */
enum cgn_verdict cgn_translate46_fragment(struct cgn_worker *w, struct cgn_pkt *p, const uint8_t src6[16],
					  const uint8_t dst6[16]);

/** NAT64's ICMP errors (xlat_error.c, over common/cgn_xlat_error.h): an ICMPv6 error from
 * the inside about a packet the NAT64 sent in becomes an ICMPv4 error about the packet as it
 * was on the IPv4 side (RFC 7915 §5.2/§5.3), and the other way (§4.2/§4.3). */
enum cgn_verdict cgn_xlat64_error(struct cgn_worker *w, struct cgn_pkt *p);
enum cgn_verdict cgn_xlat46_error(struct cgn_worker *w, struct cgn_pkt *p);

/**
 * Routes a translated IPv6 packet toward p->to's side by the IPv6 routes and queues it (or
 * drops it, counted, when its next hop has no MAC yet). send.c @return true if queued.
 */
bool cgn_send6(struct cgn_worker *w, struct cgn_pkt *p);

/**
 * Answers frames for the CGN itself, in place, out of the port they came by: ARP requests
 * for its addresses (local.c), ICMP echo requests to its own address. @return CGN_CONSUMED,
 * or CGN_DROPPED with a reason.
 */
enum cgn_verdict cgn_local_arp(struct cgn_worker *w, struct cgn_pkt *p);
enum cgn_verdict cgn_local_ipv4(struct cgn_worker *w, struct cgn_pkt *p);

/** Creates the implicit mapping of an outbound miss (slow path). session.c */
enum cgn_verdict cgn_session_create(struct cgn_worker *w, struct cgn_pkt *p);

/** True if forwarding would take the TTL to 0 (RFC 1812 §5.3.1: answer time exceeded). */
static inline bool
cgn_ttl_expires(const struct cgn_pkt *p)
{
	return p->ip4->time_to_live <= 1;
}

/** NAT44's translation (translate44.c): rewrites an outbound packet (or ICMP error) with its
 * mapping and decrements its TTL (the caller checked cgn_ttl_expires). */
enum cgn_verdict cgn_translate44_out(struct cgn_worker *w, struct cgn_pkt *p);
/** The same for an inbound packet (or ICMP error). translate44.c */
enum cgn_verdict cgn_translate44_in(struct cgn_worker *w, struct cgn_pkt *p);
/** Rewrites the destination of a hairpinned packet, translated out already, to the internal
 * endpoint of m. translate44.c */
void cgn_translate44_hairpin(struct cgn_pkt *p, const struct cgn_mapping *m);
/** Rewrites a later fragment's addresses (network order) and decrements its TTL (the caller
 * checked cgn_ttl_expires). translate44.c */
void cgn_translate44_fragment(struct cgn_pkt *p, uint32_t src, uint32_t dst);

/**
 * Routes a translated packet toward p->to's side and queues it for TX (or drops it, counted,
 * when its next hop has no MAC yet). send.c (the burst loop inlines send.h's). @return true
 * if queued.
 */
bool cgn_send(struct cgn_worker *w, struct cgn_pkt *p);

/**
 * Sends an IPv6 frame the CGN makes itself (an echo reply, an ICMPv6 error) toward dst by
 * the IPv6 routes of the side it answers (the in-port's role), RFC 4861's next hop resolved
 * by ND; to a link-local address, or without a route, out of the in-port to the Ethernet
 * destination the caller wrote (the sender's). Not for ND, which never leaves its link.
 * send.c
 * @return true if queued; false when its next hop has no MAC yet (asked for meanwhile): the
 *         frame is still the caller's, to count and free.
 */
bool cgn_send6_own(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_addr *dst);

/**
 * Answers a packet with an ICMP error (RFC 792) from src, quoting its IP header and first 8
 * octets of payload; rate-limited per worker. Frees the packet. icmp4.c
 * @return CGN_CONSUMED, or CGN_DROPPED with why counted.
 */
enum cgn_verdict cgn_icmp_reply(struct cgn_worker *w, struct cgn_pkt *p, uint8_t type, uint8_t code,
				enum cgn_drop_reason why);
/** The same with ICMP 3/4, "fragmentation needed and DF set", and the next hop's MTU (RFC
 * 1191 §4); the packet counted as TOO_BIG. icmp4.c */
enum cgn_verdict cgn_icmp_too_big(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu);
/** NAT44's hop-limit step: time exceeded in transit (RFC 792) when the TTL would reach 0. */
static inline enum cgn_verdict
cgn_ttl4_step(struct cgn_worker *w, struct cgn_pkt *p)
{
	if (likely(!cgn_ttl_expires(p)))
		return CGN_CONTINUE;
	return cgn_icmp_reply(w, p, CGN_ICMP_TIME_EXCEEDED, CGN_ICMP_TTL_EXCEEDED, CGN_DROP_TTL_EXPIRED);
}

/** @return whether a packet (before translation, p->ip4) is too big for mtu and may not be
 * fragmented: it has DF set. */
static inline bool
cgn_too_big_for(const struct cgn_pkt *p, uint16_t mtu)
{
	return unlikely(rte_be_to_cpu_16(p->ip4->total_length) > mtu) &&
	       (p->ip4->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG));
}

/** NAT44's MTU step: DF set and bigger than mtu, answered with ICMP 3/4 and mtu. */
static inline enum cgn_verdict
cgn_fits4_step(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu)
{
	if (likely(!cgn_too_big_for(p, mtu)))
		return CGN_CONTINUE;
	return cgn_icmp_too_big(w, p, mtu);
}

/**
 * Sends a translated, routed packet bigger than its port's MTU (DF clear) in fragments, its
 * Ethernet header copied to each; frees it. Drops it, counted, with DF set (TOO_BIG) or when
 * it cannot be fragmented (CANNOT_FRAGMENT). mtu.c @return true if a fragment was queued.
 */
bool cgn_send_fragments(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port) __attribute__((cold));

/**
 * The same for a translated IPv6 packet (NAT64, 4->6) bigger than its port's MTU, or than
 * nat64.lowest_ipv6_mtu when its DF was clear (p->frag6_ok): IPv6 fragments with a Fragment
 * header each, none longer than the lesser of the two (RFC 7915 §4.1); a packet that was an
 * IPv4 fragment already (it has a Fragment header) is cut further, its offsets and M kept.
 * Drops it, counted, when its DF was set (TOO_BIG) or it cannot be fragmented
 * (CANNOT_FRAGMENT). mtu.c @return true if the fragments were queued.
 */
bool cgn_send_fragments6(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port) __attribute__((cold));

/** Expires idle implicit mappings of this worker's share of the table (bounded). expire.c */
void cgn_expire(struct cgn_worker *w, uint64_t now_ms);

/** Releases ports whose hold time is over (bounded). expire.c */
void cgn_hold_release(struct cgn_worker *w, uint64_t now_ms);

/**
 * Runs a burst that arrived on one port through the steps and queues what is sent.
 * Worker context. @return packets sent.
 */
uint16_t cgn_pipeline_burst(struct cgn_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n);

#endif /* CGN_PIPELINE_H */
