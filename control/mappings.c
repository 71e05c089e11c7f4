/*
 * The life of a managed mapping, whoever asks: MAP (RFC 6887 §11.3), PEER (§12.3), NAT-PMP
 * (RFC 6886 §3.3), static configuration; lifetimes and deletion (§15 with erratum 3621);
 * filters (§13.3); port hold-down (RFC 6888 REQ-8, §15 last paragraph); quotas (§11.3
 * USER_EX_QUOTA, §17.2); bounded expiry sweeps. NAT44 and NAT64 alike: an IPv6 internal
 * address's subscriber is its nat64.subscriber_prefix_len prefix, as in the data plane.
 *
 * Every function checks all it needs before it changes anything; the data plane may refuse a
 * change (ring full), and then the record is put back as it was (§7.3).
 *
 * The state store (pcp_store.c) is written at each change, before the push: a change it cannot
 * take is answered NO_RESOURCES with the record put back; a push refused after it takes the
 * store back to its savepoint (pcp_store_mark/_rollback). Background changes (expiry) write
 * after the fact and go on if the store cannot take them: what it keeps has run out anyway.
 *
 * NAT logging (pcp_server_int.h, "NAT logging of explicit mappings"): a mapping's
 * BIB_CREATE/_DELETE is reported where the change is certain: after the store took it and
 * the data plane was told, never before a step that may still put it back; a request refused
 * for its subscriber's quota is QUOTA_EXCEEDED (RFC 8158 §4.6.7), one for want of ports
 * PORTS_EXHAUSTED (§4.6.6), one per kind per second.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "cgn_events.h"
#include "cgn_log.h"
#include "pcp_server_int.h"

uint32_t
pcp_clamp_lifetime(const struct cgn_config *cfg, uint32_t requested)
{
	if (requested < cfg->pcp.min_lifetime)
		return cfg->pcp.min_lifetime;
	if (requested > cfg->pcp.max_lifetime)
		return cfg->pcp.max_lifetime;
	return requested;
}

static uint64_t
rec_expire(const struct pcp_mapping_rec *rec)
{
	return rec->expire_ms > rec->peer_expire_ms ? rec->expire_ms : rec->peer_expire_ms;
}

static uint32_t
remaining_s(uint64_t expire_ms, uint64_t now)
{
	if (expire_ms == UINT64_MAX)
		return UINT32_MAX;
	return expire_ms > now ? (uint32_t)((expire_ms - now + 999) / 1000) : 0;
}

uint64_t
mapping_idle_remaining_ms(struct pcp_server *srv, const struct pcp_mapping_rec *rec, uint64_t now)
{
	if (srv->ops.last_out == NULL)
		return 0;
	bool closed = false;
	uint64_t last = srv->ops.last_out(srv->ops.ctx, &rec->in, &closed);
	if (last == 0)
		return 0;
	/* The implicit timeouts (RFC 4787 REQ-5, RFC 5382 REQ-5): the mapping lives as an implicit
	 * one would (§12.3: "reverts to the NAT's usual behavior for implicit mappings"). */
	closed = closed && rec->in.proto == IPPROTO_TCP;
	uint64_t idle = cgn_idle_timeout_ms(&srv->cfg, rec->in.proto, closed ? CGN_TCP_CLOSING : CGN_TCP_ESTABLISHED);
	return last + idle > now ? last + idle - now : 0;
}

int32_t
mapping_subscriber(struct pcp_server *srv, const struct cgn_addr *internal, bool create)
{
	struct cgn_addr a = cgn_subscriber_addr(&srv->cfg, internal);
	return cgn_pb_subscriber(&srv->pb, &a, create);
}

static struct cgn_pb_sub *
sub_of(struct pcp_server *srv, const struct pcp_mapping_rec *rec)
{
	return cgn_pb_sub(&srv->pb, rec->sub);
}

int
pcp_server_push(struct pcp_server *srv, enum cgn_msg_op op, const struct pcp_mapping_rec *rec)
{
	struct cgn_ring_msg msg;
	memset(&msg, 0, sizeof(msg));
	msg.op = op;
	cgn_mapping_set(&msg.m, &rec->in, rec->ext_addr, rec->ext_port);
	msg.m.expire_ms = rec_expire(rec);
	msg.m.lifetime_s = rec->lifetime_s;
	msg.m.flags = rec->flags;
	msg.m.n_filters = rec->n_filters;
	memcpy(msg.m.filters, rec->filters, sizeof(msg.m.filters));
	memcpy(msg.m.nonce, rec->nonce, sizeof(msg.m.nonce));
	msg.m.subscriber = rec->sub;
	msg.m.pref64 = rec->pref64;
	msg.m.set_first = rec->set_first; /* RFC 7753: reporting only (telemetry) */
	msg.m.set_size = rec->set_size;

	if (srv->ops.push(srv->ops.ctx, &msg) != 0) {
		srv->stats.push_refused++;
		return -ENOBUFS;
	}
	return 0;
}

/*
 * Pushes a message for a change made without a client waiting (a pool change's moves, the
 * restore at start: a message for every mapping at once): when a worker's ring is full, waits
 * for it to drain (the workers go on applying their rings), until deadline (ms).
 */
int
pcp_server_push_patiently(struct pcp_server *srv, enum cgn_msg_op op, const struct pcp_mapping_rec *rec,
			  uint64_t deadline)
{
	int rc;
	while ((rc = pcp_server_push(srv, op, rec)) != 0 && cgn_clock_ms() < deadline) {
		struct timespec ts = { 0, 50000 };
		nanosleep(&ts, NULL);
	}
	return rc;
}

/* ---- NAT logging ---------------------------------------------------------------------------- */

uint8_t
mapping_origin(const struct pcp_mapping_rec *rec)
{
	return (rec->flags & CGN_MAP_NATPMP) && !(rec->flags & CGN_MAP_EXPLICIT) ? CGN_ORIGIN_NATPMP : CGN_ORIGIN_PCP;
}

/* RFC 8158 §4.6.3 (NAT44) / §4.6.4 (NAT64): the internal endpoint, the external one, the
 * protocol; the lifetime granted for a creation. */
static void
bib_emit(const struct pcp_mapping_rec *rec, bool create, uint8_t origin, uint64_t now)
{
	struct cgn_event ev;
	cgn_event_endpoints(&ev, create ? CGN_NATEV_NAT44_BIB_CREATE : CGN_NATEV_NAT44_BIB_DELETE, rec->in.proto,
			    &rec->in.addr, rec->in.port, rec->ext_addr, rec->ext_port, now);
	ev.origin = origin;
	ev.lifetime_s = create ? rec->lifetime_s : 0;
	cgn_event_emit(&ev);
}

void
mapping_log_create(struct pcp_mapping_rec *rec, uint8_t origin, uint64_t now)
{
	if (!cgn_events_on() || (rec->flags & CGN_MAP_STATIC))
		return;
	bib_emit(rec, true, origin, now);
	rec->bib_logged = true;
}

void
mapping_log_delete(struct pcp_mapping_rec *rec, uint8_t origin, uint64_t now)
{
	if (!cgn_events_on() || !rec->bib_logged)
		return;
	bib_emit(rec, false, origin, now);
	rec->bib_logged = false;
}

static void
log_end(void *r, void *arg)
{
	struct pcp_mapping_rec *rec = r;
	mapping_log_delete(rec, mapping_origin(rec), *(const uint64_t *)arg);
}

bool
pcp_server_log_ends(struct pcp_server *srv, uint32_t *cursor, uint32_t slots, uint64_t now)
{
	uint32_t cap = rec_db_capacity(srv->mappings);
	uint32_t budget = cap - *cursor < slots ? cap - *cursor : slots;
	rec_db_scan(srv->mappings, cursor, budget, log_end, &now); /* wraps to 0 at the end */
	return *cursor != 0;
}

/* The implicit session a MAP adopts (§11.3 item 4) ends as a session: its worker reported it
 * created (NAT44/NAT64_SESSION_CREATE, logging.sessions), and from now on it is a BIB entry,
 * whose own CREATE and DELETE follow (RFC 8158 §4.6.1: not both records for one mapping).
 * Before the BIB_CREATE, so that the log never holds the endpoint twice. */
static void
adopted_session_log(const struct pcp_mapping_rec *rec, uint64_t now)
{
	if (!cgn_events_sessions() || (rec->flags & CGN_MAP_STATIC))
		return;
	struct cgn_event ev;
	cgn_event_endpoints(&ev, CGN_NATEV_NAT44_SESSION_DELETE, rec->in.proto, &rec->in.addr, rec->in.port,
			    rec->ext_addr, rec->ext_port, now);
	ev.origin = CGN_ORIGIN_DATA;
	cgn_event_emit(&ev);
}

