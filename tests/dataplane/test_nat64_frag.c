/*
 * Stateful NAT64 and fragments, through the burst driver on real mbufs (steps_fixture.h):
 * IPv6 fragments from the inside leave as IPv4 fragments (RFC 7915 §5.1.1) and IPv4
 * fragments to an IPv6 subscriber leave as IPv6 ones with a Fragment header (§4.1), in order
 * and out of order, later fragments taking their first one's translation (RFC 6146 §3.4,
 * dataplane/steps/fragment.h); a refused first fragment takes the rest with it. IPv4 without
 * DF longer than lowest-ipv6-mtu leaves in IPv6 fragments (§4.1, mtu.c), and IPv6 whose IPv4
 * form is longer than the outside MTU in IPv4 fragments (§5.1.1's last paragraph). Every
 * datagram is put back together here from what left, and its transport checksum summed from
 * scratch over the whole of it.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "addr_text.h"
#include "cgn_cksum.h"
#include "steps_fixture.h"

#define SUB "2001:db8:6::2"
#define REMOTE "198.51.100.10"
#define REMOTE6 "64:ff9b::c633:640a"

/* NAT64 on (steps_fixture.h nat64_on()). */
static void
setup64(void)
{
	setup();
	nat64_on();
}

TestSuite(nat64_frag, .init = setup64);

/* ---- frames ---- */

#define BIG 4096 /* frames up to this long: a 3000-octet datagram and its Ethernet header */

/* What the data plane sent: a copy of each frame, its port and length. */
struct out {
	uint8_t d[BIG];
	uint16_t len, port;
};
static struct out outs[16];

static struct rte_mempool *big_pool; /* mbufs a BIG frame fits in (the environment's take 2048) */

/* Runs the frames (each its own mbuf) through the driver as one burst from in_port; copies
 * what every port would send into outs[]. @return how many frames were sent. */
static unsigned
burst(uint16_t in_port, uint8_t *const frames[], const uint16_t lens[], unsigned n)
{
	struct rte_mbuf *ms[8];
	cr_assert_leq(n, 8);
	if (big_pool == NULL)
		big_pool = rte_pktmbuf_pool_create("test_frag_big", 63, 0, 0, RTE_PKTMBUF_HEADROOM + BIG, SOCKET_ID_ANY);
	cr_assert_not_null(big_pool);
	for (unsigned i = 0; i < n; i++) {
		ms[i] = rte_pktmbuf_alloc(big_pool);
		cr_assert_not_null(ms[i]);
		uint8_t *d = (uint8_t *)rte_pktmbuf_append(ms[i], lens[i]);
		cr_assert_not_null(d);
		memcpy(d, frames[i], lens[i]);
	}
	for (unsigned i = 0; i < E->dp->n_ports; i++)
		rte_eth_tx_buffer_flush(E->dp->ports[i].port_id, 0, E->w->tx[E->dp->ports[i].port_id]);
	dp_env_burst(in_port, ms, (uint16_t)n);
	unsigned k = 0;
	for (unsigned i = 0; i < E->dp->n_ports; i++) {
		uint16_t pid = E->dp->ports[i].port_id;
		struct rte_eth_dev_tx_buffer *b = E->w->tx[pid];
		for (unsigned j = 0; j < b->length && k < 16; j++, k++) {
			struct rte_mbuf *o = b->pkts[j];
			cr_assert_leq(rte_pktmbuf_pkt_len(o), BIG);
			outs[k].len = (uint16_t)rte_pktmbuf_pkt_len(o);
			outs[k].port = pid;
			const void *d = rte_pktmbuf_read(o, 0, outs[k].len, outs[k].d);
			if (d != outs[k].d)
				memcpy(outs[k].d, d, outs[k].len);
		}
		rte_eth_tx_buffer_flush(pid, 0, b);
	}
	return k;
}

static unsigned
one(uint16_t in_port, uint8_t *f, uint16_t len)
{
	return burst(in_port, (uint8_t *const[]){ f }, (uint16_t[]){ len }, 1);
}

static void
eth(uint8_t *f, uint16_t port, uint16_t type)
{
	memcpy(f, E->dp->ports[E->dp->port_index[port]].mac.addr_bytes, 6);
	f[6] = 2, f[11] = 9;
	f[12] = (uint8_t)(type >> 8), f[13] = (uint8_t)type;
}

/* A UDP datagram (header and plen octets of payload) with its checksum over the IPv6
 * pseudo-header from src to dst, into u. @return its length. */
static uint16_t
udp6(uint8_t *u, const char *src, const char *dst, uint16_t sport, uint16_t dport, uint16_t plen)
{
	uint16_t len = (uint16_t)(8 + plen);
	u[0] = (uint8_t)(sport >> 8), u[1] = (uint8_t)sport, u[2] = (uint8_t)(dport >> 8), u[3] = (uint8_t)dport;
	u[4] = (uint8_t)(len >> 8), u[5] = (uint8_t)len, u[6] = u[7] = 0;
	for (uint16_t i = 0; i < plen; i++)
		u[8 + i] = (uint8_t)(i * 7 + 3);
	struct cgn_addr s = A(src), d = A(dst);
	uint16_t c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(u, len, cgn_cksum_pseudo6(s.b, d.b, len, IPPROTO_UDP)));
	memcpy(u + 6, &c, 2);
	return len;
}

/* The same with the IPv4 pseudo-header (zero: checksum 0). */
static uint16_t
udp4(uint8_t *u, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint16_t plen, bool zero)
{
	uint16_t len = (uint16_t)(8 + plen);
	u[0] = (uint8_t)(sport >> 8), u[1] = (uint8_t)sport, u[2] = (uint8_t)(dport >> 8), u[3] = (uint8_t)dport;
	u[4] = (uint8_t)(len >> 8), u[5] = (uint8_t)len, u[6] = u[7] = 0;
	for (uint16_t i = 0; i < plen; i++)
		u[8 + i] = (uint8_t)(i * 5 + 1);
	if (zero)
		return len;
	uint8_t pseudo[12] = { 0 };
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[9] = IPPROTO_UDP, pseudo[10] = (uint8_t)(len >> 8), pseudo[11] = (uint8_t)len;
	uint16_t c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(u, len, cgn_cksum_partial(pseudo, 12, 0)));
	memcpy(u + 6, &c, 2);
	return len;
}

/* Ethernet + IPv6 from src to dst (hop limit hop) + a Fragment header (Next Header nh,
 * offset off octets, M more, Identification id) + dlen octets of data, into f from the inside.
 * @return its length. */
static uint16_t
frag6(uint8_t *f, const char *src, const char *dst, uint8_t hop, uint8_t nh, uint32_t id, uint16_t off, bool more,
      const uint8_t *data, uint16_t dlen)
{
	memset(f, 0, 62);
	eth(f, E->inside_port, 0x86dd);
	uint8_t *ip = f + 14;
	ip[0] = 0x60;
	uint16_t pl = (uint16_t)(8 + dlen);
	ip[4] = (uint8_t)(pl >> 8), ip[5] = (uint8_t)pl;
	ip[6] = IPPROTO_FRAGMENT;
	ip[7] = hop;
	cr_assert_eq(inet_pton(AF_INET6, src, ip + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, dst, ip + 24), 1);
	uint8_t *fh = ip + 40;
	fh[0] = nh;
	uint16_t fo = (uint16_t)(off | (more ? 1 : 0));
	fh[2] = (uint8_t)(fo >> 8), fh[3] = (uint8_t)fo;
	uint32_t idn = htonl(id);
	memcpy(fh + 4, &idn, 4);
	memcpy(f + 62, data, dlen);
	return (uint16_t)(62 + dlen);
}

