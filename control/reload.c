/*
 * Reconfiguration without losing mappings (SIGHUP), and the Mapping Update of RFC 6887 §14.2
 * when the external pool changes:
 *
 *   - keys that size memory or sockets (eal.*, pcp.listen, nat.ports, nat.block_size,
 *     nat.max_blocks, nat.max_subscribers, nat.parity, nat.static, dataplane.*), and ports,
 *     arp, nat.filtering, nat64.subscriber_prefix_len and switching NAT64 off
 *     (restart_needed), need a restart: a reload that changes one is refused, names it, and
 *     nothing changes;
 *   - routes, neighbours, nat.timeouts, nat.port_hold_s and the rest of nat64 go to the data
 *     plane (ops.reconfigure: the workers pause while they change) and take effect at once,
 *     for the sessions there are too; so does everything else of pcp.*;
 *   - new nat64.prefixes renumber each NAT64 mapping's Pref64 (a removed one's mappings take
 *     the first), and new Pref64s or IPv4 prefix lists are announced: RFC 7225 §4.2 "the PCP
 *     server SHOULD issue an unsolicited PCP ANNOUNCE message" with the new PREFIX64s;
 *   - NAT logging (pcp_server_int.h): a mapping given a new endpoint is a BIB_DELETE of the
 *     old one, once it left the data plane, and a BIB_CREATE of the new one, once it is
 *     there, both of origin "pool"; one that cannot move, only the DELETE; one kept, nothing;
 *   - a new nat.pool rebuilds the port-block allocator: every subscriber keeps its external
 *     address if it is still in the pool, and every mapping its port; mappings on removed
 *     addresses move to the subscriber's new address, the data plane is told, and each client
 *     gets an unsolicited MAP or PEER response with the new address and port, three times at
 *     250 ms then 500 ms (or CANNOT_PROVIDE_EXTERNAL where PREFER_FAILURE was asked); an
 *     RFC 7753 port set moves as one (move_set: one run, one update with PORT_SET, or gone
 *     whole); and the epoch is reset (§8.5: "if the external IP address(es) of the NAT
 *     changes").
 *
 * Control thread only. The workers allocate ports for implicit sessions from the same
 * allocator, so a pool change pauses them first (ops.repool_begin: they stop at the top of
 * their loop and go on applying their control rings), moves their sessions to the new
 * allocator (ops.repool_move), and lets them go once the PCP mappings have moved
 * (ops.repool_end).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cgn_log.h"
#include "pcp_server_int.h"
#include "state_store.h"

/* Names the first key that differs and needs a restart, or NULL. */
static const char *
restart_needed(const struct cgn_config *a, const struct cgn_config *b)
{
	if (memcmp(&a->eal, &b->eal, sizeof(a->eal)) != 0)
		return "eal";
	if (a->pcp.n_listen != b->pcp.n_listen ||
	    memcmp(a->pcp.listen, b->pcp.listen, sizeof(a->pcp.listen[0]) * a->pcp.n_listen) != 0)
		return "pcp.listen";
	if (a->nat.port_min != b->nat.port_min || a->nat.port_max != b->nat.port_max)
		return "nat.ports";
	if (a->nat.block_size != b->nat.block_size)
		return "nat.block_size";
	if (a->nat.max_blocks != b->nat.max_blocks)
		return "nat.max_blocks";
	if (a->nat.max_subscribers != b->nat.max_subscribers)
		return "nat.max_subscribers";
	if (a->nat.parity != b->nat.parity)
		return "nat.parity";
	if (a->nat.n_static != b->nat.n_static ||
	    memcmp(a->nat.statics, b->nat.statics, sizeof(a->nat.statics[0]) * a->nat.n_static) != 0)
		return "nat.static";
	if (memcmp(&a->dataplane, &b->dataplane, sizeof(a->dataplane)) != 0)
		return "dataplane";
	if (a->n_ports != b->n_ports || memcmp(a->ports, b->ports, sizeof(a->ports[0]) * a->n_ports) != 0)
		return "ports";
	if (memcmp(&a->arp, &b->arp, sizeof(a->arp)) != 0)
		return "arp";
	/* The peers an implicit mapping permitted were recorded under the old mode (none under
	 * endpoint-independent filtering, no ports under address-dependent): the sessions
	 * there are would refuse their own answers. */
	if (a->nat.filtering != b->nat.filtering)
		return "nat.filtering";
	/* NAT64 sessions were keyed and their subscribers counted under the old prefix length;
	 * and NAT64 mappings there are need a Pref64. The prefixes themselves may change
	 * (renumbered: pcp_server_reload, cgn_dataplane_renat64). */
	if (a->nat64.subscriber_prefix_len != b->nat64.subscriber_prefix_len)
		return "nat64.subscriber_prefix_len";
	if (cgn_nat64_enabled(a) && !cgn_nat64_enabled(b))
		return "nat64.prefixes (NAT64 cannot be switched off)";
	/* The store is opened (locked, checked, restored) at start only. */
	if (memcmp(&a->state, &b->state, sizeof(a->state)) != 0)
		return "state";
	/* The event rings, the logger and its sinks are made at start only (control/logger.c). */
	if (memcmp(&a->logging, &b->logging, sizeof(a->logging)) != 0)
		return "logging";
	/* The listener is bound at start only (control/metrics.c). */
	if (a->metrics.on != b->metrics.on || !cgn_addr_eq(&a->metrics.listen.addr, &b->metrics.listen.addr) ||
	    a->metrics.listen.port != b->metrics.listen.port)
		return "metrics";
	return NULL;
}

