/*
 * The NAT44 steps on real mbufs (suite 'dataplane'): classify's drop reasons, translation with
 * every checksum recomputed from scratch, UDP's zero checksum, ICMP echo and errors (RFC 5508),
 * TTL, session creation, EIM, inbound, filtering, hairpin. Packets are read back from the
 * worker's TX buffer before it is flushed to the net_null port.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cgn_cksum.h"
#include "dp_test.h"

TestSuite(classify, .init = setup);
TestSuite(translate, .init = setup);
TestSuite(session, .init = setup);

/* Runs the test's frame through the burst driver: the frame as sent (or NULL) and its port. */
static uint8_t *
run(uint16_t in_port, uint16_t len, uint16_t *out_port, uint16_t *out_len)
{
	return dp_env_run(in_port, frame, len, out_port, out_len);
}

static uint64_t
drops(enum cgn_drop_reason r)
{
	return E->w->pkt.drops[r];
}

static uint32_t
addr(const char *a)
{
	return dp_ipv4(a);
}

static uint16_t
port_at(const uint8_t *f, int off)
{
	return (uint16_t)(f[34 + off] << 8 | f[34 + off + 1]);
}

/* The IPv4 header of frame f (ihl octets at 14) changed: its checksum again. */
static void
ip_header_changed(uint8_t *f, unsigned ihl)
{
	memset(f + 14 + 10, 0, 2);
	uint16_t c = cgn_cksum(f + 14, ihl);
	memcpy(f + 14 + 10, &c, 2);
}

/* ---- classify ---- */

/* One frame with the RX checksum flags a NIC would set: sent or not. */
static bool
sent_with_flags(uint16_t len, uint64_t ol_flags)
{
	struct rte_mbuf *m = dp_env_mbuf(frame, len);
	cr_assert_not_null(m);
	m->ol_flags = ol_flags;
	uint64_t tx = E->w->pkt.tx;
	cgn_pipeline_burst(E->w, E->inside_port, &m, 1);
	for (unsigned i = 0; i < E->dp->n_ports; i++)
		rte_eth_tx_buffer_flush(E->dp->ports[i].port_id, 0, E->w->tx[E->dp->ports[i].port_id]);
	return E->w->pkt.tx == tx + 1;
}

Test(classify, the_nics_checksum_verdict_is_trusted)
{
	uint16_t len = build_udp(frame, "100.64.0.30", 1000, "198.51.100.1", 53, "x", 1, 64, false);
	uint64_t before = drops(CGN_DROP_BAD_CHECKSUM);
	cr_assert_not(sent_with_flags(len, RTE_MBUF_F_RX_IP_CKSUM_BAD), "the NIC found it bad");
	cr_assert_eq(drops(CGN_DROP_BAD_CHECKSUM), before + 1);
	cr_assert(sent_with_flags(len, RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN), "verified in software");
	frame[14 + 10] ^= 0xff;
	cr_assert_not(sent_with_flags(len, RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN));
	cr_assert_eq(drops(CGN_DROP_BAD_CHECKSUM), before + 2);
	cr_assert(sent_with_flags(len, RTE_MBUF_F_RX_IP_CKSUM_GOOD), "the NIC verified it: not again");
}

