/*
 * PCP requests that reached the CGN through a DPDK port (an inside one, or an outside one
 * with pcp_management for third-party senders; local.c and local6.c put them on the punt
 * ring): the control thread takes them off, lets the PCP server answer, and sends the answer
 * back out of the same port, from the address the request was sent to (the port's IPv4
 * address, or its global or link-local IPv6 address) to the requester (RFC 6887 §8.3: "sent
 * from the IP address and port to which the request was sent"); worker 0 transmits it. The
 * request's mbuf becomes the answer: nothing is allocated. The unsolicited messages of §14
 * (ANNOUNCE, Mapping Updates) leave the same way, in new mbufs, for both families.
 * Control thread only (the ring's single consumer).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"
#include "pcp_wire.h"

#define PUNT_BURST 32
#define HDRS (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))
#define HDRS6 (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv6_hdr) + sizeof(struct rte_udp_hdr))

/* A punted request as the control thread reads it: copies of what the answer needs, taken
 * before the mbuf is rewritten into that answer. */
struct punted {
	bool v6;
	struct cgn_addr src, dst;    /* IPv4 as mapped */
	uint16_t sport;              /* network order */
	const uint8_t *msg;          /* the UDP payload, in the mbuf */
	size_t len;
};

/* Validates Ethernet/IPv4/UDP again (the worker did, but this is the control thread's own
 * reading of untrusted bytes) and finds the UDP payload. */
static bool
parse4(const uint8_t *f, size_t dlen, struct punted *pk)
{
	if (dlen < HDRS)
		return false;
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + sizeof(struct rte_ether_hdr));
	size_t ihl = (size_t)(ip->version_ihl & 0xf) * 4;
	size_t tot = rte_be_to_cpu_16(ip->total_length);
	if ((ip->version_ihl >> 4) != 4 || ihl < 20 || tot < ihl + 8 || sizeof(struct rte_ether_hdr) + tot > dlen ||
	    ip->next_proto_id != IPPROTO_UDP)
		return false;
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)((const uint8_t *)ip + ihl);
	size_t ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < 8 || ulen > tot - ihl)
		return false;
	*pk = (struct punted){ .v6 = false, .src = cgn_addr_from_v4(ip->src_addr), .dst = cgn_addr_from_v4(ip->dst_addr),
			       .sport = udp->src_port, .msg = (const uint8_t *)(udp + 1), .len = ulen - 8 };
	return true;
}

/* The same for Ethernet/IPv6/UDP: local6.c took the extension headers out, so UDP follows
 * the fixed header. The checksum is checked here, as a host's stack would before handing
 * the datagram to a socket: RFC 8200 §8.1 makes it mandatory (a zero one is refused). The
 * source must name one node (not ::, not a group): the answer goes to it. */
static bool
parse6(const uint8_t *f, size_t dlen, struct punted *pk)
{
	if (dlen < HDRS6)
		return false;
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(f + sizeof(struct rte_ether_hdr));
	size_t plen = rte_be_to_cpu_16(ip->payload_len);
	if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) != 6 || ip->proto != IPPROTO_UDP || plen < 8 ||
	    sizeof(struct rte_ether_hdr) + sizeof(*ip) + plen > dlen)
		return false;
	const struct rte_udp_hdr *udp = (const struct rte_udp_hdr *)(ip + 1);
	size_t ulen = rte_be_to_cpu_16(udp->dgram_len);
	if (ulen < 8 || ulen > plen || udp->dgram_cksum == 0)
		return false;
	uint32_t sum = cgn_cksum_pseudo6(ip->src_addr, ip->dst_addr, (uint32_t)ulen, IPPROTO_UDP);
	if (cgn_cksum_fold(cgn_cksum_partial(udp, ulen, cgn_cksum_fold(sum))) != 0xffff)
		return false;
	memcpy(pk->src.b, ip->src_addr, 16);
	memcpy(pk->dst.b, ip->dst_addr, 16);
	if (cgn_addr_is_unspecified(&pk->src) || cgn_addr_is_multicast(&pk->src) || cgn_addr_is_v4(&pk->src))
		return false;
	pk->v6 = true;
	pk->sport = udp->src_port;
	pk->msg = (const uint8_t *)(udp + 1);
	pk->len = ulen - 8;
	return true;
}

