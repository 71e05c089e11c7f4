/*
 * IPv6 on the inside port, through the burst driver on real mbufs (steps_fixture.h): classify6's
 * walk of the extension headers and its drops (RFC 8200 §4), frames for the CGN itself
 * (local6.c: RFC 4861 §7.2.4 NS → NA, §7.2.5 NA learned, RFC 4443 §4.2 echo), and the ICMPv6
 * errors it sends (icmp6_reply.c: RFC 4443 §3.1 no route, port unreachable), routed by the
 * IPv6 routes (send.c); PCP to the port's addresses punted and answered by the control
 * thread, and the unsolicited PCP it sends (punt.c). Frames are built here with their checksums summed by the test's own
 * code (cgn_cksum_partial over a pseudo-header written out by hand), and what leaves is
 * checked field by field with the checksum summed the same way.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "cgn_cksum.h"
#include "steps_fixture.h"
#include "addr_text.h"

#define PORT_ADDR "2001:db8:100::254"
#define GATEWAY "2001:db8:100::1"
static const struct rte_ether_addr GW_MAC = { { 0x02, 0, 0, 0, 0x10, 0x01 } };
static const struct rte_ether_addr SENDER_MAC = { { 0x02, 0, 0, 0, 0x01, 0x01 } };
#define FAR "2001:db9::9" /* a source no IPv6 route covers: answers go back to its MAC */

/* The inside port gets an IPv6 address and routes: 2001:db8::/32 via GATEWAY,
 * 2001:db8:100::/64 (the access segment) directly connected. */
static void
setup6(void)
{
	setup();
	struct cgn_port *port = &E->dp->ports[E->dp->port_index[E->inside_port]];
	port->address6 = A(PORT_ADDR);
	port->have_address6 = true;
	static struct cgn_config c;
	char err[256];
	c = E->cfg;
	c.routes[c.n_routes++] = (struct cgn_route_cfg){ .net = { A("2001:db8::"), 32 }, .via = A(GATEWAY) };
	c.routes[c.n_routes++] = (struct cgn_route_cfg){ .net = { A("2001:db8:100::"), 64 } };
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &c, false, err, sizeof(err)), 0, "%s", err);
}

TestSuite(ipv6, .init = setup6);

/* The ICMPv6 (or UDP) checksum of the upper-layer message at off, summed here: RFC 8200 §8.1's
 * pseudo-header written out, then the message. 0 when the checksum in place is right. */
static uint16_t
upper_sum(const uint8_t *f, unsigned off, unsigned len, uint8_t nh)
{
	uint8_t pseudo[40] = { 0 };
	memcpy(pseudo, f + 14 + 8, 32);
	pseudo[34] = (uint8_t)(len >> 8);
	pseudo[35] = (uint8_t)len;
	pseudo[39] = nh;
	uint32_t s = cgn_cksum_partial(pseudo, 40, 0);
	s = cgn_cksum_partial(f + off, len, s);
	return (uint16_t)~cgn_cksum_fold(s);
}

/* Ethernet + IPv6 from src to dst, then n_ext extension headers of 8 octets (types ext[]),
 * then an upper-layer message of type nh: ICMPv6 (type, code, 4 more octets, payload) or UDP
 * (ports 40000 → 53, payload). @return the frame's length. */
static uint16_t
build6(uint8_t *f, const char *src, const char *dst, uint8_t hop, const uint8_t *ext, unsigned n_ext, uint8_t nh,
       uint8_t type, const void *payload, uint16_t plen)
{
	memset(f, 0, 14 + 40 + 8 * n_ext + 8 + plen);
	memcpy(f, E->dp->ports[E->dp->port_index[E->inside_port]].mac.addr_bytes, 6);
	memcpy(f + 6, SENDER_MAC.addr_bytes, 6);
	f[12] = 0x86, f[13] = 0xdd;
	uint8_t *ip = f + 14;
	ip[0] = 0x60;
	uint16_t upper = (uint16_t)(8 + plen), payload_len = (uint16_t)(8 * n_ext + upper);
	ip[4] = (uint8_t)(payload_len >> 8), ip[5] = (uint8_t)payload_len;
	ip[6] = n_ext ? ext[0] : nh;
	ip[7] = hop;
	cr_assert_eq(inet_pton(AF_INET6, src, ip + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, ip + 24), 1);
	unsigned off = 14 + 40;
	for (unsigned i = 0; i < n_ext; i++, off += 8) {
		f[off] = i + 1 < n_ext ? ext[i + 1] : nh; /* next header; length 0: 8 octets */
		if (ext[i] == IPPROTO_HOPOPTS || ext[i] == IPPROTO_DSTOPTS)
			f[off + 2] = 1, f[off + 3] = 4; /* a PadN option over the rest */
	}
	uint8_t *l4 = f + off;
	if (nh == IPPROTO_UDP) {
		l4[0] = 40000 >> 8, l4[1] = 40000 & 0xff, l4[3] = 53;
		l4[4] = (uint8_t)(upper >> 8), l4[5] = (uint8_t)upper;
	} else {
		l4[0] = type;
		l4[4] = 0x12, l4[5] = 0x34, l4[7] = 1; /* echo: identifier and sequence */
	}
	memcpy(l4 + 8, payload, plen);
	uint16_t c = upper_sum(f, off, upper, nh);
	memcpy(l4 + (nh == IPPROTO_UDP ? 6 : 2), &c, 2);
	return (uint16_t)(off + upper);
}

