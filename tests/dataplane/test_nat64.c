/*
 * Stateful NAT64 through the burst driver on real mbufs (steps_fixture.h): classify6's Pref64
 * branch (RFC 6146 §3.5, RFC 6052 §2.3/§3.1), sessions of IPv6 subscribers on the shared
 * pool (session.c), the header replacement both ways (translate64.c, translate46.c: RFC 7915
 * §4.1/§5.1, RFC 6146 §3.7) and hairpinning 6->4->6 (RFC 6146 §3.8). Frames are built here;
 * what leaves is checked field by field and every checksum is summed again from scratch.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "addr_text.h"
#include "cgn_cksum.h"
#include "cgn_events.h"
#include "steps_fixture.h"

#define SUB "2001:db8:6::2"
#define SUB_B "2001:db8:7::2"
#define REMOTE "198.51.100.10"
#define REMOTE6 "64:ff9b::c633:640a"

/* NAT64 on (steps_fixture.h nat64_on()). */
static void
setup64(void)
{
	setup();
	nat64_on();
}

TestSuite(nat64, .init = setup64);

/* The transport checksum of an IPv6 packet at f + 14, summed from scratch: 0 when right. */
static uint16_t
sum6(const uint8_t *f)
{
	uint16_t len = (uint16_t)(f[14 + 4] << 8 | f[14 + 5]);
	uint32_t s = cgn_cksum_pseudo6(f + 14 + 8, f + 14 + 24, len, f[14 + 6]);
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(f + 54, len, s));
}

/* The IPv4 header and transport checksums of an IPv4 packet at f + 14: 0 when right. */
static uint16_t
sum4(const uint8_t *f)
{
	const uint8_t *ip = f + 14;
	unsigned ihl = (ip[0] & 15) * 4u, len = (unsigned)(ip[2] << 8 | ip[3]) - ihl;
	if (cgn_cksum(ip, ihl) != 0)
		return 0xdead;
	uint32_t s = 0;
	if (ip[9] != IPPROTO_ICMP) {
		uint8_t pseudo[12] = { 0 };
		memcpy(pseudo, ip + 12, 8);
		pseudo[9] = ip[9];
		pseudo[10] = (uint8_t)(len >> 8), pseudo[11] = (uint8_t)len;
		s = cgn_cksum_partial(pseudo, 12, 0);
	}
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(ip + ihl, len, s));
}

/* Ethernet + IPv6 from src to dst with hop limit hop and traffic class tc, then a transport
 * header of proto (UDP or TCP SYN from sport to dport, or an ICMPv6 echo request with
 * identifier sport) and plen octets of payload; checksum right. @return its length. */
static uint16_t
build6(const char *src, const char *dst, uint8_t hop, uint8_t tc, uint8_t proto, uint16_t sport, uint16_t dport,
       uint16_t plen)
{
	uint8_t *f = frame;
	uint16_t l4len = (uint16_t)((proto == IPPROTO_TCP ? 20 : 8) + plen);
	memset(f, 0, 54u + l4len);
	memcpy(f, E->dp->ports[E->dp->port_index[E->inside_port]].mac.addr_bytes, 6);
	f[6] = 2, f[11] = 1;
	f[12] = 0x86, f[13] = 0xdd;
	uint8_t *ip = f + 14;
	ip[0] = (uint8_t)(0x60 | tc >> 4), ip[1] = (uint8_t)(tc << 4 | 0x0b), ip[3] = 0x77; /* a flow label */
	ip[4] = (uint8_t)(l4len >> 8), ip[5] = (uint8_t)l4len;
	ip[6] = proto;
	ip[7] = hop;
	cr_assert_eq(inet_pton(AF_INET6, src, ip + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, ip + 24), 1);
	uint8_t *l4 = f + 54;
	for (uint16_t i = 0; i < plen; i++)
		l4[l4len - plen + i] = (uint8_t)(i * 7 + 1);
	if (proto == IPPROTO_ICMPV6) {
		l4[0] = 128;
		l4[4] = (uint8_t)(sport >> 8), l4[5] = (uint8_t)sport, l4[7] = 1;
	} else {
		l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport, l4[2] = (uint8_t)(dport >> 8), l4[3] = (uint8_t)dport;
		if (proto == IPPROTO_UDP)
			l4[4] = (uint8_t)(l4len >> 8), l4[5] = (uint8_t)l4len;
		else
			l4[12] = 0x50, l4[13] = 0x02, l4[14] = 0xff; /* SYN */
	}
	uint16_t c = sum6(f);
	memcpy(l4 + (proto == IPPROTO_UDP ? 6 : proto == IPPROTO_TCP ? 16 : 2), &c, 2);
	return (uint16_t)(54 + l4len);
}

/* Ethernet + IPv4 from src:sport to dst:dport (UDP, or an ICMP echo reply with identifier
 * dport), ttl, tos, DF; checksums right (zero_udp: UDP checksum 0). @return its length. */