Test(classify, every_drop_reason_is_counted)
{
	uint16_t op, ol;
	static const uint8_t lldp[60] = { [12] = 0x88, [13] = 0xcc };
	memcpy(frame, lldp, sizeof(lldp));
	uint64_t before = drops(CGN_DROP_NOT_IP);
	cr_assert_null(run(E->inside_port, sizeof(lldp), &op, &ol));
	cr_assert_eq(drops(CGN_DROP_NOT_IP), before + 1);

	static const uint8_t arp[42] = { [12] = 0x08, [13] = 0x06 }; /* hardware type 0 */
	memcpy(frame, arp, sizeof(arp));
	before = drops(CGN_DROP_ARP_NOT_OURS);
	cr_assert_null(run(E->inside_port, sizeof(arp), &op, &ol));
	cr_assert_eq(drops(CGN_DROP_ARP_NOT_OURS), before + 1);

	uint16_t len = build_udp(frame, "100.64.0.1", 1000, "198.51.100.1", 53, "x", 1, 64, false);
	before = drops(CGN_DROP_TRUNCATED);
	cr_assert_null(run(E->inside_port, 30, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_TRUNCATED), before + 1, "a frame shorter than its IPv4 header");

	frame[14 + 10] ^= 0xff; /* the header checksum */
	before = drops(CGN_DROP_BAD_CHECKSUM);
	cr_assert_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_BAD_CHECKSUM), before + 1);

	build_udp(frame, "100.64.0.1", 1000, "198.51.100.1", 53, "x", 1, 64, false);
	frame[14] = 0x65; /* version 6 */
	before = drops(CGN_DROP_BAD_IP_HEADER);
	cr_assert_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_BAD_IP_HEADER), before + 1);

	build_udp(frame, "100.64.0.1", 1000, "198.51.100.1", 53, "x", 1, 64, false);
	frame[14 + 7] = 0x02; /* fragment offset 16 octets: a later fragment, its first unseen */
	ip_header_changed(frame, 20);
	uint64_t held = E->w->pkt.fragments_held;
	cr_assert_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(E->w->pkt.fragments_held, held + 1, "held for its first fragment (RFC 4787 REQ-14)");

	len = build_icmp_echo(frame, "100.64.0.1", "198.51.100.1", 13, 5); /* timestamp */
	before = drops(CGN_DROP_ICMP_TYPE);
	cr_assert_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_ICMP_TYPE), before + 1);

	len = build_udp(frame, "100.64.0.1", 1000, "198.51.100.1", 53, "x", 1, 64, false);
	frame[14 + 9] = 47; /* GRE */
	ip_header_changed(frame, 20);
	before = drops(CGN_DROP_UNSUPPORTED_PROTO);
	cr_assert_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_UNSUPPORTED_PROTO), before + 1);

	len = build_udp(frame, "10.0.0.1", 1000, "198.51.100.1", 53, "x", 1, 64, false);
	before = drops(CGN_DROP_NOT_INSIDE);
	cr_assert_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_NOT_INSIDE), before + 1, "no mapping for a source outside pcp.inside");
}

/* ---- translate, through the driver ---- */

Test(translate, udp_outbound_then_inbound_checksums_recomputed)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.1", 1234, "198.51.100.1", 53, "hello", 5, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(op, E->outside_port);
	cr_assert(frame_cksums_ok(o, ol), "incremental update equals a full recomputation");
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	cr_assert_eq(ntohl(ext) & 0xfffffffc, 0xcb007100, "source in 203.0.113.0/30");
	cr_assert_eq(o[14 + 8], 63, "TTL decremented");
	uint16_t eport = port_at(o, 0);
	cr_assert(eport >= 1024 && eport <= 2047);
	cr_assert_eq(memcmp(o + 42, "hello", 5), 0);

	char ext_s[16];
	inet_ntop(AF_INET, &ext, ext_s, sizeof(ext_s));
	len = build_udp(frame, "198.51.100.1", 53, ext_s, eport, "answer", 6, 64, false);
	uint8_t *i = run(E->outside_port, len, &op, &ol);
	cr_assert_not_null(i);
	cr_assert_eq(op, E->inside_port);
	cr_assert(frame_cksums_ok(i, ol));
	uint32_t dst;
	memcpy(&dst, i + 14 + 16, 4);
	cr_assert_eq(dst, addr("100.64.0.1"));
	cr_assert_eq(port_at(i, 2), 1234);
}

Test(translate, udp_zero_checksum_stays_zero)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.2", 999, "198.51.100.1", 53, "z", 1, 64, true);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	cr_assert(o[34 + 6] == 0 && o[34 + 7] == 0, "RFC 768: no checksum stays no checksum");
	cr_assert(frame_cksums_ok(o, ol));
}

Test(translate, tcp_and_icmp_echo)
{
	uint16_t op, ol;
	uint16_t len = build_tcp(frame, "100.64.0.3", 40000, "198.51.100.1", 80, 0x02);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	cr_assert(frame_cksums_ok(o, ol));
	len = build_icmp_echo(frame, "100.64.0.3", "198.51.100.1", 8, 4242);
	o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	cr_assert(frame_cksums_ok(o, ol), "the identifier change is folded into the ICMP checksum");
}

