/*
 * ICMP error translation for stateful NAT64 (RFC 7915 §4.2/§4.3 and §5.2/§5.3, RFC 6146 §3.7):
 * see cgn_xlat_error.h for the contract and the choices. This file reads the input with
 * explicit bounds (every length it trusts is checked against len before a read) and builds the
 * result from scratch in the caller's buffer: headers written field by field, the quoted
 * transport header and data copied, then patched with incremental checksum updates (RFC 1624)
 * because the quote may be cut. The outer ICMP checksum is computed over the finished message.
 *
 * Pure, no state: any thread.
 */
#include "cgn_xlat_error.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "cgn_cksum.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "cgn_rfc6052.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The reasons cgn_rfc7915 gives convert by a cast: same names, same values. */
#define X(name, doc)                                                                             \
	_Static_assert((int)CGN_XLAT_ERR_##name == (int)CGN_RFC7915_DROP_##name,                  \
		       "cgn_xlat_err_drop must start with cgn_rfc7915_drop's values");
CGN_RFC7915_DROP_REASONS(X)
#undef X

/* ---- IPv4 (RFC 791) header fields this file reads and writes ---------------------------- */

#define IPV4_HDR_LEN 20        /* without options */
#define IPV4_VERSION 4
#define IPV4_IHL_MIN 5         /* 32-bit words */
#define IPV4_FLAG_DF 0x4000    /* flags and fragment offset share one 16-bit word */
#define IPV4_FLAG_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff

/* Offsets in the IPv4 header. */
#define IP4_TOS 1
#define IP4_TOT_LEN 2
#define IP4_ID 4
#define IP4_FRAG 6
#define IP4_TTL 8
#define IP4_PROTO 9
#define IP4_CKSUM 10
#define IP4_SRC 12
#define IP4_DST 16

/* Offsets in the IPv6 header. */
#define IP6_PLEN 4
#define IP6_NH 6
#define IP6_HLIM 7
#define IP6_SRC 8
#define IP6_DST 24

/* Offsets in the transport headers: TCP/UDP ports at 0 and 2; the checksums; the echo
 * identifier (RFC 792, RFC 4443 §4.1). */
#define L4_SPORT 0
#define L4_DPORT 2
#define TCP_CKSUM 16
#define UDP_CKSUM 6
#define ICMP_CKSUM 2
#define ECHO_ID 4
#define L4_MIN 8 /* RFC 792: the quote holds at least 8 octets of the transport header */

/* RFC 4884 length attribute: ICMPv4 octet 5 (32-bit words), ICMPv6 octet 4 (64-bit words). */
#define ICMP4_LEN_ATTR 5
#define ICMP6_LEN_ATTR 4
#define ICMP4_WORD 4
#define ICMP6_WORD 8

#define DROP(r) (-(int)CGN_XLAT_ERR_##r)

static const char *const reason_names[CGN_XLAT_ERR_COUNT] = {
	[CGN_XLAT_ERR_OK] = "OK",
#define X(name, doc) [CGN_XLAT_ERR_##name] = #name,
	CGN_XLAT_ERR_DROP_REASONS(X)
#undef X
};

static const char *const reason_docs[CGN_XLAT_ERR_COUNT] = {
	[CGN_XLAT_ERR_OK] = "",
#define X(name, doc) [CGN_XLAT_ERR_##name] = doc,
	CGN_XLAT_ERR_DROP_REASONS(X)
#undef X
};

const char *
cgn_xlat_err_drop_name(enum cgn_xlat_err_drop r)
{
	return (unsigned)r < ARRAY_SIZE(reason_names) ? reason_names[r] : "?";
}

const char *
cgn_xlat_err_drop_doc(enum cgn_xlat_err_drop r)
{
	return (unsigned)r < ARRAY_SIZE(reason_docs) ? reason_docs[r] : "?";
}

/* ---- small helpers ------------------------------------------------------------------------ */

static inline void
wr16(uint8_t *p, uint16_t v) /* v in host order */
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *p, uint32_t v) /* v in host order */
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline size_t
min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* RFC 792's error types (RFC 5508 §2 lists them: 3, 4, 5, 11, 12). */
static bool
icmp4_is_error(uint8_t type)
{
	switch (type) {
	case CGN_ICMP_DEST_UNREACH:
	case CGN_ICMP_SOURCE_QUENCH:
	case CGN_ICMP_REDIRECT:
	case CGN_ICMP_TIME_EXCEEDED:
	case CGN_ICMP_PARAM_PROBLEM:
		return true;
	default:
		return false;
	}
}