/* Ethernet + IPv4 (20 octets: ID id, offset off octets, MF more, DF df, protocol proto, TTL
 * 50) from src to dst + dlen octets of data, into f from port (frag4: the outside).
 * @return its length. */
static uint16_t
frag4_from(uint16_t port, uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint16_t off, bool more,
	   bool df, const uint8_t *data, uint16_t dlen)
{
	memset(f, 0, 34);
	eth(f, port, 0x0800);
	uint8_t *ip = f + 14;
	uint16_t total = (uint16_t)(20 + dlen);
	uint16_t fo = (uint16_t)(off / 8 | (more ? 0x2000 : 0) | (df ? 0x4000 : 0));
	ip[0] = 0x45, ip[1] = 0x28, ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total;
	ip[4] = (uint8_t)(id >> 8), ip[5] = (uint8_t)id, ip[6] = (uint8_t)(fo >> 8), ip[7] = (uint8_t)fo;
	ip[8] = 50, ip[9] = proto;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint16_t c = cgn_cksum(ip, 20);
	memcpy(ip + 10, &c, 2);
	memcpy(f + 34, data, dlen);
	return (uint16_t)(34 + dlen);
}

static uint16_t
frag4(uint8_t *f, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint16_t off, bool more, bool df,
      const uint8_t *data, uint16_t dlen)
{
	return frag4_from(E->outside_port, f, src, dst, proto, id, off, more, df, data, dlen);
}

/* ---- what left ---- */

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool
addr6_at(const uint8_t *p, const char *want)
{
	struct cgn_addr a = A(want);
	return memcmp(p, a.b, 16) == 0;
}

/* An IPv4 fragment as it left: checked for what every one must be; its data at data[offset]. */
struct frag4_seen {
	uint16_t id, off, len;
	bool mf;
};

static struct frag4_seen
seen4_proto(const struct out *o, uint8_t *data, uint32_t ext, uint32_t dst, uint8_t proto)
{
	const uint8_t *ip = o->d + 14;
	cr_assert_eq(rd16(o->d + 12), 0x0800, "IPv4");
	cr_assert_eq(ip[0], 0x45);
	cr_assert_eq(cgn_cksum(ip, 20), 0, "header checksum");
	uint16_t total = rd16(ip + 2), fo = rd16(ip + 6);
	cr_assert_eq(o->len, 14 + total);
	cr_assert_eq(fo & 0x4000, 0, "DF clear (§5.1.1)");
	cr_assert_eq(ip[9], proto);
	cr_assert_eq(memcmp(ip + 12, &ext, 4), 0, "from the external address");
	cr_assert_eq(memcmp(ip + 16, &dst, 4), 0, "to the address under the Pref64");
	struct frag4_seen s = { rd16(ip + 4), (uint16_t)((fo & 0x1fff) * 8), (uint16_t)(total - 20), (fo & 0x2000) != 0 };
	memcpy(data + s.off, ip + 20, s.len);
	return s;
}

static struct frag4_seen
seen4(const struct out *o, uint8_t *data, uint32_t ext, uint32_t dst)
{
	return seen4_proto(o, data, ext, dst, IPPROTO_UDP);
}

/* An IPv6 fragment as it left toward the subscriber; its data at data[offset]. */
struct frag6_seen {
	uint32_t id;
	uint16_t off, len;
	bool m;
};

static struct frag6_seen
seen6_from(const struct out *o, uint8_t *data, uint8_t nh, const char *src6)
{
	const uint8_t *ip = o->d + 14, *fh = ip + 40;
	cr_assert_eq(o->port, E->inside_port, "to the inside");
	cr_assert_eq(rd16(o->d + 12), 0x86dd, "IPv6");
	cr_assert_eq(ip[6], IPPROTO_FRAGMENT, "a Fragment header (§4.1)");
	cr_assert_eq(ip[7], 49, "hop limit = TTL - 1");
	cr_assert(addr6_at(ip + 8, src6), "from the remote under the Pref64");
	cr_assert(addr6_at(ip + 24, SUB), "to the subscriber");
	uint16_t pl = rd16(ip + 4);
	cr_assert_eq(o->len, 14 + 40 + pl);
	cr_assert_eq(fh[0], nh, "the protocol in the Fragment header");
	cr_assert_eq(fh[1], 0);
	cr_assert_eq(fh[3] & 6, 0, "reserved bits clear");
	struct frag6_seen s = { rd32(fh + 4), (uint16_t)(rd16(fh + 2) & 0xfff8), (uint16_t)(pl - 8), (fh[3] & 1) != 0 };
	memcpy(data + s.off, fh + 8, s.len);
	return s;
}

static struct frag6_seen
seen6(const struct out *o, uint8_t *data, uint8_t nh)
{
	return seen6_from(o, data, nh, REMOTE6);
}

/* The UDP checksum of a whole datagram u (len octets) over the IPv6 pseudo-header: 0 if right. */
static uint16_t
sum_udp6(const uint8_t *u, uint16_t len, const char *src, const char *dst)
{
	struct cgn_addr s = A(src), d = A(dst);
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(u, len, cgn_cksum_pseudo6(s.b, d.b, len, IPPROTO_UDP)));
}

/* The same over the IPv4 pseudo-header. */
static uint16_t
sum_udp4(const uint8_t *u, uint16_t len, uint32_t src, uint32_t dst)
{
	uint8_t pseudo[12] = { 0 };
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[9] = IPPROTO_UDP, pseudo[10] = (uint8_t)(len >> 8), pseudo[11] = (uint8_t)len;
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(u, len, cgn_cksum_partial(pseudo, 12, 0)));
}

/* SUB's UDP sport -> REMOTE:53 out, whole; @return the external address and *ext_port. */
static uint32_t
mapping_out(uint16_t sport, uint16_t *ext_port)
{
	static uint8_t f[BIG];
	uint8_t u[64];
	uint16_t ul = udp6(u, SUB, REMOTE6, sport, 53, 4);
	memset(f, 0, 54);
	eth(f, E->inside_port, 0x86dd);
	f[14] = 0x60, f[14 + 5] = (uint8_t)ul, f[14 + 6] = IPPROTO_UDP, f[14 + 7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, SUB, f + 22), 1);
	cr_assert_eq(inet_pton(AF_INET6, REMOTE6, f + 38), 1);
	memcpy(f + 54, u, ul);
	cr_assert_eq(one(E->inside_port, f, (uint16_t)(54 + ul)), 1, "the mapping's packet left");
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);
	*ext_port = rd16(outs[0].d + 34);
	return ext;
}

static void
port_mtu(uint16_t port, uint16_t mtu)
{
	E->dp->ports[E->dp->port_index[port]].mtu = mtu;
	cgn_dataplane_derive_tx(E->dp);
}

/* ---- 6 -> 4 ---- */

/* A UDP datagram of 8 + 1192 octets from the subscriber in two IPv6 fragments (1000 + 200
 * octets of it): id, offsets, M -> IPv4 ID, offset, MF (§5.1.1). order: 0 first fragment
 * first, in two bursts; 1 the later one first (held: RFC 6146 §3.4's out-of-order), in two
 * bursts; 2 both in one burst, the later one first. */
