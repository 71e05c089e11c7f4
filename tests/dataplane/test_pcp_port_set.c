/*
 * RFC 7753 port sets in the PCP server itself (control/pcp_port_set.c, mappings.c), with the
 * data plane's ring stubbed: what each port of a set tells the data plane (one entry per
 * port, consecutive external ports, one expiry), that a set is one mapping of the quota,
 * renewal/deletion/expiry as one unit, and all or nothing when the ring is full at any port
 * (what the conformance suite cannot make happen). EAL without hugepages (rec_db is an
 * rte_hash); no worker.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>


#include "eal_once.h"
#include "pcp_server_int.h"

#define MAXMSG 4096
static struct cgn_ring_msg msgs[MAXMSG];
static unsigned n_msgs;
static int refuse_after = -1; /* >= 0: pushes accepted before the ring is "full" */
static bool refuse_once;      /* ... and then only that one push is refused */
static unsigned n_sent;
#define MAXSENT 64
static uint8_t sent[MAXSENT][PCP_MAX_MSG];
static size_t sent_len[MAXSENT];
static struct cgn_addr sent_to[MAXSENT];

static int
push(void *ctx, struct cgn_ring_msg *msg)
{
	(void)ctx;
	if (refuse_after == 0) {
		if (refuse_once)
			refuse_after = -1;
		return -1;
	}
	if (refuse_after > 0)
		refuse_after--;
	cr_assert_lt(n_msgs, MAXMSG);
	msgs[n_msgs++] = *msg;
	return 0;
}

static int
send_msg(void *ctx, const struct cgn_addr *dst, uint16_t port, const uint8_t *msg, size_t len)
{
	(void)ctx, (void)port;
	if (n_sent < MAXSENT) {
		memcpy(sent[n_sent], msg, len);
		sent_len[n_sent] = len;
		sent_to[n_sent] = *dst;
	}
	n_sent++;
	return 0;
}

static struct pcp_server *srv;
static struct cgn_addr client;
static uint64_t now = 1000000;

static void
setup(void)
{
	cr_assert_eq(test_eal_once("cgnpset", 256), 0);
	static struct cgn_config cfg;
	char err[256];
	cr_assert_eq(cgn_config_load_string(
			     "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\" ]; max_mappings_per_subscriber = 2;\n"
			     "  announce = { multicast = false; }; };\n"
			     "nat = { pool = [ \"203.0.113.0/30\" ]; block_size = 256; max_blocks = 2; port_hold_s = 0; };\n"
			     "dataplane = { table_size = 4096; };\n",
			     &cfg, err, sizeof(err)),
		     0, "%s", err);
	struct pcp_server_ops ops = { .push = push, .send = send_msg };
	srv = pcp_server_create(&cfg, &ops, now);
	cr_assert_not_null(srv);
	cgn_addr_parse("127.0.0.9", &client);
	n_msgs = n_sent = 0;
	refuse_after = -1;
	refuse_once = false;
}

static void
teardown(void)
{
	pcp_server_free(srv);
}

static struct pcp_response resp;
static uint8_t out[PCP_MAX_MSG];

/* A MAP from client: UDP internal port, lifetime, nonce tag, PORT_SET size (0: none),
 * suggested external port (0: none). */
static uint8_t
map_suggest(uint16_t port, uint32_t lifetime, uint8_t nonce, uint16_t set_size, uint16_t ext_port)
{
	static struct pcp_request req;
	memset(&req, 0, sizeof(req));
	req.version = PCP_VERSION;
	req.opcode = PCP_OP_MAP;
	req.lifetime = lifetime;
	req.client_addr = client;
	req.u.map.nonce[0] = nonce;
	req.u.map.protocol = 17;
	req.u.map.internal_port = port;
	req.u.map.external_addr = cgn_addr_from_v4(0);
	req.u.map.external_port = ext_port;
	uint8_t ps[PCP_PORT_SET_LEN];
	if (set_size) {
		struct pcp_port_set p = { .size = set_size, .first_internal_port = port };
		pcp_port_set_encode(&p, ps);
		pcp_request_add_option(&req, PCP_OPT_PORT_SET, ps, sizeof(ps));
	}
	uint8_t msg[PCP_MAX_MSG];
	ssize_t len = pcp_build_request(&req, msg, sizeof(msg));
	cr_assert_gt(len, 0);
	size_t n = pcp_server_handle(srv, now, msg, (size_t)len, &client, 40000, out);
	cr_assert_gt(n, 0);
	cr_assert_eq(pcp_parse_response(out, n, &resp), PCP_VERDICT_OK);
	return resp.result;
}