static bool
addr_at(const uint8_t *f, unsigned off, const char *want)
{
	struct cgn_addr a = A(want);
	return memcmp(f + off, a.b, 16) == 0;
}

/* A Neighbor Advertisement from src for target with its link-layer address mac (Solicited,
 * Override), to the port's address. @return its length in frame. */
static uint16_t
build_na(const char *src, const char *target, const struct rte_ether_addr *mac)
{
	uint8_t body[24] = { 0 }; /* target, then a Target Link-Layer Address option */
	struct cgn_addr t = A(target);
	memcpy(body, t.b, 16);
	body[16] = 2, body[17] = 1;
	memcpy(body + 18, mac->addr_bytes, 6);
	uint16_t len = build6(frame, src, PORT_ADDR, 255, NULL, 0, IPPROTO_ICMPV6, 136, body, 24);
	static const uint8_t flags[4] = { 0x40 | 0x20 };
	memcpy(frame + 54 + 4, flags, 4); /* build6 wrote an echo's identifier there */
	memset(frame + 54 + 2, 0, 2);
	uint16_t c = upper_sum(frame, 54, 32, IPPROTO_ICMPV6);
	memcpy(frame + 54 + 2, &c, 2);
	return len;
}

/* The gateway's MAC, taught by its NA (RFC 4861 §7.2.5). */
static void
gateway_answers(void)
{
	uint64_t learned = E->w->pkt.nd_learned;
	cr_assert_null(run(E->inside_port, build_na(GATEWAY, GATEWAY, &GW_MAC), NULL, NULL), "an NA is not answered");
	cr_assert_eq(E->w->pkt.nd_learned, learned + 1, "the gateway's MAC learned");
}

Test(ipv6, a_neighbor_solicitation_for_the_port_address_is_answered)
{
	/* RFC 4861 §7.2.3/§7.2.4: from a node of the segment, to the address's solicited-node
	 * group, with its source link-layer address. */
	uint8_t ns[32] = { 0 };
	struct cgn_addr target = A(PORT_ADDR);
	memcpy(ns, target.b, 16);
	ns[16] = 1, ns[17] = 1; /* Source Link-Layer Address, 8 octets */
	memcpy(ns + 18, SENDER_MAC.addr_bytes, 6);
	uint16_t len = build6(frame, "2001:db8:100::9", "ff02::1:ff00:254", 255, NULL, 0, IPPROTO_ICMPV6, 135, ns, 24);
	frame[0] = 0x33, frame[1] = 0x33, frame[2] = 0xff, frame[3] = 0, frame[4] = 0x02, frame[5] = 0x54;
	uint64_t answered = E->w->pkt.nd_answered;
	uint16_t op, ol;
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(E->w->pkt.nd_answered, answered + 1);
	cr_assert_eq(op, E->inside_port);
	cr_assert_eq(ol, 14 + 40 + 32, "an NA with one option");
	cr_assert_arr_eq(o, SENDER_MAC.addr_bytes, 6, "to the solicitor's link-layer address");
	cr_assert_eq(o[14 + 7], 255, "hop limit 255");
	cr_assert(addr_at(o, 14 + 8, PORT_ADDR) && addr_at(o, 14 + 24, "2001:db8:100::9"));
	const uint8_t *na = o + 54;
	cr_assert_eq(na[0], 136);
	cr_assert_eq(na[4], 0x80 | 0x40 | 0x20, "Router, Solicited, Override");
	cr_assert(addr_at(o, 54 + 8, PORT_ADDR), "its target");
	cr_assert_eq(na[24], 2, "Target Link-Layer Address option");
	cr_assert_arr_eq(na + 26, E->dp->ports[E->dp->port_index[E->inside_port]].mac.addr_bytes, 6);
	cr_assert_eq(upper_sum(o, 54, 32, IPPROTO_ICMPV6), 0, "ICMPv6 checksum");

	/* One for another node's address, to that node's group: not a group of the port's. */
	struct cgn_addr other = A("2001:db8:100::77");
	memcpy(ns, other.b, 16);
	len = build6(frame, "2001:db8:100::9", "ff02::1:ff00:77", 255, NULL, 0, IPPROTO_ICMPV6, 135, ns, 24);
	uint64_t before = drops(CGN_DROP_IP6_MULTICAST);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_MULTICAST), before + 1);
	/* ... and to all nodes: seen, not ours to answer (§7.2.3). */
	len = build6(frame, "2001:db8:100::9", "ff02::1", 255, NULL, 0, IPPROTO_ICMPV6, 135, ns, 24);
	before = drops(CGN_DROP_ND_NOT_OURS);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_ND_NOT_OURS), before + 1);

	/* Hop limit 254: it may have been forwarded, refused (§7.1.1) and counted by why. */
	memcpy(ns, target.b, 16);
	len = build6(frame, "2001:db8:100::9", "ff02::1:ff00:254", 254, NULL, 0, IPPROTO_ICMPV6, 135, ns, 24);
	before = drops(CGN_DROP_ND_INVALID);
	uint64_t hop = E->w->pkt.nd_refused[CGN_ND_REFUSE_HOP_LIMIT];
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_ND_INVALID), before + 1);
	cr_assert_eq(E->w->pkt.nd_refused[CGN_ND_REFUSE_HOP_LIMIT], hop + 1);
}

