/*
 * Fragments (RFC 4787 REQ-14: a NAT "MUST support receiving in-order and out-of-order
 * fragments"; RFC 6146 §3.4 for NAT64), translated without reassembly. The first fragment
 * carries the transport header: it goes through the steps like any packet, and what they made
 * of its addresses is remembered for the datagram. Later fragments take the same addresses
 * from that record; one that comes before its first fragment is held until the first one is
 * translated, or dropped after a hold time. A first fragment the steps drop is remembered too:
 * its later fragments are dropped at once. Only fragments that could be ours are held
 * (outbound from pcp.inside, inbound to a pool address), each side at most half the hold, the
 * oldest making room for the newest.
 *
 * Three kinds of datagram, by the families it arrives and leaves with:
 *   IPv4 -> IPv4 (NAT44): keyed by its IPv4 header (source, destination, identification,
 *       protocol, side); the record holds the new addresses.
 *   IPv4 -> IPv6 (NAT64 inbound, or hairpinned to an IPv6 subscriber): keyed the same; the
 *       record holds the IPv6 source (the remote under the mapping's Pref64) and destination
 *       in its side-table entry, and each later fragment leaves as IPv6 with a Fragment
 *       header (RFC 7915 §4.1: offset and M copied, Identification the IPv4 ID).
 *   IPv6 -> IPv4 (NAT64 outbound, from the inside to a Pref64): keyed by (source,
 *       destination, 32-bit identification) of the IPv6 header, the addresses in the
 *       side-table entry; the record holds the new IPv4 addresses, and each later fragment
 *       leaves as IPv4 with the low 16 bits of the identification, MF = M, the offset, DF
 *       clear (RFC 7915 §5.1.1). A datagram from an IPv6 subscriber hairpinned to another
 *       IPv6 subscriber has no room for both address pairs: its first fragment is dropped
 *       (NAT64_FRAGMENT), and with it the rest.
 * The IPv4 identification is not rewritten: a destination may, rarely, see two subscribers'
 * datagrams with one identification from one external address at once (documented limit).
 *
 * ICMP is the exception (reassemble.c): an ICMPv6 checksum covers a pseudo-header with the
 * whole message's length, which no fragment tells, so NAT64 reassembles ICMPv6 from the inside
 * to a Pref64 and (with NAT64 on: a later fragment does not tell which family its mapping's
 * inside speaks) IPv4 ICMP from the outside to a pool address, with librte_ip_frag, and lets
 * the whole datagram take the steps; mtu.c cuts it again for the link it leaves by.
 *
 * State is per worker: RSS sends every fragment of a datagram to one queue (NICs hash
 * fragments by their addresses alone, RTE_ETH_RSS_FRAG_IPV4 and _IPV6). Worker context only.
 */
#ifndef CGN_FRAGMENT_H
#define CGN_FRAGMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_ip_frag.h>

#include "pipeline.h"

#define CGN_FRAG_SLOTS 65536  /* datagrams remembered a worker (a power of two; 32 octets each) */
#define CGN_FRAG_HELD 64      /* later fragments held a worker, waiting for their first */
#define CGN_FRAG_HELD_SIDE (CGN_FRAG_HELD / 2) /* of them, from one side */
#define CGN_FRAG_LIFE_MS 2000 /* how long a datagram is remembered, and a fragment held */
#define CGN_REASM_FLOWS 1024  /* ICMP datagrams a worker reassembles at once (reassemble.c) */
#define CGN_REASM_BUCKET 4    /* of them, in one bucket of the table */

/* What became of a datagram's first fragment. */
enum cgn_frag_fate {
	CGN_FRAG_TO_IPV4, /* translated; it left as IPv4 (new_src, new_dst) */
	CGN_FRAG_TO_IPV6, /* translated; it left as IPv6 (the addresses in the side table) */
	CGN_FRAG_REFUSED, /* the steps dropped it: drop the rest */
};

/* One datagram whose first fragment was translated (or refused). */
struct cgn_frag_entry {
	struct cgn_frag_key k;
	uint32_t new_src, new_dst; /* network order; CGN_FRAG_TO_IPV4 only */
	uint16_t out_port;         /* where the first fragment left when no route says otherwise */
	uint8_t to;                /* enum cgn_port_role */
	uint8_t fate;              /* enum cgn_frag_fate */
	uint64_t until_ms;         /* 0: free */
};
_Static_assert(sizeof(struct cgn_frag_entry) == 32, "two entries a cache line");

struct cgn_frag_held {
	struct cgn_pkt p; /* as classify left it: its mbuf, headers, fkey */
	uint64_t until_ms;
};

struct cgn_frags {
	struct cgn_frag_entry *slots; /* [CGN_FRAG_SLOTS] */
	/* [CGN_FRAG_SLOTS], beside slots (entry i's is addr6[i], 32 octets: two a cache line,
	 * touched only for IPv6): an IPv6 datagram's own addresses (its key's), or, for an IPv4
	 * datagram that leaves as IPv6, the addresses it leaves with. */
	struct cgn_frag_addr6 *addr6;
	struct cgn_frag_held held[CGN_FRAG_HELD]; /* in arrival order */
	unsigned n_held;
	unsigned n_held_side[2];
	/* ICMP datagrams being reassembled (reassemble.c): librte_ip_frag's table, its time
	 * the worker's now_ms (max_cycles CGN_FRAG_LIFE_MS, RFC 6146 §3.4's FRAGMENT_MIN), and
	 * the mbufs it gives up on, counted and freed after each call (so never more than one
	 * call's worth: the death row is not bounds-checked by DPDK). */
	struct rte_ip_frag_tbl *reasm;
	struct rte_ip_frag_death_row reasm_dr;
};