/* What an IPv6 header chain holds before its upper layer. */
struct chain6 {
	size_t l4off;      /* offset of the upper-layer header from the IPv6 header */
	uint8_t proto;     /* its Next Header value */
	bool frag;         /* a Fragment header was met */
	uint16_t frag_off; /* its offset/M word (host order) */
	uint32_t frag_id;  /* its Identification (host order) */
};

/*
 * Walks the extension headers of the IPv6 packet at p (n octets readable, n >= 40) as RFC 7915
 * §5.1 and §5.1.1 have them: Hop-by-Hop (first only, RFC 8200 §4.1), Destination Options and
 * Routing with segments left 0 skipped; one Fragment header read, after which no extension
 * header but ESP may follow; the first other Next Header is the upper layer. At most
 * CGN_XLAT_ERR_MAX_EXT_HDRS headers.
 */
static int
walk6(const uint8_t *p, size_t n, struct chain6 *c)
{
	uint8_t nh = p[IP6_NH];
	size_t off = CGN_IPV6_HDR_LEN;

	c->frag = false;
	c->frag_off = 0;
	c->frag_id = 0;
	for (unsigned i = 0; i <= CGN_XLAT_ERR_MAX_EXT_HDRS; i++) {
		switch (nh) {
		case CGN_IPV6_NH_HOPOPTS:
		case CGN_IPV6_NH_DSTOPTS:
		case CGN_IPV6_NH_ROUTING: {
			if (c->frag || (nh == CGN_IPV6_NH_HOPOPTS && i != 0))
				return DROP(EXT_HEADER);
			if (n - off < 8) /* every one of these is at least 8 octets */
				return DROP(TRUNCATED);
			size_t hlen = ((size_t)p[off + 1] + 1) * 8;
			/* §5.1: a Routing header "with a non-zero Segments Left field": not translated
			 * (octet 3 of the header). */
			if (nh == CGN_IPV6_NH_ROUTING && p[off + 3] != 0)
				return DROP(EXT_HEADER);
			if (hlen > n - off)
				return DROP(TRUNCATED);
			nh = p[off];
			off += hlen;
			break;
		}
		case CGN_IPV6_NH_FRAGMENT:
			if (c->frag)
				return DROP(EXT_HEADER);
			if (n - off < CGN_IPV6_FRAG_HDR_LEN)
				return DROP(TRUNCATED);
			c->frag = true;
			c->frag_off = cgn_rd16(p + off + 2);
			c->frag_id = rd32(p + off + 4);
			nh = p[off];
			off += CGN_IPV6_FRAG_HDR_LEN;
			break;
		default:
			/* §5.1.1: "If the Next Header field of the Fragment Header is an extension header
			 * (except ESP, but including the Authentication Header (AH)), then the packet
			 * SHOULD be dropped". Without a Fragment header, AH, ESP and the others are the
			 * "first 'next header' that does not match": an upper layer no mapping owns. */
			if (c->frag && nh != CGN_IPV6_NH_ESP && cgn_ipv6_is_ext_header(nh))
				return DROP(EXT_HEADER);
			c->proto = nh;
			c->l4off = off;
			return 0;
		}
	}
	return DROP(EXT_HEADER);
}

/*
 * How the "original datagram" field and an RFC 4884 extension are laid out in the result:
 * data_len octets of translated quote, ext_len of extension in the input, room octets for
 * both, word the result family's length unit (or 0 where the result type carries no length
 * attribute: the extension is left out).
 */
struct body {
	size_t copy;   /* translated quote octets written */
	size_t field;  /* the field with its zero padding */
	size_t ext;    /* extension octets copied after it (0: none) */
	uint8_t attr;  /* the length attribute to write (0: no extension) */
};

static void
plan_body(size_t data_len, size_t ext_len, size_t word, size_t room, struct body *b)
{
	/* RFC 4884 §3: with an extension the field "MUST contain at least 128 octets" and is
	 * "zero padded to the nearest 32-bit [ICMPv4] / 64-bit [ICMPv6] boundary". Left out when it
	 * does not fit whole next to the 128 octets (cgn_xlat_error.h says why). */
	if (word != 0 && ext_len > 0 && ext_len <= room && room - ext_len >= CGN_XLAT_ERR_4884_MIN) {
		size_t padded = (data_len + word - 1) / word * word;
		size_t most = (room - ext_len) / word * word;
		if (padded < CGN_XLAT_ERR_4884_MIN)
			padded = CGN_XLAT_ERR_4884_MIN;
		b->field = min_sz(padded, most);
		b->copy = min_sz(data_len, b->field);
		b->ext = ext_len;
		b->attr = (uint8_t)(b->field / word); /* <= 1232 / 8 or 548 / 4: fits */
		return;
	}
	b->field = b->copy = min_sz(data_len, room);
	b->ext = 0;
	b->attr = 0;
}