static void
six_to_four(unsigned order, uint32_t id)
{
	static uint8_t f1[BIG], f2[BIG], whole[2048];
	uint8_t u[1400];
	uint16_t ul = udp6(u, SUB, REMOTE6, (uint16_t)(41000 + order), 53, 1192);
	uint16_t l1 = frag6(f1, SUB, REMOTE6, 64, IPPROTO_UDP, id, 0, true, u, 1000);
	uint16_t l2 = frag6(f2, SUB, REMOTE6, 64, IPPROTO_UDP, id, 1000, false, u + 1000, (uint16_t)(ul - 1000));
	uint64_t translated = E->w->pkt.fragments_translated, held = E->w->pkt.fragments_held;
	unsigned n;
	if (order == 0) {
		cr_assert_eq(one(E->inside_port, f1, l1), 1, "the first fragment left");
		memcpy(&outs[8], &outs[0], sizeof(outs[0]));
		cr_assert_eq(one(E->inside_port, f2, l2), 1, "the later one left");
		memcpy(&outs[1], &outs[0], sizeof(outs[0]));
		memcpy(&outs[0], &outs[8], sizeof(outs[0]));
		n = 2;
	} else if (order == 1) {
		cr_assert_eq(one(E->inside_port, f2, l2), 0, "the later one waits");
		cr_assert_eq(E->w->pkt.fragments_held, held + 1, "held");
		n = one(E->inside_port, f1, l1);
	} else {
		n = burst(E->inside_port, (uint8_t *const[]){ f2, f1 }, (uint16_t[]){ l2, l1 }, 2);
	}
	cr_assert_eq(n, 2, "both fragments left, not %u", n);
	cr_assert_eq(E->w->pkt.fragments_translated, translated + 1, "the later one by its first one's record");
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);
	uint32_t dst = addr(REMOTE);
	struct frag4_seen a = seen4(&outs[0], whole, ext, dst), b = seen4(&outs[1], whole, ext, dst);
	cr_assert_eq(outs[0].port, E->outside_port);
	cr_assert_eq(outs[1].port, E->outside_port);
	cr_assert_eq(a.id, id & 0xffff, "ID = the identification's low 16 bits");
	cr_assert_eq(b.id, id & 0xffff);
	cr_assert(a.off == 0 && a.mf && a.len == 1000, "first: offset 0, MF, 1000 octets");
	cr_assert(b.off == 1000 && !b.mf && b.len == ul - 1000, "later: offset 1000, last");
	cr_assert_eq(rd16(whole + 2), 53, "to port 53");
	cr_assert_eq(sum_udp4(whole, ul, ext, dst), 0, "the reassembled datagram's UDP checksum");
	cr_assert_eq(memcmp(whole + 8, u + 8, ul - 8u), 0, "its payload");
}

Test(nat64_frag, ipv6_fragments_in_order_leave_as_ipv4_fragments_rfc7915_5_1_1)
{
	six_to_four(0, 0xabcd0101);
}

Test(nat64_frag, ipv6_fragments_out_of_order_rfc6146_3_4)
{
	six_to_four(1, 0x00010202);
}

Test(nat64_frag, ipv6_fragments_in_one_burst_the_later_one_first)
{
	six_to_four(2, 0x00010303);
}

/* A first fragment the steps drop (hop limit 1: time exceeded; a zero IPv6 UDP checksum)
 * takes its later fragments with it, held or to come. */
Test(nat64_frag, a_refused_first_ipv6_fragment_drops_the_rest)
{
	static uint8_t f1[BIG], f2[BIG];
	uint8_t u[1400];
	uint16_t ul = udp6(u, SUB, REMOTE6, 41010, 53, 1192);
	uint16_t l1 = frag6(f1, SUB, REMOTE6, 1, IPPROTO_UDP, 77, 0, true, u, 1000);
	uint16_t l2 = frag6(f2, SUB, REMOTE6, 64, IPPROTO_UDP, 77, 1000, false, u + 1000, (uint16_t)(ul - 1000));
	uint64_t frag = drops(CGN_DROP_FRAGMENT), ttl = drops(CGN_DROP_TTL_EXPIRED);
	cr_assert_eq(one(E->inside_port, f1, l1), 1, "answered");
	cr_assert_eq(outs[0].d[54], 3, "ICMPv6 time exceeded");
	cr_assert_eq(drops(CGN_DROP_TTL_EXPIRED), ttl + 1);
	cr_assert_eq(one(E->inside_port, f2, l2), 0, "the later one is dropped");
	cr_assert_eq(drops(CGN_DROP_FRAGMENT), frag + 1);

	/* Held first: dropped when its first one is refused (a zero UDP checksum, RFC 8200 §8.1). */
	u[6] = u[7] = 0;
	l1 = frag6(f1, SUB, REMOTE6, 64, IPPROTO_UDP, 78, 0, true, u, 1000);
	l2 = frag6(f2, SUB, REMOTE6, 64, IPPROTO_UDP, 78, 1000, false, u + 1000, (uint16_t)(ul - 1000));
	uint64_t zero = drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM);
	cr_assert_eq(one(E->inside_port, f2, l2), 0);
	cr_assert_eq(one(E->inside_port, f1, l1), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM), zero + 1);
	cr_assert_eq(drops(CGN_DROP_FRAGMENT), frag + 2, "the held one with it");
	cr_assert_eq(E->w->frags.n_held, 0);
	/* Another datagram of the same addresses, another identification: not refused. */
	udp6(u, SUB, REMOTE6, 41010, 53, 1192);
	l2 = frag6(f2, SUB, REMOTE6, 64, IPPROTO_UDP, 79, 1000, false, u + 1000, (uint16_t)(ul - 1000));
	l1 = frag6(f1, SUB, REMOTE6, 64, IPPROTO_UDP, 79, 0, true, u, 1000);
	cr_assert_eq(burst(E->inside_port, (uint8_t *const[]){ f1, f2 }, (uint16_t[]){ l1, l2 }, 2), 2);
}

/* §5.1.1: a Fragment header followed by another extension header is dropped (counted); an
 * ICMPv6 message in fragments is not translated fragment by fragment (its checksum's
 * pseudo-header has the whole message's length): held for reassembly (reassemble.c); an
 * atomic fragment is a whole packet (RFC 6946, RFC 8021): its identification is not carried. */
