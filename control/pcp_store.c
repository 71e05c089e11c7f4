/*
 * The PCP server's side of the state store (control/state_store.h): which records are
 * stored and when, and the restore at start.
 *
 * Stored: explicit mappings (PCP MAP, NAT-PMP) and PEER-made ones, and PEER sessions, each
 * with everything a restart needs (state_record.h). Not stored: static mappings (they come
 * from the configuration and win over a stored mapping of the same key or endpoint), implicit
 * sessions (the workers' own: one per outbound flow, too many and too short-lived to write),
 * held ports.
 *
 * When: mappings.c and reload.c call pcp_store_mapping()/_peer() at each change, before the
 * change is pushed to the data plane, so that a change the store cannot take (map full) is
 * answered NO_RESOURCES with nothing changed; a push that fails after it takes the store back
 * to a savepoint (pcp_store_mark/_rollback). Background changes (expiry, moves) write after
 * the fact: what they cannot write leaves a record whose lifetime has run out, which a restore
 * skips. Everything goes into one LMDB transaction that pcp_server_flush() commits before the
 * responses of the batch leave (control_loop.c, cgnatd.c, and the tick).
 *
 * Restore (pcp_server_start, after the statics): one read transaction over the mappings, then
 * the PEER sessions; every live one takes its external endpoint again (cgn_pb_pin, _take), in
 * two passes as a pool change does (reload.c): all endpoints that can be kept first, then the
 * others get a new one and their clients a Mapping Update (RFC 6887 §14.2). Then the pushes to
 * the workers, waiting for ring room up to a deadline. The epoch goes on (§8.5) when the store
 * is this pool's and no mapping moved, else it starts again.
 *
 * NAT logging (pcp_server_int.h): a mapping restored on its endpoint goes on, reported by the
 * run that made it (no event); one given a new endpoint is a BIB_DELETE of the old one and a
 * BIB_CREATE of the new one (origin "pool"); one that does not come back is a BIB_DELETE, now:
 * expired while cgnatd was down (its origin), or dropped or lost (origin "pool"), so that
 * every mapping a previous run reported created is reported ended (a record the store could
 * not delete after an expiry is reported twice). Nobody else had its endpoint meanwhile.
 *
 * Control thread only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgn_log.h"
#include "pcp_server_int.h"
#include "state_store.h"

#define RESTORE_PUSH_MS 30000 /* the whole restore's pushes: the workers drain their rings meanwhile */

static uint64_t
realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
pcp_store_clock(struct pcp_server *srv)
{
	srv->store_rt_off = (int64_t)realtime_ms() - (int64_t)cgn_clock_ms();
}

int
pcp_store_open(struct pcp_server *srv)
{
	const struct cgn_config *cfg = &srv->cfg;
	if (cfg->state.path[0] == '\0')
		return 0;
	pcp_store_clock(srv);
	struct cgn_state_params p = {
		.dir = cfg->state.path, .map_size = cgn_config_state_size(cfg), .refuse_corrupt = cfg->state.refuse_corrupt,
		.sync_commit = cfg->state.sync_commit, .sync_interval_ms = cfg->state.sync_interval_ms,
		.pool_fingerprint = cgn_state_pool_fingerprint(cfg),
	};
	char msg[1024];
	enum cgn_state_found found;
	int rc = cgn_state_open(&p, realtime_ms(), &srv->store, &found, &srv->store_meta, msg, sizeof(msg));
	if (rc != 0) {
		CGN_LOG(ERR, "%s", msg);
		return rc;
	}
	if (msg[0]) /* a store moved aside */
		CGN_LOG(WARNING, "%s", msg);
	srv->store_found = (int)found;
	return 0;
}

void
pcp_store_close(struct pcp_server *srv)
{
	cgn_state_close(srv->store);
	srv->store = NULL;
}

