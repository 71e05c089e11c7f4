/*
 * gen_flows: writes the pcaps of the NAT benchmarks (scripts/bench_nat44.sh, bench_nat64.sh).
 *
 *   gen_flows FILE FLOWS [PORTS_PER_SUBSCRIBER]
 *       N minimum-size UDP packets, each a different flow, from the inside (subscribers
 *       100.64.0.0/10, PORTS source ports each, default 64) to 198.51.100.1:53: 60-octet
 *       frames (64 with the FCS). Valid IPv4 and UDP checksums.
 *   gen_flows -6 FILE FLOWS [PORTS_PER_SUBSCRIBER]
 *       the same flows for NAT64: from subscribers 2001:db8:SSSS:SS00::1, one per /56 (the
 *       NAT64's default subscriber_prefix_len), to 64:ff9b:1::198.51.100.1 (RFC 8215's
 *       local-use prefix: the Well-Known Prefix must not carry a documentation address, RFC
 *       6052 §3.1) port 53, with 2 octets of payload: 64-octet frames, the smallest IPv6 UDP
 *       frame with an even payload (68 with the FCS). Sent to net_pcap0's own MAC,
 *       02:70:63:61:70:00 (DPDK's rte_eth_pcap.c: "pcap" and the vdev's index): the data plane
 *       takes unicast IPv6 only in frames for its port's MAC. Valid UDP checksums.
 *   gen_flows -r IN OUT
 *       the return traffic of IN (what the NAT sent on its outside, recorded with net_pcap's
 *       tx_pcap): every frame with its Ethernet, IPv4 or IPv6 addresses and UDP ports
 *       swapped, which leaves every checksum valid (a one's complement sum does not depend on
 *       the order of its words). Prints the number of frames; frames that are not UDP over
 *       IPv4 or IPv6 are an error.
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_cksum.h"

#define ETH_LEN 14

static void
swap(uint8_t *a, uint8_t *b, size_t n)
{
	uint8_t t[16];
	memcpy(t, a, n);
	memcpy(a, b, n);
	memcpy(b, t, n);
}

static int
reflect(const char *in, const char *out)
{
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *r = pcap_open_offline(in, err);
	if (r == NULL) {
		fprintf(stderr, "gen_flows: %s\n", err);
		return 1;
	}
	pcap_dumper_t *d = pcap_dump_open(r, out);
	if (d == NULL) {
		fprintf(stderr, "gen_flows: %s\n", pcap_geterr(r));
		pcap_close(r);
		return 1;
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	unsigned long n = 0;
	int rc;
	static uint8_t f[65536];
	while ((rc = pcap_next_ex(r, &h, &data)) == 1) {
		if (h->caplen > sizeof(f) || h->caplen < ETH_LEN)
			goto bad;
		memcpy(f, data, h->caplen);
		uint8_t *ip = f + ETH_LEN, *udp;
		uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
		if (type == 0x0800 && h->caplen >= ETH_LEN + 28 && ip[9] == 17 && (ip[0] & 0xf) == 5) {
			swap(ip + 12, ip + 16, 4);
			udp = ip + 20;
		} else if (type == 0x86dd && h->caplen >= ETH_LEN + 48 && ip[6] == 17) {
			swap(ip + 8, ip + 24, 16);
			udp = ip + 40;
		} else {
			goto bad;
		}
		swap(f, f + 6, 6);
		swap(udp, udp + 2, 2);
		pcap_dump((u_char *)d, h, f);
		n++;
	}
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "gen_flows: %s: %s\n", in, pcap_geterr(r));
		goto fail;
	}
	pcap_dump_close(d);
	pcap_close(r);
	printf("%lu\n", n);
	return 0;
bad:
	fprintf(stderr, "gen_flows: %s: frame %lu is not UDP over IPv4 or IPv6\n", in, n + 1);
fail:
	pcap_dump_close(d);
	pcap_close(r);
	return 1;
}

int
main(int argc, char **argv)
{
	bool v6 = argc > 1 && strcmp(argv[1], "-6") == 0;
	if (argc == 4 && strcmp(argv[1], "-r") == 0)
		return reflect(argv[2], argv[3]);
	if (argc - v6 < 3) {
		fprintf(stderr, "usage: gen_flows [-6] FILE FLOWS [PORTS_PER_SUBSCRIBER] | gen_flows -r IN OUT\n");
		return 2;
	}
	argv += v6;
	argc -= v6;
	unsigned long flows = strtoul(argv[2], NULL, 10);
	unsigned per = argc > 3 ? (unsigned)atoi(argv[3]) : 64;
	if (per == 0 || (v6 && flows / per >= 1u << 24)) {
		fprintf(stderr, "gen_flows: PORTS_PER_SUBSCRIBER must be at least 1 (and, with -6, FLOWS / it below 2^24)\n");
		return 2;
	}
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, argv[1]);
	if (d == NULL) {
		fprintf(stderr, "gen_flows: %s\n", pcap_geterr(p));
		return 1;
	}
	uint8_t f[64] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0x08, 0x00 };
	static const uint8_t pcap0_mac[6] = { 0x02, 0x70, 0x63, 0x61, 0x70, 0x00 };
	static const uint8_t nat64_dst[16] = { 0, 0x64, 0xff, 0x9b, 0, 1, 0, 0, 0, 0, 0, 0, 198, 51, 100, 1 };
	if (v6) {
		memcpy(f, pcap0_mac, 6);
		f[12] = 0x86, f[13] = 0xdd;
	}
	uint8_t *ip = f + ETH_LEN, *udp = ip + (v6 ? 40 : 20);
	uint16_t udp_len = v6 ? 10 : 26; /* payloads of 2 and 18 octets */
	struct pcap_pkthdr h = { .caplen = v6 ? 64 : 60, .len = v6 ? 64 : 60 };
	for (unsigned long i = 0; i < flows; i++) {
		uint32_t sub = (uint32_t)(i / per);
		uint16_t sport = (uint16_t)(10000 + i % per);
		uint32_t sum;
		memset(ip, 0, sizeof(f) - ETH_LEN);
		if (v6) {
			ip[0] = 0x60;
			ip[4] = 0, ip[5] = (uint8_t)udp_len;
			ip[6] = 17;
			ip[7] = 64;
			/* 2001:db8:SSSS:SS00::1: the subscriber's number in bits 32-55 */
			static const uint8_t base[8] = { 0x20, 0x01, 0x0d, 0xb8 };
			memcpy(ip + 8, base, 8);
			ip[12] = (uint8_t)(sub >> 16), ip[13] = (uint8_t)(sub >> 8), ip[14] = (uint8_t)sub;
			ip[23] = 1;
			memcpy(ip + 24, nat64_dst, 16);
			sum = cgn_cksum_pseudo6(ip + 8, ip + 24, udp_len, 17);
		} else {
			ip[0] = 0x45;
			ip[3] = 20 + udp_len;
			ip[8] = 64;
			ip[9] = 17;
			uint32_t src = htonl(0x64400000u + 1 + sub), dst = htonl(0xc6336401u);
			memcpy(ip + 12, &src, 4);
			memcpy(ip + 16, &dst, 4);
			uint16_t c = cgn_cksum(ip, 20);
			memcpy(ip + 10, &c, 2);
			uint8_t pseudo[12];
			memcpy(pseudo, ip + 12, 8);
			pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = 0, pseudo[11] = (uint8_t)udp_len;
			sum = cgn_cksum_partial(pseudo, 12, 0);
		}
		udp[0] = (uint8_t)(sport >> 8), udp[1] = (uint8_t)sport;
		udp[2] = 0, udp[3] = 53;
		udp[4] = 0, udp[5] = (uint8_t)udp_len;
		uint16_t c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(udp, udp_len, sum));
		if (c == 0)
			c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
		memcpy(udp + 6, &c, 2);
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	return 0;
}
