/*
 * Step "classify", IPv6 (after classify.h's Ethernet), RFC 8200: checks the fixed header,
 * walks the extension headers the CGN knows with explicit bounds and at most
 * CGN_IP6_MAX_EXT of them, and finds the upper-layer header (p->proto, p->l4):
 *
 *   walked:   Hop-by-Hop Options (only right after the IPv6 header, RFC 8200 §4.1), Routing,
 *             Destination Options ((Hdr Ext Len + 1) * 8 octets), Fragment (8 octets, §4.5:
 *             a later fragment ends the walk, its rest is payload)
 *   refused:  other extension headers (ESP, AH, Mobility, HIP, Shim6, experimental: RFC 7045
 *             lets a node that does not process them drop), more than CGN_IP6_MAX_EXT headers,
 *             a header that runs past the packet: each with its own reason.
 *
 * A packet for the CGN itself (the in-port's link-local or global address, ff02::1, ff02::2,
 * their solicited-node groups) goes to local6.c, unless an option it does not know says
 * discard (§4.2: silently, or with Parameter Problem code 2 at the option; IP6_OPTION) or a
 * Routing header has segments left (§4.4: Parameter Problem code 0 at its type; the CGN is
 * no hop of a source route; IP6_ROUTING); other multicast is not ours (IP6_MULTICAST).
 * Anything else sent to the port's MAC is NAT64's when its destination is under a Pref64
 * (classify64: the key, the family steps nat64); else answered as a router without a route
 * answers (RFC 4443 §3.1 code 0, rate-limited) and counted (NO_NAT64); in a frame for another
 * MAC it is dropped (IP6_OTHER_HOST). IPv4-mapped addresses are refused first (IP6_MAPPED).
 * Worker context.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_tcp.h>
#include <rte_udp.h>

#include "cgn_dataplane.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "cgn_rfc6052.h"
#include "fragment.h"

/* An extension header classify walks (RFC 8200 §4). */
static inline bool
walked(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_FRAGMENT || nh == IPPROTO_DSTOPTS;
}

/* An extension header of the IANA registry (RFC 7045 §2) it does not walk. */
static inline bool
other_extension(uint8_t nh)
{
	return cgn_ipv6_is_ext_header(nh);
}

/* What the walk found that only the packet's destination acts on (RFC 8200 §4.2, §4.4): the
 * first option of an options header it does not know, or a Routing header with segments
 * left; none when code is NO_PROBLEM. */
#define NO_PROBLEM 0xff
struct ext_problem {
	uint8_t code;     /* Parameter Problem code to answer with, or NO_PROBLEM */
	bool silent;      /* discard without an answer (action 01) */
	bool unless_mc;   /* no answer if the destination is multicast (action 11) */
	uint32_t pointer; /* octet offset from the IPv6 header */
};

/* Walks the options of a Hop-by-Hop or Destination Options header (h, hl octets, at offset
 * off) with bounds. Known: Pad1, PadN, Router Alert (RFC 2711: nothing for us to do).
 * @return false if an option runs past the header (malformed). */
static bool
walk_options(const uint8_t *h, uint32_t hl, uint32_t off, struct ext_problem *pb)
{
	for (uint32_t i = 2; i < hl;) {
		uint8_t type = h[i];
		if (type == 0) { /* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > hl || i + 2 + h[i + 1] > hl)
			return false;
		if (type != 1 && type != 5 && pb->code == NO_PROBLEM && !pb->silent) {
			/* §4.2: the two high-order bits of an unrecognised option's type say. */
			switch (type >> 6) {
			case 0:
				break; /* skip it */
			case 1:
				pb->silent = true;
				break;
			default:
				pb->code = CGN_ICMP6_UNRECOGNIZED_OPT;
				pb->unless_mc = (type >> 6) == 3;
				pb->pointer = off + i;
			}
		}
		i += 2u + h[i + 1];
	}
	return true;
}

/* Is a multicast dst a group of the port's interface: all nodes and its addresses'
 * solicited-node groups (those ND listens on, nd.c), and all routers (RFC 4291 §2.8: the CGN
 * is a router; what comes there, Router Solicitations, is counted as the CGN's own)? */