/* A request refused for its subscriber: internal is the request's address, the event names
 * the subscriber (cgn_subscriber_addr()), as the data plane's do. */

/* USER_EX_QUOTA for pcp.max_mappings_per_subscriber: maxEntriesPerUser. */
static void
quota_log(struct pcp_server *srv, uint64_t now, const struct cgn_addr *internal)
{
	struct cgn_addr sub_addr = cgn_subscriber_addr(&srv->cfg, internal);
	cgn_event_refusal(now, &sub_addr, CGN_NATEV_QUOTA_EXCEEDED, CGN_QUOTA_PER_USER,
			  srv->cfg.pcp.max_mappings_per_subscriber, 0, 0);
}

/* An allocator refusal (cgn_pb_alloc(), _alloc_run()) of subscriber sub. */
static void
alloc_refusal_log(struct pcp_server *srv, uint64_t now, const struct cgn_key *in, uint32_t sub, int rc)
{
	struct cgn_addr sub_addr = cgn_subscriber_addr(&srv->cfg, &in->addr);
	cgn_event_alloc_refusal(&srv->cfg, &srv->pb, sub, &sub_addr, in->proto, rc, now);
}

/* The subscriber table is full (nat.max_subscribers): maxSubscribers. */
static void
subscribers_log(struct pcp_server *srv, uint64_t now, const struct cgn_addr *internal)
{
	struct cgn_addr sub_addr = cgn_subscriber_addr(&srv->cfg, internal);
	cgn_event_refusal(now, &sub_addr, CGN_NATEV_QUOTA_EXCEEDED, CGN_QUOTA_SUBSCRIBERS,
			  srv->cfg.nat.max_subscribers, 0, 0);
}

/* ---- port hold-down ---------------------------------------------------------------------- */

/* Holds a freed port for port_hold_s, reclaimable only by the same client (§15: "same
 * internal IP address, internal port, and mapping nonce"). */
static void
hold_put(struct pcp_server *srv, const struct pcp_mapping_rec *rec, uint64_t now)
{
	if (rec->port_lost)
		return;
	if (srv->cfg.nat.port_hold_s == 0) {
		cgn_pb_release(&srv->pb, rec->sub, rec->in.proto, rec->ext_port);
		return;
	}
	struct hold_rec *h = rec_db_find(srv->holds, &rec->in);
	if (h) { /* an older hold of the same inside key: it has waited long enough */
		cgn_pb_release(&srv->pb, h->sub, h->proto, h->ext_port);
		rec_db_del(srv->holds, h);
		srv->stats.holds_displaced++;
	}
	h = rec_db_add(srv->holds, &rec->in);
	if (h == NULL) {
		cgn_pb_release(&srv->pb, rec->sub, rec->in.proto, rec->ext_port);
		srv->stats.holds_dropped++;
		return;
	}
	h->sub = rec->sub;
	h->ext_addr = rec->ext_addr;
	h->ext_port = rec->ext_port;
	h->proto = rec->in.proto;
	memcpy(h->nonce, rec->nonce, PCP_NONCE_LEN);
	h->until_ms = now + (uint64_t)srv->cfg.nat.port_hold_s * 1000;
}

/* The held port of the same client, or NULL. */
static struct hold_rec *
hold_find(struct pcp_server *srv, const struct cgn_key *in, const uint8_t nonce[PCP_NONCE_LEN])
{
	struct hold_rec *h = rec_db_find(srv->holds, in);
	return h && memcmp(h->nonce, nonce, PCP_NONCE_LEN) == 0 ? h : NULL;
}

/* Does rec count against pcp.max_mappings_per_subscriber? An explicit mapping does, once: a
 * port set by its first port only (RFC 7753: the set is one mapping). */
bool
mapping_counts_once(const struct pcp_mapping_rec *rec)
{
	return (rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP)) &&
	       (!mapping_in_set(rec) || rec->in.port == rec->set_first);
}

/*
 * Writes a record to the store as the request leaves it: with the DESCRIPTION the request
 * carries (RFC 7220 §3), which the record itself takes only once the change is certain
 * (pcp_description_rec.c): the text is lent to the record for the encoding, then the record's
 * own is put back. text NULL or !text->given: the record as it is.
 */
static int
store_mapping_as(struct pcp_server *srv, struct pcp_mapping_rec *rec, const struct pcp_desc_want *text)
{
	if (text == NULL || !text->given)
		return pcp_store_mapping(srv, rec);
	char *own = rec->description;
	uint16_t own_len = rec->description_len;
	bool own_has = rec->has_description;
	rec->description = (char *)(uintptr_t)text->text;
	rec->description_len = text->len;
	rec->has_description = text->len > 0;
	int rc = pcp_store_mapping(srv, rec);
	rec->description = own;
	rec->description_len = own_len;
	rec->has_description = own_has;
	return rc;
}

/* The same for a PEER session. */
static int
store_peer_as(struct pcp_server *srv, const struct peer_key *pk, struct pcp_peer_rec *p,
	      const struct pcp_desc_want *text)
{
	if (text == NULL || !text->given)
		return pcp_store_peer(srv, pk, p);
	char *own = p->description;
	uint16_t own_len = p->description_len;
	bool own_has = p->has_description;
	p->description = (char *)(uintptr_t)text->text;
	p->description_len = text->len;
	p->has_description = text->len > 0;
	int rc = pcp_store_peer(srv, pk, p);
	p->description = own;
	p->description_len = own_len;
	p->has_description = own_has;
	return rc;
}

/* The DESCRIPTION a MAP request carries, as store_mapping_as takes it. */
static struct pcp_desc_want
map_text(const struct map_intent *mi)
{
	return (struct pcp_desc_want){ .text = mi->description, .len = mi->description_len, .given = mi->has_description };
}

/* Removes a mapping the data plane has been told to delete (origin: who deletes it, for the
 * log). */
