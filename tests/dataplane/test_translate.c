/*
 * NAT44 translation through the burst driver (suite 'dataplane'): UDP, TCP and ICMP echo out
 * and back in with every checksum recomputed from scratch, UDP's zero checksum (RFC 768),
 * TTL 1 answered with time exceeded, ICMP errors about a flow translated inward with their
 * quoted header (RFC 5508). Shared setup and helpers: steps_fixture.h.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "cgn_cksum.h"
#include "steps_fixture.h"

TestSuite(translate, .init = setup);

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