static uint16_t
build4(const char *src, uint16_t sport, uint32_t dst_be, uint16_t dport, uint8_t proto, uint8_t ttl, uint8_t tos,
       bool zero_udp, uint16_t plen)
{
	uint8_t *f = frame;
	uint16_t l4len = (uint16_t)(8 + plen), total = (uint16_t)(20 + l4len);
	memset(f, 0, 14u + total);
	memcpy(f, E->dp->ports[E->dp->port_index[E->outside_port]].mac.addr_bytes, 6);
	f[6] = 2, f[11] = 2;
	f[12] = 0x08;
	uint8_t *ip = f + 14;
	ip[0] = 0x45, ip[1] = tos, ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
	ip[4] = 0x12, ip[5] = 0x34, ip[6] = 0x40; /* DF */
	ip[8] = ttl, ip[9] = proto;
	uint32_t s = addr(src);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &dst_be, 4);
	uint16_t c = cgn_cksum(ip, 20);
	memcpy(ip + 10, &c, 2);
	uint8_t *l4 = ip + 20;
	for (uint16_t i = 0; i < plen; i++)
		l4[8 + i] = (uint8_t)(i * 3 + 5);
	if (proto == IPPROTO_ICMP) {
		l4[0] = 0; /* echo reply */
		l4[4] = (uint8_t)(dport >> 8), l4[5] = (uint8_t)dport, l4[7] = 1;
		c = cgn_cksum(l4, l4len);
		memcpy(l4 + 2, &c, 2);
	} else {
		l4[0] = (uint8_t)(sport >> 8), l4[1] = (uint8_t)sport, l4[2] = (uint8_t)(dport >> 8), l4[3] = (uint8_t)dport;
		l4[4] = (uint8_t)(l4len >> 8), l4[5] = (uint8_t)l4len;
		if (!zero_udp) {
			c = sum4(f);
			memcpy(l4 + 6, &c, 2);
		}
	}
	return (uint16_t)(14 + total);
}

static bool
addr6_at(const uint8_t *f, unsigned off, const char *want)
{
	struct cgn_addr a = A(want);
	return memcmp(f + off, a.b, 16) == 0;
}

/* Sends SUB's UDP 40000 -> REMOTE:53 out; @return the external address (network order) and
 * port it left from. */
static uint32_t
udp_out(const char *sub, uint16_t sport, uint16_t *ext_port)
{
	uint16_t op, ol;
	uint8_t *o = run(E->inside_port, build6(sub, REMOTE6, 64, 0, IPPROTO_UDP, sport, 53, 12), &op, &ol);
	cr_assert_not_null(o, "translated");
	cr_assert_eq(op, E->outside_port);
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	*ext_port = port_at(o, 0);
	return ext;
}

Test(nat64, udp_out_becomes_ipv4_from_the_pool_rfc7915_5_1)
{
	uint16_t op, ol;
	uint64_t made = E->w->pkt.sessions_created;
	uint8_t *o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0xb8, IPPROTO_UDP, 40000, 53, 12), &op, &ol);
	cr_assert_not_null(o, "translated");
	cr_assert_eq(op, E->outside_port, "to the outside");
	cr_assert_eq(E->w->pkt.sessions_created, made + 1, "one session");
	cr_assert_eq(ol, 14 + 20 + 8 + 12, "40 octets of IPv6 header became 20 of IPv4");
	cr_assert_eq(o[12] << 8 | o[13], 0x0800);
	const uint8_t *ip = o + 14;
	cr_assert_eq(ip[0], 0x45, "IHL 5 (§5.1)");
	cr_assert_eq(ip[1], 0xb8, "TOS = traffic class");
	cr_assert_eq(ip[2] << 8 | ip[3], 40, "total length");
	cr_assert_eq(ip[6] & 0x40, 0, "DF clear at or below 1260 octets");
	cr_assert_eq(ip[8], 63, "TTL = hop limit - 1");
	cr_assert_eq(ip[9], IPPROTO_UDP);
	uint32_t src, dst;
	memcpy(&src, ip + 12, 4);
	memcpy(&dst, ip + 16, 4);
	cr_assert_eq(ntohl(src) & 0xfffffffc, ntohl(addr("203.0.113.0")), "from the pool");
	cr_assert_eq(dst, addr(REMOTE), "to the address under the Pref64 (RFC 6052 §2.3)");
	cr_assert_eq(port_at(o, 2), 53);
	cr_assert(port_at(o, 0) >= 1024 && port_at(o, 0) <= 2047, "a port of the subscriber's block");
	cr_assert_eq(sum4(o), 0, "IPv4 header and UDP checksums summed from scratch");
	cr_assert_eq(o[14 + 20 + 8], 1, "payload kept");

	/* The answer comes back as IPv6 to the subscriber, from the remote under the Pref64. */
	uint16_t ext_port = port_at(o, 0);
	o = run(E->outside_port, build4(REMOTE, 53, src, ext_port, IPPROTO_UDP, 50, 0x28, false, 12), &op, &ol);
	cr_assert_not_null(o, "translated back");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(ol, 14 + 40 + 8 + 12);
	cr_assert_eq(o[12] << 8 | o[13], 0x86dd);
	const uint8_t *ip6 = o + 14;
	cr_assert_eq(ip6[0], 0x62, "version 6, traffic class = TOS (0x28)");
	cr_assert_eq(ip6[1], 0x80, "flow label 0 (§4.1)");
	cr_assert_eq(ip6[2] | ip6[3], 0);
	cr_assert_eq(ip6[4] << 8 | ip6[5], 20, "payload length");
	cr_assert_eq(ip6[6], IPPROTO_UDP);
	cr_assert_eq(ip6[7], 49, "hop limit = TTL - 1");
	cr_assert(addr6_at(o, 22, REMOTE6), "from the remote under the Pref64");
	cr_assert(addr6_at(o, 38, SUB), "to the subscriber");
	cr_assert_eq(o[54] << 8 | o[55], 53);
	cr_assert_eq(o[56] << 8 | o[57], 40000, "its own port");
	cr_assert_eq(sum6(o), 0, "UDP checksum over the IPv6 pseudo-header");
}