Test(nat64_frag, ipv6_fragments_nat64_does_not_translate_and_atomic_fragments)
{
	static uint8_t f[BIG];
	uint8_t d[64] = { IPPROTO_UDP, 0 }; /* a Destination Options header of 8 octets, then UDP */
	uint64_t nf = drops(CGN_DROP_NAT64_FRAGMENT);
	cr_assert_eq(one(E->inside_port, f, frag6(f, SUB, REMOTE6, 64, IPPROTO_DSTOPTS, 5, 0, true, d, 48)), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_FRAGMENT), nf + 1, "a Fragment header then Destination Options");
	cr_assert_eq(one(E->inside_port, f, frag6(f, SUB, REMOTE6, 64, IPPROTO_FRAGMENT, 6, 8, false, d, 48)), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_FRAGMENT), nf + 2, "a later fragment with a second Fragment header");
	uint8_t echo[48] = { 128, 0, 0, 0, 0x12, 0x34, 0, 1 };
	uint64_t held = E->w->pkt.reassembly_held;
	cr_assert_eq(one(E->inside_port, f, frag6(f, SUB, REMOTE6, 64, IPPROTO_ICMPV6, 7, 0, true, echo, 48)), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_FRAGMENT), nf + 2, "an ICMPv6 echo in fragments is not refused");
	cr_assert_eq(E->w->pkt.reassembly_held, held + 1, "but held for reassembly");
	/* ... unless an extension header comes before its Fragment header (librte_ip_frag takes
	 * the Fragment header out from right after the IPv6 header only). */
	uint16_t fl = frag6(f, SUB, REMOTE6, 64, IPPROTO_ICMPV6, 8, 0, true, echo, 48);
	memmove(f + 62, f + 54, fl - 54u);
	static const uint8_t dstopts[8] = { IPPROTO_FRAGMENT, 0, 1, 4, 0, 0, 0, 0 }; /* PadN */
	memcpy(f + 54, dstopts, 8);
	f[14 + 6] = IPPROTO_DSTOPTS;
	f[14 + 5] = (uint8_t)(f[14 + 5] + 8);
	cr_assert_eq(one(E->inside_port, f, (uint16_t)(fl + 8)), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_FRAGMENT), nf + 3, "Destination Options, then the Fragment header");
	cr_assert_eq(E->w->pkt.reassembly_held, held + 1);

	/* Atomic: offset 0, M clear. */
	uint8_t u[64];
	uint16_t ul = udp6(u, SUB, REMOTE6, 41020, 53, 20);
	E->w->ip_id = 0x4242;
	cr_assert_eq(one(E->inside_port, f, frag6(f, SUB, REMOTE6, 64, IPPROTO_UDP, 0xdead0001, 0, false, u, ul)), 1);
	const uint8_t *ip = outs[0].d + 14;
	cr_assert_eq(rd16(ip + 2), 20 + ul, "the Fragment header is gone");
	cr_assert_eq(rd16(ip + 4), 0x4242, "the identification is the translator's own");
	cr_assert_eq(rd16(ip + 6), 0, "no MF, offset 0, DF clear (short)");
	uint32_t ext;
	memcpy(&ext, ip + 12, 4);
	cr_assert_eq(sum_udp4(ip + 20, ul, ext, addr(REMOTE)), 0);
}

/* §5.1.1: "If an IPv6 packet that is smaller than or equal to 1280 bytes results (after
 * translation) in an IPv4 packet that is larger than the MTU of the next-hop interface, then
 * the translator MUST perform IPv4 fragmentation": a whole packet (DF clear at 1260) and a
 * first fragment, to an outside MTU of 576, in IPv4 fragments (mtu.c). */
Test(nat64_frag, ipv4_fragmentation_of_translated_packets_above_the_outside_mtu)
{
	static uint8_t f[BIG], whole[2048];
	uint8_t u[1400];
	uint16_t ul = udp6(u, SUB, REMOTE6, 41030, 53, 1232); /* IPv6 1280, IPv4 1260 */
	memset(f, 0, 54);
	eth(f, E->inside_port, 0x86dd);
	f[14] = 0x60, f[14 + 4] = (uint8_t)(ul >> 8), f[14 + 5] = (uint8_t)ul, f[14 + 6] = IPPROTO_UDP, f[14 + 7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, SUB, f + 22), 1);
	cr_assert_eq(inet_pton(AF_INET6, REMOTE6, f + 38), 1);
	memcpy(f + 54, u, ul);
	uint64_t fragmented = E->w->pkt.fragmented;
	port_mtu(E->outside_port, 576);
	unsigned n = one(E->inside_port, f, (uint16_t)(54 + ul));
	cr_assert_eq(n, 3, "(576 - 20) & ~7 = 552 a fragment: 552, 552, 136; not %u", n);
	cr_assert_eq(E->w->pkt.fragmented, fragmented + 1);
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);
	uint16_t id = rd16(outs[0].d + 18);
	for (unsigned i = 0; i < n; i++) {
		struct frag4_seen s = seen4(&outs[i], whole, ext, addr(REMOTE));
		cr_assert_leq(s.len + 20, 576);
		cr_assert_eq(s.id, id, "one datagram");
		cr_assert_eq(s.off, i * 552);
		cr_assert_eq(s.mf, i + 1 < n);
	}
	cr_assert_eq(sum_udp4(whole, ul, ext, addr(REMOTE)), 0, "reassembled, its checksum holds");

	/* A first fragment of 8 + 992 octets: its IPv4 pieces keep MF, the later one's offsets
	 * follow theirs. */
	uint16_t l1 = frag6(f, SUB, REMOTE6, 64, IPPROTO_UDP, 0x99, 0, true, u, 1000);
	n = one(E->inside_port, f, l1);
	cr_assert_eq(n, 2, "552 + 448");
	for (unsigned i = 0; i < n; i++) {
		struct frag4_seen s = seen4(&outs[i], whole, ext, addr(REMOTE));
		cr_assert_eq(s.id, 0x99);
		cr_assert_eq(s.off, i * 552);
		cr_assert(s.mf, "MF on every piece of a first fragment");
	}
	n = one(E->inside_port, f, frag6(f, SUB, REMOTE6, 64, IPPROTO_UDP, 0x99, 1000, false, u + 1000, (uint16_t)(ul - 1000)));
	cr_assert_eq(n, 1);
	struct frag4_seen s = seen4(&outs[0], whole, ext, addr(REMOTE));
	cr_assert(s.off == 1000 && !s.mf);
	cr_assert_eq(sum_udp4(whole, ul, ext, addr(REMOTE)), 0, "the datagram, put together, holds");
	port_mtu(E->outside_port, 1500);
}

/* ---- 4 -> 6 ---- */

/* A UDP datagram of 8 + 1192 octets from REMOTE to the subscriber's external endpoint in two
 * IPv4 fragments (1000 + 200), DF clear: each becomes IPv6 with a Fragment header, offset and
 * M copied, Identification the IPv4 ID (§4.1). later_first: the later one comes first. */
static void
four_to_six(bool later_first, uint16_t sport, uint16_t id)
{
	static uint8_t f1[BIG], f2[BIG], whole[2048];
	uint8_t u[1400];
	uint16_t ext_port;
	uint32_t ext = mapping_out(sport, &ext_port), src = addr(REMOTE);
	uint16_t ul = udp4(u, src, ext, 53, ext_port, 1192, false);
	uint16_t l1 = frag4(f1, src, ext, IPPROTO_UDP, id, 0, true, false, u, 1000);
	uint16_t l2 = frag4(f2, src, ext, IPPROTO_UDP, id, 1000, false, false, u + 1000, (uint16_t)(ul - 1000));
	uint64_t translated = E->w->pkt.fragments_translated, held = E->w->pkt.fragments_held;
	if (later_first) {
		cr_assert_eq(one(E->outside_port, f2, l2), 0, "held for its first");
		cr_assert_eq(E->w->pkt.fragments_held, held + 1);
		cr_assert_eq(one(E->outside_port, f1, l1), 2, "both left");
	} else {
		cr_assert_eq(one(E->outside_port, f1, l1), 1);
		memcpy(&outs[8], &outs[0], sizeof(outs[0]));
		cr_assert_eq(one(E->outside_port, f2, l2), 1);
		memcpy(&outs[1], &outs[0], sizeof(outs[0]));
		memcpy(&outs[0], &outs[8], sizeof(outs[0]));
	}
	cr_assert_eq(E->w->pkt.fragments_translated, translated + 1);
	struct frag6_seen a = seen6(&outs[0], whole, IPPROTO_UDP), b = seen6(&outs[1], whole, IPPROTO_UDP);
	cr_assert_eq(a.id, id, "Identification = the IPv4 ID, high 16 bits zero");
	cr_assert_eq(b.id, id);
	cr_assert(a.off == 0 && a.m && a.len == 1000, "first: offset 0, M, 1000 octets");
	cr_assert(b.off == 1000 && !b.m && b.len == ul - 1000, "later: offset 1000, M clear");
	cr_assert_eq(rd16(outs[0].d + 14 + 4), 1008, "Payload Length + 8 (§4.1)");
	cr_assert_eq(outs[0].d[15] >> 4 | (outs[0].d[14] & 0x0f) << 4, 0x28, "traffic class = TOS");
	cr_assert_eq(rd16(whole + 2), sport, "to the subscriber's port");
	cr_assert_eq(sum_udp6(whole, ul, REMOTE6, SUB), 0, "the reassembled datagram's UDP checksum");
	cr_assert_eq(memcmp(whole + 8, u + 8, ul - 8u), 0, "its payload");
}

