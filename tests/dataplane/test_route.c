/*
 * Routes and neighbours on real mbufs (dataplane/route.h, neighbour.c, local.c): the route
 * tables pick the port and the neighbour, a gateway and a directly connected destination
 * are asked for by ARP, answers are learned, silence is forgotten. The test thread is the
 * worker (cgn_pipeline_burst) and the control thread (cgn_neighbours_tick) in turn; the ARP
 * requests the control thread sends are read off the ring to worker 0.
 * The routes (tests/lib/dp_env.c): 100.64.8.0/24 via 100.64.0.8, 100.64.9.0/24 directly
 * connected, 100.64.0.7 a static neighbour; arp timers 1000/100 ms, 2 probes. The IPv6 tests
 * add theirs by a reload (with6()): the same machine, asked for by Neighbor Solicitation.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include <rte_arp.h>
#include <rte_ip.h>

#include "dp_test.h"
#include "addr_text.h"

static const struct rte_ether_addr GW_MAC = { { 2, 0, 0, 0, 8, 8 } }, HOST_MAC = { { 2, 0, 0, 0, 9, 5 } };

TestSuite(route, .init = setup);

static uint8_t *
run(uint16_t in_port, uint16_t len, uint16_t *out_port)
{
	return dp_env_run(in_port, frame, len, out_port, NULL);
}

/* The ARP requests the control thread queued for worker 0 since the last call: how many
 * asked for target (text), all of them out of the inside port. */
static unsigned
requests_for(const char *target)
{
	struct rte_mbuf *m;
	unsigned n = 0;
	while (rte_ring_dequeue(E->dp->punt_tx, (void **)&m) == 0) {
		struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
		cr_assert_eq(eth->ether_type, htons(RTE_ETHER_TYPE_ARP));
		cr_assert(rte_is_broadcast_ether_addr(&eth->dst_addr));
		cr_assert_eq(arp->arp_opcode, htons(RTE_ARP_OP_REQUEST));
		cr_assert_eq(arp->arp_data.arp_sip, dp_ipv4("100.64.0.254"), "asked from the port's address");
		cr_assert_eq(m->port, E->inside_port);
		n += arp->arp_data.arp_tip == dp_ipv4(target);
		rte_pktmbuf_free(m);
	}
	return n;
}

/* An ARP reply from ip/mac to the inside port's address. */
static uint16_t
arp_reply(const char *ip, const struct rte_ether_addr *mac)
{
	return build_arp(frame, RTE_ARP_OP_REPLY, mac, &E->dp->ports[0].mac, ip, "100.64.0.254");
}

/* A subscriber's outbound UDP flow; builds the inbound reply to it in frame. */
static uint16_t
open_flow(const char *subscriber, uint16_t sport)
{
	uint16_t op;
	uint16_t len = build_udp(frame, subscriber, sport, "198.51.100.9", 53, "q", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op);
	cr_assert_not_null(o, "outbound from %s", subscriber);
	cr_assert_eq(op, E->outside_port);
	char ext[16];
	inet_ntop(AF_INET, o + 14 + 12, ext, sizeof(ext));
	uint16_t ext_port = (uint16_t)(o[34] << 8 | o[35]);
	return build_udp(frame, "198.51.100.9", 53, ext, ext_port, "a", 1, 64, false);
}

/* The slot of an IPv4 neighbour (text, or network order) on the inside port, or -1. */
static int32_t
find_be(uint32_t v4)
{
	struct cgn_addr a = cgn_addr_from_v4(v4);
	return cgn_neigh_find(&E->dp->routes, &a, 0);
}

static int32_t
find4(const char *v4)
{
	return find_be(dp_ipv4(v4));
}

static uint64_t
no_neighbour(void)
{
	return E->w->pkt.drops[CGN_DROP_NO_NEIGHBOUR];
}

Test(route, via_a_gateway_waits_for_its_arp_answer_then_uses_its_mac)
{
	uint16_t op;
	static uint8_t reply[128];
	uint16_t len = open_flow("100.64.8.5", 4000);
	memcpy(reply, frame, len);

	cr_assert_null(run(E->outside_port, len, &op), "the gateway is not resolved yet");
	cr_assert_eq(no_neighbour(), 1);
	cgn_neighbours_tick(E->dp, E->w->now_ms);
	cr_assert_eq(requests_for("100.64.0.8"), 1, "asks for the gateway");
	cr_assert_eq(E->dp->routes.stats.learned, 0, "not for the destination");

	run(E->inside_port, arp_reply("100.64.0.8", &GW_MAC), &op);
	cr_assert_eq(E->w->pkt.arp_learned, 1);
	memcpy(frame, reply, len);
	uint8_t *o = run(E->outside_port, len, &op);
	cr_assert_not_null(o);
	cr_assert_eq(op, E->inside_port);
	cr_assert_arr_eq(o, GW_MAC.addr_bytes, 6, "to the gateway's MAC");
	cr_assert_arr_eq(o + 6, E->dp->ports[0].mac.addr_bytes, 6);
}