static bool
same_pool(const struct cgn_config *a, const struct cgn_config *b)
{
	return a->nat.n_pool == b->nat.n_pool &&
	       memcmp(a->nat.pool, b->nat.pool, sizeof(a->nat.pool[0]) * a->nat.n_pool) == 0;
}

/* Builds the MAP (or PEER, for pk) response a client would have had, with rec's current
 * state, and schedules it three times (§14.2). set: rec is a port of an RFC 7753 set (a
 * MAP): the update is the set's, as a response to its MAP would be (§4.2: Internal Port and
 * PORT_SET's First Internal Port the set's first, the Assigned External Port the first of the
 * set, PORT_SET's size the set's; the P bit, which the record does not keep, 0). */
static void
mapping_update(struct pcp_server *srv, uint64_t now, const struct pcp_mapping_rec *rec, const struct peer_key *pk,
	       const struct pcp_peer_rec *p, uint8_t result, bool set)
{
	static struct pcp_response r;
	uint8_t msg[PCP_MAX_MSG], tp[16], filters[CGN_MAP_FILTERS][PCP_FILTER_LEN];
	memset(&r, 0, offsetof(struct pcp_response, options));
	r.n_options = 0;
	r.opcode = pk ? PCP_OP_PEER : PCP_OP_MAP;
	r.result = result;
	uint64_t expire = pk ? p->expire_ms : rec->expire_ms;
	r.lifetime = result != PCP_RES_SUCCESS ? srv->cfg.pcp.short_error_lifetime
		   : expire > now ? (uint32_t)((expire - now + 999) / 1000) : 0;
	memcpy(r.u.map.nonce, pk ? p->nonce : rec->nonce, PCP_NONCE_LEN);
	r.u.map.protocol = rec->in.proto;
	r.u.map.internal_port = rec->in.port;
	r.u.map.external_port = rec->ext_port;
	r.u.map.external_addr = cgn_addr_from_v4(rec->ext_addr);
	if (pk) {
		r.u.peer.remote_addr = p->remote_sent; /* as the client sent it (NAT64: its Pref64 form) */
		r.u.peer.remote_port = pk->remote_port;
	}
	/* "the THIRD_PARTY option MUST also appear"; "the FILTER option is sent" */
	if (rec->flags & CGN_MAP_THIRD_PARTY) {
		memcpy(tp, rec->in.addr.b, 16);
		pcp_response_add_option(&r, PCP_OPT_THIRD_PARTY, tp, 16);
	}
	for (unsigned i = 0; !pk && i < rec->n_filters; i++) {
		struct pcp_filter f = { .prefix_len = rec->filters_sent[i].prefix_len,
					.remote_port = rec->filters_sent[i].port, .remote_addr = rec->filters_sent[i].addr };
		pcp_filter_encode(&f, filters[i]);
		pcp_response_add_option(&r, PCP_OPT_FILTER, filters[i], PCP_FILTER_LEN);
	}
	uint8_t ps_data[PCP_PORT_SET_LEN];
	struct cgn_key about = rec->in;
	if (set && !pk) {
		about.port = rec->set_first;
		r.u.map.internal_port = rec->set_first;
		r.u.map.external_port = mapping_first_external(rec);
		struct pcp_port_set ps = { .size = rec->set_size, .first_internal_port = rec->set_first };
		pcp_port_set_encode(&ps, ps_data);
		pcp_response_add_option(&r, PCP_OPT_PORT_SET, ps_data, PCP_PORT_SET_LEN);
	}
	ssize_t len = pcp_build_response(&r, msg, sizeof(msg));
	if (len > 0)
		pcp_unsolicited_add(srv, now, &rec->client, rec->client_port, msg, (size_t)len, 3, 250, &about);
}