Test(translate, ttl_one_is_answered_with_time_exceeded)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.4", 1000, "198.51.100.1", 53, "t", 1, 1, false);
	uint64_t before = drops(CGN_DROP_TTL_EXPIRED);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "an ICMP error goes back");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[14 + 9], 1);
	cr_assert_eq(o[34], 11, "time exceeded");
	cr_assert(frame_cksums_ok(o, ol));
	cr_assert_eq(drops(CGN_DROP_TTL_EXPIRED), before + 1);
}

Test(translate, icmp_error_about_an_outbound_flow_is_translated_inward)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.5", 5000, "198.51.100.9", 53, "q", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	uint8_t sent[64];
	memcpy(sent, o + 14, 28 + 1);
	char ext_s[16];
	inet_ntop(AF_INET, o + 14 + 12, ext_s, sizeof(ext_s));
	/* port unreachable from the remote, quoting what we sent */
	len = build_icmp_error(frame, "198.51.100.9", ext_s, 3, 3, sent);
	uint8_t *i = run(E->outside_port, len, &op, &ol);
	cr_assert_not_null(i);
	cr_assert_eq(op, E->inside_port);
	cr_assert(frame_cksums_ok(i, ol), "outer IP and ICMP checksums");
	const uint8_t *q = i + 34 + 8;
	cr_assert_eq(cgn_cksum(q, 20), 0, "the quoted IP header checksum (RFC 5508 REQ-3)");
	uint32_t qsrc;
	memcpy(&qsrc, q + 12, 4);
	cr_assert_eq(qsrc, addr("100.64.0.5"), "the quoted source is the internal address again");
	cr_assert_eq((uint16_t)(q[20] << 8 | q[21]), 5000);
}

/* ---- sessions ---- */

Test(session, endpoint_independent_mapping)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.6", 7777, "198.51.100.1", 53, "a", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	uint16_t p1 = port_at(o, 0);
	uint64_t created = E->w->pkt.sessions_created;
	len = build_udp(frame, "100.64.0.6", 7777, "198.51.100.2", 123, "b", 1, 64, false);
	o = run(E->inside_port, len, &op, &ol);
	cr_assert_eq(port_at(o, 0), p1, "RFC 4787 REQ-1");
	cr_assert_eq(E->w->pkt.sessions_created, created, "no second mapping");
}

Test(session, unsolicited_inbound_is_dropped)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "198.51.100.1", 53, "203.0.113.1", 1999, "u", 1, 64, false);
	uint64_t before = drops(CGN_DROP_NO_MAPPING);
	cr_assert_null(run(E->outside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_NO_MAPPING), before + 1);
}

Test(session, quota_is_answered_with_icmp_3_13)
{
	uint16_t op, ol;
	/* 2 blocks of 64 ports per protocol: 128 sessions, then NO_PORTS */
	for (uint16_t i = 0; i < 128; i++) {
		uint16_t len = build_udp(frame, "100.64.0.7", (uint16_t)(10000 + i), "198.51.100.1", 53, "q", 1, 64, false);
		cr_assert_not_null(run(E->inside_port, len, &op, &ol), "session %u", i);
		cr_assert_eq(op, E->outside_port);
	}
	uint16_t len = build_udp(frame, "100.64.0.7", 20000, "198.51.100.1", 53, "q", 1, 64, false);
	uint64_t before = drops(CGN_DROP_NO_PORTS);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(op, E->inside_port);
	cr_assert(o[34] == 3 && o[35] == 13, "communication administratively prohibited");
	cr_assert_eq(drops(CGN_DROP_NO_PORTS), before + 1);
}

Test(session, filtered_mapping_admits_only_its_peers)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.8", 8000, "198.51.100.1", 53, "f", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	char ext_s[16];
	inet_ntop(AF_INET, o + 14 + 12, ext_s, sizeof(ext_s));
	uint16_t eport = port_at(o, 0);
	/* Republish it with one FILTER: 198.51.100.20/32 any port. */
	struct cgn_mapping *m = dp_env_mapping("100.64.0.8", 8000, 17);
	cr_assert_not_null(m);
	struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
	msg.m = *m;
	msg.m.n_filters = 1;
	msg.m.flags |= CGN_MAP_FILTERED;
	cgn_addr_parse("198.51.100.20", &msg.m.filters[0].addr);
	msg.m.filters[0].prefix_len = 128;
	cr_assert_eq(cgn_table_apply(E->dp->table, &msg), 0);

	len = build_udp(frame, "198.51.100.20", 1, ext_s, eport, "ok", 2, 64, false);
	cr_assert_not_null(run(E->outside_port, len, &op, &ol), "the filter's peer passes");
	len = build_udp(frame, "198.51.100.21", 1, ext_s, eport, "no", 2, 64, false);
	uint64_t before = drops(CGN_DROP_FILTERED);
	cr_assert_null(run(E->outside_port, len, &op, &ol));
	cr_assert_eq(drops(CGN_DROP_FILTERED), before + 1);
}