Test(route, directly_connected_destination_is_asked_for_learned_then_forgotten)
{
	uint16_t op;
	static uint8_t reply[128];
	struct cgn_routes *rt = &E->dp->routes;
	uint32_t free_at_start = rt->n_free;
	uint16_t len = open_flow("100.64.9.5", 4001);
	memcpy(reply, frame, len);

	cr_assert_null(run(E->outside_port, len, &op));
	cr_assert_eq(no_neighbour(), 1);
	cr_assert_eq(rte_ring_count(rt->resolve), 1, "the worker asks the control thread");
	uint64_t now = E->w->now_ms;
	cgn_neighbours_tick(E->dp, now);
	cr_assert_eq(rt->stats.learned, 1);
	cr_assert_eq(rt->n_learned, 1);
	cr_assert_eq(requests_for("100.64.9.5"), 1, "asks for the destination itself");

	/* Until the answer: dropped, and not asked for again by the worker. */
	memcpy(frame, reply, len);
	cr_assert_null(run(E->outside_port, len, &op));
	cr_assert_eq(rte_ring_count(rt->resolve), 0);

	run(E->inside_port, arp_reply("100.64.9.5", &HOST_MAC), &op);
	memcpy(frame, reply, len);
	uint8_t *o = run(E->outside_port, len, &op);
	cr_assert_not_null(o);
	cr_assert_arr_eq(o, HOST_MAC.addr_bytes, 6);

	/* Used, then silent: stale after 1000 ms, asked twice 100 ms apart, then deleted. */
	unsigned asked = 0;
	for (uint64_t t = now + 1; t <= now + 1000 + 3 * 100 + 10; t += 5) {
		cgn_neighbours_tick(E->dp, t);
		asked += requests_for("100.64.9.5");
	}
	cr_assert_eq(asked, 2, "arp.probes requests while stale (%u)", asked);
	cr_assert_eq(rt->stats.expired, 1);
	cr_assert_eq(rt->stats.forgotten, 1);
	cr_assert_eq(rt->n_learned, 0);
	cr_assert_eq(find4("100.64.9.5"), -1);
	cr_assert_eq(rt->n_free, free_at_start - 1, "the slot waits for the workers' grace period");
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
	cgn_neighbours_tick(E->dp, now + 2000);
	cr_assert_eq(rt->n_free, free_at_start, "then it is free again");

	/* The next frame asks again. */
	memcpy(frame, reply, len);
	cr_assert_null(run(E->outside_port, len, &op));
	cr_assert_eq(rte_ring_count(rt->resolve), 1);
}

Test(route, learned_entry_nothing_uses_is_dropped_when_stale)
{
	uint16_t op;
	struct cgn_routes *rt = &E->dp->routes;
	uint16_t len = open_flow("100.64.9.6", 4002);
	cr_assert_null(run(E->outside_port, len, &op));
	uint64_t now = E->w->now_ms;
	cgn_neighbours_tick(E->dp, now);
	cr_assert_eq(requests_for("100.64.9.6"), 1);
	run(E->inside_port, arp_reply("100.64.9.6", &HOST_MAC), &op);
	cr_assert_eq(rt->neigh[find4("100.64.9.6")].used, 0, "learned, never sent to");
	for (uint64_t t = now + 1; t <= now + 1010; t += 5)
		cgn_neighbours_tick(E->dp, t);
	cr_assert_eq(requests_for("100.64.9.6"), 0, "not asked for again");
	cr_assert_eq(rt->stats.forgotten, 1);
	cr_assert_eq(find4("100.64.9.6"), -1);
}

Test(route, gateway_that_stops_answering_is_forgotten_and_asked_for_again)
{
	uint16_t op;
	struct cgn_routes *rt = &E->dp->routes;
	uint64_t now = E->w->now_ms;
	run(E->inside_port, arp_reply("100.64.0.8", &GW_MAC), &op);
	int32_t slot = find4("100.64.0.8");
	cr_assert_geq(slot, 0);
	cr_assert(rt->neigh[slot].mac & CGN_NEIGH_VALID);
	unsigned asked = 0;
	for (uint64_t t = now + 1; t <= now + 1000 + 2 * 100 + 10; t += 5) {
		cgn_neighbours_tick(E->dp, t);
		asked += requests_for("100.64.0.8");
	}
	cr_assert_eq(rt->stats.expired, 1);
	cr_assert_eq(rt->neigh[slot].mac, 0, "forgotten");
	cr_assert_eq(find4("100.64.0.8"), slot, "a gateway keeps its entry");
	for (uint64_t t = now + 1211; t <= now + 1600; t += 5)
		cgn_neighbours_tick(E->dp, t), asked += requests_for("100.64.0.8");
	cr_assert_geq(asked, 5, "and is asked for without end (%u)", asked);

	/* Frames for it are dropped meanwhile. */
	uint16_t len = open_flow("100.64.8.6", 4003);
	cr_assert_null(run(E->outside_port, len, &op));
	cr_assert_eq(no_neighbour(), 1);
}