/* An NA for the gateway teaches its MAC (§7.2.5); then an echo request from behind it is
 * answered (RFC 4443 §4.2) and the reply routed to it by 2001:db8::/32 (send.c). */
Test(ipv6, the_gateway_learned_by_nd_takes_the_echo_reply)
{
	gateway_answers();
	uint64_t learned = E->w->pkt.nd_learned;
	uint16_t len = build6(frame, "2001:db8:6::2", PORT_ADDR, 60, NULL, 0, IPPROTO_ICMPV6, 128, "ping6", 5);
	uint64_t echo = E->w->pkt.echo6_replies;
	uint16_t op, ol;
	uint8_t *o = run(E->inside_port, len, &op, &ol);
	cr_assert_not_null(o, "echo answered");
	cr_assert_eq(E->w->pkt.echo6_replies, echo + 1);
	cr_assert_arr_eq(o, GW_MAC.addr_bytes, 6, "routed to the gateway by 2001:db8::/32");
	cr_assert(addr_at(o, 14 + 8, PORT_ADDR) && addr_at(o, 14 + 24, "2001:db8:6::2"));
	cr_assert_eq(o[54], 129, "an echo reply");
	cr_assert_eq(memcmp(o + 62, "ping6", 5), 0, "its data");
	cr_assert_eq(upper_sum(o, 54, 13, IPPROTO_ICMPV6), 0);

	/* An NA from an address that is no neighbour of ours teaches nothing. */
	len = build_na("2001:db8:100::99", "2001:db8:100::99", &SENDER_MAC);
	uint64_t before = drops(CGN_DROP_ND_NOT_OURS);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_ND_NOT_OURS), before + 1);
	cr_assert_eq(E->w->pkt.nd_learned, learned);
}

Test(ipv6, an_echo_request_behind_extension_headers_is_answered_without_them)
{
	const uint8_t ext[] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS };
	uint16_t len = build6(frame, FAR, PORT_ADDR, 64, ext, 2, IPPROTO_ICMPV6, 128, "abc", 3);
	uint16_t ol;
	uint8_t *o = run(E->inside_port, len, NULL, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(ol, 14 + 40 + 11, "the reply carries no extension header");
	cr_assert_eq(o[14 + 6], IPPROTO_ICMPV6);
	cr_assert_eq(o[14 + 4] << 8 | o[14 + 5], 11, "its payload length");
	cr_assert_eq(o[54], 129);
	cr_assert_eq(upper_sum(o, 54, 11, IPPROTO_ICMPV6), 0);
}

