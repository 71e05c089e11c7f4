/*
 * Step "translate" of NAT44 (the family steps of pipeline.h): rewrites addresses, ports and echo identifiers in place, each through a
 * patch helper that fixes every checksum covering the field in the same call (RFC 1624; pf's
 * pf_patch_16/pf_cksum_fixup):
 *   an IPv4 address: the IP header checksum and the TCP/UDP pseudo-header checksum;
 *   a port: the TCP/UDP checksum; an echo identifier: the ICMP checksum;
 *   anything inside an ICMP error's quoted packet: also the outer ICMP checksum (RFC 5508).
 * An ordinary packet (the fast path) has its address, port and TTL changed at once: the
 * changes are summed and each checksum is updated once (RFC 1624 eqn. 3 over several words).
 * UDP's zero checksum means "none" and stays zero (RFC 768); a computed zero is sent as 0xffff.
 * Worker context.
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_tcp.h>
#include <rte_udp.h>

#include "cgn_cksum.h"
#include "cgn_pkt_edit.h"
#include "cgn_proto.h"
#include "pipeline.h"

/* The transport checksum of a header of proto with len octets present, or CGN_CKS_NONE. */
static struct cgn_cks
l4_cks(uint8_t proto, uint8_t *l4, uint16_t len)
{
	switch (proto) {
	case IPPROTO_TCP:
		return len >= 18 ? (struct cgn_cks){ l4 + 16, false } : CGN_CKS_NONE;
	case IPPROTO_UDP:
		return len >= 8 ? (struct cgn_cks){ l4 + 6, true } : CGN_CKS_NONE;
	case IPPROTO_ICMP:
		return len >= 4 ? (struct cgn_cks){ l4 + 2, false } : CGN_CKS_NONE;
	default:
		return CGN_CKS_NONE;
	}
}

/* The field that carries the flow's port at one end: source (src) or destination. ICMP echo
 * has one identifier for both ends. */
static void *
port_field(uint8_t proto, uint8_t *l4, bool src)
{
	if (proto == IPPROTO_ICMP)
		return l4 + 4;
	return l4 + (src ? 0 : 2);
}

/* Offsets in struct rte_ipv4_hdr. */
#define IP_CKSUM 10
#define IP_SRC 12
#define IP_DST 16

/* The word of the IPv4 header holding the TTL (and the protocol), with the TTL one less. */
static inline uint16_t
ttl_word_less_one(const uint8_t *ip)
{
	/* Built in a register and stored whole: a byte store then a 16-bit reload of the same
	 * word would miss store-to-load forwarding and stall. */
	uint8_t word[2] = { (uint8_t)(ip[8] - 1), ip[9] };
	uint16_t w;
	memcpy(&w, word, 2);
	return w;
}

/* Rewrites one end (src or dst) of an ordinary packet to (addr, port), and decrements its
 * TTL if ttl (the caller checked it is above 1; a hairpinned packet's was, translating out). */
static void
rewrite(struct cgn_pkt *p, bool src, uint32_t addr, uint16_t port, bool ttl)
{
	uint8_t *ip = (uint8_t *)p->ip4;
	void *addr_field = ip + (src ? IP_SRC : IP_DST);
	void *port_f = port_field(p->proto, p->l4, src);
	uint16_t ttl_old = cgn_ld16(ip + 8), ttl_new = ttl ? ttl_word_less_one(ip) : ttl_old;
	uint32_t a_old = cgn_ld32(addr_field);
	uint16_t port_old = cgn_ld16(port_f), port_new = rte_cpu_to_be_16(port);
	uint32_t d_addr = cgn_cksum_delta32(a_old, addr);

	memcpy(ip + 8, &ttl_new, 2);
	memcpy(addr_field, &addr, 4);
	memcpy(port_f, &port_new, 2);
	cgn_cks_apply((struct cgn_cks){ ip + IP_CKSUM, false }, d_addr + cgn_cksum_delta16(ttl_old, ttl_new));
	/* ICMP has no pseudo-header: its checksum does not cover the addresses. */
	uint32_t d_l4 = cgn_cksum_delta16(port_old, port_new) + (p->proto == IPPROTO_ICMP ? 0 : d_addr);
	cgn_cks_apply(l4_cks(p->proto, p->l4, p->l4_len), d_l4);
}