static inline bool
own_group(const struct cgn_nd_iface *ifc, const struct cgn_addr *dst)
{
	static const struct cgn_addr all_routers = { .b = { 0xff, 0x02, [15] = 2 } };
	return cgn_nd_dst_is_ours(ifc, dst) || cgn_addr_eq(dst, &all_routers);
}

/* The lookup key of an IPv6 subscriber's flow (inside side), and its hash. */
static inline void
set_key6(const struct cgn_worker *w, struct cgn_pkt *p, const uint8_t *addr, uint16_t port)
{
	memcpy(p->key.addr.b, addr, 16);
	p->key.port = port;
	p->key.proto = p->proto;
	p->key.side = CGN_SIDE_INSIDE;
	p->key.domain = 0;
	p->key.remote_v4 = 0;
	p->key.remote_port = 0;
	p->key.reserved = 0;
	p->hash = cgn_table_hash(w->dp->table, &p->key);
}

/*
 * An ICMPv6 error from the inside to an address under a Pref64 (RFC 7915 §5.2): about a packet
 * the NAT64 sent in, which it quotes (source: the remote under the Pref64, destination: the
 * subscriber). Its flow's key is the quoted destination's. Errors quoting errors, or packets
 * the quoted part is too short to name, are not translated (RFC 6146 §3.5.3).
 */
static enum cgn_verdict
classify64_error(struct cgn_worker *w, struct cgn_pkt *p)
{
	uint16_t rest = (uint16_t)(p->l4_len - CGN_ICMP6_HDR_LEN);
	const uint8_t *q = p->l4 + CGN_ICMP6_HDR_LEN;
	if (rest < sizeof(struct rte_ipv6_hdr) + 8 || (q[0] >> 4) != 6)
		return cgn_drop(w, p, CGN_DROP_TRUNCATED);
	/* The quoted packet's extension headers (a packet the NAT64 sent in may carry a Fragment
	 * header: RFC 7915 §4.1), walked with bounds to its transport header. */
	uint32_t off = sizeof(struct rte_ipv6_hdr);
	uint8_t qproto = ((const struct rte_ipv6_hdr *)q)->proto;
	for (unsigned n = 0; walked(qproto); n++) {
		if (n == CGN_IP6_MAX_EXT || rest < off + 8u)
			return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
		const uint8_t *h = q + off;
		uint32_t hl = qproto == IPPROTO_FRAGMENT ? 8u : ((uint32_t)h[1] + 1) * 8;
		if (qproto == IPPROTO_FRAGMENT && (cgn_rd16(h + 2) & 0xfff8) != 0)
			return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR); /* a later fragment: no ports quoted */
		qproto = h[0];
		off += hl;
	}
	if (rest < off + 8u)
		return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
	const uint8_t *ql4 = q + off;
	uint16_t port;
	switch (qproto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		port = cgn_rd16(ql4 + 2); /* the subscriber's: the quoted packet's destination port */
		break;
	case IPPROTO_ICMPV6:
		if (ql4[0] != CGN_ICMP6_ECHO_REQUEST && ql4[0] != CGN_ICMP6_ECHO_REPLY)
			return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR); /* an error about an error */
		qproto = IPPROTO_ICMP;
		port = cgn_rd16(ql4 + 4);
		break;
	default: /* extension headers in the quoted packet: not followed */
		return cgn_drop(w, p, CGN_DROP_NAT64_ICMP_ERROR);
	}
	p->icmp_error = true;
	p->emb_ip6 = (struct rte_ipv6_hdr *)(uintptr_t)q;
	p->emb_l4 = (uint8_t *)(uintptr_t)ql4;
	p->proto = qproto;
	set_key6(w, p, ((const struct rte_ipv6_hdr *)q)->dst_addr, port);
	return CGN_CONTINUE;
}