/* RFC 8200 §4 and classify6.c's bounds: every refusal has its own reason. */
Test(ipv6, extension_header_chains_are_walked_with_bounds)
{
	uint8_t ext[12];
	memset(ext, IPPROTO_DSTOPTS, sizeof(ext));
	uint16_t len = build6(frame, "2001:db8:100::9", PORT_ADDR, 64, ext, CGN_IP6_MAX_EXT + 1, IPPROTO_ICMPV6, 128,
			      "x", 1);
	uint64_t before = drops(CGN_DROP_IP6_EXT_CHAIN);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_EXT_CHAIN), before + 1, "more than CGN_IP6_MAX_EXT");

	len = build6(frame, FAR, PORT_ADDR, 64, ext, CGN_IP6_MAX_EXT, IPPROTO_ICMPV6, 128, "x", 1);
	cr_assert_not_null(run(E->inside_port, len, NULL, NULL), "CGN_IP6_MAX_EXT is still walked");

	len = build6(frame, "2001:db8:100::9", PORT_ADDR, 64, ext, 2, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14 + 40 + 8 + 1] = 3; /* the second says 32 octets: past the packet */
	before = drops(CGN_DROP_IP6_EXT_TRUNCATED);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_EXT_TRUNCATED), before + 1);

	const uint8_t hbh_second[] = { IPPROTO_DSTOPTS, IPPROTO_HOPOPTS };
	len = build6(frame, "2001:db8:100::9", PORT_ADDR, 64, hbh_second, 2, IPPROTO_ICMPV6, 128, "x", 1);
	before = drops(CGN_DROP_IP6_EXT_ORDER);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_EXT_ORDER), before + 1, "RFC 8200 §4.1: hop-by-hop first only");

	const uint8_t routing[] = { IPPROTO_ROUTING };
	len = build6(frame, FAR, PORT_ADDR, 64, routing, 1, IPPROTO_ICMPV6, 128, "x", 1);
	cr_assert_not_null(run(E->inside_port, len, NULL, NULL), "a Routing header with no segment left");
	len = build6(frame, FAR, PORT_ADDR, 64, routing, 1, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14 + 40 + 3] = 1; /* Segments Left */
	before = drops(CGN_DROP_IP6_ROUTING);
	uint16_t ol;
	uint8_t *o = run(E->inside_port, len, NULL, &ol);
	cr_assert_eq(drops(CGN_DROP_IP6_ROUTING), before + 1, "RFC 8200 §4.4: not a hop of a source route");
	cr_assert_not_null(o, "answered");
	cr_assert(o[54] == 4 && o[55] == 0, "Parameter Problem, erroneous header field");
	cr_assert_eq(o[58] << 24 | o[59] << 16 | o[60] << 8 | o[61], 42, "pointing at the routing type");
	cr_assert_eq(upper_sum(o, 54, (unsigned)(ol - 54), IPPROTO_ICMPV6), 0);

	/* RFC 8200 §4.2: an option it does not know, by the two high bits of its type. */
	const uint8_t dst[] = { IPPROTO_DSTOPTS };
	len = build6(frame, FAR, PORT_ADDR, 64, dst, 1, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14 + 40 + 2] = 0x1e; /* 00: skip it */
	cr_assert_not_null(run(E->inside_port, len, NULL, NULL), "skipped, answered");
	len = build6(frame, FAR, PORT_ADDR, 64, dst, 1, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14 + 40 + 2] = 0x5e; /* 01: discard */
	before = drops(CGN_DROP_IP6_OPTION);
	uint64_t sent = E->w->pkt.icmp_sent;
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_OPTION), before + 1);
	cr_assert_eq(E->w->pkt.icmp_sent, sent, "silently");
	len = build6(frame, FAR, PORT_ADDR, 64, dst, 1, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14 + 40 + 2] = 0x9e; /* 10: discard, Parameter Problem code 2 */
	o = run(E->inside_port, len, NULL, NULL);
	cr_assert_not_null(o);
	cr_assert(o[54] == 4 && o[55] == 2, "unrecognized IPv6 option");
	cr_assert_eq(o[58] << 24 | o[59] << 16 | o[60] << 8 | o[61], 42, "pointing at the option");
	cr_assert_eq(drops(CGN_DROP_IP6_OPTION), before + 2);
	len = build6(frame, "2001:db8:100::9", "ff02::1", 64, dst, 1, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14 + 40 + 2] = 0xde; /* 11: discard, and no answer to a multicast destination */
	sent = E->w->pkt.icmp_sent;
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(E->w->pkt.icmp_sent, sent);
	cr_assert_eq(drops(CGN_DROP_IP6_OPTION), before + 3);

	const uint8_t ah[] = { IPPROTO_AH };
	len = build6(frame, "2001:db8:100::9", PORT_ADDR, 64, ah, 1, IPPROTO_ICMPV6, 128, "x", 1);
	before = drops(CGN_DROP_IP6_EXT_UNSUPPORTED);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_EXT_UNSUPPORTED), before + 1);

	len = build6(frame, "2001:db8:100::9", PORT_ADDR, 64, NULL, 0, IPPROTO_ICMPV6, 128, "x", 1);
	frame[14] = 0x50; /* version 5 */
	before = drops(CGN_DROP_BAD_IP6_HEADER);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_BAD_IP6_HEADER), before + 1);

	len = build6(frame, "2001:db8:100::9", PORT_ADDR, 64, NULL, 0, IPPROTO_ICMPV6, 128, "x", 1);
	before = drops(CGN_DROP_TRUNCATED);
	cr_assert_null(run(E->inside_port, (uint16_t)(len - 1), NULL, NULL), "payload length past the frame");
	cr_assert_eq(drops(CGN_DROP_TRUNCATED), before + 1);
}

/* RFC 4443 §3.1: no route for what is not the CGN's (no NAT64 yet), port unreachable for UDP
 * to its address; an error quotes the packet, from the §2.2 source, with a right checksum. */
Test(ipv6, errors_the_cgn_sends)
{
	gateway_answers(); /* the errors to 2001:db8:6::2 are routed to it */
	uint16_t len = build6(frame, "2001:db8:6::2", "64:ff9b::c633:640a", 64, NULL, 0, IPPROTO_UDP, 0, "q", 1);
	uint64_t before = drops(CGN_DROP_NO_NAT64), sent = E->w->pkt.icmp_sent;
	uint16_t ol;
	uint8_t quoted[128];
	memcpy(quoted, frame + 14, (size_t)(len - 14));
	uint8_t *o = run(E->inside_port, len, NULL, &ol);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(drops(CGN_DROP_NO_NAT64), before + 1);
	cr_assert_eq(E->w->pkt.icmp_sent, sent + 1);
	cr_assert(addr_at(o, 14 + 8, PORT_ADDR), "from the port's address (§2.2)");
	cr_assert(addr_at(o, 14 + 24, "2001:db8:6::2"));
	cr_assert_arr_eq(o, GW_MAC.addr_bytes, 6, "routed to the gateway");
	cr_assert_eq(o[54], 1, "destination unreachable");
	cr_assert_eq(o[55], 0, "no route to destination");
	cr_assert_eq(ol, 14 + 40 + 8 + (len - 14), "the whole packet quoted");
	cr_assert_eq(memcmp(o + 62, quoted, (size_t)(len - 14)), 0);
	cr_assert_eq(upper_sum(o, 54, (unsigned)(ol - 54), IPPROTO_ICMPV6), 0);

	len = build6(frame, FAR, PORT_ADDR, 64, NULL, 0, IPPROTO_UDP, 0, "q", 1);
	o = run(E->inside_port, len, NULL, &ol);
	cr_assert_not_null(o);
	cr_assert_eq(o[54], 1);
	cr_assert_eq(o[55], 4, "port unreachable");
	cr_assert_arr_eq(o, SENDER_MAC.addr_bytes, 6, "no route to it: back to its sender");

	/* Never an error about an ICMPv6 error (§2.4(e.1)). */
	len = build6(frame, "2001:db8:100::9", "64:ff9b::1", 64, NULL, 0, IPPROTO_ICMPV6, 1, "q", 1);
	before = drops(CGN_DROP_NO_NAT64);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_NO_NAT64), before + 1, "counted all the same");

	/* Multicast to a group the port is not in (an MLD report to ff02::16): not ours. */
	len = build6(frame, "fe80::9", "ff02::16", 1, NULL, 0, IPPROTO_ICMPV6, 143, "mldv2", 5);
	before = drops(CGN_DROP_IP6_MULTICAST);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_MULTICAST), before + 1);
}