/* Applies op (ADD or DEL) for static mappings of 100.127.255.1 on every port of ext but eport. */
static void
map_other_ports(enum cgn_msg_op op, uint32_t ext, uint16_t eport)
{
	struct cgn_ring_msg msg = { .op = op };
	for (uint16_t port = 1024; port <= 2047; port++) {
		if (port == eport)
			continue;
		struct cgn_key in;
		cgn_key_set_v4(&in, addr("100.127.255.1"), port, IPPROTO_UDP, CGN_SIDE_INSIDE);
		memset(&msg.m, 0, sizeof(msg.m));
		cgn_mapping_set(&msg.m, &in, ext, port);
		msg.m.flags = CGN_MAP_STATIC;
		cr_assert_eq(cgn_table_apply(E->dp->table, &msg), 0, "op %d, port %u", op, port);
	}
}

/* An external port the allocator offers while the table still maps it (its removal on the
 * way) is never shared: another is tried, at most four, and the ports tried go back. */
Test(session, a_port_still_in_the_table_is_not_shared)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.30", 3000, "198.51.100.1", 53, "a", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o);
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	uint16_t eport = port_at(o, 0);

	/* Every other port of that address mapped, as if by mappings whose removal is queued. */
	map_other_ports(CGN_MSG_ADD, ext, eport);
	uint64_t dropped = drops(CGN_DROP_PORTS_STILL_MAPPED), made = E->w->pkt.sessions_created;
	len = build_udp(frame, "100.64.0.30", 3001, "198.51.100.1", 53, "b", 1, 64, false);
	o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(o[14 + 20], 3, "ICMP destination unreachable");
	cr_assert_eq(o[14 + 20 + 1], 13, "administratively prohibited");
	cr_assert_eq(drops(CGN_DROP_PORTS_STILL_MAPPED), dropped + 1);
	cr_assert_eq(E->w->pkt.sessions_created, made);
	cr_assert_null(dp_env_mapping("100.64.0.30", 3001, 17));

	/* Once they go, the subscriber's whole quota is there: no port was kept. */
	map_other_ports(CGN_MSG_DEL, ext, eport);
	unsigned quota = E->cfg.nat.block_size * E->cfg.nat.max_blocks;
	for (unsigned i = 1; i < quota; i++) {
		len = build_udp(frame, "100.64.0.30", (uint16_t)(3000 + i), "198.51.100.1", 53, "c", 1, 64, false);
		o = run(E->inside_port, len, &op, &ol);
		cr_assert(o != NULL && op == E->outside_port, "session %u of %u", i + 1, quota);
	}
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
}

Test(session, replace_keeps_the_traffic_state_and_refuses_another_endpoint)
{
	uint16_t op, ol;
	uint16_t len = build_tcp(frame, "100.64.0.9", 9000, "198.51.100.1", 80, 0x02);
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	len = build_tcp(frame, "100.64.0.9", 9000, "198.51.100.1", 80, 0x11); /* FIN, ACK */
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	struct cgn_mapping *m = dp_env_mapping("100.64.0.9", 9000, 6);
	cr_assert_not_null(m);
	cr_assert_eq(m->tcp_state, CGN_TCP_CLOSING);

	/* A PCP MAP adopting it (the control thread's copy knows nothing of the traffic). */
	struct cgn_ring_msg msg = { .op = CGN_MSG_REPLACE };
	msg.m = *m;
	msg.m.tcp_state = CGN_TCP_NONE;
	msg.m.closed_ms = 0;
	msg.m.last_out_ms = 0;
	cr_assert_eq(cgn_table_apply(E->dp->table, &msg), 0);
	struct cgn_mapping *n = dp_env_mapping("100.64.0.9", 9000, 6);
	cr_assert_neq(n, m, "a new entry was published");
	cr_assert_eq(n->tcp_state, CGN_TCP_CLOSING, "the TCP state stays");
	cr_assert_eq(n->closed_ms, m->closed_ms);
	cr_assert_eq(n->last_out_ms, m->last_out_ms);

	/* The same for an external endpoint that is not the mapping's: refused, nothing changes. */
	uint64_t before = E->dp->table->stats.replace_mismatch;
	msg.m = *n;
	msg.m.ext_port = (uint16_t)(n->ext_port + 1);
	cr_assert_eq(cgn_table_apply(E->dp->table, &msg), -EINVAL);
	cr_assert_eq(E->dp->table->stats.replace_mismatch, before + 1);
	cr_assert_eq(dp_env_mapping("100.64.0.9", 9000, 6), n);
	struct cgn_key out = cgn_mapping_out_key(&msg.m);
	cr_assert_null(cgn_table_lookup(E->dp->table, &out), "no outside key for the other endpoint");
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
}