void
pcp_mapping_update(struct pcp_server *srv, uint64_t now, const struct pcp_mapping_rec *rec, const struct peer_key *pk,
		   const struct pcp_peer_rec *p, uint8_t result)
{
	mapping_update(srv, now, rec, pk, p, result, false);
}

struct move_ctx {
	struct pcp_server *srv;
	struct cgn_pb *old_pb;
	uint64_t now;
	uint64_t deadline; /* for pushes to full rings: the workers wait meanwhile */
	uint32_t kept, moved, failed;
};

struct peer_scan {
	struct pcp_server *srv;
	uint64_t now;
};

static void
peer_update_one(void *r, void *arg)
{
	struct peer_scan *ps = arg;
	struct pcp_peer_rec *p = r;
	const struct peer_key *pk = rec_db_key(ps->srv->peers, p);
	struct pcp_mapping_rec *rec = rec_db_find(ps->srv->mappings, &pk->in);
	if (rec && rec->moved)
		pcp_mapping_update(ps->srv, ps->now, rec, pk, p, PCP_RES_SUCCESS);
}

/* Gives back one count against a subscriber's explicit quota on the new allocator (the
 * count was copied from the old one). */
static void
quota_give_back(struct pcp_server *srv, uint32_t sub)
{
	struct cgn_pb_sub *s = cgn_pb_sub(&srv->pb, sub);
	if (__atomic_load_n(&s->explicit_mappings, __ATOMIC_SEQ_CST) > 0)
		__atomic_fetch_sub(&s->explicit_mappings, 1, __ATOMIC_SEQ_CST);
}

/* Removes a record that is no longer in the data plane and whose port the allocator does
 * not hold for it; the quota is the caller's. */
static void
drop_moved(struct pcp_server *srv, struct pcp_mapping_rec *rec, uint64_t now)
{
	mapping_log_delete(rec, CGN_ORIGIN_POOL, now); /* (reported when it left: a no-op then) */
	pcp_store_mapping_gone(srv, rec);
	pcp_description_mapping_clear(srv, rec); /* RFC 7220 text the record owns */
	rec_db_del(srv->mappings, rec);
}

/* A single-port mapping that could not move is deleted; it no longer counts against its
 * subscriber's explicit quota. (A port set goes as one: set_goes().) */
static void
forget_moved(struct pcp_server *srv, struct pcp_mapping_rec *rec, uint64_t now)
{
	if (mapping_counts_once(rec))
		quota_give_back(srv, rec->sub);
	drop_moved(srv, rec, now);
}


