/*
 * Step "classify", IPv4 (after classify.h's Ethernet): parses an IPv4 packet with explicit
 * bounds (header, then TCP, UDP, ICMP echo, or an ICMP error and the packet it quotes, RFC
 * 5508 §2.2), hands what is for the CGN's own address to local.c, drops what cannot be
 * translated with a named reason, and builds the lookup key:
 *   from the inside:  (source address, source port or echo id, protocol, INSIDE)
 *   from the outside: (destination address, destination port or id, protocol, OUTSIDE)
 *   ICMP errors: the key of the quoted packet, which travelled the other way.
 * ICMP fragments from the outside to a pool address are reassembled first when NAT64 is on
 * (reassemble.c). The family steps are NAT44's. Worker context.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_icmp.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "cgn_cksum.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "cgn_dataplane.h"


/* Ports (or echo identifier) of a transport header of at least 8 octets: src, dst. */
static bool
l4_ports(uint8_t proto, const uint8_t *l4, uint16_t len, uint16_t *src, uint16_t *dst, bool quoted)
{
	switch (proto) {
	case IPPROTO_TCP:
		if (len < (quoted ? 8 : sizeof(struct rte_tcp_hdr)))
			return false;
		break;
	case IPPROTO_UDP:
		if (len < sizeof(struct rte_udp_hdr))
			return false;
		break;
	case IPPROTO_ICMP:
		if (len < 8 || (l4[0] != CGN_ICMP_ECHO && l4[0] != CGN_ICMP_ECHO_REPLY))
			return false;
		*src = *dst = cgn_rd16(l4 + 4); /* the identifier is the "port" of both ends */
		return true;
	default:
		return false;
	}
	*src = cgn_rd16(l4);
	*dst = cgn_rd16(l4 + 2);
	return true;
}

/* The header checksum verifies; the usual 20-octet header is summed without a loop. */
static inline bool
header_sum_ok(const struct rte_ipv4_hdr *ip, uint32_t ihl)
{
	if (likely(ihl == sizeof(*ip)))
		return cgn_cksum(ip, sizeof(*ip)) == 0;
	return cgn_cksum(ip, ihl) == 0;
}

/* The lookup key of the flow, and its table hash (computed from the values: cgn_table_hash_v4). */
static inline void
set_key(const struct cgn_worker *w, struct cgn_pkt *p, uint32_t v4_be, uint16_t port)
{
	cgn_key_set_v4(&p->key, v4_be, port, p->proto, p->side);
	p->hash = cgn_table_hash_v4(w->dp->table, v4_be, port, p->proto, p->side);
}