/*
 * An IPv6 packet to an address under Pref64 number pref (RFC 6146 §3.5): from the inside, not
 * from a Pref64 (§3.5: "MUST silently discard"), its IPv4 destination allowed (RFC 6052
 * §3.1), TCP, UDP or ICMPv6 (echo, or an error about one of our flows). The key is the
 * subscriber's source (address, port or echo identifier, protocol: ICMPv6 echo is keyed as
 * ICMP, the protocol of its IPv4 side); the steps NAT64's.
 *
 * A fragment (its first Fragment header frag_at octets into the packet) is keyed for
 * fragment.h as well: by RFC 8200 §4.5's source, destination and identification. Its Fragment
 * header must be followed by the upper-layer header (RFC 7915 §5.1.1: another extension header
 * but ESP "SHOULD be dropped and logged"; so a second Fragment header is too). A later
 * fragment has no transport header: its protocol is its Fragment header's Next Header, and it
 * takes its first fragment's translation. ICMPv6 in fragments (the Fragment header's Next
 * Header 58, in every fragment) is reassembled instead (reassemble.c): its checksum covers a
 * pseudo-header with the whole message's length; the whole message comes back through here.
 */
static enum cgn_verdict
classify64(struct cgn_worker *w, struct cgn_pkt *p, unsigned pref, uint32_t frag_at)
{
	const struct cgn_config *cfg = w->dp->cfg;
	const struct rte_ipv6_hdr *ip = p->ip6;
	const struct cgn_addr *src = (const struct cgn_addr *)ip->src_addr;
	const struct cgn_addr *dst = (const struct cgn_addr *)ip->dst_addr;
	if (p->side != CGN_SIDE_INSIDE)
		return cgn_drop(w, p, CGN_DROP_NAT64_NOT_INSIDE);
	if (cgn_dataplane_pref64(w->dp, src) >= 0)
		return cgn_drop(w, p, CGN_DROP_NAT64_SRC_PREF64);
	struct cgn_addr v4 = cgn_addr_from_v4(cgn_dataplane_pref64_extract(w->dp, pref, dst));
	if (unlikely(cfg->nat64.wkp[pref]) && !cgn_nat64_v4_allowed(cfg, pref, &v4))
		return cgn_drop(w, p, CGN_DROP_NAT64_NON_GLOBAL);
	if (unlikely(p->frag != CGN_FRAG_NONE)) {
		const uint8_t *fh = (const uint8_t *)p->l3 + frag_at;
		if (cgn_ipv6_is_ext_header(fh[0]) && fh[0] != CGN_IPV6_NH_ESP)
			return cgn_drop(w, p, CGN_DROP_NAT64_FRAGMENT);
		if (fh[0] == IPPROTO_ICMPV6)
			return cgn_reassemble6(w, p, frag_at); /* before the steps are set: see pipeline.c */
		cgn_frag_key6(p, ip, cgn_ld32(fh + 4)); /* before the steps are set: see pipeline.c */
	}
	p->steps = &cgn_steps_nat64;
	p->naf = CGN_AF_IPV4;
	p->pref64 = (uint8_t)pref;
	if (unlikely(p->frag == CGN_FRAG_LATER)) {
		switch (p->proto) {
		case IPPROTO_TCP:
		case IPPROTO_UDP:
			return CGN_CONTINUE;
		default: /* no error about a non-initial fragment; its first got one */
			return cgn_drop(w, p, CGN_DROP_NAT64_PROTO);
		}
	}

	uint16_t sport, dport;
	switch (p->proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (p->l4_len < (p->proto == IPPROTO_TCP ? sizeof(struct rte_tcp_hdr) : sizeof(struct rte_udp_hdr)))
			return cgn_drop(w, p, CGN_DROP_TRUNCATED);
		sport = cgn_rd16(p->l4);
		dport = cgn_rd16(p->l4 + 2);
		break;
	case IPPROTO_ICMPV6:
		if (p->l4_len < CGN_ICMP6_HDR_LEN)
			return cgn_drop(w, p, CGN_DROP_TRUNCATED);
		if (cgn_icmp6_is_error(p->l4[0]))
			return classify64_error(w, p);
		if (p->l4[0] != CGN_ICMP6_ECHO_REQUEST && p->l4[0] != CGN_ICMP6_ECHO_REPLY)
			return cgn_drop(w, p, CGN_DROP_NAT64_ICMP6_TYPE);
		p->proto = IPPROTO_ICMP;
		sport = dport = cgn_rd16(p->l4 + 4);
		break;
	default:
		/* RFC 6146 §3.5: neither TCP, UDP nor ICMPv6: "an ICMPv6 Destination Unreachable
		 * error message with Code 4 (Port Unreachable) MAY be sent". */
		return cgn_icmp6_reply(w, p, CGN_ICMP6_DST_UNREACH, CGN_ICMP6_PORT_UNREACH, 0, CGN_DROP_NAT64_PROTO);
	}
	set_key6(w, p, ip->src_addr, sport);
	p->remote = cgn_addr_v4(&v4);
	p->remote_port = p->proto == IPPROTO_ICMP ? 0 : dport;
	return CGN_CONTINUE;
}