/* ND on the outside port works the same: it has a link-local address (from its MAC) even
 * without address6, and answers solicitations for it. */
Test(ipv6, the_outside_port_answers_for_its_link_local_address)
{
	const struct cgn_port *out = &E->dp->ports[E->dp->port_index[E->outside_port]];
	cr_assert(out->link_local.b[0] == 0xfe && out->link_local.b[1] == 0x80, "a link-local address");
	char ll[64];
	cr_assert_not_null(inet_ntop(AF_INET6, out->link_local.b, ll, sizeof(ll)));
	uint8_t ns[24] = { 0 };
	memcpy(ns, out->link_local.b, 16);
	ns[16] = 1, ns[17] = 1;
	memcpy(ns + 18, SENDER_MAC.addr_bytes, 6);
	uint16_t len = build6(frame, "fe80::9", ll, 255, NULL, 0, IPPROTO_ICMPV6, 135, ns, 24);
	memcpy(frame, out->mac.addr_bytes, 6);
	uint16_t op;
	uint8_t *o = run(E->outside_port, len, &op, NULL);
	cr_assert_not_null(o, "answered");
	cr_assert_eq(op, E->outside_port);
	cr_assert_eq(o[54], 136);
	cr_assert(addr_at(o, 14 + 8, ll), "from the address asked for");
	cr_assert_arr_eq(o + 54 + 26, out->mac.addr_bytes, 6, "its own MAC in the option");
	cr_assert_eq(upper_sum(o, 54, 32, IPPROTO_ICMPV6), 0);
}

/* RFC 4861 §7.2.5: a solicited NA without the option (the answer to a unicast probe, §7.2.4)
 * confirms a cached MAC; an NA with Override clear does not replace it. */
Test(ipv6, nd_confirms_and_keeps_what_the_override_flag_says)
{
	gateway_answers();
	struct cgn_routes *rt = &E->dp->routes;
	struct cgn_addr gw = A(GATEWAY);
	int32_t slot = cgn_neigh_find(rt, &gw, 0);
	cr_assert_geq(slot, 0);
	uint64_t seen = rt->neigh[slot].seen_ms, mac = rt->neigh[slot].mac;

	E->w->now_ms += 5000;
	uint8_t body[16];
	memcpy(body, gw.b, 16);
	uint16_t len = build6(frame, GATEWAY, PORT_ADDR, 255, NULL, 0, IPPROTO_ICMPV6, 136, body, 16);
	static const uint8_t solicited[4] = { 0x40 }; /* S, no O, no option */
	memcpy(frame + 54 + 4, solicited, 4);
	memset(frame + 54 + 2, 0, 2);
	uint16_t c = upper_sum(frame, 54, 24, IPPROTO_ICMPV6);
	memcpy(frame + 54 + 2, &c, 2);
	uint64_t learned = E->w->pkt.nd_learned;
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(E->w->pkt.nd_learned, learned + 1, "confirmed");
	cr_assert_eq(rt->neigh[slot].seen_ms, E->w->now_ms, "reachable again");
	cr_assert_neq(rt->neigh[slot].seen_ms, seen);
	cr_assert_eq(rt->neigh[slot].mac, mac, "its MAC kept");

	/* Another MAC with Override clear: not taken. */
	len = build_na(GATEWAY, GATEWAY, &SENDER_MAC);
	memset(frame + 54 + 4, 0, 1); /* flags: none */
	memset(frame + 54 + 2, 0, 2);
	c = upper_sum(frame, 54, 32, IPPROTO_ICMPV6);
	memcpy(frame + 54 + 2, &c, 2);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(rt->neigh[slot].mac, mac, "Override clear: the cached MAC stays");
}

/* Addresses and frames that are not ours to answer. */
Test(ipv6, mapped_addresses_and_other_hosts_frames_are_refused)
{
	uint16_t len = build6(frame, "::ffff:100.64.0.8", PORT_ADDR, 64, NULL, 0, IPPROTO_ICMPV6, 128, "x", 1);
	uint64_t before = drops(CGN_DROP_IP6_MAPPED);
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_MAPPED), before + 1, "RFC 4291 §2.5.5.2: never on a wire");

	len = build6(frame, FAR, "64:ff9b::1", 64, NULL, 0, IPPROTO_UDP, 0, "x", 1);
	frame[5] ^= 1; /* another host's MAC */
	before = drops(CGN_DROP_IP6_OTHER_HOST);
	uint64_t sent = E->w->pkt.icmp_sent;
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(drops(CGN_DROP_IP6_OTHER_HOST), before + 1);
	cr_assert_eq(E->w->pkt.icmp_sent, sent, "no error about another host's traffic");
}

