/*
 * Classify on real mbufs (suite 'dataplane'): every drop reason is counted, and the checksum
 * verdict a NIC leaves in the RX flags is trusted (software verifies only when it is unknown).
 * Shared setup and helpers: steps_fixture.h.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "steps_fixture.h"

TestSuite(classify, .init = setup);

/* One frame with the RX checksum flags a NIC would set: sent or not. */
static bool
sent_with_flags(uint16_t len, uint64_t ol_flags)
{
	struct rte_mbuf *m = dp_env_mbuf(frame, len);
	cr_assert_not_null(m);
	m->ol_flags = ol_flags;
	uint64_t tx = E->w->pkt.tx;
	dp_env_burst(E->inside_port, &m, 1);
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
