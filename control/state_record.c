/*
 * The state store's record codec (see state_record.h). A writer and a reader over a bounded
 * buffer: each put or get checks the room left first, so no field is read or written past
 * the record whatever its octets say.
 */
#include "state_record.h"
#include "pcp_server_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct wr {
	uint8_t *p;
	size_t cap, len;
	bool over;
};

struct rd {
	const uint8_t *p;
	size_t len, off;
	bool short_read;
};

static void
put(struct wr *w, const void *src, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void
put_u8(struct wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void
put_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 2);
}

static void
put_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 4);
}

static void
put_u64(struct wr *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static const uint8_t *
get(struct rd *r, size_t n)
{
	if (r->short_read || n > r->len - r->off) {
		r->short_read = true;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static void
get_into(struct rd *r, void *dst, size_t n)
{
	const uint8_t *p = get(r, n);
	if (p)
		memcpy(dst, p, n);
	else
		memset(dst, 0, n);
}

static uint8_t
get_u8(struct rd *r)
{
	const uint8_t *p = get(r, 1);
	return p ? p[0] : 0;
}

static uint16_t
get_u16(struct rd *r)
{
	const uint8_t *p = get(r, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t
get_u32(struct rd *r)
{
	const uint8_t *p = get(r, 4);
	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint64_t
get_u64(struct rd *r)
{
	uint64_t hi = get_u32(r);
	return hi << 32 | get_u32(r);
}

/* CLOCK_MONOTONIC ms <-> CLOCK_REALTIME ms; 0 and UINT64_MAX are no times. A stored time
 * before this boot's monotonic zero becomes 1: long past. */
static uint64_t
to_rt(uint64_t mono, int64_t off)
{
	if (mono == 0 || mono == UINT64_MAX)
		return mono;
	int64_t rt = (int64_t)mono + off;
	return rt > 0 ? (uint64_t)rt : 1;
}

static uint64_t
to_mono(uint64_t rt, int64_t off)
{
	if (rt == 0 || rt == UINT64_MAX)
		return rt;
	if (rt > (uint64_t)INT64_MAX)
		return UINT64_MAX - 1;
	int64_t mono = (int64_t)rt - off;
	return mono > 0 ? (uint64_t)mono : 1;
}

uint64_t
cgn_state_pool_fingerprint(const struct cgn_config *cfg)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	uint8_t b[CGN_MAX_POOL_PREFIXES * 17 + 6];
	size_t n = 0;
	for (unsigned i = 0; i < cfg->nat.n_pool && i < CGN_MAX_POOL_PREFIXES; i++) {
		memcpy(b + n, cfg->nat.pool[i].addr.b, 16);
		b[n + 16] = cfg->nat.pool[i].len;
		n += 17;
	}
	uint16_t w[3] = { cfg->nat.port_min, cfg->nat.port_max, cfg->nat.block_size };
	for (int i = 0; i < 3; i++) {
		b[n++] = (uint8_t)(w[i] >> 8);
		b[n++] = (uint8_t)w[i];
	}
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

void
cgn_state_key(uint64_t id, uint8_t key[CGN_STATE_KEY_LEN])
{
	for (int i = 0; i < CGN_STATE_KEY_LEN; i++)
		key[i] = (uint8_t)(id >> (56 - 8 * i));
}

uint64_t
cgn_state_key_id(const uint8_t key[CGN_STATE_KEY_LEN])
{
	uint64_t id = 0;
	for (int i = 0; i < CGN_STATE_KEY_LEN; i++)
		id = id << 8 | key[i];
	return id;
}

/* The header every record opens with: kind, format. */
static int
get_header(struct rd *r, enum cgn_state_kind kind)
{
	uint8_t k = get_u8(r), format = get_u8(r);
	if (r->short_read || k != kind)
		return -EINVAL;
	return format == CGN_STATE_FORMAT ? 0 : -EPROTO;
}

/* ---- meta -------------------------------------------------------------------------------- */

int
cgn_state_meta_encode(const struct cgn_state_meta *m, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, cap, 0, false };
	put_u8(&w, CGN_STATE_META);
	put_u8(&w, CGN_STATE_FORMAT);
	put_u64(&w, m->epoch_start_rt);
	put_u64(&w, m->saved_rt);
	put_u64(&w, m->pool_fingerprint);
	return w.over ? -ENOSPC : (int)w.len;
}

int
cgn_state_meta_decode(const uint8_t *buf, size_t len, struct cgn_state_meta *m)
{
	struct rd r = { buf, len, 0, false };
	memset(m, 0, sizeof(*m));
	if (len >= 2)
		m->format = buf[1];
	int rc = get_header(&r, CGN_STATE_META);
	if (rc != 0)
		return rc;
	m->epoch_start_rt = get_u64(&r);
	m->saved_rt = get_u64(&r);
	m->pool_fingerprint = get_u64(&r);
	if (r.short_read || r.off != len || m->epoch_start_rt == 0 || m->epoch_start_rt == UINT64_MAX)
		return -EINVAL;
	return 0;
}

/* ---- shared pieces ------------------------------------------------------------------------- */

static void
put_addr(struct wr *w, const struct cgn_addr *a)
{
	put(w, a->b, 16);
}

static void
get_addr(struct rd *r, struct cgn_addr *a)
{
	get_into(r, a->b, 16);
}

static void
put_description(struct wr *w, bool has, const char *text, uint16_t len)
{
	put_u8(w, has);
	put_u16(w, len);
	if (len)
		put(w, text, len);
}

/* The text is copied into malloc'd memory (NUL-terminated for the caller's convenience). */
static int
get_description(struct rd *r, bool *has, char **text, uint16_t *len)
{
	uint8_t h = get_u8(r);
	uint16_t n = get_u16(r);
	const uint8_t *p = get(r, n);
	/* Only what the server stores: UTF-8 (RFC 7220 §3), at most 1016 octets. */
	if (r->short_read || h > 1 || n > CGN_STATE_DESC_MAX || (!h && n) || !pcp_utf8_valid(p, n))
		return -EINVAL;
	*has = h;
	*len = n;
	*text = NULL;
	if (n) {
		*text = malloc((size_t)n + 1);
		if (*text == NULL)
			return -ENOMEM;
		memcpy(*text, p, n);
		(*text)[n] = '\0';
	}
	return 0;
}

/* ---- mappings ------------------------------------------------------------------------------ */

/* What a stored mapping may be: explicit (MAP, NAT-PMP) or PEER-made, with its options'
 * marks. Static and implicit ones are never stored. */
#define STORED_FLAGS                                                                                     \
	(CGN_MAP_EXPLICIT | CGN_MAP_PEER | CGN_MAP_PREFER_FAILURE | CGN_MAP_THIRD_PARTY | CGN_MAP_FILTERED | \
	 CGN_MAP_NATPMP)

static void
put_filter(struct wr *w, const struct cgn_filter *f)
{
	put_addr(w, &f->addr);
	put_u16(w, f->port);
	put_u8(w, f->prefix_len);
}

static bool
get_filter(struct rd *r, struct cgn_filter *f)
{
	get_addr(r, &f->addr);
	f->port = get_u16(r);
	f->prefix_len = get_u8(r);
	f->reserved = 0;
	return f->prefix_len <= 128;
}

int
cgn_state_map_encode(const struct pcp_mapping_rec *rec, const struct cgn_state_map_extra *x, int64_t rt_off,
		     uint8_t *buf, size_t cap)
{
	if (rec->n_filters > CGN_MAP_FILTERS || rec->description_len > CGN_STATE_DESC_MAX ||
	    (rec->description_len && rec->description == NULL) || x->pref64.len > 128)
		return -EINVAL;
	struct wr w = { buf, cap, 0, false };
	put_u8(&w, CGN_STATE_MAPPING);
	put_u8(&w, CGN_STATE_FORMAT);
	put_addr(&w, &rec->in.addr);
	put_u16(&w, rec->in.port);
	put_u8(&w, rec->in.proto);
	put(&w, &rec->ext_addr, 4); /* network order as it is */
	put_u16(&w, rec->ext_port);
	put_u16(&w, rec->flags & STORED_FLAGS);
	put(&w, rec->nonce, PCP_NONCE_LEN);
	put_u32(&w, rec->lifetime_s);
	put_u64(&w, to_rt(rec->expire_ms, rt_off));
	put_u64(&w, to_rt(rec->peer_expire_ms, rt_off));
	put_u64(&w, to_rt(rec->created_ms, rt_off));
	put_addr(&w, &rec->client);
	put_u16(&w, rec->client_port);
	put_addr(&w, &x->pref64.addr);
	put_u8(&w, x->pref64.len);
	put_u16(&w, rec->set_first);
	put_u16(&w, rec->set_size);
	put_u8(&w, rec->n_filters);
	for (unsigned i = 0; i < rec->n_filters; i++) {
		put_filter(&w, &rec->filters[i]);
		put_filter(&w, &rec->filters_sent[i]);
	}
	put_description(&w, rec->has_description, rec->description, rec->description_len);
	return w.over ? -ENOSPC : (int)w.len;
}

int
cgn_state_map_decode(const uint8_t *buf, size_t len, int64_t rt_off, struct pcp_mapping_rec *rec,
		     struct cgn_state_map_extra *x)
{
	struct rd r = { buf, len, 0, false };
	memset(rec, 0, sizeof(*rec));
	memset(x, 0, sizeof(*x));
	if (len > CGN_STATE_REC_MAX)
		return -EINVAL;
	int rc = get_header(&r, CGN_STATE_MAPPING);
	if (rc != 0)
		return rc;
	get_addr(&r, &rec->in.addr);
	rec->in.port = get_u16(&r);
	rec->in.proto = get_u8(&r);
	rec->in.side = CGN_SIDE_INSIDE;
	get_into(&r, &rec->ext_addr, 4);
	rec->ext_port = get_u16(&r);
	rec->flags = get_u16(&r);
	get_into(&r, rec->nonce, PCP_NONCE_LEN);
	rec->lifetime_s = get_u32(&r);
	rec->expire_ms = to_mono(get_u64(&r), rt_off);
	rec->peer_expire_ms = to_mono(get_u64(&r), rt_off);
	rec->created_ms = to_mono(get_u64(&r), rt_off);
	get_addr(&r, &rec->client);
	rec->client_port = get_u16(&r);
	get_addr(&r, &x->pref64.addr);
	x->pref64.len = get_u8(&r);
	rec->set_first = get_u16(&r);
	rec->set_size = get_u16(&r);
	rec->n_filters = get_u8(&r);
	/* A stored mapping is a PCP or NAT-PMP one: TCP or UDP, a non-zero internal port (RFC
	 * 6887 §11.3); a port set of two ports or more within the port range (RFC 7753). */
	if (r.short_read || rec->n_filters > CGN_MAP_FILTERS || x->pref64.len > 128 ||
	    (rec->in.proto != IPPROTO_TCP && rec->in.proto != IPPROTO_UDP) || rec->in.port == 0 ||
	    rec->set_size == 1 || (uint32_t)rec->set_first + rec->set_size > UINT16_MAX + 1u ||
	    (rec->flags & ~STORED_FLAGS) != 0 || !(rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP | CGN_MAP_PEER)) ||
	    rec->expire_ms == UINT64_MAX || rec->peer_expire_ms == UINT64_MAX)
		return -EINVAL;
	bool ok = true;
	for (unsigned i = 0; i < rec->n_filters; i++) {
		ok &= get_filter(&r, &rec->filters[i]);
		ok &= get_filter(&r, &rec->filters_sent[i]);
	}
	/* A port set holds its own port (pcp_server_int.h: ext_port - (in.port - set_first)). */
	if (rec->set_size && (rec->in.port < rec->set_first || rec->in.port - rec->set_first >= rec->set_size ||
			      rec->ext_port < rec->in.port - rec->set_first))
		ok = false;
	if (!ok || r.short_read)
		return -EINVAL;
	rc = get_description(&r, &rec->has_description, &rec->description, &rec->description_len);
	if (rc == 0 && r.off != len)
		rc = -EINVAL;
	if (rc != 0) {
		free(rec->description);
		rec->description = NULL;
		rec->description_len = 0;
	}
	return rc;
}

/* ---- PEER sessions -------------------------------------------------------------------------- */

int
cgn_state_peer_encode(const struct peer_key *pk, const struct pcp_peer_rec *p, int64_t rt_off, uint8_t *buf,
		      size_t cap)
{
	if (p->description_len > CGN_STATE_DESC_MAX || (p->description_len && p->description == NULL))
		return -EINVAL;
	struct wr w = { buf, cap, 0, false };
	put_u8(&w, CGN_STATE_PEER);
	put_u8(&w, CGN_STATE_FORMAT);
	put_addr(&w, &pk->in.addr);
	put_u16(&w, pk->in.port);
	put_u8(&w, pk->in.proto);
	put_addr(&w, &pk->remote);
	put_u16(&w, pk->remote_port);
	put_addr(&w, &p->remote_sent);
	put(&w, p->nonce, PCP_NONCE_LEN);
	put_u32(&w, p->lifetime_s);
	put_u64(&w, to_rt(p->expire_ms, rt_off));
	put_u64(&w, to_rt(p->renewed_ms, rt_off));
	put_description(&w, p->has_description, p->description, p->description_len);
	return w.over ? -ENOSPC : (int)w.len;
}

int
cgn_state_peer_decode(const uint8_t *buf, size_t len, int64_t rt_off, struct peer_key *pk, struct pcp_peer_rec *p)
{
	struct rd r = { buf, len, 0, false };
	memset(pk, 0, sizeof(*pk));
	memset(p, 0, sizeof(*p));
	if (len > CGN_STATE_REC_MAX)
		return -EINVAL;
	int rc = get_header(&r, CGN_STATE_PEER);
	if (rc != 0)
		return rc;
	get_addr(&r, &pk->in.addr);
	pk->in.port = get_u16(&r);
	pk->in.proto = get_u8(&r);
	pk->in.side = CGN_SIDE_INSIDE;
	get_addr(&r, &pk->remote);
	pk->remote_port = get_u16(&r);
	get_addr(&r, &p->remote_sent);
	get_into(&r, p->nonce, PCP_NONCE_LEN);
	p->lifetime_s = get_u32(&r);
	p->expire_ms = to_mono(get_u64(&r), rt_off);
	p->renewed_ms = to_mono(get_u64(&r), rt_off);
	/* a PEER session: TCP or UDP, a non-zero internal port (RFC 6887 §12.1, §11.3) */
	if (r.short_read || p->expire_ms == UINT64_MAX ||
	    (pk->in.proto != IPPROTO_TCP && pk->in.proto != IPPROTO_UDP) || pk->in.port == 0)
		return -EINVAL;
	rc = get_description(&r, &p->has_description, &p->description, &p->description_len);
	if (rc == 0 && r.off != len)
		rc = -EINVAL;
	if (rc != 0) {
		free(p->description);
		p->description = NULL;
		p->description_len = 0;
	}
	return rc;
}

int
cgn_state_record_check(enum cgn_state_kind kind, const uint8_t *key, size_t key_len, const uint8_t *val,
		       size_t val_len)
{
	(void)key;
	int rc;
	switch (kind) {
	case CGN_STATE_META: {
		struct cgn_state_meta m;
		return cgn_state_meta_decode(val, val_len, &m);
	}
	case CGN_STATE_MAPPING: {
		struct pcp_mapping_rec rec;
		struct cgn_state_map_extra x;
		if (key_len != CGN_STATE_KEY_LEN)
			return -EINVAL;
		rc = cgn_state_map_decode(val, val_len, 0, &rec, &x);
		free(rec.description);
		return rc;
	}
	case CGN_STATE_PEER: {
		struct peer_key pk;
		struct pcp_peer_rec p;
		if (key_len != CGN_STATE_KEY_LEN)
			return -EINVAL;
		rc = cgn_state_peer_decode(val, val_len, 0, &pk, &p);
		free(p.description);
		return rc;
	}
	}
	return -EINVAL;
}