Test(session, hairpin_goes_back_inside_from_the_external_endpoint)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.9", 9000, "198.51.100.1", 53, "h", 1, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	char ext9[16];
	inet_ntop(AF_INET, o + 14 + 12, ext9, sizeof(ext9));
	uint16_t p9 = port_at(o, 0);
	/* 100.64.0.10 sends to 100.64.0.9's external endpoint */
	len = build_udp(frame, "100.64.0.10", 9001, ext9, p9, "hi", 2, 64, false);
	uint8_t *h = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(h);
	cr_assert_eq(op, E->inside_port, "RFC 4787 REQ-9: back to the inside");
	uint32_t dst, src;
	memcpy(&dst, h + 14 + 16, 4);
	memcpy(&src, h + 14 + 12, 4);
	cr_assert_eq(dst, addr("100.64.0.9"));
	cr_assert_eq(port_at(h, 2), 9000);
	cr_assert_neq(src, addr("100.64.0.10"), "the source is the sender's external address");
	cr_assert(frame_cksums_ok(h, ol));
}

/* ---- expiry and port hold-down ---- */

TestSuite(expire, .init = setup);

/* Runs the sweep over the whole (small) table. */
static void
sweep(void)
{
	for (int i = 0; i < 64; i++) {
		E->w->background_ms = 0;
		cgn_expire(E->w, E->w->now_ms);
	}
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
}

Test(expire, idle_udp_mapping_expires_and_its_port_is_held_then_released)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.20", 5000, "198.51.100.1", 53, "e", 1, 64, false);
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	struct cgn_mapping *m = dp_env_mapping("100.64.0.20", 5000, 17);
	cr_assert_not_null(m);
	uint16_t ext_port = m->ext_port;
	uint32_t sub = m->subscriber;
	struct cgn_pb_sub *s = cgn_pb_sub(&E->pb, sub);
	uint32_t used = atomic_load(&s->ports_used);

	E->w->now_ms += 299 * 1000; /* RFC 4787 REQ-5: nat.udp_timeout_s = 300 by default */
	sweep();
	cr_assert_not_null(dp_env_mapping("100.64.0.20", 5000, 17), "still within its timeout");
	E->w->now_ms += 2 * 1000;
	uint64_t expired = E->w->pkt.sessions_expired;
	sweep();
	cr_assert_null(dp_env_mapping("100.64.0.20", 5000, 17), "idle past 300 s: gone");
	cr_assert_eq(E->w->pkt.sessions_expired, expired + 1);
	cr_assert_eq(atomic_load(&s->ports_used), used, "RFC 6888 REQ-8: the port is held, not free");

	E->w->now_ms += 121 * 1000;
	cgn_hold_release(E->w, E->w->now_ms);
	cr_assert_eq(atomic_load(&s->ports_used), used - 1, "released after the hold time");
	(void)ext_port;
}

Test(expire, outbound_traffic_keeps_a_mapping)
{
	uint16_t op, ol;
	uint16_t len = build_udp(frame, "100.64.0.21", 5000, "198.51.100.1", 53, "k", 1, 64, false);
	for (int i = 0; i < 5; i++) {
		cr_assert_not_null(run(E->inside_port, len, &op, &ol));
		E->w->now_ms += 200 * 1000; /* each packet well within 300 s of the one before */
		sweep();
		cr_assert_not_null(dp_env_mapping("100.64.0.21", 5000, 17), "refreshed by outbound traffic (REQ-6)");
		len = build_udp(frame, "100.64.0.21", 5000, "198.51.100.1", 53, "k", 1, 64, false);
	}
}

