/*
 * Step "tcp state": what a mapping's TCP segments say about its connection (RFC 5382 REQ-5,
 * RFC 7857 §2.1): the state that picks an implicit TCP mapping's idle timeout (expire.c), and
 * the FIN or RST that ends a PEER session (RFC 6887 §12.3, "as per the NAT or firewall
 * device's existing policy"; control/mappings.c compares closed_peer).
 * Kept for PEER mappings too, but not from a segment from outside: anyone can send those to
 * an unfiltered PEER mapping. The state of inbound (MAP, static, NAT-PMP) mappings is never
 * touched (§15: "MUST NOT have its lifetime reduced by transport protocol messages"); when
 * PEER sessions joined one, only the close is recorded, for them.
 * Worker context (relaxed atomics: several workers may see one flow).
 */
#include <netinet/in.h>

#include <rte_tcp.h>

#include "tcp_state.h"

/* Records the FIN or RST of a TCP connection: when, and its remote end (the destination of
 * an outbound segment, the source of an inbound one: p->remote). The time is stored last,
 * with release: a reader that loads it with acquire sees the end that goes with it, unless
 * two closes of the mapping race (best effort: one record a mapping, the latest). */
static void
record_close(struct cgn_mapping *m, const struct cgn_pkt *p, uint64_t now_ms)
{
	__atomic_store_n(&m->closed_peer, p->remote, __ATOMIC_RELAXED);
	__atomic_store_n(&m->closed_port, p->remote_port, __ATOMIC_RELAXED);
	__atomic_store_n(&m->closed_ms, now_ms, __ATOMIC_RELEASE);
}

void
cgn_tcp_state_update(struct cgn_mapping *m, const struct cgn_pkt *p, bool outbound, uint64_t now_ms)
{
	if (!(m->flags & (CGN_MAP_IMPLICIT | CGN_MAP_PEER)))
		return;
	uint8_t flags = ((const struct rte_tcp_hdr *)p->l4)->tcp_flags;
	if (m->flags & CGN_MAP_INBOUND) {
		if (outbound && (m->flags & CGN_MAP_PEER) && (flags & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG)))
			record_close(m, p, now_ms);
		return;
	}
	uint8_t st = __atomic_load_n(&m->tcp_state, __ATOMIC_RELAXED), next = st;
	if (flags & (RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG)) {
		if (!outbound && (m->flags & CGN_MAP_PEER))
			return;
		next = CGN_TCP_CLOSING;
	} else if (flags & RTE_TCP_SYN_FLAG) {
		next = outbound || st == CGN_TCP_NONE ? (st == CGN_TCP_ESTABLISHED ? st : CGN_TCP_TRANSITORY)
						      : CGN_TCP_ESTABLISHED; /* the SYN of the other side */
	} else if (st == CGN_TCP_NONE) {
		next = CGN_TCP_ESTABLISHED; /* mid-stream: a connection we learn of late */
	}
	if (next == CGN_TCP_CLOSING)
		record_close(m, p, now_ms);
	if (next != st)
		__atomic_store_n(&m->tcp_state, next, __ATOMIC_RELAXED);
}
