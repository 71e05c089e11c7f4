/*
 * Worker lcores and their control rings (see cgn_dataplane.h).
 *
 * The worker loop today: drain the ring into the shared table, report a quiescent state, and
 * sleep idle_sleep_us when there was nothing to do. Packet steps (RX burst → classify →
 * translate → TX) slot in before the quiescent state report.
 */
#include "cgn_dataplane.h"

#include <errno.h>
#include <stdio.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_launch.h>
#include <rte_malloc.h>

struct cgn_dataplane *
cgn_dataplane_create(uint32_t table_size, uint32_t ring_size, uint32_t idle_sleep_us)
{
	unsigned n_workers = rte_lcore_count() - 1;
	if (n_workers == 0) {
		fprintf(stderr, "cgnatd: EAL gave no worker lcore; give at least two lcores (-l 0-1)\n");
		rte_errno = EINVAL;
		return NULL;
	}

	struct cgn_dataplane *dp = rte_zmalloc("cgn_dataplane", sizeof(*dp), RTE_CACHE_LINE_SIZE);
	if (dp == NULL)
		return NULL;
	dp->n_workers = n_workers;
	dp->idle_sleep_us = idle_sleep_us;

	/* Readers: every worker, the telemetry threads and the control thread. */
	dp->table = cgn_table_create("cgn", table_size, n_workers + 2, (int)rte_socket_id());
	if (dp->table == NULL) {
		fprintf(stderr, "cgnatd: cannot create the shared table of %u mappings: %s\n", table_size,
			rte_strerror(rte_errno));
		goto fail;
	}

	unsigned i = 0, lcore;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct cgn_worker *w = &dp->workers[i];
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "cgn_ctl_%u", i);
		w->ring = rte_ring_create_elem(name, sizeof(struct cgn_ring_msg), ring_size,
					       (int)rte_lcore_to_socket_id(lcore),
					       RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->ring == NULL) {
			fprintf(stderr, "cgnatd: cannot create ring %s: %s\n", name, rte_strerror(rte_errno));
			goto fail;
		}
		w->lcore_id = lcore;
		w->index = i;
		w->dp = dp;
		i++;
	}
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
	return 0;
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
	for (unsigned i = 0; i < dp->n_workers; i++)
		rte_ring_free(dp->workers[i].ring);
	cgn_table_free(dp->table);
	rte_free(dp);
}

int
cgn_dataplane_push(struct cgn_dataplane *dp, struct cgn_ring_msg *msg)
{
	uint32_t h = rte_hash_crc(&msg->m.in, sizeof(msg->m.in), 0);
	struct cgn_worker *w = &dp->workers[h % dp->n_workers];

	msg->seq = dp->seq++;
	if (rte_ring_sp_enqueue_elem(w->ring, msg, sizeof(*msg)) != 0) {
		dp->push_full++;
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

int
cgn_worker_main(void *arg)
{
	struct cgn_worker *w = arg;
	struct cgn_dataplane *dp = w->dp;
	struct rte_rcu_qsbr *rcu = dp->table->rcu;
	struct cgn_ring_msg msgs[CGN_RING_BURST];

	rte_rcu_qsbr_thread_register(rcu, w->index);
	rte_rcu_qsbr_thread_online(rcu, w->index);

	while (!__atomic_load_n(&dp->stop, __ATOMIC_RELAXED)) {
		unsigned n = rte_ring_dequeue_burst_elem(w->ring, msgs, sizeof(msgs[0]), CGN_RING_BURST, NULL);
		for (unsigned i = 0; i < n; i++) {
			if (cgn_table_apply(dp->table, &msgs[i]) == 0)
				w->stats.ring_msgs++;
			else
				w->stats.ring_errors++;
		}
		w->stats.loops++;

		/* Nothing read from the table survives past this point. */
		rte_rcu_qsbr_quiescent(rcu, w->index);

		if (n == 0) {
			w->stats.idle_loops++;
			if (dp->idle_sleep_us)
				rte_delay_us_sleep(dp->idle_sleep_us);
		}
	}

	rte_rcu_qsbr_thread_offline(rcu, w->index);
	rte_rcu_qsbr_thread_unregister(rcu, w->index);
	return 0;
}