Test(expire, tcp_established_lives_longer_than_transitory)
{
	uint16_t op, ol;
	/* a SYN only: transitory, 240 s */
	uint16_t len = build_tcp(frame, "100.64.0.22", 6000, "198.51.100.1", 80, 0x02);
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(dp_env_mapping("100.64.0.22", 6000, 6)->tcp_state, CGN_TCP_TRANSITORY);
	/* another connection that completes: SYN out, SYN/ACK in: established, 7440 s */
	len = build_tcp(frame, "100.64.0.22", 6001, "198.51.100.1", 80, 0x02);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	char ext_s[16];
	inet_ntop(AF_INET, o + 14 + 12, ext_s, sizeof(ext_s));
	len = build_tcp(frame, "198.51.100.1", 80, ext_s, port_at(o, 0), 0x12);
	cr_assert_not_null(run(E->outside_port, len, &op, &ol));
	cr_assert_eq(dp_env_mapping("100.64.0.22", 6001, 6)->tcp_state, CGN_TCP_ESTABLISHED);

	E->w->now_ms += 241 * 1000;
	sweep();
	cr_assert_null(dp_env_mapping("100.64.0.22", 6000, 6), "transitory: gone after 240 s");
	cr_assert_not_null(dp_env_mapping("100.64.0.22", 6001, 6), "established: kept (RFC 5382 REQ-5)");
}

/* ---- packets bigger than the link they leave by (mtu.c) ---- */

TestSuite(mtu, .init = setup);

#define SMALL_MTU 576

/* Gives the outside port an MTU, as its config would (SMALL_MTU for a test, then back). */
static void
outside_mtu(uint16_t mtu)
{
	E->dp->ports[1].mtu = mtu;
	cgn_dataplane_derive_tx(E->dp);
}

static void
small_outside_mtu(void)
{
	outside_mtu(SMALL_MTU);
}

static void
usual_mtu(void)
{
	outside_mtu(RTE_ETHER_MTU);
}

/* Gives the frame's IPv4 header (20 octets, at 14) 4 octets of options: NOP NOP NOP EOL,
 * none of them "copied" into later fragments (RFC 791). @return the new length. */
static uint16_t
with_options(uint16_t len)
{
	memmove(frame + 38, frame + 34, len - 34u);
	memcpy(frame + 34, "\x01\x01\x01\x00", 4);
	frame[14] = 0x46;
	uint16_t tl = htons((uint16_t)(len + 4 - 14));
	memcpy(frame + 14 + 2, &tl, 2);
	ip_header_changed(frame, 24);
	return (uint16_t)(len + 4);
}

/* Runs frame through the driver from the inside; copies what the outside port would send
 * (chained mbufs read whole) into out[] and their lengths into lens[]. @return how many. */
static uint16_t segs[4]; /* run_collect: the mbufs each frame was made of */

static unsigned
run_collect(uint16_t len, uint8_t out[][2048], uint16_t *lens, unsigned max)
{
	struct rte_mbuf *m = dp_env_mbuf(frame, len);
	cr_assert_not_null(m);
	for (unsigned i = 0; i < E->dp->n_ports; i++)
		rte_eth_tx_buffer_flush(E->dp->ports[i].port_id, 0, E->w->tx[E->dp->ports[i].port_id]);
	cgn_pipeline_burst(E->w, E->inside_port, &m, 1);
	struct rte_eth_dev_tx_buffer *b = E->w->tx[E->outside_port];
	unsigned n = 0;
	for (; n < b->length && n < max; n++) {
		struct rte_mbuf *f = b->pkts[n];
		cr_assert_leq(rte_pktmbuf_pkt_len(f), 2048);
		lens[n] = (uint16_t)rte_pktmbuf_pkt_len(f);
		segs[n < 4 ? n : 3] = f->nb_segs;
		const void *d = rte_pktmbuf_read(f, 0, lens[n], out[n]);
		if (d != out[n])
			memcpy(out[n], d, lens[n]);
	}
	for (unsigned i = 0; i < E->dp->n_ports; i++)
		rte_eth_tx_buffer_flush(E->dp->ports[i].port_id, 0, E->w->tx[E->dp->ports[i].port_id]);
	return n;
}

