/*
 * Step "reassemble" (fragment.h's exception): ICMP in fragments, put together before the
 * lookup, with librte_ip_frag. Every other datagram is translated fragment by fragment
 * (fragment.c); ICMP cannot be with NAT64: the ICMPv6 checksum covers a pseudo-header with the
 * upper-layer packet length (RFC 8200 §8.1), the whole message's, which no fragment tells,
 * and ICMPv4's has none, so translating adds that pseudo-header to the sum or takes it out
 * (RFC 7915 §4.2, §5.2).
 * RFC 6146 §3.4 lets a NAT64 collect fragments ("the NAT64 MAY elect to queue the fragments
 * as they arrive and translate all fragments at the same time") and bounds the wait
 * (FRAGMENT_MIN, 2 s, CGN_FRAG_LIFE_MS).
 *
 *   6 -> 4: an IPv6 fragment from the inside to a Pref64 whose Fragment header says ICMPv6
 *           (every fragment carries it), classify64's choice;
 *   4 -> 6: an IPv4 fragment of protocol 1 (every fragment carries it) from the outside to a
 *           pool address, when NAT64 is on, classify4's choice. A later fragment has no echo
 *           identifier, so which mapping it is of, NAT44's or NAT64's, is known only once the
 *           first one is there: NAT44's echo replies in fragments are reassembled too, and cut
 *           again by mtu.c for the inside link if they do not fit it (DF is clear on a
 *           fragment). With NAT64 off nothing changes for NAT44.
 *
 * The whole datagram (the first fragment's mbuf, the rest chained, DPDK having taken the
 * Fragment header out) is made one mbuf (rte_pktmbuf_linearize: the steps read headers, and
 * ports may not take chains) and classified again from its Ethernet header: from there it is
 * a packet like any other. That mbuf must hold the whole frame: dataplane.mbuf_size bounds
 * the ICMP datagrams that cross in fragments (NAT64_REASSEMBLY otherwise, docs/configuration.md).
 * What leaves is cut again for its link (mtu.c): 6->4 with DF clear (p->reassembled: the
 * sender let it be fragmented, RFC 7915 §5.1.1), 4->6 in IPv6 fragments of lowest_ipv6_mtu.
 *
 * Bounds: CGN_REASM_FLOWS datagrams in progress a worker (a new one is refused when they are
 * all younger than 2 s), RTE_LIBRTE_IP_FRAG_MAX_FRAG (8) fragments a datagram, 65535 octets.
 * Only a Fragment header right after the IPv6 header (librte_ip_frag removes it from there).
 * The mbufs librte_ip_frag gives up on land on the death row, which is counted and emptied
 * after every call (its bound is one call's worth).
 *
 * Worker context (the table is the worker's own: RSS keeps a datagram's fragments on one
 * queue, fragment.h).
 */
#include <netinet/in.h>

#include <rte_ip_frag.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"
#include "classify.h"
#include "fragment.h"

/* Counts the mbufs on the death row under why and frees them. @return whether m was one. */
static bool
flush_death_row(struct cgn_worker *w, enum cgn_drop_reason why, const struct rte_mbuf *m)
{
	struct rte_ip_frag_death_row *dr = &w->frags.reasm_dr;
	bool found = false;
	for (uint32_t i = 0; i < dr->cnt; i++)
		found |= dr->row[i] == m;
	w->pkt.drops[why] += dr->cnt;
	rte_ip_frag_free_death_row(dr, 0);
	return found;
}

void
cgn_reassembly_expire(struct cgn_worker *w, uint64_t now_ms)
{
	struct cgn_frags *f = &w->frags;
	if (f->reasm == NULL)
		return;
	/* Each call moves expired datagrams (oldest first) while the death row has room for
	 * them: again until none is left, at most the table's CGN_REASM_FLOWS in all. */
	do {
		rte_ip_frag_table_del_expired_entries(f->reasm, &f->reasm_dr, now_ms);
		if (f->reasm_dr.cnt == 0)
			break;
		flush_death_row(w, CGN_DROP_NAT64_REASSEMBLY_TIMEOUT, NULL);
	} while (true);
}

/* What the table made of fragment m (out: the whole datagram, or NULL): held, dropped, or
 * whole, then one mbuf classified again. */
