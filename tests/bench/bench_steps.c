/*
 * bench_steps: the NAT44 steps alone, no PMD: bursts of 32 prebuilt outbound UDP frames of
 * N flows through the burst driver (dp_env_burst) on the test data plane (tests/lib/dp_env.c,
 * net_null TX), sessions warmed first. Prints ns per packet of the steps, and of the mbuf refill they need
 * (alloc + copy + the TX free), measured apart so it can be subtracted.
 *
 *   bench_steps [FLOWS] [SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dp_env.h"

int
main(int argc, char **argv)
{
	uint32_t flows = argc > 1 ? (uint32_t)atol(argv[1]) : 4096;
	double seconds = argc > 2 ? atof(argv[2]) : 2;
	struct dp_env *E = dp_env_get();
	if (E == NULL)
		return 1;
	/* 64 subscribers x 64 ports at most in the test environment's allocator */
	if (flows > 4096)
		flows = 4096;
	uint8_t (*frames)[64] = calloc(flows, 64);
	uint16_t len = 0;
	for (uint32_t i = 0; i < flows; i++) {
		char src[32];
		snprintf(src, sizeof(src), "100.64.0.%u", 1 + i / 64);
		len = build_udp(frames[i], src, (uint16_t)(10000 + i % 64), "198.51.100.1", 53, "0123456789abcdef01", 18, 64,
				false);
	}
	struct rte_mbuf *b[32];
	uint16_t port = E->inside_port;
	for (int pass = 0; pass < 2; pass++) {
		double t0 = cgn_clock_s(), spent = 0;
		uint64_t pkts = 0;
		uint32_t next = 0;
		while (cgn_clock_s() - t0 < (pass ? seconds : 0.2)) {
			double a = cgn_clock_s();
			for (int k = 0; k < 32; k++) {
				b[k] = dp_env_mbuf(frames[next], len);
				next = next + 1 == flows ? 0 : next + 1;
			}
			double c = cgn_clock_s();
			dp_env_burst(port, b, 32);
			rte_eth_tx_buffer_flush(E->outside_port, 0, E->w->tx[E->outside_port]);
			rte_rcu_qsbr_quiescent(E->dp->table->rcu, 0);
			spent += cgn_clock_s() - c;
			(void)a;
			pkts += 32;
		}
		if (pass)
			printf("flows %u: %.1f ns/packet in the steps (incl. TX to net_null), %.2f Mpps, %lu sessions\n",
			       flows, spent * 1e9 / (double)pkts, (double)pkts / spent / 1e6,
			       (unsigned long)E->w->pkt.sessions_created);
	}
	return 0;
}