/* RFC 791 §3.2 / RFC 1812 §4.2.2.7: DF clear, the translated datagram leaves in fragments no
 * bigger than the MTU, each with its header checksum, the same ID, MF on all but the last,
 * offsets in 8-octet units; reassembled, its UDP checksum (fixed once, in the first) holds. */
Test(mtu, a_datagram_bigger_than_the_outside_mtu_leaves_in_fragments)
{
	static uint8_t out[4][2048], whole[2048];
	uint16_t lens[4];
	uint8_t payload[1400];
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	uint16_t len = build_udp(frame, "100.64.0.40", 4000, "198.51.100.1", 53, payload, sizeof(payload), 64, false);
	frame[14 + 4] = 0x12, frame[14 + 5] = 0x34; /* IP ID 0x1234 */
	ip_header_changed(frame, 20);
	uint64_t fragmented = E->w->pkt.fragmented, made = E->w->pkt.fragments_made;

	small_outside_mtu();
	unsigned n = run_collect(len, out, lens, 4);
	usual_mtu();
	/* 8 + 1400 octets of UDP in pieces of (576 - 20) & ~7 = 552: 552, 552, 304. */
	cr_assert_eq(n, 3, "three fragments, not %u", n);
	cr_assert_eq(E->w->pkt.fragmented, fragmented + 1);
	cr_assert_eq(E->w->pkt.fragments_made, made + 3);
	size_t at = 34;
	memcpy(whole, out[0], 34);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *ip = out[i] + 14;
		uint16_t total = (uint16_t)(ip[2] << 8 | ip[3]), fo = (uint16_t)(ip[6] << 8 | ip[7]);
		cr_assert_leq(total, SMALL_MTU);
		cr_assert_eq(lens[i], 14 + total);
		cr_assert_eq(cgn_cksum(ip, 20), 0, "fragment %u: header checksum", i);
		cr_assert(ip[4] == 0x12 && ip[5] == 0x34, "fragment %u keeps the datagram's ID", i);
		cr_assert_eq(fo & 0x1fff, i * 552 / 8, "fragment %u: offset", i);
		cr_assert_eq((fo & 0x2000) != 0, i + 1 < n, "fragment %u: MF", i);
		cr_assert_eq(memcmp(out[i], out[0], 12), 0, "the Ethernet addresses of the first");
		cr_assert_eq(memcmp(ip + 12, out[0] + 14 + 12, 8), 0, "the translated addresses");
		memcpy(whole + at, ip + 20, total - 20u);
		at += total - 20u;
	}
	cr_assert_eq(at, 34 + 8 + sizeof(payload));
	uint16_t tl = htons((uint16_t)(at - 14));
	memcpy(whole + 14 + 2, &tl, 2);
	whole[14 + 6] = whole[14 + 7] = 0;
	ip_header_changed(whole, 20);
	cr_assert(frame_cksums_ok(whole, (uint16_t)at), "the reassembled datagram's UDP checksum");
	cr_assert_eq(memcmp(whole + 42, payload, sizeof(payload)), 0);
	cr_assert_eq(port_at(whole, 2), 53);
	cr_assert_neq(port_at(whole, 0), 0);

	/* With IP options: the later fragments drop them (not "copied"), and each fragment's
	 * header checksum covers its own header. */
	len = with_options(build_udp(frame, "100.64.0.40", 4002, "198.51.100.1", 53, payload, sizeof(payload), 64, false));
	small_outside_mtu();
	n = run_collect(len, out, lens, 4);
	usual_mtu();
	cr_assert_eq(n, 3);
	for (unsigned i = 0; i < n; i++) {
		unsigned ihl = (out[i][14] & 0x0f) * 4u;
		cr_assert_eq(ihl, i == 0 ? 24u : 20u, "fragment %u: header of %u", i, ihl);
		cr_assert_eq(cgn_cksum(out[i] + 14, ihl), 0, "fragment %u: header checksum", i);
	}
}

/* On a port whose TX takes chained mbufs, each fragment is a small header mbuf chained to
 * its share of the original's payload (no copy); what leaves is the same. */
