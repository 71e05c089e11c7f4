/*
 * bench_handler: the PCP request handler alone, no sockets: how long pcp_server_handle()
 * takes per MAP create and per renewal with N live mappings (data plane pushes stubbed).
 * Separates cgnatd's own cost from the kernel's in scripts/bench_pcp.sh's figures.
 *
 *   bench_handler MAPPINGS [6] [store]
 *   bench_handler SETS set SIZE [store]
 *
 * With "store", the server keeps the state store (state.path in a temporary directory,
 * sized for the run) and commits once per 64 requests, as the control loop's batches do.
 * With 6, the requests come from IPv6 subscribers (one /56 each in 2001:db8::/32) to a server
 * fronting a NAT64 (64:ff9b::/96): NAT64 mappings, as scripts/bench_pcp.sh's IPv6 run makes.
 * With "set SIZE", each request is an RFC 7753 port set of SIZE ports (one per subscriber;
 * SIZE <= 512, the block size here): what one entry per port costs the control plane, per set
 * and per port, and the memory of a port (data-plane entry, control record).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>


#include "pcp_server_int.h"
#include "pcp_wire.h"

#include "cgn_clock.h"
#include "eal_once.h"

static int
push(void *ctx, struct cgn_ring_msg *msg)
{
	(void)ctx, (void)msg;
	return 0;
}

int
main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
	bool v6 = argc > 2 && strcmp(argv[2], "6") == 0;
	uint32_t set = argc > 3 && strcmp(argv[2], "set") == 0 ? (uint32_t)atol(argv[3]) : 0;
	if (set > 512) {
		fprintf(stderr, "bench_handler: a set of at most 512 ports\n");
		return 2;
	}
	bool store = (argc > 2 && strcmp(argv[argc - 1], "store") == 0);
	char state[160] = "", store_dir[64] = "";
	if (store) {
		snprintf(store_dir, sizeof(store_dir), "/tmp/cgnbh-XXXXXX");
		if (mkdtemp(store_dir) == NULL)
			return 1;
		snprintf(state, sizeof(state), "state = { path = \"%s/state\"; };\n", store_dir);
	}
	if (test_eal_once("cgnbh", 2048) < 0)
		return 1;
	uint32_t subs = set ? n : (n + 63) / 64;
	uint32_t ports = set ? n * set : n; /* data-plane entries and control records */
	char text[1280], err[256];
	snprintf(text, sizeof(text),
		 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\", \"2001:db8::/32\" ];\n"
		 "  max_mappings_per_subscriber = 64; announce = { multicast = false; }; };\n"
		 "nat = { pool = [ \"203.0.113.0/24\" ]; block_size = %u; max_blocks = 4; max_subscribers = %u; };\n"
		 "%s%s"
		 "dataplane = { table_size = %u; };\n", set ? 512 : 256, subs + 1024,
		 v6 ? "nat64 = { prefixes = [ \"64:ff9b::/96\" ]; subscriber_prefix_len = 56; };\n" : "", state,
		 ports + ports / 4 + 65536);
	static struct cgn_config cfg;
	if (cgn_config_load_string(text, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	struct pcp_server_ops ops = { .push = push };
	struct pcp_server *srv = pcp_server_create(&cfg, &ops, cgn_clock_ms());
	if (srv == NULL)
		return 1;

	/* The requests, built beforehand so only the handler is timed. */
	uint8_t (*msgs)[PCP_HDR_LEN + PCP_MAP_LEN + PCP_OPT_HDR_LEN + 8] = malloc((size_t)n * sizeof(*msgs));
	size_t msg_len = PCP_HDR_LEN + PCP_MAP_LEN + (set ? PCP_OPT_HDR_LEN + 8 : 0);
	struct cgn_addr *src = malloc((size_t)n * sizeof(*src));
	static struct pcp_request req;
	for (uint32_t k = 0; k < n; k++) {
		uint32_t s = set ? k : k / 64;
		if (v6) /* 2001:db8:SSSS:SS00::1 */
			src[k] = (struct cgn_addr){ .b = { 0x20, 0x01, 0x0d, 0xb8, (uint8_t)(s >> 16), (uint8_t)(s >> 8),
							   (uint8_t)s, [15] = 1 } };
		else
			src[k] = cgn_addr_from_v4(htonl((127u << 24) | (10u << 16) | ((s / 250 + 1) << 8) | (s % 250 + 1)));
		memset(&req, 0, offsetof(struct pcp_request, options));
		req.n_options = 0;
		req.opcode = PCP_OP_MAP;
		req.lifetime = 7200;
		req.client_addr = src[k];
		memcpy(req.u.map.nonce, &k, sizeof(k));
		req.u.map.protocol = 17;
		req.u.map.internal_port = (uint16_t)(10000 + (set ? 0 : k % 64));
		req.u.map.external_addr = cgn_addr_from_v4(0);
		uint8_t ps[PCP_PORT_SET_LEN];
		if (set) {
			struct pcp_port_set p = { .size = (uint16_t)set, .first_internal_port = 10000 };
			pcp_port_set_encode(&p, ps);
			pcp_request_add_option(&req, PCP_OPT_PORT_SET, ps, sizeof(ps));
		}
		pcp_build_request(&req, msgs[k], sizeof(msgs[k]));
	}
	static uint8_t out[PCP_MAX_MSG];
	uint64_t t_req = cgn_clock_ms(); /* one time for every request: the clock is not what is measured */
	const char *phase[2] = { "create", "renew" };
	for (int p = 0; p < 2; p++) {
		uint32_t ok = 0;
		double t0 = cgn_clock_s();
		for (uint32_t k = 0; k < n; k++) {
			size_t len = pcp_server_handle(srv, t_req, msgs[k], msg_len, &src[k], 40000, out);
			ok += len >= 4 && out[3] == 0;
			if (k % 64 == 63) /* the control loop's group commit (CONTROL_BATCH) */
				pcp_server_flush(srv);
		}
		pcp_server_flush(srv);
		double dt = cgn_clock_s() - t0;
		printf("%s: %u requests, %u SUCCESS, %.3f s, %.0f ns/request, %.0f requests/s\n", phase[p], n, ok, dt,
		       dt * 1e9 / n, n / dt);
		if (set)
			printf("  sets of %u ports: %.1f us/set, %.0f ns/port, %u records\n", set, dt * 1e6 / n,
			       dt * 1e9 / ((double)n * set), pcp_server_mapping_count(srv));
	}
	if (set)
		printf("memory a port: data-plane entry %zu octets (struct cgn_mapping, one per port), control record "
		       "%zu octets (struct pcp_mapping_rec) + its key %zu and rte_hash slot\n",
		       sizeof(struct cgn_mapping), sizeof(struct pcp_mapping_rec), sizeof(struct cgn_key));
	pcp_server_free(srv);
	if (store) { /* a restart on the store: open, check, restore, push (stubbed) */
		double t0 = cgn_clock_s();
		srv = pcp_server_create(&cfg, &ops, cgn_clock_ms());
		if (srv == NULL || pcp_server_start(srv, cgn_clock_ms()) != 0)
			return 1;
		printf("restart: %u mappings restored in %.3f s\n", pcp_server_mapping_count(srv), cgn_clock_s() - t0);
		pcp_server_free(srv);
	}
	if (store) {
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "mdb_stat -a %s/state | grep -i 'pages\\|entries'; du -k --apparent-size %s/state/data.mdb; "
			 "rm -rf %s", store_dir, store_dir, store_dir);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