/*
 * Pass 1 of a pool change, over every mapping: one whose external endpoint survives takes its
 * port on the new allocator. All of them do so before pass 2 gives any mapping a new port:
 * otherwise a mapping moving off a removed address could be given a port that a mapping
 * further on in the scan still holds in the data plane, whose table refuses to share it.
 */
static void
keep_mapping(void *r, void *arg)
{
	struct pcp_mapping_rec *rec = r;
	struct move_ctx *mc = arg;
	struct pcp_server *srv = mc->srv;
	struct cgn_pb_sub *old_s = cgn_pb_sub(mc->old_pb, rec->sub);
	int32_t sub = cgn_pb_subscriber(&srv->pb, &old_s->addr, true);
	rec->moved = false;
	rec->move_seen = false;
	if (sub < 0) {
		mc->failed++;
		return;
	}
	rec->sub = (uint32_t)sub; /* the new allocator's from now on */
	if (cgn_pb_take(&srv->pb, rec->sub, rec->ext_addr, rec->in.proto, rec->ext_port) == 0) {
		rec->port_lost = false; /* unchanged for the world (and owning its port again, if an
					 * earlier change lost it) */
		mc->kept++;
		return;
	}
	rec->moved = true; /* for pass 2 (move_mapping) */
}

/*
 * A port set that cannot move goes as one (RFC 7753 §4.4), its ports out of the data plane
 * already and none of them the allocator's: with tell, one CANNOT_PROVIDE_EXTERNAL update for
 * the set (§14.2: "the error CANNOT_PROVIDE_EXTERNAL SHOULD be sent"); its one count against
 * the quota given back; a port PEER sessions still use stays as an outbound mapping of its
 * own, on a port of its own (as a deleted set's does in mappings.c, set_port_leave).
 */
static void
set_goes(struct move_ctx *mc, struct pcp_mapping_rec **m, uint32_t n, uint32_t sub, bool tell)
{
	struct pcp_server *srv = mc->srv;
	if (tell && (m[0]->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP)))
		mapping_update(srv, mc->now, m[0], NULL, NULL, PCP_RES_CANNOT_PROVIDE_EXTERNAL, true);
	quota_give_back(srv, sub);
	for (uint32_t i = 0; i < n; i++) {
		struct pcp_mapping_rec *p = m[i];
		p->moved = false;
		if (p->n_peers == 0) {
			drop_moved(srv, p, mc->now);
			continue;
		}
		mapping_strip_explicit_fields(p);
		pcp_description_mapping_clear(srv, p); /* the MAP part's (RFC 7220) */
		uint32_t addr;
		uint16_t port;
		if (cgn_pb_alloc(&srv->pb, sub, p->in.proto, p->ext_port, p->in.port, &srv->rng, &addr, &port) != 0) {
			drop_moved(srv, p, mc->now);
			continue;
		}
		p->ext_addr = addr;
		p->ext_port = port;
		p->port_lost = false;
		if (pcp_server_push_patiently(srv, CGN_MSG_ADD, p, mc->deadline) != 0) {
			cgn_pb_release(&srv->pb, sub, p->in.proto, port);
			drop_moved(srv, p, mc->now);
			continue;
		}
		pcp_store_mapping(srv, p);
		mapping_log_create(p, CGN_ORIGIN_POOL, mc->now); /* an outbound mapping on its new port */
		p->moved = true; /* its PEER sessions' clients are told (peer_update_one) */
	}
	if (tell)
		mc->moved += n;
	else
		mc->failed += n;
}

/*
 * Pass 2 for an RFC 7753 port set, at the first of its ports the scan meets. "Port-set
 * mappings are renewed and deleted as a single entity" (§4.4) and a set's external ports are
 * consecutive (§4.2), so if any of its ports could not keep its external port in pass 1, the
 * whole set moves: every port leaves the data plane (before any is added: the new run may
 * hold the set's own old ports), the ports pass 1 kept are given back, and one run of
 * set_size consecutive ports is taken (cgn_pb_alloc_run(), the old first external port
 * suggested, its parity kept if it was the first internal port's); every port is pushed and
 * stored there, each at its offset in the set, and the client gets one Mapping Update for the
 * set, with PORT_SET. No whole run: the set goes as one (set_goes()). Counts ports in mc, as
 * pass 1 does.
 */