/* A reply to a link-local address stays on its link, even with a default route (RFC 4291
 * §2.5.6). */
Test(ipv6, a_reply_to_a_link_local_address_is_not_routed)
{
	static struct cgn_config c;
	char err[256];
	c = E->cfg;
	c.routes[c.n_routes++] = (struct cgn_route_cfg){ .net = { A("::"), 0 }, .via = A(GATEWAY) };
	cr_assert_eq(cgn_dataplane_reroute(E->dp, &c, false, err, sizeof(err)), 0, "%s", err);
	gateway_answers();
	uint16_t len = build6(frame, "fe80::9", PORT_ADDR, 64, NULL, 0, IPPROTO_ICMPV6, 128, "x", 1);
	uint8_t *o = run(E->inside_port, len, NULL, NULL);
	cr_assert_not_null(o);
	cr_assert_arr_eq(o, SENDER_MAC.addr_bytes, 6, "back to its sender, not to the default gateway");
	len = build6(frame, FAR, PORT_ADDR, 64, NULL, 0, IPPROTO_ICMPV6, 128, "x", 1);
	o = run(E->inside_port, len, NULL, NULL);
	cr_assert_not_null(o);
	cr_assert_arr_eq(o, GW_MAC.addr_bytes, 6, "a global address goes by ::/0");
}

/* ---- PCP over IPv6: punted by local6.c, answered by punt.c (RFC 6887 §8.3) ---------------- */

/* What the PCP handler of cgn_punt_serve() was given; it answers with the request reversed. */
static struct {
	unsigned calls;
	struct cgn_addr src;
	uint16_t port;
	size_t len;
	bool outside;
} seen;

static size_t
reverse_handler(void *ctx, const uint8_t *msg, size_t len, const struct cgn_addr *src, uint16_t src_port,
		bool outside, uint8_t *resp)
{
	(void)ctx;
	seen.calls++;
	seen.src = *src;
	seen.port = src_port;
	seen.len = len;
	seen.outside = outside;
	for (size_t i = 0; i < len; i++)
		resp[i] = msg[len - 1 - i];
	return len;
}

/* build6()'s UDP datagram, to port 5351 instead of 53, its checksum summed again. */
static uint16_t
build_pcp6(const char *src, const char *dst, const uint8_t *ext, unsigned n_ext, const void *msg, uint16_t len)
{
	uint16_t flen = build6(frame, src, dst, 64, ext, n_ext, IPPROTO_UDP, 0, msg, len);
	unsigned off = 14 + 40 + 8 * n_ext;
	frame[off + 2] = 5351 >> 8, frame[off + 3] = 5351 & 0xff;
	memset(frame + off + 6, 0, 2);
	uint16_t c = upper_sum(frame, off, (unsigned)(8 + len), IPPROTO_UDP);
	memcpy(frame + off + 6, &c, 2);
	return flen;
}

/* Takes the next frame the control thread queued for worker 0, copied to out.
 * @return false if there was none. */
static bool
sent_by_control(uint8_t *out, uint16_t *len)
{
	struct rte_mbuf *m;
	if (rte_ring_dequeue(E->dp->punt_tx, (void **)&m) != 0)
		return false;
	*len = rte_pktmbuf_data_len(m);
	cr_assert_leq(*len, 2048);
	memcpy(out, rte_pktmbuf_mtod(m, uint8_t *), *len);
	rte_pktmbuf_free(m);
	return true;
}

/* An answer (or an unsolicited message) the CGN sent over IPv6/UDP: from src to dst, with the
 * given MACs, hop limit, ports and payload, no extension header, and a UDP checksum that sums
 * right and is not 0 (RFC 8200 §8.1). */
static void
check_udp6(const uint8_t *o, uint16_t ol, const uint8_t *dst_mac, const uint8_t *src_addr, const uint8_t *dst_addr,
	   uint8_t hop, uint16_t dport, const uint8_t *payload, uint16_t plen)
{
	const struct cgn_port *in = &E->dp->ports[E->dp->port_index[E->inside_port]];
	cr_assert_eq(ol, 14 + 40 + 8 + plen);
	cr_assert_arr_eq(o, dst_mac, 6, "the Ethernet destination");
	cr_assert_arr_eq(o + 6, in->mac.addr_bytes, 6, "from the port's MAC");
	cr_assert(o[12] == 0x86 && o[13] == 0xdd && o[14] >> 4 == 6);
	cr_assert_eq(o[18] << 8 | o[19], 8 + plen, "payload length");
	cr_assert_eq(o[20], IPPROTO_UDP, "no extension header");
	cr_assert_eq(o[21], hop, "hop limit");
	cr_assert_arr_eq(o + 22, src_addr, 16, "source");
	cr_assert_arr_eq(o + 38, dst_addr, 16, "destination");
	cr_assert_eq(o[54] << 8 | o[55], 5351, "from the PCP port");
	cr_assert_eq(o[56] << 8 | o[57], dport);
	cr_assert_eq(o[58] << 8 | o[59], 8 + plen, "UDP length");
	cr_assert(o[60] | o[61], "a UDP checksum is mandatory over IPv6");
	cr_assert_eq(upper_sum(o, 54, (unsigned)(8 + plen), IPPROTO_UDP), 0, "the UDP checksum");
	cr_assert_arr_eq(o + 62, payload, plen);
}

