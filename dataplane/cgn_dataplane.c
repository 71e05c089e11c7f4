/*
 * Worker lcores and their control rings (see cgn_dataplane.h).
 *
 * The worker loop: apply control messages; for every port, an RX burst from this worker's
 * queue through the NAT44 steps (nat44.c); flush the TX buffers; a bounded share of expiry and
 * port release; report a quiescent state; sleep idle_sleep_us if there was nothing to do.
 */
#include "cgn_dataplane.h"
#include "cgn_events.h"
#include "cgn_rfc6052.h"
#include "cgn_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cgn_ports.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_launch.h>
#include <rte_malloc.h>

/* The pool as the workers test it (ARP for pool addresses, hairpinning), and the default
 * source of the ICMP errors they send. */
void
cgn_dataplane_set_pool(struct cgn_dataplane *dp, const struct cgn_config *cfg)
{
	for (unsigned k = 0; k < cfg->nat.n_pool; k++) {
		unsigned len = cfg->nat.pool[k].len - 96u;
		dp->pool_v4[k].mask = len ? ~0u << (32 - len) : 0;
		dp->pool_v4[k].net = rte_be_to_cpu_32(cgn_addr_v4(&cfg->nat.pool[k].addr)) & dp->pool_v4[k].mask;
	}
	dp->n_pool = cfg->nat.n_pool;
	dp->icmp_source = cfg->dataplane.have_icmp_source ? cgn_addr_v4(&cfg->dataplane.icmp_source)
							  : cgn_addr_v4(&cfg->nat.pool[0].addr);
	dp->icmp_source6 = cfg->dataplane.icmp_source6;
	dp->have_icmp_source6 = cfg->dataplane.have_icmp_source6;
}

void
cgn_dataplane_derive_tx(struct cgn_dataplane *dp)
{
	dp->role_mtu[CGN_PORT_INSIDE] = dp->role_mtu[CGN_PORT_OUTSIDE] = UINT16_MAX;
	for (unsigned i = 0; i < dp->n_ports; i++)
		dp->role_mtu[dp->ports[i].role] = RTE_MIN(dp->role_mtu[dp->ports[i].role], dp->ports[i].mtu);
	dp->mtu_floor = RTE_MIN(dp->role_mtu[CGN_PORT_INSIDE], dp->role_mtu[CGN_PORT_OUTSIDE]);
	for (unsigned role = 0; role < 2 && dp->n_ports; role++) {
		const struct cgn_port *port = &dp->ports[dp->port_index[dp->role_port[role]]];
		dp->l2[role].fixed = dp->routes.lpm[role] == NULL && dp->routes.dflt[role] < 0 && port->have_peer_mac;
		dp->l2[role].dst = port->peer_mac;
		dp->l2[role].src = port->mac;
		dp->l2[role].port = (uint16_t)dp->port_index[dp->role_port[role]];
		dp->l2[role].max_frame = (uint16_t)(port->mtu + RTE_ETHER_HDR_LEN);
	}
}

void
cgn_dataplane_set_nat64(struct cgn_dataplane *dp, const struct cgn_config *cfg)
{
	const struct cgn_nat64_cfg *n64 = &cfg->nat64;
	dp->n_pref64 = n64->n_prefixes;
	for (unsigned i = 0; i < n64->n_prefixes; i++) {
		struct cgn_pref64_match *m = &dp->pref64[i];
		unsigned len = n64->prefixes[i].len;
		uint64_t m0 = len >= 64 ? ~UINT64_C(0) : ~UINT64_C(0) << (64 - len);
		uint64_t m1 = len <= 64 ? 0 : ~UINT64_C(0) << (128 - len);
		memcpy(m->net, n64->prefixes[i].addr.b, 16);
		m->mask[0] = rte_cpu_to_be_64(m0);
		m->mask[1] = rte_cpu_to_be_64(m1);
		/* Where an embedded IPv4 address's octets lie: found by embedding 1.2.3.4. */
		struct cgn_addr v4 = cgn_addr_from_v4(rte_cpu_to_be_32(0x01020304)), v6;
		cgn_rfc6052_embed(&n64->prefixes[i], &v4, &v6);
		for (unsigned o = 0; o < 16; o++)
			if (v6.b[o] >= 1 && v6.b[o] <= 4 && !(o < len / 8))
				m->pos[v6.b[o] - 1] = (uint8_t)o;
	}
}

