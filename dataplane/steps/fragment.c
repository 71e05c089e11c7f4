/*
 * Fragments without reassembly (see fragment.h): a two-way set-associative table of datagrams
 * a worker translated (or refused) the first fragment of, with a side table of IPv6 addresses
 * beside it, and a small hold of later fragments that came first. Worker context (init/fini:
 * main lcore).
 */
#include "fragment.h"

#include <errno.h>
#include <string.h>

#include <rte_malloc.h>

#include "cgn_dataplane.h"

int
cgn_frags_init(struct cgn_frags *f)
{
	memset(f, 0, sizeof(*f));
	f->slots = rte_zmalloc("cgn_frags", sizeof(*f->slots) * CGN_FRAG_SLOTS, RTE_CACHE_LINE_SIZE);
	f->addr6 = rte_zmalloc("cgn_frags6", sizeof(*f->addr6) * CGN_FRAG_SLOTS, RTE_CACHE_LINE_SIZE);
	/* Time in the worker's milliseconds (now_ms), not TSC cycles: librte_ip_frag only
	 * compares start + max_cycles with the time it is given. */
	f->reasm = rte_ip_frag_table_create(CGN_REASM_FLOWS / CGN_REASM_BUCKET, CGN_REASM_BUCKET, CGN_REASM_FLOWS,
					    CGN_FRAG_LIFE_MS, SOCKET_ID_ANY);
	if (f->slots == NULL || f->addr6 == NULL || f->reasm == NULL) {
		rte_free(f->slots);
		rte_free(f->addr6);
		if (f->reasm)
			rte_ip_frag_table_destroy(f->reasm);
		memset(f, 0, sizeof(*f));
		return -ENOMEM;
	}
	return 0;
}

void
cgn_frags_fini(struct cgn_frags *f)
{
	for (unsigned i = 0; i < f->n_held; i++)
		rte_pktmbuf_free(f->held[i].p.m);
	if (f->reasm)
		rte_ip_frag_table_destroy(f->reasm); /* and the fragments it holds */
	rte_ip_frag_free_death_row(&f->reasm_dr, 0);
	rte_free(f->slots);
	rte_free(f->addr6);
	memset(f, 0, sizeof(*f));
}

static bool
key_eq(const struct cgn_frag_key *a, const struct cgn_frag_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->id == b->id && a->proto == b->proto && a->side == b->side;
}

/* Is entry e datagram (k, a6)? a6: the IPv6 datagram's addresses, compared with e's in the
 * side table (an IPv4 key has none). */
static bool
is_datagram(const struct cgn_frags *f, const struct cgn_frag_entry *e, const struct cgn_frag_key *k,
	    const struct cgn_frag_addr6 *a6)
{
	if (!key_eq(&e->k, k))
		return false;
	return !(k->side & CGN_FRAG_KEY_IPV6) || memcmp(&f->addr6[e - f->slots], a6, sizeof(*a6)) == 0;
}

/* Is held packet h of datagram (k, a6)? */
static bool
held_of(const struct cgn_pkt *h, const struct cgn_frag_key *k, const struct cgn_frag_addr6 *a6)
{
	if (!key_eq(&h->fkey, k))
		return false;
	return !(k->side & CGN_FRAG_KEY_IPV6) || memcmp(&h->faddr6, a6, sizeof(*a6)) == 0;
}

/* The two ways of the datagram's set. */
static struct cgn_frag_entry *
set_of(struct cgn_frags *f, const struct cgn_frag_key *k)
{
	uint64_t h = ((uint64_t)k->src << 32 | k->dst) ^ ((uint64_t)k->id << 16 | (uint64_t)k->proto << 8 | k->side);
	h *= 0x9e3779b97f4a7c15ull;
	return &f->slots[(h >> 40) & (CGN_FRAG_SLOTS - 2)];
}

/* The datagram's live entry, or NULL. */
static struct cgn_frag_entry *
find(struct cgn_frags *f, const struct cgn_frag_key *k, const struct cgn_frag_addr6 *a6, uint64_t now_ms)
{
	struct cgn_frag_entry *s = set_of(f, k);
	for (int i = 0; i < 2; i++)
		if (s[i].until_ms > now_ms && is_datagram(f, &s[i], k, a6))
			return &s[i];
	return NULL;
}