static bool
parse(struct rte_mbuf *m, struct punted *pk)
{
	size_t dlen = rte_pktmbuf_data_len(m);
	if (m->nb_segs != 1 || dlen < sizeof(struct rte_ether_hdr))
		return false;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t type = ((const struct rte_ether_hdr *)f)->ether_type;
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return parse4(f, dlen, pk);
	if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
		return parse6(f, dlen, pk);
	return false;
}

/* Writes Ethernet/IPv4/UDP around the payload in m (from its data offset): a fresh 20-octet
 * IPv4 header, source port 5351. */
static bool
build_udp(struct rte_mbuf *m, const struct cgn_port *port, const struct rte_ether_addr *dst_mac, uint32_t src,
	  uint32_t dst, uint16_t dport, uint8_t ttl, const uint8_t *payload, size_t len)
{
	if ((size_t)rte_pktmbuf_headroom(m) + HDRS + len > m->buf_len)
		return false;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->dst_addr = *dst_mac;
	eth->src_addr = port->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	*ip = (struct rte_ipv4_hdr){ .version_ihl = 0x45,
				     .total_length = rte_cpu_to_be_16((uint16_t)(20 + 8 + len)),
				     .fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG),
				     .time_to_live = ttl,
				     .next_proto_id = IPPROTO_UDP,
				     .src_addr = src,
				     .dst_addr = dst };
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	*udp = (struct rte_udp_hdr){ .src_port = rte_cpu_to_be_16(PCP_SERVER_PORT),
				     .dst_port = dport,
				     .dgram_len = rte_cpu_to_be_16((uint16_t)(8 + len)) };
	memcpy(udp + 1, payload, len);
	m->data_len = (uint16_t)(HDRS + len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	return true;
}

/* The same with a 40-octet IPv6 header and no extension header; the UDP checksum over RFC 8200
 * §8.1's pseudo-header, never 0 (all ones instead, RFC 768). */
static bool
build_udp6(struct rte_mbuf *m, const struct cgn_port *port, const struct rte_ether_addr *dst_mac,
	   const struct cgn_addr *src, const struct cgn_addr *dst, uint16_t dport, uint8_t hop_limit,
	   const uint8_t *payload, size_t len)
{
	if ((size_t)rte_pktmbuf_headroom(m) + HDRS6 + len > m->buf_len)
		return false;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->dst_addr = *dst_mac;
	eth->src_addr = port->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct rte_udp_hdr *udp = (struct rte_udp_hdr *)(ip + 1);
	uint16_t ulen = (uint16_t)(8 + len);
	*ip = (struct rte_ipv6_hdr){ .vtc_flow = rte_cpu_to_be_32(6u << 28),
				     .payload_len = rte_cpu_to_be_16(ulen),
				     .proto = IPPROTO_UDP,
				     .hop_limits = hop_limit };
	memcpy(ip->src_addr, src->b, 16);
	memcpy(ip->dst_addr, dst->b, 16);
	*udp = (struct rte_udp_hdr){ .src_port = rte_cpu_to_be_16(PCP_SERVER_PORT), .dst_port = dport,
				     .dgram_len = rte_cpu_to_be_16(ulen) };
	memcpy(udp + 1, payload, len);
	m->data_len = (uint16_t)(HDRS6 + len);
	m->pkt_len = m->data_len;
	m->ol_flags = 0;
	uint32_t sum = cgn_cksum_pseudo6(src->b, dst->b, ulen, IPPROTO_UDP);
	uint16_t c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(udp, ulen, cgn_cksum_fold(sum)));
	udp->dgram_cksum = c ? c : 0xffff;
	return true;
}

