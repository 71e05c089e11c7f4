/*
 * PCP requests that reached the CGN through a DPDK port (an inside one, or an outside one
 * with pcp_management for third-party senders; local.c puts them on the punt ring): the
 * control thread takes them off, lets the PCP server answer, and sends the answer back out
 * of the same port, from the port's address to the requester (RFC 6887
 * §8.3: "sent from the IP address and port to which the request was sent"); worker 0
 * transmits it. The request's mbuf becomes the answer: nothing is allocated.
 * Control thread only (the ring's single consumer).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_udp.h>

#include "cgn_dataplane.h"
#include "pcp_wire.h"

#define PUNT_BURST 32
#define HDRS (sizeof(struct rte_ether_hdr) + sizeof(struct rte_ipv4_hdr) + sizeof(struct rte_udp_hdr))

/* Validates Ethernet/IPv4/UDP again (the worker did, but this is the control thread's own
 * reading of untrusted bytes) and finds the UDP payload. */
static const uint8_t *
parse(struct rte_mbuf *m, struct rte_ipv4_hdr **ip, struct rte_udp_hdr **udp, size_t *len)
{
	size_t dlen = rte_pktmbuf_data_len(m);
	if (m->nb_segs != 1 || dlen < HDRS)
		return NULL;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
		return NULL;
	*ip = (struct rte_ipv4_hdr *)(eth + 1);
	size_t ihl = (size_t)((*ip)->version_ihl & 0xf) * 4;
	size_t tot = rte_be_to_cpu_16((*ip)->total_length);
	if (((*ip)->version_ihl >> 4) != 4 || ihl < 20 || tot < ihl + 8 || sizeof(*eth) + tot > dlen ||
	    (*ip)->next_proto_id != IPPROTO_UDP)
		return NULL;
	*udp = (struct rte_udp_hdr *)((uint8_t *)*ip + ihl);
	size_t ulen = rte_be_to_cpu_16((*udp)->dgram_len);
	if (ulen < 8 || ulen > tot - ihl)
		return NULL;
	*len = ulen - 8;
	return (const uint8_t *)(*udp + 1);
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

unsigned
cgn_punt_serve(struct cgn_dataplane *dp, cgn_punt_handler handle, void *ctx)
{
	static uint8_t resp[PCP_MAX_MSG];
	struct rte_mbuf *ms[PUNT_BURST];
	if (dp->punt == NULL)
		return 0;
	unsigned n = rte_ring_sc_dequeue_burst(dp->punt, (void **)ms, PUNT_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = ms[i];
		struct rte_ipv4_hdr *ip;
		struct rte_udp_hdr *udp;
		size_t len;
		int16_t pi = m->port < RTE_MAX_ETHPORTS ? dp->port_index[m->port] : -1;
		const uint8_t *msg = pi >= 0 ? parse(m, &ip, &udp, &len) : NULL;
		if (msg == NULL) {
			dp->punt_stats.malformed++;
			rte_pktmbuf_free(m);
			continue;
		}
		struct cgn_addr src = cgn_addr_from_v4(ip->src_addr);
		uint32_t to = ip->src_addr, from = ip->dst_addr;
		uint16_t sport = udp->src_port;
		size_t rl = handle(ctx, msg, len, &src, rte_be_to_cpu_16(sport),
				   dp->ports[pi].role == CGN_PORT_OUTSIDE, resp);
		if (rl == 0) {
			dp->punt_stats.unanswered++;
			rte_pktmbuf_free(m);
			continue;
		}
		struct rte_ether_addr requester = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr;
		if (!build_udp(m, &dp->ports[pi], &requester, from, to, sport, 64, resp, rl)) {
			dp->punt_stats.tx_failed++;
			rte_pktmbuf_free(m);
			continue;
		}
		if (cgn_dataplane_control_tx(dp, m->port, m) != 0) { /* it freed m */
			dp->punt_stats.tx_failed++;
			continue;
		}
		dp->punt_stats.answered++;
	}
	return n;
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