Test(route, static_neighbour_and_unsolicited_arp)
{
	uint16_t op;
	struct cgn_routes *rt = &E->dp->routes;
	/* A static entry is used as given and never asked for; ARP from it changes nothing. */
	int32_t slot = find4("100.64.0.7");
	cr_assert_geq(slot, 0);
	run(E->inside_port, arp_reply("100.64.0.7", &HOST_MAC), &op);
	struct rte_ether_addr mac;
	cgn_neigh_mac(rt->neigh[slot].mac, &mac);
	cr_assert_eq(mac.addr_bytes[4], 7, "still the configured MAC");
	for (uint64_t t = E->w->now_ms; t < E->w->now_ms + 5000; t += 50)
		cgn_neighbours_tick(E->dp, t);
	cr_assert_eq(requests_for("100.64.0.7"), 0, "a static neighbour is never asked for");
	/* ARP from an address that is no neighbour of ours makes no entry. */
	uint32_t free_before = rt->n_free;
	run(E->inside_port, arp_reply("100.64.9.77", &HOST_MAC), &op);
	cr_assert_eq(find4("100.64.9.77"), -1);
	cr_assert_eq(rt->n_free, free_before);
}

Test(route, full_neighbour_table_is_counted_not_grown)
{
	uint16_t op;
	struct cgn_routes *rt = &E->dp->routes;
	char a[16];
	/* arp.max_neighbours = 16 learned entries; ask for 20 destinations. */
	for (int i = 0; i < 20; i++) {
		snprintf(a, sizeof(a), "100.64.9.%d", 100 + i);
		uint16_t len = open_flow(a, (uint16_t)(5000 + i));
		cr_assert_null(run(E->outside_port, len, &op));
	}
	cgn_neighbours_tick(E->dp, E->w->now_ms);
	cr_assert_eq(rt->n_learned, 16);
	cr_assert_eq(rt->stats.full, 4);
	cr_assert_eq(no_neighbour(), 20);
}

/* Where route_frame sends a frame toward the inside for dst: the result, and the MAC's last
 * octet when it has one. */
static enum cgn_route_result
route_to(const char *dst, uint8_t *mac_last)
{
	uint16_t port_id;
	struct rte_ether_addr mac = { { 0 } };
	uint64_t full = 0;
	enum cgn_route_result r =
		cgn_route_frame(&E->dp->routes, CGN_PORT_INSIDE, dp_ipv4(dst), &port_id, &mac, &full);
	*mac_last = mac.addr_bytes[5];
	return r;
}

/* A reload (SIGHUP) replaces the routes and static neighbours while sessions stay: a new
 * gateway for 100.64.8.0/24, given as a static neighbour; 100.64.9.0/24 gone; the old
 * gateway and static neighbour become learned entries (the static one's MAC forgotten). A
 * configuration the neighbour table has no room for is refused and changes nothing. */