Test(nat64_frag, ipv4_fragments_in_order_leave_as_ipv6_fragments_rfc7915_4_1)
{
	four_to_six(false, 42000, 0x5678);
}

Test(nat64_frag, ipv4_fragments_out_of_order_rfc6146_3_4)
{
	four_to_six(true, 42001, 0x9abc);
}

/* A first fragment that cannot be translated without the rest (a zero UDP checksum, RFC 6146
 * §3.4) is dropped, and its later fragments with it. (An ICMP echo, whose ICMPv6 checksum
 * needs the whole length, is reassembled: icmp_echo_reply_in_ipv4_fragments_...) */
Test(nat64_frag, a_refused_first_ipv4_fragment_drops_the_rest)
{
	static uint8_t f1[BIG], f2[BIG];
	uint8_t u[1400];
	uint16_t ext_port;
	uint32_t ext = mapping_out(42010, &ext_port), src = addr(REMOTE);
	uint16_t ul = udp4(u, src, ext, 53, ext_port, 1192, true);
	uint16_t l1 = frag4(f1, src, ext, IPPROTO_UDP, 0x1111, 0, true, false, u, 1000);
	uint16_t l2 = frag4(f2, src, ext, IPPROTO_UDP, 0x1111, 1000, false, false, u + 1000, (uint16_t)(ul - 1000));
	uint64_t zero = drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM), frag = drops(CGN_DROP_FRAGMENT);
	cr_assert_eq(one(E->outside_port, f1, l1), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_UDP_ZERO_CHECKSUM), zero + 1);
	cr_assert_eq(one(E->outside_port, f2, l2), 0);
	cr_assert_eq(drops(CGN_DROP_FRAGMENT), frag + 1, "the later one with it");
}

/* §4.1: DF clear and longer than lowest-ipv6-mtu (1280) once IPv6: fragmented so that each
 * fragment, its Fragment header included, is no longer: 1232 octets of data each. A
 * 3000-octet IPv4 datagram: 2980 octets of UDP in 1232 + 1232 + 516. */
Test(nat64_frag, a_3000_octet_ipv4_datagram_without_df_leaves_in_ipv6_fragments_rfc7915_4_1)
{
	static uint8_t f[BIG], whole[BIG];
	static uint8_t u[BIG];
	uint16_t ext_port;
	uint32_t ext = mapping_out(42020, &ext_port), src = addr(REMOTE);
	uint16_t ul = udp4(u, src, ext, 53, ext_port, 3000 - 28, false);
	uint16_t len = frag4(f, src, ext, IPPROTO_UDP, 0x3333, 0, false, false, u, ul);
	cr_assert_eq(len, 14 + 3000);
	uint64_t fragmented = E->w->pkt.fragmented, made = E->w->pkt.fragments_made;
	unsigned n = one(E->outside_port, f, len);
	cr_assert_eq(n, 3, "three fragments, not %u", n);
	cr_assert_eq(E->w->pkt.fragmented, fragmented + 1);
	cr_assert_eq(E->w->pkt.fragments_made, made + 3);
	static const uint16_t want[3] = { 1232, 1232, 516 };
	for (unsigned i = 0; i < n; i++) {
		struct frag6_seen s = seen6(&outs[i], whole, IPPROTO_UDP);
		cr_assert_leq(outs[i].len - 14, 1280, "fragment %u within lowest-ipv6-mtu", i);
		cr_assert_eq(s.len, want[i], "fragment %u: %u octets", i, s.len);
		cr_assert_eq(s.off, i * 1232, "fragment %u: offset", i);
		cr_assert_eq(s.m, i + 1 < n, "fragment %u: M", i);
		cr_assert_eq(s.id, 0x3333, "fragment %u: the IPv4 ID", i);
	}
	cr_assert_eq(rd16(whole + 2), 42020);
	cr_assert_eq(sum_udp6(whole, ul, REMOTE6, SUB), 0, "reassembled: its UDP checksum");
	cr_assert_eq(memcmp(whole + 8, u + 8, ul - 8u), 0, "reassembled: the original payload");

	/* An IPv4 first fragment of 1400 octets (DF clear) is cut further: both pieces keep M,
	 * their offsets from its own; its later fragment follows as it is. */
	uint16_t l1 = frag4(f, src, ext, IPPROTO_UDP, 0x3334, 0, true, false, u, 1400);
	n = one(E->outside_port, f, l1);
	cr_assert_eq(n, 2, "1232 + 168");
	struct frag6_seen a = seen6(&outs[0], whole, IPPROTO_UDP), b = seen6(&outs[1], whole, IPPROTO_UDP);
	cr_assert(a.off == 0 && a.len == 1232 && a.m);
	cr_assert(b.off == 1232 && b.len == 168 && b.m, "M kept: more of the datagram follows");
	cr_assert(a.id == 0x3334 && b.id == 0x3334);
	n = one(E->outside_port, f, frag4(f, src, ext, IPPROTO_UDP, 0x3334, 1400, false, false, u + 1400, (uint16_t)(ul - 1400)));
	cr_assert_eq(n, 2, "a later fragment of 1580 octets is cut too: 1232 + 348");
	a = seen6(&outs[0], whole, IPPROTO_UDP);
	b = seen6(&outs[1], whole, IPPROTO_UDP);
	cr_assert(a.off == 1400 && a.m && b.off == 1400 + 1232 && !b.m);
	cr_assert_eq(sum_udp6(whole, ul, REMOTE6, SUB), 0, "the datagram, put together, holds");
	cr_assert_eq(memcmp(whole + 8, u + 8, ul - 8u), 0);
}

/* §4.1: "The translator MUST provide a configuration function [...] to adjust the threshold
 * [...] to a value greater than 1280": at 1500 a 1400-octet datagram without DF leaves
 * whole, without a Fragment header (§1.4), and 3000 octets in pieces of 1448. */