static void
forget(struct pcp_server *srv, struct pcp_mapping_rec *rec, uint64_t now, uint8_t origin)
{
	mapping_log_delete(rec, origin, now);
	pcp_store_mapping_gone(srv, rec); /* (a client's delete did so already: a no-op) */
	if (mapping_counts_once(rec))
		__atomic_fetch_sub(&sub_of(srv, rec)->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	if ((rec->flags & CGN_MAP_STATIC) && !rec->port_lost)
		cgn_pb_release(&srv->pb, rec->sub, rec->in.proto, rec->ext_port);
	else
		hold_put(srv, rec, now);
	pcp_description_mapping_clear(srv, rec);
	rec_db_del(srv->mappings, rec);
}

/* The fields of a mapping once its explicit part ended: outbound only, and no longer a port
 * of a set (RFC 7753: a set is an explicit mapping). pcp_server_int.h. */
void
mapping_strip_explicit_fields(struct pcp_mapping_rec *rec)
{
	rec->flags &= (uint16_t)~(CGN_MAP_EXPLICIT | CGN_MAP_NATPMP | CGN_MAP_FILTERED | CGN_MAP_PREFER_FAILURE |
				  CGN_MAP_THIRD_PARTY);
	rec->expire_ms = 0;
	rec->n_filters = 0;
	rec->set_first = rec->set_size = 0;
}

/* Ends the explicit (MAP/NAT-PMP) part of a mapping that PEER sessions still use: it stays,
 * outbound only. store_must: a client asks (the store must take it), else the expiry sweep.
 * @return 0, or -ENOBUFS / -ENOSPC with the record unchanged. */
static int
strip_explicit(struct pcp_server *srv, struct pcp_mapping_rec *rec, bool store_must)
{
	struct pcp_mapping_rec old = *rec;
	size_t mark = pcp_store_mark(srv);
	bool counted = mapping_counts_once(rec);
	mapping_strip_explicit_fields(rec);
	static const struct pcp_desc_want no_text = { .given = true }; /* the MAP part's text goes */
	if (store_mapping_as(srv, rec, &no_text) != 0 && store_must) {
		*rec = old;
		return -ENOSPC;
	}
	if (pcp_server_push(srv, CGN_MSG_REPLACE, rec) != 0) {
		pcp_store_rollback(srv, mark);
		*rec = old;
		return -ENOBUFS;
	}
	if (counted)
		__atomic_fetch_sub(&sub_of(srv, rec)->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	pcp_description_mapping_clear(srv, rec); /* the MAP part's (RFC 7220): it has none now */
	return 0;
}

/* ---- filters (§13.3) ------------------------------------------------------------------------ */

static bool
filter_eq(const struct cgn_filter *a, const struct cgn_filter *b)
{
	return a->prefix_len == b->prefix_len && a->port == b->port && cgn_addr_eq(&a->addr, &b->addr);
}

/* The filter set after the request: "added to any existing filters", a prefix length of 0
 * first clears them. Duplicates count once. */
static uint8_t
merge_filters(const struct pcp_server *srv, const struct pcp_mapping_rec *rec, const struct map_intent *mi,
	      struct cgn_filter *out, struct cgn_filter *out_sent, uint8_t *n_out)
{
	uint8_t n = 0;
	if (rec && !mi->filters_clear) {
		memcpy(out, rec->filters, sizeof(rec->filters[0]) * rec->n_filters);
		memcpy(out_sent, rec->filters_sent, sizeof(rec->filters_sent[0]) * rec->n_filters);
		n = rec->n_filters;
	}
	for (uint8_t i = 0; i < mi->n_filters; i++) {
		bool dup = false;
		for (uint8_t k = 0; k < n; k++)
			dup |= filter_eq(&out[k], &mi->filters[i]);
		if (dup)
			continue;
		if (n >= srv->cfg.pcp.max_filters || n >= CGN_MAP_FILTERS)
			return PCP_RES_EXCESSIVE_REMOTE_PEERS;
		out_sent[n] = mi->filters_sent[i];
		out[n++] = mi->filters[i];
	}
	*n_out = n;
	return PCP_RES_SUCCESS;
}

/* ---- MAP, NAT-PMP ---------------------------------------------------------------------------- */

static bool
addr_fits(const struct cgn_addr *suggested, uint32_t ext_addr)
{
	return cgn_addr_is_unspecified(suggested) ||
	       (cgn_addr_is_v4(suggested) && cgn_addr_v4(suggested) == ext_addr);
}

static bool
nonce_eq(const struct pcp_mapping_rec *rec, const uint8_t nonce[PCP_NONCE_LEN])
{
	return memcmp(rec->nonce, nonce, PCP_NONCE_LEN) == 0;
}

/* §15.1 with erratum 3621. */
static uint8_t
map_delete(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct pcp_mapping_rec *rec,
	   struct map_outcome *out)
{
	out->lifetime = 0;
	if (rec == NULL)
		return PCP_RES_SUCCESS; /* "a mapping that does not exist, the SUCCESS result code" */
	if (rec->flags & CGN_MAP_STATIC)
		return PCP_RES_NOT_AUTHORIZED;
	if (!(rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP)))
		return PCP_RES_NOT_AUTHORIZED; /* outbound (PEER or implicit) */
	if (!nonce_eq(rec, mi->nonce)) {
		out->error_lifetime = remaining_s(rec_expire(rec), now);
		return PCP_RES_NOT_AUTHORIZED;
	}

	/* §15: never sooner than outbound traffic would keep the mapping. */
	uint64_t idle = mapping_idle_remaining_ms(srv, rec, now);
	if (idle > 0) {
		struct pcp_mapping_rec old = *rec;
		size_t mark = pcp_store_mark(srv);
		rec->expire_ms = now + idle;
		rec->lifetime_s = (uint32_t)((idle + 999) / 1000);
		if (pcp_store_mapping(srv, rec) != 0) {
			*rec = old;
			return PCP_RES_NO_RESOURCES;
		}
		if (pcp_server_push(srv, CGN_MSG_REFRESH, rec) != 0) {
			pcp_store_rollback(srv, mark);
			*rec = old;
			return PCP_RES_NO_RESOURCES;
		}
		out->rec = rec;
		out->lifetime = rec->lifetime_s;
		return PCP_RES_SUCCESS;
	}

	if (rec->n_peers > 0) {
		/* PEER sessions still use it: the mapping stays, outbound only. */
		if (strip_explicit(srv, rec, true) != 0)
			return PCP_RES_NO_RESOURCES;
	} else {
		size_t mark = pcp_store_mark(srv);
		if (pcp_store_mapping_gone(srv, rec) != 0)
			return PCP_RES_NO_RESOURCES;
		if (pcp_server_push(srv, CGN_MSG_DEL, rec) != 0) {
			pcp_store_rollback(srv, mark);
			return PCP_RES_NO_RESOURCES;
		}
		forget(srv, rec, now, mi->origin == CGN_MAP_NATPMP ? CGN_ORIGIN_NATPMP : CGN_ORIGIN_PCP);
	}
	srv->stats.mappings_deleted++;
	return PCP_RES_SUCCESS;
}

static uint8_t
map_renew(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct pcp_mapping_rec *rec,
	  struct map_outcome *out)
{
	out->rec = rec;
	if (rec->flags & CGN_MAP_STATIC) {
		out->lifetime = UINT32_MAX; /* §11.3 item 2 */
		return PCP_RES_SUCCESS;
	}
	bool explicit = rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP);
	if (explicit && !nonce_eq(rec, mi->nonce)) {
		out->error_lifetime = remaining_s(rec_expire(rec), now); /* §11.3 Simple Threat Model */
		return PCP_RES_NOT_AUTHORIZED;
	}
	/* §11.3 item 1 */
	if (mi->prefer_failure && (mi->suggested_port != rec->ext_port || !addr_fits(&mi->suggested_addr, rec->ext_addr)))
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
	struct cgn_pb_sub *s = sub_of(srv, rec);
	if (!explicit &&
	    __atomic_load_n(&s->explicit_mappings, __ATOMIC_SEQ_CST) >= srv->cfg.pcp.max_mappings_per_subscriber) {
		quota_log(srv, now, &rec->in.addr);
		return PCP_RES_USER_EX_QUOTA;
	}

	struct cgn_filter filters[CGN_MAP_FILTERS], sent[CGN_MAP_FILTERS];
	uint8_t n_filters;
	uint8_t rc = merge_filters(srv, rec, mi, filters, sent, &n_filters);
	if (rc != PCP_RES_SUCCESS)
		return rc;

	struct pcp_mapping_rec old = *rec;
	uint32_t lifetime = pcp_clamp_lifetime(&srv->cfg, mi->lifetime);
	uint64_t idle = mapping_idle_remaining_ms(srv, rec, now);
	if (idle > (uint64_t)lifetime * 1000) /* §15: a renewal may not shorten it either */
		lifetime = (uint32_t)((idle + 999) / 1000);
	rec->lifetime_s = lifetime;
	rec->expire_ms = now + (uint64_t)lifetime * 1000;
	rec->flags |= mi->origin | (mi->third_party ? CGN_MAP_THIRD_PARTY : 0) |
		      (mi->prefer_failure ? CGN_MAP_PREFER_FAILURE : 0);
	rec->n_filters = n_filters;
	memcpy(rec->filters, filters, sizeof(filters[0]) * n_filters);
	memcpy(rec->filters_sent, sent, sizeof(sent[0]) * n_filters);
	rec->flags = (uint16_t)(n_filters ? rec->flags | CGN_MAP_FILTERED : rec->flags & ~CGN_MAP_FILTERED);
	if (!explicit) { /* §11.3 item 4: an outbound mapping becomes explicit inbound too */
		memcpy(rec->nonce, mi->nonce, PCP_NONCE_LEN);
		rec->client = mi->client;
		rec->client_port = mi->client_port;
	}
	bool republish = rec->flags != old.flags || rec->n_filters != old.n_filters ||
			 memcmp(rec->filters, old.filters, sizeof(rec->filters)) != 0;
	size_t mark = pcp_store_mark(srv);
	struct pcp_desc_want text = map_text(mi);
	if (store_mapping_as(srv, rec, &text) != 0) {
		*rec = old;
		return PCP_RES_NO_RESOURCES;
	}
	if (pcp_server_push(srv, republish ? CGN_MSG_REPLACE : CGN_MSG_REFRESH, rec) != 0) {
		pcp_store_rollback(srv, mark);
		*rec = old;
		return PCP_RES_NO_RESOURCES;
	}
	if (!explicit)
		__atomic_fetch_add(&s->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	/* RFC 7220 §3: a renewal with a DESCRIPTION replaces the text, one without keeps it. */
	if (mi->has_description)
		out->description_stored = pcp_description_mapping_set(srv, rec, mi->description, mi->description_len);
	pcp_unsolicited_cancel(srv, &rec->in); /* §14.2: refreshed, no more updates */
	srv->stats.mappings_renewed++;
	out->lifetime = lifetime;
	return PCP_RES_SUCCESS;
}

/* Maps an allocator error to the result of §7.4 (PREFER_FAILURE turns each into §13.2's). */
static uint8_t
alloc_result(int rc, bool prefer_failure)
{
	if (prefer_failure)
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
	return rc == -EDQUOT ? PCP_RES_USER_EX_QUOTA : PCP_RES_NO_RESOURCES;
}

/* Takes the external port of a new mapping: the same client's held port, the suggestion, or
 * any port of the subscriber's blocks. */
static uint8_t
take_port(struct pcp_server *srv, uint64_t now, uint32_t sub, const struct cgn_key *in,
	  const struct cgn_addr *sugg_addr, uint16_t sugg_port, const uint8_t nonce[PCP_NONCE_LEN], bool exact,
	  uint32_t *addr, uint16_t *port)
{
	uint32_t paired = srv->pb.addrs[cgn_pb_sub(&srv->pb, sub)->ext_index];
	struct hold_rec *h = hold_find(srv, in, nonce);
	if (h && (!exact || (sugg_port == h->ext_port && addr_fits(sugg_addr, h->ext_addr)))) {
		*addr = h->ext_addr; /* still allocated: it changes hands, not state */
		*port = h->ext_port;
		rec_db_del(srv->holds, h);
		srv->stats.holds_reclaimed++;
		return PCP_RES_SUCCESS;
	}
	bool fits = addr_fits(sugg_addr, paired);
	if (exact && !fits)
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
	uint16_t want = fits ? sugg_port : 0;
	int rc = cgn_pb_alloc(&srv->pb, sub, in->proto, want, in->port, &srv->rng, addr, port);
	if (rc != 0) {
		alloc_refusal_log(srv, now, in, sub, rc);
		return alloc_result(rc, exact);
	}
	if (exact && sugg_port && *port != want) {
		cgn_pb_release(&srv->pb, sub, in->proto, *port);
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
	}
	return PCP_RES_SUCCESS;
}

/* Inserts a new record and tells the data plane; undoes the port on failure. */
static uint8_t
publish_new(struct pcp_server *srv, uint64_t now, const struct cgn_key *in, uint32_t sub, uint32_t addr,
	    uint16_t port, uint8_t pref64, const struct pcp_desc_want *text, struct pcp_mapping_rec **out,
	    void (*fill)(struct pcp_mapping_rec *, const void *), const void *arg)
{
	struct pcp_mapping_rec *rec = rec_db_add(srv->mappings, in);
	if (rec == NULL) {
		cgn_pb_release(&srv->pb, sub, in->proto, port);
		return PCP_RES_NO_RESOURCES;
	}
	rec->in = *in;
	rec->sub = sub;
	rec->ext_addr = addr;
	rec->ext_port = port;
	rec->created_ms = now;
	rec->pref64 = pref64;
	fill(rec, arg);
	size_t mark = pcp_store_mark(srv);
	if (store_mapping_as(srv, rec, text) != 0 || pcp_server_push(srv, CGN_MSG_ADD, rec) != 0) {
		pcp_store_rollback(srv, mark);
		cgn_pb_release(&srv->pb, sub, in->proto, port);
		rec_db_del(srv->mappings, rec);
		return PCP_RES_NO_RESOURCES;
	}
	mapping_log_create(rec, mapping_origin(rec), now); /* stored and pushed: certain (not a static) */
	*out = rec;
	return PCP_RES_SUCCESS;
}

struct map_fill {
	const struct map_intent *mi;
	uint64_t now;
	uint32_t lifetime;
	const struct cgn_filter *filters, *filters_sent;
	uint8_t n_filters;
};

static void
fill_map(struct pcp_mapping_rec *rec, const void *arg)
{
	const struct map_fill *f = arg;
	rec->flags = f->mi->origin | (f->mi->third_party ? CGN_MAP_THIRD_PARTY : 0) |
		     (f->mi->prefer_failure ? CGN_MAP_PREFER_FAILURE : 0) | (f->n_filters ? CGN_MAP_FILTERED : 0);
	memcpy(rec->nonce, f->mi->nonce, PCP_NONCE_LEN);
	rec->lifetime_s = f->lifetime;
	rec->expire_ms = f->now + (uint64_t)f->lifetime * 1000;
	rec->client = f->mi->client;
	rec->client_port = f->mi->client_port;
	rec->n_filters = f->n_filters;
	memcpy(rec->filters, f->filters, sizeof(rec->filters[0]) * f->n_filters);
	memcpy(rec->filters_sent, f->filters_sent, sizeof(rec->filters_sent[0]) * f->n_filters);
}

/* What a new mapping (single port or set) checks before it takes anything: its FILTERs
 * (§13.3), its subscriber (created if new) and the subscriber's mapping quota. @return
 * PCP_RES_SUCCESS with *sub, *n_filters and the two filter arrays set, or the result. */
static uint8_t
new_mapping_checks(struct pcp_server *srv, uint64_t now, const struct map_intent *mi,
		   struct cgn_filter filters[CGN_MAP_FILTERS], struct cgn_filter sent[CGN_MAP_FILTERS], uint8_t *n_filters,
		   uint32_t *sub)
{
	uint8_t rc = merge_filters(srv, NULL, mi, filters, sent, n_filters);
	if (rc != PCP_RES_SUCCESS)
		return rc;
	int32_t s = mapping_subscriber(srv, &mi->in.addr, true);
	if (s < 0) { /* the subscriber table is full */
		subscribers_log(srv, now, &mi->in.addr);
		return PCP_RES_NO_RESOURCES;
	}
	if (__atomic_load_n(&cgn_pb_sub(&srv->pb, (uint32_t)s)->explicit_mappings, __ATOMIC_SEQ_CST) >=
	    srv->cfg.pcp.max_mappings_per_subscriber) {
		quota_log(srv, now, &mi->in.addr);
		return PCP_RES_USER_EX_QUOTA;
	}
	*sub = (uint32_t)s;
	return PCP_RES_SUCCESS;
}

static uint8_t
map_create(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct map_outcome *out)
{
	struct cgn_filter filters[CGN_MAP_FILTERS], sent[CGN_MAP_FILTERS];
	uint8_t n_filters;
	uint32_t sub;
	uint8_t rc = new_mapping_checks(srv, now, mi, filters, sent, &n_filters, &sub);
	if (rc != PCP_RES_SUCCESS)
		return rc;
	struct cgn_pb_sub *s = cgn_pb_sub(&srv->pb, sub);

	uint32_t addr;
	uint16_t port;
	uint8_t pref64 = mi->pref64;
	struct map_fill f = { mi, now, pcp_clamp_lifetime(&srv->cfg, mi->lifetime), filters, sent, n_filters };
	struct pcp_mapping_rec *rec;

	/* §11.3 item 4: outbound traffic already made this mapping on a worker: it becomes
	 * explicit with the same external endpoint, which the control plane now owns. */
	if (srv->ops.find_implicit && srv->ops.find_implicit(srv->ops.ctx, &mi->in, &addr, &port, &pref64)) {
		if (mi->prefer_failure && (mi->suggested_port != port || !addr_fits(&mi->suggested_addr, addr)))
			return PCP_RES_CANNOT_PROVIDE_EXTERNAL; /* item 1 */
		rec = rec_db_add(srv->mappings, &mi->in);
		if (rec == NULL)
			return PCP_RES_NO_RESOURCES;
		rec->in = mi->in;
		rec->sub = sub;
		rec->ext_addr = addr;
		rec->ext_port = port;
		rec->created_ms = now;
		rec->pref64 = pref64; /* the implicit session's: its host talks to that Pref64 */
		fill_map(rec, &f);
		size_t mark = pcp_store_mark(srv);
		struct pcp_desc_want text = map_text(mi);
		if (store_mapping_as(srv, rec, &text) != 0 || pcp_server_push(srv, CGN_MSG_REPLACE, rec) != 0) {
			pcp_store_rollback(srv, mark);
			rec_db_del(srv->mappings, rec);
			return PCP_RES_NO_RESOURCES;
		}
		/* explicit now: a BIB entry from here on (its implicit life was a session's, which
		 * ends here) */
		adopted_session_log(rec, now);
		mapping_log_create(rec, mapping_origin(rec), now);
	} else {
		rc = take_port(srv, now, sub, &mi->in, &mi->suggested_addr, mi->suggested_port, mi->nonce,
			       mi->prefer_failure, &addr, &port);
		if (rc != PCP_RES_SUCCESS)
			return rc;
		struct pcp_desc_want text = map_text(mi);
		rc = publish_new(srv, now, &mi->in, sub, addr, port, pref64, &text, &rec, fill_map, &f);
		if (rc != PCP_RES_SUCCESS)
			return rc;
	}
	__atomic_fetch_add(&s->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	if (mi->has_description) /* RFC 7220 §3 */
		out->description_stored = pcp_description_mapping_set(srv, rec, mi->description, mi->description_len);
	srv->stats.mappings_created++;
	out->rec = rec;
	out->lifetime = rec->lifetime_s;
	return PCP_RES_SUCCESS;
}

uint8_t
mapping_map(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct map_outcome *out)
{
	struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &mi->in);
	memset(out, 0, sizeof(*out));
	if (mi->lifetime == 0)
		return map_delete(srv, now, mi, rec, out);
	if (rec)
		return map_renew(srv, now, mi, rec, out);
	return map_create(srv, now, mi, out);
}


/* ---- port sets (RFC 7753) ---------------------------------------------------------------------
 *
 * A set of N ports is N records (and N data-plane entries) sharing set_first and set_size,
 * the nonce, the lifetime and expiry, the filters; their external ports are consecutive
 * (one run of a port block, cgn_pb_alloc_run()). "Port-set mappings are renewed and deleted
 * as a single entity" (§4.4): every function here acts on all ports or, when the data plane
 * refuses one (ring full), puts every port back as it was.
 */

/* The ports of one set while a function works on it (control thread only, never nested). */
static struct pcp_mapping_rec *set_recs[UINT16_MAX + 1];
static uint16_t set_old_flags[UINT16_MAX + 1];

/* Fills set_recs[] with the records of rec's set, in port order (those still there: an
 * expiry the ring interrupted may have removed some). @return how many (rec is one). */
static uint32_t
set_members(struct pcp_server *srv, const struct pcp_mapping_rec *rec)
{
	uint16_t first = rec->set_first, size = rec->set_size;
	struct cgn_key k = rec->in;
	uint32_t n = 0;
	for (uint32_t i = 0; i < size && (uint32_t)first + i <= UINT16_MAX; i++) {
		k.port = (uint16_t)(first + i);
		struct pcp_mapping_rec *m = rec_db_find(srv->mappings, &k);
		if (m && m->set_first == first && m->set_size == size)
			set_recs[n++] = m;
	}
	return n;
}

struct pcp_mapping_rec **
mapping_set_members(struct pcp_server *srv, const struct pcp_mapping_rec *rec, uint32_t *n)
{
	*n = set_members(srv, rec);
	return set_recs;
}

/* §15 for a set: the longest time outbound traffic keeps any of its ports. */
static uint64_t
set_idle_ms(struct pcp_server *srv, uint32_t n, uint64_t now)
{
	uint64_t idle = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t t = mapping_idle_remaining_ms(srv, set_recs[i], now);
		if (t > idle)
			idle = t;
	}
	return idle;
}

