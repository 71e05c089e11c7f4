/*
 * The route tables of both families and the neighbour table (see route.h): built at start
 * from the configuration (main lcore), rebuilt by a reload with the workers paused (control
 * thread).
 */
#include "route.h"

#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "cgn_dataplane.h"
#include "cgn_log.h"

#define LPM_TBL8S 256    /* groups for IPv4 routes longer than /24: one each at most */
/* rte_lpm6 needs a group per 8 bits beyond /24: a /128 up to 13. Enough for CGN_MAX_ROUTES
 * routes of any lengths, so that a reload, once checked, cannot fail to add one. */
#define LPM6_TBL8S (CGN_MAX_ROUTES * ((128 - 24) / 8))
#define RETIRE_SLACK 256 /* slots beyond arp.max_neighbours: deleted ones in their grace period */

/* A neighbour entry the control thread makes. @return its slot, or -1 (full). */
int32_t
cgn_neigh_add(struct cgn_routes *rt, const struct cgn_addr *addr, uint8_t port, enum cgn_neigh_kind kind)
{
	int32_t slot = cgn_neigh_find(rt, addr, port);
	if (slot >= 0)
		return slot;
	if (rt->n_free == 0)
		return -1;
	slot = (int32_t)rt->free_slots[--rt->n_free];
	struct cgn_neigh *n = &rt->neigh[slot];
	*n = (struct cgn_neigh){ .addr = *addr, .port = port, .kind = (uint8_t)kind, .in_use = 1 };
	struct cgn_neigh_key k = { *addr, port };
	if (rte_hash_add_key_data(rt->hash, &k, (void *)(uintptr_t)slot) < 0) {
		n->in_use = 0;
		rt->free_slots[rt->n_free++] = (uint32_t)slot;
		return -1;
	}
	return slot;
}

/* @return whether cfg has routes of role and family (v4) longer than the default (they need
 * that family's LPM). */
static bool
role_has_prefixes(const struct cgn_config *cfg, enum cgn_port_role role, bool v4)
{
	for (unsigned i = 0; i < cfg->n_routes; i++) {
		const struct cgn_route_cfg *r = &cfg->routes[i];
		if (cgn_route_is_v4(r) == v4 && r->net.len > (v4 ? 96 : 0) && cfg->ports[r->port].role == role)
			return true;
	}
	return false;
}

/* The route tables cfg's routes need, created where missing. @return 0 or -ENOMEM. */
static int
make_lpms(struct cgn_routes *rt, const struct cgn_config *cfg)
{
	for (enum cgn_port_role role = CGN_PORT_INSIDE; role <= CGN_PORT_OUTSIDE; role++) {
		const char *side = role == CGN_PORT_INSIDE ? "in" : "out";
		char name[RTE_LPM6_NAMESIZE];
		if (rt->lpm[role] == NULL && role_has_prefixes(cfg, role, true)) {
			struct rte_lpm_config lc = { .max_rules = CGN_MAX_ROUTES, .number_tbl8s = LPM_TBL8S };
			snprintf(name, sizeof(name), "cgn_routes_%s", side);
			if ((rt->lpm[role] = rte_lpm_create(name, (int)rte_socket_id(), &lc)) == NULL)
				goto fail;
		}
		if (rt->lpm6[role] == NULL && role_has_prefixes(cfg, role, false)) {
			struct rte_lpm6_config lc = { .max_rules = CGN_MAX_ROUTES, .number_tbl8s = LPM6_TBL8S };
			snprintf(name, sizeof(name), "cgn_routes6_%s", side);
			if ((rt->lpm6[role] = rte_lpm6_create(name, (int)rte_socket_id(), &lc)) == NULL)
				goto fail;
		}
	}
	return 0;
fail:
	CGN_LOG(ERR, "cannot create a route table: %s", rte_strerror(rte_errno));
	return -ENOMEM;
}

/* Makes addr a neighbour of kind (gateway or static), or turns the entry there into one.
 * @return its slot, or -1 (full). */
static int32_t
neigh_configured(struct cgn_routes *rt, const struct cgn_addr *addr, uint8_t port, enum cgn_neigh_kind kind)
{
	int32_t slot = cgn_neigh_find(rt, addr, port);
	if (slot < 0)
		return cgn_neigh_add(rt, addr, port, kind);
	struct cgn_neigh *n = &rt->neigh[slot];
	if (n->kind == CGN_NEIGH_LEARNED)
		rt->n_learned--;
	/* A static entry that is also a gateway stays static. */
	if (n->kind != CGN_NEIGH_STATIC || kind == CGN_NEIGH_STATIC)
		n->kind = (uint8_t)kind;
	return slot;
}