Test(nat64, eim_one_external_endpoint_for_every_destination_rfc6146_3_5_1)
{
	uint16_t p1, p2, op;
	uint32_t e1 = udp_out(SUB, 40001, &p1);
	uint8_t *o = run(E->inside_port, build6(SUB, "64:ff9b::c633:640b", 64, 0, IPPROTO_UDP, 40001, 53, 4), &op, NULL);
	cr_assert_not_null(o);
	uint32_t e2;
	memcpy(&e2, o + 14 + 12, 4);
	p2 = port_at(o, 0);
	cr_assert_eq(e1, e2);
	cr_assert_eq(p1, p2, "endpoint-independent mapping");
	/* Another address of the same /56 shares the external address (paired pooling). */
	uint32_t e3 = udp_out("2001:db8:6::99", 40001, &p2);
	cr_assert_eq(e3, e1, "one IPv4 address per subscriber prefix");
}

Test(nat64, tcp_syn_out_and_icmp_echo_both_ways)
{
	uint16_t op, ol;
	uint8_t *o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_TCP, 41000, 80, 0), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(o[14 + 9], IPPROTO_TCP);
	cr_assert_eq(port_at(o, 2), 80);
	cr_assert_eq(o[14 + 20 + 13], 0x02, "SYN");
	cr_assert_eq(sum4(o), 0, "TCP checksum");

	o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_ICMPV6, 0x4242, 0, 16), &op, &ol);
	cr_assert_not_null(o, "echo translated");
	cr_assert_eq(o[14 + 9], IPPROTO_ICMP, "ICMPv6 became ICMP (§5.2)");
	cr_assert_eq(o[34], 8, "echo request");
	uint16_t id = port_at(o, 4);
	cr_assert_eq(sum4(o), 0, "ICMP checksum without a pseudo-header");
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	o = run(E->outside_port, build4(REMOTE, 0, ext, id, IPPROTO_ICMP, 60, 0, false, 16), &op, &ol);
	cr_assert_not_null(o, "echo reply translated");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[14 + 6], IPPROTO_ICMPV6);
	cr_assert_eq(o[54], 129, "echo reply (§4.2)");
	cr_assert_eq(o[58] << 8 | o[59], 0x4242, "the subscriber's identifier");
	cr_assert_eq(sum6(o), 0, "ICMPv6 checksum with its pseudo-header");
}

Test(nat64, zero_udp_checksum_from_ipv4_is_computed_rfc6146_3_4)
{
	uint16_t ext_port, op, ol;
	uint32_t ext = udp_out(SUB, 40002, &ext_port);
	uint8_t *o = run(E->outside_port, build4(REMOTE, 53, ext, ext_port, IPPROTO_UDP, 50, 0, true, 9), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_neq(o[60] | o[61], 0, "a checksum");
	cr_assert_eq(sum6(o), 0, "and the right one");
	/* ... or dropped when configured so. */
	E->cfg.nat64.udp_zero_checksum_drop = 1;
	uint64_t before = drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM);
	cr_assert_null(run(E->outside_port, build4(REMOTE, 53, ext, ext_port, IPPROTO_UDP, 50, 0, true, 9), NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM), before + 1);
}

Test(nat64, refusals_rfc6146_3_5_and_rfc6052_3_1)
{
	uint64_t before = drops(CGN_DROP_NAT64_SRC_PREF64);
	cr_assert_null(run(E->inside_port, build6("64:ff9b::6440:102", REMOTE6, 64, 0, IPPROTO_UDP, 1, 2, 0), NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_SRC_PREF64), before + 1, "from a Pref64: silently discarded");

	before = drops(CGN_DROP_NAT64_NON_GLOBAL);
	cr_assert_null(run(E->inside_port, build6(SUB, "64:ff9b::a00:1", 64, 0, IPPROTO_UDP, 1, 2, 0), NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_NON_GLOBAL), before + 1, "64:ff9b::10.0.0.1 is not translated");
	/* A Network-Specific Prefix carries any IPv4 address (the /40: RFC 6052 §2.2's layout,
	 * 10.0.0.1 around the u octet). */
	uint16_t op;
	uint8_t *o = run(E->inside_port, build6(SUB, "2001:db9:10a:0:1::", 64, 0, IPPROTO_UDP, 40003, 53, 0), &op, NULL);
	cr_assert_not_null(o, "a /40 Pref64");
	cr_assert_eq(memcmp(o + 14 + 16, (uint8_t[]){ 10, 0, 0, 1 }, 4), 0, "10.0.0.1 read around the u octet");

	/* Hop limit 1: time exceeded back to the subscriber (§5.1). */
	before = drops(CGN_DROP_TTL_EXPIRED);
	o = run(E->inside_port, build6(SUB, REMOTE6, 1, 0, IPPROTO_UDP, 40004, 53, 0), &op, NULL);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[54], 3, "ICMPv6 time exceeded");
	cr_assert_eq(o[55], 0, "hop limit exceeded in transit");
	cr_assert_eq(drops(CGN_DROP_TTL_EXPIRED), before + 1);

	/* Neither TCP, UDP nor ICMPv6: port unreachable (§3.5). */
	before = drops(CGN_DROP_NAT64_PROTO);
	uint16_t len = build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 1, 2, 0);
	frame[14 + 6] = 132; /* SCTP */
	o = run(E->inside_port, len, &op, NULL);
	cr_assert_not_null(o);
	cr_assert_eq(o[54], 1, "destination unreachable");
	cr_assert_eq(o[55], 4, "port unreachable");
	cr_assert_eq(drops(CGN_DROP_NAT64_PROTO), before + 1);

	/* Unsolicited from the IPv4 side: no mapping. */
	before = drops(CGN_DROP_NO_MAPPING);
	cr_assert_null(run(E->outside_port, build4(REMOTE, 53, addr("203.0.113.1"), 2000, IPPROTO_UDP, 50, 0, false, 0), NULL,
			   NULL));
	cr_assert_eq(drops(CGN_DROP_NO_MAPPING), before + 1);
}

