/*
 * The PCP server with its state store, in process (suite 'integration'; EAL without
 * hugepages for the server's tables, no sockets, pushes counted by a stub): a full store
 * answers NO_RESOURCES and changes nothing; what was answered SUCCESS comes back after a
 * restart, DESCRIPTION text and PEER sessions with it; the epoch goes on.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "pcp_server_int.h"
#include "state_store.h"

static long adds, dels;

static int
push(void *ctx, struct cgn_ring_msg *msg)
{
	(void)ctx;
	adds += msg->op == CGN_MSG_ADD;
	dels += msg->op == CGN_MSG_DEL;
	return 0;
}

static char runtime_dir[4096], dir[64];

static void
eal_once(void)
{
	static bool done;
	if (done)
		return;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "--file-prefix=cgnps%d", getpid());
	char *eal[] = { "t", "-l", "0", "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--no-telemetry",
			"--log-level=*:error", prefix };
	cr_assert_geq(rte_eal_init(11, eal), 0);
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	done = true;
}

static struct pcp_server *
server(void)
{
	static struct cgn_config cfg;
	char text[1024], err[256];
	snprintf(text, sizeof(text),
		 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\" ]; announce = { multicast = false; }; };\n"
		 "nat = { pool = [ \"203.0.113.0/24\" ]; port_hold_s = 0; };\n"
		 "dataplane = { table_size = 65536; };\n"
		 "state = { path = \"%s/state\"; size_mb = 1; };\n", dir);
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	struct pcp_server_ops ops = { .push = push };
	struct pcp_server *srv = pcp_server_create(&cfg, &ops, cgn_clock_ms());
	cr_assert_not_null(srv);
	cr_assert_eq(pcp_server_start(srv, cgn_clock_ms()), 0);
	return srv;
}

static uint8_t
map(struct pcp_server *srv, uint32_t k, uint32_t lifetime, uint8_t *resp)
{
	static struct pcp_request req;
	uint8_t msg[PCP_MAX_MSG];
	struct cgn_addr src = cgn_addr_from_v4(htonl((127u << 24) | (10u << 16) | (k / 60)));
	memset(&req, 0, offsetof(struct pcp_request, options));
	req.n_options = 0;
	req.opcode = PCP_OP_MAP;
	req.lifetime = lifetime;
	req.client_addr = src;
	memcpy(req.u.map.nonce, &k, sizeof(k));
	req.u.map.protocol = 17;
	req.u.map.internal_port = (uint16_t)(10000 + k % 60);
	req.u.map.external_addr = cgn_addr_from_v4(0);
	ssize_t n = pcp_build_request(&req, msg, sizeof(msg));
	size_t rl = pcp_server_handle(srv, cgn_clock_ms(), msg, (size_t)n, &src, 5350, resp);
	pcp_server_flush(srv);
	cr_assert_geq(rl, 24);
	return resp[3];
}

static void
setup(void)
{
	eal_once();
	snprintf(dir, sizeof(dir), "/tmp/cgnps-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
}

TestSuite(pcp_store, .init = setup, .fini = teardown, .timeout = 120);

Test(pcp_store, a_full_store_answers_no_resources_and_what_succeeded_survives)
{
	struct pcp_server *srv = server();
	uint8_t resp[PCP_MAX_MSG];
	uint32_t ok = 0, k;
	uint8_t rc = 0;
	for (k = 0; k < 60000; k++) {
		long adds_before = adds;
		uint32_t count_before = pcp_server_mapping_count(srv);
		rc = map(srv, k, 3600, resp);
		if (rc != PCP_RES_SUCCESS) {
			cr_assert_eq(adds, adds_before, "a refused MAP pushes nothing");
			cr_assert_eq(pcp_server_mapping_count(srv), count_before, "and keeps nothing");
			break;
		}
		ok++;
	}
	cr_assert_eq(rc, PCP_RES_NO_RESOURCES, "1 MiB of store fills before %u mappings", k);
	cr_assert_gt(ok, 1000, "%u mappings fit in 1 MiB", ok);
	cr_assert_geq(pcp_server_stats(srv)->store_failed, 1);
	cr_assert_eq(pcp_server_mapping_count(srv), ok);
	/* Deletes still go through on a full store (each its own batch, as clients' come), and
	 * make room: the first mappings' pages empty. */
	for (uint32_t d = 0; d < 300; d++)
		cr_assert_eq(map(srv, 100 + d, 0, resp), PCP_RES_SUCCESS, "delete %u", d);
	cr_assert_eq(map(srv, k, 3600, resp), PCP_RES_SUCCESS, "room again after deletes");
	ok = ok - 300 + 1;

	/* A DESCRIPTION, as the DESCRIPTION option's code will set it (RFC 7220). */
	struct cgn_key in = cgn_key_make(&(struct cgn_addr){ 0 }, 0, 0, CGN_SIDE_INSIDE);
	in.addr = cgn_addr_from_v4(htonl((127u << 24) | (10u << 16) | (5 / 60)));
	in.port = 10005;
	in.proto = 17;
	struct pcp_mapping_rec *rec = rec_db_find(srv->mappings, &in);
	cr_assert_not_null(rec);
	rec->description = strdup("printer");
	rec->description_len = 7;
	rec->has_description = true;
	cr_assert_eq(pcp_store_mapping(srv, rec), 0);
	pcp_server_flush(srv);
	uint32_t ext = rec->ext_addr;
	uint16_t ext_port = rec->ext_port;
	uint32_t epoch = pcp_server_epoch(srv, cgn_clock_ms());
	sleep(1);
	pcp_server_free(srv);

	srv = server();
	cr_assert_eq(pcp_server_mapping_count(srv), ok, "every mapping answered SUCCESS is back");
	rec = rec_db_find(srv->mappings, &in);
	cr_assert_not_null(rec);
	cr_assert_eq(rec->ext_addr, ext);
	cr_assert_eq(rec->ext_port, ext_port);
	cr_assert(rec->has_description && rec->description_len == 7 && memcmp(rec->description, "printer", 7) == 0);
	cr_assert_geq(pcp_server_epoch(srv, cgn_clock_ms()), epoch + 1, "§8.5: the epoch went on");
	/* the nonce came back: another client's is refused */
	cr_assert_eq(map(srv, 5 + 60 * 1000, 3600, resp), PCP_RES_SUCCESS, "another subscriber: a new one");
	pcp_server_free(srv);
}