enum cgn_verdict
cgn_classify6(struct cgn_worker *w, struct cgn_pkt *p, uint32_t len)
{
	struct cgn_dataplane *dp = w->dp;
	p->af = p->naf = CGN_AF_IPV6;
	p->steps = NULL; /* chosen by classify64 (NAT64) */
	p->icmp_error = false;
	if (len < sizeof(struct rte_ipv6_hdr))
		return cgn_drop(w, p, CGN_DROP_TRUNCATED);
	const struct rte_ipv6_hdr *ip = p->ip6;
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6)
		return cgn_drop(w, p, CGN_DROP_BAD_IP6_HEADER);
	uint32_t end = sizeof(*ip) + rte_be_to_cpu_16(ip->payload_len);
	if (end > len)
		return cgn_drop(w, p, CGN_DROP_TRUNCATED);
	if (end < len) /* Ethernet padding */
		rte_pktmbuf_trim(p->m, (uint16_t)(len - end));

	/* RFC 4291 §2.5.5.2: IPv4-mapped addresses never appear on a wire; the neighbour table
	 * keeps IPv4 neighbours under that form, so nothing IPv6 may name one. */
	const struct cgn_addr *src = (const struct cgn_addr *)ip->src_addr;
	const struct cgn_addr *dst = (const struct cgn_addr *)ip->dst_addr;
	if (cgn_addr_is_v4(src) || cgn_addr_is_v4(dst))
		return cgn_drop(w, p, CGN_DROP_IP6_MAPPED);

	const uint8_t *l3 = p->l3;
	uint8_t nh = ip->proto;
	uint32_t off = sizeof(*ip), frag_at = 0; /* frag_at: the first Fragment header's offset */
	struct ext_problem pb = { .code = NO_PROBLEM };
	uint32_t seg_left_at = 0; /* a Routing header with segments left: its Segments Left octet */
	for (unsigned n = 0; walked(nh); n++) {
		if (n == CGN_IP6_MAX_EXT)
			return cgn_drop(w, p, CGN_DROP_IP6_EXT_CHAIN);
		if (nh == IPPROTO_HOPOPTS && n != 0) /* RFC 8200 §4.1: only right after the IPv6 header */
			return cgn_drop(w, p, CGN_DROP_IP6_EXT_ORDER);
		if (end - off < 8) /* every extension header is a multiple of 8 octets, at least 8 */
			return cgn_drop(w, p, CGN_DROP_IP6_EXT_TRUNCATED);
		const uint8_t *h = l3 + off;
		uint32_t hl = nh == IPPROTO_FRAGMENT ? 8u : ((uint32_t)h[1] + 1) * 8;
		if (end - off < hl)
			return cgn_drop(w, p, CGN_DROP_IP6_EXT_TRUNCATED);
		/* RFC 8200 §4.4: with segments left the packet would go on to another hop; the CGN
		 * knows no routing type (RFC 5095 deprecated type 0): its destination answers with
		 * Parameter Problem code 0 at the type. */
		if (nh == IPPROTO_ROUTING && h[3] != 0) {
			if (pb.code == NO_PROBLEM && !pb.silent) {
				pb.code = CGN_ICMP6_ERR_HEADER_FIELD;
				pb.pointer = off + 2;
			}
			if (seg_left_at == 0) /* NAT64's test, whatever came before (RFC 7915 §5.1) */
				seg_left_at = off + 3;
		}
		if ((nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS) && !walk_options(h, hl, off, &pb))
			return cgn_drop(w, p, CGN_DROP_IP6_EXT_TRUNCATED);
		if (nh == IPPROTO_FRAGMENT) {
			uint16_t fo_m = (uint16_t)(h[2] << 8 | h[3]);
			if (frag_at == 0)
				frag_at = off;
			/* RFC 6946: offset 0 and M clear is an "atomic fragment", a whole packet. */
			if (RTE_IPV6_GET_FO(fo_m))
				p->frag = CGN_FRAG_LATER;
			else if (RTE_IPV6_GET_MF(fo_m))
				p->frag = CGN_FRAG_FIRST;
		}
		nh = h[0];
		off += hl;
		if (p->frag == CGN_FRAG_LATER)
			break; /* what follows is the middle of the upper-layer data */
	}
	if (p->frag != CGN_FRAG_LATER && other_extension(nh))
		return cgn_drop(w, p, CGN_DROP_IP6_EXT_UNSUPPORTED);
	p->proto = nh;
	p->l4 = (uint8_t *)p->l3 + off;
	p->l4_len = (uint16_t)(end - off);

	int16_t pi = dp->port_index[p->in_port];
	if (pi < 0) /* cannot happen: bursts come from our ports */
		return cgn_drop(w, p, CGN_DROP_NO_NAT64);
	const struct cgn_port *port = &dp->ports[pi];
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(p->m, const struct rte_ether_hdr *);
	bool multicast = ip->dst_addr[0] == 0xff;
	/* NAT64's first (the fast path): no address of the CGN's, no multicast group, lies under a
	 * Pref64 (the configuration refuses one that would hold a port's address). */
	int pref = multicast ? -1 : cgn_dataplane_pref64(dp, dst);
	if (pref >= 0) {
		if (!rte_is_same_ether_addr(&eth->dst_addr, &port->mac))
			return cgn_drop(w, p, CGN_DROP_IP6_OTHER_HOST);
		/* RFC 7915 §5.1: "If a Routing header with a non-zero Segments Left field is
		 * present, then the packet MUST NOT be translated, and an ICMPv6 'parameter
		 * problem/erroneous header field encountered' (Type 4, Code 0) error message, with
		 * the Pointer field indicating the first byte of the Segments Left field, SHOULD be
		 * returned to the sender." */
		if (unlikely(seg_left_at != 0))
			return cgn_icmp6_reply(w, p, CGN_ICMP6_PARAM_PROB, CGN_ICMP6_ERR_HEADER_FIELD, seg_left_at,
					       CGN_DROP_IP6_ROUTING);
		return classify64(w, p, (unsigned)pref, frag_at);
	}
	const struct cgn_nd_iface ifc = cgn_port_nd(port);
	if (multicast ? own_group(&ifc, dst) : cgn_nd_addr_is_ours(&ifc, dst)) {
		/* The CGN is the destination: what the walk found is its to act on. */
		if (unlikely(pb.silent))
			return cgn_drop(w, p, CGN_DROP_IP6_OPTION);
		if (unlikely(pb.code != NO_PROBLEM)) {
			enum cgn_drop_reason why = pb.code == CGN_ICMP6_UNRECOGNIZED_OPT ? CGN_DROP_IP6_OPTION
											  : CGN_DROP_IP6_ROUTING;
			if (pb.unless_mc && multicast)
				return cgn_drop(w, p, why);
			return cgn_icmp6_reply(w, p, CGN_ICMP6_PARAM_PROB, pb.code, pb.pointer, why);
		}
		return cgn_local6(w, p);
	}
	if (multicast)
		return cgn_drop(w, p, CGN_DROP_IP6_MULTICAST);
	if (unlikely(pb.code == CGN_ICMP6_ERR_HEADER_FIELD)) /* a source route through us: not ours */
		return cgn_drop(w, p, CGN_DROP_IP6_ROUTING);
	/* A port is promiscuous (pool addresses are many): a unicast frame for another host's
	 * MAC on a shared segment is not ours to answer, least of all with an error. */
	if (!rte_is_same_ether_addr(&eth->dst_addr, &port->mac))
		return cgn_drop(w, p, CGN_DROP_IP6_OTHER_HOST);
	return cgn_no_route6(w, p);
}