Test(route, a_reload_replaces_routes_and_static_neighbours)
{
	struct cgn_routes *rt = &E->dp->routes;
	static struct cgn_config next, huge;
	char err[256];
	uint8_t last;
	next = E->cfg;
	next.n_routes = 1;
	next.routes[0] = (struct cgn_route_cfg){ .net = { cgn_addr_from_v4(dp_ipv4("100.64.8.0")), 96 + 24 }, .port = 0,
						 .via = cgn_addr_from_v4(dp_ipv4("100.64.0.9")) };
	next.n_neighbours = 1;
	next.neighbours[0] = (struct cgn_neighbour_cfg){ .addr = cgn_addr_from_v4(dp_ipv4("100.64.0.9")),
							 .mac = { 2, 0, 0, 0, 9, 9 } };
	uint32_t learned = rt->n_learned;

	cr_assert_eq(cgn_dataplane_reroute(E->dp, &next, true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(route_to("100.64.8.5", &last), CGN_ROUTE_UNRESOLVED, "a check changes nothing");
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &next, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(route_to("100.64.8.5", &last), CGN_ROUTE_OK);
	cr_assert_eq(last, 9, "through the new gateway, at its static MAC");
	cr_assert_eq(route_to("100.64.9.5", &last), CGN_ROUTE_NONE, "the connected route is gone");
	int32_t old_gw = find4("100.64.0.8"), old_static = find4("100.64.0.7");
	cr_assert(old_gw >= 0 && old_static >= 0);
	cr_assert_eq(rt->neigh[old_gw].kind, CGN_NEIGH_LEARNED);
	cr_assert_eq(rt->neigh[old_static].kind, CGN_NEIGH_LEARNED);
	cr_assert_eq(rt->neigh[old_static].mac, 0, "a MAC no longer configured is asked for again");
	cr_assert_eq(rt->n_learned, learned + 2);
	cr_assert_not(E->dp->l2[CGN_PORT_INSIDE].fixed);

	/* 256 routes through 256 new gateways and 256 new static neighbours: no room. */
	huge = next;
	huge.n_routes = CGN_MAX_ROUTES;
	huge.n_neighbours = CGN_MAX_STATIC_NEIGHBOURS;
	for (unsigned i = 0; i < CGN_MAX_ROUTES; i++) {
		huge.routes[i] = (struct cgn_route_cfg){ .net = { cgn_addr_from_v4(htonl(0x0a000000u + (i << 8))), 96 + 24 },
							 .port = 0, .via = cgn_addr_from_v4(htonl(0x64410000u + i)) };
		huge.neighbours[i] = (struct cgn_neighbour_cfg){ .addr = cgn_addr_from_v4(htonl(0x64420000u + i)),
								 .mac = { 2, 0, 0, 0, 1, 1 } };
	}
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &huge, true, err, sizeof(err)), -ENOSPC, "the check says so");
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &huge, false, err, sizeof(err)), -ENOSPC);
	cr_assert(strstr(err, "neighbour table") != NULL, "%s", err);
	cr_assert_eq(route_to("100.64.8.5", &last), CGN_ROUTE_OK, "nothing changed");
	cr_assert_eq(last, 9);
	cr_assert_eq(find_be(htonl(0x64410000u)), -1);

	/* Back to the routes of the other tests: the entries are gateway and static again. */
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &E->cfg, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rt->neigh[old_gw].kind, CGN_NEIGH_GATEWAY);
	cr_assert_eq(rt->neigh[old_static].kind, CGN_NEIGH_STATIC);
	cr_assert_eq(route_to("100.64.0.7", &last), CGN_ROUTE_NONE, "100.64.0.0/24 has no route in the tests");
	cr_assert_eq(rt->neigh[old_static].mac & 0xff, 7, "its configured MAC again");
	cr_assert_eq(rt->n_learned, learned + 1, "100.64.0.9 is learned now, nothing else");
	cr_assert_eq(route_to("100.64.9.5", &last), CGN_ROUTE_UNRESOLVED, "connected again: asked for");
}

/* ---- IPv6: rte_lpm6, ND ----------------------------------------------------------------- */

static struct cgn_route_cfg
route6(const char *prefix, uint8_t port, const char *via)
{
	struct cgn_route_cfg r = { .port = port };
	cr_assert_eq(cgn_prefix_parse(prefix, &r.net), 0, "%s", prefix);
	if (via)
		r.via = A(via);
	return r;
}

/* The test routes plus, on the inside, 2001:db8::/32 via 2001:db8:100::1 and 2001:db8:5::/64
 * directly connected, a static 2001:db8:100::7; on the outside, ::/0 via fe80::1. */
static void
with6(void)
{
	static struct cgn_config c;
	char err[256];
	c = E->cfg;
	c.routes[c.n_routes++] = route6("2001:db8::/32", 0, "2001:db8:100::1");
	c.routes[c.n_routes++] = route6("2001:db8:5::/64", 0, NULL);
	c.routes[c.n_routes++] = route6("::/0", 1, "fe80::1");
	c.neighbours[c.n_neighbours++] = (struct cgn_neighbour_cfg){ .addr = A("2001:db8:100::7"),
								     .mac = { 2, 0, 0, 0, 1, 7 } };
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &c, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(E->dp->routes.lpm6[CGN_PORT_INSIDE]);
	cr_assert_null(E->dp->routes.lpm6[CGN_PORT_OUTSIDE], "a default alone needs no table");
	cr_assert_geq(E->dp->routes.dflt6[CGN_PORT_OUTSIDE], 0);
	cr_assert_eq(E->dp->routes.dflt6[CGN_PORT_INSIDE], -1);
}

struct where {
	enum cgn_route_result r;
	uint16_t port_id;
	struct rte_ether_addr mac;
};