Test(nat64_frag, lowest_ipv6_mtu_raised)
{
	static uint8_t f[BIG], whole[BIG];
	static uint8_t u[BIG];
	uint16_t ext_port;
	uint32_t ext = mapping_out(42030, &ext_port), src = addr(REMOTE);
	uint16_t ul = udp4(u, src, ext, 53, ext_port, 1400 - 28, false);
	/* At the default 1280: in two fragments. */
	cr_assert_eq(one(E->outside_port, f, frag4(f, src, ext, IPPROTO_UDP, 0x4444, 0, false, false, u, ul)), 2);
	E->cfg.nat64.lowest_ipv6_mtu = 1500;
	cr_assert_eq(one(E->outside_port, f, frag4(f, src, ext, IPPROTO_UDP, 0x4445, 0, false, false, u, ul)), 1);
	cr_assert_eq(outs[0].len, 14 + 40 + ul, "whole");
	cr_assert_eq(outs[0].d[14 + 6], IPPROTO_UDP, "no Fragment header");

	ul = udp4(u, src, ext, 53, ext_port, 3000 - 28, false);
	unsigned n = one(E->outside_port, f, frag4(f, src, ext, IPPROTO_UDP, 0x4446, 0, false, false, u, ul));
	cr_assert_eq(n, 3, "(1500 - 48) & ~7 = 1448: 1448 + 1448 + 84");
	for (unsigned i = 0; i < n; i++) {
		struct frag6_seen s = seen6(&outs[i], whole, IPPROTO_UDP);
		cr_assert_leq(outs[i].len - 14, 1500);
		cr_assert_eq(s.off, i * 1448);
	}
	cr_assert_eq(sum_udp6(whole, ul, REMOTE6, SUB), 0);

	/* Never above the inside port's own MTU. */
	port_mtu(E->inside_port, 1400);
	n = one(E->outside_port, f, frag4(f, src, ext, IPPROTO_UDP, 0x4447, 0, false, false, u, ul));
	cr_assert_eq(n, 3, "(1400 - 48) & ~7 = 1352: 1352 + 1352 + 276");
	for (unsigned i = 0; i < n; i++)
		cr_assert_leq(outs[i].len - 14, 1400);
	port_mtu(E->inside_port, 1500);
}

/* §4.1: DF set and longer than the inside's MTU once IPv6: Fragmentation Needed with the IPv4
 * MTU that fits (1280 - 20), not fragments. */
Test(nat64_frag, df_set_and_too_big_for_the_inside_is_answered_with_fragmentation_needed)
{
	static uint8_t f[BIG];
	uint8_t u[1400];
	uint16_t ext_port;
	uint32_t ext = mapping_out(42040, &ext_port), src = addr(REMOTE);
	uint16_t ul = udp4(u, src, ext, 53, ext_port, 1300 - 28, false);
	port_mtu(E->inside_port, 1280);
	uint64_t too_big = drops(CGN_DROP_TOO_BIG);
	unsigned n = one(E->outside_port, f, frag4(f, src, ext, IPPROTO_UDP, 0x5555, 0, false, true, u, ul));
	port_mtu(E->inside_port, 1500);
	cr_assert_eq(n, 1, "answered");
	cr_assert_eq(outs[0].port, E->outside_port);
	cr_assert_eq(outs[0].d[14 + 9], IPPROTO_ICMP);
	cr_assert(outs[0].d[34] == 3 && outs[0].d[35] == 4, "ICMP 3/4");
	cr_assert_eq(rd16(outs[0].d + 34 + 6), 1260, "the MTU that fits once IPv6");
	cr_assert_eq(drops(CGN_DROP_TOO_BIG), too_big + 1);
}

/* RFC 6146 §3.8 with fragments: an IPv4 subscriber's datagram to an IPv6 subscriber's
 * external endpoint goes back inside as IPv6 fragments, from the sender's external address
 * under the Pref64; its later fragment, from the inside, follows its first one's record. An
 * IPv6 subscriber's datagram in fragments to an IPv6 subscriber is refused (documented). */
Test(nat64_frag, ipv4_fragments_hairpinned_to_an_ipv6_subscriber_rfc6146_3_8)
{
	static uint8_t f1[BIG], f2[BIG], whole[2048];
	uint8_t u[1400];
	uint16_t ext_port;
	uint32_t ext = mapping_out(42050, &ext_port), src = addr("100.64.0.50");
	uint16_t ul = udp4(u, src, ext, 5000, ext_port, 1192, false);
	uint16_t l1 = frag4_from(E->inside_port, f1, src, ext, IPPROTO_UDP, 0x6666, 0, true, false, u, 1000);
	uint16_t l2 = frag4_from(E->inside_port, f2, src, ext, IPPROTO_UDP, 0x6666, 1000, false, false, u + 1000,
				 (uint16_t)(ul - 1000));
	uint64_t hp = E->w->pkt.hairpinned;
	cr_assert_eq(one(E->inside_port, f1, l1), 1, "hairpinned");
	cr_assert_eq(E->w->pkt.hairpinned, hp + 1);
	memcpy(&outs[8], &outs[0], sizeof(outs[0]));
	cr_assert_eq(one(E->inside_port, f2, l2), 1, "the later one follows");
	memcpy(&outs[1], &outs[0], sizeof(outs[0]));
	memcpy(&outs[0], &outs[8], sizeof(outs[0]));
	struct cgn_mapping *a = dp_env_mapping("100.64.0.50", 5000, IPPROTO_UDP);
	cr_assert_not_null(a);
	char src6[64];
	const uint8_t *e = (const uint8_t *)&a->ext_addr;
	snprintf(src6, sizeof(src6), "64:ff9b::%u.%u.%u.%u", e[0], e[1], e[2], e[3]);
	struct frag6_seen x = seen6_from(&outs[0], whole, IPPROTO_UDP, src6);
	struct frag6_seen y = seen6_from(&outs[1], whole, IPPROTO_UDP, src6);
	cr_assert(x.off == 0 && x.m && y.off == 1000 && !y.m && x.id == 0x6666 && y.id == 0x6666);
	cr_assert_eq(rd16(whole), a->ext_port, "from the sender's external port");
	cr_assert_eq(rd16(whole + 2), 42050, "to the IPv6 subscriber's own port");
	cr_assert_eq(sum_udp6(whole, ul, src6, SUB), 0, "the reassembled datagram's UDP checksum");

	/* From an IPv6 subscriber to one (here: its own endpoint), in fragments: not translated
	 * (fragment.h: its record would need two pairs of IPv6 addresses), nor the rest. */
	char dst6[64];
	e = (const uint8_t *)&ext;
	snprintf(dst6, sizeof(dst6), "64:ff9b::%u.%u.%u.%u", e[0], e[1], e[2], e[3]);
	ul = udp6(u, SUB, dst6, 42051, ext_port, 1192);
	l1 = frag6(f1, SUB, dst6, 64, IPPROTO_UDP, 0x7777, 0, true, u, 1000);
	l2 = frag6(f2, SUB, dst6, 64, IPPROTO_UDP, 0x7777, 1000, false, u + 1000, (uint16_t)(ul - 1000));
	uint64_t nf = drops(CGN_DROP_NAT64_FRAGMENT), frag = drops(CGN_DROP_FRAGMENT);
	cr_assert_eq(one(E->inside_port, f1, l1), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_FRAGMENT), nf + 1);
	cr_assert_eq(one(E->inside_port, f2, l2), 0);
	cr_assert_eq(drops(CGN_DROP_FRAGMENT), frag + 1);
}

/* ---- ICMP, reassembled (reassemble.c) ---- */

#define ECHO_LEN 3000 /* an ICMP(v6) echo of 8 + 2992 octets: three fragments of a 1280 link */
#define ECHO_ID 0x4d4d

/* An ICMPv6 echo request from SUB to REMOTE6 (ECHO_LEN octets, identifier id), its checksum
 * over the IPv6 pseudo-header, into e. */
static void
echo6(uint8_t *e, uint16_t id)
{
	e[0] = 128, e[1] = 0, e[2] = e[3] = 0;
	e[4] = (uint8_t)(id >> 8), e[5] = (uint8_t)id, e[6] = 0, e[7] = 1;
	for (unsigned i = 8; i < ECHO_LEN; i++)
		e[i] = (uint8_t)(i * 13 + 5);
	struct cgn_addr s = A(SUB), d = A(REMOTE6);
	uint16_t c = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(e, ECHO_LEN, cgn_cksum_pseudo6(s.b, d.b, ECHO_LEN, 58)));
	memcpy(e + 2, &c, 2);
}