Test(ipv6, pcp_to_the_port_addresses_is_punted_and_answered_from_them)
{
	static const uint8_t req[24] = { 2, 0, 0, 0, [19] = 0x42, [23] = 9 };
	uint8_t rev[24], o[2048];
	uint16_t ol;
	for (int i = 0; i < 24; i++)
		rev[i] = req[23 - i];
	const struct cgn_port *in = &E->dp->ports[E->dp->port_index[E->inside_port]];
	struct cgn_addr sender = A("2001:db8:100::9"), port_addr = A(PORT_ADDR);

	/* To the global address: punted (the worker sends nothing), answered by the control
	 * thread from that address to the requester's address, port and MAC. */
	uint64_t punted = E->w->pkt.punted, answered = E->dp->punt_stats.answered;
	uint16_t len = build_pcp6("2001:db8:100::9", PORT_ADDR, NULL, 0, req, sizeof(req));
	cr_assert_null(run(E->inside_port, len, NULL, NULL), "not answered by the worker");
	cr_assert_eq(E->w->pkt.punted, punted + 1);
	memset(&seen, 0, sizeof(seen));
	cr_assert_eq(cgn_punt_serve(E->dp, reverse_handler, NULL), 1);
	cr_assert_eq(seen.calls, 1);
	cr_assert(cgn_addr_eq(&seen.src, &sender), "the server sees the packet's IPv6 source");
	cr_assert_eq(seen.port, 40000);
	cr_assert_eq(seen.len, sizeof(req));
	cr_assert_not(seen.outside);
	cr_assert(sent_by_control(o, &ol));
	check_udp6(o, ol, SENDER_MAC.addr_bytes, port_addr.b, sender.b, 64, 40000, rev, sizeof(rev));
	cr_assert_eq(E->dp->punt_stats.answered, answered + 1);

	/* To the link-local address from a link-local one, behind Hop-by-Hop and Destination
	 * Options: the answer comes from the link-local address, without them. */
	char ll[64];
	cr_assert_not_null(inet_ntop(AF_INET6, in->link_local.b, ll, sizeof(ll)));
	static const uint8_t ext[2] = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS };
	struct cgn_addr fe9 = A("fe80::9");
	len = build_pcp6("fe80::9", ll, ext, 2, req, sizeof(req));
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(cgn_punt_serve(E->dp, reverse_handler, NULL), 1);
	cr_assert(cgn_addr_eq(&seen.src, &fe9));
	cr_assert_eq(seen.len, sizeof(req), "the payload, not the extension headers");
	cr_assert(sent_by_control(o, &ol));
	check_udp6(o, ol, SENDER_MAC.addr_bytes, in->link_local.b, fe9.b, 64, 40000, rev, sizeof(rev));
	cr_assert_not(sent_by_control(o, &ol), "one answer each");
}

Test(ipv6, pcp_datagrams_the_server_must_not_see)
{
	static const uint8_t req[24] = { 2, 0 };
	uint8_t o[2048];
	uint16_t ol;
	memset(&seen, 0, sizeof(seen));

	/* A wrong UDP checksum, and a zero one (RFC 8200 §8.1: not allowed over IPv6): punted by
	 * the worker (which reads no payload), refused by the control thread, counted. */
	uint64_t malformed = E->dp->punt_stats.malformed;
	uint16_t len = build_pcp6("2001:db8:100::9", PORT_ADDR, NULL, 0, req, sizeof(req));
	frame[14 + 40 + 6] ^= 0x55;
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	/* The zero one on a datagram whose sum is all ones (the word at the payload's end makes
	 * it so): a zero checksum field then sums right, and only the rule refuses it. */
	len = build_pcp6("2001:db8:100::9", PORT_ADDR, NULL, 0, req, sizeof(req));
	memset(frame + 14 + 40 + 6, 0, 2);
	uint16_t fill = upper_sum(frame, 54, 8 + sizeof(req), IPPROTO_UDP);
	memcpy(frame + 54 + 8 + 22, &fill, 2);
	cr_assert_eq(upper_sum(frame, 54, 8 + sizeof(req), IPPROTO_UDP), 0, "sums right with a zero field");
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(cgn_punt_serve(E->dp, reverse_handler, NULL), 2);
	cr_assert_eq(E->dp->punt_stats.malformed, malformed + 2);
	cr_assert_eq(seen.calls, 0, "never handed to the server");
	cr_assert_not(sent_by_control(o, &ol));

	/* To the all-nodes group: not punted (PCP requests are unicast), dropped (LOCAL). */
	uint64_t punted = E->w->pkt.punted, local = drops(CGN_DROP_LOCAL);
	len = build_pcp6("fe80::9", "ff02::1", NULL, 0, req, sizeof(req));
	cr_assert_null(run(E->inside_port, len, NULL, NULL));
	cr_assert_eq(E->w->pkt.punted, punted);
	cr_assert_eq(drops(CGN_DROP_LOCAL), local + 1);

	/* To the outside port's link-local address: RFC 6887 §8.2 has the server ignore the
	 * outside (no pcp_management here): not punted; port unreachable as for any UDP. */
	const struct cgn_port *out = &E->dp->ports[E->dp->port_index[E->outside_port]];
	char ll[64];
	cr_assert_not_null(inet_ntop(AF_INET6, out->link_local.b, ll, sizeof(ll)));
	len = build_pcp6("fe80::9", ll, NULL, 0, req, sizeof(req));
	memcpy(frame, out->mac.addr_bytes, 6);
	uint8_t *a = run(E->outside_port, len, NULL, &ol);
	cr_assert_eq(E->w->pkt.punted, punted, "not punted from the outside");
	cr_assert_not_null(a, "answered by the worker");
	cr_assert(a[54] == 1 && a[55] == 4, "port unreachable");
	cr_assert_eq(cgn_punt_serve(E->dp, reverse_handler, NULL), 0);
}