Test(nat64, hairpin_6_4_6_rfc6146_3_8)
{
	/* B has a mapping; A sends to B's external endpoint under the Pref64. */
	uint16_t b_port, a_port, op, ol;
	uint32_t b_ext = udp_out(SUB_B, 5000, &b_port);
	uint32_t a_ext = udp_out(SUB, 6000, &a_port);
	char dst[64];
	const uint8_t *e = (const uint8_t *)&b_ext;
	snprintf(dst, sizeof(dst), "64:ff9b::%u.%u.%u.%u", e[0], e[1], e[2], e[3]);
	uint64_t hp = E->w->pkt.hairpinned;
	uint8_t *o = run(E->inside_port, build6(SUB, dst, 64, 0, IPPROTO_UDP, 6000, b_port, 10), &op, &ol);
	cr_assert_not_null(o, "hairpinned");
	cr_assert_eq(E->w->pkt.hairpinned, hp + 1);
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[12] << 8 | o[13], 0x86dd, "IPv6 again");
	char src[64];
	const uint8_t *a = (const uint8_t *)&a_ext;
	snprintf(src, sizeof(src), "64:ff9b::%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	cr_assert(addr6_at(o, 22, src), "from A's external address under the Pref64");
	cr_assert(addr6_at(o, 38, SUB_B), "to B");
	cr_assert_eq(o[54] << 8 | o[55], a_port, "from A's external port");
	cr_assert_eq(o[56] << 8 | o[57], 5000, "to B's own port");
	cr_assert_eq(o[14 + 7], 63, "the hop limit went down once");
	cr_assert_eq(sum6(o), 0);
}

Test(nat64, ipv4_df_above_1260_and_packet_too_big_rfc7915_5_1)
{
	uint16_t op, ol;
	/* 1300 octets of IPv4: DF set (§5.1). */
	uint8_t *o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40010, 53, 1300 - 28), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(o[14 + 2] << 8 | o[14 + 3], 1300);
	cr_assert_eq(o[14 + 6] & 0x40, 0x40, "DF above 1260 octets");
	cr_assert_eq(sum4(o), 0);
	/* Too big for an outside MTU of 1280 with DF: Packet Too Big, 1300 (1280 + 20). */
	struct cgn_port *out = &E->dp->ports[E->dp->port_index[E->outside_port]];
	out->mtu = 1280;
	cgn_dataplane_derive_tx(E->dp);
	uint64_t before = drops(CGN_DROP_TOO_BIG);
	o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40010, 53, 1300 - 28), &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[54], 2, "Packet Too Big");
	cr_assert_eq(o[58] << 24 | o[59] << 16 | o[60] << 8 | o[61], 1300, "the MTU that fits once IPv4");
	cr_assert_eq(drops(CGN_DROP_TOO_BIG), before + 1);
}