static struct cgn_prefix
pref64_of(const struct pcp_server *srv, const struct pcp_mapping_rec *rec)
{
	struct cgn_prefix p = { 0 };
	if (!cgn_addr_is_v4(&rec->in.addr) && rec->pref64 < srv->cfg.nat64.n_prefixes)
		p = srv->cfg.nat64.prefixes[rec->pref64];
	return p;
}

static void
store_failed(struct pcp_server *srv, const char *what, int rc)
{
	srv->stats.store_failed++;
	/* One line a second at most: a full map fails every change. */
	uint64_t now = cgn_clock_ms();
	if (now >= srv->store_logged_ms + 1000) {
		srv->store_logged_ms = now;
		CGN_LOG(ERR, "state store %s: %s: %s (state.size_mb?)", srv->cfg.state.path, what, strerror(-rc));
	}
}

/* A background change (expiry, moves, restore) that finds the batch's room used up commits
 * what the batch holds and tries again in a new one; a request's change fails instead (it is
 * answered NO_RESOURCES, its savepoints stay valid). */
static bool
retry_in_new_batch(struct pcp_server *srv, int rc)
{
	if (rc != -ENOSPC || srv->store_in_request)
		return false;
	return cgn_state_flush(srv->store) == 0;
}

int
pcp_store_mapping(struct pcp_server *srv, struct pcp_mapping_rec *rec)
{
	if (srv->store == NULL || (rec->flags & CGN_MAP_STATIC))
		return 0;
	uint8_t buf[CGN_STATE_REC_MAX];
	struct cgn_state_map_extra x = { pref64_of(srv, rec) };
	int n = cgn_state_map_encode(rec, &x, srv->store_rt_off, buf, sizeof(buf));
	if (n < 0) {
		store_failed(srv, "a mapping does not encode", n);
		return n;
	}
	if (rec->store_id == 0)
		rec->store_id = cgn_state_new_id(srv->store);
	int rc = cgn_state_put(srv->store, CGN_STATE_MAPPING, rec->store_id, buf, (size_t)n);
	if (retry_in_new_batch(srv, rc))
		rc = cgn_state_put(srv->store, CGN_STATE_MAPPING, rec->store_id, buf, (size_t)n);
	if (rc != 0)
		store_failed(srv, "a mapping cannot be stored", rc);
	return rc;
}

int
pcp_store_mapping_gone(struct pcp_server *srv, const struct pcp_mapping_rec *rec)
{
	if (srv->store == NULL || rec->store_id == 0)
		return 0;
	int rc = cgn_state_del(srv->store, CGN_STATE_MAPPING, rec->store_id);
	if (retry_in_new_batch(srv, rc))
		rc = cgn_state_del(srv->store, CGN_STATE_MAPPING, rec->store_id);
	if (rc != 0)
		store_failed(srv, "a mapping's removal cannot be stored", rc);
	return rc;
}

int
pcp_store_peer(struct pcp_server *srv, const struct peer_key *pk, struct pcp_peer_rec *p)
{
	if (srv->store == NULL)
		return 0;
	uint8_t buf[CGN_STATE_REC_MAX];
	int n = cgn_state_peer_encode(pk, p, srv->store_rt_off, buf, sizeof(buf));
	if (n < 0) {
		store_failed(srv, "a PEER session does not encode", n);
		return n;
	}
	if (p->store_id == 0)
		p->store_id = cgn_state_new_id(srv->store);
	int rc = cgn_state_put(srv->store, CGN_STATE_PEER, p->store_id, buf, (size_t)n);
	if (retry_in_new_batch(srv, rc))
		rc = cgn_state_put(srv->store, CGN_STATE_PEER, p->store_id, buf, (size_t)n);
	if (rc != 0)
		store_failed(srv, "a PEER session cannot be stored", rc);
	return rc;
}

