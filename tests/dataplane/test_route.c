/*
 * Routes and neighbours on real mbufs (dataplane/route.h, neighbour.c, local.c): the route
 * tables pick the port and the neighbour, a gateway and a directly connected destination
 * are asked for by ARP, answers are learned, silence is forgotten. The test thread is the
 * worker (cgn_nat44_burst) and the control thread (cgn_neighbours_tick) in turn; the ARP
 * requests the control thread sends are read off the ring to worker 0.
 * The routes (tests/lib/dp_env.c): 100.64.8.0/24 via 100.64.0.8, 100.64.9.0/24 directly
 * connected, 100.64.0.7 a static neighbour; arp timers 1000/100 ms, 2 probes.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include <rte_arp.h>

#include "dp_test.h"

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
	cr_assert_eq(cgn_neigh_find(rt, dp_ipv4("100.64.9.5"), 0), -1);
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
	cr_assert_eq(rt->neigh[cgn_neigh_find(rt, dp_ipv4("100.64.9.6"), 0)].used, 0, "learned, never sent to");
	for (uint64_t t = now + 1; t <= now + 1010; t += 5)
		cgn_neighbours_tick(E->dp, t);
	cr_assert_eq(requests_for("100.64.9.6"), 0, "not asked for again");
	cr_assert_eq(rt->stats.forgotten, 1);
	cr_assert_eq(cgn_neigh_find(rt, dp_ipv4("100.64.9.6"), 0), -1);
}

Test(route, gateway_that_stops_answering_is_forgotten_and_asked_for_again)
{
	uint16_t op;
	struct cgn_routes *rt = &E->dp->routes;
	uint64_t now = E->w->now_ms;
	run(E->inside_port, arp_reply("100.64.0.8", &GW_MAC), &op);
	int32_t slot = cgn_neigh_find(rt, dp_ipv4("100.64.0.8"), 0);
	cr_assert_geq(slot, 0);
	cr_assert(rt->neigh[slot].mac & CGN_NEIGH_VALID);
	unsigned asked = 0;
	for (uint64_t t = now + 1; t <= now + 1000 + 2 * 100 + 10; t += 5) {
		cgn_neighbours_tick(E->dp, t);
		asked += requests_for("100.64.0.8");
	}
	cr_assert_eq(rt->stats.expired, 1);
	cr_assert_eq(rt->neigh[slot].mac, 0, "forgotten");
	cr_assert_eq(cgn_neigh_find(rt, dp_ipv4("100.64.0.8"), 0), slot, "a gateway keeps its entry");
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
	int32_t slot = cgn_neigh_find(rt, dp_ipv4("100.64.0.7"), 0);
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
	cr_assert_eq(cgn_neigh_find(rt, dp_ipv4("100.64.9.77"), 0), -1);
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
	int32_t old_gw = cgn_neigh_find(rt, dp_ipv4("100.64.0.8"), 0), old_static = cgn_neigh_find(rt, dp_ipv4("100.64.0.7"), 0);
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
	cr_assert_eq(cgn_neigh_find(rt, htonl(0x64410000u), 0), -1);

	/* Back to the routes of the other tests: the entries are gateway and static again. */
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &E->cfg, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rt->neigh[old_gw].kind, CGN_NEIGH_GATEWAY);
	cr_assert_eq(rt->neigh[old_static].kind, CGN_NEIGH_STATIC);
	cr_assert_eq(route_to("100.64.0.7", &last), CGN_ROUTE_NONE, "100.64.0.0/24 has no route in the tests");
	cr_assert_eq(rt->neigh[old_static].mac & 0xff, 7, "its configured MAC again");
	cr_assert_eq(rt->n_learned, learned + 1, "100.64.0.9 is learned now, nothing else");
	cr_assert_eq(route_to("100.64.9.5", &last), CGN_ROUTE_UNRESOLVED, "connected again: asked for");
}