Test(nat64, unexpired_source_route_is_refused_rfc7915_4_1)
{
	uint16_t ext_port, op, ol;
	uint32_t ext = udp_out(SUB, 40020, &ext_port);
	/* The answer with a loose source route (type 131, length 7, pointer 4: unexpired) and an
	 * end-of-options octet: IHL 7. */
	uint16_t len = build4(REMOTE, 53, ext, ext_port, IPPROTO_UDP, 50, 0, false, 4);
	memmove(frame + 14 + 28, frame + 14 + 20, len - 34u);
	static const uint8_t lsrr[8] = { 131, 7, 4, 198, 51, 100, 1, 0 };
	memcpy(frame + 14 + 20, lsrr, 8);
	frame[14] = 0x47;
	uint16_t total = (uint16_t)(len - 14 + 8);
	frame[16] = (uint8_t)(total >> 8), frame[17] = (uint8_t)total;
	ip_header_changed(frame, 28);
	uint64_t before = drops(CGN_DROP_NAT64_SOURCE_ROUTE);
	uint8_t *o = run(E->outside_port, (uint16_t)(len + 8), &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[34], 3, "destination unreachable");
	cr_assert_eq(o[35], 5, "source route failed");
	cr_assert_eq(drops(CGN_DROP_NAT64_SOURCE_ROUTE), before + 1);
	/* Used up (pointer past the length): the options are ignored and it is translated. */
	frame[14 + 22] = 8;
	ip_header_changed(frame, 28);
	o = run(E->outside_port, (uint16_t)(len + 8), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(ol, 14 + 40 + 8 + 4, "IPv6 without the options");
	cr_assert_eq(sum6(o), 0);
}

/* An ICMPv4 destination unreachable (port) from REMOTE to ext, quoting the UDP packet ext:eport
 * -> REMOTE:53 that left through the NAT64: it reaches the subscriber as ICMPv6 1/4 quoting its
 * own packet (RFC 7915 §4.2/§4.3). The other way, an ICMPv6 1/4 from the subscriber about an
 * inbound packet leaves as ICMPv4 3/3 quoting it as it was on the IPv4 side (§5.2/§5.3). */
Test(nat64, icmp_errors_are_translated_with_their_quoted_packet_rfc7915_4_2_5_2)
{
	uint16_t eport, op, ol;
	uint32_t ext = udp_out(SUB, 40030, &eport);
	uint8_t q[28] = { 0x45, 0, 0, 40, 0, 1, 0, 0, 60, IPPROTO_UDP };
	memcpy(q + 12, &ext, 4);
	uint32_t r = addr(REMOTE);
	memcpy(q + 16, &r, 4);
	uint16_t c = cgn_cksum(q, 20);
	memcpy(q + 10, &c, 2);
	q[20] = (uint8_t)(eport >> 8), q[21] = (uint8_t)eport, q[23] = 53, q[25] = 20, q[26] = 0xab, q[27] = 0xcd;
	uint16_t len = build4(REMOTE, 0, ext, 0, IPPROTO_UDP, 50, 0, false, 0);
	uint8_t *ip = frame + 14, *icmp = ip + 20;
	ip[9] = IPPROTO_ICMP;
	ip[2] = 0, ip[3] = 20 + 8 + 28;
	ip_header_changed(frame, 20);
	memset(icmp, 0, 8);
	icmp[0] = 3, icmp[1] = 3;
	memcpy(icmp + 8, q, 28);
	c = cgn_cksum(icmp, 36);
	memcpy(icmp + 2, &c, 2);
	len = 14 + 20 + 36;
	uint64_t xl = E->w->pkt.icmp_errors_translated;
	uint8_t *o = run(E->outside_port, len, &op, &ol);
	cr_assert_not_null(o, "translated");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(E->w->pkt.icmp_errors_translated, xl + 1);
	cr_assert_eq(o[14 + 6], IPPROTO_ICMPV6);
	cr_assert(addr6_at(o, 22, REMOTE6), "from the router under the Pref64");
	cr_assert(addr6_at(o, 38, SUB));
	cr_assert_eq(o[54], 1, "destination unreachable");
	cr_assert_eq(o[55], 4, "port unreachable");
	cr_assert_eq(sum6(o), 0, "ICMPv6 checksum");
	const uint8_t *qi = o + 54 + 8;
	cr_assert_eq(qi[0] >> 4, 6, "an IPv6 packet quoted");
	cr_assert(addr6_at(qi, 8, SUB), "its source: the subscriber");
	cr_assert(addr6_at(qi, 24, REMOTE6), "its destination: the remote under the Pref64");
	cr_assert_eq(qi[40] << 8 | qi[41], 40030, "the subscriber's own port");

	/* 6->4: the subscriber's port unreachable about REMOTE6:53 -> SUB:40030. */
	uint8_t q6[48] = { 0x60, 0, 0, 0, 0, 8, IPPROTO_UDP, 60 };
	struct cgn_addr a = A(REMOTE6), b = A(SUB);
	memcpy(q6 + 8, a.b, 16);
	memcpy(q6 + 24, b.b, 16);
	q6[40] = 0, q6[41] = 53, q6[42] = 40030 >> 8, q6[43] = 40030 & 0xff, q6[45] = 8;
	len = build6(SUB, REMOTE6, 64, 0, IPPROTO_ICMPV6, 0, 0, 48);
	uint8_t *e = frame + 54;
	memset(e, 0, 8);
	e[0] = 1, e[1] = 4;
	memcpy(e + 8, q6, 48);
	c = sum6(frame);
	memcpy(e + 2, &c, 2);
	o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "translated");
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[14 + 9], IPPROTO_ICMP);
	cr_assert_eq(memcmp(o + 14 + 12, &ext, 4), 0, "from the external address");
	cr_assert_eq(memcmp(o + 14 + 16, &r, 4), 0, "to the remote");
	cr_assert_eq(o[34], 3, "destination unreachable");
	cr_assert_eq(o[35], 3, "port unreachable");
	cr_assert_eq(sum4(o), 0, "IPv4 header and ICMP checksums");
	const uint8_t *q4 = o + 34 + 8;
	cr_assert_eq(q4[0], 0x45, "an IPv4 packet quoted");
	cr_assert_eq(memcmp(q4 + 12, &r, 4), 0, "its source: the remote");
	cr_assert_eq(memcmp(q4 + 16, &ext, 4), 0, "its destination: the external address");
	cr_assert_eq(q4[22] << 8 | q4[23], eport, "the external port");
}

Test(nat64, traffic_class_and_tos_knobs_rfc7915_4_1_5_1)
{
	uint16_t op, ol, eport;
	E->cfg.nat64.reset_tos = 1;
	E->cfg.nat64.new_tos = 0x20;
	uint8_t *o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0xb8, IPPROTO_UDP, 40040, 53, 4), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(o[15], 0x20, "TOS the configured one, not the traffic class");
	eport = port_at(o, 0);
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	E->cfg.nat64.reset_traffic_class = 1;
	o = run(E->outside_port, build4(REMOTE, 53, ext, eport, IPPROTO_UDP, 50, 0xb8, false, 4), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(o[14], 0x60, "traffic class 0");
	cr_assert_eq(o[15] & 0xf0, 0);
}

Test(nat64, routing_header_with_segments_left_is_not_translated_rfc7915_5_1)
{
	/* IPv6, a Routing header (type 4, segments left 1), then UDP: Parameter Problem 4/0 at
	 * the Segments Left octet (40 + 3). */
	uint16_t len = build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40050, 53, 0);
	memmove(frame + 62, frame + 54, len - 54u);
	static const uint8_t rh[8] = { IPPROTO_UDP, 0, 4, 1 };
	memcpy(frame + 54, rh, 8);
	frame[14 + 6] = IPPROTO_ROUTING;
	frame[14 + 5] = (uint8_t)(frame[14 + 5] + 8);
	uint16_t op;
	uint64_t before = drops(CGN_DROP_IP6_ROUTING);
	uint8_t *o = run(E->inside_port, (uint16_t)(len + 8), &op, NULL);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[54], 4, "parameter problem");
	cr_assert_eq(o[55], 0, "erroneous header field");
	cr_assert_eq(o[58] << 24 | o[59] << 16 | o[60] << 8 | o[61], 43, "at Segments Left");
	cr_assert_eq(drops(CGN_DROP_IP6_ROUTING), before + 1);
	/* With no segments left it is skipped and the packet translated. */
	frame[57] = 0;
	o = run(E->inside_port, (uint16_t)(len + 8), &op, NULL);
	cr_assert_not_null(o);
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[14 + 9], IPPROTO_UDP, "the Routing header skipped");
	cr_assert_eq(sum4(o), 0);
}