static struct where
route6_to(enum cgn_port_role role, const char *dst)
{
	struct where w = { .port_id = UINT16_MAX };
	uint64_t full = 0;
	struct cgn_addr d = A(dst);
	w.r = cgn_route_frame6(&E->dp->routes, role, &d, &w.port_id, &w.mac, &full);
	cr_assert_eq(full, 0);
	return w;
}

static int32_t
find6(const char *addr, uint8_t port)
{
	struct cgn_addr a = A(addr);
	return cgn_neigh_find(&E->dp->routes, &a, port);
}

/* The reference checksum: RFC 1071 the slow way over host-order words. */
static uint16_t
ref_cksum(const uint8_t *ph, size_t ph_len, const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	for (size_t i = 0; i + 1 < ph_len; i += 2)
		sum += (uint32_t)(ph[i] << 8 | ph[i + 1]);
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A Neighbor Solicitation the control thread queued for worker 0, checked octet by octet
 * against RFC 4861 §4.3/§7.2.2 with everything recomputed here: out of port_id, from the
 * port's MAC and link-local address, hop limit 255, the target, the Source Link-Layer
 * Address option, the checksum. dst_mac NULL: to the solicited-node group (address
 * resolution), else unicast to the target at dst_mac (a probe). */
static void
check_ns(struct rte_mbuf *m, uint16_t port_id, const char *target, const struct rte_ether_addr *dst_mac)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct cgn_port *port = &E->dp->ports[E->dp->port_index[port_id]];
	const uint8_t *pm = port->mac.addr_bytes;
	struct cgn_addr t = A(target);
	cr_assert_eq(m->port, port_id, "out of the route's port");
	cr_assert_eq(rte_pktmbuf_data_len(m), 14 + 40 + 32, "Ethernet, IPv6, NS of 24 and an option of 8");

	/* Ethernet: 33:33 and the group's last four octets, ff and the target's last three. */
	uint8_t want_dst[6] = { 0x33, 0x33, 0xff, t.b[13], t.b[14], t.b[15] };
	if (dst_mac)
		memcpy(want_dst, dst_mac->addr_bytes, 6);
	cr_assert_arr_eq(f, want_dst, 6, "destination MAC");
	cr_assert_arr_eq(f + 6, pm, 6, "from the port's MAC");
	cr_assert_eq(f[12], 0x86);
	cr_assert_eq(f[13], 0xdd);

	/* IPv6 header. */
	const uint8_t *ip = f + 14, *icmp = f + 54;
	cr_assert_eq(ip[0] >> 4, 6);
	cr_assert_eq(ip[4] << 8 | ip[5], 32, "payload length");
	cr_assert_eq(ip[6], 58, "next header ICMPv6");
	cr_assert_eq(ip[7], 255, "hop limit 255 (RFC 4861 §7.1.1)");
	uint8_t ll[16] = { 0xfe, 0x80, [8] = (uint8_t)(pm[0] ^ 0x02), pm[1], pm[2], 0xff, 0xfe, pm[3], pm[4], pm[5] };
	cr_assert_arr_eq(ip + 8, ll, 16, "from the port's link-local address (modified EUI-64)");
	uint8_t sn[16] = { 0xff, 0x02, [11] = 0x01, 0xff, t.b[13], t.b[14], t.b[15] };
	cr_assert_arr_eq(ip + 24, dst_mac ? t.b : sn, 16, "to the solicited-node group, or the target itself");

	/* ICMPv6 Neighbor Solicitation. */
	cr_assert_eq(icmp[0], 135);
	cr_assert_eq(icmp[1], 0);
	static const uint8_t zero4[4];
	cr_assert_arr_eq(icmp + 4, zero4, 4, "reserved");
	cr_assert_arr_eq(icmp + 8, t.b, 16, "target");
	cr_assert_eq(icmp[24], 1, "Source Link-Layer Address option");
	cr_assert_eq(icmp[25], 1, "of one unit of 8 octets");
	cr_assert_arr_eq(icmp + 26, pm, 6);

	/* RFC 4443 §2.3 over the pseudo-header (RFC 8200 §8.1), built here octet by octet. */
	uint8_t ph[40] = { 0 };
	memcpy(ph, ip + 8, 32);
	ph[35] = 32;
	ph[39] = 58;
	uint8_t msg[32];
	memcpy(msg, icmp, 32);
	msg[2] = msg[3] = 0;
	cr_assert_eq(icmp[2] << 8 | icmp[3], ref_cksum(ph, 40, msg, 32), "ICMPv6 checksum");
}

/* The next frame queued for worker 0, or NULL. */
static struct rte_mbuf *
next_sent(void)
{
	struct rte_mbuf *m;
	return rte_ring_dequeue(E->dp->punt_tx, (void **)&m) == 0 ? m : NULL;
}