static uint8_t
map(uint16_t port, uint32_t lifetime, uint8_t nonce, uint16_t set_size)
{
	return map_suggest(port, lifetime, nonce, set_size, 0);
}

static const struct pcp_mapping_rec *
rec_of(uint16_t port)
{
	struct cgn_key k = cgn_key_make(&client, port, 17, CGN_SIDE_INSIDE);
	return rec_db_find(srv->mappings, &k);
}

static uint32_t
explicit_count(void)
{
	int32_t s = mapping_subscriber(srv, &client, false);
	cr_assert_geq(s, 0);
	return __atomic_load_n(&cgn_pb_sub(&srv->pb, (uint32_t)s)->explicit_mappings, __ATOMIC_SEQ_CST);
}

static uint32_t
ports_used(void)
{
	int32_t s = mapping_subscriber(srv, &client, false);
	return __atomic_load_n(&cgn_pb_sub(&srv->pb, (uint32_t)s)->ports_used, __ATOMIC_SEQ_CST);
}

TestSuite(rfc7753, .init = setup, .fini = teardown);

Test(rfc7753, one_data_plane_entry_per_port_consecutive_one_expiry)
{
	cr_assert_eq(map(5000, 600, 1, 64), PCP_RES_SUCCESS);
	cr_assert_eq(n_msgs, 64, "one ADD per port");
	uint16_t ext0 = resp.u.map.external_port;
	for (unsigned i = 0; i < 64; i++) {
		const struct cgn_mapping *m = &msgs[i].m;
		cr_assert_eq(msgs[i].op, CGN_MSG_ADD);
		cr_assert_eq(m->int_port, 5000 + i);
		cr_assert_eq(m->ext_port, ext0 + i, "consecutive external ports");
		cr_assert_eq(m->ext_addr, msgs[0].m.ext_addr);
		cr_assert_eq(m->set_first, 5000);
		cr_assert_eq(m->set_size, 64);
		cr_assert_eq(m->expire_ms, now + 600000, "one expiry for the set");
	}
	cr_assert_eq(pcp_server_mapping_count(srv), 64);
	cr_assert_eq(explicit_count(), 1, "a set is one mapping of the quota");
	cr_assert_eq(ports_used(), 64, "its ports count against the blocks");
	cr_assert_eq(srv->stats.port_sets_created, 1);
}

Test(rfc7753, renewal_gives_every_port_the_new_lifetime)
{
	cr_assert_eq(map(5000, 600, 1, 64), PCP_RES_SUCCESS);
	n_msgs = 0;
	now += 10000;
	cr_assert_eq(map(5033, 900, 1, 0), PCP_RES_SUCCESS, "a plain MAP naming a port of the set");
	cr_assert_eq(n_msgs, 64);
	for (unsigned i = 0; i < 64; i++) {
		cr_assert_eq(msgs[i].op, CGN_MSG_REFRESH);
		cr_assert_eq(msgs[i].m.expire_ms, now + 900000);
		cr_assert_eq(rec_of((uint16_t)(5000 + i))->expire_ms, now + 900000);
		cr_assert_eq(rec_of((uint16_t)(5000 + i))->lifetime_s, 900);
	}
	cr_assert_eq(explicit_count(), 1);
}

