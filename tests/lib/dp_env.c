/*
 * Test data plane (see dp_env.h).
 */
#include "dp_env.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_arp.h>
#include <rte_eal.h>

#include "cgn_cksum.h"

/* EAL leaves an (empty, with --no-shconf --no-telemetry) runtime directory behind. */
static char runtime_dir[4096];

static void
remove_runtime_dir(void)
{
	if (runtime_dir[0])
		rmdir(runtime_dir);
}

static struct dp_env env;
static bool ready;

static const char *conf_text =
	"pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"100.64.0.0/10\" ]; };\n"
	"nat = { pool = [ \"203.0.113.0/30\" ]; block_size = 64; max_blocks = 2; ports = \"1024-2047\";\n"
	"        max_subscribers = 64; port_hold_s = 120; };\n"
	"dataplane = { table_size = 4096; seed = 7; icmp_source = \"203.0.113.3\"; icmp_errors_per_second = 1000000; };\n"
	"ports = ( { name = \"net_null0\"; role = \"inside\"; peer_mac = \"02:00:00:00:01:01\"; address = \"100.64.0.254\"; },\n"
	"          { name = \"net_null1\"; role = \"outside\"; peer_mac = \"02:00:00:00:02:02\"; address = \"198.51.100.254\"; } );\n"
	/* Subscribers in 100.64.8.0/24 behind a gateway, 100.64.9.0/24 directly connected; the
	 * rest (100.64.0.0/24 of the other tests) on the inside port's peer_mac. */
	"routes = ( { prefix = \"100.64.8.0/24\"; port = \"net_null0\"; via = \"100.64.0.8\"; },\n"
	"           { prefix = \"100.64.9.0/24\"; port = \"net_null0\"; } );\n"
	"neighbours = ( { address = \"100.64.0.7\"; mac = \"02:00:00:00:07:07\"; port = \"net_null0\"; } );\n"
	"arp = { reachable_ms = 1000; retry_ms = 100; probes = 2; max_neighbours = 16; };\n";

static uint32_t *
pool_addrs(const struct cgn_config *cfg, uint32_t *n)
{
	*n = cgn_config_pool_size(cfg);
	uint32_t *a = calloc(*n, 4);
	uint32_t base = ntohl(cgn_addr_v4(&cfg->nat.pool[0].addr));
	for (uint32_t i = 0; i < *n; i++)
		a[i] = htonl(base + i);
	return a;
}

