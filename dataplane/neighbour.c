/*
 * Next-hop resolution for the ports that name a next_hop instead of a static peer_mac: the
 * control thread asks (ARP requests, RFC 826) and ages; the workers learn the answer from
 * any ARP frame the next hop sends (local.c) and drop what they cannot address meanwhile
 * (NO_NEIGHBOUR). States, per port:
 *   unresolved  → a broadcast request every CGN_NH_RETRY_MS, without end;
 *   reachable   → heard from within CGN_NH_REACHABLE_MS: nothing to do;
 *   stale       → requests again; CGN_NH_PROBES unanswered → unresolved (the MAC is forgotten).
 * Control thread only; the requests go out through worker 0 (cgn_dataplane_control_tx).
 */
#include <rte_arp.h>

#include "cgn_dataplane.h"

static void
send_request(struct cgn_dataplane *dp, struct cgn_port *port)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mbufs);
	if (m == NULL)
		return;
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, sizeof(*eth) + sizeof(struct rte_arp_hdr));
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	eth->src_addr = port->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	*arp = (struct rte_arp_hdr){ .arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER),
				     .arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4),
				     .arp_hlen = 6,
				     .arp_plen = 4,
				     .arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) };
	arp->arp_data.arp_sha = port->mac;
	arp->arp_data.arp_sip = port->address;
	arp->arp_data.arp_tip = port->next_hop;
	if (cgn_dataplane_control_tx(dp, port->port_id, m) == 0)
		dp->nh_stats.arp_requests++;
}

void
cgn_neighbours_tick(struct cgn_dataplane *dp, uint64_t now_ms)
{
	for (unsigned i = 0; i < dp->n_ports; i++) {
		struct cgn_port *port = &dp->ports[i];
		if (port->have_peer_mac || port->next_hop == 0 || now_ms < port->nh_next_request_ms)
			continue;
		uint64_t mac = __atomic_load_n(&port->nh_mac, __ATOMIC_RELAXED);
		uint64_t seen = __atomic_load_n(&port->nh_seen_ms, __ATOMIC_RELAXED);
		if (mac & CGN_NH_VALID) {
			if (now_ms < seen + CGN_NH_REACHABLE_MS) {
				port->nh_next_request_ms = seen + CGN_NH_REACHABLE_MS;
				continue;
			}
			if (now_ms >= seen + CGN_NH_REACHABLE_MS + CGN_NH_PROBES * CGN_NH_RETRY_MS) {
				/* A worker may have just learned it again: only forget what was read. */
				if (__atomic_compare_exchange_n(&port->nh_mac, &mac, 0, false, __ATOMIC_RELAXED,
								__ATOMIC_RELAXED))
					dp->nh_stats.expired++;
			}
		}
		send_request(dp, port);
		port->nh_next_request_ms = now_ms + CGN_NH_RETRY_MS;
	}
}
