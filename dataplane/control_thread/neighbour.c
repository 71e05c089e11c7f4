/*
 * Neighbour resolution, the control thread's half of the neighbour table (route.h): it asks
 * for gateways and directly connected destinations, ages what it learned and forgets what
 * stops answering; the workers learn the answers (local.c for ARP, nd.c for ND) and drop what
 * they cannot address meanwhile (NO_NEIGHBOUR). One state machine for both families, after
 * RFC 4861 §7.3's, with two small front ends that ask:
 *   IPv4 (a mapped address): an ARP request (RFC 826), broadcast, from the port's address;
 *   IPv6: a Neighbor Solicitation (RFC 4861 §7.2.2, §4.3), from the port's link-local
 *         address, hop limit 255, with the Source Link-Layer Address option; multicast to
 *         the target's solicited-node group while its MAC is unknown (address resolution),
 *         unicast to the MAC there is while a stale entry is probed (§7.3.3 PROBE).
 * States of an entry:
 *   incomplete → a request every arp.retry_ms; a learned entry unanswered
 *                arp.probes times is deleted, a gateway is asked for without end;
 *   reachable  → heard from within arp.reachable_ms: nothing to do;
 *   stale      → asked again every arp.retry_ms; arp.probes unanswered: the MAC is forgotten
 *                (a learned entry is deleted, a gateway is incomplete again). A learned
 *                entry nothing was sent to since it was reachable is deleted instead of
 *                asked for (the next frame for it makes it again).
 * Static entries are never asked for. A deleted entry's slot and hash position are reused
 * only after an RCU grace period of the workers.
 * Control thread only; the requests go out through worker 0 (cgn_dataplane_control_tx).
 */
#include <rte_arp.h>
#include <rte_ip.h>

#include "cgn_cksum.h"
#include "cgn_dataplane.h"
#include "cgn_proto.h"

#define WALK_BUDGET 4096 /* neighbour slots an aging call visits */

static void
send_request(struct cgn_dataplane *dp, const struct cgn_port *port, uint32_t target)
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
	arp->arp_data.arp_tip = target;
	if (cgn_dataplane_control_tx(dp, port->port_id, m) == 0)
		dp->routes.stats.arp_requests++;
}

/* A Neighbor Solicitation's frame: Ethernet, IPv6, ICMPv6 NS with its target, and one
 * Source Link-Layer Address option. */
#define NS_ICMP_LEN (CGN_ND_NS_LEN + CGN_ND_LLA_OPT_LEN)
#define NS_FRAME_LEN (RTE_ETHER_HDR_LEN + CGN_IPV6_HDR_LEN + NS_ICMP_LEN)

/*
 * Writes a Neighbor Solicitation for target from port (RFC 4861 §4.3, §7.2.2) into buf
 * (NS_FRAME_LEN octets): to the target's solicited-node group at 33:33:ff:xx:xx:xx
 * (RFC 2464 §7) when dst_mac is NULL, else unicast to the target at dst_mac (a probe).
 */
static void
ns_write(uint8_t *buf, const struct cgn_port *port, const struct cgn_addr *target,
	 const struct rte_ether_addr *dst_mac)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);
	uint8_t *icmp = (uint8_t *)(ip6 + 1);
	struct cgn_addr dst = dst_mac ? *target : cgn_addr_solicited_node(target);

	if (dst_mac)
		eth->dst_addr = *dst_mac;
	else
		cgn_addr_multicast_mac(&dst, eth->dst_addr.addr_bytes);
	eth->src_addr = port->mac;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);

	ip6->vtc_flow = rte_cpu_to_be_32((uint32_t)CGN_IPV6_VERSION << 28);
	ip6->payload_len = rte_cpu_to_be_16(NS_ICMP_LEN);
	ip6->proto = IPPROTO_ICMPV6;
	ip6->hop_limits = CGN_ND_HOP_LIMIT; /* §7.1.1: receivers drop anything else */
	memcpy(ip6->src_addr, port->link_local.b, 16);
	memcpy(ip6->dst_addr, dst.b, 16);

	/* §4.3: type, code, checksum, 4 reserved octets, the target; then the option. */
	memset(icmp, 0, NS_ICMP_LEN);
	icmp[0] = CGN_ND_NEIGHBOR_SOLICIT;
	memcpy(icmp + 8, target->b, 16);
	icmp[CGN_ND_NS_LEN] = CGN_ND_OPT_SOURCE_LINKADDR;
	icmp[CGN_ND_NS_LEN + 1] = CGN_ND_LLA_OPT_LEN / CGN_ND_OPT_UNIT;
	memcpy(icmp + CGN_ND_NS_LEN + 2, port->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	/* RFC 4443 §2.3: over the IPv6 pseudo-header (RFC 8200 §8.1) and the message. */
	uint16_t c = cgn_icmp6_cksum((const uint8_t *)ip6, icmp, NS_ICMP_LEN);
	memcpy(icmp + 2, &c, 2);
}

static void
send_solicit(struct cgn_dataplane *dp, const struct cgn_port *port, const struct cgn_addr *target, uint64_t mac_word)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(dp->mbufs);
	if (m == NULL)
		return;
	uint8_t *buf = (uint8_t *)rte_pktmbuf_append(m, NS_FRAME_LEN);
	if (buf == NULL) {
		rte_pktmbuf_free(m);
		return;
	}
	struct rte_ether_addr mac;
	if (mac_word & CGN_NEIGH_VALID)
		cgn_neigh_mac(mac_word, &mac);
	ns_write(buf, port, target, (mac_word & CGN_NEIGH_VALID) ? &mac : NULL);
	if (cgn_dataplane_control_tx(dp, port->port_id, m) == 0)
		dp->routes.stats.nd_requests++;
}

