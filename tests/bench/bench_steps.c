/*
 * bench_steps: the NAT44 (or NAT64) steps alone, no PMD: bursts of 32 prebuilt outbound UDP
 * frames of N flows through the burst driver (dp_env_burst) on the test data plane
 * (tests/lib/dp_env.c, net_null TX), sessions warmed first. Prints ns per packet of the steps,
 * and of the mbuf refill they need (alloc + copy + the TX free), measured apart so it can be
 * subtracted. nat64: 64-octet IPv6 UDP frames from 64 subscriber /56s to 64:ff9b::198.51.100.1.
 *
 *   bench_steps [FLOWS] [SECONDS] [nat44|nat64]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgn_cksum.h"
#include "dp_env.h"

/* A 64-octet frame: Ethernet, IPv6 from src port sport to 64:ff9b::198.51.100.1 port 53, UDP
 * with 2 octets of payload and its checksum. @return its length. */
static uint16_t
build_udp6(uint8_t *f, const struct rte_ether_addr *to, const char *src, uint16_t sport)
{
	memset(f, 0, 64);
	memcpy(f, to->addr_bytes, 6);
	f[6] = 2, f[11] = 1;
	f[12] = 0x86, f[13] = 0xdd;
	uint8_t *ip = f + 14, *l4 = f + 54;
	ip[0] = 0x60, ip[5] = 10, ip[6] = IPPROTO_UDP, ip[7] = 64;
	struct cgn_addr s, d;
	if (cgn_addr_parse(src, &s) < 0 || cgn_addr_parse("64:ff9b::198.51.100.1", &d) < 0)
		return 0;
	memcpy(ip + 8, s.b, 16);
	memcpy(ip + 24, d.b, 16);
	l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport, l4[3] = 53, l4[5] = 10, l4[8] = 'h', l4[9] = 'i';
	uint16_t c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(l4, 10, cgn_cksum_pseudo6(s.b, d.b, 10, IPPROTO_UDP)));
	memcpy(l4 + 6, &c, 2);
	return 64;
}

int
main(int argc, char **argv)
{
	uint32_t flows = argc > 1 ? (uint32_t)atol(argv[1]) : 4096;
	double seconds = argc > 2 ? atof(argv[2]) : 2;
	bool nat64 = argc > 3 && strcmp(argv[3], "nat64") == 0;
	struct dp_env *E = dp_env_get();
	if (E == NULL)
		return 1;
	if (nat64) { /* the fixture's config is this process's own */
		struct cgn_config *c = &E->cfg;
		cgn_prefix_parse("2001:db8::/32", &c->pcp.inside[c->pcp.n_inside++]);
		cgn_prefix_parse("64:ff9b::/96", &c->nat64.prefixes[0]);
		c->nat64.wkp[0] = true;
		c->nat64.n_prefixes = 1;
		cgn_prefix_parse("198.51.100.0/24", &c->nat64.treat_as_global[0]);
		c->nat64.n_treat_as_global = 1;
		cgn_dataplane_set_nat64(E->dp, c);
	}
	/* 64 subscribers x 64 ports at most in the test environment's allocator */
	if (flows > 4096)
		flows = 4096;
	uint8_t (*frames)[64] = calloc(flows, 64);
	uint16_t len = 0;
	for (uint32_t i = 0; i < flows; i++) {
		char src[64];
		if (nat64) {
			snprintf(src, sizeof(src), "2001:db8:6:%02x00::2", i / 64);
			len = build_udp6(frames[i], &E->dp->ports[E->dp->port_index[E->inside_port]].mac, src,
					 (uint16_t)(10000 + i % 64));
			continue;
		}
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
