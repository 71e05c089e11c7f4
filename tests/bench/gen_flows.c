/*
 * gen_flows: writes a pcap of N minimum-size UDP packets, each a different flow, from the
 * inside (subscribers 100.64.0.0/10, PORTS source ports each) to 198.51.100.1:53, for
 * scripts/bench_nat44.sh. Valid IPv4 and UDP checksums.
 *
 *   gen_flows FILE FLOWS [PORTS_PER_SUBSCRIBER]
 */
#include <arpa/inet.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgn_cksum.h"

int
main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: gen_flows FILE FLOWS [PORTS_PER_SUBSCRIBER]\n");
		return 2;
	}
	unsigned long flows = strtoul(argv[2], NULL, 10);
	unsigned per = argc > 3 ? (unsigned)atoi(argv[3]) : 64;
	pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = pcap_dump_open(p, argv[1]);
	if (d == NULL) {
		fprintf(stderr, "gen_flows: %s\n", pcap_geterr(p));
		return 1;
	}
	uint8_t f[60] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0x08, 0x00 };
	uint8_t *ip = f + 14, *udp = ip + 20;
	struct pcap_pkthdr h = { .caplen = 60, .len = 60 };
	for (unsigned long i = 0; i < flows; i++) {
		uint32_t sub = (uint32_t)(i / per);
		uint16_t sport = (uint16_t)(10000 + i % per);
		memset(ip, 0, 46);
		ip[0] = 0x45;
		ip[3] = 46; /* 20 + 8 + 18 octets of payload: a 64-octet frame with the FCS */
		ip[8] = 64;
		ip[9] = 17;
		uint32_t src = htonl(0x64400000u + 1 + sub), dst = htonl(0xc6336401u);
		memcpy(ip + 12, &src, 4);
		memcpy(ip + 16, &dst, 4);
		uint16_t c = cgn_cksum(ip, 20);
		memcpy(ip + 10, &c, 2);
		udp[0] = (uint8_t)(sport >> 8), udp[1] = (uint8_t)sport;
		udp[2] = 0, udp[3] = 53;
		udp[4] = 0, udp[5] = 26;
		uint8_t pseudo[12];
		memcpy(pseudo, ip + 12, 8);
		pseudo[8] = 0, pseudo[9] = 17, pseudo[10] = 0, pseudo[11] = 26;
		c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(udp, 26, cgn_cksum_partial(pseudo, 12, 0)));
		memcpy(udp + 6, &c, 2);
		pcap_dump((u_char *)d, &h, f);
	}
	pcap_dump_close(d);
	return 0;
}