/* Writes the body planned in b at dst: the translated quote is already there (b->copy
 * octets); zero padding up to b->field, then the extension. */
static void
finish_body(uint8_t *dst, const struct body *b, const uint8_t *ext)
{
	memset(dst + b->copy, 0, b->field - b->copy);
	if (b->ext)
		memcpy(dst + b->field, ext, b->ext);
}

/* The kinds of quoted transport the NAT64 translates. */
enum quote_kind { Q_TCP, Q_UDP, Q_ECHO };

/*
 * Patches the quoted transport header at l4 (n >= 8 octets of it in the result): the NAT64's
 * port at port_off (TCP/UDP) or the echo identifier becomes new_port (host order); an echo's
 * type becomes echo_type. The checksum, when the quote still carries it, takes delta (the
 * pseudo-header's change, computed by the caller) and the changes made here (RFC 1624).
 */
static void
patch_l4(uint8_t *l4, size_t n, enum quote_kind k, size_t port_off, uint16_t new_port, uint8_t echo_type,
	 uint32_t delta)
{
	uint16_t port_be = htons(new_port);
	size_t ck_off;
	bool udp = false;

	switch (k) {
	case Q_TCP:
		ck_off = TCP_CKSUM;
		break;
	case Q_UDP:
		ck_off = UDP_CKSUM;
		udp = true;
		break;
	default:
		ck_off = ICMP_CKSUM;
		break;
	}
	if (k == Q_ECHO) {
		uint16_t w0_old = cgn_ld16(l4);
		l4[0] = echo_type;
		delta += cgn_cksum_delta16(w0_old, cgn_ld16(l4));
		port_off = ECHO_ID;
	}
	delta += cgn_cksum_delta16(cgn_ld16(l4 + port_off), port_be);
	memcpy(l4 + port_off, &port_be, 2);
	/* A quote cut inside the TCP header (RFC 792's 8 octets) has no checksum to fix. A UDP
	 * checksum of zero stays zero (cgn_cks_apply). */
	if (n >= ck_off + 2)
		cgn_cks_apply((struct cgn_cks){ l4 + ck_off, udp }, delta);
}

/* Reads and checks the quoted transport header: kind, and the NAT64-side port or identifier
 * (at port_off for TCP/UDP) against want (host order). echo_req/echo_rep: the family's echo
 * types; is_error: the family's error test. */
static int
quote_kind(const uint8_t *l4, uint8_t proto, uint8_t icmp_proto, size_t port_off, uint16_t want,
	   bool (*is_error)(uint8_t), uint8_t echo_req, uint8_t echo_rep, enum quote_kind *k)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		*k = proto == IPPROTO_TCP ? Q_TCP : Q_UDP;
		return cgn_rd16(l4 + port_off) == want ? 0 : DROP(INNER_MISMATCH);
	}
	if (proto != icmp_proto)
		return DROP(NOT_TRANSLATABLE);
	/* RFC 6146 §3.4: "an ICMP error message containing an ICMP error message, then the packet
	 * is silently discarded"; RFC 7915 §4.3, §5.3: "stop at the first embedded header". */
	if (is_error(l4[0]))
		return DROP(NESTED_ERROR);
	if (l4[0] != echo_req && l4[0] != echo_rep)
		return DROP(NOT_TRANSLATABLE);
	*k = Q_ECHO;
	return cgn_rd16(l4 + ECHO_ID) == want ? 0 : DROP(INNER_MISMATCH);
}

static bool
icmp6_is_error(uint8_t type)
{
	return cgn_icmp6_is_error(type);
}

/* ---- 4 -> 6 --------------------------------------------------------------------------------- */