Test(rfc7753, ring_full_at_any_port_of_a_new_set_takes_every_port_back)
{
	refuse_after = 10;
	refuse_once = true;
	cr_assert_eq(map(5000, 600, 1, 64), PCP_RES_NO_RESOURCES);
	cr_assert_eq(pcp_server_mapping_count(srv), 0, "no record left");
	cr_assert_eq(explicit_count(), 0);
	cr_assert_eq(ports_used(), 0, "every port released");
	/* what reached the data plane was taken back: 10 ADDs, 10 DELs */
	unsigned adds = 0, dels = 0;
	for (unsigned i = 0; i < n_msgs; i++) {
		adds += msgs[i].op == CGN_MSG_ADD;
		dels += msgs[i].op == CGN_MSG_DEL;
	}
	cr_assert_eq(adds, 10);
	cr_assert_eq(dels, 10);
	/* with room, the same request makes the whole set */
	cr_assert_eq(map(5000, 600, 1, 64), PCP_RES_SUCCESS);
	cr_assert_eq(pcp_server_mapping_count(srv), 64);
}

Test(rfc7753, ring_still_full_for_the_rollback_leaves_ports_that_expire_at_once)
{
	refuse_after = 10; /* and every push after: the DELs of the rollback too */
	cr_assert_eq(map(5000, 600, 1, 64), PCP_RES_NO_RESOURCES);
	cr_assert_eq(pcp_server_mapping_count(srv), 10, "the 10 ports the data plane holds stay known");
	for (unsigned i = 0; i < 10; i++) {
		const struct pcp_mapping_rec *r = rec_of((uint16_t)(5000 + i));
		cr_assert(r && r->set_size == 0 && !(r->flags & CGN_MAP_EXPLICIT) && r->peer_expire_ms == 0,
			  "port %u: an outbound mapping with no time left", i);
	}
	cr_assert_null(rec_of(5010));
	cr_assert_eq(ports_used(), 10, "the 54 never published are released");
	cr_assert_eq(explicit_count(), 0, "none counts against the quota");
	refuse_after = -1; /* room again: the sweep deletes them */
	for (int i = 0; i < 60 && pcp_server_mapping_count(srv) > 0; i++)
		pcp_server_tick(srv, now + 1000 + (uint64_t)i * 100);
	cr_assert_eq(pcp_server_mapping_count(srv), 0);
	cr_assert_eq(explicit_count(), 0);
	cr_assert_eq(ports_used(), 0);
}

Test(rfc7753, ring_full_in_a_renewal_or_delete_changes_nothing)
{
	cr_assert_eq(map(5000, 600, 1, 32), PCP_RES_SUCCESS);
	uint64_t expire = rec_of(5000)->expire_ms;
	refuse_after = 5;
	refuse_once = true;
	now += 1000;
	cr_assert_eq(map(5000, 900, 1, 32), PCP_RES_NO_RESOURCES);
	for (unsigned i = 0; i < 32; i++)
		cr_assert_eq(rec_of((uint16_t)(5000 + i))->expire_ms, expire, "port %u put back", i);
	refuse_after = 5;
	refuse_once = true;
	cr_assert_eq(map(5000, 0, 1, 32), PCP_RES_NO_RESOURCES);
	cr_assert_eq(pcp_server_mapping_count(srv), 32, "the delete took nothing away");
	cr_assert_eq(explicit_count(), 1);
	refuse_after = -1;
	cr_assert_eq(map(5000, 0, 1, 32), PCP_RES_SUCCESS);
	cr_assert_eq(pcp_server_mapping_count(srv), 0);
	cr_assert_eq(explicit_count(), 0);
	cr_assert_eq(ports_used(), 0, "port_hold_s 0: released at once");
}

Test(rfc7753, the_set_expires_as_one)
{
	cr_assert_eq(map(5000, 120, 1, 100), PCP_RES_SUCCESS);
	cr_assert_eq(map(6000, 7200, 2, 0), PCP_RES_SUCCESS);
	n_msgs = 0;
	now += 121000;
	for (int i = 0; i < 60 && pcp_server_mapping_count(srv) > 1; i++)
		pcp_server_tick(srv, now + (uint64_t)i * 100);
	cr_assert_eq(pcp_server_mapping_count(srv), 1, "the set went, the other mapping stays");
	cr_assert_eq(n_msgs, 100);
	cr_assert_eq(srv->stats.mappings_expired, 1, "one set, one expiry");
	cr_assert_eq(explicit_count(), 1);
}