static enum cgn_verdict
after_table(struct cgn_worker *w, struct cgn_pkt *p, struct rte_mbuf *m, struct rte_mbuf *out)
{
	bool refused = flush_death_row(w, CGN_DROP_NAT64_REASSEMBLY, m);
	p->frag = CGN_FRAG_NONE; /* the fragment records (fragment.c) have nothing to do with it */
	if (out == NULL) {
		if (refused)
			return CGN_DROPPED; /* counted on the death row */
		w->pkt.reassembly_held++;
		return CGN_CONSUMED;
	}
	p->m = out;
	if (rte_pktmbuf_linearize(out) != 0) /* longer than one mbuf holds */
		return cgn_drop(w, p, CGN_DROP_NAT64_REASSEMBLY);
	w->pkt.reassembled++;
	if (p->af == CGN_AF_IPV4) { /* librte_ip_frag zeroes the header checksum (an offload's) */
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(out, struct rte_ipv4_hdr *, out->l2_len);
		ip->hdr_checksum = 0;
		ip->hdr_checksum = cgn_cksum(ip, out->l3_len);
	}
	/* A whole packet now (no Fragment header, MF and offset clear): classify does not come
	 * back here. */
	p->reassembled = true;
	return cgn_classify(w, p);
}

enum cgn_verdict
cgn_reassemble6(struct cgn_worker *w, struct cgn_pkt *p, uint32_t frag_at)
{
	struct rte_mbuf *m = p->m;
	struct rte_ipv6_hdr *ip6 = p->ip6;
	p->frag = CGN_FRAG_NONE;
	if (frag_at != sizeof(*ip6))
		return cgn_drop(w, p, CGN_DROP_NAT64_FRAGMENT);
	/* Only a subscriber's fragments may take room in the table (fragment.c holds alike). */
	if (!cgn_dataplane_inside(w->dp, (const struct cgn_addr *)ip6->src_addr))
		return cgn_drop(w, p, CGN_DROP_NOT_INSIDE);
	struct rte_ipv6_fragment_ext *fh = (struct rte_ipv6_fragment_ext *)(ip6 + 1);
	/* Bounds librte_ip_frag 22.11 does not check: data in it, and within 65535 octets. */
	uint32_t len = rte_be_to_cpu_16(ip6->payload_len) - (uint32_t)sizeof(*fh);
	uint32_t off = RTE_IPV6_GET_FO(rte_be_to_cpu_16(fh->frag_data));
	if (rte_be_to_cpu_16(ip6->payload_len) <= sizeof(*fh) || off + len > UINT16_MAX)
		return cgn_drop(w, p, CGN_DROP_NAT64_REASSEMBLY);
	cgn_reassembly_expire(w, w->now_ms); /* what times out now counts as such, not refused */
	m->l2_len = (uint64_t)((uint8_t *)ip6 - rte_pktmbuf_mtod(m, uint8_t *));
	m->l3_len = sizeof(*ip6) + sizeof(*fh);
	struct rte_mbuf *out = rte_ipv6_frag_reassemble_packet(w->frags.reasm, &w->frags.reasm_dr, m, w->now_ms,
								ip6, fh);
	return after_table(w, p, m, out);
}

enum cgn_verdict
cgn_reassemble4(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct rte_mbuf *m = p->m;
	struct rte_ipv4_hdr *ip = p->ip4;
	p->frag = CGN_FRAG_NONE;
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0x0f) * 4;
	uint32_t len = rte_be_to_cpu_16(ip->total_length) - ihl; /* classify4 checked total >= ihl */
	uint32_t off = (uint32_t)(rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) * 8;
	if (len == 0 || off + len + ihl > UINT16_MAX)
		return cgn_drop(w, p, CGN_DROP_NAT64_REASSEMBLY);
	cgn_reassembly_expire(w, w->now_ms);
	m->l2_len = (uint64_t)((uint8_t *)ip - rte_pktmbuf_mtod(m, uint8_t *));
	m->l3_len = ihl;
	struct rte_mbuf *out = rte_ipv4_frag_reassemble_packet(w->frags.reasm, &w->frags.reasm_dr, m, w->now_ms, ip);
	return after_table(w, p, m, out);
}
