/*
 * libFuzzer target for the data plane's packet steps (dataplane/: classify, session, filter,
 * translate, ICMP errors, hairpin, TTL, ICMP generation), through the burst driver on a test
 * data plane (tests/lib/dp_env.c: EAL, two net_null ports). Any bytes in:
 *
 *   [side:1][frame...]   side bit 0: 0 = arrived on the inside port, 1 = on the outside;
 *                        bit 1: both ports' MTU 576 instead of 1500 (mtu.c: fragments, ICMP 3/4)
 *
 * Checks, beyond ASan/UBSan, on every frame the steps send (read back from the TX buffer
 * before it is flushed; check_sent()): an IPv4 packet carries a valid header checksum, an IPv6
 * packet fits its frame and its ICMPv6/UDP/TCP checksum verifies, and ARP replies are the
 * only other kind; sessions never exceed the table. PCP punted to the control thread is
 * answered by an echo through punt.c, and the answers are checked the same way.
 * State (mappings) persists between inputs, as it would on a wire.
 * Seeds: seeds/nat44/, written by make_nat44_seeds.py (IPv4, ARP, IPv6 and ND frames).
 */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_cksum.h"
#include "dp_env.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static struct dp_env *E;

/* The control thread's side of the punt path, with an echo for a PCP server: the answer is the
 * request's first octets, so punt.c's parsing and answer building see fuzzed bytes. */
static size_t
echo(void *ctx, const uint8_t *msg, size_t len, const struct cgn_addr *src, uint16_t src_port, bool outside,
     uint8_t *resp)
{
	(void)ctx, (void)src, (void)src_port, (void)outside;
	size_t n = len < 1100 ? len : 1100;
	memcpy(resp, msg, n);
	return n;
}

/*
 * One frame the data plane sends, whole (chained mbufs read into a copy): ARP (a reply for one
 * of our addresses); IPv4 with its header checksum right, that header in the first mbuf (a
 * fragment's too); or IPv6 whose payload fits the frame and whose upper-layer checksum
 * verifies when ICMPv6, UDP or TCP follows the header (RFC 8200 §8.1: the pseudo-header; a
 * UDP checksum of zero does not verify, as IPv6 forbids it). Aborts otherwise.
 */
static void
check_sent(const struct rte_mbuf *m)
{
	static uint8_t copy[9216];
	uint32_t len = rte_pktmbuf_pkt_len(m);
	CHECK(len >= 42 && len <= sizeof(copy));
	const uint8_t *f = rte_pktmbuf_read(m, 0, len, copy);
	CHECK(f != NULL);
	if (f[12] == 0x08 && f[13] == 0x06)
		return;
	if (f[12] == 0x86 && f[13] == 0xdd) {
		CHECK(len >= 14 + 40 && (f[14] >> 4) == 6);
		uint32_t plen = (uint32_t)(f[14 + 4] << 8 | f[14 + 5]);
		CHECK(14 + 40 + plen <= len);
		uint8_t nh = f[14 + 6];
		if (nh != IPPROTO_ICMPV6 && nh != IPPROTO_UDP && nh != IPPROTO_TCP)
			return;
		uint8_t pseudo[40] = { 0 }; /* source, destination, upper-layer length (32 bits), 3 zeros, next header */
		memcpy(pseudo, f + 14 + 8, 32);
		pseudo[34] = (uint8_t)(plen >> 8), pseudo[35] = (uint8_t)plen, pseudo[39] = nh;
		uint32_t sum = cgn_cksum_partial(f + 14 + 40, plen, cgn_cksum_partial(pseudo, sizeof(pseudo), 0));
		CHECK((uint16_t)~cgn_cksum_fold(sum) == 0);
		return;
	}
	CHECK(f[12] == 0x08 && f[13] == 0x00);
	uint32_t ihl = (uint32_t)(f[14] & 0x0f) * 4;
	CHECK(ihl >= 20 && len >= 14 + ihl);
	CHECK(rte_pktmbuf_data_len(m) >= 14 + ihl); /* a fragment's header in its first mbuf */
	CHECK(cgn_cksum(f + 14, ihl) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	E = dp_env_get();
	if (E == NULL)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 2000)
		return 0;
	struct rte_mbuf *m = dp_env_mbuf(data + 1, (uint16_t)(size - 1));
	if (m == NULL)
		return 0;
	uint16_t port = (data[0] & 1) ? E->outside_port : E->inside_port;
	uint16_t mtu = (data[0] & 2) ? 576 : 1500;
	for (unsigned i = 0; i < E->dp->n_ports; i++)
		E->dp->ports[i].mtu = mtu;
	cgn_dataplane_derive_tx(E->dp);
	E->w->now_ms += 10;
	dp_env_burst(port, &m, 1);
	for (unsigned i = 0; i < E->dp->n_ports; i++) {
		uint16_t pid = E->dp->ports[i].port_id;
		struct rte_eth_dev_tx_buffer *b = E->w->tx[pid];
		for (uint16_t k = 0; k < b->length; k++)
			check_sent(b->pkts[k]);
		rte_eth_tx_buffer_flush(pid, 0, b);
	}
	cgn_punt_serve(E->dp, echo, NULL);
	struct rte_mbuf *answer;
	while (rte_ring_dequeue(E->dp->punt_tx, (void **)&answer) == 0) {
		check_sent(answer);
		rte_pktmbuf_free(answer);
	}
	cgn_expire(E->w, E->w->now_ms);
	cgn_frag_expire(E->w, E->w->now_ms); /* fragments held for a first one that never came */
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
	CHECK(cgn_table_count(E->dp->table) <= E->dp->table->capacity);
	return 0;
}