struct cgn_dataplane *
cgn_dataplane_create(const struct cgn_config *cfg, struct cgn_pb *pb)
{
	unsigned n_workers = rte_lcore_count() - 1;
	if (n_workers == 0) {
		CGN_LOG(ERR, "EAL gave no worker lcore; give at least two lcores (-l 0-1)");
		rte_errno = EINVAL;
		return NULL;
	}

	struct cgn_dataplane *dp = rte_zmalloc("cgn_dataplane", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL)
		return NULL;
	dp->n_workers = n_workers;
	dp->idle_sleep_us = cfg->dataplane.idle_sleep_us;
	dp->cfg = cfg;
	cgn_dataplane_set_nat64(dp, cfg);
	dp->pb = pb;
	cgn_dataplane_set_pool(dp, cfg);

	/* Readers: every worker, the telemetry threads and the control thread. */
	/* The hash's seed follows dataplane.seed where tests fix it (a repeatable walk order). */
	dp->table = cgn_table_create("cgn", cfg->dataplane.table_size, n_workers + 2,
				     (uint32_t)(cfg->dataplane.seed ^ cfg->dataplane.seed >> 32), (int)rte_socket_id());
	if (dp->table == NULL) {
		CGN_LOG(ERR, "cannot create the shared table of %u mappings: %s", cfg->dataplane.table_size,
			rte_strerror(rte_errno));
		goto fail;
	}

	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned i = 0, lcore;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct cgn_worker *w = &dp->workers[i];
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "cgn_ctl_%u", i);
		w->ring = rte_ring_create_elem(name, sizeof(struct cgn_ring_msg), cfg->dataplane.ring_size,
					       (int)rte_lcore_to_socket_id(lcore), RING_F_SP_ENQ | RING_F_SC_DEQ);
		w->held = rte_zmalloc("cgn_held", sizeof(*w->held) * CGN_HOLD_RING, RTE_CACHE_LINE_SIZE);
		if (w->ring == NULL || w->held == NULL || cgn_frags_init(&w->frags) != 0) {
			CGN_LOG(ERR, "cannot create worker %u's ring or hold queue: %s", i,
				rte_strerror(rte_errno));
			goto fail;
		}
		w->lcore_id = lcore;
		w->index = i;
		w->dp = dp;
		/* Tests fix the seed so that port choices, and so the golden outputs, repeat. */
		w->rng = cfg->dataplane.seed ? cfg->dataplane.seed * (i + 1)
					     : ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (i + 1) * 0x9e3779b97f4a7c15ull;
		w->ip_id = (uint16_t)(w->rng >> 17); /* workers' identifications start apart */
		i++;
	}
	cgn_routes_no_defaults(&dp->routes); /* no routes without ports */
	if (cgn_ports_init(dp, cfg) != 0)
		goto fail;
	if (dp->n_ports && cgn_routes_create(dp, &dp->routes, cfg) != 0)
		goto fail;
	cgn_dataplane_derive_tx(dp);
	if (dp->n_ports) {
		dp->punt = rte_ring_create("cgn_punt", CGN_PUNT_RING_SIZE, (int)rte_socket_id(), RING_F_SC_DEQ);
		dp->punt_tx = rte_ring_create("cgn_punt_tx", CGN_PUNT_RING_SIZE, (int)rte_socket_id(),
					      RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (dp->punt == NULL || dp->punt_tx == NULL)
			goto fail;
	}
	dp->rx_start_ms = cgn_clock_ms() + cfg->dataplane.rx_delay_ms;
	return dp;

fail:
	cgn_dataplane_free(dp);
	return NULL;
}

int
cgn_dataplane_launch(struct cgn_dataplane *dp)
{
	for (unsigned i = 0; i < dp->n_workers; i++) {
		int rc = rte_eal_remote_launch(cgn_worker_main, &dp->workers[i], dp->workers[i].lcore_id);
		if (rc != 0)
			return rc;
	}
	dp->launched = true;
	return 0;
}