/* Tells the data plane a port of a set leaves it: deleted, or (PEER sessions still use it)
 * outbound only. @return 0 or -ENOBUFS. */
static int
set_port_push_leave(struct pcp_server *srv, const struct pcp_mapping_rec *m)
{
	if (m->n_peers == 0)
		return pcp_server_push(srv, CGN_MSG_DEL, m);
	static struct pcp_mapping_rec stripped;
	stripped = *m;
	mapping_strip_explicit_fields(&stripped);
	return pcp_server_push(srv, CGN_MSG_REPLACE, &stripped);
}

/* A port of a set leaves, the data plane told: its port held (RFC 6888 REQ-8) and its record
 * removed, or, PEER sessions using it, an outbound mapping of its own. The set's one count
 * against the quota goes with its last port (set_gone()). */
static void
set_port_leave(struct pcp_server *srv, struct pcp_mapping_rec *m, uint64_t now)
{
	pcp_description_mapping_clear(srv, m); /* the MAP part's (RFC 7220) */
	if (m->n_peers > 0) {
		mapping_strip_explicit_fields(m);
		pcp_store_mapping(srv, m); /* a client's delete stored it so already (set_store_leave) */
		return;
	}
	pcp_store_mapping_gone(srv, m); /* ... or removed it: a no-op then */
	mapping_log_delete(m, mapping_origin(m), now);
	hold_put(srv, m, now);
	rec_db_del(srv->mappings, m);
}