/* Its three IPv6 fragments (1232, 1232, 536 octets: what a 1280 link carries) into f[i],
 * their lengths into l[i]. */
static void
echo6_fragments(uint8_t *f[3], uint16_t l[3], const uint8_t *e, uint32_t id)
{
	for (unsigned i = 0; i < 3; i++)
		l[i] = frag6(f[i], SUB, REMOTE6, 64, IPPROTO_ICMPV6, id, (uint16_t)(i * 1232), i < 2, e + i * 1232,
			     (uint16_t)(i < 2 ? 1232 : ECHO_LEN - 2 * 1232));
}

/* The IPv4 echo that left in n frames (outs[]), put together into whole: checked to be one
 * datagram from ext to REMOTE with DF clear, within the outside's mtu, an ICMP echo request from the mapping's external
 * identifier with a checksum right over the whole message and e's payload. */
static void
check_echo4(unsigned n, uint32_t ext, const uint8_t *e, uint16_t mtu)
{
	static uint8_t whole[BIG];
	struct cgn_mapping *m = dp_env_mapping(SUB, ECHO_ID, IPPROTO_ICMP);
	cr_assert_not_null(m, "the echo's mapping (keyed as ICMP)");
	cr_assert_eq(ext, m->ext_addr);
	uint16_t id = rd16(outs[0].d + 18), end = 0;
	for (unsigned i = 0; i < n; i++) {
		cr_assert_eq(outs[i].port, E->outside_port);
		struct frag4_seen s = seen4_proto(&outs[i], whole, ext, addr(REMOTE), IPPROTO_ICMP);
		cr_assert_eq(s.id, id, "one datagram");
		cr_assert_eq(s.mf, i + 1 < n, "MF on all but the last");
		cr_assert_eq(s.off, end, "fragment %u follows the one before", i);
		cr_assert_leq(s.len + 20, mtu, "within the outside MTU");
		end = (uint16_t)(end + s.len);
	}
	cr_assert_eq(end, ECHO_LEN, "the whole message");
	cr_assert_eq(whole[0], 8, "ICMP echo request");
	cr_assert_eq(rd16(whole + 4), m->ext_port, "the external identifier");
	cr_assert_eq(cgn_cksum(whole, ECHO_LEN), 0, "the ICMP checksum over the whole message");
	cr_assert_eq(memcmp(whole + 6, e + 6, ECHO_LEN - 6), 0, "sequence and payload");
}

/* RFC 6146 §3.4 with ICMPv6: an echo in three fragments, in order (each its own burst),
 * reassembled and translated whole (RFC 7915 §5.2: the ICMPv6 pseudo-header taken out of a
 * checksum that needs the whole length), then cut for the 1500-octet outside link: 3020
 * octets of IPv4 in 1480 + 1480 + 40 (DF clear: it came in fragments, §5.1.1). */
Test(nat64_frag, icmpv6_echo_in_fragments_in_order_is_reassembled_rfc6146_3_4)
{
	static uint8_t e[ECHO_LEN], f0[BIG], f1[BIG], f2[BIG];
	uint8_t *f[3] = { f0, f1, f2 };
	uint16_t l[3];
	echo6(e, ECHO_ID);
	echo6_fragments(f, l, e, 0x01020304);
	uint64_t held = E->w->pkt.reassembly_held, whole = E->w->pkt.reassembled, made = E->w->pkt.fragments_made;
	cr_assert_eq(one(E->inside_port, f[0], l[0]), 0, "held");
	cr_assert_eq(one(E->inside_port, f[1], l[1]), 0, "held");
	cr_assert_eq(E->w->pkt.reassembly_held, held + 2);
	unsigned n = one(E->inside_port, f[2], l[2]);
	cr_assert_eq(n, 3, "the whole echo in three IPv4 fragments, not %u", n);
	cr_assert_eq(E->w->pkt.reassembled, whole + 1);
	cr_assert_eq(E->w->pkt.fragments_made, made + 3);
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);
	check_echo4(n, ext, e, 1500);
}

/* Out of order, in one burst (last, first, middle): the datagram is whole at its third
 * fragment, and goes on through that burst. At an outside MTU of 9000 it leaves as one
 * packet, DF clear. */
Test(nat64_frag, icmpv6_echo_in_fragments_out_of_order_in_one_burst)
{
	static uint8_t e[ECHO_LEN], f0[BIG], f1[BIG], f2[BIG];
	uint8_t *f[3] = { f0, f1, f2 };
	uint16_t l[3];
	echo6(e, ECHO_ID);
	echo6_fragments(f, l, e, 0x01020305);
	port_mtu(E->outside_port, 9000);
	unsigned n = burst(E->inside_port, (uint8_t *const[]){ f[2], f[0], f[1] }, (uint16_t[]){ l[2], l[0], l[1] }, 3);
	port_mtu(E->outside_port, 1500);
	cr_assert_eq(n, 1, "one IPv4 packet, not %u", n);
	cr_assert_eq(outs[0].len, 14 + 20 + ECHO_LEN);
	cr_assert_eq(rd16(outs[0].d + 14 + 6), 0, "DF, MF and offset clear");
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);
	check_echo4(1, ext, e, 9000);
}

/* The reply (RFC 7915 §4.2): an IPv4 echo reply in three fragments, the last first, to the
 * echo's mapping: reassembled, translated whole (the ICMPv6 pseudo-header, with the whole
 * length, added to the sum), and cut into IPv6 fragments of lowest-ipv6-mtu (§4.1): 1232 +
 * 1232 + 536, a Fragment header each with the IPv4 ID. */
Test(nat64_frag, icmp_echo_reply_in_ipv4_fragments_leaves_as_icmpv6_fragments_rfc7915_4_2)
{
	static uint8_t e[ECHO_LEN], r[ECHO_LEN], whole[BIG], f0[BIG], f1[BIG], f2[BIG];
	echo6(e, ECHO_ID);
	port_mtu(E->outside_port, 9000); /* the request leaves whole: its copy makes the reply */
	uint16_t l[3];
	uint8_t *f[3] = { f0, f1, f2 };
	echo6_fragments(f, l, e, 0x01020306);
	cr_assert_eq(burst(E->inside_port, (uint8_t *const[]){ f[0], f[1], f[2] }, l, 3), 1, "the request left");
	port_mtu(E->outside_port, 1500);
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);

	/* The reply: type 0, the external identifier, the payload, its ICMP checksum. */
	memcpy(r, outs[0].d + 34, ECHO_LEN);
	r[0] = 0, r[2] = r[3] = 0;
	uint16_t c = cgn_cksum(r, ECHO_LEN);
	memcpy(r + 2, &c, 2);
	uint32_t src = addr(REMOTE);
	uint16_t l0 = frag4(f0, src, ext, IPPROTO_ICMP, 0x7a7a, 0, true, false, r, 1000);
	uint16_t l1 = frag4(f1, src, ext, IPPROTO_ICMP, 0x7a7a, 1000, true, false, r + 1000, 1000);
	uint16_t l2 = frag4(f2, src, ext, IPPROTO_ICMP, 0x7a7a, 2000, false, false, r + 2000, ECHO_LEN - 2000);
	uint64_t held = E->w->pkt.reassembly_held, reasm = E->w->pkt.reassembled;
	cr_assert_eq(one(E->outside_port, f2, l2), 0, "held");
	cr_assert_eq(one(E->outside_port, f0, l0), 0, "held");
	unsigned n = one(E->outside_port, f1, l1);
	cr_assert_eq(E->w->pkt.reassembly_held, held + 2);
	cr_assert_eq(E->w->pkt.reassembled, reasm + 1);
	cr_assert_eq(n, 3, "three IPv6 fragments, not %u", n);
	static const uint16_t want[3] = { 1232, 1232, 536 };
	for (unsigned i = 0; i < n; i++) {
		struct frag6_seen s = seen6(&outs[i], whole, IPPROTO_ICMPV6);
		cr_assert_eq(s.len, want[i], "fragment %u: %u octets", i, s.len);
		cr_assert_eq(s.off, i * 1232);
		cr_assert_eq(s.m, i + 1 < n);
		cr_assert_eq(s.id, 0x7a7a, "the IPv4 ID");
	}
	cr_assert_eq(whole[0], 129, "ICMPv6 echo reply");
	cr_assert_eq(rd16(whole + 4), ECHO_ID, "the subscriber's own identifier");
	struct cgn_addr s6 = A(REMOTE6), d6 = A(SUB);
	cr_assert_eq((uint16_t)~cgn_cksum_fold(cgn_cksum_partial(whole, ECHO_LEN, cgn_cksum_pseudo6(s6.b, d6.b, ECHO_LEN, 58))), 0,
		     "the ICMPv6 checksum over the whole message and its pseudo-header");
	cr_assert_eq(memcmp(whole + 6, e + 6, ECHO_LEN - 6), 0, "sequence and payload");
}