/* RFC 4861 §5.2's longest match through rte_lpm6: a /64 directly connected inside a /32 via a
 * gateway wins for its own addresses; other IPv6 destinations of the /32 go to the gateway;
 * the inside table has no IPv6 default; the outside one has only ::/0. */
Test(route, ipv6_longest_prefix_match)
{
	struct cgn_routes *rt = &E->dp->routes;
	with6();
	int32_t gw = find6("2001:db8:100::1", 0);
	cr_assert_geq(gw, 0, "the gateway has an entry");
	cr_assert_eq(rt->neigh[gw].kind, CGN_NEIGH_GATEWAY);

	struct where w = route6_to(CGN_PORT_INSIDE, "2001:db8:7::1");
	cr_assert_eq(w.r, CGN_ROUTE_UNRESOLVED, "via the gateway, not resolved yet");
	cr_assert_eq(rte_ring_count(rt->resolve), 0, "a gateway is not put on the resolve ring");
	struct cgn_addr gwa = A("2001:db8:100::1");
	cr_assert(cgn_neigh_learn(rt, &gwa, 0, &GW_MAC, E->w->now_ms), "a Neighbor Advertisement from it");
	w = route6_to(CGN_PORT_INSIDE, "2001:db8:7::1");
	cr_assert_eq(w.r, CGN_ROUTE_OK);
	cr_assert_eq(w.port_id, E->inside_port);
	cr_assert_arr_eq(w.mac.addr_bytes, GW_MAC.addr_bytes, 6, "the gateway's MAC");
	w = route6_to(CGN_PORT_INSIDE, "2001:db8:ffff:ffff::1");
	cr_assert_eq(w.r, CGN_ROUTE_OK, "the /32's last /64");

	/* The /64 wins for its addresses: the destination itself, asked for. */
	w = route6_to(CGN_PORT_INSIDE, "2001:db8:5::9");
	cr_assert_eq(w.r, CGN_ROUTE_UNRESOLVED, "directly connected: not the gateway");
	cr_assert_eq(rte_ring_count(rt->resolve), 1);
	struct cgn_neigh_key k;
	cr_assert_eq(rte_ring_dequeue_elem(rt->resolve, &k, sizeof(k)), 0);
	struct cgn_addr want = A("2001:db8:5::9");
	cr_assert(cgn_addr_eq(&k.addr, &want), "the ring carries the 16-octet destination");
	cr_assert_eq(k.port, 0);
	w = route6_to(CGN_PORT_INSIDE, "2001:db8:5:0:ffff:ffff:ffff:ffff");
	cr_assert_eq(w.r, CGN_ROUTE_UNRESOLVED, "the /64's last address");
	w = route6_to(CGN_PORT_INSIDE, "2001:db8:6::9");
	cr_assert_eq(w.r, CGN_ROUTE_OK, "next /64: the /32 again");

	cr_assert_eq(route6_to(CGN_PORT_INSIDE, "2001:db9::1").r, CGN_ROUTE_NONE, "no IPv6 default inside");
	cr_assert_eq(route6_to(CGN_PORT_INSIDE, "::ffff:100.64.8.5").r, CGN_ROUTE_NONE,
		     "IPv4 routes are not in the IPv6 table");

	/* IPv4 is untouched by it all. */
	uint8_t last;
	cr_assert_eq(route_to("100.64.9.5", &last), CGN_ROUTE_UNRESOLVED);
	cr_assert_eq(route_to("100.64.0.5", &last), CGN_ROUTE_NONE);
}

/* ::/0 of the outside table: its gateway, a link-local address, is asked for by NS out of the
 * outside port; once it answers every IPv6 destination goes to it. */