/* Where a datagram is written: its own entry, else the way that ends first (a free or
 * expired one before a live one: a live one lost this way times its fragments out). */
static struct cgn_frag_entry *
slot_for(struct cgn_frags *f, const struct cgn_frag_key *k, const struct cgn_frag_addr6 *a6, uint64_t now_ms)
{
	struct cgn_frag_entry *e = find(f, k, a6, now_ms);
	if (e)
		return e;
	struct cgn_frag_entry *s = set_of(f, k);
	return s[0].until_ms <= s[1].until_ms ? &s[0] : &s[1];
}

const struct cgn_frag_entry *
cgn_frag_record(struct cgn_worker *w, const struct cgn_pkt *p)
{
	struct cgn_frags *f = &w->frags;
	struct cgn_frag_entry *e = slot_for(f, &p->fkey, &p->faddr6, w->now_ms);
	struct cgn_frag_addr6 *a6 = &f->addr6[e - f->slots];
	*e = (struct cgn_frag_entry){ .k = p->fkey, .out_port = p->out_port, .to = p->to,
				      .until_ms = w->now_ms + CGN_FRAG_LIFE_MS };
	if (p->naf == CGN_AF_IPV4) {
		e->fate = CGN_FRAG_TO_IPV4;
		e->new_src = p->ip4->src_addr;
		e->new_dst = p->ip4->dst_addr;
		if (p->fkey.side & CGN_FRAG_KEY_IPV6)
			*a6 = p->faddr6;
	} else { /* an IPv4 datagram (fragment.h): the side table holds where it goes */
		e->fate = CGN_FRAG_TO_IPV6;
		memcpy(a6->src, p->ip6->src_addr, 16);
		memcpy(a6->dst, p->ip6->dst_addr, 16);
	}
	return e;
}

/* Takes held fragment i out of the hold, keeping the arrival order of the rest. */
static struct cgn_pkt
unhold(struct cgn_frags *f, unsigned i)
{
	struct cgn_pkt p = f->held[i].p;
	memmove(&f->held[i], &f->held[i + 1], sizeof(f->held[0]) * (f->n_held - i - 1));
	f->n_held--;
	f->n_held_side[p.side]--;
	return p;
}

/* Takes the first held fragment of datagram k at or after *i out of the hold into *out.
 * @return false when there is none left. */
static bool
take_held(struct cgn_frags *f, const struct cgn_frag_key *k, const struct cgn_frag_addr6 *a6, unsigned *i,
	  struct cgn_pkt *out)
{
	while (*i < f->n_held && !held_of(&f->held[*i].p, k, a6))
		(*i)++;
	if (*i == f->n_held)
		return false;
	*out = unhold(f, *i);
	return true;
}

void
cgn_frag_refuse(struct cgn_worker *w, const struct cgn_pkt *p)
{
	struct cgn_frags *f = &w->frags;
	const struct cgn_frag_key *k = &p->fkey;
	struct cgn_frag_entry *e = slot_for(f, k, &p->faddr6, w->now_ms);
	*e = (struct cgn_frag_entry){ .k = *k, .fate = CGN_FRAG_REFUSED, .until_ms = w->now_ms + CGN_FRAG_LIFE_MS };
	if (k->side & CGN_FRAG_KEY_IPV6)
		f->addr6[e - f->slots] = p->faddr6;
	struct cgn_pkt h;
	for (unsigned i = 0; take_held(f, k, &p->faddr6, &i, &h);)
		cgn_drop(w, &h, CGN_DROP_FRAGMENT);
}

/* Could this fragment be ours? From a subscriber (outbound) or to a pool address (inbound):
 * others would only fill the hold. */