static void
move_set(struct move_ctx *mc, struct pcp_mapping_rec *rec)
{
	struct pcp_server *srv = mc->srv;
	uint32_t n;
	struct pcp_mapping_rec **m = mapping_set_members(srv, rec, &n);
	bool move = false;
	for (uint32_t i = 0; i < n; i++) {
		m[i]->move_seen = true;
		move |= m[i]->moved;
	}
	if (!move)
		return; /* every port kept its external port */
	struct pcp_mapping_rec *head = m[0];
	uint32_t sub = head->sub; /* pass 1's, on the new allocator */
	uint8_t proto = head->in.proto;
	uint16_t set_first = head->set_first, size = head->set_size;
	uint32_t old_addr = head->ext_addr;
	uint16_t old_first = mapping_first_external(head);

	for (uint32_t i = 0; i < n; i++) {
		if (pcp_server_push_patiently(srv, CGN_MSG_DEL, m[i], mc->deadline) == 0)
			continue;
		/* The ring stayed full: the set stays as it was, whole (the ports already deleted
		 * put back, best effort); the ports pass 1 could not keep are not the allocator's,
		 * so they are never released. */
		for (uint32_t j = 0; j < i; j++)
			pcp_server_push_patiently(srv, CGN_MSG_ADD, m[j], mc->deadline);
		for (uint32_t j = 0; j < n; j++) {
			if (m[j]->moved)
				m[j]->port_lost = true;
			m[j]->moved = false;
		}
		mc->failed += n;
		return;
	}
	/* Every port left the data plane, and none comes back on its old endpoint, whatever
	 * follows: their ends are certain. */
	for (uint32_t i = 0; i < n; i++)
		mapping_log_delete(m[i], CGN_ORIGIN_POOL, mc->now);
	for (uint32_t i = 0; i < n; i++) {
		if (!m[i]->moved) {
			cgn_pb_release(&srv->pb, sub, proto, m[i]->ext_port);
			mc->kept--;
		}
	}
	int parity = ((old_first ^ set_first) & 1) == 0 ? set_first & 1 : -1;
	uint32_t addr;
	uint16_t first, got;
	int rc = cgn_pb_alloc_run(&srv->pb, sub, proto, old_first, size, parity, &srv->rng, &addr, &first, &got);
	if (rc == 0 && (got < size || ((head->flags & CGN_MAP_PREFER_FAILURE) && (addr != old_addr || first != old_first)))) {
		cgn_pb_release_run(&srv->pb, sub, proto, first, got);
		rc = -ENOSPC;
	}
	if (rc != 0) {
		set_goes(mc, m, n, sub, true);
		return;
	}
	/* The run's ports of the set's ports no longer there (an interrupted expiry) go back. */
	for (uint32_t k = 0, j = 0; k < size; k++) {
		if (j < n && m[j]->in.port == set_first + k)
			j++;
		else
			cgn_pb_release(&srv->pb, sub, proto, (uint16_t)(first + k));
	}
	for (uint32_t i = 0; i < n; i++) {
		m[i]->ext_addr = addr;
		m[i]->ext_port = (uint16_t)(first + (m[i]->in.port - set_first));
		m[i]->port_lost = false;
		m[i]->moved = true;
		if (pcp_server_push_patiently(srv, CGN_MSG_ADD, m[i], mc->deadline) == 0) {
			pcp_store_mapping(srv, m[i]); /* as move_mapping's */
			continue;
		}
		/* The ring stayed full: the set cannot be whole in the data plane, it goes (the
		 * ports added taken out again, best effort), no client told. */
		for (uint32_t j = 0; j < i; j++)
			pcp_server_push_patiently(srv, CGN_MSG_DEL, m[j], mc->deadline);
		for (uint32_t j = 0; j < n; j++)
			cgn_pb_release(&srv->pb, sub, proto, m[j]->ext_port);
		set_goes(mc, m, n, sub, false);
		return;
	}
	/* The set is whole on its new run (not before: a refused port takes the others out). */
	for (uint32_t i = 0; i < n; i++)
		mapping_log_create(m[i], CGN_ORIGIN_POOL, mc->now);
	if (head->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP))
		mapping_update(srv, mc->now, head, NULL, NULL, PCP_RES_SUCCESS, true);
	mc->moved += n;
}

