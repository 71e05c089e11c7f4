/*
 * Step "tcp state" (tcp_state.c has the rules and their RFC sections): what a mapping's TCP
 * segments say about its connection. The test here is the fast path's: only TCP (not an ICMP
 * error about it) goes further. Worker context.
 */
#ifndef CGN_TCP_STATE_H
#define CGN_TCP_STATE_H

#include <netinet/in.h>

#include "pipeline.h"

/** The slow part of cgn_tcp_state(). tcp_state.c */
void cgn_tcp_state_update(struct cgn_mapping *m, const struct cgn_pkt *p, bool outbound, uint64_t now_ms);

/** Step "tcp state": the TCP state of an implicit or PEER mapping from the packet's flags
 * (RFC 5382 REQ-5, RFC 7857 §2.1), and the close of a PEER session. */
static inline void
cgn_tcp_state(struct cgn_mapping *m, const struct cgn_pkt *p, bool outbound, uint64_t now_ms)
{
	if (p->proto == IPPROTO_TCP && !p->icmp_error)
		cgn_tcp_state_update(m, p, outbound, now_ms);
}

#endif /* CGN_TCP_STATE_H */