int
cgn_dataplane_reroute(struct cgn_dataplane *dp, const struct cgn_config *cfg, bool check_only, char *err,
		      size_t err_len)
{
	if (dp->n_ports == 0)
		return 0;
	int rc = cgn_routes_reload(dp, cfg, check_only, err, err_len);
	if (rc == 0 && !check_only)
		cgn_dataplane_derive_tx(dp);
	return rc;
}

int
cgn_dataplane_pause(struct cgn_dataplane *dp)
{
	uint32_t gen = __atomic_add_fetch(&dp->pause_gen, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&dp->pause, true, __ATOMIC_RELEASE);
	if (!dp->launched)
		return 0;
	uint64_t deadline = cgn_clock_ms() + 1000; /* a worker comes round in microseconds */
	for (unsigned i = 0; i < dp->n_workers; i++)
		while (__atomic_load_n(&dp->workers[i].paused_gen, __ATOMIC_ACQUIRE) != gen) {
			if (cgn_clock_ms() > deadline) {
				cgn_dataplane_resume(dp);
				return -ETIMEDOUT;
			}
			rte_pause();
		}
	return 0;
}

void
cgn_dataplane_resume(struct cgn_dataplane *dp)
{
	__atomic_store_n(&dp->pause, false, __ATOMIC_RELEASE);
}

void
cgn_dataplane_stop(struct cgn_dataplane *dp)
{
	dp->stop = true;
	rte_eal_mp_wait_lcore();
}