Test(nat64, no_port_left_answers_icmpv6_address_unreachable_rfc6146_3_5_1_1)
{
	/* The fixture's quota: 2 blocks of 64 ports a subscriber. */
	uint16_t op, ol;
	for (uint16_t i = 0; i < 128; i++)
		cr_assert_not_null(run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, (uint16_t)(20000 + i), 53, 0),
				       &op, NULL), "session %u", i);
	uint64_t before = drops(CGN_DROP_NO_PORTS);
	uint8_t *o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 20200, 53, 0), &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[54], 1, "destination unreachable");
	cr_assert_eq(o[55], 3, "address unreachable");
	cr_assert(addr6_at(o, 38, SUB));
	cr_assert_eq(sum6(o), 0);
	cr_assert_eq(drops(CGN_DROP_NO_PORTS), before + 1);
}

Test(nat64, ipv4_ttl_1_and_df_too_big_for_the_inside_rfc7915_4_1)
{
	uint16_t eport, op, ol;
	uint32_t ext = udp_out(SUB, 40060, &eport);
	uint64_t before = drops(CGN_DROP_TTL_EXPIRED);
	uint8_t *o = run(E->outside_port, build4(REMOTE, 53, ext, eport, IPPROTO_UDP, 1, 0, false, 4), &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[34], 11, "time exceeded");
	cr_assert_eq(o[35], 0);
	cr_assert_eq(drops(CGN_DROP_TTL_EXPIRED), before + 1);

	/* 1300 octets of IPv4 with DF: 1320 once IPv6, over an inside MTU of 1280: Fragmentation
	 * Needed with 1260, the IPv4 size that fits (§4.1). */
	struct cgn_port *in = &E->dp->ports[E->dp->port_index[E->inside_port]];
	in->mtu = 1280;
	cgn_dataplane_derive_tx(E->dp);
	before = drops(CGN_DROP_TOO_BIG);
	o = run(E->outside_port, build4(REMOTE, 53, ext, eport, IPPROTO_UDP, 50, 0, false, 1300 - 28), &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[34], 3);
	cr_assert_eq(o[35], 4, "fragmentation needed");
	cr_assert_eq(o[40] << 8 | o[41], 1260, "the next-hop MTU less 20");
	cr_assert_eq(drops(CGN_DROP_TOO_BIG), before + 1);
}

Test(nat64, an_ipv4_subscriber_hairpins_to_an_ipv6_one_rfc6146_3_8)
{
	uint16_t b_port, op, ol;
	uint32_t b_ext = udp_out(SUB, 7000, &b_port);
	char dst[32];
	const uint8_t *e = (const uint8_t *)&b_ext;
	snprintf(dst, sizeof(dst), "%u.%u.%u.%u", e[0], e[1], e[2], e[3]);
	uint16_t len = build_udp(frame, "100.64.0.5", 9000, dst, b_port, "hello", 5, 64, false);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "hairpinned");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[12] << 8 | o[13], 0x86dd, "to the IPv6 subscriber as IPv6");
	cr_assert(addr6_at(o, 38, SUB));
	cr_assert_eq(o[22], 0x00);
	cr_assert_eq(o[23], 0x64, "from under the Well-Known Prefix");
	cr_assert_eq(o[56] << 8 | o[57], 7000);
	cr_assert_eq(sum6(o), 0);
}

Test(nat64, more_refusals_each_counted)
{
	/* ICMPv6 informational messages other than echo (§5.2: single-hop, unknown). */
	uint16_t len = build6(SUB, REMOTE6, 64, 0, IPPROTO_ICMPV6, 0, 0, 0);
	frame[54] = 133; /* router solicitation */
	uint64_t before = drops(CGN_DROP_NAT64_ICMP6_TYPE);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_ICMP6_TYPE), before + 1);
	/* IPv6 UDP with a zero checksum (RFC 8200 §8.1). */
	len = build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40070, 53, 4);
	frame[60] = frame[61] = 0;
	before = drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM), before + 1);
	/* IPv4 from 127.0.0.1 into a NAT64 mapping (§4.1: illegal source). */
	uint16_t eport;
	uint32_t ext = udp_out(SUB, 40071, &eport);
	before = drops(CGN_DROP_NAT64_ILLEGAL_SOURCE);
	cr_assert_null(run(E->outside_port, build4("127.0.0.1", 53, ext, eport, IPPROTO_UDP, 50, 0, false, 0), NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_ILLEGAL_SOURCE), before + 1);
	/* IPv6 to a Pref64 that comes by the outside port. */
	len = build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40072, 53, 0);
	memcpy(frame, E->dp->ports[E->dp->port_index[E->outside_port]].mac.addr_bytes, 6);
	before = drops(CGN_DROP_NAT64_NOT_INSIDE);
	cr_assert_null(run(E->outside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NAT64_NOT_INSIDE), before + 1);
}