Test(route, ipv6_default_route)
{
	struct cgn_routes *rt = &E->dp->routes;
	with6();
	cr_assert_eq(route6_to(CGN_PORT_OUTSIDE, "2001:4860::8888").r, CGN_ROUTE_UNRESOLVED);
	cgn_neighbours_tick(E->dp, E->w->now_ms);
	/* Both gateways are asked for (2001:db8:100::1 inside, fe80::1 outside); and 100.64.0.8 by ARP. */
	unsigned ns = 0, arp = 0;
	struct rte_mbuf *m;
	while ((m = next_sent()) != NULL) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		if (f[12] == 0x86 && f[13] == 0xdd) {
			const char *target = m->port == E->outside_port ? "fe80::1" : "2001:db8:100::1";
			check_ns(m, m->port, target, NULL);
			ns++;
		} else {
			arp++;
		}
		rte_pktmbuf_free(m);
	}
	cr_assert_eq(ns, 2, "one NS per IPv6 gateway");
	cr_assert_eq(arp, 1, "and ARP for the IPv4 one, as before");
	cr_assert_eq(rt->stats.nd_requests, 2);
	cr_assert_eq(rt->stats.arp_requests, 1);

	struct cgn_addr gw = A("fe80::1");
	cr_assert_not(cgn_neigh_learn(rt, &gw, 0, &GW_MAC, E->w->now_ms), "not a neighbour on the inside port");
	cr_assert(cgn_neigh_learn(rt, &gw, 1, &GW_MAC, E->w->now_ms));
	struct where w = route6_to(CGN_PORT_OUTSIDE, "2001:4860::8888");
	cr_assert_eq(w.r, CGN_ROUTE_OK);
	cr_assert_eq(w.port_id, E->outside_port);
	cr_assert_arr_eq(w.mac.addr_bytes, GW_MAC.addr_bytes, 6);
	cr_assert_eq(route6_to(CGN_PORT_OUTSIDE, "2001:db8:5::9").r, CGN_ROUTE_OK,
		     "the outside table knows nothing of the inside's prefixes");
	/* IPv4's outside table has no default: unchanged. */
	uint16_t pid;
	struct rte_ether_addr mac;
	uint64_t full = 0;
	cr_assert_eq(cgn_route_frame(rt, CGN_PORT_OUTSIDE, dp_ipv4("198.51.100.9"), &pid, &mac, &full), CGN_ROUTE_NONE);
}

/* A directly connected IPv6 destination: the worker puts it on the resolve ring, the control
 * thread makes a learned entry and sends a Neighbor Solicitation to its solicited-node group;
 * the advertisement's MAC is used; when it goes stale it is probed by unicast NS to that MAC
 * (RFC 4861 §7.3.3), and forgotten after arp.probes unanswered. */
Test(route, ipv6_connected_destination_is_asked_for_by_ns)
{
	struct cgn_routes *rt = &E->dp->routes;
	with6();
	uint32_t free_at_start = rt->n_free;
	while (next_sent() != NULL) /* nothing queued yet; keep the ring clean all the same */
		;
	cr_assert_eq(route6_to(CGN_PORT_INSIDE, "2001:db8:5::9").r, CGN_ROUTE_UNRESOLVED);
	cr_assert_eq(route6_to(CGN_PORT_INSIDE, "2001:db8:5::9").r, CGN_ROUTE_UNRESOLVED);
	cr_assert_eq(rte_ring_count(rt->resolve), 2, "one per frame until the entry exists");
	uint64_t now = E->w->now_ms;
	uint64_t nd_before = rt->stats.nd_requests;
	cgn_neighbours_tick(E->dp, now);
	cr_assert_eq(rt->stats.learned, 1, "one entry for both");
	int32_t slot = find6("2001:db8:5::9", 0);
	cr_assert_geq(slot, 0);
	cr_assert_eq(rt->neigh[slot].kind, CGN_NEIGH_LEARNED);

	/* The gateways are asked for in the same tick: pick out the NS for the destination. */
	unsigned found = 0;
	struct rte_mbuf *m;
	while ((m = next_sent()) != NULL) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		if (f[12] == 0x86 && f[13] == 0xdd && f[54 + 8 + 15] == 9 && f[54 + 8 + 5] == 5) {
			check_ns(m, E->inside_port, "2001:db8:5::9", NULL);
			found++;
		}
		rte_pktmbuf_free(m);
	}
	cr_assert_eq(found, 1, "one NS for the destination");
	cr_assert_eq(rt->stats.nd_requests, nd_before + 3, "it and the two gateways");
	cr_assert_eq(route6_to(CGN_PORT_INSIDE, "2001:db8:5::9").r, CGN_ROUTE_UNRESOLVED);
	cr_assert_eq(rte_ring_count(rt->resolve), 0, "an entry exists: not asked again by the worker");

	/* The advertisement. */
	struct cgn_addr host = A("2001:db8:5::9");
	cr_assert(cgn_neigh_learn(rt, &host, 0, &HOST_MAC, now));
	struct where w = route6_to(CGN_PORT_INSIDE, "2001:db8:5::9");
	cr_assert_eq(w.r, CGN_ROUTE_OK);
	cr_assert_arr_eq(w.mac.addr_bytes, HOST_MAC.addr_bytes, 6);
	cr_assert_eq(rt->neigh[slot].used, 1);

	/* Silent: stale after reachable_ms (1000), then probed by unicast NS twice, 100 ms
	 * apart, then deleted. The gateways' multicast NS go out meanwhile: count only ours. */
	unsigned probes = 0;
	for (uint64_t t = now + 1; t <= now + 1000 + 3 * 100 + 10; t += 5) {
		cgn_neighbours_tick(E->dp, t);
		while ((m = next_sent()) != NULL) {
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
			if (f[12] == 0x86 && f[13] == 0xdd && f[54 + 8 + 15] == 9 && f[54 + 8 + 5] == 5) {
				check_ns(m, E->inside_port, "2001:db8:5::9", &HOST_MAC);
				probes++;
			}
			rte_pktmbuf_free(m);
		}
	}
	cr_assert_eq(probes, 2, "arp.probes unicast probes while stale (%u)", probes);
	cr_assert_eq(rt->stats.expired, 1);
	cr_assert_eq(find6("2001:db8:5::9", 0), -1, "deleted");
	cr_assert_eq(rt->n_free, free_at_start - 1, "its slot waits out the grace period");
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
	cgn_neighbours_tick(E->dp, now + 2000);
	cr_assert_eq(rt->n_free, free_at_start);
}