void
cgn_dataplane_free(struct cgn_dataplane *dp)
{
	if (dp == NULL)
		return;
	struct rte_ring *rings[] = { dp->punt, dp->punt_tx };
	for (unsigned i = 0; i < 2; i++) {
		struct rte_mbuf *m;
		while (rings[i] && rte_ring_dequeue(rings[i], (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(rings[i]);
	}
	for (unsigned i = 0; i < dp->n_workers; i++) /* held mbufs go back before their pool */
		cgn_frags_fini(&dp->workers[i].frags);
	cgn_ports_fini(dp);
	cgn_routes_free(&dp->routes);
	for (unsigned i = 0; i < dp->n_workers; i++) {
		rte_ring_free(dp->workers[i].ring);
		rte_free(dp->workers[i].held);
	}
	cgn_table_free(dp->table);
	rte_free(dp);
}

int
cgn_dataplane_push(struct cgn_dataplane *dp, struct cgn_ring_msg *msg)
{
	struct cgn_key in = cgn_mapping_in_key(&msg->m);
	uint32_t h = cgn_table_hash(dp->table, &in); /* the same choice as the expiry's (expire.c) */
	struct cgn_worker *w = &dp->workers[h % dp->n_workers];

	msg->seq = dp->seq++;
	if (rte_ring_sp_enqueue_elem(w->ring, msg, sizeof(*msg)) != 0) {
		dp->push_full++;
		return -ENOBUFS;
	}
	return 0;
}

int
cgn_dataplane_control_tx(struct cgn_dataplane *dp, uint16_t port_id, struct rte_mbuf *m)
{
	m->port = port_id;
	if (dp->punt_tx == NULL || dp->port_index[port_id] < 0 || rte_ring_sp_enqueue(dp->punt_tx, m) != 0) {
		rte_pktmbuf_free(m);
		return -ENOBUFS;
	}
	return 0;
}

unsigned
cgn_dataplane_backlog(const struct cgn_dataplane *dp)
{
	unsigned n = 0;
	for (unsigned i = 0; i < dp->n_workers; i++)
		n += rte_ring_count(dp->workers[i].ring);
	return n;
}

/* Control messages: at most CGN_RING_BURST a loop. */
static unsigned
apply_ring(struct cgn_worker *w)
{
	struct cgn_ring_msg msgs[CGN_RING_BURST];
	unsigned n = rte_ring_dequeue_burst_elem(w->ring, msgs, sizeof(msgs[0]), CGN_RING_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		if (cgn_table_apply(w->dp->table, &msgs[i]) == 0)
			w->stats.ring_msgs++;
		else
			w->stats.ring_errors++;
	}
	return n;
}

/* Worker 0 sends what the control thread queued (PCP answers) on its own TX queues: a port
 * need not have a queue to spare, and the control thread never touches a worker's queue. */
static unsigned
send_control_frames(struct cgn_worker *w)
{
	struct rte_mbuf *ms[CGN_RING_BURST];
	unsigned n = rte_ring_sc_dequeue_burst(w->dp->punt_tx, (void **)ms, CGN_RING_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		w->pkt.tx++;
		rte_eth_tx_buffer(ms[i]->port, (uint16_t)w->index, w->tx[ms[i]->port], ms[i]);
	}
	return n;
}

int
cgn_worker_main(void *arg)
{
	struct cgn_worker *w = arg;
	struct cgn_dataplane *dp = w->dp;
	struct rte_rcu_qsbr *rcu = dp->table->rcu;
	struct rte_mbuf *pkts[CGN_RX_BURST];

	rte_rcu_qsbr_thread_register(rcu, w->index);
	rte_rcu_qsbr_thread_online(rcu, w->index);

	while (!__atomic_load_n(&dp->stop, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&dp->pause, __ATOMIC_ACQUIRE)) {
			/* A pool change: nothing but the control ring until it is over. Acknowledge
			 * the pause we are in (a new one may follow the last without a gap). */
			while (__atomic_load_n(&dp->pause, __ATOMIC_ACQUIRE) && !__atomic_load_n(&dp->stop, __ATOMIC_RELAXED)) {
				__atomic_store_n(&w->paused_gen, __atomic_load_n(&dp->pause_gen, __ATOMIC_ACQUIRE),
						 __ATOMIC_RELEASE);
				apply_ring(w);
				__atomic_store_n(&w->pause_rounds, w->pause_rounds + 1, __ATOMIC_RELEASE);
				rte_rcu_qsbr_quiescent(rcu, w->index);
				rte_pause();
			}
		}
		w->now_ms = cgn_clock_ms();
		unsigned work = apply_ring(w);

		/* Inside ports first: a burst's new sessions exist before the outside's replies. */
		for (unsigned r = 0; r < 2 && w->now_ms >= dp->rx_start_ms; r++)
			for (unsigned i = 0; i < dp->n_ports; i++) {
				struct cgn_port *port = &dp->ports[i];
				if ((r == 0) != (port->role == CGN_PORT_INSIDE) || w->index >= port->queues)
					continue;
				uint16_t n = rte_eth_rx_burst(port->port_id, (uint16_t)w->index, pkts, CGN_RX_BURST);
				if (n) {
					cgn_pipeline_burst(w, port->port_id, pkts, n);
					work += n;
				}
			}
		if (w->index == 0 && dp->punt_tx)
			work += send_control_frames(w);
		for (unsigned i = 0; i < dp->n_ports; i++) {
			uint16_t pid = dp->ports[i].port_id;
			if (w->index < dp->ports[i].queues)
				rte_eth_tx_buffer_flush(pid, (uint16_t)w->index, w->tx[pid]);
		}
		/* Background work once a millisecond, not once a burst: at 10 Mpps a loop is a few
		 * microseconds, and the sweep would cost more than the packets. */
		if (dp->n_ports && w->now_ms != w->background_ms) {
			w->background_ms = w->now_ms;
			cgn_expire(w, w->now_ms);
			cgn_hold_release(w, w->now_ms);
			cgn_frag_expire(w, w->now_ms);
		}
		cgn_events_flush(); /* this round's NAT events to the logger, in one burst */
		w->stats.loops++;

		/* Nothing read from the table survives past this point. */
		rte_rcu_qsbr_quiescent(rcu, w->index);

		if (work == 0) {
			w->stats.idle_loops++;
			if (dp->idle_sleep_us)
				rte_delay_us_sleep(dp->idle_sleep_us);
		}
	}

	cgn_events_flush();
	rte_rcu_qsbr_thread_offline(rcu, w->index);
	rte_rcu_qsbr_thread_unregister(rcu, w->index);
	return 0;
}
