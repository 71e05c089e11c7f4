/*
 * DPDK ports of the data plane: setup from the configuration, teardown. Main lcore only.
 */
#ifndef CGN_PORTS_H
#define CGN_PORTS_H

#include "cgn_dataplane.h"

#define CGN_TX_BURST 32

/**
 * Finds, configures (one RX/TX queue pair per worker) and starts every configured port, and
 * creates the mbuf pool. @return 0, or -errno with a message on stderr.
 */
int cgn_ports_init(struct cgn_dataplane *dp, const struct cgn_config *cfg);

/** Stops and closes the ports (flushing net_pcap output), frees the pool. */
void cgn_ports_fini(struct cgn_dataplane *dp);

#endif