/* A MAC is learned for an IPv6 entry that exists only: an advertisement from anyone else makes
 * no entry, a static entry keeps its MAC, the same address on another port is another key. */
Test(route, ipv6_learning_only_updates_existing_entries)
{
	struct cgn_routes *rt = &E->dp->routes;
	with6();
	uint32_t free_before = rt->n_free;
	struct cgn_addr stranger = A("2001:db8:5::77"), st = A("2001:db8:100::7"), gw = A("2001:db8:100::1");
	cr_assert_not(cgn_neigh_learn(rt, &stranger, 0, &HOST_MAC, E->w->now_ms));
	cr_assert_eq(find6("2001:db8:5::77", 0), -1);
	cr_assert_eq(rt->n_free, free_before, "no entry made");

	int32_t s = find6("2001:db8:100::7", 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(rt->neigh[s].kind, CGN_NEIGH_STATIC);
	cr_assert_not(cgn_neigh_learn(rt, &st, 0, &HOST_MAC, E->w->now_ms), "static");
	struct rte_ether_addr mac;
	cgn_neigh_mac(rt->neigh[s].mac, &mac);
	cr_assert_eq(mac.addr_bytes[5], 7, "still the configured MAC");
	for (uint64_t t = E->w->now_ms; t < E->w->now_ms + 3000; t += 50)
		cgn_neighbours_tick(E->dp, t);
	struct rte_mbuf *m;
	while ((m = next_sent()) != NULL) {
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		if (f[12] == 0x86 && f[13] == 0xdd)
			cr_assert_neq(f[54 + 8 + 15], 7, "a static neighbour is never asked for");
		rte_pktmbuf_free(m);
	}

	cr_assert_not(cgn_neigh_learn(rt, &gw, 1, &HOST_MAC, E->w->now_ms), "the gateway is on port 0 only");
	int32_t g = find6("2001:db8:100::1", 0);
	cr_assert_eq(rt->neigh[g].mac & CGN_NEIGH_VALID, 0, "still unresolved");
	cr_assert(cgn_neigh_learn(rt, &gw, 0, &HOST_MAC, E->w->now_ms));
	cr_assert(rt->neigh[g].mac & CGN_NEIGH_VALID);

	/* An IPv4 neighbour and its mapped form are one key: ARP still learns it. */
	uint16_t op;
	run(E->inside_port, arp_reply("100.64.0.8", &GW_MAC), &op);
	cr_assert_eq(E->w->pkt.arp_learned, 1);
	struct cgn_addr mapped = A("::ffff:100.64.0.8");
	cr_assert_eq(cgn_neigh_find(rt, &mapped, 0), find4("100.64.0.8"));
}

/* A reload back to IPv4 only frees the IPv6 table; the IPv6 gateway becomes a learned entry. */
Test(route, ipv6_routes_removed_by_a_reload)
{
	struct cgn_routes *rt = &E->dp->routes;
	char err[256];
	with6();
	int32_t gw = find6("2001:db8:100::1", 0);
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &E->cfg, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_null(rt->lpm6[CGN_PORT_INSIDE]);
	cr_assert_eq(rt->dflt6[CGN_PORT_OUTSIDE], -1);
	cr_assert_eq(route6_to(CGN_PORT_INSIDE, "2001:db8:7::1").r, CGN_ROUTE_NONE);
	cr_assert_eq(route6_to(CGN_PORT_OUTSIDE, "2001:4860::1").r, CGN_ROUTE_NONE);
	cr_assert_eq(rt->neigh[gw].kind, CGN_NEIGH_LEARNED);
	uint8_t last;
	cr_assert_eq(route_to("100.64.9.5", &last), CGN_ROUTE_UNRESOLVED, "IPv4 as before");
}