Test(mtu, fragments_leave_as_chains_where_the_port_takes_them)
{
	static uint8_t out[4][2048];
	uint16_t lens[4];
	uint8_t payload[1400];
	for (unsigned i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 3);
	uint16_t len = build_udp(frame, "100.64.0.44", 4003, "198.51.100.1", 53, payload, sizeof(payload), 64, false);
	unsigned frag_free = rte_mempool_avail_count(E->dp->frag_mbufs);
	small_outside_mtu();
	E->dp->ports[1].tx_chained = true;
	unsigned n = run_collect(len, out, lens, 4);
	E->dp->ports[1].tx_chained = false;
	usual_mtu();
	cr_assert_eq(n, 3);
	size_t at = 0;
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(segs[i], 2, "fragment %u: a header and its payload", i);
		cr_assert_eq(cgn_cksum(out[i] + 14, 20), 0);
		cr_assert_eq(memcmp(out[i] + 34 + (i == 0 ? 8 : 0), payload + at, lens[i] - 34u - (i == 0 ? 8 : 0)), 0,
			     "fragment %u carries its share", i);
		at += lens[i] - 34u - (i == 0 ? 8 : 0);
	}
	cr_assert_eq(at, sizeof(payload));
	cr_assert_eq(rte_mempool_avail_count(E->dp->frag_mbufs), frag_free, "every fragment mbuf back once sent");
}

/* A hairpinned datagram leaves by the inside: it is measured against the inside's MTU, not
 * the outside's smaller one. */
Test(mtu, a_hairpinned_datagram_is_measured_against_the_inside_mtu)
{
	uint16_t op, ol;
	uint8_t *o;
	uint16_t len = build_udp(frame, "100.64.0.42", 9100, "198.51.100.1", 53, "h", 1, 64, false);
	cr_assert_not_null(o = run(E->inside_port, len, &op, &ol));
	char ext[16];
	inet_ntop(AF_INET, o + 14 + 12, ext, sizeof(ext));
	uint16_t eport = port_at(o, 0);
	uint8_t payload[1000] = { 0 };
	len = build_udp(frame, "100.64.0.43", 9101, ext, eport, payload, sizeof(payload), 64, false);
	frame[14 + 6] = 0x40; /* DF */
	ip_header_changed(frame, 20);
	uint64_t too_big = drops(CGN_DROP_TOO_BIG);
	small_outside_mtu();
	o = run(E->inside_port, len, &op, &ol);
	usual_mtu();
	cr_assert_not_null(o);
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[14 + 9], 17, "the datagram itself, not an ICMP error");
	cr_assert_eq(ol, 14 + 20 + 8 + sizeof(payload));
	cr_assert_eq(drops(CGN_DROP_TOO_BIG), too_big);
}

/* RFC 1191 §4: DF set, the datagram is refused before translation with ICMP 3/4 and the MTU
 * of the next hop, so that the sender's Path MTU Discovery learns it. */
Test(mtu, df_set_is_answered_with_fragmentation_needed_and_the_mtu)
{
	uint16_t op, ol;
	uint8_t payload[1000] = { 0 };
	uint16_t len = build_udp(frame, "100.64.0.41", 4001, "198.51.100.1", 53, payload, sizeof(payload), 64, false);
	frame[14 + 6] = 0x40; /* DF */
	ip_header_changed(frame, 20);
	uint64_t before = drops(CGN_DROP_TOO_BIG), fragmented = E->w->pkt.fragmented;

	small_outside_mtu();
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	usual_mtu();
	cr_assert_not_null(o, "an ICMP error goes back");
	cr_assert_eq(op, E->inside_port);
	cr_assert(o[34] == 3 && o[35] == 4, "fragmentation needed and DF set");
	cr_assert(o[34 + 4] == 0 && o[34 + 5] == 0, "unused = 0");
	cr_assert_eq(o[34 + 6] << 8 | o[34 + 7], SMALL_MTU, "the next hop's MTU");
	uint32_t dst;
	memcpy(&dst, o + 14 + 16, 4);
	cr_assert_eq(dst, addr("100.64.0.41"));
	cr_assert_eq(memcmp(o + 34 + 8 + 12, frame + 14 + 12, 8), 0, "it quotes the datagram as it was sent");
	cr_assert(frame_cksums_ok(o, ol));
	cr_assert_eq(drops(CGN_DROP_TOO_BIG), before + 1);
	cr_assert_eq(E->w->pkt.fragmented, fragmented);

	/* The same datagram fits the usual MTU. */
	cr_assert_not_null(run(E->inside_port, len, &op, &ol));
	cr_assert_eq(op, E->outside_port);
}