void
cgn_translate44_fragment(struct cgn_pkt *p, uint32_t src, uint32_t dst)
{
	/* No transport header here: the first fragment's carried the whole datagram's change. */
	uint8_t *ip = (uint8_t *)p->ip4;
	uint16_t ttl_old = cgn_ld16(ip + 8), ttl_new = ttl_word_less_one(ip);
	uint32_t d = cgn_cksum_delta32(cgn_ld32(ip + IP_SRC), src) + cgn_cksum_delta32(cgn_ld32(ip + IP_DST), dst) +
		     cgn_cksum_delta16(ttl_old, ttl_new);
	memcpy(ip + 8, &ttl_new, 2);
	memcpy(ip + IP_SRC, &src, 4);
	memcpy(ip + IP_DST, &dst, 4);
	cgn_cks_apply((struct cgn_cks){ ip + IP_CKSUM, false }, d);
}

/*
 * Rewrites an ICMP error: the outer address (outer_src: its source, else its destination)
 * and the quoted packet's end that is ours (quoted_src: its source, else its destination).
 */
static void
rewrite_error(struct cgn_pkt *p, bool outer_src, bool quoted_src, uint32_t addr, uint16_t port)
{
	uint8_t *ip = (uint8_t *)p->ip4, *eip = (uint8_t *)p->emb_ip4;
	struct cgn_cks ipc = { ip + IP_CKSUM, false };
	struct cgn_cks icmp = { p->l4 + 2, false };
	uint16_t emb_avail = (uint16_t)(p->l4_len - 8 - (uint16_t)(p->emb_l4 - eip));
	struct cgn_cks emb_ipc = { eip + IP_CKSUM, false };
	struct cgn_cks emb_l4c = l4_cks(p->proto, p->emb_l4, emb_avail);
	struct cgn_cks emb_pseudo = p->proto == IPPROTO_ICMP ? CGN_CKS_NONE : emb_l4c;

	cgn_patch32(ip + (outer_src ? IP_SRC : IP_DST), addr, ipc, CGN_CKS_NONE, CGN_CKS_NONE);

	/* The quoted header's checksums change too, and each change is a change of the outer
	 * ICMP payload: fold every one into the ICMP checksum (RFC 5508 REQ-3, REQ-4). */
	uint16_t old_emb_ipc = cgn_ld16(emb_ipc.p);
	uint16_t old_emb_l4c = emb_l4c.p ? cgn_ld16(emb_l4c.p) : 0;
	cgn_patch32(eip + (quoted_src ? IP_SRC : IP_DST), addr, emb_ipc, emb_pseudo, icmp);
	cgn_patch16(port_field(p->proto, p->emb_l4, quoted_src), rte_cpu_to_be_16(port), emb_l4c, icmp);
	cgn_cks_apply(icmp, cgn_cksum_delta16(old_emb_ipc, cgn_ld16(emb_ipc.p)));
	if (emb_l4c.p)
		cgn_cks_apply(icmp, cgn_cksum_delta16(old_emb_l4c, cgn_ld16(emb_l4c.p)));
}

/* TTL and protocol share a 16-bit word of the header checksum. */
static void
ttl_decrement(struct cgn_pkt *p)
{
	uint8_t *ip = (uint8_t *)p->ip4;
	cgn_patch16(ip + 8, ttl_word_less_one(ip), (struct cgn_cks){ ip + IP_CKSUM, false }, CGN_CKS_NONE);
}

enum cgn_verdict
cgn_translate44_out(struct cgn_worker *w, struct cgn_pkt *p)
{
	(void)w;
	const struct cgn_mapping *m = p->map;
	if (p->icmp_error) { /* from the inside, about a packet that came in: its destination was us */
		ttl_decrement(p);
		rewrite_error(p, true, false, m->ext_addr, m->ext_port);
	} else {
		rewrite(p, true, m->ext_addr, m->ext_port, true);
	}
	return CGN_CONTINUE;
}

enum cgn_verdict
cgn_translate44_in(struct cgn_worker *w, struct cgn_pkt *p)
{
	(void)w;
	const struct cgn_mapping *m = p->map;
	uint32_t internal = cgn_addr_v4(&m->int_addr);
	if (p->icmp_error) { /* from the outside, about a packet we sent: its source was us */
		ttl_decrement(p);
		rewrite_error(p, false, true, internal, m->int_port);
	} else {
		rewrite(p, false, internal, m->int_port, true);
	}
	return CGN_CONTINUE;
}

void
cgn_translate44_hairpin(struct cgn_pkt *p, const struct cgn_mapping *m)
{
	rewrite(p, false, cgn_addr_v4(&m->int_addr), m->int_port, false);
}