int
cgn_xlat_error_4to6(const uint8_t *ip4, size_t len, const struct cgn_xlat_err46 *x, uint8_t *out, size_t cap,
		    size_t *out_len)
{
	struct cgn_rfc7915_icmp m;
	enum cgn_rfc7915_drop r;
	int rc;

	/* The outer IPv4 header. */
	if (len < IPV4_HDR_LEN)
		return DROP(TRUNCATED);
	if (ip4[0] >> 4 != IPV4_VERSION || (ip4[0] & 0x0f) < IPV4_IHL_MIN)
		return DROP(MALFORMED);
	size_t ihl = (size_t)(ip4[0] & 0x0f) * 4;
	size_t tot = cgn_rd16(ip4 + IP4_TOT_LEN);
	if (ihl > len || tot > len)
		return DROP(TRUNCATED);
	if (tot < ihl)
		return DROP(MALFORMED);
	if (cgn_cksum(ip4, ihl) != 0)
		return DROP(BAD_CHECKSUM);
	if (cgn_rd16(ip4 + IP4_FRAG) & (IPV4_FLAG_MF | IPV4_OFFSET_MASK))
		return DROP(FRAGMENT);
	if (ip4[IP4_PROTO] != IPPROTO_ICMP)
		return DROP(NOT_ERROR);
	if (cgn_rfc7915_source_route_unexpired(ip4 + IPV4_HDR_LEN, ihl - IPV4_HDR_LEN))
		return DROP(SOURCE_ROUTE);
	uint8_t hlim;
	if (cgn_rfc7915_hop_limit(ip4[IP4_TTL], false, &hlim) != 0)
		return DROP(HOP_LIMIT);
	if (cgn_ld32(ip4 + IP4_DST) != x->ext_addr)
		return DROP(OUTER_MISMATCH);

	/* The ICMPv4 message: checksum first (a corrupt message never leaves as a valid one). */
	const uint8_t *icmp = ip4 + ihl;
	size_t icmp_len = tot - ihl;
	if (icmp_len < CGN_ICMP_HDR_LEN)
		return DROP(TRUNCATED);
	if (cgn_cksum(icmp, icmp_len) != 0)
		return DROP(BAD_CHECKSUM);
	r = cgn_rfc7915_icmp_4to6(icmp[0], icmp[1], &m);
	if (r != CGN_RFC7915_OK)
		return -(int)r;
	if (m.rest == CGN_RFC7915_REST_COPY)
		return DROP(NOT_ERROR);

	/* The "original datagram" field, and an RFC 4884 extension after it (ICMPv4 types 3, 11
	 * and 12 carry the length attribute, octet 5, in 32-bit words). */
	const uint8_t *q = icmp + CGN_ICMP_HDR_LEN;
	size_t qspace = icmp_len - CGN_ICMP_HDR_LEN;
	size_t field = qspace;
	uint8_t attr = icmp[ICMP4_LEN_ATTR];
	if (attr != 0) {
		if ((size_t)attr * ICMP4_WORD > qspace)
			return DROP(EXTENSION);
		field = (size_t)attr * ICMP4_WORD;
	}
	const uint8_t *ext = q + field;
	size_t ext_len = qspace - field;

	/* The quoted IPv4 header. */
	if (field < IPV4_HDR_LEN)
		return DROP(TRUNCATED);
	if (q[0] >> 4 != IPV4_VERSION || (q[0] & 0x0f) < IPV4_IHL_MIN)
		return DROP(MALFORMED);
	size_t qihl = (size_t)(q[0] & 0x0f) * 4;
	size_t qtot = cgn_rd16(q + IP4_TOT_LEN);
	if (qihl > field)
		return DROP(TRUNCATED);
	if (qtot < qihl)
		return DROP(MALFORMED);
	/* What the quote carries of the datagram: never more than its own Total Length (the rest
	 * is RFC 4884 padding or junk). */
	size_t carried = min_sz(field, qtot) - qihl;
	if (carried < L4_MIN)
		return DROP(TRUNCATED);
	uint16_t qfrag = cgn_rd16(q + IP4_FRAG);
	if (qfrag & IPV4_OFFSET_MASK)
		return DROP(INNER_FRAGMENT); /* no transport header: no tuple (RFC 6146 §3.4) */
	bool qmf = (qfrag & IPV4_FLAG_MF) != 0;
	if (cgn_ld32(q + IP4_SRC) != x->ext_addr)
		return DROP(INNER_MISMATCH);
	const uint8_t *l4 = q + qihl;
	enum quote_kind k;
	rc = quote_kind(l4, q[IP4_PROTO], IPPROTO_ICMP, L4_SPORT, x->ext_port, icmp4_is_error, CGN_ICMP_ECHO,
			CGN_ICMP_ECHO_REPLY, &k);
	if (rc != 0)
		return rc;
	if (k == Q_ECHO && qmf)
		return DROP(INNER_FRAGMENT);

	/* The addresses: the router's source and the quoted destination under Pref64. */
	struct cgn_addr src6, qdst6;
	struct cgn_addr src4 = cgn_addr_from_v4(cgn_ld32(ip4 + IP4_SRC));
	struct cgn_addr qdst4 = cgn_addr_from_v4(cgn_ld32(q + IP4_DST));
	struct cgn_addr qsrc4 = cgn_addr_from_v4(x->ext_addr);
	if (cgn_rfc6052_embed(x->pref64, &src4, &src6) != 0 || cgn_rfc6052_embed(x->pref64, &qdst4, &qdst6) != 0)
		return DROP(NOT_PREF64);

	/* The type's rest of header (before anything is written). */
	uint32_t rest6 = 0;
	size_t word = 0; /* the ICMPv6 length unit where an extension may follow */
	switch (m.rest) {
	case CGN_RFC7915_REST_LENGTH:
		word = ICMP6_WORD;
		break;
	case CGN_RFC7915_REST_MTU:
		rest6 = cgn_rfc7915_ptb_mtu_4to6(cgn_rd16(icmp + 6), x->mtu6_nexthop, x->mtu4_nexthop,
						 (uint16_t)qtot);
		break;
	case CGN_RFC7915_REST_POINTER:
		r = cgn_rfc7915_pointer_4to6(icmp[CGN_RFC7915_PTR4_OFFSET], &rest6);
		if (r != CGN_RFC7915_OK)
			return -(int)r;
		break;
	case CGN_RFC7915_REST_POINTER_SET:
		rest6 = m.pointer;
		break;
	default: /* ZERO (not produced 4->6) */
		break;
	}

	/* Sizes. */
	size_t frag6 = qmf ? CGN_IPV6_FRAG_HDR_LEN : 0;
	size_t qhdr6 = CGN_IPV6_HDR_LEN + frag6;
	size_t limit = min_sz(cap, CGN_XLAT_ERR_MAX6);
	size_t fixed = CGN_IPV6_HDR_LEN + CGN_ICMP6_HDR_LEN;
	if (limit < fixed + qhdr6 + L4_MIN)
		return DROP(NO_ROOM);
	struct body b;
	plan_body(qhdr6 + carried, ext_len, word, limit - fixed, &b);
	size_t icmp6_len = CGN_ICMP6_HDR_LEN + b.field + b.ext;

	/* The outer IPv6 header (RFC 7915 §4.1). */
	uint8_t tc = cgn_rfc7915_tc_4to6(ip4[IP4_TOS], x->reset_tc);
	out[0] = (uint8_t)(CGN_IPV6_VERSION << 4 | tc >> 4);
	out[1] = (uint8_t)(tc << 4); /* flow label 0 */
	out[2] = out[3] = 0;
	wr16(out + IP6_PLEN, (uint16_t)icmp6_len);
	out[IP6_NH] = IPPROTO_ICMPV6;
	out[IP6_HLIM] = hlim;
	memcpy(out + IP6_SRC, src6.b, 16);
	memcpy(out + IP6_DST, x->int_addr.b, 16);

	/* The ICMPv6 header. */
	uint8_t *icmp6 = out + CGN_IPV6_HDR_LEN;
	icmp6[0] = m.type;
	icmp6[1] = m.code;
	icmp6[2] = icmp6[3] = 0;
	wr32(icmp6 + 4, rest6);
	if (b.attr)
		icmp6[ICMP6_LEN_ATTR] = b.attr;

	/* The quoted packet as IPv6 (§4.3: "translated just like a normal IP packet", its TTL
	 * kept), lengths those of the original datagram (§4.1 Payload Length). */
	uint8_t *q6 = icmp6 + CGN_ICMP6_HDR_LEN;
	uint8_t qtc = cgn_rfc7915_tc_4to6(q[IP4_TOS], x->reset_tc);
	uint8_t qproto = q[IP4_PROTO] == IPPROTO_ICMP ? IPPROTO_ICMPV6 : q[IP4_PROTO];
	q6[0] = (uint8_t)(CGN_IPV6_VERSION << 4 | qtc >> 4);
	q6[1] = (uint8_t)(qtc << 4);
	q6[2] = q6[3] = 0;
	wr16(q6 + IP6_PLEN, (uint16_t)(qtot - qihl + frag6)); /* <= 65535 - 20 + 8 */
	q6[IP6_NH] = qmf ? CGN_IPV6_NH_FRAGMENT : qproto;
	q6[IP6_HLIM] = q[IP4_TTL];
	memcpy(q6 + IP6_SRC, x->int_addr.b, 16);
	memcpy(q6 + IP6_DST, qdst6.b, 16);
	if (qmf) {
		/* §4.1 Fragment header: offset (0 here) and M copied, Identification = the IPv4 ID
		 * in the low 16 bits. */
		uint8_t *fh = q6 + CGN_IPV6_HDR_LEN;
		fh[0] = qproto;
		fh[1] = 0;
		wr16(fh + 2, CGN_IPV6_FRAG_MORE);
		wr32(fh + 4, cgn_rd16(q + IP4_ID));
	}
	size_t l4_out = b.copy - qhdr6; /* >= 8: limit checked above */
	memcpy(q6 + qhdr6, l4, l4_out);

	/* The quoted transport: the pseudo-header's addresses change (TCP, UDP: the same length
	 * and protocol sum in both families), the NAT64's port goes back to int_port; an echo
	 * gains ICMPv6's pseudo-header over the original upper-layer length (RFC 4443 §2.3). */
	uint32_t delta;
	if (k == Q_ECHO)
		delta = cgn_cksum_pseudo6(x->int_addr.b, qdst6.b, (uint32_t)(qtot - qihl), IPPROTO_ICMPV6);
	else
		delta = cgn_cksum_delta128(qsrc4.b, x->int_addr.b) + cgn_cksum_delta128(qdst4.b, qdst6.b);
	patch_l4(q6 + qhdr6, l4_out, k, L4_SPORT, x->int_port,
		 l4[0] == CGN_ICMP_ECHO ? CGN_ICMP6_ECHO_REQUEST : CGN_ICMP6_ECHO_REPLY, delta);

	finish_body(q6, &b, ext);

	/* The ICMPv6 checksum over the pseudo-header and the whole message (RFC 4443 §2.3). */
	uint16_t ck = (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(
		icmp6, icmp6_len, cgn_cksum_pseudo6(out + IP6_SRC, out + IP6_DST, (uint32_t)icmp6_len, IPPROTO_ICMPV6)));
	memcpy(icmp6 + 2, &ck, 2);

	*out_len = CGN_IPV6_HDR_LEN + icmp6_len;
	return 0;
}

