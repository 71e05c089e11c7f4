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


#include "eal_once.h"
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

static char dir[64];

/* The server on dir's store; pcp_extra and nat_extra go into the pcp and nat groups. */
static struct pcp_server *
server_with(const char *pcp_extra, const char *nat_extra)
{
	static struct cgn_config cfg;
	char text[2048], err[256];
	snprintf(text, sizeof(text),
		 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\" ]; announce = { multicast = false; }; %s };\n"
		 "nat = { pool = [ \"203.0.113.0/24\" ]; port_hold_s = 0; %s };\n"
		 "dataplane = { table_size = 65536; };\n"
		 "state = { path = \"%s/state\"; size_mb = 1; };\n", pcp_extra, nat_extra, dir);
	cr_assert_eq(cgn_config_load_string(text, &cfg, err, sizeof(err)), 0, "%s", err);
	struct pcp_server_ops ops = { .push = push };
	struct pcp_server *srv = pcp_server_create(&cfg, &ops, cgn_clock_ms());
	cr_assert_not_null(srv);
	cr_assert_eq(pcp_server_start(srv, cgn_clock_ms()), 0);
	return srv;
}

static struct pcp_server *
server(void)
{
	return server_with("", "");
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
	cr_assert_eq(test_eal_once("cgnps", 512), 0);
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

/* ---- port sets (RFC 7753), DESCRIPTION (RFC 7220) and PEER with the store ---------------- */

static struct cgn_addr client_a;

/* A MAP (remote_port 0) or PEER request from client_a for UDP internal port: nonce tag,
 * PORT_SET size (0: none), DESCRIPTION (NULL: none). @return the result; *resp parsed. */
static uint8_t
request(struct pcp_server *srv, uint16_t port, uint32_t lifetime, uint8_t nonce, uint16_t set_size,
	const char *desc, uint16_t remote_port, struct pcp_response *resp)
{
	static struct pcp_request req;
	uint8_t msg[PCP_MAX_MSG], out[PCP_MAX_MSG], ps[PCP_PORT_SET_LEN];
	memset(&req, 0, offsetof(struct pcp_request, options));
	req.n_options = 0;
	req.version = PCP_VERSION;
	req.opcode = remote_port ? PCP_OP_PEER : PCP_OP_MAP;
	req.lifetime = lifetime;
	req.client_addr = client_a;
	struct pcp_map_data *m = remote_port ? &req.u.peer.map : &req.u.map;
	m->nonce[0] = nonce;
	m->protocol = 17;
	m->internal_port = port;
	m->external_addr = cgn_addr_from_v4(0);
	if (remote_port) {
		req.u.peer.remote_port = remote_port;
		req.u.peer.remote_addr = cgn_addr_from_v4(htonl(0xc6336401)); /* 198.51.100.1 */
	}
	if (set_size) {
		struct pcp_port_set p = { .size = set_size, .first_internal_port = port };
		pcp_port_set_encode(&p, ps);
		pcp_request_add_option(&req, PCP_OPT_PORT_SET, ps, sizeof(ps));
	}
	if (desc)
		pcp_request_add_option(&req, PCP_OPT_DESCRIPTION, (const uint8_t *)desc, (uint16_t)strlen(desc));
	ssize_t n = pcp_build_request(&req, msg, sizeof(msg));
	cr_assert_gt(n, 0);
	size_t rl = pcp_server_handle(srv, cgn_clock_ms(), msg, (size_t)n, &client_a, 5350, out);
	pcp_server_flush(srv);
	cr_assert_geq(rl, 24);
	cr_assert_eq(pcp_parse_response(out, rl, resp), PCP_VERDICT_OK);
	return resp->result;
}

static struct pcp_mapping_rec *
rec_at(struct pcp_server *srv, uint16_t port)
{
	struct cgn_key k = cgn_key_make(&client_a, port, 17, CGN_SIDE_INSIDE);
	return rec_db_find(srv->mappings, &k);
}

static uint32_t
explicit_count(struct pcp_server *srv)
{
	int32_t s = mapping_subscriber(srv, &client_a, false);
	return s < 0 ? 0 : __atomic_load_n(&cgn_pb_sub(&srv->pb, (uint32_t)s)->explicit_mappings, __ATOMIC_SEQ_CST);
}

/*
 * RFC 7753 §4.4.1: a request touching several mappings refreshes each "as if a separate
 * refresh request had been received". When the first is refused (its own nonce differs) and
 * a later one is deleted, that delete went to the data plane and the server's tables: the
 * store must lose it too, or a restart brings the deleted set back.
 */
Test(pcp_store, a_port_set_deleted_after_a_refused_first_mapping_stays_deleted_after_a_restart)
{
	cgn_addr_parse("127.0.0.9", &client_a);
	struct pcp_server *srv = server();
	struct pcp_response r;
	cr_assert_eq(request(srv, 100, 3600, 1, 0, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(request(srv, 101, 3600, 2, 4, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(pcp_server_mapping_count(srv), 5);
	long dels_before = dels;
	/* nonce 2: port 100's mapping (nonce 1) refuses, the set 101..104 (nonce 2) goes */
	cr_assert_eq(request(srv, 100, 0, 2, 5, NULL, 0, &r), PCP_RES_NOT_AUTHORIZED);
	cr_assert_eq(dels - dels_before, 4, "the set's 4 ports left the data plane");
	cr_assert_eq(pcp_server_mapping_count(srv), 1, "and the server");
	pcp_server_free(srv);

	srv = server();
	cr_assert_eq(pcp_server_mapping_count(srv), 1, "the deleted set did not come back from the store");
	cr_assert_null(rec_at(srv, 101));
	pcp_server_free(srv);
}

/* The same with a renewal: the set's new lifetime is what a restart restores. */
Test(pcp_store, a_port_set_renewed_after_a_refused_first_mapping_is_stored_renewed)
{
	cgn_addr_parse("127.0.0.9", &client_a);
	struct pcp_server *srv = server();
	struct pcp_response r;
	cr_assert_eq(request(srv, 100, 3600, 1, 0, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(request(srv, 101, 200, 2, 4, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(request(srv, 100, 7000, 2, 5, NULL, 0, &r), PCP_RES_NOT_AUTHORIZED);
	cr_assert_eq(rec_at(srv, 101)->lifetime_s, 7000, "the set was renewed (RFC 7753 §4.4.1)");
	pcp_server_free(srv);

	srv = server();
	for (uint16_t p = 101; p < 105; p++) {
		cr_assert_not_null(rec_at(srv, p));
		cr_assert_eq(rec_at(srv, p)->lifetime_s, 7000, "port %u: stored as renewed", p);
		cr_assert_gt(rec_at(srv, p)->expire_ms, cgn_clock_ms() + 6000 * 1000);
	}
	pcp_server_free(srv);
}

/*
 * A port of a set that a PEER session uses, whose MAP part ran out while cgnatd was down:
 * restored as an outbound mapping only, as strip_explicit() makes one: no longer a port of a
 * set (a set is an explicit mapping), without the MAP part's DESCRIPTION (in the record or
 * the telemetry copy), not counted; and, being outbound, a MAP of any nonce makes it
 * explicit (RFC 6887 §11.3 item 4), counted once and deleted to a count of 0.
 */
Test(pcp_store, a_set_port_kept_by_peer_whose_map_part_ran_out_is_restored_outbound_only)
{
	cgn_addr_parse("127.0.0.9", &client_a);
	struct pcp_server *srv = server_with("lifetime = { min = 1; };", "");
	struct pcp_response r;
	cr_assert_eq(request(srv, 5000, 2, 1, 4, "camera", 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(rec_at(srv, 5000)->set_size, 4);
	cr_assert_eq(request(srv, 5000, 600, 1, 0, NULL, 80, &r), PCP_RES_SUCCESS, "a PEER on the set's first port");
	pcp_server_free(srv);
	sleep(3); /* the MAP part runs out while cgnatd is down */

	srv = server_with("lifetime = { min = 1; };", "");
	struct pcp_mapping_rec *rec = rec_at(srv, 5000);
	cr_assert_not_null(rec, "the PEER session keeps it");
	cr_assert_null(rec_at(srv, 5001), "the set's other ports expired");
	cr_assert_eq(rec->flags & (CGN_MAP_EXPLICIT | CGN_MAP_NATPMP), 0);
	cr_assert_eq(rec->set_size, 0, "no longer a port of a set");
	cr_assert_eq(rec->set_first, 0);
	cr_assert(!rec->has_description && rec->description == NULL, "the MAP part's DESCRIPTION went with it");
	char text[64];
	uint16_t len;
	cr_assert(!pcp_server_description(srv, &rec->in, text, sizeof(text), &len), "telemetry shows none");
	cr_assert_eq(explicit_count(srv), 0);
	/* §11.3 item 4: an outbound mapping becomes explicit, whatever its nonce */
	cr_assert_eq(request(srv, 5000, 600, 9, 0, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(explicit_count(srv), 1);
	cr_assert_eq(request(srv, 5000, 0, 9, 0, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(explicit_count(srv), 0, "the count went back to 0, not below");
	pcp_server_free(srv);
}

/*
 * A set whose ports cannot all be taken back at a restart (here: a static mapping added to
 * the configuration has its first port's internal endpoint; the configuration wins) must not
 * come back as part of a set that lost its head: those ports counted nothing against the
 * quota, and the set's delete took a count away (the subscriber's count wrapped: USER_EX_QUOTA
 * for good). RFC 7753 §4.4: a set lives and goes as one. What comes back counts once per
 * set, and whatever a client does next leaves the count at 0 when nothing is left.
 */
Test(pcp_store, a_set_whose_first_port_cannot_be_restored_leaves_the_quota_whole)
{
	cgn_addr_parse("127.0.0.9", &client_a);
	struct pcp_server *srv = server_with("max_mappings_per_subscriber = 2;", "");
	struct pcp_response r;
	cr_assert_eq(request(srv, 5000, 3600, 1, 4, "set", 0, &r), PCP_RES_SUCCESS);
	struct cgn_addr ext = r.u.map.external_addr;
	uint16_t ext_port = r.u.map.external_port;
	pcp_server_free(srv);

	char a[CGN_ADDR_STRLEN], statics[256];
	snprintf(statics, sizeof(statics),
		 "static = ( { proto = \"udp\"; internal = \"127.0.0.9:5000\"; external = \"%s:%u\"; } );",
		 cgn_addr_format(&ext, a, sizeof(a)), ext_port);
	srv = server_with("max_mappings_per_subscriber = 2;", statics);
	cr_assert(rec_at(srv, 5000) && (rec_at(srv, 5000)->flags & CGN_MAP_STATIC), "the configuration wins");
	uint32_t ports = 0;
	for (uint16_t p = 5001; p < 5004; p++) {
		const struct pcp_mapping_rec *m = rec_at(srv, p);
		ports += m != NULL && mapping_in_set(m);
	}
	cr_assert_eq(explicit_count(srv), ports ? 1 : 0, "what comes back of the set counts once (%u ports)", ports);
	/* the client deletes its set by a port of it */
	cr_assert_eq(request(srv, 5001, 0, 1, 0, NULL, 0, &r), PCP_RES_SUCCESS);
	cr_assert_eq(explicit_count(srv), 0, "nothing left counts");
	cr_assert_eq(request(srv, 6000, 600, 2, 0, NULL, 0, &r), PCP_RES_SUCCESS, "the quota (2) is whole");
	cr_assert_eq(request(srv, 7000, 600, 3, 0, NULL, 0, &r), PCP_RES_SUCCESS);
	pcp_server_free(srv);
}

/* §8.5: a stored mapping that does not come back (a static mapping of its internal endpoint
 * is configured now: the configuration wins) is state lost for its client: the epoch starts
 * again, though the store was this pool's. */
Test(pcp_store, a_mapping_dropped_at_restore_resets_the_epoch)
{
	uint8_t resp[PCP_MAX_MSG];
	struct pcp_server *srv = server();
	cr_assert_eq(map(srv, 1, 3600, resp), PCP_RES_SUCCESS);
	sleep(2);
	pcp_server_free(srv);
	srv = server();
	cr_assert_geq(pcp_server_epoch(srv, cgn_clock_ms()), 2, "nothing lost: the epoch went on");
	pcp_server_free(srv);
	/* k = 1: 127.10.0.0, internal port 10001 (map()) */
	srv = server_with("", "static = ( { proto = \"udp\"; internal = \"127.10.0.0:10001\"; external = \"203.0.113.1:20000\"; } );");
	cr_assert_lt(pcp_server_epoch(srv, cgn_clock_ms()), 2, "§8.5: a mapping was lost, the epoch starts again");
	pcp_server_free(srv);
}
