/*
 * ICMPv6 errors a worker sends (RFC 4443), the pipeline's side of icmp6.c: whether one may be
 * sent (§2.4(e), then the worker's token bucket, §2.4(f), shared with ICMPv4), from which
 * address (§2.2), and out of which port: routed toward the offending packet's source by the
 * IPv6 routes (send.c cgn_send6_own), back the way it came when none matches. The packet
 * itself is counted under the reason it did not pass, whether or not an error left.
 * Slow path: allocates one mbuf per error. Worker context.
 */
#include <string.h>

#include "cgn_dataplane.h"
#include "icmp6.h"

/* RFC 4443 §2.2: the address the packet was sent to if it was one of ours, else icmp_source6,
 * else the in-port's global address, else its link-local one. */
static struct cgn_addr
error_source(const struct cgn_dataplane *dp, const struct cgn_port *port, const struct cgn_pkt *p)
{
	const struct cgn_nd_iface ifc = cgn_port_nd(port);
	const struct cgn_addr *dst = (const struct cgn_addr *)p->ip6->dst_addr;
	if (cgn_nd_addr_is_ours(&ifc, dst))
		return *dst;
	if (dp->have_icmp_source6)
		return dp->icmp_source6;
	return port->have_address6 ? port->address6 : port->link_local;
}

enum cgn_verdict
cgn_icmp6_reply(struct cgn_worker *w, struct cgn_pkt *p, uint8_t type, uint8_t code, uint32_t param,
		enum cgn_drop_reason why)
{
	struct cgn_dataplane *dp = w->dp;
	const struct cgn_port *port = &dp->ports[dp->port_index[p->in_port]];
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, struct rte_ether_hdr *);
	const uint8_t *ip6 = p->l3;
	size_t len = rte_pktmbuf_data_len(p->m) - sizeof(*eth);
	/* A later fragment's "upper-layer header" is the middle of its data: no ICMPv6 type to
	 * read there (§2.4(e.1) is decided on what can be known). */
	uint8_t upper = p->frag == CGN_FRAG_LATER ? IPPROTO_FRAGMENT : p->proto;
	if (!cgn_icmp6_error_allowed(ip6, len, &eth->dst_addr, upper, (size_t)(p->l4 - (uint8_t *)p->l3), type, code,
				     param))
		return cgn_drop(w, p, why);
	if (!cgn_icmp_allowed(w)) {
		w->pkt.icmp_rate_limited++;
		return cgn_drop(w, p, why);
	}
	const struct cgn_addr from = error_source(dp, port, p);
	struct rte_mbuf *r = cgn_icmp6_error_build(dp->mbufs, &port->mac, &eth->src_addr, &from, ip6, len, type, code,
						   param);
	if (r == NULL)
		return cgn_drop(w, p, why);
	struct cgn_addr to;
	memcpy(to.b, ((const struct rte_ipv6_hdr *)ip6)->src_addr, 16);
	rte_pktmbuf_free(p->m);
	p->m = r;
	w->pkt.drops[why]++; /* the packet itself did not pass: counted under its reason */
	if (cgn_send6_own(w, p, &to))
		w->pkt.icmp_sent++;
	else /* its next hop is being asked for: the error is lost, the packet counted once */
		rte_pktmbuf_free(r);
	return CGN_CONSUMED;
}

enum cgn_verdict
cgn_no_route6(struct cgn_worker *w, struct cgn_pkt *p)
{
	return cgn_icmp6_reply(w, p, CGN_ICMP6_DST_UNREACH, CGN_ICMP6_NO_ROUTE, 0, CGN_DROP_NO_NAT64);
}