struct dp_env *
dp_env_get(void)
{
	if (ready)
		return &env;
	char prefix[64], err[256];
	snprintf(prefix, sizeof(prefix), "--file-prefix=cgndp%d", getpid());
	char *args[] = { "dp", "-l", "0-1", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--no-telemetry",
			 "--log-level=*:error", "--vdev", "net_null0,no-rx=1", "--vdev", "net_null1,no-rx=1", prefix };
	atexit(remove_runtime_dir);
	if (rte_eal_init(15, args) < 0)
		return NULL;
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	if (cgn_config_load_string(conf_text, &env.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return NULL;
	}
	uint32_t n;
	uint32_t *addrs = pool_addrs(&env.cfg, &n);
	struct cgn_pb_params pp = { .addrs = addrs, .n_addrs = n, .port_min = env.cfg.nat.port_min,
				    .port_max = env.cfg.nat.port_max, .block_size = env.cfg.nat.block_size,
				    .max_blocks = env.cfg.nat.max_blocks, .max_subscribers = env.cfg.nat.max_subscribers };
	size_t size = cgn_pb_mem_size(&pp);
	env.pb_mem = calloc(1, size);
	if (cgn_pb_init(&env.pb, &pp, env.pb_mem, size) != 0)
		return NULL;
	free(addrs);
	env.dp = cgn_dataplane_create(&env.cfg, &env.pb);
	if (env.dp == NULL)
		return NULL;
	env.w = &env.dp->workers[0];
	env.inside_port = env.dp->ports[0].port_id;
	env.outside_port = env.dp->ports[1].port_id;
	rte_rcu_qsbr_thread_register(env.dp->table->rcu, 0);
	rte_rcu_qsbr_thread_online(env.dp->table->rcu, 0);
	env.w->now_ms = 1000000;
	ready = true;
	return &env;
}

void
dp_env_burst(uint16_t in_port, struct rte_mbuf **pkts, uint16_t n)
{
	cgn_pipeline_burst(env.w, in_port, pkts, n);
}

struct rte_mbuf *
dp_env_mbuf(const void *frame, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(env.dp->mbufs);
	if (m == NULL)
		return NULL;
	void *d = rte_pktmbuf_append(m, len);
	if (d == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memcpy(d, frame, len);
	return m;
}

uint8_t *
dp_env_run(uint16_t in_port, const void *frame, uint16_t len, uint16_t *out_port, uint16_t *out_len)
{
	static uint8_t copy[2048];
	struct rte_mbuf *m = dp_env_mbuf(frame, len);
	if (m == NULL)
		return NULL;
	for (unsigned i = 0; i < env.dp->n_ports; i++) /* start with empty TX buffers */
		rte_eth_tx_buffer_flush(env.dp->ports[i].port_id, 0, env.w->tx[env.dp->ports[i].port_id]);
	dp_env_burst(in_port, &m, 1);
	uint8_t *sent = NULL;
	for (unsigned i = 0; i < env.dp->n_ports; i++) {
		uint16_t pid = env.dp->ports[i].port_id;
		struct rte_eth_dev_tx_buffer *b = env.w->tx[pid];
		if (b->length && sent == NULL) {
			struct rte_mbuf *o = b->pkts[b->length - 1];
			uint16_t n = rte_pktmbuf_data_len(o);
			memcpy(copy, rte_pktmbuf_mtod(o, void *), n < sizeof(copy) ? n : sizeof(copy));
			if (out_port)
				*out_port = pid;
			if (out_len)
				*out_len = n;
			sent = copy;
		}
		rte_eth_tx_buffer_flush(pid, 0, b);
	}
	return sent;
}

struct cgn_mapping *
dp_env_mapping(const char *internal, uint16_t port, uint8_t proto)
{
	struct cgn_addr a;
	if (cgn_addr_parse(internal, &a) < 0)
		return NULL;
	struct cgn_key k = cgn_key_make(&a, port, proto, CGN_SIDE_INSIDE);
	return cgn_table_lookup(env.dp->table, &k);
}

uint32_t
dp_ipv4(const char *text)
{
	uint32_t v = 0;
	inet_pton(AF_INET, text, &v);
	return v;
}

uint16_t
build_arp(uint8_t *buf, uint16_t op, const struct rte_ether_addr *src, const struct rte_ether_addr *dst,
	  const char *sender_ip, const char *target_ip)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	memset(buf, 0, 60);
	if (op == RTE_ARP_OP_REQUEST)
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
	else
		eth->dst_addr = *dst;
	eth->src_addr = *src;
	eth->ether_type = htons(RTE_ETHER_TYPE_ARP);
	struct rte_arp_hdr *arp = (struct rte_arp_hdr *)(eth + 1);
	arp->arp_hardware = htons(RTE_ARP_HRD_ETHER);
	arp->arp_protocol = htons(RTE_ETHER_TYPE_IPV4);
	arp->arp_hlen = 6;
	arp->arp_plen = 4;
	arp->arp_opcode = htons(op);
	arp->arp_data.arp_sha = *src;
	arp->arp_data.arp_sip = dp_ipv4(sender_ip);
	if (op != RTE_ARP_OP_REQUEST)
		arp->arp_data.arp_tha = *dst;
	arp->arp_data.arp_tip = dp_ipv4(target_ip);
	return 60;
}

static uint16_t
ip_header(uint8_t *buf, const char *src, const char *dst, uint8_t proto, uint16_t l4_len, uint8_t ttl)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0x08, 0x00 };
	memcpy(buf, eth, 14);
	uint8_t *ip = buf + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	uint16_t tl = htons((uint16_t)(20 + l4_len));
	memcpy(ip + 2, &tl, 2);
	ip[8] = ttl;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	uint16_t c = cgn_cksum(ip, 20);
	memcpy(ip + 10, &c, 2);
	return 34;
}