/* The state store's group commit on the punt path: the burst's requests are all handled,
 * then before_send runs once, and only then do their answers leave (none is queued for
 * worker 0 when it runs). */
static unsigned before_send_calls, queued_at_before_send;

static void
count_before_send(void *ctx)
{
	(void)ctx;
	before_send_calls++;
	queued_at_before_send = rte_ring_count(E->dp->punt_tx);
}

Test(ipv6, punted_answers_leave_after_the_bursts_commit)
{
	static const uint8_t req[24] = { 2, 0, 0, 0, [19] = 0x42, [23] = 9 };
	uint8_t o[2048];
	uint16_t ol;
	for (int i = 0; i < 3; i++) {
		uint16_t len = build_pcp6("2001:db8:100::9", PORT_ADDR, NULL, 0, req, sizeof(req));
		cr_assert_null(run(E->inside_port, len, NULL, NULL));
	}
	memset(&seen, 0, sizeof(seen));
	before_send_calls = 0;
	queued_at_before_send = 99;
	cr_assert_eq(cgn_punt_serve_burst(E->dp, reverse_handler, count_before_send, NULL), 3);
	cr_assert_eq(seen.calls, 3, "every request of the burst handled");
	cr_assert_eq(before_send_calls, 1, "one commit a burst");
	cr_assert_eq(queued_at_before_send, 0, "no answer left before the commit");
	for (int i = 0; i < 3; i++)
		cr_assert(sent_by_control(o, &ol), "answer %d after it", i);
	cr_assert_not(sent_by_control(o, &ol));
	/* nothing to answer: nothing to commit before */
	cr_assert_eq(cgn_punt_serve_burst(E->dp, reverse_handler, count_before_send, NULL), 0);
	cr_assert_eq(before_send_calls, 1);
}

Test(ipv6, unsolicited_pcp_to_ff02_1_and_to_an_ipv6_client)
{
	static const uint8_t announce[24] = { 2, 0x80 };
	uint8_t o[2048];
	uint16_t ol;
	const struct cgn_port *in = &E->dp->ports[E->dp->port_index[E->inside_port]];
	struct cgn_addr all = A("ff02::1"), port_addr = A(PORT_ADDR), host = A("2001:db8:6::2"), fe9 = A("fe80::9");

	/* RFC 6887 §14.1.3 [ff02::1]:5350: out of the inside port (the only one with an
	 * address6), from its link-local address, to 33:33:00:00:00:01, hop limit 255. */
	cr_assert_eq(cgn_punt_multicast6(E->dp, &all, 5350, announce, sizeof(announce)), 1);
	cr_assert(sent_by_control(o, &ol));
	static const uint8_t all_nodes_mac[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	check_udp6(o, ol, all_nodes_mac, in->link_local.b, all.b, 255, 5350, announce, sizeof(announce));
	cr_assert_not(sent_by_control(o, &ol), "not out of the outside port");

	/* A unicast client behind the gateway: asked for first (no MAC yet), then by its MAC,
	 * from the port's global address. */
	cr_assert_eq(cgn_punt_unicast6(E->dp, &host, 5350, announce, sizeof(announce)), -EHOSTUNREACH);
	gateway_answers();
	while (sent_by_control(o, &ol)) /* the Neighbor Solicitations the resolution sent */
		;
	cr_assert_eq(cgn_punt_unicast6(E->dp, &host, 5350, announce, sizeof(announce)), 0);
	cr_assert(sent_by_control(o, &ol));
	check_udp6(o, ol, GW_MAC.addr_bytes, port_addr.b, host.b, 64, 5350, announce, sizeof(announce));

	/* A link-local client: no route names it; the inside port's peer_mac, from the
	 * link-local address. */
	cr_assert(in->have_peer_mac);
	cr_assert_eq(cgn_punt_unicast6(E->dp, &fe9, 5350, announce, sizeof(announce)), 0);
	cr_assert(sent_by_control(o, &ol));
	check_udp6(o, ol, in->peer_mac.addr_bytes, in->link_local.b, fe9.b, 64, 5350, announce, sizeof(announce));
}