Test(rfc7753, quota_counts_sets_once)
{
	cr_assert_eq(map(5000, 600, 1, 100), PCP_RES_SUCCESS);
	cr_assert_eq(map(6000, 600, 2, 100), PCP_RES_SUCCESS);
	cr_assert_eq(map(7000, 600, 3, 2), PCP_RES_USER_EX_QUOTA, "max_mappings_per_subscriber 2");
	cr_assert_eq(pcp_server_mapping_count(srv), 200);
}

Test(rfc7753, overlap_sends_one_more_response_per_mapping_after_the_first)
{
	cr_assert_eq(map(100, 600, 7, 0), PCP_RES_SUCCESS);
	cr_assert_eq(map(101, 600, 7, 99), PCP_RES_SUCCESS);
	uint16_t set_ext = resp.u.map.external_port;
	cr_assert_eq(map(100, 900, 7, 100), PCP_RES_SUCCESS);
	cr_assert_eq(resp.u.map.internal_port, 100);
	cr_assert_eq(n_sent, 0, "the second response leaves after the first, at the next tick");
	pcp_server_tick(srv, now);
	cr_assert_eq(n_sent, 1);
	static struct pcp_response r2;
	cr_assert_eq(pcp_parse_response(sent[0], sent_len[0], &r2), PCP_VERDICT_OK);
	cr_assert_eq(r2.result, PCP_RES_SUCCESS);
	cr_assert_eq(r2.u.map.internal_port, 101);
	cr_assert_eq(r2.u.map.external_port, set_ext);
	cr_assert_eq(r2.lifetime, 900);
	cr_assert_eq(srv->stats.port_set_responses, 1);
	pcp_server_tick(srv, now + 60000);
	cr_assert_eq(n_sent, 1, "sent once");
	/* §7: without the nonce of the other mapping, no second response (amplification) */
	cgn_addr_parse("127.0.0.10", &client); /* another subscriber: a quota of its own */
	cr_assert_eq(map(300, 600, 8, 0), PCP_RES_SUCCESS);
	cr_assert_eq(map(301, 600, 9, 10), PCP_RES_SUCCESS);
	cr_assert_eq(map(300, 900, 8, 11), PCP_RES_SUCCESS, "the first mapping's own nonce");
	pcp_server_tick(srv, now + 61000);
	cr_assert_eq(n_sent, 1, "nothing about the set of another nonce");
	cr_assert_eq(rec_of(301)->lifetime_s, 600, "nor was it refreshed");
}

/* A NAT-PMP map request (RFC 6886 §3.3) from client: UDP, internal port, lifetime. @return
 * the NAT-PMP result code. */
static uint16_t
natpmp_map(uint16_t port, uint32_t lifetime)
{
	uint8_t msg[12] = { 0, 1, 0, 0, (uint8_t)(port >> 8), (uint8_t)port, 0, 0,
			    (uint8_t)(lifetime >> 24), (uint8_t)(lifetime >> 16), (uint8_t)(lifetime >> 8), (uint8_t)lifetime };
	size_t n = pcp_server_handle(srv, now, msg, sizeof(msg), &client, 40000, out);
	cr_assert_eq(n, 16);
	return (uint16_t)(out[2] << 8 | out[3]);
}

/*
 * NAT-PMP names one port and has no nonce (its mappings carry the all-zero one): a NAT-PMP
 * request for a port of a PCP set made with the all-zero nonce must not delete or renew
 * that port alone (RFC 7753 §4.4: a set is renewed and deleted as one), nor take the set's
 * one quota count with its first port while the others stay.
 */