static int
add_routes(struct cgn_dataplane *dp, struct cgn_routes *rt, const struct cgn_config *cfg)
{
	int rc = make_lpms(rt, cfg);
	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < cfg->n_routes; i++) {
		const struct cgn_route_cfg *r = &cfg->routes[i];
		enum cgn_port_role role = cfg->ports[r->port].role;
		struct cgn_nexthop *nh = &rt->nh[rt->n_nh];
		*nh = (struct cgn_nexthop){ .via = r->via, .port = r->port, .port_id = dp->ports[r->port].port_id,
					    .connected = cgn_route_is_connected(r) };
		if (!nh->connected) {
			int32_t slot = neigh_configured(rt, &r->via, r->port, CGN_NEIGH_GATEWAY);
			if (slot < 0)
				return -ENOSPC;
			nh->neigh = (uint32_t)slot;
		}
		if (cgn_route_is_v4(r)) {
			uint8_t len = (uint8_t)(r->net.len - 96);
			if (len == 0)
				rt->dflt[role] = (int32_t)rt->n_nh;
			else
				rc = rte_lpm_add(rt->lpm[role], rte_be_to_cpu_32(cgn_addr_v4(&r->net.addr)), len, rt->n_nh);
		} else if (r->net.len == 0) {
			rt->dflt6[role] = (int32_t)rt->n_nh;
		} else {
			rc = rte_lpm6_add(rt->lpm6[role], r->net.addr.b, r->net.len, rt->n_nh);
		}
		if (rc != 0) {
			CGN_LOG(ERR, "route %u: %s", i + 1, rte_strerror(-rc));
			return rc;
		}
		rt->n_nh++;
	}
	return 0;
}

/* Static neighbours first: a gateway that is one stays static. */
static int
add_statics(struct cgn_routes *rt, const struct cgn_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_neighbours; i++) {
		const struct cgn_neighbour_cfg *nc = &cfg->neighbours[i];
		int32_t slot = neigh_configured(rt, &nc->addr, nc->port, CGN_NEIGH_STATIC);
		if (slot < 0)
			return -ENOSPC;
		struct rte_ether_addr mac;
		memcpy(mac.addr_bytes, nc->mac, 6);
		__atomic_store_n(&rt->neigh[slot].mac, cgn_neigh_word(&mac), __ATOMIC_RELAXED);
	}
	return 0;
}

int
cgn_routes_create(struct cgn_dataplane *dp, struct cgn_routes *rt, const struct cgn_config *cfg)
{
	cgn_routes_no_defaults(rt);
	rt->reachable_ms = cfg->arp.reachable_ms;
	rt->retry_ms = cfg->arp.retry_ms;
	rt->probes = cfg->arp.probes;
	rt->max_learned = cfg->arp.max_neighbours;
	rt->rcu = dp->table->rcu;
	/* Gateways and static entries, then the learned ones, and room for those deleted but
	 * still waiting out their grace period. */
	rt->capacity = cfg->n_routes + cfg->n_neighbours + cfg->arp.max_neighbours + RETIRE_SLACK;
	int socket = (int)rte_socket_id();
	struct rte_hash_parameters hp = {
		.name = "cgn_neighbours",
		.entries = rt->capacity,
		.key_len = sizeof(struct cgn_neigh_key),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	rt->hash = rte_hash_create(&hp);
	rt->neigh = rte_zmalloc_socket("cgn_neigh", sizeof(*rt->neigh) * rt->capacity, RTE_CACHE_LINE_SIZE, socket);
	rt->free_slots = rte_malloc_socket("cgn_neigh_free", sizeof(uint32_t) * rt->capacity, 0, socket);
	rt->retired = rte_malloc_socket("cgn_neigh_retired", sizeof(*rt->retired) * rt->capacity, 0, socket);
	rt->resolve = rte_ring_create_elem("cgn_resolve", sizeof(struct cgn_neigh_key), CGN_RESOLVE_RING_SIZE, socket,
					   RING_F_SC_DEQ);
	if (rt->hash == NULL || rt->neigh == NULL || rt->free_slots == NULL || rt->retired == NULL ||
	    rt->resolve == NULL) {
		CGN_LOG(ERR, "cannot create the neighbour table of %u: %s", rt->capacity,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < rt->capacity; i++)
		rt->free_slots[i] = rt->capacity - 1 - i; /* slot 0 first */
	rt->n_free = rt->capacity;

	return add_statics(rt, cfg) != 0 ? -ENOSPC : add_routes(dp, rt, cfg);
}

/* Entries cfg would make that are not there yet (an upper bound: duplicates count twice). */
static uint32_t
new_entries(const struct cgn_routes *rt, const struct cgn_config *cfg)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < cfg->n_neighbours; i++)
		n += cgn_neigh_find(rt, &cfg->neighbours[i].addr, cfg->neighbours[i].port) < 0;
	for (unsigned i = 0; i < cfg->n_routes; i++)
		n += !cgn_route_is_connected(&cfg->routes[i]) &&
		     cgn_neigh_find(rt, &cfg->routes[i].via, cfg->routes[i].port) < 0;
	return n;
}