unsigned
cgn_punt_serve_burst(struct cgn_dataplane *dp, cgn_punt_handler handle, void (*before_send)(void *ctx), void *ctx)
{
	static uint8_t resp[PCP_MAX_MSG];
	struct rte_mbuf *ms[PUNT_BURST], *answers[PUNT_BURST];
	unsigned n_answers = 0;
	if (dp->punt == NULL)
		return 0;
	unsigned n = rte_ring_sc_dequeue_burst(dp->punt, (void **)ms, PUNT_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		struct punted pk;
		int16_t pi = m->port < RTE_MAX_ETHPORTS ? dp->port_index[m->port] : -1;
		if (pi < 0 || !parse(m, &pk)) {
			dp->punt_stats.malformed++;
			rte_pktmbuf_free(m);
			continue;
		}
		size_t rl = handle(ctx, pk.msg, pk.len, &pk.src, rte_be_to_cpu_16(pk.sport),
				   dp->ports[pi].role == CGN_PORT_OUTSIDE, resp);
		if (rl == 0) {
			dp->punt_stats.unanswered++;
			rte_pktmbuf_free(m);
			continue;
		}
		struct rte_ether_addr requester = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr;
		bool built = pk.v6 ? build_udp6(m, &dp->ports[pi], &requester, &pk.dst, &pk.src, pk.sport, 64, resp, rl)
				   : build_udp(m, &dp->ports[pi], &requester, cgn_addr_v4(&pk.dst), cgn_addr_v4(&pk.src),
					       pk.sport, 64, resp, rl);
		if (!built) {
			dp->punt_stats.tx_failed++;
			rte_pktmbuf_free(m);
			continue;
		}
		answers[n_answers++] = m; /* the request's mbuf, rewritten as its answer */
	}
	if (n_answers > 0 && before_send)
		before_send(ctx);
	for (unsigned i = 0; i < n_answers; i++) {
		if (cgn_dataplane_control_tx(dp, answers[i]->port, answers[i]) != 0) { /* it freed the mbuf */
			dp->punt_stats.tx_failed++;
			continue;
		}
		dp->punt_stats.answered++;
	}
	return n;
}

unsigned
cgn_punt_serve(struct cgn_dataplane *dp, cgn_punt_handler handle, void *ctx)
{
	return cgn_punt_serve_burst(dp, handle, NULL, ctx);
}

/* A new frame from a port's address and 5351 to dst:dport via mac, through worker 0. */
static int
send_from_port(struct cgn_dataplane *dp, const struct cgn_port *port, const struct rte_ether_addr *mac, uint32_t dst,
	       uint16_t dport, uint8_t ttl, const uint8_t *msg, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mbufs);
	if (m == NULL)
		return -ENOBUFS;
	if (!build_udp(m, port, mac, port->address, dst, rte_cpu_to_be_16(dport), ttl, msg, len)) {
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	return cgn_dataplane_control_tx(dp, port->port_id, m);
}

/* The same from src (one of the port's IPv6 addresses) to dst. */
static int
send6_from_port(struct cgn_dataplane *dp, const struct cgn_port *port, const struct rte_ether_addr *mac,
		const struct cgn_addr *src, const struct cgn_addr *dst, uint16_t dport, uint8_t hop_limit,
		const uint8_t *msg, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mbufs);
	if (m == NULL)
		return -ENOBUFS;
	if (!build_udp6(m, port, mac, src, dst, rte_cpu_to_be_16(dport), hop_limit, msg, len)) {
		rte_pktmbuf_free(m);
		return -EMSGSIZE;
	}
	return cgn_dataplane_control_tx(dp, port->port_id, m);
}

unsigned
cgn_punt_multicast(struct cgn_dataplane *dp, uint32_t group, uint16_t dport, const uint8_t *msg, size_t len)
{
	/* RFC 1112 §6.4: the group's low 23 bits under 01:00:5e. */
	uint32_t g = rte_be_to_cpu_32(group);
	struct rte_ether_addr mac = { { 0x01, 0x00, 0x5e, (uint8_t)(g >> 16 & 0x7f), (uint8_t)(g >> 8), (uint8_t)g } };
	unsigned sent = 0;
	for (unsigned i = 0; i < dp->n_ports; i++) {
		const struct cgn_port *port = &dp->ports[i];
		/* TTL 1: a link-local group (224.0.0.1 is all hosts on this link). */
		if (port->role == CGN_PORT_INSIDE && port->address &&
		    send_from_port(dp, port, &mac, group, dport, 1, msg, len) == 0)
			sent++;
	}
	return sent;
}