enum cgn_verdict
cgn_classify4(struct cgn_worker *w, struct cgn_pkt *p, uint32_t len)
{
	struct rte_mbuf *m = p->m;
	p->af = p->naf = CGN_AF_IPV4;
	p->steps = &cgn_steps_nat44;
	if (len < sizeof(struct rte_ipv4_hdr))
		return cgn_drop(w, p, CGN_DROP_TRUNCATED);
	uint32_t ihl = (uint32_t)(p->ip4->version_ihl & 0x0f) * 4;
	uint32_t total = rte_be_to_cpu_16(p->ip4->total_length);
	if ((p->ip4->version_ihl >> 4) != 4 || ihl < 20 || total < ihl)
		return cgn_drop(w, p, CGN_DROP_BAD_IP_HEADER);
	if (total > len || ihl > len)
		return cgn_drop(w, p, CGN_DROP_TRUNCATED);
	/* RFC 1812 §5.2.2: a router MUST verify the header checksum; the NIC may have done it. */
	uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD || (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !header_sum_ok(p->ip4, ihl)))
		return cgn_drop(w, p, CGN_DROP_BAD_CHECKSUM);
	/* Ethernet padding past the IP packet is not ours to translate: trim it. */
	if (total < len)
		rte_pktmbuf_trim(m, (uint16_t)(len - total));

	p->l4 = (uint8_t *)p->ip4 + ihl;
	p->l4_len = (uint16_t)(total - ihl);
	p->proto = p->ip4->next_proto_id;
	p->icmp_error = false;
	uint16_t fo = rte_be_to_cpu_16(p->ip4->fragment_offset);
	if (fo & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) {
		/* RFC 4787 REQ-14 (fragment.h): the datagram is known by its header as it came. */
		p->fkey = (struct cgn_frag_key){ p->ip4->src_addr, p->ip4->dst_addr, p->ip4->packet_id, p->proto, p->side };
		p->frag = (fo & RTE_IPV4_HDR_OFFSET_MASK) ? CGN_FRAG_LATER : CGN_FRAG_FIRST;
	}

	/* For the CGN itself (the port's own address): not translated. */
	int16_t pi = w->dp->port_index[p->in_port];
	if (pi >= 0 && w->dp->ports[pi].address && p->ip4->dst_addr == w->dp->ports[pi].address)
		return p->frag == CGN_FRAG_NONE ? cgn_local_ipv4(w, p) : cgn_drop(w, p, CGN_DROP_LOCAL);
	/* ICMP in fragments to a pool address, NAT64 on: reassembled first (reassemble.c: it may
	 * be an IPv6 subscriber's, whose ICMPv6 checksum needs the whole message's length). */
	if (unlikely(p->frag != CGN_FRAG_NONE) && p->proto == IPPROTO_ICMP && p->side == CGN_SIDE_OUTSIDE &&
	    w->dp->n_pref64 != 0 && cgn_dataplane_in_pool(w->dp, p->ip4->dst_addr))
		return cgn_reassemble4(w, p);
	if (p->frag == CGN_FRAG_LATER) /* no transport header: its first fragment's mapping */
		return p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP || p->proto == IPPROTO_ICMP
			       ? CGN_CONTINUE
			       : cgn_drop(w, p, CGN_DROP_UNSUPPORTED_PROTO);

	uint16_t sport, dport;
	const struct rte_ipv4_hdr *flow_ip = p->ip4;
	bool inside = p->side == CGN_SIDE_INSIDE;

	if (p->proto == IPPROTO_ICMP && p->l4_len >= 8 &&
	    (p->l4[0] == CGN_ICMP_DEST_UNREACH || p->l4[0] == CGN_ICMP_TIME_EXCEEDED || p->l4[0] == CGN_ICMP_PARAM_PROBLEM)) {
		/* RFC 5508 §2.2: an error quoting a packet of a flow: its IP header and at least
		 * the first 8 octets of its transport header. */
		uint16_t rest = (uint16_t)(p->l4_len - 8);
		struct rte_ipv4_hdr *e = (struct rte_ipv4_hdr *)(p->l4 + 8);
		uint32_t eihl = rest >= 20 ? (uint32_t)(e->version_ihl & 0x0f) * 4 : 0;
		if (rest < 20 || (e->version_ihl >> 4) != 4 || eihl < 20 || eihl + 8 > rest)
			return cgn_drop(w, p, CGN_DROP_TRUNCATED);
		if (p->frag != CGN_FRAG_NONE) /* an error too long for one packet: not translated */
			return cgn_drop(w, p, CGN_DROP_FRAGMENT);
		p->icmp_error = true;
		p->emb_ip4 = e;
		p->emb_l4 = (uint8_t *)e + eihl;
		p->proto = e->next_proto_id;
		if (!l4_ports(p->proto, p->emb_l4, (uint16_t)(rest - eihl), &sport, &dport, true))
			return cgn_drop(w, p, p->proto == IPPROTO_ICMP ? CGN_DROP_ICMP_TYPE : CGN_DROP_UNSUPPORTED_PROTO);
		/* The quoted packet went the other way: its destination is our inside endpoint
		 * (an error from the inside), its source our external one (from the outside). */
		set_key(w, p, inside ? e->dst_addr : e->src_addr, inside ? dport : sport);
		return CGN_CONTINUE;
	}

	if (!l4_ports(p->proto, p->l4, p->l4_len, &sport, &dport, false)) {
		if (p->proto == IPPROTO_ICMP)
			return cgn_drop(w, p, p->l4_len < 8 ? CGN_DROP_TRUNCATED : CGN_DROP_ICMP_TYPE);
		if (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP)
			return cgn_drop(w, p, CGN_DROP_TRUNCATED);
		return cgn_drop(w, p, CGN_DROP_UNSUPPORTED_PROTO);
	}
	set_key(w, p, inside ? flow_ip->src_addr : flow_ip->dst_addr, inside ? sport : dport);
	/* The remote peer: the destination of what leaves, the source of what comes in. ICMP
	 * queries have no port at the remote end (filtering by address only). */
	p->remote = inside ? flow_ip->dst_addr : flow_ip->src_addr;
	p->remote_port = p->proto == IPPROTO_ICMP ? 0 : (inside ? dport : sport);
	return CGN_CONTINUE;
}