/* The TCP/UDP checksum over the pseudo-header and segment. */
static uint16_t
l4_cksum(const uint8_t *ip, const uint8_t *l4, uint16_t len)
{
	uint8_t pseudo[12];
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = ip[9];
	uint16_t l = htons(len);
	memcpy(pseudo + 10, &l, 2);
	return (uint16_t)~cgn_cksum_fold(cgn_cksum_partial(l4, len, cgn_cksum_partial(pseudo, 12, 0)));
}

uint16_t
build_udp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport, const void *payload,
	  uint16_t plen, uint8_t ttl, bool zero_cksum)
{
	uint16_t off = ip_header(buf, src, dst, 17, (uint16_t)(8 + plen), ttl);
	uint8_t *u = buf + off;
	uint16_t v;
	v = htons(sport), memcpy(u, &v, 2);
	v = htons(dport), memcpy(u + 2, &v, 2);
	v = htons((uint16_t)(8 + plen)), memcpy(u + 4, &v, 2);
	memset(u + 6, 0, 2);
	memcpy(u + 8, payload, plen);
	if (!zero_cksum) {
		v = l4_cksum(buf + 14, u, (uint16_t)(8 + plen));
		if (v == 0)
			v = 0xffff;
		memcpy(u + 6, &v, 2);
	}
	return (uint16_t)(off + 8 + plen);
}

uint16_t
build_tcp(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t flags)
{
	uint16_t off = ip_header(buf, src, dst, 6, 20, 64);
	uint8_t *t = buf + off;
	memset(t, 0, 20);
	uint16_t v;
	v = htons(sport), memcpy(t, &v, 2);
	v = htons(dport), memcpy(t + 2, &v, 2);
	t[12] = 0x50;
	t[13] = flags;
	t[14] = 0xff;
	v = l4_cksum(buf + 14, t, 20);
	memcpy(t + 16, &v, 2);
	return (uint16_t)(off + 20);
}

uint16_t
build_icmp_echo(uint8_t *buf, const char *src, const char *dst, uint8_t type, uint16_t id)
{
	uint16_t off = ip_header(buf, src, dst, 1, 16, 64);
	uint8_t *c = buf + off;
	memset(c, 0, 16);
	c[0] = type;
	uint16_t v = htons(id);
	memcpy(c + 4, &v, 2);
	memcpy(c + 8, "pingping", 8);
	v = cgn_cksum(c, 16);
	memcpy(c + 2, &v, 2);
	return (uint16_t)(off + 16);
}

uint16_t
build_icmp_error(uint8_t *buf, const char *src, const char *dst, uint8_t type, uint8_t code, const uint8_t *quoted_ip)
{
	uint16_t off = ip_header(buf, src, dst, 1, 8 + 28, 64);
	uint8_t *c = buf + off;
	memset(c, 0, 8);
	c[0] = type;
	c[1] = code;
	memcpy(c + 8, quoted_ip, 28);
	uint16_t v = cgn_cksum(c, 36);
	memcpy(c + 2, &v, 2);
	return (uint16_t)(off + 36);
}

bool
frame_cksums_ok(const uint8_t *frame, uint16_t len)
{
	const uint8_t *ip = frame + 14;
	if (len < 34 || cgn_cksum(ip, 20) != 0)
		return false;
	uint16_t tl = (uint16_t)(ip[2] << 8 | ip[3]);
	const uint8_t *l4 = ip + 20;
	uint16_t l4len = (uint16_t)(tl - 20);
	switch (ip[9]) {
	case 1:
		return cgn_cksum(l4, l4len) == 0;
	case 6:
		return l4_cksum(ip, l4, l4len) == 0;
	case 17:
		return (l4[6] == 0 && l4[7] == 0) || l4_cksum(ip, l4, l4len) == 0;
	default:
		return true;
	}
}
