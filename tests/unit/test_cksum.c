/*
 * The packet-edit helpers (common/cgn_pkt_edit.h) and the checksum arithmetic under them
 * (common/cgn_cksum.h): random packets (IPv4 with UDP, TCP or ICMP; IPv6 with UDP or
 * ICMPv6) have random fields rewritten through the helpers, and after every rewrite each
 * checksum must equal one recomputed from scratch by the reference below, which shares no
 * code with the helpers (a big-endian word at a time, the pseudo-headers built as octets).
 * Then RFC 768's zero UDP checksum, RFC 1624 §4's example and its 0x0000/0xffff corners, and
 * the IPv6 pseudo-header sum (RFC 8200 §8.1) against sums worked out by hand.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "cgn_cksum.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"

#define ETH 14 /* packets start after an Ethernet header: their fields are only 2-aligned */

/* ---- reference: RFC 1071 the slow way, host-order words -------------------------------- */

static uint32_t
ref_sum(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t
ref_fold_not(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The IPv4 header checksum of a header of ihl octets, host order (the field counted as zero). */
static uint16_t
ref_ip4(const uint8_t *ip, unsigned ihl)
{
	uint8_t h[60];
	memcpy(h, ip, ihl);
	h[10] = h[11] = 0;
	return ref_fold_not(ref_sum(h, ihl, 0));
}

/* A transport checksum, host order: the segment with its checksum field (at cks_off) counted
 * as zero, after a pseudo-header of ph_len octets (none for ICMP). UDP's computed zero is
 * returned as 0xffff. */
static uint16_t
ref_l4(const uint8_t *ph, size_t ph_len, const uint8_t *l4, size_t len, size_t cks_off, bool udp)
{
	static uint8_t seg[2048];
	memcpy(seg, l4, len);
	seg[cks_off] = seg[cks_off + 1] = 0;
	uint16_t c = ref_fold_not(ref_sum(seg, len, ref_sum(ph, ph_len, 0)));
	return udp && c == 0 ? 0xffff : c;
}

static size_t
ph4(uint8_t ph[12], const uint8_t *ip, uint8_t proto, uint16_t len)
{
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	ph[10] = (uint8_t)(len >> 8);
	ph[11] = (uint8_t)len;
	return 12;
}

static size_t
ph6(uint8_t ph[40], const uint8_t *ip6, uint8_t nh, uint32_t len)
{
	memcpy(ph, ip6 + 8, 32);
	ph[32] = (uint8_t)(len >> 24);
	ph[33] = (uint8_t)(len >> 16);
	ph[34] = (uint8_t)(len >> 8);
	ph[35] = (uint8_t)len;
	ph[36] = ph[37] = ph[38] = 0;
	ph[39] = nh;
	return 40;
}

/* ---- random packets --------------------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void
rnd_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A packet under test: where its layers and checksums are. */
struct pkt {
	uint8_t buf[ETH + 1600];
	uint8_t *ip, *l4;
	unsigned ihl;     /* IPv4 header length; 40 for IPv6 */
	uint16_t l4_len;
	uint8_t proto;
	bool v6;
	size_t cks_off;   /* of the transport checksum in l4 */
};

static bool
is_udp(const struct pkt *k)
{
	return k->proto == IPPROTO_UDP;
}

/* The transport checksum the packet should carry, host order (0 stays 0 for IPv4 UDP). */
static uint16_t
want_l4(const struct pkt *k)
{
	uint8_t ph[40];
	size_t n = 0;
	if (k->v6)
		n = ph6(ph, k->ip, k->proto, k->l4_len);
	else if (k->proto != IPPROTO_ICMP)
		n = ph4(ph, k->ip, k->proto, k->l4_len);
	return ref_l4(ph, n, k->l4, k->l4_len, k->cks_off, is_udp(k));
}

static void
assert_cksums(const struct pkt *k, bool udp_none, const char *what)
{
	if (!k->v6)
		cr_assert_eq(cgn_rd16(k->ip + 10), ref_ip4(k->ip, k->ihl), "%s: IPv4 header checksum", what);
	uint16_t have = cgn_rd16(k->l4 + k->cks_off);
	if (udp_none)
		cr_assert_eq(have, 0, "%s: a zero UDP checksum stays zero", what);
	else
		cr_assert_eq(have, want_l4(k), "%s: proto %u checksum %04x, from scratch %04x", what, k->proto, have,
			     want_l4(k));
}

static size_t
cks_off(uint8_t proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

/* A random IPv4 packet of proto with valid checksums (with options half the time). */
static void
make4(struct pkt *k, uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	k->ip = k->buf + ETH;
	k->v6 = false;
	k->proto = proto;
	k->ihl = (rnd() & 1) ? 20 : 20 + 4 * (1 + rnd() % 10);
	uint16_t hdr = proto == IPPROTO_TCP ? 20 : 8;
	k->l4_len = (uint16_t)(hdr + rnd() % 1200);
	rnd_fill(k->ip, k->ihl + k->l4_len);
	k->ip[0] = (uint8_t)(0x40 | k->ihl / 4);
	put16(k->ip + 2, (uint16_t)(k->ihl + k->l4_len));
	k->ip[9] = proto;
	k->l4 = k->ip + k->ihl;
	k->cks_off = cks_off(proto);
	if (proto == IPPROTO_UDP)
		put16(k->l4 + 4, k->l4_len);
	if (proto == IPPROTO_ICMP)
		k->l4[0] = (rnd() & 1) ? CGN_ICMP_ECHO : CGN_ICMP_ECHO_REPLY, k->l4[1] = 0;
	put16(k->ip + 10, ref_ip4(k->ip, k->ihl));
	put16(k->l4 + k->cks_off, want_l4(k));
	assert_cksums(k, false, "built");
}

/* A random IPv6 packet of proto (UDP or ICMPv6) with a valid checksum. */
static void
make6(struct pkt *k, uint8_t proto)
{
	memset(k, 0, sizeof(*k));
	k->ip = k->buf + ETH;
	k->v6 = true;
	k->proto = proto;
	k->ihl = 40;
	k->l4_len = (uint16_t)(8 + rnd() % 1400);
	rnd_fill(k->ip, 40 + k->l4_len);
	k->ip[0] = (uint8_t)(0x60 | (k->ip[0] & 0x0f));
	put16(k->ip + 4, k->l4_len);
	k->ip[6] = proto;
	k->l4 = k->ip + 40;
	k->cks_off = cks_off(proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : proto);
	if (proto == IPPROTO_UDP)
		put16(k->l4 + 4, k->l4_len);
	if (proto == IPPROTO_ICMPV6)
		k->l4[0] = (rnd() & 1) ? CGN_ICMP6_ECHO_REQUEST : CGN_ICMP6_ECHO_REPLY, k->l4[1] = 0;
	put16(k->l4 + k->cks_off, want_l4(k));
	assert_cksums(k, false, "built");
}

/* The transport checksum as a patch target; the pseudo-header's (NONE for ICMP, which has none). */
static struct cgn_cks
l4c(struct pkt *k)
{
	return (struct cgn_cks){ k->l4 + k->cks_off, is_udp(k) };
}

static struct cgn_cks
pseudo(struct pkt *k)
{
	return k->proto == IPPROTO_ICMP ? CGN_CKS_NONE : l4c(k);
}

/* One random rewrite of an IPv4 packet, the way translate rewrites: an address, a port or
 * echo identifier, the TTL word, a TCP sequence number, or all of an end at once. */
static void
edit4(struct pkt *k)
{
	struct cgn_cks ipc = { k->ip + 10, false };
	uint8_t *port = k->proto == IPPROTO_ICMP ? k->l4 + 4 : k->l4 + (rnd() & 1 ? 0 : 2);
	uint32_t a = rnd();
	switch (rnd() % 5) {
	case 0: /* an address: the header checksum and the pseudo-header's */
		cgn_patch32(k->ip + (rnd() & 1 ? 12 : 16), a, ipc, pseudo(k), CGN_CKS_NONE);
		break;
	case 1: /* a port, or the echo identifier */
		cgn_patch16(port, (uint16_t)a, l4c(k), CGN_CKS_NONE);
		break;
	case 2: { /* TTL less one: the word it shares with the protocol */
		uint8_t w[2] = { (uint8_t)(k->ip[8] - 1), k->ip[9] };
		cgn_patch16(k->ip + 8, cgn_ld16(w), ipc, CGN_CKS_NONE);
		break;
	}
	case 3: /* a 32-bit field only the transport checksum covers (TCP sequence; else the
		 * ICMP echo id and sequence; UDP: the ports) */
		cgn_patch32(k->proto == IPPROTO_TCP ? k->l4 + 4 : k->l4 + (k->proto == IPPROTO_ICMP ? 4 : 0), a, l4c(k),
			    CGN_CKS_NONE, CGN_CKS_NONE);
		break;
	default: { /* the fast path: address and port changed, the deltas summed, applied once */
		uint8_t *af = k->ip + 12;
		uint16_t p = (uint16_t)rnd();
		uint32_t d_addr = cgn_cksum_delta32(cgn_ld32(af), a);
		uint32_t d_port = cgn_cksum_delta16(cgn_ld16(port), p);
		memcpy(af, &a, 4);
		memcpy(port, &p, 2);
		cgn_cks_apply(ipc, d_addr);
		cgn_cks_apply(l4c(k), d_port + (k->proto == IPPROTO_ICMP ? 0 : d_addr));
		break;
	}
	}
}

/* One random rewrite of an IPv6 packet: an address (128 bits, in the pseudo-header), a port
 * or echo identifier, or both addresses and a port at once through summed deltas. */
static void
edit6(struct pkt *k)
{
	uint8_t a[16], b[16];
	rnd_fill(a, 16);
	rnd_fill(b, 16);
	uint8_t *port = k->proto == IPPROTO_ICMPV6 ? k->l4 + 4 : k->l4 + (rnd() & 1 ? 0 : 2);
	switch (rnd() % 3) {
	case 0:
		cgn_patch128(k->ip + (rnd() & 1 ? 8 : 24), a, l4c(k), CGN_CKS_NONE);
		break;
	case 1:
		cgn_patch16(port, (uint16_t)rnd(), l4c(k), CGN_CKS_NONE);
		break;
	default: {
		uint16_t p = (uint16_t)rnd();
		uint32_t d = cgn_cksum_delta128(k->ip + 8, a) + cgn_cksum_delta128(k->ip + 24, b) +
			     cgn_cksum_delta16(cgn_ld16(port), p);
		memcpy(k->ip + 8, a, 16);
		memcpy(k->ip + 24, b, 16);
		memcpy(port, &p, 2);
		cgn_cks_apply(l4c(k), d);
		break;
	}
	}
}

TestSuite(cksum);

Test(cksum, random_ipv4_edits_match_recomputation)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_TCP, IPPROTO_ICMP };
	static struct pkt k;
	for (int i = 0; i < 3000; i++) {
		make4(&k, protos[i % 3]);
		for (int e = 0; e < 8; e++) {
			edit4(&k);
			assert_cksums(&k, false, "IPv4 edit");
		}
	}
}

Test(cksum, random_ipv6_edits_match_recomputation)
{
	static const uint8_t protos[] = { IPPROTO_UDP, IPPROTO_ICMPV6 };
	static struct pkt k;
	for (int i = 0; i < 3000; i++) {
		make6(&k, protos[i % 2]);
		for (int e = 0; e < 8; e++) {
			edit6(&k);
			assert_cksums(&k, false, "IPv6 edit");
		}
	}
}

/* RFC 768: an IPv4 UDP checksum of zero means none was computed; edits leave it zero, while
 * the header checksum still follows. */
Test(cksum, zero_udp_checksum_stays_zero)
{
	static struct pkt k;
	for (int i = 0; i < 500; i++) {
		make4(&k, IPPROTO_UDP);
		put16(k.l4 + 6, 0);
		for (int e = 0; e < 8; e++) {
			edit4(&k);
			assert_cksums(&k, true, "zero UDP checksum");
		}
	}
}

/* A UDP checksum whose computation gives zero is sent as 0xffff (RFC 768), and one that was
 * 0xffff (computed zero) updates like any other: a payload word chosen so that the new sum
 * is exactly zero, then changed back. */
Test(cksum, computed_zero_udp_checksum_is_sent_as_all_ones)
{
	static struct pkt k;
	for (int i = 0; i < 200; i++) {
		make4(&k, IPPROTO_UDP);
		k.l4_len = 10; /* header and one payload word */
		put16(k.ip + 2, (uint16_t)(k.ihl + 10));
		put16(k.l4 + 4, 10);
		put16(k.ip + 10, ref_ip4(k.ip, k.ihl));
		put16(k.l4 + 6, want_l4(&k));
		/* The word that makes the ones'-complement sum 0xffff: the checksum computes as 0. */
		uint8_t ph[12], seg[10];
		memcpy(seg, k.l4, 10);
		seg[6] = seg[7] = seg[8] = seg[9] = 0;
		uint32_t s = ref_sum(seg, 10, ref_sum(ph, ph4(ph, k.ip, IPPROTO_UDP, 10), 0));
		while (s >> 16)
			s = (s & 0xffff) + (s >> 16);
		uint16_t word = (uint16_t)~s; /* s + ~s = 0xffff */
		uint8_t old[2] = { k.l4[8], k.l4[9] };
		cgn_patch16(k.l4 + 8, htons(word), l4c(&k), CGN_CKS_NONE);
		cr_assert_eq(cgn_rd16(k.l4 + 6), 0xffff, "computed zero sent as all ones (was %04x)", cgn_rd16(k.l4 + 6));
		assert_cksums(&k, false, "computed zero");
		cgn_patch16(k.l4 + 8, cgn_ld16(old), l4c(&k), CGN_CKS_NONE);
		assert_cksums(&k, false, "from 0xffff");
	}
}

/* RFC 1624 §4: m = 0x5555 becomes 0x3285 where the rest sums to 0xCD7A; HC = 0xDD2F. Eqn. 3
 * gives 0x0000 (eqn. 2 of RFC 1141 gave the wrong 0xFFFF). For UDP a zero is sent as 0xffff. */
Test(cksum, rfc1624_example)
{
	cr_assert_eq(ntohs(cgn_cksum_update16(htons(0xDD2F), htons(0x5555), htons(0x3285))), 0x0000);

	/* The same through the patch helper, on 2-aligned words: rest, m, HC. */
	uint8_t buf[8];
	put16(buf + 2, 0xCD7A);
	put16(buf + 4, 0x5555);
	put16(buf + 6, 0xDD2F);
	cr_assert_eq(ref_fold_not(ref_sum(buf + 2, 4, 0)), 0xDD2F, "the example's HC");
	cgn_patch16(buf + 4, htons(0x3285), (struct cgn_cks){ buf + 6, false }, CGN_CKS_NONE);
	cr_assert_eq(cgn_rd16(buf + 6), 0x0000, "eqn. 3: 0x0000");
	cr_assert_eq(ref_fold_not(ref_sum(buf + 2, 4, 0)), 0x0000, "as computed from scratch");

	/* Back again from a checksum of 0x0000: not "none" outside UDP. */
	cgn_patch16(buf + 4, htons(0x5555), (struct cgn_cks){ buf + 6, false }, CGN_CKS_NONE);
	cr_assert_eq(cgn_rd16(buf + 6), 0xDD2F);

	/* UDP: the example's zero result is sent as 0xffff, and 0xffff updates back correctly. */
	cgn_patch16(buf + 4, htons(0x3285), (struct cgn_cks){ buf + 6, true }, CGN_CKS_NONE);
	cr_assert_eq(cgn_rd16(buf + 6), 0xFFFF);
	cgn_patch16(buf + 4, htons(0x5555), (struct cgn_cks){ buf + 6, true }, CGN_CKS_NONE);
	cr_assert_eq(cgn_rd16(buf + 6), 0xDD2F);

	/* UDP with 0x0000: none; the field changes, the checksum does not. */
	put16(buf + 6, 0);
	cgn_patch16(buf + 4, htons(0x1234), (struct cgn_cks){ buf + 6, true }, CGN_CKS_NONE);
	cr_assert_eq(cgn_rd16(buf + 4), 0x1234);
	cr_assert_eq(cgn_rd16(buf + 6), 0x0000);
}

/* The deltas may be summed before they are applied: 0xffff words changed to 0x0000 and back,
 * many at once, still fold right. */
Test(cksum, summed_extreme_deltas)
{
	uint8_t all1[16], all0[16] = { 0 }, buf[2 + 2 * 16 + 2];
	memset(all1, 0xff, 16);
	memcpy(buf + 2, all1, 16);
	memcpy(buf + 18, all0, 16);
	put16(buf + 34, ref_fold_not(ref_sum(buf + 2, 32, 0)));
	uint32_t d = cgn_cksum_delta128(buf + 2, all0) + cgn_cksum_delta128(buf + 18, all1);
	memcpy(buf + 2, all0, 16);
	memcpy(buf + 18, all1, 16);
	cgn_cks_apply((struct cgn_cks){ buf + 34, false }, d + d + d); /* three no-ops on top */
	cr_assert_eq(cgn_rd16(buf + 34), ref_fold_not(ref_sum(buf + 2, 32, 0)));
}

/* RFC 8200 §8.1: the pseudo-header sum, worked out by hand.
 *   2001:db8::1 → 2001:db8::2, UDP (17), 8 octets:
 *     0x2001 + 0x0db8 + 0x0001 + 0x2001 + 0x0db8 + 0x0002 + 0x0008 + 0x0011 = 0x5b8e
 *   fe80::200:ff:fe00:1 → ff02::1:ff00:1 (an NS to a solicited-node group), ICMPv6 (58), 32:
 *     0xfe80 + 0x0200 + 0x00ff + 0xfe00 + 0x0001 + 0xff02 + 0x0001 + 0xff00 + 0x0001
 *     + 0x0020 + 0x003a = 0x3fdde, folded 0x0003 + 0xfdde = 0xfde1 */
Test(cksum, ipv6_pseudo_header_by_hand)
{
	struct in6_addr s, d;
	inet_pton(AF_INET6, "2001:db8::1", &s);
	inet_pton(AF_INET6, "2001:db8::2", &d);
	cr_assert_eq(ntohs(cgn_cksum_fold(cgn_cksum_pseudo6(&s, &d, 8, IPPROTO_UDP))), 0x5b8e);

	inet_pton(AF_INET6, "fe80::200:ff:fe00:1", &s);
	inet_pton(AF_INET6, "ff02::1:ff00:1", &d);
	cr_assert_eq(ntohs(cgn_cksum_fold(cgn_cksum_pseudo6(&s, &d, 32, IPPROTO_ICMPV6))), 0xfde1);

	/* A length above 65535 (a jumbogram's 32-bit field) counts both words: 0x12345 adds 0x0001 + 0x2345. */
	uint32_t base = ntohs(cgn_cksum_fold(cgn_cksum_pseudo6(&s, &d, 0, IPPROTO_ICMPV6)));
	cr_assert_eq(ntohs(cgn_cksum_fold(cgn_cksum_pseudo6(&s, &d, 0x12345, IPPROTO_ICMPV6))),
		     (uint16_t)~ref_fold_not(base + 0x0001 + 0x2345));

	/* And as used: the ICMPv6 checksum over it equals the reference. */
	uint8_t icmp[32], ph[40], ip6[40] = { 0x60 };
	rnd_fill(icmp, sizeof(icmp));
	memcpy(ip6 + 8, &s, 16);
	memcpy(ip6 + 24, &d, 16);
	icmp[2] = icmp[3] = 0;
	uint16_t c = cgn_cksum_fold(cgn_cksum_partial(icmp, 32, cgn_cksum_pseudo6(&s, &d, 32, IPPROTO_ICMPV6)));
	c = (uint16_t)~c;
	cr_assert_eq(ntohs(c), ref_l4(ph, ph6(ph, ip6, IPPROTO_ICMPV6, 32), icmp, 32, 2, false));
}

Test(cksum, loads)
{
	uint8_t b[7] = { 0, 0x12, 0x34, 0x56, 0x78, 0, 0 };
	cr_assert_eq(cgn_rd16(b + 1), 0x1234, "host order, at an odd address");
	cr_assert_eq(ntohs(cgn_ld16(b + 1)), 0x1234, "network order as it lies");
	cr_assert_eq(ntohl(cgn_ld32(b + 1)), 0x12345678u);
}