/* An IPv4 subscriber's DF packet hairpinned to an IPv6 subscriber grows by 20 octets on its way
 * back in: too big for the inside, it is answered with Fragmentation Needed (RFC 7915 §4.1
 * MUST), not lost. (Found by review.) */
Test(nat64, ipv4_hairpin_to_ipv6_with_df_too_big_answers_fragmentation_needed_rfc7915_4_1)
{
	uint16_t b_port, op, ol;
	uint32_t b_ext = udp_out(SUB, 7100, &b_port);
	char dst[32];
	const uint8_t *e = (const uint8_t *)&b_ext;
	snprintf(dst, sizeof(dst), "%u.%u.%u.%u", e[0], e[1], e[2], e[3]);
	cr_assert_eq(E->dp->ports[E->dp->port_index[E->inside_port]].mtu, 1500, "fixture: inside MTU 1500");
	static uint8_t payload[1472];
	uint16_t len = build_udp(frame, "100.64.0.5", 9000, dst, b_port, payload, 1472, 64, false);
	frame[14 + 6] |= 0x40; /* DF */
	ip_header_changed(frame, 20);
	uint64_t before = drops(CGN_DROP_TOO_BIG);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "an ICMPv4 Fragmentation Needed back to 100.64.0.5");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[14 + 9], IPPROTO_ICMP);
	cr_assert_eq(o[34], 3);
	cr_assert_eq(o[35], 4, "fragmentation needed");
	cr_assert_eq(o[40] << 8 | o[41], 1480, "the IPv4 size that fits once IPv6");
	cr_assert_eq(drops(CGN_DROP_TOO_BIG), before + 1);
}

/* A long ICMPv4 error with DF for a NAT64 mapping is cut to 1280 octets as it is translated:
 * it fits any IPv6 link, and is translated, not refused. (Found by review.) */
Test(nat64, a_long_icmpv4_error_with_df_is_translated_rfc7915_4_2)
{
	uint16_t eport, op, ol;
	uint32_t ext = udp_out(SUB, 40130, &eport);
	struct cgn_port *in = &E->dp->ports[E->dp->port_index[E->inside_port]];
	in->mtu = 1280;
	cgn_dataplane_derive_tx(E->dp);
	const uint16_t qlen = 1272;
	static uint8_t q[1272];
	memset(q, 0, sizeof(q));
	q[0] = 0x45, q[2] = (uint8_t)(qlen >> 8), q[3] = (uint8_t)qlen, q[8] = 60, q[9] = IPPROTO_UDP;
	memcpy(q + 12, &ext, 4);
	uint32_t r = addr(REMOTE);
	memcpy(q + 16, &r, 4);
	uint16_t c = cgn_cksum(q, 20);
	memcpy(q + 10, &c, 2);
	q[20] = (uint8_t)(eport >> 8), q[21] = (uint8_t)eport, q[23] = 53;
	q[24] = (uint8_t)((qlen - 20) >> 8), q[25] = (uint8_t)(qlen - 20), q[26] = 0xab, q[27] = 0xcd;
	build4(REMOTE, 0, ext, 0, IPPROTO_UDP, 50, 0, false, 0); /* DF set by build4 */
	uint8_t *ip = frame + 14, *icmp = ip + 20;
	uint16_t tot = (uint16_t)(20 + 8 + qlen);
	ip[9] = IPPROTO_ICMP;
	ip[2] = (uint8_t)(tot >> 8), ip[3] = (uint8_t)tot;
	ip_header_changed(frame, 20);
	memset(icmp, 0, 8);
	icmp[0] = 3, icmp[1] = 3;
	memcpy(icmp + 8, q, qlen);
	c = cgn_cksum(icmp, 8u + qlen);
	memcpy(icmp + 2, &c, 2);
	uint8_t *o = run(E->outside_port, (uint16_t)(14 + tot), &op, &ol);
	cr_assert_not_null(o, "translated into at most 1280 octets");
	cr_assert_eq(op, E->inside_port);
	cr_assert_leq(ol, 14 + 1280);
	cr_assert_eq(o[54], 1);
	cr_assert_eq(sum6(o), 0);
}

/* One mapping (EIM) used through two Pref64: the answers come from the one used last, the
 * address the subscriber's socket sent to (RFC 6146 §3.5.1's session). (Found by review.) */