int
pcp_store_peer_gone(struct pcp_server *srv, const struct pcp_peer_rec *p)
{
	if (srv->store == NULL || p->store_id == 0)
		return 0;
	int rc = cgn_state_del(srv->store, CGN_STATE_PEER, p->store_id);
	if (retry_in_new_batch(srv, rc))
		rc = cgn_state_del(srv->store, CGN_STATE_PEER, p->store_id);
	if (rc != 0)
		store_failed(srv, "a PEER session's removal cannot be stored", rc);
	return rc;
}

size_t
pcp_store_mark(const struct pcp_server *srv)
{
	return srv->store ? cgn_state_mark(srv->store) : 0;
}

void
pcp_store_rollback(struct pcp_server *srv, size_t mark)
{
	if (srv->store)
		cgn_state_rollback(srv->store, mark);
}

void
pcp_server_flush(struct pcp_server *srv)
{
	if (srv->store == NULL)
		return;
	int rc = cgn_state_flush(srv->store);
	if (rc != 0)
		store_failed(srv, "a batch cannot be committed: its changes are not stored", rc);
}

/* ---- restore ------------------------------------------------------------------------------- */

struct restore {
	struct pcp_server *srv;
	uint64_t now;
	uint64_t deadline;
	uint64_t *gone;       /* ids to delete from the store */
	size_t n_gone, cap_gone;
	uint32_t restored, expired, dropped, moved, lost, peers, peers_gone;
	bool rewrite_all;     /* another pool: every restored record is written again (its pref64 and
			       * endpoint may have changed); the meta too */
};

static void
gone(struct restore *r, uint64_t id)
{
	if (r->n_gone == r->cap_gone) {
		size_t cap = r->cap_gone ? r->cap_gone * 2 : 1024;
		uint64_t *n = realloc(r->gone, cap * sizeof(*n));
		if (n == NULL)
			return; /* it stays in the store, expired or orphaned: skipped next time too */
		r->gone = n;
		r->cap_gone = cap;
	}
	r->gone[r->n_gone++] = id;
}

/* The index of a stored Pref64 in this configuration's nat64.prefixes; 0 (the first) if it
 * is gone, as a reload's renumbering does (cgn_nat64_remap). */
static uint8_t
pref64_index(const struct pcp_server *srv, const struct cgn_prefix *p)
{
	for (unsigned i = 0; p->len && i < srv->cfg.nat64.n_prefixes; i++)
		if (srv->cfg.nat64.prefixes[i].len == p->len && cgn_addr_eq(&srv->cfg.nat64.prefixes[i].addr, &p->addr))
			return (uint8_t)i;
	return 0;
}

/* Pass 1, over the stored mappings: each live one back in srv->mappings with its endpoint
 * taken, or marked to move (rec->moved). Nothing pushed yet. */