Test(rfc7753, natpmp_does_not_take_one_port_out_of_a_set)
{
	cr_assert_eq(map(5000, 600, 0, 4), PCP_RES_SUCCESS, "a set with the all-zero nonce");
	cr_assert_eq(explicit_count(), 1);
	natpmp_map(5000, 0);
	cr_assert(pcp_server_mapping_count(srv) == 4 || pcp_server_mapping_count(srv) == 0,
		  "the set went as one or stayed whole (%u ports left)", pcp_server_mapping_count(srv));
	cr_assert_eq(explicit_count(), pcp_server_mapping_count(srv) ? 1 : 0);
	if (pcp_server_mapping_count(srv)) {
		now += 1000;
		natpmp_map(5001, 7200);
		for (uint16_t p = 5000; p < 5004; p++) {
			cr_assert_not_null(rec_of(p));
			cr_assert_eq(rec_of(p)->expire_ms, rec_of(5000)->expire_ms, "port %u: one expiry for the set", p);
			cr_assert_eq(rec_of(p)->set_size, 4);
		}
	}
	/* the PCP delete of the set (if still there) brings the count to 0, not below */
	cr_assert_eq(map(5001, 0, 0, 0), PCP_RES_SUCCESS);
	cr_assert_eq(pcp_server_mapping_count(srv), 0);
	cr_assert_eq(explicit_count(), 0);
	cr_assert_eq(ports_used(), 0);
	/* and the subscriber's quota (2) is whole again */
	cr_assert_eq(map(6000, 600, 1, 0), PCP_RES_SUCCESS);
	cr_assert_eq(map(7000, 600, 2, 0), PCP_RES_SUCCESS);
}

/*
 * A pool change (SIGHUP) that removes a set's address moves the set: RFC 7753 §4.2, its
 * external ports stay consecutive (ext_port - (in.port - set_first) names the set's first,
 * which its responses give), on one address; and it still counts once.
 */