unsigned
cgn_punt_multicast6(struct cgn_dataplane *dp, const struct cgn_addr *group, uint16_t dport, const uint8_t *msg,
		    size_t len)
{
	struct rte_ether_addr mac;
	cgn_addr_multicast_mac(group, mac.addr_bytes); /* RFC 2464 §7: 33:33 and the low 32 bits */
	unsigned sent = 0;
	for (unsigned i = 0; i < dp->n_ports; i++) {
		const struct cgn_port *port = &dp->ports[i];
		/* A link-scoped group: from the link-local address (RFC 4291 §2.5.6), hop limit
		 * 255, which RFC 6887 leaves open: ff02::1 never leaves the link whatever it is,
		 * and 255 lets a client see that it was sent on its link (as ND's RFC 4861 §7.1). */
		if (port->role == CGN_PORT_INSIDE && port->have_address6 &&
		    send6_from_port(dp, port, &mac, &port->link_local, group, dport, CGN_PUNT_HOP_LIMIT_LINK, msg,
				    len) == 0)
			sent++;
	}
	return sent;
}

int
cgn_punt_unicast(struct cgn_dataplane *dp, uint32_t dst, uint16_t dport, const uint8_t *msg, size_t len)
{
	struct rte_ether_addr mac;
	uint16_t port_id;
	uint64_t resolve_full = 0; /* the next send asks again */
	switch (dp->n_ports ? cgn_route_frame(&dp->routes, CGN_PORT_INSIDE, dst, &port_id, &mac, &resolve_full)
			    : CGN_ROUTE_NONE) {
	case CGN_ROUTE_OK: {
		const struct cgn_port *port = &dp->ports[dp->port_index[port_id]];
		if (port->address == 0)
			return -EHOSTUNREACH;
		return send_from_port(dp, port, &mac, dst, dport, 64, msg, len);
	}
	case CGN_ROUTE_UNRESOLVED:
		return -EHOSTUNREACH; /* asked for; the caller's other way, or the next send */
	case CGN_ROUTE_NONE:
		break;
	}
	for (unsigned i = 0; i < dp->n_ports; i++) {
		const struct cgn_port *port = &dp->ports[i];
		if (port->role == CGN_PORT_INSIDE && port->address && cgn_port_peer_mac(port, &mac))
			return send_from_port(dp, port, &mac, dst, dport, 64, msg, len);
	}
	return -EHOSTUNREACH;
}

int
cgn_punt_unicast6(struct cgn_dataplane *dp, const struct cgn_addr *dst, uint16_t dport, const uint8_t *msg,
		  size_t len)
{
	struct rte_ether_addr mac;
	uint16_t port_id;
	uint64_t resolve_full = 0; /* the next send asks again */
	/* A link-local destination is on a link, not behind a route (RFC 4291 §2.5.6); the
	 * address names no link, so it goes where the inside's frames go by default. */
	bool ll = cgn_addr_is_link_local(dst);
	enum cgn_route_result r = dp->n_ports && !ll
		? cgn_route_frame6(&dp->routes, CGN_PORT_INSIDE, dst, &port_id, &mac, &resolve_full)
		: CGN_ROUTE_NONE;
	switch (r) {
	case CGN_ROUTE_OK: {
		const struct cgn_port *port = &dp->ports[dp->port_index[port_id]];
		if (!port->have_address6)
			return -EHOSTUNREACH;
		return send6_from_port(dp, port, &mac, &port->address6, dst, dport, 64, msg, len);
	}
	case CGN_ROUTE_UNRESOLVED:
		return -EHOSTUNREACH; /* asked for (Neighbor Solicitation); the next send */
	case CGN_ROUTE_NONE:
		break;
	}
	for (unsigned i = 0; i < dp->n_ports; i++) {
		const struct cgn_port *port = &dp->ports[i];
		if (port->role == CGN_PORT_INSIDE && port->have_address6 && cgn_port_peer_mac(port, &mac))
			return send6_from_port(dp, port, &mac, ll ? &port->link_local : &port->address6, dst, dport,
					       64, msg, len);
	}
	return -EHOSTUNREACH;
}