static void
restore_mapping(uint64_t id, const uint8_t *val, size_t len, void *arg)
{
	struct restore *r = arg;
	struct pcp_server *srv = r->srv;
	struct pcp_mapping_rec t;
	struct cgn_state_map_extra x;
	if (cgn_state_map_decode(val, len, srv->store_rt_off, &t, &x) != 0) {
		r->dropped++; /* the open-time check decoded it: cannot happen */
		gone(r, id);
		return;
	}
	bool explicit = (t.flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP)) && t.expire_ms > r->now;
	bool peer = t.peer_expire_ms > r->now;
	uint8_t end_origin = CGN_ORIGIN_POOL; /* of its BIB_DELETE if it does not come back */
	uint8_t own_origin = mapping_origin(&t);
	t.bib_logged = true;                  /* reported created by the run that made it */
	if (!explicit && !peer) {
		r->expired++;
		end_origin = own_origin;
		goto drop;
	}
	if (!explicit) { /* its MAP part ran out while cgnatd was down: outbound only, as strip_explicit */
		t.flags &= (uint16_t)~(CGN_MAP_EXPLICIT | CGN_MAP_NATPMP | CGN_MAP_FILTERED | CGN_MAP_PREFER_FAILURE |
				       CGN_MAP_THIRD_PARTY);
		t.expire_ms = 0;
		t.n_filters = 0;
		if (!(t.flags & CGN_MAP_PEER)) {
			end_origin = own_origin; /* ran out */
			goto drop;
		}
		/* no longer a port of a set (RFC 7753: a set is an explicit mapping), and the MAP
		 * part's DESCRIPTION (RFC 7220) went with that part */
		t.set_first = t.set_size = 0;
		free(t.description);
		t.description = NULL;
		t.description_len = 0;
		t.has_description = false;
	}
	if (!peer)
		t.peer_expire_ms = 0;
	/* A static mapping of the same key (the configuration wins), or a duplicate. */
	if (rec_db_find(srv->mappings, &t.in)) {
		r->dropped++;
		goto drop;
	}
	int32_t sub = mapping_subscriber(srv, &t.in.addr, true);
	struct pcp_mapping_rec *rec = sub < 0 ? NULL : rec_db_add(srv->mappings, &t.in);
	if (rec == NULL) {
		r->dropped++;
		goto drop;
	}
	*rec = t;
	rec->sub = (uint32_t)sub;
	rec->pref64 = pref64_index(srv, &x.pref64);
	rec->store_id = id;
	rec->n_peers = 0;
	rec->moved = cgn_pb_pin(&srv->pb, rec->sub, rec->ext_addr) != 0 ||
		     cgn_pb_take(&srv->pb, rec->sub, rec->ext_addr, rec->in.proto, rec->ext_port) != 0;
	rec->port_lost = false;
	if (mapping_counts_once(rec))
		__atomic_fetch_add(&cgn_pb_sub(&srv->pb, rec->sub)->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	/* the telemetry thread's copy of its DESCRIPTION (pcp_description_rec.c) */
	if (rec->description_len > 0 &&
	    pcp_desc_index_set(srv->descriptions, &rec->in, (const uint8_t *)rec->description, rec->description_len) != 0)
		srv->stats.descriptions_unstored++;
	return;
drop:
	mapping_log_delete(&t, end_origin, r->now);
	free(t.description);
	gone(r, id);
}

/* Pass 2, over the stored PEER sessions: each live one joins its mapping. */
static void
restore_peer(uint64_t id, const uint8_t *val, size_t len, void *arg)
{
	struct restore *r = arg;
	struct pcp_server *srv = r->srv;
	struct peer_key pk;
	struct pcp_peer_rec t;
	struct pcp_mapping_rec *rec = NULL;
	struct pcp_peer_rec *p = NULL;
	if (cgn_state_peer_decode(val, len, srv->store_rt_off, &pk, &t) != 0 || t.expire_ms <= r->now ||
	    (rec = rec_db_find(srv->mappings, &pk.in)) == NULL || (rec->flags & CGN_MAP_STATIC) ||
	    (p = rec_db_add(srv->peers, &pk)) == NULL) {
		free(t.description);
		r->peers_gone++;
		gone(r, id);
		return;
	}
	*p = t;
	p->store_id = id;
	rec->n_peers++;
	rec->flags |= CGN_MAP_PEER;
	if (rec->peer_expire_ms < p->expire_ms)
		rec->peer_expire_ms = p->expire_ms;
	r->peers++;
}

/* A mapping that cannot be restored: out of the server (its sessions follow in
 * drop_orphans) and of the store. */
static void
restore_forget(struct restore *r, struct pcp_mapping_rec *rec)
{
	mapping_log_delete(rec, CGN_ORIGIN_POOL, r->now); /* (a moved one's was reported: a no-op) */
	struct cgn_pb_sub *s = cgn_pb_sub(&r->srv->pb, rec->sub);
	if (mapping_counts_once(rec) && __atomic_load_n(&s->explicit_mappings, __ATOMIC_SEQ_CST))
		__atomic_fetch_sub(&s->explicit_mappings, 1, __ATOMIC_SEQ_CST);
	gone(r, rec->store_id);
	pcp_description_mapping_clear(r->srv, rec);
	rec_db_del(r->srv->mappings, rec);
	r->lost++;
}

