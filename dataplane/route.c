/*
 * The route tables and the neighbour table (see route.h): built once at start from the
 * configuration. Main lcore.
 */
#include "route.h"

#include <errno.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "cgn_dataplane.h"

#define LPM_TBL8S 256    /* groups for routes longer than /24 */
#define RETIRE_SLACK 256 /* slots beyond arp.max_neighbours: deleted ones in their grace period */

/* A neighbour entry the control thread makes. @return its slot, or -1 (full). */
int32_t
cgn_neigh_add(struct cgn_routes *rt, uint32_t addr, uint8_t port, enum cgn_neigh_kind kind)
{
	int32_t slot = cgn_neigh_find(rt, addr, port);
	if (slot >= 0)
		return slot;
	if (rt->n_free == 0)
		return -1;
	slot = (int32_t)rt->free_slots[--rt->n_free];
	struct cgn_neigh *n = &rt->neigh[slot];
	*n = (struct cgn_neigh){ .addr = addr, .port = port, .kind = (uint8_t)kind, .in_use = 1 };
	struct cgn_neigh_key k = { addr, port };
	if (rte_hash_add_key_data(rt->hash, &k, (void *)(uintptr_t)slot) < 0) {
		n->in_use = 0;
		rt->free_slots[rt->n_free++] = (uint32_t)slot;
		return -1;
	}
	return slot;
}

static int
add_routes(struct cgn_dataplane *dp, struct cgn_routes *rt, const struct cgn_config *cfg)
{
	for (unsigned i = 0; i < cfg->n_routes; i++) {
		const struct cgn_route_cfg *r = &cfg->routes[i];
		enum cgn_port_role role = cfg->ports[r->port].role;
		if (r->len > 0 && rt->lpm[role] == NULL) {
			struct rte_lpm_config lc = { .max_rules = CGN_MAX_ROUTES, .number_tbl8s = LPM_TBL8S };
			rt->lpm[role] = rte_lpm_create(role == CGN_PORT_INSIDE ? "cgn_routes_in" : "cgn_routes_out",
						       (int)rte_socket_id(), &lc);
			if (rt->lpm[role] == NULL) {
				fprintf(stderr, "cgnatd: cannot create a route table: %s\n", rte_strerror(rte_errno));
				return -ENOMEM;
			}
		}
		struct cgn_nexthop *nh = &rt->nh[rt->n_nh];
		*nh = (struct cgn_nexthop){ .via = r->via, .port = r->port, .port_id = dp->ports[r->port].port_id };
		if (r->via) {
			int32_t slot = cgn_neigh_add(rt, r->via, r->port, CGN_NEIGH_GATEWAY);
			if (slot < 0)
				return -ENOSPC;
			nh->neigh = (uint32_t)slot;
		}
		int rc = 0;
		if (r->len == 0)
			rt->dflt[role] = (int32_t)rt->n_nh;
		else
			rc = rte_lpm_add(rt->lpm[role], rte_be_to_cpu_32(r->net), r->len, rt->n_nh);
		if (rc != 0) {
			fprintf(stderr, "cgnatd: route %u: %s\n", i + 1, rte_strerror(-rc));
			return rc;
		}
		rt->n_nh++;
	}
	return 0;
}

int
cgn_routes_create(struct cgn_dataplane *dp, struct cgn_routes *rt, const struct cgn_config *cfg)
{
	rt->dflt[CGN_PORT_INSIDE] = rt->dflt[CGN_PORT_OUTSIDE] = -1;
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
		fprintf(stderr, "cgnatd: cannot create the neighbour table of %u: %s\n", rt->capacity,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < rt->capacity; i++)
		rt->free_slots[i] = rt->capacity - 1 - i; /* slot 0 first */
	rt->n_free = rt->capacity;

	for (unsigned i = 0; i < cfg->n_neighbours; i++) {
		const struct cgn_neighbour_cfg *nc = &cfg->neighbours[i];
		int32_t slot = cgn_neigh_add(rt, nc->addr, nc->port, CGN_NEIGH_STATIC);
		if (slot < 0)
			return -ENOSPC;
		struct rte_ether_addr mac;
		memcpy(mac.addr_bytes, nc->mac, 6);
		rt->neigh[slot].mac = cgn_neigh_word(&mac);
	}
	/* A static neighbour that is also a gateway stays static: cgn_neigh_add finds it. */
	return add_routes(dp, rt, cfg);
}

void
cgn_routes_free(struct cgn_routes *rt)
{
	for (int r = 0; r < 2; r++)
		rte_lpm_free(rt->lpm[r]);
	rte_hash_free(rt->hash);
	rte_ring_free(rt->resolve);
	rte_free(rt->neigh);
	rte_free(rt->free_slots);
	rte_free(rt->retired);
	memset(rt, 0, sizeof(*rt));
}
