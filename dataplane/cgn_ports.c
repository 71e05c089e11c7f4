/*
 * DPDK ports: found by their EAL names from the configuration, each given one RX and one TX
 * queue per worker (RSS spreads flows over the RX queues where the PMD has it), started, and
 * stopped and closed at the end (which flushes net_pcap's output files). Main lcore only.
 */
#include "cgn_ports.h"
#include "cgn_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#define RX_DESC 1024
#define TX_DESC 1024
#define MBUF_CACHE 256
#define FRAG_MBUFS 8191      /* fragment headers and payload references in flight */
#define FRAG_HEADER_ROOM 64  /* an IPv4 header of 60 octets, the Ethernet one in the headroom */

static int
port_setup(struct cgn_dataplane *dp, struct cgn_port *p, const struct cgn_port_cfg *pc)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf = { 0 };
	int rc;

	if (rte_eth_dev_get_port_by_name(pc->name, &p->port_id) != 0) {
		CGN_LOG(ERR, "port %s: no such DPDK device (give it to EAL: --vdev or -a)", pc->name);
		return -ENODEV;
	}
	if ((rc = rte_eth_dev_info_get(p->port_id, &info)) != 0)
		return rc;
	uint16_t q = (uint16_t)dp->n_workers;
	if (info.max_rx_queues < q || info.max_tx_queues < q) {
		CGN_LOG(ERR, "port %s has %u RX and %u TX queues; %u workers need one each: "
				"give EAL fewer lcores", pc->name, info.max_rx_queues, info.max_tx_queues, q);
		return -EINVAL;
	}
	if (q > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = info.flow_type_rss_offloads &
						   (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
		/* Fragment state is per worker (fragment.h): every fragment of a datagram must
		 * reach one queue, which NICs do by hashing fragments by addresses alone. */
		if (!(conf.rx_adv_conf.rss_conf.rss_hf & RTE_ETH_RSS_FRAG_IPV4))
			CGN_LOG(WARNING, "port %s: RSS cannot hash IPv4 fragments by address: "
					"fragmented datagrams may be split over workers and dropped", pc->name);
		if (!(conf.rx_adv_conf.rss_conf.rss_hf & RTE_ETH_RSS_FRAG_IPV6))
			CGN_LOG(WARNING, "port %s: RSS cannot hash IPv6 fragments by address: NAT64's "
					"fragmented datagrams may be split over workers and dropped", pc->name);
	} else if (q > 1) {
		CGN_LOG(WARNING, "port %s has no RSS: each worker gets what its queue gets; "
				"fragmented datagrams may be split over workers", pc->name);
	}
	/* A NIC that verifies IPv4 header checksums saves classify the work (mbuf ol_flags). */
	if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	/* Fragments of a packet too big for the link share its payload (mtu.c). */
	p->tx_chained = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	if (p->tx_chained)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if ((rc = rte_eth_dev_configure(p->port_id, q, q, &conf)) != 0) {
		CGN_LOG(ERR, "port %s: configure: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	uint16_t rxd = RX_DESC, txd = TX_DESC;
	rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	int socket = rte_eth_dev_socket_id(p->port_id);
	for (uint16_t i = 0; i < q; i++) {
		if ((rc = rte_eth_rx_queue_setup(p->port_id, i, rxd, socket < 0 ? SOCKET_ID_ANY : (unsigned)socket,
						 NULL, dp->mbufs)) != 0 ||
		    (rc = rte_eth_tx_queue_setup(p->port_id, i, txd, socket < 0 ? SOCKET_ID_ANY : (unsigned)socket,
						 NULL)) != 0) {
			CGN_LOG(ERR, "port %s: queue %u: %s", pc->name, i, rte_strerror(-rc));
			return rc;
		}
	}
	/* A configured mtu is ours to keep even where the device has no MTU to set (net_pcap). */
	if (pc->mtu != 0 && (rc = rte_eth_dev_set_mtu(p->port_id, pc->mtu)) != 0 && rc != -ENOTSUP) {
		CGN_LOG(ERR, "port %s: mtu %u: %s (the device takes %u to %u)", pc->name, pc->mtu,
			rte_strerror(-rc), info.min_mtu, info.max_mtu);
		return rc;
	}
	if (pc->mtu != 0)
		p->mtu = pc->mtu;
	else if (rte_eth_dev_get_mtu(p->port_id, &p->mtu) != 0 || p->mtu < CGN_MIN_MTU)
		p->mtu = RTE_ETHER_MTU;
	rte_eth_macaddr_get(p->port_id, &p->mac);
	p->link_local = cgn_addr_link_local_from_mac(p->mac.addr_bytes);
	p->address6 = pc->address6;
	p->have_address6 = pc->have_address6;
	p->role = pc->role;
	p->queues = q;
	p->have_peer_mac = pc->have_peer_mac;
	p->address = pc->address;
	p->pcp_management = pc->pcp_management;
	memcpy(p->peer_mac.addr_bytes, pc->peer_mac, 6);
	rte_eth_promiscuous_enable(p->port_id); /* pool addresses are many; MAC filtering is not ours */
	if ((rc = rte_eth_dev_start(p->port_id)) != 0) {
		CGN_LOG(ERR, "port %s: start: %s", pc->name, rte_strerror(-rc));
		return rc;
	}
	return 0;
}

int
cgn_ports_init(struct cgn_dataplane *dp, const struct cgn_config *cfg)
{
	for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
		dp->port_index[i] = -1;
	if (cfg->n_ports == 0)
		return 0;

	/* Every RX descriptor of every queue full, plus what sits in TX queues, bursts and the
	 * two punt rings. */
	uint32_t n = cfg->dataplane.mbufs;
	if (n == 0)
		n = cfg->n_ports * dp->n_workers * (RX_DESC + TX_DESC) + dp->n_workers * (MBUF_CACHE + 1024) +
		    2 * CGN_PUNT_RING_SIZE + 4096;
	uint16_t room = cfg->dataplane.mbuf_size ? (uint16_t)cfg->dataplane.mbuf_size : RTE_MBUF_DEFAULT_BUF_SIZE;
	dp->mbufs = rte_pktmbuf_pool_create("cgn_mbufs", n, MBUF_CACHE, 0, room, (int)rte_socket_id());
	if (dp->mbufs == NULL) {
		CGN_LOG(ERR, "cannot create %u mbufs: %s (dataplane.mbufs, eal.memory_mb)", n,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	/* Fragments of packets too big for their link (mtu.c): a header each, chained to the
	 * payload it shares with the original. Small buffers, apart from the packets' own. */
	dp->frag_mbufs = rte_pktmbuf_pool_create("cgn_frag_mbufs", FRAG_MBUFS, MBUF_CACHE, 0,
						 RTE_PKTMBUF_HEADROOM + FRAG_HEADER_ROOM, (int)rte_socket_id());
	if (dp->frag_mbufs == NULL) {
		CGN_LOG(ERR, "cannot create %u fragment buffers: %s", FRAG_MBUFS, rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cfg->n_ports; i++) {
		int rc = port_setup(dp, &dp->ports[i], &cfg->ports[i]);
		if (rc != 0)
			return rc;
		dp->port_index[dp->ports[i].port_id] = (int16_t)i;
		dp->n_ports++;
	}
	/* Backwards, so the first port of each role stays (load_ports makes sure of one each). */
	for (unsigned i = dp->n_ports; i-- > 0;)
		dp->role_port[dp->ports[i].role] = dp->ports[i].port_id;
	/* A TX buffer per worker per port: bursts leave together. */
	for (unsigned w = 0; w < dp->n_workers; w++)
		for (unsigned i = 0; i < dp->n_ports; i++) {
			uint16_t pid = dp->ports[i].port_id;
			dp->workers[w].tx[pid] = rte_zmalloc("cgn_txbuf", RTE_ETH_TX_BUFFER_SIZE(CGN_TX_BURST), 0);
			if (dp->workers[w].tx[pid] == NULL)
				return -ENOMEM;
			rte_eth_tx_buffer_init(dp->workers[w].tx[pid], CGN_TX_BURST);
			/* Unsent packets are freed and counted, never dropped silently. */
			rte_eth_tx_buffer_set_err_callback(dp->workers[w].tx[pid], rte_eth_tx_buffer_count_callback,
							   &dp->workers[w].pkt.drops[CGN_DROP_TX_FULL]);
		}
	return 0;
}

void
cgn_ports_fini(struct cgn_dataplane *dp)
{
	for (unsigned i = 0; i < dp->n_ports; i++) {
		rte_eth_dev_stop(dp->ports[i].port_id);
		rte_eth_dev_close(dp->ports[i].port_id); /* net_pcap writes its output file out here */
	}
	for (unsigned w = 0; w < dp->n_workers; w++)
		for (unsigned i = 0; i < RTE_MAX_ETHPORTS; i++)
			rte_free(dp->workers[w].tx[i]);
	dp->n_ports = 0;
	rte_mempool_free(dp->mbufs);
	rte_mempool_free(dp->frag_mbufs);
	dp->frag_mbufs = NULL;
	dp->mbufs = NULL;
}