/* The record of port of rec's set, if it is one of that set (restored, not a static). */
static struct pcp_mapping_rec *
set_port(struct pcp_server *srv, const struct pcp_mapping_rec *rec, uint32_t port)
{
	if (port > UINT16_MAX)
		return NULL;
	struct cgn_key k = rec->in;
	k.port = (uint16_t)port;
	struct pcp_mapping_rec *m = rec_db_find(srv->mappings, &k);
	return m && !(m->flags & CGN_MAP_STATIC) && m->set_first == rec->set_first && m->set_size == rec->set_size
		       ? m
		       : NULL;
}

/* A port of a set that cannot come back whole: a port PEER sessions use stays, outbound
 * only (as mappings.c's set_port_leave leaves one); the others go. */
static void
set_port_drop(struct restore *r, struct pcp_mapping_rec *m)
{
	struct pcp_server *srv = r->srv;
	if (m->n_peers > 0) {
		if (mapping_counts_once(m))
			__atomic_fetch_sub(&cgn_pb_sub(&srv->pb, m->sub)->explicit_mappings, 1, __ATOMIC_SEQ_CST);
		m->flags &= (uint16_t)~(CGN_MAP_EXPLICIT | CGN_MAP_NATPMP | CGN_MAP_FILTERED | CGN_MAP_PREFER_FAILURE |
					CGN_MAP_THIRD_PARTY);
		m->expire_ms = 0;
		m->n_filters = 0;
		m->set_first = m->set_size = 0;
		pcp_description_mapping_clear(srv, m);
		pcp_store_mapping(srv, m);
		r->lost++; /* its MAP part is */
		return;
	}
	if (!m->moved)
		cgn_pb_release(&srv->pb, m->sub, m->in.proto, m->ext_port);
	restore_forget(r, m);
}

/*
 * Pass 2b: an RFC 7753 port set comes back as one (§4.4: "renewed and deleted as a single
 * entity"), on its endpoints: every port there, on the same address and consecutive external
 * ports from its first port's. One that cannot (a port's endpoint or internal key taken by
 * a static mapping, its address gone from the pool, a port dropped) does not come back at
 * all, its client told CANNOT_PROVIDE_EXTERNAL (§14.2), so that no port is left in a set
 * without the others or the set's one count against the quota (its first port's).
 * Checked once a set, by its first port (or by the first port met when that one is gone).
 */
static void
check_set(void *v, void *arg)
{
	struct pcp_mapping_rec *rec = v;
	struct restore *r = arg;
	struct pcp_server *srv = r->srv;
	if (!mapping_in_set(rec))
		return;
	struct pcp_mapping_rec *head = set_port(srv, rec, rec->set_first);
	if (head && head != rec)
		return; /* the head checks the set */
	bool whole = head != NULL && (uint32_t)rec->set_first + rec->set_size - 1 <= UINT16_MAX;
	for (uint32_t i = 0; whole && i < rec->set_size; i++) {
		const struct pcp_mapping_rec *m = set_port(srv, rec, (uint32_t)rec->set_first + i);
		whole = m && !m->moved && !head->moved && m->ext_addr == head->ext_addr &&
			(uint32_t)m->ext_port == (uint32_t)head->ext_port + i;
	}
	if (whole)
		return;
	bool told = false;
	uint16_t first = rec->set_first, size = rec->set_size;
	struct pcp_mapping_rec key = *rec; /* rec may go */
	for (uint32_t i = 0; i < size; i++) {
		struct pcp_mapping_rec *m = set_port(srv, &key, (uint32_t)first + i);
		if (m == NULL)
			continue;
		if (!told && (m->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP))) { /* §14.2 "SHOULD be sent" */
			pcp_mapping_update(srv, r->now, m, NULL, NULL, PCP_RES_CANNOT_PROVIDE_EXTERNAL);
			told = true;
		}
		set_port_drop(r, m);
	}
}