/* ---- 6 -> 4 --------------------------------------------------------------------------------- */

/* Writes a 20-octet IPv4 header at h, its checksum included. Values in host order but the
 * addresses (network order). */
static void
write_ipv4(uint8_t *h, uint8_t tos, size_t tot, uint16_t id, uint16_t frag, uint8_t ttl, uint8_t proto,
	   uint32_t src_be, uint32_t dst_be)
{
	h[0] = IPV4_VERSION << 4 | IPV4_IHL_MIN;
	h[IP4_TOS] = tos;
	wr16(h + IP4_TOT_LEN, (uint16_t)tot);
	wr16(h + IP4_ID, id);
	wr16(h + IP4_FRAG, frag);
	h[IP4_TTL] = ttl;
	h[IP4_PROTO] = proto;
	h[IP4_CKSUM] = h[IP4_CKSUM + 1] = 0;
	memcpy(h + IP4_SRC, &src_be, 4);
	memcpy(h + IP4_DST, &dst_be, 4);
	uint16_t ck = cgn_cksum(h, IPV4_HDR_LEN);
	memcpy(h + IP4_CKSUM, &ck, 2);
}

int
cgn_xlat_error_6to4(const uint8_t *ip6, size_t len, const struct cgn_xlat_err64 *x, uint8_t *out, size_t cap,
		    size_t *out_len)
{
	struct cgn_rfc7915_icmp m;
	enum cgn_rfc7915_drop r;
	struct chain6 c, qc;
	int rc;

	/* The outer IPv6 header and its extension headers. */
	if (len < CGN_IPV6_HDR_LEN)
		return DROP(TRUNCATED);
	if (ip6[0] >> 4 != CGN_IPV6_VERSION)
		return DROP(MALFORMED);
	size_t plen = cgn_rd16(ip6 + IP6_PLEN);
	if (plen == 0)
		return DROP(MALFORMED); /* a jumbogram (RFC 2675), or nothing */
	if (plen > len - CGN_IPV6_HDR_LEN)
		return DROP(TRUNCATED);
	size_t pkt_len = CGN_IPV6_HDR_LEN + plen;
	rc = walk6(ip6, pkt_len, &c);
	if (rc != 0)
		return rc;
	if (c.frag)
		return DROP(FRAGMENT);
	if (c.proto != IPPROTO_ICMPV6)
		return DROP(NOT_ERROR);
	uint8_t ttl;
	if (cgn_rfc7915_hop_limit(ip6[IP6_HLIM], false, &ttl) != 0)
		return DROP(HOP_LIMIT);

	/* The ICMPv6 message: checksum over the pseudo-header first. */
	const uint8_t *icmp = ip6 + c.l4off;
	size_t icmp_len = pkt_len - c.l4off;
	if (icmp_len < CGN_ICMP6_HDR_LEN)
		return DROP(TRUNCATED);
	if (cgn_cksum_fold(cgn_cksum_partial(icmp, icmp_len,
					     cgn_cksum_pseudo6(ip6 + IP6_SRC, ip6 + IP6_DST, (uint32_t)icmp_len,
							       IPPROTO_ICMPV6))) != 0xffff)
		return DROP(BAD_CHECKSUM);
	r = cgn_rfc7915_icmp_6to4(icmp[0], icmp[1], &m);
	if (r != CGN_RFC7915_OK)
		return -(int)r;
	if (m.rest == CGN_RFC7915_REST_COPY)
		return DROP(NOT_ERROR);

	/* The remote: the outer destination, under Pref64. */
	struct cgn_addr dst6, dst4;
	memcpy(dst6.b, ip6 + IP6_DST, 16);
	if (cgn_rfc6052_extract(x->pref64, &dst6, &dst4) != 0)
		return DROP(NOT_PREF64);
	uint32_t remote = cgn_addr_v4(&dst4);

	/* The "original datagram" field and an RFC 4884 extension (ICMPv6 types 1 and 3: octet 4,
	 * 64-bit words; Packet Too Big and Parameter Problem have none, RFC 4884 §4.6). */
	const uint8_t *q = icmp + CGN_ICMP6_HDR_LEN;
	size_t qspace = icmp_len - CGN_ICMP6_HDR_LEN;
	size_t field = qspace;
	if (icmp[0] == CGN_ICMP6_DST_UNREACH || icmp[0] == CGN_ICMP6_TIME_EXCEEDED) {
		uint8_t attr = icmp[ICMP6_LEN_ATTR];
		if (attr != 0) {
			if ((size_t)attr * ICMP6_WORD > qspace)
				return DROP(EXTENSION);
			field = (size_t)attr * ICMP6_WORD;
		}
	}
	const uint8_t *ext = q + field;
	size_t ext_len = qspace - field;

	/* The quoted IPv6 header: from the remote (the error's destination), to int_addr. */
	if (field < CGN_IPV6_HDR_LEN)
		return DROP(TRUNCATED);
	if (q[0] >> 4 != CGN_IPV6_VERSION)
		return DROP(MALFORMED);
	size_t qplen = cgn_rd16(q + IP6_PLEN);
	if (qplen == 0)
		return DROP(MALFORMED);
	if (memcmp(q + IP6_SRC, dst6.b, 16) != 0)
		return DROP(OUTER_MISMATCH);
	if (memcmp(q + IP6_DST, x->int_addr.b, 16) != 0)
		return DROP(INNER_MISMATCH);
	size_t qcarried = min_sz(field, CGN_IPV6_HDR_LEN + qplen); /* header included */
	rc = walk6(q, qcarried, &qc);
	if (rc != 0)
		return rc;
	size_t qext = qc.l4off - CGN_IPV6_HDR_LEN; /* extension headers, the Fragment header included */
	if (qplen < qext)
		return DROP(MALFORMED);
	size_t upper_len = qplen - qext; /* the original transport length */
	if (upper_len > UINT16_MAX - IPV4_HDR_LEN)
		return DROP(NOT_TRANSLATABLE); /* no IPv4 Total Length can say it */
	size_t carried = qcarried - qc.l4off;
	if (carried < L4_MIN)
		return DROP(TRUNCATED);
	if (qc.frag && (qc.frag_off & CGN_IPV6_FRAG_OFFSET_MASK))
		return DROP(INNER_FRAGMENT);
	const uint8_t *l4 = q + qc.l4off;
	enum quote_kind k;
	rc = quote_kind(l4, qc.proto, IPPROTO_ICMPV6, L4_DPORT, x->int_port, icmp6_is_error, CGN_ICMP6_ECHO_REQUEST,
			CGN_ICMP6_ECHO_REPLY, &k);
	if (rc != 0)
		return rc;
	if (k == Q_ECHO && qc.frag)
		return DROP(INNER_FRAGMENT);

	/* The type's rest of header. */
	uint8_t rest4[4] = { 0, 0, 0, 0 };
	size_t word = 0;
	switch (m.rest) {
	case CGN_RFC7915_REST_LENGTH:
		word = ICMP4_WORD;
		break;
	case CGN_RFC7915_REST_MTU: {
		uint16_t mtu4;
		r = cgn_rfc7915_ptb_mtu_6to4(rd32(icmp + 4), x->mtu4_nexthop, x->mtu6_nexthop, qc.frag, &mtu4);
		if (r != CGN_RFC7915_OK)
			return -(int)r;
		wr16(rest4 + 2, mtu4);
		break;
	}
	case CGN_RFC7915_REST_POINTER:
		r = cgn_rfc7915_pointer_6to4(rd32(icmp + CGN_RFC7915_PTR6_OFFSET), &rest4[0]);
		if (r != CGN_RFC7915_OK)
			return -(int)r;
		break;
	default: /* ZERO; POINTER_SET is not produced 6->4 */
		break;
	}

	/* Sizes. */
	size_t limit = min_sz(cap, CGN_XLAT_ERR_MAX4);
	size_t fixed = IPV4_HDR_LEN + CGN_ICMP_HDR_LEN;
	if (limit < fixed + IPV4_HDR_LEN + L4_MIN)
		return DROP(NO_ROOM);
	struct body b;
	plan_body(IPV4_HDR_LEN + carried, ext_len, word, limit - fixed, &b);
	size_t icmp4_len = CGN_ICMP_HDR_LEN + b.field + b.ext;
	size_t tot = IPV4_HDR_LEN + icmp4_len;

	/* The outer IPv4 header (RFC 7915 §5.1). */
	uint8_t tos = cgn_rfc7915_tos_6to4((uint8_t)(cgn_rd16(ip6) >> 4), x->reset_tos, x->new_tos);
	write_ipv4(out, tos, tot, x->ip_id, cgn_rfc7915_df_6to4((uint32_t)tot, false) ? IPV4_FLAG_DF : 0, ttl,
		   IPPROTO_ICMP, x->ext_addr, remote);

	/* The ICMPv4 header. */
	uint8_t *icmp4 = out + IPV4_HDR_LEN;
	icmp4[0] = m.type;
	icmp4[1] = m.code;
	icmp4[2] = icmp4[3] = 0;
	memcpy(icmp4 + 4, rest4, 4);
	if (b.attr)
		icmp4[ICMP4_LEN_ATTR] = b.attr;

	/* The quoted packet as IPv4 (§5.3, §5.1, §5.1.1): Total Length from the original payload
	 * length less the extension headers; a fragment keeps its ID, MF and offset (DF clear),
	 * another has DF by §5.1 and ID 0 (its IPv4 form never had one). */
	uint8_t *q4 = icmp4 + CGN_ICMP_HDR_LEN;
	uint8_t qtos = cgn_rfc7915_tos_6to4((uint8_t)(cgn_rd16(q) >> 4), x->reset_tos, x->new_tos);
	size_t qtot4 = IPV4_HDR_LEN + upper_len;
	uint16_t qid = 0, qfrag;
	if (qc.frag) {
		qid = (uint16_t)qc.frag_id;
		qfrag = (uint16_t)((qc.frag_off & CGN_IPV6_FRAG_MORE ? IPV4_FLAG_MF : 0) |
				   (qc.frag_off & CGN_IPV6_FRAG_OFFSET_MASK) >> 3);
	} else {
		qfrag = cgn_rfc7915_df_6to4((uint32_t)qtot4, false) ? IPV4_FLAG_DF : 0;
	}
	uint8_t qproto = qc.proto == IPPROTO_ICMPV6 ? IPPROTO_ICMP : qc.proto;
	write_ipv4(q4, qtos, qtot4, qid, qfrag, q[IP6_HLIM], qproto, remote, x->ext_addr);
	size_t l4_out = b.copy - IPV4_HDR_LEN; /* >= 8 */
	memcpy(q4 + IPV4_HDR_LEN, l4, l4_out);

	/* The quoted transport: addresses in the pseudo-header, int_port -> ext_port; an echo
	 * loses ICMPv6's pseudo-header (subtracting a sum is adding its complement). */
	struct cgn_addr qsrc4 = cgn_addr_from_v4(remote), qdst4 = cgn_addr_from_v4(x->ext_addr);
	uint32_t delta;
	if (k == Q_ECHO)
		delta = (uint16_t)~cgn_cksum_fold(
			cgn_cksum_pseudo6(q + IP6_SRC, q + IP6_DST, (uint32_t)upper_len, IPPROTO_ICMPV6));
	else
		delta = cgn_cksum_delta128(q + IP6_SRC, qsrc4.b) + cgn_cksum_delta128(q + IP6_DST, qdst4.b);
	patch_l4(q4 + IPV4_HDR_LEN, l4_out, k, L4_DPORT, x->ext_port,
		 l4[0] == CGN_ICMP6_ECHO_REQUEST ? CGN_ICMP_ECHO : CGN_ICMP_ECHO_REPLY, delta);

	finish_body(q4, &b, ext);

	/* The ICMPv4 checksum over the message (RFC 792: no pseudo-header). */
	uint16_t ck = cgn_cksum(icmp4, icmp4_len);
	memcpy(icmp4 + 2, &ck, 2);

	*out_len = tot;
	return 0;
}
