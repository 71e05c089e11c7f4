/*
 * Packets bigger than the link they leave by (dataplane/steps/mtu.c, suite 'dataplane'): DF clear,
 * fragmented to the outside MTU (RFC 791 §3.2, RFC 1812 §4.2.2.7), with IP options, as
 * mbuf chains where the port takes them; DF set, refused with ICMP 3/4 and the next hop's
 * MTU (RFC 1191 §4); hairpinned datagrams measured against the inside MTU.
 * Shared setup and helpers: steps_fixture.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "cgn_cksum.h"
#include "steps_fixture.h"

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
	dp_env_burst(E->inside_port, &m, 1);
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