/* Pass 3a: the kept ones to the workers. */
static void
push_kept(void *v, void *arg)
{
	struct pcp_mapping_rec *rec = v;
	struct restore *r = arg;
	if (rec->moved || (rec->flags & CGN_MAP_STATIC) || rec->store_id == 0)
		return;
	if (pcp_server_push_patiently(r->srv, CGN_MSG_ADD, rec, r->deadline) != 0) {
		cgn_pb_release(&r->srv->pb, rec->sub, rec->in.proto, rec->ext_port);
		restore_forget(r, rec);
		return;
	}
	r->restored++;
	if (r->rewrite_all)
		pcp_store_mapping(r->srv, rec);
}

/* Pass 3b: those whose endpoint is gone (the pool no longer holds the address, or a static
 * mapping or another subscriber has the port now) get a new one, as a pool change moves
 * them (reload.c move_mapping; §14.2). */
static void
move_restored(void *v, void *arg)
{
	struct pcp_mapping_rec *rec = v;
	struct restore *r = arg;
	struct pcp_server *srv = r->srv;
	if (!rec->moved)
		return;
	/* Its old endpoint does not come back, whatever follows: its end is certain. */
	mapping_log_delete(rec, CGN_ORIGIN_POOL, r->now);
	uint32_t addr;
	uint16_t port;
	int rc = cgn_pb_alloc(&srv->pb, rec->sub, rec->in.proto, rec->ext_port, rec->in.port, &srv->rng, &addr, &port);
	if (rc == 0 && (rec->flags & CGN_MAP_PREFER_FAILURE) && (addr != rec->ext_addr || port != rec->ext_port)) {
		cgn_pb_release(&srv->pb, rec->sub, rec->in.proto, port);
		rc = -EADDRNOTAVAIL;
	}
	if (rc != 0) {
		rec->moved = false;
		if (rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP)) /* §14.2 "SHOULD be sent" */
			pcp_mapping_update(srv, r->now, rec, NULL, NULL, PCP_RES_CANNOT_PROVIDE_EXTERNAL);
		restore_forget(r, rec);
		return;
	}
	rec->ext_addr = addr;
	rec->ext_port = port;
	if (pcp_server_push_patiently(srv, CGN_MSG_ADD, rec, r->deadline) != 0) {
		cgn_pb_release(&srv->pb, rec->sub, rec->in.proto, port);
		rec->moved = false;
		restore_forget(r, rec);
		return;
	}
	pcp_store_mapping(srv, rec);
	mapping_log_create(rec, CGN_ORIGIN_POOL, r->now);
	if (rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP))
		pcp_mapping_update(srv, r->now, rec, NULL, NULL, PCP_RES_SUCCESS);
	r->moved++;
	/* rec->moved stays set for the PEER sessions' updates (update_peer), then is cleared. */
}

static void
update_peer(void *v, void *arg)
{
	struct pcp_peer_rec *p = v;
	struct restore *r = arg;
	const struct peer_key *pk = rec_db_key(r->srv->peers, p);
	struct pcp_mapping_rec *rec = rec_db_find(r->srv->mappings, &pk->in);
	if (rec == NULL) { /* its mapping could not be restored */
		gone(r, p->store_id);
		pcp_description_peer_clear(p);
		rec_db_del(r->srv->peers, p);
		r->peers--;
		r->peers_gone++;
		return;
	}
	if (rec->moved)
		pcp_mapping_update(r->srv, r->now, rec, pk, p, PCP_RES_SUCCESS);
	else if (r->rewrite_all)
		pcp_store_peer(r->srv, pk, p);
}