/* RFC 6146 §3.4: fragments held longer than FRAGMENT_MIN (2 s) for a datagram that never
 * becomes whole are dropped and counted, IPv6 and IPv4 alike; a late fragment starts again. */
Test(nat64_frag, icmp_fragments_held_for_reassembly_time_out)
{
	static uint8_t e[ECHO_LEN], f0[BIG], f1[BIG], f2[BIG];
	uint8_t *f[3] = { f0, f1, f2 };
	uint16_t l[3];
	echo6(e, ECHO_ID);
	echo6_fragments(f, l, e, 0x01020307);
	uint64_t t0 = drops(CGN_DROP_NAT64_REASSEMBLY_TIMEOUT), reasm = E->w->pkt.reassembled;
	cr_assert_eq(one(E->inside_port, f[0], l[0]), 0);
	cr_assert_eq(one(E->inside_port, f[1], l[1]), 0);
	/* An IPv4 fragment to a pool address, from the outside: held too. */
	uint8_t r[64] = { 0, 0, 0, 0, 1, 2, 0, 1 };
	uint32_t pool = addr("203.0.113.1");
	cr_assert_eq(one(E->outside_port, f2, frag4(f2, addr(REMOTE), pool, IPPROTO_ICMP, 0x1234, 0, true, false, r, 64)), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_REASSEMBLY_TIMEOUT), t0);

	E->w->now_ms += 2000;
	cgn_frag_expire(E->w, E->w->now_ms);
	cr_assert_eq(drops(CGN_DROP_NAT64_REASSEMBLY_TIMEOUT), t0, "2 s is not over yet");
	E->w->now_ms += 1;
	cgn_frag_expire(E->w, E->w->now_ms);
	cr_assert_eq(drops(CGN_DROP_NAT64_REASSEMBLY_TIMEOUT), t0 + 3, "the three held fragments");

	/* The last one, late: alone, held again, never whole. */
	echo6_fragments(f, l, e, 0x01020307);
	cr_assert_eq(one(E->inside_port, f[2], l[2]), 0);
	cr_assert_eq(E->w->pkt.reassembled, reasm);
	E->w->now_ms += 2001;
	/* Expired ones found when the next fragment comes count as time-outs too. */
	cr_assert_eq(one(E->inside_port, f[0], l[0]), 0);
	cr_assert_eq(drops(CGN_DROP_NAT64_REASSEMBLY_TIMEOUT), t0 + 4);
}

/* The whole datagram must fit one mbuf to be translated: fragments in the data plane's own
 * 2048-octet mbufs (dataplane.mbuf_size's default) cannot make a 3000-octet echo: dropped,
 * counted (docs/configuration.md). */
Test(nat64_frag, an_icmp_datagram_longer_than_one_mbuf_is_dropped_counted)
{
	static uint8_t e[ECHO_LEN], f0[BIG], f1[BIG], f2[BIG];
	uint8_t *f[3] = { f0, f1, f2 };
	uint16_t l[3];
	echo6(e, ECHO_ID);
	echo6_fragments(f, l, e, 0x01020308);
	uint64_t refused = drops(CGN_DROP_NAT64_REASSEMBLY);
	struct rte_mbuf *ms[3];
	for (unsigned i = 0; i < 3; i++) {
		ms[i] = dp_env_mbuf(f[i], l[i]);
		cr_assert_not_null(ms[i]);
	}
	dp_env_burst(E->inside_port, ms, 3);
	cr_assert_eq(E->w->tx[E->outside_port]->length, 0, "nothing left");
	cr_assert_eq(drops(CGN_DROP_NAT64_REASSEMBLY), refused + 1);
}

/* With NAT64 on, an IPv4 subscriber's echo reply in fragments is reassembled too (a later
 * fragment does not tell whose mapping it is of): it leaves to the inside whole when it fits
 * (DF clear, MF clear), its checksum right. */
Test(nat64_frag, a_nat44_echo_reply_in_fragments_is_reassembled_with_nat64_on)
{
	static uint8_t f[BIG], r[1200];
	uint16_t len = build_icmp_echo(f, "100.64.0.5", REMOTE, 8, 0x5151);
	cr_assert_eq(one(E->inside_port, f, len), 1, "the request left");
	uint32_t ext;
	memcpy(&ext, outs[0].d + 14 + 12, 4);
	uint16_t ext_id = rd16(outs[0].d + 34 + 4);
	r[0] = 0, r[4] = (uint8_t)(ext_id >> 8), r[5] = (uint8_t)ext_id, r[7] = 1;
	for (unsigned i = 8; i < sizeof(r); i++)
		r[i] = (uint8_t)i;
	uint16_t c = cgn_cksum(r, sizeof(r));
	memcpy(r + 2, &c, 2);
	static uint8_t g[BIG];
	uint16_t l0 = frag4(f, addr(REMOTE), ext, IPPROTO_ICMP, 0x4545, 0, true, false, r, 600);
	uint16_t l1 = frag4(g, addr(REMOTE), ext, IPPROTO_ICMP, 0x4545, 600, false, false, r + 600, sizeof(r) - 600);
	uint64_t reasm = E->w->pkt.reassembled;
	unsigned n = burst(E->outside_port, (uint8_t *const[]){ g, f }, (uint16_t[]){ l1, l0 }, 2);
	cr_assert_eq(n, 1, "one packet, not %u", n);
	cr_assert_eq(E->w->pkt.reassembled, reasm + 1);
	const uint8_t *ip = outs[0].d + 14;
	cr_assert_eq(outs[0].port, E->inside_port);
	cr_assert_eq(rd16(ip + 2), 20 + sizeof(r));
	cr_assert_eq(rd16(ip + 6), 0, "whole");
	cr_assert_eq(cgn_cksum(ip, 20), 0);
	cr_assert_eq(memcmp(ip + 16, (uint8_t[]){ 100, 64, 0, 5 }, 4), 0, "to the subscriber");
	cr_assert_eq(rd16(ip + 20 + 4), 0x5151, "its own identifier");
	cr_assert_eq(cgn_cksum(ip + 20, sizeof(r)), 0, "the ICMP checksum");
}
