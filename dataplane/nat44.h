/*
 * The NAT44 packet path of a worker: one context per packet (struct cgn_pkt, like pf's
 * pf_pdesc), steps that each return one verdict, and the burst driver that runs them
 * (nat44.c), reading like RFC 4787/5382/5508's algorithm:
 *
 *   classify (classify.c)  parse Ethernet/IPv4/L4 with bounds; build the lookup key
 *   lookup   (nat44.c)     the shared table's three lookup stages over the whole burst (cgn_table.h)
 *   session  (session.c)   slow path: an outbound miss creates an implicit mapping
 *   filter   (nat44.c)     inbound: the mapping's FILTERs (RFC 6887 §13.3); implicit
 *                          mappings by nat.filtering: EIF, ADF or APDF (RFC 4787 REQ-8)
 *   tcp      (nat44.c)     TCP state from SYN/FIN/RST: the implicit timeouts, PEER closes
 *   translate(translate.c) rewrite addresses and ports, checksums patched (RFC 1624);
 *                          ICMP errors with their embedded packet (RFC 5508)
 *   hairpin  (nat44.c)     outbound to a pool address: back inside (RFC 4787 REQ-9)
 *   ttl      (nat44.h)     expiry checked first; the decrement is part of translate
 *   icmp     (icmp.c)      ICMP errors the NAT sends itself, rate-limited
 *   send     (nat44.c)     route and neighbour (route.h), MACs, the TX buffer
 *
 * Worker context only: nothing here takes a lock, makes a system call or allocates on the
 * fast path; session creation and ICMP generation are the slow path.
 */
#ifndef CGN_NAT44_H
#define CGN_NAT44_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "cgn_config.h"
#include "cgn_drop.h"
#include "cgn_mapping.h"
#include "cgn_portblock.h"

struct cgn_worker;
struct cgn_port;

/* What a step decides. */
enum cgn_verdict {
	CGN_CONTINUE,  /* go on to the next step */
	CGN_TX,        /* done: send it out of ctx->out_port */
	CGN_DROPPED,   /* done: counted by cgn_drop(), freed */
	CGN_CONSUMED,  /* done: turned into something else (an ICMP error sent) */
};

/* The datagram a fragment belongs to (RFC 791: source, destination, protocol and
 * identification), as it arrived, and the side it arrived on. */
struct cgn_frag_key {
	uint32_t src, dst; /* network order */
	uint16_t id;
	uint8_t proto;
	uint8_t side;
};

enum cgn_frag_kind {
	CGN_FRAG_NONE,  /* a whole datagram */
	CGN_FRAG_FIRST, /* offset 0, more to come: has the transport header (fragment.h) */
	CGN_FRAG_LATER, /* offset > 0: no transport header */
};

/* One packet on its way through the steps. */
struct cgn_pkt {
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;    /* outer IPv4 header */
	uint8_t *l4;                /* its transport header */
	uint16_t l4_len;            /* octets from l4 to the end of the IP payload */
	uint8_t proto;              /* of the flow: of the embedded packet for ICMP errors */
	uint8_t side;               /* enum cgn_key_side it arrived on */
	uint8_t to;                 /* enum cgn_port_role of the side it leaves toward (routing) */
	bool icmp_error;            /* an ICMP error: the flow is the embedded packet's */
	uint8_t frag;               /* enum cgn_frag_kind */
	struct rte_ipv4_hdr *emb_ip; /* ICMP errors: the embedded IPv4 header */
	uint8_t *emb_l4;            /* ... and its first 8 octets of transport header */
	uint16_t in_port;           /* DPDK port it came from */
	uint16_t out_port;          /* DPDK port it leaves by */
	struct cgn_key key;         /* the lookup key (keep in sync with struct cgn_key) */
	uint32_t hash;              /* cgn_table_hash() of key, set with it */
	struct cgn_mapping *map;    /* the mapping found or created */
	struct cgn_frag_key fkey;   /* fragments: their datagram, before translation */
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
	X(punted, "PCP requests handed to the control thread")             \
	X(resolve_full, "destinations not queued for ARP: the resolve ring was full") \
	X(arp_learned, "ARP frames from a next hop, its MAC (re)learned")   \
	X(ports_released, "held ports given back to the subscriber")        \
	X(fragments_translated, "fragments after the first, translated like it (RFC 4787 REQ-14)") \
	X(fragments_held, "fragments that came before their first one, held for it") \
	X(fragmented, "packets too big for the link they left by, sent in fragments (mtu.c)") \
	X(fragments_made, "fragments sent for them")

struct cgn_pkt_stats {
#define X(name, doc) uint64_t name;
	CGN_PKT_COUNTERS(X)
#undef X
	uint64_t drops[CGN_DROP_COUNT];
};

/** Counts a drop by reason and frees the packet. @return CGN_DROPPED. */
enum cgn_verdict cgn_drop(struct cgn_worker *w, struct cgn_pkt *p, enum cgn_drop_reason why);

/** Parses and checks a frame; fills the context and its lookup key. classify.c */
enum cgn_verdict cgn_classify(struct cgn_worker *w, struct cgn_pkt *p);

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
	return p->ip->time_to_live <= 1;
}