static void
clear_moved(void *v, void *arg)
{
	(void)arg;
	((struct pcp_mapping_rec *)v)->moved = false;
}

int
pcp_store_restore(struct pcp_server *srv, uint64_t now)
{
	if (srv->store == NULL)
		return 0;
	uint64_t t0 = cgn_clock_ms();
	pcp_store_clock(srv);
	struct restore r = { .srv = srv, .now = now, .deadline = t0 + RESTORE_PUSH_MS };
	r.rewrite_all = srv->store_found == CGN_STATE_OTHER_POOL;
	long n = cgn_state_foreach(srv->store, CGN_STATE_MAPPING, restore_mapping, &r);
	long np = n < 0 ? n : cgn_state_foreach(srv->store, CGN_STATE_PEER, restore_peer, &r);
	if (n < 0 || np < 0) {
		CGN_LOG(ERR, "state store %s: cannot read it: %s", srv->cfg.state.path, strerror(-(int)(n < 0 ? n : np)));
		free(r.gone);
		return (int)(n < 0 ? n : np);
	}
	uint32_t cursor = 0;
	rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), check_set, &r);
	cursor = 0;
	rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), push_kept, &r);
	cursor = 0;
	rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), move_restored, &r);
	cursor = 0;
	rec_db_scan(srv->peers, &cursor, rec_db_capacity(srv->peers), update_peer, &r);
	if (r.moved) {
		cursor = 0;
		rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), clear_moved, NULL);
	}
	for (size_t i = 0; i < r.n_gone; i++) {
		/* ids are one sequence for both kinds: one of the two is absent */
		struct pcp_mapping_rec m = { .store_id = r.gone[i] };
		struct pcp_peer_rec p = { .store_id = r.gone[i] };
		pcp_store_mapping_gone(srv, &m);
		pcp_store_peer_gone(srv, &p);
	}
	free(r.gone);

	/* §8.5: the epoch goes on if the state survived as it was: this pool's store, every
	 * mapping on its endpoint, none dropped (a static mapping of its key now, the table
	 * full: "If the PCP server resets or loses the state of its explicit dynamic mappings
	 * [...] it MUST reset its Epoch time"). Otherwise it starts again, now. Never below what clients saw
	 * before (saved_rt), even if the clock went back. */
	uint64_t now_rt = realtime_ms();
	struct cgn_state_meta *m = &srv->store_meta;
	bool goes_on = srv->store_found == CGN_STATE_SURVIVED && r.moved == 0 && r.lost == 0 && r.dropped == 0;
	if (goes_on) {
		uint64_t elapsed = now_rt > m->epoch_start_rt ? now_rt - m->epoch_start_rt : 0;
		if (m->saved_rt > m->epoch_start_rt && m->saved_rt - m->epoch_start_rt > elapsed)
			elapsed = m->saved_rt - m->epoch_start_rt;
		/* Unsigned: epoch_start_ms may lie before this boot's monotonic zero;
		 * pcp_server_epoch's subtraction wraps back. */
		srv->epoch_start_ms = now - elapsed;
	} else {
		srv->epoch_start_ms = now;
		*m = (struct cgn_state_meta){ CGN_STATE_FORMAT, now_rt, now_rt, cgn_state_pool_fingerprint(&srv->cfg) };
		cgn_state_set_meta(srv->store, m);
	}
	pcp_server_flush(srv);
	srv->stats.mappings_moved += r.moved;
	CGN_LOG(NOTICE,
		"state store %s: %u mappings restored (%u moved to a new endpoint, %u could not be), %u PEER sessions; "
		"%u expired, %u dropped; %llu ms; epoch %s at %u s",
		srv->cfg.state.path, r.restored + r.moved, r.moved, r.lost, r.peers, r.expired, r.dropped + r.peers_gone,
		(unsigned long long)(cgn_clock_ms() - t0), goes_on ? "goes on" : "reset",
		pcp_server_epoch(srv, now));
	return 0;
}