/* Pass 2: the mappings pass 1 could not keep get a new external endpoint (a port set as one:
 * move_set()). */
static void
move_mapping(void *r, void *arg)
{
	struct pcp_mapping_rec *rec = r;
	struct move_ctx *mc = arg;
	struct pcp_server *srv = mc->srv;
	if (mapping_in_set(rec)) {
		if (!rec->move_seen)
			move_set(mc, rec);
		return;
	}
	if (!rec->moved)
		return;
	rec->moved = false;
	uint32_t sub = rec->sub; /* pass 1's, on the new allocator */

	/* Its address is gone (or the port is taken on the new layout): a new external
	 * endpoint, the same port number if it can be had. */
	struct pcp_mapping_rec old = *rec;
	uint32_t addr;
	uint16_t port;
	bool exact = rec->flags & CGN_MAP_PREFER_FAILURE;
	int rc = cgn_pb_alloc(&srv->pb, sub, rec->in.proto, rec->ext_port, rec->in.port, &srv->rng, &addr, &port);
	if (rc == 0 && exact && (addr != old.ext_addr || port != old.ext_port)) {
		cgn_pb_release(&srv->pb, sub, rec->in.proto, port);
		rc = -EADDRNOTAVAIL;
	}
	/* Either way the old outside key goes from the data plane. */
	if (pcp_server_push_patiently(srv, CGN_MSG_DEL, &old, mc->deadline) != 0) {
		/* It stays as it was in the data plane, on a port the new allocator does not hold
		 * for it: it lives out its lifetime and never releases that port. */
		if (rc == 0)
			cgn_pb_release(&srv->pb, sub, rec->in.proto, port);
		rec->port_lost = true;
		mc->failed++;
		return;
	}
	mapping_log_delete(rec, CGN_ORIGIN_POOL, mc->now); /* the old endpoint is gone for good */
	if (rc != 0) {
		/* §14.2: "the error CANNOT_PROVIDE_EXTERNAL SHOULD be sent" */
		pcp_mapping_update(srv, mc->now, rec, NULL, NULL, PCP_RES_CANNOT_PROVIDE_EXTERNAL);
		forget_moved(srv, rec, mc->now);
		mc->moved++;
		return;
	}
	rec->ext_addr = addr;
	rec->ext_port = port;
	rec->moved = true;
	rec->port_lost = false;
	if (pcp_server_push_patiently(srv, CGN_MSG_ADD, rec, mc->deadline) != 0) {
		cgn_pb_release(&srv->pb, sub, rec->in.proto, port);
		forget_moved(srv, rec, mc->now);
		mc->failed++;
		return;
	}
	pcp_store_mapping(srv, rec); /* its new endpoint (if the store is full: restored at the old
				      * one, which moves again) */
	mapping_log_create(rec, CGN_ORIGIN_POOL, mc->now);
	if (rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP))
		pcp_mapping_update(srv, mc->now, rec, NULL, NULL, PCP_RES_SUCCESS);
	mc->moved++;
}

/* Holds on kept addresses stay held; holds on removed addresses simply end. */
static void
move_hold(void *r, void *arg)
{
	struct hold_rec *h = r;
	struct move_ctx *mc = arg;
	int32_t sub = cgn_pb_subscriber(&mc->srv->pb, &cgn_pb_sub(mc->old_pb, h->sub)->addr, true);
	if (sub < 0 || cgn_pb_take(&mc->srv->pb, (uint32_t)sub, h->ext_addr, h->proto, h->ext_port) != 0) {
		rec_db_del(mc->srv->holds, h);
		return;
	}
	h->sub = (uint32_t)sub;
}