Test(rfc7753, a_pool_change_moves_a_set_as_one_consecutive_range)
{
	/* other subscribers' mappings first, so the new layout's ports are not the old ones */
	struct cgn_addr me = client;
	for (unsigned i = 0; i < 3; i++) {
		cgn_addr_parse(i == 0 ? "127.0.0.20" : i == 1 ? "127.0.0.21" : "127.0.0.22", &client);
		cr_assert_eq(map(100, 600, 1, 0), PCP_RES_SUCCESS);
	}
	client = me;
	cr_assert_eq(map(5000, 600, 1, 8), PCP_RES_SUCCESS);
	cr_assert_eq(map(300, 600, 2, 0), PCP_RES_SUCCESS, "a mapping of the same subscriber before it");
	static struct cgn_config cfg2;
	char err[256];
	cr_assert_eq(cgn_config_load_string(
			     "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\" ]; max_mappings_per_subscriber = 2;\n"
			     "  announce = { multicast = false; }; };\n"
			     "nat = { pool = [ \"198.51.100.0/30\" ]; block_size = 256; max_blocks = 2; port_hold_s = 0; };\n"
			     "dataplane = { table_size = 4096; };\n",
			     &cfg2, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(pcp_server_reload(srv, &cfg2, now, err, sizeof(err)), 0, "%s", err);
	const struct pcp_mapping_rec *head = rec_of(5000);
	uint32_t ports = 0;
	for (uint16_t i = 0; i < 8; i++) {
		const struct pcp_mapping_rec *m = rec_of((uint16_t)(5000 + i));
		if (m == NULL)
			continue;
		ports++;
		cr_assert_not_null(head, "no port of a set without its first");
		cr_assert_eq(m->set_size, 8);
		cr_assert_eq(m->ext_addr, head->ext_addr);
		cr_assert_eq(m->ext_port, head->ext_port + i, "port %u: consecutive external ports", i);
	}
	cr_assert(ports == 0 || ports == 8, "the set moved as one (%u ports)", ports);
	cr_assert_eq(explicit_count(), ports ? 2 : 1);
}

/* A server on another configuration (teardown frees it). */
static void
restart_with(const char *nat)
{
	pcp_server_free(srv);
	static struct cgn_config cfg;
	char conf[1024], err[256];
	snprintf(conf, sizeof(conf),
		 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\" ]; max_mappings_per_subscriber = 2;\n"
		 "  announce = { multicast = false; }; };\n"
		 "nat = { %s };\n"
		 "dataplane = { table_size = 4096; };\n",
		 nat);
	cr_assert_eq(cgn_config_load_string(conf, &cfg, err, sizeof(err)), 0, "%s", err);
	struct pcp_server_ops ops = { .push = push, .send = send_msg };
	srv = pcp_server_create(&cfg, &ops, now);
	cr_assert_not_null(srv);
	n_msgs = n_sent = 0;
}

/* Reloads with the pool reduced to addr (network order) alone, the rest of nat as given. */
static void
reload_pool_of_one(uint32_t addr, const char *nat_rest)
{
	static struct cgn_config cfg2;
	char a[INET_ADDRSTRLEN], conf[1024], err[256];
	cr_assert_not_null(inet_ntop(AF_INET, &addr, a, sizeof(a)));
	snprintf(conf, sizeof(conf),
		 "pcp = { listen = [ \"127.0.0.1\" ]; inside = [ \"127.0.0.0/8\" ]; max_mappings_per_subscriber = 2;\n"
		 "  announce = { multicast = false; }; };\n"
		 "nat = { pool = [ \"%s/32\" ]; %s };\n"
		 "dataplane = { table_size = 4096; };\n",
		 a, nat_rest);
	cr_assert_eq(cgn_config_load_string(conf, &cfg2, err, sizeof(err)), 0, "%s", err);
	n_sent = 0;
	cr_assert_eq(pcp_server_reload(srv, &cfg2, now, err, sizeof(err)), 0, "%s", err);
	pcp_server_tick(srv, now); /* the Mapping Updates' first sends */
}

/* The Mapping Updates the reload sent to a client: how many, the last one parsed into *r. */
static unsigned
updates_to(const struct cgn_addr *who, struct pcp_response *r)
{
	unsigned n = 0;
	cr_assert_leq(n_sent, MAXSENT);
	for (unsigned i = 0; i < n_sent; i++) {
		if (!cgn_addr_eq(&sent_to[i], who))
			continue;
		n++;
		cr_assert_eq(pcp_parse_response(sent[i], sent_len[i], r), PCP_VERDICT_OK);
	}
	return n;
}

/* The PORT_SET option of a response. @return true if it has one. */
static bool
port_set_of(const struct pcp_response *r, struct pcp_port_set *ps)
{
	for (unsigned i = 0; i < r->n_options; i++) {
		if (r->options[i].code == PCP_OPT_PORT_SET) {
			pcp_option_port_set(&r->options[i], ps);
			return true;
		}
	}
	return false;
}

/*
 * RFC 7753 §4.2, §4.4 on a pool change (SIGHUP, RFC 6887 §14.2): the set's address goes and,
 * on the address it moves to, another subscriber holds the port numbers it had, so that no
 * port gets its old number: the set still lands as one run of consecutive ports, and its
 * client gets one Mapping Update for the set, with PORT_SET, not one per port.
 */
Test(rfc7753, a_pool_change_moves_a_set_whose_old_port_numbers_are_taken_as_one_run)
{
	struct cgn_addr me = client;
	cr_assert_eq(map(5000, 600, 1, 8), PCP_RES_SUCCESS);
	uint32_t old_addr = cgn_addr_v4(&resp.u.map.external_addr);
	uint16_t old_first = resp.u.map.external_port;
	/* another subscriber, on another address, takes the set's first external port number
	 * there (and so the block holding all of them) */
	struct cgn_addr other;
	cgn_addr_parse("127.0.0.20", &other);
	client = other;
	cr_assert_eq(map_suggest(100, 600, 1, 0, old_first), PCP_RES_SUCCESS);
	uint32_t new_addr = cgn_addr_v4(&resp.u.map.external_addr);
	cr_assert_neq(new_addr, old_addr, "least-loaded address: another one");
	cr_assert_eq(resp.u.map.external_port, old_first);
	client = me;

	reload_pool_of_one(new_addr, "block_size = 256; max_blocks = 2; port_hold_s = 0;");
	const struct pcp_mapping_rec *head = rec_of(5000);
	cr_assert_not_null(head, "the set moved");
	cr_assert_eq(head->ext_addr, new_addr);
	for (uint16_t i = 0; i < 8; i++) {
		const struct pcp_mapping_rec *m = rec_of((uint16_t)(5000 + i));
		cr_assert_not_null(m, "port %u moved with the set", i);
		cr_assert_eq(m->set_first, 5000);
		cr_assert_eq(m->set_size, 8);
		cr_assert_eq(m->ext_addr, new_addr);
		cr_assert_eq(m->ext_port, head->ext_port + i, "port %u: consecutive external ports (%u, first %u)", i,
			     m->ext_port, head->ext_port);
	}
	cr_assert_eq(explicit_count(), 1, "still one mapping of the quota");
	static struct pcp_response r;
	cr_assert_eq(updates_to(&me, &r), 1, "one Mapping Update for the set");
	cr_assert_eq(r.result, PCP_RES_SUCCESS);
	cr_assert_eq(r.u.map.internal_port, 5000);
	cr_assert_eq(r.u.map.external_port, head->ext_port, "the set's first external port");
	cr_assert_eq(cgn_addr_v4(&r.u.map.external_addr), new_addr);
	struct pcp_port_set ps;
	cr_assert(port_set_of(&r, &ps), "PORT_SET in the update");
	cr_assert_eq(ps.size, 8);
	cr_assert_eq(ps.first_internal_port, 5000);
	/* the other subscriber kept its port */
	cr_assert_eq(updates_to(&other, &r), 0);
}

/*
 * The same when no run of the set's size can be had on the new address (both its blocks held
 * by subscribers pinned to it): the set goes as one, one CANNOT_PROVIDE_EXTERNAL update
 * (RFC 6887 §14.2) for it, and its one count against the quota is given back.
 */
Test(rfc7753, a_pool_change_that_has_no_run_for_a_set_drops_it_whole)
{
	restart_with("pool = [ \"203.0.113.0/30\" ]; ports = \"1024-1535\"; block_size = 256; max_blocks = 2; "
		     "port_hold_s = 0;");
	struct cgn_addr me = client;
	cr_assert_eq(map(5000, 600, 1, 8), PCP_RES_SUCCESS);
	cr_assert_eq(explicit_count(), 1);
	uint32_t set_addr = cgn_addr_v4(&resp.u.map.external_addr);
	/* other subscribers until two share an address other than the set's: its two blocks */
	uint32_t addrs[8];
	uint32_t full = 0;
	for (unsigned i = 0; i < 7 && full == 0; i++) {
		char a[32];
		snprintf(a, sizeof(a), "127.0.0.%u", 20 + i);
		cgn_addr_parse(a, &client);
		cr_assert_eq(map(100, 600, 1, 0), PCP_RES_SUCCESS, "%s", a);
		addrs[i] = cgn_addr_v4(&resp.u.map.external_addr);
		for (unsigned k = 0; k < i; k++)
			if (addrs[k] == addrs[i] && addrs[i] != set_addr)
				full = addrs[i];
	}
	cr_assert_neq(full, 0, "an address whose two blocks are held");
	client = me;

	reload_pool_of_one(full, "ports = \"1024-1535\"; block_size = 256; max_blocks = 2; port_hold_s = 0;");
	for (uint16_t i = 0; i < 8; i++)
		cr_assert_null(rec_of((uint16_t)(5000 + i)), "port %u went with the set", i);
	cr_assert_eq(explicit_count(), 0, "the set's one count given back");
	static struct pcp_response r;
	cr_assert_eq(updates_to(&me, &r), 1, "one Mapping Update for the set");
	cr_assert_eq(r.result, PCP_RES_CANNOT_PROVIDE_EXTERNAL);
	cr_assert_eq(r.u.map.internal_port, 5000);
	struct pcp_port_set ps;
	cr_assert(port_set_of(&r, &ps), "PORT_SET names the set");
	cr_assert_eq(ps.size, 8);
	cr_assert_eq(ps.first_internal_port, 5000);
	/* the quota is whole again on the new pool: two mappings (each would need a block: none
	 * free, so NO_RESOURCES-class errors, but not USER_EX_QUOTA) */
	cr_assert_neq(map(6000, 600, 2, 0), PCP_RES_USER_EX_QUOTA);
}