/* Asks for n by its family's front end. */
static void
ask(struct cgn_dataplane *dp, struct cgn_neigh *n, uint64_t now_ms)
{
	const struct cgn_port *port = &dp->ports[n->port];
	if (cgn_addr_is_v4(&n->addr))
		send_request(dp, port, cgn_addr_v4(&n->addr));
	else
		send_solicit(dp, port, &n->addr, __atomic_load_n(&n->mac, __ATOMIC_RELAXED));
	if (n->unanswered < UINT8_MAX)
		n->unanswered++;
	n->next_request_ms = now_ms + dp->routes.retry_ms;
}

/* Deletes a learned entry; its slot waits out a grace period. */
static void
retire(struct cgn_routes *rt, uint32_t slot)
{
	struct cgn_neigh *n = &rt->neigh[slot];
	struct cgn_neigh_key k = { n->addr, n->port };
	int32_t pos = rte_hash_del_key(rt->hash, &k);
	n->in_use = 0;
	rt->n_learned--;
	rt->stats.forgotten++;
	if (pos < 0)
		return; /* cannot happen: it was found */
	/* At most capacity entries are ever retired at once: the FIFO cannot overflow. */
	struct cgn_neigh_retired *r = &rt->retired[(rt->retired_head + rt->n_retired++) % rt->capacity];
	*r = (struct cgn_neigh_retired){ .token = rte_rcu_qsbr_start(rt->rcu), .position = pos, .slot = slot };
}

static void
reclaim(struct cgn_routes *rt)
{
	while (rt->n_retired) {
		struct cgn_neigh_retired *r = &rt->retired[rt->retired_head];
		if (rte_rcu_qsbr_check(rt->rcu, r->token, false) != 1)
			return;
		rte_hash_free_key_with_position(rt->hash, r->position);
		rt->free_slots[rt->n_free++] = r->slot;
		rt->retired_head = (rt->retired_head + 1) % rt->capacity;
		rt->n_retired--;
	}
}

/* Destinations the workers could not address: make their entries and ask at once. */
static void
drain_resolve(struct cgn_dataplane *dp, uint64_t now_ms)
{
	struct cgn_routes *rt = &dp->routes;
	struct cgn_neigh_key keys[64];
	unsigned n = rte_ring_sc_dequeue_burst_elem(rt->resolve, keys, sizeof(keys[0]), 64, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (cgn_neigh_find_key(rt, &keys[i]) >= 0)
			continue; /* asked already (the workers send one per frame until it exists) */
		int32_t slot = -1;
		if (rt->n_learned < rt->max_learned)
			slot = cgn_neigh_add(rt, &keys[i].addr, (uint8_t)keys[i].port, CGN_NEIGH_LEARNED);
		if (slot < 0) {
			rt->stats.full++;
			continue;
		}
		rt->n_learned++;
		rt->stats.learned++;
		ask(dp, &rt->neigh[slot], now_ms);
	}
}

void
cgn_neighbours_tick(struct cgn_dataplane *dp, uint64_t now_ms)
{
	struct cgn_routes *rt = &dp->routes;
	if (rt->hash == NULL)
		return;
	reclaim(rt);
	drain_resolve(dp, now_ms);
	if (now_ms < rt->next_walk_ms)
		return;
	/* At most WALK_BUDGET slots a call; a whole walk then waits a tenth of retry_ms (the
	 * timers' granularity, or the walk's length for a table of a million). */
	for (uint32_t visited = 0; visited < WALK_BUDGET; visited++) {
		uint32_t slot = rt->walk_cursor;
		if (++rt->walk_cursor >= rt->capacity) {
			rt->walk_cursor = 0;
			rt->next_walk_ms = now_ms + RTE_MAX(rt->retry_ms / 10, 1u);
			visited = WALK_BUDGET - 1; /* the walk's last slot: stop after it */
		}
		struct cgn_neigh *n = &rt->neigh[slot];
		if (!n->in_use || n->kind == CGN_NEIGH_STATIC || now_ms < n->next_request_ms)
			continue;
		uint64_t mac = __atomic_load_n(&n->mac, __ATOMIC_RELAXED);
		uint64_t seen = __atomic_load_n(&n->seen_ms, __ATOMIC_RELAXED);
		if ((mac & CGN_NEIGH_VALID) && now_ms < seen + rt->reachable_ms) {
			n->unanswered = 0;
			n->next_request_ms = seen + rt->reachable_ms;
			continue;
		}
		if ((mac & CGN_NEIGH_VALID) && n->unanswered == 0 && n->kind == CGN_NEIGH_LEARNED) {
			/* Stale now: worth asking only if something still goes to it. */
			if (!__atomic_exchange_n(&n->used, 0, __ATOMIC_RELAXED)) {
				retire(rt, slot);
				continue;
			}
		}
		if (n->unanswered >= rt->probes) {
			/* A worker may be learning it again right now: forget only what was read, and
			 * put it back if the answer came meanwhile. */
			if ((mac & CGN_NEIGH_VALID) &&
			    __atomic_compare_exchange_n(&n->mac, &mac, 0, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				if (__atomic_load_n(&n->seen_ms, __ATOMIC_RELAXED) != seen) {
					__atomic_store_n(&n->mac, mac, __ATOMIC_RELAXED);
					continue;
				}
				rt->stats.expired++;
			}
			if (n->kind == CGN_NEIGH_LEARNED) {
				retire(rt, slot);
				continue;
			}
			n->unanswered = 0;
		}
		ask(dp, n, now_ms);
	}
}