Test(nat64, answers_come_from_the_pref64_the_subscriber_used_rfc6146_3_5_1)
{
	uint16_t eport, op, ol;
	uint32_t ext = udp_out(SUB, 40140, &eport); /* through 64:ff9b::/96 */
	const char *y6 = "2001:db9:1cb:71:c8::"; /* 203.0.113.200 under the /40 */
	uint8_t *o = run(E->inside_port, build6(SUB, y6, 64, 0, IPPROTO_UDP, 40140, 53, 12), &op, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(port_at(o, 0), eport, "one mapping (EIM)");
	o = run(E->outside_port, build4("203.0.113.200", 53, ext, eport, IPPROTO_UDP, 50, 0, false, 12), &op, &ol);
	cr_assert_not_null(o, "translated back");
	cr_assert(addr6_at(o, 22, y6), "from the address the subscriber sent to");
	cr_assert_eq(sum6(o), 0);
}

/* An ICMPv6 Packet Too Big from the subscriber about a packet the NAT64 sent in as IPv6
 * fragments (a Fragment header in the quoted packet) leaves as Fragmentation Needed: the
 * quoted extension headers are walked to the transport header. (Found by review.) */
Test(nat64, an_icmpv6_error_quoting_a_fragment_is_translated_rfc7915_5_2)
{
	uint16_t eport, op, ol;
	uint32_t ext = udp_out(SUB, 40150, &eport);
	uint8_t q6[56] = { 0x60, 0, 0, 0, 0x05, 0xc8, IPPROTO_FRAGMENT, 60 };
	struct cgn_addr a = A(REMOTE6), b = A(SUB);
	memcpy(q6 + 8, a.b, 16);
	memcpy(q6 + 24, b.b, 16);
	q6[40] = IPPROTO_UDP, q6[43] = 1, q6[47] = 0x42; /* offset 0, M, identification 0x42 */
	q6[48] = 0, q6[49] = 53, q6[50] = 40150 >> 8, q6[51] = 40150 & 0xff, q6[52] = 0x05, q6[53] = 0xc0;
	uint16_t len = build6(SUB, REMOTE6, 64, 0, IPPROTO_ICMPV6, 0, 0, 56);
	uint8_t *e = frame + 54;
	memset(e, 0, 8);
	e[0] = 2, e[6] = 0x05, e[7] = 0x00; /* Packet Too Big, MTU 1280 */
	memcpy(e + 8, q6, 56);
	uint16_t c = sum6(frame);
	memcpy(e + 2, &c, 2);
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "translated");
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[34], 3, "destination unreachable");
	cr_assert_eq(o[35], 4, "fragmentation needed");
	cr_assert_eq(memcmp(o + 34 + 8 + 16, &ext, 4), 0, "the quoted packet to the external address");
	cr_assert_eq(sum4(o), 0);
}

/* A Routing header with segments left after an options header with an option the CGN does not
 * know: still not translated, Parameter Problem at Segments Left (RFC 7915 §5.1). (Found by
 * review: only the first problem was recorded.) */
Test(nat64, a_routing_header_after_an_unknown_option_is_still_refused_rfc7915_5_1)
{
	uint16_t len = build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40160, 53, 0);
	memmove(frame + 70, frame + 54, len - 54u);
	static const uint8_t dst_opts[8] = { IPPROTO_ROUTING, 0, 0x41, 4, 0, 0, 0, 0 }; /* type 01...: skip-and-discard */
	static const uint8_t rh[8] = { IPPROTO_UDP, 0, 4, 1 };
	memcpy(frame + 54, dst_opts, 8);
	memcpy(frame + 62, rh, 8);
	frame[14 + 6] = IPPROTO_DSTOPTS;
	frame[14 + 5] = (uint8_t)(frame[14 + 5] + 16);
	uint16_t op;
	uint8_t *o = run(E->inside_port, (uint16_t)(len + 16), &op, NULL);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(o[54], 4, "parameter problem");
	cr_assert_eq(o[58] << 24 | o[59] << 16 | o[60] << 8 | o[61], 48 + 3, "at Segments Left");
}

/* NAT logging (issue 16, RFC 8158 §4.6.2, §4.6.9, §4.6.10): a NAT64 session is
 * NAT64_SESSION_CREATE with the IPv6 source and its own port; its subscriber's binding and
 * block name the subscriber as cgnatd keys it (the /56 of nat64.subscriber_prefix_len). */
Test(nat64, session_events_carry_the_ipv6_subscriber)
{
	struct cgn_config c = E->cfg;
	c.logging.syslog.transport = CGN_SYSLOG_LOCAL; /* a destination: the rings exist */
	c.logging.sessions = true;
	cr_assert_eq(cgn_events_init(&c), 0);
	cgn_pb_set_event_hook(&E->pb, cgn_events_pb_hook, NULL);
	uint16_t op, ol;
	uint8_t *o = run(E->inside_port, build6(SUB, REMOTE6, 64, 0, IPPROTO_UDP, 40001, 53, 4), &op, &ol);
	cr_assert_not_null(o, "translated");
	uint32_t ext;
	memcpy(&ext, o + 14 + 12, 4);
	cgn_events_flush(); /* the end of this lcore's loop */
	struct cgn_event got[8];
	unsigned n = rte_ring_sc_dequeue_burst_elem(cgn_events_active->lcore[rte_lcore_id()].ring, got, sizeof(got[0]),
						    8, NULL);
	cr_assert_eq(n, 3, "binding, block, session: %u", n);
	struct cgn_addr sub, host;
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:6::", sub.b), 1);
	cr_assert_eq(inet_pton(AF_INET6, SUB, host.b), 1);
	cr_assert_eq(got[0].nat_event, CGN_NATEV_BINDING_CREATE);
	cr_assert(cgn_addr_eq(&got[0].internal, &sub), "the subscriber's /56");
	cr_assert_eq(got[1].nat_event, CGN_NATEV_PORT_BLOCK_ALLOC);
	cr_assert(cgn_addr_eq(&got[1].internal, &sub));
	cr_assert_eq(got[1].ext_addr, ext);
	cr_assert(got[1].port_first <= port_at(o, 0) && port_at(o, 0) <= got[1].port_last);
	cr_assert_eq(got[2].nat_event, CGN_NATEV_NAT64_SESSION_CREATE);
	cr_assert(cgn_addr_eq(&got[2].internal, &host), "the host's own IPv6 address");
	cr_assert_eq(got[2].int_port, 40001);
	cr_assert_eq(got[2].ext_addr, ext);
	cr_assert_eq(got[2].ext_port, port_at(o, 0));
	cr_assert_eq(got[2].proto, IPPROTO_UDP);
	for (unsigned i = 0; i < n; i++) {
		cr_assert(cgn_event_is_v6(&got[i]));
		cr_assert(cgn_event_check(&got[i]));
	}
	cgn_pb_set_event_hook(&E->pb, NULL, NULL);
	cgn_events_fini();
}