static bool
worth_holding(const struct cgn_worker *w, const struct cgn_pkt *p)
{
	if (p->side == CGN_SIDE_OUTSIDE)
		return cgn_dataplane_in_pool(w->dp, p->ip4->dst_addr);
	struct cgn_addr src;
	if (p->af == CGN_AF_IPV6) /* to a Pref64 (classify64 said so) */
		memcpy(src.b, p->ip6->src_addr, 16);
	else
		src = cgn_addr_from_v4(p->ip4->src_addr);
	return cgn_dataplane_inside(w->dp, &src);
}

static enum cgn_verdict
hold(struct cgn_worker *w, struct cgn_pkt *p)
{
	struct cgn_frags *f = &w->frags;
	if (!worth_holding(w, p))
		return cgn_drop(w, p, p->side == CGN_SIDE_OUTSIDE ? CGN_DROP_NO_MAPPING : CGN_DROP_NOT_INSIDE);
	if (f->n_held_side[p->side] == CGN_FRAG_HELD_SIDE) { /* the oldest of this side makes room */
		unsigned i = 0;
		while (f->held[i].p.side != p->side)
			i++;
		struct cgn_pkt old = unhold(f, i);
		cgn_drop(w, &old, CGN_DROP_FRAGMENTS_FULL);
	}
	f->held[f->n_held++] = (struct cgn_frag_held){ .p = *p, .until_ms = w->now_ms + CGN_FRAG_LIFE_MS };
	f->n_held_side[p->side]++;
	w->pkt.fragments_held++;
	return CGN_CONSUMED;
}

/* Translates a later fragment with its datagram's record, to the family its first left with. */
static enum cgn_verdict
translate_later(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_frag_entry *e)
{
	if (e->fate == CGN_FRAG_REFUSED)
		return cgn_drop(w, p, CGN_DROP_FRAGMENT);
	/* RFC 1812 §4.3.2.7: no ICMP error about a non-initial fragment (RFC 4443 §2.4 leaves
	 * IPv6's to the node: none either) */
	if (p->af == CGN_AF_IPV6 ? p->ip6->hop_limits <= 1 : cgn_ttl_expires(p))
		return cgn_drop(w, p, CGN_DROP_TTL_EXPIRED);
	if (p->af == CGN_AF_IPV6) {
		cgn_translate64_fragment(w, p, e->new_src, e->new_dst); /* fate TO_IPV4: fragment.h */
	} else if (e->fate == CGN_FRAG_TO_IPV6) {
		const struct cgn_frag_addr6 *a6 = &w->frags.addr6[e - w->frags.slots];
		if (cgn_translate46_fragment(w, p, a6->src, a6->dst) != CGN_CONTINUE)
			return CGN_DROPPED;
	} else {
		cgn_translate44_fragment(p, e->new_src, e->new_dst);
	}
	p->out_port = e->out_port;
	p->to = e->to;
	w->pkt.fragments_translated++;
	return CGN_TX;
}

enum cgn_verdict
cgn_frag_later(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_frag_entry *e = find(&w->frags, &p->fkey, &p->faddr6, w->now_ms);
	if (e == NULL)
		return hold(w, p);
	return translate_later(w, p, e);
}

unsigned
cgn_frag_release(struct cgn_worker *w, const struct cgn_frag_entry *e)
{
	struct cgn_frags *f = &w->frags;
	unsigned sent = 0;
	struct cgn_pkt p;
	const struct cgn_frag_addr6 *a6 = &f->addr6[e - f->slots];
	for (unsigned i = 0; take_held(f, &e->k, a6, &i, &p);)
		if (translate_later(w, &p, e) == CGN_TX && cgn_send(w, &p))
			sent++;
	return sent;
}

void
cgn_frag_expire(struct cgn_worker *w, uint64_t now_ms)
{
	struct cgn_frags *f = &w->frags;
	unsigned kept = 0;
	for (unsigned i = 0; i < f->n_held; i++) {
		if (f->held[i].until_ms > now_ms) {
			f->held[kept++] = f->held[i];
			continue;
		}
		f->n_held_side[f->held[i].p.side]--;
		cgn_drop(w, &f->held[i].p, CGN_DROP_FRAGMENT);
	}
	f->n_held = kept;
	cgn_reassembly_expire(w, now_ms);
}