int
cgn_routes_reload(struct cgn_dataplane *dp, const struct cgn_config *cfg, bool check_only, char *err, size_t err_len)
{
	struct cgn_routes *rt = &dp->routes;
	/* Everything that can fail, before anything changes. */
	if (new_entries(rt, cfg) > rt->n_free) {
		snprintf(err, err_len, "routes/neighbours: the neighbour table has %u free entries, fewer than "
				       "the new gateways and static neighbours; nothing was changed", rt->n_free);
		return -ENOSPC;
	}
	if (check_only)
		return 0;
	if (make_lpms(rt, cfg) != 0) {
		snprintf(err, err_len, "routes: cannot create a route table; the routes were not changed");
		return -ENOMEM;
	}
	/* The configured entries of before become learned ones: aged out unless still used
	 * (a static one's MAC, no longer configured, is asked for again). Those cfg names
	 * again become gateways or static once more just below. */
	for (uint32_t s = 0; s < rt->capacity; s++) {
		struct cgn_neigh *n = &rt->neigh[s];
		if (!n->in_use || n->kind == CGN_NEIGH_LEARNED)
			continue;
		if (n->kind == CGN_NEIGH_STATIC)
			__atomic_store_n(&n->mac, 0, __ATOMIC_RELAXED);
		n->kind = CGN_NEIGH_LEARNED;
		n->used = 0;
		n->unanswered = 0;
		n->next_request_ms = 0;
		rt->n_learned++;
	}
	for (int role = 0; role < 2; role++) {
		if (rt->lpm[role] != NULL)
			rte_lpm_delete_all(rt->lpm[role]);
		if (rt->lpm6[role] != NULL)
			rte_lpm6_delete_all(rt->lpm6[role]);
	}
	cgn_routes_no_defaults(rt);
	rt->n_nh = 0;
	/* Cannot fail now: the room was checked, the tables exist, and a table of CGN_MAX_ROUTES
	 * rules and LPM_TBL8S (LPM6_TBL8S) groups takes any configuration. */
	if (add_statics(rt, cfg) != 0 || add_routes(dp, rt, cfg) != 0) {
		snprintf(err, err_len, "routes: could not be applied in full (see the log)");
		return -EIO;
	}
	/* A role left without routes of a family goes back to its port's peer_mac alone. */
	for (enum cgn_port_role role = CGN_PORT_INSIDE; role <= CGN_PORT_OUTSIDE; role++) {
		if (rt->lpm[role] != NULL && !role_has_prefixes(cfg, role, true)) {
			rte_lpm_free(rt->lpm[role]);
			rt->lpm[role] = NULL;
		}
		if (rt->lpm6[role] != NULL && !role_has_prefixes(cfg, role, false)) {
			rte_lpm6_free(rt->lpm6[role]);
			rt->lpm6[role] = NULL;
		}
	}
	return 0;
}

void
cgn_routes_free(struct cgn_routes *rt)
{
	for (int r = 0; r < 2; r++) {
		rte_lpm_free(rt->lpm[r]);
		rte_lpm6_free(rt->lpm6[r]);
	}
	rte_hash_free(rt->hash);
	rte_ring_free(rt->resolve);
	rte_free(rt->neigh);
	rte_free(rt->free_slots);
	rte_free(rt->retired);
	memset(rt, 0, sizeof(*rt));
}