/* Rebuilds the allocator on the new pool and moves every mapping onto it. */
static int
repool(struct pcp_server *srv, const struct cgn_config *cfg, uint64_t now, char *err, size_t err_len)
{
	struct cgn_pb new_pb;
	void *new_mem;
	if (pcp_server_make_pb(cfg, &new_pb, &new_mem) != 0) {
		snprintf(err, err_len, "cannot build the port allocator for the new pool");
		return -ENOMEM;
	}
	/* With DPDK ports the workers allocate from srv->pb too: they wait meanwhile. */
	bool dataplane = srv->pool_frozen && srv->ops.repool_begin;
	if (dataplane && srv->ops.repool_begin(srv->ops.ctx) != 0) {
		free(new_mem);
		snprintf(err, err_len, "the workers did not pause for the pool change; nothing was changed");
		return -EBUSY;
	}
	/* Copied only now: until the workers paused they could still add subscribers to it. */
	struct cgn_pb old_pb = srv->pb;
	void *old_mem = srv->pb_mem;
	/* NAT logging: the old allocator's blocks end here; those the new one takes (the same
	 * ports kept, or new ones) are claimed, and reported, again. */
	cgn_pb_report_all_free(&old_pb);
	cgn_pb_set_event_hook(&new_pb, old_pb.event, old_pb.event_ctx);
	/* Subscribers first, pinned to their address where it survives, so their mappings keep
	 * their ports and the new ones of a subscriber land where its old ones are. */
	for (uint32_t i = 0; i < old_pb.n_subs; i++) {
		struct cgn_pb_sub *s = cgn_pb_sub(&old_pb, i);
		int32_t ni = cgn_pb_subscriber(&new_pb, &s->addr, true);
		if (ni >= 0) {
			cgn_pb_pin(&new_pb, (uint32_t)ni, old_pb.addrs[s->ext_index]);
			uint32_t n_explicit = __atomic_load_n(&s->explicit_mappings, __ATOMIC_SEQ_CST);
			__atomic_store_n(&cgn_pb_sub(&new_pb, (uint32_t)ni)->explicit_mappings, n_explicit,
					 __ATOMIC_SEQ_CST);
		}
	}
	srv->pb = new_pb;
	srv->pb_mem = new_mem;
	srv->cfg.nat.n_pool = cfg->nat.n_pool;
	memcpy(srv->cfg.nat.pool, cfg->nat.pool, sizeof(cfg->nat.pool));

	/* The data plane's implicit sessions take their ports back first: what the server moves
	 * next allocates around them. */
	if (dataplane)
		srv->ops.repool_move(srv->ops.ctx, &old_pb, cfg);

	/* Every port that stays where it is is taken (mappings, then held ports) before any
	 * mapping is given a new one. */
	struct move_ctx mc = { srv, &old_pb, now, cgn_clock_ms() + 2000, 0, 0, 0 };
	uint32_t cursor = 0;
	rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), keep_mapping, &mc);
	cursor = 0;
	rec_db_scan(srv->holds, &cursor, rec_db_capacity(srv->holds), move_hold, &mc);
	cursor = 0;
	rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), move_mapping, &mc);
	struct peer_scan ps = { srv, now };
	cursor = 0;
	rec_db_scan(srv->peers, &cursor, rec_db_capacity(srv->peers), peer_update_one, &ps);
	if (dataplane)
		srv->ops.repool_end(srv->ops.ctx);
	free(old_mem);

	/* §8.5: the external addresses changed: the epoch starts again, and so does the store's
	 * (a restart restores this pool's mappings; its epoch goes on from here). */
	srv->epoch_start_ms = now;
	if (srv->store) {
		struct timespec rt;
		clock_gettime(CLOCK_REALTIME, &rt);
		uint64_t now_rt = (uint64_t)rt.tv_sec * 1000u + (uint64_t)rt.tv_nsec / 1000000u;
		srv->store_meta = (struct cgn_state_meta){ CGN_STATE_FORMAT, now_rt, now_rt, cgn_state_pool_fingerprint(cfg) };
		if (cgn_state_set_meta(srv->store, &srv->store_meta) != 0)
			srv->stats.store_failed++;
	}
	pcp_server_flush(srv);
	srv->stats.mappings_moved += mc.moved;
	CGN_LOG(NOTICE, "new pool: %u mappings kept, %u moved (clients told), %u could not be moved", mc.kept,
		mc.moved, mc.failed);
	return 0;
}