/* Stores what a client's delete makes of the first n ports of a set (set_port_leave's
 * outcome: gone, or outbound only), before the data plane is told. @return 0 or -errno
 * (the store is back at mark then). */
static int
set_store_leave(struct pcp_server *srv, uint32_t n, size_t mark)
{
	static const struct pcp_desc_want no_text = { .given = true };
	for (uint32_t i = 0; i < n; i++) {
		struct pcp_mapping_rec *m = set_recs[i];
		int rc;
		if (m->n_peers > 0) {
			struct pcp_mapping_rec old = *m;
			mapping_strip_explicit_fields(m);
			rc = store_mapping_as(srv, m, &no_text);
			*m = old;
		} else {
			rc = pcp_store_mapping_gone(srv, m);
		}
		if (rc != 0) {
			pcp_store_rollback(srv, mark);
			return rc;
		}
	}
	return 0;
}

static void
set_gone(struct pcp_server *srv, uint32_t sub)
{
	__atomic_fetch_sub(&cgn_pb_sub(&srv->pb, sub)->explicit_mappings, 1, __ATOMIC_SEQ_CST);
}

/* Takes back the first n ports of a set being created (pushed to the data plane), and the
 * ports got - n never published. A port whose DEL the ring refuses too cannot be taken back
 * now: its record stays, as an outbound mapping with no time left (no count against the
 * quota), which the next expiry sweep deletes. */
static void
set_create_undo(struct pcp_server *srv, uint32_t n, uint32_t sub, uint8_t proto, uint16_t first, uint16_t got)
{
	for (uint32_t i = 0; i < n; i++) {
		struct pcp_mapping_rec *m = set_recs[i];
		if (pcp_server_push(srv, CGN_MSG_DEL, m) == 0) {
			cgn_pb_release(&srv->pb, sub, proto, m->ext_port);
			rec_db_del(srv->mappings, m);
			continue;
		}
		mapping_strip_explicit_fields(m);
		m->peer_expire_ms = 0;
	}
	cgn_pb_release_run(&srv->pb, sub, proto, (uint16_t)(first + n), (uint16_t)(got - n));
}

