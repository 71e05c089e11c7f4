/*
 * IPv4 fragments without reassembly (see fragment.h): a two-way set-associative table of
 * datagrams a worker translated (or refused) the first fragment of, and a small hold of
 * later fragments that came first. Worker context (init/fini: main lcore).
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
	return f->slots ? 0 : -ENOMEM;
}

void
cgn_frags_fini(struct cgn_frags *f)
{
	for (unsigned i = 0; i < f->n_held; i++)
		rte_pktmbuf_free(f->held[i].p.m);
	rte_free(f->slots);
	memset(f, 0, sizeof(*f));
}

static bool
key_eq(const struct cgn_frag_key *a, const struct cgn_frag_key *b)
{
	return a->src == b->src && a->dst == b->dst && a->id == b->id && a->proto == b->proto && a->side == b->side;
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
find(struct cgn_frags *f, const struct cgn_frag_key *k, uint64_t now_ms)
{
	struct cgn_frag_entry *s = set_of(f, k);
	for (int i = 0; i < 2; i++)
		if (s[i].until_ms > now_ms && key_eq(&s[i].k, k))
			return &s[i];
	return NULL;
}

/* Where a datagram is written: its own entry, else the way that ends first (a free or
 * expired one before a live one: a live one lost this way times its fragments out). */
static struct cgn_frag_entry *
slot_for(struct cgn_frags *f, const struct cgn_frag_key *k, uint64_t now_ms)
{
	struct cgn_frag_entry *e = find(f, k, now_ms);
	if (e)
		return e;
	struct cgn_frag_entry *s = set_of(f, k);
	return s[0].until_ms <= s[1].until_ms ? &s[0] : &s[1];
}

const struct cgn_frag_entry *
cgn_frag_record(struct cgn_worker *w, const struct cgn_pkt *p)
{
	struct cgn_frag_entry *e = slot_for(&w->frags, &p->fkey, w->now_ms);
	*e = (struct cgn_frag_entry){ .k = p->fkey, .new_src = p->ip4->src_addr, .new_dst = p->ip4->dst_addr,
				      .out_port = p->out_port, .to = p->to, .until_ms = w->now_ms + CGN_FRAG_LIFE_MS };
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
take_held(struct cgn_frags *f, const struct cgn_frag_key *k, unsigned *i, struct cgn_pkt *out)
{
	while (*i < f->n_held && !key_eq(&f->held[*i].p.fkey, k))
		(*i)++;
	if (*i == f->n_held)
		return false;
	*out = unhold(f, *i);
	return true;
}

void
cgn_frag_refuse(struct cgn_worker *w, const struct cgn_frag_key *k)
{
	struct cgn_frags *f = &w->frags;
	struct cgn_frag_entry *e = slot_for(f, k, w->now_ms);
	*e = (struct cgn_frag_entry){ .k = *k, .refused = true, .until_ms = w->now_ms + CGN_FRAG_LIFE_MS };
	struct cgn_pkt p;
	for (unsigned i = 0; take_held(f, k, &i, &p);)
		cgn_drop(w, &p, CGN_DROP_FRAGMENT);
}

/* Could this fragment be ours? From a subscriber (outbound) or to a pool address (inbound):
 * others would only fill the hold. */
static bool
worth_holding(const struct cgn_worker *w, const struct cgn_pkt *p)
{
	if (p->side == CGN_SIDE_OUTSIDE)
		return cgn_dataplane_in_pool(w->dp, p->ip4->dst_addr);
	struct cgn_addr src = cgn_addr_from_v4(p->ip4->src_addr);
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

/* Translates a later fragment with its datagram's record. */
static enum cgn_verdict
translate_later(struct cgn_worker *w, struct cgn_pkt *p, const struct cgn_frag_entry *e)
{
	if (e->refused)
		return cgn_drop(w, p, CGN_DROP_FRAGMENT);
	if (cgn_ttl_expires(p)) /* RFC 1812 §4.3.2.7: no ICMP error about a non-initial fragment */
		return cgn_drop(w, p, CGN_DROP_TTL_EXPIRED);
	cgn_translate44_fragment(p, e->new_src, e->new_dst);
	p->out_port = e->out_port;
	p->to = e->to;
	w->pkt.fragments_translated++;
	return CGN_TX;
}

enum cgn_verdict
cgn_frag_later(struct cgn_worker *w, struct cgn_pkt *p)
{
	const struct cgn_frag_entry *e = find(&w->frags, &p->fkey, w->now_ms);
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
	for (unsigned i = 0; take_held(f, &e->k, &i, &p);)
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
}