/* New nat64.prefixes: each mapping's Pref64 index in the new list (cgn_nat64_remap()). */
struct renumber {
	uint8_t map[CGN_MAX_NAT64_PREFIXES];
};

static void
renumber_one(void *r, void *arg)
{
	struct pcp_mapping_rec *rec = r;
	const struct renumber *rn = arg;
	if (!cgn_addr_is_v4(&rec->in.addr) && rec->pref64 < CGN_MAX_NAT64_PREFIXES)
		rec->pref64 = rn->map[rec->pref64];
}

static void
renumber_pref64(struct pcp_server *srv, const struct cgn_config *cfg)
{
	struct renumber rn;
	cgn_nat64_remap(&srv->cfg.nat64, &cfg->nat64, rn.map);
	uint32_t cursor = 0;
	rec_db_scan(srv->mappings, &cursor, rec_db_capacity(srv->mappings), renumber_one, &rn);
}

int
pcp_server_reload(struct pcp_server *srv, const struct cgn_config *cfg, uint64_t now, char *err, size_t err_len)
{
	const char *key = restart_needed(&srv->cfg, cfg);
	if (key) {
		snprintf(err, err_len, "%s changed: that needs a restart; nothing was changed", key);
		return -EINVAL;
	}
	/* What can fail fails first, before anything changes: the data plane's check, then the
	 * pool change (which changes nothing when it fails), then the data plane's settings,
	 * which can fail only if the workers do not pause. */
	bool live = cgn_config_live_differs(&srv->cfg, cfg) && srv->ops.reconfigure;
	int checked = live ? srv->ops.reconfigure(srv->ops.ctx, cfg, true, err, err_len) : 0;
	if (checked != 0)
		return checked;
	bool new_pool = !same_pool(&srv->cfg, cfg);
	if (new_pool) {
		int rc = repool(srv, cfg, now, err, err_len);
		if (rc != 0)
			return rc;
	}
	if (live) {
		int rc = srv->ops.reconfigure(srv->ops.ctx, cfg, false, err, err_len);
		if (rc != 0) {
			if (new_pool) {
				size_t n = strlen(err);
				snprintf(err + n, err_len - n, " (the new pool is in force: SIGHUP again for the rest)");
			}
			return rc;
		}
	}
	bool new_prefixes = cgn_config_nat64_prefixes_differ(&srv->cfg, cfg);
	bool new_prefix64 = new_prefixes || memcmp(srv->cfg.nat64.n_v4, cfg->nat64.n_v4, sizeof(cfg->nat64.n_v4)) != 0 ||
			    memcmp(srv->cfg.nat64.v4_lists, cfg->nat64.v4_lists, sizeof(cfg->nat64.v4_lists)) != 0;
	if (new_prefixes) /* as the data plane did its own (ops.reconfigure) */
		renumber_pref64(srv, cfg);
	cgn_config_take_live(&srv->cfg, cfg);
	srv->cfg.pcp = cfg->pcp;
	if (new_prefix64 && cgn_nat64_enabled(cfg))
		pcp_announce_all(srv, now);
	cgn_tb_init(&srv->requests, cfg->pcp.max_requests_per_second, now);
	return 0;
}
