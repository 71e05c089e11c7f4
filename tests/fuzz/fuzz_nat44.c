/*
 * libFuzzer target for the data plane's packet steps (dataplane/: classify, session, filter,
 * translate, ICMP errors, hairpin, TTL, ICMP generation), through the burst driver on a test
 * data plane (tests/lib/dp_env.c: EAL, two net_null ports). Any bytes in:
 *
 *   [side:1][frame...]   side bit 0: 0 = arrived on the inside port, 1 = on the outside;
 *                        bit 1: both ports' MTU 576 instead of 1500 (mtu.c: fragments, ICMP 3/4)
 *
 * Checks, beyond ASan/UBSan: every IPv4 packet the steps send carries a valid header checksum
 * (read back from the TX buffer before it is flushed; ARP replies are the only other kind),
 * and sessions never exceed the table. PCP punted to the control thread is answered by an
 * echo through punt.c, and the answers are checked the same way.
 * State (mappings) persists between inputs, as it would on a wire.
 */
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
		for (uint16_t k = 0; k < b->length; k++) {
			const uint8_t *f = rte_pktmbuf_mtod(b->pkts[k], const uint8_t *);
			CHECK(rte_pktmbuf_pkt_len(b->pkts[k]) >= 42);
			if (f[12] == 0x08 && f[13] == 0x06)
				continue; /* ARP: a reply to a request for one of our addresses */
			CHECK(f[12] == 0x08 && f[13] == 0x00);
			uint32_t ihl = (uint32_t)(f[14] & 0x0f) * 4;
			CHECK(rte_pktmbuf_data_len(b->pkts[k]) >= 14 + ihl); /* a fragment's header in its first mbuf */
			CHECK(cgn_cksum(f + 14, ihl) == 0);
		}
		rte_eth_tx_buffer_flush(pid, 0, b);
	}
	cgn_punt_serve(E->dp, echo, NULL);
	struct rte_mbuf *answer;
	while (rte_ring_dequeue(E->dp->punt_tx, (void **)&answer) == 0) {
		const uint8_t *f = rte_pktmbuf_mtod(answer, const uint8_t *);
		CHECK(rte_pktmbuf_data_len(answer) >= 42 && cgn_cksum(f + 14, 20) == 0);
		rte_pktmbuf_free(answer);
	}
	cgn_expire(E->w, E->w->now_ms);
	cgn_frag_expire(E->w, E->w->now_ms); /* fragments held for a first one that never came */
	rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
	CHECK(cgn_table_count(E->dp->table) <= E->dp->table->capacity);
	return 0;
}