/**
 * The key of an IPv6 fragment's datagram (RFC 8200 §4.5: source, destination, identification;
 * struct cgn_frag_key says how it is folded) into p->fkey and p->faddr6. ip6 is p's IPv6
 * header, id the Fragment header's Identification (network order). Any context (pure).
 */
static inline void
cgn_frag_key6(struct cgn_pkt *p, const struct rte_ipv6_hdr *ip6, uint32_t id)
{
	memcpy(p->faddr6.src, ip6->src_addr, 16);
	memcpy(p->faddr6.dst, ip6->dst_addr, 16);
	uint64_t h = 0, v;
	for (unsigned i = 0; i < sizeof(p->faddr6); i += 8) {
		memcpy(&v, (const uint8_t *)&p->faddr6 + i, 8);
		h = (h ^ v) * 0x9e3779b97f4a7c15ull;
	}
	p->fkey = (struct cgn_frag_key){ .src = (uint32_t)(h >> 32), .dst = id, .id = 0, .proto = 0,
					 .side = (uint8_t)(p->side | CGN_FRAG_KEY_IPV6) };
}

/** Allocates a worker's fragment state. Main lcore. @return 0 or -ENOMEM. */
int cgn_frags_init(struct cgn_frags *f);

/** Frees it, and the fragments still held. Main lcore, after the workers stopped. */
void cgn_frags_fini(struct cgn_frags *f);

/**
 * A first fragment leaves translated (p's header rewritten, IPv4 or IPv6 by p->naf,
 * p->out_port and p->to set): remembers its datagram under the key classify took before the
 * rewrite (p->fkey, and p->faddr6 for IPv6), with the addresses it leaves with. The caller made
 * sure an IPv6 datagram does not leave as IPv6 (translate46.c refuses that hairpin).
 * @return its record.
 */
const struct cgn_frag_entry *cgn_frag_record(struct cgn_worker *w, const struct cgn_pkt *p);

/** The steps dropped a first fragment (p's mbuf may be gone: only p->fkey and p->faddr6 are
 * read): its later fragments, held or to come, are dropped. */
void cgn_frag_refuse(struct cgn_worker *w, const struct cgn_pkt *p);

/**
 * A later fragment: translated like its datagram's first fragment, to the family it left with
 * (@return CGN_TX), or held until it comes (CGN_CONSUMED), or dropped (CGN_DROPPED: its first
 * was dropped, it cannot be ours, or its TTL or hop limit ran out: no ICMP error for a
 * non-initial fragment, RFC 1812 §4.3.2.7).
 */
enum cgn_verdict cgn_frag_later(struct cgn_worker *w, struct cgn_pkt *p);

/** Sends the held fragments of the datagram just recorded (e: cgn_frag_record's, this burst).
 * @return how many were sent. */
unsigned cgn_frag_release(struct cgn_worker *w, const struct cgn_frag_entry *e);

/** Drops held fragments whose first fragment did not come in time (counted), and fragments
 * held for reassembly whose datagram was not whole in time (NAT64_REASSEMBLY_TIMEOUT). */
void cgn_frag_expire(struct cgn_worker *w, uint64_t now_ms);

/*
 * Reassembly of ICMP in fragments (reassemble.c), called by classify for a fragment it chose
 * to reassemble (p's headers parsed, p->frag set): hands the fragment to the worker's table.
 * When it completes its datagram, the whole datagram (in one mbuf, the Fragment header gone)
 * replaces p->m, p->reassembled is set and it is classified again from its Ethernet header:
 * @return that verdict. Else CGN_CONSUMED (held: reassembly_held), or CGN_DROPPED (counted:
 * NAT64_REASSEMBLY, or NOT_INSIDE / NO_MAPPING when it cannot be ours). p->frag is
 * CGN_FRAG_NONE afterwards whatever the verdict (the fragment records are not concerned).
 */
/** An IPv6 fragment from the inside to a Pref64 whose Fragment header (frag_at octets into
 * the IPv6 packet) says ICMPv6. Only a Fragment header right after the IPv6 header is
 * reassembled (librte_ip_frag's limit): else NAT64_FRAGMENT. */
enum cgn_verdict cgn_reassemble6(struct cgn_worker *w, struct cgn_pkt *p, uint32_t frag_at);
/** An IPv4 ICMP fragment from the outside to a pool address. */
enum cgn_verdict cgn_reassemble4(struct cgn_worker *w, struct cgn_pkt *p);
/** Drops (counted) the fragments held for reassembly longer than CGN_FRAG_LIFE_MS. Bounded
 * by what the table holds (CGN_REASM_FLOWS datagrams); cgn_frag_expire calls it. */
void cgn_reassembly_expire(struct cgn_worker *w, uint64_t now_ms);

#endif /* CGN_FRAGMENT_H */