/** Rewrites an outbound packet (or ICMP error) with its mapping and decrements its TTL (the
 * caller checked cgn_ttl_expires). translate.c */
void cgn_translate_out(struct cgn_pkt *p);
/** The same for an inbound packet (or ICMP error). translate.c */
void cgn_translate_in(struct cgn_pkt *p);
/** Rewrites the destination of a hairpinned packet, translated out already, to the internal
 * endpoint of m. translate.c */
void cgn_translate_hairpin(struct cgn_pkt *p, const struct cgn_mapping *m);
/** Rewrites a later fragment's addresses (network order) and decrements its TTL (the caller
 * checked cgn_ttl_expires). translate.c */
void cgn_translate_fragment(struct cgn_pkt *p, uint32_t src, uint32_t dst);

/**
 * Routes a translated packet toward p->to's side and queues it for TX (or drops it, counted,
 * when its next hop has no MAC yet). nat44.c @return true if queued.
 */
bool cgn_send(struct cgn_worker *w, struct cgn_pkt *p);

/**
 * Answers a packet with an ICMP error (RFC 792) from src, quoting its IP header and first 8
 * octets of payload; rate-limited per worker. Frees the packet. icmp.c
 * @return CGN_CONSUMED, or CGN_DROPPED with why counted.
 */
enum cgn_verdict cgn_icmp_reply(struct cgn_worker *w, struct cgn_pkt *p, uint8_t type, uint8_t code,
				enum cgn_drop_reason why);
/** The same with ICMP 3/4, "fragmentation needed and DF set", and the next hop's MTU (RFC
 * 1191 §4); the packet counted as TOO_BIG. icmp.c */
enum cgn_verdict cgn_icmp_too_big(struct cgn_worker *w, struct cgn_pkt *p, uint16_t mtu);

/** @return whether a packet (before translation, p->ip) is too big for mtu and may not be
 * fragmented: it has DF set. */
static inline bool
cgn_too_big_for(const struct cgn_pkt *p, uint16_t mtu)
{
	return unlikely(rte_be_to_cpu_16(p->ip->total_length) > mtu) &&
	       (p->ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG));
}

/**
 * Sends a translated, routed packet bigger than its port's MTU (DF clear) in fragments, its
 * Ethernet header copied to each; frees it. Drops it, counted, with DF set (TOO_BIG) or when
 * it cannot be fragmented (CANNOT_FRAGMENT). mtu.c @return true if a fragment was queued.
 */
bool cgn_send_fragments(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_port *port) __attribute__((cold));

/** Expires idle implicit mappings of this worker's share of the table (bounded). expire.c */
void cgn_expire(struct cgn_worker *w, uint64_t now_ms);

/** Releases ports whose hold time is over (bounded). expire.c */
void cgn_hold_release(struct cgn_worker *w, uint64_t now_ms);

/**
 * Runs a burst that arrived on one port through the steps and queues what is sent.
 * Worker context. @return packets sent.
 */
uint16_t cgn_nat44_burst(struct cgn_worker *w, uint16_t port, struct rte_mbuf **pkts, uint16_t n);

#endif /* CGN_NAT44_H */