uint8_t
mapping_set_create(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct map_outcome *out)
{
	memset(out, 0, sizeof(*out));
	struct cgn_filter filters[CGN_MAP_FILTERS], sent[CGN_MAP_FILTERS];
	uint8_t n_filters;
	uint32_t sub;
	uint8_t rc = new_mapping_checks(srv, now, mi, filters, sent, &n_filters, &sub);
	if (rc != PCP_RES_SUCCESS)
		return rc;
	struct cgn_pb_sub *s = cgn_pb_sub(&srv->pb, sub);

	/* The set stops before an internal port that outbound traffic has mapped already: that
	 * mapping is the data plane's, with its own external port (§11.3 item 4 makes it
	 * explicit as it is, a single port). */
	uint16_t want = mi->set_want;
	for (uint16_t k = 0; srv->ops.find_implicit && k < want; k++) {
		struct cgn_key in = mi->in;
		uint32_t a;
		uint16_t p;
		uint8_t p64;
		in.port = (uint16_t)(mi->in.port + k);
		if (srv->ops.find_implicit(srv->ops.ctx, &in, &a, &p, &p64))
			want = k;
	}
	if (want < 2)
		return mapping_map(srv, now, mi, out); /* one port: a plain MAP (RFC 7753 §4.2) */

	/* Ports held for this client since its set went (RFC 6888 REQ-8, RFC 6887 §15): free
	 * again, the first one as the suggestion when the client made none. */
	uint32_t paired = srv->pb.addrs[s->ext_index];
	uint16_t want_first = addr_fits(&mi->suggested_addr, paired) ? mi->suggested_port : 0;
	for (uint16_t k = 0; k < want; k++) {
		struct cgn_key in = mi->in;
		in.port = (uint16_t)(mi->in.port + k);
		struct hold_rec *h = hold_find(srv, &in, mi->nonce);
		if (h == NULL)
			continue;
		if (k == 0 && want_first == 0 && h->ext_addr == paired)
			want_first = h->ext_port;
		cgn_pb_release(&srv->pb, h->sub, h->proto, h->ext_port);
		rec_db_del(srv->holds, h);
		srv->stats.holds_reclaimed++;
	}

	/* §4.2: "If the port parity preservation is requested (P = 1), the PCP server MAY
	 * preserve port parity. In that case, the External Port is set to a value having the
	 * same parity as the First Internal Port." (nat.parity asks it for every mapping.) */
	int parity = mi->set_parity || srv->cfg.nat.parity ? mi->in.port & 1 : -1;
	uint32_t addr;
	uint16_t first, got;
	int arc = cgn_pb_alloc_run(&srv->pb, sub, mi->in.proto, want_first, want, parity, &srv->rng, &addr,
				   &first, &got);
	if (arc != 0) {
		alloc_refusal_log(srv, now, &mi->in, sub, arc);
		return alloc_result(arc, false);
	}

	struct map_fill f = { mi, now, pcp_clamp_lifetime(&srv->cfg, mi->lifetime), filters, sent, n_filters };
	if (got == 1) { /* "If the PCP server ends up mapping only a single port": a plain one */
		struct pcp_mapping_rec *rec;
		struct pcp_desc_want text = map_text(mi);
		rc = publish_new(srv, now, &mi->in, sub, addr, first, mi->pref64, &text, &rec, fill_map, &f);
		if (rc != PCP_RES_SUCCESS)
			return rc;
		if (mi->has_description) /* RFC 7220 §3 */
			out->description_stored = pcp_description_mapping_set(srv, rec, mi->description, mi->description_len);
		__atomic_fetch_add(&s->explicit_mappings, 1, __ATOMIC_SEQ_CST);
		srv->stats.mappings_created++;
		out->rec = rec;
		out->lifetime = rec->lifetime_s;
		return PCP_RES_SUCCESS;
	}

	/* Every port is stored before the data plane hears of it; the first carries the set's
	 * DESCRIPTION (RFC 7220: one text a mapping, and a set is one mapping). */
	struct pcp_desc_want text = map_text(mi);
	size_t mark = pcp_store_mark(srv);
	uint32_t n;
	for (n = 0; n < got; n++) {
		struct cgn_key in = mi->in;
		in.port = (uint16_t)(mi->in.port + n);
		struct pcp_mapping_rec *rec = rec_db_add(srv->mappings, &in);
		if (rec == NULL)
			break;
		rec->in = in;
		rec->sub = sub;
		rec->ext_addr = addr;
		rec->ext_port = (uint16_t)(first + n);
		rec->created_ms = now;
		rec->pref64 = mi->pref64;
		fill_map(rec, &f);
		rec->set_first = mi->in.port;
		rec->set_size = got;
		if (store_mapping_as(srv, rec, n == 0 ? &text : NULL) != 0 || pcp_server_push(srv, CGN_MSG_ADD, rec) != 0) {
			rec_db_del(srv->mappings, rec);
			break;
		}
		set_recs[n] = rec;
	}
	if (n < got) {
		pcp_store_rollback(srv, mark);
		set_create_undo(srv, n, sub, mi->in.proto, first, got);
		return PCP_RES_NO_RESOURCES;
	}
	/* Every port stored and pushed: one BIB entry each (RFC 8158 has no port range for a
	 * BIB event, and each port is an entry of the data plane of its own). Not before: a port
	 * the undo above cannot take back was never reported, so its end is not either. */
	for (uint32_t i = 0; i < got; i++)
		mapping_log_create(set_recs[i], mapping_origin(set_recs[i]), now);
	if (mi->has_description)
		out->description_stored = pcp_description_mapping_set(srv, set_recs[0], mi->description, mi->description_len);
	__atomic_fetch_add(&s->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	srv->stats.mappings_created++;
	srv->stats.port_sets_created++;
	out->rec = set_recs[0];
	out->lifetime = set_recs[0]->lifetime_s;
	out->set_first = mi->in.port;
	out->set_size = got;
	return PCP_RES_SUCCESS;
}

/* Puts the first n ports of a set back as old (the set's shared fields) and set_old_flags
 * say, and tells the data plane (best effort: a refused message leaves a data-plane entry
 * with a longer life or newer filters, which the control plane's own expiry still ends). */
static void
set_restore(struct pcp_server *srv, uint32_t n, uint32_t pushed, const struct pcp_mapping_rec *old)
{
	for (uint32_t i = 0; i < n; i++) {
		struct pcp_mapping_rec *m = set_recs[i];
		bool republish = m->flags != set_old_flags[i] || m->n_filters != old->n_filters ||
				 memcmp(m->filters, old->filters, sizeof(m->filters)) != 0;
		m->lifetime_s = old->lifetime_s;
		m->expire_ms = old->expire_ms;
		m->flags = set_old_flags[i];
		m->n_filters = old->n_filters;
		memcpy(m->filters, old->filters, sizeof(m->filters));
		memcpy(m->filters_sent, old->filters_sent, sizeof(m->filters_sent));
		if (i < pushed)
			pcp_server_push(srv, republish ? CGN_MSG_REPLACE : CGN_MSG_REFRESH, m);
	}
}

static uint8_t
set_renew(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, uint32_t n, struct map_outcome *out)
{
	struct pcp_mapping_rec *head = set_recs[0];
	/* RFC 6887 §11.3 item 1, for a plain MAP with PREFER_FAILURE that names a port of a set
	 * (with PORT_SET it is MALFORMED_OPTION). */
	if (mi->prefer_failure &&
	    (mi->suggested_port != head->ext_port || !addr_fits(&mi->suggested_addr, head->ext_addr)))
		return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
	struct cgn_filter filters[CGN_MAP_FILTERS], sent[CGN_MAP_FILTERS];
	uint8_t n_filters;
	uint8_t rc = merge_filters(srv, head, mi, filters, sent, &n_filters);
	if (rc != PCP_RES_SUCCESS)
		return rc;
	uint32_t lifetime = pcp_clamp_lifetime(&srv->cfg, mi->lifetime);
	uint64_t idle = set_idle_ms(srv, n, now);
	if (idle > (uint64_t)lifetime * 1000) /* §15: a renewal may not shorten it either */
		lifetime = (uint32_t)((idle + 999) / 1000);

	static struct pcp_mapping_rec old;
	old = *head;
	struct pcp_desc_want text = map_text(mi);
	size_t mark = pcp_store_mark(srv);
	for (uint32_t i = 0; i < n; i++) {
		struct pcp_mapping_rec *m = set_recs[i];
		set_old_flags[i] = m->flags;
		m->lifetime_s = lifetime;
		m->expire_ms = now + (uint64_t)lifetime * 1000;
		m->flags |= mi->origin | (mi->third_party ? CGN_MAP_THIRD_PARTY : 0);
		m->flags = (uint16_t)(n_filters ? m->flags | CGN_MAP_FILTERED : m->flags & ~CGN_MAP_FILTERED);
		m->n_filters = n_filters;
		memcpy(m->filters, filters, sizeof(filters[0]) * n_filters);
		memcpy(m->filters_sent, sent, sizeof(sent[0]) * n_filters);
		bool republish = m->flags != set_old_flags[i] || m->n_filters != old.n_filters ||
				 memcmp(m->filters, old.filters, sizeof(m->filters)) != 0;
		if (store_mapping_as(srv, m, i == 0 ? &text : NULL) != 0 ||
		    pcp_server_push(srv, republish ? CGN_MSG_REPLACE : CGN_MSG_REFRESH, m) != 0) {
			pcp_store_rollback(srv, mark);
			set_restore(srv, i + 1, i, &old);
			return PCP_RES_NO_RESOURCES;
		}
	}
	/* RFC 7220 §3: the set's text is its first port's */
	if (mi->has_description)
		out->description_stored = pcp_description_mapping_set(srv, head, mi->description, mi->description_len);
	for (uint32_t i = 0; i < n; i++)
		pcp_unsolicited_cancel(srv, &set_recs[i]->in); /* §14.2: refreshed, no more updates */
	srv->stats.mappings_renewed++;
	out->rec = head;
	out->lifetime = lifetime;
	return PCP_RES_SUCCESS;
}

/* §15.1 with erratum 3621, for the whole set. */
static uint8_t
set_delete(struct pcp_server *srv, uint64_t now, uint32_t n, struct map_outcome *out)
{
	struct pcp_mapping_rec *head = set_recs[0];
	/* §15: never sooner than outbound traffic on any of its ports would keep it. */
	uint64_t idle = set_idle_ms(srv, n, now);
	if (idle > 0) {
		static struct pcp_mapping_rec old;
		old = *head;
		size_t mark = pcp_store_mark(srv);
		for (uint32_t i = 0; i < n; i++) {
			set_old_flags[i] = set_recs[i]->flags;
			set_recs[i]->expire_ms = now + idle;
			set_recs[i]->lifetime_s = (uint32_t)((idle + 999) / 1000);
			if (pcp_store_mapping(srv, set_recs[i]) != 0 || pcp_server_push(srv, CGN_MSG_REFRESH, set_recs[i]) != 0) {
				pcp_store_rollback(srv, mark);
				set_restore(srv, i + 1, i, &old);
				return PCP_RES_NO_RESOURCES;
			}
		}
		out->rec = head;
		out->lifetime = head->lifetime_s;
		return PCP_RES_SUCCESS;
	}
	/* Every port is told to the data plane first (a port PEER sessions still use stays,
	 * outbound only); if the ring refuses one, those told are put back. One the ring refuses
	 * again is gone from the data plane: it leaves the set here too (the set keeps its other
	 * ports and its count), so that both planes agree. */
	uint32_t sub = head->sub;
	size_t mark = pcp_store_mark(srv);
	if (set_store_leave(srv, n, mark) != 0)
		return PCP_RES_NO_RESOURCES;
	for (uint32_t i = 0; i < n; i++) {
		if (set_port_push_leave(srv, set_recs[i]) != 0) {
			pcp_store_rollback(srv, mark);
			for (uint32_t j = 0; j < i; j++)
				if (pcp_server_push(srv, set_recs[j]->n_peers ? CGN_MSG_REPLACE : CGN_MSG_ADD,
						    set_recs[j]) != 0)
					set_port_leave(srv, set_recs[j], now);
			return PCP_RES_NO_RESOURCES;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		set_port_leave(srv, set_recs[i], now);
	set_gone(srv, sub);
	srv->stats.mappings_deleted++;
	out->rec = NULL;
	out->lifetime = 0;
	return PCP_RES_SUCCESS;
}

uint8_t
mapping_set_refresh(struct pcp_server *srv, uint64_t now, const struct map_intent *mi, struct pcp_mapping_rec *rec,
		    struct map_outcome *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t n = set_members(srv, rec);
	struct pcp_mapping_rec *head = set_recs[0];
	out->rec = head;
	out->set_first = head->set_first;
	out->set_size = head->set_size;
	/* RFC 6887 §11.3 / §15.1 Simple Threat Model: the nonce of the set (one for all ports). */
	if (!nonce_eq(head, mi->nonce)) {
		out->error_lifetime = remaining_s(rec_expire(head), now);
		return PCP_RES_NOT_AUTHORIZED;
	}
	return mi->lifetime ? set_renew(srv, now, mi, n, out) : set_delete(srv, now, n, out);
}

/* The expiry sweep met a port of a set whose time is up: the set expires as one. A port the
 * ring refuses stays for the next sweep (with those after it). */
static void
set_expire(struct pcp_server *srv, struct pcp_mapping_rec *rec, uint64_t now)
{
	uint32_t n = set_members(srv, rec);
	uint64_t idle = set_idle_ms(srv, n, now);
	if (idle > 0) { /* outbound traffic keeps it: look again when that runs out */
		for (uint32_t i = 0; i < n; i++)
			set_recs[i]->expire_ms = now + idle;
		return;
	}
	uint32_t sub = rec->sub;
	for (uint32_t i = 0; i < n; i++) {
		if (set_port_push_leave(srv, set_recs[i]) != 0)
			return;
		set_port_leave(srv, set_recs[i], now);
	}
	set_gone(srv, sub);
	srv->stats.mappings_expired++;
}

/* ---- PEER ---------------------------------------------------------------------------------- */

struct peer_fill {
	uint64_t expire_ms;
	uint32_t lifetime;
	bool third_party;
	const struct cgn_addr *client;
	uint16_t client_port;
};

static void
fill_peer(struct pcp_mapping_rec *rec, const void *arg)
{
	const struct peer_fill *f = arg;
	rec->flags = CGN_MAP_PEER | (f->third_party ? CGN_MAP_THIRD_PARTY : 0);
	rec->peer_expire_ms = f->expire_ms;
	rec->lifetime_s = f->lifetime;
	rec->client = *f->client;
	rec->client_port = f->client_port;
}

/* A new PEER session's fields (§12.3). */
static void
fill_session(struct pcp_peer_rec *p, uint64_t now, uint64_t want, const uint8_t nonce[PCP_NONCE_LEN],
	     const struct cgn_addr *remote_sent)
{
	memcpy(p->nonce, nonce, PCP_NONCE_LEN);
	p->remote_sent = *remote_sent;
	p->expire_ms = want;
	p->renewed_ms = now;
	p->lifetime_s = (uint32_t)((want - now) / 1000);
}

uint8_t
mapping_peer(struct pcp_server *srv, uint64_t now, const struct peer_key *pk, const struct cgn_addr *remote_sent,
	     uint8_t pref64, const struct cgn_addr *sugg_addr,
	     uint16_t sugg_port, uint32_t lifetime, const uint8_t nonce[PCP_NONCE_LEN], bool third_party,
	     const struct cgn_addr *client, uint16_t client_port, struct pcp_desc_want *desc,
	     const struct pcp_mapping_rec **out, uint32_t *granted, uint32_t *error_lifetime)
{
	struct pcp_peer_rec *p = rec_db_find(srv->peers, pk);
	struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &pk->in);
	/* "it is not possible to reduce the lifetime of a mapping" (§12.1): PEER only extends. */
	uint64_t want = now + (uint64_t)pcp_clamp_lifetime(&srv->cfg, lifetime) * 1000;

	if (p && rec == NULL) { /* cannot happen: a session's mapping outlives it */
		pcp_store_peer_gone(srv, p);
		pcp_description_peer_clear(p);
		rec_db_del(srv->peers, p);
		p = NULL;
	}
	if (p) {
		if (memcmp(p->nonce, nonce, PCP_NONCE_LEN) != 0) {
			*error_lifetime = remaining_s(p->expire_ms, now);
			return PCP_RES_NOT_AUTHORIZED; /* §12.3 Simple Threat Model */
		}
		struct pcp_peer_rec old_p = *p;
		uint64_t old_peer = rec->peer_expire_ms;
		size_t mark = pcp_store_mark(srv);
		if (want > p->expire_ms)
			p->expire_ms = want;
		if (p->expire_ms > rec->peer_expire_ms)
			rec->peer_expire_ms = p->expire_ms;
		p->renewed_ms = now;
		p->remote_sent = *remote_sent; /* the form the client uses now */
		if (store_peer_as(srv, pk, p, desc) != 0 ||
		    (rec->peer_expire_ms != old_peer && pcp_store_mapping(srv, rec) != 0) ||
		    (rec->peer_expire_ms != old_peer && pcp_server_push(srv, CGN_MSG_REFRESH, rec) != 0)) {
			pcp_store_rollback(srv, mark);
			*p = old_p;
			rec->peer_expire_ms = old_peer;
			return PCP_RES_NO_RESOURCES;
		}
		/* RFC 7220 §3: a renewal with a DESCRIPTION replaces the text, one without keeps it. */
		if (desc && desc->given)
			desc->stored = pcp_description_peer_set(srv, p, desc->text, desc->len);
		srv->stats.sessions_renewed++;
		*out = rec;
		*granted = remaining_s(p->expire_ms, now);
		return PCP_RES_SUCCESS;
	}

	if (rec) {
		/* The mapping of this internal endpoint exists (EIM): the session joins it. The
		 * suggestion must be it or nothing (implied PREFER_FAILURE, §12.1). */
		if ((sugg_port && sugg_port != rec->ext_port) || !addr_fits(sugg_addr, rec->ext_addr))
			return PCP_RES_CANNOT_PROVIDE_EXTERNAL;
		p = rec_db_add(srv->peers, pk);
		if (p == NULL)
			return PCP_RES_NO_RESOURCES;
		fill_session(p, now, want, nonce, remote_sent);
		uint64_t old_peer = rec->peer_expire_ms;
		uint16_t old_flags = rec->flags;
		if (want > rec->peer_expire_ms)
			rec->peer_expire_ms = want;
		/* PEER-managed now: the workers watch its FINs and RSTs for the session (§12.3). */
		rec->flags |= CGN_MAP_PEER;
		bool republish = rec->flags != old_flags, changed = republish || rec->peer_expire_ms != old_peer;
		size_t mark = pcp_store_mark(srv);
		if (store_peer_as(srv, pk, p, desc) != 0 || (changed && pcp_store_mapping(srv, rec) != 0) ||
		    (changed && pcp_server_push(srv, republish ? CGN_MSG_REPLACE : CGN_MSG_REFRESH, rec) != 0)) {
			pcp_store_rollback(srv, mark);
			rec->peer_expire_ms = old_peer;
			rec->flags = old_flags;
			rec_db_del(srv->peers, p);
			return PCP_RES_NO_RESOURCES;
		}
	} else {
		int32_t sub = mapping_subscriber(srv, &pk->in.addr, true);
		if (sub < 0) {
			subscribers_log(srv, now, &pk->in.addr);
			return PCP_RES_NO_RESOURCES;
		}
		uint32_t addr;
		uint16_t port;
		uint8_t rc = take_port(srv, now, (uint32_t)sub, &pk->in, sugg_addr, sugg_port, nonce,
				       sugg_port != 0 || !cgn_addr_is_unspecified(sugg_addr), &addr, &port);
		if (rc != PCP_RES_SUCCESS)
			return rc;
		p = rec_db_add(srv->peers, pk);
		if (p == NULL) {
			cgn_pb_release(&srv->pb, (uint32_t)sub, pk->in.proto, port);
			return PCP_RES_NO_RESOURCES;
		}
		fill_session(p, now, want, nonce, remote_sent);
		size_t mark = pcp_store_mark(srv);
		if (store_peer_as(srv, pk, p, desc) != 0) {
			cgn_pb_release(&srv->pb, (uint32_t)sub, pk->in.proto, port);
			rec_db_del(srv->peers, p);
			return PCP_RES_NO_RESOURCES;
		}
		struct peer_fill f = { want, (uint32_t)((want - now) / 1000), third_party, client, client_port };
		rc = publish_new(srv, now, &pk->in, (uint32_t)sub, addr, port, pref64, NULL, &rec, fill_peer, &f);
		if (rc != PCP_RES_SUCCESS) {
			pcp_store_rollback(srv, mark);
			rec_db_del(srv->peers, p);
			return rc;
		}
	}
	if (desc && desc->given) /* RFC 7220 §3 */
		desc->stored = pcp_description_peer_set(srv, p, desc->text, desc->len);
	rec->n_peers++;
	srv->stats.sessions_created++;
	*out = rec;
	*granted = p->lifetime_s;
	return PCP_RES_SUCCESS;
}

/* ---- static mappings -------------------------------------------------------------------------- */

static void
fill_static(struct pcp_mapping_rec *rec, const void *arg)
{
	(void)arg;
	rec->flags = CGN_MAP_STATIC;
	rec->expire_ms = UINT64_MAX;
	rec->lifetime_s = UINT32_MAX;
}

int
mapping_install_statics(struct pcp_server *srv, uint64_t now)
{
	for (unsigned i = 0; i < srv->cfg.nat.n_static; i++) {
		const struct cgn_static *st = &srv->cfg.nat.statics[i];
		char a[CGN_ADDR_STRLEN];
		struct cgn_key in = cgn_key_make(&st->internal, st->internal_port, st->proto, CGN_SIDE_INSIDE);
		int32_t sub = mapping_subscriber(srv, &st->internal, true);
		int rc = sub < 0 ? (int)sub : cgn_pb_pin(&srv->pb, (uint32_t)sub, st->external);
		if (rc == 0)
			rc = cgn_pb_take(&srv->pb, (uint32_t)sub, st->external, st->proto, st->external_port);
		struct pcp_mapping_rec *rec;
		if (rc == 0 && publish_new(srv, now, &in, (uint32_t)sub, st->external, st->external_port, 0, NULL, &rec,
					   fill_static, NULL) != PCP_RES_SUCCESS)
			rc = -ENOSPC;
		if (rc != 0) {
			struct cgn_addr ext = cgn_addr_from_v4(st->external);
			CGN_LOG(ERR, "static mapping %u (%s port %u): %s", i + 1,
				cgn_addr_format(&ext, a, sizeof(a)), st->external_port,
				rc == -EBUSY ? "the external port or its block is taken"
				: rc == -EADDRNOTAVAIL ? "the external port is outside nat.ports or reserved"
				: rc == -EDQUOT ? "the subscriber's block quota (nat.max_blocks) is exceeded"
						: strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* ---- expiry ----------------------------------------------------------------------------------- */

struct sweep {
	struct pcp_server *srv;
	uint64_t now;
};

static void
expire_mapping(void *r, void *arg)
{
	struct pcp_mapping_rec *rec = r;
	struct sweep *sw = arg;
	struct pcp_server *srv = sw->srv;
	bool explicit = rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP);

	if (rec->flags & CGN_MAP_STATIC)
		return;
	if (explicit && rec->expire_ms > sw->now)
		return;
	if (explicit && mapping_in_set(rec)) {
		set_expire(srv, rec, sw->now); /* RFC 7753 §4.4: the set goes as one */
		return;
	}
	if (!explicit && (rec->n_peers > 0 || rec->peer_expire_ms > sw->now))
		return;
	uint64_t idle = mapping_idle_remaining_ms(srv, rec, sw->now);
	if (idle > 0) { /* outbound traffic keeps it: look again when that runs out */
		if (explicit)
			rec->expire_ms = sw->now + idle;
		else
			rec->peer_expire_ms = sw->now + idle;
		return;
	}
	if (explicit && rec->n_peers > 0) {
		if (strip_explicit(srv, rec, false) == 0) /* else the ring is full: the next sweep tries again */
			srv->stats.mappings_expired++;
		return;
	}
	if (pcp_server_push(srv, CGN_MSG_DEL, rec) != 0)
		return;
	forget(srv, rec, sw->now, mapping_origin(rec));
	srv->stats.mappings_expired++;
}

/* §12.3: "A PEER-created or PEER-managed mapping may be terminated at any time by action of
 * the TCP client or server (e.g., due to TCP FIN or TCP RST), as per the NAT or firewall
 * device's existing policy": a FIN or RST the internal host sent to the session's remote
 * peer (dataplane/pipeline.c track_tcp), seen by the workers after the session's last PEER
 * request. */
static bool
session_closed(struct pcp_server *srv, const struct peer_key *pk, const struct pcp_peer_rec *p)
{
	if (pk->in.proto != IPPROTO_TCP || srv->ops.session_closed_at == NULL)
		return false;
	struct cgn_addr peer;
	uint16_t port;
	uint64_t closed = srv->ops.session_closed_at(srv->ops.ctx, &pk->in, &peer, &port);
	return closed != 0 && closed >= p->renewed_ms && cgn_addr_eq(&peer, &pk->remote) && port == pk->remote_port;
}

static void
expire_session(void *r, void *arg)
{
	struct pcp_peer_rec *p = r;
	struct sweep *sw = arg;
	const struct peer_key *pk = rec_db_key(sw->srv->peers, p);
	bool closed = false;
	if (p->expire_ms > sw->now && !(closed = session_closed(sw->srv, pk, p)))
		return;
	struct pcp_mapping_rec *rec = rec_db_find(sw->srv->mappings, &pk->in);
	if (rec && rec->n_peers > 0) {
		rec->n_peers--; /* the mapping sweep removes it when nothing else holds it */
		/* The last session closed: the mapping is an implicit one from now on (its idle
		 * timeout, transitory after the FIN or RST, is mapping_idle_remaining_ms's). */
		if (closed && rec->n_peers == 0 && rec->peer_expire_ms > sw->now)
			rec->peer_expire_ms = sw->now;
		/* An inbound mapping the last session left is no longer PEER-managed: the workers
		 * stop recording its closes. (If the ring is full it stays marked: harmless.) */
		if (rec->n_peers == 0 && (rec->flags & CGN_MAP_PEER) &&
		    (rec->flags & CGN_MAP_INBOUND)) {
			rec->flags &= (uint16_t)~CGN_MAP_PEER;
			if (pcp_server_push(sw->srv, CGN_MSG_REPLACE, rec) != 0)
				rec->flags |= CGN_MAP_PEER;
		}
	}
	pcp_store_peer_gone(sw->srv, p);
	pcp_description_peer_clear(p);
	rec_db_del(sw->srv->peers, p);
	if (closed)
		sw->srv->stats.sessions_closed++;
	else
		sw->srv->stats.sessions_expired++;
}

static void
expire_hold(void *r, void *arg)
{
	struct hold_rec *h = r;
	struct sweep *sw = arg;
	if (h->until_ms > sw->now)
		return;
	cgn_pb_release(&sw->srv->pb, h->sub, h->proto, h->ext_port);
	rec_db_del(sw->srv->holds, h);
}

void
mapping_expire(struct pcp_server *srv, uint64_t now)
{
	struct sweep sw = { srv, now };
	/* Bounds: capacity/50 + 64 slots of each table per call, so a 100 ms tick sweeps every
	 * table in five seconds; and 256 subscriber slots for block reclaim. */
	rec_db_scan(srv->peers, &srv->peer_cursor, rec_db_capacity(srv->peers) / 50 + 64, expire_session, &sw);
	rec_db_scan(srv->mappings, &srv->expire_cursor, rec_db_capacity(srv->mappings) / 50 + 64, expire_mapping, &sw);
	rec_db_scan(srv->holds, &srv->hold_cursor, rec_db_capacity(srv->holds) / 50 + 64, expire_hold, &sw);
	uint32_t n_subs = __atomic_load_n(&srv->pb.n_subs, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < 256 && i < n_subs; i++) {
		uint32_t si = srv->reclaim_cursor++ % n_subs;
		struct cgn_pb_sub *s = cgn_pb_sub(&srv->pb, si);
		if (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == CGN_PB_SUB_READY &&
		    __atomic_load_n(&s->n_blocks, __ATOMIC_SEQ_CST) > 0 &&
		    __atomic_load_n(&s->ports_used, __ATOMIC_SEQ_CST) == 0)
			srv->stats.blocks_reclaimed += cgn_pb_reclaim(&srv->pb, si);
	}
}
